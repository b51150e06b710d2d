// Fuzz target: raw Cap'n Proto messages into the RPC service — framing,
// the RPC protocol (bootstrap, calls, pipelining, finish, release) and
// every method's parameters, as one client's whole input on a connection.
// The seeds are real sessions recorded from the C++ client
// (tests/fuzz/corpus/rpc), so mutations start from valid calls.
#include <cstdint>

#include "fuzz_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* server = new gridtree::fuzz::FuzzServer();  // lives for the process
  server->Rpc(data, size);
  return 0;
}

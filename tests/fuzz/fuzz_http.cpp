// Fuzz target: the HTTP side port — kj's request parser, gridtree's header
// limit, routing, and every endpoint's query parameters (/locate, /node,
// /region, /topk, /search, /tiles/Z/X/Y.mvt, ...). The input is everything
// one client sends on one connection.
#include <cstdint>

#include "fuzz_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* server = new gridtree::fuzz::FuzzServer();  // lives for the process
  server->Http(data, size);
  return 0;
}

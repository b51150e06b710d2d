// Internal: what one RPC connection may hold, enforced where Cap'n Proto
// itself sets no bound.
//
// An answer stays in the server's answer table, results and all, until the
// client sends Finish for it; a client that never does (or never reads its
// answers) would grow the server without limit. GuardedVatNetwork wraps the
// two-party network of one connection and watches its messages: Call and
// Bootstrap open an answer, Finish closes it, a Return adds its size to the
// answer, and what waits in the outgoing queue is read off the network.
// Past a limit the connection is closed with a reason the client receives
// (an Abort) and the log names the peer. It also records when the last
// whole message arrived, for the idle timeout, and logs read errors
// (garbage or oversized frames) with the peer.
//
// Thread safety: loop thread only.
#pragma once

#include <capnp/rpc-twoparty.h>
#include <kj/async.h>
#include <kj/timer.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

namespace gridtree::rpc::internal {

struct ConnectionLimits {
  uint64_t max_unfinished_answers = 0;       // 0: no limit
  uint64_t max_unfinished_answer_bytes = 0;  // 0: no limit
  uint64_t max_queued_reply_bytes = 0;       // 0: no limit
};

// The network-level accounting of one accepted connection.
struct ConnectionTraffic {
  kj::TimePoint last_message = kj::origin<kj::TimePoint>();  // when the last whole message arrived
  // Answers not yet released by Finish: answer id -> bytes of its Return so far.
  std::unordered_map<uint32_t, uint64_t> answer_bytes;
  uint64_t unfinished_answer_bytes = 0;  // their sum
  std::string violation;                               // set once a limit was passed
  capnp::TwoPartyVatNetwork* network = nullptr;        // null once the connection is gone
};

class GuardedVatNetwork final : public capnp::TwoPartyVatNetworkBase {
 public:
  // on_violation(reason) is called once, when a limit is passed; on_read_error
  // when the stream fails (not on a clean end).
  GuardedVatNetwork(kj::AsyncIoStream& stream, const capnp::ReaderOptions& options, kj::Timer& timer,
                    ConnectionLimits limits, std::shared_ptr<ConnectionTraffic> traffic,
                    std::function<void(const std::string&)> on_violation,
                    std::function<void(const kj::Exception&)> on_read_error);
  ~GuardedVatNetwork() noexcept(false);

  kj::Promise<void> onDisconnect() { return inner_.onDisconnect(); }

  kj::Maybe<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> connect(
      capnp::rpc::twoparty::VatId::Reader ref) override;
  kj::Promise<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> accept() override;

  struct Hooks;

 private:
  capnp::TwoPartyVatNetwork inner_;
  std::shared_ptr<Hooks> hooks_;
};

}  // namespace gridtree::rpc::internal

// GuardedVatNetwork: per-connection limits on unfinished answers and queued
// replies (connection_guard.h).
#include "connection_guard.h"

#include <capnp/rpc.capnp.h>
#include <kj/debug.h>

#include <algorithm>

namespace gridtree::rpc::internal {

namespace {
// What a small message really costs the server: Cap'n Proto allocates its
// first segment whole (measured: a queued locate reply of ~100 bytes holds
// 4–9 KiB), so sizes below this count as this.
constexpr uint64_t kMessageFloorBytes = 8192;
}  // namespace

struct GuardedVatNetwork::Hooks {
  kj::Timer& timer;
  ConnectionLimits limits;
  std::shared_ptr<ConnectionTraffic> traffic;
  std::function<void(const std::string&)> on_violation;
  std::function<void(const kj::Exception&)> on_read_error;

  void Violate(std::string reason) {
    if (!traffic->violation.empty()) return;
    traffic->violation = reason;
    on_violation(reason);
  }

  // Throws (the RPC system then aborts the connection with this reason)
  // when the peer holds more than it may.
  void OnIncoming(capnp::IncomingRpcMessage& message) {
    ConnectionTraffic& t = *traffic;
    t.last_message = timer.now();
    auto body = message.getBody().getAs<capnp::rpc::Message>();
    switch (body.which()) {
      case capnp::rpc::Message::CALL:
        Open(body.getCall().getQuestionId());
        break;
      case capnp::rpc::Message::BOOTSTRAP:
        Open(body.getBootstrap().getQuestionId());
        break;
      case capnp::rpc::Message::FINISH: {
        auto it = t.answer_bytes.find(body.getFinish().getQuestionId());
        if (it != t.answer_bytes.end()) {
          t.unfinished_answer_bytes -= it->second;
          t.answer_bytes.erase(it);
        }
        break;
      }
      default:
        break;
    }
    if (limits.max_unfinished_answers && t.answer_bytes.size() > limits.max_unfinished_answers) {
      Violate("more than " + std::to_string(limits.max_unfinished_answers) +
              " answers not finished by the client (max_unfinished_answers_per_connection)");
    }
    if (!t.violation.empty()) kj::throwFatalException(KJ_EXCEPTION(OVERLOADED, "connection closed by the server", t.violation));
  }

  void Open(uint32_t question_id) {
    ConnectionTraffic& t = *traffic;
    t.answer_bytes.emplace(question_id, 0);
  }

  void OnOutgoing(capnp::OutgoingRpcMessage& message) {
    ConnectionTraffic& t = *traffic;
    auto body = message.getBody().getAs<capnp::rpc::Message>();
    if (body.which() == capnp::rpc::Message::RETURN) {
      auto it = t.answer_bytes.find(body.getReturn().getAnswerId());
      if (it != t.answer_bytes.end()) {
        const uint64_t bytes = std::max<uint64_t>(message.sizeInWords() * sizeof(capnp::word), kMessageFloorBytes);
        it->second += bytes;
        t.unfinished_answer_bytes += bytes;
      }
    }
    if (limits.max_unfinished_answer_bytes && t.unfinished_answer_bytes > limits.max_unfinished_answer_bytes)
      Violate("answers of more than " + std::to_string(limits.max_unfinished_answer_bytes) +
              " bytes not finished by the client (max_unfinished_answer_bytes_per_connection)");
  }

  void AfterOutgoing() {
    ConnectionTraffic& t = *traffic;
    if (limits.max_queued_reply_bytes && t.network &&
        std::max<uint64_t>(t.network->getCurrentQueueSize(), t.network->getCurrentQueueCount() * kMessageFloorBytes) >
            limits.max_queued_reply_bytes)
      Violate("more than " + std::to_string(limits.max_queued_reply_bytes) +
              " bytes of replies waiting for the client to read them (max_queued_reply_bytes_per_connection)");
  }
};

namespace {

class GuardedOutgoing final : public capnp::OutgoingRpcMessage {
 public:
  GuardedOutgoing(kj::Own<capnp::OutgoingRpcMessage> inner, std::shared_ptr<GuardedVatNetwork::Hooks> hooks)
      : inner_(kj::mv(inner)), hooks_(std::move(hooks)) {}
  capnp::AnyPointer::Builder getBody() override { return inner_->getBody(); }
  void setFds(kj::Array<int> fds) override { inner_->setFds(kj::mv(fds)); }
  void send() override {
    hooks_->OnOutgoing(*inner_);
    inner_->send();
    hooks_->AfterOutgoing();
  }
  size_t sizeInWords() override { return inner_->sizeInWords(); }

 private:
  kj::Own<capnp::OutgoingRpcMessage> inner_;
  std::shared_ptr<GuardedVatNetwork::Hooks> hooks_;
};

class GuardedConnection final : public capnp::TwoPartyVatNetworkBase::Connection {
 public:
  GuardedConnection(kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner,
                    std::shared_ptr<GuardedVatNetwork::Hooks> hooks)
      : inner_(kj::mv(inner)), hooks_(std::move(hooks)) {}

  kj::Own<capnp::RpcFlowController> newStream() override { return inner_->newStream(); }
  capnp::rpc::twoparty::VatId::Reader getPeerVatId() override { return inner_->getPeerVatId(); }
  kj::Own<capnp::OutgoingRpcMessage> newOutgoingMessage(uint firstSegmentWordSize) override {
    return kj::heap<GuardedOutgoing>(inner_->newOutgoingMessage(firstSegmentWordSize), hooks_);
  }
  kj::Promise<kj::Maybe<kj::Own<capnp::IncomingRpcMessage>>> receiveIncomingMessage() override {
    auto hooks = hooks_;
    return inner_->receiveIncomingMessage().then(
        [hooks](kj::Maybe<kj::Own<capnp::IncomingRpcMessage>>&& message) {
          KJ_IF_MAYBE(m, message) { hooks->OnIncoming(**m); }
          return kj::mv(message);
        },
        [hooks](kj::Exception&& e) -> kj::Maybe<kj::Own<capnp::IncomingRpcMessage>> {
          hooks->on_read_error(e);
          kj::throwFatalException(kj::mv(e));
        });
  }
  kj::Promise<void> shutdown() override { return inner_->shutdown(); }

 private:
  kj::Own<capnp::TwoPartyVatNetworkBase::Connection> inner_;
  std::shared_ptr<GuardedVatNetwork::Hooks> hooks_;
};

}  // namespace

GuardedVatNetwork::GuardedVatNetwork(kj::AsyncIoStream& stream, const capnp::ReaderOptions& options, kj::Timer& timer,
                                     ConnectionLimits limits, std::shared_ptr<ConnectionTraffic> traffic,
                                     std::function<void(const std::string&)> on_violation,
                                     std::function<void(const kj::Exception&)> on_read_error)
    : inner_(stream, capnp::rpc::twoparty::Side::SERVER, options),
      hooks_(std::make_shared<Hooks>(
          Hooks{timer, limits, std::move(traffic), std::move(on_violation), std::move(on_read_error)})) {
  hooks_->traffic->network = &inner_;
  hooks_->traffic->last_message = timer.now();
}

GuardedVatNetwork::~GuardedVatNetwork() noexcept(false) { hooks_->traffic->network = nullptr; }

kj::Maybe<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> GuardedVatNetwork::connect(
    capnp::rpc::twoparty::VatId::Reader ref) {
  auto hooks = hooks_;
  KJ_IF_MAYBE(c, inner_.connect(ref)) {
    return kj::Own<capnp::TwoPartyVatNetworkBase::Connection>(kj::heap<GuardedConnection>(kj::mv(*c), hooks_));
  }
  return nullptr;
}

kj::Promise<kj::Own<capnp::TwoPartyVatNetworkBase::Connection>> GuardedVatNetwork::accept() {
  auto hooks = hooks_;
  return inner_.accept().then([hooks](kj::Own<capnp::TwoPartyVatNetworkBase::Connection>&& c)
                                  -> kj::Own<capnp::TwoPartyVatNetworkBase::Connection> {
    return kj::heap<GuardedConnection>(kj::mv(c), hooks);
  });
}

}  // namespace gridtree::rpc::internal

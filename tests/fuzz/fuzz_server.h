// One gridtree Server per fuzzing process, on a small dataset, reached
// through in-memory pipes instead of sockets: an input is written to the
// server as the whole of what a client sent on one connection, then the
// client side closes and reads whatever came back.
#pragma once

#include <kj/async-io.h>

#include <cstdint>
#include <memory>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/executor.h"
#include "gridtree/rpc/server.h"
#include "small_dataset.h"

namespace gridtree::fuzz {

// Hands the server the streams pushed into it, one accept() at a time.
class PipeReceiver final : public kj::ConnectionReceiver {
 public:
  kj::Promise<kj::Own<kj::AsyncIoStream>> accept() override {
    auto paf = kj::newPromiseAndFulfiller<kj::Own<kj::AsyncIoStream>>();
    waiting_ = kj::mv(paf.fulfiller);
    return kj::mv(paf.promise);
  }
  uint getPort() override { return 0; }
  bool ready() { return waiting_.get() != nullptr && waiting_->isWaiting(); }
  void Push(kj::Own<kj::AsyncIoStream> stream) { waiting_->fulfill(kj::mv(stream)); }

 private:
  kj::Own<kj::PromiseFulfiller<kj::Own<kj::AsyncIoStream>>> waiting_;
};

// A fresh engine and Server for every input, so that a finding reproduces
// from its input alone. The engines share one executor thread: making and
// joining a thread per input would cost more than the input.
class FuzzServer {
 public:
  // The writer token the seed corpus uses, so that fuzzed inputs reach the writes.
  static constexpr const char* kToken = "fuzz-token";

  FuzzServer()
      : io_(kj::setupAsyncIo()), executor_(std::make_shared<const Executor>(1)), dataset_(testing::SmallDataset(4)) {}

  // Sends bytes as one RPC connection's whole input.
  void Rpc(const uint8_t* data, size_t size) {
    auto engine = NewEngine();
    auto server = NewServer(*engine);
    auto pipe = kj::newTwoWayPipe();
    server->Accept(kj::mv(pipe.ends[0]));
    Exchange(*server, kj::mv(pipe.ends[1]), data, size);
    Finish(kj::mv(server));
  }

  // Sends bytes as one HTTP connection's whole input.
  void Http(const uint8_t* data, size_t size) {
    auto engine = NewEngine();
    auto server = NewServer(*engine);
    PipeReceiver receiver;
    auto listening = server->ListenHttp(receiver).eagerlyEvaluate([](kj::Exception&&) {});
    auto pipe = kj::newTwoWayPipe();
    while (!receiver.ready()) io_.waitScope.poll();
    receiver.Push(kj::mv(pipe.ends[0]));
    Exchange(*server, kj::mv(pipe.ends[1]), data, size);
    listening = nullptr;  // before the server it listens for
    Finish(kj::mv(server));
  }

 private:
  std::unique_ptr<Engine> NewEngine() {
    EngineOptions options;
    options.executor = executor_;
    auto engine = Engine::Create(dataset_, options);  // a copy: loading and validating once is enough
    if (!engine.ok()) std::abort();
    return std::move(engine).value();
  }
  std::unique_ptr<rpc::Server> NewServer(Engine& engine) {
    rpc::ServerOptions options;
    options.writer_token = kToken;
    options.token_failure_delay_ms = 0;
    options.log = [](std::string_view) {};
    return std::make_unique<rpc::Server>(engine, options, io_.provider->getTimer());
  }

  // Writes the input and closes the sending half while reading the
  // replies, and runs the server until it has nothing left to do: no event
  // ready on the loop and no call on the engine's executor (a server that
  // waits for more input, or keeps a watch open, is done too). Then the
  // client hangs up and the server is destroyed, as `gridtree serve` stops:
  // calls in flight end first.
  void Exchange(rpc::Server& server, kj::Own<kj::AsyncIoStream> client, const uint8_t* data, size_t size) {
    auto& c = *client;
    auto buffer = kj::heapArray<kj::byte>(65536);
    bool closed = false;
    auto read = ReadAll(c, buffer)
                    .then([&closed] { closed = true; }, [&closed](kj::Exception&&) { closed = true; })
                    .eagerlyEvaluate(nullptr);
    auto sent = c.write(data, size).then([&c] { c.shutdownWrite(); }, [](kj::Exception&&) {}).eagerlyEvaluate(nullptr);
    for (int round = 0; round < 4 && !closed; ++round) {
      io_.waitScope.poll();
      server.Drain(5 * kj::SECONDS).wait(io_.waitScope);
    }
    sent = nullptr;
    read = nullptr;
    client = nullptr;
    io_.waitScope.poll();
    server.Drain(5 * kj::SECONDS).wait(io_.waitScope);
  }
  void Finish(std::unique_ptr<rpc::Server> server) {
    server.reset();
    io_.waitScope.poll();
  }
  static kj::Promise<void> ReadAll(kj::AsyncIoStream& s, kj::Array<kj::byte>& buffer) {
    return s.tryRead(buffer.begin(), 1, buffer.size()).then([&s, &buffer](size_t n) -> kj::Promise<void> {
      if (n == 0) return kj::READY_NOW;
      return ReadAll(s, buffer);
    });
  }

  kj::AsyncIoContext io_;
  std::shared_ptr<const Executor> executor_;
  Dataset dataset_;
};

}  // namespace gridtree::fuzz

// Server: the gridtree Cap'n Proto service and its HTTP side port, on one kj
// event loop. Heavy queries (locateBatch, regionAggregate, topK) and all
// writes run on the engine's executor and come back to the loop through
// cross-thread fulfillers, so the loop never blocks on query work.
//
// Thread safety: a Server lives on the thread whose kj event loop created
// it; every method must be called on that thread. The Engine may be used
// from other threads meanwhile.
#pragma once

#include <capnp/capability.h>
#include <kj/async-io.h>
#include <kj/timer.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace gridtree {
class Engine;
}

namespace gridtree::rpc {

class WriteLog;

struct ServerOptions {
  // Largest Cap'n Proto message accepted or sent, in bytes (traversal limit).
  // DEFAULT: 64 MiB
  uint64_t max_message_bytes = uint64_t{64} << 20;
  // Most points in one locateBatch call.
  // DEFAULT: 1'000'000
  uint32_t max_points_per_batch = 1'000'000;
  // Most updates in one Writer.apply call.
  // DEFAULT: 1'000'000
  uint32_t max_updates_per_batch = 1'000'000;
  // Most position reports in one Writer.track call, and most objects in one
  // objects answer (the engine's ObjectOptions::max_reports_per_batch is
  // the other bound). DEFAULT: 100'000
  uint32_t max_reports_per_batch = 100'000;
  // Watch and event subscriptions one connection may hold.
  // DEFAULT: 64
  uint32_t max_watches_per_connection = 64;
  // Calls one connection may have in flight; past it: OVERLOADED.
  // DEFAULT: 1024
  uint32_t max_calls_in_flight_per_connection = 1024;
  // Heavy calls queued or running on the engine's executor, all connections
  // together, each counted until it ends; past it: OVERLOADED.
  // DEFAULT: 256
  uint32_t max_queued_work = 256;
  // Most ids in one aggregate call.
  // DEFAULT: 10'000
  uint32_t max_ids_per_aggregate = 10'000;
  // Most ids in one watch call.
  // DEFAULT: 10'000
  uint32_t max_ids_per_watch = 10'000;
  // Largest k of a topK call.
  // DEFAULT: 100'000
  uint32_t max_top_k = 100'000;
  // Connections open at once, RPC and HTTP together; past it a new RPC
  // connection gets an Abort saying so, an HTTP one a 503, and both are closed.
  // DEFAULT: 512
  uint32_t max_connections = 512;
  // An RPC connection with no call in flight, no watch, and no whole message
  // received for this long is closed (0: never).
  // DEFAULT: 120 s
  double idle_timeout_seconds = 120;
  // Answers a client has not released with Finish, per connection; past it
  // the connection is closed with a reason (docs/operations.md).
  // DEFAULT: 4096
  uint64_t max_unfinished_answers_per_connection = 4096;
  // Bytes of those answers' results, per connection.
  // DEFAULT: 128 MiB
  uint64_t max_unfinished_answer_bytes_per_connection = uint64_t{128} << 20;
  // Bytes of replies waiting for a client to read them, per connection.
  // DEFAULT: 128 MiB
  uint64_t max_queued_reply_bytes_per_connection = uint64_t{128} << 20;
  // writer() calls with a wrong token: each is answered after this delay;
  // a connection that makes more than max_token_failures_per_connection is
  // closed; past max_token_failures_per_second (all connections) writer()
  // answers OVERLOADED without comparing tokens for the rest of the second.
  // DEFAULT: 250 ms, 10, 50
  double token_failure_delay_ms = 250;
  uint32_t max_token_failures_per_connection = 10;
  uint32_t max_token_failures_per_second = 50;
  // Log lines of one event per second; the rest are counted (log_suppressed).
  // DEFAULT: 20
  uint32_t log_lines_per_event_per_second = 20;
  // Token a client must present to writer(); empty: the server is read-only.
  // DEFAULT: ""
  std::string writer_token;
  // Calls slower than this are logged (event=slow_call).
  // DEFAULT: 250 ms
  double slow_call_ms = 250;
  // Where log lines go (one key=value line each, no newline). DEFAULT: stderr
  std::function<void(std::string_view line)> log;
  // Where writes go (write_log.h): none, the engine (its own write-ahead
  // log); gridtree serve --cluster gives the replicated log. With one,
  // Writer.reload is refused (a cluster's image is fixed by its stream).
  // DEFAULT: none
  std::shared_ptr<WriteLog> write_log;
  // GridTree.atPosition and HTTP ?min_position=: the longest wait when the
  // call gives none. DEFAULT: 5000 ms
  uint32_t default_position_wait_ms = 5000;
};

class Server {
 public:
  // Must be constructed on a thread with a running kj event loop (the
  // AsyncIoContext's). The engine must outlive the Server.
  Server(Engine& engine, ServerOptions options, kj::Timer& timer);
  // Wait for Drain() first: a call still on the engine's executor comes
  // back to the event loop after the Server is gone otherwise.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // A fresh GridTree capability (its own per-connection counters); what a
  // connection's bootstrap returns.
  capnp::Capability::Client Bootstrap();

  // Serves Cap'n Proto RPC on one accepted stream until it disconnects.
  void Accept(kj::Own<kj::AsyncIoStream> stream);
  // Accepts connections forever (cancel by dropping the promise).
  kj::Promise<void> Listen(kj::ConnectionReceiver& listener);
  // Serves the HTTP side port forever (cancel by dropping the promise).
  kj::Promise<void> ListenHttp(kj::ConnectionReceiver& listener);

  // Resolves when no call is in flight (or after timeout).
  kj::Promise<void> Drain(kj::Duration timeout);
  // False while a listener's accept fails (e.g. out of file descriptors);
  // why says which and the error. /healthz answers 503 then.
  bool accepting(std::string* why = nullptr) const;
  // Calls (RPC and HTTP) in flight now.
  size_t in_flight() const;
  // Prometheus text exposition of the counters (what /metrics serves).
  std::string MetricsText() const;

 private:
  struct State;  // rpc/src/state.h
  std::unique_ptr<State> state_;
};

// One structured log line to the default sink (stderr): "ts=... level=...
// event=... k=v ...". Values with spaces or quotes are quoted.
std::string FormatLogLine(std::string_view level, std::string_view event,
                          std::initializer_list<std::pair<std::string_view, std::string>> fields);
void LogLine(std::string_view level, std::string_view event,
             std::initializer_list<std::pair<std::string_view, std::string>> fields);

}  // namespace gridtree::rpc

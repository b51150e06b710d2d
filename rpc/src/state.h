// Internal: the state a Server shares between its RPC connections and its
// HTTP port (engine, options, counters, subscriptions), and the
// helpers that move work to the engine executor and back.
//
// Thread safety: everything here is touched on the loop thread only, except
// the atomics and inboxes each part's comment names, and what Offload's
// lambda captures (owned by the task).
#pragma once

#include <capnp/message.h>
#include <kj/async.h>
#include <kj/debug.h>
#include <kj/timer.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "connection_guard.h"
#include "gridtree.capnp.h"
#include "gridtree/engine/engine.h"
#include "gridtree/rpc/server.h"
#include "gridtree/rpc/write_log.h"

namespace gridtree::rpc::internal {

// Latency histogram bucket bounds in seconds (Prometheus style, +Inf implied).
inline constexpr double kLatencyBuckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5, 10};
inline constexpr size_t kBucketCount = sizeof(kLatencyBuckets) / sizeof(kLatencyBuckets[0]);

struct MethodStats {
  uint64_t calls = 0;
  uint64_t errors = 0;
  uint64_t overloaded = 0;
  double seconds = 0;
  uint64_t buckets[kBucketCount + 1] = {};  // non-cumulative; last is +Inf
};

// Per connection (or per in-process Bootstrap(), which has no peer, no
// traffic and nothing to close).
struct ConnState {
  uint64_t id = 0;
  uint32_t in_flight = 0;
  uint32_t watches = 0;         // live watch and event subscriptions made on this connection
  uint32_t token_failures = 0;  // writer() calls with a wrong token
  std::string peer;
  std::shared_ptr<ConnectionTraffic> traffic;
  kj::Own<kj::PromiseFulfiller<void>> close;  // fulfilled: the server drops the connection
  kj::AsyncIoStream* stream = nullptr;          // while close is waiting
};

// An accept loop's state, for /healthz.
struct ListenerHealth {
  std::string name;  // "rpc" or "http" and the port
  bool accepting = true;
  std::string error;  // the last accept error while not accepting
};

// One watch subscription (GridTree.watch).
struct Subscription {
  std::vector<std::string> ids;
  proto::Watcher::Client callback;
  bool sending = false;
  std::shared_ptr<const View> pending;  // a newer state to push once the one in flight is done
};

// One object event subscription (GridTree.events).
struct EventSubscription {
  EventSubscription(int id, proto::EventSink::Client s) : engine_id(id), sink(kj::mv(s)) {}
  int engine_id = -1;
  proto::EventSink::Client sink;
  bool sending = false;
  std::deque<ObjectEvent> pending;
  uint64_t dropped = 0;  // events dropped while the sink was too slow
};

// Throws the kj exception a Status maps to (docs/rpc.md "Errors").
[[noreturn]] void ThrowStatus(const Status& status);
[[noreturn]] void ThrowFailed(std::string message);
[[noreturn]] void ThrowOverloaded(std::string message);
// FAILED naming the field when count exceeds the configured limit, e.g.
// "ids: 5000 ids exceed max_ids_per_aggregate 4096".
void CheckLimit(const char* field, const char* what, size_t count, size_t limit, const char* option);

using Clock = std::chrono::steady_clock;

// Text safe to log or echo: control characters and bytes that are not UTF-8
// as \\xNN (\\n, \\r, \\t by name), cut after max_bytes with a count of the rest.
std::string EscapeText(std::string_view text, size_t max_bytes = 512);
// Writes one formatted line and a newline to stderr (LogLine's sink).
void WriteLogLine(std::string_view line);
// Why a decoded request field is unacceptable ("contains a NUL byte at 4",
// "is not valid UTF-8 (byte 2)"), or "" when it is fine.
std::string BadText(kj::ArrayPtr<const char> text);

// "127.0.0.1:50312", "[::1]:50312", "unix" or "unknown".
std::string PeerOf(kj::AsyncIoStream& stream);

// Work handed from any thread to the event loop: Post from anywhere; Next,
// on the loop, resolves once something is there, with all of it. Held by
// shared_ptr, so that a poster still running after the server went (an
// engine callback on a writer's thread) holds the inbox, not the state.
template <typename T>
class LoopInbox {
 public:
  void Post(T item) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    items_.push_back(std::move(item));
    if (wakeup_) {
      wakeup_->fulfill();
      wakeup_ = nullptr;
    }
  }
  // Later posts are dropped.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    wakeup_ = nullptr;
  }
  kj::Promise<std::deque<T>> Next() {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (items_.empty()) {
        wakeup_ = kj::mv(paf.fulfiller);
      } else {
        paf.fulfiller->fulfill();
      }
    }
    return paf.promise.then([this]() {
      std::deque<T> ready;
      std::lock_guard<std::mutex> lock(mu_);
      ready.swap(items_);
      return ready;
    });
  }

 private:
  std::mutex mu_;
  bool closed_ = false;                                    // guarded by mu_
  std::deque<T> items_;                                    // guarded by mu_
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> wakeup_;  // guarded by mu_
};

// The parts of a ServerState, by job. Unless a field says otherwise, each is
// read and written on the event loop thread only; the fields other threads
// touch are atomics, or a LoopInbox (locked inside) held by shared_ptr.

// The accepted connections and their counters, the accept loops' health and
// the server-wide budget of failed token attempts. Loop thread only.
struct Connections {
  uint64_t next_id = 1;
  uint64_t open = 0;  // RPC and HTTP together (max_connections)
  uint64_t refused = 0;
  uint64_t closed_by_server = 0;                       // idle, limits, token attempts
  std::map<uint64_t, std::shared_ptr<ConnState>> rpc;  // accepted RPC connections, for the sweep
  std::vector<ListenerHealth> listeners;
  // Server-wide failed token attempts in the current second.
  int64_t token_failure_second = 0;
  uint32_t token_failures_this_second = 0;
};

// Calls in flight and what finished calls add up to (/metrics). Loop thread
// only, except `running`.
struct CallStats {
  std::atomic<int64_t> running{0};  // heavy calls queued or running on the executor, until each ends (any thread)
  size_t in_flight = 0;             // calls in flight, all connections and HTTP
  uint64_t points_located = 0;
  uint64_t writer_refusals = 0;
  std::map<std::string, MethodStats, std::less<>> stats;  // by method
  Clock::time_point started = Clock::now();
};

// Watch subscriptions, and the hand-off from the engine's listener (any
// thread: it posts to `inbox` and reads `watching`) to the loop, which
// drains the inbox in `batches_loop` and owns everything else.
struct Watches {
  struct Batch {
    std::shared_ptr<const View> view;
    std::vector<LeafId> leaves;  // empty: everything changed (a reload)
  };
  std::map<uint64_t, Subscription> subscriptions;
  // The newest view delivered so far: two writers' notifications can arrive
  // out of order, and a watcher must never see values go back.
  std::shared_ptr<const View> newest_delivered;
  uint64_t next_subscription = 1;  // also numbers event subscriptions: one id space
  int listener_id = -1;
  // Filled by the engine listener, which may still run (on a writer's
  // thread) after RemoveListener returns.
  std::shared_ptr<LoopInbox<Batch>> inbox = std::make_shared<LoopInbox<Batch>>();
  // Whether any watch is live: without one the listener posts nothing, so
  // that a server nobody watches (a replica catching up) does not hand
  // every applied version to its loop. Set by WatchesChanged on the loop.
  std::shared_ptr<std::atomic<bool>> watching = std::make_shared<std::atomic<bool>>(false);
  kj::Promise<void> batches_loop = nullptr;
};

// Object event subscriptions (GridTree.events): the engine calls back on
// the tracking thread and posts to `inbox`; the loop drains it in `loop`
// and pushes the events to each sink one push at a time (events arriving
// meanwhile go in the next push). `expiry_running` is set on the loop and
// cleared on the executor; everything else is loop thread only.
struct EventStreams {
  using Batch = std::pair<uint64_t, std::vector<ObjectEvent>>;  // subscription, events
  std::map<uint64_t, EventSubscription> subscriptions;
  std::shared_ptr<LoopInbox<Batch>> inbox = std::make_shared<LoopInbox<Batch>>();
  kj::Promise<void> loop = nullptr;
  std::atomic<bool> expiry_running{false};  // one expiry at a time (Sweep)
};

// The log rate limiter: per event, the lines written and held back in the
// current second (ServerState::Log, FlushSuppressed). Loop thread only.
struct LogLimiter {
  struct Budget {
    int64_t second = 0;
    uint32_t lines = 0;
    uint64_t suppressed = 0;
  };
  std::map<std::string, Budget, std::less<>> budgets;
};

// Owns the parts above, in an order that keeps destruction safe: members go
// in reverse order, so the TaskSet goes first, then the sweep, the log
// limiter, the event streams, the watches, and last the call stats and the
// connections its tasks touch on the way out.
struct ServerState : kj::TaskSet::ErrorHandler {
  ServerState(Engine& e, ServerOptions o, kj::Timer& t);
  ~ServerState();
  void taskFailed(kj::Exception&& e) override;

  Engine& engine;
  ServerOptions options;
  kj::Timer& timer;
  capnp::ReaderOptions reader_options;
  Connections connections;
  CallStats calls;
  Watches watches;
  EventStreams event_streams;
  LogLimiter log_limiter;

  // After subscriptions changed: updates `watches.watching`, and drops the
  // newest delivered view when none is left (it would pin an old dataset).
  void WatchesChanged();
  kj::Promise<void> EventLoop();
  void PushEvents(uint64_t sub_id);
  // End a subscription (idempotent).
  void CancelEvents(uint64_t sub_id);
  void CancelWatch(uint64_t sub_id);

  // One log line, at most options.log_lines_per_event_per_second of one
  // event each second; what is held back is counted in a log_suppressed
  // line once the second is over.
  void Log(std::string_view level, std::string_view event,
           std::initializer_list<std::pair<std::string_view, std::string>> fields);
  void Emit(const std::string& line);
  // Seconds on the loop's timer: the window of the log and token budgets.
  int64_t Second() const;
  void EmitSuppressed(std::string_view event, LogLimiter::Budget& budget);
  void FlushSuppressed(bool all);

  // Drops an accepted connection now (after `delay`, so that an Abort or a
  // refusal already queued reaches the client first).
  void CloseConnection(ConnState& conn, const std::string& reason, kj::Duration delay);
  // Accepts on `listener` until cancelled; a failed accept (e.g. out of file
  // descriptors) is logged, marks the listener not accepting, and is retried
  // with a growing pause (10 ms up to 1 s), never ending the loop.
  kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& listener, size_t health,
                               std::function<void(kj::Own<kj::AsyncIoStream>)> on_stream, kj::Duration pause);
  // Every second: idle connections, suppressed log counts, memory given back.
  // Its state, below, is touched on the loop thread only.
  kj::Promise<void> Sweep();
  kj::Promise<void> sweep_loop = nullptr;
  bool trim_wanted = false;
  // The change in place of a mapped image Sweep last reported: its path and
  // the file there then (device, inode, size, mtime); empty when none is.
  std::string image_change_logged;

  // Last: destroyed first, so that what its tasks touch on the way out
  // (counters, the connection map) still exists.
  kj::TaskSet tasks;

  // Records one finished call.
  void Record(std::string_view method, Clock::time_point t0, const kj::Exception* error);

  // Wraps a call: per-connection and overall in-flight counts, latency and
  // error stats, slow-call and error logging. `body` runs now.
  template <typename Body>
  kj::Promise<void> Call(const std::shared_ptr<ConnState>& conn, const char* method, Body&& body) {
    const auto t0 = Clock::now();
    if (conn && conn->in_flight >= options.max_calls_in_flight_per_connection) {
      auto e = KJ_EXCEPTION(OVERLOADED, "too many calls in flight on this connection",
                            options.max_calls_in_flight_per_connection);
      Record(method, t0, &e);
      return kj::mv(e);
    }
    if (conn) ++conn->in_flight;
    ++calls.in_flight;
    kj::Promise<void> started = kj::evalNow([&body]() -> kj::Promise<void> { return body(); });
    return started
        .then(
            [this, method, t0]() -> kj::Promise<void> {
              Record(method, t0, nullptr);
              return kj::READY_NOW;
            },
              [this, method, t0](kj::Exception&& e) -> kj::Promise<void> {
                Record(method, t0, &e);
                return kj::mv(e);
              })
        .attach(kj::defer([this, conn]() {
          if (conn) --conn->in_flight;
          --calls.in_flight;
        }));
  }

  // Runs fn() on the engine executor and resolves with its result on the loop.
  // Refuses with OVERLOADED past max_queued_work. fn must own what it reads.
  template <typename Fn>
  auto Offload(Fn fn) -> kj::Promise<decltype(fn())> {
    using T = decltype(fn());
    // Counted until the task ends, not until its caller goes: a client that
    // disconnects leaves its work queued, and that work still counts.
    if (const int64_t now = calls.running.load(); now >= static_cast<int64_t>(options.max_queued_work))
      ThrowOverloaded("server busy: " + std::to_string(now) + " heavy calls queued (max_queued_work " +
                      std::to_string(options.max_queued_work) + ")");
    auto paf = kj::newPromiseAndCrossThreadFulfiller<T>();
    // kj::Own has a noexcept(false) destructor: box it for the TBB task (FIELD_NOTES P2).
    auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<T>>>(kj::mv(paf.fulfiller));
    calls.running.fetch_add(1);
    Enqueue([fulfiller, fn = std::move(fn), this]() mutable {
      // What fn holds (a View, maybe the last reference to a dataset) is
      // released below, before `running` says the task is over.
      std::optional<Fn> work(std::move(fn));
      KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] {
        std::optional<T> value;
        try {
          value.emplace((*work)());
        } catch (const kj::Exception&) {
          throw;  // the request's own error, already in its kind
        } catch (const std::exception& error) {  // a bug or out of memory, never the request's fault
          ThrowFailed(std::string("internal: ") + error.what());
        }
        (*fulfiller)->fulfill(kj::mv(*value));
      })) {
        (*fulfiller)->reject(kj::mv(*e));
      }
      work.reset();
      fulfiller.reset();
      calls.running.fetch_sub(1);
    });
    return kj::mv(paf.promise);
  }

  void Enqueue(std::function<void()> task);

  // Hands a write to options.write_log and resolves on the loop with its
  // answer, which may come from any thread (the log's reader).
  template <typename Start>
  kj::Promise<Result<WriteAck>> ViaWriteLog(Start start) {
    auto paf = kj::newPromiseAndCrossThreadFulfiller<Result<WriteAck>>();
    auto fulfiller = std::make_shared<kj::Own<kj::CrossThreadPromiseFulfiller<Result<WriteAck>>>>(kj::mv(paf.fulfiller));
    start([fulfiller](Result<WriteAck> r) { (*fulfiller)->fulfill(kj::mv(r)); });
    return kj::mv(paf.promise);
  }
  // Resolves once the write log has applied `position` (at once without a
  // write log, or at a position already applied); fails with "lagging: ..."
  // after timeout_ms (0: options.default_position_wait_ms).
  kj::Promise<void> WaitForPosition(uint64_t position, uint32_t timeout_ms);

  void Deliver(const Watches::Batch& batch);
  kj::Promise<void> BatchLoop();
  void Push(uint64_t sub_id, std::shared_ptr<const View> view);
};

// Before a connection closes, what the client still sends is read and
// dropped (up to 1 MiB, or for `limit`): closing with unread
// bytes makes the kernel send a reset, and the client would lose the error
// reply it was just sent (HTTP errors, refused RPC connections).
kj::Promise<void> DrainAndClose(ServerState& state, kj::Own<kj::AsyncIoStream> stream,
                                kj::Duration limit = 2 * kj::SECONDS, size_t buffer_bytes = 65536);

}  // namespace gridtree::rpc::internal

namespace gridtree::rpc {
struct Server::State : internal::ServerState {
  using ServerState::ServerState;
};
}  // namespace gridtree::rpc

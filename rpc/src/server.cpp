// Server: the accept loop (own ReaderOptions; TwoPartyServer has none in
// capnp 0.9.2), the hand-off to the engine executor, counters and /metrics text, and the
// hand-off of applied batches to subscriptions.
#include <capnp/rpc-twoparty.h>
#include <kj/debug.h>

#include <capnp/rpc.capnp.h>
#include <capnp/serialize-async.h>
#include <malloc.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <cstdio>
#include <thread>

#include "convert.h"
#include "gridtree/engine/image.h"
#include "service.h"
#include "state.h"

namespace gridtree::rpc {
namespace internal {

std::string PeerOf(kj::AsyncIoStream& stream) {
  sockaddr_storage addr{};
  uint len = sizeof addr;
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] { stream.getpeername(reinterpret_cast<sockaddr*>(&addr), &len); })) {
    return "unknown";
  }
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  if (addr.ss_family == AF_UNIX) return "unix";
  return "unknown";
}

namespace {
// Reply bytes not yet taken by the peer: in kj's queue and in the kernel's.
size_t UnsentBytes(kj::AsyncIoStream& stream, const ConnectionTraffic* traffic) {
  size_t unsent = traffic && traffic->network ? traffic->network->getCurrentQueueSize() : 0;
  KJ_IF_MAYBE(fd, stream.getFd()) {
    int queued = 0;
    if (::ioctl(*fd, SIOCOUTQ, &queued) == 0 && queued > 0) unsent += static_cast<size_t>(queued);
  }
  return unsent;
}
}  // namespace

ServerState::ServerState(Engine& e, ServerOptions o, kj::Timer& t)
    : engine(e), options(std::move(o)), timer(t), tasks(*this) {
  reader_options.traversalLimitInWords = std::max<uint64_t>(options.max_message_bytes / 8, 1024);
  sweep_loop = Sweep().eagerlyEvaluate([this](kj::Exception&& e) {
    Log("error", "sweep_failed", {{"error", e.getDescription().cStr()}});
  });
  event_streams.loop = EventLoop().eagerlyEvaluate([this](kj::Exception&& e) {
    Log("error", "events_loop_failed", {{"error", e.getDescription().cStr()}});
  });
  watches.batches_loop = BatchLoop().eagerlyEvaluate([this](kj::Exception&& e) {
    Log("error", "subscription_loop_failed", {{"error", e.getDescription().cStr()}});
  });
  watches.listener_id =
      engine.AddListener([inbox = watches.inbox, watching = watches.watching](const std::shared_ptr<const View>& view,
                                                                              std::span<const LeafId> leaves) {
        if (!watching->load(std::memory_order_relaxed)) return;
        inbox->Post(Watches::Batch{view, std::vector<LeafId>(leaves.begin(), leaves.end())});
      });
}

ServerState::~ServerState() {
  {
    watches.inbox->Close();
  }
  engine.RemoveListener(watches.listener_id);
  {
    event_streams.inbox->Close();
  }
  for (auto& [id, sub] : event_streams.subscriptions) engine.UnsubscribeObjectEvents(sub.engine_id);
  event_streams.loop = nullptr;
  event_streams.subscriptions.clear();
  sweep_loop = nullptr;
  FlushSuppressed(true);
  watches.batches_loop = nullptr;
  watches.subscriptions.clear();
  while (calls.running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void ServerState::taskFailed(kj::Exception&& e) {
  if (e.getType() == kj::Exception::Type::DISCONNECTED) return;
  Log("warn", "connection_error", {{"error", e.getDescription().cStr()}});
}

void ServerState::Emit(const std::string& line) {
  if (options.log) {
    options.log(line);
  } else {
    WriteLogLine(line);
  }
}

int64_t ServerState::Second() const { return (timer.now() - kj::origin<kj::TimePoint>()) / kj::SECONDS; }

void ServerState::EmitSuppressed(std::string_view event, LogLimiter::Budget& budget) {
  Emit(FormatLogLine("warn", "log_suppressed",
                     {{"suppressed_event", std::string(event)}, {"count", std::to_string(budget.suppressed)}}));
  budget.suppressed = 0;
}

void ServerState::Log(std::string_view level, std::string_view event,
                      std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  const int64_t second = Second();
  auto it = log_limiter.budgets.find(event);
  if (it == log_limiter.budgets.end()) it = log_limiter.budgets.emplace(std::string(event), LogLimiter::Budget{}).first;
  LogLimiter::Budget& b = it->second;
  if (b.second != second) {
    if (b.suppressed > 0) EmitSuppressed(event, b);
    b = LogLimiter::Budget{second, 0, 0};
  }
  if (options.log_lines_per_event_per_second && b.lines >= options.log_lines_per_event_per_second) {
    ++b.suppressed;
    return;
  }
  ++b.lines;
  Emit(FormatLogLine(level, event, fields));
}

void ServerState::FlushSuppressed(bool all) {
  const int64_t second = Second();
  for (auto& [event, b] : log_limiter.budgets)
    if (b.suppressed > 0 && (all || b.second != second)) EmitSuppressed(event, b);
}

void ServerState::CloseConnection(ConnState& conn, const std::string& reason, kj::Duration delay) {
  if (!conn.close || !conn.close->isWaiting()) return;
  ++connections.closed_by_server;
  Log("warn", "connection_closed", {{"conn", std::to_string(conn.id)}, {"peer", conn.peer}, {"reason", reason}});
  if (conn.stream && UnsentBytes(*conn.stream, conn.traffic.get()) > 0) {
    // Replies wait for a client that does not read: reset instead of a
    // graceful close, which would keep them in the kernel for minutes.
    const linger reset{1, 0};
    KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] {
      conn.stream->setsockopt(SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    })) {
    }
  }
  if (delay == 0 * kj::SECONDS) {
    conn.close->fulfill();
    return;
  }
  std::weak_ptr<ConnState> weak;
  if (auto it = connections.rpc.find(conn.id); it != connections.rpc.end()) weak = it->second;
  tasks.add(timer.afterDelay(delay).then([weak]() {
    if (auto c = weak.lock(); c && c->close && c->close->isWaiting()) c->close->fulfill();
  }));
}

kj::Promise<void> ServerState::AcceptLoop(kj::ConnectionReceiver& listener, size_t health,
                                          std::function<void(kj::Own<kj::AsyncIoStream>)> on_stream,
                                          kj::Duration pause) {
  // evalNow: kj's accept() throws at once when the call fails (EMFILE)
  // instead of returning a broken promise; both must reach the handler.
  return kj::evalNow([&listener]() { return listener.accept(); })
      .then(
      [this, &listener, health, on_stream](kj::Own<kj::AsyncIoStream> stream) mutable -> kj::Promise<void> {
        ListenerHealth& h = connections.listeners[health];
        if (!h.accepting) Log("info", "accepting_again", {{"listener", h.name}});
        h.accepting = true;
        h.error.clear();
        on_stream(kj::mv(stream));
        return AcceptLoop(listener, health, kj::mv(on_stream), 0 * kj::SECONDS);
      },
      [this, &listener, health, on_stream, pause](kj::Exception&& e) mutable -> kj::Promise<void> {
        ListenerHealth& h = connections.listeners[health];
        h.accepting = false;
        h.error = e.getDescription().cStr();
        Log("error", "accept_failed", {{"listener", h.name}, {"error", h.error}});
        const kj::Duration next = pause < 10 * kj::MILLISECONDS ? 10 * kj::MILLISECONDS
                                  : pause * 2 > 1 * kj::SECONDS  ? 1 * kj::SECONDS
                                                                 : pause * 2;
        return timer.afterDelay(next).then([this, &listener, health, on_stream = kj::mv(on_stream), next]() mutable {
          return AcceptLoop(listener, health, kj::mv(on_stream), next);
        });
      });
}

kj::Promise<void> ServerState::WaitForPosition(uint64_t position, uint32_t timeout_ms) {
  if (!options.write_log || options.write_log->applied_position() >= position) return kj::READY_NOW;
  const uint32_t wait_ms = timeout_ms ? timeout_ms : options.default_position_wait_ms;
  const kj::TimePoint deadline = timer.now() + wait_ms * kj::MILLISECONDS;
  // Polled on the loop every millisecond: a replica that lags does so by
  // milliseconds (docs/cluster.md), and no thread waits meanwhile.
  auto poll = [this, position, deadline, wait_ms](auto& self) -> kj::Promise<void> {
    const uint64_t applied = options.write_log->applied_position();
    if (applied >= position) return kj::READY_NOW;
    if (timer.now() >= deadline)
      return KJ_EXCEPTION(FAILED, kj::str("lagging: this replica has applied position ", applied, ", not ", position,
                                          ", after waiting ", wait_ms, " ms; ask another replica or wait longer"));
    return timer.afterDelay(1 * kj::MILLISECONDS).then([&self]() { return self(self); });
  };
  auto loop = kj::heap<decltype(poll)>(poll);
  auto& ref = *loop;
  return ref(ref).attach(kj::mv(loop));
}

kj::Promise<void> ServerState::Sweep() {
  return timer.afterDelay(1 * kj::SECONDS).then([this]() {
    FlushSuppressed(false);
    if (options.idle_timeout_seconds > 0) {
      const kj::Duration idle = static_cast<int64_t>(options.idle_timeout_seconds * 1000) * kj::MILLISECONDS;
      const kj::TimePoint now = timer.now();
      std::vector<std::shared_ptr<ConnState>> idle_ones;
      for (auto& [id, c] : connections.rpc)
        if (c->in_flight == 0 && c->watches == 0 && c->traffic && now - c->traffic->last_message > idle)
          idle_ones.push_back(c);
      for (auto& c : idle_ones)
        CloseConnection(*c, "idle: no call, no watch and no whole message for " +
                                std::to_string(options.idle_timeout_seconds) + " s (idle_timeout_seconds)",
                        0 * kj::SECONDS);
    }
    if (options.write_log) {
      // In a cluster, expiry goes through the log, at the log's time.
      options.write_log->ExpireObjects();
    } else if (engine.object_count() > 0 && !event_streams.expiry_running.exchange(true)) {
      // Objects not heard from in time leave, with exit events (on a
      // worker: it scans every object; one expiry at a time).
      calls.running.fetch_add(1);
      Enqueue([this]() {
        engine.ExpireObjects();
        event_streams.expiry_running = false;
        calls.running.fetch_sub(1);
      });
    }
    // A served image truncated or written over in place faults the next
    // query that reads a lost page: say which file, and how to replace one
    // safely, before a query does (once per change: keyed on the path and
    // what is there now, device, inode, size and modification time, and
    // forgotten once no mapped image is changed, so that a change after a
    // reload of the same path is reported too).
    if (std::string changed = ChangedMappedImage(); changed.empty()) {
      image_change_logged.clear();
    } else {
      std::string key = changed;
      if (struct stat st {}; ::stat(changed.c_str(), &st) == 0)
        key += '\0' + std::to_string(st.st_dev) + ':' + std::to_string(st.st_ino) + ':' + std::to_string(st.st_size) +
               ':' + std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec);
      if (key != image_change_logged) {
        Log("error", "image_changed_while_mapped",
            {{"file", changed},
             {"note", "the engine image was truncated or written over in place while mapped; the next query reading "
                      "it may crash the server. Replace a served image by writing a new file and renaming it over the "
                      "path (gridtree snapshot --out does), then gridtree call reload (docs/operations.md)"}});
        image_change_logged = std::move(key);
      }
    }
    if (trim_wanted) {
      // Answers and queues of closed connections go back to the system, not
      // only to malloc's free lists.
      trim_wanted = false;
      calls.running.fetch_add(1);
      Enqueue([this]() {  // on a worker: on a large heap it takes a while
        malloc_trim(0);
        calls.running.fetch_sub(1);
      });
    }
    return Sweep();
  });
}

void ServerState::Record(std::string_view method, Clock::time_point t0, const kj::Exception* error) {
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto it = calls.stats.find(method);
  if (it == calls.stats.end()) it = calls.stats.emplace(std::string(method), MethodStats{}).first;
  MethodStats& s = it->second;
  ++s.calls;
  s.seconds += secs;
  size_t b = 0;
  while (b < kBucketCount && secs > kLatencyBuckets[b]) ++b;
  ++s.buckets[b];
  if (error) {
    ++s.errors;
    if (error->getType() == kj::Exception::Type::OVERLOADED) ++s.overloaded;
    // An internal error is a bug: logged as an error, not a warning.
    const bool internal = error->getType() == kj::Exception::Type::FAILED &&
                          kj::StringPtr(error->getDescription()).startsWith("internal: ");
    Log(internal ? "error" : "warn", "call_error",
        {{"method", std::string(method)},
         {"type", error->getType() == kj::Exception::Type::OVERLOADED     ? "overloaded"
                  : error->getType() == kj::Exception::Type::DISCONNECTED ? "disconnected"
                  : internal                                              ? "internal"
                                                                          : "failed"},
         {"error", error->getDescription().cStr()}});
  }
  if (secs * 1000 > options.slow_call_ms)
    Log("warn", "slow_call", {{"method", std::string(method)}, {"ms", std::to_string(static_cast<int64_t>(secs * 1000))}});
}

// The engine's executor: --threads bounds the server's work and the
// engine's together (the loop thread only hands work over).
void ServerState::Enqueue(std::function<void()> task) { engine.executor().Enqueue(std::move(task)); }

kj::Promise<void> ServerState::BatchLoop() {
  return watches.inbox->Next().then([this](std::deque<Watches::Batch> ready) {
    for (const Watches::Batch& b : ready) Deliver(b);
    return BatchLoop();
  });
}

kj::Promise<void> ServerState::EventLoop() {
  return event_streams.inbox->Next().then([this](std::deque<EventStreams::Batch> ready) {
    std::vector<uint64_t> touched;
    for (auto& [id, events] : ready) {
      auto it = event_streams.subscriptions.find(id);
      if (it == event_streams.subscriptions.end()) continue;
      EventSubscription& sub = it->second;
      // A sink that does not keep up loses the oldest events past a bound,
      // counted in its next push's log line; it never holds the server's memory.
      constexpr size_t kMaxPending = 100000;
      for (ObjectEvent& e : events) sub.pending.push_back(std::move(e));
      while (sub.pending.size() > kMaxPending) {
        sub.pending.pop_front();
        ++sub.dropped;
      }
      touched.push_back(id);
    }
    for (uint64_t id : touched) PushEvents(id);
    return EventLoop();
  });
}

void ServerState::PushEvents(uint64_t sub_id) {
  auto it = event_streams.subscriptions.find(sub_id);
  if (it == event_streams.subscriptions.end()) return;
  EventSubscription& sub = it->second;
  if (sub.sending || sub.pending.empty()) return;
  if (sub.dropped) {
    Log("warn", "events_dropped", {{"subscription", std::to_string(sub_id)}, {"events", std::to_string(sub.dropped)}});
    sub.dropped = 0;
  }
  sub.sending = true;
  // As many events as one message holds; the rest go in the next push.
  const uint64_t budget = AnswerBudgetWords(options.max_message_bytes);
  uint64_t words = 4;  // the params struct and the list's tag
  size_t n = 0;
  for (; n < sub.pending.size(); ++n) {
    const uint64_t w = ObjectEventWords(sub.pending[n]);
    if (n > 0 && words + w > budget) break;
    words += w;
  }
  auto req = sub.sink.pushRequest();
  auto out = req.initEvents(static_cast<unsigned>(n));
  for (size_t i = 0; i < n; ++i) FillObjectEvent(out[static_cast<unsigned>(i)], sub.pending[i]);
  sub.pending.erase(sub.pending.begin(), sub.pending.begin() + static_cast<std::ptrdiff_t>(n));
  tasks.add(req.send().then(
      [this, sub_id](auto&&) {
        auto it = event_streams.subscriptions.find(sub_id);
        if (it == event_streams.subscriptions.end()) return;
        it->second.sending = false;
        PushEvents(sub_id);
      },
      [this, sub_id](kj::Exception&& e) {
        // The sink is gone or broken: the subscription ends.
        Log("info", "events_sink_failed", {{"subscription", std::to_string(sub_id)}, {"error", e.getDescription().cStr()}});
        CancelEvents(sub_id);
      }));
}

void ServerState::CancelWatch(uint64_t sub_id) {
  if (watches.subscriptions.erase(sub_id)) Log("info", "unwatch", {{"subscription", std::to_string(sub_id)}});
  WatchesChanged();
}

void ServerState::WatchesChanged() {
  watches.watching->store(!watches.subscriptions.empty(), std::memory_order_relaxed);
  if (watches.subscriptions.empty()) watches.newest_delivered.reset();
}

void ServerState::CancelEvents(uint64_t sub_id) {
  auto it = event_streams.subscriptions.find(sub_id);
  if (it == event_streams.subscriptions.end()) return;
  engine.UnsubscribeObjectEvents(it->second.engine_id);
  event_streams.subscriptions.erase(it);
}

void ServerState::Deliver(const Watches::Batch& batch) {
  auto key = [](const View& v) { return std::make_tuple(v.dataset_version(), v.version(), v.objects_version()); };
  // A batch of an older dataset than the newest delivered changes nothing
  // a watcher can still see (its reload has been, or will be, pushed).
  if (watches.newest_delivered && batch.view->dataset_version() < watches.newest_delivered->dataset_version()) return;
  if (!watches.newest_delivered || key(*batch.view) > key(*watches.newest_delivered))
    watches.newest_delivered = batch.view;
  const View& view = *watches.newest_delivered;
  const Dataset& ds = view.dataset();
  // Listener leaves are leaf numbers of the batch's own dataset; another
  // dataset, or anything out of range, means "treat every watched node as
  // changed".
  bool all = batch.leaves.empty() || batch.view->dataset_version() != view.dataset_version();
  std::vector<int32_t> changed;
  for (LeafId leaf : batch.leaves) {
    if (!leaf.valid() || static_cast<size_t>(leaf.value) >= ds.leaf_count()) {
      all = true;
      break;
    }
    changed.push_back(view.NodeOf(leaf).value);
  }
  std::sort(changed.begin(), changed.end());
  std::vector<uint64_t> to_push;
  for (auto& [id, sub] : watches.subscriptions) {
    bool hit = all;
    for (size_t i = 0; i < sub.ids.size() && !hit; ++i) {
      auto n = view.Find(sub.ids[i]);
      if (!n) continue;
      auto it = std::lower_bound(changed.begin(), changed.end(), n->value);
      hit = it != changed.end() && *it < ds.subtree_end[n->value];
    }
    if (hit) to_push.push_back(id);
  }
  for (uint64_t id : to_push) Push(id, watches.newest_delivered);
}

void ServerState::Push(uint64_t sub_id, std::shared_ptr<const View> view) {
  auto it = watches.subscriptions.find(sub_id);
  if (it == watches.subscriptions.end()) return;
  Subscription& sub = it->second;
  if (sub.sending) {
    sub.pending = std::move(view);  // coalesce: the client gets the latest state next
    return;
  }
  sub.sending = true;
  auto req = sub.callback.pushRequest();
  req.setVersion(view->version());
  req.setDatasetVersion(view->dataset_version());
  std::vector<NodeId> nodes;
  for (const auto& id : sub.ids)
    if (auto n = view->Find(id)) nodes.push_back(*n);
  auto out = req.initNodes(static_cast<unsigned>(nodes.size()));
  for (size_t i = 0; i < nodes.size(); ++i) FillAggregate(out[static_cast<unsigned>(i)], *view, nodes[i]);
  tasks.add(req.send().then(
      [this, sub_id](auto&&) {
        auto it = watches.subscriptions.find(sub_id);
        if (it == watches.subscriptions.end()) return;
        it->second.sending = false;
        if (it->second.pending) {
          auto next = std::move(it->second.pending);
          it->second.pending = nullptr;
          Push(sub_id, std::move(next));
        }
      },
      [this, sub_id](kj::Exception&& e) {
        // A watcher that cannot take a push is dropped (it unsubscribed or went away).
        if (watches.subscriptions.erase(sub_id))
          Log("warn", "push_failed", {{"subscription", std::to_string(sub_id)}, {"error", e.getDescription().cStr()}});
        WatchesChanged();
      }));
}

namespace {
// One accepted RPC connection.
struct Conn {
  Conn(kj::Own<kj::AsyncIoStream> s, capnp::Capability::Client boot, const capnp::ReaderOptions& opts,
       kj::Timer& timer, ConnectionLimits limits, std::shared_ptr<ConnectionTraffic> traffic,
       std::function<void(const std::string&)> on_violation, std::function<void(const kj::Exception&)> on_read_error)
      : stream(kj::mv(s)),
        network(*stream, opts, timer, limits, std::move(traffic), std::move(on_violation), std::move(on_read_error)),
        rpc(capnp::makeRpcServer(network, kj::mv(boot))) {}
  kj::Own<kj::AsyncIoStream> stream;
  GuardedVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? resident * 4096L : 0;
}
}  // namespace

}  // namespace internal

using internal::ConnState;

Server::Server(Engine& engine, ServerOptions options, kj::Timer& timer)
    : state_(std::make_unique<State>(engine, std::move(options), timer)) {}

Server::~Server() = default;

capnp::Capability::Client Server::Bootstrap() {
  auto conn = std::make_shared<ConnState>();
  conn->id = state_->connections.next_id++;
  return internal::NewGridTree(*state_, std::move(conn));
}

void Server::Accept(kj::Own<kj::AsyncIoStream> stream) {
  State& s = *state_;
  const std::string peer = internal::PeerOf(*stream);
  if (s.connections.open >= s.options.max_connections) {
    ++s.connections.refused;
    const std::string reason = "server has too many connections open (max_connections " +
                               std::to_string(s.options.max_connections) + "); try again later";
    s.Log("warn", "connection_refused", {{"peer", peer}, {"proto", "capnp"}, {"reason", reason}});
    // The reason travels as an RPC Abort, which the client reports as the
    // error of its first call.
    auto message = kj::heap<capnp::MallocMessageBuilder>();
    auto abort = message->initRoot<capnp::rpc::Message>().initAbort();
    abort.setReason(reason);
    abort.setType(capnp::rpc::Exception::Type::OVERLOADED);
    auto written = capnp::writeMessage(*stream, *message);
    // Drained before it closes, or the client's first call, unread, turns
    // the close into a reset that can reach the client before the Abort.
    s.tasks.add(written.attach(kj::mv(message))
                    .then([&s, stream = kj::mv(stream)]() mutable {
                      return internal::DrainAndClose(s, kj::mv(stream), 100 * kj::MILLISECONDS, 4096);
                    })
                    .catch_([](kj::Exception&&) {}));
    return;
  }
  auto conn_state = std::make_shared<ConnState>();
  conn_state->id = s.connections.next_id++;
  conn_state->peer = peer;
  conn_state->traffic = std::make_shared<internal::ConnectionTraffic>();
  auto closed = kj::newPromiseAndFulfiller<void>();
  conn_state->close = kj::mv(closed.fulfiller);
  internal::ConnectionLimits limits{s.options.max_unfinished_answers_per_connection,
                                    s.options.max_unfinished_answer_bytes_per_connection,
                                    s.options.max_queued_reply_bytes_per_connection};
  ConnState* raw = conn_state.get();
  auto on_violation = [&s, raw](const std::string& reason) {
    // A moment for the Abort (or the replies before it) to go out.
    s.CloseConnection(*raw, reason, 200 * kj::MILLISECONDS);
  };
  auto on_read_error = [&s, raw](const kj::Exception& e) {
    if (e.getType() == kj::Exception::Type::DISCONNECTED) return;  // the peer went away
    s.Log("warn", "connection_dropped",
          {{"conn", std::to_string(raw->id)}, {"peer", raw->peer}, {"reason", e.getDescription().cStr()}});
  };
  auto conn = kj::heap<internal::Conn>(kj::mv(stream), internal::NewGridTree(s, conn_state), s.reader_options,
                                       s.timer, limits, conn_state->traffic, std::move(on_violation),
                                       std::move(on_read_error));
  conn_state->stream = conn->stream.get();
  ++s.connections.open;
  s.connections.rpc.emplace(conn_state->id, conn_state);
  State* sp = state_.get();
  const uint64_t id = conn_state->id;
  auto done = conn->network.onDisconnect().exclusiveJoin(kj::mv(closed.promise));
  s.tasks.add(done.attach(kj::mv(conn), kj::defer([sp, id, raw] {
    raw->stream = nullptr;
    --sp->connections.open;
    sp->connections.rpc.erase(id);
    sp->trim_wanted = true;
  })));
}

kj::Promise<void> Server::Listen(kj::ConnectionReceiver& listener) {
  state_->connections.listeners.push_back({"capnp:" + std::to_string(listener.getPort()), true, ""});
  return state_->AcceptLoop(listener, state_->connections.listeners.size() - 1,
                            [this](kj::Own<kj::AsyncIoStream> stream) { Accept(kj::mv(stream)); }, 0 * kj::SECONDS);
}

bool Server::accepting(std::string* why) const {
  for (const auto& h : state_->connections.listeners)
    if (!h.accepting) {
      if (why) *why = h.name + " is not accepting connections: " + h.error;
      return false;
    }
  return true;
}

kj::Promise<void> Server::Drain(kj::Duration timeout) {
  const kj::TimePoint deadline = state_->timer.now() + timeout;
  // Polls every 5 ms; the struct keeps the recursion alive.
  struct Loop {
    Server* server;
    kj::TimePoint deadline;
    kj::Promise<void> Next() {
      auto& st = *server->state_;
      if (st.calls.in_flight == 0 || st.timer.now() >= deadline) return kj::READY_NOW;
      return st.timer.afterDelay(5 * kj::MILLISECONDS).then([this]() { return Next(); });
    }
  };
  auto l = kj::heap<Loop>(Loop{this, deadline});
  auto p = l->Next();
  return p.attach(kj::mv(l));
}

size_t Server::in_flight() const { return state_->calls.in_flight; }

std::string Server::MetricsText() const {
  const State& s = *state_;
  std::string out;
  auto line = [&out](const std::string& name, const std::string& labels, double v) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    char buf[64];
    std::snprintf(buf, sizeof buf, " %.17g\n", v);
    out += buf;
  };
  out += "# HELP gridtree_calls_total Calls served, by method (RPC and HTTP).\n# TYPE gridtree_calls_total counter\n";
  for (const auto& [m, st] : s.calls.stats)
    line("gridtree_calls_total", "method=\"" + m + "\"", static_cast<double>(st.calls));
  out += "# HELP gridtree_errors_total Calls that failed, by method.\n# TYPE gridtree_errors_total counter\n";
  for (const auto& [m, st] : s.calls.stats)
    line("gridtree_errors_total", "method=\"" + m + "\"", static_cast<double>(st.errors));
  out += "# HELP gridtree_overloaded_total Calls refused as OVERLOADED, by method.\n# TYPE gridtree_overloaded_total counter\n";
  for (const auto& [m, st] : s.calls.stats)
    line("gridtree_overloaded_total", "method=\"" + m + "\"", static_cast<double>(st.overloaded));
  out += "# HELP gridtree_call_seconds Call latency, by method.\n# TYPE gridtree_call_seconds histogram\n";
  for (const auto& [m, st] : s.calls.stats) {
    uint64_t cum = 0;
    for (size_t b = 0; b <= internal::kBucketCount; ++b) {
      cum += st.buckets[b];
      char le[32];
      if (b < internal::kBucketCount) std::snprintf(le, sizeof le, "%g", internal::kLatencyBuckets[b]);
      else std::snprintf(le, sizeof le, "+Inf");
      line("gridtree_call_seconds_bucket", "method=\"" + m + "\",le=\"" + le + "\"", static_cast<double>(cum));
    }
    line("gridtree_call_seconds_sum", "method=\"" + m + "\"", st.seconds);
    line("gridtree_call_seconds_count", "method=\"" + m + "\"", static_cast<double>(st.calls));
  }
  auto view = s.engine.Read();
  auto gauge = [&](const char* name, const char* help, const char* type, double v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    line(name, "", v);
  };
  gauge("gridtree_points_located_total", "Points located (locate, locateBatch, HTTP).", "counter",
        static_cast<double>(s.calls.points_located));
  gauge("gridtree_writer_refusals_total", "writer() calls with a wrong token.", "counter",
        static_cast<double>(s.calls.writer_refusals));
  gauge("gridtree_dataset_version", "Dataset version (reloads).", "gauge", static_cast<double>(view->dataset_version()));
  gauge("gridtree_metric_version", "Metric version (applied update batches).", "gauge",
        static_cast<double>(view->version()));
  if (s.options.write_log) {
    const ReplicaStatus r = s.options.write_log->status();
    gauge("gridtree_log_position", "Last position of the replicated log applied here.", "gauge",
          static_cast<double>(r.position));
    gauge("gridtree_log_lag", "Positions of the replicated log not yet applied, as last seen.", "gauge",
          static_cast<double>(r.lag));
    gauge("gridtree_log_skipped_total", "Log entries that were not gridtree writes, skipped.", "counter",
          static_cast<double>(r.skipped_messages));
    gauge("gridtree_ready", "1 once caught up with the log's end as seen at start.", "gauge", r.ready ? 1 : 0);
  }
  gauge("gridtree_nodes", "Nodes in the dataset.", "gauge", static_cast<double>(view->dataset().node_count()));
  gauge("gridtree_leaves", "Leaves in the dataset.", "gauge", static_cast<double>(view->dataset().leaf_count()));
  gauge("gridtree_index_memory_bytes", "Memory of the spatial index.", "gauge",
        static_cast<double>(view->spatial_index().stats().memory_bytes));
  gauge("gridtree_resident_memory_bytes", "Resident set size of the process.", "gauge",
        static_cast<double>(internal::ResidentBytes()));
  gauge("gridtree_connections_open", "Open connections, RPC and HTTP.", "gauge",
        static_cast<double>(s.connections.open));
  gauge("gridtree_connections_refused_total", "Connections refused past max_connections.", "counter",
        static_cast<double>(s.connections.refused));
  gauge("gridtree_connections_closed_total", "Connections the server closed (idle, limits, token attempts).", "counter",
        static_cast<double>(s.connections.closed_by_server));
  gauge("gridtree_calls_in_flight", "Calls in flight.", "gauge", static_cast<double>(s.calls.in_flight));
  gauge("gridtree_queued_work", "Heavy calls queued or running on the engine executor.", "gauge",
        static_cast<double>(s.calls.running.load()));
  gauge("gridtree_subscriptions", "Active watch subscriptions.", "gauge",
        static_cast<double>(s.watches.subscriptions.size()));
  gauge("gridtree_uptime_seconds", "Seconds since the server started.", "gauge",
        std::chrono::duration<double>(internal::Clock::now() - s.calls.started).count());
  return out;
}

}  // namespace gridtree::rpc

// Server: the accept loop (own ReaderOptions; TwoPartyServer has none in
// capnp 0.9.2), the worker arena, counters and /metrics text, and the
// hand-off of applied batches to subscriptions.
#include <capnp/rpc-twoparty.h>
#include <kj/debug.h>
#include <tbb/info.h>

#include <cstdio>
#include <thread>

#include "convert.h"
#include "service.h"
#include "state.h"

namespace gridtree::rpc {
namespace internal {

ServerState::ServerState(Engine& e, ServerOptions o, kj::Timer& t)
    : engine(e), options(std::move(o)), timer(t), tasks(*this) {
  reader_options.traversalLimitInWords = std::max<uint64_t>(options.max_message_bytes / 8, 1024);
  const int threads = options.worker_threads > 0 ? options.worker_threads : tbb::info::default_concurrency();
  // No reserved master slot: the loop thread never joins (FIELD_NOTES §5).
  arena = std::make_unique<tbb::task_arena>(threads, 0);
  batches_loop = BatchLoop().eagerlyEvaluate([this](kj::Exception&& e) {
    Log("error", "subscription_loop_failed", {{"error", e.getDescription().cStr()}});
  });
  listener_id = engine.AddListener(
      [inbox = inbox](const std::shared_ptr<const View>& view, std::span<const int32_t> leaves) {
        OnBatch(*inbox, view, leaves);
      });
}

ServerState::~ServerState() {
  {
    std::lock_guard<std::mutex> lock(inbox->mu);
    inbox->closed = true;
    inbox->wakeup = nullptr;
  }
  engine.RemoveListener(listener_id);
  batches_loop = nullptr;
  subscriptions.clear();
  while (running.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void ServerState::taskFailed(kj::Exception&& e) {
  if (e.getType() == kj::Exception::Type::DISCONNECTED) return;
  Log("warn", "connection_error", {{"error", e.getDescription().cStr()}});
}

void ServerState::Log(std::string_view level, std::string_view event,
                      std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  if (options.log) {
    options.log(FormatLogLine(level, event, fields));
  } else {
    LogLine(level, event, fields);
  }
}

void ServerState::Record(std::string_view method, Clock::time_point t0, const kj::Exception* error) {
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  auto it = stats.find(method);
  if (it == stats.end()) it = stats.emplace(std::string(method), MethodStats{}).first;
  MethodStats& s = it->second;
  ++s.calls;
  s.seconds += secs;
  size_t b = 0;
  while (b < kBucketCount && secs > kLatencyBuckets[b]) ++b;
  ++s.buckets[b];
  if (error) {
    ++s.errors;
    if (error->getType() == kj::Exception::Type::OVERLOADED) ++s.overloaded;
    Log("warn", "call_error",
        {{"method", std::string(method)},
         {"type", error->getType() == kj::Exception::Type::OVERLOADED ? "overloaded"
                  : error->getType() == kj::Exception::Type::DISCONNECTED ? "disconnected"
                                                                           : "failed"},
         {"error", error->getDescription().cStr()}});
  }
  if (secs * 1000 > options.slow_call_ms)
    Log("warn", "slow_call", {{"method", std::string(method)}, {"ms", std::to_string(static_cast<int64_t>(secs * 1000))}});
}

void ServerState::Enqueue(std::function<void()> task) { arena->enqueue(std::move(task)); }

void ServerState::OnBatch(Inbox& inbox, std::shared_ptr<const View> view, std::span<const int32_t> leaves) {
  std::lock_guard<std::mutex> lock(inbox.mu);
  if (inbox.closed) return;
  inbox.batches.push_back(Batch{std::move(view), std::vector<int32_t>(leaves.begin(), leaves.end())});
  if (inbox.wakeup) {
    inbox.wakeup->fulfill();
    inbox.wakeup = nullptr;
  }
}

kj::Promise<void> ServerState::BatchLoop() {
  auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
  {
    std::lock_guard<std::mutex> lock(inbox->mu);
    if (inbox->batches.empty()) {
      inbox->wakeup = kj::mv(paf.fulfiller);
    } else {
      paf.fulfiller->fulfill();
    }
  }
  return paf.promise.then([this]() {
    std::deque<Batch> ready;
    {
      std::lock_guard<std::mutex> lock(inbox->mu);
      ready.swap(inbox->batches);
    }
    for (const Batch& b : ready) Deliver(b);
    return BatchLoop();
  });
}

void ServerState::Deliver(const Batch& batch) {
  auto key = [](const View& v) { return std::make_pair(v.dataset_version(), v.version()); };
  if (!newest_delivered || key(*batch.view) > key(*newest_delivered)) newest_delivered = batch.view;
  const View& view = *newest_delivered;
  const Dataset& ds = view.dataset();
  // Listener leaves are leaf numbers of the batch's own dataset; another
  // dataset, or anything out of range, means "treat every watched node as
  // changed".
  bool all = batch.leaves.empty() || batch.view->dataset_version() != view.dataset_version();
  std::vector<int32_t> changed;
  for (int32_t leaf : batch.leaves) {
    if (leaf < 0 || static_cast<size_t>(leaf) >= ds.leaf_count()) {
      all = true;
      break;
    }
    changed.push_back(ds.leaf_nodes[leaf]);
  }
  std::sort(changed.begin(), changed.end());
  std::vector<uint64_t> to_push;
  for (auto& [id, sub] : subscriptions) {
    bool hit = all;
    for (size_t i = 0; i < sub.ids.size() && !hit; ++i) {
      auto n = view.Find(sub.ids[i]);
      if (!n) continue;
      auto it = std::lower_bound(changed.begin(), changed.end(), *n);
      hit = it != changed.end() && *it < ds.subtree_end[*n];
    }
    if (hit) to_push.push_back(id);
  }
  for (uint64_t id : to_push) Push(id, newest_delivered);
}

void ServerState::Push(uint64_t sub_id, std::shared_ptr<const View> view) {
  auto it = subscriptions.find(sub_id);
  if (it == subscriptions.end()) return;
  Subscription& sub = it->second;
  if (sub.sending) {
    sub.pending = std::move(view);  // coalesce: the client gets the latest state next
    return;
  }
  sub.sending = true;
  auto req = sub.callback.pushRequest();
  req.setVersion(view->version());
  std::vector<int32_t> nodes;
  for (const auto& id : sub.ids)
    if (auto n = view->Find(id)) nodes.push_back(*n);
  auto out = req.initNodes(static_cast<unsigned>(nodes.size()));
  for (size_t i = 0; i < nodes.size(); ++i) FillAggregate(out[static_cast<unsigned>(i)], *view, nodes[i]);
  tasks.add(req.send().then(
      [this, sub_id](auto&&) {
        auto it = subscriptions.find(sub_id);
        if (it == subscriptions.end()) return;
        it->second.sending = false;
        if (it->second.pending) {
          auto next = std::move(it->second.pending);
          it->second.pending = nullptr;
          Push(sub_id, std::move(next));
        }
      },
      [this, sub_id](kj::Exception&& e) {
        // A watcher that cannot take a push is dropped (it unsubscribed or went away).
        if (subscriptions.erase(sub_id))
          Log("warn", "push_failed", {{"subscription", std::to_string(sub_id)}, {"error", e.getDescription().cStr()}});
      }));
}

namespace {
// One accepted RPC connection.
struct Conn {
  Conn(kj::Own<kj::AsyncIoStream> s, capnp::Capability::Client boot, const capnp::ReaderOptions& opts)
      : stream(kj::mv(s)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, opts),
        rpc(capnp::makeRpcServer(network, kj::mv(boot))) {}
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
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
  conn->id = state_->next_conn_id++;
  return internal::NewGridTree(*state_, std::move(conn));
}

void Server::Accept(kj::Own<kj::AsyncIoStream> stream) {
  auto conn = kj::heap<internal::Conn>(kj::mv(stream), Bootstrap(), state_->reader_options);
  ++state_->connections_open;
  State* s = state_.get();
  auto disconnected = conn->network.onDisconnect();
  state_->tasks.add(disconnected.attach(kj::mv(conn), kj::defer([s] { --s->connections_open; })));
}

kj::Promise<void> Server::Listen(kj::ConnectionReceiver& listener) {
  return listener.accept().then([this, &listener](kj::Own<kj::AsyncIoStream> stream) {
    Accept(kj::mv(stream));
    return Listen(listener);
  });
}

kj::Promise<void> Server::Drain(kj::Duration timeout) {
  const kj::TimePoint deadline = state_->timer.now() + timeout;
  // Polls every 5 ms; the struct keeps the recursion alive.
  struct Loop {
    Server* server;
    kj::TimePoint deadline;
    kj::Promise<void> Next() {
      auto& st = *server->state_;
      if (st.in_flight == 0 || st.timer.now() >= deadline) return kj::READY_NOW;
      return st.timer.afterDelay(5 * kj::MILLISECONDS).then([this]() { return Next(); });
    }
  };
  auto l = kj::heap<Loop>(Loop{this, deadline});
  auto p = l->Next();
  return p.attach(kj::mv(l));
}

size_t Server::in_flight() const { return state_->in_flight; }

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
  for (const auto& [m, st] : s.stats) line("gridtree_calls_total", "method=\"" + m + "\"", static_cast<double>(st.calls));
  out += "# HELP gridtree_errors_total Calls that failed, by method.\n# TYPE gridtree_errors_total counter\n";
  for (const auto& [m, st] : s.stats) line("gridtree_errors_total", "method=\"" + m + "\"", static_cast<double>(st.errors));
  out += "# HELP gridtree_overloaded_total Calls refused as OVERLOADED, by method.\n# TYPE gridtree_overloaded_total counter\n";
  for (const auto& [m, st] : s.stats)
    line("gridtree_overloaded_total", "method=\"" + m + "\"", static_cast<double>(st.overloaded));
  out += "# HELP gridtree_call_seconds Call latency, by method.\n# TYPE gridtree_call_seconds histogram\n";
  for (const auto& [m, st] : s.stats) {
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
        static_cast<double>(s.points_located));
  gauge("gridtree_writer_refusals_total", "writer() calls with a wrong token.", "counter",
        static_cast<double>(s.writer_refusals));
  gauge("gridtree_dataset_version", "Dataset version (reloads).", "gauge", static_cast<double>(view->dataset_version()));
  gauge("gridtree_metric_version", "Metric version (applied update batches).", "gauge",
        static_cast<double>(view->version()));
  gauge("gridtree_nodes", "Nodes in the dataset.", "gauge", static_cast<double>(view->dataset().node_count()));
  gauge("gridtree_leaves", "Leaves in the dataset.", "gauge", static_cast<double>(view->dataset().leaf_count()));
  gauge("gridtree_index_memory_bytes", "Memory of the spatial index.", "gauge",
        static_cast<double>(view->spatial_index().stats().memory_bytes));
  gauge("gridtree_resident_memory_bytes", "Resident set size of the process.", "gauge",
        static_cast<double>(internal::ResidentBytes()));
  gauge("gridtree_connections_open", "Open RPC connections.", "gauge", static_cast<double>(s.connections_open));
  gauge("gridtree_calls_in_flight", "Calls in flight.", "gauge", static_cast<double>(s.in_flight));
  gauge("gridtree_queued_work", "Heavy calls queued or running on the worker arena.", "gauge",
        static_cast<double>(s.queued));
  gauge("gridtree_subscriptions", "Active watch subscriptions.", "gauge", static_cast<double>(s.subscriptions.size()));
  gauge("gridtree_uptime_seconds", "Seconds since the server started.", "gauge",
        std::chrono::duration<double>(internal::Clock::now() - s.started).count());
  return out;
}

}  // namespace gridtree::rpc

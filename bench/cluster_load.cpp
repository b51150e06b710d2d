// gridtree_cluster_load: the load generator of the cluster benchmark
// (bench/cluster.sh, docs/cluster.md). One subcommand per figure; each
// prints progress on stderr and one line "result mode=... key=value ..."
// on stdout for the script to read.
//
//   write     update batches or position reports through the replicas'
//             Writer (connection i to address i mod n, `depth` calls in
//             flight each), for a fixed time after a warm-up
//   publish   the same batches, encoded as the replicas encode them
//             (EncodeLogMessage), published straight to a JetStream stream
//             of its own with js_PublishAsync and the same number in flight:
//             the replicated log's own rate on the same servers (with
//             --consumers N, while N ordered consumers read that stream;
//             with --subject S --count N, N writes into the replicas' own
//             stream, to fill it before catch-up)
//   lag       under a paced background write load, a probe write to one
//             replica and, from its answer (position P), atPosition(P).info()
//             on the two others: how long until every replica shows it
//   failover  writers on every replica and a bare publisher to a stream of
//             its own with the same leader; SIGKILL of that nats-server; time
//             until each acknowledges a write again
//   catchup   polls a replica that has just started until it is ready and at
//             the stream's end: positions per second
//   read      the same stream read by a bare ordered consumer, nothing
//             applied: the baseline of catch-up
//
//   gridtree_cluster_load write --connect A,B,C --token-file T --image I.gtimg
//       --kind update --batch 100 --connections 3 --depth 4 --duration 6
#include <CLI/CLI.hpp>
#include <nats/nats.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/rpc/client.h"
#include "log_message.h"

namespace {

using gridtree::cluster::LogKind;
using Clock = std::chrono::steady_clock;
namespace proto = gridtree::proto;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
Clock::duration Seconds(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::vector<std::string> Split(const std::string& list) {
  std::vector<std::string> out;
  for (size_t at = 0; at <= list.size();) {
    const size_t comma = std::min(list.find(',', at), list.size());
    if (comma > at) out.push_back(list.substr(at, comma - at));
    at = comma + 1;
  }
  return out;
}

// CPU seconds this process used (user + system), for the result lines: the
// load generator shares the cores with the servers it measures.
double CpuSeconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

[[noreturn]] void Fail(const std::string& why) {
  std::cerr << "gridtree_cluster_load: " << why << "\n";
  std::exit(1);
}

std::string ReadToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  std::getline(in, token);
  if (token.empty()) Fail("token file " + path + " is missing or empty");
  return token;
}

// ---- The batches every mode sends ----

struct WorkloadOptions {
  std::string image;     // leaf ids and the city's box come from it
  std::string kind = "update";
  unsigned batch = 100;  // updates or reports per write
  unsigned objects = 100'000;
  unsigned distinct = 16;  // batches made, then sent in turn
  uint64_t seed = 1;
};

// `distinct` fixed-seed batches: update batches (add 1 to "population" of
// random leaves) or position reports (random objects to random points in
// the city's box; some fall outside every leaf, as boats at sea do).
struct Batches {
  LogKind kind = LogKind::kUpdate;
  unsigned items = 0;
  std::vector<gridtree::UpdateBatch> updates;
  std::vector<std::vector<gridtree::ObjectReport>> reports;
};

Batches MakeBatches(const WorkloadOptions& o) {
  if (o.kind != "update" && o.kind != "track") Fail("--kind " + o.kind + ": update or track");
  gridtree::EngineOptions eo;
  eo.threads = 1;
  auto engine = gridtree::Engine::Open(o.image, eo);
  if (!engine.ok()) Fail(o.image + ": " + engine.status().message());
  const auto view = engine.value()->Read();
  const gridtree::Dataset& ds = view->dataset();
  Batches b;
  b.kind = o.kind == "update" ? LogKind::kUpdate : LogKind::kTrack;
  b.items = o.batch;
  std::mt19937_64 rng(o.seed);
  if (b.kind == LogKind::kUpdate) {
    if (!ds.MetricIndex("population")) Fail(o.image + " has no metric \"population\"");
    for (unsigned k = 0; k < o.distinct; ++k) {
      gridtree::UpdateBatch batch;
      for (unsigned i = 0; i < o.batch; ++i) {
        const size_t leaf = rng() % ds.leaf_count();
        batch.updates.push_back({std::string(ds.ids[ds.leaf_nodes[leaf]]), "population",
                                 gridtree::MetricUpdate::Op::kAdd, 1});
      }
      b.updates.push_back(std::move(batch));
    }
    return b;
  }
  double west = 180, south = 90, east = -180, north = -90;
  for (size_t n = 0; n < ds.node_count(); ++n)
    if (ds.parents[n] < 0) {
      const auto& box = ds.node_bounds[n];
      west = std::min(west, box.min_x), south = std::min(south, box.min_y);
      east = std::max(east, box.max_x), north = std::max(north, box.max_y);
    }
  std::uniform_real_distribution<double> lon(west, east), lat(south, north);
  std::vector<std::string> ids(o.objects);
  for (unsigned i = 0; i < o.objects; ++i) ids[i] = "o" + std::to_string(i);
  for (unsigned k = 0; k < o.distinct; ++k) {
    std::vector<gridtree::ObjectReport> batch;
    for (unsigned i = 0; i < o.batch; ++i)
      batch.push_back({ids[rng() % o.objects], (i & 1) ? "boat" : "staff", lon(rng), lat(rng), 0});
    b.reports.push_back(std::move(batch));
  }
  return b;
}

// Writer.apply or Writer.track of batch i (mod the batches made); the
// answer's log position.
kj::Promise<uint64_t> SendBatch(proto::Writer::Client& writer, const Batches& b, size_t i) {
  if (b.kind == LogKind::kUpdate) {
    const auto& updates = b.updates[i % b.updates.size()].updates;
    auto req = writer.applyRequest();
    auto list = req.initUpdates(static_cast<unsigned>(updates.size()));
    for (size_t k = 0; k < updates.size(); ++k) {
      auto u = list[static_cast<unsigned>(k)];
      u.setLeaf(updates[k].leaf_id);
      u.setMetric(updates[k].metric);
      u.setOp(proto::MetricUpdate::Op::ADD);
      u.setValue(updates[k].value);
    }
    return req.send().then([](auto&& r) { return r.getPosition(); });
  }
  const auto& reports = b.reports[i % b.reports.size()];
  auto req = writer.trackRequest();
  auto list = req.initReports(static_cast<unsigned>(reports.size()));
  for (size_t k = 0; k < reports.size(); ++k) {
    auto r = list[static_cast<unsigned>(k)];
    r.setId(reports[k].id);
    r.setKind(reports[k].kind);
    r.setLon(reports[k].lon);
    r.setLat(reports[k].lat);
  }
  return req.send().then([](auto&& r) { return r.getPosition(); });
}

std::string EncodeBatch(const Batches& b, size_t i, uint64_t origin, uint64_t request) {
  gridtree::cluster::LogMessage m;
  m.kind = b.kind;
  m.origin = origin;
  m.request = request;
  m.time = static_cast<int64_t>(std::time(nullptr));
  if (b.kind == LogKind::kUpdate) m.updates = b.updates[i % b.updates.size()];
  else m.reports = b.reports[i % b.reports.size()];
  return gridtree::cluster::EncodeLogMessage(m);
}

proto::Writer::Client WriterOf(gridtree::rpc::Client& c, const std::string& token) {
  auto req = c.gridtree().writerRequest();
  req.setToken(token);
  return req.send().getWriter();
}

gridtree::rpc::ClientOptions WriterClientOptions() { return {uint64_t{256} << 20, 1}; }

// What one measured interval saw.
struct Tally {
  uint64_t writes = 0, errors = 0;
  std::vector<double> latency_ms;
  std::string first_error;
  void Add(const Tally& o) {
    writes += o.writes;
    errors += o.errors;
    latency_ms.insert(latency_ms.end(), o.latency_ms.begin(), o.latency_ms.end());
    if (first_error.empty()) first_error = o.first_error;
  }
};

void PrintThroughput(const char* mode, const Batches& b, double seconds, int in_flight, const Tally& t) {
  if (!t.first_error.empty()) std::cerr << "  first error: " << t.first_error << "\n";
  std::printf("result mode=%s kind=%s batch=%u in_flight=%d seconds=%.2f writes=%" PRIu64
              " writes_per_s=%.1f items_per_s=%.0f latency_p50_ms=%.2f latency_p99_ms=%.2f errors=%" PRIu64
              " cpu_s=%.2f\n",
              mode, b.kind == LogKind::kUpdate ? "update" : "track", b.items, in_flight, seconds, t.writes,
              static_cast<double>(t.writes) / seconds, static_cast<double>(t.writes) * b.items / seconds,
              Percentile(t.latency_ms, 0.5), Percentile(t.latency_ms, 0.99), t.errors, CpuSeconds());
  std::fflush(stdout);
}

// ---- write ----

struct WriteOptions {
  std::string connect, token_file;
  int connections = 3, depth = 4;
  double warmup_s = 1, duration_s = 6;
};

int RunWrite(const WriteOptions& o, const WorkloadOptions& w) {
  const Batches batches = MakeBatches(w);
  const std::string token = ReadToken(o.token_file);
  const std::vector<std::string> addresses = Split(o.connect);
  if (addresses.empty()) Fail("--connect: no address");
  const auto begin = Clock::now() + Seconds(o.warmup_s), end = begin + Seconds(o.duration_s);
  std::vector<Tally> tallies(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i)
    threads.emplace_back([&, i] {
      Tally& t = tallies[static_cast<size_t>(i)];
      gridtree::rpc::Client c(addresses[static_cast<size_t>(i) % addresses.size()], WriterClientOptions());
      auto writer = WriterOf(c, token);
      size_t next_batch = static_cast<size_t>(i) * 7;
      std::function<kj::Promise<void>()> next = [&]() -> kj::Promise<void> {
        if (Clock::now() >= end) return kj::READY_NOW;
        const auto sent = Clock::now();
        return SendBatch(writer, batches, next_batch++)
            .then(
                [&, sent](uint64_t) {
                  const auto now = Clock::now();
                  if (now >= begin && now < end) {
                    ++t.writes;
                    t.latency_ms.push_back(Ms(now - sent));
                  }
                  return next();
                },
                [&](kj::Exception&& e) {
                  ++t.errors;
                  if (t.first_error.empty()) t.first_error = e.getDescription().cStr();
                  return next();
                });
      };
      auto loops = kj::heapArrayBuilder<kj::Promise<void>>(static_cast<size_t>(o.depth));
      for (int d = 0; d < o.depth; ++d) loops.add(next());
      kj::joinPromises(loops.finish()).wait(c.wait_scope());
    });
  for (auto& t : threads) t.join();
  Tally all;
  for (const Tally& t : tallies) all.Add(t);
  PrintThroughput("write", batches, o.duration_s, o.connections * o.depth, all);
  return all.writes > 0 ? 0 : 1;
}

// ---- publish ----

std::string NatsError(natsStatus s) {
  std::string text = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last && *last) text += std::string(" (") + last + ")";
  return text;
}

struct Nats {
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  ~Nats() {
    if (js) jsCtx_Destroy(js);
    if (connection) natsConnection_Destroy(connection);
  }
};

void ConnectNats(Nats& n, const std::string& urls, jsOptions* jo) {
  natsOptions* opts = nullptr;
  const std::vector<std::string> list = Split(urls);
  std::vector<const char*> c;
  for (const std::string& s : list) c.push_back(s.c_str());
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetServers(opts, c.data(), static_cast<int>(c.size()));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 200);
  if (s == NATS_OK) s = natsConnection_Connect(&n.connection, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) Fail("NATS " + urls + ": " + NatsError(s));
  s = natsConnection_JetStream(&n.js, n.connection, jo);
  if (s != NATS_OK) Fail("JetStream context: " + NatsError(s));
}

struct PublishOptions {
  std::string nats, stream = "bare";
  int replicas = 3, in_flight = 12;
  double warmup_s = 1, duration_s = 6;
  // Publish into this subject of an existing stream instead (made neither
  // nor deleted), `count` writes: fills the replicas' own stream.
  std::string subject;
  uint64_t count = 0;
  // Readers of the stream while it is written (ordered consumers, as the
  // replicas read theirs): what delivering every write to each replica
  // costs JetStream, without applying it.
  int consumers = 0;
};

// Acks of the bare publisher, counted on the client's threads.
struct PublishState {
  Clock::time_point begin, end;
  std::mutex mu;
  std::condition_variable acked;
  int in_flight = 0;
  std::vector<Clock::time_point> sent;  // by request number mod size
  Tally tally;
};

void OnPublishAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto* st = static_cast<PublishState*>(closure);
  const auto now = Clock::now();
  const auto [origin, request] =
      gridtree::cluster::PeekOrigin({natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg))});
  (void)origin;
  std::lock_guard lock(st->mu);
  --st->in_flight;
  st->acked.notify_one();
  if (pa) {
    if (now >= st->begin && now < st->end) {
      ++st->tally.writes;
      st->tally.latency_ms.push_back(Ms(now - st->sent[request % st->sent.size()]));
    }
  } else {
    ++st->tally.errors;
    if (st->tally.first_error.empty())
      st->tally.first_error = pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : NATS_ERR);
  }
  natsMsg_Destroy(msg);
}

// Waits until fewer than `max` publishes are in flight and takes a slot, so
// that a latency counts from the publish (as the RPC writers' do), not from
// the wait for a slot inside js_PublishAsync.
void TakeSlot(PublishState& st, int max, uint64_t request) {
  std::unique_lock lock(st.mu);
  st.acked.wait(lock, [&] { return st.in_flight < max; });
  ++st.in_flight;
  st.sent[request % st.sent.size()] = Clock::now();
}

// `count` writes into an existing stream's subject, as fast as `in_flight` allows.
int Fill(Nats& n, PublishState& st, const PublishOptions& o, const Batches& batches) {
  st.begin = Clock::now();
  st.end = st.begin + std::chrono::hours(1);
  const uint64_t origin = 3;
  for (uint64_t request = 1; request <= o.count; ++request) {
    const std::string bytes = EncodeBatch(batches, request, origin, request);
    const std::string msg_id = "fill-" + std::to_string(request) + "-" + std::to_string(st.begin.time_since_epoch().count());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    po.MsgId = msg_id.c_str();
    TakeSlot(st, o.in_flight, request);
    if (natsStatus s = js_PublishAsync(n.js, o.subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), &po);
        s != NATS_OK)
      Fail("publishing to " + o.subject + ": " + NatsError(s));
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  js_PublishAsyncComplete(n.js, &po);
  std::lock_guard lock(st.mu);
  const double secs = std::chrono::duration<double>(Clock::now() - st.begin).count();
  PrintThroughput("fill", batches, secs, o.in_flight, st.tally);
  return st.tally.writes == o.count ? 0 : 1;
}

int RunPublish(const PublishOptions& o, const WorkloadOptions& w) {
  const Batches batches = MakeBatches(w);
  PublishState st;
  st.sent.resize(1 << 16);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 10000;
  jo.PublishAsync.MaxPending = o.in_flight;
  jo.PublishAsync.StallWait = 10000;
  jo.PublishAsync.AckHandler = &OnPublishAck;
  jo.PublishAsync.AckHandlerClosure = &st;
  Nats n;
  ConnectNats(n, o.nats, &jo);
  if (!o.subject.empty()) return Fill(n, st, o, batches);
  // A stream of its own, configured as the replicas configure theirs.
  const std::string subject = "bare." + o.stream;
  js_DeleteStream(n.js, o.stream.c_str(), nullptr, nullptr);
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subject.c_str()};
  cfg.Name = o.stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = o.replicas;
  cfg.Duplicates = int64_t{120} * 1'000'000'000;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus s = NATS_ERR;
  for (int attempt = 0; attempt < 60 && s != NATS_OK; ++attempt) {
    s = js_AddStream(&info, n.js, &cfg, nullptr, &code);
    if (s != NATS_OK) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (s != NATS_OK) Fail("cannot create stream " + o.stream + ": " + NatsError(s) + " [" + std::to_string(code) + "]");
  jsStreamInfo_Destroy(info);

  std::atomic<bool> stop_reading{false};
  std::atomic<uint64_t> consumed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < o.consumers; ++r)
    readers.emplace_back([&] {
      jsOptions ro;
      jsOptions_Init(&ro);
      Nats rn;
      ConnectNats(rn, o.nats, &ro);
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = o.stream.c_str();
      so.Ordered = true;
      natsSubscription* sub = nullptr;
      if (natsStatus rs = js_SubscribeSync(&sub, rn.js, subject.c_str(), nullptr, &so, nullptr); rs != NATS_OK)
        Fail("reader of " + o.stream + ": " + NatsError(rs));
      natsSubscription_SetPendingLimits(sub, -1, -1);
      while (!stop_reading) {
        natsMsg* msg = nullptr;
        if (natsSubscription_NextMsg(&msg, sub, 100) != NATS_OK) continue;
        ++consumed;
        natsMsg_Destroy(msg);
      }
      // Closed before the subscription goes: libnats 3.4.1 destroying an
      // ordered consumer that messages still arrive for crashes in
      // natsConn_processMsg.
      natsConnection_Close(rn.connection);
      natsSubscription_Destroy(sub);
    });

  st.begin = Clock::now() + Seconds(o.warmup_s);
  st.end = st.begin + Seconds(o.duration_s);
  uint64_t request = 0;
  while (Clock::now() < st.end) {
    ++request;
    // Encoded per write, as a replica encodes each write it takes.
    const std::string bytes = EncodeBatch(batches, request, 1, request);
    const std::string msg_id = "bare-" + std::to_string(request);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    po.MsgId = msg_id.c_str();
    TakeSlot(st, o.in_flight, request);
    s = js_PublishAsync(n.js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), &po);
    if (s != NATS_OK) {
      std::lock_guard lock(st.mu);
      --st.in_flight;
      ++st.tally.errors;
      if (st.tally.first_error.empty()) st.tally.first_error = NatsError(s);
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 20000;
  js_PublishAsyncComplete(n.js, &po);
  stop_reading = true;
  for (auto& t : readers) t.join();
  if (o.consumers > 0)
    std::cerr << "  " << o.consumers << " readers took " << consumed.load() << " of " << o.consumers * request
              << " deliveries by the end\n";
  std::lock_guard lock(st.mu);
  PrintThroughput(o.consumers > 0 ? "publish_read" : "publish", batches, o.duration_s, o.in_flight, st.tally);
  // The bare stream is not needed after its figure; its files would only
  // take the servers' disk and memory from the next measurement.
  js_DeleteStream(n.js, o.stream.c_str(), nullptr, nullptr);
  return st.tally.writes > 0 ? 0 : 1;
}

// ---- lag ----

struct LagOptions {
  std::string connect, token_file;
  double load_rate = 200;       // background writes per second, over all replicas
  double probe_interval_ms = 10;
  double duration_s = 10;
  uint32_t wait_ms = 5000;
};

int RunLag(const LagOptions& o, const WorkloadOptions& w) {
  const Batches batches = MakeBatches(w);
  const std::string token = ReadToken(o.token_file);
  const std::vector<std::string> addresses = Split(o.connect);
  if (addresses.size() < 2) Fail("lag: --connect needs two replicas or more");
  const size_t n = addresses.size();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> load_writes{0}, load_errors{0};

  // Background load: one paced writer per replica.
  std::vector<std::thread> load;
  const auto t0 = Clock::now();
  for (size_t i = 0; i < n; ++i)
    load.emplace_back([&, i] {
      gridtree::rpc::Client c(addresses[i], WriterClientOptions());
      auto writer = WriterOf(c, token);
      const auto interval = Seconds(static_cast<double>(n) / o.load_rate);
      auto at = t0 + Seconds(static_cast<double>(i) / o.load_rate);
      for (size_t k = i * 5; !stop; ++k) {
        std::this_thread::sleep_until(at);
        at += interval;
        try {
          SendBatch(writer, batches, k).wait(c.wait_scope());
          ++load_writes;
        } catch (const kj::Exception&) {
          ++load_errors;
        }
        if (Clock::now() > at) at = Clock::now();  // behind: do not burst to catch up
      }
    });

  std::vector<std::unique_ptr<gridtree::rpc::Client>> clients;
  std::vector<proto::Writer::Client> writers;
  for (const std::string& a : addresses) {
    clients.push_back(std::make_unique<gridtree::rpc::Client>(a, WriterClientOptions()));
    writers.push_back(WriterOf(*clients.back(), token));
  }
  auto& ws = clients[0]->wait_scope();  // one event loop per thread: every client shares it
  std::vector<double> lag_all_ms, lag_one_ms, info_ms, ack_ms;
  uint64_t probes = 0, failures = 0, behind = 0;
  std::string first_error;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the load settles
  const auto end = Clock::now() + Seconds(o.duration_s);
  auto next_probe = Clock::now();
  for (size_t k = 0; Clock::now() < end; ++k) {
    std::this_thread::sleep_until(next_probe);
    next_probe += Seconds(o.probe_interval_ms / 1000);
    const size_t a = k % n;
    try {
      const auto sent = Clock::now();
      const uint64_t position = SendBatch(writers[a], batches, 1000 + k).wait(ws);
      const auto acked = Clock::now();
      ack_ms.push_back(Ms(acked - sent));
      // Every other replica, from the answer on.
      std::vector<Clock::time_point> applied(n, acked);
      auto waits = kj::heapArrayBuilder<kj::Promise<void>>(n - 1);
      for (size_t b = 0; b < n; ++b) {
        if (b == a) continue;
        auto req = clients[b]->gridtree().atPositionRequest();
        req.setPosition(position);
        req.setTimeoutMs(o.wait_ms);
        waits.add(req.send().getGridtree().infoRequest().send().then([&, b, position](auto&& r) {
          applied[b] = Clock::now();
          if (r.getInfo().getPosition() < position) ++behind;
        }));
      }
      kj::joinPromises(waits.finish()).wait(ws);
      double worst = 0;
      for (size_t b = 0; b < n; ++b)
        if (b != a) {
          lag_one_ms.push_back(Ms(applied[b] - acked));
          worst = std::max(worst, lag_one_ms.back());
        }
      lag_all_ms.push_back(worst);
      // The floor under the same load: a plain info() on the same replicas.
      const auto asked = Clock::now();
      auto infos = kj::heapArrayBuilder<kj::Promise<void>>(n - 1);
      for (size_t b = 0; b < n; ++b)
        if (b != a) infos.add(clients[b]->gridtree().infoRequest().send().ignoreResult());
      kj::joinPromises(infos.finish()).wait(ws);
      info_ms.push_back(Ms(Clock::now() - asked));
      ++probes;
    } catch (const kj::Exception& e) {
      ++failures;
      if (first_error.empty()) first_error = e.getDescription().cStr();
    }
    if (Clock::now() > next_probe) next_probe = Clock::now();
  }
  stop = true;
  for (auto& t : load) t.join();
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!first_error.empty()) std::cerr << "  first error: " << first_error << "\n";
  std::printf("result mode=lag probes=%" PRIu64 " failures=%" PRIu64 " behind=%" PRIu64
              " lag_p50_ms=%.2f lag_p99_ms=%.2f lag_max_ms=%.2f replica_lag_p50_ms=%.2f replica_lag_p99_ms=%.2f"
              " info_p50_ms=%.2f info_p99_ms=%.2f ack_p50_ms=%.2f ack_p99_ms=%.2f load_writes_per_s=%.1f"
              " load_items_per_s=%.0f load_errors=%" PRIu64 " cpu_s=%.2f\n",
              probes, failures, behind, Percentile(lag_all_ms, 0.5), Percentile(lag_all_ms, 0.99),
              Percentile(lag_all_ms, 1.0), Percentile(lag_one_ms, 0.5), Percentile(lag_one_ms, 0.99),
              Percentile(info_ms, 0.5), Percentile(info_ms, 0.99), Percentile(ack_ms, 0.5), Percentile(ack_ms, 0.99),
              static_cast<double>(load_writes.load()) / load_s,
              static_cast<double>(load_writes.load()) * batches.items / load_s, load_errors.load(), CpuSeconds());
  std::fflush(stdout);
  return probes > 0 ? 0 : 1;
}

// ---- failover ----

struct FailoverOptions {
  std::string connect, token_file, nats, stream = "grid", bare_stream = "bare";
  std::string target = "leader";  // the server killed: the stream's leader, or a server_name
  std::string pids;        // NAME=PID of each nats-server, comma-separated
  double interval_ms = 5;  // between one writer's writes
  double publish_timeout_ms = 2000;  // the bare publisher's; keep it the replicas' --publish-timeout-ms
  double warmup_s = 2, settle_s = 1, give_up_s = 60;
};

// The stream's Raft leader (a nats-server's name), "" when none is known.
std::string StreamLeader(Nats& n, const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  if (js_GetStreamInfo(&info, n.js, stream.c_str(), nullptr, &code) != NATS_OK) return "";
  std::string leader = info->Cluster && info->Cluster->Leader ? info->Cluster->Leader : "";
  jsStreamInfo_Destroy(info);
  return leader;
}

// Where the stream's consumers (each replica reads through one) are led:
// "n0:1,n1:2".
std::string ConsumerPlaces(Nats& n, const std::string& stream) {
  jsConsumerInfoList* list = nullptr;
  if (js_Consumers(&list, n.js, stream.c_str(), nullptr, nullptr) != NATS_OK || !list) return "unknown";
  std::map<std::string, int> places;
  for (int i = 0; i < list->Count; ++i) {
    const jsConsumerInfo* c = list->List[i];
    ++places[c->Cluster && c->Cluster->Leader ? c->Cluster->Leader : "none"];
  }
  jsConsumerInfoList_Destroy(list);
  std::string out;
  for (const auto& [server, count] : places) out += (out.empty() ? "" : ",") + server + ":" + std::to_string(count);
  return out;
}

// Creates `stream` (3 copies) and asks its leader to step down until the
// leader is `leader`, so that one SIGKILL takes the leaders of both.
bool MakeStreamLedBy(Nats& n, const std::string& stream, const std::string& leader) {
  js_DeleteStream(n.js, stream.c_str(), nullptr, nullptr);
  const std::string subject = "bare." + stream;
  const char* subjects[] = {subject.c_str()};
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = stream.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = 3;
  cfg.Duplicates = int64_t{120} * 1'000'000'000;
  jsStreamInfo* info = nullptr;
  if (js_AddStream(&info, n.js, &cfg, nullptr, nullptr) != NATS_OK) return false;
  jsStreamInfo_Destroy(info);
  const std::string stepdown = "$JS.API.STREAM.LEADER.STEPDOWN." + stream;
  for (int attempt = 0; attempt < 40; ++attempt) {
    const std::string now = StreamLeader(n, stream);
    if (now == leader) return true;
    if (!now.empty()) {
      natsMsg* reply = nullptr;
      if (natsConnection_RequestString(&reply, n.connection, stepdown.c_str(), "", 2000) == NATS_OK)
        natsMsg_Destroy(reply);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return false;
}

struct WriteRecord {
  Clock::time_point sent, answered;
  bool ok = false;
  std::string error;
};

// How one writer came through the kill.
struct Recovery {
  double first_ack_ms = -1;  // the first write sent after the kill and acknowledged
  double any_ack_ms = -1;    // the first acknowledgement after the kill, of any write
  double gap_ms = 0;         // the longest time without an acknowledgement around the kill
  std::map<std::string, int> refusals;  // after the kill, by kind
};

std::string RefusalKind(const std::string& error) {
  if (error.find("not acknowledged") != std::string::npos || error.find("Timeout") != std::string::npos)
    return "timeout";
  if (error.find("no JetStream server took") != std::string::npos || error.find("No responders") != std::string::npos)
    return "no_responders";
  if (error.find("not known") != std::string::npos) return "unknown";
  return "other";
}

Recovery Analyze(const std::vector<WriteRecord>& records, Clock::time_point killed_at, const std::string& who) {
  Recovery r;
  auto last_ok = killed_at;
  bool seen_ok = false;
  for (const WriteRecord& w : records) {
    if (w.answered < killed_at) {
      if (w.ok) last_ok = w.answered, seen_ok = true;
      continue;
    }
    if (!w.ok) {
      const std::string kind = RefusalKind(w.error);
      if (r.refusals[kind]++ == 0) std::cerr << "  " << who << ", first refusal (" << kind << "): " << w.error << "\n";
      continue;
    }
    if (r.any_ack_ms < 0) r.any_ack_ms = Ms(w.answered - killed_at);
    if (r.first_ack_ms < 0 && w.sent >= killed_at) r.first_ack_ms = Ms(w.answered - killed_at);
    if (seen_ok) r.gap_ms = std::max(r.gap_ms, Ms(w.answered - last_ok));
    last_ok = w.answered, seen_ok = true;
  }
  return r;
}

std::string Describe(const std::string& prefix, const Recovery& r) {
  char buf[160];
  std::snprintf(buf, sizeof buf, " %s_first_ack_ms=%.0f %s_any_ack_ms=%.0f %s_gap_ms=%.0f", prefix.c_str(),
                r.first_ack_ms, prefix.c_str(), r.any_ack_ms, prefix.c_str(), r.gap_ms);
  std::string out = buf;
  for (const auto& [kind, count] : r.refusals) out += " " + prefix + "_" + kind + "=" + std::to_string(count);
  return out;
}

int RunFailover(const FailoverOptions& o, const WorkloadOptions& w) {
  const Batches batches = MakeBatches(w);
  const std::string token = ReadToken(o.token_file);
  const std::vector<std::string> addresses = Split(o.connect);
  std::map<std::string, pid_t> pids;
  for (const std::string& entry : Split(o.pids)) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos) Fail("--pids " + o.pids + ": NAME=PID,...");
    pids[entry.substr(0, eq)] = static_cast<pid_t>(std::stol(entry.substr(eq + 1)));
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  Nats n;
  ConnectNats(n, o.nats, &jo);
  std::string leader;
  for (int attempt = 0; attempt < 50 && leader.empty(); ++attempt) {
    leader = StreamLeader(n, o.stream);
    if (leader.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (leader.empty() || !pids.count(leader)) Fail("no leader of stream " + o.stream + " among --pids (\"" + leader + "\")");
  const std::string victim = o.target == "leader" ? leader : o.target;
  if (!pids.count(victim)) Fail("--target " + o.target + " is not among --pids");
  // The baseline: a bare publisher to a stream of its own led by the same
  // server, one synchronous publish at a time, paced as the writers are.
  const bool baseline = MakeStreamLedBy(n, o.bare_stream, victim);
  if (!baseline) std::cerr << "  stream " << o.bare_stream << " could not be led by " << victim << "; no baseline\n";

  const size_t writers_n = addresses.size() + (baseline ? 1 : 0);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> kill_ticks{0};
  std::vector<std::vector<WriteRecord>> records(writers_n);
  std::vector<std::atomic<bool>> recovered(writers_n);
  // Paced writes, one at a time; `write(k)` says why one failed ("" when it was acknowledged).
  auto pace = [&](size_t i, const std::function<std::string(size_t)>& write) {
    auto at = Clock::now();
    for (size_t k = i * 3; !stop; ++k) {
      std::this_thread::sleep_until(at);
      at += Seconds(o.interval_ms / 1000);
      WriteRecord r;
      r.sent = Clock::now();
      r.error = write(k);
      r.ok = r.error.empty();
      r.answered = Clock::now();
      const int64_t killed = kill_ticks.load();
      if (r.ok && killed && r.sent.time_since_epoch().count() >= killed) recovered[i] = true;
      records[i].push_back(std::move(r));
      if (Clock::now() > at) at = Clock::now();
    }
  };
  std::vector<std::thread> writers;
  for (size_t i = 0; i < addresses.size(); ++i)
    writers.emplace_back([&, i] {
      gridtree::rpc::Client c(addresses[i], WriterClientOptions());
      auto writer = WriterOf(c, token);
      pace(i, [&](size_t k) -> std::string {
        try {
          SendBatch(writer, batches, k).wait(c.wait_scope());
          return "";
        } catch (const kj::Exception& e) {
          return e.getDescription().cStr();
        }
      });
    });
  if (baseline)
    writers.emplace_back([&] {
      jsOptions bo;
      jsOptions_Init(&bo);
      bo.Wait = static_cast<int64_t>(o.publish_timeout_ms);
      Nats b;
      ConnectNats(b, o.nats, &bo);
      const std::string subject = "bare." + o.bare_stream;
      pace(writers_n - 1, [&](size_t k) -> std::string {
        const std::string bytes = EncodeBatch(batches, k, 2, k + 1);
        const std::string msg_id = "failover-" + std::to_string(k);
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = static_cast<int64_t>(o.publish_timeout_ms);
        po.MsgId = msg_id.c_str();
        jsPubAck* ack = nullptr;
        jsErrCode code = static_cast<jsErrCode>(0);
        const natsStatus s = js_Publish(&ack, b.js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), &po, &code);
        if (ack) jsPubAck_Destroy(ack);
        return s == NATS_OK ? "" : NatsError(s);
      });
    });

  std::this_thread::sleep_for(Seconds(o.warmup_s));
  const std::string consumers = ConsumerPlaces(n, o.stream);
  std::cerr << "  stream " << o.stream << " led by " << leader << (baseline ? ", " + o.bare_stream + " by " + victim : "")
            << "; the replicas' consumers led by " << consumers << "; SIGKILL of " << victim << " (pid " << pids[victim]
            << ")\n";
  const auto killed_at = Clock::now();
  kill_ticks = killed_at.time_since_epoch().count();
  ::kill(pids[victim], SIGKILL);
  // When JetStream names a new leader of the stream (asked every 50 ms
  // over a connection of its own).
  std::atomic<double> elected_ms{-1};
  std::thread election([&] {
    jsOptions eo;
    jsOptions_Init(&eo);
    eo.Wait = 500;
    Nats e;
    ConnectNats(e, o.nats, &eo);
    while (!stop && elected_ms < 0) {
      const std::string now = StreamLeader(e, o.stream);
      if (!now.empty() && now != victim) elected_ms = Ms(Clock::now() - killed_at);
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  const auto give_up = killed_at + Seconds(o.give_up_s);
  auto all_recovered = [&] {
    for (auto& r : recovered)
      if (!r) return false;
    return true;
  };
  while (!all_recovered() && Clock::now() < give_up) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::this_thread::sleep_for(Seconds(o.settle_s));
  stop = true;
  for (auto& t : writers) t.join();
  election.join();
  std::string new_leader;
  for (int attempt = 0; attempt < 50 && new_leader.empty(); ++attempt) {
    new_leader = StreamLeader(n, o.stream);
    if (new_leader.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (baseline) js_DeleteStream(n.js, o.bare_stream.c_str(), nullptr, nullptr);

  std::vector<double> first;
  std::string fields;
  for (size_t i = 0; i < addresses.size(); ++i) {
    const Recovery r = Analyze(records[i], killed_at, "replica " + std::to_string(i));
    if (r.first_ack_ms >= 0) first.push_back(r.first_ack_ms);
    fields += Describe("r" + std::to_string(i), r);
  }
  double bare_first = -1;
  if (baseline) {
    const Recovery r = Analyze(records.back(), killed_at, "bare publisher");
    bare_first = r.first_ack_ms;
    fields += Describe("bare", r);
  }
  std::sort(first.begin(), first.end());
  std::printf("result mode=failover killed=%s leader=%s consumers=%s new_leader=%s leader_elected_ms=%.0f"
              " recovered=%zu/%zu first_ack_min_ms=%.0f first_ack_max_ms=%.0f bare_first_ack_ms=%.0f%s cpu_s=%.2f\n",
              victim.c_str(), leader.c_str(), consumers.c_str(), new_leader.empty() ? "none" : new_leader.c_str(),
              elected_ms.load(), first.size(), addresses.size(), first.empty() ? -1.0 : first.front(),
              first.empty() ? -1.0 : first.back(), bare_first, fields.c_str(), CpuSeconds());
  std::fflush(stdout);
  return first.size() == addresses.size() ? 0 : 1;
}

// ---- catchup and read ----

// When a reader first stood at or past each boundary position: the rate
// of each stretch of the stream (the script names what each holds).
class Segments {
 public:
  Segments(std::vector<uint64_t> bounds, uint64_t from, Clock::time_point at)
      : bounds_(std::move(bounds)), reached_(bounds_.size()), from_(from), at_(at) {}
  void Saw(uint64_t position, Clock::time_point now) {
    for (size_t i = 0; i < bounds_.size(); ++i)
      if (position >= bounds_[i] && reached_[i] == Clock::time_point{}) reached_[i] = now;
  }
  // positions/s of each stretch, comma-separated.
  std::string Rates() const {
    std::string out;
    uint64_t from = from_;
    Clock::time_point at = at_;
    for (size_t i = 0; i < bounds_.size(); ++i) {
      const double s = std::chrono::duration<double>(reached_[i] - at).count();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", bounds_[i] > from && s > 0 ? static_cast<double>(bounds_[i] - from) / s : 0.0);
      out += (out.empty() ? "" : ",") + std::string(buf);
      from = std::max(from, bounds_[i]);
      at = reached_[i];
    }
    return out;
  }

 private:
  std::vector<uint64_t> bounds_;
  std::vector<Clock::time_point> reached_;
  uint64_t from_;
  Clock::time_point at_;
};

std::vector<uint64_t> Positions(const std::string& list, uint64_t end) {
  std::vector<uint64_t> out;
  for (const std::string& p : Split(list)) out.push_back(std::stoull(p));
  out.push_back(end);
  return out;
}

struct CatchupOptions {
  std::string connect, compare, segments;
  uint64_t end = 0;              // the stream's last position
  int64_t launched_unix_ns = 0;  // when the replica was started (date +%s%N)
  double give_up_s = 120;
};

struct Seen {
  uint64_t position = 0, digest = 0, digest_position = 0, version = 0, objects_version = 0;
  bool ready = false;
};

Seen InfoOf(gridtree::rpc::Client& c) {
  auto info = c.gridtree().infoRequest().send().wait(c.wait_scope()).getInfo();
  return {info.getPosition(), info.getDigest(), info.getDigestPosition(), info.getVersion(),
          info.getObjectsVersion(), info.getReady()};
}

int RunCatchup(const CatchupOptions& o) {
  const auto wall_now = std::chrono::system_clock::now().time_since_epoch();
  const auto launched =
      Clock::now() - (wall_now - std::chrono::nanoseconds(o.launched_unix_ns ? o.launched_unix_ns : wall_now.count()));
  const auto give_up = Clock::now() + Seconds(o.give_up_s);
  std::unique_ptr<gridtree::rpc::Client> c;
  Seen first;
  Clock::time_point first_at;
  while (!c) {
    if (Clock::now() > give_up) Fail("catchup: " + o.connect + " did not answer");
    try {
      auto client = std::make_unique<gridtree::rpc::Client>(o.connect);
      first = InfoOf(*client);
      first_at = Clock::now();
      c = std::move(client);
    } catch (const kj::Exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::cerr << "  answering " << Ms(first_at - launched) << " ms after launch, at position " << first.position << "\n";
  Segments segments(Positions(o.segments, o.end), first.position, first_at);
  Seen last = first;
  auto last_print = first_at;
  while (!(last.ready && last.position >= o.end)) {
    if (Clock::now() > give_up) Fail("catchup: not at position " + std::to_string(o.end) + " in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    last = InfoOf(*c);
    segments.Saw(last.position, Clock::now());
    if (Clock::now() - last_print > std::chrono::seconds(2)) {
      std::cerr << "  position " << last.position << " of " << o.end << "\n";
      last_print = Clock::now();
    }
  }
  const auto done = Clock::now();
  // The digests of the new replica and of one that was there all along,
  // at one position (each computes its own within a second when idle).
  int digest_equal = -1;
  if (!o.compare.empty()) {
    gridtree::rpc::Client other(o.compare);
    for (auto stop = Clock::now() + std::chrono::seconds(10); Clock::now() < stop && digest_equal < 0;) {
      const Seen a = InfoOf(*c), b = InfoOf(other);
      if (a.digest && a.digest_position == a.position && b.digest_position == a.position && b.position == a.position)
        digest_equal = a.digest == b.digest ? 1 : 0;
      else
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const double replay_s = std::chrono::duration<double>(done - first_at).count();
  const double total_s = std::chrono::duration<double>(done - launched).count();
  std::printf("result mode=catchup end=%" PRIu64 " first_position=%" PRIu64 " answer_after_ms=%.0f ready_after_ms=%.0f"
              " positions_per_s=%.0f positions_per_s_from_launch=%.0f segment_positions_per_s=%s"
              " update_batches=%" PRIu64 " report_batches=%" PRIu64 " digest_equal=%d cpu_s=%.2f\n",
              o.end, first.position, Ms(first_at - launched), Ms(done - launched),
              replay_s > 0 ? static_cast<double>(last.position - first.position) / replay_s : 0.0,
              static_cast<double>(last.position) / total_s, segments.Rates().c_str(), last.version,
              last.objects_version, digest_equal, CpuSeconds());
  std::fflush(stdout);
  return digest_equal == 0 ? 1 : 0;
}

struct ReadOptions {
  std::string nats, stream = "grid", segments;
  uint64_t end = 0;
};

// The baseline of catch-up: the stream read from its start by the kind of
// consumer a replica uses (ordered, synchronous), nothing applied.
int RunRead(const ReadOptions& o) {
  jsOptions jo;
  jsOptions_Init(&jo);
  Nats n;
  ConnectNats(n, o.nats, &jo);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = o.stream.c_str();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = 1;
  natsSubscription* sub = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subject = "gridtree." + o.stream;
  const auto t0 = Clock::now();
  natsStatus s = js_SubscribeSync(&sub, n.js, subject.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) Fail("cannot read stream " + o.stream + ": " + NatsError(s));
  natsSubscription_SetPendingLimits(sub, -1, -1);
  uint64_t end = o.end;
  if (end == 0) {  // the stream's last position now
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, n.js, o.stream.c_str(), nullptr, nullptr) != NATS_OK) Fail("stream " + o.stream + ": no info");
    end = info->State.LastSeq;
    jsStreamInfo_Destroy(info);
  }
  Segments segments(Positions(o.segments, end), 0, t0);
  uint64_t position = 0, bytes = 0;
  while (position < end) {
    natsMsg* msg = nullptr;
    s = natsSubscription_NextMsg(&msg, sub, 10000);
    if (s != NATS_OK) Fail("reading stream " + o.stream + " at position " + std::to_string(position) + ": " + NatsError(s));
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      position = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
    }
    bytes += static_cast<uint64_t>(natsMsg_GetDataLength(msg));
    natsMsg_Destroy(msg);
    segments.Saw(position, Clock::now());
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  natsConnection_Close(n.connection);  // first: see the readers in RunPublish
  natsSubscription_Destroy(sub);
  std::printf("result mode=read end=%" PRIu64 " seconds=%.2f positions_per_s=%.0f mb_per_s=%.1f"
              " segment_positions_per_s=%s cpu_s=%.2f\n",
              end, secs, static_cast<double>(end) / secs, static_cast<double>(bytes) / secs / 1e6,
              segments.Rates().c_str(), CpuSeconds());
  std::fflush(stdout);
  return 0;
}

void AddWorkloadOptions(CLI::App* cmd, WorkloadOptions& w) {
  cmd->add_option("--image", w.image, "Engine image the replicas serve (leaf ids, the city's box)")->required();
  cmd->add_option("--kind", w.kind, "update (Writer.apply) or track (Writer.track)")->capture_default_str();
  cmd->add_option("--batch", w.batch, "Updates or reports per write")->capture_default_str();
  cmd->add_option("--objects", w.objects, "Tracked objects the reports move")->capture_default_str();
  cmd->add_option("--seed", w.seed, "Random seed")->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Load generator of the cluster benchmark (bench/cluster.sh)"};
  app.require_subcommand(1);
  WorkloadOptions workload;

  WriteOptions wo;
  auto* write = app.add_subcommand("write", "Writes through the replicas' RPC");
  write->add_option("--connect", wo.connect, "Replica addresses, comma-separated")->required();
  write->add_option("--token-file", wo.token_file, "File holding the writer token")->required();
  write->add_option("--connections", wo.connections, "Connections (threads), spread over the addresses")
      ->capture_default_str();
  write->add_option("--depth", wo.depth, "Writes in flight per connection")->capture_default_str();
  write->add_option("--warmup", wo.warmup_s, "Seconds before measuring")->capture_default_str();
  write->add_option("--duration", wo.duration_s, "Seconds measured")->capture_default_str();
  AddWorkloadOptions(write, workload);

  PublishOptions po;
  auto* publish = app.add_subcommand("publish", "The same bytes straight to a JetStream stream");
  publish->add_option("--nats", po.nats, "NATS servers, nats://H:P,...")->required();
  publish->add_option("--stream", po.stream, "Stream to create (deleted first and after)")->capture_default_str();
  publish->add_option("--replicas", po.replicas, "Copies of the stream")->capture_default_str();
  publish->add_option("--in-flight", po.in_flight, "Publishes in flight (PublishAsync.MaxPending)")->capture_default_str();
  publish->add_option("--warmup", po.warmup_s, "Seconds before measuring")->capture_default_str();
  publish->add_option("--duration", po.duration_s, "Seconds measured")->capture_default_str();
  publish->add_option("--subject", po.subject,
                      "Publish into this subject of an existing stream instead (e.g. gridtree.grid), --count writes")
      ->needs(publish->add_option("--count", po.count, "Writes to publish with --subject"));
  publish->add_option("--consumers", po.consumers, "Ordered consumers reading the stream meanwhile")
      ->capture_default_str();
  AddWorkloadOptions(publish, workload);

  LagOptions lo;
  auto* lag = app.add_subcommand("lag", "From a write's answer to applied on every other replica");
  lag->add_option("--connect", lo.connect, "Replica addresses, comma-separated")->required();
  lag->add_option("--token-file", lo.token_file, "File holding the writer token")->required();
  lag->add_option("--load-rate", lo.load_rate, "Background writes per second over all replicas")->capture_default_str();
  lag->add_option("--probe-interval-ms", lo.probe_interval_ms, "Between probe writes")->capture_default_str();
  lag->add_option("--duration", lo.duration_s, "Seconds of probing")->capture_default_str();
  AddWorkloadOptions(lag, workload);

  FailoverOptions fo;
  auto* failover = app.add_subcommand("failover", "SIGKILL of the stream's leader nats-server under writes");
  failover->add_option("--connect", fo.connect, "Replica addresses, comma-separated")->required();
  failover->add_option("--token-file", fo.token_file, "File holding the writer token")->required();
  failover->add_option("--nats", fo.nats, "NATS servers, nats://H:P,...")->required();
  failover->add_option("--stream", fo.stream, "The replicas' stream")->capture_default_str();
  failover->add_option("--pids", fo.pids, "NAME=PID of each nats-server (its server_name)")->required();
  failover->add_option("--target", fo.target, "The server killed: leader (the stream's), or a server_name")
      ->capture_default_str();
  failover->add_option("--interval-ms", fo.interval_ms, "Between one writer's writes")->capture_default_str();
  failover->add_option("--warmup", fo.warmup_s, "Seconds of writes before the kill")->capture_default_str();
  failover->add_option("--bare-stream", fo.bare_stream, "The baseline publisher's stream (made, deleted after)")
      ->capture_default_str();
  failover->add_option("--publish-timeout-ms", fo.publish_timeout_ms,
                       "The baseline publisher's wait for an ack (the replicas' --publish-timeout-ms)")
      ->capture_default_str();
  AddWorkloadOptions(failover, workload);

  CatchupOptions co;
  auto* catchup = app.add_subcommand("catchup", "A replica that just started, until it is at the stream's end");
  catchup->add_option("--connect", co.connect, "The new replica's address")->required();
  catchup->add_option("--end", co.end, "The stream's last position")->required();
  catchup->add_option("--launched-ns", co.launched_unix_ns, "When it was started, unix nanoseconds");
  catchup->add_option("--compare", co.compare, "A replica to compare digests with");
  catchup->add_option("--segments", co.segments, "Positions that end stretches of the stream, comma-separated");
  catchup->add_option("--give-up", co.give_up_s, "Seconds")->capture_default_str();

  ReadOptions ro;
  auto* read = app.add_subcommand("read", "The stream read from its start with an ordered consumer, nothing applied");
  read->add_option("--nats", ro.nats, "NATS servers, nats://H:P,...")->required();
  read->add_option("--stream", ro.stream, "The replicas' stream")->capture_default_str();
  read->add_option("--end", ro.end, "Read up to this position (0: the stream's last now)")->capture_default_str();
  read->add_option("--segments", ro.segments, "Positions that end stretches of the stream, comma-separated");

  CLI11_PARSE(app, argc, argv);
  if (*write) return RunWrite(wo, workload);
  if (*publish) return RunPublish(po, workload);
  if (*lag) return RunLag(lo, workload);
  if (*failover) return RunFailover(fo, workload);
  if (*read) return RunRead(ro);
  return RunCatchup(co);
}

// gridtree_rpc_load: a load generator for `gridtree serve`. N connections,
// each a thread with its own event loop keeping `depth` calls in flight, for
// a fixed duration, with a weighted mix of requests. Prints calls/s and
// latency percentiles per request kind (or a JSON report with --json).
//
//   gridtree_rpc_load --connect 127.0.0.1:7433 --connections 4 --depth 8
//       --duration 10 --mix locate=70,batch=10,aggregate=15,circle=5 --batch-size 1000
//
// With --workload W.json it replays a workload file instead (a fixed request
// sequence, docs/workloads.md) and reports per-kind latencies and the answer
// checksum that gridtree_replay computes in process for the same file:
//
//   gridtree_rpc_load --connect 127.0.0.1:7433 --workload bench/workloads/jiangmen-mixed.json
//       --connections 2 --depth 4 --report rpc.json
#include <CLI/CLI.hpp>
#include <kj/debug.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gridtree/rpc/client.h"
#include "replay/run_rpc.h"

namespace {

using Clock = std::chrono::steady_clock;
enum Kind { kLocate, kBatch, kAggregate, kCircle, kKinds };
const char* const kKindNames[kKinds] = {"locate", "batch", "aggregate", "circle"};

struct Config {
  std::string connect = "127.0.0.1:7433";
  int connections = 4;
  int depth = 8;
  double duration_s = 10;
  std::string mix = "locate=70,batch=10,aggregate=15,circle=5";
  unsigned batch_size = 1000;
  double radius_m = 2000;
  uint64_t seed = 1;
  bool json = false;
  uint64_t max_message_bytes = uint64_t{64} << 20;
  std::string workload;  // replay this file instead of the timed mix
  std::string report;    // with workload: write the JSON report here
  bool quiet = false;
};

struct Tally {
  std::vector<double> latency_us[kKinds];
  uint64_t errors[kKinds] = {};
  uint64_t overloaded[kKinds] = {};
  uint64_t points = 0;
};

struct Shared {
  double west, south, east, north;
  std::vector<std::string> ids;  // node ids to aggregate
};

class Connection {
 public:
  Connection(const Config& cfg, const Shared& shared, const int weights[kKinds], uint64_t seed)
      : cfg_(cfg), shared_(shared), client_(cfg.connect, gridtree::rpc::ClientOptions{cfg.max_message_bytes, 1}), rng_(seed) {
    int total = 0;
    for (int k = 0; k < kKinds; ++k) cumulative_[k] = total += weights[k];
  }

  Tally Run() {
    deadline_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg_.duration_s));
    auto loops = kj::heapArrayBuilder<kj::Promise<void>>(cfg_.depth);
    for (int i = 0; i < cfg_.depth; ++i) loops.add(Next());
    kj::joinPromises(loops.finish()).wait(client_.wait_scope());
    return std::move(tally_);
  }

 private:
  Kind Pick() {
    const int r = std::uniform_int_distribution<int>(0, cumulative_[kKinds - 1] - 1)(rng_);
    for (int k = 0; k < kKinds; ++k)
      if (r < cumulative_[k]) return static_cast<Kind>(k);
    return kLocate;
  }
  double Lon() { return std::uniform_real_distribution<double>(shared_.west, shared_.east)(rng_); }
  double Lat() { return std::uniform_real_distribution<double>(shared_.south, shared_.north)(rng_); }

  kj::Promise<void> Send(Kind kind) {
    auto& gt = client_.gridtree();
    switch (kind) {
      case kLocate: {
        auto req = gt.locateRequest();
        req.setLon(Lon());
        req.setLat(Lat());
        ++tally_.points;
        return req.send().ignoreResult();
      }
      case kBatch: {
        auto req = gt.locateBatchRequest();
        auto lon = req.initLon(cfg_.batch_size);
        auto lat = req.initLat(cfg_.batch_size);
        for (unsigned i = 0; i < cfg_.batch_size; ++i) lon.set(i, Lon()), lat.set(i, Lat());
        tally_.points += cfg_.batch_size;
        return req.send().ignoreResult();
      }
      case kAggregate: {
        auto req = gt.aggregateRequest();
        const auto& id = shared_.ids[std::uniform_int_distribution<size_t>(0, shared_.ids.size() - 1)(rng_)];
        req.initIds(1).set(0, id);
        return req.send().ignoreResult();
      }
      default: {
        auto req = gt.regionAggregateRequest();
        auto c = req.initQuery().initRegion().initCircle();
        c.setLon(Lon());
        c.setLat(Lat());
        c.setRadiusM(cfg_.radius_m);
        return req.send().ignoreResult();
      }
    }
  }

  kj::Promise<void> Next() {
    if (Clock::now() >= deadline_) return kj::READY_NOW;
    const Kind kind = Pick();
    const auto t0 = Clock::now();
    return Send(kind)
        .then([this, kind, t0]() { tally_.latency_us[kind].push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count()); },
              [this, kind](kj::Exception&& e) {
                ++tally_.errors[kind];
                if (e.getType() == kj::Exception::Type::OVERLOADED) ++tally_.overloaded[kind];
              })
        .then([this]() { return Next(); });
  }

  const Config& cfg_;
  const Shared& shared_;
  gridtree::rpc::Client client_;
  std::mt19937_64 rng_;
  int cumulative_[kKinds] = {};
  Clock::time_point deadline_;
  Tally tally_;
};

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return v[i];
}

// --workload: the same fixed request sequence as gridtree_replay; --duration
// and --mix do not apply.
int RunWorkload(const Config& cfg) {
  auto workload = gridtree::replay::LoadWorkload(cfg.workload);
  if (!workload.ok()) {
    std::cerr << workload.status().message() << "\n";
    return 2;
  }
  gridtree::replay::RpcOptions o;
  o.address = cfg.connect;
  o.connections = cfg.connections;
  o.depth = cfg.depth;
  o.max_message_bytes = cfg.max_message_bytes;
  o.progress = !cfg.quiet;
  auto r = gridtree::replay::ReplayOverRpc(*workload, o);
  if (!r.ok()) {
    std::cerr << r.status().message() << "\n";
    return 1;
  }
  const std::string report = gridtree::replay::JsonReport(*workload, r->run, r->tally);
  if (!cfg.report.empty()) {
    std::ofstream out(cfg.report);
    if (!(out << report)) {
      std::cerr << cfg.report << ": cannot write the report\n";
      return 1;
    }
  }
  if (cfg.json) std::fputs(report.c_str(), stdout);
  else gridtree::replay::PrintSummary(stdout, *workload, r->run, r->tally);
  return r->tally.errors() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  CLI::App app{"gridtree_rpc_load: load generator for gridtree serve"};
  app.add_option("--connect", cfg.connect, "Server address (HOST:PORT or unix:/path)")->capture_default_str();
  app.add_option("--connections", cfg.connections, "Connections (one thread each)")->capture_default_str();
  app.add_option("--depth", cfg.depth, "Calls in flight per connection (pipelining depth)")->capture_default_str();
  app.add_option("--duration", cfg.duration_s, "Seconds to run")->capture_default_str();
  app.add_option("--mix", cfg.mix, "Weights: locate=W,batch=W,aggregate=W,circle=W")->capture_default_str();
  app.add_option("--batch-size", cfg.batch_size, "Points per locateBatch call")->capture_default_str();
  app.add_option("--radius", cfg.radius_m, "Circle radius in metres")->capture_default_str();
  app.add_option("--seed", cfg.seed, "Random seed")->capture_default_str();
  app.add_option("--max-message-bytes", cfg.max_message_bytes, "Client message limit")->capture_default_str();
  app.add_flag("--json", cfg.json, "Print a JSON report");
  app.add_option("--workload", cfg.workload, "Replay this workload file (docs/workloads.md) instead of --mix");
  app.add_option("--report", cfg.report, "With --workload: write the JSON report to this file");
  app.add_flag("--quiet", cfg.quiet, "With --workload: no progress lines on stderr");
  CLI11_PARSE(app, argc, argv);
  if (!cfg.workload.empty()) return RunWorkload(cfg);

  int weights[kKinds] = {};
  {
    std::string s = cfg.mix;
    size_t start = 0;
    while (start < s.size()) {
      const size_t comma = std::min(s.find(',', start), s.size());
      const std::string item = s.substr(start, comma - start);
      const size_t eq = item.find('=');
      bool ok = false;
      for (int k = 0; k < kKinds && eq != std::string::npos; ++k)
        if (item.substr(0, eq) == kKindNames[k]) weights[k] = std::stoi(item.substr(eq + 1)), ok = true;
      if (!ok) {
        std::cerr << "--mix: bad item \"" << item << "\"\n";
        return 2;
      }
      start = comma + 1;
    }
    int total = 0;
    for (int w : weights) total += w;
    if (total <= 0) {
      std::cerr << "--mix: all weights are zero\n";
      return 2;
    }
  }

  // Bounds and a set of node ids from the server itself.
  Shared shared{};
  {
    gridtree::rpc::Client c(cfg.connect, gridtree::rpc::ClientOptions{cfg.max_message_bytes, 1});
    auto info = c.gridtree().infoRequest().send().wait(c.wait_scope());
    auto b = info.getInfo().getBounds();
    shared = {b.getWest(), b.getSouth(), b.getEast(), b.getNorth(), {}};
    std::mt19937_64 rng(cfg.seed);
    auto req = c.gridtree().locateBatchRequest();
    auto lon = req.initLon(2000);
    auto lat = req.initLat(2000);
    for (unsigned i = 0; i < 2000; ++i) {
      lon.set(i, std::uniform_real_distribution<double>(shared.west, shared.east)(rng));
      lat.set(i, std::uniform_real_distribution<double>(shared.south, shared.north)(rng));
    }
    req.setWithChains(true);
    auto r = req.send().wait(c.wait_scope());
    for (auto n : r.getResult().getChainNodes()) shared.ids.emplace_back(n.getId().cStr());
    if (shared.ids.empty()) {
      std::cerr << "no node found under 2000 random points inside the bounds\n";
      return 1;
    }
  }

  const auto t0 = Clock::now();
  std::vector<Tally> tallies(static_cast<size_t>(cfg.connections));
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int i = 0; i < cfg.connections; ++i)
    threads.emplace_back([&, i] {
      KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] {
        Connection conn(cfg, shared, weights, cfg.seed * 1000 + static_cast<uint64_t>(i));
        tallies[static_cast<size_t>(i)] = conn.Run();
      })) {
        std::cerr << "connection " << i << ": " << e->getDescription().cStr() << "\n";
        ++failed;
      }
    });
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

  Tally all;
  for (auto& t : tallies) {
    for (int k = 0; k < kKinds; ++k) {
      all.latency_us[k].insert(all.latency_us[k].end(), t.latency_us[k].begin(), t.latency_us[k].end());
      all.errors[k] += t.errors[k];
      all.overloaded[k] += t.overloaded[k];
    }
    all.points += t.points;
  }
  std::vector<double> every;
  uint64_t errors = 0;
  for (int k = 0; k < kKinds; ++k) {
    every.insert(every.end(), all.latency_us[k].begin(), all.latency_us[k].end());
    errors += all.errors[k];
  }
  struct Row {
    std::string name;
    size_t calls;
    uint64_t errors, overloaded;
    double p50, p90, p99, p999;
  };
  std::vector<Row> rows;
  for (int k = 0; k < kKinds; ++k) {
    if (!weights[k]) continue;
    auto& v = all.latency_us[k];
    rows.push_back({kKindNames[k], v.size(), all.errors[k], all.overloaded[k], Percentile(v, 50), Percentile(v, 90),
                    Percentile(v, 99), Percentile(v, 99.9)});
  }
  rows.push_back({"all", every.size(), errors, 0, Percentile(every, 50), Percentile(every, 90), Percentile(every, 99),
                  Percentile(every, 99.9)});
  if (cfg.json) {
    std::printf("{\"connect\":\"%s\",\"connections\":%d,\"depth\":%d,\"duration_s\":%.3f,\"mix\":\"%s\",\"batch_size\":%u,"
                "\"calls\":%zu,\"calls_per_s\":%.1f,\"points_per_s\":%.1f,\"errors\":%llu,\"kinds\":[",
                cfg.connect.c_str(), cfg.connections, cfg.depth, secs, cfg.mix.c_str(), cfg.batch_size, every.size(),
                static_cast<double>(every.size()) / secs, static_cast<double>(all.points) / secs,
                static_cast<unsigned long long>(errors));
    for (size_t i = 0; i < rows.size(); ++i)
      std::printf("%s{\"kind\":\"%s\",\"calls\":%zu,\"calls_per_s\":%.1f,\"errors\":%llu,\"overloaded\":%llu,"
                  "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f}",
                  i ? "," : "", rows[i].name.c_str(), rows[i].calls, static_cast<double>(rows[i].calls) / secs,
                  static_cast<unsigned long long>(rows[i].errors), static_cast<unsigned long long>(rows[i].overloaded),
                  rows[i].p50, rows[i].p90, rows[i].p99, rows[i].p999);
    std::printf("]}\n");
  } else {
    std::printf("%d connections x depth %d for %.1f s, mix %s, batch %u\n", cfg.connections, cfg.depth, secs,
                cfg.mix.c_str(), cfg.batch_size);
    std::printf("%-10s %10s %10s %8s %10s %10s %10s %10s\n", "kind", "calls", "calls/s", "errors", "p50 us", "p90 us",
                "p99 us", "p99.9 us");
    for (const Row& r : rows)
      std::printf("%-10s %10zu %10.1f %8llu %10.1f %10.1f %10.1f %10.1f\n", r.name.c_str(), r.calls,
                  static_cast<double>(r.calls) / secs, static_cast<unsigned long long>(r.errors), r.p50, r.p90, r.p99,
                  r.p999);
    std::printf("points located: %.1f /s\n", static_cast<double>(all.points) / secs);
  }
  return failed ? 1 : 0;
}

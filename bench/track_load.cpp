// gridtree_track_load: position reports against `gridtree serve`
// (docs/objects.md). N writer connections, each a thread with its own
// objects, send batches of reports back to back (`depth` in flight) for a
// fixed time; one more connection subscribes to the events of a probe
// object that every batch of the first writer moves between two far-apart
// leaves, and measures report-to-callback latency from the batch's send.
//
//   gridtree_track_load --connect 127.0.0.1:7433 --token-file T --connections 2
//       --batch 10000 --objects 200000 --duration 10
#include <CLI/CLI.hpp>
#include <kj/debug.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gridtree/rpc/client.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Config {
  std::string connect = "127.0.0.1:7433", token_file;
  int connections = 2, depth = 2;
  unsigned batch = 10000;
  unsigned objects = 200000;  // per connection
  double duration_s = 10;
  uint64_t seed = 1;
};

// Send times of the probe's moves, in order, and the latencies measured.
struct Probe {
  std::mutex mu;
  std::deque<Clock::time_point> sent;
  std::vector<double> latency_ms;
};

class ProbeSink final : public gridtree::proto::EventSink::Server {
 public:
  explicit ProbeSink(Probe& probe) : probe_(probe) {}
  kj::Promise<void> push(PushContext ctx) override {
    const auto now = Clock::now();
    std::lock_guard lock(probe_.mu);
    for (auto e : ctx.getParams().getEvents()) {
      // One "enter" of a leaf-level node per move: the first event of each move.
      if (e.getType() != gridtree::proto::ObjectEvent::Type::ENTER || e.getLevel() != gridtree::proto::Level::COUNTY)
        continue;
      if (probe_.sent.empty()) continue;
      probe_.latency_ms.push_back(std::chrono::duration<double, std::milli>(now - probe_.sent.front()).count());
      probe_.sent.pop_front();
    }
    return kj::READY_NOW;
  }

 private:
  Probe& probe_;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Position reports against gridtree serve"};
  Config cfg;
  app.add_option("--connect", cfg.connect, "Server address")->capture_default_str();
  app.add_option("--token-file", cfg.token_file, "File holding the writer token")->required();
  app.add_option("--connections", cfg.connections, "Writer connections (one thread each)")->capture_default_str();
  app.add_option("--depth", cfg.depth, "Batches in flight per connection")->capture_default_str();
  app.add_option("--batch", cfg.batch, "Reports per track call")->capture_default_str();
  app.add_option("--objects", cfg.objects, "Objects per connection")->capture_default_str();
  app.add_option("--duration", cfg.duration_s, "Seconds to run")->capture_default_str();
  app.add_option("--seed", cfg.seed, "Random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::ifstream tf(cfg.token_file);
  std::string token;
  std::getline(tf, token);
  if (token.empty()) {
    std::cerr << "gridtree_track_load: token file " << cfg.token_file << " is missing or empty\n";
    return 1;
  }
  // The city's box and two far-apart points inside it for the probe.
  double west, south, east, north;
  {
    gridtree::rpc::Client c(cfg.connect);
    auto info = c.gridtree().infoRequest().send().wait(c.wait_scope());
    auto b = info.getInfo().getBounds();
    west = b.getWest(), south = b.getSouth(), east = b.getEast(), north = b.getNorth();
  }
  const double probe_lon[2] = {113.08, 112.79}, probe_lat[2] = {22.58, 22.25};  // two counties of Jiangmen
  Probe probe;
  std::atomic<bool> listening{false}, done{false};
  std::thread listener([&] {
    gridtree::rpc::Client c(cfg.connect);
    auto req = c.gridtree().eventsRequest();
    req.initKinds(1).set(0, "probe");
    req.setSink(kj::heap<ProbeSink>(probe));
    auto handle = req.send().wait(c.wait_scope()).getHandle();
    listening = true;
    // Turns the loop without sending anything (a busy client would take
    // the server's time); 0.2 ms between polls bounds what it adds.
    while (!done) {
      c.wait_scope().poll();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  while (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<uint64_t> reports{0};
  std::vector<std::thread> writers;
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.duration_s));
  for (int w = 0; w < cfg.connections; ++w)
    writers.emplace_back([&, w] {
      gridtree::rpc::Client c(cfg.connect, gridtree::rpc::ClientOptions{uint64_t{256} << 20, 1});
      auto wreq = c.gridtree().writerRequest();
      wreq.setToken(token);
      auto writer = wreq.send().getWriter();
      std::mt19937_64 rng(cfg.seed + static_cast<uint64_t>(w));
      std::uniform_real_distribution<double> lon(west, east), lat(south, north);
      std::vector<std::string> ids(cfg.objects);
      for (unsigned i = 0; i < cfg.objects; ++i) ids[i] = "w" + std::to_string(w) + "-" + std::to_string(i);
      uint64_t batches = 0;
      std::function<kj::Promise<void>()> next = [&]() -> kj::Promise<void> {
        if (Clock::now() >= deadline) return kj::READY_NOW;
        auto req = writer.trackRequest();
        const bool with_probe = w == 0;
        auto list = req.initReports(cfg.batch + (with_probe ? 1 : 0));
        for (unsigned i = 0; i < cfg.batch; ++i) {
          auto r = list[i];
          r.setId(ids[rng() % cfg.objects]);
          r.setKind((i & 1) ? "boat" : "staff");
          r.setLon(lon(rng));
          r.setLat(lat(rng));
        }
        if (with_probe) {
          auto r = list[cfg.batch];
          r.setId("probe");
          r.setKind("probe");
          r.setLon(probe_lon[batches % 2]);
          r.setLat(probe_lat[batches % 2]);
          std::lock_guard lock(probe.mu);
          probe.sent.push_back(Clock::now());
        }
        ++batches;
        return req.send().then([&](auto&&) {
          reports += cfg.batch;
          return next();
        });
      };
      auto loops = kj::heapArrayBuilder<kj::Promise<void>>(static_cast<size_t>(cfg.depth));
      for (int d = 0; d < (w == 0 ? 1 : cfg.depth); ++d) loops.add(next());  // the probe's writer: one at a time
      kj::joinPromises(loops.finish()).wait(c.wait_scope());
    });
  for (auto& t : writers) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the last events
  done = true;
  listener.join();
  std::lock_guard lock(probe.mu);
  std::printf("{\"reports\":%llu,\"seconds\":%.2f,\"reports_per_s\":%.0f,\"batch\":%u,\"connections\":%d,"
              "\"probe_events\":%zu,\"latency_ms_p50\":%.2f,\"latency_ms_p99\":%.2f,\"latency_ms_max\":%.2f}\n",
              static_cast<unsigned long long>(reports.load()), secs, static_cast<double>(reports.load()) / secs,
              cfg.batch, cfg.connections, probe.latency_ms.size(), Percentile(probe.latency_ms, 0.5),
              Percentile(probe.latency_ms, 0.99), Percentile(probe.latency_ms, 1.0));
  return 0;
}

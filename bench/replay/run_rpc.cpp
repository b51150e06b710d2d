// RPC replay: one thread, event loop and Client per connection; answers are
// read back into the engine's own types and hashed like the in-process run.
#include "replay/run_rpc.h"

#include <kj/debug.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <latch>
#include <mutex>
#include <thread>

#include "gridtree/rpc/client.h"
#include "replay/checksum.h"
#include "replay/progress.h"

namespace gridtree::replay {
namespace {

using Clock = std::chrono::steady_clock;

void FillRegion(proto::RegionQuery::Builder q, const WorkloadRegion& wr) {
  auto region = q.initRegion();
  const Region& r = wr.query.region;
  switch (wr.source) {
    case WorkloadRegion::Source::kBox: {
      auto b = region.initBox();
      b.setWest(r.box.min_x);
      b.setSouth(r.box.min_y);
      b.setEast(r.box.max_x);
      b.setNorth(r.box.max_y);
      break;
    }
    case WorkloadRegion::Source::kCircle: {
      auto c = region.initCircle();
      c.setLon(r.center.x);
      c.setLat(r.center.y);
      c.setRadiusM(r.radius_m);
      break;
    }
    // Text goes as text: the server parses it with the same parser the
    // in-process run used, so both see the same polygon.
    case WorkloadRegion::Source::kWkt: region.setWkt(capnp::Text::Reader(wr.text.data(), wr.text.size())); break;
    case WorkloadRegion::Source::kGeoJson:
      region.setGeoJson(capnp::Text::Reader(wr.text.data(), wr.text.size()));
      break;
  }
  switch (wr.query.mode) {
    case RegionMode::kIntersecting: q.setMode(proto::RegionMode::INTERSECTING); break;
    case RegionMode::kContained: q.setMode(proto::RegionMode::CONTAINED); break;
    case RegionMode::kAreaWeighted: q.setMode(proto::RegionMode::AREA_WEIGHTED); break;
  }
  // proto::Level lists the levels in the engine's order (rpc/gridtree.capnp).
  if (wr.query.group_by) q.initGroupBy().setLevel(static_cast<proto::Level>(static_cast<int>(*wr.query.group_by)));
}

void CopyValues(capnp::List<double>::Reader in, std::vector<double>& out) {
  out.resize(in.size());
  for (unsigned k = 0; k < in.size(); ++k) out[k] = in[k];
}

struct Counters {
  std::atomic<uint64_t> next{0}, done{0};
};

class Connection {
 public:
  Connection(const Workload& w, const RpcOptions& o, Counters& counters)
      : w_(w), o_(o), counters_(counters),
        client_(o.address, rpc::ClientOptions{o.max_message_bytes, 1}) {
    leaves_.resize(w.batch_size);
  }

  Tally Run() {
    tally_.Reserve(w_, w_.requests / static_cast<uint64_t>(std::max(1, o_.connections)) + 64);
    auto loops = kj::heapArrayBuilder<kj::Promise<void>>(static_cast<size_t>(std::max(1, o_.depth)));
    for (int i = 0; i < std::max(1, o_.depth); ++i) loops.add(Next());
    kj::joinPromises(loops.finish()).wait(client_.wait_scope());
    return std::move(tally_);
  }

 private:
  kj::Promise<void> Next() {
    const uint64_t i = counters_.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= w_.requests) return kj::READY_NOW;
    const Request r = RequestAt(w_, i);
    KindTally& t = tally_.kinds[static_cast<int>(r.kind)];
    ++t.requests;
    const auto t0 = Clock::now();
    return Send(i, r)
        .then(
            [&t, t0](uint64_t hash) {
              t.latency_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
              t.checksum += hash;
            },
            [&t, r, i](kj::Exception&& e) {
              // A dropped connection ends the run; a failed call is counted.
              if (e.getType() == kj::Exception::Type::DISCONNECTED) kj::throwFatalException(kj::mv(e));
              ++t.errors;
              t.checksum += ErrorHash(r.kind, i);
            })
        .then([this]() {
          counters_.done.fetch_add(1, std::memory_order_relaxed);
          return Next();
        });
  }

  kj::Promise<uint64_t> Send(uint64_t i, Request r) {
    auto& gt = client_.gridtree();
    KindTally& t = tally_.kinds[static_cast<int>(r.kind)];
    switch (r.kind) {
      case Kind::kLocate: {
        auto req = gt.locateRequest();
        req.setLon(w_.lon[r.item]);
        req.setLat(w_.lat[r.item]);
        ++t.points;
        return req.send().then([i](auto resp) { return LocateHash(i, resp.getResult().getLeaf()); });
      }
      case Kind::kLocateBatch: {
        auto req = gt.locateBatchRequest();
        const unsigned n = w_.batch_size;
        auto lon = req.initLon(n);
        auto lat = req.initLat(n);
        const size_t count = w_.point_count();
        size_t p = r.item;
        for (unsigned k = 0; k < n; ++k, p = p + 1 == count ? 0 : p + 1) lon.set(k, w_.lon[p]), lat.set(k, w_.lat[p]);
        t.points += n;
        // Replies are handled one at a time on this loop, so one scratch
        // vector serves every call in flight.
        return req.send().then([this, i, n](auto resp) {
          auto leaves = resp.getResult().getLeaves();
          KJ_REQUIRE(leaves.size() == n, "server answered a different number of points", leaves.size(), n);
          for (unsigned k = 0; k < n; ++k) leaves_[k] = leaves[k];
          return BatchHash(i, leaves_);
        });
      }
      case Kind::kAggregate: {
        auto req = gt.regionAggregateRequest();
        FillRegion(req.initQuery(), w_.regions[r.item]);
        return req.send().then([this, i](auto resp) {
          auto res = resp.getResult();
          // Back into the engine's RegionResult (reused: no allocation once
          // the vectors have grown), so AggregateHash is the one definition.
          region_.leaves = res.getLeaves();
          CopyValues(res.getTotal(), region_.total);
          auto rows = res.getRows();
          region_.rows.resize(rows.size());
          for (unsigned k = 0; k < rows.size(); ++k) {
            region_.rows[k].node = NodeId(rows[k].getNode().getNumber());
            CopyValues(rows[k].getValues(), region_.rows[k].values);
          }
          return AggregateHash(i, region_);
        });
      }
    }
    KJ_FAIL_ASSERT("unknown request kind", static_cast<int>(r.kind));
  }

  const Workload& w_;
  const RpcOptions& o_;
  Counters& counters_;
  rpc::Client client_;
  std::vector<int32_t> leaves_;
  RegionResult region_;
  Tally tally_;
};

}  // namespace

Result<ReplayResult> ReplayOverRpc(const Workload& w, const RpcOptions& o) {
  ReplayResult result;
  result.run.tool = "gridtree_rpc_load";
  result.run.target = "rpc:" + o.address;
  result.run.threads = std::max(1, o.connections);
  result.run.depth = std::max(1, o.depth);

  // What the answers will be compared against: the server's dataset.
  KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] {
    rpc::Client c(o.address, rpc::ClientOptions{o.max_message_bytes, 1});
    auto resp = c.gridtree().infoRequest().send().wait(c.wait_scope());
    auto info = resp.getInfo();
    result.run.dataset = info.getSource().cStr();
    result.run.fingerprint = info.getFingerprint();
    result.run.metric_version = info.getVersion();
    const uint32_t max_points = info.getLimits().getMaxPointsPerBatch();
    if (w.mix[static_cast<int>(Kind::kLocateBatch)] > 0 && w.batch_size > max_points)
      KJ_FAIL_REQUIRE("batch_size exceeds the server's maxPointsPerBatch", w.batch_size, max_points);
  })) {
    return IoError(o.address + ": " + e->getDescription().cStr());
  }

  Counters counters;
  const size_t n = static_cast<size_t>(result.run.threads);
  std::vector<Tally> tallies(n);
  std::mutex failure_mu;
  std::string failure;
  // Connections are set up before the clock starts.
  std::latch connected(static_cast<std::ptrdiff_t>(n) + 1);
  std::vector<std::thread> threads;
  for (size_t c = 0; c < n; ++c)
    threads.emplace_back([&, c] {
      bool counted = false;
      KJ_IF_MAYBE(e, kj::runCatchingExceptions([&] {
        Connection conn(w, o, counters);
        connected.count_down();
        counted = true;
        connected.wait();
        tallies[c] = conn.Run();
      })) {
        if (!counted) connected.count_down();
        std::lock_guard lock(failure_mu);
        if (failure.empty()) failure = "connection " + std::to_string(c) + ": " + e->getDescription().cStr();
      }
    });
  connected.arrive_and_wait();
  const auto t0 = Clock::now();
  {
    Progress progress("rpc replay", w.requests, counters.done, o.progress);
    for (auto& t : threads) t.join();
  }
  result.run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!failure.empty()) return IoError(o.address + ": " + failure);
  for (auto& t : tallies) result.tally.Merge(std::move(t));
  return result;
}

}  // namespace gridtree::replay

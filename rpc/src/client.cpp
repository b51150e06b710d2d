// Client: connection set-up and the locate batch splitter.
#include "gridtree/rpc/client.h"

#include <kj/debug.h>

#include <algorithm>

namespace gridtree::rpc {
namespace {

struct SplitJob {
  explicit SplitJob(proto::GridTree::Client g) : gridtree(kj::mv(g)) {}
  proto::GridTree::Client gridtree;
  std::span<const double> lon, lat;
  size_t chunk = 0;
  size_t next = 0;
  std::vector<int32_t> out;
};

kj::Promise<void> NextChunk(SplitJob& job) {
  if (job.next >= job.lon.size()) return kj::READY_NOW;
  const size_t b = job.next, e = std::min(job.lon.size(), b + job.chunk);
  job.next = e;
  const auto n = static_cast<unsigned>(e - b);
  auto req = job.gridtree.locateBatchRequest(capnp::MessageSize{2 * n + 16, 0});
  auto lo = req.initLon(n);
  auto la = req.initLat(n);
  for (unsigned i = 0; i < n; ++i) {
    lo.set(i, job.lon[b + i]);
    la.set(i, job.lat[b + i]);
  }
  return req.send().then([&job, b, n](capnp::Response<proto::GridTree::LocateBatchResults> r) {
    auto leaves = r.getResult().getLeaves();
    KJ_REQUIRE(leaves.size() == n, "server answered a different number of points", leaves.size(), n);
    for (unsigned i = 0; i < n; ++i) job.out[b + i] = leaves[i];
    return NextChunk(job);
  });
}

}  // namespace

kj::Promise<std::vector<int32_t>> LocateColumns(proto::GridTree::Client gridtree, std::span<const double> lon,
                                                std::span<const double> lat, const ClientOptions& options) {
  KJ_REQUIRE(lon.size() == lat.size(), "lon and lat differ in length", lon.size(), lat.size());
  auto info = gridtree.infoRequest().send();
  return info.then([gridtree, lon, lat, options](capnp::Response<proto::GridTree::InfoResults> r) mutable {
    auto limits = r.getInfo().getLimits();
    // A request costs 16 bytes a point (two Float64 lists), a reply 4; keep
    // an eighth of the smaller message limit spare for framing.
    const uint64_t bytes = std::min(options.max_message_bytes, limits.getMaxMessageBytes());
    const uint64_t by_bytes = std::max<uint64_t>(1, (bytes - std::min<uint64_t>(bytes, 4096)) / 16 * 7 / 8);
    const uint64_t by_count = std::max<uint32_t>(1, limits.getMaxPointsPerBatch());
    auto job = kj::heap<SplitJob>(kj::mv(gridtree));
    job->lon = lon;
    job->lat = lat;
    job->chunk = static_cast<size_t>(std::min(by_bytes, by_count));
    job->out.assign(lon.size(), -1);
    auto workers = kj::heapArrayBuilder<kj::Promise<void>>(std::max<uint32_t>(1, options.pipeline_depth));
    for (uint32_t i = 0; i < std::max<uint32_t>(1, options.pipeline_depth); ++i) workers.add(NextChunk(*job));
    auto all = kj::joinPromises(workers.finish());
    return all.then([&job = *job]() { return std::move(job.out); }).attach(kj::mv(job));
  });
}

Client::Client(const std::string& address, ClientOptions options)
    : options_(options),
      ez_([&] {
        capnp::ReaderOptions ro;
        ro.traversalLimitInWords = std::max<uint64_t>(options.max_message_bytes / 8, 1024);
        return std::make_unique<capnp::EzRpcClient>(address.c_str(), kDefaultPort, ro);
      }()),
      gridtree_(ez_->getMain<proto::GridTree>()) {}

Client::~Client() = default;

kj::WaitScope& Client::wait_scope() { return ez_->getWaitScope(); }

std::vector<int32_t> Client::LocateColumnsSync(std::span<const double> lon, std::span<const double> lat) {
  return LocateColumns(gridtree_, lon, lat, options_).wait(wait_scope());
}

}  // namespace gridtree::rpc

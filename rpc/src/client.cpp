// Client: connection set-up, the locate batch splitter and the objects pager.
#include "gridtree/rpc/client.h"

#include <kj/async-io.h>
#include <kj/debug.h>

#include <algorithm>
#include <string_view>

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

struct ObjectsJob {
  explicit ObjectsJob(proto::GridTree::Client g) : gridtree(kj::mv(g)) {}
  proto::GridTree::Client gridtree;
  capnp::MallocMessageBuilder query;  // the caller's, copied
  uint64_t next = 0;                  // offset of the next page
  uint64_t end = 0;                   // offset past the last object wanted
  uint64_t page = 1;                  // objects asked for per call
  ObjectPages out;
};

kj::Promise<void> NextPage(ObjectsJob& job) {
  const uint64_t want = std::min(job.page, job.end - job.next);
  if (want == 0 || (!job.out.pages.empty() && job.next >= job.out.total)) return kj::READY_NOW;
  KJ_REQUIRE(job.next <= UINT32_MAX, "objects: offset past what the schema holds", job.next);
  auto req = job.gridtree.objectsRequest();
  req.setQuery(job.query.getRoot<proto::ObjectQuery>().asReader());
  req.getQuery().setOffset(static_cast<uint32_t>(job.next));
  req.getQuery().setLimit(static_cast<uint32_t>(want));
  return req.send().then(
      [&job, want](capnp::Response<proto::GridTree::ObjectsResults> r) -> kj::Promise<void> {
        const uint64_t got = r.getObjects().size();
        if (job.out.pages.empty()) {
          job.out.total = r.getTotal();
          job.out.objects_version = r.getObjectsVersion();
        }
        job.next += got;
        job.out.pages.push_back(kj::mv(r));
        if (got < want) return kj::READY_NOW;  // past the last one
        return NextPage(job);
      },
      [&job, want](kj::Exception&& e) -> kj::Promise<void> {
        // Objects with long ids take more room than the page size assumed.
        const bool too_large = e.getType() == kj::Exception::Type::FAILED &&
                               std::string_view(e.getDescription().cStr()).find("objects: the answer") !=
                                   std::string_view::npos;
        if (!too_large || want == 1) return kj::mv(e);
        job.page = want / 2;
        return NextPage(job);
      });
}

}  // namespace

size_t ObjectPages::size() const {
  size_t n = 0;
  for (const auto& p : pages) n += p.getObjects().size();
  return n;
}

kj::Promise<ObjectPages> ObjectsPaged(proto::GridTree::Client gridtree, proto::ObjectQuery::Reader query,
                                      uint64_t offset, uint64_t limit, const ClientOptions& options) {
  auto job = kj::heap<ObjectsJob>(gridtree);
  job->query.setRoot(query);
  job->next = offset;
  job->end = limit == 0 ? UINT64_MAX : offset + limit;
  auto info = gridtree.infoRequest().send();
  return info
      .then([&job = *job, options](capnp::Response<proto::GridTree::InfoResults> r) {
        auto limits = r.getInfo().getLimits();
        // A page's objects at 64 words each (a TrackedObject is 7, and its
        // id, kind and leaf texts rarely take 57 more), under the smaller of
        // the two message limits with room for the message around them.
        const uint64_t words = std::min(options.max_message_bytes, limits.getMaxMessageBytes()) / 8;
        const uint64_t by_bytes = std::max<uint64_t>(1, (words - std::min<uint64_t>(words, 128)) / 64);
        job.page = std::min<uint64_t>(by_bytes, std::max<uint32_t>(1, limits.getMaxReportsPerBatch()));
        return NextPage(job);
      })
      .then([&job = *job]() { return kj::mv(job.out); })
      .attach(kj::mv(job));
}

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

Client::Client(const std::string& address, ClientOptions options) : options_(options), gridtree_(nullptr) {
  for (size_t at = 0; at <= address.size();) {
    const size_t comma = std::min(address.find(',', at), address.size());
    if (comma > at) addresses_.push_back(address.substr(at, comma - at));
    at = comma + 1;
  }
  if (addresses_.empty()) addresses_.push_back(address);
  if (addresses_.size() == 1) {
    ConnectTo(0, false);
    return;
  }
  for (size_t i = 0; i < addresses_.size(); ++i)
    if (ConnectTo(i, true)) return;
  ConnectTo(0, false);  // none answers: the first call says why
}

bool Client::ConnectTo(size_t i, bool check) {
  capnp::ReaderOptions ro;
  ro.traversalLimitInWords = std::max<uint64_t>(options_.max_message_bytes / 8, 1024);
  gridtree_ = nullptr;
  ez_.reset();
  ez_ = std::make_unique<capnp::EzRpcClient>(addresses_[i].c_str(), kDefaultPort, ro);
  gridtree_ = ez_->getMain<proto::GridTree>();
  current_ = i;
  if (!check) return true;
  bool answered = false;
  kj::runCatchingExceptions([&] {
    gridtree_.infoRequest().send().wait(ez_->getWaitScope());
    answered = true;
  });
  return answered;
}

bool Client::Failover() {
  const size_t from = current_;
  for (size_t step = 1; step <= addresses_.size(); ++step)
    if (ConnectTo((from + step) % addresses_.size(), true)) return true;
  ConnectTo(from, false);
  return false;
}

void Client::ReadAtLeast(uint64_t position, uint32_t timeout_ms) {
  if (position == 0) return;
  auto req = gridtree_.atPositionRequest();
  req.setPosition(position);
  req.setTimeoutMs(timeout_ms);
  gridtree_ = req.send().getGridtree();
}

Client::~Client() = default;

kj::WaitScope& Client::wait_scope() { return ez_->getWaitScope(); }

void Client::RunFor(uint32_t ms) {
  ez_->getIoProvider().getTimer().afterDelay(ms * kj::MILLISECONDS).wait(ez_->getWaitScope());
}

std::vector<int32_t> Client::LocateColumnsSync(std::span<const double> lon, std::span<const double> lat) {
  return LocateColumns(gridtree_, lon, lat, options_).wait(wait_scope());
}

}  // namespace gridtree::rpc

// Writes the seed corpora of the fuzz targets that cannot be written by
// hand (tests/fuzz/corpus/{image,wal,rpc,geojson}): an engine image of the
// small test dataset, write-ahead logs, and the bytes the C++ RPC client
// sends in real sessions (recorded on the way to a server).
//
//   gridtree_fuzz_make_seeds tests/fuzz/corpus
//
// Run again after a change to the schema, the image or the log format.
#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "fuzz_server.h"
#include "gridtree.capnp.h"
#include "gridtree/engine/image.h"
#include "storage/wal.h"

using namespace gridtree;
namespace fs = std::filesystem;

namespace {

void Save(const fs::path& path, std::string_view bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Forwards a stream and keeps a copy of everything written to it.
class RecordingStream final : public kj::AsyncIoStream {
 public:
  RecordingStream(kj::Own<kj::AsyncIoStream> inner, std::string& sent) : inner_(kj::mv(inner)), sent_(sent) {}
  kj::Promise<size_t> tryRead(void* buffer, size_t min, size_t max) override { return inner_->tryRead(buffer, min, max); }
  kj::Promise<void> write(const void* buffer, size_t size) override {
    sent_.append(static_cast<const char*>(buffer), size);
    return inner_->write(buffer, size);
  }
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    for (auto p : pieces) sent_.append(reinterpret_cast<const char*>(p.begin()), p.size());
    return inner_->write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override { return inner_->whenWriteDisconnected(); }
  void shutdownWrite() override { inner_->shutdownWrite(); }

 private:
  kj::Own<kj::AsyncIoStream> inner_;
  std::string& sent_;
};

class QuietWatcher final : public proto::Watcher::Server {};
class QuietSink final : public proto::EventSink::Server {};

// The client's bytes of one session against a fresh server.
std::string Record(kj::AsyncIoContext& io, rpc::Server& server,
                   const std::function<void(proto::GridTree::Client&, kj::WaitScope&)>& session) {
  std::string sent;
  auto pipe = kj::newTwoWayPipe();
  server.Accept(kj::mv(pipe.ends[0]));
  {
    RecordingStream stream(kj::mv(pipe.ends[1]), sent);
    capnp::TwoPartyClient client(stream);
    auto gt = client.bootstrap().castAs<proto::GridTree>();
    session(gt, io.waitScope);
  }
  for (int i = 0; i < 8; ++i) io.waitScope.poll();
  return sent;
}

void WriteRpcSeeds(const fs::path& out) {
  auto io = kj::setupAsyncIo();
  auto engine = testing::SmallEngine(4);
  rpc::ServerOptions options;
  options.writer_token = fuzz::FuzzServer::kToken;
  options.log = [](std::string_view) {};
  rpc::Server server(*engine, options, io.provider->getTimer());
  using Session = std::function<void(proto::GridTree::Client&, kj::WaitScope&)>;
  auto writer = [](proto::GridTree::Client& gt) {
    auto w = gt.writerRequest();
    w.setToken(fuzz::FuzzServer::kToken);
    return w.send().getWriter();
  };
  const std::vector<std::pair<std::string, Session>> sessions = {
      {"info", [](auto& gt, auto& ws) { gt.infoRequest().send().wait(ws); }},
      {"locate", [](auto& gt, auto& ws) {
         auto r = gt.locateRequest();
         r.setLon(112.015);
         r.setLat(22.015);
         r.send().wait(ws);
       }},
      {"locate_batch", [](auto& gt, auto& ws) {
         auto r = gt.locateBatchRequest();
         auto lon = r.initLon(3), lat = r.initLat(3);
         for (unsigned i = 0; i < 3; ++i) {
           lon.set(i, 112.005 + 0.01 * i);
           lat.set(i, 22.005 + 0.01 * i);
         }
         r.setWithChains(true);
         r.send().wait(ws);
       }},
      {"node_children_path", [](auto& gt, auto& ws) {
         auto a = gt.nodeRequest();
         a.setId("g0_0");
         auto b = gt.childrenRequest();
         b.setId("c");
         auto c = gt.pathRequest();
         c.setId("g1_1");
         auto pa = a.send();
         auto pb = b.send();
         c.send().wait(ws);
         pa.wait(ws);
         pb.wait(ws);
       }},
      {"aggregate", [](auto& gt, auto& ws) {
         auto r = gt.aggregateRequest();
         auto ids = r.initIds(2);
         ids.set(0, "c");
         ids.set(1, "k1");
         r.send().wait(ws);
       }},
      {"region_box", [](auto& gt, auto& ws) {
         auto r = gt.regionAggregateRequest();
         auto q = r.initQuery();
         auto b = q.initRegion().initBox();
         b.setWest(112.0);
         b.setSouth(22.0);
         b.setEast(112.025);
         b.setNorth(22.025);
         q.getGroupBy().setLevel(proto::Level::TOWN);
         r.send().wait(ws);
       }},
      {"region_wkt", [](auto& gt, auto& ws) {
         auto r = gt.regionAggregateRequest();
         auto q = r.initQuery();
         q.initRegion().setWkt("POLYGON((112 22,112.03 22,112.03 22.03,112 22.03,112 22))");
         q.setMode(proto::RegionMode::CONTAINED);
         r.send().wait(ws);
       }},
      {"region_circle", [](auto& gt, auto& ws) {
         auto r = gt.regionAggregateRequest();
         auto c = r.initQuery().initRegion().initCircle();
         c.setLon(112.02);
         c.setLat(22.02);
         c.setRadiusM(1500);
         r.send().wait(ws);
       }},
      {"region_geojson", [](auto& gt, auto& ws) {
         auto r = gt.regionAggregateRequest();
         r.initQuery().initRegion().setGeoJson(
             R"({"type":"Polygon","coordinates":[[[112,22],[112.02,22],[112.02,22.02],[112,22]]]})");
         r.send().wait(ws);
       }},
      {"topk", [](auto& gt, auto& ws) {
         auto r = gt.topKRequest();
         auto q = r.initQuery();
         q.setLevel(proto::Level::GRID);
         q.setMetric("population");
         q.setK(5);
         q.setDensity(true);
         r.send().wait(ws);
       }},
      {"writer_apply", [writer](auto& gt, auto& ws) {
         auto r = writer(gt).applyRequest();
         auto u = r.initUpdates(2);
         u[0].setLeaf("g0_0");
         u[0].setMetric("population");
         u[0].setValue(5);
         u[1].setLeaf("g1_1");
         u[1].setMetric("schools");
         u[1].setOp(proto::MetricUpdate::Op::ADD);
         u[1].setValue(-1);
         r.send().wait(ws);
       }},
      {"writer_track_objects", [writer](auto& gt, auto& ws) {
         auto r = writer(gt).trackRequest();
         auto reports = r.initReports(2);
         reports[0].setId("boat-1");
         reports[0].setKind("boat");
         reports[0].setLon(112.005);
         reports[0].setLat(22.005);
         reports[1].setId("staff-1");
         reports[1].setKind("staff");
         reports[1].setLon(112.025);
         reports[1].setLat(22.015);
         r.send().wait(ws);
         auto o = gt.objectsRequest();
         o.initQuery().getWhere().setNode("k1");
         o.send().wait(ws);
         auto n = gt.nearestRequest();
         n.setLon(112.0);
         n.setLat(22.0);
         n.setK(3);
         n.send().wait(ws);
         gt.objectKindsRequest().send().wait(ws);
       }},
      {"watch_cancel", [](auto& gt, auto& ws) {
         auto r = gt.watchRequest();
         r.initIds(1).set(0, "k1");
         r.setCallback(kj::heap<QuietWatcher>());
         auto handle = r.send().wait(ws).getHandle();
         handle.cancelRequest().send().wait(ws);
       }},
      {"events_cancel", [](auto& gt, auto& ws) {
         auto r = gt.eventsRequest();
         r.initNodes(1).set(0, "c");
         r.initKinds(1).set(0, "boat");
         r.setSink(kj::heap<QuietSink>());
         auto handle = r.send().wait(ws).getHandle();
         handle.cancelRequest().send().wait(ws);
       }},
  };
  for (const auto& [name, session] : sessions) Save(out / (name + ".bin"), Record(io, server, session));
}

void WriteImageSeed(const fs::path& out) {
  auto engine = testing::SmallEngine(4);
  const std::string path = (out / "small.gtimg").string();
  fs::create_directories(out);
  if (!WriteEngineImage(*engine->Read(), path).ok()) std::abort();
  std::printf("%s: %zu bytes\n", path.c_str(), static_cast<size_t>(fs::file_size(path)));
}

// Logs of 0, 1 and 3 records with the fuzz target's fingerprint.
void WriteWalSeeds(const fs::path& out) {
  constexpr uint64_t kFingerprint = 0x6772696474726565;  // as in fuzz_wal.cpp
  for (int records : {0, 1, 3}) {
    const fs::path dir = fs::temp_directory_path() / ("gridtree-seed-wal-" + std::to_string(records));
    fs::remove_all(dir);
    std::vector<internal::WalRecord> replay;
    std::string report;
    auto log = internal::WriteAheadLog::Open(dir.string(), kFingerprint, 0, replay, report);
    if (!log.ok()) std::abort();
    for (int v = 1; v <= records; ++v) {
      internal::WalRecord r;
      r.version = static_cast<uint64_t>(v);
      for (uint32_t i = 0; i < static_cast<uint32_t>(v); ++i) r.values.push_back({i, i % 2, 100 * v + i});
      if (!log.value()->Append(r).ok()) std::abort();
    }
    log.value().reset();
    Save(out / ("records_" + std::to_string(records) + ".log"), ReadAll(dir / "wal.log"));
    fs::remove_all(dir);
  }
}

void WriteGeoJsonSeeds(const fs::path& out) {
  const std::string collection = testing::SmallDatasetGeoJson(2);
  Save(out / "small.geojson", collection);
  // The same features as a GeoJSON text sequence: one per line.
  std::string sequence;
  size_t at = collection.find('\n') + 1;
  while (at < collection.size()) {
    const size_t end = collection.find('\n', at);
    std::string line = collection.substr(at, end - at);
    if (!line.empty() && line.back() == ',') line.pop_back();
    if (line.starts_with("{\"type\":\"Feature\"")) sequence += line + "\n";
    at = end + 1;
  }
  Save(out / "small.geojsonl", sequence);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const fs::path out = argv[1];
  WriteImageSeed(out / "image");
  WriteWalSeeds(out / "wal");
  WriteGeoJsonSeeds(out / "geojson");
  WriteRpcSeeds(out / "rpc");
  return 0;
}

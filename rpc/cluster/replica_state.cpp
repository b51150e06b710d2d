#include "replica_state.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "gridtree/engine/read_file.h"
#include "gridtree/engine/write_file.h"
#include "log_message.h"

namespace gridtree::cluster {
namespace {

constexpr char kMagic[8] = {'G', 'T', 'C', 'K', 'P', 'T', '0', '1'};

// Every leaf's dataset metrics, leaf * metric_count + metric.
std::vector<int64_t> LeafValues(const View& view) {
  const Dataset& ds = view.dataset();
  const size_t metrics = ds.metric_count();
  std::vector<int64_t> values(ds.leaf_count() * metrics);
  for (size_t leaf = 0; leaf < ds.leaf_count(); ++leaf) {
    const NodeId node = view.NodeOf(LeafId(static_cast<int32_t>(leaf)));
    for (size_t m = 0; m < metrics; ++m) values[leaf * metrics + m] = view.Metric(node, static_cast<int>(m));
  }
  return values;
}

std::vector<TrackedObject> AllObjects(const Engine& engine) {
  ObjectQuery all;
  all.limit = size_t{1} << 40;
  auto page = engine.Objects(all);
  return page.ok() ? std::move(page->objects) : std::vector<TrackedObject>{};
}

template <typename T>
void Put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void PutStr(std::string& out, const std::string& s) {
  Put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out += s;
}

}  // namespace

uint64_t StateDigest(const Engine& engine) {
  const std::vector<int64_t> values = LeafValues(*engine.Read());
  uint64_t h = Fnv1a("gridtree-state", 14);
  h = Fnv1a(values.data(), values.size() * sizeof(int64_t), h);
  for (const TrackedObject& o : AllObjects(engine)) {
    h = Fnv1a(o.id.data(), o.id.size(), h);
    h = Fnv1a(o.kind.data(), o.kind.size() + 1, h);  // with the NUL: "ab"+"c" differs from "a"+"bc"
    h = Fnv1a(&o.lon, 8, h);
    h = Fnv1a(&o.lat, 8, h);
    h = Fnv1a(&o.time, 8, h);
    h = Fnv1a(o.leaf_id.data(), o.leaf_id.size() + 1, h);
  }
  return h ? h : 1;
}

ReplicaCheckpoint TakeCheckpoint(const Engine& engine, uint64_t position, int64_t log_time) {
  auto view = engine.Read();
  const Dataset& ds = view->dataset();
  ReplicaCheckpoint c;
  c.fingerprint = ds.fingerprint;
  c.position = position;
  c.log_time = log_time;
  c.metric_count = ds.metric_count();
  c.leaf_values = LeafValues(*view);
  for (TrackedObject& o : AllObjects(engine))
    c.objects.push_back(ObjectReport{std::move(o.id), std::move(o.kind), o.lon, o.lat, o.time});
  return c;
}

std::string SerializeCheckpoint(const ReplicaCheckpoint& c) {
  std::string out(kMagic, sizeof kMagic);
  Put(out, c.fingerprint);
  Put(out, c.position);
  Put(out, c.log_time);
  Put<uint64_t>(out, c.metric_count);
  Put<uint64_t>(out, c.leaf_values.size());
  out.append(reinterpret_cast<const char*>(c.leaf_values.data()), c.leaf_values.size() * sizeof(int64_t));
  Put<uint64_t>(out, c.objects.size());
  for (const ObjectReport& o : c.objects) {
    PutStr(out, o.id);
    PutStr(out, o.kind);
    Put(out, o.lon);
    Put(out, o.lat);
    Put(out, o.time);
  }
  Put(out, Fnv1a(out.data(), out.size()));
  return out;
}

Status WriteCheckpoint(const std::string& dir, const ReplicaCheckpoint& c) {
  return WriteFileAtomically(dir, kCheckpointFile, SerializeCheckpoint(c));
}

Result<ReplicaCheckpoint> ReadCheckpoint(const std::string& dir, uint64_t fingerprint, size_t leaf_count,
                                         size_t metric_count) {
  const std::string path = dir + "/" + kCheckpointFile;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return ReplicaCheckpoint{};  // none yet
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  auto c = ParseCheckpoint(*bytes, path, fingerprint, leaf_count, metric_count);
  if (!c.ok()) return FailedPrecondition(c.status().message() + "; move it away to rebuild this replica from the stream");
  return c;
}

Result<ReplicaCheckpoint> ParseCheckpoint(const std::string& bytes, const std::string& what, uint64_t fingerprint,
                                          size_t leaf_count, size_t metric_count) {
  ReplicaCheckpoint c;
  auto bad = [&](const std::string& why) { return FailedPrecondition(what + ": " + why); };
  if (bytes.size() < sizeof kMagic + 8 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return bad("not a gridtree checkpoint");
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != Fnv1a(bytes.data(), bytes.size() - 8)) return bad("checksum mismatch (damaged)");
  size_t at = sizeof kMagic;
  const size_t end = bytes.size() - 8;
  auto get = [&](void* v, size_t n) {
    if (end - at < n) return false;
    std::memcpy(v, bytes.data() + at, n);
    at += n;
    return true;
  };
  uint64_t metrics = 0, values = 0, objects = 0;
  if (!get(&c.fingerprint, 8) || !get(&c.position, 8) || !get(&c.log_time, 8) || !get(&metrics, 8) || !get(&values, 8))
    return bad("cut short");
  if (c.fingerprint != fingerprint)
    return bad("belongs to another image (fingerprint " + std::to_string(c.fingerprint) + ", this one has " +
               std::to_string(fingerprint) + ")");
  if (metrics != metric_count || values != leaf_count * metric_count) return bad("holds another number of values");
  c.metric_count = metrics;
  c.leaf_values.resize(values);
  if (!get(c.leaf_values.data(), values * 8) || !get(&objects, 8)) return bad("cut short");
  for (uint64_t i = 0; i < objects; ++i) {
    ObjectReport o;
    uint32_t n = 0;
    if (!get(&n, 4) || end - at < n) return bad("cut short");
    o.id.assign(bytes.data() + at, n);
    at += n;
    if (!get(&n, 4) || end - at < n) return bad("cut short");
    o.kind.assign(bytes.data() + at, n);
    at += n;
    if (!get(&o.lon, 8) || !get(&o.lat, 8) || !get(&o.time, 8)) return bad("cut short");
    c.objects.push_back(std::move(o));
  }
  if (at != end) return bad("trailing bytes");
  return c;
}

Status RestoreCheckpoint(Engine& engine, const ReplicaCheckpoint& c) {
  auto view = engine.Read();
  const Dataset& ds = view->dataset();
  UpdateBatch batch;
  for (size_t leaf = 0; leaf < ds.leaf_count(); ++leaf) {
    const NodeId node = view->NodeOf(LeafId(static_cast<int32_t>(leaf)));
    for (size_t m = 0; m < c.metric_count; ++m) {
      const int64_t want = c.leaf_values[leaf * c.metric_count + m];
      if (view->Metric(node, static_cast<int>(m)) == want) continue;
      batch.updates.push_back({std::string(view->id(node)), ds.metric_names[m], MetricUpdate::Op::kSet, want});
    }
  }
  if (!batch.updates.empty())
    if (auto r = engine.Apply(batch); !r.ok()) return r.status();
  // Placed again at the checkpoint's log time, so that expiry and the
  // future-time check judge them as the log did.
  int64_t now = c.log_time;
  for (const ObjectReport& o : c.objects) now = std::max(now, o.time);
  constexpr size_t kChunk = 1000;
  for (size_t i = 0; i < c.objects.size(); i += kChunk) {
    const size_t n = std::min(kChunk, c.objects.size() - i);
    if (auto r = engine.Track(std::span<const ObjectReport>(c.objects.data() + i, n), now); !r.ok())
      return r.status();
  }
  return Status::Ok();
}

}  // namespace gridtree::cluster

// Engine values <-> Cap'n Proto values, and the Status -> kj::Exception map.
#include "convert.h"

#include "gridtree/rpc/write_log.h"

#include <kj/debug.h>

#include <algorithm>
#include <cmath>

#include "gridtree/engine/region.h"
#include "state.h"

namespace gridtree::rpc::internal {

void ThrowFailed(std::string message) {
  kj::throwFatalException(kj::Exception(kj::Exception::Type::FAILED, __FILE__, __LINE__, kj::str(message)));
}

void CheckLimit(const char* field, const char* what, size_t count, size_t limit, const char* option) {
  if (count > limit)
    ThrowFailed(std::string(field) + ": " + std::to_string(count) + " " + what + " exceed " + option + " " +
                std::to_string(limit));
}

void ThrowOverloaded(std::string message) {
  kj::throwFatalException(kj::Exception(kj::Exception::Type::OVERLOADED, __FILE__, __LINE__, kj::str(message)));
}

// docs/rpc.md "Errors": OVERLOADED for kOverloaded; FAILED for the rest,
// the message starting with the kind ("not found: ...", "internal: ...",
// "invalid argument: ...") so that HTTP and clients can tell them apart.
void ThrowStatus(const Status& status) {
  if (status.code() == StatusCode::kOverloaded) ThrowOverloaded(status.message());
  ThrowFailed(status.ToString());
}

proto::Level ToProto(Level level) { return static_cast<proto::Level>(static_cast<uint16_t>(level)); }

Level FromProto(proto::Level level) {
  const auto v = static_cast<uint16_t>(level);
  if (v >= kLevelCount) ThrowFailed("level: unknown level " + std::to_string(v));
  return static_cast<Level>(v);
}

namespace {
kj::StringPtr Text(std::string_view s) {
  // Ids and names come from the dataset and live as long as the view; the
  // builders copy them.
  return kj::StringPtr(s.data(), s.size());
}

void SetText(proto::NodeRef::Builder out, std::string_view id, std::string_view name) {
  out.setId(capnp::Text::Reader(id.data(), id.size()));
  out.setName(capnp::Text::Reader(name.data(), name.size()));
}

void FillBounds(proto::Bounds::Builder out, const index::Box& b) {
  out.setWest(b.min_x);
  out.setSouth(b.min_y);
  out.setEast(b.max_x);
  out.setNorth(b.max_y);
}
}  // namespace

void FillNodeRef(proto::NodeRef::Builder out, const View& view, NodeId node) {
  SetText(out, view.id(node), view.name(node));
  out.setLevel(ToProto(view.level(node)));
  out.setNumber(node.value);
}

void FillChain(capnp::List<proto::NodeRef>::Builder out, const View& view, const Chain& chain) {
  for (int i = 0; i < chain.size; ++i) FillNodeRef(out[i], view, chain.nodes[i]);
}

NodeId RequireNode(const View& view, kj::StringPtr id, const char* field) {
  auto n = view.Find(std::string_view(id.begin(), id.size()));
  if (!n) ThrowStatus(NotFound(std::string(field) + ": unknown node id \"" + EscapeText(std::string_view(id.begin(), id.size()), 128) + "\""));
  return *n;
}

void FillInfo(proto::Info::Builder out, const View& view, const ServerOptions& options) {
  const Dataset& ds = view.dataset();
  out.setDatasetVersion(view.dataset_version());
  out.setVersion(view.version());
  out.setSource(Text(ds.source));
  out.setFingerprint(ds.fingerprint);
  int64_t counts[kLevelCount] = {};
  for (Level l : ds.levels) ++counts[static_cast<int>(l)];
  auto c = out.initCountsPerLevel(kLevelCount);
  for (int i = 0; i < kLevelCount; ++i) c.set(i, counts[i]);
  out.setNodes(static_cast<int64_t>(ds.node_count()));
  out.setLeaves(static_cast<int64_t>(ds.leaf_count()));
  auto names = out.initMetricNames(static_cast<unsigned>(view.metric_count()));
  for (size_t i = 0; i < view.metric_count(); ++i) {
    const std::string_view name = view.metric_name(static_cast<int>(i));
    names.set(static_cast<unsigned>(i), capnp::Text::Reader(name.data(), name.size()));
  }
  out.setObjectsVersion(view.objects_version());
  FillBounds(out.initBounds(), view.spatial_index().extent());
  auto lim = out.initLimits();
  lim.setMaxMessageBytes(options.max_message_bytes);
  if (options.write_log) {
    const ReplicaStatus r = options.write_log->status();
    out.setPosition(r.position);
    out.setLag(r.lag);
    out.setDigest(r.digest);
    out.setDigestPosition(r.digest_position);
    out.setReady(r.ready);
    out.setReplication(Text(r.log));
    out.setSkippedMessages(r.skipped_messages);
  } else {
    out.setReady(true);
  }
  lim.setMaxPointsPerBatch(options.max_points_per_batch);
  lim.setMaxCallsInFlightPerConnection(options.max_calls_in_flight_per_connection);
  lim.setMaxQueuedWork(options.max_queued_work);
  lim.setMaxWatchIds(options.max_ids_per_watch);
  lim.setMaxUpdatesPerBatch(options.max_updates_per_batch);
  lim.setMaxAggregateIds(options.max_ids_per_aggregate);
  lim.setMaxTopK(options.max_top_k);
  lim.setMaxConnections(options.max_connections);
  lim.setMaxReportsPerBatch(options.max_reports_per_batch);
  lim.setMaxWatchesPerConnection(options.max_watches_per_connection);
  out.setWritable(!options.writer_token.empty());
}

void FillNodeInfo(proto::NodeInfo::Builder out, const View& view, NodeId node) {
  const Dataset& ds = view.dataset();
  FillNodeRef(out.initNode(), view, node);
  out.setKind(Text(view.kind(node)));
  const NodeId parent = view.Parent(node);
  out.setParent(parent.valid() ? Text(view.id(parent)) : kj::StringPtr(""));
  out.setChildCount(static_cast<uint32_t>(view.Children(node).size()));
  out.setLeaf(view.LeafOf(node).value);
  out.setAreaKm2(view.AreaKm2(node));
  FillBounds(out.initBounds(), ds.node_bounds[node.value]);
  auto m = out.initMetrics(static_cast<unsigned>(view.metric_count()));
  for (size_t i = 0; i < view.metric_count(); ++i) m.set(static_cast<unsigned>(i), view.Metric(node, static_cast<int>(i)));
  out.setVersion(view.version());
  out.setDatasetVersion(view.dataset_version());
}

void FillTopK(capnp::List<proto::TopEntry>::Builder out, const View& view, const TopKResult& r, bool density) {
  for (size_t i = 0; i < r.entries.size(); ++i) {
    const TopEntry& e = r.entries[i];
    auto o = out[static_cast<unsigned>(i)];
    FillNodeRef(o.initNode(), view, e.node);
    o.setCount(e.value);
    o.setValue(density ? e.density : static_cast<double>(e.value));
  }
}

void FillAggregate(proto::Aggregate::Builder out, const View& view, NodeId node) {
  FillNodeRef(out.initNode(), view, node);
  const size_t n = view.metric_count();
  auto m = out.initValues(static_cast<unsigned>(n));
  for (size_t i = 0; i < n; ++i) m.set(static_cast<unsigned>(i), view.Metric(node, static_cast<int>(i)));
}

void FillLocate(proto::LocateResult::Builder out, const View& view, const LocateResult& r) {
  out.setFound(r.hit());
  out.setLeaf(r.hit() ? r.leaf.value : -1);
  out.setSnapped(r.snapped);
  out.setDistanceM(r.distance_m);
  out.setVersion(view.version());
  out.setDatasetVersion(view.dataset_version());
  if (r.hit()) {
    const Chain c = view.ChainOf(r.node);
    FillChain(out.initChain(static_cast<unsigned>(c.size)), view, c);
  } else {
    out.initChain(0);
  }
}

void FillRegionResult(proto::RegionResult::Builder out, const View& view, const RegionResult& r) {
  auto t = out.initTotal(static_cast<unsigned>(r.total.size()));
  for (size_t i = 0; i < r.total.size(); ++i) t.set(static_cast<unsigned>(i), r.total[i]);
  auto rows = out.initRows(static_cast<unsigned>(r.rows.size()));
  for (size_t i = 0; i < r.rows.size(); ++i) {
    auto row = rows[static_cast<unsigned>(i)];
    FillNodeRef(row.initNode(), view, r.rows[i].node);
    auto v = row.initValues(static_cast<unsigned>(r.rows[i].values.size()));
    for (size_t j = 0; j < r.rows[i].values.size(); ++j) v.set(static_cast<unsigned>(j), r.rows[i].values[j]);
    auto c = row.initCounts(static_cast<unsigned>(r.rows[i].counts.size()));
    for (size_t j = 0; j < r.rows[i].counts.size(); ++j) c.set(static_cast<unsigned>(j), r.rows[i].counts[j]);
  }
  auto c = out.initCounts(static_cast<unsigned>(r.counts.size()));
  for (size_t j = 0; j < r.counts.size(); ++j) c.set(static_cast<unsigned>(j), r.counts[j]);
  out.setLeaves(r.leaves);
  out.setVersion(r.version);
  out.setDatasetVersion(r.dataset_version);
}

namespace {
double Finite(double v, const std::string& field) {
  if (!std::isfinite(v)) ThrowFailed(field + ": must be a finite number");
  return v;
}

Region RegionFromProto(proto::Region::Reader r) {
  switch (r.which()) {
    case proto::Region::BOX: {
      auto b = r.getBox();
      const double w = Finite(b.getWest(), "query.region.box.west"), s = Finite(b.getSouth(), "query.region.box.south");
      const double e = Finite(b.getEast(), "query.region.box.east"), n = Finite(b.getNorth(), "query.region.box.north");
      if (w > e) ThrowFailed("query.region.box: west > east");
      if (s > n) ThrowFailed("query.region.box: south > north");
      return BoxRegion(w, s, e, n);
    }
    case proto::Region::CIRCLE: {
      auto c = r.getCircle();
      const double lon = Finite(c.getLon(), "query.region.circle.lon");
      const double lat = Finite(c.getLat(), "query.region.circle.lat");
      const double m = Finite(c.getRadiusM(), "query.region.circle.radiusM");
      if (m <= 0) ThrowFailed("query.region.circle.radiusM: must be > 0");
      if (lat < -90 || lat > 90) ThrowFailed("query.region.circle.lat: outside [-90, 90]");
      return CircleRegion(lon, lat, m);
    }
    case proto::Region::POLYGON: {
      index::MultiPolygon mp;
      auto parts = r.getPolygon();
      if (parts.size() == 0) ThrowFailed("query.region.polygon: no parts");
      for (auto part : parts) {
        index::Polygon poly;
        if (part.getRings().size() == 0) ThrowFailed("query.region.polygon: a part without rings");
        for (auto ring : part.getRings()) {
          index::Ring pts;
          for (auto p : ring.getPoints())
            pts.push_back({Finite(p.getLon(), "query.region.polygon.lon"), Finite(p.getLat(), "query.region.polygon.lat")});
          if (pts.size() > 1 && pts.front() == pts.back()) pts.pop_back();
          if (pts.size() < 3) ThrowFailed("query.region.polygon: a ring has fewer than 3 distinct points");
          // Outer rings counter-clockwise, holes clockwise (index::Ring).
          const bool outer = poly.rings.empty();
          if ((index::SignedArea(pts) > 0) != outer) std::reverse(pts.begin(), pts.end());
          poly.rings.push_back(std::move(pts));
        }
        mp.parts.push_back(std::move(poly));
      }
      auto region = PolygonRegion(std::move(mp));
      if (!region.ok()) ThrowFailed("query.region.polygon: " + region.status().message());
      return std::move(region).value();
    }
    case proto::Region::WKT: {
      auto res = ParseRegionWkt(std::string_view(r.getWkt().begin(), r.getWkt().size()));
      if (!res.ok()) ThrowFailed("query.region.wkt: " + res.status().message());
      return std::move(res).value();
    }
    case proto::Region::GEO_JSON: {
      auto res = ParseRegionGeoJson(std::string_view(r.getGeoJson().begin(), r.getGeoJson().size()));
      if (!res.ok()) ThrowFailed("query.region.geoJson: " + res.status().message());
      return std::move(res).value();
    }
  }
  ThrowFailed("query.region: unknown kind");
}
}  // namespace

RegionQuery RegionQueryFromProto(proto::RegionQuery::Reader q) {
  RegionQuery out;
  if (!q.hasRegion()) ThrowFailed("query.region: missing");
  out.region = RegionFromProto(q.getRegion());
  switch (q.getMode()) {
    case proto::RegionMode::INTERSECTING: out.mode = RegionMode::kIntersecting; break;
    case proto::RegionMode::CONTAINED: out.mode = RegionMode::kContained; break;
    case proto::RegionMode::AREA_WEIGHTED: out.mode = RegionMode::kAreaWeighted; break;
    default: ThrowFailed("query.mode: unknown mode " + std::to_string(static_cast<int>(q.getMode())));
  }
  if (q.getGroupBy().isLevel()) out.group_by = FromProto(q.getGroupBy().getLevel());
  return out;
}

UpdateBatch UpdatesFromProto(capnp::List<proto::MetricUpdate>::Reader updates) {
  UpdateBatch batch;
  batch.updates.reserve(updates.size());
  for (unsigned i = 0; i < updates.size(); ++i) {
    auto u = updates[i];
    const std::string where = "updates[" + std::to_string(i) + "]";
    MetricUpdate m;
    m.leaf_id = u.getLeaf();
    m.metric = u.getMetric();
    if (m.leaf_id.empty()) ThrowFailed(where + ".leaf: empty");
    if (m.metric.empty()) ThrowFailed(where + ".metric: empty");
    switch (u.getOp()) {
      case proto::MetricUpdate::Op::SET: m.op = MetricUpdate::Op::kSet; break;
      case proto::MetricUpdate::Op::ADD: m.op = MetricUpdate::Op::kAdd; break;
      default: ThrowFailed(where + ".op: unknown op");
    }
    m.value = u.getValue();
    if (m.op == MetricUpdate::Op::kSet && m.value < 0) ThrowFailed(where + ".value: a set value must be >= 0");
    batch.updates.push_back(std::move(m));
  }
  return batch;
}

std::vector<ObjectReport> ReportsFromProto(capnp::List<proto::ObjectReport>::Reader reports) {
  std::vector<ObjectReport> out(reports.size());
  for (unsigned i = 0; i < reports.size(); ++i) {
    auto r = reports[i];
    // Each text read once: every get counts against the traversal limit,
    // which a request near max_message_bytes would otherwise pass.
    const capnp::Text::Reader id = r.getId(), kind = r.getKind();
    out[i].id.assign(id.begin(), id.size());
    out[i].kind.assign(kind.begin(), kind.size());
    out[i].lon = r.getLon();
    out[i].lat = r.getLat();
    out[i].time = r.getTime();
  }
  return out;
}

ObjectQuery ObjectQueryFromProto(proto::ObjectQuery::Reader q) {
  ObjectQuery out;
  auto where = q.getWhere();
  switch (where.which()) {
    case proto::ObjectQuery::Where::ALL: break;
    case proto::ObjectQuery::Where::NODE: out.node_id = std::string(where.getNode().cStr()); break;
    case proto::ObjectQuery::Where::BOX: {
      auto b = where.getBox();
      if (!(b.getWest() <= b.getEast() && b.getSouth() <= b.getNorth()))
        ThrowFailed("query.where.box: west <= east and south <= north are required");
      out.box = index::Box{b.getWest(), b.getSouth(), b.getEast(), b.getNorth()};
      break;
    }
    case proto::ObjectQuery::Where::CIRCLE: {
      auto c = where.getCircle();
      out.center = index::Point{c.getLon(), c.getLat()};
      out.radius_m = c.getRadiusM();
      break;
    }
    default: ThrowFailed("query.where: unknown choice");
  }
  out.kind.assign(q.getKind().begin(), q.getKind().size());
  out.offset = q.getOffset();
  out.limit = q.getLimit();
  return out;
}

void FillTrackedObject(proto::TrackedObject::Builder out, const TrackedObject& o) {
  out.setId(o.id);
  out.setKind(o.kind);
  out.setLon(o.lon);
  out.setLat(o.lat);
  out.setTime(o.time);
  out.setLeaf(o.leaf_id);
  out.setDistanceM(o.distance_m);
}

void FillObjectEvent(proto::ObjectEvent::Builder out, const ObjectEvent& e) {
  out.setType(e.type == ObjectEvent::Type::kEnter ? proto::ObjectEvent::Type::ENTER : proto::ObjectEvent::Type::EXIT);
  out.setObjectId(e.object_id);
  out.setKind(e.kind);
  out.setNode(e.node_id);
  out.setLevel(ToProto(e.level));
  out.setExpired(e.expired);
  out.setTime(e.time);
  out.setLon(e.lon);
  out.setLat(e.lat);
}

bool TokenEquals(std::string_view presented, std::string_view expected) {
  // Runs over the whole presented token whatever matches, so the time does
  // not tell how much of a guess was right.
  volatile unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  if (expected.empty()) return false;
  for (size_t i = 0; i < presented.size(); ++i)
    diff = static_cast<unsigned char>(diff | (static_cast<unsigned char>(presented[i]) ^
                                              static_cast<unsigned char>(expected[i % expected.size()])));
  return diff == 0;
}

}  // namespace gridtree::rpc::internal

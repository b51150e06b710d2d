#include "gridtree/rpc/answer_json.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>

#include <capnp/message.h>
#include <capnp/orphan.h>

#include "convert.h"
#include "gridtree/engine/json_text.h"
#include "gridtree/engine/level.h"

namespace gridtree::rpc {
namespace {

// Appends `"key":` after a comma unless the object is just opened.
void Key(std::string& out, std::string_view key) {
  if (out.back() != '{') out += ',';
  AppendJsonString(out, key);
  out += ':';
}

void Text(std::string& out, std::string_view key, capnp::Text::Reader t) {
  Key(out, key);
  AppendJsonString(out, std::string_view(t.begin(), t.size()));
}

// Integers are JSON numbers (docs/json.md "Integers").
void Int(std::string& out, std::string_view key, int64_t v) {
  Key(out, key);
  out += std::to_string(v);
}
void UInt(std::string& out, std::string_view key, uint64_t v) {
  Key(out, key);
  out += std::to_string(v);
}

void Bool(std::string& out, std::string_view key, bool v) {
  Key(out, key);
  out += v ? "true" : "false";
}

// A hash is an identifier, not a quantity: 16 hex digits, so that it
// survives JavaScript's doubles and reads the same as in the logs.
void Hash(std::string& out, std::string_view key, uint64_t v) {
  Key(out, key);
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"%016" PRIx64 "\"", v);
  out += buf;
}

// Two decimals: a share of a population is not more precise than that.
void AppendRounded(std::string& out, double v) { AppendJsonNumber(out, std::round(v * 100) / 100); }

void AppendLevel(std::string& out, proto::Level level) {
  AppendJsonString(out, LevelName(static_cast<Level>(static_cast<int>(level))));
}

void Versions(std::string& out, uint64_t dataset_version, uint64_t version) {
  UInt(out, "dataset_version", dataset_version);
  UInt(out, "version", version);
}

// The members of a node reference, into an object already opened.
void NodeRefMembers(std::string& out, proto::NodeRef::Reader n) {
  Text(out, "id", n.getId());
  Text(out, "name", n.getName());
  Key(out, "level");
  AppendLevel(out, n.getLevel());
}

void NodeRefs(std::string& out, std::string_view key, capnp::List<proto::NodeRef>::Reader refs) {
  Key(out, key);
  out += '[';
  for (unsigned i = 0; i < refs.size(); ++i) {
    out += i ? ",{" : "{";
    NodeRefMembers(out, refs[i]);
    out += '}';
  }
  out += ']';
}

// [west,south,east,north], as /search writes a node's bounds.
void Bounds(std::string& out, std::string_view key, proto::Bounds::Reader b) {
  Key(out, key);
  const double v[4] = {b.getWest(), b.getSouth(), b.getEast(), b.getNorth()};
  out += '[';
  for (int k = 0; k < 4; ++k) {
    if (k) out += ',';
    AppendJsonNumber(out, v[k]);
  }
  out += ']';
}

// "metrics":{"population":123,...}: the exact integers when `counts` has
// them, else the doubles rounded.
void Metrics(std::string& out, std::string_view key, const MetricNames& names, capnp::List<int64_t>::Reader counts,
             capnp::List<double>::Reader values) {
  Key(out, key);
  out += '{';
  const bool exact = counts.size() > 0;
  const size_t n = std::min<size_t>(names.size(), exact ? counts.size() : values.size());
  for (unsigned j = 0; j < n; ++j) {
    if (j) out += ',';
    AppendJsonString(out, names[j]);
    out += ':';
    if (exact) AppendJsonNumber(out, counts[j]);
    else AppendRounded(out, values[j]);
  }
  out += '}';
}

void Counts(std::string& out, std::string_view key, const MetricNames& names, capnp::List<int64_t>::Reader counts) {
  Metrics(out, key, names, counts, capnp::List<double>::Reader());
}

}  // namespace

std::string InfoJson(proto::Info::Reader info) {
  std::string out = "{";
  Versions(out, info.getDatasetVersion(), info.getVersion());
  UInt(out, "objects_version", info.getObjectsVersion());
  Text(out, "source", info.getSource());
  Hash(out, "fingerprint", info.getFingerprint());
  Int(out, "nodes", info.getNodes());
  Int(out, "leaves", info.getLeaves());
  // By level name, as metrics are by metric name.
  Key(out, "counts_per_level");
  out += '{';
  for (unsigned l = 0; l < info.getCountsPerLevel().size(); ++l) {
    if (l) out += ',';
    AppendLevel(out, static_cast<proto::Level>(l));
    out += ':';
    AppendJsonNumber(out, info.getCountsPerLevel()[l]);
  }
  out += '}';
  Key(out, "metric_names");
  out += '[';
  for (unsigned j = 0; j < info.getMetricNames().size(); ++j) {
    if (j) out += ',';
    auto name = info.getMetricNames()[j];
    AppendJsonString(out, std::string_view(name.begin(), name.size()));
  }
  out += ']';
  Bounds(out, "bounds", info.getBounds());
  auto l = info.getLimits();
  Key(out, "limits");
  out += '{';
  UInt(out, "max_message_bytes", l.getMaxMessageBytes());
  UInt(out, "max_points_per_batch", l.getMaxPointsPerBatch());
  UInt(out, "max_calls_in_flight_per_connection", l.getMaxCallsInFlightPerConnection());
  UInt(out, "max_queued_work", l.getMaxQueuedWork());
  UInt(out, "max_watch_ids", l.getMaxWatchIds());
  UInt(out, "max_updates_per_batch", l.getMaxUpdatesPerBatch());
  UInt(out, "max_aggregate_ids", l.getMaxAggregateIds());
  UInt(out, "max_top_k", l.getMaxTopK());
  UInt(out, "max_connections", l.getMaxConnections());
  UInt(out, "max_reports_per_batch", l.getMaxReportsPerBatch());
  UInt(out, "max_watches_per_connection", l.getMaxWatchesPerConnection());
  out += '}';
  Bool(out, "writable", info.getWritable());
  UInt(out, "position", info.getPosition());
  UInt(out, "lag", info.getLag());
  Hash(out, "digest", info.getDigest());
  UInt(out, "digest_position", info.getDigestPosition());
  Bool(out, "ready", info.getReady());
  Text(out, "replication", info.getReplication());
  UInt(out, "skipped_messages", info.getSkippedMessages());
  return out + '}';
}

std::string LocateJson(proto::LocateResult::Reader result) {
  std::string out = "{";
  Bool(out, "found", result.getFound());
  Bool(out, "snapped", result.getSnapped());
  Key(out, "distance_m");
  AppendJsonNumber(out, result.getDistanceM());
  NodeRefs(out, "chain", result.getChain());
  Versions(out, result.getDatasetVersion(), result.getVersion());
  return out + '}';
}

std::string NodeJson(proto::NodeInfo::Reader node, const MetricNames& names) {
  std::string out = "{";
  NodeRefMembers(out, node.getNode());
  Text(out, "kind", node.getKind());
  Text(out, "parent", node.getParent());
  UInt(out, "child_count", node.getChildCount());
  Key(out, "area_km2");
  AppendRounded(out, node.getAreaKm2());
  Bounds(out, "bounds", node.getBounds());
  Counts(out, "metrics", names, node.getMetrics());
  Versions(out, node.getDatasetVersion(), node.getVersion());
  return out + '}';
}

std::string ChildrenJson(capnp::List<proto::NodeRef>::Reader children, uint64_t dataset_version) {
  std::string out = "{";
  NodeRefs(out, "children", children);
  UInt(out, "dataset_version", dataset_version);
  return out + '}';
}

std::string PathJson(capnp::List<proto::NodeRef>::Reader chain, uint64_t dataset_version) {
  std::string out = "{";
  NodeRefs(out, "chain", chain);
  UInt(out, "dataset_version", dataset_version);
  return out + '}';
}

std::string AggregatesJson(capnp::List<proto::Aggregate>::Reader aggregates, uint64_t dataset_version, uint64_t version,
                           const MetricNames& names) {
  std::string out = "{\"nodes\":[";
  for (unsigned i = 0; i < aggregates.size(); ++i) {
    out += i ? ",{" : "{";
    NodeRefMembers(out, aggregates[i].getNode());
    Counts(out, "metrics", names, aggregates[i].getValues());
    out += '}';
  }
  out += ']';
  Versions(out, dataset_version, version);
  return out + '}';
}

std::string RegionJson(proto::RegionResult::Reader result, const MetricNames& names) {
  std::string out = "{";
  Int(out, "leaves", result.getLeaves());
  Metrics(out, "metrics", names, result.getCounts(), result.getTotal());
  // Always present (empty without group_by): one shape per answer.
  Key(out, "rows");
  out += '[';
  for (unsigned i = 0; i < result.getRows().size(); ++i) {
    auto row = result.getRows()[i];
    out += i ? ",{" : "{";
    NodeRefMembers(out, row.getNode());
    Metrics(out, "metrics", names, row.getCounts(), row.getValues());
    out += '}';
  }
  out += ']';
  Versions(out, result.getDatasetVersion(), result.getVersion());
  return out + '}';
}

std::string TopKJson(capnp::List<proto::TopEntry>::Reader entries, std::string_view metric, bool density,
                     uint64_t dataset_version, uint64_t version) {
  std::string out = "{";
  Key(out, "metric");
  AppendJsonString(out, metric);
  Bool(out, "density", density);
  Key(out, "entries");
  out += '[';
  for (unsigned i = 0; i < entries.size(); ++i) {
    out += i ? ",{" : "{";
    NodeRefMembers(out, entries[i].getNode());
    Key(out, "metrics");
    out += '{';
    AppendJsonString(out, metric);
    out += ':';
    AppendJsonNumber(out, entries[i].getCount());
    out += '}';
    if (density) {
      Key(out, "per_km2");
      out += '{';
      AppendJsonString(out, metric);
      out += ':';
      AppendRounded(out, entries[i].getValue());
      out += '}';
    }
    out += '}';
  }
  out += ']';
  Versions(out, dataset_version, version);
  return out + '}';
}

namespace {
MetricNames NamesOf(const View& view) {
  MetricNames names;
  for (size_t j = 0; j < view.metric_count(); ++j) names.emplace_back(view.metric_name(static_cast<int>(j)));
  return names;
}
}  // namespace

std::string NodeJson(const View& view, NodeId node) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<proto::NodeInfo>();
  internal::FillNodeInfo(out, view, node);
  return NodeJson(out.asReader(), NamesOf(view));
}

std::string RegionJson(const View& view, const RegionResult& result) {
  capnp::MallocMessageBuilder message;
  auto out = message.initRoot<proto::RegionResult>();
  internal::FillRegionResult(out, view, result);
  return RegionJson(out.asReader(), NamesOf(view));
}

std::string TopKJson(const View& view, const TopKResult& result, std::string_view metric, bool density) {
  capnp::MallocMessageBuilder message;
  auto orphan = message.getOrphanage().newOrphan<capnp::List<proto::TopEntry>>(
      static_cast<unsigned>(result.entries.size()));
  auto entries = orphan.get();
  internal::FillTopK(entries, view, result, density);
  return TopKJson(entries.asReader(), metric, density, view.dataset_version(), view.version());
}

}  // namespace gridtree::rpc

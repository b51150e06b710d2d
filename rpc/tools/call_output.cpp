#include "call_output.h"

#include <cmath>

#include "gridtree/engine/level.h"
#include "gridtree/engine/json_text.h"

namespace gridtree::cli {
namespace {

std::string_view Text(capnp::Text::Reader t) { return std::string_view(t.begin(), t.size()); }

// Two decimals: a share of a population is not more precise than that.
void AppendRounded(std::string& out, double v) { AppendJsonNumber(out, std::round(v * 100) / 100); }

void AppendNodeRef(std::string& out, proto::NodeRef::Reader n) {
  out += "\"id\":";
  AppendJsonString(out, Text(n.getId()));
  out += ",\"name\":";
  AppendJsonString(out, Text(n.getName()));
  out += ",\"level\":";
  AppendJsonString(out, LevelName(static_cast<Level>(static_cast<int>(n.getLevel()))));
}

void AppendVersions(std::string& out, uint64_t dataset_version, uint64_t version) {
  out += "\"dataset_version\":" + std::to_string(dataset_version) + ",\"version\":" + std::to_string(version);
}

// {"population":123,...}: exact integers when `counts` has the values, else
// the doubles rounded.
void AppendMetrics(std::string& out, const std::vector<std::string>& names, capnp::List<int64_t>::Reader counts,
                   capnp::List<double>::Reader values) {
  out += '{';
  const bool exact = counts.size() > 0;
  for (unsigned j = 0; j < names.size(); ++j) {
    if (j) out += ',';
    AppendJsonString(out, names[j]);
    out += ':';
    if (exact && j < counts.size()) AppendJsonNumber(out, counts[j]);
    else if (!exact && j < values.size()) AppendRounded(out, values[j]);
    else out += "null";
  }
  out += '}';
}

void AppendCounts(std::string& out, const std::vector<std::string>& names, capnp::List<int64_t>::Reader counts) {
  AppendMetrics(out, names, counts, capnp::List<double>::Reader());
}

}  // namespace

std::string NodeInfoJson(proto::NodeInfo::Reader node, const std::vector<std::string>& metric_names) {
  std::string out = "{";
  AppendNodeRef(out, node.getNode());
  out += ",\"kind\":";
  AppendJsonString(out, Text(node.getKind()));
  out += ",\"parent\":";
  AppendJsonString(out, Text(node.getParent()));
  out += ",\"children\":" + std::to_string(node.getChildCount()) + ",\"area_km2\":";
  AppendRounded(out, node.getAreaKm2());
  out += ",\"metrics\":";
  AppendCounts(out, metric_names, node.getMetrics());
  out += ',';
  AppendVersions(out, node.getDatasetVersion(), node.getVersion());
  return out + '}';
}

std::string AggregatesJson(capnp::List<proto::Aggregate>::Reader aggregates, uint64_t dataset_version,
                           uint64_t version, const std::vector<std::string>& metric_names) {
  std::string out = "{\"nodes\":[";
  for (unsigned i = 0; i < aggregates.size(); ++i) {
    if (i) out += ',';
    out += '{';
    AppendNodeRef(out, aggregates[i].getNode());
    out += ",\"metrics\":";
    AppendCounts(out, metric_names, aggregates[i].getValues());
    out += '}';
  }
  out += "],";
  AppendVersions(out, dataset_version, version);
  return out + '}';
}

std::string RegionJson(proto::RegionResult::Reader result, const std::vector<std::string>& metric_names) {
  std::string out = "{\"leaves\":" + std::to_string(result.getLeaves()) + ",\"metrics\":";
  AppendMetrics(out, metric_names, result.getCounts(), result.getTotal());
  if (result.getRows().size() > 0) {
    out += ",\"rows\":[";
    for (unsigned i = 0; i < result.getRows().size(); ++i) {
      auto row = result.getRows()[i];
      if (i) out += ',';
      out += '{';
      AppendNodeRef(out, row.getNode());
      out += ",\"metrics\":";
      AppendMetrics(out, metric_names, row.getCounts(), row.getValues());
      out += '}';
    }
    out += ']';
  }
  out += ',';
  AppendVersions(out, result.getDatasetVersion(), result.getVersion());
  return out + '}';
}

std::string TopKJson(capnp::List<proto::TopEntry>::Reader entries, const std::string& metric,
                     uint64_t dataset_version, uint64_t version, bool density) {
  std::string out = "{\"entries\":[";
  for (unsigned i = 0; i < entries.size(); ++i) {
    if (i) out += ',';
    out += '{';
    AppendNodeRef(out, entries[i].getNode());
    out += ',';
    AppendJsonString(out, metric);
    out += ':';
    AppendJsonNumber(out, entries[i].getCount());
    if (density) {
      out += ',';
      AppendJsonString(out, metric + "_per_km2");
      out += ':';
      AppendRounded(out, entries[i].getValue());
    }
    out += '}';
  }
  out += "],";
  AppendVersions(out, dataset_version, version);
  return out + '}';
}

}  // namespace gridtree::cli

// What `gridtree call` prints for the answers that carry metric values:
// one JSON object per answer, metrics named (`"metrics":{"population":…}`
// as `gridtree aggregate` prints them), exact counts as integers and
// area-weighted values or densities rounded to two decimals.
#pragma once

#include <string>
#include <vector>

#include "gridtree.capnp.h"

namespace gridtree::cli {

std::string NodeInfoJson(proto::NodeInfo::Reader node, const std::vector<std::string>& metric_names);
std::string AggregatesJson(capnp::List<proto::Aggregate>::Reader aggregates, uint64_t dataset_version,
                           uint64_t version, const std::vector<std::string>& metric_names);
std::string RegionJson(proto::RegionResult::Reader result, const std::vector<std::string>& metric_names);
// Each entry's metric under its name ("population":123) and, when ranked
// by density, "population_per_km2".
std::string TopKJson(capnp::List<proto::TopEntry>::Reader entries, const std::string& metric,
                     uint64_t dataset_version, uint64_t version, bool density);

}  // namespace gridtree::cli

// The JSON form of each read answer, written once for `gridtree call` and
// the HTTP port so that both print the same document for the same answer
// (docs/json.md). The vocabulary:
//   - every key snake_case;
//   - a node as {"id","name","level"} (level names as the command line
//     spells them: "micro_grid"); node numbers, which only mean something
//     within one dataset version, are not written;
//   - metrics always by name: "metrics":{"population":123,...}, exact counts
//     as integers, area-weighted shares and densities rounded to two decimals;
//   - every integer a JSON number (exact in JavaScript up to 2^53 - 1, which
//     no count or version reaches); the two 64-bit hashes of info
//     (fingerprint, digest) are identifiers, written as 16 hex digits;
//   - "dataset_version" and "version" (the metric version) on every answer
//     that depends on them, under those names.
// Functions are pure: readers in, text out (valid UTF-8 whatever the stored
// bytes), safe to call from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree.capnp.h"
#include "gridtree/engine/engine.h"

namespace gridtree::rpc {

// Metric names in Info.metricNames order: the key of each value in a
// "metrics" object. Values past the end of the names are not written (names
// fetched after an answer of the same dataset version are never shorter).
using MetricNames = std::vector<std::string>;

std::string InfoJson(proto::Info::Reader info);
std::string LocateJson(proto::LocateResult::Reader result);
std::string NodeJson(proto::NodeInfo::Reader node, const MetricNames& names);
std::string ChildrenJson(capnp::List<proto::NodeRef>::Reader children, uint64_t dataset_version);
std::string PathJson(capnp::List<proto::NodeRef>::Reader chain, uint64_t dataset_version);
// An aggregate answer and a watch push: the nodes under "nodes".
std::string AggregatesJson(capnp::List<proto::Aggregate>::Reader aggregates, uint64_t dataset_version, uint64_t version,
                           const MetricNames& names);
std::string RegionJson(proto::RegionResult::Reader result, const MetricNames& names);
// `metric` and `density` are the query's: each entry carries the metric's
// exact count under "metrics" and, when ranked by density, the density
// under "per_km2" (TopEntry.value, the ranking key, is not written as such).
std::string TopKJson(capnp::List<proto::TopEntry>::Reader entries, std::string_view metric, bool density,
                     uint64_t dataset_version, uint64_t version);

// The same documents for answers computed by an engine in this process
// (gridtree aggregate and top on a local file): the answer goes through the
// RPC form first, so that there is still one writer per answer.
std::string NodeJson(const View& view, NodeId node);
std::string RegionJson(const View& view, const RegionResult& result);
std::string TopKJson(const View& view, const TopKResult& result, std::string_view metric, bool density);

}  // namespace gridtree::rpc

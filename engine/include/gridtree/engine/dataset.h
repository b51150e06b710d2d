// Dataset: one loaded hierarchy, held flat. Nodes are stored in depth-first
// pre-order, so the subtree of node i is the contiguous range
// [i, subtree_end[i]). Metrics live on leaves; inner values are sums.
//
// Thread safety: a Dataset is immutable once loaded; const access from any
// number of threads is safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gridtree/engine/ids.h"
#include "gridtree/engine/level.h"
#include "gridtree/engine/status.h"
#include "gridtree/index/geometry.h"

namespace gridtree {

class Executor;

struct Dataset {
  std::string source;             // the file it was read from
  uint64_t fingerprint = 0;       // FNV-1a of ids, parents, levels, metric names and leaf geometry
  std::vector<std::string> metric_names;

  // Per node, in depth-first pre-order.
  std::vector<std::string> ids;
  std::vector<std::string> names;
  std::vector<std::string> kinds;  // "" when the feature has none
  std::vector<Level> levels;
  std::vector<int32_t> parents;      // -1 for a root
  std::vector<int32_t> subtree_end;  // one past the last node of the subtree
  std::vector<int32_t> child_begin;  // children of i: children[child_begin[i] .. child_begin[i+1])
  std::vector<NodeId> children;
  std::vector<int32_t> leaf_of_node;  // leaf number, or -1 for an inner node
  std::vector<index::Box> node_bounds;  // box of the node's leaves
  std::vector<double> node_area_km2;    // sum of its leaves' ellipsoidal areas
  std::vector<std::optional<index::MultiPolygon>> inner_geometry;  // per node; leaves keep theirs below

  // Per leaf, in the same order (leaf k is the k-th leaf met in pre-order).
  std::vector<int32_t> leaf_nodes;               // leaf -> node
  std::vector<index::MultiPolygon> leaf_geometry;  // moved into the index when an Engine opens
  std::vector<int64_t> leaf_metrics;             // leaf * metric_count + metric

  std::unordered_map<std::string, int32_t> node_by_id;

  size_t node_count() const { return ids.size(); }
  size_t leaf_count() const { return leaf_nodes.size(); }
  size_t metric_count() const { return metric_names.size(); }
  std::optional<int32_t> Find(std::string_view id) const;
  std::optional<int> MetricIndex(std::string_view name) const;
};

enum class Severity { kWarning, kError };

// One finding of the loader: where (file, feature number and id) and what.
struct Finding {
  Severity severity = Severity::kError;
  std::string file;
  int64_t feature = -1;  // 0-based feature number, -1 when not about one feature
  std::string id;
  std::string code;      // stable short name, e.g. "duplicate-id"
  std::string message;
  // Coverage findings (overlapping-siblings, outside-parent, coverage-gap):
  // the defect's area and a point inside it. DEFAULT: 0 and none
  double area_km2 = 0;
  std::optional<index::Point> point;

  // "data.geojson: feature 12 (id \"4407\"): error [duplicate-id]: ..."
  std::string ToString() const;
};

struct ValidationReport {
  std::vector<Finding> findings;
  int64_t features = 0;
  double parse_seconds = 0;
  double check_seconds = 0;

  size_t errors() const;
  size_t warnings() const;
  // "N error(s); first: <finding>" for error messages; empty when ok.
  std::string ErrorSummary() const;
  bool ok() const { return errors() == 0; }
};

struct LoadOptions {
  // Coverage tolerance (docs/dataset.md "Coverage"): an overlap between
  // siblings, a child's area outside its parent, or a part of a parent in no
  // child is an error when it is larger than this share of the parent (of
  // the child, for outside) and than min_defect_km2.
  // DEFAULT: 0.02 (2 %)
  double coverage_tolerance = 0.02;
  // DEFAULT: 0.001 km² (1,000 m²)
  double min_defect_km2 = 0.001;
  // Turns those coverage errors into warnings, for real-world data that
  // must be served anyway (docs/boundaries.md: who answers in an overlap).
  // DEFAULT: false
  bool lenient = false;
  // The exact pairwise overlap test between siblings runs on every node,
  // not only where the children's areas add up to more than the parent's
  // (which misses an overlap that a gap of the same size cancels). Slower.
  // DEFAULT: false
  bool check_sibling_overlaps = false;
  // Stop collecting findings after this many (the count still goes on).
  // DEFAULT: 1000
  size_t max_findings = 1000;
  // Threads for the geometry checks when no executor is given; 1 keeps
  // loading on the calling thread.
  // DEFAULT: 0 (one per hardware thread)
  int threads = 0;
  // Runs the geometry checks (Engine::Open and Engine::ReloadFrom pass the
  // engine's own). DEFAULT: none (loading makes one of `threads` threads)
  const Executor* executor = nullptr;
};

struct LoadResult {
  std::optional<Dataset> dataset;  // set when the report has no errors
  ValidationReport report;
};

// Reads a GeoJSON FeatureCollection, or a GeoJSON text sequence (one
// feature per line, optionally prefixed by RS), validates and flattens it.
LoadResult LoadDataset(const std::string& path, const LoadOptions& options = {});

// The same from text already in memory; name is used in findings.
// (LoadDataset also reads the binary snapshots SaveDatasetSnapshot writes,
// recognised by their first bytes.)
LoadResult LoadDatasetFromText(std::string_view text, const std::string& name, const LoadOptions& options = {});

// Writes the whole dataset (hierarchy, metrics and geometry) as a binary
// snapshot that LoadDataset reads in a fraction of the GeoJSON parse time.
// The dataset must still hold its leaf geometry (not yet given to an Engine).
Status SaveDatasetSnapshot(const Dataset& dataset, const std::string& path);

}  // namespace gridtree

// Dataset: one loaded hierarchy, held flat. Nodes are stored in depth-first
// pre-order, so the subtree of node i is the contiguous range
// [i, subtree_end[i]). Metrics live on leaves; inner values are sums.
//
// The columns own their values (read from GeoJSON) or borrow them from an
// engine image mapped into memory (docs/image.md), which `storage` keeps
// alive; copies share it.
//
// Thread safety: a Dataset is immutable once loaded; const access from any
// number of threads is safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/column.h"
#include "gridtree/engine/id_table.h"
#include "gridtree/engine/ids.h"
#include "gridtree/engine/level.h"
#include "gridtree/engine/status.h"
#include "gridtree/index/flat_polygons.h"
#include "gridtree/index/geometry.h"

namespace gridtree {

class Executor;

struct Dataset {
  std::string source;             // the file it was read from
  uint64_t fingerprint = 0;       // FNV-1a of ids, parents, levels, metric names and leaf geometry
  std::vector<std::string> metric_names;

  // Per node, in depth-first pre-order.
  StringColumn ids;
  StringColumn names;
  StringColumn kinds;  // "" when the feature has none
  Column<Level> levels;
  Column<int32_t> parents;      // -1 for a root
  Column<int32_t> subtree_end;  // one past the last node of the subtree
  Column<int32_t> child_begin;  // children of i: children[child_begin[i] .. child_begin[i+1])
  Column<NodeId> children;
  Column<int32_t> leaf_of_node;    // leaf number, or -1 for an inner node
  Column<index::Box> node_bounds;  // box of the node's leaves
  Column<double> node_area_km2;    // sum of its leaves' ellipsoidal areas
  // Per node: an inner node's own outline when the file gives one (a node
  // with no parts has none); leaves keep theirs in leaf_geometry / the index.
  index::FlatPolygons inner_geometry;

  // Per leaf, in the same order (leaf k is the k-th leaf met in pre-order).
  Column<int32_t> leaf_nodes;                      // leaf -> node
  std::vector<index::MultiPolygon> leaf_geometry;  // moved into the index when an Engine opens
  Column<int64_t> leaf_metrics;                    // leaf * metric_count + metric

  IdTable node_by_id;
  std::shared_ptr<const void> storage;  // the mapped image the columns borrow from, if any

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
  // engine's own), shared with the caller as EngineOptions::executor is.
  // DEFAULT: none (loading makes one of `threads` threads)
  std::shared_ptr<const Executor> executor;
};

struct LoadResult {
  std::optional<Dataset> dataset;  // set when the report has no errors
  ValidationReport report;
};

// Reads a GeoJSON FeatureCollection, or a GeoJSON text sequence (one
// feature per line, optionally prefixed by RS), validates and flattens it.
// An engine image (image.h) is read back as the dataset it was written
// from, with its leaf geometry; Engine::Open maps it instead.
LoadResult LoadDataset(const std::string& path, const LoadOptions& options = {});

// The same from text already in memory; name is used in findings.
LoadResult LoadDatasetFromText(std::string_view text, const std::string& name, const LoadOptions& options = {});

}  // namespace gridtree

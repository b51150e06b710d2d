// Reading an engine image into the parts of an engine (image.h).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "gridtree/engine/dataset.h"
#include "gridtree/index/polygon_index.h"

namespace gridtree::internal {

struct ImageContents {
  Dataset dataset;  // columns borrowed from the mapping (dataset.storage); no leaf_geometry
  std::unique_ptr<index::PolygonIndex> index;
  Column<int32_t> names_sorted;  // node numbers in order of name
  Column<int32_t> first_leaf;    // Topology::first_leaf
  // Every node's values, node * metric_count + metric, padded with zeros to
  // a whole number of chunks (PaddedNodeCount).
  std::span<const int64_t> node_values;
};

// The scalars of a dataset, one section.
struct ImageMeta {
  uint64_t fingerprint;
  uint64_t nodes;
  uint64_t leaves;
  uint64_t metrics;
};

// An image stores every node's metric values padded with zeros to whole
// chunks of this many nodes, the chunks of a MetricState, so that the
// engine's first state points into the mapping.
inline constexpr int32_t kImageNodeChunk = 64;

// The number of nodes rounded up to whole chunks of kImageNodeChunk.
inline size_t PaddedNodeCount(size_t node_count) {
  return (node_count + kImageNodeChunk - 1) / kImageNodeChunk * kImageNodeChunk;
}

// Maps and checks an image; errors name the file and the section.
Result<ImageContents> ReadEngineImage(const std::string& path);

// Whether the file starts as an engine image does (false when unreadable).
bool IsEngineImage(const std::string& path);

}  // namespace gridtree::internal

// Reading an engine image into the parts of an engine (image.h).
#pragma once

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
  // a whole number of MetricState chunks.
  std::span<const int64_t> node_values;
};

// Maps and checks an image; errors name the file and the section.
Result<ImageContents> ReadEngineImage(const std::string& path);

// Whether the file starts as an engine image does (false when unreadable).
bool IsEngineImage(const std::string& path);

}  // namespace gridtree::internal

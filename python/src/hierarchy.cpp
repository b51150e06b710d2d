#include "hierarchy.h"

#include <string>

#include "errors.h"

namespace gridtree::python {

Level ParseLevelOrThrow(std::string_view name) {
  if (auto level = ParseLevel(name)) return *level;
  ThrowBadInput("level: unknown level \"" + std::string(name) +
                "\" (city, county, town, community, grid or micro_grid)");
}

std::optional<Level> ParseLevelOrLeaf(std::string_view name) {
  if (name == "leaf") return std::nullopt;
  if (auto level = ParseLevel(name)) return level;
  ThrowBadInput("level: unknown level \"" + std::string(name) +
                "\" (city, county, town, community, grid, micro_grid or leaf)");
}

void LevelNodes(const HierarchyColumns& h, std::span<const int32_t> leaves, std::optional<Level> level,
                std::span<int32_t> out) {
  const int32_t leaf_count = static_cast<int32_t>(h.leaf_nodes.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    const int32_t leaf = leaves[i];
    if (leaf < -1 || leaf >= leaf_count)
      ThrowBadInput("leaves[" + std::to_string(i) + "]: " + std::to_string(leaf) + " is not a leaf number (0.." +
                    std::to_string(leaf_count - 1) + ", or -1 for a miss)");
    int32_t node = leaf < 0 ? -1 : h.leaf_nodes[leaf];
    if (level) {
      // Levels go strictly downward, so the walk is at most six steps.
      while (node >= 0 && h.levels[node] != *level) node = h.levels[node] < *level ? -1 : h.parents[node];
    }
    out[i] = node;
  }
}

}  // namespace gridtree::python

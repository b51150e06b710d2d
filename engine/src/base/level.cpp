#include "gridtree/engine/level.h"

namespace gridtree {

namespace {
constexpr std::string_view kNames[kLevelCount] = {"city", "county", "town", "community", "grid", "micro_grid"};
}

std::string_view LevelName(Level level) { return kNames[static_cast<int>(level)]; }

std::optional<Level> ParseLevel(std::string_view name) {
  for (int i = 0; i < kLevelCount; ++i)
    if (kNames[i] == name) return static_cast<Level>(i);
  return std::nullopt;
}

}  // namespace gridtree

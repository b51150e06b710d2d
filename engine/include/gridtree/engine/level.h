// The six levels of a grid hierarchy, from the city down to the micro-grid.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gridtree {

enum class Level : uint8_t { kCity = 0, kCounty, kTown, kCommunity, kGrid, kMicroGrid };
inline constexpr int kLevelCount = 6;

// "city", "county", "town", "community", "grid", "micro_grid".
std::string_view LevelName(Level level);
std::optional<Level> ParseLevel(std::string_view name);

}  // namespace gridtree

// Vector tiles over the benchmark dataset (docs/tiles.md): the time to
// render one tile at zoom 10, 12 and 14, over the 8 x 8 tiles around
// Jiangmen's city hall at each zoom (at z10 they cover the city centre and
// its surroundings, at z14 single neighbourhoods).
#include <benchmark/benchmark.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "bench_data.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/tiles.h"

namespace gridtree {
namespace {

std::vector<TileId> TilesAround(double lon, double lat, int z) {
  const double n = std::ldexp(1.0, z);
  const double r = lat * std::numbers::pi / 180;
  const auto cx = static_cast<uint32_t>((lon + 180) / 360 * n);
  const auto cy = static_cast<uint32_t>((1 - std::log(std::tan(r) + 1 / std::cos(r)) / std::numbers::pi) / 2 * n);
  std::vector<TileId> tiles;
  for (uint32_t dy = 0; dy < 8; ++dy)
    for (uint32_t dx = 0; dx < 8; ++dx) tiles.push_back({z, cx - 4 + dx, cy - 4 + dy});
  return tiles;
}

void BM_Tile(benchmark::State& state) {
  const int z = static_cast<int>(state.range(0));
  const auto view = bench::SharedEngine().Read();
  const std::vector<TileId> tiles = TilesAround(113.0819, 22.5787, z);
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto tile = RenderTile(*view, tiles[i++ % tiles.size()]);
    if (!tile.ok()) state.SkipWithError(tile.status().message().c_str());
    bytes += tile.value().size();
    benchmark::DoNotOptimize(tile);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["bytes_per_tile"] = static_cast<double>(bytes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Tile)->ArgName("z")->Arg(10)->Arg(12)->Arg(14)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gridtree

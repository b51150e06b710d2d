// Fuzz target: a region as WKT (POLYGON / MULTIPOLYGON), as `gridtree
// aggregate --polygon` and the RPC's region queries take it; a region that
// parses is also aggregated over a small dataset.
#include <cstdint>

#include "fuzz_common.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"
#include "small_dataset.h"

using namespace gridtree;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Engine> engine = testing::SmallEngine(4);
  auto region = ParseRegionWkt(fuzz::AsText(data, size));
  if (!region.ok()) return 0;
  const auto view = engine->Read();
  for (RegionMode mode : {RegionMode::kContained, RegionMode::kIntersecting, RegionMode::kAreaWeighted}) {
    RegionQuery q;
    q.region = region.value();
    q.mode = mode;
    q.group_by = Level::kTown;
    (void)view->RegionAggregate(q);
  }
  return 0;
}

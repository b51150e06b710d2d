// Fuzz target: a dataset as GeoJSON (a FeatureCollection or a GeoJSON text
// sequence, one feature per line) and a region as GeoJSON. A dataset that
// loads is also opened and asked every kind of question, so that what
// validation lets through is what the queries can take.
#include <cstdint>

#include "exercise_view.h"
#include "fuzz_common.h"
#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"

using namespace gridtree;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::AsText(data, size);
  (void)ParseRegionGeoJson(text);

  LoadOptions load;
  load.threads = 1;
  load.max_findings = 8;
  LoadResult loaded = LoadDatasetFromText(text, "fuzz.geojson", load);
  if (!loaded.dataset) return 0;
  EngineOptions options;
  options.threads = 1;
  auto engine = Engine::Create(std::move(*loaded.dataset), options);
  if (!engine.ok()) return 0;
  fuzz::ExerciseView(*engine.value()->Read());
  return 0;
}

// Fuzz target: the position-report CSV that `gridtree call track --file`
// reads (id,kind,lon,lat[,unix_time]); every accepted row is also checked
// the way the engine checks a report.
#include <cstdint>

#include "fuzz_common.h"
#include "positions_csv.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  (void)gridtree::ParsePositionsCsv(gridtree::fuzz::AsText(data, size), "fuzz.csv");
  return 0;
}

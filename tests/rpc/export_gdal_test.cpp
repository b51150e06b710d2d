// `gridtree export --flat` as GIS tools see it: GDAL's ogrinfo (Debian
// gdal-bin, installed by scripts/install-deps.sh) reads every level's
// export with one typed field per metric plus area_km2, and as many
// features as the dataset has nodes of that level (counted here from the
// loaded dataset, not from the export).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "../small_dataset.h"
#include "command_output.h"

namespace gridtree::testing {
namespace {

namespace fs = std::filesystem;

TEST(ExportGdal, EveryLevelReadsWithTypedMetricFieldsAndItsCount) {
  if (std::system("command -v ogrinfo >/dev/null 2>&1") != 0) GTEST_SKIP() << "ogrinfo (gdal-bin) is not installed";
  const fs::path dir = fs::temp_directory_path() / ("gridtree_export_gdal_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string dataset = (dir / "small.geojson").string();
  std::ofstream(dataset) << SmallDatasetGeoJson(10);
  const Dataset ds = SmallDataset(10);
  for (Level level : {Level::kCity, Level::kCounty, Level::kTown, Level::kCommunity, Level::kGrid}) {
    const std::string name(LevelName(level));
    size_t want = 0;
    for (Level l : ds.levels) want += l == level;
    const std::string out = (dir / (name + ".geojson")).string();
    ASSERT_EQ(std::system((std::string(GRIDTREE_BINARY) + " export " + dataset + " --level " + name + " --flat --out " +
                           out)
                              .c_str()),
              0)
        << name;
    const std::string info = CommandOutput("ogrinfo -ro -so -al " + out + " 2>&1");
    EXPECT_NE(info.find("Feature Count: " + std::to_string(want) + "\n"), std::string::npos) << name << "\n" << info;
    for (const std::string& metric : ds.metric_names)
      EXPECT_NE(info.find(metric + ": Integer"), std::string::npos) << name << " " << metric << "\n" << info;
    EXPECT_NE(info.find("area_km2: Real"), std::string::npos) << name << "\n" << info;
    EXPECT_EQ(info.find("metrics:"), std::string::npos) << name << "\n" << info;  // no nested object column
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gridtree::testing

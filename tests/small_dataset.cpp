#include "small_dataset.h"

#include <cstdlib>
#include <iostream>

namespace gridtree::testing {

std::string SmallDatasetGeoJson(int n) {
  std::string out = "{\"type\":\"FeatureCollection\",\"features\":[\n";
  auto square = [](int i, int j) {
    auto c = [](double v) { return std::to_string(v); };
    const double x = 112.0 + i * 0.01, y = 22.0 + j * 0.01, d = 0.01;
    return "{\"type\":\"Polygon\",\"coordinates\":[[[" + c(x) + "," + c(y) + "],[" + c(x + d) + "," + c(y) + "],[" +
           c(x + d) + "," + c(y + d) + "],[" + c(x) + "," + c(y + d) + "],[" + c(x) + "," + c(y) + "]]]}";
  };
  auto emit = [&](const std::string& id, const std::string& parent, const std::string& level, const std::string& metrics,
                  const std::string& geometry) {
    out += "{\"type\":\"Feature\",\"id\":\"" + id + "\",\"properties\":{\"parent\":" +
           (parent.empty() ? std::string("null") : "\"" + parent + "\"") + ",\"level\":\"" + level +
           "\",\"name\":\"" + level + " " + id + "\"" + (metrics.empty() ? "" : ",\"metrics\":" + metrics) +
           "},\"geometry\":" + geometry + "},\n";
  };
  emit("c", "", "city", "", "null");
  // Columns 0..n/2-1 form county k1, the rest county k2; rows split towns;
  // pairs of columns form communities; the top row of county k2 hangs under
  // a town directly below the city (no county level).
  const int half = n / 2;
  for (int k = 0; k < 2; ++k) {
    const std::string county = "k" + std::to_string(k + 1);
    emit(county, "c", "county", "", "null");
    for (int t = 0; t < 2; ++t) {
      const std::string town = county + "t" + std::to_string(t);
      emit(town, county, "town", "", "null");
      for (int col = k * half; col < (k + 1) * half; col += 2) {
        const std::string comm = town + "m" + std::to_string(col / 2);
        emit(comm, town, "community", "", "null");
        for (int i = col; i < std::min(col + 2, (k + 1) * half); ++i)
          for (int j = t * half; j < (t + 1) * half; ++j) {
            if (k == 1 && j == n - 1) continue;
            const int pop = 100 + (i * 37 + j * 101) % 900;
            emit("g" + std::to_string(i) + "_" + std::to_string(j), comm, "grid",
                 "{\"population\":" + std::to_string(pop) + ",\"households\":" + std::to_string(pop / 3) +
                     ",\"schools\":" + std::to_string((i + j) % 3) + "}",
                 square(i, j));
          }
      }
    }
  }
  emit("direct", "c", "town", "", "null");
  for (int i = half; i < n; ++i)
    emit("g" + std::to_string(i) + "_" + std::to_string(n - 1), "direct", "grid",
         "{\"population\":" + std::to_string(50 + i) + ",\"households\":" + std::to_string(10 + i) +
             ",\"schools\":1}",
         square(i, n - 1));
  out.resize(out.size() - 2);
  out += "\n]}\n";
  return out;
}

Dataset SmallDataset(int n) {
  LoadOptions options;
  options.threads = 1;  // no TBB work: these tests also run under ThreadSanitizer
  LoadResult r = LoadDatasetFromText(SmallDatasetGeoJson(n), "small", options);
  if (!r.dataset) {
    std::cerr << "small dataset failed to load: "
              << (r.report.findings.empty() ? std::string("?") : r.report.findings[0].ToString()) << "\n";
    std::abort();
  }
  return std::move(*r.dataset);
}

std::unique_ptr<Engine> SmallEngine(int n) {
  EngineOptions options;
  options.threads = 1;
  auto e = Engine::Create(SmallDataset(n), options);
  if (!e.ok()) {
    std::cerr << "small engine failed: " << e.status().ToString() << "\n";
    std::abort();
  }
  return std::move(e).value();
}

}  // namespace gridtree::testing

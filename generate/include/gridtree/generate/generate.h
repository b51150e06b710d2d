// The dataset generator: the real Jiangmen county borders and administrative
// tree (names and codes) with towns, communities, grids and micro-grids
// generated inside them, deterministically from a seed. See docs/generator.md.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "gridtree/engine/status.h"

namespace gridtree {

struct GenerateOptions {
  // Which embedded dataset to build: "jiangmen" (the reference city, with
  // its real calibration) or "guangdong" (all 21 cities of the province,
  // calibrated with Jiangmen's figures per community; docs/generator.md).
  // DEFAULT: "jiangmen"
  std::string city = "jiangmen";
  // Number of copies of the city, each with its own ids, placed side by side.
  // DEFAULT: 1
  int cities = 1;
  // Seed of every random choice; the output is byte-for-byte reproducible.
  // DEFAULT: 1
  uint64_t seed = 1;
  // Folder holding jiangmen/{counties.geojson,divisions.csv} and
  // guangdong/{counties/*.geojson,divisions.csv}.
  std::string data_root;
  // Output path: a GeoJSON FeatureCollection, or a GeoJSON text sequence
  // (one feature per line) when the name ends in .geojsonl / .geojsons.
  std::string out_path;
  // Write geometry on generated inner nodes (town, community, grid) too.
  // DEFAULT: true
  bool inner_geometry = true;
  // Raster resolution of the generated tessellation, pixels per degree: a
  // power of two in [64, 16384], so every vertex is exact in a double.
  // DEFAULT: 2048 (about 50 m)
  int pixels_per_degree = 2048;
  // Called now and then with a stage name and the fraction done (0..1).
  std::function<void(std::string_view stage, double fraction)> progress;
  // Called with each notice: something generated differently from the
  // calibration (fewer grids than asked for, a county left out). The library
  // itself never writes to stderr; `gridtree generate` prints these.
  std::function<void(std::string_view message)> notice;
};

struct GenerateSummary {
  int64_t features = 0;
  int64_t leaves = 0;
  int64_t vertices = 0;
  int64_t counts_per_level[6] = {};
  int64_t population = 0;
};

Result<GenerateSummary> Generate(const GenerateOptions& options);

}  // namespace gridtree

// What the generator is calibrated to: Jiangmen's real figures (one table,
// docs/generator.md "Calibration", asserted by tests/generate_test.cpp), the
// generator's own ratios, and the totals each city is built to.
#pragma once

#include <array>
#include <cstdint>

namespace gridtree::generate {

// A town-level unit whose Voronoi seed is put at its real location.
struct TownSeat {
  const char* code;
  double lon, lat;
};

// A Gaussian bump of the population density field: `amplitude` over the
// rural base of 1, `sigma` in degrees.
struct DensityBump {
  double lon, lat, amplitude, sigma;
};

// Jiangmen's real figures and places.
struct JiangmenFacts {
  // Residents, 2020 census.
  int64_t population = 4798090;
  // Communities and villages in the city (rows of divisions.csv).
  int64_t communities = 1348;
  // Grids in the city.
  int64_t grids = 2954;
  // Grids of kind "park".
  int64_t park_grids = 821;
  // Grid staff in the city.
  int64_t grid_staff = 3770;
  // Pengjiang district, and its grids, allocated as a group of their own.
  const char* pengjiang = "440703";
  int64_t pengjiang_grids = 409;
  // Country Garden community: 4 grids with these micro-grids each (19 in all).
  const char* country_garden = "440703006117";
  std::array<int, 4> country_garden_micro_grids = {5, 5, 5, 4};
  // Guanghai town, the sea area lies off its south coast.
  const char* guanghai = "440781110";
  // Kunpeng fishing village (in Guanghai), which owns the sea area.
  const char* kunpeng = "440781110207";
  // Kunpeng's sea area, km².
  double kunpeng_sea_km2 = 100.0;
  // Kunpeng's fishermen and fishing boats, all on its sea grids.
  int64_t fishermen = 4975;
  int64_t fishing_boats = 262;
  // Towns seeded at their real place: Guanghai, and Chuandao (the islands).
  std::array<TownSeat, 2> town_seats = {{{"440781110", 112.785, 21.945}, {"440781115", 112.78, 21.66}}};
  // The urban cores of the density field.
  std::array<DensityBump, 3> urban_cores = {{{113.08, 22.58, 40, 0.035},
                                             {113.09, 22.53, 30, 0.03},
                                             {113.03, 22.46, 25, 0.03}}};
};
inline constexpr JiangmenFacts kJiangmen{};

// The generator's own ratios: plausible, not measured.
struct Ratios {
  // Population density of park and sea leaves relative to residential ones.
  double park_population_factor = 0.3;
  double sea_population_factor = 0.02;
  // Residents per household, per school and per market.
  double people_per_household = 2.8;
  double people_per_school = 3000.0;
  double people_per_market = 5000.0;
  // Households per building in the countryside; a fully urban leaf has
  // 1 + urban_building_gain times as many.
  double households_per_rural_building = 4.0;
  double urban_building_gain = 3.0;
  // Kunpeng's fewest grids: some on land, some on the sea.
  int64_t kunpeng_min_grids = 3;
};
inline constexpr Ratios kRatios{};

// The totals one city is built to.
struct Calibration {
  int64_t population = 0;
  int64_t grids = 0;
  int64_t park_grids = 0;
  int64_t grid_staff = 0;

  // Jiangmen's real figures.
  static Calibration Jiangmen();
  // Another city: Jiangmen's figures per community, as no per-city figures
  // are in the data.
  static Calibration PerCommunity(int64_t communities);
};

}  // namespace gridtree::generate

// Which grids are parks (city_stages.h: MarkParkGrids).
#include <string>
#include <utility>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Town-level units that are industrial parks, development zones, forest
// farms or prisons: by name, or by a code of 400 or more in the last three
// digits.
bool ParkLikeTown(const Node& t) {
  for (const char* w : {"园区", "新区", "开发区", "林场", "监狱"})
    if (t.name.find(w) != std::string::npos) return true;
  if (t.code.size() < 3) return false;
  int last3 = 0;
  for (char c : t.code.substr(t.code.size() - 3)) {
    if (c < '0' || c > '9') return false;
    last3 = last3 * 10 + (c - '0');
  }
  return last3 >= 400;
}

}  // namespace

// All land grids of park-like towns, then random ones up to the calibrated count.
void MarkParkGrids(const GenerateOptions& options, const Calibration& cal, const std::vector<int32_t>& grids,
                   CityTree& tree) {
  std::vector<Node>& nodes = tree.nodes;
  std::vector<int32_t> candidates;
  int64_t parks = 0;
  for (int32_t g : grids) {
    if (nodes[g].kind == kSea) continue;
    if (ParkLikeTown(nodes[nodes[nodes[g].parent].parent])) {
      nodes[g].kind = kPark;
      ++parks;
    } else {
      candidates.push_back(g);
    }
  }
  Rng rng(StreamSeed(options.seed, "#parks"));
  for (size_t k = candidates.size(); k > 1; --k) std::swap(candidates[k - 1], candidates[rng.Below(k)]);
  for (size_t k = 0; k < candidates.size() && parks < cal.park_grids; ++k, ++parks) nodes[candidates[k]].kind = kPark;
  if (parks != cal.park_grids)
    ReportNotice(options, nodes[tree.root].code + ": " + std::to_string(parks) + " park grids instead of " +
                              std::to_string(cal.park_grids));
}

}  // namespace gridtree::generate

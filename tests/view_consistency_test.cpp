// Every answer comes from the View it names: one thread reloads between two
// datasets whose node numbers differ (8 x 8 and 10 x 10 leaves of the small
// lattice; a grid keeps its id but moves to another county, community and
// node number), while readers run every query on a View they pin and check
// each answer against an oracle of that View's dataset. The oracle is the
// lattice itself (leaf g<i>_<j> covers one 0.01° square, its population a
// formula of i and j) and the loader's parent links, never the index.
//
// The engines run with one thread, so that no TBB work is on these paths
// and the test is meaningful under ThreadSanitizer (label "tsan").
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"
#include "small_dataset.h"

namespace {

using namespace gridtree;

// What one dataset must answer, worked out from the lattice and the parent
// links of an independently loaded copy.
struct Oracle {
  int n = 0;
  size_t leaves = 0;
  std::map<std::string, std::vector<std::string>> chain;  // grid id -> ids root first
  std::map<std::string, int64_t> population;               // any node id -> sum of its leaves
  std::vector<std::string> top5;                          // grid ids by population, then node number
  std::vector<std::string> city_children;
  std::map<std::string, int64_t> box_rows;  // community id -> population of leaves inside kBox
  int64_t box_total = 0;
};

// Leaf squares with 1 <= i <= 5 and 1 <= j <= 2 lie inside this box.
constexpr double kBox[4] = {112.0095, 22.0095, 112.0605, 22.0305};

bool InBox(int i, int j) { return i >= 1 && i <= 5 && j >= 1 && j <= 2; }

int64_t LatticePopulation(int n, int i, int j) {
  const int half = n / 2;
  return i >= half && j == n - 1 ? 50 + i : 100 + (i * 37 + j * 101) % 900;
}

Oracle MakeOracle(int n) {
  const Dataset ds = gridtree::testing::SmallDataset(n);
  Oracle o;
  o.n = n;
  o.leaves = ds.leaf_count();
  std::vector<std::pair<int64_t, int32_t>> grids;
  for (size_t l = 0; l < ds.leaf_count(); ++l) {
    const int32_t node = ds.leaf_nodes[l];
    const std::string id(ds.ids[node]);
    int i = 0, j = 0;
    EXPECT_EQ(std::sscanf(id.c_str(), "g%d_%d", &i, &j), 2) << id;
    const int64_t pop = LatticePopulation(n, i, j);
    std::vector<std::string> up;
    std::string community;
    for (int32_t v = node; v >= 0; v = ds.parents[v]) {
      up.emplace_back(ds.ids[v]);
      o.population[std::string(ds.ids[v])] += pop;
      if (ds.levels[v] == Level::kCommunity) community = ds.ids[v];
    }
    std::reverse(up.begin(), up.end());
    o.chain[id] = up;
    grids.push_back({-pop, node});
    if (InBox(i, j)) {
      o.box_rows[community] += pop;
      o.box_total += pop;
    }
  }
  std::sort(grids.begin(), grids.end());
  for (size_t k = 0; k < 5; ++k) o.top5.emplace_back(ds.ids[grids[k].second]);
  for (size_t k = 0; k < ds.node_count(); ++k)
    if (ds.parents[k] == 0) o.city_children.emplace_back(ds.ids[k]);
  return o;
}

// Checks every query on one pinned View; returns false at the first wrong answer.
void CheckView(const View& view, const Oracle& o) {
  ASSERT_EQ(view.dataset().leaf_count(), o.leaves);
  // Single points, a batch and columns: the leaf's id and its whole chain.
  std::vector<index::Point> points;
  std::vector<std::string> want;
  for (int i = 0; i < o.n; i += 3)
    for (int j = 0; j < o.n; j += 2) {
      points.push_back({112.0 + i * 0.01 + 0.005, 22.0 + j * 0.01 + 0.005});
      want.push_back("g" + std::to_string(i) + "_" + std::to_string(j));
    }
  std::vector<LocateResult> batch(points.size());
  ASSERT_TRUE(view.LocateBatch(points, batch).ok());
  std::vector<double> lon, lat;
  for (const auto& p : points) lon.push_back(p.x), lat.push_back(p.y);
  std::vector<LeafId> columns(points.size());
  ASSERT_TRUE(view.LocateColumns(lon, lat, columns).ok());
  for (size_t k = 0; k < points.size(); ++k) {
    const LocateResult one = view.Locate(points[k]);
    ASSERT_TRUE(one.hit()) << want[k];
    ASSERT_EQ(view.id(one.node), want[k]);
    ASSERT_EQ(view.id(batch[k].node), want[k]);
    ASSERT_EQ(view.id(view.NodeOf(columns[k])), want[k]);
    const Chain c = view.ChainOf(one.node);
    const std::vector<std::string>& chain = o.chain.at(want[k]);
    ASSERT_EQ(static_cast<size_t>(c.size), chain.size()) << want[k];
    for (int i = 0; i < c.size; ++i) ASSERT_EQ(view.id(c.nodes[i]), chain[i]) << want[k];
  }
  // Aggregates by id, children, top-k.
  for (const char* id : {"c", "k1", "k2", "direct"}) {
    const auto node = view.Find(id);
    ASSERT_TRUE(node.has_value()) << id;
    ASSERT_EQ(view.Metric(*node, 0), o.population.at(id)) << id;
  }
  std::vector<std::string> kids;
  for (NodeId k : view.Children(NodeId(0))) kids.push_back(std::string(view.id(k)));
  ASSERT_EQ(kids, o.city_children);
  TopKQuery tq;
  tq.level = Level::kGrid;
  tq.k = 5;
  auto top = view.TopK(tq);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->dataset_version, view.dataset_version());
  ASSERT_EQ(top->entries.size(), 5u);
  for (size_t k = 0; k < 5; ++k) {
    ASSERT_EQ(view.id(top->entries[k].node), o.top5[k]);
    ASSERT_EQ(top->entries[k].value, o.population.at(o.top5[k]));
  }
  // A region grouped by community: rows name the right communities.
  RegionQuery rq;
  rq.region = BoxRegion(kBox[0], kBox[1], kBox[2], kBox[3]);
  rq.mode = RegionMode::kContained;
  rq.group_by = Level::kCommunity;
  auto region = view.RegionAggregate(rq);
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  ASSERT_EQ(region->dataset_version, view.dataset_version());
  ASSERT_EQ(region->counts[0], o.box_total);
  std::map<std::string, int64_t> rows;
  for (const RegionRow& r : region->rows) rows[std::string(view.id(r.node))] = r.counts[0];
  ASSERT_EQ(rows, o.box_rows);
}

TEST(ViewConsistency, EveryQueryAnswersFromItsOwnViewWhileReloading) {
  const Oracle small = MakeOracle(8), large = MakeOracle(10);
  // The two datasets must really differ where it matters.
  ASSERT_NE(small.chain.at("g4_1"), large.chain.at("g4_1"));
  ASSERT_NE(small.box_rows, large.box_rows);
  const auto created = gridtree::testing::SmallEngine(8);
  Engine& engine = *created;

  // Listeners get the view their leaves belong to; a reload names no leaves.
  std::mutex heard_mu;
  std::vector<uint64_t> heard;
  bool leaves_in_range = true;
  engine.AddListener([&](const std::shared_ptr<const View>& view, std::span<const LeafId> leaves) {
    std::lock_guard lock(heard_mu);
    heard.push_back(view->dataset_version());
    for (LeafId l : leaves) leaves_in_range = leaves_in_range && l.valid() && static_cast<size_t>(l.value) < view->dataset().leaf_count();
  });

  constexpr int kReloads = 24;
  std::atomic<bool> done{false};
  std::atomic<int64_t> checked{0}, failures{0};
  std::mutex seen_mu;
  std::set<uint64_t> seen;  // dataset versions the readers checked
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done.load()) {
        const auto view = engine.Read();
        if (view->dataset_version() < last) ++failures;
        last = view->dataset_version();
        {
          std::lock_guard lock(seen_mu);
          seen.insert(last);
        }
        const Oracle& o = view->dataset().leaf_count() == small.leaves ? small : large;
        CheckView(*view, o);
        if (::testing::Test::HasFatalFailure()) {
          ++failures;
          return;
        }
        ++checked;
      }
    });
  for (int k = 0; k < kReloads && failures.load() == 0; ++k) {
    // Let the readers check the current dataset a few times, then swap it
    // under them (they keep going while Reload builds the next one).
    for (const int64_t before = checked.load(); checked.load() < before + 3 && failures.load() == 0;)
      std::this_thread::yield();
    auto reloaded = engine.Reload(gridtree::testing::SmallDataset(k % 2 == 0 ? 10 : 8));
    ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
    EXPECT_EQ(reloaded.value()->dataset_version(), static_cast<uint64_t>(k + 2));
  }
  // Let the readers see the last dataset too.
  while (checked.load() < 3 * kReloads && failures.load() == 0) std::this_thread::yield();
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(checked.load(), 3 * kReloads);
  EXPECT_GE(seen.size(), 2u);  // the readers did run across reloads
  std::lock_guard lock(heard_mu);
  EXPECT_TRUE(leaves_in_range);
  ASSERT_EQ(heard.size(), static_cast<size_t>(kReloads));
  for (size_t k = 0; k < heard.size(); ++k) EXPECT_EQ(heard[k], k + 2);
}

}  // namespace

// Tracked objects (Engine::Track and friends, docs/objects.md) on the
// generated Jiangmen: counts against a brute-force recount, enter/exit
// events of scripted paths, expiry, bad batches, threads, restarts.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <mutex>
#include <map>
#include <set>
#include <thread>

#include "gridtree/engine/engine.h"
#include "jiangmen_fixture.h"
#include "split_mix.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kNow = 1'800'000'000;

using testing::SplitMix;

std::unique_ptr<Engine> OpenJiangmen(EngineOptions options = {}) {
  options.threads = options.threads ? options.threads : 1;
  auto e = Engine::Open(testing::SharedJiangmen().path, options);
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return std::move(e).value();
}

// Brute force: the leaf whose polygon holds the point, by testing every
// leaf whose box holds it (even-odd on the stored rings), -1 if none.
class BruteLocator {
 public:
  explicit BruteLocator(const View& view) : view_(view) {
    const auto& idx = view.spatial_index();
    for (size_t l = 0; l < view.dataset().leaf_count(); ++l) polygons_.push_back(idx.polygon(l));
  }
  int32_t Leaf(double x, double y) const {
    for (size_t l = 0; l < polygons_.size(); ++l) {
      bool in = false;
      for (const auto& poly : polygons_[l].parts)
        for (const auto& ring : poly.rings) {
          const size_t n = ring.size();
          for (size_t k = 0, m = n - 1; k < n; m = k++)
            if ((ring[k].y > y) != (ring[m].y > y) &&
                x < ring[k].x + (y - ring[k].y) * (ring[m].x - ring[k].x) / (ring[m].y - ring[k].y))
              in = !in;
        }
      if (in) return static_cast<int32_t>(l);
    }
    return -1;
  }

 private:
  const View& view_;
  std::vector<index::MultiPolygon> polygons_;
};

index::Box CityBox(const View& view) { return view.spatial_index().extent(); }

TEST(Objects, CountsEqualABruteForceRecountAfterRandomMoves) {
  auto engine = OpenJiangmen();
  const std::vector<std::string> kinds = {"boat", "staff", "device"};
  SplitMix rng{7};
  const index::Box box = CityBox(*engine->Read());
  // 3,000 objects, 5 rounds of random moves (some outside every leaf, some
  // repeated within a batch, some changing kind).
  std::map<std::string, ObjectReport> last;
  for (int round = 0; round < 5; ++round) {
    std::vector<ObjectReport> batch;
    for (int i = 0; i < 1500; ++i) {
      ObjectReport r;
      r.id = "o" + std::to_string(static_cast<int>(rng.Uniform() * 3000));
      r.kind = kinds[static_cast<size_t>(rng.Uniform() * kinds.size())];
      r.lon = box.min_x - 0.05 + rng.Uniform() * (box.max_x - box.min_x + 0.1);
      r.lat = box.min_y - 0.05 + rng.Uniform() * (box.max_y - box.min_y + 0.1);
      r.time = kNow + round;
      batch.push_back(r);
      last[r.id] = r;
    }
    auto done = engine->Track(batch, kNow + round);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  }
  auto view = engine->Read();
  const Dataset& ds = view->dataset();
  const BruteLocator brute(*view);
  std::map<std::string, std::vector<int64_t>> expected;  // kind -> per node
  std::map<std::string, int64_t> outside;
  for (const auto& k : kinds) expected[k].assign(ds.node_count(), 0);
  for (const auto& [id, r] : last) {
    const int32_t leaf = brute.Leaf(r.lon, r.lat);
    if (leaf < 0) {
      ++outside[r.kind];
      continue;
    }
    for (int32_t v = ds.leaf_nodes[leaf]; v >= 0; v = ds.parents[v]) ++expected[r.kind][v];
  }
  for (const auto& k : kinds) {
    const std::optional<int> metric = view->MetricIndex("objects." + k);
    ASSERT_TRUE(metric.has_value()) << k;
    for (size_t n = 0; n < ds.node_count(); ++n)
      ASSERT_EQ(view->Metric(NodeId(static_cast<int32_t>(n)), *metric), expected[k][n]) << k << " at " << ds.ids[n];
  }
  for (const ObjectKindCount& c : engine->ObjectKinds()) EXPECT_EQ(c.outside, outside[c.kind]) << c.kind;
  EXPECT_EQ(engine->object_count(), last.size());
  // The counts are metrics everywhere: top-k and a region aggregate agree.
  TopKQuery q;
  q.level = Level::kCounty;
  q.metric = *view->MetricIndex("objects.staff");
  q.k = 7;
  auto top = view->TopK(q);
  ASSERT_TRUE(top.ok());
  for (const TopEntry& e : top->entries) EXPECT_EQ(e.value, expected["staff"][e.node.value]);
  RegionQuery whole;
  whole.region.kind = Region::Kind::kBox;
  whole.region.box = box;
  auto region = view->RegionAggregate(whole);
  ASSERT_TRUE(region.ok());
  EXPECT_EQ(region->counts[*view->MetricIndex("objects.boat")], expected["boat"][0]);
  // The node query lists exactly the objects the recount puts there.
  ObjectQuery in_county;
  const int32_t county = ds.children[ds.child_begin[0]].value;
  in_county.node_id = std::string(ds.ids[county]);
  in_county.limit = 100000;
  auto page = engine->Objects(in_county);
  ASSERT_TRUE(page.ok());
  int64_t want = 0;
  for (const auto& k : kinds) want += expected[k][county];
  EXPECT_EQ(static_cast<int64_t>(page->total), want);
}

// Two points in different grids of one community, and one in another county.
struct Path {
  index::Point a, b;
};
Path TwoGridsOfOneCommunity(const View& view) {
  SplitMix rng{11};
  const index::Box box = CityBox(view);
  std::map<int32_t, std::pair<int32_t, index::Point>> seen;  // community -> (grid, point)
  for (int i = 0; i < 100000; ++i) {
    const index::Point p{box.min_x + rng.Uniform() * (box.max_x - box.min_x),
                         box.min_y + rng.Uniform() * (box.max_y - box.min_y)};
    const LocateResult r = view.Locate(p);
    if (!r.hit()) continue;
    const Chain c = view.ChainOf(r.node);
    if (c.size < 5) continue;  // city, county, town, community, grid
    const int32_t community = c.nodes[3].value, grid = c.nodes[4].value;
    auto it = seen.find(community);
    if (it == seen.end()) {
      seen[community] = {grid, p};
    } else if (it->second.first != grid) {
      return {it->second.second, p};
    }
  }
  ADD_FAILURE() << "no two grids of one community found";
  return {};
}

struct Recorder {
  std::vector<ObjectEvent> events;
  std::mutex mu;
  Engine::ObjectEventCallback Callback() {
    return [this](std::span<const ObjectEvent> e) {
      std::lock_guard lock(mu);
      events.insert(events.end(), e.begin(), e.end());
    };
  }
  std::vector<std::string> Take() {
    std::lock_guard lock(mu);
    std::vector<std::string> out;
    for (const ObjectEvent& e : events)
      out.push_back(std::string(e.type == ObjectEvent::Type::kEnter ? "enter " : "exit ") + e.node_id +
                    (e.expired ? " expired" : ""));
    events.clear();
    return out;
  }
};

std::vector<std::string> Expected(const View& view, const index::Point* from, const index::Point* to) {
  // From the chains of the two points' leaves: exits deepest first from
  // where they part, then enters from the top.
  Chain a, b;
  if (from) a = view.ChainOf(view.Locate(*from).node);
  if (to) b = view.ChainOf(view.Locate(*to).node);
  int common = 0;
  while (common < a.size && common < b.size && a.nodes[common] == b.nodes[common]) ++common;
  std::vector<std::string> out;
  for (int i = a.size - 1; i >= common; --i) out.push_back("exit " + std::string(view.id(a.nodes[i])));
  for (int i = common; i < b.size; ++i) out.push_back("enter " + std::string(view.id(b.nodes[i])));
  return out;
}

TEST(Objects, EnterAndExitEventsOfScriptedPaths) {
  EngineOptions options;
  options.objects.expire_after_s = 60;
  auto engine = OpenJiangmen(options);
  auto view = engine->Read();
  Recorder all;
  auto sub = engine->SubscribeObjectEvents({}, all.Callback());
  ASSERT_TRUE(sub.ok());
  const Path path = TwoGridsOfOneCommunity(*view);
  auto track = [&](index::Point p, int64_t t) {
    ObjectReport r{"boat-7", "boat", p.x, p.y, t};
    ASSERT_TRUE(engine->Track(std::span(&r, 1), t).ok());
  };
  // Arrival: every level, top down.
  track(path.a, kNow);
  EXPECT_EQ(all.Take(), Expected(*view, nullptr, &path.a));
  // Across a grid border inside one community: grid (and micro-grid) only.
  track(path.b, kNow + 1);
  const std::vector<std::string> across = all.Take();
  EXPECT_EQ(across, Expected(*view, &path.a, &path.b));
  const Chain ca = view->ChainOf(view->Locate(path.a).node);
  const std::string community(view->id(ca.nodes[3]));
  for (const std::string& e : across) {
    EXPECT_NE(e, "exit " + community);
    EXPECT_NE(e, "enter " + community);
  }
  EXPECT_GE(across.size(), 2u);  // at least the two grids
  // Along the same leaf: nothing.
  track(path.b, kNow + 2);
  EXPECT_TRUE(all.Take().empty());
  // Out to sea, outside every leaf: exits up to the city; then back.
  track({100.0, 10.0}, kNow + 3);
  EXPECT_EQ(all.Take(), Expected(*view, &path.b, nullptr));
  track(path.a, kNow + 4);
  EXPECT_EQ(all.Take(), Expected(*view, nullptr, &path.a));
  // Filters: a subscriber of grids only, of another kind, of one node.
  Recorder grids, staff, one;
  ObjectEventFilter by_level;
  by_level.levels = {Level::kGrid};
  ASSERT_TRUE(engine->SubscribeObjectEvents(by_level, grids.Callback()).ok());
  ObjectEventFilter by_kind;
  by_kind.kinds = {"staff"};
  ASSERT_TRUE(engine->SubscribeObjectEvents(by_kind, staff.Callback()).ok());
  ObjectEventFilter by_node;
  by_node.node_ids = {std::string(view->id(view->ChainOf(view->Locate(path.b).node).nodes[4]))};
  ASSERT_TRUE(engine->SubscribeObjectEvents(by_node, one.Callback()).ok());
  EXPECT_FALSE(engine->SubscribeObjectEvents({{"no-such-node"}, {}, {}}, one.Callback()).ok());
  track(path.b, kNow + 5);
  all.Take();
  EXPECT_EQ(grids.Take().size(), 2u);  // exit one grid, enter the other
  EXPECT_TRUE(staff.Take().empty());
  // The chosen grid's own event first, then those inside it (its micro-grid).
  const std::vector<std::string> in_grid = one.Take();
  ASSERT_FALSE(in_grid.empty());
  EXPECT_EQ(in_grid[0], "enter " + by_node.node_ids[0]);
  for (const std::string& e : in_grid) EXPECT_EQ(e.rfind("enter " + by_node.node_ids[0], 0), 0u) << e;
  // Expiry: not heard from for 60 s, the object leaves everything.
  EXPECT_EQ(engine->ExpireObjects(kNow + 5 + 60), 0u);
  EXPECT_EQ(engine->ExpireObjects(kNow + 5 + 61), 1u);
  std::vector<std::string> expired = Expected(*view, &path.b, nullptr);
  for (auto& e : expired) e += " expired";
  EXPECT_EQ(all.Take(), expired);
  EXPECT_EQ(engine->object_count(), 0u);
  EXPECT_EQ(engine->Read()->Metric(NodeId(0), *engine->Read()->MetricIndex("objects.boat")), 0);
}

TEST(Objects, ABadBatchIsRefusedWholeNamingTheRow) {
  EngineOptions options;
  options.objects.max_reports_per_batch = 10;
  options.objects.max_kinds = 2;
  auto engine = OpenJiangmen(options);
  const index::Box box = CityBox(*engine->Read());
  const double x = (box.min_x + box.max_x) / 2, y = (box.min_y + box.max_y) / 2;
  std::vector<ObjectReport> good = {{"a", "boat", x, y, kNow}, {"b", "staff", x, y, kNow}};
  ASSERT_TRUE(engine->Track(good, kNow).ok());
  const uint64_t version = engine->Read()->objects_version();
  auto refused = [&](ObjectReport bad, const std::string& why) {
    std::vector<ObjectReport> batch = {{"c", "boat", x, y, kNow}, {"a", "boat", 0.0, 0.0, kNow}, bad};
    auto r = engine->Track(batch, kNow);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_NE(r.status().message().find("report 3 of 3"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
  };
  refused({"", "boat", x, y, kNow}, "id is empty");
  refused({std::string(200, 'x'), "boat", x, y, kNow}, "more than 128");
  refused({"d", "", x, y, kNow}, "kind is empty");
  refused({"d", "boat", std::numeric_limits<double>::quiet_NaN(), y, kNow}, "position");
  refused({"d", "boat", x, 95, kNow}, "position");
  refused({"d", "boat", x, y, kNow + 3600}, "after the server's clock");
  refused({"d", "drone", x, y, kNow}, "more than the 2 allowed");  // boat and staff exist
  std::vector<ObjectReport> many(11, ObjectReport{"e", "boat", x, y, kNow});
  EXPECT_FALSE(engine->Track(many, kNow).ok());
  // Nothing of any refused batch stayed: no "c", "a" where it was.
  EXPECT_EQ(engine->Read()->objects_version(), version);
  EXPECT_EQ(engine->object_count(), 2u);
  ObjectQuery everywhere;
  everywhere.box = index::Box{-180, -90, 180, 90};
  auto page = engine->Objects(everywhere);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].lon, x);
}

TEST(Objects, ConcurrentTrackersEndInTheSameStateAsOne) {
  // Four threads, each moving its own objects, against one thread doing it
  // all: the final counts and positions are the same.
  const index::Box box = CityBox(*testing::SharedJiangmen().engine->Read());
  std::vector<std::vector<std::vector<ObjectReport>>> per_thread(4);
  SplitMix rng{3};
  for (int t = 0; t < 4; ++t)
    for (int b = 0; b < 20; ++b) {
      std::vector<ObjectReport> batch;
      for (int i = 0; i < 200; ++i)
        batch.push_back({"t" + std::to_string(t) + "-" + std::to_string(static_cast<int>(rng.Uniform() * 300)),
                         i % 2 ? "boat" : "staff", box.min_x + rng.Uniform() * (box.max_x - box.min_x),
                         box.min_y + rng.Uniform() * (box.max_y - box.min_y), kNow + b});
      per_thread[t].push_back(std::move(batch));
    }
  auto one = OpenJiangmen();
  for (int t = 0; t < 4; ++t)
    for (const auto& batch : per_thread[t]) ASSERT_TRUE(one->Track(batch, kNow + 100).ok());
  EngineOptions two_threads;
  two_threads.threads = 2;
  auto many = OpenJiangmen(two_threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (const auto& batch : per_thread[t]) EXPECT_TRUE(many->Track(batch, kNow + 100).ok());
    });
  for (auto& th : threads) th.join();
  auto a = one->Read(), b = many->Read();
  ASSERT_EQ(a->metric_count(), b->metric_count());
  for (size_t m = a->dataset().metric_count(); m < a->metric_count(); ++m) {
    const std::optional<int> in_b = b->MetricIndex(a->metric_name(static_cast<int>(m)));
    ASSERT_TRUE(in_b.has_value());
    for (size_t n = 0; n < a->dataset().node_count(); ++n)
      ASSERT_EQ(a->Metric(NodeId(static_cast<int32_t>(n)), static_cast<int>(m)),
                b->Metric(NodeId(static_cast<int32_t>(n)), *in_b));
  }
  ObjectQuery everything;
  everything.box = index::Box{-180, -90, 180, 90};
  everything.limit = 100000;
  auto pa = one->Objects(everything), pb = many->Objects(everything);
  ASSERT_TRUE(pa.ok() && pb.ok());
  ASSERT_EQ(pa->objects.size(), pb->objects.size());
  for (size_t i = 0; i < pa->objects.size(); ++i) {
    EXPECT_EQ(pa->objects[i].id, pb->objects[i].id);
    EXPECT_EQ(pa->objects[i].leaf_id, pb->objects[i].leaf_id);
  }
}

TEST(Objects, NearestAgreesWithABruteForceSort) {
  auto engine = OpenJiangmen();
  const index::Box box = CityBox(*engine->Read());
  SplitMix rng{5};
  std::vector<ObjectReport> batch;
  for (int i = 0; i < 2000; ++i)
    batch.push_back({"n" + std::to_string(i), i % 3 ? "boat" : "staff",
                     box.min_x + rng.Uniform() * (box.max_x - box.min_x),
                     box.min_y + rng.Uniform() * (box.max_y - box.min_y), kNow});
  ASSERT_TRUE(engine->Track(batch, kNow).ok());
  const index::Point q{(box.min_x + box.max_x) / 2, (box.min_y + box.max_y) / 2};
  std::vector<std::pair<double, std::string>> all;
  for (const ObjectReport& r : batch)
    if (r.kind == "staff") all.push_back({index::GeodesicDistanceM(q, {r.lon, r.lat}), r.id});
  std::sort(all.begin(), all.end());
  auto near = engine->Nearest(q, 10, "staff");
  ASSERT_TRUE(near.ok());
  ASSERT_EQ(near->size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ((*near)[i].id, all[i].second);
    EXPECT_NEAR((*near)[i].distance_m, all[i].first, 1e-6);
  }
  // A circle query returns exactly the objects within its radius.
  ObjectQuery circle;
  circle.center = q;
  circle.radius_m = all[25].first + 0.001;
  circle.kind = "staff";
  auto page = engine->Objects(circle);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 26u);
}

TEST(Objects, AReloadPlacesThemInTheNewDatasetBeforeItIsAnnounced) {
  auto engine = OpenJiangmen();
  const index::Box box = CityBox(*engine->Read());
  const double x = (box.min_x + box.max_x) / 2, y = (box.min_y + box.max_y) / 2;
  std::vector<ObjectReport> batch = {{"a", "boat", x, y, kNow}, {"b", "boat", x, y, kNow}};
  ASSERT_TRUE(engine->Track(batch, kNow).ok());
  std::shared_ptr<const View> announced;
  engine->AddListener([&](const std::shared_ptr<const View>& v, std::span<const LeafId>) { announced = v; });
  auto reloaded = engine->ReloadFrom(testing::SharedJiangmen().path);
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString();
  for (const auto& v : {reloaded.value(), announced, engine->Read()}) {
    ASSERT_TRUE(v);
    EXPECT_EQ(v->dataset_version(), 2u);
    const std::optional<int> boat = v->MetricIndex("objects.boat");
    ASSERT_TRUE(boat.has_value());
    EXPECT_EQ(v->Metric(NodeId(0), *boat), 2);
  }
}

TEST(Objects, ACleanRestartKeepsThemACrashLosesThemQuietly) {
  const std::string dir = (fs::temp_directory_path() / ("gridtree_objects_" + std::to_string(::getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  EngineOptions options;
  options.data_dir = dir;
  options.objects.restore_saved = true;  // as gridtree serve does
  const index::Box box = CityBox(*testing::SharedJiangmen().engine->Read());
  const double x = (box.min_x + box.max_x) / 2, y = (box.min_y + box.max_y) / 2;
  {
    auto engine = OpenJiangmen(options);
    std::vector<ObjectReport> batch = {{"a", "boat", x, y, kNow}, {"b", "staff", 0.0, 0.0, kNow}};
    ASSERT_TRUE(engine->Track(batch, kNow).ok());
    ASSERT_TRUE(engine->SaveObjects().ok());  // what `gridtree serve` does on SIGTERM
  }
  {
    auto engine = OpenJiangmen(options);
    EXPECT_EQ(engine->object_count(), 2u);
    auto view = engine->Read();
    EXPECT_EQ(view->Metric(NodeId(0), *view->MetricIndex("objects.boat")), 1);
    // Killed now: nothing saved, and the file of the last clean stop is gone.
    EXPECT_FALSE(fs::exists(dir + "/objects.bin"));
  }
  {
    auto engine = OpenJiangmen(options);
    EXPECT_EQ(engine->object_count(), 0u);
    Recorder events;
    ASSERT_TRUE(engine->SubscribeObjectEvents({}, events.Callback()).ok());
    // Objects reporting again after a crash make no storm of enter events...
    std::vector<ObjectReport> again = {{"a", "boat", x, y, 0}};
    ASSERT_TRUE(engine->Track(again).ok());
    EXPECT_TRUE(events.Take().empty());
    // ...but their moves after that do.
    std::vector<ObjectReport> moved = {{"a", "boat", 0.0, 0.0, 0}};
    ASSERT_TRUE(engine->Track(moved).ok());
    EXPECT_FALSE(events.Take().empty());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gridtree

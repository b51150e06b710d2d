// Tracked objects under concurrency (label "tsan"): trackers, expiry,
// metric updates, readers of counts and objects, subscribers, all at once
// on a one-thread engine (no TBB work, so ThreadSanitizer sees everything).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "gridtree/engine/engine.h"
#include "small_dataset.h"

namespace gridtree {
namespace {

TEST(ObjectsConcurrency, TrackersReadersWritersAndSubscribersTogether) {
  auto engine = testing::SmallEngine(8);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> events{0};
  auto sub = engine->SubscribeObjectEvents({}, [&](std::span<const ObjectEvent> e) {
    events += static_cast<int64_t>(e.size());
  });
  ASSERT_TRUE(sub.ok());
  constexpr int64_t kNow = 1'800'000'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        std::vector<ObjectReport> batch;
        for (int i = 0; i < 20; ++i)
          batch.push_back({"t" + std::to_string(t) + "-" + std::to_string(i), i % 2 ? "boat" : "staff",
                           112.0 + ((round + i) % 9) * 0.01 + 0.005, 22.0 + ((round * 3 + i) % 9) * 0.01 + 0.005,
                           kNow + round});
        EXPECT_TRUE(engine->Track(batch, kNow + round).ok());
      }
    });
  threads.emplace_back([&] {  // metric updates meanwhile
    for (int i = 0; i < 100; ++i) {
      UpdateBatch b;
      b.updates.push_back({"g0_0", "population", MetricUpdate::Op::kAdd, 1});
      EXPECT_TRUE(engine->Apply(b).ok());
    }
  });
  threads.emplace_back([&] {  // readers: counts are consistent sums, objects list
    while (!stop) {
      auto view = engine->Read();
      if (auto m = view->MetricIndex("objects.boat")) {
        int64_t sum = 0;
        for (NodeId c : view->Children(NodeId(0))) sum += view->Metric(c, *m);
        EXPECT_EQ(sum, view->Metric(NodeId(0), *m));
      }
      ObjectQuery q;
      q.node_id = "k1";
      EXPECT_TRUE(engine->Objects(q).ok());
      EXPECT_TRUE(engine->Nearest({112.03, 22.03}, 3).ok());
    }
  });
  for (size_t i = 0; i + 1 < threads.size(); ++i) threads[i].join();
  stop = true;
  threads.back().join();
  EXPECT_EQ(engine->object_count(), 60u);
  EXPECT_GT(events.load(), 0);
  auto view = engine->Read();
  const int boat = *view->MetricIndex("objects.boat"), staff = *view->MetricIndex("objects.staff");
  int64_t outside = 0;
  for (const ObjectKindCount& k : engine->ObjectKinds()) outside += k.outside;
  EXPECT_EQ(view->Metric(NodeId(0), boat) + view->Metric(NodeId(0), staff) + outside, 60);
  EXPECT_EQ(view->version(), 100u);
  engine->UnsubscribeObjectEvents(sub.value());
}

}  // namespace
}  // namespace gridtree

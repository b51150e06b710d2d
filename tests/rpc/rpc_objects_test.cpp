// Tracked objects over RPC (docs/objects.md): Writer.track behind the token,
// objects, nearest, objectKinds, the counts as metrics in node answers, and
// events pushed to a client's sink; on a real loopback server.
#include <gtest/gtest.h>

#include <thread>

#include "../small_dataset.h"
#include "gridtree/rpc/client.h"
#include "gridtree/rpc/server.h"
#include "rpc_test_util.h"

namespace gridtree::testing {
namespace {

class CollectingSink final : public proto::EventSink::Server {
 public:
  explicit CollectingSink(std::vector<std::string>* got) : got_(got) {}
  kj::Promise<void> push(PushContext ctx) override {
    for (auto e : ctx.getParams().getEvents())
      got_->push_back(std::string(e.getType() == proto::ObjectEvent::Type::ENTER ? "enter " : "exit ") +
                      e.getNode().cStr() + " " + e.getObjectId().cStr());
    return kj::READY_NOW;
  }

 private:
  std::vector<std::string>* got_;
};

TEST(RpcObjects, TrackQueriesAndEventsOverTheWire) {
  EngineOptions eo;
  eo.threads = 1;
  auto created = Engine::Create(SmallDataset(10), eo);
  ASSERT_TRUE(created.ok());
  Engine& engine = *created.value();
  rpc::ServerOptions o;
  o.log = [](std::string_view) {};
  o.writer_token = "tok";
  ServerThread server(engine, o);
  rpc::Client c(server.address());
  auto& ws = c.wait_scope();
  // Events of county k1 and everything inside it, pushed to this client.
  std::vector<std::string> events;
  auto ereq = c.gridtree().eventsRequest();
  ereq.initNodes(1).set(0, "k1");
  ereq.setSink(kj::heap<CollectingSink>(&events));
  auto handle = ereq.send().wait(ws).getHandle();
  {  // a wrong token gets no writer
    auto wreq = c.gridtree().writerRequest();
    wreq.setToken("nope");
    auto t = wreq.send().getWriter().trackRequest();
    t.initReports(1)[0].setId("x");
    EXPECT_ANY_THROW(t.send().wait(ws));
  }
  auto wreq = c.gridtree().writerRequest();
  wreq.setToken("tok");
  auto writer = wreq.send().getWriter();
  auto track = writer.trackRequest();
  auto reports = track.initReports(3);
  // g0_0 is the leaf at 112.00..112.01, 22.00..22.01 (county k1); g9_0 is in k2.
  reports[0].setId("boat-1"), reports[0].setKind("boat"), reports[0].setLon(112.005), reports[0].setLat(22.005);
  reports[1].setId("boat-2"), reports[1].setKind("boat"), reports[1].setLon(112.095), reports[1].setLat(22.005);
  reports[2].setId("boat-3"), reports[2].setKind("boat"), reports[2].setLon(100.0), reports[2].setLat(10.0);
  auto done = track.send().wait(ws);
  EXPECT_EQ(done.getReports(), 3u);
  EXPECT_EQ(done.getOutside(), 1u);
  EXPECT_EQ(done.getMoved(), 3u);
  // The counts are metrics: the node answer names objects.boat.
  auto info = c.gridtree().infoRequest().send().wait(ws);
  std::vector<std::string> names;
  for (auto n : info.getInfo().getMetricNames()) names.emplace_back(n.cStr());
  ASSERT_EQ(names.back(), "objects.boat");
  EXPECT_EQ(info.getInfo().getObjectsVersion(), done.getObjectsVersion());
  auto node = c.gridtree().nodeRequest();
  node.setId("k1");
  auto k1 = node.send().wait(ws);
  EXPECT_EQ(k1.getNode().getMetrics()[static_cast<unsigned>(names.size() - 1)], 1);
  // objects in k1; nearest; kinds.
  auto oreq = c.gridtree().objectsRequest();
  oreq.initQuery().getWhere().setNode("k1");
  auto in_k1 = oreq.send().wait(ws);
  ASSERT_EQ(in_k1.getObjects().size(), 1u);
  EXPECT_EQ(std::string(in_k1.getObjects()[0].getId().cStr()), "boat-1");
  EXPECT_EQ(std::string(in_k1.getObjects()[0].getLeaf().cStr()), "g0_0");
  auto nreq = c.gridtree().nearestRequest();
  nreq.setLon(112.09), nreq.setLat(22.0), nreq.setK(2);
  auto near = nreq.send().wait(ws);
  ASSERT_EQ(near.getObjects().size(), 2u);
  EXPECT_EQ(std::string(near.getObjects()[0].getId().cStr()), "boat-2");
  auto kinds = c.gridtree().objectKindsRequest().send().wait(ws);
  ASSERT_EQ(kinds.getKinds().size(), 1u);
  EXPECT_EQ(kinds.getKinds()[0].getTotal(), 3);
  EXPECT_EQ(kinds.getKinds()[0].getOutside(), 1);
  // A bad batch names its row and changes nothing.
  auto bad = writer.trackRequest();
  auto rows = bad.initReports(2);
  rows[0].setId("boat-1"), rows[0].setKind("boat"), rows[0].setLon(112.095), rows[0].setLat(22.005);
  rows[1].setId(""), rows[1].setKind("boat");
  try {
    bad.send().wait(ws);
    ADD_FAILURE() << "a bad batch was accepted";
  } catch (const kj::Exception& e) {
    EXPECT_NE(std::string(e.getDescription().cStr()).find("report 2 of 2"), std::string::npos) << e.getDescription().cStr();
  }
  EXPECT_EQ(engine.Read()->objects_version(), done.getObjectsVersion());
  // Events: boat-1 entered k1's chain (and only k1's events are sent here).
  for (int i = 0; i < 100 && events.size() < 5; ++i) {
    c.gridtree().infoRequest().send().wait(ws);  // lets the pushes in
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const std::vector<std::string> want = {"enter k1 boat-1", "enter k1t0 boat-1", "enter k1t0m0 boat-1",
                                         "enter g0_0 boat-1"};
  std::vector<std::string> mine;
  for (const std::string& e : events)
    if (e.find("boat-1") != std::string::npos) mine.push_back(e);
  EXPECT_EQ(mine, want);
  for (const std::string& e : events) EXPECT_EQ(e.find("boat-2"), std::string::npos) << e;  // in k2
}

}  // namespace
}  // namespace gridtree::testing

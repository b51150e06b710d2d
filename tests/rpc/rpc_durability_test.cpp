// The real `gridtree serve` binary: updates over RPC, SIGKILL, restart — every
// acknowledged version is there; SIGTERM drains, checkpoints and exits 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "../small_dataset.h"
#include "gridtree/rpc/client.h"
#include "rpc_test_util.h"

namespace gridtree::testing {
namespace {

struct Spawned {
  pid_t pid = -1;
};

Spawned StartServer(const std::filesystem::path& dir, const std::string& tag) {
  const std::string bin = GRIDTREE_BINARY;
  const std::string dataset = (dir / "small.geojson").string();
  const std::string sock = (dir / "rpc.sock").string();
  const std::string log = (dir / ("serve_" + tag + ".log")).string();
  std::filesystem::remove(sock);
  const pid_t pid = ::fork();
  if (pid == 0) {
    FILE* f = std::freopen(log.c_str(), "w", stderr);
    (void)f;
    ::execl(bin.c_str(), bin.c_str(), "serve", dataset.c_str(), "--unix", sock.c_str(), "--data-dir",
            (dir / "data").c_str(), "--writer-token-file", (dir / "token").c_str(), "--threads", "2",
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  // Wait for the socket to accept.
  for (int i = 0; i < 400; ++i) {
    if (std::filesystem::exists(sock)) {
      bool ok = false;
      try {
        rpc::Client c("unix:" + sock);
        c.gridtree().infoRequest().send().wait(c.wait_scope());
        ok = true;
      } catch (...) {
      }
      if (ok) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return {pid};
}

int WaitExit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(RpcServeBinary, AcknowledgedUpdatesSurviveSigkill) {
  const auto dir = TempDir("durability");
  std::ofstream(dir / "small.geojson") << SmallDatasetGeoJson(10);
  std::ofstream(dir / "token") << "tok-123\n";
  std::filesystem::create_directories(dir / "data");
  const std::string addr = "unix:" + (dir / "rpc.sock").string();

  Spawned s = StartServer(dir, "1");
  ASSERT_GT(s.pid, 0);
  uint64_t last_version = 0;
  int64_t base = 0;
  {
    rpc::Client c(addr);
    auto& ws = c.wait_scope();
    auto req = c.gridtree().aggregateRequest();
    req.initIds(1).set(0, "g2_3");
    base = req.send().wait(ws).getAggregates()[0].getValues()[0];
    auto treq = c.gridtree().writerRequest();
    treq.setToken("tok-123");
    auto writer = treq.send().getWriter();
    for (int i = 0; i < 20; ++i) {
      auto a = writer.applyRequest();
      auto u = a.initUpdates(1)[0];
      u.setLeaf("g2_3"), u.setMetric("population"), u.setOp(proto::MetricUpdate::Op::ADD), u.setValue(1);
      const uint64_t v = a.send().wait(ws).getVersion();
      EXPECT_GT(v, last_version);
      last_version = v;
    }
  }
  ::kill(s.pid, SIGKILL);
  WaitExit(s.pid);

  s = StartServer(dir, "2");
  {
    rpc::Client c(addr);
    auto& ws = c.wait_scope();
    auto info_resp = c.gridtree().infoRequest().send().wait(ws);
    auto info = info_resp.getInfo();
    EXPECT_GE(info.getVersion(), last_version);
    auto req = c.gridtree().aggregateRequest();
    req.initIds(1).set(0, "g2_3");
    EXPECT_EQ(req.send().wait(ws).getAggregates()[0].getValues()[0], base + 20);
  }
  ::kill(s.pid, SIGTERM);
  const int status = WaitExit(s.pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  std::ifstream log(dir / "serve_2.log");
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("event=dataset_loaded"), std::string::npos) << text;
  EXPECT_NE(text.find("event=recovery report="), std::string::npos) << text;  // what the restart replayed
  EXPECT_NE(text.find("event=listening"), std::string::npos) << text;
  EXPECT_NE(text.find("event=stopped"), std::string::npos) << text;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace gridtree::testing

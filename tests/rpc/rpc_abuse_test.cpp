// The real `gridtree serve` under abuse, driven from outside as an attacker
// or a broken client would: raw Cap'n Proto frames that never send Finish
// or never read, descriptor exhaustion, too many or idle connections,
// garbage frames, token guessing, log floods, a second server on the same
// data directory, a failed shutdown checkpoint, a host name posing as
// loopback. Each one names the defect it covers in docs/operations.md.
#include <arpa/inet.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/rpc.capnp.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <fstream>

#include "../small_dataset.h"
#include "gridtree/rpc/client.h"
#include "gridtree.capnp.h"
#include "rpc_test_util.h"
#include "serve_process.h"

namespace gridtree::testing {
namespace {

namespace fs = std::filesystem;

// False when the peer closed, or took nothing for a second (it stopped reading).
bool SendAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    pollfd w{fd, POLLOUT, 0};
    if (::poll(&w, 1, 1000) <= 0) return false;
    const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool SendMessage(int fd, capnp::MessageBuilder& m) {
  auto words = capnp::messageToFlatArray(m);
  auto bytes = words.asBytes();
  return SendAll(fd, bytes.begin(), bytes.size());
}

// Whether the server closed fd within `ms` (reading and dropping what comes).
bool ClosedWithin(int fd, int ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

// A raw client's messages: a bootstrap (question 0), then locate calls
// pipelined on it.
void BuildBootstrap(capnp::MallocMessageBuilder& m) { m.initRoot<capnp::rpc::Message>().initBootstrap().setQuestionId(0); }

void BuildLocate(capnp::MallocMessageBuilder& m, uint32_t question) {
  auto call = m.initRoot<capnp::rpc::Message>().initCall();
  call.setQuestionId(question);
  call.setInterfaceId(capnp::typeId<proto::GridTree>());
  call.setMethodId(capnp::Schema::from<proto::GridTree>().getMethodByName("locate").getOrdinal());
  call.initTarget().initPromisedAnswer().setQuestionId(0);
  auto params = call.initParams().getContent().initAs<proto::GridTree::LocateParams>();
  params.setLon(0.5);
  params.setLat(0.5);
}

void BuildFinish(capnp::MallocMessageBuilder& m, uint32_t question) {
  m.initRoot<capnp::rpc::Message>().initFinish().setQuestionId(question);
}

// One GET; on a kept-alive fd (fd >= 0) it reads exactly one reply.
std::string HttpGet(unsigned port, const std::string& target, int fd = -1) {
  const bool own = fd < 0;
  if (own) fd = ConnectLoopback(port);
  if (fd < 0) return "";
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + (own ? "Connection: close\r\n" : "") + "\r\n";
  SendAll(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    const size_t head = out.find("\r\n\r\n");
    if (head != std::string::npos) {
      const size_t cl = out.find("Content-Length: ");
      if (cl != std::string::npos && cl < head && out.size() >= head + 4 + std::stoul(out.substr(cl + 16))) break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  if (own) ::close(fd);
  return out;
}

int64_t InfoVersion(unsigned port) {
  rpc::Client c("127.0.0.1:" + std::to_string(port));
  return static_cast<int64_t>(c.gridtree().infoRequest().send().wait(c.wait_scope()).getInfo().getVersion());
}

class RpcAbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir(std::string("abuse_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dataset_ = (dir_ / "small.geojson").string();
    std::ofstream(dataset_) << SmallDatasetGeoJson(10);
    std::ofstream(dir_ / "token") << "tok-123\n";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> a = {dataset_, "--listen", "127.0.0.1:0", "--threads", "2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  fs::path dir_;
  std::string dataset_;
};

// Defect 2: pipelined calls that are never finished.
TEST_F(RpcAbuseTest, AClientThatNeverSendsFinishIsCutOffAndOthersAreServed) {
  ServeProcess server(Args({"--max-unfinished-answers", "2000"}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  InfoVersion(server.port());
  const int64_t before = server.ResidentBytes();
  const int fd = ConnectLoopback(server.port());
  capnp::MallocMessageBuilder boot;
  BuildBootstrap(boot);
  ASSERT_TRUE(SendMessage(fd, boot));
  // 100,000 calls, about 880 MB of held answers on a server without the limit.
  int sent = 0;
  for (uint32_t q = 1; q <= 100000; ++q, ++sent) {
    capnp::MallocMessageBuilder m;
    BuildLocate(m, q);
    if (!SendMessage(fd, m)) break;
  }
  EXPECT_LT(sent, 100000) << "the server kept reading a client that never finishes";
  EXPECT_TRUE(ClosedWithin(fd, 5000));
  ::close(fd);
  const int64_t after = server.ResidentBytes();
  std::printf("calls sent before the connection was cut: %d; server resident %.1f -> %.1f MiB\n", sent, before / 1048576.0,
              after / 1048576.0);
  EXPECT_LT(after - before, int64_t{200} << 20) << "resident " << before << " -> " << after;
  EXPECT_GE(InfoVersion(server.port()), 0);  // another client is served
  const std::string log = server.Log();
  EXPECT_NE(log.find("event=connection_closed"), std::string::npos) << log;
  EXPECT_NE(log.find("peer=127.0.0.1:"), std::string::npos) << log;
  EXPECT_NE(log.find("max_unfinished_answers_per_connection"), std::string::npos) << log;
}

// Defect 2: calls that are finished but whose answers are never read. The
// server stops reading a client whose replies are not taken (so it holds no
// more than it has read), serves others, and drops it when it has been idle.
TEST_F(RpcAbuseTest, AClientThatNeverReadsIsHeldToLittleAndDropped) {
  ServeProcess server(Args({"--idle-timeout-seconds", "2", "--max-queued-reply-bytes", "4194304"}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  InfoVersion(server.port());
  const int64_t before = server.ResidentBytes();
  const int fd = ConnectLoopback(server.port());
  int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  capnp::MallocMessageBuilder boot;
  BuildBootstrap(boot);
  ASSERT_TRUE(SendMessage(fd, boot));
  int sent = 0;
  for (uint32_t q = 1; q <= 200000; ++q, ++sent) {
    capnp::MallocMessageBuilder m, f;
    BuildLocate(m, q);
    BuildFinish(f, q);
    if (!SendMessage(fd, m) || !SendMessage(fd, f)) break;
  }
  EXPECT_LT(sent, 200000) << "the server kept taking calls whose replies nobody reads";
  const int64_t after = server.ResidentBytes();
  std::printf("calls sent before the server stopped reading: %d; server resident %.1f -> %.1f MiB\n", sent,
              before / 1048576.0, after / 1048576.0);
  EXPECT_LT(after - before, int64_t{64} << 20) << server.Log();
  EXPECT_GE(InfoVersion(server.port()), 0);  // others are served meanwhile
  EXPECT_TRUE(ClosedWithin(fd, 6000)) << server.Log();
  ::close(fd);
  EXPECT_NE(server.Log().find("event=connection_closed"), std::string::npos) << server.Log();
}

// Defect 3: out of file descriptors, then descriptors free up again.
TEST_F(RpcAbuseTest, AcceptingResumesAfterDescriptorsRunOut) {
  ServeProcess server(Args({"--http", "127.0.0.1:0", "--max-connections", "100000"}), dir_ / "serve.log", 48);
  ASSERT_GT(server.port(), 0u) << server.Log();
  ASSERT_GT(server.http_port(), 0u) << server.Log();
  const int health = ConnectLoopback(server.http_port());  // kept open: it can still ask when nothing else can connect
  EXPECT_NE(HttpGet(server.http_port(), "/healthz", health).find("200 OK"), std::string::npos);
  std::vector<int> fds;
  for (int i = 0; i < 80; ++i) fds.push_back(ConnectLoopback(server.port()));
  bool failed = false;
  for (int i = 0; i < 100 && !failed; ++i) {
    failed = server.Log().find("event=accept_failed") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(failed) << server.Log();
  const std::string unhealthy = HttpGet(server.http_port(), "/healthz", health);
  EXPECT_NE(unhealthy.find("503"), std::string::npos) << unhealthy;
  EXPECT_NE(unhealthy.find("not accepting"), std::string::npos) << unhealthy;
  ::close(health);
  for (int fd : fds) ::close(fd);
  // Within the 1 s back-off the server accepts again, on both ports.
  bool again = false;
  for (int i = 0; i < 200 && !again; ++i) {
    again = server.Log().find("event=accepting_again listener=capnp") != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(again) << server.Log();
  EXPECT_EQ(InfoVersion(server.port()), 0);
  EXPECT_NE(HttpGet(server.http_port(), "/healthz").find("200 OK"), std::string::npos);
}

// Defect 3: a cap on connections, refused with a reason.
TEST_F(RpcAbuseTest, ConnectionsPastTheCapAreRefusedWithAReason) {
  ServeProcess server(Args({"--http", "127.0.0.1:0", "--max-connections", "2"}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  rpc::Client a("127.0.0.1:" + std::to_string(server.port()));
  a.gridtree().infoRequest().send().wait(a.wait_scope());
  rpc::Client b("127.0.0.1:" + std::to_string(server.port()));
  b.gridtree().infoRequest().send().wait(b.wait_scope());
  std::string refused;
  try {
    rpc::Client c("127.0.0.1:" + std::to_string(server.port()));
    c.gridtree().infoRequest().send().wait(c.wait_scope());
  } catch (const kj::Exception& e) {
    refused = e.getDescription().cStr();
  }
  EXPECT_NE(refused.find("too many connections"), std::string::npos) << refused;
  const std::string http = HttpGet(server.http_port(), "/healthz");
  EXPECT_NE(http.find("503"), std::string::npos) << http;
  EXPECT_NE(http.find("max_connections 2"), std::string::npos) << http;
}

// Defect 3: idle and slow connections are closed; a watcher is not.
TEST_F(RpcAbuseTest, IdleAndSlowConnectionsAreClosedButAWatcherIsNot) {
  ServeProcess server(Args({"--idle-timeout-seconds", "1"}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  const int silent = ConnectLoopback(server.port());
  const int slow = ConnectLoopback(server.port());
  const char half_frame[4] = {0, 0, 0, 0};  // the start of a segment table, and then nothing
  SendAll(slow, half_frame, sizeof half_frame);

  struct Watcher final : proto::Watcher::Server {
    kj::Promise<void> push(PushContext) override { return kj::READY_NOW; }
  };
  rpc::Client w("127.0.0.1:" + std::to_string(server.port()));
  auto req = w.gridtree().watchRequest();
  req.initIds(1).set(0, "g1_1");
  req.setCallback(kj::heap<Watcher>());
  auto handle = req.send().wait(w.wait_scope()).getHandle();

  EXPECT_TRUE(ClosedWithin(silent, 4000));
  EXPECT_TRUE(ClosedWithin(slow, 2500));
  ::close(silent);
  ::close(slow);
  // The watcher's connection is still there.
  EXPECT_EQ(w.gridtree().infoRequest().send().wait(w.wait_scope()).getInfo().getVersion(), 0u);
  EXPECT_NE(server.Log().find("reason=\"idle:"), std::string::npos) << server.Log();
}

// Smaller defects: garbage frames are logged with the peer and the reason.
TEST_F(RpcAbuseTest, AGarbageFrameIsLoggedWithThePeer) {
  ServeProcess server(Args({}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  const int fd = ConnectLoopback(server.port());
  const uint32_t garbage[4] = {0x7fffffff, 0xffffffff, 0x01020304, 0x05060708};  // 2^31 segments
  SendAll(fd, garbage, sizeof garbage);
  EXPECT_TRUE(ClosedWithin(fd, 3000));
  ::close(fd);
  std::string log;
  for (int i = 0; i < 40 && log.find("event=connection_dropped") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    log = server.Log();
  }
  EXPECT_NE(log.find("event=connection_dropped"), std::string::npos) << log;
  EXPECT_NE(log.find("peer=127.0.0.1:"), std::string::npos) << log;
}

// Smaller defects: wrong tokens are slowed down and cut off.
TEST_F(RpcAbuseTest, WrongTokensAreRateLimitedPerConnection) {
  ServeProcess server(Args({"--writer-token-file", (dir_ / "token").string()}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  rpc::Client c("127.0.0.1:" + std::to_string(server.port()));
  auto& ws = c.wait_scope();
  const auto t0 = std::chrono::steady_clock::now();
  int refused = 0, cut = 0;
  for (int i = 0; i < 15; ++i) {
    auto req = c.gridtree().writerRequest();
    req.setToken("guess-" + std::to_string(i));
    try {
      req.send().wait(ws);
    } catch (const kj::Exception& e) {
      const std::string d = e.getDescription().cStr();
      if (d.find("writer token refused") != std::string::npos) ++refused;
      else ++cut;
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(refused, 10);
  EXPECT_EQ(cut, 5);  // the connection was closed after the tenth
  EXPECT_GE(secs, 10 * 0.25 * 0.9);
  // The right token on a new connection still works.
  rpc::Client d("127.0.0.1:" + std::to_string(server.port()));
  auto ok = d.gridtree().writerRequest();
  ok.setToken("tok-123");
  EXPECT_NO_THROW(ok.send().wait(d.wait_scope()));
}

// Smaller defects: a flood of rejected calls does not flood the log, and
// what a client sends cannot forge or garble a log line.
TEST_F(RpcAbuseTest, RejectedCallsAreRateLimitedAndEscapedInTheLog) {
  ServeProcess server(Args({"--http", "127.0.0.1:0"}), dir_ / "serve.log");
  ASSERT_GT(server.http_port(), 0u) << server.Log();
  const int fd = ConnectLoopback(server.http_port());
  for (int i = 0; i < 300; ++i) {
    const std::string r =
        HttpGet(server.http_port(), "/locate?lat=1&lon=%0d%0a%1b%5b31mforged" + std::string(2000, 'x'), fd);
    if (i == 0) {
      EXPECT_NE(r.find("400 Bad Request"), std::string::npos) << r;
    }
  }
  ::close(fd);
  // The suppressed count is written by the once-a-second sweep after its second.
  std::string log;
  for (int i = 0; i < 120 && log.find("suppressed_event=call_error") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    log = server.Log();
  }
  size_t errors = 0;
  for (size_t at = 0; (at = log.find(" event=call_error", at)) != std::string::npos; ++at) ++errors;
  const size_t at = log.find("suppressed_event=call_error count=");
  std::printf("300 rejected calls: %zu call_error lines, then %s\n", errors,
              at == std::string::npos ? "no count" : log.substr(at, log.find('\n', at) - at).c_str());
  EXPECT_GT(errors, 0u);
  EXPECT_LE(errors, 100u) << "300 rejected calls, 20 lines a second at most";
  EXPECT_NE(log.find("event=log_suppressed suppressed_event=call_error"), std::string::npos) << log.substr(0, 2000);
  EXPECT_EQ(log.find('\r'), std::string::npos);
  EXPECT_EQ(log.find('\x1b'), std::string::npos);
  for (size_t start = 0; start < log.size();) {
    const size_t end = log.find('\n', start);
    const size_t len = (end == std::string::npos ? log.size() : end) - start;
    EXPECT_LT(len, 2000u) << "a log line echoes a whole request field";
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

// Smaller defects: HTTP input that is cut, garbled, hex, out of range or
// huge is a 400/414/431 naming what is wrong, never a reset or a 200.
TEST_F(RpcAbuseTest, BadHttpInputIsRefusedByName) {
  ServeProcess server(Args({"--http", "127.0.0.1:0"}), dir_ / "serve.log");
  ASSERT_GT(server.http_port(), 0u) << server.Log();
  const unsigned port = server.http_port();
  struct Case {
    std::string target, status, names;
  };
  const std::vector<Case> cases = {
      {"/node?id=k1%00xx", "400", "id: contains a NUL byte"},
      {"/node?id=%ff%fe", "400", "id: is not valid UTF-8"},
      {"/locate?lon=0x71.05&lat=22", "400", "lon: not a finite decimal number"},
      {"/locate?lon=%20113&lat=22", "400", "lon: not a finite decimal number"},
      {"/locate?lon=113&lat=95", "400", "lat: latitude 95 is outside"},
      {"/region?circle=1e308,22,100", "400", "circle: centre outside"},
      {"/region?box=-200,0,1,1", "400", "box: outside"},
      {"/locate?lat=1&lon=" + std::string(70000, '1'), "414", "request line longer than"},
  };
  for (const Case& c : cases) {
    const std::string r = HttpGet(port, c.target);
    EXPECT_EQ(r.substr(9, 3), c.status) << c.target.substr(0, 80) << "\n" << r.substr(0, 300);
    EXPECT_NE(r.find(c.names), std::string::npos) << c.target.substr(0, 80) << "\n" << r.substr(0, 300);
    EXPECT_EQ(r.find('\xff'), std::string::npos) << "a reply that is not UTF-8";
  }
  // A 1 MB header: the reply arrives (431), not a reset.
  const int fd = ConnectLoopback(port);
  const std::string big = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(1 << 20, 'y') + "\r\n\r\n";
  SendAll(fd, big.data(), big.size());
  std::string reply;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 431") << reply.substr(0, 200);
  // And the server still answers.
  EXPECT_NE(HttpGet(port, "/locate?lon=0.5&lat=0.5").find("200 OK"), std::string::npos);
}

// Defect 4: two servers on one data directory.
TEST_F(RpcAbuseTest, ASecondServerOnTheSameDataDirectoryRefusesToStart) {
  ServeProcess first(Args({"--data-dir", (dir_ / "data").string()}), dir_ / "first.log");
  ASSERT_GT(first.port(), 0u) << first.Log();
  ServeProcess second(Args({"--data-dir", (dir_ / "data").string()}), dir_ / "second.log");
  const int status = second.WaitExit(20);
  ASSERT_NE(status, -1) << second.Log();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  EXPECT_NE(second.Log().find("in use by process " + std::to_string(first.pid())), std::string::npos)
      << second.Log();
  EXPECT_GE(InfoVersion(first.port()), 0);
}

// Smaller defects: a failed shutdown checkpoint is an exit status, not a 0.
TEST_F(RpcAbuseTest, SigtermExitsNonZeroWhenTheShutdownCheckpointFails) {
  ServeProcess server(Args({"--data-dir", (dir_ / "data").string()}), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  fs::create_directories(dir_ / "data" / "wal.checkpoint" / "in-the-way");
  ::kill(server.pid(), SIGTERM);
  const int status = server.WaitExit(20);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status << "\n" << server.Log();
  EXPECT_NE(server.Log().find("event=checkpoint_failed"), std::string::npos) << server.Log();
  EXPECT_FALSE(fs::exists(dir_ / "data" / "wal.checkpoint.tmp"));
}

// Smaller defects: a host name that starts with "127." is not loopback.
TEST_F(RpcAbuseTest, AHostNameThatLooksLikeLoopbackIsNotTrusted) {
  ServeProcess server({dataset_, "--listen", "127.0.0.1.nip.io:0"}, dir_ / "serve.log");
  const int status = server.WaitExit(20);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;
  EXPECT_NE(server.Log().find("is not a loopback address"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace gridtree::testing

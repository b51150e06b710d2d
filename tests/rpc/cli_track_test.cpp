// `gridtree call track` against a real `gridtree serve`: a positions file is
// applied whole or not at all; a bad line anywhere is named FILE:LINE with
// its field, whether the CLI or the server finds it. And every JSON output
// stays valid UTF-8 when a stored text is not (the dataset's source path).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <functional>
#include <string>

#include "../small_dataset.h"
#include "json_doc.h"
#include "objects_json.h"
#include "serve_process.h"

namespace gridtree::testing {
namespace {

namespace fs = std::filesystem;

struct Ran {
  std::string out;  // stdout and stderr
  int status = -1;  // exit status
};

Ran Shell(const std::string& command) {
  Ran r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int w = ::pclose(p);
  r.status = WIFEXITED(w) ? WEXITSTATUS(w) : -1;
  return r;
}

class CliTrack : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gridtree_cli_track_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "small.geojson") << SmallDatasetGeoJson(10);
    std::ofstream(dir_ / "token") << "tok-track\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A positions file of `lines` lines, line(i) for i = 1..lines.
  std::string Write(const std::string& name, size_t lines, const std::function<std::string(size_t)>& line) {
    const std::string path = (dir_ / name).string();
    std::ofstream out(path, std::ios::binary);
    for (size_t i = 1; i <= lines; ++i) out << line(i) << "\n";
    return path;
  }

  fs::path dir_;
};

// "reports" of the JSON line `call track` prints last (-1 when there is none).
int64_t ReportsSent(const std::string& out) {
  const size_t start = out.rfind("\n{\"reports\"");
  const std::string line = out.substr(start == std::string::npos ? 0 : start + 1);
  const JsonDoc doc = ParseJson(line.substr(0, line.find('\n')));
  int64_t reports = -1;
  if (doc.ok()) EXPECT_EQ(doc.root["reports"].get_int64().get(reports), simdjson::SUCCESS) << doc.text;
  return reports;
}

// Objects anywhere, as `call objects --json` lists them all: its total,
// checked against the objects listed (-1 when the output does not parse).
int64_t Total(const std::string& call) {
  const Ran r = Shell(call + " objects --bbox -180,-90,180,90 --json");
  ListedObjects listed;
  const ::testing::AssertionResult parsed = ParseObjectsJson(r.out, listed);
  EXPECT_TRUE(parsed);
  if (!parsed) return -1;
  EXPECT_EQ(listed.total, listed.ids.size()) << r.out.substr(0, 300);
  return static_cast<int64_t>(listed.total);
}

TEST_F(CliTrack, ABadLineAnywhereAppliesNothingAndIsNamed) {
  ServeProcess server({(dir_ / "small.geojson").string(), "--listen", "127.0.0.1:0", "--threads", "1",
                       "--writer-token-file", (dir_ / "token").string(), "--max-reports-per-batch", "30000"},
                      dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  const std::string call = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" + std::to_string(server.port());
  const std::string track = call + " track --token-file " + (dir_ / "token").string() + " --file ";
  // 64 kinds among the good lines: a 65th is past the server's kind limit.
  const auto good = [](size_t i) {
    return "b" + std::to_string(i) + ",k" + std::to_string(i % 64) + ",112.05,22.05";
  };
  const std::string future = std::to_string(std::time(nullptr) + 3600);
  struct Case {
    std::string bad_line;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"x,k1,112.05,95", {"pos.csv:15001 (id \"x\"): the position (112.05, 95): lat 95 is not in [-90, 90]"}},
      {"x\xFF\xFE,k1,112.05,22.05", {"pos.csv:15001", "the id is not valid UTF-8"}},
      {"x,k1,0x70.F3,22.05", {"pos.csv:15001: lon: \"0x70.F3\" is not a decimal number"}},
      {"x,k1,1e308,22.05", {"pos.csv:15001 (id \"x\"): the position (1e+308, 22.05): lon 1e+308"}},
      {"x,k64,112.05,22.05", {"pos.csv:15001 (id \"x\"): the kind \"k64\" would be kind 65", "nothing of"}},
      {"x,k1,112.05,22.05," + future, {"pos.csv:15001 (id \"x\"): the time " + future, "after the server's clock"}},
  };
  for (const Case& c : cases) {
    const std::string file = Write("pos.csv", 20000, [&](size_t i) { return i == 15001 ? c.bad_line : good(i); });
    const Ran r = Shell(track + file);
    EXPECT_NE(r.status, 0) << r.out;
    for (const std::string& w : c.want) EXPECT_NE(r.out.find(w), std::string::npos) << "want " << w << " in " << r.out;
    EXPECT_LT(r.out.size(), 400u) << r.out;
    EXPECT_EQ(Total(call), 0) << c.bad_line;
  }
  // A good file goes in whole.
  std::string file = Write("pos.csv", 20000, good);
  Ran r = Shell(track + file);
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ReportsSent(r.out), 20000) << r.out;
  EXPECT_EQ(Total(call), 20000);
  // Past the server's limit: refused before sending, saying what to do.
  file = Write("pos.csv", 30001, [](size_t i) { return "big" + std::to_string(i) + ",k1,112.05,22.05"; });
  r = Shell(track + file);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("30001 reports are more than the server's limit of 30000 per call"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--partial"), std::string::npos) << r.out;
  EXPECT_EQ(Total(call), 20000);
  // --partial: calls applied on their own, in order; the failure says which
  // lines went in and which line failed.
  file = Write("pos.csv", 20000, [&](size_t i) {
    return "p" + std::to_string(i) + ",k1,112.05,22.05" + (i == 15001 ? "," + future : "");
  });
  r = Shell(track + file + " --partial --batch 10000");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("pos.csv:15001 (id \"p15001\"): the time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("lines 1 to 10000 were applied; lines 10001 to 20000"), std::string::npos) << r.out;
  EXPECT_EQ(Total(call), 30000);
  // A byte order mark is not part of the first id.
  file = Write("bom.csv", 1, [](size_t) { return "\xEF\xBB\xBFid,kind,lon,lat\nbom-1,k1,112.0015,22.0015"; });
  r = Shell(track + file);
  EXPECT_EQ(r.status, 0) << r.out;
  r = Shell(call + " objects --bbox 112.001,22.001,112.002,22.002 --json");
  ListedObjects listed;
  ASSERT_TRUE(ParseObjectsJson(r.out, listed));
  EXPECT_EQ(listed.ids, std::vector<std::string>{"bom-1"});
  EXPECT_EQ(listed.total, listed.ids.size());
}

// A file under max_reports_per_batch but over the message limit (the smaller
// of the server's and --max-message-bytes) is refused before anything is
// sent, with the sizes and what to do; --partial sends calls that fit.
TEST_F(CliTrack, AFileOverTheMessageLimitIsRefusedBeforeSending) {
  ServeProcess server({(dir_ / "small.geojson").string(), "--listen", "127.0.0.1:0", "--threads", "1",
                       "--writer-token-file", (dir_ / "token").string(), "--max-message-bytes", "65536"},
                      dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  const std::string call = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" + std::to_string(server.port());
  const std::string track = call + " track --token-file " + (dir_ / "token").string() + " --file ";
  // A report "m1000001,boat,..." is 8 words: its struct (5), its id (2) and
  // its kind (1); 3,000 of them with 256 words around them take 194,048 bytes.
  const auto line = [](size_t i) { return "m" + std::to_string(1000000 + i) + ",boat,112.05,22.05"; };
  const std::string file = Write("big.csv", 3000, line);
  Ran r = Shell(track + file);
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("big.csv: 3000 reports would take about 194048 bytes in one call, over the message limit "
                       "of 65536 bytes (max_message_bytes: the smaller of the server's 65536 and --max-message-bytes "),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nothing was applied. Split the file, or pass --partial"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("exception"), std::string::npos) << r.out;  // ours, not Cap'n Proto's
  EXPECT_EQ(Total(call), 0);
  // The client's own limit, when it is the smaller one.
  r = Shell(call + " --max-message-bytes 16384 track --token-file " + (dir_ / "token").string() + " --file " +
            Write("mid.csv", 1000, line));
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("mid.csv: 1000 reports would take about 66048 bytes in one call, over the message limit of "
                       "16384 bytes (max_message_bytes: the smaller of the server's 65536 and --max-message-bytes "
                       "16384)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(Total(call), 0);
  // Just under the limit, the whole file goes in one call.
  r = Shell(track + Write("fits.csv", 7000 / 8, line));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(Total(call), 875);
  // --partial: calls sized to fit (each under 65536 bytes, whatever --batch).
  r = Shell(track + file + " --partial --batch 100000");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ReportsSent(r.out), 3000) << r.out;
  EXPECT_EQ(Total(call), 3000);
}

// A dataset whose path is not UTF-8 (its source, in /info and TileJSON):
// every JSON answer still parses.
TEST_F(CliTrack, JsonOutputIsValidUtf8WhateverWasStored) {
  const fs::path odd = dir_ / "grids-\xFF\xFE.geojson";
  fs::copy_file(dir_ / "small.geojson", odd);
  ServeProcess server({odd.string(), "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0", "--threads", "1"},
                      dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  ASSERT_GT(server.http_port(), 0u) << server.Log();
  const std::string call = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" + std::to_string(server.port());
  const Ran info = Shell(call + " info");
  ASSERT_EQ(info.status, 0) << info.out;
  // Each byte that is not UTF-8 reads as U+FFFD, in both answers alike.
  const std::string source = (dir_ / "grids-\xEF\xBF\xBD\xEF\xBF\xBD.geojson").string();
  const JsonDoc cli = ParseJson(info.out);
  ASSERT_TRUE(cli.ok()) << info.out;
  EXPECT_EQ(std::string_view(cli.root["source"]), source) << info.out;
  const std::string http_info = HttpBody(server.http_port(), "/info");
  EXPECT_TRUE(SameJsonText(info.out, http_info));
  // The deprecated shape (?v=1) too.
  const JsonDoc v1 = ParseJson(HttpBody(server.http_port(), "/info?v=1"));
  ASSERT_TRUE(v1.ok()) << v1.text;
  EXPECT_EQ(std::string_view(v1.root["source"]), source) << v1.text;
  const std::string tilejson = HttpBody(server.http_port(), "/tiles.json");
  EXPECT_NE(tilejson.find("grids-"), std::string::npos) << tilejson;
  EXPECT_TRUE(IsJson(tilejson));
}

}  // namespace
}  // namespace gridtree::testing

// Every JSON text gridtree writes is valid UTF-8 (json_text.h, utf8.h), and
// the engine takes only UTF-8 ids and kinds (CheckObjectReport). Outputs are
// judged by simdjson, which refuses invalid UTF-8, not by substrings.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/json_text.h"
#include "gridtree/engine/objects.h"
#include "gridtree/engine/utf8.h"
#include "small_dataset.h"
#include "storage/wal.h"  // Crc32c, the objects file's checksum

namespace gridtree {
namespace {

// The string AppendJsonString writes for s, read back by simdjson.
std::string RoundTrip(std::string_view s) {
  std::string json = "{\"s\":";
  AppendJsonString(json, s);
  json += "}";
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const auto error = parser.parse(json).get(doc);
  EXPECT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error) << " in " << json;
  if (error) return "<invalid>";
  std::string_view out;
  EXPECT_EQ(doc["s"].get_string().get(out), simdjson::SUCCESS);
  return std::string(out);
}

const std::string kFffd = "\xEF\xBF\xBD";

TEST(JsonUtf8, ValidTextIsKept) {
  EXPECT_EQ(RoundTrip("boat-1"), "boat-1");
  EXPECT_EQ(RoundTrip("江门市蓬江区"), "江门市蓬江区");               // CJK, 3 bytes each
  EXPECT_EQ(RoundTrip("é ü \xF0\x9F\x9A\xA2"), "é ü \xF0\x9F\x9A\xA2");  // 2 and 4 bytes (a ship)
  EXPECT_EQ(RoundTrip("\xEF\xBF\xBF\xF4\x8F\xBF\xBF"), "\xEF\xBF\xBF\xF4\x8F\xBF\xBF");  // U+FFFF, U+10FFFF
  EXPECT_EQ(RoundTrip("a\"b\\c\n\x01"), "a\"b\\c\n\x01");
}

TEST(JsonUtf8, EachInvalidByteBecomesTheReplacementCharacter) {
  EXPECT_EQ(RoundTrip("a\xFF" "b"), "a" + kFffd + "b");                     // a byte that never starts a character
  EXPECT_EQ(RoundTrip("\x80\xBF"), kFffd + kFffd);                         // stray continuation bytes
  EXPECT_EQ(RoundTrip("\xC0\xAF"), kFffd + kFffd);                         // overlong '/'
  EXPECT_EQ(RoundTrip("\xE0\x80\xAF"), kFffd + kFffd + kFffd);             // overlong 3-byte
  EXPECT_EQ(RoundTrip("\xF0\x80\x80\xAF"), kFffd + kFffd + kFffd + kFffd); // overlong 4-byte
  EXPECT_EQ(RoundTrip("\xED\xA0\x80"), kFffd + kFffd + kFffd);             // a surrogate, U+D800
  EXPECT_EQ(RoundTrip("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd); // past U+10FFFF
  EXPECT_EQ(RoundTrip("\xE6\xB1"), kFffd + kFffd);                         // 江 cut short at the end
  EXPECT_EQ(RoundTrip("\xE6\xB1x"), kFffd + kFffd + "x");                  // ... and in the middle
  EXPECT_EQ(RoundTrip("江\xFE门"), "江" + kFffd + "门");                    // valid characters around it kept
  EXPECT_EQ(RoundTrip(std::string("\xF5\xF8\xFC\xFE\xFF", 5)), kFffd + kFffd + kFffd + kFffd + kFffd);
}

TEST(JsonUtf8, EveryByteAndPairGivesValidJson) {
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; b += 7) {
      const std::string s = {static_cast<char>(a), static_cast<char>(b), 'x'};
      const std::string back = RoundTrip(s);
      EXPECT_TRUE(IsValidUtf8(back)) << a << " " << b;
      if (IsValidUtf8(s)) {
        EXPECT_EQ(back, s) << a << " " << b;
      }
    }
}

TEST(JsonUtf8, ValidUtf8RepairsAndKeeps) {
  EXPECT_EQ(ValidUtf8("江门"), "江门");
  EXPECT_EQ(ValidUtf8("{\"id\":\"\xFF\"}"), "{\"id\":\"" + kFffd + "\"}");
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);
  EXPECT_EQ(FindInvalidUtf8("abé"), std::string_view::npos);
}

TEST(JsonUtf8, ReportsMustBeUtf8) {
  const ObjectOptions o;
  EXPECT_TRUE(CheckObjectReport({"船-1", "渔船", 112, 22, 0}, o, 1000).ok());
  Status s = CheckObjectReport({"boat-\xFF", "boat", 112, 22, 0}, o, 1000);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the id is not valid UTF-8 (byte 0xFF at offset 5)"), std::string::npos) << s.message();
  s = CheckObjectReport({"b", "bo\xC0\xAFt", 112, 22, 0}, o, 1000);
  EXPECT_NE(s.message().find("the kind is not valid UTF-8"), std::string::npos) << s.message();
  s = CheckObjectReport({"b", "boat", 1e308, 22, 0}, o, 1000);
  EXPECT_NE(s.message().find("(1e+308, 22): lon 1e+308 is not in [-180, 180]"), std::string::npos) << s.message();
  EXPECT_LT(s.message().size(), 100u);
  s = CheckObjectReport({"b", "boat", 112, -91, 0}, o, 1000);
  EXPECT_NE(s.message().find("lat -91 is not in [-90, 90]"), std::string::npos) << s.message();
  s = CheckObjectReport({"b", "boat", 112, 22, 1000 + 301}, o, 1000);
  EXPECT_NE(s.message().find("the time 1301 is more than 300 s after"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckObjectReport({"b", "boat", 112, 22, 1000 + 300}, o, 1000).ok());
}

// An objects file a clean shutdown wrote before ids were checked for UTF-8:
// the object comes back as it was, and its id prints as valid JSON.
TEST(JsonUtf8, ObjectsSavedBeforeTheCheckComeBackAndPrintValid) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("gridtree_json_utf8_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "small.geojson") << testing::SmallDatasetGeoJson(4);
  // The format of Engine::SaveObjects: magic, count, then per object the
  // id's and kind's lengths, lon, lat, time, id, kind; a CRC-32C at the end.
  const std::string id = "boat-\xFF\xFE", kind = "boat";
  std::string bytes = "GTOBJ001";
  const auto put = [&bytes](const void* p, size_t n) { bytes.append(static_cast<const char*>(p), n); };
  const uint64_t count = 1;
  const uint32_t lens[2] = {static_cast<uint32_t>(id.size()), static_cast<uint32_t>(kind.size())};
  const double lon = 112.005, lat = 22.005;
  const int64_t time = 1'800'000'000;
  put(&count, sizeof count), put(lens, sizeof lens), put(&lon, 8), put(&lat, 8), put(&time, 8);
  bytes += id + kind;
  const uint32_t crc = internal::Crc32c(bytes.data(), bytes.size());
  put(&crc, sizeof crc);
  std::ofstream(dir / "objects.bin", std::ios::binary) << bytes;

  EngineOptions options;
  options.threads = 1;
  options.data_dir = (dir / "data").string();
  fs::create_directories(options.data_dir);
  fs::rename(dir / "objects.bin", fs::path(options.data_dir) / "objects.bin");
  options.objects.restore_saved = true;
  auto engine = Engine::Open((dir / "small.geojson").string(), options);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  ObjectQuery everywhere;
  everywhere.box = index::Box{-180, -90, 180, 90};
  auto page = (*engine)->Objects(everywhere);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 1u);
  EXPECT_EQ(page->objects[0].id, id);  // kept as it was
  EXPECT_EQ(RoundTrip(page->objects[0].id), "boat-" + kFffd + kFffd);
  // New reports with such an id are refused.
  std::vector<ObjectReport> again = {{id, kind, lon, lat, 0}};
  auto refused = (*engine)->Track(again);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("report 1 of 1 (id \"boat-\xEF\xBF\xBD\xEF\xBF\xBD\"): the id is not valid UTF-8"),
            std::string::npos)
      << refused.status().message();
  engine.value().reset();  // closed before its directory goes
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gridtree

namespace gridtree {
namespace {

// AppendJsonNumber writes the shortest text that reads back as the same
// double: checked with simdjson's own number parser over random bit patterns
// and the edges (integers past 2^53, subnormals); non-finite values are null.
TEST(JsonNumber, EveryFiniteDoubleReadsBackExactly) {
  std::mt19937_64 rng(11);
  std::vector<double> values = {0.0, -0.0, 1.0, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, 9007199254740993.0,
                                113.0812345678, 22.58};
  while (values.size() < 20000) {
    const uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isfinite(v)) values.push_back(v);
  }
  simdjson::dom::parser parser;
  for (double v : values) {
    std::string json = "[";
    AppendJsonNumber(json, v);
    json += "]";
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
    double back = 0;
    const simdjson::dom::element first = doc.at(0);
    if (first.is_double()) {
      ASSERT_EQ(first.get_double().get(back), simdjson::SUCCESS);
    } else if (first.is_int64()) {
      back = static_cast<double>(int64_t(first));
    } else {
      back = static_cast<double>(uint64_t(first));
    }
    EXPECT_EQ(std::memcmp(&back, &v, sizeof v) == 0 || (v == 0 && back == 0), true) << json;
  }
  for (double v : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    std::string json;
    AppendJsonNumber(json, v);
    EXPECT_EQ(json, "null");
  }
}

}  // namespace
}  // namespace gridtree

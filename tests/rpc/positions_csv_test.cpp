// POSITIONS.csv parsing (rpc/tools/positions_csv.h): each kind of bad line
// is refused with FILE:LINE and the field; odd bytes never crash it.
#include "positions_csv.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace gridtree {
namespace {

// The error for text, or "" when it parses.
std::string ErrorOf(const std::string& text) {
  auto r = ParsePositionsCsv(text, "p.csv");
  return r.ok() ? "" : r.status().message();
}

void ExpectError(const std::string& text, const std::string& want) {
  const std::string got = ErrorOf(text);
  EXPECT_NE(got.find(want), std::string::npos) << "error: \"" << got << "\", wanted \"" << want << "\"";
}

TEST(PositionsCsv, ReadsRowsWithTheirLines) {
  auto r = ParsePositionsCsv("id,kind,lon,lat,unix_time\nb1,boat,112.5,22.25,1700000000\r\n\ns2,staff,-0.5,1e-1\n",
                             "p.csv");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].line, 2u);
  EXPECT_EQ((*r)[0].report.id, "b1");
  EXPECT_EQ((*r)[0].report.kind, "boat");
  EXPECT_EQ((*r)[0].report.lon, 112.5);
  EXPECT_EQ((*r)[0].report.lat, 22.25);
  EXPECT_EQ((*r)[0].report.time, 1700000000);
  EXPECT_EQ((*r)[1].line, 4u);
  EXPECT_EQ((*r)[1].report.lon, -0.5);
  EXPECT_EQ((*r)[1].report.lat, 0.1);
  EXPECT_EQ((*r)[1].report.time, 0);
}

TEST(PositionsCsv, ByteOrderMarkIsSkipped) {
  auto r = ParsePositionsCsv("\xEF\xBB\xBFid,kind,lon,lat\na,boat,112,22\n", "p.csv");
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].report.id, "a");
  r = ParsePositionsCsv("\xEF\xBB\xBF" "a,boat,112,22\n", "p.csv");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ((*r)[0].report.id, "a");
  EXPECT_EQ((*r)[0].line, 1u);
}

TEST(PositionsCsv, EachErrorNamesFileLineAndField) {
  const std::string good = "a,boat,112,22\n";
  ExpectError(good + "b,boat,112\n", "p.csv:2: expected id,kind,lon,lat[,unix_time], got 3 fields");
  ExpectError(good + "b,boat,112,22,1,2\n", "p.csv:2: expected id,kind,lon,lat[,unix_time], got 6 fields");
  ExpectError(good + "b,boat,0x70.F3,22\n", "p.csv:2: lon: \"0x70.F3\" is not a decimal number");
  ExpectError(good + "b,boat,112,inf\n", "p.csv:2: lat: \"inf\" is not a decimal number");
  ExpectError(good + "b,boat,nan,22\n", "p.csv:2: lon: \"nan\" is not a decimal number");
  ExpectError(good + "b,boat,+112,22\n", "p.csv:2: lon: \"+112\" is not a decimal number");
  ExpectError(good + "b,boat, 112,22\n", "p.csv:2: lon: \" 112\" is not a decimal number");
  ExpectError(good + "b,boat,112.,22e\n", "p.csv:2: lat: \"22e\" is not a decimal number");
  ExpectError(good + "b,boat,1e999,22\n", "p.csv:2: lon: \"1e999\" is out of range");
  ExpectError(good + "b,boat,112,22,17e8\n", "p.csv:2: unix_time: \"17e8\" is not a whole number of seconds");
  ExpectError(good + "b,boat,112,22,99999999999999999999\n", "p.csv:2: unix_time: \"99999999999999999999\" is out of range");
  ExpectError(good + "b,boat,112,22,-5\n", "p.csv:2 (id \"b\"): the time -5 is negative");
  ExpectError(good + "b,boat,181,22\n", "p.csv:2 (id \"b\"): the position (181, 22): lon 181 is not in [-180, 180]");
  ExpectError(good + "b,boat,112,95\n", "p.csv:2 (id \"b\"): the position (112, 95): lat 95 is not in [-90, 90]");
  ExpectError(good + ",boat,112,22\n", "p.csv:2 (id \"\"): the id is empty");
  ExpectError(good + "b,,112,22\n", "p.csv:2 (id \"b\"): the kind is empty");
  ExpectError(good + std::string(129, 'x') + ",boat,112,22\n", "the id has 129 bytes, more than 128");
  ExpectError(good + "b," + std::string(33, 'k') + ",112,22\n", "p.csv:2 (id \"b\"): the kind has 33 bytes, more than 32");
  ExpectError(good + "b\xFF,boat,112,22\n", "p.csv:2 (id \"b\xEF\xBF\xBD\"): the id is not valid UTF-8 (byte 0xFF at offset 1)");
  ExpectError(good + "b,bo\xC3t,112,22\n", "p.csv:2 (id \"b\"): the kind is not valid UTF-8");
  // Huge values come back short, not as 309 digits.
  const std::string huge = ErrorOf(good + "b,boat,1e308,22\n");
  EXPECT_NE(huge.find("p.csv:2 (id \"b\"): the position (1e+308, 22): lon 1e+308 is not in [-180, 180]"), std::string::npos)
      << huge;
  EXPECT_LT(huge.size(), 120u) << huge;
  // Tiny values underflow to zero rather than fail.
  EXPECT_EQ(ErrorOf(good + "b,boat,1e-400,22\n"), "");
  // Valid UTF-8 ids and kinds are fine.
  EXPECT_EQ(ErrorOf("渔船-7,渔船,112,22\n"), "");
}

// Any bytes: an answer, never a crash or an exception.
TEST(PositionsCsv, RandomBytesNeverCrash) {
  std::mt19937_64 random(7);
  const std::string alphabet = "0123456789,.-+eE\n\r xabc\xEF\xBB\xBF\xFF\xC3\x80";
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const size_t n = random() % 80;
    for (size_t i = 0; i < n; ++i)
      text += random() % 8 ? alphabet[random() % alphabet.size()] : static_cast<char>(random() % 256);
    auto r = ParsePositionsCsv(text, "r.csv");
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("r.csv:", 0), 0u) << r.status().message();
    }
  }
}

}  // namespace
}  // namespace gridtree

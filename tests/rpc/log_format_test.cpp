// Log lines (FormatLogLine, rpc/src/log.cpp): a value echoed from a request
// can neither break the line nor forge a field. Judged by a logfmt reader
// written here, independent of the writer.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gridtree/engine/utf8.h"
#include "gridtree/rpc/server.h"

namespace gridtree {
namespace {

// key=value pairs of one logfmt line, each value as written between its
// quotes (a backslash and the character after it are read as a pair, so
// that an escaped quote does not end the value).
std::vector<std::pair<std::string, std::string>> ReadLogfmt(const std::string& line) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < line.size()) {
    const size_t eq = line.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = line.substr(i, eq - i), value;
    i = eq + 1;
    if (i < line.size() && line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) value += line[i++];
        value += line[i];
      }
      ++i;  // the closing quote
    } else {
      const size_t end = line.find(' ', i);
      value = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
      i = end == std::string::npos ? line.size() : end;
    }
    out.emplace_back(std::move(key), std::move(value));
    while (i < line.size() && line[i] == ' ') ++i;
  }
  return out;
}

// A value as the log must show it: a backslash doubled (so that every
// escape is the writer's own), a quote behind a backslash, control bytes as
// \n, \r, \t or \xNN.
std::string Escaped(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '"') {
      out += "\\\"";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

TEST(LogFormat, AnyAsciiValueStaysOneLineAndReadsBackAsEscaped) {
  std::mt19937 rng(7);
  for (int round = 0; round < 2000; ++round) {
    std::string value;
    const int length = static_cast<int>(rng() % 40);
    for (int i = 0; i < length; ++i) value += static_cast<char>(rng() % 128);  // every ASCII byte, controls too
    const std::string line = rpc::FormatLogLine("warn", "bad_request", {{"id", value}, {"after", "x"}});
    ASSERT_EQ(line.find('\n'), std::string::npos) << line;
    ASSERT_EQ(line.find('\r'), std::string::npos) << line;
    const auto fields = ReadLogfmt(line);
    ASSERT_EQ(fields.size(), 5u) << line;  // ts, level, event, id, after: no field forged
    EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"level", "warn"}));
    EXPECT_EQ(fields[3].first, "id");
    EXPECT_EQ(fields[3].second, Escaped(value)) << line;
    EXPECT_EQ(fields[4], (std::pair<std::string, std::string>{"after", "x"})) << line;
  }
}

TEST(LogFormat, UnicodeIsKeptButInvisibleAndBrokenCharactersAreEscaped) {
  const std::string name = "鲲鹏村";
  auto value_of = [](const std::string& v) {
    return ReadLogfmt(rpc::FormatLogLine("info", "e", {{"v", v}}))[3].second;
  };
  EXPECT_EQ(value_of(name), name);
  // A line separator and a right-to-left override would hide or fake text in a viewer.
  EXPECT_EQ(value_of("a\u2028b"), "a\\u{2028}b");
  EXPECT_EQ(value_of("a\u202Eb"), "a\\u{202e}b");
  // A byte that is not UTF-8 is shown as a byte, and the line stays UTF-8.
  const std::string broken = "a\xFF" "b";
  EXPECT_EQ(value_of(broken), "a\\xffb");
  EXPECT_TRUE(IsValidUtf8(rpc::FormatLogLine("info", "e", {{"v", broken}})));
}

TEST(LogFormat, LongValuesAreCutWithTheCountOfBytesLeftOut) {
  const std::string value(2000, 'a');
  const auto fields = ReadLogfmt(rpc::FormatLogLine("info", "e", {{"v", value}}));
  ASSERT_EQ(fields.size(), 4u);
  EXPECT_EQ(fields[3].second, std::string(512, 'a') + "...(1488 more bytes)");
}

}  // namespace
}  // namespace gridtree

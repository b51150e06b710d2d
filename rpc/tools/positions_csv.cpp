// POSITIONS.csv parsing (positions_csv.h): decimal numbers by
// std::from_chars after a check of the characters, so that nothing locale-
// or prefix-dependent (strtod's hex, inf, nan) gets through.
#include "positions_csv.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <limits>
#include <system_error>

#include "gridtree/engine/json_text.h"
#include "gridtree/engine/read_file.h"

namespace gridtree {
namespace {

// A field as messages show it: quoted, escaped, at most 40 bytes.
std::string Shown(std::string_view v) {
  std::string out;
  AppendJsonString(out, v.substr(0, 40));
  if (v.size() > 40) out.insert(out.size() - 1, "...");
  return out;
}

// -?(digits)(.digits?)?([eE][+-]?digits)? or -?.digits(...): at least one
// digit before the exponent.
bool IsDecimal(std::string_view s) {
  size_t i = 0, digits = 0;
  const auto digit = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') ++i;
  while (digit(i)) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (digit(i)) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == s.size();
}

// An empty string when v holds the number; else what is wrong.
std::string ParseDouble(std::string_view s, double& v) {
  if (!IsDecimal(s)) return Shown(s) + " is not a decimal number (digits, '-', '.', 'e' only)";
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // Too large, or so small it underflows (read as strtod rounds it: the
    // text is decimal digits only, so nothing else can reach strtod).
    const double rounded = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(rounded)) return Shown(s) + " is out of range";
    v = rounded;
    return "";
  }
  if (ec != std::errc() || end != s.data() + s.size()) return Shown(s) + " is not a decimal number";
  return "";
}

std::string ParseTime(std::string_view s, int64_t& v) {
  size_t i = s.size() > 1 && s[0] == '-' ? 1 : 0;
  if (i == s.size()) return Shown(s) + " is not a whole number of seconds";
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return Shown(s) + " is not a whole number of seconds";
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return Shown(s) + " is out of range";
  return "";
}

}  // namespace

Result<std::vector<PositionRow>> ParsePositionsCsv(std::string_view text, std::string_view file_name,
                                                   const ObjectOptions& limits) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.substr(0, kBom.size()) == kBom) text.remove_prefix(kBom.size());
  std::vector<PositionRow> out;
  // The time ahead of the clock is the server's to judge (its clock).
  constexpr int64_t kNoClock = std::numeric_limits<int64_t>::max();
  size_t n = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++n;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || (n == 1 && line.substr(0, 3) == "id,")) continue;
    const std::string where = std::string(file_name) + ":" + std::to_string(n);
    std::string_view cols[5];
    size_t count = 0;
    for (size_t b = 0;;) {
      const size_t comma = line.find(',', b);
      const std::string_view col = line.substr(b, comma == std::string_view::npos ? std::string_view::npos : comma - b);
      if (count < 5) cols[count] = col;
      ++count;
      if (comma == std::string_view::npos) break;
      b = comma + 1;
    }
    if (count < 4 || count > 5)
      return InvalidArgument(where + ": expected id,kind,lon,lat[,unix_time], got " + std::to_string(count) +
                             " fields");
    PositionRow& row = out.emplace_back();
    row.line = n;
    ObjectReport& r = row.report;
    r.id.assign(cols[0]);
    r.kind.assign(cols[1]);
    if (std::string e = ParseDouble(cols[2], r.lon); !e.empty()) return InvalidArgument(where + ": lon: " + e);
    if (std::string e = ParseDouble(cols[3], r.lat); !e.empty()) return InvalidArgument(where + ": lat: " + e);
    if (count == 5)
      if (std::string e = ParseTime(cols[4], r.time); !e.empty())
        return InvalidArgument(where + ": unix_time: " + e);
    if (Status s = CheckObjectReport(r, limits, kNoClock); !s.ok())
      return InvalidArgument(where + " (id " + Shown(r.id) + "): " + s.message());
  }
  return out;
}

Result<std::vector<PositionRow>> ReadPositionsCsv(const std::string& path, const ObjectOptions& limits) {
  auto bytes = ReadWholeFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParsePositionsCsv(*bytes, path, limits);
}

uint64_t TrackReportWords(const ObjectReport& report) {
  const auto text_words = [](const std::string& t) { return (uint64_t{t.size()} + 8) / 8; };
  return kObjectReportWords + text_words(report.id) + text_words(report.kind);
}

uint64_t TrackRequestBytes(std::span<const PositionRow> rows) {
  uint64_t words = kTrackEnvelopeWords;
  for (const PositionRow& r : rows) words += TrackReportWords(r.report);
  return words * 8;
}

size_t ReportsThatFit(std::span<const PositionRow> rows, uint64_t max_reports, uint64_t max_bytes) {
  const uint64_t budget = max_bytes / 8;
  uint64_t words = kTrackEnvelopeWords;
  size_t n = 0;
  for (; n < rows.size() && (max_reports == 0 || n < max_reports); ++n) {
    words += TrackReportWords(rows[n].report);
    if (words > budget) break;
  }
  return n;
}

}  // namespace gridtree

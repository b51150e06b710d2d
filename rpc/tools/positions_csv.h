// POSITIONS.csv, the input of `gridtree call track`: one position report a
// line, `id,kind,lon,lat[,unix_time]` (docs/objects.md). Parsed whole and
// checked with the engine's own per-report checks before anything is sent,
// so that a bad line anywhere refuses the file with FILE:LINE and the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/objects.h"
#include "gridtree/engine/status.h"

namespace gridtree {

// One report and the 1-based line it came from.
struct PositionRow {
  ObjectReport report;
  size_t line = 0;
};

// Parses the text of a positions file; file_name is only for messages
// ("positions.csv:15001: lon: ..."). Never throws, whatever the bytes.
// - A UTF-8 byte order mark at the start is skipped; lines end in \n or
//   \r\n; empty lines are skipped; a first line starting with "id," is a
//   header.
// - id and kind: valid UTF-8, non-empty, within the limits (ObjectOptions).
// - lon, lat: decimal numbers only: an optional '-', digits with an
//   optional '.' and fraction, an optional exponent (1e-3). Refused:
//   a leading '+', hex (0x70.F3), inf, nan, spaces, values that overflow a
//   double.
// - unix_time: an optional '-' and decimal digits, within int64.
// - Every report passes CheckObjectReport with `limits`, except the time
//   limit ahead of the clock, which only the server (its clock) applies.
// The first bad line is the error: "FILE:LINE: FIELD: what", or for the
// engine's checks "FILE:LINE (id "x"): the position ...".
Result<std::vector<PositionRow>> ParsePositionsCsv(std::string_view text, std::string_view file_name,
                                                   const ObjectOptions& limits = {});

// Reads the file and parses it (ParsePositionsCsv).
Result<std::vector<PositionRow>> ReadPositionsCsv(const std::string& path, const ObjectOptions& limits = {});

// The size of a Writer.track request, estimated before it is built so that
// one past the message limit is refused with a message of ours rather than
// Cap'n Proto's. Never under the real size:
// - a report: its struct inline in the list (kObjectReportWords: lon, lat,
//   time and the id and kind pointers), and the id and kind texts, each
//   with its NUL rounded up to words;
// - kTrackEnvelopeWords once: the list's tag word, the params struct, the
//   Message, Call and Payload around them, the segment table and the far
//   pointers where the builder starts a new segment (a few words each, and
//   a message of any size has fewer than 40 segments).
inline constexpr uint64_t kObjectReportWords = 5;
inline constexpr uint64_t kTrackEnvelopeWords = 256;
uint64_t TrackReportWords(const ObjectReport& report);
uint64_t TrackRequestBytes(std::span<const PositionRow> rows);

// How many of rows, from the first, go in one track call of at most
// max_reports reports (0: no limit) and at most max_bytes bytes
// (TrackRequestBytes); 0 when the first report alone does not fit.
size_t ReportsThatFit(std::span<const PositionRow> rows, uint64_t max_reports, uint64_t max_bytes);

}  // namespace gridtree

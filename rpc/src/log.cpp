// Structured log lines: "ts=2025-01-01T12:00:00.123Z level=info event=... k=v".
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include <algorithm>

#include "gridtree/rpc/server.h"
#include "state.h"

namespace gridtree::rpc {
namespace internal {

namespace {
// Length of the valid UTF-8 sequence at p (1–4), or 0 when it is not one.
size_t Utf8Length(const unsigned char* p, size_t n, uint32_t* code_point = nullptr) {
  const unsigned char c = p[0];
  size_t len = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
  else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
  else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
  else return 0;
  if (len > n) return 0;
  for (size_t i = 1; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  if (code_point) *code_point = cp;
  return len;
}
// Code points that change how a line reads without being visible.
bool Invisible(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202A && cp <= 0x202E) ||
         (cp >= 0x2066 && cp <= 0x2069);
}
}  // namespace

std::string EscapeText(std::string_view v, size_t max_bytes) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(v.data());
  const size_t n = std::min(v.size(), max_bytes);
  for (size_t i = 0; i < n;) {
    const unsigned char c = p[i];
    uint32_t cp = c;
    const size_t len = Utf8Length(p + i, v.size() - i, &cp);
    if (len > 1 && (Invisible(cp) || i + len > n)) {
      // A line separator, a C1 control or a direction override could still
      // fake or hide a line in a viewer; a character cut by the limit would
      // not be UTF-8. Written as \u{XXXX}.
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\u{%04x}", cp);
      out += buf;
      i += len;
      continue;
    }
    if (len == 0 || c < 0x20 || c == 0x7F) {
      char buf[8];
      if (c == '\n') std::snprintf(buf, sizeof buf, "\\n");
      else if (c == '\r') std::snprintf(buf, sizeof buf, "\\r");
      else if (c == '\t') std::snprintf(buf, sizeof buf, "\\t");
      else std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    if (c == '\\') out += '\\';  // so that an escape in the output is always one of ours
    out.append(v.data() + i, len);
    i += len;
  }
  if (v.size() > n) out += "...(" + std::to_string(v.size() - n) + " more bytes)";
  return out;
}

std::string BadText(kj::ArrayPtr<const char> text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.begin());
  for (size_t i = 0; i < text.size();) {
    if (p[i] == 0) return "contains a NUL byte at " + std::to_string(i);
    const size_t len = Utf8Length(p + i, text.size() - i);
    if (len == 0) return "is not valid UTF-8 (byte " + std::to_string(i) + ")";
    i += len;
  }
  return "";
}

}  // namespace internal

namespace {
// Values are escaped (control characters, bytes that are not UTF-8) and cut
// at kMaxValueBytes: a request field echoed into the log can neither forge
// lines nor flood it.
constexpr size_t kMaxValueBytes = 512;

void AppendValue(std::string& out, std::string_view raw) {
  const std::string v = internal::EscapeText(raw, kMaxValueBytes);
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\') plain = false;
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '\\';
    out += c;
  }
  out += '"';
}
}  // namespace

std::string FormatLogLine(std::string_view level, std::string_view event,
                          std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  std::string line = "ts=";
  line += ts;
  line += " level=";
  line += level;
  line += " event=";
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    AppendValue(line, v);
  }
  return line;
}

namespace internal {
void WriteLogLine(std::string_view line) {
  std::string l(line);
  l += '\n';
  std::fwrite(l.data(), 1, l.size(), stderr);
  std::fflush(stderr);
}
}  // namespace internal

void LogLine(std::string_view level, std::string_view event,
             std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  internal::WriteLogLine(FormatLogLine(level, event, fields));
}

}  // namespace gridtree::rpc

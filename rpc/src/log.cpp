// Structured log lines: "ts=2025-01-01T12:00:00.123Z level=info event=... k=v".
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "gridtree/rpc/server.h"

namespace gridtree::rpc {
namespace {
void AppendValue(std::string& out, std::string_view v) {
  bool plain = !v.empty();
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) plain = false;
  if (plain) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
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

void LogLine(std::string_view level, std::string_view event,
             std::initializer_list<std::pair<std::string_view, std::string>> fields) {
  std::string line = FormatLogLine(level, event, fields);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace gridtree::rpc

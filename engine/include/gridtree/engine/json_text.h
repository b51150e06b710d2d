// The one JSON writer of gridtree's own output: the command line's --json,
// the HTTP error bodies, the generator's GeoJSON and the workload reports.
// Strings are escaped as RFC 8259 asks (quote, backslash, control
// characters) and always come out valid UTF-8: each byte that does not start
// a valid character (utf8.h) becomes U+FFFD, so an id or name stored before
// ids were checked cannot make the output unreadable. Numbers are the
// shortest text that reads back exactly.
#pragma once

#include <charconv>
#include <cstdio>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "gridtree/engine/utf8.h"

namespace gridtree {

inline void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {  // a run of non-ASCII bytes (no character of it is ASCII)
      size_t end = i;
      while (end < s.size() && static_cast<unsigned char>(s[end]) >= 0x80) ++end;
      AppendValidUtf8(out, s.substr(i, end - i));
      i = end;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void AppendJsonNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  // A whole number past 2^53 written out in digits ("-136742926958265417728")
  // is read as an integer by some parsers, which refuse it past 64 bits:
  // with an exponent it is plainly a double.
  if (end - buf > 16 && std::string_view(buf, end - buf).find_first_of(".e") == std::string_view::npos)
    end = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific).ptr;
  out.append(buf, end);
}

inline void AppendJsonNumber(std::string& out, int64_t v) { out += std::to_string(v); }

}  // namespace gridtree

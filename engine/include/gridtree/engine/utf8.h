// UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing
// past U+10FFFF): the check behind every id and kind the engine stores and
// the repair behind every JSON text gridtree writes (json_text.h).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gridtree {

// Bytes of the valid UTF-8 character that starts at s[i] (1 to 4), or 0 when
// the bytes there are not one (a stray continuation byte, a lead byte that
// cannot start a character, a sequence cut short, an overlong form, a
// surrogate, a code point past U+10FFFF). Requires i < s.size().
inline size_t Utf8CharLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) n = 2;
  else if (c == 0xE0) n = 3, lo = 0xA0;  // no overlong 3-byte forms
  else if (c == 0xED) n = 3, hi = 0x9F;  // no surrogates U+D800..U+DFFF
  else if (c >= 0xE1 && c <= 0xEF) n = 3;
  else if (c == 0xF0) n = 4, lo = 0x90;  // no overlong 4-byte forms
  else if (c >= 0xF1 && c <= 0xF3) n = 4;
  else if (c == 0xF4) n = 4, hi = 0x8F;  // nothing past U+10FFFF
  else return 0;                         // 0x80..0xC1, 0xF5..0xFF
  if (s.size() - i < n || byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

// The offset of the first byte that does not start a valid character, or
// std::string_view::npos when the whole text is valid UTF-8.
inline size_t FindInvalidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8CharLength(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

inline bool IsValidUtf8(std::string_view s) { return FindInvalidUtf8(s) == std::string_view::npos; }

// U+FFFD REPLACEMENT CHARACTER, written for each byte that does not start a
// valid character.
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Appends s with each byte that does not start a valid character replaced by
// U+FFFD; valid characters (multibyte ones included) are kept as they are.
inline void AppendValidUtf8(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8CharLength(s, i);
    if (n == 0) {
      out += kUtf8Replacement;
      ++i;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
  }
}

// s as valid UTF-8 (AppendValidUtf8); a copy of s when it already is.
inline std::string ValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  AppendValidUtf8(out, s);
  return out;
}

}  // namespace gridtree

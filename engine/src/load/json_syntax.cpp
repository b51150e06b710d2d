// A small JSON syntax checker whose only job is to say where a document is
// broken (line and column), or which of its numbers are out of range (their
// lines). simdjson is used for all real parsing; this runs only after it has
// refused a document.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

#include "load/raw_feature.h"

namespace gridtree::internal {
namespace {

class Checker {
 public:
  explicit Checker(std::string_view t) : t_(t) {}

  std::optional<SyntaxError> Run() {
    Ws();
    if (!Value()) return error_;
    Ws();
    if (i_ != t_.size()) return Fail("unexpected text after the end of the document");
    return std::nullopt;
  }

 private:
  std::optional<SyntaxError> Fail(const char* what) {
    if (!error_) {
      int64_t line = 1, col = 1;
      for (size_t k = 0; k < i_ && k < t_.size(); ++k) {
        if (t_[k] == '\n') ++line, col = 1;
        else ++col;
      }
      error_ = SyntaxError{line, col, what};
    }
    return error_;
  }
  bool Bad(const char* what) {
    Fail(what);
    return false;
  }
  void Ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool Lit(const char* word) {
    const size_t n = std::strlen(word);
    if (t_.substr(i_, n) != word) return Bad("invalid literal");
    i_ += n;
    return true;
  }
  bool String() {
    ++i_;  // opening quote
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == '"') return ++i_, true;
      if (static_cast<unsigned char>(c) < 0x20) return Bad("control character inside a string");
      if (c == '\\') {
        ++i_;
        if (i_ >= t_.size() || !std::strchr("\"\\/bfnrtu", t_[i_])) return Bad("invalid escape in a string");
      }
      ++i_;
    }
    return Bad("unterminated string");
  }
  bool Number() {
    const size_t start = i_;
    if (t_[i_] == '-') ++i_;
    if (i_ >= t_.size() || !std::isdigit(static_cast<unsigned char>(t_[i_]))) return Bad("invalid number");
    while (i_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[i_])) || std::strchr(".eE+-", t_[i_]))) ++i_;
    std::string num(t_.substr(start, i_ - start));
    char* end = nullptr;
    const double v = std::strtod(num.c_str(), &end);
    if (end != num.c_str() + num.size()) return i_ = start, Bad("invalid number");
    if (v == HUGE_VAL || v == -HUGE_VAL) return i_ = start, Bad("number out of range");
    return true;
  }
  bool Value() {
    if (++depth_ > 512) return Bad("nesting too deep");
    Ws();
    if (i_ >= t_.size()) return Bad("unexpected end of input");
    bool ok;
    const char c = t_[i_];
    if (c == '{') ok = Object();
    else if (c == '[') ok = Array();
    else if (c == '"') ok = String();
    else if (c == 't') ok = Lit("true");
    else if (c == 'f') ok = Lit("false");
    else if (c == 'n') ok = Lit("null");
    else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) ok = Number();
    else ok = Bad("unexpected character");
    --depth_;
    return ok;
  }
  bool Object() {
    ++i_;
    Ws();
    if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
    while (true) {
      Ws();
      if (i_ >= t_.size() || t_[i_] != '"') return Bad("expected a member name in quotes");
      if (!String()) return false;
      Ws();
      if (i_ >= t_.size() || t_[i_] != ':') return Bad("expected ':' after a member name");
      ++i_;
      if (!Value()) return false;
      Ws();
      if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
      if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
      return Bad("expected ',' or '}' in an object");
    }
  }
  bool Array() {
    ++i_;
    Ws();
    if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
    while (true) {
      if (!Value()) return false;
      Ws();
      if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
      if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
      return Bad("expected ',' or ']' in an array");
    }
  }

  std::string_view t_;
  size_t i_ = 0;
  int depth_ = 0;
  std::optional<SyntaxError> error_;
};

}  // namespace

std::optional<SyntaxError> FindJsonSyntaxError(std::string_view text) { return Checker(text).Run(); }

std::vector<OutOfRangeNumber> FindOutOfRangeNumbers(std::string_view t) {
  std::vector<OutOfRangeNumber> out;
  int64_t line = 1;
  for (size_t i = 0; i < t.size();) {
    const char c = t[i];
    if (c == '\n') {
      ++line, ++i;
    } else if (c == '"') {  // a string: skipped with its escapes
      for (++i; i < t.size() && t[i] != '"'; ++i)
        if (t[i] == '\\') ++i;
      ++i;
    } else if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      const size_t start = i;
      bool integer = true;
      while (i < t.size() && t[i] && (std::isdigit(static_cast<unsigned char>(t[i])) || std::strchr(".eE+-", t[i]))) {
        integer &= std::isdigit(static_cast<unsigned char>(t[i])) || t[i] == '-';
        ++i;
      }
      const std::string_view num = t.substr(start, i - start);
      bool bad;
      if (integer) {
        int64_t s;
        uint64_t u;
        bad = std::from_chars(num.data(), num.data() + num.size(), s).ec != std::errc() &&
              std::from_chars(num.data(), num.data() + num.size(), u).ec != std::errc();
      } else {
        const double v = std::strtod(std::string(num).c_str(), nullptr);
        bad = v == HUGE_VAL || v == -HUGE_VAL;
      }
      if (bad) out.push_back({start, num.size(), line});
    } else {
      ++i;
    }
  }
  return out;
}

}  // namespace gridtree::internal

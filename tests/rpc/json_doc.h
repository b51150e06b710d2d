// JSON answers read back for the tests (docs/json.md): fetched over HTTP or
// printed by `gridtree call`, parsed with simdjson (which also refuses
// invalid UTF-8), and compared as documents, not as text.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

namespace gridtree::testing {

// The status line and body of GET target on the HTTP port (Connection:
// close, read to EOF); both empty when the server could not be reached.
struct HttpAnswer {
  unsigned status = 0;
  std::string body;
};

inline HttpAnswer HttpGet(unsigned port, const std::string& target) {
  HttpAnswer r;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return ::close(fd), r;
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), 0) != static_cast<ssize_t>(req.size())) return ::close(fd), r;
  std::string out;
  char buf[4096];
  timeval five{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &five, sizeof five);
  size_t head = std::string::npos, length = 0;
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    out.append(buf, static_cast<size_t>(n));
    if (head == std::string::npos && (head = out.find("\r\n\r\n")) != std::string::npos) {
      const size_t cl = out.find("Content-Length: ");
      length = cl < head ? std::stoul(out.substr(cl + 16)) : 0;
    }
    if (head != std::string::npos && out.size() >= head + 4 + length) break;
  }
  ::close(fd);
  if (head == std::string::npos || out.size() < 12) return r;
  r.status = static_cast<unsigned>(std::stoul(out.substr(9, 3)));  // "HTTP/1.1 200"
  r.body = out.substr(head + 4, length);
  return r;
}

inline std::string HttpBody(unsigned port, const std::string& target) { return HttpGet(port, target).body; }

// A parsed document that owns its parser (a dom::element borrows from it).
struct JsonDoc {
  std::unique_ptr<simdjson::dom::parser> parser = std::make_unique<simdjson::dom::parser>();
  simdjson::dom::element root;
  simdjson::error_code error = simdjson::UNINITIALIZED;
  std::string text;
  bool ok() const { return error == simdjson::SUCCESS; }
};

inline JsonDoc ParseJson(const std::string& text) {
  JsonDoc d;
  d.text = text;
  d.error = d.parser->parse(d.text).get(d.root);
  return d;
}

// Whether text is one JSON document.
inline ::testing::AssertionResult IsJson(const std::string& text) {
  JsonDoc d = ParseJson(text);
  if (!d.ok()) return ::testing::AssertionFailure() << simdjson::error_message(d.error) << ": " << text;
  return ::testing::AssertionSuccess();
}

// Structural equality: objects by key (in any order), arrays in order,
// numbers by value whatever their type in the parser (1 == 1.0).
inline bool SameJson(simdjson::dom::element a, simdjson::dom::element b) {
  using simdjson::dom::element_type;
  const auto number = [](element_type t) {
    return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
  };
  if (number(a.type()) && number(b.type())) {
    if (a.type() == b.type() && a.type() == element_type::INT64) return int64_t(a) == int64_t(b);
    if (a.type() == b.type() && a.type() == element_type::UINT64) return uint64_t(a) == uint64_t(b);
    double x = 0, y = 0;
    return !a.get_double().get(x) && !b.get_double().get(y) && x == y;
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case element_type::ARRAY: {
      simdjson::dom::array x = a, y = b;
      if (x.size() != y.size()) return false;
      for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
        if (!SameJson(*i, *j)) return false;
      return true;
    }
    case element_type::OBJECT: {
      simdjson::dom::object x = a, y = b;
      if (x.size() != y.size()) return false;
      for (auto field : x) {
        simdjson::dom::element other;
        if (y.at_key(field.key).get(other) || !SameJson(field.value, other)) return false;
      }
      return true;
    }
    case element_type::STRING: return std::string_view(a) == std::string_view(b);
    case element_type::BOOL: return bool(a) == bool(b);
    default: return true;  // null
  }
}

// Both texts parse and are the same document.
inline ::testing::AssertionResult SameJsonText(const std::string& a, const std::string& b) {
  JsonDoc x = ParseJson(a), y = ParseJson(b);
  if (!x.ok()) return ::testing::AssertionFailure() << simdjson::error_message(x.error) << ": " << a;
  if (!y.ok()) return ::testing::AssertionFailure() << simdjson::error_message(y.error) << ": " << b;
  if (!SameJson(x.root, y.root)) return ::testing::AssertionFailure() << "different documents:\n" << a << "\n" << b;
  return ::testing::AssertionSuccess();
}

}  // namespace gridtree::testing

// Helpers shared by `gridtree serve` and `gridtree call`.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

namespace gridtree::cli {

// The token in a file, without surrounding whitespace; "" when unreadable.
inline std::string ReadTokenFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string s = buf.str();
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace gridtree::cli

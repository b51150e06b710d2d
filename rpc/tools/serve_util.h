// Helpers shared by `gridtree serve`, `gridtree call` and `gridtree simulate`.
#pragma once

#include <string>
#include <string_view>

#include "commands.h"
#include "gridtree/engine/read_file.h"

namespace gridtree::cli {

// The token in a file, without surrounding whitespace; "" when unreadable.
inline std::string ReadTokenFile(const std::string& path) {
  auto read = ReadWholeFile(path);
  if (!read.ok()) return "";
  const std::string& s = read.value();
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// ReadTokenFile, or the command ends (serve logs its own line instead).
inline std::string TokenFileOrFail(std::string_view command, const std::string& path) {
  std::string token = ReadTokenFile(path);
  if (token.empty()) Fail(command, "token file " + path + " is missing or empty");
  return token;
}

}  // namespace gridtree::cli

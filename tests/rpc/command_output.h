// Runs a shell command and returns what it wrote on standard output.
#pragma once

#include <cstdio>
#include <string>

namespace gridtree::testing {

inline std::string CommandOutput(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  ::pclose(p);
  return out;
}

}  // namespace gridtree::testing

#include "gridtree/engine/read_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace gridtree {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) return IoError("cannot read " + path + ": " + std::strerror(errno));
  std::string bytes;
  char buf[1 << 16];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f.get())) > 0;) bytes.append(buf, n);
  if (std::ferror(f.get())) return IoError("cannot read " + path + ": " + std::strerror(errno));
  return bytes;
}

}  // namespace gridtree

#include "gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

namespace gridtree::rpc::internal {

Result<std::string> Gzip(std::string_view bytes, int level) {
  z_stream z{};
  // 15 + 16: a 32 KiB window and the gzip wrapper instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return Internal("gzip: deflateInit2 failed");
  std::string out(deflateBound(&z, static_cast<uLong>(bytes.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int done = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (done != Z_STREAM_END) return Internal("gzip: deflate did not finish");
  return out;
}

bool AcceptsGzip(std::string_view value) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    std::string_view coding = item.substr(0, item.find(';'));
    while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    std::string lower(coding);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower != "gzip" && lower != "*") continue;
    // q=0 (or 0.0, 0.00, 0.000) refuses it.
    const size_t q = item.find("q=");
    if (q == std::string_view::npos) return true;
    std::string_view weight = item.substr(q + 2);
    while (!weight.empty() && weight.back() == ' ') weight.remove_suffix(1);
    if (weight.find_first_not_of("0.") != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace gridtree::rpc::internal

#include "wkb.h"

#include <cstdint>
#include <bit>
#include <cstring>

namespace gridtree::python {

namespace {
template <typename T>
void Put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // x86-64 and aarch64: little-endian, as the byte-order flag says
  out.append(bytes, sizeof(T));
}
constexpr uint8_t kLittleEndian = 1;
constexpr uint32_t kWkbPolygon = 3, kWkbMultiPolygon = 6;
}  // namespace

std::string MultiPolygonWkb(const index::MultiPolygon& polygon) {
  static_assert(std::endian::native == std::endian::little, "WKB is written in the machine's byte order");
  std::string out;
  Put(out, kLittleEndian);
  Put(out, kWkbMultiPolygon);
  Put(out, static_cast<uint32_t>(polygon.parts.size()));
  for (const index::Polygon& part : polygon.parts) {
    Put(out, kLittleEndian);
    Put(out, kWkbPolygon);
    Put(out, static_cast<uint32_t>(part.rings.size()));
    for (const index::Ring& ring : part.rings) {
      const bool closed = !ring.empty() && ring.front() == ring.back();
      Put(out, static_cast<uint32_t>(ring.size() + (closed || ring.empty() ? 0 : 1)));
      for (const index::Point& p : ring) {
        Put(out, p.x);
        Put(out, p.y);
      }
      if (!closed && !ring.empty()) {
        Put(out, ring.front().x);
        Put(out, ring.front().y);
      }
    }
  }
  return out;
}

}  // namespace gridtree::python

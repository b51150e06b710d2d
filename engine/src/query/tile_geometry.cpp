#include "query/tile_geometry.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gridtree::internal {
namespace {

constexpr double kMaxLat = 85.05112877980659;  // Web Mercator's square

uint32_t Command(uint32_t id, uint32_t count) { return (id & 7) | (count << 3); }
uint32_t ZigZag(int32_t v) { return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31); }

// Sutherland-Hodgman against one side of the box: keeps the points with
// inside(x, y) and adds the crossings.
template <typename Inside, typename Cross>
void ClipSide(std::vector<double>& xs, std::vector<double>& ys, std::vector<double>& ox, std::vector<double>& oy,
              Inside inside, Cross cross) {
  ox.clear();
  oy.clear();
  const size_t n = xs.size();
  for (size_t i = 0; i < n; ++i) {
    const size_t j = (i + 1) % n;
    const bool a_in = inside(xs[i], ys[i]), b_in = inside(xs[j], ys[j]);
    if (a_in) ox.push_back(xs[i]), oy.push_back(ys[i]);
    if (a_in != b_in) {
      double x, y;
      cross(xs[i], ys[i], xs[j], ys[j], &x, &y);
      ox.push_back(x), oy.push_back(y);
    }
  }
  xs.swap(ox);
  ys.swap(oy);
}

// Twice the signed area by the surveyor's formula, in tile coordinates (y
// down): the specification's exterior rings are positive.
int64_t TwiceArea(std::span<const int32_t> x, std::span<const int32_t> y) {
  int64_t a = 0;
  for (size_t i = 0, n = x.size(); i < n; ++i) {
    const size_t j = (i + 1) % n;
    a += static_cast<int64_t>(x[i]) * y[j] - static_cast<int64_t>(x[j]) * y[i];
  }
  return a;
}

// Which sides of the box a point lies beyond (bit 1 west, 2 east, 4 south,
// 8 north); 0 inside.
int Outcode(index::Point p, const index::Box& b) {
  return (p.x < b.min_x) | (p.x > b.max_x) << 1 | (p.y < b.min_y) << 2 | (p.y > b.max_y) << 3;
}

}  // namespace

TileProjection::TileProjection(const TileId& tile, uint32_t extent)
    : scale_(std::ldexp(1.0, tile.z) * extent), z_(tile.z), x_(tile.x), y_(tile.y), extent_(extent) {
  x0_ = static_cast<double>(tile.x) * extent;
  y0_ = static_cast<double>(tile.y) * extent;
}

void TileProjection::Project(index::Point p, double* x, double* y) const {
  const double lat = std::clamp(p.y, -kMaxLat, kMaxLat) * std::numbers::pi / 180;
  const double mx = (p.x + 180) / 360;
  const double my = (1 - std::log(std::tan(lat) + 1 / std::cos(lat)) / std::numbers::pi) / 2;
  *x = mx * scale_ - x0_;
  *y = my * scale_ - y0_;
}

index::Box TileProjection::LonLatBox(uint32_t buffer) const {
  const double n = std::ldexp(1.0, z_);
  const double b = static_cast<double>(buffer) / extent_;
  auto lon = [&](double t) { return std::clamp(t / n * 360 - 180, -180.0, 180.0); };
  auto lat = [&](double t) {
    return std::clamp(std::atan(std::sinh(std::numbers::pi * (1 - 2 * t / n))) * 180 / std::numbers::pi, -90.0, 90.0);
  };
  return index::Box{lon(x_ - b), lat(y_ + 1 + b), lon(x_ + 1 + b), lat(y_ - b)};
}

bool AppendPolygonCommands(const index::FlatPolygons& g, size_t polygon, const TileProjection& projection,
                           uint32_t extent, uint32_t buffer, RingScratch& s, std::vector<uint32_t>& out) {
  const double lo = -static_cast<double>(buffer), hi = static_cast<double>(extent) + buffer;
  const index::Box lonlat_box = projection.LonLatBox(buffer);
  const size_t before = out.size();
  int32_t cursor_x = 0, cursor_y = 0;  // the pen: deltas run across rings and parts of a feature
  // Rings are committed one part at a time: a part whose exterior ring
  // vanishes takes its holes with it.
  for (uint32_t part = g.parts_begin(polygon); part < g.parts_end(polygon); ++part) {
    s.part_commands.clear();
    int32_t part_x = cursor_x, part_y = cursor_y;
    bool exterior_kept = false;
    for (uint32_t r = g.rings_begin(part); r < g.rings_end(part); ++r) {
      const bool exterior = r == g.rings_begin(part);
      if (!exterior && !exterior_kept) break;
      // A vertex whose neighbours lie beyond the same side of the tile as
      // itself changes nothing inside the tile (the triangle they make is
      // beyond that side too): dropped before the costly projection. On a
      // town of thousands of vertices at zoom 14 most of them go here.
      s.xs.clear();
      s.ys.clear();
      const std::span<const index::Point> ring = g.ring(r);
      const size_t n = ring.size();
      int last_kept = -1;  // outcode of the last kept vertex (-1: none yet)
      for (size_t i = 0; i < n; ++i) {
        const int here = Outcode(ring[i], lonlat_box);
        if (here != 0 && i > 0 && i + 1 < n && last_kept >= 0 &&
            (last_kept & here & Outcode(ring[i + 1], lonlat_box)) != 0)
          continue;
        double x, y;
        projection.Project(ring[i], &x, &y);
        s.xs.push_back(x);
        s.ys.push_back(y);
        last_kept = here;
      }
      ClipSide(s.xs, s.ys, s.cx, s.cy, [&](double x, double) { return x >= lo; },
               [&](double ax, double ay, double bx, double by, double* x, double* y) {
                 *x = lo, *y = ay + (by - ay) * (lo - ax) / (bx - ax);
               });
      ClipSide(s.xs, s.ys, s.cx, s.cy, [&](double x, double) { return x <= hi; },
               [&](double ax, double ay, double bx, double by, double* x, double* y) {
                 *x = hi, *y = ay + (by - ay) * (hi - ax) / (bx - ax);
               });
      ClipSide(s.xs, s.ys, s.cx, s.cy, [&](double, double y) { return y >= lo; },
               [&](double ax, double ay, double bx, double by, double* x, double* y) {
                 *y = lo, *x = ax + (bx - ax) * (lo - ay) / (by - ay);
               });
      ClipSide(s.xs, s.ys, s.cx, s.cy, [&](double, double y) { return y <= hi; },
               [&](double ax, double ay, double bx, double by, double* x, double* y) {
                 *y = hi, *x = ax + (bx - ax) * (hi - ay) / (by - ay);
               });
      // Snap to the grid, dropping repeated points.
      s.ix.clear();
      s.iy.clear();
      for (size_t i = 0; i < s.xs.size(); ++i) {
        const auto x = static_cast<int32_t>(std::lround(s.xs[i])), y = static_cast<int32_t>(std::lround(s.ys[i]));
        if (!s.ix.empty() && s.ix.back() == x && s.iy.back() == y) continue;
        s.ix.push_back(x);
        s.iy.push_back(y);
      }
      while (s.ix.size() > 1 && s.ix.back() == s.ix.front() && s.iy.back() == s.iy.front()) s.ix.pop_back(), s.iy.pop_back();
      if (s.ix.size() < 3) {
        if (exterior) break;
        continue;
      }
      const int64_t area = TwiceArea(s.ix, s.iy);
      if (area == 0) {
        if (exterior) break;
        continue;
      }
      // Exterior rings positive, holes negative (specification 4.3.4.4).
      if ((area > 0) != exterior) {
        std::reverse(s.ix.begin(), s.ix.end());
        std::reverse(s.iy.begin(), s.iy.end());
      }
      exterior_kept |= exterior;
      s.part_commands.push_back(Command(1, 1));  // MoveTo
      s.part_commands.push_back(ZigZag(s.ix[0] - part_x));
      s.part_commands.push_back(ZigZag(s.iy[0] - part_y));
      s.part_commands.push_back(Command(2, static_cast<uint32_t>(s.ix.size() - 1)));  // LineTo
      for (size_t i = 1; i < s.ix.size(); ++i) {
        s.part_commands.push_back(ZigZag(s.ix[i] - s.ix[i - 1]));
        s.part_commands.push_back(ZigZag(s.iy[i] - s.iy[i - 1]));
      }
      s.part_commands.push_back(Command(7, 1));  // ClosePath
      part_x = s.ix.back();
      part_y = s.iy.back();
    }
    if (!exterior_kept) continue;
    out.insert(out.end(), s.part_commands.begin(), s.part_commands.end());
    cursor_x = part_x;
    cursor_y = part_y;
  }
  return out.size() > before;
}

}  // namespace gridtree::internal

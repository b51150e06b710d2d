#include "load/coverage_checks.h"

#include <boost/geometry.hpp>
#include <boost/geometry/algorithms/point_on_surface.hpp>

#include <algorithm>
#include <cmath>

namespace gridtree::internal {
namespace {

namespace bg = boost::geometry;
using BPoint = bg::model::d2::point_xy<double>;
using BPolygon = bg::model::polygon<BPoint, /*clockwise=*/false, /*closed=*/false>;
using BMulti = bg::model::multi_polygon<BPolygon>;

BMulti ToBoost(const index::MultiPolygon& mp) {
  BMulti out;
  for (const auto& part : mp.parts) {
    BPolygon poly;
    for (size_t r = 0; r < part.rings.size(); ++r) {
      auto& ring = r == 0 ? poly.outer() : poly.inners().emplace_back();
      for (const auto& p : part.rings[r]) ring.push_back(BPoint(p.x, p.y));
    }
    out.push_back(std::move(poly));
  }
  return out;
}

index::MultiPolygon FromBoost(const BMulti& mp) {
  index::MultiPolygon out;
  for (const auto& poly : mp) {
    index::Polygon part;
    part.rings.emplace_back();
    for (const auto& p : poly.outer()) part.rings.back().push_back({p.x(), p.y()});
    for (const auto& inner : poly.inners()) {
      part.rings.emplace_back();
      for (const auto& p : inner) part.rings.back().push_back({p.x(), p.y()});
    }
    out.parts.push_back(std::move(part));
  }
  return out;
}

// Pieces thinner than rounding (shared borders that differ in the last
// digits) are not defects: below 1e-12 square degrees (~0.01 m²).
constexpr double kNoise = 1e-12;

std::optional<AreaDefect> Measure(const BMulti& piece) {
  if (piece.empty() || bg::area(piece) <= kNoise) return std::nullopt;
  AreaDefect d;
  d.area_km2 = index::GeodesicAreaKm2(FromBoost(piece));
  // A point inside the largest piece.
  const auto largest = std::max_element(piece.begin(), piece.end(), [](const BPolygon& a, const BPolygon& b) {
    return bg::area(a) < bg::area(b);
  });
  // Its centroid when that lies strictly inside (a point on the border of a
  // gap may still be answered by the leaf next to it), else a point Boost
  // guarantees on its surface.
  BPoint inside;
  bg::centroid(*largest, inside);
  if (!bg::within(inside, *largest)) bg::point_on_surface(*largest, inside);
  d.point = {inside.x(), inside.y()};
  return d;
}

// Boost.Geometry may throw on input it cannot handle (self-crossing rings
// the loader only warned about): then there is no exact answer to give.
template <typename Fn>
std::optional<AreaDefect> Guarded(Fn fn) {
  try {
    return fn();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

std::optional<AreaDefect> Overlap(const index::MultiPolygon& a, const index::MultiPolygon& b) {
  return Guarded([&] {
    BMulti out;
    bg::intersection(ToBoost(a), ToBoost(b), out);
    return Measure(out);
  });
}

std::optional<AreaDefect> Outside(const index::MultiPolygon& child, const index::MultiPolygon& parent) {
  return Guarded([&] {
    BMulti out;
    bg::difference(ToBoost(child), ToBoost(parent), out);
    return Measure(out);
  });
}

std::optional<AreaDefect> Uncovered(const index::MultiPolygon& parent,
                                    const std::vector<const index::MultiPolygon*>& children) {
  return Guarded([&] {
    BMulti left = ToBoost(parent);
    for (const index::MultiPolygon* child : children) {
      if (left.empty()) break;
      BMulti next;
      bg::difference(left, ToBoost(*child), next);
      left = std::move(next);
    }
    return Measure(left);
  });
}

}  // namespace gridtree::internal

// Regions: constructors and the WKT / GeoJSON parsers.
#include "gridtree/engine/region.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include <simdjson.h>

namespace gridtree {
namespace {

// Closes (drops the repeated vertex) and orients rings: outer CCW, holes CW.
Status NormaliseRegion(index::MultiPolygon& mp, const std::string& what) {
  if (mp.parts.empty()) return InvalidArgument(what + ": no polygon");
  for (size_t p = 0; p < mp.parts.size(); ++p) {
    auto& rings = mp.parts[p].rings;
    if (rings.empty()) return InvalidArgument(what + ": polygon " + std::to_string(p) + " has no rings");
    for (size_t r = 0; r < rings.size(); ++r) {
      auto& ring = rings[r];
      for (const auto& pt : ring)
        if (!std::isfinite(pt.x) || !std::isfinite(pt.y) || std::abs(pt.x) > 180 || std::abs(pt.y) > 90)
          return InvalidArgument(what + ": polygon " + std::to_string(p) + " ring " + std::to_string(r) +
                                 " has a coordinate outside lon/lat range");
      if (ring.size() >= 2 && ring.front() == ring.back()) ring.pop_back();
      ring.erase(std::unique(ring.begin(), ring.end()), ring.end());
      if (ring.size() < 3 || index::SignedArea(ring) == 0)
        return InvalidArgument(what + ": polygon " + std::to_string(p) + " ring " + std::to_string(r) +
                               " encloses no area");
      if ((r == 0) != (index::SignedArea(ring) > 0)) std::reverse(ring.begin(), ring.end());
    }
  }
  return Status::Ok();
}

class WktReader {
 public:
  explicit WktReader(std::string_view s) : s_(s) {}

  Result<index::MultiPolygon> Read() {
    index::MultiPolygon mp;
    const std::string word = Word();
    if (word == "POLYGON") {
      if (!PolygonBody(mp.parts.emplace_back())) return Error();
    } else if (word == "MULTIPOLYGON") {
      if (!Expect('(')) return Error();
      do {
        if (!PolygonBody(mp.parts.emplace_back())) return Error();
      } while (Accept(','));
      if (!Expect(')')) return Error();
    } else {
      return InvalidArgument("WKT region: expected POLYGON or MULTIPOLYGON, got \"" + word + "\"");
    }
    Skip();
    if (i_ != s_.size()) {
      what_ = "unexpected text after the geometry";
      return Error();
    }
    return mp;
  }

 private:
  Status Error() const { return InvalidArgument("WKT region: " + what_ + " at character " + std::to_string(i_)); }
  void Skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  std::string Word() {
    Skip();
    std::string w;
    while (i_ < s_.size() && std::isalpha(static_cast<unsigned char>(s_[i_])))
      w += static_cast<char>(std::toupper(static_cast<unsigned char>(s_[i_++])));
    return w;
  }
  bool Accept(char c) {
    Skip();
    if (i_ < s_.size() && s_[i_] == c) return ++i_, true;
    return false;
  }
  bool Expect(char c) {
    if (Accept(c)) return true;
    what_ = std::string("expected '") + c + "'";
    return false;
  }
  bool Number(double& v) {
    Skip();
    std::string num;
    while (i_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[i_])) || std::string_view("+-.eE").find(s_[i_]) != std::string_view::npos))
      num += s_[i_++];
    char* end = nullptr;
    v = std::strtod(num.c_str(), &end);
    if (num.empty() || end != num.c_str() + num.size()) {
      what_ = "expected a number";
      return false;
    }
    return true;
  }
  bool PolygonBody(index::Polygon& poly) {
    if (!Expect('(')) return false;
    do {
      if (!Expect('(')) return false;
      index::Ring& ring = poly.rings.emplace_back();
      do {
        index::Point p;
        if (!Number(p.x) || !Number(p.y)) return false;
        ring.push_back(p);
      } while (Accept(','));
      if (!Expect(')')) return false;
    } while (Accept(','));
    return Expect(')');
  }

  std::string_view s_;
  size_t i_ = 0;
  std::string what_ = "syntax error";
};

bool ReadRings(simdjson::dom::array rings, index::Polygon& poly) {
  for (simdjson::dom::element ring_el : rings) {
    simdjson::dom::array ring;
    if (ring_el.get_array().get(ring)) return false;
    index::Ring& out = poly.rings.emplace_back();
    for (simdjson::dom::element pos : ring) {
      simdjson::dom::array xy;
      double x, y;
      if (pos.get_array().get(xy) || xy.size() < 2 || xy.at(0).get_double().get(x) || xy.at(1).get_double().get(y))
        return false;
      out.push_back({x, y});
    }
  }
  return true;
}

}  // namespace

Region BoxRegion(double west, double south, double east, double north) {
  Region r;
  r.kind = Region::Kind::kBox;
  r.box = {west, south, east, north};
  return r;
}

Region CircleRegion(double lon, double lat, double radius_m) {
  Region r;
  r.kind = Region::Kind::kCircle;
  r.center = {lon, lat};
  r.radius_m = radius_m;
  return r;
}

Result<Region> PolygonRegion(index::MultiPolygon polygon) {
  Region r;
  r.kind = Region::Kind::kPolygon;
  r.polygon = std::move(polygon);
  if (Status s = NormaliseRegion(r.polygon, "polygon region"); !s.ok()) return s;
  return r;
}

Result<Region> ParseRegionWkt(std::string_view wkt) {
  auto mp = WktReader(wkt).Read();
  if (!mp.ok()) return mp.status();
  if (Status s = NormaliseRegion(mp.value(), "WKT region"); !s.ok()) return s;
  Region r;
  r.kind = Region::Kind::kPolygon;
  r.polygon = std::move(mp.value());
  return r;
}

Result<Region> ParseRegionGeoJson(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root))
    return InvalidArgument(std::string("GeoJSON region: malformed JSON (") + simdjson::error_message(err) + ")");
  std::string_view type;
  if (!root["type"].get_string().get(type) && type == "Feature") {
    simdjson::dom::element geometry;
    if (root["geometry"].get(geometry)) return InvalidArgument("GeoJSON region: a Feature without \"geometry\"");
    root = geometry;
  }
  if (root["type"].get_string().get(type)) return InvalidArgument("GeoJSON region: no \"type\"");
  simdjson::dom::array coords;
  if (root["coordinates"].get_array().get(coords)) return InvalidArgument("GeoJSON region: no \"coordinates\" array");
  index::MultiPolygon mp;
  bool ok = true;
  if (type == "Polygon") {
    ok = ReadRings(coords, mp.parts.emplace_back());
  } else if (type == "MultiPolygon") {
    for (simdjson::dom::element poly : coords) {
      simdjson::dom::array rings;
      if (poly.get_array().get(rings) || !ReadRings(rings, mp.parts.emplace_back())) ok = false;
    }
  } else {
    return InvalidArgument("GeoJSON region: type must be Polygon or MultiPolygon, got " + std::string(type));
  }
  if (!ok) return InvalidArgument("GeoJSON region: coordinates must be rings of [lon, lat] positions");
  if (Status s = NormaliseRegion(mp, "GeoJSON region"); !s.ok()) return s;
  Region r;
  r.kind = Region::Kind::kPolygon;
  r.polygon = std::move(mp);
  return r;
}

const char* RegionModeName(RegionMode mode) {
  switch (mode) {
    case RegionMode::kContained: return "contained";
    case RegionMode::kIntersecting: return "intersecting";
    case RegionMode::kAreaWeighted: return "area_weighted";
  }
  return "?";
}

std::optional<RegionMode> ParseRegionMode(std::string_view name) {
  if (name == "contained") return RegionMode::kContained;
  if (name == "intersecting") return RegionMode::kIntersecting;
  if (name == "area_weighted") return RegionMode::kAreaWeighted;
  return std::nullopt;
}

}  // namespace gridtree

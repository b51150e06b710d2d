// The dataset generator: real Jiangmen county borders and administrative tree
// with towns, communities, grids and micro-grids generated inside them on a
// raster, deterministically from a seed. See docs/generator.md.
#include "gridtree/engine/generate.h"

#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <memory>
#include <numbers>
#include <numeric>
#include <queue>
#include <sstream>
#include <unordered_map>

#include "tessellate.h"

namespace gridtree {
namespace {

using generate::AssemblePolygons;
using generate::IntPolygon;
using generate::MultiPolygon;
using generate::Rng;
using generate::StreamSeed;
using generate::TracedRing;

// ---- calibration (real figures, see docs/generator.md) ----------------------
constexpr int64_t kPopulation = 4798090;      // 2020 census, Jiangmen
constexpr int64_t kGrids = 2954;              // grids in the city
constexpr int64_t kCommunities = 1348;        // communities and villages in the city
constexpr const char* kPengjiang = "440703";
constexpr int64_t kPengjiangGrids = 409;
constexpr const char* kCountryGarden = "440703006117";
constexpr int kCountryGardenMicro[] = {5, 5, 5, 4};  // 4 grids, 19 micro-grids
constexpr int64_t kParkGrids = 821;
constexpr int64_t kGridStaff = 3770;
constexpr const char* kGuanghai = "440781110";
constexpr const char* kKunpeng = "440781110207";
constexpr int64_t kFishermen = 4975;
constexpr int64_t kFishingBoats = 262;
constexpr double kSeaAreaKm2 = 100.0;
constexpr int kSeaClearance = 3;  // pixels between the sea area and any land
constexpr int kMargin = 8;        // raster margin, pixels
constexpr double kParkPopFactor = 0.3;
constexpr double kSeaPopFactor = 0.02;

// Town seeds placed at their real location (lon, lat).
struct Hint {
  const char* code;
  double lon, lat;
};
constexpr Hint kHints[] = {{"440781110", 112.785, 21.945},   // Guanghai
                           {"440781115", 112.78, 21.66}};    // Chuandao (islands)

enum Kind : uint8_t { kNone = 0, kResidential, kPark, kSea };
constexpr const char* kKindNames[] = {"", "residential", "park", "sea"};
constexpr const char* kLevelNames[] = {"city", "county", "town", "community", "grid", "micro_grid"};
constexpr const char* kMetricNames[] = {"population", "households", "buildings",  "schools",
                                        "markets",    "grid_staff", "fishermen", "fishing_boats"};
enum Metric { kPop = 0, kHouseholds, kBuildings, kSchools, kMarkets, kStaff, kFishermenM, kBoats, kMetricCount };

struct Node {
  std::string code;
  std::string name;
  int level = 0;
  int32_t parent = -1;
  std::vector<int32_t> children;
  uint8_t kind = kNone;
  int county_shape = -1;  // county nodes: index into the shapes
  std::vector<int32_t> pixels;
  std::array<int64_t, kMetricCount> metrics{};
  std::vector<IntPolygon> geom;
};

struct CountyShape {
  std::string source;  // the file it was read from, for messages
  std::string code, name;
  double cp_lon = 0, cp_lat = 0;
  MultiPolygon parts;
  bool multi = false;
};

struct Progress {
  const GenerateOptions& o;
  void operator()(std::string_view stage, double f) const {
    if (o.progress) o.progress(stage, f);
  }
};

void Report(const GenerateOptions& o, const std::string& msg) {
  if (o.notice) o.notice(msg);
}

// Largest-remainder rounding: integers >= 0 proportional to w summing to total.
std::vector<int64_t> LargestRemainder(int64_t total, const std::vector<double>& w) {
  size_t n = w.size();
  std::vector<int64_t> out(n, 0);
  if (n == 0 || total <= 0) return out;
  double sum = 0;
  for (double x : w) sum += std::max(0.0, x);
  std::vector<double> frac(n);
  int64_t given = 0;
  for (size_t k = 0; k < n; ++k) {
    double q = sum > 0 ? static_cast<double>(total) * std::max(0.0, w[k]) / sum : static_cast<double>(total) / n;
    double f = std::floor(q);
    out[k] = static_cast<int64_t>(f);
    frac[k] = q - f;
    given += out[k];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return frac[a] > frac[b]; });
  for (int64_t r = total - given, k = 0; r > 0; --r, ++k) ++out[order[static_cast<size_t>(k) % n]];
  for (int64_t r = given - total, k = static_cast<int64_t>(n) - 1; r > 0; --k) {  // float slack
    size_t i = order[static_cast<size_t>((k % static_cast<int64_t>(n) + n) % n)];
    if (out[i] > 0) {
      --out[i];
      --r;
    }
  }
  return out;
}

// counts = mins + largest remainder of the rest by w, then capped (excess moved
// to the item with the most weight per count that has room).
std::vector<int64_t> Allocate(int64_t total, const std::vector<int64_t>& mins, const std::vector<double>& w,
                              const std::vector<int64_t>& caps) {
  int64_t base = std::accumulate(mins.begin(), mins.end(), int64_t{0});
  std::vector<int64_t> out = LargestRemainder(std::max<int64_t>(0, total - base), w);
  int64_t excess = 0;
  for (size_t k = 0; k < out.size(); ++k) {
    out[k] += mins[k];
    if (out[k] > caps[k]) {
      excess += out[k] - caps[k];
      out[k] = caps[k];
    }
  }
  while (excess > 0) {
    size_t best = out.size();
    double bv = -1;
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k] >= caps[k]) continue;
      double v = w[k] / static_cast<double>(out[k] + 1);
      if (v > bv) {
        bv = v;
        best = k;
      }
    }
    if (best == out.size()) break;
    ++out[best];
    --excess;
  }
  return out;
}

void AppendDouble(std::string& s, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}
void AppendInt(std::string& s, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  s.append(buf, r.ptr);
}
void AppendJsonString(std::string& s, std::string_view v) {
  s.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') {
      s.push_back('\\');
      s.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
      s.append(buf);
    } else {
      s.push_back(c);
    }
  }
  s.push_back('"');
}

Result<std::vector<CountyShape>> ReadCounties(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.load(path).get(doc)) return IoError(path + ": cannot read or parse as JSON");
  simdjson::dom::array features;
  if (doc["features"].get(features)) return InvalidArgument(path + ": no \"features\" array");
  std::vector<CountyShape> out;
  for (simdjson::dom::element f : features) {
    CountyShape c;
    c.source = path;
    std::string_view sv;
    int64_t iv;
    if (!f["id"].get(sv)) {
      c.code = std::string(sv);
    } else if (!f["id"].get(iv)) {
      c.code = std::to_string(iv);
    } else {
      return InvalidArgument(path + ": feature without id");
    }
    if (f["properties"]["name"].get(sv)) return InvalidArgument(path + ": feature " + c.code + " has no name");
    c.name = std::string(sv);
    simdjson::dom::array cp;
    if (!f["properties"]["cp"].get(cp) && cp.size() == 2) {
      c.cp_lon = double(cp.at(0));
      c.cp_lat = double(cp.at(1));
    }
    std::string_view type;
    simdjson::dom::array coords;
    if (f["geometry"]["type"].get(type) || f["geometry"]["coordinates"].get(coords))
      return InvalidArgument(path + ": feature " + c.code + " has no geometry");
    auto read_polygon = [&](simdjson::dom::array rings, generate::Polygon& poly) -> bool {
      for (simdjson::dom::element r : rings) {
        simdjson::dom::array pts;
        if (r.get(pts)) return false;
        generate::Ring ring;
        for (simdjson::dom::element pt : pts) {
          simdjson::dom::array xy;
          double x, y;
          if (pt.get(xy) || xy.size() < 2 || xy.at(0).get(x) || xy.at(1).get(y)) return false;
          ring.push_back({x, y});
        }
        poly.push_back(std::move(ring));
      }
      return true;
    };
    bool ok = true;
    if (type == "Polygon") {
      c.parts.emplace_back();
      ok = read_polygon(coords, c.parts.back());
    } else if (type == "MultiPolygon") {
      c.multi = true;
      for (simdjson::dom::element p : coords) {
        simdjson::dom::array rings;
        if (p.get(rings)) {
          ok = false;
          break;
        }
        c.parts.emplace_back();
        if (!(ok = read_polygon(rings, c.parts.back()))) break;
      }
    } else {
      return InvalidArgument(path + ": feature " + c.code + ": unsupported geometry type " + std::string(type));
    }
    if (!ok) return InvalidArgument(path + ": feature " + c.code + ": malformed coordinates");
    out.push_back(std::move(c));
  }
  return out;
}

struct Division {
  std::string level, code, name, parent;
};

Result<std::vector<Division>> ReadDivisions(const std::string& path) {
  std::ifstream in(path);
  if (!in) return IoError(path + ": cannot open");
  std::vector<Division> out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || lineno == 1) continue;  // header
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string col;
    while (std::getline(ss, col, ',')) cols.push_back(col);
    if (line.back() == ',') cols.emplace_back();  // an empty last column (the province has no parent)
    if (cols.size() != 4) return InvalidArgument(path + ":" + std::to_string(lineno) + ": expected 4 columns");
    out.push_back({cols[0], cols[1], cols[2], cols[3]});
  }
  return out;
}

// Picks one pixel of `pixels` with probability proportional to weight^2.
int32_t DrawSquared(const std::vector<int32_t>& pixels, const float* weight, Rng& rng) {
  double total = 0;
  for (int32_t p : pixels) total += double(weight[p]) * weight[p];
  double u = rng.Uniform() * total, acc = 0;
  for (size_t n = 0; n < pixels.size(); ++n) {
    acc += double(weight[pixels[n]]) * weight[pixels[n]];
    if (acc > u) return static_cast<int32_t>(n);
  }
  return static_cast<int32_t>(pixels.size() - 1);
}

bool ParkLikeTown(const Node& t) {
  for (const char* w : {"园区", "新区", "开发区", "林场", "监狱"})
    if (t.name.find(w) != std::string::npos) return true;
  if (t.code.size() < 3) return false;
  int last3 = 0;
  for (char c : t.code.substr(t.code.size() - 3)) {
    if (c < '0' || c > '9') return false;
    last3 = last3 * 10 + (c - '0');
  }
  return last3 >= 400;
}

std::string Pad(int v, int width) {
  std::string s = std::to_string(v);
  return std::string(std::max(0, width - static_cast<int>(s.size())), '0') + s;
}

class Writer {
 public:
  explicit Writer(std::FILE* f) : f_(f) {}
  std::string& buf() { return buf_; }
  bool MaybeFlush(bool force = false) {
    if (buf_.size() >= (4u << 20) || (force && !buf_.empty())) {
      if (std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size()) return false;
      buf_.clear();
    }
    return true;
  }

 private:
  std::FILE* f_;
  std::string buf_;
};

// What a city's counts are calibrated to: Jiangmen's real figures, or, for
// another city, Jiangmen's figures per community (docs/generator.md).
struct Calibration {
  int64_t population = kPopulation;
  int64_t grids = kGrids;
  int64_t park_grids = kParkGrids;
  int64_t grid_staff = kGridStaff;

  static Calibration PerCommunity(int64_t communities) {
    const double f = static_cast<double>(communities) / kCommunities;
    Calibration c;
    c.population = std::llround(kPopulation * f);
    c.grids = std::llround(kGrids * f);
    c.park_grids = std::llround(kParkGrids * f);
    c.grid_staff = std::max<int64_t>(c.grids, std::llround(kGridStaff * f));
    return c;
  }
};

// One city's generated tree: every node with its traced geometry, in raster
// units (half pixels) relative to the raster origin (x0i, y0i).
struct CityModel {
  std::vector<Node> nodes;
  int32_t root = -1;
  std::vector<CountyShape> shapes;
  std::vector<IntPolygon> sea_polys;
  int64_t sea_shape = -1;  // the county shape the sea area is appended to
  int64_t x0i = 0, y0i = 0;
  int W = 0, H = 0;
  bool county_level = true;  // false: towns sit directly under the city
  int64_t population = 0;
};

// Builds one city from its county shapes and its rows of the division table
// (one city row, its counties, towns and communities). `where` names the
// inputs in messages.
Result<CityModel> BuildCity(const GenerateOptions& options, const std::string& where, std::vector<CountyShape> shapes,
                            const std::vector<Division>& divs, bool jiangmen) {
  Progress progress{options};
  const int R = options.pixels_per_degree;
  const std::string dir = where;
  std::vector<Node> nodes;
  std::unordered_map<std::string, int32_t> by_code;
  for (const Division& d : divs) {
    int level = d.level == "city" ? 0 : d.level == "county" ? 1 : d.level == "town" ? 2 : d.level == "community" ? 3 : -1;
    if (level < 0) return InvalidArgument(dir + "divisions.csv: unknown level \"" + d.level + "\"");
    if (by_code.count(d.code)) return InvalidArgument(dir + "divisions.csv: duplicate code " + d.code);
    Node n;
    n.code = d.code;
    n.name = d.name;
    n.level = level;
    by_code[d.code] = static_cast<int32_t>(nodes.size());
    nodes.push_back(std::move(n));
  }
  int32_t root = -1;
  for (size_t k = 0; k < divs.size(); ++k) {
    if (nodes[k].level == 0) {
      if (root >= 0) return InvalidArgument(dir + "divisions.csv: more than one city");
      root = static_cast<int32_t>(k);
      continue;
    }
    auto it = by_code.find(divs[k].parent);
    if (it == by_code.end() || nodes[it->second].level != nodes[k].level - 1)
      return InvalidArgument(dir + "divisions.csv: " + divs[k].code + " has unknown parent " + divs[k].parent);
    nodes[k].parent = it->second;
    nodes[it->second].children.push_back(static_cast<int32_t>(k));
  }
  if (root < 0) return InvalidArgument(dir + "divisions.csv: no city");
  int64_t community_rows = 0;
  for (const Node& n : nodes) community_rows += n.level == 3;
  const Calibration cal = jiangmen ? Calibration{} : Calibration::PerCommunity(community_rows);
  for (Node& n : nodes)
    std::sort(n.children.begin(), n.children.end(), [&](int32_t a, int32_t b) { return nodes[a].code < nodes[b].code; });
  for (size_t s = 0; s < shapes.size(); ++s) {
    auto it = by_code.find(shapes[s].code);
    if (it == by_code.end() || nodes[it->second].level != 1)
      return InvalidArgument(shapes[s].source + ": feature " + shapes[s].code + " is not a county of " + dir + "divisions.csv");
    nodes[it->second].county_shape = static_cast<int>(s);
  }
  for (int32_t c : nodes[root].children) {
    if (nodes[c].county_shape < 0) return InvalidArgument(dir + ": no county geometry for county " + nodes[c].code);
    if (nodes[c].children.empty()) return InvalidArgument(dir + "divisions.csv: county " + nodes[c].code + " has no towns");
    for (int32_t t : nodes[c].children)
      if (nodes[t].children.empty()) return InvalidArgument(dir + "divisions.csv: town " + nodes[t].code + " has no communities");
  }

  // ---- raster -------------------------------------------------------------------
  double minx = 1e9, maxx = -1e9, miny = 1e9, maxy = -1e9;
  for (const CountyShape& s : shapes)
    for (const auto& poly : s.parts)
      for (const auto& ring : poly)
        for (const auto& pt : ring) {
          minx = std::min(minx, pt[0]);
          maxx = std::max(maxx, pt[0]);
          miny = std::min(miny, pt[1]);
          maxy = std::max(maxy, pt[1]);
        }
  const int64_t x0i = static_cast<int64_t>(std::floor(minx * R)) - kMargin;
  const int64_t y0i = static_cast<int64_t>(std::floor(miny * R)) - kMargin;
  const int W = static_cast<int>(static_cast<int64_t>(std::ceil(maxx * R)) + kMargin - x0i);
  const int H = static_cast<int>(static_cast<int64_t>(std::ceil(maxy * R)) + kMargin - y0i);
  const double x0 = static_cast<double>(x0i) / R, y0 = static_cast<double>(y0i) / R;
  const size_t npix = static_cast<size_t>(W) * H;
  auto lon_of = [&](double i) { return x0 + i / R; };
  auto lat_of = [&](double j) { return y0 + j / R; };

  // Density field: rural base + Gaussian bumps at the urban cores and seats.
  struct Bump {
    double lon, lat, amp, sigma;
  };
  std::vector<Bump> bumps = {{113.08, 22.58, 40, 0.035}, {113.09, 22.53, 30, 0.03}, {113.03, 22.46, 25, 0.03}};
  for (const CountyShape& s : shapes)
    if (s.cp_lon != 0) bumps.push_back({s.cp_lon, s.cp_lat, 15, 0.025});
  double peak = 0;
  for (const Bump& b : bumps) peak = std::max(peak, b.amp);
  std::vector<float> density(npix), weight(npix);
  {
    std::vector<double> gx(W), gy(H), row_area(H);
    std::vector<double> acc(W);
    for (int j = 0; j < H; ++j) {
      double lat = lat_of(j + 0.5);
      double km = 111.32 / R;
      row_area[j] = km * km * std::cos(lat * std::numbers::pi / 180.0);
    }
    std::vector<std::vector<double>> GX(bumps.size(), std::vector<double>(W)), GY(bumps.size(), std::vector<double>(H));
    for (size_t b = 0; b < bumps.size(); ++b) {
      double s2 = 2 * bumps[b].sigma * bumps[b].sigma;
      for (int i = 0; i < W; ++i) {
        double dx = (lon_of(i + 0.5) - bumps[b].lon) * std::cos(bumps[b].lat * std::numbers::pi / 180.0);
        GX[b][i] = bumps[b].amp * std::exp(-dx * dx / s2);
      }
      for (int j = 0; j < H; ++j) {
        double dy = lat_of(j + 0.5) - bumps[b].lat;
        GY[b][j] = std::exp(-dy * dy / s2);
      }
    }
    for (int j = 0; j < H; ++j) {
      for (int i = 0; i < W; ++i) {
        double d = 1.0;
        for (size_t b = 0; b < bumps.size(); ++b) d += GX[b][i] * GY[b][j];
        density[static_cast<size_t>(j) * W + i] = static_cast<float>(d);
        weight[static_cast<size_t>(j) * W + i] = static_cast<float>(d * row_area[j]);
      }
    }
  }

  // ---- 1. counties ------------------------------------------------------------
  progress("rasterize", 0);
  std::vector<int32_t> county_of(npix, -1);
  {
    std::vector<MultiPolygon> mp;
    for (const CountyShape& s : shapes) mp.push_back(s.parts);
    generate::RasterizeEvenOdd(mp, x0, y0, R, W, H, county_of);
  }
  for (size_t p = 0; p < npix; ++p)
    if (county_of[p] >= 0) nodes[by_code[shapes[county_of[p]].code]].pixels.push_back(static_cast<int32_t>(p));
  progress("rasterize", 1);

  auto split = [&](int32_t parent, int k, double exponent, const std::vector<int32_t>& fixed,
                   const std::vector<int32_t>& pixels) {
    Rng rng(StreamSeed(options.seed, nodes[parent].code + "#split"));
    return generate::VoronoiSplit(pixels, k, weight.data(), exponent, W, rng, fixed);
  };
  // Splits `parent`'s pixels among its existing children (in order).
  auto split_children = [&](int32_t parent, bool street_seeds) {
    Node& P = nodes[parent];
    int k = static_cast<int>(P.children.size());
    if (static_cast<size_t>(k) > P.pixels.size()) {
      Report(options, "only " + std::to_string(P.pixels.size()) + " pixels for the " + std::to_string(k) +
                          " children of " + P.code + "; dropping the last children");
      k = static_cast<int>(P.pixels.size());
    }
    std::vector<int32_t> fixed(k, -1);
    Rng rng(StreamSeed(options.seed, P.code + "#fixed"));
    for (int c = 0; c < k; ++c) {
      const Node& ch = nodes[P.children[c]];
      for (const Hint& h : kHints) {
        if (ch.code != h.code) continue;
        double bd = 1e300;
        for (size_t n = 0; n < P.pixels.size(); ++n) {
          int32_t p = P.pixels[n];
          double dx = lon_of(p % W + 0.5) - h.lon, dy = lat_of(p / W + 0.5) - h.lat;
          if (dx * dx + dy * dy < bd) {
            bd = dx * dx + dy * dy;
            fixed[c] = static_cast<int32_t>(n);
          }
        }
      }
      // Streets (街道, codes ...0xx) sit in the urban core: density^2.
      if (fixed[c] < 0 && street_seeds && ch.code.size() >= 3 && ch.code[ch.code.size() - 3] == '0')
        fixed[c] = DrawSquared(P.pixels, weight.data(), rng);
    }
    auto cells = split(parent, k, 1.0, fixed, P.pixels);
    for (int c = 0; c < k; ++c) nodes[P.children[c]].pixels = std::move(cells[c]);
    P.children.resize(k);  // reduced (reported above) when the parent is too small
    P.pixels.clear();
    P.pixels.shrink_to_fit();
  };

  // ---- 3. towns ---------------------------------------------------------------
  {
    const auto& counties = nodes[root].children;
    for (size_t c = 0; c < counties.size(); ++c) {
      progress("towns", double(c) / counties.size());
      split_children(counties[c], true);
    }
  }

  // ---- 2. the sea area of the Kunpeng fishing village ----------------------
  progress("sea", 0);
  std::vector<int32_t> sea_pixels;
  int32_t kunpeng = by_code.count(kKunpeng) ? by_code[kKunpeng] : -1;
  if (kunpeng >= 0 && by_code.count(kGuanghai) && !nodes[by_code[kGuanghai]].pixels.empty()) {
    const Node& gh = nodes[by_code[kGuanghai]];
    // allowed = outside, no land within kSeaClearance pixels (Chebyshev), not on the raster edge.
    std::vector<uint8_t> near(npix, 0), tmp(npix, 0);
    const int r = kSeaClearance;
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) {
        if (county_of[static_cast<size_t>(j) * W + i] < 0) continue;
        for (int di = std::max(0, i - r); di <= std::min(W - 1, i + r); ++di) tmp[static_cast<size_t>(j) * W + di] = 1;
      }
    for (int j = 0; j < H; ++j)
      for (int i = 0; i < W; ++i) {
        if (!tmp[static_cast<size_t>(j) * W + i]) continue;
        for (int dj = std::max(0, j - r); dj <= std::min(H - 1, j + r); ++dj) near[static_cast<size_t>(dj) * W + i] = 1;
      }
    auto allowed = [&](int i, int j) {
      return i >= 1 && j >= 1 && i < W - 1 && j < H - 1 && !near[static_cast<size_t>(j) * W + i];
    };
    // Southernmost Guanghai pixel (closest to its mean column on ties), then due south.
    double mean_i = 0;
    for (int32_t p : gh.pixels) mean_i += p % W;
    mean_i /= gh.pixels.size();
    int32_t south = gh.pixels[0];
    for (int32_t p : gh.pixels) {
      if (p / W < south / W || (p / W == south / W && std::abs(p % W - mean_i) < std::abs(south % W - mean_i))) south = p;
    }
    int si = south % W, sj = south / W, start = -1;
    for (int j = sj; j >= 1; --j) {
      if (allowed(si, j)) {
        int jj = j;
        while (jj > 1 && allowed(si, jj - 1) && j - jj < 12) --jj;  // a little off the coast
        start = jj * W + si;
        break;
      }
    }
    if (start < 0) {  // nothing due south: the nearest allowed pixel
      double bd = 1e300;
      for (int j = 1; j < H - 1; ++j)
        for (int i = 1; i < W - 1; ++i) {
          if (!allowed(i, j)) continue;
          double d = double(i - si) * (i - si) + double(j - sj) * (j - sj);
          if (d < bd) {
            bd = d;
            start = j * W + i;
          }
        }
    }
    if (start >= 0) {
      // Grow a disc-like connected blob around `start` within the allowed area.
      using Item = std::pair<int64_t, int32_t>;
      std::priority_queue<Item, std::vector<Item>, std::greater<Item>> pq;
      std::vector<uint8_t> seen(npix, 0);
      int ci = start % W, cj = start / W;
      pq.push({0, start});
      seen[start] = 1;
      double area = 0;
      while (!pq.empty() && area < kSeaAreaKm2) {
        int32_t p = pq.top().second;
        pq.pop();
        sea_pixels.push_back(p);
        area += weight[p] / density[p];
        int i = p % W, j = p / W;
        const int nb[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
        for (const auto& d : nb) {
          int a = i + d[0], b = j + d[1];
          if (!allowed(a, b) || seen[static_cast<size_t>(b) * W + a]) continue;
          seen[static_cast<size_t>(b) * W + a] = 1;
          pq.push({int64_t(a - ci) * (a - ci) + int64_t(b - cj) * (b - cj), b * W + a});
        }
      }
      std::sort(sea_pixels.begin(), sea_pixels.end());
      if (area < 60) Report(options, "sea area only " + std::to_string(area) + " km2");
    } else {
      Report(options, "no room for the sea area of " + std::string(kKunpeng));
    }
  }

  // ---- 3. communities ----------------------------------------------------------
  {
    std::vector<int32_t> towns;
    for (int32_t c : nodes[root].children)
      for (int32_t t : nodes[c].children) towns.push_back(t);
    for (size_t k = 0; k < towns.size(); ++k) {
      progress("communities", double(k) / towns.size());
      split_children(towns[k], false);
    }
  }
  const size_t kunpeng_land = kunpeng >= 0 ? nodes[kunpeng].pixels.size() : 0;
  if (kunpeng >= 0 && !sea_pixels.empty()) {
    auto& px = nodes[kunpeng].pixels;
    px.insert(px.end(), sea_pixels.begin(), sea_pixels.end());  // land first, then sea
  }

  // ---- grid counts ---------------------------------------------------------------
  std::vector<int32_t> communities;
  for (int32_t c : nodes[root].children)
    for (int32_t t : nodes[c].children)
      for (int32_t m : nodes[t].children) communities.push_back(m);
  std::vector<int64_t> grid_count(nodes.size(), 0);
  {
    auto pop_weight = [&](int32_t m) {
      double w = 0;
      const auto& px = nodes[m].pixels;
      for (size_t k = 0; k < px.size(); ++k) w += weight[px[k]] * (m == kunpeng && k >= kunpeng_land ? kSeaPopFactor : 1.0);
      return w;
    };
    int32_t cg = by_code.count(kCountryGarden) ? by_code[kCountryGarden] : -1;
    int32_t pj = by_code.count(kPengjiang) ? by_code[kPengjiang] : -1;
    std::vector<int32_t> group_pj, group_rest;
    for (int32_t m : communities) {
      if (m == cg) continue;
      (pj >= 0 && nodes[nodes[m].parent].parent == pj ? group_pj : group_rest).push_back(m);
    }
    int64_t cg_grids = cg >= 0 ? std::min<int64_t>(4, nodes[cg].pixels.size()) : 0;
    int64_t total_pj = pj >= 0 ? kPengjiangGrids - cg_grids : 0;
    int64_t total_rest = cal.grids - cg_grids - total_pj;
    if (pj < 0) total_rest = cal.grids - cg_grids;
    if (cg >= 0) grid_count[cg] = cg_grids;
    for (auto [group, total] : {std::pair{&group_pj, total_pj}, std::pair{&group_rest, total_rest}}) {
      std::vector<int64_t> mins, caps;
      std::vector<double> w;
      for (int32_t m : *group) {
        int64_t mn = m == kunpeng && !sea_pixels.empty() ? 3 : 1;
        int64_t cap = static_cast<int64_t>(m == kunpeng && !sea_pixels.empty() ? kunpeng_land + sea_pixels.size()
                                                                               : nodes[m].pixels.size());
        if (m == kunpeng && !sea_pixels.empty()) cap = std::min<int64_t>(cap, int64_t(kunpeng_land) * 2);
        mins.push_back(std::min(mn, cap));
        caps.push_back(cap);
        w.push_back(pop_weight(m));
      }
      auto counts = Allocate(total, mins, w, caps);
      for (size_t k = 0; k < group->size(); ++k) grid_count[(*group)[k]] = counts[k];
    }
  }

  // ---- grids ---------------------------------------------------------------------
  auto add_child = [&](int32_t parent, std::string code, std::string name, int level, uint8_t kind) {
    Node n;
    n.code = std::move(code);
    n.name = std::move(name);
    n.level = level;
    n.parent = parent;
    n.kind = kind;
    nodes.push_back(std::move(n));
    int32_t id = static_cast<int32_t>(nodes.size() - 1);
    nodes[parent].children.push_back(id);
    return id;
  };
  std::vector<int32_t> grids;
  for (size_t k = 0; k < communities.size(); ++k) {
    if (k % 64 == 0) progress("grids", double(k) / communities.size());
    int32_t m = communities[k];
    std::vector<int32_t> px = std::move(nodes[m].pixels);
    int64_t n = grid_count[m];
    std::vector<std::vector<int32_t>> cells;
    std::vector<uint8_t> kinds;
    if (m == kunpeng && !sea_pixels.empty()) {
      std::vector<int32_t> land(px.begin(), px.begin() + kunpeng_land), sea(px.begin() + kunpeng_land, px.end());
      int64_t n_sea = std::max<int64_t>(1, n / 2), n_land = std::max<int64_t>(1, n - n_sea);
      n_land = std::min<int64_t>(n_land, land.size());
      n_sea = std::min<int64_t>(n - n_land, sea.size());
      auto a = split(m, static_cast<int>(n_land), 1.0, {}, land);
      Rng rng(StreamSeed(options.seed, nodes[m].code + "#sea"));
      auto b = generate::VoronoiSplit(sea, static_cast<int>(n_sea), weight.data(), 1.0, W, rng);
      for (auto& c : a) {
        cells.push_back(std::move(c));
        kinds.push_back(kResidential);
      }
      for (auto& c : b) {
        cells.push_back(std::move(c));
        kinds.push_back(kSea);
      }
    } else {
      cells = split(m, static_cast<int>(n), 1.0, {}, px);
      kinds.assign(cells.size(), kResidential);
    }
    if (static_cast<int64_t>(cells.size()) != grid_count[m])
      Report(options, "community " + nodes[m].code + " gets " + std::to_string(cells.size()) + " grids instead of " +
                          std::to_string(grid_count[m]));
    for (size_t g = 0; g < cells.size(); ++g) {
      int32_t id = add_child(m, nodes[m].code + Pad(static_cast<int>(g + 1), 3),
                             nodes[m].name + "第" + std::to_string(g + 1) + "网格", 4, kinds[g]);
      nodes[id].pixels = std::move(cells[g]);
      grids.push_back(id);
    }
  }
  // Park grids: all grids of park-like town units, then random ones up to kParkGrids.
  {
    std::vector<int32_t> candidates;
    int64_t parks = 0;
    for (int32_t g : grids) {
      if (nodes[g].kind == kSea) continue;
      if (ParkLikeTown(nodes[nodes[nodes[g].parent].parent])) {
        nodes[g].kind = kPark;
        ++parks;
      } else {
        candidates.push_back(g);
      }
    }
    Rng rng(StreamSeed(options.seed, "#parks"));
    for (size_t k = candidates.size(); k > 1; --k) std::swap(candidates[k - 1], candidates[rng.Below(k)]);
    for (size_t k = 0; k < candidates.size() && parks < cal.park_grids; ++k, ++parks) nodes[candidates[k]].kind = kPark;
    if (parks != cal.park_grids)
      Report(options, nodes[root].code + ": " + std::to_string(parks) + " park grids instead of " + std::to_string(cal.park_grids));
  }

  // ---- micro-grids -----------------------------------------------------------------
  for (size_t k = 0; k < grids.size(); ++k) {
    if (k % 256 == 0) progress("micro_grids", double(k) / grids.size());
    int32_t g = grids[k];
    Rng rng(StreamSeed(options.seed, nodes[g].code + "#micro"));
    int n;
    const std::string& mc = nodes[nodes[g].parent].code;
    if (mc == kCountryGarden && nodes[nodes[g].parent].children.size() == 4) {
      n = kCountryGardenMicro[nodes[g].code.back() - '1'];
    } else {
      n = rng.Uniform() < 0.1 ? 0 : 3 + static_cast<int>(rng.Below(6));
    }
    if (n > static_cast<int>(nodes[g].pixels.size())) {
      Report(options, "grid " + nodes[g].code + " has " + std::to_string(nodes[g].pixels.size()) + " pixels for " +
                          std::to_string(n) + " micro-grids");
      n = static_cast<int>(nodes[g].pixels.size());
      if (n == 1) n = 0;
    }
    if (n == 0) continue;
    auto cells = split(g, n, 1.0, {}, nodes[g].pixels);
    nodes[g].pixels.clear();
    nodes[g].pixels.shrink_to_fit();
    for (int c = 0; c < n; ++c) {
      int32_t id = add_child(g, nodes[g].code + Pad(c + 1, 2), nodes[g].name + "第" + std::to_string(c + 1) + "微网格",
                             5, nodes[g].kind);
      nodes[id].pixels = std::move(cells[c]);
    }
  }
  progress("micro_grids", 1);

  // ---- leaf raster, 4. pinches ----------------------------------------------------------
  const int32_t N = static_cast<int32_t>(nodes.size());
  std::vector<int32_t> leaf(npix, -1);
  std::vector<int64_t> leaf_count(N, 0);
  for (int32_t n = 0; n < N; ++n) {
    if (!nodes[n].children.empty()) continue;
    for (int32_t p : nodes[n].pixels) leaf[p] = n;
    leaf_count[n] = static_cast<int64_t>(nodes[n].pixels.size());
    nodes[n].pixels.clear();
    nodes[n].pixels.shrink_to_fit();
  }
  std::vector<std::vector<int32_t>> anc(5, std::vector<int32_t>(N, -1));  // levels 1..5
  for (int32_t n = 0; n < N; ++n) {
    for (int L = 1; L <= 5; ++L) {
      int32_t a = n;
      while (nodes[a].level > L) a = nodes[a].parent;
      anc[L - 1][n] = a;
    }
  }
  progress("pinches", 0);
  int unresolved = 0;
  generate::RemovePinches(W, H, leaf, anc, leaf_count, &unresolved);
  if (unresolved) Report(options, std::to_string(unresolved) + " pinches could not be removed");
  progress("pinches", 1);

  // ---- metrics ---------------------------------------------------------------------------------
  progress("metrics", 0);
  std::vector<int32_t> leaves;
  for (int32_t n = 0; n < N; ++n)
    if (nodes[n].children.empty() && nodes[n].level >= 4) leaves.push_back(n);
  {
    std::vector<double> wsum(N, 0), dsum(N, 0), area(N, 0);
    for (size_t p = 0; p < npix; ++p) {
      int32_t l = leaf[p];
      if (l < 0) continue;
      wsum[l] += weight[p];
      dsum[l] += density[p];
      area[l] += weight[p] / density[p];
    }
    std::vector<double> pw, hw, bw, sea_area;
    for (int32_t l : leaves) {
      double f = nodes[l].kind == kPark ? kParkPopFactor : nodes[l].kind == kSea ? kSeaPopFactor : 1.0;
      pw.push_back(wsum[l] * f);
    }
    auto pop = LargestRemainder(cal.population, pw);
    double btotal = 0;
    for (size_t k = 0; k < leaves.size(); ++k) {
      int32_t l = leaves[k];
      double mean_density = leaf_count[l] ? dsum[l] / leaf_count[l] : 1.0;
      double urban = std::clamp((mean_density - 1.0) / peak, 0.0, 1.0);
      hw.push_back(pop[k] / 2.8);
      bw.push_back(pop[k] / 2.8 / 4.0 / (1.0 + 3.0 * urban));
      btotal += bw.back();
      sea_area.push_back(nodes[l].kind == kSea ? area[l] : 0.0);
    }
    std::vector<double> popd(pop.begin(), pop.end());
    auto hh = LargestRemainder(std::llround(cal.population / 2.8), popd);
    auto bld = LargestRemainder(std::llround(btotal), bw);
    auto sch = LargestRemainder(std::llround(cal.population / 3000.0), popd);
    auto mkt = LargestRemainder(std::llround(cal.population / 5000.0), popd);
    bool any_sea = std::any_of(sea_area.begin(), sea_area.end(), [](double a) { return a > 0; });
    auto fish = any_sea ? LargestRemainder(kFishermen, sea_area) : std::vector<int64_t>(leaves.size(), 0);
    auto boats = any_sea ? LargestRemainder(kFishingBoats, sea_area) : std::vector<int64_t>(leaves.size(), 0);
    for (size_t k = 0; k < leaves.size(); ++k) {
      auto& m = nodes[leaves[k]].metrics;
      m[kPop] = pop[k];
      m[kHouseholds] = hh[k];
      m[kBuildings] = bld[k];
      m[kSchools] = sch[k];
      m[kMarkets] = mkt[k];
      m[kFishermenM] = fish[k];
      m[kBoats] = boats[k];
    }
    // Grid staff: one per grid, the rest by grid population, on the grid's first leaf.
    std::vector<double> gp;
    for (int32_t g : grids) {
      double s = 0;
      if (nodes[g].children.empty()) s = nodes[g].metrics[kPop];
      for (int32_t c : nodes[g].children) s += nodes[c].metrics[kPop];
      gp.push_back(s);
    }
    auto staff = LargestRemainder(cal.grid_staff - static_cast<int64_t>(grids.size()), gp);
    for (size_t k = 0; k < grids.size(); ++k) {
      int32_t g = grids[k];
      int32_t first = nodes[g].children.empty() ? g : nodes[g].children[0];
      nodes[first].metrics[kStaff] = 1 + staff[k];
    }
  }

  // ---- 5. tracing -----------------------------------------------------------------------------
  std::vector<IntPolygon> sea_polys;
  {
    std::vector<std::vector<TracedRing>> rings(N);
    auto sink = [&](TracedRing&& r) { rings[r.label].push_back(std::move(r)); };
    auto collect = [&](bool only_inner) {
      for (int32_t n = 0; n < N; ++n) {
        if (rings[n].empty()) continue;
        if (!only_inner || !nodes[n].children.empty()) nodes[n].geom = AssemblePolygons(std::move(rings[n]), W);
        rings[n].clear();
      }
    };
    progress("trace", 0);
    generate::TraceRings(W, H, leaf, leaf, sink);
    collect(false);
    std::vector<int32_t> lab(npix);
    if (options.inner_geometry) {
      for (int L = 2; L <= 4; ++L) {
        progress("trace", (L - 1) / 4.0);
        for (size_t p = 0; p < npix; ++p) lab[p] = leaf[p] < 0 ? -1 : anc[L - 1][leaf[p]];
        generate::TraceRings(W, H, lab, leaf, sink);
        collect(true);
      }
    }
    if (!sea_pixels.empty()) {
      for (size_t p = 0; p < npix; ++p) lab[p] = (leaf[p] >= 0 && nodes[leaf[p]].kind == kSea) ? 0 : -1;
      std::vector<TracedRing> sr;
      generate::TraceRings(W, H, lab, leaf, [&](TracedRing&& r) { sr.push_back(std::move(r)); });
      sea_polys = AssemblePolygons(std::move(sr), W);
    }
    progress("trace", 1);
  }
  for (int32_t l : leaves)
    if (nodes[l].geom.empty()) return Status(StatusCode::kInternal, "generate: leaf " + nodes[l].code + " lost all its pixels");

  CityModel model;
  model.nodes = std::move(nodes);
  model.root = root;
  model.shapes = std::move(shapes);
  model.sea_polys = std::move(sea_polys);
  for (size_t k = 0; k < model.shapes.size(); ++k)
    if (kunpeng >= 0 && model.nodes[model.nodes[model.nodes[kunpeng].parent].parent].code == model.shapes[k].code)
      model.sea_shape = static_cast<int64_t>(k);
  model.x0i = x0i;
  model.y0i = y0i;
  model.W = W;
  model.H = H;
  model.population = cal.population;
  return model;
}

// Streams features to the output, one buffer at a time.
struct FeatureWriter {
  Writer& w;
  bool sequence;
  bool inner_geometry;
  int R;
  GenerateSummary& summary;
  bool first_feature = true;
};

// Writes one copy of `city`, shifted by (sx, sy) pixels, every id prefixed.
bool WriteCity(FeatureWriter& fw, const CityModel& city, int64_t sx, int64_t sy, const std::string& prefix,
               const std::string& suffix) {
  const std::vector<Node>& nodes = city.nodes;
  std::string& s = fw.w.buf();
  const double inv2r = 1.0 / (2.0 * fw.R);
  const int64_t ox = 2 * (city.x0i + sx), oy = 2 * (city.y0i + sy);
  const double dlon = static_cast<double>(sx) / fw.R, dlat = static_cast<double>(sy) / fw.R;
  auto write_int_polygon = [&](const IntPolygon& poly) {
    s.push_back('[');
    for (size_t r = 0; r < poly.size(); ++r) {
      if (r) s.push_back(',');
      s.push_back('[');
      const auto& xy = poly[r];
      size_t n = xy.size() / 2;
      for (size_t v = 0; v <= n; ++v) {
        size_t q = v % n;
        if (v) s.push_back(',');
        s.push_back('[');
        AppendDouble(s, static_cast<double>(ox + xy[2 * q]) * inv2r);
        s.push_back(',');
        AppendDouble(s, static_cast<double>(oy + xy[2 * q + 1]) * inv2r);
        s.push_back(']');
      }
      fw.summary.vertices += static_cast<int64_t>(n + 1);
      s.push_back(']');
    }
    s.push_back(']');
  };
  // Depth-first pre-order; without a county level the county node (the
  // whole city in the division table) is skipped and its towns hang from
  // the city.
  std::vector<int32_t> stack = {city.root};
  while (!stack.empty()) {
    const int32_t n = stack.back();
    stack.pop_back();
    const Node& nd = nodes[n];
    for (auto it = nd.children.rbegin(); it != nd.children.rend(); ++it) stack.push_back(*it);
    if (nd.level == 1 && !city.county_level) continue;
    int32_t parent = nd.parent;
    if (parent >= 0 && nodes[parent].level == 1 && !city.county_level) parent = nodes[parent].parent;
    if (!fw.first_feature) s += fw.sequence ? "" : ",\n";
    fw.first_feature = false;
    s += "{\"type\":\"Feature\",\"id\":";
    AppendJsonString(s, prefix + nd.code);
    s += ",\"properties\":{\"parent\":";
    if (parent < 0) {
      s += "null";
    } else {
      AppendJsonString(s, prefix + nodes[parent].code);
    }
    s += ",\"level\":\"";
    s += kLevelNames[nd.level];
    s += "\",\"name\":";
    AppendJsonString(s, nd.name + suffix);
    if (nd.kind != kNone) {
      s += ",\"kind\":\"";
      s += kKindNames[nd.kind];
      s += "\"";
    }
    const bool is_leaf = nd.children.empty();
    if (is_leaf) {
      s += ",\"metrics\":{";
      for (int m = 0; m < kMetricCount; ++m) {
        if (m) s.push_back(',');
        s.push_back('"');
        s += kMetricNames[m];
        s += "\":";
        AppendInt(s, nd.metrics[m]);
      }
      s.push_back('}');
      ++fw.summary.leaves;
    }
    s += "},\"geometry\":";
    if (nd.level == 1) {
      const CountyShape& cs = city.shapes[nd.county_shape];
      bool extra = nd.county_shape == city.sea_shape && !city.sea_polys.empty();
      bool multi = cs.multi || extra;
      s += multi ? "{\"type\":\"MultiPolygon\",\"coordinates\":" : "{\"type\":\"Polygon\",\"coordinates\":";
      if (multi) s.push_back('[');
      for (size_t pi = 0; pi < cs.parts.size(); ++pi) {
        if (pi) s.push_back(',');
        s.push_back('[');
        for (size_t r = 0; r < cs.parts[pi].size(); ++r) {
          if (r) s.push_back(',');
          s.push_back('[');
          const auto& ring = cs.parts[pi][r];
          for (size_t v = 0; v < ring.size(); ++v) {
            if (v) s.push_back(',');
            s.push_back('[');
            AppendDouble(s, ring[v][0] + dlon);
            s.push_back(',');
            AppendDouble(s, ring[v][1] + dlat);
            s.push_back(']');
          }
          fw.summary.vertices += static_cast<int64_t>(ring.size());
          s.push_back(']');
        }
        s.push_back(']');
      }
      if (extra) {
        for (const IntPolygon& poly : city.sea_polys) {
          s.push_back(',');
          write_int_polygon(poly);
        }
      }
      if (multi) s.push_back(']');
      s.push_back('}');
    } else if (!nd.geom.empty() && (is_leaf || fw.inner_geometry)) {
      bool multi = nd.geom.size() > 1;
      s += multi ? "{\"type\":\"MultiPolygon\",\"coordinates\":" : "{\"type\":\"Polygon\",\"coordinates\":";
      if (multi) s.push_back('[');
      for (size_t pi = 0; pi < nd.geom.size(); ++pi) {
        if (pi) s.push_back(',');
        write_int_polygon(nd.geom[pi]);
      }
      if (multi) s.push_back(']');
      s.push_back('}');
    } else {
      s += "null";
    }
    s += "}";
    if (fw.sequence) s.push_back('\n');
    ++fw.summary.features;
    ++fw.summary.counts_per_level[nd.level];
    if (!fw.w.MaybeFlush()) return false;
  }
  return true;
}

// The inputs of one city of the province: its county shapes and its rows of
// the division table.
struct CityInput {
  std::vector<CountyShape> shapes;
  std::vector<Division> divs;
  bool county_level = true;
};

// data/guangdong: counties/*.geojson (one file per city) and divisions.csv
// (the whole province). Counties without geometry are dropped with their
// towns, and reported; features without a division row are reported and
// ignored.
Result<std::vector<CityInput>> ReadProvince(const GenerateOptions& options, const std::string& dir) {
  auto divs_r = ReadDivisions(dir + "divisions.csv");
  if (!divs_r.ok()) return divs_r.status();
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir + "counties", ec))
    if (e.path().extension() == ".geojson") files.push_back(e.path().string());
  if (ec) return IoError(dir + "counties: cannot list: " + ec.message());
  std::sort(files.begin(), files.end());
  std::vector<CountyShape> shapes;
  for (const std::string& f : files) {
    auto r = ReadCounties(f);
    if (!r.ok()) return r.status();
    for (CountyShape& c : r.value()) shapes.push_back(std::move(c));
  }
  std::map<std::string, CityInput> cities;  // by city code, so in code order
  std::set<std::string> county_rows;
  for (const Division& d : divs_r.value()) {
    if (d.level == "city") cities[d.code].divs.push_back(d);
    if (d.level == "county") county_rows.insert(d.code);
  }
  std::set<std::string> with_shape;
  for (CountyShape& c : shapes) {
    auto it = cities.find(c.code.substr(0, 4));
    if (it == cities.end() || !county_rows.count(c.code)) {
      Report(options, c.source + ": feature " + c.code + " (" + c.name + ") is not a county of " + dir +
                          "divisions.csv; ignored");
      continue;
    }
    with_shape.insert(c.code);
    it->second.shapes.push_back(std::move(c));
  }
  // Rows in table order: a county's towns and communities follow it.
  std::set<std::string> dropped;
  for (const Division& d : divs_r.value()) {
    if (d.level == "province" || d.level == "city") continue;
    auto it = cities.find(d.code.substr(0, 4));
    if (it == cities.end()) return InvalidArgument(dir + "divisions.csv: " + d.code + " is under no city");
    const std::string county = d.code.substr(0, 6);
    if (!with_shape.count(county)) {
      if (dropped.insert(county).second)
        Report(options, dir + "counties: no geometry for county " + county + "; it is left out with its towns");
      continue;
    }
    it->second.divs.push_back(d);
  }
  std::vector<CityInput> out;
  for (auto& [code, city] : cities) {
    if (city.shapes.empty()) {
      Report(options, dir + "counties: no geometry for city " + code + "; left out");
      continue;
    }
    // Dongguan and Zhongshan: one county row that is the city itself.
    city.county_level = !(city.shapes.size() == 1 && city.shapes[0].code == code + "00");
    out.push_back(std::move(city));
  }
  return out;
}

}  // namespace

Result<GenerateSummary> Generate(const GenerateOptions& options) {
  if (options.city != "jiangmen" && options.city != "guangdong")
    return InvalidArgument("generate: unknown city \"" + options.city + "\" (embedded: jiangmen, guangdong)");
  if (options.cities < 1) return InvalidArgument("generate: cities must be >= 1");
  if (options.pixels_per_degree < 64 || options.pixels_per_degree > 16384)
    return InvalidArgument("generate: pixels_per_degree must be in [64, 16384]");
  if (options.out_path.empty()) return InvalidArgument("generate: out_path is empty");
  const int R = options.pixels_per_degree;
  const std::string dir = options.data_root + "/" + options.city + "/";

  std::vector<CityModel> models;
  if (options.city == "jiangmen") {
    if (options.progress) options.progress("read", 0);
    auto shapes = ReadCounties(dir + "counties.geojson");
    if (!shapes.ok()) return shapes.status();
    auto divs = ReadDivisions(dir + "divisions.csv");
    if (!divs.ok()) return divs.status();
    auto model = BuildCity(options, dir, std::move(shapes.value()), divs.value(), true);
    if (!model.ok()) return model.status();
    models.push_back(std::move(model.value()));
  } else {
    auto inputs = ReadProvince(options, dir);
    if (!inputs.ok()) return inputs.status();
    for (size_t k = 0; k < inputs.value().size(); ++k) {
      CityInput& in = inputs.value()[k];
      Report(options, "city " + std::to_string(k + 1) + "/" + std::to_string(inputs.value().size()) + ": " +
                          in.divs[0].code + " " + in.divs[0].name);
      auto model = BuildCity(options, dir, std::move(in.shapes), in.divs, false);
      if (!model.ok()) return model.status();
      model.value().county_level = in.county_level;
      models.push_back(std::move(model.value()));
    }
  }

  // Copies are shifted by whole widths and heights of all cities' rasters.
  int64_t gx0 = INT64_MAX, gy0 = INT64_MAX, gx1 = INT64_MIN, gy1 = INT64_MIN;
  for (const CityModel& m : models) {
    gx0 = std::min(gx0, m.x0i);
    gy0 = std::min(gy0, m.y0i);
    gx1 = std::max(gx1, m.x0i + m.W);
    gy1 = std::max(gy1, m.y0i + m.H);
  }
  const bool sequence = options.out_path.ends_with(".geojsonl") || options.out_path.ends_with(".geojsons");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(options.out_path.c_str(), "wb"), &std::fclose);
  if (!file) return IoError(options.out_path + ": cannot open for writing");
  Writer w(file.get());
  GenerateSummary summary;
  FeatureWriter fw{w, sequence, options.inner_geometry, R, summary};
  if (!sequence) w.buf() += "{\"type\":\"FeatureCollection\",\"features\":[\n";
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(options.cities))));
  for (int copy = 1; copy <= options.cities; ++copy) {
    if (options.progress) options.progress("write", double(copy - 1) / options.cities);
    const std::string prefix = copy == 1 ? "" : "c" + std::to_string(copy) + "-";
    const std::string suffix = copy == 1 ? "" : " (copy " + std::to_string(copy) + ")";
    const int64_t sx = static_cast<int64_t>((copy - 1) % cols) * (gx1 - gx0);
    const int64_t sy = static_cast<int64_t>((copy - 1) / cols) * (gy1 - gy0);
    for (const CityModel& m : models) {
      if (!WriteCity(fw, m, sx, sy, prefix, suffix)) return IoError(options.out_path + ": write failed");
      summary.population += m.population;
    }
  }
  if (!sequence) w.buf() += "\n]}\n";
  if (!w.MaybeFlush(true) || std::fflush(file.get()) != 0) return IoError(options.out_path + ": write failed");
  if (std::fclose(file.release()) != 0) return IoError(options.out_path + ": close failed");
  if (options.progress) options.progress("write", 1);
  return summary;
}

}  // namespace gridtree

// Workload file parsing (simdjson DOM: the files are small and read once)
// and the derivation of request i from (seed, i).
#include "replay/workload.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "gridtree/engine/level.h"
#include "gridtree/engine/read_file.h"
#include "gridtree/engine/region.h"

namespace gridtree::replay {
namespace {

namespace dom = simdjson::dom;

constexpr const char* kKindNames[kKindCount] = {"locate", "locate_batch", "aggregate"};

// The largest batch the server takes by default (docs/rpc.md, Limits); a
// bigger one could be replayed in process but not against a default server.
constexpr uint64_t kMaxBatchSize = 1'000'000;

// Every error of this file is "<file>: <field>: <what>".
class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}
  Status Field(const std::string& field, const std::string& what) const {
    return InvalidArgument(file_ + ": " + field + ": " + what);
  }
  Status File(const std::string& what) const { return InvalidArgument(file_ + ": " + what); }

 private:
  std::string file_;
};

Status ReadNumber(dom::element el, const Errors& err, const std::string& field, double& out) {
  if (el.get_double().get(out) || !std::isfinite(out)) return err.Field(field, "must be a finite number");
  return Status::Ok();
}

Status ReadCount(dom::element el, const Errors& err, const std::string& field, uint64_t lo, uint64_t hi,
                 uint64_t& out) {
  if (el.get_uint64().get(out) || out < lo || out > hi)
    return err.Field(field, "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return Status::Ok();
}

// [west, south, east, north], finite, west <= east, south <= north.
Status ReadBox(dom::element el, const Errors& err, const std::string& field, double box[4]) {
  dom::array a;
  if (el.get_array().get(a) || a.size() != 4) return err.Field(field, "must be [west, south, east, north]");
  int i = 0;
  for (dom::element v : a) {
    if (Status s = ReadNumber(v, err, field + "[" + std::to_string(i) + "]", box[i]); !s.ok()) return s;
    ++i;
  }
  if (box[0] > box[2]) return err.Field(field, "west > east");
  if (box[1] > box[3]) return err.Field(field, "south > north");
  return Status::Ok();
}

// Points uniform in a box from a splitmix64 stream: portable, unlike the
// std:: distributions, so the same file gives the same points everywhere.
Status GeneratePoints(dom::element gen, const Errors& err, Workload& w) {
  const std::string f = "points.generate";
  dom::object o;
  if (gen.get_object().get(o)) return err.Field(f, "must be an object {\"box\": [...], \"count\": N, \"seed\": S}");
  double box[4];
  uint64_t count = 0, seed = 1;
  bool has_box = false, has_count = false;
  for (auto [key, value] : o) {
    if (key == "box") {
      if (Status s = ReadBox(value, err, f + ".box", box); !s.ok()) return s;
      has_box = true;
    } else if (key == "count") {
      if (Status s = ReadCount(value, err, f + ".count", 1, 100'000'000, count); !s.ok()) return s;
      has_count = true;
    } else if (key == "seed") {
      if (Status s = ReadCount(value, err, f + ".seed", 0, UINT64_MAX, seed); !s.ok()) return s;
    } else {
      return err.Field(f + "." + std::string(key), "unknown field (expected box, count, seed)");
    }
  }
  if (!has_box) return err.Field(f + ".box", "missing");
  if (!has_count) return err.Field(f + ".count", "missing");
  w.lon.resize(count);
  w.lat.resize(count);
  uint64_t state = seed;
  auto unit = [&state] {  // [0, 1) with 53 random bits
    state += 0x9E3779B97F4A7C15ull;
    return static_cast<double>(Mix64(state) >> 11) * 0x1.0p-53;
  };
  for (uint64_t i = 0; i < count; ++i) {
    w.lon[i] = box[0] + (box[2] - box[0]) * unit();
    w.lat[i] = box[1] + (box[3] - box[1]) * unit();
  }
  return Status::Ok();
}

// "lon,lat" per line; blank lines, '#' comments and one header line (a
// first line that is not two numbers) are skipped.
Status ReadPointsCsv(const std::string& path, const std::string& shown, Workload& w) {
  std::ifstream in(path);
  if (!in) return InvalidArgument(shown + ": cannot open points file (points)");
  std::string line;
  int64_t number = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const char* p = line.data();
    const char* end = p + line.size();
    double lon = 0, lat = 0;
    auto r1 = std::from_chars(p, end, lon);
    bool ok = r1.ec == std::errc() && r1.ptr < end && *r1.ptr == ',';
    if (ok) {
      auto r2 = std::from_chars(r1.ptr + 1, end, lat);
      ok = r2.ec == std::errc() && r2.ptr == end;
    }
    if (!ok && first) {
      first = false;
      continue;
    }
    first = false;
    if (!ok) return InvalidArgument(shown + ": line " + std::to_string(number) + ": expected lon,lat");
    if (!std::isfinite(lon) || !std::isfinite(lat))
      return InvalidArgument(shown + ": line " + std::to_string(number) + ": coordinates must be finite");
    w.lon.push_back(lon);
    w.lat.push_back(lat);
  }
  if (w.lon.empty()) return InvalidArgument(shown + ": no points");
  return Status::Ok();
}

Status ReadPoints(dom::element el, const Errors& err, const std::string& base_dir, Workload& w) {
  std::string_view file;
  if (!el.get_string().get(file)) {
    std::filesystem::path p(file);
    if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
    if (Status s = ReadPointsCsv(p.string(), p.string(), w); !s.ok())
      return err.Field("points", s.message());
    return Status::Ok();
  }
  dom::object o;
  dom::element gen;
  if (el.get_object().get(o) || o.size() != 1 || o["generate"].get(gen))
    return err.Field("points", "must be a CSV file name or {\"generate\": {...}}");
  return GeneratePoints(gen, err, w);
}

Status ReadMode(dom::element el, const Errors& err, const std::string& field, RegionMode& mode) {
  std::string_view s;
  std::optional<RegionMode> m;
  if (el.get_string().get(s) || !(m = ParseRegionMode(s)))
    return err.Field(field, "must be \"intersecting\", \"contained\" or \"area_weighted\"");
  mode = *m;
  return Status::Ok();
}

Status ReadGroupBy(dom::element el, const Errors& err, const std::string& field, std::optional<Level>& level) {
  std::string_view s;
  if (el.get_string().get(s)) return err.Field(field, "must be a level name or \"none\"");
  if (s == "none") {
    level.reset();
    return Status::Ok();
  }
  auto l = ParseLevel(s);
  if (!l) return err.Field(field, "unknown level \"" + std::string(s) + "\"");
  level = *l;
  return Status::Ok();
}

// One region: exactly one shape (box, circle, wkt, geojson), optionally its
// own mode and group_by; missing ones are filled from the top level later.
struct RegionDraft {
  WorkloadRegion region;
  bool has_mode = false, has_group_by = false;
};

Status ReadRegion(dom::element el, const Errors& err, const std::string& f, RegionDraft& out) {
  dom::object o;
  if (el.get_object().get(o)) return err.Field(f, "must be an object with one of box, circle, wkt, geojson");
  int shapes = 0;
  WorkloadRegion& r = out.region;
  for (auto [key, value] : o) {
    const std::string field = f + "." + std::string(key);
    if (key == "box") {
      double b[4];
      if (Status s = ReadBox(value, err, field, b); !s.ok()) return s;
      r.query.region = BoxRegion(b[0], b[1], b[2], b[3]);
      r.source = WorkloadRegion::Source::kBox;
      ++shapes;
    } else if (key == "circle") {
      dom::object c;
      if (value.get_object().get(c)) return err.Field(field, "must be {\"lon\":..,\"lat\":..,\"radius_m\":..}");
      double lon = 0, lat = 0, radius = 0;
      for (auto [ck, cv] : c) {
        double* target = ck == "lon" ? &lon : ck == "lat" ? &lat : ck == "radius_m" ? &radius : nullptr;
        if (!target) return err.Field(field + "." + std::string(ck), "unknown field (expected lon, lat, radius_m)");
        if (Status s = ReadNumber(cv, err, field + "." + std::string(ck), *target); !s.ok()) return s;
      }
      for (const char* k : {"lon", "lat", "radius_m"})
        if (c[k].error()) return err.Field(field + "." + k, "missing");
      if (radius <= 0) return err.Field(field + ".radius_m", "must be > 0");
      if (lat < -90 || lat > 90) return err.Field(field + ".lat", "outside [-90, 90]");
      r.query.region = CircleRegion(lon, lat, radius);
      r.source = WorkloadRegion::Source::kCircle;
      ++shapes;
    } else if (key == "wkt") {
      std::string_view text;
      if (value.get_string().get(text)) return err.Field(field, "must be a string");
      auto parsed = ParseRegionWkt(text);
      if (!parsed.ok()) return err.Field(field, parsed.status().message());
      r.query.region = std::move(parsed).value();
      r.source = WorkloadRegion::Source::kWkt;
      r.text = std::string(text);
      ++shapes;
    } else if (key == "geojson") {
      const std::string text = simdjson::minify(value);
      auto parsed = ParseRegionGeoJson(text);
      if (!parsed.ok()) return err.Field(field, parsed.status().message());
      r.query.region = std::move(parsed).value();
      r.source = WorkloadRegion::Source::kGeoJson;
      r.text = text;
      ++shapes;
    } else if (key == "mode") {
      if (Status s = ReadMode(value, err, field, r.query.mode); !s.ok()) return s;
      out.has_mode = true;
    } else if (key == "group_by") {
      if (Status s = ReadGroupBy(value, err, field, r.query.group_by); !s.ok()) return s;
      out.has_group_by = true;
    } else {
      return err.Field(field, "unknown field (expected box, circle, wkt, geojson, mode, group_by)");
    }
  }
  if (shapes != 1) return err.Field(f, "needs exactly one of box, circle, wkt, geojson");
  return Status::Ok();
}

Status ReadMix(dom::element el, const Errors& err, Workload& w) {
  dom::object o;
  if (el.get_object().get(o)) return err.Field("mix", "must be an object of weights, e.g. {\"locate\": 0.8, ...}");
  std::array<double, kKindCount> weight{};
  for (auto [key, value] : o) {
    int k = 0;
    while (k < kKindCount && key != kKindNames[k]) ++k;
    if (k == kKindCount)
      return err.Field("mix." + std::string(key), "unknown kind (expected locate, locate_batch, aggregate)");
    if (Status s = ReadNumber(value, err, "mix." + std::string(key), weight[k]); !s.ok()) return s;
    if (weight[k] < 0) return err.Field("mix." + std::string(key), "must be >= 0");
  }
  double total = 0;
  for (double v : weight) total += v;
  if (!(total > 0)) return err.Field("mix", "all weights are zero");
  double sum = 0;
  for (int k = 0; k < kKindCount; ++k) {
    w.mix[k] = weight[k] / total;
    w.cumulative[k] = (sum += weight[k]) / total;
  }
  w.cumulative[kKindCount - 1] = 1.0;  // no gap from rounding at the top
  return Status::Ok();
}

}  // namespace

const char* KindName(Kind kind) { return kKindNames[static_cast<int>(kind)]; }

Request RequestAt(const Workload& w, uint64_t index) {
  // Two draws per request, both functions of (seed, index) only.
  const uint64_t a = Mix64(Mix64(w.seed) + index);
  const uint64_t b = Mix64(a);
  const double u = static_cast<double>(a >> 11) * 0x1.0p-53;
  int k = 0;
  while (k < kKindCount - 1 && !(u < w.cumulative[k])) ++k;
  Request r;
  r.kind = static_cast<Kind>(k);
  const uint64_t n = r.kind == Kind::kAggregate ? w.regions.size() : w.point_count();
  // Multiply-shift instead of modulo: uniform in [0, n) without a division.
  r.item = static_cast<uint64_t>((static_cast<unsigned __int128>(b) * n) >> 64);
  return r;
}

Result<Workload> ParseWorkload(std::string_view json, const std::string& name, const std::string& base_dir) {
  const Errors err(name);
  dom::parser parser;
  dom::element root;
  if (auto code = parser.parse(json.data(), json.size()).get(root))
    return err.File(std::string("malformed JSON (") + simdjson::error_message(code) + ")");
  dom::object top;
  if (root.get_object().get(top)) return err.File("the workload must be a JSON object");

  Workload w;
  w.name = std::filesystem::path(name).filename().string();
  RegionMode mode = RegionMode::kIntersecting;
  std::optional<Level> group_by;
  std::vector<RegionDraft> drafts;
  bool has_points = false, has_mix = false;
  std::set<std::string_view> seen;
  for (auto [key, value] : top) {
    const std::string field(key);
    // JSON allows a repeated key; here the second would silently win or add.
    if (!seen.insert(key).second) return err.Field(field, "given twice");
    Status s;
    if (key == "name") {
      std::string_view v;
      if (value.get_string().get(v)) return err.Field(field, "must be a string");
      w.name = std::string(v);
    } else if (key == "points") {
      s = ReadPoints(value, err, base_dir, w);
      has_points = true;
    } else if (key == "regions") {
      dom::array a;
      if (value.get_array().get(a)) return err.Field(field, "must be an array of regions");
      for (dom::element r : a) {
        drafts.emplace_back();
        s = ReadRegion(r, err, "regions[" + std::to_string(drafts.size() - 1) + "]", drafts.back());
        if (!s.ok()) return s;
      }
    } else if (key == "mix") {
      s = ReadMix(value, err, w);
      has_mix = true;
    } else if (key == "batch_size") {
      uint64_t v = 0;
      s = ReadCount(value, err, field, 1, kMaxBatchSize, v);
      w.batch_size = static_cast<uint32_t>(v);
    } else if (key == "requests") {
      s = ReadCount(value, err, field, 1, uint64_t{1} << 40, w.requests);
    } else if (key == "seed") {
      s = ReadCount(value, err, field, 0, UINT64_MAX, w.seed);
    } else if (key == "aggregate_mode") {
      s = ReadMode(value, err, field, mode);
    } else if (key == "group_by") {
      s = ReadGroupBy(value, err, field, group_by);
    } else {
      return err.Field(field,
                       "unknown field (expected name, points, regions, mix, batch_size, requests, seed, "
                       "aggregate_mode, group_by)");
    }
    if (!s.ok()) return s;
  }
  if (!has_mix) return err.Field("mix", "missing");
  for (RegionDraft& d : drafts) {
    if (!d.has_mode) d.region.query.mode = mode;
    if (!d.has_group_by) d.region.query.group_by = group_by;
    w.regions.push_back(std::move(d.region));
  }
  const bool wants_points = w.mix[0] > 0 || w.mix[1] > 0;
  if (wants_points && !has_points) return err.Field("points", "missing (the mix has locate or locate_batch)");
  if (w.mix[2] > 0 && w.regions.empty()) return err.Field("regions", "missing or empty (the mix has aggregate)");
  return w;
}

Result<Workload> LoadWorkload(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return InvalidArgument(path + ": cannot open the workload file (" + text.status().message() + ")");
  auto w = ParseWorkload(text.value(), path, std::filesystem::path(path).parent_path().string());
  if (w.ok()) w->path = path;
  return w;
}

}  // namespace gridtree::replay

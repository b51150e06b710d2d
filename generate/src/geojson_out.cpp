// Writing the built cities as GeoJSON (geojson_out.h).
#include "geojson_out.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "gridtree/engine/json_text.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// The output file, written a few MiB at a time.
class OutputBuffer {
 public:
  explicit OutputBuffer(std::FILE* f) : f_(f) {}
  std::string& text() { return text_; }
  // Writes the text once there is enough of it, or whatever there is with `force`.
  bool MaybeFlush(bool force = false) {
    if (text_.size() >= (4u << 20) || (force && !text_.empty())) {
      if (std::fwrite(text_.data(), 1, text_.size(), f_) != text_.size()) return false;
      text_.clear();
    }
    return true;
  }

 private:
  std::FILE* f_;
  std::string text_;
};

// Where one copy of a city goes: traced geometry is in half pixels from the
// raster origin, county geometry in degrees.
struct Placement {
  int64_t ox, oy;     // the copy's raster origin, half pixels
  double dlon, dlat;  // the copy's shift, degrees
  double inv2r;       // degrees per half pixel
};

// Streams features to the output, counting them in the summary.
class FeatureWriter {
 public:
  FeatureWriter(OutputBuffer& out, bool sequence, const GenerateOptions& options, GenerateSummary& summary)
      : out_(out),
        s_(out.text()),
        sequence_(sequence),
        inner_geometry_(options.inner_geometry),
        R_(options.pixels_per_degree),
        summary_(summary) {}

  // Writes one copy of `city`, shifted by (sx, sy) pixels, every id prefixed
  // and every name suffixed. False if the output could not be written.
  bool WriteCity(const CityModel& city, int64_t sx, int64_t sy, const std::string& prefix, const std::string& suffix);

 private:
  void AppendFeature(const CityModel& city, const Node& nd, const Placement& at, const std::string& prefix,
                     const std::string& suffix);
  void AppendCountyGeometry(const CityModel& city, const Node& nd, const Placement& at);
  void AppendFittedGeometry(const Node& nd, const Placement& at);
  void AppendDegreePolygon(const Polygon& poly, const Placement& at);
  template <typename AppendOne>
  void AppendPolygons(size_t count, AppendOne&& append_one);
  void AppendTracedGeometry(const Node& nd, const Placement& at);
  void AppendTracedPolygon(const IntPolygon& poly, const Placement& at);

  OutputBuffer& out_;
  std::string& s_;
  const bool sequence_;
  const bool inner_geometry_;
  const int R_;
  GenerateSummary& summary_;
  bool first_feature_ = true;
};

bool FeatureWriter::WriteCity(const CityModel& city, int64_t sx, int64_t sy, const std::string& prefix,
                              const std::string& suffix) {
  const Placement at{2 * (city.x0i + sx), 2 * (city.y0i + sy), static_cast<double>(sx) / R_,
                     static_cast<double>(sy) / R_, 1.0 / (2.0 * R_)};
  // Depth-first pre-order; without a county level the county node (the
  // whole city in the division table) is skipped and its towns hang from
  // the city.
  std::vector<int32_t> stack = {city.root};
  while (!stack.empty()) {
    const Node& nd = city.nodes[stack.back()];
    stack.pop_back();
    for (auto it = nd.children.rbegin(); it != nd.children.rend(); ++it) stack.push_back(*it);
    if (nd.level == Level::kCounty && !city.county_level) continue;
    AppendFeature(city, nd, at, prefix, suffix);
    if (!out_.MaybeFlush()) return false;
  }
  return true;
}

void FeatureWriter::AppendFeature(const CityModel& city, const Node& nd, const Placement& at,
                                  const std::string& prefix, const std::string& suffix) {
  const std::vector<Node>& nodes = city.nodes;
  int32_t parent = nd.parent;
  if (parent >= 0 && nodes[parent].level == Level::kCounty && !city.county_level) parent = nodes[parent].parent;
  if (!first_feature_) s_ += sequence_ ? "" : ",\n";
  first_feature_ = false;
  s_ += "{\"type\":\"Feature\",\"id\":";
  AppendJsonString(s_, prefix + nd.code);
  s_ += ",\"properties\":{\"parent\":";
  if (parent < 0) {
    s_ += "null";
  } else {
    AppendJsonString(s_, prefix + nodes[parent].code);
  }
  s_ += ",\"level\":\"";
  s_ += LevelName(nd.level);
  s_ += "\",\"name\":";
  AppendJsonString(s_, nd.name + suffix);
  if (nd.kind != kNone) {
    s_ += ",\"kind\":\"";
    s_ += kKindNames[nd.kind];
    s_ += "\"";
  }
  const bool is_leaf = nd.children.empty();
  if (is_leaf) {
    s_ += ",\"metrics\":{";
    for (int m = 0; m < kMetricCount; ++m) {
      if (m) s_.push_back(',');
      s_.push_back('"');
      s_ += kMetricNames[m];
      s_ += "\":";
      AppendJsonNumber(s_, nd.metrics[m]);
    }
    s_.push_back('}');
    ++summary_.leaves;
  }
  s_ += "},\"geometry\":";
  if (nd.level == Level::kCounty) {
    AppendCountyGeometry(city, nd, at);
  } else if (!nd.fitted.empty() && (is_leaf || inner_geometry_)) {
    AppendFittedGeometry(nd, at);
  } else if (!nd.geom.empty() && (is_leaf || inner_geometry_)) {
    AppendTracedGeometry(nd, at);
  } else {
    s_ += "null";
  }
  s_ += "}";
  if (sequence_) s_.push_back('\n');
  ++summary_.features;
  ++summary_.counts_per_level[static_cast<int>(nd.level)];
}

// The published boundary as read, plus the sea area on the county that has it.
void FeatureWriter::AppendCountyGeometry(const CityModel& city, const Node& nd, const Placement& at) {
  const CountyShape& cs = city.shapes[nd.county_shape];
  bool extra = nd.county_shape == city.sea_shape && !city.sea_polys.empty();
  bool multi = cs.multi || extra;
  s_ += multi ? "{\"type\":\"MultiPolygon\",\"coordinates\":" : "{\"type\":\"Polygon\",\"coordinates\":";
  if (multi) s_.push_back('[');
  for (size_t pi = 0; pi < cs.parts.size(); ++pi) {
    if (pi) s_.push_back(',');
    AppendDegreePolygon(cs.parts[pi], at);
  }
  if (extra) {
    for (const IntPolygon& poly : city.sea_polys) {
      s_.push_back(',');
      AppendTracedPolygon(poly, at);
    }
  }
  if (multi) s_.push_back(']');
  s_.push_back('}');
}

void FeatureWriter::AppendFittedGeometry(const Node& nd, const Placement& at) {
  AppendPolygons(nd.fitted.size(), [&](size_t pi) { AppendDegreePolygon(nd.fitted[pi], at); });
}

// Rings in degrees, written as they are (closed), shifted to the copy.
void FeatureWriter::AppendDegreePolygon(const Polygon& poly, const Placement& at) {
  s_.push_back('[');
  for (size_t r = 0; r < poly.size(); ++r) {
    if (r) s_.push_back(',');
    s_.push_back('[');
    const Ring& ring = poly[r];
    for (size_t v = 0; v < ring.size(); ++v) {
      if (v) s_.push_back(',');
      s_.push_back('[');
      AppendJsonNumber(s_, ring[v][0] + at.dlon);
      s_.push_back(',');
      AppendJsonNumber(s_, ring[v][1] + at.dlat);
      s_.push_back(']');
    }
    summary_.vertices += static_cast<int64_t>(ring.size());
    s_.push_back(']');
  }
  s_.push_back(']');
}

void FeatureWriter::AppendTracedGeometry(const Node& nd, const Placement& at) {
  AppendPolygons(nd.geom.size(), [&](size_t pi) { AppendTracedPolygon(nd.geom[pi], at); });
}

// A Polygon, or a MultiPolygon when there are several; append_one(i)
// writes polygon i's rings.
template <typename AppendOne>
void FeatureWriter::AppendPolygons(size_t count, AppendOne&& append_one) {
  const bool multi = count > 1;
  s_ += multi ? "{\"type\":\"MultiPolygon\",\"coordinates\":" : "{\"type\":\"Polygon\",\"coordinates\":";
  if (multi) s_.push_back('[');
  for (size_t pi = 0; pi < count; ++pi) {
    if (pi) s_.push_back(',');
    append_one(pi);
  }
  if (multi) s_.push_back(']');
  s_.push_back('}');
}

// Rings are stored open; GeoJSON wants them closed.
void FeatureWriter::AppendTracedPolygon(const IntPolygon& poly, const Placement& at) {
  s_.push_back('[');
  for (size_t r = 0; r < poly.size(); ++r) {
    if (r) s_.push_back(',');
    s_.push_back('[');
    const auto& xy = poly[r];
    size_t n = xy.size() / 2;
    for (size_t v = 0; v <= n; ++v) {
      size_t q = v % n;
      if (v) s_.push_back(',');
      s_.push_back('[');
      AppendJsonNumber(s_, static_cast<double>(at.ox + xy[2 * q]) * at.inv2r);
      s_.push_back(',');
      AppendJsonNumber(s_, static_cast<double>(at.oy + xy[2 * q + 1]) * at.inv2r);
      s_.push_back(']');
    }
    summary_.vertices += static_cast<int64_t>(n + 1);
    s_.push_back(']');
  }
  s_.push_back(']');
}

}  // namespace

Result<GenerateSummary> WriteDataset(const GenerateOptions& options, const std::vector<CityModel>& models) {
  // Copies are shifted by whole widths and heights of all cities' rasters,
  // so their vertices stay exact.
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
  OutputBuffer out(file.get());
  GenerateSummary summary;
  FeatureWriter writer(out, sequence, options, summary);
  if (!sequence) out.text() += "{\"type\":\"FeatureCollection\",\"features\":[\n";
  const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(options.cities))));
  for (int copy = 1; copy <= options.cities; ++copy) {
    ReportProgress(options, "write", double(copy - 1) / options.cities);
    const std::string prefix = copy == 1 ? "" : "c" + std::to_string(copy) + "-";
    const std::string suffix = copy == 1 ? "" : " (copy " + std::to_string(copy) + ")";
    const int64_t sx = static_cast<int64_t>((copy - 1) % cols) * (gx1 - gx0);
    const int64_t sy = static_cast<int64_t>((copy - 1) / cols) * (gy1 - gy0);
    for (const CityModel& m : models) {
      if (!writer.WriteCity(m, sx, sy, prefix, suffix)) return IoError(options.out_path + ": write failed");
      summary.population += m.population;
    }
  }
  if (!sequence) out.text() += "\n]}\n";
  if (!out.MaybeFlush(true) || std::fflush(file.get()) != 0) return IoError(options.out_path + ": write failed");
  if (std::fclose(file.release()) != 0) return IoError(options.out_path + ": close failed");
  ReportProgress(options, "write", 1);
  return summary;
}

}  // namespace gridtree::generate

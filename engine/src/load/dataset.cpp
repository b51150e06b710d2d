// Loading entry points and small Dataset/report helpers.
#include "gridtree/engine/dataset.h"

#include <chrono>
#include <simdjson.h>

#include "storage/engine_image.h"
#include "storage/image_file.h"
#include "load/raw_feature.h"

namespace gridtree {

std::optional<int32_t> Dataset::Find(std::string_view id) const {
  return node_by_id.Find(ids, id);
}

std::optional<int> Dataset::MetricIndex(std::string_view name) const {
  for (size_t i = 0; i < metric_names.size(); ++i)
    if (metric_names[i] == name) return static_cast<int>(i);
  return std::nullopt;
}

std::string Finding::ToString() const {
  std::string s = file;
  if (feature >= 0) s += ": feature " + std::to_string(feature);
  if (!id.empty()) s += " (id \"" + id + "\")";
  s += severity == Severity::kError ? ": error [" : ": warning [";
  s += code + "]: " + message;
  return s;
}

size_t ValidationReport::errors() const {
  size_t n = 0;
  for (const auto& f : findings) n += f.severity == Severity::kError;
  return n;
}

size_t ValidationReport::warnings() const { return findings.size() - errors(); }

std::string ValidationReport::ErrorSummary() const {
  for (const auto& f : findings)
    if (f.severity == Severity::kError) return std::to_string(errors()) + " error(s); first: " + f.ToString();
  return "";
}

namespace internal {

void FindingSink::Add(Severity severity, int64_t feature, std::string_view id, std::string code,
                      std::string message) {
  if (severity == Severity::kError) ++errors_;
  if (report_.findings.size() >= max_) {
    if (dropped_++ == 0)
      report_.findings.push_back({Severity::kWarning, file_, -1, "", "truncated",
                                  "more findings than max_findings; the rest are not listed", 0, std::nullopt});
    return;
  }
  report_.findings.push_back({severity, file_, feature, std::string(id), std::move(code), std::move(message), 0, std::nullopt});
}

void FindingSink::AddArea(Severity severity, int64_t feature, std::string_view id, std::string code,
                          std::string message, double area_km2, index::Point point) {
  const size_t before = report_.findings.size();
  Add(severity, feature, id, std::move(code), std::move(message));
  if (report_.findings.size() > before && report_.findings.back().feature == feature) {
    report_.findings.back().area_km2 = area_km2;
    report_.findings.back().point = point;
  }
}

}  // namespace internal

namespace {

LoadResult LoadFromText(std::string_view text, bool padded, const std::string& name, const LoadOptions& options) {
  using Clock = std::chrono::steady_clock;
  LoadResult result;
  internal::FindingSink sink(result.report, name, options.max_findings);
  const auto t0 = Clock::now();
  if (text.starts_with("GTDSET")) {
    sink.Error(-1, "", "old-snapshot",
               "a binary snapshot of an older gridtree (" + std::string(text.substr(0, 8)) +
                   "); convert the GeoJSON again with gridtree image, which writes an engine image");
    return result;
  }
  if (internal::LooksLikeImage(text)) {
    sink.Error(-1, "", "image", "an engine image is opened from its file (LoadDataset or Engine::Open), not from text");
    return result;
  }
  std::vector<internal::RawFeature> features = internal::ReadGeoJson(text, padded, sink);
  const auto t1 = Clock::now();
  result.report.features = static_cast<int64_t>(features.size());
  if (sink.errors() == 0) {
    result.dataset = internal::BuildDataset(std::move(features), options, sink);
    if (result.dataset) result.dataset->source = name;
  }
  result.report.parse_seconds = std::chrono::duration<double>(t1 - t0).count();
  result.report.check_seconds = std::chrono::duration<double>(Clock::now() - t1).count();
  if (sink.errors() > 0) result.dataset.reset();
  return result;
}

// An engine image as a Dataset that holds its leaf geometry again, for
// what takes a Dataset (Engine::Create, writing another image). Opening an
// Engine maps the image instead (Engine::Open).
LoadResult LoadImage(const std::string& path) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  LoadResult result;
  auto read = internal::ReadEngineImage(path);
  if (!read.ok()) {
    result.report.findings.push_back({Severity::kError, path, -1, "", "image", read.status().message(), 0, std::nullopt});
    return result;
  }
  internal::ImageContents& c = read.value();
  const index::FlatPolygons& g = c.index->geometry();
  c.dataset.leaf_geometry.reserve(g.size());
  for (size_t l = 0; l < g.size(); ++l) c.dataset.leaf_geometry.push_back(g.Get(l));
  result.report.features = static_cast<int64_t>(c.dataset.node_count());
  result.report.parse_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  result.dataset = std::move(c.dataset);
  return result;
}

}  // namespace

LoadResult LoadDatasetFromText(std::string_view text, const std::string& name, const LoadOptions& options) {
  return LoadFromText(text, /*padded=*/false, name, options);
}

LoadResult LoadDataset(const std::string& path, const LoadOptions& options) {
  if (internal::IsEngineImage(path)) return LoadImage(path);
  // One read into a padded buffer: simdjson parses it in place.
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) {
    LoadResult r;
    r.report.findings.push_back(
        {Severity::kError, path, -1, "", "unreadable", "cannot open or read the file", 0, std::nullopt});
    return r;
  }
  return LoadFromText(std::string_view(text.data(), text.size()), /*padded=*/true, path, options);
}

}  // namespace gridtree

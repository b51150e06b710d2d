// RawFeature: one GeoJSON feature as read, before any hierarchy checks.
// Internal to the loader.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gridtree/engine/dataset.h"
#include "gridtree/index/geometry.h"

namespace gridtree::internal {

struct RawFeature {
  int64_t index = -1;  // 0-based position in the file
  std::string id;
  bool has_id = false;
  std::optional<std::string> parent;  // nullopt: a root
  std::string level;
  bool has_level = false;
  std::string name;
  bool has_name = false;
  std::string kind;
  std::vector<std::pair<std::string, int64_t>> metrics;
  bool has_metrics = false;
  std::string geometry_type;  // "" when null or absent
  index::MultiPolygon geometry;  // as read: rings keep their closing vertex
};

// Collects findings with a cap; counts go on past the cap.
class FindingSink {
 public:
  FindingSink(ValidationReport& report, std::string file, size_t max_findings)
      : report_(report), file_(std::move(file)), max_(max_findings) {}
  void Add(Severity severity, int64_t feature, std::string_view id, std::string code, std::string message);
  void Error(int64_t feature, std::string_view id, std::string code, std::string message) {
    Add(Severity::kError, feature, id, std::move(code), std::move(message));
  }
  void Warning(int64_t feature, std::string_view id, std::string code, std::string message) {
    Add(Severity::kWarning, feature, id, std::move(code), std::move(message));
  }
  // A coverage finding with its area and a point inside the defect.
  void AddArea(Severity severity, int64_t feature, std::string_view id, std::string code, std::string message,
               double area_km2, index::Point point);
  size_t errors() const { return errors_; }
  const std::string& file() const { return file_; }

 private:
  ValidationReport& report_;
  std::string file_;
  size_t max_;
  size_t errors_ = 0;
  size_t dropped_ = 0;
};

// Parses the text (a FeatureCollection or a GeoJSON text sequence) into raw
// features. Malformed JSON is reported with its line and column.
// padded: text is followed by at least SIMDJSON_PADDING readable bytes (as
// in a simdjson::padded_string), so no copy is needed.
std::vector<RawFeature> ReadGeoJson(std::string_view text, bool padded, FindingSink& sink);

// Builds and checks the flat hierarchy; returns nullopt when any error.
std::optional<Dataset> BuildDataset(std::vector<RawFeature> features, const LoadOptions& options,
                                    FindingSink& sink);

// Position of the first JSON syntax error in text: 1-based line and column
// and a short description. Used only after the fast parser has failed.
struct SyntaxError {
  int64_t line = 0, column = 0;
  std::string what;
};
std::optional<SyntaxError> FindJsonSyntaxError(std::string_view text);

// A number in valid JSON that simdjson refuses (NUMBER_ERROR in 3.0):
// an integer outside both int64 and uint64, or a value past the range of a
// double. offset and length in the text; line 1-based.
struct OutOfRangeNumber {
  size_t offset = 0, length = 0;
  int64_t line = 0;
};
std::vector<OutOfRangeNumber> FindOutOfRangeNumbers(std::string_view text);

}  // namespace gridtree::internal

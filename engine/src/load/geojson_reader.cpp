// GeoJSON reading with simdjson: a FeatureCollection or a GeoJSON text
// sequence (one feature per line, RFC 8142 record separators allowed) into
// RawFeature records. Only what the dataset format defines is read; every
// malformed member becomes a finding naming the feature.
#include <cmath>
#include <string>

#include <simdjson.h>

#include "load/raw_feature.h"

namespace gridtree::internal {
namespace {

namespace dom = simdjson::dom;

std::string Str(std::string_view s) { return std::string(s); }

// Numbers simdjson refuses in a valid document (an integer past 64 bits:
// NUMBER_ERROR before simdjson 3.1, BIGINT_ERROR since; a value past a
// double's range: NUMBER_ERROR). They are
// replaced by placeholder strings "\u0000<k>" and the text parsed again, so
// that the reader can name the feature, the member and the line.
struct BigNumbers {
  std::vector<std::string> text;  // as written, at most 40 bytes
  std::vector<int64_t> line;      // 1-based, in the file

  // The number a string stands for, or -1 when it is a real string.
  int64_t Find(std::string_view s) const {
    if (s.size() < 2 || s[0] != '\0') return -1;
    int64_t k = 0;
    for (char c : s.substr(1)) {
      if (c < '0' || c > '9') return -1;
      k = k * 10 + (c - '0');
      if (k >= static_cast<int64_t>(text.size())) return -1;
    }
    return k;
  }
  // A string member that is not a placeholder.
  bool GetString(dom::element el, std::string_view& out) const { return !el.get_string().get(out) && Find(out) < 0; }
};

// Reads rings of one polygon; returns false (with a finding) when malformed.
bool ReadPolygon(dom::array rings, index::Polygon& out, const std::string& where, int64_t feature,
                 const std::string& id, const BigNumbers& big, FindingSink& sink) {
  size_t r = 0;
  for (dom::element ring_el : rings) {
    dom::array ring;
    if (ring_el.get_array().get(ring)) {
      sink.Error(feature, id, "bad-geometry", where + " ring " + std::to_string(r) + " is not an array of positions");
      return false;
    }
    index::Ring& points = out.rings.emplace_back();
    size_t k = 0;
    for (dom::element pos_el : ring) {
      dom::array pos;
      double xy[2];
      size_t n = 0;
      bool ok = !pos_el.get_array().get(pos);
      if (ok)
        for (dom::element c : pos) {
          double v;
          if (std::string_view s; !c.get_string().get(s) && big.Find(s) >= 0) {
            const int64_t b = big.Find(s);
            sink.Error(feature, id, "bad-coordinate",
                       "line " + std::to_string(big.line[b]) + ": " + where + " ring " + std::to_string(r) +
                           " position " + std::to_string(k) + ": " + big.text[b] + " is out of range");
            return false;
          }
          if (c.get_double().get(v)) ok = false;
          if (n < 2) xy[n] = v;
          ++n;
        }
      if (!ok || n < 2) {
        sink.Error(feature, id, "bad-geometry",
                   where + " ring " + std::to_string(r) + " position " + std::to_string(k) +
                       " is not an array of two numbers [lon, lat]");
        return false;
      }
      if (!std::isfinite(xy[0]) || !std::isfinite(xy[1]) || xy[0] < -180 || xy[0] > 180 || xy[1] < -90 ||
          xy[1] > 90) {
        sink.Error(feature, id, "bad-coordinate",
                   where + " ring " + std::to_string(r) + " position " + std::to_string(k) + " [" +
                       std::to_string(xy[0]) + ", " + std::to_string(xy[1]) +
                       "] is not a finite lon/lat in [-180,180] x [-90,90]");
        return false;
      }
      points.push_back({xy[0], xy[1]});
      ++k;
    }
    ++r;
  }
  return true;
}

void ReadGeometry(dom::element g, RawFeature& f, const BigNumbers& big, FindingSink& sink) {
  if (g.is_null()) return;
  std::string_view type;
  if (g["type"].get_string().get(type)) {
    sink.Error(f.index, f.id, "bad-geometry", "geometry has no \"type\" string");
    return;
  }
  f.geometry_type = Str(type);
  dom::array coords;
  if (type != "Polygon" && type != "MultiPolygon") return;  // judged by the hierarchy checks
  if (g["coordinates"].get_array().get(coords)) {
    sink.Error(f.index, f.id, "bad-geometry", f.geometry_type + " has no \"coordinates\" array");
    f.geometry_type = "invalid";
    return;
  }
  bool ok = true;
  if (type == "Polygon") {
    ok = ReadPolygon(coords, f.geometry.parts.emplace_back(), "polygon", f.index, f.id, big, sink);
  } else {
    size_t p = 0;
    for (dom::element poly : coords) {
      dom::array rings;
      if (poly.get_array().get(rings)) {
        sink.Error(f.index, f.id, "bad-geometry", "multipolygon part " + std::to_string(p) + " is not an array of rings");
        ok = false;
        break;
      }
      if (!ReadPolygon(rings, f.geometry.parts.emplace_back(), "part " + std::to_string(p), f.index, f.id, big, sink)) {
        ok = false;
        break;
      }
      ++p;
    }
  }
  if (!ok) f.geometry_type = "invalid";
}

void ReadFeature(dom::element el, int64_t index, std::vector<RawFeature>& out, const BigNumbers& big,
                 FindingSink& sink) {
  RawFeature& f = out.emplace_back();
  f.index = index;
  dom::object obj;
  if (el.get_object().get(obj)) {
    sink.Error(index, "", "bad-feature", "feature is not a JSON object");
    return;
  }
  std::string_view sv;
  if (dom::element id; !obj["id"].get(id)) {
    int64_t iv;
    if (big.GetString(id, sv)) f.id = Str(sv), f.has_id = !sv.empty();
    else if (!id.get_int64().get(iv)) f.id = std::to_string(iv), f.has_id = true;
  }
  dom::object props;
  if (obj["properties"].get_object().get(props)) {
    sink.Error(index, f.id, "missing-properties", "feature has no \"properties\" object");
  } else {
    if (dom::element parent; !props["parent"].get(parent)) {
      if (big.GetString(parent, sv)) f.parent = Str(sv);
      else if (!parent.is_null()) sink.Error(index, f.id, "bad-parent", "\"parent\" must be a string id or null");
    }
    dom::element member;
    if (!props["level"].get(member) && big.GetString(member, sv)) f.level = Str(sv), f.has_level = true;
    if (!props["name"].get(member) && big.GetString(member, sv)) f.name = Str(sv), f.has_name = true;
    if (!props["kind"].get(member) && big.GetString(member, sv)) f.kind = Str(sv);
    if (dom::element metrics; !props["metrics"].get(metrics) && !metrics.is_null()) {
      dom::object m;
      if (metrics.get_object().get(m)) {
        sink.Error(index, f.id, "bad-metric", "\"metrics\" must be an object of name -> non-negative integer");
      } else {
        f.has_metrics = true;
        for (auto [key, value] : m) {
          int64_t v = 0;
          const std::string name = Str(key);
          if (std::string_view s; !value.get_string().get(s) && big.Find(s) >= 0) {
            const std::string& text = big.text[big.Find(s)];
            const char* why = text[0] == '-'                                  ? "is negative"
                              : text.find_first_of(".eE") != std::string::npos ? "is not an integer"
                                                                               : "is larger than 2^63-1";
            sink.Error(index, f.id, "bad-metric",
                       "line " + std::to_string(big.line[big.Find(s)]) + ": metric \"" + name + "\" " + why + " (" +
                           text + ")");
            continue;
          }
          if (value.type() == dom::element_type::INT64) {
            v = value.get_int64().value_unsafe();
          } else if (value.type() == dom::element_type::UINT64) {
            sink.Error(index, f.id, "bad-metric", "metric \"" + name + "\" is larger than 2^63-1");
            continue;
          } else {
            sink.Error(index, f.id, "bad-metric", "metric \"" + name + "\" is not an integer");
            continue;
          }
          if (v < 0) {
            sink.Error(index, f.id, "bad-metric", "metric \"" + name + "\" is negative (" + std::to_string(v) + ")");
            continue;
          }
          f.metrics.emplace_back(name, v);
        }
      }
    }
  }
  if (dom::element g; !obj["geometry"].get(g)) ReadGeometry(g, f, big, sink);
}

void ReportSyntax(std::string_view text, int64_t line_offset, simdjson::error_code code, FindingSink& sink,
                  int64_t feature) {
  std::string where;
  if (auto e = FindJsonSyntaxError(text))
    where = "line " + std::to_string(e->line + line_offset) + ", column " + std::to_string(e->column) + ": " + e->what;
  else
    where = std::string("line ") + std::to_string(line_offset + 1) + ": " + simdjson::error_message(code);
  sink.Error(feature, "", "malformed-json", "malformed JSON at " + where);
}

// Whether err is the code simdjson 3.1 and later give an integer past 64
// bits. 3.0 has no such code (and says NUMBER_ERROR), so it is looked up
// through a template instead of named.
template <typename Code>
bool IsBigIntError(Code err) {
  if constexpr (requires { Code::BIGINT_ERROR; })
    return err == Code::BIGINT_ERROR;
  else
    return false;
}

// Parses text (the whole file, or one line of a text sequence starting at
// line line_offset + 1). Where simdjson refuses numbers of a valid document,
// they go into big and the text is parsed again with placeholders. Else a
// malformed-json finding and false.
bool Parse(dom::parser& parser, std::string_view text, bool padded, int64_t line_offset, int64_t feature,
           FindingSink& sink, BigNumbers& big, dom::element& out) {
  const simdjson::error_code err = parser.parse(text.data(), text.size(), !padded).get(out);
  if (!err) return true;
  if (err == simdjson::NUMBER_ERROR || IsBigIntError(err)) {
    const std::vector<OutOfRangeNumber> numbers = FindOutOfRangeNumbers(text);
    if (!numbers.empty()) {
      std::string patched;
      patched.reserve(text.size() + numbers.size() * 8);
      size_t at = 0;
      for (const OutOfRangeNumber& n : numbers) {
        patched.append(text.substr(at, n.offset - at));
        patched += "\"\\u0000" + std::to_string(big.text.size()) + "\"";
        const std::string_view number = text.substr(n.offset, n.length);
        big.text.push_back(Str(number.substr(0, 40)) + (number.size() > 40 ? "..." : ""));
        big.line.push_back(n.line + line_offset);
        at = n.offset + n.length;
      }
      patched.append(text.substr(at));
      if (!parser.parse(patched).get(out)) return true;
    }
  }
  ReportSyntax(text, line_offset, err, sink, feature);
  return false;
}

bool LooksLikeSequence(std::string_view text, dom::parser& parser) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return false;
  if (text[start] == '\x1e') return true;
  const size_t nl = text.find('\n', start);
  if (nl == std::string_view::npos) return false;
  std::string_view first = text.substr(start, nl - start);
  dom::element el;
  std::string_view type;
  return !parser.parse(first.data(), first.size()).get(el) && !el["type"].get_string().get(type) && type == "Feature";
}

}  // namespace

std::vector<RawFeature> ReadGeoJson(std::string_view text, bool padded, FindingSink& sink) {
  std::vector<RawFeature> out;
  dom::parser parser;
  if (LooksLikeSequence(text, parser)) {
    int64_t line_no = 0, feature = 0;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t nl = text.find('\n', pos);
      if (nl == std::string_view::npos) nl = text.size();
      std::string_view line = text.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      while (!line.empty() && (line.front() == '\x1e' || line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
      if (line.empty()) continue;
      dom::element el;
      BigNumbers big;
      if (!Parse(parser, line, padded, line_no - 1, feature, sink, big, el)) {
        ++feature;
        continue;
      }
      ReadFeature(el, feature++, out, big, sink);
    }
    return out;
  }
  dom::element root;
  BigNumbers big;
  if (!Parse(parser, text, padded, 0, -1, sink, big, root)) return out;
  std::string_view type;
  if (root["type"].get_string().get(type) || type != "FeatureCollection") {
    sink.Error(-1, "", "not-a-feature-collection",
               "top level must be a GeoJSON FeatureCollection (or one Feature per line)");
    return out;
  }
  dom::array features;
  if (root["features"].get_array().get(features)) {
    sink.Error(-1, "", "not-a-feature-collection", "FeatureCollection has no \"features\" array");
    return out;
  }
  out.reserve(features.size());
  int64_t i = 0;
  for (dom::element f : features) ReadFeature(f, i++, out, big, sink);
  return out;
}

}  // namespace gridtree::internal

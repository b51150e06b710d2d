// Reading the generator's inputs (read_inputs.h).
#include "read_inputs.h"

#include <simdjson.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "report.h"

namespace gridtree::generate {

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
    auto read_polygon = [&](simdjson::dom::array rings, Polygon& poly) -> bool {
      for (simdjson::dom::element r : rings) {
        simdjson::dom::array pts;
        if (r.get(pts)) return false;
        Ring ring;
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
      ReportNotice(options, c.source + ": feature " + c.code + " (" + c.name + ") is not a county of " + dir +
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
        ReportNotice(options, dir + "counties: no geometry for county " + county + "; it is left out with its towns");
      continue;
    }
    it->second.divs.push_back(d);
  }
  std::vector<CityInput> out;
  for (auto& [code, city] : cities) {
    if (city.shapes.empty()) {
      ReportNotice(options, dir + "counties: no geometry for city " + code + "; left out");
      continue;
    }
    // Dongguan and Zhongshan: one county row that is the city itself.
    city.county_level = !(city.shapes.size() == 1 && city.shapes[0].code == code + "00");
    out.push_back(std::move(city));
  }
  return out;
}

}  // namespace gridtree::generate

// gridtree generate | validate | info | export | image
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include <unistd.h>

#include "commands.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "gridtree/generate/generate.h"
#include "gridtree/engine/json_text.h"

namespace gridtree::cli {

namespace {

// Progress on stderr: a line redrawn in place on a terminal; in a log (not
// a terminal) one plain line when each stage starts.
void PrintProgress(std::string_view stage, double fraction) {
  static const bool terminal = ::isatty(STDERR_FILENO) == 1;
  static std::string last_stage;
  if (!terminal) {
    if (stage != last_stage) std::fprintf(stderr, "generate: %.*s\n", static_cast<int>(stage.size()), stage.data());
    last_stage = stage;
    return;
  }
  std::fprintf(stderr, "\r%-40.*s %5.1f %%", static_cast<int>(stage.size()), stage.data(), 100 * fraction);
  if (fraction >= 1) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

void PrintNotice(std::string_view message) {
  std::fprintf(stderr, "generate: %.*s\n", static_cast<int>(message.size()), message.data());
}

void AppendReportJson(std::string& out, const ValidationReport& report) {
  out += "{\"ok\":";
  out += report.ok() ? "true" : "false";
  out += ",\"features\":" + std::to_string(report.features);
  out += ",\"errors\":" + std::to_string(report.errors());
  out += ",\"warnings\":" + std::to_string(report.warnings());
  out += ",\"parse_seconds\":";
  AppendJsonNumber(out, report.parse_seconds);
  out += ",\"check_seconds\":";
  AppendJsonNumber(out, report.check_seconds);
  out += ",\"findings\":[";
  for (size_t i = 0; i < report.findings.size(); ++i) {
    const Finding& f = report.findings[i];
    if (i) out += ',';
    out += "{\"severity\":";
    out += f.severity == Severity::kError ? "\"error\"" : "\"warning\"";
    out += ",\"file\":";
    AppendJsonString(out, f.file);
    out += ",\"feature\":" + std::to_string(f.feature) + ",\"id\":";
    AppendJsonString(out, f.id);
    out += ",\"code\":";
    AppendJsonString(out, f.code);
    out += ",\"message\":";
    AppendJsonString(out, f.message);
    if (f.point) {
      out += ",\"area_km2\":";
      AppendJsonNumber(out, f.area_km2);
      out += ",\"point\":[";
      AppendJsonNumber(out, f.point->x);
      out += ',';
      AppendJsonNumber(out, f.point->y);
      out += ']';
    }
    out += '}';
  }
  out += "]}";
}

std::array<int64_t, kLevelCount> LevelCounts(const Dataset& ds) {
  std::array<int64_t, kLevelCount> c{};
  for (Level l : ds.levels) ++c[static_cast<int>(l)];
  return c;
}

void AppendGeometry(std::string& out, const index::MultiPolygon& mp) {
  out += mp.parts.size() == 1 ? "{\"type\":\"Polygon\",\"coordinates\":" : "{\"type\":\"MultiPolygon\",\"coordinates\":[";
  for (size_t p = 0; p < mp.parts.size(); ++p) {
    if (p) out += ',';
    out += '[';
    for (size_t r = 0; r < mp.parts[p].rings.size(); ++r) {
      const index::Ring& ring = mp.parts[p].rings[r];
      if (r) out += ',';
      out += '[';
      for (size_t i = 0; i <= ring.size(); ++i) {  // repeat the first vertex to close
        const index::Point& pt = ring[i % ring.size()];
        if (i) out += ',';
        out += '[';
        AppendJsonNumber(out, pt.x);
        out += ',';
        AppendJsonNumber(out, pt.y);
        out += ']';
      }
      out += ']';
    }
    out += ']';
  }
  out += mp.parts.size() == 1 ? "}" : "]}";
}

}  // namespace

void RegisterGenerate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "Generate a dataset: real county borders, generated grids inside");
  auto opts = std::make_shared<GenerateOptions>();
  opts->data_root = DefaultDataRoot();
  cmd->add_option("--city", opts->city, "Embedded dataset to build: jiangmen (one city) or guangdong (the province's 21 cities)")->capture_default_str();
  cmd->add_option("--cities", opts->cities, "Copies of the city, side by side, each with its own ids")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--seed", opts->seed, "Seed of every random choice")->capture_default_str();
  cmd->add_option("--out", opts->out_path, "Output file (.geojson, or .geojsonl for one feature per line)")
      ->required();
  cmd->add_option("--data-root", opts->data_root, "Folder with jiangmen/ and guangdong/ (docs/generator.md)")
      ->capture_default_str();
  cmd->add_option("--pixels-per-degree", opts->pixels_per_degree, "Raster resolution of the tessellation (a power of two, 64 to 16384)")
      ->capture_default_str();
  cmd->add_flag("!--no-inner-geometry", opts->inner_geometry, "Leave geometry off towns, communities and grids");
  cmd->callback([opts] {
    opts->progress = PrintProgress;
    opts->notice = PrintNotice;
    const auto t0 = std::chrono::steady_clock::now();
    Result<GenerateSummary> r = Generate(*opts);
    if (!r.ok()) Fail("", r.status().ToString());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const GenerateSummary& g = r.value();
    std::printf("wrote %s: %lld features, %lld leaves, %lld vertices, population %lld in %.2f s\n",
                opts->out_path.c_str(), static_cast<long long>(g.features), static_cast<long long>(g.leaves),
                static_cast<long long>(g.vertices), static_cast<long long>(g.population), s);
    for (int l = 0; l < kLevelCount; ++l)
      std::printf("  %-10s %lld\n", std::string(LevelName(static_cast<Level>(l))).c_str(),
                  static_cast<long long>(g.counts_per_level[l]));
  });
}

void RegisterValidate(CLI::App& app) {
  auto* cmd = app.add_subcommand("validate", "Load a dataset, check it and print a report (exit 1 on errors)");
  struct Args {
    std::string path;
    bool json = false;
    LoadOptions load;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_flag("--json", a->json, "Machine-readable report");
  cmd->add_option("--tolerance", a->load.coverage_tolerance, "Relative area tolerance of coverage checks")
      ->capture_default_str();
  cmd->add_option("--max-findings", a->load.max_findings, "List at most this many findings")->capture_default_str();
  cmd->callback([a] {
    a->load.lenient = CommandLoadOptions().lenient;
    LoadResult r = LoadDataset(a->path, a->load);
    if (a->json) {
      std::string out;
      AppendReportJson(out, r.report);
      std::cout << out << "\n";
    } else {
      for (const Finding& f : r.report.findings) std::cout << f.ToString() << "\n";
      std::cout << a->path << ": " << r.report.features << " features, " << r.report.errors() << " error(s), "
                << r.report.warnings() << " warning(s); parsed in " << r.report.parse_seconds << " s, checked in "
                << r.report.check_seconds << " s\n";
      if (r.dataset) {
        auto counts = LevelCounts(*r.dataset);
        for (int l = 0; l < kLevelCount; ++l)
          if (counts[l]) std::cout << "  " << LevelName(static_cast<Level>(l)) << ": " << counts[l] << "\n";
        std::cout << "  leaves: " << r.dataset->leaf_count() << "\n";
      }
      std::cout << (r.report.ok() ? "OK: the dataset can be served\n" : "FAILED: the dataset cannot be served\n");
    }
    if (!r.report.ok()) throw CLI::RuntimeError(1);
  });
}

void RegisterInfo(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Node counts per level, metric names and totals per root");
  struct Args {
    std::string path;
    bool json = false;
    EngineOptions engine;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_flag("--json", a->json, "JSON output");
  cmd->add_option("--index-max-cells", a->engine.index.max_cells,
                  "Cap on the lookup grid's cells, as for serve (docs/operations.md)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 31));
  cmd->callback([a] {
    auto engine = OpenOrFail("", a->path, a->engine);
    auto view = engine->Read();
    const Dataset& ds = view->dataset();
    const auto counts = LevelCounts(ds);
    std::vector<int64_t> totals(ds.metric_count(), 0);
    std::vector<int32_t> roots;
    for (size_t k = 0; k < ds.node_count(); ++k)
      if (ds.parents[k] < 0) roots.push_back(static_cast<int32_t>(k));
    for (int32_t r : roots)
      for (size_t m = 0; m < ds.metric_count(); ++m) totals[m] += view->Metric(NodeId(r), static_cast<int>(m));
    if (a->json) {
      std::string out = "{\"source\":";
      AppendJsonString(out, ds.source);
      out += ",\"nodes\":" + std::to_string(ds.node_count()) + ",\"leaves\":" + std::to_string(ds.leaf_count());
      out += ",\"levels\":{";
      for (int l = 0; l < kLevelCount; ++l) {
        if (l) out += ',';
        AppendJsonString(out, LevelName(static_cast<Level>(l)));
        out += ':' + std::to_string(counts[l]);
      }
      out += "},\"metrics\":[";
      for (size_t m = 0; m < ds.metric_count(); ++m) {
        if (m) out += ',';
        AppendJsonString(out, ds.metric_names[m]);
      }
      out += "],\"totals\":{";
      for (size_t m = 0; m < ds.metric_count(); ++m) {
        if (m) out += ',';
        AppendJsonString(out, ds.metric_names[m]);
        out += ':' + std::to_string(totals[m]);
      }
      const index::IndexStats is = view->spatial_index().stats();
      out += "},\"index\":{\"edges\":" + std::to_string(is.edges) + ",\"grid_cells\":" + std::to_string(is.grid_cells) +
             ",\"mixed_cells\":" + std::to_string(is.grid_mixed_cells) +
             ",\"memory_bytes\":" + std::to_string(is.memory_bytes);
      out += "},\"roots\":[";
      for (size_t i = 0; i < roots.size(); ++i) {
        if (i) out += ',';
        out += "{\"id\":";
        AppendJsonString(out, ds.ids[roots[i]]);
        out += ",\"name\":";
        AppendJsonString(out, ds.names[roots[i]]);
        out += ",\"totals\":{";
        for (size_t m = 0; m < ds.metric_count(); ++m) {
          if (m) out += ',';
          AppendJsonString(out, ds.metric_names[m]);
          out += ':' + std::to_string(view->Metric(NodeId(roots[i]), static_cast<int>(m)));
        }
        out += "}}";
      }
      out += "]}";
      std::cout << out << "\n";
      return;
    }
    std::cout << ds.source << ": " << ds.node_count() << " nodes, " << ds.leaf_count() << " leaves\n";
    for (int l = 0; l < kLevelCount; ++l)
      std::cout << "  " << LevelName(static_cast<Level>(l)) << ": " << counts[l] << "\n";
    std::cout << "metrics:";
    for (const auto& m : ds.metric_names) std::cout << " " << m;
    std::cout << "\n";
    const index::IndexStats is = view->spatial_index().stats();
    std::cout << "index: " << is.edges << " leaf edges, " << is.grid_cells << " grid cells (" << is.grid_mixed_cells
              << " mixed), " << is.memory_bytes / (1024 * 1024) << " MiB\n";
    for (int32_t r : roots) {
      std::cout << "root " << ds.ids[r] << " " << ds.names[r] << ":";
      for (size_t m = 0; m < ds.metric_count(); ++m)
        std::cout << " " << ds.metric_names[m] << "=" << view->Metric(NodeId(r), static_cast<int>(m));
      std::cout << "\n";
    }
  });
}

void RegisterExport(CLI::App& app) {
  auto* cmd = app.add_subcommand("export", "Write the nodes of one level as a GeoJSON FeatureCollection");
  struct Args {
    std::string path, level, out;
    bool flat = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_option("--level", a->level, "city, county, town, community, grid, micro_grid, or leaf")->required();
  cmd->add_option("--out", a->out, "Output file (default: standard output)");
  cmd->add_flag("--flat", a->flat,
                "For GIS tools: each metric its own property, plus area_km2 (not the dataset format)");
  cmd->callback([a] {
    std::optional<Level> level = ParseLevel(a->level);
    if (!level && a->level != "leaf") Fail("", "--level: unknown level \"" + a->level + "\"");
    auto engine = OpenOrFail("", a->path);
    auto view = engine->Read();
    const Dataset& ds = view->dataset();
    if (a->flat)
      for (const std::string& m : ds.metric_names)
        if (m == "parent" || m == "level" || m == "name" || m == "kind" || m == "area_km2")
          Fail("", "--flat: the metric \"" + m + "\" has the name of a fixed property; export without --flat");
    std::ofstream file;
    if (!a->out.empty()) {
      file.open(a->out, std::ios::binary);
      if (!file) Fail("", "cannot write " + a->out);
    }
    std::ostream& os = a->out.empty() ? std::cout : file;
    os << "{\"type\":\"FeatureCollection\",\"features\":[\n";
    bool first = true;
    std::string line;
    for (size_t k = 0; k < ds.node_count(); ++k) {
      const int32_t leaf = ds.leaf_of_node[k];
      if (level ? ds.levels[k] != *level : leaf < 0) continue;
      line.clear();
      if (!first) line += ",\n";
      first = false;
      line += "{\"type\":\"Feature\",\"id\":";
      AppendJsonString(line, ds.ids[k]);
      line += ",\"properties\":{\"parent\":";
      if (ds.parents[k] < 0) line += "null";
      else AppendJsonString(line, ds.ids[ds.parents[k]]);
      line += ",\"level\":";
      AppendJsonString(line, LevelName(ds.levels[k]));
      line += ",\"name\":";
      AppendJsonString(line, ds.names[k]);
      if (!ds.kinds[k].empty()) {
        line += ",\"kind\":";
        AppendJsonString(line, ds.kinds[k]);
      }
      const NodeId node(static_cast<int32_t>(k));
      if (a->flat) {
        // One typed column per metric in GDAL and QGIS (a nested object
        // would be one JSON string column).
        for (size_t m = 0; m < ds.metric_count(); ++m) {
          line += ',';
          AppendJsonString(line, ds.metric_names[m]);
          line += ':' + std::to_string(view->Metric(node, static_cast<int>(m)));
        }
        line += ",\"area_km2\":";
        AppendJsonNumber(line, view->AreaKm2(node));
        line += "},\"geometry\":";
      } else {
        line += ",\"metrics\":{";
        for (size_t m = 0; m < ds.metric_count(); ++m) {
          if (m) line += ',';
          AppendJsonString(line, ds.metric_names[m]);
          line += ':' + std::to_string(view->Metric(node, static_cast<int>(m)));
        }
        line += "}},\"geometry\":";
      }
      if (leaf >= 0) AppendGeometry(line, view->spatial_index().polygon(leaf));
      else if (!ds.inner_geometry.empty(k)) AppendGeometry(line, ds.inner_geometry.Get(k));
      else line += "null";
      line += '}';
      os << line;
    }
    os << "\n]}\n";
  });
}

void RegisterImage(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "image", "Write an engine image of a dataset: mapped at open, nothing parsed or built (docs/image.md)");
  cmd->alias("snapshot");  // its first name: scripts still call it that
  struct Args {
    std::string path, out;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file (GeoJSON, or an engine image to rewrite)")->required();
  cmd->add_option("--out", a->out, "Engine image to write (e.g. jiangmen.gtimg)")->required();
  cmd->callback([a] {
    using Clock = std::chrono::steady_clock;
    LoadResult r = LoadDataset(a->path, CommandLoadOptions());
    if (!r.dataset) Fail("", a->path + ": " + std::to_string(r.report.errors()) + " error(s); run gridtree validate");
    const size_t nodes = r.dataset->node_count(), leaves = r.dataset->leaf_count();
    const auto t0 = Clock::now();
    auto engine = Engine::Create(std::move(*r.dataset));
    if (!engine.ok()) Fail("", engine.status().message());
    const auto t1 = Clock::now();
    if (Status s = WriteEngineImage(*engine.value()->Read(), a->out); !s.ok()) Fail("", s.message());
    const auto t2 = Clock::now();
    std::printf("wrote %s: %zu nodes, %zu leaves (parsed in %.3f s, checked in %.3f s, index built in %.3f s, "
                "written in %.3f s)\n",
                a->out.c_str(), nodes, leaves, r.report.parse_seconds, r.report.check_seconds,
                std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count());
  });
}

}  // namespace gridtree::cli

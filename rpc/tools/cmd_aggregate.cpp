// gridtree aggregate | top | update
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "batch_json.h"
#include "commands.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/region.h"
#include "gridtree/engine/read_file.h"
#include "gridtree/rpc/answer_json.h"

namespace gridtree::cli {

void RegisterAggregate(CLI::App& app) {
  auto* cmd = app.add_subcommand("aggregate", "Metrics of a node, or of a region (box, polygon, circle)");
  struct Args {
    std::string path, node, polygon, mode = "intersecting", group_by;
    std::vector<double> bbox, circle;  // CLI11 splits the commas and checks the numbers
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  auto* g = cmd->add_option_group("region", "exactly one of");
  g->add_option("--node", a->node, "A node id: its rolled-up metrics");
  g->add_option("--bbox", a->bbox, "W,S,E,N in degrees")->delimiter(',')->expected(4);
  g->add_option("--polygon", a->polygon, "File with a WKT (MULTI)POLYGON or a GeoJSON (Multi)Polygon");
  g->add_option("--circle", a->circle, "LON,LAT,METRES")->delimiter(',')->expected(3);
  g->require_option(1);
  cmd->add_option("--mode", a->mode, "contained, intersecting or area_weighted")->capture_default_str();
  cmd->add_option("--group-by", a->group_by, "One row per node of this level");
  cmd->add_flag("--json", a->json, "JSON output");
  cmd->callback([a] {
    auto engine = OpenOrFail("aggregate", a->path);
    auto view = engine->Read();
    const Dataset& ds = view->dataset();
    if (!a->node.empty()) {
      auto node = view->Find(a->node);
      if (!node) Fail("aggregate", "--node: unknown id \"" + a->node + "\"");
      const auto values = view->Aggregate(*node);
      if (a->json) {
        std::cout << rpc::NodeJson(*view, *node) << "\n";
      } else {
        std::cout << LevelName(view->level(*node)) << " " << a->node << " " << view->name(*node) << " ("
                  << view->AreaKm2(*node) << " km²)\n";
        for (size_t j = 0; j < values.size(); ++j) std::cout << "  " << ds.metric_names[j] << " " << values[j] << "\n";
      }
      return;
    }
    RegionQuery q;
    auto mode = ParseRegionMode(a->mode);
    if (!mode) Fail("aggregate", "--mode: expected contained, intersecting or area_weighted, got \"" + a->mode + "\"");
    q.mode = *mode;
    if (!a->group_by.empty()) {
      q.group_by = ParseLevel(a->group_by);
      if (!q.group_by) Fail("aggregate", "--group-by: unknown level \"" + a->group_by + "\"");
    }
    if (!a->bbox.empty()) {
      const auto& v = a->bbox;
      q.region = BoxRegion(v[0], v[1], v[2], v[3]);
    } else if (!a->circle.empty()) {
      const auto& v = a->circle;
      q.region = CircleRegion(v[0], v[1], v[2]);
    } else {
      auto read = ReadWholeFile(a->polygon);
      if (!read.ok()) Fail("aggregate", "--polygon: " + read.status().message());
      const std::string& text = read.value();
      const size_t first = text.find_first_not_of(" \t\r\n");
      auto region = first != std::string::npos && text[first] == '{' ? ParseRegionGeoJson(text) : ParseRegionWkt(text);
      if (!region.ok()) Fail("aggregate", a->polygon + ": " + region.status().message());
      q.region = std::move(region.value());
    }
    auto r = view->RegionAggregate(q);
    if (!r.ok()) Fail("aggregate", r.status().message());
    const bool integral = q.mode != RegionMode::kAreaWeighted;
    if (a->json) {
      std::cout << rpc::RegionJson(*view, r.value()) << "\n";
      return;
    }
    std::cout << RegionModeName(q.mode) << ": " << r.value().leaves << " leaves\n";
    for (const auto& row : r.value().rows) {
      std::printf("  %-18s %-30s", std::string(view->id(row.node)).c_str(), std::string(view->name(row.node)).c_str());
      for (size_t j = 0; j < row.values.size(); ++j) std::printf(" %s=%.*f", ds.metric_names[j].c_str(), integral ? 0 : 2, row.values[j]);
      std::printf("\n");
    }
    std::printf("total:");
    for (size_t j = 0; j < r.value().total.size(); ++j)
      std::printf(" %s=%.*f", ds.metric_names[j].c_str(), integral ? 0 : 2, r.value().total[j]);
    std::printf("\n");
  });
}

void RegisterTop(CLI::App& app) {
  auto* cmd = app.add_subcommand("top", "The k nodes of a level with the most of a metric (or per km²)");
  struct Args {
    std::string path, level, metric, within;
    size_t k = 10;
    bool density = false, json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_option("--level", a->level, "Level to rank")->required();
  cmd->add_option("--metric", a->metric, "Metric to rank by")->required();
  cmd->add_option("-k", a->k, "How many")->capture_default_str();
  cmd->add_option("--within", a->within, "Only inside this node's subtree");
  cmd->add_flag("--density", a->density, "Rank by metric per km² (ellipsoidal area)");
  cmd->add_flag("--json", a->json, "JSON output");
  cmd->callback([a] {
    auto engine = OpenOrFail("top", a->path);
    auto view = engine->Read();
    TopKQuery q;
    auto level = ParseLevel(a->level);
    if (!level) Fail("top", "--level: unknown level \"" + a->level + "\"");
    q.level = *level;
    auto metric = view->dataset().MetricIndex(a->metric);
    if (!metric) Fail("top", "--metric: unknown metric \"" + a->metric + "\"");
    q.metric = *metric;
    q.k = a->k;
    q.density = a->density;
    if (!a->within.empty()) {
      auto w = view->Find(a->within);
      if (!w) Fail("top", "--within: unknown id \"" + a->within + "\"");
      q.within = *w;
    }
    const auto ranked = view->TopK(q);
    if (!ranked.ok()) Fail("top", ranked.status().message());
    const std::vector<TopEntry>& top = ranked->entries;
    if (a->json) {
      std::cout << rpc::TopKJson(*view, ranked.value(), a->metric, q.density) << "\n";
      return;
    }
    for (size_t i = 0; i < top.size(); ++i) {
      if (q.density)
        std::printf("%3zu  %-18s %-30s %.2f per km2 (%lld)\n", i + 1, std::string(view->id(top[i].node)).c_str(),
                    std::string(view->name(top[i].node)).c_str(), top[i].density, static_cast<long long>(top[i].value));
      else
        std::printf("%3zu  %-18s %-30s %lld\n", i + 1, std::string(view->id(top[i].node)).c_str(),
                    std::string(view->name(top[i].node)).c_str(), static_cast<long long>(top[i].value));
    }
  });
}

void RegisterUpdate(CLI::App& app) {
  auto* cmd = app.add_subcommand("update", "Apply a batch of metric updates durably (write-ahead log in --data-dir)");
  struct Args {
    std::string path, data_dir, file;
    bool checkpoint = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_option("--data-dir", a->data_dir, "Folder of the write-ahead log and checkpoints")->required();
  cmd->add_option("--file", a->file, "BATCH.json: {\"updates\":[{\"leaf\":ID,\"metric\":M,\"op\":\"set\"|\"add\",\"value\":N}]}")
      ->required();
  cmd->add_flag("--checkpoint", a->checkpoint, "Write a checkpoint and trim the log afterwards");
  cmd->callback([a] {
    auto batch = ReadBatchJson(a->file);
    if (!batch.ok()) Fail("update", batch.status().message());
    EngineOptions o;
    o.data_dir = a->data_dir;
    o.threads = 1;
    auto engine = OpenOrFail("update", a->path, o);
    if (!engine->recovery_report().empty()) std::cerr << "recovery: " << engine->recovery_report() << "\n";
    auto v = engine->Apply(batch.value());
    if (!v.ok()) Fail("update", a->file + ": " + v.status().message());
    if (a->checkpoint)
      if (Status s = engine->Checkpoint(); !s.ok()) Fail("update", s.message());
    std::cout << "applied " << batch.value().updates.size() << " update(s): version " << v.value() << "\n";
  });
}

void RegisterRecover(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "recover", "Repair a data directory whose write-ahead log is corrupt: keep batches up to a version, drop the rest");
  struct Args {
    std::string data_dir;
    uint64_t discard_after = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--data-dir", a->data_dir, "Folder of the write-ahead log and checkpoints")->required();
  cmd->add_option("--discard-after", a->discard_after,
                  "Keep logged batches up to this version; drop every later one (the original log is kept as "
                  "wal.log.before-recover-<time>)")
      ->required();
  cmd->callback([a] {
    auto done = RecoverDataDir(a->data_dir, a->discard_after);
    if (!done.ok()) Fail("recover", done.status().message());
    std::cout << done.value() << "\n";
  });
}

}  // namespace gridtree::cli

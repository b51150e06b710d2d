// gridtree_replay: replays a workload file (docs/workloads.md) against a
// dataset in process, on N threads sharing one Engine, and prints the
// summary (throughput, latency percentiles per kind, answer checksum);
// --report writes the JSON report.
//
//   gridtree_replay --dataset data/generated/jiangmen.gtds
//       --workload bench/workloads/jiangmen-mixed.json --threads 2 --report out.json
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <thread>

#include "replay/run_local.h"

int main(int argc, char** argv) {
  using namespace gridtree;
  std::string dataset, workload_path, report_path;
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int engine_threads = 0;
  index::PolygonIndexOptions index_options;
  bool json = false, quiet = false;
  CLI::App app{"gridtree_replay: replay a workload file in process"};
  app.add_option("--dataset", dataset, "Dataset (.geojson, .geojsonl or .gtds snapshot)")->required();
  app.add_option("--workload", workload_path, "Workload file (JSON)")->required();
  app.add_option("--threads", threads, "Threads issuing requests")->capture_default_str();
  app.add_option("--engine-threads", engine_threads, "Engine worker threads (0: one per core)")->capture_default_str();
  app.add_option("--index-max-cells", index_options.max_cells, "Cap on the lookup grid's cells (PolygonIndexOptions)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 31));
  app.add_option("--index-cells-per-edge", index_options.cells_per_edge, "Lookup grid cells per edge (PolygonIndexOptions)")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 64.0));
  app.add_option("--report", report_path, "Write the JSON report to this file");
  app.add_flag("--json", json, "Print the JSON report instead of the summary");
  app.add_flag("--quiet", quiet, "No progress lines on stderr");
  CLI11_PARSE(app, argc, argv);
  if (threads < 1) {
    std::cerr << "--threads: must be >= 1\n";
    return 2;
  }

  auto workload = replay::LoadWorkload(workload_path);
  if (!workload.ok()) {
    std::cerr << workload.status().message() << "\n";
    return 2;
  }
  const auto t0 = std::chrono::steady_clock::now();
  EngineOptions eo;
  eo.threads = engine_threads;
  eo.index = index_options;
  auto engine = Engine::Open(dataset, eo);
  if (!engine.ok()) {
    std::cerr << engine.status().ToString() << "\n";
    return 1;
  }
  if (!quiet)
    std::cerr << "loaded " << dataset << " in "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s\n";

  replay::LocalOptions lo;
  lo.threads = threads;
  lo.progress = !quiet;
  replay::ReplayResult r = replay::ReplayInProcess(**engine, *workload, lo);
  const std::string report = replay::JsonReport(*workload, r.run, r.tally);
  if (!report_path.empty()) {
    std::ofstream out(report_path);
    if (!(out << report)) {
      std::cerr << report_path << ": cannot write the report\n";
      return 1;
    }
  }
  if (json) std::fputs(report.c_str(), stdout);
  else replay::PrintSummary(stdout, *workload, r.run, r.tally);
  return r.tally.errors() ? 1 : 0;
}

// What a replay measured: per-kind tallies kept per thread while running,
// merged at the end, and turned into a JSON report and a one-screen summary
// (fields in docs/workloads.md).
//
// Thread safety: a Tally belongs to one thread; merge after the threads end.
#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "replay/workload.h"

namespace gridtree::replay {

struct KindTally {
  std::vector<double> latency_us;  // one per answered request
  uint64_t requests = 0;           // answered or failed
  uint64_t errors = 0;
  uint64_t points = 0;             // points located (locate kinds)
  uint64_t checksum = 0;           // sum of the request hashes, errors included
};

struct Tally {
  std::array<KindTally, kKindCount> kinds;
  // Space for the latencies this thread should see, so the hot loop does
  // not grow vectors.
  void Reserve(const Workload& workload, uint64_t requests_for_this_thread);
  void Merge(Tally&& other);
  uint64_t checksum() const;
  uint64_t requests() const;
  uint64_t errors() const;
};

// Where and how the run happened; goes into the report as given.
struct RunInfo {
  std::string tool;      // "gridtree_replay" / "gridtree_rpc_load"
  std::string target;    // "in_process" or "rpc:HOST:PORT"
  std::string dataset;   // the dataset's source file as the engine reports it
  uint64_t fingerprint = 0;
  uint64_t metric_version = 0;
  int threads = 0;       // threads (in process) or connections (RPC)
  int depth = 1;         // calls in flight per connection (1 in process)
  double seconds = 0;
};

struct Latency {
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
// Nearest-rank percentiles; sorts the samples.
Latency Summarise(std::vector<double>& samples_us);

std::string HexChecksum(uint64_t v);  // "0x" and 16 hex digits

// The JSON report (one object, trailing newline). Sorts the latencies.
std::string JsonReport(const Workload& workload, const RunInfo& run, Tally& tally);
// The summary table. Sorts the latencies.
void PrintSummary(std::FILE* out, const Workload& workload, const RunInfo& run, Tally& tally);

}  // namespace gridtree::replay

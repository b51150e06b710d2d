// Percentiles, the JSON report and the summary table of a replay.
#include "replay/report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <numeric>

#include "gridtree/engine/json_text.h"
#include "replay/checksum.h"

namespace gridtree::replay {
namespace {

std::string JsonString(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? static_cast<double>(n) / seconds : 0; }

}  // namespace

void Tally::Reserve(const Workload& w, uint64_t requests_for_this_thread) {
  for (int k = 0; k < kKindCount; ++k)
    kinds[k].latency_us.reserve(static_cast<size_t>(w.mix[k] * static_cast<double>(requests_for_this_thread) * 1.1) + 16);
}

void Tally::Merge(Tally&& other) {
  for (int k = 0; k < kKindCount; ++k) {
    KindTally& a = kinds[k];
    KindTally& b = other.kinds[k];
    a.latency_us.insert(a.latency_us.end(), b.latency_us.begin(), b.latency_us.end());
    a.requests += b.requests;
    a.errors += b.errors;
    a.points += b.points;
    a.checksum += b.checksum;  // modulo 2^64, as defined
  }
}

uint64_t Tally::checksum() const {
  uint64_t sum = 0;
  for (const KindTally& k : kinds) sum += k.checksum;
  return sum;
}
uint64_t Tally::requests() const {
  uint64_t n = 0;
  for (const KindTally& k : kinds) n += k.requests;
  return n;
}
uint64_t Tally::errors() const {
  uint64_t n = 0;
  for (const KindTally& k : kinds) n += k.errors;
  return n;
}

Latency Summarise(std::vector<double>& v) {
  Latency l;
  if (v.empty()) return l;
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest sample with at least p % of samples <= it.
  auto rank = [&v](double p) {
    // The epsilon keeps 99.9 % of 1000 at rank 999: 0.999 * 1000 is a hair above 999 in binary.
    const double r = std::ceil(p / 100.0 * static_cast<double>(v.size()) - 1e-9);
    return v[std::clamp<size_t>(static_cast<size_t>(r), 1, v.size()) - 1];
  };
  l.p50 = rank(50);
  l.p90 = rank(90);
  l.p99 = rank(99);
  l.p999 = rank(99.9);
  l.max = v.back();
  l.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return l;
}

std::string HexChecksum(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016" PRIx64, v);
  return buf;
}

std::string JsonReport(const Workload& w, const RunInfo& run, Tally& tally) {
  uint64_t points = 0;
  for (const KindTally& k : tally.kinds) points += k.points;
  std::string o = "{";
  o += "\"tool\":" + JsonString(run.tool);
  o += ",\"workload\":{\"path\":" + JsonString(w.path) + ",\"name\":" + JsonString(w.name) +
       ",\"requests\":" + std::to_string(w.requests) + ",\"seed\":" + std::to_string(w.seed) +
       ",\"batch_size\":" + std::to_string(w.batch_size) + ",\"points\":" + std::to_string(w.point_count()) +
       ",\"regions\":" + std::to_string(w.regions.size()) + ",\"mix\":{";
  for (int k = 0; k < kKindCount; ++k)
    o += std::string(k ? "," : "") + JsonString(KindName(static_cast<Kind>(k))) + ":" + Num(w.mix[k]);
  o += "}}";
  o += ",\"target\":" + JsonString(run.target) + ",\"dataset\":" + JsonString(run.dataset) +
       ",\"fingerprint\":" + JsonString(HexChecksum(run.fingerprint)) +
       ",\"metric_version\":" + std::to_string(run.metric_version) + ",\"threads\":" + std::to_string(run.threads) +
       ",\"depth\":" + std::to_string(run.depth) + ",\"seconds\":" + Num(run.seconds) +
       ",\"requests\":" + std::to_string(tally.requests()) + ",\"errors\":" + std::to_string(tally.errors()) +
       ",\"requests_per_s\":" + Num(PerSecond(tally.requests(), run.seconds)) +
       ",\"points_per_s\":" + Num(PerSecond(points, run.seconds)) +
       ",\"checksum\":" + JsonString(HexChecksum(tally.checksum())) + ",\"checksum_precision\":1e-6" +
       ",\"kinds\":[";
  bool first = true;
  for (int k = 0; k < kKindCount; ++k) {
    KindTally& t = tally.kinds[k];
    if (t.requests == 0) continue;
    const Latency l = Summarise(t.latency_us);
    o += std::string(first ? "" : ",") + "{\"kind\":" + JsonString(KindName(static_cast<Kind>(k))) +
         ",\"requests\":" + std::to_string(t.requests) + ",\"errors\":" + std::to_string(t.errors) +
         ",\"points\":" + std::to_string(t.points) + ",\"requests_per_s\":" + Num(PerSecond(t.requests, run.seconds)) +
         ",\"checksum\":" + JsonString(HexChecksum(t.checksum)) + ",\"latency_us\":{\"p50\":" + Num(l.p50) +
         ",\"p90\":" + Num(l.p90) + ",\"p99\":" + Num(l.p99) + ",\"p99_9\":" + Num(l.p999) + ",\"max\":" + Num(l.max) +
         ",\"mean\":" + Num(l.mean) + "}}";
    first = false;
  }
  return o + "]}\n";
}

void PrintSummary(std::FILE* out, const Workload& w, const RunInfo& run, Tally& tally) {
  std::fprintf(out, "workload %s: %" PRIu64 " requests, seed %" PRIu64 ", batch %u\n", w.name.c_str(), w.requests,
               w.seed, w.batch_size);
  std::fprintf(out, "target %s, %d %s x depth %d, %.2f s\n", run.target.c_str(), run.threads,
               run.target == "in_process" ? "threads" : "connections", run.depth, run.seconds);
  std::fprintf(out, "dataset %s (fingerprint %s, metric version %" PRIu64 ")\n", run.dataset.c_str(),
               HexChecksum(run.fingerprint).c_str(), run.metric_version);
  std::fprintf(out, "%-13s %9s %7s %10s %9s %9s %9s %9s %9s\n", "kind", "requests", "errors", "req/s", "p50 us",
               "p90 us", "p99 us", "p99.9 us", "max us");
  uint64_t points = 0;
  for (int k = 0; k < kKindCount; ++k) {
    KindTally& t = tally.kinds[k];
    points += t.points;
    if (t.requests == 0) continue;
    const Latency l = Summarise(t.latency_us);
    std::fprintf(out, "%-13s %9" PRIu64 " %7" PRIu64 " %10.1f %9.1f %9.1f %9.1f %9.1f %9.1f\n",
                 KindName(static_cast<Kind>(k)), t.requests, t.errors, PerSecond(t.requests, run.seconds), l.p50,
                 l.p90, l.p99, l.p999, l.max);
  }
  std::fprintf(out, "%-13s %9" PRIu64 " %7" PRIu64 " %10.1f\n", "all", tally.requests(), tally.errors(),
               PerSecond(tally.requests(), run.seconds));
  std::fprintf(out, "points located: %.1f /s\n", PerSecond(points, run.seconds));
  std::fprintf(out, "checksum %s", HexChecksum(tally.checksum()).c_str());
  for (int k = 0; k < kKindCount; ++k)
    if (tally.kinds[k].requests)
      std::fprintf(out, " %s=%s", KindName(static_cast<Kind>(k)), HexChecksum(tally.kinds[k].checksum).c_str());
  std::fprintf(out, "\n");
  if (tally.errors())
    std::fprintf(out, "warning: %" PRIu64 " requests failed; their error hashes are in the checksum\n",
                 tally.errors());
}

}  // namespace gridtree::replay

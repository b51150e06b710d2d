// Workload files: a points set, a list of regions and a mix of query kinds,
// read from JSON (docs/workloads.md), and the request sequence they define.
//
// The sequence is a pure function of the file: request i is derived from
// (seed, i) alone (RequestAt), so any number of threads or connections, in
// any order, replays the same requests.
//
// Thread safety: a Workload is immutable once loaded; const access from any
// number of threads is safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/status.h"

namespace gridtree::replay {

enum class Kind : uint8_t { kLocate = 0, kLocateBatch, kAggregate };
inline constexpr int kKindCount = 3;
const char* KindName(Kind kind);  // "locate", "locate_batch", "aggregate"

struct WorkloadRegion {
  RegionQuery query;  // region, mode and group-by, ready for View::RegionAggregate
  // How the region was written, so a client can send it the same way: WKT
  // and GeoJSON travel as text and are parsed by the server's own parser.
  enum class Source { kBox, kCircle, kWkt, kGeoJson } source = Source::kBox;
  std::string text;  // kWkt / kGeoJson: the text as given
};

struct Workload {
  std::string path;  // the file it was read from ("" when parsed from text)
  std::string name;  // "name" field, else the file name
  // Points as columns (lon[i], lat[i]); every value finite.
  std::vector<double> lon, lat;
  std::vector<WorkloadRegion> regions;
  // Weights of each kind, normalised to sum 1; cumulative[k] is the sum of
  // weights up to and including kind k.
  std::array<double, kKindCount> mix{};
  std::array<double, kKindCount> cumulative{};
  // DEFAULT: 1000
  uint32_t batch_size = 1000;
  // DEFAULT: 10000
  uint64_t requests = 10000;
  // DEFAULT: 1
  uint64_t seed = 1;

  size_t point_count() const { return lon.size(); }
};

// One request of the sequence. kLocate: point `item`; kLocateBatch:
// batch_size points from `item` on, wrapping at the end of the points;
// kAggregate: region `item`.
struct Request {
  Kind kind = Kind::kLocate;
  uint64_t item = 0;
};
Request RequestAt(const Workload& workload, uint64_t index);

// Reads a workload file; relative point files are resolved against its
// folder. Errors name the file and the field ("w.json: mix.locate: ...").
Result<Workload> LoadWorkload(const std::string& path);
// The same from text; `name` stands for the file in messages and `base_dir`
// resolves relative paths.
Result<Workload> ParseWorkload(std::string_view json, const std::string& name, const std::string& base_dir);

// The splitmix64 finaliser: a bijection on 64 bits that scatters every
// input bit; the basis of request derivation, point generation and checksums.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace gridtree::replay

// gridtree locate: one point, or a file of points in parallel.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/json_text.h"
#include "gridtree/engine/read_file.h"

namespace gridtree::cli {
namespace {

// The points of a --points file: a .bin file is mapped and read in place
// (no copy of millions of points), a CSV file parsed into memory.
class PointsFile {
 public:
  explicit PointsFile(const std::string& path) {
    if (path.ends_with(".bin")) Map(path);
    else owned_ = ReadCsv(path), points_ = owned_;
  }
  ~PointsFile() {
    if (map_) ::munmap(map_, map_bytes_);
  }
  PointsFile(const PointsFile&) = delete;
  PointsFile& operator=(const PointsFile&) = delete;
  std::span<const index::Point> points() const { return points_; }

 private:
  // Raw little-endian float64 (lon, lat) pairs, as index::Point holds them.
  void Map(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) Fail("locate", "points file: " + path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    const auto bytes = static_cast<size_t>(st.st_size);
    if (bytes % sizeof(index::Point) != 0) {
      ::close(fd);
      Fail("locate", path + ": " + std::to_string(bytes) + " bytes is not a whole number of float64 (lon, lat) pairs");
    }
    if (bytes > 0) {
      map_ = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      if (map_ == MAP_FAILED) {
        map_ = nullptr;
        ::close(fd);
        Fail("locate", "points file: " + path + ": cannot map: " + std::strerror(errno));
      }
      map_bytes_ = bytes;
      points_ = std::span<const index::Point>(static_cast<const index::Point*>(map_), bytes / sizeof(index::Point));
    }
    ::close(fd);
  }
  static std::vector<index::Point> ReadCsv(const std::string& path);

  std::vector<index::Point> owned_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  std::span<const index::Point> points_;
};

// CSV "lon,lat" per line (a first line that is not numeric is a header).
std::vector<index::Point> PointsFile::ReadCsv(const std::string& path) {
  auto read = ReadWholeFile(path);
  if (!read.ok()) Fail("locate", "points file: " + read.status().message());
  const std::string& bytes = read.value();
  std::vector<index::Point> pts;
  std::istringstream in(bytes);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line == "\r") continue;
    char* end = nullptr;
    const double lon = std::strtod(line.c_str(), &end);
    const bool ok1 = end != line.c_str() && *end == ',';
    char* end2 = nullptr;
    const double lat = ok1 ? std::strtod(end + 1, &end2) : 0;
    const bool ok2 = ok1 && end2 != end + 1;
    if (!ok2) {
      if (line_no == 1 && pts.empty()) continue;  // header
      Fail("locate", path + ": line " + std::to_string(line_no) + ": expected \"lon,lat\", got \"" + line + "\"");
    }
    pts.push_back({lon, lat});
  }
  return pts;
}

void WriteLeaves(const std::string& path, const std::vector<int32_t>& leaves) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(leaves.data()), static_cast<std::streamsize>(leaves.size() * 4));
  if (!out) Fail("locate", "cannot write " + path);
}

// The throughput line on stderr.
void Summary(size_t points, double secs, int threads, size_t hits) {
  std::fprintf(stderr, "%zu points in %.3f s: %.1f M lookups/s (%d thread%s), %zu in a leaf\n", points, secs,
               secs > 0 ? points / secs / 1e6 : 0.0, threads, threads == 1 ? "" : "s", hits);
}

void AppendChainJson(std::string& out, const View& view, const LocateResult& r, index::Point p) {
  out += "{\"lon\":";
  AppendJsonNumber(out, p.x);
  out += ",\"lat\":";
  AppendJsonNumber(out, p.y);
  out += ",\"leaf\":";
  if (!r.hit()) {
    out += "null,\"chain\":[]}";
    return;
  }
  AppendJsonString(out, view.id(r.node));
  out += ",\"chain\":[";
  const Chain c = view.ChainOf(r.node);
  for (int i = 0; i < c.size; ++i) {
    if (i) out += ',';
    out += "{\"id\":";
    AppendJsonString(out, view.id(c.nodes[i]));
    out += ",\"level\":";
    AppendJsonString(out, LevelName(view.level(c.nodes[i])));
    out += ",\"name\":";
    AppendJsonString(out, view.name(c.nodes[i]));
    out += '}';
  }
  out += ']';
  if (r.snapped) {
    out += ",\"snapped_m\":";
    AppendJsonNumber(out, r.distance_m);
  }
  out += '}';
}

void AppendChainText(std::string& out, const View& view, const LocateResult& r, index::Point p) {
  AppendJsonNumber(out, p.x);
  out += ',';
  AppendJsonNumber(out, p.y);
  out += ',';
  if (!r.hit()) return;
  out += view.id(r.node);
  out += ',';
  const Chain c = view.ChainOf(r.node);
  for (int i = 0; i < c.size; ++i) {
    if (i) out += '/';
    out += view.id(c.nodes[i]);
  }
  if (r.snapped) out += ",snapped " + std::to_string(r.distance_m) + " m";
}

}  // namespace

void RegisterLocate(CLI::App& app) {
  auto* cmd = app.add_subcommand("locate", "Which leaf holds a point, with its chain of ancestors");
  struct Args {
    std::string path, points, out;
    std::vector<double> lonlat;
    bool json = false;
    int threads = 0;
    double max_distance_m = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("path", a->path, "Dataset file")->required();
  cmd->add_option("lonlat", a->lonlat, "LON LAT of one point")->expected(0, 2);
  cmd->add_option("--points", a->points, "CSV lon,lat per line, or raw float64 pairs (.bin)");
  cmd->add_option("--threads", a->threads, "Worker threads (0 = all)")->capture_default_str();
  cmd->add_option("--max-distance", a->max_distance_m, "Snap misses to the nearest leaf within this many metres")
      ->capture_default_str();
  cmd->add_option("--out", a->out, "Write leaf numbers as a binary int32 array instead of text");
  cmd->add_flag("--json", a->json, "JSON output (one object per line)");
  cmd->callback([a] {
    if (a->points.empty() && a->lonlat.size() != 2) Fail("locate", "give LON LAT or --points FILE");
    EngineOptions options;
    options.threads = a->threads;
    const std::unique_ptr<Engine> opened = OpenOrFail("locate", a->path, options);
    Engine& engine = *opened;
    LocateOptions lo;
    lo.max_distance_m = a->max_distance_m;
    auto view = engine.Read();
    if (a->points.empty()) {
      const index::Point p{a->lonlat[0], a->lonlat[1]};
      std::vector<LocateResult> r(1);
      if (Status s = view->LocateBatch(std::span(&p, 1), r, lo); !s.ok()) Fail("locate", s.message());
      std::string out;
      if (a->json) {
        AppendChainJson(out, *view, r[0], p);
        std::cout << out << "\n";
        return;
      }
      if (!r[0].hit()) {
        std::cout << "miss: (" << p.x << ", " << p.y << ") is in no leaf\n";
        throw CLI::RuntimeError(2);
      }
      const Chain c = view->ChainOf(r[0].node);
      for (int i = 0; i < c.size; ++i)
        std::printf("%-10s %-18s %s\n", std::string(LevelName(view->level(c.nodes[i]))).c_str(),
                    std::string(view->id(c.nodes[i])).c_str(), std::string(view->name(c.nodes[i])).c_str());
      if (r[0].snapped) std::printf("(snapped: %.1f m outside the leaf)\n", r[0].distance_m);
      return;
    }
    const PointsFile file(a->points);
    const std::span<const index::Point> pts = file.points();
    for (size_t i = 0; i < pts.size(); ++i)
      if (!std::isfinite(pts[i].x) || !std::isfinite(pts[i].y))
        Fail("locate", a->points + ": point " + std::to_string(i) + ": coordinates must be finite numbers");
    if (!a->out.empty() && lo.max_distance_m == 0) {
      // Leaf numbers only: the index writes them straight into the output,
      // with no LocateResult per point.
      std::vector<int32_t> leaves(pts.size());
      const index::PolygonIndex& idx = view->spatial_index();
      const auto t0 = std::chrono::steady_clock::now();
      engine.executor().For(pts.size(), 8192, [&](size_t b, size_t e) {
        for (size_t i = b; i < e; ++i) leaves[i] = idx.Locate(pts[i]);
      });
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      WriteLeaves(a->out, leaves);
      size_t hits = 0;
      for (int32_t l : leaves) hits += l >= 0;
      Summary(pts.size(), secs, engine.threads(), hits);
      return;
    }
    std::vector<LocateResult> results(pts.size());
    const auto t0 = std::chrono::steady_clock::now();
    Status s = view->LocateBatch(pts, results, lo);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok()) Fail("locate", a->points + ": " + s.message());
    if (!a->out.empty()) {
      std::vector<int32_t> leaves(results.size());
      for (size_t i = 0; i < results.size(); ++i) leaves[i] = results[i].leaf.value;
      WriteLeaves(a->out, leaves);
    } else {
      std::string buf;
      for (size_t i = 0; i < pts.size(); ++i) {
        if (a->json) AppendChainJson(buf, *view, results[i], pts[i]);
        else AppendChainText(buf, *view, results[i], pts[i]);
        buf += '\n';
        if (buf.size() > (1 << 20)) std::fwrite(buf.data(), 1, buf.size(), stdout), buf.clear();
      }
      std::fwrite(buf.data(), 1, buf.size(), stdout);
    }
    size_t hits = 0;
    for (const auto& r : results) hits += r.hit();
    Summary(pts.size(), secs, engine.threads(), hits);
  });
}

}  // namespace gridtree::cli

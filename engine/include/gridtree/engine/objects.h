// Moving objects (boats, grid staff, devices): where each one is now, how
// many of each kind are in every node (the metrics "objects.<kind>"), and
// enter/exit events per node. docs/objects.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gridtree/engine/ids.h"
#include "gridtree/engine/level.h"
#include "gridtree/engine/status.h"
#include "gridtree/index/geometry.h"

namespace gridtree {

struct ObjectOptions {
  // A report outside every leaf is moved to the nearest leaf within this
  // many metres (GPS noise along a coast). DEFAULT: 0 (no snapping)
  double snap_m = 0;
  // An object not heard from for this long is dropped, with exit events
  // marked expired (Engine::ExpireObjects; `gridtree serve` runs it every
  // second). DEFAULT: 0 (never)
  int64_t expire_after_s = 0;
  // Limits on one batch of reports; a batch past any of them is refused whole.
  // DEFAULT: 100000 reports, ids of at most 128 bytes, kinds of at most 32,
  // times at most 300 s ahead of the server's clock.
  size_t max_reports_per_batch = 100000;
  size_t max_id_bytes = 128;
  size_t max_kind_bytes = 32;
  int64_t max_future_s = 300;
  // Kinds of object at most (each is a metric of every node).
  // DEFAULT: 64
  size_t max_kinds = 64;
  // With a data directory: place the objects a clean shutdown saved
  // (Engine::SaveObjects) when the engine opens, and take the quiet period
  // after a crash. `gridtree serve` sets it; other programs that open the
  // data directory leave the saved objects alone. DEFAULT: false
  bool restore_saved = false;
};

// One position report.
struct ObjectReport {
  std::string id;    // non-empty, at most max_id_bytes
  std::string kind;  // non-empty, at most max_kind_bytes: "boat", "staff", ...
  double lon = 0, lat = 0;
  int64_t time = 0;  // unix seconds; 0: the time the batch arrives
};

// The checks one report must pass before a batch is applied (Engine::Track
// runs them on every report of a batch, `gridtree call track` on every line
// of a file before sending it): a non-empty id and kind of valid UTF-8
// within max_id_bytes and max_kind_bytes, a finite lon in [-180, 180] and lat
// in [-90, 90], a time neither negative nor more than max_future_s after
// `now` (unix seconds). The message names the field ("the id ...", "the
// kind ...", "the position ...", "the time ..."); the caller says which
// report. The kind limit (max_kinds) depends on the kinds tracked and is
// checked by Engine::Track only.
Status CheckObjectReport(const ObjectReport& report, const ObjectOptions& options, int64_t now);

struct TrackResult {
  size_t reports = 0;
  size_t outside = 0;         // reports in no leaf (counted per kind as "outside")
  size_t moved = 0;           // reports that changed the object's leaf or kind (new objects included)
  uint64_t objects_version = 0;  // the object state this batch made
};

// An object as it is now.
struct TrackedObject {
  std::string id, kind;
  double lon = 0, lat = 0;
  int64_t time = 0;
  std::string leaf_id;  // "" when outside every leaf
  double distance_m = 0;  // for Nearest: metres from the query point
};

// Which objects: in one node's subtree, a box or a circle; of one kind or all.
struct ObjectQuery {
  std::optional<std::string> node_id;
  std::optional<index::Box> box;
  std::optional<index::Point> center;  // with radius_m: a circle
  double radius_m = 0;
  std::string kind;  // "" for every kind
  size_t offset = 0;
  // DEFAULT: 1000
  size_t limit = 1000;
};

struct ObjectPage {
  std::vector<TrackedObject> objects;  // by id
  size_t total = 0;                    // matching objects, before offset and limit
  uint64_t objects_version = 0;
};

// An object entering or leaving a node: moving between two grids of one
// community exits one grid (and its micro-grid) and enters the other; the
// community and everything above it see nothing.
struct ObjectEvent {
  enum class Type { kEnter, kExit };
  Type type = Type::kEnter;
  std::string object_id, kind;
  std::string node_id;
  Level level = Level::kCity;
  bool expired = false;  // an exit because the object was not heard from in time
  int64_t time = 0;      // the report's time (the expiry's for an expired exit)
  double lon = 0, lat = 0;
};

// Which events a subscriber gets; an empty list means any. A node chosen
// means its own events and those of every node inside it (a county and
// level "grid": the grid events inside the county).
struct ObjectEventFilter {
  std::vector<std::string> node_ids;
  std::vector<Level> levels;
  std::vector<std::string> kinds;
};

// Per kind: how many objects are tracked and how many of them are outside
// every leaf.
struct ObjectKindCount {
  std::string kind;
  int64_t total = 0;
  int64_t outside = 0;
};

}  // namespace gridtree

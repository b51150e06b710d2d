// BuildDataset: checks the raw features and flattens them into a Dataset in
// depth-first pre-order. docs/dataset.md lists every finding, whether it is
// an error (the dataset cannot be served) or a warning, and why.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <mutex>
#include <unordered_map>

#include "load/coverage_checks.h"
#include "load/raw_feature.h"
#include "load/ring_checks.h"
#include "gridtree/engine/executor.h"

namespace gridtree::internal {
namespace {

std::string Quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// One feature's geometry findings, collected in parallel and merged in
// feature order so that reports are deterministic.
struct GeometryFindings {
  std::vector<std::tuple<Severity, std::string, std::string>> items;  // severity, code, message
  bool usable = true;
};

// Normalises rings in place: drops the closing vertex, removes repeats,
// fixes orientation, checks simplicity. strict: the feature is a leaf.
GeometryFindings NormaliseGeometry(index::MultiPolygon& mp, bool strict) {
  GeometryFindings out;
  const Severity hard = strict ? Severity::kError : Severity::kWarning;
  size_t not_closed = 0, repeated = 0, reoriented = 0, touching = 0;
  for (size_t p = 0; p < mp.parts.size(); ++p) {
    index::Polygon& part = mp.parts[p];
    if (part.rings.empty()) {
      out.items.emplace_back(hard, "empty-polygon", "part " + std::to_string(p) + " has no rings");
      out.usable = false;
      continue;
    }
    for (size_t r = 0; r < part.rings.size(); ++r) {
      index::Ring& ring = part.rings[r];
      const std::string where =
          (mp.parts.size() > 1 ? "part " + std::to_string(p) + " " : "") + "ring " + std::to_string(r);
      const size_t given = ring.size();
      const bool closed = given >= 2 && ring.front() == ring.back();
      if (closed) ring.pop_back();
      else ++not_closed;
      if ((closed ? given : given + 1) < 4) {
        out.items.emplace_back(hard, "ring-too-short",
                               where + " has " + std::to_string(given) + " positions; a closed ring needs at least 4");
        out.usable = false;
        continue;
      }
      repeated += RemoveRepeatedVertices(ring);
      const RingDefect defect = CheckRingSimple(ring);
      if (defect == RingDefect::kCrosses) {
        // A warning, not an error: published borders do this (Heshan), and
        // the even-odd rule still defines exactly what is inside.
        out.items.emplace_back(Severity::kWarning, "self-intersection",
                               where + " crosses itself; the even-odd rule decides what is inside");
      } else if (defect == RingDefect::kTouches) {
        ++touching;
      }
      const double area = index::SignedArea(ring);
      if (ring.size() < 3 || area == 0) {
        out.items.emplace_back(hard, "degenerate-ring", where + " encloses no area");
        out.usable = false;
        continue;
      }
      if ((r == 0) != (area > 0)) {
        std::reverse(ring.begin(), ring.end());
        ++reoriented;
      }
    }
  }
  if (not_closed)
    out.items.emplace_back(Severity::kWarning, "ring-not-closed",
                           std::to_string(not_closed) + " ring(s) not closed; closed them");
  if (repeated)
    out.items.emplace_back(Severity::kWarning, "repeated-vertex",
                           std::to_string(repeated) + " repeated consecutive vertices removed");
  if (reoriented)
    out.items.emplace_back(
        Severity::kWarning, "orientation",
        std::to_string(reoriented) + " ring(s) reversed (outer rings counter-clockwise, holes clockwise)");
  if (touching)
    out.items.emplace_back(
        Severity::kWarning, "self-touching",
        std::to_string(touching) +
            " ring(s) touch themselves at a point or along an edge; answers follow the even-odd rule");
  // Holes must lie inside their outer ring: test the first vertex of each.
  for (size_t p = 0; p < mp.parts.size() && out.usable; ++p) {
    const auto& rings = mp.parts[p].rings;
    for (size_t r = 1; r < rings.size(); ++r) {
      if (rings[r].empty() || rings[0].empty()) continue;
      const index::Point q = rings[r][0];
      bool inside = false;
      const auto& outer = rings[0];
      for (size_t i = 0, j = outer.size() - 1; i < outer.size(); j = i++) {
        if ((outer[i].y > q.y) != (outer[j].y > q.y) &&
            q.x < (outer[j].x - outer[i].x) * (q.y - outer[i].y) / (outer[j].y - outer[i].y) + outer[i].x)
          inside = !inside;
      }
      bool on_boundary = false;
      for (const auto& v : outer) on_boundary |= (v == q);
      if (!inside && !on_boundary) {
        out.items.emplace_back(
            hard, "hole-outside",
            "hole " + std::to_string(r) + " of part " + std::to_string(p) + " lies outside its outer ring");
        if (strict) out.usable = false;
      }
    }
  }
  return out;
}

uint64_t Fnv(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

// The geometry a node brings: a leaf's own, an inner node's when the file
// gives one; null when it has none.
const index::MultiPolygon* GeometryOf(const Dataset& ds, const std::vector<index::MultiPolygon>& inner, int32_t node) {
  if (const int32_t l = ds.leaf_of_node[node]; l >= 0) return &ds.leaf_geometry[l];
  return inner[node].parts.empty() ? nullptr : &inner[node];
}

std::string At(index::Point p) { return "[" + Fixed(p.x, 6) + ", " + Fixed(p.y, 6) + "]"; }

void CheckCoverage(const Dataset& ds, const std::vector<index::MultiPolygon>& inner,
                   const std::vector<RawFeature>& features, const std::vector<int32_t>& order,
                   const LoadOptions& options, FindingSink& sink) {
  const Severity hard = options.lenient ? Severity::kWarning : Severity::kError;
  const double share = options.coverage_tolerance;
  auto beyond = [&](double area, double of) { return area > share * of && area > options.min_defect_km2; };
  // Bounds may differ by rounding and by a generator's half-pixel border: about 100 m.
  const double slack = 1e-3;
  for (size_t k = 0; k < ds.node_count(); ++k) {
    if (inner[k].parts.empty()) continue;
    const index::MultiPolygon& own = inner[k];
    const index::Box own_box = index::BoundsOf(own);
    const double own_area = index::GeodesicAreaKm2(own);
    const double diff = ds.node_area_km2[k] - own_area;
    const int64_t feature = features[order[k]].index;
    std::vector<int32_t> kids;
    std::vector<const index::MultiPolygon*> geometry;
    for (int32_t i = ds.child_begin[k]; i < ds.child_begin[k + 1]; ++i) {
      kids.push_back(ds.children[i].value);
      geometry.push_back(GeometryOf(ds, inner, kids.back()));
    }
    const bool exact = std::all_of(geometry.begin(), geometry.end(), [](auto* g) { return g != nullptr; });
    bool excess_named = false, gap_named = false;
    // Siblings that overlap: every pair whose boxes meet.
    if (exact && own_area > 0 && (diff > share * own_area || options.check_sibling_overlaps)) {
      for (size_t a = 0; a < kids.size(); ++a)
        for (size_t b = a + 1; b < kids.size(); ++b) {
          if (!ds.node_bounds[kids[a]].Intersects(ds.node_bounds[kids[b]])) continue;
          const auto o = Overlap(*geometry[a], *geometry[b]);
          if (!o || !beyond(o->area_km2, own_area)) continue;
          excess_named = true;
          sink.AddArea(hard, features[order[kids[a]]].index, ds.ids[kids[a]], "overlapping-siblings",
                       "overlaps its sibling " + Quote(ds.ids[kids[b]]) + " by " + Fixed(o->area_km2, 4) + " km² (" +
                           Fixed(100 * o->area_km2 / own_area, 2) + " % of " + Quote(ds.ids[k]) + "), e.g. at " +
                           At(o->point) + "; the point belongs to both",
                       o->area_km2, o->point);
        }
    }
    // Children reaching outside their parent.
    for (size_t c = 0; c < kids.size(); ++c) {
      const index::Box& b = ds.node_bounds[kids[c]];
      const bool out_of_bounds = b.min_x < own_box.min_x - slack || b.min_y < own_box.min_y - slack ||
                                 b.max_x > own_box.max_x + slack || b.max_y > own_box.max_y + slack;
      if (!out_of_bounds && !(exact && diff > share * own_area)) continue;
      const int64_t child_feature = features[order[kids[c]]].index;
      const auto out = geometry[c] ? Outside(*geometry[c], own) : std::nullopt;
      if (out && beyond(out->area_km2, ds.node_area_km2[kids[c]])) {
        excess_named = true;
        sink.AddArea(hard, child_feature, ds.ids[kids[c]], "outside-parent",
                     Fixed(out->area_km2, 4) + " km² (" + Fixed(100 * out->area_km2 / ds.node_area_km2[kids[c]], 2) +
                         " % of it) lies outside its parent " + Quote(ds.ids[k]) + ", e.g. at " + At(out->point),
                     out->area_km2, out->point);
      } else if (out_of_bounds) {
        sink.Warning(child_feature, ds.ids[kids[c]], "outside-parent",
                     "reaches outside the bounds of its parent " + Quote(ds.ids[k]));
      }
    }
    // A part of the parent in no child.
    if (exact && own_area > 0 && -diff > share * own_area) {
      if (const auto gap = Uncovered(own, geometry); gap && beyond(gap->area_km2, own_area)) {
        gap_named = true;
        sink.AddArea(hard, feature, ds.ids[k], "coverage-gap",
                     "children leave " + Fixed(gap->area_km2, 4) + " km² (" + Fixed(100 * gap->area_km2 / own_area, 2) +
                         " %) of the node's own geometry uncovered, e.g. at " + At(gap->point) +
                         "; a point there is answered by no leaf",
                     gap->area_km2, gap->point);
      }
    }
    // Where the exact checks could not run (a child without geometry) or
    // found nothing to name, the sums of areas still say something is off.
    if (own_area > 0 && std::abs(diff) > share * own_area) {
      if (diff > 0 && !excess_named)
        sink.Warning(feature, ds.ids[k], "children-exceed-parent",
                     "children cover " + Fixed(diff, 3) + " km² (" + Fixed(100 * diff / own_area, 2) +
                         " %) more than the node's own geometry: overlapping children or children reaching outside");
      else if (diff < 0 && !gap_named)
        sink.Warning(feature, ds.ids[k], "coverage-gap",
                     "children leave " + Fixed(-diff, 3) + " km² (" + Fixed(-100 * diff / own_area, 2) +
                         " %) of the node's own geometry uncovered");
    }
  }
}

// What the phases of BuildDataset share: the features' links, in feature
// order until Flatten numbers the nodes in depth-first pre-order.
struct Links {
  std::unordered_map<std::string, int32_t> by_id;
  std::vector<std::optional<Level>> level;
  std::vector<int32_t> parent;
  std::vector<std::vector<int32_t>> kids;
  std::vector<int32_t> roots;
  std::vector<int32_t> order;  // features in depth-first pre-order: node k is feature order[k]
  std::vector<char> is_leaf;
  std::vector<int32_t> node_of;  // feature -> node number
};

// 1. Ids, levels, names.
void ReadIdsAndLevels(std::vector<RawFeature>& features, Links& links, FindingSink& sink) {
  const size_t n = features.size();
  std::unordered_map<std::string, int32_t>& by_id = links.by_id;
  by_id.reserve(n * 2);
  std::vector<std::optional<Level>>& level = links.level;
  level.resize(n);
  for (size_t i = 0; i < n; ++i) {
    RawFeature& f = features[i];
    if (!f.has_id) {
      sink.Error(f.index, "", "missing-id", "feature has no \"id\" (string)");
    } else if (auto [it, fresh] = by_id.emplace(f.id, static_cast<int32_t>(i)); !fresh) {
      sink.Error(f.index, f.id, "duplicate-id",
                 "id " + Quote(f.id) + " is already used by feature " + std::to_string(features[it->second].index));
    }
    if (!f.has_level) sink.Error(f.index, f.id, "missing-level", "properties.level is missing");
    else if (!(level[i] = ParseLevel(f.level)))
      sink.Error(f.index, f.id, "bad-level",
                 "unknown level " + Quote(f.level) + "; expected city, county, town, community, grid or micro_grid");
    if (!f.has_name) {
      sink.Warning(f.index, f.id, "missing-name", "properties.name is missing; the id is used as the name");
      f.name = f.id;
    }
  }
}

// 2. Parents and children (in file order).
void LinkParents(const std::vector<RawFeature>& features, Links& links, FindingSink& sink) {
  const size_t n = features.size();
  const auto& by_id = links.by_id;
  const auto& level = links.level;
  std::vector<int32_t>& parent = links.parent;
  std::vector<std::vector<int32_t>>& kids = links.kids;
  std::vector<int32_t>& roots = links.roots;
  parent.assign(n, -1);
  kids.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const RawFeature& f = features[i];
    if (!f.parent) {
      roots.push_back(static_cast<int32_t>(i));
      continue;
    }
    auto it = by_id.find(*f.parent);
    if (it == by_id.end()) {
      sink.Error(f.index, f.id, "unknown-parent", "parent " + Quote(*f.parent) + " is not the id of any feature");
      continue;
    }
    parent[i] = it->second;
    kids[it->second].push_back(static_cast<int32_t>(i));
    if (level[i] && level[it->second] && *level[i] <= *level[it->second])
      sink.Error(f.index, f.id, "level-order",
                 "level " + std::string(LevelName(*level[i])) + " is not below its parent " + Quote(*f.parent) +
                     " of level " + std::string(LevelName(*level[it->second])) + "; levels must go strictly downward");
  }
}

// 3. Depth-first pre-order from the roots; what is never reached sits on a cycle.
void OrderDepthFirst(const std::vector<RawFeature>& features, Links& links, FindingSink& sink) {
  const size_t n = features.size();
  const auto& by_id = links.by_id;
  const auto& parent = links.parent;
  const auto& kids = links.kids;
  std::vector<int32_t>& order = links.order;
  order.reserve(n);
  std::vector<char> seen(n, 0);
  {
    std::vector<int32_t> stack;
    for (int32_t r : links.roots) {
      stack.push_back(r);
      while (!stack.empty()) {
        const int32_t v = stack.back();
        stack.pop_back();
        if (seen[v]) continue;
        seen[v] = 1;
        order.push_back(v);
        for (auto it = kids[v].rbegin(); it != kids[v].rend(); ++it) stack.push_back(*it);
      }
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (seen[i] || parent[i] < 0 || !features[i].parent || !by_id.count(*features[i].parent)) continue;
    // Walk up until a feature repeats: that loop is the cycle.
    std::vector<int32_t> path{static_cast<int32_t>(i)};
    std::vector<char> on_path(n, 0);
    on_path[i] = 1;
    int32_t v = parent[i];
    while (v >= 0 && !on_path[v]) on_path[v] = 1, path.push_back(v), v = parent[v];
    if (v < 0) continue;
    std::string chain;
    for (int32_t p : path) chain += Quote(features[p].id) + " -> ";
    sink.Error(features[i].index, features[i].id, "cycle",
               "parent chain " + chain + Quote(features[v].id) + " never reaches a root");
    for (int32_t p : path) seen[p] = 1;  // report each cycle once
  }
  links.is_leaf.resize(n);
  for (size_t i = 0; i < n; ++i) links.is_leaf[i] = kids[i].empty();
}

// 4. Geometry: leaves need polygons; normalise all in parallel.
void CheckGeometry(std::vector<RawFeature>& features, const Links& links, const Executor& pool, FindingSink& sink) {
  const size_t n = features.size();
  const std::vector<char>& is_leaf = links.is_leaf;
  std::vector<GeometryFindings> geo(n);
  pool.For(n, 64, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) {
      RawFeature& f = features[i];
      if (f.geometry_type == "Polygon" || f.geometry_type == "MultiPolygon")
        geo[i] = NormaliseGeometry(f.geometry, is_leaf[i]);
    }
  });
  for (size_t i = 0; i < n; ++i) {
    RawFeature& f = features[i];
    for (auto& [sev, code, msg] : geo[i].items) sink.Add(sev, f.index, f.id, code, msg);
    const bool polygonal = f.geometry_type == "Polygon" || f.geometry_type == "MultiPolygon";
    if (is_leaf[i] && f.geometry_type != "invalid" && !polygonal)
      sink.Error(f.index, f.id, "leaf-without-polygon",
                 "leaf has " + (f.geometry_type.empty() ? std::string("no geometry") : f.geometry_type + " geometry") +
                     "; a leaf needs a Polygon or MultiPolygon");
    else if (!is_leaf[i] && !f.geometry_type.empty() && !polygonal && f.geometry_type != "invalid")
      sink.Warning(f.index, f.id, "ignored-geometry", f.geometry_type + " geometry on an inner node is ignored");
    if (!polygonal || !geo[i].usable) f.geometry.parts.clear();
  }
}

// 5. Metric names: every name any leaf uses, in order of first use.
struct MetricNames {
  std::vector<std::string> names;
  std::unordered_map<std::string, int> index;
};
MetricNames CollectMetricNames(const std::vector<RawFeature>& features) {
  MetricNames out;
  for (const RawFeature& f : features)
    for (auto& [name, v] : f.metrics)
      if (out.index.emplace(name, static_cast<int>(out.names.size())).second) out.names.push_back(name);
  return out;
}

// 6. Flatten: nodes in depth-first pre-order, leaves numbered in that order.
// The inner nodes' own geometry goes to `inner` (empty: none).
Dataset Flatten(std::vector<RawFeature>& features, Links& links, MetricNames& metrics,
                std::vector<index::MultiPolygon>& inner) {
  const size_t n = features.size();
  const std::vector<int32_t>& order = links.order;
  const auto& kids = links.kids;
  const auto& is_leaf = links.is_leaf;
  const auto& level = links.level;
  const auto& parent = links.parent;
  std::unordered_map<std::string, int>& metric_index = metrics.index;
  Dataset ds;
  const size_t m = metrics.names.size();
  ds.metric_names = metrics.names;
  std::vector<int32_t>& node_of = links.node_of;
  node_of.assign(n, -1);
  for (size_t k = 0; k < order.size(); ++k) node_of[order[k]] = static_cast<int32_t>(k);
  std::vector<std::string> ids(n), names(n), kinds(n);
  std::vector<Level> levels(n);
  std::vector<int32_t> parents(n), leaf_of_node(n, -1), leaf_nodes;
  std::vector<int64_t> leaf_metrics;
  inner.resize(n);
  for (size_t k = 0; k < n; ++k) {
    RawFeature& f = features[order[k]];
    ids[k] = std::move(f.id);
    names[k] = std::move(f.name);
    kinds[k] = std::move(f.kind);
    levels[k] = *level[order[k]];
    parents[k] = parent[order[k]] < 0 ? -1 : node_of[parent[order[k]]];
    if (is_leaf[order[k]]) {
      leaf_of_node[k] = static_cast<int32_t>(leaf_nodes.size());
      leaf_nodes.push_back(static_cast<int32_t>(k));
      ds.leaf_geometry.push_back(std::move(f.geometry));
      const size_t base = leaf_metrics.size();
      leaf_metrics.resize(base + m, 0);
      for (auto& [name, v] : f.metrics) leaf_metrics[base + metric_index[name]] = v;
    } else {
      inner[k] = std::move(f.geometry);
    }
  }
  std::vector<int32_t> subtree_end(n);
  for (size_t k = n; k-- > 0;) {
    int32_t end = static_cast<int32_t>(k) + 1;
    for (int32_t c : kids[order[k]]) end = std::max(end, subtree_end[node_of[c]]);
    subtree_end[k] = end;
  }
  std::vector<int32_t> child_begin(n + 1, 0);
  std::vector<NodeId> children;
  for (size_t k = 0; k < n; ++k) {
    child_begin[k + 1] = child_begin[k] + static_cast<int32_t>(kids[order[k]].size());
    for (int32_t c : kids[order[k]]) children.push_back(NodeId(node_of[c]));
  }
  ds.ids = StringColumn::From(ids);
  ds.names = StringColumn::From(names);
  ds.kinds = StringColumn::From(kinds);
  ds.node_by_id = IdTable::Build(ds.ids);
  ds.levels = std::move(levels);
  ds.parents = std::move(parents);
  ds.leaf_of_node = std::move(leaf_of_node);
  ds.leaf_nodes = std::move(leaf_nodes);
  ds.leaf_metrics = std::move(leaf_metrics);
  ds.subtree_end = std::move(subtree_end);
  ds.child_begin = std::move(child_begin);
  ds.children = std::move(children);
  return ds;
}

// 7. Bounds and areas, bottom-up; inner metrics must equal their leaves' sums.
void MeasureAndSum(Dataset& ds, const std::vector<RawFeature>& features, const Links& links, MetricNames& metrics,
                   const Executor& pool, FindingSink& sink) {
  const size_t n = ds.node_count(), m = metrics.names.size();
  const std::vector<int32_t>& order = links.order;
  const std::vector<std::string>& metric_names = metrics.names;
  std::unordered_map<std::string, int>& metric_index = metrics.index;
  const size_t leaves = ds.leaf_nodes.size();
  std::vector<double> leaf_area(leaves);
  pool.For(leaves, 256, [&](size_t b, size_t e) {
    for (size_t l = b; l < e; ++l) leaf_area[l] = index::GeodesicAreaKm2(ds.leaf_geometry[l]);
  });
  std::vector<index::Box> node_bounds(n, index::Box::Empty());
  std::vector<double> node_area_km2(n, 0);
  std::vector<int64_t> sums(n * m, 0);
  // The first sum past 2^63-1 (node, metric), named in the finding.
  int64_t overflow_node = -1;
  size_t overflow_metric = 0;
  for (size_t k = n; k-- > 0;) {
    if (const int32_t l = ds.leaf_of_node[k]; l >= 0) {
      node_bounds[k] = index::BoundsOf(ds.leaf_geometry[l]);
      node_area_km2[k] = leaf_area[l];
      for (size_t j = 0; j < m; ++j) sums[k * m + j] = ds.leaf_metrics[l * m + j];
    }
    if (const int32_t p = ds.parents[k]; p >= 0) {
      node_bounds[p].Extend(node_bounds[k]);
      node_area_km2[p] += node_area_km2[k];
      for (size_t j = 0; j < m; ++j)
        if (__builtin_add_overflow(sums[p * m + j], sums[k * m + j], &sums[p * m + j]) && overflow_node < 0)
          overflow_node = p, overflow_metric = j;
    }
  }
  ds.node_bounds = std::move(node_bounds);
  ds.node_area_km2 = std::move(node_area_km2);
  if (overflow_node >= 0)
    sink.Error(features[order[overflow_node]].index, ds.ids[overflow_node], "overflow",
               "the sum of metric " + Quote(metric_names[overflow_metric]) + " over the leaves of " +
                   Quote(ds.ids[overflow_node]) + " exceeds 2^63-1");
  for (size_t k = 0; k < n; ++k) {
    const RawFeature& f = features[order[k]];
    if (ds.leaf_of_node[k] >= 0 || f.metrics.empty()) continue;
    bool equal = true;
    std::string first_diff;
    for (auto& [name, v] : f.metrics) {
      const int64_t want = sums[k * m + metric_index[name]];
      if (v != want && equal) {
        equal = false;
        first_diff = name + " is " + std::to_string(v) + " but its leaves sum to " + std::to_string(want);
      }
    }
    if (equal)
      sink.Warning(f.index, ds.ids[k], "inner-metrics",
                   "metrics on an inner node are ignored (they equal the sum of its leaves)");
    else
      sink.Error(f.index, ds.ids[k], "inner-metrics",
                 "metrics on an inner node disagree with its leaves: " + first_diff +
                     "; inner values are always the sum of leaves");
  }
}

// 9. Fingerprint: what a write-ahead log must match.
uint64_t Fingerprint(const Dataset& ds) {
  const size_t n = ds.node_count();
  // 9. Fingerprint: what a write-ahead log must match.
  uint64_t h = 1469598103934665603ull;
  for (size_t k = 0; k < n; ++k) {
    const std::string_view id = ds.ids[k];
    const char end = 0;  // the id's terminator, as when ids were std::strings: fingerprints stay the same
    h = Fnv(h, id.data(), id.size());
    h = Fnv(h, &end, 1);
    h = Fnv(h, &ds.parents[k], sizeof(int32_t));
    h = Fnv(h, &ds.levels[k], 1);
  }
  for (const auto& name : ds.metric_names) h = Fnv(h, name.data(), name.size() + 1);
  for (const auto& g : ds.leaf_geometry)
    for (const auto& part : g.parts)
      for (const auto& ring : part.rings) h = Fnv(h, ring.data(), ring.size() * sizeof(index::Point));
  return h;
}

}  // namespace

std::optional<Dataset> BuildDataset(std::vector<RawFeature> features, const LoadOptions& options, FindingSink& sink) {
  if (features.empty()) {
    if (sink.errors() == 0) sink.Error(-1, "", "empty-dataset", "no features: a dataset needs at least one leaf");
    return std::nullopt;
  }
  Links links;
  ReadIdsAndLevels(features, links, sink);
  LinkParents(features, links, sink);
  OrderDepthFirst(features, links, sink);
  // The caller's executor, or one for this load alone.
  std::shared_ptr<const Executor> pool = options.executor;
  if (!pool) pool = std::make_shared<const Executor>(options.threads);
  CheckGeometry(features, links, *pool, sink);
  MetricNames metrics = CollectMetricNames(features);
  if (sink.errors() > 0) return std::nullopt;
  std::vector<index::MultiPolygon> inner;
  Dataset ds = Flatten(features, links, metrics, inner);
  MeasureAndSum(ds, features, links, metrics, *pool, sink);
  // 8. Coverage: children against the parent's own geometry. The sums of
  // areas (cheap) say where to look; the exact checks (coverage_checks.h)
  // name the defect, its area and a point inside it.
  CheckCoverage(ds, inner, features, links.order, options, sink);
  ds.inner_geometry = index::FlatPolygons::From(inner);
  if (sink.errors() > 0) return std::nullopt;
  ds.fingerprint = Fingerprint(ds);
  return ds;
}

}  // namespace gridtree::internal

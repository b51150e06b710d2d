// Raster tessellation for the dataset generator: rasterising the county
// polygons, nested weighted Voronoi splits, pinch removal and ring tracing
// with corner cutting. See docs/generator.md.
#include "tessellate.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <unordered_set>

namespace gridtree::generate {

constexpr int kCandidates = 3;

uint64_t StreamSeed(uint64_t seed, std::string_view key) {
  uint64_t h = 0xCBF29CE484222325ULL;  // FNV-1a
  for (unsigned char ch : key) {
    h ^= ch;
    h *= 0x100000001B3ULL;
  }
  Rng r(seed ^ (h * 0x9E3779B97F4A7C15ULL));
  r.Next();
  return r.Next();
}

void RasterizeEvenOdd(const std::vector<MultiPolygon>& shapes, double x0, double y0, int R, int W, int H,
                      std::vector<int32_t>& label) {
  struct Edge {
    double x1, y1, x2, y2;
  };
  std::vector<std::vector<int32_t>> rows(H);
  std::vector<double> xs;
  for (size_t s = 0; s < shapes.size(); ++s) {
    std::vector<Edge> edges;
    for (const Polygon& poly : shapes[s]) {
      for (const Ring& ring : poly) {
        size_t n = ring.size();
        for (size_t k = 0; k < n; ++k) {
          const auto& a = ring[k];
          const auto& b = ring[(k + 1) % n];  // closing edge is a no-op for closed rings
          if (a[1] == b[1]) continue;       // horizontal edges never cross a row centre line
          edges.push_back({a[0], a[1], b[0], b[1]});
        }
      }
    }
    for (auto& r : rows) r.clear();
    for (size_t e = 0; e < edges.size(); ++e) {
      double lo = std::min(edges[e].y1, edges[e].y2), hi = std::max(edges[e].y1, edges[e].y2);
      // Rows whose centre y0 + (j + 0.5) / R may lie in [lo, hi].
      int j0 = std::max(0, static_cast<int>(std::floor((lo - y0) * R - 0.5)));
      int j1 = std::min(H - 1, static_cast<int>(std::ceil((hi - y0) * R - 0.5)));
      for (int j = j0; j <= j1; ++j) rows[j].push_back(static_cast<int32_t>(e));
    }
    for (int j = 0; j < H; ++j) {
      if (rows[j].empty()) continue;
      double yc = y0 + (j + 0.5) / R;
      xs.clear();
      for (int32_t e : rows[j]) {
        const Edge& g = edges[e];
        if ((g.y1 > yc) != (g.y2 > yc)) xs.push_back(g.x1 + (yc - g.y1) * (g.x2 - g.x1) / (g.y2 - g.y1));
      }
      std::sort(xs.begin(), xs.end());
      for (size_t k = 0; k + 1 < xs.size(); k += 2) {
        int i0 = std::max(0, static_cast<int>(std::floor((xs[k] - x0) * R - 0.5)) + 1);
        int i1 = std::min(W - 1, static_cast<int>(std::ceil((xs[k + 1] - x0) * R - 0.5)) - 1);
        int32_t* row = label.data() + static_cast<int64_t>(j) * W;
        for (int i = i0; i <= i1; ++i)
          if (row[i] < 0) row[i] = static_cast<int32_t>(s);
      }
    }
  }
}

std::vector<std::vector<int32_t>> VoronoiSplit(const std::vector<int32_t>& pixels, int k, const float* weight,
                                               double exponent, int W, Rng& rng, const std::vector<int32_t>& fixed) {
  std::vector<std::vector<int32_t>> cells(k);
  if (k <= 0) return cells;
  if (k == 1) {
    cells[0] = pixels;
    return cells;
  }
  std::vector<double> prefix(pixels.size());
  double total = 0;
  for (size_t n = 0; n < pixels.size(); ++n) {
    double w = weight[pixels[n]];
    w = exponent == 2.0 ? w * w : (exponent == 1.0 ? w : std::pow(w, exponent));
    total += w;
    prefix[n] = total;
  }
  std::vector<int32_t> seeds(k, -1);  // positions in `pixels`
  std::unordered_set<int32_t> taken;
  for (int c = 0; c < k && c < static_cast<int>(fixed.size()); ++c) {
    if (fixed[c] >= 0 && !taken.count(fixed[c])) {
      seeds[c] = fixed[c];
      taken.insert(fixed[c]);
    }
  }
  // Mitchell's best candidate: of a few density-weighted draws, keep the one
  // farthest from the seeds so far (avoids slivers between adjacent seeds).
  auto min_dist2 = [&](int32_t pos) {
    int64_t best = INT64_MAX;
    int32_t x = pixels[pos] % W, y = pixels[pos] / W;
    for (int32_t s : seeds) {
      if (s < 0) continue;
      int64_t dx = x - pixels[s] % W, dy = y - pixels[s] / W;
      best = std::min(best, dx * dx + dy * dy);
    }
    return best;
  };
  for (int c = 0; c < k; ++c) {
    if (seeds[c] >= 0) continue;
    int32_t pick = -1;
    int64_t pick_d = -1;
    for (int tries = 0, good = 0; tries < 64 && good < kCandidates; ++tries) {
      size_t pos;
      if (total > 0) {
        double u = rng.Uniform() * total;
        pos = std::upper_bound(prefix.begin(), prefix.end(), u) - prefix.begin();
        if (pos >= pixels.size()) pos = pixels.size() - 1;
      } else {
        pos = rng.Below(pixels.size());
      }
      if (taken.count(static_cast<int32_t>(pos))) continue;
      ++good;
      int64_t d = min_dist2(static_cast<int32_t>(pos));
      if (d > pick_d) {
        pick_d = d;
        pick = static_cast<int32_t>(pos);
      }
    }
    if (pick < 0) {  // crowded: take the next free pixel after a random start
      size_t start = rng.Below(pixels.size());
      for (size_t n = 0; n < pixels.size(); ++n) {
        int32_t pos = static_cast<int32_t>((start + n) % pixels.size());
        if (!taken.count(pos)) {
          pick = pos;
          break;
        }
      }
    }
    seeds[c] = pick;
    taken.insert(pick);
  }
  std::vector<int32_t> sx(k), sy(k);
  std::vector<double> inv(k);
  for (int c = 0; c < k; ++c) {
    int32_t p = pixels[seeds[c]];
    sx[c] = p % W;
    sy[c] = p / W;
    double w = 0.8 + 0.4 * rng.Uniform();  // multiplicative weight: distance / w
    inv[c] = 1.0 / (w * w);
  }
  for (int32_t p : pixels) {
    int32_t x = p % W, y = p / W;
    int best = 0;
    double bd = 1e300;
    for (int c = 0; c < k; ++c) {
      double dx = x - sx[c], dy = y - sy[c];
      double d = (dx * dx + dy * dy) * inv[c];
      if (d < bd) {
        bd = d;
        best = c;
      }
    }
    cells[best].push_back(p);
  }
  return cells;
}

int64_t RemovePinches(int W, int H, std::vector<int32_t>& leaf, const std::vector<std::vector<int32_t>>& anc,
                      std::vector<int64_t>& leaf_count, int* unresolved) {
  int64_t changes = 0;
  int stuck = 0;
  std::vector<uint8_t> dirty(H, 1), next(H, 0);
  auto set = [&](int32_t p, int32_t v) {
    int32_t old = leaf[p];
    if (old >= 0) --leaf_count[old];
    if (v >= 0) ++leaf_count[v];
    leaf[p] = v;
    int32_t y = p / W;
    if (y > 0) next[y - 1] = 1;
    next[y] = 1;
    ++changes;
  };
  auto movable = [&](int32_t p) { return leaf[p] < 0 || leaf_count[leaf[p]] > 1; };
  auto window_pinched = [&](int32_t p) {  // window with top-left pixel p
    int32_t a = leaf[p], b = leaf[p + 1], c = leaf[p + W], d = leaf[p + W + 1];
    if (a == b && b == c && c == d) return false;
    for (const auto& lv : anc) {
      int32_t la = a < 0 ? -1 : lv[a], lb = b < 0 ? -1 : lv[b];
      int32_t lc = c < 0 ? -1 : lv[c], ld = d < 0 ? -1 : lv[d];
      if ((la == ld && lb != la && lc != la) || (lb == lc && la != lb && ld != lb)) return true;
    }
    return false;
  };
  // Would setting pixel x to v leave a pinch in any of the 4 windows around x?
  auto creates_pinch = [&](int32_t x, int32_t v) {
    int32_t old = leaf[x];
    leaf[x] = v;
    int xi = x % W, yj = x / W;
    bool bad = false;
    for (int dj = -1; dj <= 0 && !bad; ++dj)
      for (int di = -1; di <= 0 && !bad; ++di) {
        int i = xi + di, j = yj + dj;
        if (i >= 0 && j >= 0 && i + 1 < W && j + 1 < H) bad = window_pinched(j * W + i);
      }
    leaf[x] = old;
    return bad;
  };
  // Relabel one of x1, x2 to `target` (a leaf or -1), or else one of the
  // diagonal pair y1, y2 to `other`: the first option that is allowed (a leaf
  // keeps its last pixel) and creates no new pinch around it, else the first
  // allowed one. Land pixels are relabelled before outside ones.
  auto fix = [&](int32_t x1, int32_t x2, int32_t target, int32_t y1, int32_t y2, int32_t other) {
    if (leaf[x1] < 0 && leaf[x2] >= 0) std::swap(x1, x2);
    if (leaf[y1] < 0 && leaf[y2] >= 0) std::swap(y1, y2);
    const std::pair<int32_t, int32_t> options[4] = {{x1, target}, {x2, target}, {y1, other}, {y2, other}};
    int first = -1;
    for (int o = 0; o < 4; ++o) {
      if (!movable(options[o].first)) continue;
      if (first < 0) first = o;
      if (!creates_pinch(options[o].first, options[o].second)) {
        first = o;
        break;
      }
    }
    if (first < 0) return false;
    set(options[first].first, options[first].second);
    return true;
  };
  for (int pass = 0; pass < 1000; ++pass) {
    bool any = false;
    for (int j = 0; j + 1 < H; ++j) {
      if (!dirty[j]) continue;
      any = true;
      for (int i = 0; i + 1 < W; ++i) {
        int32_t p = j * W + i;
        for (int guard = 0; guard < 16; ++guard) {
          int32_t a = leaf[p], b = leaf[p + 1], c = leaf[p + W], d = leaf[p + W + 1];
          if (a == b && b == c && c == d) break;
          bool found = false, fixed = false;
          for (const auto& lv : anc) {
            int32_t la = a < 0 ? -1 : lv[a], lb = b < 0 ? -1 : lv[b];
            int32_t lc = c < 0 ? -1 : lv[c], ld = d < 0 ? -1 : lv[d];
            if (la == ld && lb != la && lc != la) {
              found = true;
              fixed = fix(p + 1, p + W, a, p, p + W + 1, b);
              break;
            }
            if (lb == lc && la != lb && ld != lb) {
              found = true;
              fixed = fix(p, p + W + 1, b, p + 1, p + W, a);
              break;
            }
          }
          if (!found) break;
          if (!fixed) {
            ++stuck;
            break;
          }
        }
      }
    }
    if (!any) break;
    if (pass == 999) stuck += static_cast<int>(std::count(next.begin(), next.end(), 1));
    dirty.swap(next);
    std::fill(next.begin(), next.end(), 0);
  }
  if (unresolved) *unresolved = stuck;
  return changes;
}

namespace {
constexpr int kDX[4] = {1, 0, -1, 0};
constexpr int kDY[4] = {0, 1, 0, -1};
// Start corner of the edge on side d (= its direction) of a pixel.
constexpr int kCX[4] = {0, 1, 1, 0};
constexpr int kCY[4] = {0, 0, 1, 1};
}  // namespace

void TraceRings(int W, int H, const std::vector<int32_t>& label, const std::vector<int32_t>& junction,
                const std::function<void(TracedRing&&)>& sink) {
  auto get = [&](const std::vector<int32_t>& r, int i, int j) -> int32_t {
    return (i < 0 || j < 0 || i >= W || j >= H) ? -1 : r[static_cast<int64_t>(j) * W + i];
  };
  auto is_junction = [&](int cx, int cy) {
    int32_t v[4] = {get(junction, cx - 1, cy - 1), get(junction, cx, cy - 1), get(junction, cx - 1, cy),
                    get(junction, cx, cy)};
    int distinct = 1;
    for (int a = 1; a < 4; ++a) {
      bool seen = false;
      for (int b = 0; b < a; ++b) seen |= v[a] == v[b];
      distinct += !seen;
    }
    return distinct >= 3;
  };
  std::vector<uint8_t> visited(static_cast<size_t>(W) * H, 0);
  std::vector<int32_t> corners;  // x, y interleaved
  std::vector<uint8_t> dirs;
  struct V {
    int32_t x, y;
    bool junction;
  };
  std::vector<V> verts, kept;
  for (int j = 0; j < H; ++j) {
    for (int i = 0; i < W; ++i) {
      int32_t p = j * W + i;
      int32_t l = label[p];
      if (l < 0) continue;
      for (int s = 0; s < 4; ++s) {
        if (visited[p] & (1 << s)) continue;
        if (get(label, i + kDY[s], j - kDX[s]) == l) continue;  // neighbour across side s
        // Walk the ring with the interior on the left.
        corners.clear();
        dirs.clear();
        int ci = i, cj = j, d = s;
        do {
          visited[static_cast<int64_t>(cj) * W + ci] |= static_cast<uint8_t>(1 << d);
          corners.push_back(ci + kCX[d]);
          corners.push_back(cj + kCY[d]);
          dirs.push_back(static_cast<uint8_t>(d));
          int fx = kDX[d], fy = kDY[d], rx = kDY[d], ry = -kDX[d];
          if (get(label, ci + fx + rx, cj + fy + ry) == l) {
            ci += fx + rx;
            cj += fy + ry;
            d = (d + 3) & 3;
          } else if (get(label, ci + fx, cj + fy) == l) {
            ci += fx;
            cj += fy;
          } else {
            d = (d + 1) & 3;
          }
        } while (!(ci == i && cj == j && d == s));
        // Corner cutting.
        size_t n = dirs.size();
        verts.clear();
        for (size_t k = 0; k < n; ++k) {
          int din = dirs[(k + n - 1) % n], dout = dirs[k];
          int cx = corners[2 * k], cy = corners[2 * k + 1];
          if (is_junction(cx, cy)) {
            verts.push_back({2 * cx, 2 * cy, true});
          } else if (din != dout) {
            verts.push_back({2 * cx - kDX[din], 2 * cy - kDY[din], false});
            verts.push_back({2 * cx + kDX[dout], 2 * cy + kDY[dout], false});
          }
        }
        // Remove consecutive duplicates (cyclically).
        kept.clear();
        for (const V& v : verts) {
          if (!kept.empty() && kept.back().x == v.x && kept.back().y == v.y) {
            kept.back().junction |= v.junction;
            continue;
          }
          kept.push_back(v);
        }
        while (kept.size() > 1 && kept.back().x == kept.front().x && kept.back().y == kept.front().y) {
          kept.front().junction |= kept.back().junction;
          kept.pop_back();
        }
        // Drop non-junction vertices collinear with their neighbours, all
        // decided on the undropped sequence.
        size_t m = kept.size();
        std::vector<uint8_t> keep(m, 1);
        size_t nkeep = 0;
        for (size_t k = 0; k < m; ++k) {
          const V& a = kept[(k + m - 1) % m];
          const V& b = kept[k];
          const V& c = kept[(k + 1) % m];
          if (!b.junction) {
            int64_t cross = static_cast<int64_t>(b.x - a.x) * (c.y - b.y) - static_cast<int64_t>(b.y - a.y) * (c.x - b.x);
            if (cross == 0) keep[k] = 0;
          }
          nkeep += keep[k];
        }
        TracedRing ring;
        ring.label = l;
        ring.first_pixel = p;
        ring.xy.reserve(2 * (nkeep >= 3 ? nkeep : m));
        for (size_t k = 0; k < m; ++k) {
          if (nkeep >= 3 && !keep[k]) continue;
          ring.xy.push_back(kept[k].x);
          ring.xy.push_back(kept[k].y);
        }
        size_t q = ring.xy.size() / 2;
        int64_t a2 = 0;
        for (size_t k = 0; k < q; ++k) {
          size_t k2 = (k + 1) % q;
          a2 += static_cast<int64_t>(ring.xy[2 * k]) * ring.xy[2 * k2 + 1] -
                static_cast<int64_t>(ring.xy[2 * k2]) * ring.xy[2 * k + 1];
        }
        ring.area2 = a2;
        sink(std::move(ring));
      }
    }
  }
}

namespace {
bool RingContains(const IntRing& r, double px, double py) {
  bool in = false;
  size_t n = r.size() / 2;
  for (size_t k = 0, m = n - 1; k < n; m = k++) {
    double xk = r[2 * k], yk = r[2 * k + 1], xm = r[2 * m], ym = r[2 * m + 1];
    if ((yk > py) != (ym > py) && px < xk + (py - yk) * (xm - xk) / (ym - yk)) in = !in;
  }
  return in;
}
}  // namespace

std::vector<IntPolygon> AssemblePolygons(std::vector<TracedRing>&& rings, int W) {
  std::vector<IntPolygon> polys;
  std::vector<int64_t> areas;
  for (TracedRing& r : rings) {
    if (r.area2 > 0) {
      polys.push_back({std::move(r.xy)});
      areas.push_back(r.area2);
    }
  }
  for (TracedRing& r : rings) {
    if (r.area2 > 0 || polys.empty()) continue;
    double px = 2.0 * (r.first_pixel % W) + 1, py = 2.0 * (r.first_pixel / W) + 1;
    size_t best = 0;
    int64_t best_area = -1;
    for (size_t o = 0; o < polys.size(); ++o) {
      if ((best_area < 0 || areas[o] < best_area) && RingContains(polys[o][0], px, py)) {
        best = o;
        best_area = areas[o];
      }
    }
    polys[best].push_back(std::move(r.xy));
  }
  return polys;
}

}  // namespace gridtree::generate

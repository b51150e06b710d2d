// Fitting the generated shapes to the published county borders
// (city_stages.h: FitCountyBorders; docs/generator.md, step 7).
//
// The traced leaves are unions of pixels whose centre lies in a county, so
// along a county border they fall up to half a pixel short of the published
// line or reach past it. Here every leaf near a border is redrawn as
// (its traced shape on the county's *extended* raster) ∩ (its county's
// published area): the extended raster gives the county's leaves the pixels
// that the published border crosses but whose centre lies elsewhere, so the
// traced shapes reach past the border everywhere, and the cut brings them
// back onto it. The cut is one overlay of the whole city's linework (GEOS,
// snap-rounded to 2^-30 degrees), so two neighbours that share a boundary get
// the same vertices, bit for bit, and leaves away from the borders keep their
// traced geometry unchanged. Redrawn inner nodes are the union of their
// children.
#include <geos_c.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "city_stages.h"
#include "report.h"

namespace gridtree::generate {
namespace {

// Vertices made by the cut are rounded to this lattice (degrees, about
// 0.1 mm); pixel corners and published vertices already lie on it.
constexpr double kLattice = 0x1.0p-30;
// Nodes with a pixel this close (pixels, Chebyshev) to a pixel a published
// border crosses are redrawn; the others cannot change (their traced rings
// depend only on pixels within one pixel of them).
constexpr int kBand = 4;

void CollectGeosMessage(const char* message, void* sink) { *static_cast<std::string*>(sink) = message; }

// One GEOS context for the whole fit, with its last error message.
class Geos {
 public:
  Geos() : h_(GEOS_init_r()) {
    GEOSContext_setErrorMessageHandler_r(h_, &CollectGeosMessage, &error_);
  }
  ~Geos() { GEOS_finish_r(h_); }
  Geos(const Geos&) = delete;
  Geos& operator=(const Geos&) = delete;
  GEOSContextHandle_t h() const { return h_; }
  const std::string& error() const { return error_; }

 private:
  GEOSContextHandle_t h_;
  std::string error_;
};

struct GeomDeleter {
  GEOSContextHandle_t h;
  void operator()(GEOSGeometry* g) const { GEOSGeom_destroy_r(h, g); }
};
using GeomPtr = std::unique_ptr<GEOSGeometry, GeomDeleter>;

bool EvenOdd(const std::vector<const Ring*>& rings, double x, double y) {
  bool in = false;
  for (const Ring* ring : rings) {
    const Ring& r = *ring;
    for (size_t k = 0, m = r.size() - 1; k < r.size(); m = k++) {
      if ((r[k][1] > y) != (r[m][1] > y) &&
          x < r[k][0] + (y - r[k][1]) * (r[m][0] - r[k][0]) / (r[m][1] - r[k][1]))
        in = !in;
    }
  }
  return in;
}

// One county's leaves on a window of the raster, extended to every pixel
// the county's published border crosses (each such pixel takes the nearest
// leaf of the county), so the county's traced shapes cover its published area.
struct CountyWindow {
  int32_t county = -1;
  int ox = 0, oy = 0, w = 0, h = 0;  // the window, in raster pixels
  std::vector<int32_t> leaf;         // per window pixel: a leaf of the county, -1
  // The published area (all rings of all parts, even-odd) and its box.
  std::vector<const Ring*> rings;
  double minx = 0, miny = 0, maxx = 0, maxy = 0;

  bool Contains(double x, double y) const {
    return x >= minx && x <= maxx && y >= miny && y <= maxy && EvenOdd(rings, x, y);
  }
};

// Marks every pixel a segment passes through (sampled at a quarter pixel,
// then grown by one pixel by the caller).
template <typename Mark>
void MarkSegmentPixels(const RasterFrame& f, const std::array<double, 2>& a, const std::array<double, 2>& b,
                       Mark&& mark) {
  const double ax = (a[0] - f.x0) * f.R, ay = (a[1] - f.y0) * f.R;
  const double bx = (b[0] - f.x0) * f.R, by = (b[1] - f.y0) * f.R;
  const int steps = static_cast<int>(std::ceil(std::max(std::abs(bx - ax), std::abs(by - ay)) * 4)) + 1;
  for (int s = 0; s <= steps; ++s) {
    const double t = static_cast<double>(s) / steps;
    mark(static_cast<int>(std::floor(ax + t * (bx - ax))), static_cast<int>(std::floor(ay + t * (by - ay))));
  }
}

// Grows the set bits of a w x h byte raster by r pixels (Chebyshev).
void Grow(std::vector<uint8_t>& m, int w, int h, int r) {
  std::vector<uint8_t> t(m.size(), 0);
  for (int j = 0; j < h; ++j) {
    int last = -1000000;  // the last set pixel to the left, then sweep right to left
    for (int i = 0; i < w; ++i) {
      if (m[static_cast<size_t>(j) * w + i]) last = i;
      if (i - last <= r) t[static_cast<size_t>(j) * w + i] = 1;
    }
    last = 1000000;
    for (int i = w - 1; i >= 0; --i) {
      if (m[static_cast<size_t>(j) * w + i]) last = i;
      if (last - i <= r) t[static_cast<size_t>(j) * w + i] = 1;
    }
  }
  for (int i = 0; i < w; ++i) {
    int last = -1000000;
    for (int j = 0; j < h; ++j) {
      if (t[static_cast<size_t>(j) * w + i]) last = j;
      m[static_cast<size_t>(j) * w + i] = j - last <= r;
    }
    last = 1000000;
    for (int j = h - 1; j >= 0; --j) {
      if (t[static_cast<size_t>(j) * w + i]) last = j;
      if (last - j <= r) m[static_cast<size_t>(j) * w + i] = 1;
    }
  }
}

// Gives every unlabelled pixel of `mask` the label of the nearest labelled
// pixel (4-connected breadth-first search from all labelled pixels).
void ExtendToNearest(std::vector<int32_t>& label, const std::vector<uint8_t>& mask, int w, int h) {
  std::vector<int32_t> nearest = label;
  std::vector<int32_t> queue;
  for (int32_t p = 0; p < static_cast<int32_t>(label.size()); ++p)
    if (label[p] >= 0) queue.push_back(p);
  for (size_t q = 0; q < queue.size(); ++q) {
    const int32_t p = queue[q];
    const int i = p % w, j = p / w;
    const int32_t nb[4] = {i > 0 ? p - 1 : -1, i + 1 < w ? p + 1 : -1, j > 0 ? p - w : -1, j + 1 < h ? p + w : -1};
    for (int32_t n : nb)
      if (n >= 0 && nearest[n] < 0) {
        nearest[n] = nearest[p];
        queue.push_back(n);
      }
  }
  for (size_t p = 0; p < label.size(); ++p)
    if (mask[p] && label[p] < 0) label[p] = nearest[p];
}

Ring ClosedRing(const std::vector<int32_t>& xy, int64_t ox2, int64_t oy2, double inv2r) {
  Ring ring;
  const size_t n = xy.size() / 2;
  ring.reserve(n + 1);
  // The same arithmetic as the GeoJSON writer, so a vertex kept from the
  // trace is bit-identical to the one written for an unfitted neighbour.
  for (size_t v = 0; v <= n; ++v)
    ring.push_back({static_cast<double>(ox2 + xy[2 * (v % n)]) * inv2r,
                    static_cast<double>(oy2 + xy[2 * (v % n) + 1]) * inv2r});
  return ring;
}

GEOSCoordSequence* SequenceOf(GEOSContextHandle_t h, const Ring& ring) {
  GEOSCoordSequence* seq = GEOSCoordSeq_create_r(h, static_cast<unsigned>(ring.size()), 2);
  for (size_t k = 0; k < ring.size(); ++k) GEOSCoordSeq_setXY_r(h, seq, static_cast<unsigned>(k), ring[k][0], ring[k][1]);
  return seq;
}

GEOSGeometry* LineOf(GEOSContextHandle_t h, const Ring& ring) {
  return GEOSGeom_createLineString_r(h, SequenceOf(h, ring));
}

Ring RingOf(GEOSContextHandle_t h, const GEOSGeometry* ring) {
  const GEOSCoordSequence* seq = GEOSGeom_getCoordSeq_r(h, ring);
  unsigned n = 0;
  GEOSCoordSeq_getSize_r(h, seq, &n);
  Ring out(n);
  for (unsigned k = 0; k < n; ++k) GEOSCoordSeq_getXY_r(h, seq, k, &out[k][0], &out[k][1]);
  return out;
}

double SignedArea(const Ring& r) {
  double a = 0;
  for (size_t k = 0; k + 1 < r.size(); ++k) a += r[k][0] * r[k + 1][1] - r[k + 1][0] * r[k][1];
  return a / 2;
}

// GEOS polygons as RFC 7946 polygons: outer rings counter-clockwise, holes clockwise.
MultiPolygon PolygonsOf(GEOSContextHandle_t h, const GEOSGeometry* g) {
  MultiPolygon out;
  const int parts = GEOSGetNumGeometries_r(h, g);
  for (int p = 0; p < parts; ++p) {
    const GEOSGeometry* poly = GEOSGetGeometryN_r(h, g, p);
    if (GEOSGeomTypeId_r(h, poly) != GEOS_POLYGON || GEOSisEmpty_r(h, poly)) continue;
    Polygon out_poly;
    out_poly.push_back(RingOf(h, GEOSGetExteriorRing_r(h, poly)));
    const int holes = GEOSGetNumInteriorRings_r(h, poly);
    for (int k = 0; k < holes; ++k) out_poly.push_back(RingOf(h, GEOSGetInteriorRingN_r(h, poly, k)));
    for (size_t r = 0; r < out_poly.size(); ++r)
      if ((SignedArea(out_poly[r]) > 0) != (r == 0)) std::reverse(out_poly[r].begin(), out_poly[r].end());
    out.push_back(std::move(out_poly));
  }
  return out;
}

Polygon DegreesOf(const IntPolygon& poly, int64_t ox2, int64_t oy2, double inv2r) {
  Polygon out;
  for (const IntRing& r : poly) out.push_back(ClosedRing(r, ox2, oy2, inv2r));
  return out;
}

// Appends the GEOS polygon of `poly`; false if GEOS refused it.
bool AddPolygon(GEOSContextHandle_t h, const Polygon& poly, std::vector<GEOSGeometry*>& out) {
  std::vector<GEOSGeometry*> holes;
  for (size_t r = 1; r < poly.size(); ++r) holes.push_back(GEOSGeom_createLinearRing_r(h, SequenceOf(h, poly[r])));
  GEOSGeometry* shell = GEOSGeom_createLinearRing_r(h, SequenceOf(h, poly[0]));
  const bool rings_ok = shell && std::find(holes.begin(), holes.end(), nullptr) == holes.end();
  if (!rings_ok) {
    for (GEOSGeometry* g : holes)
      if (g) GEOSGeom_destroy_r(h, g);
    if (shell) GEOSGeom_destroy_r(h, shell);
    return false;
  }
  GEOSGeometry* polygon = GEOSGeom_createPolygon_r(h, shell, holes.data(), static_cast<unsigned>(holes.size()));
  if (!polygon) return false;
  out.push_back(polygon);
  return true;
}

// The union of `parts` (taken over) as RFC 7946 polygons, or nothing if
// GEOS fails. The parts come from one noding, so a floating-point union
// makes no new vertex (the lattice test in tests/generate_test.cpp checks).
// Not a coverage union: GEOS refused one province leaf's faces as
// overlapping (a face folded by snap rounding), which a full union tolerates.
std::optional<MultiPolygon> UnionOf(GEOSContextHandle_t h, std::vector<GEOSGeometry*>& parts) {
  GeomPtr group(GEOSGeom_createCollection_r(h, GEOS_GEOMETRYCOLLECTION, parts.data(), static_cast<unsigned>(parts.size())),
                GeomDeleter{h});
  if (!group) return std::nullopt;
  GeomPtr merged(GEOSUnaryUnion_r(h, group.get()), GeomDeleter{h});
  if (!merged) return std::nullopt;
  return PolygonsOf(h, merged.get());
}

// The working data of one fit, handed from phase to phase.
struct Fit {
  Fit(const RasterFrame& frame, const LeafRaster& raster, std::vector<Node>& nodes)
      : frame(frame),
        raster(raster),
        nodes(nodes),
        county_of_leaf(raster.AncestorsAt(Level::kCounty)),
        N(static_cast<int32_t>(nodes.size())),
        W(frame.W),
        H(frame.H),
        inv2r(1.0 / (2.0 * frame.R)) {}

  const RasterFrame& frame;
  const LeafRaster& raster;
  std::vector<Node>& nodes;
  const std::vector<int32_t>& county_of_leaf;
  const int32_t N;
  const int W, H;
  const double inv2r;
  std::vector<CountyWindow> windows;      // in the order of the county shapes
  std::vector<int32_t> window_of_county;  // per node: its window, -1
  std::vector<uint8_t> band;              // per pixel: near a pixel a published border crosses
  std::vector<uint8_t> redrawn;           // per node
  std::vector<std::vector<Ring>> rings;   // per redrawn leaf: its traced rings on its county's window

  // A leaf that is redrawn.
  bool Wanted(int32_t n) const { return n >= 0 && redrawn[n] && nodes[n].children.empty(); }

  // The first county whose published area holds a point owns it. (The sea
  // area's leaves are never redrawn: they lie 3 pixels clear of any land.)
  int32_t OwnerOf(double x, double y) const {
    for (size_t k = 0; k < windows.size(); ++k)
      if (windows[k].Contains(x, y)) return static_cast<int32_t>(k);
    return -1;
  }
};

// The status of a GEOS step that failed, with GEOS's last message.
Status Failed(const Geos& geos, const std::string& what) {
  return Status(StatusCode::kInternal, "generate: fitting the county borders: " + what + ": " + geos.error());
}

// One window per county, in the order of the shapes (the first county whose
// published area holds a point owns it, as when rasterising).
void MakeWindows(Fit& fit) {
  const std::vector<Node>& nodes = fit.nodes;
  std::vector<CountyWindow>& windows = fit.windows;
  for (int32_t n = 0; n < fit.N; ++n) {
    if (nodes[n].level != Level::kCounty || nodes[n].county_shape < 0) continue;
    CountyWindow cw;
    cw.county = n;
    windows.push_back(std::move(cw));
  }
  std::sort(windows.begin(), windows.end(), [&](const CountyWindow& a, const CountyWindow& b) {
    return nodes[a.county].county_shape < nodes[b.county].county_shape;
  });
  fit.window_of_county.assign(fit.N, -1);
  for (size_t k = 0; k < windows.size(); ++k) fit.window_of_county[windows[k].county] = static_cast<int32_t>(k);
}

// Each window's published area, its bounds, and its pixel box (min i, min j,
// max i, max j; empty when the county has no vertex and no pixel).
std::vector<std::array<int, 4>> WindowBoxes(Fit& fit, const std::vector<CountyShape>& shapes) {
  const RasterFrame& frame = fit.frame;
  const LeafRaster& raster = fit.raster;
  std::vector<CountyWindow>& windows = fit.windows;
  // Window boxes: the published shape and the county's own pixels (the sea
  // area lies outside the published shape), plus a margin.
  std::vector<std::array<int, 4>> box(windows.size(), {INT32_MAX, INT32_MAX, INT32_MIN, INT32_MIN});
  auto grow_box = [](std::array<int, 4>& b, int i, int j) {
    b = {std::min(b[0], i), std::min(b[1], j), std::max(b[2], i), std::max(b[3], j)};
  };
  for (size_t k = 0; k < windows.size(); ++k) {
    CountyWindow& cw = windows[k];
    cw.minx = cw.miny = 1e300;
    cw.maxx = cw.maxy = -1e300;
    for (const Polygon& poly : shapes[fit.nodes[cw.county].county_shape].parts)
      for (const Ring& ring : poly) {
        cw.rings.push_back(&ring);
        for (const auto& pt : ring) {
          cw.minx = std::min(cw.minx, pt[0]);
          cw.miny = std::min(cw.miny, pt[1]);
          cw.maxx = std::max(cw.maxx, pt[0]);
          cw.maxy = std::max(cw.maxy, pt[1]);
          grow_box(box[k], static_cast<int>(std::floor((pt[0] - frame.x0) * frame.R)),
                   static_cast<int>(std::floor((pt[1] - frame.y0) * frame.R)));
        }
      }
  }
  for (int j = 0; j < fit.H; ++j)
    for (int i = 0; i < fit.W; ++i) {
      const int32_t l = raster.leaf[static_cast<size_t>(j) * fit.W + i];
      if (l < 0) continue;
      const int32_t k = fit.window_of_county[fit.county_of_leaf[l]];
      if (k >= 0) grow_box(box[k], i, j);
    }
  return box;
}

// Fills one window's leaves, extended to the pixels its published border
// crosses, and marks those pixels in `fit.band`.
void ExtendWindow(Fit& fit, CountyWindow& cw, const std::array<int, 4>& box) {
  const RasterFrame& frame = fit.frame;
  const LeafRaster& raster = fit.raster;
  const int W = fit.W, H = fit.H;
  std::vector<uint8_t>& band = fit.band;
  if (box[0] > box[2]) return;  // no vertex and no pixel: nothing to fit
  cw.ox = std::max(0, box[0] - 3);
  cw.oy = std::max(0, box[1] - 3);
  cw.w = std::min(W - 1, box[2] + 3) - cw.ox + 1;
  cw.h = std::min(H - 1, box[3] + 3) - cw.oy + 1;
  if (cw.w <= 0 || cw.h <= 0) return;
  cw.leaf.assign(static_cast<size_t>(cw.w) * cw.h, -1);
  for (int j = 0; j < cw.h; ++j)
    for (int i = 0; i < cw.w; ++i) {
      const int32_t l = raster.leaf[static_cast<size_t>(cw.oy + j) * W + cw.ox + i];
      if (l >= 0 && fit.county_of_leaf[l] == cw.county) cw.leaf[static_cast<size_t>(j) * cw.w + i] = l;
    }
  std::vector<uint8_t> crossed(cw.leaf.size(), 0);
  for (const Ring* ring : cw.rings)
    for (size_t v = 0, u = ring->size() - 1; v < ring->size(); u = v++)  // rings closed or not
      MarkSegmentPixels(frame, (*ring)[u], (*ring)[v], [&](int i, int j) {
        if (i < 0 || j < 0 || i >= W || j >= H) return;
        band[static_cast<size_t>(j) * W + i] = 1;
        if (i >= cw.ox && j >= cw.oy && i < cw.ox + cw.w && j < cw.oy + cw.h)
          crossed[static_cast<size_t>(j - cw.oy) * cw.w + (i - cw.ox)] = 1;
      });
  // One more pixel all round, so that no corner cut of the trace falls
  // inside the published area; never into the sea area (its own leaves).
  Grow(crossed, cw.w, cw.h, 1);
  for (int j = 0; j < cw.h; ++j)
    for (int i = 0; i < cw.w; ++i) {
      const int32_t l = raster.leaf[static_cast<size_t>(cw.oy + j) * W + cw.ox + i];
      if (l >= 0 && fit.nodes[l].kind == kSea) crossed[static_cast<size_t>(j) * cw.w + i] = 0;
    }
  ExtendToNearest(cw.leaf, crossed, cw.w, cw.h);
}

// Extends every window (ExtendWindow), then grows the crossed pixels of
// `fit.band` by kBand.
void ExtendWindows(Fit& fit, const std::vector<std::array<int, 4>>& box) {
  fit.band.assign(fit.frame.PixelCount(), 0);  // pixels a published border crosses, grown below
  for (size_t k = 0; k < fit.windows.size(); ++k) ExtendWindow(fit, fit.windows[k], box[k]);
  Grow(fit.band, fit.W, fit.H, kBand);
}

// Which nodes are redrawn: leaves with a pixel in the band (in any window),
// and their ancestors; never the sea area's own leaves.
void MarkRedrawn(Fit& fit) {
  const std::vector<Node>& nodes = fit.nodes;
  std::vector<uint8_t>& redrawn = fit.redrawn;
  redrawn.assign(fit.N, 0);
  for (const CountyWindow& cw : fit.windows)
    for (int j = 0; j < cw.h; ++j)
      for (int i = 0; i < cw.w; ++i) {
        const int32_t l = cw.leaf[static_cast<size_t>(j) * cw.w + i];
        if (l >= 0 && nodes[l].kind != kSea && fit.band[static_cast<size_t>(cw.oy + j) * fit.W + cw.ox + i])
          redrawn[l] = 1;
      }
  for (int32_t n = 0; n < fit.N; ++n)
    if (redrawn[n] && nodes[n].children.empty())
      for (int L = 2; L < kLevelCount; ++L) redrawn[fit.raster.ancestors[L - 1][n]] = 1;
}

// The redrawn leaves' traced rings on their county's extended window.
void TraceRedrawnLeaves(Fit& fit) {
  const RasterFrame& frame = fit.frame;
  fit.rings.assign(fit.N, {});
  for (const CountyWindow& cw : fit.windows) {
    if (cw.leaf.empty()) continue;
    // Only the redrawn leaves are traced: a leaf's rings depend on its own
    // pixels and the junctions of the window, not on its neighbours' labels.
    std::vector<int32_t> lab(cw.leaf.size());
    for (size_t p = 0; p < lab.size(); ++p) lab[p] = fit.Wanted(cw.leaf[p]) ? cw.leaf[p] : -1;
    const int64_t wx2 = 2 * (frame.x0i + cw.ox), wy2 = 2 * (frame.y0i + cw.oy);
    TraceRings(cw.w, cw.h, lab, cw.leaf,
               [&](TracedRing&& r) { fit.rings[r.label].push_back(ClosedRing(r.xy, wx2, wy2, fit.inv2r)); });
  }
}

// The faces of the overlay: the traced rings cut by every published ring in
// one noding, snap-rounded to kLattice, then polygonized.
Result<GeomPtr> OverlayFaces(const Fit& fit, const Geos& geos) {
  const GEOSContextHandle_t h = geos.h();
  std::vector<GEOSGeometry*> lines;
  auto add_line = [&](const Ring& r) {
    if (r.size() < 2) return;
    GEOSGeometry* line = nullptr;
    if (r.front() == r.back()) {
      line = LineOf(h, r);
    } else {  // a published ring written open
      Ring closed = r;
      closed.push_back(r.front());
      line = LineOf(h, closed);
    }
    if (line) lines.push_back(line);
  };
  for (int32_t n = 0; n < fit.N; ++n)
    for (const Ring& r : fit.rings[n]) add_line(r);
  for (const CountyWindow& cw : fit.windows)
    for (const Ring* r : cw.rings) add_line(*r);
  GeomPtr all(GEOSGeom_createCollection_r(h, GEOS_MULTILINESTRING, lines.data(), static_cast<unsigned>(lines.size())),
              GeomDeleter{h});
  if (!all) return Failed(geos, "collecting the lines");
  GeomPtr noded(GEOSUnaryUnionPrec_r(h, all.get(), kLattice), GeomDeleter{h});
  if (!noded) return Failed(geos, "noding");
  const GEOSGeometry* noded_ptr = noded.get();
  GeomPtr faces(GEOSPolygonize_r(h, &noded_ptr, 1), GeomDeleter{h});
  if (!faces) return Failed(geos, "polygonizing");
  return faces;
}

// The redrawn leaf of window `cw` whose traced shape holds (x, y), -1;
// `any_label` tells whether a leaf of the window is near the point at all.
int32_t LeafHolding(const Fit& fit, const CountyWindow& cw, double x, double y, bool& any_label,
                    std::vector<const Ring*>& candidate_rings) {
  const int pi = static_cast<int>(std::floor((x - fit.frame.x0) * fit.frame.R)) - cw.ox;
  const int pj = static_cast<int>(std::floor((y - fit.frame.y0) * fit.frame.R)) - cw.oy;
  int32_t leaf = -1;
  any_label = false;
  // A corner cut moves a boundary by at most half a pixel: the leaf holding
  // the point has a pixel among the nine around it.
  for (int dj = -1; dj <= 1 && leaf < 0; ++dj)
    for (int di = -1; di <= 1 && leaf < 0; ++di) {
      const int i = pi + di, j = pj + dj;
      if (i < 0 || j < 0 || i >= cw.w || j >= cw.h) continue;
      const int32_t l = cw.leaf[static_cast<size_t>(j) * cw.w + i];
      if (l < 0) continue;
      any_label = true;
      if (!fit.Wanted(l)) continue;
      candidate_rings.clear();
      for (const Ring& r : fit.rings[l]) candidate_rings.push_back(&r);
      if (EvenOdd(candidate_rings, x, y)) leaf = l;
    }
  return leaf;
}

// Each face goes to its owner county, then to the redrawn leaf whose traced
// shape on that county's window holds it (a copy in `faces_of`); faces of
// published area that no leaf reaches are counted in `lost_faces`.
Status AssignFaces(const Fit& fit, const Geos& geos, const GEOSGeometry* faces,
                   std::vector<std::vector<GeomPtr>>& faces_of, int64_t& lost_faces) {
  const GEOSContextHandle_t h = geos.h();
  const int face_count = GEOSGetNumGeometries_r(h, faces);
  std::vector<const Ring*> candidate_rings;
  for (int f = 0; f < face_count; ++f) {
    const GEOSGeometry* face = GEOSGetGeometryN_r(h, faces, f);
    double area = 0;
    if (!GEOSArea_r(h, face, &area) || area <= 0) continue;
    GeomPtr inside(GEOSPointOnSurface_r(h, face), GeomDeleter{h});
    double x = 0, y = 0;
    if (!inside || !GEOSGeomGetX_r(h, inside.get(), &x) || !GEOSGeomGetY_r(h, inside.get(), &y)) continue;
    const int32_t owner = fit.OwnerOf(x, y);
    if (owner < 0) continue;  // outside the city
    bool any_label = false;
    const int32_t leaf = LeafHolding(fit, fit.windows[owner], x, y, any_label, candidate_rings);
    if (leaf >= 0) {
      faces_of[leaf].emplace_back(GEOSGeom_clone_r(h, face), GeomDeleter{h});
      if (!faces_of[leaf].back()) return Failed(geos, "copying a face");
    } else if (!any_label) {
      ++lost_faces;  // published area no leaf reaches
    }
  }
  return Status::Ok();
}

// Each leaf's fitted shape: the union of its faces (taken over); every
// redrawn leaf must get one.
Status MergeLeafFaces(Fit& fit, const Geos& geos, std::vector<std::vector<GeomPtr>>& faces_of) {
  std::vector<Node>& nodes = fit.nodes;
  for (int32_t n = 0; n < fit.N; ++n) {
    if (faces_of[n].empty()) continue;
    std::vector<GEOSGeometry*> owned_faces;
    for (GeomPtr& f : faces_of[n]) owned_faces.push_back(f.release());
    auto merged = UnionOf(geos.h(), owned_faces);
    if (!merged) return Failed(geos, "merging the faces of " + nodes[n].code);
    nodes[n].fitted = std::move(*merged);
  }
  for (int32_t n = 0; n < fit.N; ++n)
    if (fit.Wanted(n) && nodes[n].fitted.empty())
      return Status(StatusCode::kInternal,
                    "generate: leaf " + nodes[n].code + " lies outside its county's published border");
  return Status::Ok();
}

// Inner nodes: the union of their children, deepest level first, so a
// node's shape is exactly what its children cover.
Status FitInnerNodes(Fit& fit, const Geos& geos) {
  std::vector<Node>& nodes = fit.nodes;
  const GEOSContextHandle_t h = geos.h();
  const int64_t ox2 = 2 * fit.frame.x0i, oy2 = 2 * fit.frame.y0i;
  for (Level level : {Level::kGrid, Level::kCommunity, Level::kTown}) {
    for (int32_t n = 0; n < fit.N; ++n) {
      if (!fit.redrawn[n] || nodes[n].children.empty() || nodes[n].level != level) continue;
      std::vector<GEOSGeometry*> parts;
      for (int32_t c : nodes[n].children) {
        bool ok = true;
        if (!nodes[c].fitted.empty()) {
          for (const Polygon& poly : nodes[c].fitted) ok = ok && AddPolygon(h, poly, parts);
        } else {
          for (const IntPolygon& poly : nodes[c].geom)
            ok = ok && AddPolygon(h, DegreesOf(poly, ox2, oy2, fit.inv2r), parts);
        }
        if (!ok) {
          for (GEOSGeometry* g : parts) GEOSGeom_destroy_r(h, g);
          return Failed(geos, "the shape of " + nodes[c].code);
        }
      }
      auto merged = UnionOf(h, parts);
      if (!merged) return Failed(geos, "merging the children of " + nodes[n].code);
      nodes[n].fitted = std::move(*merged);
    }
  }
  return Status::Ok();
}

}  // namespace

// The phases, in order: windows, redrawn nodes, tracing, one overlay of all
// the linework, faces to leaves, then the inner nodes.
Status FitCountyBorders(const GenerateOptions& options, const RasterFrame& frame, const LeafRaster& raster,
                        const std::vector<CountyShape>& shapes, CityTree& tree) {
  Fit fit(frame, raster, tree.nodes);
  ReportProgress(options, "fit", 0);
  MakeWindows(fit);
  ExtendWindows(fit, WindowBoxes(fit, shapes));
  MarkRedrawn(fit);

  Geos geos;
  TraceRedrawnLeaves(fit);
  ReportProgress(options, "fit", 0.2);
  Result<GeomPtr> faces = OverlayFaces(fit, geos);
  if (!faces.ok()) return faces.status();
  ReportProgress(options, "fit", 0.5);

  std::vector<std::vector<GeomPtr>> faces_of(fit.N);
  int64_t lost_faces = 0;
  if (Status s = AssignFaces(fit, geos, faces->get(), faces_of, lost_faces); !s.ok()) return s;
  if (Status s = MergeLeafFaces(fit, geos, faces_of); !s.ok()) return s;
  ReportProgress(options, "fit", 0.8);

  if (options.inner_geometry)
    if (Status s = FitInnerNodes(fit, geos); !s.ok()) return s;
  ReportProgress(options, "fit", 1);
  if (lost_faces) ReportNotice(options, std::to_string(lost_faces) + " pieces of published county area are in no leaf");
  return Status::Ok();
}

}  // namespace gridtree::generate

// S2Locator: MutableS2ShapeIndex + S2ContainsPointQuery (SEMI_OPEN).
#include "peer_s2.h"

#include <s2/mutable_s2shape_index.h>
#include <s2/s2contains_point_query.h>
#include <s2/s2lax_polygon_shape.h>
#include <s2/s2latlng.h>

#include <algorithm>
#include <chrono>

namespace gridtree::bench {
namespace {

S2Point ToS2(double lon, double lat) { return S2LatLng::FromDegrees(lat, lon).ToPoint(); }

}  // namespace

struct S2Locator::Impl {
  MutableS2ShapeIndex index;
  S2ContainsPointQuery<MutableS2ShapeIndex> query;
};

S2Locator::S2Locator(const std::vector<index::MultiPolygon>& leaves) : impl_(std::make_unique<Impl>()) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::vector<S2Point>> loops;
  for (const index::MultiPolygon& mp : leaves) {
    // All rings of all parts are loops of one lax polygon: outer rings run
    // counter-clockwise and holes clockwise in lon/lat, which keeps the
    // interior on the left of every loop on the sphere as S2 requires.
    loops.clear();
    for (const index::Polygon& part : mp.parts)
      for (const index::Ring& ring : part.rings) {
        loops.emplace_back();
        loops.back().reserve(ring.size());
        for (const index::Point& p : ring) loops.back().push_back(ToS2(p.x, p.y));
      }
    impl_->index.Add(std::make_unique<S2LaxPolygonShape>(loops));  // shape id = leaf number
  }
  impl_->index.ForceBuild();
  impl_->query.Init(&impl_->index, S2ContainsPointQueryOptions(S2VertexModel::SEMI_OPEN));
  build_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

S2Locator::~S2Locator() = default;

int32_t S2Locator::Locate(double lon, double lat) {
  int32_t best = -1;
  impl_->query.VisitContainingShapes(ToS2(lon, lat), [&best](S2Shape* shape) {
    if (best < 0 || shape->id() < best) best = shape->id();
    return true;
  });
  return best;
}

void S2Locator::Candidates(double lon, double lat, std::vector<int32_t>& out) {
  out.clear();
  impl_->query.VisitContainingShapes(ToS2(lon, lat), [&out](S2Shape* shape) {
    out.push_back(shape->id());
    return true;
  });
  std::sort(out.begin(), out.end());
}

size_t S2Locator::memory_bytes() const { return impl_->index.SpaceUsed(); }

}  // namespace gridtree::bench

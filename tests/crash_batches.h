// The deterministic batch number v of the crash test: the same in the
// writer process and in the test that checks what survived.
#pragma once

#include <string>

#include "gridtree/engine/engine.h"

namespace gridtree::testing {

inline UpdateBatch CrashBatch(const View& view, uint64_t v) {
  const Dataset& ds = view.dataset();
  const size_t leaves = ds.leaf_count();
  const std::string a(ds.ids[ds.leaf_nodes[(v * 7919) % leaves]]);
  const std::string b(ds.ids[ds.leaf_nodes[(v * 104729 + 13) % leaves]]);
  UpdateBatch batch;
  batch.updates.push_back({a, "population", MetricUpdate::Op::kSet, static_cast<int64_t>(v)});
  batch.updates.push_back({b, "households", MetricUpdate::Op::kAdd, 1});
  return batch;
}

}  // namespace gridtree::testing

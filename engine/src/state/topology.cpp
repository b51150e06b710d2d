#include "state/topology.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "storage/engine_image.h"

namespace gridtree::internal {

void FinishTopology(Topology& topology) {
  const Dataset& ds = topology.dataset;
  std::vector<int32_t> by_name(ds.node_count());
  for (size_t k = 0; k < ds.node_count(); ++k) by_name[k] = static_cast<int32_t>(k);
  std::stable_sort(by_name.begin(), by_name.end(), [&](int32_t a, int32_t b) { return ds.names[a] < ds.names[b]; });
  topology.names_sorted = std::move(by_name);
  std::vector<int32_t> first_leaf(ds.node_count() + 1, static_cast<int32_t>(ds.leaf_count()));
  for (size_t k = ds.node_count(); k-- > 0;)
    first_leaf[k] = ds.leaf_of_node[k] >= 0 ? ds.leaf_of_node[k] : first_leaf[k + 1];
  topology.first_leaf = std::move(first_leaf);
}

Result<ImageTopology> OpenImageTopology(const std::string& path, std::shared_ptr<const Executor> executor) {
  auto read = ReadEngineImage(path);
  if (!read.ok()) return read.status();
  ImageContents& c = read.value();
  ImageTopology out;
  out.topology = std::make_shared<Topology>();
  Topology& t = *out.topology;
  t.index = std::move(c.index);
  t.names_sorted = std::move(c.names_sorted);
  t.first_leaf = std::move(c.first_leaf);
  t.executor = std::move(executor);
  out.metrics = MetricsOver(c.node_values, c.dataset.node_count(), c.dataset.metric_count(), 0, c.dataset.storage);
  t.dataset = std::move(c.dataset);
  return out;
}

Result<std::shared_ptr<Topology>> BuildTopology(Dataset dataset, const EngineOptions& options,
                                                std::shared_ptr<const Executor> executor) {
  auto topology = std::make_shared<Topology>();
  index::PolygonIndexOptions io = options.index;
  io.threads = executor->threads();
  io.parallel_for = [ex = executor.get()](size_t n, const std::function<void(size_t)>& task) {
    ex->For(n, 1, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) task(i);
    });
  };
  std::string error;
  topology->index = index::PolygonIndex::Build(std::move(dataset.leaf_geometry), io, &error);
  if (!topology->index)
    return InvalidArgument((dataset.source.empty() ? std::string("dataset") : dataset.source) +
                           ": the spatial index cannot hold this dataset (" + error +
                           "); lower index cells_per_edge or max_cells");
  dataset.leaf_geometry.clear();
  topology->dataset = std::move(dataset);
  topology->executor = std::move(executor);
  FinishTopology(*topology);
  return topology;
}

}  // namespace gridtree::internal

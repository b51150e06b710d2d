// A writer process for the crash test: opens the dataset with a data
// directory and applies deterministic batches forever, printing
// "acked <version>" after each Apply returns (the batch is durable then).
// The test kills it with SIGKILL at random moments.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "crash_batches.h"
#include "gridtree/engine/engine.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DATASET DATA_DIR\n", argv[0]);
    return 2;
  }
  gridtree::EngineOptions options;
  options.data_dir = argv[2];
  options.threads = 1;
  auto engine = gridtree::Engine::Open(argv[1], options);
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  auto& e = *engine.value();
  const auto view = e.Read();
  std::printf("start %llu\n", static_cast<unsigned long long>(view->version()));
  std::fflush(stdout);
  for (uint64_t v = view->version() + 1;; ++v) {
    auto r = e.Apply(gridtree::testing::CrashBatch(*view, v));
    if (!r.ok() || r.value() != v) {
      std::fprintf(stderr, "apply %llu: %s\n", static_cast<unsigned long long>(v), r.status().ToString().c_str());
      return 1;
    }
    std::printf("acked %llu\n", static_cast<unsigned long long>(v));
    std::fflush(stdout);
    if (v % 200 == 0 && !e.Checkpoint().ok()) return 1;
  }
}

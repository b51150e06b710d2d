// Replaying a workload in process: N threads share one Engine and take
// request indices from a shared counter.
#pragma once

#include "gridtree/engine/engine.h"
#include "replay/report.h"
#include "replay/workload.h"

namespace gridtree::replay {

struct ReplayResult {
  RunInfo run;
  Tally tally;
};

struct LocalOptions {
  // Client threads issuing requests (each one request at a time).
  // DEFAULT: 1
  int threads = 1;
  // A progress line on stderr every second.
  // DEFAULT: false
  bool progress = false;
};

ReplayResult ReplayInProcess(const Engine& engine, const Workload& workload, const LocalOptions& options = {});

}  // namespace gridtree::replay

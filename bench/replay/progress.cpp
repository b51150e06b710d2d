// The once-a-second progress line of a replay.
#include "replay/progress.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>

namespace gridtree::replay {

Progress::Progress(std::string label, uint64_t total, const std::atomic<uint64_t>& done, bool enabled)
    : label_(std::move(label)), total_(total), done_(done) {
  if (enabled) thread_ = std::thread([this] { Loop(); });
}

Progress::~Progress() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Progress::Loop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  // wait_for returns true when stopped, so a short run prints nothing.
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    const uint64_t done = done_.load(std::memory_order_relaxed);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "%s: %5.1f%% %" PRIu64 "/%" PRIu64 " requests, %.0f req/s\n", label_.c_str(),
                 total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, done, total_,
                 static_cast<double>(done) / secs);
  }
}

}  // namespace gridtree::replay

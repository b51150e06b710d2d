// A progress line on stderr about once a second while a long replay runs:
// done/total, percent and the rate since the start.
//
// Thread safety: the counter is read with relaxed loads; workers bump it
// per chunk of requests, so the line may lag by one chunk.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace gridtree::replay {

class Progress {
 public:
  // Does nothing when !enabled.
  Progress(std::string label, uint64_t total, const std::atomic<uint64_t>& done, bool enabled);
  ~Progress();  // stops the reporter (no final line: the summary follows)
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

 private:
  void Loop();

  std::string label_;
  uint64_t total_;
  const std::atomic<uint64_t>& done_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace gridtree::replay

// What a replica keeps of its own state beyond the image: a digest to
// compare replicas by, and a local checkpoint (values, objects and the log
// position they stand at) to restart from without replaying the whole log.
//
// Thread safety: call with no other writer on the engine (the replica's
// log reader is its only writer), so that values and objects are of one
// position.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/status.h"

namespace gridtree::cluster {

// A digest of the replicated state: every leaf's dataset metrics and every
// tracked object (id, kind, position, time, leaf), in id order. Versions
// are left out: they count local events (a restart from a checkpoint), the
// digest only what the log made.
uint64_t StateDigest(const Engine& engine);

struct ReplicaCheckpoint {
  uint64_t fingerprint = 0;  // the image's
  uint64_t position = 0;     // last log position it holds
  int64_t log_time = 0;      // the time of that position's write
  size_t metric_count = 0;
  std::vector<int64_t> leaf_values;  // leaf * metric_count + metric
  std::vector<ObjectReport> objects;
};

inline constexpr const char* kCheckpointFile = "checkpoint.bin";

ReplicaCheckpoint TakeCheckpoint(const Engine& engine, uint64_t position, int64_t log_time);
// The bytes of a checkpoint (what checkpoint.bin holds, and what a replica
// publishes for others to join from), and back; `what` names the source in
// errors.
std::string SerializeCheckpoint(const ReplicaCheckpoint& checkpoint);
Result<ReplicaCheckpoint> ParseCheckpoint(const std::string& bytes, const std::string& what, uint64_t fingerprint,
                                          size_t leaf_count, size_t metric_count);
// DIR/checkpoint.bin, through a temporary file, fsync and rename.
Status WriteCheckpoint(const std::string& dir, const ReplicaCheckpoint& checkpoint);
// nullopt-like: position 0 and no values when there is none. A checkpoint
// of another image, or a damaged one, is an error naming the file.
Result<ReplicaCheckpoint> ReadCheckpoint(const std::string& dir, uint64_t fingerprint, size_t leaf_count, size_t metric_count);
// Sets the engine's values and objects to the checkpoint's (the engine
// fresh from the image, nobody subscribed yet).
Status RestoreCheckpoint(Engine& engine, const ReplicaCheckpoint& checkpoint);

}  // namespace gridtree::cluster

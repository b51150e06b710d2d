// ClusterLog: a replica's side of the cluster (docs/cluster.md). Writes go
// to one NATS JetStream stream, replicated on three servers by Raft and
// acknowledged once a quorum holds them; every replica reads the stream in
// order and applies each write to its engine, so that replicas at one
// position hold the same state. The stream position is the version a write
// answers with and a read may wait for.
//
// A replica with a data directory keeps a checkpoint there (values,
// objects, the position they stand at) and restarts from it; without one
// it replays the whole stream. The stream names the image it belongs to,
// and a replica of another image is refused.
//
// Thread safety: all methods may be called from any thread. The engine
// must not be written by anyone else while a ClusterLog runs on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/rpc/write_log.h"

namespace gridtree::cluster {

struct ClusterOptions {
  // NATS servers, "nats://HOST:PORT" (the client fails over between them).
  std::vector<std::string> servers;
  // The stream (created when absent) and its subject gridtree.<stream>.
  // DEFAULT: "gridtree"
  std::string stream = "gridtree";
  // Copies of the stream when this replica creates it. DEFAULT: 0
  // (3, or the number of servers when fewer are given)
  int stream_replicas = 0;
  // Where the local checkpoint lives; empty: none (replay from the start).
  // DEFAULT: ""
  std::string data_dir;
  // A write not acknowledged by JetStream in this time is refused.
  // DEFAULT: 5000 ms
  int64_t publish_timeout_ms = 5000;
  // A checkpoint is written after this many positions, or this many
  // seconds with anything new, and when the replica stops.
  // DEFAULT: 100'000 positions, 60 s
  uint64_t checkpoint_every_positions = 100'000;
  double checkpoint_every_seconds = 60;
  // Every this many positions a replica publishes its checkpoint to the
  // stream <stream>_checkpoints (one at a time, the newest kept), and the
  // log is trimmed up to the checkpoint published before it: a replica
  // that joins past the trimmed start begins from the newest published
  // checkpoint. 0: never (the stream keeps everything).
  // DEFAULT: 100'000
  uint64_t publish_checkpoint_every_positions = 100'000;
  // The engine's ObjectOptions::expire_after_s: with expiry on, each
  // replica puts an expiry mark in the log every expire_mark_seconds while
  // it tracks objects, and every replica expires at the marks' times.
  // DEFAULT: 0 (off), 5 s
  int64_t expire_after_s = 0;
  int64_t expire_mark_seconds = 5;
  // The engine's ObjectOptions::snap_m. It and expire_after_s decide what a
  // write does, so the stream records them and a replica with others is
  // refused. DEFAULT: 0
  double snap_objects_m = 0;
};

class ClusterLog final : public rpc::WriteLog {
 public:
  // Connects, finds or creates the stream, checks that it belongs to the
  // engine's image, restores the local checkpoint and starts reading.
  static Result<std::unique_ptr<ClusterLog>> Start(Engine& engine, ClusterOptions options);
  // Stops reading, writes a last checkpoint (with a data directory) and
  // disconnects; writes still waiting are refused.
  ~ClusterLog() override;

  void Apply(UpdateBatch batch, Done done) override;
  void Track(std::vector<ObjectReport> reports, Done done) override;
  void ExpireObjects() override;
  Status Checkpoint() override;
  rpc::ReplicaStatus status() const override;
  uint64_t applied_position() const override;

  struct Impl;

 private:
  explicit ClusterLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gridtree::cluster

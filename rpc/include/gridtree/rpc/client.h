// Client: a connection to a gridtree server, with helpers that hide the
// server's limits (a locate batch larger than one message allows is split
// into several calls and pipelined; an objects listing is paged).
//
// Thread safety: a Client belongs to the thread that created it (it owns
// that thread's kj event loop); use one Client per thread.
#pragma once

#include <capnp/ez-rpc.h>
#include <kj/async.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gridtree.capnp.h"

namespace gridtree::rpc {

struct ClientOptions {
  // Largest message this side accepts or sends; keep it equal to the
  // server's --max-message-bytes.
  // DEFAULT: 64 MiB
  uint64_t max_message_bytes = uint64_t{64} << 20;
  // Calls a split locate batch keeps in flight at once.
  // DEFAULT: 4
  uint32_t pipeline_depth = 4;
};

// Leaf numbers for lon[i], lat[i] through as many locateBatch calls as the
// server's limits (Info.limits) and max_message_bytes need, up to
// pipeline_depth at once. Works over any GridTree capability.
kj::Promise<std::vector<int32_t>> LocateColumns(proto::GridTree::Client gridtree, std::span<const double> lon,
                                                std::span<const double> lat, const ClientOptions& options = {});

// What ObjectsPaged collected: the pages as they came, in id order.
struct ObjectPages {
  std::vector<capnp::Response<proto::GridTree::ObjectsResults>> pages;
  uint64_t total = 0;            // objects the query selects, as the first page counted them
  uint64_t objects_version = 0;  // of the first page
  size_t size() const;           // objects in all pages
};

// The objects `query` selects (its where and kind; its offset and limit are
// ignored), from `offset` on, at most `limit` of them (0: all), through as
// many objects calls as the server's limits (Info.limits) and
// max_message_bytes need, one after another. A page the server refuses as
// too large is asked again at half the size. Objects that move between
// pages may be missed or seen twice; compare objects_version with the last
// page's to know. Works over any GridTree capability.
kj::Promise<ObjectPages> ObjectsPaged(proto::GridTree::Client gridtree, proto::ObjectQuery::Reader query,
                                      uint64_t offset = 0, uint64_t limit = 0, const ClientOptions& options = {});

class Client {
 public:
  // address: "HOST:PORT", "HOST" (port 7433) or "unix:/path"; or several,
  // comma-separated (the replicas of a cluster, docs/cluster.md): the
  // client uses the first that answers info(), in the order given.
  explicit Client(const std::string& address, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  proto::GridTree::Client& gridtree() { return gridtree_; }
  kj::WaitScope& wait_scope();
  const ClientOptions& options() const { return options_; }

  // The address in use.
  const std::string& address() const { return addresses_[current_]; }
  // Moves to the next address (in order, wrapping) that answers info();
  // false when none does (the client then stays where it was). Calls made
  // on the old connection fail; capabilities taken from gridtree() before
  // must be taken again.
  bool Failover();
  // From now on, gridtree() answers only once the server has applied the
  // replicated log up to `position` (GridTree.atPosition, pipelined: no
  // extra round trip); a server still behind after timeout_ms fails the
  // call with "lagging: ...". Position 0: no wait.
  void ReadAtLeast(uint64_t position, uint32_t timeout_ms = 0);

  // Runs the event loop for `ms` milliseconds: calls in flight progress and
  // capabilities the client serves (an event sink, a watcher) are called.
  void RunFor(uint32_t ms);

  // Blocking convenience form of LocateColumns.
  std::vector<int32_t> LocateColumnsSync(std::span<const double> lon, std::span<const double> lat);

 private:
  // Connects to addresses_[i]; true when it answers info() (unchecked when
  // it is the only address: the first call says what is wrong).
  bool ConnectTo(size_t i, bool check);
  ClientOptions options_;
  std::vector<std::string> addresses_;
  size_t current_ = 0;
  std::unique_ptr<capnp::EzRpcClient> ez_;
  proto::GridTree::Client gridtree_;
};

inline constexpr unsigned kDefaultPort = 7433;

}  // namespace gridtree::rpc

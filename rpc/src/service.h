// Internal: the capability implementations (GridTree, Writer, WatchHandle).
#pragma once

#include <memory>

#include "state.h"

namespace gridtree::rpc::internal {

// A GridTree capability bound to one connection's counters.
kj::Own<proto::GridTree::Server> NewGridTree(ServerState& state, std::shared_ptr<ConnState> conn);

// The locateBatch work, shared with HTTP: validates sizes (FAILED naming the
// field) and runs on the arena.
struct BatchAnswer {
  std::shared_ptr<const View> view;
  std::vector<int32_t> leaves;
};
kj::Promise<BatchAnswer> LocateBatchAsync(ServerState& state, capnp::List<double>::Reader lon,
                                          capnp::List<double>::Reader lat);

struct RegionAnswer {
  std::shared_ptr<const View> view;
  RegionResult result;
};
kj::Promise<RegionAnswer> RegionAsync(ServerState& state, RegionQuery query);

}  // namespace gridtree::rpc::internal

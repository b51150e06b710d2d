// Internal: the capability implementations (GridTree, Writer, WatchHandle).
#pragma once

#include <memory>

#include "state.h"

namespace gridtree::rpc::internal {

// A GridTree capability bound to one connection's counters.
kj::Own<proto::GridTree::Server> NewGridTree(ServerState& state, std::shared_ptr<ConnState> conn);

// The locateBatch work, shared with HTTP: validates sizes (FAILED naming the
// field) and runs on the engine executor.
struct BatchAnswer {
  std::shared_ptr<const View> view;  // everything below is from this one state
  std::vector<LeafId> leaves;
  // With chains: kLevelCount entries a point (index into chain_nodes by
  // level, -1 where the chain has no node of that level), and the nodes.
  std::vector<int32_t> chain_index;
  std::vector<NodeId> chain_nodes;
};
// Refuses (FAILED naming withChains or lon) an answer that would not fit in
// max_message_bytes, before building it.
kj::Promise<BatchAnswer> LocateBatchAsync(ServerState& state, capnp::List<double>::Reader lon,
                                          capnp::List<double>::Reader lat, bool with_chains);

struct RegionAnswer {
  std::shared_ptr<const View> view;
  RegionResult result;
};
kj::Promise<RegionAnswer> RegionAsync(ServerState& state, RegionQuery query);

}  // namespace gridtree::rpc::internal

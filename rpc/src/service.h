// Internal: the capability implementations (GridTree, Writer, WatchHandle).
#pragma once

#include <memory>
#include <string>

#include "state.h"

namespace gridtree::rpc::internal {

// A GridTree capability bound to one connection's counters.
kj::Own<proto::GridTree::Server> NewGridTree(ServerState& state, std::shared_ptr<ConnState> conn);

// Answer sizes, in 8-byte words as Cap'n Proto lays them out, estimated
// from the engine's answer before any message is built (docs/rpc.md
// "Limits"). Every method whose answer grows with the request or the data
// checks its estimate with CheckAnswerSize.
//
// The words a message's content may take in max_bytes, leaving room for the
// RPC message around it (Message, Return or Call, Payload, cap table).
uint64_t AnswerBudgetWords(uint64_t max_bytes);
// FAILED "<method>: the answer <what> would take B bytes, over
// max_message_bytes M; <how>" when `words` do not fit AnswerBudgetWords
// (B: the content and the envelope AnswerBudgetWords leaves room for).
void CheckAnswerSize(const char* method, uint64_t words, const std::string& what, uint64_t max_bytes,
                     const std::string& how);
// One element of a List(ObjectEvent), texts included (event pushes).
uint64_t ObjectEventWords(const ObjectEvent& event);
// One element of a List(Aggregate), its NodeRef and values included (watch
// pushes and aggregate answers).
uint64_t AggregateWords(const View& view, NodeId node);

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
// Refuses (FAILED, CheckAnswerSize) an answer that would not fit in
// max_message_bytes, before building it.
kj::Promise<BatchAnswer> LocateBatchAsync(ServerState& state, capnp::List<double>::Reader lon,
                                          capnp::List<double>::Reader lat, bool with_chains);

struct RegionAnswer {
  std::shared_ptr<const View> view;
  RegionResult result;
};
kj::Promise<RegionAnswer> RegionAsync(ServerState& state, RegionQuery query);

}  // namespace gridtree::rpc::internal

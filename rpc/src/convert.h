// Internal: engine values <-> Cap'n Proto values, shared by the RPC methods
// and the HTTP port. Request readers are validated here; errors name the
// field (FAILED), see docs/rpc.md.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "gridtree.capnp.h"
#include "gridtree/engine/engine.h"
#include "gridtree/rpc/server.h"

namespace gridtree::rpc::internal {

proto::Level ToProto(Level level);
Level FromProto(proto::Level level);

void FillNodeRef(proto::NodeRef::Builder out, const View& view, NodeId node);
void FillChain(capnp::List<proto::NodeRef>::Builder out, const View& view, const Chain& chain);
// Node by id; FAILED "<field>: unknown node id \"...\"" when absent.
NodeId RequireNode(const View& view, kj::StringPtr id, const char* field);

void FillInfo(proto::Info::Builder out, const View& view, const ServerOptions& options);
void FillNodeInfo(proto::NodeInfo::Builder out, const View& view, NodeId node);
void FillAggregate(proto::Aggregate::Builder out, const View& view, NodeId node);
// value: the density when the query ranked by density, else the count.
void FillTopK(capnp::List<proto::TopEntry>::Builder out, const View& view, const TopKResult& r, bool density);
void FillLocate(proto::LocateResult::Builder out, const View& view, const LocateResult& r);
void FillRegionResult(proto::RegionResult::Builder out, const View& view, const RegionResult& r);

// Request -> engine query; throws FAILED naming the bad field.
RegionQuery RegionQueryFromProto(proto::RegionQuery::Reader query);
UpdateBatch UpdatesFromProto(capnp::List<proto::MetricUpdate>::Reader updates);
// Reports as they come; the engine checks them (Engine::Track).
std::vector<ObjectReport> ReportsFromProto(capnp::List<proto::ObjectReport>::Reader reports);
ObjectQuery ObjectQueryFromProto(proto::ObjectQuery::Reader query);

void FillTrackedObject(proto::TrackedObject::Builder out, const TrackedObject& o);
void FillObjectEvent(proto::ObjectEvent::Builder out, const ObjectEvent& e);

// Constant-time comparison of a presented token with the configured one.
bool TokenEquals(std::string_view presented, std::string_view expected);

}  // namespace gridtree::rpc::internal

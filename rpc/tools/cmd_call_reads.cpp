// gridtree call info | locate | node | children | path | aggregate | topk:
// the reads of the dataset, asked again of the next server of --connect
// when one is lost (GuardedRead).
#include "cmd_call.h"
#include "gridtree/rpc/answer_json.h"

namespace gridtree::cli {
namespace {

// node, children and path: one node id, one call.
CLI::App* AddNodeIdSubcommand(CLI::App& call, const std::string& name, std::string& id) {
  auto* sub = call.add_subcommand(name, "The " + name + " of a node");
  sub->add_option("id", id, "Node id")->required();
  return sub;
}

struct AggregateArgs {
  std::vector<std::string> ids;
  std::vector<double> circle, box;  // CLI11 splits the commas and checks the numbers
  std::string wkt, mode = "intersecting", group_by;
};

// Aggregates of the nodes given by id, in one call.
void AggregateNodes(rpc::Client& c, const std::vector<std::string>& node_ids) {
  auto req = c.gridtree().aggregateRequest();
  auto ids = req.initIds(static_cast<unsigned>(node_ids.size()));
  for (size_t i = 0; i < node_ids.size(); ++i) ids.set(static_cast<unsigned>(i), node_ids[i]);
  auto r = req.send().wait(c.wait_scope());
  std::cout << rpc::AggregatesJson(r.getAggregates(), r.getDatasetVersion(), r.getVersion(),
                                   MetricNamesOf(c, r.getDatasetVersion()))
            << std::endl;
}

// The region and mode of the command line, checked in that order.
void SetRegionQuery(proto::RegionQuery::Builder q, const AggregateArgs& a) {
  auto region = q.initRegion();
  if (!a.circle.empty()) SetCircle(region.initCircle(), a.circle);
  else if (!a.box.empty()) SetBox(region.initBox(), a.box);
  else if (!a.wkt.empty()) region.setWkt(a.wkt);
  else Fail("call", "give --node ID, --circle, --bbox or --wkt");
  if (a.mode == "intersecting") q.setMode(proto::RegionMode::INTERSECTING);
  else if (a.mode == "contained") q.setMode(proto::RegionMode::CONTAINED);
  else if (a.mode == "area_weighted") q.setMode(proto::RegionMode::AREA_WEIGHTED);
  else Fail("call", "--mode: expected intersecting, contained or area_weighted");
  if (!a.group_by.empty()) q.getGroupBy().setLevel(LevelArg(a.group_by));
}

}  // namespace

void RegisterCallInfo(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto* info = call.add_subcommand("info", "Dataset version, counts, metric names, limits");
  info->callback(GuardedRead(common, [common] {
    auto c = common->Connect();
    std::cout << rpc::InfoJson(c->gridtree().infoRequest().send().wait(c->wait_scope()).getInfo()) << std::endl;
  }));
}

void RegisterCallLocate(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::vector<double> lonlat;
    double max_distance_m = 0;
  };
  auto a = std::make_shared<Args>();
  auto* locate = call.add_subcommand("locate", "The leaf holding LON LAT and its chain");
  locate->add_option("lonlat", a->lonlat, "LON LAT")->expected(2)->required();
  locate->add_option("--max-distance", a->max_distance_m, "Snap misses within this many metres");
  locate->callback(GuardedRead(common, [common, a] {
    auto c = common->Connect();
    auto req = c->gridtree().locateRequest();
    req.setLon(a->lonlat[0]);
    req.setLat(a->lonlat[1]);
    req.setMaxDistanceM(a->max_distance_m);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::LocateJson(r.getResult()) << std::endl;
    if (!r.getResult().getFound()) throw CLI::RuntimeError(2);  // a miss: no message, its own status
  }));
}

void RegisterCallNode(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto id = std::make_shared<std::string>();
  AddNodeIdSubcommand(call, "node", *id)->callback(GuardedRead(common, [common, id] {
    auto c = common->Connect();
    auto req = c->gridtree().nodeRequest();
    req.setId(*id);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::NodeJson(r.getNode(), MetricNamesOf(*c, r.getNode().getDatasetVersion())) << std::endl;
  }));
}

void RegisterCallChildren(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto id = std::make_shared<std::string>();
  AddNodeIdSubcommand(call, "children", *id)->callback(GuardedRead(common, [common, id] {
    auto c = common->Connect();
    auto req = c->gridtree().childrenRequest();
    req.setId(*id);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::ChildrenJson(r.getChildren(), r.getDatasetVersion()) << std::endl;
  }));
}

void RegisterCallPath(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto id = std::make_shared<std::string>();
  AddNodeIdSubcommand(call, "path", *id)->callback(GuardedRead(common, [common, id] {
    auto c = common->Connect();
    auto req = c->gridtree().pathRequest();
    req.setId(*id);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::PathJson(r.getChain(), r.getDatasetVersion()) << std::endl;
  }));
}

void RegisterCallAggregate(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto a = std::make_shared<AggregateArgs>();
  auto* agg = call.add_subcommand("aggregate", "Aggregates of nodes, or of a region");
  agg->add_option("--node", a->ids, "Node id (repeatable)");
  agg->add_option("--circle", a->circle, "LON,LAT,RADIUS_M")->delimiter(',')->expected(3);
  agg->add_option("--bbox,--box", a->box, "WEST,SOUTH,EAST,NORTH (--box: the old name)")->delimiter(',')->expected(4);
  agg->add_option("--wkt", a->wkt, "POLYGON((...)) or MULTIPOLYGON(...)");
  agg->add_option("--mode", a->mode, "intersecting | contained | area_weighted")->capture_default_str();
  agg->add_option("--group-by", a->group_by, "Level to group rows by");
  agg->callback(GuardedRead(common, [common, a] {
    auto c = common->Connect();
    if (!a->ids.empty()) return AggregateNodes(*c, a->ids);
    auto req = c->gridtree().regionAggregateRequest();
    SetRegionQuery(req.initQuery(), *a);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::RegionJson(r.getResult(), MetricNamesOf(*c, r.getResult().getDatasetVersion())) << std::endl;
  }));
}

void RegisterCallTopK(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::string level, metric, within;
    uint32_t k = 10;
    bool density = false;
  };
  auto a = std::make_shared<Args>();
  auto* topk = call.add_subcommand("topk", "The K nodes of a level with the highest metric");
  topk->add_option("--level", a->level, "Level")->required();
  topk->add_option("--metric", a->metric, "Metric name")->required();
  topk->add_option("--k", a->k, "How many")->capture_default_str();
  topk->add_option("--within", a->within, "Only inside this node");
  topk->add_flag("--density", a->density, "Rank by metric per km²");
  topk->callback(GuardedRead(common, [common, a] {
    auto c = common->Connect();
    auto req = c->gridtree().topKRequest();
    auto q = req.initQuery();
    q.setLevel(LevelArg(a->level));
    q.setMetric(a->metric);
    q.setK(a->k);
    q.setWithin(a->within);
    q.setDensity(a->density);
    auto r = req.send().wait(c->wait_scope());
    std::cout << rpc::TopKJson(r.getEntries(), a->metric, a->density, r.getDatasetVersion(), r.getVersion())
              << std::endl;
  }));
}

}  // namespace gridtree::cli

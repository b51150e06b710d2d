// gridtree call objects | nearest: the tracked objects of a place.
#include <cmath>
#include <cstdio>

#include "cmd_call.h"
#include "gridtree/engine/json_text.h"

namespace gridtree::cli {
namespace {

// One JSON object per tracked object.
std::string ObjectJson(proto::TrackedObject::Reader o, bool with_distance) {
  std::string out = "{\"id\":";
  AppendJsonString(out, o.getId().cStr());
  out += ",\"kind\":";
  AppendJsonString(out, o.getKind().cStr());
  out += ",\"lon\":";
  AppendJsonNumber(out, o.getLon());
  out += ",\"lat\":";
  AppendJsonNumber(out, o.getLat());
  out += ",\"time\":" + std::to_string(o.getTime()) + ",\"leaf\":";
  AppendJsonString(out, o.getLeaf().cStr());
  if (with_distance) {
    out += ",\"distance_m\":";
    AppendJsonNumber(out, std::round(o.getDistanceM() * 100) / 100);
  }
  return out + "}";
}

struct ObjectsArgs {
  std::string node, kind;
  std::vector<double> box, circle;  // CLI11 splits the commas and checks the numbers
  uint32_t offset = 0;
  uint64_t limit = 0;  // all by default, in as many calls as the server's limits need
  bool json = false;
};

// Where to look: exactly one of --node, --bbox, --circle.
void SetObjectQuery(proto::ObjectQuery::Builder q, const ObjectsArgs& a) {
  const int given = !a.node.empty() + !a.box.empty() + !a.circle.empty();
  if (given != 1) Fail("call", "give one of --node ID, --bbox W,S,E,N or --circle LON,LAT,M");
  if (!a.node.empty()) q.getWhere().setNode(a.node);
  if (!a.box.empty()) SetBox(q.getWhere().initBox(), a.box);
  if (!a.circle.empty()) SetCircle(q.getWhere().initCircle(), a.circle);
  q.setKind(a.kind);
}

void PrintObjects(const rpc::ObjectPages& r, bool json) {
  if (json) {
    std::string out = "{\"total\":" + std::to_string(r.total) +
                      ",\"objects_version\":" + std::to_string(r.objects_version) + ",\"objects\":[";
    bool first = true;
    for (const auto& page : r.pages)
      for (auto o : page.getObjects()) {  // read once: every get of a list counts against the traversal limit
        out += (first ? "" : ",") + ObjectJson(o, false);
        first = false;
      }
    std::cout << out << "]}" << std::endl;
    return;
  }
  for (const auto& page : r.pages)
    for (auto o : page.getObjects())
      std::printf("%s\t%s\t%.6f\t%.6f\t%s\n", o.getId().cStr(), o.getKind().cStr(), o.getLon(), o.getLat(),
                  o.getLeaf().size() ? o.getLeaf().cStr() : "(outside)");
  std::printf("%llu object(s)\n", static_cast<unsigned long long>(r.total));
}

}  // namespace

void RegisterCallObjects(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto a = std::make_shared<ObjectsArgs>();
  auto* objects = call.add_subcommand("objects", "Tracked objects in a node, a box or a circle");
  objects->add_option("--node", a->node, "Node id: its whole subtree");
  objects->add_option("--bbox", a->box, "WEST,SOUTH,EAST,NORTH")->delimiter(',')->expected(4);
  objects->add_option("--circle", a->circle, "LON,LAT,RADIUS_M")->delimiter(',')->expected(3);
  objects->add_option("--kind", a->kind, "Only this kind");
  objects->add_option("--offset", a->offset, "Skip this many (by id)")->capture_default_str();
  objects->add_option("--limit", a->limit, "At most this many (0: all)")->capture_default_str();
  objects->add_flag("--json", a->json, "One JSON object instead of one line per object");
  objects->callback(GuardedRead(common, [common, a] {
    auto c = common->Connect();
    capnp::MallocMessageBuilder query;
    auto q = query.initRoot<proto::ObjectQuery>();
    SetObjectQuery(q, *a);
    const rpc::ObjectPages r =
        rpc::ObjectsPaged(c->gridtree(), q.asReader(), a->offset, a->limit, c->options()).wait(c->wait_scope());
    PrintObjects(r, a->json);
  }));
}

void RegisterCallNearest(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::vector<double> lonlat;
    uint32_t k = 10;
    std::string kind;
  };
  auto a = std::make_shared<Args>();
  auto* nearest = call.add_subcommand("nearest", "The K tracked objects nearest to LON LAT");
  nearest->add_option("lonlat", a->lonlat, "LON LAT")->expected(2)->required();
  nearest->add_option("-k", a->k, "How many")->capture_default_str();
  nearest->add_option("--kind", a->kind, "Only this kind");
  nearest->callback(GuardedRead(common, [common, a] {
    auto c = common->Connect();
    auto req = c->gridtree().nearestRequest();
    req.setLon(a->lonlat[0]);
    req.setLat(a->lonlat[1]);
    req.setK(a->k);
    req.setKind(a->kind);
    auto r = req.send().wait(c->wait_scope());
    std::string out = "{\"objects\":[";
    const auto objects = r.getObjects();  // read once: every get of a list counts against the traversal limit
    for (unsigned i = 0; i < objects.size(); ++i) out += (i ? "," : "") + ObjectJson(objects[i], true);
    std::cout << out << "]}" << std::endl;
  }));
}

}  // namespace gridtree::cli

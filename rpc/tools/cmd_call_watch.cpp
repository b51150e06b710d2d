// gridtree call events | watch: subscriptions; each prints what the server
// pushes, one JSON object per line, until --count pushes or until killed.
#include "cmd_call.h"
#include "gridtree/engine/json_text.h"
#include "gridtree/engine/level.h"
#include "gridtree/rpc/answer_json.h"

namespace gridtree::cli {
namespace {

// Prints each push with its metrics named; after a reload (a push of
// another dataset version) it asks the server for the new names first.
class PrintingWatcher final : public proto::Watcher::Server {
 public:
  PrintingWatcher(int64_t count, kj::Own<kj::PromiseFulfiller<void>> done, proto::GridTree::Client gridtree)
      : left_(count), done_(kj::mv(done)), gridtree_(kj::mv(gridtree)) {}
  kj::Promise<void> push(PushContext ctx) override {
    if (ctx.getParams().getDatasetVersion() == names_version_) {
      Print(ctx);
      return kj::READY_NOW;
    }
    return gridtree_.infoRequest().send().then([this, ctx](auto info) mutable {
      metric_names_ = NamesOf(info.getInfo());
      names_version_ = info.getInfo().getDatasetVersion();
      Print(ctx);
    });
  }

 private:
  void Print(PushContext& ctx) {
    auto p = ctx.getParams();
    std::cout << rpc::AggregatesJson(p.getNodes(), p.getDatasetVersion(), p.getVersion(), metric_names_) << std::endl;
    if (left_ > 0 && --left_ == 0) done_->fulfill();
  }
  int64_t left_;
  kj::Own<kj::PromiseFulfiller<void>> done_;
  proto::GridTree::Client gridtree_;
  std::vector<std::string> metric_names_;
  uint64_t names_version_ = 0;  // no dataset has version 0: the first push asks
};

std::string EventJson(proto::ObjectEvent::Reader e) {
  std::string out = "{\"event\":\"";
  out += e.getType() == proto::ObjectEvent::Type::ENTER ? "enter" : "exit";
  out += "\",\"object\":";
  AppendJsonString(out, e.getObjectId().cStr());
  out += ",\"kind\":";
  AppendJsonString(out, e.getKind().cStr());
  out += ",\"node\":";
  AppendJsonString(out, e.getNode().cStr());
  out += ",\"level\":\"";
  out += LevelName(static_cast<Level>(static_cast<uint16_t>(e.getLevel())));
  out += "\",\"expired\":";
  out += e.getExpired() ? "true" : "false";
  out += ",\"time\":" + std::to_string(e.getTime()) + ",\"lon\":";
  AppendJsonNumber(out, e.getLon());
  out += ",\"lat\":";
  AppendJsonNumber(out, e.getLat());
  return out + "}";
}

// Prints each enter/exit event as one JSON line.
class PrintingEventSink final : public proto::EventSink::Server {
 public:
  PrintingEventSink(int64_t count, kj::Own<kj::PromiseFulfiller<void>> done) : left_(count), done_(kj::mv(done)) {}
  kj::Promise<void> push(PushContext ctx) override {
    for (auto e : ctx.getParams().getEvents()) {
      std::cout << EventJson(e) << std::endl;
      if (left_ > 0 && --left_ == 0) {
        done_->fulfill();
        break;
      }
    }
    return kj::READY_NOW;
  }

 private:
  int64_t left_;
  kj::Own<kj::PromiseFulfiller<void>> done_;
};

}  // namespace

void RegisterCallEvents(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::vector<std::string> nodes, levels, kinds;
    int64_t count = 0;
  };
  auto a = std::make_shared<Args>();
  auto* events = call.add_subcommand("events", "Print enter/exit events as they happen, one JSON object per line");
  events->add_option("--node", a->nodes, "Only events of this node (repeatable)");
  events->add_option("--level", a->levels, "Only events at this level (repeatable)");
  events->add_option("--kind", a->kinds, "Only this kind (repeatable)");
  events->add_option("--count", a->count, "Exit after this many events (0: run until killed)")->capture_default_str();
  events->callback(Guarded([common, a] {
    auto c = common->Connect();
    auto paf = kj::newPromiseAndFulfiller<void>();
    auto req = c->gridtree().eventsRequest();
    auto nodes = req.initNodes(static_cast<unsigned>(a->nodes.size()));
    for (size_t i = 0; i < a->nodes.size(); ++i) nodes.set(static_cast<unsigned>(i), a->nodes[i]);
    auto levels = req.initLevels(static_cast<unsigned>(a->levels.size()));
    for (size_t i = 0; i < a->levels.size(); ++i) levels.set(static_cast<unsigned>(i), LevelArg(a->levels[i]));
    auto kinds = req.initKinds(static_cast<unsigned>(a->kinds.size()));
    for (size_t i = 0; i < a->kinds.size(); ++i) kinds.set(static_cast<unsigned>(i), a->kinds[i]);
    req.setSink(kj::heap<PrintingEventSink>(a->count, kj::mv(paf.fulfiller)));
    auto handle = req.send().wait(c->wait_scope()).getHandle();  // dropping it would end the subscription
    std::cerr << "listening for events" << std::endl;
    paf.promise.wait(c->wait_scope());
  }));
}

void RegisterCallWatch(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::vector<std::string> ids;
    int64_t count = 0;
  };
  auto a = std::make_shared<Args>();
  auto* watch = call.add_subcommand("watch", "Print the aggregates of nodes after every batch that changes them");
  watch->add_option("ids", a->ids, "Node ids")->required();
  watch->add_option("--count", a->count, "Exit after this many pushes (0: run until killed)")->capture_default_str();
  watch->callback(Guarded([common, a] {
    auto c = common->Connect();
    auto paf = kj::newPromiseAndFulfiller<void>();
    auto req = c->gridtree().watchRequest();
    auto ids = req.initIds(static_cast<unsigned>(a->ids.size()));
    for (size_t i = 0; i < a->ids.size(); ++i) ids.set(static_cast<unsigned>(i), a->ids[i]);
    req.setCallback(kj::heap<PrintingWatcher>(a->count, kj::mv(paf.fulfiller), c->gridtree()));
    auto handle = req.send().wait(c->wait_scope()).getHandle();  // dropping it would end the watch
    std::cerr << "watching " << a->ids.size() << " node(s)" << std::endl;
    paf.promise.wait(c->wait_scope());
  }));
}

}  // namespace gridtree::cli

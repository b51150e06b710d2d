// gridtree call: a command-line client of `gridtree serve`. Prints one JSON
// object per answer: metrics by name with exact counts as integers and
// area-weighted values rounded (call_output.h); answers without metric
// values as capnp's JsonCodec writes them (64-bit integers as strings).
#include <capnp/compat/json.h>
#include <kj/debug.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <span>
#include <sstream>

#include "batch_json.h"
#include "call_output.h"
#include "positions_csv.h"
#include "commands.h"
#include "gridtree/engine/json_text.h"
#include "gridtree/rpc/client.h"
#include "serve_util.h"

namespace gridtree::cli {
namespace {

// TrackRequestBytes (positions_csv.h) counts an ObjectReport as this schema lays it out.
static_assert(proto::ObjectReport::_capnpPrivate::dataWordSize + proto::ObjectReport::_capnpPrivate::pointerCount ==
              kObjectReportWords);

template <typename Reader>
void Print(Reader r) {
  capnp::JsonCodec json;
  const kj::String text = json.encode(r);  // a Text's bytes as they are: made valid UTF-8 here
  std::cout << ValidUtf8(std::string_view(text.cStr(), text.size())) << std::endl;
}

template <typename T>
void PrintResponse(const capnp::Response<T>& r) {
  Print(static_cast<const typename T::Reader&>(r));
}

std::vector<std::string> NamesOf(proto::Info::Reader info) {
  std::vector<std::string> names;
  for (auto n : info.getMetricNames()) names.emplace_back(n.cStr());
  return names;
}

// The metric names of the dataset an answer came from (asked after the
// answer, so a reload in between is seen and reported, never mislabelled).
std::vector<std::string> MetricNamesOf(rpc::Client& c, uint64_t dataset_version) {
  auto info = c.gridtree().infoRequest().send().wait(c.wait_scope());
  if (info.getInfo().getDatasetVersion() != dataset_version)
    Fail("call", "the server reloaded its dataset during the call (dataset version " + std::to_string(dataset_version) +
         " -> " + std::to_string(info.getInfo().getDatasetVersion()) + "); run it again");
  return NamesOf(info.getInfo());
}

std::string Token(const std::string& file) {
  if (!file.empty()) {
    std::string t = ReadTokenFile(file);
    if (t.empty()) Fail("call", "token file " + file + " is missing or empty");
    return t;
  }
  if (const char* env = std::getenv("GRIDTREE_WRITER_TOKEN")) return env;
  Fail("call", "give --token-file F (or set GRIDTREE_WRITER_TOKEN)");
}

proto::Level LevelArg(const std::string& s) {
  auto l = ParseLevel(s);
  if (!l) Fail("call", "unknown level \"" + s + "\"");
  return static_cast<proto::Level>(static_cast<uint16_t>(*l));
}

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
    std::cout << AggregatesJson(p.getNodes(), p.getDatasetVersion(), p.getVersion(), metric_names_) << std::endl;
    if (left_ > 0 && --left_ == 0) done_->fulfill();
  }
  int64_t left_;
  kj::Own<kj::PromiseFulfiller<void>> done_;
  proto::GridTree::Client gridtree_;
  std::vector<std::string> metric_names_;
  uint64_t names_version_ = 0;  // no dataset has version 0: the first push asks
};

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

// Prints each enter/exit event as one JSON line.
class PrintingEventSink final : public proto::EventSink::Server {
 public:
  PrintingEventSink(int64_t count, kj::Own<kj::PromiseFulfiller<void>> done) : left_(count), done_(kj::mv(done)) {}
  kj::Promise<void> push(PushContext ctx) override {
    for (auto e : ctx.getParams().getEvents()) {
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
      std::cout << out << "}" << std::endl;
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

// The message of a refused track call with its "report K of M" (1-based,
// in the call that held rows[begin, ...)) rewritten as FILE:LINE.
std::string AtLine(std::string message, const std::vector<PositionRow>& rows, size_t begin, const std::string& file) {
  const std::string remote = "remote exception: ";
  if (auto at = message.find(remote); at != std::string::npos) message = message.substr(at + remote.size());
  const size_t at = message.find("report ");
  if (at == std::string::npos) return message;
  size_t k = 0, m = 0;
  int used = 0;
  if (std::sscanf(message.c_str() + at + 7, "%zu of %zu%n", &k, &m, &used) != 2 || k == 0 || begin + k > rows.size())
    return message;
  return message.substr(0, at) + file + ":" + std::to_string(rows[begin + k - 1].line) +
         message.substr(at + 7 + static_cast<size_t>(used));
}

// Runs a subcommand; a remote or connection error becomes a clean message
// and exit status 1 (3 for OVERLOADED: retry later).
template <typename Fn>
std::function<void()> Guarded(Fn fn) {
  return [fn]() {
    try {
      fn();
    } catch (const kj::Exception& e) {
      std::string msg = e.getDescription().cStr();
      const std::string remote = "remote exception: ";
      if (auto at = msg.find(remote); at != std::string::npos) msg = msg.substr(at + remote.size());
      Fail("call", msg, e.getType() == kj::Exception::Type::OVERLOADED ? 3 : 1);
    }
  };
}

// A read: when the connection is lost and --connect names several servers,
// it is asked again of the next one (a write is not: whether it was applied
// is not known, and the error says so).
template <typename Fn>
std::function<void()> GuardedRead(std::string* connect, Fn fn) {
  return Guarded([connect, fn]() {
    const size_t addresses = static_cast<size_t>(std::count(connect->begin(), connect->end(), ',')) + 1;
    for (size_t attempt = 1;; ++attempt) {
      try {
        fn();
        return;
      } catch (const kj::Exception& e) {
        if (e.getType() != kj::Exception::Type::DISCONNECTED || attempt >= addresses) throw;
        // The next address first: rotate the list.
        const size_t comma = connect->find(',');
        *connect = connect->substr(comma + 1) + "," + connect->substr(0, comma);
      }
    }
  });
}

}  // namespace

void RegisterCall(CLI::App& app) {
  auto* cmd = app.add_subcommand("call", "Call a running gridtree server (JSON output)");
  cmd->require_subcommand(1);
  struct Args {
    std::string connect = "127.0.0.1:7433";
    uint64_t max_message_bytes = uint64_t{64} << 20;
    std::vector<double> lonlat;
    double max_distance_m = 0;
    std::string id, wkt, mode = "intersecting", group_by, token_file, file, metric, level, within, path;
    std::vector<double> circle, box;  // CLI11 splits the commas and checks the numbers
    std::vector<std::string> ids, levels, kinds;
    std::string kind;
    uint32_t k = 10, offset = 0, limit = 1000;
    size_t batch = 10000;
    bool partial = false;  // track: calls of `batch` reports, each applied on its own
    bool density = false, json = false;
    int64_t count = 0;
    uint64_t min_position = 0;
    uint32_t min_position_wait_ms = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--connect", a->connect,
                  "Server address: HOST:PORT or unix:/path; several, comma-separated: the replicas of a cluster "
                  "(the first that answers; reads move to the next when one is lost)")
      ->capture_default_str();
  cmd->add_option("--min-position", a->min_position,
                  "Cluster: answer only once the server has applied this log position (a write's \"position\")");
  cmd->add_option("--min-position-wait-ms", a->min_position_wait_ms,
                  "Cluster: how long a lagging server may wait for --min-position (0: the server's default, 5000)");
  cmd->add_option("--max-message-bytes", a->max_message_bytes, "Largest message (match the server)")
      ->capture_default_str();
  auto client = [a] {
    auto c = std::make_unique<rpc::Client>(a->connect, rpc::ClientOptions{a->max_message_bytes, 4});
    c->ReadAtLeast(a->min_position, a->min_position_wait_ms);
    return c;
  };

  auto* info = cmd->add_subcommand("info", "Dataset version, counts, metric names, limits");
  info->callback(GuardedRead(&a->connect, [client] {
    auto c = client();
    Print(c->gridtree().infoRequest().send().wait(c->wait_scope()).getInfo());
  }));

  auto* locate = cmd->add_subcommand("locate", "The leaf holding LON LAT and its chain");
  locate->add_option("lonlat", a->lonlat, "LON LAT")->expected(2)->required();
  locate->add_option("--max-distance", a->max_distance_m, "Snap misses within this many metres");
  locate->callback(GuardedRead(&a->connect, [a, client] {
    auto c = client();
    auto req = c->gridtree().locateRequest();
    req.setLon(a->lonlat[0]);
    req.setLat(a->lonlat[1]);
    req.setMaxDistanceM(a->max_distance_m);
    auto r = req.send().wait(c->wait_scope());
    Print(r.getResult());
    if (!r.getResult().getFound()) throw CLI::RuntimeError(2);
  }));

  for (const char* name : {"node", "children", "path"}) {
    auto* sub = cmd->add_subcommand(name, std::string("The ") + name + " of a node");
    sub->add_option("id", a->id, "Node id")->required();
    sub->callback(GuardedRead(&a->connect, [a, client, name = std::string(name)] {
      auto c = client();
      auto& gt = c->gridtree();
      auto& ws = c->wait_scope();
      if (name == "node") {
        auto req = gt.nodeRequest();
        req.setId(a->id);
        auto r = req.send().wait(ws);
        std::cout << NodeInfoJson(r.getNode(), MetricNamesOf(*c, r.getNode().getDatasetVersion())) << std::endl;
      } else if (name == "children") {
        auto req = gt.childrenRequest();
        req.setId(a->id);
        auto r = req.send().wait(ws);
        PrintResponse(r);
      } else {
        auto req = gt.pathRequest();
        req.setId(a->id);
        auto r = req.send().wait(ws);
        PrintResponse(r);
      }
    }));
  }

  auto* agg = cmd->add_subcommand("aggregate", "Aggregates of nodes, or of a region");
  agg->add_option("--node", a->ids, "Node id (repeatable)");
  agg->add_option("--circle", a->circle, "LON,LAT,RADIUS_M")->delimiter(',')->expected(3);
  agg->add_option("--box", a->box, "WEST,SOUTH,EAST,NORTH")->delimiter(',')->expected(4);
  agg->add_option("--wkt", a->wkt, "POLYGON((...)) or MULTIPOLYGON(...)");
  agg->add_option("--mode", a->mode, "intersecting | contained | area_weighted")->capture_default_str();
  agg->add_option("--group-by", a->group_by, "Level to group rows by");
  agg->callback(GuardedRead(&a->connect, [a, client] {
    auto c = client();
    auto& ws = c->wait_scope();
    if (!a->ids.empty()) {
      auto req = c->gridtree().aggregateRequest();
      auto ids = req.initIds(static_cast<unsigned>(a->ids.size()));
      for (size_t i = 0; i < a->ids.size(); ++i) ids.set(static_cast<unsigned>(i), a->ids[i]);
      auto r = req.send().wait(ws);
      std::cout << AggregatesJson(r.getAggregates(), r.getDatasetVersion(), r.getVersion(),
                                  MetricNamesOf(*c, r.getDatasetVersion()))
                << std::endl;
      return;
    }
    auto req = c->gridtree().regionAggregateRequest();
    auto q = req.initQuery();
    auto region = q.initRegion();
    if (!a->circle.empty()) {
      const auto& v = a->circle;
      auto ci = region.initCircle();
      ci.setLon(v[0]);
      ci.setLat(v[1]);
      ci.setRadiusM(v[2]);
    } else if (!a->box.empty()) {
      const auto& v = a->box;
      auto b = region.initBox();
      b.setWest(v[0]);
      b.setSouth(v[1]);
      b.setEast(v[2]);
      b.setNorth(v[3]);
    } else if (!a->wkt.empty()) {
      region.setWkt(a->wkt);
    } else {
      Fail("call", "give --node ID, --circle, --box or --wkt");
    }
    if (a->mode == "intersecting") q.setMode(proto::RegionMode::INTERSECTING);
    else if (a->mode == "contained") q.setMode(proto::RegionMode::CONTAINED);
    else if (a->mode == "area_weighted") q.setMode(proto::RegionMode::AREA_WEIGHTED);
    else Fail("call", "--mode: expected intersecting, contained or area_weighted");
    if (!a->group_by.empty()) q.getGroupBy().setLevel(LevelArg(a->group_by));
    auto r = req.send().wait(ws);
    std::cout << RegionJson(r.getResult(), MetricNamesOf(*c, r.getResult().getDatasetVersion())) << std::endl;
  }));

  auto* topk = cmd->add_subcommand("topk", "The K nodes of a level with the highest metric");
  topk->add_option("--level", a->level, "Level")->required();
  topk->add_option("--metric", a->metric, "Metric name")->required();
  topk->add_option("--k", a->k, "How many")->capture_default_str();
  topk->add_option("--within", a->within, "Only inside this node");
  topk->add_flag("--density", a->density, "Rank by metric per km²");
  topk->callback(GuardedRead(&a->connect, [a, client] {
    auto c = client();
    auto req = c->gridtree().topKRequest();
    auto q = req.initQuery();
    q.setLevel(LevelArg(a->level));
    q.setMetric(a->metric);
    q.setK(a->k);
    q.setWithin(a->within);
    q.setDensity(a->density);
    auto r = req.send().wait(c->wait_scope());
    std::cout << TopKJson(r.getEntries(), a->metric, r.getDatasetVersion(), r.getVersion(), a->density) << std::endl;
  }));

  auto* update = cmd->add_subcommand("update", "Apply a BATCH.json of metric updates (needs the writer token)");
  update->add_option("--token-file", a->token_file, "File holding the writer token (else GRIDTREE_WRITER_TOKEN)");
  update->add_option("--file", a->file, "BATCH.json")->required();
  update->callback(Guarded([a, client] {
    auto batch = ReadBatchJson(a->file);
    if (!batch.ok()) Fail("call", batch.status().message());
    const std::string token = Token(a->token_file);
    auto c = client();
    auto wreq = c->gridtree().writerRequest();
    wreq.setToken(token);
    auto writer = wreq.send().getWriter();  // pipelined: no round trip before apply
    auto req = writer.applyRequest();
    auto ups = req.initUpdates(static_cast<unsigned>(batch->updates.size()));
    for (size_t i = 0; i < batch->updates.size(); ++i) {
      const MetricUpdate& u = batch->updates[i];
      auto b = ups[static_cast<unsigned>(i)];
      b.setLeaf(u.leaf_id);
      b.setMetric(u.metric);
      b.setOp(u.op == MetricUpdate::Op::kSet ? proto::MetricUpdate::Op::SET : proto::MetricUpdate::Op::ADD);
      b.setValue(u.value);
    }
    auto r = req.send().wait(c->wait_scope());
    std::cout << "{\"version\":" << r.getVersion() << ",\"position\":" << r.getPosition()
              << ",\"updates\":" << batch->updates.size() << "}" << std::endl;
  }));

  auto* checkpoint = cmd->add_subcommand("checkpoint", "Snapshot the metrics and trim the log (writer token)");
  checkpoint->add_option("--token-file", a->token_file, "File holding the writer token");
  checkpoint->callback(Guarded([a, client] {
    const std::string token = Token(a->token_file);
    auto c = client();
    auto wreq = c->gridtree().writerRequest();
    wreq.setToken(token);
    wreq.send().getWriter().checkpointRequest().send().wait(c->wait_scope());
    std::cout << "{\"checkpoint\":\"ok\"}" << std::endl;
  }));

  auto* reload = cmd->add_subcommand("reload", "Swap the server to another dataset file (path on the server)");
  reload->add_option("--token-file", a->token_file, "File holding the writer token");
  reload->add_option("path", a->path, "Dataset path on the server")->required();
  reload->callback(Guarded([a, client] {
    const std::string token = Token(a->token_file);
    auto c = client();
    auto wreq = c->gridtree().writerRequest();
    wreq.setToken(token);
    auto req = wreq.send().getWriter().reloadRequest();
    req.setPath(a->path);
    auto r = req.send().wait(c->wait_scope());
    PrintResponse(r);
  }));

  auto* track = cmd->add_subcommand("track", "Send position reports from a CSV file (writer token)");
  track->add_option("--token-file", a->token_file, "File holding the writer token (else GRIDTREE_WRITER_TOKEN)");
  track->add_option("--file", a->file, "POSITIONS.csv: id,kind,lon,lat[,unix_time]")->required();
  track->add_option("--batch", a->batch, "Reports per call with --partial (fewer where a call would not fit the "
                                         "server's max_reports_per_batch or the message limit)")
      ->capture_default_str();
  track->add_flag("--partial", a->partial,
                  "Send calls of --batch reports, each applied on its own (default: the whole file in one call, "
                  "applied whole or not at all)");
  track->callback(Guarded([a, client] {
    if (a->batch == 0) Fail("call", "--batch must be at least 1");
    // Every line parsed and checked before anything is sent.
    auto parsed = ReadPositionsCsv(a->file);
    if (!parsed.ok()) Fail("call", parsed.status().message());
    const std::vector<PositionRow>& rows = *parsed;
    if (rows.empty()) Fail("call", a->file + ": no reports");
    const std::string token = Token(a->token_file);
    auto c = client();
    const auto too_many = [&](uint64_t limit) {
      Fail("call", a->file + ": " + std::to_string(rows.size()) + " reports are more than the server's limit of " +
           std::to_string(limit) + " per call (max_reports_per_batch); nothing was applied. Split the file, or pass "
           "--partial to send calls of --batch reports, each applied on its own");
    };
    // The server's limits, and the message limit both ends hold to: the
    // smaller of the server's and --max-message-bytes.
    auto info = c->gridtree().infoRequest().send().wait(c->wait_scope());
    const auto limits = info.getInfo().getLimits();
    const uint64_t max_reports = limits.getMaxReportsPerBatch();
    const uint64_t max_bytes = limits.getMaxMessageBytes() > 0
                                   ? std::min(limits.getMaxMessageBytes(), a->max_message_bytes)
                                   : a->max_message_bytes;
    const std::string message_limit =
        std::to_string(max_bytes) + " bytes (" +
        (limits.getMaxMessageBytes() > 0 ? "max_message_bytes: the smaller of the server's " +
                                               std::to_string(limits.getMaxMessageBytes()) + " and "
                                         : std::string()) +
        "--max-message-bytes " + std::to_string(a->max_message_bytes) + ")";
    if (!a->partial) {
      if (max_reports > 0 && rows.size() > max_reports) too_many(max_reports);
      if (ReportsThatFit(rows, 0, max_bytes) < rows.size())
        Fail("call", a->file + ": " + std::to_string(rows.size()) + " reports would take about " +
             std::to_string(TrackRequestBytes(rows)) + " bytes in one call, over the message limit of " +
             message_limit + "; nothing was applied. Split the file, or pass --partial to send calls that fit, "
             "each applied on its own");
    }
    auto wreq = c->gridtree().writerRequest();
    wreq.setToken(token);
    auto writer = wreq.send().getWriter();
    uint64_t outside = 0, moved = 0, version = 0, position = 0;
    for (size_t begin = 0, end = 0; begin < rows.size(); begin = end) {
      // Whole: every row (checked above). Partial: --batch rows, fewer when
      // the server's limits or the message limit need.
      const auto next = std::span(rows).subspan(begin, std::min(a->batch, rows.size() - begin));
      const size_t take = a->partial ? ReportsThatFit(next, max_reports, max_bytes) : rows.size();
      if (take == 0)
        Fail("call", a->file + ":" + std::to_string(rows[begin].line) + ": the report alone would take about " +
             std::to_string(TrackRequestBytes(next.first(1))) + " bytes, over the message limit of " + message_limit +
             (begin == 0 ? "; nothing was applied"
                         : "; lines " + std::to_string(rows[0].line) + " to " + std::to_string(rows[begin - 1].line) +
                               " were applied"));
      end = begin + take;
      auto req = writer.trackRequest();
      auto list = req.initReports(static_cast<unsigned>(end - begin));
      for (size_t i = begin; i < end; ++i) {
        const ObjectReport& r = rows[i].report;
        auto b = list[static_cast<unsigned>(i - begin)];
        b.setId(r.id);
        b.setKind(r.kind);
        b.setLon(r.lon);
        b.setLat(r.lat);
        b.setTime(r.time);
      }
      try {
        auto r = req.send().wait(c->wait_scope());
        outside += r.getOutside();
        moved += r.getMoved();
        version = r.getObjectsVersion();
        position = r.getPosition();
      } catch (const kj::Exception& e) {
        const std::string why = AtLine(e.getDescription().cStr(), rows, begin, a->file);
        const int code = e.getType() == kj::Exception::Type::OVERLOADED ? 3 : 1;
        if (!a->partial) {
          if (const size_t at = why.find("max_reports_per_batch "); at != std::string::npos)
            too_many(std::strtoull(why.c_str() + at + 22, nullptr, 10));
          Fail("call", why + " (nothing of " + a->file + " was applied)", code);
        }
        Fail("call", why + (begin == 0 ? " (nothing of " + a->file + " was applied)"
                               : " (" + a->file + ": lines " + std::to_string(rows[0].line) + " to " +
                                     std::to_string(rows[begin - 1].line) + " were applied; lines " +
                                     std::to_string(rows[begin].line) + " to " + std::to_string(rows[end - 1].line) +
                                     ", the call that failed, and after were not)"),
             code);
      }
    }
    std::cout << "{\"reports\":" << rows.size() << ",\"outside\":" << outside << ",\"moved\":" << moved
              << ",\"objects_version\":" << version << ",\"position\":" << position << "}" << std::endl;
  }));

  auto* objects = cmd->add_subcommand("objects", "Tracked objects in a node, a box or a circle");
  objects->add_option("--node", a->id, "Node id: its whole subtree");
  objects->add_option("--bbox", a->box, "WEST,SOUTH,EAST,NORTH")->delimiter(',')->expected(4);
  objects->add_option("--circle", a->circle, "LON,LAT,RADIUS_M")->delimiter(',')->expected(3);
  objects->add_option("--kind", a->kind, "Only this kind");
  objects->add_option("--offset", a->offset, "Skip this many (by id)")->capture_default_str();
  // All by default, in as many calls as the server's limits need.
  auto objects_limit = std::make_shared<uint64_t>(0);
  objects->add_option("--limit", *objects_limit, "At most this many (0: all)")->capture_default_str();
  objects->add_flag("--json", a->json, "One JSON object instead of one line per object");
  objects->callback(GuardedRead(&a->connect, [a, client, objects_limit] {
    auto c = client();
    capnp::MallocMessageBuilder query;
    auto q = query.initRoot<proto::ObjectQuery>();
    const int given = !a->id.empty() + !a->box.empty() + !a->circle.empty();
    if (given != 1) Fail("call", "give one of --node ID, --bbox W,S,E,N or --circle LON,LAT,M");
    if (!a->id.empty()) q.getWhere().setNode(a->id);
    if (!a->box.empty()) {
      auto b = q.getWhere().initBox();
      b.setWest(a->box[0]);
      b.setSouth(a->box[1]);
      b.setEast(a->box[2]);
      b.setNorth(a->box[3]);
    }
    if (!a->circle.empty()) {
      auto ci = q.getWhere().initCircle();
      ci.setLon(a->circle[0]);
      ci.setLat(a->circle[1]);
      ci.setRadiusM(a->circle[2]);
    }
    q.setKind(a->kind);
    const rpc::ObjectPages r =
        rpc::ObjectsPaged(c->gridtree(), q.asReader(), a->offset, *objects_limit, c->options()).wait(c->wait_scope());
    if (a->json) {
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
  }));

  auto* nearest = cmd->add_subcommand("nearest", "The K tracked objects nearest to LON LAT");
  nearest->add_option("lonlat", a->lonlat, "LON LAT")->expected(2)->required();
  nearest->add_option("-k", a->k, "How many")->capture_default_str();
  nearest->add_option("--kind", a->kind, "Only this kind");
  nearest->callback(GuardedRead(&a->connect, [a, client] {
    auto c = client();
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

  auto* events = cmd->add_subcommand("events", "Print enter/exit events as they happen, one JSON object per line");
  events->add_option("--node", a->ids, "Only events of this node (repeatable)");
  events->add_option("--level", a->levels, "Only events at this level (repeatable)");
  events->add_option("--kind", a->kinds, "Only this kind (repeatable)");
  events->add_option("--count", a->count, "Exit after this many events (0: run until killed)")->capture_default_str();
  events->callback(Guarded([a, client] {
    auto c = client();
    auto paf = kj::newPromiseAndFulfiller<void>();
    auto req = c->gridtree().eventsRequest();
    auto nodes = req.initNodes(static_cast<unsigned>(a->ids.size()));
    for (size_t i = 0; i < a->ids.size(); ++i) nodes.set(static_cast<unsigned>(i), a->ids[i]);
    auto levels = req.initLevels(static_cast<unsigned>(a->levels.size()));
    for (size_t i = 0; i < a->levels.size(); ++i) levels.set(static_cast<unsigned>(i), LevelArg(a->levels[i]));
    auto kinds = req.initKinds(static_cast<unsigned>(a->kinds.size()));
    for (size_t i = 0; i < a->kinds.size(); ++i) kinds.set(static_cast<unsigned>(i), a->kinds[i]);
    req.setSink(kj::heap<PrintingEventSink>(a->count, kj::mv(paf.fulfiller)));
    auto handle = req.send().wait(c->wait_scope()).getHandle();
    std::cerr << "listening for events" << std::endl;
    paf.promise.wait(c->wait_scope());
  }));

  auto* watch = cmd->add_subcommand("watch", "Print the aggregates of nodes after every batch that changes them");
  watch->add_option("ids", a->ids, "Node ids")->required();
  watch->add_option("--count", a->count, "Exit after this many pushes (0: run until killed)")->capture_default_str();
  watch->callback(Guarded([a, client] {
    auto c = client();
    auto paf = kj::newPromiseAndFulfiller<void>();
    auto req = c->gridtree().watchRequest();
    auto ids = req.initIds(static_cast<unsigned>(a->ids.size()));
    for (size_t i = 0; i < a->ids.size(); ++i) ids.set(static_cast<unsigned>(i), a->ids[i]);
    req.setCallback(kj::heap<PrintingWatcher>(a->count, kj::mv(paf.fulfiller), c->gridtree()));
    auto handle = req.send().wait(c->wait_scope()).getHandle();
    std::cerr << "watching " << a->ids.size() << " node(s)" << std::endl;
    paf.promise.wait(c->wait_scope());
  }));
}

}  // namespace gridtree::cli

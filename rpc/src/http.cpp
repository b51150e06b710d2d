// The HTTP side port: /healthz, /metrics (Prometheus text) and JSON forms of
// the read queries (GET with query parameters), encoded with capnp's
// JsonCodec from the same result structs the RPC methods fill.
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <kj/compat/http.h>
#include <kj/compat/url.h>
#include <kj/debug.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "convert.h"
#include "gridtree/engine/region.h"
#include "service.h"
#include "state.h"

namespace gridtree::rpc {
namespace internal {
namespace {

using Params = std::map<std::string, std::string, std::less<>>;

const std::string& Require(const Params& q, const char* name) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) ThrowFailed(std::string(name) + ": missing query parameter");
  return it->second;
}

double ParseDouble(const std::string& s, const std::string& field) {
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(v)) ThrowFailed(field + ": not a finite number: \"" + s + "\"");
  return v;
}

std::vector<double> ParseDoubles(const std::string& s, size_t n, const std::string& field) {
  std::vector<double> out;
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    out.push_back(ParseDouble(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start), field));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.size() != n) ThrowFailed(field + ": expected " + std::to_string(n) + " comma-separated numbers");
  return out;
}

std::vector<std::string> SplitIds(const Params& q) {
  std::vector<std::string> ids;
  const std::string& s = Require(q, "id");
  size_t start = 0;
  while (true) {
    const size_t comma = s.find(',', start);
    ids.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return ids;
}

class HttpApi final : public kj::HttpService {
 public:
  HttpApi(ServerState& state, const kj::HttpHeaderTable& table) : state_(state), table_(table) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders&,
                            kj::AsyncInputStream&, Response& response) override {
    if (method != kj::HttpMethod::GET)
      return Send(response, 405, "Method Not Allowed", "text/plain", kj::str("GET only\n"));
    std::string path;
    Params q;
    KJ_IF_MAYBE(u, kj::Url::tryParse(url, kj::Url::HTTP_REQUEST)) {
      for (auto& seg : u->path) {
        path += '/';
        path += seg.cStr();
      }
      for (auto& p : u->query) q[std::string(p.name.cStr())] = std::string(p.value.cStr());
    } else {
      return Send(response, 400, "Bad Request", "text/plain", kj::str("bad request target\n"));
    }
    if (path == "/healthz") return Send(response, 200, "OK", "text/plain", kj::str("ok\n"));
    if (path == "/metrics")
      return Send(response, 200, "OK", "text/plain; version=0.0.4", kj::str(MetricsText()));
    const char* name = Route(path);
    if (!name) return Send(response, 404, "Not Found", "text/plain", kj::str("unknown path ", path, "\n"));
    return state_
        .Call(nullptr, name,
              [this, path, q = std::move(q), &response]() mutable { return Handle(path, q, response); })
        .catch_([this, &response](kj::Exception&& e) {
          const bool busy = e.getType() == kj::Exception::Type::OVERLOADED;
          std::string msg = e.getDescription().cStr();
          std::string body = "{\"error\":" + JsonString(msg) + "}\n";
          return Send(response, busy ? 503 : 400, busy ? "Service Unavailable" : "Bad Request", "application/json",
                      kj::str(body));
        });
  }

  std::function<std::string()> MetricsText;

 private:
  static const char* Route(const std::string& path) {
    if (path == "/info") return "http_info";
    if (path == "/locate") return "http_locate";
    if (path == "/node") return "http_node";
    if (path == "/children") return "http_children";
    if (path == "/path") return "http_path";
    if (path == "/aggregate") return "http_aggregate";
    if (path == "/region") return "http_region";
    if (path == "/topk") return "http_topk";
    return nullptr;
  }

  static std::string JsonString(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += static_cast<char>(c);
      } else if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
    return out + "\"";
  }

  template <typename Reader>
  kj::Promise<void> SendJson(Response& response, Reader reader) {
    return Send(response, 200, "OK", "application/json", kj::str(json_.encode(reader), "\n"));
  }

  kj::Promise<void> Handle(const std::string& path, const Params& q, Response& response) {
    auto view = state_.engine.Read();
    if (path == "/info") {
      capnp::MallocMessageBuilder m;
      auto info = m.initRoot<proto::Info>();
      FillInfo(info, *view, state_.options);
      return SendJson(response, info.asReader());
    }
    if (path == "/locate") {
      const double lon = ParseDouble(Require(q, "lon"), "lon");
      const double lat = ParseDouble(Require(q, "lat"), "lat");
      LocateOptions lo;
      if (auto it = q.find("max_distance_m"); it != q.end()) lo.max_distance_m = ParseDouble(it->second, "max_distance_m");
      if (lo.max_distance_m < 0) ThrowFailed("max_distance_m: must be >= 0");
      ++state_.points_located;
      capnp::MallocMessageBuilder m;
      auto r = m.initRoot<proto::LocateResult>();
      FillLocate(r, *view, view->Locate({lon, lat}, lo));
      return SendJson(response, r.asReader());
    }
    if (path == "/node") {
      capnp::MallocMessageBuilder m;
      auto r = m.initRoot<proto::NodeInfo>();
      FillNodeInfo(r, *view, RequireNode(*view, kj::StringPtr(Require(q, "id").c_str()), "id"));
      return SendJson(response, r.asReader());
    }
    if (path == "/children" || path == "/path") {
      const int32_t n = RequireNode(*view, kj::StringPtr(Require(q, "id").c_str()), "id");
      capnp::MallocMessageBuilder m;
      if (path == "/children") {
        auto r = m.initRoot<proto::GridTree::ChildrenResults>();
        auto kids = view->Children(n);
        auto out = r.initChildren(static_cast<unsigned>(kids.size()));
        for (size_t i = 0; i < kids.size(); ++i) FillNodeRef(out[static_cast<unsigned>(i)], *view, kids[i]);
        return SendJson(response, r.asReader());
      }
      auto r = m.initRoot<proto::GridTree::PathResults>();
      const Chain c = view->ChainOf(n);
      FillChain(r.initChain(static_cast<unsigned>(c.size)), *view, c);
      return SendJson(response, r.asReader());
    }
    if (path == "/aggregate") {
      auto ids = SplitIds(q);
      if (ids.size() > state_.options.max_ids_per_call) ThrowFailed("id: too many ids");
      std::vector<int32_t> nodes;
      for (const auto& id : ids) nodes.push_back(RequireNode(*view, kj::StringPtr(id.c_str()), "id"));
      capnp::MallocMessageBuilder m;
      auto r = m.initRoot<proto::GridTree::AggregateResults>();
      auto out = r.initAggregates(static_cast<unsigned>(nodes.size()));
      for (size_t i = 0; i < nodes.size(); ++i) FillAggregate(out[static_cast<unsigned>(i)], *view, nodes[i]);
      r.setVersion(view->version());
      return SendJson(response, r.asReader());
    }
    if (path == "/region") {
      RegionQuery rq;
      if (auto it = q.find("box"); it != q.end()) {
        auto v = ParseDoubles(it->second, 4, "box");
        if (v[0] > v[2] || v[1] > v[3]) ThrowFailed("box: expected west,south,east,north");
        rq.region = BoxRegion(v[0], v[1], v[2], v[3]);
      } else if (auto it2 = q.find("circle"); it2 != q.end()) {
        auto v = ParseDoubles(it2->second, 3, "circle");
        if (v[2] <= 0) ThrowFailed("circle: radius must be > 0");
        rq.region = CircleRegion(v[0], v[1], v[2]);
      } else if (auto it3 = q.find("wkt"); it3 != q.end()) {
        auto r = ParseRegionWkt(it3->second);
        if (!r.ok()) ThrowFailed("wkt: " + r.status().message());
        rq.region = std::move(r).value();
      } else {
        ThrowFailed("region: give box=W,S,E,N, circle=LON,LAT,M or wkt=POLYGON(...)");
      }
      if (auto it = q.find("mode"); it != q.end()) {
        auto mode = ParseRegionMode(it->second);
        if (!mode) ThrowFailed("mode: expected contained, intersecting or area_weighted");
        rq.mode = *mode;
      }
      if (auto it = q.find("group_by"); it != q.end()) {
        auto level = ParseLevel(it->second);
        if (!level) ThrowFailed("group_by: unknown level \"" + it->second + "\"");
        rq.group_by = *level;
      }
      return RegionAsync(state_, std::move(rq)).then([this, &response](RegionAnswer a) {
        capnp::MallocMessageBuilder m;
        auto r = m.initRoot<proto::RegionResult>();
        FillRegionResult(r, *a.view, a.result);
        return SendJson(response, r.asReader());
      });
    }
    if (path == "/topk") {
      TopKQuery tq;
      auto level = ParseLevel(Require(q, "level"));
      if (!level) ThrowFailed("level: unknown level");
      tq.level = *level;
      auto metric = view->dataset().MetricIndex(Require(q, "metric"));
      if (!metric) ThrowFailed("metric: unknown metric");
      tq.metric = *metric;
      if (auto it = q.find("k"); it != q.end()) {
        const double k = ParseDouble(it->second, "k");
        if (k < 1 || k > 100000) ThrowFailed("k: must be in [1, 100000]");
        tq.k = static_cast<size_t>(k);
      }
      if (auto it = q.find("within"); it != q.end())
        tq.within = RequireNode(*view, kj::StringPtr(it->second.c_str()), "within");
      if (auto it = q.find("density"); it != q.end()) tq.density = it->second == "1" || it->second == "true";
      return state_.Offload([view, tq]() { return view->TopK(tq); })
          .then([this, view, &response](std::vector<TopEntry> entries) {
            capnp::MallocMessageBuilder m;
            auto r = m.initRoot<proto::GridTree::TopKResults>();
            auto out = r.initEntries(static_cast<unsigned>(entries.size()));
            for (size_t i = 0; i < entries.size(); ++i) {
              FillNodeRef(out[static_cast<unsigned>(i)].initNode(), *view, entries[i].node);
              out[static_cast<unsigned>(i)].setValue(entries[i].value);
            }
            r.setVersion(view->version());
            return SendJson(response, r.asReader());
          });
    }
    ThrowFailed("unknown path");
  }

  kj::Promise<void> Send(Response& response, unsigned status, kj::StringPtr text, kj::StringPtr type, kj::String body) {
    kj::HttpHeaders h(table_);
    h.set(kj::HttpHeaderId::CONTENT_TYPE, type);
    auto out = response.send(status, text, h, body.size());
    auto p = out->write(body.begin(), body.size());
    return p.attach(kj::mv(out), kj::mv(body));
  }

  ServerState& state_;
  const kj::HttpHeaderTable& table_;
  capnp::JsonCodec json_;
};

// Owns the HTTP machinery in destruction order: server, then service, then table.
struct HttpPort {
  HttpPort(ServerState& state, std::function<std::string()> metrics)
      : api(state, table), server(state.timer, table, api) {
    api.MetricsText = std::move(metrics);
  }
  kj::HttpHeaderTable table;
  HttpApi api;
  kj::HttpServer server;
};

}  // namespace
}  // namespace internal

kj::Promise<void> Server::ListenHttp(kj::ConnectionReceiver& listener) {
  auto port = kj::heap<internal::HttpPort>(*state_, [this] { return MetricsText(); });
  auto p = port->server.listenHttp(listener);
  return p.attach(kj::mv(port));
}

}  // namespace gridtree::rpc

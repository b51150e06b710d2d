// The HTTP side port: /healthz, /metrics (Prometheus text) and JSON forms of
// the read queries (GET with query parameters), written from the same result
// structs the RPC methods fill by the writers `gridtree call` prints with
// (answer_json.h, docs/json.md). `?v=1` still gives capnp's JsonCodec
// encoding of those structs, the shape before docs/json.md: deprecated, to be
// dropped in the next release.
#include <capnp/compat/json.h>
#include <capnp/message.h>
#include <kj/compat/http.h>
#include <kj/compat/url.h>
#include <kj/debug.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>
#include <map>

#include "convert.h"
#include "gridtree/engine/json_text.h"
#include "gzip.h"
#include "gridtree/engine/region.h"
#include "gridtree/engine/tiles.h"
#include "gridtree/engine/utf8.h"
#include "gridtree/rpc/answer_json.h"
#include "http_header_limit.h"
#include "service.h"
#include "web_assets.h"
#include "state.h"

namespace gridtree::rpc {
namespace internal {
namespace {

using Params = std::map<std::string, std::string, std::less<>>;

// zlib's fastest level: a tile is compressed on every request it misses
// (docs/tiles.md has the sizes).
constexpr int kTileGzipLevel = 1;

// A value for an error message: at most 64 bytes, control characters and
// bytes that are not UTF-8 escaped, so that a reply is always valid UTF-8.
std::string Quoted(std::string_view v) {
  std::string out = "\"";
  out += EscapeText(v.substr(0, 64));
  if (v.size() > 64) out += "...";
  return out + "\"";
}

const std::string& Require(const Params& q, const char* name) {
  auto it = q.find(name);
  if (it == q.end() || it->second.empty()) ThrowFailed(std::string(name) + ": missing query parameter");
  return it->second;
}

// A plain decimal number: no hex ("0x71.05"), no leading space or '+', no
// inf or nan, nothing after it.
double ParseDouble(const std::string& s, const std::string& field) {
  double v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, std::chars_format::general);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v))
    ThrowFailed(field + ": not a finite decimal number: " + Quoted(s));
  return v;
}

double ParseLon(const std::string& s, const std::string& field) {
  const double v = ParseDouble(s, field);
  if (v < -180 || v > 180) ThrowFailed(field + ": longitude " + s + " is outside [-180, 180]");
  return v;
}

double ParseLat(const std::string& s, const std::string& field) {
  const double v = ParseDouble(s, field);
  if (v < -90 || v > 90) ThrowFailed(field + ": latitude " + s + " is outside [-90, 90]");
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

// A whole number for a UInt32 field; a larger one is passed on as the
// largest UInt32, so that the method's own limit names it.
uint32_t ParseCount(const std::string& s, const std::string& field) {
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) return UINT32_MAX;
  if (s.empty() || ec != std::errc() || end != s.data() + s.size())
    ThrowFailed(field + ": not a whole number: " + Quoted(s));
  return static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
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
  HttpApi(ServerState& state, const kj::HttpHeaderTable& table)
      : state_(state), table_(table), api_(NewGridTree(state, nullptr)) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url, const kj::HttpHeaders& headers,
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
      // Decoded values are checked whole: a %00 must not cut a value short
      // (kj's StringPtr would), and what is echoed must be valid UTF-8.
      for (auto& seg : u->path)
        if (auto bad = BadText(seg.asArray()); !bad.empty())
          return SendError(response, 400, "Bad Request", "path: " + bad);
      for (auto& p : u->query) {
        std::string name(p.name.begin(), p.name.size()), value(p.value.begin(), p.value.size());
        if (auto bad = BadText(p.name.asArray()); !bad.empty())
          return SendError(response, 400, "Bad Request", "query parameter name: " + bad);
        if (auto bad = BadText(p.value.asArray()); !bad.empty())
          return SendError(response, 400, "Bad Request", name + ": " + bad);
        q[name] = value;
      }
    } else {
      return SendError(response, 400, "Bad Request", "bad request target");
    }
    if (path == "/healthz") {
      // A replica that stopped applying its log must be restarted.
      if (state_.options.write_log)
        if (std::string failure = state_.options.write_log->status().failure; !failure.empty())
          return Send(response, 503, "Service Unavailable", "text/plain", kj::str(failure, "\n"));
      std::string why;
      if (!state_.connections.listeners.empty() && !Accepting(&why))
        return Send(response, 503, "Service Unavailable", "text/plain", kj::str(why, "\n"));
      return Send(response, 200, "OK", "text/plain", kj::str("ok\n"));
    }
    if (path == "/healthz/ready") {
      // Readiness, for a balancer: a replica that has not caught up with
      // the log it joined gets no traffic yet (docs/cluster.md).
      if (state_.options.write_log) {
        const ReplicaStatus r = state_.options.write_log->status();
        if (!r.ready)
          return Send(response, 503, "Service Unavailable", "text/plain",
                      kj::str("catching up: at position ", r.position, ", ", r.lag, " behind\n"));
      }
      return Send(response, 200, "OK", "text/plain", kj::str("ready\n"));
    }
    if (path == "/metrics")
      return Send(response, 200, "OK", "text/plain; version=0.0.4", kj::str(MetricsText()));
    if (path == "/tiles.json") return SendTileJson(headers, response);
    if (path == "/search") return SendSearch(q, response);
    if (auto asset = FindWebAsset(path.empty() ? "/" : path)) {
      kj::HttpHeaders h(table_);
      h.set(kj::HttpHeaderId::CONTENT_TYPE, kj::heapString(asset->content_type.data(), asset->content_type.size()));
      h.add("Cache-Control", "no-cache");
      auto out = response.send(200, "OK", h, asset->bytes.size());
      auto p = out->write(asset->bytes.data(), asset->bytes.size());
      return p.attach(kj::mv(out));
    }
    if (path.starts_with("/tiles/")) return SendTile(path, headers, response);
    const char* name = Route(path);
    if (!name) return SendError(response, 404, "Not Found", "unknown path " + Quoted(path));
    // ?min_position=P (and min_position_wait_ms=): answer once this
    // replica has applied position P, for reading one's own writes.
    uint64_t min_position = 0;
    uint32_t wait_ms = 0;
    auto take_number = [&q](const char* key, auto& out) {
      auto it = q.find(key);
      if (it == q.end()) return true;
      const char* b = it->second.data();
      const char* e = b + it->second.size();
      const bool ok = !it->second.empty() && std::from_chars(b, e, out).ptr == e;
      q.erase(it);
      return ok;
    };
    if (!take_number("min_position", min_position))
      return SendError(response, 400, "Bad Request", "min_position: not a log position (an unsigned integer)");
    if (!take_number("min_position_wait_ms", wait_ms))
      return SendError(response, 400, "Bad Request", "min_position_wait_ms: not a number of milliseconds");
    return state_
        .Call(nullptr, name,
              [this, path, q = std::move(q), &response, min_position, wait_ms]() mutable {
                return state_.WaitForPosition(min_position, wait_ms).then(
                    [this, path, q = std::move(q), &response]() mutable { return Handle(path, q, response); });
              })
        .catch_([this, &response](kj::Exception&& e) {
          // The kinds of docs/rpc.md "Errors": OVERLOADED is 503; a FAILED
          // message says "not found: ..." (404) or "internal: ..." (500,
          // logged, a bug); any other FAILED is the request's fault (400).
          const std::string message = e.getDescription().cStr();
          if (e.getType() == kj::Exception::Type::OVERLOADED)
            return SendError(response, 503, "Service Unavailable", message);
          if (e.getType() == kj::Exception::Type::FAILED && message.starts_with("lagging: "))
            return SendError(response, 503, "Service Unavailable", message);
          if (e.getType() == kj::Exception::Type::FAILED && message.starts_with("not found: "))
            return SendError(response, 404, "Not Found", message);
          if (e.getType() != kj::Exception::Type::FAILED || message.starts_with("internal: ")) {
            state_.Log("error", "http_internal_error", {{"error", message}});
            return SendError(response, 500, "Internal Server Error", message);
          }
          return SendError(response, 400, "Bad Request", message);
        });
  }

  std::function<std::string()> MetricsText;
  std::function<bool(std::string*)> Accepting;

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
    if (path == "/objects") return "http_objects";
    return nullptr;
  }

  template <typename Reader>
  kj::Promise<void> SendJson(Response& response, Reader reader) {
    // JsonCodec passes a Text's bytes through as they are: a name or id
    // stored before ids were checked may not be UTF-8 (utf8.h).
    // Checked first, repaired only when needed: the usual body is copied once.
    const kj::String text = json_.encode(reader);
    const std::string_view body(text.cStr(), text.size());
    const size_t bad = FindInvalidUtf8(body);
    if (bad == std::string_view::npos) return Send(response, 200, "OK", "application/json", kj::str(text, "\n"));
    std::string repaired;
    repaired.reserve(body.size() + 8);
    repaired.append(body.substr(0, bad));  // the valid start as it is
    AppendValidUtf8(repaired, body.substr(bad));
    repaired += '\n';
    return Send(response, 200, "OK", "application/json", kj::heapString(repaired.data(), repaired.size()));
  }

  // The metric names of the dataset an answer came from, read after the
  // answer: names are only ever added within a dataset version, so they
  // cover its values; a reload in between is refused, never mislabelled.
  MetricNames NamesAt(uint64_t dataset_version) {
    std::shared_ptr<const View> view = state_.engine.Read();
    if (view->dataset_version() != dataset_version)
      kj::throwFatalException(
          KJ_EXCEPTION(OVERLOADED, "the server reloaded its dataset during the request; ask again"));
    MetricNames names;
    for (size_t j = 0; j < view->metric_count(); ++j) names.emplace_back(view->metric_name(static_cast<int>(j)));
    return names;
  }

  // Sends the request to the in-process GridTree capability (as Forward
  // does) and `write` turns its results into the body (answer_json.h).
  template <typename Request, typename Write>
  kj::Promise<void> Answer(Response& response, Request&& request, Write write) {
    return request.send().then([this, &response, write](auto&& results) {
      std::string body = write(results);
      body += '\n';
      return Send(response, 200, "OK", "application/json", kj::heapString(body.data(), body.size()));
    });
  }

  // Sends the request to the in-process GridTree capability, so that HTTP
  // and RPC share one implementation (validation, limits, metrics); `pick`
  // chooses the part of the results that is the JSON body, as JsonCodec
  // writes it (?v=1, deprecated).
  template <typename Request, typename Pick>
  kj::Promise<void> Forward(Response& response, Request&& request, Pick pick) {
    return request.send().then([this, &response, pick](auto&& results) { return SendJson(response, pick(results)); });
  }
  template <typename Params, typename Results>
  kj::Promise<void> Forward(Response& response, capnp::Request<Params, Results>&& request) {
    return Forward(response, kj::mv(request), [](capnp::Response<Results>& r) -> typename Results::Reader { return r; });
  }

  // Query parameters -> the RPC method's parameters. Only the HTTP forms
  // are checked here (numbers, names); the method checks everything else.
  kj::Promise<void> Handle(const std::string& path, const Params& q, Response& response) {
    // ?v=1: the JsonCodec shape of the release before docs/json.md, for the
    // clients that have not moved yet (deprecated, dropped in the next).
    bool v1 = false;
    if (auto it = q.find("v"); it != q.end()) {
      if (it->second == "1") v1 = true;
      else if (it->second != "2")
        ThrowFailed("v: expected 2 (the default) or 1 (deprecated), not " + Quoted(it->second));
    }
    if (path == "/info") {
      if (v1) return Forward(response, api_.infoRequest(), [](auto& r) { return r.getInfo(); });
      return Answer(response, api_.infoRequest(), [](auto& r) { return InfoJson(r.getInfo()); });
    }
    if (path == "/locate") {
      auto req = api_.locateRequest();
      req.setLon(ParseLon(Require(q, "lon"), "lon"));
      req.setLat(ParseLat(Require(q, "lat"), "lat"));
      if (auto it = q.find("max_distance_m"); it != q.end()) req.setMaxDistanceM(ParseDouble(it->second, "max_distance_m"));
      if (v1) return Forward(response, kj::mv(req), [](auto& r) { return r.getResult(); });
      return Answer(response, kj::mv(req), [](auto& r) { return LocateJson(r.getResult()); });
    }
    if (path == "/node") {
      auto req = api_.nodeRequest();
      req.setId(Require(q, "id"));
      if (v1) return Forward(response, kj::mv(req), [](auto& r) { return r.getNode(); });
      return Answer(response, kj::mv(req),
                    [this](auto& r) { return NodeJson(r.getNode(), NamesAt(r.getNode().getDatasetVersion())); });
    }
    if (path == "/children") {
      auto req = api_.childrenRequest();
      req.setId(Require(q, "id"));
      if (v1) return Forward(response, kj::mv(req));
      return Answer(response, kj::mv(req),
                    [](auto& r) { return ChildrenJson(r.getChildren(), r.getDatasetVersion()); });
    }
    if (path == "/path") {
      auto req = api_.pathRequest();
      req.setId(Require(q, "id"));
      if (v1) return Forward(response, kj::mv(req));
      return Answer(response, kj::mv(req), [](auto& r) { return PathJson(r.getChain(), r.getDatasetVersion()); });
    }
    if (path == "/aggregate") {
      auto ids = SplitIds(q);
      auto req = api_.aggregateRequest();
      auto list = req.initIds(static_cast<unsigned>(std::min<size_t>(ids.size(), UINT32_MAX)));
      for (size_t i = 0; i < list.size(); ++i) list.set(static_cast<unsigned>(i), ids[i]);
      if (v1) return Forward(response, kj::mv(req));
      return Answer(response, kj::mv(req), [this](auto& r) {
        return AggregatesJson(r.getAggregates(), r.getDatasetVersion(), r.getVersion(),
                              NamesAt(r.getDatasetVersion()));
      });
    }
    if (path == "/region") {
      auto req = api_.regionAggregateRequest();
      auto query = req.initQuery();
      auto region = query.initRegion();
      // bbox=, the command line's name; box= is the old one, still read.
      auto box = q.find("bbox");
      if (box == q.end()) box = q.find("box");
      if (box != q.end()) {
        const std::string& field = box->first;
        auto v = ParseDoubles(box->second, 4, field);
        if (v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90)
          ThrowFailed(field + ": outside longitudes [-180, 180] and latitudes [-90, 90]");
        auto b = region.initBox();
        b.setWest(v[0]);
        b.setSouth(v[1]);
        b.setEast(v[2]);
        b.setNorth(v[3]);
      } else if (auto it2 = q.find("circle"); it2 != q.end()) {
        auto v = ParseDoubles(it2->second, 3, "circle");
        if (v[0] < -180 || v[0] > 180 || v[1] < -90 || v[1] > 90)
          ThrowFailed("circle: centre outside longitudes [-180, 180] and latitudes [-90, 90]");
        auto c = region.initCircle();
        c.setLon(v[0]);
        c.setLat(v[1]);
        c.setRadiusM(v[2]);
      } else if (auto it3 = q.find("wkt"); it3 != q.end()) {
        region.setWkt(it3->second);
      } else {
        ThrowFailed("region: give bbox=W,S,E,N, circle=LON,LAT,M or wkt=POLYGON(...)");
      }
      if (auto it = q.find("mode"); it != q.end()) {
        auto mode = ParseRegionMode(it->second);
        if (!mode) ThrowFailed("mode: expected contained, intersecting or area_weighted");
        query.setMode(*mode == RegionMode::kContained      ? proto::RegionMode::CONTAINED
                      : *mode == RegionMode::kAreaWeighted ? proto::RegionMode::AREA_WEIGHTED
                                                           : proto::RegionMode::INTERSECTING);
      }
      if (auto it = q.find("group_by"); it != q.end()) {
        auto level = ParseLevel(it->second);
        if (!level) ThrowFailed("group_by: unknown level " + Quoted(it->second));
        query.initGroupBy().setLevel(ToProto(*level));
      }
      if (v1) return Forward(response, kj::mv(req), [](auto& r) { return r.getResult(); });
      return Answer(response, kj::mv(req), [this](auto& r) {
        return RegionJson(r.getResult(), NamesAt(r.getResult().getDatasetVersion()));
      });
    }
    if (path == "/topk") {
      auto req = api_.topKRequest();
      auto query = req.initQuery();
      auto level = ParseLevel(Require(q, "level"));
      if (!level) ThrowFailed("level: unknown level " + Quoted(Require(q, "level")));
      query.setLevel(ToProto(*level));
      query.setMetric(Require(q, "metric"));
      if (auto it = q.find("k"); it != q.end()) query.setK(ParseCount(it->second, "k"));
      if (auto it = q.find("within"); it != q.end()) query.setWithin(it->second);
      if (auto it = q.find("density"); it != q.end()) query.setDensity(it->second == "1" || it->second == "true");
      if (v1) return Forward(response, kj::mv(req));
      return Answer(response, kj::mv(req), [metric = Require(q, "metric"), density = query.getDensity()](auto& r) {
        return TopKJson(r.getEntries(), metric, density, r.getDatasetVersion(), r.getVersion());
      });
    }
    if (path == "/objects") return SendObjects(q, response);
    ThrowFailed("unknown path");
  }

  // GET /objects?bbox=W,S,E,N[&kind=K][&limit=N]: the tracked objects in a box
  // (docs/json.md), for the map's points. At most kMaxObjects; "cut" says
  // when more matched ("total" counts them all).
  static constexpr size_t kDefaultObjects = 5000, kMaxObjects = 20000;
  kj::Promise<void> SendObjects(const Params& q, Response& response) {
    auto v = ParseDoubles(Require(q, "bbox"), 4, "bbox");
    if (v[0] < -180 || v[2] > 180 || v[1] < -90 || v[3] > 90 || v[0] > v[2] || v[1] > v[3])
      ThrowFailed("bbox: expected W,S,E,N within longitudes [-180, 180] and latitudes [-90, 90], W <= E, S <= N");
    ObjectQuery query;
    query.box = index::Box{v[0], v[1], v[2], v[3]};
    if (auto it = q.find("kind"); it != q.end()) query.kind = it->second;
    query.limit = kDefaultObjects;
    if (auto it = q.find("limit"); it != q.end())
      query.limit = std::min<size_t>(ParseCount(it->second, "limit"), kMaxObjects);
    Engine* engine = &state_.engine;
    return state_.Offload([engine, query = std::move(query)]() { return engine->Objects(query); })
        .then([this, &response](Result<ObjectPage> r) {
          if (!r.ok()) ThrowStatus(r.status());
          std::string body = "{\"objects\":[";
          for (size_t i = 0; i < r->objects.size(); ++i) {
            const TrackedObject& o = r->objects[i];
            body += i ? ",{\"id\":" : "{\"id\":";
            AppendJsonString(body, o.id);
            body += ",\"kind\":";
            AppendJsonString(body, o.kind);
            body += ",\"lon\":";
            AppendJsonNumber(body, o.lon);
            body += ",\"lat\":";
            AppendJsonNumber(body, o.lat);
            body += ",\"time\":";
            AppendJsonNumber(body, o.time);
            body += ",\"leaf_id\":";
            if (o.leaf_id.empty()) body += "null";
            else AppendJsonString(body, o.leaf_id);
            body += '}';
          }
          body += "],\"total\":" + std::to_string(r->total);
          body += std::string(",\"cut\":") + (r->total > r->objects.size() ? "true" : "false");
          body += ",\"objects_version\":" + std::to_string(r->objects_version) + "}\n";
          return Send(response, 200, "OK", "application/json", kj::heapString(body.data(), body.size()));
        });
  }

  // GET /tiles/{z}/{x}/{y}.mvt from the live View (docs/tiles.md), with the
  // entity tag of what the tile shows: a client revalidating a tile that has
  // not changed gets 304 and no body. gzipped for a client that accepts it,
  // under the tag of that representation.
  kj::Promise<void> SendTile(const std::string& path, const kj::HttpHeaders& headers, Response& response) {
    TileId tile;
    if (auto error = ParseTilePath(path, &tile); !error.empty()) return SendError(response, 400, "Bad Request", error);
    if (Status s = CheckTile(tile); !s.ok()) return SendError(response, 400, "Bad Request", s.message());
    std::shared_ptr<const View> view = state_.engine.Read();
    const bool gzip = internal::AcceptsGzip(HeaderValue(headers, "Accept-Encoding"));
    std::string etag = TileETag(*view, tile);
    if (gzip) etag.insert(etag.size() - 1, "-gz");
    if (IfNoneMatch(headers, etag)) {
      kj::HttpHeaders h(table_);
      h.add("ETag", kj::str(etag));
      h.add("Cache-Control", "no-cache");
      h.add("Vary", "Accept-Encoding");
      response.send(304, "Not Modified", h, uint64_t{0});
      return kj::READY_NOW;
    }
    // Once the reply has started, a failure (the client went away mid-write)
    // must not start a second one.
    auto sent = std::make_shared<bool>(false);
    auto send = [this, &response, etag, gzip, sent](Result<std::string> rendered) -> kj::Promise<void> {
      *sent = true;
      if (!rendered.ok()) return SendError(response, 400, "Bad Request", rendered.status().message());
      kj::HttpHeaders h(table_);
      h.set(kj::HttpHeaderId::CONTENT_TYPE, "application/vnd.mapbox-vector-tile");
      if (gzip) h.add("Content-Encoding", "gzip");
      h.add("Vary", "Accept-Encoding");
      h.add("ETag", kj::str(etag));
      h.add("Cache-Control", "no-cache");
      h.add("Access-Control-Allow-Origin", "*");
      auto body = kj::heapArray<kj::byte>(rendered.value().size());
      std::memcpy(body.begin(), rendered.value().data(), body.size());
      auto out = response.send(200, "OK", h, body.size());
      auto p = out->write(body.begin(), body.size());
      return p.attach(kj::mv(out), kj::mv(body));
    };
    return state_
        .Call(nullptr, "http_tile",
              [this, view, tile, gzip, send = kj::mv(send)]() mutable -> kj::Promise<void> {
                // Rendered and compressed on the executor, off the loop.
                auto render = [view, tile, gzip]() -> Result<std::string> {
                  auto rendered = RenderTile(*view, tile);
                  if (!rendered.ok() || !gzip) return rendered;
                  return internal::Gzip(rendered.value(), kTileGzipLevel);
                };
                // kj::mv: then() keeps an lvalue function by reference, and this lambda ends first.
                return state_.Offload(kj::mv(render)).then(kj::mv(send));
              })
        .catch_([this, &response, sent](kj::Exception&& e) -> kj::Promise<void> {
          if (*sent) return kj::READY_NOW;
          const unsigned code = e.getType() == kj::Exception::Type::OVERLOADED ? 503 : 500;
          return SendError(response, code, code == 503 ? "Service Unavailable" : "Internal Server Error",
                           e.getDescription().cStr());
        });
  }

  // The value of a header named `name` (any case), empty when absent.
  static std::string HeaderValue(const kj::HttpHeaders& headers, std::string_view name) {
    std::string value;
    headers.forEach([&](kj::StringPtr n, kj::StringPtr v) {
      if (n.size() == name.size() && strncasecmp(n.cStr(), name.data(), name.size()) == 0) value = v.cStr();
    });
    return value;
  }

  // GET /tiles.json: the TileJSON 3.0 document, its tile URL on the host
  // the client asked for.
  kj::Promise<void> SendTileJson(const kj::HttpHeaders& headers, Response& response) {
    std::string host = "127.0.0.1";
    KJ_IF_MAYBE(h, headers.get(kj::HttpHeaderId::HOST)) { host = std::string(h->cStr()); }
    // The host goes into a URL in JSON: valid UTF-8, no quote, space or angle bracket.
    if (!BadText(kj::ArrayPtr<const char>(host.data(), host.size())).empty() ||
        host.find_first_of("\"<> ") != std::string::npos)
      return SendError(response, 400, "Bad Request", "Host header: not a host name");
    std::shared_ptr<const View> view = state_.engine.Read();
    return Send(response, 200, "OK", "application/json",
                kj::str(TileJson(*view, "http://" + host + "/tiles/{z}/{x}/{y}.mvt")));
  }

  // GET /search?q=TEXT: nodes whose id is TEXT, then those whose name
  // starts with it (View::FindByNamePrefix), at most 20, with their boxes.
  kj::Promise<void> SendSearch(const Params& q, Response& response) {
    auto it = q.find("q");
    if (it == q.end() || it->second.empty()) return SendError(response, 400, "Bad Request", "q: missing query parameter");
    if (it->second.size() > 256) return SendError(response, 400, "Bad Request", "q: longer than 256 bytes");
    std::shared_ptr<const View> view = state_.engine.Read();
    // Ranked: the id itself, then names starting with q, then names or ids containing it.
    const std::vector<NodeId> found = view->FindByName(it->second, 20);
    std::string body = "{\"results\":[";
    for (size_t i = 0; i < found.size(); ++i) {
      const NodeId n = found[i];
      const index::Box& b = view->dataset().node_bounds[n.value];
      body += i ? ",{\"id\":" : "{\"id\":";
      AppendJsonString(body, view->id(n));
      body += ",\"name\":";
      AppendJsonString(body, view->name(n));
      body += ",\"level\":";
      AppendJsonString(body, LevelName(view->level(n)));
      body += ",\"bounds\":[";
      const double v[4] = {b.min_x, b.min_y, b.max_x, b.max_y};
      for (int k = 0; k < 4; ++k) {
        if (k) body += ',';
        AppendJsonNumber(body, v[k]);
      }
      body += "]}";
    }
    body += "]}\n";
    return Send(response, 200, "OK", "application/json", kj::str(body));
  }

  // "/tiles/Z/X/Y.mvt" into tile; an error message when it is not that.
  static std::string ParseTilePath(const std::string& path, TileId* tile) {
    const std::string rest = path.substr(7);  // after "/tiles/"
    uint64_t v[3] = {0, 0, 0};
    const char* p = rest.data();
    const char* end = rest.data() + rest.size();
    for (int i = 0; i < 3; ++i) {
      const auto [next, ec] = std::from_chars(p, end, v[i]);
      if (ec != std::errc() || next == p)
        return "tile path " + Quoted(path) + ": expected /tiles/{z}/{x}/{y}.mvt with whole numbers";
      p = next;
      const char* want = i < 2 ? "/" : ".mvt";
      if (std::string_view(p, static_cast<size_t>(end - p)) .substr(0, std::strlen(want)) != want)
        return "tile path " + Quoted(path) + ": expected /tiles/{z}/{x}/{y}.mvt with whole numbers";
      p += std::strlen(want);
    }
    if (p != end) return "tile path " + Quoted(path) + ": expected /tiles/{z}/{x}/{y}.mvt";
    if (v[0] > 64 || v[1] > UINT32_MAX || v[2] > UINT32_MAX)
      return "tile path " + Quoted(path) + ": coordinates out of range";
    *tile = TileId{static_cast<int>(v[0]), static_cast<uint32_t>(v[1]), static_cast<uint32_t>(v[2])};
    return "";
  }

  // Whether If-None-Match names etag (or is "*").
  static bool IfNoneMatch(const kj::HttpHeaders& headers, const std::string& etag) {
    bool match = false;
    headers.forEach([&](kj::StringPtr name, kj::StringPtr value) {
      if (std::string_view(name.cStr()).size() != 13 || strcasecmp(name.cStr(), "If-None-Match") != 0) return;
      std::string_view list(value.cStr());
      while (!list.empty()) {
        const size_t comma = list.find(',');
        std::string_view item = list.substr(0, comma);
        while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
        while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
        if (item.starts_with("W/")) item.remove_prefix(2);
        if (item == etag || item == "*") match = true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
    });
    return match;
  }

  kj::Promise<void> SendError(Response& response, unsigned status, kj::StringPtr text, const std::string& message) {
    std::string body = "{\"error\":";
    AppendJsonString(body, message);
    body += "}\n";
    return Send(response, status, text, "application/json", kj::str(body));
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
  proto::GridTree::Client api_;  // in process: the same methods RPC clients call
  capnp::JsonCodec json_;
};

// Requests kj cannot parse: logged (rate-limited) and answered with kj's
// status and a JSON body.
class HttpErrors final : public kj::HttpServerErrorHandler {
 public:
  HttpErrors(ServerState& state, const kj::HttpHeaderTable& table) : state_(state), table_(table) {}
  kj::Promise<void> handleClientProtocolError(kj::HttpHeaders::ProtocolError error,
                                              kj::HttpService::Response& response) override {
    state_.Log("warn", "http_bad_request", {{"status", std::to_string(error.statusCode)},
                                            {"error", error.description.cStr()},
                                            {"bytes", std::to_string(error.rawContent.size())}});
    kj::HttpHeaders headers(table_);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, "application/json");
    std::string text = "{\"error\":";
    AppendJsonString(text, std::string(error.statusMessage.cStr()) + ": " + error.description.cStr());
    text += "}\n";
    auto body = kj::str(text);
    auto out = response.send(error.statusCode, error.statusMessage, headers, body.size());
    auto p = out->write(body.begin(), body.size());
    return p.attach(kj::mv(out), kj::mv(body));
  }

 private:
  ServerState& state_;
  const kj::HttpHeaderTable& table_;
};

// Request line and headers together, per request (414/431 past it); below
// kj's own 128 KiB buffer.
constexpr size_t kMaxHttpHeaderBytes = 64 * 1024;

// Owns the HTTP machinery in destruction order: server, then service, then table.
struct HttpPort {
  HttpPort(ServerState& state, std::function<std::string()> metrics, std::function<bool(std::string*)> accepting)
      : errors(state, table), api(state, table), server(state.timer, table, api, Settings(errors)) {
    api.MetricsText = std::move(metrics);
    api.Accepting = std::move(accepting);
  }
  static kj::HttpServerSettings Settings(HttpErrors& errors) {
    kj::HttpServerSettings s;
    s.errorHandler = errors;
    return s;
  }
  kj::HttpHeaderTable table;
  HttpErrors errors;
  HttpApi api;
  kj::HttpServer server;
  // The open connections; destroyed first, while the server still exists.
  struct Quiet final : kj::TaskSet::ErrorHandler {
    void taskFailed(kj::Exception&&) override {}
  } quiet;
  kj::TaskSet connections{quiet};
};

}  // namespace

// Before a connection closes, what the client still sends is read and
// dropped (up to 1 MiB or 2 s): closing with unread bytes makes the kernel
// send a reset, and the client would lose the error reply it was just sent.
kj::Promise<void> DrainAndClose(ServerState& state, kj::Own<kj::AsyncIoStream> stream,
                                kj::Duration limit, size_t buffer_bytes) {
  stream->shutdownWrite();
  auto buffer = kj::heapArray<kj::byte>(buffer_bytes);
  struct Drain {
    static kj::Promise<void> Loop(kj::AsyncIoStream& s, kj::ArrayPtr<kj::byte> buf, size_t left) {
      if (left == 0) return kj::READY_NOW;
      return s.tryRead(buf.begin(), 1, buf.size()).then([&s, buf, left](size_t n) -> kj::Promise<void> {
        if (n == 0) return kj::READY_NOW;
        return Loop(s, buf, left > n ? left - n : 0);
      });
    }
  };
  auto drained = Drain::Loop(*stream, buffer, size_t{1} << 20);
  return state.timer.timeoutAfter(limit, kj::mv(drained))
      .catch_([](kj::Exception&&) {})
      .attach(kj::mv(buffer), kj::mv(stream));
}

}  // namespace internal

kj::Promise<void> Server::ListenHttp(kj::ConnectionReceiver& listener) {
  internal::ServerState& s = *state_;
  auto port = kj::heap<internal::HttpPort>(s, [this] { return MetricsText(); },
                                           [this](std::string* why) { return accepting(why); });
  s.connections.listeners.push_back({"http:" + std::to_string(listener.getPort()), true, ""});
  internal::HttpPort* http = port.get();
  auto loop = s.AcceptLoop(
      listener, s.connections.listeners.size() - 1,
      [&s, http](kj::Own<kj::AsyncIoStream> stream) {
        const std::string peer = internal::PeerOf(*stream);
        if (s.connections.open >= s.options.max_connections) {
          ++s.connections.refused;
          s.Log("warn", "connection_refused", {{"peer", peer}, {"proto", "http"}, {"reason", "max_connections"}});
          const std::string body = "{\"error\":\"server has too many connections open (max_connections " +
                                   std::to_string(s.options.max_connections) + "); try again later\"}\n";
          auto reply = kj::heapString("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                      "Connection: close\r\nContent-Length: " + std::to_string(body.size()) +
                                      "\r\n\r\n" + body);
          auto& ref = *stream;
          auto written = ref.write(reply.begin(), reply.size());
          http->connections.add(written.attach(kj::mv(reply))
                          .then([&s, stream = kj::mv(stream)]() mutable {
                            // Short: refusals must not pile up past the cap they enforce.
                            return internal::DrainAndClose(s, kj::mv(stream), 100 * kj::MILLISECONDS, 4096);
                          })
                          .catch_([](kj::Exception&&) {}));
          return;
        }
        ++s.connections.open;
        auto limited = kj::heap<internal::HeaderLimitStream>(*stream, internal::kMaxHttpHeaderBytes,
                                                             [&s, peer](unsigned status) {
          s.Log("warn", "http_refused", {{"peer", peer}, {"status", std::to_string(status)},
                                         {"reason", "request line or headers too long"}});
        });
        auto& ref = *limited;
        http->connections.add(http->server.listenHttpCleanDrain(ref)
                        .attach(kj::mv(limited))
                        .then([](bool) {}, [](kj::Exception&&) {})
                        .then([&s, stream = kj::mv(stream)]() mutable { return internal::DrainAndClose(s, kj::mv(stream)); })
                        .attach(kj::defer([&s] { --s.connections.open; })));
      },
      0 * kj::SECONDS);
  return loop.attach(kj::mv(port));
}

}  // namespace gridtree::rpc

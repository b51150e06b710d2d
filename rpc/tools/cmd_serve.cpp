// gridtree serve: the Cap'n Proto server and its HTTP side port. Wiring only;
// the server lives in rpc/src (gridtree::rpc).
#include <kj/async-io.h>
#include <kj/async-unix.h>
#include <kj/debug.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "cluster_log.h"
#include "commands.h"
#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "gridtree/rpc/client.h"
#include "gridtree/rpc/server.h"
#include "serve_util.h"

namespace gridtree::cli {
namespace {

// serve's errors are log lines (key=value, like the rest of its log), not
// the plain stderr line of Fail.
[[noreturn]] void FailLogged(const std::string& message) {
  rpc::LogLine("error", "fatal", {{"error", message}});
  throw CLI::RuntimeError(1);
}

// The host part of "HOST:PORT" / "[V6]:PORT" / "HOST".
std::string HostOf(const std::string& addr) {
  if (!addr.empty() && addr[0] == '[') return addr.substr(1, addr.find(']') - 1);
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || addr.find(':') != colon) return addr;  // no port, or a bare IPv6 address
  return addr.substr(0, colon);
}

// Whether every address the host part resolves to is a loopback address
// (127.0.0.0/8 or ::1): the resolved addresses decide, not the text, so
// "127.0.0.1.example.com" is not loopback. A name that does not resolve is
// not either; the bind reports why.
bool IsLoopback(const std::string& addr) {
  const std::string host = HostOf(addr);
  if (host.rfind("unix:", 0) == 0) return true;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || !found) return false;
  bool all = true;
  for (addrinfo* a = found; a; a = a->ai_next) {
    if (a->ai_family == AF_INET) {
      const uint32_t ip = ntohl(reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr.s_addr);
      all = all && (ip >> 24) == 127;
    } else if (a->ai_family == AF_INET6) {
      all = all && IN6_IS_ADDR_LOOPBACK(&reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr);
    } else {
      all = false;
    }
  }
  ::freeaddrinfo(found);
  return all;
}

// A mapped image whose file is truncated or written over in place faults
// the next query that reads a page it lost (SIGBUS, or SIGSEGV through a
// garbled offset). The handler names the file when the faulting address is
// an image's, then lets the previous action (the default: end with the
// signal and a core, or a sanitizer's report) take the fault again.
// Async-signal-safe: a lookup in atomics and write(2).
struct sigaction g_previous_bus, g_previous_segv;

void WriteAll(const char* text, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, n);
    if (w <= 0) return;
    text += w, n -= static_cast<size_t>(w);
  }
}
void WriteAll(const char* text) { WriteAll(text, std::strlen(text)); }

// `"path"` escaped as the log's quoted values are (rpc/src/log.cpp): `"` and
// `\` preceded by a backslash, control bytes as \n, \r, \t or \xNN, so that a
// path can neither end the value nor start a line. In a fixed buffer: no
// allocation in a signal handler. A registry path is at most 1023 bytes.
void WriteQuoted(const char* path) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[2 + 4 * 1024];
  size_t n = 0;
  buf[n++] = '"';
  for (const char* p = path; *p != '\0' && n + 5 < sizeof buf; ++p) {
    const auto c = static_cast<unsigned char>(*p);
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = static_cast<char>(c);
    } else if (c == '\n' || c == '\r' || c == '\t') {
      buf[n++] = '\\';
      buf[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
    } else if (c < 0x20 || c == 0x7F) {
      buf[n++] = '\\';
      buf[n++] = 'x';
      buf[n++] = kHex[c >> 4];
      buf[n++] = kHex[c & 0xF];
    } else {
      buf[n++] = static_cast<char>(c);
    }
  }
  buf[n++] = '"';
  WriteAll(buf, n);
}

void OnMemoryFault(int sig, siginfo_t* info, void*) {
  const char* path = info && info->si_code > 0 ? MappedImageAt(info->si_addr) : nullptr;
  if (path) {
    WriteAll("level=fatal event=image_changed_while_mapped signal=");
    WriteAll(sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
    WriteAll(" file=");
    WriteQuoted(path);
    WriteAll(" error=\"the engine image was truncated or written over in place while this server had it mapped; "
             "replace a served image by writing a new file and renaming it over the path (gridtree image --out "
             "does), then gridtree call reload (docs/operations.md)\"\n");
  }
  ::sigaction(sig, sig == SIGBUS ? &g_previous_bus : &g_previous_segv, nullptr);
}

void InstallMemoryFaultHandler() {
  struct sigaction sa {};
  sa.sa_sigaction = OnMemoryFault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, &g_previous_bus);
  ::sigaction(SIGSEGV, &sa, &g_previous_segv);
}

struct ServeArgs {
  std::string path, listen = "127.0.0.1:7433", unix_path, http, data_dir, token_file;
  int threads = 0;
  int64_t index_max_cells = index::PolygonIndexOptions{}.max_cells;
  bool allow_remote = false;
  rpc::ServerOptions server;
  ObjectOptions objects;
  double drain_seconds = 30;
  std::string cluster;  // comma-separated NATS URLs: cluster mode (docs/cluster.md)
  cluster::ClusterOptions cluster_options;
};

// The dataset, where to listen, and the engine's settings; returns --listen
// (given or not decides whether a server with --unix listens on TCP too).
CLI::Option* AddServeOptions(CLI::App& cmd, ServeArgs& a) {
  cmd.add_option("path", a.path, "Dataset file")->required();
  auto* listen_opt = cmd.add_option("--listen", a.listen, "TCP address for RPC, HOST:PORT")->capture_default_str();
  cmd.add_option("--unix", a.unix_path, "Unix socket path for RPC (TCP too only when --listen is given)");
  cmd.add_option("--http", a.http, "HOST:PORT of the HTTP side port (/healthz, /metrics, JSON queries)");
  cmd.add_option("--data-dir", a.data_dir, "Folder for the write-ahead log and checkpoints (durable updates)");
  cmd.add_option("--threads", a.threads,
                 "Threads for all work: loading, the index build and every query (0: one per core)")
      ->capture_default_str();
  cmd.add_option("--index-max-cells", a.index_max_cells,
                 "Cap on the lookup grid's cells: more is faster on very large datasets, 4 bytes each "
                 "(docs/operations.md)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 31));
  cmd.add_option("--writer-token-file", a.token_file,
                 "File holding the writer token (else env GRIDTREE_WRITER_TOKEN; none: read-only)");
  cmd.add_flag("--allow-remote", a.allow_remote, "Allow binding to a non-loopback address (TLS is off!)");
  return listen_opt;
}

// What the server takes from a client, and tracked objects.
void AddLimitOptions(CLI::App& cmd, ServeArgs& a) {
  rpc::ServerOptions& s = a.server;
  cmd.add_option("--max-message-bytes", s.max_message_bytes, "Largest RPC message")->capture_default_str();
  cmd.add_option("--max-points-per-batch", s.max_points_per_batch, "Most points per locateBatch")
      ->capture_default_str();
  cmd.add_option("--max-updates-per-batch", s.max_updates_per_batch, "Most updates per apply")->capture_default_str();
  cmd.add_option("--max-calls-in-flight", s.max_calls_in_flight_per_connection, "Calls in flight per connection")
      ->capture_default_str();
  cmd.add_option("--max-queued-work", s.max_queued_work, "Heavy calls queued overall")->capture_default_str();
  cmd.add_option("--max-ids-per-aggregate", s.max_ids_per_aggregate, "Most ids per aggregate")->capture_default_str();
  cmd.add_option("--max-ids-per-watch", s.max_ids_per_watch, "Most ids per watch")->capture_default_str();
  cmd.add_option("--max-top-k", s.max_top_k, "Largest k of a topK call")->capture_default_str();
  cmd.add_option("--slow-call-ms", s.slow_call_ms, "Log calls slower than this")->capture_default_str();
  cmd.add_option("--max-connections", s.max_connections,
                 "Connections open at once, RPC and HTTP together; past it new ones are refused with a reason")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  cmd.add_option("--idle-timeout-seconds", s.idle_timeout_seconds,
                 "Close an RPC connection with no call, no watch and no message for this long (0: never)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  cmd.add_option("--max-unfinished-answers", s.max_unfinished_answers_per_connection,
                 "Answers a client has not released (Finish) per connection; past it the connection is closed")
      ->capture_default_str();
  cmd.add_option("--max-unfinished-answer-bytes", s.max_unfinished_answer_bytes_per_connection,
                 "Bytes of those answers per connection")
      ->capture_default_str();
  cmd.add_option("--max-queued-reply-bytes", s.max_queued_reply_bytes_per_connection,
                 "Bytes of replies waiting for a client to read them, per connection")
      ->capture_default_str();
  cmd.add_option("--max-token-failures", s.max_token_failures_per_connection,
                 "Wrong writer tokens per connection before it is closed")
      ->capture_default_str();
  cmd.add_option("--log-lines-per-second", s.log_lines_per_event_per_second,
                 "Log lines of one event per second; the rest are counted in a log_suppressed line (0: all)")
      ->capture_default_str();
  cmd.add_option("--snap-objects-m", a.objects.snap_m,
                 "Tracked objects outside every leaf snap to the nearest leaf within this many metres")
      ->capture_default_str();
  cmd.add_option("--expire-objects-s", a.objects.expire_after_s,
                 "Drop tracked objects not heard from for this long, with exit events (0: never)")
      ->capture_default_str();
  cmd.add_option("--max-reports-per-batch", s.max_reports_per_batch, "Most position reports per track call")
      ->capture_default_str();
  cmd.add_option("--max-watches-per-connection", s.max_watches_per_connection,
                 "Watch and event subscriptions per connection")
      ->capture_default_str();
}

void AddClusterOptions(CLI::App& cmd, ServeArgs& a) {
  cluster::ClusterOptions& c = a.cluster_options;
  cmd.add_option("--cluster", a.cluster,
                 "Cluster mode: NATS JetStream servers, nats://H1:4222,nats://H2:4222,... (docs/cluster.md)");
  cmd.add_option("--stream", c.stream, "Cluster mode: the JetStream stream of this grid")->capture_default_str();
  cmd.add_option("--stream-replicas", c.stream_replicas,
                 "Cluster mode: copies of the stream when this replica creates it (0: 3, or fewer servers)")
      ->capture_default_str();
  cmd.add_option("--publish-timeout-ms", c.publish_timeout_ms,
                 "Cluster mode: a write JetStream has not acknowledged in this time is refused")
      ->capture_default_str();
  cmd.add_option("--checkpoint-seconds", c.checkpoint_every_seconds,
                 "Cluster mode: write the local checkpoint at least this often while writes come")
      ->capture_default_str();
  cmd.add_option("--publish-checkpoint-positions", c.publish_checkpoint_every_positions,
                 "Cluster mode: publish a checkpoint for joining replicas, and trim the log, this often (0: never)")
      ->capture_default_str();
}

// The phases of a run, in order (RunServe).

void CheckBindAddresses(const ServeArgs& a, bool tcp) {
  for (const std::string* addr : {tcp ? &a.listen : nullptr, a.http.empty() ? nullptr : &a.http}) {
    if (!addr || IsLoopback(*addr)) continue;
    if (!a.allow_remote) FailLogged(*addr + " is not a loopback address; pass --allow-remote to bind it (TLS is off)");
    rpc::LogLine("warn", "remote_bind",
                 {{"addr", *addr}, {"note", "TLS is off: traffic and the writer token travel in clear text"}});
  }
}

// From --writer-token-file, else the environment; none: read-only.
void SetWriterToken(ServeArgs& a) {
  if (!a.token_file.empty()) {
    a.server.writer_token = ReadTokenFile(a.token_file);
    if (a.server.writer_token.empty()) FailLogged("writer token file " + a.token_file + " is missing or empty");
  } else if (const char* env = std::getenv("GRIDTREE_WRITER_TOKEN")) {
    a.server.writer_token = env;
  }
}

EngineOptions EngineOptionsOf(const ServeArgs& a) {
  EngineOptions eo;
  eo.data_dir = a.data_dir;
  eo.threads = a.threads;
  eo.index.max_cells = a.index_max_cells;
  eo.objects = a.objects;
  eo.objects.restore_saved = true;  // the objects of the last clean stop (docs/objects.md)
  eo.objects.max_reports_per_batch = a.server.max_reports_per_batch;
  if (!a.cluster.empty()) {
    // The replicated log is the write-ahead log and the data directory
    // holds the replica's checkpoint; the engine itself keeps nothing on
    // disk, and objects come back from the checkpoint, not objects.bin.
    eo.data_dir.clear();
    eo.objects.restore_saved = false;
    // The batch limit is the server's door (--max-reports-per-batch);
    // inside, every replica applies every logged batch, whatever its own
    // flags, or replicas would refuse differently.
    eo.objects.max_reports_per_batch = SIZE_MAX;
  }
  return eo;
}

void LogDatasetLoaded(const Engine& engine, std::chrono::steady_clock::time_point t0) {
  auto view = engine.Read();
  const Dataset& ds = view->dataset();
  int64_t counts[kLevelCount] = {};
  for (Level l : ds.levels) ++counts[static_cast<int>(l)];
  std::string per_level;
  for (int i = 0; i < kLevelCount; ++i)
    per_level += (i ? "," : "") + std::string(LevelName(static_cast<Level>(i))) + ":" + std::to_string(counts[i]);
  rpc::LogLine(
      "info", "dataset_loaded",
      {{"source", ds.source},
       {"nodes", std::to_string(ds.node_count())},
       {"leaves", std::to_string(ds.leaf_count())},
       {"levels", per_level},
       {"metrics", std::to_string(ds.metric_count())},
       {"version", std::to_string(view->version())},
       {"load_ms",
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count())}});
}

std::unique_ptr<Engine> OpenEngine(const ServeArgs& a) {
  const EngineOptions eo = EngineOptionsOf(a);
  const auto t0 = std::chrono::steady_clock::now();
  auto opened = OpenDataset(a.path, eo);
  if (!opened.ok()) FailLogged(opened.status().message());
  std::unique_ptr<Engine> engine = std::move(opened).value();
  if (const std::string report = engine->recovery_report(); !report.empty())
    rpc::LogLine(report.find("torn tail") != std::string::npos ? "warn" : "info", "recovery", {{"report", report}});
  LogDatasetLoaded(*engine, t0);
  return engine;
}

// Cluster mode: the replica joins the replicated log, which the server then
// writes through.
void JoinCluster(Engine& engine, ServeArgs& a) {
  for (size_t at = 0; at <= a.cluster.size();) {
    const size_t comma = std::min(a.cluster.find(',', at), a.cluster.size());
    if (comma > at) a.cluster_options.servers.push_back(a.cluster.substr(at, comma - at));
    at = comma + 1;
  }
  a.cluster_options.data_dir = a.data_dir;
  a.cluster_options.expire_after_s = a.objects.expire_after_s;
  a.cluster_options.snap_objects_m = a.objects.snap_m;
  auto joined = cluster::ClusterLog::Start(engine, a.cluster_options);
  if (!joined.ok()) FailLogged(joined.status().message());
  a.server.write_log = std::shared_ptr<cluster::ClusterLog>(std::move(joined).value());
}

// The listening sockets and their accept loops.
struct Listeners {
  kj::Vector<kj::Own<kj::ConnectionReceiver>> receivers;
  kj::Vector<kj::Promise<void>> serving;
};

void Listen(kj::AsyncIoContext& io, rpc::Server& server, const std::string& addr, bool http, Listeners& out) {
  auto& network = io.provider->getNetwork();
  kj::Own<kj::ConnectionReceiver> rx;
  auto listen = [&] { rx = network.parseAddress(addr, http ? 8080 : rpc::kDefaultPort).wait(io.waitScope)->listen(); };
  KJ_IF_MAYBE(e, kj::runCatchingExceptions(listen)) {
    FailLogged("cannot listen on " + addr + ": " + e->getDescription().cStr());
  }
  std::string shown = addr;
  if (addr.rfind("unix:", 0) != 0) shown = HostOf(addr) + ":" + std::to_string(rx->getPort());
  rpc::LogLine("info", "listening", {{"proto", http ? "http" : "capnp"}, {"addr", shown}});
  auto on_error = [](kj::Exception&& e) {
    rpc::LogLine("error", "accept_failed", {{"error", e.getDescription().cStr()}});
  };
  out.serving.add((http ? server.ListenHttp(*rx) : server.Listen(*rx)).eagerlyEvaluate(on_error));
  out.receivers.add(kj::mv(rx));
}

// Serves until SIGTERM or SIGINT, then stops accepting and waits up to
// --drain-seconds for the calls in flight.
void ServeUntilSignal(kj::AsyncIoContext& io, rpc::Server& server, const ServeArgs& a, bool tcp) {
  Listeners listeners;
  if (tcp) Listen(io, server, a.listen, false, listeners);
  if (!a.unix_path.empty()) {
    ::unlink(a.unix_path.c_str());
    Listen(io, server, "unix:" + a.unix_path, false, listeners);
  }
  if (!a.http.empty()) Listen(io, server, a.http, true, listeners);

  auto& ws = io.waitScope;
  auto sig = io.unixEventPort.onSignal(SIGTERM).exclusiveJoin(io.unixEventPort.onSignal(SIGINT)).wait(ws);
  rpc::LogLine(
      "info", "shutdown",
      {{"signal", sig.si_signo == SIGTERM ? "SIGTERM" : "SIGINT"}, {"in_flight", std::to_string(server.in_flight())}});
  listeners.serving.clear();  // stop accepting
  listeners.receivers.clear();
  if (!a.unix_path.empty()) ::unlink(a.unix_path.c_str());
  server.Drain(static_cast<int64_t>(a.drain_seconds * 1000) * kj::MILLISECONDS).wait(ws);
}

// The shutdown checkpoint and the tracked objects, then the last log line.
void StopEngine(Engine& engine, const ServeArgs& a) {
  Status s = engine.Checkpoint();
  if (!s.ok()) rpc::LogLine("error", "checkpoint_failed", {{"error", s.ToString()}});
  // Tracked objects survive a clean restart (docs/objects.md).
  if (Status saved = engine.SaveObjects(); !saved.ok()) {
    rpc::LogLine("error", "objects_save_failed", {{"error", saved.ToString()}});
  } else if (!a.data_dir.empty()) {
    rpc::LogLine("info", "objects_saved", {{"objects", std::to_string(engine.object_count())}});
  }
  rpc::LogLine(s.ok() ? "info" : "error", "stopped",
               {{"version", std::to_string(engine.Read()->version())}, {"checkpoint", s.ok() ? "ok" : "failed"}});
  // The log still holds every acknowledged batch, but an operator (or a
  // supervisor) must learn that the shutdown checkpoint did not happen.
  if (!s.ok()) throw CLI::RuntimeError(1);
}

void RunServe(ServeArgs& a, bool tcp) {
  CheckBindAddresses(a, tcp);
  SetWriterToken(a);
  rpc::LogLine("info", "start",
               {{"pid", std::to_string(getpid())},
                {"dataset", a.path},
                {"data_dir", a.data_dir},
                {"writable", a.server.writer_token.empty() ? "false" : "true"}});
  // Signals must be captured before any thread starts (kj and TBB).
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  const std::unique_ptr<Engine> engine = OpenEngine(a);
  if (!a.cluster.empty()) JoinCluster(*engine, a);
  InstallMemoryFaultHandler();
  auto io = kj::setupAsyncIo();
  rpc::Server server(*engine, a.server, io.provider->getTimer());
  ServeUntilSignal(io, server, a, tcp);
  // The server holds the last reference: the replica stops reading and
  // writes its checkpoint when the server goes, at the end of this scope.
  a.server.write_log.reset();
  StopEngine(*engine, a);
}

}  // namespace

void RegisterServe(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve a dataset over Cap'n Proto RPC (and HTTP with --http)");
  auto a = std::make_shared<ServeArgs>();
  auto* listen_opt = AddServeOptions(*cmd, *a);
  AddLimitOptions(*cmd, *a);
  AddClusterOptions(*cmd, *a);
  cmd->add_option("--drain-seconds", a->drain_seconds, "On SIGTERM/SIGINT, wait this long for calls in flight")
      ->capture_default_str();
  cmd->callback([a, listen_opt] { RunServe(*a, listen_opt->count() > 0 || a->unix_path.empty()); });
}

}  // namespace gridtree::cli

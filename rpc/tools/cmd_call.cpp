// gridtree call: a command-line client of `gridtree serve`. Prints one JSON
// object per answer, in the vocabulary of docs/json.md and written by the
// same functions as the HTTP port's answers (gridtree/rpc/answer_json.h).
// This file: the `call` command and what its subcommands share (cmd_call.h).
#include "cmd_call.h"

#include <cstdlib>

#include "serve_util.h"

namespace gridtree::cli {

std::unique_ptr<rpc::Client> CallArgs::Connect() const {
  auto c = std::make_unique<rpc::Client>(connect, rpc::ClientOptions{max_message_bytes, 4});
  c->ReadAtLeast(min_position, min_position_wait_ms);
  return c;
}

std::string WriterToken(const std::string& token_file) {
  if (!token_file.empty()) return TokenFileOrFail("call", token_file);
  if (const char* env = std::getenv("GRIDTREE_WRITER_TOKEN")) return env;
  Fail("call", "give --token-file F (or set GRIDTREE_WRITER_TOKEN)");
}

proto::Level LevelArg(const std::string& name) {
  auto l = ParseLevel(name);
  if (!l) Fail("call", "unknown level \"" + name + "\"");
  return static_cast<proto::Level>(static_cast<uint16_t>(*l));
}

std::vector<std::string> NamesOf(proto::Info::Reader info) {
  std::vector<std::string> names;
  for (auto n : info.getMetricNames()) names.emplace_back(n.cStr());
  return names;
}

std::vector<std::string> MetricNamesOf(rpc::Client& c, uint64_t dataset_version) {
  auto info = c.gridtree().infoRequest().send().wait(c.wait_scope());
  if (info.getInfo().getDatasetVersion() != dataset_version)
    Fail("call", "the server reloaded its dataset during the call (dataset version " + std::to_string(dataset_version) +
                     " -> " + std::to_string(info.getInfo().getDatasetVersion()) + "); run it again");
  return NamesOf(info.getInfo());
}

std::string WithoutRemotePrefix(std::string message) {
  const std::string remote = "remote exception: ";
  if (auto at = message.find(remote); at != std::string::npos) message = message.substr(at + remote.size());
  return message;
}

void SetBox(proto::Bounds::Builder box, const std::vector<double>& v) {
  box.setWest(v[0]);
  box.setSouth(v[1]);
  box.setEast(v[2]);
  box.setNorth(v[3]);
}

void SetCircle(proto::Circle::Builder circle, const std::vector<double>& v) {
  circle.setLon(v[0]);
  circle.setLat(v[1]);
  circle.setRadiusM(v[2]);
}

namespace {

void AddCallOptions(CLI::App& call, CallArgs& common) {
  call.add_option("--connect", common.connect,
                  "Server address: HOST:PORT or unix:/path; several, comma-separated: the replicas of a cluster "
                  "(the first that answers; reads move to the next when one is lost)")
      ->capture_default_str();
  call.add_option("--min-position", common.min_position,
                  "Cluster: answer only once the server has applied this log position (a write's \"position\")");
  call.add_option("--min-position-wait-ms", common.min_position_wait_ms,
                  "Cluster: how long a lagging server may wait for --min-position (0: the server's default, 5000)");
  call.add_option("--max-message-bytes", common.max_message_bytes, "Largest message (match the server)")
      ->capture_default_str();
}

}  // namespace

void RegisterCall(CLI::App& app) {
  auto* call = app.add_subcommand("call", "Call a running gridtree server (JSON output)");
  call->require_subcommand(1);
  auto common = std::make_shared<CallArgs>();
  AddCallOptions(*call, *common);
  // In the order `gridtree call --help` lists them.
  RegisterCallInfo(*call, common);
  RegisterCallLocate(*call, common);
  RegisterCallNode(*call, common);
  RegisterCallChildren(*call, common);
  RegisterCallPath(*call, common);
  RegisterCallAggregate(*call, common);
  RegisterCallTopK(*call, common);
  RegisterCallUpdate(*call, common);
  RegisterCallCheckpoint(*call, common);
  RegisterCallReload(*call, common);
  RegisterCallTrack(*call, common);
  RegisterCallObjects(*call, common);
  RegisterCallNearest(*call, common);
  RegisterCallEvents(*call, common);
  RegisterCallWatch(*call, common);
}

}  // namespace gridtree::cli

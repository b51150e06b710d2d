// What the `gridtree call` subcommands share: the options of `call` itself,
// the guards that turn a failed call into a message and an exit status (the
// answers are written by gridtree/rpc/answer_json.h). One Register function
// per subcommand; cmd_call.cpp wires them, the files named below hold them.
#pragma once

#include <kj/debug.h>

#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "commands.h"
#include "gridtree/rpc/client.h"

namespace gridtree::cli {

// The options of `call`, given before or after the subcommand's name.
struct CallArgs {
  // Rotated by GuardedRead when a server is lost: the next try starts with
  // the next address.
  std::string connect = "127.0.0.1:7433";
  uint64_t max_message_bytes = uint64_t{64} << 20;
  uint64_t min_position = 0;
  uint32_t min_position_wait_ms = 0;

  // A client of the first server of --connect that answers, its reads held
  // to --min-position.
  std::unique_ptr<rpc::Client> Connect() const;
};

// The writer token: the content of --token-file FILE when given, else the
// environment's GRIDTREE_WRITER_TOKEN; without either the command fails.
std::string WriterToken(const std::string& token_file);

// A level name of the command line as the schema's enum, or the command fails.
proto::Level LevelArg(const std::string& name);

std::vector<std::string> NamesOf(proto::Info::Reader info);

// The metric names of the dataset an answer came from (asked after the
// answer, so a reload in between is seen and reported, never mislabelled).
std::vector<std::string> MetricNamesOf(rpc::Client& c, uint64_t dataset_version);

// A kj::Exception's description without the "remote exception: " that
// Cap'n Proto puts before a server's message.
std::string WithoutRemotePrefix(std::string message);

void SetBox(proto::Bounds::Builder box, const std::vector<double>& west_south_east_north);
void SetCircle(proto::Circle::Builder circle, const std::vector<double>& lon_lat_radius_m);

// Runs a subcommand; a remote or connection error becomes a clean message
// and exit status 1 (3 for OVERLOADED: retry later).
template <typename Fn>
std::function<void()> Guarded(Fn fn) {
  return [fn]() {
    try {
      fn();
    } catch (const kj::Exception& e) {
      Fail("call", WithoutRemotePrefix(e.getDescription().cStr()),
           e.getType() == kj::Exception::Type::OVERLOADED ? 3 : 1);
    }
  };
}

// A read: when the connection is lost and --connect names several servers,
// it is asked again of the next one (a write is not: whether it was applied
// is not known, and the error says so).
template <typename Fn>
std::function<void()> GuardedRead(std::shared_ptr<CallArgs> common, Fn fn) {
  return Guarded([common, fn]() {
    std::string& connect = common->connect;
    const size_t addresses = static_cast<size_t>(std::count(connect.begin(), connect.end(), ',')) + 1;
    for (size_t attempt = 1;; ++attempt) {
      try {
        fn();
        return;
      } catch (const kj::Exception& e) {
        if (e.getType() != kj::Exception::Type::DISCONNECTED || attempt >= addresses) throw;
        // The next address first: rotate the list.
        const size_t comma = connect.find(',');
        connect = connect.substr(comma + 1) + "," + connect.substr(0, comma);
      }
    }
  });
}

// The subcommands of `call`, each added to it with its options and its
// callback. Reads (cmd_call_reads.cpp):
void RegisterCallInfo(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallLocate(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallNode(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallChildren(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallPath(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallAggregate(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallTopK(CLI::App& call, const std::shared_ptr<CallArgs>& common);
// Writes, with the writer token (cmd_call_writes.cpp):
void RegisterCallUpdate(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallCheckpoint(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallReload(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallTrack(CLI::App& call, const std::shared_ptr<CallArgs>& common);
// Tracked objects (cmd_call_objects.cpp):
void RegisterCallObjects(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallNearest(CLI::App& call, const std::shared_ptr<CallArgs>& common);
// Subscriptions that print what the server pushes (cmd_call_watch.cpp):
void RegisterCallEvents(CLI::App& call, const std::shared_ptr<CallArgs>& common);
void RegisterCallWatch(CLI::App& call, const std::shared_ptr<CallArgs>& common);

}  // namespace gridtree::cli

// gridtree call update | checkpoint | reload | track: the writes, with the
// writer token. A write is never sent twice (Guarded, not GuardedRead):
// whether a lost one was applied is not known, and the error says so.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "batch_json.h"
#include "cmd_call.h"
#include "positions_csv.h"

namespace gridtree::cli {
namespace {

// TrackRequestBytes (positions_csv.h) counts an ObjectReport as this schema lays it out.
static_assert(proto::ObjectReport::_capnpPrivate::dataWordSize + proto::ObjectReport::_capnpPrivate::pointerCount ==
              kObjectReportWords);

// The writer capability, pipelined: no round trip before the write itself.
proto::Writer::Client WriterOf(rpc::Client& c, const std::string& token) {
  auto wreq = c.gridtree().writerRequest();
  wreq.setToken(token);
  return wreq.send().getWriter();
}

struct TrackArgs {
  std::string token_file, file;
  size_t batch = 10000;
  bool partial = false;  // calls of `batch` reports, each applied on its own
};

// What one track call may hold: the server's max_reports_per_batch (0: no
// limit) and the message limit both ends hold to, the smaller of the
// server's and --max-message-bytes, with how to say it.
struct TrackLimits {
  uint64_t max_reports = 0;
  uint64_t max_bytes = 0;
  std::string message_limit;
};

TrackLimits AskTrackLimits(rpc::Client& c, uint64_t max_message_bytes) {
  auto info = c.gridtree().infoRequest().send().wait(c.wait_scope());
  const auto limits = info.getInfo().getLimits();
  TrackLimits out;
  out.max_reports = limits.getMaxReportsPerBatch();
  out.max_bytes =
      limits.getMaxMessageBytes() > 0 ? std::min(limits.getMaxMessageBytes(), max_message_bytes) : max_message_bytes;
  out.message_limit = std::to_string(out.max_bytes) + " bytes (" +
                      (limits.getMaxMessageBytes() > 0 ? "max_message_bytes: the smaller of the server's " +
                                                             std::to_string(limits.getMaxMessageBytes()) + " and "
                                                       : std::string()) +
                      "--max-message-bytes " + std::to_string(max_message_bytes) + ")";
  return out;
}

// The rows of --file, every line parsed and checked before anything is sent.
std::vector<PositionRow> ReadTrackFile(const TrackArgs& a) {
  if (a.batch == 0) Fail("call", "--batch must be at least 1");
  auto parsed = ReadPositionsCsv(a.file);
  if (!parsed.ok()) Fail("call", parsed.status().message());
  if (parsed->empty()) Fail("call", a.file + ": no reports");
  return std::move(parsed).value();
}

[[noreturn]] void FailTooManyReports(const std::string& file, size_t rows, uint64_t limit) {
  Fail("call", file + ": " + std::to_string(rows) + " reports are more than the server's limit of " +
                   std::to_string(limit) +
                   " per call (max_reports_per_batch); nothing was applied. Split the file, or pass "
                   "--partial to send calls of --batch reports, each applied on its own");
}

// Without --partial the file goes in one call: refused here, before
// anything is sent, when that call could not be taken.
void CheckOneCallFits(const std::string& file, const std::vector<PositionRow>& rows, const TrackLimits& limits) {
  if (limits.max_reports > 0 && rows.size() > limits.max_reports)
    FailTooManyReports(file, rows.size(), limits.max_reports);
  if (ReportsThatFit(rows, 0, limits.max_bytes) < rows.size())
    Fail("call", file + ": " + std::to_string(rows.size()) + " reports would take about " +
                     std::to_string(TrackRequestBytes(rows)) + " bytes in one call, over the message limit of " +
                     limits.message_limit +
                     "; nothing was applied. Split the file, or pass --partial to send calls that fit, "
                     "each applied on its own");
}

// The message of a refused track call with its "report K of M" (1-based,
// in the call that held rows[begin, ...)) rewritten as FILE:LINE.
std::string AtLine(std::string message, const std::vector<PositionRow>& rows, size_t begin, const std::string& file) {
  message = WithoutRemotePrefix(std::move(message));
  const size_t at = message.find("report ");
  if (at == std::string::npos) return message;
  size_t k = 0, m = 0;
  int used = 0;
  if (std::sscanf(message.c_str() + at + 7, "%zu of %zu%n", &k, &m, &used) != 2 || k == 0 || begin + k > rows.size())
    return message;
  return message.substr(0, at) + file + ":" + std::to_string(rows[begin + k - 1].line) +
         message.substr(at + 7 + static_cast<size_t>(used));
}

// A refused track call of rows[begin, end): the reason at its line, and
// which lines of the file were applied before it.
[[noreturn]] void FailTrackCall(const kj::Exception& e, const TrackArgs& a, const std::vector<PositionRow>& rows,
                                size_t begin, size_t end) {
  const std::string why = AtLine(e.getDescription().cStr(), rows, begin, a.file);
  const int code = e.getType() == kj::Exception::Type::OVERLOADED ? 3 : 1;
  if (!a.partial) {
    if (const size_t at = why.find("max_reports_per_batch "); at != std::string::npos)
      FailTooManyReports(a.file, rows.size(), std::strtoull(why.c_str() + at + 22, nullptr, 10));
    Fail("call", why + " (nothing of " + a.file + " was applied)", code);
  }
  Fail("call",
       why + (begin == 0 ? " (nothing of " + a.file + " was applied)"
                         : " (" + a.file + ": lines " + std::to_string(rows[0].line) + " to " +
                               std::to_string(rows[begin - 1].line) + " were applied; lines " +
                               std::to_string(rows[begin].line) + " to " + std::to_string(rows[end - 1].line) +
                               ", the call that failed, and after were not)"),
       code);
}

struct TrackTotals {
  uint64_t outside = 0, moved = 0, version = 0, position = 0;
};

// Sends the rows: whole, one call (checked to fit before); partial, calls
// of --batch rows, fewer when the server's limits or the message limit need.
TrackTotals SendReports(rpc::Client& c, proto::Writer::Client& writer, const TrackArgs& a,
                        const std::vector<PositionRow>& rows, const TrackLimits& limits) {
  TrackTotals totals;
  for (size_t begin = 0, end = 0; begin < rows.size(); begin = end) {
    const auto next = std::span(rows).subspan(begin, std::min(a.batch, rows.size() - begin));
    const size_t take = a.partial ? ReportsThatFit(next, limits.max_reports, limits.max_bytes) : rows.size();
    if (take == 0)
      Fail("call", a.file + ":" + std::to_string(rows[begin].line) + ": the report alone would take about " +
                       std::to_string(TrackRequestBytes(next.first(1))) + " bytes, over the message limit of " +
                       limits.message_limit +
                       (begin == 0 ? "; nothing was applied"
                                   : "; lines " + std::to_string(rows[0].line) + " to " +
                                         std::to_string(rows[begin - 1].line) + " were applied"));
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
      auto r = req.send().wait(c.wait_scope());
      totals.outside += r.getOutside();
      totals.moved += r.getMoved();
      totals.version = r.getObjectsVersion();
      totals.position = r.getPosition();
    } catch (const kj::Exception& e) {
      FailTrackCall(e, a, rows, begin, end);
    }
  }
  return totals;
}

}  // namespace

void RegisterCallUpdate(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::string token_file, file;
  };
  auto a = std::make_shared<Args>();
  auto* update = call.add_subcommand("update", "Apply a BATCH.json of metric updates (needs the writer token)");
  update->add_option("--token-file", a->token_file, "File holding the writer token (else GRIDTREE_WRITER_TOKEN)");
  update->add_option("--file", a->file, "BATCH.json")->required();
  update->callback(Guarded([common, a] {
    auto batch = ReadBatchJson(a->file);
    if (!batch.ok()) Fail("call", batch.status().message());
    const std::string token = WriterToken(a->token_file);
    auto c = common->Connect();
    auto req = WriterOf(*c, token).applyRequest();
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
}

void RegisterCallCheckpoint(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto token_file = std::make_shared<std::string>();
  auto* checkpoint =
      call.add_subcommand("checkpoint", "Write a checkpoint of the metrics and trim the log (writer token)");
  checkpoint->add_option("--token-file", *token_file, "File holding the writer token");
  checkpoint->callback(Guarded([common, token_file] {
    const std::string token = WriterToken(*token_file);
    auto c = common->Connect();
    WriterOf(*c, token).checkpointRequest().send().wait(c->wait_scope());
    std::cout << "{\"checkpoint\":\"ok\"}" << std::endl;
  }));
}

void RegisterCallReload(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  struct Args {
    std::string token_file, path;
  };
  auto a = std::make_shared<Args>();
  auto* reload = call.add_subcommand("reload", "Swap the server to another dataset file (path on the server)");
  reload->add_option("--token-file", a->token_file, "File holding the writer token");
  reload->add_option("path", a->path, "Dataset path on the server")->required();
  reload->callback(Guarded([common, a] {
    const std::string token = WriterToken(a->token_file);
    auto c = common->Connect();
    auto req = WriterOf(*c, token).reloadRequest();
    req.setPath(a->path);
    auto r = req.send().wait(c->wait_scope());
    std::cout << "{\"dataset_version\":" << r.getDatasetVersion() << ",\"nodes\":" << r.getNodes()
              << ",\"leaves\":" << r.getLeaves() << "}" << std::endl;
  }));
}

void RegisterCallTrack(CLI::App& call, const std::shared_ptr<CallArgs>& common) {
  auto a = std::make_shared<TrackArgs>();
  auto* track = call.add_subcommand("track", "Send position reports from a CSV file (writer token)");
  track->add_option("--token-file", a->token_file, "File holding the writer token (else GRIDTREE_WRITER_TOKEN)");
  track->add_option("--file", a->file, "POSITIONS.csv: id,kind,lon,lat[,unix_time]")->required();
  track
      ->add_option("--batch", a->batch,
                   "Reports per call with --partial (fewer where a call would not fit the "
                   "server's max_reports_per_batch or the message limit)")
      ->capture_default_str();
  track->add_flag("--partial", a->partial,
                  "Send calls of --batch reports, each applied on its own (default: the whole file in one call, "
                  "applied whole or not at all)");
  track->callback(Guarded([common, a] {
    const std::vector<PositionRow> rows = ReadTrackFile(*a);
    const std::string token = WriterToken(a->token_file);
    auto c = common->Connect();
    const TrackLimits limits = AskTrackLimits(*c, common->max_message_bytes);
    if (!a->partial) CheckOneCallFits(a->file, rows, limits);
    auto writer = WriterOf(*c, token);
    const TrackTotals t = SendReports(*c, writer, *a, rows, limits);
    std::cout << "{\"reports\":" << rows.size() << ",\"outside\":" << t.outside << ",\"moved\":" << t.moved
              << ",\"objects_version\":" << t.version << ",\"position\":" << t.position << "}" << std::endl;
  }));
}

}  // namespace gridtree::cli

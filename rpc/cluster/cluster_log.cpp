#include "cluster_log.h"

#include <fcntl.h>
#include <nats/nats.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "gridtree/rpc/server.h"
#include "log_message.h"
#include "replica_state.h"

namespace gridtree::cluster {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::string NatsError(natsStatus s, jsErrCode code = static_cast<jsErrCode>(0)) {
  std::string text = natsStatus_GetText(s);
  if (const char* last = nats_GetLastError(nullptr); last && *last) text += std::string(" (") + last + ")";
  if (code) text += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return text;
}

int64_t UnixNow() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

// What the stream says about the image it belongs to and the settings that
// decide what a write does (its description): replicas that differ in any
// would apply the same log differently, so they are refused.
std::string DatasetMark(const Dataset& ds, const ClusterOptions& o) {
  char snap[32];
  std::snprintf(snap, sizeof snap, "%g", o.snap_objects_m);
  return "gridtree image fingerprint=" + std::to_string(ds.fingerprint) + " source=" +
         std::filesystem::path(ds.source).filename().string() + " snap_objects_m=" + snap +
         " expire_objects_s=" + std::to_string(o.expire_after_s);
}

}  // namespace

struct ClusterLog::Impl {
  Engine& engine;
  ClusterOptions options;
  std::string subject;
  uint64_t origin = 0;
  int lock_fd = -1;

  natsOptions* nats_options = nullptr;
  natsConnection* connection = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* subscription = nullptr;
  std::thread reader;
  std::atomic<bool> stopping{false};

  // Writes taken here and not yet answered, by request number.
  struct Pending {
    Done done;
    // For a publish no JetStream server took (the stream's leader is being
    // elected): sent again, with the same message id, until the timeout.
    std::string bytes;
    SteadyClock::time_point first_try, next_try;
  };
  std::vector<uint64_t> retries;  // requests to publish again; guarded by pending_mu
  std::mutex pending_mu;
  std::map<uint64_t, Pending> pending;
  std::atomic<uint64_t> next_request{0};

  // Where the reader stands (written by the reader only).
  std::atomic<uint64_t> applied{0};
  std::atomic<uint64_t> lag{0};
  std::atomic<uint64_t> skipped{0};
  mutable std::mutex digest_mu;  // the digest and its position, read together
  uint64_t digest = 0, digest_position = 0;
  bool digest_done = false;
  uint64_t start_target = 0;  // the stream's last position when this replica started
  int64_t log_time = 0;       // the time carried by the last write applied
  uint64_t checkpoint_position = 0;
  uint64_t checkpoint_failed_position = 0;
  SteadyClock::time_point checkpoint_at = SteadyClock::now();
  SteadyClock::time_point digest_at{};
  SteadyClock::time_point lag_checked_at{};
  std::atomic<int64_t> last_expire_mark{0};
  // Published checkpoints: their stream and subject, and the position of
  // the newest one seen (by the reader).
  std::string checkpoint_stream, checkpoint_subject;
  uint64_t published_position = 0;
  // Set when the reader must stop (it fell behind a trimmed log): the
  // replica serves what it has, says why in /healthz, and must be restarted.
  std::string failure;  // guarded by digest_mu

  // Checkpoint requests from other threads, done by the reader between writes.
  std::mutex checkpoint_mu;
  std::condition_variable checkpoint_cv;
  uint64_t checkpoint_requests = 0, checkpoints_done = 0;
  Status checkpoint_status = Status::Ok();

  Impl(Engine& e, ClusterOptions o) : engine(e), options(std::move(o)) {}
  ~Impl();

  Status Connect();
  Status FindOrCreateStream(uint64_t* first, uint64_t* last);
  Status Subscribe(uint64_t after);
  void Publish(LogMessage message, Done done);
  void SendAsync(uint64_t request, const std::string& bytes);
  void SendRetries();
  static void OnPublishError(jsCtx*, jsPubAckErr* pae, void* closure);
  std::optional<Pending> TakePending(uint64_t request);
  void Run();
  void ApplyOne(uint64_t position, const char* data, int length);
  void Idle();
  Status WriteCheckpointNow();
  void MaybeWriteCheckpoint();
  // Finds stream `name`, creating it when missing, retrying until give_up.
  Status OpenStream(const std::string& name, const std::string& subject, const std::string& mark,
                    SteadyClock::time_point give_up, jsStreamInfo** info);
  Status CreateStream(const std::string& name, const std::string& subject, const std::string& mark, jsStreamInfo** info,
                      jsErrCode* code);
  // The newest published checkpoint's position and the sequence of its
  // last chunk (0, 0 when there is none).
  // With complete false, a checkpoint still being published counts too
  // (its position is in every chunk): another replica is on it.
  std::pair<uint64_t, uint64_t> NewestPublished(bool complete = true);
  Status PublishCheckpoint(const ReplicaCheckpoint& checkpoint);
  Result<ReplicaCheckpoint> FetchPublishedCheckpoint();
  void MaybePublishCheckpoint();
  // Stops applying the log (the reader leaves its loop when failed() is
  // set); /healthz says why.
  void Stop(const std::string& why);
  bool failed() {
    std::lock_guard lock(digest_mu);
    return !failure.empty();
  }
  int64_t stream_created = 0;  // jsStreamInfo.Created of the stream joined
  void ServeCheckpointRequests();
};

ClusterLog::Impl::~Impl() {
  if (subscription) natsSubscription_Destroy(subscription);
  if (js) jsCtx_Destroy(js);
  if (connection) {
    natsConnection_Close(connection);
    natsConnection_Destroy(connection);
  }
  if (nats_options) natsOptions_Destroy(nats_options);
  if (lock_fd >= 0) ::close(lock_fd);
}

Status ClusterLog::Impl::Connect() {
  std::vector<const char*> urls;
  for (const std::string& s : options.servers) urls.push_back(s.c_str());
  natsStatus s = natsOptions_Create(&nats_options);
  if (s == NATS_OK) s = natsOptions_SetServers(nats_options, urls.data(), static_cast<int>(urls.size()));
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(nats_options, -1);  // a replica never gives up on its log
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(nats_options, 200);
  if (s == NATS_OK) s = natsOptions_SetTimeout(nats_options, 2000);
  if (s == NATS_OK) s = natsOptions_SetName(nats_options, "gridtree replica");
  if (s != NATS_OK) return InvalidArgument("--cluster " + Join(options.servers) + ": " + NatsError(s));
  s = natsConnection_Connect(&connection, nats_options);
  if (s != NATS_OK)
    return FailedPrecondition("cannot reach any NATS server of --cluster " + Join(options.servers) + ": " + NatsError(s));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.publish_timeout_ms;
  jo.PublishAsync.MaxPending = 1 << 20;
  jo.PublishAsync.ErrHandler = &Impl::OnPublishError;
  jo.PublishAsync.ErrHandlerClosure = this;
  s = natsConnection_JetStream(&js, connection, &jo);
  if (s != NATS_OK) return FailedPrecondition("JetStream context: " + NatsError(s));
  return Status::Ok();
}

Status ClusterLog::Impl::FindOrCreateStream(uint64_t* first, uint64_t* last) {
  const std::string mark = DatasetMark(engine.Read()->dataset(), options);
  // Right after the NATS servers start, or while one of them restarts,
  // JetStream may have no leader for its metadata or for a stream for a few
  // seconds, and answers with a timeout: retry for up to 30 s.
  const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
  jsStreamInfo* info = nullptr;
  if (Status s = OpenStream(options.stream, subject, mark, give_up, &info); !s.ok()) return s;
  const std::string theirs = info->Config && info->Config->Description ? info->Config->Description : "";
  *first = info->State.FirstSeq;
  *last = info->State.LastSeq;
  stream_created = info->Created;
  const uint64_t msgs = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  if (theirs != mark)
    return FailedPrecondition("stream " + options.stream + " belongs to another image or settings: it says \"" + theirs +
                              "\", this replica serves \"" + mark +
                              "\"; start it with that stream's image and settings, or give it its own --stream");
  if (msgs == 0) *first = *last + 1;
  // The stream of published checkpoints beside it.
  jsStreamInfo* checkpoints = nullptr;
  if (Status s = OpenStream(checkpoint_stream, checkpoint_subject, mark, give_up, &checkpoints); !s.ok()) return s;
  jsStreamInfo_Destroy(checkpoints);
  return Status::Ok();
}

Status ClusterLog::Impl::OpenStream(const std::string& name, const std::string& subj, const std::string& mark,
                                    SteadyClock::time_point give_up, jsStreamInfo** info) {
  for (;;) {
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetStreamInfo(info, js, name.c_str(), nullptr, &code);
    if (s == NATS_OK) return Status::Ok();
    // Missing: create it (another replica may create it first; then the
    // next look finds it).
    Status made = s == NATS_NOT_FOUND ? CreateStream(name, subj, mark, info, &code)
                                      : FailedPrecondition("stream " + name + ": " + NatsError(s, code));
    if (made.ok()) return made;
    if (SteadyClock::now() > give_up)
      return FailedPrecondition(made.message() + " (on " + Join(options.servers) + ", retried for 30 s)");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status ClusterLog::Impl::CreateStream(const std::string& name, const std::string& subj, const std::string& mark,
                                      jsStreamInfo** info, jsErrCode* code) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char* subjects[] = {subj.c_str()};
  cfg.Name = name.c_str();
  cfg.Description = mark.c_str();
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  const int n = static_cast<int>(options.servers.size());
  cfg.Replicas = options.stream_replicas > 0 ? options.stream_replicas : std::min(3, n);
  cfg.Duplicates = int64_t{120} * 1'000'000'000;  // a retried publish within 2 min is stored once
  const natsStatus s = js_AddStream(info, js, &cfg, nullptr, code);
  if (s != NATS_OK) return FailedPrecondition("create stream " + name + ": " + NatsError(s, *code));
  rpc::LogLine("info", "cluster_stream_created",
               {{"stream", name}, {"replicas", std::to_string(cfg.Replicas)}, {"image", mark}});
  return Status::Ok();
}

// A published checkpoint is the bytes of SerializeCheckpoint in chunks, one
// message each: magic "GTCKCH01", u64 position, u32 chunk, u32 chunks, u64
// FNV-1a of the whole, then the chunk's bytes. A replica publishes its
// chunks with "expect the subject's last sequence to be my previous chunk",
// so that two replicas publishing at once cannot interleave: the chunks of
// one checkpoint are consecutive, the last one names them all.
namespace {
constexpr char kChunkMagic[8] = {'G', 'T', 'C', 'K', 'C', 'H', '0', '1'};
constexpr size_t kChunkHeader = 8 + 8 + 4 + 4 + 8;
constexpr size_t kChunkBytes = 256 << 10;  // under NATS's default 1 MB payload

struct ChunkHeader {
  uint64_t position = 0;
  uint32_t index = 0, count = 0;
  uint64_t hash = 0;
};

bool ReadChunkHeader(const char* data, int length, ChunkHeader& h) {
  if (length < static_cast<int>(kChunkHeader) || std::memcmp(data, kChunkMagic, 8) != 0) return false;
  std::memcpy(&h.position, data + 8, 8);
  std::memcpy(&h.index, data + 16, 4);
  std::memcpy(&h.count, data + 20, 4);
  std::memcpy(&h.hash, data + 24, 8);
  return h.count > 0 && h.index < h.count;
}
}  // namespace

std::pair<uint64_t, uint64_t> ClusterLog::Impl::NewestPublished(bool complete) {
  natsMsg* msg = nullptr;
  if (js_GetLastMsg(&msg, js, checkpoint_stream.c_str(), checkpoint_subject.c_str(), nullptr, nullptr) != NATS_OK)
    return {0, 0};
  ChunkHeader h;
  std::pair<uint64_t, uint64_t> out{0, natsMsg_GetSequence(msg)};
  if (ReadChunkHeader(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), h) && (h.index + 1 == h.count || !complete))
    out.first = h.position;
  natsMsg_Destroy(msg);
  return out;
}

Status ClusterLog::Impl::PublishCheckpoint(const ReplicaCheckpoint& checkpoint) {
  const std::string bytes = SerializeCheckpoint(checkpoint);
  const uint64_t hash = Fnv1a(bytes.data(), bytes.size());
  const uint32_t count = static_cast<uint32_t>((bytes.size() + kChunkBytes - 1) / kChunkBytes);
  uint64_t last_seq = NewestPublished().second, first_seq = 0;
  for (uint32_t i = 0; i < count; ++i) {
    std::string msg(kChunkMagic, 8);
    msg.append(reinterpret_cast<const char*>(&checkpoint.position), 8);
    msg.append(reinterpret_cast<const char*>(&i), 4);
    msg.append(reinterpret_cast<const char*>(&count), 4);
    msg.append(reinterpret_cast<const char*>(&hash), 8);
    msg.append(bytes, static_cast<size_t>(i) * kChunkBytes, kChunkBytes);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.ExpectLastSubjectSeq = last_seq;
    po.ExpectNoMessage = last_seq == 0;
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s =
        js_Publish(&ack, js, checkpoint_subject.c_str(), msg.data(), static_cast<int>(msg.size()), &po, &code);
    if (s != NATS_OK) return FailedPrecondition("publish checkpoint chunk " + std::to_string(i) + ": " + NatsError(s, code));
    last_seq = ack->Sequence;
    if (i == 0) first_seq = ack->Sequence;
    jsPubAck_Destroy(ack);
  }
  // Only the newest checkpoint is kept.
  jsOptions po;
  jsOptions_Init(&po);
  po.Stream.Purge.Sequence = first_seq;
  js_PurgeStream(js, checkpoint_stream.c_str(), &po, nullptr);
  return Status::Ok();
}

Result<ReplicaCheckpoint> ClusterLog::Impl::FetchPublishedCheckpoint() {
  const auto [position, last_seq] = NewestPublished();
  if (position == 0) return FailedPrecondition("no checkpoint was published to stream " + checkpoint_stream);
  std::string bytes;
  ChunkHeader last;
  for (uint64_t seq = 0;; ++seq) {
    natsMsg* msg = nullptr;
    if (seq == 0) {
      // The last chunk says how many there are, and so where the first is.
      if (js_GetMsg(&msg, js, checkpoint_stream.c_str(), last_seq, nullptr, nullptr) != NATS_OK)
        return FailedPrecondition("published checkpoint: its last chunk is gone");
      ReadChunkHeader(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), last);
      natsMsg_Destroy(msg);
      seq = last_seq - last.count;
      continue;
    }
    if (js_GetMsg(&msg, js, checkpoint_stream.c_str(), seq, nullptr, nullptr) != NATS_OK)
      return FailedPrecondition("published checkpoint at position " + std::to_string(position) + ": chunk at " +
                                std::to_string(seq) + " is gone (a newer one replaced it: try again)");
    ChunkHeader h;
    const bool ok = ReadChunkHeader(natsMsg_GetData(msg), natsMsg_GetDataLength(msg), h) && h.position == position &&
                    h.count == last.count && h.index == seq - (last_seq - last.count + 1);
    if (ok) bytes.append(natsMsg_GetData(msg) + kChunkHeader, natsMsg_GetDataLength(msg) - kChunkHeader);
    natsMsg_Destroy(msg);
    if (!ok) return FailedPrecondition("published checkpoint at position " + std::to_string(position) + ": chunk at " +
                                       std::to_string(seq) + " does not belong to it");
    if (seq == last_seq) break;
  }
  if (Fnv1a(bytes.data(), bytes.size()) != last.hash)
    return FailedPrecondition("published checkpoint at position " + std::to_string(position) + ": checksum mismatch");
  const Dataset& ds = engine.Read()->dataset();
  return ParseCheckpoint(bytes, "checkpoint published to " + checkpoint_stream, ds.fingerprint, ds.leaf_count(),
                         ds.metric_count());
}

void ClusterLog::Impl::MaybePublishCheckpoint() {
  const uint64_t every = options.publish_checkpoint_every_positions;
  const uint64_t position = applied.load();
  if (every == 0 || position < published_position + every) return;
  // Another replica may have published since we last looked, or be
  // publishing now.
  published_position = std::max(published_position, NewestPublished(false).first);
  if (position < published_position + every) return;
  const uint64_t previous = NewestPublished(true).first;
  if (Status s = PublishCheckpoint(TakeCheckpoint(engine, position, log_time)); !s.ok()) {
    // Most often another replica published at the same moment. Either way
    // this one waits a whole interval before it tries again.
    rpc::LogLine("info", "cluster_checkpoint_not_published", {{"position", std::to_string(position)}, {"why", s.message()}});
    published_position = position;
    return;
  }
  published_position = position;
  // The log is trimmed up to the checkpoint before this one: a replica
  // behind by less than a whole interval still reads on without a gap.
  if (previous > 0) {
    jsOptions po;
    jsOptions_Init(&po);
    po.Stream.Purge.Sequence = previous + 1;
    js_PurgeStream(js, options.stream.c_str(), &po, nullptr);
  }
  rpc::LogLine("info", "cluster_checkpoint_published",
               {{"position", std::to_string(position)}, {"log_trimmed_through", std::to_string(previous)}});
}

Status ClusterLog::Impl::Subscribe(uint64_t after) {
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = options.stream.c_str();
  so.Ordered = true;  // in order, no acks, recreated by the client after a server fails
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = after + 1;
  // Heartbeats every second: when the server holding the consumer dies, the
  // client notices in about two seconds (the default, 5 s, stalled a
  // replica for 10 s) and recreates it from the next position.
  so.Config.Heartbeat = int64_t{1'000'000'000};
  jsErrCode code = static_cast<jsErrCode>(0);
  const auto give_up = SteadyClock::now() + std::chrono::seconds(30);
  for (;;) {
    natsStatus s = js_SubscribeSync(&subscription, js, subject.c_str(), nullptr, &so, &code);
    if (s == NATS_OK) {
      natsSubscription_SetPendingLimits(subscription, -1, -1);  // the reader keeps up; never drop
      return Status::Ok();
    }
    if (SteadyClock::now() > give_up) return FailedPrecondition("cannot read stream " + options.stream + ": " + NatsError(s, code));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

std::optional<ClusterLog::Impl::Pending> ClusterLog::Impl::TakePending(uint64_t request) {
  std::lock_guard lock(pending_mu);
  auto it = pending.find(request);
  if (it == pending.end()) return std::nullopt;
  Pending p = std::move(it->second);
  pending.erase(it);
  return p;
}

void ClusterLog::Impl::Publish(LogMessage message, Done done) {
  if (stopping) {
    if (done) done(FailedPrecondition("not stored: this replica is stopping; send the write to another one"));
    return;
  }
  message.origin = origin;
  message.request = ++next_request;
  message.time = UnixNow();
  std::string bytes = EncodeLogMessage(message);
  if (done) {
    std::lock_guard lock(pending_mu);
    pending[message.request] = Pending{std::move(done), bytes, SteadyClock::now(), {}};
  }
  SendAsync(message.request, bytes);
}

void ClusterLog::Impl::SendAsync(uint64_t request, const std::string& bytes) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = options.publish_timeout_ms;
  // The message id makes a publish sent twice (a retry) stored once.
  const std::string msg_id = std::to_string(origin) + "-" + std::to_string(request);
  po.MsgId = msg_id.c_str();
  const natsStatus s = js_PublishAsync(js, subject.c_str(), bytes.data(), static_cast<int>(bytes.size()), &po);
  if (s != NATS_OK)
    if (auto p = TakePending(request))
      p->done(FailedPrecondition("not stored: the replicated log refused the write: " + NatsError(s)));
}

void ClusterLog::Impl::SendRetries() {
  std::vector<std::pair<uint64_t, std::string>> due;
  std::vector<Pending> expired;
  {
    std::lock_guard lock(pending_mu);
    const auto now = SteadyClock::now();
    // A write neither answered by the log nor refused by JetStream in time
    // (the client library drops the acknowledgement of a publish it had
    // buffered while reconnecting) is answered here: its fate is not known.
    const auto limit = std::chrono::milliseconds(options.publish_timeout_ms + 1000);
    for (auto it = pending.begin(); it != pending.end();) {
      if (now - it->second.first_try > limit) {
        expired.push_back(std::move(it->second));
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(retries, [&](uint64_t request) {
      auto it = pending.find(request);
      if (it == pending.end()) return true;
      if (it->second.next_try > now) return false;
      due.emplace_back(request, it->second.bytes);
      return true;
    });
  }
  for (auto& [request, bytes] : due) SendAsync(request, bytes);
  for (Pending& p : expired)
    p.done(FailedPrecondition("not acknowledged: no answer from JetStream or from the log within " +
                              std::to_string(options.publish_timeout_ms + 1000) +
                              " ms (fewer than a quorum of the stream's NATS servers up, or the connection to them "
                              "lost). Whether the write was stored is not known: it may appear later; read before "
                              "retrying a write that adds"));
}

void ClusterLog::Impl::OnPublishError(jsCtx*, jsPubAckErr* pae, void* closure) {
  auto* self = static_cast<Impl*>(closure);
  const char* data = natsMsg_GetData(pae->Msg);
  const auto [msg_origin, request] = PeekOrigin({data, static_cast<size_t>(natsMsg_GetDataLength(pae->Msg))});
  if (msg_origin != self->origin) return;
  if (pae->Err == NATS_NO_RESPONDERS) {
    // Nothing was stored; while the stream elects a leader, try again
    // every 100 ms until the publish timeout (the reader thread sends).
    std::lock_guard lock(self->pending_mu);
    auto it = self->pending.find(request);
    if (it == self->pending.end()) return;
    const auto now = SteadyClock::now();
    if (now - it->second.first_try < std::chrono::milliseconds(self->options.publish_timeout_ms)) {
      it->second.next_try = now + std::chrono::milliseconds(100);
      self->retries.push_back(request);
      return;
    }
  }
  auto p = self->TakePending(request);
  if (!p) return;
  const std::string why = pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err);
  if (pae->Err == NATS_TIMEOUT) {
    // The servers may have stored it without the answer reaching us.
    p->done(FailedPrecondition(
        "not acknowledged: JetStream did not acknowledge the write within " +
        std::to_string(self->options.publish_timeout_ms) + " ms (" + why +
        "): most likely fewer than a quorum of the stream's NATS servers are up. Whether it was stored is not "
        "known: it may appear once they are back; read before retrying a write that adds"));
    return;
  }
  if (pae->Err == NATS_NO_RESPONDERS) {
    p->done(FailedPrecondition("not stored: no JetStream server took the write for stream " + self->options.stream +
                               " (" + why + "): most likely fewer than a quorum of its NATS servers are up; "
                               "retry it later"));
    return;
  }
  p->done(FailedPrecondition("not stored: the replicated log refused the write: " + why));
}

void ClusterLog::Impl::ApplyOne(uint64_t position, const char* data, int length) {
  auto decoded = DecodeLogMessage({data, static_cast<size_t>(length)});
  if (decoded.ok() && decoded->time <= 0) decoded = InvalidArgument("no time");
  if (!decoded.ok()) {
    // Another program's message, or a damaged one: every replica decodes
    // the same bytes the same way, so every replica skips it.
    ++skipped;
    rpc::LogLine("warn", "cluster_message_skipped",
                 {{"stream", options.stream}, {"position", std::to_string(position)}, {"bytes", std::to_string(length)},
                  {"error", decoded.status().message()}});
    applied.store(position);
    return;
  }
  LogMessage& m = *decoded;
  Result<rpc::WriteAck> ack = rpc::WriteAck{};
  switch (m.kind) {
    case LogKind::kUpdate:
      if (auto r = engine.Apply(m.updates); r.ok()) ack->version = r.value();
      else ack = r.status();
      break;
    case LogKind::kTrack:
      if (auto r = engine.Track(m.reports, m.time); r.ok()) {
        ack->track = r.value();
        ack->version = r->objects_version;
      } else {
        ack = r.status();
      }
      break;
    case LogKind::kExpire:
      engine.ExpireObjects(m.time);
      break;
  }
  log_time = std::max(log_time, m.time);
  applied.store(position);
  if (m.origin == origin)
    if (auto p = TakePending(m.request)) {
      if (ack.ok()) ack->position = position;
      p->done(std::move(ack));
    }
}

Status ClusterLog::Impl::WriteCheckpointNow() {
  if (options.data_dir.empty()) return Status::Ok();
  const uint64_t position = applied.load();
  Status s = WriteCheckpoint(options.data_dir, TakeCheckpoint(engine, position, log_time));
  // After a failure (a full disk) the next try waits a whole interval too,
  // instead of writing the whole state again after every write.
  checkpoint_at = SteadyClock::now();
  if (s.ok()) {
    checkpoint_position = position;
  } else {
    checkpoint_failed_position = position;
    rpc::LogLine("error", "cluster_checkpoint_failed", {{"error", s.message()}});
  }
  return s;
}

void ClusterLog::Impl::ServeCheckpointRequests() {
  std::unique_lock lock(checkpoint_mu);
  if (checkpoints_done == checkpoint_requests) return;
  const uint64_t upto = checkpoint_requests;
  lock.unlock();
  Status s = WriteCheckpointNow();
  lock.lock();
  checkpoint_status = s;
  checkpoints_done = upto;
  checkpoint_cv.notify_all();
}

void ClusterLog::Impl::Idle() {
  const auto now = SteadyClock::now();
  const uint64_t position = applied.load();
  // The lag when nothing arrives: the stream's end as JetStream says, once
  // a second (a replica whose consumer is being recreated shows it).
  if (now - lag_checked_at >= std::chrono::seconds(1)) {
    lag_checked_at = now;
    jsStreamInfo* info = nullptr;
    if (js_GetStreamInfo(&info, js, options.stream.c_str(), nullptr, nullptr) == NATS_OK) {
      lag.store(info->State.LastSeq > position ? info->State.LastSeq - position : 0);
      const int64_t created = info->Created;
      jsStreamInfo_Destroy(info);
      if (created != stream_created) {
        // Deleted and made anew: its positions are another history's.
        Stop("stream " + options.stream + " was deleted and created again while this replica read it; restart "
             "this replica (move DIR/checkpoint.bin away to start it over from the image)");
      }
    }
  }
  // The digest of a position, computed when the reader has nothing to do
  // (at most once a second): it walks every leaf and object.
  bool due = false;
  {
    std::lock_guard lock(digest_mu);
    due = (!digest_done || digest_position != position) && now - digest_at >= std::chrono::seconds(1);
  }
  if (due) {
    const uint64_t value = StateDigest(engine);
    std::lock_guard lock(digest_mu);
    digest = value;
    digest_position = position;
    digest_done = true;
    digest_at = now;
  }
  MaybeWriteCheckpoint();
}

void ClusterLog::Impl::MaybeWriteCheckpoint() {
  const uint64_t position = applied.load();
  if (options.data_dir.empty() || position == checkpoint_position) return;
  const uint64_t since = std::max(checkpoint_position, checkpoint_failed_position);
  if (position - since >= options.checkpoint_every_positions ||
      SteadyClock::now() - checkpoint_at >= std::chrono::duration<double>(options.checkpoint_every_seconds))
    (void)WriteCheckpointNow();  // a failure is logged there
}

void ClusterLog::Impl::Stop(const std::string& why) {
  rpc::LogLine("error", "cluster_replica_stopped", {{"stream", options.stream}, {"error", why}});
  std::lock_guard lock(digest_mu);
  failure = why;
}

void ClusterLog::Impl::Run() {
  SteadyClock::time_point last_error{};
  while (!stopping && !failed()) {
    ServeCheckpointRequests();
    SendRetries();
    natsMsg* msg = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&msg, subscription, 100);
    if (s == NATS_TIMEOUT) {
      Idle();
      continue;
    }
    if (s != NATS_OK) {
      // A missed heartbeat or a lost server: the ordered consumer is
      // recreated from the next position by the client; say so at most
      // once every 10 s.
      if (SteadyClock::now() - last_error > std::chrono::seconds(10)) {
        rpc::LogLine("warn", "cluster_read_interrupted", {{"stream", options.stream}, {"error", NatsError(s)}});
        last_error = SteadyClock::now();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
      const uint64_t position = meta->Sequence.Stream;
      lag.store(meta->NumPending);
      if (position > applied.load() + 1) {
        // Positions were trimmed before this replica read them: applying on
        // would diverge. Stop, and say so where an operator and a
        // supervisor look (log, /healthz); a restart joins from the
        // newest published checkpoint.
        Stop("fell behind the trimmed log: applied position " + std::to_string(applied.load()) +
             ", next available " + std::to_string(position) +
             "; restart this replica to rejoin from the newest published checkpoint");
        jsMsgMetaData_Destroy(meta);
        natsMsg_Destroy(msg);
        break;
      }
      if (position > applied.load()) ApplyOne(position, natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
      jsMsgMetaData_Destroy(meta);
      MaybeWriteCheckpoint();  // also while writes keep the reader from ever being idle
      MaybePublishCheckpoint();
    }
    natsMsg_Destroy(msg);
  }
  while (!stopping) {  // stopped by a gap: keep answering checkpoint requests and writes until the replica stops
    ServeCheckpointRequests();
    SendRetries();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ServeCheckpointRequests();
  if (!options.data_dir.empty() && applied.load() != checkpoint_position) (void)WriteCheckpointNow();
}

ClusterLog::ClusterLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<ClusterLog>> ClusterLog::Start(Engine& engine, ClusterOptions options) {
  if (options.servers.empty()) return InvalidArgument("--cluster: no NATS server given");
  if (options.stream.empty() || options.stream.find_first_of(" .*>\t") != std::string::npos)
    return InvalidArgument("--stream \"" + options.stream + "\": a stream name has no spaces, dots, * or >");
  auto impl = std::make_unique<Impl>(engine, std::move(options));
  Impl& d = *impl;
  d.subject = "gridtree." + d.options.stream;
  d.checkpoint_stream = d.options.stream + "_checkpoints";
  d.checkpoint_subject = d.subject + ".checkpoints";
  d.origin = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  const auto view = engine.Read();
  const Dataset& ds = view->dataset();

  // The local checkpoint, under the data directory's lock.
  ReplicaCheckpoint checkpoint;
  if (!d.options.data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(d.options.data_dir, ec);
    const std::string lock_path = d.options.data_dir + "/lock";
    d.lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (d.lock_fd < 0 || ::flock(d.lock_fd, LOCK_EX | LOCK_NB) != 0)
      return FailedPrecondition("data directory " + d.options.data_dir + " is in use by another process (" + lock_path + ")");
    auto read = ReadCheckpoint(d.options.data_dir, ds.fingerprint, ds.leaf_count(), ds.metric_count());
    if (!read.ok()) return read.status();
    checkpoint = std::move(read).value();
  }

  if (Status s = d.Connect(); !s.ok()) return s;
  uint64_t first = 0, last = 0;
  if (Status s = d.FindOrCreateStream(&first, &last); !s.ok()) return s;
  if (checkpoint.position > last)
    return FailedPrecondition("the checkpoint in " + d.options.data_dir + " stands at position " +
                              std::to_string(checkpoint.position) + " but stream " + d.options.stream + " ends at " +
                              std::to_string(last) +
                              ": the stream was recreated or purged since. Move " + d.options.data_dir + "/" +
                              kCheckpointFile + " away to rebuild this replica from the stream as it is now");
  if (first > checkpoint.position + 1) {
    // The log before `first` was trimmed: join from the newest published
    // checkpoint instead.
    auto published = d.FetchPublishedCheckpoint();
    if (!published.ok() || published->position + 1 < first)
      return FailedPrecondition(
          "stream " + d.options.stream + " starts at position " + std::to_string(first) + " but this replica needs " +
          std::to_string(checkpoint.position + 1) + " (the stream was trimmed), and no published checkpoint reaches it (" +
          (published.ok() ? "the newest is at " + std::to_string(published->position) : published.status().message()) +
          "); start it again in a minute, or from a data directory copied from another replica (docs/cluster.md)");
    rpc::LogLine("info", "cluster_checkpoint_fetched",
                 {{"position", std::to_string(published->position)}, {"stream_start", std::to_string(first)},
                  {"objects", std::to_string(published->objects.size())}});
    checkpoint = std::move(published).value();
  }
  if (checkpoint.position > 0) {
    if (Status s = RestoreCheckpoint(engine, checkpoint); !s.ok())
      return FailedPrecondition(d.options.data_dir + "/" + kCheckpointFile + ": " + s.message());
    d.applied = checkpoint.position;
    d.checkpoint_position = checkpoint.position;
    d.log_time = checkpoint.log_time;
  }
  d.start_target = last;
  if (Status s = d.Subscribe(checkpoint.position); !s.ok()) return s;
  rpc::LogLine("info", "cluster_joined",
               {{"stream", d.options.stream}, {"servers", Join(d.options.servers)},
                {"checkpoint_position", std::to_string(checkpoint.position)}, {"stream_end", std::to_string(last)}});
  d.reader = std::thread([&d] { d.Run(); });
  return std::unique_ptr<ClusterLog>(new ClusterLog(std::move(impl)));
}

ClusterLog::~ClusterLog() {
  impl_->stopping = true;
  if (impl_->reader.joinable()) impl_->reader.join();
  // No acknowledgement callback after this: the pending writes are failed
  // below, once, and the Impl they point to goes after them.
  // Wait (a little) for acknowledgement callbacks still running on the
  // client's threads: they use the Impl.
  if (impl_->js) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000;
    js_PublishAsyncComplete(impl_->js, &po);
  }
  if (impl_->connection) natsConnection_Close(impl_->connection);
  std::map<uint64_t, Impl::Pending> left;
  {
    std::lock_guard lock(impl_->pending_mu);
    left.swap(impl_->pending);
  }
  for (auto& [request, p] : left)
    p.done(FailedPrecondition("not known whether stored: this replica stopped before the write came back from the log"));
}

void ClusterLog::Apply(UpdateBatch batch, Done done) {
  LogMessage m;
  m.kind = LogKind::kUpdate;
  m.updates = std::move(batch);
  impl_->Publish(std::move(m), std::move(done));
}

void ClusterLog::Track(std::vector<ObjectReport> reports, Done done) {
  LogMessage m;
  m.kind = LogKind::kTrack;
  m.reports = std::move(reports);
  impl_->Publish(std::move(m), std::move(done));
}

void ClusterLog::ExpireObjects() {
  Impl& d = *impl_;
  if (d.options.expire_after_s <= 0 || d.engine.object_count() == 0) return;
  const int64_t now = UnixNow();
  if (now - d.last_expire_mark.load() < d.options.expire_mark_seconds) return;
  d.last_expire_mark = now;
  LogMessage m;
  m.kind = LogKind::kExpire;
  d.Publish(std::move(m), nullptr);
}

Status ClusterLog::Checkpoint() {
  Impl& d = *impl_;
  if (d.options.data_dir.empty()) return FailedPrecondition("checkpoint: this replica has no --data-dir");
  std::unique_lock lock(d.checkpoint_mu);
  const uint64_t mine = ++d.checkpoint_requests;
  d.checkpoint_cv.wait(lock, [&] { return d.checkpoints_done >= mine || d.stopping; });
  return d.checkpoints_done >= mine ? d.checkpoint_status : FailedPrecondition("checkpoint: the replica is stopping");
}

rpc::ReplicaStatus ClusterLog::status() const {
  const Impl& d = *impl_;
  rpc::ReplicaStatus s;
  s.position = d.applied.load();
  s.lag = d.lag.load();
  {
    std::lock_guard lock(d.digest_mu);
    s.digest = d.digest;
    s.digest_position = d.digest_position;
  }
  s.ready = s.position >= d.start_target;
  s.log = "jetstream stream " + d.options.stream + " on " + Join(d.options.servers);
  {
    std::lock_guard lock(d.digest_mu);
    s.failure = d.failure;
    if (!s.failure.empty()) {
      s.ready = false;
      s.log += " (stopped: " + s.failure + ")";
    }
  }
  s.skipped_messages = d.skipped.load();
  return s;
}

uint64_t ClusterLog::applied_position() const { return impl_->applied.load(); }

}  // namespace gridtree::cluster

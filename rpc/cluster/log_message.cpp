#include "log_message.h"

#include <cstring>

namespace gridtree::cluster {
namespace {

constexpr char kMagic[8] = {'G', 'T', 'L', 'O', 'G', '0', '0', '1'};
constexpr size_t kHeaderBytes = 8 + 8 + 8 + 8 + 8 + 4;  // magic, kind+pad, origin, request, time, body length

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  template <typename T>
  void Put(T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out_.append(b, sizeof(T));
  }
  void Str(std::string_view s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), end_(p + n) {}
  template <typename T>
  bool Get(T& v) {
    if (static_cast<size_t>(end_ - p_) < sizeof(T)) return false;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return true;
  }
  bool Str(std::string& s) {
    uint32_t n = 0;
    if (!Get(n) || static_cast<size_t>(end_ - p_) < n) return false;
    s.assign(p_, n);
    p_ += n;
    return true;
  }
  bool done() const { return p_ == end_; }
  size_t left() const { return static_cast<size_t>(end_ - p_); }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

uint64_t Fnv1a(const void* data, size_t n, uint64_t hash) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) hash = (hash ^ p[i]) * 1099511628211ull;
  return hash;
}

std::string EncodeLogMessage(const LogMessage& m) {
  std::string body;
  Writer b(body);
  if (m.kind == LogKind::kUpdate) {
    b.Put<uint32_t>(static_cast<uint32_t>(m.updates.updates.size()));
    for (const MetricUpdate& u : m.updates.updates) {
      b.Str(u.leaf_id);
      b.Str(u.metric);
      b.Put<uint8_t>(u.op == MetricUpdate::Op::kAdd ? 1 : 0);
      b.Put<int64_t>(u.value);
    }
  } else if (m.kind == LogKind::kTrack) {
    b.Put<uint32_t>(static_cast<uint32_t>(m.reports.size()));
    for (const ObjectReport& r : m.reports) {
      b.Str(r.id);
      b.Str(r.kind);
      b.Put<double>(r.lon);
      b.Put<double>(r.lat);
      b.Put<int64_t>(r.time);
    }
  }
  std::string out;
  out.reserve(kHeaderBytes + body.size() + 8);
  out.append(kMagic, sizeof kMagic);
  Writer w(out);
  w.Put<uint64_t>(static_cast<uint64_t>(m.kind));
  w.Put<uint64_t>(m.origin);
  w.Put<uint64_t>(m.request);
  w.Put<int64_t>(m.time);
  w.Put<uint32_t>(static_cast<uint32_t>(body.size()));
  out += body;
  w.Put<uint64_t>(Fnv1a(out.data(), out.size()));
  return out;
}

std::pair<uint64_t, uint64_t> PeekOrigin(std::span<const char> bytes) {
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return {0, 0};
  uint64_t origin = 0, request = 0;
  std::memcpy(&origin, bytes.data() + 16, 8);
  std::memcpy(&request, bytes.data() + 24, 8);
  return {origin, request};
}

Result<LogMessage> DecodeLogMessage(std::span<const char> bytes) {
  if (bytes.size() < kHeaderBytes + 8) return InvalidArgument(std::to_string(bytes.size()) + " bytes: too short for a gridtree write");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return InvalidArgument("not a gridtree write (no GTLOG001 magic)");
  uint64_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != Fnv1a(bytes.data(), bytes.size() - 8)) return InvalidArgument("checksum mismatch");
  Reader r(bytes.data() + sizeof kMagic, bytes.size() - sizeof kMagic - 8);
  LogMessage m;
  uint64_t kind = 0;
  uint32_t body = 0;
  r.Get(kind);
  r.Get(m.origin);
  r.Get(m.request);
  r.Get(m.time);
  r.Get(body);
  if (body != r.left()) return InvalidArgument("body length " + std::to_string(body) + " does not match the message");
  if (kind < 1 || kind > 3) return InvalidArgument("unknown kind " + std::to_string(kind));
  m.kind = static_cast<LogKind>(kind);
  uint32_t count = 0;
  if (m.kind == LogKind::kUpdate) {
    if (!r.Get(count) || count > r.left() / 17) return InvalidArgument("bad update count");
    m.updates.updates.resize(count);
    for (MetricUpdate& u : m.updates.updates) {
      uint8_t op = 0;
      if (!r.Str(u.leaf_id) || !r.Str(u.metric) || !r.Get(op) || !r.Get(u.value) || op > 1)
        return InvalidArgument("update batch cut short or with a bad op");
      u.op = op ? MetricUpdate::Op::kAdd : MetricUpdate::Op::kSet;
    }
  } else if (m.kind == LogKind::kTrack) {
    if (!r.Get(count) || count > r.left() / 32) return InvalidArgument("bad report count");
    m.reports.resize(count);
    for (ObjectReport& o : m.reports)
      if (!r.Str(o.id) || !r.Str(o.kind) || !r.Get(o.lon) || !r.Get(o.lat) || !r.Get(o.time))
        return InvalidArgument("position reports cut short");
  }
  if (!r.done()) return InvalidArgument("trailing bytes after the body");
  return m;
}

}  // namespace gridtree::cluster

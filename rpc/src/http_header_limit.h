// Internal: a request whose line or header block is too large gets 414 or
// 431, not a reset. kj's HTTP server fails a header block past its 128 KiB
// buffer with an exception and no reply, so this stream, between the socket
// and kj, counts the bytes of each header block and, past the limit, sends
// the reply itself and shows kj an end of input.
//
// Only for a port that serves GET (no request bodies): every byte read is
// header bytes until the blank line that ends them.
//
// Thread safety: loop thread only.
#pragma once

#include <kj/async-io.h>

#include <cstdint>
#include <functional>

namespace gridtree::rpc::internal {

class HeaderLimitStream final : public kj::AsyncIoStream {
 public:
  // on_refused(status) is called once when the limit is passed.
  HeaderLimitStream(kj::AsyncIoStream& inner, size_t max_header_bytes, std::function<void(unsigned)> on_refused)
      : inner_(inner), max_(max_header_bytes), on_refused_(std::move(on_refused)) {}

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes, size_t max_bytes) override;
  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> whenWriteDisconnected() override { return inner_.whenWriteDisconnected(); }
  void shutdownWrite() override;
  void abortRead() override { inner_.abortRead(); }
  void getsockopt(int level, int option, void* value, kj::uint* length) override {
    inner_.getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value, kj::uint length) override {
    inner_.setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override { inner_.getsockname(addr, length); }
  void getpeername(struct sockaddr* addr, kj::uint* length) override { inner_.getpeername(addr, length); }

 private:
  // Counts the bytes; returns the status to refuse with, or 0.
  unsigned Scan(const kj::byte* p, size_t n);
  kj::AsyncIoStream& inner_;
  size_t max_;
  std::function<void(unsigned)> on_refused_;
  size_t in_header_ = 0;     // bytes of the current header block so far
  bool line_ended_ = false;  // the request line of the current block has ended
  uint32_t tail_ = 0;        // the last four bytes, to find "\r\n\r\n"
  bool refused_ = false;     // from then on kj reads an end and writes nowhere
};

}  // namespace gridtree::rpc::internal

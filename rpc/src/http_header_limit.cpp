// HeaderLimitStream (http_header_limit.h).
#include "http_header_limit.h"

#include <kj/debug.h>

#include <string>

namespace gridtree::rpc::internal {

unsigned HeaderLimitStream::Scan(const kj::byte* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    tail_ = (tail_ << 8) | p[i];
    ++in_header_;
    if (p[i] == '\n') line_ended_ = true;
    if (tail_ == 0x0D0A0D0Au || (tail_ & 0xFFFFu) == 0x0A0Au) {  // a blank line: the block ends
      in_header_ = 0;
      line_ended_ = false;
      continue;
    }
    if (in_header_ > max_) return line_ended_ ? 431 : 414;
  }
  return 0;
}

kj::Promise<size_t> HeaderLimitStream::tryRead(void* buffer, size_t min_bytes, size_t max_bytes) {
  if (refused_) return size_t{0};
  return inner_.tryRead(buffer, min_bytes, max_bytes).then([this, buffer](size_t n) -> kj::Promise<size_t> {
    const unsigned status = Scan(static_cast<const kj::byte*>(buffer), n);
    if (status == 0) return n;
    refused_ = true;
    on_refused_(status);
    const std::string what = status == 414 ? "URI Too Long" : "Request Header Fields Too Large";
    const std::string body = "{\"error\":\"" + std::string(status == 414 ? "request line" : "request headers") +
                             " longer than " + std::to_string(max_) + " bytes\"}\n";
    auto reply = kj::heapString("HTTP/1.1 " + std::to_string(status) + " " + what +
                                "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body);
    auto written = inner_.write(reply.begin(), reply.size());
    return written.attach(kj::mv(reply)).then([]() { return size_t{0}; });
  });
}

kj::Promise<void> HeaderLimitStream::write(const void* buffer, size_t size) {
  if (refused_) return kj::READY_NOW;
  return inner_.write(buffer, size);
}

kj::Promise<void> HeaderLimitStream::write(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  if (refused_) return kj::READY_NOW;
  return inner_.write(pieces);
}

void HeaderLimitStream::shutdownWrite() {
  if (!refused_) inner_.shutdownWrite();
}

}  // namespace gridtree::rpc::internal

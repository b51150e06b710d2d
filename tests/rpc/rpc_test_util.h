// Helpers of the RPC tests: a server on its own thread and event loop
// (loopback TCP, optional HTTP port), log capture, a temp folder.
#pragma once

#include <arpa/inet.h>
#include <kj/async-io.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/rpc/server.h"

namespace gridtree::testing {

struct LogCapture {
  std::mutex mu;
  std::vector<std::string> lines;
  void Add(std::string_view l) {
    std::lock_guard lock(mu);
    lines.emplace_back(l);
  }
  bool Contains(std::string_view s) {
    std::lock_guard lock(mu);
    for (const auto& l : lines)
      if (l.find(s) != std::string::npos) return true;
    return false;
  }
  std::string All() {
    std::lock_guard lock(mu);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

class ServerThread {
 public:
  ServerThread(Engine& engine, rpc::ServerOptions options, bool http = false) {
    std::promise<std::pair<unsigned, unsigned>> ports;
    auto ready = ports.get_future();
    thread_ = std::thread([this, &engine, options, http, &ports]() mutable {
      auto io = kj::setupAsyncIo();
      rpc::Server server(engine, options, io.provider->getTimer());
      auto& net = io.provider->getNetwork();
      auto rx = net.parseAddress("127.0.0.1", 0).wait(io.waitScope)->listen();
      kj::Own<kj::ConnectionReceiver> hrx;
      if (http) hrx = net.parseAddress("127.0.0.1", 0).wait(io.waitScope)->listen();
      auto serving = server.Listen(*rx).eagerlyEvaluate(nullptr);
      kj::Promise<void> http_serving = http ? server.ListenHttp(*hrx).eagerlyEvaluate(nullptr) : kj::Promise<void>(kj::NEVER_DONE);
      auto paf = kj::newPromiseAndCrossThreadFulfiller<void>();
      stop_ = kj::mv(paf.fulfiller);
      ports.set_value({rx->getPort(), hrx ? hrx->getPort() : 0u});
      paf.promise.wait(io.waitScope);
      metrics_ = server.MetricsText();
    });
    auto p = ready.get();
    port_ = p.first;
    http_port_ = p.second;
  }
  ~ServerThread() { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    stop_->fulfill();
    thread_.join();
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  unsigned port() const { return port_; }
  unsigned http_port() const { return http_port_; }
  const std::string& final_metrics() const { return metrics_; }

 private:
  std::thread thread_;
  kj::Own<kj::CrossThreadPromiseFulfiller<void>> stop_;
  unsigned port_ = 0, http_port_ = 0;
  std::string metrics_;
};

// A plain TCP socket connected to 127.0.0.1:port, or -1.
inline int ConnectLoopback(unsigned port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("gridtree_rpc_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace gridtree::testing

// Three `nats-server` processes with JetStream, clustered on loopback (the
// configuration of docs/cluster.md), for the cluster tests: each can be
// killed with SIGKILL and started again on the same ports and store.
#pragma once

#include <nats/nats.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace gridtree::testing {

// A TCP port nobody listens on now, below the kernel's range for outgoing
// connections (32768 and up by default): a port from that range could be
// taken as the local end of some connection before a server (re)binds it.
inline unsigned FreePort() {
  static std::mt19937 random(static_cast<unsigned>(::getpid()) * 2654435761u ^
                             static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  for (;;) {
    const unsigned port = 20000 + random() % 12000;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    const bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (free) return port;
  }
}

inline bool HaveNatsServer() { return std::system("command -v nats-server >/dev/null 2>&1") == 0; }

class NatsCluster {
 public:
  explicit NatsCluster(std::filesystem::path dir, int servers = 3) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    for (int i = 0; i < servers; ++i) {
      client_ports_.push_back(FreePort());
      route_ports_.push_back(FreePort());
    }
    for (int i = 0; i < servers; ++i) {
      std::ofstream conf(Conf(i));
      conf << "server_name: n" << i << "\nlisten: 127.0.0.1:" << client_ports_[i] << "\njetstream { store_dir: \""
           << (dir_ / ("js" + std::to_string(i))).string() << "\" }\n";
      if (servers > 1) {
        conf << "cluster { name: gt, listen: 127.0.0.1:" << route_ports_[i] << ", routes: [";
        for (int j = 0; j < servers; ++j) conf << (j ? ", " : "") << "nats-route://127.0.0.1:" << route_ports_[j];
        conf << "] }\n";
      }
    }
    pids_.assign(servers, -1);
    for (int i = 0; i < servers; ++i) Start(i);
  }
  ~NatsCluster() {
    for (size_t i = 0; i < pids_.size(); ++i) Kill(static_cast<int>(i));
  }

  void Start(int i) {
    pids_[i] = ::fork();
    if (pids_[i] == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the test process
      FILE* f = std::freopen((dir_ / ("n" + std::to_string(i) + ".log")).c_str(), "a", stderr);
      (void)f;
      ::dup2(2, 1);
      ::execlp("nats-server", "nats-server", "-c", Conf(i).c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  void Kill(int i) {
    if (pids_[i] <= 0) return;
    ::kill(pids_[i], SIGKILL);
    ::waitpid(pids_[i], nullptr, 0);
    pids_[i] = -1;
  }
  // Until a JetStream metadata leader is elected (a cluster answers
  // stream requests only then), at most `seconds`.
  bool WaitForLeader(int seconds = 20) {
    for (int t = 0; t < seconds * 10; ++t) {
      for (size_t i = 0; i < pids_.size(); ++i)
        if (Log(static_cast<int>(i)).find(pids_.size() > 1 ? "JetStream cluster new metadata leader" : "Server is ready") !=
            std::string::npos)
          return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // Until JetStream answers its API (a stream lookup says "not found"),
  // at most `seconds`: a metadata leader is elected before it does.
  bool WaitForJetStream(int seconds = 60) {
    natsConnection* nc = nullptr;
    jsCtx* js = nullptr;
    bool ok = false;
    for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
         !ok && std::chrono::steady_clock::now() < end;) {
      if (!nc && natsConnection_ConnectTo(&nc, Urls().c_str()) != NATS_OK) nc = nullptr;
      if (nc && !js && natsConnection_JetStream(&js, nc, nullptr) != NATS_OK) js = nullptr;
      jsStreamInfo* si = nullptr;
      if (js) ok = js_GetStreamInfo(&si, js, "gridtree-test-probe", nullptr, nullptr) == NATS_NOT_FOUND;
      if (si) jsStreamInfo_Destroy(si);
      if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (js) jsCtx_Destroy(js);
    if (nc) natsConnection_Destroy(nc);
    return ok;
  }
  std::string Urls() const {
    std::string out;
    for (unsigned p : client_ports_) out += (out.empty() ? "" : ",") + std::string("nats://127.0.0.1:") + std::to_string(p);
    return out;
  }
  std::string Url(int i) const { return "nats://127.0.0.1:" + std::to_string(client_ports_[i]); }
  std::string Log(int i) const {
    std::ifstream in(dir_ / ("n" + std::to_string(i) + ".log"));
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

 private:
  std::string Conf(int i) const { return (dir_ / ("n" + std::to_string(i) + ".conf")).string(); }
  std::filesystem::path dir_;
  std::vector<unsigned> client_ports_, route_ports_;
  std::vector<pid_t> pids_;
};

}  // namespace gridtree::testing

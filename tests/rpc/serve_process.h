// A real `gridtree serve` process for the tests that need one: started with
// the given arguments, its log in a file, its ports read from the log.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace gridtree::testing {

class ServeProcess {
 public:
  // Starts `gridtree serve ARGS...` with stderr to `log`; with nofile > 0 the
  // child's descriptor limit is lowered to it first (what `prlimit --nofile`
  // does). Waits up to wait_seconds for the "listening" lines.
  ServeProcess(std::vector<std::string> args, std::filesystem::path log, int nofile = 0, int wait_seconds = 20)
      : log_(std::move(log)) {
    args.insert(args.begin(), {GRIDTREE_BINARY, "serve"});
    pid_ = ::fork();
    if (pid_ == 0) {
      // If the test process dies (a failed assertion that aborts), the
      // server goes with it instead of holding ctest's output pipe open.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      FILE* f = std::freopen(log_.c_str(), "w", stderr);
      (void)f;
      // Under AddressSanitizer freed memory sits in a quarantine (256 MiB by
      // default) that would read as resident growth in the memory tests;
      // keep it small. Other builds ignore the variable.
      std::string asan = std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
      ::setenv("ASAN_OPTIONS", (asan + (asan.empty() ? "" : ":") + "quarantine_size_mb=8").c_str(), 1);
      if (nofile > 0) {
        rlimit r{static_cast<rlim_t>(nofile), static_cast<rlim_t>(nofile)};
        ::setrlimit(RLIMIT_NOFILE, &r);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    const bool http = std::find(args.begin(), args.end(), "--http") != args.end();
    for (int i = 0; i < wait_seconds * 40 && (port_ == 0 || (http && http_port_ == 0)); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
      const std::string text = Log();
      port_ = PortAfter(text, "proto=capnp addr=127.0.0.1:");
      http_port_ = PortAfter(text, "proto=http addr=127.0.0.1:");
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = status;
        break;
      }
    }
  }
  ~ServeProcess() {
    if (!exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Waits for the process to end by itself (up to `seconds`); its wait status,
  // or -1 when it is still running.
  int WaitExit(int seconds) {
    for (int i = 0; i < seconds * 40 && !exited_; ++i) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        status_ = status;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return exited_ ? status_ : -1;
  }
  std::string Log() const {
    std::ifstream in(log_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // Resident memory of the server, from /proc.
  int64_t ResidentBytes() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/statm");
    int64_t pages = 0, resident = 0;
    in >> pages >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
  }
  pid_t pid() const { return pid_; }
  unsigned port() const { return port_; }
  unsigned http_port() const { return http_port_; }
  bool exited() const { return exited_; }

 private:
  static unsigned PortAfter(const std::string& text, const std::string& key) {
    const size_t at = text.find(key);
    return at == std::string::npos ? 0 : static_cast<unsigned>(std::stoul(text.substr(at + key.size())));
  }
  std::filesystem::path log_;
  pid_t pid_ = -1;
  unsigned port_ = 0, http_port_ = 0;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace gridtree::testing

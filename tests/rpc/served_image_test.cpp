// An engine image changed in place under a real `gridtree serve`: the
// server names the file and says how to replace an image safely, whether
// it notices the change first (its sweep) or a query faults on it.
#include <gtest/gtest.h>
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

#include "../small_dataset.h"
#include "gridtree/engine/image.h"
#include "gridtree/rpc/client.h"
#include "serve_process.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;
using testing::ServeProcess;

class ServedImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("gridtree-served-image-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    image_ = (dir_ / "small.gtimg").string();
    auto engine = testing::SmallEngine(8);
    ASSERT_TRUE(WriteEngineImage(*engine->Read(), image_).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::vector<std::string> Args() { return {image_, "--listen", "127.0.0.1:0", "--threads", "2"}; }
  // Whether the log holds what an operator needs: the file and the safe way.
  void ExpectNamedWithAdvice(const std::string& log) {
    EXPECT_NE(log.find("event=image_changed_while_mapped"), std::string::npos) << log;
    EXPECT_NE(log.find(image_), std::string::npos) << log;
    EXPECT_NE(log.find("renaming it over the path"), std::string::npos) << log;
    EXPECT_NE(log.find("gridtree call reload"), std::string::npos) << log;
  }
  fs::path dir_;
  std::string image_;
};

TEST_F(ServedImageTest, ATruncatedImageEndsTheServerWithALineNamingTheFile) {
  ServeProcess server(Args(), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  rpc::Client client("127.0.0.1:" + std::to_string(server.port()));
  const std::vector<double> lon = {113.01, 113.05}, lat = {22.51, 22.55};
  EXPECT_EQ(client.LocateColumnsSync(lon, lat).size(), 2u);
  fs::resize_file(image_, 0);  // what `truncate -s 0` or `cp` (O_TRUNC first) does
  try {
    client.LocateColumnsSync(lon, lat);
    ADD_FAILURE() << "a query on the truncated image was answered";
  } catch (...) {
    // The connection ends with the server.
  }
  const int status = server.WaitExit(10);
  ASSERT_NE(status, -1) << "the server is still running: " << server.Log();
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reports the fault after gridtree's line and ends the
  // process its own way (abort_on_error: SIGABRT; else exit status 1).
  EXPECT_TRUE((WIFSIGNALED(status) && (WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGABRT)) ||
              (WIFEXITED(status) && WEXITSTATUS(status) != 0))
      << status;
#else
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS) << status;
#endif
  ExpectNamedWithAdvice(server.Log());
}

TEST_F(ServedImageTest, AnImageWrittenOverInPlaceIsReportedBeforeAQueryTouchesIt) {
  ServeProcess server(Args(), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  std::string bytes;
  {
    std::ifstream in(image_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a modification time after the open's
  {
    std::fstream out(image_, std::ios::binary | std::ios::in | std::ios::out);  // in place, no truncation
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  std::string log;
  for (int i = 0; i < 120 && log.find("event=image_changed_while_mapped") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
    log = server.Log();
  }
  ExpectNamedWithAdvice(log);
  EXPECT_FALSE(server.exited());
}

TEST_F(ServedImageTest, AChangeInPlaceAfterAReloadOfTheSamePathIsReportedAgain) {
  const std::string token_file = (dir_ / "token").string();
  std::ofstream(token_file) << "served-image-token\n";
  std::vector<std::string> args = Args();
  args.insert(args.end(), {"--writer-token-file", token_file});
  ServeProcess server(args, dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  std::string bytes;
  {
    std::ifstream in(image_, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto count = [&]() {
    const std::string log = server.Log();
    size_t n = 0;
    for (size_t at = log.find("event=image_changed_while_mapped"); at != std::string::npos;
         at = log.find("event=image_changed_while_mapped", at + 1))
      ++n;
    return n;
  };
  auto change_in_place = [&]() {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a modification time after the last one
    std::fstream out(image_, std::ios::binary | std::ios::in | std::ios::out);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  auto wait_for = [&](size_t n) {
    for (int i = 0; i < 120 && count() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    return count();
  };
  change_in_place();
  ASSERT_GE(wait_for(1), 1u) << server.Log();
  // The same path again: the changed mapping goes, the sweep sees none.
  const std::string reload = std::string(GRIDTREE_BINARY) + " call --connect 127.0.0.1:" +
                             std::to_string(server.port()) + " reload --token-file " + token_file + " " + image_ +
                             " > /dev/null";
  ASSERT_EQ(std::system(reload.c_str()), 0) << server.Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past one sweep
  const size_t before = count();
  change_in_place();
  EXPECT_GT(wait_for(before + 1), before) << server.Log();
  EXPECT_FALSE(server.exited());
}

TEST_F(ServedImageTest, AnImageRenamedOverThePathIsNoChangeToTheMappedOne) {
  ServeProcess server(Args(), dir_ / "serve.log");
  ASSERT_GT(server.port(), 0u) << server.Log();
  fs::copy_file(image_, image_ + ".new");
  fs::rename(image_ + ".new", image_);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // past one sweep
  rpc::Client client("127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(client.LocateColumnsSync(std::vector<double>{113.01}, std::vector<double>{22.51}).size(), 1u);
  EXPECT_EQ(server.Log().find("image_changed_while_mapped"), std::string::npos) << server.Log();
}

}  // namespace
}  // namespace gridtree

// What every gridtree subcommand shares: how it fails, how it opens a
// dataset, and the global flags.
#include "commands.h"

#include <cstdlib>
#include <iostream>

namespace gridtree::cli {

void Fail(std::string_view command, const std::string& message, int code) {
  std::cerr << "gridtree" << (command.empty() ? "" : " ") << command << ": " << message << "\n";
  throw CLI::RuntimeError(code);
}

Result<std::unique_ptr<Engine>> OpenDataset(const std::string& path, EngineOptions options) {
  options.load = CommandLoadOptions();
  auto opened = Engine::Open(path, options);
  if (opened.ok()) return opened;
  // Most of the engine's messages start with the file already; the rest
  // (a data directory in use, say) would not say which open failed.
  const Status& s = opened.status();
  if (s.message().find(path) != std::string::npos) return opened;
  return Status(s.code(), path + ": " + s.message());
}

std::unique_ptr<Engine> OpenOrFail(std::string_view command, const std::string& path, EngineOptions options) {
  auto opened = OpenDataset(path, std::move(options));
  if (!opened.ok()) Fail(command, opened.status().message());
  return std::move(opened).value();
}

LoadOptions& CommandLoadOptions() {
  static LoadOptions options;
  return options;
}

std::string DefaultDataRoot() {
  if (const char* env = std::getenv("GRIDTREE_DATA_ROOT")) return env;
  return GRIDTREE_DEFAULT_DATA_ROOT;
}

}  // namespace gridtree::cli

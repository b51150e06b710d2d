// Subcommands of the gridtree command line. Each Register* adds one
// subcommand to the CLI11 app; main() only wires them. The helpers every
// command shares (Fail, OpenOrFail, ...) are in commands.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <string_view>

#include "gridtree/engine/dataset.h"
#include "gridtree/engine/engine.h"

namespace gridtree::cli {

void RegisterGenerate(CLI::App& app);
void RegisterValidate(CLI::App& app);
void RegisterInfo(CLI::App& app);
void RegisterExport(CLI::App& app);
void RegisterImage(CLI::App& app);  // `image`, also `snapshot` (its name before)
void RegisterLocate(CLI::App& app);
void RegisterAggregate(CLI::App& app);  // cmd_aggregate.cpp
void RegisterTop(CLI::App& app);
void RegisterUpdate(CLI::App& app);
void RegisterRecover(CLI::App& app);  // cmd_aggregate.cpp
void RegisterServe(CLI::App& app);  // cmd_serve.cpp
void RegisterCall(CLI::App& app);   // cmd_call*.cpp
void RegisterSimulate(CLI::App& app);  // cmd_simulate.cpp

// Ends a command: "gridtree COMMAND: MESSAGE" on stderr ("gridtree: MESSAGE"
// for an empty command) and exit status `code`, through CLI11.
[[noreturn]] void Fail(std::string_view command, const std::string& message, int code = 1);

// A dataset file (GeoJSON, or an engine image: mapped) opened with the
// global flags (`options.load` is replaced by CommandLoadOptions()); an
// error names the file. For a command whose errors are not Fail's (serve).
Result<std::unique_ptr<Engine>> OpenDataset(const std::string& path, EngineOptions options = {});

// OpenDataset, or the command ends through Fail.
std::unique_ptr<Engine> OpenOrFail(std::string_view command, const std::string& path, EngineOptions options = {});

// What every command that loads a dataset passes to the loader: the
// global flags (--lenient). Filled while the command line is parsed.
LoadOptions& CommandLoadOptions();

// The folder with the embedded dataset inputs (data/ of the source tree,
// or GRIDTREE_DATA_ROOT from the environment).
std::string DefaultDataRoot();

}  // namespace gridtree::cli

// Subcommands of the gridtree command line. Each Register* adds one
// subcommand to the CLI11 app; main() only wires them.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <string_view>

#include "gridtree/engine/dataset.h"

namespace gridtree::cli {

void RegisterGenerate(CLI::App& app);
void RegisterValidate(CLI::App& app);
void RegisterInfo(CLI::App& app);
void RegisterExport(CLI::App& app);
void RegisterSnapshot(CLI::App& app);
void RegisterLocate(CLI::App& app);
void RegisterAggregate(CLI::App& app);  // cmd_aggregate.cpp
void RegisterTop(CLI::App& app);
void RegisterUpdate(CLI::App& app);
void RegisterRecover(CLI::App& app);  // cmd_aggregate.cpp
void RegisterServe(CLI::App& app);  // cmd_serve.cpp
void RegisterCall(CLI::App& app);   // cmd_call.cpp
void RegisterSimulate(CLI::App& app);  // cmd_simulate.cpp

// Ends a command: "gridtree COMMAND: MESSAGE" on stderr ("gridtree: MESSAGE"
// for an empty command) and exit status `code`, through CLI11.
[[noreturn]] void Fail(std::string_view command, const std::string& message, int code = 1);

// What every command that loads a dataset passes to the loader: the
// global flags (--lenient). Filled while the command line is parsed.
LoadOptions& CommandLoadOptions();

// The folder with the embedded dataset inputs (data/ of the source tree,
// or GRIDTREE_DATA_ROOT from the environment).
std::string DefaultDataRoot();

}  // namespace gridtree::cli

// Subcommands of the gridtree command line. Each Register* adds one
// subcommand to the CLI11 app; main() only wires them.
#pragma once

#include <CLI/CLI.hpp>

namespace gridtree::cli {

void RegisterGenerate(CLI::App& app);
void RegisterValidate(CLI::App& app);
void RegisterInfo(CLI::App& app);
void RegisterExport(CLI::App& app);
void RegisterLocate(CLI::App& app);

// The folder with the embedded dataset inputs (data/ of the source tree,
// or GRIDTREE_DATA_ROOT from the environment).
std::string DefaultDataRoot();

}  // namespace gridtree::cli

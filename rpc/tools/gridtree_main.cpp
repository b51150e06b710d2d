// gridtree: one binary, one subcommand per job. Wiring only.
#include <cstdlib>
#include <iostream>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"gridtree: grid hierarchy query engine (point-in-grid, aggregates, updates, RPC)"};
  app.require_subcommand(1);
  gridtree::cli::RegisterGenerate(app);
  gridtree::cli::RegisterValidate(app);
  gridtree::cli::RegisterInfo(app);
  gridtree::cli::RegisterExport(app);
  gridtree::cli::RegisterSnapshot(app);
  gridtree::cli::RegisterLocate(app);
  gridtree::cli::RegisterAggregate(app);
  gridtree::cli::RegisterTop(app);
  gridtree::cli::RegisterUpdate(app);
  gridtree::cli::RegisterServe(app);
  gridtree::cli::RegisterCall(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

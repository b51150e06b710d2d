// gridtree: one binary, one subcommand per job. Wiring only.
#include <cstdlib>
#include <iostream>

#include <string_view>

#include <sys/auxv.h>
#include <unistd.h>

#include "commands.h"

namespace {

// Opening a large dataset touches gigabytes of fresh memory; with 2 MiB
// pages instead of 4 KiB ones the kernel takes 512 times fewer page faults
// (a national-size snapshot opens about 4x faster, bench/RESULTS.md).
// glibc (>= 2.35) asks for them when GLIBC_TUNABLES says
// glibc.malloc.hugetlb=1, read only at start-up: so the process re-executes
// itself once with it set. An explicit GLIBC_TUNABLES, or
// GRIDTREE_NO_HUGEPAGES=1, leaves the process as it is (docs/operations.md).
//
// Never more than once (GRIDTREE_REEXEC marks the second start, in case the
// variable is scrubbed), never for a secure-mode process (setuid, file
// capabilities: glibc ignores the variable there), and only when
// /proc/self/exe is this program (not, say, valgrind running it).
void UseTransparentHugePages(char** argv) {
  if (std::getenv("GLIBC_TUNABLES") || std::getenv("GRIDTREE_NO_HUGEPAGES") || std::getenv("GRIDTREE_REEXEC")) return;
  if (::getauxval(AT_SECURE) != 0 || argv[0] == nullptr) return;
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  const std::string_view self(exe), name(argv[0]);
  auto base = [](std::string_view p) { return p.substr(p.find_last_of('/') + 1); };
  if (base(self) != base(name)) return;
  ::setenv("GRIDTREE_REEXEC", "1", 1);
  ::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1);
  ::execv(exe, argv);
  ::unsetenv("GLIBC_TUNABLES");  // exec failed: go on with normal pages
}

}  // namespace

int main(int argc, char** argv) {
  UseTransparentHugePages(argv);
  CLI::App app{"gridtree: grid hierarchy query engine (point-in-grid, aggregates, updates, RPC)"};
  app.require_subcommand(1);
  // Global: given before or after the subcommand's name.
  app.fallthrough();
  app.add_flag("--lenient", gridtree::cli::CommandLoadOptions().lenient,
               "Load datasets with overlapping siblings, children outside their parent or coverage gaps "
               "(warnings instead of errors; docs/boundaries.md)");
  gridtree::cli::RegisterGenerate(app);
  gridtree::cli::RegisterValidate(app);
  gridtree::cli::RegisterInfo(app);
  gridtree::cli::RegisterExport(app);
  gridtree::cli::RegisterImage(app);
  gridtree::cli::RegisterLocate(app);
  gridtree::cli::RegisterAggregate(app);
  gridtree::cli::RegisterTop(app);
  gridtree::cli::RegisterUpdate(app);
  gridtree::cli::RegisterRecover(app);
  gridtree::cli::RegisterServe(app);
  gridtree::cli::RegisterCall(app);
  gridtree::cli::RegisterSimulate(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return 0;
}

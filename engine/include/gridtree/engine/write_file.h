// Writes a whole file so that a crash leaves the old file or the new one,
// never part of either: the one writer behind every file gridtree replaces
// (logs, snapshots, saved objects, a replica's checkpoint).
#pragma once

#include <string>

#include "gridtree/engine/status.h"

namespace gridtree {

// Writes bytes to dir/name through a temporary file, fsync, rename, fsync
// of the directory. On failure nothing is left behind; the IoError names
// the file and the system's reason.
Status WriteFileAtomically(const std::string& dir, const std::string& name, const std::string& bytes);

}  // namespace gridtree

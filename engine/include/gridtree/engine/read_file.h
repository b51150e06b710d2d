// Reads a whole file into memory: the one reader behind every "read this
// file, then parse it" in gridtree (batches, points, regions, logs, tokens).
#pragma once

#include <string>

#include "gridtree/engine/status.h"

namespace gridtree {

// The file's bytes; an IoError names the path and the system's reason
// ("cannot read x.json: No such file or directory").
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace gridtree

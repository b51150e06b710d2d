// BATCH.json, the update batch file of `gridtree call update` and
// `gridtree update` (docs/rpc.md):
//   {"updates":[{"leaf":"ID","metric":"population","op":"set"|"add","value":N}, ...]}
#pragma once

#include <string>
#include <string_view>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/status.h"

namespace gridtree::cli {

// Parses the text of a batch file; errors name the update and the member.
Result<UpdateBatch> ParseBatchJson(std::string_view text);
// Reads and parses a batch file.
Result<UpdateBatch> ReadBatchJson(const std::string& path);

}  // namespace gridtree::cli

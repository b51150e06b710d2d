// How the generator tells its caller what it is doing: stage progress and
// notices go to the callbacks of GenerateOptions; the library never prints.
#pragma once

#include <string>
#include <string_view>

#include "gridtree/generate/generate.h"

namespace gridtree::generate {

inline void ReportProgress(const GenerateOptions& options, std::string_view stage, double fraction) {
  if (options.progress) options.progress(stage, fraction);
}

// Something generated differently from the calibration, or input left out.
inline void ReportNotice(const GenerateOptions& options, const std::string& message) {
  if (options.notice) options.notice(message);
}

}  // namespace gridtree::generate

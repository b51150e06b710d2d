// Engine images (docs/image.md): everything an engine answers from — the
// hierarchy, ids and names, leaf and inner geometry, the built spatial
// index and the metric values — in one file laid out as it is used in
// memory. Engine::Open, Engine::ReloadFrom and LoadDataset recognise an
// image by its first bytes and map it instead of parsing and building:
// opening costs the checks of its headers, offsets and per-section
// checksums, and several processes opening one image share its pages.
#pragma once

#include <string>

#include "gridtree/engine/status.h"

namespace gridtree {

class View;

// Writes the View's dataset, index and metric values (as leaf values: an
// engine opened from the image starts at version 0 with them) to path,
// through path + ".tmp" renamed when complete.
Status WriteEngineImage(const View& view, const std::string& path);

}  // namespace gridtree

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

// A mapped image reads its file's pages as queries touch them, so a file
// truncated or written over in place while mapped (rather than replaced by
// a new file renamed over its path) faults the next query that reads it
// (docs/operations.md, "Replacing a served image"). These two let a server
// say so.
//
// The path of the mapped image whose bytes hold `address`, or nullptr: for
// a SIGBUS/SIGSEGV handler to name the file. Async-signal-safe (it reads
// atomics only). Up to 64 images mapped at once are known.
const char* MappedImageAt(const void* address);
// The path of a mapped image whose file changed in place since it was
// mapped (its size or modification time differ from those at open), or ""
// when none did. A new file renamed over the path leaves the mapped one
// unchanged and is not reported. One fstat per mapped image.
std::string ChangedMappedImage();

}  // namespace gridtree

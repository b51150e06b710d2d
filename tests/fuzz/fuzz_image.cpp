// Fuzz target: an engine image (docs/image.md). The custom mutator
// recomputes every checksum after libFuzzer's mutation (most of the time),
// so that inputs get past the CRCs to the structure checks, which are the
// real boundary: an image written by a wrong writer has valid checksums.
// An image that opens is asked every kind of question.
#include <cstdint>
#include <span>

#include "exercise_view.h"
#include "fuzz_common.h"
#include "gridtree/engine/engine.h"
#include "storage/image_file.h"

using namespace gridtree;

#ifdef GRIDTREE_LIBFUZZER
extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  size = LLVMFuzzerMutate(data, size, max_size);
  // One mutation in eight keeps its bad checksums, so the CRC checks stay covered.
  if (seed % 8 != 0) (void)internal::RecomputeImageChecksums(std::span<std::byte>(reinterpret_cast<std::byte*>(data), size));
  return size;
}
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::WriteScratch("fuzz.gtimg", data, size);
  EngineOptions options;
  options.threads = 1;
  auto engine = Engine::Open(path, options);
  if (!engine.ok()) return 0;
  fuzz::ExerciseView(*engine.value()->Read(), 256);
  return 0;
}

// The container of an engine image (docs/image.md): a 64-byte header, named
// sections each aligned to 64 bytes with its own CRC32C, and a table of
// contents at the end. Written one section at a time (a section is written
// from memory the caller holds and then forgotten), read by mapping the
// whole file.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gridtree/engine/status.h"

namespace gridtree::internal {

inline constexpr char kImageMagic[8] = {'G', 'T', 'I', 'M', 'A', 'G', 'E', '\n'};
inline constexpr uint32_t kImageVersion = 1;
inline constexpr uint32_t kImageEndianTag = 0x01020304;  // reads 0x04030201 on a foreign-endian machine

// Whether the first bytes of a file are an engine image's.
bool LooksLikeImage(std::string_view head);

// Rewrites, in an image held in memory, every section's CRC32C and those of
// the table of contents and the header, so that content changed on purpose
// (tests, a fuzzer's mutator) reaches the structural checks behind the
// checksums. False, with nothing written, when the header or the table of
// contents cannot be parsed (too short, wrong magic, sections or table
// outside the bytes).
bool RecomputeImageChecksums(std::span<std::byte> image);

class ImageWriter {
 public:
  // Writes to path + ".tmp", renamed over path by Finish.
  static Result<std::unique_ptr<ImageWriter>> Create(const std::string& path);
  ~ImageWriter();
  Status Add(std::string_view name, std::span<const std::byte> bytes);
  template <typename T>
  Status Add(std::string_view name, std::span<const T> values) {
    return Add(name, std::as_bytes(values));
  }
  // Writes the table of contents and the header, syncs and renames.
  Status Finish();

 private:
  struct Entry {
    std::string name;
    uint64_t offset, size;
    uint32_t crc;
  };
  ImageWriter() = default;
  Status Fail(const std::string& what);
  Status PadToAlignment();
  std::string path_, tmp_;
  std::FILE* file_ = nullptr;
  uint64_t pos_ = 0;
  std::vector<Entry> entries_;
};

// A mapped image whose header, table of contents and every section's
// checksum were checked. Immutable; const methods may be called
// concurrently.
class MappedImage {
 public:
  // Maps and checks; every failure names the file and the section.
  static Result<std::shared_ptr<const MappedImage>> Open(const std::string& path);
  ~MappedImage();

  struct Section {
    std::string name;
    uint64_t offset = 0;  // in the file
    std::span<const std::byte> bytes;
  };
  const std::vector<Section>& sections() const { return sections_; }
  // The section called name, or an error naming the file and the section.
  Result<std::span<const std::byte>> Get(std::string_view name) const;
  template <typename T>
  Result<std::span<const T>> Array(std::string_view name) const {
    auto b = Get(name);
    if (!b.ok()) return b.status();
    if (b.value().size() % sizeof(T) != 0)
      return InvalidArgument(path_ + ": section " + std::string(name) + " is " + std::to_string(b.value().size()) +
                             " bytes, not a whole number of " + std::to_string(sizeof(T)) + "-byte values");
    return std::span<const T>(reinterpret_cast<const T*>(b.value().data()), b.value().size() / sizeof(T));
  }
  const std::string& path() const { return path_; }
  size_t size() const { return size_; }

 private:
  MappedImage() = default;
  std::string path_;
  int registry_slot_ = -1;  // in the table MappedImageAt reads
  const std::byte* base_ = nullptr;
  size_t size_ = 0;
  std::vector<Section> sections_;
};

}  // namespace gridtree::internal

#include "storage/image_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "gridtree/engine/image.h"
#include "storage/wal.h"

namespace gridtree::internal {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kNameBytes = 32;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t endian;
  uint64_t file_size;
  uint64_t toc_offset;
  uint32_t section_count;
  uint32_t toc_crc;
  uint8_t reserved[20];
  uint32_t header_crc;  // of the bytes before it
};
static_assert(sizeof(Header) == 64);

struct TocEntry {
  char name[kNameBytes];  // NUL-padded
  uint64_t offset;
  uint64_t size;
  uint32_t crc;
  uint32_t reserved;
};
static_assert(sizeof(TocEntry) == 56);

std::string Errno() { return std::strerror(errno); }

// The mapped images, for MappedImageAt (a signal handler) and
// ChangedMappedImage. A slot is live while `begin` is non-zero; its other
// fields are written before `begin` is published and read after it.
// Claims, releases and stats hold `mu`; the signal handler takes no lock.
struct RegistrySlot {
  std::atomic<uintptr_t> begin{0};
  std::atomic<size_t> size{0};
  char path[1024] = {};
  int fd = -1;  // kept open: fstat sees the mapped file even after a rename over its path
  struct stat at_open {};
};
constexpr int kRegistrySlots = 64;  // more images mapped at once go unnamed
RegistrySlot g_registry[kRegistrySlots];
std::mutex g_registry_mu;

int Register(const std::byte* base, size_t size, const std::string& path, int fd, const struct stat& st) {
  std::lock_guard lock(g_registry_mu);
  for (int i = 0; i < kRegistrySlots; ++i) {
    RegistrySlot& s = g_registry[i];
    if (s.begin.load(std::memory_order_relaxed) != 0) continue;
    const size_t n = std::min(path.size(), sizeof s.path - 1);
    std::memcpy(s.path, path.data(), n);
    s.path[n] = '\0';
    s.fd = fd;
    s.at_open = st;
    s.size.store(size, std::memory_order_relaxed);
    s.begin.store(reinterpret_cast<uintptr_t>(base), std::memory_order_release);
    return i;
  }
  return -1;
}

void Unregister(int slot) {
  std::lock_guard lock(g_registry_mu);
  RegistrySlot& s = g_registry[slot];
  s.begin.store(0, std::memory_order_release);
  if (s.fd >= 0) ::close(s.fd);
  s.fd = -1;
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

bool LooksLikeImage(std::string_view head) { return head.size() >= 8 && std::memcmp(head.data(), kImageMagic, 8) == 0; }

bool RecomputeImageChecksums(std::span<std::byte> image) {
  Header h;
  if (image.size() < sizeof h) return false;
  std::memcpy(&h, image.data(), sizeof h);
  if (std::memcmp(h.magic, kImageMagic, 8) != 0) return false;
  const uint64_t toc_bytes = static_cast<uint64_t>(h.section_count) * sizeof(TocEntry);
  if (h.toc_offset > image.size() || toc_bytes > image.size() - h.toc_offset) return false;
  std::byte* toc_at = image.data() + h.toc_offset;
  for (uint32_t i = 0; i < h.section_count; ++i) {
    TocEntry e;
    std::memcpy(&e, toc_at + i * sizeof e, sizeof e);
    if (e.offset > image.size() || e.size > image.size() - e.offset) return false;
  }
  for (uint32_t i = 0; i < h.section_count; ++i) {
    TocEntry e;
    std::memcpy(&e, toc_at + i * sizeof e, sizeof e);
    e.crc = Crc32c(image.data() + e.offset, e.size);
    std::memcpy(toc_at + i * sizeof e, &e, sizeof e);
  }
  h.toc_crc = Crc32c(toc_at, toc_bytes);
  h.header_crc = Crc32c(&h, offsetof(Header, header_crc));
  std::memcpy(image.data(), &h, sizeof h);
  return true;
}

Result<std::unique_ptr<ImageWriter>> ImageWriter::Create(const std::string& path) {
  std::unique_ptr<ImageWriter> w(new ImageWriter());
  w->path_ = path;
  w->tmp_ = path + ".tmp";
  w->file_ = std::fopen(w->tmp_.c_str(), "wb");
  if (!w->file_) return InvalidArgument(w->tmp_ + ": cannot create: " + Errno());
  const Header blank{};
  if (std::fwrite(&blank, sizeof blank, 1, w->file_) != 1) return InvalidArgument(w->tmp_ + ": write failed: " + Errno());
  w->pos_ = sizeof blank;
  return w;
}

ImageWriter::~ImageWriter() {
  if (file_) {
    std::fclose(file_);
    std::remove(tmp_.c_str());
  }
}

Status ImageWriter::Fail(const std::string& what) { return Internal(tmp_ + ": " + what + ": " + Errno()); }

// Zeros up to the next 64-byte boundary: sections and the table of
// contents start on one.
Status ImageWriter::PadToAlignment() {
  static const char zeros[kAlign] = {};
  const size_t pad = (kAlign - pos_ % kAlign) % kAlign;
  if (pad && std::fwrite(zeros, 1, pad, file_) != pad) return Fail("write failed");
  pos_ += pad;
  return Status::Ok();
}

Status ImageWriter::Add(std::string_view name, std::span<const std::byte> bytes) {
  if (name.size() >= kNameBytes) return InvalidArgument("image section name too long: " + std::string(name));
  if (Status s = PadToAlignment(); !s.ok()) return s;
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file_) != bytes.size()) return Fail("write failed");
  entries_.push_back({std::string(name), pos_, bytes.size(), Crc32c(bytes.data(), bytes.size())});
  pos_ += bytes.size();
  return Status::Ok();
}

Status ImageWriter::Finish() {
  std::vector<TocEntry> toc(entries_.size());
  for (size_t i = 0; i < entries_.size(); ++i) {
    std::memcpy(toc[i].name, entries_[i].name.data(), entries_[i].name.size());
    toc[i].offset = entries_[i].offset;
    toc[i].size = entries_[i].size;
    toc[i].crc = entries_[i].crc;
  }
  if (Status s = PadToAlignment(); !s.ok()) return s;
  Header h{};
  std::memcpy(h.magic, kImageMagic, 8);
  h.version = kImageVersion;
  h.endian = kImageEndianTag;
  h.toc_offset = pos_;
  h.section_count = static_cast<uint32_t>(toc.size());
  h.toc_crc = Crc32c(toc.data(), toc.size() * sizeof(TocEntry));
  h.file_size = pos_ + toc.size() * sizeof(TocEntry);
  if (!toc.empty() && std::fwrite(toc.data(), sizeof(TocEntry), toc.size(), file_) != toc.size())
    return Fail("write failed");
  h.header_crc = Crc32c(&h, offsetof(Header, header_crc));
  if (std::fseek(file_, 0, SEEK_SET) != 0 || std::fwrite(&h, sizeof h, 1, file_) != 1) return Fail("write failed");
  if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) return Fail("sync failed");
  std::fclose(file_);
  file_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) return Internal(path_ + ": cannot rename from " + tmp_ + ": " + Errno());
  return Status::Ok();
}

MappedImage::~MappedImage() {
  if (registry_slot_ >= 0) Unregister(registry_slot_);
  if (base_) ::munmap(const_cast<std::byte*>(base_), size_);
}

Result<std::shared_ptr<const MappedImage>> MappedImage::Open(const std::string& path) {
  std::shared_ptr<MappedImage> img(new MappedImage());
  img->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NotFound(path + ": cannot open: " + Errno());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string e = Errno();
    ::close(fd);
    return InvalidArgument(path + ": cannot stat: " + e);
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size < sizeof(Header)) {
    ::close(fd);
    return InvalidArgument(path + ": engine image truncated: " + std::to_string(size) +
                           " bytes, shorter than its 64-byte header");
  }
  // MAP_POPULATE: every page is read for its checksum below; one call maps
  // them all instead of a page fault each.
  void* p = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED) {
    const std::string e = Errno();
    ::close(fd);
    return InvalidArgument(path + ": cannot map: " + e);
  }
  img->base_ = static_cast<const std::byte*>(p);
  img->size_ = size;
  // Named to a fault handler, and watched for changes in place (the
  // registry closes fd when the image is unmapped).
  img->registry_slot_ = Register(img->base_, size, path, fd, st);
  if (img->registry_slot_ < 0) ::close(fd);
  Header h;
  std::memcpy(&h, img->base_, sizeof h);
  if (std::memcmp(h.magic, kImageMagic, 8) != 0) return InvalidArgument(path + ": not an engine image (wrong magic)");
  if (h.endian != kImageEndianTag)
    return InvalidArgument(path + ": engine image written on a machine of the other byte order; convert the GeoJSON again there");
  if (h.version != kImageVersion)
    return InvalidArgument(path + ": engine image version " + std::to_string(h.version) + ", this gridtree reads version " +
                           std::to_string(kImageVersion) + "; convert the GeoJSON again with gridtree image");
  if (Crc32c(&h, offsetof(Header, header_crc)) != h.header_crc)
    return InvalidArgument(path + ": engine image header is corrupt (checksum mismatch)");
  if (h.file_size != size)
    return InvalidArgument(path + ": engine image truncated or extended: " + std::to_string(size) + " bytes, its header says " +
                           std::to_string(h.file_size));
  const uint64_t toc_bytes = static_cast<uint64_t>(h.section_count) * sizeof(TocEntry);
  if (h.toc_offset > size || toc_bytes > size - h.toc_offset)
    return InvalidArgument(path + ": engine image table of contents lies outside the file");
  const auto* toc = reinterpret_cast<const TocEntry*>(img->base_ + h.toc_offset);
  if (Crc32c(toc, toc_bytes) != h.toc_crc)
    return InvalidArgument(path + ": engine image table of contents is corrupt (checksum mismatch)");
  for (uint32_t i = 0; i < h.section_count; ++i) {
    const TocEntry& e = toc[i];
    const std::string name(e.name, strnlen(e.name, kNameBytes));
    if (e.offset % kAlign != 0 || e.offset > h.toc_offset || e.size > h.toc_offset - e.offset)
      return InvalidArgument(path + ": engine image section " + name + " lies outside the file");
    const std::byte* bytes = img->base_ + e.offset;
    if (Crc32c(bytes, e.size) != e.crc)
      return InvalidArgument(path + ": engine image section " + name + " is corrupt (checksum mismatch)");
    img->sections_.push_back({name, e.offset, std::span<const std::byte>(bytes, e.size)});
  }
  return std::shared_ptr<const MappedImage>(std::move(img));
}

Result<std::span<const std::byte>> MappedImage::Get(std::string_view name) const {
  for (const Section& s : sections_)
    if (s.name == name) return s.bytes;
  return InvalidArgument(path_ + ": engine image has no section " + std::string(name));
}

}  // namespace gridtree::internal

namespace gridtree {

const char* MappedImageAt(const void* address) {
  const auto a = reinterpret_cast<uintptr_t>(address);
  for (const internal::RegistrySlot& s : internal::g_registry) {
    const uintptr_t b = s.begin.load(std::memory_order_acquire);
    if (b != 0 && a >= b && a - b < s.size.load(std::memory_order_relaxed)) return s.path;
  }
  return nullptr;
}

std::string ChangedMappedImage() {
  std::lock_guard lock(internal::g_registry_mu);
  for (const internal::RegistrySlot& s : internal::g_registry) {
    if (s.begin.load(std::memory_order_relaxed) == 0 || s.fd < 0) continue;
    struct stat now {};
    if (::fstat(s.fd, &now) == 0 && !internal::SameFile(now, s.at_open)) return s.path;
  }
  return "";
}

}  // namespace gridtree

// Column<T> and StringColumn: the per-node and per-leaf arrays of a Dataset.
// A column either owns its values (a dataset read from GeoJSON) or borrows
// them from an engine image mapped into memory (docs/image.md), so that
// opening an image allocates nothing per node. Reading is the same either
// way: size, [], begin/end, data.
// Thread safety: const methods may be called concurrently; a column is
// never changed after the dataset is built.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gridtree {

template <typename T>
class Column {
 public:
  Column() = default;
  Column(std::vector<T> values) : owned_(std::move(values)), view_(owned_) {}  // NOLINT: implicit on purpose
  // Values that the caller keeps alive (Dataset::storage).
  static Column Borrow(std::span<const T> values) {
    Column c;
    c.view_ = values;
    c.borrowed_ = true;
    return c;
  }
  Column(const Column& o) : owned_(o.owned_), view_(o.borrowed_ ? o.view_ : std::span<const T>(owned_)), borrowed_(o.borrowed_) {}
  Column& operator=(const Column& o) {
    Column copy(o);
    return *this = std::move(copy);
  }
  // Moving a vector keeps its buffer, so the view stays valid.
  Column(Column&& o) noexcept : owned_(std::move(o.owned_)), view_(o.view_), borrowed_(o.borrowed_) {
    o.view_ = {};
    o.borrowed_ = false;
  }
  Column& operator=(Column&& o) noexcept {
    owned_ = std::move(o.owned_);
    view_ = o.view_;
    borrowed_ = o.borrowed_;
    o.view_ = {};
    o.borrowed_ = false;
    return *this;
  }

  size_t size() const { return view_.size(); }
  bool empty() const { return view_.empty(); }
  const T& operator[](size_t i) const { return view_[i]; }
  const T* data() const { return view_.data(); }
  auto begin() const { return view_.begin(); }
  auto end() const { return view_.end(); }
  const T& back() const { return view_.back(); }
  std::span<const T> span() const { return view_; }
  size_t memory_bytes() const { return borrowed_ ? 0 : owned_.capacity() * sizeof(T); }
  // Equal values, wherever they are held.
  friend bool operator==(const Column& a, const Column& b) { return std::ranges::equal(a.view_, b.view_); }

 private:
  std::vector<T> owned_;
  std::span<const T> view_;
  bool borrowed_ = false;
};

// One string per node: offsets[i] .. offsets[i + 1] in one byte array,
// instead of a std::string each.
class StringColumn {
 public:
  StringColumn() : offsets_(std::vector<uint32_t>{0}) {}
  // Throws std::length_error past 4 GiB of text.
  static StringColumn From(const std::vector<std::string>& strings);
  // Borrowed arrays (several columns may share one text: their offsets
  // need not start at 0); checks that the offsets never decrease and stay
  // within bytes (false and *error otherwise).
  static bool Borrow(std::span<const uint32_t> offsets, std::span<const char> bytes, StringColumn* out,
                     std::string* error);

  size_t size() const { return offsets_.size() - 1; }
  std::string_view operator[](size_t i) const {
    return std::string_view(bytes_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  std::span<const uint32_t> offsets() const { return offsets_.span(); }
  std::span<const char> bytes() const { return bytes_.span(); }
  size_t memory_bytes() const { return offsets_.memory_bytes() + bytes_.memory_bytes(); }
  friend bool operator==(const StringColumn& a, const StringColumn& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) return false;
    return true;
  }

 private:
  Column<uint32_t> offsets_;
  Column<char> bytes_;
};

}  // namespace gridtree

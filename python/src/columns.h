// Tabular answers cross into Python as a dict of equal-length lists, one
// per column, in column order: pandas.DataFrame(dict) takes it as is.
#pragma once

#include <pybind11/pybind11.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace gridtree::python {

class Columns {
 public:
  // Declares the columns, in order.
  explicit Columns(const std::vector<std::string>& names);
  // Appends one value to column i.
  template <typename T>
  void Add(size_t i, T&& value) {
    if constexpr (std::is_base_of_v<pybind11::handle, std::decay_t<T>>) columns_[i].append(value);
    else columns_[i].append(pybind11::cast(std::forward<T>(value)));
  }
  void AddNone(size_t i) { columns_[i].append(pybind11::none()); }
  pybind11::dict Finish();

 private:
  std::vector<std::string> names_;
  std::vector<pybind11::list> columns_;
};

}  // namespace gridtree::python

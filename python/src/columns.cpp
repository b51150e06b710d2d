#include "columns.h"

namespace py = pybind11;

namespace gridtree::python {

Columns::Columns(const std::vector<std::string>& names) : names_(names), columns_(names.size()) {}

py::dict Columns::Finish() {
  py::dict out;
  for (size_t i = 0; i < names_.size(); ++i) out[py::str(names_[i])] = columns_[i];
  return out;
}

}  // namespace gridtree::python

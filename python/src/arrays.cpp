#include "arrays.h"

#include "errors.h"

namespace py = pybind11;

namespace gridtree::python {

template <typename T>
std::span<const T> ColumnOf(const py::array& array, const char* what) {
  if (array.ndim() != 1)
    ThrowBadInput(std::string(what) + ": expected a one-dimensional array, got " + std::to_string(array.ndim()) +
                  " dimensions");
  if (!array.dtype().is(py::dtype::of<T>()))
    ThrowBadInput(std::string(what) + ": expected dtype " + std::string(py::str(py::dtype::of<T>())) + ", got " +
                  std::string(py::str(array.dtype())));
  if (array.size() > 1 && array.strides(0) != static_cast<py::ssize_t>(sizeof(T)))
    ThrowBadInput(std::string(what) + ": the array is not contiguous (pass copy=True to allow a copy)");
  return {static_cast<const T*>(array.data()), static_cast<size_t>(array.size())};
}

template <typename T>
std::pair<py::array_t<T>, std::span<T>> NewColumn(size_t n) {
  py::array_t<T> out(static_cast<py::ssize_t>(n));
  return {out, std::span<T>(out.mutable_data(), n)};
}

template std::span<const double> ColumnOf<double>(const py::array&, const char*);
template std::span<const int32_t> ColumnOf<int32_t>(const py::array&, const char*);
template std::span<const int64_t> ColumnOf<int64_t>(const py::array&, const char*);
template std::pair<py::array_t<int32_t>, std::span<int32_t>> NewColumn<int32_t>(size_t);
template std::pair<py::array_t<int64_t>, std::span<int64_t>> NewColumn<int64_t>(size_t);
template std::pair<py::array_t<double>, std::span<double>> NewColumn<double>(size_t);

}  // namespace gridtree::python

// Numpy arrays in and out without copies. The Python layer converts lists
// and checks dtypes first (so that its messages name the argument); these
// checks are the last guard before a raw pointer is read.
#pragma once

#include <pybind11/numpy.h>

#include <cstdint>
#include <span>
#include <string>

namespace gridtree::python {

// A read-only view of a one-dimensional, C-contiguous array of T. The array
// must outlive the span. Refuses, naming `what`, any other array.
template <typename T>
std::span<const T> ColumnOf(const pybind11::array& array, const char* what);

// A new one-dimensional array of n values and a writable view of it.
template <typename T>
std::pair<pybind11::array_t<T>, std::span<T>> NewColumn(size_t n);

}  // namespace gridtree::python

// The module's exceptions: gridtree.Error and its subclasses, raised with
// the engine's (or the server's) own message.
#pragma once

#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "gridtree/engine/status.h"

namespace gridtree::python {

// What went wrong, as the Python exception class that reports it.
enum class ErrorKind { kError, kBadInput, kNotFound, kOverloaded, kDisconnected };

// Thrown on the C++ side; the translator registered by RegisterErrors turns
// it into the Python class of its kind.
class PythonError : public std::runtime_error {
 public:
  PythonError(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Creates gridtree._core.Error, BadInput, NotFound, Overloaded and
// Disconnected and the translator.
void RegisterErrors(pybind11::module_& m);

[[noreturn]] void ThrowStatus(const Status& status);
[[noreturn]] void ThrowBadInput(const std::string& message);

template <typename T>
T ValueOrThrow(Result<T> result) {
  if (!result.ok()) ThrowStatus(result.status());
  return std::move(result.value());
}

inline void CheckOk(const Status& status) {
  if (!status.ok()) ThrowStatus(status);
}

}  // namespace gridtree::python

#include "errors.h"

namespace py = pybind11;

namespace gridtree::python {

namespace {
// Owned by the module for the life of the interpreter.
PyObject* g_classes[5] = {};
}  // namespace

void RegisterErrors(py::module_& m) {
  static py::exception<PythonError> error(m, "Error");
  g_classes[0] = error.ptr();
  const char* names[] = {"BadInput", "NotFound", "Overloaded", "Disconnected"};
  for (int i = 0; i < 4; ++i) {
    // PyErr_NewException returns a new reference, kept for the module's life.
    const std::string qualified = std::string("gridtree._core.") + names[i];
    g_classes[i + 1] = PyErr_NewException(qualified.c_str(), error.ptr(), nullptr);
    m.attr(names[i]) = py::handle(g_classes[i + 1]);
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const PythonError& e) {
      PyErr_SetString(g_classes[static_cast<int>(e.kind())], e.what());
    }
  });
}

void ThrowStatus(const Status& status) {
  ErrorKind kind = ErrorKind::kError;
  switch (status.code()) {
    case StatusCode::kInvalidArgument: kind = ErrorKind::kBadInput; break;
    case StatusCode::kNotFound: kind = ErrorKind::kNotFound; break;
    case StatusCode::kOverloaded: kind = ErrorKind::kOverloaded; break;
    default: break;
  }
  throw PythonError(kind, status.message());
}

void ThrowBadInput(const std::string& message) { throw PythonError(ErrorKind::kBadInput, message); }

}  // namespace gridtree::python

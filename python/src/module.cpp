// gridtree._core: the compiled half of the gridtree Python package
// (docs/python.md). gridtree/__init__.py is the interface users call.
#include <pybind11/pybind11.h>

#include "client_core.h"
#include "engine_core.h"
#include "errors.h"

PYBIND11_MODULE(_core, m) {
  m.doc() = "gridtree's engine and client, answering in plain Python values; use the gridtree package";
  gridtree::python::RegisterErrors(m);
  gridtree::python::RegisterEngine(m);
  gridtree::python::RegisterClient(m);
}

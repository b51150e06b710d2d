// gridtree._core.Client: a connection to a running `gridtree serve`,
// through the project's own C++ client (docs/python.md). Its answers have
// the same shapes as gridtree._core.Engine's, so that one Python layer
// serves both.
//
// Thread safety: a connection belongs to the thread that opened it (its
// event loop lives there); a call from another thread raises
// gridtree.Error. Calls release the GIL while they wait.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace gridtree::python {

class ClientCore;

void RegisterClient(pybind11::module_& m);

}  // namespace gridtree::python

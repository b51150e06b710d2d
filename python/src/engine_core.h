// gridtree._core.Engine: an embedded engine for Python (docs/python.md).
//
// Thread safety: as the engine's (engine.h): any number of Python threads
// may call it at once; long calls release the GIL.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gridtree {
class Engine;
}

namespace gridtree::python {

class EventQueue;

// One subscription to the engine's enter/exit events.
struct EngineEvents {
  ~EngineEvents();
  void Close();
  Engine* engine = nullptr;  // the Engine core keeps it alive (pybind11 keep_alive)
  int id = -1;
  std::shared_ptr<EventQueue> queue;
};

class EngineCore {
 public:
  EngineCore(const std::string& path, int threads, const std::optional<std::string>& data_dir);
  ~EngineCore();

  pybind11::dict Info() const;
  std::vector<std::string> Metrics() const;
  pybind11::array_t<int32_t> Locate(const pybind11::array& lon, const pybind11::array& lat) const;
  pybind11::array_t<int32_t> LevelNodesOf(const pybind11::array& leaves, const std::string& level) const;
  pybind11::list Labels(const pybind11::array& nodes, const std::string& what) const;
  pybind11::dict Node(const std::string& id) const;
  pybind11::dict Children(const std::string& id) const;
  pybind11::dict Top(const std::string& level, const std::string& metric, size_t k, bool density,
                     const std::string& within) const;
  pybind11::dict Aggregate(const std::string& kind, const pybind11::object& spec, const std::string& mode,
                           const std::optional<std::string>& group_by) const;
  pybind11::dict LevelTable(const std::string& level, bool geometry) const;
  uint64_t Update(const std::vector<std::string>& leaves, const std::vector<std::string>& metrics,
                  const std::vector<std::string>& ops, const std::vector<int64_t>& values);
  pybind11::dict Track(const std::vector<std::string>& ids, const std::vector<std::string>& kinds,
                       const pybind11::array& lon, const pybind11::array& lat, const pybind11::array& time);
  pybind11::dict Objects(const std::optional<std::string>& node, const std::optional<std::vector<double>>& box,
                         const std::string& kind, size_t limit) const;
  std::shared_ptr<EngineEvents> Events(const std::vector<std::string>& nodes, const std::vector<std::string>& levels,
                                       const std::vector<std::string>& kinds);

 private:
  std::unique_ptr<Engine> engine_;
};

void RegisterEngine(pybind11::module_& m);

}  // namespace gridtree::python

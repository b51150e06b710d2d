// gridtree simulate: moving objects for the demo (docs/objects.md). Kunpeng
// village's fishing boats sail from the harbour to its sea grids and back;
// grid staff walk inside their own grids. Each tick sends every object's
// position in one Writer.track call; progress goes to stderr once a second.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>
#include <thread>

#include "commands.h"
#include "gridtree/rpc/client.h"
#include "serve_util.h"

namespace gridtree::cli {
namespace {

struct Box {
  double west, south, east, north;
};

struct Mover {
  std::string id, kind;
  double lon = 0, lat = 0;
  double to_lon = 0, to_lat = 0;  // where it heads
  std::string home;               // staff: the grid it stays in; boats: unused
  int state = 0;                  // boats: 0 in harbour, 1 out, 2 at sea, 3 back
  int wait = 0;                   // ticks left before the next leg
};

// The nodes at one level of a locateBatch answer's chains ("" where a
// point has none), read once: every read of a list counts against the
// message's traversal limit.
std::vector<std::string> ChainsAt(proto::LocateBatchResult::Reader r, size_t points, proto::Level level) {
  const auto index = r.getChainIndex();
  const auto nodes = r.getChainNodes();
  std::vector<std::string> out(points);
  for (size_t i = 0; i < points; ++i) {
    const int32_t k = index[static_cast<unsigned>(i * 6 + static_cast<unsigned>(level))];
    if (k >= 0) out[i] = nodes[static_cast<unsigned>(k)].getId().cStr();
  }
  return out;
}

struct SimulateArgs {
  std::string connect = "127.0.0.1:7433", token_file, village = "440781110207";
  int boats = 262, staff = 3770;
  double rate = 1, duration = 60;
  uint64_t seed = 1;
};

// The movers and the places they go, over one connection. Every random
// choice comes from the one stream seeded with --seed.
class Simulation {
 public:
  Simulation(const SimulateArgs& a, rpc::Client& c)
      : a_(a), ws_(c.wait_scope()), gt_(c.gridtree()), random_(a.seed), unit_(0, 1) {}

  void ReadVillage();
  void PlaceBoats();
  void PlaceStaff();
  // Ticks until --duration, each sending every position in one track call.
  void Run(const std::string& token);

 private:
  using LonLat = std::pair<double, double>;
  double Uniform() { return unit_(random_); }
  // Points inside a node, by rejection: random points in its box, located.
  std::vector<LonLat> PointsIn(const Box& box, const std::string& node, proto::Level level, size_t n);
  bool IsSeaGrid(const std::string& grid) const;
  void MoveBoats(double step);
  void WalkStaff(double step);
  void SendPositions(proto::Writer::Client& writer);
  void ReportProgress(double elapsed);

  const SimulateArgs& a_;
  kj::WaitScope& ws_;
  proto::GridTree::Client& gt_;
  std::mt19937_64 random_;
  std::uniform_real_distribution<double> unit_;
  // The village's grids: the sea ones (boats go there) and one on land (the harbour).
  std::vector<std::pair<std::string, Box>> sea_grids_;
  Box harbour_{0, 0, 0, 0};
  std::string harbour_grid_;
  std::vector<Mover> movers_;
  uint64_t sent_ = 0, outside_ = 0;
};

void Simulation::ReadVillage() {
  try {
    auto children = gt_.childrenRequest();
    children.setId(a_.village);
    auto grids = children.send().wait(ws_);  // answers are read while their response lives
    for (auto grid : grids.getChildren()) {
      auto req = gt_.nodeRequest();
      req.setId(grid.getId());
      auto answer = req.send().wait(ws_);
      auto info = answer.getNode();
      auto b = info.getBounds();
      const Box box{b.getWest(), b.getSouth(), b.getEast(), b.getNorth()};
      if (std::string(info.getKind().cStr()) == "sea") {
        sea_grids_.emplace_back(grid.getId().cStr(), box);
      } else if (harbour_grid_.empty()) {
        harbour_grid_ = grid.getId().cStr();
        harbour_ = box;
      }
    }
  } catch (const kj::Exception& e) {
    Fail("simulate", "cannot read the village " + a_.village + ": " + e.getDescription().cStr());
  }
  if (a_.boats > 0 && (sea_grids_.empty() || harbour_grid_.empty()))
    Fail("simulate", "village " + a_.village + " has no sea grid or no land grid; give --village or --boats 0");
}

std::vector<Simulation::LonLat> Simulation::PointsIn(const Box& box, const std::string& node, proto::Level level,
                                                     size_t n) {
  std::vector<LonLat> out;
  for (int round = 0; round < 200 && out.size() < n; ++round) {
    const size_t tries = std::max<size_t>(64, 4 * (n - out.size()));
    auto req = gt_.locateBatchRequest();
    auto lon = req.initLon(static_cast<unsigned>(tries));
    auto lat = req.initLat(static_cast<unsigned>(tries));
    std::vector<LonLat> tried(tries);  // the request is gone once sent
    for (size_t i = 0; i < tries; ++i) {
      tried[i] = {box.west + Uniform() * (box.east - box.west), box.south + Uniform() * (box.north - box.south)};
      lon.set(static_cast<unsigned>(i), tried[i].first);
      lat.set(static_cast<unsigned>(i), tried[i].second);
    }
    req.setWithChains(true);
    auto answer = req.send().wait(ws_);
    const std::vector<std::string> found = ChainsAt(answer.getResult(), tries, level);
    for (size_t i = 0; i < tries && out.size() < n; ++i)
      if (found[i] == node) out.push_back(tried[i]);
  }
  if (out.size() < n) Fail("simulate", "could not find points inside " + node);
  return out;
}

bool Simulation::IsSeaGrid(const std::string& grid) const {
  return std::any_of(sea_grids_.begin(), sea_grids_.end(), [&](const auto& s) { return s.first == grid; });
}

// Boats start in the harbour, each waiting a while before its first trip.
void Simulation::PlaceBoats() {
  if (a_.boats <= 0) return;
  const auto at_harbour = PointsIn(harbour_, harbour_grid_, proto::Level::GRID, static_cast<size_t>(a_.boats));
  for (int i = 0; i < a_.boats; ++i) {
    Mover m;
    m.id = "boat-" + std::to_string(i + 1);
    m.kind = "boat";
    m.lon = m.to_lon = at_harbour[i].first;
    m.lat = m.to_lat = at_harbour[i].second;
    m.wait = static_cast<int>(Uniform() * 20 * a_.rate);
    movers_.push_back(std::move(m));
  }
}

// Staff start at random points of the city; the grid there is theirs.
void Simulation::PlaceStaff() {
  if (a_.staff <= 0) return;
  auto answer = gt_.infoRequest().send().wait(ws_);
  auto b = answer.getInfo().getBounds();
  const Box city{b.getWest(), b.getSouth(), b.getEast(), b.getNorth()};
  const size_t everyone = static_cast<size_t>(a_.boats + a_.staff);
  while (movers_.size() < everyone) {
    auto req = gt_.locateBatchRequest();
    const unsigned tries = 4096;
    auto lon = req.initLon(tries);
    auto lat = req.initLat(tries);
    std::vector<LonLat> tried(tries);
    for (unsigned i = 0; i < tries; ++i) {
      tried[i] = {city.west + Uniform() * (city.east - city.west), city.south + Uniform() * (city.north - city.south)};
      lon.set(i, tried[i].first);
      lat.set(i, tried[i].second);
    }
    req.setWithChains(true);
    auto located = req.send().wait(ws_);
    const std::vector<std::string> grids = ChainsAt(located.getResult(), tries, proto::Level::GRID);
    for (unsigned i = 0; i < tries && movers_.size() < everyone; ++i) {
      const std::string& grid = grids[i];
      // Staff walk on land: the village's sea grids are the boats'.
      if (grid.empty() || IsSeaGrid(grid)) continue;
      Mover m;
      m.id = "staff-" + std::to_string(movers_.size() - a_.boats + 1);
      m.kind = "staff";
      m.lon = m.to_lon = tried[i].first;
      m.lat = m.to_lat = tried[i].second;
      m.home = grid;
      movers_.push_back(std::move(m));
    }
  }
}

// Boats: wait in harbour, sail to a point of a sea grid, stay, sail back.
void Simulation::MoveBoats(double step) {
  for (Mover& m : movers_) {
    if (m.kind != "boat") continue;
    if (m.wait > 0) {
      --m.wait;
      continue;
    }
    const double dx = m.to_lon - m.lon, dy = m.to_lat - m.lat, d = std::hypot(dx, dy);
    if (d > step) {
      m.lon += dx / d * step;
      m.lat += dy / d * step;
      continue;
    }
    m.lon = m.to_lon;
    m.lat = m.to_lat;
    if (m.state == 3) {  // back in harbour: unload a while
      m.state = 0;
      m.wait = static_cast<int>((5 + Uniform() * 15) * a_.rate);
    } else if (m.state == 0) {  // in harbour: head out to a random sea grid
      const auto& [grid, box] = sea_grids_[static_cast<size_t>(Uniform() * sea_grids_.size())];
      const auto target = PointsIn(box, grid, proto::Level::GRID, 1)[0];
      m.to_lon = target.first;
      m.to_lat = target.second;
      m.state = 1;
    } else if (m.state == 1) {  // arrived at sea: fish a while
      m.state = 2;
      m.wait = static_cast<int>((10 + Uniform() * 20) * a_.rate);
    } else {  // back to the harbour
      const auto target = PointsIn(harbour_, harbour_grid_, proto::Level::GRID, 1)[0];
      m.to_lon = target.first;
      m.to_lat = target.second;
      m.state = 3;
    }
  }
}

// Staff: a step in a random direction, kept only if it stays in their grid.
void Simulation::WalkStaff(double step) {
  std::vector<size_t> walkers;
  auto check = gt_.locateBatchRequest();
  size_t staff_count = 0;
  for (const Mover& m : movers_) staff_count += m.kind == "staff";
  auto clon = check.initLon(static_cast<unsigned>(staff_count));
  auto clat = check.initLat(static_cast<unsigned>(staff_count));
  std::vector<LonLat> steps;
  for (size_t i = 0; i < movers_.size(); ++i) {
    if (movers_[i].kind != "staff") continue;
    const double angle = Uniform() * 2 * M_PI;
    steps.emplace_back(movers_[i].lon + std::cos(angle) * step, movers_[i].lat + std::sin(angle) * step);
    clon.set(static_cast<unsigned>(walkers.size()), steps.back().first);
    clat.set(static_cast<unsigned>(walkers.size()), steps.back().second);
    walkers.push_back(i);
  }
  if (walkers.empty()) return;
  check.setWithChains(true);
  auto located = check.send().wait(ws_);
  const std::vector<std::string> grids = ChainsAt(located.getResult(), walkers.size(), proto::Level::GRID);
  for (size_t w = 0; w < walkers.size(); ++w) {
    Mover& m = movers_[walkers[w]];
    if (grids[w] != m.home) continue;
    m.lon = steps[w].first;
    m.lat = steps[w].second;
  }
}

void Simulation::SendPositions(proto::Writer::Client& writer) {
  auto req = writer.trackRequest();
  auto list = req.initReports(static_cast<unsigned>(movers_.size()));
  for (size_t i = 0; i < movers_.size(); ++i) {
    auto b = list[static_cast<unsigned>(i)];
    b.setId(movers_[i].id);
    b.setKind(movers_[i].kind);
    b.setLon(movers_[i].lon);
    b.setLat(movers_[i].lat);
  }
  try {
    auto r = req.send().wait(ws_);
    sent_ += r.getReports();
    outside_ += r.getOutside();
  } catch (const kj::Exception& e) {
    // A cluster without a quorum, or a busy server: this tick's reports
    // are lost, the next tick sends everyone's position again.
    const std::string why = e.getDescription().cStr();
    const bool transient = e.getType() == kj::Exception::Type::OVERLOADED ||
                           why.find("not stored") != std::string::npos ||
                           why.find("not acknowledged") != std::string::npos;
    if (!transient) Fail("simulate", std::string("track: ") + why);
    std::cerr << "simulate: a tick's reports were refused, going on: " << why << std::endl;
  }
}

void Simulation::ReportProgress(double elapsed) {
  int at_sea = 0;
  for (const Mover& m : movers_) at_sea += m.kind == "boat" && m.state == 2;
  std::cerr << "simulate: " << static_cast<int64_t>(elapsed) << " s, " << sent_ << " reports, " << a_.boats
            << " boats (" << at_sea << " fishing at sea), " << a_.staff << " staff" << std::endl;
}

void Simulation::Run(const std::string& token) {
  auto wreq = gt_.writerRequest();
  wreq.setToken(token);
  auto writer = wreq.send().getWriter();
  const double dt = 1.0 / a_.rate;
  const double boat_step = 0.004 * dt;     // degrees per tick: about 15 knots
  const double staff_step = 0.00002 * dt;  // about 2 m/s
  const auto t0 = std::chrono::steady_clock::now();
  auto last_report = t0;
  for (int64_t tick = 0;; ++tick) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (a_.duration > 0 && elapsed >= a_.duration) break;
    MoveBoats(boat_step);
    WalkStaff(staff_step);
    SendPositions(writer);
    if (const auto now = std::chrono::steady_clock::now(); now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      ReportProgress(elapsed);
    }
    const auto next = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                               std::chrono::duration<double>((tick + 1) * dt));
    std::this_thread::sleep_until(next);
  }
  std::cout << "{\"reports\":" << sent_ << ",\"outside\":" << outside_ << ",\"objects\":" << movers_.size() << "}"
            << std::endl;
}

// The simulation itself; a failed call throws kj::Exception.
void RunSimulation(const SimulateArgs& a) {
  const std::string token = TokenFileOrFail("simulate", a.token_file);
  if (!(a.rate > 0)) Fail("simulate", "--rate must be positive");
  rpc::Client c(a.connect, rpc::ClientOptions{uint64_t{256} << 20, 4});
  Simulation simulation(a, c);
  simulation.ReadVillage();
  simulation.PlaceBoats();
  simulation.PlaceStaff();
  simulation.Run(token);
}

}  // namespace

void RegisterSimulate(CLI::App& app) {
  auto* cmd = app.add_subcommand("simulate", "Move boats and grid staff on a running server (writer token)");
  auto a = std::make_shared<SimulateArgs>();
  cmd->add_option("--connect", a->connect, "Server address: HOST:PORT or unix:/path")->capture_default_str();
  cmd->add_option("--token-file", a->token_file, "File holding the writer token")->required();
  cmd->add_option("--boats", a->boats, "Fishing boats of the village")->capture_default_str();
  cmd->add_option("--staff", a->staff, "Grid staff, each in a grid of their own")->capture_default_str();
  cmd->add_option("--rate", a->rate, "Position reports per object per second")->capture_default_str();
  cmd->add_option("--duration", a->duration, "Seconds to run (0: until killed)")->capture_default_str();
  cmd->add_option("--village", a->village, "The fishing village: its sea grids are where boats go")
      ->capture_default_str();
  cmd->add_option("--seed", a->seed, "Random seed")->capture_default_str();
  cmd->callback([a] {
    // Any call that fails outside the track loop's own handling (the
    // server gone) ends the run with the reason, not an abort.
    try {
      RunSimulation(*a);
    } catch (const kj::Exception& e) {
      Fail("simulate", e.getDescription().cStr());
    }
  });
}

}  // namespace gridtree::cli

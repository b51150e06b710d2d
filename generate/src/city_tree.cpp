// The city's tree from the division table (city_stages.h: CityTree, ReadTree).
#include <algorithm>
#include <optional>

#include "city_stages.h"

namespace gridtree::generate {
namespace {

std::string ZeroPadded(int v, int width) {
  std::string s = std::to_string(v);
  return std::string(std::max(0, width - static_cast<int>(s.size())), '0') + s;
}

}  // namespace

int32_t CityTree::Find(const std::string& code) const {
  auto it = by_code.find(code);
  return it == by_code.end() ? -1 : it->second;
}

int32_t CityTree::AddGeneratedChild(int32_t parent, int ordinal, int digits, const char* unit, Level level,
                                    uint8_t kind) {
  Node n;
  n.code = nodes[parent].code + ZeroPadded(ordinal, digits);
  n.name = nodes[parent].name + "第" + std::to_string(ordinal) + unit;
  n.level = level;
  n.parent = parent;
  n.kind = kind;
  nodes.push_back(std::move(n));
  int32_t id = static_cast<int32_t>(nodes.size() - 1);
  nodes[parent].children.push_back(id);
  return id;
}

std::vector<int32_t> CityTree::Towns() const {
  std::vector<int32_t> towns;
  for (int32_t c : nodes[root].children)
    for (int32_t t : nodes[c].children) towns.push_back(t);
  return towns;
}

std::vector<int32_t> CityTree::Communities() const {
  std::vector<int32_t> communities;
  for (int32_t t : Towns())
    for (int32_t m : nodes[t].children) communities.push_back(m);
  return communities;
}

Result<CityTree> ReadTree(const std::string& where, const std::vector<Division>& divs,
                          const std::vector<CountyShape>& shapes) {
  const std::string table = where + "divisions.csv";
  CityTree tree;
  std::vector<Node>& nodes = tree.nodes;
  for (const Division& d : divs) {
    // The table has the real divisions only; grids are generated.
    const std::optional<Level> level = ParseLevel(d.level);
    if (!level || *level > Level::kCommunity) return InvalidArgument(table + ": unknown level \"" + d.level + "\"");
    if (tree.by_code.count(d.code)) return InvalidArgument(table + ": duplicate code " + d.code);
    Node n;
    n.code = d.code;
    n.name = d.name;
    n.level = *level;
    tree.by_code[d.code] = static_cast<int32_t>(nodes.size());
    nodes.push_back(std::move(n));
  }
  for (size_t k = 0; k < divs.size(); ++k) {
    if (nodes[k].level == Level::kCity) {
      if (tree.root >= 0) return InvalidArgument(table + ": more than one city");
      tree.root = static_cast<int32_t>(k);
      continue;
    }
    const int32_t parent = tree.Find(divs[k].parent);
    if (parent < 0 || static_cast<int>(nodes[parent].level) != static_cast<int>(nodes[k].level) - 1)
      return InvalidArgument(table + ": " + divs[k].code + " has unknown parent " + divs[k].parent);
    nodes[k].parent = parent;
    nodes[parent].children.push_back(static_cast<int32_t>(k));
  }
  if (tree.root < 0) return InvalidArgument(table + ": no city");
  // Code order is the order children are split in and written in.
  for (Node& n : nodes)
    std::sort(n.children.begin(), n.children.end(), [&](int32_t a, int32_t b) { return nodes[a].code < nodes[b].code; });
  for (size_t s = 0; s < shapes.size(); ++s) {
    const int32_t county = tree.Find(shapes[s].code);
    if (county < 0 || nodes[county].level != Level::kCounty)
      return InvalidArgument(shapes[s].source + ": feature " + shapes[s].code + " is not a county of " + table);
    nodes[county].county_shape = static_cast<int>(s);
  }
  for (int32_t c : nodes[tree.root].children) {
    if (nodes[c].county_shape < 0) return InvalidArgument(where + ": no county geometry for county " + nodes[c].code);
    if (nodes[c].children.empty()) return InvalidArgument(table + ": county " + nodes[c].code + " has no towns");
    for (int32_t t : nodes[c].children)
      if (nodes[t].children.empty()) return InvalidArgument(table + ": town " + nodes[t].code + " has no communities");
  }
  return tree;
}

}  // namespace gridtree::generate

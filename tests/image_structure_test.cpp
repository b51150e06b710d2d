// Engine images whose checksums are right but whose structure is not (a
// node its own child, a child under the wrong parent, a ring of one point,
// a reference out of its section): refused at open with a message naming
// the section and the node, and, for random damage, either refused or
// answered by every query kind without a crash or a hang.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "gridtree/engine/engine.h"
#include "gridtree/engine/image.h"
#include "gridtree/engine/region.h"
#include "gridtree/engine/tiles.h"
#include "storage/image_file.h"  // engine/src: sections, RecomputeImageChecksums
#include "small_dataset.h"

namespace gridtree {
namespace {

namespace fs = std::filesystem;

class ImageStructureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/gridtree-structure-" + std::to_string(::getpid());
    fs::create_directories(dir_);
    const std::string good = dir_ + "/small.gtimg";
    auto engine = testing::SmallEngine(8);
    ASSERT_TRUE(WriteEngineImage(*engine->Read(), good).ok());
    std::ifstream in(good, std::ios::binary);
    bytes_.assign(std::istreambuf_iterator<char>(in), {});
    auto mapped = internal::MappedImage::Open(good);
    ASSERT_TRUE(mapped.ok()) << mapped.status().message();
    for (const auto& s : mapped.value()->sections()) sections_.push_back({s.name, s.offset, s.bytes.size()});
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Where {
    std::string name;
    size_t offset, size;
  };
  const Where& Section(const std::string& name) const {
    for (const Where& w : sections_)
      if (w.name == name) return w;
    ADD_FAILURE() << "no section " << name;
    return sections_.front();
  }
  // Section `name` of `image` as an array of T.
  template <typename T>
  static T* Array(std::string& image, const Where& w) {
    return reinterpret_cast<T*>(image.data() + w.offset);
  }
  template <typename T>
  T* Array(std::string& image, const std::string& name) const {
    return Array<T>(image, Section(name));
  }
  template <typename T>
  size_t Count(const std::string& name) const {
    return Section(name).size / sizeof(T);
  }

  static EngineOptions OneThread() {
    EngineOptions o;
    o.threads = 1;
    return o;
  }
  // Recomputes the checksums of `image`, writes and opens it.
  Result<std::unique_ptr<Engine>> Open(std::string image) {
    EXPECT_TRUE(internal::RecomputeImageChecksums(std::as_writable_bytes(std::span(image.data(), image.size()))));
    const std::string path = dir_ + "/damaged.gtimg";
    std::ofstream(path, std::ios::binary | std::ios::trunc) << image;
    return Engine::Open(path, OneThread());
  }
  // Opens `image`, which must be refused with a message that holds every one
  // of `words`.
  void ExpectRefused(const std::string& image, const std::vector<std::string>& words) {
    auto e = Open(image);
    ASSERT_FALSE(e.ok()) << "opened; expected an error with " << words.front();
    for (const std::string& w : words) EXPECT_NE(e.status().message().find(w), std::string::npos) << e.status().message();
  }

  // An inner node with at least one inner child.
  int32_t Grandparent() const {
    std::string image = bytes_;
    const auto* begin = Array<int32_t>(image, "dataset.child_begin");
    const auto* kids = Array<int32_t>(image, "dataset.children");
    for (size_t k = 0; k + 1 < Count<int32_t>("dataset.child_begin"); ++k)
      for (int32_t i = begin[k]; i < begin[k + 1]; ++i)
        if (begin[kids[i] + 1] > begin[kids[i]]) return static_cast<int32_t>(k);
    ADD_FAILURE() << "no grandparent";
    return 0;
  }

  std::string dir_, bytes_;
  std::vector<Where> sections_;
};

TEST_F(ImageStructureTest, TheUndamagedImageOpensWithRecomputedChecksums) {
  EXPECT_TRUE(Open(bytes_).ok());
  std::string short_image = bytes_.substr(0, 40);
  EXPECT_FALSE(internal::RecomputeImageChecksums(std::as_writable_bytes(std::span(short_image.data(), short_image.size()))));
}

TEST_F(ImageStructureTest, ANodeItsOwnChildIsRefusedNamingIt) {
  std::string image = bytes_;
  const int32_t k = Grandparent();
  Array<int32_t>(image, "dataset.children")[Array<int32_t>(image, "dataset.child_begin")[k]] = k;
  ExpectRefused(image, {"dataset.children", "node " + std::to_string(k) + " ", "its own child"});
}

TEST_F(ImageStructureTest, AChildUnderTheWrongParentIsRefusedNamingIt) {
  std::string image = bytes_;
  const int32_t k = Grandparent();
  const int32_t c = Array<int32_t>(image, "dataset.children")[Array<int32_t>(image, "dataset.child_begin")[k]];
  Array<int32_t>(image, "dataset.parents")[c] = k > 0 ? k - 1 : -1;  // still before it: only the lists disagree
  ExpectRefused(image, {"dataset.", "node " + std::to_string(c) + " "});
}

TEST_F(ImageStructureTest, ACycleIsRefusedNamingTheNode) {
  // k's first child lists k, its parent, as its own child.
  std::string image = bytes_;
  const int32_t k = Grandparent();
  const auto* begin = Array<int32_t>(image, "dataset.child_begin");
  int32_t* kids = Array<int32_t>(image, "dataset.children");
  int32_t c = -1;
  for (int32_t i = begin[k]; i < begin[k + 1] && c < 0; ++i)
    if (begin[kids[i] + 1] > begin[kids[i]]) c = kids[i];
  ASSERT_GE(c, 0);
  kids[begin[c]] = k;
  ExpectRefused(image, {"dataset.children", "node " + std::to_string(c) + " ", "node " + std::to_string(k) + " "});
}

TEST_F(ImageStructureTest, ALeafRingOfOnePointIsRefusedNamingTheNode) {
  // The first ring keeps one position; the next one takes the rest.
  std::string image = bytes_;
  uint64_t* ring_points = Array<uint64_t>(image, "geometry.ring_points");
  ring_points[1] = ring_points[0] + 1;
  const int32_t node = Array<int32_t>(image, "dataset.leaf_nodes")[0];
  ExpectRefused(image, {"geometry", "node " + std::to_string(node) + " ", "1 positions"});
}

TEST_F(ImageStructureTest, AnUnclosedOrNonFiniteRingIsRefusedNamingTheNode) {
  const uint64_t* at = Array<uint64_t>(const_cast<std::string&>(bytes_), "geometry.ring_points");
  const size_t leaves = Count<int32_t>("dataset.leaf_nodes");
  const int32_t node = Array<int32_t>(const_cast<std::string&>(bytes_), "dataset.leaf_nodes")[leaves - 1];
  const uint64_t last_ring = Count<uint64_t>("geometry.ring_points") - 2;
  std::string unclosed = bytes_;
  Array<index::Point>(unclosed, "geometry.points")[at[last_ring + 1] - 1].x += 1e-3;
  ExpectRefused(unclosed, {"geometry", "node " + std::to_string(node) + " ", "not closed"});
  std::string nan = bytes_;
  Array<index::Point>(nan, "geometry.points")[at[last_ring] + 1].y = std::nan("");
  ExpectRefused(nan, {"geometry", "node " + std::to_string(node) + " ", "finite"});
  // An inner outline: the first node that has one (where the dataset has any).
  std::string inner = bytes_;
  const uint32_t* parts = Array<uint32_t>(inner, "inner.polygon_parts");
  if (parts[Count<uint32_t>("inner.polygon_parts") - 1] == 0) return;
  int32_t k = 0;
  while (parts[k] == parts[k + 1]) ++k;
  Array<index::Point>(inner, "inner.points")[Array<uint64_t>(inner, "inner.ring_points")[1] - 1].y += 1e-3;
  ExpectRefused(inner, {"inner.", "node " + std::to_string(k) + " ", "not closed"});
}

TEST_F(ImageStructureTest, ReferencesOutOfTheirSectionAreRefused) {
  const int32_t n = static_cast<int32_t>(Count<int32_t>("dataset.parents"));
  {
    std::string image = bytes_;
    Array<int32_t>(image, "dataset.names_sorted")[3] = n;
    ExpectRefused(image, {"dataset.names_sorted", "node " + std::to_string(n)});
  }
  {
    std::string image = bytes_;
    int32_t* sorted = Array<int32_t>(image, "dataset.names_sorted");
    sorted[3] = sorted[4];
    ExpectRefused(image, {"dataset.names_sorted", "a second time"});
  }
  {
    std::string image = bytes_;
    int32_t* slots = Array<int32_t>(image, "dataset.id_table");
    for (size_t i = 0; i < Count<int32_t>("dataset.id_table"); ++i)
      if (slots[i] < 0) {
        slots[i] = n + 5;
        break;
      }
    ExpectRefused(image, {"dataset.id_table", std::to_string(n + 5)});
  }
  {
    std::string image = bytes_;
    Array<uint32_t>(image, "strings.names")[2] = static_cast<uint32_t>(Section("strings.text").size + 1);
    ExpectRefused(image, {"strings.names"});
  }
  {
    std::string image = bytes_;
    Array<int32_t>(image, "dataset.first_leaf")[1] += 1;
    ExpectRefused(image, {"dataset.first_leaf", "node 1 "});
  }
  {
    // The R-tree's root names a child run that is not its own.
    std::string image = bytes_;
    const size_t boxes = Count<uint32_t>("index.rtree_refs");
    Array<uint32_t>(image, "index.rtree_refs")[boxes - 1] += 1;
    ExpectRefused(image, {"R-tree"});
  }
  {
    std::string image = bytes_;
    Array<int32_t>(image, "dataset.subtree_end")[0] -= 1;
    ExpectRefused(image, {"dataset.", "node "});
  }
  {
    std::string image = bytes_;
    const uint8_t* levels = Array<uint8_t>(image, "dataset.levels");
    const int32_t k = Grandparent();
    const int32_t c = Array<int32_t>(image, "dataset.children")[Array<int32_t>(image, "dataset.child_begin")[k]];
    Array<uint8_t>(image, "dataset.levels")[c] = levels[k];
    ExpectRefused(image, {"dataset.levels", "node " + std::to_string(c) + " "});
  }
}

TEST_F(ImageStructureTest, AChildIdEqualToTheNodeCountIsRefusedNamingIt) {
  // The last node L becomes a root of its own whose one child entry (taken
  // from its old parent's list) names node n: every subtree end and the
  // layout agree, so the only defect is the id itself, which a layout check
  // alone would take for the child where L's subtree ends and read one past
  // dataset.parents, dataset.levels and dataset.subtree_end.
  std::string image = bytes_;
  const int32_t n = static_cast<int32_t>(Count<int32_t>("dataset.parents"));
  const auto size = static_cast<int32_t>(Count<int32_t>("dataset.children"));
  const int32_t last = n - 1;
  int32_t* parents = Array<int32_t>(image, "dataset.parents");
  int32_t* subtree_end = Array<int32_t>(image, "dataset.subtree_end");
  int32_t* begin = Array<int32_t>(image, "dataset.child_begin");
  int32_t* kids = Array<int32_t>(image, "dataset.children");
  int32_t* leaf_of_node = Array<int32_t>(image, "dataset.leaf_of_node");
  const int32_t p = parents[last];
  ASSERT_GE(p, 0);
  ASSERT_EQ(kids[size - 1], last);
  ASSERT_GE(begin[p + 1] - begin[p], 2) << "the parent keeps a child";
  for (int32_t a = p; a >= 0; a = parents[a]) {
    ASSERT_EQ(subtree_end[a], n);
    subtree_end[a] = last;
  }
  for (int32_t k = p + 1; k <= last; ++k) {
    ASSERT_EQ(begin[k], size) << "node " << k << " has children";
    begin[k] = size - 1;
  }
  parents[last] = -1;
  leaf_of_node[last] = -1;
  kids[size - 1] = n;
  ExpectRefused(image, {"dataset.children", "node " + std::to_string(last) + " ", "node " + std::to_string(n) + " ",
                        "out of range"});
}

// Two roots, a leaf at town level beside deeper leaves, levels skipped: a
// valid image the structure checks must open, answering as the dataset it
// was written from does.
TEST_F(ImageStructureTest, AnImageWithTwoRootsAndAShallowLeafOpensAndAnswersAsItsDataset) {
  std::string text = "{\"type\":\"FeatureCollection\",\"features\":[\n";
  auto square = [](double x, double y) {
    auto c = [](double v) { return std::to_string(v); };
    const double d = 0.01;
    return "{\"type\":\"Polygon\",\"coordinates\":[[[" + c(x) + "," + c(y) + "],[" + c(x + d) + "," + c(y) + "],[" +
           c(x + d) + "," + c(y + d) + "],[" + c(x) + "," + c(y + d) + "],[" + c(x) + "," + c(y) + "]]]}";
  };
  auto emit = [&](const std::string& id, const std::string& parent, const std::string& level, int population,
                  const std::string& geometry) {
    text += "{\"type\":\"Feature\",\"id\":\"" + id + "\",\"properties\":{\"parent\":" +
            (parent.empty() ? std::string("null") : "\"" + parent + "\"") + ",\"level\":\"" + level +
            "\",\"name\":\"" + level + " " + id + "\"" +
            (population < 0 ? "" : ",\"metrics\":{\"population\":" + std::to_string(population) + "}") +
            "},\"geometry\":" + geometry + "},\n";
  };
  emit("a", "", "city", -1, "null");
  emit("a_town", "a", "town", 40, square(113.00, 22.50));  // a leaf at town level
  emit("a_county", "a", "county", -1, "null");
  emit("a_grid1", "a_county", "grid", 10, square(113.01, 22.50));  // town and community skipped
  emit("a_grid2", "a_county", "grid", 20, square(113.02, 22.50));
  emit("b", "", "county", -1, "null");  // a second root, below city level
  emit("b_comm", "b", "community", -1, "null");
  emit("b_micro", "b_comm", "micro_grid", 5, square(113.00, 22.52));
  emit("b_town", "b", "town", 7, square(113.01, 22.52));  // a town leaf after a deeper subtree
  text.resize(text.size() - 2);
  text += "\n]}\n";
  LoadOptions load;
  load.threads = 1;
  LoadResult loaded = LoadDatasetFromText(text, "two-roots", load);
  ASSERT_TRUE(loaded.dataset) << (loaded.report.findings.empty() ? "" : loaded.report.findings[0].ToString());
  auto memory = Engine::Create(std::move(*loaded.dataset), OneThread());
  ASSERT_TRUE(memory.ok()) << memory.status().message();
  const std::string path = dir_ + "/two-roots.gtimg";
  ASSERT_TRUE(WriteEngineImage(*memory.value()->Read(), path).ok());
  auto mapped = Engine::Open(path, OneThread());
  ASSERT_TRUE(mapped.ok()) << mapped.status().message();
  const auto want = memory.value()->Read(), got = mapped.value()->Read();
  ASSERT_EQ(got->dataset().node_count(), want->dataset().node_count());
  ASSERT_EQ(got->dataset().node_count(), 9u);
  EXPECT_EQ(got->dataset().leaf_count(), want->dataset().leaf_count());
  for (size_t k = 0; k < want->dataset().node_count(); ++k) {
    const NodeId node(static_cast<int32_t>(k));
    SCOPED_TRACE(std::string(want->id(node)));
    EXPECT_EQ(got->id(node), want->id(node));
    const Chain a = want->ChainOf(node), b = got->ChainOf(node);
    ASSERT_EQ(b.size, a.size);
    for (int i = 0; i < a.size; ++i) EXPECT_EQ(got->id(b.nodes[i]), want->id(a.nodes[i]));
    EXPECT_EQ(got->Aggregate(node), want->Aggregate(node));
  }
  EXPECT_EQ(want->ChainOf(want->Find("b_town").value()).size, 2);
  for (double x : {113.005, 113.015, 113.025, 113.035})
    for (double y : {22.505, 22.525, 22.545}) {
      const LocateResult a = want->Locate({x, y}), b = got->Locate({x, y});
      ASSERT_EQ(b.hit(), a.hit()) << x << " " << y;
      if (!a.hit()) continue;
      EXPECT_EQ(got->id(b.node), want->id(a.node)) << x << " " << y;
      EXPECT_EQ(b.leaf.value, a.leaf.value);
    }
  EXPECT_EQ(got->id(got->Locate({113.005, 22.505}).node), "a_town");
  EXPECT_EQ(got->id(got->Locate({113.015, 22.525}).node), "b_town");
}

// Every query kind on an image that opened. Nothing is compared: damaged
// values may give other answers, but never a crash, a hang or a read past
// the mapping (run under AddressSanitizer too).
void AskEverything(const View& view) {
  const Dataset& ds = view.dataset();
  for (double x = 112.995; x < 113.1; x += 0.0071)
    for (double y = 22.495; y < 22.6; y += 0.0063) (void)view.Locate({x, y});
  size_t names = 0;
  for (size_t k = 0; k < ds.node_count(); ++k) {
    const NodeId node(static_cast<int32_t>(k));
    (void)view.Find(view.id(node));
    (void)view.ChainOf(node);
    (void)view.Parent(node);
    (void)view.Aggregate(node);
    for (NodeId c : view.Children(node)) names += view.name(c).size();
    names += view.FindByNamePrefix(view.name(node).substr(0, 3), 5).size();
  }
  const Region regions[] = {BoxRegion(112.9, 22.4, 113.2, 22.7), CircleRegion(113.04, 22.54, 3000)};
  for (const Region& region : regions)
    for (int group = -1; group < kLevelCount; ++group) {
      RegionQuery q{region, RegionMode::kIntersecting, std::nullopt};
      if (group >= 0) q.group_by = static_cast<Level>(group);
      (void)view.RegionAggregate(q);
      q.mode = RegionMode::kAreaWeighted;
      (void)view.RegionAggregate(q);
    }
  for (int level = 0; level < kLevelCount; ++level)
    for (bool density : {false, true}) (void)view.TopK({static_cast<Level>(level), 0, 5, NodeId(), density});
  // What an export of each level reads: every node's geometry.
  for (size_t k = 0; k < ds.node_count(); ++k) {
    const int32_t leaf = ds.leaf_of_node[k];
    const index::MultiPolygon mp = leaf >= 0 ? view.spatial_index().polygon(leaf) : ds.inner_geometry.Get(k);
    for (const auto& part : mp.parts)
      for (const auto& ring : part.rings) names += ring.size();
  }
  // Tiles from the world down to the leaves' zoom, over the dataset.
  for (int z = 0; z <= 15; z += 3) {
    const double n = std::ldexp(1.0, z);
    const auto x = static_cast<uint32_t>((113.04 + 180) / 360 * n);
    const double lat = 22.54 * M_PI / 180;
    const auto y = static_cast<uint32_t>((1 - std::log(std::tan(lat) + 1 / std::cos(lat)) / M_PI) / 2 * n);
    for (uint32_t dx = 0; dx < 2; ++dx)
      for (uint32_t dy = 0; dy < 2; ++dy) (void)RenderTile(view, {z, x + dx, y + dy});
  }
  EXPECT_GE(names, 0u);
}

TEST_F(ImageStructureTest, RandomDamageWithValidChecksumsIsRefusedOrAnswered) {
  AskEverything(*Open(bytes_).value()->Read());
  std::mt19937_64 rng(2160);
  int refused = 0, opened = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string image = bytes_;
    const Where& w = sections_[rng() % sections_.size()];
    if (w.size == 0) continue;
    // A few bytes of one section: random values, or a nearby number (an
    // offset or a node number off by a little) in a 4-byte word.
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = w.offset + rng() % w.size;
      if (rng() % 2 && w.size >= 4) {
        const size_t word = w.offset + (at - w.offset) / 4 * 4;
        int32_t v;
        std::memcpy(&v, image.data() + word, 4);
        v += static_cast<int32_t>(rng() % 5) - 2;
        std::memcpy(image.data() + word, &v, 4);
      } else {
        image[at] = static_cast<char>(rng());
      }
    }
    auto e = Open(image);
    if (!e.ok()) {
      ++refused;
      EXPECT_NE(e.status().message().find("section"), std::string::npos) << e.status().message();
      continue;
    }
    ++opened;
    SCOPED_TRACE("trial " + std::to_string(trial) + ", section " + w.name);
    AskEverything(*e.value()->Read());
  }
  EXPECT_GT(refused, 50);
  EXPECT_GT(opened, 20);
}

}  // namespace
}  // namespace gridtree

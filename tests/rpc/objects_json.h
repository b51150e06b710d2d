// `gridtree call objects --json` output read back with simdjson (which also
// refuses invalid UTF-8), for tests that check what was listed rather than
// substrings of it.
#pragma once

#include <gtest/gtest.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gridtree::testing {

// What one `call objects --json` printed.
struct ListedObjects {
  uint64_t total = 0;             // "total": what the query selects
  std::vector<std::string> ids;   // "objects"[i]."id", in the order listed
};

// Parses text as {"total":N,"objects_version":V,"objects":[{"id":...},...]};
// a failure names what was missing and shows the start of the text.
inline ::testing::AssertionResult ParseObjectsJson(const std::string& text, ListedObjects& out) {
  const auto fail = [&](std::string_view what, simdjson::error_code e) {
    return ::testing::AssertionFailure() << what << ": " << simdjson::error_message(e) << " in "
                                         << text.substr(0, 300);
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto e = parser.parse(text).get(doc)) return fail("not one JSON document", e);
  if (auto e = doc["total"].get_uint64().get(out.total)) return fail("total", e);
  uint64_t version = 0;
  if (auto e = doc["objects_version"].get_uint64().get(version)) return fail("objects_version", e);
  simdjson::dom::array objects;
  if (auto e = doc["objects"].get_array().get(objects)) return fail("objects", e);
  out.ids.clear();
  for (simdjson::dom::element o : objects) {
    std::string_view id;
    if (auto e = o["id"].get_string().get(id)) return fail("objects[" + std::to_string(out.ids.size()) + "].id", e);
    out.ids.emplace_back(id);
  }
  return ::testing::AssertionSuccess();
}

}  // namespace gridtree::testing

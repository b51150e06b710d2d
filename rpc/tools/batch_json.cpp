// BATCH.json parser (simdjson, on-demand).
#include "batch_json.h"

#include "gridtree/engine/read_file.h"

#include <simdjson.h>

#include <fstream>
#include <sstream>

namespace gridtree::cli {

Result<UpdateBatch> ParseBatchJson(std::string_view text) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(text);
  UpdateBatch batch;
  auto fail = [](const std::string& where, const std::string& what) -> Status {
    return InvalidArgument("batch: " + where + ": " + what);
  };
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc)) return fail("document", simdjson::error_message(err));
  simdjson::ondemand::object root;
  if (doc.get_object().get(root)) return fail("document", "expected an object with \"updates\"");
  simdjson::ondemand::array updates;
  if (root["updates"].get_array().get(updates)) return fail("updates", "expected an array");
  size_t i = 0;
  for (auto item : updates) {
    const std::string where = "updates[" + std::to_string(i++) + "]";
    simdjson::ondemand::object obj;
    if (item.get_object().get(obj)) return fail(where, "expected an object");
    MetricUpdate u;
    bool has_leaf = false, has_metric = false, has_value = false;
    std::string op = "set";
    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return fail(where, "bad key");
      auto value = field.value();
      if (key == "leaf") {
        std::string_view s;
        if (value.get_string().get(s)) {
          int64_t n;  // an integer id is read as its decimal string, as in datasets
          if (value.get_int64().get(n)) return fail(where + ".leaf", "expected a string");
          u.leaf_id = std::to_string(n);
        } else {
          u.leaf_id = std::string(s);
        }
        has_leaf = true;
      } else if (key == "metric") {
        std::string_view s;
        if (value.get_string().get(s)) return fail(where + ".metric", "expected a string");
        u.metric = std::string(s);
        has_metric = true;
      } else if (key == "op") {
        std::string_view s;
        if (value.get_string().get(s)) return fail(where + ".op", "expected \"set\" or \"add\"");
        op = std::string(s);
      } else if (key == "value") {
        if (value.get_int64().get(u.value)) return fail(where + ".value", "expected an integer");
        has_value = true;
      } else {
        return fail(where, "unknown member \"" + std::string(key) + "\"");
      }
    }
    if (!has_leaf || u.leaf_id.empty()) return fail(where + ".leaf", "missing");
    if (!has_metric || u.metric.empty()) return fail(where + ".metric", "missing");
    if (!has_value) return fail(where + ".value", "missing");
    if (op == "set") {
      u.op = MetricUpdate::Op::kSet;
      if (u.value < 0) return fail(where + ".value", "a set value must be >= 0");
    } else if (op == "add") {
      u.op = MetricUpdate::Op::kAdd;
    } else {
      return fail(where + ".op", "expected \"set\" or \"add\", got \"" + op + "\"");
    }
    batch.updates.push_back(std::move(u));
  }
  return batch;
}

Result<UpdateBatch> ReadBatchJson(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  auto r = ParseBatchJson(text.value());
  if (!r.ok()) return InvalidArgument(path + ": " + r.status().message());
  return r;
}

}  // namespace gridtree::cli

// The map page's files (rpc/web), compiled into the binary so that
// `gridtree serve` needs nothing beside it and no other host (docs/map.md).
#pragma once

#include <optional>
#include <string_view>

namespace gridtree::rpc::internal {

struct WebAsset {
  std::string_view content_type;
  std::string_view bytes;
};

// The file served at path ("/" is the page), or none.
std::optional<WebAsset> FindWebAsset(std::string_view path);

}  // namespace gridtree::rpc::internal

// gzip (RFC 1952) of an HTTP body, with zlib, for clients that accept it.
#pragma once

#include <string>
#include <string_view>

#include "gridtree/engine/status.h"

namespace gridtree::rpc::internal {

// The gzip member of `bytes`, compressed at zlib level `level` (1 fastest
// ... 9 smallest).
Result<std::string> Gzip(std::string_view bytes, int level);

// Whether an Accept-Encoding value accepts gzip (RFC 9110 12.5.3): "gzip"
// or "*" in the list without q=0.
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace gridtree::rpc::internal

// The files of rpc/web, included byte for byte with the assembler's
// .incbin (GRIDTREE_WEB_DIR is that folder; CMake rebuilds this file when
// one of them changes).
#include "web_assets.h"

#define GRIDTREE_STR2(x) #x
#define GRIDTREE_STR(x) GRIDTREE_STR2(x)
#define GRIDTREE_ASSET(name, file)                                                  \
  __asm__(".section .rodata\n"                                                      \
          ".balign 16\n"                                                            \
          ".global gridtree_asset_" #name "_begin\n"                                \
          "gridtree_asset_" #name "_begin:\n"                                       \
          ".incbin \"" GRIDTREE_STR(GRIDTREE_WEB_DIR) "/" file "\"\n"               \
          ".global gridtree_asset_" #name "_end\n"                                  \
          "gridtree_asset_" #name "_end:\n"                                         \
          ".previous\n");                                                           \
  extern "C" const char gridtree_asset_##name##_begin[], gridtree_asset_##name##_end[];

GRIDTREE_ASSET(index_html, "index.html")
GRIDTREE_ASSET(app_js, "app.js")
GRIDTREE_ASSET(style_css, "style.css")
GRIDTREE_ASSET(maplibre_js, "vendor/maplibre-gl/maplibre-gl.mjs")
GRIDTREE_ASSET(maplibre_worker_js, "vendor/maplibre-gl/maplibre-gl-worker.mjs")
GRIDTREE_ASSET(maplibre_css, "vendor/maplibre-gl/maplibre-gl.css")
GRIDTREE_ASSET(maplibre_license, "vendor/maplibre-gl/LICENSE.txt")

namespace gridtree::rpc::internal {
namespace {

std::string_view Bytes(const char* begin, const char* end) { return std::string_view(begin, static_cast<size_t>(end - begin)); }

}  // namespace

std::optional<WebAsset> FindWebAsset(std::string_view path) {
#define GRIDTREE_SERVE(url, name, type) \
  if (path == url) return WebAsset{type, Bytes(gridtree_asset_##name##_begin, gridtree_asset_##name##_end)};
  GRIDTREE_SERVE("/", index_html, "text/html; charset=utf-8")
  GRIDTREE_SERVE("/index.html", index_html, "text/html; charset=utf-8")
  GRIDTREE_SERVE("/app.js", app_js, "text/javascript; charset=utf-8")
  GRIDTREE_SERVE("/style.css", style_css, "text/css; charset=utf-8")
  GRIDTREE_SERVE("/vendor/maplibre-gl/maplibre-gl.mjs", maplibre_js, "text/javascript; charset=utf-8")
  GRIDTREE_SERVE("/vendor/maplibre-gl/maplibre-gl-worker.mjs", maplibre_worker_js, "text/javascript; charset=utf-8")
  GRIDTREE_SERVE("/vendor/maplibre-gl/maplibre-gl.css", maplibre_css, "text/css; charset=utf-8")
  GRIDTREE_SERVE("/vendor/maplibre-gl/LICENSE.txt", maplibre_license, "text/plain; charset=utf-8")
#undef GRIDTREE_SERVE
  return std::nullopt;
}

}  // namespace gridtree::rpc::internal

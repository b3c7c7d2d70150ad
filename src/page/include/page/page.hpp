// The plugin's settings page: the HTML, CSS and JavaScript modules in
// src/page/web/, built into the library (cmake/embed_files.cmake) and served
// by one route under kPath, with ETag revalidation and the page headers of
// common/web.hpp. The page talks to the plugin's /api/plex/ routes only;
// what it shows and why is in docs/settings-page.md.
#pragma once
#include <string_view>

#include "route/route.hpp"

namespace pb::page {

inline constexpr std::string_view kTitle = "Plex";
inline constexpr std::string_view kPath = "/plugins/plexbridge/";  // the entry: index.html

// Registers GET kPath{file*}. The host authenticates the browser first.
void add_routes(route::Registry& routes);

}  // namespace pb::page

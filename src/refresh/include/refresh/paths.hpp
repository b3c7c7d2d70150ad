// Paths as the host sees them and as Plex sees them.
//
// In Docker the host sees /movies/… where Plex sees /data/movies/…; a
// Windows server says D:\Movies\… and compares without case. A path from
// the host goes through the user's mappings (longest host prefix first, at a
// folder boundary) and takes the server's separators before it is sent to
// Plex or compared with a path Plex gave.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "settings/settings.hpp"

namespace pb::refresh {

enum class PathStyle : uint8_t { posix = 1, windows };

// The server's style: its platform when plex.tv named it, else what its
// library folders look like (a drive letter, backslashes).
PathStyle style_of(std::string_view platform, const std::vector<std::string>& plex_locations);

// The host's path as Plex sees it.
std::string to_plex(std::string_view host_path, const settings::PathMappings& mappings, PathStyle style);

// A key that compares Plex paths as the server does (Windows: without case,
// either separator).
std::string compare_key(std::string_view plex_path, PathStyle style);

// The folder holding a Plex path, in the server's separators; "" for none.
std::string folder_of(std::string_view plex_path, PathStyle style);

}  // namespace pb::refresh

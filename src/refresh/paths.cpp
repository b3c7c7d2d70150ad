#include "refresh/paths.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace pb::refresh {

static bool is_sep(char c) { return c == '/' || c == '\\'; }

PathStyle style_of(std::string_view platform, const std::vector<std::string>& plex_locations) {
    if (common::text::iequals(platform, "Windows")) return PathStyle::windows;
    if (!platform.empty()) return PathStyle::posix;
    for (const auto& loc : plex_locations)
        if ((loc.size() >= 2 && loc[1] == ':') || loc.find('\\') != std::string::npos) return PathStyle::windows;
    return PathStyle::posix;
}

std::string compare_key(std::string_view plex_path, PathStyle style) {
    std::string out(plex_path);
    if (style == PathStyle::windows) {
        std::replace(out.begin(), out.end(), '\\', '/');
        out = common::text::to_lower(out);
    }
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

// Whether `path` is `prefix` or inside it, compared as keys.
static bool under(std::string_view path_key, std::string_view prefix_key) {
    if (path_key.size() < prefix_key.size() || path_key.compare(0, prefix_key.size(), prefix_key) != 0) return false;
    return path_key.size() == prefix_key.size() || prefix_key.empty() || prefix_key.back() == '/' ||
           path_key[prefix_key.size()] == '/';
}

std::string to_plex(std::string_view host_path, const settings::PathMappings& mappings, PathStyle style) {
    // The host is ours, and POSIX: its paths compare exactly.
    const settings::PathMapping* best = nullptr;
    std::string host_key = compare_key(host_path, PathStyle::posix);
    for (const auto& m : mappings) {
        std::string k = compare_key(m.host, PathStyle::posix);
        if (under(host_key, k) && (best == nullptr || k.size() > compare_key(best->host, PathStyle::posix).size()))
            best = &m;
    }
    std::string out(host_path);
    if (best != nullptr) {
        std::string prefix = compare_key(best->host, PathStyle::posix);
        std::string rest = host_key.substr(prefix.size());
        std::string plex = best->plex;
        while (!plex.empty() && is_sep(plex.back()) && plex.size() > 1) plex.pop_back();
        out = plex + rest;
    }
    if (style == PathStyle::windows) std::replace(out.begin(), out.end(), '/', '\\');
    return out;
}

std::string folder_of(std::string_view plex_path, PathStyle style) {
    auto pos = style == PathStyle::windows ? plex_path.find_last_of("/\\") : plex_path.rfind('/');
    if (pos == std::string_view::npos || pos == 0) return {};
    return std::string(plex_path.substr(0, pos));
}

}  // namespace pb::refresh

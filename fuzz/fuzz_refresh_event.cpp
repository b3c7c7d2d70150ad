// The host's events (refresh/refresh.hpp: parse_event, the payload of
// "subtitle.downloaded" and the others, also what the persisted refresh
// queue holds per job), and the paths they carry as the refresher maps them
// to Plex's view (refresh/paths.hpp).
//
// Input: the event's payload JSON.
#include <limits>

#include "common/json.hpp"
#include "fuzz_common.hpp"
#include "refresh/paths.hpp"
#include "refresh/refresh.hpp"
#include "refresh/subtitles.hpp"

using namespace pb;
using refresh::PathStyle;

static void check_path(std::string_view path) {
    static const settings::PathMappings kMappings = {
        {"/movies", "/data/movies"}, {"/movies/4k", "D:\\4K"}, {"/tv/", "/data/tv/"}, {"/", "/root"}};
    for (auto style : {PathStyle::posix, PathStyle::windows}) {
        std::string key = refresh::compare_key(path, style);
        PB_FUZZ_CHECK(refresh::compare_key(key, style) == key);
        std::string folder = refresh::folder_of(path, style);
        PB_FUZZ_CHECK(folder.size() < path.size() || folder.empty());
        PB_FUZZ_CHECK(path.substr(0, folder.size()) == folder);
        std::string plex = refresh::to_plex(path, kMappings, style);
        if (style == PathStyle::windows) PB_FUZZ_CHECK(plex.find('/') == std::string::npos);
        (void)refresh::folder_of(plex, style);
    }
    // Without mappings a POSIX server sees the host's path as it is.
    PB_FUZZ_CHECK(refresh::to_plex(path, {}, PathStyle::posix) == path);
    // A path under a mapped folder lands under its Plex folder.
    if (path.rfind("/movies/", 0) == 0 && path.rfind("/movies/4k", 0) != 0) {
        std::string plex = refresh::to_plex(path, kMappings, PathStyle::posix);
        PB_FUZZ_CHECK(plex == "/data/movies" || plex.rfind("/data/movies/", 0) == 0);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::text(data, size);
    auto e = refresh::parse_event(in);
    if (!e) {
        PB_FUZZ_CHECK(e.error().code == common::Errc::bad_request && !e.error().message.empty());
        if (size <= 1024) check_path(in);
        return 0;
    }
    const refresh::MediaRef& m = e->media;
    bool ids = m.episode ? ((m.tvdb > 0 || !m.imdb.empty() || m.tmdb > 0) && m.season >= 0 && m.number >= 0)
                         : (!m.imdb.empty() || m.tmdb > 0);
    PB_FUZZ_CHECK(ids || !m.path.empty());
    // A season or episode number is the number sent, or absent (-1) when it
    // is none: never another number.
    if (m.episode) {
        auto v = common::json::parse_lenient(in, 16);
        for (auto [name, got] : {std::pair{"season", m.season}, std::pair{"episode", m.number}}) {
            auto sent = common::json::get_int(*v, name);
            if (!sent) continue;
            bool fits = *sent >= std::numeric_limits<int32_t>::min() && *sent <= std::numeric_limits<int32_t>::max();
            PB_FUZZ_CHECK(fits ? got == *sent : got == -1);
        }
    }
    PB_FUZZ_CHECK(!m.key().empty());
    check_path(m.path);
    if (!e->subtitle.empty()) {
        check_path(e->subtitle.path);
        (void)refresh::describe(e->subtitle);
    }
    return 0;
}

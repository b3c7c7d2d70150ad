#include <boost/json.hpp>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "host.hpp"

namespace pb::host {

std::optional<Catalog> Catalog::load(const std::string& path, std::string* error) {
    auto text = common::fs::read_file(path);
    if (!text) {
        if (error)
            *error = "cannot read the catalog " + path +
                     (text.error().code == common::Errc::not_found ? ": no such file" : ": " + text.error().message);
        return std::nullopt;
    }
    auto v = common::json::parse_lenient(*text);
    if (!v || !v->is_object()) {
        if (error) *error = "the catalog " + path + " is not a JSON object (" + (v ? "" : v.error().message) + ")";
        return std::nullopt;
    }
    Catalog c;
    if (auto* m = common::json::find(*v, "movies"); m && m->is_array())
        for (const auto& x : m->get_array())
            c.movies.push_back({common::json::get_string_or(x, "title", ""), common::json::get_string_or(x, "imdb", ""),
                                common::json::get_int_or(x, "tmdb", -1)});
    if (auto* s = common::json::find(*v, "series"); s && s->is_array())
        for (const auto& x : s->get_array()) {
            Series se{common::json::get_string_or(x, "title", ""),
                      common::json::get_string_or(x, "imdb", ""),
                      common::json::get_int_or(x, "tvdb", -1),
                      common::json::get_int_or(x, "tmdb", -1),
                      {}};
            if (auto* e = common::json::find(x, "episodes"); e && e->is_array())
                for (const auto& y : e->get_array())
                    se.episodes.push_back({static_cast<int32_t>(common::json::get_int_or(y, "season", -1)),
                                           static_cast<int32_t>(common::json::get_int_or(y, "episode", -1)),
                                           common::json::get_int_or(y, "tvdb", -1),
                                           common::json::get_string_or(y, "imdb", "")});
            c.series.push_back(std::move(se));
        }
    return c;
}

static std::string str(pb_str s) { return std::string(s.data ? s.data : "", s.len); }

bool Catalog::knows(const pb_search_request& r) const {
    std::string imdb = str(r.imdb_id);
    if (r.media_type != PB_MEDIA_MOVIE && r.media_type != PB_MEDIA_EPISODE) return false;  // from a later minor
    if (r.media_type == PB_MEDIA_MOVIE) {
        for (const auto& m : movies)
            if ((!imdb.empty() && m.imdb == imdb) || (r.tmdb_id > 0 && m.tmdb == r.tmdb_id)) return true;
        return false;
    }
    std::string ep_imdb = str(r.episode_imdb_id);
    for (const auto& s : series) {
        bool series_match = (!imdb.empty() && s.imdb == imdb) || (r.tvdb_id > 0 && s.tvdb == r.tvdb_id) ||
                            (r.tmdb_id > 0 && s.tmdb == r.tmdb_id);
        for (const auto& e : s.episodes) {
            if (r.episode_tvdb_id > 0 && e.tvdb == r.episode_tvdb_id) return true;
            if (!ep_imdb.empty() && e.imdb == ep_imdb) return true;
            if (series_match && e.season == r.season && e.episode == r.episode) return true;
        }
    }
    return false;
}

}  // namespace pb::host

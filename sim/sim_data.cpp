#include "sim_data.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>

namespace pb::sim {

Element& Element::add(const std::string& json_key, Element child) {
    for (auto& [k, v] : groups)
        if (k == json_key) {
            v.push_back(std::move(child));
            return v.back();
        }
    groups.emplace_back(json_key, std::vector<Element>{std::move(child)});
    return groups.back().second.back();
}

static void xml_escape(std::string& out, const std::string& s) {
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out.push_back(c);
        }
    }
}

static void render_xml(const Element& e, std::string& out) {
    out += "<" + e.xml_name;
    for (const auto& [k, v] : e.attrs) {
        out += " " + k + "=\"";
        if (auto s = std::get_if<std::string>(&v))
            xml_escape(out, *s);
        else if (auto i = std::get_if<int64_t>(&v))
            out += std::to_string(*i);
        else
            out += std::get<bool>(v) ? "1" : "0";
        out += "\"";
    }
    if (e.groups.empty()) {
        out += "/>\n";
        return;
    }
    out += ">\n";
    for (const auto& [k, kids] : e.groups)
        for (const auto& c : kids) render_xml(c, out);
    out += "</" + e.xml_name + ">\n";
}

std::string Element::xml() const {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    render_xml(*this, out);
    return out;
}

static boost::json::object to_json(const Element& e) {
    boost::json::object o;
    for (const auto& [k, v] : e.attrs) {
        if (auto s = std::get_if<std::string>(&v))
            o[k] = *s;
        else if (auto i = std::get_if<int64_t>(&v))
            o[k] = *i;
        else
            o[k] = std::get<bool>(v);
    }
    for (const auto& [k, kids] : e.groups) {
        boost::json::array a;
        for (const auto& c : kids) a.push_back(to_json(c));
        o[k] = std::move(a);
    }
    return o;
}

std::string Element::json() const {
    // PMS wraps everything in {"MediaContainer": {...}}; plex.tv v2 objects
    // are bare. The caller picks by naming the root "MediaContainer".
    if (xml_name == "MediaContainer") {
        boost::json::object wrap;
        wrap["MediaContainer"] = to_json(*this);
        return boost::json::serialize(wrap);
    }
    return boost::json::serialize(to_json(*this));
}

void add_sample_library(SimServer& s) {
    s.sections = {
        {1, "Movies", "movie", "tv.plex.agents.movie", "Plex Movie", "/data/movies", "a1b2c3d4-0001"},
        {2, "TV Shows", "show", "tv.plex.agents.series", "Plex TV Series", "/data/tv", "a1b2c3d4-0002"},
        {3, "Music", "artist", "tv.plex.agents.music", "Plex Music", "/data/music", "a1b2c3d4-0003"},
    };
    auto put = [&](SimItem it) { s.items[it.rating_key] = std::move(it); };
    // New-agent movie (ids as in metadata_1036.json).
    put({"1036",
         "movie",
         "Reign of Fire",
         "plex://movie/5d776830f59e58002189813a",
         {"imdb://tt0253556", "tmdb://6278", "tvdb://1709"},
         1,
         "",
         "",
         -1,
         2002,
         1368992739,
         false,
         "/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4"});
    // Legacy imdb-agent movie (as in metadata_108.json): no Guid array.
    put({"108",
         "movie",
         "Interstate 60",
         "com.plexapp.agents.imdb://tt0165832?lang=en",
         {},
         1,
         "",
         "",
         -1,
         2002,
         1579514268,
         false,
         "/data/movies/Interstate 60 (2002)/Interstate 60.mkv"});
    // New-agent show with a season and two episodes.
    put({"2000",
         "show",
         "The Expanse",
         "plex://show/5d9c086c46115600200aa2fe",
         {"imdb://tt3230854", "tmdb://63639", "tvdb://280619"},
         2,
         "",
         "",
         -1,
         2015,
         1600000000,
         false,
         ""});
    put({"2001",
         "season",
         "Season 1",
         "plex://season/602e67e7b0843d002dd1e81d",
         {},
         2,
         "2000",
         "",
         1,
         2015,
         1600000000,
         false,
         ""});
    put({"2002",
         "episode",
         "Dulcinea",
         "plex://episode/5d9c1275e264b7001fc5d8a4",
         {"imdb://tt3696416", "tmdb://1078497", "tvdb://5246491"},
         2,
         "2001",
         "2000",
         1,
         2015,
         1600000000,
         false,
         "/data/tv/The Expanse/Season 01/The Expanse - S01E01.mkv"});
    put({"2003",
         "episode",
         "The Big Empty",
         "plex://episode/5d9c1275e264b7001fc5d8a5",
         {"imdb://tt4591558", "tmdb://1078498", "tvdb://5246492"},
         2,
         "2001",
         "2000",
         2,
         2015,
         1600000000,
         false,
         "/data/tv/The Expanse/Season 01/The Expanse - S01E02.mkv"});
    // Legacy thetvdb-agent show (as in tv_library.json / tv_episodes.json).
    put({"88",
         "show",
         "Gotham",
         "com.plexapp.agents.thetvdb://274431?lang=en",
         {},
         2,
         "",
         "",
         -1,
         2014,
         1500000000,
         false,
         ""});
    put({"89",
         "season",
         "Season 1",
         "com.plexapp.agents.thetvdb://274431/1?lang=en",
         {},
         2,
         "88",
         "",
         1,
         2014,
         1500000000,
         false,
         ""});
    put({"90",
         "episode",
         "Pilot",
         "com.plexapp.agents.thetvdb://274431/1/1?lang=en",
         {},
         2,
         "89",
         "88",
         1,
         2014,
         1500000000,
         false,
         "/data/tv/Gotham/Season 01/Gotham - S01E01.mkv"});
}

int64_t add_generated_library(SimServer& s, int movies, int shows, int episodes_per_show) {
    int64_t first = 100000;
    for (const auto& [k, it] : s.items) first = std::max<int64_t>(first, std::atoll(k.c_str()) + 1);
    int64_t section = 0;
    for (const auto& sec : s.sections) section = std::max(section, sec.id);
    const int64_t movie_section = section + 1, show_section = section + 2;
    s.sections.push_back({movie_section, "Generated Movies", "movie", "tv.plex.agents.movie", "Plex Movie",
                          "/data/generated-movies", "a1b2c3d4-g" + std::to_string(movie_section)});
    s.sections.push_back({show_section, "Generated Shows", "show", "tv.plex.agents.series", "Plex TV Series",
                          "/data/generated-tv", "a1b2c3d4-g" + std::to_string(show_section)});
    int64_t next = first;
    auto put = [&](SimItem it) {
        it.rating_key = std::to_string(next++);
        std::string key = it.rating_key;
        s.items[key] = std::move(it);
        return key;
    };
    auto n = [](int64_t v) { return std::to_string(v); };
    for (int i = 0; i < movies; ++i) {
        SimItem m;
        m.type = "movie";
        m.title = "Generated Film " + n(i);
        m.guid = "plex://movie/6a" + n(1000000 + i);
        m.guids = {"imdb://tt" + n(2000000 + i), "tmdb://" + n(700000 + i), "tvdb://" + n(600000 + i)};
        m.section_id = movie_section;
        m.year = 1990 + i % 35;
        m.added_at = 1600000000 + i;
        m.file = "/data/generated-movies/" + m.title + " (" + n(m.year) + ")/" + m.title + ".mkv";
        put(std::move(m));
    }
    for (int j = 0; j < shows; ++j) {
        SimItem show;
        show.type = "show";
        show.title = "Generated Show " + n(j);
        show.guid = "plex://show/6b" + n(1000000 + j);
        show.guids = {"imdb://tt" + n(3000000 + j), "tmdb://" + n(800000 + j), "tvdb://" + n(900000 + j)};
        show.section_id = show_section;
        show.year = 2000 + j % 25;
        show.added_at = 1600000000 + j;
        std::string show_title = show.title;
        std::string show_key = put(std::move(show));
        std::string season_key;
        for (int e = 0; e < episodes_per_show; ++e) {
            int64_t season = e / 10 + 1, number = e % 10 + 1;
            if (number == 1) {
                SimItem se;
                se.type = "season";
                se.title = "Season " + n(season);
                se.guid = "plex://season/6c" + n(1000000 + j) + "-" + n(season);
                se.section_id = show_section;
                se.parent_key = show_key;
                se.index = season;
                se.added_at = 1600000000 + j;
                season_key = put(std::move(se));
            }
            SimItem ep;
            ep.type = "episode";
            ep.title = "Episode " + n(number);
            ep.guid = "plex://episode/6d" + n(1000000 + j) + "-" + n(e);
            int64_t id = int64_t{j} * 1000 + e;
            ep.guids = {"imdb://tt" + n(40000000 + id), "tmdb://" + n(5000000 + id), "tvdb://" + n(9000000 + id)};
            ep.section_id = show_section;
            ep.parent_key = season_key;
            ep.grandparent_key = show_key;
            ep.index = number;
            ep.added_at = 1600000000 + j;
            char se_ep[32];
            std::snprintf(se_ep, sizeof se_ep, "S%02lldE%02lld", static_cast<long long>(season),
                          static_cast<long long>(number));
            ep.file =
                "/data/generated-tv/" + show_title + "/Season " + n(season) + "/" + show_title + " - " + se_ep + ".mkv";
            put(std::move(ep));
        }
    }
    return first;
}

}  // namespace pb::sim

// The simulator's world: one plex.tv account, its servers and their
// libraries, and the renderer that writes them in Plex's two wire formats.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace pb::sim {

// A response element that renders as XML (<Video a="1">) or as Plex's JSON
// ({"Metadata":[{"a":1}]}) from one description.
struct Element {
    using Value = std::variant<std::string, int64_t, bool>;
    std::string xml_name;
    std::vector<std::pair<std::string, Value>> attrs;
    std::vector<std::pair<std::string, std::vector<Element>>> groups;  // json key -> children

    Element& set(std::string k, Value v) {
        attrs.emplace_back(std::move(k), std::move(v));
        return *this;
    }
    Element& add(const std::string& json_key, Element child);
    std::string xml() const;
    std::string json() const;
};

// A subtitle file next to a video, and whether Plex lists it yet. Plex
// lists a new file only after a refresh (or a scan of its folder) that comes
// after the file exists; on a busy server sometimes only on the second.
struct SimSubtitle {
    std::string file;
    std::string language_code = "eng";  // ISO 639-2/B, as Plex writes it
    std::string language_tag = "en";
    std::string codec = "srt";
    bool forced = false;
    bool hearing_impaired = false;
    int refreshes_needed = 1;  // refreshes after it was written before Plex lists it
    bool scan_only = false;    // only a scan of its folder shows it (Plex missed the change)
    bool on_disk = true;       // false: deleted, listed until the next refresh
    bool listed = false;
    // Plex answers a refresh at once and reads the folder afterwards: a
    // subtitle the refresh found is listed from this moment.
    std::chrono::steady_clock::time_point listed_from{};
    bool visible() const { return listed && std::chrono::steady_clock::now() >= listed_from; }
    int64_t id = 0;
};

struct SimItem {
    std::string rating_key;
    std::string type;  // movie, show, season, episode
    std::string title;
    std::string guid;                // primary guid
    std::vector<std::string> guids;  // Guid array (new agent only)
    int64_t section_id = 0;
    std::string parent_key;  // season for episodes, show for seasons
    std::string grandparent_key;
    int64_t index = -1;
    int64_t year = 0;
    int64_t added_at = 0;
    bool added_at_locked = false;
    std::string file;                         // movies and episodes
    std::vector<SimSubtitle> subtitles = {};  // a default: older aggregate initialisers need not name it
};

struct SimSection {
    int64_t id = 0;
    std::string title;
    std::string type;  // movie, show, artist
    std::string agent;
    std::string scanner;
    std::string location;
    std::string uuid;
};

struct SimServer {
    std::string name;
    std::string machine_id;
    std::string version = "1.40.2.8395-c67dce28e";
    std::string platform = "Linux";  // "Windows": paths like D:\Movies\…, compared without case
    bool owned = true;
    std::string access_token;      // token PMS accepts; for owned servers the account token
    std::string source_title;      // owner name for shared servers
    std::string plex_direct_hash;  // for https://a-b-c-d.<hash>.plex.direct URIs
    std::vector<SimSection> sections;
    std::map<std::string, SimItem> items;  // by ratingKey
};

// A small library used by the demo and the integration tests: a new-agent
// movie, a legacy-agent movie, a new-agent show with episodes and a
// legacy-agent show, with ids that match demo/catalog.json.
void add_sample_library(SimServer& server);

// A generated library beside what the server has, for benchmarks and load:
// a movie section with `movies` new-agent movies (imdb tt2000000+i, tmdb
// 700000+i, tvdb 600000+i) and a show section with `shows` shows (tvdb
// 900000+j, imdb tt3000000+j, tmdb 800000+j) of `episodes_per_show` episodes
// each, ten to a season. Every movie and episode has a file. Rating keys are
// numbers from 100000 up; returns the first.
int64_t add_generated_library(SimServer& server, int movies, int shows, int episodes_per_show);

}  // namespace pb::sim

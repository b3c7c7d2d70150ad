// Where an item lives in Plex, by its external ids.
//
// Real Plex Media Server matches `…/all?guid=` against an item's primary
// guid only (`plex://movie/…`, or the legacy agent guid), never against the
// imdb/tmdb/tvdb ids of its Guid array. So the index is built from the
// selected sections listed with `includeGuids=1` (paged), keyed by
// "imdb:tt…", "tmdb:N", "tvdb:N" (both agents' forms) and by file path, and
// kept current incrementally (`addedAt>>=` the last build). Episodes are
// found through their show: the show's ids, then /allLeaves by season and
// episode number (cached per show).
//
// Io thread only.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "plexapi/models.hpp"
#include "session/pms_client.hpp"

namespace pb::refresh {

struct ItemRef {
    std::string rating_key;
    std::string section_id;
};

// The media an event is about (see docs/host-integration.md for the JSON).
struct MediaRef {
    bool episode = false;
    std::string imdb;  // movie, or the series
    int64_t tmdb = -1;
    int64_t tvdb = -1;  // series for episodes
    int64_t episode_tvdb = -1;
    std::string episode_imdb;
    int32_t season = -1;
    int32_t number = -1;
    std::string path;
    std::string key() const;  // identifies the item for coalescing
};

class LibraryIndex {
public:
    struct Section {
        std::string id, type;
        std::vector<std::string> locations;
    };

    // Keys this item answers to (both agents' guid forms normalised).
    static std::vector<std::string> keys_of(const plexapi::MediaItem& item);
    void add(const plexapi::MediaItem& item, const std::string& section_id);
    void forget(const std::string& rating_key);
    std::optional<ItemRef> find_movie(const MediaRef& m) const;
    std::optional<ItemRef> find_show(const MediaRef& m) const;
    std::size_t size() const { return by_key_.size(); }
    std::size_t items() const { return items_; }
    void clear();

    // Episode lookup cache: show ratingKey -> (season*100000+episode) -> ref.
    std::unordered_map<std::string, std::unordered_map<int64_t, ItemRef>> episodes;
    std::vector<Section> sections;
    int64_t built_at = 0;  // unix seconds of the last listing
    bool built = false;
    // The server compares paths as Windows does (no case, either separator).
    // Set before adding items.
    bool windows_paths = false;

private:
    std::unordered_map<std::string, ItemRef> by_key_;
    std::unordered_map<std::string, ItemRef> by_path_;
    std::size_t items_ = 0;
};

// How far a build got.
struct BuildProgress {
    std::size_t sections_done = 0;
    std::size_t sections_total = 0;
    int64_t items = 0;
};

// Lists the selected sections (paged, includeGuids=1) into `index`, one page
// in memory at a time. `since` > 0 lists only items added since then. Calls
// done(error, the server's status when it refused) once; `on_page` after each
// page, and stops the build (done is not called) when it returns false.
void build_index(std::shared_ptr<session::PmsClient> pms, std::shared_ptr<LibraryIndex> index,
                 std::vector<std::string> movie_sections, std::vector<std::string> show_sections, int64_t since,
                 std::function<void(std::string error, int status)> done, int64_t page_size = 500,
                 std::function<bool(const BuildProgress&)> on_page = {});

}  // namespace pb::refresh

// Where an item lives in Plex, by its external ids.
//
// Real Plex Media Server matches `…/all?guid=` against an item's primary
// guid only (`plex://movie/…`, or the legacy agent guid), never against the
// imdb/tmdb/tvdb ids of its Guid array. So the index is built from the
// selected sections listed with `includeGuids=1` (paged), keyed by
// "imdb:tt…", "tmdb:N", "tvdb:N" (both agents' forms) and by file path, and
// kept current incrementally (`addedAt>>=` the last build). Episodes are
// found through their show: the show's ids, then /allLeaves by season and
// episode number (cached per show, `add_leaves`).
//
// Compact: a large library (100,000 items) fits in a few MiB. Items are
// small records, keys 64-bit integers in sorted vectors (docs/performance.md).
// A file path is known by a 64-bit hash of its compared form: two different
// paths of n share one with odds of about n²/2^65 (3·10^-10 for 100,000).
//
// When several items answer to one key the latest added wins; a forgotten
// item is never found (an older item with the same key may be again).
//
// Io thread only: even the const lookups sort what was added since the last.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
    // The item (a movie, a show, an episode) is no longer found; a show's
    // episodes are listed again when next asked for.
    void forget(const std::string& rating_key);
    std::optional<ItemRef> find_movie(const MediaRef& m) const;
    std::optional<ItemRef> find_show(const MediaRef& m) const;

    // Episodes, through the show `m` names (its ids) and m.season, m.number.
    // True when that show's /allLeaves answer is recorded.
    bool leaves_listed(const MediaRef& m) const;
    // The episode, when recorded; nullopt also for a season or number out of
    // range (negative).
    std::optional<ItemRef> find_episode(const MediaRef& m) const;
    // Records the /allLeaves answer of the show `m` names (nothing when it
    // is no longer indexed). Episodes without a season and number, or with
    // one beyond 32 bits, are not recorded: they are never found, and never
    // mistaken for another.
    void add_leaves(const MediaRef& m, const std::vector<plexapi::MediaItem>& episodes);

    std::size_t size() const { return ids_.entries.size(); }  // id keys held
    std::size_t items() const { return records_.size(); }     // items added from listings since clear()
    void clear();
    // Sorts what was added and gives back spare capacity: the end of a build.
    void compact();

    std::vector<Section> sections;
    int64_t built_at = 0;  // unix seconds of the last listing
    bool built = false;
    // The server compares paths as Windows does (no case, either separator).
    // Set before adding items.
    bool windows_paths = false;

private:
    static constexpr uint32_t kNone = UINT32_MAX;
    // An item: 8 bytes. `key`: the rating key when it is a canonical decimal
    // below 2^31, else kOddKey | its place in odd_keys_.
    struct Record {
        uint32_t key = 0;
        uint16_t section = 0;  // place in section_ids_
        uint8_t type = 0;      // Type
        uint8_t flags = 0;     // kAlive, kLeavesListed
    };
    // A key and the item it names: 12 bytes (4-byte aligned, so no padding).
    struct Entry {
        uint32_t hi = 0, lo = 0, item = 0;
        uint64_t key() const { return (uint64_t{hi} << 32) | lo; }
    };
    // A recorded episode: the show's record, season, number, and its rating
    // key as Record::key holds one (its section is the show's). 16 bytes.
    struct Episode {
        uint32_t show = 0, season = 0, number = 0, key = 0;
    };
    // Entries appended unsorted after a sorted prefix; settle() sorts the
    // tail (stably: equal keys keep the order they were added in) and merges.
    template <class E>
    struct Table {
        std::vector<E> entries;
        std::size_t sorted = 0;
        void settle();
        void reset() {
            entries = {};
            sorted = 0;
        }
    };

    uint32_t key_of(const std::string& rating_key);  // keeps an odd key's text
    static std::optional<uint32_t> numeric_key(std::string_view rating_key);
    std::optional<uint32_t> section_of(const std::string& section_id);
    std::string text_of(uint32_t key) const;  // a rating key as Plex wrote it
    ItemRef ref_of(uint32_t item) const;
    bool alive(uint32_t item) const;
    // The latest living item under `key`, or kNone.
    uint32_t find(Table<Entry>& t, uint64_t key) const;
    uint32_t find_show_item(const MediaRef& m) const;
    uint32_t find_movie_item(const MediaRef& m) const;
    uint64_t path_key(const std::string& path) const;

    std::vector<Record> records_;
    std::vector<std::string> odd_keys_;
    std::vector<std::string> section_ids_;
    mutable Table<Entry> ids_;    // (kind, type, value) -> item
    mutable Table<Entry> paths_;  // hash of the compared path -> item
    mutable Table<Episode> episodes_;
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

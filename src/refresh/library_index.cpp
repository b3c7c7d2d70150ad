#include "refresh/library_index.hpp"

#include <algorithm>
#include <ctime>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "common/text.hpp"
#include "refresh/paths.hpp"

namespace pb::refresh {

namespace {

// Record::type and ::flags.
enum Type : uint8_t { kMovie = 1, kShow = 2, kOther = 3 };
constexpr uint8_t kAlive = 1, kLeavesListed = 2;
constexpr uint32_t kOddKey = 0x80000000u;

// An id key: kind in bits 63-61, Type in 60-59, the value in 58-0.
enum Kind : uint64_t { kImdb = 1, kTmdb = 2, kTvdb = 3, kOddId = 4 };
constexpr uint64_t kValueBits = 59;
constexpr uint64_t kValueMask = (uint64_t{1} << kValueBits) - 1;

uint64_t make_key(Kind kind, uint8_t type, uint64_t value) {
    return (uint64_t{kind} << 61) | (uint64_t{type} << kValueBits) | (value & kValueMask);
}

uint64_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }

// An id that is not a number of the usual shape: its text, hashed, in a kind
// of its own (two such ids share a key with odds of n²/2^60).
uint64_t odd_id(uint8_t type, std::string_view what, std::string_view value) {
    std::string text;
    text.reserve(what.size() + 1 + value.size());
    text.append(what).append(":").append(value);
    return make_key(kOddId, type, hash_of(text));
}

// "tt" and 1 to 16 digits: the number and how many digits it was written
// with (tt0253556 and tt253556 stay two ids, as two strings were).
std::optional<uint64_t> imdb_key(uint8_t type, std::string_view imdb) {
    if (imdb.empty()) return std::nullopt;
    if (imdb.size() >= 3 && imdb.size() <= 18 && imdb.substr(0, 2) == "tt") {
        uint64_t n = 0;
        bool digits = true;
        for (char c : imdb.substr(2)) {
            if (c < '0' || c > '9') {
                digits = false;
                break;
            }
            n = n * 10 + static_cast<uint64_t>(c - '0');
        }
        if (digits) return make_key(kImdb, type, (uint64_t{imdb.size() - 2} << 54) | n);
    }
    return odd_id(type, "imdb", imdb);
}

std::optional<uint64_t> number_key(Kind kind, uint8_t type, int64_t id) {
    if (id <= 0) return std::nullopt;
    if (static_cast<uint64_t>(id) <= kValueMask) return make_key(kind, type, static_cast<uint64_t>(id));
    return odd_id(type, kind == kTmdb ? "tmdb" : "tvdb", std::to_string(id));
}

// A season or episode number as the episode table holds it.
std::optional<uint32_t> slot_number(int64_t n) {
    if (n < 0 || n > static_cast<int64_t>(UINT32_MAX)) return std::nullopt;
    return static_cast<uint32_t>(n);
}

}  // namespace

std::string MediaRef::key() const {
    if (episode) {
        std::string show = tvdb > 0 ? "tvdb:" + std::to_string(tvdb) : !imdb.empty() ? "imdb:" + imdb : "path:" + path;
        if (episode_tvdb > 0) return "ep-tvdb:" + std::to_string(episode_tvdb);
        return show + "/" + std::to_string(season) + "/" + std::to_string(number);
    }
    if (!imdb.empty()) return "imdb:" + imdb;
    if (tmdb > 0) return "tmdb:" + std::to_string(tmdb);
    return "path:" + path;
}

std::vector<std::string> LibraryIndex::keys_of(const plexapi::MediaItem& item) {
    std::vector<std::string> keys;
    auto add = [&](const plexapi::ExternalIds& ids) {
        if (!ids.imdb.empty()) keys.push_back("imdb:" + ids.imdb);
        if (ids.tmdb > 0) keys.push_back("tmdb:" + std::to_string(ids.tmdb));
        if (ids.tvdb > 0) keys.push_back("tvdb:" + std::to_string(ids.tvdb));
    };
    for (const auto& g : item.guids) {
        plexapi::ExternalIds ids;
        if (plexapi::read_guid(g, ids)) add(ids);
    }
    plexapi::ExternalIds legacy;
    if (plexapi::read_guid(item.guid, legacy)) add(legacy);
    return keys;
}

template <class E>
void LibraryIndex::Table<E>::settle() {
    if (sorted == entries.size()) return;
    auto less = [](const E& a, const E& b) {
        if constexpr (std::is_same_v<E, Entry>)
            return a.key() < b.key();
        else
            return std::tie(a.show, a.season, a.number) < std::tie(b.show, b.season, b.number);
    };
    auto mid = entries.begin() + static_cast<std::ptrdiff_t>(sorted);
    std::stable_sort(mid, entries.end(), less);
    std::inplace_merge(entries.begin(), mid, entries.end(), less);  // stable: the prefix first
    sorted = entries.size();
}

uint32_t LibraryIndex::key_of(const std::string& rating_key) {
    if (auto n = numeric_key(rating_key)) return *n;
    // Odd keys are rare (real PMS rating keys are numbers): kept as text,
    // one copy per add, found by a scan when forgotten.
    odd_keys_.push_back(rating_key);
    return kOddKey | static_cast<uint32_t>(odd_keys_.size() - 1);
}

// A canonical decimal (no sign, no leading zero) below 2^31 is its own key,
// so that it reads back as the same text.
std::optional<uint32_t> LibraryIndex::numeric_key(std::string_view rating_key) {
    if (rating_key.empty() || rating_key.size() > 10 || (rating_key.size() > 1 && rating_key[0] == '0'))
        return std::nullopt;
    uint64_t n = 0;
    for (char c : rating_key) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n >= kOddKey) return std::nullopt;
    return static_cast<uint32_t>(n);
}

std::optional<uint32_t> LibraryIndex::section_of(const std::string& section_id) {
    for (std::size_t i = section_ids_.size(); i-- > 0;)
        if (section_ids_[i] == section_id) return static_cast<uint32_t>(i);
    if (section_ids_.size() > UINT16_MAX) return std::nullopt;  // 65,536 libraries: none of ours
    section_ids_.push_back(section_id);
    return static_cast<uint32_t>(section_ids_.size() - 1);
}

std::string LibraryIndex::text_of(uint32_t key) const {
    return key & kOddKey ? odd_keys_[key & ~kOddKey] : std::to_string(key);
}

ItemRef LibraryIndex::ref_of(uint32_t item) const {
    return ItemRef{text_of(records_[item].key), section_ids_[records_[item].section]};
}

bool LibraryIndex::alive(uint32_t item) const { return (records_[item].flags & kAlive) != 0; }

uint32_t LibraryIndex::find(Table<Entry>& t, uint64_t key) const {
    t.settle();
    auto lo = std::lower_bound(t.entries.begin(), t.entries.end(), key,
                               [](const Entry& e, uint64_t k) { return e.key() < k; });
    // The latest first: the end of the run of equal keys.
    auto hi = std::upper_bound(lo, t.entries.end(), key, [](uint64_t k, const Entry& e) { return k < e.key(); });
    for (auto it = hi; it != lo;)
        if (alive((--it)->item)) return it->item;
    return kNone;
}

uint64_t LibraryIndex::path_key(const std::string& path) const {
    return hash_of(compare_key(path, windows_paths ? PathStyle::windows : PathStyle::posix));
}

void LibraryIndex::add(const plexapi::MediaItem& item, const std::string& section_id) {
    auto section = section_of(section_id);
    if (!section) return;
    if (records_.size() >= kNone) return;  // four billion items: not a Plex library
    Record r;
    r.key = key_of(item.rating_key);
    r.section = static_cast<uint16_t>(*section);
    r.type = item.type == "movie" ? kMovie : item.type == "show" ? kShow : kOther;
    r.flags = kAlive;
    auto at = static_cast<uint32_t>(records_.size());
    records_.push_back(r);
    auto put = [&](Table<Entry>& t, uint64_t k) {
        t.entries.push_back(Entry{static_cast<uint32_t>(k >> 32), static_cast<uint32_t>(k), at});
    };
    // Only movies and shows are looked up by id; any item by path.
    if (r.type != kOther) {
        auto add_ids = [&](const plexapi::ExternalIds& ids) {
            if (auto k = imdb_key(r.type, ids.imdb)) put(ids_, *k);
            if (auto k = number_key(kTmdb, r.type, ids.tmdb)) put(ids_, *k);
            if (auto k = number_key(kTvdb, r.type, ids.tvdb)) put(ids_, *k);
        };
        for (const auto& g : item.guids) {
            plexapi::ExternalIds ids;
            if (plexapi::read_guid(g, ids)) add_ids(ids);
        }
        plexapi::ExternalIds legacy;
        if (plexapi::read_guid(item.guid, legacy)) add_ids(legacy);
    }
    for (const auto& f : item.files) put(paths_, path_key(f));
}

void LibraryIndex::forget(const std::string& rating_key) {
    auto n = numeric_key(rating_key);
    auto same = [&](uint32_t key) {
        return n ? key == *n : (key & kOddKey) && odd_keys_[key & ~kOddKey] == rating_key;
    };
    for (auto& r : records_)
        if (same(r.key)) r.flags = 0;  // neither alive nor listed
    // The episode, or a forgotten show's episodes: out of the table (order
    // kept, so what stays is still sorted).
    episodes_.settle();
    auto& eps = episodes_.entries;
    eps.erase(std::remove_if(eps.begin(), eps.end(),
                             [&](const Episode& e) { return same(e.key) || !(records_[e.show].flags & kAlive); }),
              eps.end());
    episodes_.sorted = eps.size();
}

void LibraryIndex::clear() {
    records_ = {};
    odd_keys_ = {};
    section_ids_ = {};
    ids_.reset();
    paths_.reset();
    episodes_.reset();
    built = false;
}

void LibraryIndex::compact() {
    ids_.settle();
    paths_.settle();
    episodes_.settle();
    records_.shrink_to_fit();
    odd_keys_.shrink_to_fit();
    ids_.entries.shrink_to_fit();
    paths_.entries.shrink_to_fit();
    episodes_.entries.shrink_to_fit();
}

uint32_t LibraryIndex::find_movie_item(const MediaRef& m) const {
    for (auto k : {imdb_key(kMovie, m.imdb), number_key(kTmdb, kMovie, m.tmdb)})
        if (k)
            if (auto item = find(ids_, *k); item != kNone) return item;
    if (!m.path.empty()) return find(paths_, path_key(m.path));
    return kNone;
}

uint32_t LibraryIndex::find_show_item(const MediaRef& m) const {
    for (auto k : {number_key(kTvdb, kShow, m.tvdb), imdb_key(kShow, m.imdb), number_key(kTmdb, kShow, m.tmdb)})
        if (k)
            if (auto item = find(ids_, *k); item != kNone) return item;
    return kNone;
}

std::optional<ItemRef> LibraryIndex::find_movie(const MediaRef& m) const {
    auto item = find_movie_item(m);
    if (item == kNone) return std::nullopt;
    return ref_of(item);
}

std::optional<ItemRef> LibraryIndex::find_show(const MediaRef& m) const {
    auto item = find_show_item(m);
    if (item == kNone) return std::nullopt;
    return ref_of(item);
}

bool LibraryIndex::leaves_listed(const MediaRef& m) const {
    auto show = find_show_item(m);
    return show != kNone && (records_[show].flags & kLeavesListed) != 0;
}

std::optional<ItemRef> LibraryIndex::find_episode(const MediaRef& m) const {
    auto season = slot_number(m.season), number = slot_number(m.number);
    auto show = find_show_item(m);
    if (!season || !number || show == kNone || !(records_[show].flags & kLeavesListed)) return std::nullopt;
    episodes_.settle();
    Episode probe{show, *season, *number, 0};
    auto range = std::equal_range(
        episodes_.entries.begin(), episodes_.entries.end(), probe, [](const Episode& a, const Episode& b) {
            return std::tie(a.show, a.season, a.number) < std::tie(b.show, b.season, b.number);
        });
    if (range.first == range.second) return std::nullopt;
    const Episode& latest = *std::prev(range.second);
    return ItemRef{text_of(latest.key), section_ids_[records_[show].section]};
}

void LibraryIndex::add_leaves(const MediaRef& m, const std::vector<plexapi::MediaItem>& episodes) {
    auto show = find_show_item(m);
    if (show == kNone) return;
    records_[show].flags |= kLeavesListed;
    for (const auto& e : episodes) {
        auto season = slot_number(e.parent_index), number = slot_number(e.index);
        if (!season || !number) continue;
        episodes_.entries.push_back(Episode{show, *season, *number, key_of(e.rating_key)});
    }
}

namespace {

struct Build : std::enable_shared_from_this<Build> {
    std::shared_ptr<session::PmsClient> pms;
    std::shared_ptr<LibraryIndex> index;
    std::vector<std::pair<std::string, int>> work;  // section id, plex type (1 movie, 2 show)
    std::size_t at = 0;
    int64_t since = 0, page = 500, started = 0;
    BuildProgress progress;
    std::function<bool(const BuildProgress&)> on_page;
    std::function<void(std::string, int)> done;

    void next(int64_t offset) {
        if (at >= work.size()) {
            index->compact();
            index->built = true;
            index->built_at = started;
            return done({}, 0);
        }
        // Not a structured binding: clang 14 cannot capture one in a lambda.
        const std::string section = work[at].first;
        const auto type = work[at].second;
        std::string path = "/library/sections/" + common::text::url_encode(section) +
                           "/all?type=" + std::to_string(type) +
                           "&includeGuids=1&X-Plex-Container-Start=" + std::to_string(offset) +
                           "&X-Plex-Container-Size=" + std::to_string(page);
        if (since > 0) path += "&addedAt%3E%3E=" + std::to_string(since);
        auto self = shared_from_this();
        pms->request(session::slow_request("GET", path), [self, section, offset](http::Result r, const std::string&) {
            if (!r) return self->done(r.error().message, 0);
            if (r->status != 200)
                return self->done(session::PmsClient::status_error(r->status).message + " listing section " + section,
                                  r->status);
            // One page at a time: what stays is the index, never the listing.
            auto page = plexapi::parse_items(r->body);
            if (!page) return self->done("could not read section " + section + ": " + page.error().message, 0);
            for (const auto& item : page->items) self->index->add(item, section);
            self->progress.items += static_cast<int64_t>(page->items.size());
            int64_t seen = offset + static_cast<int64_t>(page->items.size());
            bool more = !page->items.empty() && page->total_size > seen;
            if (!more) self->progress.sections_done = ++self->at;
            if (self->on_page && !self->on_page(self->progress)) return;  // no longer wanted
            self->next(more ? seen : 0);
        });
    }
};

}  // namespace

void build_index(std::shared_ptr<session::PmsClient> pms, std::shared_ptr<LibraryIndex> index,
                 std::vector<std::string> movie_sections, std::vector<std::string> show_sections, int64_t since,
                 std::function<void(std::string, int)> done, int64_t page_size,
                 std::function<bool(const BuildProgress&)> on_page) {
    auto b = std::make_shared<Build>();
    b->pms = std::move(pms);
    b->index = std::move(index);
    for (auto& s : movie_sections) b->work.emplace_back(s, 1);
    for (auto& s : show_sections) b->work.emplace_back(s, 2);
    b->since = since;
    b->page = page_size;
    b->started = static_cast<int64_t>(std::time(nullptr));
    b->done = std::move(done);
    b->on_page = std::move(on_page);
    b->progress.sections_total = b->work.size();
    b->next(0);
}

}  // namespace pb::refresh

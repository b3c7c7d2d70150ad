#include "refresh/library_index.hpp"

#include <ctime>

#include "common/text.hpp"
#include "refresh/paths.hpp"

namespace pb::refresh {

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

void LibraryIndex::add(const plexapi::MediaItem& item, const std::string& section_id) {
    ItemRef ref{item.rating_key, section_id};
    for (const auto& k : keys_of(item)) by_key_[item.type + "|" + k] = ref;
    for (const auto& f : item.files)
        by_path_[compare_key(f, windows_paths ? PathStyle::windows : PathStyle::posix)] = ref;
    ++items_;
}

void LibraryIndex::forget(const std::string& rating_key) {
    for (auto it = by_key_.begin(); it != by_key_.end();)
        it = it->second.rating_key == rating_key ? by_key_.erase(it) : std::next(it);
    for (auto it = by_path_.begin(); it != by_path_.end();)
        it = it->second.rating_key == rating_key ? by_path_.erase(it) : std::next(it);
    episodes.erase(rating_key);
    for (auto& [show, eps] : episodes)
        for (auto it = eps.begin(); it != eps.end();)
            it = it->second.rating_key == rating_key ? eps.erase(it) : std::next(it);
}

void LibraryIndex::clear() {
    by_key_.clear();
    by_path_.clear();
    episodes.clear();
    items_ = 0;
    built = false;
}

std::optional<ItemRef> LibraryIndex::find_movie(const MediaRef& m) const {
    for (const std::string& k : {m.imdb.empty() ? std::string() : "imdb:" + m.imdb,
                                 m.tmdb > 0 ? "tmdb:" + std::to_string(m.tmdb) : std::string()}) {
        if (k.empty()) continue;
        if (auto it = by_key_.find("movie|" + k); it != by_key_.end()) return it->second;
    }
    if (!m.path.empty())
        if (auto it = by_path_.find(compare_key(m.path, windows_paths ? PathStyle::windows : PathStyle::posix));
            it != by_path_.end())
            return it->second;
    return std::nullopt;
}

std::optional<ItemRef> LibraryIndex::find_show(const MediaRef& m) const {
    for (const std::string& k : {m.tvdb > 0 ? "tvdb:" + std::to_string(m.tvdb) : std::string(),
                                 m.imdb.empty() ? std::string() : "imdb:" + m.imdb,
                                 m.tmdb > 0 ? "tmdb:" + std::to_string(m.tmdb) : std::string()}) {
        if (k.empty()) continue;
        if (auto it = by_key_.find("show|" + k); it != by_key_.end()) return it->second;
    }
    return std::nullopt;
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

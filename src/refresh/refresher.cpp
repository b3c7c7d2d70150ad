#include "refresh/refresher.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <ctime>

#include "common/fs_util.hpp"
#include "common/json_util.hpp"
#include "common/text.hpp"
#include "plugin/plugin.hpp"

namespace pb::refresh {

namespace bj = boost::json;
using Clock = std::chrono::system_clock;

const char* Refresher::kQueueFile = "plexbridge-refresh-queue.json";
constexpr int64_t kCoalesceMs = 2000;

static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

static std::string iso(int64_t unix_ms) { return text::iso8601_utc(unix_ms / 1000); }

std::optional<MediaRef> parse_event_media(std::string_view text, std::string* why) {
    auto v = json::parse_lenient(text, nullptr, 16);
    if (!v || !v->is_object()) {
        if (why) *why = "the event payload is not a JSON object";
        return std::nullopt;
    }
    MediaRef m;
    std::string type = json::get_string_or(*v, "type", "");
    if (type != "movie" && type != "episode") {
        if (why) *why = "type must be \"movie\" or \"episode\"";
        return std::nullopt;
    }
    m.episode = type == "episode";
    m.path = json::get_string_or(*v, "path", "");
    if (m.episode) {
        m.imdb = json::get_string_or(*v, "series_imdb", "");
        m.tvdb = json::get_int_or(*v, "series_tvdb", -1);
        m.tmdb = json::get_int_or(*v, "series_tmdb", -1);
        m.episode_tvdb = json::get_int_or(*v, "episode_tvdb", -1);
        m.episode_imdb = json::get_string_or(*v, "episode_imdb", "");
        m.season = static_cast<int32_t>(json::get_int_or(*v, "season", -1));
        m.number = static_cast<int32_t>(json::get_int_or(*v, "episode", -1));
    } else {
        m.imdb = json::get_string_or(*v, "imdb", "");
        m.tmdb = json::get_int_or(*v, "tmdb", -1);
    }
    bool ids = m.episode ? ((m.tvdb > 0 || !m.imdb.empty() || m.tmdb > 0) && m.season >= 0 && m.number >= 0)
                         : (!m.imdb.empty() || m.tmdb > 0);
    if (!ids && m.path.empty()) {
        if (why) *why = "the event names neither ids nor a file path";
        return std::nullopt;
    }
    return m;
}

static bj::object media_json(const MediaRef& m) {
    bj::object o{{"type", m.episode ? "episode" : "movie"}, {"path", m.path}};
    if (m.episode) {
        o["series_imdb"] = m.imdb;
        o["series_tvdb"] = m.tvdb;
        o["series_tmdb"] = m.tmdb;
        o["episode_tvdb"] = m.episode_tvdb;
        o["episode_imdb"] = m.episode_imdb;
        o["season"] = m.season;
        o["episode"] = m.number;
    } else {
        o["imdb"] = m.imdb;
        o["tmdb"] = m.tmdb;
    }
    return o;
}

Refresher::Refresher(plugin::Plugin& plugin) : plugin_(plugin) {}

void Refresher::register_routes() {
    plugin_.add_route("GET", "/api/plex/status", [this](plugin::Call& c, plugin::Reply r) { status(c, std::move(r)); });
}

void Refresher::load() {
    std::string err;
    auto text = fs::read_file(fs::join(plugin_.data_dir(), kQueueFile), &err);
    if (text) {
        auto v = json::parse_lenient(*text);
        if (v && v->is_array()) {
            for (const auto& e : v->get_array()) {
                const bj::value* media = json::find(e, "media");
                if (!media) continue;
                auto m = parse_event_media(bj::serialize(*media), nullptr);
                if (!m) continue;
                Job j;
                j.media = *m;
                j.key = m->key();
                j.refresh = json::get_bool_or(e, "refresh", false);
                j.set_added = json::get_bool_or(e, "set_added", false);
                j.attempts = static_cast<int>(json::get_int_or(e, "attempts", 0));
                j.due_unix_ms = json::get_int_or(e, "due_unix_ms", now_ms());
                queue_.push_back(std::move(j));
            }
            if (!queue_.empty()) plugin_.log().info("{} Plex refreshes waiting from before the restart", queue_.size());
        } else {
            plugin_.log().error("the refresh queue file is damaged; it was left in place as {}.bad", kQueueFile);
            std::rename(fs::join(plugin_.data_dir(), kQueueFile).c_str(),
                        (fs::join(plugin_.data_dir(), kQueueFile) + ".bad").c_str());
        }
    } else if (!err.empty()) {
        plugin_.log().error("cannot read the refresh queue: {}", err);
    }
    std::lock_guard lock(status_mu_);
    depth_ = queue_.size();
}

void Refresher::start() {
    timer_ = std::make_unique<boost::asio::steady_timer>(plugin_.io());
    persist();
    schedule();
}

void Refresher::on_event(const std::string& name, const std::string& payload) {
    // Host thread: parse, then hand over. Nothing here waits on the network.
    std::string why;
    auto m = parse_event_media(payload, &why);
    if (!m) {
        plugin_.log().warn("event {} ignored: {}", name, why);
        return;
    }
    auto self = shared_from_this();
    boost::asio::post(plugin_.io(), [self, name, m = *m]() mutable { self->enqueue(std::move(name), std::move(m)); });
}

void Refresher::enqueue(std::string name, MediaRef m) {
    auto s = plugin_.settings_snapshot();
    if (!s->use_plex) return;
    bool refresh = m.episode ? s->update_series_library : s->update_movie_library;
    // "Recently added" only when a subtitle arrived, not when one was deleted.
    bool adds = name == "subtitle.downloaded" || name == "subtitle.upgraded" || name == "subtitle.uploaded";
    bool set_added = adds && (m.episode ? s->set_episode_added : s->set_movie_added);
    if (!refresh && !set_added) return;
    std::string key = m.key();
    for (auto& j : queue_) {
        if (j.key != key || j.attempts > 0) continue;
        j.refresh = j.refresh || refresh;  // coalesced into the waiting job
        j.set_added = j.set_added || set_added;
        persist();
        return;
    }
    Job j;
    j.key = std::move(key);
    j.media = std::move(m);
    j.refresh = refresh;
    j.set_added = set_added;
    j.due_unix_ms = now_ms() + kCoalesceMs;
    queue_.push_back(std::move(j));
    persist();
    schedule();
}

void Refresher::settings_changed() {
    auto self = shared_from_this();
    boost::asio::post(plugin_.io(), [self] {
        if (!self->stopped_.empty()) {
            self->plugin_.log().info("Plex refreshes resume: the settings changed");
            self->stopped_.clear();
        }
        // The server or the libraries may have changed: list again.
        self->index_->clear();
        self->persist();
        self->schedule();
    });
}

void Refresher::persist() {
    bj::array a;
    for (const auto& j : queue_)
        a.push_back(bj::object{{"media", media_json(j.media)},
                               {"refresh", j.refresh},
                               {"set_added", j.set_added},
                               {"attempts", j.attempts},
                               {"due_unix_ms", j.due_unix_ms}});
    std::string err;
    if (!fs::atomic_write(fs::join(plugin_.data_dir(), kQueueFile), bj::serialize(a), &err, 0600))
        plugin_.log().error("cannot save the refresh queue ({}); it is kept in memory", err);
    std::lock_guard lock(status_mu_);
    depth_ = queue_.size();
    stopped_copy_ = stopped_;
}

void Refresher::schedule() {
    if (!timer_ || busy_ || queue_.empty() || !stopped_.empty()) return;
    auto next = std::min_element(queue_.begin(), queue_.end(),
                                 [](const Job& a, const Job& b) { return a.due_unix_ms < b.due_unix_ms; });
    int64_t wait = std::max<int64_t>(0, next->due_unix_ms - now_ms());
    timer_->expires_after(std::chrono::milliseconds(wait));
    auto self = shared_from_this();
    timer_->async_wait([self](const boost::system::error_code& ec) {
        if (!ec) self->run_due();
    });
}

void Refresher::run_due() {
    if (busy_ || !stopped_.empty()) return;
    int64_t now = now_ms();
    auto it = std::min_element(queue_.begin(), queue_.end(),
                               [](const Job& a, const Job& b) { return a.due_unix_ms < b.due_unix_ms; });
    if (it == queue_.end()) return;
    if (it->due_unix_ms > now) return schedule();
    busy_ = true;
    process(*it);
}

void Refresher::ensure_index(std::function<void(std::string, int)> then) {
    if (index_->built) return then({}, 0);
    auto s = plugin_.settings_snapshot();
    auto pms = plugin_.pms();
    auto self = shared_from_this();
    pms->request(discovery::PmsRequest{"GET", "/library/sections", "", {}}, [self, s, pms, then](http::Result r,
                                                                                                 const std::string&) {
        self->requests_++;
        if (!r.ok()) return then(r.error->message, 0);
        if (r.response->status != 200)
            return then("Plex Media Server answered HTTP " + std::to_string(r.response->status), r.response->status);
        auto sections = plexapi::parse_sections(r.response->body);
        if (!sections) return then(sections.error, 0);
        std::vector<std::string> movies, shows;
        self->index_->sections.clear();
        for (const auto& sec : *sections.value) {
            bool movie = sec.type == "movie", show = sec.type == "show";
            if (!movie && !show) continue;
            const auto& chosen = movie ? s->movie_library : s->series_library;
            if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), sec.key) == chosen.end() &&
                std::find(chosen.begin(), chosen.end(), sec.title) == chosen.end())
                continue;
            (movie ? movies : shows).push_back(sec.key);
            self->index_->sections.push_back({sec.key, sec.type, sec.locations});
        }
        build_index(pms, self->index_, movies, shows, 0, [self, then](std::string err) {
            if (!err.empty()) return then(err, 0);
            self->plugin_.log().info("Plex library index built: {} items", self->index_->items());
            then({}, 0);
        });
    });
}

void Refresher::resolve(const Job& job, std::function<void(std::optional<ItemRef>, std::string)> then) {
    const MediaRef& m = job.media;
    if (!m.episode) return then(index_->find_movie(m), {});
    auto show = index_->find_show(m);
    if (!show) return then(std::nullopt, {});
    int64_t slot = static_cast<int64_t>(m.season) * 100000 + m.number;
    auto cached = index_->episodes.find(show->rating_key);
    if (cached != index_->episodes.end()) {
        auto ep = cached->second.find(slot);
        if (ep != cached->second.end()) return then(ep->second, {});
        return then(std::nullopt, {});
    }
    auto self = shared_from_this();
    auto show_ref = *show;
    plugin_.pms()->request(
        discovery::PmsRequest{
            "GET", "/library/metadata/" + text::url_encode(show_ref.rating_key) + "/allLeaves", "", {}},
        [self, show_ref, slot, then](http::Result r, const std::string&) {
            self->requests_++;
            if (!r.ok()) return then(std::nullopt, r.error->message);
            if (r.response->status != 200)
                return then(std::nullopt, "Plex Media Server answered HTTP " + std::to_string(r.response->status));
            auto page = plexapi::parse_items(r.response->body);
            auto& eps = self->index_->episodes[show_ref.rating_key];
            if (page)
                for (const auto& e : page.value->items)
                    if (e.parent_index >= 0 && e.index >= 0)
                        eps[e.parent_index * 100000 + e.index] = ItemRef{e.rating_key, show_ref.section_id};
            auto it = eps.find(slot);
            if (it == eps.end()) return then(std::nullopt, {});
            then(it->second, {});
        });
}

void Refresher::process(Job job) {
    auto s = plugin_.settings_snapshot();
    if (s->auth_method == "oauth" && s->server_url.empty() && s->manual_server_url.empty())
        return finish(job, false, "no Plex Media Server is selected", false, true);
    auto self = shared_from_this();
    ensure_index([self, job](std::string err, int status) {
        if (status == 401)
            return self->finish(job, false, "Plex Media Server refused the token: sign in again", false, true);
        if (!err.empty()) return self->finish(job, false, "could not list the libraries: " + err, true, false);
        self->resolve(job, [self, job](std::optional<ItemRef> ref, std::string err2) {
            if (!err2.empty()) return self->finish(job, false, err2, true, false);
            if (ref) return self->apply(job, *ref);
            // Not indexed: maybe added since the listing. Ask only for what
            // was added since then (addedAt>>=), then look once more.
            std::vector<std::string> movies, shows;
            for (const auto& sec : self->index_->sections) (sec.type == "movie" ? movies : shows).push_back(sec.id);
            int64_t since = self->index_->built_at > 60 ? self->index_->built_at - 60 : 0;  // clock slack
            build_index(self->plugin_.pms(), self->index_, movies, shows, since, [self, job](std::string err3) {
                if (!err3.empty()) return self->finish(job, false, err3, true, false);
                self->resolve(job, [self, job](std::optional<ItemRef> ref2, std::string err4) {
                    if (!err4.empty()) return self->finish(job, false, err4, true, false);
                    if (ref2) return self->apply(job, *ref2);
                    self->partial_scan(job);
                });
            });
        });
    });
}

void Refresher::apply(const Job& job, const ItemRef& ref) {
    auto self = shared_from_this();
    auto added = [self, job, ref]() {
        if (!job.set_added) return self->finish(job, true, {}, false, false);
        std::string path = "/library/sections/" + text::url_encode(ref.section_id) +
                           "/all?type=" + (job.media.episode ? "4" : "1") + "&id=" + text::url_encode(ref.rating_key) +
                           "&addedAt.value=" + std::to_string(now_ms() / 1000) + "&addedAt.locked=1";
        self->plugin_.pms()->request(
            discovery::PmsRequest{"PUT", path, "", {}}, [self, job](http::Result r, const std::string&) {
                self->requests_++;
                if (!r.ok()) return self->finish(job, false, r.error->message, true, false);
                if (r.response->status == 401)
                    return self->finish(job, false, "Plex Media Server refused the token: sign in again", false, true);
                if (r.response->status >= 300)
                    return self->finish(job, false,
                                        "setting the added date failed: HTTP " + std::to_string(r.response->status),
                                        r.response->status >= 500, false);
                self->finish(job, true, {}, false, false);
            });
    };
    if (!job.refresh) return added();
    plugin_.pms()->request(
        discovery::PmsRequest{"PUT", "/library/metadata/" + text::url_encode(ref.rating_key) + "/refresh", "", {}},
        [self, job, ref, added](http::Result r, const std::string&) {
            self->requests_++;
            if (!r.ok()) return self->finish(job, false, r.error->message, true, false);
            if (r.response->status == 401)
                return self->finish(job, false, "Plex Media Server refused the token: sign in again", false, true);
            if (r.response->status == 404) {
                // Plex says the item is gone: forget it and scan its folder.
                self->index_->forget(ref.rating_key);
                return self->partial_scan(job);
            }
            if (r.response->status >= 300)
                return self->finish(job, false, "refresh failed: HTTP " + std::to_string(r.response->status),
                                    r.response->status >= 500, false);
            added();
        });
}

void Refresher::partial_scan(const Job& job) {
    const std::string& path = job.media.path;
    auto slash = path.rfind('/');
    if (path.empty() || slash == std::string::npos)
        return finish(job, false, "the item is not in the selected Plex libraries and the event gave no file path",
                      false, false);
    std::string dir = path.substr(0, slash);
    const LibraryIndex::Section* section = nullptr;
    for (const auto& sec : index_->sections)
        for (const auto& loc : sec.locations)
            if (!loc.empty() && (dir == loc || text::starts_with(dir, loc + "/"))) section = &sec;
    if (section == nullptr)
        return finish(job, false, "the file " + path + " is outside every selected Plex library folder", false, false);
    auto self = shared_from_this();
    std::string req_path =
        "/library/sections/" + text::url_encode(section->id) + "/refresh?path=" + text::url_encode(dir);
    plugin_.pms()->request(
        discovery::PmsRequest{"GET", req_path, "", {}}, [self, job](http::Result r, const std::string&) {
            self->requests_++;
            if (!r.ok()) return self->finish(job, false, r.error->message, true, false);
            if (r.response->status >= 300)
                return self->finish(job, false, "the folder scan failed: HTTP " + std::to_string(r.response->status),
                                    r.response->status >= 500, false);
            self->finish(job, true, {}, false, false);
        });
}

void Refresher::finish(const Job& job, bool ok, const std::string& error, bool retry, bool stop) {
    busy_ = false;
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Job& j) { return j.key == job.key; });
    if (ok || (!retry && !stop)) {
        if (it != queue_.end()) queue_.erase(it);
        std::lock_guard lock(status_mu_);
        if (ok)
            last_refresh_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}};
        else
            last_error_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}, {"message", error}};
    } else {
        if (it != queue_.end()) {
            it->attempts++;
            it->last_error = error;
            int64_t backoff_s = std::min<int64_t>(30, int64_t{1} << std::min(it->attempts - 1, 5));
            it->due_unix_ms = now_ms() + backoff_s * 1000;
        }
        if (stop) stopped_ = error;
        std::lock_guard lock(status_mu_);
        last_error_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}, {"message", error}};
    }
    if (!ok)
        plugin_.log().warn("Plex refresh of {}: {}{}", job.key, error,
                           stop    ? " (paused until the settings change)"
                           : retry ? " (will retry)"
                                   : "");
    persist();
    schedule();
}

void Refresher::status(plugin::Call&, plugin::Reply reply) {
    auto s = plugin_.settings_snapshot();
    bool signed_in = s->auth_method == "apikey" ? !s->apikey.empty() : !s->token.empty();
    bj::object out{{"enabled", s->use_plex},
                   {"signed_in", signed_in},
                   {"auth_method", s->auth_method},
                   {"username", s->username},
                   {"server", bj::object{{"name", s->server_name},
                                         {"url", !s->manual_server_url.empty() ? s->manual_server_url
                                                 : s->auth_method == "apikey"  ? s->legacy_url()
                                                                               : s->server_url},
                                         {"local", s->server_local}}}};
    std::lock_guard lock(status_mu_);
    std::string state = !stopped_copy_.empty() ? "paused" : depth_ > 0 ? "working" : "idle";
    std::string words = !stopped_copy_.empty() ? "Refreshes are paused: " + stopped_copy_ + "."
                        : depth_ > 0           ? std::to_string(depth_) + " Plex refresh(es) waiting."
                                               : "Nothing waiting.";
    out["queue"] = bj::object{{"depth", depth_}, {"state", state}, {"message", words}};
    out["last_refresh"] = last_refresh_.empty() ? bj::value(nullptr) : bj::value(last_refresh_);
    out["last_error"] = last_error_.empty() ? bj::value(nullptr) : bj::value(last_error_);
    reply.data(out);
}

}  // namespace pb::refresh

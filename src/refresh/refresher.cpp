#include "refresh/refresh.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <ctime>
#include <limits>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"

namespace pb::refresh {

namespace bj = boost::json;
using Clock = std::chrono::system_clock;

const char* Refresher::kQueueFile = "plexbridge-refresh-queue.json";
constexpr int64_t kCoalesceMs = 2000;
// How long a merge into a waiting job may stay unwritten. A SIGKILL within it
// loses the merge (the job itself was written when it was created).
constexpr int64_t kMergeWriteMs = 100;
// A server shared with the account: Plex lets only its owner refresh, scan
// or edit it.
constexpr const char* kSharedServer =
    "the selected server is shared with this Plex account, and only its owner can refresh it or set dates";
constexpr const char* kOwnerOnly = "Plex refused: only the server's owner can refresh it";
// When a refreshed item does not show the subtitle: refresh again, scan the
// item's folder, refresh once more; then give up and say so.
constexpr int kRemedies = 3;

static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

static std::string iso(int64_t unix_ms) { return common::text::iso8601_utc(unix_ms / 1000); }

static SubtitleRef read_subtitle(const bj::value& v) {
    SubtitleRef s;
    s.path = common::json::get_string_or(v, "path", "");
    s.language = common::json::get_string_or(v, "language", "");
    s.forced = common::json::get_bool_or(v, "forced", false);
    s.hearing_impaired = common::json::get_bool_or(v, "hearing_impaired", false);
    return s;
}

static bj::object subtitle_json(const SubtitleRef& s) {
    return bj::object{
        {"path", s.path}, {"language", s.language}, {"forced", s.forced}, {"hearing_impaired", s.hearing_impaired}};
}

// A season or episode number, -1 when absent or beyond any (a larger
// number would wrap into another episode's).
static int32_t number(const bj::value& v, std::string_view key) {
    int64_t n = common::json::get_int_or(v, key, -1);
    bool fits = n >= std::numeric_limits<int32_t>::min() && n <= std::numeric_limits<int32_t>::max();
    return fits ? static_cast<int32_t>(n) : -1;
}

common::Result<Event> parse_event(std::string_view text) {
    auto bad = [](const char* why) { return common::Error(common::Errc::bad_request, why); };
    auto v = common::json::parse_lenient(text, 16);
    if (!v || !v->is_object()) return bad("the event payload is not a JSON object");

    Event event;
    // Optional: hosts that do not say which subtitle get a refresh without the check.
    if (const bj::value* sub = common::json::find(*v, "subtitle"); sub && sub->is_object())
        event.subtitle = read_subtitle(*sub);
    MediaRef& m = event.media;
    std::string type = common::json::get_string_or(*v, "type", "");
    if (type != "movie" && type != "episode") return bad("type must be \"movie\" or \"episode\"");

    m.episode = type == "episode";
    m.path = common::json::get_string_or(*v, "path", "");
    if (m.episode) {
        m.imdb = common::json::get_string_or(*v, "series_imdb", "");
        m.tvdb = common::json::get_int_or(*v, "series_tvdb", -1);
        m.tmdb = common::json::get_int_or(*v, "series_tmdb", -1);
        m.episode_tvdb = common::json::get_int_or(*v, "episode_tvdb", -1);
        m.episode_imdb = common::json::get_string_or(*v, "episode_imdb", "");
        m.season = number(*v, "season");
        m.number = number(*v, "episode");
    } else {
        m.imdb = common::json::get_string_or(*v, "imdb", "");
        m.tmdb = common::json::get_int_or(*v, "tmdb", -1);
    }
    bool ids = m.episode ? ((m.tvdb > 0 || !m.imdb.empty() || m.tmdb > 0) && m.season >= 0 && m.number >= 0)
                         : (!m.imdb.empty() || m.tmdb > 0);
    if (!ids && m.path.empty()) return bad("the event names neither ids nor a file path");

    return event;
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

std::shared_ptr<Refresher> Refresher::create(session::Session& session, route::Registry& routes) {
    auto r = std::shared_ptr<Refresher>(new Refresher(session));
    routes.add("GET", "/api/plex/status", route::member_handler(r.get(), &Refresher::status));
    // Signed out, refreshes wait for the next sign-in; forgetting everything
    // drops them.
    session.on_leave([raw = r.get()](session::Leaving how, const std::string&, auto next) {
        if (how != session::Leaving::forget_everything) return next({});
        std::size_t n = raw->queue_.size();
        raw->queue_.clear();
        raw->index_->clear();
        std::remove(common::fs::join(raw->session_.data_dir(), kQueueFile).c_str());
        {
            std::lock_guard lock(raw->status_mu_);
            raw->depth_ = 0;
            raw->last_refresh_ = {};
            raw->last_error_ = {};
        }
        next({"deleted the refresh queue (" + std::to_string(n) + " waiting)"});
    });
    return r;
}

void Refresher::load() {
    auto text = common::fs::read_file(common::fs::join(session_.data_dir(), kQueueFile));
    if (text) {
        auto v = common::json::parse_lenient(*text);
        if (v && v->is_array()) {
            for (const auto& e : v->get_array()) {
                const bj::value* media = common::json::find(e, "media");
                if (!media) continue;
                auto m = parse_event(bj::serialize(*media));
                if (!m) continue;
                Job j;
                j.id = ++next_job_id_;
                j.media = m->media;
                j.key = j.media.key();
                j.refresh = common::json::get_bool_or(e, "refresh", false);
                j.set_added = common::json::get_bool_or(e, "set_added", false);
                j.attempts = static_cast<int>(common::json::get_int_or(e, "attempts", 0));
                j.due_unix_ms = common::json::get_int_or(e, "due_unix_ms", now_ms());
                if (const bj::value* ex = common::json::find(e, "expect"); ex && ex->is_array())
                    for (const auto& x : ex->get_array())
                        if (const bj::value* sub = common::json::find(x, "subtitle"))
                            j.expect.push_back({read_subtitle(*sub), common::json::get_bool_or(x, "present", true)});
                j.item.rating_key = common::json::get_string_or(e, "item", "");
                j.item.section_id = common::json::get_string_or(e, "section", "");
                j.checks = static_cast<int>(common::json::get_int_or(e, "checks", 0));
                queue_.push_back(std::move(j));
            }
            if (!queue_.empty())
                session_.log().info("{} Plex refreshes waiting from before the restart", queue_.size());
        } else {
            session_.log().error("the refresh queue file is damaged; it was left in place as {}.bad", kQueueFile);
            std::rename(common::fs::join(session_.data_dir(), kQueueFile).c_str(),
                        (common::fs::join(session_.data_dir(), kQueueFile) + ".bad").c_str());
        }
    } else if (text.error().code != common::Errc::not_found) {
        session_.log().error("cannot read the refresh queue: {}", text.error().message);
    }
    std::lock_guard lock(status_mu_);
    depth_ = queue_.size();
}

void Refresher::start() {
    timer_ = std::make_unique<boost::asio::steady_timer>(session_.io());
    write_timer_ = std::make_unique<boost::asio::steady_timer>(session_.io());
    // Ready before the first subtitle arrives, not when it does.
    auto s = session_.settings().snapshot();
    index_key_ = index_key(*s);
    if (wanted(*s)) ensure_index([](std::string, int) {});
    persist();
    schedule();
}

void Refresher::on_event(const std::string& name, const std::string& payload) {
    // Host thread: parse, then hand over. Nothing here waits on the network.
    auto m = parse_event(payload);
    if (!m) {
        session_.log().warn("event {} ignored: {}", name, m.error().message);
        return;
    }
    auto self = shared_from_this();
    boost::asio::post(session_.io(), [self, name, m = *m]() mutable { self->enqueue(std::move(name), std::move(m)); });
}

void Refresher::enqueue(std::string name, Event event) {
    MediaRef& m = event.media;
    auto s = session_.settings().snapshot();
    if (!s->use_plex) return;
    bool refresh = m.episode ? s->update_series_library : s->update_movie_library;
    // "Recently added" only when a subtitle arrived, not when one was deleted.
    bool adds = std::any_of(std::begin(kEvents), std::end(kEvents),
                            [&](const EventSpec& e) { return e.name == name && e.brings_subtitle; });
    bool set_added = adds && (m.episode ? s->set_episode_added : s->set_movie_added);
    if (!refresh && !set_added) return;
    // Refresh, scan and edits are the owner's: a friend's token is refused.
    if (!s->server_owned) {
        session_.log().debug("{} ignored: {}", name, kSharedServer);
        return;
    }
    // Read back after the refresh only when there is a refresh, and the
    // host said which subtitle.
    std::optional<Job::Expect> expect;
    if (refresh && s->confirm_subtitles && !event.subtitle.empty())
        expect = Job::Expect{event.subtitle, name != "subtitle.deleted"};
    std::string key = m.key();
    for (auto& j : queue_) {
        // Not into a job that failed before (it keeps its backoff), nor into
        // the one running now: its outcome would drop what was added.
        if (j.key != key || j.attempts > 0 || j.id == running_) continue;
        j.refresh = j.refresh || refresh;  // coalesced into the waiting job
        j.set_added = j.set_added || set_added;
        if (expect) {
            // The latest word on a file wins (downloaded, then deleted: gone).
            auto same = std::find_if(j.expect.begin(), j.expect.end(), [&](const Job::Expect& x) {
                return x.subtitle.path == expect->subtitle.path && x.subtitle.language == expect->subtitle.language;
            });
            if (same != j.expect.end())
                *same = *expect;
            else
                j.expect.push_back(*expect);
        }
        if (!j.item.rating_key.empty()) {
            // Already refreshed and being read back: the folder changed again,
            // so refresh again.
            j.item = {};
            j.checks = 0;
            j.due_unix_ms = now_ms() + kCoalesceMs;
            schedule();
        }
        persist_soon();
        return;
    }
    Job j;
    j.id = ++next_job_id_;
    j.key = std::move(key);
    j.media = std::move(m);
    j.refresh = refresh;
    j.set_added = set_added;
    if (expect) j.expect.push_back(*expect);
    j.due_unix_ms = now_ms() + kCoalesceMs;
    queue_.push_back(std::move(j));
    persist();
    schedule();
}

void Refresher::settings_changed() {
    auto self = shared_from_this();
    boost::asio::post(session_.io(), [self] {
        if (!self->stopped_.empty()) {
            self->session_.log().info("Plex refreshes resume: the settings changed");
            self->stopped_.clear();
        }
        // Another server or other libraries: a new index, built now, in the
        // background (a large library takes a while). Anything else (a new
        // webhook key, a timeout) keeps the index.
        auto s = self->session_.settings().snapshot();
        std::string key = index_key(*s);
        if (key != self->index_key_) {
            self->index_key_ = key;
            // A job being read back names an item of the old server: it
            // starts over (found again, refreshed) on the new one.
            for (auto& j : self->queue_)
                if (j.id != self->running_) j.item = {}, j.checks = 0;
            self->index_ = std::make_shared<LibraryIndex>();
            ++self->index_generation_;
            self->index_building_ = false;
            {
                std::lock_guard lock(self->status_mu_);
                self->index_state_ = "empty";
                self->index_progress_ = {};
            }
            if (self->wanted(*s) || !self->index_waiters_.empty()) self->ensure_index([](std::string, int) {});
        }
        self->persist();
        self->schedule();
    });
}

void Refresher::shutdown() {
    if (write_pending_) persist();
    timer_.reset();
    write_timer_.reset();
}

void Refresher::persist_soon() {
    {
        std::lock_guard lock(status_mu_);
        depth_ = queue_.size();
    }
    if (write_pending_ || !write_timer_) return;
    write_pending_ = true;
    write_timer_->expires_after(std::chrono::milliseconds(kMergeWriteMs));
    std::weak_ptr<Refresher> weak = shared_from_this();
    write_timer_->async_wait([weak](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || !self->write_pending_) return;
        self->persist();
    });
}

void Refresher::persist() {
    write_pending_ = false;
    bj::array a;
    for (const auto& j : queue_) {
        bj::object o{{"media", media_json(j.media)},
                     {"refresh", j.refresh},
                     {"set_added", j.set_added},
                     {"attempts", j.attempts},
                     {"due_unix_ms", j.due_unix_ms}};
        if (!j.expect.empty()) {
            bj::array ex;
            for (const auto& x : j.expect)
                ex.push_back(bj::object{{"subtitle", subtitle_json(x.subtitle)}, {"present", x.present}});
            o["expect"] = std::move(ex);
        }
        if (!j.item.rating_key.empty()) {
            o["item"] = j.item.rating_key;
            o["section"] = j.item.section_id;
            o["checks"] = j.checks;
        }
        a.push_back(std::move(o));
    }
    // Nothing waiting: no file (forgetting everything leaves none behind).
    std::string path = common::fs::join(session_.data_dir(), kQueueFile);
    if (queue_.empty()) {
        std::remove(path.c_str());
    } else if (auto st = common::fs::atomic_write(path, bj::serialize(a), 0600); !st) {
        session_.log().error("cannot save the refresh queue ({}); it is kept in memory", st.error().message);
    }
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
    running_ = it->id;
    process(*it);
}

// "Plex Media Server answered HTTP 503", or the transport error's words.
static std::optional<std::string> failed(const http::Result& r) {
    if (auto e = session::PmsClient::failure(r)) return e->message;
    return std::nullopt;
}

std::string Refresher::index_key(const settings::Settings& s) {
    std::string key = s.server_machine_id + "|" + session::Session::server_url(s) + "|";
    for (const auto& l : s.movie_library) key += l + ",";
    key += "|";
    for (const auto& l : s.series_library) key += l + ",";
    return key;
}

bool Refresher::wanted(const settings::Settings& s) const {
    bool any = s.update_movie_library || s.update_series_library || s.set_movie_added || s.set_episode_added;
    return s.use_plex && any && s.server_owned && !session::Session::server_url(s).empty() &&
           !session_.account_status().needs_the_user();
}

void Refresher::ensure_index(std::function<void(std::string, int)> then) {
    if (index_->built) return then({}, 0);
    index_waiters_.push_back(std::move(then));
    if (index_building_) return;
    index_building_ = true;
    build(index_generation_);
}

void Refresher::build(uint64_t generation) {
    auto s = session_.settings().snapshot();
    auto pms = session_.pms_shared();
    auto self = shared_from_this();
    auto index = index_;
    {
        std::lock_guard lock(status_mu_);
        index_state_ = "building";
        index_progress_ = {};
        index_error_.clear();
    }
    pms->request(session::PmsRequest{"GET", "/library/sections", "", {}}, [self, s, pms, index, generation](
                                                                              http::Result r, const std::string&) {
        self->requests_++;
        if (generation != self->index_generation_) return;  // settings changed meanwhile
        if (auto why = failed(r)) return self->index_done(generation, *why, r ? r->status : 0);
        auto sections = plexapi::parse_sections(r->body);
        if (!sections) return self->index_done(generation, sections.error().message, 0);
        std::vector<std::string> movies, shows;
        index->sections.clear();
        for (const auto& sec : *sections) {
            bool movie = sec.type == "movie", show = sec.type == "show";
            if (!movie && !show) continue;
            const auto& chosen = movie ? s->movie_library : s->series_library;
            if (!chosen.empty() && std::find(chosen.begin(), chosen.end(), sec.key) == chosen.end() &&
                std::find(chosen.begin(), chosen.end(), sec.title) == chosen.end())
                continue;
            (movie ? movies : shows).push_back(sec.key);
            index->sections.push_back({sec.key, sec.type, sec.locations});
        }
        std::vector<std::string> locations;
        for (const auto& sec : index->sections)
            locations.insert(locations.end(), sec.locations.begin(), sec.locations.end());
        index->windows_paths = style_of(s->server_platform, locations) == PathStyle::windows;
        build_index(
            pms, index, movies, shows, 0,
            [self, generation](std::string err, int status) { self->index_done(generation, std::move(err), status); },
            500,
            [self, generation](const BuildProgress& p) {
                if (generation != self->index_generation_) return false;  // replaced: stop listing
                std::lock_guard lock(self->status_mu_);
                self->index_progress_ = p;
                return true;
            });
    });
}

void Refresher::index_done(uint64_t generation, std::string error, int status) {
    if (generation != index_generation_) return;
    index_building_ = false;
    {
        std::lock_guard lock(status_mu_);
        index_state_ = error.empty() ? "ready" : "failed";
        index_error_ = error;
        index_progress_.items = static_cast<int64_t>(index_->items());
    }
    if (error.empty())
        session_.log().info("Plex library index built: {} items", index_->items());
    else
        session_.log().warn("the Plex library index could not be built: {}", error);
    auto waiters = std::move(index_waiters_);
    index_waiters_.clear();
    for (auto& w : waiters) w(error, status);
}

void Refresher::resolve(const Job& job, std::function<void(std::optional<ItemRef>, std::string)> then) {
    // The index holds Plex's paths: the host's is looked up mapped.
    MediaRef m = job.media;
    m.path = to_plex(m.path, session_.settings().snapshot()->path_mappings, path_style());
    if (!m.episode) return then(index_->find_movie(m), {});
    auto show = index_->find_show(m);
    if (!show) return then(std::nullopt, {});
    if (index_->leaves_listed(m)) return then(index_->find_episode(m), {});
    auto self = shared_from_this();
    session_.pms().request(
        session::slow_request("GET", "/library/metadata/" + common::text::url_encode(show->rating_key) + "/allLeaves"),
        [self, m, then](http::Result r, const std::string&) {
            self->requests_++;
            if (auto why = failed(r)) return then(std::nullopt, *why);
            // An unreadable answer is recorded as no episodes, as before.
            static const std::vector<plexapi::MediaItem> kNoEpisodes;
            auto page = plexapi::parse_items(r->body);
            self->index_->add_leaves(m, page ? page->items : kNoEpisodes);
            then(self->index_->find_episode(m), {});
        });
}

std::pair<Refresher::Outcome, std::string> Refresher::refused(int status) const {
    auto account = session_.account_status();
    if (account.needs_the_user()) return {Outcome::pause, account.message};
    if (!session_.settings().snapshot()->server_owned || status == 403) return {Outcome::dropped, kOwnerOnly};
    return {Outcome::pause, std::string(session::kTokenRefused)};
}

void Refresher::process(Job job) {
    if (session_.server_url().empty()) return finish(job, Outcome::pause, "no Plex Media Server is selected");
    // A dead token is not tried again and again: the user must sign in.
    if (auto account = session_.account_status(); account.needs_the_user())
        return finish(job, Outcome::pause, account.message);
    if (!job.item.rating_key.empty()) return check(std::move(job));
    auto self = shared_from_this();
    ensure_index([self, job](std::string err, int status) {
        if (status == 401 || status == 403) {
            auto [outcome, why] = self->refused(status);
            return self->finish(job, outcome, why);
        }
        if (!err.empty()) return self->finish(job, Outcome::retry, "could not list the libraries: " + err);
        self->resolve(job, [self, job](std::optional<ItemRef> ref, std::string err2) {
            if (!err2.empty()) return self->finish(job, Outcome::retry, err2);
            if (ref) return self->apply(job, *ref);
            // Not indexed: maybe added since the listing. Ask only for what
            // was added since then (addedAt>>=), then look once more.
            std::vector<std::string> movies, shows;
            for (const auto& sec : self->index_->sections) (sec.type == "movie" ? movies : shows).push_back(sec.id);
            int64_t since = self->index_->built_at > 60 ? self->index_->built_at - 60 : 0;  // clock slack
            build_index(self->session_.pms_shared(), self->index_, movies, shows, since,
                        [self, job](std::string err3, int) {
                            if (!err3.empty()) return self->finish(job, Outcome::retry, err3);
                            self->resolve(job, [self, job](std::optional<ItemRef> ref2, std::string err4) {
                                if (!err4.empty()) return self->finish(job, Outcome::retry, err4);
                                if (ref2) return self->apply(job, *ref2);
                                self->partial_scan(job);
                            });
                        });
        });
    });
}

// A status PMS answered a job's request with: done, or why not and what next.
std::optional<std::pair<Refresher::Outcome, std::string>> Refresher::judge(int status, std::string_view what) const {
    if (status < 300) return std::nullopt;
    // Busy (429 after its one Retry-After wait) or timed out: later, not never.
    if (status == 429 || status == 408)
        return std::pair{Outcome::retry,
                         std::string(what) + " failed: " + session::PmsClient::status_error(status).message};
    if (status == 401 || status == 403) return refused(status);
    return std::pair{status >= 500 ? Outcome::retry : Outcome::dropped,
                     std::string(what) + " failed: " + session::PmsClient::status_error(status).message};
}

void Refresher::apply(const Job& job, const ItemRef& ref) {
    auto self = shared_from_this();
    // Done, or refreshed and to be read back for the subtitle.
    auto refreshed = [self, job, ref]() {
        if (!job.refresh || job.expect.empty()) return self->finish(job, Outcome::done);
        Job next = job;
        next.item = ref;
        self->finish(next, Outcome::check);
    };
    auto added = [self, job, ref, refreshed]() {
        if (!job.set_added) return refreshed();
        auto item = plexapi::RatingKey::parse(ref.rating_key);
        auto section = plexapi::RatingKey::parse(ref.section_id);
        if (!item || !section)
            return self->finish(job, Outcome::dropped,
                                "the added date was not set: Plex gave the item an id that is not a number (\"" +
                                    ref.rating_key + "\" in section \"" + ref.section_id + "\")");
        std::string path = plexapi::added_at_edit_path(
            *section, job.media.episode ? plexapi::ItemType::episode : plexapi::ItemType::movie, *item,
            now_ms() / 1000);
        self->session_.pms().request(session::slow_request("PUT", path),
                                     [self, job, refreshed](http::Result r, const std::string&) {
                                         self->requests_++;
                                         if (!r) return self->finish(job, Outcome::retry, r.error().message);
                                         if (auto bad = self->judge(r->status, "setting the added date"))
                                             return self->finish(job, bad->first, bad->second);
                                         refreshed();
                                     });
    };
    if (!job.refresh) return added();
    session_.pms().request(
        session::slow_request("PUT", "/library/metadata/" + common::text::url_encode(ref.rating_key) + "/refresh"),
        [self, job, ref, added](http::Result r, const std::string&) {
            self->requests_++;
            if (!r) return self->finish(job, Outcome::retry, r.error().message);
            if (r->status == 404) {
                // Plex says the item is gone: forget it and scan its folder.
                self->index_->forget(ref.rating_key);
                return self->partial_scan(job);
            }
            if (auto bad = self->judge(r->status, "refresh")) return self->finish(job, bad->first, bad->second);
            added();
        });
}

PathStyle Refresher::path_style() const {
    std::vector<std::string> locations;
    for (const auto& sec : index_->sections)
        locations.insert(locations.end(), sec.locations.begin(), sec.locations.end());
    return style_of(session_.settings().snapshot()->server_platform, locations);
}

void Refresher::partial_scan(const Job& job) {
    // Plex scans its own path of the folder: the host's, mapped.
    auto style = path_style();
    std::string host_path = job.media.path;
    if (host_path.empty() && !job.expect.empty()) host_path = job.expect.front().subtitle.path;
    std::string path = to_plex(host_path, session_.settings().snapshot()->path_mappings, style);
    std::string dir = folder_of(path, style);
    // One of several profiles: an item outside this one's libraries is
    // another's (each profile gets every event).
    const Outcome outside = one_of_several_ ? Outcome::elsewhere : Outcome::dropped;
    if (host_path.empty() || dir.empty())
        return finish(job, outside, "the item is not in the selected Plex libraries and the event gave no file path");
    const LibraryIndex::Section* section = nullptr;
    std::string dir_key = compare_key(dir, style);
    for (const auto& sec : index_->sections)
        for (const auto& loc : sec.locations) {
            std::string loc_key = compare_key(loc, style);
            if (!loc.empty() && (dir_key == loc_key || common::text::starts_with(dir_key, loc_key + "/")))
                section = &sec;
        }
    if (section == nullptr)
        return finish(job, outside,
                      "the file " + path + " is outside every selected Plex library folder" +
                          (path == host_path ? std::string(" (if Plex sees it under another name, add a path "
                                                           "mapping)")
                                             : " (the host's " + host_path + ", mapped)"));
    auto self = shared_from_this();
    std::string req_path =
        "/library/sections/" + common::text::url_encode(section->id) + "/refresh?path=" + common::text::url_encode(dir);
    session_.pms().request(session::slow_request("GET", req_path), [self, job](http::Result r, const std::string&) {
        self->requests_++;
        if (!r) return self->finish(job, Outcome::retry, r.error().message);
        if (auto bad = self->judge(r->status, "the folder scan")) return self->finish(job, bad->first, bad->second);
        self->finish(job, Outcome::done);
    });
}

// "\"Reign of Fire\" (2002)", "The Expanse S01E01 \"Dulcinea\"".
static std::string item_words(const plexapi::MediaItem& item) {
    if (item.type == "episode") {
        char se[48];
        std::snprintf(se, sizeof se, " S%02lldE%02lld", static_cast<long long>(std::max<int64_t>(item.parent_index, 0)),
                      static_cast<long long>(std::max<int64_t>(item.index, 0)));
        return item.grandparent_title + se + " \"" + item.title + "\"";
    }
    return "\"" + item.title + "\"" + (item.year > 0 ? " (" + std::to_string(item.year) + ")" : "");
}

void Refresher::check(Job job) {
    auto self = shared_from_this();
    std::string path = "/library/metadata/" + common::text::url_encode(job.item.rating_key);
    session_.pms().request(session::slow_request("GET", path), [self, job](http::Result r, const std::string&) mutable {
        self->requests_++;
        if (!r) return self->finish(job, Outcome::retry, r.error().message);
        if (r->status == 404) {
            self->index_->forget(job.item.rating_key);
            return self->finish(job, Outcome::dropped, "Plex removed the item while its subtitle was being checked");
        }
        if (auto bad = self->judge(r->status, "reading the item back"))
            return self->finish(job, bad->first, bad->second);
        auto page = plexapi::parse_items(r->body);
        if (!page || page->items.empty())
            return self->finish(job, Outcome::dropped,
                                "the subtitle could not be checked: Plex answered the item with something unreadable" +
                                    (page ? std::string() : ": " + page.error().message));
        const auto& item = page->items.front();
        auto settings = self->session_.settings().snapshot();  // held: the mappings are read from it below
        // Turned off while it waited: the refresh was done, that is all.
        if (!settings->confirm_subtitles) return self->finish(job, Outcome::done);
        auto style = self->path_style();
        const auto& maps = settings->path_mappings;
        const Job::Expect* wrong = nullptr;
        for (const auto& e : job.expect)
            if (shows(item, e.subtitle, to_plex(e.subtitle.path, maps, style), style) != e.present) wrong = &e;
        if (wrong == nullptr) return self->finish(job, Outcome::done);
        job.checks++;
        // The folder as Plex sees it, from Plex's own answer: no mapping to
        // get wrong, and no index needed.
        std::string folder = item.files.empty() ? "" : folder_of(item.files.front(), style);
        if (job.checks <= kRemedies) return self->remedy(std::move(job), folder);
        std::string tried = " after refreshing it again and scanning its folder";
        std::string message =
            wrong->present
                ? "Plex does not show " + describe(wrong->subtitle) + " on " + item_words(item) + tried +
                      ". Plex may not match the file's name to the video (it must start with the video's name), "
                      "or the folder Plex scans is not the one the file is in (check the path mappings); "
                      "\"Refresh Metadata\" on the item in Plex tries again by hand"
                : "Plex still shows the deleted " + describe(wrong->subtitle).substr(4) + " on " + item_words(item) +
                      tried + "; \"Refresh Metadata\" on the item in Plex tries again by hand";
        self->finish(job, Outcome::dropped, message);
    });
}

void Refresher::remedy(Job job, const std::string& plex_folder) {
    auto self = shared_from_this();
    // The second remedy scans the item's folder (in its library), when Plex
    // said where the item's file is; the others refresh the item.
    if (job.checks == 2 && !plex_folder.empty() && !job.item.section_id.empty()) {
        std::string path = "/library/sections/" + common::text::url_encode(job.item.section_id) +
                           "/refresh?path=" + common::text::url_encode(plex_folder);
        return session_.pms().request(session::slow_request("GET", path),
                                      [self, job](http::Result r, const std::string&) {
                                          self->requests_++;
                                          if (!r) return self->finish(job, Outcome::retry, r.error().message);
                                          if (auto bad = self->judge(r->status, "the folder scan"))
                                              return self->finish(job, bad->first, bad->second);
                                          self->finish(job, Outcome::check);
                                      });
    }
    session_.pms().request(
        session::slow_request("PUT", "/library/metadata/" + common::text::url_encode(job.item.rating_key) + "/refresh"),
        [self, job](http::Result r, const std::string&) {
            self->requests_++;
            if (!r) return self->finish(job, Outcome::retry, r.error().message);
            if (auto bad = self->judge(r->status, "refresh")) return self->finish(job, bad->first, bad->second);
            self->finish(job, Outcome::check);
        });
}

void Refresher::finish(const Job& job, Outcome outcome, const std::string& error) {
    busy_ = false;
    running_ = 0;
    auto it = std::find_if(queue_.begin(), queue_.end(), [&](const Job& j) { return j.id == job.id; });
    const bool ok = outcome == Outcome::done || outcome == Outcome::check;
    if (outcome == Outcome::check) {
        // Refreshed: Plex reads the folder in the background, so look a
        // little later, and later again each time it was not there yet.
        if (it != queue_.end()) {
            it->item = job.item;
            it->checks = job.checks;
            it->attempts = 0;
            it->last_error.clear();
            int64_t delay = session_.settings().snapshot()->confirm_delay_ms;
            it->due_unix_ms = now_ms() + (delay << std::min(job.checks, 4));
        }
        std::lock_guard lock(status_mu_);
        last_refresh_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}, {"subtitle", "checking"}};
    } else if (outcome == Outcome::elsewhere) {
        // Another profile's libraries hold it, or none do: not this one's error.
        if (it != queue_.end()) queue_.erase(it);
        session_.log().debug("Plex refresh of {} left to the other profiles: {}", job.key, error);
        persist();
        return schedule();
    } else if (outcome == Outcome::done || outcome == Outcome::dropped) {
        if (it != queue_.end()) queue_.erase(it);
        std::lock_guard lock(status_mu_);
        if (ok) {
            last_refresh_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}};
            if (!job.item.rating_key.empty()) last_refresh_["subtitle"] = "confirmed";
        } else {
            last_error_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}, {"message", error}};
            // The subtitle files the message is about.
            bj::array files;
            for (const auto& x : job.expect)
                if (!x.subtitle.path.empty()) files.push_back(bj::string(x.subtitle.path));
            if (!files.empty()) last_error_["files"] = std::move(files);
            // Refreshed, but the subtitle never showed.
            if (!job.item.rating_key.empty() && last_refresh_.contains("subtitle") &&
                last_refresh_["item"] == bj::value(job.key))
                last_refresh_["subtitle"] = "not_shown";
        }
    } else {
        if (it != queue_.end()) {
            it->item = job.item;  // a read-back keeps its place in the sequence
            it->checks = job.checks;
            it->attempts++;
            it->last_error = error;
            int64_t backoff_s = std::min<int64_t>(30, int64_t{1} << std::min(it->attempts - 1, 5));
            it->due_unix_ms = now_ms() + backoff_s * 1000;
        }
        if (outcome == Outcome::pause) stopped_ = error;
        std::lock_guard lock(status_mu_);
        last_error_ = bj::object{{"item", job.key}, {"at", iso(now_ms())}, {"message", error}};
    }
    if (!ok)
        session_.log().warn("Plex refresh of {}: {}{}", job.key, error,
                            outcome == Outcome::pause   ? " (paused until the settings change)"
                            : outcome == Outcome::retry ? " (will retry)"
                                                        : "");
    persist();
    schedule();
}

void Refresher::status(route::Call&, route::Reply reply) { reply.data(status_json()); }

boost::json::object Refresher::status_json() const {
    auto s = session_.settings().snapshot();
    bool signed_in = !s->stored_token().empty();
    bj::object out{{"enabled", s->use_plex},
                   {"signed_in", signed_in},
                   {"auth_method", settings::to_string(s->auth_method)},
                   {"username", s->username},
                   {"server", bj::object{{"name", s->server_name},
                                         {"url", session::Session::server_url(*s)},
                                         {"local", s->server_local},
                                         {"owned", s->server_owned}}}};
    auto account = session_.account_status();
    out["account"] = bj::object{
        {"state", session::to_string(account.state)},
        {"message", account.message},
        {"checked_at",
         account.checked_at > 0 ? bj::value(common::text::iso8601_utc(account.checked_at)) : bj::value(nullptr)},
        // A short-lived token's end (renewed a day before); null for a classic token.
        {"token_expires_at",
         s->token_expires_at > 0 ? bj::value(common::text::iso8601_utc(s->token_expires_at)) : bj::value(nullptr)}};
    // Whether refreshes can happen at all, and if not, why, in words.
    bool available = s->server_owned;
    out["refresh"] = bj::object{
        {"available", available},
        {"why", available ? bj::value(nullptr) : bj::value("Refreshes are off: " + std::string(kSharedServer) + ".")}};
    std::lock_guard lock(status_mu_);
    std::string state = !stopped_copy_.empty() ? "paused" : depth_ > 0 ? "working" : "idle";
    std::string words = !stopped_copy_.empty() ? "Refreshes are paused: " + stopped_copy_ + "."
                        : depth_ > 0           ? std::to_string(depth_) + " Plex refresh(es) waiting."
                                               : "Nothing waiting.";
    out["queue"] = bj::object{{"depth", depth_}, {"state", state}, {"message", words}};
    // How far the library index got: a large library takes a while to list.
    std::string index_words = index_state_ == "building"
                                  ? "Reading the Plex libraries: " + std::to_string(index_progress_.items) +
                                        " items so far (" + std::to_string(index_progress_.sections_done) + " of " +
                                        std::to_string(index_progress_.sections_total) + " libraries done)."
                              : index_state_ == "ready"  ? std::to_string(index_progress_.items) + " items indexed."
                              : index_state_ == "failed" ? "The Plex libraries could not be read: " + index_error_ + "."
                                                         : "Not read yet.";
    out["index"] = bj::object{{"state", index_state_},
                              {"items", index_progress_.items},
                              {"sections_done", index_progress_.sections_done},
                              {"sections_total", index_progress_.sections_total},
                              {"message", index_words}};
    out["last_refresh"] = last_refresh_.empty() ? bj::value(nullptr) : bj::value(last_refresh_);
    out["last_error"] = last_error_.empty() ? bj::value(nullptr) : bj::value(last_error_);
    return out;
}

}  // namespace pb::refresh

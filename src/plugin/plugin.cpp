#include "plugin/plugin.hpp"

#include <pthread.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <cstring>

#include "common/json.hpp"
#include "page/page.hpp"
#include "settings/schema.hpp"
#include "settings/settings.hpp"

namespace pb::plugin {

namespace bj = boost::json;

std::optional<std::string> check_host_compat(uint32_t host_version, std::size_t host_struct_size,
                                             uint32_t required_minor) {
    uint32_t major = PB_ABI_MAJOR(host_version);
    uint32_t minor = PB_ABI_MINOR(host_version);
    if (major != PB_ABI_VERSION_MAJOR)
        return "the host speaks plugin ABI " + std::to_string(major) + "." + std::to_string(minor) +
               " but this plugin needs ABI " + std::to_string(PB_ABI_VERSION_MAJOR) + ".x; install a matching version";
    if (minor < required_minor)
        return "the host speaks plugin ABI " + std::to_string(major) + "." + std::to_string(minor) +
               " but this plugin needs at least " + std::to_string(PB_ABI_VERSION_MAJOR) + "." +
               std::to_string(required_minor) + "; update the host";
    constexpr std::size_t needed = offsetof(pb_host_api, request_search) + sizeof(pb_host_api::request_search);
    if (host_struct_size < needed)
        return "the host's function table is " + std::to_string(host_struct_size) + " bytes, smaller than ABI " +
               std::to_string(major) + "." + std::to_string(minor) + " requires (" + std::to_string(needed) + ")";
    return std::nullopt;
}

static pb_str view(std::string_view s) { return pb_str{s.data(), s.size()}; }
static std::string_view view(pb_str s) { return std::string_view(s.data ? s.data : "", s.data ? s.len : 0); }
static void sink_to_string(void* ctx, pb_str v) { static_cast<std::string*>(ctx)->assign(view(v)); }

static pb_log_level to_abi(log::Level level) {
    switch (level) {
        case log::Level::debug: return PB_LOG_DEBUG;
        case log::Level::info: return PB_LOG_INFO;
        case log::Level::warning: return PB_LOG_WARNING;
        case log::Level::error: return PB_LOG_ERROR;
    }
    return PB_LOG_ERROR;
}

static pb_setting_type to_abi(settings::Type type) {
    switch (type) {
        case settings::Type::boolean: return PB_SETTING_BOOL;
        case settings::Type::integer: return PB_SETTING_INT;
        case settings::Type::string: return PB_SETTING_STRING;
        case settings::Type::string_list: return PB_SETTING_STRING_LIST;
        case settings::Type::json: return PB_SETTING_JSON;
    }
    return PB_SETTING_JSON;
}

static pb_setting_access to_abi(settings::Access access) {
    switch (access) {
        case settings::Access::user: return PB_SETTING_ACCESS_USER;
        case settings::Access::read_only: return PB_SETTING_ACCESS_READ_ONLY;
        case settings::Access::internal: return PB_SETTING_ACCESS_INTERNAL;
    }
    return PB_SETTING_ACCESS_INTERNAL;
}

// The JSON text of one key of the setting's description, or "" when it has
// none: the description (settings/schema.hpp) is the one place these
// shapes are written.
static std::string json_of(const boost::json::object& described, std::string_view key) {
    auto it = described.find(key);
    return it == described.end() ? std::string() : boost::json::serialize(it->value());
}

// Forgetting everything: each other profile forgets its own, one after
// the other, then the default profile's leaving goes on.
struct Plugin::ForgetProfiles : std::enable_shared_from_this<ForgetProfiles> {
    std::vector<std::shared_ptr<Unit>> others;
    std::size_t at = 0;
    std::vector<std::string> notes;
    std::function<void(std::vector<std::string>)> next;
    void go() {
        if (at == others.size()) return next(std::move(notes));
        auto u = others[at++];
        u->session->leave(session::Leaving::forget_everything, [self = shared_from_this(),
                                                                u](common::Result<std::vector<std::string>> r) {
            self->notes.push_back("profile " + u->id + ": " +
                                  (r ? "signed out, its settings and files deleted" : r.error().message));
            self->go();
        });
    }
};

Plugin::Plugin(const pb_host_api& host) : host_(host) {
    data_dir_ = std::string(view(host_.data_dir));
    log_ = std::make_unique<log::HostLog>(
        [host = host_](log::Level level, std::string_view line) {
            if (host.log) host.log(host.host_ctx, to_abi(level), view(line));
        },
        std::make_shared<log::SecretRegistry>());
}

Plugin::~Plugin() = default;

pb_status Plugin::init() {
    for (auto fn :
         {(void*)host_.register_setting, (void*)host_.register_route, (void*)host_.subscribe_event,
          (void*)host_.settings_read, (void*)host_.settings_write, (void*)host_.respond, (void*)host_.request_search}) {
        if (fn == nullptr) {
            log().error("not loaded: the host left a required function empty");
            return PB_ERR_INVALID_ARGUMENT;
        }
    }
    if (data_dir_.empty()) {
        log().error("not loaded: the host gave no data directory");
        return PB_ERR_INVALID_ARGUMENT;
    }
    session::Environment env;
    env.io = ioc_.get();
    env.log = log_->shared();
    env.secrets = log_->secrets_shared();
    env.data_dir = data_dir_;
    env.write_settings = [this](std::string_view patch) -> common::Status {
        std::string err;
        // The host calls settings_changed() on this thread before returning,
        // which refreshes the session's cache.
        if (host_.settings_write(host_.host_ctx, view(patch), sink_to_string, &err) != PB_OK)
            return common::Error(common::Errc::storage, err.empty() ? "the host could not store the settings" : err);
        return {};
    };
    auto opened = session::Session::open(std::move(env));
    if (!opened) {
        log().error("not loaded: {}", opened.error().message);
        return PB_ERR_IO;
    }
    std::unique_ptr<session::Session> session = std::move(*opened);
    session_ = session.get();
    // Settings first: the host must know them before it can hand them back.
    for (const auto& s : settings::table()) {
        pb_setting_desc d{};
        d.struct_size = sizeof d;
        d.name = view(s.name);
        d.type = to_abi(s.type);
        d.default_json = view(s.default_json);
        d.description = view(s.help);
        d.secret = s.secret ? 1 : 0;
        // 1.1: what a form needs. A 1.0 host reads only what it knows.
        const auto described = settings::describe(s);
        const std::string choices = json_of(described, "choices"), shown_when = json_of(described, "shown_when"),
                          fields = json_of(described, "fields");
        d.label = view(s.label);
        d.section = view(settings::name_of(s.section));
        d.access = to_abi(s.access);
        if (described.contains("min")) d.flags |= PB_SETTING_HAS_MIN, d.min = s.min;
        if (described.contains("max")) d.flags |= PB_SETTING_HAS_MAX, d.max = s.max;
        if (s.needs_restart) d.flags |= PB_SETTING_NEEDS_RESTART;
        d.unit = view(s.unit);
        d.format = view(settings::name_of(s.format));
        d.choices_json = view(choices);
        d.shown_when_json = view(shown_when);
        d.fields_json = view(fields);
        if (pb_status st = host_.register_setting(host_.host_ctx, &d); st != PB_OK) {
            log().error("not loaded: the host refused the setting {}", s.name);
            return st;
        }
    }
    std::string json;
    if (host_.settings_read(host_.host_ctx, sink_to_string, &json) != PB_OK) {
        log().error("not loaded: the host could not read the settings");
        return PB_ERR_IO;
    }
    session_->load(json);
    // Forgetting everything lets go of every profile first, each signed out
    // (its webhook off its account) and its files deleted: registered before
    // the features' steps, so that the default's webhook step then finds no
    // other profile of its account, and removes the webhook.
    session->on_leave([this](session::Leaving how, const std::string&, auto next) {
        if (how != session::Leaving::forget_everything) return next({});
        auto chain = std::make_shared<ForgetProfiles>();
        chain->others = units();
        chain->others.erase(chain->others.begin());
        chain->next = std::move(next);
        chain->go();
    });
    auto main = make_unit(std::move(session), &routes_);
    // A webhook goes to the profile whose server sent it.
    main->webhooks->route_to([this] {
        std::vector<webhooks::Webhooks*> to;
        for (const auto& u : working_units()) to.push_back(u->webhooks.get());
        return to;
    });
    {
        std::lock_guard lock(units_mu_);
        units_.push_back(main);
    }
    reconcile(session_->settings().all());
    // The page's files only for a host that shows pages (1.1, register_page
    // set): a 1.0 host refuses routes outside /api/, and would refuse the plugin.
    if (host_shows_pages()) page::add_routes(routes_);
    routes_.add("GET", "/api/plex/diagnostics", route::member_handler(this, &Plugin::diagnostics));
    routes_.add("GET", "/api/plex/settings", route::member_handler(this, &Plugin::page_settings_get));
    routes_.add("PATCH", "/api/plex/settings", route::member_handler(this, &Plugin::page_settings_patch));
    routes_.add("GET", "/api/plex/profiles", route::member_handler(this, &Plugin::profiles_list));
    routes_.add("POST", "/api/plex/profiles", route::member_handler(this, &Plugin::profiles_add));
    routes_.add("PATCH", "/api/plex/profiles/{id}", route::member_handler(this, &Plugin::profiles_rename));
    routes_.add("DELETE", "/api/plex/profiles/{id}", route::member_handler(this, &Plugin::profiles_remove));
    apply_log_level();
    return register_with_host();
}

pb_status Plugin::register_with_host() {
    for (const auto& r : routes_.routes()) {
        mounted_.push_back(Mounted{&r, this});
        pb_route_desc d{};
        d.struct_size = sizeof d;
        d.method = view(r.method);
        d.path_pattern = view(r.pattern);
        d.auth = r.auth == route::Auth::none ? PB_ROUTE_AUTH_NONE : PB_ROUTE_AUTH_HOST_APIKEY;
        d.max_body_bytes = r.max_body_bytes;
        d.handler = &Plugin::route_trampoline;
        d.route_ctx = &mounted_.back();
        if (pb_status st = host_.register_route(host_.host_ctx, &d); st != PB_OK) {
            log().error("not loaded: the host refused the route {} {}", r.method, r.pattern);
            return st;
        }
    }
    // 1.1: the page, for a host that shows plugin pages (else it draws the form).
    if (host_shows_pages()) {
        pb_page_desc page{};
        page.struct_size = sizeof page;
        page.title = view(page::kTitle);
        page.entry_path = view(page::kPath);
        if (pb_status st = host_.register_page(host_.host_ctx, &page); st != PB_OK)
            log().warn("the host refused the settings page ({}); its own form still configures the plugin",
                       static_cast<int>(st));
    }
    for (const auto& ev : refresh::kEvents) {
        if (pb_status st = host_.subscribe_event(host_.host_ctx, view(ev.name)); st != PB_OK) {
            log().error("not loaded: the host refused the event {}", ev.name);
            return st;
        }
    }
    return PB_OK;
}

pb_status Plugin::start() {
    work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
        ioc_->get_executor());
    thread_ = std::thread([this] {
        // Named for `top -H` and the host's diagnostics; Asio's resolver
        // thread, started from here, inherits the name.
        pthread_setname_np(pthread_self(), "plexbridge");
        while (!stopping_) {
            try {
                ioc_->run();
                return;
            } catch (const std::exception& e) {
                log().error("internal error, recovered: {}", e.what());
            }
        }
    });
    std::vector<std::shared_ptr<Unit>> now;
    {
        std::lock_guard lock(units_mu_);
        started_ = true;  // units made from now on start themselves
        now = units_;
    }
    boost::asio::post(*ioc_, [now] {
        for (const auto& u : now) start_unit(*u);
    });
    log().info("started (ABI {}.{})", PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR);
    return PB_OK;
}

void Plugin::destroy() {
    stopping_ = true;
    std::vector<std::shared_ptr<Unit>> all;
    {
        std::lock_guard lock(units_mu_);
        all = units_;
        all.insert(all.end(), retired_.begin(), retired_.end());
    }
    // Cancels what is in flight; the io thread then runs its handlers out.
    for (const auto& u : all) u->session->cancel_requests();
    work_.reset();
    ioc_->stop();
    if (thread_.joinable()) thread_.join();
    // Requests still waiting for an answer get one now: the host may not
    // hear from us after destroy returns.
    std::set<void*> left;
    {
        std::lock_guard lock(pending_mu_);
        left.swap(pending_);
    }
    auto closing = route::render(common::Error(common::Errc::unavailable, "the Plex plugin is shutting down"));
    for (auto* r : left) {
        pb_http_response resp{};
        resp.struct_size = sizeof resp;
        resp.status = static_cast<uint16_t>(closing.status);
        resp.body = view(closing.body);
        host_.respond(host_.host_ctx, static_cast<pb_responder*>(r), &resp);
    }
    // Work still queued (and the connections it owns) is destroyed now,
    // while everything it refers to is alive; its replies find nothing
    // pending and stay silent.
    for (const auto& u : all) {
        u->refresher->shutdown();
        u->session->shutdown();
    }
    ioc_.reset();
    {
        std::lock_guard lock(units_mu_);
        units_.clear();
        retired_.clear();
    }
    session_ = nullptr;
    all.clear();  // the last references: each unit's features, then its session
    log_->detach();
}

void Plugin::route_trampoline(void* ctx, const pb_http_request* req, pb_responder* responder) noexcept {
    auto* mounted = static_cast<Mounted*>(ctx);
    Plugin* self = mounted->plugin;
    const route::Route& route = *mounted->route;
    {
        std::lock_guard lock(self->pending_mu_);
        self->pending_.insert(responder);
    }
    try {
        pb_http_request r{};
        std::memcpy(&r, req, std::min<std::size_t>(req->struct_size, sizeof r));
        route::Call call;
        call.method = view(r.method);
        call.path = view(r.path);
        call.query = view(r.query);
        call.params = common::text::parse_query(call.query);
        call.headers.reserve(r.header_count);
        for (std::size_t i = 0; i < r.header_count && r.headers; ++i)
            call.headers.emplace_back(view(r.headers[i].name), view(r.headers[i].value));
        call.body = view(r.body);
        call.remote_address = view(r.remote_address);
        route::match_path(route.pattern, call.path, call.path_params);
        route::Reply reply(self, responder);
        if (self->stopping_)
            return reply.fail(common::Error(common::Errc::unavailable, "the Plex plugin is shutting down"));
        // Another profile's request: its own handler of this route; the
        // plugin's own routes read the profile themselves.
        // (The profiles' own routes and the diagnostics are the whole plugin's.)
        if (common::text::starts_with(route.pattern, "/api/plex/") &&
            !common::text::starts_with(route.pattern, "/api/plex/profiles") &&
            route.pattern != "/api/plex/diagnostics") {
            auto unit = self->unit_of(call, reply);
            if (!unit) return;
            // The legacy mode's and the key's routes are the whole plugin's.
            static constexpr std::string_view kWholePlugin[] = {"/api/plex/apikey", "/api/plex/encrypt-apikey",
                                                                "/api/plex/rotate-key", "/api/plex/migration"};
            if (unit->id != settings::kDefaultProfile &&
                std::find(std::begin(kWholePlugin), std::end(kWholePlugin), route.pattern) != std::end(kWholePlugin))
                return reply.fail(common::Error(common::Errc::bad_request,
                                                route.pattern + " is the whole plugin's, not a profile's: call it "
                                                                "without ?profile="));
            if (unit->id != settings::kDefaultProfile)
                for (const auto& r : unit->own_routes.routes())
                    if (r.method == route.method && r.pattern == route.pattern) return r.handler(call, reply);
        }
        route.handler(call, reply);
    } catch (const std::exception& e) {
        self->log().error("route {} failed: {}", route.pattern, e.what());
        auto a = route::render(common::Error(common::Errc::internal, "internal error"));
        self->answer(responder, a.status, "application/json", a.body, {});
    } catch (...) {
        auto a = route::render(common::Error(common::Errc::internal, "internal error"));
        self->answer(responder, a.status, "application/json", a.body, {});
    }
}

void Plugin::answer(void* responder, int status, std::string_view content_type, std::string_view body,
                    const route::Headers& headers) {
    {
        std::lock_guard lock(pending_mu_);
        if (pending_.erase(responder) == 0) return;  // answered already (or at destroy)
    }
    pb_http_response resp{};
    resp.struct_size = sizeof resp;
    resp.status = static_cast<uint16_t>(status);
    resp.content_type = view(content_type);
    resp.body = view(body);
    std::vector<pb_http_header> extra;
    extra.reserve(headers.size());
    for (const auto& [name, value] : headers) extra.push_back({view(name), view(value)});
    resp.headers = extra.data();
    resp.header_count = extra.size();
    host_.respond(host_.host_ctx, static_cast<pb_responder*>(responder), &resp);
}

webhooks::SearchOutcome Plugin::request_search(const webhooks::Media& m, std::string_view title,
                                               std::string_view reason) {
    const bool episode = m.kind == webhooks::Media::Kind::episode;
    pb_search_request req{};
    req.struct_size = sizeof req;
    req.media_type = episode ? PB_MEDIA_EPISODE : PB_MEDIA_MOVIE;
    req.imdb_id = view(m.series.imdb);
    req.tmdb_id = m.series.tmdb;
    req.tvdb_id = m.series.tvdb;
    req.season = episode ? m.season : -1;
    req.episode = episode ? m.number : -1;
    req.episode_tvdb_id = episode ? m.episode.tvdb : -1;
    req.episode_imdb_id = episode ? view(m.episode.imdb) : pb_str{nullptr, 0};
    req.title = view(title);
    req.reason = view(reason);
    switch (host_.request_search(host_.host_ctx, &req)) {
        case PB_SEARCH_QUEUED: return webhooks::SearchOutcome::queued;
        case PB_SEARCH_UNKNOWN_MEDIA: return webhooks::SearchOutcome::unknown_media;
        default: return webhooks::SearchOutcome::refused;
    }
}

void Plugin::on_event(std::string_view name, std::string_view payload) {
    // Every profile with a server gets it: the one whose libraries hold
    // the item refreshes it, the others let it go.
    auto to = working_units();
    for (const auto& u : to) {
        u->refresher->share_events(to.size() > 1);
        u->refresher->on_event(std::string(name), std::string(payload));
    }
}

pb_status Plugin::validate_settings(std::string_view candidate, std::string* error) const {
    auto v = common::json::parse_lenient(candidate);
    if (!v || !v->is_object()) {
        *error = "settings must be a JSON object" + (v ? std::string() : ": " + v.error().message);
        return PB_ERR_INVALID_ARGUMENT;
    }
    if (auto st = settings::validate(v->get_object()); !st) {
        *error = st.error().message;
        return PB_ERR_INVALID_ARGUMENT;
    }
    return PB_OK;
}

void Plugin::settings_changed(std::string_view js) {
    if (!session_) return;
    if (auto st = session_->settings_changed(js); !st) {
        log().error("{}; keeping the previous settings", st.error().message);
        return;
    }
    for (const auto& u : units()) {
        if (u->session.get() != session_) (void)u->session->settings_changed(js);
        u->refresher->settings_changed();
    }
    reconcile(session_->settings().all());
    apply_log_level();
    // A legacy token typed into a host's own form arrives in plain text:
    // sealed at once, off this thread (the sealing writes the settings
    // again, and comes back here to find nothing left to seal).
    if (!stopping_)
        boost::asio::post(*ioc_, [this] {
            if (auto sealed = session_->seal_plaintext_secrets(); !sealed)
                log().error("could not encrypt the Plex token: {}", sealed.error().message);
        });
}

bool Plugin::host_shows_pages() const {
    return PB_ABI_MINOR(host_.abi_version) >= 1 && PB_HAS_FIELD(&host_, pb_host_api, register_page) &&
           host_.register_page != nullptr;
}

void Plugin::apply_log_level() {
    const std::string& level = session_->settings().snapshot()->log_level;
    log_->set_level(level == "debug"     ? log::Level::debug
                    : level == "warning" ? log::Level::warning
                    : level == "error"   ? log::Level::error
                                         : log::Level::info);
}

}  // namespace pb::plugin

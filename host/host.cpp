#include "host.hpp"

#include <pthread.h>

#include <dlfcn.h>
#include <sys/stat.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <array>
#include <cstring>
#include <iostream>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "common/web.hpp"

namespace pb::host::web {
std::span<const common::web::File> files();  // generated from host/web/
}

namespace pb::host {

namespace bj = boost::json;

namespace {

std::string str(pb_str s) { return std::string(s.data ? s.data : "", s.len); }
pb_str view(const std::string& s) { return pb_str{s.data(), s.size()}; }

Host* self(void* ctx) { return static_cast<Host*>(ctx); }

// The ABI table: captureless, noexcept, nothing thrown across.
void c_log(void* ctx, pb_log_level level, pb_str message) {
    try {
        self(ctx)->log(level, std::string_view(message.data ? message.data : "", message.len));
    } catch (...) {}
}
pb_status c_register_setting(void* ctx, const pb_setting_desc* d) {
    try {
        return d ? self(ctx)->add_setting(*d) : PB_ERR_INVALID_ARGUMENT;
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}
pb_status c_register_route(void* ctx, const pb_route_desc* d) {
    try {
        return d ? self(ctx)->add_route(*d) : PB_ERR_INVALID_ARGUMENT;
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}
pb_status c_subscribe(void* ctx, pb_str name) {
    try {
        return self(ctx)->add_subscription(str(name));
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}
pb_status c_register_page(void* ctx, const pb_page_desc* d) {
    try {
        return d ? self(ctx)->add_page(*d) : PB_ERR_INVALID_ARGUMENT;
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}
pb_status c_settings_read(void* ctx, pb_str_sink sink, void* sink_ctx) {
    try {
        return self(ctx)->read_settings(sink, sink_ctx);
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}
pb_status c_settings_write(void* ctx, pb_str patch, pb_str_sink es, void* ec) {
    try {
        return self(ctx)->write_settings(std::string_view(patch.data ? patch.data : "", patch.len), es, ec);
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}

// The host side's pb_str_sink: copies the plugin's string into a std::string.
void sink_to_string(void* ctx, pb_str m) { static_cast<std::string*>(ctx)->assign(m.data ? m.data : "", m.len); }

struct Pending {  // what a pb_responder* points to
    httpserver::Responder respond;
};

void c_respond(void*, pb_responder* r, const pb_http_response* resp) {
    auto* p = reinterpret_cast<Pending*>(r);
    try {
        pb_http_response copy{};
        std::memcpy(&copy, resp, std::min<std::size_t>(resp->struct_size, sizeof copy));
        httpserver::Response out;
        out.status = copy.status;
        out.content_type = copy.content_type.len ? str(copy.content_type) : "application/json";
        for (std::size_t i = 0; i < copy.header_count; ++i)
            out.headers.emplace_back(str(copy.headers[i].name), str(copy.headers[i].value));
        out.body = str(copy.body);
        p->respond(std::move(out));
    } catch (...) {}
    delete p;
}

pb_search_outcome c_search(void* ctx, const pb_search_request* r) {
    try {
        return r ? self(ctx)->search(*r) : PB_SEARCH_REFUSED;
    } catch (...) {
        return PB_SEARCH_REFUSED;
    }
}

httpserver::Response json_response(int status, const bj::value& v) {
    return httpserver::Response{status,
                                "application/json",
                                {{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}},
                                bj::serialize(v)};
}
httpserver::Response error_response(int status, const std::string& code, const std::string& message) {
    return json_response(status, bj::object{{"error", message}, {"code", code}});
}

}  // namespace

Host::Host(HostOptions options) : opts_(std::move(options)) {}
Host::~Host() { stop(); }

void Host::log(pb_log_level level, std::string_view message) {
    static const char* names[] = {"?", "debug", "info", "warning", "error"};
    std::string line = std::string(names[level >= 1 && level <= 4 ? level : 0]) + " " + std::string(message);
    {
        std::lock_guard lock(mu_);
        log_lines_.push_back(line);
        if (log_lines_.size() > 2000) log_lines_.pop_front();
    }
    if (level >= PB_LOG_INFO) std::cerr << "plexbridge-host: " << line << "\n";
}

pb_status Host::add_setting(const pb_setting_desc& in) {
    if (!registering_) return PB_ERR_INVALID_ARGUMENT;
    pb_setting_desc d{};
    std::memcpy(&d, &in, std::min<std::size_t>(in.struct_size, sizeof d));
    std::string name = str(d.name);
    boost::system::error_code ec;
    bj::value def = bj::parse(str(d.default_json), ec);
    if (name.empty() || ec) return PB_ERR_INVALID_ARGUMENT;
    // A type from a later minor is kept as JSON and never drawn (the
    // header's rule for unknown values; the access below says internal).
    static const char* types[] = {"json", "bool", "int", "string", "string_list", "json"};
    const bool known_type = d.type >= 1 && d.type <= 5;
    bj::object desc{{"name", name},
                    {"type", types[known_type ? d.type : 0]},
                    {"default", def},
                    {"description", str(d.description)},
                    {"secret", d.secret != 0}};
    // 1.1: what the form needs, rebuilt into the manifest's shape
    // (docs/host-integration.md, "Drawing a form"). A 1.0 plugin has none.
    if (PB_HAS_FIELD(&d, pb_setting_desc, fields_json)) {
        // 0 (not said) is the user's; a value from a later ABI is not drawn.
        static const char* access[] = {"user", "user", "read_only", "internal"};
        desc["label"] = str(d.label);
        desc["section"] = str(d.section);
        desc["access"] = d.access > 3 || !known_type ? "internal" : access[d.access];
        if (d.flags & PB_SETTING_HAS_MIN) desc["min"] = d.min;
        if (d.flags & PB_SETTING_HAS_MAX) desc["max"] = d.max;
        if (d.unit.len > 0) desc["unit"] = str(d.unit);
        if (d.format.len > 0) desc["format"] = str(d.format);
        // The JSON parts are hints for the form: one that does not parse is
        // left out (and said), the setting itself still works.
        for (auto [key, text] : {std::pair{"choices", d.choices_json}, std::pair{"fields", d.fields_json},
                                 std::pair{"shown_when", d.shown_when_json}}) {
            if (text.len == 0) continue;
            bj::value v = bj::parse(str(text), ec);
            if (ec) {
                log(PB_LOG_WARNING, "setting " + name + ": its " + key + " is not JSON; the form goes without it");
                continue;
            }
            desc[key] = std::move(v);
        }
        if (d.flags & PB_SETTING_NEEDS_RESTART) desc["needs_restart"] = true;
    }
    settings_.register_setting(name, def, d.secret != 0, std::move(desc));
    return PB_OK;
}

// The host's own paths: no plugin route is ever matched there, whatever
// its pattern, so a plugin cannot stand in for the sign-in or the settings.
static bool host_path(std::string_view path) {
    using common::text::starts_with;
    return path == "/" || path == "/login" || starts_with(path, "/host/") || starts_with(path, "/api/host/") ||
           starts_with(path, "/api/settings/");
}

pb_status Host::add_route(const pb_route_desc& in) {
    if (!registering_) return PB_ERR_INVALID_ARGUMENT;
    pb_route_desc d{};
    std::memcpy(&d, &in, std::min<std::size_t>(in.struct_size, sizeof d));
    RouteEntry e{str(d.method), str(d.path_pattern), d.auth, d.max_body_bytes ? d.max_body_bytes : 64 * 1024,
                 d.handler,     d.route_ctx};
    // API routes under /api/, a page's files under /plugins/ (1.1); the
    // host's own paths (host_path) stay its own.
    bool api = common::text::starts_with(e.pattern, "/api/") && !host_path(e.pattern);
    bool page = common::text::starts_with(e.pattern, "/plugins/");
    if (e.method.empty() || !(api || page) || e.handler == nullptr) return PB_ERR_INVALID_ARGUMENT;
    // Only an explicit PB_ROUTE_AUTH_NONE is public; 0 or a value from a
    // later minor reads as the safe one (the header's rule for unknown values).
    if (e.auth != PB_ROUTE_AUTH_NONE) e.auth = PB_ROUTE_AUTH_HOST_APIKEY;
    routes_.push_back(std::move(e));
    return PB_OK;
}

pb_status Host::add_subscription(std::string name) {
    if (!registering_) return PB_ERR_INVALID_ARGUMENT;
    if (name.empty()) return PB_ERR_INVALID_ARGUMENT;
    subscriptions_.push_back(std::move(name));
    return PB_OK;
}

pb_status Host::add_page(const pb_page_desc& in) {
    if (!registering_) return PB_ERR_INVALID_ARGUMENT;
    pb_page_desc d{};
    std::memcpy(&d, &in, std::min<std::size_t>(in.struct_size, sizeof d));
    Page p{str(d.title), str(d.entry_path)};
    if (p.title.empty() || !common::text::starts_with(p.path, "/plugins/")) return PB_ERR_INVALID_ARGUMENT;
    page_ = std::move(p);
    return PB_OK;
}

pb_status Host::read_settings(pb_str_sink sink, void* ctx) {
    std::string s = bj::serialize(settings_.snapshot());
    sink(ctx, view(s));
    return PB_OK;
}

pb_status Host::write_settings(std::string_view patch_text, pb_str_sink error_sink, void* error_ctx) {
    auto fail = [&](pb_status st, const std::string& msg) {
        if (error_sink) error_sink(error_ctx, view(msg));
        return st;
    };
    auto v = common::json::parse_lenient(patch_text);
    if (!v || !v->is_object()) return fail(PB_ERR_INVALID_ARGUMENT, "settings patch must be a JSON object");
    std::string err;
    if (!settings_.merge(v->get_object(), &err)) return fail(PB_ERR_IO, err);
    if (plugin_loaded_ && plugin_.settings_changed) {
        std::string all = bj::serialize(settings_.snapshot());
        plugin_.settings_changed(plugin_.plugin_ctx, view(all));
    }
    return PB_OK;
}

pb_search_outcome Host::search(const pb_search_request& in) {
    pb_search_request r{};
    std::memcpy(&r, &in, std::min<std::size_t>(in.struct_size, sizeof r));
    SearchRecord rec;
    rec.media_type = r.media_type == PB_MEDIA_MOVIE ? "movie" : r.media_type == PB_MEDIA_EPISODE ? "episode" : "?";
    rec.imdb = str(r.imdb_id);
    rec.tmdb = r.tmdb_id;
    rec.tvdb = r.tvdb_id;
    rec.season = r.season;
    rec.episode = r.episode;
    rec.episode_tvdb = r.episode_tvdb_id;
    rec.episode_imdb = str(r.episode_imdb_id);
    rec.title = str(r.title);
    rec.reason = str(r.reason);
    bool known = catalog_ && catalog_->knows(r);
    rec.outcome = known ? "queued" : "unknown_media";
    {
        std::lock_guard lock(mu_);
        searches_.push_back(rec);
        if (searches_.size() > 1000) searches_.pop_front();
    }
    log(PB_LOG_DEBUG, "subtitle search " + rec.outcome + " for " + rec.media_type + " " + rec.title);
    return known ? PB_SEARCH_QUEUED : PB_SEARCH_UNKNOWN_MEDIA;
}

std::vector<SearchRecord> Host::searches() const {
    std::lock_guard lock(mu_);
    return {searches_.begin(), searches_.end()};
}

std::vector<std::string> Host::log_lines() const {
    std::lock_guard lock(mu_);
    return {log_lines_.begin(), log_lines_.end()};
}

bool Host::start(std::string* error) {
    auto fail = [&](const std::string& m) {
        if (error) *error = m;
        return false;
    };
    if (opts_.data_dir.empty()) return fail("--data-dir is required");
    ::mkdir(opts_.data_dir.c_str(), 0700);
    if (!settings_.open(common::fs::join(opts_.data_dir, "settings.json"), error)) return false;
    if (auto n = settings_.notice(); !n.empty()) log(PB_LOG_WARNING, n);

    // API key: given, else stored, else generated and stored.
    std::string key_path = common::fs::join(opts_.data_dir, "host-apikey");
    apikey_ = opts_.apikey;
    if (apikey_.empty()) {
        if (auto k = common::fs::read_file(key_path)) apikey_ = std::string(common::text::trim(*k));
        if (apikey_.empty()) {
            apikey_ = common::text::random_hex(16);
            if (auto st = common::fs::atomic_write(key_path, apikey_, 0600); !st)
                return fail("cannot store the API key: " + st.error().message);
            std::cerr << "plexbridge-host: generated API key " << apikey_ << " (stored in " << key_path << ")\n";
        }
    }
    if (!opts_.catalog_path.empty()) {
        catalog_ = Catalog::load(opts_.catalog_path, error);
        if (!catalog_) return false;
    }

    // Load and negotiate.
    lib_ = ::dlopen(opts_.plugin_path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!lib_) return fail(std::string("cannot load the plugin: ") + ::dlerror());
    auto version_fn = reinterpret_cast<pb_abi_version_fn>(::dlsym(lib_, PB_ABI_VERSION_SYMBOL));
    auto entry_fn = reinterpret_cast<pb_entry_fn>(::dlsym(lib_, PB_ENTRY_SYMBOL));
    if (!version_fn || !entry_fn) return fail(opts_.plugin_path + " is not a plexbridge plugin (missing entry points)");
    uint32_t v = version_fn();
    if (PB_ABI_MAJOR(v) != PB_ABI_VERSION_MAJOR)
        return fail("the plugin speaks ABI " + std::to_string(PB_ABI_MAJOR(v)) + "." + std::to_string(PB_ABI_MINOR(v)) +
                    ", this host speaks " + std::to_string(PB_ABI_VERSION_MAJOR) + "." +
                    std::to_string(PB_ABI_VERSION_MINOR) + ": not loaded");
    PB_STRUCT_INIT(host_api_);
    host_api_.abi_version = PB_ABI_VERSION;
    host_api_.host_ctx = this;
    host_api_.host_name = view(host_name_);
    host_api_.data_dir = view(opts_.data_dir);
    host_api_.log = c_log;
    host_api_.register_setting = c_register_setting;
    host_api_.register_route = c_register_route;
    host_api_.subscribe_event = c_subscribe;
    host_api_.settings_read = c_settings_read;
    host_api_.settings_write = c_settings_write;
    host_api_.respond = c_respond;
    host_api_.request_search = c_search;
    host_api_.register_page = c_register_page;
    PB_STRUCT_INIT(plugin_);
    registering_ = true;  // registrations count only during the entry call (the ABI's rule)
    pb_status st = entry_fn(&host_api_, &plugin_);
    registering_ = false;
    if (st != PB_OK) return fail("the plugin refused to load (status " + std::to_string(st) + "); see the log above");
    plugin_loaded_ = true;

    // Presets (--set plex.KEY=VALUE): JSON values, or plain strings.
    if (!opts_.presets.empty()) {
        bj::object patch;
        for (const auto& [k, val] : opts_.presets) {
            boost::system::error_code ec;
            bj::value jv = bj::parse(val, ec);
            patch[k] = ec ? bj::value(bj::string(val)) : jv;
        }
        std::string candidate = bj::serialize(settings_.preview(patch));
        std::string verr;
        if (plugin_.validate_settings(plugin_.plugin_ctx, view(candidate), sink_to_string, &verr) != PB_OK)
            return fail("--set: " + verr);
        std::string ignored;
        if (write_settings(bj::serialize(patch), nullptr, nullptr) != PB_OK)
            return fail("--set: cannot store settings");
    }

    std::vector<boost::asio::io_context*> contexts;
    for (int i = 0; i < std::max(1, opts_.threads); ++i) {
        iocs_.push_back(std::make_unique<boost::asio::io_context>(1));
        contexts.push_back(iocs_.back().get());
    }
    http_ = std::make_unique<httpserver::HttpServer>(*iocs_.front(), contexts);
    auto colon = opts_.listen.rfind(':');
    if (colon == std::string::npos) return fail("--listen must be ADDR:PORT");
    httpserver::ListenOptions lo;
    lo.address = opts_.listen.substr(0, colon);
    if (!lo.address.empty() && lo.address.front() == '[') lo.address = lo.address.substr(1, lo.address.size() - 2);
    lo.port = static_cast<uint16_t>(std::atoi(opts_.listen.c_str() + colon + 1));
    lo.server_header = "plexbridge-host";
    lo.handler = [this](httpserver::Request&& r, httpserver::Responder respond) {
        handle(std::move(r), std::move(respond));
    };
    lo.body_limit = [this](const std::string& method, const std::string& target) -> std::size_t {
        std::string_view path = std::string_view(target).substr(0, target.find('?'));
        if (const RouteEntry* e = find_route(method, path)) return e->max_body;
        return 1024 * 1024;
    };
    std::string err;
    port_ = http_->listen(lo, &err);
    if (port_ == 0) return fail(err);
    if (plugin_.start && plugin_.start(plugin_.plugin_ctx) != PB_OK) return fail("the plugin failed to start");
    for (auto& ioc : iocs_) {
        // Idle contexts (no connection yet) must keep running.
        threads_.emplace_back([c = ioc.get()] {
            pthread_setname_np(pthread_self(), "host-http");
            auto guard = boost::asio::make_work_guard(*c);
            c->run();
        });
    }
    return true;
}

void Host::stop() {
    if (http_) http_->stop();
    // No route may be running in the plugin while it is destroyed: the HTTP
    // threads are stopped and joined first (a handler in progress finishes).
    // Answers the plugin gives while it stops go to stopped contexts and are
    // dropped with them: their connections are closing anyway.
    for (auto& ioc : iocs_) ioc->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    if (plugin_loaded_) {
        plugin_loaded_ = false;
        plugin_.destroy(plugin_.plugin_ctx);
    }
    http_.reset();
    // Last to first: connections on the workers hold their listener, whose
    // acceptor lives on the first context, so that one must go last.
    while (!iocs_.empty()) iocs_.pop_back();
    // The plugin's code must stay mapped until nothing references it; the
    // host process is ending anyway, so dlclose only after everything stopped.
    if (lib_) {
        ::dlclose(lib_);
        lib_ = nullptr;
    }
}

// The API key a request presents: the X-API-KEY header; "" when none.
// Never the query string: an address ends up in access logs, proxies and
// browser history, where a key must not.
static std::string presented_key(const httpserver::Request& req) { return req.header("X-API-KEY"); }

static bool key_in_query(const httpserver::Request& req) {
    return req.query.find("apikey") != std::string::npos &&
           common::text::query_get(common::text::parse_query(req.query), "apikey").has_value();
}

Host::Caller Host::caller(const httpserver::Request& req, const std::string& key, std::string* csrf) const {
    if (!key.empty()) {
        if (common::text::constant_time_equals(key, apikey_)) return Caller::api_key;
        // A wrong key counts against the address, wherever it was tried.
        browsers_.login_failed(req.remote_address);
        return Caller::nobody;
    }
    if (auto token = browsers_.check(cookie_value(req.header("Cookie"), kSessionCookie))) {
        *csrf = std::move(*token);
        return Caller::browser;
    }
    return Caller::nobody;
}

const Host::RouteEntry* Host::find_route(std::string_view method, std::string_view path) const {
    for (const auto& r : routes_)
        if (r.method == method && common::text::match_path(r.pattern, path)) return &r;
    return nullptr;
}

bool Host::fire_event(const std::string& name, const std::string& payload, std::string* error) {
    if (std::find(subscriptions_.begin(), subscriptions_.end(), name) == subscriptions_.end()) {
        if (error) *error = "the plugin does not subscribe to " + name;
        return false;
    }
    pb_event e{};
    e.struct_size = sizeof e;
    e.name = view(name);
    e.payload_json = view(payload);
    plugin_.on_event(plugin_.plugin_ctx, &e);
    return true;
}

static httpserver::Response too_many_attempts(int wait) {
    auto r =
        error_response(429, "HOST_TOO_MANY_ATTEMPTS",
                       "Too many wrong API keys from this address; try again in " + std::to_string(wait) + " seconds.");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
}

void Host::handle(httpserver::Request&& req, httpserver::Responder respond) {
    const RouteEntry* route = host_path(req.path) ? nullptr : find_route(req.method, req.path);
    // A route the plugin authenticates itself (Plex's webhooks, whose
    // ?apikey= is the plugin's own key, not ours) goes straight to it.
    if (route != nullptr && route->auth == PB_ROUTE_AUTH_NONE) return dispatch(*route, req, std::move(respond));
    const bool sign_in = req.method == "POST" && req.path == "/api/host/login";
    const std::string key = presented_key(req);
    // An address that guessed wrong ten times waits, whichever way it
    // presents a key (header, parameter or the sign-in page).
    if (!key.empty() || sign_in)
        if (int wait = browsers_.wait_before_login(req.remote_address); wait > 0)
            return respond(too_many_attempts(wait));
    std::string csrf;
    const Caller who = caller(req, key, &csrf);
    // Public: the sign-in page and what it loads, and the sign-in itself
    // (the key in its body is its authentication).
    const bool is_public =
        route == nullptr &&
        ((req.method == "GET" && (req.path == "/login" || common::text::starts_with(req.path, "/host/"))) || sign_in);
    const bool wants_page = req.method == "GET" && req.header("Accept").find("text/html") != std::string::npos;
    if (!is_public && who == Caller::nobody && key_in_query(req))
        return respond(error_response(401, "HOST_KEY_IN_QUERY",
                                      "This host does not take the API key in the address (it would be kept in "
                                      "logs and browser history): send it in the X-API-KEY header instead."));
    if (!is_public && who == Caller::nobody) {
        // A person opening a page is sent to sign in and brought back; a program gets 401.
        if (wants_page) {
            std::string back = req.path + (req.query.empty() ? "" : "?" + req.query);
            return respond(httpserver::Response{
                303, "text/plain", {{"Location", "/login?next=" + common::text::url_encode(back)}}, ""});
        }
        return respond(error_response(401, "HOST_UNAUTHORIZED",
                                      "missing or wrong API key (send it in the X-API-KEY header), or no "
                                      "browser session (sign in at /login)"));
    }
    // SameSite=Strict keeps the cookie off other sites' requests, but not
    // off requests from other ports of this host name (another web app on
    // the same machine): an unsafe request must also carry the token only
    // this host's pages can read.
    const bool safe = req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS";
    if (who == Caller::browser && !safe && !sign_in &&
        !common::text::constant_time_equals(req.header(kCsrfHeader), csrf))
        return respond(
            error_response(403, "HOST_CSRF", "the request did not carry this page's CSRF token; reload the page"));
    if (who == Caller::browser && wants_page) {
        // Each page a signed-in browser opens gets the token again, so a
        // lost or overwritten cookie heals with a reload.
        respond = [inner = std::move(respond), cookie = csrf_cookie(csrf)](httpserver::Response r) {
            r.headers.emplace_back("Set-Cookie", cookie);
            inner(std::move(r));
        };
    }
    if (route == nullptr && who != Caller::nobody && req.method == "GET" && page_ && req.path + "/" == page_->path)
        return respond(httpserver::Response{308, "text/plain", {{"Location", page_->path}}, ""});

    if (route == nullptr) return handle_host(req, respond);
    dispatch(*route, req, std::move(respond));
}

void Host::dispatch(const RouteEntry& route, httpserver::Request& req, httpserver::Responder respond) {
    // On the stack for any ordinary request (Beast limits the header to 16 KB anyway).
    std::array<pb_http_header, 48> fixed;
    std::vector<pb_http_header> many;
    pb_http_header* headers = fixed.data();
    if (req.headers.size() > fixed.size()) {
        many.resize(req.headers.size());
        headers = many.data();
    }
    for (std::size_t i = 0; i < req.headers.size(); ++i)
        headers[i] = {view(req.headers[i].first), view(req.headers[i].second)};
    pb_http_request r{};
    r.struct_size = sizeof r;
    r.method = view(req.method);
    r.path = view(req.path);
    r.query = view(req.query);
    r.headers = headers;
    r.header_count = req.headers.size();
    r.body = view(req.body);
    r.remote_address = view(req.remote_address);
    auto* pending = new Pending{std::move(respond)};
    route.handler(route.ctx, &r, reinterpret_cast<pb_responder*>(pending));
}

std::string Host::csrf_cookie(const std::string& token) {
    // Readable by the page's scripts on purpose: they echo it in kCsrfHeader.
    return std::string(kCsrfCookie) + "=" + token + "; Path=/; SameSite=Strict";
}

void Host::login(httpserver::Request& req, httpserver::Responder& respond) {
    auto v = common::json::parse_lenient(req.body);
    auto key = v ? common::json::get_string(*v, "apikey") : std::nullopt;
    if (!key || key->empty()) return respond(error_response(400, "HOST_BAD_REQUEST", "expected {\"apikey\": \"...\"}"));
    if (!common::text::constant_time_equals(*key, apikey_)) {
        browsers_.login_failed(req.remote_address);
        return respond(error_response(401, "HOST_UNAUTHORIZED",
                                      "That is not this host's API key. It was printed when the host first "
                                      "started and is stored in host-apikey in its data directory."));
    }
    browsers_.login_succeeded(req.remote_address);
    // A new session each time: one the browser brought is not reused.
    browsers_.close(cookie_value(req.header("Cookie"), kSessionCookie));
    auto l = browsers_.open();
    if (!l) return respond(error_response(500, "HOST_INTERNAL", "could not start a session: no random numbers"));
    httpserver::Response r{204, "", {}, ""};
    r.headers.emplace_back("Set-Cookie",
                           std::string(kSessionCookie) + "=" + l->session + "; Path=/; HttpOnly; SameSite=Strict");
    r.headers.emplace_back("Set-Cookie", csrf_cookie(l->csrf));
    r.headers.emplace_back("Cache-Control", "no-store");
    respond(std::move(r));
}

void Host::handle_host(httpserver::Request& req, httpserver::Responder& respond) {
    // The host's pages: / (the plugins and their forms), /login, /host/<file>.
    if (req.method == "GET" &&
        (req.path == "/" || req.path == "/login" || common::text::starts_with(req.path, "/host/"))) {
        std::string name = req.path == "/" ? "index.html" : req.path == "/login" ? "login.html" : req.path.substr(6);
        const common::web::File* f = common::web::find(web::files(), name);
        if (f == nullptr || name.empty()) return respond(error_response(404, "HOST_NOT_FOUND", "no page " + req.path));
        auto a = common::web::answer(*f, req.header("If-None-Match"));
        return respond(
            httpserver::Response{a.status, std::string(a.content_type), std::move(a.headers), std::string(a.body)});
    }
    if (req.path == "/api/host/login" && req.method == "POST") return login(req, respond);
    if (req.path == "/api/host/logout" && req.method == "POST") {
        browsers_.close(cookie_value(req.header("Cookie"), kSessionCookie));
        httpserver::Response r{204, "", {}, ""};
        r.headers.emplace_back("Set-Cookie",
                               std::string(kSessionCookie) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
        r.headers.emplace_back("Set-Cookie", std::string(kCsrfCookie) + "=; Path=/; Max-Age=0; SameSite=Strict");
        return respond(std::move(r));
    }
    if (req.path == "/api/host/status" && req.method == "GET") {
        bj::array notices;
        if (auto n = settings_.notice(); !n.empty()) notices.push_back(bj::string(n));
        return respond(json_response(200, bj::object{{"data", {{"notices", std::move(notices)}}}}));
    }
    if (req.path == "/api/host/plugins" && req.method == "GET") {
        bj::object p{{"id", str(plugin_.plugin_id)},
                     {"name", str(plugin_.plugin_id)},
                     {"version", str(plugin_.plugin_version)},
                     {"settings", "/api/settings/plex"},
                     {"page", page_ ? bj::value(bj::object{{"title", page_->title}, {"path", page_->path}})
                                    : bj::value(nullptr)}};
        return respond(json_response(200, bj::object{{"data", bj::array{p}}}));
    }
    if (req.path == "/api/settings/plex" && req.method == "GET")
        return respond(json_response(200, bj::object{{"data", settings_.masked()}, {"schema", settings_.schema()}}));
    if (req.path == "/api/settings/plex" && (req.method == "PATCH" || req.method == "POST")) {
        auto v = common::json::parse_lenient(req.body);
        if (!v || !v->is_object())
            return respond(error_response(400, "HOST_BAD_REQUEST", "the body must be a JSON object"));
        bj::object patch = v->get_object();
        // A masked secret sent back unchanged means "keep it".
        for (auto it = patch.begin(); it != patch.end();)
            it = it->value().is_string() && it->value().get_string() == "********" ? patch.erase(it) : std::next(it);
        std::string candidate = bj::serialize(settings_.preview(patch));
        std::string err;
        if (plugin_.validate_settings(plugin_.plugin_ctx, view(candidate), sink_to_string, &err) != PB_OK) {
            // The ABI's convention: "name: why" when one setting is at fault,
            // so the form can show the message next to that field.
            bj::object body{{"error", err}, {"code", "PLEX_INVALID_SETTING"}};
            auto colon = err.find(": ");
            if (colon != std::string::npos && settings_.knows(err.substr(0, colon)))
                body["field"] = err.substr(0, colon);
            return respond(json_response(400, body));
        }
        std::string werr;
        if (write_settings(bj::serialize(patch), sink_to_string, &werr) != PB_OK)
            return respond(error_response(500, "HOST_STORAGE", "could not store the settings: " + werr));
        return respond(json_response(200, bj::object{{"data", settings_.masked()}}));
    }
    if (req.path == "/api/host/events" && req.method == "POST") {
        auto v = common::json::parse_lenient(req.body);
        auto name = v ? common::json::get_string(*v, "event") : std::nullopt;
        if (!name)
            return respond(error_response(400, "HOST_BAD_REQUEST",
                                          "expected {\"event\": \"subtitle.downloaded\", \"media\": {...}}"));
        const bj::value* media = common::json::find(*v, "media");
        std::string payload = media ? bj::serialize(*media) : "{}";
        std::string err;
        if (!fire_event(*name, payload, &err)) return respond(error_response(400, "HOST_UNKNOWN_EVENT", err));
        return respond(json_response(202, bj::object{{"data", {{"fired", *name}}}}));
    }
    if (req.path == "/api/host/searches" && req.method == "GET") {
        bj::array a;
        for (const auto& s : searches())
            a.push_back({{"media_type", s.media_type},
                         {"imdb", s.imdb},
                         {"tmdb", s.tmdb},
                         {"tvdb", s.tvdb},
                         {"season", s.season},
                         {"episode", s.episode},
                         {"episode_tvdb", s.episode_tvdb},
                         {"episode_imdb", s.episode_imdb},
                         {"title", s.title},
                         {"reason", s.reason},
                         {"outcome", s.outcome}});
        return respond(json_response(200, bj::object{{"data", a}}));
    }
    respond(error_response(404, "HOST_NOT_FOUND", "no route " + req.method + " " + req.path));
}

}  // namespace pb::host

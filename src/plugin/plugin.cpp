#include "plugin/plugin.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <cstring>

#include "auth/auth_routes.hpp"
#include "common/json_util.hpp"
#include "discovery/discovery_routes.hpp"
#include "refresh/refresher.hpp"
#include "webhooks/webhook_routes.hpp"

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

Plugin::Plugin(const pb_host_api& host) : host_(host) {
    data_dir_ = std::string(host_.data_dir.data ? host_.data_dir.data : "", host_.data_dir.len);
    log_ = std::make_unique<log::HostLog>(&host_, std::make_shared<log::SecretRegistry>());
}

Plugin::~Plugin() = default;

static void sink_to_string(void* ctx, pb_str v) { static_cast<std::string*>(ctx)->assign(v.data ? v.data : "", v.len); }

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
    std::string err;
    vault_ = vault::Vault::open(data_dir_, &err);
    if (!vault_) {
        log().error("not loaded: {}", err);
        return PB_ERR_IO;
    }
    for (const auto& s : settings::schema()) {
        pb_setting_desc d{};
        d.struct_size = sizeof d;
        d.name = pb_str{s.name, std::strlen(s.name)};
        d.type = s.type;
        d.default_json = pb_str{s.default_json, std::strlen(s.default_json)};
        d.description = pb_str{s.description, std::strlen(s.description)};
        d.secret = s.secret ? 1 : 0;
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
    settings_changed(json);
    // One identity per installation, kept across restarts.
    if (settings().client_identifier.empty()) {
        bj::object patch{{"client_identifier", text::random_hex(16)}};
        if (!write_settings(patch, &err)) log().warn("could not store the client identifier: {}", err);
    }
    auth_ = std::make_unique<AuthRoutes>(*this);
    auth_->register_routes();
    discovery_ = std::make_unique<discovery::DiscoveryRoutes>(*this);
    discovery_->register_routes();
    refresher_ = std::make_shared<refresh::Refresher>(*this);
    refresher_->register_routes();
    refresher_->load();
    webhooks_ = std::make_unique<webhooks::WebhookRoutes>(*this);
    webhooks_->register_routes(static_cast<uint64_t>(settings().webhook_max_body_bytes));
    for (auto& r : routes_) {
        pb_route_desc d{};
        d.struct_size = sizeof d;
        d.method = pb_str{r.method.data(), r.method.size()};
        d.path_pattern = pb_str{r.pattern.data(), r.pattern.size()};
        d.auth = r.auth;
        d.max_body_bytes = r.max_body_bytes;
        d.handler = &Plugin::route_trampoline;
        d.route_ctx = &r;
        if (pb_status st = host_.register_route(host_.host_ctx, &d); st != PB_OK) {
            log().error("not loaded: the host refused the route {} {}", r.method, r.pattern);
            return st;
        }
    }
    for (const char* ev :
         {"subtitle.downloaded", "subtitle.upgraded", "subtitle.uploaded", "subtitle.deleted", "subtitle.modified"}) {
        if (pb_status st = host_.subscribe_event(host_.host_ctx, pb_str{ev, std::strlen(ev)}); st != PB_OK) {
            log().error("not loaded: the host refused the event {}", ev);
            return st;
        }
    }
    return PB_OK;
}

pb_status Plugin::start() {
    work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
        ioc_->get_executor());
    thread_ = std::thread([this] {
        while (!stopping_) {
            try {
                ioc_->run();
                return;
            } catch (const std::exception& e) {
                log().error("internal error, recovered: {}", e.what());
            }
        }
    });
    boost::asio::post(*ioc_, [this] {
        seal_plaintext_secrets();
        webhooks_->key();  // so the first webhook never has to create it
        refresher_->start();
        auth_->on_start();
    });
    log().info("started (ABI {}.{})", PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR);
    return PB_OK;
}

void Plugin::destroy() {
    stopping_ = true;
    {
        std::lock_guard lock(client_mu_);
        if (client_) client_->shutdown();
    }
    work_.reset();
    ioc_->stop();
    if (thread_.joinable()) thread_.join();
    // Requests still waiting for an answer get one now: the host may not
    // hear from us after destroy returns.
    std::set<pb_responder*> left;
    {
        std::lock_guard lock(pending_mu_);
        left.swap(pending_);
    }
    for (auto* r : left) {
        static constexpr char body[] = R"({"error":"the Plex plugin is shutting down","code":"PLEX_UNAVAILABLE"})";
        pb_http_response resp{};
        resp.struct_size = sizeof resp;
        resp.status = 503;
        resp.body = pb_str{body, sizeof body - 1};
        host_.respond(host_.host_ctx, r, &resp);
    }
    // Work still queued (and the connections it owns) is destroyed now,
    // while everything it refers to is alive; its replies find nothing
    // pending and stay silent.
    {
        std::lock_guard lock(client_mu_);
        client_.reset();
    }
    if (refresher_) refresher_->shutdown();
    if (discovery_) discovery_->pms()->shutdown();
    ioc_.reset();
    webhooks_.reset();
    refresher_.reset();
    discovery_.reset();
    auth_.reset();
    log_->detach();
}

void Plugin::route_trampoline(void* ctx, const pb_http_request* req, pb_responder* responder) noexcept {
    auto* route = static_cast<Route*>(ctx);
    Plugin* self = route->plugin;
    {
        std::lock_guard lock(self->pending_mu_);
        self->pending_.insert(responder);
    }
    try {
        pb_http_request r{};
        std::memcpy(&r, req, std::min<std::size_t>(req->struct_size, sizeof r));
        auto s = [](pb_str v) { return std::string_view(v.data ? v.data : "", v.data ? v.len : 0); };
        Call call;
        call.method = s(r.method);
        call.path = s(r.path);
        call.query = s(r.query);
        call.params = text::parse_query(call.query);
        call.headers.reserve(r.header_count);
        for (std::size_t i = 0; i < r.header_count && r.headers; ++i)
            call.headers.emplace_back(s(r.headers[i].name), s(r.headers[i].value));
        call.body = s(r.body);
        call.remote_address = s(r.remote_address);
        match_path(route->pattern, call.path, call.path_params);
        Reply reply(self, responder);
        if (self->stopping_) return reply.error(503, "PLEX_UNAVAILABLE", "the Plex plugin is shutting down");
        route->handler(call, reply);
    } catch (const std::exception& e) {
        self->log().error("route {} failed: {}", route->pattern, e.what());
        self->send_response(responder, 500, "application/json", R"({"error":"internal error","code":"PLEX_INTERNAL"})");
    } catch (...) {
        self->send_response(responder, 500, "application/json", R"({"error":"internal error","code":"PLEX_INTERNAL"})");
    }
}

void Plugin::send_response(pb_responder* responder, int status, std::string_view content_type, std::string_view body) {
    {
        std::lock_guard lock(pending_mu_);
        if (pending_.erase(responder) == 0) return;  // answered already (or at destroy)
    }
    pb_http_response resp{};
    resp.struct_size = sizeof resp;
    resp.status = static_cast<uint16_t>(status);
    resp.content_type = pb_str{content_type.data(), content_type.size()};
    resp.body = pb_str{body.data(), body.size()};
    host_.respond(host_.host_ctx, responder, &resp);
}

void Plugin::add_route(std::string method, std::string pattern, Handler handler, pb_route_auth auth,
                       uint64_t max_body) {
    Route r;
    r.method = std::move(method);
    r.pattern = std::move(pattern);
    r.handler = std::move(handler);
    r.auth = auth;
    r.max_body_bytes = max_body;
    r.plugin = this;
    routes_.push_back(std::move(r));
}

void Plugin::on_event(std::string name, std::string payload) {
    if (refresher_) refresher_->on_event(name, payload);
}

pb_status Plugin::validate_settings(std::string_view candidate, std::string* error) const {
    std::string perr;
    auto v = json::parse_lenient(candidate, &perr);
    if (!v || !v->is_object()) {
        *error = "settings must be a JSON object" + (perr.empty() ? std::string() : ": " + perr);
        return PB_ERR_INVALID_ARGUMENT;
    }
    if (auto problem = settings::validate(v->get_object())) {
        *error = *problem;
        return PB_ERR_INVALID_ARGUMENT;
    }
    return PB_OK;
}

void Plugin::settings_changed(std::string_view js) {
    auto v = json::parse_lenient(js);
    if (!v || !v->is_object()) return;
    auto typed = std::make_shared<const settings::Settings>(settings::parse(v->get_object()));
    {
        std::lock_guard lock(settings_mu_);
        settings_ = v->get_object();
        typed_ = std::move(typed);
    }
    if (refresher_) refresher_->settings_changed();
}

settings::Settings Plugin::settings() const { return *settings_snapshot(); }

std::shared_ptr<const settings::Settings> Plugin::settings_snapshot() const {
    std::lock_guard lock(settings_mu_);
    return typed_;
}

bj::object Plugin::settings_json() const {
    std::lock_guard lock(settings_mu_);
    return settings_;
}

bool Plugin::write_settings(const bj::object& patch, std::string* error) {
    if (auto problem = settings::validate(patch)) {
        if (error) *error = *problem;
        return false;
    }
    std::string text = bj::serialize(patch);
    std::string err;
    // The host calls settings_changed() on this thread before returning,
    // which refreshes the cache.
    pb_status st = host_.settings_write(host_.host_ctx, pb_str{text.data(), text.size()}, sink_to_string, &err);
    if (st != PB_OK) {
        if (error) *error = err.empty() ? "the host could not store the settings" : err;
        return false;
    }
    return true;
}

std::shared_ptr<http::Client> Plugin::client() {
    std::string ca = settings().tls_ca_file;
    std::lock_guard lock(client_mu_);
    if (!client_ || ca != client_ca_file_) {
        std::string err;
        http::ClientOptions opts;
        opts.extra_ca_file = ca;
        auto c = http::Client::create(*ioc_, opts, log_->shared(), &err);
        if (!c) {
            log().error("{}; using the system certificates only", err);
            opts.extra_ca_file.clear();
            c = http::Client::create(*ioc_, opts, log_->shared(), &err);
        }
        if (client_) client_->shutdown();
        client_ = c;
        client_ca_file_ = ca;
    }
    return client_;
}

plexapi::ClientIdentity Plugin::identity() const {
    auto s = settings();
    plexapi::ClientIdentity id;
    id.client_identifier = s.client_identifier;
    id.device_name = s.device_name;
    return id;
}

plexapi::PlexTv Plugin::plextv() {
    plexapi::PlexTvOptions o;
    o.base_url = settings().plextv_url;
    return plexapi::PlexTv(client(), identity(), o);
}

vault::Secret Plugin::current_token(std::string* why) const {
    auto s = settings();
    const std::string& stored = s.auth_method == "apikey" ? s.apikey : s.token;
    if (stored.empty()) {
        if (why) *why = "not signed in to Plex";
        return {};
    }
    vault::OpenError err{};
    auto secret = vault_->unseal(stored, &err);
    if (!secret) {
        if (err == vault::OpenError::not_sealed) return vault::Secret(stored);  // legacy plaintext, sealed at start
        if (why)
            *why = std::string("the stored Plex token cannot be used: ") + vault::describe(err) + "; sign in again";
        return {};
    }
    log_->secrets().add(secret->str());
    return std::move(*secret);
}

vault::Secret Plugin::server_token(std::string* why) const {
    auto s = settings();
    if (s.auth_method == "oauth" && !s.server_token.empty()) {
        vault::OpenError err{};
        if (auto t = vault_->unseal(s.server_token, &err)) {
            log_->secrets().add(t->str());
            return std::move(*t);
        }
        if (why)
            *why = std::string("the stored server token cannot be used: ") + vault::describe(err) +
                   "; select the server again";
        return {};
    }
    return current_token(why);
}

std::shared_ptr<discovery::PmsClient> Plugin::pms() { return discovery_->pms(); }

void Plugin::seal_plaintext_secrets() {
    auto s = settings();
    bj::object patch;
    for (const auto* key : {&s.token, &s.apikey}) {
        if (key->empty() || vault::Vault::is_sealed(*key)) continue;
        log_->secrets().add(*key);
        patch[key == &s.token ? "token" : "apikey"] = vault_->seal(*key);
    }
    if (patch.empty()) return;
    std::string err;
    if (write_settings(patch, &err))
        log().info("encrypted a Plex token that was stored in plain text");
    else
        log().error("could not encrypt a plain-text Plex token: {}", err);
}

pb_search_outcome Plugin::request_search(const pb_search_request& req) {
    return host_.request_search(host_.host_ctx, &req);
}

}  // namespace pb::plugin

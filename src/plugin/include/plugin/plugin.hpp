// The plugin behind the C ABI: an adapter and nothing else. It owns the io
// thread, builds the Session and the features, registers their settings,
// routes and events with the host, and translates each way: requests into
// route::Calls, answers into host->respond(), search requests into
// host->request_search(), log lines into host->log(). No Plex logic here.
//
// Threading: route handlers, on_event, validate_settings and
// settings_changed arrive on host threads and only copy and post (the
// webhook route alone does bounded CPU work there); everything else runs on
// the io thread. See docs/architecture.md.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth.hpp"
#include "discovery/discovery.hpp"
#include "log/log.hpp"
#include "plexbridge_plugin.h"
#include "refresh/refresh.hpp"
#include "route/route.hpp"
#include "session/session.hpp"
#include "webhooks/webhooks.hpp"

namespace pb::plugin {

// Host minor versions this plugin needs: it calls every 1.0 entry.
constexpr uint32_t kRequiredHostMinor = 0;

// Whether a host of `host_version` whose table is `host_struct_size` bytes
// can run this plugin; nullopt when it can, else the reason in words.
std::optional<std::string> check_host_compat(uint32_t host_version, std::size_t host_struct_size,
                                             uint32_t required_minor = kRequiredHostMinor);

class Plugin final : public route::Answerer, public webhooks::SearchHost {
public:
    explicit Plugin(const pb_host_api& host);
    ~Plugin() override;

    // Entry-time work: session, settings, features, registration. Host thread.
    pb_status init();
    pb_status start();
    void destroy();
    void on_event(std::string_view name, std::string_view payload);
    pb_status validate_settings(std::string_view candidate, std::string* error) const;
    void settings_changed(std::string_view json);

    // route::Answerer: hands an answer to the host, once per responder.
    void answer(void* responder, int status, std::string_view content_type, std::string_view body,
                const route::Headers& headers) override;
    // webhooks::SearchHost: asks the host to search subtitles.
    webhooks::SearchOutcome request_search(const webhooks::Media& media, std::string_view title,
                                           std::string_view reason) override;

private:
    // One profile's session and features (docs/accounts.md). The default
    // profile's features register the routes mounted with the host; each
    // other profile's register into its own registry, and a request with
    // ?profile=<id> runs that profile's handler of the same route. A unit
    // is never freed while the plugin runs (its work in flight refers to
    // it): a removed profile's is retired, and freed at destroy().
    struct Unit {
        std::string id;
        std::unique_ptr<session::Session> session;
        route::Registry own_routes;  // another profile's
        std::unique_ptr<auth::Auth> auth;
        std::unique_ptr<discovery::Discovery> discovery;
        std::shared_ptr<refresh::Refresher> refresher;
        std::unique_ptr<webhooks::Webhooks> webhooks;
        // Whether it has a server to work with: it then takes events and webhooks.
        bool has_server() const;
    };
    // Builds a profile's unit (host thread or io thread); `routes`: where
    // its features register (nullptr: its own registry).
    std::shared_ptr<Unit> make_unit(std::unique_ptr<session::Session> session, route::Registry* routes);
    static void start_unit(Unit& unit);  // io thread
    struct ForgetProfiles;
    // The units for the profiles the settings list now: new ones made (and
    // started, once the plugin is), removed ones retired.
    void reconcile(const boost::json::object& all);
    std::shared_ptr<Unit> unit(std::string_view id) const;  // nullptr: no such profile
    std::vector<std::shared_ptr<Unit>> units() const;       // live ones, the default first
    // The ones with a server, which take events and webhooks; the default
    // alone when none has.
    std::vector<std::shared_ptr<Unit>> working_units() const;
    // profiles.cpp: GET/POST/PATCH/DELETE /api/plex/profiles.
    void profiles_list(route::Call& call, route::Reply reply);
    void profiles_add(route::Call& call, route::Reply reply);
    void profiles_rename(route::Call& call, route::Reply reply);
    void profiles_remove(route::Call& call, route::Reply reply);
    // The profile a request names (?profile=, the default when none);
    // nullptr after answering when there is no such profile.
    std::shared_ptr<Unit> unit_of(const route::Call& call, const route::Reply& reply) const;

    static void route_trampoline(void* ctx, const pb_http_request* req, pb_responder* responder) noexcept;
    pb_status register_with_host();
    void diagnostics(route::Call& call, route::Reply reply);  // diagnostics.cpp
    // page_settings.cpp: the settings the plugin's page reads and changes.
    void page_settings_get(route::Call& call, route::Reply reply);
    void page_settings_patch(route::Call& call, route::Reply reply);
    common::Result<boost::json::object> stored_settings() const;
    void apply_log_level();
    bool host_shows_pages() const;  // ABI 1.1 with register_page
    std::mutex page_settings_mu_;   // one read-validate-write of the page's settings at a time
    spdlog::logger& log() { return log_->logger(); }

    pb_host_api host_{};
    std::string data_dir_;
    std::unique_ptr<log::HostLog> log_;
    // A pointer so destroy() can drop queued work while the rest is alive.
    std::unique_ptr<boost::asio::io_context> ioc_ = std::make_unique<boost::asio::io_context>();
    std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};

    std::mutex pending_mu_;
    std::set<void*> pending_;

    route::Registry routes_;
    // Each registered route's context: the route and this plugin.
    struct Mounted {
        const route::Route* route;
        Plugin* plugin;
    };
    std::deque<Mounted> mounted_;

    std::mutex reconcile_mu_;  // one reconcile() at a time
    mutable std::mutex units_mu_;
    std::vector<std::shared_ptr<Unit>> units_;    // live, the default first
    std::vector<std::shared_ptr<Unit>> retired_;  // removed while running
    std::atomic<bool> started_{false};
    session::Session* session_ = nullptr;  // the default profile's (units_[0]), for the whole plugin's work
};

}  // namespace pb::plugin

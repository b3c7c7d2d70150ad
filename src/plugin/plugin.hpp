// The plugin object behind the C ABI: it owns the io thread, the HTTP
// client, the vault and the settings cache, and wires the components'
// routes and event handlers to the host. Components get a Plugin& and use
// only the services below.
//
// Threading: route handlers and on_event arrive on host threads and must
// only copy and post; the work runs on io() (one thread). settings() and
// write_settings() are safe from any thread except while holding no lock
// of the caller that the host's settings_changed() callback might need.
#pragma once
#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "http/client.hpp"
#include "log/log.hpp"
#include "plexapi/headers.hpp"
#include "plexapi/plextv.hpp"
#include "plexbridge_plugin.h"
#include "plugin/router.hpp"
#include "settings/settings.hpp"
#include "vault/vault.hpp"

namespace pb::webhooks {
class WebhookRoutes;
}
namespace pb::refresh {
class Refresher;
}
namespace pb::plugin {

class AuthRoutes;
}  // namespace pb::plugin
namespace pb::discovery {
class DiscoveryRoutes;
class PmsClient;
}  // namespace pb::discovery
namespace pb::plugin {

// Host minor versions this plugin needs: it calls every 1.0 entry.
constexpr uint32_t kRequiredHostMinor = 0;

// Whether a host of `host_version` whose table is `host_struct_size` bytes
// can run this plugin; nullopt when it can, else the reason in words.
std::optional<std::string> check_host_compat(uint32_t host_version, std::size_t host_struct_size,
                                             uint32_t required_minor = kRequiredHostMinor);

class Plugin {
public:
    explicit Plugin(const pb_host_api& host);
    ~Plugin();

    // Entry-time work: vault, settings, registration. Host thread.
    pb_status init();
    pb_status start();
    void destroy();
    void on_event(std::string name, std::string payload);
    pb_status validate_settings(std::string_view candidate, std::string* error) const;
    void settings_changed(std::string_view json);

    // ---- services for components ----
    boost::asio::io_context& io() { return *ioc_; }
    spdlog::logger& log() { return log_->logger(); }
    log::SecretRegistry& secrets() { return log_->secrets(); }
    vault::Vault& vault() { return *vault_; }
    const pb_host_api& host() const { return host_; }
    std::string data_dir() const { return data_dir_; }

    settings::Settings settings() const;
    // The same, without a copy: for hot paths (the webhook handler).
    std::shared_ptr<const settings::Settings> settings_snapshot() const;
    boost::json::object settings_json() const;
    // Merges `patch` into the stored settings (validated first).
    bool write_settings(const boost::json::object& patch, std::string* error);

    std::shared_ptr<http::Client> client();
    plexapi::ClientIdentity identity() const;
    plexapi::PlexTv plextv();
    // The Plex token in use (OAuth token, or the legacy one), unsealed.
    // Empty with `why` set when there is none or it cannot be decrypted.
    vault::Secret current_token(std::string* why) const;
    // The token for the selected server: its own access token when it is
    // shared with the user, else current_token().
    vault::Secret server_token(std::string* why) const;
    std::shared_ptr<discovery::PmsClient> pms();

    void add_route(std::string method, std::string pattern, Handler handler,
                   pb_route_auth auth = PB_ROUTE_AUTH_HOST_APIKEY, uint64_t max_body = 64 * 1024);
    pb_search_outcome request_search(const pb_search_request& req);

    // Responder bookkeeping (used by Reply).
    void send_response(pb_responder* responder, int status, std::string_view content_type, std::string_view body);
    bool stopping() const { return stopping_.load(); }

private:
    static void route_trampoline(void* ctx, const pb_http_request* req, pb_responder* responder) noexcept;
    void seal_plaintext_secrets();

    pb_host_api host_{};
    std::string data_dir_;
    std::unique_ptr<log::HostLog> log_;
    std::unique_ptr<vault::Vault> vault_;
    // A pointer so destroy() can drop queued work while the rest is alive.
    std::unique_ptr<boost::asio::io_context> ioc_ = std::make_unique<boost::asio::io_context>();
    std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::atomic<bool> stopping_{false};

    mutable std::mutex settings_mu_;
    boost::json::object settings_;
    std::shared_ptr<const settings::Settings> typed_ = std::make_shared<settings::Settings>();

    std::mutex client_mu_;
    std::shared_ptr<http::Client> client_;
    std::string client_ca_file_;

    std::mutex pending_mu_;
    std::set<pb_responder*> pending_;

    std::deque<Route> routes_;
    std::unique_ptr<AuthRoutes> auth_;
    std::unique_ptr<discovery::DiscoveryRoutes> discovery_;
    std::unique_ptr<webhooks::WebhookRoutes> webhooks_;
    std::shared_ptr<refresh::Refresher> refresher_;
};

}  // namespace pb::plugin

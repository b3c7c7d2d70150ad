// Plex webhooks: receive them, find the media, ask the host to search
// subtitles; and manage the webhook on plex.tv. See docs/webhooks.md.
//
// The receiving route is authenticated by the plugin itself with its own
// random key (`webhook_key`, encrypted at rest), not with the host's API
// key: the URL is stored on plex.tv, and a leaked webhook URL then only lets
// someone ask for subtitle searches, not control the host.
#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "plugin/router.hpp"
#include "vault/vault.hpp"
#include "webhooks/payload.hpp"

namespace pb::plugin {
class Plugin;
}

namespace pb::webhooks {

class WebhookRoutes {
public:
    explicit WebhookRoutes(plugin::Plugin& plugin);
    void register_routes(uint64_t max_body_bytes);

    // Exposed for the benchmark and tests: the whole receive path.
    void receive(plugin::Call& call, plugin::Reply reply);
    // The URL Plex Media Server should call, with the key masked or not.
    std::string webhook_url(bool masked);
    static std::string mask(const std::string& url);
    // The plaintext webhook key, generated and stored on first use (at start).
    std::string key();

private:
    void list(plugin::Call& call, plugin::Reply reply);
    void create(plugin::Call& call, plugin::Reply reply);
    void remove(plugin::Call& call, plugin::Reply reply);

    void dispatch(const Payload& p, Media media, plugin::Reply reply);
    void resolve_then_dispatch(Payload p, Media media, plugin::Reply reply);
    bool duplicate(const std::string& media_key);

    plugin::Plugin& plugin_;
    std::mutex mu_;
    std::string key_sealed_;
    vault::Secret key_plain_;
    std::map<std::string, std::chrono::steady_clock::time_point> recent_;  // media -> last search
    std::map<std::string, plexapi::ExternalIds> series_cache_;             // grandparentRatingKey -> ids
};

}  // namespace pb::webhooks

// Plex webhooks: receive them, find the media, ask the host to search
// subtitles; and manage the webhook on plex.tv. See docs/webhooks.md.
//
// The receiving route is authenticated by the plugin itself with its own
// random key (`webhook_key`, encrypted at rest), not with the host's API
// key: the URL is stored on plex.tv, and a leaked webhook URL then only lets
// someone ask for subtitle searches, not control the host.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plexapi/models.hpp"
#include "route/route.hpp"
#include "session/session.hpp"

namespace pb::webhooks {

struct Payload;  // payload.hpp

// The media a webhook is about, with the ids to search with.
struct Media {
    enum class Kind : uint8_t { movie = 1, episode = 2 } kind = Kind::movie;
    plexapi::ExternalIds series;   // movie ids, or the series' ids
    plexapi::ExternalIds episode;  // the episode's own ids
    int32_t season = -1;
    int32_t number = -1;
    bool searchable() const;
};

// What the host says to a search request.
enum class SearchOutcome : uint8_t { queued = 1, unknown_media, refused };

// The subtitle searches, as the host performs them. Implemented by the
// plugin (it forwards to the ABI); called from whichever thread received
// the webhook; must return quickly.
class SearchHost {
public:
    virtual ~SearchHost() = default;
    // `title` is for the host's log; `reason` says why ("plex webhook media.play").
    virtual SearchOutcome request_search(const Media& media, std::string_view title, std::string_view reason) = 0;
};

class Webhooks {
public:
    // Registers the receiving route (its body limit: `webhook_max_body_bytes`
    // as it is now) and the plex.tv management routes.
    Webhooks(session::Session& session, route::Registry& routes, SearchHost& host);
    // Io thread, at start: makes the key, so the first webhook never has to.
    void start() { (void)key(); }
    // Several profiles: the receiving route (this one's) hands each webhook
    // to the first of `profiles()` (the default first) whose server sent it
    // (the payload's Server.uuid) and whose filters take it. Set while the
    // plugin loads; `profiles` is called from the receiving thread.
    void route_to(std::function<std::vector<Webhooks*>()> profiles) { profiles_ = std::move(profiles); }

    // Exposed for the benchmark and tests: the whole receive path.
    void receive(route::Call& call, route::Reply reply);
    // The URL Plex Media Server should call (with the key: mask() it to show it).
    std::string webhook_url();
    static std::string mask(const std::string& url);
    // The plaintext webhook key, generated and stored on first use.
    std::string key();

private:
    void list(route::Call& call, route::Reply reply);
    void create(route::Call& call, route::Reply reply);
    void remove(route::Call& call, route::Reply reply);
    // Signing out: our webhook off plex.tv (a session leave step).
    void leave(const std::string& token, std::function<void(std::vector<std::string>)> next);
    // Why this profile leaves the webhook alone, or nullopt: it takes it.
    std::optional<std::string> declines(const Payload& p, const settings::Settings& s) const;
    void take(const Payload& p, route::Reply reply);  // from the dedupe on
    void dispatch(const Payload& p, const Media& media, route::Reply reply);
    void resolve_then_dispatch(Payload p, Media media, route::Reply reply);
    bool duplicate(const std::string& media_key);

    session::Session& session_;
    SearchHost& host_;
    std::function<std::vector<Webhooks*>()> profiles_;
    std::mutex mu_;
    std::string key_sealed_;
    vault::Secret key_plain_;
    std::map<std::string, std::chrono::steady_clock::time_point> recent_;  // media -> last search
    std::map<std::string, plexapi::ExternalIds> series_cache_;             // grandparentRatingKey -> ids
};

}  // namespace pb::webhooks

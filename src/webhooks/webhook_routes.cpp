#include "webhooks/webhook_routes.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>

#include "auth/auth_routes.hpp"
#include "common/json_util.hpp"
#include "common/text.hpp"
#include "discovery/pms_client.hpp"
#include "plugin/plugin.hpp"
#include "webhooks/multipart.hpp"

namespace pb::webhooks {

namespace bj = boost::json;
using plugin::Call;
using plugin::member_handler;
using plugin::Reply;

WebhookRoutes::WebhookRoutes(plugin::Plugin& plugin) : plugin_(plugin) {}

void WebhookRoutes::register_routes(uint64_t max_body_bytes) {
    plugin_.add_route("POST", "/api/webhooks/plex", member_handler(this, &WebhookRoutes::receive), PB_ROUTE_AUTH_NONE,
                      max_body_bytes);
    plugin_.add_route("GET", "/api/plex/webhook/list", member_handler(this, &WebhookRoutes::list));
    plugin_.add_route("POST", "/api/plex/webhook/create", member_handler(this, &WebhookRoutes::create));
    plugin_.add_route("POST", "/api/plex/webhook/delete", member_handler(this, &WebhookRoutes::remove));
}

std::string WebhookRoutes::key() {
    auto snapshot = plugin_.settings_snapshot();  // keeps `stored` alive
    const std::string& stored = snapshot->webhook_key;
    std::lock_guard lock(mu_);
    if (!stored.empty() && stored == key_sealed_) return key_plain_.str();
    if (!stored.empty()) {
        if (auto k = plugin_.vault().unseal(stored)) {
            key_sealed_ = stored;
            key_plain_ = std::move(*k);
            plugin_.secrets().add(key_plain_.str());
            return key_plain_.str();
        }
    }
    // None yet (or unreadable): make one. Old URLs stop working, which is
    // what a user who lost the key needs anyway.
    std::string fresh = text::random_hex(24);
    std::string sealed = plugin_.vault().seal(fresh);
    std::string err;
    if (!plugin_.write_settings(bj::object{{"webhook_key", sealed}}, &err)) {
        plugin_.log().error("could not store the webhook key: {}", err);
        return {};
    }
    key_sealed_ = sealed;
    key_plain_ = vault::Secret(fresh);
    plugin_.secrets().add(fresh);
    return fresh;
}

std::string WebhookRoutes::mask(const std::string& url) {
    auto pos = url.find("apikey=");
    if (pos == std::string::npos) return url;
    auto end = url.find('&', pos);
    return url.substr(0, pos + 7) + "********" + (end == std::string::npos ? "" : url.substr(end));
}

std::string WebhookRoutes::webhook_url(bool masked) {
    auto base = plugin_.settings().webhook_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::string k = masked ? "********" : key();
    return base + "/api/webhooks/plex?apikey=" + k;
}

bool WebhookRoutes::duplicate(const std::string& media_key) {
    auto window = std::chrono::seconds(plugin_.settings_snapshot()->webhook_dedupe_seconds);
    auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu_);
    if (recent_.size() > 4096)
        for (auto it = recent_.begin(); it != recent_.end();)
            it = now - it->second > window ? recent_.erase(it) : std::next(it);
    auto it = recent_.find(media_key);
    return it != recent_.end() && now - it->second < window;
}

static bool listed(const std::vector<std::string>& list, const std::string& a, const std::string& b) {
    return std::any_of(list.begin(), list.end(),
                       [&](const std::string& x) { return (!a.empty() && x == a) || (!b.empty() && x == b); });
}

void WebhookRoutes::receive(Call& call, Reply reply) {
    // Our own key, compared in constant time.
    auto given = call.param("apikey");
    std::string expected = key();
    if (!given || expected.empty() || !text::constant_time_equals(*given, expected))
        return reply.error(401, "PLEX_WEBHOOK_UNAUTHORIZED", "missing or wrong apikey in the webhook URL");

    std::string content_type = call.header("Content-Type");
    std::string_view media_type = text::trim(std::string_view(content_type).substr(0, content_type.find(';')));
    std::string form_payload;
    std::string_view payload_text;
    if (text::iequals(media_type, "multipart/form-data")) {
        auto boundary = boundary_of(content_type);
        if (!boundary) return reply.error(400, "PLEX_WEBHOOK_MALFORMED", "multipart body without a boundary");
        auto mp = parse_multipart(call.body, *boundary);
        if (!mp.ok()) return reply.error(400, "PLEX_WEBHOOK_MALFORMED", mp.error);
        for (const auto& p : mp.parts)
            if (p.name == "payload") payload_text = p.body;
        if (payload_text.empty())
            return reply.error(400, "PLEX_WEBHOOK_MALFORMED", "the multipart body has no payload part");
    } else if (text::iequals(media_type, "application/x-www-form-urlencoded")) {
        auto form = text::parse_query(call.body);
        auto p = text::query_get(form, "payload");
        if (!p) return reply.error(400, "PLEX_WEBHOOK_MALFORMED", "the form has no payload field");
        form_payload = std::move(*p);
        payload_text = form_payload;
    } else if (text::iequals(media_type, "application/json")) {
        payload_text = call.body;
    } else {
        return reply.error(415, "PLEX_WEBHOOK_CONTENT_TYPE",
                           "expected multipart/form-data (as Plex sends), a form with payload=, or JSON");
    }
    std::string err;
    auto payload = parse_payload(payload_text, &err);
    if (!payload) return reply.error(400, "PLEX_WEBHOOK_MALFORMED", err);
    const Payload& p = *payload;

    auto snapshot = plugin_.settings_snapshot();
    const auto& s = *snapshot;
    auto ignored = [&](const std::string& why) {
        reply.raw(204, "application/json", "");
        plugin_.log().debug("webhook {} ignored: {}", p.event, why);
    };
    if (std::find(s.webhook_events.begin(), s.webhook_events.end(), p.event) == s.webhook_events.end())
        return ignored("event not enabled");
    if (!s.server_machine_id.empty() && p.server_uuid != s.server_machine_id) return ignored("another server");
    if (p.type != "movie" && p.type != "episode") return ignored("not a movie or an episode");
    const auto& libs = p.type == "movie" ? s.movie_library : s.series_library;
    if (!libs.empty() && !listed(libs, p.section_id, p.section_title)) return ignored("library not selected");
    if (!s.webhook_accounts.empty() && !listed(s.webhook_accounts, p.account_id, p.account_title))
        return ignored("account not selected");
    std::string media_key = p.server_uuid + "/" + p.rating_key;
    if (!p.rating_key.empty() && duplicate(media_key)) return ignored("searched recently");

    Media m;
    if (p.type == "movie") {
        m.kind = Media::Kind::movie;
        m.series = p.own;
        plexapi::read_guid(p.guid, m.series);
    } else {
        m.kind = Media::Kind::episode;
        m.episode = p.own;  // an episode's Guid array holds the episode's ids
        plexapi::ExternalIds legacy;
        if (plexapi::read_guid(p.guid, legacy)) {  // thetvdb://series/season/episode
            m.series.tvdb = legacy.tvdb;
            if (m.season < 0) m.season = legacy.season;
            if (m.number < 0) m.number = legacy.episode;
            if (!p.has_guid_array) m.episode = {};
        }
        plexapi::read_guid(p.grandparent_guid, m.series);
        m.season = p.parent_index >= 0 ? p.parent_index : m.season;
        m.number = p.index >= 0 ? p.index : m.number;
        bool series_known = m.series.tvdb > 0 || !m.series.imdb.empty() || m.series.tmdb > 0;
        if (!series_known && !p.grandparent_rating_key.empty()) {
            std::lock_guard lock(mu_);
            if (auto it = series_cache_.find(p.grandparent_rating_key); it != series_cache_.end())
                m.series = it->second;
        }
    }
    bool need_series = m.kind == Media::Kind::episode && m.series.tvdb <= 0 && m.series.imdb.empty() &&
                       m.series.tmdb <= 0 && !p.grandparent_rating_key.empty();
    if (m.searchable() && !need_series) return dispatch(p, m, reply);
    if (p.rating_key.empty() && !need_series) return ignored("no ids (a trailer or pre-roll?)");
    boost::asio::post(plugin_.io(), [this, p, m, reply] { resolve_then_dispatch(p, m, reply); });
}

static plexapi::ExternalIds ids_of(const plexapi::MediaItem& it) {
    plexapi::ExternalIds ids;
    for (const auto& g : it.guids) plexapi::read_guid(g, ids);
    plexapi::read_guid(it.guid, ids);
    return ids;
}

void WebhookRoutes::resolve_then_dispatch(Payload p, Media m, Reply reply) {
    // Io thread. First the show's ids (cached), then the item's own when the
    // payload carried none (legacy agents send no Guid array).
    auto pms = plugin_.pms();
    bool need_series = m.kind == Media::Kind::episode && m.series.tvdb <= 0 && m.series.imdb.empty() &&
                       m.series.tmdb <= 0 && !p.grandparent_rating_key.empty();
    if (need_series) {
        discovery::PmsRequest req{
            "GET", "/library/metadata/" + text::url_encode(p.grandparent_rating_key) + "?includeGuids=1", "", {}};
        return pms->request(req, [this, p, m, reply](http::Result r, const std::string&) mutable {
            if (r.ok() && r.response->status == 200)
                if (auto page = plexapi::parse_items(r.response->body); page && !page.value->items.empty()) {
                    m.series = ids_of(page.value->items.front());
                    std::lock_guard lock(mu_);
                    if (series_cache_.size() > 10000) series_cache_.clear();
                    series_cache_[p.grandparent_rating_key] = m.series;
                }
            if (m.series.tvdb <= 0 && m.series.imdb.empty() && m.series.tmdb <= 0) p.grandparent_rating_key.clear();
            if (m.searchable()) return dispatch(p, m, reply);
            p.grandparent_rating_key.clear();
            resolve_then_dispatch(std::move(p), std::move(m), std::move(reply));
        });
    }
    if (p.rating_key.empty()) {
        reply.raw(204, "application/json", "");
        return;
    }
    discovery::PmsRequest req{"GET", "/library/metadata/" + text::url_encode(p.rating_key) + "?includeGuids=1", "", {}};
    pms->request(req, [this, p, m, reply](http::Result r, const std::string&) mutable {
        const int status = r.response ? r.response->status : 0;
        if (r.error || status != 200) {
            std::string why = r.error ? r.error->message : "Plex Media Server answered HTTP " + std::to_string(status);
            return reply.error(502, "PLEX_SERVER_UNREACHABLE",
                               "The webhook names no ids and the item could not be read: " + why);
        }
        auto page = plexapi::parse_items(r.response->body);
        if (!page || page.value->items.empty())
            return reply.error(502, "PLEX_SERVER_BAD_ANSWER", "The item could not be read from Plex Media Server");
        auto ids = ids_of(page.value->items.front());
        if (m.kind == Media::Kind::movie) {
            m.series = ids;
        } else {
            m.episode = ids;
            if (m.season < 0 && ids.season >= 0) m.season = ids.season;
            if (m.number < 0 && ids.episode >= 0) m.number = ids.episode;
        }
        if (!m.searchable()) {
            reply.raw(204, "application/json", "");
            return;
        }
        dispatch(p, m, reply);
    });
}

void WebhookRoutes::dispatch(const Payload& p, Media m, Reply reply) {
    pb_search_request req{};
    req.struct_size = sizeof req;
    req.media_type = m.kind == Media::Kind::movie ? PB_MEDIA_MOVIE : PB_MEDIA_EPISODE;
    req.imdb_id = pb_str{m.series.imdb.data(), m.series.imdb.size()};
    req.tmdb_id = m.series.tmdb;
    req.tvdb_id = m.series.tvdb;
    req.season = m.kind == Media::Kind::episode ? m.season : -1;
    req.episode = m.kind == Media::Kind::episode ? m.number : -1;
    req.episode_tvdb_id = m.kind == Media::Kind::episode ? m.episode.tvdb : -1;
    req.episode_imdb_id = pb_str{m.episode.imdb.data(), m.kind == Media::Kind::episode ? m.episode.imdb.size() : 0};
    req.title = pb_str{p.title.data(), p.title.size()};
    std::string reason = "plex webhook " + p.event;
    req.reason = pb_str{reason.data(), reason.size()};
    switch (plugin_.request_search(req)) {
        case PB_SEARCH_QUEUED: {
            {
                std::lock_guard lock(mu_);
                recent_[p.server_uuid + "/" + p.rating_key] = std::chrono::steady_clock::now();
            }
            // Written directly: this is the answer to every webhook that
            // searched, and building a JSON tree for it was a tenth of the route.
            std::string body = R"({"data":{"searched":true,"media":{"type":)";
            body += bj::serialize(bj::string_view(p.type));
            body += R"(,"title":)";
            body += bj::serialize(bj::string_view(p.title));
            auto number = [&body](const char* name, int64_t v) {
                body += ",\"";
                body += name;
                body += "\":";
                body += std::to_string(v);
            };
            if (!m.series.imdb.empty()) body += R"(,"imdb":)" + bj::serialize(bj::string_view(m.series.imdb));
            if (m.series.tmdb > 0) number("tmdb", m.series.tmdb);
            if (m.series.tvdb > 0) number("tvdb", m.series.tvdb);
            if (m.kind == Media::Kind::episode) {
                number("season", m.season);
                number("episode", m.number);
                if (m.episode.tvdb > 0) number("episode_tvdb", m.episode.tvdb);
            }
            body += "}}}";
            return reply.raw(200, "application/json", body);
        }
        case PB_SEARCH_UNKNOWN_MEDIA:
            return reply.error(404, "PLEX_MEDIA_UNKNOWN", "The subtitle manager does not know \"" + p.title + "\"");
        default: return reply.error(503, "PLEX_SEARCH_REFUSED", "The subtitle manager refused to search now");
    }
}

// ---------------------------------------------------------------- plex.tv

void WebhookRoutes::list(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        std::string why;
        auto token = std::make_shared<vault::Secret>(plugin_.current_token(&why));
        if (token->empty()) return reply.error(401, "PLEX_NOT_SIGNED_IN", why);
        plugin_.plextv().get_webhooks(token->str(), [reply](plexapi::ApiResult<std::vector<plexapi::Webhook>> r) {
            if (r.error) {
                auto h = plugin::to_http(*r.error);
                return reply.error(h.status, h.code, "Could not read your webhooks from plex.tv: " + r.error->message);
            }
            bj::array hooks;
            for (const auto& w : *r.value) hooks.push_back(bj::object{{"url", mask(w.url)}});
            reply.data(bj::object{{"webhooks", hooks}, {"count", hooks.size()}});
        });
    });
}

// Reads the account (Plex Pass?), then the list, then writes it back with
// `change` applied, so the user's other webhooks are kept as they are.
static void modify(plugin::Plugin& plugin, Reply reply,
                   std::function<std::optional<std::vector<std::string>>(std::vector<std::string>&, Reply&)> change) {
    std::string why;
    auto token = std::make_shared<vault::Secret>(plugin.current_token(&why));
    if (token->empty()) return reply.error(401, "PLEX_NOT_SIGNED_IN", why);
    plugin.plextv().get_account(token->str(), [&plugin, reply, token,
                                               change](plexapi::ApiResult<plexapi::Account> a) mutable {
        if (a.error) {
            auto h = plugin::to_http(*a.error);
            return reply.error(h.status, h.code, "Could not check your Plex account: " + a.error->message);
        }
        if (!a.value->has_plex_pass())
            return reply.error(403, "PLEX_PASS_REQUIRED",
                               "Plex webhooks need a Plex Pass subscription, and the account " + a.value->username +
                                   " has none. Without it Plex Media Server will not call us.");
        plugin.plextv().get_webhooks(token->str(), [&plugin, reply, token, change](
                                                       plexapi::ApiResult<std::vector<plexapi::Webhook>> r) mutable {
            if (r.error) {
                auto h = plugin::to_http(*r.error);
                return reply.error(h.status, h.code, "Could not read your webhooks from plex.tv: " + r.error->message);
            }
            std::vector<std::string> urls;
            for (const auto& w : *r.value) urls.push_back(w.url);
            auto next = change(urls, reply);
            if (!next) return;  // change() answered already
            plugin.plextv().set_webhooks(token->str(), *next, [reply, next](plexapi::ApiResult<bool> w) {
                if (w.error) {
                    auto h = plugin::to_http(*w.error);
                    return reply.error(h.status, h.code,
                                       "plex.tv did not accept the webhook list: " + w.error->message);
                }
                bj::array hooks;
                for (const auto& u : *next) hooks.push_back(bj::object{{"url", WebhookRoutes::mask(u)}});
                reply.data(bj::object{{"success", true}, {"webhooks", hooks}, {"count", hooks.size()}});
            });
        });
    });
}

void WebhookRoutes::create(Call&, Reply reply) {
    if (plugin_.settings().webhook_base_url.empty())
        return reply.error(400, "PLEX_WEBHOOK_URL_UNSET",
                           "Set webhook_base_url first: the address where Plex Media Server reaches this application, "
                           "e.g. http://192.168.1.10:6767");
    boost::asio::post(plugin_.io(), [this, reply] {
        std::string ours = webhook_url(false);
        modify(plugin_, reply,
               [ours](std::vector<std::string>& urls, Reply&) -> std::optional<std::vector<std::string>> {
                   if (std::find(urls.begin(), urls.end(), ours) == urls.end()) urls.push_back(ours);
                   return urls;
               });
    });
}

void WebhookRoutes::remove(Call& call, Reply reply) {
    auto body = json::parse_lenient(call.body);
    auto url = body ? json::get_string(*body, "webhook_url") : std::nullopt;
    if (!url || url->empty()) return reply.error(400, "PLEX_BAD_REQUEST", "webhook_url: required");
    boost::asio::post(plugin_.io(), [this, reply, url = *url] {
        modify(plugin_, reply,
               [url](std::vector<std::string>& urls, Reply& r) -> std::optional<std::vector<std::string>> {
                   // The list route shows keys masked: accept the masked form too.
                   auto it = std::find_if(urls.begin(), urls.end(),
                                          [&](const std::string& u) { return u == url || mask(u) == url; });
                   if (it == urls.end()) {
                       r.error(404, "PLEX_WEBHOOK_NOT_FOUND", "No webhook with this URL is registered on plex.tv.");
                       return std::nullopt;
                   }
                   urls.erase(it);
                   return urls;
               });
    });
}

}  // namespace pb::webhooks

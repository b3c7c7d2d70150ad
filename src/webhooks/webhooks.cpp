#include "webhooks/webhooks.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <algorithm>

#include "common/json.hpp"
#include "common/text.hpp"
#include "http/url.hpp"
#include "multipart.hpp"
#include "payload.hpp"

namespace pb::webhooks {

namespace bj = boost::json;
using common::Errc;
using common::Error;
using route::Call;
using route::member_handler;
using route::Reply;

Webhooks::Webhooks(session::Session& session, route::Registry& routes, SearchHost& host)
    : session_(session), host_(host) {
    auto max_body = static_cast<uint64_t>(session_.settings().snapshot()->webhook_max_body_bytes);
    routes.add("POST", "/api/webhooks/plex", member_handler(this, &Webhooks::receive), route::Auth::none, max_body);
    routes.add("GET", "/api/plex/webhook/list", member_handler(this, &Webhooks::list));
    routes.add("POST", "/api/plex/webhook/create", member_handler(this, &Webhooks::create));
    routes.add("POST", "/api/plex/webhook/delete", member_handler(this, &Webhooks::remove));
    session_.on_leave([this](session::Leaving, const std::string& token, auto next) { leave(token, next); });
}

void Webhooks::leave(const std::string& token, std::function<void(std::vector<std::string>)> next) {
    // Ours is the URL with our key; the user's other webhooks stay.
    std::string ours = session_.settings().snapshot()->webhook_key.empty() ? std::string() : "apikey=" + key();
    if (token.empty() || ours == "apikey=") return next({});
    // The webhook is the account's: another profile of it still needs it.
    if (session_.account_shared())
        return next({"kept the webhook on plex.tv: another profile is signed in to the same Plex account"});
    auto tv = std::make_shared<plexapi::PlexTv>(session_.plextv());
    tv->get_webhooks(token, [tv, token, ours, next](plexapi::ApiResult<std::vector<plexapi::Webhook>> r) {
        const std::string by_hand = "; remove it at https://app.plex.tv/desktop/#!/settings/webhooks";
        if (!r) {
            // Without Plex Pass there is no list, and nothing of ours in it.
            if (r.error().code == Errc::plex_pass_required) return next({});
            return next({"could not remove the webhook from plex.tv (" + r.error().message + ")" + by_hand});
        }
        std::vector<std::string> kept;
        for (const auto& w : *r)
            if (w.url.find(ours) == std::string::npos) kept.push_back(w.url);
        if (kept.size() == r->size()) return next({});
        tv->set_webhooks(token, kept, [tv, next, by_hand](plexapi::ApiResult<bool> w) {
            if (!w) return next({"could not remove the webhook from plex.tv (" + w.error().message + ")" + by_hand});
            next({"removed the webhook from plex.tv (the account's other webhooks stay)"});
        });
    });
}

std::string Webhooks::key() {
    // The hot path: the stored (sealed) key is the one opened last time.
    {
        auto snapshot = session_.settings().snapshot();  // keeps the string alive
        std::lock_guard lock(mu_);
        if (!snapshot->webhook_key.empty() && snapshot->webhook_key == key_sealed_) return key_plain_.str();
    }
    // First use, a key change re-sealed it, or there is none yet: the
    // session opens it, or makes and stores one.
    auto key = session_.generated_secret("webhook_key", 24);
    if (!key) {
        session_.log().error("could not make the webhook key: {}", key.error().message);
        return {};
    }
    std::lock_guard lock(mu_);
    key_sealed_ = session_.settings().snapshot()->webhook_key;
    key_plain_ = vault::Secret(std::move(*key));
    return key_plain_.str();
}

std::string Webhooks::mask(const std::string& url) {
    auto pos = url.find("apikey=");
    if (pos == std::string::npos) return url;
    auto end = url.find('&', pos);
    return url.substr(0, pos + 7) + "********" + (end == std::string::npos ? "" : url.substr(end));
}

std::string Webhooks::webhook_url() {
    auto base = session_.settings().snapshot()->webhook_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/api/webhooks/plex?apikey=" + key();
}

bool Webhooks::duplicate(const std::string& media_key) {
    auto window = std::chrono::seconds(session_.settings().snapshot()->webhook_dedupe_seconds);
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

// Whether the webhook's account is one the filter names (an empty filter:
// everyone). Plex sends the server's owner as Account.id 1, not as their
// plex.tv id, so when the signed-in account owns the server, a filter
// naming it by plex.tv id, user name or e-mail matches too. Other users
// match by Account.id or title (a managed user has only a title).
static bool account_selected(const std::vector<std::string>& wanted, const Payload& p, const settings::Settings& s) {
    if (wanted.empty() || listed(wanted, p.account_id, p.account_title)) return true;
    bool owner = p.account_id == "1" && s.server_owned;
    return owner && (listed(wanted, s.user_id, s.username) || listed(wanted, s.email, ""));
}

void Webhooks::receive(Call& call, Reply reply) {
    // Our own key, compared in constant time.
    auto given = call.param("apikey");
    std::string expected = key();
    if (!given || expected.empty() || !common::text::constant_time_equals(*given, expected))
        return reply.fail(Error(Errc::webhook_unauthorized, "missing or wrong apikey in the webhook URL"));

    std::string content_type = call.header("Content-Type");
    std::string_view media_type = common::text::trim(std::string_view(content_type).substr(0, content_type.find(';')));
    std::string form_payload;
    std::string_view payload_text;
    if (common::text::iequals(media_type, "multipart/form-data")) {
        auto boundary = boundary_of(content_type);
        if (!boundary) return reply.fail(Error(Errc::webhook_malformed, "multipart body without a boundary"));
        auto mp = parse_multipart(call.body, *boundary);
        if (!mp) return reply.fail(mp.error());
        for (const auto& p : *mp)
            if (p.name == "payload") payload_text = p.body;
        if (payload_text.empty())
            return reply.fail(Error(Errc::webhook_malformed, "the multipart body has no payload part"));
    } else if (common::text::iequals(media_type, "application/x-www-form-urlencoded")) {
        auto form = common::text::parse_query(call.body);
        auto p = common::text::query_get(form, "payload");
        if (!p) return reply.fail(Error(Errc::webhook_malformed, "the form has no payload field"));
        form_payload = std::move(*p);
        payload_text = form_payload;
    } else if (common::text::iequals(media_type, "application/json")) {
        payload_text = call.body;
    } else {
        return reply.fail(Error(Errc::webhook_content_type,
                                "expected multipart/form-data (as Plex sends), a form with payload=, or JSON"));
    }
    auto payload = parse_payload(payload_text);
    if (!payload) return reply.fail(payload.error());
    const Payload& p = *payload;

    // The profile whose server sent it, and whose filters take it (the
    // default profile alone when there are no others).
    // First the profiles that work with the server that sent it; then those
    // that do not know their server's id (legacy mode, an address typed by
    // hand), as the only profile did before there were several.
    std::string why;
    const auto candidates = profiles_ ? profiles_() : std::vector<Webhooks*>{this};
    for (bool knows_id : {true, false})
        for (Webhooks* w : candidates) {
            auto snapshot = w->session_.settings().snapshot();
            if (knows_id ? snapshot->server_machine_id != p.server_uuid : !snapshot->server_machine_id.empty())
                continue;
            auto no = w->declines(p, *snapshot);
            if (!no) return w->take(p, std::move(reply));
            if (why.empty()) why = *no;
        }
    reply.no_content();
    session_.log().debug("webhook {} ignored: {}", p.event, why.empty() ? "another server" : why);
}

std::optional<std::string> Webhooks::declines(const Payload& p, const settings::Settings& s) const {
    // Turning Plex off stops what Plex starts too, not only the refreshes
    // (dispatch() checks again after a slow resolution).
    if (!s.use_plex) return "Use Plex is off";
    if (std::find(s.webhook_events.begin(), s.webhook_events.end(), p.event) == s.webhook_events.end())
        return "event not enabled";
    if (!s.server_machine_id.empty() && p.server_uuid != s.server_machine_id) return "another server";
    if (p.type != "movie" && p.type != "episode") return "not a movie or an episode";
    const auto& libs = p.type == "movie" ? s.movie_library : s.series_library;
    if (!libs.empty() && !listed(libs, p.section_id, p.section_title)) return "library not selected";
    if (!account_selected(s.webhook_accounts, p, s)) return "account not selected";
    return std::nullopt;
}

void Webhooks::take(const Payload& p, Reply reply) {
    auto ignored = [&](const std::string& why) {
        reply.no_content();
        session_.log().debug("webhook {} ignored: {}", p.event, why);
    };
    std::string media_key = p.server_uuid + "/" + p.rating_key;
    if (!p.rating_key.empty() && duplicate(media_key)) return ignored("searched recently");

    Media m = media_of(p);
    if (m.kind == Media::Kind::episode) {
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
    if (p.rating_key.empty() && !need_series)
        return ignored("no ids: " + plexapi::why_no_ids(p.guid).value_or("a trailer or pre-roll?"));
    boost::asio::post(session_.io(), [this, p, m, reply] { resolve_then_dispatch(p, m, reply); });
}

static plexapi::ExternalIds ids_of(const plexapi::MediaItem& it) {
    plexapi::ExternalIds ids;
    for (const auto& g : it.guids) plexapi::read_guid(g, ids);
    plexapi::read_guid(it.guid, ids);
    return ids;
}

void Webhooks::resolve_then_dispatch(Payload p, Media m, Reply reply) {
    // Io thread. First the show's ids (cached), then the item's own when the
    // payload carried none (legacy agents send no Guid array).
    auto& pms = session_.pms();
    bool need_series = m.kind == Media::Kind::episode && m.series.tvdb <= 0 && m.series.imdb.empty() &&
                       m.series.tmdb <= 0 && !p.grandparent_rating_key.empty();
    if (need_series) {
        session::PmsRequest req{
            "GET",
            "/library/metadata/" + common::text::url_encode(p.grandparent_rating_key) + "?includeGuids=1",
            "",
            {}};
        return pms.request(req, [this, p, m, reply](http::Result r, const std::string&) mutable {
            if (r && r->status == 200)
                if (auto page = plexapi::parse_items(r->body); page && !page->items.empty()) {
                    m.series = ids_of(page->items.front());
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
    if (p.rating_key.empty()) return reply.no_content();
    session::PmsRequest req{
        "GET", "/library/metadata/" + common::text::url_encode(p.rating_key) + "?includeGuids=1", "", {}};
    pms.request(req, [this, p, m, reply](http::Result r, const std::string&) mutable {
        if (auto e = session::PmsClient::failure(r)) {
            // Whatever went wrong, to Plex it is one thing: we could not read its item.
            e->code = Errc::bad_answer;
            e->peer = common::Peer::pms;
            return reply.fail(e->context("The webhook names no ids and the item could not be read"));
        }
        auto page = plexapi::parse_items(r->body);
        if (!page || page->items.empty())
            return reply.fail(
                Error(Errc::bad_answer, "The item could not be read from Plex Media Server", common::Peer::pms));
        auto ids = ids_of(page->items.front());
        if (m.kind == Media::Kind::movie) {
            m.series = ids;
        } else {
            m.episode = ids;
            if (m.season < 0 && ids.season >= 0) m.season = ids.season;
            if (m.number < 0 && ids.episode >= 0) m.number = ids.episode;
        }
        if (!m.searchable()) {
            session_.log().info("webhook {} for \"{}\" ignored: {}", p.event, p.title,
                                plexapi::why_no_ids(page->items.front().guid).value_or("no ids"));
            return reply.no_content();
        }
        dispatch(p, m, reply);
    });
}

void Webhooks::dispatch(const Payload& p, const Media& m, Reply reply) {
    // Checked again here: resolving the ids may have taken a while, and the
    // person may have turned Plex off meanwhile.
    if (!session_.settings().snapshot()->use_plex) {
        session_.log().debug("webhook {} ignored: Use Plex is off", p.event);
        return reply.no_content();
    }
    std::string reason = "plex webhook " + p.event;
    switch (host_.request_search(m, p.title, reason)) {
        case SearchOutcome::queued: {
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
        case SearchOutcome::unknown_media:
            return reply.fail(Error(Errc::media_unknown, "The subtitle manager does not know \"" + p.title + "\""));
        case SearchOutcome::refused: break;
    }
    reply.fail(Error(Errc::search_refused, "The subtitle manager refused to search now"));
}

// ---------------------------------------------------------------- plex.tv

// The one way the user hears that webhooks need Plex Pass.
static Error needs_plex_pass(const std::string& account) {
    return Error(Errc::plex_pass_required, "Webhooks need Plex Pass, and the account " + account +
                                               " has none. Without it Plex Media Server will not call us.");
}

// plex.tv's answer about webhooks, in words: a refusal for want of Plex Pass
// (error 1043, wherever plex.tv gives it) says so, anything else says what
// was being done.
static Error explain(const Error& e, std::string_view doing, const std::string& account) {
    if (e.code == Errc::plex_pass_required) return needs_plex_pass(account);
    return e.context(doing);
}

// Why Plex Media Server may not reach the address, in words, or "".
// A loopback address works only when Plex runs on this very machine, not
// in a container of its own: the usual first-time mistake.
static std::string reachability_warning(const std::string& base_url) {
    auto url = http::parse_url(base_url);
    if (!url) return {};
    std::string host = common::text::to_lower(url->host);
    if (host == "localhost" || common::text::starts_with(host, "127.") || host == "::1" || host == "[::1]" ||
        host == "0.0.0.0")
        return "Plex Media Server calls " + base_url +
               ", a loopback address: it reaches this application only when Plex runs on this same machine "
               "and not in a container. Use an address Plex can reach (this machine's LAN address).";
    return {};
}

void Webhooks::list(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        auto token = session_.account_token();
        if (!token) return reply.fail(token.error());
        auto s = session_.settings().snapshot();
        std::string account = s->username;
        // The address Plex will call (key masked), and whether it is in the list.
        std::string ours = s->webhook_base_url.empty() ? std::string() : webhook_url();
        std::string warning = reachability_warning(s->webhook_base_url);
        session_.plextv().get_webhooks(
            token->str(), [reply, account, ours, warning](plexapi::ApiResult<std::vector<plexapi::Webhook>> r) {
                if (!r) return reply.fail(explain(r.error(), "Could not read your webhooks from plex.tv", account));
                bj::array hooks;
                for (const auto& w : *r) hooks.push_back(bj::object{{"url", mask(w.url)}, {"ours", w.url == ours}});
                reply.data(bj::object{{"webhooks", hooks},
                                      {"count", hooks.size()},
                                      {"address", ours.empty() ? bj::value(nullptr) : bj::value(mask(ours))},
                                      {"warning", warning.empty() ? bj::value(nullptr) : bj::value(warning)}});
            });
    });
}

// Reads the account (Plex Pass?), then the list, then writes it back with
// `change` applied, so the user's other webhooks are kept as they are.
// `change` answers (and returns nullopt) when there is nothing to write.
using Change = std::function<std::optional<std::vector<std::string>>(std::vector<std::string>&, Reply&)>;
static void modify(session::Session& session, Reply reply, Change change) {
    auto account_token = session.account_token();
    if (!account_token) return reply.fail(account_token.error());
    auto token = std::make_shared<vault::Secret>(std::move(*account_token));
    session.plextv().get_account(token->str(), [&session, reply, token,
                                                change](plexapi::ApiResult<plexapi::Account> a) mutable {
        if (!a) return reply.fail(a.error().context("Could not check your Plex account"));
        if (!a->has_plex_pass()) return reply.fail(needs_plex_pass(a->username));
        std::string account = a->username;
        session.plextv().get_webhooks(token->str(), [&session, reply, token, change, account](
                                                        plexapi::ApiResult<std::vector<plexapi::Webhook>> r) mutable {
            if (!r) return reply.fail(explain(r.error(), "Could not read your webhooks from plex.tv", account));
            std::vector<std::string> urls;
            for (const auto& w : *r) urls.push_back(w.url);
            auto next = change(urls, reply);
            if (!next) return;  // change() answered already
            session.plextv().set_webhooks(token->str(), *next, [reply, next, account](plexapi::ApiResult<bool> w) {
                if (!w) return reply.fail(explain(w.error(), "plex.tv did not accept the webhook list", account));
                bj::array hooks;
                for (const auto& u : *next) hooks.push_back(bj::object{{"url", Webhooks::mask(u)}});
                reply.data(bj::object{{"success", true}, {"webhooks", hooks}, {"count", hooks.size()}});
            });
        });
    });
}

void Webhooks::create(Call&, Reply reply) {
    if (session_.settings().snapshot()->webhook_base_url.empty())
        return reply.fail(
            Error(Errc::webhook_unset,
                  "Set webhook_base_url first: the address where Plex Media Server reaches this application, "
                  "e.g. http://192.168.1.10:6767"));
    boost::asio::post(session_.io(), [this, reply] {
        std::string ours = webhook_url();
        modify(session_, reply,
               [ours](std::vector<std::string>& urls, Reply&) -> std::optional<std::vector<std::string>> {
                   if (std::find(urls.begin(), urls.end(), ours) == urls.end()) urls.push_back(ours);
                   return urls;
               });
    });
}

void Webhooks::remove(Call& call, Reply reply) {
    auto body = common::json::parse_lenient(call.body);
    auto url = body ? common::json::get_string(*body, "webhook_url") : std::nullopt;
    if (!url || url->empty()) return reply.fail(Error(Errc::bad_request, "webhook_url: required"));
    boost::asio::post(session_.io(), [this, reply, url = *url] {
        modify(session_, reply,
               [url](std::vector<std::string>& urls, Reply& r) -> std::optional<std::vector<std::string>> {
                   // The list route shows keys masked: accept the masked form too.
                   auto it = std::find_if(urls.begin(), urls.end(),
                                          [&](const std::string& u) { return u == url || mask(u) == url; });
                   if (it == urls.end()) {
                       r.fail(Error(Errc::webhook_not_found, "No webhook with this URL is registered on plex.tv."));
                       return std::nullopt;
                   }
                   urls.erase(it);
                   return urls;
               });
    });
}

}  // namespace pb::webhooks

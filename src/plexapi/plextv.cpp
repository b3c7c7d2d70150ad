#include "plexapi/plextv.hpp"

#include <boost/json.hpp>

#include "common/text.hpp"
#include "http/url.hpp"
#include "wire.hpp"

namespace pb::plexapi {

// plex.tv's own words from {"errors":[{"code","message","status"}]} (or
// the XML <errors><error message=.../>), bounded; empty when absent.
static std::string plextv_error_message(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return {};
    const Node* errors = w->first("errors");
    if (errors == nullptr) return {};
    std::string m = errors->str("message");
    if (const Node* e = m.empty() ? errors->first("error") : nullptr) m = e->str("message");
    return m.substr(0, 200);
}

// A call of the JWT device sign-in: /api/v2/auth/*, or a JWT PIN.
static bool jwt_call(const http::Request& req) {
    return req.url.find("/api/v2/auth/") != std::string::npos || req.url.find("deviceJWT=") != std::string::npos ||
           req.body.find("\"jwk\"") != std::string::npos;
}

std::optional<common::Error> classify(const http::Request& req, const http::Result& r) {
    if (!r) return r.error();
    int s = r->status;
    if (s >= 200 && s < 300) return std::nullopt;
    auto e = http::status_error(req, *r);
    // plex.tv answers a revoked token with 401, and on some endpoints with
    // 422 and "Invalid token" in the body.
    bool invalid_token = s == 422 && common::text::to_lower(r->body).find("invalid token") != std::string::npos;
    e.code = s == 401 || invalid_token ? common::Errc::token_rejected
             : s == 403                ? common::Errc::forbidden
             : s == 404                ? common::Errc::not_found
             : s == 429                ? common::Errc::rate_limited
                                       : common::Errc::bad_answer;
    // Error 1043, "This action is not available for this user": a Plex Pass
    // feature (webhooks) asked for by an account without Plex Pass.
    if (s == 403 && plextv_error_code(r->body) == 1043) {
        e.code = common::Errc::plex_pass_required;
        e.message = "plex.tv refused: this needs Plex Pass, and the account has none";
    }
    // Error 1041, "A valid PIN is required to perform this action": a
    // switch to a Plex Home user with a wrong or missing PIN.
    if (s == 403 && plextv_error_code(r->body) == 1041) {
        e.code = common::Errc::wrong_pin;
        e.message = "plex.tv refused the PIN";
    }
    // No capture of either exists (docs/notes/plex-accounts-wire.md §1.7):
    // 498 is what clients report for an expired Plex JWT, 422 what they
    // report for a refused key or device JWT.
    if (s == 498) {
        e.code = common::Errc::token_expired;
        e.message = "plex.tv says the short-lived token expired: it is renewed with the device key";
    } else if (s == 422 && !invalid_token && jwt_call(req)) {
        std::string said = plextv_error_message(r->body);
        e.message =
            "plex.tv refused the device sign-in (a bad signature, an unknown or already registered device key, or a "
            "spent nonce)" +
            (said.empty() ? std::string() : ": " + said);
    }
    return e;
}

PlexTv::PlexTv(std::shared_ptr<http::Client> client, ClientIdentity identity, PlexTvOptions options)
    : client_(std::move(client)), identity_(std::move(identity)), options_(std::move(options)) {}

std::function<void(const std::string&, common::Errc)> PlexTv::token_hook() const {
    if (!options_.on_token_rejected && !options_.on_token_expired) return {};
    return [rejected = options_.on_token_rejected, expired = options_.on_token_expired](const std::string& token,
                                                                                        common::Errc why) {
        if (why == common::Errc::token_rejected && rejected) rejected(token);
        if (why == common::Errc::token_expired && expired) expired(token);
    };
}

http::Request PlexTv::make(std::string method, std::string path, const std::string& token, Accept accept) const {
    http::Request r;
    r.method = std::move(method);
    r.url = http::join_url(options_.base_url, path);
    r.token = token;
    r.timeout = options_.timeout;
    r.body_limit = 4 * 1024 * 1024;
    r.peer = common::Peer::plextv;
    add_plex_headers(r.headers, identity_, accept);
    return r;
}

// Free function holding its own client reference: a PlexTv is a cheap
// value and may be gone before the answer arrives.
// Told when plex.tv refuses the token a call was made with: rejected (sign in
// again) or expired (a Plex JWT to renew).
using Rejected = std::function<void(const std::string& token, common::Errc why)>;

template <class T, class Parse>
static void call(const std::shared_ptr<http::Client>& client, http::Request req, Parse parse, ApiCallback<T> cb,
                 Rejected on_rejected, int tries_left = 1) {
    auto shared_req = std::make_shared<http::Request>(req);
    client->async_request(std::move(req), [client, shared_req, parse, cb = std::move(cb), on_rejected,
                                           tries_left](http::Result r) mutable {
        // plex.tv's 429 names a wait in Retry-After; a short one is worth it.
        if (auto wait = r && tries_left > 0 ? http::polite_wait(*r) : std::nullopt)
            return client->after(*wait,
                                 [client, shared_req, parse, cb = std::move(cb), on_rejected, tries_left]() mutable {
                                     call<T>(client, *shared_req, parse, std::move(cb), on_rejected, tries_left - 1);
                                 });
        if (auto err = classify(*shared_req, r)) {
            if (err->code == common::Errc::rate_limited)
                if (auto wait = http::retry_after(*r))
                    err->message = "plex.tv is busy and asks to wait " + std::to_string(wait->count()) + " s";
            bool refused = err->code == common::Errc::token_rejected || err->code == common::Errc::token_expired;
            if (refused && on_rejected && !shared_req->token.empty()) on_rejected(shared_req->token, err->code);
            return cb(std::move(*err));
        }
        auto parsed = parse(r->body);
        if (!parsed)
            return cb(common::Error(common::Errc::bad_answer,
                                    "plex.tv sent an answer we could not read: " + parsed.error().message,
                                    common::Peer::plextv, r->status));
        cb(std::move(parsed).value());
    });
}

void PlexTv::create_pin(PinKind kind, ApiCallback<Pin> cb) {
    auto req = make("POST", kind == PinKind::strong ? "/api/v2/pins?strong=true" : "/api/v2/pins", "", Accept::json);
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), token_hook());
}

void PlexTv::get_pin(int64_t pin_id, ApiCallback<Pin> cb) {
    auto req = make("GET", "/api/v2/pins/" + std::to_string(pin_id), "", Accept::json);
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), token_hook());
}

void PlexTv::get_account(const std::string& token, ApiCallback<Account> cb) {
    call<Account>(client_, make("GET", "/api/v2/user", token, Accept::json), parse_account, std::move(cb),
                  token_hook());
}

void PlexTv::ping(const std::string& token, ApiCallback<bool> cb) {
    call<bool>(
        client_, make("GET", "/api/v2/ping", token, Accept::json),
        [](std::string_view) { return common::Result<bool>(true); }, std::move(cb), token_hook());
}

// v2 first, then the legacy form of the same list when `fall_back` says
// v2's failure is v2's own. When both fail, the error names both; when
// neither exists (404 twice) and `if_neither` is given, that is the answer.
template <class T, class Parse>
static void call_with_legacy(const std::shared_ptr<http::Client>& client, http::Request req, http::Request legacy,
                             Parse parse, ApiCallback<T> cb, Rejected hooks,
                             std::function<bool(const common::Error&)> fall_back,
                             std::optional<T> if_neither = std::nullopt) {
    call<T>(
        client, std::move(req), parse,
        [client, legacy = std::move(legacy), parse, cb, hooks, fall_back,
         if_neither = std::move(if_neither)](ApiResult<T> r) mutable {
            if (r || !fall_back(r.error())) return cb(std::move(r));
            call<T>(
                client, std::move(legacy), parse,
                [first = r.error(), cb, if_neither = std::move(if_neither)](ApiResult<T> r2) mutable {
                    using common::Errc;
                    if (!r2 && if_neither && first.code == Errc::not_found && r2.error().code == Errc::not_found)
                        return cb(std::move(*if_neither));
                    if (!r2)
                        r2.error().message = first.message + "; the legacy list also failed: " + r2.error().message;
                    cb(std::move(r2));
                },
                hooks);
        },
        hooks);
}

void PlexTv::get_resources(const std::string& token, ApiCallback<std::vector<Resource>> cb) {
    call_with_legacy<std::vector<Resource>>(
        client_, make("GET", "/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::json),
        make("GET", "/api/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::xml), parse_resources,
        std::move(cb), token_hook(), [](const common::Error& e) {
            using common::Errc;
            return e.code != Errc::token_rejected && e.code != Errc::token_expired && e.code != Errc::cancelled;
        });
}

void PlexTv::get_home_users(const std::string& token, ApiCallback<std::vector<HomeUser>> cb) {
    // The legacy list only when v2 failed for a reason of its own (gone, or
    // an answer we cannot read): not for a dead token, a refusal, or plex.tv
    // being unreachable. Neither list at all: no Home to list.
    call_with_legacy<std::vector<HomeUser>>(
        client_, make("GET", "/api/v2/home/users", token, Accept::json),
        make("GET", "/api/home/users", token, Accept::xml), parse_home_users, std::move(cb), token_hook(),
        [](const common::Error& e) { return e.code == common::Errc::not_found || e.code == common::Errc::bad_answer; },
        std::vector<HomeUser>{});
}

void PlexTv::switch_home_user(const std::string& token, const HomeUser& user, const std::string& pin,
                              ApiCallback<std::string> cb) {
    // The PIN goes in the query, as Plex Web sends it, and only when given:
    // plex.tv checks a PIN whenever one is sent.
    std::string query = pin.empty() ? "" : "?pin=" + common::text::url_encode(pin);
    auto req = make("POST", "/api/v2/home/users/" + common::text::url_encode(user.uuid) + "/switch" + query, token,
                    Accept::json);
    auto legacy = make("POST", "/api/home/users/" + std::to_string(user.id) + "/switch" + query, token, Accept::xml);
    auto rejected = token_hook();
    bool has_legacy = user.id > 0;
    call<std::string>(
        client_, std::move(req), parse_switch_token,
        [client = client_, legacy = std::move(legacy), cb, rejected, has_legacy](ApiResult<std::string> r) mutable {
            // The legacy switch (numeric id, XML) when v2 does not know the
            // user, or said yes in a form we cannot read; never after a
            // wrong PIN or a failure (that would send the PIN twice).
            using common::Errc;
            if (r || !has_legacy) return cb(std::move(r));
            const auto& e = r.error();
            bool unreadable_yes = e.code == Errc::bad_answer && e.http_status >= 200 && e.http_status < 300;
            if (e.code != Errc::not_found && !unreadable_yes) return cb(std::move(r));
            call<std::string>(client, std::move(legacy), parse_switch_token, std::move(cb), rejected);
        },
        rejected);
}

void PlexTv::get_webhooks(const std::string& token, ApiCallback<std::vector<Webhook>> cb) {
    call<std::vector<Webhook>>(client_, make("GET", "/api/v2/user/webhooks", token, Accept::json), parse_webhooks,
                               std::move(cb), token_hook());
}

void PlexTv::set_webhooks(const std::string& token, const std::vector<std::string>& urls, ApiCallback<bool> cb) {
    auto req = make("POST", "/api/v2/user/webhooks", token, Accept::json);
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    // An empty list is sent as "urls=" (no urls[] at all would be a no-op).
    if (urls.empty()) req.body = "urls=";
    for (const auto& u : urls) {
        if (!req.body.empty()) req.body += "&";
        req.body += "urls%5B%5D=" + common::text::url_encode(u);
    }
    call<bool>(
        client_, std::move(req), [](std::string_view) { return common::Result<bool>(true); }, std::move(cb),
        token_hook());
}

// ---- JWT device sign-in ----

http::Request PlexTv::make_clients(std::string method, std::string path, const std::string& token) const {
    auto r = make(std::move(method), path, token, Accept::json);
    r.url = http::join_url(options_.clients_base_url, path);
    return r;
}

// {"<key>": <json>, ...}: the JWK goes in as an object, not as a string.
static std::optional<std::string> json_body(std::string_view key, std::string_view json, bool strong = false) {
    boost::system::error_code ec;
    auto v = boost::json::parse(json, ec);
    if (ec || !v.is_object()) return std::nullopt;
    boost::json::object o;
    o[key] = std::move(v);
    if (strong) o["strong"] = true;
    return boost::json::serialize(o);
}

static void post_json(http::Request& r, std::string body) {
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = std::move(body);
}

// A required string field of a JSON answer.
static common::Result<std::string> string_field(std::string_view body, std::string_view key) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    std::string v = w->str(key);
    if (v.empty()) return common::Error(common::Errc::bad_answer, "the answer has no " + std::string(key));
    return v;
}

void PlexTv::register_device_key(const std::string& token, const std::string& jwk_json, ApiCallback<bool> cb) {
    auto body = json_body("jwk", jwk_json);
    if (!body)
        return client_->after(std::chrono::milliseconds(0), [cb = std::move(cb)] {
            cb(common::Error(common::Errc::bad_request, "the device key is not a JSON Web Key"));
        });
    auto req = make_clients("POST", "/api/v2/auth/jwk", token);
    post_json(req, std::move(*body));
    call<bool>(
        client_, std::move(req), [](std::string_view) { return common::Result<bool>(true); }, std::move(cb),
        token_hook());
}

void PlexTv::get_nonce(ApiCallback<std::string> cb) {
    call<std::string>(
        client_, make_clients("GET", "/api/v2/auth/nonce", ""),
        [](std::string_view b) { return string_field(b, "nonce"); }, std::move(cb), token_hook());
}

void PlexTv::exchange_device_jwt(const std::string& device_jwt, ApiCallback<std::string> cb) {
    auto req = make_clients("POST", "/api/v2/auth/token", "");
    boost::json::object o;
    o["jwt"] = device_jwt;
    post_json(req, boost::json::serialize(o));
    // snake_case here, unlike the PIN's authToken (python-plexapi _exchangePlexJWT).
    call<std::string>(
        client_, std::move(req), [](std::string_view b) { return string_field(b, "auth_token"); }, std::move(cb),
        token_hook());
}

void PlexTv::get_jwt_keys(ApiCallback<std::string> cb) {
    call<std::string>(
        client_, make_clients("GET", "/api/v2/auth/keys", ""),
        [](std::string_view b) -> common::Result<std::string> {
            boost::system::error_code ec;
            auto v = boost::json::parse(b, ec);
            const auto* keys = !ec && v.is_object() ? v.as_object().if_contains("keys") : nullptr;
            if (keys == nullptr || !keys->is_array())
                return common::Error(common::Errc::bad_answer, "the key list has no keys");
            return std::string(b);
        },
        std::move(cb), token_hook());
}

void PlexTv::create_jwt_pin(const std::string& jwk_json, ApiCallback<Pin> cb, PinKind kind) {
    auto body = json_body("jwk", jwk_json, kind == PinKind::strong);
    if (!body)
        return client_->after(std::chrono::milliseconds(0), [cb = std::move(cb)] {
            cb(common::Error(common::Errc::bad_request, "the device key is not a JSON Web Key"));
        });
    auto req = make_clients("POST", "/api/v2/pins", "");
    post_json(req, std::move(*body));
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), token_hook());
}

void PlexTv::get_jwt_pin(int64_t id, const std::string& device_jwt, ApiCallback<Pin> cb) {
    auto req = make_clients(
        "GET", "/api/v2/pins/" + std::to_string(id) + "?deviceJWT=" + common::text::url_encode(device_jwt), "");
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), token_hook());
}

}  // namespace pb::plexapi

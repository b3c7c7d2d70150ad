#include "plexapi/plextv.hpp"

#include "common/text.hpp"
#include "http/url.hpp"

namespace pb::plexapi {

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
    return e;
}

PlexTv::PlexTv(std::shared_ptr<http::Client> client, ClientIdentity identity, PlexTvOptions options)
    : client_(std::move(client)), identity_(std::move(identity)), options_(std::move(options)) {}

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
using Rejected = std::function<void(const std::string& token)>;

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
            if (err->code == common::Errc::token_rejected && on_rejected && !shared_req->token.empty())
                on_rejected(shared_req->token);
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
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), options_.on_token_rejected);
}

void PlexTv::get_pin(int64_t pin_id, ApiCallback<Pin> cb) {
    auto req = make("GET", "/api/v2/pins/" + std::to_string(pin_id), "", Accept::json);
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb), options_.on_token_rejected);
}

void PlexTv::get_account(const std::string& token, ApiCallback<Account> cb) {
    call<Account>(client_, make("GET", "/api/v2/user", token, Accept::json), parse_account, std::move(cb),
                  options_.on_token_rejected);
}

void PlexTv::ping(const std::string& token, ApiCallback<bool> cb) {
    call<bool>(
        client_, make("GET", "/api/v2/ping", token, Accept::json),
        [](std::string_view) { return common::Result<bool>(true); }, std::move(cb), options_.on_token_rejected);
}

void PlexTv::get_resources(const std::string& token, ApiCallback<std::vector<Resource>> cb) {
    auto req = make("GET", "/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::json);
    auto legacy = make("GET", "/api/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::xml);
    auto rejected = options_.on_token_rejected;
    call<std::vector<Resource>>(
        client_, std::move(req), parse_resources,
        [client = client_, legacy = std::move(legacy), cb, rejected](ApiResult<std::vector<Resource>> r) mutable {
            if (r || r.error().code == common::Errc::token_rejected || r.error().code == common::Errc::cancelled)
                return cb(std::move(r));
            call<std::vector<Resource>>(
                client, std::move(legacy), parse_resources,
                [first = r.error(), cb](ApiResult<std::vector<Resource>> r2) {
                    if (!r2)
                        r2.error().message = first.message + "; the legacy list also failed: " + r2.error().message;
                    cb(std::move(r2));
                },
                rejected);
        },
        rejected);
}

void PlexTv::get_webhooks(const std::string& token, ApiCallback<std::vector<Webhook>> cb) {
    call<std::vector<Webhook>>(client_, make("GET", "/api/v2/user/webhooks", token, Accept::json), parse_webhooks,
                               std::move(cb), options_.on_token_rejected);
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
        options_.on_token_rejected);
}

}  // namespace pb::plexapi

#include "plexapi/plextv.hpp"

#include "common/text.hpp"
#include "http/url.hpp"

namespace pb::plexapi {

std::optional<ApiError> classify(const http::Request& req, const http::Result& r) {
    using http::ErrorKind;
    if (r.error) {
        ApiErrorKind k = ApiErrorKind::unreachable;
        if (r.error->kind == ErrorKind::timed_out)
            k = ApiErrorKind::timed_out;
        else if (r.error->kind == ErrorKind::cancelled)
            k = ApiErrorKind::cancelled;
        else if (r.error->kind == ErrorKind::too_large || r.error->kind == ErrorKind::parse)
            k = ApiErrorKind::bad_answer;
        return ApiError{k, 0, r.error->message};
    }
    int s = r.response->status;
    if (s >= 200 && s < 300) return std::nullopt;
    auto e = http::status_error(req, *r.response);
    // plex.tv answers a revoked token with 401, and on some endpoints with
    // 422 and "Invalid token" in the body.
    if (s == 401 || (s == 422 && text::to_lower(r.response->body).find("invalid token") != std::string::npos))
        return ApiError{ApiErrorKind::token_rejected, s, e.message};
    if (s == 403) return ApiError{ApiErrorKind::forbidden, s, e.message};
    if (s == 404) return ApiError{ApiErrorKind::not_found, s, e.message};
    return ApiError{ApiErrorKind::bad_answer, s, e.message};
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
    r.peer_name = "plex.tv";
    add_plex_headers(r.headers, identity_, accept);
    return r;
}

// Free function holding its own client reference: a PlexTv is a cheap
// value and may be gone before the answer arrives.
template <class T, class Parse>
static void call(const std::shared_ptr<http::Client>& client, http::Request req, Parse parse,
                 std::function<void(ApiResult<T>)> cb) {
    auto shared_req = std::make_shared<http::Request>(req);
    client->async_request(std::move(req), [shared_req, parse, cb = std::move(cb)](http::Result r) {
        if (auto err = classify(*shared_req, r)) return cb(ApiResult<T>{std::nullopt, err});
        auto parsed = parse(r.response->body);
        if (!parsed.value)
            return cb(
                ApiResult<T>{std::nullopt, ApiError{ApiErrorKind::bad_answer, r.response->status,
                                                    "plex.tv sent an answer we could not read: " + parsed.error}});
        cb(ApiResult<T>{std::move(parsed.value), std::nullopt});
    });
}

void PlexTv::create_pin(std::function<void(ApiResult<Pin>)> cb) {
    auto req = make("POST", "/api/v2/pins?strong=true", "", Accept::json);
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb));
}

void PlexTv::get_pin(int64_t pin_id, std::function<void(ApiResult<Pin>)> cb) {
    auto req = make("GET", "/api/v2/pins/" + std::to_string(pin_id), "", Accept::json);
    call<Pin>(client_, std::move(req), parse_pin, std::move(cb));
}

void PlexTv::get_account(const std::string& token, std::function<void(ApiResult<Account>)> cb) {
    call<Account>(client_, make("GET", "/api/v2/user", token, Accept::json), parse_account, std::move(cb));
}

void PlexTv::get_resources(const std::string& token, std::function<void(ApiResult<std::vector<Resource>>)> cb) {
    auto req = make("GET", "/api/v2/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::json);
    auto legacy = make("GET", "/api/resources?includeHttps=1&includeRelay=1&includeIPv6=1", token, Accept::xml);
    call<std::vector<Resource>>(
        client_, std::move(req), parse_resources,
        [client = client_, legacy = std::move(legacy), cb](ApiResult<std::vector<Resource>> r) mutable {
            if (!r.error || r.error->kind == ApiErrorKind::token_rejected || r.error->kind == ApiErrorKind::cancelled)
                return cb(std::move(r));
            call<std::vector<Resource>>(
                client, std::move(legacy), parse_resources,
                [first = *r.error, cb](ApiResult<std::vector<Resource>> r2) {
                    if (r2.error)
                        r2.error->message = first.message + "; the legacy list also failed: " + r2.error->message;
                    cb(std::move(r2));
                });
        });
}

void PlexTv::get_webhooks(const std::string& token, std::function<void(ApiResult<std::vector<Webhook>>)> cb) {
    call<std::vector<Webhook>>(client_, make("GET", "/api/v2/user/webhooks", token, Accept::json), parse_webhooks,
                               std::move(cb));
}

void PlexTv::set_webhooks(const std::string& token, const std::vector<std::string>& urls,
                          std::function<void(ApiResult<bool>)> cb) {
    auto req = make("POST", "/api/v2/user/webhooks", token, Accept::json);
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    // An empty list is sent as "urls=" (no urls[] at all would be a no-op).
    if (urls.empty()) req.body = "urls=";
    for (const auto& u : urls) {
        if (!req.body.empty()) req.body += "&";
        req.body += "urls%5B%5D=" + text::url_encode(u);
    }
    call<bool>(
        client_, std::move(req),
        [](std::string_view) {
            return Parsed<bool>{true, {}};
        },
        std::move(cb));
}

}  // namespace pb::plexapi

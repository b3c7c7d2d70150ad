// One error type for every layer of the plugin.
//
// An Error says what went wrong as a code a program can branch on, one
// sentence a user can act on, optional detail for the log, and who failed
// (plex.tv, Plex Media Server, us). The HTTP status and the stable error
// name a route answers with are derived from the code and the peer in one
// table (error.cpp), so no route invents its own pair.
//
// Fallible calls return Result<T> (or Status, a Result without a value).
// Both are [[nodiscard]]: a result that is dropped unread is a compile
// warning, and the build treats warnings in our code as errors.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pb::common {

enum class Errc : uint8_t {
    // Nothing usable came back from the peer (transport).
    invalid_request = 1,  // bad URL or method: nothing was sent
    resolve,              // the host name does not resolve
    refused,              // connection refused
    unreachable,          // no route, network down
    connect_timed_out,    // no connection within the connect deadline (nothing answers there)
    timed_out,            // connected, but no complete answer before the deadline
    tls,                  // handshake or certificate verification failed
    reset,                // the peer closed or reset before a full answer
    too_large,            // the answer is larger than we accept
    parse,                // not HTTP at all
    cancelled,            // we cancelled it (shutdown, or the caller)
    // The peer answered, and the answer is the problem.
    http_status,     // a status we did not expect (Error::http_status says which)
    token_rejected,  // 401, or plex.tv's 422 "Invalid token"
    forbidden,       // 403
    not_found,       // 404, or a file that does not exist
    bad_answer,      // 5xx, or a body we could not read
    rate_limited,    // 429: too many requests; wait (Retry-After) before the next
    // Our own refusals and failures.
    bad_request,           // the caller's input is wrong
    not_signed_in,         // no usable Plex token
    no_server,             // no Plex Media Server selected yet
    storage,               // the disk: settings, keys, queues
    unavailable,           // the plugin is shutting down
    internal,              // a bug
    secret_not_sealed,     // a stored secret is plain text (old configuration)
    secret_damaged,        // a stored secret is not valid sealed data
    secret_wrong_key,      // a sealed secret does not open with this key
    pin_not_found,         // sign-in: no PIN waiting with this id
    pin_expired,           // sign-in: the PIN timed out
    state_missing,         // sign-in: the CSRF state was not sent
    state_mismatch,        // sign-in: the CSRF state does not match
    unknown_address,       // an address that is not one of the account's servers
    server_not_found,      // no server of the account has this machine id
    plex_pass_required,    // the account has no Plex Pass (plex.tv error 1043)
    webhook_unset,         // webhooks: the base URL is not configured
    webhook_unauthorized,  // webhooks: wrong or missing key in the URL
    webhook_malformed,     // webhooks: not a Plex webhook
    webhook_content_type,  // webhooks: an unsupported content type
    webhook_not_found,     // webhooks: no such URL on plex.tv
    media_unknown,         // the host does not know the media
    search_refused,        // the host will not search now
    token_expired,         // plex.tv's 498: the short-lived Plex JWT expired (renew it with the device key)
    wrong_pin,             // plex.tv error 1041: a Plex Home user's PIN is wrong or missing
    profile_unknown,       // no profile has this id (it may have been removed)
    profile_limit,         // as many profiles as the plugin keeps
};

// Who failed. Transport errors name their peer; route answers depend on it
// (plex.tv down is PLEX_TV_UNREACHABLE, the server down PLEX_SERVER_UNREACHABLE).
enum class Peer : uint8_t {
    local = 1,  // the plugin itself, or its caller
    plextv,     // plex.tv
    pms,        // Plex Media Server
    other,      // any other HTTP peer (tests, tools)
};

// "plex.tv", "Plex Media Server", "server": how messages name a peer.
std::string_view peer_name(Peer peer);
// "refused", "timed_out", ...: the code's name, for logs and tests.
std::string_view to_string(Errc code);

struct Error {
    Errc code = Errc::internal;
    std::string message;  // one sentence for the user; never a token, path or query
    Peer peer = Peer::local;
    int http_status = 0;  // the peer's status, when it answered
    std::string detail;   // more for the log; may be empty

    Error() = default;
    Error(Errc c, std::string msg, Peer p = Peer::local, int status = 0)
        : code(c), message(std::move(msg)), peer(p), http_status(status) {}

    // The same error with what was being done in front:
    // "Could not list your Plex servers: plex.tv did not answer within 10 s".
    [[nodiscard]] Error context(std::string_view what) const;
    // A transport failure: no usable answer (the caller may try elsewhere).
    bool transport() const;
};

// How a route answers an error: its HTTP status and stable name.
struct RouteAnswer {
    int status = 500;
    std::string_view name;  // "PLEX_TV_UNREACHABLE"
};
RouteAnswer route_answer(const Error& error);

// The one phrase for an unexpected status: "Plex Media Server answered HTTP
// 503" ("answered HTTP 503" when `who` is empty).
std::string answered_http(std::string_view who, int status);

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const Error& error() const& { return std::get<1>(v_); }
    Error& error() & { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    std::variant<T, Error> v_;
};

// A Result with nothing in it but success or an Error.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error error) : error_(std::move(error)), failed_(true) {}

    bool ok() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return ok(); }
    const Error& error() const& { return error_; }
    Error& error() & { return error_; }

private:
    Error error_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace pb::common

// Asynchronous HTTP(S) client on the plugin's io_context.
//
// Promises:
//  - An optional connect deadline covers resolve, connect and TLS
//    (Errc::connect_timed_out); one deadline covers the whole request;
//    when it passes the request fails with Errc::timed_out and a
//    message such as "Plex Media Server at https://h:32400 did not answer
//    within 3 s".
//  - TLS peers are verified (system store + optional extra CA) and their
//    name checked against the URL's host, even when `connect_address`
//    sends the bytes to a raw IP (plex.direct behind DNS-rebinding
//    protection). Turning verification off is per request and logged.
//  - The response body is bounded by `body_limit`; beyond it: too_large.
//  - Redirects are returned as responses, never followed.
//  - Idle keep-alive connections are reused per origin; a reused
//    connection that turns out dead is retried once on a fresh one.
//  - Messages never contain the token, a query string or a path.
//
// Threading: async_request() and cancel handles may be used from any
// thread; callbacks run on the io_context's thread. request_sync() must not
// be called from that thread.
#pragma once
#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace pb::http {

using common::Errc;
using common::Error;
using common::Peer;

enum class TlsVerify { verify = 1, skip = 2 };

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "GET";
    std::string url;  // absolute http(s) URL
    Headers headers;
    std::string body;
    std::string token;  // sent as X-Plex-Token when non-empty
    std::chrono::milliseconds timeout{10000};
    // Resolving, connecting and the TLS handshake must end within this
    // (Errc::connect_timed_out: nothing answers there); 0: only `timeout`
    // bounds them. A server slow to answer is not a server that is gone.
    std::chrono::milliseconds connect_timeout{0};
    std::size_t body_limit = 16 * 1024 * 1024;
    TlsVerify verify = TlsVerify::verify;
    // Connect to this address instead of resolving the URL's host; SNI,
    // Host and certificate checks still use the URL's host.
    std::string connect_address;
    // Names the peer in messages ("plex.tv", "Plex Media Server") and
    // in route answers (PLEX_TV_UNREACHABLE, PLEX_SERVER_UNREACHABLE).
    Peer peer = Peer::other;
    // Called once, on the client's io thread, when the TCP connection is up
    // (or a pooled one is taken), before TLS and the request: something
    // listens there, however slowly it may answer.
    std::function<void()> on_connected;
};

struct Response {
    int status = 0;
    Headers headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const;
};

// Any complete HTTP answer, whatever its status; an Error (transport code,
// Request::peer) when there is no usable answer.
using Result = common::Result<Response>;

using Callback = std::function<void(Result)>;

class CancelHandle {
public:
    virtual ~CancelHandle() = default;
    virtual void cancel() = 0;  // thread-safe; the callback gets `cancelled`
};

struct ClientOptions {
    std::string extra_ca_file;  // PEM; empty: system store only
    std::size_t max_idle_per_origin = 4;
    std::chrono::seconds idle_timeout{30};
};

class Client : public std::enable_shared_from_this<Client> {
public:
    // Errc::tls when the TLS setup fails (a CA file that cannot be loaded).
    [[nodiscard]] static common::Result<std::shared_ptr<Client>> create(boost::asio::io_context& ioc,
                                                                        ClientOptions options,
                                                                        std::shared_ptr<spdlog::logger> log);
    virtual ~Client() = default;

    virtual std::shared_ptr<CancelHandle> async_request(Request request, Callback callback) = 0;
    // Blocks the calling thread (never the io thread) until completion.
    Result request_sync(Request request);
    // Closes idle connections and cancels in-flight requests. Thread-safe.
    virtual void shutdown() = 0;
    // Runs `fn` on the client's thread after `delay` (a polite retry),
    // unless the client was shut down meanwhile.
    virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
    // Counters for tests and benchmarks.
    virtual std::size_t connections_opened() const = 0;
};

// How long a 429 or 503 answer asks us to wait (Retry-After, in seconds or
// as an HTTP date); nullopt when it does not say.
std::optional<std::chrono::seconds> retry_after(const Response& response);

// Whether a 429 is worth waiting out once, and for how long: its
// Retry-After (1 s when it names none) when that is at most 30 s.
std::optional<std::chrono::seconds> polite_wait(const Response& response);

// An answer whose status the caller did not want, as an Error
// (Errc::http_status, the status in Error::http_status) whose message names
// the peer and its origin. What the status means is the caller's to say.
Error status_error(const Request& request, const Response& response);

}  // namespace pb::http

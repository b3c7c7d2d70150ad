// Asynchronous HTTP(S) client on the plugin's io_context.
//
// Promises:
//  - One deadline per request covers resolve, connect, TLS, write and read;
//    when it passes the request fails with ErrorKind::timed_out and a
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

namespace pb::http {

enum class ErrorKind {
    invalid_request = 1,  // bad URL or method: nothing was sent
    resolve,              // the host name does not resolve
    refused,              // connection refused
    unreachable,          // no route / network down
    timed_out,            // the deadline passed
    tls,                  // handshake or certificate verification failed
    reset,                // the peer closed or reset before a full answer
    too_large,            // response body above the limit
    parse,                // not HTTP, or a body we could not understand
    http_status,          // a well-formed answer with an unexpected status
    cancelled,            // cancelled by us (shutdown, or the caller)
};
const char* to_string(ErrorKind kind);

struct Error {
    ErrorKind kind = ErrorKind::invalid_request;
    int http_status = 0;  // for http_status
    std::string message;  // one sentence a user can act on
};

enum class TlsVerify { verify = 1, skip = 2 };

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "GET";
    std::string url;  // absolute http(s) URL
    Headers headers;
    std::string body;
    std::string token;  // sent as X-Plex-Token when non-empty
    std::chrono::milliseconds timeout{10000};
    std::size_t body_limit = 16 * 1024 * 1024;
    TlsVerify verify = TlsVerify::verify;
    // Connect to this address instead of resolving the URL's host; SNI,
    // Host and certificate checks still use the URL's host.
    std::string connect_address;
    // Names the peer in messages: "plex.tv", "Plex Media Server".
    std::string peer_name = "server";
};

struct Response {
    int status = 0;
    Headers headers;
    std::string body;
    std::optional<std::string> header(std::string_view name) const;
};

struct Result {
    std::optional<Response> response;  // set on any complete HTTP answer
    std::optional<Error> error;        // set when there is no usable answer
    bool ok() const { return response.has_value() && !error; }
};

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
    // Nullptr and `error` set when the TLS setup fails (bad CA file).
    static std::shared_ptr<Client> create(boost::asio::io_context& ioc, ClientOptions options,
                                          std::shared_ptr<spdlog::logger> log, std::string* error = nullptr);
    virtual ~Client() = default;

    virtual std::shared_ptr<CancelHandle> async_request(Request request, Callback callback) = 0;
    // Blocks the calling thread (never the io thread) until completion.
    Result request_sync(Request request);
    // Closes idle connections and cancels in-flight requests. Thread-safe.
    virtual void shutdown() = 0;
    // Counters for tests and benchmarks.
    virtual std::size_t connections_opened() const = 0;
};

// A Result for a non-2xx answer, as an Error with a readable message.
Error status_error(const Request& request, const Response& response);

}  // namespace pb::http

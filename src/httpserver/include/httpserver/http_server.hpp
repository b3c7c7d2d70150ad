// A small asynchronous HTTP/1.1 server on Boost.Beast, shared by the
// reference host and the Plex simulator (never linked into the plugin).
//
// Each listener has its own handler, an optional TLS context and, for the
// simulator, a fault mode that makes it misbehave like a real broken
// server. Handlers receive a Responder they may call later from any thread,
// exactly once; the connection waits for it without blocking a thread.
// Request bodies are bounded per request (413 beyond, before reading it).
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace pb::httpserver {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method;
    std::string target;  // path + '?' + query, raw
    std::string path;    // before '?'
    std::string query;   // after '?', raw
    Headers headers;
    std::string body;
    std::string remote_address;
    uint16_t local_port = 0;
    std::string header(std::string_view name) const;  // "" when absent
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    Headers headers;
    std::string body;
};

using Responder = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Responder)>;

enum class Fault {
    none = 1,
    blackhole,  // accept, read nothing, never answer
    reset,      // read the request, then close without answering
    slow_body,  // answer, but trickle the body out byte by byte
};

struct ListenOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 0;                               // 0: any free port
    std::shared_ptr<boost::asio::ssl::context> tls;  // nullptr: plain HTTP
    Handler handler;
    // Body limit for a request, decided from its method and target before
    // the body is read. Nullptr: 1 MiB for everything.
    std::function<std::size_t(const std::string& method, const std::string& target)> body_limit;
    Fault fault = Fault::none;
    std::chrono::milliseconds latency{0};  // delay before answering
    // A connection that sends no complete request, or does not take its
    // answer, for this long is closed (idle keep-alive, slow-loris clients).
    std::chrono::milliseconds idle_timeout{30000};
    std::string server_header = "plexbridge";
};

class HttpServer {
public:
    // Listeners and their connections run on `ioc`, each connection in its
    // own strand (any number of threads may run `ioc`).
    explicit HttpServer(boost::asio::io_context& ioc);
    // Listeners run on `ioc`; accepted connections are spread round-robin
    // over `session_contexts`, each meant to be run by exactly one thread:
    // a connection then never changes thread, needs no strand, and threads
    // never hand requests to each other (the shape of nginx's workers).
    // The contexts must outlive the server.
    HttpServer(boost::asio::io_context& ioc, std::vector<boost::asio::io_context*> session_contexts);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds and starts accepting. Returns the bound port, 0 on failure
    // (error filled, e.g. "address already in use").
    uint16_t listen(ListenOptions options, std::string* error);
    // Closes one listener and every connection it accepted.
    void close(uint16_t port);
    // Closes everything. Thread-safe; returns once closing is posted.
    void stop();

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

// A port that refuses connections: bound, then closed (for fault tests).
uint16_t reserve_refusing_port(const std::string& address = "127.0.0.1");

// Standard reason text for a status code.
const char* reason(int status);

}  // namespace pb::httpserver

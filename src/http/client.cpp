#include "http/client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <unordered_set>

#include "common/text.hpp"
#include "http/url.hpp"
#include "tls.hpp"

namespace pb::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::optional<std::string> Response::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (common::text::iequals(k, name)) return v;
    return std::nullopt;
}

static std::string seconds_text(std::chrono::milliseconds ms) {
    if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
    return std::to_string(ms.count()) + " ms";
}

Error status_error(const Request& request, const Response& response) {
    auto url = parse_url(request.url);
    std::string where = std::string(common::peer_name(request.peer)) + (url ? " at " + url->origin() : std::string());
    std::string msg = common::answered_http(where, response.status);
    if (response.status >= 300 && response.status < 400) {
        auto loc = response.header("Location");
        msg += loc ? " (a redirect, not followed)" : " (a redirect)";
    } else if (response.status == 401) {
        msg += ": the token was refused";
    } else if (response.status == 404) {
        msg += ": not found";
    } else if (response.status >= 500) {
        msg += ": the server failed";
    }
    return Error(Errc::http_status, msg, request.peer, response.status);
}

namespace {

// One TCP (or TLS over TCP) connection, reusable across requests.
struct Conn {
    explicit Conn(asio::io_context& ioc) : socket(ioc) {}
    tcp::socket socket;
    std::unique_ptr<ssl::stream<tcp::socket&>> tls;
    beast::flat_buffer buffer;
    std::chrono::steady_clock::time_point idle_since{};
    bool reused = false;
};

class ClientImpl;

class Op : public std::enable_shared_from_this<Op>, public CancelHandle {
public:
    Op(std::shared_ptr<ClientImpl> client, Request req, Callback cb);
    void start();
    void cancel() override;

private:
    friend class ClientImpl;
    void begin_connection();
    void on_resolve(const error_code& ec, tcp::resolver::results_type results);
    void on_connect(const error_code& ec);
    void handshake();
    void send();
    template <class Stream>
    void write_and_read(Stream& stream);
    void on_read(const error_code& ec);
    void on_deadline(const error_code& ec);
    void on_connect_deadline(const error_code& ec);
    void fail(Errc kind, std::string problem);
    void fail_ec(const error_code& ec, const char* step);
    void finish(Result r);
    std::string where() const { return std::string(common::peer_name(req_.peer)) + " at " + url_.origin(); }
    std::string pool_key() const;

    std::shared_ptr<ClientImpl> client_;
    Request req_;
    Callback cb_;
    Url url_;
    asio::steady_timer deadline_;
    asio::steady_timer connect_deadline_;
    tcp::resolver resolver_;
    std::unique_ptr<Conn> conn_;
    bhttp::request<bhttp::string_body> http_req_;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser_;
    bool done_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    bool timed_out_ = false;
    bool connect_timed_out_ = false;
    bool connected_ = false;
    bool cancelled_ = false;
    bool retried_ = false;
};

class ClientImpl final : public Client {
public:
    ClientImpl(asio::io_context& ioc, ClientOptions opts, std::shared_ptr<ssl::context> tls,
               std::shared_ptr<spdlog::logger> log)
        : ioc_(ioc), opts_(std::move(opts)), tls_(std::move(tls)), log_(std::move(log)) {}

    std::shared_ptr<CancelHandle> async_request(Request request, Callback callback) override {
        auto op = std::make_shared<Op>(std::static_pointer_cast<ClientImpl>(shared_from_this()), std::move(request),
                                       std::move(callback));
        asio::post(ioc_, [op] { op->start(); });
        return op;
    }

    void shutdown() override {
        auto self = std::static_pointer_cast<ClientImpl>(shared_from_this());
        asio::post(ioc_, [self] {
            self->stopped_ = true;
            self->idle_.clear();
            auto live = self->live_;
            for (auto* op : live) op->cancel();
        });
    }

    std::size_t connections_opened() const override { return opened_.load(); }

    void after(std::chrono::milliseconds delay, std::function<void()> fn) override {
        auto timer = std::make_shared<asio::steady_timer>(ioc_, delay);
        auto self = std::static_pointer_cast<ClientImpl>(shared_from_this());
        timer->async_wait([self, timer, fn = std::move(fn)](const error_code& ec) {
            if (!ec && !self->stopped_) fn();
        });
    }

    // Io-thread only from here on.
    std::unique_ptr<Conn> take_idle(const std::string& key) {
        auto it = idle_.find(key);
        if (it == idle_.end()) return nullptr;
        auto now = std::chrono::steady_clock::now();
        while (!it->second.empty()) {
            auto c = std::move(it->second.back());
            it->second.pop_back();
            if (now - c->idle_since < opts_.idle_timeout && c->socket.is_open()) {
                c->reused = true;
                return c;
            }
        }
        return nullptr;
    }

    void put_idle(const std::string& key, std::unique_ptr<Conn> c) {
        if (stopped_) return;
        auto& list = idle_[key];
        if (list.size() >= opts_.max_idle_per_origin) list.pop_front();
        c->idle_since = std::chrono::steady_clock::now();
        list.push_back(std::move(c));
    }

    asio::io_context& ioc_;
    ClientOptions opts_;
    std::shared_ptr<ssl::context> tls_;
    std::shared_ptr<spdlog::logger> log_;
    std::map<std::string, std::deque<std::unique_ptr<Conn>>> idle_;
    std::unordered_set<Op*> live_;
    std::atomic<std::size_t> opened_{0};
    bool stopped_ = false;
};

Op::Op(std::shared_ptr<ClientImpl> client, Request req, Callback cb)
    : client_(std::move(client)),
      req_(std::move(req)),
      cb_(std::move(cb)),
      deadline_(client_->ioc_),
      connect_deadline_(client_->ioc_),
      resolver_(client_->ioc_) {}

std::string Op::pool_key() const {
    return url_.origin() + "|" + req_.connect_address + "|" + (req_.verify == TlsVerify::verify ? "v" : "n");
}

void Op::start() {
    if (client_->stopped_) return finish(Error(Errc::cancelled, "the client is shut down", req_.peer));
    auto u = parse_url(req_.url);
    if (!u) return finish(Error(Errc::invalid_request, "not an http(s) URL", req_.peer));
    url_ = *u;
    if (req_.method.empty() || req_.method.find_first_of(" \r\n") != std::string::npos)
        return finish(Error(Errc::invalid_request, "invalid HTTP method", req_.peer));
    client_->live_.insert(this);

    http_req_.method_string(req_.method);
    http_req_.target(url_.target);
    http_req_.version(11);
    bool default_port = (url_.tls() && url_.port == 443) || (!url_.tls() && url_.port == 80);
    std::string host_header = url_.host_is_ipv6() ? "[" + url_.host + "]" : url_.host;
    if (!default_port) host_header += ":" + std::to_string(url_.port);
    http_req_.set(bhttp::field::host, host_header);
    for (const auto& [k, v] : req_.headers) {
        if (k.find_first_of("\r\n:") != std::string::npos || v.find_first_of("\r\n") != std::string::npos)
            return finish(Error(Errc::invalid_request, "invalid header", req_.peer));
        http_req_.set(k, v);
    }
    if (!req_.token.empty()) {
        if (req_.token.find_first_of("\r\n") != std::string::npos)
            return finish(Error(Errc::invalid_request, "invalid token", req_.peer));
        http_req_.set("X-Plex-Token", req_.token);
    }
    http_req_.keep_alive(true);
    http_req_.body() = req_.body;
    if (!req_.body.empty() || req_.method == "POST" || req_.method == "PUT" || req_.method == "PATCH")
        http_req_.prepare_payload();

    deadline_.expires_after(req_.timeout);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_deadline(ec); });
    if (req_.connect_timeout.count() > 0 && req_.connect_timeout < req_.timeout) {
        connect_deadline_.expires_after(req_.connect_timeout);
        connect_deadline_.async_wait(
            [self = shared_from_this()](const error_code& ec) { self->on_connect_deadline(ec); });
    }

    if (req_.verify == TlsVerify::skip && url_.tls())
        client_->log_->warn("TLS verification is off for {} (the user turned it off)", url_.origin());
    begin_connection();
}

void Op::begin_connection() {
    conn_ = client_->take_idle(pool_key());
    if (conn_) {
        if (req_.on_connected) req_.on_connected();
        return send();
    }
    conn_ = std::make_unique<Conn>(client_->ioc_);
    std::string host = req_.connect_address.empty() ? url_.host : req_.connect_address;
    resolver_.async_resolve(host, std::to_string(url_.port),
                            [self = shared_from_this()](const error_code& ec, tcp::resolver::results_type r) {
                                self->on_resolve(ec, std::move(r));
                            });
}

void Op::on_resolve(const error_code& ec, tcp::resolver::results_type results) {
    if (done_) return;
    if (ec) return fail_ec(ec, "resolve");
    // IPv4 first: many home networks advertise IPv6 they cannot route.
    std::vector<tcp::endpoint> eps;
    for (const auto& e : results) eps.push_back(e.endpoint());
    std::stable_partition(eps.begin(), eps.end(), [](const tcp::endpoint& e) { return e.address().is_v4(); });
    client_->opened_++;
    asio::async_connect(conn_->socket, eps, [self = shared_from_this()](const error_code& ec, const tcp::endpoint&) {
        self->on_connect(ec);
    });
}

void Op::on_connect(const error_code& ec) {
    if (done_) return;
    if (ec) return fail_ec(ec, "connect");
    conn_->socket.set_option(tcp::no_delay(true));
    if (req_.on_connected) req_.on_connected();
    if (url_.tls()) return handshake();
    send();
}

void Op::handshake() {
    conn_->tls = std::make_unique<ssl::stream<tcp::socket&>>(conn_->socket, *client_->tls_);
    SSL* ssl_handle = conn_->tls->native_handle();
    error_code addr_ec;
    asio::ip::make_address(url_.host, addr_ec);                            // only asks: is the host an IP literal?
    if (addr_ec) SSL_set_tlsext_host_name(ssl_handle, url_.host.c_str());  // SNI only for names
    if (req_.verify == TlsVerify::verify) {
        conn_->tls->set_verify_mode(ssl::verify_peer);
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
        if (addr_ec) {
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(ssl_handle, url_.host.c_str());
        } else {
            X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
        }
    } else {
        conn_->tls->set_verify_mode(ssl::verify_none);
    }
    conn_->tls->async_handshake(ssl::stream_base::client, [self = shared_from_this()](const error_code& ec) {
        if (self->done_) return;
        if (ec) {
            long vr = SSL_get_verify_result(self->conn_->tls->native_handle());
            if (vr != X509_V_OK)
                return self->fail(
                    Errc::tls, "presented a certificate that failed verification (" + describe_verify_error(vr) + ")");
            return self->fail_ec(ec, "TLS handshake");
        }
        self->send();
    });
}

void Op::send() {
    // Connected (or reusing a connection): the connect deadline is met.
    connected_ = true;
    connect_deadline_.cancel();
    if (conn_->tls)
        write_and_read(*conn_->tls);
    else
        write_and_read(conn_->socket);
}

template <class Stream>
void Op::write_and_read(Stream& stream) {
    bhttp::async_write(stream, http_req_, [self = shared_from_this(), &stream](const error_code& ec, std::size_t) {
        if (self->done_) return;
        if (ec) return self->fail_ec(ec, "write");
        self->parser_.emplace();
        self->parser_->body_limit(self->req_.body_limit);
        self->parser_->header_limit(64 * 1024);
        bhttp::async_read(stream, self->conn_->buffer, *self->parser_,
                          [self](const error_code& ec, std::size_t) { self->on_read(ec); });
    });
}

void Op::on_read(const error_code& ec) {
    if (done_) return;
    if (ec) return fail_ec(ec, "read");
    auto msg = parser_->release();
    Response resp;
    resp.status = static_cast<int>(msg.result_int());
    for (const auto& f : msg) resp.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    resp.body = std::move(msg.body());
    if (msg.keep_alive() && conn_->buffer.size() == 0) client_->put_idle(pool_key(), std::move(conn_));
    finish(Result(std::move(resp)));
}

void Op::on_deadline(const error_code& ec) {
    if (ec || done_) return;  // cancelled because we finished
    timed_out_ = true;
    fail(Errc::timed_out, "did not answer within " + seconds_text(req_.timeout));
}

void Op::on_connect_deadline(const error_code& ec) {
    if (ec || done_ || connected_) return;
    connect_timed_out_ = true;
    fail(Errc::connect_timed_out, "could not be reached within " + seconds_text(req_.connect_timeout));
}

void Op::cancel() {
    auto self = shared_from_this();
    asio::post(client_->ioc_, [self] {
        if (self->done_) return;
        self->cancelled_ = true;
        self->fail(Errc::cancelled, "request cancelled");
    });
}

void Op::fail_ec(const error_code& ec, const char* step) {
    namespace err = asio::error;
    // A kept-alive connection the server closed meanwhile: one fresh try.
    bool stale = conn_ && conn_->reused && !retried_ &&
                 (ec == asio::error::eof || ec == err::connection_reset || ec == err::broken_pipe ||
                  ec == bhttp::error::end_of_stream || ec == asio::ssl::error::stream_truncated);
    if (stale) {
        retried_ = true;
        conn_.reset();
        return begin_connection();
    }
    if (ec == err::host_not_found || ec == err::host_not_found_try_again || ec == err::no_data ||
        ec == err::no_recovery || ec == err::service_not_found)
        return fail(Errc::resolve, "could not be found: the name " + url_.host + " does not resolve");
    if (ec == err::connection_refused) return fail(Errc::refused, "refused the connection");
    if (ec == err::network_unreachable || ec == err::host_unreachable)
        return fail(Errc::unreachable, "is unreachable from this machine");
    if (ec == bhttp::error::body_limit)
        return fail(Errc::too_large, "sent a response larger than " + std::to_string(req_.body_limit) + " bytes");
    if (ec == bhttp::error::header_limit) return fail(Errc::too_large, "sent oversized response headers");
    if (ec == asio::error::eof || ec == err::connection_reset || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message || ec == err::broken_pipe || ec == asio::ssl::error::stream_truncated)
        return fail(Errc::reset, std::string("closed the connection during ") + step);
    if (ec.category() == asio::error::get_ssl_category() || std::string(step) == "TLS handshake")
        return fail(Errc::tls, "failed the TLS handshake (" + ec.message() + ")");
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() || std::string(step) == "read")
        return fail(Errc::parse, "sent something that is not valid HTTP (" + ec.message() + ")");
    fail(Errc::unreachable, std::string("failed during ") + step + " (" + ec.message() + ")");
}

void Op::fail(Errc kind, std::string problem) {
    if (done_) return;
    // The deadline closes the socket, which makes the pending step fail
    // with operation_aborted: report the timeout, not the abort.
    if (timed_out_ && kind != Errc::timed_out)
        kind = Errc::timed_out, problem = "did not answer within " + seconds_text(req_.timeout);
    if (connect_timed_out_ && kind != Errc::connect_timed_out)
        kind = Errc::connect_timed_out, problem = "could not be reached within " + seconds_text(req_.connect_timeout);
    if (cancelled_ && kind != Errc::cancelled) kind = Errc::cancelled, problem = "request cancelled";
    std::string message = kind == Errc::invalid_request ? problem : where() + " " + problem;
    finish(Error(kind, common::text::redact(message, {req_.token}), req_.peer));
}

void Op::finish(Result r) {
    if (done_) return;
    done_ = true;
    client_->live_.erase(this);
    deadline_.cancel();
    connect_deadline_.cancel();
    resolver_.cancel();
    if (conn_) {
        // Not reusable: close it, which aborts any pending step. The Conn
        // itself (socket, buffer) stays alive with this Op until that
        // step's handler has run: Beast still touches the buffer then.
        error_code ignored;
        conn_->socket.close(ignored);
    }
    // Every call at debug level, for a bug report: no query string (Plex
    // accepts tokens there) and the sink redacts what else could be secret.
    if (client_->log_ && client_->log_->should_log(spdlog::level::debug)) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_);
        std::string path = url_.target.substr(0, url_.target.find('?'));
        if (r)
            client_->log_->debug("{} {}{} answered {} in {} ms", req_.method, url_.origin(), path, r->status,
                                 ms.count());
        else
            client_->log_->debug("{} {}{} failed after {} ms: {}", req_.method, url_.origin(), path, ms.count(),
                                 r.error().message);
    }
    auto cb = std::move(cb_);
    if (cb) cb(std::move(r));
}

}  // namespace

common::Result<std::shared_ptr<Client>> Client::create(asio::io_context& ioc, ClientOptions options,
                                                       std::shared_ptr<spdlog::logger> log) {
    auto tls = make_client_tls_context(options.extra_ca_file);
    if (!tls) return tls.error();
    return std::shared_ptr<Client>(
        std::make_shared<ClientImpl>(ioc, std::move(options), std::move(*tls), std::move(log)));
}

std::optional<std::chrono::seconds> retry_after(const Response& response) {
    auto v = response.header("Retry-After");
    if (!v) return std::nullopt;
    std::string_view s = common::text::trim(*v);
    int64_t secs = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), secs);
    if (ec == std::errc() && p == s.data() + s.size()) return std::chrono::seconds(std::max<int64_t>(0, secs));
    // An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
    std::tm tm{};
    std::string copy(s);
    if (strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
    int64_t when = static_cast<int64_t>(timegm(&tm));
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    return std::chrono::seconds(std::max<int64_t>(0, when - now));
}

std::optional<std::chrono::seconds> polite_wait(const Response& response) {
    constexpr std::chrono::seconds kLongest{30};
    if (response.status != 429) return std::nullopt;
    auto wait = retry_after(response).value_or(std::chrono::seconds(1));
    if (wait > kLongest) return std::nullopt;
    return wait;
}

Result Client::request_sync(Request request) {
    auto promise = std::make_shared<std::promise<Result>>();
    auto future = promise->get_future();
    async_request(std::move(request), [promise](Result r) { promise->set_value(std::move(r)); });
    return future.get();
}

}  // namespace pb::http

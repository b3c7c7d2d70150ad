#include "httpserver/http_server.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <map>
#include <mutex>
#include <array>
#include <limits>
#include <set>

#include "common/text.hpp"

namespace pb::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

std::string Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (text::iequals(k, name)) return v;
    return {};
}

const char* reason(int status) {
    auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    return r.data();
}

namespace {

struct Listener;

// Closable from the server regardless of stream type.
struct SessionBase {
    virtual ~SessionBase() = default;
    virtual void close() = 0;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
public:
    Session(Stream&& stream, std::shared_ptr<Listener> listener, std::string remote)
        : stream_(std::move(stream)), listener_(std::move(listener)), remote_(std::move(remote)),
          timer_(stream_.get_executor()) {
        // Plex webhooks carry a ~20 KB thumbnail: without room up front Beast
        // reads them in 512-byte steps, each a trip through the reactor.
        buffer_.reserve(64 * 1024);
    }

    void run();
    void close() override {
        asio::post(stream_.get_executor(), [self = this->shared_from_this()] {
            error_code ec;
            beast::get_lowest_layer(self->stream_).socket().close(ec);
        });
    }

private:
    void read_header();
    void on_header(const error_code& ec);
    void on_body(const error_code& ec);
    void dispatch();
    void send(Response r);
    void write_raw();
    void trickle(std::size_t offset);
    void after_write(const error_code& ec);
    void finish();
    void linger();

    Stream stream_;
    std::shared_ptr<Listener> listener_;
    std::string remote_;
    asio::steady_timer timer_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    std::string out_;
    bool keep_alive_ = false;
    bool rejected_ = false;
};

struct Listener : std::enable_shared_from_this<Listener> {
    Listener(asio::io_context& ioc, ListenOptions o) : ioc(ioc), acceptor(ioc), opts(std::move(o)) {}
    asio::io_context& ioc;
    tcp::acceptor acceptor;
    ListenOptions opts;
    uint16_t port = 0;
    std::mutex mu;
    std::vector<std::weak_ptr<SessionBase>> sessions;
    bool closed = false;

    void accept() {
        acceptor.async_accept(asio::make_strand(ioc), [self = shared_from_this()](error_code ec, tcp::socket s) {
            if (ec) {
                if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
                return self->accept();
            }
            error_code ep_ec;
            auto ep = s.remote_endpoint(ep_ec);
            std::string remote = ep_ec ? std::string() : ep.address().to_string();
            s.set_option(tcp::no_delay(true), ep_ec);  // small answers go out at once
            if (self->opts.fault == Fault::blackhole) {
                // Keep the socket open and silent until the listener closes.
                auto held = std::make_shared<tcp::socket>(std::move(s));
                std::lock_guard lock(self->mu);
                self->held.push_back(held);
                return self->accept();
            }
            std::shared_ptr<SessionBase> session;
            if (self->opts.tls) {
                auto sess = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
                    beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(s)), *self->opts.tls), self,
                    remote);
                session = sess;
                sess->run();
            } else {
                auto sess = std::make_shared<Session<beast::tcp_stream>>(beast::tcp_stream(std::move(s)), self, remote);
                session = sess;
                sess->run();
            }
            {
                std::lock_guard lock(self->mu);
                std::erase_if(self->sessions, [](auto& w) { return w.expired(); });
                self->sessions.push_back(session);
            }
            self->accept();
        });
    }

    void close_all() {
        error_code ec;
        acceptor.close(ec);
        std::lock_guard lock(mu);
        closed = true;
        for (auto& w : sessions)
            if (auto s = w.lock()) s->close();
        for (auto& h : held) h->close(ec);
        held.clear();
    }
    std::vector<std::shared_ptr<tcp::socket>> held;
};

template <class Stream>
void Session<Stream>::run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] { self->read_header(); });
    } else {
        beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(10));
        stream_.async_handshake(asio::ssl::stream_base::server, [self = this->shared_from_this()](const error_code& ec) {
            if (ec) return;  // a client that rejected our certificate, or not TLS
            self->read_header();
        });
    }
}

template <class Stream>
void Session<Stream>::read_header() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    // Beast's default 1 MB limit would fail the header read itself for a
    // larger Content-Length; the route's own limit is applied in on_header.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    // Idle keep-alive connections are dropped after a while.
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_header(ec); });
}

template <class Stream>
void Session<Stream>::on_header(const error_code& ec) {
    if (ec) return finish();
    const auto& msg = parser_->get();
    std::string method(msg.method_string());
    std::string target(msg.target());
    std::size_t limit = listener_->opts.body_limit ? listener_->opts.body_limit(method, target) : 1024 * 1024;
    auto len = parser_->content_length();
    if (len && *len > limit) {
        keep_alive_ = false;
        rejected_ = true;
        return send(Response{413, "application/json", {}, R"({"error":"request body too large","code":"PLEX_BODY_TOO_LARGE"})"});
    }
    parser_->body_limit(limit);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(30));
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_body(ec); });
}

template <class Stream>
void Session<Stream>::on_body(const error_code& ec) {
    if (ec == bhttp::error::body_limit) {
        keep_alive_ = false;
        rejected_ = true;
        return send(Response{413, "application/json", {}, R"({"error":"request body too large","code":"PLEX_BODY_TOO_LARGE"})"});
    }
    if (ec) return finish();
    beast::get_lowest_layer(stream_).expires_never();
    if (listener_->opts.fault == Fault::reset) return finish();
    if (listener_->opts.latency.count() > 0) {
        timer_.expires_after(listener_->opts.latency);
        return timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
            if (!ec) self->dispatch();
        });
    }
    dispatch();
}

template <class Stream>
void Session<Stream>::dispatch() {
    auto msg = parser_->release();
    keep_alive_ = msg.keep_alive();
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    req.query = q == std::string::npos ? std::string() : req.target.substr(q + 1);
    for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(msg.body());
    req.remote_address = remote_;
    req.local_port = listener_->port;
    auto self = this->shared_from_this();
    auto once = std::make_shared<std::atomic<bool>>(false);
    Responder responder = [self, once](Response r) {
        if (once->exchange(true)) return;
        asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->send(std::move(r)); });
    };
    try {
        listener_->opts.handler(std::move(req), responder);
    } catch (const std::exception& e) {
        responder(Response{500, "application/json", {}, R"({"error":"internal error","code":"PLEX_INTERNAL"})"});
    }
}

template <class Stream>
void Session<Stream>::send(Response r) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(r.status), 11};
    res.set(bhttp::field::server, listener_->opts.server_header);
    if (!r.content_type.empty()) res.set(bhttp::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.keep_alive(keep_alive_);
    res.body() = std::move(r.body);
    res.prepare_payload();
    std::ostringstream os;
    os << res;
    out_ = os.str();
    if (listener_->opts.fault == Fault::slow_body) {
        // Headers at once, then the body one byte every 200 ms.
        auto header_end = out_.find("\r\n\r\n");
        std::size_t first = header_end == std::string::npos ? out_.size() : header_end + 4;
        asio::async_write(stream_, asio::buffer(out_.data(), first),
                          [self = this->shared_from_this(), first](const error_code& ec, std::size_t) {
                              if (ec) return self->finish();
                              self->trickle(first);
                          });
        return;
    }
    write_raw();
}

template <class Stream>
void Session<Stream>::write_raw() {
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->after_write(ec); });
}

template <class Stream>
void Session<Stream>::trickle(std::size_t offset) {
    if (offset >= out_.size()) return after_write({});
    timer_.expires_after(std::chrono::milliseconds(200));
    timer_.async_wait([self = this->shared_from_this(), offset](const error_code& ec) {
        if (ec) return self->finish();
        asio::async_write(self->stream_, asio::buffer(self->out_.data() + offset, 1),
                          [self, offset](const error_code& ec, std::size_t) {
                              if (ec) return self->finish();
                              self->trickle(offset + 1);
                          });
    });
}

template <class Stream>
void Session<Stream>::after_write(const error_code& ec) {
    if (ec) return finish();
    if (!keep_alive_) return rejected_ ? linger() : finish();
    read_header();
}

// After refusing a request whose body is still arriving (413), stop
// sending and drain for a moment before closing: closing at once would
// reset the connection and the client would never see the answer.
template <class Stream>
void Session<Stream>::linger() {
    error_code ec;
    auto& sock = beast::get_lowest_layer(stream_).socket();
    sock.shutdown(tcp::socket::shutdown_send, ec);
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
    auto scratch = std::make_shared<std::array<char, 16384>>();
    auto drained = std::make_shared<std::size_t>(0);
    auto self = this->shared_from_this();
    auto step = std::make_shared<std::function<void(const error_code&, std::size_t)>>();
    std::weak_ptr<std::function<void(const error_code&, std::size_t)>> weak = step;
    *step = [self, scratch, drained, weak](const error_code& ec, std::size_t n) {
        *drained += n;
        auto again = weak.lock();
        if (ec || *drained > 64 * 1024 * 1024 || !again) {
            error_code ignored;
            beast::get_lowest_layer(self->stream_).socket().close(ignored);
            return;
        }
        beast::get_lowest_layer(self->stream_).async_read_some(asio::buffer(*scratch),
                                                               [again](const error_code& e, std::size_t k) { (*again)(e, k); });
    };
    beast::get_lowest_layer(stream_).async_read_some(asio::buffer(*scratch),
                                                     [step](const error_code& e, std::size_t k) { (*step)(e, k); });
}

template <class Stream>
void Session<Stream>::finish() {
    error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).socket().close(ec);
}

}  // namespace

struct HttpServer::Impl {
    explicit Impl(asio::io_context& i) : ioc(i) {}
    asio::io_context& ioc;
    std::mutex mu;
    std::map<uint16_t, std::shared_ptr<Listener>> listeners;
};

HttpServer::HttpServer(asio::io_context& ioc) : impl_(std::make_shared<Impl>(ioc)) {}
HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::listen(ListenOptions options, std::string* error) {
    auto l = std::make_shared<Listener>(impl_->ioc, std::move(options));
    error_code ec;
    auto addr = asio::ip::make_address(l->opts.address, ec);
    if (ec) {
        if (error) *error = "invalid listen address " + l->opts.address;
        return 0;
    }
    tcp::endpoint ep(addr, l->opts.port);
    l->acceptor.open(ep.protocol(), ec);
    if (!ec) l->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) l->acceptor.bind(ep, ec);
    if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        if (error) *error = "cannot listen on " + l->opts.address + ":" + std::to_string(l->opts.port) + ": " + ec.message();
        return 0;
    }
    l->port = l->acceptor.local_endpoint().port();
    {
        std::lock_guard lock(impl_->mu);
        impl_->listeners[l->port] = l;
    }
    asio::post(impl_->ioc, [l] { l->accept(); });
    return l->port;
}

void HttpServer::close(uint16_t port) {
    std::shared_ptr<Listener> l;
    {
        std::lock_guard lock(impl_->mu);
        auto it = impl_->listeners.find(port);
        if (it == impl_->listeners.end()) return;
        l = it->second;
        impl_->listeners.erase(it);
    }
    asio::post(impl_->ioc, [l] { l->close_all(); });
}

void HttpServer::stop() {
    std::map<uint16_t, std::shared_ptr<Listener>> all;
    {
        std::lock_guard lock(impl_->mu);
        all.swap(impl_->listeners);
    }
    for (auto& [port, l] : all) asio::post(impl_->ioc, [l] { l->close_all(); });
}

uint16_t reserve_refusing_port(const std::string& address) {
    asio::io_context ioc;
    tcp::acceptor a(ioc);
    error_code ec;
    tcp::endpoint ep(asio::ip::make_address(address, ec), 0);
    a.open(ep.protocol(), ec);
    a.bind(ep, ec);
    if (ec) return 0;
    uint16_t port = a.local_endpoint().port();
    a.close(ec);  // nothing listens there now: connections are refused
    return port;
}

}  // namespace pb::server

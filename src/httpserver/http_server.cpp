#include "httpserver/http_server.hpp"

#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <array>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "common/text.hpp"
#include "request_reader.hpp"

namespace pb::httpserver {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

using detail::RequestParser;

std::string Request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (common::text::iequals(k, name)) return v;
    return {};
}

const char* reason(int status) {
    auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
    return r.data();
}

namespace detail {

void start_request(std::optional<RequestParser>& parser, std::string spare) {
    parser.emplace();
    parser->get().body() = std::move(spare);
    // Emptied here, its capacity kept: Beast makes no body reader for a
    // request without a body, and such a request (a GET, Content-Length: 0)
    // would otherwise carry the previous request's body.
    parser->get().body().clear();
    parser->header_limit(kHeaderLimit);
    // Beast's default 1 MB limit would fail the header read itself for a
    // larger Content-Length; the route's own limit is applied by limit_body.
    parser->body_limit(std::numeric_limits<std::uint64_t>::max());
}

bool limit_body(RequestParser& parser, const ListenOptions& options) {
    const auto& msg = parser.get();
    std::size_t limit = kDefaultBodyLimit;
    if (options.body_limit) limit = options.body_limit(std::string(msg.method_string()), std::string(msg.target()));
    auto len = parser.content_length();
    if (len && *len > limit) return false;
    parser.body_limit(limit);
    return true;
}

error_code parse_buffered(RequestParser& parser, beast::flat_buffer& buffer) {
    error_code ec;
    while (!parser.is_done() && buffer.size() > 0) {
        std::size_t n = parser.put(buffer.data(), ec);
        buffer.consume(n);
        if (ec == bhttp::error::need_more) return {};
        if (ec || n == 0) break;
    }
    return ec;
}

Request to_request(RequestMessage&& msg) {
    Request req;
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    auto q = req.target.find('?');
    req.path = req.target.substr(0, q);
    req.query = q == std::string::npos ? std::string() : req.target.substr(q + 1);
    for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    req.body = std::move(msg.body());
    return req;
}

}  // namespace detail

namespace {

struct Listener;

// Bodies larger than this are not kept for the next request.
constexpr std::size_t kSpareBodyMax = 256 * 1024;

// Closable from the server regardless of stream type.
struct SessionBase {
    virtual ~SessionBase() = default;
    virtual void close() = 0;
};

template <class Stream>
class Session : public SessionBase, public std::enable_shared_from_this<Session<Stream>> {
public:
    Session(Stream&& stream, std::shared_ptr<Listener> listener, std::string remote)
        : stream_(std::move(stream)),
          listener_(std::move(listener)),
          remote_(std::move(remote)),
          timer_(stream_.get_executor()),
          watchdog_(stream_.get_executor()) {
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

    // Deadlines without a timer operation per request: each phase sets
    // `deadline_`, and a single wait per connection checks it when it fires,
    // waiting again if the deadline moved on meanwhile. (Beast's per-operation
    // timeouts cost two timer-queue updates, often two syscalls, per request.)
    using clock = std::chrono::steady_clock;
    void expire_in(clock::duration d) {
        deadline_ = clock::now() + d;
        if (!watching_ || deadline_ < watchdog_.expiry()) watch();  // earlier than the wait: wait anew
    }
    void expire_never() { deadline_ = clock::time_point::max(); }
    void watch() {
        watching_ = true;
        watchdog_.expires_at(deadline_);  // cancels a wait in progress (its generation is stale)
        // Weak: an idle watchdog must not keep a closed connection alive.
        watchdog_.async_wait([weak = this->weak_from_this(), gen = ++watch_generation_](const error_code& ec) {
            auto self = weak.lock();
            if (!self || gen != self->watch_generation_) return;
            self->watching_ = false;
            if (ec || self->deadline_ == clock::time_point::max()) return;  // the next expire_in watches again
            if (clock::now() < self->deadline_) return self->watch();
            error_code ignored;
            beast::get_lowest_layer(self->stream_).socket().close(ignored);  // pending operations fail and end
        });
    }

    Stream stream_;
    std::shared_ptr<Listener> listener_;
    std::string remote_;
    asio::steady_timer timer_;     // the simulator's latency and trickle
    asio::steady_timer watchdog_;  // deadlines, see expire_in
    clock::time_point deadline_ = clock::time_point::max();
    bool watching_ = false;
    unsigned watch_generation_ = 0;
    beast::flat_buffer buffer_;
    std::optional<RequestParser> parser_;
    std::string spare_body_;  // the last request's body storage, reused
    std::string out_;
    std::optional<Response> answered_inline_;  // set by a handler that answered before returning
    unsigned version_ = 11;                    // the request's HTTP version
    bool keep_alive_ = false;
    bool rejected_ = false;
};

// The session whose handler is running on this thread, if any: a responder
// called from inside the handler can then send directly, instead of posting
// the answer back through the scheduler (a wake-up of another thread, a
// queue and a context switch for every request the plugin answers at once).
thread_local const void* t_dispatching = nullptr;

struct Listener : std::enable_shared_from_this<Listener> {
    Listener(asio::io_context& ioc, ListenOptions o, std::function<asio::any_io_executor()> session_executor)
        : ioc(ioc), acceptor(ioc), opts(std::move(o)), session_executor(std::move(session_executor)) {}
    asio::io_context& ioc;
    tcp::acceptor acceptor;
    ListenOptions opts;
    std::function<asio::any_io_executor()> session_executor;  // where the next connection lives
    uint16_t port = 0;
    std::mutex mu;
    std::vector<std::weak_ptr<SessionBase>> sessions;
    bool closed = false;

    void accept() {
        // Accepted on the listener's own context, then handed over: a pending
        // accept must not hold a socket of another context, or destroying the
        // contexts at shutdown would have each refer to the other.
        acceptor.async_accept([self = shared_from_this()](error_code ec, tcp::socket accepted) {
            if (ec) {
                if (ec == asio::error::operation_aborted || !self->acceptor.is_open()) return;
                return self->accept();
            }
            auto ex = self->session_executor();
            if (!ex) return;  // the server is gone
            tcp::socket s(ex);
            auto protocol = self->acceptor.local_endpoint(ec).protocol();
            if (!ec) {
                auto fd = accepted.release(ec);
                if (!ec) {
                    s.assign(protocol, fd, ec);
                    if (ec) ::close(fd);
                }
            }
            if (ec) return self->accept();  // the peer is gone already
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
    // Called on the acceptor's thread: everything else happens on the
    // connection's own executor.
    asio::dispatch(stream_.get_executor(), [self = this->shared_from_this()] {
        if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
            self->read_header();
        } else {
            self->expire_in(std::min<clock::duration>(std::chrono::seconds(10), self->listener_->opts.idle_timeout));
            self->stream_.async_handshake(asio::ssl::stream_base::server, [self](const error_code& ec) {
                if (ec) return;  // a client that rejected our certificate, or not TLS
                self->read_header();
            });
        }
    });
}

template <class Stream>
void Session<Stream>::read_header() {
    detail::start_request(parser_, std::move(spare_body_));
    // Idle keep-alive connections are dropped after a while.
    expire_in(listener_->opts.idle_timeout);
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_header(ec); });
}

template <class Stream>
void Session<Stream>::on_header(const error_code& ec) {
    if (ec) return finish();
    if (!detail::limit_body(*parser_, listener_->opts)) {
        keep_alive_ = false;
        rejected_ = true;
        return send(Response{
            413, "application/json", {}, R"({"error":"request body too large","code":"PLEX_BODY_TOO_LARGE"})"});
    }
    // A small request usually arrives in one segment, its body already in
    // the buffer with the header: parse it now rather than through another
    // asynchronous read.
    error_code pec = detail::parse_buffered(*parser_, buffer_);
    if (pec || parser_->is_done()) return on_body(pec);
    expire_in(listener_->opts.idle_timeout);
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](const error_code& ec, std::size_t) { self->on_body(ec); });
}

template <class Stream>
void Session<Stream>::on_body(const error_code& ec) {
    if (ec == bhttp::error::body_limit) {
        keep_alive_ = false;
        rejected_ = true;
        return send(Response{
            413, "application/json", {}, R"({"error":"request body too large","code":"PLEX_BODY_TOO_LARGE"})"});
    }
    if (ec) return finish();
    expire_never();  // the handler may take its time (it answers asynchronously)
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
    version_ = msg.version();
    Request req = detail::to_request(std::move(msg));
    req.remote_address = remote_;
    req.local_port = listener_->port;
    auto self = this->shared_from_this();
    auto once = std::make_shared<std::atomic<bool>>(false);
    Responder responder = [self, once](Response r) {
        if (once->exchange(true)) return;
        if (t_dispatching == self.get()) {
            self->answered_inline_ = std::move(r);  // sent when the handler returns
            return;
        }
        asio::post(self->stream_.get_executor(), [self, r = std::move(r)]() mutable { self->send(std::move(r)); });
    };
    const void* outer = std::exchange(t_dispatching, this);
    try {
        listener_->opts.handler(std::move(req), responder);  // by reference: `req` is still ours after
    } catch (...) {
        responder(Response{500, "application/json", {}, R"({"error":"internal error","code":"PLEX_INTERNAL"})"});
    }
    t_dispatching = outer;
    // The handler had the request by reference; unless it took the body,
    // its storage serves the next request on this connection.
    if (req.body.capacity() <= kSpareBodyMax) spare_body_ = std::move(req.body);
    if (answered_inline_) {
        Response r = std::move(*answered_inline_);
        answered_inline_.reset();
        send(std::move(r));
    }
}

// Header fields come from handlers: a CR or LF in one would let a value
// start a header of its own (response splitting).
static void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    for (char c : value) out.push_back(c == '\r' || c == '\n' ? ' ' : c);
    out.append("\r\n");
}

template <class Stream>
void Session<Stream>::send(Response r) {
    // Serialized by hand into one buffer: one allocation and one write for
    // the whole answer (Beast's ostream serializer cost more than the rest
    // of sending).
    const bool bodyless = (r.status >= 100 && r.status < 200) || r.status == 204 || r.status == 304;
    out_.clear();
    out_.reserve(160 + r.body.size());
    out_.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ").append(reason(r.status)).append("\r\n");
    append_field(out_, "Server", listener_->opts.server_header);
    std::string_view content_type = r.content_type;
    for (const auto& [k, v] : r.headers)
        if (common::text::iequals(k, "Content-Type")) content_type = v;
    if (!bodyless && !content_type.empty()) append_field(out_, "Content-Type", content_type);
    for (const auto& [k, v] : r.headers) {
        // Framing is the server's job, never a handler's.
        if (common::text::iequals(k, "Content-Type") || common::text::iequals(k, "Content-Length") ||
            common::text::iequals(k, "Connection") || common::text::iequals(k, "Transfer-Encoding") ||
            common::text::iequals(k, "Server"))
            continue;
        append_field(out_, k, v);
    }
    if (!bodyless) out_.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
    if (!keep_alive_)
        out_.append("Connection: close\r\n");
    else if (version_ < 11)
        out_.append("Connection: keep-alive\r\n");
    out_.append("\r\n");
    if (!bodyless) out_.append(r.body);
    if (listener_->opts.fault == Fault::slow_body) {
        // Headers at once, then the body one byte every 200 ms, for as long
        // as the client cares to wait.
        expire_never();
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
    expire_in(listener_->opts.idle_timeout);  // a client that never reads its answer
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
    expire_in(std::chrono::seconds(2));
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
        beast::get_lowest_layer(self->stream_)
            .async_read_some(asio::buffer(*scratch), [again](const error_code& e, std::size_t k) { (*again)(e, k); });
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
    Impl(asio::io_context& i, std::vector<asio::io_context*> w) : ioc(i), workers(std::move(w)) {}
    asio::io_context& ioc;
    std::vector<asio::io_context*> workers;
    std::atomic<std::size_t> next_worker{0};
    std::mutex mu;
    std::map<uint16_t, std::shared_ptr<Listener>> listeners;

    asio::any_io_executor session_executor() {
        if (workers.empty()) return asio::make_strand(ioc);
        return workers[next_worker.fetch_add(1, std::memory_order_relaxed) % workers.size()]->get_executor();
    }
};

HttpServer::HttpServer(asio::io_context& ioc) : impl_(std::make_shared<Impl>(ioc, std::vector<asio::io_context*>{})) {}
HttpServer::HttpServer(asio::io_context& ioc, std::vector<asio::io_context*> session_contexts)
    : impl_(std::make_shared<Impl>(ioc, std::move(session_contexts))) {}
HttpServer::~HttpServer() { stop(); }

uint16_t HttpServer::listen(ListenOptions options, std::string* error) {
    std::weak_ptr<Impl> weak = impl_;
    auto l = std::make_shared<Listener>(impl_->ioc, std::move(options), [weak]() -> asio::any_io_executor {
        auto impl = weak.lock();
        return impl ? impl->session_executor() : asio::any_io_executor{};
    });
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
        if (error)
            *error = "cannot listen on " + l->opts.address + ":" + std::to_string(l->opts.port) + ": " + ec.message();
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
    // An init-capture: clang 14 cannot capture a structured binding itself.
    for (auto& [port, l] : all) asio::post(impl_->ioc, [l = l] { l->close_all(); });
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

}  // namespace pb::httpserver

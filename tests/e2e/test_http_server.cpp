// The HTTP server under the reference host and the simulator, spoken to
// byte by byte: framing, keep-alive and pipelining, answers given inline or
// later from another thread, deadlines for clients that stall.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <thread>

#include "httpserver/http_server.hpp"

namespace srv = pb::httpserver;
using namespace std::chrono_literals;

namespace {

// A raw loopback client: what it sends is exactly what the test wrote.
struct Raw {
    int fd = -1;
    explicit Raw(uint16_t port) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    ~Raw() {
        if (fd >= 0) ::close(fd);
    }
    bool send(std::string_view s) {
        return ::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
    }
    // Reads until `want` appears `times` times, the peer closes, or the wait ends.
    std::string read_until(std::string_view want, int times = 1, std::chrono::milliseconds wait = 5s,
                           bool* closed = nullptr) {
        std::string got;
        auto end = std::chrono::steady_clock::now() + wait;
        while (std::chrono::steady_clock::now() < end) {
            if (!want.empty()) {  // "" waits for the close (or the end of the wait)
                int count = 0;
                for (auto p = got.find(want); p != std::string::npos; p = got.find(want, p + want.size())) ++count;
                if (count >= times) return got;
            }
            pollfd pfd{fd, POLLIN, 0};
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
            char buf[4096];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                if (closed) *closed = true;
                return got;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
};

class Server : public ::testing::Test {
protected:
    void start(srv::Handler handler, std::chrono::milliseconds idle = 30s, int threads = 2) {
        for (int i = 0; i < threads; ++i) workers.push_back(std::make_unique<boost::asio::io_context>(1));
        std::vector<boost::asio::io_context*> raw;
        for (auto& w : workers) raw.push_back(w.get());
        server.emplace(*workers.front(), raw);
        srv::ListenOptions o;
        o.handler = std::move(handler);
        o.idle_timeout = idle;
        o.body_limit = [](const std::string&, const std::string& target) -> std::size_t {
            return target.rfind("/small", 0) == 0 ? 16 : 1 << 20;
        };
        std::string err;
        port = server->listen(std::move(o), &err);
        ASSERT_NE(port, 0) << err;
        for (auto& w : workers)
            threads_.emplace_back([c = w.get()] {
                auto guard = boost::asio::make_work_guard(*c);
                c->run();
            });
    }
    void TearDown() override {
        if (server) server->stop();
        for (auto& w : workers) w->stop();
        for (auto& t : threads_) t.join();
        server.reset();
        while (!workers.empty()) workers.pop_back();
    }
    static srv::Handler echo() {
        return [](srv::Request&& r, srv::Responder respond) {
            respond(srv::Response{200, "text/plain", {}, r.method + " " + r.target + " " + r.body});
        };
    }

    std::vector<std::unique_ptr<boost::asio::io_context>> workers;
    std::optional<srv::HttpServer> server;
    std::vector<std::thread> threads_;
    uint16_t port = 0;
};

}  // namespace

TEST_F(Server, KeepAliveAndPipelinedRequestsAnswerInOrder) {
    start(echo());
    Raw c(port);
    ASSERT_GE(c.fd, 0);
    // Three requests in one write: the second and third arrive with the first.
    ASSERT_TRUE(
        c.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
               "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
               "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nthree"));
    std::string got = c.read_until("HTTP/1.1 200", 3);
    if (got.find("three") == std::string::npos) got += c.read_until("three");
    auto a = got.find("POST /a one"), b = got.find("GET /b "), d = got.find("POST /c three");
    ASSERT_NE(a, std::string::npos) << got;
    ASSERT_NE(b, std::string::npos) << got;
    ASSERT_NE(d, std::string::npos) << got;
    EXPECT_LT(a, b);
    EXPECT_LT(b, d);
    EXPECT_EQ(got.find("Connection: close"), std::string::npos) << "HTTP/1.1 stays open";
}

TEST_F(Server, BodyArrivingInPiecesAndChunkedBodies) {
    start(echo());
    Raw c(port);
    ASSERT_TRUE(c.send("POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123"));
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(c.send("456789"));
    EXPECT_NE(c.read_until("0123456789").find("POST /slow 0123456789"), std::string::npos);
    ASSERT_TRUE(c.send(
        "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    EXPECT_NE(c.read_until("abcde").find("POST /chunked abcde"), std::string::npos);
}

TEST_F(Server, AnswersGivenLaterFromAnotherThread) {
    std::vector<std::thread> later;
    std::mutex mu;
    start([&](srv::Request&& r, srv::Responder respond) {
        std::lock_guard lock(mu);
        later.emplace_back([respond, body = r.body] {
            std::this_thread::sleep_for(20ms);
            respond(srv::Response{202, "text/plain", {}, "later " + body});
            respond(srv::Response{500, "text/plain", {}, "a second answer is ignored"});
        });
    });
    Raw c(port);
    ASSERT_TRUE(
        c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
               "POST /y HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nho"));
    std::string got = c.read_until("later ho", 1);
    EXPECT_NE(got.find("HTTP/1.1 202 Accepted\r\n"), std::string::npos) << got;
    EXPECT_LT(got.find("later hi"), got.find("later ho"));
    EXPECT_EQ(got.find("second answer"), std::string::npos);
    for (auto& t : later) t.join();
}

TEST_F(Server, FramingBelongsToTheServer) {
    start([](srv::Request&& r, srv::Responder respond) {
        if (r.path == "/nocontent") return respond(srv::Response{204, "application/json", {}, "dropped"});
        respond(
            srv::Response{200,
                          "text/plain",
                          {{"Content-Length", "999"}, {"X-Note", "one\r\nInjected: yes"}, {"Connection", "upgrade"}},
                          "body"});
    });
    Raw c(port);
    ASSERT_TRUE(c.send("GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string nc = c.read_until("\r\n\r\n");
    EXPECT_NE(nc.find("HTTP/1.1 204 No Content\r\n"), std::string::npos) << nc;
    EXPECT_EQ(nc.find("Content-Length"), std::string::npos) << "a 204 has no body and no length";
    ASSERT_TRUE(c.send("GET /headers HTTP/1.1\r\nHost: x\r\n\r\n"));
    std::string h = c.read_until("body");
    EXPECT_NE(h.find("Content-Length: 4\r\n"), std::string::npos) << h;
    EXPECT_EQ(h.find("999"), std::string::npos);
    EXPECT_EQ(h.find("upgrade"), std::string::npos);
    EXPECT_EQ(h.find("\r\nInjected: yes"), std::string::npos) << "a CR/LF in a value cannot start a header";
    EXPECT_NE(h.find("X-Note: one  Injected: yes\r\n"), std::string::npos) << h;
}

TEST_F(Server, Http10GetsTheConnectionItAskedFor) {
    start(echo());
    {
        Raw c(port);
        ASSERT_TRUE(c.send("GET /old HTTP/1.0\r\n\r\n"));
        bool closed = false;
        std::string got = c.read_until("", 1, 3s, &closed);
        EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
        EXPECT_TRUE(closed);
    }
    Raw c(port);
    ASSERT_TRUE(c.send("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    std::string got = c.read_until("GET /ka");
    EXPECT_NE(got.find("Connection: keep-alive\r\n"), std::string::npos) << got;
    ASSERT_TRUE(c.send("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    EXPECT_NE(c.read_until("GET /again").find("GET /again"), std::string::npos);
}

TEST_F(Server, StalledClientsAreDisconnected) {
    start(echo(), 300ms);
    Raw silent(port), partial(port), between(port);
    ASSERT_TRUE(partial.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Le"));  // slow loris
    ASSERT_TRUE(between.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n"));       // then idle
    EXPECT_NE(between.read_until("GET /one").find("GET /one"), std::string::npos);
    auto t0 = std::chrono::steady_clock::now();
    for (Raw* c : {&silent, &partial, &between}) {
        bool closed = false;
        c->read_until("", 1, 5s, &closed);
        EXPECT_TRUE(closed);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s) << "closed by the deadline, not by the test's wait";
    // A body that stops halfway is cut off too.
    Raw halfway(port);
    ASSERT_TRUE(halfway.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"));
    bool closed = false;
    std::string got = halfway.read_until("", 1, 5s, &closed);
    EXPECT_TRUE(closed);
    EXPECT_EQ(got.find("POST /x"), std::string::npos) << "an incomplete request never reaches the handler";
    // A client that keeps the connection busy is not cut off.
    Raw busy(port);
    for (int i = 0; i < 6; ++i) {
        ASSERT_TRUE(busy.send("GET /tick HTTP/1.1\r\nHost: x\r\n\r\n"));
        EXPECT_NE(busy.read_until("GET /tick").find("GET /tick"), std::string::npos) << "request " << i;
        std::this_thread::sleep_for(100ms);
    }
}

TEST_F(Server, TooLargeIsRefusedBeforeTheBody) {
    start(echo());
    Raw c(port);
    ASSERT_TRUE(c.send("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 17\r\n\r\n"));
    std::string got = c.read_until("\r\n\r\n");
    EXPECT_NE(got.find("HTTP/1.1 413"), std::string::npos) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
}

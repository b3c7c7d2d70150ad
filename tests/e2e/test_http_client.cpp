// The HTTP client against the simulator's misbehaving connections: each
// fault gives the right typed error and a message a user can act on.
#include <gtest/gtest.h>

#include "harness.hpp"
#include "http/url.hpp"

using namespace pb;
using pb::sim::Behaviour;
using pb::sim::ConnectionSpec;

namespace {

class Client : public ::testing::Test {
protected:
    void SetUp() override {
        sim::SimServer s;
        s.name = "Box";
        s.machine_id = "machine-abc";
        s.plex_direct_hash = "0123456789abcdef0123456789abcdef";
        sim::add_sample_library(s);
        server = simulator.add_server(std::move(s));
        ok_port = simulator.add_connection(server, ConnectionSpec{});
        simulator.start();
        ca_file = pb::common::fs::join(pbtest::temp_dir("ca"), "ca.pem");
        simulator.write_ca_file(ca_file);
        http::ClientOptions o;
        o.extra_ca_file = ca_file;
        client = std::move(http::Client::create(caller.io(), o, pb::log::null_logger())).value();
        ASSERT_TRUE(client);
    }
    http::Result get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::milliseconds(800),
                     std::size_t limit = 1 << 20, const std::string& connect_address = "") {
        http::Request r;
        r.url = url;
        r.timeout = timeout;
        r.body_limit = limit;
        r.connect_address = connect_address;
        r.token = simulator.account_token();
        r.peer = common::Peer::pms;
        return client->request_sync(std::move(r));
    }
    std::string url(uint16_t port, const std::string& path = "/identity", const std::string& scheme = "http") {
        return scheme + "://127.0.0.1:" + std::to_string(port) + path;
    }
    uint16_t add(Behaviour b, bool tls = false) { return simulator.add_connection(server, ConnectionSpec{b, tls}); }

    sim::Simulator simulator;
    std::size_t server = 0;
    uint16_t ok_port = 0;
    std::string ca_file;
    pbtest::Caller caller;
    std::shared_ptr<http::Client> client;
};

}  // namespace

TEST_F(Client, AnswersAndReusesTheConnection) {
    auto a = get(url(ok_port));
    ASSERT_TRUE(a.ok()) << (a ? "" : a.error().message);
    EXPECT_EQ(a->status, 200);
    EXPECT_NE(a->body.find("machine-abc"), std::string::npos);
    auto b = get(url(ok_port, "/library/sections"));
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(client->connections_opened(), 1u) << "keep-alive: one connection for both";
}

TEST_F(Client, Refused) {
    auto r = get(url(add(Behaviour::refused)));
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::refused);
    EXPECT_NE(r.error().message.find("Plex Media Server at http://127.0.0.1:"), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("refused"), std::string::npos);
}

TEST_F(Client, AcceptsButNeverAnswers) {
    auto r = get(url(add(Behaviour::blackhole)), std::chrono::milliseconds(300));
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::timed_out);
    EXPECT_NE(r.error().message.find("did not answer within 300 ms"), std::string::npos) << r.error().message;
}

TEST_F(Client, SlowBodyHitsTheDeadline) {
    auto r = get(url(add(Behaviour::slow_body)), std::chrono::milliseconds(500));
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::timed_out);
}

TEST_F(Client, ResetWithoutAnswer) {
    auto r = get(url(add(Behaviour::reset)));
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::reset);
    EXPECT_NE(r.error().message.find("closed the connection"), std::string::npos);
}

TEST_F(Client, StatusErrorsAreAnswers) {
    auto r500 = get(url(add(Behaviour::http_500)));
    ASSERT_TRUE(r500.ok());
    EXPECT_EQ(r500->status, 500);
    http::Request req;
    req.url = url(ok_port);
    req.peer = common::Peer::pms;
    auto e = http::status_error(req, *r500);
    EXPECT_EQ(e.code, common::Errc::http_status);
    EXPECT_NE(e.message.find("answered HTTP 500"), std::string::npos);
    auto r401 = get(url(add(Behaviour::http_401)));
    ASSERT_TRUE(r401.ok());
    EXPECT_EQ(r401->status, 401);
}

TEST_F(Client, OversizedBody) {
    auto r = get(url(ok_port, "/library/sections"), std::chrono::milliseconds(800), 64);
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::too_large);
}

TEST_F(Client, TlsVerifiedIncludingPlexDirectNames) {
    uint16_t tls = add(Behaviour::normal, true);
    auto ip = get(url(tls, "/identity", "https"));
    ASSERT_TRUE(ip.ok()) << ip.error().message;
    // A *.plex.direct name that does not resolve here (as behind a router's
    // DNS-rebinding protection): connect to the raw address, verify the name.
    std::string name =
        "https://127-0-0-1.0123456789abcdef0123456789abcdef.plex.direct:" + std::to_string(tls) + "/identity";
    auto unresolved = get(name);
    ASSERT_FALSE(unresolved) << "expected an error";
    EXPECT_EQ(unresolved.error().code, common::Errc::resolve);
    auto direct = get(name, std::chrono::milliseconds(800), 1 << 20, "127.0.0.1");
    ASSERT_TRUE(direct.ok()) << direct.error().message;
    // A name the certificate does not cover fails verification, in words.
    std::string other =
        "https://127-0-0-1.ffffffffffffffffffffffffffffffff.plex.direct:" + std::to_string(tls) + "/identity";
    auto mismatch = get(other, std::chrono::milliseconds(800), 1 << 20, "127.0.0.1");
    ASSERT_FALSE(mismatch) << "expected an error";
    EXPECT_EQ(mismatch.error().code, common::Errc::tls);
    EXPECT_NE(mismatch.error().message.find("certificate"), std::string::npos) << mismatch.error().message;
}

TEST_F(Client, UntrustedCertificateIsRefusedUnlessTheUserOptsOut) {
    uint16_t bad = add(Behaviour::bad_certificate);
    auto r = get(url(bad, "/identity", "https"));
    ASSERT_FALSE(r) << "expected an error";
    EXPECT_EQ(r.error().code, common::Errc::tls);
    EXPECT_NE(r.error().message.find("failed verification"), std::string::npos) << r.error().message;
    http::Request skip;
    skip.url = url(bad, "/identity", "https");
    skip.verify = http::TlsVerify::skip;
    auto ok = client->request_sync(skip);
    EXPECT_TRUE(ok.ok());
}

TEST_F(Client, TokenNeverInMessages) {
    http::Request r;
    r.url = url(add(Behaviour::refused), "/library/sections?X-Plex-Token=" + simulator.account_token());
    r.token = simulator.account_token();
    auto res = client->request_sync(r);
    ASSERT_FALSE(res) << "expected an error";
    EXPECT_EQ(res.error().message.find(simulator.account_token()), std::string::npos) << res.error().message;
    EXPECT_EQ(res.error().message.find("/library"), std::string::npos) << "no path or query in messages";
}

TEST_F(Client, CancelAndInvalidRequests) {
    http::Request r;
    r.url = url(add(Behaviour::blackhole));
    r.timeout = std::chrono::seconds(10);
    std::promise<http::Result> p;
    auto handle = client->async_request(r, [&](http::Result res) { p.set_value(std::move(res)); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    handle->cancel();
    auto res = p.get_future().get();
    ASSERT_FALSE(res) << "expected an error";
    EXPECT_EQ(res.error().code, common::Errc::cancelled);
    http::Request bad;
    bad.url = "ftp://x";
    EXPECT_EQ(client->request_sync(bad).error().code, common::Errc::invalid_request);
    http::Request inject;
    inject.url = url(ok_port);
    inject.headers.emplace_back("X-A", "b\r\nX-Evil: 1");
    EXPECT_EQ(client->request_sync(inject).error().code, common::Errc::invalid_request);
}

TEST_F(Client, ManyConcurrentRequestsOnOneThread) {
    std::atomic<int> done{0};
    std::promise<void> all;
    constexpr int n = 50;
    for (int i = 0; i < n; ++i) {
        http::Request r;
        r.url = url(ok_port);
        client->async_request(r, [&](http::Result res) {
            EXPECT_TRUE(res.ok());
            if (++done == n) all.set_value();
        });
    }
    all.get_future().wait();
    EXPECT_EQ(done.load(), n);
}

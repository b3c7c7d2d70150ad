// Server discovery through the reference host: every connection probed at
// once, the policy's choice, the single deadline, failover, libraries.
#include <gtest/gtest.h>

#include <thread>

#include "harness.hpp"

namespace bj = boost::json;
using pb::sim::Behaviour;
using pb::sim::ConnectionSpec;

namespace {

class Discovery : public ::testing::Test {
protected:
    void SetUp() override {
        pb::sim::SimServer owned;
        owned.name = "Home";
        owned.machine_id = "home-machine-1";
        pb::sim::add_sample_library(owned);
        home = sim.add_server(std::move(owned));
        // 8 connections: local https (plex.direct), local http, remote https,
        // relay, two refused, two that accept and never answer.
        local_https = sim.add_connection(home, ConnectionSpec{Behaviour::normal, true, true, false, {}, true});
        local_http = sim.add_connection(home, ConnectionSpec{Behaviour::normal, false, true, false});
        sim.add_connection(home, ConnectionSpec{Behaviour::normal, true, false, false, {}, true});
        sim.add_connection(home, ConnectionSpec{Behaviour::normal, true, false, true, {}, true});
        sim.add_connection(home, ConnectionSpec{Behaviour::refused, false, true});
        sim.add_connection(home, ConnectionSpec{Behaviour::refused, false, false});
        sim.add_connection(home, ConnectionSpec{Behaviour::blackhole, false, true});
        sim.add_connection(home, ConnectionSpec{Behaviour::blackhole, true, false});
        pb::sim::SimServer shared;
        shared.name = "Friend's";
        shared.machine_id = "friend-machine-2";
        shared.owned = false;
        shared.source_title = "friend";
        pb::sim::add_sample_library(shared);
        auto f = sim.add_server(std::move(shared));
        sim.add_connection(f, ConnectionSpec{Behaviour::normal, false, false});
        sim.start();
        ASSERT_TRUE(rig.start({{"connect_timeout_ms", "1000"}})) << rig.error;
        ASSERT_TRUE(rig.sign_in());
    }
    pb::sim::Simulator sim;
    pbtest::HostRig rig{sim};
    std::size_t home = 0;
    uint16_t local_https = 0, local_http = 0;
};

}  // namespace

// The listing answers as soon as every server has its choice; what is still
// probing fills in on polls of the same listing, within one deadline.
static bj::array poll_until_probed(pbtest::HostRig& rig) {
    for (int i = 0; i < 100; ++i) {
        auto r = rig.api("GET", "/api/plex/oauth/servers?poll=1");
        EXPECT_EQ(r.status, 200) << r.body;
        if (r.status != 200) return {};
        bool probing = false;
        for (const auto& s : r.json.at("data").as_array())
            for (const auto& c : s.at("connections").as_array()) probing |= c.at("available").is_null();
        if (!probing) return r.json.at("data").as_array();
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "some connections were still probing after five seconds";
    return {};
}

TEST_F(Discovery, EveryConnectionRacedBestChosenWithinOneDeadline) {
    auto r = rig.api("GET", "/api/plex/oauth/servers");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto& first = r.json.at("data").as_array();
    ASSERT_EQ(first.size(), 2u);
    // The choice is known before the silent addresses give up: they are
    // still probing ("available": null) in the first answer.
    const auto& best = first[0].at("bestConnection").as_object();
    EXPECT_EQ(best.at("uri").as_string(),
              "https://127-0-0-1." + sim.server(home).plex_direct_hash + ".plex.direct:" + std::to_string(local_https));
    EXPECT_EQ(best.at("connected_via").as_string(), "127.0.0.1")
        << "plex.direct name did not resolve: raw address used";
    EXPECT_NE(best.at("reason").as_string().find("chosen: local https"), std::string::npos);
    int still_probing = 0;
    for (const auto& c : first[0].at("connections").as_array()) still_probing += c.at("available").is_null();
    EXPECT_GE(still_probing, 2) << "the two silent addresses";

    // Every outcome comes in by polls (within one deadline, 1 s here: the
    // silent ones say they did not answer in time; timings are for
    // bench_discovery, not for a test on a loaded machine).
    auto servers = poll_until_probed(rig);
    ASSERT_EQ(servers.size(), 2u);
    // Five addresses answer /identity, once each: the polls probed nothing.
    std::size_t probes = sim.requests_matching("GET", "/identity").size();
    EXPECT_EQ(probes, 5u);
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/servers?poll=1").status, 200);
    EXPECT_EQ(sim.requests_matching("GET", "/identity").size(), probes) << "a poll probes nothing again";
    const auto& h = servers[0].as_object();
    EXPECT_EQ(h.at("machineIdentifier").as_string(), "home-machine-1") << "owned first";
    EXPECT_TRUE(h.at("owned").as_bool());
    EXPECT_FALSE(servers[1].at("owned").as_bool());
    EXPECT_EQ(servers[1].at("sharedBy").as_string(), "friend");
    const auto& conns = h.at("connections").as_array();
    ASSERT_EQ(conns.size(), 8u);
    int available = 0, refused = 0, silent = 0;
    for (const auto& c : conns) {
        EXPECT_FALSE(c.at("reason").as_string().empty()) << bj::serialize(c);
        if (c.at("available").as_bool())
            ++available;
        else if (c.at("error").as_string().find("refused") != std::string::npos)
            ++refused;
        else if (c.at("error").as_string().find("did not answer") != std::string::npos)
            ++silent;
    }
    EXPECT_EQ(available, 4);
    EXPECT_EQ(refused, 2);
    EXPECT_EQ(silent, 2);
    EXPECT_EQ(h.at("bestConnection").at("uri"), best.at("uri"));
    // Probes carry no token.
    for (const auto& rec : sim.requests_matching("GET", "/identity")) EXPECT_TRUE(rec.token.empty());

    // Listed again at once: the same listing, nothing probed again; the
    // Refresh button (?refresh=1) probes every address again.
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/servers").status, 200);
    EXPECT_EQ(sim.requests_matching("GET", "/identity").size(), probes);
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/servers?refresh=1").status, 200);
    EXPECT_GT(sim.requests_matching("GET", "/identity").size(), probes);
}

// A poll reads the listing this account made, and never probes: before any
// listing, or after signing out, it says there is none.
TEST_F(Discovery, APollNeverProbesAndReadsOnlyThisAccountsListing) {
    sim.clear_requests();
    auto none = rig.api("GET", "/api/plex/oauth/servers?poll=1");
    EXPECT_EQ(none.status, 400) << none.body;
    EXPECT_NE(none.json.at("error").as_string().find("list the servers"), std::string::npos) << none.body;
    EXPECT_TRUE(sim.requests_matching("GET", "/identity").empty()) << "a poll probed";
    EXPECT_TRUE(sim.requests_matching("GET", "/api/v2/resources").empty()) << "a poll asked plex.tv";
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/servers").status, 200);
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/servers?poll=1").status, 200);
    ASSERT_EQ(rig.api("POST", "/api/plex/oauth/logout").status, 200);
    auto after = rig.api("GET", "/api/plex/oauth/servers?poll=1");
    EXPECT_EQ(after.status, 400) << "the listing belonged to the account that signed out: " << after.body;
}

// The common case for a host outside the server's network: every LAN
// address is silent and a remote one answers. The choice waits the grace
// (250 ms) for a better address, not the deadline (3 s here).
// One server, "Home", with the connections a test adds, seen by a host
// signed in to its account.
class DiscoveryOutside : public ::testing::Test {
protected:
    DiscoveryOutside() {
        pb::sim::SimServer server;
        server.name = "Home";
        server.machine_id = "home-machine-1";
        pb::sim::add_sample_library(server);
        home = sim.add_server(std::move(server));
    }
    uint16_t add(ConnectionSpec spec) { return sim.add_connection(home, spec); }
    // Starts the simulator and the host with this probe deadline, signed in.
    ::testing::AssertionResult start(const std::string& deadline_ms) {
        sim.start();
        if (!rig.start({{"connect_timeout_ms", deadline_ms}})) return ::testing::AssertionFailure() << rig.error;
        if (!rig.sign_in()) return ::testing::AssertionFailure() << "could not sign in";
        return ::testing::AssertionSuccess();
    }
    // Lists the servers and checks that the connection on `port` was chosen;
    // `server` is then the listing's one server.
    void expect_chosen(uint16_t port, boost::json::value& server) {
        auto r = rig.api("GET", "/api/plex/oauth/servers");
        ASSERT_EQ(r.status, 200) << r.body;
        server = r.json.at("data").as_array().at(0);
        ASSERT_TRUE(server.at("bestConnection").is_object()) << r.body;
        EXPECT_EQ(server.at("bestConnection").at("uri").as_string(), "http://127.0.0.1:" + std::to_string(port));
    }
    pb::sim::Simulator sim;
    pbtest::HostRig rig{sim};
    std::size_t home = 0;
};

TEST_F(DiscoveryOutside, EveryLanAddressSilentTheRemoteOneIsChosenWithoutWaitingTheDeadline) {
    for (int i = 0; i < 4; ++i) add(ConnectionSpec{Behaviour::blackhole, i % 2 == 0, true});
    auto remote = add(ConnectionSpec{Behaviour::normal, false, false});
    // The relay answers later than the remote one, as a relay does: had it
    // answered first, the remote one would have had only the grace to
    // answer, which a loaded CI machine once missed.
    ConnectionSpec relay{Behaviour::normal, false, false, true};
    relay.latency = std::chrono::milliseconds(400);
    add(relay);
    ASSERT_TRUE(start("3000"));

    auto r = rig.api("GET", "/api/plex/oauth/servers");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto& h = r.json.at("data").as_array().at(0);
    const auto& best = h.at("bestConnection");
    ASSERT_TRUE(best.is_object()) << r.body;
    EXPECT_EQ(best.at("uri").as_string(), "http://127.0.0.1:" + std::to_string(remote));
    EXPECT_NE(best.at("reason").as_string().find("chosen: remote http"), std::string::npos) << best;
    int lan_probing = 0;
    for (const auto& c : h.at("connections").as_array()) {
        if (!c.at("local").as_bool()) continue;
        EXPECT_TRUE(c.at("available").is_null()) << "answered before the LAN deadline: " << c;
        EXPECT_NE(c.at("reason").as_string().find("still probing: it ranks higher"), std::string::npos) << c;
        lan_probing += c.at("available").is_null();
    }
    EXPECT_EQ(lan_probing, 4);
    // Selected and used at once: the libraries come through the remote one.
    ASSERT_EQ(
        rig.api("POST", "/api/plex/select-server",
                R"({"machineIdentifier":"home-machine-1","uri":")" + std::string(best.at("uri").as_string()) + R"("})")
            .status,
        200);
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/libraries").status, 200);
}

TEST_F(Discovery, SelectThenFailOverWhenTheConnectionDies) {
    std::string https_uri =
        "https://127-0-0-1." + sim.server(home).plex_direct_hash + ".plex.direct:" + std::to_string(local_https);
    auto sel =
        rig.api("POST", "/api/plex/select-server",
                R"({"machineIdentifier":"home-machine-1","name":"Home","uri":")" + https_uri + R"(","local":true})");
    ASSERT_EQ(sel.status, 200) << sel.body;
    auto stored = rig.settings_object();
    EXPECT_EQ(stored.at("server_url").as_string(), https_uri);
    EXPECT_EQ(stored.at("server_connections").as_array().size(), 8u) << "all connections kept for failover";
    auto libs = rig.api("GET", "/api/plex/oauth/libraries");
    ASSERT_EQ(libs.status, 200) << libs.body;
    const auto& l = libs.json.at("data").as_array();
    ASSERT_EQ(l.size(), 2u) << "movie and show libraries only";
    EXPECT_EQ(l[0].at("type").as_string(), "movie");
    EXPECT_EQ(l[0].at("count").as_int64(), 2);
    EXPECT_EQ(l[1].at("count").as_int64(), 2);
    // Kill the selected connection mid-session.
    sim.kill_connection(local_https);
    auto again = rig.api("GET", "/api/plex/oauth/libraries");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(rig.settings_object().at("server_url").as_string(), "http://127.0.0.1:" + std::to_string(local_http))
        << "switched to the next best connection and persisted it";
    int switched = 0;
    for (const auto& line : rig.host().log_lines()) switched += line.find("switched to") != std::string::npos;
    EXPECT_EQ(switched, 1) << "logged once";
}

TEST_F(Discovery, TestConnectionOnlyProbesTheAccountsAddresses) {
    auto bad = rig.api("POST", "/api/plex/test-connection", R"({"uri":"http://127.0.0.1:9"})");
    EXPECT_EQ(bad.status, 403) << bad.body;
    auto ok = rig.api("POST", "/api/plex/test-connection",
                      R"({"uri":"http://127.0.0.1:)" + std::to_string(local_http) + R"("})");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_TRUE(ok.json.at("data").at("success").as_bool());
    EXPECT_EQ(rig.api("POST", "/api/plex/test-connection", R"({"uri":"nope"})").status, 400);
    auto unknown = rig.api("POST", "/api/plex/select-server", R"({"machineIdentifier":"nope"})");
    EXPECT_EQ(unknown.status, 404);
}

// plex.tv and Plex Media Server answer 429 with Retry-After when a client
// calls too often: a short wait is honoured once, then the user reads that
// plex.tv is busy, not a bare HTTP status.
TEST_F(Discovery, A429IsWaitedOutOnceThenSaidInWords) {
    sim.clear_requests();
    sim.set_plextv_rate_limit(1, 1);
    auto r = rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    ASSERT_EQ(r.status, 200) << r.body;
    auto resources = sim.requests_matching("GET", "/api/v2/resources");
    ASSERT_EQ(resources.size(), 2u) << "asked again after the Retry-After";
    EXPECT_EQ(resources[0].status, 429);
    EXPECT_EQ(resources[1].status, 200);

    sim.set_plextv_rate_limit(100, 1);
    auto busy = rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    sim.set_plextv_rate_limit(0, 1);
    ASSERT_EQ(busy.status, 429) << busy.body;
    EXPECT_EQ(busy.json.at("code").as_string(), "PLEX_RATE_LIMITED") << busy.body;
    EXPECT_NE(busy.json.at("error").as_string().find("busy"), std::string::npos) << busy.body;

    // The server too: the libraries are listed after its Retry-After.
    ASSERT_EQ(rig.api("POST", "/api/plex/select-server",
                      R"({"machineIdentifier":"home-machine-1","uri":"http://127.0.0.1:)" + std::to_string(local_http) +
                          R"("})")
                  .status,
              200);
    sim.clear_requests();
    sim.set_pms_rate_limit(home, 1, 1);
    auto libs = rig.api("GET", "/api/plex/oauth/libraries");
    ASSERT_EQ(libs.status, 200) << libs.body;
    auto sections = sim.requests_matching("GET", "/library/sections");
    ASSERT_GE(sections.size(), 2u);
    EXPECT_EQ(sections[0].status, 429);
    EXPECT_EQ(sections[1].status, 200);
    EXPECT_EQ(sections[0].port, sections[1].port) << "a busy server is not a dead one: no failover";
}

// From outside the server's network a LAN address usually does not even
// accept the TCP connection (its SYN goes nowhere). Such an address is not
// waited for beyond the first 50 ms of the race; one where something
// accepted the connection but says nothing (a hung server) still gets the
// 250 ms grace. Each says which it was.
TEST_F(DiscoveryOutside, AnUnreachableLanAddressIsNotWaitedForAListeningOneIs) {
    auto unreachable = add(ConnectionSpec{Behaviour::unreachable, false, true});
    auto hung = add(ConnectionSpec{Behaviour::blackhole, false, true});
    ConnectionSpec remote_spec{Behaviour::normal, false, false};
    remote_spec.latency = std::chrono::milliseconds(60);  // answers after connect_wait
    auto remote = add(remote_spec);
    ASSERT_TRUE(start("3000"));

    boost::json::value h;
    ASSERT_NO_FATAL_FAILURE(expect_chosen(remote, h));
    for (const auto& c : h.at("connections").as_array()) {
        std::string uri(c.at("uri").as_string()), reason(c.at("reason").as_string());
        if (uri.ends_with(":" + std::to_string(unreachable))) {
            EXPECT_TRUE(c.at("available").is_null()) << c;
            EXPECT_NE(reason.find("did not accept a connection within 50 ms"), std::string::npos) << c;
        }
        if (uri.ends_with(":" + std::to_string(hung))) {
            EXPECT_TRUE(c.at("available").is_null()) << c;
            EXPECT_NE(reason.find("did not answer within 250 ms"), std::string::npos) << c;
        }
    }
}

TEST_F(DiscoveryOutside, EveryLanAddressUnreachableTheRemoteOneIsChosenAndTheyAreSaidUnreachable) {
    for (int i = 0; i < 4; ++i) add(ConnectionSpec{Behaviour::unreachable, i % 2 == 0, true});
    auto remote = add(ConnectionSpec{Behaviour::normal, false, false});
    ASSERT_TRUE(start("3000"));

    boost::json::value h;
    ASSERT_NO_FATAL_FAILURE(expect_chosen(remote, h));
    int said = 0;
    for (const auto& c : h.at("connections").as_array())
        if (c.at("local").as_bool())
            said += std::string(c.at("reason").as_string()).find("unreachable from here") != std::string::npos;
    EXPECT_EQ(said, 4) << h;
    // The polls that follow say in the end why each failed (the deadline).
    ASSERT_TRUE(pbtest::eventually(
        [&] {
            auto p = rig.api("GET", "/api/plex/oauth/servers?poll=1");
            for (const auto& c : p.json.at("data").as_array().at(0).at("connections").as_array())
                if (c.at("available").is_null()) return false;
            return true;
        },
        std::chrono::seconds(10)));
}

// A LAN address slower than the grace: the remote one is chosen first (what
// selection acts on at once), and the LAN one, once it answers, becomes the
// listing's best (what the page selects from the complete listing).
TEST_F(DiscoveryOutside, ALanAddressSlowerThanTheGraceBecomesTheBestOnceItAnswers) {
    ConnectionSpec slow_lan{Behaviour::normal, false, true};
    slow_lan.latency = std::chrono::milliseconds(1500);  // far beyond the 250 ms grace, within the deadline
    auto lan = add(slow_lan);
    auto remote = add(ConnectionSpec{Behaviour::normal, false, false});
    ASSERT_TRUE(start("5000"));

    auto r = rig.api("GET", "/api/plex/oauth/servers");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto& first = r.json.at("data").as_array().at(0);
    EXPECT_EQ(first.at("bestConnection").at("uri").as_string(), "http://127.0.0.1:" + std::to_string(remote));
    for (const auto& c : first.at("connections").as_array()) {
        if (c.at("local").as_bool()) {
            EXPECT_TRUE(c.at("available").is_null()) << c;
        }
    }

    auto servers = poll_until_probed(rig);
    ASSERT_EQ(servers.size(), 1u);
    const auto& best = servers[0].at("bestConnection");
    EXPECT_EQ(best.at("uri").as_string(), "http://127.0.0.1:" + std::to_string(lan));
    EXPECT_NE(best.at("reason").as_string().find("chosen: local http"), std::string::npos) << best;
    for (const auto& c : servers[0].at("connections").as_array()) {
        if (!c.at("local").as_bool()) {
            EXPECT_NE(c.at("reason").as_string().find("ranks below local http"), std::string::npos) << c;
        }
    }
}

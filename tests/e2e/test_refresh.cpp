// After a subtitle event: the right item refreshed in Plex exactly once,
// coalesced, retried until delivered, across a host restart; asserted from
// the simulator's request log.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace bj = boost::json;

namespace {

class Refresh : public ::testing::Test {
protected:
    void SetUp() override {
        pb::sim::SimServer s;
        s.name = "Home";
        s.machine_id = "refresh-machine";
        pb::sim::add_sample_library(s);
        for (int i = 0; i < 10; ++i) {  // ten more new-agent movies
            std::string rk = std::to_string(5000 + i), imdb = "tt10000" + std::to_string(10 + i);
            s.items[rk] = pb::sim::SimItem{rk,
                                           "movie",
                                           "Film " + rk,
                                           "plex://movie/" + rk,
                                           {"imdb://" + imdb},
                                           1,
                                           "",
                                           "",
                                           -1,
                                           2020,
                                           1600000000,
                                           false,
                                           "/data/movies/Film " + rk + "/film.mkv"};
        }
        server = sim.add_server(std::move(s));
        port = sim.add_connection(server, pb::sim::ConnectionSpec{});
        sim.start();
        dir = pbtest::temp_dir("refresh");
        start_host(true);
    }
    void start_host(bool first) {
        rig = std::make_unique<pbtest::HostRig>(sim, dir);
        std::vector<std::pair<std::string, std::string>> presets;
        if (first)
            presets = {{"update_movie_library", "true"},
                       {"update_series_library", "true"},
                       {"set_movie_added", "true"},
                       {"connect_timeout_ms", "500"}};
        ASSERT_TRUE(rig->start(presets, first)) << rig->error;
        if (!first) return;
        ASSERT_TRUE(rig->sign_in());
        ASSERT_EQ(rig->api("POST", "/api/plex/select-server",
                           R"({"machineIdentifier":"refresh-machine","uri":"http://127.0.0.1:)" + std::to_string(port) +
                               R"("})")
                      .status,
                  200);
    }
    void fire(const std::string& media, const std::string& event = "subtitle.downloaded") {
        auto r = rig->api("POST", "/api/host/events", R"({"event":")" + event + R"(","media":)" + media + "}");
        ASSERT_EQ(r.status, 202) << r.body;
    }
    std::size_t count(const std::string& method, const std::string& path) {
        std::size_t n = 0;
        for (const auto& r : sim.requests()) n += r.method == method && r.path == path;
        return n;
    }
    std::size_t count_prefix(const std::string& method, const std::string& prefix) {
        return sim.requests_matching(method, prefix).size();
    }
    int depth() {
        auto st = rig->api("GET", "/api/plex/status");
        return static_cast<int>(st.json.at("data").at("queue").at("depth").as_int64());
    }

    pb::sim::Simulator sim;
    std::size_t server = 0;
    uint16_t port = 0;
    std::string dir;
    std::unique_ptr<pbtest::HostRig> rig;
};

const char* kNewAgentMovie =
    R"({"type":"movie","imdb":"tt0253556","tmdb":6278,"path":"/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4"})";
const char* kLegacyMovie =
    R"({"type":"movie","imdb":"tt0165832","path":"/data/movies/Interstate 60 (2002)/Interstate 60.mkv"})";
const char* kEpisode =
    R"({"type":"episode","series_imdb":"tt3230854","series_tvdb":280619,"episode_tvdb":5246491,"season":1,"episode":1,"path":"/data/tv/The Expanse/Season 01/The Expanse - S01E01.mkv"})";

}  // namespace

TEST_F(Refresh, EachKindRefreshedOnceWithItsAddedDate) {
    sim.clear_requests();
    fire(kNewAgentMovie);
    fire(kLegacyMovie);
    fire(kEpisode);
    ASSERT_TRUE(pbtest::eventually([&] { return count_prefix("PUT", "/library/metadata/") >= 3 && depth() == 0; }));
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 1u) << "new-agent movie, found by its Guid imdb id";
    EXPECT_EQ(count("PUT", "/library/metadata/108/refresh"), 1u) << "legacy-agent movie, by its agent guid";
    EXPECT_EQ(count("PUT", "/library/metadata/2002/refresh"), 1u) << "episode: the show, then season/episode";
    EXPECT_EQ(count_prefix("PUT", "/library/metadata/"), 3u);
    // addedAt set (numbers, locked) for the two movies; not for the episode (off).
    auto edits = sim.requests_matching("PUT", "/library/sections/1/all");
    ASSERT_EQ(edits.size(), 2u);
    for (const auto& e : edits) {
        EXPECT_NE(e.query.find("type=1"), std::string::npos);
        EXPECT_NE(e.query.find("addedAt.locked=1"), std::string::npos);
        EXPECT_EQ(e.query.find("T"), std::string::npos) << "unix seconds, not ISO 8601: " << e.query;
    }
    EXPECT_TRUE(sim.requests_matching("GET", "/library/sections/1/refresh").empty()) << "never a library scan";
    auto st = rig->api("GET", "/api/plex/status");
    EXPECT_FALSE(st.json.at("data").at("last_refresh").is_null());
    EXPECT_EQ(st.json.at("data").at("queue").at("state").as_string(), "idle");
}

TEST_F(Refresh, HundredEventsForTenItemsMakeTenRefreshes) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sim.clear_requests();
    for (int round = 0; round < 10; ++round)
        for (int i = 0; i < 10; ++i)
            fire(R"({"type":"movie","imdb":"tt10000)" + std::to_string(10 + i) + R"("})",
                 round % 2 ? "subtitle.upgraded" : "subtitle.downloaded");
    ASSERT_TRUE(pbtest::eventually([&] { return count_prefix("PUT", "/library/metadata/") >= 10 && depth() == 0; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(count_prefix("PUT", "/library/metadata/"), 10u);
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(count("PUT", "/library/metadata/" + std::to_string(5000 + i) + "/refresh"), 1u) << i;
}

TEST_F(Refresh, UnknownItemScansOnlyItsFolder) {
    sim.clear_requests();
    fire(R"({"type":"movie","imdb":"tt7777777","path":"/data/movies/New Film (2024)/New Film (2024).mkv"})");
    ASSERT_TRUE(pbtest::eventually(
        [&] { return depth() == 0 && !sim.requests_matching("GET", "/library/sections/1/refresh").empty(); }));
    auto scans = sim.requests_matching("GET", "/library/sections/1/refresh");
    ASSERT_EQ(scans.size(), 1u);
    EXPECT_EQ(pb::common::text::url_decode(scans[0].query), "path=/data/movies/New Film (2024)");
    EXPECT_TRUE(sim.requests_matching("PUT", "/library/metadata/").empty());
}

TEST_F(Refresh, PmsDownThenBackAcrossARestartLosesNothing) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    sim.kill_connection(port);
    fire(kNewAgentMovie);
    fire(kLegacyMovie);
    fire(kEpisode);
    // The first attempts fail; the jobs stay queued (and on disk).
    ASSERT_TRUE(pbtest::eventually([&] {
        auto st = rig->api("GET", "/api/plex/status");
        return !st.json.at("data").at("last_error").is_null();
    }));
    EXPECT_EQ(depth(), 3);
    rig->stop();  // the host restarts while Plex is down
    sim.clear_requests();
    sim.revive_connection(port);
    start_host(false);
    EXPECT_EQ(depth(), 3) << "the queue came back from disk";
    ASSERT_TRUE(pbtest::eventually([&] { return depth() == 0; }, std::chrono::seconds(20)));
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 1u);
    EXPECT_EQ(count("PUT", "/library/metadata/108/refresh"), 1u);
    EXPECT_EQ(count("PUT", "/library/metadata/2002/refresh"), 1u);
    if (HasFailure())
        for (const auto& l : rig->host().log_lines()) ADD_FAILURE() << l;
}

TEST_F(Refresh, RevokedTokenPausesInsteadOfRetryingForever) {
    sim.revoke_token(sim.account_token(), 401);
    fire(kNewAgentMovie);
    ASSERT_TRUE(pbtest::eventually([&] {
        auto st = rig->api("GET", "/api/plex/status");
        return st.json.at("data").at("queue").at("state").as_string() == "paused";
    })) << rig->api("GET", "/api/plex/status").body;
    auto st = rig->api("GET", "/api/plex/status");
    EXPECT_NE(std::string(st.json.at("data").at("queue").at("message").as_string()).find("sign in again"),
              std::string::npos);
    sim.clear_requests();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_TRUE(sim.requests().empty()) << "no retries while paused";
}

TEST_F(Refresh, EventsReturnAtOnceAndBadPayloadsAreIgnored) {
    auto bad = rig->api("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":{"type":"song"}})");
    EXPECT_EQ(bad.status, 202);
    EXPECT_EQ(depth(), 0);
    bool warned = false;
    for (const auto& l : rig->host().log_lines()) warned |= l.find("ignored") != std::string::npos;
    EXPECT_TRUE(warned);
}

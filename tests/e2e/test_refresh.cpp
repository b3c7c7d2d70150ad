// After a subtitle event: the right item refreshed in Plex exactly once,
// coalesced, retried until delivered, across a host restart; asserted from
// the simulator's request log.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace bj = boost::json;

namespace {

// A movie of library section 1, from 2020, added in September 2020.
pb::sim::SimItem movie(const std::string& rk, const std::string& title, const std::string& guid,
                       std::vector<std::string> guids, const std::string& file) {
    return pb::sim::SimItem{rk, "movie", title, guid, std::move(guids), 1, "", "", -1, 2020, 1600000000, false, file};
}

class Refresh : public ::testing::Test {
protected:
    void SetUp() override {
        pb::sim::SimServer s;
        s.name = "Home";
        s.machine_id = "refresh-machine";
        pb::sim::add_sample_library(s);
        // An item whose ratingKey is not a number (Plex's are; an odd proxy
        // or a damaged answer may not be): an addedAt edit must never name it.
        s.items["abc"] = movie("abc", "Odd", "plex://movie/odd", {"imdb://tt9999999"}, "/data/movies/Odd/odd.mkv");
        for (int i = 0; i < 10; ++i) {  // ten more new-agent movies
            std::string rk = std::to_string(5000 + i), imdb = "tt10000" + std::to_string(10 + i);
            s.items[rk] = movie(rk, "Film " + rk, "plex://movie/" + rk, {"imdb://" + imdb},
                                "/data/movies/Film " + rk + "/film.mkv");
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
    // As a user does: list the servers (fresh from plex.tv), then pick one.
    int select(const std::string& machine, uint16_t on_port) {
        EXPECT_EQ(rig->api("GET", "/api/plex/oauth/servers").status, 200);
        return rig
            ->api("POST", "/api/plex/select-server",
                  R"({"machineIdentifier":")" + machine + R"(","uri":"http://127.0.0.1:)" + std::to_string(on_port) +
                      R"("})")
            .status;
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

TEST_F(Refresh, TheAddedDateEditNeverGoesOutWithoutOneNumericId) {
    sim.clear_requests();
    fire(R"({"type":"movie","imdb":"tt9999999"})");
    ASSERT_TRUE(pbtest::eventually([&] { return depth() == 0 && count("PUT", "/library/metadata/abc/refresh") == 1; }));
    EXPECT_TRUE(sim.requests_matching("PUT", "/library/sections/").empty())
        << "the same call without a numeric id edits every item of the section";
    auto st = rig->api("GET", "/api/plex/status");
    EXPECT_NE(st.body.find("not a number"), std::string::npos) << st.body;
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

TEST_F(Refresh, ADeadTokenIsFoundAtStartAndRefreshesWaitForTheNextSignIn) {
    rig->stop();
    sim.revoke_token(sim.account_token(), 401);  // the user signed out of every device
    start_host(false);
    auto account_state = [&] {
        auto st = rig->api("GET", "/api/plex/status");
        return std::string(st.json.at("data").at("account").at("state").as_string());
    };
    ASSERT_TRUE(pbtest::eventually([&] { return account_state() == "rejected"; })) << "checked at start";
    auto st = rig->api("GET", "/api/plex/status");
    EXPECT_NE(st.body.find("Sign in to Plex again"), std::string::npos) << st.body;
    sim.clear_requests();
    fire(kNewAgentMovie);
    ASSERT_TRUE(pbtest::eventually([&] {
        auto q = rig->api("GET", "/api/plex/status").json.at("data").at("queue");
        return q.at("state").as_string() == "paused" && q.at("depth").as_int64() == 1;
    }));
    EXPECT_TRUE(sim.requests_matching("PUT", "/library/metadata/").empty()) << "a dead token is not tried";
    // Signing in again (a new token) lets the waiting refresh through: the
    // server's token is fetched again when the old one is refused.
    sim.rotate_account_token();
    ASSERT_TRUE(rig->sign_in());
    ASSERT_TRUE(pbtest::eventually([&] { return depth() == 0 && count("PUT", "/library/metadata/1036/refresh") == 1; }))
        << rig->api("GET", "/api/plex/status").body;
    EXPECT_EQ(account_state(), "ok");
}

TEST_F(Refresh, ASharedServerIsNotRefreshedAndSaysWhy) {
    pb::sim::SimServer f;
    f.name = "Friend's server";
    f.machine_id = "friend-machine";
    f.owned = false;
    f.source_title = "friend";
    pb::sim::add_sample_library(f);
    auto idx = sim.add_server(std::move(f));
    auto fport = sim.add_connection(idx, pb::sim::ConnectionSpec{});
    ASSERT_EQ(select("friend-machine", fport), 200);
    auto st = rig->api("GET", "/api/plex/status");
    EXPECT_FALSE(st.json.at("data").at("refresh").at("available").as_bool());
    EXPECT_NE(st.body.find("shared with this Plex account"), std::string::npos) << st.body;
    sim.clear_requests();
    fire(kNewAgentMovie);
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // past the coalescing window
    EXPECT_EQ(depth(), 0);
    EXPECT_TRUE(sim.requests_matching("PUT", "/library/").empty()) << "not even tried";
    // The plugin believes it owns the server (stale): Plex refuses anyway,
    // and the user reads why, without retries and without a paused queue.
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"server_owned":true})").status, 200);
    fire(kNewAgentMovie);
    ASSERT_TRUE(pbtest::eventually([&] {
        auto e = rig->api("GET", "/api/plex/status").json.at("data").at("last_error");
        return depth() == 0 && e.is_object();
    }));
    st = rig->api("GET", "/api/plex/status");
    EXPECT_NE(st.body.find("only the server's owner can refresh it"), std::string::npos) << st.body;
    EXPECT_NE(st.json.at("data").at("queue").at("state").as_string(), "paused");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 1u) << "refused once, not retried";
    EXPECT_FALSE(rig->settings_object().at("server_owned").as_bool()) << "plex.tv said who owns it";
}

TEST_F(Refresh, ASlowServerIsWaitedForNotSwitchedAway) {
    // Another address of the same server, which a failover would take.
    auto other = sim.add_connection(server, pb::sim::ConnectionSpec{});
    ASSERT_EQ(select("refresh-machine", port), 200);
    const std::string url = "http://127.0.0.1:" + std::to_string(port);
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"read_timeout_ms":1000})").status, 200);
    sim.set_slow_answers(server, std::chrono::milliseconds(2500));  // a NAS listing a large library
    sim.clear_requests();
    fire(kNewAgentMovie);
    ASSERT_TRUE(pbtest::eventually([&] {
        auto e = rig->api("GET", "/api/plex/status").json.at("data").at("last_error");
        return e.is_object() && e.at("message").as_string().find("did not answer within 1 s") != std::string::npos;
    })) << rig->api("GET", "/api/plex/status").body;
    EXPECT_EQ(rig->settings_object().at("server_url").as_string(), url) << "a slow answer is not a dead address";
    for (const auto& r : sim.requests()) EXPECT_NE(r.port, other) << "nothing went to the other address: " << r.path;
    // With a read deadline that fits the server, the waiting refresh goes through.
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"read_timeout_ms":10000})").status, 200);
    ASSERT_TRUE(pbtest::eventually(
        [&] {
            return depth() == 0 && rig->api("GET", "/api/plex/status").json.at("data").at("last_refresh").is_object();
        },
        std::chrono::seconds(30)))
        << rig->api("GET", "/api/plex/status").body;
    EXPECT_GE(count("PUT", "/library/metadata/1036/refresh"), 1u);
    EXPECT_EQ(rig->settings_object().at("server_url").as_string(), url);
}

TEST_F(Refresh, ALargeLibraryIsIndexedInTheBackgroundAndTheStatusSaysHowFar) {
    pb::sim::SimServer big;
    big.name = "Big";
    big.machine_id = "big-machine";
    big.sections.push_back(
        pb::sim::SimSection{1, "Movies", "movie", "tv.plex.agents.movie", "Plex Movie", "/data/movies", "big-movies"});
    for (int i = 0; i < 3000; ++i) {
        std::string rk = std::to_string(100000 + i);
        big.items[rk] =
            movie(rk, "Film " + rk, "plex://movie/" + rk, {"imdb://tt" + rk}, "/data/movies/" + rk + "/film.mkv");
    }
    auto idx = sim.add_server(std::move(big));
    auto bport = sim.add_connection(idx, pb::sim::ConnectionSpec{});
    sim.set_slow_answers(idx, std::chrono::milliseconds(300));  // 6 pages of 500: about 2 s
    ASSERT_EQ(select("big-machine", bport), 200);
    // No event yet: the index is built ahead of the first subtitle.
    bool seen_midway = pbtest::eventually([&] {
        auto ix = rig->api("GET", "/api/plex/status").json.at("data").at("index");
        return ix.at("state").as_string() == "building" && ix.at("items").as_int64() > 0 &&
               ix.at("items").as_int64() < 3000;
    });
    EXPECT_TRUE(seen_midway) << "the status says how far it got";
    ASSERT_TRUE(pbtest::eventually([&] {
        auto ix = rig->api("GET", "/api/plex/status").json.at("data").at("index");
        return ix.at("state").as_string() == "ready";
    }));
    auto ix = rig->api("GET", "/api/plex/status").json.at("data").at("index");
    EXPECT_EQ(ix.at("items").as_int64(), 3000);
    std::size_t pages = 0;
    for (const auto& r : sim.requests_matching("GET", "/library/sections/1/all")) pages += r.listener == "big-machine";
    EXPECT_EQ(pages, 6u) << "paged by 500";
    sim.clear_requests();
    fire(R"({"type":"movie","imdb":"tt102999"})");
    ASSERT_TRUE(pbtest::eventually([&] { return count("PUT", "/library/metadata/102999/refresh") == 1; }));
    EXPECT_TRUE(sim.requests_matching("GET", "/library/sections/1/all").empty()) << "the index was ready";
}

TEST_F(Refresh, PathsAreMappedToWhatAWindowsServerSees) {
    pb::sim::SimServer win;
    win.name = "Windows box";
    win.machine_id = "windows-machine";
    win.platform = "Windows";
    win.sections.push_back(
        pb::sim::SimSection{1, "Movies", "movie", "tv.plex.agents.movie", "Plex Movie", "D:\\Movies", "win-movies"});
    win.items["7001"] = movie("7001", "Film", "local://7001", {}, "D:\\Movies\\Film (2020)\\Film (2020).mkv");
    auto idx = sim.add_server(std::move(win));
    auto wport = sim.add_connection(idx, pb::sim::ConnectionSpec{});
    ASSERT_EQ(select("windows-machine", wport), 200);
    ASSERT_EQ(
        rig->api("PATCH", "/api/settings/plex", R"({"path_mappings":[{"host":"/mnt/movies","plex":"D:\\Movies"}]})")
            .status,
        200);
    sim.clear_requests();
    // No ids: found by its file, which Windows compares without case.
    fire(R"({"type":"movie","path":"/mnt/movies/film (2020)/FILM (2020).mkv"})");
    ASSERT_TRUE(pbtest::eventually([&] { return count("PUT", "/library/metadata/7001/refresh") == 1; }))
        << rig->api("GET", "/api/plex/status").body;
    // Not in Plex yet: Plex scans its own name of the folder.
    fire(R"({"type":"movie","imdb":"tt7777777","path":"/mnt/movies/New Film (2024)/New Film (2024).mkv"})");
    ASSERT_TRUE(pbtest::eventually([&] {
        return !sim.requests_matching("GET", "/library/sections/1/refresh").empty();
    })) << rig->api("GET", "/api/plex/status").body;
    auto scan = sim.requests_matching("GET", "/library/sections/1/refresh").front();
    EXPECT_EQ(pb::common::text::url_decode(scan.query), "path=D:\\Movies\\New Film (2024)");
}

// Plex lists a new subtitle only after a refresh that comes after the file,
// sometimes only on the second; a deleted one until it rereads the folder.
// The refresher reads the item back until Plex shows what the event said.
TEST_F(Refresh, PlexIsMadeToShowTheNewSubtitleAndTheStatusSaysWhenItWillNot) {
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"confirm_delay_ms":300,"set_movie_added":false})").status,
              200);
    // Plex answers a refresh at once and lists what it found a moment later:
    // reading back at once would miss it.
    sim.set_refresh_lag(server, std::chrono::milliseconds(150));
    const std::string dir = "/data/movies/Reign of Fire (2002)/";
    auto event = [&](const std::string& file, const std::string& lang, bool forced = false) {
        return R"({"type":"movie","imdb":"tt0253556","path":")" + dir +
               R"(Reign of Fire (2002).mp4","subtitle":{"path":")" + dir + file + R"(","language":")" + lang +
               R"(","forced":)" + (forced ? "true" : "false") + "}}";
    };
    auto listed = [&] { return sim.listed_subtitles(server, "1036"); };
    auto status = [&] { return rig->api("GET", "/api/plex/status").json.at("data"); };
    // The event is queued on the plugin's thread: wait for its refreshes,
    // then for the queue to empty.
    auto settled = [&](std::size_t refreshes) {
        return pbtest::eventually(
            [&] { return count("PUT", "/library/metadata/1036/refresh") >= refreshes && depth() == 0; });
    };

    // Shows only on the second refresh: the first read-back misses it, a
    // second refresh brings it.
    pb::sim::SimSubtitle en;
    en.file = dir + "Reign of Fire (2002).en.srt";
    en.refreshes_needed = 2;
    ASSERT_TRUE(sim.write_subtitle(server, "1036", en));
    sim.clear_requests();
    fire(event("Reign of Fire (2002).en.srt", "en"));
    ASSERT_TRUE(settled(2)) << status();
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 2u);
    EXPECT_EQ(count("GET", "/library/metadata/1036"), 2u) << "read back after each refresh";
    EXPECT_EQ(listed(), std::vector<std::string>{en.file});
    EXPECT_EQ(status().at("last_refresh").at("subtitle").as_string(), "confirmed");

    // Plex missed the folder change: refreshes do not bring it, the scan of
    // the item's folder (in Plex's path) does.
    pb::sim::SimSubtitle fr;
    fr.file = dir + "Reign of Fire (2002).fr.forced.srt";
    fr.language_code = "fre";
    fr.language_tag = "fr";
    fr.forced = true;
    fr.scan_only = true;
    ASSERT_TRUE(sim.write_subtitle(server, "1036", fr));
    sim.clear_requests();
    fire(event("Reign of Fire (2002).fr.forced.srt", "fra", true));  // 639-2/T: Plex writes "fre"
    ASSERT_TRUE(settled(2)) << status();
    auto scans = sim.requests_matching("GET", "/library/sections/1/refresh");
    ASSERT_EQ(scans.size(), 1u);
    EXPECT_EQ(pb::common::text::url_decode(scans[0].query), "path=/data/movies/Reign of Fire (2002)");
    EXPECT_EQ(status().at("last_refresh").at("subtitle").as_string(), "confirmed");
    EXPECT_TRUE(status().at("last_error").is_null()) << status();

    // Deleted: gone at the next refresh, and the read-back confirms it.
    ASSERT_TRUE(sim.delete_subtitle(server, "1036", en.file));
    sim.clear_requests();
    fire(event("Reign of Fire (2002).en.srt", "en"), "subtitle.deleted");
    ASSERT_TRUE(settled(1)) << status();
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 1u);
    EXPECT_EQ(listed(), std::vector<std::string>{fr.file});
    EXPECT_EQ(status().at("last_refresh").at("subtitle").as_string(), "confirmed");

    // Never shows (Plex cannot match the name): three refreshes, one scan,
    // then the status names the item and the file.
    sim.clear_requests();
    fire(event("Reign.Of.Fire.de.srt", "de"));
    ASSERT_TRUE(settled(3)) << status();
    EXPECT_EQ(count("PUT", "/library/metadata/1036/refresh"), 3u);
    EXPECT_EQ(sim.requests_matching("GET", "/library/sections/1/refresh").size(), 1u);
    auto err = status().at("last_error");
    ASSERT_FALSE(err.is_null());
    std::string message(err.at("message").as_string());
    EXPECT_NE(message.find("Plex does not show the de subtitle Reign.Of.Fire.de.srt on \"Reign of Fire\" (2002)"),
              std::string::npos)
        << message;
    EXPECT_EQ(err.at("files").at(0).as_string(), dir + "Reign.Of.Fire.de.srt");
}

// A second subtitle for the item while the first waits to be read back:
// the folder changed again, so the item is refreshed again, and one
// read-back confirms both.
TEST_F(Refresh, ANewSubtitleWhileTheLastIsCheckedRefreshesAgainAndChecksBoth) {
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"confirm_delay_ms":1500,"set_movie_added":false})").status,
              200);
    const std::string dir = "/data/movies/Reign of Fire (2002)/";
    auto event = [&](const std::string& file, const std::string& lang) {
        return R"({"type":"movie","imdb":"tt0253556","subtitle":{"path":")" + dir + file + R"(","language":")" + lang +
               R"("}})";
    };
    pb::sim::SimSubtitle en, es;
    en.file = dir + "Reign of Fire (2002).en.srt";
    es.file = dir + "Reign of Fire (2002).es.srt";
    es.language_code = "spa";
    es.language_tag = "es";
    ASSERT_TRUE(sim.write_subtitle(server, "1036", en));
    sim.clear_requests();
    fire(event("Reign of Fire (2002).en.srt", "en"));
    // Refreshed, now waiting to read it back.
    ASSERT_TRUE(pbtest::eventually([&] {
        auto last = rig->api("GET", "/api/plex/status").json.at("data").at("last_refresh");
        return last.is_object() && last.as_object().contains("subtitle") && last.at("subtitle") == "checking";
    }));
    EXPECT_EQ(count("GET", "/library/metadata/1036"), 0u);
    ASSERT_TRUE(sim.write_subtitle(server, "1036", es));
    fire(event("Reign of Fire (2002).es.srt", "spa"));
    ASSERT_TRUE(pbtest::eventually([&] { return count("PUT", "/library/metadata/1036/refresh") == 2 && depth() == 0; }))
        << rig->api("GET", "/api/plex/status").body;
    EXPECT_EQ(count("GET", "/library/metadata/1036"), 1u) << "one read-back, after the second refresh";
    EXPECT_EQ(sim.listed_subtitles(server, "1036").size(), 2u);
    auto st = rig->api("GET", "/api/plex/status").json.at("data");
    EXPECT_EQ(st.at("last_refresh").at("subtitle").as_string(), "confirmed");
    EXPECT_TRUE(st.at("last_error").is_null()) << st;
}

// A host that does not say which subtitle changed gets a refresh and no
// read-back, as before the check existed.
TEST_F(Refresh, WithoutSubtitleDetailsTheRefreshIsNotReadBack) {
    sim.clear_requests();
    fire(kNewAgentMovie);
    ASSERT_TRUE(
        pbtest::eventually([&] { return depth() == 0 && count("PUT", "/library/metadata/1036/refresh") == 1; }));
    EXPECT_EQ(count("GET", "/library/metadata/1036"), 0u);
}

TEST_F(Refresh, EventsReturnAtOnceAndBadPayloadsAreIgnored) {
    auto bad = rig->api("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":{"type":"song"}})");
    EXPECT_EQ(bad.status, 202);
    EXPECT_EQ(depth(), 0);
    bool warned = false;
    for (const auto& l : rig->host().log_lines()) warned |= l.find("ignored") != std::string::npos;
    EXPECT_TRUE(warned);
}

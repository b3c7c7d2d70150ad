// Plex webhooks through the reference host, sent as Plex sends them
// (multipart/form-data with a payload part and a JPEG thumb part).
#include <gtest/gtest.h>

#include "harness.hpp"
#include "unit/fixture_path.hpp"

namespace bj = boost::json;

namespace {

constexpr const char* kServer = "27a04b118b1bf1f25f8e99306785453623e18b67";  // Server.uuid in the movary capture

std::string movary_payload(const std::string& file) {
    std::string t = fixture(file);
    return t.substr(t.find("payload=") + 8);
}

std::string multipart(const std::string& payload,
                      const std::string& boundary = "------------------------d74496d66958873e",
                      bool with_thumb = true) {
    std::string b = "--" + boundary + "\r\n";
    std::string out;
    if (with_thumb) {  // Plex puts the thumbnail first for some events
        out += b +
               "Content-Disposition: form-data; name=\"thumb\"; filename=\"thumb.jpg\"\r\nContent-Type: "
               "image/jpeg\r\n\r\n";
        // JPEG bytes, including CRLF and dashes that are not the boundary.
        out += std::string("\xFF\xD8\xFF\xE0", 4) + std::string(3000, '\x42') + "\r\n--other\r\n\r\n" +
               std::string("\x00\xFF\xD9", 3) + "\r\n";
    }
    out += b + "Content-Disposition: form-data; name=\"payload\"\r\nContent-Type: application/json\r\n\r\n" + payload +
           "\r\n";
    out += "--" + boundary + "--\r\n";
    return out;
}

std::string episode_payload(const std::string& event, const std::string& rating_key, const std::string& guid,
                            const std::string& grandparent_key, const std::string& grandparent_guid, int season,
                            int episode, const std::string& guid_array) {
    return R"({"event":")" + event + R"(","user":true,"owner":true,"Account":{"id":1,"title":"plexuser"},
      "Server":{"title":"Plex","uuid":")" +
           kServer + R"("},"Player":{"local":true,"title":"TV"},
      "Metadata":{"librarySectionType":"show","ratingKey":")" +
           rating_key + R"(","key":"/library/metadata/)" + rating_key + R"(","guid":")" + guid +
           R"(","type":"episode","title":"Ep","grandparentTitle":"Show","grandparentRatingKey":")" + grandparent_key +
           R"(","grandparentGuid":")" + grandparent_guid + R"(","librarySectionTitle":"TV Shows",
      "librarySectionID":2,"parentIndex":)" +
           std::to_string(season) + R"(,"index":)" + std::to_string(episode) + guid_array + "}}";
}

class Webhooks : public ::testing::Test {
protected:
    void SetUp() override {
        pb::sim::SimServer s;
        s.name = "Plex";
        s.machine_id = kServer;
        pb::sim::add_sample_library(s);
        server = sim.add_server(std::move(s));
        port = sim.add_connection(server, pb::sim::ConnectionSpec{});
        sim.start();
        auto dir = pbtest::temp_dir("wh");
        catalog = pb::common::fs::join(dir, "catalog.json");
        ASSERT_TRUE(pb::common::fs::atomic_write(
            catalog,
            R"({"movies":[{"title":"Big Trouble in Little China","imdb":"tt0090728","tmdb":6978},
            {"title":"Interstate 60","imdb":"tt0165832"}],
          "series":[{"title":"The Expanse","imdb":"tt3230854","tvdb":280619,"episodes":[{"season":1,"episode":1,"tvdb":5246491},{"season":1,"episode":2,"tvdb":5246492}]},
                    {"title":"Gotham","tvdb":274431,"episodes":[{"season":1,"episode":1}]}]})"));
        rig = std::make_unique<pbtest::HostRig>(sim, dir, catalog);
        ASSERT_TRUE(rig->start()) << rig->error;
        ASSERT_TRUE(rig->sign_in());
        ASSERT_EQ(rig->api("POST", "/api/plex/select-server",
                           R"({"machineIdentifier":")" + std::string(kServer) + R"(","uri":"http://127.0.0.1:)" +
                               std::to_string(port) + R"("})")
                      .status,
                  200);
        base = "http://127.0.0.1:" + std::to_string(rig->host().port());
        ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_base_url":")" + base + R"("})").status, 200);
        auto created = rig->api("POST", "/api/plex/webhook/create");
        ASSERT_EQ(created.status, 200) << created.body;
        ASSERT_EQ(sim.webhooks().size(), 1u);
        hook_url = sim.webhooks()[0];
    }
    pb::http::Result send(const std::string& body, const std::string& content_type, const std::string& url = "") {
        return caller.call("POST", url.empty() ? hook_url : url, body, {{"Content-Type", content_type}});
    }
    pb::http::Result send_multipart(const std::string& payload) {
        return send(multipart(payload), "multipart/form-data; boundary=------------------------d74496d66958873e");
    }
    std::vector<pb::host::SearchRecord> searches() { return rig->host().searches(); }

    pb::sim::Simulator sim;
    std::size_t server = 0;
    uint16_t port = 0;
    std::string catalog, base, hook_url;
    std::unique_ptr<pbtest::HostRig> rig;
    pbtest::Caller caller;
};

}  // namespace

TEST_F(Webhooks, NewAgentMovieFromARealCapture) {
    std::string payload = movary_payload("movary/plex-scrobble.http");
    auto pos = payload.find("media.scrobble");
    payload.replace(pos, 14, "media.play");
    auto r = send_multipart(payload);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->status, 200) << r->body;
    auto answer = bj::parse(r->body);
    const auto& media = answer.at("data").at("media");
    EXPECT_EQ(answer.at("data").at("searched"), true);
    EXPECT_EQ(media.at("type"), "movie");
    EXPECT_EQ(media.at("title"), "Big Trouble in Little China");
    EXPECT_EQ(media.at("imdb"), "tt0090728");
    EXPECT_EQ(media.at("tmdb"), 6978);
    auto s = searches();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].media_type, "movie");
    EXPECT_EQ(s[0].imdb, "tt0090728");
    EXPECT_EQ(s[0].tmdb, 6978);
    EXPECT_EQ(s[0].reason, "plex webhook media.play");
    EXPECT_TRUE(sim.requests_matching("GET", "/library/metadata").empty()) << "ids were in the payload: no PMS call";
    // The same item again within the window: one search only.
    auto again = send_multipart(payload);
    EXPECT_EQ(again->status, 204);
    EXPECT_EQ(searches().size(), 1u);
}

TEST_F(Webhooks, LegacyAgentMovie) {
    auto p =
        R"({"event":"media.play","Account":{"id":1,"title":"plexuser"},"Server":{"uuid":")" + std::string(kServer) +
        R"("},"Metadata":{"ratingKey":"108","type":"movie","title":"Interstate 60","guid":"com.plexapp.agents.imdb://tt0165832?lang=en","librarySectionID":1,"librarySectionTitle":"Movies"}})";
    auto r = send_multipart(p);
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(searches().size(), 1u);
    EXPECT_EQ(searches()[0].imdb, "tt0165832");
}

TEST_F(Webhooks, Latin1TitleIsRepairedNotRejected) {
    // PMS sometimes sends Latin-1 bytes (see item_metadata_with_latin1_encoding.json):
    // the search still happens, and the host receives valid UTF-8.
    auto p =
        R"({"event":"media.play","Server":{"uuid":")" + std::string(kServer) +
        "\"},\"Metadata\":{\"ratingKey\":\"108\",\"type\":\"movie\",\"title\":\"\xC4\xE4nikirjat\",\"cast\":\"\xFF\","
        R"("guid":"com.plexapp.agents.imdb://tt0165832?lang=en"}})";
    auto r = send_multipart(p);
    ASSERT_EQ(r->status, 200) << r->body;
    ASSERT_EQ(searches().size(), 1u);
    EXPECT_EQ(searches()[0].title, "\xEF\xBF\xBD\xEF\xBF\xBDnikirjat");
    EXPECT_NE(r->body.find("\xEF\xBF\xBD\xEF\xBF\xBDnikirjat"), std::string::npos) << r->body;
}

TEST_F(Webhooks, NewAgentEpisodeByTvdbReadsTheShowOnce) {
    auto e1 = episode_payload("playback.started", "2002", "plex://episode/5d9c1275e264b7001fc5d8a4", "2000",
                              "plex://show/5d9c086c46115600200aa2fe", 1, 1,
                              R"(,"Guid":[{"id":"imdb://tt3696416"},{"id":"tmdb://1078497"},{"id":"tvdb://5246491"}])");
    auto r = send_multipart(e1);
    ASSERT_EQ(r->status, 200) << r->body;
    auto s = searches();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].media_type, "episode");
    EXPECT_EQ(s[0].tvdb, 280619) << "the show's tvdb id, read from PMS";
    EXPECT_EQ(s[0].imdb, "tt3230854");
    EXPECT_EQ(s[0].episode_tvdb, 5246491) << "the Guid array holds the episode's ids";
    EXPECT_EQ(s[0].season, 1);
    EXPECT_EQ(s[0].episode, 1);
    auto media = bj::parse(r->body).at("data").at("media");
    EXPECT_EQ(media.at("tvdb"), 280619);
    EXPECT_EQ(media.at("season"), 1);
    EXPECT_EQ(media.at("episode"), 1);
    EXPECT_EQ(media.at("episode_tvdb"), 5246491);
    auto e2 = episode_payload("media.play", "2003", "plex://episode/5d9c1275e264b7001fc5d8a5", "2000",
                              "plex://show/5d9c086c46115600200aa2fe", 1, 2, R"(,"Guid":[{"id":"tvdb://5246492"}])");
    ASSERT_EQ(send_multipart(e2)->status, 200);
    EXPECT_EQ(sim.requests_matching("GET", "/library/metadata/2000").size(), 1u) << "show ids cached";
}

TEST_F(Webhooks, EpisodeWithOnlyALegacyGuid) {
    auto e = episode_payload("media.play", "90", "com.plexapp.agents.thetvdb://274431/1/1?lang=en", "88",
                             "com.plexapp.agents.thetvdb://274431?lang=en", 1, 1, "");
    auto r = send_multipart(e);
    ASSERT_EQ(r->status, 200) << r->body;
    auto s = searches();
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].tvdb, 274431);
    EXPECT_EQ(s[0].season, 1);
    EXPECT_EQ(s[0].episode, 1);
    EXPECT_EQ(s[0].episode_tvdb, -1);
}

TEST_F(Webhooks, FormAndRawJsonAreAcceptedToo) {
    std::string payload = movary_payload("movary/plex-scrobble.http");
    payload.replace(payload.find("media.scrobble"), 14, "media.play");
    auto r = send("payload=" + pb::common::text::url_encode(payload), "application/x-www-form-urlencoded");
    EXPECT_EQ(r->status, 200) << r->body;
    auto legacy =
        R"({"event":"media.play","Server":{"uuid":")" + std::string(kServer) +
        R"("},"Metadata":{"ratingKey":"108","type":"movie","title":"I60","guid":"com.plexapp.agents.imdb://tt0165832?lang=en"}})";
    EXPECT_EQ(send(legacy, "application/json")->status, 200);
}

TEST_F(Webhooks, ErrorsAnswerAsSpecified) {
    std::string good = movary_payload("movary/plex-scrobble.http");
    std::string url_no_key = base + "/api/webhooks/plex";
    EXPECT_EQ(
        send(multipart(good), "multipart/form-data; boundary=------------------------d74496d66958873e", url_no_key)
            ->status,
        401);
    EXPECT_EQ(send(multipart(good), "multipart/form-data; boundary=------------------------d74496d66958873e",
                   url_no_key + "?apikey=wrong")
                  ->status,
              401);
    EXPECT_EQ(send(good, "text/plain")->status, 415);
    auto truncated = multipart(good).substr(0, 500);
    auto t = send(truncated, "multipart/form-data; boundary=------------------------d74496d66958873e");
    EXPECT_EQ(t->status, 400);
    EXPECT_NE(t->body.find("boundary"), std::string::npos) << t->body;
    EXPECT_EQ(send(multipart("{not json"), "multipart/form-data; boundary=\"------------------------d74496d66958873e\"")
                  ->status,
              400);
    EXPECT_EQ(send(multipart(good), "multipart/form-data")->status, 400) << "no boundary";
    EXPECT_EQ(send(std::string(10 * 1024 * 1024 + 1, 'x'), "application/json")->status, 413) << "10 MiB by default";
    // media.scrobble is not a search trigger by default.
    EXPECT_EQ(send_multipart(good)->status, 204);
    // Unknown to the host: 404, and a retry is not swallowed as a duplicate.
    auto unknown =
        R"({"event":"media.play","Server":{"uuid":")" + std::string(kServer) +
        R"("},"Metadata":{"ratingKey":"5","type":"movie","title":"Nope","Guid":[{"id":"imdb://tt9999999"}]}})";
    EXPECT_EQ(send_multipart(unknown)->status, 404);
    EXPECT_EQ(send_multipart(unknown)->status, 404);
    auto other_server =
        R"({"event":"media.play","Server":{"uuid":"someone-else"},"Metadata":{"ratingKey":"5","type":"movie","Guid":[{"id":"imdb://tt0090728"}]}})";
    EXPECT_EQ(send_multipart(other_server)->status, 204);
    auto trailer = R"({"event":"media.play","Server":{"uuid":")" + std::string(kServer) +
                   R"("},"Metadata":{"type":"clip","subtype":"trailer","title":"Trailer"}})";
    EXPECT_EQ(send_multipart(trailer)->status, 204);
    EXPECT_TRUE(searches().size() == 2u) << "only the two unknown-media attempts reached the host";
}

TEST_F(Webhooks, OnlySelectedLibrariesAndAccounts) {
    ASSERT_EQ(
        rig->api("PATCH", "/api/settings/plex", R"({"movie_library":["7"],"webhook_accounts":["someone"]})").status,
        200);
    std::string payload = movary_payload("movary/plex-scrobble.http");
    payload.replace(payload.find("media.scrobble"), 14, "media.play");
    EXPECT_EQ(send_multipart(payload)->status, 204) << "library 1 is not selected";
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"movie_library":["Movies"]})").status, 200);
    EXPECT_EQ(send_multipart(payload)->status, 204) << "account not selected";
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_accounts":["title"]})").status, 200);
    // With Plex turned off, what Plex sends starts nothing either.
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"use_plex":false})").status, 200);
    EXPECT_EQ(send_multipart(payload)->status, 204) << "Use Plex is off";
    EXPECT_TRUE(searches().empty());
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"use_plex":true})").status, 200);
    EXPECT_EQ(send_multipart(payload)->status, 200);
    EXPECT_EQ(searches().size(), 1u);
}

TEST_F(Webhooks, TheOwnerIsAccountOneAndMatchesByPlexIdNameOrEmail) {
    // The capture's Account.id is 1: Plex's way of saying "the server owner".
    std::string payload = movary_payload("movary/plex-scrobble.http");
    payload.replace(payload.find("media.scrobble"), 14, "media.play");
    ASSERT_NE(payload.find(R"("id": 1,)"), std::string::npos);
    const std::string owner_id = std::to_string(sim.account().id);
    for (const std::string& who : {owner_id, std::string("plexuser"), std::string("plexuser@example.com")}) {
        SCOPED_TRACE(who);
        ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_accounts":[")" + who + R"("]})").status, 200);
        ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_dedupe_seconds":0})").status, 200);
        EXPECT_EQ(send_multipart(payload)->status, 200) << "the signed-in owner is Account 1";
    }
    // A managed user, by title; and someone else's Account 1 (a friend's
    // server) is not the signed-in user.
    std::string managed = payload;
    managed.replace(managed.find(R"("id": 1,)"), 8, R"("id": 7,)");
    managed.replace(managed.find(R"("title": "title")"), 16, R"("title": "Kids")");
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_accounts":["Kids"]})").status, 200);
    EXPECT_EQ(send_multipart(managed)->status, 200) << "a managed user by title";
    EXPECT_EQ(send_multipart(payload)->status, 204) << "the owner is not Kids";
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_accounts":[")" + owner_id + R"("]})").status, 200);
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"server_owned":false})").status, 200);
    EXPECT_EQ(send_multipart(payload)->status, 204) << "on a shared server Account 1 is the friend who owns it";
}

TEST_F(Webhooks, ManagingTheWebhookKeepsTheUsersOthers) {
    // The user already had two webhooks of their own.
    pbtest::Caller c;
    auto seed = c.call("POST", sim.plextv_url() + "/api/v2/user/webhooks",
                       "urls%5B%5D=https%3A%2F%2Fexample.com%2Fa&urls%5B%5D=" + pb::common::text::url_encode(hook_url) +
                           "&urls%5B%5D=https%3A%2F%2Fexample.com%2Fb",
                       {{"X-Plex-Token", sim.account_token()}, {"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(seed->status, 201);
    ASSERT_EQ(rig->api("POST", "/api/plex/webhook/create").status, 200);
    EXPECT_EQ(sim.webhooks().size(), 3u) << "creating twice does not duplicate";
    auto list = rig->api("GET", "/api/plex/webhook/list");
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.json.at("data").at("count").as_int64(), 3);
    EXPECT_EQ(list.body.find(hook_url.substr(hook_url.find("apikey=") + 7)), std::string::npos) << "key masked";
    std::string masked = std::string(list.json.at("data").at("webhooks").as_array()[1].at("url").as_string());
    auto del = rig->api("POST", "/api/plex/webhook/delete", R"({"webhook_url":")" + masked + R"("})");
    ASSERT_EQ(del.status, 200) << del.body;
    EXPECT_EQ(sim.webhooks(), (std::vector<std::string>{"https://example.com/a", "https://example.com/b"}));
    EXPECT_EQ(rig->api("POST", "/api/plex/webhook/delete", R"({"webhook_url":"https://nope"})").status, 404);
    sim.set_plex_pass(false);
    auto no_pass = rig->api("POST", "/api/plex/webhook/create");
    EXPECT_EQ(no_pass.status, 403);
    EXPECT_NE(no_pass.body.find("Plex Pass"), std::string::npos);
    EXPECT_EQ(sim.webhooks().size(), 2u);
    // Listing without Plex Pass: plex.tv refuses with error 1043, which the
    // user reads as what it means, with the account's name.
    auto no_pass_list = rig->api("GET", "/api/plex/webhook/list");
    EXPECT_EQ(no_pass_list.status, 403) << no_pass_list.body;
    EXPECT_EQ(no_pass_list.json.at("code").as_string(), "PLEX_PASS_REQUIRED") << no_pass_list.body;
    EXPECT_NE(no_pass_list.body.find("Webhooks need Plex Pass, and the account plexuser has none"), std::string::npos)
        << no_pass_list.body;
}

TEST_F(Webhooks, SigningOutTakesOurWebhookOffPlexTvAndKeepsTheUsersOthers) {
    pbtest::Caller c;
    auto seed = c.call("POST", sim.plextv_url() + "/api/v2/user/webhooks",
                       "urls%5B%5D=https%3A%2F%2Fexample.com%2Fa&urls%5B%5D=" + pb::common::text::url_encode(hook_url),
                       {{"X-Plex-Token", sim.account_token()}, {"Content-Type", "application/x-www-form-urlencoded"}});
    ASSERT_EQ(seed->status, 201);
    auto out = rig->api("POST", "/api/plex/oauth/logout");
    ASSERT_EQ(out.status, 200) << out.body;
    EXPECT_NE(out.body.find("removed the webhook from plex.tv"), std::string::npos) << out.body;
    EXPECT_EQ(sim.webhooks(), std::vector<std::string>{"https://example.com/a"});
    auto settings = rig->settings_object();
    EXPECT_EQ(settings.at("token").as_string(), "");
    EXPECT_EQ(settings.at("server_token").as_string(), "");
    EXPECT_EQ(settings.at("server_machine_id").as_string(), "");
    // Signed out, nothing calls plex.tv on its own at the next start.
    rig->stop();
    sim.clear_requests();
    ASSERT_TRUE(rig->start({}, false)) << rig->error;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_TRUE(sim.requests_matching("GET", "/api/v2/user").empty()) << "no token check without a token";
}

TEST_F(Webhooks, ForgettingEverythingSaysWhatItRemoved) {
    auto key_path = pb::common::fs::join(rig->data_dir(), "plexbridge.key");
    auto key_before = *pb::common::fs::read_file(key_path);
    auto id_before = std::string(rig->settings_object().at("client_identifier").as_string());
    auto r = rig->api("POST", "/api/plex/forget");
    ASSERT_EQ(r.status, 200) << r.body;
    for (const char* said : {"removed the webhook from plex.tv", "deleted the refresh queue",
                             "deleted the encryption key and made a new one", "reset every Plex setting"})
        EXPECT_NE(r.body.find(said), std::string::npos) << said << " in " << r.body;
    EXPECT_TRUE(sim.webhooks().empty());
    EXPECT_NE(*pb::common::fs::read_file(key_path), key_before);
    auto settings = rig->settings_object();
    EXPECT_NE(std::string(settings.at("client_identifier").as_string()), id_before) << "a new device on plex.tv";
    EXPECT_EQ(settings.at("webhook_key").as_string(), "");
    EXPECT_EQ(settings.at("webhook_base_url").as_string(), "");
    EXPECT_FALSE(settings.at("use_plex").as_bool());
    EXPECT_FALSE(std::filesystem::exists(pb::common::fs::join(rig->data_dir(), "plexbridge-refresh-queue.json")));
}

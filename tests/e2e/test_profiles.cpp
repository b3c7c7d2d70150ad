// Several profiles: Plex sign-ins side by side, each with its own account,
// server, libraries and switches (docs/accounts.md), through the reference
// host against the simulator. The simulator's account owns two servers:
// the Living Room (the sample library, under /data/movies and /data/tv)
// and the Cabin (a generated library, under /data/generated-*). The
// default profile works with the first, a second profile with the other.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.hpp"

namespace bj = boost::json;
using pbtest::HostRig;

namespace {

constexpr const char* kLivingRoom = "5d3e8f0a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";  // add_demo_world's server
constexpr const char* kCabin = "cabin-0123456789abcdef";

std::string code_of(const pbtest::ApiAnswer& a) {
    return a.json.is_object() && a.json.as_object().contains("code")
               ? std::string(a.json.as_object().at("code").as_string())
               : "<none>";
}

class Profiles : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        pb::sim::SimServer cabin;
        cabin.name = "Cabin";
        cabin.machine_id = kCabin;
        pb::sim::add_generated_library(cabin, 3, 0, 0);
        cabin_index = sim.add_server(std::move(cabin));
        cabin_port = sim.add_connection(cabin_index, pb::sim::ConnectionSpec{});
        pb::sim::SimHomeUser sam;
        sam.title = "Sam";
        sam.username = "sam";
        sam.email = "sam@example.com";
        sam.pin = "1234";
        this->sam = sim.add_home_user(sam);
        sim.start();
        dir = pbtest::temp_dir("profiles");
        catalog = pb::common::fs::join(dir, "catalog.json");
        ASSERT_TRUE(pb::common::fs::atomic_write(catalog, R"({"movies":[{"title":"Interstate 60","imdb":"tt0165832"},
                                   {"title":"Generated Film 1","imdb":"tt2000001"}],"series":[]})"));
        rig = std::make_unique<HostRig>(sim, dir, catalog);
        ASSERT_TRUE(rig->start({{"update_movie_library", "true"}})) << rig->error;
        ASSERT_TRUE(rig->sign_in());
        ASSERT_EQ(select("", kLivingRoom, living_room_uri()), 200);
    }
    // `profile` "" is the default one.
    static std::string q(const std::string& profile, const std::string& path) {
        if (profile.empty()) return path;
        return path + (path.find('?') == std::string::npos ? "?" : "&") + "profile=" + profile;
    }
    pbtest::ApiAnswer api(const std::string& profile, const std::string& method, const std::string& path,
                          const std::string& body = "") {
        return rig->api(method, q(profile, path), body);
    }
    std::string living_room_uri() {
        auto listing = rig->api("GET", "/api/plex/oauth/servers");
        for (const auto& s : listing.json.at("data").as_array())
            if (s.at("machineIdentifier") == kLivingRoom)
                for (const auto& c : s.at("connections").as_array())
                    if (c.at("local").as_bool() && c.at("protocol").as_string() == "http")
                        return std::string(c.at("uri").as_string());
        return "";
    }
    int select(const std::string& profile, const std::string& machine, const std::string& uri) {
        EXPECT_EQ(api(profile, "GET", "/api/plex/oauth/servers").status, 200);
        auto r = api(profile, "POST", "/api/plex/select-server",
                     R"({"machineIdentifier":")" + machine + R"(","uri":")" + uri + R"("})");
        EXPECT_EQ(r.status, 200) << r.body;
        return r.status;
    }
    std::string cabin_uri() const { return "http://127.0.0.1:" + std::to_string(cabin_port); }
    // Adds a profile and returns its id.
    std::string add(const std::string& name) {
        auto r = rig->api("POST", "/api/plex/profiles", bj::serialize(bj::object{{"name", name}}));
        EXPECT_EQ(r.status, 201) << r.body;
        return r.status == 201 ? std::string(r.json.at("data").at("id").as_string()) : "";
    }
    // Signs profile `id` in as the simulator's account, as a person would.
    bool sign_in(const std::string& id) {
        auto pin = api(id, "POST", "/api/plex/oauth/pin");
        EXPECT_EQ(pin.status, 200) << pin.body;
        if (pin.status != 200) return false;
        const auto& d = pin.json.at("data").as_object();
        sim.link_pin(std::string(d.at("code").as_string()));
        auto done = api(id, "GET",
                        "/api/plex/oauth/pin/" + bj::serialize(d.at("pinId")) +
                            "/check?state=" + std::string(d.at("state").as_string()));
        EXPECT_EQ(done.status, 200) << done.body;
        return done.status == 200 && done.json.at("data").at("authenticated").as_bool();
    }
    // A second profile signed in to the same account, working with the Cabin.
    std::string cabin_profile() {
        std::string id = add("Cabin");
        EXPECT_TRUE(sign_in(id));
        EXPECT_EQ(select(id, kCabin, cabin_uri()), 200);
        EXPECT_EQ(api(id, "PATCH", "/api/plex/settings", R"({"update_movie_library":true})").status, 200);
        return id;
    }
    bj::object profile_entry(const std::string& id) {
        auto stored = rig->settings_object();  // held: the loop reads into it
        for (const auto& p : stored.at("profiles").as_array())
            if (p.at("id") == id.c_str()) return p.as_object();
        return {};
    }
    void fire(const std::string& media) {
        auto r = rig->api("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":)" + media + "}");
        ASSERT_EQ(r.status, 202) << r.body;
    }
    std::size_t refreshes(std::size_t server, const std::string& rating_key) {
        std::size_t n = 0;
        for (const auto& r : sim.requests())
            n += r.method == "PUT" && r.path == "/library/metadata/" + rating_key + "/refresh" &&
                 r.listener == sim.server(server).machine_id;
        return n;
    }
    bj::value status(const std::string& profile) { return api(profile, "GET", "/api/plex/status").json.at("data"); }

    pb::sim::Simulator sim;
    pb::sim::SimHomeUser sam;
    std::size_t cabin_index = 0;
    uint16_t cabin_port = 0;
    std::string dir, catalog;
    std::unique_ptr<HostRig> rig;
};

}  // namespace

TEST_F(Profiles, EachProfileKeepsItsOwnSignInServerAndSwitches) {
    auto list = rig->api("GET", "/api/plex/profiles");
    ASSERT_EQ(list.status, 200) << list.body;
    ASSERT_EQ(list.json.at("data").at("profiles").as_array().size(), 1u);
    EXPECT_EQ(list.json.at("data").at("profiles").at(0).at("default"), true);

    std::string id = add("Cabin");
    ASSERT_EQ(id.size(), 8u);
    // A new profile has nothing of the default's: not its token, not its server.
    auto fresh = status(id);
    EXPECT_EQ(fresh.at("signed_in"), false) << fresh;
    // Its settings are the table's defaults, every one of them.
    auto blank = api(id, "GET", "/api/plex/settings").json.at("data").at("values");
    EXPECT_EQ(blank.at("confirm_subtitles"), true);
    EXPECT_EQ(blank.at("webhook_events").as_array().size(), 2u);
    EXPECT_EQ(blank.at("username"), "");
    EXPECT_EQ(api(id, "GET", "/api/plex/oauth/servers").status, 401);

    ASSERT_TRUE(sign_in(id));
    ASSERT_EQ(select(id, kCabin, cabin_uri()), 200);
    ASSERT_EQ(api(id, "PATCH", "/api/plex/settings", R"({"set_movie_added":true,"movie_library":["1"]})").status, 200);

    // The default profile is as it was.
    auto mine = api("", "GET", "/api/plex/settings").json.at("data").at("values");
    EXPECT_EQ(mine.at("server_name"), "Living Room");
    EXPECT_EQ(mine.at("set_movie_added"), false);
    EXPECT_EQ(mine.at("movie_library").as_array().size(), 0u);
    auto theirs = api(id, "GET", "/api/plex/settings").json.at("data").at("values");
    EXPECT_EQ(theirs.at("server_name"), "Cabin");
    EXPECT_EQ(theirs.at("set_movie_added"), true);

    // Stored apart: the top-level keys are the default's, the entry the
    // profile's, its token sealed, and plex.tv sees two devices.
    auto stored = rig->settings_object();
    EXPECT_EQ(stored.at("server_machine_id"), kLivingRoom);
    auto entry = profile_entry(id);
    EXPECT_EQ(entry.at("name"), "Cabin");
    EXPECT_EQ(entry.at("server_machine_id"), kCabin);
    EXPECT_TRUE(entry.at("token").as_string().starts_with("v1:")) << entry.at("token");
    EXPECT_EQ(rig->settings_file().find(sim.account_token()), std::string::npos) << "no token in plain text";
    ASSERT_TRUE(entry.contains("client_identifier"));
    EXPECT_NE(entry.at("client_identifier"), stored.at("client_identifier"));

    list = rig->api("GET", "/api/plex/profiles");
    const auto& second = list.json.at("data").at("profiles").at(1);
    EXPECT_EQ(second.at("name"), "Cabin");
    EXPECT_EQ(second.at("server_name"), "Cabin");
    EXPECT_EQ(second.at("username"), "plexuser");

    // Everything survives a restart of the host.
    rig->stop();
    rig = std::make_unique<HostRig>(sim, dir, catalog);
    ASSERT_TRUE(rig->start()) << rig->error;
    EXPECT_EQ(api(id, "GET", "/api/plex/settings").json.at("data").at("values").at("server_name"), "Cabin");
    EXPECT_TRUE(pbtest::eventually([&] { return status(id).at("account").at("state") == "ok"; })) << status(id);
}

TEST_F(Profiles, AnEventRefreshesInTheProfileWhoseLibrariesHoldTheItem) {
    std::string id = cabin_profile();
    sim.clear_requests();
    // Interstate 60 is in the Living Room's library only.
    fire(R"({"type":"movie","imdb":"tt0165832","path":"/data/movies/Interstate 60 (2002)/Interstate 60.mkv"})");
    ASSERT_TRUE(pbtest::eventually([&] { return refreshes(0, "108") == 1; })) << "the default profile refreshes it";
    // Generated Film 1 is in the Cabin's only.
    fire(R"({"type":"movie","imdb":"tt2000001","path":"/data/generated-movies/Generated Film 1 (1991)/x.mkv"})");
    ASSERT_TRUE(pbtest::eventually([&] { return refreshes(cabin_index, "100001") == 1; }))
        << "the Cabin profile refreshes it";
    EXPECT_TRUE(pbtest::eventually(
        [&] { return status("").at("queue").at("depth") == 0 && status(id).at("queue").at("depth") == 0; }));
    // Neither calls the other's item an error, and nothing went to the wrong server.
    auto no_error = [&](const std::string& profile) {
        auto last = status(profile).at("last_error");
        return !last.is_object() || !last.as_object().contains("message");
    };
    EXPECT_TRUE(no_error("")) << status("");
    EXPECT_TRUE(no_error(id)) << status(id);
    for (const auto& r : sim.requests()) {
        if (r.method != "PUT") continue;
        if (r.listener == kCabin) EXPECT_EQ(r.path.find("/library/metadata/108"), std::string::npos);
        if (r.listener == kLivingRoom) EXPECT_EQ(r.path.find("/library/metadata/100001"), std::string::npos);
    }
}

TEST_F(Profiles, AWebhookGoesToTheProfileWhoseServerSentIt) {
    std::string id = cabin_profile();
    std::string base = "http://127.0.0.1:" + std::to_string(rig->host().port());
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_base_url":")" + base + R"("})").status, 200);
    ASSERT_EQ(rig->api("POST", "/api/plex/webhook/create").status, 200);
    ASSERT_EQ(sim.webhooks().size(), 1u);
    // The default profile does not want plays; the Cabin profile does.
    ASSERT_EQ(api("", "PATCH", "/api/plex/settings", R"({"webhook_events":["media.scrobble"]})").status, 200);
    auto payload = [](const std::string& server, const std::string& rk, const std::string& imdb) {
        return R"({"event":"media.play","Account":{"id":1,"title":"plexuser"},"Server":{"uuid":")" + server +
               R"("},"Metadata":{"ratingKey":")" + rk + R"(","type":"movie","title":"T","guid":"plex://movie/x",)" +
               R"("Guid":[{"id":"imdb://)" + imdb + R"("}],"librarySectionID":1}})";
    };
    pbtest::Caller caller;
    auto send = [&](const std::string& body) {
        return caller.call("POST", sim.webhooks()[0], body, {{"Content-Type", "application/json"}});
    };
    auto from_living_room = send(payload(kLivingRoom, "108", "tt0165832"));
    ASSERT_TRUE(from_living_room);
    EXPECT_EQ(from_living_room->status, 204) << "the Living Room's profile takes no plays";
    auto from_cabin = send(payload(kCabin, "100001", "tt2000001"));
    ASSERT_TRUE(from_cabin);
    EXPECT_EQ(from_cabin->status, 200) << from_cabin->body;
    auto searches = rig->host().searches();
    ASSERT_EQ(searches.size(), 1u);
    EXPECT_EQ(searches[0].imdb, "tt2000001");
    // A server no profile has.
    auto stranger = send(payload("somebody-elses-server", "5", "tt0165832"));
    EXPECT_EQ(stranger->status, 204);
    EXPECT_EQ(rig->host().searches().size(), 1u);
    // The default profile signed out: the Cabin's webhooks still go to the
    // Cabin, and the default takes nobody's.
    ASSERT_EQ(rig->api("POST", "/api/plex/oauth/logout").status, 200);
    auto again = send(payload(kCabin, "100002", "tt2000002"));
    EXPECT_EQ(again->status, 404) << again->body << " (not in the host's catalog, but asked for)";
    ASSERT_EQ(rig->host().searches().size(), 2u);
    EXPECT_EQ(rig->host().searches()[1].imdb, "tt2000002");
    auto living = send(payload(kLivingRoom, "108", "tt0165832"));
    EXPECT_EQ(living->status, 204) << "no profile works with the Living Room now";
    EXPECT_EQ(rig->host().searches().size(), 2u);
    (void)id;
}

TEST_F(Profiles, ARefusedTokenStopsOnlyItsProfileUntilItSignsInAgain) {
    // A second profile for Sam, a member of the Home with a PIN.
    std::string id = add("Sam");
    ASSERT_TRUE(sign_in(id));
    auto sw = api(id, "POST", "/api/plex/home/switch", R"({"uuid":")" + sam.uuid + R"(","pin":"1234"})");
    ASSERT_EQ(sw.status, 200) << sw.body;
    EXPECT_EQ(api(id, "GET", "/api/plex/settings").json.at("data").at("values").at("username"), "sam");
    EXPECT_EQ(api("", "GET", "/api/plex/settings").json.at("data").at("values").at("username"), "plexuser")
        << "the default profile is still the admin";

    sim.revoke_token(sam.token);
    EXPECT_EQ(api(id, "GET", "/api/plex/oauth/validate").json.at("data").at("valid"), false);
    EXPECT_TRUE(pbtest::eventually([&] { return status(id).at("account").at("state") == "rejected"; })) << status(id);
    EXPECT_EQ(status("").at("account").at("state"), "ok") << "the other profile keeps working";
    EXPECT_EQ(api("", "GET", "/api/plex/oauth/validate").json.at("data").at("valid"), true);
    EXPECT_EQ(status("").at("account").at("state"), "ok");

    // Signing in again, for that profile only.
    ASSERT_TRUE(sign_in(id));
    EXPECT_TRUE(pbtest::eventually([&] { return status(id).at("account").at("state") == "ok"; })) << status(id);
    EXPECT_EQ(api("", "GET", "/api/plex/settings").json.at("data").at("values").at("server_name"), "Living Room");
}

TEST_F(Profiles, RemovingAProfileSignsItOutDeletesItsFilesAndKeepsASharedWebhook) {
    std::string base = "http://127.0.0.1:" + std::to_string(rig->host().port());
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_base_url":")" + base + R"("})").status, 200);
    ASSERT_EQ(rig->api("POST", "/api/plex/webhook/create").status, 200);
    std::string id = cabin_profile();
    // The plugin's data folder holds one folder per other profile.
    std::filesystem::path folder;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_directory() && e.path().filename() == id) folder = e.path();
    ASSERT_FALSE(folder.empty());

    EXPECT_EQ(rig->api("DELETE", "/api/plex/profiles/default").status, 400);
    auto gone = rig->api("DELETE", "/api/plex/profiles/" + id);
    ASSERT_EQ(gone.status, 200) << gone.body;
    EXPECT_NE(gone.body.find("kept the webhook"), std::string::npos) << "the default profile uses the same account";
    EXPECT_EQ(sim.webhooks().size(), 1u);
    EXPECT_FALSE(std::filesystem::exists(folder));
    EXPECT_TRUE(profile_entry(id).empty());
    EXPECT_EQ(rig->api("GET", "/api/plex/profiles").json.at("data").at("profiles").as_array().size(), 1u);
    auto unknown = api(id, "GET", "/api/plex/status");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(code_of(unknown), "PLEX_PROFILE_UNKNOWN");
    EXPECT_EQ(api("", "GET", "/api/plex/oauth/validate").json.at("data").at("valid"), true)
        << "the default profile is untouched";
}

TEST_F(Profiles, LimitsNamesAndTheWholePluginsRoutes) {
    EXPECT_EQ(rig->api("POST", "/api/plex/profiles", R"({"name":"  "})").status, 400);
    EXPECT_EQ(rig->api("POST", "/api/plex/profiles", R"({"name":")" + std::string(65, 'x') + R"("})").status, 400);
    EXPECT_EQ(rig->api("POST", "/api/plex/profiles", R"({"name":"a\u0007b"})").status, 400);
    auto empty = rig->api("POST", "/api/plex/profiles", R"({"name":""})");
    EXPECT_EQ(empty.json.at("field"), "name") << "the page shows it next to the field";
    std::string accents;
    for (int i = 0; i < 64; ++i) accents += "\u00e9";  // 64 characters, 128 bytes
    auto long_name = rig->api("POST", "/api/plex/profiles", R"({"name":")" + accents + R"("})");
    ASSERT_EQ(long_name.status, 201) << "64 characters, whatever their bytes: " << long_name.body;
    EXPECT_EQ(
        rig->api("DELETE", "/api/plex/profiles/" + std::string(long_name.json.at("data").at("id").as_string())).status,
        200);
    // The profiles' own routes and the diagnostics are the whole plugin's.
    EXPECT_EQ(rig->api("GET", "/api/plex/profiles?profile=nobody12").status, 200);
    EXPECT_EQ(rig->api("GET", "/api/plex/diagnostics?profile=nobody12").status, 200);
    std::string id = add("<img src=x onerror=alert(1)>");
    EXPECT_EQ(profile_entry(id).at("name"), "<img src=x onerror=alert(1)>") << "stored as typed; the page shows text";
    auto renamed = rig->api("PATCH", "/api/plex/profiles/" + id, R"({"name":"Friends"})");
    EXPECT_EQ(renamed.status, 200) << renamed.body;
    EXPECT_EQ(profile_entry(id).at("name"), "Friends");
    // The legacy mode and the key are the whole plugin's.
    auto legacy = api(id, "POST", "/api/plex/apikey", R"({"apikey":"abc"})");
    EXPECT_EQ(legacy.status, 400) << legacy.body;
    EXPECT_EQ(api(id, "PATCH", "/api/plex/settings", R"({"auth_method":"apikey"})").status, 400);
    for (int i = 2; i < 8; ++i) add("P" + std::to_string(i));
    auto full = rig->api("POST", "/api/plex/profiles", R"({"name":"one too many"})");
    EXPECT_EQ(full.status, 409);
    EXPECT_EQ(code_of(full), "PLEX_PROFILE_LIMIT");
}

TEST_F(Profiles, ANewKeyReSealsEveryProfilesSecretsAndDiagnosticsHideThem) {
    std::string id = cabin_profile();
    std::string before = std::string(profile_entry(id).at("token").as_string());
    ASSERT_EQ(rig->api("POST", "/api/plex/rotate-key").status, 200);
    std::string after = std::string(profile_entry(id).at("token").as_string());
    EXPECT_NE(before, after) << "sealed again with the new key";
    EXPECT_EQ(api(id, "GET", "/api/plex/oauth/validate").json.at("data").at("valid"), true) << "and it still opens";
    EXPECT_EQ(api(id, "GET", "/api/plex/oauth/libraries").status, 200);

    auto diag = rig->api("GET", "/api/plex/diagnostics");
    ASSERT_EQ(diag.status, 200);
    for (const auto& p : diag.json.at("settings").at("profiles").as_array()) {
        if (p.at("id") == "default") continue;
        EXPECT_EQ(p.at("token"), "(set, not included)");
        EXPECT_EQ(p.at("user_id"), "(left out)");
    }
    EXPECT_EQ(diag.body.find(after), std::string::npos);
    EXPECT_TRUE(diag.json.at("profiles_status").as_object().contains(id));
}

// Settings written by a plugin that had no profiles: they become the
// default profile's, with the older file kept as a backup.
TEST(ProfilesMigration, OneSignInOfVersionOneBecomesTheDefaultProfile) {
    pb::sim::Simulator sim;
    sim.add_demo_world();
    sim.start();
    auto dir = pbtest::temp_dir("profiles-v1");
    std::string plugin_dir;
    {
        HostRig rig(sim, dir);
        ASSERT_TRUE(rig.start()) << rig.error;
        ASSERT_TRUE(rig.sign_in());
        rig.stop();
        // As version 1 stored it: no profiles, version 1.
        auto all = bj::parse(rig.settings_file()).as_object();
        auto& plex = all.at("plex").as_object();
        plex.erase("profiles");
        plex["settings_version"] = 1;
        ASSERT_TRUE(pb::common::fs::atomic_write(pb::common::fs::join(dir, "settings.json"), bj::serialize(all)));
    }
    HostRig rig(sim, dir);
    ASSERT_TRUE(rig.start()) << rig.error;
    auto plex = rig.settings_object();
    EXPECT_EQ(plex.at("settings_version"), 2);
    ASSERT_EQ(plex.at("profiles").as_array().size(), 1u);
    EXPECT_EQ(plex.at("profiles").at(0).at("id"), "default");
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/validate").json.at("data").at("valid"), true)
        << "still signed in, as the default profile";
    bool backup = false;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        backup = backup || e.path().filename() == "plexbridge-settings.v1.backup.json";
    EXPECT_TRUE(backup);
}

TEST_F(Profiles, ForgettingEverythingLetsGoOfEveryProfile) {
    std::string base = "http://127.0.0.1:" + std::to_string(rig->host().port());
    ASSERT_EQ(rig->api("PATCH", "/api/settings/plex", R"({"webhook_base_url":")" + base + R"("})").status, 200);
    ASSERT_EQ(rig->api("POST", "/api/plex/webhook/create").status, 200);
    std::string id = cabin_profile();  // the same account as the default profile
    auto forgot = rig->api("POST", "/api/plex/forget");
    ASSERT_EQ(forgot.status, 200) << forgot.body;
    EXPECT_TRUE(sim.webhooks().empty()) << "nobody is left to need it: " << forgot.body;
    EXPECT_NE(forgot.body.find("profile " + id + ": signed out"), std::string::npos) << forgot.body;
    EXPECT_EQ(rig->api("GET", "/api/plex/profiles").json.at("data").at("profiles").as_array().size(), 1u);
    EXPECT_EQ(rig->settings_object().at("profiles").as_array().size(), 1u);
    EXPECT_EQ(rig->settings_file().find("\"" + id + "\""), std::string::npos) << "nothing of it is stored";
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        EXPECT_NE(e.path().filename(), id) << e.path();
    EXPECT_EQ(api(id, "GET", "/api/plex/status").status, 404);
}

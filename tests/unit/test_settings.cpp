// The settings table and what is made from it: the typed struct, the
// validator, the stored-settings migrations (with their backup), and the
// session that runs them at load.
#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <filesystem>
#include <set>

#include "common/fs.hpp"
#include "common/text.hpp"
#include "log/log.hpp"
#include "refresh/paths.hpp"
#include "session/session.hpp"
#include "session_rig.hpp"
#include "settings/migrations.hpp"
#include "settings/settings.hpp"
#include "support/temp_dir.hpp"

namespace bj = boost::json;
using namespace pb;

namespace {

std::string temp_dir() { return pbtest::temp_dir("settings"); }

std::string message(const common::Status& st) { return st ? std::string() : st.error().message; }

}  // namespace

TEST(SettingsTable, EveryRowIsComplete) {
    std::set<std::string_view> names;
    for (const auto& s : settings::table()) {
        SCOPED_TRACE(std::string(s.name));
        EXPECT_TRUE(names.insert(s.name).second) << "declared twice";
        EXPECT_FALSE(s.label.empty()) << "a form needs a label";
        EXPECT_FALSE(s.help.empty()) << "a form needs help text";
        boost::system::error_code ec;
        auto def = bj::parse(s.default_json, ec);
        ASSERT_FALSE(ec) << "the default is not JSON: " << s.default_json;
        // The default passes the setting's own rules.
        auto st = settings::validate(bj::object{{s.name, def}});
        EXPECT_TRUE(st) << message(st);
        if (!s.shown_when.always()) {
            EXPECT_NE(settings::find(s.shown_when.setting), nullptr) << "shown_when names a setting";
        }
        if (s.secret) {
            EXPECT_NE(s.access, settings::Access::read_only) << "a secret is never shown";
        }
    }
}

TEST(SettingsTable, TheStructTakesTheTablesDefaults) {
    // One fact, one place: a missing key reads as the table's default.
    auto s = settings::parse({});
    EXPECT_EQ(s.auth_method, settings::AuthMethod::oauth);
    EXPECT_EQ(s.port, 32400);
    EXPECT_TRUE(s.verify_tls);
    EXPECT_EQ(s.webhook_events, (std::vector<std::string>{"media.play", "playback.started"}));
    EXPECT_EQ(s.webhook_max_body_bytes, 10 * 1024 * 1024);
    EXPECT_EQ(s.settings_version, 2);
    // Wrong types keep the default rather than half a value.
    auto odd = settings::parse(bj::parse(R"({"port": "80", "verify_tls": 0, "auth_method": "password"})").as_object());
    EXPECT_EQ(odd.port, 32400);
    EXPECT_TRUE(odd.verify_tls);
    EXPECT_EQ(odd.auth_method, settings::AuthMethod::oauth);
    auto legacy = settings::parse(bj::parse(R"({"auth_method": "apikey"})").as_object());
    EXPECT_TRUE(legacy.legacy());
    EXPECT_EQ(settings::to_string(legacy.auth_method), "apikey");
}

TEST(SettingsTable, ConnectionsReadEveryStoredShapeAndWriteOne) {
    auto s = settings::parse(bj::parse(R"({"server_connections": ["http://a:1",
        {"uri": "https://b:2", "local": true, "relay": false}, {"uri": ""}, 7]})")
                                 .as_object());
    ASSERT_EQ(s.server_connections.size(), 2u);
    EXPECT_EQ(s.server_connections[0].uri, "http://a:1");
    EXPECT_TRUE(s.server_connections[1].local);
    EXPECT_EQ(bj::serialize(settings::to_json(s.server_connections)),
              R"([{"uri":"http://a:1","local":false,"relay":false},{"uri":"https://b:2","local":true,"relay":false}])");
}

TEST(SettingsTable, ValidationNamesTheRuleBroken) {
    auto why = [](const char* js) { return message(settings::validate(bj::parse(js).as_object())); };
    EXPECT_EQ(why(R"({"port": 0})"), "port: must be an integer between 1 and 65535");
    EXPECT_EQ(why(R"({"auth_method": "password"})"), R"(auth_method: must be "oauth" or "apikey")");
    EXPECT_EQ(why(R"({"connect_timeout_ms": 50})"), "connect_timeout_ms: must be an integer between 100 and 120000");
    EXPECT_EQ(why(R"({"webhook_base_url": "nope"})"), "webhook_base_url: must be empty or an http(s) URL");
    EXPECT_EQ(why(R"({"server_connections": {}})"), "server_connections: must be a list");
    EXPECT_EQ(why(R"({"settings_version": 0})"), "settings_version: must be an integer of at least 1");
    EXPECT_EQ(why(R"({"no_such_thing": 1})"), "no_such_thing: unknown setting");
    EXPECT_EQ(why(R"({"ip": ""})"), "ip: must be a host name or an IP address");
}

TEST(SettingsTable, SignOutClearsTheAccountAndTheServerOnly) {
    std::set<std::string_view> cleared;
    for (const auto& s : settings::table())
        if (s.cleared_at_sign_out) cleared.insert(s.name);
    // The device key goes too: a key plex.tv bound to one account is not
    // handed to the next person who signs in.
    EXPECT_EQ(cleared,
              (std::set<std::string_view>{"token", "username", "email", "user_id", "token_expires_at", "device_key",
                                          "server_machine_id", "server_name", "server_url", "server_local",
                                          "server_connections", "server_token", "server_owned", "server_platform"}));
}

// ---------------------------------------------------------------- migrations

namespace {

// A table's worth of changes of the three kinds the table can make.
constexpr std::string_view kRetiredByRename[] = {"old_timeout_s"};
constexpr std::string_view kRetiredBySplit[] = {"server_address"};

common::Status rename_timeout(bj::object& s) {
    // Renamed and retyped: seconds as a string become milliseconds.
    if (const auto* v = s.if_contains("old_timeout_s")) {
        if (!v->is_string()) return common::Error(common::Errc::bad_request, "old_timeout_s is not a string");
        s["connect_timeout_ms"] = std::stoll(std::string(v->get_string())) * 1000;
    }
    return {};
}
common::Status split_address(bj::object& s) {
    if (const auto* v = s.if_contains("server_address"); v && v->is_string()) {
        std::string a(v->get_string());
        auto colon = a.rfind(':');
        s["ip"] = a.substr(0, colon);
        s["port"] = std::stoll(a.substr(colon + 1));
    }
    return {};
}

const settings::Migration kTestMigrations[] = {
    {.from_version = 1,
     .what = "old_timeout_s becomes connect_timeout_ms",
     .retires = kRetiredByRename,
     .apply = rename_timeout},
    {.from_version = 2,
     .what = "server_address splits into ip and port",
     .retires = kRetiredBySplit,
     .apply = split_address},
};

}  // namespace

TEST(Migrations, RenameSplitAndRetypeInOneUpgrade) {
    auto stored =
        bj::parse(R"({"old_timeout_s": "7", "server_address": "nas.local:32401", "use_plex": true})").as_object();
    auto up = settings::upgrade(stored, kTestMigrations);
    ASSERT_TRUE(up) << up.error().message;
    ASSERT_TRUE(*up);
    const auto& u = **up;
    EXPECT_EQ(u.from_version, 1);
    EXPECT_EQ(u.steps.size(), 2u);
    EXPECT_EQ(u.patch.at("connect_timeout_ms").as_int64(), 7000);
    EXPECT_EQ(u.patch.at("ip").as_string(), "nas.local");
    EXPECT_EQ(u.patch.at("port").as_int64(), 32401);
    EXPECT_TRUE(u.patch.at("old_timeout_s").is_null()) << "retired keys are written as null";
    EXPECT_TRUE(u.patch.at("server_address").is_null());
    EXPECT_EQ(u.patch.at("settings_version").as_int64(), 3);
    EXPECT_FALSE(u.patch.contains("use_plex")) << "the patch holds only what changed";
    // The patch is valid against the same table: retired keys are accepted.
    EXPECT_TRUE(settings::validate(u.patch, kTestMigrations)) << message(settings::validate(u.patch, kTestMigrations));
    auto same_version = u.patch;
    same_version.erase("settings_version");
    EXPECT_FALSE(settings::validate(same_version)) << "the project's own table does not retire these keys";
}

TEST(Migrations, StartAtTheStoredVersionAndStopWhenCurrent) {
    auto at2 = bj::parse(R"({"settings_version": 2, "server_address": "h:1"})").as_object();
    auto up = settings::upgrade(at2, kTestMigrations);
    ASSERT_TRUE(up && *up);
    EXPECT_EQ((*up)->steps, std::vector<std::string>{"server_address splits into ip and port"});
    auto current = settings::upgrade(bj::parse(R"({"settings_version": 3})").as_object(), kTestMigrations);
    ASSERT_TRUE(current);
    EXPECT_FALSE(*current) << "nothing to do";
    auto newer = settings::upgrade(bj::parse(R"({"settings_version": 9})").as_object(), kTestMigrations);
    ASSERT_TRUE(newer);
    EXPECT_FALSE(*newer) << "a downgraded plugin leaves a newer layout alone";
    // The project's table today: version 2 (profiles), nothing to migrate.
    auto today = settings::upgrade(settings::defaults());
    ASSERT_TRUE(today);
    EXPECT_FALSE(*today);
    EXPECT_EQ(settings::current_version(), 2);
}

TEST(Migrations, VersionOneBecomesTheDefaultProfile) {
    auto stored = bj::parse(R"({"token": "v1:abc", "username": "plexuser", "server_name": "Living Room"})").as_object();
    auto up = settings::upgrade(stored);
    ASSERT_TRUE(up);
    ASSERT_TRUE(*up);
    EXPECT_EQ((*up)->from_version, 1);
    EXPECT_EQ((*up)->patch.at("settings_version"), 2);
    EXPECT_EQ((*up)->patch.at("profiles"), bj::parse(R"([{"id":"default","name":""}])"));
    EXPECT_FALSE((*up)->patch.contains("token")) << "the default profile's values stay where they are";
    EXPECT_TRUE(settings::validate((*up)->patch));
}

TEST(Migrations, AStepThatCannotCarryAValueChangesNothing) {
    auto stored = bj::parse(R"({"old_timeout_s": 7})").as_object();
    auto up = settings::upgrade(stored, kTestMigrations);
    ASSERT_FALSE(up);
    EXPECT_NE(up.error().message.find("cannot upgrade the settings from version 1"), std::string::npos)
        << up.error().message;
}

TEST(Migrations, NewerSettingsKeepTheirUnknownKeys) {
    // Saved by a later plugin, then the user downgraded: its keys are not typos.
    EXPECT_TRUE(settings::validate(bj::parse(R"({"settings_version": 5, "collections": []})").as_object()));
    EXPECT_FALSE(settings::validate(bj::parse(R"({"settings_version": 2, "collections": []})").as_object()));
}

// ---------------------------------------------------------------- profiles

TEST(Profiles, AProfileNeverReadsTheDefaultProfilesAccount) {
    auto all = bj::parse(R"({"token": "v1:admin", "username": "admin", "server_machine_id": "living",
        "webhook_base_url": "http://10.0.0.5:6767", "auth_method": "apikey", "apikey": "v1:legacy",
        "update_movie_library": true,
        "profiles": [{"id": "default", "name": ""}, {"id": "cabin123", "name": "Cabin", "username": "friend"}]})")
                   .as_object();
    auto view = settings::profile_view(all, "cabin123");
    ASSERT_TRUE(view);
    auto s = settings::parse(*view);
    EXPECT_EQ(s.token, "") << "no fallback to another person's token";
    EXPECT_EQ(s.server_machine_id, "");
    EXPECT_FALSE(s.update_movie_library) << "its own switches, from the table's defaults";
    EXPECT_EQ(s.username, "friend");
    EXPECT_EQ(s.webhook_base_url, "http://10.0.0.5:6767") << "the whole plugin's settings are shared";
    EXPECT_FALSE(s.legacy()) << "another profile is a Plex sign-in, never the legacy mode";
    EXPECT_EQ(settings::parse(*settings::profile_view(all, "default")).token, "v1:admin");
    EXPECT_FALSE(settings::profile_view(all, "nobody12"));
}

TEST(Profiles, AProfilesWritesGoIntoItsEntry) {
    auto all = bj::parse(R"({"token": "v1:admin", "profiles": [{"id": "default", "name": ""},
        {"id": "cabin123", "name": "Cabin", "movie_library": ["1"]}]})")
                   .as_object();
    auto patch = settings::profile_patch(
        all, "cabin123",
        bj::parse(R"({"token": "v1:friend", "movie_library": null, "webhook_base_url": "http://h:1"})").as_object());
    ASSERT_TRUE(patch) << patch.error().message;
    EXPECT_FALSE(patch->contains("token")) << "not the top-level key: that is the default profile's";
    EXPECT_EQ(patch->at("webhook_base_url"), "http://h:1");
    const auto& entry = patch->at("profiles").at(1).as_object();
    EXPECT_EQ(entry.at("token"), "v1:friend");
    EXPECT_FALSE(entry.contains("movie_library")) << "null: back to the default";
    EXPECT_EQ(entry.at("name"), "Cabin");
    EXPECT_TRUE(settings::validate(*patch));
    EXPECT_FALSE(settings::profile_patch(all, "cabin123", bj::parse(R"({"auth_method": "apikey"})").as_object()));
    EXPECT_EQ(settings::profile_patch(all, "gone1234", {}).error().code, common::Errc::not_found);
}

TEST(Profiles, TheListsShapeIsChecked) {
    auto why = [](const char* list) {
        auto st = settings::validate(bj::parse(std::string(R"({"profiles": )") + list + "}").as_object());
        return st ? std::string() : st.error().message;
    };
    EXPECT_EQ(why(R"([{"id": "default", "name": ""}, {"id": "abcd1234", "name": "A", "token": "v1:x"}])"), "");
    EXPECT_NE(why("[]"), "");
    EXPECT_NE(why(R"([{"id": "abcd1234"}])"), "") << "the default first";
    EXPECT_NE(why(R"([{"id": "default"}, {"id": "abcd1234"}, {"id": "abcd1234"}])"), "") << "ids are unique";
    EXPECT_NE(why(R"([{"id": "default"}, {"id": "../../etc"}])"), "") << "an id names a folder: a-z, 0-9, -";
    EXPECT_NE(why(R"([{"id": "default"}, {"id": "abcd1234", "webhook_key": "k"}])"), "") << "only what a profile has";
    EXPECT_NE(why(R"([{"id": "default", "token": "v1:x"}])"), "") << "the default's values are the top-level keys";
    EXPECT_NE(why(R"([{"id": "default"}, {"id": "abcd1234", "port": 0}])"), "");
    EXPECT_NE(why(R"([{"id": "default"}, {"id": "abcd1234", "set_movie_added": "yes"}])"), "");
    std::string many = R"([{"id": "default"})";
    for (int i = 0; i < 8; ++i) many += R"(, {"id": "abcd000)" + std::to_string(i) + R"("})";
    EXPECT_NE(why((many + "]").c_str()), "") << "at most 8";
}

TEST(Profiles, TwoProfilesWritingAtOnceLoseNothing) {
    // A host that stores the patch and hands the whole object back to every store.
    bj::object stored = bj::parse(R"({"profiles": [{"id": "default", "name": ""}, {"id": "aaaa1111", "name": "A"},
        {"id": "bbbb2222", "name": "B"}]})")
                            .as_object();
    std::vector<settings::Store*> stores;
    std::mutex host_mu;
    settings::Store main([&](std::string_view patch) -> common::Status {
        std::lock_guard lock(host_mu);
        auto changes = bj::parse(patch);  // held: the loop reads into it
        for (const auto& [k, v] : changes.as_object()) stored[k] = v;
        for (auto* s : stores) (void)s->replace(stored);
        return {};
    });
    ASSERT_TRUE(main.replace(stored));
    settings::Store a(main, "aaaa1111"), b(main, "bbbb2222");
    stores = {&main, &a, &b};
    std::thread ta([&] {
        for (int i = 0; i < 200; ++i) ASSERT_TRUE(a.write(bj::object{{"server_name", "A" + std::to_string(i)}}));
    });
    std::thread tb([&] {
        for (int i = 0; i < 200; ++i) ASSERT_TRUE(b.write(bj::object{{"server_name", "B" + std::to_string(i)}}));
    });
    ta.join();
    tb.join();
    EXPECT_EQ(a.snapshot()->server_name, "A199");
    EXPECT_EQ(b.snapshot()->server_name, "B199");
    EXPECT_EQ(main.snapshot()->server_name, "") << "the default profile's is its own";
    EXPECT_EQ(settings::parse(*settings::profile_view(stored, "aaaa1111")).server_name, "A199");
}

// ---------------------------------------------------------------- the session runs them

namespace {}  // namespace

TEST(Migrations, TheSessionBacksUpThenUpgradesAtLoad) {
    boost::asio::io_context io;
    auto dir = temp_dir();
    MemoryHost host;
    host.stored = bj::parse(R"({"old_timeout_s": "9", "server_address": "10.0.0.2:32400", "client_identifier": "c"})")
                      .as_object();
    const std::string before = bj::serialize(host.stored);
    auto session = open_session(host, io, dir, kTestMigrations);
    session->load(before);
    auto s = session->settings().snapshot();
    EXPECT_EQ(s->connect_timeout_ms, 9000);
    EXPECT_EQ(s->ip, "10.0.0.2");
    EXPECT_EQ(s->settings_version, 3);
    EXPECT_TRUE(host.stored.at("server_address").is_null());
    auto backup = common::fs::read_file(common::fs::join(dir, "plexbridge-settings.v1.backup.json"));
    ASSERT_TRUE(backup) << "the backup is written before the upgrade";
    EXPECT_EQ(*backup, before) << "byte for byte what was stored";
}

TEST(Migrations, AFailedUpgradeLeavesTheSettingsAsTheyWere) {
    boost::asio::io_context io;
    auto dir = temp_dir();
    MemoryHost host;
    host.stored = bj::parse(R"({"old_timeout_s": "9", "client_identifier": "c"})").as_object();
    host.fail_writes = true;  // the disk is full
    const std::string before = bj::serialize(host.stored);
    auto session = open_session(host, io, dir, kTestMigrations);
    session->load(before);
    EXPECT_EQ(bj::serialize(host.stored), before);
    EXPECT_EQ(session->settings().snapshot()->connect_timeout_ms, 3000) << "still the old layout, read as it was";
    EXPECT_TRUE(common::fs::read_file(common::fs::join(dir, "plexbridge-settings.v1.backup.json")))
        << "the backup stays for the user";
}

// ---------------------------------------------------------------- paths

TEST(Paths, DockerAndWindowsMappings) {
    using refresh::PathStyle;
    settings::PathMappings m{{"/movies", "/data/movies"}, {"/movies/4k", "/data/uhd"}, {"/mnt/media", "D:\\Media"}};
    EXPECT_EQ(refresh::to_plex("/movies/Film (2020)/film.mkv", m, PathStyle::posix),
              "/data/movies/Film (2020)/film.mkv");
    EXPECT_EQ(refresh::to_plex("/movies/4k/Film/film.mkv", m, PathStyle::posix), "/data/uhd/Film/film.mkv")
        << "the longest prefix wins";
    EXPECT_EQ(refresh::to_plex("/movies-old/film.mkv", m, PathStyle::posix), "/movies-old/film.mkv")
        << "a prefix matches whole folders only";
    EXPECT_EQ(refresh::to_plex("/mnt/media/TV/Show/S01E01.mkv", m, PathStyle::windows),
              "D:\\Media\\TV\\Show\\S01E01.mkv");
    EXPECT_EQ(refresh::compare_key("D:\\Media\\TV\\Show", PathStyle::windows),
              refresh::compare_key("d:/media/tv/show/", PathStyle::windows))
        << "Windows compares without case, either separator";
    EXPECT_NE(refresh::compare_key("/data/Movies", PathStyle::posix),
              refresh::compare_key("/data/movies", PathStyle::posix));
    EXPECT_EQ(refresh::folder_of("D:\\Media\\TV\\Show\\S01E01.mkv", PathStyle::windows), "D:\\Media\\TV\\Show");
    EXPECT_EQ(refresh::style_of("", {"D:\\Media"}), PathStyle::windows) << "a drive letter says Windows";
    EXPECT_EQ(refresh::style_of("Linux", {"/data"}), PathStyle::posix);
    auto st = settings::validate(bj::parse(R"({"path_mappings": [{"host": "/movies"}]})").as_object());
    ASSERT_FALSE(st);
    EXPECT_EQ(st.error().message.rfind("path_mappings:", 0), 0u) << st.error().message;
}

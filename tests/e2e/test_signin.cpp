// Sign in with Plex through the reference host, against the simulator:
// the whole PIN flow as a user performs it, validation, logout, the legacy
// routes, and every branch of the legacy migration.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.hpp"
#include "vault/vault.hpp"

namespace bj = boost::json;
using pbtest::HostRig;

namespace {

std::string data_str(const pbtest::ApiAnswer& a, const char* key) {
    const auto* d = a.json.is_object() ? a.json.as_object().if_contains("data") : nullptr;
    if (!d || !d->is_object() || !d->as_object().contains(key)) return "<missing>";
    const auto& v = d->as_object().at(key);
    return v.is_string() ? std::string(v.as_string()) : bj::serialize(v);
}

std::string code_of(const pbtest::ApiAnswer& a) {
    return a.json.is_object() && a.json.as_object().contains("code")
               ? std::string(a.json.as_object().at("code").as_string())
               : "<none>";
}

class SignIn : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        sim.start();
        ASSERT_TRUE(rig.start()) << rig.error;
    }
    pb::sim::Simulator sim;
    HostRig rig{sim};
};

}  // namespace

TEST_F(SignIn, WholeFlowAsAUserDoesIt) {
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    ASSERT_EQ(pin.status, 200) << pin.body;
    std::string pin_id = data_str(pin, "pinId"), code = data_str(pin, "code"), state = data_str(pin, "state");
    std::string url = data_str(pin, "authUrl");
    std::string client_id = data_str(pin, "clientId");
    EXPECT_EQ(url.rfind("https://app.plex.tv/auth#?clientID=" + client_id + "&code=" + code, 0), 0u) << url;
    EXPECT_NE(url.find("context%5Bdevice%5D%5Bproduct%5D=plexbridge"), std::string::npos) << url;
    // The PIN was created as a strong PIN, with our client identifier.
    auto created = sim.requests_matching("POST", "/api/v2/pins");
    ASSERT_EQ(created.size(), 1u);
    EXPECT_EQ(created[0].query, "strong=true");
    EXPECT_EQ(created[0].client_identifier, client_id);
    EXPECT_NE(created[0].accept.find("json"), std::string::npos);

    auto waiting = rig.api("GET", "/api/plex/oauth/pin/" + pin_id + "/check?state=" + state);
    EXPECT_EQ(waiting.status, 200);
    EXPECT_EQ(data_str(waiting, "authenticated"), "false");

    sim.link_pin(code);
    auto done = rig.api("GET", "/api/plex/oauth/pin/" + pin_id + "/check?state=" + state);
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(data_str(done, "authenticated"), "true");
    EXPECT_EQ(data_str(done, "username"), "plexuser");
    EXPECT_EQ(data_str(done, "email"), "plexuser@example.com");

    // The token is stored encrypted, never in plain text, and masked when shown.
    std::string file = rig.settings_file();
    EXPECT_EQ(file.find(sim.account().token), std::string::npos) << "plaintext token in settings.json";
    auto stored = rig.settings_object();
    EXPECT_EQ(std::string(stored.at("token").as_string()).rfind("v1:", 0), 0u);
    auto shown = rig.api("GET", "/api/settings/plex");
    EXPECT_EQ(data_str(shown, "token"), "********");

    auto valid = rig.api("GET", "/api/plex/oauth/validate");
    ASSERT_EQ(valid.status, 200) << valid.body;
    EXPECT_EQ(data_str(valid, "valid"), "true");
    EXPECT_EQ(data_str(valid, "auth_method"), "oauth");

    // The PIN is used up.
    auto again = rig.api("GET", "/api/plex/oauth/pin/" + pin_id + "/check?state=" + state);
    EXPECT_EQ(again.status, 404);

    auto out = rig.api("POST", "/api/plex/oauth/logout");
    ASSERT_EQ(out.status, 200);
    EXPECT_EQ(data_str(out, "success"), "true");
    auto after = rig.settings_object();
    EXPECT_EQ(after.at("token").as_string(), "");
    EXPECT_EQ(after.at("username").as_string(), "");
    EXPECT_EQ(after.at("server_machine_id").as_string(), "");
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "false");
    // No line of the host's log ever held the token.
    for (const auto& line : rig.host().log_lines())
        EXPECT_EQ(line.find(sim.account().token), std::string::npos) << line;
}

TEST_F(SignIn, StateIsRequiredAndEnforced) {
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    std::string base = "/api/plex/oauth/pin/" + data_str(pin, "pinId") + "/check";
    auto missing = rig.api("GET", base);
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(code_of(missing), "PLEX_STATE_MISSING");
    auto wrong = rig.api("GET", base + "?state=0000");
    EXPECT_EQ(wrong.status, 403);
    EXPECT_EQ(code_of(wrong), "PLEX_STATE_MISMATCH");
    sim.link_pin(data_str(pin, "code"));
    EXPECT_EQ(rig.api("GET", base + "?state=0000").status, 403) << "a linked PIN still needs the state";
    EXPECT_EQ(rig.settings_object().at("token").as_string(), "") << "a forged check must not sign in";
}

TEST_F(SignIn, UnknownAndExpiredPins) {
    auto unknown = rig.api("GET", "/api/plex/oauth/pin/424242/check?state=x");
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(code_of(unknown), "PLEX_PIN_NOT_FOUND");
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/pin/abc/check?state=x").status, 400);
    sim.set_pin_expires_in(1);
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    ASSERT_EQ(pin.status, 200);
    EXPECT_EQ(data_str(pin, "expiresIn"), "1") << "expiresIn is read, not assumed";
    std::this_thread::sleep_for(std::chrono::milliseconds(1300));
    auto expired =
        rig.api("GET", "/api/plex/oauth/pin/" + data_str(pin, "pinId") + "/check?state=" + data_str(pin, "state"));
    EXPECT_EQ(expired.status, 410) << expired.body;
    EXPECT_EQ(code_of(expired), "PLEX_PIN_EXPIRED");
}

TEST_F(SignIn, PlexTvDownIsNotAnInvalidToken) {
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    sim.link_pin(data_str(pin, "code"));
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/pin/" + data_str(pin, "pinId") + "/check?state=" + data_str(pin, "state"))
                  .status,
              200);
    sim.set_plextv_down(true);
    auto v = rig.api("GET", "/api/plex/oauth/validate");
    EXPECT_EQ(v.status, 502) << v.body;  // plex.tv answered 503: it answered badly
    EXPECT_EQ(code_of(v), "PLEX_TV_BAD_ANSWER");
    EXPECT_NE(rig.settings_object().at("token").as_string(), "") << "the token is kept";
    sim.set_plextv_down(false);
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true");
    auto down = rig.api("POST", "/api/plex/oauth/pin");
    EXPECT_EQ(down.status, 200);
}

TEST_F(SignIn, RevokedTokenBothWays) {
    // plex.tv answers a revoked token with 401 on some endpoints and 422
    // "Invalid token" on others: both mean "sign in again".
    for (int status : {401, 422}) {
        SCOPED_TRACE(status);
        sim.rotate_account_token();
        auto pin = rig.api("POST", "/api/plex/oauth/pin");
        sim.link_pin(data_str(pin, "code"));
        ASSERT_EQ(
            rig.api("GET", "/api/plex/oauth/pin/" + data_str(pin, "pinId") + "/check?state=" + data_str(pin, "state"))
                .status,
            200);
        EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true");
        sim.revoke_token(sim.account_token(), status);
        auto v = rig.api("GET", "/api/plex/oauth/validate");
        ASSERT_EQ(v.status, 200) << v.body;
        EXPECT_EQ(data_str(v, "valid"), "false");
        EXPECT_NE(data_str(v, "message").find("sign in again"), std::string::npos);
    }
}

TEST_F(SignIn, PlexTvUnreachable) {
    rig.stop();
    HostRig dead(sim);
    ASSERT_TRUE(dead.start(
        {{"plextv_url", "\"http://127.0.0.1:" + std::to_string(pb::httpserver::reserve_refusing_port()) + "\""}}));
    auto pin = dead.api("POST", "/api/plex/oauth/pin");
    EXPECT_EQ(pin.status, 503);
    EXPECT_EQ(code_of(pin), "PLEX_TV_UNREACHABLE");
    EXPECT_NE(pin.body.find("refused"), std::string::npos) << pin.body;
}

TEST_F(SignIn, LegacyTokenRoutes) {
    auto bad = rig.api("POST", "/api/plex/apikey", R"({"apikey": "has space"})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(rig.api("POST", "/api/plex/apikey", "not json").status, 400);
    auto ok = rig.api("POST", "/api/plex/apikey", R"({"apikey": "legacy-token-xyz"})");
    ASSERT_EQ(ok.status, 200);
    EXPECT_EQ(rig.settings_file().find("legacy-token-xyz"), std::string::npos);
    auto enc = rig.api("POST", "/api/plex/encrypt-apikey");
    EXPECT_EQ(data_str(enc, "already_encrypted"), "true");
}

// A host's own form stores what it is given; the plugin seals a legacy
// token that arrives in plain text right away, not at the next start.
TEST_F(SignIn, ATokenTypedIntoTheHostsFormIsEncryptedAtOnce) {
    auto r = rig.api("PATCH", "/api/settings/plex", R"({"apikey": "typed-by-hand-123"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(pbtest::eventually([&] { return rig.settings_file().find("typed-by-hand-123") == std::string::npos; }))
        << rig.settings_file();
    EXPECT_EQ(data_str(rig.api("POST", "/api/plex/encrypt-apikey"), "already_encrypted"), "true");
}

TEST_F(SignIn, ADamagedKeyAsksTheUserToSignInAgain) {
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    sim.link_pin(data_str(pin, "code"));
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/pin/" + data_str(pin, "pinId") + "/check?state=" + data_str(pin, "state"))
                  .status,
              200);
    rig.stop();
    // Someone replaced the key file (a restored backup of another install).
    ASSERT_TRUE(pb::common::fs::atomic_write(pb::common::fs::join(rig.data_dir(), "plexbridge.key"),
                                             std::string(32, 'k'), 0600));
    ASSERT_TRUE(rig.start({}, false)) << rig.error;
    auto v = rig.api("GET", "/api/plex/oauth/validate");
    ASSERT_EQ(v.status, 200) << v.body;
    EXPECT_EQ(data_str(v, "valid"), "false");
    EXPECT_NE(data_str(v, "message").find("sign in again"), std::string::npos) << v.body;
    // Signing in again works and replaces the unreadable token.
    auto pin2 = rig.api("POST", "/api/plex/oauth/pin");
    sim.link_pin(data_str(pin2, "code"));
    ASSERT_EQ(
        rig.api("GET", "/api/plex/oauth/pin/" + data_str(pin2, "pinId") + "/check?state=" + data_str(pin2, "state"))
            .status,
        200);
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true");
}

// The key file lost (a backup that skipped it, a wiped volume): the token
// sealed with it is reported unreadable, in words naming the file, kept as
// it is, and readable again once the file is back. No new sign-in is made
// behind the user's back.
TEST_F(SignIn, AMissingKeyFileLeavesTheTokenUnreadableAndKept) {
    ASSERT_TRUE(rig.sign_in());
    const auto key_path = pb::common::fs::join(rig.data_dir(), "plexbridge.key");
    const std::string key = *pb::common::fs::read_file(key_path);
    const std::string sealed(rig.settings_object().at("token").as_string());
    rig.stop();
    ASSERT_EQ(std::remove(key_path.c_str()), 0);
    ASSERT_TRUE(rig.start({}, false)) << rig.error;
    auto st = rig.api("GET", "/api/plex/status");
    ASSERT_EQ(st.status, 200) << st.body;
    auto account = boost::json::parse(st.body).at("data").at("account");
    EXPECT_EQ(account.at("state").as_string(), "unreadable") << st.body;
    EXPECT_NE(std::string(account.at("message").as_string()).find("plexbridge.key"), std::string::npos) << st.body;
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "false");
    EXPECT_EQ(std::string(rig.settings_object().at("token").as_string()), sealed) << "kept, not replaced";
    rig.stop();
    ASSERT_TRUE(pb::common::fs::atomic_write(key_path, key, 0600));
    ASSERT_TRUE(rig.start({}, false)) << rig.error;
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true")
        << "the file back, the token reads";
}

TEST_F(SignIn, ChangingTheKeyKeepsTheTokenReadable) {
    ASSERT_TRUE(rig.sign_in());
    auto key_path = pb::common::fs::join(rig.data_dir(), "plexbridge.key");
    auto key_before = *pb::common::fs::read_file(key_path);
    auto sealed_before = std::string(rig.settings_object().at("token").as_string());
    auto r = rig.api("POST", "/api/plex/rotate-key");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(*pb::common::fs::read_file(key_path), key_before) << "a new key";
    EXPECT_FALSE(std::filesystem::exists(key_path + ".next")) << "the rotation finished";
    EXPECT_NE(std::string(rig.settings_object().at("token").as_string()), sealed_before) << "re-sealed";
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true");
    rig.stop();
    ASSERT_TRUE(rig.start({}, false)) << rig.error;
    EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true") << "and after a restart";
}

TEST_F(SignIn, AKeyChangeCutShortIsFinishedAtTheNextStart) {
    ASSERT_TRUE(rig.sign_in());
    rig.stop();
    auto key_path = pb::common::fs::join(rig.data_dir(), "plexbridge.key");
    auto settings_path = pb::common::fs::join(rig.data_dir(), "settings.json");
    // The process died after writing the new key (first pass), then after
    // also storing the re-sealed token (second pass), before the rename.
    for (bool resealed : {false, true}) {
        SCOPED_TRACE(resealed ? "died after re-sealing" : "died after writing the new key");
        {
            auto v = std::move(pb::vault::Vault::open(rig.data_dir())).value();
            ASSERT_TRUE(v->begin_rotation());
            if (resealed) {
                auto file = bj::parse(*pb::common::fs::read_file(settings_path)).as_object();
                auto& plex = file.at("plex").as_object();
                plex["token"] = std::move(v->reseal(plex.at("token").as_string())).value();
                ASSERT_TRUE(pb::common::fs::atomic_write(settings_path, bj::serialize(file), 0600));
            }
        }
        ASSERT_TRUE(std::filesystem::exists(key_path + ".next"));
        ASSERT_TRUE(rig.start({}, false)) << rig.error;
        EXPECT_TRUE(pbtest::eventually([&] { return !std::filesystem::exists(key_path + ".next"); }))
            << "the start finishes the rotation";
        EXPECT_EQ(data_str(rig.api("GET", "/api/plex/oauth/validate"), "valid"), "true");
        rig.stop();
    }
}

TEST_F(SignIn, EveryRouteNeedsTheApiKey) {
    for (auto [m, p] : std::vector<std::pair<std::string, std::string>>{{"POST", "/api/plex/oauth/pin"},
                                                                        {"GET", "/api/plex/oauth/pin/1/check?state=x"},
                                                                        {"GET", "/api/plex/oauth/validate"},
                                                                        {"POST", "/api/plex/oauth/logout"},
                                                                        {"POST", "/api/plex/apikey"},
                                                                        {"POST", "/api/plex/encrypt-apikey"},
                                                                        {"GET", "/api/settings/plex"}}) {
        EXPECT_EQ(rig.api(m, p, "", false).status, 401) << m << " " << p;
    }
}

TEST_F(SignIn, EveryManifestRouteNeedsTheApiKeyUnlessItSaysNone) {
    auto manifest = bj::parse(*pb::common::fs::read_file(PB_MANIFEST_PATH)).as_object();
    pbtest::Caller caller;
    const std::string base = "http://127.0.0.1:" + std::to_string(rig.host().port());
    int checked = 0;
    for (const auto& r : manifest.at("routes").as_array()) {
        std::string method(r.at("method").as_string()), path(r.at("path").as_string());
        if (r.at("auth").as_string() == "plugin") continue;  // the webhook route checks its own key
        for (auto pos = path.find('{'); pos != std::string::npos; pos = path.find('{'))
            path.replace(pos, path.find('}', pos) - pos + 1, "1");
        EXPECT_EQ(rig.api(method, path, "", false).status, 401) << method << " " << path;
        // The right key in the address is not read (logs and history keep addresses).
        auto in_query = caller.call(
            method, base + path + (path.find('?') == std::string::npos ? "?" : "&") + "apikey=" + rig.apikey);
        EXPECT_EQ(in_query->status, 401) << method << " " << path;
        // A wrong key of the right length: 401 until this address has
        // guessed ten times, then 429 (both refuse; see GuessingTheKeyIsSlowedDown).
        auto wrong = caller.call(method, base + path, "", {{"X-API-KEY", std::string(rig.apikey.size(), 'x')}});
        EXPECT_EQ(wrong->status, checked < 10 ? 401 : 429) << method << " " << path;
        EXPECT_EQ(wrong->body.find("\"data\""), std::string::npos) << wrong->body;
        ++checked;
    }
    EXPECT_GT(checked, 10);
}

// ------------------------------------------------------------ migration

namespace {

struct MigrationCase {
    std::string name;
    std::function<void(pb::sim::Simulator&, uint16_t& port)> arrange;
    std::string expected_result;
};

class Migration : public ::testing::Test {
protected:
    void SetUp() override {
        pb::sim::SimServer s;
        s.name = "Legacy Box";
        s.machine_id = "legacy-machine-0001";
        pb::sim::add_sample_library(s);
        server = sim.add_server(std::move(s));
        port = sim.add_connection(server, pb::sim::ConnectionSpec{});
        sim.start();
    }

    std::string record(const std::string& dir) {
        auto r = pb::common::fs::read_file(pb::common::fs::join(dir, "plexbridge-migration.json"));
        return r ? *r : std::string();
    }

    // First load with plex.tv down: nothing changes, the attempt is recorded
    // as transient. Returns the settings bytes to compare against.
    std::string first_load(const std::string& dir, uint16_t legacy_port) {
        sim.set_plextv_down(true);
        HostRig rig(sim, dir);
        EXPECT_TRUE(rig.start({{"auth_method", "\"apikey\""},
                               {"apikey", "\"" + sim.account().token + "\""},
                               {"ip", "\"127.0.0.1\""},
                               {"port", std::to_string(legacy_port)}}))
            << rig.error;
        EXPECT_TRUE(pbtest::eventually([&] { return record(dir).find("plex.tv") != std::string::npos; }))
            << record(dir);
        rig.stop();
        sim.set_plextv_down(false);
        return *pb::common::fs::read_file(pb::common::fs::join(dir, "settings.json"));
    }

    pb::sim::Simulator sim;
    std::size_t server = 0;
    uint16_t port = 0;
};

}  // namespace

TEST_F(Migration, PlexTvDownChangesNothingAndIsRetriedNextLoad) {
    auto dir = pbtest::temp_dir("mig");
    std::string before = first_load(dir, port);
    EXPECT_NE(record(dir).find("\"permanent\":false"), std::string::npos) << record(dir);
    EXPECT_EQ(before.find(sim.account().token), std::string::npos) << "the legacy token was encrypted at load";
    EXPECT_NE(before.find("\"auth_method\":\"apikey\""), std::string::npos);
    // Next load (plex.tv back): it is tried again, and succeeds.
    HostRig rig(sim, dir);
    ASSERT_TRUE(rig.start({}, false));
    ASSERT_TRUE(pbtest::eventually([&] { return record(dir).find("\"migrated\"") != std::string::npos; }))
        << record(dir);
    auto s = rig.settings_object();
    EXPECT_EQ(s.at("auth_method").as_string(), "oauth");
    EXPECT_EQ(s.at("server_machine_id").as_string(), "legacy-machine-0001");
    EXPECT_EQ(s.at("server_name").as_string(), "Legacy Box");
    EXPECT_EQ(s.at("server_url").as_string(), "http://127.0.0.1:" + std::to_string(port));
    EXPECT_FALSE(s.at("server_connections").as_array().empty());
    EXPECT_EQ(std::string(s.at("token").as_string()).rfind("v1:", 0), 0u);
    EXPECT_EQ(rig.settings_file().find(sim.account().token), std::string::npos);
    EXPECT_TRUE(pb::common::fs::read_file(pb::common::fs::join(dir, "plexbridge-settings.backup.json")).ok());
    auto v = rig.api("GET", "/api/plex/oauth/validate");
    EXPECT_EQ(data_str(v, "valid"), "true") << v.body;
}

TEST_F(Migration, FailuresRollBackExactlyAndAreNotRetried) {
    struct Branch {
        const char* name;
        std::function<uint16_t()> legacy_port;   // what ip:port the legacy settings name
        std::function<void()> after_first_load;  // breaks things before the real attempt
        const char* result;
    };
    std::vector<Branch> branches = {
        {"server not found", [&] { return pb::httpserver::reserve_refusing_port(); }, [] {}, "\"failed\""},
        {"validation fails after the switch",
         [&] { return sim.add_connection(server, pb::sim::ConnectionSpec{pb::sim::Behaviour::wrong_identity}); }, [] {},
         "\"rolled_back\""},
        {"token revoked", [&] { return port; }, [&] { sim.revoke_token(sim.account_token(), 401); }, "\"failed\""},
    };
    for (auto& b : branches) {
        SCOPED_TRACE(b.name);
        auto dir = pbtest::temp_dir("mig");
        std::string before = first_load(dir, b.legacy_port());
        b.after_first_load();
        std::string rec0 = record(dir);
        {
            HostRig rig(sim, dir);
            ASSERT_TRUE(rig.start({}, false));
            ASSERT_TRUE(pbtest::eventually([&] { return record(dir) != rec0; })) << record(dir);
            EXPECT_NE(record(dir).find(b.result), std::string::npos) << record(dir);
            EXPECT_NE(record(dir).find("\"permanent\":true"), std::string::npos) << record(dir);
            rig.stop();
        }
        EXPECT_EQ(*pb::common::fs::read_file(pb::common::fs::join(dir, "settings.json")), before)
            << "settings must be restored byte for byte";
        // Not retried in a loop: the next load leaves plex.tv alone.
        sim.clear_requests();
        HostRig again(sim, dir);
        ASSERT_TRUE(again.start({}, false));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        EXPECT_TRUE(sim.requests_matching("GET", "/api/v2/user").empty());
        again.stop();
        EXPECT_EQ(*pb::common::fs::read_file(pb::common::fs::join(dir, "settings.json")), before);
    }
}

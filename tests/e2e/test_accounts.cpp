// Plex accounts as people have them, through the reference host against
// the simulator: the people of a Plex Home, switching to one (with and
// without a PIN), and what each switch does to the selected server.
#include <gtest/gtest.h>

#include <regex>

#include "harness.hpp"

namespace bj = boost::json;
using pbtest::HostRig;

namespace {

constexpr const char* kLivingRoom = "5d3e8f0a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";  // add_demo_world's server

std::string code_of(const pbtest::ApiAnswer& a) {
    return a.json.is_object() && a.json.as_object().contains("code")
               ? std::string(a.json.as_object().at("code").as_string())
               : "<none>";
}
// A refusal's sentence.
std::string message_of(const pbtest::ApiAnswer& a) {
    return a.json.is_object() && a.json.as_object().contains("error")
               ? std::string(a.json.as_object().at("error").as_string())
               : "<none>";
}

// The admin (the simulator's account, PIN 9999), a managed child who may see
// only the Movies section, and a grown-up with a plex.tv account and a PIN.
class PlexHome : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        sim.set_account_pin("9999");
        pb::sim::SimHomeUser kid;
        kid.title = "Kids";
        kid.restricted = true;
        kid.restriction_profile = "little_kid";
        kid.sections = {"1"};
        kids = sim.add_home_user(kid);
        pb::sim::SimHomeUser adult;
        adult.title = "Sam";
        adult.username = "sam";
        adult.email = "sam@example.com";
        adult.pin = "1234";
        sam = sim.add_home_user(adult);
        sim.start();
        // At debug level every call to plex.tv is logged: the PIN must
        // still not be.
        ASSERT_TRUE(rig.start({{"log_level", R"("debug")"}})) << rig.error;
        ASSERT_TRUE(rig.sign_in());
        auto sel =
            rig.api("POST", "/api/plex/select-server",
                    std::string(R"({"machineIdentifier":")") + kLivingRoom + R"(","uri":")" + local_uri() + R"("})");
        ASSERT_EQ(sel.status, 200) << sel.body;
    }
    std::string local_uri() {
        auto listing = rig.api("GET", "/api/plex/oauth/servers");
        for (const auto& c : listing.json.at("data").as_array().at(0).at("connections").as_array())
            if (c.at("local").as_bool() && c.at("protocol").as_string() == "http")
                return std::string(c.at("uri").as_string());
        return "";
    }
    pbtest::ApiAnswer switch_to(const std::string& uuid, const std::string& pin = "") {
        bj::object body{{"uuid", uuid}};
        if (!pin.empty()) body["pin"] = pin;
        return rig.api("POST", "/api/plex/home/switch", bj::serialize(body));
    }
    // Whether `digits` appear in the log as a number of their own (not
    // inside a port number).
    bool logged(const std::string& digits) {
        std::regex alone("(^|[^0-9])" + digits + "([^0-9]|$)");
        for (const auto& line : rig.host().log_lines())
            if (std::regex_search(line, alone) || line.find("pin=") != std::string::npos) return true;
        return false;
    }
    pb::sim::Simulator sim;
    HostRig rig{sim};
    pb::sim::SimHomeUser kids, sam;
};

}  // namespace

TEST_F(PlexHome, ListsEveryoneWithWhatThePageNeedsAndNoToken) {
    auto r = rig.api("GET", "/api/plex/home/users");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto& users = r.json.at("data").at("users").as_array();
    ASSERT_EQ(users.size(), 3u) << r.body;
    const auto& admin = users[0].as_object();
    EXPECT_EQ(admin.at("title").as_string(), "plexuser");
    EXPECT_TRUE(admin.at("admin").as_bool());
    EXPECT_TRUE(admin.at("current").as_bool()) << "the signed-in person is marked";
    EXPECT_TRUE(admin.at("protected").as_bool());
    const auto& k = users[1].as_object();
    EXPECT_EQ(k.at("title").as_string(), "Kids");
    EXPECT_TRUE(k.at("managed").as_bool());
    EXPECT_TRUE(k.at("restricted").as_bool());
    EXPECT_EQ(k.at("restrictionProfile").as_string(), "little_kid");
    EXPECT_FALSE(k.at("protected").as_bool());
    EXPECT_FALSE(k.at("current").as_bool());
    EXPECT_TRUE(users[2].at("protected").as_bool());
    EXPECT_FALSE(users[2].at("managed").as_bool());
    EXPECT_EQ(r.body.find(kids.token), std::string::npos);
    EXPECT_EQ(r.body.find(sim.account_token()), std::string::npos);
}

TEST_F(PlexHome, AManagedUserKeepsTheServerWithItsOwnAccessAndSeesOnlyItsLibraries) {
    auto r = switch_to(kids.uuid);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(r.json.at("data").at("serverKept").as_bool()) << r.body;
    EXPECT_NE(std::string(r.json.at("data").at("message").as_string()).find("Living Room stays selected"),
              std::string::npos)
        << r.body;
    auto s = rig.settings_object();
    EXPECT_EQ(s.at("username").as_string(), "Kids") << "a managed user goes by its title";
    EXPECT_EQ(s.at("server_machine_id").as_string(), kLivingRoom);
    EXPECT_FALSE(s.at("server_owned").as_bool()) << "the admin's server, shared with the member";
    EXPECT_EQ(rig.settings_file().find(kids.token), std::string::npos) << "tokens are stored sealed";

    sim.clear_requests();
    auto libs = rig.api("GET", "/api/plex/oauth/libraries");
    ASSERT_EQ(libs.status, 200) << libs.body;
    const auto& l = libs.json.at("data").as_array();
    ASSERT_EQ(l.size(), 1u) << "only the section Kids may see: " << libs.body;
    EXPECT_EQ(l[0].at("title").as_string(), "Movies");
    // The server is reached with the member's own token, never the admin's.
    auto sections = sim.requests_matching("GET", "/library/sections");
    ASSERT_FALSE(sections.empty());
    for (const auto& q : sections) {
        EXPECT_EQ(q.token, kids.server_token);
        EXPECT_NE(q.token, sim.account_token());
    }
    // The list now marks Kids as the one signed in.
    auto who = rig.api("GET", "/api/plex/home/users");
    ASSERT_EQ(who.status, 200) << who.body;
    EXPECT_TRUE(who.json.at("data").at("users").as_array().at(1).at("current").as_bool()) << who.body;
}

TEST_F(PlexHome, AWrongPinIsSaidInWordsAndChangesNothing) {
    auto before = rig.settings_file();
    auto missing = switch_to(sam.uuid);
    EXPECT_EQ(missing.status, 403) << missing.body;
    EXPECT_EQ(code_of(missing), "PLEX_HOME_PIN_WRONG");
    EXPECT_NE(message_of(missing).find("Sam has a PIN"), std::string::npos) << missing.body;
    EXPECT_TRUE(sim.requests_matching("POST", "/api/v2/home/users/").empty()) << "not sent without its PIN";

    auto wrong = switch_to(sam.uuid, "4321");
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    EXPECT_EQ(code_of(wrong), "PLEX_HOME_PIN_WRONG");
    EXPECT_NE(message_of(wrong).find("Wrong PIN for Sam"), std::string::npos) << wrong.body;
    auto sent = sim.requests_matching("POST", "/api/v2/home/users/" + sam.uuid + "/switch");
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].query, "pin=4321") << "the PIN goes to plex.tv in the query, as Plex Web sends it";
    EXPECT_EQ(rig.settings_file(), before) << "nothing stored";
    EXPECT_FALSE(logged("4321")) << "the PIN is never logged";
    EXPECT_EQ(rig.settings_file().find("4321"), std::string::npos);

    EXPECT_EQ(switch_to(sam.uuid, "12a4").status, 400) << "digits only";
    EXPECT_EQ(switch_to("../../api/v2/user").status, 400);
    auto unknown = switch_to("0123456789abcdef");
    EXPECT_EQ(unknown.status, 404) << unknown.body;
}

TEST_F(PlexHome, TheRightPinSwitchesAndSwitchingBackNeedsTheAdminsPin) {
    auto r = switch_to(sam.uuid, "1234");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(rig.settings_object().at("username").as_string(), "sam");
    EXPECT_EQ(rig.settings_object().at("email").as_string(), "sam@example.com");
    // Sam's token now lists the Home and switches back, with the admin's PIN.
    auto users = rig.api("GET", "/api/plex/home/users");
    ASSERT_EQ(users.status, 200) << users.body;
    std::string admin_uuid(users.json.at("data").at("users").as_array().at(0).at("uuid").as_string());
    EXPECT_EQ(switch_to(admin_uuid, "0000").status, 403);
    auto back = switch_to(admin_uuid, "9999");
    ASSERT_EQ(back.status, 200) << back.body;
    auto s = rig.settings_object();
    EXPECT_EQ(s.at("username").as_string(), "plexuser");
    EXPECT_TRUE(s.at("server_owned").as_bool()) << "the admin's own access again";
    EXPECT_FALSE(logged("9999"));
    EXPECT_FALSE(logged("1234"));
}

// A member with no access to the selected server (a server the admin
// does not own: a friend's, shared with the admin only).
TEST_F(PlexHome, ASwitchToSomeoneWithoutTheServerClearsItInsteadOfBorrowingATokenForIt) {
    pb::sim::SimServer friends;
    friends.name = "Friend's NAS";
    friends.machine_id = "friend-machine-1";
    friends.owned = false;
    friends.access_token = "friend-share-token-1";
    friends.source_title = "alex";
    pb::sim::add_sample_library(friends);
    auto f = sim.add_server(std::move(friends));
    auto port = sim.add_connection(f, pb::sim::ConnectionSpec{pb::sim::Behaviour::normal, false, true});
    ASSERT_EQ(rig.api("GET", "/api/plex/oauth/servers?refresh=1").status, 200);
    auto sel =
        rig.api("POST", "/api/plex/select-server",
                R"({"machineIdentifier":"friend-machine-1","uri":"http://127.0.0.1:)" + std::to_string(port) + R"("})");
    ASSERT_EQ(sel.status, 200) << sel.body;

    auto r = switch_to(kids.uuid);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_FALSE(r.json.at("data").at("serverKept").as_bool());
    EXPECT_NE(std::string(r.json.at("data").at("message").as_string()).find("has no access to Friend's NAS"),
              std::string::npos)
        << r.body;
    auto s = rig.settings_object();
    EXPECT_EQ(s.at("server_machine_id").as_string(), "");
    EXPECT_EQ(s.at("server_token").as_string(), "") << "the admin's share token is not Kids's";
    sim.clear_requests();
    EXPECT_NE(rig.api("GET", "/api/plex/oauth/libraries").status, 200);
    EXPECT_TRUE(sim.requests_matching("GET", "/library/sections").empty());
}

// Guessing a PIN through plexbridge: five wrong tries, then a wait, and
// plex.tv is not asked while it lasts.
TEST_F(PlexHome, WrongPinsInARowMakeTheNextTryWait) {
    for (int i = 0; i < 5; ++i) ASSERT_EQ(switch_to(sam.uuid, "000" + std::to_string(i)).status, 403);
    sim.clear_requests();
    auto blocked = switch_to(sam.uuid, "1234");
    EXPECT_EQ(blocked.status, 429) << blocked.body;
    EXPECT_NE(message_of(blocked).find("Too many wrong PINs for Sam"), std::string::npos) << blocked.body;
    EXPECT_TRUE(sim.requests_matching("POST", "/api/v2/home/users/").empty()) << "plex.tv was not asked";
    // Another person of the Home is not held up by Sam's PIN.
    EXPECT_EQ(switch_to(kids.uuid).status, 200);
}

// The webhook plexbridge made on the admin's plex.tv account belongs to the
// admin: a switch removes it, with the admin's token, before handing over.
TEST_F(PlexHome, TheAdminsWebhookIsRemovedWhenAnotherPersonTakesOver) {
    ASSERT_EQ(rig.api("PATCH", "/api/settings/plex", R"({"webhook_base_url":"http://127.0.0.1:6767"})").status, 200);
    ASSERT_EQ(rig.api("POST", "/api/plex/webhook/create").status, 200);
    ASSERT_EQ(sim.webhooks().size(), 1u);
    auto r = switch_to(kids.uuid);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_TRUE(sim.webhooks().empty()) << "the admin's webhook went with the admin";
    EXPECT_NE(r.body.find("removed the webhook"), std::string::npos) << r.body;
    auto sets = sim.requests_matching("POST", "/api/v2/user/webhooks");
    ASSERT_FALSE(sets.empty());
    EXPECT_EQ(sets.back().token, sim.account_token()) << "removed with the admin's own token";
}

// ---- short-lived tokens: the JWT device sign-in, opt-in (jwt_sign_in)

namespace {
class ShortLivedTokens : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        sim.start();
    }
    ::testing::AssertionResult start(bool jwt) {
        std::vector<std::pair<std::string, std::string>> presets;
        if (jwt) presets.emplace_back("jwt_sign_in", "true");
        if (!rig.start(presets)) return ::testing::AssertionFailure() << rig.error;
        return ::testing::AssertionSuccess();
    }
    int64_t expires_at() { return rig.settings_object().at("token_expires_at").as_int64(); }
    pb::sim::Simulator sim;
    HostRig rig{sim};
};
}  // namespace

TEST_F(ShortLivedTokens, SignInGivesAPlexJwtWithItsEndAndTheDeviceKeySealed) {
    ASSERT_TRUE(start(true));
    ASSERT_TRUE(rig.sign_in());
    auto s = rig.settings_object();
    auto now = static_cast<int64_t>(std::time(nullptr));
    EXPECT_GT(expires_at(), now + 6 * 86400) << "about a week";
    EXPECT_LT(expires_at(), now + 8 * 86400);
    std::string key(s.at("device_key").as_string());
    EXPECT_FALSE(key.empty());
    EXPECT_EQ(rig.settings_file().find(sim.account_token()), std::string::npos);
    // The PIN carried the public key and was polled with a device JWT.
    auto created = sim.requests_matching("POST", "/api/v2/pins");
    ASSERT_EQ(created.size(), 1u);
    EXPECT_NE(created[0].body.find("\"jwk\""), std::string::npos) << created[0].body;
    EXPECT_NE(created[0].body.find("\"OKP\""), std::string::npos);
    bool polled_with_jwt = false;
    for (const auto& q : sim.requests_matching("GET", "/api/v2/pins/"))
        polled_with_jwt |= q.query.find("deviceJWT=") != std::string::npos;
    EXPECT_TRUE(polled_with_jwt);
    // The Plex JWT works for everything: the servers, the libraries.
    auto servers = rig.api("GET", "/api/plex/oauth/servers");
    ASSERT_EQ(servers.status, 200) << servers.body;
    auto status = rig.api("GET", "/api/plex/status");
    EXPECT_TRUE(status.json.at("data").at("account").at("token_expires_at").is_string()) << status.body;
}

TEST_F(ShortLivedTokens, AnExpiredTokenIsRenewedWithTheDeviceKeyNotASignIn) {
    ASSERT_TRUE(start(true));
    ASSERT_TRUE(rig.sign_in());
    std::string before(rig.settings_object().at("token").as_string());
    sim.expire_jwts();
    sim.clear_requests();
    // plex.tv answers 498; the plugin renews at once.
    auto r = rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    EXPECT_NE(r.status, 200);
    ASSERT_TRUE(pbtest::eventually([&] {
        return std::string(rig.settings_object().at("token").as_string()) != before;
    })) << "a new token was stored";
    EXPECT_FALSE(sim.requests_matching("POST", "/api/v2/auth/token").empty());
    EXPECT_TRUE(sim.requests_matching("POST", "/api/v2/pins").empty()) << "no new sign-in";
    auto again = rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    EXPECT_EQ(again.status, 200) << again.body;
    auto status = rig.api("GET", "/api/plex/status");
    EXPECT_NE(std::string(status.json.at("data").at("account").at("state").as_string()), "rejected");
}

TEST_F(ShortLivedTokens, AShortTokenIsRenewedBeforeItEnds) {
    sim.set_jwt_lifetime(std::chrono::seconds(4));  // renewed halfway, every 2 s
    ASSERT_TRUE(start(true));
    ASSERT_TRUE(rig.sign_in());
    std::string first(rig.settings_object().at("token").as_string());
    ASSERT_TRUE(pbtest::eventually([&] { return std::string(rig.settings_object().at("token").as_string()) != first; },
                                   std::chrono::seconds(15)))
        << "renewed in the background";
    sim.set_jwt_lifetime(std::chrono::hours(24 * 7));
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/servers?refresh=1").status, 200);
}

TEST_F(ShortLivedTokens, TurningItOnMovesAClassicSignInOver) {
    ASSERT_TRUE(start(false));
    ASSERT_TRUE(rig.sign_in());
    EXPECT_EQ(expires_at(), 0) << "a classic token";
    ASSERT_EQ(rig.api("PATCH", "/api/settings/plex", R"({"jwt_sign_in":true})").status, 200);
    ASSERT_TRUE(pbtest::eventually([&] { return expires_at() > 0; })) << "moved to a short-lived token";
    auto registered = sim.requests_matching("POST", "/api/v2/auth/jwk");
    ASSERT_EQ(registered.size(), 1u);
    EXPECT_EQ(registered[0].token, sim.account_token()) << "the key is bound with the classic token";
    EXPECT_EQ(rig.api("GET", "/api/plex/oauth/servers?refresh=1").status, 200);
    // Turned off again, the token it has is still renewed: nobody is
    // signed out by a switch in the settings.
    ASSERT_EQ(rig.api("PATCH", "/api/settings/plex", R"({"jwt_sign_in":false})").status, 200);
    std::string before(rig.settings_object().at("token").as_string());
    sim.expire_jwts();
    rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    EXPECT_TRUE(
        pbtest::eventually([&] { return std::string(rig.settings_object().at("token").as_string()) != before; }));
}

// The device key is bound to the account that registered it: a Plex Home
// switch never keeps it, or the next renewal would bring back the admin's
// token for the child.
TEST_F(ShortLivedTokens, ASwitchToAHomeMemberDoesNotKeepTheAdminsDeviceKey) {
    pb::sim::SimHomeUser kid;
    kid.title = "Kids";
    kid = sim.add_home_user(kid);
    ASSERT_TRUE(start(false));
    ASSERT_TRUE(rig.sign_in());
    ASSERT_EQ(rig.api("PATCH", "/api/settings/plex", R"({"jwt_sign_in":true})").status, 200);
    ASSERT_TRUE(pbtest::eventually([&] { return expires_at() > 0; }));
    std::string admin_key(rig.settings_object().at("device_key").as_string());
    ASSERT_FALSE(admin_key.empty());
    sim.clear_requests();
    auto r = rig.api("POST", "/api/plex/home/switch", R"({"uuid":")" + kid.uuid + R"("})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(rig.settings_object().at("username").as_string(), "Kids");
    // Short-lived tokens are on: the child's token moves over with a key
    // of its own, registered with the child's token.
    ASSERT_TRUE(pbtest::eventually([&] { return expires_at() > 0; }));
    EXPECT_NE(std::string(rig.settings_object().at("device_key").as_string()), admin_key);
    auto registered = sim.requests_matching("POST", "/api/v2/auth/jwk");
    ASSERT_EQ(registered.size(), 1u);
    EXPECT_EQ(registered[0].token, kid.token);
}

// plex.tv without the v2 Home endpoints: the legacy XML list and the legacy
// switch by numeric id, whose answer names the token authenticationToken.
TEST_F(PlexHome, WithoutTheV2EndpointsTheLegacyListAndSwitchWork) {
    sim.set_home_v2_gone(true);
    auto users = rig.api("GET", "/api/plex/home/users");
    ASSERT_EQ(users.status, 200) << users.body;
    EXPECT_EQ(users.json.at("data").at("users").as_array().size(), 3u) << users.body;
    EXPECT_FALSE(sim.requests_matching("GET", "/api/home/users").empty());
    auto wrong = switch_to(sam.uuid, "4321");
    EXPECT_EQ(wrong.status, 403) << wrong.body;
    EXPECT_EQ(sim.requests_matching("POST", "/api/home/users/").size(), 1u) << "the PIN was sent once";
    auto r = switch_to(sam.uuid, "1234");
    ASSERT_EQ(r.status, 200) << r.body;
    auto legacy = sim.requests_matching("POST", "/api/home/users/" + std::to_string(sam.id) + "/switch");
    ASSERT_EQ(legacy.size(), 2u);
    EXPECT_EQ(rig.settings_object().at("username").as_string(), "sam");
}

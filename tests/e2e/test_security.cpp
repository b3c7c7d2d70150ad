// Security properties a user relies on without seeing them: the Plex token
// never leaves the vault in readable form, the webhook address is the
// user's, files are private. See docs/reliability.md.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "harness.hpp"

namespace bj = boost::json;

namespace {

constexpr const char* kMachine = "security-machine-0001";
constexpr const char* kMovie = pbtest::kReignOfFire;

class Security : public ::testing::Test {
protected:
    void SetUp() override {
        server = pbtest::add_home_server(sim, kMachine);
        port = sim.add_connection(server, pb::sim::ConnectionSpec{});
        sim.start();
        dir = pbtest::temp_dir("security");
        rig = std::make_unique<pbtest::HostRig>(sim, dir);
        ASSERT_TRUE(rig->start({{"log_level", R"("debug")"},
                                {"update_movie_library", "true"},
                                {"set_movie_added", "true"},
                                {"connect_timeout_ms", "500"}}))
            << rig->error;
        base = "http://127.0.0.1:" + std::to_string(rig->host().port());
    }

    // Calls the host with the API key and keeps everything that came back.
    pb::http::Response call(const std::string& method, const std::string& path, const std::string& body = "",
                            pb::http::Headers extra = {}) {
        extra.emplace_back("X-API-KEY", rig->apikey);
        if (!body.empty()) extra.emplace_back("Content-Type", "application/json");
        auto r = caller.call(method, base + path, body, extra);
        EXPECT_TRUE(r.ok()) << method << " " << path;
        if (!r) return {};
        seen += method + " " + path + " -> " + std::to_string(r->status) + "\n";
        for (const auto& [k, v] : r->headers) seen += k + ": " + v + "\n";
        seen += r->body + "\n";
        return *r;
    }

    pb::sim::Simulator sim;
    std::size_t server = 0;
    uint16_t port = 0;
    std::string dir, base;
    std::unique_ptr<pbtest::HostRig> rig;
    pbtest::Caller caller;
    std::string seen;  // every answer: status line, headers, body
};

std::string every_file_under(const std::string& dir) {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file())
            if (auto text = pb::common::fs::read_file(e.path().string())) all += *text;
    return all;
}

}  // namespace

// The account's token goes through sign-in, discovery, selection, the
// libraries, webhooks, a refresh, diagnostics, a revocation and sign-out,
// with the log at its most talkative: it never shows up in a log line (any
// level), an answer (body or header, errors included), or a file on disk
// (the vault keeps it sealed).
TEST_F(Security, ThePlexTokenNeverLeavesTheVaultReadable) {
    const std::string token = sim.account_token();
    ASSERT_GE(token.size(), 20u);
    ASSERT_TRUE(rig->sign_in());
    call("GET", "/api/plex/oauth/validate");
    call("GET", "/api/plex/oauth/servers?refresh=1");
    auto sel = call("POST", "/api/plex/select-server",
                    R"({"machineIdentifier":")" + std::string(kMachine) + R"(","uri":"http://127.0.0.1:)" +
                        std::to_string(port) + R"("})");
    EXPECT_EQ(sel.status, 200) << sel.body;
    call("GET", "/api/plex/oauth/libraries");
    call("GET", "/api/plex/settings");
    call("GET", "/api/settings/plex");
    call("PATCH", "/api/settings/plex", R"({"webhook_base_url":")" + base + R"("})");
    call("POST", "/api/plex/webhook/create");
    call("GET", "/api/plex/webhook/list");
    call("POST", "/api/plex/test-connection", R"({"uri":"http://127.0.0.1:)" + std::to_string(port) + R"("})");
    call("POST", "/api/plex/test-connection", R"({"uri":"http://127.0.0.1:1"})");
    call("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":)" + std::string(kMovie) + "}");
    EXPECT_TRUE(pbtest::eventually([&] { return !sim.requests_matching("PUT", "/library/").empty(); }))
        << "the refresh reached the server with the token";
    call("GET", "/api/plex/status");
    auto diag = call("GET", "/api/plex/diagnostics");
    EXPECT_EQ(diag.status, 200);
    // Errors carry the most detail: a token plex.tv refuses, then sign-out.
    sim.revoke_token(token);
    call("GET", "/api/plex/oauth/validate");
    call("GET", "/api/plex/oauth/servers?refresh=1");
    call("GET", "/api/plex/status");
    call("POST", "/api/plex/webhook/delete");
    call("POST", "/api/plex/oauth/logout");
    // The token was really used (or this test would prove nothing).
    bool used = false;
    for (const auto& r : sim.requests()) used = used || r.token == token;
    EXPECT_TRUE(used);

    std::string logs;
    for (const auto& l : rig->host().log_lines()) logs += l + "\n";
    EXPECT_NE(logs.find("debug"), std::string::npos) << "the log ran at debug level:\n" << logs;
    EXPECT_NE(logs.find(" answered 200 in "), std::string::npos) << "each Plex call at debug level";
    EXPECT_EQ(logs.find(token), std::string::npos) << logs;
    EXPECT_EQ(seen.find(token), std::string::npos) << seen;
    const std::string files = every_file_under(dir);
    EXPECT_FALSE(files.empty());
    EXPECT_EQ(files.find(token), std::string::npos);
}

// The address given to Plex comes from the user's setting, never from the
// Host header of whoever asked (a forged header would send Plex's webhooks,
// and their key, to someone else).
TEST_F(Security, TheWebhookAddressNeverComesFromTheHostHeader) {
    ASSERT_TRUE(rig->sign_in());
    auto none = call("POST", "/api/plex/webhook/create", "", {{"Host", "evil.example:80"}});
    EXPECT_NE(none.status, 200) << "no base address set: nothing is created from the header";
    EXPECT_EQ(none.body.find("evil.example"), std::string::npos) << none.body;
    call("PATCH", "/api/settings/plex", R"({"webhook_base_url":"http://127.0.0.1:16767"})");
    auto made = call("POST", "/api/plex/webhook/create", "", {{"Host", "evil.example:80"}});
    EXPECT_EQ(made.status, 200) << made.body;
    const auto posted = sim.requests_matching("POST", "/api/v2/user/webhooks");
    EXPECT_FALSE(posted.empty());
    for (const auto& r : posted) {
        EXPECT_EQ(r.body.find("evil.example"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("127.0.0.1%3A16767"), std::string::npos) << r.body;
    }
}

// What the plugin and the host write is readable by their user only: the
// data folder 0700, the key, the settings and every other file 0600.
TEST_F(Security, FilesAreTheUsersAlone) {
    ASSERT_TRUE(rig->sign_in());
    call("POST", "/api/plex/select-server",
         R"({"machineIdentifier":")" + std::string(kMachine) + R"(","uri":"http://127.0.0.1:)" + std::to_string(port) +
             R"("})");
    call("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":)" + std::string(kMovie) + "}");
    rig->stop();  // flushes what is kept on disk
    auto mode = [](const std::string& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_mode & 07777;
    };
    // A folder the host creates itself (the test's own was made by the test).
    auto fresh = dir + "/fresh-data";
    pbtest::HostRig second(sim, fresh);
    ASSERT_TRUE(second.start({}, false)) << second.error;
    second.stop();
    EXPECT_EQ(mode(fresh), 0700u);
    int files = 0;
    for (const std::string& d : {dir, fresh})
        for (const auto& e : std::filesystem::directory_iterator(d))
            if (e.is_regular_file() && e.path().filename() != "ca.pem") {  // ca.pem is the test's
                EXPECT_EQ(mode(e.path().string()), 0600u) << e.path();
                ++files;
            }
    EXPECT_GE(files, 4) << "settings, key, API key, at least";
}

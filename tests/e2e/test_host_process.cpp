// The real plexbridge-host binary, started as a user starts it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "harness.hpp"

namespace {

struct Process {
    pid_t pid = -1;
    FILE* out = nullptr;
    std::string first_line;
    ~Process() { stop(); }
    bool start(std::vector<std::string> args, std::string bin = PB_HOST_PATH) {
        int fds[2];
        if (pipe(fds) != 0) return false;
        pid = fork();
        if (pid == 0) {
            dup2(fds[1], 1);
            close(fds[0]);
            std::vector<char*> argv;
            argv.push_back(bin.data());
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(bin.c_str(), argv.data());
            _exit(127);
        }
        close(fds[1]);
        out = fdopen(fds[0], "r");
        char buf[512];
        if (fgets(buf, sizeof buf, out)) first_line = buf;
        return true;
    }
    // Starts the host with the plugin on a free loopback port; returns the
    // base URL it printed, or "" when it did not start.
    std::string start_host(const std::string& dir, const std::string& apikey) {
        if (!start({"--plugin", PB_PLUGIN_PATH, "--data-dir", dir, "--listen", "127.0.0.1:0", "--apikey", apikey}))
            return {};
        return base_url();
    }
    // The same, with the data directory replaced, in a mount namespace of
    // the host's own, by a copy of it on a small tmpfs that is then made
    // full or read-only. Tests run as root, which ignores file modes: only
    // a real mount makes a write fail as it fails on a user's full disk.
    // The host's view of the folder stays readable at /proc/<pid>/root.
    std::string start_host_on_a_broken_disk(const std::string& dir, const std::string& apikey, bool full) {
        const std::string script =
            "set -e; stage=$(mktemp -d); cp -a \"$1\"/. \"$stage\"; mount -t tmpfs -o size=256k,mode=0700 tmpfs "
            "\"$1\"; "
            "cp -a \"$stage\"/. \"$1\"/; rm -rf \"$stage\"; " +
            std::string(full ? "cat /dev/zero > \"$1\"/filler 2>/dev/null || true; " : "mount -o remount,ro \"$1\"; ") +
            "shift; exec \"$@\"";
        if (!start({"-m", "--propagation", "private", "sh", "-c", script, "sh", dir, PB_HOST_PATH, "--plugin",
                    PB_PLUGIN_PATH, "--data-dir", dir, "--listen", "127.0.0.1:0", "--apikey", apikey},
                   "/usr/bin/unshare"))
            return {};
        return base_url();
    }
    std::string base_url() const {
        auto pos = first_line.find("http://127.0.0.1:");
        if (pos == std::string::npos) return {};
        return first_line.substr(pos, first_line.find_first_of(" \n", pos) - pos);
    }
    // As the OOM killer or a power cut would: no chance to save anything.
    void kill_hard() {
        if (pid <= 0) return;
        ::kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
        pid = -1;
        if (out) fclose(out);
        out = nullptr;
    }
    int stop() {
        if (pid <= 0) return -1;
        kill(pid, SIGTERM);
        int status = 0;
        waitpid(pid, &status, 0);
        pid = -1;
        if (out) fclose(out);
        out = nullptr;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
};

}  // namespace

TEST(HostProcess, StartsServesDefaultsAndRefusesWithoutTheKey) {
    auto dir = pbtest::temp_dir("proc");
    Process p;
    std::string base = p.start_host(dir, "k-123456");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    auto none = c.call("GET", base + "/api/settings/plex");
    ASSERT_TRUE(none.ok()) << none.error().message;
    EXPECT_EQ(none->status, 401);
    EXPECT_EQ(c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-123457"}})->status, 401);
    auto ok = c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-123456"}});
    ASSERT_EQ(ok->status, 200);
    auto data = boost::json::parse(ok->body).at("data").as_object();
    EXPECT_EQ(data.at("use_plex").as_bool(), false);
    EXPECT_EQ(data.at("port").as_int64(), 32400);
    EXPECT_EQ(data.at("plextv_url").as_string(), "https://plex.tv");
    // Never in the address, where logs and browser history keep it: the
    // answer says where the key goes instead.
    auto in_query = c.call("GET", base + "/api/settings/plex?apikey=k-123456");
    EXPECT_EQ(in_query->status, 401);
    EXPECT_NE(in_query->body.find("X-API-KEY header"), std::string::npos) << in_query->body;
    // A setting stored through the API survives a restart.
    auto patch = c.call("PATCH", base + "/api/settings/plex", R"({"use_plex": true, "movie_library": ["1"]})",
                        {{"X-API-KEY", "k-123456"}});
    EXPECT_EQ(patch->status, 200);
    auto bad = c.call("PATCH", base + "/api/settings/plex", R"({"ssl": "maybe"})", {{"X-API-KEY", "k-123456"}});
    EXPECT_EQ(bad->status, 400);
    EXPECT_NE(bad->body.find("ssl"), std::string::npos);
    EXPECT_EQ(p.stop(), 0) << "SIGTERM stops cleanly";
    Process again;
    base = again.start_host(dir, "k-123456");
    ASSERT_FALSE(base.empty()) << again.first_line;
    auto kept = boost::json::parse(c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-123456"}})->body);
    EXPECT_EQ(kept.at("data").at("use_plex").as_bool(), true);
    EXPECT_EQ(kept.at("data").at("movie_library").as_array().size(), 1u);
}

// ABI 1.1: everything a form needs (label, section, who writes it, limits,
// unit, choices, the shape of a list of objects, when it is shown) reaches
// the host through pb_setting_desc, and the host's schema is the manifest's,
// so a host can draw the settings form from either.
TEST(HostProcess, TheSettingsFormSchemaCrossesTheAbiWhole) {
    auto dir = pbtest::temp_dir("proc-schema");
    Process p;
    std::string base = p.start_host(dir, "k-123456");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    auto r = c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-123456"}});
    ASSERT_TRUE(r.ok() && r->status == 200);
    const auto schema = boost::json::parse(r->body).at("schema").as_array();
    std::ifstream f(PB_MANIFEST_PATH);
    std::stringstream ss;
    ss << f.rdbuf();
    const auto manifest = boost::json::parse(ss.str()).at("settings").as_array();
    ASSERT_EQ(schema.size(), manifest.size());
    for (std::size_t i = 0; i < schema.size(); ++i)
        EXPECT_EQ(schema[i], manifest[i]) << boost::json::serialize(schema[i]);
    // Spot checks of what a form does with it.
    auto find = [&](std::string_view name) {
        for (const auto& s : schema)
            if (s.at("name").as_string() == name) return s.as_object();
        return boost::json::object{};
    };
    EXPECT_EQ(find("use_plex").at("label").as_string(), "Use Plex");
    EXPECT_EQ(find("read_timeout_ms").at("min").as_int64(), 1000);
    EXPECT_EQ(find("read_timeout_ms").at("unit").as_string(), "ms");
    EXPECT_EQ(find("auth_method").at("choices").as_array().size(), 2u);
    EXPECT_EQ(find("apikey").at("shown_when").at("setting").as_string(), "auth_method");
    EXPECT_EQ(find("path_mappings").at("fields").as_array().size(), 2u);
    EXPECT_EQ(find("server_connections").at("access").as_string(), "internal");
    EXPECT_EQ(find("username").at("access").as_string(), "read_only");
}

TEST(HostProcess, BodiesAreBounded) {
    auto dir = pbtest::temp_dir("proc");
    Process p;
    std::string base = p.start_host(dir, "k-1");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    auto big = c.call("POST", base + "/api/plex/apikey", std::string(200 * 1024, 'x'), {{"X-API-KEY", "k-1"}});
    ASSERT_TRUE(big.ok()) << big.error().message;
    EXPECT_EQ(big->status, 413);
}

TEST(HostProcess, ExplainsAMissingPlugin) {
    Process p;
    ASSERT_TRUE(p.start({"--plugin", "/nonexistent/libplexbridge.so", "--data-dir", pbtest::temp_dir("proc"),
                         "--listen", "127.0.0.1:0"}));
    EXPECT_EQ(p.stop(), 1);
    Process bad_threads;
    ASSERT_TRUE(
        bad_threads.start({"--threads", "0", "--data-dir", pbtest::temp_dir("proc"), "--listen", "127.0.0.1:0"}));
    EXPECT_EQ(bad_threads.stop(), 2) << "a usage error, before anything starts";
}

// The reference host's browser sign-in: the API key is typed once and
// exchanged for a cookie scripts cannot read, and a cookie alone (which a
// forged cross-site request also carries) never changes anything without
// the page's CSRF token.
TEST(HostProcess, ABrowserSignsInOnceAndEveryUnsafeRequestCarriesTheCsrfToken) {
    auto dir = pbtest::temp_dir("proc-browser");
    Process p;
    std::string base = p.start_host(dir, "k-browser");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    // A person without a session is sent to sign in, and brought back after.
    auto page = c.call("GET", base + "/plugins/plexbridge/", "", {{"Accept", "text/html"}});
    ASSERT_TRUE(page.ok());
    EXPECT_EQ(page->status, 303);
    EXPECT_EQ(page->header("Location").value_or(""), "/login?next=%2Fplugins%2Fplexbridge%2F");
    auto login_page = c.call("GET", base + "/login");
    EXPECT_EQ(login_page->status, 200);
    EXPECT_NE(login_page->header("Content-Security-Policy").value_or("").find("script-src 'self'"), std::string::npos);

    EXPECT_EQ(c.call("POST", base + "/api/host/login", R"({"apikey": "wrong"})")->status, 401);
    auto in = c.call("POST", base + "/api/host/login", R"({"apikey": "k-browser"})");
    ASSERT_EQ(in->status, 204) << in->body;
    std::string session, csrf;
    for (const auto& [k, v] : in->headers) {
        if (!pb::common::text::iequals(k, "Set-Cookie")) continue;
        auto value = v.substr(v.find('=') + 1, v.find(';') - v.find('=') - 1);
        if (v.rfind("pb_session=", 0) == 0) {
            session = value;
            EXPECT_NE(v.find("HttpOnly"), std::string::npos) << v;
            EXPECT_NE(v.find("SameSite=Strict"), std::string::npos) << v;
        }
        if (v.rfind("XSRF-TOKEN=", 0) == 0) {
            csrf = value;
            EXPECT_EQ(v.find("HttpOnly"), std::string::npos) << "the page must read it: " << v;
        }
    }
    ASSERT_EQ(session.size(), 32u);
    ASSERT_EQ(csrf.size(), 32u);
    EXPECT_EQ(in->body.find("k-browser"), std::string::npos);
    const pb::http::Headers cookie = {{"Cookie", "other=1; pb_session=" + session}};
    EXPECT_EQ(c.call("GET", base + "/api/plex/settings", "", cookie)->status, 200);
    auto entry = c.call("GET", base + "/plugins/plexbridge/", "", cookie);
    EXPECT_EQ(entry->status, 200);
    EXPECT_EQ(entry->header("X-Content-Type-Options").value_or(""), "nosniff");

    // Unsafe with the cookie alone, or a wrong token: refused, nothing stored.
    const std::string change = R"({"manual_server_url": "http://10.0.0.5:32400"})";
    auto forged = c.call("PATCH", base + "/api/plex/settings", change, cookie);
    EXPECT_EQ(forged->status, 403);
    EXPECT_NE(forged->body.find("HOST_CSRF"), std::string::npos);
    auto wrong = cookie;
    wrong.emplace_back("X-XSRF-TOKEN", std::string(32, '0'));
    EXPECT_EQ(c.call("PATCH", base + "/api/plex/settings", change, wrong)->status, 403);
    auto stored = [&] {
        auto r = c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-browser"}});
        return boost::json::parse(r->body).at("data").at("manual_server_url").as_string();
    };
    EXPECT_EQ(stored(), "");
    auto right = cookie;
    right.emplace_back("X-XSRF-TOKEN", csrf);
    auto saved = c.call("PATCH", base + "/api/plex/settings", change, right);
    EXPECT_EQ(saved->status, 200) << saved->body;
    EXPECT_EQ(stored(), "http://10.0.0.5:32400");

    // The page changes only what a user may: internal settings are refused,
    // and a refusal names its field for the form.
    auto internal = c.call("PATCH", base + "/api/plex/settings", R"({"client_identifier": "x"})", right);
    EXPECT_EQ(internal->status, 400);
    EXPECT_NE(internal->body.find("client_identifier: not a setting this page can change"), std::string::npos);
    auto bad = c.call("PATCH", base + "/api/plex/settings", R"({"manual_server_url": "nope"})", right);
    EXPECT_EQ(bad->status, 400);
    EXPECT_EQ(boost::json::parse(bad->body).at("field").as_string(), "manual_server_url") << bad->body;
    auto host_bad = c.call("PATCH", base + "/api/settings/plex", R"({"port": 0})", right);
    EXPECT_EQ(host_bad->status, 400);
    EXPECT_EQ(boost::json::parse(host_bad->body).at("field").as_string(), "port") << host_bad->body;

    // Signing out ends the session for good.
    EXPECT_EQ(c.call("POST", base + "/api/host/logout", "", right)->status, 204);
    EXPECT_EQ(c.call("GET", base + "/api/plex/settings", "", cookie)->status, 401);
}

TEST(HostProcess, GuessingTheKeyIsSlowedDown) {
    auto dir = pbtest::temp_dir("proc-guess");
    Process p;
    std::string base = p.start_host(dir, "k-guess");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(c.call("POST", base + "/api/host/login", R"({"apikey": "no"})")->status, 401);
    auto wait = c.call("POST", base + "/api/host/login", R"({"apikey": "k-guess"})");
    EXPECT_EQ(wait->status, 429) << "even the right key waits once ten wrong ones came from this address";
    int seconds = std::atoi(wait->header("Retry-After").value_or("0").c_str());
    EXPECT_GT(seconds, 200);
    EXPECT_LE(seconds, 300);
    EXPECT_NE(wait->body.find("try again in"), std::string::npos);
    // Every way of presenting a key waits, or the header would be a way around.
    EXPECT_EQ(c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", "k-guess"}})->status, 429);
    // A key in the address is not read at all (so it is neither checked nor counted).
    EXPECT_EQ(c.call("GET", base + "/api/settings/plex?apikey=k-guess")->status, 401);
}

TEST(HostProcess, WrongKeysInTheHeaderCountToo) {
    auto dir = pbtest::temp_dir("proc-guess-header");
    Process p;
    std::string base = p.start_host(dir, "k-guess");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    for (int i = 0; i < 10; ++i)
        EXPECT_EQ(c.call("GET", base + "/api/host/plugins", "", {{"X-API-KEY", "guess-" + std::to_string(i)}})->status,
                  401);
    EXPECT_EQ(c.call("POST", base + "/api/host/login", R"({"apikey": "k-guess"})")->status, 429);
}

// Plex's webhooks carry the plugin's own key (?apikey=), not the host's: the
// host neither checks nor counts it, so a busy Plex never gets locked out.
TEST(HostProcess, WebhooksAreNotCountedAsWrongKeys) {
    auto dir = pbtest::temp_dir("proc-webhooks");
    Process p;
    std::string base = p.start_host(dir, "k-hooks");
    ASSERT_FALSE(base.empty()) << p.first_line;
    pbtest::Caller c;
    for (int i = 0; i < 12; ++i) {
        auto r = c.call("POST", base + "/api/webhooks/plex?apikey=not-the-host-key", "{}",
                        {{"Content-Type", "application/json"}});
        ASSERT_TRUE(r.ok());
        EXPECT_NE(r->status, 429) << r->body;
    }
    EXPECT_EQ(c.call("POST", base + "/api/host/login", R"({"apikey": "k-hooks"})")->status, 204);
}

// ---- Faults in the host's own files (docs/reliability.md) --------------------

namespace {

std::string read_all(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

boost::json::value settings_of(pbtest::Caller& c, const std::string& base, const std::string& key) {
    auto r = c.call("GET", base + "/api/settings/plex", "", {{"X-API-KEY", key}});
    return r.ok() && r->status == 200 ? boost::json::parse(r->body).at("data") : boost::json::value();
}

}  // namespace

// A settings file cut short by a crash, emptied, or overwritten with
// something else: the host starts with the defaults instead of refusing
// to, keeps the file's bytes whole beside it, and says so in its log and
// on its page; the next save writes a good file and leaves the copy alone.
TEST(HostProcess, AnUnreadableSettingsFileIsKeptAsideAndTheHostStartsWithDefaults) {
    const std::string cases[] = {"", R"({"plex": {"use_plex": true, "movie_libr)", std::string("\x00\xff not json", 11),
                                 "[1, 2, 3]"};
    for (const auto& bytes : cases) {
        SCOPED_TRACE(bytes);
        auto dir = pbtest::temp_dir("proc-badsettings");
        {
            std::ofstream f(dir + "/settings.json", std::ios::binary);
            f << bytes;
        }
        Process p;
        std::string base = p.start_host(dir, "k-bad");
        ASSERT_FALSE(base.empty()) << "the host starts: " << p.first_line;
        pbtest::Caller c;
        auto data = settings_of(c, base, "k-bad");
        ASSERT_TRUE(data.is_object());
        EXPECT_EQ(data.at("use_plex").as_bool(), false) << "defaults";
        auto status = c.call("GET", base + "/api/host/status", "", {{"X-API-KEY", "k-bad"}});
        ASSERT_EQ(status->status, 200);
        auto notices = boost::json::parse(status->body).at("data").at("notices").as_array();
        ASSERT_EQ(notices.size(), 1u) << status->body;
        const std::string notice(notices[0].as_string());
        EXPECT_NE(notice.find("could not be read"), std::string::npos) << notice;
        // The bytes, whole, in the file the notice names.
        std::string aside;
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.path().filename().string().rfind("settings.json.unreadable-", 0) == 0) aside = e.path().string();
        ASSERT_FALSE(aside.empty());
        EXPECT_NE(notice.find(aside), std::string::npos) << notice;
        EXPECT_EQ(read_all(aside), bytes);
        EXPECT_EQ(std::filesystem::status(aside).permissions() & std::filesystem::perms::all,
                  std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        // Saving works again and writes a readable file; the copy stays.
        auto saved = c.call("PATCH", base + "/api/settings/plex", R"({"use_plex": true})", {{"X-API-KEY", "k-bad"}});
        EXPECT_EQ(saved->status, 200) << saved->body;
        EXPECT_TRUE(boost::json::parse(read_all(dir + "/settings.json")).at("plex").at("use_plex").as_bool());
        EXPECT_EQ(read_all(aside), bytes);
        EXPECT_EQ(p.stop(), 0);
        std::filesystem::remove_all(dir);
    }
}

static bool can_mount_in_a_namespace() {
    return std::system(
               "unshare -m --propagation private sh -c 'd=$(mktemp -d) && mount -t tmpfs tmpfs \"$d\"; "
               "r=$?; umount \"$d\" 2>/dev/null; rmdir \"$d\"; exit $r' >/dev/null 2>&1") == 0;
}

// A full disk or a read-only data folder while saving: the save is refused
// in words, and the settings already stored stay as they were, in the
// host's memory and on its disk.
TEST(HostProcess, AFullOrReadOnlyDiskRefusesTheSaveAndKeepsTheOldSettings) {
    if (!can_mount_in_a_namespace()) GTEST_SKIP() << "needs root and unshare -m to mount a tmpfs";
    for (bool full : {true, false}) {
        SCOPED_TRACE(full ? "full" : "read-only");
        auto dir = pbtest::temp_dir("proc-disk");
        pbtest::Caller c;
        {
            Process p;
            std::string base = p.start_host(dir, "k-disk");
            ASSERT_FALSE(base.empty()) << p.first_line;
            auto r = c.call("PATCH", base + "/api/settings/plex", R"({"use_plex": true, "movie_library": ["1"]})",
                            {{"X-API-KEY", "k-disk"}});
            ASSERT_EQ(r->status, 200) << r->body;
        }
        Process p;
        std::string base = p.start_host_on_a_broken_disk(dir, "k-disk", full);
        ASSERT_FALSE(base.empty()) << "the host starts on a " << (full ? "full" : "read-only") << " disk";
        auto r = c.call("PATCH", base + "/api/settings/plex", R"({"movie_library": ["2"]})", {{"X-API-KEY", "k-disk"}});
        EXPECT_EQ(r->status, 500);
        EXPECT_NE(r->body.find(full ? "No space left on device" : "Read-only file system"), std::string::npos)
            << r->body;
        auto data = settings_of(c, base, "k-disk");
        ASSERT_TRUE(data.is_object());
        EXPECT_EQ(data.at("movie_library"), boost::json::array{"1"});
        const std::string on_disk = read_all("/proc/" + std::to_string(p.pid) + "/root" + dir + "/settings.json");
        auto stored = boost::json::parse(on_disk);
        EXPECT_EQ(stored.at("plex").at("movie_library"), boost::json::array{"1"});
        EXPECT_TRUE(stored.at("plex").at("use_plex").as_bool());
        EXPECT_EQ(p.stop(), 0);
        std::filesystem::remove_all(dir);
    }
}

// The host killed outright (SIGKILL: no shutdown, nothing flushed) while a
// refresh waits: the queue is on disk, so the refresh runs after the
// restart. At least once; never lost.
TEST(HostProcess, KilledWithARefreshQueuedItRunsAfterTheRestart) {
    pb::sim::Simulator sim;
    auto port = sim.add_connection(pbtest::add_home_server(sim, "killed-host-machine"), pb::sim::ConnectionSpec{});
    sim.start();
    auto dir = pbtest::temp_dir("proc-kill");
    const std::vector<std::string> args = {"--plugin",   PB_PLUGIN_PATH,
                                           "--data-dir", dir,
                                           "--listen",   "127.0.0.1:0",
                                           "--apikey",   "k-kill",
                                           "--set",      "plex.use_plex=true",
                                           "--set",      "plex.update_movie_library=true",
                                           "--set",      "plex.plextv_url=\"" + sim.plextv_url() + "\""};
    const pb::http::Headers key = {{"X-API-KEY", "k-kill"}, {"Content-Type", "application/json"}};
    pbtest::Caller c;
    Process p;
    ASSERT_TRUE(p.start(args));
    std::string base = p.base_url();
    ASSERT_FALSE(base.empty()) << p.first_line;
    auto pin = boost::json::parse(c.call("POST", base + "/api/plex/oauth/pin", "", key)->body).at("data");
    sim.link_pin(std::string(pin.at("code").as_string()));
    ASSERT_EQ(c.call("GET",
                     base + "/api/plex/oauth/pin/" + boost::json::serialize(pin.at("pinId")) +
                         "/check?state=" + std::string(pin.at("state").as_string()),
                     "", key)
                  ->status,
              200);
    ASSERT_EQ(c.call("POST", base + "/api/plex/select-server",
                     R"({"machineIdentifier":"killed-host-machine","uri":"http://127.0.0.1:)" + std::to_string(port) +
                         R"("})",
                     key)
                  ->status,
              200);
    auto fired = c.call("POST", base + "/api/host/events",
                        R"({"event":"subtitle.downloaded","media":{"type":"movie","imdb":"tt0253556"}})", key);
    ASSERT_EQ(fired->status, 202) << fired->body;
    // Queued on the plugin's thread just after the hook returned (a host
    // callback must not wait for a disk), and on disk at once.
    ASSERT_TRUE(pbtest::eventually([&] { return std::filesystem::exists(dir + "/plexbridge-refresh-queue.json"); },
                                   std::chrono::seconds(2)));
    p.kill_hard();  // refreshes wait about two seconds: this one had not gone out
    const auto refreshed = [&] { return !sim.requests_matching("PUT", "/library/metadata/1036/refresh").empty(); };
    EXPECT_FALSE(refreshed());
    Process again;
    ASSERT_TRUE(again.start(args));
    ASSERT_FALSE(again.base_url().empty()) << again.first_line;
    EXPECT_TRUE(pbtest::eventually(refreshed, std::chrono::seconds(20)));
    EXPECT_EQ(again.stop(), 0);
}

// Building blocks: text and URL helpers, durable writes, settings
// validation, the vault, the PIN table and log redaction.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>

#include "auth/pin_table.hpp"
#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "http/url.hpp"
#include "log/log.hpp"
#include "settings/settings.hpp"
#include "support/temp_dir.hpp"
#include "vault/vault.hpp"

namespace bj = boost::json;
using namespace pb;

namespace {
std::string temp_dir() { return pbtest::temp_dir("core"); }
}  // namespace

TEST(Text, QueryRoundTripAndRepeats) {
    auto q = common::text::parse_query("urls%5B%5D=http%3A%2F%2Fa&urls%5B%5D=b+c&empty=&flag");
    ASSERT_EQ(q.size(), 4u);
    EXPECT_EQ(q[0], (std::pair<std::string, std::string>{"urls[]", "http://a"}));
    EXPECT_EQ(q[1].second, "b c");
    EXPECT_EQ(q[3].first, "flag");
    EXPECT_EQ(common::text::url_decode("%zz%4"), "%zz%4") << "bad escapes are kept, not dropped";
    EXPECT_EQ(common::text::url_decode("a+b%2B", common::text::Plus::literal), "a+b+");
    EXPECT_TRUE(common::text::parse_query("state=abc&x=%zz").empty()) << "a malformed query gives nothing";
    EXPECT_TRUE(common::text::parse_query("a=b c").empty());
    EXPECT_EQ(common::text::parse_query("?a=1&&b").size(), 2u);
    EXPECT_EQ(common::text::url_encode("a b/\xC3\xA9~"), "a%20b%2F%C3%A9~");
    EXPECT_EQ(common::text::url_encode("context[device][product]"), "context%5Bdevice%5D%5Bproduct%5D");
}

TEST(Text, MatchPathBySegment) {
    std::vector<std::pair<std::string, std::string>> params{{"kept", "1"}};
    EXPECT_TRUE(
        common::text::match_path("/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin/12%2034/check", &params));
    ASSERT_EQ(params.size(), 2u);
    EXPECT_EQ(params[1], (std::pair<std::string, std::string>{"pinId", "12 34"}));
    EXPECT_TRUE(common::text::match_path("/api/webhooks/plex", "/api/webhooks/plex"));
    EXPECT_FALSE(common::text::match_path("/api/webhooks/plex", "/api/webhooks/plex/"));
    EXPECT_FALSE(common::text::match_path("/api/webhooks/plex", "/api/webhooks"));
    EXPECT_FALSE(common::text::match_path("/api/webhooks", "/api/webhooks/plex"));
    EXPECT_FALSE(common::text::match_path("/api/webhooks/plex", "/api/webhooks/plexx"));
    EXPECT_FALSE(common::text::match_path("/api/x/{id}", "/api/x/")) << "a parameter is never empty";
    params.resize(1);
    EXPECT_FALSE(common::text::match_path("/api/{a}/pin/{b}", "/api/1/pan/2", &params));
    EXPECT_EQ(params.size(), 1u) << "a failed match leaves the caller's list as it was";
}

TEST(Text, MatchPathRestOfPath) {
    std::vector<std::pair<std::string, std::string>> params;
    EXPECT_TRUE(common::text::match_path("/plugins/plexbridge/{file*}", "/plugins/plexbridge/js/app%20x.js", &params));
    ASSERT_EQ(params.size(), 1u);
    EXPECT_EQ(params[0], (std::pair<std::string, std::string>{"file", "js/app x.js"}));
    params.clear();
    EXPECT_TRUE(common::text::match_path("/plugins/plexbridge/{file*}", "/plugins/plexbridge/", &params));
    EXPECT_EQ(params.at(0).second, "") << "the entry page: the rest is empty";
    EXPECT_FALSE(common::text::match_path("/plugins/plexbridge/{file*}", "/plugins/plexbridge"));
    EXPECT_FALSE(common::text::match_path("/plugins/plexbridge/{file*}", "/plugins/other/app.js"));
    EXPECT_FALSE(common::text::match_path("/plugins/{file*}/x", "/plugins/a/x"))
        << "only a last segment takes the rest";
}

TEST(Text, ConstantTimeEquals) {
    EXPECT_TRUE(common::text::constant_time_equals("abc123", "abc123"));
    EXPECT_FALSE(common::text::constant_time_equals("abc123", "abc124"));
    EXPECT_FALSE(common::text::constant_time_equals("abc", "abc123"));
    EXPECT_FALSE(common::text::constant_time_equals("", "")) << "an empty key never authenticates";
}

TEST(Text, RedactsTokensInEveryForm) {
    std::string token = "SECRETTOKEN123";
    std::string r = common::text::redact(
        "GET /x?X-Plex-Token=abc&y=1 apikey=zzz token " + token + " {\"authToken\":\"qq\"}", {token});
    EXPECT_EQ(r.find("abc"), std::string::npos);
    EXPECT_EQ(r.find("zzz"), std::string::npos);
    EXPECT_EQ(r.find(token), std::string::npos);
    EXPECT_EQ(r.find("qq"), std::string::npos);
    EXPECT_NE(r.find("y=1"), std::string::npos);
}

TEST(Url, ParsesPlexShapes) {
    auto u = http::parse_url("https://172-18-0-3.client-id2.plex.direct:32400/identity?x=1");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->port, 32400);
    EXPECT_EQ(u->target, "/identity?x=1");
    EXPECT_EQ(u->origin(), "https://172-18-0-3.client-id2.plex.direct:32400");
    auto v6 = http::parse_url("http://[::1]:8080");
    ASSERT_TRUE(v6);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->origin(), "http://[::1]:8080");
    EXPECT_EQ(http::parse_url("https://plex.tv")->port, 443);
    EXPECT_FALSE(http::parse_url("ftp://x"));
    EXPECT_FALSE(http::parse_url("http://user@host/"));
    EXPECT_FALSE(http::parse_url("http://host:99999/"));
    EXPECT_EQ(http::join_url("https://plex.tv/", "/api/v2/pins"), "https://plex.tv/api/v2/pins");
    // RFC 3986 (Boost.URL): case, fragments, encoded targets, odd hosts.
    auto up = http::parse_url("HTTPS://Plex.TV:0443/a%20b?x=%2F&y#frag");
    ASSERT_TRUE(up);
    EXPECT_EQ(up->scheme, "https");
    EXPECT_EQ(up->host, "plex.tv");
    EXPECT_EQ(up->port, 443);
    EXPECT_EQ(up->target, "/a%20b?x=%2F&y") << "kept encoded, no fragment";
    EXPECT_EQ(http::parse_url("http://10.0.0.5")->target, "/");
    EXPECT_EQ(http::parse_url("http://[fe80::1:2]/")->host, "fe80::1:2");
    EXPECT_EQ(http::parse_url("http://h:/")->port, 80) << "an empty port is the default";
    EXPECT_FALSE(http::parse_url("http://ex%61mple.com/")) << "no escapes in a host name";
    EXPECT_FALSE(http::parse_url("http://h/a b")) << "a raw space is not a URL";
    EXPECT_FALSE(http::parse_url("http:///path"));
    EXPECT_FALSE(http::parse_url("http://h:0/"));
    EXPECT_FALSE(http::parse_url("http://[::1/"));
    EXPECT_FALSE(http::parse_url("//plex.tv/"));
}

TEST(Json, LenientReaders) {
    auto v = common::json::parse_lenient("\n\n{\"a\":\"3\",\"b\":3,\"c\":\"1\",\"d\":false,\"e\":null}");
    ASSERT_TRUE(v);
    EXPECT_EQ(common::json::get_int(*v, "a"), 3);
    EXPECT_EQ(common::json::get_int(*v, "b"), 3);
    EXPECT_EQ(common::json::get_bool(*v, "c"), true);
    EXPECT_EQ(common::json::get_bool(*v, "d"), false);
    EXPECT_FALSE(common::json::get_string(*v, "e")) << "null is not a string";
    EXPECT_FALSE(common::json::get_int(*v, "missing"));
    EXPECT_EQ(common::json::sanitize_utf8("\xC4\xE4nikirjat"), "\xEF\xBF\xBD\xEF\xBF\xBDnikirjat");
}

TEST(Fs, AtomicWriteNeverLeavesAHalfFile) {
    auto dir = temp_dir();
    auto path = common::fs::join(dir, "settings.json");
    ASSERT_TRUE(common::fs::atomic_write(path, "one"));
    ASSERT_TRUE(common::fs::atomic_write(path, "two"));
    EXPECT_EQ(*common::fs::read_file(path), "two");
    // A write that cannot complete leaves the old file and says why.
    auto failed = common::fs::atomic_write(common::fs::join(dir + "/missing-dir", "x.json"), "three");
    EXPECT_FALSE(failed);
    std::string err = failed ? "" : failed.error().message;
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;
    EXPECT_EQ(*common::fs::read_file(path), "two");
    for (const auto& e : std::filesystem::directory_iterator(dir))
        EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "temp file left behind";
}

TEST(Fs, AFailedWriteMidFileLosesNothing) {
    // A file-size limit makes write() fail part-way, as a full disk does.
    auto dir = temp_dir();
    auto path = common::fs::join(dir, "settings.json");
    ASSERT_TRUE(common::fs::atomic_write(path, "original"));
    struct rlimit old {};
    ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
    auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit small = old;
    small.rlim_cur = 16;
    ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
    auto written = common::fs::atomic_write(path, std::string(4096, 'x'));
    bool ok = written.ok();
    std::string err = ok ? "" : written.error().message;
    setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    EXPECT_FALSE(ok);
    EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
    EXPECT_EQ(*common::fs::read_file(path), "original");
    for (const auto& e : std::filesystem::directory_iterator(dir))
        EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << "temp file left behind";
}

TEST(Settings, DefaultsAreValid) {
    EXPECT_TRUE(settings::validate(settings::defaults())) << "the defaults are valid";
    auto s = settings::parse(settings::defaults());
    EXPECT_EQ(s.plextv_url, "https://plex.tv");
    EXPECT_EQ(s.auth_app_url, "https://app.plex.tv/auth");
    EXPECT_EQ(s.webhook_events, (std::vector<std::string>{"media.play", "playback.started"}));
}

TEST(Settings, ErrorsNameTheField) {
    auto check = [](const char* js, const char* field) {
        auto problem = settings::validate(bj::parse(js).as_object());
        ASSERT_FALSE(problem) << js;
        EXPECT_EQ(problem.error().message.rfind(field, 0), 0u) << problem.error().message;
    };
    check(R"({"port": 0})", "port");
    check(R"({"port": "32400"})", "port");
    check(R"({"auth_method": "password"})", "auth_method");
    check(R"({"use_plex": "yes"})", "use_plex");
    check(R"({"plextv_url": "plex.tv"})", "plextv_url");
    check(R"({"movie_library": [1,2]})", "movie_library");
    check(R"({"ip": "a b"})", "ip");
    check(R"({"no_such_thing": 1})", "no_such_thing");
    EXPECT_TRUE(settings::validate(bj::parse(R"({"server_url": ""})").as_object()));
}

TEST(Vault, SealsWithAFreshNonceAndOpens) {
    auto dir = temp_dir();
    auto opened = vault::Vault::open(dir);
    ASSERT_TRUE(opened) << opened.error().message;
    auto& v = *opened;
    struct stat st {};
    ASSERT_EQ(::stat(v->key_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << "the key file must be private";
    EXPECT_EQ(st.st_size, 32);
    auto a = v->seal("my-plex-token");
    auto b = v->seal("my-plex-token");
    EXPECT_EQ(a.rfind("v1:", 0), 0u);
    EXPECT_NE(a, b) << "a random nonce per write";
    EXPECT_EQ(a.find("my-plex-token"), std::string::npos);
    auto back = v->unseal(a);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->str(), "my-plex-token");
    // Reopening reads the same key.
    auto again = vault::Vault::open(dir);
    EXPECT_EQ((*again)->unseal(b)->str(), "my-plex-token");
}

TEST(Vault, WrongKeyAndTamperingAreDetected) {
    auto v1 = std::move(vault::Vault::open(temp_dir())).value();
    auto v2 = std::move(vault::Vault::open(temp_dir())).value();
    auto sealed = v1->seal("token");
    auto code = [](const common::Result<vault::Secret>& r) { return r ? common::Errc::internal : r.error().code; };
    auto other = v2->unseal(sealed);
    EXPECT_FALSE(other);
    EXPECT_EQ(code(other), common::Errc::secret_wrong_key);
    std::string tampered = sealed;
    tampered[tampered.size() - 3] = tampered[tampered.size() - 3] == 'A' ? 'B' : 'A';
    auto bad = v1->unseal(tampered);
    EXPECT_FALSE(bad);
    EXPECT_TRUE(code(bad) == common::Errc::secret_wrong_key || code(bad) == common::Errc::secret_damaged);
    auto garbage = v1->unseal("v1:!!!");
    EXPECT_FALSE(garbage);
    EXPECT_EQ(code(garbage), common::Errc::secret_damaged);
    auto plain = v1->unseal("plaintext");
    EXPECT_FALSE(plain);
    EXPECT_EQ(code(plain), common::Errc::secret_not_sealed);
    EXPECT_NE(other.error().message.find("key"), std::string::npos);
}

TEST(Vault, DamagedKeyFileIsRefusedInWords) {
    auto dir = temp_dir();
    ASSERT_TRUE(common::fs::atomic_write(common::fs::join(dir, "plexbridge.key"), "short", 0600));
    auto v = vault::Vault::open(dir);
    ASSERT_FALSE(v);
    EXPECT_NE(v.error().message.find("damaged"), std::string::npos) << v.error().message;
}

TEST(Vault, RotationReencrypts) {
    auto dir = temp_dir();
    auto v = std::move(vault::Vault::open(dir)).value();
    auto old_sealed = v->seal("token");
    ASSERT_TRUE(v->begin_rotation());
    auto new_sealed = v->reseal(old_sealed);
    ASSERT_TRUE(new_sealed) << new_sealed.error().message;
    ASSERT_TRUE(v->finish_rotation());
    auto reopened = std::move(vault::Vault::open(dir)).value();
    EXPECT_EQ(reopened->unseal(*new_sealed)->str(), "token");
    EXPECT_FALSE(reopened->unseal(old_sealed)) << "the old key is gone";
}

TEST(Vault, RotationSurvivesACrashAfterEveryStep) {
    // The process may die after any step of a rotation; reopening the vault
    // from disk must still open every secret, whichever key sealed it.
    auto dir = temp_dir();
    std::string old_sealed;
    {
        auto v = std::move(vault::Vault::open(dir)).value();
        old_sealed = v->seal("token");
        ASSERT_TRUE(v->begin_rotation());
    }  // dies after writing the new key
    std::string new_sealed;
    {
        auto v = std::move(vault::Vault::open(dir)).value();
        EXPECT_TRUE(v->rotation_pending()) << "the new key was found";
        EXPECT_EQ(v->unseal(old_sealed)->str(), "token");
        new_sealed = std::move(v->reseal(old_sealed)).value();
        EXPECT_EQ(v->unseal(new_sealed)->str(), "token");
    }  // dies after re-sealing, before the rename
    {
        auto v = std::move(vault::Vault::open(dir)).value();
        EXPECT_TRUE(v->rotation_pending());
        EXPECT_EQ(v->unseal(old_sealed)->str(), "token") << "a secret not stored yet still opens";
        EXPECT_EQ(v->unseal(new_sealed)->str(), "token");
        ASSERT_TRUE(v->finish_rotation());
        EXPECT_FALSE(v->rotation_pending());
    }  // the rename landed
    auto v = std::move(vault::Vault::open(dir)).value();
    EXPECT_FALSE(v->rotation_pending());
    EXPECT_EQ(v->unseal(new_sealed)->str(), "token");
    EXPECT_FALSE(v->unseal(old_sealed)) << "the old key is destroyed";
    EXPECT_FALSE(std::filesystem::exists(v->key_path() + ".next"));
    // A half-written new key (the temp file of an atomic write) is ignored.
    ASSERT_TRUE(common::fs::atomic_write(v->key_path() + ".next.tmp.abc", "partial", 0600));
    auto again = std::move(vault::Vault::open(dir)).value();
    EXPECT_FALSE(again->rotation_pending());
    EXPECT_EQ(again->unseal(new_sealed)->str(), "token");
}

TEST(Vault, ADamagedPendingKeyIsSetAsideNotUsed) {
    auto dir = temp_dir();
    auto v = std::move(vault::Vault::open(dir)).value();
    auto sealed = v->seal("token");
    ASSERT_TRUE(common::fs::atomic_write(v->key_path() + ".next", "short", 0600));
    auto reopened = std::move(vault::Vault::open(dir)).value();
    EXPECT_FALSE(reopened->rotation_pending());
    EXPECT_EQ(reopened->unseal(sealed)->str(), "token");
    EXPECT_TRUE(std::filesystem::exists(v->key_path() + ".next.bad")) << "kept for inspection";
}

TEST(Errors, EveryCodeAnswersARouteWithAStatusAndAName) {
    using common::Errc;
    using common::Peer;
    for (int c = static_cast<int>(Errc::invalid_request); c <= static_cast<int>(Errc::wrong_pin); ++c) {
        for (Peer p : {Peer::local, Peer::plextv, Peer::pms}) {
            common::Error e(static_cast<Errc>(c), "x", p);
            auto a = common::route_answer(e);
            SCOPED_TRACE(std::string(common::to_string(e.code)));
            EXPECT_NE(common::to_string(e.code), "unknown");
            EXPECT_GE(a.status, 400);
            EXPECT_EQ(a.name.rfind("PLEX_", 0), 0u);
        }
    }
    // Who failed decides the name: plex.tv down is not your server down.
    auto tv = common::route_answer(common::Error(Errc::timed_out, "", Peer::plextv));
    EXPECT_EQ(tv.status, 504);
    EXPECT_EQ(tv.name, "PLEX_TV_TIMEOUT");
    auto pms = common::route_answer(common::Error(Errc::refused, "", Peer::pms));
    EXPECT_EQ(pms.status, 503);
    EXPECT_EQ(pms.name, "PLEX_SERVER_UNREACHABLE");
    EXPECT_EQ(common::route_answer(common::Error(Errc::pin_expired, "")).status, 410);
    EXPECT_EQ(common::route_answer(common::Error(Errc::no_server, "")).name, "PLEX_NO_SERVER");
    auto e = common::Error(Errc::refused, "refused the connection", Peer::pms).context("Could not read the libraries");
    EXPECT_EQ(e.message, "Could not read the libraries: refused the connection");
    EXPECT_EQ(common::answered_http("plex.tv", 503), "plex.tv answered HTTP 503");
}

TEST(Vault, SecretsWipeThemselves) {
    vault::Secret s(std::string("abcdef"));
    const char* data = s.str().data();
    s.wipe();
    EXPECT_TRUE(s.empty());
    (void)data;  // the buffer was zeroed before release (sodium_memzero)
    vault::Secret moved(std::string("xyz"));
    vault::Secret target(std::move(moved));
    EXPECT_TRUE(moved.empty());
    EXPECT_EQ(target.str(), "xyz");
}

TEST(PinTable, StateExpiryAndBounds) {
    using namespace std::chrono;
    auth::PinTable t(3, seconds(3600));
    auto now = steady_clock::now();
    t.add(1, "c1", "s1", 900, false, now);  // plex.tv's expiresIn, as in the captures
    auth::PendingPin p;
    EXPECT_EQ(t.find(1, "s1", &p, now), auth::PinLookup::found);
    EXPECT_EQ(t.find(1, "nope", &p, now), auth::PinLookup::state_mismatch);
    EXPECT_EQ(t.find(2, "s1", &p, now), auth::PinLookup::unknown);
    EXPECT_EQ(t.find(1, "s1", &p, now + minutes(11)), auth::PinLookup::found)
        << "a user who takes eleven minutes to sign in still succeeds";
    EXPECT_EQ(t.find(1, "s1", &p, now + seconds(901)), auth::PinLookup::expired);
    t.add(2, "c2", "s2", 86400, false, now);
    EXPECT_EQ(t.find(2, "s2", &p, now + seconds(3601)), auth::PinLookup::expired) << "never more than an hour";
    t.add(10, "a", "s", 900, false, now);
    t.add(11, "b", "s", 900, false, now + seconds(1));
    t.add(12, "c", "s", 900, false, now + seconds(2));
    t.add(13, "d", "s", 900, false, now + seconds(3));
    EXPECT_EQ(t.size(), 3u) << "bounded";
    EXPECT_EQ(t.find(10, "s", &p, now + seconds(3)), auth::PinLookup::unknown) << "oldest evicted";
}

TEST(Log, TokenNeverReachesTheHost) {
    std::vector<std::string> lines;
    auto secrets = std::make_shared<log::SecretRegistry>();
    log::HostLog hl([&lines](log::Level, std::string_view line) { lines.emplace_back(line); }, secrets);
    secrets->add("tok-ABCDEF-123456");
    hl.logger().info("calling https://plex.tv/api/v2/user?X-Plex-Token={} with {}", "qwerty", "tok-ABCDEF-123456");
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].rfind("[plexbridge] ", 0), 0u);
    EXPECT_EQ(lines[0].find("qwerty"), std::string::npos);
    EXPECT_EQ(lines[0].find("tok-ABCDEF-123456"), std::string::npos);
    hl.detach();
    hl.logger().info("after detach");
    EXPECT_EQ(lines.size(), 1u) << "nothing reaches the host after detach";
}

#include "plugin/plugin.hpp"

TEST(Negotiation, OlderMinorThanNeededIsRefusedInWords) {
    // The shipped plugin needs 1.0; a future one needing 1.2 must refuse a
    // 1.1 host with a reason, and accept 1.2 and 1.3.
    const std::size_t full = sizeof(pb_host_api);
    EXPECT_FALSE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 0), full));
    auto old = pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 1), full, 2);
    ASSERT_TRUE(old);
    EXPECT_NE(old->find("needs at least 1.2"), std::string::npos) << *old;
    EXPECT_NE(old->find("update the host"), std::string::npos);
    EXPECT_FALSE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 2), full, 2));
    EXPECT_FALSE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 3), full, 2));
    EXPECT_TRUE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(2, 0), full));
    EXPECT_TRUE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 0), offsetof(pb_host_api, request_search)));
    EXPECT_FALSE(pb::plugin::check_host_compat(PB_MAKE_ABI_VERSION(1, 1), offsetof(pb_host_api, register_page)))
        << "register_page (1.1) is optional";
}

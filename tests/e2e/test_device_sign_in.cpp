// JWT device sign-in end to end: plexapi::PlexTv over the real http::Client
// against plexsim's JWT authority (sim/sim_jwt.cpp), which checks every
// signature with libsodium. What a user notices: the device signs in
// without a password, its token works on plex.tv and for its servers,
// expiry is renewed with the device key alone, and refusals are in words.
#include <gtest/gtest.h>

#include <ctime>
#include <future>

#include "harness.hpp"
#include "plexapi/device_jwt.hpp"
#include "plexapi/plextv.hpp"

using namespace pb;
using namespace pb::plexapi;
using common::Errc;

namespace {

// Runs one asynchronous PlexTv call and waits for its answer.
template <class T, class Start>
ApiResult<T> await(Start start) {
    auto promise = std::make_shared<std::promise<ApiResult<T>>>();
    auto future = promise->get_future();
    start([promise](ApiResult<T> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
        return common::Error(Errc::timed_out, "the test gave up waiting");
    return future.get();
}

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

class SignInJwt : public ::testing::Test {
protected:
    void SetUp() override {
        sim.add_demo_world();
        sim.start();
        PlexTvOptions o;
        o.base_url = sim.plextv_url();
        o.clients_base_url = sim.plextv_url();
        o.on_token_rejected = [this](const std::string&) { ++rejected; };
        ClientIdentity id;
        id.client_identifier = client_id;
        tv = std::make_unique<PlexTv>(caller.client(), id, o);
        key = std::move(make_device_key()).value();
    }

    ApiResult<bool> register_key(const DeviceKey& k) {
        return await<bool>([&](auto cb) { tv->register_device_key(sim.account_token(), public_jwk(k), cb); });
    }
    ApiResult<std::string> nonce() {
        return await<std::string>([&](auto cb) { tv->get_nonce(cb); });
    }
    ApiResult<std::string> exchange(const std::string& device_jwt) {
        return await<std::string>([&](auto cb) { tv->exchange_device_jwt(device_jwt, cb); });
    }
    std::string keys() {
        auto k = await<std::string>([&](auto cb) { tv->get_jwt_keys(cb); });
        return k ? *k : "";
    }
    // nonce -> device JWT -> /auth/token: what a refresh is, too.
    ApiResult<std::string> token_for(const DeviceKey& k) {
        auto n = nonce();
        if (!n) return n.error();
        return exchange(sign_device_jwt(k, client_id, *n, kDefaultJwtScope, now()));
    }
    ApiResult<Account> account(const std::string& token) {
        return await<Account>([&](auto cb) { tv->get_account(token, cb); });
    }

    sim::Simulator sim;
    pbtest::Caller caller;
    std::string client_id = "plexbridge-jwt-device-1";
    std::unique_ptr<PlexTv> tv;
    DeviceKey key;
    std::atomic<int> rejected{0};
};

TEST_F(SignInJwt, TheDeviceKeySignsInAndThePlexJwtWorksOnPlexTvAndForTheServer) {
    auto reg = register_key(key);
    ASSERT_TRUE(reg) << reg.error().message;
    auto token = token_for(key);
    ASSERT_TRUE(token) << token.error().message;
    EXPECT_NE(*token, sim.account_token()) << "a Plex JWT, not the classic token";

    auto claims = verify_plex_jwt(*token, keys(), client_id, key_id(key), now());
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->username, sim.account().username);
    EXPECT_EQ(claims->thumbprint, key_id(key));
    EXPECT_GE(claims->expires_at - claims->issued_at, 7 * 24 * 3600 - 1) << "lives about 7 days";
    EXPECT_FALSE(claims->needs_refresh(now()));

    auto acct = account(*token);
    ASSERT_TRUE(acct) << acct.error().message;
    EXPECT_EQ(acct->username, sim.account().username);
    auto res = await<std::vector<Resource>>([&](auto cb) { tv->get_resources(*token, cb); });
    ASSERT_TRUE(res) << res.error().message;
    ASSERT_FALSE(res->empty());
    const Resource& server = res->front();
    ASSERT_TRUE(server.owned);
    EXPECT_NE(server.access_token, *token) << "the server gets its access token, never the JWT";
    std::string pms;
    for (const auto& c : server.connections)
        if (c.uri.rfind("http://", 0) == 0) pms = c.uri;
    ASSERT_FALSE(pms.empty());
    EXPECT_EQ(caller.call("GET", pms + "/", "", {{"X-Plex-Token", server.access_token}})->status, 200)
        << "the server accepts the access token plex.tv listed";

    // What went over the wire: no classic token on the JWT calls but /jwk,
    // JSON asked for, the client identifier sent.
    auto jwk_calls = sim.requests_matching("POST", "/api/v2/auth/jwk");
    ASSERT_EQ(jwk_calls.size(), 1u);
    EXPECT_EQ(jwk_calls[0].token, sim.account_token());
    EXPECT_EQ(jwk_calls[0].status, 201);
    for (const char* path : {"/api/v2/auth/nonce", "/api/v2/auth/token", "/api/v2/auth/keys"}) {
        auto calls = sim.requests_matching("", path);
        ASSERT_FALSE(calls.empty()) << path;
        EXPECT_TRUE(calls[0].token.empty()) << path;
        EXPECT_NE(calls[0].accept.find("application/json"), std::string::npos) << path;
        EXPECT_EQ(calls[0].client_identifier, client_id) << path;
    }
    EXPECT_EQ(rejected, 0);
}

TEST_F(SignInJwt, RegisteringTheSameKeyTwiceIsRefusedInWords) {
    ASSERT_TRUE(register_key(key));
    auto again = register_key(key);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::bad_answer);
    EXPECT_EQ(again.error().http_status, 422);
    EXPECT_NE(again.error().message.find("already registered"), std::string::npos) << again.error().message;
    auto stranger = await<bool>([&](auto cb) { tv->register_device_key("not-a-token", public_jwk(key), cb); });
    ASSERT_FALSE(stranger);
    EXPECT_EQ(stranger.error().code, Errc::token_rejected) << "/auth/jwk needs the account's token";
}

TEST_F(SignInJwt, ADeviceJwtSignedByAnotherKeyIsRefusedInWords) {
    ASSERT_TRUE(register_key(key));
    auto other = std::move(make_device_key()).value();
    // The other key, under its own id: plex.tv does not know it.
    auto unknown = exchange(sign_device_jwt(other, client_id, *nonce(), kDefaultJwtScope, now()));
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().code, Errc::bad_answer);
    EXPECT_EQ(unknown.error().http_status, 422);
    EXPECT_NE(unknown.error().message.find("refused the device sign-in"), std::string::npos);
    EXPECT_NE(unknown.error().message.find("Unknown device key"), std::string::npos) << unknown.error().message;
    // The other key under our key's id: the signature does not match.
    auto genuine = sign_device_jwt(key, client_id, *nonce(), kDefaultJwtScope, now());
    auto input = genuine.substr(0, genuine.rfind('.'));
    auto forged = exchange(input + "." + sign_jws(other, input));
    ASSERT_FALSE(forged);
    EXPECT_EQ(forged.error().http_status, 422);
    EXPECT_NE(forged.error().message.find("Bad signature"), std::string::npos) << forged.error().message;
    EXPECT_TRUE(exchange(genuine)) << "the nonce was not spent by the forgery";
    EXPECT_EQ(rejected, 0) << "a refused device JWT is not a dead account token";
}

TEST_F(SignInJwt, ANonceIsGoodForOneTokenOnly) {
    ASSERT_TRUE(register_key(key));
    auto device_jwt = sign_device_jwt(key, client_id, *nonce(), kDefaultJwtScope, now());
    ASSERT_TRUE(exchange(device_jwt));
    auto replay = exchange(device_jwt);
    ASSERT_FALSE(replay);
    EXPECT_EQ(replay.error().http_status, 422);
    EXPECT_NE(replay.error().message.find("Nonce already used"), std::string::npos) << replay.error().message;
    auto made_up = exchange(sign_device_jwt(key, client_id, "made-up-nonce", kDefaultJwtScope, now()));
    ASSERT_FALSE(made_up);
    EXPECT_NE(made_up.error().message.find("nonce"), std::string::npos) << made_up.error().message;
    auto stale = exchange(sign_device_jwt(key, client_id, *nonce(), kDefaultJwtScope, now() - 400));
    ASSERT_FALSE(stale);
    EXPECT_NE(stale.error().message.find("expired"), std::string::npos) << stale.error().message;
}

TEST_F(SignInJwt, ANonceFloodIsRateLimited) {
    sim.set_nonce_limit(3);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(nonce()) << i;
    auto started = std::chrono::steady_clock::now();
    auto flooded = nonce();
    ASSERT_FALSE(flooded);
    EXPECT_EQ(flooded.error().code, Errc::rate_limited);
    EXPECT_NE(flooded.error().message.find("asks to wait"), std::string::npos) << flooded.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5)) << "a minute's wait is not waited";
    auto answers = sim.requests_matching("GET", "/api/v2/auth/nonce");
    ASSERT_EQ(answers.size(), 4u);
    EXPECT_EQ(answers.back().status, 429);
}

TEST_F(SignInJwt, AnExpiredPlexJwtIs498AndTheDeviceKeyAloneRenewsIt) {
    ASSERT_TRUE(register_key(key));
    auto token = token_for(key);
    ASSERT_TRUE(token);
    ASSERT_TRUE(account(*token));
    sim.expire_jwts();
    auto expired = account(*token);
    ASSERT_FALSE(expired);
    EXPECT_EQ(expired.error().code, Errc::token_expired);
    EXPECT_EQ(expired.error().http_status, 498);
    EXPECT_NE(expired.error().message.find("renewed with the device key"), std::string::npos);
    auto route = common::route_answer(expired.error());
    EXPECT_EQ(route.status, 401);
    EXPECT_EQ(route.name, "PLEX_TOKEN_EXPIRED");
    EXPECT_EQ(rejected, 0) << "expired is not revoked: no sign-out";

    sim.clear_requests();
    auto renewed = token_for(key);  // no old token, no classic token
    ASSERT_TRUE(renewed) << renewed.error().message;
    EXPECT_NE(*renewed, *token);
    EXPECT_TRUE(account(*renewed));
    EXPECT_TRUE(await<bool>([&](auto cb) { tv->ping(*renewed, cb); }));
    for (const auto& r : sim.requests_matching("", "/api/v2/auth/")) EXPECT_TRUE(r.token.empty()) << r.path;
    EXPECT_FALSE(account(*token)) << "the old one stays expired";
}

TEST_F(SignInJwt, AShortLivedPlexJwtAsksForRefreshAndExpiresOnItsOwn) {
    sim.set_jwt_lifetime(std::chrono::seconds(2));
    ASSERT_TRUE(register_key(key));
    auto token = token_for(key);
    ASSERT_TRUE(token);
    auto claims = read_plex_jwt(*token);
    ASSERT_TRUE(claims);
    EXPECT_EQ(claims->expires_at - claims->issued_at, 2);
    EXPECT_TRUE(claims->needs_refresh(now()));
    std::this_thread::sleep_for(std::chrono::milliseconds(3100));
    EXPECT_EQ(account(*token).error().code, Errc::token_expired);
}

TEST_F(SignInJwt, AfterAKeyRotationTheNewTokenVerifiesWithTheRotatedSet) {
    ASSERT_TRUE(register_key(key));
    auto before_keys = keys();
    auto first = token_for(key);
    ASSERT_TRUE(first);
    sim.rotate_jwt_key();
    auto second = token_for(key);
    ASSERT_TRUE(second);
    auto rotated = keys();
    EXPECT_EQ(rotated, sim.jwt_keys_json());
    auto set = boost::json::parse(rotated).at("keys").as_array();
    ASSERT_EQ(set.size(), 2u);
    EXPECT_TRUE(verify_plex_jwt(*second, rotated, client_id, key_id(key), now()));
    EXPECT_TRUE(verify_plex_jwt(*first, rotated, client_id, key_id(key), now())) << "older tokens still verify";
    EXPECT_FALSE(verify_plex_jwt(*second, before_keys, client_id, key_id(key), now()))
        << "the new token is signed by the new key, which the old set lacks";
    EXPECT_TRUE(account(*second));
}

TEST_F(SignInJwt, TheJwtPinGivesAPlexJwtOnceLinked) {
    auto pin = await<Pin>([&](auto cb) { tv->create_jwt_pin(public_jwk(key), cb); });
    ASSERT_TRUE(pin) << pin.error().message;
    EXPECT_EQ(pin->code.size(), 25u) << "strong, as asked in the JSON body";
    auto device_jwt = sign_device_jwt(key, client_id, *nonce(), kDefaultJwtScope, now());
    auto waiting = await<Pin>([&](auto cb) { tv->get_jwt_pin(pin->id, device_jwt, cb); });
    ASSERT_TRUE(waiting) << waiting.error().message;
    EXPECT_FALSE(waiting->auth_token) << "not linked yet";

    sim.link_pin(pin->code);
    // The same device JWT for every poll, as python-plexapi does.
    auto linked = await<Pin>([&](auto cb) { tv->get_jwt_pin(pin->id, device_jwt, cb); });
    ASSERT_TRUE(linked) << linked.error().message;
    ASSERT_TRUE(linked->auth_token);
    EXPECT_NE(*linked->auth_token, sim.account_token());
    auto claims = verify_plex_jwt(*linked->auth_token, keys(), client_id, key_id(key), now());
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_EQ(claims->username, sim.account().username);
    EXPECT_TRUE(account(*linked->auth_token));

    // A poll signed by a key the PIN did not register is refused.
    auto other = std::move(make_device_key()).value();
    auto bad = await<Pin>([&](auto cb) {
        tv->get_jwt_pin(pin->id, sign_device_jwt(other, client_id, *nonce(), kDefaultJwtScope, now()), cb);
    });
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().http_status, 422);
    // Without a device JWT, the classic answer: the account's token.
    auto classic = await<Pin>([&](auto cb) { tv->get_pin(pin->id, cb); });
    ASSERT_TRUE(classic);
    EXPECT_EQ(classic->auth_token.value_or(""), sim.account_token());
}

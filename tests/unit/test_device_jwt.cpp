// The JWT device sign-in's offline half: base64url, the device key and its
// JWK, the device JWT plex.tv checks, and our checks of the Plex JWT.
#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/json.hpp>
#include <ctime>

#include "plexapi/device_jwt.hpp"

using namespace pb;
using namespace pb::plexapi;
namespace bj = boost::json;

namespace {

std::string raw(const uint8_t* p, std::size_t n) { return std::string(reinterpret_cast<const char*>(p), n); }

DeviceKey new_key() { return std::move(make_device_key()).value(); }

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

// A Plex JWT as plex.tv would sign it with `signer`.
std::string plex_jwt(const DeviceKey& signer, const bj::object& claims, std::string alg = "EdDSA") {
    bj::object h{{"alg", alg}, {"kid", key_id(signer)}, {"typ", "JWT"}};
    std::string input = base64url_encode(bj::serialize(h)) + "." + base64url_encode(bj::serialize(claims));
    return input + "." + sign_jws(signer, input);
}

bj::object good_claims(const std::string& thumbprint, int64_t at) {
    return bj::object{{"iss", "plex.tv"},
                      {"aud", bj::array{"plex.tv", "client-1"}},
                      {"iat", at},
                      {"exp", at + 7 * 24 * 3600},
                      {"thumbprint", thumbprint},
                      {"user", bj::object{{"id", 12345}, {"uuid", "u-uuid"}, {"username", "plexuser"}}}};
}

std::string keys_of(std::initializer_list<const DeviceKey*> keys) {
    bj::array a;
    for (auto* k : keys) a.push_back(bj::parse(public_jwk(*k)));
    return bj::serialize(bj::object{{"keys", a}});
}

}  // namespace

TEST(DeviceJwt, Base64UrlRoundTripsWithoutPadding) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
        EXPECT_EQ(*base64url_decode(base64url_encode(s)), s);
    EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64url_encode("fo"), "Zm8") << "no padding";
    std::string bytes{'\xfb', '\xff', '\xbf'};
    EXPECT_EQ(base64url_encode(bytes), "-_-_") << "the URL-safe alphabet";
    EXPECT_EQ(*base64url_decode("-_-_"), bytes);
}

TEST(DeviceJwt, Base64UrlRejectsWhatIsNotBase64Url) {
    EXPECT_FALSE(base64url_decode("Zm8="));  // padding
    EXPECT_FALSE(base64url_decode("+/+/"));  // the standard alphabet
    EXPECT_FALSE(base64url_decode("Zm 8"));  // a space
    EXPECT_FALSE(base64url_decode("Z"));     // impossible length
    EXPECT_FALSE(base64url_decode("Zm9"));   // non-zero trailing bits ("Zm8" is "fo")
    EXPECT_EQ(base64url_decode("Zm9").error().code, common::Errc::bad_answer);
}

// RFC 8037 Appendix A.1-A.4: the Ed25519 key and the JWS of "Example of
// Ed25519 signing" with protected header {"alg":"EdDSA"}.
TEST(DeviceJwt, Rfc8037AppendixA4SignatureIsReproduced) {
    auto seed = base64url_decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
    ASSERT_TRUE(seed);
    auto key = device_key_from_seed(*seed);
    ASSERT_TRUE(key);
    EXPECT_EQ(base64url_encode(raw(key->public_key.data(), 32)), "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
    std::string input = base64url_encode(R"({"alg":"EdDSA"})") + "." + base64url_encode("Example of Ed25519 signing");
    EXPECT_EQ(input, "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
    EXPECT_EQ(sign_jws(*key, input),
              "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
}

TEST(DeviceJwt, KeyIdIsSha256OfSeedAndPublicKey) {
    auto k = new_key();
    auto kid = key_id(k);
    ASSERT_EQ(kid.size(), 64u);
    EXPECT_EQ(kid.find_first_not_of("0123456789abcdef"), std::string::npos) << kid;
    std::string both = raw(k.secret.data(), 32) + raw(k.public_key.data(), 32);
    std::array<uint8_t, 32> h{};
    crypto_hash_sha256(h.data(), reinterpret_cast<const uint8_t*>(both.data()), both.size());
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, h.data(), h.size());
    EXPECT_EQ(kid, std::string(hex));
    EXPECT_NE(key_id(new_key()), kid) << "each key its own id";
}

TEST(DeviceJwt, PublicJwkHasTheFieldsPlexTvReadsInOrder) {
    auto k = new_key();
    auto text = public_jwk(k);
    EXPECT_EQ(text.rfind(R"({"kty":"OKP","crv":"Ed25519","x":")", 0), 0u) << text;
    auto o = bj::parse(text).as_object();
    ASSERT_EQ(o.size(), 6u);
    EXPECT_EQ(std::string(o.at("use").as_string()), "sig");
    EXPECT_EQ(std::string(o.at("alg").as_string()), "EdDSA");
    EXPECT_EQ(std::string(o.at("kid").as_string()), key_id(k));
    EXPECT_EQ(*base64url_decode(o.at("x").as_string()), raw(k.public_key.data(), 32));
    EXPECT_EQ(text.find("\"d\""), std::string::npos) << "never the private key";
}

TEST(DeviceJwt, TheSecretKeyRoundTripsThroughTextAndDamageIsSeen) {
    auto k = new_key();
    auto text = serialize_device_key(k);
    auto back = device_key_from(text);
    ASSERT_TRUE(back);
    EXPECT_EQ(back->secret, k.secret);
    EXPECT_EQ(back->public_key, k.public_key);
    EXPECT_EQ(key_id(*back), key_id(k));
    std::string damaged = text;
    damaged[50] = damaged[50] == 'A' ? 'B' : 'A';  // in the public half
    EXPECT_EQ(device_key_from(damaged).error().code, common::Errc::secret_damaged);
    EXPECT_FALSE(device_key_from("short"));
    EXPECT_FALSE(device_key_from(""));
}

TEST(DeviceJwt, DeviceJwtVerifiesWithLibsodiumAndCarriesTheClaims) {
    auto k = new_key();
    int64_t t = 1700000000;
    auto jwt = sign_device_jwt(k, "client-1", "nonce-abc", kDefaultJwtScope, t);
    auto d1 = jwt.find('.'), d2 = jwt.rfind('.');
    ASSERT_NE(d1, d2);
    auto sig = *base64url_decode(jwt.substr(d2 + 1));
    ASSERT_EQ(sig.size(), 64u);
    EXPECT_EQ(crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(sig.data()),
                                          reinterpret_cast<const uint8_t*>(jwt.data()), d2, k.public_key.data()),
              0);
    EXPECT_EQ(*base64url_decode(jwt.substr(0, d1)), R"({"alg":"EdDSA","kid":")" + key_id(k) + R"(","typ":"JWT"})");
    auto c = bj::parse(*base64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1))).as_object();
    EXPECT_EQ(std::string(c.at("nonce").as_string()), "nonce-abc");
    EXPECT_EQ(std::string(c.at("scope").as_string()), "username,email,friendly_name,restricted,anonymous,joinedAt");
    EXPECT_EQ(std::string(c.at("aud").as_string()), "plex.tv");
    EXPECT_EQ(std::string(c.at("iss").as_string()), "client-1");
    EXPECT_EQ(c.at("iat").as_int64(), t);
    EXPECT_EQ(c.at("exp").as_int64(), t + 300);
    // Any change to what was signed breaks the signature.
    std::string other = jwt;
    other[d1 + 3] = other[d1 + 3] == 'a' ? 'b' : 'a';
    EXPECT_NE(crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(sig.data()),
                                          reinterpret_cast<const uint8_t*>(other.data()), d2, k.public_key.data()),
              0);
}

TEST(DeviceJwt, ReadPlexJwtGivesTheBookkeeping) {
    auto plex = new_key();
    auto t = now();
    auto p = read_plex_jwt(plex_jwt(plex, good_claims("kid-1", t)));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->issued_at, t);
    EXPECT_EQ(p->expires_at, t + 7 * 24 * 3600);
    EXPECT_EQ(p->thumbprint, "kid-1");
    EXPECT_EQ(p->username, "plexuser");
    EXPECT_EQ(p->user_uuid, "u-uuid");
    EXPECT_EQ(p->user_id, 12345);
    EXPECT_EQ(p->audience, (std::vector<std::string>{"plex.tv", "client-1"}));
    EXPECT_FALSE(p->needs_refresh(t));
    EXPECT_TRUE(p->needs_refresh(t + 6 * 24 * 3600 + 1)) << "under a day left";
}

TEST(DeviceJwt, VerifyAcceptsAGoodToken) {
    auto plex = new_key();
    auto t = now();
    auto p = verify_plex_jwt(plex_jwt(plex, good_claims("kid-1", t)), keys_of({&plex}), "client-1", "kid-1", t);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->username, "plexuser");
    // aud with only the client id is for us too.
    auto c = good_claims("kid-1", t);
    c["aud"] = "client-1";
    EXPECT_TRUE(verify_plex_jwt(plex_jwt(plex, c), keys_of({&plex}), "client-1", "kid-1", t));
}

TEST(DeviceJwt, VerifyRefusesWhatIsNotPlexTvsForThisDevice) {
    auto plex = new_key();
    auto stranger = new_key();
    auto t = now();
    auto keys = keys_of({&plex});
    auto good = plex_jwt(plex, good_claims("kid-1", t));
    auto expect_refused = [&](const std::string& token, std::string_view kid, const char* says) {
        auto r = verify_plex_jwt(token, keys, "client-1", kid, t);
        ASSERT_FALSE(r) << says;
        EXPECT_EQ(r.error().code, common::Errc::bad_answer);
        EXPECT_NE(r.error().message.find(says), std::string::npos) << r.error().message;
    };
    // A payload changed after signing (another user).
    auto d1 = good.find('.'), d2 = good.rfind('.');
    auto c = good_claims("kid-1", t);
    c["user"].as_object()["username"] = "admin";
    std::string tampered = good.substr(0, d1) + "." + base64url_encode(bj::serialize(c)) + good.substr(d2);
    expect_refused(tampered, "kid-1", "not signed by any");
    expect_refused(good, "kid-2", "another device key");
    auto old = good_claims("kid-1", t - 8 * 24 * 3600);
    expect_refused(plex_jwt(plex, old), "kid-1", "expired");
    expect_refused(plex_jwt(stranger, good_claims("kid-1", t)), "kid-1", "not signed by any");
    // alg "none" with no signature, and with a valid one under another alg.
    bj::object none{{"alg", "none"}, {"typ", "JWT"}};
    expect_refused(base64url_encode(bj::serialize(none)) + "." + good.substr(d1 + 1, d2 - d1 - 1) + ".", "kid-1",
                   "EdDSA");
    expect_refused(plex_jwt(plex, good_claims("kid-1", t), "HS256"), "kid-1", "EdDSA");
    auto wrong_iss = good_claims("kid-1", t);
    wrong_iss["iss"] = "evil.example";
    expect_refused(plex_jwt(plex, wrong_iss), "kid-1", "not issued by plex.tv");
    auto wrong_aud = good_claims("kid-1", t);
    wrong_aud["aud"] = "someone-else";
    expect_refused(plex_jwt(plex, wrong_aud), "kid-1", "someone else");
}

TEST(DeviceJwt, VerifyFindsTheRightKeyAfterARotation) {
    auto older = new_key();
    auto newer = new_key();
    auto t = now();
    auto keys = keys_of({&older, &newer});
    EXPECT_TRUE(verify_plex_jwt(plex_jwt(newer, good_claims("k", t)), keys, "client-1", "k", t));
    EXPECT_TRUE(verify_plex_jwt(plex_jwt(older, good_claims("k", t)), keys, "client-1", "k", t))
        << "a token signed before the rotation still verifies";
    EXPECT_FALSE(verify_plex_jwt(plex_jwt(older, good_claims("k", t)), keys_of({&newer}), "client-1", "k", t))
        << "once plex.tv drops the old key, its tokens no longer verify";
}

TEST(DeviceJwt, HostileInputIsAnErrorNeverAThrow) {
    auto plex = new_key();
    auto keys = keys_of({&plex});
    auto t = now();
    std::vector<std::string> bad = {"",
                                    "a.b",
                                    "a.b.c.d",
                                    "...",
                                    "!!!.###.$$$",
                                    base64url_encode("not json") + "." + base64url_encode("{}") + ".AA",
                                    base64url_encode("[1,2]") + "." + base64url_encode("{}") + ".AA",
                                    base64url_encode(std::string(200, '[')) + "." + base64url_encode("{}") + ".AA",
                                    std::string(17 * 1024, 'A') + ".B.C"};
    for (const auto& token : bad) {
        SCOPED_TRACE(token.substr(0, 40));
        auto r = verify_plex_jwt(token, keys, "client-1", "k", t);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code, common::Errc::bad_answer);
        EXPECT_FALSE(r.error().message.empty());
        EXPECT_FALSE(read_plex_jwt(token));
    }
    auto good = plex_jwt(plex, good_claims("k", t));
    for (std::string ks :
         std::vector<std::string>{"", "not json", "[]", R"({"keys":[]})", R"({"keys":[1,"x",{"kty":"OKP"}]})",
                                  R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"short"}]})", std::string(20000, '{')})
        EXPECT_FALSE(verify_plex_jwt(good, ks, "client-1", "k", t)) << ks.substr(0, 40);
    auto too_big = read_plex_jwt(std::string(17 * 1024, 'A') + ".B.C");
    EXPECT_NE(too_big.error().message.find("16 KiB"), std::string::npos);
}

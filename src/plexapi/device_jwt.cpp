// Ed25519 and SHA-256 come from libsodium; JSON from Boost.JSON with its
// error_code overloads, the whole of each function wrapped so that an
// allocation failure is an Error too. Signatures are compared by libsodium
// (crypto_sign_verify_detached), never by us.
#include "plexapi/device_jwt.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <optional>

#include "common/text.hpp"

namespace pb::plexapi {

namespace bj = boost::json;
using common::Errc;
using common::Error;
using common::Result;

namespace {

Error bad(std::string message) { return Error(Errc::bad_answer, std::move(message), common::Peer::plextv); }

std::string_view bytes_of(const uint8_t* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }

// Wipes a std::string holding secret bytes before it is freed.
struct Wipe {
    std::string& s;
    ~Wipe() { sodium_memzero(s.data(), s.size()); }
};

Result<bj::object> parse_object(std::string_view text, const char* what) {
    bj::parse_options opts;
    opts.max_depth = 16;
    boost::system::error_code ec;
    bj::value v = bj::parse(text, ec, {}, opts);
    if (ec) return bad(std::string(what) + " is not JSON");
    if (!v.is_object()) return bad(std::string(what) + " is not a JSON object");
    return std::move(v.as_object());
}

const bj::string* string_at(const bj::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    return v ? v->if_string() : nullptr;
}

std::optional<int64_t> int_at(const bj::object& o, std::string_view key) {
    auto* v = o.if_contains(key);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX))
        return static_cast<int64_t>(v->as_uint64());
    // Some JWT libraries write NumericDate with a fraction.
    if (v->is_double() && v->as_double() > -9e15 && v->as_double() < 9e15) return static_cast<int64_t>(v->as_double());
    return std::nullopt;
}

// A compact JWS split and decoded: header and claims as objects.
struct Jws {
    std::string_view signing_input;
    std::string signature;
    bj::object header;
    bj::object claims;
};

Result<Jws> split(std::string_view token) {
    if (token.empty()) return bad("the token is empty");
    if (token.size() > kMaxJwtBytes) return bad("the token is longer than 16 KiB");
    auto d1 = token.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return bad("the token is not a JWT (three dot-separated parts)");
    Jws j;
    j.signing_input = token.substr(0, d2);
    auto header = base64url_decode(token.substr(0, d1));
    auto claims = base64url_decode(token.substr(d1 + 1, d2 - d1 - 1));
    auto sig = base64url_decode(token.substr(d2 + 1));
    if (!header || !claims || !sig) return bad("the token is not a JWT (a part is not base64url)");
    auto h = parse_object(*header, "the token's header");
    if (!h) return h.error();
    auto c = parse_object(*claims, "the token's claims");
    if (!c) return c.error();
    j.header = std::move(*h);
    j.claims = std::move(*c);
    j.signature = std::move(*sig);
    return j;
}

Result<PlexJwt> claims_of(const bj::object& c) {
    PlexJwt p;
    auto iat = int_at(c, "iat");
    auto exp = int_at(c, "exp");
    if (!exp) return bad("the Plex token has no expiry (exp)");
    p.expires_at = *exp;
    p.issued_at = iat.value_or(0);
    if (auto* t = string_at(c, "thumbprint")) p.thumbprint = std::string(*t);
    if (auto* aud = c.if_contains("aud")) {
        if (auto* s = aud->if_string()) p.audience.emplace_back(*s);
        if (auto* a = aud->if_array())
            for (const auto& x : *a)
                if (auto* s = x.if_string()) p.audience.emplace_back(*s);
    }
    if (auto* u = c.if_contains("user"); u && u->is_object()) {
        const auto& uo = u->as_object();
        if (auto* s = string_at(uo, "username")) p.username = std::string(*s);
        if (auto* s = string_at(uo, "uuid")) p.user_uuid = std::string(*s);
        p.user_id = int_at(uo, "id").value_or(0);
    }
    return p;
}

bool valid_public_key(std::string_view x, std::array<uint8_t, 32>& out) {
    auto raw = base64url_decode(x);
    if (!raw || raw->size() != out.size()) return false;
    std::copy(raw->begin(), raw->end(), out.begin());
    return true;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
    try {
        std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
        sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        out.resize(std::char_traits<char>::length(out.c_str()));
        return out;
    } catch (...) {
        return {};
    }
}

Result<std::string> base64url_decode(std::string_view text) {
    try {
        if (text.size() > 4 * kMaxJwtBytes) return bad("base64url text too long");
        std::string out(text.size() * 3 / 4 + 3, '\0');
        std::size_t len = 0;
        const char* end = nullptr;
        // libsodium refuses characters outside the URL-safe alphabet,
        // padding (this variant) and non-zero trailing bits.
        if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(),
                              nullptr, &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
            end != text.data() + text.size())
            return bad("not base64url text");
        out.resize(len);
        return out;
    } catch (...) {
        return bad("not base64url text");
    }
}

DeviceKey& DeviceKey::operator=(const DeviceKey& other) {
    if (this != &other) {
        sodium_memzero(secret.data(), secret.size());
        secret = other.secret;
        public_key = other.public_key;
    }
    return *this;
}

DeviceKey::~DeviceKey() { sodium_memzero(secret.data(), secret.size()); }

Result<DeviceKey> make_device_key() {
    if (!common::text::ensure_sodium()) return Error(Errc::internal, "libsodium could not start (no entropy source)");
    DeviceKey k;
    crypto_sign_keypair(k.public_key.data(), k.secret.data());
    return k;
}

Result<DeviceKey> device_key_from_seed(std::string_view seed32) {
    if (!common::text::ensure_sodium()) return Error(Errc::internal, "libsodium could not start (no entropy source)");
    if (seed32.size() != crypto_sign_SEEDBYTES) return Error(Errc::bad_request, "an Ed25519 seed is 32 bytes");
    DeviceKey k;
    crypto_sign_seed_keypair(k.public_key.data(), k.secret.data(), reinterpret_cast<const uint8_t*>(seed32.data()));
    return k;
}

std::string serialize_device_key(const DeviceKey& key) {
    return base64url_encode(bytes_of(key.secret.data(), key.secret.size()));
}

Result<DeviceKey> device_key_from(std::string_view text) {
    auto raw = base64url_decode(text);
    if (!raw || raw->size() != crypto_sign_SECRETKEYBYTES)
        return Error(Errc::secret_damaged, "the stored device key is damaged; sign in again");
    Wipe wipe{*raw};
    auto k = device_key_from_seed(std::string_view(*raw).substr(0, crypto_sign_SEEDBYTES));
    if (!k) return k.error();
    if (sodium_memcmp(k->secret.data(), raw->data(), crypto_sign_SECRETKEYBYTES) != 0)
        return Error(Errc::secret_damaged, "the stored device key is damaged; sign in again");
    return k;
}

std::string key_id(const DeviceKey& key) {
    // python-plexapi: sha256(private_raw32 + public_raw32), i.e. libsodium's
    // 64-byte secret key as it is laid out.
    std::array<uint8_t, crypto_hash_sha256_BYTES> h{};
    crypto_hash_sha256(h.data(), key.secret.data(), key.secret.size());
    std::string hex(h.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
    hex.pop_back();
    return hex;
}

std::string public_jwk(const DeviceKey& key) {
    try {
        bj::object o;
        o["kty"] = "OKP";
        o["crv"] = "Ed25519";
        o["x"] = base64url_encode(bytes_of(key.public_key.data(), key.public_key.size()));
        o["use"] = "sig";
        o["alg"] = "EdDSA";
        o["kid"] = key_id(key);
        return bj::serialize(o);
    } catch (...) {
        return {};
    }
}

std::string sign_jws(const DeviceKey& key, std::string_view signing_input) {
    std::array<uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(signing_input.data()),
                         signing_input.size(), key.secret.data());
    return base64url_encode(bytes_of(sig.data(), sig.size()));
}

std::string sign_device_jwt(const DeviceKey& key, std::string_view client_id, std::string_view nonce,
                            std::string_view scope, int64_t now_unix) {
    try {
        bj::object h;
        h["alg"] = "EdDSA";
        h["kid"] = key_id(key);
        h["typ"] = "JWT";
        bj::object c;
        c["nonce"] = nonce;
        c["scope"] = scope;
        c["aud"] = "plex.tv";
        c["iss"] = client_id;
        c["iat"] = now_unix;
        c["exp"] = now_unix + kDeviceJwtLifetimeS;
        std::string input = base64url_encode(bj::serialize(h)) + "." + base64url_encode(bj::serialize(c));
        return input + "." + sign_jws(key, input);
    } catch (...) {
        return {};
    }
}

Result<PlexJwt> read_plex_jwt(std::string_view token) {
    try {
        auto j = split(token);
        if (!j) return j.error();
        return claims_of(j->claims);
    } catch (...) {
        return bad("the Plex token could not be read");
    }
}

Result<PlexJwt> verify_plex_jwt(std::string_view token, std::string_view keys_json, std::string_view client_id,
                                std::string_view kid, int64_t now_unix) {
    try {
        auto j = split(token);
        if (!j) return j.error();
        auto* alg = string_at(j->header, "alg");
        if (!alg || *alg != "EdDSA") return bad("the Plex token is not signed with EdDSA (Ed25519)");
        if (j->signature.size() != crypto_sign_BYTES) return bad("the Plex token's signature has the wrong length");
        if (keys_json.size() > kMaxJwtBytes) return bad("plex.tv's key list is longer than 16 KiB");
        auto set = parse_object(keys_json, "plex.tv's key list");
        if (!set) return set.error();
        auto* keys = set->if_contains("keys");
        if (!keys || !keys->is_array() || keys->as_array().empty()) return bad("plex.tv's key list holds no keys");
        if (!common::text::ensure_sodium()) return Error(Errc::internal, "libsodium could not start");
        // plex.tv rotates its keys: the newest is last (python-plexapi #1577).
        bool signed_by_one = false;
        const auto& arr = keys->as_array();
        for (auto it = arr.rbegin(); it != arr.rend() && !signed_by_one; ++it) {
            if (!it->is_object()) continue;
            const auto& k = it->as_object();
            auto* kty = string_at(k, "kty");
            auto* crv = string_at(k, "crv");
            auto* x = string_at(k, "x");
            std::array<uint8_t, 32> pub{};
            if (!kty || *kty != "OKP" || !crv || *crv != "Ed25519" || !x || !valid_public_key(*x, pub)) continue;
            signed_by_one = crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(j->signature.data()),
                                                        reinterpret_cast<const uint8_t*>(j->signing_input.data()),
                                                        j->signing_input.size(), pub.data()) == 0;
        }
        if (!signed_by_one) return bad("the Plex token is not signed by any of plex.tv's keys");
        auto* iss = string_at(j->claims, "iss");
        if (!iss || *iss != "plex.tv") return bad("the Plex token was not issued by plex.tv");
        auto p = claims_of(j->claims);
        if (!p) return p.error();
        if (!j->claims.if_contains("iat")) return bad("the Plex token has no issue time (iat)");
        bool for_us = std::any_of(p->audience.begin(), p->audience.end(),
                                  [&](const std::string& a) { return a == "plex.tv" || a == client_id; });
        if (!for_us) return bad("the Plex token is meant for someone else (audience)");
        if (p->expires_at <= now_unix) return bad("the Plex token has expired");
        // A clock a few minutes apart is not a forgery; an hour is.
        if (p->issued_at > now_unix + 3600) return bad("the Plex token was issued in the future (check the clock)");
        if (p->thumbprint.empty() || p->thumbprint != kid)
            return bad("the Plex token was issued to another device key");
        return p;
    } catch (...) {
        return bad("the Plex token could not be checked");
    }
}

}  // namespace pb::plexapi

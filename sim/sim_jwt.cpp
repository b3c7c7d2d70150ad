// What real clients.plex.tv answers is known only from python-plexapi and
// third-party reports (docs/notes/plex-accounts-wire.md §1): the paths,
// the JSON fields, auth_token, {"keys":[...]}, the claims. The statuses of
// failures are inferred: 422 for a refused key or device JWT (a Qt client
// reads 422 as "key already registered"), 429 with Retry-After for too
// many nonces, 498 for an expired Plex JWT. No capture of their bodies
// exists; the error codes below (1099) are ours.
#include "sim_jwt.hpp"

#include <sodium.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <iterator>

#include "common/text.hpp"

namespace pb::sim {

namespace bj = boost::json;

namespace {

constexpr int kRefused = 1099;  // inferred: plex.tv's code for these is not known
constexpr auto kNonceLife = std::chrono::minutes(5);
constexpr auto kNonceWindow = std::chrono::seconds(60);
constexpr int64_t kDeviceJwtMaxLifeS = 300;
constexpr std::size_t kMaxJwtBytes = 16 * 1024;

int64_t now_unix() { return static_cast<int64_t>(std::time(nullptr)); }

JwtReply ok(int status, std::string json) { return JwtReply{status, std::move(json), 0, "", 0}; }
JwtReply refused(std::string message, int status = 422) {
    return JwtReply{status, "", kRefused, std::move(message), 0};
}

std::string b64url(const uint8_t* p, std::size_t n) {
    std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
    sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}
std::string b64url(std::string_view s) { return b64url(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

std::optional<std::string> unb64url(std::string_view s) {
    std::string out(s.size() * 3 / 4 + 3, '\0');
    std::size_t len = 0;
    const char* end = nullptr;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(), s.size(), nullptr, &len,
                          &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != s.data() + s.size())
        return std::nullopt;
    out.resize(len);
    return out;
}

std::optional<bj::object> object_of(std::string_view text) {
    boost::system::error_code ec;
    bj::parse_options opts;
    opts.max_depth = 16;
    auto v = bj::parse(text, ec, {}, opts);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::string str(const bj::object& o, std::string_view k) {
    auto* v = o.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::optional<int64_t> num(const bj::object& o, std::string_view k) {
    auto* v = o.if_contains(k);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64() && v->as_uint64() < (1ULL << 62)) return static_cast<int64_t>(v->as_uint64());
    return std::nullopt;
}

std::string sha256_hex(const uint8_t* p, std::size_t n) {
    std::array<uint8_t, crypto_hash_sha256_BYTES> h{};
    crypto_hash_sha256(h.data(), p, n);
    std::string hex(h.size() * 2 + 1, '\0');
    sodium_bin2hex(hex.data(), hex.size(), h.data(), h.size());
    hex.pop_back();
    return hex;
}

}  // namespace

JwtAuthority::JwtAuthority() {
    (void)common::text::ensure_sodium();
    rotate_key();
}

void JwtAuthority::rotate_key() {
    Key k;
    crypto_sign_keypair(k.pub.data(), k.secret.data());
    k.kid = "plexsim-" + sha256_hex(k.pub.data(), k.pub.size()).substr(0, 24);
    keys_.push_back(std::move(k));  // old keys stay listed, first
}

void JwtAuthority::expire_all() {
    for (auto& [token, issued] : issued_) issued.exp = 0;
}

std::string JwtAuthority::keys_json() const {
    bj::array a;
    for (const auto& k : keys_)
        a.push_back(bj::object{{"kty", "OKP"},
                               {"crv", "Ed25519"},
                               {"x", b64url(k.pub.data(), k.pub.size())},
                               {"use", "sig"},
                               {"alg", "EdDSA"},
                               {"kid", k.kid}});
    return bj::serialize(bj::object{{"keys", a}});
}

JwtAuthority::TokenState JwtAuthority::check(const std::string& token, JwtUser* who) const {
    auto it = issued_.find(token);
    if (it == issued_.end()) return TokenState::not_ours;
    if (who) *who = it->second.user;
    return it->second.exp > now_unix() ? TokenState::valid : TokenState::expired;
}

JwtReply JwtAuthority::register_jwk(const std::string& client_id, std::string_view jwk_json, bool again_is_error,
                                    const JwtUser* owner) {
    auto jwk = object_of(jwk_json);
    if (!jwk) return refused("jwk must be a JSON Web Key");
    if (str(*jwk, "kty") != "OKP" || str(*jwk, "crv") != "Ed25519")
        return refused("Only Ed25519 keys (kty OKP, crv Ed25519) are supported");
    auto x = unb64url(str(*jwk, "x"));
    std::string kid = str(*jwk, "kid");
    if (!x || x->size() != 32) return refused("jwk.x is not a base64url Ed25519 public key");
    if (kid.empty() || kid.size() > 128) return refused("jwk.kid is missing");
    auto& keys = devices_[client_id];
    if (keys.count(kid) != 0) {
        // Inferred: a Qt client treats 422 on /auth/jwk as "key already
        // registered" (docs/notes/plex-accounts-wire.md §1.2).
        if (again_is_error) return refused("Key already registered");
        return ok(201, "{}");
    }
    Device d;
    std::copy(x->begin(), x->end(), d.pub.begin());
    if (owner) d.owner = *owner;
    keys[kid] = d;
    return ok(201, "{}");
}

std::optional<JwtReply> JwtAuthority::verify_device_jwt(std::string_view jwt, const std::string& expected_client,
                                                        bool consume, Checked& out) {
    if (jwt.empty() || jwt.size() > kMaxJwtBytes) return refused("jwt is missing or too long");
    auto d1 = jwt.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : jwt.find('.', d1 + 1);
    if (d2 == std::string_view::npos || jwt.find('.', d2 + 1) != std::string_view::npos)
        return refused("jwt is not a compact JWS");
    auto h_text = unb64url(jwt.substr(0, d1));
    auto c_text = unb64url(jwt.substr(d1 + 1, d2 - d1 - 1));
    auto sig = unb64url(jwt.substr(d2 + 1));
    auto header = h_text ? object_of(*h_text) : std::nullopt;
    auto claims = c_text ? object_of(*c_text) : std::nullopt;
    if (!header || !claims || !sig) return refused("jwt is not a compact JWS");
    if (str(*header, "alg") != "EdDSA") return refused("jwt must be signed with EdDSA");
    std::string kid = str(*header, "kid");
    std::string client = str(*claims, "iss");
    if (!expected_client.empty() && client != expected_client)
        return refused("jwt iss is not this client's identifier");
    auto dev = devices_.find(client);
    if (dev == devices_.end() || dev->second.count(kid) == 0) return refused("Unknown device key (kid)");
    const auto& pub = dev->second.at(kid).pub;
    if (sig->size() != crypto_sign_BYTES ||
        crypto_sign_verify_detached(reinterpret_cast<const uint8_t*>(sig->data()),
                                    reinterpret_cast<const uint8_t*>(jwt.data()), d2, pub.data()) != 0)
        return refused("Bad signature");
    // aud: "plex.tv", or an array holding it.
    bool for_plex = str(*claims, "aud") == "plex.tv";
    if (auto* a = claims->if_contains("aud"); a && a->is_array())
        for (const auto& v : a->as_array()) for_plex = for_plex || (v.is_string() && v.as_string() == "plex.tv");
    if (!for_plex) return refused("jwt aud must be plex.tv");
    auto iat = num(*claims, "iat");
    auto exp = num(*claims, "exp");
    if (!iat || !exp) return refused("jwt needs iat and exp");
    if (*exp <= now_unix()) return refused("Device JWT expired");
    if (*exp - *iat > kDeviceJwtMaxLifeS) return refused("Device JWT lives longer than 5 minutes");
    std::string nonce = str(*claims, "nonce");
    auto n = nonces_.find(nonce);
    if (n == nonces_.end() || std::chrono::steady_clock::now() - n->second.issued > kNonceLife)
        return refused("Unknown or expired nonce");
    if (!n->second.client_id.empty() && n->second.client_id != client)
        return refused("The nonce was given to another client");
    if (consume) {
        if (n->second.used) return refused("Nonce already used");
        n->second.used = true;
    }
    out = Checked{kid, client, nonce};
    return std::nullopt;
}

std::string JwtAuthority::issue(const Checked& device, const JwtUser& user) {
    const Key& k = keys_.back();
    int64_t now = now_unix();
    int64_t exp = now + static_cast<int64_t>(lifetime_.count());
    bj::object h{{"alg", "EdDSA"}, {"kid", k.kid}, {"typ", "JWT"}};
    bj::object c;
    c["nonce"] = device.nonce;
    c["thumbprint"] = device.kid;
    c["aud"] = bj::array{"plex.tv", bj::string(device.client_id)};
    c["iss"] = "plex.tv";
    c["iat"] = now;
    c["exp"] = exp;
    c["user"] = bj::object{{"id", user.id}, {"uuid", user.uuid}, {"username", user.username}};
    // A random jti: two tokens issued in the same second differ.
    c["jti"] = common::text::random_hex(8);
    std::string input = b64url(bj::serialize(h)) + "." + b64url(bj::serialize(c));
    std::array<uint8_t, crypto_sign_BYTES> sig{};
    crypto_sign_detached(sig.data(), nullptr, reinterpret_cast<const uint8_t*>(input.data()), input.size(),
                         k.secret.data());
    std::string token = input + "." + b64url(sig.data(), sig.size());
    issued_[token] = Issued{exp, user};
    return token;
}

JwtReply JwtAuthority::handle(const std::string& method, const std::string& path, const std::string& body,
                              const std::string& client_id, const JwtUser* caller) {
    if (method == "GET" && path == "/api/v2/auth/keys") return ok(200, keys_json());
    if (method == "GET" && path == "/api/v2/auth/nonce") {
        auto now = std::chrono::steady_clock::now();
        auto& times = nonce_times_[client_id];
        while (!times.empty() && now - times.front() >= kNonceWindow) times.pop_front();
        if (static_cast<int>(times.size()) >= nonce_limit_) {
            auto wait = std::chrono::ceil<std::chrono::seconds>(kNonceWindow - (now - times.front()));
            JwtReply r = refused("Too many requests", 429);
            r.retry_after_s = std::max<int>(1, static_cast<int>(wait.count()));
            return r;
        }
        times.push_back(now);
        // Spent and stale nonces go, so the map stays small.
        for (auto it = nonces_.begin(); it != nonces_.end();)
            it = now - it->second.issued > kNonceLife ? nonces_.erase(it) : std::next(it);
        std::string nonce = common::text::random_hex(16);
        nonces_[nonce] = Nonce{client_id, now, false};
        return ok(200, bj::serialize(bj::object{{"nonce", nonce}}));
    }
    if (method == "POST" && path == "/api/v2/auth/jwk") {
        if (!caller) return refused("User could not be authenticated", 401);
        if (client_id.empty()) return refused("X-Plex-Client-Identifier is missing", 400);
        auto o = object_of(body);
        auto* jwk = o ? o->if_contains("jwk") : nullptr;
        if (jwk == nullptr || !jwk->is_object()) return refused("The body needs a jwk object", 400);
        return register_jwk(client_id, bj::serialize(*jwk), true, caller);
    }
    if (method == "POST" && path == "/api/v2/auth/token") {
        auto o = object_of(body);
        std::string jwt = o ? str(*o, "jwt") : "";
        if (jwt.empty()) return refused("The body needs a jwt", 400);
        Checked device;
        if (auto bad = verify_device_jwt(jwt, "", true, device)) return *bad;
        const auto& owner = devices_[device.client_id][device.kid].owner;
        if (!owner) return refused("The device key belongs to no account yet (its PIN was not linked)");
        return ok(200, bj::serialize(bj::object{{"auth_token", issue(device, *owner)}}));
    }
    return refused("Not found", 404);
}

std::optional<JwtReply> JwtAuthority::pin_created(const std::string& body, const std::string& client_id, bool& strong) {
    if (body.empty() || body.front() != '{') return std::nullopt;
    auto o = object_of(body);
    if (!o) return refused("The body is not JSON", 400);
    if (auto* s = o->if_contains("strong"); s && s->is_bool() && s->as_bool()) strong = true;
    auto* jwk = o->if_contains("jwk");
    if (jwk == nullptr) return std::nullopt;
    if (!jwk->is_object()) return refused("jwk must be a JSON Web Key");
    auto r = register_jwk(client_id, bj::serialize(*jwk), false, nullptr);
    if (r.status >= 300) return r;
    return std::nullopt;
}

JwtReply JwtAuthority::pin_polled(const std::string& device_jwt, const std::string& client_id, bool linked,
                                  const JwtUser& user) {
    Checked device;
    if (auto bad = verify_device_jwt(device_jwt, client_id, false, device)) return *bad;
    if (!linked) return ok(200, "");
    auto& owner = devices_[device.client_id][device.kid].owner;
    if (!owner) owner = user;  // the person who linked the PIN
    return ok(200, issue(device, *owner));
}

}  // namespace pb::sim

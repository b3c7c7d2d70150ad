// plexsim's JWT authority: the clients.plex.tv side of the JWT device
// sign-in (python-plexapi 4.18.1 `MyPlexJWTLogin`, see
// docs/notes/plex-accounts-wire.md §1), with real Ed25519 (libsodium).
//
// It keeps the device keys registered per client identifier, hands out
// single-use nonces (rate-limited per client), checks device JWTs
// (signature, kid, alg, aud, nonce, lifetime) and issues Plex JWTs signed
// with its own key, which it can rotate. The Plex JWTs it issued stand for
// the account on every other plex.tv endpoint until they expire.
//
// Written apart from src/plexapi/device_jwt.cpp on purpose: a test double
// that shared the plugin's code would agree with the plugin's bugs.
//
// Threading: none of its own. The simulator calls it under its mutex.
#pragma once
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pb::sim {

// An answer of the authority: a JSON body for 2xx, else plex.tv's error
// shape (status, code, message) rendered by the simulator.
struct JwtReply {
    int status = 200;
    std::string json;  // 2xx body
    int code = 0;      // plex.tv error code (inferred: no capture exists)
    std::string message;
    int retry_after_s = 0;  // 429 only
};

// Who a Plex JWT is for (the simulator's account).
struct JwtUser {
    int64_t id = 0;
    std::string uuid;
    std::string username;
};

class JwtAuthority {
public:
    JwtAuthority();

    // /api/v2/auth/{jwk,nonce,token,keys}. `caller`: the person whose valid
    // token came with the request, or null (only /auth/jwk needs one). A
    // key is bound to the person who registered it (or who linked its
    // PIN), and the tokens it gets stand for that person.
    JwtReply handle(const std::string& method, const std::string& path, const std::string& body,
                    const std::string& client_id, const JwtUser* caller);

    // POST /api/v2/pins: a JSON body with "jwk" registers that key for the
    // client (a key already known is fine here) and may ask "strong": true.
    // An error reply when the JWK is unusable; nullopt otherwise.
    std::optional<JwtReply> pin_created(const std::string& body, const std::string& client_id, bool& strong);
    // GET /api/v2/pins/{id}?deviceJWT=: the device JWT must verify for the
    // PIN's client. The nonce may repeat here: python-plexapi polls with
    // one device JWT (L2322). A 200 reply's json is the Plex JWT to put in
    // authToken when `linked`, else empty.
    JwtReply pin_polled(const std::string& device_jwt, const std::string& client_id, bool linked, const JwtUser& user);

    enum class TokenState { not_ours = 1, valid, expired };
    // Whether `token` is a Plex JWT this authority issued, and alive; `who`
    // gets the person it stands for.
    TokenState check(const std::string& token, JwtUser* who = nullptr) const;

    // ---- knobs ----
    void set_lifetime(std::chrono::seconds lifetime) { lifetime_ = lifetime; }
    void rotate_key();
    void set_nonce_limit(int per_window) { nonce_limit_ = per_window; }
    void expire_all();
    std::string keys_json() const;

private:
    struct Key {
        std::array<uint8_t, 64> secret{};
        std::array<uint8_t, 32> pub{};
        std::string kid;
    };
    struct Nonce {
        std::string client_id;
        std::chrono::steady_clock::time_point issued;
        bool used = false;
    };
    struct Checked {
        std::string kid;
        std::string client_id;
        std::string nonce;
    };
    struct Device {
        std::array<uint8_t, 32> pub{};
        std::optional<JwtUser> owner;  // unset for a PIN's key until the PIN is linked
    };

    JwtReply register_jwk(const std::string& client_id, std::string_view jwk_json, bool again_is_error,
                          const JwtUser* owner);
    // A device JWT checked; `consume` spends its nonce.
    std::optional<JwtReply> verify_device_jwt(std::string_view jwt, const std::string& expected_client, bool consume,
                                              Checked& out);
    std::string issue(const Checked& device, const JwtUser& user);

    std::vector<Key> keys_;  // the signing key is the last
    // client identifier -> kid -> the key and whose it is
    std::map<std::string, std::map<std::string, Device>> devices_;
    std::map<std::string, Nonce> nonces_;
    std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> nonce_times_;
    struct Issued {
        int64_t exp = 0;  // unix s; 0: expired by expire_all
        JwtUser user;
    };
    std::map<std::string, Issued> issued_;  // Plex JWT -> its end and person
    std::chrono::seconds lifetime_{7 * 24 * 3600};
    int nonce_limit_ = 30;  // per client per kNonceWindow
};

}  // namespace pb::sim

// plex.tv's JWT device sign-in, the parts that need no network: the
// device's Ed25519 key, its public JWK, the short device JWT that proves
// the key to plex.tv (exchanged at /api/v2/auth/token for a Plex JWT), and
// the reading and checking of the Plex JWT that comes back.
//
// Wire format as python-plexapi 4.18.1 `MyPlexJWTLogin` speaks it (see
// docs/notes/plex-accounts-wire.md §1).
//
// Ownership: a DeviceKey owns its secret and wipes it (sodium_memzero) when
// it is destroyed or assigned over; copies are independent and each wipes
// its own. The caller keeps the key sealed (vault) as the string
// `serialize_device_key` gives, and reads it back with `device_key_from`.
//
// Threading: pure functions over their arguments, callable from any thread.
// Every function is bounded (tokens over 16 KiB are refused) and never
// throws: hostile input is an Error (Errc::bad_answer), in plain words.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace pb::plexapi {

// The largest token (device or Plex JWT) or key set we read.
inline constexpr std::size_t kMaxJwtBytes = 16 * 1024;

// The scopes python-plexapi asks for: comma-joined, no spaces.
inline constexpr std::string_view kDefaultJwtScope = "username,email,friendly_name,restricted,anonymous,joinedAt";

// How long a device JWT lives (python-plexapi: 5 minutes).
inline constexpr int64_t kDeviceJwtLifetimeS = 300;

// Refresh a Plex JWT when less than this is left (python-plexapi
// verifyJWT(refreshWithinDays=1)).
inline constexpr int64_t kPlexJwtRefreshWithinS = 24 * 3600;

// RFC 4648 §5 base64url without padding. Decoding refuses padding, any
// character outside the alphabet and non-zero trailing bits.
std::string base64url_encode(std::string_view bytes);
common::Result<std::string> base64url_decode(std::string_view text);

struct DeviceKey {
    // libsodium's layout: the 32-byte seed (the raw private key) followed
    // by the 32-byte public key.
    std::array<uint8_t, 64> secret{};
    std::array<uint8_t, 32> public_key{};

    DeviceKey() = default;
    DeviceKey(const DeviceKey&) = default;
    DeviceKey& operator=(const DeviceKey& other);
    ~DeviceKey();
};

// A fresh key from libsodium's CSPRNG. Errc::internal if libsodium cannot
// initialise (no entropy source).
common::Result<DeviceKey> make_device_key();
// The key whose raw private key (seed) is these 32 bytes.
common::Result<DeviceKey> device_key_from_seed(std::string_view seed32);

// The secret key as text to seal (base64url of the 64 secret bytes), and
// back. Reading checks that the public half belongs to the seed.
std::string serialize_device_key(const DeviceKey& key);
common::Result<DeviceKey> device_key_from(std::string_view text);

// lowercase hex of sha256(raw private 32 || raw public 32): 64 characters.
std::string key_id(const DeviceKey& key);
// {"kty":"OKP","crv":"Ed25519","x":"<b64url pub>","use":"sig","alg":"EdDSA","kid":"<kid>"}
std::string public_jwk(const DeviceKey& key);

// The base64url Ed25519 signature of a JWS signing input
// ("<b64url header>.<b64url payload>").
std::string sign_jws(const DeviceKey& key, std::string_view signing_input);

// The device JWT for /api/v2/auth/token: header {"alg":"EdDSA","kid","typ":"JWT"},
// claims {nonce, scope, aud "plex.tv", iss client_id, iat now, exp now+300}.
std::string sign_device_jwt(const DeviceKey& key, std::string_view client_id, std::string_view nonce,
                            std::string_view scope, int64_t now_unix);

// What a Plex JWT says about itself.
struct PlexJwt {
    int64_t issued_at = 0;
    int64_t expires_at = 0;
    std::string thumbprint;  // the kid of the device key it was issued to
    std::string username;
    std::string user_uuid;
    int64_t user_id = 0;
    std::vector<std::string> audience;
    // Less than a day left (or already expired): time to sign a new device JWT.
    bool needs_refresh(int64_t now_unix) const { return expires_at - now_unix < kPlexJwtRefreshWithinS; }
};

// Reads the claims without checking the signature: for expiry bookkeeping
// of a token we obtained ourselves, never to trust one.
common::Result<PlexJwt> read_plex_jwt(std::string_view token);

// Checks a Plex JWT against plex.tv's key set (the text of /auth/keys,
// {"keys":[JWK...]}): alg EdDSA, a signature by one of the keys (tried
// last first, as plex.tv rotates them), iss "plex.tv", aud holding
// "plex.tv" or client_id, not expired, thumbprint == kid.
common::Result<PlexJwt> verify_plex_jwt(std::string_view token, std::string_view keys_json, std::string_view client_id,
                                        std::string_view kid, int64_t now_unix);

}  // namespace pb::plexapi

// Calls to plex.tv. Each method is asynchronous (callback on the client's
// io thread) and turns the answer into a model or an Error (peer plex.tv)
// that says, in words, what happened and whether the token is to blame.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/client.hpp"
#include "plexapi/headers.hpp"
#include "plexapi/models.hpp"

namespace pb::plexapi {

template <class T>
using ApiResult = common::Result<T>;
template <class T>
using ApiCallback = std::function<void(ApiResult<T>)>;

// A plex.tv answer as an Error, or nullopt for a 2xx answer. Transport
// failures keep their code; 401 and 422 "Invalid token" are
// Errc::token_rejected (the user must sign in again), 403 forbidden, 404
// not_found, 429 rate_limited, 498 token_expired (a Plex JWT to renew with
// the device key), anything else bad_answer (a 422 from /api/v2/auth/* says
// what plex.tv refused).
std::optional<common::Error> classify(const http::Request& req, const http::Result& r);

struct PlexTvOptions {
    std::string base_url = "https://plex.tv";
    // The JWT device sign-in endpoints (/api/v2/auth/*, JWT PINs) live here.
    std::string clients_base_url = "https://clients.plex.tv";
    std::chrono::milliseconds timeout{10000};
    // Told (on the client's thread) when plex.tv rejects the token a call
    // was made with: the owner of the token learns it died.
    std::function<void(const std::string& token)> on_token_rejected;
    // Told when plex.tv answers 498 to a call made with a Plex JWT: it
    // expired, and the device key renews it.
    std::function<void(const std::string& token)> on_token_expired;
};

class PlexTv {
public:
    PlexTv(std::shared_ptr<http::Client> client, ClientIdentity identity, PlexTvOptions options);

    // A strong PIN (25 characters) is linked through the sign-in page
    // (app.plex.tv/auth); a short one (4 characters) is typed by the user at
    // plex.tv/link, for when the sign-in window cannot open.
    enum class PinKind : uint8_t { strong = 1, short_code };
    void create_pin(PinKind kind, ApiCallback<Pin> cb);
    void get_pin(int64_t pin_id, ApiCallback<Pin> cb);
    void get_account(const std::string& token, ApiCallback<Account> cb);
    // GET /api/v2/ping: a cheap "is this token still good" (2xx: yes).
    void ping(const std::string& token, ApiCallback<bool> cb);
    // v2 JSON first; on any failure but a refused token, the legacy XML list.
    void get_resources(const std::string& token, ApiCallback<std::vector<Resource>> cb);
    // The people of the account's Plex Home: v2 JSON first; the legacy XML
    // list when v2 is gone or unreadable.
    void get_home_users(const std::string& token, ApiCallback<std::vector<HomeUser>> cb);
    // Switches to a Home user (`pin` "" when it has none): the user's own
    // plex.tv token. A wrong or missing PIN is Errc::wrong_pin. v2 by uuid
    // first; the legacy XML switch by numeric id if v2 does not know it.
    void switch_home_user(const std::string& token, const HomeUser& user, const std::string& pin,
                          ApiCallback<std::string> cb);
    void get_webhooks(const std::string& token, ApiCallback<std::vector<Webhook>> cb);
    // Replaces the whole list (plex.tv has no add/remove).
    void set_webhooks(const std::string& token, const std::vector<std::string>& urls, ApiCallback<bool> cb);

    // ---- JWT device sign-in (device_jwt.hpp), on clients_base_url ----
    // No X-Plex-Token on these but the first. plex.tv's 498 is
    // Errc::token_expired; its 422 (bad signature, unknown or already
    // registered key, spent nonce) is Errc::bad_answer saying so.
    // POST /api/v2/auth/jwk: binds the device's public JWK to the account
    // of a classic `token` (true on any 2xx).
    void register_device_key(const std::string& token, const std::string& jwk_json, ApiCallback<bool> cb);
    // GET /api/v2/auth/nonce: the single-use nonce for the next device JWT.
    void get_nonce(ApiCallback<std::string> cb);
    // POST /api/v2/auth/token: a signed device JWT for a Plex JWT (auth_token).
    void exchange_device_jwt(const std::string& device_jwt, ApiCallback<std::string> cb);
    // GET /api/v2/auth/keys: plex.tv's signing keys, the JSON text as sent
    // (for verify_plex_jwt).
    void get_jwt_keys(ApiCallback<std::string> cb);
    // POST /api/v2/pins with {"jwk":...,"strong":true} (a short code: no
    // "strong"); the linked PIN's authToken, polled with the device JWT, is
    // a Plex JWT.
    void create_jwt_pin(const std::string& jwk_json, ApiCallback<Pin> cb, PinKind kind = PinKind::strong);
    void get_jwt_pin(int64_t id, const std::string& device_jwt, ApiCallback<Pin> cb);

    const ClientIdentity& identity() const { return identity_; }

private:
    http::Request make(std::string method, std::string path, const std::string& token, Accept accept) const;
    http::Request make_clients(std::string method, std::string path, const std::string& token) const;
    // The options' two token callbacks as the one call() takes.
    std::function<void(const std::string&, common::Errc)> token_hook() const;

    std::shared_ptr<http::Client> client_;
    ClientIdentity identity_;
    PlexTvOptions options_;
};

}  // namespace pb::plexapi

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
// not_found, anything else bad_answer.
std::optional<common::Error> classify(const http::Request& req, const http::Result& r);

struct PlexTvOptions {
    std::string base_url = "https://plex.tv";
    std::chrono::milliseconds timeout{10000};
    // Told (on the client's thread) when plex.tv rejects the token a call
    // was made with: the owner of the token learns it died.
    std::function<void(const std::string& token)> on_token_rejected;
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
    // v2 JSON first; on any failure but a rejected token, the legacy XML list.
    void get_resources(const std::string& token, ApiCallback<std::vector<Resource>> cb);
    void get_webhooks(const std::string& token, ApiCallback<std::vector<Webhook>> cb);
    // Replaces the whole list (plex.tv has no add/remove).
    void set_webhooks(const std::string& token, const std::vector<std::string>& urls, ApiCallback<bool> cb);

    const ClientIdentity& identity() const { return identity_; }

private:
    http::Request make(std::string method, std::string path, const std::string& token, Accept accept) const;

    std::shared_ptr<http::Client> client_;
    ClientIdentity identity_;
    PlexTvOptions options_;
};

}  // namespace pb::plexapi

// Calls to plex.tv. Each method is asynchronous (callback on the client's
// io thread) and turns the answer into a model or an ApiError that says, in
// words, what happened and whether the token is to blame.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/client.hpp"
#include "plexapi/headers.hpp"
#include "plexapi/models.hpp"

namespace pb::plexapi {

enum class ApiErrorKind {
    unreachable = 1,  // could not connect, DNS, TLS: plex.tv not reached
    timed_out,        // reached, but no answer in time
    token_rejected,   // 401, or 422 "Invalid token": the user must sign in again
    forbidden,        // 403 (e.g. webhooks without Plex Pass)
    not_found,        // 404
    bad_answer,       // 5xx, unexpected status, unparseable body
    cancelled,
};

struct ApiError {
    ApiErrorKind kind = ApiErrorKind::bad_answer;
    int http_status = 0;
    std::string message;
};

template <class T>
struct ApiResult {
    std::optional<T> value;
    std::optional<ApiError> error;
};

// Maps a transport result to an ApiError, or nullopt for a 2xx answer.
std::optional<ApiError> classify(const http::Request& req, const http::Result& r);

struct PlexTvOptions {
    std::string base_url = "https://plex.tv";
    std::chrono::milliseconds timeout{10000};
};

class PlexTv {
public:
    PlexTv(std::shared_ptr<http::Client> client, ClientIdentity identity, PlexTvOptions options);

    void create_pin(std::function<void(ApiResult<Pin>)> cb);
    void get_pin(int64_t pin_id, std::function<void(ApiResult<Pin>)> cb);
    void get_account(const std::string& token, std::function<void(ApiResult<Account>)> cb);
    // v2 JSON first; on any failure but a rejected token, the legacy XML list.
    void get_resources(const std::string& token, std::function<void(ApiResult<std::vector<Resource>>)> cb);
    void get_webhooks(const std::string& token, std::function<void(ApiResult<std::vector<Webhook>>)> cb);
    // Replaces the whole list (plex.tv has no add/remove).
    void set_webhooks(const std::string& token, const std::vector<std::string>& urls,
                      std::function<void(ApiResult<bool>)> cb);

    const ClientIdentity& identity() const { return identity_; }

private:
    http::Request make(std::string method, std::string path, const std::string& token, Accept accept) const;

    std::shared_ptr<http::Client> client_;
    ClientIdentity identity_;
    PlexTvOptions options_;
};

}  // namespace pb::plexapi

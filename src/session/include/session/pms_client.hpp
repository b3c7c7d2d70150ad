// Requests to the selected Plex Media Server, with failover.
//
// The address is Session::server_url(). When a request fails at the
// connection level (refused, timed out, reset, unreachable, name not found)
// the stored connections are raced again; if none answers, plex.tv is asked
// for the server's current addresses. The winner is stored as `server_url`,
// logged once, and the request is retried once. HTTP errors (401, 500...)
// are answers, not reasons to switch. An address the user typed
// (`manual_server_url`) is never switched away from.
//
// Io thread only.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/client.hpp"

namespace pb::session {

class Session;

// What the user reads when the server refuses the token it was given.
inline constexpr std::string_view kTokenRefused = "Plex Media Server refused the token: sign in again";

struct PmsRequest {
    std::string method = "GET";
    std::string path;  // "/library/sections", query included
    std::string body;
    http::Headers headers;
};

class PmsClient : public std::enable_shared_from_this<PmsClient> {
public:
    explicit PmsClient(Session& session) : session_(session) {}
    // `result` is the final answer (any status) or the error;
    // `server_url` the address it came from.
    using Callback = std::function<void(http::Result result, const std::string& server_url)>;
    void request(PmsRequest req, Callback cb);
    // Exactly at `base_url`, never failing over (checking one address).
    void request_at(const std::string& base_url, PmsRequest req, Callback cb);
    // How many times the connection was switched (status and tests).
    int failovers() const { return failovers_; }

    // A non-2xx answer as an Error in the one phrasing: "Plex Media Server
    // answered HTTP 503", with the status and its code (401
    // token_rejected, 404 not_found, 5xx bad_answer...).
    static common::Error status_error(int status);
    // The error of a result that is not a 2xx answer, or nullopt.
    static std::optional<common::Error> failure(const http::Result& r);

    static bool connection_level(const http::Result& r);
    // At unload (io thread stopped): drops requests waiting on a failover,
    // whose continuations hold this object (a cycle otherwise).
    void shutdown() {
        waiting_.clear();
        failing_over_ = false;
    }

private:
    enum class Failover : uint8_t { allowed = 1, never };
    enum class Switched : uint8_t { yes = 1, no };
    void send(const std::string& base, PmsRequest req, Callback cb, Failover failover);
    void fail_over(std::function<void(Switched)> done);
    void finish_failover(Switched switched);

    Session& session_;
    bool failing_over_ = false;
    std::vector<std::function<void(Switched)>> waiting_;
    int failovers_ = 0;
};

}  // namespace pb::session

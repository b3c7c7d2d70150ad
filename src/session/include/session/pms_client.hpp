// Requests to the selected Plex Media Server, with failover. A 429 that
// asks for a short wait (Retry-After up to 30 s) is waited out once; a 401
// makes the session fetch the server's token from plex.tv again, once,
// before the answer goes to the caller.
//
// The address is Session::server_url(). Connecting has its own deadline
// (connect_timeout_ms), answering another (read_timeout_ms, see Patience).
// When nothing answers at the address (refused, no connection in time, name
// not found, TLS refused), or it stalls and no longer answers /identity as
// this server, the stored connections are raced again; if none answers,
// plex.tv is asked for the server's current addresses. A winner at another
// address is stored as `server_url`, logged once, and the request is
// retried once. A slow answer, and HTTP errors (401, 500...), are answers,
// not reasons to switch. An address the user typed (`manual_server_url`)
// is never switched away from.
//
// Io thread only.
#pragma once
#include <chrono>
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

// How long an answer may take once connected: quick (15 s, or the read
// deadline if shorter) for small reads, the read deadline (read_timeout_ms)
// for listings and for what makes the server work (refresh, scan, edits).
enum class Patience : uint8_t { quick = 1, slow };
inline constexpr std::chrono::milliseconds kQuickAnswer{15000};

struct PmsRequest {
    std::string method = "GET";
    std::string path;  // "/library/sections", query included
    std::string body;
    http::Headers headers;
    // A 429 with a short Retry-After is waited out and sent again, this many times.
    int waits_left = 1;
    // A 401 fetches the server's token from plex.tv again and retries, this many times.
    int renewals_left = 1;
    Patience patience = Patience::quick;
};
// A request Plex may take its time over: a listing, a refresh, a scan, an edit.
inline PmsRequest slow_request(std::string method, std::string path) {
    PmsRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.patience = Patience::slow;
    return r;
}

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

    // Nothing answered at the address (refused, no connection in time, no
    // such name, TLS refused): another address may work.
    static bool unreachable_here(const http::Result& r);
    // Connected, then no answer in time or a cut: the server may be busy.
    static bool stalled(const http::Result& r);
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
    // Whether the server still answers /identity, as itself, at `base`.
    void still_there(const std::string& base, std::function<void(bool alive)> done);
    void finish_failover(Switched switched);

    Session& session_;
    bool failing_over_ = false;
    std::vector<std::function<void(Switched)>> waiting_;
    int failovers_ = 0;
};

}  // namespace pb::session

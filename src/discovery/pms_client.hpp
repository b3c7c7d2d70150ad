// Requests to the selected Plex Media Server, with failover.
//
// The address comes from the settings: `manual_server_url` when the user set
// one (it always wins, e.g. over a Docker bridge address advertised as
// local), else `server_url` (chosen by discovery), else in legacy mode
// http(s)://ip:port. When a request fails at the connection level (refused,
// timed out, reset, unreachable, name not found) the stored connections are
// raced again; if none answers, plex.tv is asked for the server's current
// addresses. The winner is persisted as `server_url`, logged once, and the
// request is retried once. HTTP errors (401, 500...) are answers, not
// reasons to switch.
//
// Io thread only.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "http/client.hpp"

namespace pb::plugin {
class Plugin;
}

namespace pb::discovery {

struct PmsRequest {
    std::string method = "GET";
    std::string path;  // "/library/sections", query included
    std::string body;
    http::Headers headers;
};

class PmsClient : public std::enable_shared_from_this<PmsClient> {
public:
    explicit PmsClient(plugin::Plugin& plugin) : plugin_(plugin) {}
    // `result` is the final answer; `server_url` the address it came from.
    using Callback = std::function<void(http::Result result, const std::string& server_url)>;
    void request(PmsRequest req, Callback cb);
    // How many times the connection was switched (status and tests).
    int failovers() const { return failovers_; }

    static bool connection_level(const http::Result& r);
    // At unload (io thread stopped): drops requests waiting on a failover,
    // whose continuations hold this object (a cycle otherwise).
    void shutdown() {
        waiting_.clear();
        failing_over_ = false;
    }

private:
    void send(PmsRequest req, Callback cb, bool may_fail_over);
    void fail_over(std::function<void(bool switched)> done);
    void finish_failover(bool switched);

    plugin::Plugin& plugin_;
    bool failing_over_ = false;
    std::vector<std::function<void(bool)>> waiting_;
    int failovers_ = 0;
};

}  // namespace pb::discovery

// Plugin-side view of a route call, and a Reply that answers exactly once
// from any thread.
#pragma once
#include <boost/json/value.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "plexbridge_plugin.h"

namespace pb::plugin {

class Plugin;

// The views borrow the host's pb_http_request, which the ABI guarantees only
// until the handler returns: a handler that continues asynchronously copies
// what it needs (webhook bodies are tens of kilobytes; copying every one
// "just in case" was a measurable share of the webhook route's cost).
struct Call {
    std::string_view method;
    std::string_view path;
    std::string_view query;
    text::QueryParams params;  // decoded query (owned)
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::string_view body;
    std::string_view remote_address;
    std::map<std::string, std::string> path_params;  // {pinId} -> value (owned)
    std::string header(std::string_view name) const;
    std::optional<std::string> param(std::string_view key) const { return text::query_get(params, key); }
};

// Answers a pending host request. Copyable handle; the first answer wins,
// later ones are ignored. If every copy is dropped unanswered, it answers
// 500 so the host's connection is never left hanging.
class Reply {
public:
    Reply(Plugin* plugin, pb_responder* responder);
    void json(int status, const boost::json::value& body) const;
    void data(const boost::json::value& data, int status = 200) const;  // {"data": ...}
    void error(int status, std::string_view code, std::string_view message) const;
    void raw(int status, std::string_view content_type, std::string_view body) const;

private:
    struct State;
    std::shared_ptr<State> state_;
};

using Handler = std::function<void(Call&, Reply)>;

// A route handler calling `owner->fn(call, reply)`; `owner` must outlive the
// plugin's routes (components are destroyed in Plugin::destroy).
template <class T>
Handler member_handler(T* owner, void (T::*fn)(Call&, Reply)) {
    return [owner, fn](Call& c, Reply r) { (owner->*fn)(c, std::move(r)); };
}

struct Route {
    std::string method;
    std::string pattern;
    pb_route_auth auth = PB_ROUTE_AUTH_HOST_APIKEY;
    uint64_t max_body_bytes = 64 * 1024;
    Handler handler;
    Plugin* plugin = nullptr;
};

// Matches "/api/plex/oauth/pin/{pinId}/check" against a path; fills params.
bool match_path(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params);

}  // namespace pb::plugin

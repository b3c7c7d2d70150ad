// Plugin-side view of a route call: the request copied out of the host's
// borrowed memory, and a Reply that answers exactly once from any thread.
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

struct Call {
    std::string method;
    std::string path;
    std::string query;
    text::QueryParams params;       // decoded query
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string remote_address;
    std::map<std::string, std::string> path_params;  // {pinId} -> value
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

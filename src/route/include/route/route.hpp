// HTTP routes as the features see them: a Call (the request), a Reply (the
// one answer), and a Registry the features add their routes to. The plugin
// (plugin/) turns these into ABI registrations and answers; nothing here
// knows the ABI or Plex.
#pragma once
#include <boost/json/value.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/text.hpp"

namespace pb::route {

// The views borrow the host's request, which the ABI guarantees only until
// the handler returns: a handler that continues asynchronously copies what
// it needs (webhook bodies are tens of kilobytes; copying every one "just
// in case" was a measurable share of the webhook route's cost).
struct Call {
    std::string_view method;
    std::string_view path;
    std::string_view query;
    common::text::QueryParams params;  // decoded query (owned)
    std::vector<std::pair<std::string_view, std::string_view>> headers;
    std::string_view body;
    std::string_view remote_address;
    std::map<std::string, std::string> path_params;  // {pinId} -> value (owned)
    std::string header(std::string_view name) const;
    std::optional<std::string> param(std::string_view key) const { return common::text::query_get(params, key); }
};

// Where answers go: the plugin hands them to the host. `token` identifies
// the request (the host's responder). Called at most once per token.
// Extra response headers (name, value), for the answers that need them:
// the page's caching and security headers.
using Headers = std::vector<std::pair<std::string, std::string>>;

class Answerer {
public:
    virtual ~Answerer() = default;
    virtual void answer(void* token, int status, std::string_view content_type, std::string_view body,
                        const Headers& headers) = 0;
};

// Answers one request, from any thread. A copyable handle: the first answer
// wins, later ones are ignored. If every copy is dropped unanswered, it
// answers 500 so the host's connection is never left hanging.
class Reply {
public:
    Reply(Answerer* answerer, void* token);
    void json(int status, const boost::json::value& body) const;
    void data(const boost::json::value& data, int status = 200) const;  // {"data": ...}
    // {"error": message, "code": name}, status and name from the error table.
    void fail(const common::Error& error) const;
    void raw(int status, std::string_view content_type, std::string_view body, const Headers& headers = {}) const;
    void no_content() const { raw(204, "application/json", ""); }

private:
    struct State;
    std::shared_ptr<State> state_;
};

// An error as a route answers it: the table's status, and
// {"error": "<the sentence>", "code": "<the stable name>"}.
struct ErrorAnswer {
    int status = 500;
    std::string body;
};
ErrorAnswer render(const common::Error& error);

using Handler = std::function<void(Call&, Reply)>;

enum class Auth : uint8_t {
    host_apikey = 1,  // the host checks its API key first
    none,             // public: the handler authenticates the caller itself
};

struct Route {
    std::string method;
    std::string pattern;  // "/api/plex/oauth/pin/{pinId}/check"
    Auth auth = Auth::host_apikey;
    uint64_t max_body_bytes = 64 * 1024;
    Handler handler;
};

// The routes the features offer, in registration order. Filled while the
// plugin loads; read-only afterwards. Addresses are stable (a deque).
class Registry {
public:
    void add(std::string method, std::string pattern, Handler handler, Auth auth = Auth::host_apikey,
             uint64_t max_body_bytes = 64 * 1024);
    const std::deque<Route>& routes() const { return routes_; }

private:
    std::deque<Route> routes_;
};

// A handler calling `owner->fn(call, reply)`; `owner` must outlive the
// plugin's routes.
template <class T>
Handler member_handler(T* owner, void (T::*fn)(Call&, Reply)) {
    return [owner, fn](Call& c, Reply r) { (owner->*fn)(c, std::move(r)); };
}

// Fills `params` from a path that matches `pattern`; false otherwise.
bool match_path(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params);

}  // namespace pb::route

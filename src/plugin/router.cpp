#include "plugin/router.hpp"

#include <boost/json.hpp>

#include "plugin/plugin.hpp"

namespace pb::plugin {

std::string Call::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (text::iequals(k, name)) return std::string(v);
    return {};
}

struct Reply::State {
    Plugin* plugin;
    pb_responder* responder;
    std::atomic<bool> answered{false};
    ~State() {
        if (!answered.exchange(true))
            plugin->send_response(responder, 500, "application/json",
                                  R"({"error":"the request was dropped without an answer","code":"PLEX_INTERNAL"})");
    }
};

Reply::Reply(Plugin* plugin, pb_responder* responder) : state_(std::make_shared<State>()) {
    state_->plugin = plugin;
    state_->responder = responder;
}

void Reply::raw(int status, std::string_view content_type, std::string_view body) const {
    if (state_->answered.exchange(true)) return;
    state_->plugin->send_response(state_->responder, status, content_type, body);
}

void Reply::json(int status, const boost::json::value& body) const {
    raw(status, "application/json", boost::json::serialize(body));
}

void Reply::data(const boost::json::value& data, int status) const {
    json(status, boost::json::object{{"data", data}});
}

void Reply::error(int status, std::string_view code, std::string_view message) const {
    json(status, boost::json::object{{"error", message}, {"code", code}});
}

bool match_path(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
    std::vector<std::pair<std::string, std::string>> found;
    if (!text::match_path(pattern, path, &found)) return false;
    for (auto& [k, v] : found) params[k] = std::move(v);
    return true;
}

}  // namespace pb::plugin

#include "route/route.hpp"

#include <boost/json.hpp>

namespace pb::route {

std::string Call::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (common::text::iequals(k, name)) return std::string(v);
    return {};
}

struct Reply::State {
    Answerer* answerer = nullptr;
    void* token = nullptr;
    std::atomic<bool> answered{false};
    ~State() {
        if (answered.exchange(true)) return;
        auto a = render(common::Error(common::Errc::internal, "the request was dropped without an answer"));
        answerer->answer(token, a.status, "application/json", a.body, {});
    }
};

Reply::Reply(Answerer* answerer, void* token) : state_(std::make_shared<State>()) {
    state_->answerer = answerer;
    state_->token = token;
}

void Reply::raw(int status, std::string_view content_type, std::string_view body, const Headers& headers) const {
    if (state_->answered.exchange(true)) return;
    state_->answerer->answer(state_->token, status, content_type, body, headers);
}

void Reply::json(int status, const boost::json::value& body) const {
    raw(status, "application/json", boost::json::serialize(body));
}

void Reply::data(const boost::json::value& data, int status) const {
    json(status, boost::json::object{{"data", data}});
}

ErrorAnswer render(const common::Error& error) {
    auto answer = common::route_answer(error);
    return {answer.status,
            boost::json::serialize(boost::json::object{{"error", error.message}, {"code", answer.name}})};
}

void Reply::fail(const common::Error& error) const {
    auto a = render(error);
    raw(a.status, "application/json", a.body);
}

void Registry::add(std::string method, std::string pattern, Handler handler, Auth auth, uint64_t max_body_bytes) {
    routes_.push_back(Route{std::move(method), std::move(pattern), auth, max_body_bytes, std::move(handler)});
}

bool match_path(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
    std::vector<std::pair<std::string, std::string>> found;
    if (!common::text::match_path(pattern, path, &found)) return false;
    for (auto& [k, v] : found) params[k] = std::move(v);
    return true;
}

}  // namespace pb::route

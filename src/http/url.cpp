#include "http/url.hpp"

#include <charconv>

#include "common/text.hpp"

namespace pb::http {

std::string Url::origin() const {
    std::string h = host_is_ipv6() ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text) {
    Url u;
    auto sep = text.find("://");
    if (sep == std::string_view::npos) return std::nullopt;
    u.scheme = common::text::to_lower(text.substr(0, sep));
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    std::string_view rest = text.substr(sep + 3);
    auto path_pos = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, path_pos);
    std::string_view target = path_pos == std::string_view::npos ? std::string_view("/") : rest.substr(path_pos);
    if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    if (authority.find('@') != std::string_view::npos) return std::nullopt;  // no userinfo
    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return std::nullopt;
            port = after.substr(1);
        }
    } else {
        auto colon = authority.rfind(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    }
    if (host.empty()) return std::nullopt;
    u.host = common::text::to_lower(host);
    if (port.empty()) {
        u.port = u.tls() ? 443 : 80;
    } else {
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) return std::nullopt;
        u.port = static_cast<uint16_t>(p);
    }
    u.target = target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
    return u;
}

std::string join_url(std::string_view base, std::string_view path_and_query) {
    std::string out(base);
    while (!out.empty() && out.back() == '/') out.pop_back();
    if (path_and_query.empty() || path_and_query.front() != '/') out.push_back('/');
    out += path_and_query;
    return out;
}

}  // namespace pb::http

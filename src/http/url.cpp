#include "http/url.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "common/text.hpp"

namespace pb::http {

std::string Url::origin() const {
    std::string h = host_is_ipv6() ? "[" + host + "]" : host;
    return scheme + "://" + h + ":" + std::to_string(port);
}

std::optional<Url> parse_url(std::string_view text) {
    // RFC 3986 by Boost.URL; then the shapes Plex uses and we accept: http
    // or https, a host, no user info (nobody's password travels in an
    // address here), a port from 1 to 65535.
    // Only "http://" and "https://" go to Boost.URL: 1.81 asserts on some
    // other shapes ("h: ", a scheme and a path with a colon) in builds
    // with assertions, and nothing else would be accepted anyway.
    const std::string_view head = text.substr(0, 8);
    if (!common::text::iequals(head.substr(0, 7), "http://") && !common::text::iequals(head, "https://"))
        return std::nullopt;
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) return std::nullopt;
    const boost::urls::url_view& v = *parsed;
    Url u;
    u.scheme = common::text::to_lower(v.scheme());
    if (u.scheme != "http" && u.scheme != "https") return std::nullopt;
    if (!v.has_authority() || v.has_userinfo()) return std::nullopt;
    switch (v.host_type()) {
        case boost::urls::host_type::ipv4: u.host = v.host_address(); break;
        case boost::urls::host_type::ipv6: u.host = v.host_ipv6_address().to_string(); break;
        case boost::urls::host_type::name:
            // A DNS name: no percent-escapes to reinterpret (a resolver would
            // see something else than a person reading the address).
            if (v.encoded_host().find('%') != std::string_view::npos) return std::nullopt;
            u.host = common::text::to_lower(v.encoded_host());
            break;
        default: return std::nullopt;  // IPvFuture, or no host
    }
    if (u.host.empty()) return std::nullopt;
    std::string_view port = v.port();
    if (port.empty()) {
        u.port = u.tls() ? 443 : 80;
    } else {
        unsigned p = 0;
        auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) return std::nullopt;
        u.port = static_cast<uint16_t>(p);
    }
    // The request target: path and query, kept encoded as they came (the
    // fragment never goes on the wire).
    std::string_view path = v.encoded_path();
    u.target = path.empty() ? "/" : std::string(path);
    if (u.target.front() != '/') return std::nullopt;
    if (v.has_query()) u.target += "?" + std::string(v.encoded_query());
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

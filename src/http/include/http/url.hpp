// URL parsing for the few URL shapes Plex uses: http(s)://host[:port][/path][?query],
// with IPv6 literals in brackets.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pb::http {

struct Url {
    std::string scheme;  // "http" or "https", lower case
    std::string host;    // without brackets for IPv6
    uint16_t port = 0;   // explicit or the scheme's default
    std::string target;  // "/path?query", at least "/"
    bool tls() const { return scheme == "https"; }
    bool host_is_ipv6() const { return host.find(':') != std::string::npos; }
    // "https://host:port" with brackets for IPv6: safe to show (no path, no query).
    std::string origin() const;
};

// Nullopt for anything that is not an absolute http(s) URL with a host.
std::optional<Url> parse_url(std::string_view text);

// Joins a base like "https://plex.tv" or "http://h:1/" with a path "/api/v2/pins".
std::string join_url(std::string_view base, std::string_view path_and_query);

}  // namespace pb::http

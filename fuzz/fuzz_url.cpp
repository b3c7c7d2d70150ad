// URLs, queries and route patterns: http::parse_url (server addresses typed
// by users, connection URIs from plex.tv), common::text::parse_query and
// url_decode (every request's query, form bodies), match_path (every
// request against every route pattern).
//
// Input: the whole input is a URL, a query and an encoded string; split at
// its first newline it is also a route pattern and a path.
#include <string>
#include <vector>

#include "common/text.hpp"
#include "fuzz_common.hpp"
#include "http/url.hpp"

using namespace pb;
namespace text = common::text;

static void check_url(std::string_view in) {
    auto u = http::parse_url(in);
    if (!u) return;
    PB_FUZZ_CHECK(u->scheme == "http" || u->scheme == "https");
    PB_FUZZ_CHECK(!u->host.empty());
    PB_FUZZ_CHECK(!u->target.empty() && u->target.front() == '/');
    PB_FUZZ_CHECK(u->port != 0);
    // The origin is what is shown and what requests are sent to: it must
    // name the same server, and a URL joined from it the same resource.
    auto origin = http::parse_url(u->origin());
    PB_FUZZ_CHECK(origin);
    PB_FUZZ_CHECK(origin->scheme == u->scheme && origin->host == u->host && origin->port == u->port);
    PB_FUZZ_CHECK(origin->target == "/");
    auto joined = http::parse_url(http::join_url(u->origin(), u->target));
    PB_FUZZ_CHECK(joined);
    PB_FUZZ_CHECK(joined->host == u->host && joined->port == u->port && joined->target == u->target);
}

static void check_query(std::string_view in) {
    auto params = text::parse_query(in);
    // Written out and read again: the same pairs, in the same order.
    PB_FUZZ_CHECK(text::parse_query(text::build_query(params)) == params);
    for (const auto& [k, v] : params) {
        auto first = text::query_get(params, k);
        PB_FUZZ_CHECK(first);
    }
    PB_FUZZ_CHECK(text::url_decode(in).size() <= in.size());
    PB_FUZZ_CHECK(text::url_decode(in, text::Plus::literal).size() <= in.size());
    std::string s(in);
    PB_FUZZ_CHECK(text::url_decode(text::url_encode(s)) == s);
    PB_FUZZ_CHECK(text::url_decode(text::url_encode(s), text::Plus::literal) == s);
}

static void check_match(std::string_view pattern, std::string_view path) {
    std::vector<std::pair<std::string, std::string>> params{{"kept", "as it was"}};
    bool matched = text::match_path(pattern, path, &params);
    PB_FUZZ_CHECK(matched == text::match_path(pattern, path));
    if (!matched) {
        PB_FUZZ_CHECK(params.size() == 1);  // nothing half-matched is left behind
        return;
    }
    std::size_t braces = 0;
    for (char c : pattern) braces += c == '{';
    PB_FUZZ_CHECK(params.size() - 1 <= braces);
    // A pattern without parameters matches its own text and nothing else.
    if (pattern.find('{') == std::string_view::npos) PB_FUZZ_CHECK(pattern == path);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::text(data, size);
    check_url(in);
    check_query(in);
    auto nl = in.find('\n');
    if (nl != std::string_view::npos) {
        check_match(in.substr(0, nl), in.substr(nl + 1));
    } else {
        PB_FUZZ_CHECK(in.find('{') != std::string_view::npos || text::match_path(in, in));
    }
    return 0;
}

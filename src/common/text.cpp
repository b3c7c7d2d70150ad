#include "common/text.hpp"

#include <sodium.h>

#include <boost/url/encode.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace pb::common::text {

namespace urls = boost::urls;

// Percent-encoding and query strings are Boost.URL's (RFC 3986); what is
// left here is the shape our callers want: strings in, strings out.

std::string url_encode(std::string_view in) { return urls::encode(in, urls::unreserved_chars); }

std::string url_decode(std::string_view in, Plus plus) {
    auto pct = urls::make_pct_string_view(in);
    if (!pct) return std::string(in);  // not valid percent-encoding: nothing to decode
    urls::encoding_opts opts;
    opts.space_as_plus = plus == Plus::space;
    return pct->decode(opts);
}

QueryParams parse_query(std::string_view query) {
    QueryParams out;
    if (!query.empty() && query.front() == '?') query.remove_prefix(1);
    // Boost.URL 1.81 measures the query with strlen (boostorg/url#946): it
    // gets a terminated copy, which cannot change the answer (a valid query
    // has no raw NUL, and one with a NUL fails either way).
    const std::string terminated(query);
    auto parsed = urls::parse_query(terminated);
    if (!parsed) return out;  // malformed: no parameter is trusted
    urls::encoding_opts opts;
    opts.space_as_plus = true;  // form encoding, as browsers and curl send it
    for (auto p : *parsed) {
        if (p.key.empty() && !p.has_value) continue;  // "a=1&&b=2"
        out.emplace_back(p.key.decode(opts), p.has_value ? p.value.decode(opts) : std::string());
    }
    return out;
}

std::optional<std::string> query_get(const QueryParams& params, std::string_view key) {
    for (const auto& [k, v] : params)
        if (k == key) return v;
    return std::nullopt;
}

std::string build_query(const QueryParams& params) {
    std::string out;
    for (const auto& [k, v] : params) {
        if (!out.empty()) out.push_back('&');
        out += url_encode(k);
        out.push_back('=');
        out += url_encode(v);
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    // ASCII only, as HTTP names and media types are; no locale lookups.
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; };
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [&](char x, char y) { return lower(x) == lower(y); });
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for_each_part(s, sep, [&out](std::string_view part) { out.push_back(part); });
    return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool match_path(std::string_view pattern, std::string_view path,
                std::vector<std::pair<std::string, std::string>>* params) {
    // Segment by segment, without splitting into vectors: the host asks this
    // for every route on every request.
    const std::size_t mark = params ? params->size() : 0;
    auto no = [&] {
        if (params) params->resize(mark);  // nothing half-matched is left behind
        return false;
    };
    std::size_t pi = 0, si = 0;
    while (true) {
        std::size_t pe = std::min(pattern.find('/', pi), pattern.size());
        std::size_t se = std::min(path.find('/', si), path.size());
        std::string_view p = pattern.substr(pi, pe - pi);
        std::string_view s = path.substr(si, se - si);
        if (p.size() > 3 && p.front() == '{' && p.substr(p.size() - 2) == "*}") {
            // "{name*}" ends a pattern and takes the rest of the path, slashes
            // included, possibly empty ("/plugins/x/{file*}" matches "/plugins/x/").
            if (pe != pattern.size()) return no();
            if (params)
                params->emplace_back(std::string(p.substr(1, p.size() - 3)),
                                     url_decode(path.substr(si), Plus::literal));
            return true;
        }
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
            if (s.empty()) return no();
            if (params) params->emplace_back(std::string(p.substr(1, p.size() - 2)), url_decode(s, Plus::literal));
        } else if (p != s) {
            return no();
        }
        bool p_end = pe == pattern.size(), s_end = se == path.size();
        if (p_end || s_end) return p_end && s_end ? true : no();
        pi = pe + 1;
        si = se + 1;
    }
}

std::string iso8601_utc(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    // Length is not secret (API keys have a fixed length); the content is.
    if (a.size() != b.size() || a.empty()) return false;
    return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ensure_sodium() {
    // sodium_init() is thread-safe and idempotent; 0 means initialised now,
    // 1 already initialised, -1 failure (no entropy source).
    static const bool ok = sodium_init() >= 0;
    return ok;
}

std::string random_hex(std::size_t bytes) {
    if (!ensure_sodium()) return {};  // no entropy: nothing random is safe to hand out
    std::string raw(bytes, '\0');
    randombytes_buf(raw.data(), raw.size());
    std::string out(bytes * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
    out.resize(bytes * 2);
    sodium_memzero(raw.data(), raw.size());
    return out;
}

static void redact_after(std::string& s, std::string_view marker, std::string_view stop_chars) {
    std::size_t pos = 0;
    const std::string lower = to_lower(s);
    std::string lower_marker = to_lower(marker);
    std::vector<std::pair<std::size_t, std::size_t>> spans;
    while ((pos = lower.find(lower_marker, pos)) != std::string::npos) {
        std::size_t start = pos + marker.size();
        std::size_t end = start;
        while (end < s.size() && stop_chars.find(s[end]) == std::string_view::npos) ++end;
        if (end > start) spans.emplace_back(start, end);
        pos = end;
    }
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) s.replace(it->first, it->second - it->first, "***");
}

std::string redact(std::string_view message, const std::vector<std::string>& secrets) {
    std::string s(message);
    for (const auto& secret : secrets) {
        if (secret.size() < 4) continue;  // too short to be a token; avoids mangling text
        std::size_t pos = 0;
        while ((pos = s.find(secret, pos)) != std::string::npos) {
            s.replace(pos, secret.size(), "***");
            pos += 3;
        }
    }
    // Query-string and header forms, whatever the token.
    redact_after(s, "X-Plex-Token=", "&# \"'\r\n");
    redact_after(s, "X-Plex-Token: ", "\r\n\"");
    redact_after(s, "apikey=", "&# \"'\r\n");
    redact_after(s, "\"authToken\":\"", "\"");
    redact_after(s, "\"accessToken\":\"", "\"");
    redact_after(s, "\"token\":\"", "\"");
    return s;
}

std::size_t characters(std::string_view s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace pb::common::text

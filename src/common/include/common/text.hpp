// Small string helpers shared by every component: URL encoding, query
// strings, case-insensitive compares and constant-time secret compares.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::common::text {

// RFC 3986 percent-encoding of everything but unreserved characters
// (Boost.URL underneath, as for the two below).
std::string url_encode(std::string_view in);
// What '+' means: a space in form encoding (queries), itself in a path.
enum class Plus : uint8_t { space = 1, literal };
// Decodes %XX and '+' as `plus` says. Text that is not valid
// percent-encoding ("%zz", a lone "%") is returned as it is.
std::string url_decode(std::string_view in, Plus plus = Plus::space);

using QueryParams = std::vector<std::pair<std::string, std::string>>;
// Splits "a=1&b=2&a=3" into decoded pairs, keeping order and repeats. A
// query that is not valid RFC 3986 (a raw space, "%zz") gives no pairs at
// all: a route then says what is missing rather than act on a guess.
QueryParams parse_query(std::string_view query);
std::optional<std::string> query_get(const QueryParams& params, std::string_view key);
std::string build_query(const QueryParams& params);

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);
// How many characters (UTF-8 code points) `s` holds, for limits a person
// reads: "Élodie" is 6, not 7.
std::size_t characters(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// The parts split() would return, one by one, without a vector: for paths
// that run on every request.
template <class F>
void for_each_part(std::string_view s, char sep, F&& f) {
    while (true) {
        auto pos = s.find(sep);
        f(s.substr(0, pos));
        if (pos == std::string_view::npos) return;
        s.remove_prefix(pos + 1);
    }
}
bool starts_with(std::string_view s, std::string_view prefix);

// Matches a route pattern ("/api/plex/oauth/pin/{pinId}/check") against a
// path: literal segments equal, "{name}" matches one non-empty segment, and
// a last segment "{name*}" matches the rest of the path (ABI 1.1), slashes
// included, possibly empty. Values come percent-decoded.
// The ABI defines this syntax; host and plugin both use this one function.
bool match_path(std::string_view pattern, std::string_view path,
                std::vector<std::pair<std::string, std::string>>* params = nullptr);

// "2026-11-23T10:33:53Z" for a Unix time in seconds.
std::string iso8601_utc(int64_t unix_seconds);

// Compares two secrets in time independent of where they differ.
bool constant_time_equals(std::string_view a, std::string_view b);

// Initialises libsodium once (thread-safe); false when it cannot be (no
// entropy source). Everything that draws random bytes or seals calls it.
bool ensure_sodium();

// Random lowercase hex from libsodium's CSPRNG: `bytes` random bytes. Empty
// when the system has no entropy to give (libsodium could not initialise):
// callers treat an empty value as unusable.
std::string random_hex(std::size_t bytes);

// Replaces every occurrence of each non-empty secret (and the value of any
// X-Plex-Token / token / apikey query or JSON field) with "***".
std::string redact(std::string_view message, const std::vector<std::string>& secrets = {});

}  // namespace pb::common::text

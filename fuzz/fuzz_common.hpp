// What every fuzz target shares: the input as text, a check that stops the
// run with a message (libFuzzer then saves the input as crash-<sha1>), and
// the invariants several targets test.
#pragma once
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace pb::fuzz {

inline std::string_view text(const uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    std::abort();
}

// The first byte picks what to do with the rest; an empty input picks 0.
struct Split {
    unsigned selector = 0;
    std::string_view rest;
};
inline Split split(const uint8_t* data, std::size_t size) {
    if (size == 0) return {};
    return {data[0], text(data + 1, size - 1)};
}

// Whether `s` is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or
// code points above U+10FFFF).
inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (std::size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}

// Two JSON values are the same, but for the last digits of a double:
// Boost.JSON 1.81 does not round every long number to the nearest double
// (exact parsing came in 1.83), so a double written out can read back an
// ulp or two away.
inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
    if (a.is_double() && b.is_double()) {
        double x = a.get_double(), y = b.get_double();
        return x == y || std::fabs(x - y) <= 1e-14 * std::max(std::fabs(x), std::fabs(y));
    }
    if (a.kind() != b.kind()) return false;
    if (a.is_array()) {
        const auto &p = a.get_array(), &q = b.get_array();
        if (p.size() != q.size()) return false;
        for (std::size_t i = 0; i < p.size(); ++i)
            if (!same_json(p[i], q[i])) return false;
        return true;
    }
    if (a.is_object()) {
        const auto &p = a.get_object(), &q = b.get_object();
        if (p.size() != q.size()) return false;
        for (const auto& [k, v] : p) {
            const boost::json::value* w = q.if_contains(k);
            if (w == nullptr || !same_json(v, *w)) return false;
        }
        return true;
    }
    return a == b;
}

// A JSON value written out reads back the same (what every answer and
// stored setting relies on).
inline bool reparses(const boost::json::value& v) {
    std::string out = boost::json::serialize(v);
    boost::system::error_code ec;
    boost::json::value again = boost::json::parse(out, ec);
    return !ec && same_json(again, v);
}

}  // namespace pb::fuzz

// Stops the run when `cond` is false, saying which invariant broke.
#define PB_FUZZ_CHECK(cond)                                         \
    do {                                                            \
        if (!(cond)) ::pb::fuzz::failed(#cond, __FILE__, __LINE__); \
    } while (0)

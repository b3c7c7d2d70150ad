#include "common/json.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>

namespace pb::common::json {

const bj::value* find(const bj::value& v, std::string_view key) {
    if (!v.is_object()) return nullptr;
    return v.get_object().if_contains(key);
}

std::optional<std::string> get_string(const bj::value& obj, std::string_view key) {
    const bj::value* v = find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_int64()) return std::to_string(v->get_int64());
    if (v->is_uint64()) return std::to_string(v->get_uint64());
    return std::nullopt;  // null, bool, object, array: not a string
}

static std::optional<int64_t> parse_int(std::string_view s) {
    int64_t out = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
    return out;
}

std::optional<int64_t> get_int(const bj::value& obj, std::string_view key) {
    const bj::value* v = find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_int64()) return v->get_int64();
    if (v->is_uint64()) {
        uint64_t u = v->get_uint64();
        if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
        return static_cast<int64_t>(u);
    }
    if (v->is_double()) {
        double d = v->get_double();
        if (d < -9.2e18 || d > 9.2e18) return std::nullopt;
        return static_cast<int64_t>(d);
    }
    if (v->is_string()) return parse_int(v->get_string());
    return std::nullopt;
}

std::optional<bool> get_bool(const bj::value& obj, std::string_view key) {
    const bj::value* v = find(obj, key);
    if (v == nullptr) return std::nullopt;
    if (v->is_bool()) return v->get_bool();
    if (v->is_int64()) return v->get_int64() != 0;
    if (v->is_uint64()) return v->get_uint64() != 0;
    if (v->is_string()) {
        std::string_view s = v->get_string();
        if (s == "1" || s == "true") return true;
        if (s == "0" || s == "false") return false;
    }
    return std::nullopt;
}

std::string get_string_or(const bj::value& obj, std::string_view key, std::string_view fallback) {
    auto s = get_string(obj, key);
    return s ? *s : std::string(fallback);
}
int64_t get_int_or(const bj::value& obj, std::string_view key, int64_t fallback) {
    return get_int(obj, key).value_or(fallback);
}
bool get_bool_or(const bj::value& obj, std::string_view key, bool fallback) {
    return get_bool(obj, key).value_or(fallback);
}

std::string sanitize_utf8(std::string_view in) {
    std::string out;
    out.reserve(in.size());
    const auto* s = reinterpret_cast<const unsigned char*>(in.data());
    std::size_t n = in.size();
    std::size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        std::size_t len = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            out.push_back(static_cast<char>(c));
            ++i;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        }
        bool ok = len != 0 && i + len <= n;
        for (std::size_t k = 1; ok && k < len; ++k) {
            if ((s[i + k] & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        // Reject overlong forms, surrogates and out-of-range code points.
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
                   (cp >= 0xD800 && cp <= 0xDFFF)))
            ok = false;
        if (ok) {
            out.append(in.substr(i, len));
            i += len;
        } else {
            out.append("\xEF\xBF\xBD");
            ++i;
        }
    }
    return out;
}

// Boost.JSON 1.81 reads a number beyond a double's range (1e400) as
// infinity and writes infinity as "Infinity", which is not JSON: a value
// read here and written back (stored settings, answers) would not read
// again. Such a number reads as null, as if it were absent.
static void finite_only(bj::value& v) {
    switch (v.kind()) {
        case bj::kind::double_:
            if (!std::isfinite(v.get_double())) v = nullptr;
            break;
        case bj::kind::array:
            for (auto& x : v.get_array()) finite_only(x);
            break;
        case bj::kind::object:
            for (auto& kv : v.get_object()) finite_only(kv.value());
            break;
        default: break;
    }
}

common::Result<bj::value> parse_lenient(std::string_view text, std::size_t max_depth) {
    std::string clean = sanitize_utf8(text);
    bj::parse_options opts;
    opts.max_depth = max_depth;
    boost::system::error_code ec;
    bj::value v = bj::parse(clean, ec, {}, opts);
    if (ec) return common::Error(common::Errc::bad_request, ec.message());
    finite_only(v);
    return v;
}

}  // namespace pb::common::json

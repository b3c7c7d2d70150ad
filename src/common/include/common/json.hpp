// Lenient readers for the JSON that plex.tv and Plex Media Server send.
//
// Plex is inconsistent about types: the same field is a number in one
// response and a string in another ("childCount": "3" vs 3), booleans come
// as true/false, 1/0 or "1"/"0", and keys go missing. These helpers accept
// every shape seen in ../shared/fixtures and return nullopt for anything
// else, so callers decide what is required and what is optional.
#pragma once
#include <boost/json/fwd.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace pb::common::json {

namespace bj = boost::json;

// Member lookup that tolerates a non-object (returns nullptr).
const bj::value* find(const bj::value& v, std::string_view key);

std::optional<std::string> get_string(const bj::value& obj, std::string_view key);
// Numbers as numbers or numeric strings.
std::optional<int64_t> get_int(const bj::value& obj, std::string_view key);
// true/false, 1/0, "1"/"0", "true"/"false".
std::optional<bool> get_bool(const bj::value& obj, std::string_view key);

std::string get_string_or(const bj::value& obj, std::string_view key, std::string_view fallback);
int64_t get_int_or(const bj::value& obj, std::string_view key, int64_t fallback);
bool get_bool_or(const bj::value& obj, std::string_view key, bool fallback);

// Parses text that may not be valid UTF-8 (PMS sometimes sends Latin-1 or
// garbage bytes) and may start with blank lines. Invalid bytes are replaced
// with U+FFFD before parsing so one bad title cannot hide a whole library.
// Errc::bad_request, with the parser's reason, when the text is not JSON.
common::Result<bj::value> parse_lenient(std::string_view text, std::size_t max_depth = 64);

// Replaces invalid UTF-8 sequences with U+FFFD.
std::string sanitize_utf8(std::string_view in);

}  // namespace pb::common::json

// multipart/form-data, as Plex Media Server sends webhooks: a `payload`
// part (JSON) and, for some events, a `thumb` part (a JPEG).
//
// One pass over the body, no copies: parts come back as views into the
// caller's buffer, so the thumbnail is skipped, never copied. Bounded by
// the body it is given (the host enforces the route's body limit) and by a
// maximum number of parts. Follows RFC 7578 / RFC 2046: the boundary comes
// from Content-Type (quoted or not), delimiters are CRLF "--boundary", a
// preamble and an epilogue are ignored, parts may come in any order.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace pb::webhooks {

struct Part {
    std::string_view name;  // from Content-Disposition
    std::string_view filename;
    std::string_view content_type;
    std::string_view body;
};

// The boundary parameter of a multipart Content-Type; nullopt when absent or
// malformed (empty, longer than 70 characters as RFC 2046 allows).
std::optional<std::string_view> boundary_of(std::string_view content_type);

// The parts, or Errc::webhook_malformed saying what is wrong with the body.
common::Result<std::vector<Part>> parse_multipart(std::string_view body, std::string_view boundary,
                                                  std::size_t max_parts = 16);

}  // namespace pb::webhooks

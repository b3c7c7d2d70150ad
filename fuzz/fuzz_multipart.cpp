// The webhook route's body: multipart/form-data as Plex Media Server sends
// it (webhooks/multipart.hpp), and the other two forms the route takes (a
// form with payload=, bare JSON), as Webhooks::receive tells them apart.
//
// Input: the Content-Type header up to the first newline, then the body.
#include <string>

#include "common/text.hpp"
#include "fuzz_common.hpp"
#include "webhooks/multipart.hpp"
#include "webhooks/payload.hpp"

using namespace pb;
namespace text = common::text;

static bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

static void check_parts(std::string_view body, std::string_view boundary, std::string_view content_type) {
    auto parts = webhooks::parse_multipart(body, boundary);
    if (!parts) {
        PB_FUZZ_CHECK(parts.error().code == common::Errc::webhook_malformed);
        PB_FUZZ_CHECK(!parts.error().message.empty());
        return;
    }
    PB_FUZZ_CHECK(parts->size() <= 16);
    const std::string delimiter = "\r\n--" + std::string(boundary);
    const char* previous_end = body.data();
    for (const auto& p : *parts) {
        // Views into the caller's buffer, in order, never overlapping, none
        // holding a delimiter.
        PB_FUZZ_CHECK(inside(p.name, body) && inside(p.filename, body) && inside(p.content_type, body));
        PB_FUZZ_CHECK(inside(p.body, body));
        if (!p.body.empty()) {
            PB_FUZZ_CHECK(p.body.data() >= previous_end);
            previous_end = p.body.data() + p.body.size();
        }
        PB_FUZZ_CHECK(p.body.find(delimiter) == std::string_view::npos);
    }
    // The part limit is exact: as many parts as there are pass, one fewer fails.
    auto again = webhooks::parse_multipart(body, boundary, parts->size());
    PB_FUZZ_CHECK(again && again->size() == parts->size());
    if (!parts->empty()) PB_FUZZ_CHECK(!webhooks::parse_multipart(body, boundary, parts->size() - 1));
    for (const auto& p : *parts)
        if (p.name == "payload" && !p.body.empty())
            if (auto payload = webhooks::parse_payload(p.body)) (void)webhooks::media_of(*payload);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::text(data, size);
    auto nl = in.find('\n');
    if (nl == std::string_view::npos) return 0;
    std::string_view content_type = in.substr(0, nl);
    if (!content_type.empty() && content_type.back() == '\r') content_type.remove_suffix(1);
    std::string_view body = in.substr(nl + 1);

    std::string_view media_type = text::trim(content_type.substr(0, content_type.find(';')));
    auto boundary = webhooks::boundary_of(content_type);
    if (boundary) {
        PB_FUZZ_CHECK(!boundary->empty() && boundary->size() <= 70);
        PB_FUZZ_CHECK(inside(*boundary, content_type));
        PB_FUZZ_CHECK(text::iequals(media_type, "multipart/form-data"));
        check_parts(body, *boundary, content_type);
    } else if (text::iequals(media_type, "application/x-www-form-urlencoded")) {
        auto payload = text::query_get(text::parse_query(body), "payload");
        if (payload)
            if (auto p = webhooks::parse_payload(*payload)) (void)webhooks::media_of(*p);
    }
    // Any boundary at all (the parser's own checks on it).
    if (!content_type.empty() && content_type.size() <= 80) check_parts(body, content_type, content_type);
    return 0;
}

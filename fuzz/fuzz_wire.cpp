// The readers under every Plex answer: plexapi::parse_wire (JSON or XML
// into one tree, plexapi/wire.hpp) and common::json's lenient JSON reader
// and UTF-8 repair (common/json.hpp).
//
// Input: an answer's body, JSON or XML (parse_wire sniffs which).
#include <boost/json.hpp>

#include "common/json.hpp"
#include "fuzz_common.hpp"
#include "plexapi/wire.hpp"

using namespace pb;

// The tree is as deep as the reader allows (48 levels, plus the wrappers).
static std::size_t depth(const plexapi::Node& n) {
    std::size_t d = 0;
    for (const auto& [name, kids] : n.children)
        for (const auto& k : kids) d = std::max(d, depth(k));
    return d + 1;
}

static void check_values(const plexapi::Node& n) {
    for (const auto& [k, v] : n.attrs) {
        PB_FUZZ_CHECK(fuzz::valid_utf8(v));
        PB_FUZZ_CHECK(n.attr(k) != nullptr);
    }
    for (const auto& [name, kids] : n.children) {
        PB_FUZZ_CHECK(n.kids(name) != nullptr);
        for (const auto& k : kids) check_values(k);
    }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::text(data, size);

    std::string clean = common::json::sanitize_utf8(in);
    PB_FUZZ_CHECK(fuzz::valid_utf8(clean));
    PB_FUZZ_CHECK(common::json::sanitize_utf8(clean) == clean);
    if (fuzz::valid_utf8(in)) PB_FUZZ_CHECK(clean == in);

    if (auto v = common::json::parse_lenient(in)) {
        PB_FUZZ_CHECK(fuzz::reparses(*v));
        if (v->is_object())
            for (const auto& [key, value] : v->get_object()) {
                (void)common::json::get_string(*v, key);
                (void)common::json::get_int(*v, key);
                (void)common::json::get_bool(*v, key);
            }
    } else {
        PB_FUZZ_CHECK(v.error().code == common::Errc::bad_request);
    }

    auto w = plexapi::parse_wire(in);
    if (!w) {
        PB_FUZZ_CHECK(w.error().code == common::Errc::bad_answer && !w.error().message.empty());
        return 0;
    }
    PB_FUZZ_CHECK(depth(*w) <= 48 + 4);
    check_values(*w);
    if (const plexapi::Node* mc = plexapi::media_container(*w)) {
        (void)mc->integer("size");
        (void)mc->boolean("allowSync");
    }
    return 0;
}

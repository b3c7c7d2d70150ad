// The settings validator and parser (settings/settings.hpp): whole objects
// as a host hands them to validate_settings, patches as the settings page
// sends them (merged over the stored settings, then validated whole), and
// stored objects as Store::replace reads them when the host says they
// changed (then the upgrade check of migrations.hpp).
//
// Input: the first byte picks the path (byte % 3: whole object, page patch,
// stored object), the rest is JSON.
#include <boost/json.hpp>

#include "common/json.hpp"
#include "fuzz_common.hpp"
#include "http/url.hpp"
#include "settings/migrations.hpp"
#include "settings/settings.hpp"

using namespace pb;
namespace bj = boost::json;
using settings::Settings;

// ---- what a validated value must look like once parsed ----------------
static void check_value(const settings::Spec& spec, bool) {}
static void check_value(const settings::Spec& spec, int64_t v) { PB_FUZZ_CHECK(v >= spec.min && v <= spec.max); }
static void check_value(const settings::Spec& spec, settings::AuthMethod m) {
    PB_FUZZ_CHECK(m == settings::AuthMethod::oauth || m == settings::AuthMethod::legacy);
}
static void check_value(const settings::Spec& spec, const std::string& s) {
    switch (spec.format) {
        case settings::Format::url: PB_FUZZ_CHECK(http::parse_url(s)); break;
        case settings::Format::url_or_empty: PB_FUZZ_CHECK(s.empty() || http::parse_url(s)); break;
        case settings::Format::host: PB_FUZZ_CHECK(!s.empty()); break;
        case settings::Format::any: break;
    }
}
static void check_value(const settings::Spec& spec, const settings::StringList&) {}
template <class T>
static void check_value(const settings::Spec& spec, const T& typed) {
    // Connections, path mappings: written back as JSON, they validate.
    bj::object o{{spec.name, settings::to_json(typed)}};
    PB_FUZZ_CHECK(settings::validate(o));
}

static void check_valid(const bj::object& obj) {
    // Stored and read again, a valid object is still valid.
    PB_FUZZ_CHECK(fuzz::reparses(obj));
    Settings s = settings::parse(obj);
#define PB_SETTING(member, cpp_type, ...) check_value(*settings::find(#member), s.member);
#include "settings/table.inc"
#undef PB_SETTING
    (void)s.legacy_url();
    auto up = settings::upgrade(obj);
    PB_FUZZ_CHECK(up);
}

// ---- two typed settings are the same -----------------------------------
template <class T>
static bool same(const T& a, const T& b) {
    return a == b;
}
static bool same(const settings::PathMappings& a, const settings::PathMappings& b) {
    return settings::to_json(a) == settings::to_json(b);
}
static bool same(const settings::Connections& a, const settings::Connections& b) {
    return settings::to_json(a) == settings::to_json(b);
}
static bool same(const settings::ProfileList& a, const settings::ProfileList& b) {
    return settings::to_json(a) == settings::to_json(b);
}
static bool same(const Settings& a, const Settings& b) {
    bool all = true;
#define PB_SETTING(member, cpp_type, ...) all = all && same(a.member, b.member);
#include "settings/table.inc"
#undef PB_SETTING
    return all;
}

// A host's validate_settings: the whole candidate.
static void whole(const bj::object& obj) {
    if (auto st = settings::validate(obj); !st) {
        PB_FUZZ_CHECK(st.error().code == common::Errc::bad_request);
        PB_FUZZ_CHECK(st.error().message.find(": ") != std::string::npos);  // "field: why"
        return;
    }
    check_valid(obj);
}

// The page's PATCH: only settings the user writes, merged over what is
// stored, validated whole, then stored through a Store.
static void patch(const bj::object& p) {
    bj::object stored = settings::defaults();
    PB_FUZZ_CHECK(settings::validate(stored));
    bj::object candidate = stored;
    for (const auto& [key, value] : p) {
        const settings::Spec* spec = settings::find(key);
        if (spec == nullptr || spec->access != settings::Access::user || spec->secret) return;
        candidate[key] = value;
    }
    if (!settings::validate(candidate)) return;
    check_valid(candidate);
    settings::Store store([&](std::string_view patch_json) -> common::Status {
        auto v = common::json::parse_lenient(patch_json);
        PB_FUZZ_CHECK(v && v->is_object());
        for (const auto& [k, val] : v->get_object()) stored[k] = val;
        return store.replace(bj::serialize(stored));
    });
    PB_FUZZ_CHECK(store.replace(bj::serialize(stored)));
    PB_FUZZ_CHECK(store.write(p));
    PB_FUZZ_CHECK(fuzz::same_json(store.json(), candidate));
    PB_FUZZ_CHECK(same(*store.snapshot(), settings::parse(candidate)));
}

// The host says the stored settings changed: any JSON at all.
static void replace(std::string_view text) {
    settings::Store store([](std::string_view) -> common::Status { return {}; });
    auto st = store.replace(text);
    auto v = common::json::parse_lenient(text);
    PB_FUZZ_CHECK(bool(st) == (v && v->is_object()));
    if (!st) {
        PB_FUZZ_CHECK(st.error().code == common::Errc::bad_request);
        PB_FUZZ_CHECK(same(*store.snapshot(), settings::parse({})));  // the defaults stay
        return;
    }
    PB_FUZZ_CHECK(store.json() == v->get_object());
    PB_FUZZ_CHECK(same(*store.snapshot(), settings::parse(v->get_object())));
    (void)settings::upgrade(v->get_object());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    auto [selector, rest] = fuzz::split(data, size);
    if (selector % 3 == 2) {
        replace(rest);
        return 0;
    }
    auto v = common::json::parse_lenient(rest);
    if (!v || !v->is_object()) return 0;
    if (selector % 3 == 0)
        whole(v->get_object());
    else
        patch(v->get_object());
    return 0;
}

#include "settings/migrations.hpp"

#include <boost/json.hpp>

namespace pb::settings {

namespace bj = boost::json;

// Version 2: profiles. The settings of version 1 are one Plex sign-in's;
// they become the default profile's, kept where they are (the top-level
// keys), and `profiles` lists it.
static common::Status into_default_profile(bj::object& s) {
    const bj::value* list = s.if_contains("profiles");
    if (list == nullptr || list->is_null()) s["profiles"] = bj::array{bj::object{{"id", "default"}, {"name", ""}}};
    return {};
}

// Append here, oldest first, never reorder.
static constexpr Migration kMigrations[] = {
    {.from_version = 0, .what = "", .retires = {}, .apply = nullptr},
    {.from_version = 1,
     .what = "the settings become the default profile's (profiles: several Plex sign-ins side by side)",
     .retires = {},
     .apply = into_default_profile},
};

std::span<const Migration> migrations() {
    // The sentinel above keeps the array non-empty (C++ has no empty arrays).
    return std::span<const Migration>(kMigrations).subspan(1);
}

int64_t current_version(std::span<const Migration> table) { return 1 + static_cast<int64_t>(table.size()); }

bool retired(std::string_view key, std::span<const Migration> table) {
    for (const auto& m : table)
        for (auto k : m.retires)
            if (k == key) return true;
    return false;
}

common::Result<std::optional<Upgrade>> upgrade(const bj::object& stored, std::span<const Migration> table) {
    int64_t version = 1;
    if (const bj::value* v = stored.if_contains("settings_version"); v && v->is_int64() && v->get_int64() >= 1)
        version = v->get_int64();
    const int64_t target = current_version(table);
    if (version >= target) return std::optional<Upgrade>();
    Upgrade up;
    up.from_version = version;
    bj::object next = stored;
    for (const auto& m : table) {
        if (m.from_version < version) continue;
        if (m.from_version != version)
            return common::Error(common::Errc::internal,
                                 "the settings migrations skip version " + std::to_string(version));
        if (m.apply != nullptr)
            if (auto st = m.apply(next); !st)
                return st.error().context("cannot upgrade the settings from version " + std::to_string(version));
        for (auto k : m.retires) next[k] = nullptr;
        up.steps.emplace_back(m.what);
        ++version;
    }
    next["settings_version"] = version;
    // The patch: every key whose value changed or appeared.
    for (const auto& [k, v] : next) {
        const bj::value* old = stored.if_contains(k);
        if (old == nullptr || *old != v) up.patch[k] = v;
    }
    return std::optional<Upgrade>(std::move(up));
}

}  // namespace pb::settings

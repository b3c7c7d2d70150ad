// Upgrading stored settings when the table changes.
//
// Stored settings carry `settings_version` (1 for everything written before
// versions existed). Each change of the table that renames, splits or
// retypes a setting appends one Migration here, taking version N to N+1,
// and names the keys it retires. Retired keys stay valid (any value) so
// that a host which cannot delete keys (the ABI only merges) still saves;
// the upgrade writes them as null.
//
// The plugin runs upgrade() at load, writes a backup of the stored object
// first (plexbridge-settings.v<N>.backup.json), then stores the patch in
// one atomic write: either every step lands or none does.
#pragma once
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace pb::settings {

struct Migration {
    int64_t from_version = 0;                   // applies to settings at this version; yields from + 1
    std::string_view what;                      // "split connect_timeout_ms into ...", for the log
    std::span<const std::string_view> retires;  // keys that no longer exist after it
    // Rewrites the whole object in place (new keys set, retired keys left for
    // upgrade() to null). Errc::bad_request when the stored values cannot be
    // carried over; the settings are then left as they are.
    common::Status (*apply)(boost::json::object& settings) = nullptr;
};

// The project's migrations, oldest first. Empty while the table has never
// renamed, split or retyped a setting.
std::span<const Migration> migrations();

// The layout version the table is at: 1 + the number of migrations.
int64_t current_version(std::span<const Migration> table = migrations());

// True when `key` was retired by a migration (it is then valid, ignored).
bool retired(std::string_view key, std::span<const Migration> table = migrations());

struct Upgrade {
    int64_t from_version = 0;
    boost::json::object patch;       // everything that changes, settings_version included
    std::vector<std::string> steps;  // Migration::what of each step applied
};

// The patch that brings `stored` to the newest version of `table`, or
// nullopt when it is current (or newer: a downgraded plugin leaves settings
// of a later version alone). Pure: writes nothing.
[[nodiscard]] common::Result<std::optional<Upgrade>> upgrade(const boost::json::object& stored,
                                                             std::span<const Migration> table = migrations());

}  // namespace pb::settings

// The plugin's settings: one table (table.inc) and everything made from it.
//
// The table gives each setting its name, type, default, limits, whether it
// is a secret, its label, help, section, when it is shown and who writes it
// (the user, or only the plugin). From it come the typed Settings struct,
// its parser and validator, the registrations with the host (plugin/) and
// manifest/plugin.json (generated; a test fails on a stale copy).
//
// Stored settings carry `settings_version`; older layouts are upgraded by
// the migrations in migrations.hpp (the Session runs them at load).
//
// Secrets (token, apikey, server_token, webhook_key) are stored sealed by
// the vault ("v1:..."); this component never sees them in plain text.
#pragma once
#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "settings/migrations.hpp"

namespace pb::settings {

// What a setting holds, as the ABI's pb_setting_type says it.
enum class Type : uint8_t { boolean = 1, integer, string, string_list, json };
// Who writes it: the user (shown, editable), the plugin (shown read-only),
// or the plugin alone (never drawn: tokens, connections, identifiers).
enum class Access : uint8_t { user = 1, read_only, internal };
// Where a form draws it.
enum class Section : uint8_t { general = 1, account, legacy, server, libraries, refresh, webhooks, advanced };
// What a string must look like, beyond being a string.
enum class Format : uint8_t { any = 1, url, url_or_empty, host };

struct Choice {
    std::string_view value;  // as stored
    std::string_view label;  // as shown
};

// One field of the objects a list-of-objects setting holds (its shape), so
// that a form can draw it as a table.
struct Field {
    std::string_view name;
    Type type = Type::string;
    std::string_view label;
};

// Shown only when another setting has a value ("apikey" fields only in legacy mode).
struct Condition {
    std::string_view setting;
    std::string_view equals;
    bool always() const { return setting.empty(); }
};

struct Spec {
    std::string_view name{};
    Type type = Type::string;
    std::string_view default_json{};
    Section section = Section::general;
    Access access = Access::user;
    bool secret = false;  // hosts mask it; the plugin stores it sealed
    std::string_view label{};
    std::string_view help{};
    int64_t min = std::numeric_limits<int64_t>::min();
    int64_t max = std::numeric_limits<int64_t>::max();
    std::string_view unit{};  // "ms", "s", "bytes"
    Format format = Format::any;
    std::span<const Choice> choices{};
    std::span<const Field> fields{};  // a JSON list of objects: their fields
    Condition shown_when{};
    bool cleared_at_sign_out = false;
    bool needs_restart = false;
    bool per_profile = false;  // each profile has its own (table.inc)
};

// How the plugin reaches Plex. Stored as the first column of kAuthMethods.
enum class AuthMethod : uint8_t { oauth = 1, legacy };
inline constexpr Choice kAuthMethods[] = {{"oauth", "Sign in with Plex"},
                                          {"apikey", "Server address and token (legacy)"}};
std::string_view to_string(AuthMethod m);

// How much the plugin logs (and keeps for the diagnostics bundle).
inline constexpr Choice kLogLevels[] = {
    {"debug", "Debug (everything)"}, {"info", "Info"}, {"warning", "Warnings and errors"}, {"error", "Errors only"}};

// A host folder and where Plex sees it (Docker, another machine).
struct PathMapping {
    std::string host;  // "/movies"
    std::string plex;  // "/data/movies", "D:\\Movies"
};
using PathMappings = std::vector<PathMapping>;
inline constexpr Field kPathMappingFields[] = {{"host", Type::string, "Path here"},
                                               {"plex", Type::string, "Path in Plex"}};

// A known address of the selected server (for failover).
struct ServerConnection {
    std::string uri;
    bool local = false;
    bool relay = false;
};
using Connections = std::vector<ServerConnection>;
using StringList = std::vector<std::string>;

// ---- profiles: several Plex sign-ins side by side (docs/accounts.md)
//
// `profiles` lists them, the default first. The default profile's values
// are the top-level settings (a host that knows nothing of profiles works
// with it unchanged); each other profile's entry holds its own value of
// every per_profile row it has set, and nothing falls back to the
// default's: a profile never reads another person's token.
inline constexpr std::string_view kDefaultProfile = "default";
inline constexpr std::size_t kMaxProfiles = 8;
inline constexpr std::size_t kMaxProfileName = 64;
struct Profile {
    std::string id;    // "default", or 8 to 32 of [a-z0-9-]
    std::string name;  // as the user named it; "" for the default: its account's name is shown
};
using ProfileList = std::vector<Profile>;
// The fields of a profile's entry: id, name, then every per_profile row.
std::span<const Field> profile_fields();

// The typed view of a settings object: one member per table row.
struct Settings {
#define PB_SETTING(name, cpp_type, ...) cpp_type name{};
#include "settings/table.inc"
#undef PB_SETTING

    bool legacy() const { return auth_method == AuthMethod::legacy; }
    // The account's token as stored (sealed): typed by hand in legacy mode,
    // from sign-in otherwise.
    const std::string& stored_token() const { return legacy() ? apikey : token; }
    // The legacy server address "http(s)://ip:port".
    std::string legacy_url() const;
};

// Every setting, in display order.
std::span<const Spec> table();
const Spec* find(std::string_view name);

// The defaults as one object.
boost::json::object defaults();

// Reads a settings object; anything missing or of the wrong type takes the
// table's default.
Settings parse(const boost::json::object& obj);

// Checks a candidate object (whole or a patch): every key known (or retired
// by a migration), every value of the right type, range and shape. The
// error (Errc::bad_request) names the field first:
// "port: must be an integer between 1 and 65535".
// `table`: the migrations whose retired keys are still accepted.
[[nodiscard]] common::Status validate(const boost::json::object& candidate,
                                      std::span<const Migration> table = migrations());

// The stored object as profile `id` sees it: the whole plugin's keys, and
// the profile's own values of the per_profile rows (the table's defaults
// where it has none). Another profile than the default is always a Plex
// sign-in: never the legacy mode. nullopt when there is no such profile.
[[nodiscard]] std::optional<boost::json::object> profile_view(const boost::json::object& all, std::string_view id);
// The patch of the stored object that writes `patch`, a change of profile
// `id`'s view: its per_profile keys go into its entry (null: back to the
// default), the others stay as they are. Errc::not_found for no such profile.
[[nodiscard]] common::Result<boost::json::object> profile_patch(const boost::json::object& all, std::string_view id,
                                                                const boost::json::object& patch);

// JSON for typed values, the inverse of parse(), for writing patches.
boost::json::value to_json(const Connections& connections);
boost::json::value to_json(const PathMappings& mappings);
boost::json::value to_json(const ProfileList& profiles);

// The cached settings of a running plugin, and the one way to change them.
// A Store serves one profile: the default one's sees the stored object as
// it is; another's sees profile_view() and writes through profile_patch().
//
// Thread-safe. snapshot() is cheap (a shared pointer), for hot paths.
// write() must not be called while holding a lock that replace() (called
// by the host from inside the write, on the same thread) would need.
class Store {
public:
    // Hands a validated patch (JSON text) to whoever stores the settings:
    // the host, through the ABI. It calls replace() before returning.
    using Writer = std::function<common::Status(std::string_view patch_json)>;
    explicit Store(Writer writer, std::span<const Migration> table = migrations());
    // Profile `profile`'s view, writing through `writer` as `like` does
    // and one write at a time with it and every store made from it (a
    // profile's write rewrites the whole `profiles` list).
    Store(const Store& like, std::string profile);

    // The whole stored object changed (at load, or the host said so).
    // A text that is not a JSON object is ignored and reported.
    [[nodiscard]] common::Status replace(std::string_view all_json);
    [[nodiscard]] common::Status replace(const boost::json::object& all);
    std::shared_ptr<const Settings> snapshot() const;
    // This profile's view of the stored object.
    boost::json::object json() const;
    // The stored object as it is, every profile's included.
    boost::json::object all() const;
    const std::string& profile() const { return profile_; }
    bool is_default() const { return profile_ == kDefaultProfile; }
    // Validates `patch` and stores it: nothing changes on failure.
    [[nodiscard]] common::Status write(const boost::json::object& patch);
    // A change made from the stored object as it is (read, changed and
    // written as one, with no other store's write in between): `make`
    // fills the patch of the stored object (not of a profile's view).
    using Change = std::function<common::Status(const boost::json::object& all, boost::json::object& patch)>;
    [[nodiscard]] common::Status update(const Change& make);

private:
    Writer writer_;
    std::span<const Migration> table_;
    std::string profile_{kDefaultProfile};
    std::shared_ptr<std::mutex> write_mu_ = std::make_shared<std::mutex>();
    mutable std::mutex mu_;
    boost::json::object json_;  // the stored object
    boost::json::object view_;  // this profile's view of it
    std::shared_ptr<const Settings> typed_;
};

}  // namespace pb::settings

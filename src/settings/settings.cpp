#include "settings/settings.hpp"

#include <boost/json.hpp>

#include <algorithm>

#include "common/json.hpp"
#include "common/text.hpp"
#include "http/url.hpp"

namespace pb::settings {

namespace bj = boost::json;
using common::Errc;
using common::Error;

namespace {

constexpr Spec kTable[] = {
#define PB_SETTING(member, cpp_type, ...) Spec{.name = #member, __VA_ARGS__},
#include "settings/table.inc"
#undef PB_SETTING
};

constexpr std::size_t kMaxString = 4096;

// Readers from JSON into each C++ type a row can have. Anything of the
// wrong shape leaves `out` alone (it holds the default).
void read(const bj::value& v, bool& out) {
    if (v.is_bool()) out = v.get_bool();
}
void read(const bj::value& v, int64_t& out) {
    if (v.is_int64()) out = v.get_int64();
}
void read(const bj::value& v, std::string& out) {
    if (v.is_string()) out = std::string(v.get_string());
}
void read(const bj::value& v, StringList& out) {
    if (!v.is_array()) return;
    out.clear();
    for (const auto& x : v.get_array())
        if (x.is_string()) out.emplace_back(x.get_string());
}
void read(const bj::value& v, AuthMethod& out) {
    if (!v.is_string()) return;
    for (std::size_t i = 0; i < std::size(kAuthMethods); ++i)
        if (v.get_string() == kAuthMethods[i].value) out = static_cast<AuthMethod>(i + 1);
}
void read(const bj::value& v, Connections& out) {
    if (!v.is_array()) return;
    out.clear();
    for (const auto& c : v.get_array()) {
        ServerConnection k;
        if (c.is_string()) {
            k.uri = std::string(c.get_string());  // the oldest stored form: bare URIs
        } else if (c.is_object()) {
            k.uri = common::json::get_string_or(c, "uri", "");
            k.local = common::json::get_bool_or(c, "local", false);
            k.relay = common::json::get_bool_or(c, "relay", false);
        }
        if (!k.uri.empty()) out.push_back(std::move(k));
    }
}

bool valid_profile_id(std::string_view id) {
    if (id == kDefaultProfile) return true;
    if (id.size() < 8 || id.size() > 32) return false;
    return std::all_of(id.begin(), id.end(),
                       [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// An id names a folder: one that is not an id (a settings file edited by
// hand, a host that skipped validation) is left out, and so is a second
// profile of the same id.
void read(const bj::value& v, ProfileList& out) {
    if (!v.is_array()) return;
    out.clear();
    for (const auto& e : v.get_array()) {
        Profile p{common::json::get_string_or(e, "id", ""), common::json::get_string_or(e, "name", "")};
        bool seen = std::any_of(out.begin(), out.end(), [&](const Profile& q) { return q.id == p.id; });
        if (valid_profile_id(p.id) && !seen) out.push_back(std::move(p));
    }
}

void read(const bj::value& v, PathMappings& out) {
    if (!v.is_array()) return;
    out.clear();
    for (const auto& m : v.get_array()) {
        PathMapping p{common::json::get_string_or(m, "host", ""), common::json::get_string_or(m, "plex", "")};
        if (!p.host.empty() && !p.plex.empty()) out.push_back(std::move(p));
    }
}

// Shape checks for JSON-typed rows, by C++ type. Other types are fully
// described by Spec::type.
std::optional<std::string> check_shape(const bj::value&, const void*) { return std::nullopt; }
std::optional<std::string> check_shape(const bj::value& v, const Connections*) {
    if (!v.is_array()) return "must be a list";
    return std::nullopt;
}
std::optional<std::string> check_shape(const bj::value& v, const PathMappings*) {
    if (!v.is_array()) return "must be a list of {\"host\": \"/path\", \"plex\": \"/path\"}";
    for (const auto& m : v.get_array()) {
        auto host = common::json::get_string_or(m, "host", ""), plex = common::json::get_string_or(m, "plex", "");
        if (!m.is_object() || host.empty() || plex.empty())
            return "each mapping needs a \"host\" path and a \"plex\" path";
        if (host.size() > kMaxString || plex.size() > kMaxString) return "a path is too long";
    }
    if (v.get_array().size() > 64) return "at most 64 mappings";
    return std::nullopt;
}

std::optional<std::string> check_shape(const bj::value& v, const ProfileList*) {
    if (!v.is_array() || v.get_array().empty()) return "must be a list of profiles, the default one first";
    const auto& list = v.get_array();
    if (list.size() > kMaxProfiles) return "at most " + std::to_string(kMaxProfiles) + " profiles";
    std::vector<std::string_view> seen;
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_object()) return "each profile must be an object";
        const auto& e = list[i].get_object();
        const bj::value* id = e.if_contains("id");
        if (!id || !id->is_string() || !valid_profile_id(id->get_string()))
            return "each profile needs an \"id\": \"default\" or 8 to 32 of a-z, 0-9 and -";
        if ((i == 0) != (id->get_string() == kDefaultProfile)) return "the default profile comes first, once";
        if (std::find(seen.begin(), seen.end(), std::string_view(id->get_string())) != seen.end())
            return "two profiles have the id " + std::string(id->get_string());
        seen.emplace_back(id->get_string());
        if (const bj::value* name = e.if_contains("name");
            name && (!name->is_string() || common::text::characters(name->get_string()) > kMaxProfileName))
            return "a profile's name must be a string of at most " + std::to_string(kMaxProfileName) + " characters";
        bj::object own;
        for (const auto& [k, x] : e) {
            if (k == "id" || k == "name") continue;
            const Spec* spec = find(k);
            if (spec == nullptr || !spec->per_profile)
                return "profile " + std::string(id->get_string()) + ": " + std::string(k) +
                       " is not a setting a profile has";
            if (i == 0) return "the default profile's " + std::string(k) + " is the top-level setting";
            own[k] = x;
        }
        if (auto st = validate(own); !st) return "profile " + std::string(id->get_string()) + ": " + st.error().message;
    }
    return std::nullopt;
}

std::string quoted_choices(std::span<const Choice> choices) {
    std::string out;
    for (std::size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
        out += "\"" + std::string(choices[i].value) + "\"";
    }
    return out;
}

// What is wrong with `v` as a value of `spec`, or nullopt.
std::optional<std::string> problem(const Spec& spec, const bj::value& v) {
    switch (spec.type) {
        case Type::boolean:
            if (!v.is_bool()) return "must be true or false";
            break;
        case Type::integer: {
            if (!v.is_int64() && !v.is_uint64()) return "must be an integer";
            bool bounded =
                spec.min != std::numeric_limits<int64_t>::min() || spec.max != std::numeric_limits<int64_t>::max();
            int64_t n = v.is_int64() ? v.get_int64() : std::numeric_limits<int64_t>::max();
            if (bounded && (!v.is_int64() || n < spec.min || n > spec.max)) {
                if (spec.max == std::numeric_limits<int64_t>::max())
                    return "must be an integer of at least " + std::to_string(spec.min);
                return "must be an integer between " + std::to_string(spec.min) + " and " + std::to_string(spec.max);
            }
            break;
        }
        case Type::string: {
            if (!v.is_string()) return "must be a string";
            std::string_view s = v.get_string();
            if (s.size() > kMaxString) return "is too long";
            if (!spec.choices.empty()) {
                bool known = false;
                for (const auto& c : spec.choices) known = known || c.value == s;
                if (!known) return "must be " + quoted_choices(spec.choices);
            }
            switch (spec.format) {
                case Format::url:
                    if (!http::parse_url(s)) return "must be an http(s) URL";
                    break;
                case Format::url_or_empty:
                    if (!s.empty() && !http::parse_url(s)) return "must be empty or an http(s) URL";
                    break;
                case Format::host:
                    if (s.empty() || s.find_first_of("/ ?#@") != std::string_view::npos)
                        return "must be a host name or an IP address";
                    break;
                case Format::any: break;
            }
            break;
        }
        case Type::string_list:
            if (!v.is_array()) return "must be a list of strings";
            for (const auto& x : v.get_array())
                if (!x.is_string()) return "must be a list of strings";
            break;
        case Type::json: break;
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(AuthMethod m) {
    auto i = static_cast<std::size_t>(m);
    return i >= 1 && i <= std::size(kAuthMethods) ? kAuthMethods[i - 1].value : kAuthMethods[0].value;
}

std::span<const Spec> table() { return kTable; }

const Spec* find(std::string_view name) {
    for (const auto& s : kTable)
        if (s.name == name) return &s;
    return nullptr;
}

bj::object defaults() {
    bj::object o;
    for (const auto& s : kTable) o[s.name] = bj::parse(s.default_json);
    return o;
}

std::span<const Field> profile_fields() {
    static const std::vector<Field> fields = [] {
        std::vector<Field> f{{"id", Type::string, "Id"}, {"name", Type::string, "Name"}};
        for (const auto& s : kTable)
            if (s.per_profile) f.push_back({s.name, s.type, s.label});
        return f;
    }();
    return fields;
}

namespace {
const bj::object* profile_entry(const bj::object& all, std::string_view id, std::size_t* index = nullptr) {
    const bj::value* list = all.if_contains("profiles");
    if (list == nullptr || !list->is_array()) return nullptr;
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
        const auto& e = list->get_array()[i];
        if (e.is_object() && common::json::get_string_or(e, "id", "") == id) {
            if (index) *index = i;
            return &e.get_object();
        }
    }
    return nullptr;
}

// Another profile's view: the whole plugin's keys, and its own values.
bj::object other_view(const bj::object& all, const bj::object* entry) {
    // The profile's own values, else the table's defaults: never the default profile's.
    static const bj::object kDefaults = defaults();
    bj::object view = all;
    for (const auto& s : kTable)
        if (s.per_profile) view[s.name] = kDefaults.at(s.name);
    if (entry)
        for (const auto& [k, v] : *entry)
            if (k != "id" && k != "name") view[k] = v;
    view["auth_method"] = to_string(AuthMethod::oauth);
    return view;
}
}  // namespace

std::optional<bj::object> profile_view(const bj::object& all, std::string_view id) {
    if (id == kDefaultProfile) return all;
    const bj::object* entry = profile_entry(all, id);
    if (entry == nullptr) return std::nullopt;
    return other_view(all, entry);
}

common::Result<bj::object> profile_patch(const bj::object& all, std::string_view id, const bj::object& patch) {
    if (id == kDefaultProfile) return patch;
    std::size_t index = 0;
    const bj::object* entry = profile_entry(all, id, &index);
    if (entry == nullptr) return Error(Errc::not_found, "There is no profile " + std::string(id) + ".");
    bj::object out;
    bj::object mine = *entry;
    bool changed = false;
    for (const auto& [k, v] : patch) {
        const Spec* spec = find(k);
        if (spec != nullptr && spec->per_profile) {
            changed = true;
            if (v.is_null())
                mine.erase(k);
            else
                mine[k] = v;
        } else if (k == "auth_method") {
            // Always "oauth" in another profile's view: only that is no change.
            if (v != bj::value(to_string(AuthMethod::oauth)))
                return Error(Errc::bad_request, "auth_method: the legacy mode is the default profile's alone");
        } else {
            out[k] = v;
        }
    }
    if (changed) {
        bj::array list = all.at("profiles").get_array();
        list[index] = std::move(mine);
        out["profiles"] = std::move(list);
    }
    return out;
}

Settings parse(const bj::object& o) {
    // The defaults, parsed once: every row's starting value.
    static const bj::object kDefaults = defaults();
    Settings s;
#define PB_SETTING(member, cpp_type, ...)  \
    read(kDefaults.at(#member), s.member); \
    if (const bj::value* v = o.if_contains(#member)) read(*v, s.member);
#include "settings/table.inc"
#undef PB_SETTING
    return s;
}

common::Status validate(const bj::object& c, std::span<const Migration> table) {
    auto fail = [](std::string_view key, const std::string& why) {
        return Error(Errc::bad_request, std::string(key) + ": " + why);
    };
    // A candidate from a newer plugin (the user downgraded) may hold keys
    // this one does not know: they are that version's, not typos.
    const bj::value* version = c.if_contains("settings_version");
    bool newer = version && version->is_int64() && version->get_int64() > current_version(table);
    for (const auto& [key, value] : c) {
        const Spec* spec = find(key);
        if (spec == nullptr) {
            if (retired(key, table) || newer) continue;
            return fail(key, "unknown setting");
        }
        if (auto why = problem(*spec, value)) return fail(key, *why);
    }
    // Shapes of JSON-typed rows, by their C++ type.
#define PB_SETTING(member, cpp_type, ...)            \
    if (const bj::value* v = c.if_contains(#member)) \
        if (auto why = check_shape(*v, static_cast<const cpp_type*>(nullptr))) return fail(#member, *why);
#include "settings/table.inc"
#undef PB_SETTING
    return {};
}

bj::value to_json(const PathMappings& mappings) {
    bj::array a;
    for (const auto& m : mappings) a.push_back(bj::object{{"host", m.host}, {"plex", m.plex}});
    return a;
}

bj::value to_json(const ProfileList& profiles) {
    bj::array a;
    for (const auto& p : profiles) a.push_back(bj::object{{"id", p.id}, {"name", p.name}});
    return a;
}

bj::value to_json(const Connections& connections) {
    bj::array a;
    for (const auto& c : connections) a.push_back(bj::object{{"uri", c.uri}, {"local", c.local}, {"relay", c.relay}});
    return a;
}

std::string Settings::legacy_url() const {
    bool v6 = ip.find(':') != std::string::npos;
    return std::string(ssl ? "https" : "http") + "://" + (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

// ---------------------------------------------------------------- Store

Store::Store(Writer writer, std::span<const Migration> table)
    : writer_(std::move(writer)), table_(table), typed_(std::make_shared<const Settings>(parse({}))) {}

Store::Store(const Store& like, std::string profile)
    : writer_(like.writer_),
      table_(like.table_),
      profile_(std::move(profile)),
      write_mu_(like.write_mu_),
      typed_(std::make_shared<const Settings>(parse(other_view({}, nullptr)))) {
    (void)replace(like.all());
}

common::Status Store::replace(std::string_view all_json) {
    auto v = common::json::parse_lenient(all_json);
    if (!v || !v->is_object())
        return Error(Errc::bad_request,
                     "the host's settings are not a JSON object" + (v ? std::string() : ": " + v.error().message));
    return replace(v->get_object());
}

common::Status Store::replace(const bj::object& all) {
    // A profile that was removed reads as signed out, with nothing of its own.
    bj::object view = is_default() ? all : profile_view(all, profile_).value_or(other_view(all, nullptr));
    auto typed = std::make_shared<const Settings>(parse(view));
    std::lock_guard lock(mu_);
    json_ = all;
    view_ = std::move(view);
    typed_ = std::move(typed);
    return {};
}

std::shared_ptr<const Settings> Store::snapshot() const {
    std::lock_guard lock(mu_);
    return typed_;
}

bj::object Store::json() const {
    std::lock_guard lock(mu_);
    return is_default() ? json_ : view_;
}

bj::object Store::all() const {
    std::lock_guard lock(mu_);
    return json_;
}

common::Status Store::write(const bj::object& patch) {
    // The plugin writes only what it made: a value the table refuses is a bug.
    if (auto st = validate(patch, table_); !st)
        return Error(Errc::internal, "the plugin tried to store an invalid setting: " + st.error().message);
    // One write at a time across the profiles' stores: a profile's write
    // rewrites the whole list from the stored object as it is now, which
    // the write before it has already replaced (the host calls replace()
    // from inside the writer). Not under mu_, for that same reason.
    if (is_default()) {
        std::lock_guard lock(*write_mu_);
        return writer_(bj::serialize(patch));
    }
    return update([&](const bj::object& all, bj::object& whole) -> common::Status {
        auto p = profile_patch(all, profile_, patch);
        if (!p) return p.error();
        whole = std::move(*p);
        return {};
    });
}

common::Status Store::update(const Change& make) {
    std::lock_guard lock(*write_mu_);
    bj::object patch;
    if (auto st = make(all(), patch); !st) return st;
    if (patch.empty()) return {};
    if (auto st = validate(patch, table_); !st)
        return Error(Errc::internal, "the plugin tried to store an invalid setting: " + st.error().message);
    return writer_(bj::serialize(patch));
}

}  // namespace pb::settings

// GET / PATCH /api/plex/settings: the settings the plugin's own page reads
// and changes, through the ABI, so the page works in any host (it never
// calls a host's routes). Only what a user may edit can be changed here;
// internal settings are neither shown nor accepted, secrets come masked.
#include <boost/json.hpp>

#include "common/json.hpp"
#include "plugin/plugin.hpp"
#include "settings/schema.hpp"
#include "settings/settings.hpp"

namespace pb::plugin {

namespace bj = boost::json;
using common::Errc;
using common::Error;

static constexpr std::string_view kMasked = "********";

static std::string_view view(pb_str s) { return std::string_view(s.data ? s.data : "", s.data ? s.len : 0); }
static pb_str view(std::string_view s) { return pb_str{s.data(), s.size()}; }
static void sink_to_string(void* ctx, pb_str v) { static_cast<std::string*>(ctx)->assign(view(v)); }

static const settings::Spec* find_spec(std::string_view name) {
    for (const auto& s : settings::table())
        if (s.name == name) return &s;
    return nullptr;
}

common::Result<bj::object> Plugin::stored_settings() const {
    std::string text;
    if (host_.settings_read(host_.host_ctx, sink_to_string, &text) != PB_OK)
        return Error(Errc::storage, "the host could not read the settings");
    auto v = common::json::parse_lenient(text);
    if (!v || !v->is_object()) return Error(Errc::storage, "the host's settings are not a JSON object");
    return std::move(v->get_object());
}

// What the page sees: user and read-only settings, secrets masked, and
// their descriptions (labels, help, choices: written once, in the table).
static bj::object shown(const bj::object& stored) {
    bj::object values;
    bj::array schema;
    for (const auto& s : settings::table()) {
        if (s.access == settings::Access::internal) continue;
        schema.push_back(settings::describe(s));
        auto it = stored.find(s.name);
        if (it == stored.end()) continue;
        if (s.secret)
            values[s.name] = it->value().is_string() && !it->value().get_string().empty() ? kMasked : "";
        else
            values[s.name] = it->value();
    }
    return bj::object{{"values", std::move(values)}, {"schema", std::move(schema)}};
}

// The stored settings as the request's profile sees them (?profile=).
static common::Result<bj::object> profile_view(const common::Result<bj::object>& stored, const std::string& id) {
    if (!stored) return stored.error();
    auto view = settings::profile_view(*stored, id);
    if (!view) return Error(Errc::profile_unknown, "There is no profile " + id + ".");
    return std::move(*view);
}

void Plugin::page_settings_get(route::Call& call, route::Reply reply) {
    auto unit = unit_of(call, reply);
    if (!unit) return;
    auto stored = profile_view(stored_settings(), unit->id);
    if (!stored) return reply.fail(stored.error());
    reply.data(shown(*stored));
}

void Plugin::page_settings_patch(route::Call& call, route::Reply reply) {
    auto unit = unit_of(call, reply);
    if (!unit) return;
    auto v = common::json::parse_lenient(call.body);
    if (!v || !v->is_object()) return reply.fail(Error(Errc::bad_request, "the body must be a JSON object"));
    bj::object patch;
    for (const auto& [key, value] : v->get_object()) {
        const settings::Spec* spec = find_spec(key);
        if (spec == nullptr || spec->access != settings::Access::user)
            return reply.fail(Error(Errc::bad_request, std::string(key) + ": not a setting this page can change"));
        // A masked secret sent back unchanged means "keep it".
        if (spec->secret && value.is_string() && value.get_string() == kMasked) continue;
        // A secret goes through the route that seals it before it is stored.
        if (spec->secret)
            return reply.fail(Error(Errc::bad_request, std::string(key) +
                                                           ": a secret; store it with POST /api/plex/apikey, "
                                                           "which encrypts it"));
        // The legacy mode is the default profile's alone.
        if (unit->id != settings::kDefaultProfile &&
            (spec->section == settings::Section::legacy || key == "auth_method"))
            return reply.fail(Error(Errc::bad_request, std::string(key) +
                                                           ": the legacy mode (address and token by hand) is the "
                                                           "default profile's alone"));
        patch[key] = value;
    }
    // Read, check and write as one: two saves at once must not each pass
    // against a state the other is about to change.
    std::lock_guard lock(page_settings_mu_);
    auto stored = profile_view(stored_settings(), unit->id);
    if (!stored) return reply.fail(stored.error());
    bj::object candidate = *stored;
    for (const auto& [key, value] : patch) candidate[key] = value;
    std::string why;
    if (validate_settings(bj::serialize(candidate), &why) != PB_OK) {
        // "name: why": the page shows it next to that field.
        auto answer = common::route_answer(Error(Errc::bad_request, why));
        bj::object body{{"error", why}, {"code", answer.name}};
        auto colon = why.find(": ");
        if (colon != std::string::npos && find_spec(why.substr(0, colon))) body["field"] = why.substr(0, colon);
        return reply.json(answer.status, body);
    }
    // Through the profile's store: a profile's values are written into
    // its entry, one write at a time with the plugin's own.
    if (!patch.empty())
        if (auto st = unit->session->store_user_settings(patch); !st) return reply.fail(st.error());
    auto now = profile_view(stored_settings(), unit->id);
    if (!now) return reply.fail(now.error());
    reply.data(shown(*now));
}

}  // namespace pb::plugin

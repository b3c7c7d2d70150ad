// GET /api/plex/diagnostics: what a user attaches to a bug report. No
// secret is in it: secrets are masked, the e-mail and account id left out,
// log lines redacted (again: a line written before a secret was known may
// still hold it). It does hold the Plex user name, server names and
// addresses, which a bug report usually needs; the page says so.
#include <boost/json.hpp>

#include <ctime>

#include "common/json.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "plugin/plugin.hpp"
#include "settings/settings.hpp"

namespace pb::plugin {

namespace bj = boost::json;

static std::string_view view(pb_str s) { return std::string_view(s.data ? s.data : "", s.data ? s.len : 0); }

void Plugin::diagnostics(route::Call&, route::Reply reply) {
    std::string stored;
    host_.settings_read(
        host_.host_ctx, [](void* ctx, pb_str v) { static_cast<std::string*>(ctx)->assign(view(v)); }, &stored);
    bj::object settings;
    if (auto v = common::json::parse_lenient(stored); v && v->is_object()) settings = v->get_object();
    std::vector<std::string> secrets = log_->secrets().snapshot();
    // The same for the top-level settings and each profile's own.
    auto mask = [](bj::object& o) {
        for (const char* personal : {"email", "user_id"})
            if (auto it = o.find(personal); it != o.end()) it->value() = "(left out)";
        for (const auto& s : settings::table()) {
            auto it = o.find(s.name);
            if (it == o.end() || !s.secret) continue;
            bool set = !(it->value().is_string() && it->value().get_string().empty()) && !it->value().is_null();
            it->value() = set ? "(set, not included)" : "(empty)";
        }
    };
    mask(settings);
    if (auto it = settings.find("profiles"); it != settings.end() && it->value().is_array())
        for (auto& p : it->value().get_array())
            if (p.is_object()) mask(p.get_object());
    bj::object status;
    for (const auto& u : units()) status[u->id] = u->refresher->status_json();
    bj::array lines;
    for (const auto& line : log_->recent_lines()) lines.push_back(bj::string(common::text::redact(line, secrets)));
    const std::time_t now = std::time(nullptr);
    bj::object bundle{{"generated_at", common::text::iso8601_utc(now)},
                      {"plugin",
                       {{"id", common::kProduct},
                        {"version", common::kVersion},
                        {"abi", std::to_string(PB_ABI_VERSION_MAJOR) + "." + std::to_string(PB_ABI_VERSION_MINOR)}}},
                      {"host",
                       {{"name", view(host_.host_name)},
                        {"abi", std::to_string(PB_ABI_MAJOR(host_.abi_version)) + "." +
                                    std::to_string(PB_ABI_MINOR(host_.abi_version))}}},
                      {"settings", std::move(settings)},
                      {"status", status.empty() ? bj::value(nullptr) : bj::value(status.at(settings::kDefaultProfile))},
                      {"profiles_status", std::move(status)},
                      {"log", std::move(lines)}};
    std::string day = common::text::iso8601_utc(now).substr(0, 10);
    reply.raw(200, "application/json", bj::serialize(bundle),
              {{"Content-Disposition", "attachment; filename=\"plexbridge-diagnostics-" + day + ".json\""},
               {"Cache-Control", "no-store"}});
}

}  // namespace pb::plugin

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
    for (const char* personal : {"email", "user_id"})
        if (auto it = settings.find(personal); it != settings.end()) it->value() = "(left out)";
    for (const auto& s : settings::table()) {
        auto it = settings.find(s.name);
        if (it == settings.end() || !s.secret) continue;
        bool set = !(it->value().is_string() && it->value().get_string().empty()) && !it->value().is_null();
        it->value() = set ? "(set, not included)" : "(empty)";
    }
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
                      {"status", refresher_ ? bj::value(refresher_->status_json()) : bj::value(nullptr)},
                      {"log", std::move(lines)}};
    std::string day = common::text::iso8601_utc(now).substr(0, 10);
    reply.raw(200, "application/json", bj::serialize(bundle),
              {{"Content-Disposition", "attachment; filename=\"plexbridge-diagnostics-" + day + ".json\""},
               {"Cache-Control", "no-store"}});
}

}  // namespace pb::plugin

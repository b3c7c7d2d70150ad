// plexbridge-manifest: writes manifest/plugin.json, the plugin described for
// hosts that read a file instead of loading the library.
//
// Nothing in the manifest is written by hand: the settings come from the
// settings table (with what a form needs: label, help, section, limits,
// choices, when shown, who writes them), the routes and events from a
// plugin loaded in-process by a recording host, the version from CMake.
// The build writes it to <build>/manifest/plugin.json; a test fails when
// the checked-in copy differs (`cmake --build build --target
// update-manifest` refreshes it).
#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "common/fs.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "plugin/plugin.hpp"
#include "settings/migrations.hpp"
#include "settings/schema.hpp"
#include "settings/settings.hpp"

namespace bj = boost::json;
using namespace pb;

namespace {

constexpr std::string_view kDisplayName = "Plex (plexbridge)";
constexpr std::string_view kDescription =
    "Sign in with Plex, server discovery, library refresh after subtitle changes, and Plex webhooks.";

// Records what the plugin registers; stores settings in memory.
struct Recorder {
    bj::array routes;
    bj::array events;
    bj::value page;  // the plugin's own settings page, when it declares one
    bj::object stored;

    pb_host_api table(const std::string& data_dir) {
        pb_host_api h;
        PB_STRUCT_INIT(h);
        h.abi_version = PB_ABI_VERSION;
        h.host_ctx = this;
        h.data_dir = pb_str{data_dir.data(), data_dir.size()};
        h.log = [](void*, pb_log_level level, pb_str m) {
            if (level >= PB_LOG_WARNING) std::cerr << std::string_view(m.data, m.len) << "\n";
        };
        h.register_setting = [](void* c, const pb_setting_desc* d) {
            auto* self = static_cast<Recorder*>(c);
            self->stored[std::string_view(d->name.data, d->name.len)] =
                bj::parse(std::string_view(d->default_json.data, d->default_json.len));
            return PB_OK;
        };
        h.register_route = [](void* c, const pb_route_desc* d) {
            static_cast<Recorder*>(c)->routes.push_back(
                bj::object{{"method", std::string_view(d->method.data, d->method.len)},
                           {"path", std::string_view(d->path_pattern.data, d->path_pattern.len)},
                           {"auth", d->auth == PB_ROUTE_AUTH_NONE ? "plugin" : "apikey"}});
            return PB_OK;
        };
        h.subscribe_event = [](void* c, pb_str n) {
            static_cast<Recorder*>(c)->events.push_back(bj::string(std::string_view(n.data, n.len)));
            return PB_OK;
        };
        h.settings_read = [](void* c, pb_str_sink sink, void* ctx) {
            std::string s = bj::serialize(static_cast<Recorder*>(c)->stored);
            sink(ctx, pb_str{s.data(), s.size()});
            return PB_OK;
        };
        h.settings_write = [](void* c, pb_str patch, pb_str_sink, void*) {
            auto* self = static_cast<Recorder*>(c);
            bj::value parsed = bj::parse(std::string_view(patch.data, patch.len));  // named: must outlive the loop
            for (auto& [k, v] : parsed.as_object()) self->stored[k] = v;
            return PB_OK;
        };
        h.respond = [](void*, pb_responder*, const pb_http_response*) {};
        h.request_search = [](void*, const pb_search_request*) { return PB_SEARCH_REFUSED; };
        h.register_page = [](void* c, const pb_page_desc* d) {
            static_cast<Recorder*>(c)->page =
                bj::object{{"title", std::string_view(d->title.data, d->title.len)},
                           {"path", std::string_view(d->entry_path.data, d->entry_path.len)}};
            return PB_OK;
        };
        return h;
    }
};

// Two-space indented JSON, keys in insertion order: the checked-in form.
void pretty(std::string& out, const bj::value& v, int indent) {
    auto pad = [&](int n) { out.append(static_cast<std::size_t>(n), ' '); };
    if (v.is_object()) {
        const auto& o = v.get_object();
        if (o.empty()) return out.append("{}"), void();
        out += "{\n";
        std::size_t i = 0;
        for (const auto& [k, x] : o) {
            pad(indent + 2);
            out += bj::serialize(bj::string_view(k)) + ": ";
            pretty(out, x, indent + 2);
            out += ++i < o.size() ? ",\n" : "\n";
        }
        pad(indent);
        out += "}";
    } else if (v.is_array()) {
        const auto& a = v.get_array();
        if (a.empty()) return out.append("[]"), void();
        out += "[\n";
        for (std::size_t i = 0; i < a.size(); ++i) {
            pad(indent + 2);
            pretty(out, a[i], indent + 2);
            out += i + 1 < a.size() ? ",\n" : "\n";
        }
        pad(indent);
        out += "]";
    } else {
        out += bj::serialize(v);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: plexbridge-manifest OUTPUT.json\n";
        return 2;
    }
    auto scratch = std::filesystem::temp_directory_path() / ("pb-manifest-" + common::text::random_hex(6));
    std::filesystem::create_directories(scratch);
    Recorder rec;
    const std::string data_dir = scratch.string();  // the table borrows it: it must outlive the plugin
    pb_host_api host = rec.table(data_dir);
    int status = 0;
    {
        plugin::Plugin p(host);
        if (p.init() != PB_OK) {
            std::cerr << "plexbridge-manifest: the plugin did not load\n";
            status = 1;
        }
        p.destroy();
    }
    std::filesystem::remove_all(scratch);
    if (status != 0) return status;

    bj::array settings;
    for (const auto& s : settings::table()) settings.push_back(settings::describe(s));
    bj::object m{{"id", common::kProduct},
                 {"name", kDisplayName},
                 {"version", common::kVersion},
                 {"abi_version", std::to_string(PB_ABI_VERSION_MAJOR) + "." + std::to_string(PB_ABI_VERSION_MINOR)},
                 {"library", "libplexbridge.so." + std::to_string(PB_ABI_VERSION_MAJOR)},  // the soname a host loads
                 {"description", kDescription},
                 {"settings_version", settings::current_version()},
                 {"settings", settings},
                 {"page", rec.page},
                 {"routes", rec.routes},
                 {"events", rec.events}};
    std::string text;
    pretty(text, m, 0);
    text += "\n";
    if (auto st = common::fs::atomic_write(argv[1], text); !st) {
        std::cerr << "plexbridge-manifest: " << st.error().message << "\n";
        return 1;
    }
    return 0;
}

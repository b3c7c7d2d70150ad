// The two exported symbols. Everything that crosses the ABI is caught here:
// every callback is a noexcept function with a catch-all, so no C++
// exception can reach the host.
#include <cstring>
#include <new>

#include "common/version.hpp"
#include "plexbridge_plugin.h"
#include "plugin/plugin.hpp"

using pb::plugin::Plugin;

namespace {

void host_log(const pb_host_api& host, pb_log_level level, const std::string& msg) {
    if (host.log) host.log(host.host_ctx, level, pb_str{msg.data(), msg.size()});
}

pb_status c_start(void* ctx) noexcept {
    try {
        return static_cast<Plugin*>(ctx)->start();
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}

void c_destroy(void* ctx) noexcept {
    auto* p = static_cast<Plugin*>(ctx);
    try {
        p->destroy();
    } catch (...) {}
    delete p;
}

void c_on_event(void* ctx, const pb_event* event) noexcept {
    try {
        if (event == nullptr) return;
        pb_event e{};
        std::memcpy(&e, event, std::min<std::size_t>(event->struct_size, sizeof e));
        static_cast<Plugin*>(ctx)->on_event(
            std::string_view(e.name.data ? e.name.data : "", e.name.len),
            std::string_view(e.payload_json.data ? e.payload_json.data : "", e.payload_json.len));
    } catch (...) {}
}

pb_status c_validate(void* ctx, pb_str candidate, pb_str_sink sink, void* sink_ctx) noexcept {
    try {
        std::string err;
        pb_status st = static_cast<Plugin*>(ctx)->validate_settings(
            std::string_view(candidate.data ? candidate.data : "", candidate.len), &err);
        if (st != PB_OK && sink) sink(sink_ctx, pb_str{err.data(), err.size()});
        return st;
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}

void c_settings_changed(void* ctx, pb_str json) noexcept {
    try {
        static_cast<Plugin*>(ctx)->settings_changed(std::string_view(json.data ? json.data : "", json.len));
    } catch (...) {}
}

}  // namespace

extern "C" PB_EXPORT uint32_t plexbridge_abi_version(void) { return PB_ABI_VERSION; }

extern "C" PB_EXPORT pb_status plexbridge_plugin_entry(const pb_host_api* host, pb_plugin_api* out) {
    if (host == nullptr || out == nullptr || host->struct_size < offsetof(pb_host_api, log) + sizeof(host->log))
        return PB_ERR_INVALID_ARGUMENT;
    try {
        // Copy what this host has; later fields stay zero.
        pb_host_api h{};
        std::memcpy(&h, host, std::min<std::size_t>(host->struct_size, sizeof h));
        if (auto why = pb::plugin::check_host_compat(h.abi_version, host->struct_size)) {
            host_log(h, PB_LOG_ERROR, "[plexbridge] not loaded: " + *why);
            return PB_ERR_ABI;
        }
        constexpr std::size_t kMinPluginTable =
            offsetof(pb_plugin_api, settings_changed) + sizeof(pb_plugin_api::settings_changed);
        if (out->struct_size < kMinPluginTable) {
            host_log(h, PB_LOG_ERROR, "[plexbridge] not loaded: the host's plugin table is smaller than ABI 1.0's");
            return PB_ERR_ABI;
        }
        auto plugin = std::unique_ptr<Plugin>(new (std::nothrow) Plugin(h));
        if (!plugin) return PB_ERR_INTERNAL;
        pb_status st = plugin->init();
        if (st != PB_OK) {
            plugin->destroy();
            return st;
        }
        pb_plugin_api mine{};
        mine.struct_size = sizeof mine;
        mine.abi_version = PB_ABI_VERSION;
        mine.plugin_ctx = plugin.get();
        mine.plugin_id = pb_str{pb::common::kProduct.data(), pb::common::kProduct.size()};
        mine.plugin_version = pb_str{pb::common::kVersion.data(), pb::common::kVersion.size()};
        mine.start = c_start;
        mine.destroy = c_destroy;
        mine.on_event = c_on_event;
        mine.validate_settings = c_validate;
        mine.settings_changed = c_settings_changed;
        // An older host knows fewer entries: give it the prefix it asked for.
        uint32_t host_size = out->struct_size;
        std::size_t n = std::min<std::size_t>(host_size, sizeof mine);
        std::memcpy(out, &mine, n);
        out->struct_size = static_cast<uint32_t>(n);
        plugin.release();
        return PB_OK;
    } catch (...) {
        return PB_ERR_INTERNAL;
    }
}

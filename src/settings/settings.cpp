#include "settings/settings.hpp"

#include <boost/json.hpp>

#include "http/url.hpp"

namespace pb::settings {

namespace bj = boost::json;

const std::vector<SettingSpec>& schema() {
    static const std::vector<SettingSpec> s = {
        {"use_plex", PB_SETTING_BOOL, "false", "Turn the Plex integration on.", false},
        {"auth_method", PB_SETTING_STRING, "\"oauth\"",
         "How to reach Plex: \"oauth\" (Sign in with Plex) or \"apikey\" (legacy: address and token by hand).", false},
        {"ip", PB_SETTING_STRING, "\"127.0.0.1\"", "Legacy mode: address of Plex Media Server.", false},
        {"port", PB_SETTING_INT, "32400", "Legacy mode: port of Plex Media Server.", false},
        {"ssl", PB_SETTING_BOOL, "false", "Legacy mode: use HTTPS to reach Plex Media Server.", false},
        {"apikey", PB_SETTING_STRING, "\"\"", "Legacy mode: Plex token entered by hand (stored encrypted).", true},
        {"token", PB_SETTING_STRING, "\"\"", "Plex token from Sign in with Plex (stored encrypted).", true},
        {"username", PB_SETTING_STRING, "\"\"", "Plex account name (set by sign-in).", false},
        {"email", PB_SETTING_STRING, "\"\"", "Plex account e-mail (set by sign-in).", false},
        {"user_id", PB_SETTING_STRING, "\"\"", "Plex account id (set by sign-in).", false},
        {"client_identifier", PB_SETTING_STRING, "\"\"", "This installation's identifier on plex.tv, generated once.",
         false},
        {"server_machine_id", PB_SETTING_STRING, "\"\"", "Selected server's machine identifier.", false},
        {"server_name", PB_SETTING_STRING, "\"\"", "Selected server's name.", false},
        {"server_url", PB_SETTING_STRING, "\"\"",
         "Address used to reach the selected server (chosen automatically unless set by hand).", false},
        {"server_local", PB_SETTING_BOOL, "false", "Whether that address is on the local network.", false},
        {"server_token", PB_SETTING_STRING, "\"\"",
         "Access token for the selected server when it is shared with you (stored encrypted).", true},
        {"manual_server_url", PB_SETTING_STRING, "\"\"",
         "Address of Plex Media Server typed by hand; when set it always wins over the automatic choice.", false},
        {"server_connections", PB_SETTING_JSON, "[]", "Every known address of the selected server, kept for failover.",
         false},
        {"movie_library", PB_SETTING_STRING_LIST, "[]", "Movie libraries to keep up to date (section keys).", false},
        {"series_library", PB_SETTING_STRING_LIST, "[]", "Show libraries to keep up to date (section keys).", false},
        {"set_movie_added", PB_SETTING_BOOL, "false",
         "After a subtitle change, mark the movie as recently added in Plex.", false},
        {"set_episode_added", PB_SETTING_BOOL, "false",
         "After a subtitle change, mark the episode as recently added in Plex.", false},
        {"update_movie_library", PB_SETTING_BOOL, "false", "After a subtitle change, refresh the movie in Plex.",
         false},
        {"update_series_library", PB_SETTING_BOOL, "false", "After a subtitle change, refresh the episode in Plex.",
         false},
        {"plextv_url", PB_SETTING_STRING, "\"https://plex.tv\"", "plex.tv address (change only for testing).", false},
        {"auth_app_url", PB_SETTING_STRING, "\"https://app.plex.tv/auth\"",
         "Plex sign-in page (change only for testing).", false},
        {"tls_ca_file", PB_SETTING_STRING, "\"\"",
         "Extra CA certificates (PEM file) to trust, e.g. for a server with its own certificate.", false},
        {"verify_tls", PB_SETTING_BOOL, "true",
         "Verify Plex Media Server's TLS certificate. Turn off only for a server you trust.", false},
        {"connect_timeout_ms", PB_SETTING_INT, "3000", "How long to wait for Plex Media Server, in milliseconds.",
         false},
        {"webhook_base_url", PB_SETTING_STRING, "\"\"",
         "Address where Plex Media Server reaches this application, e.g. http://192.168.1.10:6767.", false},
        {"webhook_events", PB_SETTING_STRING_LIST, "[\"media.play\",\"playback.started\"]",
         "Plex webhook events that start a subtitle search.", false},
        {"webhook_key", PB_SETTING_STRING, "\"\"",
         "Secret in the webhook URL that Plex Media Server calls (generated, stored encrypted).", true},
        {"webhook_dedupe_seconds", PB_SETTING_INT, "600",
         "Webhooks for the same item within this many seconds start one search.", false},
        {"webhook_max_body_bytes", PB_SETTING_INT, "10485760",
         "Largest webhook body accepted, in bytes (applies after a restart).", false},
        {"webhook_accounts", PB_SETTING_STRING_LIST, "[]",
         "Only react to webhooks from these Plex accounts (names or ids); empty: everyone.", false},
        {"device_name", PB_SETTING_STRING, "\"plexbridge\"", "Name shown for this application on plex.tv.", false},
    };
    return s;
}

bj::object defaults() {
    bj::object o;
    for (const auto& s : schema()) o[s.name] = bj::parse(s.default_json);
    return o;
}

static bool is_string_list(const bj::value& v) {
    if (!v.is_array()) return false;
    for (const auto& x : v.get_array())
        if (!x.is_string()) return false;
    return true;
}

std::optional<std::string> validate(const bj::object& c) {
    for (const auto& [key, value] : c) {
        const SettingSpec* spec = nullptr;
        for (const auto& s : schema())
            if (key == s.name) spec = &s;
        std::string k(key);
        if (spec == nullptr) return k + ": unknown setting";
        switch (spec->type) {
            case PB_SETTING_BOOL:
                if (!value.is_bool()) return k + ": must be true or false";
                break;
            case PB_SETTING_INT:
                if (!value.is_int64() && !value.is_uint64()) return k + ": must be an integer";
                break;
            case PB_SETTING_STRING:
                if (!value.is_string()) return k + ": must be a string";
                if (value.get_string().size() > 4096) return k + ": is too long";
                break;
            case PB_SETTING_STRING_LIST:
                if (!is_string_list(value)) return k + ": must be a list of strings";
                break;
            case PB_SETTING_JSON: break;
        }
    }
    auto str = [&](const char* k) -> std::string {
        auto* v = c.if_contains(k);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    if (c.if_contains("auth_method")) {
        std::string m = str("auth_method");
        if (m != "oauth" && m != "apikey") return "auth_method: must be \"oauth\" or \"apikey\"";
    }
    if (auto* v = c.if_contains("port")) {
        int64_t p = v->is_int64() ? v->get_int64() : -1;
        if (p < 1 || p > 65535) return "port: must be an integer between 1 and 65535";
    }
    if (auto* v = c.if_contains("connect_timeout_ms")) {
        int64_t t = v->is_int64() ? v->get_int64() : -1;
        if (t < 100 || t > 120000) return "connect_timeout_ms: must be between 100 and 120000";
    }
    for (const char* k : {"plextv_url", "auth_app_url"})
        if (c.if_contains(k) && !http::parse_url(str(k))) return std::string(k) + ": must be an http(s) URL";
    for (const char* k : {"server_url", "webhook_base_url", "manual_server_url"})
        if (c.if_contains(k) && !str(k).empty() && !http::parse_url(str(k)))
            return std::string(k) + ": must be empty or an http(s) URL";
    if (c.if_contains("ip")) {
        std::string ip = str("ip");
        if (ip.empty() || ip.find_first_of("/ ?#@") != std::string::npos)
            return "ip: must be a host name or an IP address";
    }
    if (auto* v = c.if_contains("webhook_dedupe_seconds")) {
        int64_t t = v->is_int64() ? v->get_int64() : -1;
        if (t < 0 || t > 86400) return "webhook_dedupe_seconds: must be between 0 and 86400";
    }
    if (auto* v = c.if_contains("webhook_max_body_bytes")) {
        int64_t t = v->is_int64() ? v->get_int64() : -1;
        if (t < 4096 || t > 256 * 1024 * 1024) return "webhook_max_body_bytes: must be between 4096 and 268435456";
    }
    if (auto* v = c.if_contains("server_connections")) {
        if (!v->is_array()) return "server_connections: must be a list";
    }
    return std::nullopt;
}

static std::vector<std::string> list(const bj::object& o, const char* k) {
    std::vector<std::string> out;
    if (auto* v = o.if_contains(k); v && v->is_array())
        for (const auto& x : v->get_array()) {
            if (x.is_string())
                out.emplace_back(x.get_string());
            else if (x.is_object() && x.get_object().contains("uri") && x.get_object().at("uri").is_string())
                out.emplace_back(x.get_object().at("uri").get_string());  // server_connections entries
        }
    return out;
}

Settings parse(const bj::object& o) {
    Settings s;
    auto str = [&](const char* k, std::string& out) {
        if (auto* v = o.if_contains(k); v && v->is_string()) out = std::string(v->get_string());
    };
    auto boolean = [&](const char* k, bool& out) {
        if (auto* v = o.if_contains(k); v && v->is_bool()) out = v->get_bool();
    };
    auto integer = [&](const char* k, int64_t& out) {
        if (auto* v = o.if_contains(k); v && v->is_int64()) out = v->get_int64();
    };
    boolean("use_plex", s.use_plex);
    str("auth_method", s.auth_method);
    str("ip", s.ip);
    integer("port", s.port);
    boolean("ssl", s.ssl);
    str("apikey", s.apikey);
    str("token", s.token);
    str("username", s.username);
    str("email", s.email);
    str("user_id", s.user_id);
    str("client_identifier", s.client_identifier);
    str("server_machine_id", s.server_machine_id);
    str("server_name", s.server_name);
    str("server_url", s.server_url);
    boolean("server_local", s.server_local);
    str("server_token", s.server_token);
    str("manual_server_url", s.manual_server_url);
    s.server_connections = list(o, "server_connections");
    s.movie_library = list(o, "movie_library");
    s.series_library = list(o, "series_library");
    boolean("set_movie_added", s.set_movie_added);
    boolean("set_episode_added", s.set_episode_added);
    boolean("update_movie_library", s.update_movie_library);
    boolean("update_series_library", s.update_series_library);
    str("plextv_url", s.plextv_url);
    str("auth_app_url", s.auth_app_url);
    str("tls_ca_file", s.tls_ca_file);
    boolean("verify_tls", s.verify_tls);
    integer("connect_timeout_ms", s.connect_timeout_ms);
    str("webhook_base_url", s.webhook_base_url);
    s.webhook_events = list(o, "webhook_events");
    s.webhook_accounts = list(o, "webhook_accounts");
    str("webhook_key", s.webhook_key);
    integer("webhook_dedupe_seconds", s.webhook_dedupe_seconds);
    integer("webhook_max_body_bytes", s.webhook_max_body_bytes);
    str("device_name", s.device_name);
    return s;
}

std::string Settings::legacy_url() const {
    bool v6 = ip.find(':') != std::string::npos;
    return std::string(ssl ? "https" : "http") + "://" + (v6 ? "[" + ip + "]" : ip) + ":" + std::to_string(port);
}

const std::vector<std::string>& sign_in_keys() {
    static const std::vector<std::string> k = {"token",       "username",          "email",
                                               "user_id",     "server_machine_id", "server_name",
                                               "server_url",  "server_local",      "server_connections",
                                               "server_token"};
    return k;
}

}  // namespace pb::settings

// The plugin's settings: their schema (registered with the host and
// published in manifest/plugin.json), validation, and a typed view.
//
// Names follow Bazarr's where Bazarr has one. Secrets (token, apikey) are
// stored encrypted by the vault ("v1:..."); this component never sees them
// in plain text.
#pragma once
#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plexbridge_plugin.h"

namespace pb::settings {

struct SettingSpec {
    const char* name;
    pb_setting_type type;
    const char* default_json;
    const char* description;
    bool secret;
};

// Every setting, in display order.
const std::vector<SettingSpec>& schema();

// The defaults as one object.
boost::json::object defaults();

// Checks a whole candidate object (every key known, every value of the
// right type and range). Returns the first problem, naming the field:
// "port: must be an integer between 1 and 65535".
std::optional<std::string> validate(const boost::json::object& candidate);

// Typed view of a settings object (defaults for anything missing).
struct Settings {
    bool use_plex = false;
    std::string auth_method = "oauth";
    std::string ip = "127.0.0.1";
    int64_t port = 32400;
    bool ssl = false;
    std::string apikey;  // encrypted
    std::string token;   // encrypted
    std::string username;
    std::string email;
    std::string user_id;
    std::string client_identifier;
    std::string server_machine_id;
    std::string server_name;
    std::string server_url;
    bool server_local = false;
    std::string server_token;  // encrypted; shared servers only
    std::string manual_server_url;
    std::vector<std::string> server_connections;
    std::vector<std::string> movie_library;
    std::vector<std::string> series_library;
    bool set_movie_added = false;
    bool set_episode_added = false;
    bool update_movie_library = false;
    bool update_series_library = false;
    std::string plextv_url = "https://plex.tv";
    std::string auth_app_url = "https://app.plex.tv/auth";
    std::string tls_ca_file;
    bool verify_tls = true;
    int64_t connect_timeout_ms = 3000;
    std::string webhook_base_url;
    std::vector<std::string> webhook_events;
    std::vector<std::string> webhook_accounts;
    std::string webhook_key;  // encrypted
    int64_t webhook_dedupe_seconds = 600;
    int64_t webhook_max_body_bytes = 10 * 1024 * 1024;
    std::string device_name = "plexbridge";

    // The legacy server address "http(s)://ip:port".
    std::string legacy_url() const;
};

Settings parse(const boost::json::object& obj);

// Keys cleared by logout (token and every server field).
const std::vector<std::string>& sign_in_keys();

}  // namespace pb::settings

// Legacy mode -> Sign in with Plex, once, in the background.
//
// Order matters: nothing is changed until plex.tv has accepted the token
// and a server at the configured ip:port was found; the settings are
// backed up to disk before the switch; after the switch the token and the
// server are checked again, and any failure restores the backup exactly.
// Each attempt is recorded in plexbridge-migration.json (not in the
// settings, so a rollback leaves them byte for byte as they were), and a
// failure that retrying cannot fix is not retried until the legacy settings
// change.
#include <sodium.h>
#include <boost/json.hpp>

#include <ctime>

#include "auth/auth_routes.hpp"
#include "common/fs_util.hpp"
#include "common/json_util.hpp"
#include "common/text.hpp"
#include "http/url.hpp"
#include "plexapi/wire.hpp"
#include "plugin/plugin.hpp"

namespace pb::plugin {

namespace bj = boost::json;
using plexapi::ApiErrorKind;

const char* Migration::kRecordFile = "plexbridge-migration.json";
const char* Migration::kBackupFile = "plexbridge-settings.backup.json";

struct Migration::Found {
    plexapi::Resource server;
    std::string uri;
};

static std::string now_iso() { return text::iso8601_utc(std::time(nullptr)); }

// Identifies the legacy settings an attempt was made with, without storing
// the token: a keyed hash would be overkill, a generic hash of ip, port,
// ssl and the token is enough to notice "these changed".
static std::string fingerprint(const settings::Settings& s, const std::string& token) {
    std::string in = s.ip + "|" + std::to_string(s.port) + "|" + (s.ssl ? "1" : "0") + "|" + token;
    unsigned char out[16];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(in.data()), in.size(), nullptr, 0);
    sodium_memzero(in.data(), in.size());
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    return hex;
}

void Migration::maybe_run() {
    auto s = plugin_.settings();
    if (s.auth_method != "apikey" || s.apikey.empty() || !s.token.empty()) return;
    vault::OpenError err{};
    auto secret = plugin_.vault().unseal(s.apikey, &err);
    if (!secret && err != vault::OpenError::not_sealed) {
        plugin_.log().warn("legacy Plex token cannot be decrypted ({}); not migrating", vault::describe(err));
        return;
    }
    token_ = secret ? secret->str() : s.apikey;
    plugin_.secrets().add(token_);
    fingerprint_ = fingerprint(s, token_);
    std::string record_path = fs::join(plugin_.data_dir(), kRecordFile);
    if (auto rec = fs::read_file(record_path)) {
        auto v = json::parse_lenient(*rec);
        if (v && json::get_string(*v, "fingerprint").value_or("") == fingerprint_ &&
            json::get_bool_or(*v, "permanent", false)) {
            plugin_.log().info("legacy Plex settings were not migrated earlier ({}); not retrying until they change",
                               json::get_string_or(*v, "error", "unknown reason"));
            return;
        }
    }
    plugin_.log().info("migrating the legacy Plex settings ({}:{}) to Sign in with Plex", s.ip, s.port);
    auto self = shared_from_this();
    plugin_.plextv().get_account(token_, [self, s](plexapi::ApiResult<plexapi::Account> a) {
        if (a.error) {
            bool permanent = a.error->kind == ApiErrorKind::token_rejected;
            return self->fail(permanent ? "plex.tv rejected the legacy token: " + a.error->message
                                        : "plex.tv could not be reached: " + a.error->message,
                              permanent);
        }
        auto account = *a.value;
        self->plugin_.plextv().get_resources(
            self->token_, [self, s, account](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                if (r.error) return self->fail("the server list could not be read: " + r.error->message, false);
                std::optional<Found> found;
                for (const auto& res : *r.value) {
                    if (!res.is_server()) continue;
                    for (const auto& c : res.connections) {
                        auto u = http::parse_url(c.uri);
                        bool by_uri = u && u->host == text::to_lower(s.ip) && u->port == s.port;
                        bool by_addr = c.address == s.ip && c.port == s.port;
                        if ((by_uri || by_addr) && !found) found = Found{res, by_uri ? c.uri : s.legacy_url()};
                    }
                }
                if (!found)
                    return self->fail(
                        "none of the account's servers has the address " + s.ip + ":" + std::to_string(s.port), true);
                // 1. Back up the settings as they are now.
                self->backup_json_ = bj::serialize(self->plugin_.settings_json());
                std::string err;
                if (!fs::atomic_write(fs::join(self->plugin_.data_dir(), kBackupFile), self->backup_json_, &err, 0600))
                    return self->fail("could not write the settings backup: " + err, false);
                // 2. Switch.
                bj::array conns;
                for (const auto& c : found->server.connections)
                    conns.push_back({{"uri", c.uri}, {"local", c.local}, {"relay", c.relay}});
                bool local = false;
                for (const auto& c : found->server.connections)
                    if (c.uri == found->uri) local = c.local;
                bj::object patch{{"auth_method", "oauth"},
                                 {"token", self->plugin_.vault().seal(self->token_)},
                                 {"username", account.username},
                                 {"email", account.email},
                                 {"user_id", std::to_string(account.id)},
                                 {"server_machine_id", found->server.client_identifier},
                                 {"server_name", found->server.name},
                                 {"server_url", found->uri},
                                 {"server_local", local || s.ip == "127.0.0.1" || s.ip == "localhost"},
                                 {"server_connections", conns}};
                if (!self->plugin_.write_settings(patch, &err))
                    return self->fail("could not store the new settings: " + err, false);
                // 3. Validate again, as the plugin will from now on: the token on
                //    plex.tv, then the server at the selected address.
                std::string machine = found->server.client_identifier;
                std::string uri = found->uri;
                self->plugin_.plextv().get_account(self->token_, [self, machine,
                                                                  uri](plexapi::ApiResult<plexapi::Account> a2) {
                    if (a2.error)
                        return self->rollback("the token failed validation after the switch: " + a2.error->message);
                    http::Request req;
                    req.url = http::join_url(uri, "/");
                    req.token = self->token_;
                    req.peer_name = "Plex Media Server";
                    req.timeout = std::chrono::milliseconds(self->plugin_.settings().connect_timeout_ms);
                    plexapi::add_plex_headers(req.headers, self->plugin_.identity(), plexapi::Accept::json);
                    auto shared_req = std::make_shared<http::Request>(req);
                    self->plugin_.client()->async_request(req, [self, machine, shared_req](http::Result r) {
                        if (r.error)
                            return self->rollback("the server did not answer after the switch: " + r.error->message);
                        if (r.response->status != 200)
                            return self->rollback("the server refused the token after the switch: " +
                                                  http::status_error(*shared_req, *r.response).message);
                        auto w = plexapi::parse_wire(r.response->body);
                        const plexapi::Node* mc = w.root ? plexapi::media_container(*w.root) : nullptr;
                        if (!mc || mc->str("machineIdentifier") != machine)
                            return self->rollback("a different server answers at the selected address");
                        self->record("migrated", "", true);
                        self->plugin_.log().info("legacy Plex settings migrated to Sign in with Plex");
                    });
                });
            });
    });
}

void Migration::fail(const std::string& error, bool permanent) {
    plugin_.log().warn("legacy Plex settings not migrated: {}", error);
    record("failed", error, permanent);
}

void Migration::rollback(const std::string& error) {
    auto backup = json::parse_lenient(backup_json_);
    std::string err;
    // Writing every key of the backup restores the object exactly.
    if (!backup || !backup->is_object() || !plugin_.write_settings(backup->get_object(), &err)) {
        plugin_.log().error(
            "legacy Plex migration failed ({}) and the settings could not be restored ({}); the "
            "backup is in {}",
            error, err, fs::join(plugin_.data_dir(), kBackupFile));
        record("rollback_failed", error + "; restore failed: " + err, true);
        return;
    }
    plugin_.log().warn("legacy Plex migration rolled back: {}", error);
    record("rolled_back", error, true);
}

void Migration::record(const std::string& result, const std::string& error, bool permanent) {
    bj::object rec{{"at", now_iso()},
                   {"result", result},
                   {"error", error},
                   {"permanent", permanent},
                   {"fingerprint", fingerprint_}};
    std::string err;
    if (!fs::atomic_write(fs::join(plugin_.data_dir(), kRecordFile), bj::serialize(rec), &err, 0600))
        plugin_.log().error("could not record the migration attempt: {}", err);
}

}  // namespace pb::plugin

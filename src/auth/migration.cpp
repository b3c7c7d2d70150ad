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
#include "migration.hpp"

#include <sodium.h>

#include <boost/json.hpp>
#include <ctime>
#include <optional>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "http/url.hpp"

namespace pb::auth {

namespace bj = boost::json;
using common::Errc;

namespace {

struct Found {
    plexapi::Resource server;
    plexapi::Connection chosen;
};

std::string now_iso() { return common::text::iso8601_utc(std::time(nullptr)); }

// Identifies the legacy settings an attempt was made with, without storing
// the token: a keyed hash would be overkill, a generic hash of ip, port,
// ssl and the token is enough to notice "these changed".
std::string fingerprint(const settings::Settings& s, const std::string& token) {
    std::string in = s.ip + "|" + std::to_string(s.port) + "|" + (s.ssl ? "1" : "0") + "|" + token;
    unsigned char out[16];
    crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(in.data()), in.size(), nullptr, 0);
    sodium_memzero(in.data(), in.size());
    char hex[33];
    sodium_bin2hex(hex, sizeof hex, out, sizeof out);
    return hex;
}

// The account's server that the legacy ip:port points at, and the
// connection to use: the advertised one when it matches, else the address
// the user typed.
std::optional<Found> find_legacy_server(const std::vector<plexapi::Resource>& servers, const settings::Settings& s) {
    for (const auto& res : servers) {
        for (const auto& c : res.connections) {
            auto u = http::parse_url(c.uri);
            bool by_uri = u && u->host == common::text::to_lower(s.ip) && u->port == s.port;
            bool by_addr = c.address == s.ip && c.port == s.port;
            if (!by_uri && !by_addr) continue;
            Found f{res, c};
            if (!by_uri) f.chosen.uri = s.legacy_url();
            f.chosen.local = c.local || s.ip == "127.0.0.1" || s.ip == "localhost";
            return f;
        }
    }
    return std::nullopt;
}

}  // namespace

void Migration::maybe_run() {
    auto s = *session_.settings().snapshot();
    if (!s.legacy() || s.stored_token().empty() || !s.token.empty()) return;
    auto token = session_.account_token();
    if (!token) {
        session_.log().warn("legacy Plex token cannot be decrypted ({}); not migrating", token.error().message);
        return;
    }
    token_ = token->str();
    fingerprint_ = fingerprint(s, token_);
    std::string record_path = common::fs::join(session_.data_dir(), kRecordFile);
    if (auto rec = common::fs::read_file(record_path)) {
        auto v = common::json::parse_lenient(*rec);
        if (v && common::json::get_string(*v, "fingerprint").value_or("") == fingerprint_ &&
            common::json::get_bool_or(*v, "permanent", false)) {
            session_.log().info("legacy Plex settings were not migrated earlier ({}); not retrying until they change",
                                common::json::get_string_or(*v, "error", "unknown reason"));
            return;
        }
    }
    session_.log().info("migrating the legacy Plex settings ({}:{}) to Sign in with Plex", s.ip, s.port);
    auto self = shared_from_this();
    session_.plextv().get_account(token_, [self, s](plexapi::ApiResult<plexapi::Account> a) {
        if (!a) {
            bool rejected = a.error().code == Errc::token_rejected;
            return self->fail(rejected ? "plex.tv rejected the legacy token: " + a.error().message
                                       : "plex.tv could not be reached: " + a.error().message,
                              rejected ? Retry::never : Retry::later);
        }
        auto account = *a;
        self->session_.resources(session::Freshness::fresh, [self, s, account](
                                                                plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
            if (!r) return self->fail("the server list could not be read: " + r.error().message, Retry::later);
            auto found = find_legacy_server(*r, s);
            if (!found)
                return self->fail(
                    "none of the account's servers has the address " + s.ip + ":" + std::to_string(s.port),
                    Retry::never);
            // 1. Back up the settings as they are now.
            self->backup_json_ = bj::serialize(self->session_.settings().json());
            if (auto st = common::fs::atomic_write(common::fs::join(self->session_.data_dir(), kBackupFile),
                                                   self->backup_json_, 0600);
                !st)
                return self->fail("could not write the settings backup: " + st.error().message, Retry::later);
            // 2. Switch, in one write.
            if (auto st = self->session_.sign_in(vault::Secret(self->token_), account, &found->server, &found->chosen);
                !st)
                return self->fail("could not store the new settings: " + st.error().message, Retry::later);
            // 3. Validate again, as the plugin will from now on: the token on
            //    plex.tv, then the server at the selected address.
            std::string machine = found->server.client_identifier;
            std::string uri = found->chosen.uri;
            self->session_.plextv().get_account(self->token_, [self, machine,
                                                               uri](plexapi::ApiResult<plexapi::Account> a2) {
                if (!a2) return self->rollback("the token failed validation after the switch: " + a2.error().message);
                self->session_.pms().request_at(
                    uri, session::PmsRequest{"GET", "/", "", {}}, [self, machine](http::Result r, const std::string&) {
                        if (!r)
                            return self->rollback("the server did not answer after the switch: " + r.error().message);
                        if (r->status != 200)
                            return self->rollback("the server refused the token after the switch: " +
                                                  session::PmsClient::status_error(r->status).message);
                        auto id = plexapi::parse_identity(r->body);
                        if (!id || id->machine_identifier != machine)
                            return self->rollback("a different server answers at the selected address");
                        self->record("migrated", "", Retry::never);
                        self->session_.log().info("legacy Plex settings migrated to Sign in with Plex");
                    });
            });
        });
    });
}

void Migration::fail(const std::string& error, Retry retry) {
    session_.log().warn("legacy Plex settings not migrated: {}", error);
    record("failed", error, retry);
}

void Migration::rollback(const std::string& error) {
    auto backup = common::json::parse_lenient(backup_json_);
    // Writing every key of the backup restores the object exactly.
    common::Status restored = backup && backup->is_object()
                                  ? session_.restore_settings(backup->get_object())
                                  : common::Status(common::Error(Errc::internal, "the backup is unreadable"));
    if (!restored) {
        session_.log().error(
            "legacy Plex migration failed ({}) and the settings could not be restored ({}); the "
            "backup is in {}",
            error, restored.error().message, common::fs::join(session_.data_dir(), kBackupFile));
        record("rollback_failed", error + "; restore failed: " + restored.error().message, Retry::never);
        return;
    }
    session_.log().warn("legacy Plex migration rolled back: {}", error);
    record("rolled_back", error, Retry::never);
}

void Migration::record(const std::string& result, const std::string& error, Retry retry) {
    bj::object rec{{"at", now_iso()},
                   {"result", result},
                   {"error", error},
                   {"permanent", retry == Retry::never},
                   {"fingerprint", fingerprint_}};
    if (auto st =
            common::fs::atomic_write(common::fs::join(session_.data_dir(), kRecordFile), bj::serialize(rec), 0600);
        !st)
        session_.log().error("could not record the migration attempt: {}", st.error().message);
}

}  // namespace pb::auth

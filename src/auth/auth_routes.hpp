// Sign in with Plex: the PIN flow, token validation, logout, the legacy
// token routes, and the one-time migration of a legacy configuration.
// See docs/sign-in.md for the flow and what each error means.
#pragma once
#include <memory>
#include <string>

#include "auth/pin_table.hpp"
#include "plexapi/plextv.hpp"
#include "plugin/router.hpp"

namespace pb::plugin {

class Plugin;

// How a plex.tv failure is reported to the browser: HTTP status and code.
struct HttpError {
    int status;
    const char* code;
};
HttpError to_http(const plexapi::ApiError& e);

class AuthRoutes {
public:
    explicit AuthRoutes(Plugin& plugin);
    void register_routes();
    // On the io thread at start: the legacy migration, if it applies.
    void on_start();

    // Exposed for tests: builds the URL the user opens to sign in.
    static std::string auth_url(const std::string& auth_app_url, const std::string& client_id, const std::string& code,
                                const std::string& product, const std::string& device_name);

private:
    void create_pin(Call& call, Reply reply);
    void check_pin(Call& call, Reply reply);
    void validate(Call& call, Reply reply);
    void logout(Call& call, Reply reply);
    void store_apikey(Call& call, Reply reply);
    void encrypt_apikey(Call& call, Reply reply);

    Plugin& plugin_;
    auth::PinTable pins_;
};

// The legacy-mode migration (src/auth/migration.cpp).
class Migration : public std::enable_shared_from_this<Migration> {
public:
    explicit Migration(Plugin& plugin) : plugin_(plugin) {}
    // Starts if the settings call for it and no earlier attempt with the
    // same settings failed for good. Io thread.
    void maybe_run();
    // File recording the last attempt: {"at", "result", "error", "fingerprint"}.
    static const char* kRecordFile;
    static const char* kBackupFile;

private:
    struct Found;
    void fail(const std::string& error, bool permanent);
    void rollback(const std::string& error);
    void record(const std::string& result, const std::string& error, bool permanent);

    Plugin& plugin_;
    std::string fingerprint_;
    std::string token_;
    std::string backup_json_;
};

}  // namespace pb::plugin

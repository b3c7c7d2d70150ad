// The one-time migration of a legacy configuration (address and token typed
// by hand) to Sign in with Plex. See migration.cpp for the order of steps.
#pragma once
#include <memory>
#include <string>

#include "session/session.hpp"

namespace pb::auth {

class Migration : public std::enable_shared_from_this<Migration> {
public:
    explicit Migration(session::Session& session) : session_(session) {}
    // Starts if the settings call for it and no earlier attempt with the
    // same settings failed for good. Io thread.
    void maybe_run();
    // File recording the last attempt: {"at", "result", "error", "fingerprint"}.
    static constexpr const char* kRecordFile = "plexbridge-migration.json";
    static constexpr const char* kBackupFile = "plexbridge-settings.backup.json";

private:
    // Whether trying again later can help.
    enum class Retry : uint8_t { later = 1, never };
    void fail(const std::string& error, Retry retry);
    void rollback(const std::string& error);
    void record(const std::string& result, const std::string& error, Retry retry);

    session::Session& session_;
    std::string fingerprint_;
    std::string token_;
    std::string backup_json_;
};

}  // namespace pb::auth

// Logging inside the plugin: spdlog, forwarded to the host's log callback.
//
// Every line passes through redaction first: the secrets the plugin knows
// (the Plex token, server access tokens, the host API key) are replaced by
// "***", and so is anything that looks like a token in a URL or JSON. A
// line reaches the host as "[plexbridge] message".
#pragma once
#include <spdlog/logger.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plexbridge_plugin.h"

namespace pb::log {

// The live set of secrets to scrub. Thread-safe.
class SecretRegistry {
public:
    void add(const std::string& secret);
    void remove(const std::string& secret);
    std::vector<std::string> snapshot() const;

private:
    mutable std::mutex mu_;
    std::vector<std::string> secrets_;
};

// Creates a logger that forwards to host->log. `detach()` on the returned
// handle makes later lines go nowhere (used at unload so nothing calls the
// host after destroy returns).
class HostLog {
public:
    HostLog(const pb_host_api* host, std::shared_ptr<SecretRegistry> secrets);
    ~HostLog();
    spdlog::logger& logger() { return *logger_; }
    std::shared_ptr<spdlog::logger> shared() { return logger_; }
    SecretRegistry& secrets() { return *secrets_; }
    void detach();

private:
    std::shared_ptr<SecretRegistry> secrets_;
    std::shared_ptr<spdlog::logger> logger_;
    struct Sink;
    std::shared_ptr<Sink> sink_;
};

// A logger that writes nowhere, for components used outside the plugin.
std::shared_ptr<spdlog::logger> null_logger();
// A logger to stderr with the same redaction, for the host and simulator.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& name);

}  // namespace pb::log

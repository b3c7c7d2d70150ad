// Logging inside the plugin: spdlog, forwarded to the host's log callback.
//
// Every line passes through redaction first: the secrets the plugin knows
// (the Plex token, server access tokens, the host API key) are replaced by
// "***", and so is anything that looks like a token in a URL or JSON. A
// line reaches the host as "[plexbridge] message".
#pragma once
#include <spdlog/logger.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pb::log {

enum class Level : uint8_t { debug = 1, info, warning, error };
// Where finished lines go (the host's log callback). Called with a line
// already redacted and prefixed, from any thread, one call at a time.
using Sink = std::function<void(Level level, std::string_view line)>;

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

// A logger that forwards to `sink`. `detach()` makes later lines go
// nowhere (used at unload so nothing calls the host after destroy returns).
class HostLog {
public:
    HostLog(Sink sink, std::shared_ptr<SecretRegistry> secrets);
    ~HostLog();
    spdlog::logger& logger() { return *logger_; }
    std::shared_ptr<spdlog::logger> shared() { return logger_; }
    SecretRegistry& secrets() { return *secrets_; }
    std::shared_ptr<SecretRegistry> secrets_shared() { return secrets_; }
    void detach();
    // Lines below `level` are dropped (the "log level" setting). Any thread.
    void set_level(Level level);
    // The last kRecentLines lines, oldest first, redacted and timestamped:
    // what a diagnostics bundle carries. Any thread.
    std::vector<std::string> recent_lines() const;
    static constexpr std::size_t kRecentLines = 200;

private:
    std::shared_ptr<SecretRegistry> secrets_;
    std::shared_ptr<spdlog::logger> logger_;
    struct Forwarder;
    std::shared_ptr<Forwarder> sink_;
};

// A logger that writes nowhere, for components used outside the plugin.
std::shared_ptr<spdlog::logger> null_logger();
// A logger to stderr with the same redaction, for the host and simulator.
std::shared_ptr<spdlog::logger> stderr_logger(const std::string& name);

}  // namespace pb::log

#include "log/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>

#include "common/text.hpp"

namespace pb::log {

void SecretRegistry::add(const std::string& secret) {
    if (secret.empty()) return;
    std::lock_guard lock(mu_);
    if (std::find(secrets_.begin(), secrets_.end(), secret) == secrets_.end()) secrets_.push_back(secret);
}

void SecretRegistry::remove(const std::string& secret) {
    std::lock_guard lock(mu_);
    secrets_.erase(std::remove(secrets_.begin(), secrets_.end(), secret), secrets_.end());
}

std::vector<std::string> SecretRegistry::snapshot() const {
    std::lock_guard lock(mu_);
    return secrets_;
}

struct HostLog::Forwarder final : spdlog::sinks::base_sink<std::mutex> {
    Forwarder(log::Sink s, std::shared_ptr<SecretRegistry> r) : out(std::move(s)), secrets(std::move(r)) {}
    log::Sink out;
    std::shared_ptr<SecretRegistry> secrets;

    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (!out) return;
        std::string text =
            "[plexbridge] " +
            pb::common::text::redact(std::string_view(msg.payload.data(), msg.payload.size()), secrets->snapshot());
        Level level = Level::info;
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug: level = Level::debug; break;
            case spdlog::level::info: level = Level::info; break;
            case spdlog::level::warn: level = Level::warning; break;
            default: level = Level::error; break;
        }
        // Kept for the diagnostics bundle, stamped: it is read after the fact.
        recent.push_back(pb::common::text::iso8601_utc(std::chrono::system_clock::to_time_t(msg.time)) + " " +
                         std::string(spdlog::level::to_string_view(msg.level).data()) + " " + text);
        if (recent.size() > kRecentLines) recent.pop_front();
        out(level, text);
    }
    void flush_() override {}
    std::deque<std::string> recent;
    std::vector<std::string> recent_copy() {
        std::lock_guard lock(mutex_);
        return {recent.begin(), recent.end()};
    }
    void detach() {
        std::lock_guard lock(mutex_);
        out = nullptr;
    }
};

HostLog::HostLog(log::Sink sink, std::shared_ptr<SecretRegistry> secrets)
    : secrets_(std::move(secrets)), sink_(std::make_shared<Forwarder>(std::move(sink), secrets_)) {
    logger_ = std::make_shared<spdlog::logger>("plexbridge", sink_);
    logger_->set_level(spdlog::level::debug);
}

HostLog::~HostLog() { detach(); }

void HostLog::detach() { sink_->detach(); }

std::vector<std::string> HostLog::recent_lines() const { return sink_->recent_copy(); }

void HostLog::set_level(Level level) {
    static constexpr spdlog::level::level_enum to_spd[] = {
        spdlog::level::debug, spdlog::level::debug, spdlog::level::info, spdlog::level::warn, spdlog::level::err};
    logger_->set_level(to_spd[static_cast<int>(level) <= 4 ? static_cast<int>(level) : 4]);
}

std::shared_ptr<spdlog::logger> null_logger() {
    static auto l = std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
    return l;
}

namespace {
struct RedactingStderrSink final : spdlog::sinks::base_sink<std::mutex> {
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::string text = pb::common::text::redact(std::string_view(msg.payload.data(), msg.payload.size()));
        std::string line = pb::common::text::iso8601_utc(std::chrono::system_clock::to_time_t(msg.time)) + " " +
                           std::string(spdlog::level::to_string_view(msg.level).data()) + " [" +
                           std::string(msg.logger_name.data(), msg.logger_name.size()) + "] " + text + "\n";
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
    void flush_() override { std::fflush(stderr); }
};
}  // namespace

std::shared_ptr<spdlog::logger> stderr_logger(const std::string& name) {
    auto l = std::make_shared<spdlog::logger>(name, std::make_shared<RedactingStderrSink>());
    l->set_level(spdlog::level::info);
    return l;
}

}  // namespace pb::log

#include "log/log.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>

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

struct HostLog::Sink final : spdlog::sinks::base_sink<std::mutex> {
    Sink(const pb_host_api* h, std::shared_ptr<SecretRegistry> s) : host(h), secrets(std::move(s)) {}
    const pb_host_api* host;
    std::shared_ptr<SecretRegistry> secrets;

    void sink_it_(const spdlog::details::log_msg& msg) override {
        if (host == nullptr || host->log == nullptr) return;
        std::string text = "[plexbridge] " + pb::text::redact(std::string_view(msg.payload.data(), msg.payload.size()),
                                                              secrets->snapshot());
        pb_log_level level = PB_LOG_INFO;
        switch (msg.level) {
            case spdlog::level::trace:
            case spdlog::level::debug: level = PB_LOG_DEBUG; break;
            case spdlog::level::info: level = PB_LOG_INFO; break;
            case spdlog::level::warn: level = PB_LOG_WARNING; break;
            default: level = PB_LOG_ERROR; break;
        }
        host->log(host->host_ctx, level, pb_str{text.data(), text.size()});
    }
    void flush_() override {}
    void detach() {
        std::lock_guard lock(mutex_);
        host = nullptr;
    }
};

HostLog::HostLog(const pb_host_api* host, std::shared_ptr<SecretRegistry> secrets)
    : secrets_(std::move(secrets)), sink_(std::make_shared<Sink>(host, secrets_)) {
    logger_ = std::make_shared<spdlog::logger>("plexbridge", sink_);
    logger_->set_level(spdlog::level::debug);
}

HostLog::~HostLog() { detach(); }

void HostLog::detach() { sink_->detach(); }

std::shared_ptr<spdlog::logger> null_logger() {
    static auto l = std::make_shared<spdlog::logger>("null", std::make_shared<spdlog::sinks::null_sink_mt>());
    return l;
}

namespace {
struct RedactingStderrSink final : spdlog::sinks::base_sink<std::mutex> {
    void sink_it_(const spdlog::details::log_msg& msg) override {
        std::string text = pb::text::redact(std::string_view(msg.payload.data(), msg.payload.size()));
        std::string line = pb::text::iso8601_utc(std::chrono::system_clock::to_time_t(msg.time)) + " " +
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

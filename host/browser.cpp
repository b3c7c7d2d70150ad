#include "browser.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace pb::host {

std::string cookie_value(std::string_view header, std::string_view name) {
    std::string found;
    common::text::for_each_part(header, ';', [&](std::string_view part) {
        part = common::text::trim(part);
        auto eq = part.find('=');
        if (found.empty() && eq != std::string_view::npos && part.substr(0, eq) == name)
            found = std::string(part.substr(eq + 1));
    });
    return found;
}

std::optional<BrowserSessions::Login> BrowserSessions::open() {
    // 128 bits each from the CSPRNG (libsodium): unguessable.
    Login l{common::text::random_hex(16), common::text::random_hex(16)};
    if (l.session.size() != 32 || l.csrf.size() != 32) return std::nullopt;
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    std::erase_if(sessions_, [&](const auto& s) { return s.second.expired(now); });
    if (sessions_.size() >= kMax) {
        auto oldest = std::min_element(sessions_.begin(), sessions_.end(), [](const auto& a, const auto& b) {
            return a.second.last_used < b.second.last_used;
        });
        sessions_.erase(oldest);
    }
    sessions_[l.session] = Live{l.csrf, now, now};
    return l;
}

std::optional<std::string> BrowserSessions::check(std::string_view session) {
    if (session.empty()) return std::nullopt;
    std::lock_guard lock(mu_);
    auto it = sessions_.find(session);
    if (it == sessions_.end()) return std::nullopt;
    const auto now = Clock::now();
    if (it->second.expired(now)) {
        sessions_.erase(it);
        return std::nullopt;
    }
    it->second.last_used = now;
    return it->second.csrf;
}

void BrowserSessions::close(std::string_view session) {
    std::lock_guard lock(mu_);
    if (auto it = sessions_.find(session); it != sessions_.end()) sessions_.erase(it);
}

int BrowserSessions::wait_before_login(const std::string& address) {
    std::lock_guard lock(mu_);
    auto it = failures_.find(address);
    if (it == failures_.end()) return 0;
    const auto since = Clock::now() - it->second.first;
    if (since > kFailureWindow) {
        failures_.erase(it);
        return 0;
    }
    if (it->second.count < kMaxFailures) return 0;
    return static_cast<int>(std::chrono::ceil<std::chrono::seconds>(kFailureWindow - since).count());
}

void BrowserSessions::login_failed(const std::string& address) {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    if (failures_.size() > 4096) {
        // Bounded, without forgiving anyone early: the stale go first, then
        // the oldest (a scan from many addresses cannot reset the others).
        std::erase_if(failures_, [&](const auto& f) { return now - f.second.first > kFailureWindow; });
        while (failures_.size() > 4096)
            failures_.erase(std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
                return a.second.first < b.second.first;
            }));
    }
    auto& f = failures_[address];
    if (f.count == 0) f.first = now;
    ++f.count;
}

void BrowserSessions::login_succeeded(const std::string& address) {
    std::lock_guard lock(mu_);
    failures_.erase(address);
}

}  // namespace pb::host

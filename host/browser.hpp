// How the reference host lets a browser in without handing it the API key:
// the key (typed once on /login) is exchanged for a session cookie that
// scripts cannot read (HttpOnly, SameSite=Strict) and a CSRF token the
// page sends back on every unsafe request (cookie XSRF-TOKEN, header
// X-XSRF-TOKEN). Sessions live in memory: a restart signs browsers out.
#pragma once
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace pb::host {

inline constexpr std::string_view kSessionCookie = "pb_session";
inline constexpr std::string_view kCsrfCookie = "XSRF-TOKEN";
inline constexpr std::string_view kCsrfHeader = "X-XSRF-TOKEN";

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(std::string_view cookie_header, std::string_view name);

class BrowserSessions {
public:
    using Clock = std::chrono::steady_clock;
    struct Login {
        std::string session;  // the cookie's value
        std::string csrf;     // the token the page echoes
    };
    // Thread-safe. A session unused for kIdle ends; at most kMax live at
    // once (the oldest goes first), so a flood of logins cannot grow memory.
    static constexpr auto kIdle = std::chrono::hours(12);
    static constexpr auto kLifetime = std::chrono::hours(24 * 7);  // then sign in again, however busy
    static constexpr std::size_t kMax = 256;

    std::optional<Login> open();  // nullopt: no randomness to draw from
    // The session's CSRF token when the session is live (and refreshes its
    // idle time), nullopt otherwise.
    std::optional<std::string> check(std::string_view session);
    void close(std::string_view session);

    // Wrong keys from one address: after kMaxFailures within kFailureWindow
    // that address waits (the answer is 429 with the seconds to wait).
    static constexpr int kMaxFailures = 10;
    static constexpr auto kFailureWindow = std::chrono::minutes(5);
    // Seconds to wait before `address` may try again; 0: it may try now.
    int wait_before_login(const std::string& address);
    void login_failed(const std::string& address);
    void login_succeeded(const std::string& address);

private:
    struct Live {
        std::string csrf;
        Clock::time_point opened, last_used;
        bool expired(Clock::time_point now) const { return now - last_used > kIdle || now - opened > kLifetime; }
    };
    struct Failures {
        int count = 0;
        Clock::time_point first;
    };
    std::mutex mu_;
    std::map<std::string, Live, std::less<>> sessions_;
    std::map<std::string, Failures> failures_;
};

}  // namespace pb::host

// PINs this installation created and is waiting on. Bounded (oldest
// evicted first), each entry lives as long as plex.tv said (its
// `expiresIn`: 900 s in the captures, 1800 s for strong PINs), at most an
// hour, and each carries the CSRF `state` the browser must send back.
// Thread-safe.
#pragma once
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace pb::auth {

struct PendingPin {
    int64_t id = 0;
    std::string code;
    std::string state;
    std::chrono::steady_clock::time_point created;
    std::chrono::seconds lifetime{900};
    // A JWT PIN (jwt_sign_in): polled with a device JWT, reused while it is
    // young (each one costs plex.tv a nonce).
    bool jwt = false;
    std::string device_key;  // serialized; made for this PIN, stored with the token it gives
    std::string device_jwt;
    std::chrono::steady_clock::time_point device_jwt_at;
};

enum class PinLookup { found = 1, unknown, expired, state_mismatch };

class PinTable {
public:
    explicit PinTable(std::size_t capacity = 64, std::chrono::seconds max_age = std::chrono::seconds(3600))
        : capacity_(capacity), max_age_(max_age) {}
    // `lifetime_s` from plex.tv's expiresIn (none or nonsense: 15 minutes),
    // capped at max_age.
    void add(int64_t id, std::string code, std::string state, int64_t lifetime_s, bool jwt = false,
             std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    // The device key a JWT PIN carries.
    void set_device_key(int64_t id, std::string device_key);
    // Remembers the device JWT a JWT PIN is polled with.
    void set_device_jwt(int64_t id, std::string device_jwt, std::chrono::steady_clock::time_point at);
    PinLookup find(int64_t id, std::string_view state, PendingPin* out,
                   std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
    void remove(int64_t id);
    std::size_t size() const;

private:
    void sweep(std::chrono::steady_clock::time_point now);
    mutable std::mutex mu_;
    std::size_t capacity_;
    std::chrono::seconds max_age_;
    std::map<int64_t, PendingPin> pins_;
    // Expired ids are remembered briefly so the user hears "expired", not "unknown".
    std::map<int64_t, std::chrono::steady_clock::time_point> expired_;
};

}  // namespace pb::auth

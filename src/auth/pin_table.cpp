#include "pin_table.hpp"

#include "common/text.hpp"

namespace pb::auth {

void PinTable::sweep(std::chrono::steady_clock::time_point now) {
    for (auto it = pins_.begin(); it != pins_.end();) {
        if (now - it->second.created >= it->second.lifetime) {
            expired_[it->first] = now;
            it = pins_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = expired_.begin(); it != expired_.end();)
        it = now - it->second > max_age_ ? expired_.erase(it) : std::next(it);
    while (expired_.size() > capacity_ * 4) expired_.erase(expired_.begin());
}

void PinTable::add(int64_t id, std::string code, std::string state, int64_t lifetime_s, bool jwt,
                   std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu_);
    sweep(now);
    while (pins_.size() >= capacity_) {
        auto oldest = pins_.begin();
        for (auto it = pins_.begin(); it != pins_.end(); ++it)
            if (it->second.created < oldest->second.created) oldest = it;
        pins_.erase(oldest);
    }
    auto life = std::chrono::seconds(lifetime_s > 0 ? lifetime_s : 900);
    if (life > max_age_) life = max_age_;
    PendingPin p;
    p.id = id;
    p.code = std::move(code);
    p.state = std::move(state);
    p.created = now;
    p.lifetime = life;
    p.jwt = jwt;
    pins_[id] = std::move(p);
}

void PinTable::set_device_key(int64_t id, std::string device_key) {
    std::lock_guard lock(mu_);
    if (auto it = pins_.find(id); it != pins_.end()) it->second.device_key = std::move(device_key);
}

void PinTable::set_device_jwt(int64_t id, std::string device_jwt, std::chrono::steady_clock::time_point at) {
    std::lock_guard lock(mu_);
    if (auto it = pins_.find(id); it != pins_.end()) {
        it->second.device_jwt = std::move(device_jwt);
        it->second.device_jwt_at = at;
    }
}

PinLookup PinTable::find(int64_t id, std::string_view state, PendingPin* out,
                         std::chrono::steady_clock::time_point now) {
    std::lock_guard lock(mu_);
    sweep(now);
    auto it = pins_.find(id);
    if (it == pins_.end()) return expired_.count(id) ? PinLookup::expired : PinLookup::unknown;
    if (!common::text::constant_time_equals(state, it->second.state)) return PinLookup::state_mismatch;
    if (out) *out = it->second;
    return PinLookup::found;
}

void PinTable::remove(int64_t id) {
    std::lock_guard lock(mu_);
    pins_.erase(id);
}

std::size_t PinTable::size() const {
    std::lock_guard lock(mu_);
    return pins_.size();
}

}  // namespace pb::auth

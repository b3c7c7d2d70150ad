#include <boost/json.hpp>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "host.hpp"

namespace pb::host {

namespace bj = boost::json;

bool SettingsStore::open(const std::string& path, std::string* error) {
    std::lock_guard lock(mu_);
    path_ = path;
    auto text = common::fs::read_file(path);
    if (!text) {
        if (text.error().code == common::Errc::not_found) return true;  // first run
        if (error) *error = "cannot read the settings: " + text.error().message;
        return false;
    }
    auto v = common::json::parse_lenient(*text);
    if (!v || !v->is_object()) {
        // Never overwrite a file we cannot read: the user may want it back.
        std::string why = v ? "not an object" : v.error().message;
        if (error) *error = "the settings file " + path + " is not valid JSON (" + why + "); fix or move it";
        return false;
    }
    file_ = v->get_object();
    if (auto* p = file_.if_contains("plex"); p && p->is_object()) values_ = p->get_object();
    return true;
}

void SettingsStore::register_setting(const std::string& name, bj::value default_value, bool secret,
                                     bj::object descriptor) {
    std::lock_guard lock(mu_);
    if (!values_.contains(name)) values_[name] = std::move(default_value);
    if (secret) secret_keys_.push_back(name);
    schema_.push_back(std::move(descriptor));
}

bj::object SettingsStore::snapshot() const {
    std::lock_guard lock(mu_);
    return values_;
}

bj::object SettingsStore::masked() const {
    std::lock_guard lock(mu_);
    bj::object out = values_;
    for (const auto& k : secret_keys_)
        if (auto* v = out.if_contains(k); v && v->is_string() && !v->get_string().empty()) *v = "********";
    return out;
}

bj::array SettingsStore::schema() const {
    std::lock_guard lock(mu_);
    return schema_;
}

bool SettingsStore::knows(const std::string& name) const {
    std::lock_guard lock(mu_);
    return values_.contains(name);
}

bj::object SettingsStore::preview(const bj::object& patch) const {
    std::lock_guard lock(mu_);
    bj::object out = values_;
    for (const auto& [k, v] : patch) out[k] = v;
    return out;
}

bool SettingsStore::merge(const bj::object& patch, std::string* error) {
    std::lock_guard lock(mu_);
    bj::object next = values_;
    for (const auto& [k, v] : patch) next[k] = v;
    bj::object file = file_;
    file["plex"] = next;
    if (auto st = common::fs::atomic_write(path_, bj::serialize(file), 0600); !st) {
        if (error) *error = st.error().message;
        return false;
    }
    values_ = std::move(next);
    file_ = std::move(file);
    return true;
}

}  // namespace pb::host

#include <boost/json.hpp>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"

#include <ctime>
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
        // The user may want these bytes back (a hand edit gone wrong, a disk
        // that lost the end of the file): keep them whole beside the file,
        // and start with the defaults rather than not at all.
        std::string why = text->empty() ? "it is empty" : v ? "it is not a JSON object" : v.error().message;
        std::string aside = path + ".unreadable-" + common::text::iso8601_utc(std::time(nullptr));
        if (auto st = common::fs::atomic_write(aside, *text, 0600); !st) {
            keep_file_ = true;
            notice_ = "The settings file " + path + " could not be read (" + why + ") nor copied aside (" +
                      st.error().message +
                      "). The host runs with default settings and will not save any until that file is moved away.";
        } else {
            notice_ = "The settings file " + path + " could not be read (" + why + "). Its contents were kept in " +
                      aside + " and the host started with default settings.";
        }
        return true;
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

std::string SettingsStore::notice() const {
    std::lock_guard lock(mu_);
    return notice_;
}

bool SettingsStore::merge(const bj::object& patch, std::string* error) {
    std::lock_guard lock(mu_);
    if (keep_file_) {
        if (error) *error = "the unreadable settings file " + path_ + " must be moved away first (" + notice_ + ")";
        return false;
    }
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

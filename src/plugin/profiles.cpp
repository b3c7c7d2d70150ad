// Profiles: several Plex sign-ins side by side (docs/accounts.md). Each
// profile is a Unit: its own Session over its view of the settings, and
// its own features. This file makes, starts and retires them as the
// stored list changes, and holds the routes that change the list.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <filesystem>

#include "common/json.hpp"
#include "common/text.hpp"
#include "plugin/plugin.hpp"
#include "settings/settings.hpp"

namespace pb::plugin {

namespace bj = boost::json;
using common::Errc;
using common::Error;

bool Plugin::Unit::has_server() const { return !session->server_url().empty(); }

std::shared_ptr<Plugin::Unit> Plugin::make_unit(std::unique_ptr<session::Session> session, route::Registry* routes) {
    auto u = std::make_shared<Unit>();
    u->id = session->profile();
    u->session = std::move(session);
    route::Registry& where = routes ? *routes : u->own_routes;
    u->auth = std::make_unique<auth::Auth>(*u->session, where);
    u->discovery = std::make_unique<discovery::Discovery>(*u->session, where);
    u->refresher = refresh::Refresher::create(*u->session, where);
    u->refresher->load();
    u->webhooks = std::make_unique<webhooks::Webhooks>(*u->session, where, *this);
    return u;
}

void Plugin::start_unit(Unit& u) {
    u.session->start();
    u.webhooks->start();
    u.refresher->start();
    u.auth->start();
}

std::vector<std::shared_ptr<Plugin::Unit>> Plugin::units() const {
    std::lock_guard lock(units_mu_);
    return units_;
}

std::vector<std::shared_ptr<Plugin::Unit>> Plugin::working_units() const {
    auto all = units();
    std::vector<std::shared_ptr<Unit>> to;
    for (const auto& u : all)
        if (u->has_server()) to.push_back(u);
    // None has a server: the default alone, which says so in its status.
    if (to.empty()) to.push_back(all.front());
    return to;
}

std::shared_ptr<Plugin::Unit> Plugin::unit(std::string_view id) const {
    std::lock_guard lock(units_mu_);
    for (const auto& u : units_)
        if (u->id == id) return u;
    return nullptr;
}

std::shared_ptr<Plugin::Unit> Plugin::unit_of(const route::Call& call, const route::Reply& reply) const {
    auto id = call.param("profile");
    auto u = unit(id && !id->empty() ? std::string_view(*id) : settings::kDefaultProfile);
    if (!u)
        reply.fail(Error(Errc::profile_unknown,
                         "There is no profile " + *id + " (it may have been removed); choose another one."));
    return u;
}

void Plugin::reconcile(const bj::object& all) {
    // Called from settings_changed(), on whichever thread wrote; one at a time.
    std::lock_guard one(reconcile_mu_);
    std::vector<std::string> listed;
    for (const auto& p : settings::parse(all).profiles)
        if (p.id != settings::kDefaultProfile) listed.push_back(p.id);
    std::vector<std::string> missing;
    {
        std::lock_guard lock(units_mu_);
        for (auto it = units_.begin(); it != units_.end();) {
            bool kept = (*it)->id == settings::kDefaultProfile ||
                        std::find(listed.begin(), listed.end(), (*it)->id) != listed.end();
            if (kept) {
                ++it;
                continue;
            }
            log().info("profile {} removed", (*it)->id);
            retired_.push_back(*it);
            it = units_.erase(it);
        }
        for (const auto& id : listed)
            if (std::none_of(units_.begin(), units_.end(), [&](const auto& u) { return u->id == id; }))
                missing.push_back(id);
    }
    for (const auto& id : missing) {
        auto session = session_->open_profile(id);
        if (!session) {
            log().error("profile {} cannot work: {}", id, session.error().message);
            continue;
        }
        // (Nothing from here to start_unit() writes the settings: this may
        // run inside a write, which holds the stores' write lock.)
        auto u = make_unit(std::move(*session), nullptr);
        {
            std::lock_guard lock(units_mu_);
            units_.push_back(u);
            if (started_ && !stopping_) boost::asio::post(*ioc_, [u] { start_unit(*u); });
        }
        // A change stored while it was being made reached the others only.
        (void)u->session->settings_changed(bj::serialize(session_->settings().all()));
    }
}

// ---------------------------------------------------------------- routes

// A name as the user typed it, trimmed; Errc::bad_request when unusable.
static common::Result<std::string> profile_name(const route::Call& call) {
    auto v = common::json::parse_lenient(call.body);
    if (!v || !v->is_object()) return Error(Errc::bad_request, "the body must be a JSON object with a \"name\"");
    const bj::value* n = v->get_object().if_contains("name");
    if (!n || !n->is_string()) return Error(Errc::bad_request, "name: give the profile a name");
    std::string name(common::text::trim(std::string_view(n->get_string())));
    if (name.empty()) return Error(Errc::bad_request, "name: give the profile a name");
    if (common::text::characters(name) > settings::kMaxProfileName)
        return Error(Errc::bad_request, "name: at most " + std::to_string(settings::kMaxProfileName) + " characters");
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f) return Error(Errc::bad_request, "name: no control characters");
    return name;
}

// A refusal of the name names its field, for the page to show it there.
static void refuse(const route::Reply& reply, const Error& e) {
    if (e.code != Errc::bad_request || !common::text::starts_with(e.message, "name: ")) return reply.fail(e);
    auto answer = common::route_answer(e);
    reply.json(answer.status, bj::object{{"error", e.message}, {"code", answer.name}, {"field", "name"}});
}

void Plugin::profiles_list(route::Call&, route::Reply reply) {
    auto listed = session_->settings().snapshot()->profiles;
    bj::array out;
    for (const auto& u : units()) {
        auto s = u->session->settings().snapshot();
        std::string name;
        for (const auto& p : listed)
            if (p.id == u->id) name = p.name;
        out.push_back(bj::object{{"id", u->id},
                                 {"name", name},
                                 {"default", u->id == settings::kDefaultProfile},
                                 {"username", s->username},
                                 {"server_name", s->server_name},
                                 {"state", session::to_string(u->session->account_status().state)}});
    }
    reply.data(bj::object{{"profiles", std::move(out)}, {"max", settings::kMaxProfiles}});
}

void Plugin::profiles_add(route::Call& call, route::Reply reply) {
    auto name = profile_name(call);
    if (!name) return refuse(reply, name.error());
    std::string id;
    auto st = session_->edit_profiles([&](bj::array& list) -> common::Status {
        if (list.size() >= settings::kMaxProfiles)
            return Error(Errc::profile_limit, "There are already " + std::to_string(settings::kMaxProfiles) +
                                                  " profiles, as many as plexbridge keeps; remove one first.");
        bool taken = true;
        while (taken) {
            id = common::text::random_hex(4);
            taken = std::any_of(list.begin(), list.end(),
                                [&](const bj::value& e) { return common::json::get_string_or(e, "id", "") == id; });
        }
        if (id.size() != 8) return Error(Errc::internal, "the system has no randomness to name a profile with");
        list.push_back(bj::object{{"id", id}, {"name", *name}});
        return {};
    });
    if (!st) return reply.fail(st.error());
    // The write made its unit (settings_changed); it starts on the io thread.
    log().info("profile {} added", id);
    reply.data(bj::object{{"id", id}, {"name", *name}}, 201);
}

void Plugin::profiles_rename(route::Call& call, route::Reply reply) {
    const std::string& id = call.path_params["id"];
    auto name = profile_name(call);
    if (!name) return refuse(reply, name.error());
    auto st = session_->edit_profiles([&](bj::array& list) -> common::Status {
        for (auto& e : list)
            if (e.is_object() && common::json::get_string_or(e, "id", "") == id) {
                e.get_object()["name"] = *name;
                return {};
            }
        return Error(Errc::profile_unknown, "There is no profile " + id + ".");
    });
    if (!st) return reply.fail(st.error());
    reply.data(bj::object{{"id", id}, {"name", *name}});
}

void Plugin::profiles_remove(route::Call& call, route::Reply reply) {
    const std::string id = call.path_params["id"];
    if (id == settings::kDefaultProfile)
        return reply.fail(
            Error(Errc::bad_request, "The default profile stays; sign it out, or forget everything, instead."));
    auto u = unit(id);
    if (!u) return reply.fail(Error(Errc::profile_unknown, "There is no profile " + id + "."));
    // Its webhook off its account (unless another profile uses that
    // account), its queue and settings gone; then it leaves the list, and
    // its folder goes.
    boost::asio::post(*ioc_, [this, u, id, reply] {
        u->session->leave(session::Leaving::forget_everything, [this, u, id,
                                                                reply](common::Result<std::vector<std::string>> r) {
            if (!r) return reply.fail(r.error().context("The profile could not be signed out"));
            auto st = session_->edit_profiles([&](bj::array& list) -> common::Status {
                auto gone = std::remove_if(list.begin(), list.end(), [&](const bj::value& e) {
                    return common::json::get_string_or(e, "id", "") == id;
                });
                list.erase(gone, list.end());
                return {};
            });
            if (!st) return reply.fail(st.error().context("The profile could not be removed"));
            std::vector<std::string> done = std::move(*r);
            std::error_code ec;
            std::filesystem::remove_all(u->session->data_dir(), ec);
            done.push_back(ec ? "could not delete the profile's folder " + u->session->data_dir() + ": " + ec.message()
                              : "deleted the profile's files");
            done.emplace_back("removed the profile");
            bj::array lines;
            for (auto& d : done) lines.push_back(bj::string(d));
            reply.data(bj::object{{"done", std::move(lines)}});
        });
    });
}

}  // namespace pb::plugin

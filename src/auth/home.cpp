// Plex Home: the people of the signed-in account's Home, and switching to
// one of them (docs/accounts.md). A switch is a sign-in as that person: their
// own plex.tv token replaces the previous one, and the selected server is
// kept only with their own access to it, from their resources.
//
// The PIN a protected user asks for travels from the browser to plex.tv
// and nowhere else: it is not stored, not logged (the HTTP client logs no
// query string) and not echoed in any answer.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <map>
#include <mutex>

#include "auth/auth.hpp"
#include "common/json.hpp"

namespace pb::auth {

namespace bj = boost::json;
using common::Errc;
using common::Error;
using route::Call;
using route::Reply;

static bj::object to_json(const plexapi::HomeUser& u, const std::string& current_id) {
    return bj::object{{"id", u.id},
                      {"uuid", u.uuid},
                      {"title", u.title},
                      {"username", u.username},
                      {"admin", u.admin},
                      {"managed", u.managed()},
                      {"restricted", u.restricted},
                      {"restrictionProfile", u.restriction_profile},
                      {"protected", u.has_pin},
                      {"current", std::to_string(u.id) == current_id}};
}

void Auth::home_users(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        auto token = session_.account_token();
        if (!token) return reply.fail(token.error().context("Could not list your Plex Home"));
        auto held = std::make_shared<vault::Secret>(std::move(*token));
        session_.plextv().get_home_users(held->str(),
                                         [this, reply, held](plexapi::ApiResult<std::vector<plexapi::HomeUser>> r) {
                                             if (!r)
                                                 return reply.fail(r.error().context("Could not list your Plex Home"));
                                             std::string current = session_.settings().snapshot()->user_id;
                                             bj::array users;
                                             for (const auto& u : *r)
                                                 if (!u.guest) users.push_back(to_json(u, current));
                                             reply.data(bj::object{{"users", std::move(users)}});
                                         });
    });
}

// Whether `text` is a Plex Home PIN as a person types it: digits only.
static bool pin_shaped(const std::string& text) {
    return text.size() <= 16 && text.find_first_not_of("0123456789") == std::string::npos;
}

// Wrong PINs per person: after five in a row, a wait that doubles (30 s up
// to 15 min), so a 4-digit PIN cannot be tried through plexbridge at speed.
// Whether plex.tv itself slows guesses down is not documented.
class PinGuard {
public:
    using Clock = std::chrono::steady_clock;
    // The wait left before `uuid` may be tried again; zero when it may.
    std::chrono::seconds wait(const std::string& uuid) {
        std::lock_guard lock(mu_);
        auto it = people_.find(uuid);
        if (it == people_.end() || Clock::now() >= it->second.until) return std::chrono::seconds(0);
        return std::chrono::ceil<std::chrono::seconds>(it->second.until - Clock::now());
    }
    void wrong(const std::string& uuid) {
        std::lock_guard lock(mu_);
        if (people_.size() > 256) people_.clear();  // bounded: uuids come from a Home of at most 15
        auto& p = people_[uuid];
        if (++p.wrong < kFree) return;
        auto wait = std::chrono::seconds(30) * (1 << std::min(p.wrong - kFree, 5));
        p.until = Clock::now() + std::min<Clock::duration>(wait, std::chrono::minutes(15));
    }
    void right(const std::string& uuid) {
        std::lock_guard lock(mu_);
        people_.erase(uuid);
    }

private:
    static constexpr int kFree = 5;
    struct Person {
        int wrong = 0;
        Clock::time_point until{};
    };
    std::mutex mu_;
    std::map<std::string, Person> people_;
};

std::shared_ptr<PinGuard> Auth::make_pin_guard() { return std::make_shared<PinGuard>(); }

namespace {
// One switch, step by step on the io thread: find the person in the Home,
// switch, read their account and their servers, hand over, store.
struct Switch : std::enable_shared_from_this<Switch> {
    session::Session& session;
    std::shared_ptr<PinGuard> guard;
    Reply reply;
    std::string uuid;
    vault::Secret pin;  // wiped when the switch is done
    vault::Secret token;
    plexapi::HomeUser target;
    vault::Secret new_token;
    plexapi::Account account;

    Switch(session::Session& s, std::shared_ptr<PinGuard> g, Reply r, std::string u, vault::Secret p, vault::Secret t)
        : session(s),
          guard(std::move(g)),
          reply(std::move(r)),
          uuid(std::move(u)),
          pin(std::move(p)),
          token(std::move(t)) {}

    void run() {
        session.plextv().get_home_users(
            token.str(), [self = shared_from_this()](plexapi::ApiResult<std::vector<plexapi::HomeUser>> r) {
                self->found(std::move(r));
            });
    }
    void found(plexapi::ApiResult<std::vector<plexapi::HomeUser>> r) {
        if (!r) return reply.fail(r.error().context("Could not switch Plex Home user"));
        auto it =
            std::find_if(r->begin(), r->end(), [&](const plexapi::HomeUser& u) { return u.uuid == uuid && !u.guest; });
        if (it == r->end())
            return reply.fail(Error(
                Errc::not_found, "No one in your Plex Home has this id (" + uuid + "); list the Home's users again"));
        target = *it;
        if (target.has_pin && pin.empty())
            return reply.fail(Error(Errc::wrong_pin, target.title + " has a PIN: type it to switch"));
        if (auto wait = guard->wait(uuid); wait.count() > 0)
            return reply.fail(Error(Errc::rate_limited, "Too many wrong PINs for " + target.title + ": wait " +
                                                            std::to_string(wait.count()) + " s and try again"));
        session.plextv().switch_home_user(
            token.str(), target, pin.str(),
            [self = shared_from_this()](plexapi::ApiResult<std::string> t) { self->switched(std::move(t)); });
    }
    void switched(plexapi::ApiResult<std::string> t) {
        if (!t) {
            if (t.error().code == Errc::wrong_pin) {
                if (pin.empty())  // plex.tv asks a PIN of someone listed without one
                    return reply.fail(Error(Errc::wrong_pin, target.title + " needs a PIN: type it to switch",
                                            common::Peer::plextv, 403));
                guard->wrong(uuid);
                return reply.fail(Error(Errc::wrong_pin, "Wrong PIN for " + target.title, common::Peer::plextv, 403));
            }
            return reply.fail(t.error().context("Could not switch to " + target.title));
        }
        guard->right(uuid);
        new_token = vault::Secret(std::move(*t));
        session.secrets().add(new_token.str());
        session.plextv().get_account(
            new_token.str(), [self = shared_from_this()](plexapi::ApiResult<plexapi::Account> a) {
                if (!a) return self->reply.fail(a.error().context("Switched, but the account could not be read"));
                self->account = std::move(*a);
                self->session.plextv().get_resources(
                    self->new_token.str(),
                    [self](plexapi::ApiResult<std::vector<plexapi::Resource>> r) { self->store(std::move(r)); });
            });
    }
    // Keeps the selected server with the new person's own access to it, or
    // no server when they have none: never the previous person's token.
    void store(plexapi::ApiResult<std::vector<plexapi::Resource>> resources) {
        if (!resources) return reply.fail(resources.error().context("Switched, but the servers could not be read"));
        auto s = session.settings().snapshot();
        const plexapi::Resource* server = nullptr;
        const plexapi::Connection* chosen = nullptr;
        for (const auto& r : *resources)
            if (r.is_server() && !s->server_machine_id.empty() && r.client_identifier == s->server_machine_id)
                server = &r;
        if (server)
            for (const auto& c : server->connections)
                if (c.uri == s->server_url) chosen = &c;
        std::string previous_server = s->server_name;
        // What the previous person set up outside (our webhook on their
        // plex.tv account) goes first, with their token; then the new
        // sign-in (which clears the selection of another person when no
        // server is given).
        auto kept = std::make_shared<std::optional<plexapi::Resource>>();
        if (server) *kept = *server;
        std::string chosen_uri = chosen ? chosen->uri : "";
        session.hand_over(std::to_string(account.id), [self = shared_from_this(), kept, chosen_uri,
                                                       previous_server](std::vector<std::string> done) {
            self->finish(kept->has_value() ? &**kept : nullptr, chosen_uri, previous_server, std::move(done));
        });
    }
    void finish(const plexapi::Resource* server, const std::string& chosen_uri, const std::string& previous_server,
                std::vector<std::string> done) {
        const plexapi::Connection* chosen = nullptr;
        if (server)
            for (const auto& c : server->connections)
                if (c.uri == chosen_uri) chosen = &c;
        if (auto st = session.sign_in(new_token, account, server, chosen); !st)
            return reply.fail(st.error().context("Switched, but the token could not be saved"));
        session.log().info("switched to Plex Home user {}", target.title);
        std::string message = "Switched to " + target.title + ".";
        if (server)
            message += " " + server->name + " stays selected, with " + target.title + "'s own access to it.";
        else if (!previous_server.empty())
            message += " " + target.title + " has no access to " + previous_server + ": choose a server.";
        bj::array lines;
        for (auto& d : done) lines.emplace_back(d);
        reply.data(bj::object{{"switched", true},
                              {"username", target.title},
                              {"managed", target.managed()},
                              {"restricted", target.restricted},
                              {"serverKept", server != nullptr},
                              {"message", message},
                              {"done", std::move(lines)}});
    }
};
}  // namespace

void Auth::switch_home_user(Call& call, Reply reply) {
    auto body = common::json::parse_lenient(call.body);
    if (!body || !body->is_object())
        return reply.fail(Error(Errc::bad_request, "the body must be a JSON object like {\"uuid\": \"...\"}"));
    auto uuid = common::json::get_string(*body, "uuid");
    if (!uuid || uuid->empty() || uuid->size() > 64 || uuid->find_first_of("/?#%& \t\r\n") != std::string::npos)
        return reply.fail(Error(Errc::bad_request, "uuid: the Plex Home user's uuid, from the list of users"));
    // A PIN is text: as a JSON number, 0123 would lose its first digit.
    if (const auto* p = body->as_object().if_contains("pin"); p && !p->is_string() && !p->is_null())
        return reply.fail(Error(Errc::bad_request, "pin: a Plex Home PIN is a string of digits, like \"0123\""));
    auto pin = std::make_shared<vault::Secret>(common::json::get_string(*body, "pin").value_or(""));
    if (!pin_shaped(pin->str())) return reply.fail(Error(Errc::bad_request, "pin: a Plex Home PIN is digits only"));
    boost::asio::post(session_.io(), [this, reply, uuid = std::move(*uuid), pin] {
        auto token = session_.account_token();
        if (!token) return reply.fail(token.error().context("Could not switch Plex Home user"));
        std::make_shared<Switch>(session_, pin_guard_, reply, uuid, std::move(*pin), std::move(*token))->run();
    });
}

}  // namespace pb::auth

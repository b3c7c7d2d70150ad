#include "session/session.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <ctime>
#include <filesystem>

#include "common/fs.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "settings/migrations.hpp"

namespace pb::session {

namespace bj = boost::json;
using common::Errc;
using common::Error;

settings::Connections to_settings(const std::vector<plexapi::Connection>& connections) {
    settings::Connections out;
    for (const auto& c : connections) out.push_back({c.uri, c.local, c.relay});
    return out;
}

std::vector<plexapi::Connection> to_plexapi(const settings::Connections& connections) {
    std::vector<plexapi::Connection> out;
    for (const auto& c : connections) {
        plexapi::Connection k;
        k.uri = c.uri;
        k.local = c.local;
        k.relay = c.relay;
        out.push_back(std::move(k));
    }
    return out;
}

common::Result<std::unique_ptr<Session>> Session::open(Environment env) {
    auto vault = vault::Vault::open(env.data_dir);
    if (!vault) return vault.error();
    return std::unique_ptr<Session>(
        new Session(std::move(env), std::move(*vault), std::make_shared<std::mutex>(), nullptr, {}));
}

common::Result<std::unique_ptr<Session>> Session::open_profile(const std::string& id) {
    Environment env = env_;
    env.data_dir = common::fs::join(common::fs::join(data_dir(), "profiles"), id);
    std::error_code ec;
    std::filesystem::create_directories(env.data_dir, ec);
    std::filesystem::permissions(common::fs::join(data_dir(), "profiles"), std::filesystem::perms::owner_all, ec);
    std::filesystem::permissions(env.data_dir, std::filesystem::perms::owner_all, ec);
    if (!std::filesystem::is_directory(env.data_dir))
        return Error(Errc::storage,
                     "cannot make the profile's folder " + env.data_dir + (ec ? ": " + ec.message() : std::string()));
    return std::unique_ptr<Session>(new Session(std::move(env), vault_, secrets_mu_, &store_, id));
}

Session::Session(Environment env, std::shared_ptr<vault::Vault> vault, std::shared_ptr<std::mutex> secrets_mu,
                 const settings::Store* like, const std::string& profile)
    : env_(std::move(env)),
      vault_(std::move(vault)),
      secrets_mu_(std::move(secrets_mu)),
      store_(like ? settings::Store(*like, profile) : settings::Store(env_.write_settings, env_.migrations)),
      pms_(std::make_shared<PmsClient>(*this)) {}

Session::~Session() = default;

void Session::load(std::string_view stored_json) {
    if (auto st = store_.replace(stored_json); !st) log().error("{}; using the defaults", st.error().message);
    // An older layout of the stored settings: back it up, then upgrade it
    // in one write (all steps or none).
    auto up = settings::upgrade(store_.json(), env_.migrations);
    if (!up) {
        log().error("{}; the settings are left as they are", up.error().message);
    } else if (*up) {
        const auto& u = **up;
        std::string backup =
            common::fs::join(data_dir(), "plexbridge-settings.v" + std::to_string(u.from_version) + ".backup.json");
        if (auto st = common::fs::atomic_write(backup, bj::serialize(store_.json()), 0600); !st) {
            log().error("cannot back up the settings before upgrading them ({}); they are left as they are",
                        st.error().message);
        } else if (auto w = write(u.patch); !w) {
            log().error("cannot store the upgraded settings ({}); they are left as they are (backup: {})",
                        w.error().message, backup);
        } else {
            for (const auto& step : u.steps) log().info("settings upgraded: {}", step);
            log().info("settings upgraded from version {} to {} (backup: {})", u.from_version,
                       settings::current_version(env_.migrations), backup);
        }
    }
    // One identity per installation, kept across restarts.
    if (store_.snapshot()->client_identifier.empty())
        if (auto st = write(bj::object{{"client_identifier", common::text::random_hex(16)}}); !st)
            log().warn("could not store the client identifier: {}", st.error().message);
}

void Session::start() {
    if (auto sealed = seal_plaintext_secrets(); !sealed)
        log().error("could not encrypt a plain-text Plex token: {}", sealed.error().message);
    else if (*sealed)
        log().info("encrypted a secret (a Plex token or key) that was stored in plain text");
    // The token's health: now, then daily (a token dies when the user signs
    // out everywhere or changes the password).
    check_timer_ = std::make_unique<boost::asio::steady_timer>(io());
    schedule_check(std::chrono::seconds(0));
    renew_timer_ = std::make_unique<boost::asio::steady_timer>(io());
    schedule_renewal();
    // Another profile: plex.tv sees it as a device of its own, so two
    // profiles of one account are two sign-ins, not one replacing the other.
    if (!store_.is_default() && store_.snapshot()->client_identifier.empty())
        if (auto st = write(bj::object{{"client_identifier", common::text::random_hex(16)}}); !st)
            log().warn("could not store the profile's client identifier: {}", st.error().message);
    if (store_.is_default() && vault_->rotation_pending()) {
        log().warn("a change of the encryption key was interrupted; finishing it");
        std::lock_guard lock(*secrets_mu_);
        if (auto st = finish_rotation_locked(); !st)
            log().error("could not finish changing the key: {}", st.error().message);
    }
}

void Session::cancel_requests() {
    std::lock_guard lock(client_mu_);
    if (client_) client_->shutdown();
}

void Session::shutdown() {
    check_timer_.reset();  // the io thread has stopped: nothing is waiting on it
    renew_timer_.reset();
    {
        std::lock_guard lock(client_mu_);
        if (client_) client_->shutdown();
        client_.reset();
    }
    pms_->shutdown();
}

std::shared_ptr<http::Client> Session::client() {
    std::string ca = store_.snapshot()->tls_ca_file;
    std::lock_guard lock(client_mu_);
    if (!client_ || ca != client_ca_file_) {
        http::ClientOptions opts;
        opts.extra_ca_file = ca;
        auto c = http::Client::create(io(), opts, env_.log);
        if (!c) {
            log().error("{}; using the system certificates only", c.error().message);
            opts.extra_ca_file.clear();
            c = http::Client::create(io(), opts, env_.log);
        }
        if (client_) client_->shutdown();
        client_ = c ? *c : nullptr;
        client_ca_file_ = ca;
    }
    return client_;
}

plexapi::ClientIdentity Session::identity() const {
    auto s = store_.snapshot();
    plexapi::ClientIdentity id;
    id.client_identifier = s->client_identifier;
    id.device_name = s->device_name;
    return id;
}

plexapi::PlexTv Session::plextv() {
    plexapi::PlexTvOptions o;
    auto s = store_.snapshot();
    o.base_url = s->plextv_url;
    o.clients_base_url = s->plextv_clients_url;
    o.on_token_rejected = [this](const std::string& token) { note_rejected(token); };
    // plex.tv's 498: the short-lived token ended (the machine slept through
    // its renewal, the clock jumped): renew it now.
    o.on_token_expired = [this](const std::string&) { boost::asio::post(io(), [this] { renew_device_token(); }); };
    return plexapi::PlexTv(client(), identity(), o);
}

std::string_view to_string(AccountState state) {
    switch (state) {
        case AccountState::signed_out: return "signed_out";
        case AccountState::unchecked: return "unchecked";
        case AccountState::ok: return "ok";
        case AccountState::rejected: return "rejected";
        case AccountState::unreadable: return "unreadable";
    }
    return "unchecked";
}

AccountStatus Session::account_status() const {
    auto s = store_.snapshot();
    const std::string& stored = s->stored_token();
    std::lock_guard lock(account_mu_);
    AccountStatus st;
    st.checked_at = checked_at_;
    if (stored.empty()) {
        st.state = AccountState::signed_out;
        st.message = "Not signed in to Plex.";
    } else if (stored == rejected_stored_) {
        st.state = AccountState::rejected;
        st.message = !rejected_why_.empty()
                         ? rejected_why_
                         : "Sign in to Plex again: plex.tv no longer accepts the token (it was revoked, the password "
                           "changed, or every device was signed out), so Plex work waits until you sign in again";
    } else if (stored == ok_stored_) {
        st.state = AccountState::ok;
        st.message = "Signed in to Plex.";
    } else if (vault::Vault::is_sealed(stored) && !vault_->unseal(stored)) {
        // The token is left as it is: the right key file put back makes it
        // readable again, and only a new sign-in replaces it.
        st.state = AccountState::unreadable;
        st.message = "The saved Plex token cannot be read: the key file plexbridge.key in " + data_dir() +
                     " is missing or is not the one it was saved with. Put that file back and restart, or sign in "
                     "to Plex again (Plex work waits until then).";
    } else {
        st.state = AccountState::unchecked;
        st.message = "Signed in to Plex (not checked with plex.tv yet).";
    }
    return st;
}

void Session::note_rejected(const std::string& token) {
    auto s = store_.snapshot();
    auto mine = account_token();
    if (!mine || mine->str() != token) return;  // a token being signed in with, not the account's
    {
        std::lock_guard lock(account_mu_);
        if (rejected_stored_ == s->stored_token()) return;
        rejected_stored_ = s->stored_token();
        rejected_why_.clear();
        checked_at_ = static_cast<int64_t>(std::time(nullptr));
    }
    log().warn("plex.tv no longer accepts the Plex token: sign in to Plex again (queued refreshes wait)");
}

void Session::check_account(std::function<void(AccountStatus)> done) {
    auto token = account_token();
    if (!token) {
        auto st = account_status();
        if (st.state == AccountState::unreadable) log().error("{}", st.message);
        if (done) done(std::move(st));
        return;
    }
    auto held = std::make_shared<vault::Secret>(std::move(*token));
    std::string stored = store_.snapshot()->stored_token();
    plextv().ping(held->str(), [this, held, stored, done](plexapi::ApiResult<bool> a) {
        if (a) {
            std::lock_guard lock(account_mu_);
            ok_stored_ = stored;
            checked_at_ = static_cast<int64_t>(std::time(nullptr));
        } else if (a.error().code != common::Errc::token_rejected) {
            // plex.tv failing says nothing about the token.
            log().info("could not check the Plex token with plex.tv: {}", a.error().message);
        }
        if (done) done(account_status());
    });
}

void Session::schedule_check(std::chrono::seconds delay) {
    if (!check_timer_) return;
    check_timer_->expires_after(delay);
    check_timer_->async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        // Signed out: nothing to check, and no call to plex.tv.
        if (!store_.snapshot()->stored_token().empty()) check_account();
        schedule_check(std::chrono::hours(24));
    });
}

void Session::renew_server_token(std::function<void(bool)> done) {
    auto s = store_.snapshot();
    if (s->legacy() || s->server_machine_id.empty()) return done(false);
    std::string machine = s->server_machine_id;
    resources(Freshness::fresh, [this, machine, done](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
        if (!r) return done(false);
        for (const auto& res : *r) {
            if (res.client_identifier != machine || res.access_token.empty()) continue;
            // Who owns the server may have changed too (shared, unshared).
            if (res.owned != store_.snapshot()->server_owned)
                if (auto st = write(bj::object{{"server_owned", res.owned}}); !st)
                    log().error("could not store who owns the server: {}", st.error().message);
            auto current = server_token();
            if (current && current->str() == res.access_token) return done(false);
            std::lock_guard lock(*secrets_mu_);
            env_.secrets->add(res.access_token);
            if (auto st =
                    write(bj::object{{"server_token", vault_->seal(res.access_token)}, {"server_owned", res.owned}});
                !st) {
                log().error("could not store the server's new token: {}", st.error().message);
                return done(false);
            }
            log().info("Plex Media Server {} refused its token; plex.tv gave a new one", res.name);
            return done(true);
        }
        done(false);
    });
}

common::Result<vault::Secret> Session::unseal_setting(const std::string& stored, std::string_view what,
                                                      std::string_view remedy) const {
    auto secret = vault_->unseal(stored);
    if (!secret)
        return Error(Errc::not_signed_in, "the stored " + std::string(what) + " cannot be used: " +
                                              secret.error().message + "; " + std::string(remedy));
    env_.secrets->add(secret->str());
    return secret;
}

common::Result<vault::Secret> Session::account_token() const {
    auto s = store_.snapshot();
    const std::string& stored = s->stored_token();
    if (stored.empty()) return Error(Errc::not_signed_in, "not signed in to Plex");
    // A plain token from an old configuration: usable (start() seals it).
    if (!vault::Vault::is_sealed(stored)) {
        env_.secrets->add(stored);
        return vault::Secret(stored);
    }
    return unseal_setting(stored, "Plex token", "sign in again");
}

common::Result<vault::Secret> Session::server_token() const {
    auto s = store_.snapshot();
    if (!s->legacy() && !s->server_token.empty())
        return unseal_setting(s->server_token, "server token", "select the server again");
    return account_token();
}

void Session::forget_resources() {
    std::lock_guard lock(resources_mu_);
    resources_.clear();
    ++resources_generation_;  // answers to calls made before are another person's
}

void Session::resources(Freshness freshness, plexapi::ApiCallback<std::vector<plexapi::Resource>> cb) {
    {
        std::unique_lock lock(resources_mu_);
        if (freshness == Freshness::cached_ok && !resources_.empty() &&
            std::chrono::steady_clock::now() - resources_at_ < std::chrono::seconds(60)) {
            auto copy = resources_;
            lock.unlock();
            return cb(std::move(copy));
        }
    }
    auto token = account_token();
    if (!token) return cb(token.error());
    uint64_t generation = 0;
    {
        std::lock_guard lock(resources_mu_);
        generation = resources_generation_;
    }
    plextv().get_resources(token->str(), [this, cb, generation](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
        if (!r) return cb(std::move(r));
        {
            // Someone else signed in (a Plex Home switch) while this was on
            // its way: its access tokens are the previous person's.
            std::lock_guard lock(resources_mu_);
            if (generation != resources_generation_)
                return cb(common::Error(common::Errc::cancelled,
                                        "the Plex account changed while its servers were being read; list them again"));
        }
        std::vector<plexapi::Resource> servers;
        for (auto& res : *r)
            if (res.is_server()) servers.push_back(std::move(res));
        for (auto& s : servers)  // secrets of shared servers must not reach logs either
            if (!s.access_token.empty()) env_.secrets->add(s.access_token);
        {
            std::lock_guard lock(resources_mu_);
            if (generation == resources_generation_) {
                resources_ = servers;
                resources_at_ = std::chrono::steady_clock::now();
            }
        }
        cb(std::move(servers));
    });
}

std::string Session::server_url(const settings::Settings& s) {
    if (!s.manual_server_url.empty()) return s.manual_server_url;
    if (s.legacy()) return s.legacy_url();
    return s.server_url;
}

std::string Session::server_url() const { return server_url(*store_.snapshot()); }

http::TlsVerify Session::tls_verify(const settings::Settings& s) {
    return s.verify_tls ? http::TlsVerify::verify : http::TlsVerify::skip;
}

RaceOptions Session::race_options() const {
    auto s = store_.snapshot();
    return session::race_options(std::chrono::milliseconds(s->connect_timeout_ms), tls_verify(*s), identity());
}

static bj::value connections_json(const std::vector<plexapi::Connection>& all) {
    return settings::to_json(to_settings(all));
}

// The settings that name the selected server.
static bj::object selection_patch(const vault::Vault& vault, const plexapi::Resource& server,
                                  const plexapi::Connection* chosen) {
    return bj::object{{"server_machine_id", server.client_identifier},
                      {"server_name", server.name},
                      {"server_url", chosen ? chosen->uri : ""},
                      {"server_local", chosen ? chosen->local : false},
                      {"server_owned", server.owned},
                      {"server_platform", server.platform},
                      {"server_connections", connections_json(server.connections)},
                      {"server_token", server.access_token.empty() ? std::string() : vault.seal(server.access_token)}};
}

common::Status Session::sign_in(const vault::Secret& token, const plexapi::Account& account,
                                const plexapi::Resource* server, const plexapi::Connection* chosen,
                                int64_t token_expires_at, const plexapi::DeviceKey* device_key) {
    std::lock_guard lock(*secrets_mu_);
    forget_resources();  // another account may have other servers
    env_.secrets->add(token.str());
    std::string user_id = std::to_string(account.id);
    auto before = store_.snapshot()->user_id;
    bool same_person = !before.empty() && before == user_id && account.id > 0;
    // A managed Plex Home user has no username: it goes by its title.
    bj::object patch{{"token", vault_->seal(token.str())},
                     {"auth_method", settings::to_string(settings::AuthMethod::oauth)},
                     {"username", account.username.empty() ? account.title : account.username},
                     {"email", account.email},
                     {"user_id", user_id},
                     {"token_expires_at", token_expires_at}};
    if (server) {
        if (!server->access_token.empty()) env_.secrets->add(server->access_token);
        for (const auto& [k, v] : selection_patch(*vault_, *server, chosen)) patch[k] = v;
    } else if (!same_person) {
        // Another person: the server they had selected, and their token for
        // it, are not this one's. Never reach a server with someone else's
        // token; the new person selects their own.
        for (const auto& spec : settings::table())
            if (spec.section == settings::Section::server && spec.cleared_at_sign_out)
                patch[spec.name] = bj::parse(spec.default_json);
        // The previous server's library keys mean nothing on the next one.
        patch["movie_library"] = bj::array();
        patch["series_library"] = bj::array();
    }
    // The device key this sign-in's short-lived token was issued to; a key
    // plex.tv bound to another person's account is never kept: the next
    // renewal would give that person's token.
    if (device_key) {
        std::string text = plexapi::serialize_device_key(*device_key);
        env_.secrets->add(text);
        patch["device_key"] = vault_->seal(text);
        std::fill(text.begin(), text.end(), '\0');
    } else if (!same_person) {
        patch["device_key"] = "";
    }
    if (auto st = write(patch); !st) return st;
    {
        // plex.tv just accepted this token (the caller read the account with it).
        std::lock_guard account_lock(account_mu_);
        ok_stored_ = store_.snapshot()->stored_token();
        checked_at_ = static_cast<int64_t>(std::time(nullptr));
    }
    // A short-lived token's renewal, or the move to one.
    boost::asio::post(io(), [this] { schedule_renewal(); });
    return {};
}

common::Status Session::select_server(const plexapi::Resource& server, const plexapi::Connection* chosen) {
    std::lock_guard lock(*secrets_mu_);
    if (!server.access_token.empty()) env_.secrets->add(server.access_token);
    return write(selection_patch(*vault_, server, chosen));
}

common::Status Session::adopt_connection(const plexapi::Connection& best, const std::vector<plexapi::Connection>* all) {
    bj::object patch{{"server_url", best.uri}, {"server_local", best.local}};
    if (all) patch["server_connections"] = connections_json(*all);
    return write(patch);
}

common::Status Session::store_legacy_token(const vault::Secret& token) {
    std::lock_guard lock(*secrets_mu_);
    env_.secrets->add(token.str());
    return write(bj::object{{"apikey", vault_->seal(token.str())}});
}

common::Result<bool> Session::seal_plaintext_secrets() {
    std::lock_guard lock(*secrets_mu_);
    auto all = store_.json();
    bj::object patch;
    for (const auto& spec : settings::table()) {
        if (!spec.secret) continue;
        const bj::value* v = all.if_contains(spec.name);
        if (!v || !v->is_string() || v->get_string().empty() || vault::Vault::is_sealed(v->get_string())) continue;
        std::string plain(v->get_string());
        env_.secrets->add(plain);
        patch[spec.name] = vault_->seal(plain);
    }
    if (patch.empty()) return false;
    if (auto st = write(patch); !st) return st.error();
    return true;
}

common::Result<std::string> Session::generated_secret(std::string_view setting, std::size_t random_bytes) {
    std::lock_guard lock(*secrets_mu_);
    auto all = store_.json();
    if (const bj::value* v = all.if_contains(setting); v && v->is_string() && !v->get_string().empty()) {
        if (auto plain = vault_->unseal(v->get_string())) {
            env_.secrets->add(plain->str());
            return plain->str();
        }
    }
    // None yet, or unreadable: make one. Old uses of it stop working, which
    // is what a user who lost the key needs anyway.
    std::string fresh = common::text::random_hex(random_bytes);
    if (fresh.empty()) return Error(Errc::internal, "the system has no randomness to make a secret with");
    if (auto st = write(bj::object{{setting, vault_->seal(fresh)}}); !st) return st.error();
    env_.secrets->add(fresh);
    return fresh;
}

common::Status Session::restore_settings(const bj::object& backup) {
    std::lock_guard lock(*secrets_mu_);
    forget_resources();
    bj::object patch = backup;
    auto current = store_.json();
    for (const auto& spec : settings::table()) {
        if (!spec.secret) continue;
        auto* v = patch.if_contains(spec.name);
        if (!v || !v->is_string() || !vault::Vault::is_sealed(v->get_string())) continue;
        if (vault_->unseal(v->get_string())) continue;
        // Sealed with a key that is gone: the current value is the same
        // secret re-sealed, or the best there is.
        if (const auto* now = current.if_contains(spec.name)) *v = *now;
    }
    return write(patch);
}

// Runs the features' leave steps one after the other, then the session's part.
struct Session::Leaver : std::enable_shared_from_this<Leaver> {
    Session* session = nullptr;
    Leaving how = Leaving::sign_out;
    std::string token;
    std::vector<LeaveStep> steps;
    std::size_t next_step = 0;
    std::vector<std::string> notes;
    std::function<void(common::Result<std::vector<std::string>>)> done;

    void next() {
        if (next_step == steps.size()) return session->finish_leaving(how, std::move(notes), std::move(done));
        auto self = shared_from_this();
        steps[next_step++](how, token, [self](std::vector<std::string> more) {
            for (auto& n : more) self->notes.push_back(std::move(n));
            // Posted: a step that answers at once must not grow the stack.
            boost::asio::post(self->session->io(), [self] { self->next(); });
        });
    }
};

void Session::leave(Leaving how, std::function<void(common::Result<std::vector<std::string>>)> done) {
    auto leaver = std::make_shared<Leaver>();
    leaver->session = this;
    leaver->how = how;
    if (auto token = account_token()) leaver->token = token->str();
    leaver->steps = leave_steps_;
    leaver->done = std::move(done);
    leaver->next();
}

common::Status Session::edit_profiles(const std::function<common::Status(bj::array&)>& edit) {
    if (!store_.is_default()) return Error(Errc::internal, "the profiles are changed from the default profile");
    return store_.update([&](const bj::object& all, bj::object& patch) -> common::Status {
        const bj::value* now = all.if_contains("profiles");
        bj::array list =
            now && now->is_array() ? now->get_array() : bj::parse(settings::find("profiles")->default_json).get_array();
        if (auto st = edit(list); !st) return st;
        patch["profiles"] = std::move(list);
        return {};
    });
}

bool Session::account_shared() const {
    auto all = store_.all();
    auto mine = store_.snapshot();
    if (mine->user_id.empty()) return false;
    for (const auto& p : settings::parse(all).profiles) {
        if (p.id == profile()) continue;
        auto view = settings::profile_view(all, p.id);
        if (view && settings::parse(*view).user_id == mine->user_id) return true;
    }
    return false;
}

void Session::hand_over(const std::string& user_id, std::function<void(std::vector<std::string>)> then) {
    auto s = store_.snapshot();
    if (s->token.empty() || (!s->user_id.empty() && s->user_id == user_id)) return then({});
    leave(Leaving::hand_over,
          [then](common::Result<std::vector<std::string>> r) { then(r ? *r : std::vector<std::string>{}); });
}

void Session::finish_leaving(Leaving how, std::vector<std::string> notes,
                             std::function<void(common::Result<std::vector<std::string>>)> done) {
    if (how == Leaving::hand_over) return done(std::move(notes));  // the new sign-in writes the rest
    std::lock_guard lock(*secrets_mu_);
    forget_resources();
    bj::object patch;
    // Another profile forgets its own settings only; the key and the rest
    // are the whole plugin's.
    const bool everything = how == Leaving::forget_everything && store_.is_default();
    for (const auto& spec : settings::table()) {
        bool reset = everything                          ? spec.name != "settings_version"
                     : how == Leaving::forget_everything ? spec.per_profile && spec.name != "client_identifier"
                                                         : spec.cleared_at_sign_out;
        if (reset) patch[spec.name] = bj::parse(spec.default_json);
    }
    if (everything) {
        // A new installation's identity: plex.tv will see a new device.
        patch["client_identifier"] = common::text::random_hex(16);
        if (auto st = vault_->reset(); !st) return done(st.error().context("could not replace the encryption key"));
        notes.emplace_back("deleted the encryption key and made a new one");
        std::size_t backups = 0;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(data_dir(), ec)) {
            std::string name = entry.path().filename().string();
            if (name.rfind("plexbridge-settings.v", 0) == 0 && entry.path().extension() == ".json")
                backups += std::filesystem::remove(entry.path(), ec) ? 1 : 0;
        }
        if (backups > 0) notes.push_back("deleted " + std::to_string(backups) + " settings backup(s)");
        // The other profiles' folders (the plugin signed each out first).
        if (std::filesystem::remove_all(common::fs::join(data_dir(), "profiles"), ec) > 0)
            notes.emplace_back("deleted the other profiles' files");
    }
    if (auto st = write(patch); !st) return done(st.error().context("could not clear the settings"));
    notes.emplace_back(everything                          ? "reset every Plex setting to its default"
                       : how == Leaving::forget_everything ? "reset this profile's settings to their defaults"
                                                           : "removed the Plex token and the server selection");
    {
        std::lock_guard account_lock(account_mu_);
        rejected_stored_.clear();
        ok_stored_.clear();
        checked_at_ = 0;
    }
    done(std::move(notes));
}

common::Status Session::finish_rotation_locked() {
    // Every sealed secret, sealed again with the new key: the top-level
    // ones and, in their entries, the other profiles' (only the default
    // profile's session rotates). A value that did not open before cannot
    // be saved by this: it is left, and said. Read and written as one, so
    // that a profile added meanwhile is not lost.
    auto reseal = [this](bj::object& o, std::string_view whose) {
        bool changed = false;
        for (auto& [k, v] : o) {
            const auto* spec = settings::find(k);
            if (!spec || !spec->secret || !v.is_string() || !vault::Vault::is_sealed(v.get_string())) continue;
            auto again = vault_->reseal(v.get_string());
            if (!again) {
                log().warn("{}{} cannot be decrypted ({}); it is left as it is", whose, k, again.error().message);
                continue;
            }
            v = std::move(*again);
            changed = true;
        }
        return changed;
    };
    auto st = store_.update([&](const bj::object& all, bj::object& patch) -> common::Status {
        bj::object top = all;
        top.erase("profiles");
        reseal(top, "");
        for (const auto& [k, v] : top)
            if (all.at(k) != v) patch[k] = v;
        if (const bj::value* list = all.if_contains("profiles"); list && list->is_array()) {
            bj::array next = list->get_array();
            bool changed = false;
            for (auto& e : next)
                if (e.is_object()) changed = reseal(e.get_object(), "a profile's ") || changed;
            if (changed) patch["profiles"] = std::move(next);
        }
        return {};
    });
    if (!st) return st.error().context("cannot store the re-encrypted secrets");
    return vault_->finish_rotation();
}

common::Status Session::rotate_key() {
    if (!store_.is_default())
        return Error(Errc::bad_request,
                     "The encryption key is the whole plugin's: change it from the default profile.");
    std::lock_guard lock(*secrets_mu_);
    // One left unfinished by a crash may already seal values: finish it
    // first, so the new key below is really new.
    if (vault_->rotation_pending())
        if (auto st = finish_rotation_locked(); !st) return st;
    if (auto st = vault_->begin_rotation(); !st) return st;
    if (auto st = finish_rotation_locked(); !st) return st;
    log().info("the encryption key was changed; every stored secret uses the new one");
    return {};
}

}  // namespace pb::session

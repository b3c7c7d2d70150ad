#include "session/session.hpp"

#include <boost/json.hpp>

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
    return std::unique_ptr<Session>(new Session(std::move(env), std::move(*vault)));
}

Session::Session(Environment env, std::unique_ptr<vault::Vault> vault)
    : env_(std::move(env)),
      vault_(std::move(vault)),
      store_(env_.write_settings, env_.migrations),
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
    if (vault_->rotation_pending()) {
        log().warn("a change of the encryption key was interrupted; finishing it");
        std::lock_guard lock(secrets_mu_);
        if (auto st = finish_rotation_locked(); !st)
            log().error("could not finish changing the key: {}", st.error().message);
    }
}

void Session::cancel_requests() {
    std::lock_guard lock(client_mu_);
    if (client_) client_->shutdown();
}

void Session::shutdown() {
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
        std::string err;
        http::ClientOptions opts;
        opts.extra_ca_file = ca;
        auto c = http::Client::create(io(), opts, env_.log, &err);
        if (!c) {
            log().error("{}; using the system certificates only", err);
            opts.extra_ca_file.clear();
            c = http::Client::create(io(), opts, env_.log, &err);
        }
        if (client_) client_->shutdown();
        client_ = c;
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
    o.base_url = store_.snapshot()->plextv_url;
    return plexapi::PlexTv(client(), identity(), o);
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
    plextv().get_resources(token->str(), [this, cb](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
        if (!r) return cb(std::move(r));
        std::vector<plexapi::Resource> servers;
        for (auto& res : *r)
            if (res.is_server()) servers.push_back(std::move(res));
        for (auto& s : servers)  // secrets of shared servers must not reach logs either
            if (!s.access_token.empty()) env_.secrets->add(s.access_token);
        {
            std::lock_guard lock(resources_mu_);
            resources_ = servers;
            resources_at_ = std::chrono::steady_clock::now();
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

common::Status Session::sign_out() {
    std::lock_guard lock(secrets_mu_);
    forget_resources();
    bj::object patch;
    for (const auto& spec : settings::table())
        if (spec.cleared_at_sign_out) patch[spec.name] = bj::parse(spec.default_json);
    return write(patch);
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
                      {"server_connections", connections_json(server.connections)},
                      {"server_token", server.access_token.empty() ? std::string() : vault.seal(server.access_token)}};
}

common::Status Session::sign_in(const vault::Secret& token, const plexapi::Account& account,
                                const plexapi::Resource* server, const plexapi::Connection* chosen) {
    std::lock_guard lock(secrets_mu_);
    forget_resources();  // another account may have other servers
    env_.secrets->add(token.str());
    bj::object patch{{"token", vault_->seal(token.str())},
                     {"auth_method", settings::to_string(settings::AuthMethod::oauth)},
                     {"username", account.username},
                     {"email", account.email},
                     {"user_id", std::to_string(account.id)}};
    if (server) {
        if (!server->access_token.empty()) env_.secrets->add(server->access_token);
        for (const auto& [k, v] : selection_patch(*vault_, *server, chosen)) patch[k] = v;
    }
    return write(patch);
}

common::Status Session::select_server(const plexapi::Resource& server, const plexapi::Connection* chosen) {
    std::lock_guard lock(secrets_mu_);
    if (!server.access_token.empty()) env_.secrets->add(server.access_token);
    return write(selection_patch(*vault_, server, chosen));
}

common::Status Session::adopt_connection(const plexapi::Connection& best, const std::vector<plexapi::Connection>* all) {
    bj::object patch{{"server_url", best.uri}, {"server_local", best.local}};
    if (all) patch["server_connections"] = connections_json(*all);
    return write(patch);
}

common::Status Session::store_legacy_token(const vault::Secret& token) {
    std::lock_guard lock(secrets_mu_);
    env_.secrets->add(token.str());
    return write(bj::object{{"apikey", vault_->seal(token.str())}});
}

common::Result<bool> Session::seal_plaintext_secrets() {
    std::lock_guard lock(secrets_mu_);
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
    std::lock_guard lock(secrets_mu_);
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
    std::lock_guard lock(secrets_mu_);
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

common::Status Session::finish_rotation_locked() {
    // Every sealed secret, sealed again with the new key. A value that did
    // not open before cannot be saved by this: it is left, and said.
    auto all = store_.json();
    bj::object patch;
    for (const auto& spec : settings::table()) {
        if (!spec.secret) continue;
        const bj::value* v = all.if_contains(spec.name);
        if (!v || !v->is_string() || !vault::Vault::is_sealed(v->get_string())) continue;
        auto again = vault_->reseal(v->get_string());
        if (!again) {
            log().warn("{} cannot be decrypted ({}); it is left as it is", spec.name, again.error().message);
            continue;
        }
        patch[spec.name] = std::move(*again);
    }
    if (!patch.empty())
        if (auto st = write(patch); !st) return st.error().context("cannot store the re-encrypted secrets");
    return vault_->finish_rotation();
}

common::Status Session::rotate_key() {
    std::lock_guard lock(secrets_mu_);
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

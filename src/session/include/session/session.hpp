// The Plex session: the one place that answers "how do I talk to Plex right
// now". It owns the account (its token, sealed in the vault), the selected
// server (its address, its connections, its token) and the means to reach
// both (the HTTP client, plex.tv calls, the server client with failover),
// and it is the only code that changes them. Features (auth, discovery,
// refresh, webhooks) get a Session& and nothing else of the plugin's.
//
// Threading: the Session lives as long as the plugin. Network work and
// every callback run on io(), the plugin's single io thread. settings(),
// vault(), log(), secrets(), server_url() and the token getters are safe
// from any thread; resources() and pms() requests are started on io().
#pragma once
#include <spdlog/logger.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/array.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "http/client.hpp"
#include "log/log.hpp"
#include "plexapi/device_jwt.hpp"
#include "plexapi/headers.hpp"
#include "plexapi/models.hpp"
#include "plexapi/plextv.hpp"
#include "session/pms_client.hpp"
#include "session/racer.hpp"
#include "settings/settings.hpp"
#include "vault/vault.hpp"

namespace pb::session {

// What the plugin hands the session.
struct Environment {
    boost::asio::io_context* io = nullptr;
    std::shared_ptr<spdlog::logger> log;
    std::shared_ptr<log::SecretRegistry> secrets;
    std::string data_dir;
    // Stores a settings patch through the host (see settings::Store).
    settings::Store::Writer write_settings;
    // How stored settings of older layouts are upgraded (tests give their own).
    std::span<const settings::Migration> migrations = settings::migrations();
};

// A server's connections as settings keep them, and back.
settings::Connections to_settings(const std::vector<plexapi::Connection>& connections);
std::vector<plexapi::Connection> to_plexapi(const settings::Connections& connections);

// What the session knows of the account's token.
enum class AccountState : uint8_t {
    signed_out = 1,  // no token stored
    unchecked,       // stored, not confirmed with plex.tv since the plugin started
    ok,              // plex.tv accepted it at the last check
    rejected,        // plex.tv refuses it (revoked, password changed): sign in again
    unreadable,      // stored, but cannot be decrypted (key file gone or another
                     // install's): kept as it is, never replaced unasked
};
struct AccountStatus {
    AccountState state = AccountState::signed_out;
    std::string message;     // in words, for the status route and the page
    int64_t checked_at = 0;  // unix seconds of the last check; 0: never
    // Plex work waits for the user (a new sign-in, or the key file put back).
    bool needs_the_user() const { return state == AccountState::rejected || state == AccountState::unreadable; }
};
std::string_view to_string(AccountState state);

// Why the account is being let go.
enum class Leaving : uint8_t {
    sign_out = 1,       // forget the token and the server; keep the rest
    forget_everything,  // also every setting, the key and the plugin's files; for
                        // another profile than the default: its own settings and files
    hand_over,          // another person signs in (a Plex Home switch, another account):
                        // undo what was set up with the previous one's token; the new
                        // sign-in then replaces the rest
};
// A feature's part in leaving: it undoes what it set up outside (the webhook
// on plex.tv, files) with the account's token (empty when unusable), then
// calls `next` with what it did, in words, one line each.
using LeaveStep = std::function<void(Leaving how, const std::string& account_token,
                                     std::function<void(std::vector<std::string> done)> next)>;

// Whether a cached answer will do.
enum class Freshness : uint8_t { cached_ok = 1, fresh };

class Session {
public:
    // Opens the vault in the data directory. Errc::storage when its key
    // cannot be read or created.
    [[nodiscard]] static common::Result<std::unique_ptr<Session>> open(Environment env);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Another profile's session (docs/accounts.md): its own account, server
    // and health over the profile's view of the settings (settings::Store),
    // its own folder (<data_dir>/profiles/<id>) and HTTP client; the vault,
    // the log and the plugin-wide settings are shared with this one, the
    // default profile's. Call on the default profile's session, after
    // load(). Errc::storage when the folder cannot be made.
    [[nodiscard]] common::Result<std::unique_ptr<Session>> open_profile(const std::string& id);
    // "default", or the profile's id.
    const std::string& profile() const { return store_.profile(); }

    // Reads the stored settings (host thread, while loading): upgrades an
    // older layout (backup first) and gives this installation its client
    // identifier on first run. Problems are logged; the plugin still loads.
    // The default profile's session only.
    void load(std::string_view stored_json);
    // Io thread, once, when the plugin starts (a profile's: when it is
    // made): seals tokens an old configuration kept in plain text,
    // finishes an interrupted key rotation (the default's), gives a new
    // profile its client identifier.
    void start();
    // At unload, before the io thread stops: cancels requests in flight.
    void cancel_requests();
    // At unload, once the io thread has stopped.
    void shutdown();

    // ---- what every feature uses
    boost::asio::io_context& io() { return *env_.io; }
    spdlog::logger& log() { return *env_.log; }
    // Plaintext secrets to scrub from every log line.
    log::SecretRegistry& secrets() { return *env_.secrets; }
    const std::string& data_dir() const { return env_.data_dir; }
    // Read the settings here; change them only through the methods below.
    const settings::Store& settings() const { return store_; }
    // The host says the stored settings changed (the plugin calls this).
    // (A short-lived token's renewal follows: jwt_sign_in may have changed.)
    [[nodiscard]] common::Status settings_changed(std::string_view all_json);

    // ---- reaching Plex
    // The client for every request; rebuilt when tls_ca_file changes.
    std::shared_ptr<http::Client> client();
    plexapi::ClientIdentity identity() const;
    plexapi::PlexTv plextv();
    // The account's token (from sign-in, or typed in legacy mode), unsealed.
    // Errc::not_signed_in, in words, when there is none or it cannot be read.
    [[nodiscard]] common::Result<vault::Secret> account_token() const;
    // The token for the selected server: its own access token when it is
    // shared with the user, else account_token().
    [[nodiscard]] common::Result<vault::Secret> server_token() const;
    // The account's servers (not players), from plex.tv or a cache younger
    // than 60 s. Io thread.
    void resources(Freshness freshness, plexapi::ApiCallback<std::vector<plexapi::Resource>> cb);
    // Requests to the selected server, with failover.
    PmsClient& pms() { return *pms_; }
    std::shared_ptr<PmsClient> pms_shared() { return pms_; }
    // The address requests go to: the one the user typed, else the legacy
    // address in legacy mode, else the one discovery chose; "" when none.
    std::string server_url() const;
    static std::string server_url(const settings::Settings& s);
    // Whether to verify Plex Media Server's certificate, as the user set it.
    static http::TlsVerify tls_verify(const settings::Settings& s);
    // How to probe the user's servers: the configured deadline and TLS
    // verification, and our identity.
    RaceOptions race_options() const;

    // ---- changing the account and the server (any thread; each one write)
    // Stores a fresh sign-in: the token sealed, the account's names, and,
    // when `server` is given, that server selected (as select_server()), all
    // in one write. Without `server`, a sign-in as another person (another
    // account, a switch to another Plex Home user) also clears the server
    // selection: its token was the previous person's.
    // `token_expires_at`: the end of a short-lived Plex JWT (unix seconds),
    // 0 for a classic token; `device_key`: the key it was issued to (stored
    // with it). Another person's device key is never kept.
    [[nodiscard]] common::Status sign_in(const vault::Secret& token, const plexapi::Account& account,
                                         const plexapi::Resource* server = nullptr,
                                         const plexapi::Connection* chosen = nullptr, int64_t token_expires_at = 0,
                                         const plexapi::DeviceKey* device_key = nullptr);
    // Selects `server`, reached at `chosen` (nullptr: to be chosen later),
    // and remembers every connection for failover.
    [[nodiscard]] common::Status select_server(const plexapi::Resource& server, const plexapi::Connection* chosen);
    // Stores a legacy token typed by the user, sealed.
    [[nodiscard]] common::Status store_legacy_token(const vault::Secret& token);
    // Stores settings the user changed on the page (the caller checked
    // they are the user's to change), into this profile's.
    [[nodiscard]] common::Status store_user_settings(const boost::json::object& patch) { return write(patch); }
    // Changes the list of profiles (the plugin's profile routes): `edit`
    // changes the stored list; one write. The default profile's session.
    [[nodiscard]] common::Status edit_profiles(const std::function<common::Status(boost::json::array&)>& edit);
    // Seals secrets an old configuration stored in plain text; says whether
    // anything was sealed.
    [[nodiscard]] common::Result<bool> seal_plaintext_secrets();
    // The plaintext of a secret setting the plugin generates (the webhook
    // key): the stored one, or a new random one of `random_bytes`, stored
    // sealed, when there is none or it cannot be opened.
    [[nodiscard]] common::Result<std::string> generated_secret(std::string_view setting, std::size_t random_bytes);
    // Writes back a backup of the whole settings object (a rollback). A
    // secret in it that no longer opens (the key changed since) keeps its
    // current value instead.
    [[nodiscard]] common::Status restore_settings(const boost::json::object& backup);
    // ---- the account's health
    AccountStatus account_status() const;
    // Io thread: asks plex.tv whether the token is still good. start() does it
    // once and then every day; features need not.
    void check_account(std::function<void(AccountStatus)> done = {});
    // Io thread: the selected server refused its token. Fetches the server's
    // token from plex.tv's resources again, once; `done(true)` when a new one
    // was stored (try again), `done(false)` when nothing changed.
    void renew_server_token(std::function<void(bool renewed)> done);

    // ---- short-lived tokens (the JWT device sign-in, docs/accounts.md;
    //      session_token.cpp)
    // Io thread: a Plex JWT for the device key's device JWT (nonce, sign,
    // exchange, checked against plex.tv's keys), stored sealed with its
    // end. With a classic token stored, the key is registered with it
    // first: the move to short-lived tokens. Renewals are scheduled by the
    // session (start(), sign-in, settings changes); features need not.
    void renew_device_token(std::function<void(common::Status)> done = {});

    // ---- leaving
    // Features add their step while the plugin loads.
    void on_leave(LeaveStep step) { leave_steps_.push_back(std::move(step)); }
    // Io thread: runs every step, then clears the sign-in (and, to forget
    // everything, resets every setting and replaces the key). `done` gets
    // what was done, in words.
    void leave(Leaving how, std::function<void(common::Result<std::vector<std::string>>)> done);

    // Whether another profile is signed in to the same Plex account (what
    // is set up on the account, its webhook, is then still in use).
    bool account_shared() const;

    // Io thread: before `user_id`'s sign-in replaces another person's, runs
    // the leave steps as Leaving::hand_over with the previous token (the
    // webhook on the previous account is removed); nothing when it is the
    // same person. `then` gets what was done, in words.
    void hand_over(const std::string& user_id, std::function<void(std::vector<std::string>)> then);

    // A new vault key: every stored secret re-sealed with it, the old key
    // destroyed. Each step leaves every secret readable if the process dies
    // (see vault.hpp); start() finishes a rotation that was interrupted, and
    // so does this before it begins its own.
    [[nodiscard]] common::Status rotate_key();

private:
    friend class PmsClient;
    friend struct TokenRenewal;  // session_token.cpp
    // `like`: the default profile's store, for another profile's session.
    Session(Environment env, std::shared_ptr<vault::Vault> vault, std::shared_ptr<std::mutex> secrets_mu,
            const settings::Store* like, const std::string& profile);
    common::Status write(const boost::json::object& patch) { return store_.write(patch); }
    // Re-seals every stored secret with the pending key and installs it.
    // Caller holds secrets_mu_.
    [[nodiscard]] common::Status finish_rotation_locked();
    void forget_resources();
    // plex.tv refused `token`; if it is the account's, the account needs a new sign-in.
    void note_rejected(const std::string& token);
    void schedule_check(std::chrono::seconds delay);
    // Io thread: the next renewal of a short-lived token (a day before it
    // ends; at once to move a classic token over when jwt_sign_in is on).
    void schedule_renewal();
    void renewal_failed(const common::Error& e);
    // The stored device key, unsealed; a new one, stored sealed, when there
    // is none or it cannot be read (the move of a classic token over). A
    // sign-in by PIN brings its own key (sign_in()).
    [[nodiscard]] common::Result<plexapi::DeviceKey> device_key();
    [[nodiscard]] common::Status store_device_token(const std::string& jwt, int64_t expires_at);
    struct Leaver;
    void finish_leaving(Leaving how, std::vector<std::string> notes,
                        std::function<void(common::Result<std::vector<std::string>>)> done);
    // Called by PmsClient when failover chose another address.
    [[nodiscard]] common::Status adopt_connection(const plexapi::Connection& best,
                                                  const std::vector<plexapi::Connection>* all);
    [[nodiscard]] common::Result<vault::Secret> unseal_setting(const std::string& stored, std::string_view what,
                                                               std::string_view remedy) const;

    Environment env_;
    std::shared_ptr<vault::Vault> vault_;  // every profile's
    // Held from sealing a secret to storing it, and through a key rotation:
    // a value sealed with a key the rotation is about to destroy must never
    // be stored after the rotation re-sealed the others. Every profile's.
    std::shared_ptr<std::mutex> secrets_mu_;
    settings::Store store_;
    std::shared_ptr<PmsClient> pms_;

    std::mutex client_mu_;
    std::shared_ptr<http::Client> client_;
    std::string client_ca_file_;

    std::vector<LeaveStep> leave_steps_;  // set while loading; read on the io thread

    // The account's health, keyed by the sealed token it was about: a new
    // sign-in (another sealed value) starts afresh.
    mutable std::mutex account_mu_;
    std::string rejected_stored_;
    std::string ok_stored_;
    int64_t checked_at_ = 0;
    std::unique_ptr<boost::asio::steady_timer> check_timer_;  // io thread
    // Renewing the short-lived token (io thread).
    std::unique_ptr<boost::asio::steady_timer> renew_timer_;
    bool renewing_ = false;
    std::vector<std::function<void(common::Status)>> renew_waiters_;
    int renew_failures_ = 0;
    std::chrono::steady_clock::time_point renew_not_before_{};  // after a failure: the backoff
    std::string rejected_why_;  // the rejected state's message, when not the usual one (account_mu_)

    std::mutex resources_mu_;
    std::vector<plexapi::Resource> resources_;
    std::chrono::steady_clock::time_point resources_at_{};
    uint64_t resources_generation_ = 0;  // bumped by forget_resources()
};

}  // namespace pb::session

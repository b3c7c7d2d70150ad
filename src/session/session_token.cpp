// Short-lived Plex tokens: the JWT device sign-in's renewals (see
// docs/accounts.md and plexapi/device_jwt.hpp for the wire format).
//
// A Plex JWT lasts about a week. The session renews it a day before it
// ends, with the device key alone (nonce, a device JWT signed with the key,
// exchanged for a new Plex JWT, checked against plex.tv's keys), and at
// once when plex.tv answers 498. Turning jwt_sign_in on while signed in with
// a classic token moves it over: the key is registered with that token
// first. A renewal that fails is tried again with a growing wait; only a
// refusal of the key itself once the token has ended asks the person to
// sign in again. Everything here runs on the io thread.
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "session/session.hpp"

namespace pb::session {

namespace bj = boost::json;
using common::Errc;
using common::Error;

static int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

common::Status Session::settings_changed(std::string_view all_json) {
    auto st = store_.replace(all_json);
    // On the io thread, where the timer lives (this is a host thread).
    boost::asio::post(io(), [this] { schedule_renewal(); });
    return st;
}

common::Result<plexapi::DeviceKey> Session::device_key() {
    std::lock_guard lock(*secrets_mu_);
    auto s = store_.snapshot();  // held: the key's text lives in it
    if (!s->device_key.empty()) {
        if (auto plain = vault_->unseal(s->device_key)) {
            auto key = plexapi::device_key_from(plain->str());
            if (key) return key;
            log().warn("the stored device key is damaged; making a new one");
        } else {
            log().warn("the stored device key cannot be read; making a new one");
        }
    }
    auto key = plexapi::make_device_key();
    if (!key) return key.error();
    std::string text = plexapi::serialize_device_key(*key);
    env_.secrets->add(text);
    auto st = write(bj::object{{"device_key", vault_->seal(text)}});
    std::fill(text.begin(), text.end(), '\0');
    if (!st) return st.error().context("could not store the device key");
    return key;
}

common::Status Session::store_device_token(const std::string& jwt, int64_t expires_at) {
    std::lock_guard lock(*secrets_mu_);
    env_.secrets->add(jwt);
    if (auto st = write(bj::object{{"token", vault_->seal(jwt)}, {"token_expires_at", expires_at}}); !st) return st;
    std::lock_guard account_lock(account_mu_);
    ok_stored_ = store_.snapshot()->stored_token();
    checked_at_ = unix_now();
    return {};
}

void Session::schedule_renewal() {
    if (!renew_timer_) return;
    auto s = store_.snapshot();
    bool signed_in = !s->legacy() && !s->token.empty();
    std::optional<std::chrono::seconds> delay;
    if (signed_in && s->token_expires_at > 0) {
        // A day before the end (python-plexapi's rule for its 7-day
        // tokens); halfway through a token that plex.tv made shorter.
        int64_t window = plexapi::kPlexJwtRefreshWithinS;
        if (auto token = account_token())
            if (auto claims = plexapi::read_plex_jwt(token->str()); claims && claims->issued_at > 0)
                window = std::min(window, (claims->expires_at - claims->issued_at) / 2);
        delay = std::chrono::seconds(std::max<int64_t>(0, s->token_expires_at - window - unix_now()));
    } else if (signed_in && s->jwt_sign_in)
        delay = std::chrono::seconds(0);  // the move from a classic token
    if (!delay) {
        renew_timer_->cancel();
        return;
    }
    // After a failure, not before its backoff is over.
    auto at = std::max(std::chrono::steady_clock::now() + *delay, renew_not_before_);
    renew_timer_->expires_at(at);
    renew_timer_->async_wait([this](const boost::system::error_code& ec) {
        if (!ec) renew_device_token();
    });
}

void Session::renewal_failed(const Error& e) {
    ++renew_failures_;
    auto s = store_.snapshot();
    bool ended = s->token_expires_at > 0 && s->token_expires_at <= unix_now();
    // plex.tv refuses the key itself (unknown, revoked: 422) or the account
    // (401): once the token has ended, only a new sign-in helps. Before
    // that, and for a classic token being moved over (which still works),
    // it is tried again.
    bool refused = e.code == Errc::token_rejected || (e.code == Errc::bad_answer && e.http_status == 422);
    if (refused && ended) {
        {
            std::lock_guard lock(account_mu_);
            rejected_stored_ = s->stored_token();
            rejected_why_ = "Sign in to Plex again: plex.tv would not renew the short-lived token (" + e.message +
                            "), so Plex work waits until you sign in again";
            checked_at_ = unix_now();
        }
        log().warn("plex.tv would not renew the short-lived Plex token: sign in to Plex again ({})", e.message);
        return;  // the person signs in again; that schedules the next renewal
    }
    // Try again: 1 min, 5 min, 15 min, then hourly; plex.tv's own wait
    // when it said how long (429).
    static constexpr int kWaits[] = {60, 300, 900, 3600};
    auto wait = std::chrono::seconds(kWaits[std::min<std::size_t>(renew_failures_ - 1, std::size(kWaits) - 1)]);
    if (e.code == Errc::rate_limited) wait = std::max(wait, std::chrono::seconds(60));
    renew_not_before_ = std::chrono::steady_clock::now() + wait;
    log().warn("could not {} the short-lived Plex token ({}); trying again in {} s",
               s->token_expires_at > 0 ? "renew" : "move to", e.message, wait.count());
    schedule_renewal();
}

// One renewal, step by step.
struct TokenRenewal : std::enable_shared_from_this<TokenRenewal> {
    Session& session;
    plexapi::DeviceKey key;
    std::string client_id;
    std::function<void(common::Status)> done;
    std::string jwt;

    TokenRenewal(Session& s, plexapi::DeviceKey k, std::string id, std::function<void(common::Status)> d)
        : session(s), key(std::move(k)), client_id(std::move(id)), done(std::move(d)) {}

    // With a classic token: bind the key to the account first. A 422 here
    // is reported to mean "already registered" (a Qt client carries on):
    // the exchange that follows says whether the key is usable.
    void start(const std::string& classic_token) {
        auto self = shared_from_this();
        if (classic_token.empty()) return nonce();
        session.plextv().register_device_key(classic_token, plexapi::public_jwk(key),
                                             [self](plexapi::ApiResult<bool> r) {
                                                 if (!r && r.error().http_status != 422)
                                                     return self->done(r.error().context("registering the device key"));
                                                 self->nonce();
                                             });
    }
    void nonce() {
        auto self = shared_from_this();
        session.plextv().get_nonce([self](plexapi::ApiResult<std::string> n) {
            if (!n) return self->done(n.error().context("asking for a nonce"));
            auto device_jwt =
                plexapi::sign_device_jwt(self->key, self->client_id, *n, plexapi::kDefaultJwtScope, unix_now());
            self->session.plextv().exchange_device_jwt(device_jwt, [self](plexapi::ApiResult<std::string> t) {
                if (!t) return self->done(t.error().context("exchanging the device JWT"));
                self->jwt = std::move(*t);
                self->session.secrets().add(self->jwt);
                self->verify();
            });
        });
    }
    // As python-plexapi does after a refresh: the new token must verify
    // against plex.tv's published keys, for this device.
    void verify() {
        auto self = shared_from_this();
        session.plextv().get_jwt_keys([self](plexapi::ApiResult<std::string> keys) {
            if (!keys) return self->done(keys.error().context("reading plex.tv's keys"));
            auto claims =
                plexapi::verify_plex_jwt(self->jwt, *keys, self->client_id, plexapi::key_id(self->key), unix_now());
            if (!claims)
                return self->done(Error(Errc::bad_answer,
                                        "plex.tv gave a token that does not verify: " + claims.error().message,
                                        common::Peer::plextv));
            self->done(self->session.store_device_token(self->jwt, claims->expires_at));
        });
    }
};

void Session::renew_device_token(std::function<void(common::Status)> done) {
    if (done) renew_waiters_.push_back(std::move(done));
    if (renewing_) return;  // one renewal at a time; everyone hears its end
    auto finish = [this](common::Status st) {
        renewing_ = false;
        auto waiters = std::move(renew_waiters_);
        renew_waiters_.clear();
        if (st) {
            renew_failures_ = 0;
            renew_not_before_ = {};
            log().info("renewed the short-lived Plex token; it lasts until {}", store_.snapshot()->token_expires_at);
            schedule_renewal();
        } else {
            renewal_failed(st.error());
        }
        for (auto& w : waiters) w(st);
    };
    auto s = store_.snapshot();
    if (s->legacy() || s->token.empty())
        return finish(Error(Errc::not_signed_in, "not signed in to Plex with Sign in with Plex"));
    std::string classic;
    if (s->token_expires_at == 0) {
        if (!s->jwt_sign_in) return finish(Error(Errc::bad_request, "short-lived tokens are off"));
        auto token = account_token();
        if (!token) return finish(token.error());
        classic = token->str();
    }
    auto key = device_key();
    if (!key) return finish(key.error().context("no device key"));
    renewing_ = true;
    std::make_shared<TokenRenewal>(*this, std::move(*key), s->client_identifier, finish)->start(classic);
}

}  // namespace pb::session

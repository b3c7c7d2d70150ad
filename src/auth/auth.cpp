#include "auth/auth.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "common/fs.hpp"
#include "common/json.hpp"
#include "common/text.hpp"
#include "migration.hpp"
#include "pin_table.hpp"

namespace pb::auth {

namespace bj = boost::json;
using common::Errc;
using common::Error;
using route::Call;
using route::member_handler;
using route::Reply;

Auth::Auth(session::Session& session, route::Registry& routes)
    : session_(session), pins_(std::make_unique<PinTable>()), pin_guard_(make_pin_guard()) {
    routes.add("POST", "/api/plex/oauth/pin", member_handler(this, &Auth::create_pin));
    routes.add("GET", "/api/plex/oauth/pin/{pinId}/check", member_handler(this, &Auth::check_pin));
    routes.add("GET", "/api/plex/oauth/validate", member_handler(this, &Auth::validate));
    routes.add("POST", "/api/plex/oauth/logout", member_handler(this, &Auth::logout));
    routes.add("POST", "/api/plex/apikey", member_handler(this, &Auth::store_apikey));
    routes.add("POST", "/api/plex/encrypt-apikey", member_handler(this, &Auth::encrypt_apikey));
    routes.add("POST", "/api/plex/rotate-key", member_handler(this, &Auth::rotate_key));
    routes.add("POST", "/api/plex/forget", member_handler(this, &Auth::forget));
    routes.add("GET", "/api/plex/migration", member_handler(this, &Auth::migration));
    routes.add("GET", "/api/plex/home/users", member_handler(this, &Auth::home_users));
    routes.add("POST", "/api/plex/home/switch", member_handler(this, &Auth::switch_home_user));
    // Forgetting everything removes the legacy migration's files too.
    session_.on_leave([this](session::Leaving how, const std::string&, auto next) {
        std::vector<std::string> done;
        if (how == session::Leaving::forget_everything)
            for (const char* name : {Migration::kRecordFile, Migration::kBackupFile})
                if (std::remove(common::fs::join(session_.data_dir(), name).c_str()) == 0)
                    done.push_back(std::string("deleted ") + name);
        next(std::move(done));
    });
}

Auth::~Auth() = default;

void Auth::start() { std::make_shared<Migration>(session_)->maybe_run(); }

std::string Auth::auth_url(const std::string& auth_app_url, const std::string& client_id, const std::string& code,
                           const std::string& product, const std::string& device_name) {
    using common::text::url_encode;
    // The parameters live in the fragment (#?...), which app.plex.tv reads
    // client-side; each value is encoded, and the bracketed keys too.
    return auth_app_url + "#?clientID=" + url_encode(client_id) + "&code=" + url_encode(code) + "&" +
           url_encode("context[device][product]") + "=" + url_encode(product) + "&" +
           url_encode("context[device][deviceName]") + "=" + url_encode(device_name);
}

void Auth::create_pin(Call& call, Reply reply) {
    // {"kind": "link"} asks for a short code to type at plex.tv/link (the
    // page's way out when the browser blocked the sign-in window); anything
    // else, or no body, is the usual strong PIN.
    using Kind = plexapi::PlexTv::PinKind;
    Kind kind = Kind::strong;
    if (!call.body.empty()) {
        auto v = common::json::parse_lenient(call.body);
        if (!v || !v->is_object()) return reply.fail(Error(Errc::bad_request, "the body must be a JSON object"));
        auto k = common::json::get_string(*v, "kind");
        if (k && *k != "link" && *k != "strong")
            return reply.fail(Error(Errc::bad_request, "kind must be \"strong\" or \"link\""));
        if (k && *k == "link") kind = Kind::short_code;
    }
    boost::asio::post(session_.io(), [this, reply, kind] {
        auto tv = session_.plextv();
        auto id = tv.identity();
        auto auth_app = session_.settings().snapshot()->auth_app_url;
        // Where a short code is typed: plex.tv/link on the real service.
        auto link_url = session_.settings().snapshot()->plextv_url + "/link";
        // Short-lived tokens: the PIN carries the device key's public JWK,
        // and the token it gives is a Plex JWT (docs/accounts.md).
        bool jwt = session_.settings().snapshot()->jwt_sign_in;
        // A key of its own for each sign-in: the one stored may be bound to
        // another person's account. It is stored with the token it gives.
        std::string key_text;
        std::string jwk;
        if (jwt) {
            auto key = plexapi::make_device_key();
            if (!key) return reply.fail(key.error().context("Could not start the Plex sign-in"));
            key_text = plexapi::serialize_device_key(*key);
            session_.secrets().add(key_text);
            jwk = plexapi::public_jwk(*key);
        }
        auto created = [this, reply, id, auth_app, kind, link_url, jwt, key_text](plexapi::ApiResult<plexapi::Pin> r) {
            if (!r) {
                session_.log().warn("could not create a sign-in PIN: {}", r.error().message);
                return reply.fail(r.error().context("Could not start the Plex sign-in"));
            }
            const auto& pin = *r;
            std::string state = common::text::random_hex(16);
            pins_->add(pin.id, pin.code, state, pin.expires_in_s, jwt);
            if (jwt) pins_->set_device_key(pin.id, key_text);
            bj::object out{{"pinId", pin.id},
                           {"code", pin.code},
                           {"clientId", id.client_identifier},
                           {"state", state},
                           {"expiresIn", pin.expires_in_s},
                           {"authUrl", auth_url(auth_app, id.client_identifier, pin.code, id.product, id.device_name)}};
            if (kind == Kind::short_code) out["linkUrl"] = link_url;
            reply.data(out);
        };
        if (!jwt) return tv.create_pin(kind, std::move(created));
        tv.create_jwt_pin(jwk, std::move(created), kind);
    });
}

void Auth::check_pin(Call& call, Reply reply) {
    std::string id_text = call.path_params["pinId"];
    char* end = nullptr;
    long long pin_id = std::strtoll(id_text.c_str(), &end, 10);
    if (id_text.empty() || *end != '\0' || pin_id <= 0)
        return reply.fail(Error(Errc::bad_request, "pinId must be a positive number"));
    auto state = call.param("state");
    if (!state || state->empty())
        return reply.fail(Error(Errc::state_missing, "the state parameter is required (it protects the sign-in)"));
    PendingPin pin;
    switch (pins_->find(pin_id, *state, &pin)) {
        case PinLookup::unknown:
            return reply.fail(Error(Errc::pin_not_found, "No sign-in is waiting for this PIN; start again."));
        case PinLookup::expired: return reply.fail(Error(Errc::pin_expired, "This sign-in PIN expired; start again."));
        case PinLookup::state_mismatch:
            return reply.fail(Error(Errc::state_mismatch, "The sign-in state does not match; start again."));
        case PinLookup::found: break;
    }
    boost::asio::post(session_.io(), [this, reply, pin] {
        auto answered = [this, reply, pin](plexapi::ApiResult<plexapi::Pin> r) {
            if (!r) {
                if (r.error().code == Errc::not_found) {
                    pins_->remove(pin.id);
                    return reply.fail(Error(Errc::pin_expired, "plex.tv no longer knows this PIN; start again."));
                }
                return reply.fail(r.error().context("Could not check the sign-in"));
            }
            if (!r->auth_token) return reply.data(bj::object{{"authenticated", false}, {"code", pin.code}});
            auto token = std::make_shared<vault::Secret>(*r->auth_token);
            session_.secrets().add(token->str());
            if (!pin.jwt) return linked(reply, pin.id, token, 0, nullptr);
            // A Plex JWT: checked against plex.tv's keys, for this device,
            // before it is trusted with anything.
            session_.plextv().get_jwt_keys([this, reply, pin, token](plexapi::ApiResult<std::string> keys) {
                if (!keys) return reply.fail(keys.error().context("Signed in, but plex.tv's keys could not be read"));
                auto key = plexapi::device_key_from(pin.device_key);
                if (!key) return reply.fail(key.error().context("Signed in, but the device key is gone; start again"));
                auto claims = plexapi::verify_plex_jwt(token->str(), *keys, session_.identity().client_identifier,
                                                       plexapi::key_id(*key), static_cast<int64_t>(std::time(nullptr)));
                if (!claims)
                    return reply.fail(
                        Error(Errc::bad_answer,
                              "Signed in, but plex.tv gave a token that does not verify: " + claims.error().message,
                              common::Peer::plextv));
                linked(reply, pin.id, token, claims->expires_at, std::make_shared<plexapi::DeviceKey>(std::move(*key)));
            });
        };
        if (!pin.jwt) return session_.plextv().get_pin(pin.id, std::move(answered));
        // Polled with a device JWT; one serves the polls of four minutes
        // (it lives five), so a sign-in costs plex.tv few nonces.
        auto now = std::chrono::steady_clock::now();
        if (!pin.device_jwt.empty() && now - pin.device_jwt_at < std::chrono::minutes(4))
            return session_.plextv().get_jwt_pin(pin.id, pin.device_jwt, std::move(answered));
        session_.plextv().get_nonce([this, reply, pin, now, answered](plexapi::ApiResult<std::string> n) mutable {
            if (!n) return reply.fail(n.error().context("Could not check the sign-in"));
            auto key = plexapi::device_key_from(pin.device_key);
            if (!key) return reply.fail(key.error().context("The device key is gone; start the sign-in again"));
            auto device_jwt =
                plexapi::sign_device_jwt(*key, session_.identity().client_identifier, *n, plexapi::kDefaultJwtScope,
                                         static_cast<int64_t>(std::time(nullptr)));
            pins_->set_device_jwt(pin.id, device_jwt, now);
            session_.plextv().get_jwt_pin(pin.id, device_jwt, std::move(answered));
        });
    });
}

void Auth::linked(Reply reply, int64_t pin_id, std::shared_ptr<vault::Secret> token, int64_t expires_at,
                  std::shared_ptr<plexapi::DeviceKey> key) {
    session_.plextv().get_account(token->str(), [this, reply, pin_id, token, expires_at,
                                                 key](plexapi::ApiResult<plexapi::Account> a) {
        if (!a) return reply.fail(a.error().context("Signed in, but the account could not be read"));
        // Another account than the one signed in: what was set up with
        // the previous one (our webhook on its plex.tv account) goes first.
        session_.hand_over(std::to_string(a->id), [this, reply, pin_id, token, expires_at, key,
                                                   account = *a](std::vector<std::string>) {
            if (auto st = session_.sign_in(*token, account, nullptr, nullptr, expires_at, key.get()); !st)
                return reply.fail(st.error().context("Signed in, but the token could not be saved"));
            pins_->remove(pin_id);
            session_.log().info("signed in to Plex as {}{}", account.username,
                                expires_at > 0 ? " (a short-lived token, renewed before it ends)" : "");
            reply.data(bj::object{{"authenticated", true}, {"username", account.username}, {"email", account.email}});
        });
    });
}

// The last attempt to move legacy settings to Sign in with Plex, as
// recorded (`at`, `result`, `error`), or null when none was made.
void Auth::migration(Call&, Reply reply) {
    auto text = common::fs::read_file(common::fs::join(session_.data_dir(), Migration::kRecordFile));
    if (!text) return reply.data(nullptr);
    auto v = common::json::parse_lenient(*text);
    if (!v || !v->is_object()) return reply.data(nullptr);
    v->get_object().erase("fingerprint");  // a hash of the legacy settings: of no use to a reader
    reply.data(std::move(*v));
}

void Auth::validate(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        auto s = session_.settings().snapshot();
        std::string method(settings::to_string(s->auth_method));
        auto token = session_.account_token();
        if (!token)
            return reply.data(bj::object{{"valid", false},
                                         {"username", s->username},
                                         {"email", s->email},
                                         {"auth_method", method},
                                         {"message", token.error().message}});
        auto held = std::make_shared<vault::Secret>(std::move(*token));
        session_.plextv().get_account(held->str(), [reply, s, method, held](plexapi::ApiResult<plexapi::Account> a) {
            if (!a && a.error().code == Errc::token_rejected)
                return reply.data(bj::object{{"valid", false},
                                             {"username", s->username},
                                             {"email", s->email},
                                             {"auth_method", method},
                                             {"message",
                                              "plex.tv no longer accepts this token (it was revoked or "
                                              "signed out); sign in again"}});
            // plex.tv failing says nothing about the token: not "invalid".
            if (!a) return reply.fail(a.error().context("Could not check the token with plex.tv"));
            reply.data(
                bj::object{{"valid", true}, {"username", a->username}, {"email", a->email}, {"auth_method", method}});
        });
    });
}

// What leaving did, one line each, as the answer says it.
static bj::array lines(const std::vector<std::string>& notes) {
    bj::array a;
    for (const auto& n : notes) a.emplace_back(n);
    return a;
}

void Auth::logout(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        std::string who = session_.settings().snapshot()->username;
        session_.leave(session::Leaving::sign_out, [this, reply, who](common::Result<std::vector<std::string>> r) {
            if (!r) return reply.fail(r.error().context("Could not clear the sign-in"));
            session_.log().info("signed out of Plex{}", who.empty() ? "" : " (" + who + ")");
            reply.data(bj::object{{"success", true},
                                  {"message", "Signed out of Plex: the token and the server selection were removed."},
                                  {"done", lines(*r)}});
        });
    });
}

void Auth::forget(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        session_.leave(session::Leaving::forget_everything, [this, reply](common::Result<std::vector<std::string>> r) {
            if (!r) return reply.fail(r.error().context("Could not forget everything"));
            session_.log().info("forgot the Plex account, its settings, the key and the plugin's files");
            reply.data(bj::object{{"success", true},
                                  {"message", "plexbridge forgot everything: sign in to Plex to start again."},
                                  {"done", lines(*r)}});
        });
    });
}

void Auth::store_apikey(Call& call, Reply reply) {
    auto body = common::json::parse_lenient(call.body);
    if (!body || !body->is_object())
        return reply.fail(Error(Errc::bad_request, "the body must be a JSON object like {\"apikey\": \"...\"}"));
    auto token = common::json::get_string(*body, "apikey");
    if (!token || token->empty() || token->size() > 256 || token->find_first_of(" \t\r\n") != std::string::npos)
        return reply.fail(Error(Errc::bad_request, "apikey: must be a Plex token (no spaces, at most 256 characters)"));
    if (auto st = session_.store_legacy_token(vault::Secret(std::move(*token))); !st)
        return reply.fail(st.error().context("Could not store the token"));
    reply.data(bj::object{{"success", true}, {"encrypted", true}});
}

void Auth::encrypt_apikey(Call&, Reply reply) {
    auto sealed = session_.seal_plaintext_secrets();
    if (!sealed) return reply.fail(sealed.error().context("Could not store the token"));
    if (!*sealed) return reply.data(bj::object{{"success", true}, {"already_encrypted", true}});
    reply.data(bj::object{{"success", true}, {"already_encrypted", false}});
}

void Auth::rotate_key(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        if (auto st = session_.rotate_key(); !st)
            return reply.fail(st.error().context("Could not change the encryption key"));
        reply.data(bj::object{{"success", true},
                              {"message",
                               "A new encryption key is in use; the stored Plex tokens were "
                               "re-encrypted with it and the old key was destroyed."}});
    });
}

}  // namespace pb::auth

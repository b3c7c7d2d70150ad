#include "auth/auth_routes.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "common/json_util.hpp"
#include "common/text.hpp"
#include "plugin/plugin.hpp"

namespace pb::plugin {

namespace bj = boost::json;
using plexapi::ApiErrorKind;

HttpError to_http(const plexapi::ApiError& e) {
    switch (e.kind) {
        case ApiErrorKind::unreachable: return {503, "PLEX_TV_UNREACHABLE"};
        case ApiErrorKind::timed_out: return {504, "PLEX_TV_TIMEOUT"};
        case ApiErrorKind::token_rejected: return {401, "PLEX_TOKEN_INVALID"};
        case ApiErrorKind::forbidden: return {403, "PLEX_FORBIDDEN"};
        case ApiErrorKind::not_found: return {404, "PLEX_NOT_FOUND"};
        case ApiErrorKind::bad_answer: return {502, "PLEX_TV_BAD_ANSWER"};
        case ApiErrorKind::cancelled: return {503, "PLEX_UNAVAILABLE"};
    }
    return {502, "PLEX_TV_BAD_ANSWER"};
}

AuthRoutes::AuthRoutes(Plugin& plugin) : plugin_(plugin) {}

std::string AuthRoutes::auth_url(const std::string& auth_app_url, const std::string& client_id, const std::string& code,
                                 const std::string& product, const std::string& device_name) {
    using text::url_encode;
    // The parameters live in the fragment (#?...), which app.plex.tv reads
    // client-side; each value is encoded, and the bracketed keys too.
    return auth_app_url + "#?clientID=" + url_encode(client_id) + "&code=" + url_encode(code) + "&" +
           url_encode("context[device][product]") + "=" + url_encode(product) + "&" +
           url_encode("context[device][deviceName]") + "=" + url_encode(device_name);
}

void AuthRoutes::register_routes() {
    plugin_.add_route("POST", "/api/plex/oauth/pin", member_handler(this, &AuthRoutes::create_pin));
    plugin_.add_route("GET", "/api/plex/oauth/pin/{pinId}/check", member_handler(this, &AuthRoutes::check_pin));
    plugin_.add_route("GET", "/api/plex/oauth/validate", member_handler(this, &AuthRoutes::validate));
    plugin_.add_route("POST", "/api/plex/oauth/logout", member_handler(this, &AuthRoutes::logout));
    plugin_.add_route("POST", "/api/plex/apikey", member_handler(this, &AuthRoutes::store_apikey));
    plugin_.add_route("POST", "/api/plex/encrypt-apikey", member_handler(this, &AuthRoutes::encrypt_apikey));
}

void AuthRoutes::on_start() { std::make_shared<Migration>(plugin_)->maybe_run(); }

void AuthRoutes::create_pin(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        auto tv = plugin_.plextv();
        auto id = tv.identity();
        auto auth_app = plugin_.settings().auth_app_url;
        tv.create_pin([this, reply, id, auth_app](plexapi::ApiResult<plexapi::Pin> r) {
            if (r.error) {
                auto h = to_http(*r.error);
                plugin_.log().warn("could not create a sign-in PIN: {}", r.error->message);
                return reply.error(h.status, h.code, "Could not start the Plex sign-in: " + r.error->message);
            }
            const auto& pin = *r.value;
            std::string state = text::random_hex(16);
            pins_.add(pin.id, pin.code, state, pin.expires_in_s);
            reply.data(bj::object{
                {"pinId", pin.id},
                {"code", pin.code},
                {"clientId", id.client_identifier},
                {"state", state},
                {"expiresIn", pin.expires_in_s},
                {"authUrl", auth_url(auth_app, id.client_identifier, pin.code, id.product, id.device_name)}});
        });
    });
}

void AuthRoutes::check_pin(Call& call, Reply reply) {
    std::string id_text = call.path_params["pinId"];
    char* end = nullptr;
    long long pin_id = std::strtoll(id_text.c_str(), &end, 10);
    if (id_text.empty() || *end != '\0' || pin_id <= 0)
        return reply.error(400, "PLEX_BAD_REQUEST", "pinId must be a positive number");
    auto state = call.param("state");
    if (!state || state->empty())
        return reply.error(400, "PLEX_STATE_MISSING", "the state parameter is required (it protects the sign-in)");
    auth::PendingPin pin;
    switch (pins_.find(pin_id, *state, &pin)) {
        case auth::PinLookup::unknown:
            return reply.error(404, "PLEX_PIN_NOT_FOUND", "No sign-in is waiting for this PIN; start again.");
        case auth::PinLookup::expired:
            return reply.error(410, "PLEX_PIN_EXPIRED", "This sign-in PIN expired; start again.");
        case auth::PinLookup::state_mismatch:
            return reply.error(403, "PLEX_STATE_MISMATCH", "The sign-in state does not match; start again.");
        case auth::PinLookup::found: break;
    }
    boost::asio::post(plugin_.io(), [this, reply, pin] {
        plugin_.plextv().get_pin(pin.id, [this, reply, pin](plexapi::ApiResult<plexapi::Pin> r) {
            if (r.error) {
                if (r.error->kind == ApiErrorKind::not_found) {
                    pins_.remove(pin.id);
                    return reply.error(410, "PLEX_PIN_EXPIRED", "plex.tv no longer knows this PIN; start again.");
                }
                auto h = to_http(*r.error);
                return reply.error(h.status, h.code, "Could not check the sign-in: " + r.error->message);
            }
            if (!r.value->auth_token) return reply.data(bj::object{{"authenticated", false}, {"code", pin.code}});
            auto token = std::make_shared<vault::Secret>(*r.value->auth_token);
            plugin_.secrets().add(token->str());
            plugin_.plextv().get_account(
                token->str(), [this, reply, pin, token](plexapi::ApiResult<plexapi::Account> a) {
                    if (a.error) {
                        auto h = to_http(*a.error);
                        return reply.error(h.status, h.code,
                                           "Signed in, but the account could not be read: " + a.error->message);
                    }
                    bj::object patch{{"token", plugin_.vault().seal(token->str())},
                                     {"auth_method", "oauth"},
                                     {"username", a.value->username},
                                     {"email", a.value->email},
                                     {"user_id", std::to_string(a.value->id)}};
                    std::string err;
                    if (!plugin_.write_settings(patch, &err))
                        return reply.error(500, "PLEX_STORAGE", "Signed in, but the token could not be saved: " + err);
                    pins_.remove(pin.id);
                    plugin_.log().info("signed in to Plex as {}", a.value->username);
                    reply.data(bj::object{
                        {"authenticated", true}, {"username", a.value->username}, {"email", a.value->email}});
                });
        });
    });
}

void AuthRoutes::validate(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        auto s = plugin_.settings();
        std::string why;
        auto token = std::make_shared<vault::Secret>(plugin_.current_token(&why));
        if (token->empty())
            return reply.data(bj::object{{"valid", false},
                                         {"username", s.username},
                                         {"email", s.email},
                                         {"auth_method", s.auth_method},
                                         {"message", why}});
        plugin_.plextv().get_account(token->str(), [this, reply, s, token](plexapi::ApiResult<plexapi::Account> a) {
            if (a.error && a.error->kind == ApiErrorKind::token_rejected)
                return reply.data(bj::object{{"valid", false},
                                             {"username", s.username},
                                             {"email", s.email},
                                             {"auth_method", s.auth_method},
                                             {"message",
                                              "plex.tv no longer accepts this token (it was revoked or "
                                              "signed out); sign in again"}});
            if (a.error) {
                // plex.tv failing says nothing about the token: not "invalid".
                auto h = to_http(*a.error);
                return reply.error(h.status, h.code, "Could not check the token with plex.tv: " + a.error->message);
            }
            reply.data(bj::object{{"valid", true},
                                  {"username", a.value->username},
                                  {"email", a.value->email},
                                  {"auth_method", s.auth_method}});
        });
    });
}

void AuthRoutes::logout(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        auto s = plugin_.settings();
        bj::object patch = settings::defaults();
        bj::object clear;
        for (const auto& k : settings::sign_in_keys()) clear[k] = patch.at(k);
        std::string err;
        if (!plugin_.write_settings(clear, &err))
            return reply.error(500, "PLEX_STORAGE", "Could not clear the sign-in: " + err);
        plugin_.log().info("signed out of Plex{}", s.username.empty() ? "" : " (" + s.username + ")");
        reply.data(bj::object{{"success", true},
                              {"message", "Signed out of Plex: the token and the server selection were removed."}});
    });
}

void AuthRoutes::store_apikey(Call& call, Reply reply) {
    std::string perr;
    auto body = json::parse_lenient(call.body, &perr);
    if (!body || !body->is_object())
        return reply.error(400, "PLEX_BAD_REQUEST", "the body must be a JSON object like {\"apikey\": \"...\"}");
    auto token = json::get_string(*body, "apikey");
    if (!token || token->empty() || token->size() > 256 || token->find_first_of(" \t\r\n") != std::string::npos)
        return reply.error(400, "PLEX_BAD_REQUEST", "apikey: must be a Plex token (no spaces, at most 256 characters)");
    vault::Secret plain(std::move(*token));
    plugin_.secrets().add(plain.str());
    bj::object patch{{"apikey", plugin_.vault().seal(plain.str())}};
    std::string err;
    if (!plugin_.write_settings(patch, &err))
        return reply.error(500, "PLEX_STORAGE", "Could not store the token: " + err);
    reply.data(bj::object{{"success", true}, {"encrypted", true}});
}

void AuthRoutes::encrypt_apikey(Call&, Reply reply) {
    auto s = plugin_.settings();
    bj::object patch;
    if (!s.apikey.empty() && !vault::Vault::is_sealed(s.apikey)) {
        plugin_.secrets().add(s.apikey);
        patch["apikey"] = plugin_.vault().seal(s.apikey);
    }
    if (!s.token.empty() && !vault::Vault::is_sealed(s.token)) {
        plugin_.secrets().add(s.token);
        patch["token"] = plugin_.vault().seal(s.token);
    }
    if (patch.empty()) return reply.data(bj::object{{"success", true}, {"already_encrypted", true}});
    std::string err;
    if (!plugin_.write_settings(patch, &err))
        return reply.error(500, "PLEX_STORAGE", "Could not store the token: " + err);
    reply.data(bj::object{{"success", true}, {"already_encrypted", false}});
}

}  // namespace pb::plugin

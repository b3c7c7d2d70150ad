// Sign in with Plex: the PIN flow, token validation, sign-out, the legacy
// token routes, the change of the encryption key, the one-time migration of
// a legacy configuration, and switching to another Plex Home user. See docs/sign-in.md for the flow
// and what each error means.
#pragma once
#include <memory>
#include <string>

#include "route/route.hpp"
#include "session/session.hpp"

namespace pb::auth {

class PinTable;
class PinGuard;

class Auth {
public:
    // Registers the sign-in routes.
    Auth(session::Session& session, route::Registry& routes);
    ~Auth();
    // Io thread, once the plugin started: the legacy migration, if it applies.
    void start();

    // The URL the user opens to sign in (exposed for tests).
    static std::string auth_url(const std::string& auth_app_url, const std::string& client_id, const std::string& code,
                                const std::string& product, const std::string& device_name);

private:
    void create_pin(route::Call& call, route::Reply reply);
    void check_pin(route::Call& call, route::Reply reply);
    // The PIN was linked: reads the account and stores the sign-in.
    // `key`: the device key a short-lived token was issued to (else null).
    void linked(route::Reply reply, int64_t pin_id, std::shared_ptr<vault::Secret> token, int64_t expires_at,
                std::shared_ptr<plexapi::DeviceKey> key);
    void validate(route::Call& call, route::Reply reply);
    void migration(route::Call& call, route::Reply reply);
    void logout(route::Call& call, route::Reply reply);
    void store_apikey(route::Call& call, route::Reply reply);
    void encrypt_apikey(route::Call& call, route::Reply reply);
    void rotate_key(route::Call& call, route::Reply reply);
    void forget(route::Call& call, route::Reply reply);
    // Plex Home (home.cpp).
    void home_users(route::Call& call, route::Reply reply);
    void switch_home_user(route::Call& call, route::Reply reply);
    static std::shared_ptr<PinGuard> make_pin_guard();

    session::Session& session_;
    std::unique_ptr<PinTable> pins_;
    std::shared_ptr<PinGuard> pin_guard_;  // wrong Plex Home PINs (home.cpp)
};

}  // namespace pb::auth

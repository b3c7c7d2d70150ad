// plexsim: a fake plex.tv and Plex Media Server for tests and the demo.
//
// It answers like the real services in the details that break
// integrations (see docs/simulator.md): v2 endpoints answer XML unless
// Accept: application/json; PIN creation is 201; a revoked token can answer
// 401 or 422 "Invalid token"; PMS /identity needs no token; `guid=`
// matches only an item's primary guid; Guid arrays appear only with
// includeGuids=1; paging via X-Plex-Container-Start/Size.
//
// Every listener is its own loopback port with its own behaviour, and
// every request is logged for tests to assert on.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "httpserver/http_server.hpp"
#include "sim_data.hpp"

namespace pb::sim {

enum class Behaviour {
    normal = 1,
    refused,    // nothing listens on the port
    blackhole,  // accepts, never answers
    // Never accepts: the SYN is dropped and connecting hangs, as for a LAN
    // address seen from outside its network (no route, a firewall).
    unreachable,
    reset,  // reads the request, closes without answering
    http_500,
    http_401,
    slow_body,        // body trickles at 5 bytes/s
    wrong_identity,   // a different server answers on this address
    bad_certificate,  // TLS with a certificate nobody trusts
};

// How plex.tv misbehaves, for every call but the simulator's own controls.
enum class PlexTvFault {
    none = 1,
    http_500,  // an HTML 500 page
    garbage,   // 200 with a body that is neither JSON nor XML (a captive portal, a proxy's page)
    slow,      // answers, but 1.5 s late (a slow link; below every deadline)
};

struct ConnectionSpec {
    Behaviour behaviour = Behaviour::normal;
    bool tls = false;
    bool local = true;
    bool relay = false;
    std::chrono::milliseconds latency{0};
    // The URI advertised on plex.tv: "plex_direct" (https://127-0-0-1.<hash>.plex.direct:port),
    // "ip" (http(s)://127.0.0.1:port).
    bool plex_direct_name = false;
    std::string bind = "127.0.0.1";
};

struct RequestRecord {
    uint16_t port = 0;
    std::string listener;  // "plextv" or the server's machine id
    std::string method;
    std::string path;
    std::string query;
    std::string token;  // X-Plex-Token header or query value
    std::string accept;
    std::string client_identifier;
    std::string body;
    int status = 0;
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();  // when it arrived
};

struct SimAccount {
    int64_t id = 12345;
    std::string uuid = "212acf24b07315e5";
    std::string username = "plexuser";
    std::string email = "plexuser@example.com";
    std::string token = "sim-account-token-0123456789";
    bool plex_pass = true;
    std::string pin;  // the admin's Plex Home PIN; "protected" when set
};

// A member of the account's Plex Home (plex.tv /api/v2/home/users), as
// plex.tv knows it. The admin is the account itself (SimAccount).
struct SimHomeUser {
    int64_t id = 0;                     // 0: given by add_home_user
    std::string uuid;                   // "": given by add_home_user
    std::string title;                  // what Plex shows ("Kids")
    std::string username;               // "" for a managed user (no plex.tv account of its own)
    std::string email;                  // "" for a managed user
    bool restricted = false;            // managed with restrictions
    std::string restriction_profile;    // "little_kid", "older_kid", "teen" or ""
    std::string pin;                    // 4 digits; "protected" when set
    std::string token;                  // its plex.tv token, handed out by a switch ("": generated)
    std::string server_token;           // what the admin's servers accept from it ("": generated)
    std::vector<std::string> sections;  // section keys it may see on the admin's servers; empty: all
};

class Simulator {
public:
    Simulator();
    ~Simulator();

    // ---- set-up (before or after start) ----
    SimAccount& account() { return account_; }
    // Adds a server; returns its index. The sample library is not added.
    std::size_t add_server(SimServer server);
    SimServer& server(std::size_t index);
    // Adds a connection to a server (starts listening if already started).
    // Returns the port (the refused kind reserves a closed port).
    uint16_t add_connection(std::size_t server_index, ConnectionSpec spec);
    // Removes a connection: its port stops answering (refused from now on).
    void kill_connection(uint16_t port);
    // Starts answering again on a killed connection's port.
    void revive_connection(uint16_t port);
    // Adds a connection advertised on plex.tv without anything behind it
    // at the given URI (e.g. a remote address this machine cannot reach).
    void advertise_uri(std::size_t server_index, const std::string& uri, bool local, bool relay);

    // Default topology for the demo: one owned server with the sample
    // library on a local http and a plex.direct https connection.
    void add_demo_world();

    // plex.tv on its own port (http), and on another over TLS. Starts the
    // io thread.
    void start(uint16_t plextv_port = 0, const std::string& bind = "127.0.0.1");
    void stop();

    std::string plextv_url() const;
    // The same plex.tv over TLS (a certificate for plex.tv and 127.0.0.1,
    // signed by the CA below), for clients that only speak https://plex.tv.
    std::string plextv_tls_url() const;
    // The CA that signed the TLS listeners' certificate (PEM), and a helper
    // to write it to a file for the plugin's tls_ca_file setting.
    const std::string& ca_pem() const;
    bool write_ca_file(const std::string& path) const;

    // ---- behaviour knobs ----
    void set_pin_expires_in(int seconds);                           // default 1800 (strong) / 900
    void link_pin(const std::string& code);                         // as the user signing in would
    void revoke_token(const std::string& token, int status = 401);  // 401 or 422
    void set_plextv_down(bool down);                                // every plex.tv call -> 503
    void set_plextv_fault(PlexTvFault fault);
    void set_plex_pass(bool on);  // webhooks need it (plex.tv answers 403 otherwise)
    // A member of the account's Plex Home; returns it with its id, uuid and
    // tokens filled in. Its token works on plex.tv like the account's; the
    // account's owned servers appear in its resources as shared with it
    // (owned="0", its own access token), and they refuse it what only an
    // admin may do (refresh, scan, edit), and the sections it may not see.
    SimHomeUser add_home_user(SimHomeUser user);
    // The admin's Home PIN ("" removes it).
    void set_account_pin(const std::string& pin);
    // plex.tv's v2 Home endpoints answer 404 (as for an older answer or a
    // removed endpoint): only the legacy XML list and switch work.
    void set_home_v2_gone(bool gone);
    // A new account token (as after signing out everywhere); returns it.
    std::string rotate_account_token();
    std::string account_token() const;
    void set_resources_v2_broken(bool broken);  // v2 JSON -> 500, legacy XML still works
    // The server's listings, refreshes and scans take `delay` to answer (a
    // NAS with a large library); /identity stays quick.
    void set_slow_answers(std::size_t server_index, std::chrono::milliseconds delay);
    // The next `answers` calls to plex.tv (or to a server, /identity aside)
    // are answered 429 with Retry-After: retry_after_s.
    void set_plextv_rate_limit(int answers, int retry_after_s);
    void set_pms_rate_limit(std::size_t server_index, int answers, int retry_after_s);
    // The next `count` calls to the server with this method and a path
    // starting with `path_prefix` answer `status` (an HTML error page).
    void fail_next(std::size_t server_index, const std::string& method, const std::string& path_prefix, int status,
                   int count = 1);
    // A server's access token changes (the old one stops working), as when
    // its owner re-shares it or plex.tv rotates it.
    void set_server_token(std::size_t server_index, const std::string& token);

    // A subtitle file is written next to an item's video (Plex lists it
    // after the refreshes `sub` asks for), or deleted (Plex lists it until
    // the next refresh). Returns false when there is no such item.
    bool write_subtitle(std::size_t server_index, const std::string& rating_key, SimSubtitle sub);
    bool delete_subtitle(std::size_t server_index, const std::string& rating_key, const std::string& file);
    // Plex answers a refresh at once and reads the folder afterwards: a new
    // subtitle shows `lag` after the refresh (or scan) that found it.
    void set_refresh_lag(std::size_t server_index, std::chrono::milliseconds lag);
    // The files Plex lists for the item now.
    std::vector<std::string> listed_subtitles(std::size_t server_index, const std::string& rating_key) const;

    // JWT device sign-in (/api/v2/auth/*, sim_jwt.hpp). Plex JWTs live
    // `lifetime` (default 7 days); rotating adds a signing key (listed last,
    // the old ones stay listed first); more than `per_window` nonces per
    // client in 60 s answer 429 (default 30); expire_jwts makes every Plex
    // JWT issued so far answer 498 on plex.tv.
    void set_jwt_lifetime(std::chrono::seconds lifetime);
    void rotate_jwt_key();
    void set_nonce_limit(int per_window);
    void expire_jwts();
    std::string jwt_keys_json() const;

    // ---- request log ----
    std::vector<RequestRecord> requests() const;
    std::vector<RequestRecord> requests_matching(const std::string& method, const std::string& path_prefix) const;
    void clear_requests();
    std::vector<std::string> webhooks() const;

    struct State;

private:
    std::shared_ptr<State> state_;
    SimAccount& account_;
};

}  // namespace pb::sim

#include "simulator.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include "common/text.hpp"
#include "sim_jwt.hpp"
#include "sim_tls.hpp"

namespace pb::sim {

namespace asio = boost::asio;
using httpserver::Request;
using httpserver::Responder;
using httpserver::Response;

struct SimPin {
    int64_t id = 0;
    std::string code;
    std::string client_identifier;
    int expires_in = 0;
    std::chrono::steady_clock::time_point created;
    time_t created_wall = 0;
    bool linked = false;
};

struct Conn {
    std::size_t server_index = 0;
    ConnectionSpec spec;
    uint16_t port = 0;
    std::string uri;
};

// A port nothing ever accepts on: listening with a backlog of 0, its one
// place taken by a connection of our own, so Linux drops every further SYN
// and the caller's connect() hangs until its own deadline. Returns the two
// sockets to close, or none when the port could not be taken.
static std::vector<int> unreachable_port(const std::string& bind, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, bind.c_str(), &a.sin_addr) != 1) return {};
    int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 0) != 0) {
        ::close(l);
        return {};
    }
    int filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(filler, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(filler);
        ::close(l);
        return {};
    }
    return {l, filler};
}

struct Simulator::State {
    mutable std::mutex mu;
    std::vector<int> unreachable_fds;  // see unreachable_port
    SimAccount account;
    std::vector<SimHomeUser> home;  // the account's Plex Home members, the admin aside
    std::vector<SimServer> servers;
    std::vector<Conn> conns;
    struct Advertised {
        std::size_t server_index;
        std::string uri;
        bool local, relay;
    };
    std::vector<Advertised> advertised;
    std::map<int64_t, SimPin> pins;
    int64_t next_pin_id = 1000001;
    int pin_expires_in = 0;              // 0: 1800 strong / 900 otherwise
    std::map<std::string, int> revoked;  // token -> status
    // Server index -> how long its listings, refreshes and scans take.
    std::map<std::size_t, std::chrono::milliseconds> slow_answers;
    std::vector<std::string> webhooks;
    std::vector<RequestRecord> log;
    bool plextv_down = false;
    PlexTvFault plextv_fault = PlexTvFault::none;
    // The next N answers are 429 with Retry-After (plex.tv: key SIZE_MAX).
    struct RateLimit {
        int answers = 0;
        int retry_after_s = 1;
    };
    std::map<std::size_t, RateLimit> rate_limits;
    // Server index -> the next calls that fail on purpose.
    struct Failure {
        std::string method, path_prefix;
        int status = 500;
        int count = 0;
    };
    std::map<std::size_t, std::vector<Failure>> failures;
    // Server index -> how long after a refresh or scan a new subtitle shows.
    std::map<std::size_t, std::chrono::milliseconds> refresh_lag;
    // One 429 from the budget of `listener`, or nothing.
    std::optional<Response> rate_limited(std::size_t listener) {
        auto it = rate_limits.find(listener);
        if (it == rate_limits.end() || it->second.answers <= 0) return std::nullopt;
        --it->second.answers;
        // No capture shows the body of a 429 from plex.tv or PMS; the status
        // and Retry-After (RFC 6585, RFC 9110) are what clients act on.
        return Response{429,
                        "text/html",
                        {{"Retry-After", std::to_string(it->second.retry_after_s)}},
                        "<html><body>429 Too Many Requests</body></html>"};
    }
    bool resources_v2_broken = false;
    bool home_v2_gone = false;
    // JWT device sign-in: keys, nonces, Plex JWTs (sim_jwt.cpp).
    JwtAuthority jwt;
    JwtUser jwt_user() const { return JwtUser{account.id, account.uuid, account.username}; }
    // Gives a new Home member what it lacks (id, uuid, tokens). Caller holds mu.
    SimHomeUser& add_home(SimHomeUser user) {
        auto n = static_cast<int64_t>(home.size()) + 1;
        if (user.id == 0) user.id = 33542083 + n;
        if (user.uuid.empty()) user.uuid = common::text::random_hex(8);
        if (user.token.empty()) user.token = "sim-home-token-" + common::text::random_hex(10);
        if (user.server_token.empty()) user.server_token = "sim-home-server-token-" + common::text::random_hex(10);
        home.push_back(std::move(user));
        return home.back();
    }
    // The Home member whose plex.tv token (or, with `server`, whose token
    // for the admin's servers) this is; nullptr for anyone else.
    const SimHomeUser* member_of(const std::string& token, bool server = false) const {
        if (token.empty()) return nullptr;
        for (const auto& m : home)
            if ((server ? m.server_token : m.token) == token) return &m;
        return nullptr;
    }

    asio::io_context ioc;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
    std::unique_ptr<httpserver::HttpServer> http;
    bool started = false;
    uint16_t plextv_port = 0;
    uint16_t plextv_tls_port = 0;
    std::string bind = "127.0.0.1";
    TestCa ca;
    TestCa untrusted;
    std::shared_ptr<asio::ssl::context> tls, bad_tls;

    void handle_plextv(Request&& req, Responder respond);
    void handle_pms(std::size_t server_index, Behaviour behaviour, Request&& req, Responder respond);
    void start_conn(Conn& c);
    std::string uri_for(const Conn& c) const;
};

namespace {

std::string now_iso(time_t t) { return common::text::iso8601_utc(t); }

bool wants_json(const Request& r) { return r.header("Accept").find("json") != std::string::npos; }

Response render(const Request& r, const Element& e, int status = 200) {
    if (wants_json(r)) return Response{status, "application/json", {}, e.json()};
    return Response{status, "application/xml", {}, e.xml()};
}

Response plextv_error(const Request& r, int status, int code, const std::string& message) {
    if (wants_json(r)) {
        boost::json::object err{{"code", code}, {"message", message}, {"status", status}};
        boost::json::object o{{"errors", boost::json::array{err}}};
        return Response{status, "application/json", {}, boost::json::serialize(o)};
    }
    return Response{status,
                    "application/xml",
                    {},
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  <error code=\"" + std::to_string(code) +
                        "\" message=\"" + message + "\" status=\"" + std::to_string(status) + "\"/>\n</errors>\n"};
}

// The JWT authority's answer as plex.tv renders it.
Response jwt_response(const Request& r, const JwtReply& j) {
    if (j.status < 300) return Response{j.status, "application/json", {}, j.json};
    Response out = plextv_error(r, j.status, j.code, j.message);
    if (j.retry_after_s > 0) out.headers.emplace_back("Retry-After", std::to_string(j.retry_after_s));
    return out;
}

std::string token_of(const Request& r) {
    std::string t = r.header("X-Plex-Token");
    if (t.empty()) t = common::text::query_get(common::text::parse_query(r.query), "X-Plex-Token").value_or("");
    return t;
}

// Plex reads every X-Plex-* header from the query string too ("all X-Plex-
// headers can also be sent as query string arguments", developer.plex.tv/pms);
// @ctrl/plex sends the PIN's client identifier that way.
std::string client_id_of(const Request& r) {
    std::string id = r.header("X-Plex-Client-Identifier");
    if (id.empty())
        id = common::text::query_get(common::text::parse_query(r.query), "X-Plex-Client-Identifier").value_or("");
    return id;
}

// What the tests can ask about a request: who received it, with what.
RequestRecord record_of(const Request& req, uint16_t port, const std::string& listener) {
    return RequestRecord{
        port,     listener, req.method, req.path, req.query, token_of(req), req.header("Accept"), client_id_of(req),
        req.body, 0};
}

Element pin_element(const SimPin& p, const std::string& token) {
    Element e{"pin", {}, {}};
    e.set("id", p.id).set("code", p.code).set("product", std::string("0")).set("trusted", false);
    e.set("qr", "https://plex.tv/api/v2/pins/qr/" + p.code);
    e.set("clientIdentifier", p.client_identifier);
    Element loc{"location", {}, {}};
    loc.set("code", std::string("GB"))
        .set("european_union_member", false)
        .set("country", std::string("United Kingdom"));
    e.set("expiresIn", static_cast<int64_t>(p.expires_in));
    e.set("createdAt", now_iso(p.created_wall));
    e.set("expiresAt", now_iso(p.created_wall + p.expires_in));
    if (p.linked) e.set("authToken", token);
    // authToken and newRegistration are JSON null until linked: omitted here,
    // since Element has no null; parsers must treat "missing" like null.
    return e;
}

}  // namespace

// ---------------------------------------------------------------- plex.tv

void Simulator::State::handle_plextv(Request&& req, Responder respond) {
    RequestRecord rec = record_of(req, plextv_port, "plextv");
    auto reply = [&](Response r) {
        rec.status = r.status;
        {
            std::lock_guard lock(mu);
            log.push_back(rec);
        }
        respond(std::move(r));
    };
    std::unique_lock lock(mu);
    auto params = common::text::parse_query(req.query);

    // --- simulator controls (what a person does in a browser) ---
    if (common::text::starts_with(req.path, "/sim/")) {
        if (req.path == "/sim/link") {
            std::string code = common::text::query_get(params, "code").value_or("");
            for (auto& [id, p] : pins)
                if (p.code == code) {
                    p.linked = true;
                    lock.unlock();
                    return reply(Response{200, "application/json", {}, R"({"linked":true})"});
                }
            lock.unlock();
            return reply(Response{404, "application/json", {}, R"({"error":"no such PIN code"})"});
        }
        // Test controls over HTTP, for tests that drive the simulator from
        // outside the process (the browser tests): what the C++ methods of
        // the same names do. POST only; loopback only, like the simulator.
        if (req.method == "POST" && common::text::starts_with(req.path, "/sim/control/")) {
            std::string what = req.path.substr(13);
            auto arg = [&](const char* k) { return common::text::query_get(params, k).value_or(""); };
            auto index = static_cast<std::size_t>(std::atoll(arg("index").c_str()));
            bool ok = true;
            if (what == "pin-expires-in")
                pin_expires_in = std::atoi(arg("seconds").c_str());
            else if (what == "revoke-token")
                revoked[account.token] = arg("status") == "422" ? 422 : 401;
            else if (what == "plex-pass")
                account.plex_pass = arg("on") != "0";
            else if (what == "account-pin")
                account.pin = arg("pin");
            else if (what == "home-user" && !arg("title").empty()) {
                // ?title=&username=&pin=&profile=&sections=1,2 (profile: restricted)
                SimHomeUser u;
                u.title = arg("title");
                u.username = arg("username");
                if (!u.username.empty()) u.email = u.username + "@example.com";
                u.pin = arg("pin");
                u.restriction_profile = arg("profile");
                u.restricted = !u.restriction_profile.empty();
                // (split() gives views: the text must outlive the loop.)
                std::string sections = arg("sections");
                for (auto part : common::text::split(sections, ','))
                    if (!part.empty()) u.sections.emplace_back(part);
                add_home(std::move(u));
            } else if (what == "server" && index < servers.size()) {
                if (!arg("name").empty()) servers[index].name = arg("name");
                if (!arg("shared_by").empty()) {
                    servers[index].owned = false;
                    servers[index].source_title = arg("shared_by");
                    // A friend's server has its own token, never the account's.
                    servers[index].access_token = "sim-shared-server-token-" + std::to_string(index);
                }
            } else
                ok = false;
            lock.unlock();
            return reply(ok ? Response{204, "application/json", {}, ""}
                            : Response{404, "application/json", {}, R"({"error":"no such control"})"});
        }
        if (req.path == "/sim/auth") {
            // Stands in for app.plex.tv/auth: the PIN code is in the URL
            // fragment, which only the browser sees, so a script reads it.
            lock.unlock();
            return reply(Response{200, "text/html", {}, R"(<!doctype html><title>Plex (simulated) sign-in</title>
<h1>Sign in to Plex (simulator)</h1><p id=c></p><button id=b>Link this device</button><p id=r></p>
<script>const p=new URLSearchParams(location.hash.slice(2));const code=p.get('code');
document.getElementById('c').textContent='Device '+(p.get('context[device][product]')||'')+' asks for access, code '+code;
document.getElementById('b').onclick=async()=>{const r=await fetch('/sim/link?code='+encodeURIComponent(code),{method:'POST'});
document.getElementById('r').textContent=r.ok?'Linked. You can close this window.':'Unknown or expired code.';};</script>)"});
        }
        if (req.path == "/sim/requests") {
            boost::json::array a;
            for (const auto& r : log)
                a.push_back({{"listener", r.listener},
                             {"method", r.method},
                             {"path", r.path},
                             {"query", r.query},
                             {"status", r.status}});
            lock.unlock();
            return reply(Response{200, "application/json", {}, boost::json::serialize(a)});
        }
        lock.unlock();
        return reply(Response{404, "application/json", {}, R"({"error":"unknown simulator control"})"});
    }

    if (plextv_down) {
        lock.unlock();
        return reply(Response{503, "text/html", {}, "<html><body>503 Service Temporarily Unavailable</body></html>"});
    }
    if (plextv_fault == PlexTvFault::http_500) {
        lock.unlock();
        return reply(Response{500, "text/html", {}, "<html><body>Internal Server Error</body></html>"});
    }
    if (plextv_fault == PlexTvFault::garbage) {
        lock.unlock();
        static constexpr char kPortal[] = "<html><body>Please log in to the hotel Wi-Fi</body></html>\x00\xff{";
        return reply(Response{200,
                              req.header("Accept").find("json") != std::string::npos ? "application/json" : "text/xml",
                              {},
                              std::string(kPortal, sizeof kPortal - 1)});
    }
    if (plextv_fault == PlexTvFault::slow) {
        // The same answer, late: the rest of this function answers through
        // a responder that waits first.
        auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(1500));
        respond = [timer, inner = std::move(respond)](Response r) mutable {
            timer->async_wait([timer, inner = std::move(inner),
                               r = std::move(r)](const boost::system::error_code&) mutable { inner(std::move(r)); });
        };
    }
    if (auto busy = rate_limited(SIZE_MAX)) {
        lock.unlock();
        return reply(std::move(*busy));
    }

    // --- PINs ---
    if (req.method == "POST" && req.path == "/api/v2/pins") {
        std::string client = client_id_of(req);
        if (client.empty()) {
            lock.unlock();
            return reply(plextv_error(req, 400, 1000, "X-Plex-Client-Identifier is missing"));
        }
        bool strong = common::text::query_get(params, "strong").value_or("") == "true";
        // A JWT PIN: {"jwk":...,"strong":true} registers the device key (sim_jwt.cpp).
        if (auto bad = jwt.pin_created(req.body, client, strong)) {
            lock.unlock();
            return reply(jwt_response(req, *bad));
        }
        SimPin p;
        p.id = next_pin_id++;
        p.code =
            strong ? common::text::random_hex(13).substr(0, 25) : common::text::to_lower(common::text::random_hex(2));
        p.client_identifier = client;
        p.expires_in = pin_expires_in > 0 ? pin_expires_in : (strong ? 1800 : 900);
        p.created = std::chrono::steady_clock::now();
        p.created_wall = std::time(nullptr);
        pins[p.id] = p;
        auto e = pin_element(p, account.token);
        lock.unlock();
        return reply(render(req, e, 201));
    }
    if (req.method == "GET" && common::text::starts_with(req.path, "/api/v2/pins/")) {
        std::string id_text = req.path.substr(13);
        int64_t id = std::atoll(id_text.c_str());
        auto it = pins.find(id);
        bool expired = it != pins.end() && std::chrono::steady_clock::now() - it->second.created >
                                               std::chrono::seconds(it->second.expires_in);
        // plex.tv only shows a PIN to the client that created it.
        if (it == pins.end() || expired || it->second.client_identifier != client_id_of(req)) {
            lock.unlock();
            return reply(plextv_error(req, 404, 1020, "Code not found or expired"));
        }
        std::string pin_token = account.token;
        // Polled with a device JWT: the linked PIN's authToken is a Plex JWT.
        if (auto device_jwt = common::text::query_get(params, "deviceJWT")) {
            auto j = jwt.pin_polled(*device_jwt, it->second.client_identifier, it->second.linked, jwt_user());
            if (j.status >= 300) {
                lock.unlock();
                return reply(jwt_response(req, j));
            }
            pin_token = j.json;
        }
        auto e = pin_element(it->second, pin_token);
        lock.unlock();
        return reply(render(req, e));
    }

    // --- JWT device sign-in (clients.plex.tv/api/v2/auth/*, sim_jwt.cpp) ---
    if (common::text::starts_with(req.path, "/api/v2/auth/")) {
        // Whose token came with it: the account's, a Home member's, or a
        // live Plex JWT's person.
        std::string t = token_of(req);
        std::optional<JwtUser> caller;
        if (!t.empty() && revoked.count(t) == 0) {
            JwtUser who;
            if (t == account.token)
                caller = jwt_user();
            else if (const SimHomeUser* m = member_of(t))
                caller = JwtUser{m->id, m->uuid, m->username.empty() ? m->title : m->username};
            else if (jwt.check(t, &who) == JwtAuthority::TokenState::valid)
                caller = who;
        }
        auto j = jwt.handle(req.method, req.path, req.body, client_id_of(req), caller ? &*caller : nullptr);
        lock.unlock();
        return reply(jwt_response(req, j));
    }

    // --- everything below needs a valid token ---
    std::string token = token_of(req);
    if (auto rv = revoked.find(token); rv != revoked.end()) {
        int status = rv->second;
        lock.unlock();
        if (status == 422) return reply(plextv_error(req, 422, 1003, "Invalid token"));
        return reply(plextv_error(req, 401, 1001, "User could not be authenticated"));
    }
    // A Plex JWT of ours stands for the account until it expires; then 498
    // (inferred from client reports; the code 1001 is a guess).
    JwtUser jwt_person;
    if (auto state = jwt.check(token, &jwt_person); state == JwtAuthority::TokenState::expired) {
        lock.unlock();
        return reply(plextv_error(req, 498, 1001, "Token expired"));
    } else if (state == JwtAuthority::TokenState::valid) {
        // It stands for the person its key belongs to: from here on, as
        // that person's classic token would.
        token = account.token;
        for (const auto& m : home)
            if (m.id == jwt_person.id) token = m.token;
    }
    // The account's token, or a Home member's (after a switch).
    const SimHomeUser* member = member_of(token);
    bool valid = !token.empty() && (token == account.token || member != nullptr);
    for (const auto& s : servers)
        if (!s.owned && token == s.access_token) valid = false;  // server tokens are not account tokens
    if (!valid) {
        lock.unlock();
        return reply(plextv_error(req, 401, 1001, "User could not be authenticated"));
    }

    // A token check: 200 while the token is good (the answer's body is not
    // captured anywhere; clients read only the status).
    if (req.method == "GET" && req.path == "/api/v2/ping") {
        lock.unlock();
        if (wants_json(req)) return reply(Response{200, "application/json", {}, R"({"pong":true})"});
        return reply(Response{200, "application/xml", {}, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<pong/>\n"});
    }
    if (req.method == "GET" && req.path == "/api/v2/user") {
        Element u{"user", {}, {}};
        if (member) {
            // A Home member's own account (RS mocks user_info_*_guest.json:
            // a managed user has empty username and e-mail).
            u.set("id", member->id).set("uuid", member->uuid).set("username", member->username);
            u.set("title", member->title).set("email", member->email).set("friendlyName", std::string(""));
            u.set("authToken", member->token).set("restricted", member->restricted);
            u.set("protected", !member->pin.empty()).set("home", true).set("homeAdmin", false);
            u.set("hasPassword", !member->username.empty());
            u.set("homeSize", static_cast<int64_t>(home.size() + 1));
            lock.unlock();
            return reply(render(req, u));
        }
        u.set("id", account.id).set("uuid", account.uuid).set("username", account.username);
        u.set("title", account.username).set("email", account.email).set("friendlyName", std::string(""));
        u.set("confirmed", true).set("authToken", account.token).set("country", std::string("GB"));
        // The rest of what plex.tv sends about a single-user account, with
        // the values and types of the captures (user_info_free.json,
        // user_info_plexpass.json; XML as in plextv_account.xml). Client
        // libraries (python-plexapi, @ctrl/plex) read these into the account.
        u.set("emailOnlyAuth", false).set("hasPassword", true).set("protected", !account.pin.empty());
        u.set("thumb", "https://plex.tv/users/" + account.uuid + "/avatar?c=1630875354");
        u.set("mailingListStatus", std::string("unsubscribed")).set("mailingListActive", false);
        u.set("scrobbleTypes", std::string("")).set("restricted", false);
        u.set("home", !home.empty()).set("guest", false).set("homeSize", static_cast<int64_t>(home.size() + 1));
        u.set("homeAdmin", !home.empty());
        u.set("maxHomeSize", int64_t{15}).set("joinedAt", int64_t{1339124759});
        u.set("experimentalFeatures", false).set("twoFactorEnabled", false);
        Element sub{"subscription", {}, {}};
        sub.set("active", account.plex_pass).set("status", std::string(account.plex_pass ? "Active" : "Inactive"));
        sub.set("plan", std::string(account.plex_pass ? "lifetime" : ""));
        std::vector<std::string> features = {"home", "adaptive_bitrate", "collections"};
        if (account.plex_pass) features.insert(features.begin(), {"webhooks", "pass", "dvr"});
        // What user_info_plexpass.json lists; a free account has none.
        std::vector<std::string> entitlements;
        if (account.plex_pass) entitlements = {"ios", "all", "roku", "android", "xbox_one", "windows"};
        lock.unlock();
        if (wants_json(req)) {
            // JSON nests subscription as an object with an array of strings.
            boost::json::object o = boost::json::parse(u.json()).as_object();
            boost::json::array f;
            for (auto& x : features) f.push_back(boost::json::string(x));
            auto text_or_null = [](bool on, const char* text) {
                return on ? boost::json::value(text) : boost::json::value(nullptr);
            };
            o["subscription"] = {{"active", account.plex_pass},
                                 {"subscribedAt", text_or_null(account.plex_pass, "2021-10-01T01:02:03Z")},
                                 {"status", account.plex_pass ? "Active" : "Inactive"},
                                 {"paymentService", text_or_null(account.plex_pass, "braintree")},
                                 {"plan", text_or_null(account.plex_pass, "lifetime")},
                                 {"features", f}};
            o["subscriptionDescription"] = text_or_null(account.plex_pass, "Lifetime Plex Pass");
            o["locale"] = nullptr;
            boost::json::array e;
            for (auto& x : entitlements) e.push_back(boost::json::string(x));
            o["entitlements"] = e;
            o["roles"] = account.plex_pass ? boost::json::array{"plexpass"} : boost::json::array{};
            return reply(Response{200, "application/json", {}, boost::json::serialize(o)});
        }
        u.set("locale", std::string(""));
        Element feats{"features", {}, {}};
        for (auto& x : features) feats.add("feature", Element{"feature", {{"id", x}}, {}});
        sub.add("features", feats);
        u.add("subscription", sub);
        Element ents{"entitlements", {}, {}};
        for (auto& x : entitlements) ents.add("entitlement", Element{"entitlement", {{"id", x}}, {}});
        u.add("entitlements", ents);
        return reply(Response{200, "application/xml", {}, u.xml()});
    }

    bool v2_resources = req.path == "/api/v2/resources";
    if (req.method == "GET" && (v2_resources || req.path == "/api/resources" || req.path == "/pms/resources")) {
        if (v2_resources && resources_v2_broken) {
            lock.unlock();
            return reply(Response{500, "text/html", {}, "<html>Internal Server Error</html>"});
        }
        // Servers and one client device (which must be filtered out).
        std::vector<Element> devices;
        for (std::size_t i = 0; i < servers.size(); ++i) {
            const auto& s = servers[i];
            // A Home member sees the admin's own servers, as shared with it.
            if (member && !s.owned) continue;
            Element d{"Device", {}, {}};
            d.set("name", s.name).set("product", std::string("Plex Media Server")).set("productVersion", s.version);
            d.set("platform", s.platform).set("platformVersion", std::string("6.1.0"));
            d.set("device", std::string("Docker Container")).set("clientIdentifier", s.machine_id);
            d.set("createdAt", now_iso(1600000000)).set("lastSeenAt", now_iso(std::time(nullptr)));
            d.set("provides", std::string("server")).set("owned", s.owned && !member);
            if (member)
                d.set("sourceTitle", account.username).set("ownerId", account.id);
            else if (!s.owned)
                d.set("sourceTitle", s.source_title).set("ownerId", static_cast<int64_t>(9876));
            d.set("accessToken", member ? member->server_token : s.owned ? account.token : s.access_token);
            d.set("publicAddress", std::string("203.0.113.7")).set("home", member != nullptr).set("synced", false);
            d.set("relay", true).set("presence", true).set("httpsRequired", false);
            d.set("publicAddressMatches", true).set("dnsRebindingProtection", false).set("natLoopbackSupported", true);
            auto add_conn = [&](const std::string& uri, bool local, bool relay) {
                auto parsed_scheme = uri.substr(0, uri.find(':'));
                auto host_start = uri.find("://") + 3;
                auto port_pos = uri.rfind(':');
                std::string host = uri.substr(host_start, port_pos - host_start);
                int64_t port = std::atoll(uri.c_str() + port_pos + 1);
                Element c{"Connection", {}, {}};
                // As the real list: the address field is the raw IP, which
                // does not always match the uri; clients must use uri.
                c.set("protocol", parsed_scheme).set("address", std::string("127.0.0.1")).set("port", port);
                c.set("uri", uri)
                    .set("local", local)
                    .set("relay", relay)
                    .set("IPv6", host.find(':') != std::string::npos);
                d.add("connections", c);
            };
            for (const auto& c : conns)
                if (c.server_index == i) add_conn(c.uri, c.spec.local, c.spec.relay);
            for (const auto& a : advertised)
                if (a.server_index == i) add_conn(a.uri, a.local, a.relay);
            devices.push_back(std::move(d));
        }
        Element client{"Device", {}, {}};
        client.set("name", std::string("iPhone")).set("product", std::string("Plex for iOS"));
        client.set("clientIdentifier", std::string("iphone-client-1")).set("provides", std::string("client,player"));
        client.set("owned", true).set("presence", false);
        devices.push_back(client);
        lock.unlock();
        if (v2_resources && wants_json(req)) {
            boost::json::array a;
            for (const auto& d : devices) a.push_back(boost::json::parse(d.json()));
            return reply(Response{200, "application/json", {}, boost::json::serialize(a)});
        }
        Element mc{"MediaContainer", {{"size", static_cast<int64_t>(devices.size())}}, {}};
        for (auto& d : devices) {
            // Legacy XML names connections <Connection> children.
            mc.add("Device", d);
        }
        return reply(Response{200, "application/xml", {}, mc.xml()});
    }

    if (req.path == "/api/v2/user/webhooks") {
        if (!account.plex_pass) {
            lock.unlock();
            // What the issue reports plex.tv answering an account without
            // Plex Pass (no capture of it exists yet).
            return reply(plextv_error(req, 403, 1043, "This action is not available for this user"));
        }
        if (req.method == "POST") {
            std::vector<std::string> urls;
            for (const auto& [k, v] : common::text::parse_query(req.body))
                if (k == "urls[]" && !v.empty()) urls.push_back(v);
            webhooks = urls;  // replaces the whole list, as plex.tv does
            lock.unlock();
            return reply(Response{201, "application/json", {}, ""});
        }
        boost::json::array a;
        for (const auto& u : webhooks) a.push_back(boost::json::object{{"url", u}});
        Element mc{"MediaContainer", {}, {}};
        for (const auto& u : webhooks) mc.add("Webhook", Element{"Webhook", {{"url", u}}, {}});
        lock.unlock();
        if (wants_json(req)) return reply(Response{200, "application/json", {}, boost::json::serialize(a)});
        return reply(Response{200, "application/xml", {}, mc.xml()});
    }

    // --- Plex Home: its users, and switching to one ---
    // One entry per person, the admin (the account) first, with the fields
    // and types of a real /api/v2/home/users answer (a Plex Web capture of
    // 2020, docs/notes/plex-accounts-wire.md 2.1) and of the legacy XML
    // (plex-api.rs media_container/home.rs).
    struct Person {
        int64_t id;
        std::string uuid, title, username, email, restriction_profile, pin, token;
        bool admin, restricted;
    };
    auto people = [&] {
        std::vector<Person> out{{account.id, account.uuid, account.username, account.username, account.email, "",
                                 account.pin, account.token, true, false}};
        for (const auto& m : home)
            out.push_back({m.id, m.uuid, m.title, m.username, m.email, m.restriction_profile, m.pin, m.token, false,
                           m.restricted});
        return out;
    };
    auto person_element = [&](const Person& p, const char* name) {
        Element u{name, {}, {}};
        u.set("id", p.id).set("uuid", p.uuid).set("title", p.title);
        if (!p.username.empty()) u.set("username", p.username).set("email", p.email);
        u.set("thumb", "https://plex.tv/users/" + p.uuid + "/avatar?c=1592234494");
        u.set("hasPassword", !p.username.empty()).set("restricted", p.restricted);
        if (!p.restriction_profile.empty()) u.set("restrictionProfile", p.restriction_profile);
        u.set("admin", p.admin).set("guest", false).set("protected", !p.pin.empty());
        return u;
    };
    if (home_v2_gone && common::text::starts_with(req.path, "/api/v2/home/")) {
        lock.unlock();
        return reply(plextv_error(req, 404, 1002, "Not found"));
    }
    if (req.method == "GET" && req.path == "/api/v2/home/users") {
        Element h{"home", {}, {}};
        h.set("id", int64_t{4242}).set("name", account.username + "'s Home").set("guestUserID", int64_t{33542083});
        h.set("guestUserUUID", std::string("f7a3c8f863873771")).set("guestEnabled", false);
        h.set("subscription", account.plex_pass);
        for (const auto& p : people()) h.add("users", person_element(p, "user"));
        lock.unlock();
        return reply(render(req, h));
    }
    if (req.method == "GET" && req.path == "/api/home/users") {
        auto all = people();
        Element mc{"MediaContainer", {}, {}};
        mc.set("friendlyName", std::string("myPlex")).set("identifier", std::string("com.plexapp.plugins.myplex"));
        mc.set("machineIdentifier", std::string("sim-myplex")).set("totalSize", static_cast<int64_t>(all.size()));
        mc.set("size", static_cast<int64_t>(all.size()));
        for (const auto& p : all) mc.add("User", person_element(p, "User"));
        lock.unlock();
        return reply(Response{200, "application/xml", {}, mc.xml()});
    }
    // POST /api/v2/home/users/{uuid}/switch?pin= (JSON; the uuid: a numeric
    // id is reported to answer 404, code 1002) and the legacy
    // POST /api/home/users/{id}/switch (XML, numeric id). A wrong or missing
    // PIN is 403 with code 1041 (a real body quoted in watchstate issue 542);
    // plex.tv checks a PIN whenever one is sent.
    bool v2_switch = req.method == "POST" && common::text::starts_with(req.path, "/api/v2/home/users/");
    bool v1_switch = req.method == "POST" && common::text::starts_with(req.path, "/api/home/users/");
    if ((v2_switch || v1_switch) && req.path.size() > 7 && req.path.ends_with("/switch")) {
        std::size_t from = v2_switch ? 19 : 16;
        std::string who = req.path.substr(from, req.path.size() - 7 - from);
        auto pin = common::text::query_get(params, "pin");
        for (const auto& p : people()) {
            bool named = v2_switch ? who == p.uuid : who == std::to_string(p.id);
            if (!named) continue;
            if ((!p.pin.empty() || (pin && !pin->empty())) && pin.value_or("") != p.pin) {
                lock.unlock();
                return reply(plextv_error(req, 403, 1041, "A valid PIN is required to perform this action"));
            }
            Element u = person_element(p, "user");
            if (v1_switch) {
                // python-plexapi reads authenticationToken; MrMC authToken.
                u.set("authenticationToken", p.token).set("authToken", p.token);
                lock.unlock();
                return reply(Response{201, "application/xml", {}, u.xml()});
            }
            u.set("authToken", p.token).set("home", true).set("homeAdmin", p.admin);
            u.set("homeSize", static_cast<int64_t>(home.size() + 1));
            lock.unlock();
            // The status of a successful switch is not captured (mocks use
            // 200 or 201); clients accept any 2xx.
            return reply(render(req, u, 201));
        }
        lock.unlock();
        return reply(plextv_error(req, 404, 1002, "Not found"));
    }

    lock.unlock();
    reply(plextv_error(req, 404, 1002, "Not found"));
}

// ---------------------------------------------------------------- PMS

namespace {

// What a refresh (or a folder scan) of an item makes Plex see of its
// subtitle files: deleted ones go, new ones appear once enough refreshes
// came after them.
void rescan_subtitles(SimItem& it, bool folder_scan, std::chrono::milliseconds lag) {
    auto& subs = it.subtitles;
    subs.erase(std::remove_if(subs.begin(), subs.end(), [](const SimSubtitle& s) { return !s.on_disk; }), subs.end());
    for (auto& s : subs) {
        if (s.listed) continue;
        if (folder_scan || (!s.scan_only && --s.refreshes_needed <= 0)) {
            s.listed = true;
            s.listed_from = std::chrono::steady_clock::now() + lag;
        }
    }
}

// An item as a listing shows it, or (`details`) as /library/metadata/{id}
// does: only there do parts carry their streams (movie_library.json and
// tv_episodes.json have none; metadata_1036.json has them).
Element item_element(const SimServer& s, const SimItem& it, bool include_guids, bool details = false) {
    bool video = it.type == "movie" || it.type == "episode";
    Element e{video ? "Video" : "Directory", {}, {}};
    e.set("ratingKey", it.rating_key).set("key", "/library/metadata/" + it.rating_key);
    e.set("guid", it.guid).set("type", it.type).set("title", it.title);
    e.set("librarySectionID", it.section_id);
    for (const auto& sec : s.sections)
        if (sec.id == it.section_id) e.set("librarySectionTitle", sec.title);
    if (it.index >= 0) e.set("index", it.index);
    if (it.year > 0) e.set("year", it.year);
    e.set("addedAt", it.added_at).set("updatedAt", it.added_at);
    if (!it.parent_key.empty()) {
        auto p = s.items.find(it.parent_key);
        // parentKey and grandparentKey as in tv_episodes.json (clients
        // follow them to the season and the show).
        e.set("parentRatingKey", it.parent_key).set("parentKey", "/library/metadata/" + it.parent_key);
        if (p != s.items.end()) {
            e.set("parentGuid", p->second.guid).set("parentTitle", p->second.title);
            if (p->second.index >= 0) e.set("parentIndex", p->second.index);
        }
    }
    if (!it.grandparent_key.empty()) {
        auto g = s.items.find(it.grandparent_key);
        e.set("grandparentRatingKey", it.grandparent_key)
            .set("grandparentKey", "/library/metadata/" + it.grandparent_key);
        if (g != s.items.end()) e.set("grandparentGuid", g->second.guid).set("grandparentTitle", g->second.title);
    }
    if (include_guids)
        for (const auto& g : it.guids) e.add("Guid", Element{"Guid", {{"id", g}}, {}});
    if (!it.file.empty()) {
        Element media{"Media", {{"id", static_cast<int64_t>(std::atoll(it.rating_key.c_str()) * 10)}}, {}};
        Element part{
            "Part", {{"id", static_cast<int64_t>(std::atoll(it.rating_key.c_str()) * 100)}, {"file", it.file}}, {}};
        // External subtitles as in the capture (tests/fixtures/plex-api.rs/
        // metadata_1036.json): id, key, streamType 3, codec, format,
        // displayTitle; the language pair and flags when the name has them;
        // Plex omits flags that are off, and writes no file path.
        for (const auto& sub : it.subtitles) {
            if (!details || !sub.visible()) continue;
            Element st{"Stream", {}, {}};
            st.set("id", sub.id).set("key", "/library/streams/" + std::to_string(sub.id));
            st.set("streamType", int64_t{3}).set("codec", sub.codec).set("format", sub.codec);
            if (!sub.language_code.empty())
                st.set("languageCode", sub.language_code).set("languageTag", sub.language_tag);
            if (sub.forced) st.set("forced", true);
            if (sub.hearing_impaired) st.set("hearingImpaired", true);
            std::string upper = sub.codec;
            for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            st.set("displayTitle", (sub.language_tag.empty() ? std::string("Unknown") : sub.language_tag) + " (" +
                                       upper + " External)");
            part.add("Stream", std::move(st));
        }
        media.add("Part", std::move(part));
        e.add("Media", media);
    }
    return e;
}

int64_t to_int(const std::string& s, int64_t fallback) {
    char* end = nullptr;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || end == nullptr || *end != '\0') return fallback;
    return v;
}

}  // namespace

void Simulator::State::handle_pms(std::size_t server_index, Behaviour behaviour, Request&& req, Responder respond) {
    std::unique_lock lock(mu);
    SimServer& s = servers[server_index];
    RequestRecord rec = record_of(req, req.local_port, s.machine_id);
    // A NAS with a large library: listing a section, refreshing or scanning
    // takes a while; /identity and small reads do not.
    bool heavy = (req.method == "GET" && req.path.find("/all") != std::string::npos) ||
                 req.path.find("/refresh") != std::string::npos;
    std::chrono::milliseconds delay{0};
    if (auto it = slow_answers.find(server_index); heavy && it != slow_answers.end()) delay = it->second;
    auto reply = [&](Response r) {
        rec.status = r.status;
        log.push_back(rec);
        lock.unlock();
        if (delay.count() == 0) return respond(std::move(r));
        auto timer = std::make_shared<asio::steady_timer>(ioc, delay);
        timer->async_wait([timer, respond = std::move(respond),
                           r = std::move(r)](const boost::system::error_code&) mutable { respond(std::move(r)); });
    };
    if (behaviour == Behaviour::http_500)
        return reply(Response{500, "text/html", {}, "<html><body>Internal Server Error</body></html>"});
    if (behaviour == Behaviour::http_401)
        return reply(Response{401, "text/html", {}, "<html><head><title>Unauthorized</title></head></html>"});

    if (req.path == "/identity") {
        Element mc{"MediaContainer", {}, {}};
        std::string mid = behaviour == Behaviour::wrong_identity ? "another-server-" + s.machine_id : s.machine_id;
        mc.set("size", int64_t{0}).set("claimed", true).set("machineIdentifier", mid).set("version", s.version);
        return reply(render(req, mc));
    }
    if (auto busy = rate_limited(server_index)) return reply(std::move(*busy));
    for (auto& f : failures[server_index])
        if (f.count > 0 && req.method == f.method && common::text::starts_with(req.path, f.path_prefix)) {
            --f.count;
            return reply(Response{f.status, "text/html", {}, "<html><body>Internal Server Error</body></html>"});
        }
    // A different server answering on this address does not know our token.
    if (behaviour == Behaviour::wrong_identity)
        return reply(Response{401, "text/html", {}, "<html><head><title>Unauthorized</title></head></html>"});
    // Everything else needs a token the server accepts.
    std::string token = token_of(req);
    // A Home member reaches the admin's servers with its own server token.
    const SimHomeUser* member = s.owned ? member_of(token, true) : nullptr;
    bool ok = !token.empty() && (token == s.access_token || (s.owned && token == account.token) || member) &&
              revoked.find(token) == revoked.end();
    if (!ok)
        return reply(
            Response{401,
                     "text/html",
                     {},
                     "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"});

    auto params = common::text::parse_query(req.query);
    auto param = [&](const char* k) { return common::text::query_get(params, k).value_or(""); };
    bool include_guids = param("includeGuids") == "1";

    // Refreshing, scanning and editing are the owner's (admin) calls: a
    // token of a server shared with a friend is refused, as PMS refuses a
    // friend's token (401; the exact status real PMS gives may be 403 on
    // some versions: the plugin treats both alike).
    bool admin =
        (req.method == "PUT" && (common::text::starts_with(req.path, "/library/metadata/") ||
                                 common::text::starts_with(req.path, "/library/sections/"))) ||
        (common::text::starts_with(req.path, "/library/sections/") && req.path.find("/refresh") != std::string::npos);
    if (admin && (!s.owned || member))
        return reply(
            Response{401,
                     "text/html",
                     {},
                     "<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"});

    if (req.path == "/" && req.method == "GET") {
        // The server's attributes, with the values and types of a PMS 1.25
        // capture (plex-api.rs tests/mocks/server/media/providers_plexpass.json
        // and providers_free.json: /media/providers repeats what / says about
        // the server); python-plexapi and @ctrl/plex read them at connect,
        // and @ctrl/plex fails without ownerFeatures. hubSearch, multiuser
        // and transcoderPhoto are booleans python-plexapi's PlexServer reads
        // that newer servers send. The capture's feature list is shortened
        // to named features; the directories / lists are left out.
        bool pass = account.plex_pass;
        std::string features = "adaptive_bitrate,collections,federated-auth,home,livetv";
        if (pass)
            features =
                "adaptive_bitrate,camera_upload,cloudsync,collections,content_filter,download_certificates,"
                "dvr,federated-auth,hardware_transcoding,home,hwtranscode,livetv,lyrics,music_videos,pass,"
                "sync,trailers,webhooks";
        Element mc{"MediaContainer", {}, {}};
        mc.set("size", int64_t{0}).set("allowCameraUpload", true).set("allowChannelAccess", true);
        mc.set("allowMediaDeletion", true).set("allowSharing", true).set("allowSync", true).set("allowTuners", true);
        mc.set("backgroundProcessing", true).set("certificate", true).set("companionProxy", true);
        mc.set("countryCode", std::string("gbr")).set("diagnostics", std::string("logs,databases,streaminglogs"));
        mc.set("eventStream", true).set("friendlyName", s.name).set("hubSearch", true).set("livetv", int64_t{7});
        mc.set("machineIdentifier", s.machine_id).set("multiuser", true).set("musicAnalysis", int64_t{2});
        mc.set("myPlex", true);
        mc.set("myPlexMappingState", std::string("mapped")).set("myPlexSigninState", std::string("ok"));
        mc.set("myPlexSubscription", pass).set("myPlexUsername", account.email).set("offlineTranscode", int64_t{1});
        mc.set("ownerFeatures", features).set("photoAutoTag", true).set("platform", s.platform);
        mc.set("platformVersion", std::string("6.1.0")).set("pluginHost", true).set("pushNotifications", false);
        mc.set("readOnlyLibraries", false).set("streamingBrainABRVersion", int64_t{3});
        mc.set("streamingBrainVersion", int64_t{2}).set("sync", true).set("transcoderActiveVideoSessions", int64_t{0});
        mc.set("transcoderAudio", true).set("transcoderLyrics", true).set("transcoderPhoto", true);
        mc.set("transcoderSubtitles", true);
        mc.set("transcoderVideo", true);
        mc.set("transcoderVideoBitrates", std::string("64,96,208,320,720,1500,2000,3000,4000,8000,10000,12000,20000"));
        mc.set("transcoderVideoQualities", std::string("0,1,2,3,4,5,6,7,8,9,10,11,12"));
        mc.set("transcoderVideoResolutions", std::string("128,128,160,240,320,480,768,720,720,1080,1080,1080,1080"));
        mc.set("updatedAt", int64_t{1628211599}).set("updater", true).set("version", s.version);
        mc.set("voiceSearch", true);
        return reply(render(req, mc));
    }
    if (req.path == "/library" && req.method == "GET") {
        // Not in tests/fixtures/; shaped after python-plexapi's Library
        // (key '/library': identifier "com.plexapp.plugins.library", title1
        // "Plex Library", title2 blank) and the PMS XML of /library quoted
        // in public client tests (one from PMS 1.41.5): these attributes and
        // these three Directory entries. @ctrl/plex's library() reads it.
        Element mc{"MediaContainer", {}, {}};
        mc.set("size", int64_t{3}).set("allowSync", false).set("art", std::string("/:/resources/library-art.png"));
        mc.set("content", std::string("")).set("identifier", std::string("com.plexapp.plugins.library"));
        mc.set("mediaTagPrefix", std::string("/system/bundle/media/flags/"))
            .set("mediaTagVersion", int64_t{1634922197});
        mc.set("title1", std::string("Plex Library")).set("title2", std::string(""));
        for (const auto& [key, title] :
             {std::pair{"sections", "Library Sections"}, std::pair{"recentlyAdded", "Recently Added Content"},
              std::pair{"onDeck", "On Deck Content"}})
            mc.add("Directory", Element{"Directory", {{"key", std::string(key)}, {"title", std::string(title)}}, {}});
        return reply(render(req, mc));
    }
    if (req.path == "/hubs/search" && req.method == "GET") {
        // The search of the whole server: one Hub per type of item found,
        // its items as Metadata, at most `limit` each ("3 if not
        // specified"); hubIdentifier is the type (plex-api-spec, "Search
        // Hub" and its Hub schema; python-plexapi and @ctrl/plex
        // PlexServer.search()). Here a match is a title containing the
        // query (any ASCII case); real PMS also spell-checks and adds hubs of
        // related actors, genres and so on, which this does not.
        std::string query = common::text::to_lower(param("query"));
        int64_t limit = to_int(param("limit"), 3);
        Element mc{"MediaContainer", {}, {}};
        int64_t hubs = 0;
        for (const auto& [type, title] : {std::pair{"movie", "Movies"}, std::pair{"show", "Shows"},
                                          std::pair{"season", "Seasons"}, std::pair{"episode", "Episodes"}}) {
            Element hub{"Hub", {}, {}};
            int64_t found = 0;
            for (const auto& [k, it] : s.items) {
                if (query.empty() || it.type != type ||
                    common::text::to_lower(it.title).find(query) == std::string::npos)
                    continue;
                if (found++ < limit) hub.add("Metadata", item_element(s, it, include_guids));
            }
            if (found == 0) continue;
            hub.set("title", std::string(title)).set("type", std::string(type));
            hub.set("hubIdentifier", std::string(type)).set("size", std::min(found, limit));
            hub.set("more", found > limit);
            mc.add("Hub", hub);
            ++hubs;
        }
        mc.set("size", hubs);
        return reply(render(req, mc));
    }
    if (req.path == "/myplex/account") {
        Element mc{"MyPlex", {}, {}};
        mc.set("authToken", std::string("")).set("username", account.email).set("signInState", std::string("ok"));
        mc.set("mappingState", std::string("mapped")).set("publicAddress", std::string("203.0.113.7"));
        Element wrap{"MediaContainer", {}, {}};
        if (wants_json(req)) {
            wrap.attrs = mc.attrs;
            return reply(render(req, wrap));
        }
        return reply(Response{200, "application/xml", {}, mc.xml()});
    }
    // What a restricted Home member may see: only its sections.
    auto may_see = [&](int64_t section) {
        return !member || member->sections.empty() ||
               std::find(member->sections.begin(), member->sections.end(), std::to_string(section)) !=
                   member->sections.end();
    };
    if (req.path == "/library/sections" && req.method == "GET") {
        Element mc{"MediaContainer", {}, {}};
        int64_t shown = 0;
        for (const auto& sec : s.sections) shown += may_see(sec.id);
        mc.set("size", shown).set("allowSync", false).set("title1", std::string("Plex Library"));
        for (const auto& sec : s.sections) {
            if (!may_see(sec.id)) continue;
            Element d{"Directory", {}, {}};
            d.set("allowSync", true).set("key", std::to_string(sec.id)).set("type", sec.type).set("title", sec.title);
            d.set("agent", sec.agent).set("scanner", sec.scanner).set("language", std::string("en-US"));
            d.set("uuid", sec.uuid).set("updatedAt", int64_t{1700000000}).set("createdAt", int64_t{1600000000});
            d.set("scannedAt", int64_t{1700000000}).set("content", true).set("directory", true);
            d.set("contentChangedAt", int64_t{123456}).set("hidden", int64_t{0});
            d.add("Location", Element{"Location", {{"id", sec.id}, {"path", sec.location}}, {}});
            mc.add("Directory", d);
        }
        return reply(render(req, mc));
    }

    // /library/sections/{id}/...
    if (common::text::starts_with(req.path, "/library/sections/")) {
        auto parts = common::text::split(std::string_view(req.path).substr(18), '/');
        int64_t sid = to_int(std::string(parts[0]), -1);
        const SimSection* sec = nullptr;
        for (const auto& x : s.sections)
            if (x.id == sid && may_see(x.id)) sec = &x;
        if (sec == nullptr) return reply(Response{404, "text/html", {}, "<html>404 Not Found</html>"});
        std::string sub = parts.size() > 1 ? std::string(parts[1]) : "";
        if (sub == "refresh" && (req.method == "GET" || req.method == "POST" || req.method == "PUT")) {
            // A scan of the section, or of one folder of it (?path=).
            std::string dir = param("path");
            for (auto& [k, item] : s.items)
                if (item.section_id == sid && !item.file.empty() &&
                    (dir.empty() || common::text::starts_with(item.file, dir + "/") ||
                     common::text::starts_with(item.file, dir + "\\")))
                    rescan_subtitles(item, true, refresh_lag[server_index]);
            return reply(Response{200, "text/html", {}, ""});
        }
        if (sub == "all" && req.method == "PUT") {
            // The edit that sets addedAt: numbers only (ISO 8601 made real PMS fail).
            auto it = s.items.find(param("id"));
            std::string value = param("addedAt.value");
            int64_t when = to_int(value, -1);
            if (it == s.items.end() || it->second.section_id != sid)
                return reply(Response{404, "text/html", {}, "<html>404 Not Found</html>"});
            if (when < 0) return reply(Response{500, "text/html", {}, "<html>500 Internal Server Error</html>"});
            it->second.added_at = when;
            it->second.added_at_locked = param("addedAt.locked") == "1";
            return reply(Response{200, "text/html", {}, ""});
        }
        if (sub == "all" && req.method == "GET") {
            std::string type = param("type");
            std::string guid = param("guid");
            // "addedAt>>=N" (at or after N) parses as key "addedAt>>", value N.
            int64_t added_min = to_int(param("addedAt>>"), INT64_MIN);
            if (added_min != INT64_MIN) added_min -= 1;
            std::string type_name = type == "1"   ? "movie"
                                    : type == "2" ? "show"
                                    : type == "3" ? "season"
                                    : type == "4" ? "episode"
                                                  : "";
            if (type.empty()) type_name = sec->type == "movie" ? "movie" : sec->type == "show" ? "show" : "";
            // A string field in a media query: "title=x" is "contains x",
            // "title==x" (key "title=") is "equals x" (the media query
            // operators of the community API description, plex-api-spec
            // description.md). Contains ignores ASCII case here.
            auto title_part = common::text::query_get(params, "title");
            auto title_equal = common::text::query_get(params, "title=");            // "title%3D=x"
            if (title_part && !title_part->empty() && title_part->front() == '=') {  // "title==x", raw
                title_equal = title_part->substr(1);
                title_part.reset();
            }
            std::vector<const SimItem*> matches;
            for (const auto& [k, it] : s.items) {
                if (it.section_id != sid || it.type != type_name) continue;
                // Real PMS: guid= compares the primary guid only.
                if (!guid.empty() && it.guid != guid) continue;
                if (title_part &&
                    common::text::to_lower(it.title).find(common::text::to_lower(*title_part)) == std::string::npos)
                    continue;
                if (title_equal && it.title != *title_equal) continue;
                if (added_min != INT64_MIN && it.added_at <= added_min) continue;
                matches.push_back(&it);
            }
            int64_t start = to_int(req.header("X-Plex-Container-Start"), to_int(param("X-Plex-Container-Start"), 0));
            int64_t size = to_int(req.header("X-Plex-Container-Size"), to_int(param("X-Plex-Container-Size"), -1));
            Element mc{"MediaContainer", {}, {}};
            int64_t total = static_cast<int64_t>(matches.size());
            int64_t end = size < 0 ? total : std::min(total, start + size);
            int64_t shown = std::max<int64_t>(0, end - start);
            mc.set("size", shown);
            if (size >= 0) mc.set("totalSize", total).set("offset", start);
            mc.set("librarySectionID", sid).set("librarySectionTitle", sec->title).set("viewGroup", type_name);
            for (int64_t i = start; i < end; ++i) mc.add("Metadata", item_element(s, *matches[i], include_guids));
            return reply(render(req, mc));
        }
        return reply(Response{404, "text/html", {}, "<html>404 Not Found</html>"});
    }

    if (common::text::starts_with(req.path, "/library/metadata/")) {
        auto parts = common::text::split(std::string_view(req.path).substr(18), '/');
        auto it = s.items.find(std::string(parts[0]));
        if (it == s.items.end()) return reply(Response{404, "text/html", {}, "<html>404 Not Found</html>"});
        std::string sub = parts.size() > 1 ? std::string(parts[1]) : "";
        if (sub == "refresh" && req.method == "PUT") {
            rescan_subtitles(it->second, false, refresh_lag[server_index]);
            return reply(Response{200, "text/html", {}, ""});
        }
        Element mc{"MediaContainer", {}, {}};
        mc.set("librarySectionID", it->second.section_id);
        if (sub.empty() && req.method == "GET") {
            mc.set("size", int64_t{1});
            mc.add("Metadata", item_element(s, it->second, include_guids, true));
            return reply(render(req, mc));
        }
        if ((sub == "children" || sub == "allLeaves") && req.method == "GET") {
            std::vector<const SimItem*> kids;
            for (const auto& [k, x] : s.items) {
                bool child = sub == "children" ? x.parent_key == it->first
                                               : (x.type == "episode" &&
                                                  (x.grandparent_key == it->first || x.parent_key == it->first));
                if (child) kids.push_back(&x);
            }
            std::sort(kids.begin(), kids.end(), [](auto* a, auto* b) { return a->index < b->index; });
            mc.set("size", static_cast<int64_t>(kids.size())).set("key", it->first);
            for (auto* k : kids) mc.add("Metadata", item_element(s, *k, include_guids));
            return reply(render(req, mc));
        }
    }
    reply(Response{404, "text/html", {}, "<html>404 Not Found</html>"});
}

// ---------------------------------------------------------------- set-up

Simulator::Simulator() : state_(std::make_shared<State>()), account_(state_->account) {}

Simulator::~Simulator() { stop(); }

std::size_t Simulator::add_server(SimServer server) {
    std::lock_guard lock(state_->mu);
    if (server.plex_direct_hash.empty()) server.plex_direct_hash = common::text::random_hex(16);
    if (server.access_token.empty())
        server.access_token = server.owned ? state_->account.token : "shared-" + common::text::random_hex(10);
    state_->servers.push_back(std::move(server));
    return state_->servers.size() - 1;
}

SimServer& Simulator::server(std::size_t index) { return state_->servers.at(index); }

std::string Simulator::State::uri_for(const Conn& c) const {
    const auto& s = servers[c.server_index];
    std::string scheme = c.spec.tls || c.spec.behaviour == Behaviour::bad_certificate ? "https" : "http";
    if (c.spec.plex_direct_name) {
        std::string dashed = c.spec.bind;
        std::replace(dashed.begin(), dashed.end(), '.', '-');
        return scheme + "://" + dashed + "." + s.plex_direct_hash + ".plex.direct:" + std::to_string(c.port);
    }
    return scheme + "://" + c.spec.bind + ":" + std::to_string(c.port);
}

void Simulator::State::start_conn(Conn& c) {
    if (c.spec.behaviour == Behaviour::refused) return;
    if (c.spec.behaviour == Behaviour::unreachable) {
        for (int fd : unreachable_port(c.spec.bind, c.port)) unreachable_fds.push_back(fd);
        return;
    }
    httpserver::ListenOptions o;
    o.address = c.spec.bind;
    o.port = c.port;
    o.latency = c.spec.latency;
    o.server_header = "Plex Media Server";
    if (c.spec.tls) o.tls = tls;
    if (c.spec.behaviour == Behaviour::bad_certificate) o.tls = bad_tls;
    if (c.spec.behaviour == Behaviour::blackhole) o.fault = httpserver::Fault::blackhole;
    if (c.spec.behaviour == Behaviour::reset) o.fault = httpserver::Fault::reset;
    if (c.spec.behaviour == Behaviour::slow_body) o.fault = httpserver::Fault::slow_body;
    std::size_t idx = c.server_index;
    Behaviour b = c.spec.behaviour;
    o.handler = [this, idx, b](Request&& r, Responder respond) {
        handle_pms(idx, b, std::move(r), std::move(respond));
    };
    std::string err;
    uint16_t port = http->listen(o, &err);
    if (port != 0) c.port = port;
}

uint16_t Simulator::add_connection(std::size_t server_index, ConnectionSpec spec) {
    std::lock_guard lock(state_->mu);
    Conn c;
    c.server_index = server_index;
    c.spec = spec;
    // Reserve the port now so the URI is known before start().
    c.port = httpserver::reserve_refusing_port(spec.bind);
    if (state_->started) state_->start_conn(c);
    c.uri = state_->uri_for(c);
    state_->conns.push_back(c);
    return c.port;
}

void Simulator::kill_connection(uint16_t port) {
    std::lock_guard lock(state_->mu);
    if (state_->http) state_->http->close(port);
}

void Simulator::revive_connection(uint16_t port) {
    std::lock_guard lock(state_->mu);
    for (auto& c : state_->conns)
        if (c.port == port && state_->started) state_->start_conn(c);
}

void Simulator::advertise_uri(std::size_t server_index, const std::string& uri, bool local, bool relay) {
    std::lock_guard lock(state_->mu);
    state_->advertised.push_back({server_index, uri, local, relay});
}

void Simulator::add_demo_world() {
    SimServer s;
    s.name = "Living Room";
    s.machine_id = "5d3e8f0a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e";
    add_sample_library(s);
    auto idx = add_server(std::move(s));
    add_connection(idx, ConnectionSpec{Behaviour::normal, true, true, false, {}, true});
    add_connection(idx, ConnectionSpec{Behaviour::normal, false, true, false, {}, false});
}

void Simulator::start(uint16_t plextv_port, const std::string& bind) {
    auto& st = *state_;
    std::lock_guard lock(st.mu);
    if (st.started) return;
    // plex.tv too, for clients that only know https://plex.tv and reach
    // the TLS listener below by that name.
    std::vector<std::string> names = {"plex.tv"};
    for (const auto& s : st.servers) names.push_back("*." + s.plex_direct_hash + ".plex.direct");
    st.ca = make_test_ca(names);
    st.untrusted = make_untrusted_cert();
    st.tls = server_context(st.ca);
    st.bad_tls = server_context(st.untrusted);
    st.http = std::make_unique<httpserver::HttpServer>(st.ioc);
    st.bind = bind;
    httpserver::ListenOptions o;
    o.address = bind;
    o.port = plextv_port;
    o.server_header = "openresty";
    o.handler = [&st](Request&& r, Responder respond) { st.handle_plextv(std::move(r), std::move(respond)); };
    std::string err;
    st.plextv_port = st.http->listen(o, &err);
    if (st.plextv_port == 0) throw std::runtime_error("plexsim: " + err);
    o.port = 0;
    o.tls = st.tls;
    st.plextv_tls_port = st.http->listen(o, &err);
    if (st.plextv_tls_port == 0) throw std::runtime_error("plexsim: " + err);
    for (auto& c : st.conns) {
        st.start_conn(c);
        c.uri = st.uri_for(c);
    }
    st.work.emplace(st.ioc.get_executor());
    st.thread = std::thread([&st] { st.ioc.run(); });
    st.started = true;
}

void Simulator::stop() {
    auto& st = *state_;
    {
        std::lock_guard lock(st.mu);
        if (!st.started) return;
        st.started = false;
    }
    st.http->stop();
    st.work.reset();
    // Give the close handlers a moment, then stop hard (blackholes hold sockets).
    st.ioc.stop();
    if (st.thread.joinable()) st.thread.join();
    st.http.reset();
    std::lock_guard lock(st.mu);
    for (int fd : st.unreachable_fds) ::close(fd);
    st.unreachable_fds.clear();
}

std::string Simulator::plextv_url() const {
    return "http://" + state_->bind + ":" + std::to_string(state_->plextv_port);
}

std::string Simulator::plextv_tls_url() const {
    return "https://" + state_->bind + ":" + std::to_string(state_->plextv_tls_port);
}

const std::string& Simulator::ca_pem() const { return state_->ca.ca_cert_pem; }

bool Simulator::write_ca_file(const std::string& path) const {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << state_->ca.ca_cert_pem;
    return static_cast<bool>(f);
}

void Simulator::set_pin_expires_in(int seconds) {
    std::lock_guard lock(state_->mu);
    state_->pin_expires_in = seconds;
}

void Simulator::link_pin(const std::string& code) {
    std::lock_guard lock(state_->mu);
    for (auto& [id, p] : state_->pins)
        if (p.code == code) p.linked = true;
}

void Simulator::revoke_token(const std::string& token, int status) {
    std::lock_guard lock(state_->mu);
    state_->revoked[token] = status;
}

void Simulator::fail_next(std::size_t server_index, const std::string& method, const std::string& path_prefix,
                          int status, int count) {
    std::lock_guard lock(state_->mu);
    state_->failures[server_index].push_back({method, path_prefix, status, count});
}

void Simulator::set_plextv_fault(PlexTvFault fault) {
    std::lock_guard lock(state_->mu);
    state_->plextv_fault = fault;
}

void Simulator::set_plextv_down(bool down) {
    std::lock_guard lock(state_->mu);
    state_->plextv_down = down;
}

std::string Simulator::rotate_account_token() {
    std::lock_guard lock(state_->mu);
    state_->account.token = "sim-account-token-" + common::text::random_hex(10);
    return state_->account.token;
}

SimHomeUser Simulator::add_home_user(SimHomeUser user) {
    std::lock_guard lock(state_->mu);
    return state_->add_home(std::move(user));
}

void Simulator::set_home_v2_gone(bool gone) {
    std::lock_guard lock(state_->mu);
    state_->home_v2_gone = gone;
}

void Simulator::set_account_pin(const std::string& pin) {
    std::lock_guard lock(state_->mu);
    state_->account.pin = pin;
}

std::string Simulator::account_token() const {
    std::lock_guard lock(state_->mu);
    return state_->account.token;
}

void Simulator::set_refresh_lag(std::size_t server_index, std::chrono::milliseconds lag) {
    std::lock_guard lock(state_->mu);
    state_->refresh_lag[server_index] = lag;
}

void Simulator::set_plextv_rate_limit(int answers, int retry_after_s) {
    std::lock_guard lock(state_->mu);
    state_->rate_limits[SIZE_MAX] = {answers, retry_after_s};
}

void Simulator::set_pms_rate_limit(std::size_t server_index, int answers, int retry_after_s) {
    std::lock_guard lock(state_->mu);
    state_->rate_limits[server_index] = {answers, retry_after_s};
}

void Simulator::set_slow_answers(std::size_t server_index, std::chrono::milliseconds delay) {
    std::lock_guard lock(state_->mu);
    state_->slow_answers[server_index] = delay;
}

bool Simulator::write_subtitle(std::size_t server_index, const std::string& rating_key, SimSubtitle sub) {
    std::lock_guard lock(state_->mu);
    auto& items = state_->servers.at(server_index).items;
    auto it = items.find(rating_key);
    if (it == items.end()) return false;
    static int64_t next_id = 566400;  // near the capture's stream ids
    sub.id = ++next_id;
    sub.on_disk = true;
    sub.listed = false;
    auto& subs = it->second.subtitles;
    // Overwriting a file (an upgrade) keeps what Plex lists until it rereads it.
    for (auto& old : subs)
        if (old.file == sub.file && old.on_disk) {
            old.on_disk = false;
            break;
        }
    subs.push_back(std::move(sub));
    return true;
}

bool Simulator::delete_subtitle(std::size_t server_index, const std::string& rating_key, const std::string& file) {
    std::lock_guard lock(state_->mu);
    auto& items = state_->servers.at(server_index).items;
    auto it = items.find(rating_key);
    if (it == items.end()) return false;
    bool found = false;
    for (auto& s : it->second.subtitles)
        if (s.file == file) s.on_disk = false, found = true;
    return found;
}

std::vector<std::string> Simulator::listed_subtitles(std::size_t server_index, const std::string& rating_key) const {
    std::lock_guard lock(state_->mu);
    std::vector<std::string> out;
    const auto& items = state_->servers.at(server_index).items;
    auto it = items.find(rating_key);
    if (it != items.end())
        for (const auto& s : it->second.subtitles)
            if (s.visible()) out.push_back(s.file);
    return out;
}

void Simulator::set_server_token(std::size_t server_index, const std::string& token) {
    std::lock_guard lock(state_->mu);
    state_->servers.at(server_index).access_token = token;
}

void Simulator::set_plex_pass(bool on) {
    std::lock_guard lock(state_->mu);
    state_->account.plex_pass = on;
}

void Simulator::set_resources_v2_broken(bool broken) {
    std::lock_guard lock(state_->mu);
    state_->resources_v2_broken = broken;
}

std::vector<RequestRecord> Simulator::requests() const {
    std::lock_guard lock(state_->mu);
    return state_->log;
}

std::vector<RequestRecord> Simulator::requests_matching(const std::string& method, const std::string& prefix) const {
    std::vector<RequestRecord> out;
    for (auto& r : requests())
        if ((method.empty() || r.method == method) && common::text::starts_with(r.path, prefix)) out.push_back(r);
    return out;
}

void Simulator::clear_requests() {
    std::lock_guard lock(state_->mu);
    state_->log.clear();
}

std::vector<std::string> Simulator::webhooks() const {
    std::lock_guard lock(state_->mu);
    return state_->webhooks;
}

void Simulator::set_jwt_lifetime(std::chrono::seconds lifetime) {
    std::lock_guard lock(state_->mu);
    state_->jwt.set_lifetime(lifetime);
}

void Simulator::rotate_jwt_key() {
    std::lock_guard lock(state_->mu);
    state_->jwt.rotate_key();
}

void Simulator::set_nonce_limit(int per_window) {
    std::lock_guard lock(state_->mu);
    state_->jwt.set_nonce_limit(per_window);
}

void Simulator::expire_jwts() {
    std::lock_guard lock(state_->mu);
    state_->jwt.expire_all();
}

std::string Simulator::jwt_keys_json() const {
    std::lock_guard lock(state_->mu);
    return state_->jwt.keys_json();
}

}  // namespace pb::sim

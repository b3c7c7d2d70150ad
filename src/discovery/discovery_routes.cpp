#include "discovery/discovery_routes.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "auth/auth_routes.hpp"
#include "common/json_util.hpp"
#include "discovery/racer.hpp"
#include "http/url.hpp"
#include "plugin/plugin.hpp"

namespace pb::discovery {

namespace bj = boost::json;
using plugin::Call;
using plugin::member_handler;
using plugin::Reply;

DiscoveryRoutes::DiscoveryRoutes(plugin::Plugin& plugin) : plugin_(plugin), pms_(std::make_shared<PmsClient>(plugin)) {}

void DiscoveryRoutes::register_routes() {
    plugin_.add_route("GET", "/api/plex/oauth/servers", member_handler(this, &DiscoveryRoutes::servers));
    plugin_.add_route("POST", "/api/plex/test-connection", member_handler(this, &DiscoveryRoutes::test_connection));
    plugin_.add_route("GET", "/api/plex/select-server", member_handler(this, &DiscoveryRoutes::get_selection));
    plugin_.add_route("POST", "/api/plex/select-server", member_handler(this, &DiscoveryRoutes::select));
    plugin_.add_route("GET", "/api/plex/oauth/libraries", member_handler(this, &DiscoveryRoutes::libraries));
}

void DiscoveryRoutes::with_resources(
    std::function<void(std::optional<std::vector<plexapi::Resource>>, std::optional<plexapi::ApiError>)> cb,
    bool fresh) {
    if (!fresh && !cache_.empty() && std::chrono::steady_clock::now() - cached_at_ < std::chrono::seconds(60))
        return cb(cache_, std::nullopt);
    std::string why;
    vault::Secret token = plugin_.current_token(&why);
    if (token.empty()) return cb(std::nullopt, plexapi::ApiError{plexapi::ApiErrorKind::token_rejected, 0, why});
    plugin_.plextv().get_resources(token.str(), [this, cb](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
        if (r.error) return cb(std::nullopt, r.error);
        std::vector<plexapi::Resource> servers;
        for (auto& res : *r.value)
            if (res.is_server()) servers.push_back(std::move(res));
        for (auto& s : servers)  // secrets of shared servers must not reach logs either
            if (!s.access_token.empty()) plugin_.secrets().add(s.access_token);
        cache_ = servers;
        cached_at_ = std::chrono::steady_clock::now();
        cb(std::move(servers), std::nullopt);
    });
}

static bj::object connection_json(const ProbeOutcome& o) {
    const auto& c = o.connection;
    bj::object j{{"uri", c.uri},
                 {"protocol", c.protocol},
                 {"address", c.address},
                 {"port", c.port},
                 {"local", c.local},
                 {"relay", c.relay},
                 {"IPv6", c.ipv6},
                 {"available", o.available},
                 {"latency_ms", o.latency_ms >= 0 ? bj::value(o.latency_ms) : bj::value(nullptr)},
                 {"error", o.error.empty() ? bj::value(nullptr) : bj::value(o.error)},
                 {"reason", o.reason}};
    if (!o.connect_address.empty()) j["connected_via"] = o.connect_address;
    return j;
}

static void reply_error(const Reply& reply, const plexapi::ApiError& e, const std::string& what) {
    if (e.kind == plexapi::ApiErrorKind::token_rejected && e.http_status == 0)
        return reply.error(401, "PLEX_NOT_SIGNED_IN", e.message);
    auto h = plugin::to_http(e);
    reply.error(h.status, h.code, what + ": " + e.message);
}

void DiscoveryRoutes::servers(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        with_resources(
            [this, reply](auto servers, auto err) {
                if (err) return reply_error(reply, *err, "Could not list your Plex servers");
                auto s = plugin_.settings();
                RaceOptions opts =
                    race_options(std::chrono::milliseconds(s.connect_timeout_ms), s.verify_tls, plugin_.identity());
                race(plugin_.client(), std::move(*servers), opts, {},
                     [reply](const std::vector<ServerReport>& reports) {
                         bj::array out;
                         for (const auto& rep : reports) {
                             bj::array conns;
                             for (const auto& o : rep.outcomes) conns.push_back(connection_json(o));
                             bj::object j{
                                 {"name", rep.server.name},
                                 {"machineIdentifier", rep.server.client_identifier},
                                 {"version", rep.server.product_version},
                                 {"platform", rep.server.platform},
                                 {"device", rep.server.device},
                                 {"owned", rep.server.owned},
                                 {"presence", rep.server.presence},
                                 {"connections", conns},
                                 {"bestConnection",
                                  rep.best ? bj::value(connection_json(rep.outcomes[*rep.best])) : bj::value(nullptr)}};
                             if (!rep.server.owned) j["sharedBy"] = rep.server.source_title;
                             out.push_back(std::move(j));
                         }
                         reply.data(out);
                     });
            },
            true);
    });
}

void DiscoveryRoutes::test_connection(Call& call, Reply reply) {
    auto body = json::parse_lenient(call.body);
    auto uri = body ? json::get_string(*body, "uri") : std::nullopt;
    if (!uri || !http::parse_url(*uri)) return reply.error(400, "PLEX_BAD_REQUEST", "uri: must be an http(s) URL");
    boost::asio::post(plugin_.io(), [this, reply, uri = *uri] {
        auto s = plugin_.settings();
        // Only addresses that belong to the account's servers (or the legacy
        // address the user typed) are ever contacted.
        auto probe = [this, reply, s](plexapi::Resource server, plexapi::Connection conn) {
            server.connections = {conn};
            RaceOptions opts =
                race_options(std::chrono::milliseconds(s.connect_timeout_ms), s.verify_tls, plugin_.identity());
            race(plugin_.client(), {server}, opts, {}, [reply](const std::vector<ServerReport>& reps) {
                const auto& o = reps.at(0).outcomes.at(0);
                reply.data(bj::object{{"success", o.available},
                                      {"latency_ms", o.latency_ms >= 0 ? bj::value(o.latency_ms) : bj::value(nullptr)},
                                      {"error", o.error.empty() ? bj::value(nullptr) : bj::value(o.error)}});
            });
        };
        if (s.auth_method == "apikey" && http::parse_url(uri) &&
            http::parse_url(uri)->origin() == http::parse_url(s.legacy_url())->origin()) {
            // Legacy: the machine identifier is not known; accept any server.
            plexapi::Connection c;
            c.uri = uri;
            std::string why;
            http::Request r;
            r.url = http::join_url(uri, "/identity");
            r.timeout = std::chrono::milliseconds(s.connect_timeout_ms);
            r.verify = s.verify_tls ? http::TlsVerify::verify : http::TlsVerify::skip;
            r.peer_name = "Plex Media Server";
            auto start = std::chrono::steady_clock::now();
            plugin_.client()->async_request(r, [reply, start](http::Result res) {
                auto ms =
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)
                        .count();
                bool ok = res.ok() && res.response->status == 200 && plexapi::parse_identity(res.response->body);
                std::string err = res.error ? res.error->message
                                  : ok      ? ""
                                            : "answered HTTP " + std::to_string(res.response->status) + " to /identity";
                reply.data(bj::object{{"success", ok},
                                      {"latency_ms", ok ? bj::value(ms) : bj::value(nullptr)},
                                      {"error", ok ? bj::value(nullptr) : bj::value(err)}});
            });
            return;
        }
        with_resources(
            [reply, uri, probe](auto servers, auto err) {
                if (err) return reply_error(reply, *err, "Could not list your Plex servers");
                for (const auto& srv : *servers)
                    for (const auto& c : srv.connections)
                        if (c.uri == uri) return probe(srv, c);
                reply.error(403, "PLEX_UNKNOWN_ADDRESS",
                            "This address is not one of your Plex servers' addresses; it was not contacted.");
            },
            false);
    });
}

void DiscoveryRoutes::get_selection(Call&, Reply reply) {
    auto s = plugin_.settings();
    auto all = plugin_.settings_json();
    bj::value conns = all.contains("server_connections") ? all.at("server_connections") : bj::array{};
    reply.data(bj::object{{"machineIdentifier", s.server_machine_id},
                          {"name", s.server_name},
                          {"uri", s.manual_server_url.empty() ? s.server_url : s.manual_server_url},
                          {"local", s.server_local},
                          {"manual", !s.manual_server_url.empty()},
                          {"connections", conns}});
}

void DiscoveryRoutes::select(Call& call, Reply reply) {
    auto body = json::parse_lenient(call.body);
    if (!body || !body->is_object()) return reply.error(400, "PLEX_BAD_REQUEST", "the body must be a JSON object");
    auto machine = json::get_string(*body, "machineIdentifier");
    auto uri = json::get_string(*body, "uri");
    if (!machine || machine->empty()) return reply.error(400, "PLEX_BAD_REQUEST", "machineIdentifier: required");
    boost::asio::post(plugin_.io(), [this, reply, machine = *machine, uri = uri.value_or("")] {
        with_resources(
            [this, reply, machine, uri](auto servers, auto err) {
                if (err) return reply_error(reply, *err, "Could not list your Plex servers");
                for (const auto& srv : *servers) {
                    if (srv.client_identifier != machine) continue;
                    const plexapi::Connection* chosen = nullptr;
                    for (const auto& c : srv.connections)
                        if (c.uri == uri) chosen = &c;
                    if (!uri.empty() && chosen == nullptr)
                        return reply.error(400, "PLEX_BAD_REQUEST", "uri: not one of this server's addresses");
                    bj::array conns;
                    for (const auto& c : srv.connections)
                        conns.push_back({{"uri", c.uri}, {"local", c.local}, {"relay", c.relay}});
                    bj::object patch{
                        {"server_machine_id", srv.client_identifier},
                        {"server_name", srv.name},
                        {"server_url", chosen ? chosen->uri : ""},
                        {"server_local", chosen ? chosen->local : false},
                        {"server_connections", conns},
                        {"server_token",
                         srv.access_token.empty() ? std::string() : plugin_.vault().seal(srv.access_token)}};
                    std::string e;
                    if (!plugin_.write_settings(patch, &e))
                        return reply.error(500, "PLEX_STORAGE", "Could not store the server: " + e);
                    plugin_.log().info("selected Plex Media Server {} ({})", srv.name,
                                       chosen ? chosen->uri : "address to be chosen");
                    return reply.data(bj::object{{"success", true},
                                                 {"name", srv.name},
                                                 {"machineIdentifier", machine},
                                                 {"uri", chosen ? chosen->uri : ""},
                                                 {"connections", conns.size()}});
                }
                reply.error(404, "PLEX_SERVER_NOT_FOUND", "None of your Plex servers has this machineIdentifier.");
            },
            false);
    });
}

void DiscoveryRoutes::libraries(Call&, Reply reply) {
    boost::asio::post(plugin_.io(), [this, reply] {
        pms_->request(PmsRequest{"GET", "/library/sections", "", {}}, [this, reply](http::Result r,
                                                                                    const std::string& url) {
            if (r.error) {
                int status = r.error->kind == http::ErrorKind::timed_out         ? 504
                             : r.error->kind == http::ErrorKind::invalid_request ? 409
                                                                                 : 503;
                return reply.error(status, status == 409 ? "PLEX_NO_SERVER" : "PLEX_SERVER_UNREACHABLE",
                                   "Could not read the libraries: " + r.error->message);
            }
            if (r.response->status == 401)
                return reply.error(401, "PLEX_TOKEN_INVALID", "Plex Media Server refused the token; sign in again.");
            if (r.response->status != 200)
                return reply.error(502, "PLEX_SERVER_BAD_ANSWER",
                                   "Plex Media Server answered HTTP " + std::to_string(r.response->status));
            auto sections = plexapi::parse_sections(r.response->body);
            if (!sections)
                return reply.error(502, "PLEX_SERVER_BAD_ANSWER", "Could not read the libraries: " + sections.error);
            // Count each library's items concurrently (size 0: only totalSize).
            struct Acc {
                bj::array out;
                std::size_t left = 0;
                Reply reply;
            };
            auto acc = std::make_shared<Acc>(Acc{{}, 0, reply});
            std::vector<plexapi::Section> wanted;
            for (const auto& sec : *sections.value)
                if (sec.type == "movie" || sec.type == "show") wanted.push_back(sec);
            if (wanted.empty()) return reply.data(bj::array{});
            acc->left = wanted.size();
            acc->out.resize(wanted.size());
            for (std::size_t i = 0; i < wanted.size(); ++i) {
                auto sec = wanted[i];
                PmsRequest count{
                    "GET",
                    "/library/sections/" + sec.key + "/all?X-Plex-Container-Start=0&X-Plex-Container-Size=0",
                    "",
                    {}};
                pms_->request(count, [acc, sec, i](http::Result cr, const std::string&) {
                    int64_t n = -1;
                    if (cr.ok() && cr.response->status == 200)
                        if (auto page = plexapi::parse_items(cr.response->body)) n = page.value->total_size;
                    acc->out[i] = bj::object{{"key", sec.key},
                                             {"title", sec.title},
                                             {"type", sec.type},
                                             {"count", n >= 0 ? bj::value(n) : bj::value(nullptr)},
                                             {"agent", sec.agent},
                                             {"scanner", sec.scanner},
                                             {"language", sec.language},
                                             {"uuid", sec.uuid},
                                             {"updatedAt", sec.updated_at},
                                             {"createdAt", sec.created_at}};
                    if (--acc->left == 0) acc->reply.data(acc->out);
                });
            }
        });
    });
}

}  // namespace pb::discovery

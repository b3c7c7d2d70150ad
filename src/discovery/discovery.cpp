#include "discovery/discovery.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <utility>

#include "common/json.hpp"
#include "http/url.hpp"

namespace pb::discovery {

namespace bj = boost::json;
using common::Errc;
using common::Error;
using route::Call;
using route::member_handler;
using route::Reply;
using session::Freshness;
using session::ServerReport;

Discovery::Discovery(session::Session& session, route::Registry& routes) : session_(session) {
    routes.add("GET", "/api/plex/oauth/servers", member_handler(this, &Discovery::servers));
    routes.add("POST", "/api/plex/test-connection", member_handler(this, &Discovery::test_connection));
    routes.add("GET", "/api/plex/select-server", member_handler(this, &Discovery::get_selection));
    routes.add("POST", "/api/plex/select-server", member_handler(this, &Discovery::select));
    routes.add("GET", "/api/plex/oauth/libraries", member_handler(this, &Discovery::libraries));
}

static bj::object connection_json(const session::ProbeOutcome& o) {
    const auto& c = o.connection;
    bj::object j{{"uri", c.uri},
                 {"protocol", c.protocol},
                 {"address", c.address},
                 {"port", c.port},
                 {"local", c.local},
                 {"relay", c.relay},
                 {"IPv6", c.ipv6},
                 // null while the probe runs (or before it ran)
                 {"available", o.done ? bj::value(o.available) : bj::value(nullptr)},
                 {"latency_ms", o.latency_ms >= 0 ? bj::value(o.latency_ms) : bj::value(nullptr)},
                 {"error", o.error.empty() ? bj::value(nullptr) : bj::value(o.error)},
                 {"reason", o.reason}};
    if (!o.connect_address.empty()) j["connected_via"] = o.connect_address;
    return j;
}

// Not signed in says so plainly; anything else says what failed.
static void fail_listing(const Reply& reply, const Error& e) {
    if (e.code == Errc::not_signed_in) return reply.fail(e);
    reply.fail(e.context("Could not list your Plex servers"));
}

// One server as the route lists it; `best` null when none answered (or
// none was probed yet).
static bj::object server_json(const plexapi::Resource& server, bj::array connections, bj::value best) {
    bj::object j{{"name", server.name},
                 {"machineIdentifier", server.client_identifier},
                 {"version", server.product_version},
                 {"platform", server.platform},
                 {"device", server.device},
                 {"owned", server.owned},
                 {"presence", server.presence},
                 {"connections", std::move(connections)},
                 {"bestConnection", std::move(best)}};
    if (!server.owned) j["sharedBy"] = server.source_title;
    return j;
}

static bj::array listing_json(const std::vector<ServerReport>& reports) {
    bj::array out;
    for (const auto& rep : reports) {
        bj::array conns;
        for (const auto& o : rep.outcomes) conns.push_back(connection_json(o));
        out.push_back(server_json(rep.server, std::move(conns),
                                  rep.best ? bj::value(connection_json(rep.outcomes[*rep.best])) : bj::value(nullptr)));
    }
    return out;
}

// A listing asked for again this soon is the same one: the page is opened
// twice, two tabs, a host that lists before it selects.
constexpr auto kReuseListing = std::chrono::seconds(30);
// Polls read a listing this recent, never probe.
constexpr auto kPollListing = std::chrono::minutes(2);

// Whose listing it is (the sealed token, or the legacy key), and what else
// shapes one: the deadline and the TLS rule of the probes.
static std::string account_of(const settings::Settings& s) {
    return std::string(settings::to_string(s.auth_method)) + "\n" + s.stored_token();
}
static std::string made_with(const settings::Settings& s) {
    return account_of(s) + "\n" + std::to_string(s.connect_timeout_ms) + "\n" + (s.verify_tls ? "verify" : "skip");
}

const Discovery::Listing* Discovery::reusable() const {
    if (!last_ || !last_->decided) return nullptr;
    if (last_->made_with != made_with(*session_.settings().snapshot())) return nullptr;
    return std::chrono::steady_clock::now() - last_->started < kReuseListing ? last_.get() : nullptr;
}

// ?poll=1 never probes: it reads the last listing of this same account, or
// says there is none to read (the page then stops polling).
void Discovery::poll(Reply reply) {
    bool same_account = last_ && last_->account == account_of(*session_.settings().snapshot());
    if (!same_account || std::chrono::steady_clock::now() - last_->started > kPollListing)
        return reply.fail(Error(Errc::bad_request, "There is no recent server listing to poll: list the servers."));
    if (!last_->decided) return last_->waiting.push_back(std::move(reply));
    reply.data(last_->servers);
}

void Discovery::servers(Call& call, Reply reply) {
    // ?probe=0: the list as plex.tv gives it, at once, every connection
    // "available": null; the page shows it while the probes run.
    // ?poll=1: the last listing as its probes fill it in; no new probe.
    // ?refresh=1: probe again even if a recent listing could be reused.
    const bool probe = call.param("probe").value_or("1") != "0";
    const bool poll = call.param("poll").value_or("0") == "1";
    const bool refresh = call.param("refresh").value_or("0") == "1";
    boost::asio::post(session_.io(), [this, reply, probe, poll, refresh] {
        if (poll) return this->poll(reply);
        if (probe && !refresh)
            if (const Listing* known = reusable()) return reply.data(known->servers);
        session_.resources(Freshness::fresh,
                           [this, reply, probe](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                               if (!r) return fail_listing(reply, r.error());
                               if (!probe) {
                                   bj::array out;
                                   for (const auto& server : *r) {
                                       bj::array conns;
                                       for (const auto& c : server.connections) {
                                           session::ProbeOutcome o;
                                           o.connection = c;
                                           auto j = connection_json(o);
                                           j["reason"] = "not probed yet";
                                           conns.push_back(std::move(j));
                                       }
                                       out.push_back(server_json(server, std::move(conns), nullptr));
                                   }
                                   return reply.data(out);
                               }
                               // The answer goes out when every server has its choice: a
                               // silent address is then still "available": null, and fills
                               // in the listing that ?poll=1 reads (within one deadline).
                               auto listing = std::make_shared<Listing>();
                               listing->started = std::chrono::steady_clock::now();
                               auto settings = session_.settings().snapshot();
                               listing->account = account_of(*settings);
                               listing->made_with = made_with(*settings);
                               last_ = listing;
                               auto fill_in = [listing](const std::vector<ServerReport>& reports) {
                                   listing->servers = listing_json(reports);
                               };
                               race(
                                   session_.client(), std::move(*r), session_.race_options(),
                                   [reply, listing](const std::vector<ServerReport>& reports) {
                                       listing->servers = listing_json(reports);
                                       listing->decided = true;
                                       reply.data(listing->servers);
                                       for (auto& waiting : std::exchange(listing->waiting, {}))
                                           waiting.data(listing->servers);
                                   },
                                   fill_in, fill_in);
                           });
    });
}

void Discovery::test_connection(Call& call, Reply reply) {
    auto body = common::json::parse_lenient(call.body);
    auto uri = body ? common::json::get_string(*body, "uri") : std::nullopt;
    if (!uri || !http::parse_url(*uri)) return reply.fail(Error(Errc::bad_request, "uri: must be an http(s) URL"));
    boost::asio::post(session_.io(), [this, reply, uri = *uri] {
        // Only addresses that belong to the account's servers (or the legacy
        // address the user typed) are ever contacted.
        auto probe = [this, reply](plexapi::Resource server, plexapi::Connection conn, session::RaceOptions opts) {
            server.connections = {conn};
            race(session_.client(), {server}, opts, {}, [reply](const std::vector<ServerReport>& reps) {
                const auto& o = reps.at(0).outcomes.at(0);
                reply.data(bj::object{{"success", o.available},
                                      {"latency_ms", o.latency_ms >= 0 ? bj::value(o.latency_ms) : bj::value(nullptr)},
                                      {"error", o.error.empty() ? bj::value(nullptr) : bj::value(o.error)}});
            });
        };
        auto s = session_.settings().snapshot();
        auto legacy = http::parse_url(s->legacy_url());
        if (s->legacy() && legacy && http::parse_url(uri)->origin() == legacy->origin()) {
            // Legacy: the machine identifier is not known; any server will do.
            plexapi::Connection c;
            c.uri = uri;
            auto opts = session_.race_options();
            opts.accept = session::RaceOptions::Accept::any_server;
            return probe(plexapi::Resource{}, c, opts);
        }
        session_.resources(Freshness::cached_ok,
                           [this, reply, uri, probe](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                               if (!r) return fail_listing(reply, r.error());
                               for (const auto& srv : *r)
                                   for (const auto& c : srv.connections)
                                       if (c.uri == uri) return probe(srv, c, session_.race_options());
                               reply.fail(Error(Errc::unknown_address,
                                                "This address is not one of your Plex servers' addresses; it was not "
                                                "contacted."));
                           });
    });
}

void Discovery::get_selection(Call&, Reply reply) {
    auto s = session_.settings().snapshot();
    reply.data(bj::object{{"machineIdentifier", s->server_machine_id},
                          {"name", s->server_name},
                          {"uri", session::Session::server_url(*s)},
                          {"local", s->server_local},
                          {"manual", !s->manual_server_url.empty()},
                          {"connections", settings::to_json(s->server_connections)}});
}

void Discovery::select(Call& call, Reply reply) {
    auto body = common::json::parse_lenient(call.body);
    if (!body || !body->is_object()) return reply.fail(Error(Errc::bad_request, "the body must be a JSON object"));
    auto machine = common::json::get_string(*body, "machineIdentifier");
    auto uri = common::json::get_string(*body, "uri");
    if (!machine || machine->empty()) return reply.fail(Error(Errc::bad_request, "machineIdentifier: required"));
    boost::asio::post(session_.io(), [this, reply, machine = *machine, uri = uri.value_or("")] {
        session_.resources(
            Freshness::cached_ok, [this, reply, machine, uri](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                if (!r) return fail_listing(reply, r.error());
                for (const auto& srv : *r) {
                    if (srv.client_identifier != machine) continue;
                    const plexapi::Connection* chosen = nullptr;
                    for (const auto& c : srv.connections)
                        if (c.uri == uri) chosen = &c;
                    if (!uri.empty() && chosen == nullptr)
                        return reply.fail(Error(Errc::bad_request, "uri: not one of this server's addresses"));
                    if (auto st = session_.select_server(srv, chosen); !st)
                        return reply.fail(st.error().context("Could not store the server"));
                    session_.log().info("selected Plex Media Server {} ({})", srv.name,
                                        chosen ? chosen->uri : "address to be chosen");
                    return reply.data(bj::object{{"success", true},
                                                 {"name", srv.name},
                                                 {"machineIdentifier", machine},
                                                 {"uri", chosen ? chosen->uri : ""},
                                                 {"connections", srv.connections.size()}});
                }
                reply.fail(Error(Errc::server_not_found, "None of your Plex servers has this machineIdentifier."));
            });
    });
}

void Discovery::libraries(Call&, Reply reply) {
    boost::asio::post(session_.io(), [this, reply] {
        auto& pms = session_.pms();
        pms.request(
            session::PmsRequest{"GET", "/library/sections", "", {}}, [this, reply](http::Result r, const std::string&) {
                if (!r) return reply.fail(r.error().context("Could not read the libraries"));
                if (r->status == 401)
                    return reply.fail(
                        Error(Errc::token_rejected, std::string(session::kTokenRefused), common::Peer::pms, 401));
                if (r->status != 200) {
                    Error e = session::PmsClient::status_error(r->status);
                    e.code = Errc::bad_answer;  // whatever the status: the server failed us
                    return reply.fail(e);
                }
                auto sections = plexapi::parse_sections(r->body);
                if (!sections) {
                    Error e = sections.error().context("Could not read the libraries");
                    e.peer = common::Peer::pms;
                    return reply.fail(e);
                }
                // Count each library's items concurrently (size 0: only totalSize).
                struct Acc {
                    bj::array out;
                    std::size_t left = 0;
                    Reply reply;
                };
                std::vector<plexapi::Section> wanted;
                for (const auto& sec : *sections)
                    if (sec.type == "movie" || sec.type == "show") wanted.push_back(sec);
                if (wanted.empty()) return reply.data(bj::array{});
                auto acc = std::make_shared<Acc>(Acc{{}, wanted.size(), reply});
                acc->out.resize(wanted.size());
                for (std::size_t i = 0; i < wanted.size(); ++i) {
                    auto sec = wanted[i];
                    session::PmsRequest count{
                        "GET",
                        "/library/sections/" + sec.key + "/all?X-Plex-Container-Start=0&X-Plex-Container-Size=0",
                        "",
                        {}};
                    session_.pms().request(count, [acc, sec, i](http::Result cr, const std::string&) {
                        int64_t n = -1;
                        if (cr && cr->status == 200)
                            if (auto page = plexapi::parse_items(cr->body)) n = page->total_size;
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

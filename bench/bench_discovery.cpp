// Discovery: how long until a connection is chosen, and what is chosen,
// against the simulator on loopback, with the baselines in the same run:
//
//  * plexbridge's racer (every connection at once, the policy, a grace for
//    better-ranked addresses);
//  * the same racer five at a time (what typical integrations do) or
//    waiting the whole deadline for better ranks (what it did before the
//    grace);
//  * @ctrl/plex, the npm port of python-plexapi, whose `connect()` takes
//    the first connection that answers (bench/peers/ctrl_plex_connect.mjs);
//  * the servers route end to end, through the reference host.
//
//   build/bin/pb_bench_discovery [--quick] [--timeout MS] [--repeats N] [--require-peer]
//
// --require-peer: fail when @ctrl/plex cannot run (bench/run-all.sh, which
// installs it, passes it), instead of leaving its columns empty.
//
// Every measured case prints a human line and an `@bench {json}` record,
// which bench/run-all.sh collects into docs/performance.md.
#include <sys/wait.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include "common/fs.hpp"
#include "harness.hpp"
#include "log/log.hpp"
#include "session/racer.hpp"
#include "simulator.hpp"

using namespace pb;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

void record(const char* table, json::object key, json::object values) {
    std::printf("@bench %s\n",
                json::serialize(json::object{{"table", table}, {"key", std::move(key)}, {"values", std::move(values)}})
                    .c_str());
    std::fflush(stdout);
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// ---------------------------------------------------------------- topologies

// What a connection is, for the tables: "local", "remote" or "relay".
std::string kind_of(const plexapi::Connection& c) { return c.relay ? "relay" : c.local ? "local" : "remote"; }

// One server's connections, the mix: a quarter refused, a quarter
// silent (they accept and never answer), listed first (an unlucky order);
// the live ones remote with 1 to 120 ms of added latency, except one local
// live address in the middle of that range, so the fastest answer is not
// the best connection.
std::vector<sim::ConnectionSpec> mixed(int n) {
    std::vector<sim::ConnectionSpec> specs;
    int refused = n / 4, silent = n / 4, live = n - refused - silent;
    for (int i = 0; i < refused; ++i) specs.push_back({sim::Behaviour::refused, false, i % 2 == 0});
    for (int i = 0; i < silent; ++i) specs.push_back({sim::Behaviour::blackhole, false, i % 2 == 0});
    for (int i = 0; i < live; ++i) {
        sim::ConnectionSpec s{sim::Behaviour::normal, false, false};
        s.latency = std::chrono::milliseconds(1 + (live > 1 ? 119 * i / (live - 1) : 0));
        specs.push_back(s);
    }
    if (live > 1) specs[static_cast<std::size_t>(refused + silent + live / 2)].local = true;
    return specs;
}

// Outside the server's network: no LAN address answers, a fifth of the
// connections live and remote with 5 to 40 ms of added latency. The LAN
// addresses are unreachable (their SYNs go nowhere, the usual case from
// outside), or accept the connection and never answer (`how` = blackhole:
// something listens there, say a hung server).
std::vector<sim::ConnectionSpec> lan_silent(int n, sim::Behaviour how = sim::Behaviour::unreachable) {
    std::vector<sim::ConnectionSpec> specs;
    int live = std::max(1, n / 5);
    for (int i = 0; i < n - live; ++i) specs.push_back({how, i % 2 == 0, true});
    for (int i = 0; i < live; ++i) {
        sim::ConnectionSpec s{sim::Behaviour::normal, false, false};
        s.latency = std::chrono::milliseconds(5 + (live > 1 ? 35 * i / (live - 1) : 0));
        specs.push_back(s);
    }
    return specs;
}

// A simulator with these servers, and a client on its own io thread with the
// servers as plex.tv lists them.
struct World {
    explicit World(const std::vector<std::vector<sim::ConnectionSpec>>& servers) {
        for (std::size_t k = 0; k < servers.size(); ++k) {
            sim::SimServer s;
            s.name = "Bench " + std::to_string(k + 1);
            s.machine_id = "bench-machine-" + std::to_string(k + 1);
            auto idx = simulator.add_server(std::move(s));
            for (const auto& spec : servers[k]) simulator.add_connection(idx, spec);
        }
        simulator.start();
        thread = std::thread([this] { ioc.run(); });
        client = std::move(http::Client::create(ioc, {}, log::null_logger())).value();
        http::Request r;
        r.url = simulator.plextv_url() + "/api/v2/resources";
        r.token = simulator.account_token();
        r.headers = {{"Accept", "application/json"}};
        auto res = client->request_sync(r);
        auto listed = plexapi::parse_resources(res->body);
        if (!listed) throw std::runtime_error("the simulator's resources: " + listed.error().message);
        for (auto& server : *listed)
            if (server.is_server()) resources.push_back(std::move(server));
    }
    ~World() {
        client->shutdown();
        guard.reset();
        ioc.stop();
        thread.join();
        simulator.stop();
    }
    sim::Simulator simulator;
    boost::asio::io_context ioc;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard{ioc.get_executor()};
    std::thread thread;
    std::shared_ptr<http::Client> client;
    std::vector<plexapi::Resource> resources;
};

// ---------------------------------------------------------------- the racer

struct Race {
    double decided_ms = 0, complete_ms = 0;
    std::vector<std::string> chosen;  // per server: its chosen uri, or ""
};

// `wait_all`: the racer as it was before the grace, waiting the whole
// deadline while a better-ranked probe is pending (grace and connect_wait =
// the deadline).
Race race_once(World& w, std::chrono::milliseconds timeout, std::size_t window, bool wait_all = false) {
    std::promise<Race> done;
    auto t0 = Clock::now();
    auto run = std::make_shared<Race>();
    boost::asio::post(w.ioc, [&, run] {
        session::RaceOptions o;
        o.timeout = timeout;
        o.max_in_flight = window;
        if (wait_all) o.grace = o.connect_wait = timeout;
        session::race(
            w.client, w.resources, o,
            [run, t0](const std::vector<session::ServerReport>& reports) {
                run->decided_ms = ms_since(t0);
                for (const auto& r : reports) run->chosen.push_back(r.best ? r.outcomes[*r.best].connection.uri : "");
            },
            [run, t0, &done](const std::vector<session::ServerReport>&) {
                run->complete_ms = ms_since(t0);
                done.set_value(*run);
            });
    });
    return done.get_future().get();
}

// The kind of connection chosen for the first server.
std::string chosen_kind(const World& w, const std::string& uri) {
    for (const auto& c : w.resources.front().connections)
        if (c.uri == uri) return kind_of(c);
    return "none";
}

// ---------------------------------------------------------------- the peer

// Runs bench/peers/ctrl_plex_connect.mjs against the world's plex.tv and
// returns its JSON lines (one per repeat), or nothing when node or the
// library is not installed (`npm ci` in tests/client_library).
struct Peer {
    std::vector<double> total_ms;
    std::vector<std::vector<std::string>> uris;  // per repeat, per server (by resource order)
};

bool g_require_peer = false;  // --require-peer: a peer that cannot run is an error

std::optional<Peer> run_peer_once(World& w, int repeats) {
    static const std::string script = std::string(PB_SOURCE_DIR) + "/bench/peers/ctrl_plex_connect.mjs";
    static const bool usable =
        std::filesystem::exists(script) &&
        std::filesystem::exists(std::string(PB_SOURCE_DIR) + "/tests/client_library/node_modules/@ctrl/plex") &&
        std::system("node --version > /dev/null 2>&1") == 0;
    if (!usable) return std::nullopt;
    auto dir = std::filesystem::temp_directory_path() / ("pb-bench-peer-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::string ca = (dir / "ca.pem").string();
    w.simulator.write_ca_file(ca);
    auto tls = w.simulator.plextv_tls_url();
    std::string port = tls.substr(tls.rfind(':') + 1);
    std::string cmd = "node '" + script + "' --plextv-tls-port " + port + " --ca '" + ca + "' --token '" +
                      w.simulator.account_token() + "' --repeats " + std::to_string(repeats);
    Peer peer;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return std::nullopt;
    char line[1 << 16];
    while (std::fgets(line, sizeof line, p)) {
        boost::system::error_code ec;
        auto v = json::parse(line, ec);
        if (ec || !v.is_object() || !v.as_object().contains("servers")) continue;
        const auto& o = v.as_object();
        peer.total_ms.push_back(json::value_to<double>(o.at("total_ms")));
        std::vector<std::string> by_resource(w.resources.size());
        for (const auto& s : o.at("servers").as_array()) {
            const auto& so = s.as_object();
            std::string id(so.at("clientIdentifier").as_string());
            for (std::size_t k = 0; k < w.resources.size(); ++k)
                if (w.resources[k].client_identifier == id && so.at("uri").is_string())
                    by_resource[k] = std::string(so.at("uri").as_string());
        }
        peer.uris.push_back(std::move(by_resource));
    }
    int status = ::pclose(p);
    std::filesystem::remove_all(dir);
    if (status != 0 || peer.total_ms.empty()) {
        std::fprintf(stderr, "the @ctrl/plex peer failed (exit %d): %s\n", status, cmd.c_str());
        return std::nullopt;
    }
    return peer;
}

std::optional<Peer> run_peer(World& w, int repeats) {
    auto result = run_peer_once(w, repeats);
    if (!result && g_require_peer) {
        std::fprintf(stderr,
                     "the @ctrl/plex peer did not run (--require-peer): node, or `npm ci` in tests/client_library, "
                     "is missing, or the peer failed\n");
        std::exit(1);
    }
    return result;
}

// ---------------------------------------------------------------- the route

struct RouteTimes {
    double first_ms = 0, all_ms = 0, again_ms = 0;
    bool every_server_chosen = false;
};

bool all_known(const json::value& answer, bool need_best) {
    // {"data": [server, ...]}, each with its connections and bestConnection.
    const auto* o = answer.if_object();
    const auto* data = o ? o->if_contains("data") : nullptr;
    if (!data || !data->is_array() || data->as_array().empty()) return false;
    for (const auto& s : data->as_array()) {
        const auto* so = s.if_object();
        if (!so) return false;
        const auto* best = so->if_contains("bestConnection");
        if (need_best && (!best || best->is_null())) return false;
        if (!need_best) {
            const auto* conns = so->if_contains("connections");
            if (!conns || !conns->is_array()) return false;
            for (const auto& c : conns->as_array())
                if (!c.is_object() || !c.as_object().contains("available") || c.at("available").is_null()) return false;
        }
    }
    return true;
}

// Through the reference host: the servers route's first answer (which must
// name every server's choice), polls until every connection's outcome is
// in, and the same route asked again (the listing reused, no new probe).
RouteTimes route_once(pbtest::HostRig& rig) {
    RouteTimes t;
    auto t0 = Clock::now();
    auto first = rig.api("GET", "/api/plex/oauth/servers?refresh=1");
    t.first_ms = ms_since(t0);
    t.every_server_chosen = first.status == 200 && all_known(first.json, true);
    while (ms_since(t0) < 20000) {
        auto poll = rig.api("GET", "/api/plex/oauth/servers?poll=1");
        if (poll.status == 200 && all_known(poll.json, false)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    t.all_ms = ms_since(t0);
    auto t1 = Clock::now();
    rig.api("GET", "/api/plex/oauth/servers");
    t.again_ms = ms_since(t1);
    return t;
}

struct Options {
    bool quick = false;
    std::chrono::milliseconds timeout{3000};
    int repeats = 3;
};

// ---------------------------------------------------------------- tables

void topology_table(const Options& opt) {
    std::printf(
        "\n== one server, N connections: a quarter refused, a quarter silent, the rest live (1-120 ms, one local)\n");
    for (int n : opt.quick ? std::vector<int>{1, 10} : std::vector<int>{1, 10, 50}) {
        World w({mixed(n)});
        std::vector<double> dec, all, five_dec, five_all;
        std::string kind, five_kind;
        for (int k = 0; k < opt.repeats; ++k) {
            auto ours = race_once(w, opt.timeout, 0);
            auto five = race_once(w, opt.timeout, 5);
            dec.push_back(ours.decided_ms);
            all.push_back(ours.complete_ms);
            five_dec.push_back(five.decided_ms);
            five_all.push_back(five.complete_ms);
            kind = chosen_kind(w, ours.chosen.front());
            five_kind = chosen_kind(w, five.chosen.front());
        }
        json::object values{
            {"choice_ms", median(dec)},           {"all_probes_ms", median(all)},           {"choice", kind},
            {"five_choice_ms", median(five_dec)}, {"five_all_probes_ms", median(five_all)}, {"five_choice", five_kind}};
        if (auto peer = run_peer(w, opt.repeats)) {
            values["ctrl_plex_ms"] = median(peer->total_ms);
            values["ctrl_plex_choice"] = chosen_kind(w, peer->uris.front().front());
        }
        std::printf("%d connections: choice %.0f ms (%s), all probes %.0f ms; five at a time %.0f / %.0f ms%s\n", n,
                    median(dec), kind.c_str(), median(all), median(five_dec), median(five_all),
                    values.contains("ctrl_plex_ms") ? "; @ctrl/plex measured" : "");
        record("discovery_topology", {{"connections", n}, {"refused", n / 4}, {"silent", n / 4}}, std::move(values));
    }
}

void lan_silent_table(const Options& opt) {
    std::printf("\n== one server, no LAN address answers, a fifth of the connections live and remote (5-40 ms)\n");
    struct Case {
        int n;
        sim::Behaviour how;
    };
    std::vector<Case> cases{{20, sim::Behaviour::unreachable}, {20, sim::Behaviour::blackhole}};
    if (!opt.quick)
        cases = {{4, sim::Behaviour::unreachable},
                 {20, sim::Behaviour::unreachable},
                 {50, sim::Behaviour::unreachable},
                 {20, sim::Behaviour::blackhole}};
    for (auto [n, how] : cases) {
        const char* lan = how == sim::Behaviour::unreachable ? "unreachable" : "accept, never answer";
        World w({lan_silent(n, how)});
        std::vector<double> graced, waited;
        std::string kind;
        for (int k = 0; k < opt.repeats; ++k) {
            auto g = race_once(w, opt.timeout, 0);
            graced.push_back(g.decided_ms);
            kind = g.chosen.front() ==
                           w.resources.front().connections[static_cast<std::size_t>(n - std::max(1, n / 5))].uri
                       ? "fastest remote"
                       : chosen_kind(w, g.chosen.front());
            waited.push_back(race_once(w, opt.timeout, 0, true).decided_ms);
        }
        json::object values{{"choice_ms", median(graced)}, {"choice", kind}, {"waiting_deadline_ms", median(waited)}};
        if (auto peer = run_peer(w, opt.repeats)) {
            values["ctrl_plex_ms"] = median(peer->total_ms);
            values["ctrl_plex_choice"] = chosen_kind(w, peer->uris.front().front());
        }
        std::printf("%d connections (%d LAN: %s): choice %.0f ms (%s); waiting the deadline %.0f ms\n", n,
                    n - std::max(1, n / 5), lan, median(graced), kind.c_str(), median(waited));
        record("discovery_lan_silent", {{"connections", n}, {"silent", n - std::max(1, n / 5)}, {"lan", lan}},
               std::move(values));
    }
}

// Several servers, five connections each (one refused, one silent, three
// live: one local at 30 ms, two remote at 5 and 60 ms).
std::vector<sim::ConnectionSpec> five_each() {
    std::vector<sim::ConnectionSpec> s{{sim::Behaviour::refused, false, false},
                                       {sim::Behaviour::blackhole, false, true},
                                       {sim::Behaviour::normal, false, false},
                                       {sim::Behaviour::normal, false, true},
                                       {sim::Behaviour::normal, false, false}};
    s[2].latency = std::chrono::milliseconds(5);
    s[3].latency = std::chrono::milliseconds(30);
    s[4].latency = std::chrono::milliseconds(60);
    return s;
}

void servers_table(const Options& opt) {
    std::printf("\n== N servers, five connections each (one refused, one silent, local 30 ms, remote 5 and 60 ms)\n");
    for (int n : opt.quick ? std::vector<int>{1, 10} : std::vector<int>{1, 10, 100}) {
        World w(std::vector<std::vector<sim::ConnectionSpec>>(static_cast<std::size_t>(n), five_each()));
        std::vector<double> dec, all, five_dec;
        int local = 0;
        for (int k = 0; k < opt.repeats; ++k) {
            auto ours = race_once(w, opt.timeout, 0);
            dec.push_back(ours.decided_ms);
            all.push_back(ours.complete_ms);
            five_dec.push_back(race_once(w, opt.timeout, 5).decided_ms);
            local = 0;
            for (std::size_t s = 0; s < w.resources.size(); ++s)
                for (const auto& c : w.resources[s].connections)
                    if (c.uri == ours.chosen[s] && c.local) ++local;
        }
        json::object values{{"choice_ms", median(dec)},
                            {"all_probes_ms", median(all)},
                            {"five_choice_ms", median(five_dec)},
                            {"servers_local_chosen", local}};
        if (auto peer = run_peer(w, opt.repeats)) {
            values["ctrl_plex_ms"] = median(peer->total_ms);
            int peer_local = 0;
            for (std::size_t s = 0; s < w.resources.size(); ++s)
                for (const auto& c : w.resources[s].connections)
                    if (c.uri == peer->uris.front()[s] && c.local) ++peer_local;
            values["ctrl_plex_servers_local_chosen"] = peer_local;
        }
        std::printf(
            "%d servers: every choice in %.0f ms (%d of them local), all probes %.0f ms; five at a time %.0f ms\n", n,
            median(dec), local, median(all), median(five_dec));
        record("discovery_servers", {{"servers", n}}, std::move(values));
    }
}

void route_table(const Options& opt) {
    std::printf("\n== GET /api/plex/oauth/servers through the reference host\n");
    struct Case {
        const char* name;
        std::vector<std::vector<sim::ConnectionSpec>> servers;
    };
    std::vector<Case> cases;
    cases.push_back({"one server, 50 connections (mixed)", {mixed(50)}});
    cases.push_back({"one server, 20 connections, every LAN address unreachable", {lan_silent(20)}});
    cases.push_back({"one server, 20 connections, every LAN address accepts and never answers",
                     {lan_silent(20, sim::Behaviour::blackhole)}});
    if (!opt.quick)
        cases.push_back(
            {"100 servers, 5 connections each", std::vector<std::vector<sim::ConnectionSpec>>(100, five_each())});
    for (auto& c : cases) {
        World w(c.servers);
        pbtest::HostRig rig(w.simulator);
        if (!rig.start({{"connect_timeout_ms", std::to_string(opt.timeout.count())}}) || !rig.sign_in()) {
            std::fprintf(stderr, "the host did not start or sign in\n");
            std::exit(1);
        }
        std::vector<double> first, all, again;
        bool chosen = true;
        for (int k = 0; k < opt.repeats; ++k) {
            auto t = route_once(rig);
            first.push_back(t.first_ms);
            all.push_back(t.all_ms);
            again.push_back(t.again_ms);
            chosen = chosen && t.every_server_chosen;
        }
        std::printf("%s: first answer %.0f ms (%s), every outcome %.0f ms, asked again %.1f ms\n", c.name,
                    median(first), chosen ? "names every choice" : "MISSING A CHOICE", median(all), median(again));
        record("servers_route", {{"case", c.name}},
               {{"first_answer_ms", median(first)},
                {"every_outcome_ms", median(all)},
                {"asked_again_ms", median(again)},
                {"every_server_chosen", chosen ? 1 : 0}});
        rig.stop();
    }
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick")
            opt.quick = true;
        else if (a == "--timeout" && i + 1 < argc)
            opt.timeout = std::chrono::milliseconds(std::atoi(argv[++i]));
        else if (a == "--require-peer")
            g_require_peer = true;
        else if (a == "--repeats" && i + 1 < argc)
            opt.repeats = std::max(1, std::atoi(argv[++i]));
        else {
            std::fprintf(stderr, "usage: pb_bench_discovery [--quick] [--timeout MS] [--repeats N] [--require-peer]\n");
            return 2;
        }
    }
    if (opt.quick) opt.repeats = 1;
    topology_table(opt);
    lan_silent_table(opt);
    servers_table(opt);
    route_table(opt);
    return 0;
}

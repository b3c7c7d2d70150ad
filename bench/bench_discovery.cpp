// Discovery wall time: every connection probed at once (plexbridge) against
// a sliding window of five (what typical integrations do), on the same
// machine, in the same run, against the simulator on loopback.
//
//   build/bin/pb_bench_discovery [timeout_ms=3000] [repeats=3]
//
// For N connections of one server, a quarter accept and never answer; the
// others answer /identity at once, except the one local connection (the
// best rank), which answers 20 ms late: the choice must still be it.
#include <boost/asio.hpp>

#include <algorithm>
#include <cstdio>
#include <future>
#include <optional>
#include <thread>

#include "log/log.hpp"
#include "session/racer.hpp"
#include "simulator.hpp"

using namespace pb;
using Clock = std::chrono::steady_clock;

struct Run {
    double decided_ms = 0, complete_ms = 0;
    std::string best;
};

static Run run_once(std::shared_ptr<http::Client> client, boost::asio::io_context& ioc, plexapi::Resource server,
                    std::chrono::milliseconds timeout, std::size_t window,
                    std::chrono::milliseconds grace = session::RaceOptions{}.grace) {
    std::promise<Run> done;
    auto t0 = Clock::now();
    auto run = std::make_shared<Run>();
    boost::asio::post(ioc, [&, run] {
        session::RaceOptions o;
        o.timeout = timeout;
        o.max_in_flight = window;
        o.grace = grace;
        session::race(
            client, {server}, o,
            [run, t0](const std::vector<session::ServerReport>& r) {
                run->decided_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                if (r[0].best) run->best = r[0].outcomes[*r[0].best].connection.uri;
            },
            [run, t0, &done](const std::vector<session::ServerReport>&) {
                run->complete_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                done.set_value(*run);
            });
    });
    return done.get_future().get();
}

// A simulator serving one server with these connections, and a client on
// its own io thread, with the server as plex.tv lists it.
struct Topology {
    explicit Topology(const std::vector<sim::ConnectionSpec>& specs) {
        sim::SimServer s;
        s.name = "Bench";
        s.machine_id = "bench-machine";
        auto idx = simulator.add_server(std::move(s));
        for (const auto& spec : specs) simulator.add_connection(idx, spec);
        simulator.start();
        thread = std::thread([this] { ioc.run(); });
        client = std::move(http::Client::create(ioc, {}, log::null_logger())).value();
        http::Request r;
        r.url = simulator.plextv_url() + "/api/v2/resources";
        r.token = simulator.account_token();
        r.headers = {{"Accept", "application/json"}};
        auto res = client->request_sync(r);
        server = plexapi::parse_resources(res->body)->front();
        server.owned = true;
    }
    ~Topology() {
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
    plexapi::Resource server;
};

static double median(std::vector<Run> v, double Run::*f) {
    std::sort(v.begin(), v.end(), [f](const Run& a, const Run& b) { return a.*f < b.*f; });
    return v[v.size() / 2].*f;
}

int main(int argc, char** argv) {
    auto timeout = std::chrono::milliseconds(argc > 1 ? std::atoi(argv[1]) : 3000);
    int repeats = argc > 2 ? std::atoi(argv[2]) : 3;
    std::printf(
        "| connections | dead | plexbridge: choice | plexbridge: all probes | five at a time: choice | five at a time: "
        "all probes | ratio (all probes) |\n");
    std::printf("|---|---|---|---|---|---|---|\n");
    for (int n : {1, 10, 50}) {
        int dead = n / 4;
        std::vector<sim::ConnectionSpec> specs;
        // Dead ones first in the list, as an unlucky advertisement order.
        for (int i = 0; i < dead; ++i) specs.push_back({sim::Behaviour::blackhole, false, false});
        for (int i = dead; i < n; ++i) {
            // One local connection (the best rank here), 20 ms slow; the rest
            // remote and fast: the policy must still pick the local one.
            sim::ConnectionSpec spec{sim::Behaviour::normal, false, i == dead, false};
            if (i == dead) spec.latency = std::chrono::milliseconds(20);
            specs.push_back(spec);
        }
        Topology t(specs);
        std::vector<Run> ours, base;
        for (int k = 0; k < repeats; ++k) {
            ours.push_back(run_once(t.client, t.ioc, t.server, timeout, 0));
            base.push_back(run_once(t.client, t.ioc, t.server, timeout, 5));
        }
        double oc = median(ours, &Run::complete_ms), bc = median(base, &Run::complete_ms);
        bool local_chosen = ours.front().best == t.server.connections[dead].uri;
        std::printf("| %d | %d | %.0f ms%s | %.0f ms | %.0f ms | %.0f ms | %.1fx |\n", n, dead,
                    median(ours, &Run::decided_ms), local_chosen ? " (local)" : " (WRONG)", oc,
                    median(base, &Run::decided_ms), bc, bc / oc);
        std::fflush(stdout);
    }

    // Outside the server's network: every LAN address silent, the remote
    // ones live (5-40 ms). The choice with the grace, against the same
    // racer waiting the deadline for the better ranks (grace = deadline,
    // which is what it did before the grace).
    std::printf("\n| connections | LAN silent | choice, 250 ms grace | choice, waiting the deadline | ratio |\n");
    std::printf("|---|---|---|---|---|\n");
    for (int n : {4, 20, 50}) {
        std::vector<sim::ConnectionSpec> specs;
        int silent = n / 2;
        for (int i = 0; i < silent; ++i) specs.push_back({sim::Behaviour::blackhole, i % 2 == 0, true});
        for (int i = silent; i < n; ++i) {
            sim::ConnectionSpec spec{sim::Behaviour::normal, false, false, false};
            spec.latency = std::chrono::milliseconds(5 + 35 * (i - silent) / std::max(1, n - silent - 1));
            specs.push_back(spec);
        }
        Topology t(specs);
        std::vector<Run> graced, waited;
        for (int k = 0; k < repeats; ++k) {
            graced.push_back(run_once(t.client, t.ioc, t.server, timeout, 0));
            waited.push_back(run_once(t.client, t.ioc, t.server, timeout, 0, timeout));
        }
        double g = median(graced, &Run::decided_ms), w = median(waited, &Run::decided_ms);
        bool remote = graced.front().best == t.server.connections[silent].uri;
        std::printf("| %d | %d | %.0f ms%s | %.0f ms | %.1fx |\n", n, silent, g, remote ? " (fastest remote)" : "", w,
                    w / g);
        std::fflush(stdout);
    }
    return 0;
}

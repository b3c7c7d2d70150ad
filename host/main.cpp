// plexbridge-host: the reference host. See README.md and docs/host.md.
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "common/fs.hpp"
#include "host.hpp"
#include "simulator.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

const char* kUsage =
    "usage: plexbridge-host [--plugin PATH] [--data-dir DIR] [--listen ADDR:PORT]\n"
    "                       [--apikey KEY] [--catalog FILE] [--threads N] [--set plex.KEY=VALUE]... [--demo]\n"
    "\n"
    "  --plugin      the plugin library (default: ../lib/libplexbridge.so next to this program)\n"
    "  --data-dir    where settings, keys and queues live (default: ./plexbridge-data)\n"
    "  --listen      address to serve the API on (default 127.0.0.1:6767)\n"
    "  --apikey      API key callers must send (default: generated once, stored, printed)\n"
    "  --catalog     the host's media as JSON (movies and series with their ids)\n"
    "  --threads     threads serving HTTP, each with its own connections (default 2)\n"
    "  --set         preset a plugin setting, e.g. --set plex.use_plex=true\n"
    "  --demo        start the Plex simulator and point the plugin at it\n";

std::string self_dir() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return ".";
    std::string p(buf, static_cast<std::size_t>(n));
    return p.substr(0, p.rfind('/'));
}

constexpr const char* kDemoCatalog = R"({
  "movies": [
    {"title": "Reign of Fire", "imdb": "tt0253556", "tmdb": 6278},
    {"title": "Interstate 60", "imdb": "tt0165832", "tmdb": 16161},
    {"title": "Big Trouble in Little China", "imdb": "tt0090728", "tmdb": 6978}
  ],
  "series": [
    {"title": "The Expanse", "imdb": "tt3230854", "tvdb": 280619, "tmdb": 63639,
     "episodes": [{"season": 1, "episode": 1, "tvdb": 5246491, "imdb": "tt3696416"},
                  {"season": 1, "episode": 2, "tvdb": 5246492, "imdb": "tt4591558"}]},
    {"title": "Gotham", "imdb": "tt3749900", "tvdb": 274431,
     "episodes": [{"season": 1, "episode": 1, "tvdb": 4768720}]}
  ]
}
)";

}  // namespace

int main(int argc, char** argv) {
    pb::host::HostOptions opts;
    opts.plugin_path = self_dir() + "/../lib/libplexbridge.so";
    opts.data_dir = "plexbridge-data";
    bool demo = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << a << " needs a value\n" << kUsage;
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--plugin")
            opts.plugin_path = next();
        else if (a == "--data-dir")
            opts.data_dir = next();
        else if (a == "--listen")
            opts.listen = next();
        else if (a == "--apikey")
            opts.apikey = next();
        else if (a == "--catalog")
            opts.catalog_path = next();
        else if (a == "--threads") {
            std::string n = next();
            char* end = nullptr;
            long v = std::strtol(n.c_str(), &end, 10);
            if (end == n.c_str() || *end != '\0' || v < 1 || v > 64) {
                std::cerr << "--threads expects a number from 1 to 64, got " << n << "\n";
                return 2;
            }
            opts.threads = static_cast<int>(v);
        } else if (a == "--set") {
            std::string kv = next();
            auto eq = kv.find('=');
            if (eq == std::string::npos || kv.rfind("plex.", 0) != 0) {
                std::cerr << "--set expects plex.KEY=VALUE, got " << kv << "\n";
                return 2;
            }
            opts.presets.emplace_back(kv.substr(5, eq - 5), kv.substr(eq + 1));
        } else if (a == "--demo")
            demo = true;
        else if (a == "--help" || a == "-h") {
            std::cout << kUsage;
            return 0;
        } else {
            std::cerr << "unknown option " << a << "\n" << kUsage;
            return 2;
        }
    }

    std::unique_ptr<pb::sim::Simulator> sim;
    if (demo) {
        sim = std::make_unique<pb::sim::Simulator>();
        sim->add_demo_world();
        sim->start();
        ::mkdir(opts.data_dir.c_str(), 0700);
        std::string ca = pb::common::fs::join(opts.data_dir, "plexsim-ca.pem");
        std::string catalog = pb::common::fs::join(opts.data_dir, "demo-catalog.json");
        if (!sim->write_ca_file(ca) || !pb::common::fs::atomic_write(catalog, kDemoCatalog)) {
            std::cerr << "cannot write the demo files in " << opts.data_dir << "\n";
            return 1;
        }
        if (opts.catalog_path.empty()) opts.catalog_path = catalog;
        opts.presets.insert(opts.presets.begin(), {{"use_plex", "true"},
                                                   {"plextv_url", "\"" + sim->plextv_url() + "\""},
                                                   {"plextv_clients_url", "\"" + sim->plextv_url() + "\""},
                                                   {"auth_app_url", "\"" + sim->plextv_url() + "/sim/auth\""},
                                                   {"tls_ca_file", "\"" + ca + "\""}});
    }

    pb::host::Host host(opts);
    std::string error;
    if (!host.start(&error)) {
        std::cerr << "plexbridge-host: " << error << "\n";
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::string base = "http://" + opts.listen.substr(0, opts.listen.rfind(':')) + ":" + std::to_string(host.port());
    std::cout << "plexbridge-host listening on " << base << "\n"
              << "  settings page: open " << base << "/ and sign in with the API key " << host.apikey() << "\n";
    if (sim) {
        std::cout << "  demo: Plex simulator (plex.tv and one server) at " << sim->plextv_url() << "\n"
                  << "  then press Connect to Plex: the simulator's sign-in page stands in for plex.tv\n";
    }
    std::cout.flush();
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::cerr << "plexbridge-host: stopping\n";
    host.stop();
    if (sim) sim->stop();
    return 0;
}

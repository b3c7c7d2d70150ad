// plexsim: run the Plex simulator on its own, for manual testing.
#include <csignal>
#include <iostream>
#include <string>
#include <thread>

#include "simulator.hpp"

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
    uint16_t port = 0;
    std::string ca_out;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--port" && i + 1 < argc)
            port = static_cast<uint16_t>(std::stoi(argv[++i]));
        else if (a == "--ca-out" && i + 1 < argc)
            ca_out = argv[++i];
        else {
            std::cerr << "usage: plexsim [--port N] [--ca-out FILE]\n"
                         "Serves a fake plex.tv on 127.0.0.1:N (and over https on another port) and one Plex\n"
                         "Media Server with a sample library. --ca-out writes the CA that signed the https\n"
                         "certificates (plex.tv, 127.0.0.1, *.<hash>.plex.direct).\n";
            return a == "--help" ? 0 : 2;
        }
    }
    pb::sim::Simulator sim;
    sim.add_demo_world();
    sim.start(port);
    if (!ca_out.empty() && !sim.write_ca_file(ca_out)) {
        std::cerr << "cannot write " << ca_out << "\n";
        return 1;
    }
    std::cout << "plex.tv (simulated): " << sim.plextv_url() << "\n"
              << "plex.tv over https (simulated): " << sim.plextv_tls_url() << "\n"
              << "account token: " << sim.account().token << "\n"
              << "link a PIN: curl -X POST '" << sim.plextv_url() << "/sim/link?code=CODE'\n";
    std::cout.flush();
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sim.stop();
    return 0;
}

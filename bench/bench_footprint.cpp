// What the plugin costs the host that loads it: load and start time,
// resident memory (idle, then with a large library indexed), threads, and
// what it does when nothing happens (CPU and wake-ups).
//
//   build/bin/pb_bench_footprint [--quick] [--idle SECONDS]
//   (PB_FOOTPRINT_THREADS=1 lists every thread's idle wake-ups)
//
// The simulator runs in a child process (forked first, before any thread),
// so its 100,000-item library is not counted; this process is the host: the
// reference host's library (pbhost_lib) starting libplexbridge.so through
// the C ABI, as plexbridge-host does. Memory is VmRSS from /proc/self/status;
// "added" is measured from before the plugin is loaded.
//
// The library is a large one: 10,000 movies and 1,800 shows of 50 episodes
// (90,000 episodes), from sim::add_generated_library (its ids: movies imdb
// tt2000000+i, shows tvdb 900000+j). The plugin lists the movies and shows (the index), and
// learns every show's episodes from one subtitle event per show, the most a
// long-running session can ever hold.
#include <dirent.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "harness.hpp"

using Clock = std::chrono::steady_clock;
namespace json = boost::json;

namespace {

constexpr int kMovies = 10000, kShows = 1800, kEpisodesPerShow = 50;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

long status_field(const std::string& file, const std::string& field) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    return -1;
}

double rss_mib() { return status_field("/proc/self/status", "VmRSS") / 1024.0; }

// Per thread of this process: name, context switches, CPU ticks.
struct ThreadSample {
    std::string name;
    long switches = 0;
    long ticks = 0;
};
std::map<int, ThreadSample> threads() {
    std::map<int, ThreadSample> out;
    DIR* d = ::opendir("/proc/self/task");
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::string dir = std::string("/proc/self/task/") + e->d_name;
        ThreadSample t;
        std::ifstream(dir + "/comm") >> t.name;
        t.switches = status_field(dir + "/status", "voluntary_ctxt_switches") +
                     status_field(dir + "/status", "nonvoluntary_ctxt_switches");
        std::ifstream stat(dir + "/stat");
        std::string s((std::istreambuf_iterator<char>(stat)), {});
        std::istringstream rest(s.substr(s.rfind(')') + 2));
        std::string field;
        long utime = 0, stime = 0;
        for (int i = 3; i <= 15 && rest >> field; ++i) {
            if (i == 14) utime = std::stol(field);
            if (i == 15) stime = std::stol(field);
        }
        t.ticks = utime + stime;
        out[std::atoi(e->d_name)] = t;
    }
    ::closedir(d);
    return out;
}

void record(const char* what, double value, const char* unit, const char* target = "") {
    std::printf("%-60s %10.2f %s %s\n", what, value, unit, target);
    std::printf("@bench %s\n",
                json::serialize(json::object{{"table", "footprint"},
                                             {"key", {{"measure", what}}},
                                             {"values", {{"value", value}, {"unit", unit}, {"target", target}}}})
                    .c_str());
    std::fflush(stdout);
}

// The simulator, in a child: prints its plex.tv URL, token and server
// address on `out`, and runs until `in` closes.
[[noreturn]] void run_simulator(int in, int out, bool quick) {
    pb::sim::Simulator sim;
    pb::sim::SimServer s;
    s.name = "Big";
    s.machine_id = "footprint-machine";
    pb::sim::add_generated_library(s, quick ? kMovies / 10 : kMovies, quick ? kShows / 10 : kShows, kEpisodesPerShow);
    auto idx = sim.add_server(std::move(s));
    auto port = sim.add_connection(idx, pb::sim::ConnectionSpec{});
    sim.start();
    std::string line = sim.plextv_url() + " " + std::to_string(port) + "\n";
    if (::write(out, line.data(), line.size()) < 0) ::_exit(1);
    char c;
    while (::read(in, &c, 1) > 0) {}
    sim.stop();
    ::_exit(0);
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = false;
    int idle_s = 60;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick")
            quick = true, idle_s = 5;
        else if (a == "--idle" && i + 1 < argc)
            idle_s = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: pb_bench_footprint [--quick] [--idle SECONDS]\n");
            return 2;
        }
    }
    int to_child[2], from_child[2];
    if (::pipe(to_child) || ::pipe(from_child)) return 1;
    pid_t child = ::fork();
    if (child == 0) {
        ::close(to_child[1]);
        ::close(from_child[0]);
        run_simulator(to_child[0], from_child[1], quick);
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    std::string banner;
    char c;
    while (::read(from_child[0], &c, 1) == 1 && c != '\n') banner += c;
    std::istringstream words(banner);
    std::string plextv;
    int port = 0;
    words >> plextv >> port;
    if (plextv.empty()) {
        std::fprintf(stderr, "the simulator did not start\n");
        return 1;
    }

    // Never started: HostRig wants one for the helpers this bench does not use.
    pb::sim::Simulator unused;
    pbtest::HostRig rig(unused);
    malloc_trim(0);
    double rss0 = rss_mib();
    auto threads0 = threads().size();
    auto t0 = Clock::now();
    if (!rig.start({{"use_plex", "true"},
                    {"plextv_url", "\"" + plextv + "\""},
                    {"update_movie_library", "true"},
                    {"update_series_library", "true"}},
                   false)) {
        std::fprintf(stderr, "the host did not start: %s\n", rig.error.c_str());
        return 1;
    }
    double start_ms = ms_since(t0);
    record("load and start the plugin, first time (makes its key file)", start_ms, "ms", "under 50 ms");
    // Sign in as a person would: a PIN, linked on (simulated) plex.tv.
    auto pin = rig.api("POST", "/api/plex/oauth/pin");
    const auto& d = pin.json.at("data").as_object();
    pbtest::Caller caller;
    if (!caller.call("POST", plextv + "/sim/link?code=" + std::string(d.at("code").as_string()), "", {})) {
        std::fprintf(stderr, "the simulator did not link the PIN\n");
        return 1;
    }
    rig.api("GET", "/api/plex/oauth/pin/" + json::serialize(d.at("pinId")) +
                       "/check?state=" + std::string(d.at("state").as_string()));
    // Selecting the server starts the index (movies and shows, paged).
    auto t1 = Clock::now();
    auto sel = rig.api(
        "POST", "/api/plex/select-server",
        R"({"machineIdentifier":"footprint-machine","uri":"http://127.0.0.1:)" + std::to_string(port) + R"("})");
    if (sel.status != 200) {
        std::fprintf(stderr, "select-server answered %d: %s\n", sel.status, sel.body.c_str());
        return 1;
    }

    std::string err;
    bool ready = pbtest::eventually(
        [&] {
            auto st = rig.api("GET", "/api/plex/status");
            return st.status == 200 && st.json.at("data").at("index").at("state").as_string() == "ready";
        },
        std::chrono::seconds(300));
    if (!ready) {
        std::fprintf(stderr, "the index was not built\n");
        return 1;
    }
    record("list and index the movies and shows through PMS (paged)", ms_since(t1), "ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    record("resident memory added: signed in, movies and shows indexed", rss_mib() - rss0, "MiB");
    // The plugin names its thread "plexbridge" (Asio's resolver thread, which
    // it starts, inherits the name); the reference host's are "host-http".
    std::map<std::string, int> names;
    for (const auto& [tid, t] : threads()) ++names[t.name];
    record("threads the plugin adds", names["plexbridge"], "");
    std::printf("threads: %zu before the host started, now", threads0);
    for (const auto& [name, n] : names) std::printf(" %s x%d", name.c_str(), n);
    std::printf("\n");
    // Every show's episodes, learnt from one event per show.
    int shows = quick ? kShows / 10 : kShows;
    for (int k = 0; k < shows; ++k)
        rig.host().fire_event(
            "subtitle.downloaded",
            R"({"type":"episode","series_tvdb":)" + std::to_string(900000 + k) + R"(,"season":1,"episode":1})", &err);
    pbtest::eventually(
        [&] {
            auto st = rig.api("GET", "/api/plex/status");
            return st.status == 200 && st.json.at("data").at("queue").at("depth").to_number<int64_t>() == 0;
        },
        std::chrono::seconds(600));
    std::this_thread::sleep_for(std::chrono::seconds(1));
    double rss2 = rss_mib();
    int items = (quick ? kMovies / 10 : kMovies) + shows + shows * kEpisodesPerShow;
    char label[128];
    std::snprintf(label, sizeof label, "resident memory added: %d items indexed (movies, shows, episodes)", items);
    record(label, rss2 - rss0, "MiB", quick ? "" : "under 15 MiB");
    malloc_trim(0);
    record("the same after malloc_trim (memory the plugin really holds)", rss_mib() - rss0, "MiB");

    // Idle: nothing happens; count CPU and wake-ups of every thread. The
    // last refreshes may still be answering: wait for a quiet second first.
    auto main_tid = static_cast<int>(::gettid());
    auto switches = [&] {
        long n = 0;
        for (const auto& [tid, t] : threads())
            if (tid != main_tid) n += t.switches;
        return n;
    };
    for (int i = 0; i < 60; ++i) {
        long a = switches();
        std::this_thread::sleep_for(std::chrono::seconds(1));
        if (switches() == a) break;
    }
    auto before = threads();
    std::this_thread::sleep_for(std::chrono::seconds(idle_s));
    auto after = threads();
    long wakeups = 0, ticks = 0;
    std::string busiest;
    long busiest_n = 0;
    for (const auto& [tid, t] : after) {
        if (tid == main_tid || !before.count(tid)) continue;
        long n = t.switches - before[tid].switches;
        wakeups += n;
        ticks += t.ticks - before[tid].ticks;
        if (n > busiest_n) busiest_n = n, busiest = t.name;
        if (std::getenv("PB_FOOTPRINT_THREADS"))
            std::printf("thread %d %s: %ld wake-ups, %ld ticks\n", tid, t.name.c_str(), n, t.ticks - before[tid].ticks);
    }
    double per_min = 60.0 / idle_s;
    record("wake-ups per minute when idle (every thread)", wakeups * per_min, "", "none but scheduled checks");
    record("CPU per minute when idle", ticks * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK)) * per_min, "ms");
    if (busiest_n > 0) std::printf("busiest idle thread: %s (%ld wake-ups)\n", busiest.c_str(), busiest_n);
    // A restart: the key file and the settings are there (the first start
    // above made them, with their fsyncs).
    rig.stop();
    auto t2 = Clock::now();
    if (!rig.start({}, false)) {
        std::fprintf(stderr, "the host did not start again: %s\n", rig.error.c_str());
        return 1;
    }
    record("load and start again, with its data folder", ms_since(t2), "ms", "under 50 ms");
    rig.stop();
    ::close(to_child[1]);
    ::waitpid(child, nullptr, 0);
    return 0;
}

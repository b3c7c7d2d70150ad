// Refresh costs (issue 6):
//  1. The library index for 100,000 items: time to parse the PMS listing
//     pages (500 items each, includeGuids=1, JSON) and index them, and the
//     memory the index holds (malloc's in-use bytes before and after).
//  2. Through the real host and plugin against the simulator: PMS requests
//     per subtitle event for indexed items, and event-to-refresh latency.
//
//   build/bin/pb_bench_refresh
#include <malloc.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>

#include "harness.hpp"
#include "plexapi/models.hpp"
#include "refresh/library_index.hpp"

using Clock = std::chrono::steady_clock;

static std::string page_json(int start, int count) {
    boost::json::array items;
    for (int i = start; i < start + count; ++i) {
        std::string rk = std::to_string(100000 + i);
        items.push_back(boost::json::object{
            {"ratingKey", rk},
            {"key", "/library/metadata/" + rk},
            {"guid", "plex://movie/5d77" + rk},
            {"type", "movie"},
            {"title", "Film " + rk},
            {"librarySectionID", 1},
            {"year", 2000 + i % 25},
            {"addedAt", 1600000000 + i},
            {"Guid", boost::json::array{boost::json::object{{"id", "imdb://tt" + std::to_string(1000000 + i)}},
                                        boost::json::object{{"id", "tmdb://" + std::to_string(500000 + i)}},
                                        boost::json::object{{"id", "tvdb://" + std::to_string(300000 + i)}}}},
            {"Media", boost::json::array{boost::json::object{
                          {"id", i},
                          {"Part", boost::json::array{boost::json::object{
                                       {"id", i}, {"file", "/data/movies/Film " + rk + "/Film " + rk + ".mkv"}}}}}}}});
    }
    return boost::json::serialize(boost::json::object{{"MediaContainer", boost::json::object{{"size", count},
                                                                                             {"totalSize", 100000},
                                                                                             {"offset", start},
                                                                                             {"librarySectionID", 1},
                                                                                             {"Metadata", items}}}});
}

int main() {
    constexpr int kItems = 100000, kPage = 500;
    std::vector<std::string> pages;
    for (int s = 0; s < kItems; s += kPage) pages.push_back(page_json(s, kPage));
    std::size_t bytes = 0;
    for (auto& p : pages) bytes += p.size();
    malloc_trim(0);
    auto before = mallinfo2().uordblks;
    auto t0 = Clock::now();
    auto index = std::make_shared<pb::refresh::LibraryIndex>();
    for (auto& p : pages) {
        auto page = pb::plexapi::parse_items(p);
        for (auto& it : page->items) index->add(it, "1");
    }
    auto ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    auto after = mallinfo2().uordblks;
    pb::refresh::MediaRef probe;
    probe.imdb = "tt1054321";
    auto t1 = Clock::now();
    int found = 0;
    for (int i = 0; i < 100000; ++i) found += index->find_movie(probe).has_value();
    auto lookup_ns = std::chrono::duration<double, std::nano>(Clock::now() - t1).count() / 100000;
    std::printf("index: %d items, %zu keys, listing %.1f MB of JSON in %zu pages\n", kItems, index->size(), bytes / 1e6,
                pages.size());
    std::printf(
        "index: parse + index %.0f ms (%.1f us/item); index holds %.1f MB (%.0f bytes/item); lookup %.0f ns (%d "
        "found)\n",
        ms, ms * 1000 / kItems, (after - before) / 1e6, double(after - before) / kItems, lookup_ns, found / 100000);

    // Through the host.
    pb::sim::Simulator sim;
    pb::sim::SimServer s;
    s.name = "Bench";
    s.machine_id = "bench-refresh";
    pb::sim::add_sample_library(s);
    auto idx = sim.add_server(std::move(s));
    auto port = sim.add_connection(idx, pb::sim::ConnectionSpec{});
    sim.start();
    pbtest::HostRig rig(sim);
    if (!rig.start({{"update_movie_library", "true"}, {"set_movie_added", "true"}, {"update_series_library", "true"}}))
        return 1;
    if (!rig.sign_in()) return 1;
    rig.api("POST", "/api/plex/select-server",
            R"({"machineIdentifier":"bench-refresh","uri":"http://127.0.0.1:)" + std::to_string(port) + R"("})");
    auto fire_and_wait = [&](const std::string& media, const std::string& rk) {
        auto before_n = sim.requests_matching("", "/library").size();
        auto t = Clock::now();
        rig.api("POST", "/api/host/events", R"({"event":"subtitle.downloaded","media":)" + media + "}");
        pbtest::eventually(
            [&] { return !sim.requests_matching("PUT", "/library/metadata/" + rk + "/refresh").empty(); },
            std::chrono::seconds(20));
        double latency = std::chrono::duration<double, std::milli>(Clock::now() - t).count();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        return std::make_pair(latency, sim.requests_matching("", "/library").size() - before_n);
    };
    // First event pays for the index build; the next ones are indexed.
    auto first = fire_and_wait(R"({"type":"movie","imdb":"tt0253556"})", "1036");
    sim.clear_requests();
    auto second = fire_and_wait(R"({"type":"movie","imdb":"tt0165832"})", "108");
    auto ep_first = fire_and_wait(R"({"type":"episode","series_tvdb":280619,"season":1,"episode":1})", "2002");
    auto ep_next = fire_and_wait(R"({"type":"episode","series_tvdb":280619,"season":1,"episode":2})", "2003");
    std::printf("events: first movie (builds the index): %zu PMS requests, %.0f ms event-to-refresh\n", first.second,
                first.first);
    std::printf(
        "events: indexed movie: %zu PMS requests (refresh + addedAt), %.0f ms event-to-refresh (2000 ms coalescing "
        "window)\n",
        second.second, second.first);
    std::printf("events: first episode of a show: %zu PMS requests, %.0f ms; next episode: %zu PMS requests, %.0f ms\n",
                ep_first.second, ep_first.first, ep_next.second, ep_next.first);
    // The host's call into the plugin (on_event), timed directly: parse and
    // post only. 1000 events for one indexed movie (they coalesce).
    std::string err;
    auto t2 = Clock::now();
    for (int i = 0; i < 1000; ++i)
        rig.host().fire_event("subtitle.downloaded",
                              R"({"type":"movie","imdb":"tt0253556","path":"/data/movies/x.mkv"})", &err);
    double per_us = std::chrono::duration<double, std::micro>(Clock::now() - t2).count() / 1000;
    std::printf("events: on_event returns in %.1f us on average (1000 calls)\n", per_us);
    rig.stop();
    sim.stop();
    return 0;
}

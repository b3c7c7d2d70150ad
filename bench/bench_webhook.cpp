// Cost of the plugin's webhook handler (parse multipart, parse payload,
// resolve ids, dispatch the search, answer), measured through the real
// libplexbridge.so loaded by a minimal in-process host: no network.
//
//   build/bin/pb_bench_webhook --benchmark_min_time=2
//
// Baselines in the same run: a bare Boost.JSON parse of the same payload
// (the floor any implementation pays) and a route that answers at once.
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <filesystem>

#include "common/fs.hpp"
#include "plexbridge_plugin.h"
#include "vault/vault.hpp"
#include "webhooks/multipart.hpp"
#include "webhooks/payload.hpp"

namespace {

std::string S(pb_str s) { return std::string(s.data ? s.data : "", s.len); }

struct Host {
    boost::json::object settings;
    std::vector<std::pair<std::string, pb_route_desc>> routes;
    int status = 0;
    long searches = 0;
    pb_plugin_api plugin{};
};

Host g;
std::string g_payload;

pb_host_api table(Host& h, const std::string& dir) {
    pb_host_api t;
    PB_STRUCT_INIT(t);
    static std::string data_dir;
    data_dir = dir;
    t.abi_version = PB_ABI_VERSION;
    t.host_ctx = &h;
    t.data_dir = pb_str{data_dir.data(), data_dir.size()};
    t.log = [](void*, pb_log_level, pb_str) {};
    t.register_setting = [](void* c, const pb_setting_desc* d) {
        auto* h = static_cast<Host*>(c);
        if (!h->settings.contains(S(d->name))) h->settings[S(d->name)] = boost::json::parse(S(d->default_json));
        return PB_OK;
    };
    t.register_route = [](void* c, const pb_route_desc* d) {
        static_cast<Host*>(c)->routes.emplace_back(S(d->path_pattern), *d);
        return PB_OK;
    };
    t.subscribe_event = [](void*, pb_str) { return PB_OK; };
    t.settings_read = [](void* c, pb_str_sink sink, void* ctx) {
        std::string s = boost::json::serialize(static_cast<Host*>(c)->settings);
        sink(ctx, pb_str{s.data(), s.size()});
        return PB_OK;
    };
    t.settings_write = [](void* c, pb_str patch, pb_str_sink, void*) {
        auto* h = static_cast<Host*>(c);
        auto v = boost::json::parse(S(patch));
        for (auto& [k, x] : v.as_object()) h->settings[k] = x;
        std::string all = boost::json::serialize(h->settings);
        if (h->plugin.settings_changed)
            h->plugin.settings_changed(h->plugin.plugin_ctx, pb_str{all.data(), all.size()});
        return PB_OK;
    };
    // PB_BENCH_DEBUG=1 prints an answer other than 200 (a benchmark that
    // errors says only "handler did not answer 200").
    t.respond = [](void* c, pb_responder*, const pb_http_response* r) {
        static_cast<Host*>(c)->status = r->status;
        if (r->status != 200 && std::getenv("PB_BENCH_DEBUG"))
            std::fprintf(stderr, "%d %.*s\n", r->status, (int)r->body.len, r->body.data);
    };
    t.request_search = [](void* c, const pb_search_request*) {
        static_cast<Host*>(c)->searches++;
        return PB_SEARCH_QUEUED;
    };
    return t;
}

const pb_route_desc* webhook_route() {
    for (auto& [p, d] : g.routes)
        if (p == "/api/webhooks/plex") return &d;
    return nullptr;
}

void setup_once() {
    static bool done = false;
    if (done) return;
    done = true;
    auto dir = std::filesystem::temp_directory_path() / "pb-bench-webhook";
    std::filesystem::create_directories(dir);
    // A known webhook key, sealed with the key the plugin will use.
    auto vault = std::move(pb::vault::Vault::open(dir.string())).value();
    g.settings["webhook_key"] = vault->seal("benchkey");
    g.settings["use_plex"] = true;
    g.settings["webhook_dedupe_seconds"] = 0;  // every call dispatches
    g.settings["client_identifier"] = "bench";
    void* lib = dlopen(PB_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
    auto entry = reinterpret_cast<pb_entry_fn>(dlsym(lib, PB_ENTRY_SYMBOL));
    static auto t = table(g, dir.string());
    PB_STRUCT_INIT(g.plugin);
    if (entry(&t, &g.plugin) != PB_OK) std::abort();
    std::string fx = pb::common::fs::read_file(std::string(PB_FIXTURES_DIR) + "/movary/plex-scrobble.http").value();
    std::string json = fx.substr(fx.find("payload=") + 8);
    json.replace(json.find("media.scrobble"), 14, "media.play");
    g_payload = json;
}

std::string multipart_body(const std::string& payload) {
    const std::string b = "------------------------d74496d66958873e";
    return "--" + b +
           "\r\nContent-Disposition: form-data; name=\"thumb\"; filename=\"t.jpg\"\r\nContent-Type: "
           "image/jpeg\r\n\r\n" +
           std::string(20000, 'J') + "\r\n--" + b +
           "\r\nContent-Disposition: form-data; name=\"payload\"\r\nContent-Type: application/json\r\n\r\n" + payload +
           "\r\n--" + b + "--\r\n";
}

// state.range(0): 0 = the capture as stored (pretty-printed, 16.8 KB),
// 1 = the same payload compact, as Plex Media Server sends it.
std::string payload_arg(const benchmark::State& state) {
    return state.range(0) == 0 ? g_payload : boost::json::serialize(boost::json::parse(g_payload));
}

void BM_PluginWebhookHandler(benchmark::State& state) {
    setup_once();
    const pb_route_desc* r = webhook_route();
    std::string body = multipart_body(payload_arg(state));
    state.SetLabel(state.range(0) == 0 ? "pretty 16.8 KB payload" : "compact payload");
    std::string ct = "multipart/form-data; boundary=------------------------d74496d66958873e";
    pb_http_header headers[] = {{{"Content-Type", 12}, {ct.data(), ct.size()}},
                                {{"User-Agent", 10}, {"PlexMediaServer/1.40", 20}}};
    pb_http_request req;
    PB_STRUCT_INIT(req);
    req.method = {"POST", 4};
    req.path = {"/api/webhooks/plex", 18};
    req.query = {"apikey=benchkey", 15};
    req.headers = headers;
    req.header_count = 2;
    req.body = {body.data(), body.size()};
    for (auto _ : state) {
        r->handler(r->route_ctx, &req, reinterpret_cast<pb_responder*>(0x1));
        if (g.status != 200) state.SkipWithError("handler did not answer 200");
    }
    state.counters["searches"] = static_cast<double>(g.searches);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_PluginWebhookHandler)->Arg(0)->Arg(1);

void BM_BaselineJsonParseOnly(benchmark::State& state) {
    setup_once();
    std::string payload = payload_arg(state);
    for (auto _ : state) benchmark::DoNotOptimize(boost::json::parse(payload));
}
BENCHMARK(BM_BaselineJsonParseOnly)->Arg(0)->Arg(1);

// Boost.JSON's SAX parser with a handler that keeps nothing: the floor for
// any reader built on it.
struct NullHandler {
    using ec = boost::system::error_code;
    using sv = boost::json::string_view;
    static constexpr std::size_t max_array_size = std::size_t(-1), max_object_size = std::size_t(-1),
                                 max_string_size = std::size_t(-1), max_key_size = std::size_t(-1);
    bool on_document_begin(ec&) { return true; }
    bool on_document_end(ec&) { return true; }
    bool on_object_begin(ec&) { return true; }
    bool on_object_end(std::size_t, ec&) { return true; }
    bool on_array_begin(ec&) { return true; }
    bool on_array_end(std::size_t, ec&) { return true; }
    bool on_key_part(sv, std::size_t, ec&) { return true; }
    bool on_key(sv, std::size_t, ec&) { return true; }
    bool on_string_part(sv, std::size_t, ec&) { return true; }
    bool on_string(sv, std::size_t, ec&) { return true; }
    bool on_number_part(sv, ec&) { return true; }
    bool on_int64(int64_t, sv, ec&) { return true; }
    bool on_uint64(uint64_t, sv, ec&) { return true; }
    bool on_double(double, sv, ec&) { return true; }
    bool on_bool(bool, ec&) { return true; }
    bool on_null(ec&) { return true; }
    bool on_comment_part(sv, ec&) { return true; }
    bool on_comment(sv, ec&) { return true; }
};

void BM_BaselineSaxNullParse(benchmark::State& state) {
    setup_once();
    std::string payload = payload_arg(state);
    boost::json::parse_options opts;
    opts.allow_invalid_utf8 = true;  // as the payload reader does
    for (auto _ : state) {
        boost::json::basic_parser<NullHandler> p(opts);
        boost::system::error_code ec;
        benchmark::DoNotOptimize(p.write_some(false, payload.data(), payload.size(), ec));
    }
}
BENCHMARK(BM_BaselineSaxNullParse)->Arg(0)->Arg(1);

void BM_PayloadReaderOnly(benchmark::State& state) {
    setup_once();
    std::string payload = payload_arg(state);
    std::string err;
    for (auto _ : state) benchmark::DoNotOptimize(pb::webhooks::parse_payload(payload));
}
BENCHMARK(BM_PayloadReaderOnly)->Arg(0)->Arg(1);

void BM_MultipartOnly(benchmark::State& state) {
    setup_once();
    std::string body = multipart_body(g_payload);
    for (auto _ : state)
        benchmark::DoNotOptimize(pb::webhooks::parse_multipart(body, "------------------------d74496d66958873e"));
}
BENCHMARK(BM_MultipartOnly);

}  // namespace

BENCHMARK_MAIN();

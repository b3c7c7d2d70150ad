// A fake host that dlopens the real libplexbridge.so: symbol hygiene, the
// version/size negotiation matrix, registration against the manifest, a
// routed request, events, and a clean unload.
#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "plexbridge_plugin.h"

extern int pb_header_cpp_check();

namespace bj = boost::json;

namespace {

std::string S(pb_str s) { return std::string(s.data ? s.data : "", s.len); }

struct FakeHost {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> logs;
    std::vector<bj::object> settings_reg;
    std::vector<std::tuple<std::string, std::string, pb_route_desc>> routes;
    std::vector<std::string> events;
    bj::object settings;
    std::string data_dir;
    int responses = 0;
    int last_status = 0;
    std::string last_body;
    std::string last_content_type;
    std::vector<std::pair<std::string, std::string>> last_headers;
    std::vector<std::pair<std::string, std::string>> pages;  // title, entry path
    int calls_after_destroy = 0;
    bool destroyed = false;
    bool api_routes_only = false;
    pb_plugin_api plugin{};

    pb_host_api table(uint32_t abi_version = PB_ABI_VERSION) {
        pb_host_api h;
        PB_STRUCT_INIT(h);
        h.abi_version = abi_version;
        h.host_ctx = this;
        h.data_dir = pb_str{data_dir.data(), data_dir.size()};
        h.log = [](void* c, pb_log_level, pb_str m) {
            auto* self = static_cast<FakeHost*>(c);
            std::lock_guard l(self->mu);
            if (self->destroyed) self->calls_after_destroy++;
            self->logs.push_back(S(m));
        };
        h.register_setting = [](void* c, const pb_setting_desc* d) {
            static const char* types[] = {"?", "bool", "int", "string", "string_list", "json"};
            // A 1.0 host's reading: the first fields only (struct_size says more follow).
            EXPECT_GE(d->struct_size, offsetof(pb_setting_desc, secret) + sizeof d->secret);
            static_cast<FakeHost*>(c)->settings_reg.push_back(bj::object{{"name", S(d->name)},
                                                                         {"type", types[d->type]},
                                                                         {"default", bj::parse(S(d->default_json))},
                                                                         {"description", S(d->description)},
                                                                         {"secret", d->secret != 0}});
            auto* self = static_cast<FakeHost*>(c);
            self->settings[S(d->name)] = bj::parse(S(d->default_json));
            return PB_OK;
        };
        h.register_route = [](void* c, const pb_route_desc* d) {
            auto* self = static_cast<FakeHost*>(c);
            // As the 1.0 reference host did: API routes only.
            if (self->api_routes_only && S(d->path_pattern).rfind("/api/", 0) != 0) return PB_ERR_INVALID_ARGUMENT;
            self->routes.emplace_back(S(d->method), S(d->path_pattern), *d);
            return PB_OK;
        };
        h.subscribe_event = [](void* c, pb_str n) {
            static_cast<FakeHost*>(c)->events.push_back(S(n));
            return PB_OK;
        };
        h.settings_read = [](void* c, pb_str_sink sink, void* ctx) {
            auto* self = static_cast<FakeHost*>(c);
            std::string s;
            {
                std::lock_guard l(self->mu);
                s = bj::serialize(self->settings);
            }
            sink(ctx, pb_str{s.data(), s.size()});
            return PB_OK;
        };
        h.settings_write = [](void* c, pb_str patch, pb_str_sink, void*) {
            auto* self = static_cast<FakeHost*>(c);
            std::string all;
            {
                std::lock_guard l(self->mu);
                auto parsed = bj::parse(S(patch));
                for (auto& [k, v] : parsed.as_object()) self->settings[k] = v;
                all = bj::serialize(self->settings);
            }
            if (self->plugin.settings_changed)
                self->plugin.settings_changed(self->plugin.plugin_ctx, pb_str{all.data(), all.size()});
            return PB_OK;
        };
        h.respond = [](void* c, pb_responder*, const pb_http_response* r) {
            auto* self = static_cast<FakeHost*>(c);
            std::lock_guard l(self->mu);
            if (self->destroyed) self->calls_after_destroy++;
            self->responses++;
            self->last_status = r->status;
            self->last_body = S(r->body);
            self->last_content_type = S(r->content_type);
            self->last_headers.clear();
            for (std::size_t i = 0; i < r->header_count; ++i)
                self->last_headers.emplace_back(S(r->headers[i].name), S(r->headers[i].value));
            self->cv.notify_all();
        };
        h.request_search = [](void*, const pb_search_request*) { return PB_SEARCH_QUEUED; };
        h.register_page = [](void* c, const pb_page_desc* d) {
            static_cast<FakeHost*>(c)->pages.emplace_back(S(d->title), S(d->entry_path));
            return PB_OK;
        };
        return h;
    }

    std::string header(const std::string& name) {
        for (auto& [k, v] : last_headers)
            if (k == name) return v;
        return {};
    }

    bool logged(const std::string& needle) {
        std::lock_guard l(mu);
        for (auto& s : logs)
            if (s.find(needle) != std::string::npos) return true;
        return false;
    }
};

const pb_route_desc* find_route(FakeHost& h, const std::string& path) {
    for (auto& [m, p, d] : h.routes)
        if (p == path) return &d;
    return nullptr;
}

class Abi : public ::testing::Test {
protected:
    void SetUp() override {
        lib = dlopen(PB_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
        ASSERT_NE(lib, nullptr) << dlerror();
        version = reinterpret_cast<pb_abi_version_fn>(dlsym(lib, PB_ABI_VERSION_SYMBOL));
        entry = reinterpret_cast<pb_entry_fn>(dlsym(lib, PB_ENTRY_SYMBOL));
        ASSERT_TRUE(version && entry);
        host.data_dir = (std::filesystem::temp_directory_path() /
                         ("pbabi-" + std::to_string(::getpid()) + "-" + std::to_string(counter++)))
                            .string();
        std::filesystem::create_directories(host.data_dir);
    }
    void TearDown() override {
        if (lib) dlclose(lib);
    }
    pb_status load(pb_host_api h, uint32_t plugin_table_size = sizeof(pb_plugin_api)) {
        std::memset(&host.plugin, 0, sizeof host.plugin);
        host.plugin.struct_size = plugin_table_size;
        return entry(&h, &host.plugin);
    }
    void* lib = nullptr;
    pb_abi_version_fn version = nullptr;
    pb_entry_fn entry = nullptr;
    FakeHost host;
    static inline int counter = 0;
};

}  // namespace

TEST(Header, CompilesAsCAndCpp) { EXPECT_EQ(pb_header_cpp_check(), 2); }

// The names the library's dynamic symbol table defines: what any host, or
// any other library in the host's process, can bind to. Read from the file
// itself (ELF .dynsym), not by asking dlsym() about a few names we thought of.
static std::set<std::string> exported_symbols(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto at = [&](std::size_t off, std::size_t n) {
        if (off > bytes.size() || n > bytes.size() - off) throw std::runtime_error("truncated ELF file");
        return bytes.data() + off;
    };
    Elf64_Ehdr eh;
    std::memcpy(&eh, at(0, sizeof eh), sizeof eh);
    if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
        throw std::runtime_error("not a 64-bit ELF file");
    std::vector<Elf64_Shdr> sections(eh.e_shnum);
    for (std::size_t i = 0; i < sections.size(); ++i)
        std::memcpy(&sections[i], at(eh.e_shoff + i * eh.e_shentsize, sizeof(Elf64_Shdr)), sizeof(Elf64_Shdr));
    std::set<std::string> names;
    for (const auto& sh : sections) {
        if (sh.sh_type != SHT_DYNSYM) continue;
        const auto& strtab = sections.at(sh.sh_link);
        for (std::size_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
            Elf64_Sym sym;
            std::memcpy(&sym, at(sh.sh_offset + off, sizeof sym), sizeof sym);
            bool defined = sym.st_shndx != SHN_UNDEF;
            bool visible = ELF64_ST_BIND(sym.st_info) != STB_LOCAL && ELF64_ST_VISIBILITY(sym.st_other) == STV_DEFAULT;
            if (!defined || !visible || sym.st_name == 0) continue;
            const char* name = at(strtab.sh_offset + sym.st_name, 1);
            names.insert(std::string(name, strnlen(name, strtab.sh_size - sym.st_name)));
        }
    }
    return names;
}

TEST_F(Abi, ExportsOnlyTheTwoEntryPoints) {
    EXPECT_EQ(version(), PB_ABI_VERSION);
    // The statically linked Boost, spdlog, fmt and pugixml stay inside: a
    // host with its own copies must never bind to ours.
    std::set<std::string> expected = {PB_ABI_VERSION_SYMBOL, PB_ENTRY_SYMBOL};
    std::set<std::string> got = exported_symbols(PB_PLUGIN_PATH);
    EXPECT_EQ(got, expected);
    // And the loader agrees.
    EXPECT_EQ(dlsym(lib, "_ZN4pugi12xml_documentC1Ev"), nullptr) << "pugixml leaked";
}

TEST_F(Abi, NegotiationMatrix) {
    struct Case {
        uint32_t major, minor;
        int32_t size_delta;  // bytes removed from the host table
        pb_status expected;
        const char* log;
    };
    const uint32_t M = PB_ABI_VERSION_MAJOR;
    std::vector<Case> cases = {
        {M, PB_ABI_VERSION_MINOR, 0, PB_OK, nullptr},
        {M, PB_ABI_VERSION_MINOR + 3, 0, PB_OK, nullptr},  // a newer host is fine
        {M, 0, 0, PB_OK, nullptr},                   // a 1.0 host: it reads the 1.0 part of each setting descriptor
        {M + 1, 0, 0, PB_ERR_ABI, "needs ABI 1.x"},  // another major
        {M - 1, 9, 0, PB_ERR_ABI, "needs ABI 1.x"},
        // A table that ends before request_search, the last function the plugin needs.
        {M, PB_ABI_VERSION_MINOR, static_cast<int32_t>(sizeof(pb_host_api) - offsetof(pb_host_api, request_search)),
         PB_ERR_ABI, "smaller than ABI"},
        // register_page is optional: a table that ends before it loads (with no page).
        {M, PB_ABI_VERSION_MINOR, static_cast<int32_t>(sizeof(pb_host_api) - offsetof(pb_host_api, register_page)),
         PB_OK, nullptr},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::to_string(c.major) + "." + std::to_string(c.minor) + " -" + std::to_string(c.size_delta));
        FakeHost h2;
        h2.data_dir = host.data_dir;
        auto t = h2.table(PB_MAKE_ABI_VERSION(c.major, c.minor));
        t.struct_size -= c.size_delta;
        if (c.minor == 0) {
            // A 1.0 host: its table ends before register_page, and it
            // refuses routes outside /api/ (the plugin must not offer its page).
            t.struct_size = std::min<uint32_t>(t.struct_size, offsetof(pb_host_api, register_page));
            h2.api_routes_only = true;
        }
        std::memset(&h2.plugin, 0, sizeof h2.plugin);
        h2.plugin.struct_size = sizeof h2.plugin;
        pb_status st = entry(&t, &h2.plugin);
        EXPECT_EQ(st, c.expected);
        if (c.log) {
            EXPECT_TRUE(h2.logged(c.log)) << (h2.logs.empty() ? "no log" : h2.logs.back());
        }
        if (c.expected != PB_OK) {
            EXPECT_TRUE(h2.routes.empty() || st != PB_OK);
        }
        if (st == PB_OK) {
            h2.plugin.destroy(h2.plugin.plugin_ctx);
        }
    }
    // A host whose plugin table is older than 1.0's is refused too.
    FakeHost h3;
    h3.data_dir = host.data_dir;
    auto t = h3.table();
    std::memset(&h3.plugin, 0, sizeof h3.plugin);
    h3.plugin.struct_size = offsetof(pb_plugin_api, on_event);
    EXPECT_EQ(entry(&t, &h3.plugin), PB_ERR_ABI);
    EXPECT_EQ(entry(nullptr, &h3.plugin), PB_ERR_INVALID_ARGUMENT);
}

TEST_F(Abi, AHostFromALaterMinorIsReadUpToWhatThePluginKnows) {
    // A host built against 1.(N+1): its table has an entry this plugin has
    // never heard of, and it offers a plugin table with room for more.
    struct LaterHostTable {
        pb_host_api known;
        void (*from_a_later_minor)(void* host_ctx);
    } later{};
    later.known = host.table(PB_MAKE_ABI_VERSION(PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR + 1));
    later.known.struct_size = sizeof later;
    later.from_a_later_minor = [](void*) {};  // filled, as a real host's would be; the plugin cannot know it
    struct LaterPluginTable {
        pb_plugin_api known;
        void* from_a_later_minor[4];
    } out{};
    out.known.struct_size = sizeof out;
    ASSERT_EQ(entry(&later.known, &out.known), PB_OK);
    // The plugin says what it filled, and with which minor: the host reads
    // nothing past it, and finds it zeroed.
    EXPECT_EQ(out.known.struct_size, sizeof(pb_plugin_api));
    EXPECT_EQ(PB_ABI_MINOR(out.known.abi_version), PB_ABI_VERSION_MINOR);
    for (void* p : out.from_a_later_minor) EXPECT_EQ(p, nullptr);
    // The 1.1 entries of the later table were read: the page was declared.
    EXPECT_EQ(host.pages.size(), 1u);
    host.plugin = out.known;
    ASSERT_EQ(host.plugin.start(host.plugin.plugin_ctx), PB_OK);
    host.plugin.destroy(host.plugin.plugin_ctx);
}

TEST_F(Abi, RegistrationMatchesTheManifest) {
    ASSERT_EQ(load(host.table()), PB_OK);
    std::ifstream f(PB_MANIFEST_PATH);
    std::stringstream ss;
    ss << f.rdbuf();
    auto manifest = bj::parse(ss.str()).as_object();
    EXPECT_EQ(manifest.at("id").as_string(), S(host.plugin.plugin_id));
    EXPECT_EQ(manifest.at("version").as_string(), S(host.plugin.plugin_version));
    EXPECT_EQ(manifest.at("abi_version").as_string(),
              std::to_string(PB_ABI_VERSION_MAJOR) + "." + std::to_string(PB_ABI_VERSION_MINOR));
    const auto& settings = manifest.at("settings").as_array();
    ASSERT_EQ(settings.size(), host.settings_reg.size());
    // What the ABI registers (pb_setting_desc) is what the manifest says;
    // the manifest adds what a form needs (label, section, limits...).
    for (std::size_t i = 0; i < settings.size(); ++i) {
        bj::object registered;
        for (const char* k : {"name", "type", "default", "description", "secret"})
            registered[k] = settings[i].as_object().at(k);
        EXPECT_EQ(registered, host.settings_reg[i]) << i;
    }
    const auto& routes = manifest.at("routes").as_array();
    ASSERT_EQ(routes.size(), host.routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const auto& r = routes[i].as_object();
        EXPECT_EQ(r.at("method").as_string(), std::get<0>(host.routes[i]));
        EXPECT_EQ(r.at("path").as_string(), std::get<1>(host.routes[i]));
        EXPECT_EQ(r.at("auth").as_string() == "apikey", std::get<2>(host.routes[i]).auth == PB_ROUTE_AUTH_HOST_APIKEY);
    }
    std::vector<std::string> events;
    for (const auto& e : manifest.at("events").as_array()) events.emplace_back(e.as_string());
    EXPECT_EQ(events, host.events);
    host.plugin.destroy(host.plugin.plugin_ctx);
}

TEST_F(Abi, RoutesAnswerThroughRespondAndNothingAfterDestroy) {
    ASSERT_EQ(load(host.table()), PB_OK);
    ASSERT_EQ(host.plugin.start(host.plugin.plugin_ctx), PB_OK);
    // The client identifier was generated and stored through settings_write.
    EXPECT_EQ(host.settings.at("client_identifier").as_string().size(), 32u);
    const pb_route_desc* logout = find_route(host, "/api/plex/oauth/logout");
    ASSERT_NE(logout, nullptr);
    pb_http_request req;
    PB_STRUCT_INIT(req);
    req.method = pb_str{"POST", 4};
    req.path = pb_str{"/api/plex/oauth/logout", 22};
    logout->handler(logout->route_ctx, &req, reinterpret_cast<pb_responder*>(0x1));
    {
        std::unique_lock l(host.mu);
        ASSERT_TRUE(host.cv.wait_for(l, std::chrono::seconds(5), [&] { return host.responses == 1; }));
        EXPECT_EQ(host.last_status, 200);
    }
    // Events return at once, whatever the payload.
    pb_event ev;
    PB_STRUCT_INIT(ev);
    ev.name = pb_str{"subtitle.downloaded", 19};
    ev.payload_json = pb_str{"{not json", 9};
    host.plugin.on_event(host.plugin.plugin_ctx, &ev);
    // Validation names the field.
    std::string err;
    auto sink = [](void* c, pb_str m) { static_cast<std::string*>(c)->assign(m.data, m.len); };
    std::string bad = R"({"port": 0})";
    EXPECT_EQ(host.plugin.validate_settings(host.plugin.plugin_ctx, pb_str{bad.data(), bad.size()}, sink, &err),
              PB_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(err.rfind("port", 0), 0u);
    host.plugin.destroy(host.plugin.plugin_ctx);
    {
        std::lock_guard l(host.mu);
        host.destroyed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard l(host.mu);
    EXPECT_EQ(host.calls_after_destroy, 0);
}

TEST_F(Abi, ThePluginDeclaresItsPageAndServesItsFilesWithTheirHeaders) {
    ASSERT_EQ(load(host.table()), PB_OK);
    ASSERT_EQ(host.pages.size(), 1u);
    EXPECT_EQ(host.pages[0], (std::pair<std::string, std::string>{"Plex", "/plugins/plexbridge/"}));
    const pb_route_desc* files = find_route(host, "/plugins/plexbridge/{file*}");
    ASSERT_NE(files, nullptr);
    EXPECT_EQ(files->auth, PB_ROUTE_AUTH_HOST_APIKEY) << "the host authenticates the browser first";
    auto get = [&](std::string path, std::string if_none_match = {}) {
        pb_http_header h{{"If-None-Match", 13}, {if_none_match.data(), if_none_match.size()}};
        pb_http_request req;
        PB_STRUCT_INIT(req);
        req.method = pb_str{"GET", 3};
        req.path = pb_str{path.data(), path.size()};
        req.headers = &h;
        req.header_count = if_none_match.empty() ? 0 : 1;
        files->handler(files->route_ctx, &req, reinterpret_cast<pb_responder*>(0x3));
        return host.last_status;
    };
    // The entry path is the page itself, with a strict policy: no inline
    // script, nothing from elsewhere, framed only by the host.
    ASSERT_EQ(get("/plugins/plexbridge/"), 200);
    EXPECT_EQ(host.last_content_type, "text/html; charset=utf-8");
    EXPECT_NE(host.last_body.find("<script type=\"module\" src=\"app.js\">"), std::string::npos);
    EXPECT_EQ(host.last_body.find("<script>"), std::string::npos) << "no inline script";
    std::string csp = host.header("Content-Security-Policy");
    EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
    EXPECT_NE(csp.find("frame-ancestors 'self'"), std::string::npos) << csp;
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(host.header("X-Content-Type-Options"), "nosniff");
    std::string etag = host.header("ETag");
    ASSERT_FALSE(etag.empty());
    // A module, as a module: the right type, or browsers refuse to run it.
    ASSERT_EQ(get("/plugins/plexbridge/app.js"), 200);
    EXPECT_EQ(host.last_content_type, "text/javascript; charset=utf-8");
    EXPECT_NE(host.header("ETag"), etag) << "each file has its own tag";
    // Revalidation: the same tag is 304 with no body; a stale one the file.
    EXPECT_EQ(get("/plugins/plexbridge/", etag), 304);
    EXPECT_TRUE(host.last_body.empty());
    EXPECT_EQ(get("/plugins/plexbridge/", "\"stale\""), 200);
    // Only the embedded files exist: no path reaches the disk.
    EXPECT_EQ(get("/plugins/plexbridge/../../etc/passwd"), 404);
    EXPECT_EQ(get("/plugins/plexbridge/%2e%2e/CMakeLists.txt"), 404);
    EXPECT_EQ(get("/plugins/plexbridge/nope.js"), 404);
    host.plugin.destroy(host.plugin.plugin_ctx);
}

TEST_F(Abi, PendingRequestsAreAnsweredAtDestroy) {
    ASSERT_EQ(load(host.table()), PB_OK);
    // Not started: the io thread does not run, so the request stays pending.
    const pb_route_desc* validate = find_route(host, "/api/plex/oauth/validate");
    ASSERT_NE(validate, nullptr);
    pb_http_request req;
    PB_STRUCT_INIT(req);
    req.method = pb_str{"GET", 3};
    req.path = pb_str{"/api/plex/oauth/validate", 24};
    validate->handler(validate->route_ctx, &req, reinterpret_cast<pb_responder*>(0x2));
    host.plugin.destroy(host.plugin.plugin_ctx);
    std::lock_guard l(host.mu);
    EXPECT_EQ(host.responses, 1);
    EXPECT_EQ(host.last_status, 503);
}

// plex.tv's resources list read for 1 to 1,000 servers, in JSON
// (/api/v2/resources) and in XML (/api/resources, older answers), each
// against the parser's floor measured in the same run: building the
// document alone (boost::json::parse, pugixml's load) without reading it.
//
//   build/bin/pb_bench_resources [--quick]
//
// The entries copy the shape of the real captures in
// tests/fixtures/plex-api.rs/resources.{json,xml}: a server with four
// connections (local https, a custom https address, the plex.direct remote
// one and a relay) and, as real accounts have, a player device for every
// second server (no connections).
#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <pugixml.hpp>
#include <string>
#include <vector>

#include "plexapi/models.hpp"

using Clock = std::chrono::steady_clock;
namespace json = boost::json;

namespace {

std::string json_list(int servers) {
    std::string out = "[";
    for (int i = 0; i < servers; ++i) {
        std::string id = "c0ffee" + std::to_string(1000000 + i) + "d00d",
                    ip = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2);
        std::string dashed = ip;
        std::replace(dashed.begin(), dashed.end(), '.', '-');
        if (i) out += ",";
        out +=
            R"~({"name":"Server )~" + std::to_string(i) +
            R"~(","product":"Plex Media Server","productVersion":"1.40.2.8395-c67dce28e","platform":"Linux",)~"
            R"~("platformVersion":"6.1.0-18-amd64","device":"Docker Container","clientIdentifier":")~" +
            id +
            R"~(","createdAt":"2021-01-01T12:12:24Z","lastSeenAt":"2026-11-30T13:43:34Z","provides":"server",)~"
            R"~("ownerId":null,"sourceTitle":null,"publicAddress":"203.0.113.7","accessToken":"token-)~" +
            std::to_string(i) +
            R"~(","owned":true,"home":false,"synced":false,"relay":true,"presence":true,"httpsRequired":false,)~"
            R"~("publicAddressMatches":false,"dnsRebindingProtection":false,"natLoopbackSupported":false,)~"
            R"~("connections":[{"protocol":"https","address":")~" +
            ip + R"~(","port":32400,"uri":"https://)~" + dashed + "." + id +
            R"~(.plex.direct:32400","local":true,"relay":false,"IPv6":false},)~"
            R"~({"protocol":"https","address":"media.example.org","port":443,"uri":"https://media.example.org:443",)~"
            R"~("local":false,"relay":false,"IPv6":false},{"protocol":"https","address":"203.0.113.7","port":32400,)~"
            R"~("uri":"https://203-0-113-7.)~" +
            id +
            R"~(.plex.direct:32400","local":false,"relay":false,"IPv6":false},{"protocol":"https",)~"
            R"~("address":"198.51.100.3","port":8443,"uri":"https://198-51-100-3.)~" +
            id + R"~(.plex.direct:8443","local":false,"relay":true,"IPv6":false}]})~";
        if (i % 2 == 1)
            out +=
                R"~(,{"name":"Living room TV","product":"Plex for Android (TV)","productVersion":"10.10.0.5380",)~"
                R"~("platform":"Android","platformVersion":"11","device":"SHIELD Android TV","clientIdentifier":"tv-)~" +
                std::to_string(i) +
                R"~(","createdAt":"2021-01-01T12:12:24Z","lastSeenAt":"2026-11-30T13:43:34Z","provides":"client,)~"
                R"~(player,pubsub-player","ownerId":null,"sourceTitle":null,"publicAddress":"203.0.113.7",)~"
                R"~("accessToken":null,"owned":true,"home":false,"synced":false,"relay":false,"presence":false,)~"
                R"~("httpsRequired":false,"publicAddressMatches":true,"dnsRebindingProtection":false,)~"
                R"~("natLoopbackSupported":false,"connections":[]})~";
    }
    return out + "]";
}

std::string xml_list(int servers) {
    std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MediaContainer size=\"" +
                      std::to_string(servers + servers / 2) + "\">\n";
    for (int i = 0; i < servers; ++i) {
        std::string id = "c0ffee" + std::to_string(1000000 + i) + "d00d",
                    ip = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 2);
        std::string dashed = ip;
        std::replace(dashed.begin(), dashed.end(), '.', '-');
        out += "  <Device name=\"Server " + std::to_string(i) +
               "\" product=\"Plex Media Server\" productVersion=\"1.40.2.8395-c67dce28e\" platform=\"Linux\" "
               "platformVersion=\"6.1.0-18-amd64\" device=\"Docker Container\" clientIdentifier=\"" +
               id +
               "\" createdAt=\"1628211599\" lastSeenAt=\"1764510000\" provides=\"server\" owned=\"1\" "
               "accessToken=\"token-" +
               std::to_string(i) +
               "\" publicAddress=\"203.0.113.7\" httpsRequired=\"0\" synced=\"0\" relay=\"1\" "
               "dnsRebindingProtection=\"0\" natLoopbackSupported=\"0\" publicAddressMatches=\"0\" presence=\"1\">\n"
               "    <Connection protocol=\"https\" address=\"" +
               ip + "\" port=\"32400\" uri=\"https://" + dashed + "." + id +
               ".plex.direct:32400\" local=\"1\"/>\n"
               "    <Connection protocol=\"https\" address=\"media.example.org\" port=\"443\" "
               "uri=\"https://media.example.org:443\" local=\"0\"/>\n"
               "    <Connection protocol=\"https\" address=\"203.0.113.7\" port=\"32400\" uri=\"https://203-0-113-7." +
               id +
               ".plex.direct:32400\" local=\"0\"/>\n"
               "    <Connection protocol=\"https\" address=\"198.51.100.3\" port=\"8443\" uri=\"https://198-51-100-3." +
               id + ".plex.direct:8443\" local=\"0\" relay=\"1\"/>\n  </Device>\n";
        if (i % 2 == 1)
            out +=
                "  <Device name=\"Living room TV\" product=\"Plex for Android (TV)\" productVersion=\"10.10.0.5380\" "
                "platform=\"Android\" platformVersion=\"11\" device=\"SHIELD Android TV\" clientIdentifier=\"tv-" +
                std::to_string(i) +
                "\" createdAt=\"1628211599\" lastSeenAt=\"1764510000\" provides=\"client,player,pubsub-player\" "
                "owned=\"1\" publicAddress=\"203.0.113.7\" httpsRequired=\"0\" synced=\"0\" relay=\"0\" "
                "presence=\"0\"/>\n";
    }
    return out + "</MediaContainer>\n";
}

// The median time of `f` in microseconds, over enough rounds for ~0.2 s.
template <class F>
double time_us(F&& f) {
    auto t0 = Clock::now();
    f();
    double once = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
    int rounds = std::clamp(static_cast<int>(200000 / std::max(once, 1.0)), 5, 2000);
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) {
        auto t = Clock::now();
        f();
        v.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    bool quick = argc > 1 && std::string(argv[1]) == "--quick";
    std::vector<int> sizes = quick ? std::vector<int>{1, 10} : std::vector<int>{1, 10, 100, 1000};
    std::printf(
        "| servers | format | bytes | plexbridge parse | floor (document only) | ratio |\n|---|---|---|---|---|---|\n");
    for (int n : sizes) {
        for (const char* format : {"json", "xml"}) {
            bool is_json = format[0] == 'j';
            std::string body = is_json ? json_list(n) : xml_list(n);
            std::size_t servers = 0;
            double ours = time_us([&] {
                auto r = pb::plexapi::parse_resources(body);
                servers = r ? r->size() : 0;
            });
            double floor = time_us([&] {
                if (is_json) {
                    boost::system::error_code ec;
                    auto v = json::parse(body, ec);
                    if (ec) std::abort();
                } else {
                    pugi::xml_document doc;
                    if (!doc.load_buffer(body.data(), body.size())) std::abort();
                }
            });
            if (servers != static_cast<std::size_t>(n + n / 2)) {
                std::fprintf(stderr, "parse_resources read %zu devices of %d\n", servers, n + n / 2);
                return 1;
            }
            std::printf("| %d | %s | %zu | %.1f us | %.1f us | %.2fx |\n", n, format, body.size(), ours, floor,
                        ours / floor);
            std::printf("@bench %s\n", json::serialize(json::object{{"table", "resources_parse"},
                                                                    {"key", {{"servers", n}, {"format", format}}},
                                                                    {"values",
                                                                     {{"bytes", body.size()},
                                                                      {"parse_us", ours},
                                                                      {"floor_us", floor},
                                                                      {"per_server_us", ours / n}}}})
                                           .c_str());
            std::fflush(stdout);
        }
    }
    return 0;
}

// The reference host's HTTP server, from the bytes a client sends to the
// route a request reaches: Beast's request parser with the server's limits
// (httpserver/request_reader.hpp, the code the server's connections run:
// 16 KiB of header, the route's body limit, 413 beyond it), keep-alive
// requests one after another on one connection, then the host's route
// lookup (method and common::text::match_path over the plugin's routes, as
// manifest/plugin.json lists them) and the plugin's reading of the path
// parameters and the query (route::match_path, parse_query).
//
// Input: the bytes of a connection, delivered in pieces of 1, 7, 64 or 512
// bytes, or all at once (the input's length picks). No socket is opened.
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/text.hpp"
#include "fuzz_common.hpp"
#include "httpserver/http_server.hpp"
#include "httpserver/request_reader.hpp"
#include "route/route.hpp"
#include "settings/settings.hpp"

using namespace pb;
namespace bhttp = boost::beast::http;
namespace text = common::text;

#ifndef PB_MANIFEST_PATH
#error "PB_MANIFEST_PATH must point at manifest/plugin.json"
#endif

namespace {

// A connection's bytes as a synchronous stream, piece by piece.
class Connection {
public:
    Connection(std::string_view bytes, std::size_t piece) : bytes_(bytes), piece_(piece) {}
    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers, boost::system::error_code& ec) {
        if (pos_ == bytes_.size()) {
            ec = boost::asio::error::eof;
            return 0;
        }
        std::size_t n = std::min(piece_, bytes_.size() - pos_);
        n = boost::asio::buffer_copy(buffers, boost::asio::buffer(bytes_.data() + pos_, n));
        pos_ += n;
        ec = {};
        return n;
    }
    template <class MutableBufferSequence>
    std::size_t read_some(const MutableBufferSequence& buffers) {
        boost::system::error_code ec;
        std::size_t n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error(ec);
        return n;
    }

private:
    std::string_view bytes_;
    std::size_t piece_;
    std::size_t pos_ = 0;
};

struct RouteEntry {
    std::string method;
    std::string pattern;
    std::size_t max_body = 64 * 1024;  // route::Registry's default
};
std::vector<RouteEntry> g_routes;
httpserver::ListenOptions g_options;

// The host's lookup (Host::find_route).
const RouteEntry* find_route(std::string_view method, std::string_view path) {
    for (const auto& r : g_routes)
        if (r.method == method && text::match_path(r.pattern, path)) return &r;
    return nullptr;
}

void check_request(const httpserver::Request& req, std::size_t limit) {
    PB_FUZZ_CHECK(!req.method.empty() && !req.target.empty());
    PB_FUZZ_CHECK(req.path.find('?') == std::string::npos);
    PB_FUZZ_CHECK(req.target == (req.target.find('?') == std::string::npos ? req.path : req.path + "?" + req.query));
    PB_FUZZ_CHECK(req.body.size() <= limit);
    for (const auto& [name, value] : req.headers) {
        // A header that reaches a handler cannot start another header.
        PB_FUZZ_CHECK(!name.empty() && name.find_first_of("\r\n:") == std::string::npos);
        PB_FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
    }

    // Routing, as the host and then the plugin do it.
    std::string key = req.header("X-API-KEY");
    auto params = text::parse_query(req.query);
    if (key.empty()) key = text::query_get(params, "apikey").value_or("");
    (void)text::constant_time_equals(key, "0123456789abcdef0123456789abcdef");
    const RouteEntry* route = find_route(req.method, req.path);
    if (route == nullptr) return;
    PB_FUZZ_CHECK(req.body.size() <= route->max_body);
    std::map<std::string, std::string> path_params;
    PB_FUZZ_CHECK(route::match_path(route->pattern, req.path, path_params));
    for (const auto& [name, value] : path_params) {
        PB_FUZZ_CHECK(!name.empty());
        if (route->pattern.find("{" + name + "}") != std::string::npos) PB_FUZZ_CHECK(!value.empty());
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    std::ifstream f(PB_MANIFEST_PATH);
    std::stringstream s;
    s << f.rdbuf();
    boost::system::error_code ec;
    boost::json::value manifest = boost::json::parse(s.str(), ec);
    if (ec || !manifest.is_object() || !manifest.as_object().contains("routes")) {
        std::fprintf(stderr, "cannot read the routes of %s\n", PB_MANIFEST_PATH);
        std::abort();
    }
    const auto webhook_limit = static_cast<std::size_t>(settings::defaults().at("webhook_max_body_bytes").as_int64());
    for (const auto& r : manifest.at("routes").as_array()) {
        RouteEntry e{std::string(r.at("method").as_string()), std::string(r.at("path").as_string())};
        if (e.pattern == "/api/webhooks/plex") e.max_body = webhook_limit;
        g_routes.push_back(std::move(e));
    }
    // The host's body limit (Host::start): the route's, or 1 MiB.
    g_options.body_limit = [](const std::string& method, const std::string& target) -> std::size_t {
        std::string_view path = std::string_view(target).substr(0, target.find('?'));
        if (const RouteEntry* e = find_route(method, path)) return e->max_body;
        return 1024 * 1024;
    };
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    static constexpr std::size_t kPieces[] = {std::size_t(-1), 1, 7, 64, 512};
    Connection conn(fuzz::text(data, size), kPieces[size % 5]);
    boost::beast::flat_buffer buffer;
    std::optional<httpserver::detail::RequestParser> parser;
    std::string spare;
    // As a connection does (Session::read_header, on_header, on_body,
    // dispatch), for as long as the client keeps it alive.
    for (int n = 0; n < 16; ++n) {
        httpserver::detail::start_request(parser, std::move(spare));
        boost::system::error_code ec;
        bhttp::read_header(conn, buffer, *parser, ec);
        if (ec) break;
        // What the header declares (Beast counts it down as the body arrives).
        const auto content_length = parser->content_length();
        if (!httpserver::detail::limit_body(*parser, g_options)) break;  // 413, and the connection closes
        ec = httpserver::detail::parse_buffered(*parser, buffer);
        if (!ec && !parser->is_done()) bhttp::read(conn, buffer, *parser, ec);
        if (ec) break;  // 413 for body_limit, else the connection closes
        const std::string method(parser->get().method_string()), target(parser->get().target());
        const std::size_t limit = g_options.body_limit(method, target);
        auto msg = parser->release();
        const bool keep_alive = msg.keep_alive();
        httpserver::Request req = httpserver::detail::to_request(std::move(msg));
        PB_FUZZ_CHECK(req.method == method && req.target == target);
        if (content_length) PB_FUZZ_CHECK(req.body.size() == *content_length);
        check_request(req, limit);
        spare = std::move(req.body);
        if (!keep_alive) break;
    }
    return 0;
}

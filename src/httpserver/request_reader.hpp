// How a connection reads a request, apart from its socket: the Beast parser
// with the server's limits, and the Request a handler is given. The
// sessions of http_server.cpp read with it, and so does the fuzz target
// (fuzz/fuzz_http_request.cpp), so the bytes a client sends meet the same
// code in both. Private to the room (the tests and fuzz targets include it
// with src/ on their include path).
#pragma once
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/optional.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "httpserver/http_server.hpp"

namespace pb::httpserver::detail {

// A request body appended into a std::string the session keeps between
// requests. Beast's string_body zero-fills before copying and the string is
// freed after every request; a webhook's body is ~30 KB, and both showed up
// in the profile of the webhook load test.
struct ReusedStringBody {
    using value_type = std::string;
    static std::uint64_t size(const value_type& body) { return body.size(); }
    class reader {
    public:
        template <bool isRequest, class Fields>
        reader(boost::beast::http::header<isRequest, Fields>&, value_type& body) : body_(body) {}
        void init(const boost::optional<std::uint64_t>& length, boost::system::error_code& ec) {
            body_.clear();  // keeps the capacity
            // The length was checked against the route's limit already.
            if (length) body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(*length, 64u << 20)));
            ec = {};
        }
        template <class ConstBufferSequence>
        std::size_t put(const ConstBufferSequence& buffers, boost::system::error_code& ec) {
            std::size_t n = 0;
            for (auto b : boost::beast::buffers_range_ref(buffers)) {
                body_.append(static_cast<const char*>(b.data()), b.size());
                n += b.size();
            }
            ec = {};
            return n;
        }
        void finish(boost::system::error_code& ec) { ec = {}; }

    private:
        value_type& body_;
    };
};

using RequestParser = boost::beast::http::request_parser<ReusedStringBody>;
using RequestMessage = boost::beast::http::request<ReusedStringBody>;

// A request's header may take this much.
constexpr std::size_t kHeaderLimit = 16 * 1024;
// The body limit of a listener without a body_limit function.
constexpr std::size_t kDefaultBodyLimit = 1024 * 1024;

// A parser for the next request, its header limited, its body stored in
// `spare` (the last request's storage).
void start_request(std::optional<RequestParser>& parser, std::string spare);

// Once the header is in: sets the route's body limit (options.body_limit for
// the method and target). False when the declared Content-Length is over it
// already: the answer is 413, without reading the body.
bool limit_body(RequestParser& parser, const ListenOptions& options);

// Parses what is already buffered: a small request usually arrives in one
// segment, its body in the buffer with the header. need_more is no error.
boost::system::error_code parse_buffered(RequestParser& parser, boost::beast::flat_buffer& buffer);

// What the handler is given (the connection adds the addresses).
Request to_request(RequestMessage&& msg);

}  // namespace pb::httpserver::detail

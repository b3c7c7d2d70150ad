// The one translation unit that compiles Asio and Beast (separate
// compilation). Every other file sees only declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>

// Beast 1.81 (Debian 12) asserts `n >= 5` in basic_parser::parse_chunk_header
// where 3 or 4 bytes are valid: a last chunk that arrives as "0\r\n", then
// "\r", aborts a build with assertions (the sanitizer builds), request or
// response alike, though the code after the assertion handles it (it asks
// for more). Fixed upstream in Boost 1.86 (boostorg/beast#2861); found by
// fuzz/fuzz_http_request. Until then the parser is compiled with a debug
// assertion handler that lets exactly that assertion pass and stops on any
// other, as assert() would. Release builds (NDEBUG) check nothing, as before.
#define BOOST_BEAST_SOURCE
#define BOOST_ENABLE_ASSERT_DEBUG_HANDLER
#include <boost/assert.hpp>
#include <boost/beast/http/impl/basic_parser.ipp>
#undef BOOST_ENABLE_ASSERT_DEBUG_HANDLER
#include <boost/assert.hpp>

#include <boost/beast/src.hpp>

#ifndef NDEBUG
namespace boost {
void assertion_failed(char const* expr, char const* function, char const* file, long line) {
    if (std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "http/impl/basic_parser.ipp") != nullptr) return;
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
    std::abort();
}
void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
    std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
    std::abort();
}
}  // namespace boost
#endif

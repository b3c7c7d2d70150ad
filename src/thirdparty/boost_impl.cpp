// The one translation unit that compiles Asio and Beast (separate
// compilation). Every other file sees only declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>

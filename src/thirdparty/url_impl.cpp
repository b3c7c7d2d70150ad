// Boost.URL compiled once, into the plugin (as Boost.JSON is in
// json_impl.cpp): nothing to install beside the library.
#include <boost/url/src.hpp>

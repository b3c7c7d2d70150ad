// Boost.JSON compiled into this project with hidden visibility instead of
// linking the shared libboost_json, so a host's Boost cannot clash with ours.
#include <boost/json/src.hpp>

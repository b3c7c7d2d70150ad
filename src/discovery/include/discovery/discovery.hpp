// Server discovery, selection and libraries: the routes behind the
// settings page's server picker. See docs/servers.md.
#pragma once
#include <boost/json/array.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "route/route.hpp"
#include "session/session.hpp"

namespace pb::discovery {

class Discovery {
public:
    // Registers the server and library routes.
    Discovery(session::Session& session, route::Registry& routes);

private:
    void servers(route::Call& call, route::Reply reply);
    void test_connection(route::Call& call, route::Reply reply);
    void get_selection(route::Call& call, route::Reply reply);
    void select(route::Call& call, route::Reply reply);
    void libraries(route::Call& call, route::Reply reply);

    // The last listing with its probes. The route answers once every
    // server has its choice; the probes still running fill the listing in,
    // and `?poll=1` reads it, never probing. A listing asked for again
    // soon, with the same settings, is this one too (`?refresh=1` probes
    // again). Read and written on the io thread only.
    struct Listing {
        std::chrono::steady_clock::time_point started;
        std::string account;         // whose listing: a poll reads only its own
        std::string made_with;       // account and probe settings: a listing is reused only with the same
        boost::json::array servers;  // as the route answers
        bool decided = false;
        std::vector<route::Reply> waiting;  // polls that came before the choice
    };
    std::shared_ptr<Listing> last_;
    void poll(route::Reply reply);
    const Listing* reusable() const;

    session::Session& session_;
};

}  // namespace pb::discovery

// Server discovery, selection and libraries: the routes behind the
// settings page's server picker. See docs/servers.md.
#pragma once
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

    session::Session& session_;
};

}  // namespace pb::discovery

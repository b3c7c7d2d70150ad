#include "page/page.hpp"

#include <span>

#include "common/web.hpp"

namespace pb::page {

std::span<const common::web::File> files();  // generated: page_files.cpp

static void serve(route::Call& call, route::Reply reply) {
    const common::web::File* f = common::web::find(files(), call.path_params["file"]);
    if (f == nullptr)
        return reply.fail(
            common::Error(common::Errc::not_found, "the settings page has no file " + std::string(call.path)));
    auto a = common::web::answer(*f, call.header("If-None-Match"));
    reply.raw(a.status, a.content_type, a.body, a.headers);
}

// The route: kPath and the rest of the path, checked to agree.
static constexpr std::string_view kRoute = "/plugins/plexbridge/{file*}";
static_assert(kRoute.substr(0, kPath.size()) == kPath && kRoute.substr(kPath.size()) == "{file*}");

void add_routes(route::Registry& routes) { routes.add("GET", std::string(kRoute), serve); }

}  // namespace pb::page

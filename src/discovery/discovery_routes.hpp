// Server discovery, selection and libraries: the routes behind the
// settings page's server picker. See docs/servers.md.
#pragma once
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "discovery/pms_client.hpp"
#include "plexapi/models.hpp"
#include "plexapi/plextv.hpp"
#include "plugin/router.hpp"

namespace pb::plugin {
class Plugin;
}

namespace pb::discovery {

class DiscoveryRoutes {
public:
    explicit DiscoveryRoutes(plugin::Plugin& plugin);
    void register_routes();
    std::shared_ptr<PmsClient> pms() { return pms_; }

private:
    void servers(plugin::Call& call, plugin::Reply reply);
    void test_connection(plugin::Call& call, plugin::Reply reply);
    void get_selection(plugin::Call& call, plugin::Reply reply);
    void select(plugin::Call& call, plugin::Reply reply);
    void libraries(plugin::Call& call, plugin::Reply reply);

    // The account's servers, from plex.tv or a cache younger than 60 s.
    // Io thread only.
    void with_resources(
        std::function<void(std::optional<std::vector<plexapi::Resource>>, std::optional<plexapi::ApiError>)> cb,
        bool fresh);

    plugin::Plugin& plugin_;
    std::shared_ptr<PmsClient> pms_;
    std::vector<plexapi::Resource> cache_;
    std::chrono::steady_clock::time_point cached_at_{};
};

}  // namespace pb::discovery

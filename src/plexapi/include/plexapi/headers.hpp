// The X-Plex-* headers plex.tv and Plex Media Server expect on every call.
// The client identifier is generated once and persisted in settings, so the
// user sees one "plexbridge" device on plex.tv, not one per restart.
#pragma once
#include <string>

#include "common/version.hpp"
#include "http/client.hpp"

namespace pb::plexapi {

struct ClientIdentity {
    std::string product = std::string(common::kProduct);
    std::string version = std::string(common::kVersion);
    std::string client_identifier;
    std::string platform = "Linux";
    std::string device = "plexbridge";
    std::string device_name = "plexbridge";
};

enum class Accept { json = 1, xml = 2 };

// Adds the X-Plex-* headers and Accept to `headers`.
void add_plex_headers(http::Headers& headers, const ClientIdentity& id, Accept accept);

}  // namespace pb::plexapi

#include "plexapi/headers.hpp"

namespace pb::plexapi {

void add_plex_headers(http::Headers& h, const ClientIdentity& id, Accept accept) {
    h.emplace_back("X-Plex-Product", id.product);
    h.emplace_back("X-Plex-Version", id.version);
    h.emplace_back("X-Plex-Client-Identifier", id.client_identifier);
    h.emplace_back("X-Plex-Platform", id.platform);
    h.emplace_back("X-Plex-Device", id.device);
    h.emplace_back("X-Plex-Device-Name", id.device_name);
    h.emplace_back("Accept", accept == Accept::json ? "application/json" : "application/xml");
}

}  // namespace pb::plexapi

// What a Plex webhook says, and which media it is about.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "plexapi/models.hpp"
#include "webhooks/webhooks.hpp"

namespace pb::webhooks {

struct Payload {
    std::string event;       // "media.play", "library.new", ...
    std::string account_id;  // Account.id as text
    std::string account_title;
    std::string server_uuid;  // Server.uuid
    std::string type;         // Metadata.type: movie, episode, track, clip...
    std::string subtype;      // Metadata.subtype: trailer, preroll...
    std::string title;
    std::string rating_key;
    std::string grandparent_rating_key;
    std::string section_id;  // librarySectionID as text
    std::string section_title;
    std::string guid;  // primary guid
    std::string grandparent_guid;
    int32_t parent_index = -1;  // season
    int32_t index = -1;         // episode
    // Ids from the Guid array (the item's own: the episode's for episodes).
    plexapi::ExternalIds own;
    bool has_guid_array = false;
};

// Parses the payload JSON. Errc::webhook_malformed, saying why, for anything
// that is not a Plex webhook (not JSON, no event, Metadata of the wrong shape).
common::Result<Payload> parse_payload(std::string_view json);

// The media a payload names, with the ids its guids carry: a movie's from
// its Guid array and guid; an episode's own from the Guid array, its
// series' from a legacy thetvdb://series/season/episode guid and the
// grandparentGuid. Looks nothing up (Webhooks::receive then tries its cache
// of series and Plex Media Server).
Media media_of(const Payload& p);

}  // namespace pb::webhooks

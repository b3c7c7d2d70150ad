// What plexbridge reads from plex.tv and Plex Media Server, and the parsers
// that read it from either wire format (see wire.hpp). Each parser is
// strict about what matters (a PIN without an id is an error; a missing
// authToken means "not linked yet", never an empty token) and lenient about
// everything else (unknown keys, numbers as strings, missing optional keys).
// A parser's failure is Errc::bad_answer with what was wrong.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace pb::plexapi {

struct Pin {
    int64_t id = 0;
    std::string code;
    std::string client_identifier;
    int64_t expires_in_s = 0;               // as sent: 900, 1800...
    std::string expires_at;                 // ISO 8601 as sent
    std::optional<std::string> auth_token;  // set once the user linked the PIN
};
common::Result<Pin> parse_pin(std::string_view body);

struct Account {
    int64_t id = 0;
    std::string uuid;
    std::string username;
    std::string email;
    std::string title;
    bool subscription_active = false;
    std::vector<std::string> features;  // subscription features
    bool has_plex_pass() const;         // active subscription or plexpass role
    bool plexpass_role = false;
};
common::Result<Account> parse_account(std::string_view body);

// A person of the account's Plex Home: the admin, members with a plex.tv
// account of their own, and managed users (no username or e-mail).
struct HomeUser {
    int64_t id = 0;
    std::string uuid;
    std::string title;     // the name Plex shows
    std::string username;  // "" for a managed user
    std::string thumb;     // avatar URL
    bool admin = false;
    bool guest = false;
    bool restricted = false;          // managed, with restrictions
    std::string restriction_profile;  // "little_kid", "older_kid", "teen" or ""
    bool has_pin = false;             // "protected": switching to it asks for its PIN
    bool managed() const { return username.empty() && !admin; }
};
// GET /api/v2/home/users (JSON {"users": [...]}, or XML) and the legacy
// GET /api/home/users (<MediaContainer><User .../>). A user without an id
// and uuid is skipped, not an error; no list at all is.
common::Result<std::vector<HomeUser>> parse_home_users(std::string_view body);
// The token a switch to a Home user gives: `authToken` in the v2 JSON (and
// XML), `authenticationToken` in the legacy XML.
common::Result<std::string> parse_switch_token(std::string_view body);

struct Connection {
    std::string protocol;
    std::string address;
    int64_t port = 0;
    std::string uri;
    bool local = false;
    bool relay = false;
    bool ipv6 = false;
};

struct Resource {
    std::string name;
    std::string product;
    std::string product_version;
    std::string platform;
    std::string device;
    std::string client_identifier;  // the server's machineIdentifier
    std::string provides;
    bool owned = false;
    bool presence = false;
    bool https_required = false;
    std::string access_token;  // empty when absent
    std::string source_title;  // owner's name for shared servers
    std::string public_address;
    std::vector<Connection> connections;
    bool is_server() const;
};
common::Result<std::vector<Resource>> parse_resources(std::string_view body);

struct Identity {
    std::string machine_identifier;
    std::string version;
};
common::Result<Identity> parse_identity(std::string_view body);

struct Section {
    std::string key;
    std::string title;
    std::string type;  // "movie", "show", "artist", "photo"
    std::string agent;
    std::string scanner;
    std::string language;
    std::string uuid;
    int64_t updated_at = 0;
    int64_t created_at = 0;
    bool hidden = false;
    std::vector<std::string> locations;
};
common::Result<std::vector<Section>> parse_sections(std::string_view body);

// A subtitle a Part carries: a <Stream streamType="3">. Plex writes the
// language twice (languageCode "eng", ISO 639-2/B; languageTag "en", BCP 47)
// and omits flags that are off. External (sidecar) subtitles have a key
// (/library/streams/ID) and no index; embedded ones an index and no key.
struct SubtitleStream {
    std::string key;
    std::string codec;  // srt, ass, ssa, vobsub, pgs, ...
    std::string language_code;
    std::string language_tag;
    std::string file;  // the sidecar's path, when the server writes it (no capture shows it)
    bool forced = false;
    std::optional<bool> hearing_impaired;  // absent on servers that do not detect it
    bool external() const { return !key.empty() || !file.empty(); }
};

// "en" for "en", "EN-us", "eng", "English"-less codes alike: the ISO 639-1
// code of a language code or tag, lower case; the input lower-cased when
// it is not one Plex writes.
std::string language_639_1(std::string_view code);

struct MediaItem {
    std::string rating_key;
    std::string key;
    std::string type;  // movie, show, season, episode, collection...
    std::string title;
    std::string guid;                // primary guid: plex://... or com.plexapp.agents...
    std::vector<std::string> guids;  // Guid array: imdb://tt.., tmdb://.., tvdb://..
    int64_t library_section_id = -1;
    std::string parent_rating_key;
    std::string grandparent_rating_key;
    std::string grandparent_guid;
    std::string grandparent_title;
    int64_t index = -1;         // episode number / season number
    int64_t parent_index = -1;  // season number of an episode
    int64_t year = -1;
    int64_t added_at = 0;
    int64_t child_count = -1;
    std::vector<std::string> files;  // Media/Part file paths
    std::vector<SubtitleStream> subtitles;
};

struct ItemPage {
    std::vector<MediaItem> items;
    int64_t offset = 0;
    int64_t total_size = -1;  // -1 when the server did not say
    int64_t size = 0;
    int64_t library_section_id = -1;
};
common::Result<ItemPage> parse_items(std::string_view body);

// The code plex.tv puts in an error answer ({"errors":[{"code":1043,...}]}
// or <errors><error code="1043" .../></errors>), or nullopt.
std::optional<int64_t> plextv_error_code(std::string_view body);

struct Webhook {
    std::string url;
};
common::Result<std::vector<Webhook>> parse_webhooks(std::string_view body);

// A ratingKey that is a non-empty number: the only kind an edit may name.
class RatingKey {
public:
    // Nullopt for anything but 1 to 19 decimal digits.
    static std::optional<RatingKey> parse(std::string_view text);
    const std::string& str() const { return value_; }

private:
    explicit RatingKey(std::string value) : value_(std::move(value)) {}
    std::string value_;
};

// The item types Plex's edit endpoint takes.
enum class ItemType : uint8_t { movie = 1, episode = 4 };

// The path that sets one item's "added at" date, as Plex's own clients do:
// PUT /library/sections/{section}/all?type=…&id={ratingKey}&addedAt.value=…
// &addedAt.locked=1. The same call without `id` edits every item of the
// section, so it takes a RatingKey, which cannot be empty or not a number.
std::string added_at_edit_path(const RatingKey& section, ItemType type, const RatingKey& item, int64_t unix_seconds);

// External ids from guids, in either agent style.
struct ExternalIds {
    std::string imdb;  // "tt0253556"
    int64_t tmdb = -1;
    int64_t tvdb = -1;
    int32_t season = -1;  // from legacy thetvdb://id/season/episode
    int32_t episode = -1;
};
// Reads "imdb://tt1", "tmdb://2", "tvdb://3", and the legacy agent forms
// "com.plexapp.agents.imdb://tt1?lang=en", "com.plexapp.agents.themoviedb://2?lang=en",
// "com.plexapp.agents.thetvdb://3/1/2?lang=en" into `ids` (fields already
// set are kept), and the HAMA agent's "com.plexapp.agents.hama://tvdb-3/1/2",
// "…hama://tmdb-2", "…hama://imdb-tt1". Returns false when the guid carries
// no external id.
bool read_guid(std::string_view guid, ExternalIds& ids);
// Why a guid gives no id to search with, in words for a log or a status
// ("its only id is an AniDB id (HAMA agent), …").
std::optional<std::string> why_no_ids(std::string_view guid);

}  // namespace pb::plexapi

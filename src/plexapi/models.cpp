#include "plexapi/models.hpp"

#include <charconv>
#include <limits>

#include "common/text.hpp"
#include "wire.hpp"

namespace pb::plexapi {

static common::Error unreadable(std::string why) { return common::Error(common::Errc::bad_answer, std::move(why)); }

// The object a response is "about": JSON puts it at the top, XML in a
// single root element (<pin>, <user>).
static const Node& subject(const Node& root, std::string_view xml_root) {
    const Node* n = root.first(xml_root);
    return n ? *n : root;
}

common::Result<Pin> parse_pin(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node& n = subject(*w, "pin");
    Pin p;
    auto id = n.integer("id");
    if (!id || *id <= 0) return unreadable("the PIN has no id");
    p.id = *id;
    p.code = n.str("code");
    if (p.code.empty()) return unreadable("the PIN has no code");
    p.client_identifier = n.str("clientIdentifier");
    p.expires_in_s = n.integer("expiresIn").value_or(0);
    p.expires_at = n.str("expiresAt");
    if (const std::string* t = n.attr("authToken"); t && !t->empty()) p.auth_token = *t;
    return p;
}

bool Account::has_plex_pass() const { return subscription_active || plexpass_role; }

common::Result<Account> parse_account(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node& n = subject(*w, "user");
    Account a;
    a.id = n.integer("id").value_or(0);
    a.uuid = n.str("uuid");
    a.username = n.str("username");
    a.email = n.str("email");
    a.title = n.str("title");
    if (a.username.empty() && a.uuid.empty()) return unreadable("the account has no username");
    if (const Node* sub = n.first("subscription")) {
        a.subscription_active = sub->boolean("active").value_or(false);
        if (const auto* feats = sub->kids("features")) {
            for (const auto& f : *feats) {
                if (auto v = f.attr("value")) a.features.push_back(*v);  // JSON: array of strings
                if (const auto* inner = f.kids("feature"))               // XML: <features><feature id/>
                    for (const auto& x : *inner) a.features.push_back(x.str("id"));
            }
        }
    }
    if (const auto* roles = n.kids("roles")) {
        for (const auto& r : *roles) {
            if (r.str("value") == "plexpass") a.plexpass_role = true;
            if (const auto* inner = r.kids("role"))
                for (const auto& x : *inner)
                    if (x.str("id") == "plexpass") a.plexpass_role = true;
        }
    }
    return a;
}

common::Result<std::vector<HomeUser>> parse_home_users(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    // v2 JSON: {"users": [...]}; v2 XML: <home><users><user/>...; legacy
    // XML: <MediaContainer><User/>....
    const std::vector<Node>* users = nullptr;
    if (const Node* mc = media_container(*w)) users = mc->kids("User");
    const Node& home = subject(*w, "home");
    if (!users) users = home.kids("users");
    if (users && users->size() == 1 && users->front().kids("user")) users = users->front().kids("user");
    if (!users) {
        if (media_container(*w)) return std::vector<HomeUser>{};
        return unreadable("the answer is not a list of Plex Home users");
    }
    std::vector<HomeUser> out;
    for (const auto& n : *users) {
        HomeUser u;
        u.id = n.integer("id").value_or(0);
        u.uuid = n.str("uuid");
        if (u.id <= 0 && u.uuid.empty()) continue;
        u.title = n.str("title");
        u.username = n.str("username");
        if (u.title.empty()) u.title = u.username;
        u.thumb = n.str("thumb");
        u.admin = n.boolean("admin").value_or(false);
        u.guest = n.boolean("guest").value_or(false);
        u.restricted = n.boolean("restricted").value_or(false);
        u.restriction_profile = n.str("restrictionProfile");
        u.has_pin = n.boolean("protected").value_or(false);
        out.push_back(std::move(u));
    }
    return out;
}

common::Result<std::string> parse_switch_token(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node& n = subject(*w, "user");
    for (const char* key : {"authToken", "authenticationToken"})
        if (std::string t = n.str(key); !t.empty()) return t;
    return unreadable("the switch gave no token");
}

bool Resource::is_server() const {
    for (auto part : common::text::split(provides, ','))
        if (common::text::trim(part) == "server") return true;
    return false;
}

static Connection read_connection(const Node& c) {
    Connection k;
    k.protocol = c.str("protocol");
    k.address = c.str("address");
    k.port = c.integer("port").value_or(0);
    k.uri = c.str("uri");
    k.local = c.boolean("local").value_or(false);
    // Per connection only: a Device's relay="1" (legacy XML) says the server
    // allows relaying, not that its other connections are relays.
    k.relay = c.boolean("relay").value_or(false);
    k.ipv6 = c.boolean("IPv6").value_or(false) || k.address.find(':') != std::string::npos;
    // Some answers give a connection without a uri: its parts still say it.
    if (k.uri.empty() && !k.address.empty() && k.port > 0) {
        std::string protocol = k.protocol.empty() ? "http" : common::text::to_lower(k.protocol);
        k.uri = protocol + "://" + (k.ipv6 ? "[" + k.address + "]" : k.address) + ":" + std::to_string(k.port);
    }
    return k;
}

common::Result<std::vector<Resource>> parse_resources(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const std::vector<Node>* devices = w->kids("_items");  // v2 JSON: a bare array
    if (const Node* mc = media_container(*w)) devices = mc->kids("Device");
    std::vector<Resource> out;
    if (devices == nullptr) {
        // An empty JSON array or an empty <MediaContainer/> is a valid "no
        // devices"; anything else (a proxy's or a portal's HTML page parsed
        // as XML) is not an answer, and must not read as "you have no servers".
        if (w->kids("_items") || media_container(*w)) return out;
        return unreadable("the answer is not a list of resources");
    }
    for (const auto& d : *devices) {
        Resource r;
        r.name = d.str("name");
        r.product = d.str("product");
        r.product_version = d.str("productVersion");
        r.platform = d.str("platform");
        r.device = d.str("device");
        r.client_identifier = d.str("clientIdentifier");
        r.provides = d.str("provides");
        r.owned = d.boolean("owned").value_or(false);
        r.presence = d.boolean("presence").value_or(false);
        r.https_required = d.boolean("httpsRequired").value_or(false);
        r.access_token = d.str("accessToken");
        r.source_title = d.str("sourceTitle");
        r.public_address = d.str("publicAddress");
        for (const char* group : {"connections", "Connection"})
            if (const auto* conns = d.kids(group))
                for (const auto& c : *conns) r.connections.push_back(read_connection(c));
        out.push_back(std::move(r));
    }
    return out;
}

common::Result<Identity> parse_identity(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node* mc = media_container(*w);
    if (mc == nullptr) return unreadable("no MediaContainer in the identity answer");
    Identity id{mc->str("machineIdentifier"), mc->str("version")};
    if (id.machine_identifier.empty()) return unreadable("the identity has no machineIdentifier");
    return id;
}

common::Result<std::vector<Section>> parse_sections(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node* mc = media_container(*w);
    if (mc == nullptr) return unreadable("no MediaContainer in the sections answer");
    std::vector<Section> out;
    if (const auto* dirs = mc->kids("Directory")) {
        for (const auto& d : *dirs) {
            Section s;
            s.key = d.str("key");
            s.title = d.str("title");
            s.type = d.str("type");
            s.agent = d.str("agent");
            s.scanner = d.str("scanner");
            s.language = d.str("language");
            s.uuid = d.str("uuid");
            s.updated_at = d.integer("updatedAt").value_or(0);
            s.created_at = d.integer("createdAt").value_or(0);
            s.hidden = d.boolean("hidden").value_or(false);
            if (const auto* locs = d.kids("Location"))
                for (const auto& l : *locs) s.locations.push_back(l.str("path"));
            if (s.key.empty()) continue;  // not a library section
            out.push_back(std::move(s));
        }
    }
    return out;
}

static MediaItem read_item(const Node& m) {
    MediaItem it;
    it.rating_key = m.str("ratingKey");
    it.key = m.str("key");
    it.type = m.str("type");
    it.title = m.str("title");
    it.guid = m.str("guid");
    if (const auto* g = m.kids("Guid"))
        for (const auto& x : *g) {
            std::string id = x.str("id");
            if (!id.empty()) it.guids.push_back(std::move(id));
        }
    it.library_section_id = m.integer("librarySectionID").value_or(-1);
    it.parent_rating_key = m.str("parentRatingKey");
    it.grandparent_rating_key = m.str("grandparentRatingKey");
    it.grandparent_guid = m.str("grandparentGuid");
    it.grandparent_title = m.str("grandparentTitle");
    it.index = m.integer("index").value_or(-1);
    it.parent_index = m.integer("parentIndex").value_or(-1);
    it.year = m.integer("year").value_or(-1);
    it.added_at = m.integer("addedAt").value_or(0);
    it.child_count = m.integer("childCount").value_or(-1);
    if (const auto* media = m.kids("Media"))
        for (const auto& md : *media)
            if (const auto* parts = md.kids("Part"))
                for (const auto& p : *parts) {
                    std::string f = p.str("file");
                    if (!f.empty()) it.files.push_back(std::move(f));
                    if (const auto* streams = p.kids("Stream"))
                        for (const auto& s : *streams) {
                            if (s.integer("streamType").value_or(0) != 3) continue;
                            SubtitleStream sub;
                            sub.key = s.str("key");
                            sub.codec = s.str("codec");
                            sub.language_code = s.str("languageCode");
                            sub.language_tag = s.str("languageTag");
                            sub.file = s.str("file");
                            sub.forced = s.boolean("forced").value_or(false);
                            sub.hearing_impaired = s.boolean("hearingImpaired");
                            it.subtitles.push_back(std::move(sub));
                        }
                }
    return it;
}

common::Result<ItemPage> parse_items(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    const Node* mc = media_container(*w);
    if (mc == nullptr) return unreadable("no MediaContainer in the answer");
    ItemPage page;
    page.offset = mc->integer("offset").value_or(0);
    page.total_size = mc->integer("totalSize").value_or(-1);
    page.size = mc->integer("size").value_or(0);
    page.library_section_id = mc->integer("librarySectionID").value_or(-1);
    // JSON lists items under "Metadata"; XML names each element by kind.
    for (const char* group : {"Metadata", "Video", "Directory", "Track", "Photo"})
        if (const auto* items = mc->kids(group))
            for (const auto& m : *items) {
                MediaItem it = read_item(m);
                if (it.library_section_id < 0) it.library_section_id = page.library_section_id;
                page.items.push_back(std::move(it));
            }
    return page;
}

std::optional<int64_t> plextv_error_code(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return std::nullopt;
    // JSON: {"errors": [...]}, grouped under "errors"; XML: <errors><error/>.
    const Node* errors = w->first("errors");
    if (errors == nullptr) return std::nullopt;
    if (auto code = errors->integer("code")) return code;  // JSON: each array item is an "errors" child
    if (const Node* e = errors->first("error")) return e->integer("code");
    return std::nullopt;
}

common::Result<std::vector<Webhook>> parse_webhooks(std::string_view body) {
    auto w = parse_wire(body);
    if (!w) return w.error();
    std::vector<Webhook> out;
    const std::vector<Node>* list = w->kids("_items");
    if (const Node* mc = media_container(*w)) list = mc->kids("Webhook");
    if (list)
        for (const auto& n : *list) {
            std::string url = n.str("url");
            if (!url.empty()) out.push_back({url});
        }
    return out;
}

static int64_t to_i64(std::string_view s) {
    int64_t v = -1;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return -1;
    return v;
}

// A season or episode number: -1 unless it is one (a larger number would
// wrap into another episode's).
static int32_t to_number(std::string_view s) {
    int64_t v = to_i64(s);
    return v >= 0 && v <= std::numeric_limits<int32_t>::max() ? static_cast<int32_t>(v) : -1;
}

// The HAMA agent (anime): "com.plexapp.agents.hama://<source>-<id>[/season/episode]",
// source anidb (no id a subtitle manager can search with), tvdb..tvdb6
// (TVDB numbering modes: the id is a TVDB series id), tmdb, tsdb or imdb.
static bool read_hama(std::string_view first, std::string_view season, std::string_view episode, ExternalIds& ids) {
    auto dash = first.find('-');
    if (dash == std::string_view::npos) return false;
    std::string_view source = first.substr(0, dash), id = first.substr(dash + 1);
    if (common::text::starts_with(source, "tvdb")) {
        int64_t v = to_i64(id);
        if (v <= 0) return false;
        if (ids.tvdb < 0) ids.tvdb = v;
        // Only plain "tvdb" uses TVDB's own season and episode numbers.
        if (source == "tvdb" && !season.empty()) {
            int32_t s = to_number(season), e = to_number(episode);
            if (s >= 0 && ids.season < 0) ids.season = s;
            if (e >= 0 && ids.episode < 0) ids.episode = e;
        }
        return true;
    }
    if (source == "tmdb" || source == "tsdb") {
        int64_t v = to_i64(id);
        if (v <= 0) return false;
        if (ids.tmdb < 0) ids.tmdb = v;
        return true;
    }
    if (source == "imdb" && common::text::starts_with(id, "tt")) {
        if (ids.imdb.empty()) ids.imdb = std::string(id);
        return true;
    }
    return false;
}

std::optional<RatingKey> RatingKey::parse(std::string_view text) {
    if (text.empty() || text.size() > 19) return std::nullopt;
    for (char c : text)
        if (c < '0' || c > '9') return std::nullopt;
    return RatingKey(std::string(text));
}

std::string added_at_edit_path(const RatingKey& section, ItemType type, const RatingKey& item, int64_t unix_seconds) {
    return "/library/sections/" + section.str() + "/all?type=" + std::to_string(static_cast<int>(type)) +
           "&id=" + item.str() + "&addedAt.value=" + std::to_string(unix_seconds) + "&addedAt.locked=1";
}

std::optional<std::string> why_no_ids(std::string_view guid) {
    if (guid.empty()) return std::string("it has no guid");
    if (guid.find("hama://anidb") != std::string_view::npos)
        return std::string("its only id is an AniDB id (HAMA agent), which subtitle searches do not use");
    if (guid.rfind("local://", 0) == 0) return std::string("it is a local item Plex did not match");
    if (guid.rfind("plex://", 0) == 0) return std::string("it has only Plex's own id");
    return std::string("its guid (") + std::string(guid.substr(0, guid.find("://"))) +
           ") carries no IMDb, TMDB or TVDB id";
}

bool read_guid(std::string_view guid, ExternalIds& ids) {
    auto sep = guid.find("://");
    if (sep == std::string_view::npos) return false;
    std::string_view scheme = guid.substr(0, sep);
    std::string_view rest = guid.substr(sep + 3);
    if (auto q = rest.find('?'); q != std::string_view::npos) rest = rest.substr(0, q);
    if (common::text::starts_with(scheme, "com.plexapp.agents.")) scheme.remove_prefix(19);
    std::string_view parts[3];  // id, then season and episode for legacy tvdb guids
    std::size_t n_parts = 0;
    common::text::for_each_part(rest, '/', [&](std::string_view p) {
        if (n_parts < 3) parts[n_parts] = p;
        ++n_parts;
    });
    std::string_view first = parts[0];
    if (first.empty()) return false;
    if (scheme == "imdb") {
        if (!common::text::starts_with(first, "tt")) return false;
        if (ids.imdb.empty()) ids.imdb = std::string(first);
        return true;
    }
    if (scheme == "tmdb" || scheme == "themoviedb") {
        int64_t v = to_i64(first);
        if (v <= 0) return false;
        if (ids.tmdb < 0) ids.tmdb = v;
        return true;
    }
    if (scheme == "hama") return read_hama(first, n_parts >= 3 ? parts[1] : "", n_parts >= 3 ? parts[2] : "", ids);
    if (scheme == "tvdb" || scheme == "thetvdb") {
        int64_t v = to_i64(first);
        if (v <= 0) return false;
        if (ids.tvdb < 0) ids.tvdb = v;
        if (n_parts >= 3) {
            int32_t s = to_number(parts[1]);
            int32_t e = to_number(parts[2]);
            if (s >= 0 && ids.season < 0) ids.season = s;
            if (e >= 0 && ids.episode < 0) ids.episode = e;
        }
        return true;
    }
    return false;
}

}  // namespace pb::plexapi

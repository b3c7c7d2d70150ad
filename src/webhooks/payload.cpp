#include "payload.hpp"

#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <charconv>
#include <cstring>
#include <string_view>

#include "common/json.hpp"

namespace pb::webhooks {

namespace bj = boost::json;
using namespace std::string_view_literals;

namespace {

// A SAX reader that keeps only what a webhook decision needs. Plex payloads
// carry kilobytes of cast, genres and ratings; building a DOM of all that
// costs more than everything else the handler does.
struct Reader {
    using ec_t = boost::system::error_code;
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);

    enum class Ctx : unsigned char { none, root, account, server, metadata, guids, guid_item, other };
    Payload* out = nullptr;
    Ctx stack[40] = {};
    int depth = 0;  // stack entries in use
    bool has_event = false;
    bool metadata_not_object = false;
    // The current key. The keys we look for are short; a longer one is
    // kept as "too long" and matches nothing.
    char key_buf[32];
    std::size_t key_len = 0;
    bool key_long = false;
    std::string_view key{};
    std::string str;

    void set_key(boost::json::string_view part, bool first, bool last) {
        if (first) key_len = 0, key_long = false;
        if (!key_long && key_len + part.size() <= sizeof key_buf) {
            std::memcpy(key_buf + key_len, part.data(), part.size());
            key_len += part.size();
        } else {
            key_long = true;
        }
        if (last) key = key_long ? "\x01"sv : std::string_view(key_buf, key_len);
    }

    Ctx top() const { return depth > 0 ? stack[depth - 1] : Ctx::none; }
    bool push(Ctx c, ec_t& ec) {
        if (depth == 40) {
            ec = boost::json::error::too_deep;
            return false;
        }
        stack[depth++] = c;
        return true;
    }
    Ctx child_object() const {
        switch (top()) {
            case Ctx::none: return Ctx::root;
            case Ctx::root:
                if (key == "Account"sv) return Ctx::account;
                if (key == "Server"sv) return Ctx::server;
                if (key == "Metadata"sv) return Ctx::metadata;
                return Ctx::other;
            case Ctx::guids: return Ctx::guid_item;
            default: return Ctx::other;
        }
    }
    void value(std::string_view v) {
        switch (top()) {
            case Ctx::root:
                if (key == "event"sv) out->event = v, has_event = true;
                break;
            case Ctx::account:
                if (key == "id"sv)
                    out->account_id = v;
                else if (key == "title"sv)
                    out->account_title = v;
                break;
            case Ctx::server:
                if (key == "uuid"sv) out->server_uuid = v;
                break;
            case Ctx::metadata:
                if (key == "type"sv)
                    out->type = v;
                else if (key == "subtype"sv)
                    out->subtype = v;
                else if (key == "title"sv)
                    out->title = v;
                else if (key == "ratingKey"sv)
                    out->rating_key = v;
                else if (key == "grandparentRatingKey"sv)
                    out->grandparent_rating_key = v;
                else if (key == "librarySectionID"sv)
                    out->section_id = v;
                else if (key == "librarySectionTitle"sv)
                    out->section_title = v;
                else if (key == "guid"sv)
                    out->guid = v;
                else if (key == "grandparentGuid"sv)
                    out->grandparent_guid = v;
                else if (key == "parentIndex"sv || key == "index"sv) {
                    int32_t n = -1;
                    auto [p, e] = std::from_chars(v.data(), v.data() + v.size(), n);
                    if (e == std::errc() && p == v.data() + v.size())
                        (key == "index"sv ? out->index : out->parent_index) = n;
                }
                break;
            case Ctx::guid_item:
                if (key == "id"sv) plexapi::read_guid(v, out->own);
                break;
            default: break;
        }
    }

    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_object_begin(ec_t& ec) { return push(child_object(), ec); }
    bool on_object_end(std::size_t, ec_t&) {
        --depth;
        return true;
    }
    bool on_array_begin(ec_t& ec) {
        if (top() == Ctx::metadata && key == "Guid"sv) {
            out->has_guid_array = true;
            return push(Ctx::guids, ec);
        }
        if (top() == Ctx::root && key == "Metadata"sv) metadata_not_object = true;
        return push(Ctx::other, ec);
    }
    bool on_array_end(std::size_t, ec_t&) {
        --depth;
        return true;
    }
    bool on_key_part(boost::json::string_view s, std::size_t n, ec_t&) {
        if (top() == Ctx::other) return true;  // inside cast, genres...: nothing to keep
        set_key(s, n == s.size(), false);
        return true;
    }
    bool on_key(boost::json::string_view s, std::size_t n, ec_t&) {
        if (top() == Ctx::other) return true;
        set_key(s, n == s.size(), true);
        return true;
    }
    bool on_string_part(boost::json::string_view s, std::size_t n, ec_t&) {
        if (top() == Ctx::other) return true;
        if (n == s.size()) str.clear();
        str.append(s.data(), s.size());
        return true;
    }
    bool on_string(boost::json::string_view s, std::size_t n, ec_t&) {
        if (top() == Ctx::other) return true;
        if (n == s.size())
            value(std::string_view(s.data(), s.size()));
        else {
            str.append(s.data(), s.size());
            value(str);
        }
        if (top() == Ctx::root && key == "Metadata"sv) metadata_not_object = true;
        return true;
    }
    bool on_number_part(boost::json::string_view, ec_t&) { return true; }
    bool on_int64(int64_t i, boost::json::string_view, ec_t&) {
        if (top() == Ctx::other) return true;
        char buf[24];
        value(std::string_view(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, i).ptr - buf)));
        return true;
    }
    bool on_uint64(uint64_t u, boost::json::string_view, ec_t&) {
        if (top() == Ctx::other) return true;
        char buf[24];
        value(std::string_view(buf, static_cast<std::size_t>(std::to_chars(buf, buf + sizeof buf, u).ptr - buf)));
        return true;
    }
    bool on_double(double, boost::json::string_view, ec_t&) { return true; }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(boost::json::string_view, ec_t&) { return true; }
    bool on_comment(boost::json::string_view, ec_t&) { return true; }
};

bool read(std::string_view text, Payload& p, std::string& error, bool& root_is_object, bool& metadata_bad) {
    boost::json::parse_options opts;
    opts.max_depth = 32;
    // Validating UTF-8 was a fifth of the parse, spent on kilobytes of cast
    // and ratings we skip. Plex does send non-UTF-8 bytes at times (Latin-1
    // titles): the few strings kept are repaired below instead.
    opts.allow_invalid_utf8 = true;
    boost::json::basic_parser<Reader> parser(opts);
    parser.handler().out = &p;
    boost::system::error_code ec;
    std::size_t n = parser.write_some(false, text.data(), text.size(), ec);
    if (!ec && n < text.size()) ec = boost::json::error::extra_data;
    if (ec) {
        error = ec.message();
        return false;
    }
    auto first = text.find_first_not_of(" \t\r\n");
    root_is_object = first != std::string_view::npos && text[first] == '{';
    metadata_bad = parser.handler().metadata_not_object;
    return true;
}

// Replaces invalid UTF-8 with U+FFFD, so that what reaches the host and the
// JSON answers is always valid text.
void repair(std::string& s) {
    for (unsigned char c : s)
        if (c >= 0x80) {
            s = common::json::sanitize_utf8(s);
            return;
        }
}

}  // namespace

common::Result<Payload> parse_payload(std::string_view text) {
    auto fail = [](std::string why) { return common::Error(common::Errc::webhook_malformed, std::move(why)); };
    Payload p;
    std::string err;
    bool is_object = false, metadata_bad = false;
    if (!read(text, p, err, is_object, metadata_bad)) return fail("the payload is not JSON (" + err + ")");
    if (!is_object) return fail("the payload is not a JSON object");
    if (metadata_bad) return fail("Metadata is not an object");
    if (p.event.empty()) return fail("the payload has no event");
    for (std::string* s :
         {&p.event, &p.account_id, &p.account_title, &p.server_uuid, &p.type, &p.subtype, &p.title, &p.rating_key,
          &p.grandparent_rating_key, &p.section_id, &p.section_title, &p.guid, &p.grandparent_guid})
        repair(*s);
    return p;
}

Media media_of(const Payload& p) {
    Media m;
    if (p.type == "movie") {
        m.kind = Media::Kind::movie;
        m.series = p.own;
        plexapi::read_guid(p.guid, m.series);
        return m;
    }
    m.kind = Media::Kind::episode;
    m.episode = p.own;  // an episode's Guid array holds the episode's ids
    plexapi::ExternalIds legacy;
    if (plexapi::read_guid(p.guid, legacy)) {  // thetvdb://series/season/episode
        m.series.tvdb = legacy.tvdb;
        if (m.season < 0) m.season = legacy.season;
        if (m.number < 0) m.number = legacy.episode;
        if (!p.has_guid_array) m.episode = {};
    }
    plexapi::read_guid(p.grandparent_guid, m.series);
    m.season = p.parent_index >= 0 ? p.parent_index : m.season;
    m.number = p.index >= 0 ? p.index : m.number;
    return m;
}

bool Media::searchable() const {
    if (kind == Kind::movie) return !series.imdb.empty() || series.tmdb > 0;
    bool episode_ids = episode.tvdb > 0 || !episode.imdb.empty();
    bool series_ids = (!series.imdb.empty() || series.tvdb > 0 || series.tmdb > 0) && season >= 0 && number >= 0;
    return episode_ids || series_ids;
}

}  // namespace pb::webhooks

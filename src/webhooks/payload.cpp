#include "webhooks/payload.hpp"

#include <boost/json.hpp>

#include "common/json_util.hpp"

namespace pb::webhooks {

namespace bj = boost::json;

std::optional<Payload> parse_payload(std::string_view text, std::string* error) {
    auto fail = [&](const char* why) -> std::optional<Payload> {
        if (error) *error = why;
        return std::nullopt;
    };
    // Webhook payloads are small; a strict UTF-8 parse first, the lenient
    // one only when Plex sent bytes that are not UTF-8.
    boost::system::error_code ec;
    bj::parse_options opts;
    opts.max_depth = 32;
    bj::value v = bj::parse(text, ec, {}, opts);
    if (ec) {
        auto lenient = json::parse_lenient(text, nullptr, 32);
        if (!lenient) return fail("the payload is not JSON");
        v = std::move(*lenient);
    }
    if (!v.is_object()) return fail("the payload is not a JSON object");
    Payload p;
    auto event = json::get_string(v, "event");
    if (!event || event->empty()) return fail("the payload has no event");
    p.event = std::move(*event);
    if (const bj::value* acc = json::find(v, "Account")) {
        p.account_id = json::get_string_or(*acc, "id", "");
        p.account_title = json::get_string_or(*acc, "title", "");
    }
    if (const bj::value* srv = json::find(v, "Server")) p.server_uuid = json::get_string_or(*srv, "uuid", "");
    const bj::value* m = json::find(v, "Metadata");
    if (m == nullptr) return p;  // e.g. admin.database.backup: no media
    if (!m->is_object()) return fail("Metadata is not an object");
    p.type = json::get_string_or(*m, "type", "");
    p.subtype = json::get_string_or(*m, "subtype", "");
    p.title = json::get_string_or(*m, "title", "");
    p.rating_key = json::get_string_or(*m, "ratingKey", "");
    p.grandparent_rating_key = json::get_string_or(*m, "grandparentRatingKey", "");
    p.section_id = json::get_string_or(*m, "librarySectionID", "");
    p.section_title = json::get_string_or(*m, "librarySectionTitle", "");
    p.guid = json::get_string_or(*m, "guid", "");
    p.grandparent_guid = json::get_string_or(*m, "grandparentGuid", "");
    p.parent_index = static_cast<int32_t>(json::get_int_or(*m, "parentIndex", -1));
    p.index = static_cast<int32_t>(json::get_int_or(*m, "index", -1));
    if (const bj::value* g = json::find(*m, "Guid"); g && g->is_array()) {
        p.has_guid_array = true;
        for (const auto& e : g->get_array())
            if (auto id = json::get_string(e, "id")) plexapi::read_guid(*id, p.own);
    }
    return p;
}

bool Media::searchable() const {
    if (kind == Kind::movie) return !series.imdb.empty() || series.tmdb > 0;
    bool episode_ids = episode.tvdb > 0 || !episode.imdb.empty();
    bool series_ids = (!series.imdb.empty() || series.tvdb > 0 || series.tmdb > 0) && season >= 0 && number >= 0;
    return episode_ids || series_ids;
}

}  // namespace pb::webhooks

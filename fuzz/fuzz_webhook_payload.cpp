// A webhook's payload (webhooks/payload.hpp: the SAX reader) and the
// resolution of its guids into the ids a subtitle search needs
// (media_of, plexapi::read_guid, why_no_ids).
//
// Input: the payload JSON. The input is also read as one guid.
#include <boost/json.hpp>

#include "fuzz_common.hpp"
#include "plexapi/models.hpp"
#include "webhooks/payload.hpp"

using namespace pb;

static void check_ids(const plexapi::ExternalIds& ids) {
    PB_FUZZ_CHECK(ids.imdb.empty() || ids.imdb.rfind("tt", 0) == 0);
    PB_FUZZ_CHECK(ids.tmdb == -1 || ids.tmdb > 0);
    PB_FUZZ_CHECK(ids.tvdb == -1 || ids.tvdb > 0);
    PB_FUZZ_CHECK(ids.season >= -1 && ids.episode >= -1);
}

static void check_guid(std::string_view guid) {
    plexapi::ExternalIds ids;
    bool found = plexapi::read_guid(guid, ids);
    check_ids(ids);
    if (!found) {
        PB_FUZZ_CHECK(ids.imdb.empty() && ids.tmdb == -1 && ids.tvdb == -1);
        PB_FUZZ_CHECK(plexapi::why_no_ids(guid).has_value());
    }
    // Ids already known are kept.
    plexapi::ExternalIds known{"tt1", 2, 3, 4, 5};
    plexapi::read_guid(guid, known);
    PB_FUZZ_CHECK(known.imdb == "tt1" && known.tmdb == 2 && known.tvdb == 3 && known.season == 4 && known.episode == 5);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view in = fuzz::text(data, size);
    if (in.size() <= 512) check_guid(in);
    auto p = webhooks::parse_payload(in);
    if (!p) {
        PB_FUZZ_CHECK(p.error().code == common::Errc::webhook_malformed);
        return 0;
    }
    PB_FUZZ_CHECK(!p->event.empty());
    // What reaches the host and the JSON answers is valid text.
    for (const std::string* s : {&p->event, &p->account_id, &p->account_title, &p->server_uuid, &p->type, &p->subtype,
                                 &p->title, &p->rating_key, &p->grandparent_rating_key, &p->section_id,
                                 &p->section_title, &p->guid, &p->grandparent_guid}) {
        PB_FUZZ_CHECK(fuzz::valid_utf8(*s));
        PB_FUZZ_CHECK(fuzz::reparses(boost::json::string(*s)));
    }
    check_ids(p->own);
    check_guid(p->guid);
    check_guid(p->grandparent_guid);

    webhooks::Media m = webhooks::media_of(*p);
    check_ids(m.series);
    check_ids(m.episode);
    PB_FUZZ_CHECK(m.season >= -1 && m.number >= -1);
    PB_FUZZ_CHECK((m.kind == webhooks::Media::Kind::movie) == (p->type == "movie"));
    if (m.kind == webhooks::Media::Kind::movie) {
        PB_FUZZ_CHECK(m.searchable() == (!m.series.imdb.empty() || m.series.tmdb > 0));
    } else {
        if (p->index >= 0) PB_FUZZ_CHECK(m.number == p->index);
        if (p->parent_index >= 0) PB_FUZZ_CHECK(m.season == p->parent_index);
    }
    (void)m.searchable();
    return 0;
}

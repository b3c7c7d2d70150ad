// Plex Media Server's answers, JSON or XML (plexapi/models.hpp): library
// sections, metadata pages (items, their guids, files and subtitle
// streams), the server's identity; and what the refresher does with an
// item it read back (refresh/subtitles.hpp: does Plex show the subtitle).
//
// Input: the first byte picks the parser (byte % 3: sections, metadata,
// identity), the rest is the answer's body.
#include "fuzz_common.hpp"
#include "plexapi/models.hpp"
#include "refresh/paths.hpp"
#include "refresh/subtitles.hpp"

using namespace pb;
using fuzz::valid_utf8;

template <class R>
static void check_failure(const R& r) {
    if (!r) PB_FUZZ_CHECK(r.error().code == common::Errc::bad_answer && !r.error().message.empty());
}

static void sections(std::string_view body) {
    auto s = plexapi::parse_sections(body);
    check_failure(s);
    if (!s) return;
    std::vector<std::string> locations;
    for (const auto& sec : *s) {
        PB_FUZZ_CHECK(valid_utf8(sec.key) && valid_utf8(sec.title) && valid_utf8(sec.type));
        for (const auto& l : sec.locations) {
            PB_FUZZ_CHECK(valid_utf8(l));
            locations.push_back(l);
        }
    }
    (void)refresh::style_of("", locations);
}

static void metadata(std::string_view body) {
    auto page = plexapi::parse_items(body);
    check_failure(page);
    if (!page) return;
    const refresh::SubtitleRef subtitle{"/movies/Film (2001)/Film (2001).en.forced.srt", "en", true, false};
    for (const auto& item : page->items) {
        PB_FUZZ_CHECK(valid_utf8(item.rating_key) && valid_utf8(item.title) && valid_utf8(item.guid));
        plexapi::ExternalIds ids;
        for (const auto& g : item.guids) {
            PB_FUZZ_CHECK(valid_utf8(g));
            plexapi::read_guid(g, ids);
        }
        for (const auto& f : item.files) PB_FUZZ_CHECK(valid_utf8(f));
        for (const auto& s : item.subtitles) {
            PB_FUZZ_CHECK(valid_utf8(s.key) && valid_utf8(s.language_code) && valid_utf8(s.file));
            std::string code = plexapi::language_639_1(s.language_tag.empty() ? s.language_code : s.language_tag);
            PB_FUZZ_CHECK(valid_utf8(code));
        }
        for (auto style : {refresh::PathStyle::posix, refresh::PathStyle::windows})
            (void)refresh::shows(item, subtitle, subtitle.path, style);
        if (auto rk = plexapi::RatingKey::parse(item.rating_key)) {
            PB_FUZZ_CHECK(rk->str() == item.rating_key);
            auto section = plexapi::RatingKey::parse("1");
            std::string path = plexapi::added_at_edit_path(*section, plexapi::ItemType::movie, *rk, 0);
            PB_FUZZ_CHECK(path.find("&id=" + item.rating_key + "&") != std::string::npos);
        }
    }
}

static void identity(std::string_view body) {
    auto id = plexapi::parse_identity(body);
    check_failure(id);
    if (id) PB_FUZZ_CHECK(valid_utf8(id->machine_identifier) && valid_utf8(id->version));
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    auto [selector, body] = fuzz::split(data, size);
    switch (selector % 3) {
        case 0: sections(body); break;
        case 1: metadata(body); break;
        case 2: identity(body); break;
    }
    return 0;
}

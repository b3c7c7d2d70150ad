// Golden tests: every real capture in tests/fixtures parses, and the
// values a user depends on come out right (see fixtures/PROVENANCE.md).
#include <gtest/gtest.h>

#include <boost/beast/http.hpp>

#include "common/json.hpp"
#include "fixture_path.hpp"
#include "httpserver/request_reader.hpp"
#include "plexapi/models.hpp"
#include "plexapi/wire.hpp"
#include "refresh/refresh.hpp"
#include "refresh/subtitles.hpp"

using namespace pb::plexapi;

TEST(Pins, NewPinHasNoTokenYet) {
    auto p = parse_pin(fixture("plex-api.rs/pins_new.json"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->id, 111222333);
    EXPECT_EQ(p->code, "CODE");
    EXPECT_EQ(p->expires_in_s, 900);
    EXPECT_FALSE(p->auth_token.has_value()) << "authToken: null is not an empty token";
}

TEST(Pins, LinkedPinCarriesTheToken) {
    auto p = parse_pin(fixture("plex-api.rs/pins_linked.json"));
    ASSERT_TRUE(p);
    ASSERT_TRUE(p->auth_token);
    EXPECT_EQ(*p->auth_token, "auth_token");
    auto k = parse_pin(fixture("PlexKit/pin.json"));
    ASSERT_TRUE(k);
    EXPECT_EQ(k->code, "XY7Z");
    EXPECT_EQ(*k->auth_token, "authToken");
    auto n = parse_pin(fixture("PlexKit/pin_no_id.json"));
    ASSERT_TRUE(n);
    EXPECT_EQ(n->id, 1291057671);
    EXPECT_FALSE(n->auth_token);
}

TEST(Pins, StrictAboutWhatMatters) {
    EXPECT_FALSE(parse_pin(R"({"code":"X"})")) << "a PIN without an id";
    EXPECT_FALSE(parse_pin(R"({"id":5})")) << "a PIN without a code";
    auto empty_token = parse_pin(R"({"id":5,"code":"C","authToken":""})");
    ASSERT_TRUE(empty_token);
    EXPECT_FALSE(empty_token->auth_token) << "an empty authToken is not a token";
    EXPECT_FALSE(parse_pin("<html>502 Bad Gateway</html>"));
    auto xml = parse_pin(R"(<?xml version="1.0"?><pin id="7" code="abcd" expiresIn="1800" authToken="tok"/>)");
    ASSERT_TRUE(xml);
    EXPECT_EQ(xml->expires_in_s, 1800);
    EXPECT_EQ(*xml->auth_token, "tok");
}

TEST(Account, PlexPassAndFree) {
    auto pass = parse_account(fixture("plex-api.rs/user_info_plexpass.json"));
    ASSERT_TRUE(pass) << pass.error().message;
    EXPECT_EQ(pass->username, "user@example.com");
    EXPECT_TRUE(pass->has_plex_pass());
    EXPECT_NE(std::find(pass->features.begin(), pass->features.end(), "webhooks"), pass->features.end());
    auto free = parse_account(fixture("plex-api.rs/user_info_free.json"));
    ASSERT_TRUE(free);
    EXPECT_FALSE(free->has_plex_pass());
    auto xml = parse_account(fixture("core/plextv_account.xml"));
    ASSERT_TRUE(xml) << xml.error().message;
    EXPECT_EQ(xml->username, "User 1");
    EXPECT_EQ(xml->email, "myplexusername@email.com");
    EXPECT_TRUE(xml->has_plex_pass());
    EXPECT_EQ(xml->features, std::vector<std::string>{"companions_sonos"});
}

TEST(Resources, V2JsonOneServerFourConnections) {
    auto r = parse_resources(fixture("plex-api.rs/resources.json"));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 1u);
    const auto& s = r->front();
    EXPECT_TRUE(s.is_server());
    EXPECT_TRUE(s.owned);
    EXPECT_EQ(s.access_token, "auth_token");
    ASSERT_EQ(s.connections.size(), 4u);
    EXPECT_EQ(s.connections[0].uri, "https://172-18-0-3.client-id2.plex.direct:32400");
    EXPECT_TRUE(s.connections[0].local);
    EXPECT_TRUE(s.connections[3].relay);
    EXPECT_EQ(s.connections[3].port, 8443);
}

TEST(Resources, SharedServersClientsAndMissingKeys) {
    auto r = parse_resources(fixture("PlexKit/resources.json"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->size(), 6u);
    int servers = 0, shared = 0;
    for (const auto& d : *r) {
        if (d.is_server()) ++servers;
        if (d.is_server() && !d.owned) ++shared;
    }
    EXPECT_EQ(servers, 3);
    EXPECT_EQ(shared, 1);
    EXPECT_FALSE((*r)[3].is_server()) << "an iPhone provides client,controller,...";
    auto none = parse_resources(fixture("PlexKit/resources_no_connections.json"));
    ASSERT_TRUE(none);
    ASSERT_FALSE(none->empty());
    EXPECT_TRUE(none->front().connections.empty());
    auto empty = parse_resources("[]");
    ASSERT_TRUE(empty);
    EXPECT_TRUE(empty->empty());
}

TEST(Resources, LegacyXml) {
    auto r = parse_resources(fixture("plex-api.rs/resources.xml"));
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->size(), 1u);
    EXPECT_EQ(r->front().connections.size(), 3u);
    // The address attribute does not match the uri: the uri is what counts.
    EXPECT_EQ(r->front().connections[0].uri, "http://172.18.0.12:32400");
    auto two = parse_resources(fixture("core/plextv_resources_two_servers.xml"));
    ASSERT_TRUE(two) << two.error().message;
    EXPECT_EQ(two->size(), 6u);
    int servers = 0;
    for (const auto& d : *two) servers += d.is_server();
    EXPECT_EQ(servers, 2);
}

TEST(Identity, OnlyTheFieldsPresent) {
    auto id = parse_identity(fixture("PlexKit/identity.json"));
    ASSERT_TRUE(id);
    EXPECT_EQ(id->machine_identifier, "identifier");
    EXPECT_FALSE(parse_identity(R"({"MediaContainer":{"size":0}})")) << "no machineIdentifier";
}

TEST(Sections, JsonXmlBlankLineAndLegacy) {
    auto many = parse_sections(fixture("PlexKit/libraries.json"));
    ASSERT_TRUE(many);
    EXPECT_EQ(many->size(), 16u);
    auto one = parse_sections(fixture("PlexKit/library.json"));
    ASSERT_TRUE(one) << "a leading blank line must not break parsing: " << one.error().message;
    EXPECT_EQ(one->size(), 1u);
    auto xml = parse_sections(fixture("core/library_sections.xml"));
    ASSERT_TRUE(xml);
    ASSERT_EQ(xml->size(), 3u);
    EXPECT_EQ((*xml)[0].type, "movie");
    EXPECT_EQ((*xml)[0].locations, std::vector<std::string>{"/storage/movies"});
    EXPECT_TRUE((*xml)[2].hidden);
    auto legacy = parse_sections(fixture("node-plex-api/sections.json"));
    ASSERT_TRUE(legacy) << legacy.error().message;
    ASSERT_FALSE(legacy->empty());
    EXPECT_EQ(legacy->front().title, "Movies");
}

TEST(Items, MoviesEpisodesShowsCollections) {
    auto m = parse_items(fixture("PlexKit/movie.json"));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->total_size, 210);
    EXPECT_EQ(m->offset, 0);
    EXPECT_EQ(m->items.front().guid, "com.plexapp.agents.themoviedb://348?lang=en");
    auto e = parse_items(fixture("PlexKit/episode.json"));
    ASSERT_TRUE(e);
    const auto& ep = e->items.front();
    EXPECT_EQ(ep.index, 1);
    EXPECT_EQ(ep.parent_index, 1);
    EXPECT_EQ(ep.grandparent_guid, "com.plexapp.agents.thetvdb://74205?lang=en");
    auto s = parse_items(fixture("PlexKit/show.json"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->items.front().title, "Band of Brothers");
    auto c1 = parse_items(fixture("PlexKit/collections2_with_integer_childCount.json"));
    auto c2 = parse_items(fixture("plex-api.rs/metadata_161.json"));
    ASSERT_TRUE(c1);
    ASSERT_TRUE(c2);
    EXPECT_EQ(c1->items.front().child_count, 3) << "childCount as an integer";
    EXPECT_EQ(c2->items.front().child_count, 3) << "childCount as a string";
}

TEST(Items, NewAgentGuidArrayAndFiles) {
    auto m = parse_items(fixture("plex-api.rs/metadata_1036.json"));
    ASSERT_TRUE(m);
    const auto& it = m->items.front();
    EXPECT_EQ(it.guid, "plex://movie/5d776830f59e58002189813a");
    EXPECT_EQ(it.guids, (std::vector<std::string>{"imdb://tt0253556", "tmdb://6278", "tvdb://1709"}));
    EXPECT_EQ(it.files.front(), "/mnt/media/Libraries/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4");
    ExternalIds ids;
    for (const auto& g : it.guids) read_guid(g, ids);
    EXPECT_EQ(ids.imdb, "tt0253556");
    EXPECT_EQ(ids.tmdb, 6278);
    auto legacy = parse_items(fixture("plex-api.rs/metadata_108.json"));
    ASSERT_TRUE(legacy);
    EXPECT_TRUE(legacy->items.front().guids.empty());
    ExternalIds l;
    EXPECT_TRUE(read_guid(legacy->items.front().guid, l));
    EXPECT_EQ(l.imdb, "tt0165832");
}

// The external subtitle of the capture says only codec and key (the file
// had no language in its name); a newer server's XML with the language pair
// and flags, and one that names the file.
TEST(Items, SubtitleStreamsAndWhetherTheyAreTheOneAnEventNamed) {
    using pb::refresh::PathStyle;
    using pb::refresh::shows;
    using pb::refresh::SubtitleRef;
    auto real = parse_items(fixture("plex-api.rs/metadata_1036.json"));
    ASSERT_TRUE(real);
    const auto& movie = real->items.front();
    ASSERT_EQ(movie.subtitles.size(), 1u);
    EXPECT_TRUE(movie.subtitles[0].external());
    EXPECT_EQ(movie.subtitles[0].codec, "srt");
    const std::string dir = "/mnt/media/Libraries/movies/Reign of Fire (2002)/";
    EXPECT_TRUE(shows(movie, SubtitleRef{dir + "Reign of Fire (2002).srt", "", false, false},
                      dir + "Reign of Fire (2002).srt", PathStyle::posix));
    EXPECT_FALSE(shows(movie, SubtitleRef{dir + "x.en.srt", "en", false, false}, dir + "x.en.srt", PathStyle::posix))
        << "the name says English, which Plex would have read: the Unknown stream is another file";
    EXPECT_TRUE(shows(movie, SubtitleRef{dir + "Reign of Fire (2002).srt", "en", false, false},
                      dir + "Reign of Fire (2002).srt", PathStyle::posix))
        << "the host knows it is English, the name does not say it: Plex lists it as Unknown";
    EXPECT_FALSE(shows(movie, SubtitleRef{dir + "x.ass", "", false, false}, dir + "x.ass", PathStyle::posix))
        << "an .ass file is not an srt stream";

    auto xml = parse_items(R"(<MediaContainer size="1"><Video ratingKey="5" type="movie" title="F">
        <Media id="1"><Part id="2" file="D:\Films\F\F.mkv">
          <Stream id="10" streamType="1" codec="h264"/>
          <Stream id="11" streamType="3" index="3" codec="subrip" languageCode="ger" languageTag="de"/>
          <Stream id="12" key="/library/streams/12" streamType="3" codec="srt" languageCode="ger" languageTag="de" forced="1"/>
          <Stream id="13" key="/library/streams/13" streamType="3" codec="srt" languageCode="por" languageTag="pt-BR" hearingImpaired="1"/>
          <Stream id="14" key="/library/streams/14" streamType="3" codec="ass" file="D:\Films\F\F.ja.ass"/>
        </Part></Media></Video></MediaContainer>)");
    ASSERT_TRUE(xml);
    const auto& f = xml->items.front();
    ASSERT_EQ(f.subtitles.size(), 4u);
    EXPECT_FALSE(f.subtitles[0].external()) << "embedded in the video";
    EXPECT_TRUE(f.subtitles[1].forced);
    EXPECT_EQ(f.subtitles[2].hearing_impaired, std::optional<bool>(true));
    EXPECT_EQ(f.subtitles[1].hearing_impaired, std::nullopt);
    auto win = PathStyle::windows;
    EXPECT_TRUE(shows(f, SubtitleRef{"", "deu", true, false}, "D:\\Films\\F\\F.de.forced.srt", win));
    EXPECT_FALSE(shows(f, SubtitleRef{"", "de", false, false}, "D:\\Films\\F\\F.de.srt", win))
        << "only the forced German one is external, and the embedded one is not a file";
    EXPECT_TRUE(shows(f, SubtitleRef{"", "pt", false, true}, "D:\\Films\\F\\F.pt.sdh.srt", win));
    EXPECT_FALSE(shows(f, SubtitleRef{"", "pt", false, false}, "D:\\Films\\F\\F.pt.srt", win))
        << "the server says the Portuguese one is for the hearing impaired";
    EXPECT_TRUE(shows(f, SubtitleRef{"", "", false, false}, "d:\\films\\f\\F.JA.ASS", win))
        << "a stream that names its file is compared by file, without case on Windows";
    EXPECT_FALSE(shows(f, SubtitleRef{"", "ja", false, false}, "D:\\Films\\F\\F.jpn.ass", win));

    EXPECT_EQ(language_639_1("eng"), "en");
    EXPECT_EQ(language_639_1("GER"), "de");
    EXPECT_EQ(language_639_1("deu"), "de");
    EXPECT_EQ(language_639_1("pt-BR"), "pt");
    EXPECT_EQ(language_639_1("zh_Hant"), "zh");
    EXPECT_EQ(language_639_1("tlh"), "tlh") << "not one Plex knows: compared as given";
    EXPECT_EQ(language_639_1("nb"), "no") << "Bokmål as Plex tags Norwegian";
    EXPECT_EQ(language_639_1("nob"), "no");
}

TEST(Items, LibrariesAndEpisodesFromPlexApiRs) {
    auto movies = parse_items(fixture("plex-api.rs/movie_library.json"));
    ASSERT_TRUE(movies);
    EXPECT_EQ(movies->items.size(), 4u);
    auto shows = parse_items(fixture("plex-api.rs/tv_library.json"));
    ASSERT_TRUE(shows);
    EXPECT_EQ(shows->items.size(), 2u);
    auto eps = parse_items(fixture("plex-api.rs/tv_episodes.json"));
    ASSERT_TRUE(eps);
    ASSERT_EQ(eps->items.size(), 3u);
    ExternalIds ids;
    ASSERT_TRUE(read_guid(eps->items.front().guid, ids));
    EXPECT_EQ(ids.tvdb, 268592);
    EXPECT_EQ(ids.season, 1);
    EXPECT_EQ(ids.episode, 1);
}

TEST(Items, XmlListingsAndTheSiblingQuirk) {
    auto movies = parse_items(fixture("core/library_movies_all.xml"));
    ASSERT_TRUE(movies) << movies.error().message;
    EXPECT_EQ(movies->items.size(), 5u);
    auto shows = parse_items(fixture("core/library_tvshows_all.xml"));
    ASSERT_TRUE(shows);
    EXPECT_EQ(shows->items.front().type, "show");
    auto media = parse_items(fixture("core/media_1.xml"));
    ASSERT_TRUE(media) << "a self-closed <Media> with sibling <Part>s still parses";
    EXPECT_EQ(media->items.size(), 1u);
}

TEST(Items, BrokenAndLatin1Encodings) {
    auto broken = parse_items(fixture("PlexKit/item_metadata_with_broken_encoding.json"));
    ASSERT_TRUE(broken) << "garbage bytes in key names must not hide the item: " << broken.error().message;
    EXPECT_FALSE(broken->items.empty());
    // The Latin-1 capture is a section listing with no items; its title
    // bytes C4 E4 are not UTF-8 and must not break the parse.
    auto latin1 = parse_items(fixture("PlexKit/item_metadata_with_latin1_encoding.json"));
    ASSERT_TRUE(latin1) << latin1.error().message;
    EXPECT_EQ(latin1->library_section_id, 7);
    EXPECT_EQ(latin1->total_size, 1);
    EXPECT_TRUE(latin1->items.empty());
    auto w = parse_wire(fixture("PlexKit/item_metadata_with_latin1_encoding.json"));
    EXPECT_EQ(media_container(*w)->str("librarySectionTitle"), "\xEF\xBF\xBD\xEF\xBF\xBDnikirjat");
}

TEST(Webhooks, ListShapes) {
    auto two = parse_webhooks(fixture("plex-api.rs/webhooks_two.json"));
    ASSERT_TRUE(two);
    ASSERT_EQ(two->size(), 2u);
    EXPECT_EQ((*two)[1].url, "https://example.com/webhook2");
    auto none = parse_webhooks(fixture("plex-api.rs/webhooks_none.json"));
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
}

TEST(Guids, EveryAgentStyle) {
    ExternalIds a;
    EXPECT_TRUE(read_guid("com.plexapp.agents.thetvdb://74205/2/3?lang=en", a));
    EXPECT_EQ(a.tvdb, 74205);
    EXPECT_EQ(a.season, 2);
    EXPECT_EQ(a.episode, 3);
    ExternalIds b;
    EXPECT_TRUE(read_guid("com.plexapp.agents.themoviedb://348?lang=en", b));
    EXPECT_EQ(b.tmdb, 348);
    ExternalIds c;
    EXPECT_FALSE(read_guid("plex://movie/5d776830f59e58002189813a", c));
    EXPECT_FALSE(read_guid("local://12345", c));
    EXPECT_FALSE(read_guid("imdb://notanid", c));
    EXPECT_FALSE(read_guid("tmdb://-4", c));
}

TEST(Guids, TheHamaAgentResolvesOrSaysWhyNot) {
    ExternalIds show;
    EXPECT_TRUE(read_guid("com.plexapp.agents.hama://tvdb-81797/1/5?lang=en", show));
    EXPECT_EQ(show.tvdb, 81797);
    EXPECT_EQ(show.season, 1);
    EXPECT_EQ(show.episode, 5);
    ExternalIds absolute;
    EXPECT_TRUE(read_guid("com.plexapp.agents.hama://tvdb2-81797/1/5?lang=en", absolute));
    EXPECT_EQ(absolute.tvdb, 81797);
    EXPECT_EQ(absolute.season, -1) << "tvdb2 numbers episodes its own way: not TVDB's season and episode";
    ExternalIds movie;
    EXPECT_TRUE(read_guid("com.plexapp.agents.hama://tmdb-129?lang=en", movie));
    EXPECT_EQ(movie.tmdb, 129);
    ExternalIds anidb;
    EXPECT_FALSE(read_guid("com.plexapp.agents.hama://anidb-5108?lang=en", anidb));
    auto why = why_no_ids("com.plexapp.agents.hama://anidb-5108?lang=en");
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("AniDB"), std::string::npos) << *why;
}

TEST(Resources, AConnectionWithoutUriAndTheDevicesRelayFlag) {
    auto r = parse_resources(R"([{"name":"nas","clientIdentifier":"m","provides":"server","owned":true,
        "connections":[{"protocol":"https","address":"192.168.1.5","port":32400,"local":true},
                       {"protocol":"http","address":"fd00::5","port":32400,"local":true,"IPv6":true}]}])");
    ASSERT_TRUE(r) << r.error().message;
    const auto& c = r->front().connections;
    ASSERT_EQ(c.size(), 2u);
    EXPECT_EQ(c[0].uri, "https://192.168.1.5:32400") << "built from protocol, address and port";
    EXPECT_EQ(c[1].uri, "http://[fd00::5]:32400");
    // Legacy XML: relay="1" on the Device (the capture) is the server's
    // setting; a relay connection says so itself.
    auto xml = parse_resources(fixture("plex-api.rs/resources.xml"));
    ASSERT_TRUE(xml);
    for (const auto& k : xml->front().connections) EXPECT_FALSE(k.relay) << k.uri;
    auto relay = parse_resources(R"(<MediaContainer><Device name="s" clientIdentifier="m" provides="server" relay="1">
        <Connection protocol="https" address="178.3.2.1" port="8443" uri="https://178-3-2-1.h.plex.direct:8443"
         local="0" relay="1"/></Device></MediaContainer>)");
    ASSERT_TRUE(relay);
    EXPECT_TRUE(relay->front().connections.front().relay);
}

TEST(AddedAt, AnEditNamesExactlyOneNumericItem) {
    // Without `id` Plex's edit endpoint changes every item of the section:
    // a missing, empty or non-numeric id cannot become a path.
    for (std::string_view bad : {"", "abc", "12a", "-5", " 12", "1/2", "12345678901234567890"})
        EXPECT_FALSE(RatingKey::parse(bad)) << "\"" << bad << "\"";
    auto section = RatingKey::parse("1");
    auto item = RatingKey::parse("1036");
    ASSERT_TRUE(section && item);
    EXPECT_EQ(added_at_edit_path(*section, ItemType::movie, *item, 1700000000),
              "/library/sections/1/all?type=1&id=1036&addedAt.value=1700000000&addedAt.locked=1");
}

TEST(PlexTvErrors, TheCodeInEitherFormat) {
    EXPECT_EQ(plextv_error_code(
                  R"({"errors":[{"code":1043,"message":"This action is not available for this user","status":403}]})"),
              1043);
    EXPECT_EQ(plextv_error_code(R"(<errors><error code="1041" message="Invalid PIN" status="403"/></errors>)"), 1041);
    EXPECT_FALSE(plextv_error_code("Forbidden"));
    EXPECT_FALSE(plextv_error_code("[]"));
}

TEST(Wire, HostileInputIsAnErrorNotACrash) {
    std::string deep(10000, '[');
    EXPECT_FALSE(parse_wire(deep));
    std::string deep_xml;
    for (int i = 0; i < 5000; ++i) deep_xml += "<a>";
    EXPECT_FALSE(parse_wire(deep_xml));
    // Entity expansion (billion laughs) is never performed.
    auto laughs = parse_wire(
        R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><MediaContainer title="&b;"/>)");
    if (laughs) {
        const Node* mc = media_container(*laughs);
        ASSERT_NE(mc, nullptr);
        EXPECT_EQ(mc->str("title").find("aaaaaaaaaa"), std::string::npos);
    }
    EXPECT_FALSE(parse_wire(""));
    EXPECT_FALSE(parse_wire("{\"MediaContainer\":"));
    EXPECT_FALSE(parse_items("{\"a\":1}")) << "no MediaContainer";
}

// ---- Inputs the fuzz targets found (fuzz/, docs/reliability.md) ---------

TEST(Wire, LegacyChildrenOfMixedKindsAreAllKept) {
    // fuzz_pms: a typed child made a group of its own while the untyped ones
    // were appended through a reference into the moved groups (use after free).
    auto w = parse_wire(R"({"_children":[{"_elementType":""},{}]})");
    ASSERT_TRUE(w) << w.error().message;
    ASSERT_NE(w->kids("_children"), nullptr);
    EXPECT_EQ(w->kids("_children")->size(), 1u);
    ASSERT_NE(w->kids(""), nullptr);
    EXPECT_EQ(w->kids("")->size(), 1u);
    auto legacy = parse_sections(
        R"({"_elementType":"MediaContainer","_children":[{"_elementType":"Directory","key":"1","title":"Movies"},)"
        R"({"key":"2"},{"_elementType":"Directory","key":"3","title":"Shows"},{"key":"4"}]})");
    ASSERT_TRUE(legacy) << legacy.error().message;
    ASSERT_EQ(legacy->size(), 2u);
    EXPECT_EQ((*legacy)[1].key, "3");
}

TEST(Wire, NumbersBeyondAnIntegerStayText) {
    // fuzz_plextv: a double beyond int64 was converted to one (undefined).
    auto w = parse_wire(R"({"":19105761111111111111111})");
    ASSERT_TRUE(w);
    ASSERT_NE(w->attr(""), nullptr);
    EXPECT_EQ(w->integer(""), std::nullopt);
    auto big = parse_wire(R"({"id":1e300,"n":-1e19,"ok":12.0})");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->integer("id"), std::nullopt);
    EXPECT_EQ(big->integer("n"), std::nullopt);
    EXPECT_EQ(big->integer("ok"), 12);
}

TEST(Wire, ANumberBeyondADoubleReadsAsAbsent) {
    // fuzz_wire: Boost.JSON read 12e3838 as infinity and wrote it back as
    // "Infinity", which is not JSON (a stored setting would not read again).
    auto v = pb::common::json::parse_lenient(R"({"x":[12e3838,-1e999,1.5],"port":1e400})");
    ASSERT_TRUE(v);
    EXPECT_EQ(boost::json::serialize(*v), R"({"x":[null,null,1.5E0],"port":null})");
    EXPECT_TRUE(boost::json::parse(boost::json::serialize(*v)).is_object());
    auto w = parse_wire(R"({"MediaContainer":{"size":1e400}})");
    ASSERT_TRUE(w);
    EXPECT_EQ(media_container(*w)->attr("size"), nullptr);
}

TEST(Guids, ASeasonOrEpisodeBeyondAnyIsNone) {
    // fuzz_webhook_payload: 7000000000 wrapped into another episode's number.
    ExternalIds ids;
    EXPECT_TRUE(read_guid("tvdb://1//7000000000", ids));
    EXPECT_EQ(ids.tvdb, 1);
    EXPECT_EQ(ids.season, -1);
    EXPECT_EQ(ids.episode, -1);
    ExternalIds wrap;
    EXPECT_TRUE(read_guid("com.plexapp.agents.thetvdb://121361/4294967298/4294967301?lang=en", wrap));
    EXPECT_EQ(wrap.season, -1) << "not season 2";
    EXPECT_EQ(wrap.episode, -1) << "not episode 5";
    ExternalIds hama;
    EXPECT_TRUE(read_guid("com.plexapp.agents.hama://tvdb-81797/2147483648/3", hama));
    EXPECT_EQ(hama.season, -1);
    EXPECT_EQ(hama.episode, 3);
    ExternalIds largest;
    EXPECT_TRUE(read_guid("tvdb://1/2147483647/0", largest));
    EXPECT_EQ(largest.season, 2147483647);
    EXPECT_EQ(largest.episode, 0);
}

TEST(HttpParser, ALastChunkArrivingInPiecesIsRead) {
    // fuzz_http_request: Beast 1.81 asserted on 4 bytes of a last chunk
    // ("0\r\n" then one more byte), aborting builds with assertions
    // (src/thirdparty/boost_impl.cpp).
    namespace bhttp = boost::beast::http;
    bhttp::request_parser<bhttp::string_body> parser;
    boost::beast::error_code ec;
    auto put = [&](std::string_view bytes) { return parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec); };
    const std::string head = "G / HTTP/1.1\r\nTransfer-Encoding:chunked\r\n\r\n";
    EXPECT_EQ(put(head), head.size());
    EXPECT_FALSE(ec) << ec.message();
    for (std::string_view so_far : {"0\r\n", "0\r\n\xbd", "0\r\n\r"}) {
        EXPECT_EQ(put(so_far), 0u);
        EXPECT_EQ(ec, bhttp::error::need_more) << ec.message();
    }
    ec = {};
    EXPECT_EQ(put("0\r\n\r\n"), 5u);
    EXPECT_FALSE(ec) << ec.message();
    EXPECT_TRUE(parser.is_done());
}

TEST(HttpParser, ARequestWithoutABodyDoesNotGetThePreviousOne) {
    // fuzz_http_request: a connection reuses the last body's storage, and
    // Beast makes no body reader for a request without a body, so a
    // Content-Length: 0 request (or a GET) carried the previous request's body.
    using namespace pb::httpserver::detail;
    std::optional<RequestParser> parser;
    auto read = [&parser](std::string spare, std::string_view bytes) {
        start_request(parser, std::move(spare));
        boost::beast::flat_buffer buffer;
        buffer.commit(boost::asio::buffer_copy(buffer.prepare(bytes.size()), boost::asio::buffer(bytes)));
        EXPECT_FALSE(parse_buffered(*parser, buffer));
        EXPECT_TRUE(parser->is_done());
        return to_request(parser->release());
    };
    auto first = read("", "POST /api/host/login HTTP/1.1\r\nContent-Length: 8\r\n\r\nsecret=1");
    EXPECT_EQ(first.body, "secret=1");
    auto empty = read(std::move(first.body), "PATCH /api/plex/settings HTTP/1.1\r\nContent-Length:0\r\n\r\n");
    EXPECT_EQ(empty.body, "");
    auto again = read("left over", "GET /api/plex/status HTTP/1.1\r\n\r\n");
    EXPECT_EQ(again.body, "");
    EXPECT_EQ(again.path, "/api/plex/status");
}

TEST(Events, ASeasonOrEpisodeBeyondAnyIsNone) {
    // fuzz_refresh_event: 52147483648 was read as episode 607876096.
    auto e = pb::refresh::parse_event(
        R"({"type":"episode","series_tvdb":121361,"season":2,"episode":52147483648,"path":"/tv/Show/S02E05.mkv"})");
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->media.season, 2);
    EXPECT_EQ(e->media.number, -1);
    auto ids_only =
        pb::refresh::parse_event(R"({"type":"episode","series_tvdb":121361,"season":4294967298,"episode":5})");
    EXPECT_FALSE(ids_only) << "season 4294967298 is no season 2: without a path nothing says which episode";
}

// No capture of the Plex Home endpoints is in the fixtures. These bodies
// follow the shapes in docs/notes/plex-accounts-wire.md section 2: a Plex
// Web capture of /api/v2/home/users (2020), plex-api.rs's serde of the
// legacy XML, and python-plexapi's reading of the legacy switch answer.
TEST(HomeUsers, V2JsonWithAdminManagedAndProtected) {
    auto users = parse_home_users(
        R"({"id":1,"name":"Home","guestUserID":33542083,"guestUserUUID":"f7a3c8f863873771","guestEnabled":false,
            "subscription":true,"users":[
            {"id":2737029,"uuid":"ADMIN_UUID","title":"admin","username":"admin","email":"a@example.com",
             "thumb":"https://plex.tv/users/x/avatar?c=1","hasPassword":true,"restricted":false,
             "restrictionProfile":null,"admin":true,"guest":false,"protected":true},
            {"id":33542084,"uuid":"USER_UUID","title":"this is a user","username":null,"email":null,
             "thumb":"https://plex.tv/users/y/avatar?c=1","hasPassword":false,"restricted":true,
             "restrictionProfile":"little_kid","admin":false,"guest":false,"protected":false}]})");
    ASSERT_TRUE(users) << users.error().message;
    ASSERT_EQ(users->size(), 2u);
    const auto& admin = (*users)[0];
    EXPECT_EQ(admin.id, 2737029);
    EXPECT_TRUE(admin.admin);
    EXPECT_TRUE(admin.has_pin);
    EXPECT_FALSE(admin.managed());
    const auto& kid = (*users)[1];
    EXPECT_EQ(kid.uuid, "USER_UUID");
    EXPECT_EQ(kid.title, "this is a user");
    EXPECT_TRUE(kid.username.empty()) << "null is no username";
    EXPECT_TRUE(kid.managed());
    EXPECT_TRUE(kid.restricted);
    EXPECT_EQ(kid.restriction_profile, "little_kid");
    EXPECT_FALSE(kid.has_pin) << "hasPassword is a plex.tv password, not a PIN";
}

TEST(HomeUsers, LegacyXmlAndV2XmlAndWhatIsNotAList) {
    auto legacy = parse_home_users(
        R"(<?xml version="1.0" encoding="UTF-8"?>
<MediaContainer friendlyName="myPlex" identifier="com.plexapp.plugins.myplex" machineIdentifier="m" totalSize="2" size="2">
  <User id="2737029" uuid="a1" admin="1" guest="0" restricted="0" restrictionProfile="" hasPassword="1" protected="1" title="admin" username="admin" email="a@example.com" thumb="https://plex.tv/users/a1/avatar"/>
  <User id="33542084" uuid="b2" admin="0" guest="0" restricted="1" restrictionProfile="teen" hasPassword="0" protected="0" title="Teen"/>
</MediaContainer>)");
    ASSERT_TRUE(legacy) << legacy.error().message;
    ASSERT_EQ(legacy->size(), 2u);
    EXPECT_TRUE((*legacy)[0].has_pin);
    EXPECT_EQ((*legacy)[1].restriction_profile, "teen");
    EXPECT_TRUE((*legacy)[1].managed());

    auto v2xml = parse_home_users(
        R"(<home id="1"><users><user id="5" uuid="c3" title="Sam" username="sam" protected="1"/></users></home>)");
    ASSERT_TRUE(v2xml) << v2xml.error().message;
    ASSERT_EQ(v2xml->size(), 1u);
    EXPECT_EQ((*v2xml)[0].title, "Sam");

    EXPECT_TRUE(parse_home_users("<MediaContainer size=\"0\"/>")) << "an empty Home is a list";
    EXPECT_FALSE(parse_home_users("<html><body>Please log in to the hotel Wi-Fi</body></html>"));
    EXPECT_FALSE(parse_home_users(R"({"errors":[{"code":1001}]})"));
}

TEST(HomeUsers, TheSwitchTokenInEitherFormat) {
    auto v2 = parse_switch_token(R"({"id":1,"uuid":"d320a7e6324aacd5","title":"x","authToken":"tok-v2","home":true})");
    ASSERT_TRUE(v2);
    EXPECT_EQ(*v2, "tok-v2");
    auto legacy = parse_switch_token(R"(<?xml version="1.0"?><user id="5" authenticationToken="tok-v1" title="Kid"/>)");
    ASSERT_TRUE(legacy);
    EXPECT_EQ(*legacy, "tok-v1");
    EXPECT_FALSE(parse_switch_token(R"({"id":1,"authToken":""})")) << "an empty token is no token";
    EXPECT_FALSE(parse_switch_token("not an answer"));
}

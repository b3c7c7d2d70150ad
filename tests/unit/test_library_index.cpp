// The compact library index: what its integer keys, sorted tails and
// episode table could get wrong that the string maps before it did not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "refresh/library_index.hpp"

using pb::plexapi::MediaItem;
using pb::refresh::LibraryIndex;
using pb::refresh::MediaRef;

namespace {

MediaItem item(std::string rating_key, std::string type, std::vector<std::string> guids, std::string file = "") {
    MediaItem m;
    m.rating_key = std::move(rating_key);
    m.type = std::move(type);
    m.guids = std::move(guids);
    if (!file.empty()) m.files.push_back(std::move(file));
    return m;
}

MediaItem episode(std::string rating_key, int64_t season, int64_t number) {
    MediaItem m;
    m.rating_key = std::move(rating_key);
    m.type = "episode";
    m.parent_index = season;
    m.index = number;
    return m;
}

MediaRef movie_imdb(std::string imdb) {
    MediaRef m;
    m.imdb = std::move(imdb);
    return m;
}

MediaRef movie_tmdb(int64_t tmdb) {
    MediaRef m;
    m.tmdb = tmdb;
    return m;
}

MediaRef movie_path(std::string path) {
    MediaRef m;
    m.path = std::move(path);
    return m;
}

MediaRef show_ep(int64_t tvdb, int32_t season, int32_t number) {
    MediaRef m;
    m.episode = true;
    m.tvdb = tvdb;
    m.season = season;
    m.number = number;
    return m;
}

std::string key_of(const std::optional<pb::refresh::ItemRef>& r) { return r ? r->rating_key : "(none)"; }

}  // namespace

TEST(LibraryIndex, OddRatingKeysReadBackAsTheyWere) {
    LibraryIndex index;
    // Numbers that do not fit, leading zeros, text, empty: each its own.
    std::vector<std::string> keys = {"1036", "0", "007", "2147483647", "2147483648", "99999999999999999999",
                                     "abc",  "",  "-5",  "12a"};
    for (std::size_t i = 0; i < keys.size(); ++i)
        index.add(item(keys[i], "movie", {"imdb://tt" + std::to_string(1000000 + i)}), "1");
    for (std::size_t i = 0; i < keys.size(); ++i) {
        auto found = index.find_movie(movie_imdb("tt" + std::to_string(1000000 + i)));
        ASSERT_TRUE(found) << keys[i];
        EXPECT_EQ(found->rating_key, keys[i]);
        EXPECT_EQ(found->section_id, "1");
    }
    // "7" is not "007".
    index.forget("7");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt1000002"))), "007");
    index.forget("007");
    EXPECT_FALSE(index.find_movie(movie_imdb("tt1000002")));
    index.forget("abc");
    EXPECT_FALSE(index.find_movie(movie_imdb("tt1000006")));
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt1000007"))), "");
    EXPECT_EQ(index.items(), keys.size());
}

TEST(LibraryIndex, ImdbIdsOfEveryShapeStayApart) {
    LibraryIndex index;
    index.add(item("1", "movie", {"imdb://tt0253556"}), "1");
    index.add(item("2", "movie", {"imdb://tt253556"}), "1");  // same number, other text
    index.add(item("3", "movie", {"imdb://tt12ab"}), "1");
    index.add(item("4", "movie", {"imdb://tt123456789012345678901234"}), "1");  // beyond 16 digits
    index.add(item("5", "movie", {"imdb://tt1234567890123456"}), "1");          // 16 digits: a number
    index.add(item("6", "show", {"imdb://tt0253556"}), "2");                    // a show, same id
    index.add(item("7", "movie", {}, "/m/x.mkv"), "1");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt0253556"))), "1");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt253556"))), "2");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt12ab"))), "3");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt123456789012345678901234"))), "4");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt1234567890123456"))), "5");
    EXPECT_FALSE(index.find_movie(movie_imdb("tt12ab ")));
    EXPECT_FALSE(index.find_movie(movie_imdb("tt00253556")));
    EXPECT_FALSE(index.find_movie(movie_imdb("tt")));
    MediaRef show;
    show.episode = true;
    show.imdb = "tt0253556";
    EXPECT_EQ(key_of(index.find_show(show)), "6");
    EXPECT_EQ(key_of(index.find_movie(movie_path("/m/x.mkv"))), "7");
}

TEST(LibraryIndex, TmdbAndTvdbBeyondTheKeyBitsDoNotAliasSmallOnes) {
    LibraryIndex index;
    const int64_t big = (int64_t{1} << 59) + 5;
    index.add(item("1", "movie", {"tmdb://5"}), "1");
    index.add(item("2", "movie", {"tmdb://" + std::to_string(big)}), "1");
    index.add(item("3", "show", {"tvdb://5"}), "2");
    index.add(item("4", "show", {"tvdb://" + std::to_string(big)}), "2");
    EXPECT_EQ(key_of(index.find_movie(movie_tmdb(5))), "1");
    EXPECT_EQ(key_of(index.find_movie(movie_tmdb(big))), "2");
    EXPECT_EQ(key_of(index.find_show(show_ep(5, 1, 1))), "3");
    EXPECT_EQ(key_of(index.find_show(show_ep(big, 1, 1))), "4");
    EXPECT_FALSE(index.find_movie(movie_tmdb(INT64_MAX)));
    EXPECT_FALSE(index.find_show(show_ep(-1, 1, 1)));
}

TEST(LibraryIndex, TheLatestAddedWinsAndAForgottenItemIsNeverFound) {
    LibraryIndex index;
    index.add(item("10", "movie", {"imdb://tt0000010"}, "/m/a.mkv"), "1");
    index.add(item("11", "movie", {"imdb://tt0000010"}, "/m/a.mkv"), "2");  // a copy in another library
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt0000010"))), "11");
    EXPECT_EQ(key_of(index.find_movie(movie_path("/m/a.mkv"))), "11");
    // Gone from Plex: the other copy answers again.
    index.forget("11");
    auto found = index.find_movie(movie_imdb("tt0000010"));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->rating_key, "10");
    EXPECT_EQ(found->section_id, "1");
    index.forget("10");
    EXPECT_FALSE(index.find_movie(movie_imdb("tt0000010")));
    EXPECT_FALSE(index.find_movie(movie_path("/m/a.mkv")));
    // Listed again (an incremental build): found again, in its new section.
    index.add(item("11", "movie", {"imdb://tt0000010"}), "3");
    found = index.find_movie(movie_imdb("tt0000010"));
    ASSERT_TRUE(found);
    EXPECT_EQ(found->rating_key, "11");
    EXPECT_EQ(found->section_id, "3");
    EXPECT_FALSE(index.find_movie(movie_path("/m/a.mkv")));  // the new listing has no file
}

TEST(LibraryIndex, AddsAfterLookupsAreFoundAndStillWin) {
    LibraryIndex index;
    for (int i = 0; i < 1000; ++i)
        index.add(item(std::to_string(i), "movie", {"tmdb://" + std::to_string(100000 - i)}), "1");
    EXPECT_EQ(key_of(index.find_movie(movie_tmdb(100000 - 500))), "500");
    index.compact();
    for (int round = 0; round < 5; ++round) {
        // A few at a time, each followed by lookups: the sorted tail merges.
        for (int i = 0; i < 7; ++i) {
            int n = 1000 + round * 7 + i;
            index.add(item(std::to_string(n), "movie", {"tmdb://" + std::to_string(n * 3)}), "1");
        }
        index.add(item("x" + std::to_string(round), "movie", {"tmdb://" + std::to_string(100000 - 500)}), "1");
        EXPECT_EQ(key_of(index.find_movie(movie_tmdb(100000 - 500))), "x" + std::to_string(round));
        for (int n = 0; n < 1000 + (round + 1) * 7; ++n) {
            int64_t tmdb = n < 1000 ? 100000 - n : n * 3;
            if (tmdb == 100000 - 500) continue;
            ASSERT_EQ(key_of(index.find_movie(movie_tmdb(tmdb))), std::to_string(n)) << round;
        }
    }
    EXPECT_EQ(index.items(), 1000u + 5 * 8);
    index.clear();
    EXPECT_EQ(index.items(), 0u);
    EXPECT_EQ(index.size(), 0u);
    EXPECT_FALSE(index.find_movie(movie_tmdb(100000)));
}

TEST(LibraryIndex, WindowsPathsCompareWithoutCaseAndEitherSeparator) {
    LibraryIndex windows;
    windows.windows_paths = true;
    windows.add(item("1", "movie", {}, "D:\\Movies\\Heat (1995)\\Heat.mkv"), "1");
    EXPECT_EQ(key_of(windows.find_movie(movie_path("d:/movies/heat (1995)/HEAT.mkv"))), "1");
    EXPECT_FALSE(windows.find_movie(movie_path("D:\\Movies\\Heat (1995)\\Heat.mp4")));
    LibraryIndex posix;
    posix.add(item("1", "movie", {}, "/data/Movies/Heat.mkv"), "1");
    EXPECT_EQ(key_of(posix.find_movie(movie_path("/data/Movies/Heat.mkv"))), "1");
    EXPECT_FALSE(posix.find_movie(movie_path("/data/movies/heat.mkv")));
}

TEST(LibraryIndex, EpisodesWithHugeNumbersNeverAliasAnother) {
    LibraryIndex index;
    index.add(item("100", "show", {"tvdb://280619"}), "2");
    EXPECT_FALSE(index.leaves_listed(show_ep(280619, 1, 1)));
    EXPECT_FALSE(index.find_episode(show_ep(280619, 1, 1)));
    index.add_leaves(show_ep(280619, 1, 1), {
                                                episode("201", 1, 1),
                                                episode("202", 1, 100000),  // once season*100000+number: S2E0
                                                episode("203", 2, 0),
                                                episode("204", (int64_t{1} << 32) + 1, 1),  // beyond 32 bits
                                                episode("205", 1, (int64_t{1} << 32) + 2),
                                                episode("206", -1, 3),  // no season
                                                episode("207", 0, INT64_MAX),
                                                episode("208", 0, 2147483647),
                                            });
    EXPECT_TRUE(index.leaves_listed(show_ep(280619, 1, 1)));
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 1, 1))), "201");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 1, 100000))), "202");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 2, 0))), "203");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 1, 2))), "(none)");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 0, 2147483647))), "208");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, -1, 3))), "(none)");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 0, -1))), "(none)");
    EXPECT_EQ(key_of(index.find_episode(show_ep(280619, 0, 3))), "(none)");
    EXPECT_EQ(index.find_episode(show_ep(280619, 2, 0))->section_id, "2");
    // Episodes are not listed items, and not movies.
    EXPECT_EQ(index.items(), 1u);
    MediaRef m;
    m.tvdb = 280619;
    EXPECT_FALSE(index.find_movie(m));
}

TEST(LibraryIndex, ForgettingAnEpisodeOrItsShow) {
    LibraryIndex index;
    index.add(item("100", "show", {"tvdb://1", "imdb://tt0000100"}), "2");
    index.add(item("300", "show", {"tvdb://3"}), "2");
    index.add_leaves(show_ep(1, 1, 1), {episode("101", 1, 1), episode("102", 1, 2)});
    index.add_leaves(show_ep(3, 1, 1), {episode("301", 1, 1)});
    index.forget("101");
    EXPECT_TRUE(index.leaves_listed(show_ep(1, 1, 1)));
    EXPECT_FALSE(index.find_episode(show_ep(1, 1, 1)));
    EXPECT_EQ(key_of(index.find_episode(show_ep(1, 1, 2))), "102");
    // The show: it and its episodes go; listed again, its leaves are asked for again.
    index.forget("100");
    EXPECT_FALSE(index.find_show(show_ep(1, 1, 2)));
    EXPECT_FALSE(index.leaves_listed(show_ep(1, 1, 2)));
    EXPECT_FALSE(index.find_episode(show_ep(1, 1, 2)));
    index.add(item("100", "show", {"tvdb://1"}), "2");
    EXPECT_TRUE(index.find_show(show_ep(1, 1, 2)));
    EXPECT_FALSE(index.leaves_listed(show_ep(1, 1, 2)));
    index.add_leaves(show_ep(1, 1, 1), {episode("103", 1, 2)});
    EXPECT_EQ(key_of(index.find_episode(show_ep(1, 1, 2))), "103");
    EXPECT_EQ(key_of(index.find_episode(show_ep(3, 1, 1))), "301");  // the other show untouched
    // Leaves of a show no longer indexed are not kept.
    index.add_leaves(show_ep(9, 1, 1), {episode("901", 1, 1)});
    EXPECT_FALSE(index.leaves_listed(show_ep(9, 1, 1)));
    // Two answers for one episode (a duplicate in Plex): the latest.
    index.add_leaves(show_ep(3, 1, 1), {episode("302", 1, 1)});
    EXPECT_EQ(key_of(index.find_episode(show_ep(3, 1, 1))), "302");
}

TEST(LibraryIndex, TwoSectionsKeepTheirIds) {
    LibraryIndex index;
    index.add(item("1", "movie", {"imdb://tt0000001"}, "/movies/a.mkv"), "1");
    index.add(item("2", "movie", {"imdb://tt0000002"}, "/movies-4k/b.mkv"), "movies-4k");
    index.add(item("3", "show", {"tvdb://3"}), "14");
    index.add(item("4", "movie", {"imdb://tt0000004"}), "1");
    index.add_leaves(show_ep(3, 1, 1), {episode("31", 1, 1)});
    EXPECT_EQ(index.find_movie(movie_imdb("tt0000001"))->section_id, "1");
    EXPECT_EQ(index.find_movie(movie_path("/movies-4k/b.mkv"))->section_id, "movies-4k");
    EXPECT_EQ(index.find_movie(movie_imdb("tt0000004"))->section_id, "1");
    EXPECT_EQ(index.find_show(show_ep(3, 1, 1))->section_id, "14");
    EXPECT_EQ(index.find_episode(show_ep(3, 1, 1))->section_id, "14");
    // A show is not a movie, a movie not a show, whatever their ids.
    MediaRef show_as_movie;
    show_as_movie.tvdb = 3;
    EXPECT_FALSE(index.find_movie(show_as_movie));
    MediaRef movie_as_show;
    movie_as_show.episode = true;
    movie_as_show.imdb = "tt0000001";
    EXPECT_FALSE(index.find_show(movie_as_show));
}

TEST(LibraryIndex, LegacyAgentGuidsAreKeysToo) {
    LibraryIndex index;
    MediaItem legacy = item("108", "movie", {});
    legacy.guid = "com.plexapp.agents.imdb://tt0165832?lang=en";
    index.add(legacy, "1");
    MediaItem gotham = item("88", "show", {});
    gotham.guid = "com.plexapp.agents.thetvdb://274431?lang=en";
    index.add(gotham, "2");
    EXPECT_EQ(key_of(index.find_movie(movie_imdb("tt0165832"))), "108");
    EXPECT_EQ(key_of(index.find_show(show_ep(274431, 1, 1))), "88");
    EXPECT_EQ(index.size(), 2u);
}

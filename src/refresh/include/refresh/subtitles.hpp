// Whether Plex shows a subtitle: after a refresh the refresher reads the
// item back and looks for the subtitle the event named among the part's
// streams (docs/refresh.md, "Making sure Plex shows the subtitle").
#pragma once
#include <string>
#include <string_view>

#include "plexapi/models.hpp"
#include "refresh/paths.hpp"

namespace pb::refresh {

// The subtitle an event names (the payload's optional "subtitle" object).
struct SubtitleRef {
    std::string path;      // the host's path of the subtitle file
    std::string language;  // "en", "eng", "pt-BR": any form, compared as ISO 639-1
    bool forced = false;
    bool hearing_impaired = false;
    bool empty() const { return path.empty() && language.empty(); }
};

// Whether one of the item's external subtitle streams is this subtitle.
// `plex_path` is the subtitle's path as Plex sees it (mapped). A stream
// that names its file is compared by file alone; one that does not (what
// our captures show) by language, forced flag, hearing-impaired flag (when
// the server reports it) and codec (from the file's extension). A stream
// with no language fits when the file's name does not carry one.
bool shows(const plexapi::MediaItem& item, const SubtitleRef& subtitle, std::string_view plex_path, PathStyle style);

// "the en forced subtitle Movie.en.forced.srt" (the language as the host
// gave it), for messages.
std::string describe(const SubtitleRef& subtitle);

}  // namespace pb::refresh

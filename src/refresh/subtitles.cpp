#include "refresh/subtitles.hpp"

#include "common/text.hpp"

namespace pb::refresh {

namespace {
std::string_view name_of(std::string_view path) {
    auto slash = path.find_last_of("/\\");
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Whether Plex would name a stream read from a file with this extension
// `codec`. Unknown extensions match any codec.
bool codec_fits(std::string_view path, std::string_view codec) {
    std::string_view name = name_of(path);
    auto dot = name.rfind('.');
    if (dot == std::string_view::npos || codec.empty()) return true;
    std::string ext = common::text::to_lower(name.substr(dot + 1)), c = common::text::to_lower(codec);
    if (ext == "srt") return c == "srt" || c == "subrip";
    if (ext == "ass" || ext == "ssa") return c == "ass" || c == "ssa";
    if (ext == "vtt") return c == "vtt" || c == "webvtt";
    if (ext == "idx" || ext == "sub") return c == "vobsub" || c == "microdvd" || c == "sub";
    if (ext == "sup") return c == "pgs" || c == "hdmv_pgs_subtitle";
    if (ext == "smi") return c == "smi";
    return true;
}
// Whether the file's name says its language ("Film.en.forced.srt",
// "Film.pt-BR.srt"): then Plex reads it from there. Without it Plex lists
// the stream with no language ("Unknown (SRT External)" in the capture).
bool name_says(std::string_view path, std::string_view language) {
    std::string_view name = name_of(path);
    auto dot = name.rfind('.');
    if (dot != std::string_view::npos) name = name.substr(0, dot);  // the extension
    while (!name.empty()) {
        dot = name.rfind('.');
        std::string_view token = dot == std::string_view::npos ? name : name.substr(dot + 1);
        if (token.size() >= 2 && plexapi::language_639_1(token) == language) return true;
        if (dot == std::string_view::npos) break;
        name = name.substr(0, dot);
    }
    return false;
}
}  // namespace

bool shows(const plexapi::MediaItem& item, const SubtitleRef& sub, std::string_view plex_path, PathStyle style) {
    std::string want_lang = sub.language.empty() ? "" : plexapi::language_639_1(sub.language);
    for (const auto& s : item.subtitles) {
        if (!s.external()) continue;  // a subtitle inside the video is not the file the event named
        if (!s.file.empty()) {
            if (!plex_path.empty() && compare_key(s.file, style) == compare_key(plex_path, style)) return true;
            continue;
        }
        if (!want_lang.empty()) {
            std::string have = plexapi::language_639_1(s.language_tag.empty() ? s.language_code : s.language_tag);
            // A stream without a language is this one only when the name
            // does not say the language (Plex would have read it).
            bool unknown_fits = have.empty() && !name_says(plex_path, want_lang);
            if (have != want_lang && !unknown_fits) continue;
        }
        if (s.forced != sub.forced) continue;
        if (s.hearing_impaired && *s.hearing_impaired != sub.hearing_impaired) continue;
        if (!plex_path.empty() && !codec_fits(plex_path, s.codec)) continue;
        return true;
    }
    return false;
}

std::string describe(const SubtitleRef& sub) {
    std::string out = "the ";
    if (!sub.language.empty()) out += sub.language + " ";
    if (sub.forced) out += "forced ";
    if (sub.hearing_impaired) out += "hearing-impaired ";
    out += "subtitle";
    if (!sub.path.empty()) out += " " + std::string(name_of(sub.path));
    return out;
}

}  // namespace pb::refresh

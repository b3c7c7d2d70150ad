// Language codes as Plex writes them: languageCode is ISO 639-2/B ("ger",
// "fre", "chi"), languageTag BCP 47 ("de", "pt-BR"). Hosts send either
// form, so both sides are brought to ISO 639-1 before they are compared.
#include <algorithm>
#include <cctype>
#include <string>

#include "plexapi/models.hpp"

namespace pb::plexapi {

namespace {
struct Code {
    const char* three;  // 639-2, bibliographic or terminological
    const char* two;    // 639-1
};
// Both 639-2 forms where they differ (B first, as Plex writes it).
constexpr Code kCodes[] = {
    {"alb", "sq"}, {"sqi", "sq"}, {"ara", "ar"}, {"arm", "hy"}, {"hye", "hy"}, {"baq", "eu"}, {"eus", "eu"},
    {"bel", "be"}, {"ben", "bn"}, {"bos", "bs"}, {"bul", "bg"}, {"bur", "my"}, {"mya", "my"}, {"cat", "ca"},
    {"chi", "zh"}, {"zho", "zh"}, {"hrv", "hr"}, {"cze", "cs"}, {"ces", "cs"}, {"dan", "da"}, {"dut", "nl"},
    {"nld", "nl"}, {"eng", "en"}, {"est", "et"}, {"fin", "fi"}, {"fre", "fr"}, {"fra", "fr"}, {"geo", "ka"},
    {"kat", "ka"}, {"ger", "de"}, {"deu", "de"}, {"gre", "el"}, {"ell", "el"}, {"heb", "he"}, {"hin", "hi"},
    {"hun", "hu"}, {"ice", "is"}, {"isl", "is"}, {"ind", "id"}, {"gle", "ga"}, {"ita", "it"}, {"jpn", "ja"},
    {"kan", "kn"}, {"kaz", "kk"}, {"khm", "km"}, {"kor", "ko"}, {"lav", "lv"}, {"lit", "lt"}, {"mac", "mk"},
    {"mkd", "mk"}, {"may", "ms"}, {"msa", "ms"}, {"mal", "ml"}, {"mar", "mr"}, {"mon", "mn"}, {"nor", "no"},
    {"nob", "no"}, {"nno", "no"}, {"per", "fa"}, {"fas", "fa"}, {"pol", "pl"}, {"por", "pt"}, {"rum", "ro"},
    {"ron", "ro"}, {"rus", "ru"}, {"srp", "sr"}, {"sin", "si"}, {"slo", "sk"}, {"slk", "sk"}, {"slv", "sl"},
    {"spa", "es"}, {"swa", "sw"}, {"swe", "sv"}, {"tgl", "tl"}, {"tam", "ta"}, {"tel", "te"}, {"tha", "th"},
    {"tur", "tr"}, {"ukr", "uk"}, {"urd", "ur"}, {"uzb", "uz"}, {"vie", "vi"}, {"wel", "cy"}, {"cym", "cy"},
    {"afr", "af"}, {"aze", "az"}, {"epo", "eo"}, {"fil", "tl"}, {"gla", "gd"}, {"glg", "gl"}, {"lat", "la"},
    {"ltz", "lb"}, {"mao", "mi"}, {"mri", "mi"}, {"nep", "ne"}, {"pan", "pa"}, {"som", "so"}, {"tib", "bo"},
    {"bod", "bo"}, {"yid", "yi"}, {"zul", "zu"}, {"amh", "am"}, {"guj", "gu"}, {"hau", "ha"}, {"kur", "ku"},
    {"lao", "lo"}, {"pus", "ps"}, {"tat", "tt"}, {"tgk", "tg"}, {"tuk", "tk"}, {"yor", "yo"}, {"fao", "fo"},
};
}  // namespace

std::string language_639_1(std::string_view code) {
    std::string primary;
    for (char c : code) {
        if (c == '-' || c == '_') break;  // "pt-BR", "en_US": the language, not the region
        primary += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (primary.size() == 3)
        for (const auto& c : kCodes)
            if (primary == c.three) return c.two;
    // Norwegian: hosts write Bokmål (nb) or Nynorsk (nn), Plex mostly "no".
    if (primary == "nb" || primary == "nn") return "no";
    return primary;
}

}  // namespace pb::plexapi

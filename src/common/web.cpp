#include "common/web.hpp"

#include "common/text.hpp"

namespace pb::common::web {

const File* find(std::span<const File> files, std::string_view name) {
    if (name.empty()) name = "index.html";
    for (const auto& f : files)
        if (f.name == name) return &f;
    return nullptr;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
    // A list of quoted tags, each maybe weak (W/"..."): RFC 9110 §13.1.2.
    bool found = false;
    text::for_each_part(if_none_match, ',', [&](std::string_view tag) {
        tag = text::trim(tag);
        if (tag == "*") found = true;
        if (text::starts_with(tag, "W/")) tag.remove_prefix(2);
        if (tag == etag) found = true;
    });
    return found;
}

std::vector<std::pair<std::string, std::string>> page_headers(std::string_view etag) {
    return {{"Content-Security-Policy", std::string(kContentSecurityPolicy)},
            {"X-Content-Type-Options", "nosniff"},
            {"X-Frame-Options", "SAMEORIGIN"},
            {"Referrer-Policy", "no-referrer"},
            {"Cache-Control", "no-cache"},
            {"ETag", std::string(etag)}};
}

Answer answer(const File& file, std::string_view if_none_match) {
    const bool fresh = etag_matches(if_none_match, file.etag);
    return {fresh ? 304 : 200, file.content_type, fresh ? std::string_view() : file.body, page_headers(file.etag)};
}

}  // namespace pb::common::web

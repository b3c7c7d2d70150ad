// Web files built into a binary (cmake/embed_files.cmake) and the headers
// every page is served with. The plugin's page (page/) and the reference
// host's own pages use this one definition, so both answer alike.
#pragma once
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pb::common::web {

struct File {
    std::string_view name;          // "index.html", "js/app.js": relative to its folder
    std::string_view content_type;  // from the extension
    std::string_view etag;          // quoted, from the bytes: "\"3f2a...\""
    std::string_view body;
};

// The file called `name` ("" is "index.html"), or nullptr. Only names in the
// table exist: there is no file system behind it, so no path can escape it.
const File* find(std::span<const File> files, std::string_view name);

// Whether an If-None-Match header names this ETag (or is "*"): answer 304.
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// The Content-Security-Policy of every page: scripts, styles and fetches
// from the page's own origin only, no inline script or style, no plugins,
// framed only by the same origin (the host's own page).
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'self'";

// Headers of a page file: the CSP, nosniff, no referrer, framing by the
// same origin (for browsers without frame-ancestors) and revalidation
// by ETag on every load, so a new plugin version is never half-cached.
std::vector<std::pair<std::string, std::string>> page_headers(std::string_view etag);

// How a file is answered: 200 with its bytes, or 304 with none when the
// request's If-None-Match names its ETag; the page headers either way.
// The plugin's page and the host's pages both answer through this.
struct Answer {
    int status = 200;
    std::string_view content_type;
    std::string_view body;  // the file's: static storage
    std::vector<std::pair<std::string, std::string>> headers;
};
Answer answer(const File& file, std::string_view if_none_match);

}  // namespace pb::common::web

#include "multipart.hpp"

#include <cstring>

#include "common/text.hpp"

namespace pb::webhooks {

static std::string_view param_value(std::string_view header, std::string_view key) {
    // key=value or key="value" among ';'-separated parameters.
    std::size_t pos = 0;
    while (pos < header.size()) {
        auto semi = header.find(';', pos);
        std::string_view item = common::text::trim(
            header.substr(pos, semi == std::string_view::npos ? std::string_view::npos : semi - pos));
        auto eq = item.find('=');
        if (eq != std::string_view::npos && common::text::iequals(common::text::trim(item.substr(0, eq)), key)) {
            std::string_view v = common::text::trim(item.substr(eq + 1));
            if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
            return v;
        }
        if (semi == std::string_view::npos) break;
        pos = semi + 1;
    }
    return {};
}

std::optional<std::string_view> boundary_of(std::string_view content_type) {
    auto semi = content_type.find(';');
    if (!common::text::iequals(common::text::trim(content_type.substr(0, semi)), "multipart/form-data"))
        return std::nullopt;
    if (semi == std::string_view::npos) return std::nullopt;
    std::string_view b = param_value(content_type.substr(semi + 1), "boundary");
    if (b.empty() || b.size() > 70) return std::nullopt;
    return b;
}

common::Result<std::vector<Part>> parse_multipart(std::string_view body, std::string_view boundary,
                                                  std::size_t max_parts) {
    auto malformed = [](std::string why) { return common::Error(common::Errc::webhook_malformed, std::move(why)); };
    std::vector<Part> parts;
    if (boundary.empty() || boundary.size() > 70)  // RFC 2046: 1 to 70 characters
        return malformed("invalid multipart boundary");
    // CRLF "--" boundary, on the stack: `next` is the whole, `delim` without the CRLF.
    char storage[4 + 70];
    std::memcpy(storage, "\r\n--", 4);
    std::memcpy(storage + 4, boundary.data(), boundary.size());
    const std::string_view next(storage, 4 + boundary.size());
    const std::string_view delim = next.substr(2);
    // The first delimiter may start the body or follow a preamble line.
    std::size_t pos = 0;
    if (body.substr(0, delim.size()) != delim) {
        auto first = body.find(next);
        if (first == std::string_view::npos)
            return malformed("the body has no multipart boundary \"" + std::string(boundary) + "\"");

        pos = first + 2;
    }
    while (true) {
        pos += delim.size();
        if (body.substr(pos, 2) == "--") return parts;  // closing delimiter: done
        // Transport padding, then CRLF.
        while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
        if (body.substr(pos, 2) != "\r\n") return malformed("malformed multipart delimiter line");

        pos += 2;
        auto headers_end = body.find("\r\n\r\n", pos);
        std::size_t content_start;
        std::string_view headers;
        if (body.substr(pos, 2) == "\r\n") {  // a part without headers
            headers = {};
            content_start = pos + 2;
        } else {
            if (headers_end == std::string_view::npos) return malformed("a multipart part has no end of headers");

            headers = body.substr(pos, headers_end - pos);
            content_start = headers_end + 4;
        }
        auto end = body.find(next, content_start);
        if (end == std::string_view::npos) return malformed("the multipart body ends before its closing boundary");

        if (parts.size() >= max_parts) return malformed("too many multipart parts");

        Part p;
        p.body = body.substr(content_start, end - content_start);
        common::text::for_each_part(headers, '\n', [&p](std::string_view line) {
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
            auto colon = line.find(':');
            if (colon == std::string_view::npos) return;
            auto name = common::text::trim(line.substr(0, colon));
            auto value = common::text::trim(line.substr(colon + 1));
            if (common::text::iequals(name, "Content-Disposition")) {
                p.name = param_value(value, "name");
                p.filename = param_value(value, "filename");
            } else if (common::text::iequals(name, "Content-Type")) {
                p.content_type = value;
            }
        });
        parts.push_back(p);
        pos = end + 2;
    }
}

}  // namespace pb::webhooks

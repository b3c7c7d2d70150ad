// One tree for both of Plex's wire formats.
//
// plex.tv and Plex Media Server answer the same request in XML or JSON
// depending on Accept, and the two differ in shape: XML has attributes and
// child elements, JSON has scalars, arrays and objects, with numbers and
// booleans typed inconsistently. parse_wire() turns either into a Node:
//   - scalars become string attributes (true/false -> "1"/"0", null dropped)
//   - child elements / arrays of objects become children grouped by name
//     (JSON "Metadata":[...] and XML <Video>/<Directory> both work; a bare
//     JSON array at the top is grouped under "_items")
//   - arrays of strings become children with a "value" attribute
// so each model below is read once for both formats. Invalid UTF-8 and
// Latin-1 text are repaired, depth is bounded, and XML entities beyond the
// predefined five are never expanded (no DTD processing at all).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace pb::plexapi {

struct Node {
    std::string name;  // element name, or JSON key
    std::vector<std::pair<std::string, std::string>> attrs;
    std::vector<std::pair<std::string, std::vector<Node>>> children;

    const std::string* attr(std::string_view key) const;
    std::string str(std::string_view key, std::string_view fallback = "") const;
    std::optional<int64_t> integer(std::string_view key) const;
    // "1"/"0"/"true"/"false"; nullopt when absent or anything else.
    std::optional<bool> boolean(std::string_view key) const;
    const std::vector<Node>* kids(std::string_view name) const;
    const Node* first(std::string_view name) const;
};

// Sniffs the format from the first non-blank byte. Errc::bad_answer, with
// what is wrong ("not valid XML: ..."), for anything unreadable.
common::Result<Node> parse_wire(std::string_view body);

// For MediaContainer answers: the container itself in both formats (JSON
// wraps it in {"MediaContainer": {...}}).
const Node* media_container(const Node& root);

}  // namespace pb::plexapi

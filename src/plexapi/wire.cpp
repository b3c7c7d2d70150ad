#include "wire.hpp"

#include <boost/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>

#include "common/json.hpp"

namespace pb::plexapi {

namespace bj = boost::json;
constexpr int kMaxDepth = 48;

const std::string* Node::attr(std::string_view key) const {
    for (const auto& [k, v] : attrs)
        if (k == key) return &v;
    return nullptr;
}

std::string Node::str(std::string_view key, std::string_view fallback) const {
    const std::string* v = attr(key);
    return v ? *v : std::string(fallback);
}

std::optional<int64_t> Node::integer(std::string_view key) const {
    const std::string* v = attr(key);
    if (v == nullptr || v->empty()) return std::nullopt;
    int64_t out = 0;
    const char* end = v->data() + v->size();
    auto [p, ec] = std::from_chars(v->data(), end, out);
    if (ec != std::errc()) return std::nullopt;
    if (p == end) return out;
    // "12.5" from a JSON double reads as 12; "1.9E22" (too large for any
    // integer, so written with an exponent) as none.
    if (*p != '.' || std::any_of(p + 1, end, [](char c) { return c < '0' || c > '9'; })) return std::nullopt;
    return out;
}

std::optional<bool> Node::boolean(std::string_view key) const {
    const std::string* v = attr(key);
    if (v == nullptr) return std::nullopt;
    if (*v == "1" || *v == "true") return true;
    if (*v == "0" || *v == "false") return false;
    return std::nullopt;
}

const std::vector<Node>* Node::kids(std::string_view n) const {
    for (const auto& [k, v] : children)
        if (k == n) return &v;
    return nullptr;
}

const Node* Node::first(std::string_view n) const {
    const auto* k = kids(n);
    return k && !k->empty() ? &k->front() : nullptr;
}

static std::vector<Node>& group(Node& parent, const std::string& name) {
    for (auto& [k, v] : parent.children)
        if (k == name) return v;
    parent.children.emplace_back(name, std::vector<Node>{});
    return parent.children.back().second;
}

static std::optional<std::string> scalar_text(const bj::value& v) {
    switch (v.kind()) {
        case bj::kind::string: return std::string(v.get_string());
        case bj::kind::int64: return std::to_string(v.get_int64());
        case bj::kind::uint64: return std::to_string(v.get_uint64());
        case bj::kind::double_: {
            double d = v.get_double();
            // In range first: converting a double out of range is undefined.
            if (d > -9e18 && d < 9e18 && d == static_cast<double>(static_cast<int64_t>(d)))
                return std::to_string(static_cast<int64_t>(d));
            return bj::serialize(v);
        }
        case bj::kind::bool_: return std::string(v.get_bool() ? "1" : "0");
        default: return std::nullopt;
    }
}

static bool from_json(const bj::value& v, Node& out, int depth, std::string& error);

static bool add_json_array(Node& parent, const std::string& name, const bj::array& arr, int depth, std::string& error) {
    group(parent, name);  // an empty array is an empty group
    for (const auto& el : arr) {
        Node child;
        if (el.is_object()) {
            // Legacy PMS JSON ("_elementType") names its children itself.
            child.name = name;
            if (!from_json(el, child, depth + 1, error)) return false;
            if (const auto* t = child.attr("_elementType"); t && name == "_children") {
                auto typed = std::move(child);
                typed.name = *t;
                group(parent, typed.name).push_back(std::move(typed));
                continue;
            }
        } else if (auto s = scalar_text(el)) {
            child.name = name;
            child.attrs.emplace_back("value", *s);
        } else {
            continue;  // nulls and nested arrays carry nothing we read
        }
        // Looked up for each element: a typed child above may have added a
        // group to `parent`, moving the others (a reference kept from before
        // would dangle).
        group(parent, name).push_back(std::move(child));
    }
    return true;
}

static bool from_json(const bj::value& v, Node& out, int depth, std::string& error) {
    if (depth > kMaxDepth) {
        error = "nested too deeply";
        return false;
    }
    if (v.is_array()) return add_json_array(out, "_items", v.get_array(), depth, error);
    if (!v.is_object()) {
        error = "expected an object or an array";
        return false;
    }
    for (const auto& [key, val] : v.get_object()) {
        std::string k(key);
        if (val.is_object()) {
            Node child;
            child.name = k;
            if (!from_json(val, child, depth + 1, error)) return false;
            group(out, k).push_back(std::move(child));
        } else if (val.is_array()) {
            if (!add_json_array(out, k, val.get_array(), depth, error)) return false;
        } else if (auto s = scalar_text(val)) {
            out.attrs.emplace_back(std::move(k), std::move(*s));
        }
    }
    return true;
}

static bool from_xml(const pugi::xml_node& x, Node& out, int depth, std::string& error) {
    if (depth > kMaxDepth) {
        error = "nested too deeply";
        return false;
    }
    out.name = x.name();
    for (const auto& a : x.attributes()) out.attrs.emplace_back(a.name(), pb::common::json::sanitize_utf8(a.value()));
    for (const auto& c : x.children()) {
        if (c.type() != pugi::node_element) continue;
        Node child;
        if (!from_xml(c, child, depth + 1, error)) return false;
        group(out, child.name).push_back(std::move(child));
    }
    return true;
}

common::Result<Node> parse_wire(std::string_view body) {
    auto fail = [](std::string why) { return common::Error(common::Errc::bad_answer, std::move(why)); };
    std::size_t i = 0;
    while (i < body.size() && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t')) ++i;
    // A UTF-8 byte order mark is harmless: skip it.
    if (body.substr(i, 3) == "\xEF\xBB\xBF") i += 3;
    if (i == body.size()) return fail("the answer was empty");
    std::string error;
    if (body[i] == '<') {
        pugi::xml_document doc;
        // parse_default has no DTD expansion; keep it that way (no parse_doctype
        // handling of entities beyond the five predefined ones).
        auto res = doc.load_buffer(body.data() + i, body.size() - i, pugi::parse_default, pugi::encoding_auto);
        if (!res) return fail(std::string("not valid XML: ") + res.description());
        pugi::xml_node top = doc.document_element();
        if (!top) return fail("XML without a root element");
        Node root;
        if (!from_xml(top, root, 0, error)) return fail(error);
        // Same shape as the JSON wrapper: {"MediaContainer": {...}}.
        Node wrapper;
        group(wrapper, root.name).push_back(std::move(root));
        return wrapper;
    }
    auto v = pb::common::json::parse_lenient(body.substr(i), kMaxDepth + 2);
    if (!v) return fail("not valid JSON: " + v.error().message);
    Node root;
    if (v->is_object() && v->get_object().contains("_elementType")) {
        // Legacy (PMS 0.9) JSON: the top object is the container itself.
        Node mc;
        mc.name = "MediaContainer";
        if (!from_json(*v, mc, 0, error)) return fail(error);
        group(root, "MediaContainer").push_back(std::move(mc));
    } else if (!from_json(*v, root, 0, error)) {
        return fail(error);
    }
    return root;
}

const Node* media_container(const Node& root) { return root.first("MediaContainer"); }

}  // namespace pb::plexapi

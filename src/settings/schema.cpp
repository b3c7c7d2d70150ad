#include "settings/schema.hpp"

#include <boost/json.hpp>

#include <limits>

namespace pb::settings {

std::string_view name_of(Type t) {
    switch (t) {
        case Type::boolean: return "bool";
        case Type::integer: return "int";
        case Type::string: return "string";
        case Type::string_list: return "string_list";
        case Type::json: return "json";
    }
    return "json";
}
std::string_view name_of(Access a) {
    switch (a) {
        case Access::user: return "user";
        case Access::read_only: return "read_only";
        case Access::internal: return "internal";
    }
    return "internal";
}
std::string_view name_of(Section s) {
    switch (s) {
        case Section::general: return "general";
        case Section::account: return "account";
        case Section::legacy: return "legacy";
        case Section::server: return "server";
        case Section::libraries: return "libraries";
        case Section::refresh: return "refresh";
        case Section::webhooks: return "webhooks";
        case Section::advanced: return "advanced";
    }
    return "advanced";
}
std::string_view name_of(Format f) {
    switch (f) {
        case Format::any: return "";
        case Format::url: return "url";
        case Format::url_or_empty: return "url_or_empty";
        case Format::host: return "host";
    }
    return "";
}

boost::json::object describe(const Spec& s) {
    boost::json::object o{{"name", s.name},
                          {"type", name_of(s.type)},
                          {"default", boost::json::parse(s.default_json)},
                          {"description", s.help},
                          {"secret", s.secret},
                          {"label", s.label},
                          {"section", name_of(s.section)},
                          {"access", name_of(s.access)}};
    if (s.min != std::numeric_limits<int64_t>::min()) o["min"] = s.min;
    if (s.max != std::numeric_limits<int64_t>::max()) o["max"] = s.max;
    if (!s.unit.empty()) o["unit"] = s.unit;
    if (auto f = name_of(s.format); !f.empty()) o["format"] = f;
    if (!s.choices.empty()) {
        boost::json::array choices;
        for (const auto& c : s.choices) choices.push_back(boost::json::object{{"value", c.value}, {"label", c.label}});
        o["choices"] = choices;
    }
    // A profile's fields are the per_profile rows': derived, not written twice.
    std::span<const Field> shape = s.name == "profiles" ? profile_fields() : s.fields;
    if (!shape.empty()) {
        boost::json::array fields;
        for (const auto& f : shape)
            fields.push_back(boost::json::object{{"name", f.name}, {"type", name_of(f.type)}, {"label", f.label}});
        o["fields"] = fields;
    }
    if (!s.shown_when.always())
        o["shown_when"] = boost::json::object{{"setting", s.shown_when.setting}, {"equals", s.shown_when.equals}};
    if (s.needs_restart) o["needs_restart"] = true;
    return o;
}

}  // namespace pb::settings

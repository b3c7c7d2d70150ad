// A setting described as data: the JSON object a form is drawn from. The
// manifest (tools/manifest.cpp) writes it, the plugin hands its parts to the
// host through pb_setting_desc (ABI 1.1), and a host rebuilds the same
// object from them (docs/host-integration.md, "Drawing a form").
#pragma once
#include <boost/json/object.hpp>

#include <string_view>

#include "settings/settings.hpp"

namespace pb::settings {

std::string_view name_of(Type t);     // "bool", "int", "string", "string_list", "json"
std::string_view name_of(Access a);   // "user", "read_only", "internal"
std::string_view name_of(Section s);  // "general", "account", ...
std::string_view name_of(Format f);   // "" for any, "url", "url_or_empty", "host"

// {"name", "type", "default", "description", "secret", "label", "section",
//  "access", and when they apply "min", "max", "unit", "format", "choices",
//  "fields", "shown_when", "needs_restart"}.
boost::json::object describe(const Spec& s);

}  // namespace pb::settings

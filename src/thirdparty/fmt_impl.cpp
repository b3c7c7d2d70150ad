// spdlog and fmt are header-only here; this file exists so the pch has a
// home even in targets with no other sources.
#include <spdlog/spdlog.h>

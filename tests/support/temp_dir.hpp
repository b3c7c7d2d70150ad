// A fresh directory under the system's temporary folder, for one test.
#pragma once
#include <filesystem>
#include <string>

#include "common/text.hpp"

namespace pbtest {

inline std::string temp_dir(const std::string& tag = "test") {
    auto p = std::filesystem::temp_directory_path() / ("pb-" + tag + "-" + pb::common::text::random_hex(5));
    std::filesystem::create_directories(p);
    return p.string();
}

}  // namespace pbtest

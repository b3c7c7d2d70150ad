#pragma once
#include <fstream>
#include <sstream>
#include <string>

#ifndef PB_FIXTURES_DIR
#error "PB_FIXTURES_DIR must point at tests/fixtures"
#endif

inline std::string fixture(const std::string& rel) {
    std::ifstream f(std::string(PB_FIXTURES_DIR) + "/" + rel, std::ios::binary);
    if (!f) throw std::runtime_error("missing fixture " + rel);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

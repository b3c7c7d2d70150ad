// A Session without a plugin: an in-memory host for its settings, a null
// logger and an io_context the test runs (or not).
#pragma once
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <memory>
#include <span>
#include <string>

#include "log/log.hpp"
#include "session/session.hpp"
#include "settings/migrations.hpp"

// A host's settings storage, in memory, as the ABI describes it: a write
// merges and then tells the plugin (here: the session's store).
struct MemoryHost {
    boost::json::object stored;
    pb::session::Session* session = nullptr;
    bool fail_writes = false;
    pb::common::Status write(std::string_view patch) {
        if (fail_writes) return pb::common::Error(pb::common::Errc::storage, "No space left on device");
        auto v = boost::json::parse(patch);
        for (const auto& [k, x] : v.as_object()) stored[k] = x;
        return session->settings_changed(boost::json::serialize(stored));
    }
};

inline std::unique_ptr<pb::session::Session> open_session(
    MemoryHost& host, boost::asio::io_context& io, const std::string& dir,
    std::span<const pb::settings::Migration> migrations = pb::settings::migrations()) {
    pb::session::Environment env;
    env.io = &io;
    env.log = pb::log::null_logger();
    env.secrets = std::make_shared<pb::log::SecretRegistry>();
    env.data_dir = dir;
    env.write_settings = [&host](std::string_view patch) { return host.write(patch); };
    env.migrations = migrations;
    auto s = pb::session::Session::open(std::move(env));
    EXPECT_TRUE(s) << s.error().message;
    if (!s) return nullptr;
    host.session = s->get();
    return std::move(*s);
}

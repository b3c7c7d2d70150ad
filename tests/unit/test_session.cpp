// The session's secrets: generated keys, restores after a key change, and
// rotations that begin while an older one is unfinished.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/fs.hpp"
#include "common/text.hpp"
#include "session_rig.hpp"
#include "support/temp_dir.hpp"
#include "vault/vault.hpp"

namespace bj = boost::json;
using namespace pb;

namespace {

std::string temp_dir() { return pbtest::temp_dir("session"); }

struct SessionTest : ::testing::Test {
    void SetUp() override {
        session = open_session(host, io, dir);
        ASSERT_TRUE(session);
        session->load("{}");
    }
    boost::asio::io_context io;
    std::string dir = temp_dir();
    MemoryHost host;
    std::unique_ptr<session::Session> session;
};

}  // namespace

TEST_F(SessionTest, AGeneratedSecretIsMadeOnceAndSurvivesAKeyChange) {
    auto first = session->generated_secret("webhook_key", 24);
    ASSERT_TRUE(first) << first.error().message;
    EXPECT_EQ(first->size(), 48u);
    EXPECT_TRUE(vault::Vault::is_sealed(std::string(host.stored.at("webhook_key").as_string()))) << "stored sealed";
    EXPECT_EQ(host.stored.at("webhook_key").as_string().find(*first), std::string::npos);
    auto again = session->generated_secret("webhook_key", 24);
    EXPECT_EQ(*again, *first) << "the stored one, not a new one";
    ASSERT_TRUE(session->rotate_key());
    EXPECT_EQ(*session->generated_secret("webhook_key", 24), *first) << "re-sealed, the same secret";
}

TEST_F(SessionTest, ARestoreAfterAKeyChangeKeepsTheTokenReadable) {
    ASSERT_TRUE(session->store_legacy_token(vault::Secret(std::string("legacy-token-123"))));
    ASSERT_TRUE(session->settings_changed(bj::serialize(host.stored)));
    auto backup = host.stored;  // as the migration keeps it, sealed with today's key
    backup["auth_method"] = "apikey";
    ASSERT_TRUE(session->rotate_key());
    ASSERT_TRUE(session->restore_settings(backup));
    EXPECT_EQ(host.stored.at("auth_method").as_string(), "apikey");
    auto token = session->account_token();
    ASSERT_TRUE(token) << token.error().message;
    EXPECT_EQ(token->str(), "legacy-token-123") << "the backup's value no longer opened: the re-sealed one was kept";
}

TEST_F(SessionTest, ARotationFinishesAnUnfinishedOneBeforeItsOwn) {
    ASSERT_TRUE(session->store_legacy_token(vault::Secret(std::string("tok-abcdef"))));
    auto key_path = common::fs::join(dir, "plexbridge.key");
    // A rotation left unfinished by a crash (its key may be in a leaked backup).
    session.reset();
    {
        auto v = std::move(vault::Vault::open(dir)).value();
        ASSERT_TRUE(v->begin_rotation());
    }
    auto left_behind = *common::fs::read_file(key_path + ".next");
    host.stored["auth_method"] = "apikey";
    session = open_session(host, io, dir);
    session->load(bj::serialize(host.stored));
    ASSERT_TRUE(session->rotate_key());
    EXPECT_NE(*common::fs::read_file(key_path), left_behind) << "a new key, not the one found";
    EXPECT_FALSE(std::filesystem::exists(key_path + ".next"));
    auto token = session->account_token();
    ASSERT_TRUE(token) << token.error().message;
    EXPECT_EQ(token->str(), "tok-abcdef");
}

TEST(VaultOpen, APendingKeyThatCannotBeReadStopsTheVault) {
    auto dir = temp_dir();
    { auto v = std::move(vault::Vault::open(dir)).value(); }
    // Not readable as a file (here: a directory): it may hold the only key
    // some values open with, so it is not set aside silently.
    std::filesystem::create_directory(common::fs::join(dir, "plexbridge.key.next"));
    auto v = vault::Vault::open(dir);
    ASSERT_FALSE(v);
    EXPECT_EQ(v.error().code, common::Errc::storage);
    EXPECT_NE(v.error().message.find("unfinished key change"), std::string::npos) << v.error().message;
}

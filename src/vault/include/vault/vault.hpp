// Secrets at rest. A 256-bit key lives in its own file (0600) in the
// host's data directory, never in the settings. Values are sealed with
// XSalsa20-Poly1305 (crypto_secretbox_easy) under a fresh random nonce and
// stored as "v1:" + base64(nonce || ciphertext), so a later scheme can be
// told apart. Opening detects a wrong key or a tampered value.
//
// Key rotation, in steps that each leave every secret readable if the
// process dies right after them:
//   1. begin_rotation() writes a new key to "<key>.next" (atomically).
//      From then on seal() uses the new key and unseal() tries both.
//   2. The owner re-seals every stored secret (reseal()) and stores them.
//   3. finish_rotation() renames "<key>.next" over "<key>".
// open() loads a "<key>.next" left by an interrupted rotation, so both keys
// open values until the owner finishes it (rotation_pending()).
//
// Thread-safe. Keys sit in sodium_malloc'd memory (guard pages, locked
// where the system allows) and are wiped when released.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace pb::vault {

// A string that wipes itself: for plaintext secrets.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string s) : value_(std::move(s)) {}
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;
    Secret(Secret&& o) noexcept : value_(std::move(o.value_)) { o.wipe(); }
    Secret& operator=(Secret&& o) noexcept;
    ~Secret() { wipe(); }
    const std::string& str() const { return value_; }
    bool empty() const { return value_.empty(); }
    void wipe();

private:
    std::string value_;
};

class Vault {
public:
    // Loads "<data_dir>/plexbridge.key", creating it (0600) on first use, and
    // a pending "<key>.next". Errc::storage when a key file cannot be read
    // or created, or the key has the wrong size.
    [[nodiscard]] static common::Result<std::unique_ptr<Vault>> open(const std::string& data_dir);
    ~Vault();
    Vault(const Vault&) = delete;
    Vault& operator=(const Vault&) = delete;

    // Seals with the newest key.
    std::string seal(std::string_view plaintext) const;
    // The plaintext, or why not: Errc::secret_not_sealed (no "v1:": a plain
    // value from an old configuration), secret_damaged, secret_wrong_key.
    [[nodiscard]] common::Result<Secret> unseal(std::string_view stored) const;
    static bool is_sealed(std::string_view stored);
    // The same secret sealed with the newest key (for rotation).
    [[nodiscard]] common::Result<std::string> reseal(std::string_view stored) const;

    // Errc::internal when one is pending: finish that first.
    [[nodiscard]] common::Status begin_rotation();
    [[nodiscard]] common::Status finish_rotation();
    bool rotation_pending() const;
    // Forgets every key: a new one replaces the key file (and any pending
    // one). Nothing sealed before opens again.
    [[nodiscard]] common::Status reset();

    const std::string& key_path() const { return key_path_; }

    struct Key;  // opaque: a key in guarded memory

private:
    Vault(std::string key_path, std::unique_ptr<Key> key, std::unique_ptr<Key> next);

    std::string key_path_;
    mutable std::mutex mu_;
    std::unique_ptr<Key> key_;
    std::unique_ptr<Key> next_;  // set while a rotation is pending
};

}  // namespace pb::vault

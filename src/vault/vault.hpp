// Secrets at rest. A 256-bit key lives in its own file (0600) in the
// host's data directory, never in the settings. Values are sealed with
// XSalsa20-Poly1305 (crypto_secretbox_easy) under a fresh random nonce and
// stored as "v1:" + base64(nonce || ciphertext), so a later scheme can be
// told apart. Opening detects a wrong key or a tampered value.
//
// Thread-safe. The key sits in sodium_malloc'd memory (guard pages, locked
// where the system allows) and is wiped on destruction and rotation.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

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

enum class OpenError {
    not_sealed = 1,  // no "v1:" prefix: a plaintext left over from an old config
    malformed,       // prefix but not valid base64 / too short
    wrong_key,       // authentication failed: another key, or tampered
};
const char* describe(OpenError e);

class Vault {
public:
    // Loads "<data_dir>/plexbridge.key", creating it (0600) on first use.
    // Nullptr with `error` set when the key file cannot be read or created,
    // or has the wrong size.
    static std::unique_ptr<Vault> open(const std::string& data_dir, std::string* error);
    ~Vault();

    std::string seal(std::string_view plaintext) const;
    // The plaintext, or the reason it could not be opened.
    std::optional<Secret> unseal(std::string_view stored, OpenError* why = nullptr) const;
    static bool is_sealed(std::string_view stored);

    // Rotation, in two steps so a crash loses nothing: prepare() writes the
    // new key to "<key>.next" and returns a vault using it; the caller
    // re-seals and stores every secret with it; commit() renames it over the
    // old key. open() prefers "<key>.next" only through rotate recovery:
    // unseal_any() tries the current key, then a pending next key.
    std::unique_ptr<Vault> prepare_rotation(std::string* error) const;
    bool commit_rotation(std::string* error);

    const std::string& key_path() const { return key_path_; }

private:
    Vault(std::string key_path, unsigned char* key);
    std::string key_path_;
    unsigned char* key_;  // sodium_malloc'd, crypto_secretbox_KEYBYTES
};

}  // namespace pb::vault

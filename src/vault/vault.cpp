#include "vault/vault.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/fs.hpp"
#include "common/text.hpp"

namespace pb::vault {

using common::Errc;
using common::Error;

Secret& Secret::operator=(Secret&& o) noexcept {
    if (this != &o) {
        wipe();
        value_ = std::move(o.value_);
        o.wipe();
    }
    return *this;
}

void Secret::wipe() {
    if (!value_.empty()) sodium_memzero(value_.data(), value_.size());
    value_.clear();
}

// One key in guarded memory; sodium_free wipes it before releasing.
struct Vault::Key {
    unsigned char* bytes = nullptr;
    Key() : bytes(static_cast<unsigned char*>(sodium_malloc(crypto_secretbox_KEYBYTES))) {}
    ~Key() {
        if (bytes) sodium_free(bytes);
    }
    Key(const Key&) = delete;
    Key& operator=(const Key&) = delete;
};

static constexpr std::string_view kPrefix = "v1:";
static constexpr const char* kNextSuffix = ".next";

Vault::Vault(std::string key_path, std::unique_ptr<Key> key, std::unique_ptr<Key> next)
    : key_path_(std::move(key_path)), key_(std::move(key)), next_(std::move(next)) {}

Vault::~Vault() = default;

// Writes a key file, and makes sure its name reached the disk too: values
// are sealed with the key right after, and must never outlive it.
static common::Status write_key(const std::string& path, const unsigned char* key) {
    std::string raw(reinterpret_cast<const char*>(key), crypto_secretbox_KEYBYTES);
    auto st = common::fs::atomic_write(path, raw, 0600);
    sodium_memzero(raw.data(), raw.size());
    if (!st) return st;
    return common::fs::sync_directory(common::fs::parent(path));
}

// Reads a key file: the key, nullptr when absent, or an error.
static common::Result<std::unique_ptr<Vault::Key>> read_key(const std::string& path) {
    auto existing = common::fs::read_file(path);
    if (!existing) {
        if (existing.error().code == Errc::not_found) return std::unique_ptr<Vault::Key>();
        return Error(Errc::storage, "cannot read the key file: " + existing.error().message);
    }
    std::string& raw = *existing;
    if (raw.size() != crypto_secretbox_KEYBYTES) {
        sodium_memzero(raw.data(), raw.size());
        return Error(Errc::secret_damaged,
                     "the key file " + path + " is damaged (wrong size); sign in again after removing it");
    }
    auto key = std::make_unique<Vault::Key>();
    if (key->bytes == nullptr) return Error(Errc::internal, "out of memory for the key");
    std::memcpy(key->bytes, raw.data(), crypto_secretbox_KEYBYTES);
    sodium_memzero(raw.data(), raw.size());
    return key;
}

common::Result<std::unique_ptr<Vault>> Vault::open(const std::string& data_dir) {
    if (!common::text::ensure_sodium()) return Error(Errc::internal, "libsodium could not be initialised");
    std::string path = common::fs::join(data_dir, "plexbridge.key");
    auto key = read_key(path);
    if (!key) return Error(Errc::storage, key.error().message);
    if (!*key) {
        auto fresh = std::make_unique<Key>();
        if (fresh->bytes == nullptr) return Error(Errc::internal, "out of memory for the key");
        crypto_secretbox_keygen(fresh->bytes);
        if (auto st = write_key(path, fresh->bytes); !st)
            return Error(Errc::storage, "cannot create the key file: " + st.error().message);
        *key = std::move(fresh);
    }
    ::chmod(path.c_str(), 0600);  // tighten a key file someone loosened
    // A rotation that did not finish: keep its key, so values already
    // re-sealed with it still open. One of the wrong size cannot have sealed
    // anything (it is written whole, and flushed, before use): set it aside.
    // One that cannot be read may have: refuse to go on without it.
    auto next = read_key(path + kNextSuffix);
    std::unique_ptr<Key> pending;
    if (next && *next) {
        pending = std::move(*next);
        ::chmod((path + kNextSuffix).c_str(), 0600);
    } else if (!next && next.error().code == Errc::secret_damaged) {
        std::rename((path + kNextSuffix).c_str(), (path + kNextSuffix + ".bad").c_str());
    } else if (!next) {
        return Error(Errc::storage, "the new key of an unfinished key change: " + next.error().message);
    }
    return std::unique_ptr<Vault>(new Vault(path, std::move(*key), std::move(pending)));
}

std::string Vault::seal(std::string_view plaintext) const {
    std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(box.data());
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    {
        std::lock_guard lock(mu_);
        const Key& k = next_ ? *next_ : *key_;
        crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES,
                              reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), nonce,
                              k.bytes);
    }
    std::string b64(sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(box.data()), box.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    b64.resize(std::strlen(b64.c_str()));
    return std::string(kPrefix) + b64;
}

bool Vault::is_sealed(std::string_view stored) { return stored.substr(0, kPrefix.size()) == kPrefix; }

common::Result<Secret> Vault::unseal(std::string_view stored) const {
    if (!is_sealed(stored)) return Error(Errc::secret_not_sealed, "the value is not encrypted");
    std::string_view b64 = stored.substr(kPrefix.size());
    std::string bin(b64.size(), '\0');
    size_t bin_len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), b64.data(), b64.size(), nullptr,
                          &bin_len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return Error(Errc::secret_damaged, "the stored value is damaged");
    const auto* nonce = reinterpret_cast<const unsigned char*>(bin.data());
    std::size_t clen = bin_len - crypto_secretbox_NONCEBYTES;
    std::string plain(clen - crypto_secretbox_MACBYTES, '\0');
    auto open_with = [&](const Key& k) {
        return crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                          nonce + crypto_secretbox_NONCEBYTES, clen, nonce, k.bytes) == 0;
    };
    bool opened = false;
    {
        std::lock_guard lock(mu_);
        opened = open_with(*key_) || (next_ && open_with(*next_));
    }
    if (!opened)
        return Error(Errc::secret_wrong_key,
                     "the stored value cannot be decrypted with this installation's key (the key file changed, or "
                     "the value was tampered with)");
    return Secret(std::move(plain));
}

common::Result<std::string> Vault::reseal(std::string_view stored) const {
    auto plain = unseal(stored);
    if (!plain) return plain.error();
    return seal(plain->str());
}

common::Status Vault::begin_rotation() {
    std::lock_guard lock(mu_);
    // One left by a crash may already seal values: finish that one first.
    if (next_) return Error(Errc::internal, "a key change is already in progress");
    auto fresh = std::make_unique<Key>();
    if (fresh->bytes == nullptr) return Error(Errc::internal, "out of memory for the key");
    crypto_secretbox_keygen(fresh->bytes);
    if (auto st = write_key(key_path_ + kNextSuffix, fresh->bytes); !st)
        return Error(Errc::storage, "cannot write the new key: " + st.error().message);
    next_ = std::move(fresh);
    return {};
}

common::Status Vault::finish_rotation() {
    std::lock_guard lock(mu_);
    if (!next_) return Error(Errc::bad_request, "no key rotation is in progress");
    std::string next_path = key_path_ + kNextSuffix;
    if (std::rename(next_path.c_str(), key_path_.c_str()) != 0)
        return Error(Errc::storage, "cannot install the new key: " + std::string(std::strerror(errno)));
    // Installed: from now on only the new key exists on disk.
    key_ = std::move(next_);
    if (auto st = common::fs::sync_directory(common::fs::parent(key_path_)); !st)
        return Error(Errc::storage,
                     "the new key is in use, but its file may not have reached the disk: " + st.error().message);
    return {};
}

common::Status Vault::reset() {
    std::lock_guard lock(mu_);
    auto fresh = std::make_unique<Key>();
    if (fresh->bytes == nullptr) return Error(Errc::internal, "out of memory for the key");
    crypto_secretbox_keygen(fresh->bytes);
    if (auto st = write_key(key_path_, fresh->bytes); !st)
        return Error(Errc::storage, "cannot write the new key: " + st.error().message);
    key_ = std::move(fresh);
    next_.reset();
    std::remove((key_path_ + kNextSuffix).c_str());
    std::remove((key_path_ + kNextSuffix + ".bad").c_str());
    return {};
}

bool Vault::rotation_pending() const {
    std::lock_guard lock(mu_);
    return next_ != nullptr;
}

}  // namespace pb::vault

#include "vault/vault.hpp"

#include <sodium.h>
#include <sys/stat.h>

#include <cstring>

#include "common/fs_util.hpp"

namespace pb::vault {

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

const char* describe(OpenError e) {
    switch (e) {
        case OpenError::not_sealed: return "the value is not encrypted";
        case OpenError::malformed: return "the stored value is damaged";
        case OpenError::wrong_key:
            return "the stored value cannot be decrypted with this installation's key "
                   "(the key file changed, or the value was tampered with)";
    }
    return "unknown";
}

static constexpr std::string_view kPrefix = "v1:";

static bool ensure_sodium() {
    static const bool ok = sodium_init() >= 0;  // 0: initialised now, 1: already
    return ok;
}

Vault::Vault(std::string key_path, unsigned char* key) : key_path_(std::move(key_path)), key_(key) {}

Vault::~Vault() {
    if (key_) sodium_free(key_);  // sodium_free wipes before releasing
}

static unsigned char* new_key_buffer() {
    auto* k = static_cast<unsigned char*>(sodium_malloc(crypto_secretbox_KEYBYTES));
    return k;
}

std::unique_ptr<Vault> Vault::open(const std::string& data_dir, std::string* error) {
    if (!ensure_sodium()) {
        if (error) *error = "libsodium could not be initialised";
        return nullptr;
    }
    std::string path = fs::join(data_dir, "plexbridge.key");
    std::string read_error;
    auto existing = fs::read_file(path, &read_error);
    unsigned char* key = new_key_buffer();
    if (key == nullptr) {
        if (error) *error = "out of memory for the key";
        return nullptr;
    }
    if (existing) {
        if (existing->size() != crypto_secretbox_KEYBYTES) {
            sodium_memzero(existing->data(), existing->size());
            sodium_free(key);
            if (error) *error = "the key file " + path + " is damaged (wrong size); sign in again after removing it";
            return nullptr;
        }
        std::memcpy(key, existing->data(), crypto_secretbox_KEYBYTES);
        sodium_memzero(existing->data(), existing->size());
    } else if (!read_error.empty()) {
        sodium_free(key);
        if (error) *error = "cannot read the key file: " + read_error;
        return nullptr;
    } else {
        crypto_secretbox_keygen(key);
        std::string raw(reinterpret_cast<char*>(key), crypto_secretbox_KEYBYTES);
        std::string werr;
        bool ok = fs::atomic_write(path, raw, &werr, 0600);
        sodium_memzero(raw.data(), raw.size());
        if (!ok) {
            sodium_free(key);
            if (error) *error = "cannot create the key file: " + werr;
            return nullptr;
        }
    }
    ::chmod(path.c_str(), 0600);  // tighten a key file someone loosened
    return std::unique_ptr<Vault>(new Vault(path, key));
}

std::string Vault::seal(std::string_view plaintext) const {
    std::string box(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plaintext.size(), '\0');
    auto* nonce = reinterpret_cast<unsigned char*>(box.data());
    randombytes_buf(nonce, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(nonce + crypto_secretbox_NONCEBYTES, reinterpret_cast<const unsigned char*>(plaintext.data()),
                          plaintext.size(), nonce, key_);
    std::string b64(sodium_base64_ENCODED_LEN(box.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(box.data()), box.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    b64.resize(std::strlen(b64.c_str()));
    return std::string(kPrefix) + b64;
}

bool Vault::is_sealed(std::string_view stored) { return stored.substr(0, kPrefix.size()) == kPrefix; }

std::optional<Secret> Vault::unseal(std::string_view stored, OpenError* why) const {
    auto set = [&](OpenError e) {
        if (why) *why = e;
        return std::nullopt;
    };
    if (!is_sealed(stored)) return set(OpenError::not_sealed);
    std::string_view b64 = stored.substr(kPrefix.size());
    std::string bin(b64.size(), '\0');
    size_t bin_len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), b64.data(), b64.size(), nullptr,
                          &bin_len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return set(OpenError::malformed);
    const auto* nonce = reinterpret_cast<const unsigned char*>(bin.data());
    std::size_t clen = bin_len - crypto_secretbox_NONCEBYTES;
    std::string plain(clen - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()), nonce + crypto_secretbox_NONCEBYTES,
                                   clen, nonce, key_) != 0)
        return set(OpenError::wrong_key);
    return Secret(std::move(plain));
}

std::unique_ptr<Vault> Vault::prepare_rotation(std::string* error) const {
    unsigned char* key = new_key_buffer();
    if (key == nullptr) {
        if (error) *error = "out of memory for the key";
        return nullptr;
    }
    crypto_secretbox_keygen(key);
    std::string raw(reinterpret_cast<char*>(key), crypto_secretbox_KEYBYTES);
    std::string next = key_path_ + ".next";
    bool ok = fs::atomic_write(next, raw, error, 0600);
    sodium_memzero(raw.data(), raw.size());
    if (!ok) {
        sodium_free(key);
        return nullptr;
    }
    return std::unique_ptr<Vault>(new Vault(next, key));
}

bool Vault::commit_rotation(std::string* error) {
    // `this` is the vault from prepare_rotation(): its file becomes the key.
    std::string final_path = key_path_.substr(0, key_path_.size() - 5);  // strip ".next"
    if (std::rename(key_path_.c_str(), final_path.c_str()) != 0) {
        if (error) *error = "cannot install the new key: " + std::string(std::strerror(errno));
        return false;
    }
    key_path_ = final_path;
    return true;
}

}  // namespace pb::vault

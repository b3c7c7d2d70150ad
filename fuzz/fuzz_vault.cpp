// The vault's decoders (vault/vault.hpp): a stored value ("v1:" + base64 of
// nonce and ciphertext) as unseal() reads it from the settings, and the key
// files ("plexbridge.key", and "plexbridge.key.next" left by an interrupted
// rotation) as Vault::open() reads them from the data directory.
//
// Input: the first byte picks what the rest is (byte % 4: a stored value; a
// plaintext to seal and open again; the key file; the pending key file).
// The vault lives in a private directory under $TMPDIR (or /tmp), made at
// start with a fixed key and removed at exit.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "fuzz_common.hpp"
#include "vault/vault.hpp"

using namespace pb;
using common::Errc;

namespace {

std::string g_dir;        // the vault opened once, with a fixed key
std::string g_files_dir;  // where key files are written for open()
std::unique_ptr<vault::Vault> g_vault;

void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void remove_dirs() {
    std::error_code ec;
    if (!g_dir.empty()) std::filesystem::remove_all(g_dir, ec);
    if (!g_files_dir.empty()) std::filesystem::remove_all(g_files_dir, ec);
}

std::string make_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/pb-fuzz-vault.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
        std::perror("mkdtemp");
        std::abort();
    }
    return templ;
}

void check_round_trip(const vault::Vault& v, std::string_view plain) {
    std::string sealed = v.seal(plain);
    PB_FUZZ_CHECK(vault::Vault::is_sealed(sealed));
    auto opened = v.unseal(sealed);
    PB_FUZZ_CHECK(opened && opened->str() == plain);
    auto resealed = v.reseal(sealed);
    PB_FUZZ_CHECK(resealed);
    auto again = v.unseal(*resealed);
    PB_FUZZ_CHECK(again && again->str() == plain);
}

void stored_value(std::string_view stored) {
    auto r = g_vault->unseal(stored);
    if (!vault::Vault::is_sealed(stored)) {
        PB_FUZZ_CHECK(!r && r.error().code == Errc::secret_not_sealed);
        return;
    }
    if (!r) {
        PB_FUZZ_CHECK(r.error().code == Errc::secret_damaged || r.error().code == Errc::secret_wrong_key);
        return;
    }
    check_round_trip(*g_vault, r->str());
}

void key_file(std::string_view bytes, bool pending) {
    const std::string key = g_files_dir + "/plexbridge.key";
    std::error_code ec;
    for (const char* suffix : {"", ".next", ".next.bad", ".tmp"}) std::filesystem::remove(key + suffix, ec);
    if (pending) {
        write_file(key, std::string(32, 'k'));
        write_file(key + ".next", bytes);
    } else {
        write_file(key, bytes);
    }
    auto v = vault::Vault::open(g_files_dir);
    if (!v) {
        PB_FUZZ_CHECK(v.error().code == Errc::storage);
        PB_FUZZ_CHECK(!pending && bytes.size() != 32);  // only a damaged key file stops it
        return;
    }
    PB_FUZZ_CHECK(bytes.size() == 32 || pending);
    // A pending key of the wrong size cannot have sealed anything: set aside.
    PB_FUZZ_CHECK((*v)->rotation_pending() == (pending && bytes.size() == 32));
    check_round_trip(**v, "a token");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    g_dir = make_dir();
    g_files_dir = make_dir();
    std::atexit(remove_dirs);
    write_file(g_dir + "/plexbridge.key", std::string(32, '\x42'));  // fixed: runs are repeatable
    auto v = vault::Vault::open(g_dir);
    if (!v) {
        std::fprintf(stderr, "cannot open the vault in %s: %s\n", g_dir.c_str(), v.error().message.c_str());
        std::abort();
    }
    g_vault = std::move(*v);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    auto [selector, rest] = fuzz::split(data, size);
    switch (selector % 4) {
        case 0: stored_value(rest); break;
        case 1: check_round_trip(*g_vault, rest); break;
        case 2: key_file(rest, false); break;
        case 3: key_file(rest, true); break;
    }
    return 0;
}

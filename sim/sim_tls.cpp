#include "sim_tls.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace pb::sim {

namespace {

struct KeyDel {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDel {
    void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDel>;
using Cert = std::unique_ptr<X509, CertDel>;

Key new_key() {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    if (!k) throw std::runtime_error("cannot generate a key");
    return Key(k);
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (!ext) throw std::runtime_error("bad certificate extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, bool ca,
               const std::string& san, long serial) {
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 30);
    X509_set_pubkey(cert.get(), key);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509* iss = issuer ? issuer : cert.get();
    if (ca) {
        add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(cert.get(), iss, NID_ext_key_usage, "serverAuth");
        if (!san.empty()) add_ext(cert.get(), iss, NID_subject_alt_name, san);
    }
    add_ext(cert.get(), iss, NID_subject_key_identifier, "hash");
    X509_sign(cert.get(), issuer_key, EVP_sha256());
    return cert;
}

std::string pem(X509* c) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, c);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

std::string pem(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long n = BIO_get_mem_data(b, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return out;
}

}  // namespace

TestCa make_test_ca(const std::vector<std::string>& dns_names) {
    Key ca_key = new_key();
    Cert ca = make_cert(ca_key.get(), "plexsim test CA", nullptr, ca_key.get(), true, "", 1);
    Key key = new_key();
    std::string san = "IP:127.0.0.1,IP:::1,DNS:localhost";
    for (const auto& n : dns_names) san += ",DNS:" + n;
    Cert leaf = make_cert(key.get(), "plexsim", ca.get(), ca_key.get(), false, san, 2);
    return TestCa{pem(ca.get()), pem(leaf.get()), pem(key.get())};
}

TestCa make_untrusted_cert() {
    Key key = new_key();
    Cert self = make_cert(key.get(), "untrusted", nullptr, key.get(), false, "IP:127.0.0.1,IP:::1,DNS:localhost", 3);
    std::string p = pem(self.get());
    return TestCa{p, p, pem(key.get())};
}

std::shared_ptr<boost::asio::ssl::context> server_context(const TestCa& ca) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3);
    ctx->use_certificate_chain(boost::asio::buffer(ca.server_cert_pem));
    ctx->use_private_key(boost::asio::buffer(ca.server_key_pem), ssl::context::pem);
    return ctx;
}

}  // namespace pb::sim

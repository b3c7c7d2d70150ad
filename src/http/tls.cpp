#include "tls.hpp"

#include <openssl/x509.h>

namespace pb::http {

common::Result<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(const std::string& extra_ca_file) {
    namespace ssl = boost::asio::ssl;
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    boost::system::error_code ec;
    ctx->set_default_verify_paths(ec);  // a missing system store is not fatal: the extra CA may suffice
    if (!extra_ca_file.empty()) {
        ctx->load_verify_file(extra_ca_file, ec);
        if (ec)
            return common::Error(common::Errc::tls, "cannot load the CA file " + extra_ca_file + ": " + ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

std::string describe_verify_error(long code) { return X509_verify_cert_error_string(code); }

}  // namespace pb::http

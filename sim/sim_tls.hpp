// A throwaway certificate authority for the simulator: a CA and a server
// certificate whose names cover 127.0.0.1, ::1, localhost and
// "*.<hash>.plex.direct" for each simulated server, so the plugin's TLS
// verification is exercised for real (trust the CA via its PEM file).
#pragma once
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>
#include <vector>

namespace pb::sim {

struct TestCa {
    std::string ca_cert_pem;
    std::string server_cert_pem;
    std::string server_key_pem;
};

// `dns_names` are added as subjectAltName DNS entries beside the defaults.
TestCa make_test_ca(const std::vector<std::string>& dns_names);
// A self-signed certificate no client trusts (for the bad-certificate fault).
TestCa make_untrusted_cert();

std::shared_ptr<boost::asio::ssl::context> server_context(const TestCa& ca);

}  // namespace pb::sim

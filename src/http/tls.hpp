// TLS settings for outgoing connections: the system trust store, plus an
// optional extra CA bundle (a self-signed Plex server, or the simulator's
// test CA), peer verification on and host names checked (wildcards such
// as *.<hash>.plex.direct included).
#pragma once
#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

#include "common/error.hpp"

namespace pb::http {

// Errc::tls, saying why, when the extra CA file cannot be loaded.
common::Result<std::shared_ptr<boost::asio::ssl::context>> make_client_tls_context(const std::string& extra_ca_file);

// Human text for an X509 verification failure code.
std::string describe_verify_error(long code);

}  // namespace pb::http

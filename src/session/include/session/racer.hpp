// Probing a server's connections and choosing one.
//
// Every connection of every server is probed at once on the client's io
// thread (`GET {uri}/identity`, no token: it needs none), each with its own
// deadline. A probe succeeds only when the answer names the expected
// machineIdentifier: another server answering on that address is a failure
// (unless RaceOptions::accept says any server will do).
//
// Policy (lower rank wins, then lower latency):
//   rank 0 local https, 1 local http, 2 remote https, 3 remote http,
//   4 relay https, 5 relay http.
// A server's choice is final as soon as a connection of the best rank still
// possible has answered (no better-ranked probe is pending), so selection
// never waits for dead connections when a better one is alive. When a
// worse-ranked connection answers first, the better-ranked ones still
// probing get RaceOptions::grace more (a LAN address answers within
// milliseconds or not at all), then the best that answered is chosen:
// a silent LAN address never costs the whole deadline. The grace is only for
// better-ranked addresses where something accepted the TCP connection (a
// slow server, a TLS handshake on a NAS); one that has not even done that
// RaceOptions::connect_wait after the race began is unreachable from here
// (a LAN address seen from outside its network) and not waited for. A better rank that
// answers later becomes `best` in the progress and complete reports (not
// in the decided one, which the caller already acted on).
//
// *.plex.direct names that do not resolve (a router's DNS-rebinding
// protection) are retried against the IP the name encodes
// ("1-2-3-4.<hash>.plex.direct" -> 1.2.3.4), still verifying TLS against the
// plex.direct name.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/client.hpp"
#include "plexapi/headers.hpp"
#include "plexapi/models.hpp"

namespace pb::session {

struct ProbeOutcome {
    plexapi::Connection connection;
    int rank = 0;
    bool done = false;
    bool available = false;
    int64_t latency_ms = -1;
    std::string error;            // why it failed, in words
    std::string reason;           // why it was or was not chosen
    std::string connect_address;  // raw IP used when the name did not resolve
    bool connected = false;       // the TCP connection was up (while probing)
};

struct ServerReport {
    plexapi::Resource server;
    std::vector<ProbeOutcome> outcomes;
    std::optional<std::size_t> best;  // index into outcomes
    std::chrono::milliseconds decided_after{0};
};

struct RaceOptions {
    std::chrono::milliseconds timeout{3000};
    // How long better-ranked probes may still answer after a worse-ranked
    // one did (docs/servers.md, "How long a better address is waited for").
    std::chrono::milliseconds grace{250};
    // How long after the start a better-ranked address may take to accept
    // the TCP connection and still get the grace (docs/servers.md).
    std::chrono::milliseconds connect_wait{50};
    plexapi::ClientIdentity identity;
    http::TlsVerify verify = http::TlsVerify::verify;
    // 0: probe everything at once. >0 only for the benchmark's baseline of
    // what typical integrations do (batches of five).
    std::size_t max_in_flight = 0;
    // Whose answer counts: the server's own (its machineIdentifier), or any
    // Plex Media Server (the legacy address typed by hand, identity unknown).
    enum class Accept : uint8_t { same_server = 1, any_server };
    Accept accept = Accept::same_server;
};

// The options every probe of the user's servers uses: the configured
// deadline and TLS verification, and our client identity.
RaceOptions race_options(std::chrono::milliseconds timeout, http::TlsVerify verify, plexapi::ClientIdentity identity);

int rank_of(const plexapi::Connection& c);
// "1.2.3.4" from "https://1-2-3-4.<hash>.plex.direct:32400"; empty otherwise.
std::string plex_direct_ip(const std::string& uri);

using Decided = std::function<void(const std::vector<ServerReport>&)>;

// Probes every connection. `on_decided` fires once every server has a
// choice (or none is possible): outcomes still probing then have done ==
// false. `on_progress` fires after each later probe's answer, until
// `on_complete`, once every probe finished. Call on the client's io thread;
// the callbacks run there too; any may be empty.
void race(std::shared_ptr<http::Client> client, std::vector<plexapi::Resource> servers, RaceOptions options,
          Decided on_decided, Decided on_complete, Decided on_progress = {});

}  // namespace pb::session

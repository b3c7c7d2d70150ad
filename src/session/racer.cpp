#include "session/racer.hpp"

#include <algorithm>
#include <deque>

#include "common/text.hpp"
#include "http/url.hpp"

namespace pb::session {

using Clock = std::chrono::steady_clock;

RaceOptions race_options(std::chrono::milliseconds timeout, http::TlsVerify verify, plexapi::ClientIdentity identity) {
    RaceOptions o;
    o.timeout = timeout;
    o.verify = verify;
    o.identity = std::move(identity);
    return o;
}

int rank_of(const plexapi::Connection& c) {
    int tier = c.relay ? 2 : (c.local ? 0 : 1);
    bool https = common::text::starts_with(common::text::to_lower(c.uri), "https://");
    return tier * 2 + (https ? 0 : 1);
}

static const char* rank_name(int rank) {
    static const char* names[] = {"local https", "local http",  "remote https",
                                  "remote http", "relay https", "relay http"};
    return rank >= 0 && rank < 6 ? names[rank] : "other";
}

std::string plex_direct_ip(const std::string& uri) {
    auto u = http::parse_url(uri);
    if (!u) return {};
    const std::string suffix = ".plex.direct";
    if (u->host.size() <= suffix.size() || u->host.compare(u->host.size() - suffix.size(), suffix.size(), suffix) != 0)
        return {};
    std::string label = u->host.substr(0, u->host.find('.'));
    // IPv4 is dashed (1-2-3-4); IPv6 too (2001-db8--1), with '-' for ':'.
    std::string ip = label;
    bool v4 = std::count(label.begin(), label.end(), '-') == 3 && label.find("--") == std::string::npos &&
              label.find_first_not_of("0123456789-") == std::string::npos;
    std::replace(ip.begin(), ip.end(), '-', v4 ? '.' : ':');
    return ip;
}

namespace {

class Race : public std::enable_shared_from_this<Race> {
public:
    Race(std::shared_ptr<http::Client> c, std::vector<plexapi::Resource> servers, RaceOptions o, Decided d,
         Decided done, Decided progress)
        : client_(std::move(c)),
          options_(std::move(o)),
          on_decided_(std::move(d)),
          on_complete_(std::move(done)),
          on_progress_(std::move(progress)) {
        for (auto& s : servers) {
            Rep r;
            for (const auto& c2 : s.connections) {
                ProbeOutcome p;
                p.connection = c2;
                p.rank = rank_of(c2);
                r.outcomes.push_back(std::move(p));
            }
            r.server = std::move(s);
            reports_.push_back(std::move(r));
        }
    }

    void start() {
        start_ = Clock::now();
        for (std::size_t s = 0; s < reports_.size(); ++s)
            for (std::size_t i = 0; i < reports_[s].outcomes.size(); ++i) queue_.emplace_back(s, i);
        pending_ = queue_.size();
        if (pending_ == 0) return finish_all();
        pump();
    }

private:
    void pump() {
        std::size_t limit = options_.max_in_flight == 0 ? SIZE_MAX : options_.max_in_flight;
        while (!queue_.empty() && in_flight_ < limit) {
            auto [s, i] = queue_.front();
            queue_.pop_front();
            ++in_flight_;
            probe(s, i, "", Clock::now(), options_.timeout);
        }
    }

    void probe(std::size_t s, std::size_t i, std::string connect_address, Clock::time_point began,
               std::chrono::milliseconds budget) {
        auto& o = reports_[s].outcomes[i];
        http::Request req;
        req.url = http::join_url(o.connection.uri, "/identity");
        req.timeout = budget;
        req.body_limit = 64 * 1024;
        req.verify = options_.verify;
        req.connect_address = connect_address;
        req.peer = common::Peer::pms;
        plexapi::add_plex_headers(req.headers, options_.identity, plexapi::Accept::json);
        // No token: /identity needs none, and a probe must not hand the
        // user's token to whatever answers on an advertised address.
        auto self = shared_from_this();
        req.on_connected = [self, s, i] { self->reports_[s].outcomes[i].connected = true; };
        client_->async_request(req, [self, s, i, began, connect_address](http::Result r) {
            self->on_probe(s, i, began, connect_address, std::move(r));
        });
    }

    void on_probe(std::size_t s, std::size_t i, Clock::time_point began, const std::string& used_address,
                  http::Result r) {
        auto& rep = reports_[s];
        auto& o = rep.outcomes[i];
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began);
        if (!r && r.error().code == common::Errc::resolve && used_address.empty()) {
            std::string ip = plex_direct_ip(o.connection.uri);
            if (ip.empty()) ip = o.connection.address;
            auto left = options_.timeout - elapsed;
            if (!ip.empty() && left.count() > 0) {
                o.connect_address = ip;
                return probe(s, i, ip, began, left);
            }
        }
        o.done = true;
        --pending_;
        --in_flight_;
        if (!r) {
            o.error = r.error().message;
        } else if (r->status != 200) {
            o.error = common::answered_http("", r->status) + " to /identity";
        } else {
            auto id = plexapi::parse_identity(r->body);
            if (!id) {
                o.error = "answered /identity with something unreadable (" + id.error().message + ")";
            } else if (options_.accept == RaceOptions::Accept::same_server &&
                       id->machine_identifier != rep.server.client_identifier) {
                o.error = "a different server (" + id->machine_identifier + ") answers at this address";
            } else {
                o.available = true;
                o.latency_ms = elapsed.count();
            }
        }
        decide(s);
        // A better rank that answers after the grace still becomes the
        // listing's best (what the page selects, and a later listing
        // reuses); what on_decided reported stays as it was.
        if (rep.decided && o.available && rep.best && o.rank < rep.outcomes[*rep.best].rank) rep.best = i;
        pump();
        bool was_decided = decided_all_;
        announce_if_decided();
        if (pending_ == 0) return finish_all();
        if (was_decided && on_progress_) on_progress_(snapshot());
    }

    void announce_if_decided() {
        if (!decided_all_ && std::all_of(reports_.begin(), reports_.end(), [](const Rep& x) { return x.decided; })) {
            decided_all_ = true;
            if (on_decided_) on_decided_(snapshot());
        }
    }

    // The grace of server s is over: its best answer so far is the choice.
    void grace_over(std::size_t s) {
        if (finished_) return;
        reports_[s].grace_over = true;
        decide(s);
        announce_if_decided();
    }

    void decide(std::size_t s) {
        auto& rep = reports_[s];
        if (rep.decided) return;
        int best_pending = INT32_MAX;
        for (const auto& o : rep.outcomes)
            if (!o.done) best_pending = std::min(best_pending, o.rank);
        std::optional<std::size_t> best;
        for (std::size_t i = 0; i < rep.outcomes.size(); ++i) {
            const auto& o = rep.outcomes[i];
            if (!o.available) continue;
            if (!best || o.rank < rep.outcomes[*best].rank ||
                (o.rank == rep.outcomes[*best].rank && o.latency_ms < rep.outcomes[*best].latency_ms))
                best = i;
        }
        bool none_left = best_pending == INT32_MAX;
        bool better_pending = best && rep.outcomes[*best].rank > best_pending;
        if (better_pending && !rep.grace_over) {
            // Something answered, something better may still: wait a little,
            // for a better address that something listens on, or that may
            // still connect (the race is younger than connect_wait).
            auto age = Clock::now() - start_;
            bool young = age < options_.connect_wait;
            bool listening = std::any_of(rep.outcomes.begin(), rep.outcomes.end(), [&](const ProbeOutcome& o) {
                return !o.done && o.connected && o.rank < rep.outcomes[*best].rank;
            });
            if (listening || young) {
                auto self = shared_from_this();
                if (!rep.grace_started) {
                    rep.grace_started = true;
                    client_->after(options_.grace, [self, s] { self->grace_over(s); });
                }
                // Look again when connect_wait is over: by then an address
                // that has not connected is not waited for.
                if (young && !listening && !rep.connect_check) {
                    rep.connect_check = true;
                    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(options_.connect_wait - age) +
                                std::chrono::milliseconds(1);
                    client_->after(left, [self, s] {
                        if (self->finished_) return;
                        self->decide(s);
                        self->announce_if_decided();
                    });
                }
                return;
            }
        }
        if (best || none_left) {
            rep.decided = true;
            rep.best = best;
            rep.decided_after = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
        }
    }

    std::vector<ServerReport> snapshot() {
        std::vector<ServerReport> out;
        for (auto& rep : reports_) {
            ServerReport r{rep.server, rep.outcomes, rep.best, rep.decided_after};
            for (std::size_t i = 0; i < r.outcomes.size(); ++i) {
                auto& o = r.outcomes[i];
                if (r.best && *r.best == i) {
                    o.reason = std::string("chosen: ") + rank_name(o.rank) + ", answered in " +
                               std::to_string(o.latency_ms) + " ms";
                } else if (!o.done && r.best && o.rank < r.outcomes[*r.best].rank && !o.connected) {
                    o.reason = "still probing: it ranks higher, but did not accept a connection within " +
                               std::to_string(options_.connect_wait.count()) +
                               " ms (unreachable from here, as a LAN address is from outside its network)";
                } else if (!o.done && r.best && o.rank < r.outcomes[*r.best].rank) {
                    o.reason = "still probing: it ranks higher, but did not answer within " +
                               std::to_string(options_.grace.count()) + " ms of the chosen connection";
                } else if (!o.done) {
                    o.reason = r.best ? "not needed: a better connection already answered" : "still probing";
                } else if (!o.available) {
                    o.reason = "unavailable: " + o.error;
                } else if (r.best) {
                    const auto& b = r.outcomes[*r.best];
                    o.reason = o.rank > b.rank ? std::string("not chosen: ") + rank_name(o.rank) + " ranks below " +
                                                     rank_name(b.rank)
                                               : "not chosen: slower than the chosen connection";
                }
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    void finish_all() {
        finished_ = true;
        for (std::size_t s = 0; s < reports_.size(); ++s) {
            reports_[s].grace_over = true;  // nothing is pending any more
            decide(s);
        }
        if (!decided_all_) {
            decided_all_ = true;
            if (on_decided_) on_decided_(snapshot());
        }
        if (on_complete_) on_complete_(snapshot());
    }

    std::shared_ptr<http::Client> client_;
    RaceOptions options_;
    Decided on_decided_, on_complete_, on_progress_;
    struct Rep : ServerReport {
        bool decided = false;
        bool grace_started = false;
        bool grace_over = false;
        bool connect_check = false;  // a look at connect_wait's end is scheduled
    };
    std::vector<Rep> reports_;
    std::deque<std::pair<std::size_t, std::size_t>> queue_;
    std::size_t pending_ = 0;
    std::size_t in_flight_ = 0;
    bool decided_all_ = false;
    bool finished_ = false;
    Clock::time_point start_;
};

}  // namespace

void race(std::shared_ptr<http::Client> client, std::vector<plexapi::Resource> servers, RaceOptions options,
          Decided on_decided, Decided on_complete, Decided on_progress) {
    // Keep only servers; owned first, shared after, order otherwise kept.
    std::stable_partition(servers.begin(), servers.end(), [](const plexapi::Resource& r) { return r.owned; });
    auto r = std::make_shared<Race>(std::move(client), std::move(servers), std::move(options), std::move(on_decided),
                                    std::move(on_complete), std::move(on_progress));
    r->start();
}

}  // namespace pb::session

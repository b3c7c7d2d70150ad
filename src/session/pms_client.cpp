#include "session/pms_client.hpp"

#include "http/url.hpp"
#include "session/racer.hpp"
#include "session/session.hpp"

namespace pb::session {

using common::Errc;
using common::Error;

Error PmsClient::status_error(int status) {
    Errc code = status == 401   ? Errc::token_rejected
                : status == 403 ? Errc::forbidden
                : status == 404 ? Errc::not_found
                : status >= 500 ? Errc::bad_answer
                                : Errc::http_status;
    return Error(code, common::answered_http(common::peer_name(common::Peer::pms), status), common::Peer::pms, status);
}

std::optional<Error> PmsClient::failure(const http::Result& r) {
    if (!r) return r.error();
    if (r->status >= 200 && r->status < 300) return std::nullopt;
    return status_error(r->status);
}

bool PmsClient::unreachable_here(const http::Result& r) {
    if (r) return false;
    switch (r.error().code) {
        case Errc::refused:
        case Errc::connect_timed_out:
        case Errc::unreachable:
        case Errc::resolve:
        case Errc::tls: return true;
        default: return false;
    }
}

bool PmsClient::stalled(const http::Result& r) {
    return !r && (r.error().code == Errc::timed_out || r.error().code == Errc::reset);
}

void PmsClient::still_there(const std::string& base, std::function<void(bool)> done) {
    auto s = session_.settings().snapshot();
    if (s->server_machine_id.empty()) return done(true);  // nothing to compare with, nowhere to go
    plexapi::Resource server;
    server.client_identifier = s->server_machine_id;
    plexapi::Connection here;
    here.uri = base;
    server.connections = {here};
    race(session_.client(), {server}, session_.race_options(), {},
         [done](const std::vector<ServerReport>& reps) { done(!reps.empty() && reps[0].best.has_value()); });
}

void PmsClient::request(PmsRequest req, Callback cb) {
    std::string base = session_.server_url();
    if (base.empty()) return cb(Error(Errc::no_server, "no Plex Media Server is selected yet"), "");
    send(base, std::move(req), std::move(cb), Failover::allowed);
}

void PmsClient::request_at(const std::string& base_url, PmsRequest req, Callback cb) {
    send(base_url, std::move(req), std::move(cb), Failover::never);
}

void PmsClient::send(const std::string& base, PmsRequest req, Callback cb, Failover failover) {
    auto token = session_.server_token();
    if (!token) return cb(token.error(), base);
    auto s = session_.settings().snapshot();
    http::Request r;
    r.method = req.method;
    r.url = http::join_url(base, req.path);
    r.body = req.body;
    r.headers = req.headers;
    r.token = token->str();
    // Connecting is quick or it is not happening; answering may take a
    // NAS with a large library a minute.
    r.connect_timeout = std::chrono::milliseconds(s->connect_timeout_ms);
    auto read = std::chrono::milliseconds(s->read_timeout_ms);
    r.timeout = req.patience == Patience::slow ? read : std::min(read, kQuickAnswer);
    r.timeout = std::max(r.timeout, r.connect_timeout + std::chrono::milliseconds(1));
    r.verify = Session::tls_verify(*s);
    r.peer = common::Peer::pms;
    plexapi::add_plex_headers(r.headers, session_.identity(), plexapi::Accept::json);
    auto self = shared_from_this();
    // The final answer. Nothing reachable at the address: fail over once
    // (unless the user pinned it). Connected, then a stall or a cut: only if
    // the address no longer answers /identity as this server; a server that
    // is busy is not gone. Anything else goes to the caller.
    auto conclude = [self, req, cb, failover, base](http::Result res) mutable {
        bool may = failover == Failover::allowed && self->session_.settings().snapshot()->manual_server_url.empty();
        auto switch_or_answer = [self, req, cb, base](http::Result res) mutable {
            self->fail_over([self, req, cb, res, base](Switched switched) mutable {
                if (switched == Switched::no) return cb(std::move(res), base);
                std::string now = self->session_.server_url();
                self->send(now, std::move(req), std::move(cb), Failover::never);
            });
        };
        if (may && unreachable_here(res)) return switch_or_answer(std::move(res));
        if (may && stalled(res))
            return self->still_there(base, [cb, base, res, switch_or_answer](bool alive) mutable {
                if (alive) return cb(std::move(res), base);
                switch_or_answer(std::move(res));
            });
        cb(std::move(res), base);
    };
    // A plex.direct name blocked by DNS-rebinding protection: go to the IP
    // it encodes, keep verifying against the name.
    auto attempt = std::make_shared<http::Request>(r);
    session_.client()->async_request(r, [self, attempt, conclude, req, cb, base, failover](http::Result res) mutable {
        if (res && res->status == 401 && req.renewals_left > 0) {
            --req.renewals_left;
            return self->session_.renew_server_token(
                [self, req, cb, failover, res, conclude, base](bool renewed) mutable {
                    if (!renewed) return conclude(std::move(res));
                    std::string to = failover == Failover::allowed ? self->session_.server_url() : base;
                    self->send(to, std::move(req), std::move(cb), failover);
                });
        }
        if (auto wait = res && req.waits_left > 0 ? http::polite_wait(*res) : std::nullopt) {
            --req.waits_left;
            return self->session_.client()->after(*wait, [self, base, req, cb, failover]() mutable {
                self->send(base, std::move(req), std::move(cb), failover);
            });
        }
        if (!res && res.error().code == Errc::resolve) {
            std::string ip = plex_direct_ip(attempt->url);
            if (!ip.empty()) {
                attempt->connect_address = ip;
                self->session_.client()->async_request(*attempt, conclude);
                return;
            }
        }
        conclude(std::move(res));
    });
}

void PmsClient::fail_over(std::function<void(Switched)> done) {
    waiting_.push_back(std::move(done));
    if (failing_over_) return;  // one re-race serves every request waiting
    failing_over_ = true;
    auto s = session_.settings().snapshot();
    if (s->legacy() || s->server_machine_id.empty()) return finish_failover(Switched::no);
    plexapi::Resource server;
    server.client_identifier = s->server_machine_id;
    server.name = s->server_name;
    server.owned = true;
    server.connections = to_plexapi(s->server_connections);
    RaceOptions opts = session_.race_options();
    auto self = shared_from_this();
    // The addresses plex.tv gave are new: store them with the winner.
    enum class Addresses : uint8_t { known = 1, new_from_plextv };
    auto adopt = [self](const ServerReport& rep, Addresses addresses) {
        const auto& best = rep.outcomes[*rep.best];
        auto old = self->session_.server_url();
        if (auto st = self->session_.adopt_connection(
                best.connection, addresses == Addresses::new_from_plextv ? &rep.server.connections : nullptr);
            !st)
            self->session_.log().error("could not store the new server address: {}", st.error().message);
        self->failovers_++;
        self->session_.log().warn("Plex Media Server {} stopped answering at {}; switched to {}", rep.server.name, old,
                                  best.connection.uri);
        self->finish_failover(Switched::yes);
    };
    race(session_.client(), {server}, opts,
         [self, adopt](const std::vector<ServerReport>& reports) {
             if (!reports.empty() && reports[0].best &&
                 reports[0].outcomes[*reports[0].best].connection.uri != self->session_.server_url())
                 return adopt(reports[0], Addresses::known);
             // None of the known addresses works: the server may have moved.
             std::string machine = self->session_.settings().snapshot()->server_machine_id;
             self->session_.resources(Freshness::fresh, [self, adopt, machine](
                                                            plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                 if (!r) return self->finish_failover(Switched::no);
                 for (const auto& res : *r) {
                     if (res.client_identifier != machine) continue;
                     return race(self->session_.client(), {res}, self->session_.race_options(),
                                 [self, adopt](const std::vector<ServerReport>& reps) {
                                     if (reps.empty() || !reps[0].best) return self->finish_failover(Switched::no);
                                     // The same address again is no switch.
                                     if (reps[0].outcomes[*reps[0].best].connection.uri == self->session_.server_url())
                                         return self->finish_failover(Switched::no);
                                     adopt(reps[0], Addresses::new_from_plextv);
                                 },
                                 {});
                 }
                 self->finish_failover(Switched::no);
             });
         },
         {});
}

void PmsClient::finish_failover(Switched switched) {
    failing_over_ = false;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) w(switched);
}

}  // namespace pb::session

#include "discovery/pms_client.hpp"

#include <boost/json.hpp>

#include "discovery/racer.hpp"
#include "http/url.hpp"
#include "plugin/plugin.hpp"

namespace pb::discovery {

namespace bj = boost::json;

bool PmsClient::connection_level(const http::Result& r) {
    if (!r.error) return false;
    switch (r.error->kind) {
        case http::ErrorKind::refused:
        case http::ErrorKind::timed_out:
        case http::ErrorKind::reset:
        case http::ErrorKind::unreachable:
        case http::ErrorKind::resolve: return true;
        default: return false;
    }
}

void PmsClient::request(PmsRequest req, Callback cb) { send(std::move(req), std::move(cb), true); }

void PmsClient::send(PmsRequest req, Callback cb, bool may_fail_over) {
    auto s = plugin_.settings();
    std::string base = !s.manual_server_url.empty() ? s.manual_server_url
                       : s.auth_method == "apikey"  ? s.legacy_url()
                                                    : s.server_url;
    if (base.empty()) {
        return cb(http::Result{std::nullopt, http::Error{http::ErrorKind::invalid_request, 0,
                                                         "no Plex Media Server is selected yet"}},
                  "");
    }
    std::string why;
    vault::Secret token = plugin_.server_token(&why);
    if (token.empty())
        return cb(http::Result{std::nullopt, http::Error{http::ErrorKind::invalid_request, 0, why}}, base);
    http::Request r;
    r.method = req.method;
    r.url = http::join_url(base, req.path);
    r.body = req.body;
    r.headers = req.headers;
    r.token = token.str();
    r.timeout = std::chrono::milliseconds(s.connect_timeout_ms);
    r.verify = s.verify_tls ? http::TlsVerify::verify : http::TlsVerify::skip;
    r.peer_name = "Plex Media Server";
    plexapi::add_plex_headers(r.headers, plugin_.identity(), plexapi::Accept::json);
    auto self = shared_from_this();
    // The final answer: a connection-level failure fails over once (unless
    // the user pinned the address), anything else goes to the caller.
    auto conclude = [self, req, cb, may_fail_over, base](http::Result res) mutable {
        if (may_fail_over && connection_level(res) && self->plugin_.settings_snapshot()->manual_server_url.empty())
            return self->fail_over([self, req, cb, res, base](bool switched) mutable {
                if (!switched) return cb(std::move(res), base);
                self->send(std::move(req), std::move(cb), false);
            });
        cb(std::move(res), base);
    };
    // A plex.direct name blocked by DNS-rebinding protection: go to the IP
    // it encodes, keep verifying against the name.
    auto attempt = std::make_shared<http::Request>(r);
    plugin_.client()->async_request(r, [self, attempt, conclude](http::Result res) mutable {
        if (res.error && res.error->kind == http::ErrorKind::resolve) {
            std::string ip = plex_direct_ip(attempt->url);
            if (!ip.empty()) {
                attempt->connect_address = ip;
                self->plugin_.client()->async_request(*attempt, conclude);
                return;
            }
        }
        conclude(std::move(res));
    });
}

static std::vector<plexapi::Connection> stored_connections(const bj::object& settings) {
    std::vector<plexapi::Connection> out;
    auto* v = settings.if_contains("server_connections");
    if (!v || !v->is_array()) return out;
    for (const auto& c : v->get_array()) {
        plexapi::Connection k;
        if (c.is_string()) {
            k.uri = std::string(c.get_string());
        } else if (c.is_object()) {
            const auto& o = c.get_object();
            if (auto* u = o.if_contains("uri"); u && u->is_string()) k.uri = std::string(u->get_string());
            if (auto* l = o.if_contains("local"); l && l->is_bool()) k.local = l->get_bool();
            if (auto* r = o.if_contains("relay"); r && r->is_bool()) k.relay = r->get_bool();
        }
        if (!k.uri.empty()) out.push_back(std::move(k));
    }
    return out;
}

void PmsClient::fail_over(std::function<void(bool)> done) {
    waiting_.push_back(std::move(done));
    if (failing_over_) return;  // one re-race serves every request waiting
    failing_over_ = true;
    auto s = plugin_.settings();
    if (s.auth_method != "oauth" || s.server_machine_id.empty()) return finish_failover(false);
    plexapi::Resource server;
    server.client_identifier = s.server_machine_id;
    server.name = s.server_name;
    server.owned = true;
    server.connections = stored_connections(plugin_.settings_json());
    RaceOptions opts = race_options(std::chrono::milliseconds(s.connect_timeout_ms), s.verify_tls, plugin_.identity());
    auto self = shared_from_this();
    auto adopt = [self](const ServerReport& rep, bool store_connections) {
        const auto& best = rep.outcomes[*rep.best];
        auto old = self->plugin_.settings().server_url;
        bj::object patch{{"server_url", best.connection.uri}, {"server_local", best.connection.local}};
        if (store_connections) {
            bj::array conns;
            for (const auto& c : rep.server.connections)
                conns.push_back({{"uri", c.uri}, {"local", c.local}, {"relay", c.relay}});
            patch["server_connections"] = conns;
        }
        std::string err;
        if (!self->plugin_.write_settings(patch, &err))
            self->plugin_.log().error("could not store the new server address: {}", err);
        self->failovers_++;
        self->plugin_.log().warn("Plex Media Server {} stopped answering at {}; switched to {}", rep.server.name, old,
                                 best.connection.uri);
        self->finish_failover(true);
    };
    race(plugin_.client(), {server}, opts,
         [self, adopt, opts](const std::vector<ServerReport>& reports) {
             if (!reports.empty() && reports[0].best &&
                 reports[0].outcomes[*reports[0].best].connection.uri != self->plugin_.settings().server_url)
                 return adopt(reports[0], false);
             // None of the known addresses works: the server may have moved.
             std::string why;
             vault::Secret token = self->plugin_.current_token(&why);
             if (token.empty()) return self->finish_failover(false);
             std::string machine = self->plugin_.settings().server_machine_id;
             self->plugin_.plextv().get_resources(
                 token.str(), [self, adopt, opts, machine](plexapi::ApiResult<std::vector<plexapi::Resource>> r) {
                     if (r.error) return self->finish_failover(false);
                     for (const auto& res : *r.value) {
                         if (res.client_identifier != machine) continue;
                         return race(self->plugin_.client(), {res}, opts,
                                     [self, adopt](const std::vector<ServerReport>& reps) {
                                         if (reps.empty() || !reps[0].best) return self->finish_failover(false);
                                         adopt(reps[0], true);
                                     },
                                     {});
                     }
                     self->finish_failover(false);
                 });
         },
         {});
}

void PmsClient::finish_failover(bool switched) {
    failing_over_ = false;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& w : waiting) w(switched);
}

}  // namespace pb::discovery

// Test harness: a Plex simulator, the real reference host with the real
// plugin .so loaded, and a small HTTP caller. Everything on loopback.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "common/fs.hpp"
#include "common/text.hpp"
#include "host.hpp"
#include "http/client.hpp"
#include "log/log.hpp"
#include "simulator.hpp"
#include "temp_dir.hpp"

namespace pbtest {

// An HTTP caller with its own io thread.
class Caller {
public:
    Caller() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {
        client_ = std::move(pb::http::Client::create(ioc_, {}, pb::log::null_logger())).value();
    }
    ~Caller() {
        client_->shutdown();
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    pb::http::Result call(const std::string& method, const std::string& url, const std::string& body = "",
                          pb::http::Headers headers = {}) {
        pb::http::Request r;
        r.method = method;
        r.url = url;
        r.body = body;
        r.headers = std::move(headers);
        r.timeout = std::chrono::seconds(15);
        return client_->request_sync(std::move(r));
    }
    std::shared_ptr<pb::http::Client> client() { return client_; }
    boost::asio::io_context& io() { return ioc_; }

private:
    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
    std::thread thread_;
    std::shared_ptr<pb::http::Client> client_;
};

struct ApiAnswer {
    int status = 0;
    boost::json::value json;
    std::string body;
};

// A host with the plugin, pointed at a simulator.
class HostRig {
public:
    explicit HostRig(pb::sim::Simulator& sim, std::string data_dir = "", std::string catalog = "")
        : sim_(sim),
          data_dir_(data_dir.empty() ? temp_dir("host") : std::move(data_dir)),
          catalog_(std::move(catalog)) {}
    ~HostRig() { stop(); }

    // Extra presets as plex.KEY -> JSON text.
    bool start(std::vector<std::pair<std::string, std::string>> presets = {}, bool point_at_sim = true) {
        pb::host::HostOptions o;
        o.plugin_path = PB_PLUGIN_PATH;
        o.data_dir = data_dir_;
        o.listen = "127.0.0.1:0";
        o.apikey = apikey;
        o.catalog_path = catalog_;
        if (point_at_sim) {
            std::string ca = pb::common::fs::join(data_dir_, "ca.pem");
            sim_.write_ca_file(ca);
            o.presets = {{"use_plex", "true"},
                         {"plextv_url", "\"" + sim_.plextv_url() + "\""},
                         {"plextv_clients_url", "\"" + sim_.plextv_url() + "\""},
                         {"tls_ca_file", "\"" + ca + "\""}};
        }
        for (auto& p : presets) o.presets.push_back(p);
        host_ = std::make_unique<pb::host::Host>(o);
        std::string err;
        if (!host_->start(&err)) {
            error = err;
            return false;
        }
        return true;
    }
    void stop() {
        if (host_) host_->stop();
        host_.reset();
    }

    ApiAnswer api(const std::string& method, const std::string& path, const std::string& body = "",
                  bool with_key = true) {
        pb::http::Headers h;
        if (with_key) h.emplace_back("X-API-KEY", apikey);
        if (!body.empty()) h.emplace_back("Content-Type", "application/json");
        auto r = caller_.call(method, "http://127.0.0.1:" + std::to_string(host_->port()) + path, body, h);
        ApiAnswer a;
        if (!r) {
            a.status = -1;
            a.body = r.error().message;
            return a;
        }
        a.status = r->status;
        a.body = r->body;
        boost::system::error_code ec;
        a.json = boost::json::parse(a.body, ec);
        return a;
    }

    // Signs in as the simulator's user, as a person would: create a PIN,
    // link it, check it. True when the plugin reports "authenticated".
    bool sign_in() {
        auto pin = api("POST", "/api/plex/oauth/pin");
        if (pin.status != 200) return false;
        const auto& d = pin.json.at("data").as_object();
        sim_.link_pin(std::string(d.at("code").as_string()));
        auto done = api("GET", "/api/plex/oauth/pin/" + boost::json::serialize(d.at("pinId")) +
                                   "/check?state=" + std::string(d.at("state").as_string()));
        return done.status == 200 && done.json.at("data").at("authenticated").as_bool();
    }

    std::string settings_file() const {
        return *pb::common::fs::read_file(pb::common::fs::join(data_dir_, "settings.json"));
    }
    boost::json::object settings_object() const {
        return boost::json::parse(settings_file()).as_object().at("plex").as_object();
    }
    pb::host::Host& host() { return *host_; }
    const std::string& data_dir() const { return data_dir_; }

    std::string apikey = "test-api-key-0123456789abcdef";
    std::string error;

private:
    pb::sim::Simulator& sim_;
    std::string data_dir_;
    std::string catalog_;
    std::unique_ptr<pb::host::Host> host_;
    Caller caller_;
};

// Polls `pred` for up to `timeout`; true when it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

// One owned server named "Home" with the sample library (sim_data.cpp);
// returns its index. Connections are the test's to add.
inline std::size_t add_home_server(pb::sim::Simulator& sim, const std::string& machine_id) {
    pb::sim::SimServer s;
    s.name = "Home";
    s.machine_id = machine_id;
    pb::sim::add_sample_library(s);
    return sim.add_server(std::move(s));
}

// The host's event media for the sample library's Reign of Fire (item 1036).
inline constexpr const char* kReignOfFire =
    R"({"type":"movie","imdb":"tt0253556","tmdb":6278,"path":"/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4"})";

}  // namespace pbtest

// plexbridge-host: a small Bazarr-like host. It loads the plugin through
// the C ABI, stores its settings in <data-dir>/settings.json, serves the
// plugin's routes under /api with Bazarr's API-key check, fires events and
// records the subtitle searches the plugin asks for.
#pragma once
#include <boost/asio/io_context.hpp>
#include <boost/json/object.hpp>

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "browser.hpp"
#include "common/version.hpp"
#include "httpserver/http_server.hpp"
#include "plexbridge_plugin.h"

namespace pb::host {

// The host's media: what it can search subtitles for.
struct Catalog {
    struct Movie {
        std::string title, imdb;
        int64_t tmdb = -1;
    };
    struct Episode {
        int32_t season = -1, episode = -1;
        int64_t tvdb = -1;
        std::string imdb;
    };
    struct Series {
        std::string title, imdb;
        int64_t tvdb = -1, tmdb = -1;
        std::vector<Episode> episodes;
    };
    std::vector<Movie> movies;
    std::vector<Series> series;
    // Loads {"movies":[{"title","imdb","tmdb"}],"series":[{"title","imdb","tvdb","tmdb",
    // "episodes":[{"season","episode","tvdb","imdb"}]}]}.
    static std::optional<Catalog> load(const std::string& path, std::string* error);
    bool knows(const pb_search_request& r) const;
};

// Settings of one plugin, persisted with atomic writes.
class SettingsStore {
public:
    // Loads <path> (creating it later on first write). Keys the plugin
    // registers get their defaults; stored values win. A file that is not a
    // JSON object (truncated, empty, garbage) is copied aside, byte for
    // byte, to <path>.unreadable-<time>, and the store starts from the
    // defaults with a notice() that says so; false only when the file cannot
    // be read at all (permissions, I/O error), which defaults would hide.
    bool open(const std::string& path, std::string* error);
    // What the user should know about the file since the start ("" when
    // nothing): shown on the host's page and in its log.
    std::string notice() const;
    void register_setting(const std::string& name, boost::json::value default_value, bool secret,
                          boost::json::object descriptor);
    boost::json::object snapshot() const;  // every registered key
    boost::json::object masked() const;    // secrets shown as "********" when set
    boost::json::array schema() const;
    bool knows(const std::string& name) const;  // a registered setting
    // Merges `patch` and writes the file; on failure nothing changes.
    bool merge(const boost::json::object& patch, std::string* error);
    // Candidate object after a merge, without storing it.
    boost::json::object preview(const boost::json::object& patch) const;
    const std::string& path() const { return path_; }

private:
    mutable std::mutex mu_;
    std::string path_;
    boost::json::object file_;    // {"plex": {...}} as on disk
    boost::json::object values_;  // the plugin's object
    boost::json::array schema_;
    std::vector<std::string> secret_keys_;
    std::string notice_;
    // An unreadable file that could not be copied aside is never written
    // over: saving is refused until the user moves it.
    bool keep_file_ = false;
};

struct SearchRecord {
    std::string media_type;
    std::string imdb;
    int64_t tmdb = -1, tvdb = -1;
    int32_t season = -1, episode = -1;
    int64_t episode_tvdb = -1;
    std::string episode_imdb;
    std::string title;
    std::string reason;
    std::string outcome;
};

struct HostOptions {
    std::string plugin_path;
    std::string data_dir;
    std::string listen = "127.0.0.1:6767";
    std::string apikey;  // empty: generated and stored
    std::string catalog_path;
    std::vector<std::pair<std::string, std::string>> presets;  // --set plex.KEY=VALUE
    int threads = 2;
};

class Host {
public:
    explicit Host(HostOptions options);
    ~Host();

    // Loads the plugin, opens settings, starts listening. Error in words.
    bool start(std::string* error);
    void stop();

    uint16_t port() const { return port_; }
    const std::string& apikey() const { return apikey_; }
    std::vector<SearchRecord> searches() const;
    std::vector<std::string> log_lines() const;
    SettingsStore& settings() { return settings_; }
    // Fires an event at the plugin (as POST /api/host/events does).
    bool fire_event(const std::string& name, const std::string& payload_json, std::string* error);

    // ABI callbacks (public for the C trampolines).
    struct RouteEntry {
        std::string method, pattern;
        pb_route_auth auth;
        uint64_t max_body;
        pb_route_handler handler;
        void* ctx;
    };
    void log(pb_log_level level, std::string_view message);
    pb_status add_setting(const pb_setting_desc& d);
    pb_status add_route(const pb_route_desc& d);
    pb_status add_subscription(std::string name);
    pb_status add_page(const pb_page_desc& d);
    pb_status read_settings(pb_str_sink sink, void* ctx);
    pb_status write_settings(std::string_view patch, pb_str_sink error_sink, void* error_ctx);
    pb_search_outcome search(const pb_search_request& r);

private:
    void handle(httpserver::Request&& req, httpserver::Responder respond);
    // Who is calling: a program with the API key, a signed-in browser, or nobody.
    enum class Caller : uint8_t { nobody = 1, api_key, browser };
    // `key`: the API key the request presents ("" for none).
    Caller caller(const httpserver::Request& req, const std::string& key, std::string* csrf) const;
    // The host's own routes: its pages, the browser sign-in, settings, events.
    void handle_host(httpserver::Request& req, httpserver::Responder& respond);
    void login(httpserver::Request& req, httpserver::Responder& respond);
    // Hands a request to the plugin's handler (the caller authenticated it).
    void dispatch(const RouteEntry& route, httpserver::Request& req, httpserver::Responder respond);
    static std::string csrf_cookie(const std::string& token);
    const RouteEntry* find_route(std::string_view method, std::string_view path) const;

    HostOptions opts_;
    std::string apikey_;
    // One context per thread: a connection stays on the thread that
    // accepted it (see HttpServer). Declared before http_, destroyed after.
    std::vector<std::unique_ptr<boost::asio::io_context>> iocs_;
    std::unique_ptr<httpserver::HttpServer> http_;
    std::vector<std::thread> threads_;
    uint16_t port_ = 0;

    void* lib_ = nullptr;
    pb_host_api host_api_{};
    pb_plugin_api plugin_{};
    bool plugin_loaded_ = false;
    bool registering_ = false;  // true only while the plugin's entry runs (host thread)
    std::string host_name_ = "plexbridge-host " + std::string(common::kVersion);

    SettingsStore settings_;
    std::optional<Catalog> catalog_;
    std::vector<RouteEntry> routes_;
    std::vector<std::string> subscriptions_;
    struct Page {
        std::string title, path;
    };
    std::optional<Page> page_;  // the plugin's own settings page, if it has one
    mutable BrowserSessions browsers_;

    mutable std::mutex mu_;
    std::deque<SearchRecord> searches_;
    std::deque<std::string> log_lines_;
};

}  // namespace pb::host

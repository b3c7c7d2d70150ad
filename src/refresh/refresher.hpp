// After a subtitle changes: refresh the item in Plex, and optionally mark it
// recently added. See docs/refresh.md.
//
// The host's event handler only parses and posts; everything else runs on
// the plugin's io thread. Events for the same item within the coalescing
// window (2 s) become one job. Jobs are written to
// <data-dir>/plexbridge-refresh-queue.json by the io thread as soon as they
// are queued (microseconds after on_event returns) and rewritten on every
// change, so a host restart loses nothing that was queued. A failed call is
// retried with backoff (1 s doubling to 30 s); a refused token or no
// selected server stops the queue with a clear status until the settings
// change, instead of retrying forever.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "plugin/router.hpp"
#include "refresh/library_index.hpp"

namespace pb::plugin {
class Plugin;
}

namespace pb::refresh {

struct Job {
    std::string key;
    MediaRef media;
    bool refresh = false;
    bool set_added = false;
    int attempts = 0;
    int64_t due_unix_ms = 0;
    std::string last_error;
};

// Reads an event payload; nullopt (and why) when it names no media.
std::optional<MediaRef> parse_event_media(std::string_view json, std::string* why);

class Refresher : public std::enable_shared_from_this<Refresher> {
public:
    explicit Refresher(plugin::Plugin& plugin);
    void register_routes();
    void load();                                                         // at plugin init: read the persisted queue
    void start();                                                        // io thread: schedule
    void on_event(const std::string& name, const std::string& payload);  // any thread
    void settings_changed();                                             // any thread
    // At unload, after the io thread stopped and before the io_context goes:
    // the timer must not outlive it.
    void shutdown() { timer_.reset(); }

    static const char* kQueueFile;

private:
    void enqueue(std::string name, MediaRef media);  // io thread
    void schedule();
    void run_due();
    void process(Job job);
    void finish(const Job& job, bool ok, const std::string& error, bool retry, bool stop);
    void persist();
    void status(plugin::Call& call, plugin::Reply reply);
    void ensure_index(std::function<void(std::string error, int http_status)> then);
    void resolve(const Job& job, std::function<void(std::optional<ItemRef>, std::string error)> then);
    void partial_scan(const Job& job);
    void apply(const Job& job, const ItemRef& ref);

    plugin::Plugin& plugin_;
    std::unique_ptr<boost::asio::steady_timer> timer_;
    std::deque<Job> queue_;
    std::shared_ptr<LibraryIndex> index_ = std::make_shared<LibraryIndex>();
    bool busy_ = false;
    std::string stopped_;   // why the queue is stopped; empty: running
    int64_t requests_ = 0;  // PMS requests made for jobs (benchmarks)

    // For the status route (read from host threads).
    mutable std::mutex status_mu_;
    boost::json::object last_refresh_;
    boost::json::object last_error_;
    std::size_t depth_ = 0;
    std::string stopped_copy_;
};

}  // namespace pb::refresh

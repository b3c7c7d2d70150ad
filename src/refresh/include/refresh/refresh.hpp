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
// selected server pauses the queue with a clear status until the settings
// change, instead of retrying forever.
#pragma once
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "refresh/library_index.hpp"
#include "refresh/paths.hpp"
#include "refresh/subtitles.hpp"
#include "route/route.hpp"
#include "session/session.hpp"

namespace pb::refresh {

// The host events the refresher subscribes to. Each refreshes the item;
// those that bring a subtitle may also mark it recently added.
struct EventSpec {
    std::string_view name;
    bool brings_subtitle = false;
};
inline constexpr EventSpec kEvents[] = {{"subtitle.downloaded", true},
                                        {"subtitle.upgraded", true},
                                        {"subtitle.uploaded", true},
                                        {"subtitle.deleted", false},
                                        {"subtitle.modified", false}};

struct Job {
    uint64_t id = 0;  // this run's name for the job (several may share a key)
    std::string key;
    MediaRef media;
    bool refresh = false;
    bool set_added = false;
    int attempts = 0;
    int64_t due_unix_ms = 0;
    std::string last_error;
    // The subtitles the events named: each must show in Plex (or, deleted,
    // be gone) once the item is refreshed.
    struct Expect {
        SubtitleRef subtitle;
        bool present = true;
    };
    std::vector<Expect> expect;
    ItemRef item;    // set once refreshed: from then on the job reads the item back
    int checks = 0;  // read-backs that did not find what was expected
};

// An event: the media it is about and, when the host says, the subtitle.
struct Event {
    MediaRef media;
    SubtitleRef subtitle;
};
// Reads an event payload; Errc::bad_request, saying why, when it names no media.
common::Result<Event> parse_event(std::string_view json);

class Refresher : public std::enable_shared_from_this<Refresher> {
public:
    // What becomes of a job that ran.
    enum class Outcome : uint8_t {
        done = 1,   // it worked: off the queue
        dropped,    // it cannot work (not in Plex, outside every library): off the queue, said
        retry,      // it may work later: backoff
        pause,      // nothing will work until the settings change: the queue waits
        check,      // refreshed: read the item back after a while to see the subtitle
        elsewhere,  // outside this profile's libraries, one of several: off the queue, not an error
    };

    // Registers the status route.
    static std::shared_ptr<Refresher> create(session::Session& session, route::Registry& routes);
    void load();                                                         // at plugin init: read the persisted queue
    void start();                                                        // io thread: schedule
    void on_event(const std::string& name, const std::string& payload);  // any thread
    void settings_changed();                                             // any thread
    // Several profiles get every event: an item outside this one's
    // libraries is then another's, not an error of this one. Any thread.
    void share_events(bool shared) { one_of_several_ = shared; }
    // The status the page and the diagnostics bundle show (GET /api/plex/status). Any thread.
    boost::json::object status_json() const;
    // At unload, after the io thread stopped and before the io_context goes:
    // the timers must not outlive it. A merge not yet written is written now.
    void shutdown();

    static const char* kQueueFile;

private:
    void enqueue(std::string name, Event event);  // io thread
    void schedule();
    void run_due();
    void process(Job job);
    void finish(const Job& job, Outcome outcome, const std::string& error = {});
    // What a 401 or 403 from the server means, and what to do about it.
    std::pair<Outcome, std::string> refused(int status) const;
    // A job's answer from the server: done (nullopt), or the outcome and why.
    std::optional<std::pair<Outcome, std::string>> judge(int status, std::string_view what) const;
    // Writes the queue file now (a job created, finished or retried), and
    // the status's depth.
    void persist();
    // A merge into a job already waiting: written within kMergeWriteMs, once
    // for any number of merges (a burst of events for one item is one write,
    // not one durable write each: about 12 ms each on a busy disk).
    void persist_soon();
    void status(route::Call& call, route::Reply reply);  // GET /api/plex/status: status_json()
    // Calls `then` once the index is built (or failed), building it if it
    // is not. One build runs at a time, in the background of the io thread.
    void ensure_index(std::function<void(std::string error, int http_status)> then);
    void build(uint64_t generation);
    void index_done(uint64_t generation, std::string error, int status);
    // What the index is built for; a change of it (another server, other
    // libraries) means a new index. Other settings do not.
    static std::string index_key(const settings::Settings& s);
    // Whether anything would ever be refreshed with these settings.
    bool wanted(const settings::Settings& s) const;
    void resolve(const Job& job, std::function<void(std::optional<ItemRef>, std::string error)> then);
    // Asks Plex to scan the folder of the job's file (the event's, mapped).
    void partial_scan(const Job& job);
    // Reads a refreshed item back: is the subtitle there?
    void check(Job job);
    // The next thing to try when it is not: refresh, scan the item's folder
    // (Plex's path, from the read-back), refresh.
    void remedy(Job job, const std::string& plex_folder);
    // How the selected server writes and compares paths.
    PathStyle path_style() const;
    void apply(const Job& job, const ItemRef& ref);

    explicit Refresher(session::Session& session) : session_(session) {}
    session::Session& session_;
    std::unique_ptr<boost::asio::steady_timer> timer_;
    std::unique_ptr<boost::asio::steady_timer> write_timer_;  // persist_soon's
    bool write_pending_ = false;
    std::deque<Job> queue_;
    std::shared_ptr<LibraryIndex> index_ = std::make_shared<LibraryIndex>();
    std::string index_key_;          // what index_ is for
    uint64_t index_generation_ = 0;  // bumped when index_ is replaced: older builds stop
    bool index_building_ = false;
    std::vector<std::function<void(std::string, int)>> index_waiters_;
    std::atomic<bool> one_of_several_{false};
    bool busy_ = false;
    uint64_t running_ = 0;  // the job being processed, while busy_
    uint64_t next_job_id_ = 0;
    std::string stopped_;   // why the queue is stopped; empty: running
    int64_t requests_ = 0;  // PMS requests made for jobs (benchmarks)

    // For the status route (read from host threads).
    mutable std::mutex status_mu_;
    boost::json::object last_refresh_;
    boost::json::object last_error_;
    std::size_t depth_ = 0;
    std::string stopped_copy_;
    BuildProgress index_progress_;
    std::string index_state_ = "empty";  // empty, building, ready, failed
    std::string index_error_;
};

}  // namespace pb::refresh

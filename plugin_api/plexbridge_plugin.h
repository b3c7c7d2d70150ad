/*
 * plexbridge plugin ABI 1.1 (frozen: see "Evolution rules").
 *
 * This is the only contract between a host (a subtitle manager) and the
 * plexbridge plugin (libplexbridge.so.1). It is plain C (C89 and later,
 * C++98 and later) so that any host language can load the plugin. The
 * reference for every entry, with examples, is docs/host-integration.md.
 *
 * Loading, in order:
 *   1. dlopen() the library, dlsym() PB_ABI_VERSION_SYMBOL and call it.
 *      Refuse the plugin if PB_ABI_MAJOR(version) differs from the host's.
 *      PB_ABI_MINOR(version) says which fields the plugin knows: a field
 *      marked with a later minor than the plugin's is zero in what it fills.
 *   2. Fill a pb_host_api (PB_STRUCT_INIT, abi_version = PB_ABI_VERSION),
 *      zero a pb_plugin_api and set its struct_size, then call
 *      PB_ENTRY_SYMBOL. The plugin reads the host's minor and struct_size
 *      the same way. On a non-zero return the plugin did not load: it
 *      already said why through host->log (when the table reaches log),
 *      and the host must not call anything in plugin_out.
 *   3. Mount the routes and subscribe the events the plugin registered
 *      during the entry call. Call plugin_out->start() once the host can
 *      serve requests (the plugin may then call the host from its threads).
 *   4. At unload call plugin_out->destroy(). When it returns the plugin's
 *      threads are joined and it will never call the host again; only then
 *      may the host dlclose() the library.
 *
 * Evolution rules. Functions are only ever appended to the two tables, as
 * SQLite appends to sqlite3_api_routines; every struct says its own size,
 * as OBS modules pass sizeof(struct obs_source_info) when they register:
 *   - Every struct crossing the boundary starts with uint32_t struct_size,
 *     set by the side that allocated it. A reader copies min(struct_size,
 *     sizeof) bytes into zeroed storage and tests PB_HAS_FIELD() before it
 *     reads a field added in a later minor version.
 *   - Fields are only appended. Fields without a mark are from 1.0; later
 *     ones say the minor that added them ("1.1:"). A minor version may
 *     append fields, struct types, enum values and flags, and relax a rule
 *     (a required entry may become optional, never the reverse). A changed
 *     signature becomes a new "_v2" entry; nothing is reordered, resized or
 *     removed within a major: that is a new major, and a new soname.
 *   - Enums are 4 bytes (asserted below: do not build a host with
 *     -fshort-enums). Value 0 is never valid, so a zeroed field is
 *     detectable. A value a reader does not know (from a later minor) is
 *     read as the safest one the enum names, as each enum says.
 *
 * Strings are UTF-8, passed as pointer + length (pb_str), not necessarily
 * NUL-terminated. Unless stated otherwise a pointer is borrowed for the
 * duration of the call only: the receiver copies what it keeps.
 *
 * No C++ exception ever crosses this boundary in either direction: a host
 * written in C++ catches everything in the callbacks it gives the plugin.
 */
#ifndef PLEXBRIDGE_PLUGIN_H
#define PLEXBRIDGE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions ------------------------------------------------------- */

#define PB_ABI_VERSION_MAJOR              1
#define PB_ABI_VERSION_MINOR              1
#define PB_MAKE_ABI_VERSION(major, minor) ((uint32_t)(((uint32_t)(major) << 16) | ((uint32_t)(minor)&0xFFFFu)))
#define PB_ABI_VERSION                    PB_MAKE_ABI_VERSION(PB_ABI_VERSION_MAJOR, PB_ABI_VERSION_MINOR)
#define PB_ABI_MAJOR(v)                   ((uint32_t)(v) >> 16)
#define PB_ABI_MINOR(v)                   ((uint32_t)(v)&0xFFFFu)

/* Names of the two exported symbols, for dlsym(). */
#define PB_ABI_VERSION_SYMBOL "plexbridge_abi_version"
#define PB_ENTRY_SYMBOL       "plexbridge_plugin_entry"

/* PB_EXPORT marks the two entry points when the plugin itself is built
 * (it defines PB_BUILDING_PLUGIN). A host looks them up with dlsym() and
 * never links them, so for a host the macro is empty. */
#if defined(PB_BUILDING_PLUGIN)
#if defined(_WIN32)
#define PB_EXPORT __declspec(dllexport)
#else
#define PB_EXPORT __attribute__((visibility("default")))
#endif
#else
#define PB_EXPORT
#endif

/* A compile-time check that works in C89 and C++98 too (a negative array
 * size), and is the language's own static assertion where there is one. */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PB_STATIC_ASSERT(cond, name) static_assert(cond, #name)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PB_STATIC_ASSERT(cond, name) _Static_assert(cond, #name)
#else
#define PB_STATIC_ASSERT(cond, name) typedef char pb_static_assert_##name[(cond) ? 1 : -1]
#endif

/* ---- helpers -------------------------------------------------------- */

/* Zero a boundary struct and set its size: pb_host_api h; PB_STRUCT_INIT(h); */
#define PB_STRUCT_INIT(s)                                             \
    do {                                                              \
        unsigned char* pb_p_ = (unsigned char*)&(s);                  \
        size_t pb_i_ = 0;                                             \
        for (pb_i_ = 0; pb_i_ < sizeof(s); ++pb_i_) pb_p_[pb_i_] = 0; \
        (s).struct_size = (uint32_t)sizeof(s);                        \
    } while (0)

/* True when a struct of this declared size contains the whole field. */
#define PB_HAS_FIELD(ptr, type, field) \
    ((ptr) != NULL && (size_t)(ptr)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* A borrowed UTF-8 string: data may be NULL only when len is 0. */
typedef struct pb_str {
    const char* data;
    size_t len;
} pb_str;

/* Status codes returned across the boundary. 0 is success. */
typedef enum pb_status {
    PB_OK = 0,
    PB_ERR_INVALID_ARGUMENT = 1, /* a field was missing or malformed */
    PB_ERR_ABI = 2,              /* incompatible ABI version: not loaded */
    PB_ERR_NOT_FOUND = 3,
    PB_ERR_IO = 4, /* storage failed (disk full, permissions) */
    PB_ERR_INTERNAL = 5,
    PB_ERR_BUSY = 6
} pb_status;

/* Log levels. 0 is not a level; unknown: PB_LOG_ERROR. */
typedef enum pb_log_level { PB_LOG_DEBUG = 1, PB_LOG_INFO = 2, PB_LOG_WARNING = 3, PB_LOG_ERROR = 4 } pb_log_level;

/* Called synchronously with a string the callee owns; copy it if kept. */
typedef void (*pb_str_sink)(void* sink_ctx, pb_str value);

/* ---- HTTP routes ---------------------------------------------------- */

/* Unknown or 0: PB_ROUTE_AUTH_HOST_APIKEY. */
typedef enum pb_route_auth {
    PB_ROUTE_AUTH_HOST_APIKEY = 1, /* host checks its API key first (default) */
    PB_ROUTE_AUTH_NONE = 2         /* public: the plugin authenticates itself */
} pb_route_auth;

typedef struct pb_http_header {
    pb_str name;
    pb_str value;
} pb_http_header;

/* A request the host received for a plugin route. Borrowed for the duration
 * of the route handler's call: the plugin copies whatever it needs later. */
typedef struct pb_http_request {
    uint32_t struct_size;
    pb_str method; /* "GET", "POST", ... */
    pb_str path;   /* the path as requested, still percent-encoded */
    pb_str query;  /* raw, without '?', still percent-encoded */
    const pb_http_header* headers;
    size_t header_count;
    pb_str body;           /* complete body, within the route's limit */
    pb_str remote_address; /* peer IP as text */
} pb_http_request;

typedef struct pb_http_response {
    uint32_t struct_size;
    uint16_t status;               /* HTTP status code */
    pb_str content_type;           /* empty means application/json */
    const pb_http_header* headers; /* extra headers, may be NULL */
    size_t header_count;
    pb_str body;
} pb_http_response;

/* Opaque handle for one in-flight request. The plugin must call
 * host->respond() exactly once for every handle it was given, from any
 * thread: often from inside the handler call itself (before the handler
 * returns), otherwise later, and always before destroy() returns. A host
 * makes the handle ready to be answered before it calls the handler. The
 * host owns it. */
typedef struct pb_responder pb_responder;

/* Route handler. Called on a host thread; must return quickly (it must not
 * perform network I/O inline: queue it and respond() later). `route_ctx`
 * is the value given at registration. */
typedef void (*pb_route_handler)(void* route_ctx, const pb_http_request* request, pb_responder* responder);

typedef struct pb_route_desc {
    uint32_t struct_size;
    pb_str method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    /* Path under the host's root, e.g. "/api/plex/oauth/pin/{pinId}/check".
     * A "{name}" segment matches one non-empty path segment. 1.1: a last
     * segment "{name*}" matches the rest of the path, slashes included,
     * possibly empty ("/plugins/plexbridge/{file*}"); anywhere else it
     * never matches. API routes live under
     * "/api/"; from 1.1 a page's files live under "/plugins/<plugin_id>/". */
    pb_str path_pattern;
    /* Routes under "/plugins/" are opened by a browser: with
     * PB_ROUTE_AUTH_HOST_APIKEY the host accepts its own browser session
     * there (and on "/api/" routes the page calls), not only its API key. */
    pb_route_auth auth;
    uint64_t max_body_bytes; /* host answers 413 above this; 0: 64 KiB */
    pb_route_handler handler;
    /* Borrowed by the host: stays valid until plugin destroy() returns. */
    void* route_ctx;
} pb_route_desc;

/* ---- settings ------------------------------------------------------- */

/* Unknown: treat the value as PB_SETTING_JSON (store it, do not draw it). */
typedef enum pb_setting_type {
    PB_SETTING_BOOL = 1,
    PB_SETTING_INT = 2,
    PB_SETTING_STRING = 3,
    PB_SETTING_STRING_LIST = 4,
    PB_SETTING_JSON = 5 /* any JSON value the plugin manages */
} pb_setting_type;

/* 1.1: who writes a setting, and so whether and how a form draws it.
 * 0 (a 1.0 plugin): USER. Unknown: INTERNAL (never draw what you cannot
 * read). */
typedef enum pb_setting_access {
    PB_SETTING_ACCESS_USER = 1,      /* drawn and editable */
    PB_SETTING_ACCESS_READ_ONLY = 2, /* drawn, written by the plugin (the signed-in account) */
    PB_SETTING_ACCESS_INTERNAL = 3   /* never drawn (tokens, connections, identifiers) */
} pb_setting_access;

/* 1.1: pb_setting_desc.flags */
#define PB_SETTING_HAS_MIN       0x1u /* min is set */
#define PB_SETTING_HAS_MAX       0x2u /* max is set */
#define PB_SETTING_NEEDS_RESTART 0x4u /* a change applies after the host restarts the plugin */

typedef struct pb_setting_desc {
    uint32_t struct_size;
    pb_str name; /* key in the plugin's settings object */
    pb_setting_type type;
    pb_str default_json; /* JSON text of the default value */
    pb_str description;  /* one sentence for the settings page (the help text) */
    int secret;          /* non-zero: host must mask it when shown */

    /* 1.1: what a form needs to draw the setting without knowing the plugin.
     * Strings may be empty (len 0): "none". The JSON strings are documented
     * in docs/host-integration.md ("Drawing a form"). */
    pb_str label;             /* "Use Plex" */
    pb_str section;           /* group: "general", "account", "server", ... in registration order */
    pb_setting_access access; /* 0 from a 1.0 plugin: treat as USER */
    uint32_t flags;           /* PB_SETTING_HAS_MIN | PB_SETTING_HAS_MAX | PB_SETTING_NEEDS_RESTART */
    int64_t min;              /* integers: smallest allowed value, when flags say */
    int64_t max;              /* integers: largest allowed value, when flags say */
    pb_str unit;              /* "ms", "s", "bytes" */
    pb_str format;            /* strings: "url", "url_or_empty", "host" */
    pb_str choices_json;      /* a fixed set: [{"value": "oauth", "label": "Sign in with Plex"}, ...] */
    pb_str shown_when_json;   /* drawn only when another setting has a value: {"setting": "...", "equals": "..."} */
    pb_str fields_json;       /* a JSON list of objects: [{"name": "host", "type": "string", "label": "..."}] */
} pb_setting_desc;

/* ---- the settings page (1.1) ------------------------------------------ */

/* A page the plugin serves itself (with its own routes under
 * "/plugins/<plugin_id>/") for what a form drawn from the settings cannot
 * do: signing in, picking a server. The host links to it from its settings
 * page, same origin, after authenticating the browser. The page's unsafe
 * requests carry the header X-XSRF-TOKEN with the value of the cookie
 * XSRF-TOKEN (the convention of Angular and Django): a host that uses
 * cookies sets that cookie and checks the header. */
typedef struct pb_page_desc {
    uint32_t struct_size;
    pb_str title;      /* "Plex": the page's name in the host's menu */
    pb_str entry_path; /* "/plugins/plexbridge/": where a browser opens it */
} pb_page_desc;

/* ---- events and searches -------------------------------------------- */

/* An event the host fires (for example "subtitle.downloaded"). The payload
 * is JSON describing the media; see docs/host-integration.md. Borrowed for
 * the duration of on_event(). */
typedef struct pb_event {
    uint32_t struct_size;
    pb_str name;
    pb_str payload_json;
} pb_event;

/* Unknown: answer PB_SEARCH_UNKNOWN_MEDIA. */
typedef enum pb_media_type { PB_MEDIA_MOVIE = 1, PB_MEDIA_EPISODE = 2 } pb_media_type;

/* Ask the host to search subtitles. Ids the plugin does not know are empty
 * (len 0) or -1 for numbers. For an episode, the imdb/tmdb/tvdb fields are
 * the series' ids and episode_tvdb_id / episode_imdb_id the episode's. */
typedef struct pb_search_request {
    uint32_t struct_size;
    pb_media_type media_type;
    pb_str imdb_id; /* "tt0253556" */
    int64_t tmdb_id;
    int64_t tvdb_id;
    int32_t season;  /* episodes only, else -1 */
    int32_t episode; /* episodes only, else -1 */
    int64_t episode_tvdb_id;
    pb_str episode_imdb_id;
    pb_str title;  /* for the host's log only */
    pb_str reason; /* e.g. "plex webhook media.play" */
} pb_search_request;

/* Unknown: PB_SEARCH_REFUSED. */
typedef enum pb_search_outcome {
    PB_SEARCH_QUEUED = 1,        /* host knows the media and queued a search */
    PB_SEARCH_UNKNOWN_MEDIA = 2, /* host has no such movie/episode */
    PB_SEARCH_REFUSED = 3        /* host knows it but will not search now */
} pb_search_outcome;

/* Every enum crossing the boundary is 4 bytes, in C and in C++. */
PB_STATIC_ASSERT(sizeof(pb_status) == 4, pb_status_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_log_level) == 4, pb_log_level_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_route_auth) == 4, pb_route_auth_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_setting_type) == 4, pb_setting_type_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_setting_access) == 4, pb_setting_access_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_media_type) == 4, pb_media_type_is_4_bytes);
PB_STATIC_ASSERT(sizeof(pb_search_outcome) == 4, pb_search_outcome_is_4_bytes);

/* ---- the host's table ----------------------------------------------- */

/* Filled by the host, borrowed by the plugin until destroy() returns.
 * Thread safety: every function may be called from any plugin thread
 * concurrently, unless stated otherwise.
 *
 * Each entry says the minor that added it and whether it is required. A
 * required entry left NULL (or cut off by struct_size) makes the entry
 * call log why and fail with PB_ERR_INVALID_ARGUMENT or PB_ERR_ABI; an
 * optional one left NULL is simply not used, as each entry says. */
typedef struct pb_host_api {
    uint32_t struct_size; /* 1.0, required: sizeof(pb_host_api) as the host knows it */
    uint32_t abi_version; /* 1.0, required: PB_ABI_VERSION the host was built with */
    void* host_ctx;       /* 1.0, optional: passed back as first argument */
    pb_str host_name;     /* 1.0, optional: e.g. "plexbridge-host 1.2.3", shown in the plugin's diagnostics */
    pb_str data_dir;      /* 1.0, required: a directory the plugin may write files in (its key, backups) */

    /* 1.0, optional (NULL: the plugin's messages are dropped). Never
     * fails. Must not call back into the plugin. */
    void (*log)(void* host_ctx, pb_log_level level, pb_str message);

    /* 1.0, required. Registration: only during the entry call (host
     * thread). A non-zero return refuses the whole plugin: the entry
     * returns that status. */
    pb_status (*register_setting)(void* host_ctx, const pb_setting_desc* setting);
    pb_status (*register_route)(void* host_ctx, const pb_route_desc* route);
    pb_status (*subscribe_event)(void* host_ctx, pb_str event_name);

    /* 1.0, required. Reads the plugin's whole settings object (a JSON
     * object with every registered setting, defaults filled in) and calls
     * sink once. */
    pb_status (*settings_read)(void* host_ctx, pb_str_sink sink, void* sink_ctx);
    /* 1.0, required. Merges the top-level keys of patch_json (a JSON
     * object) into the stored settings atomically and durably. On failure
     * nothing changes and error_sink (nullable) receives a message. The host
     * calls the plugin's settings_changed() afterwards, on this same thread,
     * before returning; except during the entry call (the plugin may store
     * a migration or its identifiers then), when the host has no plugin
     * table yet and skips it. The plugin never calls settings_write from
     * inside settings_changed, and settings_changed takes no lock the
     * plugin holds while it writes, so the host may keep its store locked
     * while it calls settings_changed. */
    pb_status (*settings_write)(void* host_ctx, pb_str patch_json, pb_str_sink error_sink, void* error_ctx);

    /* 1.0, required. Completes a request given to a route handler. Exactly
     * once per responder; the responder is invalid afterwards. Any thread. */
    void (*respond)(void* host_ctx, pb_responder* responder, const pb_http_response* response);

    /* 1.0, required. Asks the host to search subtitles. Returns quickly
     * (the host queues the search), never calls back into the plugin. */
    pb_search_outcome (*request_search)(void* host_ctx, const pb_search_request* request);

    /* 1.1, optional (NULL, or a 1.0 host: the plugin registers no page and
     * no route outside "/api/"; the host draws its form from the settings).
     * Registration: only during the entry call. The host copies the
     * strings. */
    pb_status (*register_page)(void* host_ctx, const pb_page_desc* page);
} pb_host_api;

/* ---- the plugin's table --------------------------------------------- */

/* Filled by the plugin in the entry call, up to the struct_size the host
 * set; the plugin then sets struct_size to the bytes it filled. Every
 * function of the minor the plugin reports is non-NULL; a host reads a
 * later one only when PB_HAS_FIELD() says it is there and it is non-NULL. */
typedef struct pb_plugin_api {
    uint32_t struct_size;  /* 1.0: set by the host (its sizeof), then by the plugin (what it filled) */
    uint32_t abi_version;  /* 1.0: the plugin's PB_ABI_VERSION */
    void* plugin_ctx;      /* 1.0: owned by the plugin; freed by destroy() */
    pb_str plugin_id;      /* 1.0: static storage, "plexbridge" */
    pb_str plugin_version; /* 1.0: static storage, the plugin's version ("1.2.3") */

    /* 1.0. Called once, after routes are mounted. Host thread. */
    pb_status (*start)(void* plugin_ctx);
    /* 1.0. Stops and joins the plugin's threads, answers any pending
     * responder with 503, frees plugin_ctx. Host thread; never concurrent
     * with the other entries. Always safe to call once after a successful
     * entry, whether start() was called or not. */
    void (*destroy)(void* plugin_ctx);
    /* 1.0. A subscribed event. Returns at once: the work is queued. Any
     * thread. */
    void (*on_event)(void* plugin_ctx, const pb_event* event);
    /* 1.0. Checks a candidate settings object before the host stores it.
     * Returns PB_OK or PB_ERR_INVALID_ARGUMENT with a message given to
     * error_sink (nullable). When one setting is at fault the message starts
     * with its name and ": " ("port: must be an integer between 1 and 65535"), so a form
     * can show it next to that field. Any thread; no I/O. */
    pb_status (*validate_settings)(void* plugin_ctx, pb_str candidate_json, pb_str_sink error_sink, void* error_ctx);
    /* 1.0. The stored settings changed (whole object). Any thread. */
    void (*settings_changed)(void* plugin_ctx, pb_str settings_json);
} pb_plugin_api;

/* ---- exported symbols ----------------------------------------------- */

/* Returns the plugin's PB_ABI_VERSION. Safe to call before anything else. */
typedef uint32_t (*pb_abi_version_fn)(void);

/* Validates the host's table, registers settings, routes and events, and
 * fills plugin_out (at most plugin_out->struct_size bytes). Returns PB_OK,
 * or PB_ERR_ABI when the host's ABI is incompatible (after logging why).
 * On failure everything the plugin allocated is already freed. */
typedef pb_status (*pb_entry_fn)(const pb_host_api* host, pb_plugin_api* plugin_out);

PB_EXPORT uint32_t plexbridge_abi_version(void);
PB_EXPORT pb_status plexbridge_plugin_entry(const pb_host_api* host, pb_plugin_api* plugin_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PLEXBRIDGE_PLUGIN_H */

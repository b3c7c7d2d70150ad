/*
 * c-host: a minimal plexbridge host in plain C11.
 *
 * It proves that a C program with nothing but the installed header
 * (plexbridge_plugin.h, found through pkg-config) can load the plugin, give
 * it a host table, keep what it registers, store its settings, call its
 * routes, fire an event and unload it without a leak.
 *
 * What it does, in order (README.md walks through it):
 *   1. dlopen() the plugin, check its ABI major, read its minor;
 *   2. fill pb_host_api and call the entry: the plugin registers settings
 *      (kept with their defaults), routes, events and its page;
 *   3. start() it, then call routes in-process through the same matcher a
 *      server would use (no sockets: the request goes straight to the
 *      handler and the answer comes back through respond());
 *   4. change settings the two ways a host sees: a change "the user made"
 *      (validate_settings first, then store, then settings_changed) and a
 *      change the plugin makes itself (its settings_write);
 *   5. fire subtitle.downloaded and wait until the plugin's status shows it
 *      queued;
 *   6. destroy(), dlclose(), free everything.
 *
 * It exits 0 only when every step worked.
 *
 * Build:  cc -std=c11 $(pkg-config --cflags plexbridge) host.c -o c-host -ldl -lpthread
 * Run:    ./c-host --plugin "$(pkg-config --variable=plugin plexbridge)"
 *         (or PLEXBRIDGE_PLUGIN=/path/to/libplexbridge.so ./c-host)
 */

/* POSIX.1-2008: fsync, strerror_r (the int-returning one),
 * pthread_condattr_setclock. */
#define _POSIX_C_SOURCE 200809L

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plexbridge_plugin.h>

#define HOST_NAME "plexbridge-c-host 1.0"

/* Limits that keep every buffer bounded. */
#define JSON_MAX_DEPTH    64                 /* nesting the scanner follows */
#define SETTINGS_FILE_MAX (4u * 1024 * 1024) /* a settings file larger than this is refused */
#define DEFAULT_MAX_BODY  (64u * 1024)       /* the header's default for max_body_bytes == 0 */
#define CALL_TIMEOUT_MS   20000              /* one route call; generous for valgrind */
#define EVENT_TIMEOUT_MS  20000              /* the event reaching the plugin's queue */
#define BODY_PRINT_MAX    240                /* characters of an answer printed */

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/* Says what went wrong, on stderr; returns -1 for "return fail(...)". */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("c-host: FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return -1;
}

/* An int for "%.*s": pb_str lengths are size_t, printf's precision is int. */
static int print_len(size_t len) { return len > INT_MAX ? INT_MAX : (int)len; }

/* pb_str.data may be NULL when len is 0: never hand that NULL to memcpy. */
static const char* str_data(pb_str s) { return s.data != NULL ? s.data : ""; }

/* The ABI's rule for a struct the other side allocated: copy
 * min(struct_size, sizeof) bytes into zeroed storage. Fields an older
 * writer's struct lacks read as zero; a newer writer's extra bytes are not
 * read. */
static void read_struct(void* out, size_t out_size, const void* in) {
    uint32_t size = 0;
    memcpy(&size, in, sizeof size); /* every boundary struct starts with it */
    memset(out, 0, out_size);
    memcpy(out, in, size < out_size ? size : out_size);
}
#define READ_STRUCT(out, in) read_struct(&(out), sizeof(out), (in))

/* A NUL-terminated copy of a borrowed string: the ABI lends strings for the
 * duration of a call only, so everything the host keeps is copied. */
static char* copy_str(pb_str s) {
    if (s.len > 0 && s.data == NULL) return NULL;
    if (s.len == SIZE_MAX) return NULL;
    char* out = malloc(s.len + 1);
    if (out == NULL) return NULL;
    if (s.len > 0) memcpy(out, s.data, s.len);
    out[s.len] = '\0';
    return out;
}

static pb_str cstr(const char* s) {
    pb_str out = {s, strlen(s)};
    return out;
}

static int64_t now_ms(void) {
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* A growable byte buffer, always NUL-terminated once it holds anything.
 * An allocation failure is sticky (oom), so a chain of appends needs one
 * check at the end. */
typedef struct buf {
    char* data;
    size_t len;
    size_t cap;
    int oom;
} buf;

static int buf_put(buf* b, const void* p, size_t n) {
    if (b->oom) return -1;
    if (n > SIZE_MAX - 1 - b->len) {
        b->oom = 1;
        return -1;
    }
    size_t need = b->len + n + 1; /* room for the NUL */
    if (need > b->cap) {
        size_t cap = b->cap > 0 ? b->cap : 64;
        while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        char* d = realloc(b->data, cap);
        if (d == NULL) {
            b->oom = 1;
            return -1;
        }
        b->data = d;
        b->cap = cap;
    }
    if (n > 0) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int buf_puts(buf* b, const char* s) { return buf_put(b, s, strlen(s)); }

static void buf_free(buf* b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}

/* The host's pb_str_sink: the plugin lends a string for the duration of the
 * call; keep a copy in a buf. */
static void sink_to_buf(void* ctx, pb_str value) {
    buf* b = ctx;
    b->len = 0;
    buf_put(b, str_data(value), value.len);
}

/* ------------------------------------------------------------------------ */
/* JSON: just enough to merge settings at the top level                     */
/* ------------------------------------------------------------------------ */

/*
 * The ABI's settings_write sends a patch whose top-level keys replace the
 * stored ones. A host therefore needs to split an object into its members
 * and write an object back, nothing more: values are kept as the exact JSON
 * text they arrived in. The scanner below checks the whole grammar of
 * RFC 8259 (so a malformed patch changes nothing), recurses at most
 * JSON_MAX_DEPTH levels, never reads past `end`, and decodes only keys
 * (escapes included, so "use_plex" and "use\u005fplex" are the same key).
 * It does not check that strings are valid UTF-8: the plugin checks the
 * values it reads, and the host only moves them around.
 */

enum { JSON_OK = 0, JSON_SYNTAX = -1, JSON_NOMEM = -2 };

static const char* json_ws(const char* p, const char* end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
    return p;
}

static int json_hex4(const char* p, const char* end, unsigned* out) {
    if (end - p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int json_put_utf8(buf* b, unsigned cp) {
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xC0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xE0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xF0 | (cp >> 18));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_put(b, u, n);
}

/* A string starting at p (on its '"'). Returns the position after the
 * closing quote, or NULL when malformed (or out of memory: out->oom).
 * Decodes into `out` when it is not NULL. */
static const char* json_string(const char* p, const char* end, buf* out) {
    if (p >= end || *p != '"') return NULL;
    ++p;
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL; /* control characters must be escaped */
        if (c != '\\') {
            const char* run = p;
            while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) ++p;
            if (out != NULL && buf_put(out, run, (size_t)(p - run)) != 0) return NULL;
            continue;
        }
        if (end - p < 2) return NULL;
        char esc = p[1];
        p += 2;
        char ch = 0;
        switch (esc) {
            case '"': ch = '"'; break;
            case '\\': ch = '\\'; break;
            case '/': ch = '/'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case 'n': ch = '\n'; break;
            case 'r': ch = '\r'; break;
            case 't': ch = '\t'; break;
            case 'u': {
                unsigned cp = 0;
                if (json_hex4(p, end, &cp) != 0) return NULL;
                p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate needs its low half */
                    unsigned lo = 0;
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || json_hex4(p + 2, end, &lo) != 0 || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return NULL;
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return NULL; /* a lone low surrogate */
                }
                if (out != NULL && json_put_utf8(out, cp) != 0) return NULL;
                continue;
            }
            default: return NULL;
        }
        if (out != NULL && buf_put(out, &ch, 1) != 0) return NULL;
    }
    return NULL; /* no closing quote */
}

static const char* json_digits(const char* p, const char* end) {
    const char* start = p;
    while (p < end && *p >= '0' && *p <= '9') ++p;
    return p == start ? NULL : p;
}

static const char* json_number(const char* p, const char* end) {
    if (p < end && *p == '-') ++p;
    if (p >= end) return NULL;
    if (*p == '0')
        ++p;
    else if ((p = json_digits(p, end)) == NULL)
        return NULL;
    if (p < end && *p == '.' && (p = json_digits(p + 1, end)) == NULL) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        ++p;
        if (p < end && (*p == '+' || *p == '-')) ++p;
        if ((p = json_digits(p, end)) == NULL) return NULL;
    }
    return p;
}

static const char* json_literal(const char* p, const char* end, const char* word) {
    size_t n = strlen(word);
    if ((size_t)(end - p) < n || memcmp(p, word, n) != 0) return NULL;
    return p + n;
}

/* One value starting at p (no leading whitespace). Returns the position
 * after it, or NULL when malformed or nested deeper than JSON_MAX_DEPTH. */
static const char* json_value(const char* p, const char* end, int depth) {
    if (p >= end) return NULL;
    switch (*p) {
        case '"': return json_string(p, end, NULL);
        case 't': return json_literal(p, end, "true");
        case 'f': return json_literal(p, end, "false");
        case 'n': return json_literal(p, end, "null");
        case '{':
        case '[': {
            if (depth >= JSON_MAX_DEPTH) return NULL;
            const int object = *p == '{';
            const char close = object ? '}' : ']';
            p = json_ws(p + 1, end);
            if (p < end && *p == close) return p + 1;
            for (;;) {
                if (object) {
                    if ((p = json_string(p, end, NULL)) == NULL) return NULL;
                    p = json_ws(p, end);
                    if (p >= end || *p != ':') return NULL;
                    p = json_ws(p + 1, end);
                }
                if ((p = json_value(p, end, depth + 1)) == NULL) return NULL;
                p = json_ws(p, end);
                if (p >= end) return NULL;
                if (*p == close) return p + 1;
                if (*p != ',') return NULL;
                p = json_ws(p + 1, end);
            }
        }
        default: return json_number(p, end);
    }
}

/* Whether text is exactly one JSON value (surrounding whitespace allowed). */
static int json_valid(const char* text, size_t len) {
    if (len > 0 && text == NULL) return 0;
    const char* end = text + len;
    const char* p = json_ws(text, end);
    p = json_value(p, end, 0);
    return p != NULL && json_ws(p, end) == end;
}

/* Called for each member of an object: the decoded key (NUL-terminated,
 * key_len bytes) and the value's raw JSON text. A non-zero return stops. */
typedef int (*json_member_fn)(void* ctx, const char* key, size_t key_len, const char* value, size_t value_len);

/* Calls fn for each top-level member of `text`, which must be exactly one
 * JSON object. The whole text is checked before the first call, so a
 * malformed object never half-applies. Returns JSON_OK, JSON_SYNTAX,
 * JSON_NOMEM or fn's non-zero return. */
static int json_object_each(const char* text, size_t len, json_member_fn fn, void* ctx) {
    if (len > 0 && text == NULL) return JSON_SYNTAX;
    const char* end = text + len;
    const char* p = json_ws(text, end);
    if (p >= end || *p != '{') return JSON_SYNTAX;
    const char* after = json_value(p, end, 0);
    if (after == NULL || json_ws(after, end) != end) return JSON_SYNTAX;

    /* Valid: walk it again, member by member. */
    p = json_ws(p + 1, end);
    if (*p == '}') return JSON_OK;
    buf key = {0};
    int rc = JSON_OK;
    for (;;) {
        key.len = 0;
        p = json_string(p, end, &key);
        if (p == NULL || buf_put(&key, "", 0) != 0) { /* buf_put: a NUL even for "" */
            rc = key.oom ? JSON_NOMEM : JSON_SYNTAX;
            break;
        }
        p = json_ws(json_ws(p, end) + 1, end); /* past ':' (checked above) */
        const char* value = p;
        p = json_value(p, end, 1);
        rc = fn(ctx, key.data, key.len, value, (size_t)(p - value));
        if (rc != 0) break;
        p = json_ws(p, end);
        if (*p == '}') break;
        p = json_ws(p + 1, end); /* past ',' */
    }
    buf_free(&key);
    return rc;
}

/* A key written back as a JSON string. */
static int json_put_string(buf* out, const char* s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_put(out, "\"", 1);
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_put(out, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            buf_put(out, esc, 6);
        } else {
            buf_put(out, &s[i], 1);
        }
    }
    return buf_put(out, "\"", 1);
}

/* Looking one member up (in the plugin's answers). */
typedef struct json_lookup {
    const char* key;
    const char* value;
    size_t value_len;
} json_lookup;

static int json_lookup_member(void* ctx, const char* key, size_t key_len, const char* value, size_t value_len) {
    json_lookup* l = ctx;
    if (strlen(l->key) != key_len || memcmp(l->key, key, key_len) != 0) return 0;
    l->value = value;
    l->value_len = value_len;
    return 1; /* found: stop */
}

/* The raw value at a path of keys ("data", "queue", "depth") in a JSON
 * object; 0 when found. */
static int json_get(const char* text, size_t len, const char* const* path, size_t depth, const char** value,
                    size_t* value_len) {
    for (size_t i = 0; i < depth; ++i) {
        json_lookup l = {path[i], NULL, 0};
        if (json_object_each(text, len, json_lookup_member, &l) != 1) return -1;
        text = l.value;
        len = l.value_len;
    }
    *value = text;
    *value_len = len;
    return 0;
}

static int json_get_int(const char* text, size_t len, const char* const* path, size_t depth, long long* out) {
    const char* v = NULL;
    size_t n = 0;
    char tmp[32];
    if (json_get(text, len, path, depth, &v, &n) != 0 || n == 0 || n >= sizeof tmp) return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char* endp = NULL;
    errno = 0;
    long long x = strtoll(tmp, &endp, 10);
    if (errno != 0 || endp != tmp + n) return -1;
    *out = x;
    return 0;
}

static int json_get_bool(const char* text, size_t len, const char* const* path, size_t depth, int* out) {
    const char* v = NULL;
    size_t n = 0;
    if (json_get(text, len, path, depth, &v, &n) != 0) return -1;
    if (n == 4 && memcmp(v, "true", 4) == 0)
        *out = 1;
    else if (n == 5 && memcmp(v, "false", 5) == 0)
        *out = 0;
    else
        return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The settings store: one JSON object, merged at the top level             */
/* ------------------------------------------------------------------------ */

typedef struct kv {
    char* key; /* decoded, NUL-terminated */
    size_t key_len;
    char* value; /* raw JSON text, NUL-terminated */
    size_t value_len;
} kv;

typedef struct kvlist {
    kv* items;
    size_t count;
    size_t cap;
} kvlist;

static void kv_free(kvlist* l) {
    for (size_t i = 0; i < l->count; ++i) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

static kv* kv_find(const kvlist* l, const char* key, size_t key_len) {
    for (size_t i = 0; i < l->count; ++i)
        if (l->items[i].key_len == key_len && memcmp(l->items[i].key, key, key_len) == 0) return &l->items[i];
    return NULL;
}

/* Sets key to value (raw JSON); with only_if_absent, keeps a present one
 * (how defaults meet stored values). On failure the list is unchanged. */
static int kv_set(kvlist* l, const char* key, size_t key_len, const char* value, size_t value_len, int only_if_absent) {
    kv* found = kv_find(l, key, key_len);
    if (found != NULL && only_if_absent) return 0;
    pb_str v = {value, value_len};
    char* vcopy = copy_str(v);
    if (vcopy == NULL) return -1;
    if (found != NULL) {
        free(found->value);
        found->value = vcopy;
        found->value_len = value_len;
        return 0;
    }
    if (l->count == l->cap) {
        size_t cap = l->cap > 0 ? l->cap * 2 : 64;
        kv* items = cap <= SIZE_MAX / sizeof *items ? realloc(l->items, cap * sizeof *items) : NULL;
        if (items == NULL) {
            free(vcopy);
            return -1;
        }
        l->items = items;
        l->cap = cap;
    }
    pb_str k = {key, key_len};
    char* kcopy = copy_str(k);
    if (kcopy == NULL) {
        free(vcopy);
        return -1;
    }
    l->items[l->count++] = (kv){kcopy, key_len, vcopy, value_len};
    return 0;
}

static int kv_clone(const kvlist* src, kvlist* dst) {
    kvlist out = {0};
    for (size_t i = 0; i < src->count; ++i) {
        const kv* e = &src->items[i];
        if (kv_set(&out, e->key, e->key_len, e->value, e->value_len, 0) != 0) {
            kv_free(&out);
            return -1;
        }
    }
    *dst = out;
    return 0;
}

static int kv_serialize(const kvlist* l, buf* out) {
    out->len = 0;
    buf_put(out, "{", 1);
    for (size_t i = 0; i < l->count; ++i) {
        if (i > 0) buf_put(out, ",", 1);
        json_put_string(out, l->items[i].key, l->items[i].key_len);
        buf_put(out, ":", 1);
        buf_put(out, l->items[i].value, l->items[i].value_len);
    }
    buf_put(out, "}", 1);
    return out->oom ? -1 : 0;
}

static int kv_merge_member(void* ctx, const char* key, size_t key_len, const char* value, size_t value_len) {
    /* null is stored as null, not as "remove the key": the plugin writes
     * retired keys as null (docs/host-integration.md), and a merge only adds
     * or replaces. */
    return kv_set(ctx, key, key_len, value, value_len, 0) == 0 ? 0 : JSON_NOMEM;
}

typedef struct settings_store {
    pthread_mutex_t mu;       /* guards values: held briefly, never across a call into the plugin */
    pthread_mutex_t write_mu; /* one write (merge, store, settings_changed) at a time */
    kvlist values;
    char path[PATH_MAX]; /* <data_dir>/settings.json */
} settings_store;

/* Writes the file next to itself and renames it over, so a crash leaves the
 * old settings or the new ones, never half of either; fsync makes the
 * rename durable, as the ABI asks of settings_write. */
static int write_file_atomic(const char* path, const char* data, size_t len, char* err, size_t err_len) {
    char tmp[PATH_MAX];
    char why[128] = "";
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        snprintf(err, err_len, "the settings path is too long");
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto io_error;
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            errno = e;
            goto io_error;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        goto io_error;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) goto io_error;
    {
        /* The directory entry too: without this the rename may not survive
         * a power cut. Some file systems refuse fsync on a directory
         * (EINVAL): nothing more can be done there. */
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", path);
        char* slash = strrchr(dir, '/');
        if (slash != NULL) *slash = '\0';
        int dfd = open(slash != NULL && dir[0] != '\0' ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            int rc = fsync(dfd);
            int e = errno;
            close(dfd);
            if (rc != 0 && e != EINVAL) {
                errno = e;
                goto io_error;
            }
        }
    }
    return 0;
io_error:
    if (strerror_r(errno, why, sizeof why) != 0) snprintf(why, sizeof why, "error %d", errno);
    snprintf(err, err_len, "cannot write %s: %s", path, why);
    unlink(tmp);
    return -1;
}

static int store_init(settings_store* s, const char* data_dir) {
    memset(s, 0, sizeof *s);
    if (snprintf(s->path, sizeof s->path, "%s/settings.json", data_dir) >= (int)sizeof s->path)
        return fail("the data directory path is too long");
    if (pthread_mutex_init(&s->write_mu, NULL) != 0) return fail("cannot create the settings lock");
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_mutex_destroy(&s->write_mu);
        return fail("cannot create the settings lock");
    }
    return 0;
}

static void store_destroy(settings_store* s) {
    kv_free(&s->values);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
}

/* Loads the stored settings, if there are any. A file that is not a JSON
 * object is refused, never overwritten: the user may want it back. */
static int store_load(settings_store* s) {
    FILE* f = fopen(s->path, "rb");
    if (f == NULL) return errno == ENOENT ? 0 : fail("cannot open %s: %s", s->path, strerror(errno));
    buf text = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (text.len + n > SETTINGS_FILE_MAX) {
            fclose(f);
            buf_free(&text);
            return fail("%s is larger than %u bytes", s->path, SETTINGS_FILE_MAX);
        }
        buf_put(&text, chunk, n);
    }
    int read_error = ferror(f);
    fclose(f);
    if (read_error || text.oom) {
        buf_free(&text);
        return fail(read_error ? "cannot read %s" : "out of memory reading %s", s->path);
    }
    int rc = json_object_each(text.data, text.len, kv_merge_member, &s->values);
    buf_free(&text);
    if (rc == JSON_NOMEM) return fail("out of memory reading %s", s->path);
    if (rc != JSON_OK) return fail("%s is not a JSON object; fix or move it", s->path);
    return 0;
}

/* The whole object, as the plugin reads it. */
static int store_snapshot(settings_store* s, buf* out) {
    pthread_mutex_lock(&s->mu);
    int rc = kv_serialize(&s->values, out);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The object the store would hold after `patch`, without storing it. */
static pb_status store_preview(settings_store* s, pb_str patch, kvlist* next, buf* text, const char** why) {
    pthread_mutex_lock(&s->mu);
    int rc = kv_clone(&s->values, next);
    pthread_mutex_unlock(&s->mu);
    if (rc != 0) {
        *why = "out of memory";
        return PB_ERR_INTERNAL;
    }
    rc = json_object_each(patch.data, patch.len, kv_merge_member, next);
    if (rc == JSON_OK) rc = kv_serialize(next, text) == 0 ? JSON_OK : JSON_NOMEM;
    if (rc == JSON_OK) return PB_OK;
    kv_free(next);
    *why = rc == JSON_SYNTAX ? "settings patch must be a JSON object" : "out of memory";
    return rc == JSON_SYNTAX ? PB_ERR_INVALID_ARGUMENT : PB_ERR_INTERNAL;
}

/* ------------------------------------------------------------------------ */
/* The host                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct route {
    char* method;
    char* pattern;
    pb_route_auth auth;
    uint64_t max_body_bytes;
    pb_route_handler handler;
    void* route_ctx;
} route;

typedef struct host {
    char data_dir[PATH_MAX]; /* the plugin's files and settings.json, kept across runs */

    pb_host_api api;
    pb_plugin_api plugin;
    /* The entry succeeded with a whole table: destroy() is owed, and
     * settings_changed follows each write. Set before start() and cleared
     * after destroy(), on the host thread, so no plugin thread ever sees it
     * change. */
    int plugin_loaded;

    /* Registrations count only while the entry runs (the ABI's rule). The
     * flag is read by whichever thread calls register_*, hence atomic. */
    atomic_int registering;

    /* What the settings are like. A host that draws a form keeps copies of
     * the descriptors instead (the strings are borrowed). */
    size_t settings_count, settings_secret, settings_internal, settings_read_only;
    route* routes;
    size_t routes_count, routes_cap;
    char** events;
    size_t events_count, events_cap;
    char* page_title;
    char* page_path;

    settings_store store;

    atomic_uint searches_asked;
    atomic_uint log_errors;
    atomic_uint log_warnings;
} host;

/* Appends one element to a growable array, reporting failure. */
static int grow(void** items, size_t* count, size_t* cap, size_t elem) {
    if (*count < *cap) return 0;
    size_t n = *cap > 0 ? *cap * 2 : 16;
    if (n > SIZE_MAX / elem) return -1;
    void* p = realloc(*items, n * elem);
    if (p == NULL) return -1;
    *items = p;
    *cap = n;
    return 0;
}

/* ---- log ---------------------------------------------------------------- */

static void cb_log(void* ctx, pb_log_level level, pb_str message) {
    host* h = ctx;
    static const char* const names[] = {"?", "debug", "info", "warning", "error"};
    if (level < PB_LOG_DEBUG || level > PB_LOG_ERROR) level = PB_LOG_ERROR; /* from a later minor: the header's rule */
    if (level == PB_LOG_ERROR) atomic_fetch_add(&h->log_errors, 1u);
    if (level == PB_LOG_WARNING) atomic_fetch_add(&h->log_warnings, 1u);
    /* One fprintf per line: stdio locks the stream per call, so lines from
     * the plugin's threads do not interleave. */
    fprintf(stderr, "  [plugin %s] %.*s\n", names[level], print_len(message.len), str_data(message));
}

/* ---- registration -------------------------------------------------------- */

static pb_status cb_register_setting(void* ctx, const pb_setting_desc* in) {
    host* h = ctx;
    if (!atomic_load(&h->registering) || in == NULL) return PB_ERR_INVALID_ARGUMENT;
    pb_setting_desc d;
    READ_STRUCT(d, in);
    if (d.name.len == 0 || !json_valid(str_data(d.default_json), d.default_json.len)) return PB_ERR_INVALID_ARGUMENT;

    /* The default fills in what the store does not have yet; a stored
     * value (from an earlier run) wins. */
    pthread_mutex_lock(&h->store.mu);
    int rc = kv_set(&h->store.values, str_data(d.name), d.name.len, str_data(d.default_json), d.default_json.len, 1);
    pthread_mutex_unlock(&h->store.mu);
    if (rc != 0) return PB_ERR_INTERNAL;

    /* access is 1.1: read only when the plugin's struct has it. 0 (a 1.0
     * plugin) means USER; a value from a later minor, or a type this host
     * does not know, means INTERNAL: never draw what you cannot read. */
    pb_setting_access access = PB_HAS_FIELD(&d, pb_setting_desc, access) ? d.access : PB_SETTING_ACCESS_USER;
    if (access == 0) access = PB_SETTING_ACCESS_USER;
    if (access > PB_SETTING_ACCESS_INTERNAL || d.type < PB_SETTING_BOOL || d.type > PB_SETTING_JSON)
        access = PB_SETTING_ACCESS_INTERNAL;
    h->settings_count++;
    h->settings_secret += d.secret != 0;
    h->settings_internal += access == PB_SETTING_ACCESS_INTERNAL;
    h->settings_read_only += access == PB_SETTING_ACCESS_READ_ONLY;
    return PB_OK;
}

static int starts_with(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static pb_status cb_register_route(void* ctx, const pb_route_desc* in) {
    host* h = ctx;
    if (!atomic_load(&h->registering) || in == NULL) return PB_ERR_INVALID_ARGUMENT;
    pb_route_desc d;
    READ_STRUCT(d, in);
    if (d.handler == NULL || d.method.len == 0 || d.path_pattern.len == 0) return PB_ERR_INVALID_ARGUMENT;
    if (grow((void**)&h->routes, &h->routes_count, &h->routes_cap, sizeof *h->routes) != 0) return PB_ERR_INTERNAL;
    route r;
    memset(&r, 0, sizeof r);
    r.method = copy_str(d.method);
    r.pattern = copy_str(d.path_pattern);
    if (r.method == NULL || r.pattern == NULL) {
        free(r.method);
        free(r.pattern);
        return PB_ERR_INTERNAL;
    }
    /* Only where the ABI says a plugin's routes live: API routes under
     * /api/, a page's files under /plugins/ (1.1). A NUL inside the pattern
     * would make the copy shorter than the plugin meant: refuse that too. */
    if (strlen(r.pattern) != d.path_pattern.len || strlen(r.method) != d.method.len ||
        !(starts_with(r.pattern, "/api/") || starts_with(r.pattern, "/plugins/"))) {
        free(r.method);
        free(r.pattern);
        return PB_ERR_INVALID_ARGUMENT;
    }
    /* 0, or a value from a later minor: the host authenticates (the
     * header's rule); public only when the plugin says so in words we know. */
    r.auth = d.auth == PB_ROUTE_AUTH_NONE ? PB_ROUTE_AUTH_NONE : PB_ROUTE_AUTH_HOST_APIKEY;
    r.max_body_bytes = d.max_body_bytes != 0 ? d.max_body_bytes : DEFAULT_MAX_BODY;
    r.handler = d.handler;
    r.route_ctx = d.route_ctx; /* borrowed until destroy() returns */
    h->routes[h->routes_count++] = r;
    return PB_OK;
}

static pb_status cb_subscribe_event(void* ctx, pb_str name) {
    host* h = ctx;
    if (!atomic_load(&h->registering) || name.len == 0) return PB_ERR_INVALID_ARGUMENT;
    if (grow((void**)&h->events, &h->events_count, &h->events_cap, sizeof *h->events) != 0) return PB_ERR_INTERNAL;
    char* copy = copy_str(name);
    if (copy == NULL) return PB_ERR_INTERNAL;
    h->events[h->events_count++] = copy;
    return PB_OK;
}

static pb_status cb_register_page(void* ctx, const pb_page_desc* in) {
    host* h = ctx;
    if (!atomic_load(&h->registering) || in == NULL) return PB_ERR_INVALID_ARGUMENT;
    pb_page_desc d;
    READ_STRUCT(d, in);
    char* title = copy_str(d.title);
    char* path = copy_str(d.entry_path);
    if (title == NULL || path == NULL || title[0] == '\0' || !starts_with(path, "/plugins/")) {
        free(title);
        free(path);
        return title == NULL || path == NULL ? PB_ERR_INTERNAL : PB_ERR_INVALID_ARGUMENT;
    }
    free(h->page_title);
    free(h->page_path);
    h->page_title = title;
    h->page_path = path;
    return PB_OK;
}

/* ---- settings -------------------------------------------------------------- */

static pb_status cb_settings_read(void* ctx, pb_str_sink sink, void* sink_ctx) {
    host* h = ctx;
    if (sink == NULL) return PB_ERR_INVALID_ARGUMENT;
    buf text = {0};
    if (store_snapshot(&h->store, &text) != 0) {
        buf_free(&text);
        return PB_ERR_INTERNAL;
    }
    /* Outside the lock: the sink is the plugin's code. */
    pb_str out = {text.data, text.len};
    sink(sink_ctx, out);
    buf_free(&text);
    return PB_OK;
}

static void report(pb_str_sink sink, void* ctx, const char* message) {
    if (sink != NULL) sink(ctx, cstr(message));
}

/* With write_mu held: stores `next` (serialised as `text`) durably, swaps
 * it in (taking it over), then tells the plugin on this thread before
 * returning, as settings_write promises. The file first, the memory after:
 * when the disk refuses, nothing changes anywhere. */
static pb_status store_commit_locked(host* h, kvlist* next, const buf* text, pb_str_sink error_sink, void* error_ctx) {
    settings_store* s = &h->store;
    char err[PATH_MAX + 160];
    if (write_file_atomic(s->path, text->data, text->len, err, sizeof err) != 0) {
        kv_free(next);
        report(error_sink, error_ctx, err);
        return PB_ERR_IO;
    }
    pthread_mutex_lock(&s->mu);
    kvlist old = s->values;
    s->values = *next;
    pthread_mutex_unlock(&s->mu);
    kv_free(&old);
    /* Not during the entry call: there is no plugin table yet. write_mu
     * stays held: the plugin never writes from inside settings_changed. */
    if (h->plugin_loaded) h->plugin.settings_changed(h->plugin.plugin_ctx, (pb_str){text->data, text->len});
    return PB_OK;
}

/* The ABI's settings_write, for the plugin's own writes: merge, store,
 * settings_changed. */
static pb_status cb_settings_write(void* ctx, pb_str patch, pb_str_sink error_sink, void* error_ctx) {
    host* h = ctx;
    kvlist next = {0};
    buf text = {0};
    const char* why = NULL;
    pthread_mutex_lock(&h->store.write_mu);
    pb_status st = store_preview(&h->store, patch, &next, &text, &why);
    if (st == PB_OK)
        st = store_commit_locked(h, &next, &text, error_sink, error_ctx);
    else
        report(error_sink, error_ctx, why);
    pthread_mutex_unlock(&h->store.write_mu);
    buf_free(&text);
    return st;
}

/* A change "the user made" on the host's settings form: the candidate
 * (stored object with the patch applied) goes through validate_settings
 * first, and only then is stored. The write lock is held throughout so
 * that no other write slips in between the check and the store;
 * validate_settings does no I/O and calls nothing back. */
static pb_status host_user_change(host* h, const char* patch_json, buf* message) {
    kvlist next = {0};
    buf candidate = {0};
    const char* why = NULL;
    message->len = 0;
    pthread_mutex_lock(&h->store.write_mu);
    pb_status st = store_preview(&h->store, cstr(patch_json), &next, &candidate, &why);
    if (st != PB_OK) {
        buf_puts(message, why);
    } else {
        pb_str c = {candidate.data, candidate.len};
        st = h->plugin.validate_settings(h->plugin.plugin_ctx, c, sink_to_buf, message);
        if (st == PB_OK)
            st = store_commit_locked(h, &next, &candidate, sink_to_buf, message);
        else
            kv_free(&next);
    }
    pthread_mutex_unlock(&h->store.write_mu);
    buf_free(&candidate);
    return st;
}

/* ---- searches --------------------------------------------------------------- */

/* This host has no media library, so it can search for nothing: it counts
 * and prints the request and says so (UNKNOWN_MEDIA). A real host looks the
 * ids up and queues a search (copying the strings: they are borrowed).
 * Returns at once, calls nothing back. */
static pb_search_outcome cb_request_search(void* ctx, const pb_search_request* in) {
    host* h = ctx;
    if (in == NULL) return PB_SEARCH_REFUSED;
    pb_search_request r;
    READ_STRUCT(r, in);
    atomic_fetch_add(&h->searches_asked, 1u);
    printf("  search asked: %s imdb=%.*s tmdb=%lld tvdb=%lld S%dE%d title=\"%.*s\" reason=\"%.*s\"\n",
           r.media_type == PB_MEDIA_EPISODE ? "episode" : "movie", print_len(r.imdb_id.len), str_data(r.imdb_id),
           (long long)r.tmdb_id, (long long)r.tvdb_id, (int)r.season, (int)r.episode, print_len(r.title.len),
           str_data(r.title), print_len(r.reason.len), str_data(r.reason));
    return PB_SEARCH_UNKNOWN_MEDIA;
}

/* ---- responses ---------------------------------------------------------------- */

/* An answer, whoever gave it (the plugin, or the host itself: 404, 405,
 * 413, 504). The caller frees it with answer_free. */
typedef struct answer {
    int status;
    buf content_type;
    buf headers; /* "Name: value\n" lines */
    buf body;
} answer;

static void answer_free(answer* a) {
    buf_free(&a->content_type);
    buf_free(&a->headers);
    buf_free(&a->body);
}

/*
 * One request in flight: what a pb_responder* points to. Two parties hold
 * it: the caller waiting for the answer and the plugin, which calls
 * respond() exactly once, from any thread, possibly after the caller gave
 * up waiting. Whoever lets go last frees it, so neither side ever touches
 * freed memory. Every pending request is answered at the latest inside
 * destroy() (with 503), so none outlives the plugin.
 */
typedef struct pending {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;
    answer a;
} pending;

static pending* pending_new(void) {
    pending* p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(p);
        return NULL;
    }
    /* The monotonic clock for timed waits: a wall-clock jump must not end
     * (or stretch) a wait. */
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&p->cv, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(p);
        return NULL;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        pthread_cond_destroy(&p->cv);
        free(p);
        return NULL;
    }
    p->refs = 2;
    return p;
}

static void pending_release(pending* p) {
    pthread_mutex_lock(&p->mu);
    int last = --p->refs == 0;
    pthread_mutex_unlock(&p->mu);
    if (!last) return;
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    answer_free(&p->a);
    free(p);
}

static void cb_respond(void* ctx, pb_responder* responder, const pb_http_response* in) {
    (void)ctx;
    pending* p = (pending*)responder;
    if (p == NULL) return;
    pb_http_response r;
    memset(&r, 0, sizeof r);
    if (in != NULL) READ_STRUCT(r, in);

    pthread_mutex_lock(&p->mu);
    if (p->done) {
        /* A second respond() breaks "exactly once". While the caller still
         * waits the pending is alive, so say so and keep its reference;
         * after that the call would touch freed memory, which no host can
         * detect. */
        pthread_mutex_unlock(&p->mu);
        fputs("c-host: the plugin answered one request twice; ignored\n", stderr);
        return;
    }
    /* Copied now: the response is borrowed for this call only. */
    answer* a = &p->a;
    a->status = in != NULL ? r.status : 500;
    buf_put(&a->content_type, str_data(r.content_type), r.content_type.len);
    for (size_t i = 0; r.headers != NULL && i < r.header_count; ++i) {
        buf_put(&a->headers, str_data(r.headers[i].name), r.headers[i].name.len);
        buf_put(&a->headers, ": ", 2);
        buf_put(&a->headers, str_data(r.headers[i].value), r.headers[i].value.len);
        buf_put(&a->headers, "\n", 1);
    }
    buf_put(&a->body, str_data(r.body), r.body.len);
    if (a->content_type.oom || a->headers.oom || a->body.oom) a->status = 500;
    p->done = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pending_release(p);
}

/* ---- routes ------------------------------------------------------------------- */

/*
 * The ABI's route patterns, segment by segment (the reference is
 * common::text::match_path): a literal segment matches itself, "{name}"
 * matches one non-empty segment, and from 1.1 a last segment "{name*}"
 * matches the rest of the path, slashes included, possibly empty.
 * The path is compared still percent-encoded, as the plugin receives it.
 */
static int match_path(const char* pattern, const char* path, size_t path_len) {
    const char* pend = pattern + strlen(pattern);
    const char* send = path + path_len;
    const char* pi = pattern;
    const char* si = path;
    for (;;) {
        const char* pe = memchr(pi, '/', (size_t)(pend - pi));
        const char* se = memchr(si, '/', (size_t)(send - si));
        if (pe == NULL) pe = pend;
        if (se == NULL) se = send;
        size_t plen = (size_t)(pe - pi), slen = (size_t)(se - si);
        if (plen > 3 && pi[0] == '{' && pi[plen - 2] == '*' && pi[plen - 1] == '}')
            return pe == pend; /* the rest, whatever it is; only as the last segment */
        if (plen > 2 && pi[0] == '{' && pi[plen - 1] == '}') {
            if (slen == 0) return 0;
        } else if (plen != slen || memcmp(pi, si, plen) != 0) {
            return 0;
        }
        int p_end = pe == pend, s_end = se == send;
        if (p_end || s_end) return p_end && s_end;
        pi = pe + 1;
        si = se + 1;
    }
}

/* The matcher against the examples of the header and the reference tests,
 * checked at start: a host author who changes it learns at once. */
static int match_path_self_test(void) {
    static const struct {
        const char* pattern;
        const char* path;
        int expected;
    } cases[] = {
        {"/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin/12%2034/check", 1},
        {"/api/plex/oauth/pin/{pinId}/check", "/api/plex/oauth/pin//check", 0},
        {"/api/webhooks/plex", "/api/webhooks/plex", 1},
        {"/api/webhooks/plex", "/api/webhooks/plex/", 0},
        {"/api/webhooks/plex", "/api/webhooks", 0},
        {"/api/webhooks", "/api/webhooks/plex", 0},
        {"/api/webhooks/plex", "/api/webhooks/plexx", 0},
        {"/api/x/{id}", "/api/x/", 0},
        {"/plugins/plexbridge/{file*}", "/plugins/plexbridge/", 1},
        {"/plugins/plexbridge/{file*}", "/plugins/plexbridge/js/app%20x.js", 1},
        {"/plugins/plexbridge/{file*}", "/plugins/plexbridge", 0},
        {"/plugins/{file*}/x", "/plugins/a/x", 0}, /* "{name*}" only last */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        if (match_path(cases[i].pattern, cases[i].path, strlen(cases[i].path)) != cases[i].expected)
            return fail("route matcher: \"%s\" against \"%s\" should give %d", cases[i].pattern, cases[i].path,
                        cases[i].expected);
    }
    return 0;
}

static void host_answer(answer* a, int status, const char* message) {
    a->status = status;
    buf_puts(&a->content_type, "application/json");
    buf_puts(&a->body, "{\"error\":");
    json_put_string(&a->body, message, strlen(message));
    buf_puts(&a->body, "}");
}

/*
 * Calls the plugin's route for `method target` in-process, as a server
 * would after reading a request: find the route, enforce its body limit,
 * hand the request to the handler, wait for respond(). A real server would
 * also check its API key here for PB_ROUTE_AUTH_HOST_APIKEY routes; this
 * host is its own only caller.
 */
static int host_call(host* h, const char* method, const char* target, const char* body, answer* out) {
    memset(out, 0, sizeof *out);
    const char* q = strchr(target, '?');
    size_t path_len = q != NULL ? (size_t)(q - target) : strlen(target);
    const char* query = q != NULL ? q + 1 : "";
    size_t body_len = body != NULL ? strlen(body) : 0;

    const route* r = NULL;
    int path_known = 0;
    for (size_t i = 0; i < h->routes_count && r == NULL; ++i) {
        if (!match_path(h->routes[i].pattern, target, path_len)) continue;
        path_known = 1;
        if (strcmp(h->routes[i].method, method) == 0) r = &h->routes[i];
    }
    if (r == NULL) {
        host_answer(out, path_known ? 405 : 404, path_known ? "method not allowed" : "no such route");
        return 0;
    }
    if ((uint64_t)body_len > r->max_body_bytes) {
        host_answer(out, 413, "request body too large for this route");
        return 0;
    }

    pb_http_header headers[2];
    size_t header_count = 0;
    headers[header_count++] = (pb_http_header){cstr("Accept"), cstr("application/json")};
    if (body_len > 0) headers[header_count++] = (pb_http_header){cstr("Content-Type"), cstr("application/json")};

    pb_http_request req;
    PB_STRUCT_INIT(req);
    req.method = cstr(method);
    req.path = (pb_str){target, path_len};
    req.query = cstr(query);
    req.headers = headers;
    req.header_count = header_count;
    req.body = (pb_str){body != NULL ? body : "", body_len};
    req.remote_address = cstr("127.0.0.1");

    struct timespec deadline;
    if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0) return fail("clock_gettime: %s", strerror(errno));
    deadline.tv_sec += CALL_TIMEOUT_MS / 1000;
    deadline.tv_nsec += (long)(CALL_TIMEOUT_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pending* p = pending_new();
    if (p == NULL) return fail("out of memory for a request");
    /* The request and its strings are borrowed for this call only; the
     * answer may come now (inside the handler) or later from a plugin
     * thread. */
    r->handler(r->route_ctx, &req, (pb_responder*)p);

    pthread_mutex_lock(&p->mu);
    int rc = 0;
    /* 0 is a wake-up (maybe spurious): look again; anything else
     * (ETIMEDOUT) ends the wait. */
    while (!p->done && rc == 0) rc = pthread_cond_timedwait(&p->cv, &p->mu, &deadline);
    int done = p->done;
    if (done) {
        *out = p->a; /* taken over: the pending keeps empty buffers */
        memset(&p->a, 0, sizeof p->a);
    }
    pthread_mutex_unlock(&p->mu);
    /* Timed out: the plugin still holds its reference and frees the
     * pending when it answers (at the latest in destroy()). */
    pending_release(p);
    if (!done) host_answer(out, 504, "the plugin did not answer in time");
    return 0;
}

static void print_answer(const char* method, const char* target, const answer* a) {
    /* The start of the body on one line: an HTML page or a control
     * character must not break the output up. */
    char excerpt[BODY_PRINT_MAX + 1];
    size_t n = a->body.len < BODY_PRINT_MAX ? a->body.len : BODY_PRINT_MAX;
    for (size_t i = 0; i < n; ++i) {
        unsigned char c = (unsigned char)a->body.data[i];
        excerpt[i] = c < 0x20 || c == 0x7F ? ' ' : (char)c;
    }
    excerpt[n] = '\0';
    printf("  %s %s -> %d %s, %zu bytes: %s%s\n", method, target, a->status,
           a->content_type.len > 0 ? a->content_type.data : "application/json", a->body.len, excerpt,
           a->body.len > n ? "..." : "");
}

/* Calls a route, prints the answer and checks its status. The answer goes
 * to `out` when the call succeeds and the caller wants it; else it is freed. */
static int expect_status(host* h, const char* method, const char* target, const char* body, int status, answer* out) {
    answer local;
    answer* a = out != NULL ? out : &local;
    int rc = host_call(h, method, target, body, a);
    if (rc == 0) print_answer(method, target, a);
    if (rc == 0 && a->status != status) rc = fail("%s %s answered %d, expected %d", method, target, a->status, status);
    if (rc != 0 || out == NULL) answer_free(a);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Loading, running, unloading                                              */
/* ------------------------------------------------------------------------ */

static void host_free(host* h) {
    for (size_t i = 0; i < h->routes_count; ++i) {
        free(h->routes[i].method);
        free(h->routes[i].pattern);
    }
    free(h->routes);
    for (size_t i = 0; i < h->events_count; ++i) free(h->events[i]);
    free(h->events);
    free(h->page_title);
    free(h->page_path);
    store_destroy(&h->store);
}

/* dlsym gives a void*; ISO C does not define converting it to a function
 * pointer, POSIX guarantees it works. memcpy says so without a cast that
 * -pedantic warns about. */
static int load_symbol(void* lib, const char* name, void* fn_out, size_t fn_size) {
    dlerror();
    void* sym = dlsym(lib, name);
    const char* err = dlerror();
    if (err != NULL || sym == NULL) return fail("the library has no %s: %s", name, err != NULL ? err : "NULL");
    if (fn_size != sizeof sym) return fail("function and object pointers differ in size here");
    memcpy(fn_out, &sym, fn_size);
    return 0;
}

static int has_event(const host* h, const char* name) {
    for (size_t i = 0; i < h->events_count; ++i)
        if (strcmp(h->events[i], name) == 0) return 1;
    return 0;
}

static void print_registrations(const host* h) {
    printf("  %zu settings (%zu a form draws, %zu of them read-only; %zu secret)\n", h->settings_count,
           h->settings_count - h->settings_internal, h->settings_read_only, h->settings_secret);
    printf("  %zu routes:", h->routes_count);
    for (size_t i = 0; i < h->routes_count; ++i)
        printf("%s %s %s", i % 3 == 0 ? "\n   " : ",", h->routes[i].method, h->routes[i].pattern);
    printf("\n  %zu events:", h->events_count);
    for (size_t i = 0; i < h->events_count; ++i) printf(" %s", h->events[i]);
    if (h->page_path != NULL)
        printf("\n  page: \"%s\" at %s\n", h->page_title, h->page_path);
    else
        printf("\n  page: none\n");
}

/* Everything after a successful entry: routes, settings, the event. The
 * caller destroys the plugin whatever this returns. */
static int exercise(host* h) {
    answer a;
    int rc = 0;
    static const char* const k_enabled[] = {"data", "enabled"};
    static const char* const k_depth[] = {"data", "queue", "depth"};
    static const char* const k_use_plex[] = {"data", "values", "use_plex"};

    printf("routes\n");
    if (expect_status(h, "GET", "/api/plex/status", NULL, 200, &a) != 0) return -1;
    int enabled = -1;
    if (json_get_bool(a.body.data, a.body.len, k_enabled, 2, &enabled) != 0)
        rc = fail("the status has no data.enabled");
    answer_free(&a);
    if (rc != 0) return rc;
    if (h->page_path != NULL) {
        /* The page's entry: the "{file*}" pattern matching an empty rest.
         * Its headers (Content-Security-Policy, ETag...) are the plugin's
         * to set: a server passes them through. */
        if (expect_status(h, "GET", h->page_path, NULL, 200, &a) != 0) return -1;
        if (a.headers.data == NULL || strstr(a.headers.data, "Content-Security-Policy: ") == NULL)
            rc = fail("the page came without its Content-Security-Policy header");
        answer_free(&a);
        if (rc != 0) return rc;
    }
    /* The host's own answers for what the plugin did not register. */
    if (expect_status(h, "GET", "/api/plex/no-such-route", NULL, 404, NULL) != 0 ||
        expect_status(h, "DELETE", "/api/plex/status", NULL, 405, NULL) != 0)
        return -1;

    printf("settings\n");
    buf message = {0};
    /* A change the user made that the plugin refuses: nothing is stored,
     * and the message names the field ("port: ..."). */
    pb_status st = host_user_change(h, "{\"port\": 0}", &message);
    printf("  user sets port 0: %s (%.*s)\n", st == PB_OK ? "stored" : "refused", print_len(message.len),
           message.data != NULL ? message.data : "");
    if (st == PB_OK || message.data == NULL || !starts_with(message.data, "port: "))
        rc = fail("the plugin should refuse port 0 with a message that starts with \"port: \"");
    /* One it accepts: refresh the movie library after subtitle events. */
    if (rc == 0) {
        st = host_user_change(h, "{\"update_movie_library\": true}", &message);
        printf("  user sets update_movie_library: %s%.*s\n",
               st == PB_OK ? "stored" : "refused: ", print_len(message.len), message.data != NULL ? message.data : "");
        if (st != PB_OK) rc = fail("the plugin refused update_movie_library = true");
    }
    buf_free(&message);
    if (rc != 0) return rc;
    /* And through the plugin's own settings route (its page uses it): the
     * plugin validates and calls the host's settings_write itself. */
    if (expect_status(h, "PATCH", "/api/plex/settings", "{\"use_plex\": true}", 200, &a) != 0) return -1;
    int use_plex = -1;
    if (json_get_bool(a.body.data, a.body.len, k_use_plex, 3, &use_plex) != 0 || use_plex != 1)
        rc = fail("the plugin's settings route did not show use_plex = true");
    answer_free(&a);
    if (rc != 0) return rc;
    /* The store has it too: the plugin's write reached the host. */
    pthread_mutex_lock(&h->store.mu);
    const kv* stored = kv_find(&h->store.values, "use_plex", strlen("use_plex"));
    int stored_ok = stored != NULL && strcmp(stored->value, "true") == 0;
    pthread_mutex_unlock(&h->store.mu);
    printf("  stored use_plex: %s (%s)\n", stored_ok ? "true" : "not true", h->store.path);
    if (!stored_ok) return fail("the plugin's settings_write did not reach the store");

    printf("event\n");
    static const char event_name[] = "subtitle.downloaded";
    static const char payload[] =
        "{\"type\": \"movie\", \"imdb\": \"tt0253556\", \"tmdb\": 6278,"
        " \"path\": \"/data/movies/Reign of Fire (2002)/Reign of Fire (2002).mp4\","
        " \"subtitle\": {\"path\": \"/data/movies/Reign of Fire (2002)/Reign of Fire (2002).en.srt\","
        " \"language\": \"en\", \"forced\": false, \"hearing_impaired\": false}}";
    if (!has_event(h, event_name)) return fail("the plugin did not subscribe to %s", event_name);
    pb_event ev;
    PB_STRUCT_INIT(ev);
    ev.name = cstr(event_name);
    ev.payload_json = cstr(payload);
    /* on_event copies and returns at once; the plugin's status shows the
     * event queued once its thread has taken it. */
    h->plugin.on_event(h->plugin.plugin_ctx, &ev);
    printf("  fired %s for tt0253556\n", event_name);
    long long depth = -1;
    int64_t until = now_ms() + EVENT_TIMEOUT_MS;
    for (;;) {
        if (host_call(h, "GET", "/api/plex/status", NULL, &a) != 0) return -1;
        if (a.status == 200 && json_get_int(a.body.data, a.body.len, k_depth, 3, &depth) == 0 && depth >= 1) {
            const char* queue = NULL;
            size_t queue_len = 0;
            if (json_get(a.body.data, a.body.len, k_depth, 2, &queue, &queue_len) == 0)
                printf("  GET /api/plex/status -> 200, data.queue: %.*s\n", print_len(queue_len), queue);
            answer_free(&a);
            break;
        }
        answer_free(&a);
        if (now_ms() > until) return fail("the event did not reach the plugin's refresh queue");
        sleep_ms(100);
    }
    printf("  the plugin queued it (queue depth %lld)\n", depth);
    return 0;
}

static void usage(FILE* to) {
    fprintf(to,
            "usage: c-host [--plugin PATH] [--data-dir DIR]\n"
            "  --plugin PATH   the plugin library; default: $PLEXBRIDGE_PLUGIN\n"
            "                  (pkg-config --variable=plugin plexbridge gives it)\n"
            "  --data-dir DIR  settings.json and the plugin's files, kept and read back\n"
            "                  on the next run; default: ./c-host-data\n");
}

int main(int argc, char** argv) {
    const char* plugin_path = getenv("PLEXBRIDGE_PLUGIN");
    const char* data_dir = "./c-host-data";
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--plugin") == 0 && i + 1 < argc) {
            plugin_path = argv[++i];
        } else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (plugin_path == NULL || plugin_path[0] == '\0') {
        usage(stderr);
        fail("no plugin: give --plugin PATH or set PLEXBRIDGE_PLUGIN");
        return 2;
    }
    /* Output goes to a pipe under ctest: line-buffer it so that it
     * interleaves sensibly with the plugin's log on stderr. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (match_path_self_test() != 0) return 1;

    /* One data directory for good: the settings are read back from it at
     * start, and the plugin keeps its key and refresh queue there. */
    static host h; /* static: zeroed, and off the stack (it holds paths and records) */
    if (snprintf(h.data_dir, sizeof h.data_dir, "%s", data_dir) >= (int)sizeof h.data_dir) {
        fail("--data-dir is too long");
        return 1;
    }
    if (mkdir(h.data_dir, 0700) != 0 && errno != EEXIST) {
        fail("cannot create %s: %s", h.data_dir, strerror(errno));
        return 1;
    }
    atomic_init(&h.registering, 0);
    atomic_init(&h.searches_asked, 0u);
    atomic_init(&h.log_errors, 0u);
    atomic_init(&h.log_warnings, 0u);
    if (store_init(&h.store, h.data_dir) != 0) return 1;
    int rc = store_load(&h.store);
    if (rc == 0 && h.store.values.count > 0)
        printf("read back %zu stored setting(s) from %s\n", h.store.values.count, h.store.path);

    /* 1. Load and negotiate. RTLD_LOCAL keeps the plugin's symbols out of
     * the global namespace; RTLD_NOW finds a missing symbol here, not in
     * the middle of a call. */
    void* lib = NULL;
    pb_abi_version_fn version_fn = NULL;
    pb_entry_fn entry_fn = NULL;
    if (rc == 0) {
        printf("loading %s\n", plugin_path);
        lib = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
        if (lib == NULL) rc = fail("cannot load the plugin: %s", dlerror());
    }
    if (rc == 0) rc = load_symbol(lib, PB_ABI_VERSION_SYMBOL, &version_fn, sizeof version_fn);
    if (rc == 0) rc = load_symbol(lib, PB_ENTRY_SYMBOL, &entry_fn, sizeof entry_fn);
    if (rc == 0) {
        uint32_t v = version_fn();
        printf("  plugin ABI %u.%u, this host %u.%u\n", (unsigned)PB_ABI_MAJOR(v), (unsigned)PB_ABI_MINOR(v),
               (unsigned)PB_ABI_VERSION_MAJOR, (unsigned)PB_ABI_VERSION_MINOR);
        if (PB_ABI_MAJOR(v) != PB_ABI_VERSION_MAJOR)
            rc = fail("the plugin speaks ABI %u.x, this host %u.x: not loaded", (unsigned)PB_ABI_MAJOR(v),
                      (unsigned)PB_ABI_VERSION_MAJOR);
        else if (PB_ABI_MINOR(v) < PB_ABI_VERSION_MINOR)
            /* An older minor loads: what it does not know stays zero, and
             * every later field is read behind PB_HAS_FIELD. */
            printf("  an older plugin: fields after ABI 1.%u stay zero\n", (unsigned)PB_ABI_MINOR(v));
    }

    /* 2. The host's table, then the entry. */
    if (rc == 0) {
        PB_STRUCT_INIT(h.api);
        h.api.abi_version = PB_ABI_VERSION;
        h.api.host_ctx = &h;
        h.api.host_name = cstr(HOST_NAME);
        h.api.data_dir = cstr(h.data_dir);
        h.api.log = cb_log;
        h.api.register_setting = cb_register_setting;
        h.api.register_route = cb_register_route;
        h.api.subscribe_event = cb_subscribe_event;
        h.api.settings_read = cb_settings_read;
        h.api.settings_write = cb_settings_write;
        h.api.respond = cb_respond;
        h.api.request_search = cb_request_search;
        h.api.register_page = cb_register_page; /* 1.1: this host can serve the plugin's page */
        PB_STRUCT_INIT(h.plugin);

        atomic_store(&h.registering, 1);
        pb_status st = entry_fn(&h.api, &h.plugin);
        atomic_store(&h.registering, 0);
        if (st != PB_OK) {
            /* The plugin said why through log; nothing in h.plugin may be
             * called. */
            rc = fail("the plugin refused to load (status %d); its log above says why", (int)st);
        } else if (!PB_HAS_FIELD(&h.plugin, pb_plugin_api, settings_changed) || h.plugin.destroy == NULL ||
                   h.plugin.start == NULL || h.plugin.on_event == NULL || h.plugin.validate_settings == NULL ||
                   h.plugin.settings_changed == NULL) {
            /* Every 1.0 entry must be there; the plugin says how much of
             * the table it filled. destroy() is still owed if it has one. */
            rc = fail("the plugin's table lacks a 1.0 entry");
            if (h.plugin.destroy != NULL) h.plugin.destroy(h.plugin.plugin_ctx);
        } else {
            h.plugin_loaded = 1;
            printf("  loaded %.*s %.*s (its table: %u bytes)\n", print_len(h.plugin.plugin_id.len),
                   str_data(h.plugin.plugin_id), print_len(h.plugin.plugin_version.len),
                   str_data(h.plugin.plugin_version), (unsigned)h.plugin.struct_size);
        }
    }
    if (rc == 0) print_registrations(&h);

    /* 3. Routes are "mounted" (kept in h.routes): start the plugin. */
    if (rc == 0 && h.plugin.start(h.plugin.plugin_ctx) != PB_OK) rc = fail("the plugin failed to start");
    if (rc == 0) rc = exercise(&h);

    /* 4. Unload, whatever happened: destroy() joins the plugin's threads and
     * answers whatever is still pending; only then may the code go. */
    if (h.plugin_loaded) {
        h.plugin.destroy(h.plugin.plugin_ctx);
        h.plugin_loaded = 0;
        printf("destroyed\n");
    }
    if (lib != NULL && dlclose(lib) != 0) rc = fail("dlclose: %s", dlerror());

    if (entry_fn != NULL) {
        /* No plugin thread is left: destroy() joined them. */
        unsigned errors = atomic_load(&h.log_errors), warnings = atomic_load(&h.log_warnings);
        printf("plugin log: %u error(s), %u warning(s); searches asked: %u\n", errors, warnings,
               atomic_load(&h.searches_asked));
    }
    host_free(&h);
    if (rc != 0) return 1;
    printf("c-host: OK\n");
    return 0;
}

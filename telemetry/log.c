/* Structured, leveled logging: text or JSON lines on a file descriptor, one write per line. */
#include "telemetry/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TEL_LOG_LINE_MAX 4096

static _Atomic int log_level = TEL_LOG_INFO;
static enum tel_log_format log_format = TEL_LOG_TEXT;
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tel_log_setup(enum tel_log_level level, enum tel_log_format format, int fd)
{
    atomic_store(&log_level, (int)level);
    log_format = format;
    log_fd = fd;
}

int tel_log_level_parse(const char *s, enum tel_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum tel_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

int tel_log_format_parse(const char *s, enum tel_log_format *out)
{
    if (strcmp(s, "text") == 0) {
        *out = TEL_LOG_TEXT;
        return 0;
    }
    if (strcmp(s, "json") == 0) {
        *out = TEL_LOG_JSON;
        return 0;
    }
    return -EINVAL;
}

const char *tel_log_level_name(enum tel_log_level level)
{
    if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
        return "unknown";
    return level_names[level];
}

bool tel_log_enabled(enum tel_log_level level)
{
    return (int)level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

/* Keys whose values are credentials by name: logged as "[hidden]" whatever the caller passed. */
static bool key_is_secret(const char *key)
{
    static const char *const words[] = {"authorization", "api_key", "apikey",   "api-key",
                                        "token",         "secret",  "password", "cookie"};
    /* One pass over the key, comparing only where a word's first letter stands: this runs
     * for every field of every record (an access line has twenty). */
    for (const char *p = key; *p; p++) {
        char c = (char)(*p | 0x20);
        if (c != 'a' && c != 't' && c != 's' && c != 'p' && c != 'c')
            continue;
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (words[i][0] == c && strncasecmp(p, words[i], strlen(words[i])) == 0)
                return true;
        }
    }
    return false;
}

/* A bounded appender: writes stop at the cap, `over` remembers that something was lost. */
struct line {
    char *buf;
    size_t cap, len;
    bool over;
};

static void put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > l->cap) {
        n = l->cap - l->len;
        l->over = true;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct line *l, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* JSON string body escaping; control bytes as \u00XX. Bytes >= 0x80 pass through. */
static void put_json_escaped(struct line *l, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            puts_(l, "\\\"");
            break;
        case '\\':
            puts_(l, "\\\\");
            break;
        case '\n':
            puts_(l, "\\n");
            break;
        case '\r':
            puts_(l, "\\r");
            break;
        case '\t':
            puts_(l, "\\t");
            break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                putf(l, "\\u%04x", *p);
            else
                put(l, (const char *)p, 1);
        }
    }
}

/* Text values are quoted when they hold spaces, quotes, '=' or control bytes, so a line
 * always splits back into the same key=value pairs. */
static void put_text_value(struct line *l, const char *s)
{
    bool quote = *s == '\0';
    for (const unsigned char *p = (const unsigned char *)s; *p && !quote; p++)
        quote = *p <= ' ' || *p == '"' || *p == '=' || *p == 0x7f;
    if (!quote) {
        puts_(l, s);
        return;
    }
    put(l, "\"", 1);
    put_json_escaped(l, s);
    put(l, "\"", 1);
}

static void put_value(struct line *l, enum tel_log_format format, const struct tel_field *f)
{
    const char *s;
    switch (f->type) {
    case TEL_FIELD_STR:
        s = key_is_secret(f->key) ? "[hidden]" : (f->v.s ? f->v.s : "");
        if (format == TEL_LOG_JSON) {
            put(l, "\"", 1);
            put_json_escaped(l, s);
            put(l, "\"", 1);
        } else {
            put_text_value(l, s);
        }
        break;
    case TEL_FIELD_INT:
        putf(l, "%" PRId64, f->v.i);
        break;
    case TEL_FIELD_UINT:
        putf(l, "%" PRIu64, f->v.u);
        break;
    case TEL_FIELD_DBL:
        putf(l, "%.6g", f->v.d);
        break;
    case TEL_FIELD_BOOL:
        puts_(l, f->v.b ? "true" : "false");
        break;
    case TEL_FIELD_END:
        break;
    }
}

size_t tel_log_format_record(char *buf, size_t cap, enum tel_log_format format,
                             enum tel_log_level level, int64_t ts_ms, const char *event,
                             const struct tel_field *fields)
{
    static const char ellipsis[] = "...";
    struct line l = {.buf = buf, .cap = cap > sizeof(ellipsis) ? cap - sizeof(ellipsis) : 0};
    char ts[40];
    time_t secs = (time_t)(ts_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(ts_ms % 1000));

    if (cap == 0)
        return 0;
    if (format == TEL_LOG_JSON) {
        puts_(&l, "{\"ts\":\"");
        puts_(&l, ts);
        puts_(&l, "\",\"level\":\"");
        puts_(&l, tel_log_level_name(level));
        puts_(&l, "\",\"event\":\"");
        put_json_escaped(&l, event);
        put(&l, "\"", 1);
        for (const struct tel_field *f = fields; f && f->type != TEL_FIELD_END; f++) {
            puts_(&l, ",\"");
            put_json_escaped(&l, f->key);
            puts_(&l, "\":");
            put_value(&l, format, f);
        }
        put(&l, "}", 1);
    } else {
        puts_(&l, ts);
        put(&l, " ", 1);
        puts_(&l, tel_log_level_name(level));
        put(&l, " ", 1);
        puts_(&l, event);
        for (const struct tel_field *f = fields; f && f->type != TEL_FIELD_END; f++) {
            put(&l, " ", 1);
            puts_(&l, f->key);
            put(&l, "=", 1);
            put_value(&l, format, f);
        }
    }
    if (l.over) {
        /* A cut JSON record would not parse: end it as a valid object that says so. */
        if (format == TEL_LOG_JSON) {
            l.len = 0;
            l.over = false;
            puts_(&l, "{\"ts\":\"");
            puts_(&l, ts);
            puts_(&l, "\",\"level\":\"");
            puts_(&l, tel_log_level_name(level));
            puts_(&l, "\",\"event\":\"");
            put_json_escaped(&l, event);
            puts_(&l, "\",\"truncated\":true}");
        } else {
            memcpy(buf + l.len, ellipsis, sizeof(ellipsis) - 1);
            l.len += sizeof(ellipsis) - 1;
        }
    }
    buf[l.len] = '\0';
    return l.len;
}

/* A thread's batch of whole lines (tel_log_thread_buffer). */
#define LOG_BATCH (64 * 1024)
static _Thread_local char *batch;
static _Thread_local size_t batch_len;

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(log_fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        n -= (size_t)w;
    }
}

void tel_log_thread_flush(void)
{
    if (batch_len > 0)
        write_all(batch, batch_len); /* whole lines: readers never see a cut one */
    batch_len = 0;
}

int tel_log_thread_buffer(bool on)
{
    tel_log_thread_flush();
    if (!on) {
        free(batch);
        batch = NULL;
        return 0;
    }
    if (batch == NULL && (batch = malloc(LOG_BATCH)) == NULL)
        return -ENOMEM;
    return 0;
}

void tel_log_fields(enum tel_log_level level, const char *event, const struct tel_field *fields)
{
    char buf[TEL_LOG_LINE_MAX];
    struct timespec now;
    if (!tel_log_enabled(level))
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t n =
        tel_log_format_record(buf, sizeof(buf) - 1, log_format, level,
                              (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, event, fields);
    buf[n++] = '\n';
    if (batch && level >= TEL_LOG_INFO) {
        if (batch_len + n > LOG_BATCH)
            tel_log_thread_flush();
        memcpy(batch + batch_len, buf, n);
        batch_len += n;
        return;
    }
    tel_log_thread_flush(); /* what this thread logged before goes first */
    /* One write per record keeps lines from different threads whole (PIPE_BUF for pipes). */
    write_all(buf, n);
}

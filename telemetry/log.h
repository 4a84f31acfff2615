/* Structured, leveled logging: text or JSON lines on a file descriptor, one write per line. */
#ifndef WARDEN_TELEMETRY_LOG_H
#define WARDEN_TELEMETRY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tel_log_level {
    TEL_LOG_ERROR = 0,
    TEL_LOG_WARN,
    TEL_LOG_INFO,
    TEL_LOG_DEBUG,
};

enum tel_log_format {
    TEL_LOG_TEXT = 0,
    TEL_LOG_JSON,
};

enum tel_field_type {
    TEL_FIELD_END = 0,
    TEL_FIELD_STR,
    TEL_FIELD_INT,
    TEL_FIELD_UINT,
    TEL_FIELD_DBL,
    TEL_FIELD_BOOL,
};

/* One key/value of a log record. Records take typed fields only, never a free-form
 * message built from request data: bodies and credentials have no way in. */
struct tel_field {
    enum tel_field_type type;
    const char *key;
    union {
        const char *s;
        int64_t i;
        uint64_t u;
        double d;
        bool b;
    } v;
};

#define TEL_STR(k, x)  ((struct tel_field){.type = TEL_FIELD_STR, .key = (k), .v.s = (x)})
#define TEL_INT(k, x)  ((struct tel_field){.type = TEL_FIELD_INT, .key = (k), .v.i = (x)})
#define TEL_UINT(k, x) ((struct tel_field){.type = TEL_FIELD_UINT, .key = (k), .v.u = (x)})
#define TEL_DBL(k, x)  ((struct tel_field){.type = TEL_FIELD_DBL, .key = (k), .v.d = (x)})
#define TEL_BOOL(k, x) ((struct tel_field){.type = TEL_FIELD_BOOL, .key = (k), .v.b = (x)})

/* Log `event` (a fixed, lower_snake_case name such as "listening") with fields. */
#define tel_log(level, event, ...) \
    tel_log_fields((level), (event), (const struct tel_field[]){__VA_ARGS__ __VA_OPT__(, ){0}})

/* Set the process-wide level, format and destination (default: info, text, stderr).
 * Call before threads start. */
void tel_log_setup(enum tel_log_level level, enum tel_log_format format, int fd);

/* Parse "error"/"warn"/"info"/"debug" or "text"/"json"; 0 on success, -EINVAL otherwise. */
int tel_log_level_parse(const char *s, enum tel_log_level *out);
int tel_log_format_parse(const char *s, enum tel_log_format *out);
const char *tel_log_level_name(enum tel_log_level level);

/* Per-thread batching for busy threads (the proxy's workers): after tel_log_thread_buffer
 * (true), this thread's info and debug records gather in a thread-local buffer, whole lines
 * only, and reach the file at tel_log_thread_flush(), when the buffer is nearly full, or just
 * before a warn or error record of the same thread (so its order holds). Off by default;
 * turning it off flushes. Returns 0, or -ENOMEM (records are then written one by one). */
int tel_log_thread_buffer(bool on);
void tel_log_thread_flush(void);

/* True when records at `level` are written; lets callers skip building costly fields. */
bool tel_log_enabled(enum tel_log_level level);

/* Write one record. `fields` ends with a TEL_FIELD_END entry. Field keys named like
 * credentials (authorization, api_key, token, secret, password, cookie) have their
 * values replaced by "[hidden]". Thread-safe: each record is one write(2). */
void tel_log_fields(enum tel_log_level level, const char *event, const struct tel_field *fields);

/* Format one record into buf (NUL-terminated, truncated with "..." when it does not fit);
 * returns the length. Exposed for tests; `ts_ms` is the Unix time in milliseconds. */
size_t tel_log_format_record(char *buf, size_t cap, enum tel_log_format format,
                             enum tel_log_level level, int64_t ts_ms, const char *event,
                             const struct tel_field *fields);

#endif

/* Tamper-evident audit log: one msgpack record per request, chained with HMAC-SHA-256. */
#ifndef WARDEN_TELEMETRY_AUDIT_H
#define WARDEN_TELEMETRY_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* File format (docs/audit.md): a sequence of msgpack arrays [content, hmac] where content is
 * a map with at least "seq" (uint, +1 per record, continuing across files) and "kind"
 * ("open", "request", "dropped", "rotate", "seal") and hmac is a bin of 32 bytes:
 *     hmac = HMAC-SHA-256(key, content bytes || hmac of the previous record)
 * Every file starts with an "open" record that holds the previous record's seq and hmac
 * (32 zero bytes for the first file of a log: the genesis value), so a file alone can be
 * verified and files can be joined. A clean stop ends the file with "seal", a rotation with
 * "rotate"; a restart records how the previous file ended. */

#define TEL_AUDIT_HMAC_LEN   32
#define TEL_AUDIT_LOG_ID_LEN 16
#define TEL_AUDIT_KEY_ID_LEN 8
#define TEL_AUDIT_KEY_MIN    16   /* shorter keys are refused; 32 random bytes recommended */
#define TEL_AUDIT_KEY_MAX    1024 /* longer ones are refused */

/* Reader caps: a file that exceeds one is reported as malformed, never read further. */
#define TEL_AUDIT_RECORD_MAX 65536 /* bytes of one record */
#define TEL_AUDIT_STR_MAX    4096  /* bytes of one string or bin */
#define TEL_AUDIT_ITEMS_MAX  256   /* entries of one array or map */
#define TEL_AUDIT_DEPTH_MAX  4     /* nesting of maps and arrays in a record */

/* Writer caps: longer strings are cut, extra rule ids and finding types are counted in
 * "rules_omitted" / "findings_omitted" instead of written. */
#define TEL_AUDIT_FIELD_MAX 256 /* bytes of a string field */
#define TEL_AUDIT_ID_MAX    64  /* bytes of a rule id or finding type */
#define TEL_AUDIT_LIST_MAX  16  /* rule ids, finding types */

enum tel_audit_verdict {
    TEL_AUDIT_VERDICT_NONE = 0, /* the prompt guard did not run */
    TEL_AUDIT_VERDICT_PASS,
    TEL_AUDIT_VERDICT_WARN,
    TEL_AUDIT_VERDICT_BLOCK,
};

enum tel_audit_output {
    TEL_AUDIT_OUTPUT_NONE = 0, /* the output guard did not run */
    TEL_AUDIT_OUTPUT_PASS,
    TEL_AUDIT_OUTPUT_REDACT,
    TEL_AUDIT_OUTPUT_BLOCK,
};

enum tel_audit_schema {
    TEL_AUDIT_SCHEMA_NONE = 0, /* no schema configured */
    TEL_AUDIT_SCHEMA_VALID,
    TEL_AUDIT_SCHEMA_INVALID,
    TEL_AUDIT_SCHEMA_UNCHECKED, /* a schema was set but the output was not checked */
};

/* An output finding type and how many times it was found. Never the value. */
struct tel_audit_finding {
    const char *type; /* "EMAIL", "AWS_ACCESS_KEY_ID", ... */
    uint32_t count;
};

/* One request as the audit log records it. Strings are borrowed for the duration of
 * tel_audit_write (which copies them); NULL is written as "". Nothing here may hold a
 * credential or message text: the log is read by people who must not see either. */
struct tel_audit_record {
    int64_t time_ns;        /* request start, Unix ns; 0: now */
    const char *request_id; /* x-request-id */
    const char *trace_id;   /* W3C trace id (32 hex), to join the OTLP spans */
    const char *tenant;     /* "" when tenants are off */
    const char *route;      /* matched path pattern, or "" */
    const char *method;     /* "POST" */
    const char *path;       /* request path; the writer drops any query string */
    const char *client;     /* client address ("203.0.113.7" or "[2001:db8::1]:5000") */
    const char *upstream;   /* upstream name ("openai") */
    const char *model;      /* requested model */
    bool stream;            /* streamed response requested */
    enum tel_audit_verdict prompt_verdict;
    double prompt_score;
    const char *const *prompt_rules; /* ids of the prompt rules that matched */
    size_t n_prompt_rules;
    enum tel_audit_output output_action;
    const struct tel_audit_finding *findings; /* output finding types with counts */
    size_t n_findings;
    enum tel_audit_schema schema;
    int status;        /* HTTP status sent to the client */
    const char *error; /* short error type ("upstream_timeout"), NULL or "" if none */
    int64_t tokens_in; /* usage reported by the upstream; -1 unknown */
    int64_t tokens_out;
    int64_t total_ns;    /* request start to last byte sent */
    int64_t upstream_ns; /* time spent waiting on the upstream */
    int64_t overhead_ns; /* time spent inside warden (guards, proxying) */
};

struct tel_audit_opts {
    uint64_t max_bytes; /* rotate before a file would exceed this; 0: never rotate */
    unsigned keep;      /* rotated files kept (FILE.1 newest .. FILE.keep); 0: all */
    unsigned queue_len; /* records waiting for the writer (default 1024; a power of 2) */
    unsigned flush_ms;  /* the idle writer wakes at least this often (default 200) */
    bool no_sync;       /* skip fdatasync (tests and benchmarks only) */
    bool paused;        /* tests: the writer consumes nothing until tel_audit_close */
};

struct tel_audit;

/* Parse an audit key as given in WARDEN_AUDIT_KEY or a key file: "hex:" followed by hex
 * digits, or else the raw bytes of the text. One trailing newline is ignored. Returns the
 * key length, or -EINVAL (bad hex), -ENOKEY (empty or shorter than TEL_AUDIT_KEY_MIN),
 * -E2BIG (longer than cap or TEL_AUDIT_KEY_MAX). */
int tel_audit_key_parse(const char *text, size_t len, uint8_t *out, size_t cap);

/* Start an audit log at path (opts NULL: defaults). The key is copied. An existing
 * non-empty file at path (or, if there is none, path.1) is checked and continued: it is
 * rotated away and the new file chains from its last record, recording whether it ended
 * sealed, unsealed (crash) or in the middle of a record. Starts the writer thread.
 * Returns 0, -ENOKEY (key too short), -EKEYREJECTED (the existing log was written with
 * another key), -EBADMSG (the existing file is not a readable audit log), -errno. */
int tel_audit_open(struct tel_audit **out, const char *path, const void *key, size_t keylen,
                   const struct tel_audit_opts *opts);

/* Queue one record; any thread, never blocks on I/O. Returns 0 queued, 1 dropped because
 * the queue is full (counted; a "dropped" record in the log says how many), -EINVAL. */
int tel_audit_write(struct tel_audit *a, const struct tel_audit_record *rec);

/* Drain the queue, write the seal record, sync, stop the writer and free a. NULL is fine.
 * Every tel_audit_write must have returned before. Returns 0, or the first I/O error the
 * writer met (-errno). */
int tel_audit_close(struct tel_audit *a);

struct tel_audit_stats {
    uint64_t written; /* records appended (all kinds) */
    uint64_t dropped; /* requests dropped: queue full or I/O error */
    uint64_t rotated; /* files rotated */
    uint64_t errors;  /* I/O errors */
    uint64_t queued;  /* records waiting now */
};
void tel_audit_stats(const struct tel_audit *a, struct tel_audit_stats *st);

/* ---- reading (untrusted bytes) ---- */

/* One record located in a file image. */
struct tel_audit_frame {
    const uint8_t *content; /* the msgpack map the HMAC covers */
    size_t content_len;
    const uint8_t *hmac; /* TEL_AUDIT_HMAC_LEN bytes */
    size_t offset;       /* of the record in the image */
    size_t len;          /* of the whole record */
};

/* Locate the record at *off in buf[0..len) and advance *off past it. Returns 1 with a
 * record, 0 at the end of buf, -ENODATA when buf ends inside the record, -EBADMSG when the
 * bytes are not a record, -E2BIG when a reader cap is exceeded. */
int tel_audit_frame_next(const uint8_t *buf, size_t len, size_t *off, struct tel_audit_frame *fr);

/* Print a record as one JSON line: its content map (bins as hex) plus "hmac". Invalid
 * UTF-8 is replaced by U+FFFD. Returns 0 or -EBADMSG (not a record's content). */
int tel_audit_frame_print_json(FILE *out, const struct tel_audit_frame *fr);

/* How verification failed; the first fault found is reported. */
enum tel_audit_fault {
    TEL_AUDIT_FAULT_NONE = 0,
    TEL_AUDIT_FAULT_CHANGED,   /* a record's HMAC does not match: bytes changed */
    TEL_AUDIT_FAULT_MISSING,   /* sequence gap: records were removed */
    TEL_AUDIT_FAULT_REORDERED, /* a record is out of order or repeated */
    TEL_AUDIT_FAULT_TRUNCATED, /* a file ends inside a record, or with no seal */
    TEL_AUDIT_FAULT_SPLICED,   /* a file or record of another log */
    TEL_AUDIT_FAULT_MALFORMED, /* not an audit record at all */
    TEL_AUDIT_FAULT_KEY,       /* the log was written with another key */
};

/* One file to verify: its name (for messages) and its bytes. */
struct tel_audit_input {
    const char *name;
    const uint8_t *data;
    size_t len;
};

#define TEL_AUDIT_VERIFY_F_UNSEALED 0x1u /* accept a last file with no seal (log in use) */

struct tel_audit_result {
    enum tel_audit_fault fault;
    size_t file;     /* index into the inputs of the file at fault */
    uint64_t index;  /* record index in that file (0-based) */
    uint64_t seq;    /* sequence number of that record, or the one expected there */
    uint64_t offset; /* byte offset of that record */
    char msg[320];   /* one line: what is wrong (fault) or a summary (no fault) */
    /* Summary of what was verified. */
    uint64_t records;
    uint64_t first_seq, last_seq;
    uint64_t dropped;        /* requests the writer reported as dropped */
    bool continues_previous; /* the first file continues a file that was not given */
    bool continues_next;     /* the last file was rotated into a file that was not given */
    bool sealed;             /* the last file ends with a seal record */
};

/* Verify the chain of files (in any order: they are put in order by their first record)
 * under key. Returns 0 when the chain holds, 1 with res->fault set otherwise, -EINVAL on
 * bad arguments. */
int tel_audit_verify(const struct tel_audit_input *files, size_t n, const void *key, size_t keylen,
                     unsigned flags, struct tel_audit_result *res);

const char *tel_audit_fault_name(enum tel_audit_fault f);

/* Map a file read-only for the reader (an empty file gives data NULL, len 0). Returns 0 or
 * -errno; unmap with tel_audit_unmap. */
int tel_audit_map(const char *path, struct tel_audit_input *in);
void tel_audit_unmap(struct tel_audit_input *in);

#endif

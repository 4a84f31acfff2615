/* Mock LLM upstream: shared types of the server, scripts, request inspection and replies. */
#ifndef WARDEN_TESTS_MOCK_H
#define WARDEN_TESTS_MOCK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <event2/listener.h>

/* Hard caps: the mock is a test tool but it still must not grow without bound. */
#define MOCK_MAX_BODY       (64u * 1024 * 1024) /* request body -> 413 beyond */
#define MOCK_MAX_HEAD       (256u * 1024)       /* request line + headers -> 431 beyond */
#define MOCK_MAX_HEADERS    256u                /* header lines per request -> 431 beyond */
#define MOCK_MAX_OUT        (256u * 1024 * 1024)
#define MOCK_MAX_RECORDS    1000u
#define MOCK_MAX_REC_BYTES  (64u * 1024 * 1024)
#define MOCK_MAX_QUEUE      1000u
#define MOCK_MAX_SCRIPT     (64u * 1024)
#define MOCK_MAX_TEXT       (1024u * 1024)
#define MOCK_MAX_DELAY_MS   600000
#define MOCK_MAX_EXTRA_HDRS 16u
#define MOCK_READ_HIGHWATER (4u * 1024 * 1024)
/* A reply to a peer that has sent EOF is "complete" only once the peer's TCP acknowledged
 * every byte; this bounds how long the mock waits for that (1 ms polls). */
#define MOCK_FLUSH_WAIT_MS 2000u

/* Growable byte buffer with a hard cap and a sticky error: after the first failure every
 * append is a no-op and `err` stays set, so builders check once at the end. */
struct mock_buf {
    char *p;
    size_t len, cap, max;
    int err; /* 0 or a negative errno */
};

void mock_buf_init(struct mock_buf *b, size_t max);
void mock_buf_free(struct mock_buf *b);
void mock_buf_reset(struct mock_buf *b);
void mock_buf_add(struct mock_buf *b, const void *p, size_t n);
void mock_buf_adds(struct mock_buf *b, const char *s);
void mock_buf_addf(struct mock_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a JSON string literal (quotes included). Invalid UTF-8 bytes become \u00XX. */
void mock_buf_add_jstr(struct mock_buf *b, const char *s, size_t n);
void mock_buf_add_b64(struct mock_buf *b, const unsigned char *p, size_t n);

/* True when the n bytes are well-formed UTF-8. */
bool mock_utf8_valid(const char *s, size_t n);
/* Length of the longest prefix of s (at most max bytes) that does not split a character. */
size_t mock_utf8_cut(const char *s, size_t n, size_t max);

/* One request's behaviour, from `x-mock-script` or the queue (README.md lists the keys). */
struct mock_script {
    int status; /* 0: normal reply */
    char error_type[64];
    char error_code[64];
    char error_message[512];
    bool has_text;
    struct mock_buf text;
    bool has_body; /* raw reply body replaces the generated one */
    struct mock_buf body;
    char content_type[128];
    int events; /* 0: one delta per word */
    int chunk;  /* 0: no splitting */
    int delay_ms;
    int first_byte_ms;
    int reset_after; /* -1: off */
    int error_after; /* -1: off */
    int slow_body_ms;
    bool chunked;
    char stop_reason[64];
    unsigned n_hdrs;
    char hdr_name[MOCK_MAX_EXTRA_HDRS][64];
    char hdr_value[MOCK_MAX_EXTRA_HDRS][256];
};

void mock_script_init(struct mock_script *s);
void mock_script_deinit(struct mock_script *s);
/* Parses `key=value;...` into s (which must be initialised). Returns 0, or -EINVAL with a
 * message for the client in err. */
int mock_script_parse(struct mock_script *s, const char *src, size_t n, char *err, size_t errsz);

/* What the mock needs to know about a request body, read with the guards JSON tokenizer. */
struct mock_req_info {
    bool is_object;
    bool stream;
    bool include_usage;
    bool has_model;
    char model[257];
    char encoding_format[32];
    bool has_input;
    unsigned input_count;
    unsigned dimensions;
    char echo[64]; /* start of the last user-visible string, cut on a character boundary */
    size_t echo_len;
    uint64_t string_bytes;
};

/* Returns 0, or -EBADMSG with a message in err when the body is not JSON. */
int mock_req_inspect(const char *body, size_t n, struct mock_req_info *info, char *err,
                     size_t errsz);

enum mock_step_kind {
    MOCK_STEP_BYTES = 0, /* write wire[off, off+len) and wait until it left the buffer */
    MOCK_STEP_DELAY,
    MOCK_STEP_RESET, /* abort the connection with a TCP RST */
};

struct mock_step {
    enum mock_step_kind kind;
    size_t off, len;
    unsigned ms;
};

/* A reply as a timed program: the bytes on the wire plus the steps that write them. */
struct mock_plan {
    struct mock_buf wire;
    struct mock_step *steps;
    size_t n_steps, cap_steps;
    int err;
    bool close_after;
    uint64_t rec_id; /* record of the request this replies to; 0: not recorded */
};

void mock_plan_init(struct mock_plan *p);
void mock_plan_deinit(struct mock_plan *p);
/* Appends bytes as writes of at most `piece` bytes (0: one write), `gap_ms` apart. */
void mock_plan_bytes(struct mock_plan *p, const void *data, size_t n, size_t piece,
                     unsigned gap_ms);
void mock_plan_delay(struct mock_plan *p, unsigned ms);
void mock_plan_reset(struct mock_plan *p);

/* A request as the connection layer hands it over. Header names are lowercase. */
struct mock_header {
    char *name, *value;
    size_t name_len, value_len;
};

struct mock_request {
    const char *method;
    const char *target; /* request target as sent: path and query */
    size_t target_len;
    unsigned http_minor;
    struct mock_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    bool body_truncated; /* set for requests refused as too large */
};

/* Looks up a header by lowercase name; NULL when absent. */
const struct mock_header *mock_request_header(const struct mock_request *rq, const char *name);

struct mock_queued {
    char *text;
    size_t len;
};

/* How a recorded request's reply ended (the record's `response` field). */
enum mock_response {
    MOCK_RESP_PENDING = 0,   /* still being written */
    MOCK_RESP_COMPLETE,      /* last byte written and flushed */
    MOCK_RESP_CLIENT_CLOSED, /* the peer closed or reset the connection first */
    MOCK_RESP_RESET,         /* the mock reset it by script (reset_after) */
};

struct mock_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *ev_sigterm, *ev_sigint;
    struct mock_conn *conns; /* doubly linked, for shutdown */
    /* records: a ring of JSON texts, each with its reply's outcome. Record ids are never
     * reused: the ring holds ids rec_first_id .. rec_first_id + rec_count - 1. */
    char **rec;
    size_t *rec_len;
    unsigned char *rec_resp; /* enum mock_response */
    size_t rec_head, rec_count, rec_bytes;
    uint64_t rec_dropped;
    uint64_t rec_first_id, rec_next_id;
    FILE *rec_file;
    /* script queue: a ring */
    struct mock_queued queue[MOCK_MAX_QUEUE];
    size_t q_head, q_count;
    uint64_t seq; /* requests answered since start or reset; ids and record numbers */
};

/* Builds the reply to one request into plan. Never fails: allocation failures end up in
 * plan->err and the connection is closed. */
void mock_api_handle(struct mock_server *srv, const struct mock_request *rq,
                     struct mock_plan *plan);

/* Adds a whole reply with Content-Length (status line, headers, body) to plan. */
void mock_reply_simple(struct mock_plan *plan, int status, const char *content_type,
                       const char *body, size_t n, bool close);

/* Appends one request to the in-memory records with `response` pending and stores its id
 * (never 0) in *id. Returns 0 or -ENOMEM. */
int mock_record_add(struct mock_server *srv, const struct mock_request *rq, const char *script,
                    size_t script_len, const char *source, uint64_t *id);
/* Settles the outcome of record id's reply and writes the record to the record file. A
 * record already dropped or settled is left alone; id 0 is ignored. */
void mock_record_finish(struct mock_server *srv, uint64_t id, enum mock_response r);
/* Writes the JSON array of records into out. */
void mock_record_dump(const struct mock_server *srv, struct mock_buf *out);
/* Drops every record; those still pending go to the record file as pending. */
void mock_record_clear(struct mock_server *srv);

int mock_queue_push(struct mock_server *srv, const char *text, size_t n);
/* Pops the oldest queued script into *q (caller frees q->text). Returns 1, or 0 if empty. */
int mock_queue_pop(struct mock_server *srv, struct mock_queued *q);
void mock_queue_clear(struct mock_server *srv);

/* Accept callback for the listener. */
void mock_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg);
void mock_conn_close_all(struct mock_server *srv);

const char *mock_status_reason(int status);

#endif

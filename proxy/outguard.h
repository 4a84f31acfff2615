/* The output guard in the data path: a model API's response, streamed (text/event-stream) or
 * whole (JSON), passes the output detectors before the client sees it. Streamed text deltas
 * of each choice, content block and tool call go through their own detector stream with a
 * holdback; released events are rewritten so that they stay valid for the official SDKs; a
 * block ends the stream with an error event in the provider's streaming format. */
#ifndef WARDEN_PROXY_OUTGUARD_H
#define WARDEN_PROXY_OUTGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct proxy_conn;
struct proxy_worker;
struct proxy_uconn;
struct evbuffer;

enum proxy_og_mode {
    PROXY_OG_OFF = 0, /* not guarded: bytes pass unchanged */
    PROXY_OG_SSE,     /* events rewritten one by one, the head sent at once */
    PROXY_OG_JSON,    /* the whole body held, rewritten, then sent with its head */
    PROXY_OG_TEXT,    /* a body of another type held and scanned as one text */
    PROXY_OG_OBSERVE, /* the guard is off: bytes pass unchanged, read for telemetry only */
};

/* Attach the guard to this request when the output guard is on and the path is a model API
 * (called with the request filters). 0 or -ENOMEM. */
int proxy_outguard_attach(struct proxy_conn *c, const char *target, size_t tlen);

/* Characters of a system-prompt canary token ("wdn-" and 16 hex digits). */
#define PROXY_OG_CANARY_LEN 20

/* The request asks for output that follows this JSON schema (the text of the schema object,
 * taken from response_format.json_schema.schema and its kin). It is compiled here; one that
 * cannot be (or `schema` NULL: too large) leaves the output unchecked, as the response's
 * x-warden-schema header says. Called once the request body is complete. */
void proxy_outguard_request_schema(struct proxy_conn *c, const char *schema, size_t len);

/* Make this response's canary token from `seed` into tok (PROXY_OG_CANARY_LEN + 1 bytes); the
 * caller puts it in the request's system prompt. false when the guard is not attached. */
bool proxy_outguard_canary(struct proxy_conn *c, uint64_t seed, char *tok);

/* The upstream's head arrived. Decides the mode from status, Content-Type and
 * Content-Encoding. Returns the mode, -ECANCELED when the guard answered the client itself (a
 * body it could not inspect: 502) and the upstream must be dropped, or -ENOMEM. */
int proxy_outguard_head(struct proxy_conn *c, struct proxy_uconn *u);

/* The mode decided for the current response (OFF when not attached). */
enum proxy_og_mode proxy_outguard_mode(const struct proxy_conn *c);

/* Header lines the guard adds to the response head ("name: value\r\n"). */
void proxy_outguard_headers(struct proxy_conn *c, struct evbuffer *b);

/* A piece of the response body (de-chunked). Output for the client is appended to
 * c->down_out (chunk-framed as the response is). 0, or -ECANCELED when the guard ended the
 * response itself (a block): the upstream must be dropped. */
int proxy_outguard_data(struct proxy_conn *c, const char *at, size_t len);

/* Observe mode: a piece of the body, which the caller sends on unchanged. */
void proxy_outguard_observe(struct proxy_conn *c, const char *at, size_t len);

/* The response is complete: held text is released (or a whole body rewritten and sent with
 * its head). Same returns as data. */
int proxy_outguard_end(struct proxy_conn *c);

/* What the guard read of the response, for telemetry and the audit log. */
enum proxy_og_schema {
    PROXY_OG_SCHEMA_NONE = 0, /* no schema applied, or no answer text to check */
    PROXY_OG_SCHEMA_VALID,
    PROXY_OG_SCHEMA_INVALID,
    PROXY_OG_SCHEMA_UNCHECKED, /* the request's schema could not be compiled */
};

/* "none", "valid", "invalid", "unchecked". */
const char *proxy_og_schema_name(enum proxy_og_schema s);

/* The largest JSON schema a request may carry; a larger one leaves its answer unchecked. */
#define PROXY_OG_SCHEMA_MAX (256 * 1024)

#define PROXY_OG_ID_MAX 96
#define PROXY_OG_TYPES  16 /* finding types counted per response */

struct proxy_og_count {
    const char *type; /* static or owned by the rule set */
    uint32_t n;
};

struct proxy_og_report {
    bool attached;                       /* the guard read this response */
    char id[PROXY_OG_ID_MAX + 1];        /* the response's id ("" unknown) */
    char model[PROXY_OG_ID_MAX + 1];     /* the model that answered */
    char finish[PROXY_OG_ID_MAX + 1];    /* finish reasons, comma-separated, each once */
    int64_t input_tokens, output_tokens; /* from the upstream's usage; -1 unknown */
    size_t findings;
    const char *finding_types;           /* comma-separated, each once */
    const struct proxy_og_count *counts; /* findings by type */
    size_t n_counts;
    uint64_t guard_ns; /* time the output guard took */
    bool redacted, blocked;
    const char *block_type; /* the type that blocked, or NULL */
    enum proxy_og_schema schema;
};

/* Fill r from the current (or just finished) response. */
void proxy_outguard_report(const struct proxy_conn *c, struct proxy_og_report *r);

/* Free what a connection keeps between requests (at connection close). */
void proxy_outguard_free(struct proxy_conn *c);
/* The exchange ended: its state goes to the worker's spares (or is freed when there are
 * enough), so that an idle connection holds none. */
void proxy_outguard_release(struct proxy_conn *c);
/* Free a worker's spares (at its end). */
void proxy_outguard_spares_free(struct proxy_worker *w);

#endif

/* Client connections: llhttp request parsing, limits, timeouts, responses, deferred close. */
#ifndef WARDEN_PROXY_CONN_H
#define WARDEN_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>
#include <llhttp.h>

#include "guards/prompt.h"
#include "proxy/filter.h"
#include "proxy/http.h"

struct proxy_worker;
struct proxy_uconn;
struct proxy_upool;
struct policy_upstream;
struct bufferevent;
struct event;
struct evbuffer;
struct proxy_body_filter;
struct proxy_outguard;

#define PROXY_URL_MAX        8192
#define PROXY_URL_START      128 /* the target's buffer as a connection opens */
#define PROXY_REQUEST_ID_MAX 128

enum proxy_flavor {
    PROXY_FLAVOR_OPENAI = 0, /* {"error":{"message","type","code","param"}} */
    PROXY_FLAVOR_ANTHROPIC,  /* {"type":"error","error":{"type","message"}} */
};

/* What is known of the request being read or answered. Reset for each request. */
struct proxy_txn {
    char *url; /* the request target, NUL-terminated; never NULL while the connection lives */
    size_t url_len, url_cap;
    char request_id[PROXY_REQUEST_ID_MAX + 1];
    size_t header_bytes;
    uint64_t body_bytes;
    uint8_t method; /* llhttp_method_t */
    int status;     /* an error already decided while reading (431, 413, 414, 400) */
    bool started;   /* a byte of this request has arrived */
    bool headers_done;
    bool keep_alive;
    uint64_t start_ns;

    /* Forwarding (proxy/forward.c). */
    bool proxied;        /* the request goes to an upstream */
    bool req_chunked;    /* its body is re-framed as chunks upstream */
    bool resp_head_sent; /* the client has the response head */
    bool resp_chunked;   /* the response body is re-framed as chunks for the client */
    enum proxy_flavor flavor;
    const struct policy_upstream *up;
    const struct policy_route *route; /* the route that matched, NULL for the default */
    struct proxy_upool *pool;         /* of the route's upstream */
    struct proxy_uconn *uc;

    /* Guards (proxy/filter.c). */
    struct proxy_filter filters[PROXY_TXN_FILTERS];
    unsigned n_filters;
    bool hold_all;     /* a filter holds the whole body until its verdict */
    bool answered;     /* a filter answered the request itself; the connection goes on */
    bool prompt_ran;   /* `prompt` holds the prompt guard's verdict */
    bool prompt_flag;  /* the verdict goes to the client as x-warden-* headers */
    uint64_t guard_ns; /* time spent in guards */
    bool og_attached;  /* the output guard reads the response (proxy/outguard.c) */
    struct guard_prompt_verdict prompt;

    /* Timing and outcome for telemetry (proxy/observe.c); 0 when it did not happen. */
    int resp_status;        /* the status the client got */
    uint64_t req_done_ns;   /* the request's last byte */
    uint64_t guard_done_ns; /* guard_ns at that point */
    uint64_t up_start_ns;   /* the request left for the upstream */
    uint64_t guard_up_ns;   /* guard_ns at that point */
    uint64_t up_head_ns;    /* the upstream's response head */
    uint64_t up_first_ns;   /* its first body bytes */
    const char *error_type; /* why the request failed (static), or NULL */
    /* W3C trace context: the client's (continued) or a new trace; a SERVER span for this
     * request and a CLIENT span for its upstream call, whose id goes upstream. */
    uint8_t trace_id[16];
    uint8_t parent_id[8]; /* the client's span, zero when the trace starts here */
    uint8_t server_span[8];
    uint8_t client_span[8];
    uint8_t trace_flags; /* bit 0: sampled */
    bool observed;       /* recorded by proxy_obs_request_end */
};

#define PROXY_CONN_F_CLOSING   0x1u   /* no more requests; free once the output is flushed */
#define PROXY_CONN_F_FREEING   0x2u   /* the deferred free is scheduled */
#define PROXY_CONN_F_HDR_TIMER 0x4u   /* the header deadline of the next request is running */
#define PROXY_CONN_F_OUT_FULL  0x8u   /* reading stopped until the output drains */
#define PROXY_CONN_F_PEER_EOF  0x10u  /* the client half-closed; close once answered */
#define PROXY_CONN_F_WAIT_RESP 0x20u  /* a forwarded request is complete: parsing waits */
#define PROXY_CONN_F_REQ_FULL  0x40u  /* the upstream is not taking the body: reading waits */
#define PROXY_CONN_F_TLS       0x80u  /* TLS listener: bev is the TLS layer, no direct writes */
#define PROXY_CONN_F_LINGER    0x100u /* answered before the request was read: linger on close */
#define PROXY_CONN_F_LINGERING 0x200u /* half-closed, discarding input until EOF or timeout */

/* How long a connection answered early keeps discarding what the client still sends. */
#define PROXY_CONN_LINGER_MS 2000

/* Unsent output above which a connection stops reading requests. */
#define PROXY_CONN_OUT_HIGH (64 * 1024)

struct proxy_deps_job;

struct proxy_conn {
    struct proxy_worker *worker;
    struct bufferevent *bev;
    struct event *free_ev;
    struct event *timer_ev; /* header deadline, body silence, keep-alive idle */
    llhttp_t parser;
    struct proxy_txn txn;
    struct proxy_hdrs req_hdrs; /* headers of the current request, capped at max_header_bytes */
    struct evbuffer *hold;      /* body bytes held until the filters' verdict */
    struct proxy_body_filter *body_filter; /* this request's, from the worker's spares (filter.c) */
    struct proxy_outguard *outguard;       /* this exchange's, from the worker's spares */
    struct evbuffer *up_out;               /* request bytes for the upstream, sent once per read */
    struct evbuffer *down_out; /* response bytes for the client, sent once per upstream read */
    unsigned flags;
    uint64_t requests;
    char peer[64];
    char peer_ip[48];
    struct proxy_deps_job *deps_job; /* a POST /v1/scan/deps running for it (proxy/deps_api.c) */
    struct proxy_conn *prev, *next;  /* in the worker's list */
};

/* Take ownership of an accepted socket. Returns NULL (socket closed) on no memory. */
struct proxy_conn *proxy_conn_new(struct proxy_worker *w, evutil_socket_t fd,
                                  const struct sockaddr *sa, int salen);

/* Close now or after the pending output is flushed; the struct is freed from a deferred
 * event, never inside the caller's callback chain. */
void proxy_conn_close(struct proxy_conn *c, bool flush);

/* Called by the worker when draining: idle connections close now, busy ones after their
 * current response. */
void proxy_conn_drain(struct proxy_conn *c);

/* Queue a complete response. `body` may be NULL for none. `extra` holds additional
 * header lines, each ending in "\r\n", or NULL. */
void proxy_conn_respond(struct proxy_conn *c, int status, const char *content_type,
                        const char *body, size_t len, const char *extra);

/* Queue an error in the provider's shape, so the official SDKs raise their usual errors. */
void proxy_conn_respond_error(struct proxy_conn *c, enum proxy_flavor flavor, int status,
                              const char *type, const char *code, const char *message,
                              const char *extra);

/* Send the iovecs in order, as proxy_conn_send does; the iovecs are consumed. */
struct iovec;
void proxy_conn_sendv(struct proxy_conn *c, struct iovec *iov, int n_iov);

/* Send bytes in order: straight to the socket while nothing is queued, the rest through
 * the bufferevent. `b` is emptied. */
void proxy_conn_send(struct proxy_conn *c, struct evbuffer *b);

/* An error decided while reading or forwarding: answer in the provider's shape (if no
 * response head went out yet) and close once flushed. */
void proxy_conn_fail(struct proxy_conn *c, int status, const char *type, const char *code,
                     const char *message);

/* The response to the current request is complete: keep the connection for the next
 * request, or close it, and go on with what the client has sent meanwhile. */
void proxy_conn_txn_end(struct proxy_conn *c);

/* Resume reading from the client (after request-body backpressure). */
void proxy_conn_resume(struct proxy_conn *c);

/* ---- proxy/forward.c: the request to the upstream and its response to the client ---- */

/* Headers complete: route, take an upstream connection, send the request head. Returns 0,
 * or < 0 after answering the client with an error. */
int proxy_forward_begin(struct proxy_conn *c);
/* A piece of the request body (decoded from chunks). Returns 0 or < 0 (answered). */
int proxy_forward_body(struct proxy_conn *c, const char *at, size_t len);
/* The request is complete: verdicts, the held bytes, the end of the body. 0 or < 0. */
int proxy_forward_end(struct proxy_conn *c);
/* Send what the request produced for the upstream so far (one write per client read). */
void proxy_forward_flush(struct proxy_conn *c);
/* The client is gone or the exchange is abandoned: drop the upstream connection. */
void proxy_forward_abort(struct proxy_conn *c);

/* Called by proxy/upstream.c for the upstream connection serving `c`. head and body return
 * 0, < 0 on an error, or -ECANCELED when a guard ended the client's response itself: the
 * upstream connection is then dropped and proxy_conn_upstream_cancelled called. */
int proxy_conn_upstream_head(struct proxy_conn *c, struct proxy_uconn *u);
int proxy_conn_upstream_body(struct proxy_conn *c, const char *at, size_t len);
void proxy_conn_upstream_done(struct proxy_conn *c, struct proxy_uconn *u, bool reusable);
void proxy_conn_upstream_cancelled(struct proxy_conn *c);
void proxy_conn_upstream_fail(struct proxy_conn *c, int status, const char *code,
                              const char *message);
void proxy_conn_upstream_drained(struct proxy_conn *c);
/* End of one upstream read: send what it produced for the client in one write. */
void proxy_conn_upstream_flush(struct proxy_conn *c);

/* For the output guard (proxy/outguard.c): queue body bytes for the client, framed as the
 * response is (emptying `b`); write the response head held for a whole body, with its
 * Content-Length. */
void proxy_conn_upstream_emit(struct proxy_conn *c, struct evbuffer *b);
void proxy_conn_upstream_head_send(struct proxy_conn *c, long long content_length);

/* Which provider's error shape fits a request path. */
enum proxy_flavor proxy_flavor_of(const char *path, size_t len);

/* CLOCK_MONOTONIC in nanoseconds: every duration of the data path. */
uint64_t proxy_now_ns(void);

/* The reason phrase of an HTTP status code. */
const char *proxy_status_reason(int status);

#endif

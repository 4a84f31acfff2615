/* Upstream connections: a keep-alive pool per worker and upstream, asynchronous connect
 * (evdns), llhttp response parsing, timeouts; events are handed to the client connection. */
#ifndef WARDEN_PROXY_UPSTREAM_H
#define WARDEN_PROXY_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

#include "proxy/http.h"

struct bufferevent;
struct event;
struct evbuffer;
struct proxy_conn;
struct proxy_worker;
struct policy_upstream;

/* What the server resolves once per configured upstream, shared read-only by workers. */
struct proxy_upstream_rt {
    const struct policy_upstream *cfg; /* in the server's configuration snapshot */
    char *api_key;                     /* from api_key_env at start, or NULL */
    struct proxy_tls_client *tls;      /* for https upstreams */
    char host_header[300];             /* "host" or "host:port" when not the default port */
};

/* One worker's pool for one upstream. */
struct proxy_upool {
    struct proxy_worker *worker;
    const struct proxy_upstream_rt *rt;
    struct proxy_uconn *idle; /* most recently used first */
    size_t n_idle;
    struct proxy_tls_session_cache *tls_cache;
};

#define PROXY_UCONN_F_CONNECTED 0x1u   /* TCP (and TLS) established */
#define PROXY_UCONN_F_IDLE      0x2u   /* parked in the pool */
#define PROXY_UCONN_F_HEAD      0x4u   /* the response head was handed to the client */
#define PROXY_UCONN_F_FREEING   0x8u   /* deferred free scheduled */
#define PROXY_UCONN_F_REUSED    0x10u  /* taken from the pool */
#define PROXY_UCONN_F_REQ_DONE  0x20u  /* the whole request was handed over */
#define PROXY_UCONN_F_HEAD_REQ  0x40u  /* the request was HEAD: the response has no body */
#define PROXY_UCONN_F_OUT_FULL  0x80u  /* reading paused: the client is not taking the body */
#define PROXY_UCONN_F_CANCEL    0x100u /* a guard ended the client's response: drop this one */

struct proxy_uconn {
    struct proxy_upool *pool;
    struct proxy_conn *client; /* while a request is in flight; NULL when idle */
    struct bufferevent *bev;   /* plaintext: the socket one, or TLS over it */
    struct bufferevent *sock;  /* the socket bufferevent (owned through bev when TLS) */
    struct event *timer_ev;
    struct event *free_ev;
    llhttp_t parser;
    struct proxy_hdrs hdrs; /* response headers */
    char reason[64];
    unsigned flags;
    int status;
    bool keep_alive; /* the response allows reuse */
    uint64_t requests;
    struct proxy_uconn *next; /* idle list */
};

/* Create the pools of a worker (one per configured upstream). */
int proxy_upool_init(struct proxy_upool *pool, struct proxy_worker *w,
                     const struct proxy_upstream_rt *rt);
void proxy_upool_deinit(struct proxy_upool *pool);

/* A connection for `client`: an idle pooled one, or a new connect. The request may be sent
 * with proxy_uconn_send at once; what a connecting socket cannot take yet waits for it.
 * Returns 0, or a negative errno (no memory). Connect failures arrive later through
 * proxy_conn_upstream_fail. */
int proxy_uconn_get(struct proxy_upool *pool, struct proxy_conn *client, bool head_request,
                    struct proxy_uconn **out);

/* Send `b` (emptied): straight to a connected plain socket when nothing is queued, else
 * through the bufferevent (TLS, connecting, or a backlog). */
void proxy_uconn_send(struct proxy_uconn *u, struct evbuffer *b);

/* The upstream is (true) or no longer (false) holding back the request body: while it is,
 * its silence is timed (limits.upstream_read_timeout, then 504), not the client's. */
void proxy_uconn_write_wait(struct proxy_uconn *u, bool waiting);

/* The whole request was written: start the first-byte timeout. */
void proxy_uconn_request_done(struct proxy_uconn *u);

/* The client stopped taking the body (false) or drained its output (true). */
void proxy_uconn_reading(struct proxy_uconn *u, bool on);

/* The client is done with the connection: back to the pool when the exchange ended cleanly
 * and both sides allow it, else closed. Never call from inside the uconn's own callbacks
 * expecting it to stay valid afterwards. */
void proxy_uconn_release(struct proxy_uconn *u, bool reusable);

/* Bytes the upstream has not taken yet (request body backpressure). */
size_t proxy_uconn_pending(struct proxy_uconn *u);

#endif

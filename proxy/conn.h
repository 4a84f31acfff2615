/* Client connections: llhttp request parsing, limits, timeouts, responses, deferred close. */
#ifndef WARDEN_PROXY_CONN_H
#define WARDEN_PROXY_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>
#include <llhttp.h>

struct proxy_worker;
struct bufferevent;
struct event;

#define PROXY_URL_MAX        8192
#define PROXY_HDR_NAME_MAX   64
#define PROXY_REQUEST_ID_MAX 128

enum proxy_flavor {
    PROXY_FLAVOR_OPENAI = 0, /* {"error":{"message","type","code","param"}} */
    PROXY_FLAVOR_ANTHROPIC,  /* {"type":"error","error":{"type","message"}} */
};

/* What is known of the request being read or answered. Reset for each request. */
struct proxy_txn {
    char url[PROXY_URL_MAX + 1];
    size_t url_len;
    char request_id[PROXY_REQUEST_ID_MAX + 1];
    char hdr_name[PROXY_HDR_NAME_MAX + 1];
    size_t hdr_name_len;
    bool hdr_name_long; /* the current name is longer than any name we look at */
    int hdr_want;       /* which interesting header the current value belongs to */
    size_t header_bytes;
    uint64_t body_bytes;
    uint8_t method; /* llhttp_method_t */
    int status;     /* an error already decided while reading (431, 413, 414, 400) */
    bool started;   /* a byte of this request has arrived */
    bool headers_done;
    bool keep_alive;
    uint64_t start_ns;
};

#define PROXY_CONN_F_CLOSING   0x1u  /* no more requests; free once the output is flushed */
#define PROXY_CONN_F_FREEING   0x2u  /* the deferred free is scheduled */
#define PROXY_CONN_F_HDR_TIMER 0x4u  /* the header deadline of the next request is running */
#define PROXY_CONN_F_OUT_FULL  0x8u  /* reading stopped until the output drains */
#define PROXY_CONN_F_PEER_EOF  0x10u /* the client half-closed; close once answered */

/* Unsent output above which a connection stops reading requests. */
#define PROXY_CONN_OUT_HIGH (64 * 1024)

struct proxy_conn {
    struct proxy_worker *worker;
    struct bufferevent *bev;
    struct event *free_ev;
    struct event *timer_ev; /* header deadline, body silence, keep-alive idle */
    llhttp_t parser;
    struct proxy_txn txn;
    unsigned flags;
    uint64_t requests;
    char peer[64];
    struct proxy_conn *prev, *next; /* in the worker's list */
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
                              const char *type, const char *code, const char *message);

/* Which provider's error shape fits a request path. */
enum proxy_flavor proxy_flavor_of(const char *path, size_t len);

/* The reason phrase of an HTTP status code. */
const char *proxy_status_reason(int status);

#endif

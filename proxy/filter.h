/* The guard hook: filters attached to a transaction see the request body as it arrives and
 * decide what may leave. Return contract of HAProxy's filters: < 0 error (the filter has
 * answered the client), 0 wait (hold the bytes), > 0 continue. With no filter attached the
 * data path is unchanged. */
#ifndef WARDEN_PROXY_FILTER_H
#define WARDEN_PROXY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

struct proxy_conn;
struct proxy_worker;
struct evbuffer;

struct proxy_filter_ops {
    const char *name;
    /* A piece of the request body (de-chunked). > 0: every byte before this piece may go
     * upstream (this one stays held); 0: hold everything until the end. */
    int (*req_data)(struct proxy_conn *c, void *ctx, const char *at, size_t len);
    /* The body is complete; `held` has what is still held (all of it when any filter
     * returned 0). The filter may rewrite `held`. > 0: send it; < 0: answered. */
    int (*req_end)(struct proxy_conn *c, void *ctx, struct evbuffer *held);
};

#define PROXY_TXN_FILTERS 4

struct proxy_filter {
    const struct proxy_filter_ops *ops;
    void *ctx;
};

/* Attach the filters the configuration asks for on this request (called once the request
 * head is read and routed). `target` is the request path. Returns 0 or -ENOMEM. */
int proxy_filters_attach(struct proxy_conn *c, const char *target, size_t tlen, bool has_body);

/* Free what a connection's filters keep between requests (at connection close). */
void proxy_filters_free(struct proxy_conn *c);
/* The request ended: its guard state goes to the worker's spares (or is freed when there
 * are enough), so that an idle connection holds none. */
void proxy_filters_release(struct proxy_conn *c);
/* Free a worker's spares (at its end). */
void proxy_filters_spares_free(struct proxy_worker *w);
/* Free only its spare prompt scans (a reload made them stale). */
void proxy_filters_spare_scans_free(struct proxy_worker *w);

struct guard_prompt_body;
struct policy_rules;

/* The current request as the body filter read it (model, stream, max_tokens ...), or NULL
 * when no body filter ran on it. */
const struct guard_prompt_body *proxy_filters_request(const struct proxy_conn *c);

/* The rule set the current request's prompt verdict refers to, or NULL. */
const struct policy_rules *proxy_filters_rules(const struct proxy_conn *c);

/* Response header lines the filters add ("name: value\r\n"...), appended to b. */
void proxy_filters_response_headers(struct proxy_conn *c, struct evbuffer *b);

#endif

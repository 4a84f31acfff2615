/* Forwarding: the client's request to the upstream (head rewritten, body streamed through the
 * attached filters) and the upstream's response back, event by event. */
#include "proxy/conn.h"

#include "policy/config.h"
#include "policy/route.h"
#include "proxy/observe.h"
#include "proxy/outguard.h"
#include "proxy/server.h"
#include "proxy/upstream.h"
#include "telemetry/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

static bool hdr_value_has(const struct proxy_hdrs *h, const struct proxy_hdr *e, const char *word)
{
    size_t n = strlen(word);
    const char *v = proxy_hdr_value(h, e);
    for (size_t i = 0; i + n <= e->value_len; i++) {
        if (strncasecmp(v + i, word, n) == 0)
            return true;
    }
    return false;
}

/* The origin-form target: an absolute-form "http://host/path" keeps only its path. */
static const char *txn_target(const struct proxy_txn *t, size_t *len)
{
    const char *u = t->url;
    size_t n = t->url_len;
    if (n > 8 && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
        const char *p = memchr(u + 8, '/', n - 8);
        if (p == NULL) {
            *len = 1;
            return "/";
        }
        n -= (size_t)(p - u);
        u = p;
    }
    *len = n;
    return u;
}

/* Request head for the upstream: hop-by-hop headers dropped, Host for the upstream,
 * X-Forwarded-*, our x-request-id, identity encoding (the guards read every byte), the
 * configured key in place of the client's, and the body framing we send: the client's, or
 * the length of a held body (body_len >= 0), which the filters may have rewritten. */
static void write_request_head(struct proxy_conn *c, const struct proxy_upstream_rt *rt,
                               long long body_len, struct evbuffer *o)
{
    size_t tlen;
    const char *target = txn_target(&c->txn, &tlen);
    const struct proxy_txn *t = &c->txn;
    const struct proxy_hdrs *h = &c->req_hdrs;
    const llhttp_t *p = &c->parser;
    evbuffer_add_printf(o, "%s %s%.*s HTTP/1.1\r\nHost: %s\r\n",
                        llhttp_method_name((llhttp_method_t)t->method), rt->cfg->url.base_path,
                        (int)tlen, target, rt->host_header);
    bool xff = false;
    for (size_t i = 0; i < h->n; i++) {
        const struct proxy_hdr *e = &h->items[i];
        switch (proxy_hdr_classify(h, e)) {
        case PROXY_HDR_HOP:
        case PROXY_HDR_HOST:
        case PROXY_HDR_CONTENT_LENGTH:
        case PROXY_HDR_EXPECT:
        case PROXY_HDR_ACCEPT_ENCODING:
        case PROXY_HDR_X_FORWARDED_PROTO:
        case PROXY_HDR_X_REQUEST_ID:
        case PROXY_HDR_TRACEPARENT:
            continue; /* ours, below */
        case PROXY_HDR_X_FORWARDED_FOR:
            xff = true; /* joined below */
            continue;
        case PROXY_HDR_AUTHORIZATION:
        case PROXY_HDR_X_API_KEY:
            if (rt->api_key)
                continue; /* the configured key replaces the client's */
            break;
        default:
            break;
        }
        proxy_hdr_write(h, e, o);
    }
    /* Earlier hops first, in order, then this client: one header. */
    evbuffer_add(o, "X-Forwarded-For: ", 17);
    for (size_t i = 0; xff && i < h->n; i++) {
        const struct proxy_hdr *e = &h->items[i];
        if (e->value_len > 0 && proxy_hdr_classify(h, e) == PROXY_HDR_X_FORWARDED_FOR)
            evbuffer_add_printf(o, "%.*s, ", (int)e->value_len, proxy_hdr_value(h, e));
    }
    evbuffer_add_printf(o, "%s\r\n", c->peer_ip);
    char traceparent[56];
    proxy_obs_traceparent(t, traceparent);
    evbuffer_add_printf(o,
                        "X-Forwarded-Proto: %s\r\nx-request-id: %s\r\ntraceparent: %s\r\n"
                        "Accept-Encoding: identity\r\n",
                        (c->flags & PROXY_CONN_F_TLS) ? "https" : "http", t->request_id,
                        traceparent);
    if (rt->api_key) {
        if (t->flavor == PROXY_FLAVOR_ANTHROPIC)
            evbuffer_add_printf(o, "x-api-key: %s\r\n", rt->api_key);
        else
            evbuffer_add_printf(o, "Authorization: Bearer %s\r\n", rt->api_key);
    }
    if (body_len >= 0)
        evbuffer_add_printf(o, "Content-Length: %lld\r\n", body_len);
    else if (p->flags & F_CHUNKED)
        evbuffer_add(o, "Transfer-Encoding: chunked\r\n", 28);
    else if (p->flags & F_CONTENT_LENGTH)
        evbuffer_add_printf(o, "Content-Length: %" PRIu64 "\r\n", p->content_length);
    evbuffer_add(o, "Connection: keep-alive\r\n\r\n", 26);
}

/* Take a connection from the route's pool for this request. 0, or < 0 after answering. */
static int upstream_take(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    char msg[200];
    if (proxy_uconn_get(t->pool, c, t->method == HTTP_HEAD, &t->uc) != 0) {
        snprintf(msg, sizeof(msg), "out of memory connecting to upstream '%s'", t->up->name);
        proxy_conn_fail(c, 503, "upstream_error", "overloaded", msg);
        return -ENOMEM;
    }
    return 0;
}

int proxy_forward_begin(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    const struct policy_route *route;
    const llhttp_t *p = &c->parser;
    size_t tlen;
    const char *target = txn_target(t, &tlen);
    t->flavor = proxy_flavor_of(target, tlen);
    if (target[0] != '/') {
        proxy_conn_fail(c, 400, "invalid_request_error", "bad_request_target",
                        "the request target must be a path such as /v1/chat/completions");
        return -EINVAL;
    }
    t->up = policy_route_match(c->worker->srv->cfg, target, tlen, &route);
    struct proxy_upool *pool = t->up ? proxy_worker_pool(c->worker, t->up) : NULL;
    if (pool == NULL) {
        proxy_conn_fail(c, 502, "upstream_error", "no_upstream", "no upstream serves this path");
        return -ENOENT;
    }
    t->pool = pool;
    t->route = route;
    proxy_obs_trace_begin(c);
    const struct proxy_hdr *expect = proxy_hdrs_find(&c->req_hdrs, "expect");
    if (expect && hdr_value_has(&c->req_hdrs, expect, "100-continue") && p->http_minor >= 1) {
        /* We read the body anyway: tell the client to send it now. */
        struct iovec iov = {.iov_base = "HTTP/1.1 100 Continue\r\n\r\n", .iov_len = 25};
        proxy_conn_sendv(c, &iov, 1);
    }
    bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length);
    if (proxy_filters_attach(c, target, tlen, has_body) != 0 ||
        proxy_outguard_attach(c, target, tlen) != 0) {
        proxy_conn_fail(c, 503, "upstream_error", "overloaded", "out of memory");
        return -ENOMEM;
    }
    if (t->n_filters > 0 && c->hold == NULL && (c->hold = evbuffer_new()) == NULL) {
        proxy_conn_fail(c, 503, "upstream_error", "overloaded", "out of memory");
        return -ENOMEM;
    }
    /* A request held for a verdict takes its upstream connection only once it may go: a
     * blocked one never reaches the upstream, and a pooled connection does not idle (and
     * risk the upstream's keep-alive timeout) while a slow client sends. */
    if (t->hold_all)
        return 0; /* the head goes with the held body, framed by its final length */
    if (upstream_take(c) != 0)
        return -ENOMEM;
    t->req_chunked = (p->flags & F_CHUNKED) != 0;
    /* Sent with the first body bytes of this read: usually one write for the request. */
    write_request_head(c, pool->rt, -1, c->up_out);
    t->up_start_ns = proxy_now_ns();
    t->guard_up_ns = t->guard_ns;
    return 0;
}

/* Body bytes to the upstream, re-framed as a chunk when the client sent chunks. */
static void write_body(struct proxy_conn *c, struct evbuffer *src, const char *at, size_t len)
{
    struct evbuffer *o = c->up_out;
    if (src)
        len = evbuffer_get_length(src);
    if (len == 0)
        return;
    if (c->txn.req_chunked)
        evbuffer_add_printf(o, "%zx\r\n", len);
    if (src)
        evbuffer_add_buffer(o, src);
    else
        evbuffer_add(o, at, len);
    if (c->txn.req_chunked)
        evbuffer_add(o, "\r\n", 2);
}

void proxy_forward_flush(struct proxy_conn *c)
{
    /* Nothing leaves while a filter holds the request for its verdict. */
    if (c->txn.uc && !c->txn.hold_all && evbuffer_get_length(c->up_out) > 0)
        proxy_uconn_send(c->txn.uc, c->up_out);
}

int proxy_forward_body(struct proxy_conn *c, const char *at, size_t len)
{
    struct proxy_txn *t = &c->txn;
    bool release = true;
    if (t->uc == NULL && !t->hold_all)
        return -EPIPE;
    if (t->n_filters == 0) {
        write_body(c, NULL, at, len);
        return 0;
    }
    for (unsigned i = 0; i < t->n_filters; i++) {
        int rc = t->filters[i].ops->req_data(c, t->filters[i].ctx, at, len);
        if (rc < 0)
            return rc; /* answered */
        release &= rc > 0;
    }
    /* What came before this piece may go; this piece waits for the next one or the end. */
    if (release)
        write_body(c, c->hold, NULL, 0);
    evbuffer_add(c->hold, at, len);
    return 0;
}

int proxy_forward_end(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    if (t->uc == NULL && !t->hold_all)
        return -EPIPE;
    t->req_done_ns = proxy_now_ns();
    t->guard_done_ns = t->guard_ns;
    for (unsigned i = 0; i < t->n_filters; i++) {
        int rc = t->filters[i].ops->req_end(c, t->filters[i].ctx, c->hold);
        if (rc < 0)
            return rc; /* answered */
    }
    if (t->hold_all) {
        if (upstream_take(c) != 0)
            return -ENOMEM;
        write_request_head(c, t->pool->rt, (long long)evbuffer_get_length(c->hold), c->up_out);
        evbuffer_add_buffer(c->up_out, c->hold);
        t->up_start_ns = proxy_now_ns();
        t->guard_up_ns = t->guard_ns;
    } else if (t->n_filters > 0) {
        write_body(c, c->hold, NULL, 0);
    }
    if (t->req_chunked)
        evbuffer_add(c->up_out, "0\r\n\r\n", 5);
    t->hold_all = false;
    proxy_forward_flush(c);
    proxy_uconn_request_done(t->uc);
    return 0;
}

void proxy_forward_abort(struct proxy_conn *c)
{
    struct proxy_uconn *u = c->txn.uc;
    c->txn.uc = NULL;
    evbuffer_drain(c->up_out, evbuffer_get_length(c->up_out));
    if (u)
        proxy_uconn_release(u, false);
}

/* ---------------------------------------------------------------- the response */

/* The response head for the client. content_length >= 0: the body was rewritten whole and
 * has this length; otherwise the upstream's framing is kept, or chunks when it has none, or
 * when a guard rewrites the body as it streams (`rechunk`). */
static void write_response_head(struct proxy_conn *c, struct proxy_uconn *u,
                                long long content_length, bool rechunk)
{
    struct proxy_txn *t = &c->txn;
    const struct proxy_hdrs *h = &u->hdrs;
    const llhttp_t *up = &u->parser;
    int status = u->status;
    bool body = t->method != HTTP_HEAD && status != 204 && status != 304;
    bool delimited = (up->flags & F_CONTENT_LENGTH) && !(up->flags & F_CHUNKED);
    struct evbuffer *b = c->down_out;
    if (content_length < 0 && body && (!delimited || rechunk)) {
        /* Chunks for an HTTP/1.1 client; an HTTP/1.0 client reads to the close. */
        if (c->parser.http_minor >= 1)
            t->resp_chunked = true;
        else
            t->keep_alive = false;
    }
    bool keep = t->keep_alive && !c->worker->draining;
    t->keep_alive = keep;
    evbuffer_add_printf(b, "HTTP/1.1 %d %s\r\n", status,
                        u->reason[0] ? u->reason : proxy_status_reason(status));
    for (size_t i = 0; i < h->n; i++) {
        const struct proxy_hdr *e = &h->items[i];
        enum proxy_hdr_kind kind = proxy_hdr_classify(h, e);
        if (kind == PROXY_HDR_HOP ||
            ((t->resp_chunked || content_length >= 0) && kind == PROXY_HDR_CONTENT_LENGTH))
            continue;
        if (kind == PROXY_HDR_X_REQUEST_ID) {
            /* Ours is x-request-id; the provider's own id stays available to the client. */
            evbuffer_add_printf(b, "x-upstream-request-id: %.*s\r\n", (int)e->value_len,
                                proxy_hdr_value(h, e));
            continue;
        }
        proxy_hdr_write(h, e, b);
    }
    t->resp_status = status;
    proxy_filters_response_headers(c, b);
    proxy_outguard_headers(c, b);
    evbuffer_add_printf(b, "x-warden-overhead-ms: %.3f\r\n",
                        (double)proxy_obs_overhead_ns(t) / 1e6);
    if (content_length >= 0)
        evbuffer_add_printf(b, "Content-Length: %lld\r\n", content_length);
    evbuffer_add_printf(b, "x-request-id: %s\r\n%sConnection: %s\r\n\r\n", t->request_id,
                        t->resp_chunked ? "Transfer-Encoding: chunked\r\n" : "",
                        keep ? "keep-alive" : "close");
    t->resp_head_sent = true;
}

int proxy_conn_upstream_head(struct proxy_conn *c, struct proxy_uconn *u)
{
    c->txn.up_head_ns = proxy_now_ns();
    int mode = proxy_outguard_head(c, u);
    if (mode < 0)
        return mode; /* -ECANCELED: the guard answered (502) */
    if (mode == PROXY_OG_JSON || mode == PROXY_OG_TEXT)
        return 0; /* held: the head goes with the rewritten body */
    write_response_head(c, u, -1, mode == PROXY_OG_SSE); /* OBSERVE keeps the framing */
    return 0; /* sent with the first body bytes by proxy_conn_upstream_flush */
}

void proxy_conn_upstream_head_send(struct proxy_conn *c, long long content_length)
{
    write_response_head(c, c->txn.uc, content_length, false);
}

/* Body bytes for the client, framed as the response is: all of `src` (emptied), or at/len. */
static void body_out(struct proxy_conn *c, struct evbuffer *src, const char *at, size_t len)
{
    if (src)
        len = evbuffer_get_length(src);
    if (len == 0)
        return;
    if (c->txn.resp_chunked)
        evbuffer_add_printf(c->down_out, "%zx\r\n", len);
    if (src)
        evbuffer_add_buffer(c->down_out, src);
    else
        evbuffer_add(c->down_out, at, len);
    if (c->txn.resp_chunked)
        evbuffer_add(c->down_out, "\r\n", 2);
}

void proxy_conn_upstream_emit(struct proxy_conn *c, struct evbuffer *b)
{
    body_out(c, b, NULL, 0);
}

int proxy_conn_upstream_body(struct proxy_conn *c, const char *at, size_t len)
{
    if (c->txn.up_first_ns == 0 && len > 0)
        c->txn.up_first_ns = proxy_now_ns();
    enum proxy_og_mode mode = proxy_outguard_mode(c);
    if (mode == PROXY_OG_OBSERVE)
        proxy_outguard_observe(c, at, len);
    else if (mode != PROXY_OG_OFF)
        return proxy_outguard_data(c, at, len);
    body_out(c, NULL, at, len);
    return 0;
}

void proxy_conn_upstream_flush(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    if (evbuffer_get_length(c->down_out) == 0)
        return;
    /* Straight to the socket: a stream event reaches the client as soon as it arrives. */
    proxy_conn_send(c, c->down_out);
    if (t->uc && !(c->flags & PROXY_CONN_F_FREEING) &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) > PROXY_CONN_OUT_HIGH)
        proxy_uconn_reading(t->uc, false); /* the client is slower: slow the upstream */
}

/* The output guard ended the response itself: close what was begun, end the exchange. */
static void guarded_end(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    if (t->resp_head_sent && t->resp_chunked)
        evbuffer_add(c->down_out, "0\r\n\r\n", 5);
    proxy_conn_upstream_flush(c);
    if (t->resp_head_sent && !t->resp_chunked)
        t->keep_alive = false; /* a body delimited by the close: close it */
    proxy_conn_txn_end(c);
}

void proxy_conn_upstream_done(struct proxy_conn *c, struct proxy_uconn *u, bool reusable)
{
    struct proxy_txn *t = &c->txn;
    if (proxy_outguard_mode(c) != PROXY_OG_OFF && proxy_outguard_end(c) != 0) {
        /* The guard answered (a block, or an error response): the upstream finished its
         * response and may serve again. */
        t->uc = NULL;
        proxy_uconn_release(u, reusable);
        guarded_end(c);
        return;
    }
    if (t->resp_chunked)
        evbuffer_add(c->down_out, "0\r\n\r\n", 5);
    t->uc = NULL;
    proxy_conn_upstream_flush(c);
    proxy_uconn_release(u, reusable);
    proxy_conn_txn_end(c);
}

void proxy_conn_upstream_fail(struct proxy_conn *c, int status, const char *code,
                              const char *message)
{
    struct proxy_txn *t = &c->txn;
    t->uc = NULL;                 /* the upstream connection closes itself */
    proxy_conn_upstream_flush(c); /* what arrived before the failure still goes out */
    t->error_type = code;
    tel_log(TEL_LOG_WARN, "upstream_failed", TEL_STR("request_id", t->request_id),
            TEL_STR("upstream", t->up ? t->up->name : ""), TEL_INT("status", status),
            TEL_STR("reason", code), TEL_STR("detail", message));
    if ((c->flags & PROXY_CONN_F_WAIT_RESP) && !t->resp_head_sent) {
        /* The request was read whole: answer, and the connection serves the next one. */
        proxy_conn_respond_error(c, t->flavor, status, "upstream_error", code, message, NULL);
        proxy_conn_txn_end(c);
        return;
    }
    proxy_conn_fail(c, status, "upstream_error", code, message);
}

void proxy_conn_upstream_cancelled(struct proxy_conn *c)
{
    c->txn.uc = NULL; /* the upstream connection closes itself */
    guarded_end(c);
}

void proxy_conn_upstream_drained(struct proxy_conn *c)
{
    proxy_conn_resume(c);
}

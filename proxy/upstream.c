/* Upstream connections: a keep-alive pool per worker and upstream, asynchronous connect
 * (evdns), llhttp response parsing, timeouts; events are handed to the client connection. */
#include "proxy/upstream.h"

#include "policy/config.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "telemetry/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#define UCONN_MAX_HEADER_SIZE (64 * 1024)

static const struct policy_config *u_cfg(const struct proxy_uconn *u)
{
    return u->pool->worker->srv->cfg;
}

static void u_arm(struct proxy_uconn *u, int64_t ms)
{
    struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000};
    evtimer_add(u->timer_ev, &tv);
}

/* Free everything of `u` now; callers make sure no callback chain still holds it. */
static void uconn_destroy(struct proxy_uconn *u)
{
    if (u->bev)
        bufferevent_free(u->bev);
    event_free(u->timer_ev);
    event_free(u->free_ev);
    proxy_hdrs_deinit(&u->hdrs);
    free(u);
}

static void uconn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    uconn_destroy(arg);
}

/* Close and free from a deferred event; the caller's callback chain may still hold `u`. */
static void uconn_close(struct proxy_uconn *u)
{
    if (u->flags & PROXY_UCONN_F_FREEING)
        return;
    u->flags |= PROXY_UCONN_F_FREEING;
    u->client = NULL;
    if (u->bev)
        bufferevent_disable(u->bev, EV_READ | EV_WRITE);
    evtimer_del(u->timer_ev);
    event_active(u->free_ev, 0, 0);
}

static void pool_unlink(struct proxy_uconn *u)
{
    struct proxy_upool *p = u->pool;
    for (struct proxy_uconn **pp = &p->idle; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            p->n_idle--;
            break;
        }
    }
    u->next = NULL;
    u->flags &= ~PROXY_UCONN_F_IDLE;
}

/* An upstream failure before the response head: the client gets 502/504 in its provider's
 * shape; after the head there is nothing to say but to cut the client's response short. */
static void uconn_fail(struct proxy_uconn *u, int status, const char *code, const char *msg)
{
    struct proxy_conn *c = u->client;
    if (u->flags & PROXY_UCONN_F_IDLE) {
        pool_unlink(u);
        uconn_close(u);
        return;
    }
    uconn_close(u);
    if (c)
        proxy_conn_upstream_fail(c, status, code, msg);
}

/* ---------------------------------------------------------------- response parsing */

static struct proxy_uconn *parser_uconn(llhttp_t *p)
{
    return p->data;
}

static int on_resp_begin(llhttp_t *p)
{
    struct proxy_uconn *u = parser_uconn(p);
    proxy_hdrs_reset(&u->hdrs);
    u->reason[0] = '\0';
    return HPE_OK;
}

static int on_resp_status(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_uconn *u = parser_uconn(p);
    size_t have = strlen(u->reason);
    if (have + len < sizeof(u->reason)) {
        memcpy(u->reason + have, at, len);
        u->reason[have + len] = '\0';
    }
    return HPE_OK;
}

static int on_resp_header_field(llhttp_t *p, const char *at, size_t len)
{
    return proxy_hdrs_add_name(&parser_uconn(p)->hdrs, at, len) == 0 ? HPE_OK : HPE_USER;
}

static int on_resp_header_field_complete(llhttp_t *p)
{
    const struct proxy_hdrs *h = &parser_uconn(p)->hdrs;
    /* An empty name would reach the client as ": value", which is no header at all. */
    if (h->n == 0 || h->in_value || h->items[h->n - 1].name_len == 0)
        return HPE_USER;
    return HPE_OK;
}

static int on_resp_header_value(llhttp_t *p, const char *at, size_t len)
{
    return proxy_hdrs_add_value(&parser_uconn(p)->hdrs, at, len) == 0 ? HPE_OK : HPE_USER;
}

static int on_resp_header_value_complete(llhttp_t *p)
{
    proxy_hdrs_value_done(&parser_uconn(p)->hdrs);
    return HPE_OK;
}

static int on_resp_headers_complete(llhttp_t *p)
{
    struct proxy_uconn *u = parser_uconn(p);
    u->status = llhttp_get_status_code(p);
    if (u->status < 200)
        return HPE_OK; /* 1xx: informational, not passed on; the real head follows */
    u->keep_alive = llhttp_should_keep_alive(p);
    u->flags |= PROXY_UCONN_F_HEAD;
    u_arm(u, u_cfg(u)->limits.upstream_read_timeout_ms);
    if (u->client) {
        int rc = proxy_conn_upstream_head(u->client, u);
        if (rc == -ECANCELED)
            u->flags |= PROXY_UCONN_F_CANCEL;
        if (rc != 0)
            return HPE_USER;
    }
    /* 1: the response to HEAD has no body whatever its headers say. */
    return (u->flags & PROXY_UCONN_F_HEAD_REQ) ? 1 : HPE_OK;
}

static int on_resp_body(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_uconn *u = parser_uconn(p);
    if (u->client) {
        int rc = proxy_conn_upstream_body(u->client, at, len);
        if (rc == -ECANCELED)
            u->flags |= PROXY_UCONN_F_CANCEL;
        if (rc != 0)
            return HPE_USER;
    }
    return HPE_OK;
}

static int on_resp_complete(llhttp_t *p)
{
    struct proxy_uconn *u = parser_uconn(p);
    if (u->status < 200)
        return HPE_OK;
    /* Stop: nothing may follow a response on this connection until the next request. */
    return HPE_PAUSED;
}

static const llhttp_settings_t resp_settings = {
    .on_message_begin = on_resp_begin,
    .on_status = on_resp_status,
    .on_header_field = on_resp_header_field,
    .on_header_field_complete = on_resp_header_field_complete,
    .on_header_value = on_resp_header_value,
    .on_header_value_complete = on_resp_header_value_complete,
    .on_headers_complete = on_resp_headers_complete,
    .on_body = on_resp_body,
    .on_message_complete = on_resp_complete,
};

/* The response is complete: hand over, and the connection goes back to the pool if the
 * client releases it so. */
static void uconn_response_done(struct proxy_uconn *u)
{
    struct proxy_conn *c = u->client;
    evtimer_del(u->timer_ev);
    if (c)
        proxy_conn_upstream_done(c, u, u->keep_alive && (u->flags & PROXY_UCONN_F_REQ_DONE));
}

static void uconn_read_cb(struct bufferevent *bev, void *arg)
{
    struct proxy_uconn *u = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len;
    if (u->flags & PROXY_UCONN_F_IDLE) {
        /* An idle connection has nothing to say: unexpected bytes make it unusable. */
        pool_unlink(u);
        uconn_close(u);
        return;
    }
    while (!(u->flags & (PROXY_UCONN_F_FREEING | PROXY_UCONN_F_OUT_FULL)) &&
           (len = evbuffer_get_contiguous_space(in)) > 0) {
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
        llhttp_errno_t e = llhttp_execute(&u->parser, data, len);
        if (u->flags & PROXY_UCONN_F_FREEING)
            return;
        if (e == HPE_PAUSED) {
            size_t used = (size_t)(llhttp_get_error_pos(&u->parser) - data);
            evbuffer_drain(in, used);
            llhttp_resume(&u->parser);
            /* Bytes after the response: the server broke the exchange; never reuse. */
            if (evbuffer_get_length(in) > 0)
                u->keep_alive = false;
            uconn_response_done(u);
            return;
        }
        if (e != HPE_OK && (u->flags & PROXY_UCONN_F_CANCEL)) {
            /* A guard ended the client's response: this exchange is over, and the rest of
             * the upstream's answer is not read. */
            struct proxy_conn *c = u->client;
            evbuffer_drain(in, len);
            uconn_close(u);
            if (c)
                proxy_conn_upstream_cancelled(c);
            return;
        }
        if (e != HPE_OK) {
            char msg[200];
            snprintf(msg, sizeof(msg), "the upstream sent a malformed HTTP response (%s)",
                     llhttp_errno_name(e));
            evbuffer_drain(in, len);
            uconn_fail(u, 502, "upstream_bad_response", msg);
            return;
        }
        evbuffer_drain(in, len);
        if (u->client)
            proxy_conn_upstream_flush(u->client);
        if (u->flags & PROXY_UCONN_F_HEAD)
            u_arm(u, u_cfg(u)->limits.upstream_read_timeout_ms);
    }
}

static void uconn_connected(struct proxy_uconn *u)
{
    int one = 1;
    u->flags |= PROXY_UCONN_F_CONNECTED;
    evutil_socket_t fd = bufferevent_getfd(u->sock);
    if (fd >= 0)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    evtimer_del(u->timer_ev);
    if (u->flags & PROXY_UCONN_F_REQ_DONE)
        u_arm(u, u_cfg(u)->limits.upstream_first_byte_timeout_ms);
}

static void uconn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct proxy_uconn *u = arg;
    char msg[400];
    const struct policy_upstream *up = u->pool->rt->cfg;
    if (what & BEV_EVENT_CONNECTED) {
        uconn_connected(u);
        return;
    }
    if (!(u->flags & PROXY_UCONN_F_CONNECTED)) {
        int err = EVUTIL_SOCKET_ERROR();
        int dns = bufferevent_socket_get_dns_error(u->sock);
        const char *tls = up->url.tls ? proxy_tls_error(bev) : NULL;
        if (dns)
            snprintf(msg, sizeof(msg), "cannot resolve upstream '%s' host %s: %s", up->name,
                     up->url.host, evutil_gai_strerror(dns));
        else if (tls)
            snprintf(msg, sizeof(msg), "upstream '%s' (%s): %s", up->name, up->url.text, tls);
        else
            snprintf(msg, sizeof(msg), "cannot connect to upstream '%s' (%s): %s", up->name,
                     up->url.text, err ? evutil_socket_error_to_string(err) : "connection closed");
        uconn_fail(u, 502, "upstream_unreachable", msg);
        return;
    }
    if ((what & BEV_EVENT_EOF) && !(u->flags & PROXY_UCONN_F_IDLE) &&
        (u->flags & PROXY_UCONN_F_HEAD)) {
        /* A body delimited by the end of the connection ends here (llhttp_finish runs
         * on_resp_complete, which pauses the parser). */
        llhttp_errno_t fe = llhttp_finish(&u->parser);
        if ((fe == HPE_OK || fe == HPE_PAUSED) && !(u->flags & PROXY_UCONN_F_FREEING)) {
            llhttp_resume(&u->parser);
            u->keep_alive = false;
            uconn_response_done(u);
            return;
        }
    }
    if (u->flags & PROXY_UCONN_F_IDLE) {
        pool_unlink(u);
        uconn_close(u);
        return;
    }
    if (u->flags & PROXY_UCONN_F_HEAD)
        snprintf(msg, sizeof(msg),
                 "upstream '%s' closed the connection in the middle of the "
                 "response",
                 up->name);
    else if (u->flags & PROXY_UCONN_F_REUSED)
        snprintf(msg, sizeof(msg),
                 "upstream '%s' closed a kept-alive connection before "
                 "responding",
                 up->name);
    else
        snprintf(msg, sizeof(msg), "upstream '%s' closed the connection before responding",
                 up->name);
    uconn_fail(u, 502, "upstream_closed", msg);
}

static void uconn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_uconn *u = arg;
    char msg[300];
    const struct policy_upstream *up = u->pool->rt->cfg;
    (void)fd;
    (void)what;
    if (u->flags & PROXY_UCONN_F_IDLE) {
        pool_unlink(u);
        uconn_close(u);
        return;
    }
    if (!(u->flags & PROXY_UCONN_F_CONNECTED))
        snprintf(msg, sizeof(msg),
                 "connecting to upstream '%s' (%s) timed out "
                 "(limits.upstream_connect_timeout)",
                 up->name, up->url.text);
    else if (!(u->flags & (PROXY_UCONN_F_HEAD | PROXY_UCONN_F_REQ_DONE)))
        snprintf(msg, sizeof(msg),
                 "upstream '%s' stopped reading the request body "
                 "(limits.upstream_read_timeout)",
                 up->name);
    else if (!(u->flags & PROXY_UCONN_F_HEAD))
        snprintf(msg, sizeof(msg),
                 "upstream '%s' sent no response in time "
                 "(limits.upstream_first_byte_timeout)",
                 up->name);
    else
        snprintf(msg, sizeof(msg),
                 "upstream '%s' stalled in the middle of the response "
                 "(limits.upstream_read_timeout)",
                 up->name);
    uconn_fail(u, 504, "upstream_timeout", msg);
}

static void uconn_write_cb(struct bufferevent *bev, void *arg)
{
    struct proxy_uconn *u = arg;
    (void)bev;
    if (u->client)
        proxy_conn_upstream_drained(u->client);
}

/* ---------------------------------------------------------------- pool */

int proxy_upool_init(struct proxy_upool *pool, struct proxy_worker *w,
                     const struct proxy_upstream_rt *rt)
{
    memset(pool, 0, sizeof(*pool));
    pool->worker = w;
    pool->rt = rt;
    if (rt->tls) {
        pool->tls_cache = proxy_tls_session_cache_new();
        if (pool->tls_cache == NULL)
            return -ENOMEM;
    }
    return 0;
}

void proxy_upool_deinit(struct proxy_upool *pool)
{
    while (pool->idle) {
        struct proxy_uconn *u = pool->idle;
        pool_unlink(u);
        uconn_destroy(u); /* the worker's loop has ended: no callback can hold it */
    }
    proxy_tls_session_cache_free(pool->tls_cache);
    pool->tls_cache = NULL;
}

static struct proxy_uconn *uconn_take_idle(struct proxy_upool *pool)
{
    struct proxy_uconn *u = pool->idle;
    if (u == NULL)
        return NULL;
    pool_unlink(u);
    evtimer_del(u->timer_ev);
    u->flags |= PROXY_UCONN_F_REUSED;
    return u;
}

static struct proxy_uconn *uconn_connect(struct proxy_upool *pool)
{
    struct proxy_worker *w = pool->worker;
    const struct policy_upstream *up = pool->rt->cfg;
    struct proxy_uconn *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->pool = pool;
    u->timer_ev = evtimer_new(w->base, uconn_timer_cb, u);
    u->free_ev = event_new(w->base, -1, 0, uconn_free_cb, u);
    struct bufferevent *sock = bufferevent_socket_new(w->base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (u->timer_ev == NULL || u->free_ev == NULL || sock == NULL)
        goto fail;
    u->sock = sock;
    if (up->url.tls) {
        /* On success the TLS bufferevent owns the socket one. */
        u->bev = proxy_tls_wrap_client(pool->rt->tls, sock, up->url.host, pool->tls_cache);
        if (u->bev == NULL)
            goto fail;
    } else {
        u->bev = sock;
    }
    proxy_hdrs_init(&u->hdrs, UCONN_MAX_HEADER_SIZE);
    llhttp_init(&u->parser, HTTP_RESPONSE, &resp_settings);
    u->parser.data = u;
    bufferevent_setcb(u->bev, uconn_read_cb, uconn_write_cb, uconn_event_cb, u);
    bufferevent_enable(u->bev, EV_READ | EV_WRITE);
    u_arm(u, w->srv->cfg->limits.upstream_connect_timeout_ms);
    /* With TLS the socket bufferevent underneath does the TCP connect. */
    if (bufferevent_socket_connect_hostname(sock, w->dns, AF_UNSPEC, up->url.host, up->url.port) !=
        0) {
        /* Keep the uconn: the connect timer armed above ends the attempt with a 504 if the
         * event callback does not report the failure first. */
        tel_log(TEL_LOG_DEBUG, "upstream_connect_failed", TEL_STR("upstream", up->name));
    }
    return u;
fail:
    if (u->timer_ev)
        event_free(u->timer_ev);
    if (u->free_ev)
        event_free(u->free_ev);
    if (u->bev)
        bufferevent_free(u->bev);
    else if (sock)
        bufferevent_free(sock);
    free(u);
    return NULL;
}

int proxy_uconn_get(struct proxy_upool *pool, struct proxy_conn *client, bool head_request,
                    struct proxy_uconn **out)
{
    struct proxy_uconn *u = uconn_take_idle(pool);
    if (u == NULL)
        u = uconn_connect(pool);
    if (u == NULL)
        return -ENOMEM;
    u->client = client;
    u->flags &= ~(PROXY_UCONN_F_HEAD | PROXY_UCONN_F_REQ_DONE | PROXY_UCONN_F_HEAD_REQ |
                  PROXY_UCONN_F_OUT_FULL);
    if (head_request)
        u->flags |= PROXY_UCONN_F_HEAD_REQ;
    u->status = 0;
    u->keep_alive = false;
    u->requests++;
    /* Writing stays enabled from the connect; enabling it again would arm a write event for
     * an empty buffer (two epoll_ctl calls per request for nothing). */
    bufferevent_enable(u->bev, EV_READ);
    *out = u;
    return 0;
}

size_t proxy_uconn_pending(struct proxy_uconn *u)
{
    return evbuffer_get_length(bufferevent_get_output(u->bev));
}

void proxy_uconn_send(struct proxy_uconn *u, struct evbuffer *b)
{
    struct evbuffer *out = bufferevent_get_output(u->bev);
    if (!u->pool->rt->cfg->url.tls && (u->flags & PROXY_UCONN_F_CONNECTED) &&
        evbuffer_get_length(out) == 0) {
        /* A failed write leaves the bytes in `b`: the bufferevent meets the same error and
         * reports it through the event callback. */
        evbuffer_write(b, bufferevent_getfd(u->sock));
    }
    if (evbuffer_get_length(b) > 0)
        bufferevent_write_buffer(u->bev, b);
}

void proxy_uconn_write_wait(struct proxy_uconn *u, bool waiting)
{
    if (u->flags & (PROXY_UCONN_F_FREEING | PROXY_UCONN_F_HEAD))
        return;
    if (waiting)
        u_arm(u, u_cfg(u)->limits.upstream_read_timeout_ms);
    else
        evtimer_del(u->timer_ev);
}

void proxy_uconn_request_done(struct proxy_uconn *u)
{
    u->flags |= PROXY_UCONN_F_REQ_DONE;
    if ((u->flags & PROXY_UCONN_F_CONNECTED) && !(u->flags & PROXY_UCONN_F_HEAD))
        u_arm(u, u_cfg(u)->limits.upstream_first_byte_timeout_ms);
}

void proxy_uconn_reading(struct proxy_uconn *u, bool on)
{
    if (u->flags & PROXY_UCONN_F_FREEING)
        return;
    if (on) {
        u->flags &= ~PROXY_UCONN_F_OUT_FULL;
        bufferevent_enable(u->bev, EV_READ);
        u_arm(u, u_cfg(u)->limits.upstream_read_timeout_ms);
        /* Bytes read before the pause are still waiting in the input. */
        if (evbuffer_get_length(bufferevent_get_input(u->bev)) > 0)
            uconn_read_cb(u->bev, u);
    } else {
        u->flags |= PROXY_UCONN_F_OUT_FULL;
        bufferevent_disable(u->bev, EV_READ);
        /* The client is slow, not the upstream: its send_timeout watches this wait. */
        evtimer_del(u->timer_ev);
    }
}

void proxy_uconn_release(struct proxy_uconn *u, bool reusable)
{
    struct proxy_upool *pool = u->pool;
    u->client = NULL;
    if (u->flags & PROXY_UCONN_F_FREEING)
        return;
    if (!reusable || (int64_t)pool->n_idle >= u_cfg(u)->limits.upstream_idle_max ||
        pool->worker->draining || evbuffer_get_length(bufferevent_get_output(u->bev)) > 0 ||
        evbuffer_get_length(bufferevent_get_input(u->bev)) > 0) {
        uconn_close(u);
        return;
    }
    u->flags |= PROXY_UCONN_F_IDLE;
    u->flags &= ~PROXY_UCONN_F_OUT_FULL;
    u->next = pool->idle;
    pool->idle = u;
    pool->n_idle++;
    /* Reading stays on while idle, so a close by the server is noticed at once. */
    bufferevent_enable(u->bev, EV_READ);
    u_arm(u, u_cfg(u)->limits.upstream_idle_timeout_ms);
}

/* Client connections: llhttp request parsing, limits, timeouts, responses, deferred close. */
#include "proxy/conn.h"

#include "proxy/outguard.h"

#include "policy/config.h"
#include "policy/route.h"
#include "proxy/admin.h"
#include "proxy/deps_api.h"
#include "proxy/observe.h"
#include "proxy/server.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"
#include "telemetry/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

uint64_t proxy_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const struct policy_config *conn_cfg(const struct proxy_conn *c)
{
    return c->worker->srv->cfg;
}

static struct timeval ms_tv(int64_t ms)
{
    return (struct timeval){.tv_sec = (time_t)(ms / 1000),
                            .tv_usec = (suseconds_t)(ms % 1000) * 1000};
}

static void conn_arm_timer(struct proxy_conn *c, int64_t ms)
{
    struct timeval tv = ms_tv(ms);
    evtimer_add(c->timer_ev, &tv);
}

static void txn_reset(struct proxy_txn *t)
{
    /* A long target does not keep its buffer: idle connections stay small. */
    if (t->url_cap > 4 * PROXY_URL_START) {
        char *small = realloc(t->url, PROXY_URL_START);
        if (small != NULL) {
            t->url = small;
            t->url_cap = PROXY_URL_START;
        }
    }
    t->url_len = 0;
    t->url[0] = '\0';
    t->request_id[0] = '\0';
    t->header_bytes = 0;
    t->body_bytes = 0;
    t->method = 0;
    t->status = 0;
    t->started = false;
    t->headers_done = false;
    t->keep_alive = false;
    t->start_ns = 0;
    t->proxied = false;
    t->req_chunked = false;
    t->resp_head_sent = false;
    t->resp_chunked = false;
    t->n_filters = 0;
    t->hold_all = false;
    t->answered = false;
    t->prompt_ran = false;
    t->prompt_flag = false;
    t->guard_ns = 0;
    t->flavor = PROXY_FLAVOR_OPENAI;
    t->up = NULL;
    t->route = NULL;
    t->resp_status = 0;
    t->req_done_ns = t->guard_done_ns = t->up_start_ns = t->guard_up_ns = 0;
    t->up_head_ns = t->up_first_ns = 0;
    t->error_type = NULL;
    t->observed = false;
    t->pool = NULL;
    t->uc = NULL;
}

static void conn_txn_reset(struct proxy_conn *c)
{
    if (c->txn.proxied && !c->txn.observed)
        proxy_obs_request_end(c);
    txn_reset(&c->txn);
    /* Between requests a connection keeps nothing but its socket's state: the guards' state
     * goes back to the worker, the header and held-body buffers are freed. 10,000 idle
     * keep-alive clients must cost little more than their sockets. */
    proxy_filters_release(c);
    proxy_outguard_release(c);
    proxy_hdrs_deinit(&c->req_hdrs);
    proxy_hdrs_init(&c->req_hdrs, (size_t)conn_cfg(c)->limits.max_header_bytes);
    if (c->hold) {
        evbuffer_free(c->hold);
        c->hold = NULL;
    }
}

/* ---------------------------------------------------------------- responses */

const char *proxy_status_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

enum proxy_flavor proxy_flavor_of(const char *path, size_t len)
{
    static const char prefix[] = "/v1/messages";
    size_t n = sizeof(prefix) - 1;
    if (len >= n && memcmp(path, prefix, n) == 0 && (len == n || path[n] == '/' || path[n] == '?'))
        return PROXY_FLAVOR_ANTHROPIC;
    return PROXY_FLAVOR_OPENAI;
}

/* Send in order: straight to the socket while nothing is queued, so a response that fits
 * the socket buffer costs one sendmsg and no write-event round trip through epoll; what
 * the socket does not take goes to the bufferevent, which finishes it when writable. */
void proxy_conn_sendv(struct proxy_conn *c, struct iovec *iov, int n_iov)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (!(c->flags & PROXY_CONN_F_TLS) && evbuffer_get_length(out) == 0) {
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t sent;
        do
            sent = sendmsg(bufferevent_getfd(c->bev), &msg, MSG_NOSIGNAL);
        while (sent < 0 && errno == EINTR);
        if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            proxy_conn_close(c, false); /* the peer is gone; nothing more to say */
            return;
        }
        for (int i = 0; i < n_iov && sent > 0; i++) {
            size_t take = (size_t)sent < iov[i].iov_len ? (size_t)sent : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            sent -= (ssize_t)take;
        }
    }
    for (int i = 0; i < n_iov; i++) {
        if (iov[i].iov_len > 0)
            evbuffer_add(out, iov[i].iov_base, iov[i].iov_len);
    }
}

void proxy_conn_send(struct proxy_conn *c, struct evbuffer *b)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (c->flags & PROXY_CONN_F_FREEING) {
        evbuffer_drain(b, evbuffer_get_length(b));
        return;
    }
    if (!(c->flags & PROXY_CONN_F_TLS) && evbuffer_get_length(out) == 0) {
        int n = evbuffer_write(b, bufferevent_getfd(c->bev));
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            evbuffer_drain(b, evbuffer_get_length(b));
            proxy_conn_close(c, false);
            return;
        }
    }
    if (evbuffer_get_length(b) > 0)
        evbuffer_add_buffer(out, b);
}

void proxy_conn_respond(struct proxy_conn *c, int status, const char *content_type,
                        const char *body, size_t len, const char *extra)
{
    char head[2048];
    bool keep = c->txn.keep_alive && !(c->flags & PROXY_CONN_F_CLOSING) && !c->worker->draining &&
                c->txn.status == 0;
    if (c->flags & PROXY_CONN_F_FREEING)
        return;
    c->txn.resp_status = status;
    int n = snprintf(
        head, sizeof(head),
        "HTTP/1.1 %d %s\r\n%s%s%sContent-Length: %zu\r\n%s%s%s%sConnection: %s\r\n\r\n", status,
        proxy_status_reason(status), content_type ? "Content-Type: " : "",
        content_type ? content_type : "", content_type ? "\r\n" : "", len,
        c->txn.request_id[0] ? "x-request-id: " : "", c->txn.request_id,
        c->txn.request_id[0] ? "\r\n" : "", extra ? extra : "", keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        proxy_conn_close(c, false); /* only an oversized `extra` from our own code gets here */
        return;
    }
    if (!keep)
        c->flags |= PROXY_CONN_F_CLOSING;
    struct iovec iov[2] = {{.iov_base = head, .iov_len = (size_t)n},
                           {.iov_base = (void *)body, .iov_len = 0}};
    if (body && c->txn.method != HTTP_HEAD)
        iov[1].iov_len = len;
    proxy_conn_sendv(c, iov, 2);
}

/* Anthropic's error types go by status; its SDK and its users know these names. */
static const char *anthropic_error_type(int status, const char *type)
{
    switch (status) {
    case 400:
    case 405:
    case 408:
    case 414:
    case 431:
    case 505:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 503:
        return "overloaded_error";
    case 504:
        return "timeout_error";
    default:
        return status >= 500 ? "api_error" : type;
    }
}

void proxy_conn_respond_error(struct proxy_conn *c, enum proxy_flavor flavor, int status,
                              const char *type, const char *code, const char *message,
                              const char *extra)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        proxy_conn_close(c, false);
        return;
    }
    if (flavor == PROXY_FLAVOR_ANTHROPIC) {
        evbuffer_add_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
        proxy_json_escape(b, anthropic_error_type(status, type), SIZE_MAX);
        evbuffer_add_printf(b, "\",\"message\":\"");
        proxy_json_escape(b, message, SIZE_MAX);
        evbuffer_add_printf(b, "\"}}");
    } else {
        evbuffer_add_printf(b, "{\"error\":{\"message\":\"");
        proxy_json_escape(b, message, SIZE_MAX);
        evbuffer_add_printf(b, "\",\"type\":\"");
        proxy_json_escape(b, type, SIZE_MAX);
        evbuffer_add_printf(b, "\",\"code\":");
        if (code) {
            evbuffer_add(b, "\"", 1);
            proxy_json_escape(b, code, SIZE_MAX);
            evbuffer_add(b, "\"", 1);
        } else {
            evbuffer_add(b, "null", 4);
        }
        evbuffer_add_printf(b, ",\"param\":null}}");
    }
    size_t len = evbuffer_get_length(b);
    proxy_conn_respond(c, status, "application/json", (const char *)evbuffer_pullup(b, -1), len,
                       extra);
    evbuffer_free(b);
}

static bool valid_request_id(const char *s, size_t len)
{
    if (len == 0 || len > PROXY_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return false;
    }
    return true;
}

void proxy_conn_fail(struct proxy_conn *c, int status, const char *type, const char *code,
                     const char *message)
{
    if (c->flags & (PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING))
        return;
    c->txn.status = status;
    if (c->txn.started && !(c->flags & PROXY_CONN_F_WAIT_RESP))
        c->flags |= PROXY_CONN_F_LINGER; /* the client may still be sending the request */
    if (c->txn.uc)
        proxy_forward_abort(c);
    if (c->txn.resp_head_sent) {
        /* Mid-response there is no way to say why: the client sees the response cut. */
        tel_log(TEL_LOG_WARN, "response_cut", TEL_STR("peer", c->peer),
                TEL_STR("request_id", c->txn.request_id), TEL_STR("reason", code ? code : type));
        proxy_conn_close(c, true);
        return;
    }
    /* The id may be cut mid-header here: echo it only when it is whole and well formed. */
    if (!valid_request_id(c->txn.request_id, strlen(c->txn.request_id)))
        proxy_worker_request_id(c->worker, c->txn.request_id);
    proxy_conn_respond_error(c, proxy_flavor_of(c->txn.url, c->txn.url_len), status, type, code,
                             message, NULL);
    tel_log(TEL_LOG_INFO, "request_rejected", TEL_STR("peer", c->peer),
            TEL_STR("request_id", c->txn.request_id), TEL_INT("status", status),
            TEL_STR("reason", code ? code : type));
    if (c->txn.proxied && !c->txn.observed) {
        if (c->txn.error_type == NULL)
            c->txn.error_type = type;
        proxy_obs_request_end(c);
    }
    proxy_conn_close(c, true);
}

/* ---------------------------------------------------------------- dispatch */

/* A whole request has been read: answer it. Returns true when the answer comes later (a
 * scan on its own thread): the transaction then ends with proxy_conn_txn_end. */
static bool conn_dispatch(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    if (t->request_id[0] == '\0')
        proxy_worker_request_id(c->worker, t->request_id);
    if (proxy_admin_handle(c, t->url, t->url_len) == 2)
        return true;
    c->requests++;
    tel_log(TEL_LOG_DEBUG, "request", TEL_STR("peer", c->peer),
            TEL_STR("request_id", t->request_id),
            TEL_STR("method", llhttp_method_name((llhttp_method_t)t->method)),
            TEL_UINT("body_bytes", t->body_bytes),
            TEL_DBL("ms", (double)(proxy_now_ns() - t->start_ns) / 1e6));
    return false;
}

/* ---------------------------------------------------------------- llhttp callbacks */

static struct proxy_conn *parser_conn(llhttp_t *p)
{
    return p->data;
}

/* Header bytes so far against the cap: the limit covers the request line and headers. */
static int add_header_bytes(struct proxy_conn *c, size_t n)
{
    c->txn.header_bytes += n;
    if (c->txn.header_bytes > (size_t)conn_cfg(c)->limits.max_header_bytes) {
        c->txn.status = 431;
        return HPE_USER;
    }
    return HPE_OK;
}

static int on_message_begin(llhttp_t *p)
{
    struct proxy_conn *c = parser_conn(p);
    conn_txn_reset(c);
    c->txn.started = true;
    c->txn.start_ns = proxy_now_ns();
    return HPE_OK;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    struct proxy_txn *t = &c->txn;
    if (t->url_len + len > PROXY_URL_MAX) {
        t->status = 414;
        return HPE_USER;
    }
    if (t->url_len + len >= t->url_cap) {
        size_t cap = t->url_cap * 2 > t->url_len + len + 1 ? t->url_cap * 2 : t->url_len + len + 1;
        cap = cap < PROXY_URL_MAX + 1 ? cap : PROXY_URL_MAX + 1;
        char *grown = realloc(t->url, cap);
        if (grown == NULL) {
            t->status = 503;
            return HPE_USER;
        }
        t->url = grown;
        t->url_cap = cap;
    }
    memcpy(t->url + t->url_len, at, len);
    t->url_len += len;
    t->url[t->url_len] = '\0';
    return add_header_bytes(c, len);
}

static int hdrs_status(struct proxy_conn *c, int rc)
{
    if (rc == 0)
        return HPE_OK;
    c->txn.status = 431; /* too many headers, or no memory for them */
    return HPE_USER;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    int rc = add_header_bytes(c, len + 4); /* ": " and CRLF */
    return rc != HPE_OK ? rc : hdrs_status(c, proxy_hdrs_add_name(&c->req_hdrs, at, len));
}

static int on_header_field_complete(llhttp_t *p)
{
    struct proxy_conn *c = parser_conn(p);
    const struct proxy_hdrs *h = &c->req_hdrs;
    /* llhttp lets ": value" through even in strict mode; such a line is no header. */
    if (h->n == 0 || h->in_value || h->items[h->n - 1].name_len == 0) {
        c->txn.status = 400;
        return HPE_USER;
    }
    return HPE_OK;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    int rc = add_header_bytes(c, len);
    return rc != HPE_OK ? rc : hdrs_status(c, proxy_hdrs_add_value(&c->req_hdrs, at, len));
}

static int on_header_value_complete(llhttp_t *p)
{
    proxy_hdrs_value_done(&parser_conn(p)->req_hdrs);
    return HPE_OK;
}

/* The client's x-request-id when it is one we can pass on safely (the last one given),
 * otherwise a new one. */
static void txn_request_id(struct proxy_conn *c)
{
    const struct proxy_hdrs *h = &c->req_hdrs;
    const struct proxy_hdr *id = NULL;
    for (size_t i = 0; i < h->n; i++) {
        if (proxy_hdr_is(h, &h->items[i], "x-request-id"))
            id = &h->items[i];
    }
    if (id && valid_request_id(proxy_hdr_value(h, id), id->value_len)) {
        memcpy(c->txn.request_id, proxy_hdr_value(h, id), id->value_len);
        c->txn.request_id[id->value_len] = '\0';
    } else {
        proxy_worker_request_id(c->worker, c->txn.request_id);
    }
}

static int on_headers_complete(llhttp_t *p)
{
    struct proxy_conn *c = parser_conn(p);
    struct proxy_txn *t = &c->txn;
    t->headers_done = true;
    t->method = (uint8_t)llhttp_get_method(p);
    if (llhttp_get_http_major(p) != 1) {
        t->status = 505;
        return HPE_USER;
    }
    t->keep_alive = llhttp_should_keep_alive(p);
    if ((p->flags & F_CONTENT_LENGTH) &&
        p->content_length > (uint64_t)conn_cfg(c)->limits.max_body_bytes) {
        t->status = 413;
        return HPE_USER;
    }
    txn_request_id(c);
    conn_arm_timer(c, conn_cfg(c)->limits.client_body_timeout_ms);
    if (!proxy_admin_owns(t->url, t->url_len)) {
        t->proxied = true;
        if (proxy_forward_begin(c) != 0)
            return HPE_USER; /* answered already */
    }
    return HPE_OK;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    c->txn.body_bytes += len;
    if (c->txn.body_bytes > (uint64_t)conn_cfg(c)->limits.max_body_bytes) {
        c->txn.status = 413;
        return HPE_USER;
    }
    conn_arm_timer(c, conn_cfg(c)->limits.client_body_timeout_ms);
    if (c->txn.proxied) {
        if (proxy_forward_body(c, at, len) != 0)
            return HPE_USER; /* answered already */
        return HPE_OK;
    }
    /* Warden's own endpoints read their (capped) body whole. */
    if (c->hold == NULL && (c->hold = evbuffer_new()) == NULL) {
        c->txn.status = 503;
        return HPE_USER;
    }
    evbuffer_add(c->hold, at, len);
    return HPE_OK;
}

static int on_message_complete(llhttp_t *p)
{
    /* Stop here so the request is answered before the next pipelined one is parsed. */
    (void)p;
    return HPE_PAUSED;
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---------------------------------------------------------------- events */

static void conn_parse_error(struct proxy_conn *c, llhttp_errno_t e)
{
    char msg[200];
    if (c->flags & (PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING))
        return; /* a forwarding step answered already */
    switch (c->txn.status) {
    case 431:
        snprintf(msg, sizeof(msg),
                 "request line and headers exceed %lld bytes (limits.max_header_bytes)",
                 (long long)conn_cfg(c)->limits.max_header_bytes);
        proxy_conn_fail(c, 431, "invalid_request_error", "request_header_too_large", msg);
        return;
    case 414:
        snprintf(msg, sizeof(msg), "request target longer than %d bytes", PROXY_URL_MAX);
        proxy_conn_fail(c, 414, "invalid_request_error", "uri_too_long", msg);
        return;
    case 505:
        snprintf(msg, sizeof(msg), "HTTP/%d.%d is not supported on this listener; use HTTP/1.1",
                 llhttp_get_http_major(&c->parser), llhttp_get_http_minor(&c->parser));
        proxy_conn_fail(c, 505, "invalid_request_error", "http_version_not_supported", msg);
        return;
    case 413:
        snprintf(msg, sizeof(msg), "request body exceeds %lld bytes (limits.max_body_bytes)",
                 (long long)conn_cfg(c)->limits.max_body_bytes);
        proxy_conn_fail(c, 413, "invalid_request_error", "request_too_large", msg);
        return;
    case 503:
        proxy_conn_fail(c, 503, "upstream_error", "overloaded", "out of memory");
        return;
    case 400:
        proxy_conn_fail(c, 400, "invalid_request_error", "bad_http_request",
                        "malformed HTTP request: a header line has an empty name");
        return;
    default:
        break;
    }
    snprintf(msg, sizeof(msg), "malformed HTTP request: %s (%s)", llhttp_errno_name(e),
             llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "");
    proxy_conn_fail(c, 400, "invalid_request_error", "bad_http_request", msg);
}

/* Parse and answer what the client has sent, while it takes the answers: with more than
 * PROXY_CONN_OUT_HIGH bytes unsent, reading stops until the output drains (a client that
 * pipelines without reading cannot grow our memory). */
static void conn_process(struct proxy_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len;
    unsigned stop = PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING | PROXY_CONN_F_WAIT_RESP |
                    PROXY_CONN_F_REQ_FULL;
    while (!(c->flags & stop) && (len = evbuffer_get_contiguous_space(in)) > 0) {
        if (evbuffer_get_length(out) > PROXY_CONN_OUT_HIGH) {
            c->flags |= PROXY_CONN_F_OUT_FULL;
            bufferevent_disable(c->bev, EV_READ);
            return; /* conn_write_cb resumes once the output has drained */
        }
        if (!(c->flags & PROXY_CONN_F_HDR_TIMER)) {
            /* The header deadline runs from the first byte of a request (stray CRLF
             * between requests included), not from each byte. */
            c->flags |= PROXY_CONN_F_HDR_TIMER;
            conn_arm_timer(c, conn_cfg(c)->limits.client_header_timeout_ms);
        }
        const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
        llhttp_errno_t e = llhttp_execute(&c->parser, data, len);
        size_t used = len;
        if (e == HPE_PAUSED)
            used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (e != HPE_OK && e != HPE_PAUSED) {
            evbuffer_drain(in, len);
            conn_parse_error(c, e);
            return;
        }
        evbuffer_drain(in, used);
        if (e != HPE_PAUSED) /* at the end of the request proxy_forward_end sends it all */
            proxy_forward_flush(c);
        if (e != HPE_PAUSED && c->txn.uc && proxy_uconn_pending(c->txn.uc) > PROXY_CONN_OUT_HIGH) {
            /* The upstream is slower than the client: hold the body back
             * (proxy_conn_resume when it has drained). */
            c->flags |= PROXY_CONN_F_REQ_FULL;
            bufferevent_disable(c->bev, EV_READ);
            evtimer_del(c->timer_ev); /* the client is not the one stalling */
            proxy_uconn_write_wait(c->txn.uc, true);
            return;
        }
        if (e == HPE_PAUSED) {
            llhttp_resume(&c->parser);
            /* After an Upgrade or CONNECT the bytes that follow are not HTTP/1.1 requests:
             * this version serves no tunnel, so the answer closes the connection. */
            if (c->parser.upgrade)
                c->txn.keep_alive = false;
            if (c->txn.proxied) {
                /* The upstream's timeouts govern from here; parsing waits for the response. */
                evtimer_del(c->timer_ev);
                c->flags &= ~PROXY_CONN_F_HDR_TIMER;
                if (proxy_forward_end(c) == 0) {
                    c->flags |= PROXY_CONN_F_WAIT_RESP;
                    return;
                }
                if (!c->txn.answered || (c->flags & PROXY_CONN_F_FREEING))
                    return; /* failed: proxy_conn_fail has closed the connection */
                /* Answered here (a blocked prompt): go on with the next request in this loop,
                 * never by recursion, however many are pipelined. */
                c->requests++;
            } else if (conn_dispatch(c)) {
                evtimer_del(c->timer_ev);
                c->flags &= ~PROXY_CONN_F_HDR_TIMER;
                c->flags |= PROXY_CONN_F_WAIT_RESP;
                return;
            }
            conn_txn_reset(c);
            c->flags &= ~PROXY_CONN_F_HDR_TIMER;
            if (c->flags & PROXY_CONN_F_CLOSING) {
                proxy_conn_close(c, true);
                return;
            }
            conn_arm_timer(c, conn_cfg(c)->limits.keepalive_timeout_ms);
        }
    }
    /* The client half-closed: answer everything it sent, then close. A forwarded exchange
     * still in progress is abandoned: its upstream connection is closed with it. */
    if ((c->flags & PROXY_CONN_F_PEER_EOF) && !(c->flags & PROXY_CONN_F_FREEING))
        proxy_conn_close(c, true);
}

void proxy_conn_resume(struct proxy_conn *c)
{
    if (!(c->flags & PROXY_CONN_F_REQ_FULL))
        return;
    c->flags &= ~PROXY_CONN_F_REQ_FULL;
    if (c->txn.uc)
        proxy_uconn_write_wait(c->txn.uc, false);
    conn_arm_timer(c, conn_cfg(c)->limits.client_body_timeout_ms);
    if (!(c->flags & PROXY_CONN_F_PEER_EOF))
        bufferevent_enable(c->bev, EV_READ);
    conn_process(c);
}

void proxy_conn_txn_end(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    bool keep = t->keep_alive && !c->worker->draining && t->status == 0 &&
                !(c->flags & PROXY_CONN_F_CLOSING);
    /* The upstream answered before the client finished sending: if we close, linger. */
    if (!keep && t->started && !(c->flags & PROXY_CONN_F_WAIT_RESP))
        c->flags |= PROXY_CONN_F_LINGER;
    c->flags &= ~(PROXY_CONN_F_WAIT_RESP | PROXY_CONN_F_REQ_FULL);
    c->requests++;
    tel_log(TEL_LOG_DEBUG, "request", TEL_STR("peer", c->peer),
            TEL_STR("request_id", t->request_id), TEL_STR("upstream", t->up ? t->up->name : ""),
            TEL_UINT("body_bytes", t->body_bytes),
            TEL_DBL("ms", (double)(proxy_now_ns() - t->start_ns) / 1e6));
    conn_txn_reset(c);
    if (!keep) {
        proxy_conn_close(c, true);
        return;
    }
    if (!(c->flags & PROXY_CONN_F_PEER_EOF))
        bufferevent_enable(c->bev, EV_READ);
    conn_arm_timer(c, conn_cfg(c)->limits.keepalive_timeout_ms);
    conn_process(c); /* what the client pipelined meanwhile */
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct proxy_conn *c = arg;
    if (c->flags & PROXY_CONN_F_LINGERING) {
        struct evbuffer *in = bufferevent_get_input(bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    conn_process(c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct proxy_conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (c->flags & PROXY_CONN_F_CLOSING) {
        proxy_conn_close(c, (c->flags & PROXY_CONN_F_LINGER) != 0);
        return;
    }
    if (c->txn.uc && (c->txn.uc->flags & PROXY_UCONN_F_OUT_FULL))
        proxy_uconn_reading(c->txn.uc, true); /* the client took the body: read on */
    if (c->flags & PROXY_CONN_F_OUT_FULL) {
        c->flags &= ~PROXY_CONN_F_OUT_FULL;
        if (!(c->flags & PROXY_CONN_F_PEER_EOF))
            bufferevent_enable(c->bev, EV_READ);
        conn_process(c);
    }
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct proxy_conn *c = arg;
    (void)bev;
    if ((what & BEV_EVENT_EOF) && (c->flags & PROXY_CONN_F_LINGERING)) {
        proxy_conn_close(c, false);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        c->flags |= PROXY_CONN_F_PEER_EOF;
        if (!(c->flags & PROXY_CONN_F_OUT_FULL))
            conn_process(c);
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        tel_log(TEL_LOG_INFO, "client_send_timeout", TEL_STR("peer", c->peer),
                TEL_INT("limit_ms", conn_cfg(c)->limits.send_timeout_ms));
    else if (c->txn.started && !(c->flags & PROXY_CONN_F_CLOSING))
        tel_log(TEL_LOG_DEBUG, "client_gone", TEL_STR("peer", c->peer),
                TEL_BOOL("mid_request", true));
    proxy_conn_close(c, false);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->flags & PROXY_CONN_F_LINGERING) {
        proxy_conn_close(c, false);
        return;
    }
    if (c->flags & (PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING | PROXY_CONN_F_WAIT_RESP))
        return;
    if (c->txn.started) {
        proxy_conn_fail(c, 408, "invalid_request_error", "request_timeout",
                        c->txn.headers_done
                            ? "the request body stalled (limits.client_body_timeout)"
                            : "the request headers did not arrive in time "
                              "(limits.client_header_timeout)");
        return;
    }
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        /* Not idle: answers are still going out (limits.send_timeout watches that). */
        conn_arm_timer(c, conn_cfg(c)->limits.keepalive_timeout_ms);
        return;
    }
    proxy_conn_close(c, false); /* idle, or only stray line breaks since the deadline began */
}

static void conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_conn *c = arg;
    (void)fd;
    (void)what;
    proxy_worker_conn_gone(c->worker, c);
    proxy_deps_api_conn_gone(c);
    bufferevent_free(c->bev);
    event_free(c->timer_ev);
    event_free(c->free_ev);
    proxy_hdrs_deinit(&c->req_hdrs);
    if (c->hold)
        evbuffer_free(c->hold);
    proxy_filters_free(c);
    proxy_outguard_free(c);
    evbuffer_free(c->up_out);
    evbuffer_free(c->down_out);
    free(c->txn.url);
    free(c);
}

/* The answer went out before the client finished sending: closing with unread bytes makes
 * the kernel reset the connection, which can destroy the answer before the client reads
 * it (RFC 9112 9.6). Half-close, discard what still comes, close at EOF or after a while. */
static void conn_linger(struct proxy_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    c->flags |= PROXY_CONN_F_LINGERING;
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    evbuffer_drain(in, evbuffer_get_length(in));
    bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
    bufferevent_enable(c->bev, EV_READ);
    conn_arm_timer(c, PROXY_CONN_LINGER_MS);
}

void proxy_conn_close(struct proxy_conn *c, bool flush)
{
    if (c->flags & PROXY_CONN_F_FREEING)
        return;
    if (c->txn.uc)
        proxy_forward_abort(c); /* an exchange cut short: its upstream connection goes too */
    if (flush && (c->flags & PROXY_CONN_F_LINGER) && !(c->flags & PROXY_CONN_F_TLS) &&
        !(c->flags & (PROXY_CONN_F_LINGERING | PROXY_CONN_F_PEER_EOF))) {
        c->flags |= PROXY_CONN_F_CLOSING;
        if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
            bufferevent_disable(c->bev, EV_READ);
            return; /* conn_write_cb comes back once the answer is out */
        }
        conn_linger(c);
        return;
    }
    if (flush && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
        c->flags |= PROXY_CONN_F_CLOSING;
        bufferevent_disable(c->bev, EV_READ);
        return; /* conn_write_cb finishes the job once the output is flushed */
    }
    c->flags |= PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING;
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    evtimer_del(c->timer_ev);
    event_active(c->free_ev, 0, 0);
}

void proxy_conn_drain(struct proxy_conn *c)
{
    if (!c->txn.started && !(c->flags & PROXY_CONN_F_WAIT_RESP))
        proxy_conn_close(c, true); /* at once, or once its last answer is flushed */
    /* A request in progress gets "Connection: close" on its response (worker->draining). */
}

struct proxy_conn *proxy_conn_new(struct proxy_worker *w, evutil_socket_t fd,
                                  const struct sockaddr *sa, int salen)
{
    struct proxy_conn *c = calloc(1, sizeof(*c));
    int one = 1;
    if (c == NULL)
        goto fail;
    c->worker = w;
    c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (c->bev && w->srv->tls) {
        /* TLS listener: everything above this line sees plaintext; the direct socket
         * writes are off for this connection. */
        struct bufferevent *tls = proxy_tls_wrap_server(w->srv->tls, c->bev);
        if (tls == NULL) {
            bufferevent_free(c->bev);
            c->bev = NULL;
            fd = -1; /* closed with the socket bufferevent */
            goto fail;
        }
        c->bev = tls;
        c->flags |= PROXY_CONN_F_TLS;
    }
    c->timer_ev = evtimer_new(w->base, conn_timer_cb, c);
    c->free_ev = event_new(w->base, -1, 0, conn_free_cb, c);
    c->up_out = evbuffer_new();
    c->down_out = evbuffer_new();
    c->txn.url = calloc(1, PROXY_URL_START);
    c->txn.url_cap = PROXY_URL_START;
    if (c->bev == NULL || c->timer_ev == NULL || c->free_ev == NULL || c->up_out == NULL ||
        c->down_out == NULL || c->txn.url == NULL)
        goto fail;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (sa && sa->sa_family == AF_INET && salen >= (int)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(in4->sin_port));
        snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
    } else if (sa && sa->sa_family == AF_INET6 && salen >= (int)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, ntohs(in6->sin6_port));
        snprintf(c->peer_ip, sizeof(c->peer_ip), "%s", ip);
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    proxy_hdrs_init(&c->req_hdrs, (size_t)w->srv->cfg->limits.max_header_bytes);
    txn_reset(&c->txn);
    /* While a forwarded request waits for its response, what the client pipelines stays
     * in the input: past this much, libevent stops reading. */
    bufferevent_setwatermark(c->bev, EV_READ, 0, PROXY_CONN_OUT_HIGH);
    bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    /* The write timeout runs only while output waits: a client that stops reading. */
    struct timeval send_tv = ms_tv(w->srv->cfg->limits.send_timeout_ms);
    bufferevent_set_timeouts(c->bev, NULL, &send_tv);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->flags |= PROXY_CONN_F_HDR_TIMER;
    conn_arm_timer(c, w->srv->cfg->limits.client_header_timeout_ms);
    return c;
fail:
    if (c) {
        if (c->bev)
            bufferevent_free(c->bev);
        else if (fd >= 0)
            evutil_closesocket(fd);
        if (c->timer_ev)
            event_free(c->timer_ev);
        if (c->free_ev)
            event_free(c->free_ev);
        if (c->up_out)
            evbuffer_free(c->up_out);
        if (c->down_out)
            evbuffer_free(c->down_out);
        free(c->txn.url);
        free(c);
    } else {
        evutil_closesocket(fd);
    }
    return NULL;
}

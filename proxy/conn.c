/* Client connections: llhttp request parsing, limits, timeouts, responses, deferred close. */
#include "proxy/conn.h"

#include "policy/config.h"
#include "policy/route.h"
#include "proxy/admin.h"
#include "proxy/server.h"
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

enum hdr_want {
    HDR_NONE = 0,
    HDR_REQUEST_ID,
};

static uint64_t now_ns(void)
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
    t->url_len = 0;
    t->url[0] = '\0';
    t->request_id[0] = '\0';
    t->hdr_name_len = 0;
    t->hdr_name_long = false;
    t->hdr_want = HDR_NONE;
    t->header_bytes = 0;
    t->body_bytes = 0;
    t->method = 0;
    t->status = 0;
    t->started = false;
    t->headers_done = false;
    t->keep_alive = false;
    t->start_ns = 0;
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
static void conn_sendv(struct proxy_conn *c, struct iovec *iov, int n_iov)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    if (evbuffer_get_length(out) == 0) {
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

void proxy_conn_respond(struct proxy_conn *c, int status, const char *content_type,
                        const char *body, size_t len, const char *extra)
{
    char head[1024];
    bool keep = c->txn.keep_alive && !(c->flags & PROXY_CONN_F_CLOSING) && !c->worker->draining &&
                c->txn.status == 0;
    if (c->flags & PROXY_CONN_F_FREEING)
        return;
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
    conn_sendv(c, iov, 2);
}

/* Append `s` as the body of a JSON string. */
static void json_escape(struct evbuffer *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            evbuffer_add_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            evbuffer_add_printf(b, "\\u%04x", *p);
        else
            evbuffer_add(b, p, 1);
    }
}

void proxy_conn_respond_error(struct proxy_conn *c, enum proxy_flavor flavor, int status,
                              const char *type, const char *code, const char *message)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        proxy_conn_close(c, false);
        return;
    }
    if (flavor == PROXY_FLAVOR_ANTHROPIC) {
        evbuffer_add_printf(b, "{\"type\":\"error\",\"error\":{\"type\":\"");
        json_escape(b, type);
        evbuffer_add_printf(b, "\",\"message\":\"");
        json_escape(b, message);
        evbuffer_add_printf(b, "\"}}");
    } else {
        evbuffer_add_printf(b, "{\"error\":{\"message\":\"");
        json_escape(b, message);
        evbuffer_add_printf(b, "\",\"type\":\"");
        json_escape(b, type);
        evbuffer_add_printf(b, "\",\"code\":");
        if (code) {
            evbuffer_add(b, "\"", 1);
            json_escape(b, code);
            evbuffer_add(b, "\"", 1);
        } else {
            evbuffer_add(b, "null", 4);
        }
        evbuffer_add_printf(b, ",\"param\":null}}");
    }
    size_t len = evbuffer_get_length(b);
    proxy_conn_respond(c, status, "application/json", (const char *)evbuffer_pullup(b, -1), len,
                       NULL);
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

/* An error decided while reading: answer in the provider's shape and close. */
static void conn_fail(struct proxy_conn *c, int status, const char *type, const char *code,
                      const char *message)
{
    c->txn.status = status;
    /* The id may be cut mid-header here: echo it only when it is whole and well formed. */
    if (!valid_request_id(c->txn.request_id, strlen(c->txn.request_id)))
        proxy_worker_request_id(c->worker, c->txn.request_id);
    proxy_conn_respond_error(c, proxy_flavor_of(c->txn.url, c->txn.url_len), status, type, code,
                             message);
    tel_log(TEL_LOG_INFO, "request_rejected", TEL_STR("peer", c->peer),
            TEL_STR("request_id", c->txn.request_id), TEL_INT("status", status),
            TEL_STR("reason", code ? code : type));
    proxy_conn_close(c, true);
}

/* ---------------------------------------------------------------- dispatch */

/* A whole request has been read: answer it. */
static void conn_dispatch(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    const struct policy_route *route;
    char msg[512];
    if (t->request_id[0] == '\0')
        proxy_worker_request_id(c->worker, t->request_id);
    c->requests++;
    if (proxy_admin_handle(c, t->url, t->url_len) > 0)
        goto out;
    const struct policy_upstream *up = policy_route_match(conn_cfg(c), t->url, t->url_len, &route);
    snprintf(msg, sizeof(msg),
             "Warden matched this request to upstream '%s' (%s) by route %s, but forwarding "
             "to upstreams is not built in this version yet.",
             up ? up->name : "?", up && up->url.text ? up->url.text : "?",
             route ? route->path : "default_upstream");
    proxy_conn_respond_error(c, proxy_flavor_of(t->url, t->url_len), 501, "not_implemented",
                             "forwarding_not_built", msg);
out:
    tel_log(TEL_LOG_DEBUG, "request", TEL_STR("peer", c->peer),
            TEL_STR("request_id", t->request_id),
            TEL_STR("method", llhttp_method_name((llhttp_method_t)t->method)),
            TEL_UINT("body_bytes", t->body_bytes),
            TEL_DBL("ms", (double)(now_ns() - t->start_ns) / 1e6));
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
    txn_reset(&c->txn);
    c->txn.started = true;
    c->txn.start_ns = now_ns();
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
    memcpy(t->url + t->url_len, at, len);
    t->url_len += len;
    t->url[t->url_len] = '\0';
    return add_header_bytes(c, len);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    struct proxy_txn *t = &c->txn;
    if (t->hdr_name_len + len > PROXY_HDR_NAME_MAX)
        t->hdr_name_long = true;
    else
        memcpy(t->hdr_name + t->hdr_name_len, at, len);
    t->hdr_name_len += len;
    return add_header_bytes(c, len + 4); /* ": " and CRLF */
}

static int on_header_field_complete(llhttp_t *p)
{
    struct proxy_txn *t = &parser_conn(p)->txn;
    t->hdr_want = HDR_NONE;
    if (!t->hdr_name_long && t->hdr_name_len == 12 &&
        strncasecmp(t->hdr_name, "x-request-id", 12) == 0) {
        t->hdr_want = HDR_REQUEST_ID;
        t->request_id[0] = '\0'; /* a repeated header: the last one counts, never a join */
    }
    t->hdr_name_len = 0;
    t->hdr_name_long = false;
    return HPE_OK;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    struct proxy_txn *t = &c->txn;
    if (t->hdr_want == HDR_REQUEST_ID) {
        size_t have = strlen(t->request_id);
        if (have + len <= PROXY_REQUEST_ID_MAX) {
            memcpy(t->request_id + have, at, len);
            t->request_id[have + len] = '\0';
        } else {
            t->request_id[0] = '\0';
            t->hdr_want = HDR_NONE;
        }
    }
    return add_header_bytes(c, len);
}

static int on_header_value_complete(llhttp_t *p)
{
    struct proxy_txn *t = &parser_conn(p)->txn;
    /* An id we would not pass on safely (odd bytes, too long) is replaced by our own. */
    if (t->hdr_want == HDR_REQUEST_ID && !valid_request_id(t->request_id, strlen(t->request_id)))
        t->request_id[0] = '\0';
    t->hdr_want = HDR_NONE;
    return HPE_OK;
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
    conn_arm_timer(c, conn_cfg(c)->limits.client_body_timeout_ms);
    return HPE_OK;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct proxy_conn *c = parser_conn(p);
    (void)at;
    c->txn.body_bytes += len;
    if (c->txn.body_bytes > (uint64_t)conn_cfg(c)->limits.max_body_bytes) {
        c->txn.status = 413;
        return HPE_USER;
    }
    conn_arm_timer(c, conn_cfg(c)->limits.client_body_timeout_ms);
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
    switch (c->txn.status) {
    case 431:
        snprintf(msg, sizeof(msg),
                 "request line and headers exceed %lld bytes (limits.max_header_bytes)",
                 (long long)conn_cfg(c)->limits.max_header_bytes);
        conn_fail(c, 431, "invalid_request_error", "request_header_too_large", msg);
        return;
    case 414:
        snprintf(msg, sizeof(msg), "request target longer than %d bytes", PROXY_URL_MAX);
        conn_fail(c, 414, "invalid_request_error", "uri_too_long", msg);
        return;
    case 505:
        snprintf(msg, sizeof(msg), "HTTP/%d.%d is not supported on this listener; use HTTP/1.1",
                 llhttp_get_http_major(&c->parser), llhttp_get_http_minor(&c->parser));
        conn_fail(c, 505, "invalid_request_error", "http_version_not_supported", msg);
        return;
    case 413:
        snprintf(msg, sizeof(msg), "request body exceeds %lld bytes (limits.max_body_bytes)",
                 (long long)conn_cfg(c)->limits.max_body_bytes);
        conn_fail(c, 413, "invalid_request_error", "request_too_large", msg);
        return;
    default:
        break;
    }
    snprintf(msg, sizeof(msg), "malformed HTTP request: %s (%s)", llhttp_errno_name(e),
             llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "");
    conn_fail(c, 400, "invalid_request_error", "bad_http_request", msg);
}

/* Parse and answer what the client has sent, while it takes the answers: with more than
 * PROXY_CONN_OUT_HIGH bytes unsent, reading stops until the output drains (a client that
 * pipelines without reading cannot grow our memory). */
static void conn_process(struct proxy_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    size_t len;
    while (!(c->flags & (PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING)) &&
           (len = evbuffer_get_contiguous_space(in)) > 0) {
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
        if (e == HPE_PAUSED) {
            llhttp_resume(&c->parser);
            /* After an Upgrade or CONNECT the bytes that follow are not HTTP/1.1 requests:
             * this version serves no tunnel, so the answer closes the connection. */
            if (c->parser.upgrade)
                c->txn.keep_alive = false;
            conn_dispatch(c);
            txn_reset(&c->txn);
            c->flags &= ~PROXY_CONN_F_HDR_TIMER;
            if (c->flags & PROXY_CONN_F_CLOSING) {
                proxy_conn_close(c, true);
                return;
            }
            conn_arm_timer(c, conn_cfg(c)->limits.keepalive_timeout_ms);
        }
    }
    /* The client half-closed: answer everything it sent, then close. */
    if ((c->flags & PROXY_CONN_F_PEER_EOF) && !(c->flags & PROXY_CONN_F_FREEING))
        proxy_conn_close(c, true);
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    (void)bev;
    conn_process(arg);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct proxy_conn *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (c->flags & PROXY_CONN_F_CLOSING) {
        proxy_conn_close(c, false);
        return;
    }
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
    if (c->flags & (PROXY_CONN_F_CLOSING | PROXY_CONN_F_FREEING))
        return;
    if (c->txn.started) {
        conn_fail(c, 408, "invalid_request_error", "request_timeout",
                  c->txn.headers_done ? "the request body stalled (limits.client_body_timeout)"
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
    bufferevent_free(c->bev);
    event_free(c->timer_ev);
    event_free(c->free_ev);
    free(c);
}

void proxy_conn_close(struct proxy_conn *c, bool flush)
{
    if (c->flags & PROXY_CONN_F_FREEING)
        return;
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
    if (!c->txn.started && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        proxy_conn_close(c, false);
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
    c->timer_ev = evtimer_new(w->base, conn_timer_cb, c);
    c->free_ev = event_new(w->base, -1, 0, conn_free_cb, c);
    if (c->bev == NULL || c->timer_ev == NULL || c->free_ev == NULL)
        goto fail;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (sa && sa->sa_family == AF_INET && salen >= (int)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &in4->sin_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(in4->sin_port));
    } else if (sa && sa->sa_family == AF_INET6 && salen >= (int)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, ntohs(in6->sin6_port));
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
    txn_reset(&c->txn);
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
        else
            evutil_closesocket(fd);
        if (c->timer_ev)
            event_free(c->timer_ev);
        if (c->free_ev)
            event_free(c->free_ev);
        free(c);
    } else {
        evutil_closesocket(fd);
    }
    return NULL;
}

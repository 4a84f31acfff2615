/* Mock upstream: one connection: llhttp request parsing, keep-alive, timed reply writing. */
#include "mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <llhttp.h>

enum mock_conn_state {
    MOCK_CONN_READING = 0,
    MOCK_CONN_RESPONDING,
    MOCK_CONN_FLUSHING, /* reply written to a peer that sent EOF: wait for its TCP ack */
    MOCK_CONN_CLOSING,
};

struct mock_conn {
    struct mock_server *srv;
    struct mock_conn *prev, *next;
    struct bufferevent *bev;
    struct event *ev_timer, *ev_free;
    llhttp_t parser;
    enum mock_conn_state state;
    bool peer_eof;
    bool keep_alive;
    int refuse;     /* 413 or 431 when the request broke a cap */
    bool in_header; /* between a header name and the end of its value */
    /* the request being read */
    struct mock_buf url, hname, hval, body;
    struct mock_header *headers;
    size_t n_headers;
    size_t head_bytes;
    /* the reply being written */
    struct mock_plan plan;
    size_t step;
    bool waiting_drain;
    uint64_t rec_id;       /* record whose reply outcome is not settled yet; 0: none */
    unsigned flush_waited; /* ms spent in MOCK_CONN_FLUSHING */
};

static void mock_conn_request_clear(struct mock_conn *c)
{
    size_t i;

    for (i = 0; i < c->n_headers; i++) {
        free(c->headers[i].name);
        free(c->headers[i].value);
    }
    free(c->headers);
    c->headers = NULL;
    c->n_headers = 0;
    c->head_bytes = 0;
    c->refuse = 0;
    c->in_header = false;
    mock_buf_free(&c->url);
    mock_buf_free(&c->hname);
    mock_buf_free(&c->hval);
    mock_buf_free(&c->body);
}

/* Frees the connection. Called from its deferred free event or at shutdown, never from
 * inside its own bufferevent callbacks. */
static void mock_conn_free(struct mock_conn *c)
{
    if (c == NULL)
        return;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->ev_timer != NULL)
        event_free(c->ev_timer);
    if (c->ev_free != NULL)
        event_free(c->ev_free);
    mock_conn_request_clear(c);
    mock_plan_deinit(&c->plan);
    free(c);
}

static void mock_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    mock_conn_free(arg);
}

/* Stops all activity and schedules the free; with rst the peer sees a TCP reset. */
static void mock_conn_close(struct mock_conn *c, bool rst)
{
    struct linger lg = {1, 0};
    evutil_socket_t fd;

    if (c->state == MOCK_CONN_CLOSING)
        goto out;
    c->state = MOCK_CONN_CLOSING;
    evtimer_del(c->ev_timer);
    bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
    bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    if (rst) {
        fd = bufferevent_getfd(c->bev);
        if (fd >= 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    event_active(c->ev_free, 0, 0);
out:
    return;
}

/* Settles the outcome of the reply in progress, once. */
static void mock_conn_outcome(struct mock_conn *c, enum mock_response r)
{
    mock_record_finish(c->srv, c->rec_id, r);
    c->rec_id = 0;
}

void mock_conn_close_all(struct mock_server *srv)
{
    while (srv->conns != NULL)
        mock_conn_free(srv->conns);
}

/* ---- llhttp callbacks ---- */

static int mock_on_message_begin(llhttp_t *p)
{
    struct mock_conn *c = p->data;

    mock_conn_request_clear(c);
    mock_buf_init(&c->url, MOCK_MAX_HEAD);
    mock_buf_init(&c->hname, MOCK_MAX_HEAD);
    mock_buf_init(&c->hval, MOCK_MAX_HEAD);
    mock_buf_init(&c->body, MOCK_MAX_BODY);
    return 0;
}

static int mock_head_add(struct mock_conn *c, struct mock_buf *b, const char *at, size_t n)
{
    int rc = HPE_USER;

    c->head_bytes += n;
    if (c->head_bytes > MOCK_MAX_HEAD) {
        c->refuse = 431;
        goto out;
    }
    mock_buf_add(b, at, n);
    if (b->err == 0)
        rc = 0;
out:
    return rc;
}

static int mock_on_url(llhttp_t *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;

    return mock_head_add(c, &c->url, at, n);
}

static int mock_on_header_field(llhttp_t *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;

    return mock_head_add(c, &c->hname, at, n);
}

static int mock_on_header_value(llhttp_t *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;

    return mock_head_add(c, &c->hval, at, n);
}

static char *mock_strndup(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d == NULL)
        return NULL;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static int mock_on_header_value_complete(llhttp_t *p)
{
    struct mock_conn *c = p->data;
    struct mock_header *nh, *h;
    size_t i;
    int rc = HPE_USER;

    if (c->n_headers >= MOCK_MAX_HEADERS) {
        c->refuse = 431;
        goto out;
    }
    nh = realloc(c->headers, (c->n_headers + 1) * sizeof(*nh));
    if (nh == NULL)
        goto out;
    c->headers = nh;
    h = &c->headers[c->n_headers];
    h->name = mock_strndup(c->hname.p, c->hname.len);
    h->value = mock_strndup(c->hval.p, c->hval.len);
    if (h->name == NULL || h->value == NULL) {
        free(h->name);
        free(h->value);
        goto out;
    }
    h->name_len = c->hname.len;
    h->value_len = c->hval.len;
    for (i = 0; i < h->name_len; i++) {
        if (h->name[i] >= 'A' && h->name[i] <= 'Z')
            h->name[i] = (char)(h->name[i] - 'A' + 'a');
    }
    c->n_headers++;
    mock_buf_reset(&c->hname);
    mock_buf_reset(&c->hval);
    rc = 0;
out:
    return rc;
}

static bool mock_conn_expects_continue(const struct mock_conn *c)
{
    size_t i;
    bool found = false;

    for (i = 0; i < c->n_headers && !found; i++)
        found = strcmp(c->headers[i].name, "expect") == 0 &&
                strcasecmp(c->headers[i].value, "100-continue") == 0;
    return found;
}

static int mock_on_headers_complete(llhttp_t *p)
{
    struct mock_conn *c = p->data;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

    int rc = 0;

    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > MOCK_MAX_BODY) {
        c->refuse = 413;
        rc = HPE_USER;
    } else if (mock_conn_expects_continue(c) && p->http_minor >= 1) {
        bufferevent_write(c->bev, cont, sizeof(cont) - 1);
    }
    return rc;
}

static int mock_on_body(llhttp_t *p, const char *at, size_t n)
{
    struct mock_conn *c = p->data;

    mock_buf_add(&c->body, at, n);
    if (c->body.err == -E2BIG)
        c->refuse = 413;
    return c->body.err ? HPE_USER : 0;
}

static int mock_on_message_complete(llhttp_t *p)
{
    struct mock_conn *c = p->data;

    c->keep_alive = llhttp_should_keep_alive(p) != 0;
    /* one request at a time: pipelined bytes wait in the input buffer */
    return HPE_PAUSED;
}

static const llhttp_settings_t mock_http_settings = {
    .on_message_begin = mock_on_message_begin,
    .on_url = mock_on_url,
    .on_header_field = mock_on_header_field,
    .on_header_value = mock_on_header_value,
    .on_header_value_complete = mock_on_header_value_complete,
    .on_headers_complete = mock_on_headers_complete,
    .on_body = mock_on_body,
    .on_message_complete = mock_on_message_complete,
};

/* ---- replies ---- */

static void mock_conn_parse(struct mock_conn *c);

/* The whole reply is in the kernel but the peer has sent EOF: a half-closed client still
 * reads it, a client that closed answers with a reset. Only the peer's acknowledgement of
 * every byte makes the reply complete. */
static void mock_conn_flush_check(struct mock_conn *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    struct timeval tv = {0, 1000};
    struct tcp_info ti;
    socklen_t sl = sizeof(ti), el = sizeof(int);
    int err = 0, unacked = 0;

    memset(&ti, 0, sizeof(ti));
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err != 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &sl) < 0 || ti.tcpi_state == TCP_CLOSE ||
        ioctl(fd, SIOCOUTQ, &unacked) < 0) {
        mock_conn_outcome(c, MOCK_RESP_CLIENT_CLOSED);
        mock_conn_close(c, false);
    } else if (unacked == 0) {
        mock_conn_outcome(c, MOCK_RESP_COMPLETE);
        mock_conn_close(c, false);
    } else if (++c->flush_waited >= MOCK_FLUSH_WAIT_MS) {
        mock_conn_outcome(c, MOCK_RESP_CLIENT_CLOSED); /* never acknowledged */
        mock_conn_close(c, false);
    } else {
        evtimer_add(c->ev_timer, &tv);
    }
}

/* Runs the reply's steps until one has to wait (for a drain or a timer) or the reply ends. */
static void mock_conn_advance(struct mock_conn *c)
{
    const struct mock_step *st;
    struct timeval tv;

    while (c->step < c->plan.n_steps) {
        st = &c->plan.steps[c->step++];
        switch (st->kind) {
        case MOCK_STEP_BYTES:
            if (bufferevent_write(c->bev, c->plan.wire.p + st->off, st->len) < 0)
                mock_conn_close(c, false);
            else
                c->waiting_drain = true; /* next step once these bytes are in the kernel */
            goto out;
        case MOCK_STEP_DELAY:
            tv.tv_sec = st->ms / 1000;
            tv.tv_usec = (suseconds_t)(st->ms % 1000) * 1000;
            evtimer_add(c->ev_timer, &tv);
            goto out;
        case MOCK_STEP_RESET:
            mock_conn_outcome(c, MOCK_RESP_RESET);
            mock_conn_close(c, true);
            goto out;
        }
    }
    /* reply complete: every byte is in the kernel */
    mock_plan_deinit(&c->plan);
    mock_conn_request_clear(c);
    if (c->peer_eof && c->rec_id != 0) {
        c->state = MOCK_CONN_FLUSHING;
        c->flush_waited = 0;
        mock_conn_flush_check(c);
        goto out;
    }
    mock_conn_outcome(c, MOCK_RESP_COMPLETE);
    if (!c->keep_alive || c->peer_eof) {
        mock_conn_close(c, false);
        goto out;
    }
    c->state = MOCK_CONN_READING;
    llhttp_resume(&c->parser);
    mock_conn_parse(c);
out:
    return;
}

static void mock_conn_respond(struct mock_conn *c)
{
    struct mock_request rq;
    static const char empty[1] = "";

    memset(&rq, 0, sizeof(rq));
    rq.method = llhttp_method_name((llhttp_method_t)llhttp_get_method(&c->parser));
    rq.target = c->url.p ? c->url.p : empty;
    rq.target_len = c->url.len;
    rq.http_minor = llhttp_get_http_minor(&c->parser);
    rq.headers = c->headers;
    rq.n_headers = c->n_headers;
    rq.body = c->body.p ? c->body.p : empty;
    rq.body_len = c->body.len;
    if (c->refuse == 413) {
        rq.body = empty;
        rq.body_len = 0;
        rq.body_truncated = true;
        c->keep_alive = false;
    }
    mock_plan_init(&c->plan);
    c->plan.close_after = !c->keep_alive;
    mock_api_handle(c->srv, &rq, &c->plan);
    c->rec_id = c->plan.rec_id; /* stays pending if the reply cannot be built */
    if (c->plan.err) {
        fprintf(stderr, "mock_upstream: cannot build reply: %s\n", strerror(-c->plan.err));
        mock_conn_close(c, false);
        goto out;
    }
    if (c->plan.close_after)
        c->keep_alive = false;
    c->state = MOCK_CONN_RESPONDING;
    c->step = 0;
    mock_conn_advance(c);
out:
    return;
}

/* Replies to a request that could not be parsed, then closes. */
static void mock_conn_refuse(struct mock_conn *c, int status, const char *msg)
{
    struct mock_buf b;

    mock_buf_init(&b, 4096);
    mock_buf_adds(&b, "{\"error\":{\"message\":");
    mock_buf_add_jstr(&b, msg, strlen(msg));
    mock_buf_adds(&b, ",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}");
    mock_plan_init(&c->plan);
    if (b.err == 0)
        mock_reply_simple(&c->plan, status, "application/json", b.p, b.len, true);
    if (c->plan.err || b.err) {
        mock_conn_close(c, false);
        goto out;
    }
    c->keep_alive = false;
    c->state = MOCK_CONN_RESPONDING;
    c->step = 0;
    mock_conn_advance(c);
out:
    mock_buf_free(&b);
}

static void mock_conn_parse(struct mock_conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    const char *data;
    size_t len, used;
    llhttp_errno_t e;
    char msg[160];

    while (c->state == MOCK_CONN_READING) {
        len = evbuffer_get_contiguous_space(in);
        if (len == 0)
            break;
        data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
        e = llhttp_execute(&c->parser, data, len);
        if (e == HPE_OK) {
            evbuffer_drain(in, len);
        } else if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
            used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
            evbuffer_drain(in, used);
            if (e == HPE_PAUSED_UPGRADE)
                c->keep_alive = false; /* no protocol switch here: answer and close */
            mock_conn_respond(c);
        } else if (c->refuse == 413) {
            mock_conn_respond(c); /* recorded and answered in the provider's shape */
        } else if (c->refuse == 431) {
            mock_conn_refuse(c, 431, "mock: request head too large");
        } else {
            snprintf(
                msg, sizeof(msg), "mock: malformed HTTP request: %s (%s)", llhttp_errno_name(e),
                llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser) : "");
            mock_conn_refuse(c, 400, msg);
        }
    }
}

/* ---- bufferevent callbacks ---- */

static void mock_conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct mock_conn *c = arg;

    (void)bev;
    if (c->state == MOCK_CONN_READING)
        mock_conn_parse(c);
}

static void mock_conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct mock_conn *c = arg;

    (void)bev;
    if (c->state == MOCK_CONN_RESPONDING && c->waiting_drain) {
        c->waiting_drain = false;
        mock_conn_advance(c);
    }
}

static void mock_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct mock_conn *c = arg;

    (void)bev;
    if (what & BEV_EVENT_ERROR) {
        mock_conn_outcome(c, MOCK_RESP_CLIENT_CLOSED); /* e.g. EPIPE or ECONNRESET */
        mock_conn_close(c, false);
    } else if (what & BEV_EVENT_EOF) {
        /* a half-closed client still gets its reply */
        c->peer_eof = true;
        if (c->state == MOCK_CONN_READING)
            mock_conn_close(c, false);
    }
}

static void mock_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mock_conn *c = arg;

    (void)fd;
    (void)what;
    if (c->state == MOCK_CONN_RESPONDING)
        mock_conn_advance(c);
    else if (c->state == MOCK_CONN_FLUSHING)
        mock_conn_flush_check(c);
}

void mock_conn_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                      int socklen, void *arg)
{
    struct mock_server *srv = arg;
    struct mock_conn *c;
    int one = 1;

    (void)l;
    (void)sa;
    (void)socklen;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evutil_closesocket(fd);
        goto out;
    }
    c->srv = srv;
    /* scripted chunking means one write per piece: Nagle must not merge them */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->ev_timer = evtimer_new(srv->base, mock_conn_timer_cb, c);
    c->ev_free = event_new(srv->base, -1, 0, mock_conn_free_cb, c);
    c->next = srv->conns;
    if (srv->conns != NULL)
        srv->conns->prev = c;
    srv->conns = c;
    if (c->bev == NULL || c->ev_timer == NULL || c->ev_free == NULL) {
        if (c->bev == NULL)
            evutil_closesocket(fd);
        mock_conn_free(c);
        goto out;
    }
    mock_plan_init(&c->plan);
    llhttp_init(&c->parser, HTTP_REQUEST, &mock_http_settings);
    c->parser.data = c;
    bufferevent_setcb(c->bev, mock_conn_read_cb, mock_conn_write_cb, mock_conn_event_cb, c);
    bufferevent_setwatermark(c->bev, EV_READ, 0, MOCK_READ_HIGHWATER);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
out:
    return;
}

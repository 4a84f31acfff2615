/* Client connections against the real server: endpoints, ids, limits, timeouts, drain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/listener.h>

#include "policy/config.h"
#include "proxy/server.h"
#include "telemetry/log.h"

/* Every wait on the server is bounded by this; the limits below are far shorter. */
#define IO_TIMEOUT_MS 2000

#define CLIENT_BUF 65536
#define HEAD_MAX   8192
#define BODY_MAX   8192

/* ---------------------------------------------------------------- server fixture */

struct setting {
    const char *key, *value;
};

/* Short limits so that timeouts happen within the test's bounded waits. */
static const struct setting base_settings[] = {
    {"listen", "127.0.0.1:0"},
    {"workers", "2"},
    {"limits.client_header_timeout", "300ms"},
    {"limits.client_body_timeout", "300ms"},
    {"limits.keepalive_timeout", "500ms"},
    {"limits.max_header_bytes", "4KiB"},
    {"limits.max_body_bytes", "2KiB"},
    {"limits.drain_timeout", "2s"},
    /* These tests are about connections; the guards have their own. */
    {"prompt_guard.enabled", "false"},
    {"output_guard.enabled", "false"},
    /* Nothing listens on port 1: every forwarded request fails fast with 502. */
    {"upstreams.openai.url", "http://127.0.0.1:1"},
    {"upstreams.anthropic.url", "http://127.0.0.1:1"},
};

#define MAX_CLIENTS 8

struct client;

struct fixture {
    struct policy_config *cfg;
    struct proxy_server *srv;            /* NULL once a test has drained and waited itself */
    struct client *clients[MAX_CLIENTS]; /* freed by server_down, also after a failure */
};

static void config_apply(struct policy_config *cfg, const struct setting *s, size_t n)
{
    struct policy_error err;
    for (size_t i = 0; i < n; i++) {
        if (policy_config_set(cfg, "test", s[i].key, s[i].value, &err) != 0)
            fail_msg("%s", err.msg);
    }
}

/* Start a server with the base settings, then `extra` over them. */
static int server_up(void **state, const struct setting *extra, size_t n_extra)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct policy_error err;
    assert_non_null(f);
    f->cfg = policy_config_new();
    assert_non_null(f->cfg);
    config_apply(f->cfg, base_settings, sizeof(base_settings) / sizeof(base_settings[0]));
    config_apply(f->cfg, extra, n_extra);
    if (policy_config_validate(f->cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(proxy_server_start(f->cfg, &f->srv), 0);
    assert_non_null(f->srv);
    assert_int_not_equal(f->srv->port, 0);
    *state = f;
    return 0;
}

static int setup_default(void **state)
{
    return server_up(state, NULL, 0);
}

/* Room for a request target of PROXY_URL_MAX bytes inside the header limit. */
static int setup_big_headers(void **state)
{
    static const struct setting s[] = {{"limits.max_header_bytes", "16KiB"}};
    return server_up(state, s, 1);
}

/* One worker and timeouts longer than any wait here: only the drain can close connections. */
static int setup_drain(void **state)
{
    static const struct setting s[] = {
        {"workers", "1"},
        {"limits.client_header_timeout", "30s"},
        {"limits.client_body_timeout", "30s"},
        {"limits.keepalive_timeout", "30s"},
        {"limits.drain_timeout", "2s"},
    };
    return server_up(state, s, sizeof(s) / sizeof(s[0]));
}

/* Only the send timeout can close a client that stops reading. */
static int setup_send_timeout(void **state)
{
    static const struct setting s[] = {
        {"workers", "1"},
        {"limits.keepalive_timeout", "30s"},
        {"limits.send_timeout", "300ms"},
    };
    return server_up(state, s, sizeof(s) / sizeof(s[0]));
}

/* As setup_drain, with a drain deadline that a stalled request will hit. */
static int setup_drain_deadline(void **state)
{
    static const struct setting s[] = {
        {"workers", "1"},
        {"limits.client_header_timeout", "30s"},
        {"limits.client_body_timeout", "30s"},
        {"limits.keepalive_timeout", "30s"},
        {"limits.drain_timeout", "300ms"},
    };
    return server_up(state, s, sizeof(s) / sizeof(s[0]));
}

static void clients_free(struct fixture *f);

static int server_down(void **state)
{
    struct fixture *f = *state;
    clients_free(f); /* first: an open request would make the drain wait */
    if (f->srv) {
        proxy_server_drain(f->srv);
        proxy_server_wait(f->srv);
    }
    policy_config_unref(f->cfg);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- a blocking client */

struct client {
    int fd;
    char buf[CLIENT_BUF]; /* received, not yet consumed */
    size_t len;
    bool eof;
    int err; /* errno of a failed recv (ECONNRESET) */
};

struct resp {
    int status;
    char head[HEAD_MAX]; /* status line and headers, NUL-terminated */
    char body[BODY_MAX + 1];
    size_t body_len;
    long content_length; /* -1 when absent */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int tcp_connect(uint16_t port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* A client on a connected socket, owned by the fixture. */
static struct client *client_adopt(void **state, int fd)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (f->clients[i] == NULL) {
            f->clients[i] = malloc(sizeof(*f->clients[i]));
            assert_non_null(f->clients[i]);
        } else if (f->clients[i]->fd >= 0) {
            continue; /* in use */
        }
        memset(f->clients[i], 0, sizeof(*f->clients[i]));
        f->clients[i]->fd = fd;
        return f->clients[i];
    }
    close(fd);
    fail_msg("more than %d clients open at once", MAX_CLIENTS);
    return NULL;
}

static struct client *client_open(void **state)
{
    struct fixture *f = *state;
    int fd = tcp_connect(f->srv->port);
    if (fd < 0)
        fail_msg("connect to 127.0.0.1:%u: %s", f->srv->port, strerror(-fd));
    return client_adopt(state, fd);
}

/* Close the connection; the memory goes with the fixture. */
static void client_free(struct client *cl)
{
    if (cl->fd >= 0)
        close(cl->fd);
    cl->fd = -1;
}

static void clients_free(struct fixture *f)
{
    for (size_t i = 0; i < MAX_CLIENTS; i++) {
        if (f->clients[i]) {
            client_free(f->clients[i]);
            free(f->clients[i]);
            f->clients[i] = NULL;
        }
    }
}

/* Write everything; 0, or -errno when the server has gone (EPIPE, ECONNRESET). */
static int client_send_n(struct client *cl, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(cl->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void client_send(struct client *cl, const char *s)
{
    int rc = client_send_n(cl, s, strlen(s));
    if (rc != 0)
        fail_msg("send: %s", strerror(-rc));
}

/* One recv before `deadline`: bytes read (> 0), 0 at end of stream or reset, -1 on timeout. */
static int client_fill(struct client *cl, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
        if (cl->eof)
            return 0;
        if (left <= 0)
            return -1;
        int rc = poll(&pfd, 1, (int)left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc == 0)
            return -1;
        assert_true(rc > 0);
        if (cl->len == sizeof(cl->buf))
            fail_msg("client buffer full: response larger than the test expects");
        ssize_t n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            cl->eof = true;
            cl->err = n < 0 ? errno : 0;
            return 0;
        }
        cl->len += (size_t)n;
        return (int)n;
    }
}

/* The value of response header `name`, or false when absent. */
static bool resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL && line[2] != '\r') {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (eol == NULL)
            break;
        if ((size_t)(eol - line) > nlen && line[nlen] == ':' &&
            strncasecmp(line, name, nlen) == 0) {
            const char *v = line + nlen + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vlen = (size_t)(eol - v);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        line = eol;
    }
    return false;
}

/* Read one response. `head_request`: the response has no body whatever Content-Length says.
 * Returns 0, or -1 when no complete response arrived in time (or the stream ended). */
static int client_response(struct client *cl, struct resp *r, bool head_request)
{
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    const char *end;
    char v[64];
    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    while ((end = memmem(cl->buf, cl->len, "\r\n\r\n", 4)) == NULL) {
        if (client_fill(cl, deadline) <= 0)
            return -1;
    }
    size_t hlen = (size_t)(end - cl->buf) + 4;
    if (hlen >= sizeof(r->head))
        fail_msg("response head of %zu bytes", hlen);
    memcpy(r->head, cl->buf, hlen);
    r->head[hlen] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
        fail_msg("not an HTTP/1.1 status line: %.80s", r->head);
    if (resp_header(r, "content-length", v, sizeof(v)))
        r->content_length = strtol(v, NULL, 10);
    size_t blen = head_request || r->content_length < 0 ? 0 : (size_t)r->content_length;
    if (blen > BODY_MAX)
        fail_msg("response body of %zu bytes", blen);
    while (cl->len < hlen + blen) {
        if (client_fill(cl, deadline) <= 0)
            return -1;
    }
    memcpy(r->body, cl->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(cl->buf, cl->buf + hlen + blen, cl->len - hlen - blen);
    cl->len -= hlen + blen;
    return 0;
}

/* Send a request and read its response; fails the test when none comes. */
static void exchange(struct client *cl, const char *request, struct resp *r)
{
    client_send(cl, request);
    if (client_response(cl, r, strncmp(request, "HEAD ", 5) == 0) != 0)
        fail_msg("no complete response to: %.60s", request);
}

/* Wait for the server to close: 1 when the stream ended with nothing more received,
 * 0 when it stayed open past the bound, -1 when unexpected bytes arrived. */
static int client_wait_close(struct client *cl)
{
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    int rc;
    if (cl->len > 0)
        return -1;
    while ((rc = client_fill(cl, deadline)) > 0)
        ;
    if (cl->len > 0)
        return -1;
    return rc == 0 ? 1 : 0;
}

/* `n` copies of `ch`, NUL-terminated, valid until the next call. */
static const char *repeat(char ch, size_t n)
{
    static char s[16384];
    assert_true(n < sizeof(s));
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

static bool is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (size_t i = 0; i < 32; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    }
    return true;
}

static void assert_header(const struct resp *r, const char *name, const char *want)
{
    char v[512];
    if (!resp_header(r, name, v, sizeof(v)))
        fail_msg("no %s header in:\n%s", name, r->head);
    if (strcmp(v, want) != 0)
        fail_msg("%s: got '%s', want '%s'", name, v, want);
}

static void assert_connection(const struct resp *r, const char *want)
{
    assert_header(r, "connection", want);
}

static void assert_body_starts(const struct resp *r, const char *prefix)
{
    if (strncmp(r->body, prefix, strlen(prefix)) != 0)
        fail_msg("body does not start with %s:\n%s", prefix, r->body);
}

static void assert_body_has(const struct resp *r, const char *part)
{
    if (strstr(r->body, part) == NULL)
        fail_msg("body lacks %s:\n%s", part, r->body);
}

static void assert_body_ends(const struct resp *r, const char *suffix)
{
    size_t n = strlen(suffix);
    if (r->body_len < n || memcmp(r->body + r->body_len - n, suffix, n) != 0)
        fail_msg("body does not end with %s:\n%s", suffix, r->body);
}

/* An error of the proxy's own in OpenAI's shape, with the given status and code. */
static void assert_openai_error(const struct resp *r, int status, const char *code)
{
    char tail[160];
    if (r->status != status)
        fail_msg("status %d, want %d:\n%s%s", r->status, status, r->head, r->body);
    assert_header(r, "content-type", "application/json");
    assert_int_equal(r->content_length, (long)r->body_len);
    assert_body_starts(r, "{\"error\":{\"message\":\"");
    snprintf(tail, sizeof(tail),
             "\",\"type\":\"invalid_request_error\",\"code\":\"%s\",\"param\":null}}", code);
    assert_body_ends(r, tail);
}

static void assert_request_id_hex(const struct resp *r)
{
    char v[512];
    if (!resp_header(r, "x-request-id", v, sizeof(v)))
        fail_msg("no x-request-id in:\n%s", r->head);
    if (!is_hex32(v))
        fail_msg("x-request-id '%s' is not 32 lowercase hex digits", v);
}

/* ---------------------------------------------------------------- health endpoints */

static void test_healthz_get(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "content-type", "application/json");
    assert_int_equal(r.content_length, 15);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_connection(&r, "keep-alive");
    /* A query string does not change the path. */
    exchange(cl, "GET /healthz?verbose=1 HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    client_free(cl);
}

static void test_healthz_head(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "HEAD /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, 15);
    assert_connection(&r, "keep-alive");
    /* Had the body been sent, the next response would start with it. */
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    client_free(cl);
}

static void test_healthz_post_405(void **state)
{
    static const char *const requests[] = {
        "POST /healthz HTTP/1.1\r\nHost: warden\r\nContent-Length: 2\r\n\r\n{}",
        "DELETE /readyz HTTP/1.1\r\nHost: warden\r\n\r\n",
    };
    struct client *cl = client_open(state);
    struct resp r;
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        exchange(cl, requests[i], &r);
        assert_int_equal(r.status, 405);
        assert_header(&r, "allow", "GET, HEAD");
        assert_header(&r, "content-type", "application/json");
        assert_body_starts(&r, "{\"error\":{\"message\":\"");
        assert_body_has(&r, "\"code\":\"method_not_allowed\"");
        /* The body of the POST was consumed: the connection stays usable. */
        assert_connection(&r, "keep-alive");
    }
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    client_free(cl);
}

static void test_readyz_get(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /readyz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "content-type", "application/json");
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    client_free(cl);
}

/* ---------------------------------------------------------------- request ids */

static void test_request_id_valid_echoed(void **state)
{
    static const char *const ids[] = {
        "abc-123",
        "Req_1.2:3",
        /* exactly PROXY_REQUEST_ID_MAX (128) characters */
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
    };
    struct client *cl = client_open(state);
    struct resp r;
    char req[512];
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        snprintf(req, sizeof(req),
                 "GET /healthz HTTP/1.1\r\nHost: warden\r\nX-Request-Id: %s\r\n\r\n", ids[i]);
        exchange(cl, req, &r);
        assert_int_equal(r.status, 200);
        assert_header(&r, "x-request-id", ids[i]);
    }
    /* Also on error responses written by the proxy itself. */
    exchange(cl, "POST /v1/chat/completions HTTP/1.1\r\nx-request-id: chat-1\r\n\r\n", &r);
    assert_int_equal(r.status, 502);
    assert_header(&r, "x-request-id", "chat-1");
    client_free(cl);
}

static void test_request_id_invalid_replaced(void **state)
{
    static const char *const ids[] = {
        "has space",
        "semi;colon",
        "quote\"d",
        /* 129 characters */
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdefX"),
    };
    struct client *cl = client_open(state);
    struct resp r;
    char req[1024];
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        snprintf(req, sizeof(req),
                 "GET /healthz HTTP/1.1\r\nHost: warden\r\nx-request-id: %s\r\n\r\n", ids[i]);
        exchange(cl, req, &r);
        assert_int_equal(r.status, 200);
        assert_request_id_hex(&r);
    }
    /* Far longer than any id. */
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nx-request-id: %s\r\n\r\n",
             repeat('a', 600));
    exchange(cl, req, &r);
    assert_request_id_hex(&r);
    /* An empty value counts as absent. */
    exchange(cl, "GET /healthz HTTP/1.1\r\nx-request-id:\r\n\r\n", &r);
    assert_request_id_hex(&r);
    client_free(cl);
}

static void test_request_id_generated(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    char first[64], second[64];
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_request_id_hex(&r);
    assert_true(resp_header(&r, "x-request-id", first, sizeof(first)));
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_request_id_hex(&r);
    assert_true(resp_header(&r, "x-request-id", second, sizeof(second)));
    assert_string_not_equal(first, second);
    /* An id given on one request does not stick to the next on the same connection. */
    exchange(cl, "GET /healthz HTTP/1.1\r\nx-request-id: sticky\r\n\r\n", &r);
    assert_header(&r, "x-request-id", "sticky");
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_request_id_hex(&r);
    client_free(cl);
}

/* Regression (proxy/conn.c on_header_value, fixed): a second x-request-id header is appended to the
 * first, so "a" and "b" are echoed as "ab", an id the client never sent. */
static void test_request_id_duplicate_not_concatenated(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    char v[512];
    exchange(cl, "GET /healthz HTTP/1.1\r\nx-request-id: first\r\nx-request-id: second\r\n\r\n",
             &r);
    assert_int_equal(r.status, 200);
    assert_true(resp_header(&r, "x-request-id", v, sizeof(v)));
    if (strcmp(v, "first") != 0 && strcmp(v, "second") != 0 && !is_hex32(v))
        fail_msg("x-request-id '%s': want 'first', 'second' or a generated id", v);
    client_free(cl);
}

/* Regression (proxy/conn.c conn_fail, fixed): an id is checked only when its header value is
 * complete; when the request is rejected in the middle of the value (here 431, the value
 * being what crosses max_header_bytes) the unchecked text is echoed. */
static void test_request_id_invalid_not_echoed_on_error(void **state)
{
    static char req[8192];
    char id[129];
    const char *pad = repeat('p', 4005);
    struct client *cl = client_open(state);
    struct resp r;
    /* 128 characters with spaces: invalid whichever way it is cut. */
    for (size_t i = 0; i < 128; i++)
        id[i] = i % 2 ? ' ' : 'x';
    id[127] = 'z';
    id[128] = '\0';
    /* ~4030 header bytes before the id, ~4160 after: the 4096 limit falls inside it. */
    int n = snprintf(req, sizeof(req), "GET /x HTTP/1.1\r\nx-pad: %s\r\nx-request-id: %s\r\n\r\n",
                     pad, id);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    exchange(cl, req, &r);
    assert_int_equal(r.status, 431);
    assert_request_id_hex(&r);
    client_free(cl);
}

/* ---------------------------------------------------------------- keep-alive and framing */

static void test_keepalive_two_requests(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /healthz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_connection(&r, "keep-alive");
    exchange(cl, "GET /readyz HTTP/1.1\r\nHost: warden\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    assert_connection(&r, "keep-alive");
    client_free(cl);
}

static void test_http10_closes(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /healthz HTTP/1.0\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);

    /* HTTP/1.0 asking for keep-alive keeps the connection. */
    cl = client_open(state);
    exchange(cl, "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_connection(&r, "keep-alive");
    exchange(cl, "GET /healthz HTTP/1.0\r\n\r\n", &r);
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_connection_close_honoured(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    /* A request pipelined after the closing one is never answered. */
    exchange(cl,
             "GET /healthz HTTP/1.1\r\nHost: warden\r\nConnection: close\r\n\r\n"
             "GET /readyz HTTP/1.1\r\nHost: warden\r\n\r\n",
             &r);
    assert_int_equal(r.status, 200);
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_pipelining_in_order(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    client_send(cl, "GET /readyz HTTP/1.1\r\nx-request-id: p1\r\n\r\n"
                    "POST /v1/chat/completions HTTP/1.1\r\nx-request-id: p2\r\n"
                    "Content-Length: 17\r\n\r\n{\"model\":\"gpt-x\"}"
                    "HEAD /healthz HTTP/1.1\r\nx-request-id: p3\r\n\r\n"
                    "GET /healthz HTTP/1.1\r\nx-request-id: p4\r\n\r\n");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "x-request-id", "p1");
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 502);
    assert_header(&r, "x-request-id", "p2");
    assert_int_equal(client_response(cl, &r, true), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "x-request-id", "p3");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "x-request-id", "p4");
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    assert_connection(&r, "keep-alive");
    client_free(cl);
}

static void test_one_byte_writes(void **state)
{
    static const char req[] = "POST /healthz HTTP/1.1\r\nHost: warden\r\nx-request-id: split-1\r\n"
                              "Transfer-Encoding: chunked\r\n\r\n"
                              "5\r\n{\"a\":\r\n3\r\n\"b\"\r\n1\r\n}\r\n0\r\n\r\n"
                              "GET /healthz HTTP/1.1\r\nx-request-id: split-2\r\n\r\n";
    struct client *cl = client_open(state);
    struct resp r;
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        assert_int_equal(client_send_n(cl, &req[i], 1), 0);
        sleep_ms(1); /* let most bytes arrive in reads of their own */
    }
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 405);
    assert_header(&r, "x-request-id", "split-1");
    assert_body_starts(&r, "{\"error\":{\"message\":\"use GET or HEAD\"");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "x-request-id", "split-2");
    assert_string_equal(r.body, "{\"status\":\"ok\"}");
    client_free(cl);
}

/* ---------------------------------------------------------------- provider error shapes */

static void test_chat_completions_502_openai_shape(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[],\"stream\":false}";
    char req[512];
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: warden\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof(body) - 1, body);
    exchange(cl, req, &r);
    assert_int_equal(r.status, 502);
    assert_header(&r, "content-type", "application/json");
    assert_int_equal(r.content_length, (long)r.body_len);
    assert_body_starts(&r, "{\"error\":{\"message\":\"");
    assert_body_ends(&r, "\",\"type\":\"upstream_error\",\"code\":\"upstream_unreachable\","
                         "\"param\":null}}");
    assert_body_has(&r, "upstream 'openai'");
    assert_connection(&r, "keep-alive");
    /* Other OpenAI paths and the default route use the same shape. */
    exchange(cl, "POST /v1/embeddings HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", &r);
    assert_int_equal(r.status, 502);
    assert_body_starts(&r, "{\"error\":{\"message\":\"");
    exchange(cl, "GET /v1/models HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 502);
    assert_body_starts(&r, "{\"error\":{\"message\":\"");
    client_free(cl);
}

static void test_messages_502_anthropic_shape(void **state)
{
    static const char *const paths[] = {"/v1/messages", "/v1/messages/count_tokens",
                                        "/v1/messages?beta=true"};
    struct client *cl = client_open(state);
    struct resp r;
    char req[512];
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(req, sizeof(req),
                 "POST %s HTTP/1.1\r\nHost: warden\r\nanthropic-version: 2023-06-01\r\n"
                 "Content-Length: 2\r\n\r\n{}",
                 paths[i]);
        exchange(cl, req, &r);
        assert_int_equal(r.status, 502);
        assert_header(&r, "content-type", "application/json");
        assert_body_starts(&r, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                               "\"message\":\"");
        assert_body_ends(&r, "\"}}");
        assert_body_has(&r, "upstream 'anthropic'");
        if (strstr(r.body, "\"code\"") != NULL || strstr(r.body, "\"param\"") != NULL)
            fail_msg("OpenAI fields in an Anthropic error: %s", r.body);
    }
    /* A path that only starts with the same letters is not Anthropic's. */
    exchange(cl, "POST /v1/messagesX HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 502);
    assert_body_starts(&r, "{\"error\":{\"message\":\"");
    client_free(cl);
}

/* ---------------------------------------------------------------- upstream framing */

/* An upstream whose body ends when it closes (no Content-Length, not chunked): the client
 * gets the whole body, re-framed as chunks with the final chunk, and keeps its connection.
 * The upstream here is this thread: a listening socket the server connects to. */
static void test_close_delimited_upstream_body(void **state)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t salen = sizeof(sa);
    char url[64], buf[4096];
    size_t got = 0;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &salen), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    const struct setting up[] = {{"upstreams.openai.url", url}};
    server_up(state, up, 1);

    struct client *cl = client_open(state);
    struct resp r;
    client_send(cl, "GET /v1/models HTTP/1.1\r\nHost: warden\r\n\r\n");
    struct pollfd pfd = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, IO_TIMEOUT_MS), 1);
    int ufd = accept(lfd, NULL, NULL);
    assert_true(ufd >= 0);
    while (memmem(buf, got, "\r\n\r\n", 4) == NULL && got < sizeof(buf)) {
        struct pollfd upfd = {.fd = ufd, .events = POLLIN};
        assert_int_equal(poll(&upfd, 1, IO_TIMEOUT_MS), 1);
        ssize_t n = read(ufd, buf + got, sizeof(buf) - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 "Connection: close\r\n\r\nhello, until the close";
    assert_int_equal(write(ufd, answer, sizeof(answer) - 1), (ssize_t)sizeof(answer) - 1);
    close(ufd);
    close(lfd);

    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 200);
    assert_header(&r, "transfer-encoding", "chunked");
    assert_connection(&r, "keep-alive");
    static const char want[] = "16\r\nhello, until the close\r\n0\r\n\r\n";
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    while (memmem(cl->buf, cl->len, "0\r\n\r\n", 5) == NULL)
        if (client_fill(cl, deadline) <= 0)
            fail_msg("no final chunk; got %zu bytes: %.*s", cl->len, (int)cl->len, cl->buf);
    if (cl->len != sizeof(want) - 1 || memcmp(cl->buf, want, cl->len) != 0)
        fail_msg("body as chunks: %.*s", (int)cl->len, cl->buf);
    cl->len = 0;
    /* The client connection serves the next request. */
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    client_free(cl);
}

/* ---------------------------------------------------------------- limits */

static void test_headers_too_large_431(void **state)
{
    static char req[8192];
    const char *pad = repeat('p', 5000);
    struct client *cl = client_open(state);
    struct resp r;
    int n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: warden\r\nx-pad: %s\r\n\r\n",
                     pad);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    exchange(cl, req, &r);
    assert_openai_error(&r, 431, "request_header_too_large");
    assert_connection(&r, "close");
    assert_request_id_hex(&r);
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);

    /* Many small headers count as much as one big one. */
    cl = client_open(state);
    size_t len = (size_t)snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\n");
    for (int i = 0; len < 6000; i++)
        len += (size_t)snprintf(req + len, sizeof(req) - len, "x-h%d: v\r\n", i);
    snprintf(req + len, sizeof(req) - len, "\r\n");
    exchange(cl, req, &r);
    assert_openai_error(&r, 431, "request_header_too_large");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_headers_under_limit_accepted(void **state)
{
    static char req[8192];
    const char *pad = repeat('p', 3500);
    struct client *cl = client_open(state);
    struct resp r;
    int n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nx-pad: %s\r\n\r\n", pad);
    assert_true(n > 0 && (size_t)n < sizeof(req));
    exchange(cl, req, &r);
    assert_int_equal(r.status, 200);
    client_free(cl);
}

static void test_content_length_too_large_413(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    /* Decided from the header alone: no body is sent. */
    exchange(cl, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2049\r\n\r\n", &r);
    assert_openai_error(&r, 413, "request_too_large");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);

    /* Anthropic paths answer in Anthropic's shape. */
    cl = client_open(state);
    exchange(cl, "POST /v1/messages HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", &r);
    assert_int_equal(r.status, 413);
    assert_body_starts(&r, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\"");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_body_at_limit_accepted(void **state)
{
    static char req[4096];
    char body[2049];
    struct client *cl = client_open(state);
    struct resp r;
    memset(body, 'b', 2048);
    body[2048] = '\0';
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2048\r\n\r\n%s", body);
    exchange(cl, req, &r);
    assert_int_equal(r.status, 502);
    assert_connection(&r, "keep-alive");
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    client_free(cl);
}

static void test_chunked_over_limit_413(void **state)
{
    static char chunk[1100];
    struct client *cl = client_open(state);
    struct resp r;
    int rc = 0;
    /* A local path: with a forwarded one the (refusing) upstream's 502 could come first;
     * the forwarded 413 is covered end to end (tests/e2e/cases/proxy.mjs). */
    client_send(cl, "POST /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    /* 1000-byte chunks: the third crosses the 2 KiB cap. The server may close while the
     * client is still writing; the answer must be there all the same. */
    int n = snprintf(chunk, sizeof(chunk), "3e8\r\n%1000s\r\n", "c");
    assert_true(n > 0);
    for (int i = 0; i < 3 && rc == 0; i++)
        rc = client_send_n(cl, chunk, (size_t)n);
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_openai_error(&r, 413, "request_too_large");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_chunked_under_limit_accepted(void **state)
{
    static char req[4096];
    struct client *cl = client_open(state);
    struct resp r;
    snprintf(req, sizeof(req),
             "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3e8\r\n%1000s\r\n3e8\r\n%1000s\r\n0\r\n\r\n",
             "c", "d");
    exchange(cl, req, &r);
    assert_int_equal(r.status, 502);
    assert_connection(&r, "keep-alive");
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    client_free(cl);
}

/* Runs with max_header_bytes 16 KiB so that the URL limit (8192) is reached first. */
static void test_url_too_long_414(void **state)
{
    static const char prefix[] = "/v1/models?q=";
    static char req[12000];
    struct client *cl = client_open(state);
    struct resp r;
    /* Exactly PROXY_URL_MAX (8192) bytes of request target: accepted. */
    int n = snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\n\r\n", prefix,
                     repeat('q', 8192 - (sizeof(prefix) - 1)));
    assert_true(n > 0 && (size_t)n < sizeof(req));
    exchange(cl, req, &r);
    assert_int_equal(r.status, 502);
    assert_connection(&r, "keep-alive");

    /* One byte more. */
    n = snprintf(req, sizeof(req), "GET %s%s HTTP/1.1\r\n\r\n", prefix,
                 repeat('q', 8193 - (sizeof(prefix) - 1)));
    assert_true(n > 0 && (size_t)n < sizeof(req));
    exchange(cl, req, &r);
    assert_openai_error(&r, 414, "uri_too_long");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_malformed_400(void **state)
{
    static const char *const requests[] = {
        "HELLO WORLD\r\n\r\n",
        "GET\r\n\r\n",
        "GET / HTTP/1.2\r\n\r\n",
        "GET / HTTP/3.0\r\n\r\n",
        "GET / FTP/1.1\r\n\r\n",
        /* whitespace before the colon of a framing header */
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        /* request smuggling: both framings */
        ("POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        "POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "\x16\x03\x01\x02", /* the start of a TLS ClientHello */
        /* a header with an empty name (llhttp passes it, even strict) */
        "GET /healthz HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n",
        /* whitespace before the colon of any header */
        "GET /healthz HTTP/1.1\r\nBad Header: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(requests) / sizeof(requests[0]); i++) {
        struct client *cl = client_open(state);
        struct resp r;
        client_send(cl, requests[i]);
        if (client_response(cl, &r, false) != 0)
            fail_msg("case %zu: no response to %.40s", i, requests[i]);
        if (r.status != 400)
            fail_msg("case %zu: status %d for %.40s", i, r.status, requests[i]);
        assert_openai_error(&r, 400, "bad_http_request");
        assert_body_has(&r, "malformed HTTP request");
        assert_connection(&r, "close");
        assert_request_id_hex(&r);
        assert_int_equal(client_wait_close(cl), 1);
        client_free(cl);
    }
}

/* Nothing after a malformed request is parsed. */
static void test_malformed_stops_pipeline(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\nNOT HTTP\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 400);
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

/* ---------------------------------------------------------------- timeouts */

static void test_header_timeout_408(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    client_send(cl, "GET /heal");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_openai_error(&r, 408, "request_timeout");
    assert_body_has(&r, "client_header_timeout");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

/* The header deadline runs from the first byte: dribbling more bytes does not extend it. */
static void test_header_timeout_not_extended_by_bytes(void **state)
{
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nx-a: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    struct client *cl = client_open(state);
    struct resp r;
    int rc = 0;
    /* 40 ms per byte: far more than the 300 ms header timeout in all. */
    for (size_t i = 0; i < sizeof(req) - 1 && rc == 0 && cl->len == 0; i++) {
        rc = client_send_n(cl, &req[i], 1);
        (void)client_fill(cl, now_ms() + 40);
    }
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_int_equal(r.status, 408);
    client_free(cl);
}

/* Regression (proxy/conn.c conn_read_cb, fixed): llhttp skips CR and LF before a request line
 * without starting a message, so txn.started stays false and every such byte re-arms the
 * header timer. A client sending "\r\n" every 100 ms holds the connection forever. */
static void test_crlf_does_not_extend_header_timeout(void **state)
{
    struct client *cl = client_open(state);
    bool closed = false;
    /* 20 x 100 ms = 2 s against a 300 ms header timeout. */
    for (int i = 0; i < 20 && !closed; i++) {
        if (client_send_n(cl, "\r\n", 2) != 0)
            closed = true;
        else if (client_fill(cl, now_ms() + 100) == 0)
            closed = true;
    }
    if (!closed)
        fail_msg("connection still open after 2 s of CRLF (header timeout 300 ms)");
    client_free(cl);
}

static void test_body_timeout_408(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    /* A local path: a forwarded request could meet an upstream error first. */
    client_send(cl, "POST /healthz HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"model\":");
    assert_int_equal(client_response(cl, &r, false), 0);
    assert_openai_error(&r, 408, "request_timeout");
    assert_body_has(&r, "client_body_timeout");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

static void test_keepalive_idle_closed(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_connection(&r, "keep-alive");
    /* keepalive_timeout is 500 ms; closed without a response. */
    assert_int_equal(client_wait_close(cl), 1);
    assert_int_equal(cl->err, 0);
    client_free(cl);
}

static void test_idle_new_connection_closed(void **state)
{
    struct client *cl = client_open(state);
    /* Never a byte: closed after client_header_timeout, with no 408. */
    assert_int_equal(client_wait_close(cl), 1);
    client_free(cl);
}

/* ---------------------------------------------------------------- slow and half-closed clients */

/* A connected socket with a small receive buffer (set before connecting, so that the
 * window stays small): answers the client has not read pile up on the server's side. */
static struct client *client_open_small_rcvbuf(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->srv->port)};
    int small = 4096;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct client *cl = client_adopt(state, fd);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return cl;
}

/* Occurrences of `needle` in `hay`. */
static size_t count_of(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, nlen = strlen(needle);
    const char *p = hay, *end = hay + len;
    while ((p = memmem(p, (size_t)(end - p), needle, nlen)) != NULL) {
        n++;
        p += nlen;
    }
    return n;
}

/* Regression (proxy/conn.c conn_event_cb, fixed): end of stream from the client closes the
 * connection at once (proxy_conn_close(c, false)), dropping responses not yet written.
 * A client may half-close after its requests (shutdown(SHUT_WR)); it must still get every
 * answer. Answers the socket takes at once survive; here 16000 pipelined requests
 * (370 KiB) get ~6.5 MiB of answers while the client does not read, so most are queued
 * when the end of stream arrives. Once answers come from an upstream, even a single one
 * is at risk. */
static void test_half_close_gets_all_responses(void **state)
{
    enum { N = 16000 };
    static const char one[] = "GET /healthz HTTP/1.1\r\n\r\n";
    static char reqs[N * (sizeof(one) - 1)];
    static char got[8 << 20];
    struct client *cl = client_open_small_rcvbuf(state);
    size_t len = 0, sent = 0, have = 0;
    int64_t deadline = now_ms() + 10 * IO_TIMEOUT_MS;
    for (int i = 0; i < N; i++) {
        memcpy(reqs + len, one, sizeof(one) - 1);
        len += sizeof(one) - 1;
    }
    assert_int_equal(fcntl(cl->fd, F_SETFL, O_NONBLOCK), 0);
    /* Send everything, reading meanwhile should the server stop reading until we do. */
    while (sent < len) {
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN | POLLOUT};
        ssize_t n = send(cl->fd, reqs + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            fail_msg("send: %s", strerror(errno));
        if (now_ms() > deadline)
            fail_msg("could not send %zu bytes of requests", len);
        if (poll(&pfd, 1, 100) > 0 && (pfd.revents & POLLIN)) {
            n = recv(cl->fd, got + have, sizeof(got) - have, 0);
            if (n > 0)
                have += (size_t)n;
        }
    }
    assert_int_equal(shutdown(cl->fd, SHUT_WR), 0);
    /* Not reading for a moment lets the server reach the end of stream while answers are
     * still queued. Ordering only: a correct server passes whatever the timing. */
    sleep_ms(200);
    for (;;) {
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
        int rc = poll(&pfd, 1, IO_TIMEOUT_MS);
        if (rc <= 0)
            fail_msg("no end of stream after %zu bytes", have);
        if (have == sizeof(got))
            fail_msg("more than %zu bytes of answers", sizeof(got));
        ssize_t n = recv(cl->fd, got + have, sizeof(got) - have, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    size_t answers = count_of(got, have, "HTTP/1.1 200 ");
    if (answers != N)
        fail_msg("after shutdown(SHUT_WR): %zu of %d answers (%zu bytes)", answers, (int)N, have);
    client_free(cl);
}

/* Regression (proxy/conn.c conn_read_cb, fixed): nothing limits the output buffer. A client that
 * pipelines requests and never reads the answers makes the server read on and queue
 * answers without bound (64 MiB of requests: ~700 MiB of server memory under ASan).
 * Expected: the server stops reading while answers wait (a high watermark on the output,
 * le-proxy style), or closes such a client, so that the client's writes eventually
 * block or fail. Socket buffers are shrunk on both sides so that the kernel hides little:
 * 2 KiB requests get ~140-byte answers, so 32 MiB of requests means ~2 MiB of answers
 * queued, far above any sane per-connection cap. */
/* Connect with small socket buffers on both sides and pipeline 2 KiB HEAD requests without
 * reading the answers, until the client's writes block (true) or 32 MiB went out (false). */
static bool pipeline_until_blocked(void **state, struct client **out)
{
    struct fixture *f = *state;
    static char req[2100];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(f->srv->port)};
    int small = 8192;
    size_t total = 0, off = 0;
    bool blocked = false;
    int n = snprintf(req, sizeof(req), "HEAD /healthz HTTP/1.1\r\nx-pad: %s\r\n\r\n",
                     repeat('p', 2000));
    assert_true(n > 0 && (size_t)n < sizeof(req));
    /* Accepted sockets inherit their buffer sizes from the listening ones. */
    for (unsigned i = 0; i < f->srv->n_workers; i++) {
        evutil_socket_t lfd = evconnlistener_get_fd(f->srv->workers[i].listener);
        assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        assert_int_equal(setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    *out = client_adopt(state, fd);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    while (total < ((size_t)32 << 20) && !blocked) {
        ssize_t w = send(fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
        if (w > 0) {
            total += (size_t)w;
            off = (off + (size_t)w) % (size_t)n;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            blocked = poll(&pfd, 1, 1000) == 0;
        } else if (w < 0 && errno != EINTR) {
            blocked = true; /* closing such a client is fine too */
        }
    }
    if (!blocked)
        fail_msg("the server read %zu MiB of pipelined requests whose answers nobody read",
                 total >> 20);
    return blocked;
}

static void test_pipelining_backpressure(void **state)
{
    struct client *cl;
    pipeline_until_blocked(state, &cl);
    client_free(cl);
}

/* A client that stops reading is closed after limits.send_timeout without progress: once it
 * reads again it finds the end of the stream (or a reset) after what its buffers held, not an
 * open connection (the keep-alive timeout here is 30 s). */
static void test_send_timeout_closes_stalled_reader(void **state)
{
    struct client *cl;
    char buf[16384];
    size_t got = 0;
    bool closed = false;
    pipeline_until_blocked(state, &cl);
    usleep(1000 * 1000); /* well past the 300 ms send timeout */
    for (int i = 0; i < 150 && !closed; i++) {
        struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        ssize_t r = recv(cl->fd, buf, sizeof(buf), 0);
        if (r > 0)
            got += (size_t)r;
        else if (r == 0 || errno != EAGAIN)
            closed = true;
    }
    if (!closed)
        fail_msg("connection still open after the send timeout (%zu bytes read)", got);
    client_free(cl);
}

/* ---------------------------------------------------------------- upgrade */

/* Regression (proxy/conn.c conn_read_cb, fixed): a request carrying "Upgrade" (or CONNECT) leaves
 * llhttp in its upgrade state; the next request on the connection fails with 400
 * "HPE_PAUSED_UPGRADE" although the first response said "Connection: keep-alive".
 * Either close after the first response or ignore the upgrade and keep parsing. */
static void test_upgrade_then_next_request(void **state)
{
    struct client *cl = client_open(state);
    struct resp r;
    char conn[64];
    exchange(cl,
             "GET /healthz HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
             &r);
    assert_int_equal(r.status, 200);
    assert_true(resp_header(&r, "connection", conn, sizeof(conn)));
    if (strcmp(conn, "close") == 0) {
        assert_int_equal(client_wait_close(cl), 1);
    } else {
        exchange(cl, "GET /healthz HTTP/1.1\r\n\r\n", &r);
        if (r.status != 200)
            fail_msg("second request after an Upgrade one: %d %s", r.status, r.body);
    }
    client_free(cl);
}

/* ---------------------------------------------------------------- drain */

/* Send a whole request and half of the next in one write. The first answer proves the
 * server has read (and started) the second. */
static void start_half_request(struct client *cl, const char *half)
{
    static char req[1024];
    struct resp r;
    snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\n\r\n%s", half);
    exchange(cl, req, &r);
    assert_int_equal(r.status, 200);
    assert_connection(&r, "keep-alive");
}

static void test_drain_graceful(void **state)
{
    struct fixture *f = *state;
    struct client *busy = client_open(state);
    struct client *idle = client_open(state);
    struct client *late;
    struct resp r;
    start_half_request(busy, "GET /readyz HTTP/1.1\r\nHost: warden\r\n");
    exchange(idle, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    assert_connection(&r, "keep-alive");

    proxy_server_drain(f->srv);
    proxy_server_drain(f->srv); /* more than once is allowed */

    /* The idle keep-alive connection closes now, not after keepalive_timeout (30 s). Once it
     * has, the (single) worker is draining. */
    assert_int_equal(client_wait_close(idle), 1);

    /* The request in progress finishes, told that the connection closes. */
    client_send(busy, "x-request-id: drained\r\n\r\n");
    assert_int_equal(client_response(busy, &r, false), 0);
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":\"draining\"}");
    assert_header(&r, "x-request-id", "drained");
    assert_connection(&r, "close");
    assert_int_equal(client_wait_close(busy), 1);

    /* New connections are refused, or closed unanswered. */
    int fd = tcp_connect(f->srv->port);
    if (fd >= 0) {
        late = client_adopt(state, fd);
        (void)client_send_n(late, "GET /healthz HTTP/1.1\r\n\r\n", 25);
        assert_int_equal(client_wait_close(late), 1);
        client_free(late);
    } else {
        assert_int_equal(fd, -ECONNREFUSED);
    }

    proxy_server_wait(f->srv);
    f->srv = NULL;
    client_free(busy);
    client_free(idle);
}

/* A request that never completes is cut at drain_timeout and wait() returns. */
static void test_drain_deadline(void **state)
{
    struct fixture *f = *state;
    struct client *cl = client_open(state);
    start_half_request(cl, "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 10\r\n\r\n{");
    proxy_server_drain(f->srv);
    proxy_server_wait(f->srv); /* returns after the 300 ms deadline; 30 s timeouts otherwise */
    f->srv = NULL;
    int rc = client_wait_close(cl);
    if (rc == -1 && cl->len > 0) {
        /* An answer is fine as long as it closes. */
        struct resp r;
        assert_int_equal(client_response(cl, &r, false), 0);
        assert_connection(&r, "close");
        rc = client_wait_close(cl);
    }
    assert_int_equal(rc, 1);
    client_free(cl);
}

/* A server with no connections drains at once. */
static void test_drain_empty(void **state)
{
    struct fixture *f = *state;
    proxy_server_drain(f->srv);
    proxy_server_wait(f->srv);
    f->srv = NULL;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_default, server_down)
    const struct CMUnitTest tests[] = {
        T(test_healthz_get),
        T(test_healthz_head),
        T(test_healthz_post_405),
        T(test_readyz_get),
        T(test_request_id_valid_echoed),
        T(test_request_id_invalid_replaced),
        T(test_request_id_generated),
        T(test_request_id_duplicate_not_concatenated),
        T(test_request_id_invalid_not_echoed_on_error),
        T(test_keepalive_two_requests),
        T(test_http10_closes),
        T(test_connection_close_honoured),
        T(test_pipelining_in_order),
        T(test_one_byte_writes),
        T(test_chat_completions_502_openai_shape),
        T(test_messages_502_anthropic_shape),
        T(test_headers_too_large_431),
        T(test_headers_under_limit_accepted),
        T(test_content_length_too_large_413),
        T(test_body_at_limit_accepted),
        T(test_chunked_over_limit_413),
        T(test_chunked_under_limit_accepted),
        cmocka_unit_test_setup_teardown(test_url_too_long_414, setup_big_headers, server_down),
        T(test_malformed_400),
        T(test_malformed_stops_pipeline),
        T(test_header_timeout_408),
        T(test_header_timeout_not_extended_by_bytes),
        T(test_crlf_does_not_extend_header_timeout),
        T(test_body_timeout_408),
        T(test_keepalive_idle_closed),
        T(test_idle_new_connection_closed),
        T(test_upgrade_then_next_request),
        T(test_half_close_gets_all_responses),
        T(test_pipelining_backpressure),
        cmocka_unit_test_setup_teardown(test_send_timeout_closes_stalled_reader, setup_send_timeout,
                                        server_down),
        cmocka_unit_test_setup_teardown(test_drain_graceful, setup_drain, server_down),
        cmocka_unit_test_setup_teardown(test_drain_deadline, setup_drain_deadline, server_down),
        T(test_drain_empty),
        cmocka_unit_test_teardown(test_close_delimited_upstream_body, server_down),
    };
#undef T
    /* Rejections are logged at info; keep the test output to warnings. */
    tel_log_setup(TEL_LOG_WARN, TEL_LOG_TEXT, 2);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

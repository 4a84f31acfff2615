/* Unit tests for the OTLP/HTTP exporter against an in-process fake collector. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "telemetry/export.h"
#include "telemetry/metrics.h"

#define MS         1000000ull
#define MAX_REQS   4096
#define MAX_SCRIPT 16
#define MAX_CONNS  32
#define REQ_MAX    (16u << 20)
#define WAIT_MS    3000

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- fake collector: one accept thread, one thread per connection ---- */

struct req {
    char path[256];
    char *head; /* request line and headers */
    uint8_t *body;
    size_t body_len;
    uint64_t at_ns;
    int conn;
};

struct answer {
    int status;
    const char *extra; /* more header lines, each ending in CR LF */
};

struct collector {
    int lfd;
    int port;
    pthread_t accept_thread;
    atomic_bool stop;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct req reqs[MAX_REQS];
    size_t n_reqs;
    struct answer script[MAX_SCRIPT]; /* answers in order; then 200 */
    size_t n_script;
    size_t next_script;
    bool chunked; /* answer bodies chunked instead of with a Content-Length */
    bool silent;  /* read requests, never answer */
    bool hang_up; /* close each connection after one answer, without saying so */
    pthread_t conn_threads[MAX_CONNS];
    size_t n_conns;
};

struct conn_arg {
    struct collector *c;
    int fd;
    int id;
};

/* Read more into buf; 0 ok, -1 on end, error or stop. */
static int conn_read(struct collector *c, int fd, char *buf, size_t *len, size_t cap)
{
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        if (*len == cap)
            return -1;
        ssize_t n = recv(fd, buf + *len, cap - *len, 0);
        if (n <= 0)
            return -1;
        *len += (size_t)n;
        return 0;
    }
    return -1;
}

static void send_str(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void *conn_main(void *arg)
{
    struct conn_arg *a = arg;
    struct collector *c = a->c;
    char *buf = malloc(REQ_MAX);
    size_t len = 0;
    assert_non_null(buf);
    for (;;) {
        char *end;
        while ((end = memmem(buf, len, "\r\n\r\n", 4)) == NULL) {
            if (conn_read(c, a->fd, buf, &len, REQ_MAX) != 0)
                goto out;
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char *head = strndup(buf, head_len);
        size_t clen = 0;
        for (char *l = head; (l = strstr(l, "\r\n")) != NULL;) {
            l += 2;
            if (strncasecmp(l, "content-length:", 15) == 0)
                clen = strtoul(l + 15, NULL, 10);
        }
        while (len < head_len + clen) {
            if (conn_read(c, a->fd, buf, &len, REQ_MAX) != 0) {
                free(head);
                goto out;
            }
        }
        struct req r = {.head = head, .body_len = clen, .at_ns = now_ns(), .conn = a->id};
        r.body = malloc(clen + 1);
        memcpy(r.body, buf + head_len, clen);
        const char *sp = strchr(head, ' ');
        size_t pl = sp ? strcspn(sp + 1, " ") : 0;
        snprintf(r.path, sizeof(r.path), "%.*s", (int)pl, sp ? sp + 1 : "");
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;

        pthread_mutex_lock(&c->lock);
        struct answer ans = {200, ""};
        if (c->next_script < c->n_script)
            ans = c->script[c->next_script++];
        if (c->n_reqs < MAX_REQS)
            c->reqs[c->n_reqs++] = r;
        else
            free(r.head), free(r.body);
        bool silent = c->silent, chunked = c->chunked, hang_up = c->hang_up;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        if (silent)
            continue;
        char out[512];
        int n = chunked
                    ? snprintf(out, sizeof(out),
                               "HTTP/1.1 %d X\r\nTransfer-Encoding: chunked\r\n%s\r\n"
                               "2;ext=1\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n",
                               ans.status, ans.extra ? ans.extra : "")
                    : snprintf(out, sizeof(out), "HTTP/1.1 %d X\r\nContent-Length: 2\r\n%s\r\n{}",
                               ans.status, ans.extra ? ans.extra : "");
        send_str(a->fd, out, (size_t)n);
        if (hang_up)
            break;
    }
out:
    free(buf);
    close(a->fd);
    free(a);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct collector *c = arg;
    while (!atomic_load(&c->stop)) {
        struct pollfd p = {.fd = c->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        int fd = accept(c->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_mutex_lock(&c->lock);
        if (c->n_conns == MAX_CONNS) {
            pthread_mutex_unlock(&c->lock);
            close(fd);
            continue;
        }
        struct conn_arg *a = malloc(sizeof(*a));
        *a = (struct conn_arg){c, fd, (int)c->n_conns};
        pthread_create(&c->conn_threads[c->n_conns++], NULL, conn_main, a);
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

/* Listen on 127.0.0.1 with a kernel-chosen port; start the accept thread when `serve`. */
static struct collector *collector_new(bool serve)
{
    struct collector *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(c->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(c->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(c->lfd, 16), 0);
    assert_int_equal(getsockname(c->lfd, (struct sockaddr *)&sa, &sl), 0);
    c->port = ntohs(sa.sin_port);
    if (serve)
        pthread_create(&c->accept_thread, NULL, accept_main, c);
    else
        c->accept_thread = pthread_self();
    return c;
}

static void collector_free(struct collector *c)
{
    atomic_store(&c->stop, true);
    if (!pthread_equal(c->accept_thread, pthread_self()))
        pthread_join(c->accept_thread, NULL);
    for (size_t i = 0; i < c->n_conns; i++)
        pthread_join(c->conn_threads[i], NULL);
    close(c->lfd);
    for (size_t i = 0; i < c->n_reqs; i++) {
        free(c->reqs[i].head);
        free(c->reqs[i].body);
    }
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Wait until n requests arrived (or ms passed); returns how many did. */
static size_t collector_wait(struct collector *c, size_t n, unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + ms * MS;
    ts = (struct timespec){.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    pthread_mutex_lock(&c->lock);
    while (c->n_reqs < n && pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
        ;
    size_t got = c->n_reqs;
    pthread_mutex_unlock(&c->lock);
    return got;
}

static size_t collector_count(struct collector *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->n_reqs;
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void url_of(const struct collector *c, const char *path, char *buf, size_t n)
{
    snprintf(buf, n, "http://127.0.0.1:%d%s", c->port, path);
}

/* ---- a minimal protobuf reader: walk a field path, call back on the leaves ---- */

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0)
            return true;
    }
    return false;
}

typedef void (*leaf_fn)(void *arg, const uint8_t *p, size_t n);

/* Visit the length-delimited fields at path[0..depth) below the message; fails the test on
 * malformed input. */
static void pb_walk(const uint8_t *p, size_t n, const uint32_t *path, size_t depth, leaf_fn fn,
                    void *arg)
{
    const uint8_t *end = p + n;
    while (p < end) {
        uint64_t tag, v;
        assert_true(pb_varint(&p, end, &tag));
        switch (tag & 7) {
        case 0:
            assert_true(pb_varint(&p, end, &v));
            break;
        case 1:
            assert_true(end - p >= 8);
            p += 8;
            break;
        case 5:
            assert_true(end - p >= 4);
            p += 4;
            break;
        case 2:
            assert_true(pb_varint(&p, end, &v));
            assert_true(v <= (uint64_t)(end - p));
            if ((tag >> 3) == path[0]) {
                if (depth == 1)
                    fn(arg, p, (size_t)v);
                else
                    pb_walk(p, (size_t)v, path + 1, depth - 1, fn, arg);
            }
            p += v;
            break;
        default:
            fail_msg("bad wire type %u", (unsigned)(tag & 7));
        }
    }
}

static void leaf_count(void *arg, const uint8_t *p, size_t n)
{
    (void)p;
    (void)n;
    ++*(size_t *)arg;
}

struct strs {
    char s[64][64];
    size_t n;
};

static void leaf_str(void *arg, const uint8_t *p, size_t n)
{
    struct strs *st = arg;
    if (st->n < 64)
        snprintf(st->s[st->n++], 64, "%.*s", (int)n, (const char *)p);
}

/* ExportTraceServiceRequest: resource_spans(1) > scope_spans(2) > spans(2); same shape
 * for metrics: resource_metrics(1) > scope_metrics(2) > metrics(2). */
static const uint32_t ITEMS[] = {1, 2, 2};
static const uint32_t SPAN_NAMES[] = {1, 2, 2, 5};
static const uint32_t METRIC_NAMES[] = {1, 2, 2, 1};
static const uint32_t RESOURCE_KEYS[] = {1, 1, 1, 1};

static size_t items_in(const struct req *r)
{
    size_t n = 0;
    pb_walk(r->body, r->body_len, ITEMS, 3, leaf_count, &n);
    return n;
}

/* ---- spans ---- */

static void make_span(struct tel_span *s, struct tel_attr *attrs, struct tel_span_event *ev,
                      struct tel_attr *ev_attrs, const char *name, int i)
{
    static const char *const rules[] = {"pii.email", "secrets.key"};
    memset(s, 0, sizeof(*s));
    memset(s->trace_id, 0xab, sizeof(s->trace_id));
    memset(s->span_id, i + 1, sizeof(s->span_id));
    s->flags = TEL_SPAN_F_SAMPLED;
    s->name = name;
    s->kind = TEL_SPAN_KIND_SERVER;
    s->start_time_unix_nano = 1700000000000000000ull;
    s->end_time_unix_nano = s->start_time_unix_nano + 5 * MS;
    attrs[0] = tel_attr_str("gen_ai.operation.name", "chat");
    attrs[1] = tel_attr_int("gen_ai.usage.input_tokens", 12);
    attrs[2] = tel_attr_bool("gen_ai.request.stream", true);
    attrs[3] = tel_attr_double("gen_ai.request.temperature", 0.5);
    attrs[4] = tel_attr_strn("gen_ai.response.id", NULL, 0);
    s->attrs = attrs;
    s->n_attrs = 5;
    ev_attrs[0] = tel_attr_str("gen_ai.evaluation.name", "warden.prompt_guard");
    ev_attrs[1] = tel_attr_strs("warden.rule_ids", rules, 2);
    ev[0] = (struct tel_span_event){"gen_ai.evaluation.result", s->start_time_unix_nano + MS,
                                    ev_attrs, 2};
    s->events = ev;
    s->n_events = 1;
    s->status = TEL_SPAN_STATUS_OK;
    s->status_message = "";
}

/* Queue span i with a name of its own, from a buffer reused afterwards (the copy must hold). */
static int push_span(struct tel_exporter *e, int i)
{
    char name[32];
    struct tel_span s;
    struct tel_attr attrs[5], ev_attrs[2];
    struct tel_span_event ev[1];
    snprintf(name, sizeof(name), "span-%d", i);
    make_span(&s, attrs, ev, ev_attrs, name, i);
    int rc = tel_exporter_span(e, &s);
    memset(name, 'X', sizeof(name) - 1);
    return rc;
}

static const struct tel_attr resource[] = {
    {.key = "service.name", .type = TEL_ATTR_T_STRING, .v.str = {"warden-test", 11}},
};

static struct tel_export_config base_config(const char *traces_url)
{
    return (struct tel_export_config){
        .traces_url = traces_url,
        .resource = resource,
        .n_resource = 1,
        .scope_name = "warden",
        .scope_version = "0.0.0-test",
        .timeout_ms = 2000,
        .batch_max = 512,
        .queue_max = 2048,
        .delay_ms = 10000,
        .metric_interval_ms = 60000,
        .max_retry_ms = 5000,
    };
}

static struct tel_exporter *exporter(const struct tel_export_config *cfg)
{
    struct tel_exporter *e = NULL;
    char err[256];
    int rc = tel_exporter_new(cfg, &e, err, sizeof(err));
    if (rc != 0)
        fail_msg("tel_exporter_new: %d %s", rc, err);
    return e;
}

/* Wait until one counter of the stats (at `off`) reaches want, or ms pass; returns the stats. */
static struct tel_export_stats stats_wait(struct tel_exporter *e, size_t off, uint64_t want,
                                          unsigned ms)
{
    struct tel_export_stats st;
    uint64_t until = now_ns() + ms * MS;
    for (;;) {
        tel_exporter_stats(e, &st);
        uint64_t v;
        memcpy(&v, (const char *)&st + off, sizeof(v));
        if (v >= want || now_ns() > until)
            break;
        sleep_ms(5);
    }
    return st;
}
#define STATS_WAIT(e, field, want, ms) \
    stats_wait((e), offsetof(struct tel_export_stats, field), (want), (ms))

static void test_batch_delivered(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.headers = " x-api-key = abc%20def%2C1 ,tenant=t1,, ";
    cfg.batch_max = 3;
    struct tel_exporter *e = exporter(&cfg);
    for (int i = 0; i < 3; i++)
        assert_int_equal(push_span(e, i), 0);
    assert_int_equal(collector_wait(c, 1, WAIT_MS), 1);
    const struct req *r = &c->reqs[0];
    assert_string_equal(r->path, "/v1/traces");
    char want[128];
    snprintf(want, sizeof(want), "\r\nHost: 127.0.0.1:%d\r\n", c->port);
    assert_non_null(strstr(r->head, want));
    assert_non_null(strstr(r->head, "POST /v1/traces HTTP/1.1\r\n"));
    assert_non_null(strstr(r->head, "\r\nContent-Type: application/x-protobuf\r\n"));
    assert_non_null(strstr(r->head, "\r\nUser-Agent: warden\r\n"));
    assert_non_null(strstr(r->head, "\r\nx-api-key: abc def,1\r\n"));
    assert_non_null(strstr(r->head, "\r\ntenant: t1\r\n"));
    snprintf(want, sizeof(want), "\r\nContent-Length: %zu\r\n", r->body_len);
    assert_non_null(strstr(r->head, want));
    assert_int_equal(items_in(r), 3);
    struct strs names = {0};
    pb_walk(r->body, r->body_len, SPAN_NAMES, 4, leaf_str, &names);
    assert_int_equal(names.n, 3);
    assert_string_equal(names.s[0], "span-0");
    assert_string_equal(names.s[2], "span-2");
    struct strs keys = {0};
    pb_walk(r->body, r->body_len, RESOURCE_KEYS, 4, leaf_str, &keys);
    assert_int_equal(keys.n, 1);
    assert_string_equal(keys.s[0], "service.name");
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, 3, WAIT_MS);
    assert_int_equal(st.spans_sent, 3);
    assert_int_equal(st.queued, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.spans_dropped, 0);
    tel_exporter_free(e);
    assert_int_equal(collector_count(c), 1);
    collector_free(c);
}

/* Full batches go at once; the rest waits for the delay, or for tel_exporter_free. One
 * kept-alive connection carries every request (chunked answers included). */
static void test_batch_by_size_and_free(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->chunked = true;
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 4;
    struct tel_exporter *e = exporter(&cfg);
    for (int i = 0; i < 10; i++)
        assert_int_equal(push_span(e, i), 0);
    assert_int_equal(collector_wait(c, 2, WAIT_MS), 2);
    sleep_ms(300);
    assert_int_equal(collector_count(c), 2);
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, 8, WAIT_MS);
    assert_int_equal(st.spans_sent, 8);
    assert_int_equal(st.queued, 2);
    tel_exporter_free(e);
    assert_int_equal(collector_count(c), 3);
    assert_int_equal(items_in(&c->reqs[0]), 4);
    assert_int_equal(items_in(&c->reqs[1]), 4);
    assert_int_equal(items_in(&c->reqs[2]), 2);
    assert_int_equal(c->reqs[1].conn, c->reqs[0].conn);
    assert_int_equal(c->reqs[2].conn, c->reqs[0].conn);
    collector_free(c);
}

static void test_batch_by_time(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 100;
    cfg.delay_ms = 300;
    struct tel_exporter *e = exporter(&cfg);
    uint64_t t0 = now_ns();
    assert_int_equal(push_span(e, 0), 0);
    assert_int_equal(push_span(e, 1), 0);
    assert_int_equal(collector_wait(c, 1, WAIT_MS), 1);
    uint64_t dt = c->reqs[0].at_ns - t0;
    assert_true(dt >= 290 * MS);
    assert_true(dt < 2000 * MS);
    assert_int_equal(items_in(&c->reqs[0]), 2);
    tel_exporter_free(e);
    collector_free(c);
}

static void test_retry_503(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->script[c->n_script++] = (struct answer){503, NULL};
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    struct tel_exporter *e = exporter(&cfg);
    assert_int_equal(push_span(e, 0), 0);
    assert_int_equal(collector_wait(c, 2, WAIT_MS), 2);
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, 1, WAIT_MS);
    assert_int_equal(st.spans_sent, 1);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.spans_dropped, 0);
    uint64_t gap = c->reqs[1].at_ns - c->reqs[0].at_ns;
    assert_true(gap >= 200 * MS); /* backoff: 500 ms with jitter (250..500) */
    assert_int_equal(c->reqs[0].body_len, c->reqs[1].body_len);
    assert_memory_equal(c->reqs[0].body, c->reqs[1].body, c->reqs[0].body_len);
    sleep_ms(200);
    assert_int_equal(collector_count(c), 2);
    tel_exporter_free(e);
    collector_free(c);
}

static void test_no_retry_400(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->script[c->n_script++] = (struct answer){400, NULL};
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    struct tel_exporter *e = exporter(&cfg);
    assert_int_equal(push_span(e, 0), 0);
    assert_int_equal(collector_wait(c, 1, WAIT_MS), 1);
    struct tel_export_stats st = STATS_WAIT(e, failed, 1, WAIT_MS);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.spans_dropped, 1);
    assert_int_equal(st.spans_sent, 0);
    sleep_ms(700); /* past the first backoff */
    tel_exporter_stats(e, &st);
    assert_int_equal(st.retries, 0);
    assert_int_equal(collector_count(c), 1);
    /* The next batch goes through on its own. */
    assert_int_equal(push_span(e, 1), 0);
    st = STATS_WAIT(e, spans_sent, 1, WAIT_MS);
    assert_int_equal(st.spans_sent, 1);
    tel_exporter_free(e);
    collector_free(c);
}

static void test_retry_after(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->script[c->n_script++] = (struct answer){429, "Retry-After: 1\r\n"};
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    struct tel_exporter *e = exporter(&cfg);
    assert_int_equal(push_span(e, 0), 0);
    assert_int_equal(collector_wait(c, 2, WAIT_MS), 2);
    uint64_t gap = c->reqs[1].at_ns - c->reqs[0].at_ns;
    assert_true(gap >= 950 * MS);
    assert_true(gap < 2500 * MS);
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, 1, WAIT_MS);
    assert_int_equal(st.spans_sent, 1);
    assert_int_equal(st.retries, 1);
    tel_exporter_free(e);
    collector_free(c);
}

/* A Retry-After past the retry budget gives the export up at once. */
static void test_retry_after_past_budget(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->script[c->n_script++] = (struct answer){503, "Retry-After: 20\r\n"};
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    cfg.max_retry_ms = 1000;
    struct tel_exporter *e = exporter(&cfg);
    assert_int_equal(push_span(e, 0), 0);
    struct tel_export_stats st = STATS_WAIT(e, failed, 1, WAIT_MS);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.retries, 0);
    assert_int_equal(collector_count(c), 1);
    tel_exporter_free(e);
    collector_free(c);
}

/* Nothing listening: the callers pay only for the copy (or nothing once the queue is full),
 * drops are counted, and free does not wait out timeout_ms. */
static void test_collector_down(void **state)
{
    (void)state;
    struct collector *c = collector_new(false);
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    close(c->lfd); /* the port is now closed: connections are refused */
    c->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct tel_export_config cfg = base_config(url);
    cfg.queue_max = 2000;
    cfg.batch_max = 16;
    cfg.delay_ms = 10;
    cfg.timeout_ms = 2000;
    struct tel_exporter *e = exporter(&cfg);
    char name[] = "down";
    struct tel_span s;
    struct tel_attr attrs[5], ev_attrs[2];
    struct tel_span_event ev[1];
    make_span(&s, attrs, ev, ev_attrs, name, 0);
    uint64_t t0 = now_ns();
    size_t queued = 0;
    for (int i = 0; i < 10000; i++)
        queued += tel_exporter_span(e, &s) == 0;
    uint64_t dt = now_ns() - t0;
    print_message("10000 tel_exporter_span with the collector down: %.2f ms\n", (double)dt / 1e6);
    assert_true(dt < 50 * MS);
    struct tel_export_stats st;
    tel_exporter_stats(e, &st);
    assert_true(queued >= 2000 && queued <= 2000 + 16 * 2);
    assert_int_equal(st.spans_dropped + queued, 10000); /* nothing sent, nothing lost */
    assert_true(st.queued <= 2000);
    st = STATS_WAIT(e, retries, 1, WAIT_MS);
    assert_true(st.retries >= 1);
    assert_int_equal(st.spans_sent, 0);
    t0 = now_ns();
    tel_exporter_free(e);
    dt = now_ns() - t0;
    assert_true(dt < 1000 * MS); /* an unreachable collector is not retried at exit */
    collector_free(c);
}

/* A kept-alive connection the server closed is replaced without a retry. */
static void test_server_hangs_up(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->hang_up = true;
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    struct tel_exporter *e = exporter(&cfg);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(push_span(e, i), 0);
        struct tel_export_stats st = STATS_WAIT(e, spans_sent, (uint64_t)i + 1, WAIT_MS);
        assert_int_equal(st.spans_sent, i + 1);
    }
    struct tel_export_stats st;
    tel_exporter_stats(e, &st);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.failed, 0);
    assert_int_equal(collector_count(c), 3);
    assert_int_not_equal(c->reqs[0].conn, c->reqs[1].conn);
    assert_int_not_equal(c->reqs[1].conn, c->reqs[2].conn);
    tel_exporter_free(e);
    collector_free(c);
}

/* A batch whose body would pass 4 MiB goes as several requests; a span bigger than any body
 * may be is refused when queued. */
static void test_big_batch_split(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 8;
    struct tel_exporter *e = exporter(&cfg);
    size_t big = 700u << 10;
    char *text = malloc(2u << 20);
    assert_non_null(text);
    memset(text, 'a', 2u << 20);
    struct tel_span s;
    struct tel_attr attrs[5], ev_attrs[2];
    struct tel_span_event ev[1];
    make_span(&s, attrs, ev, ev_attrs, "big", 0);
    attrs[4] = tel_attr_strn("warden.prompt", text, 2u << 20);
    assert_int_equal(tel_exporter_span(e, &s), 1); /* past the 1 MiB of one span */
    attrs[4] = tel_attr_strn("warden.prompt", text, big);
    for (int i = 0; i < 8; i++)
        assert_int_equal(tel_exporter_span(e, &s), 0);
    free(text);
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, 8, WAIT_MS);
    assert_int_equal(st.spans_sent, 8);
    assert_int_equal(st.spans_dropped, 1);
    assert_int_equal(collector_count(c), 2);
    assert_int_equal(items_in(&c->reqs[0]), 4);
    assert_int_equal(items_in(&c->reqs[1]), 4);
    assert_true(c->reqs[0].body_len <= (4u << 20));
    tel_exporter_free(e);
    collector_free(c);
}

/* A collector that accepts and never answers: each attempt ends at timeout_ms, free too. */
static void test_collector_silent(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    c->silent = true;
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.batch_max = 1;
    cfg.timeout_ms = 200;
    struct tel_exporter *e = exporter(&cfg);
    uint64_t t0 = now_ns();
    assert_int_equal(push_span(e, 0), 0);
    assert_int_equal(collector_wait(c, 2, WAIT_MS), 2);
    assert_true(c->reqs[1].at_ns - t0 >= 400 * MS); /* 200 ms timeout + 250..500 ms backoff */
    assert_int_equal(push_span(e, 1), 0);
    t0 = now_ns();
    tel_exporter_free(e);
    uint64_t dt = now_ns() - t0;
    assert_true(dt < 800 * MS);
    collector_free(c);
}

/* ---- metrics ---- */

static atomic_int before_calls;
static struct tel_metric_series *before_gauge;

static void before(void *arg)
{
    assert_ptr_equal(arg, &before_calls);
    atomic_fetch_add(&before_calls, 1);
    tel_metric_set(before_gauge, 42);
}

static void test_metrics(void **state)
{
    (void)state;
    static const double bounds[] = {0.1, 1, 10};
    struct tel_metrics *m = tel_metrics_new();
    struct tel_metric_family *req = tel_metrics_family(
        m, &(struct tel_metric_desc){.name = "warden.requests",
                                     .prom = "warden_requests_total",
                                     .unit = "{request}",
                                     .kind = TEL_METRIC_COUNTER,
                                     .labels = {"warden.route", "warden.upstream"}});
    struct tel_metric_family *q =
        tel_metrics_family(m, &(struct tel_metric_desc){.name = "warden.export.queue",
                                                        .prom = "warden_export_queue",
                                                        .kind = TEL_METRIC_GAUGE});
    struct tel_metric_family *dur = tel_metrics_family(
        m, &(struct tel_metric_desc){.name = "gen_ai.client.operation.duration",
                                     .prom = "gen_ai_client_operation_duration_seconds",
                                     .unit = "s",
                                     .kind = TEL_METRIC_HISTOGRAM,
                                     .labels = {"gen_ai.operation.name"},
                                     .bounds = bounds,
                                     .n_bounds = 3});
    assert_non_null(tel_metrics_family(m, &(struct tel_metric_desc){.name = "warden.unused",
                                                                    .prom = "warden_unused",
                                                                    .kind = TEL_METRIC_COUNTER}));
    assert_non_null(req);
    assert_non_null(q);
    assert_non_null(dur);
    tel_metric_add(tel_metric_series(req, (const char *[]){"chat", "openai"}), 3);
    tel_metric_add(tel_metric_series(req, (const char *[]){"messages", "anthropic"}), 1);
    before_gauge = tel_metric_series(q, (const char *[]){NULL});
    tel_metric_observe(tel_metric_series(dur, (const char *[]){"chat"}), 0.5);
    atomic_store(&before_calls, 0);

    struct collector *c = collector_new(true);
    char url[128];
    url_of(c, "/v1/metrics", url, sizeof(url));
    struct tel_export_config cfg = base_config(NULL);
    cfg.metrics_url = url;
    cfg.metrics = m;
    cfg.metric_interval_ms = 200;
    cfg.before_metrics = before;
    cfg.before_metrics_arg = &before_calls;
    struct tel_exporter *e = exporter(&cfg);
    assert_int_equal(push_span(e, 0), 1); /* no traces URL */
    uint64_t t0 = now_ns();
    assert_int_equal(collector_wait(c, 1, WAIT_MS), 1);
    assert_true(c->reqs[0].at_ns - t0 >= 150 * MS);
    assert_true(atomic_load(&before_calls) >= 1);
    const struct req *r = &c->reqs[0];
    assert_string_equal(r->path, "/v1/metrics");
    assert_non_null(strstr(r->head, "\r\nContent-Type: application/x-protobuf\r\n"));
    struct strs names = {0};
    pb_walk(r->body, r->body_len, METRIC_NAMES, 4, leaf_str, &names);
    assert_int_equal(names.n, 3); /* the family without series is left out */
    assert_string_equal(names.s[0], "warden.requests");
    assert_string_equal(names.s[1], "warden.export.queue");
    assert_string_equal(names.s[2], "gen_ai.client.operation.duration");
    /* Sum (7) > data_points (1): two series of the counter. */
    size_t n_points = 0;
    pb_walk(r->body, r->body_len, (const uint32_t[]){1, 2, 2, 7, 1}, 5, leaf_count, &n_points);
    assert_int_equal(n_points, 2);
    struct tel_export_stats st = STATS_WAIT(e, metric_exports, 1, WAIT_MS);
    assert_true(st.metric_exports >= 1);
    size_t before_free = collector_count(c);
    tel_exporter_free(e); /* one last export */
    assert_true(collector_count(c) >= before_free + 1);
    assert_true((size_t)atomic_load(&before_calls) >= before_free + 1);
    collector_free(c);
    tel_metrics_free(m);
}

/* ---- configuration ---- */

static void expect_refused(const char *traces, const char *headers, const char *msg)
{
    struct tel_export_config cfg = base_config(traces);
    cfg.headers = headers;
    struct tel_exporter *e = (struct tel_exporter *)&cfg; /* must be reset to NULL */
    char err[256] = "";
    assert_int_equal(tel_exporter_new(&cfg, &e, err, sizeof(err)), -EINVAL);
    assert_null(e);
    if (strstr(err, msg) == NULL)
        fail_msg("error \"%s\" does not say \"%s\"", err, msg);
    assert_null(strstr(err, "s3cret"));
}

static void test_config_refused(void **state)
{
    (void)state;
    expect_refused("https://collector:4318/v1/traces", NULL, "https is not supported");
    expect_refused("HTTPS://collector/v1/traces", NULL, "https");
    expect_refused("ftp://collector/v1/traces", NULL, "expected http://");
    expect_refused("collector:4318", NULL, "expected http://");
    expect_refused("http://collector:0/v1/traces", NULL, "bad port");
    expect_refused("http://collector:65536/v1/traces", NULL, "bad port");
    expect_refused("http://collector:/v1/traces", NULL, "bad port");
    expect_refused("http://collector:43a8/v1/traces", NULL, "bad port");
    expect_refused("http:///v1/traces", NULL, "host");
    expect_refused("http://user:s3cret@collector/v1/traces", NULL, "credentials");
    expect_refused("http://[::1/v1/traces", NULL, "IPv6");
    expect_refused("http://collector/v1/tr aces", NULL, "spaces");
    expect_refused("http://collector/v1/traces", "novalue", "no '='");
    expect_refused("http://collector/v1/traces", "a=1,s3cret", "entry 2 has no '='");
    expect_refused("http://collector/v1/traces", "=s3cret", "empty name");
    expect_refused("http://collector/v1/traces", "bad key=s3cret", "not allowed");
    expect_refused("http://collector/v1/traces", "k=s3cret%zz", "two hex digits");
    expect_refused("http://collector/v1/traces", "k=s3cret%4", "two hex digits");
    expect_refused("http://collector/v1/traces", "k=s3cret%0d%0aX: y", "control character");
    expect_refused("http://collector/v1/traces", "Content-Length=5", "set by the exporter");
    expect_refused("http://collector/v1/traces", "host=evil", "set by the exporter");
    /* Accepted: IPv6, default port and path, a custom User-Agent, percent-encoded '='. */
    struct tel_export_config cfg = base_config("http://[::1]:4318/v1/traces");
    cfg.metrics_url = "http://localhost";
    cfg.headers = "User-Agent=probe, authorization=Basic%20YTpi%3D";
    struct tel_exporter *e = NULL;
    char err[256];
    assert_int_equal(tel_exporter_new(&cfg, &e, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    tel_exporter_free(e);
    tel_exporter_free(NULL);
    struct tel_export_stats st;
    tel_exporter_stats(NULL, &st);
    assert_int_equal(st.queued, 0);
}

/* ---- many producers (for ThreadSanitizer) ---- */

#define PRODUCERS  4
#define PER_THREAD 2000

static void *producer(void *arg)
{
    struct tel_exporter *e = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (push_span(e, i) != 0)
            fail_msg("span %d dropped", i);
    }
    return NULL;
}

static void test_many_producers(void **state)
{
    (void)state;
    struct collector *c = collector_new(true);
    char url[128];
    url_of(c, "/v1/traces", url, sizeof(url));
    struct tel_export_config cfg = base_config(url);
    cfg.queue_max = PRODUCERS * PER_THREAD;
    cfg.batch_max = 256;
    cfg.delay_ms = 20;
    struct tel_exporter *e = exporter(&cfg);
    pthread_t t[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, producer, e);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    struct tel_export_stats st = STATS_WAIT(e, spans_sent, PRODUCERS * PER_THREAD, 10000);
    assert_int_equal(st.spans_sent, PRODUCERS * PER_THREAD);
    assert_int_equal(st.spans_dropped, 0);
    tel_exporter_free(e);
    size_t total = 0, n = collector_count(c);
    for (size_t i = 0; i < n; i++) {
        size_t k = items_in(&c->reqs[i]);
        assert_true(k >= 1 && k <= 256);
        total += k;
    }
    assert_int_equal(total, PRODUCERS * PER_THREAD);
    collector_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_refused),
        cmocka_unit_test(test_batch_delivered),
        cmocka_unit_test(test_batch_by_size_and_free),
        cmocka_unit_test(test_batch_by_time),
        cmocka_unit_test(test_retry_503),
        cmocka_unit_test(test_no_retry_400),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_retry_after_past_budget),
        cmocka_unit_test(test_collector_down),
        cmocka_unit_test(test_collector_silent),
        cmocka_unit_test(test_server_hangs_up),
        cmocka_unit_test(test_big_batch_split),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_many_producers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Benchmark client for SSE streams and idle keep-alive connections; never gates CI.
 *
 * usage: bench_stream stream HOST:PORT [-n STREAMS] [-c CONCURRENCY] [-s SCRIPT] [-b PROMPT_BYTES]
 *                                      [-t TIMEOUT_S] [--stall-ms MS]
 *        bench_stream idle HOST:PORT [-n CONNECTIONS]
 *
 * stream: CONCURRENCY keep-alive connections post streamed chat completions (`"stream":true`,
 *   a user prompt of PROMPT_BYTES, the mock upstream's `x-mock-script: SCRIPT`) until STREAMS
 *   have run. Each stream is timed on the client from the last byte of its request: the first
 *   SSE event (time to first event), every gap between two events, the end. Prints one line of
 *   key=value figures (microseconds); a stream that fails, or a gap longer than --stall-ms, is
 *   counted. Exit 0 when every stream completed with no stall, else 1.
 * idle: opens CONNECTIONS keep-alive connections, sends GET /healthz on each and reads the
 *   answer, then holds them idle; prints `idle ok=K failed=F` once all are settled and keeps
 *   them open until SIGTERM or SIGINT (then exit 0). At most 256 connections are being opened at
 *   once, so the server's listen backlog never overflows. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "tests/bench/bench_text.h"

#define BENCH_MAX_OPENING  256
#define BENCH_MAX_HEAD     (64 * 1024)
#define BENCH_MAX_SCRIPT   4096
#define BENCH_MAX_PROMPT   (1024 * 1024)
#define BENCH_MAX_CONNS    200000
#define BENCH_MAX_CHUNKHEX 16

enum bench_body {
    BENCH_BODY_HEAD = 0, /* reading the status line and headers */
    BENCH_BODY_SIZE,     /* chunk-size line */
    BENCH_BODY_DATA,     /* chunk data */
    BENCH_BODY_DATA_END, /* CRLF after chunk data */
    BENCH_BODY_TRAILER,  /* trailer lines up to the empty one */
    BENCH_BODY_LENGTH,   /* Content-Length body */
    BENCH_BODY_DONE,
};

/* One client connection: it runs one stream (or, idle mode, one request) after the other. */
struct bench_conn {
    struct bench *b;
    struct bufferevent *bev;
    enum bench_body state;
    uint64_t chunk_left;  /* chunk data or Content-Length bytes still due */
    char last[2];         /* last two body bytes, to find the blank line that ends an event */
    bool event_has_bytes; /* the current SSE event has a non-newline byte */
    double t_sent, t_prev;
    unsigned events;
    bool connecting; /* connect() not yet completed */
    bool in_flight;  /* a request was sent and its response has not ended */
    bool idle;       /* idle mode: answered and held */
};

struct bench {
    struct event_base *base;
    struct sockaddr_storage addr;
    int addr_len;
    bool idle_mode;
    char host[300];
    const char *script;
    struct text request;
    long streams, started, finished, failed, stalls;
    long target_conns, opened, opening;
    long stall_us, timeout_s;
    struct bench_conn *conns; /* target_conns of them; failed ones are replaced at the end */
    /* samples, microseconds */
    double *ttfe, *gaps;
    size_t n_ttfe, n_gaps, cap_gaps;
    double gap_max;
    long events_total;
    bool announced;
};

static double bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n sorted samples; 0 when there are none. */
static double bench_quantile(const double *v, size_t n, double q)
{
    size_t i;
    if (n == 0)
        return 0;
    i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void bench_open_more(struct bench *b);

static void bench_gap_add(struct bench *b, double gap)
{
    if (b->n_gaps == b->cap_gaps) {
        b->cap_gaps = b->cap_gaps ? b->cap_gaps * 2 : 4096;
        b->gaps = realloc(b->gaps, b->cap_gaps * sizeof(*b->gaps));
        if (b->gaps == NULL)
            exit(1);
    }
    b->gaps[b->n_gaps++] = gap;
    if (gap > b->gap_max)
        b->gap_max = gap;
    if (gap > (double)b->stall_us)
        b->stalls++;
}

/* Stops the loop once every stream has ended (stream mode) or every connection settled. */
static void bench_check_end(struct bench *b)
{
    if (b->idle_mode) {
        if (!b->announced && b->finished + b->failed == b->streams) {
            printf("idle ok=%ld failed=%ld\n", b->finished, b->failed);
            fflush(stdout);
            b->announced = true;
        }
    } else if (b->finished + b->failed == b->streams) {
        event_base_loopexit(b->base, NULL);
    }
}

static void bench_conn_free(struct bench_conn *c)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    c->bev = NULL;
}

/* A connection that failed: its stream (or held connection) counts as failed, and in stream
 * mode a new connection takes its place while streams remain. */
static void bench_conn_fail(struct bench_conn *c)
{
    struct bench *b = c->b;
    if (c->connecting) {
        b->opening--;
        b->started++;
    }
    if (c->connecting || c->in_flight || c->idle)
        b->failed++;
    if (c->idle)
        b->finished--;
    c->connecting = c->in_flight = c->idle = false;
    bench_conn_free(c);
    if (!b->idle_mode && b->started + b->opening < b->streams && b->target_conns < BENCH_MAX_CONNS)
        b->target_conns++;
    bench_open_more(b);
    bench_check_end(b);
}

/* Sends the next request on c, or closes c when no stream is left. */
static void bench_conn_send(struct bench_conn *c)
{
    struct bench *b = c->b;
    if (b->started >= b->streams) {
        bench_conn_free(c);
        return;
    }
    b->started++;
    c->state = BENCH_BODY_HEAD;
    c->chunk_left = 0;
    c->last[0] = c->last[1] = '\n';
    c->event_has_bytes = false;
    c->events = 0;
    c->t_sent = 0;
    c->in_flight = true;
    bufferevent_write(c->bev, b->request.buf, b->request.len);
}

/* One byte of decoded body: an SSE event ends at a blank line. */
static void bench_body_byte(struct bench_conn *c, char ch, double now)
{
    struct bench *b = c->b;
    if (ch == '\r')
        return;
    if (ch == '\n' && c->last[1] == '\n' && c->event_has_bytes) {
        if (c->events == 0)
            b->ttfe[b->n_ttfe++] = now - c->t_sent;
        else
            bench_gap_add(b, now - c->t_prev);
        c->t_prev = now;
        c->events++;
        b->events_total++;
        c->event_has_bytes = false;
    } else if (ch != '\n') {
        c->event_has_bytes = true;
    }
    c->last[0] = c->last[1];
    c->last[1] = ch;
}

/* Reads the status line and headers; returns 1 when done, 0 for more, -1 on error. */
static int bench_read_head(struct bench_conn *c, struct evbuffer *in)
{
    struct evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
    size_t len;
    char *head, *p;
    int rc = -1;

    if (end.pos < 0)
        return evbuffer_get_length(in) > BENCH_MAX_HEAD ? -1 : 0;
    len = (size_t)end.pos + 4;
    head = malloc(len + 1);
    if (head == NULL)
        exit(1);
    evbuffer_remove(in, head, len);
    head[len] = '\0';
    if (strncmp(head, "HTTP/1.1 200 ", 13) != 0)
        goto out;
    for (p = head; *p != '\0'; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    if (strstr(head, "\r\ntransfer-encoding: chunked\r\n") != NULL) {
        c->state = BENCH_BODY_SIZE;
    } else if ((p = strstr(head, "\r\ncontent-length:")) != NULL) {
        char *e = NULL;
        errno = 0;
        unsigned long long n = strtoull(p + 17, &e, 10);
        if (errno != 0 || e == p + 17)
            goto out;
        c->chunk_left = n;
        c->state = n > 0 ? BENCH_BODY_LENGTH : BENCH_BODY_DONE;
    } else {
        goto out;
    }
    rc = 1;
out:
    free(head);
    return rc;
}

/* Decodes what arrived; returns 1 when the response is complete, 0 for more, -1 on error. */
static int bench_read_body(struct bench_conn *c, struct evbuffer *in, double now)
{
    char line[BENCH_MAX_CHUNKHEX + 64];
    size_t n;

    while (c->state != BENCH_BODY_DONE) {
        if (c->state == BENCH_BODY_HEAD) {
            int rc = bench_read_head(c, in);
            if (rc <= 0)
                return rc;
            continue;
        }
        if (c->state == BENCH_BODY_DATA || c->state == BENCH_BODY_LENGTH) {
            struct evbuffer_iovec v[8];
            int k, nv = evbuffer_peek(in, -1, NULL, v, 8);
            size_t used = 0;
            if (nv <= 0)
                return 0;
            for (k = 0; k < nv && k < 8 && c->chunk_left > 0; k++) {
                const char *p = v[k].iov_base;
                size_t m = v[k].iov_len < c->chunk_left ? v[k].iov_len : (size_t)c->chunk_left;
                for (size_t i = 0; i < m; i++)
                    bench_body_byte(c, p[i], now);
                c->chunk_left -= m;
                used += m;
            }
            evbuffer_drain(in, used);
            if (c->chunk_left == 0)
                c->state = c->state == BENCH_BODY_DATA ? BENCH_BODY_DATA_END : BENCH_BODY_DONE;
            continue;
        }
        /* line states: chunk size, the CRLF after data, trailers */
        struct evbuffer_ptr eol = evbuffer_search(in, "\r\n", 2, NULL);
        if (eol.pos < 0)
            return evbuffer_get_length(in) > sizeof(line) ? -1 : 0;
        n = (size_t)eol.pos;
        if (n >= sizeof(line))
            return -1;
        evbuffer_remove(in, line, n + 2);
        line[n] = '\0';
        if (c->state == BENCH_BODY_DATA_END) {
            if (n != 0)
                return -1;
            c->state = BENCH_BODY_SIZE;
        } else if (c->state == BENCH_BODY_SIZE) {
            char *e = NULL;
            errno = 0;
            unsigned long long sz = strtoull(line, &e, 16);
            if (errno != 0 || e == line || n > BENCH_MAX_CHUNKHEX + 32)
                return -1;
            c->chunk_left = sz;
            c->state = sz == 0 ? BENCH_BODY_TRAILER : BENCH_BODY_DATA;
        } else if (n == 0) { /* BENCH_BODY_TRAILER: the empty line ends the response */
            c->state = BENCH_BODY_DONE;
        }
    }
    return 1;
}

static void bench_conn_read(struct bufferevent *bev, void *arg)
{
    struct bench_conn *c = arg;
    struct bench *b = c->b;
    double now = bench_now_us();
    int rc;

    if (!c->in_flight) { /* nothing is expected on a held connection */
        bench_conn_fail(c);
        return;
    }
    if (c->t_sent == 0)
        c->t_sent = c->t_prev = now;
    rc = bench_read_body(c, bufferevent_get_input(bev), now);
    if (rc == 0)
        return;
    if (rc < 0 || evbuffer_get_length(bufferevent_get_input(bev)) != 0) {
        bench_conn_fail(c); /* a bad response, or bytes after its end */
        return;
    }
    c->in_flight = false;
    b->finished++;
    if (b->idle_mode) {
        c->idle = true;
    } else {
        if (now - c->t_prev > (double)b->stall_us)
            b->stalls++; /* the end came late after the last event */
        bench_conn_send(c);
    }
    bench_check_end(b);
}

/* The request left for the kernel: the stream's clock starts here. */
static void bench_conn_write(struct bufferevent *bev, void *arg)
{
    struct bench_conn *c = arg;
    (void)bev;
    if (c->in_flight && c->t_sent == 0)
        c->t_sent = c->t_prev = bench_now_us();
}

static void bench_conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct bench_conn *c = arg;
    struct bench *b = c->b;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(bev);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->connecting = false;
        b->opening--;
        bench_open_more(b);
        bench_conn_send(c);
        return;
    }
    bench_conn_fail(c); /* error, EOF or timeout */
}

/* Opens connections up to the target, at most BENCH_MAX_OPENING at a time. */
static void bench_open_more(struct bench *b)
{
    while (b->opened < b->target_conns && b->opening < BENCH_MAX_OPENING) {
        struct bench_conn *c = &b->conns[b->opened++];
        memset(c, 0, sizeof(*c));
        c->b = b;
        c->connecting = true;
        b->opening++;
        c->bev = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (c->bev == NULL) {
            bench_conn_fail(c);
            continue;
        }
        bufferevent_setcb(c->bev, bench_conn_read, bench_conn_write, bench_conn_event, c);
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&b->addr, b->addr_len) < 0)
            bench_conn_fail(c);
    }
}

static void bench_stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

/* The streamed chat request: a prompt of prompt_bytes plain words, then the mock's script. */
static void bench_build_request(struct bench *b, long prompt_bytes)
{
    static const char words[] = "Please summarise the following notes about the quarterly "
                                "planning meeting and list the open questions for the team. ";
    struct text body = {0};
    char head[BENCH_MAX_SCRIPT + 512];
    long i;

    static const char start[] = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":"
                                "[{\"role\":\"user\",\"content\":\"";
    append(&body, start, sizeof(start) - 1);
    for (i = 0; i < prompt_bytes; i++)
        append(&body, &words[i % (long)(sizeof(words) - 1)], 1);
    append(&body, "\"}]}", 4);
    int n = snprintf(head, sizeof(head),
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
                     "Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\n"
                     "%s%s%sContent-Length: %zu\r\n\r\n",
                     b->host, b->script ? "x-mock-script: " : "", b->script ? b->script : "",
                     b->script ? "\r\n" : "", body.len);
    append(&b->request, head, (size_t)n);
    append(&b->request, body.buf, body.len);
    free(body.buf);
}

static void bench_usage(void)
{
    fprintf(stderr,
            "usage: bench_stream stream HOST:PORT [-n STREAMS] [-c CONCURRENCY] [-s SCRIPT]\n"
            "                           [-b PROMPT_BYTES] [-t TIMEOUT_S] [--stall-ms MS]\n"
            "       bench_stream idle HOST:PORT [-n CONNECTIONS]\n");
}

/* A whole number in [lo, hi] or exit 2 naming the option. */
static long bench_arg_long(const char *opt, const char *s, long lo, long hi)
{
    char *e = NULL;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (errno != 0 || e == s || *e != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_stream: %s wants a whole number in %ld..%ld, not '%s'\n", opt, lo,
                hi, s);
        exit(2);
    }
    return v;
}

static void bench_print(struct bench *b, double secs)
{
    qsort(b->ttfe, b->n_ttfe, sizeof(*b->ttfe), bench_cmp_double);
    qsort(b->gaps, b->n_gaps, sizeof(*b->gaps), bench_cmp_double);
    printf("streams=%ld ok=%ld failed=%ld unfinished=%ld stalls=%ld events=%ld seconds=%.3f "
           "ttfe_p50_us=%.1f ttfe_p99_us=%.1f ttfe_max_us=%.1f gap_p50_us=%.1f gap_p99_us=%.1f "
           "gap_max_us=%.1f\n",
           b->streams, b->finished, b->failed, b->streams - b->finished - b->failed, b->stalls,
           b->events_total, secs, bench_quantile(b->ttfe, b->n_ttfe, 0.5),
           bench_quantile(b->ttfe, b->n_ttfe, 0.99), b->n_ttfe ? b->ttfe[b->n_ttfe - 1] : 0.0,
           bench_quantile(b->gaps, b->n_gaps, 0.5), bench_quantile(b->gaps, b->n_gaps, 0.99),
           b->gap_max);
}

int main(int argc, char **argv)
{
    static const char idle_request[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
    struct bench b;
    struct event *ev_term = NULL, *ev_int = NULL, *ev_timeout = NULL;
    long concurrency = 1, prompt_bytes = 2048, stall_ms = 1000;
    int i, rc = 2;
    double t0;

    memset(&b, 0, sizeof(b));
    b.streams = 1;
    b.timeout_s = 120;
    if (argc < 3 || (strcmp(argv[1], "stream") != 0 && strcmp(argv[1], "idle") != 0)) {
        bench_usage();
        return 2;
    }
    b.idle_mode = strcmp(argv[1], "idle") == 0;
    b.addr_len = (int)sizeof(b.addr);
    if (evutil_parse_sockaddr_port(argv[2], (struct sockaddr *)&b.addr, &b.addr_len) < 0 ||
        strlen(argv[2]) >= sizeof(b.host)) {
        fprintf(stderr, "bench_stream: bad address '%s' (want HOST:PORT, numeric)\n", argv[2]);
        return 2;
    }
    snprintf(b.host, sizeof(b.host), "%s", argv[2]);
    for (i = 3; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            bench_usage();
            return 2;
        }
        i++;
        if (strcmp(o, "-n") == 0) {
            b.streams = bench_arg_long(o, v, 1, BENCH_MAX_CONNS);
        } else if (strcmp(o, "-c") == 0) {
            concurrency = bench_arg_long(o, v, 1, BENCH_MAX_CONNS);
        } else if (strcmp(o, "-s") == 0 && strlen(v) < BENCH_MAX_SCRIPT &&
                   strpbrk(v, "\r\n") == NULL) {
            b.script = v;
        } else if (strcmp(o, "-b") == 0) {
            prompt_bytes = bench_arg_long(o, v, 0, BENCH_MAX_PROMPT);
        } else if (strcmp(o, "-t") == 0) {
            b.timeout_s = bench_arg_long(o, v, 1, 86400);
        } else if (strcmp(o, "--stall-ms") == 0) {
            stall_ms = bench_arg_long(o, v, 1, 86400000);
        } else {
            fprintf(stderr, "bench_stream: unknown or bad option '%s'\n", o);
            bench_usage();
            return 2;
        }
    }
    b.stall_us = stall_ms * 1000;
    b.target_conns = b.idle_mode ? b.streams : (concurrency < b.streams ? concurrency : b.streams);
    b.conns = calloc(BENCH_MAX_CONNS, sizeof(*b.conns));
    b.ttfe = calloc((size_t)b.streams, sizeof(*b.ttfe));
    if (b.conns == NULL || b.ttfe == NULL)
        return 1;
    if (b.idle_mode)
        append(&b.request, idle_request, sizeof(idle_request) - 1);
    else
        bench_build_request(&b, prompt_bytes);
    signal(SIGPIPE, SIG_IGN);
    b.base = event_base_new();
    if (b.base == NULL)
        return 1;
    ev_term = evsignal_new(b.base, SIGTERM, bench_stop_cb, b.base);
    ev_int = evsignal_new(b.base, SIGINT, bench_stop_cb, b.base);
    ev_timeout = evtimer_new(b.base, bench_stop_cb, b.base);
    if (ev_term == NULL || ev_int == NULL || ev_timeout == NULL)
        return 1;
    evsignal_add(ev_term, NULL);
    evsignal_add(ev_int, NULL);
    if (!b.idle_mode) {
        struct timeval tv = {b.timeout_s, 0};
        evtimer_add(ev_timeout, &tv);
    }
    t0 = bench_now_us();
    bench_open_more(&b);
    event_base_dispatch(b.base);
    if (b.idle_mode) {
        if (!b.announced)
            printf("idle ok=%ld failed=%ld\n", b.finished, b.failed);
        rc = 0;
    } else {
        bench_print(&b, (bench_now_us() - t0) / 1e6);
        rc = b.finished == b.streams && b.stalls == 0 ? 0 : 1;
    }
    for (long k = 0; k < b.opened; k++)
        bench_conn_free(&b.conns[k]);
    event_free(ev_term);
    event_free(ev_int);
    event_free(ev_timeout);
    event_base_free(b.base);
    free(b.conns);
    free(b.ttfe);
    free(b.gaps);
    free(b.request.buf);
    return rc;
}

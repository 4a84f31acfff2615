/* OTLP/HTTP exporter: a bounded span queue, batching, and a small HTTP/1.1 client with
 * retries, all I/O on one thread of its own (POSIX sockets and poll, no event library). */
#include "telemetry/export.h"

#include "telemetry/kvlist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "telemetry/log.h"
#include "telemetry/metrics.h"
#include "telemetry/pb.h"

#define NS_PER_MS          1000000ull
#define BODY_MAX           (4u << 20) /* one encoded request; bigger batches are split */
#define SPAN_COPY_MAX      (1u << 20) /* one queued span, strings included */
#define SPAN_ITEMS_MAX     4096       /* attributes, events or array items of one span */
#define LINE_MAX_BYTES     8192       /* one line of a response head */
#define HEAD_LINES_MAX     100        /* header lines of one response */
#define DISCARD_MAX        (1u << 20) /* response body read to keep the connection */
#define BACKOFF_FIRST_MS   500
#define BACKOFF_MAX_MS     5000
#define RETRY_AFTER_MAX_MS 30000
#define IDLE_WAIT_NS       (3600ull * 1000 * NS_PER_MS)

/* One endpoint: where to connect, the fixed part of each request, the kept-alive socket. */
struct exp_target {
    char *host; /* for getaddrinfo: no brackets */
    char port[6];
    char *name; /* "host:port/path" for logs (no query: it may hold a token) */
    char *head; /* request line and fixed headers, up to Content-Length */
    size_t head_len;
    int fd;       /* kept-alive connection, or -1 */
    bool failing; /* the last export gave up (logged once per streak) */
};

/* A queued span: the copy and everything it points to live in this one allocation. */
struct qspan {
    struct tel_span s;
    uint64_t enq_ns; /* monotonic */
};

struct tel_exporter {
    struct exp_target traces;
    struct exp_target mets;
    bool has_traces;
    bool has_metrics;
    void *res_block;
    struct tel_otlp_resource res;
    char *scope_name;
    char *scope_version;
    struct tel_otlp_scope scope;
    uint64_t timeout_ns;
    uint64_t delay_ns;
    uint64_t interval_ns;
    uint64_t max_retry_ns;
    size_t batch_max;
    size_t queue_max;
    const struct tel_metrics *metrics;
    void (*before_metrics)(void *arg);
    void *before_metrics_arg;

    /* The queue: a ring of queue_max pointers under `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    bool sync_ok;
    struct qspan **ring;
    size_t head;
    size_t count;
    bool stopping;
    _Atomic uint64_t stop_at; /* monotonic deadline of the final flush; 0 while running */
    int wake[2];              /* written once by tel_exporter_free to cut a poll short */
    pthread_t thread;
    bool started;

    /* The exporter thread's own. */
    struct qspan **batch;
    struct tel_span *spans;
    struct tel_pbuf body;
    uint64_t rng;

    _Atomic uint64_t queued;
    _Atomic uint64_t spans_sent;
    _Atomic uint64_t spans_dropped;
    _Atomic uint64_t metric_exports;
    _Atomic uint64_t failed;
    _Atomic uint64_t retries;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- deep copies: sizes first, then one allocation filled in order ---- */

struct copy_size {
    size_t attrs;
    size_t ptrs;
    size_t chars;
};

struct copy_at {
    struct tel_attr *attrs;
    const char **ptrs;
    char *chars;
};

static size_t str_size(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static bool attrs_size(const struct tel_attr *a, size_t n, struct copy_size *z)
{
    if (n > SPAN_ITEMS_MAX || (a == NULL && n > 0))
        return false;
    z->attrs += n;
    for (size_t i = 0; i < n; i++) {
        z->chars += str_size(a[i].key);
        switch (a[i].type) {
        case TEL_ATTR_T_STRING:
            if ((a[i].v.str.ptr == NULL && a[i].v.str.len > 0) || a[i].v.str.len > SPAN_COPY_MAX)
                return false;
            z->chars += a[i].v.str.len + 1;
            break;
        case TEL_ATTR_T_BOOL:
        case TEL_ATTR_T_INT:
        case TEL_ATTR_T_DOUBLE:
            break;
        case TEL_ATTR_T_STRING_ARRAY:
            if ((a[i].v.strs.items == NULL && a[i].v.strs.n > 0) || a[i].v.strs.n > SPAN_ITEMS_MAX)
                return false;
            z->ptrs += a[i].v.strs.n;
            for (size_t k = 0; k < a[i].v.strs.n; k++)
                z->chars += str_size(a[i].v.strs.items[k]);
            break;
        default:
            return false;
        }
        if (z->chars > SPAN_COPY_MAX)
            return false;
    }
    return true;
}

static const char *str_put(struct copy_at *c, const char *s, size_t n)
{
    char *d = c->chars;
    if (n > 0)
        memcpy(d, s, n);
    d[n] = '\0';
    c->chars += n + 1;
    return d;
}

static const char *str_copy(struct copy_at *c, const char *s)
{
    return s != NULL ? str_put(c, s, strlen(s)) : NULL;
}

static const struct tel_attr *attrs_copy(struct copy_at *c, const struct tel_attr *a, size_t n)
{
    if (n == 0)
        return NULL;
    struct tel_attr *d = c->attrs;
    c->attrs += n;
    for (size_t i = 0; i < n; i++) {
        d[i] = a[i];
        d[i].key = str_copy(c, a[i].key);
        if (a[i].type == TEL_ATTR_T_STRING) {
            d[i].v.str.ptr = str_put(c, a[i].v.str.ptr, a[i].v.str.len);
        } else if (a[i].type == TEL_ATTR_T_STRING_ARRAY) {
            const char **items = c->ptrs;
            c->ptrs += a[i].v.strs.n;
            for (size_t k = 0; k < a[i].v.strs.n; k++)
                items[k] = str_copy(c, a[i].v.strs.items[k]);
            d[i].v.strs.items = a[i].v.strs.n > 0 ? items : NULL;
        }
    }
    return d;
}

/* Blocks are laid out as [head][events][attrs][string pointers][chars]: every part before
 * the chars has pointer alignment, and each part's size is a multiple of it. */
static struct qspan *span_copy(const struct tel_span *s)
{
    struct copy_size z = {0};
    if (s->n_events > SPAN_ITEMS_MAX || (s->events == NULL && s->n_events > 0) ||
        !attrs_size(s->attrs, s->n_attrs, &z))
        return NULL;
    z.chars += str_size(s->name) + str_size(s->trace_state) + str_size(s->status_message);
    for (size_t i = 0; i < s->n_events; i++) {
        z.chars += str_size(s->events[i].name);
        if (!attrs_size(s->events[i].attrs, s->events[i].n_attrs, &z))
            return NULL;
    }
    size_t fixed = sizeof(struct qspan) + s->n_events * sizeof(struct tel_span_event);
    size_t total = fixed + z.attrs * sizeof(struct tel_attr) + z.ptrs * sizeof(char *) + z.chars;
    if (z.attrs > SPAN_COPY_MAX || z.ptrs > SPAN_COPY_MAX || total > SPAN_COPY_MAX)
        return NULL;
    struct qspan *q = malloc(total);
    if (q == NULL)
        return NULL;
    char *base = (char *)q;
    struct tel_span_event *ev = (struct tel_span_event *)(base + sizeof(struct qspan));
    struct copy_at c;
    c.attrs = (struct tel_attr *)(base + fixed);
    c.ptrs = (const char **)(c.attrs + z.attrs);
    c.chars = (char *)(c.ptrs + z.ptrs);
    q->s = *s;
    q->s.name = str_copy(&c, s->name);
    q->s.trace_state = str_copy(&c, s->trace_state);
    q->s.status_message = str_copy(&c, s->status_message);
    q->s.attrs = attrs_copy(&c, s->attrs, s->n_attrs);
    for (size_t i = 0; i < s->n_events; i++) {
        ev[i] = s->events[i];
        ev[i].name = str_copy(&c, s->events[i].name);
        ev[i].attrs = attrs_copy(&c, s->events[i].attrs, s->events[i].n_attrs);
    }
    q->s.events = s->n_events > 0 ? ev : NULL;
    return q;
}

/* ---- configuration: URL and headers ---- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void trim(const char **p, const char **end)
{
    while (*p < *end && is_blank(**p))
        (*p)++;
    while (*end > *p && is_blank((*end)[-1]))
        (*end)--;
}

/* Header names the exporter writes itself: a configured one would break the framing. */
static bool reserved_header(const char *k, size_t n)
{
    static const char *const names[] = {
        "host", "content-length", "content-type", "transfer-encoding", "connection",
        "te",   "upgrade",        "expect"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && strncasecmp(k, names[i], n) == 0)
            return true;
    }
    return false;
}

/* OTEL_EXPORTER_OTLP_HEADERS ("k=v,k2=v2", read by tel_kv_next) into "Name: value\r\n"
 * lines. Values never appear in err. */
static int headers_parse(const char *s, char **out, bool *has_ua, char *err, size_t errlen)
{
    int rc = -EINVAL, r;
    size_t len = strlen(s), n = 0;
    /* "k=v," (at least 2 bytes per entry) becomes "k: v\r\n": 3 more bytes per entry. */
    char *o = malloc(3 * len + 8), *val = malloc(len + 1);
    const char *p = s, *why = "";
    struct tel_kv kv = {0};
    if (o == NULL || val == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while ((r = tel_kv_next(&p, s + len, &kv, val, len + 1, &why)) > 0) {
        const char *k = kv.key, *ke = kv.key + kv.key_len;
        for (const char *c = k; c < ke; c++) {
            if (!is_tchar((unsigned char)*c)) {
                set_err(err, errlen,
                        "OTLP headers: entry %zu: the name has a character not allowed in an "
                        "HTTP header name",
                        kv.entry);
                goto out;
            }
        }
        if (reserved_header(k, kv.key_len)) {
            set_err(err, errlen,
                    "OTLP headers: %.*s is set by the exporter and cannot be configured",
                    (int)kv.key_len, k);
            goto out;
        }
        if (kv.key_len == 10 && strncasecmp(k, "user-agent", 10) == 0)
            *has_ua = true;
        for (size_t i = 0; i < kv.value_len; i++) {
            unsigned char b = (unsigned char)val[i];
            if ((b < 0x20 && b != '\t') || b == 0x7f) {
                set_err(err, errlen, "OTLP headers: the value of %.*s has a control character",
                        (int)kv.key_len, k);
                goto out;
            }
        }
        memcpy(o + n, k, kv.key_len);
        n += kv.key_len;
        memcpy(o + n, ": ", 2);
        n += 2;
        memcpy(o + n, val, kv.value_len);
        n += kv.value_len;
        memcpy(o + n, "\r\n", 2);
        n += 2;
    }
    if (r < 0) {
        set_err(err, errlen, "OTLP headers: entry %zu %s (expected key=value,...)", kv.entry, why);
        goto out;
    }
    o[n] = '\0';
    *out = o;
    o = NULL;
    rc = 0;
out:
    free(val);
    free(o);
    return rc;
}

static void target_deinit(struct exp_target *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    free(t->host);
    free(t->name);
    free(t->head);
}

/* http://host[:port][/path] (host: a name, IPv4, or [IPv6]). */
static int target_init(struct exp_target *t, const char *what, const char *url, const char *hdrs,
                       bool has_ua, char *err, size_t errlen)
{
    int rc = -EINVAL;
    if (strncasecmp(url, "https://", 8) == 0) {
        set_err(err, errlen,
                "OTLP %s: https is not supported by the exporter (plain http:// only); send to a "
                "local OpenTelemetry Collector over http:// and let it forward with TLS",
                what);
        goto out;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        set_err(err, errlen, "OTLP %s: expected http://host[:port]/path", what);
        goto out;
    }
    for (const char *c = url; *c; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            set_err(err, errlen, "OTLP %s: spaces and control characters are not allowed", what);
            goto out;
        }
    }
    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *path = auth + alen;
    if (memchr(auth, '@', alen) != NULL) {
        set_err(err, errlen, "OTLP %s: credentials in the URL are not supported (use headers)",
                what);
        goto out;
    }
    if (strchr(path, '#') != NULL) {
        set_err(err, errlen, "OTLP %s: a URL fragment ('#') is not allowed", what);
        goto out;
    }
    const char *host = auth, *host_end, *port = NULL;
    if (alen > 0 && auth[0] == '[') {
        const char *close_b = memchr(auth, ']', alen);
        if (close_b == NULL || close_b == auth + 1) {
            set_err(err, errlen, "OTLP %s: bad [IPv6] address", what);
            goto out;
        }
        host = auth + 1;
        host_end = close_b;
        if (close_b + 1 < auth + alen) {
            if (close_b[1] != ':') {
                set_err(err, errlen, "OTLP %s: bad [IPv6] address", what);
                goto out;
            }
            port = close_b + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        host_end = colon != NULL ? colon : auth + alen;
        port = colon != NULL ? colon + 1 : NULL;
    }
    if (host_end == host || host_end - host > 255) {
        set_err(err, errlen, "OTLP %s: missing or too long host", what);
        goto out;
    }
    unsigned long pv = 80;
    if (port != NULL) {
        size_t pl = (size_t)(auth + alen - port);
        pv = 0;
        for (size_t i = 0; i < pl; i++)
            pv = (port[i] >= '0' && port[i] <= '9' && pv <= 65535)
                     ? pv * 10 + (unsigned)(port[i] - '0')
                     : 100000;
        if (pl == 0 || pv == 0 || pv > 65535) {
            set_err(err, errlen, "OTLP %s: bad port", what);
            goto out;
        }
    }
    snprintf(t->port, sizeof(t->port), "%lu", pv);
    rc = -ENOMEM;
    size_t hl = (size_t)(host_end - host);
    if ((t->host = malloc(hl + 1)) == NULL)
        goto out;
    memcpy(t->host, host, hl);
    t->host[hl] = '\0';
    const char *slash = path[0] == '/' ? "" : "/";
    size_t plen = strcspn(path, "?");
    size_t nl = alen + strlen(path) + 4;
    if ((t->name = malloc(nl)) == NULL)
        goto out;
    snprintf(t->name, nl, "%.*s%s%.*s", (int)alen, auth, slash, (int)plen, path);
    static const char fmt[] = "POST %s%s HTTP/1.1\r\nHost: %.*s\r\n%sContent-Type: "
                              "application/x-protobuf\r\n%s";
    const char *ua = has_ua ? "" : "User-Agent: warden\r\n";
    int need = snprintf(NULL, 0, fmt, slash, path, (int)alen, auth, ua, hdrs);
    if (need < 0 || (t->head = malloc((size_t)need + 1)) == NULL)
        goto out;
    snprintf(t->head, (size_t)need + 1, fmt, slash, path, (int)alen, auth, ua, hdrs);
    t->head_len = (size_t)need;
    rc = 0;
out:
    return rc;
}

/* ---- waiting ---- */

static void cond_wait_until(struct tel_exporter *e, uint64_t t)
{
    struct timespec ts = {.tv_sec = (time_t)(t / 1000000000u), .tv_nsec = (long)(t % 1000000000u)};
    pthread_cond_timedwait(&e->cond, &e->lock, &ts);
}

/* The earlier of `deadline` and the final flush's deadline. */
static uint64_t bounded(struct tel_exporter *e, uint64_t deadline)
{
    uint64_t stop = atomic_load_explicit(&e->stop_at, memory_order_acquire);
    return stop != 0 && stop < deadline ? stop : deadline;
}

/* Sleep until t unless that passes give_up_at (or the final flush's deadline): then false.
 * During the final flush, a collector that could not be reached is not waited for
 * (`unreachable`): a collector that is down must not hold up the process's exit. */
static bool sleep_until(struct tel_exporter *e, uint64_t t, uint64_t give_up_at, bool unreachable)
{
    bool go = true;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        if (t > bounded(e, give_up_at) || (unreachable && e->stopping)) {
            go = false;
            break;
        }
        if (mono_ns() >= t)
            break;
        cond_wait_until(e, t);
    }
    pthread_mutex_unlock(&e->lock);
    return go;
}

/* Wait for `events` on fd until the deadline; tel_exporter_free cuts it short. */
static int wait_fd(struct tel_exporter *e, int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = mono_ns(), until = bounded(e, deadline);
        if (now >= until)
            return -ETIMEDOUT;
        uint64_t ms = (until - now + NS_PER_MS - 1) / NS_PER_MS;
        struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = e->wake[0], .events = POLLIN}};
        int n = poll(p, 2, ms > INT_MAX ? INT_MAX : (int)ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0 && p[1].revents != 0) {
            char buf[16];
            while (read(e->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        if (n > 0 && p[0].revents != 0)
            return 0;
    }
}

/* ---- HTTP/1.1 client ---- */

static int conn_open(struct tel_exporter *e, struct exp_target *t, uint64_t deadline)
{
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = -EHOSTUNREACH;
    if (getaddrinfo(t->host, t->port, &hints, &res) != 0 || res == NULL)
        goto out;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            rc = errno == EINPROGRESS ? wait_fd(e, fd, POLLOUT, deadline) : -errno;
            if (rc == 0) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
                    soerr = errno;
                rc = -soerr;
            }
            if (rc != 0) {
                close(fd);
                if (rc == -ETIMEDOUT)
                    break;
                continue;
            }
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        t->fd = fd;
        rc = 0;
        break;
    }
out:
    if (res != NULL)
        freeaddrinfo(res);
    return rc;
}

static int send_all(struct tel_exporter *e, int fd, struct iovec *iov, int iovcnt,
                    uint64_t deadline)
{
    while (iovcnt > 0) {
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                return -errno;
            int rc = wait_fd(e, fd, POLLOUT, deadline);
            if (rc != 0)
                return rc;
            continue;
        }
        size_t left = (size_t)n;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

/* Buffered reads of one response with a deadline. */
struct reader {
    struct tel_exporter *e;
    int fd;
    uint64_t deadline;
    bool got; /* any byte of the response arrived */
    size_t pos;
    size_t len;
    char buf[4096];
};

/* 0: bytes in the buffer, 1: end of stream, < 0: error. */
static int rd_fill(struct reader *r)
{
    while (r->pos == r->len) {
        int rc = wait_fd(r->e, r->fd, POLLIN, r->deadline);
        if (rc != 0)
            return rc;
        ssize_t n = recv(r->fd, r->buf, sizeof(r->buf), 0);
        if (n == 0)
            return 1;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            return -errno;
        }
        r->pos = 0;
        r->len = (size_t)n;
        r->got = true;
    }
    return 0;
}

/* One line without its CR LF, NUL-terminated in line[0..cap). */
static int rd_line(struct reader *r, char *line, size_t cap, size_t *len)
{
    size_t k = 0;
    for (;;) {
        int rc = rd_fill(r);
        if (rc != 0)
            return rc > 0 ? -ECONNRESET : rc;
        char c = r->buf[r->pos++];
        if (c == '\n')
            break;
        if (k + 1 >= cap)
            return -EPROTO;
        line[k++] = c;
    }
    if (k > 0 && line[k - 1] == '\r')
        k--;
    line[k] = '\0';
    *len = k;
    return 0;
}

static int rd_skip(struct reader *r, uint64_t n)
{
    while (n > 0) {
        int rc = rd_fill(r);
        if (rc != 0)
            return rc > 0 ? -ECONNRESET : rc;
        size_t take = r->len - r->pos < n ? r->len - r->pos : (size_t)n;
        r->pos += take;
        n -= take;
    }
    return 0;
}

static int rd_until_eof(struct reader *r)
{
    uint64_t total = 0;
    for (;;) {
        int rc = rd_fill(r);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
        total += r->len - r->pos;
        r->pos = r->len;
        if (total > DISCARD_MAX)
            return -E2BIG;
    }
}

static int rd_chunked(struct reader *r, char *line)
{
    uint64_t total = 0;
    size_t n;
    for (;;) {
        int rc = rd_line(r, line, LINE_MAX_BYTES, &n);
        if (rc != 0)
            return rc;
        uint64_t size = 0;
        size_t i = 0;
        for (; i < n && hex_val(line[i]) >= 0; i++) {
            if (i >= 15)
                return -EPROTO;
            size = size * 16 + (uint64_t)hex_val(line[i]);
        }
        if (i == 0 || (i < n && line[i] != ';' && !is_blank(line[i])))
            return -EPROTO;
        if (size == 0)
            break;
        total += size;
        if (total > DISCARD_MAX)
            return -E2BIG;
        if ((rc = rd_skip(r, size)) != 0 || (rc = rd_line(r, line, LINE_MAX_BYTES, &n)) != 0)
            return rc;
        if (n != 0)
            return -EPROTO;
    }
    for (size_t k = 0; k < HEAD_LINES_MAX; k++) { /* trailer fields, then an empty line */
        int rc = rd_line(r, line, LINE_MAX_BYTES, &n);
        if (rc != 0 || n == 0)
            return rc;
    }
    return -EPROTO;
}

/* Whether a comma-separated header value holds `token` (case-insensitive). */
static bool has_token(const char *v, const char *token)
{
    size_t tl = strlen(token);
    while (*v) {
        size_t n = strcspn(v, ",");
        const char *a = v, *b = v + n;
        trim(&a, &b);
        if ((size_t)(b - a) == tl && strncasecmp(a, token, tl) == 0)
            return true;
        v += n;
        if (*v == ',')
            v++;
    }
    return false;
}

/* Whether the last transfer coding is chunked. */
static bool last_chunked(const char *v)
{
    const char *last = strrchr(v, ',');
    return has_token(last != NULL ? last + 1 : v, "chunked");
}

/* Digits only, at most 18 of them; -1 otherwise. */
static int64_t parse_digits(const char *v)
{
    int64_t x = 0;
    size_t i = 0;
    for (; v[i] >= '0' && v[i] <= '9'; i++) {
        if (i >= 18)
            return -1;
        x = x * 10 + (v[i] - '0');
    }
    return i > 0 && v[i] == '\0' ? x : -1;
}

struct response {
    int status;
    int64_t retry_after_s; /* -1: none */
    bool keep;             /* the connection may carry the next request */
};

static int response_read(struct reader *r, struct response *resp)
{
    char line[LINE_MAX_BYTES];
    size_t n;
    int rc;
    bool http11, chunked, close_conn;
    int64_t clen;
    for (int interim = 0;; interim++) {
        if ((rc = rd_line(r, line, sizeof(line), &n)) != 0)
            return rc;
        if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
            line[8] != ' ' || line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
            line[11] < '0' || line[11] > '9' || (n > 12 && line[12] != ' '))
            return -EPROTO;
        http11 = line[7] == '1';
        resp->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
        resp->retry_after_s = -1;
        chunked = false;
        close_conn = !http11;
        clen = -1;
        size_t k = 0;
        for (;; k++) {
            if (k >= HEAD_LINES_MAX)
                return -EPROTO;
            if ((rc = rd_line(r, line, sizeof(line), &n)) != 0)
                return rc;
            if (n == 0)
                break;
            char *colon = memchr(line, ':', n);
            if (colon == NULL || colon == line)
                return -EPROTO;
            const char *name = line, *name_end = colon, *v = colon + 1, *ve = line + n;
            trim(&name, &name_end);
            trim(&v, &ve);
            *(char *)ve = '\0';
            size_t nl = (size_t)(name_end - name);
#define IS(h) (nl == sizeof(h) - 1 && strncasecmp(name, h, nl) == 0)
            if (IS("content-length")) {
                int64_t x = parse_digits(v);
                if (x < 0 || (clen >= 0 && clen != x))
                    return -EPROTO;
                clen = x;
            } else if (IS("transfer-encoding")) {
                chunked = last_chunked(v);
                close_conn |= !chunked; /* a body framed by the end of the connection */
            } else if (IS("connection")) {
                close_conn |= has_token(v, "close");
            } else if (IS("retry-after")) {
                resp->retry_after_s = parse_digits(v); /* an HTTP date is ignored */
            }
#undef IS
        }
        if (resp->status >= 200)
            break;
        if (resp->status == 101 || interim >= 4)
            return -EPROTO;
    }
    /* The status is known: a failure below only costs the connection. */
    resp->keep = !close_conn;
    if (resp->status == 204 || resp->status == 304)
        rc = 0;
    else if (chunked)
        rc = rd_chunked(r, line);
    else if (clen >= 0 && clen <= DISCARD_MAX)
        rc = rd_skip(r, (uint64_t)clen);
    else if (clen > DISCARD_MAX)
        rc = -E2BIG;
    else
        rc = rd_until_eof(r) == 0 ? 1 : -EPROTO; /* never kept */
    if (rc != 0 || r->pos != r->len)
        resp->keep = false;
    return 0;
}

/* A kept-alive connection is usable if the server has neither closed it nor sent anything. */
static bool conn_idle(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 0;
}

static void conn_close(struct exp_target *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

/* One POST, connect to last byte before `deadline`. 0 with resp filled, or a negative errno
 * (transport failure). A kept-alive connection that the server closed in the meantime is
 * replaced once, at no cost to the retry budget. */
static int http_post(struct tel_exporter *e, struct exp_target *t, const uint8_t *body, size_t len,
                     uint64_t deadline, struct response *resp)
{
    int rc = 0;
    char clen[64];
    int cl = snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n\r\n", len);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (t->fd >= 0 && !conn_idle(t->fd))
            conn_close(t);
        bool reused = t->fd >= 0;
        if (!reused && (rc = conn_open(e, t, deadline)) != 0)
            break;
        struct iovec iov[3] = {{t->head, t->head_len}, {clen, (size_t)cl}, {(void *)body, len}};
        struct reader r = {.e = e, .fd = t->fd, .deadline = deadline};
        rc = send_all(e, t->fd, iov, 3, deadline);
        if (rc == 0)
            rc = response_read(&r, resp);
        bool got = r.got;
        if (rc == 0) {
            if (!resp->keep)
                conn_close(t);
            break;
        }
        conn_close(t);
        if (!reused || got || rc == -ETIMEDOUT)
            break;
    }
    return rc;
}

static const char *err_name(int rc)
{
    switch (-rc) {
    case ETIMEDOUT:
        return "timeout";
    case ECONNREFUSED:
        return "connection refused";
    case EHOSTUNREACH:
        return "host unreachable or name not resolved";
    case ECONNRESET:
    case EPIPE:
        return "connection closed";
    case EPROTO:
        return "malformed HTTP response";
    case ENOMEM:
        return "out of memory";
    default:
        return "network error";
    }
}

static bool retryable(int status)
{
    return status == 429 || status == 502 || status == 503 || status == 504;
}

static uint64_t rand_below(struct tel_exporter *e, uint64_t n)
{
    e->rng ^= e->rng << 13; /* xorshift64 */
    e->rng ^= e->rng >> 7;
    e->rng ^= e->rng << 17;
    return n > 0 ? e->rng % n : 0;
}

/* POST with retries (429, 502-504, transport failures): exponential backoff with jitter, or
 * the server's Retry-After, until max_retry_ms. True when the collector accepted the body. */
static bool post(struct tel_exporter *e, struct exp_target *t, const uint8_t *body, size_t len)
{
    uint64_t give_up_at = mono_ns() + e->max_retry_ns;
    uint64_t backoff = BACKOFF_FIRST_MS * NS_PER_MS;
    struct response resp = {0};
    int rc;
    bool ok = false;
    for (;;) {
        resp = (struct response){.retry_after_s = -1};
        rc = http_post(e, t, body, len, mono_ns() + e->timeout_ns, &resp);
        if (rc == 0 && resp.status >= 200 && resp.status < 300) {
            ok = true;
            break;
        }
        if (rc == 0 && !retryable(resp.status))
            break;
        uint64_t wait = backoff / 2 + rand_below(e, backoff / 2 + 1);
        if (rc == 0 && resp.retry_after_s >= 0)
            wait = (resp.retry_after_s < RETRY_AFTER_MAX_MS / 1000 ? (uint64_t)resp.retry_after_s
                                                                   : RETRY_AFTER_MAX_MS / 1000) *
                   1000 * NS_PER_MS;
        backoff =
            backoff * 2 < BACKOFF_MAX_MS * NS_PER_MS ? backoff * 2 : BACKOFF_MAX_MS * NS_PER_MS;
        if (!sleep_until(e, mono_ns() + wait, give_up_at, rc != 0))
            break;
        stat_add(&e->retries, 1);
    }
    if (!ok && !t->failing)
        tel_log(TEL_LOG_WARN, "otlp_export_failed", TEL_STR("endpoint", t->name),
                TEL_INT("status", rc == 0 ? resp.status : 0),
                TEL_STR("error", rc == 0 ? "HTTP status" : err_name(rc)));
    else if (ok && t->failing)
        tel_log(TEL_LOG_INFO, "otlp_export_recovered", TEL_STR("endpoint", t->name));
    t->failing = !ok;
    return ok;
}

/* ---- spans ---- */

static void export_spans(struct tel_exporter *e, const struct tel_span *spans, size_t n)
{
    int rc = tel_otlp_traces_encode(&e->res, &e->scope, spans, n, &e->body);
    if (rc == -E2BIG && n > 1) {
        export_spans(e, spans, n / 2);
        export_spans(e, spans + n / 2, n - n / 2);
        return;
    }
    if (rc == 0 && post(e, &e->traces, e->body.data, e->body.len)) {
        stat_add(&e->spans_sent, n);
    } else {
        stat_add(&e->spans_dropped, n);
        stat_add(&e->failed, 1);
    }
}

/* Move up to batch_max spans from the queue to e->batch. Called with the lock held. */
static size_t batch_take(struct tel_exporter *e)
{
    size_t n = e->count < e->batch_max ? e->count : e->batch_max;
    for (size_t i = 0; i < n; i++) {
        e->batch[i] = e->ring[e->head];
        e->head = e->head + 1 == e->queue_max ? 0 : e->head + 1;
    }
    e->count -= n;
    atomic_store_explicit(&e->queued, e->count, memory_order_relaxed);
    return n;
}

static void batch_export(struct tel_exporter *e, size_t n, bool send)
{
    for (size_t i = 0; i < n; i++)
        e->spans[i] = e->batch[i]->s;
    if (send)
        export_spans(e, e->spans, n);
    else
        stat_add(&e->spans_dropped, n);
    for (size_t i = 0; i < n; i++)
        free(e->batch[i]);
}

int tel_exporter_span(struct tel_exporter *e, const struct tel_span *s)
{
    if (e == NULL || s == NULL || !e->has_traces)
        return 1;
    /* Full already: drop before paying for the copy. */
    if (atomic_load_explicit(&e->queued, memory_order_relaxed) >= e->queue_max) {
        stat_add(&e->spans_dropped, 1);
        return 1;
    }
    struct qspan *q = span_copy(s);
    if (q == NULL) {
        stat_add(&e->spans_dropped, 1);
        return 1;
    }
    q->enq_ns = mono_ns();
    bool queued = false, wake = false;
    pthread_mutex_lock(&e->lock);
    if (e->count < e->queue_max) {
        size_t at = e->head + e->count;
        e->ring[at >= e->queue_max ? at - e->queue_max : at] = q;
        e->count++;
        atomic_store_explicit(&e->queued, e->count, memory_order_relaxed);
        /* The thread waits for the first span (to start the delay) or for a full batch. */
        wake = e->count == 1 || e->count == e->batch_max;
        queued = true;
    }
    pthread_mutex_unlock(&e->lock);
    if (wake)
        pthread_cond_signal(&e->cond);
    if (!queued) {
        free(q);
        stat_add(&e->spans_dropped, 1);
    }
    return queued ? 0 : 1;
}

/* ---- metrics ---- */

/* Two visits: the first counts, the second fills arrays of that size (series made in
 * between are left for the next export). */
struct mbuild {
    bool fill;
    bool skip;
    size_t n_labels;
    uint64_t start_ns;
    uint64_t now_ns;
    struct tel_otlp_metric *m;
    size_t nm, cap_m;
    struct tel_otlp_number_point *np;
    size_t nnp, cap_np;
    struct tel_otlp_histogram_point *hp;
    size_t nhp, cap_hp;
    struct tel_attr *attrs;
    size_t na, cap_a;
    uint64_t *buckets;
    size_t nb, cap_b;
};

static void mb_family(void *arg, const struct tel_metric_desc *d, size_t n_labels)
{
    struct mbuild *b = arg;
    b->n_labels = n_labels < TEL_METRIC_LABELS ? n_labels : TEL_METRIC_LABELS;
    if (!b->fill) {
        b->cap_m++;
        return;
    }
    b->skip = b->nm == b->cap_m;
    if (b->skip)
        return;
    struct tel_otlp_metric *m = &b->m[b->nm++];
    *m = (struct tel_otlp_metric){.name = d->name, .description = d->help, .unit = d->unit};
    switch (d->kind) {
    case TEL_METRIC_COUNTER:
        m->type = TEL_OTLP_SUM;
        m->monotonic = true;
        m->points = b->np + b->nnp;
        break;
    case TEL_METRIC_GAUGE:
        m->type = TEL_OTLP_GAUGE;
        m->points = b->np + b->nnp;
        break;
    default:
        m->type = TEL_OTLP_HISTOGRAM;
        m->hist_points = b->hp + b->nhp;
        break;
    }
}

static void mb_point(void *arg, const struct tel_metric_desc *d, const struct tel_metric_point *p)
{
    struct mbuild *b = arg;
    bool hist = d->kind == TEL_METRIC_HISTOGRAM;
    size_t nbk = hist ? d->n_bounds + 1 : 0;
    if (!b->fill) {
        b->cap_a += b->n_labels;
        b->cap_b += nbk;
        if (hist)
            b->cap_hp++;
        else
            b->cap_np++;
        return;
    }
    if (b->skip || b->na + b->n_labels > b->cap_a || b->nb + nbk > b->cap_b ||
        (hist ? b->nhp == b->cap_hp : b->nnp == b->cap_np))
        return;
    struct tel_attr *a = b->attrs + b->na;
    for (size_t i = 0; i < b->n_labels; i++)
        a[i] = tel_attr_str(d->labels[i], p->values[i]);
    b->na += b->n_labels;
    if (hist) {
        uint64_t *bk = b->buckets + b->nb;
        memcpy(bk, p->buckets, nbk * sizeof(*bk));
        b->nb += nbk;
        b->hp[b->nhp++] = (struct tel_otlp_histogram_point){
            .attrs = a,
            .n_attrs = b->n_labels,
            .start_time_unix_nano = b->start_ns,
            .time_unix_nano = b->now_ns,
            .count = p->count,
            .sum = p->sum,
            .bucket_counts = bk,
            .n_buckets = nbk,
            .bounds = d->bounds,
            .n_bounds = d->n_bounds,
        };
    } else {
        b->np[b->nnp++] = (struct tel_otlp_number_point){
            .attrs = a,
            .n_attrs = b->n_labels,
            .start_time_unix_nano = d->kind == TEL_METRIC_COUNTER ? b->start_ns : 0,
            .time_unix_nano = b->now_ns,
            .is_double = true,
            .v.d = p->value,
        };
    }
    b->m[b->nm - 1].n_points++;
}

static void export_metric_list(struct tel_exporter *e, const struct tel_otlp_metric *m, size_t n)
{
    int rc = tel_otlp_metrics_encode(&e->res, &e->scope, m, n, &e->body);
    if (rc == -E2BIG && n > 1) {
        export_metric_list(e, m, n / 2);
        export_metric_list(e, m + n / 2, n - n / 2);
        return;
    }
    if (rc == -E2BIG && m->n_points > 1) { /* one metric with too many series */
        size_t h = m->n_points / 2;
        struct tel_otlp_metric part[2] = {*m, *m};
        part[0].n_points = h;
        part[1].n_points = m->n_points - h;
        if (m->type == TEL_OTLP_HISTOGRAM)
            part[1].hist_points += h;
        else
            part[1].points += h;
        export_metric_list(e, &part[0], 1);
        export_metric_list(e, &part[1], 1);
        return;
    }
    if (rc == 0 && post(e, &e->mets, e->body.data, e->body.len))
        stat_add(&e->metric_exports, 1);
    else
        stat_add(&e->failed, 1);
}

static void metrics_export(struct tel_exporter *e)
{
    if (e->before_metrics != NULL)
        e->before_metrics(e->before_metrics_arg);
    struct mbuild b = {.start_ns = tel_metrics_start_ns(e->metrics), .now_ns = real_ns()};
    struct tel_metrics_visitor v = {.arg = &b, .family = mb_family, .point = mb_point};
    tel_metrics_visit(e->metrics, &v);
    b.fill = true;
    b.m = calloc(b.cap_m + 1, sizeof(*b.m));
    b.np = calloc(b.cap_np + 1, sizeof(*b.np));
    b.hp = calloc(b.cap_hp + 1, sizeof(*b.hp));
    b.attrs = calloc(b.cap_a + 1, sizeof(*b.attrs));
    b.buckets = calloc(b.cap_b + 1, sizeof(*b.buckets));
    if (b.m == NULL || b.np == NULL || b.hp == NULL || b.attrs == NULL || b.buckets == NULL) {
        stat_add(&e->failed, 1);
        goto out;
    }
    tel_metrics_visit(e->metrics, &v);
    size_t n = 0;
    for (size_t i = 0; i < b.nm; i++) { /* families without series are left out */
        if (b.m[i].n_points > 0)
            b.m[n++] = b.m[i];
    }
    if (n > 0)
        export_metric_list(e, b.m, n);
out:
    free(b.m);
    free(b.np);
    free(b.hp);
    free(b.attrs);
    free(b.buckets);
}

/* ---- the thread ---- */

static void *exporter_main(void *arg)
{
    struct tel_exporter *e = arg;
    uint64_t next_metrics = mono_ns() + e->interval_ns;
    pthread_mutex_lock(&e->lock);
    while (!e->stopping) {
        uint64_t now = mono_ns();
        if (e->has_metrics && now >= next_metrics) {
            pthread_mutex_unlock(&e->lock);
            metrics_export(e);
            now = mono_ns();
            next_metrics += e->interval_ns;
            if (next_metrics <= now) /* an export that took longer than the interval */
                next_metrics = now + e->interval_ns;
            pthread_mutex_lock(&e->lock);
            continue;
        }
        uint64_t due = e->count > 0 ? e->ring[e->head]->enq_ns + e->delay_ns : UINT64_MAX;
        if (e->count >= e->batch_max || now >= due) {
            size_t n = batch_take(e);
            pthread_mutex_unlock(&e->lock);
            batch_export(e, n, true);
            pthread_mutex_lock(&e->lock);
            continue;
        }
        uint64_t until = e->has_metrics ? next_metrics : now + IDLE_WAIT_NS;
        cond_wait_until(e, due < until ? due : until);
    }
    /* Final flush: what is queued, then one metrics export, before stop_at. */
    for (;;) {
        size_t n = batch_take(e);
        pthread_mutex_unlock(&e->lock);
        if (n == 0)
            break;
        batch_export(e, n, mono_ns() < bounded(e, UINT64_MAX));
        pthread_mutex_lock(&e->lock);
    }
    if (e->has_metrics && mono_ns() < bounded(e, UINT64_MAX))
        metrics_export(e);
    return NULL;
}

/* ---- life cycle ---- */

static void exporter_destroy(struct tel_exporter *e)
{
    if (e->ring != NULL) {
        for (size_t i = 0; i < e->count; i++)
            free(e->ring[(e->head + i) % e->queue_max]);
    }
    if (e->sync_ok) {
        pthread_cond_destroy(&e->cond);
        pthread_mutex_destroy(&e->lock);
    }
    for (int i = 0; i < 2; i++) {
        if (e->wake[i] >= 0)
            close(e->wake[i]);
    }
    target_deinit(&e->traces);
    target_deinit(&e->mets);
    free(e->res_block);
    free(e->scope_name);
    free(e->scope_version);
    free(e->ring);
    free(e->batch);
    free(e->spans);
    tel_pbuf_deinit(&e->body);
    free(e);
}

static char *dup_opt(const char *s, bool *ok)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    else
        *ok = false;
    return d;
}

static uint64_t ms_or(unsigned v, unsigned dflt)
{
    return (uint64_t)(v != 0 ? v : dflt) * NS_PER_MS;
}

int tel_exporter_new(const struct tel_export_config *cfg, struct tel_exporter **out, char *err,
                     size_t errlen)
{
    int rc = -EINVAL;
    char *hdrs = NULL;
    bool has_ua = false;
    struct tel_exporter *e = NULL;
    *out = NULL;
    set_err(err, errlen, "%s", "");
    if (cfg == NULL) {
        set_err(err, errlen, "OTLP exporter: no configuration");
        goto out;
    }
    rc = -ENOMEM;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        goto out;
    e->traces.fd = e->mets.fd = e->wake[0] = e->wake[1] = -1;
    tel_pbuf_init(&e->body, BODY_MAX);
    if ((rc = headers_parse(cfg->headers != NULL ? cfg->headers : "", &hdrs, &has_ua, err,
                            errlen)) != 0)
        goto out;
    if (cfg->traces_url != NULL) {
        rc = target_init(&e->traces, "traces endpoint", cfg->traces_url, hdrs, has_ua, err, errlen);
        if (rc != 0)
            goto out;
        e->has_traces = true;
    }
    if (cfg->metrics_url != NULL) {
        rc = target_init(&e->mets, "metrics endpoint", cfg->metrics_url, hdrs, has_ua, err, errlen);
        if (rc != 0)
            goto out;
        e->has_metrics = cfg->metrics != NULL;
    }
    /* The resource: one block, laid out as a span's attributes are. */
    struct copy_size z = {0};
    rc = -EINVAL;
    if (!attrs_size(cfg->resource, cfg->n_resource, &z)) {
        set_err(err, errlen, "OTLP exporter: malformed resource attributes");
        goto out;
    }
    rc = -ENOMEM;
    if ((e->res_block = malloc(z.attrs * sizeof(struct tel_attr) + z.ptrs * sizeof(char *) +
                               z.chars + 1)) == NULL)
        goto out;
    struct copy_at c = {.attrs = e->res_block};
    c.ptrs = (const char **)(c.attrs + z.attrs);
    c.chars = (char *)(c.ptrs + z.ptrs);
    e->res.attrs = attrs_copy(&c, cfg->resource, cfg->n_resource);
    e->res.n_attrs = cfg->n_resource;
    bool ok = true;
    e->scope_name = dup_opt(cfg->scope_name, &ok);
    e->scope_version = dup_opt(cfg->scope_version, &ok);
    if (!ok)
        goto out;
    e->scope = (struct tel_otlp_scope){e->scope_name, e->scope_version};

    e->timeout_ns = ms_or(cfg->timeout_ms, 10000);
    e->delay_ns = ms_or(cfg->delay_ms, 5000);
    e->interval_ns = ms_or(cfg->metric_interval_ms, 60000);
    e->max_retry_ns = ms_or(cfg->max_retry_ms, 30000);
    e->queue_max = cfg->queue_max != 0 ? cfg->queue_max : 2048;
    e->batch_max = cfg->batch_max != 0 ? cfg->batch_max : 512;
    if (e->batch_max > e->queue_max) /* a batch can never hold more than the queue */
        e->batch_max = e->queue_max;
    e->metrics = cfg->metrics;
    e->before_metrics = cfg->before_metrics;
    e->before_metrics_arg = cfg->before_metrics_arg;
    e->rng = (mono_ns() ^ (uint64_t)(uintptr_t)e ^ ((uint64_t)getpid() << 32)) | 1;
    if ((e->ring = calloc(e->queue_max, sizeof(*e->ring))) == NULL ||
        (e->batch = calloc(e->batch_max, sizeof(*e->batch))) == NULL ||
        (e->spans = calloc(e->batch_max, sizeof(*e->spans))) == NULL)
        goto out;

    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        goto out;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_cond_init(&e->cond, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        goto out;
    }
    pthread_condattr_destroy(&ca);
    if (pthread_mutex_init(&e->lock, NULL) != 0) {
        pthread_cond_destroy(&e->cond);
        goto out;
    }
    e->sync_ok = true;
    if (pipe2(e->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        rc = -errno;
        set_err(err, errlen, "OTLP exporter: pipe: %s", err_name(rc));
        goto out;
    }
    /* Published before the thread starts, so before_metrics may read *out from it. */
    *out = e;
    /* The thread takes no signals: they belong to the event loops. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&e->thread, NULL, exporter_main, e);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        *out = NULL;
        rc = -prc;
        set_err(err, errlen, "OTLP exporter: cannot start its thread");
        goto out;
    }
    e->started = true;
    rc = 0;
out:
    free(hdrs);
    if (rc != 0) {
        if (rc == -ENOMEM && err != NULL && errlen > 0 && err[0] == '\0')
            set_err(err, errlen, "OTLP exporter: out of memory");
        if (e != NULL)
            exporter_destroy(e);
    }
    return rc;
}

void tel_exporter_free(struct tel_exporter *e)
{
    if (e == NULL)
        return;
    if (e->started) {
        pthread_mutex_lock(&e->lock);
        e->stopping = true;
        atomic_store_explicit(&e->stop_at, mono_ns() + e->timeout_ns, memory_order_release);
        pthread_cond_broadcast(&e->cond);
        pthread_mutex_unlock(&e->lock);
        ssize_t w = write(e->wake[1], "x", 1); /* cut a poll short */
        (void)w;
        pthread_join(e->thread, NULL);
    }
    exporter_destroy(e);
}

void tel_exporter_stats(const struct tel_exporter *e, struct tel_export_stats *st)
{
    *st = (struct tel_export_stats){0};
    if (e == NULL)
        return;
    st->queued = atomic_load_explicit(&e->queued, memory_order_relaxed);
    st->spans_sent = atomic_load_explicit(&e->spans_sent, memory_order_relaxed);
    st->spans_dropped = atomic_load_explicit(&e->spans_dropped, memory_order_relaxed);
    st->metric_exports = atomic_load_explicit(&e->metric_exports, memory_order_relaxed);
    st->failed = atomic_load_explicit(&e->failed, memory_order_relaxed);
    st->retries = atomic_load_explicit(&e->retries, memory_order_relaxed);
}

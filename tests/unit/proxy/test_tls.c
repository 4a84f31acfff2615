/* TLS glue against TLS servers on loopback: handshake, data, verification, resumption, failures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "proxy/tls.h"
#include "tests/unit/test_files.h"

extern char **environ;

/* Every wait is bounded by this; the whole file runs in a few seconds. */
#define WAIT_MS 5000
#define ERR_MAX 512
#define PAYLOAD (1024 * 1024)

/* ---------------------------------------------------------------- test PKI */

struct pki {
    char dir[64];
    char ca[128];
    char good_crt[128], good_key[128];           /* localhost, 127.0.0.1, ::1; trusted CA */
    char untrusted_crt[128], untrusted_key[128]; /* localhost, signed by an unknown CA */
    char wrong_crt[128], wrong_key[128];         /* wrong.test, trusted CA */
    struct proxy_tls_client *cl;
    struct proxy_tls_server *good, *untrusted, *wrong;
};

static struct pki pki;

static void path_in(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", pki.dir, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static int sh(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

/* A P-256 CA, self-signed. */
static int make_ca(const char *name, const char *cn)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout %s.key -out %s.crt -days 2 -subj '/CN=%s' "
             "-addext basicConstraints=critical,CA:TRUE "
             "-addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1",
             pki.dir, name, name, cn);
    return sh(cmd);
}

/* A server certificate for `cn` with subjectAltName `san`, signed by CA `ca`. */
static int make_leaf(const char *name, const char *ca, const char *cn, const char *san)
{
    char cmd[1024], ext[256], ext_path[160];
    snprintf(ext, sizeof(ext),
             "subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
             "extendedKeyUsage=serverAuth\n",
             san);
    snprintf(ext_path, sizeof(ext_path), "%s/%s.ext", pki.dir, name);
    write_file(ext_path, ext);
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout %s.key -out %s.csr -subj '/CN=%s' >/dev/null 2>&1 && "
             "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -CAcreateserial -days 2 "
             "-extfile %s.ext -out %s.crt >/dev/null 2>&1",
             pki.dir, name, name, cn, name, ca, ca, name, name);
    return sh(cmd);
}

static int group_setup(void **state)
{
    char err[ERR_MAX];
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    snprintf(pki.dir, sizeof(pki.dir), "/tmp/warden-tls-XXXXXX");
    if (mkdtemp(pki.dir) == NULL)
        return -1;
    if (make_ca("ca", "Warden Test CA") != 0 || make_ca("ca2", "Untrusted Test CA") != 0 ||
        make_leaf("good", "ca", "localhost", "DNS:localhost,IP:127.0.0.1,IP:::1") != 0 ||
        make_leaf("untrusted", "ca2", "localhost", "DNS:localhost,IP:127.0.0.1") != 0 ||
        make_leaf("wrong", "ca", "wrong.test", "DNS:wrong.test") != 0) {
        fprintf(stderr, "openssl could not make the test certificates\n");
        return -1;
    }
    path_in(pki.ca, sizeof(pki.ca), "ca.crt");
    path_in(pki.good_crt, sizeof(pki.good_crt), "good.crt");
    path_in(pki.good_key, sizeof(pki.good_key), "good.key");
    path_in(pki.untrusted_crt, sizeof(pki.untrusted_crt), "untrusted.crt");
    path_in(pki.untrusted_key, sizeof(pki.untrusted_key), "untrusted.key");
    path_in(pki.wrong_crt, sizeof(pki.wrong_crt), "wrong.crt");
    path_in(pki.wrong_key, sizeof(pki.wrong_key), "wrong.key");
    if (proxy_tls_client_new(pki.ca, &pki.cl, err, sizeof(err)) != 0 ||
        proxy_tls_server_new(pki.good_crt, pki.good_key, &pki.good, err, sizeof(err)) != 0 ||
        proxy_tls_server_new(pki.untrusted_crt, pki.untrusted_key, &pki.untrusted, err,
                             sizeof(err)) != 0 ||
        proxy_tls_server_new(pki.wrong_crt, pki.wrong_key, &pki.wrong, err, sizeof(err)) != 0) {
        fprintf(stderr, "configuration: %s\n", err);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    proxy_tls_client_free(pki.cl);
    proxy_tls_server_free(pki.good);
    proxy_tls_server_free(pki.untrusted);
    proxy_tls_server_free(pki.wrong);
    if (pki.dir[0])
        (void)test_rmtree(pki.dir);
    return 0;
}

/* ---------------------------------------------------------------- loop helpers */

struct deadline {
    bool expired;
};

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ((struct deadline *)arg)->expired = true;
}

/* Run `base` until *flag or `ms` have passed; returns *flag. */
static bool run_until(struct event_base *base, const bool *flag, int ms)
{
    struct deadline d = {false};
    struct event *ev = evtimer_new(base, deadline_cb, &d);
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    assert_non_null(ev);
    evtimer_add(ev, &tv);
    while (!*flag && !d.expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(ev);
    return *flag;
}

static void run_for(struct event_base *base, int ms)
{
    bool never = false;
    run_until(base, &never, ms);
}

static size_t under_out(struct bufferevent *bev)
{
    return evbuffer_get_length(bufferevent_get_output(bufferevent_get_underlying(bev)));
}

/* ---------------------------------------------------------------- server */

enum srv_mode {
    SRV_ECHO = 0,      /* echo everything back, with backpressure */
    SRV_HTTP,          /* answer each request head with "hello" */
    SRV_PLAIN_HTTP,    /* (no TLS) answer 400 in plain HTTP, then close */
    SRV_CLOSE_AT_ONCE, /* (no TLS) close each connection when accepted */
    SRV_CLOSE_ON_READ, /* (no TLS) read the ClientHello, then close cleanly */
    SRV_SILENT,        /* (no TLS) accept, never answer */
    SRV_FREE_AT_ONCE,  /* free the TLS bufferevent right after wrapping: mid-handshake */
    SRV_CLOSE_NOTIFY,  /* answer "bye", close_notify, close */
    SRV_CUT_FIN,       /* answer 1000 bytes, close without close_notify */
    SRV_CUT_RST,       /* answer 1000 bytes, reset */
    SRV_GARBAGE,       /* after the first bytes, a forged record on the socket */
};

#define SRV_ECHO_HIGH (256 * 1024)

static const char hello[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

struct sconn;

struct server {
    struct event_base *base;
    struct evconnlistener *lis;
    struct proxy_tls_server *tls; /* NULL: plain TCP */
    enum srv_mode mode;
    struct sockaddr_in addr;
    struct sconn *conns;
    int accepted, handshakes, reused, errors, plain_reads;
    char alpn[32];
    char last_error[ERR_MAX];
    bool got_error;
};

struct sconn {
    struct server *srv;
    struct bufferevent *bev;
    struct sconn *prev, *next;
    bool seen, close_after_flush, reset;
};

static void sconn_free(struct sconn *sc)
{
    struct server *s = sc->srv;
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        s->conns = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    bufferevent_free(sc->bev);
    free(sc);
}

static void srv_write(struct bufferevent *bev, void *arg)
{
    struct sconn *sc = arg;
    if (sc->close_after_flush && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        if (sc->reset) {
            struct linger lg = {.l_onoff = 1, .l_linger = 0};
            setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        sconn_free(sc);
        return;
    }
    if (sc->srv->mode == SRV_ECHO && !(bufferevent_get_enabled(bev) & EV_READ))
        bufferevent_enable(bev, EV_READ);
}

static void srv_read(struct bufferevent *bev, void *arg)
{
    struct sconn *sc = arg;
    struct server *s = sc->srv;
    struct evbuffer *in = bufferevent_get_input(bev), *out = bufferevent_get_output(bev);
    static const char http400[] =
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    char filler[1000];
    if (!sc->seen && s->tls) {
        const char *alpn = proxy_tls_alpn(bev);
        sc->seen = true;
        s->handshakes++;
        s->reused += proxy_tls_session_reused(bev);
        snprintf(s->alpn, sizeof(s->alpn), "%s", alpn ? alpn : "");
    }
    switch (s->mode) {
    case SRV_ECHO:
        evbuffer_add_buffer(out, in);
        if (evbuffer_get_length(out) > SRV_ECHO_HIGH)
            bufferevent_disable(bev, EV_READ);
        break;
    case SRV_HTTP:
        if (evbuffer_search(in, "\r\n\r\n", 4, NULL).pos >= 0) {
            evbuffer_drain(in, evbuffer_get_length(in));
            evbuffer_add(out, hello, sizeof(hello) - 1);
        }
        break;
    case SRV_PLAIN_HTTP:
        s->plain_reads++;
        evbuffer_drain(in, evbuffer_get_length(in));
        evbuffer_add(out, http400, sizeof(http400) - 1);
        sc->close_after_flush = true;
        break;
    case SRV_CLOSE_ON_READ:
        sconn_free(sc);
        break;
    case SRV_CLOSE_NOTIFY:
        evbuffer_drain(in, evbuffer_get_length(in));
        evbuffer_add(out, "bye", 3);
        bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
        sc->close_after_flush = true;
        break;
    case SRV_CUT_FIN:
    case SRV_CUT_RST:
        evbuffer_drain(in, evbuffer_get_length(in));
        memset(filler, 'x', sizeof(filler));
        evbuffer_add(out, filler, sizeof(filler));
        sc->close_after_flush = true;
        sc->reset = s->mode == SRV_CUT_RST;
        break;
    case SRV_GARBAGE: {
        /* An application-data record whose MAC cannot verify, straight onto the socket. */
        unsigned char rec[5 + 48] = {0x17, 0x03, 0x03, 0x00, 48};
        evbuffer_drain(in, evbuffer_get_length(in));
        memset(rec + 5, 0xA5, sizeof(rec) - 5);
        assert_int_equal(send(bufferevent_getfd(bev), rec, sizeof(rec), MSG_NOSIGNAL), sizeof(rec));
        break;
    }
    default:
        evbuffer_drain(in, evbuffer_get_length(in));
        break;
    }
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
    struct sconn *sc = arg;
    struct server *s = sc->srv;
    if (what & BEV_EVENT_ERROR) {
        const char *msg = s->tls ? proxy_tls_error(bev) : NULL;
        s->errors++;
        snprintf(s->last_error, sizeof(s->last_error), "%s", msg ? msg : "(no message)");
        s->got_error = true;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        sconn_free(sc);
}

static void srv_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    struct server *s = arg;
    struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct sconn *sc;
    (void)l;
    (void)sa;
    (void)salen;
    assert_non_null(bev);
    s->accepted++;
    if (s->mode == SRV_CLOSE_AT_ONCE) {
        bufferevent_free(bev);
        return;
    }
    if (s->tls) {
        bev = proxy_tls_wrap_server(s->tls, bev);
        assert_non_null(bev);
    }
    if (s->mode == SRV_FREE_AT_ONCE) {
        bufferevent_free(bev);
        return;
    }
    sc = calloc(1, sizeof(*sc));
    assert_non_null(sc);
    sc->srv = s;
    sc->bev = bev;
    sc->next = s->conns;
    if (s->conns)
        s->conns->prev = sc;
    s->conns = sc;
    bufferevent_setcb(bev, srv_read, srv_write, srv_event, sc);
    if (s->mode == SRV_ECHO)
        bufferevent_setwatermark(bev, EV_WRITE, 64 * 1024, 0);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void server_start(struct server *s, struct event_base *base, enum srv_mode mode,
                         struct proxy_tls_server *tls)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(s->addr);
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->mode = mode;
    s->tls = tls;
    s->lis = evconnlistener_new_bind(base, srv_accept, s, LEV_OPT_CLOSE_ON_FREE, 64,
                                     (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(s->lis);
    assert_int_equal(getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)&s->addr, &len),
                     0);
}

static void server_stop(struct server *s)
{
    while (s->conns)
        sconn_free(s->conns);
    if (s->lis)
        evconnlistener_free(s->lis);
    s->lis = NULL;
}

/* ---------------------------------------------------------------- client */

struct client {
    struct event_base *base;
    struct bufferevent *bev;
    struct evbuffer *got;
    struct event *resume_ev;
    size_t want;         /* done once this much plaintext has arrived */
    bool stop_connected; /* done at CONNECTED */
    bool free_connected; /* free the bufferevent in the CONNECTED callback */
    int pause_every;     /* disable reading for a while every that many read callbacks */
    size_t chunk;        /* the most taken from the input at a time; 0: all */
    bool paused;
    bool done, connected, eof, error, timeout, data_before_connected, reused, write_early;
    short what;
    int reads, writecbs;
    size_t max_input;
    size_t max_under_out; /* ciphertext queued, as seen from the callbacks */
    char alpn[32];
    char err[ERR_MAX];
};

/* Take what the reader accepts now: everything, or `chunk` bytes and the rest later (a slow
 * consumer, so that the input reaches its high watermark). */
static void c_consume(struct client *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t len = evbuffer_get_length(in);
    size_t take = c->chunk && c->chunk < len ? c->chunk : len;
    struct timeval tv = {0, 1000};
    evbuffer_remove_buffer(in, c->got, take);
    if (c->want && evbuffer_get_length(c->got) >= c->want)
        c->done = true;
    if (evbuffer_get_length(in) > 0 && !c->paused)
        evtimer_add(c->resume_ev, &tv);
}

static void c_resume(evutil_socket_t fd, short what, void *arg)
{
    struct client *c = arg;
    (void)fd;
    (void)what;
    if (c->paused) {
        c->paused = false;
        bufferevent_enable(c->bev, EV_READ);
    }
    c_consume(c);
}

static void c_read(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    size_t len = evbuffer_get_length(bufferevent_get_input(bev));
    c->reads++;
    if (len > c->max_input)
        c->max_input = len;
    if (under_out(bev) > c->max_under_out)
        c->max_under_out = under_out(bev);
    if (!c->connected)
        c->data_before_connected = true;
    if (c->pause_every && c->reads % c->pause_every == 0) {
        struct timeval tv = {0, 5000};
        c->paused = true;
        bufferevent_disable(bev, EV_READ);
        evtimer_add(c->resume_ev, &tv);
    }
    c_consume(c);
}

static void c_write(struct bufferevent *bev, void *arg)
{
    struct client *c = arg;
    c->writecbs++;
    if (under_out(bev) > 0)
        c->write_early = true;
}

static void c_event(struct bufferevent *bev, short what, void *arg)
{
    struct client *c = arg;
    const char *msg = proxy_tls_error(bev);
    c->what = what;
    if (what & BEV_EVENT_CONNECTED) {
        const char *alpn = proxy_tls_alpn(bev);
        if (under_out(bev) > c->max_under_out)
            c->max_under_out = under_out(bev);
        c->connected = true;
        c->reused = proxy_tls_session_reused(bev);
        snprintf(c->alpn, sizeof(c->alpn), "%s", alpn ? alpn : "");
        if (c->free_connected) {
            bufferevent_free(bev);
            c->bev = NULL;
            c->done = true;
        }
        if (c->stop_connected)
            c->done = true;
        return;
    }
    snprintf(c->err, sizeof(c->err), "%s", msg ? msg : "");
    c->eof = (what & BEV_EVENT_EOF) != 0;
    c->error = (what & BEV_EVENT_ERROR) != 0;
    c->timeout = (what & BEV_EVENT_TIMEOUT) != 0;
    c->done = true;
}

static void client_free(struct client *c)
{
    if (c == NULL)
        return;
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->resume_ev)
        event_free(c->resume_ev);
    if (c->got)
        evbuffer_free(c->got);
    free(c);
}

/* No cmocka assertions here: worker threads use it too. NULL on failure. */
static struct client *client_try_new(struct event_base *base, const struct sockaddr_in *to,
                                     const char *name, struct proxy_tls_session_cache *cache)
{
    struct client *c = calloc(1, sizeof(*c));
    struct bufferevent *under;
    if (c == NULL)
        return NULL;
    c->base = base;
    c->got = evbuffer_new();
    c->resume_ev = evtimer_new(base, c_resume, c);
    under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->got == NULL || c->resume_ev == NULL || under == NULL ||
        bufferevent_socket_connect(under, (const struct sockaddr *)to, sizeof(*to)) != 0) {
        if (under)
            bufferevent_free(under);
        client_free(c);
        return NULL;
    }
    c->bev = proxy_tls_wrap_client(pki.cl, under, name, cache);
    if (c->bev == NULL) {
        client_free(c);
        return NULL;
    }
    bufferevent_setcb(c->bev, c_read, c_write, c_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    return c;
}

static struct client *client_new(struct event_base *base, const struct sockaddr_in *to,
                                 const char *name, struct proxy_tls_session_cache *cache)
{
    struct client *c = client_try_new(base, to, name, cache);
    assert_non_null(c);
    return c;
}

/* Connect, wait for the handshake's outcome. */
static struct client *client_connect(struct event_base *base, const struct sockaddr_in *to,
                                     const char *name, struct proxy_tls_session_cache *cache)
{
    struct client *c = client_new(base, to, name, cache);
    c->stop_connected = true;
    run_until(base, &c->done, WAIT_MS);
    assert_true(c->done);
    return c;
}

/* ---------------------------------------------------------------- fixture */

#define MAX_CLIENTS 8

struct fx {
    struct event_base *base;
    struct server srv;
    struct client *clients[MAX_CLIENTS];
};

static struct client *fx_keep(struct fx *f, struct client *c)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (f->clients[i] == NULL) {
            f->clients[i] = c;
            return c;
        }
    }
    fail_msg("too many clients");
    return NULL;
}

static int fx_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    f->base = event_base_new();
    if (f->base == NULL)
        return -1;
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < MAX_CLIENTS; i++)
        client_free(f->clients[i]);
    server_stop(&f->srv);
    /* Let finalizers and deferred callbacks run, so that ASan sees every free. */
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* ---------------------------------------------------------------- tests */

static void test_handshake_alpn_echo(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    /* Written before the handshake: must wait for it, then arrive whole. */
    bufferevent_write(c->bev, "hello over tls", 14);
    c->want = 14;
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->connected);
    assert_false(c->data_before_connected);
    assert_false(c->error);
    assert_string_equal(c->alpn, "http/1.1");
    assert_false(c->reused);
    assert_null(proxy_tls_error(c->bev));
    assert_int_equal(evbuffer_get_length(c->got), 14);
    assert_memory_equal(evbuffer_pullup(c->got, -1), "hello over tls", 14);
    assert_string_equal(f->srv.alpn, "http/1.1");
    assert_int_equal(f->srv.handshakes, 1);
    /* The write callback came once the ciphertext had left, not before. */
    assert_true(c->writecbs >= 1);
    assert_false(c->write_early);
    /* Not a TLS bufferevent: no answers. */
    assert_null(proxy_tls_error(bufferevent_get_underlying(c->bev)));
    assert_null(proxy_tls_alpn(bufferevent_get_underlying(c->bev)));
}

static void test_megabyte_backpressure(void **state)
{
    struct fx *f = *state;
    struct client *c;
    unsigned char *data = malloc(PAYLOAD);
    const size_t high = 64 * 1024;
    assert_non_null(data);
    for (size_t i = 0; i < PAYLOAD; i++)
        data[i] = (unsigned char)((i * 7 + i / 4096) % 251);
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    bufferevent_setwatermark(c->bev, EV_READ, 0, high);
    c->pause_every = 4;  /* the reader stops now and then: reading must stop and resume */
    c->chunk = 8 * 1024; /* and is slower than the echo: the input fills to its watermark */
    c->want = PAYLOAD;
    assert_int_equal(bufferevent_write(c->bev, data, PAYLOAD), 0);
    assert_true(run_until(f->base, &c->done, 4 * WAIT_MS));
    assert_false(c->error);
    assert_int_equal(evbuffer_get_length(c->got), PAYLOAD);
    assert_memory_equal(evbuffer_pullup(c->got, -1), data, PAYLOAD);
    /* The input never grew far past the watermark: at most one socket read beyond it. */
    assert_true(c->max_input > 0);
    assert_true(c->max_input <= high + 40 * 1024);
    assert_true(c->reads >= 8);
    /* Plaintext is encrypted only as the socket takes it: one record over the mark at most. */
    assert_true(c->max_under_out > 0);
    assert_true(c->max_under_out <= PROXY_TLS_OUT_HIGH + 17 * 1024);
    assert_false(c->write_early);
    free(data);
}

static void test_untrusted_ca(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_ECHO, pki.untrusted);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_false(c->connected);
    assert_true(c->error);
    assert_string_equal(c->err, "certificate verification failed for localhost: the certificate "
                                "is not trusted (unknown CA)");
    assert_null(proxy_tls_alpn(c->bev));
    /* The server learns why from the client's alert. */
    assert_true(run_until(f->base, &f->srv.got_error, WAIT_MS));
    assert_non_null(strstr(f->srv.last_error, "unknown_ca"));
}

static void test_wrong_name(void **state)
{
    struct fx *f = *state;
    struct client *c1, *c2;
    server_start(&f->srv, f->base, SRV_ECHO, pki.wrong);
    c1 = fx_keep(f, client_connect(f->base, &f->srv.addr, "127.0.0.1", NULL));
    assert_true(c1->error);
    assert_false(c1->connected);
    assert_string_equal(c1->err, "certificate verification failed for 127.0.0.1: the name does "
                                 "not match (CN=wrong.test, DNS:wrong.test)");
    c2 = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c2->error);
    assert_string_equal(c2->err, "certificate verification failed for localhost: the name does "
                                 "not match (CN=wrong.test, DNS:wrong.test)");
}

static void test_ip_literal(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    /* The certificate names IP 127.0.0.1 and ::1: accepted for those addresses only (the name
     * is what is checked; every connection goes to 127.0.0.1). */
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "127.0.0.1", NULL));
    assert_true(c->connected);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "::1", NULL));
    assert_true(c->connected);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "127.0.0.2", NULL));
    assert_true(c->error);
    assert_string_equal(c->err, "certificate verification failed for 127.0.0.2: the name does not "
                                "match (CN=localhost, DNS:localhost, IP:127.0.0.1, IP:::1)");
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "::2", NULL));
    assert_true(c->error);
    assert_non_null(strstr(c->err, "the name does not match"));
}

static void test_plain_http_server(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_PLAIN_HTTP, NULL);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->error);
    assert_false(c->connected);
    assert_int_equal(f->srv.plain_reads, 1);
    assert_string_equal(c->err, "TLS handshake failed: the server answered in plain HTTP, not TLS "
                                "(an http:// upstream?)");
}

static void test_server_closes_at_once(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_CLOSE_AT_ONCE, NULL);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->error);
    assert_false(c->eof);
    assert_non_null(strstr(c->err, "TLS handshake failed: "));
}

static void test_server_closes_after_hello(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_CLOSE_ON_READ, NULL);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->error);
    assert_false(c->eof);
    assert_false(c->connected);
    assert_string_equal(c->err, "TLS handshake failed: the server closed the connection (does it "
                                "speak TLS on this port?)");
}

static void test_connect_refused(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct client *c;
    /* A port that was just free: nothing listens on it. */
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    c = fx_keep(f, client_connect(f->base, &sin, "localhost", NULL));
    assert_true(c->error);
    assert_string_equal(c->err, "cannot connect to localhost: Connection refused");
}

static void test_session_resumption(void **state)
{
    struct fx *f = *state;
    struct proxy_tls_session_cache *cache = proxy_tls_session_cache_new();
    struct proxy_tls_session_cache *other = proxy_tls_session_cache_new();
    struct client *c;
    assert_non_null(cache);
    assert_non_null(other);
    server_start(&f->srv, f->base, SRV_HTTP, pki.good);
    struct {
        struct proxy_tls_session_cache *cache;
        const char *name;
        bool reused;
    } steps[] = {
        {cache, "localhost", false}, /* full handshake, session remembered */
        {cache, "localhost", true},  /* resumed */
        {cache, "localhost", true},  /* again */
        {other, "localhost", false}, /* another cache knows nothing */
        {cache, "127.0.0.1", false}, /* another name never resumes a session */
        {cache, "127.0.0.1", true},
    };
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        c = client_new(f->base, &f->srv.addr, steps[i].name, steps[i].cache);
        c->want = sizeof(hello) - 1;
        bufferevent_write(c->bev, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
        assert_true(run_until(f->base, &c->done, WAIT_MS));
        assert_true(c->connected);
        assert_false(c->error);
        if (c->reused != steps[i].reused)
            fail_msg("step %zu: reused %d, expected %d", i, c->reused, steps[i].reused);
        assert_int_equal(evbuffer_get_length(c->got), sizeof(hello) - 1);
        assert_memory_equal(evbuffer_pullup(c->got, -1), hello, sizeof(hello) - 1);
        client_free(c);
    }
    assert_int_equal(f->srv.handshakes, 6);
    assert_int_equal(f->srv.reused, 3);
    proxy_tls_session_cache_free(cache);
    proxy_tls_session_cache_free(other);
}

static void test_close_notify(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_CLOSE_NOTIFY, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    bufferevent_write(c->bev, "x", 1);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->eof);
    assert_false(c->error);
    assert_true(c->what & BEV_EVENT_READING);
    assert_int_equal(evbuffer_get_length(c->got), 3);
    assert_memory_equal(evbuffer_pullup(c->got, -1), "bye", 3);
    assert_string_equal(c->err, "the server closed the TLS session (close_notify)");
}

static void test_peer_closes_mid_stream(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_CUT_FIN, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    bufferevent_write(c->bev, "x", 1);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->eof);
    /* Everything sent before the close arrived, then the EOF. */
    assert_int_equal(evbuffer_get_length(c->got), 1000);
    assert_string_equal(c->err, "the server closed the connection without close_notify");
    /* A reset instead: EOF or ERROR, the data before it or not, never more. */
    server_stop(&f->srv);
    server_start(&f->srv, f->base, SRV_CUT_RST, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    bufferevent_write(c->bev, "x", 1);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->eof || c->error);
    assert_true(evbuffer_get_length(c->got) <= 1000);
    assert_true(c->err[0] != '\0');
}

static void test_forged_record(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_GARBAGE, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    bufferevent_write(c->bev, "x", 1);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->connected);
    assert_true(c->error);
    assert_int_equal(evbuffer_get_length(c->got), 0);
    assert_string_equal(c->err, "TLS error: a record from the server failed authentication "
                                "(corrupted or tampered with)");
}

static void test_plain_client_to_tls_server(void **state)
{
    struct fx *f = *state;
    struct bufferevent *plain;
    static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    plain = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(plain);
    assert_int_equal(
        bufferevent_socket_connect(plain, (struct sockaddr *)&f->srv.addr, sizeof(f->srv.addr)), 0);
    bufferevent_write(plain, req, sizeof(req) - 1);
    assert_true(run_until(f->base, &f->srv.got_error, WAIT_MS));
    assert_string_equal(f->srv.last_error,
                        "TLS handshake failed: the client spoke plain HTTP to the TLS listener");
    bufferevent_free(plain);
}

static void test_free_during_handshake(void **state)
{
    struct fx *f = *state;
    struct client *c;
    /* Freed before the loop ever ran. */
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    c = client_new(f->base, &f->srv.addr, "localhost", NULL);
    client_free(c);
    run_for(f->base, 50);
    /* Freed while waiting for a server that never answers the ClientHello. */
    server_stop(&f->srv);
    server_start(&f->srv, f->base, SRV_SILENT, NULL);
    c = client_new(f->base, &f->srv.addr, "localhost", NULL);
    run_for(f->base, 100);
    assert_int_equal(f->srv.accepted, 1);
    assert_false(c->done);
    assert_null(proxy_tls_error(c->bev));
    assert_false(proxy_tls_session_reused(c->bev));
    client_free(c);
    run_for(f->base, 50);
    /* The server frees its side right after wrapping: the client fails cleanly. */
    server_stop(&f->srv);
    server_start(&f->srv, f->base, SRV_FREE_AT_ONCE, pki.good);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->error);
    assert_non_null(strstr(c->err, "TLS handshake failed"));
}

static void test_free_in_callbacks(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    /* Freed from the CONNECTED callback, with data written and an answer on its way. */
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    c->free_connected = true;
    bufferevent_write(c->bev, "data", 4);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_null(c->bev);
    run_for(f->base, 50);
    /* Freed right after the ERROR callback. */
    server_stop(&f->srv);
    server_start(&f->srv, f->base, SRV_ECHO, pki.wrong);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->error);
    bufferevent_free(c->bev);
    c->bev = NULL;
    run_for(f->base, 50);
}

static void test_wrap_before_connect(void **state)
{
    struct fx *f = *state;
    struct client *c = calloc(1, sizeof(*c));
    struct bufferevent *under;
    assert_non_null(c);
    fx_keep(f, c);
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    c->got = evbuffer_new();
    c->resume_ev = evtimer_new(f->base, c_resume, c);
    under = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->bev = proxy_tls_wrap_client(pki.cl, under, "localhost", NULL);
    assert_non_null(c->bev);
    bufferevent_setcb(c->bev, c_read, c_write, c_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    run_for(f->base, 20); /* no socket yet: nothing happens */
    assert_false(c->done);
    assert_int_equal(bufferevent_socket_connect(bufferevent_get_underlying(c->bev),
                                                (struct sockaddr *)&f->srv.addr,
                                                sizeof(f->srv.addr)),
                     0);
    bufferevent_write(c->bev, "late", 4);
    c->want = 4;
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->connected);
    assert_memory_equal(evbuffer_pullup(c->got, -1), "late", 4);
}

/* As the upstream pool connects: wrap first, then a name lookup on the socket bufferevent. */
static void test_name_lookup_fails(void **state)
{
    struct fx *f = *state;
    struct client *c = calloc(1, sizeof(*c));
    struct evdns_base *dns = evdns_base_new(f->base, 0);
    struct bufferevent *under;
    assert_non_null(c);
    assert_non_null(dns);
    /* A name server that never answers (a closed local port), asked once, briefly. */
    assert_int_equal(evdns_base_nameserver_ip_add(dns, "127.0.0.1:9"), 0);
    assert_int_equal(evdns_base_set_option(dns, "timeout:", "0.2"), 0);
    assert_int_equal(evdns_base_set_option(dns, "attempts:", "1"), 0);
    fx_keep(f, c);
    c->got = evbuffer_new();
    c->resume_ev = evtimer_new(f->base, c_resume, c);
    under = bufferevent_socket_new(f->base, -1, BEV_OPT_CLOSE_ON_FREE);
    c->bev = proxy_tls_wrap_client(pki.cl, under, "warden-test.invalid", NULL);
    assert_non_null(c->bev);
    bufferevent_setcb(c->bev, c_read, c_write, c_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    (void)bufferevent_socket_connect_hostname(under, dns, AF_INET, "warden-test.invalid", 443);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->error);
    assert_false(c->connected);
    assert_non_null(strstr(c->err, "cannot resolve warden-test.invalid: "));
    client_free(c);
    f->clients[0] = NULL;
    evdns_base_free(dns, 1);
}

static void test_reading_disabled_during_handshake(void **state)
{
    struct fx *f = *state;
    struct client *c;
    server_start(&f->srv, f->base, SRV_ECHO, pki.good);
    c = fx_keep(f, client_new(f->base, &f->srv.addr, "localhost", NULL));
    /* The user reads nothing yet: the handshake still completes, and reading stays off. */
    bufferevent_disable(c->bev, EV_READ);
    c->stop_connected = true;
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->connected);
    assert_int_equal(bufferevent_get_enabled(c->bev) & EV_READ, 0);
    c->done = false;
    c->stop_connected = false;
    c->want = 4;
    bufferevent_write(c->bev, "ping", 4);
    run_for(f->base, 100);
    assert_int_equal(evbuffer_get_length(c->got), 0);
    bufferevent_enable(c->bev, EV_READ);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_memory_equal(evbuffer_pullup(c->got, -1), "ping", 4);
}

static void test_timeouts(void **state)
{
    struct fx *f = *state;
    struct client *c;
    struct timeval write_tv = {0, 50 * 1000}, read_tv = {0, 150 * 1000};
    server_start(&f->srv, f->base, SRV_HTTP, pki.good);
    c = fx_keep(f, client_connect(f->base, &f->srv.addr, "localhost", NULL));
    assert_true(c->connected);
    c->done = false;
    /* A write timeout counts only while output waits: an idle connection never reports it. */
    bufferevent_set_timeouts(c->bev, NULL, &write_tv);
    bufferevent_enable(c->bev, EV_WRITE);
    run_for(f->base, 200);
    assert_false(c->done);
    /* A read timeout fires when nothing arrives (the server waits for a request head). */
    bufferevent_set_timeouts(c->bev, &read_tv, &write_tv);
    bufferevent_write(c->bev, "GET", 3);
    assert_true(run_until(f->base, &c->done, WAIT_MS));
    assert_true(c->timeout);
    assert_true(c->what & BEV_EVENT_READING);
}

static void test_config_errors(void **state)
{
    char err[ERR_MAX], junk[160];
    struct proxy_tls_client *cl = NULL;
    struct proxy_tls_server *sv = NULL;
    (void)state;
    assert_int_equal(proxy_tls_client_new("/nonexistent/ca.pem", &cl, err, sizeof(err)), -ENOENT);
    assert_null(cl);
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
    path_in(junk, sizeof(junk), "junk.pem");
    write_file(junk, "this is not a certificate\n");
    assert_int_equal(proxy_tls_client_new(junk, &cl, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "junk.pem"));
    assert_int_equal(proxy_tls_server_new(pki.good_crt, pki.wrong_key, &sv, err, sizeof(err)),
                     -EINVAL);
    assert_null(sv);
    assert_non_null(strstr(err, "does not belong"));
    assert_int_equal(proxy_tls_server_new(pki.good_crt, "/nonexistent.key", &sv, err, sizeof(err)),
                     -ENOENT);
    assert_int_equal(proxy_tls_server_new(junk, pki.good_key, &sv, err, sizeof(err)), -EINVAL);
    /* The system bundle, when the image has one. */
    if (access(PROXY_TLS_SYSTEM_CA_FILE, R_OK) == 0) {
        assert_int_equal(proxy_tls_client_new(NULL, &cl, err, sizeof(err)), 0);
        proxy_tls_client_free(cl);
    }
    proxy_tls_client_free(NULL);
    proxy_tls_server_free(NULL);
    proxy_tls_session_cache_free(NULL);
}

/* ---------------------------------------------------------------- threads */

#define N_THREADS 4
#define N_CONNS   3

struct worker {
    pthread_t thread;
    struct sockaddr_in addr;
    int connected, reused;
    char err[ERR_MAX];
    atomic_int *finished;
};

/* Each thread: its own loop and session cache, the shared client configuration. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct event_base *base = event_base_new();
    struct proxy_tls_session_cache *cache = proxy_tls_session_cache_new();
    for (int i = 0; base && cache && i < N_CONNS; i++) {
        struct client *c = client_try_new(base, &w->addr, "localhost", cache);
        if (c == NULL)
            break;
        c->stop_connected = true;
        run_until(base, &c->done, WAIT_MS);
        w->connected += c->connected;
        w->reused += c->reused;
        if (c->error)
            snprintf(w->err, sizeof(w->err), "%s", c->err);
        client_free(c);
    }
    proxy_tls_session_cache_free(cache);
    if (base) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        event_base_free(base);
    }
    atomic_fetch_add(w->finished, 1);
    return NULL;
}

struct watch {
    atomic_int *finished;
    bool all;
    struct event *ev;
};

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    struct watch *wa = arg;
    struct timeval tv = {0, 5000};
    (void)fd;
    (void)what;
    if (atomic_load(wa->finished) == N_THREADS)
        wa->all = true;
    else
        evtimer_add(wa->ev, &tv);
}

static void test_threads_share_config(void **state)
{
    struct fx *f = *state;
    struct worker w[N_THREADS];
    atomic_int finished = 0;
    struct watch wa = {.finished = &finished};
    struct timeval tv = {0, 5000};
    server_start(&f->srv, f->base, SRV_HTTP, pki.good);
    wa.ev = evtimer_new(f->base, watch_cb, &wa);
    evtimer_add(wa.ev, &tv);
    memset(w, 0, sizeof(w));
    for (int i = 0; i < N_THREADS; i++) {
        w[i].addr = f->srv.addr;
        w[i].finished = &finished;
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]), 0);
    }
    run_until(f->base, &wa.all, 4 * WAIT_MS);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(w[i].thread, NULL);
    event_free(wa.ev);
    assert_true(wa.all);
    for (int i = 0; i < N_THREADS; i++) {
        if (w[i].connected != N_CONNS)
            fail_msg("thread %d: %d connected: %s", i, w[i].connected, w[i].err);
        assert_int_equal(w[i].reused, N_CONNS - 1);
    }
}

/* ---------------------------------------------------------------- against OpenSSL */

/* Start `openssl s_server` on a free loopback port with `extra` arguments, wait until it
 * listens. Returns its pid, or -1 when it did not come up. */
static pid_t s_server_start(const char *version, const char *cipher, struct sockaddr_in *addr)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    char port[16];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    posix_spawn_file_actions_t fa;
    pid_t pid = -1;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    snprintf(port, sizeof(port), "%u", ntohs(sin.sin_port));
    char *argv[] = {"openssl",    "s_server",      "-quiet",       "-accept",
                    port,         "-cert",         pki.good_crt,   "-key",
                    pki.good_key, (char *)version, "-alpn",        "http/1.1",
                    "-www",       "-cipher",       (char *)cipher, NULL};
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    if (posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ) != 0)
        pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; pid > 0 && i < 300; i++) {
        int probe = socket(AF_INET, SOCK_STREAM, 0);
        int ok = connect(probe, (struct sockaddr *)&sin, sizeof(sin)) == 0;
        close(probe);
        if (ok) {
            *addr = sin;
            return pid;
        }
        usleep(10 * 1000);
    }
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    return -1;
}

static void s_server_stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_openssl_peer(void **state)
{
    struct fx *f = *state;
    struct sockaddr_in addr;
    struct client *c;
    pid_t pid = s_server_start("-tls1_2", "DEFAULT", &addr);
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    assert_true(pid > 0);
    /* TLS 1.2 against another implementation: ALPN, data, close_notify. */
    c = fx_keep(f, client_new(f->base, &addr, "localhost", NULL));
    bufferevent_write(c->bev, req, sizeof(req) - 1);
    run_until(f->base, &c->done, WAIT_MS);
    s_server_stop(pid);
    assert_true(c->connected);
    assert_string_equal(c->alpn, "http/1.1");
    assert_true(c->eof);
    assert_true(evbuffer_get_length(c->got) > 12);
    assert_memory_equal(evbuffer_pullup(c->got, 12), "HTTP/1.0 200", 12);
    /* A server that speaks TLS 1.3 only. */
    pid = s_server_start("-tls1_3", "DEFAULT", &addr);
    assert_true(pid > 0);
    c = fx_keep(f, client_connect(f->base, &addr, "localhost", NULL));
    s_server_stop(pid);
    assert_true(c->error);
    assert_string_equal(c->err, "TLS handshake failed: the server does not support TLS 1.2 "
                                "(protocol_version alert)");
    /* A server stuck at TLS 1.1 (OpenSSL 3 allows it only at security level 0). */
    pid = s_server_start("-tls1_1", "DEFAULT@SECLEVEL=0", &addr);
    assert_true(pid > 0);
    c = fx_keep(f, client_connect(f->base, &addr, "localhost", NULL));
    s_server_stop(pid);
    assert_true(c->error);
    assert_string_equal(c->err, "TLS handshake failed: the server refused the handshake: no TLS "
                                "1.2 cipher suite, curve or signature algorithm in common "
                                "(handshake_failure alert)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_alpn_echo, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_megabyte_backpressure, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_ca, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_name, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_ip_literal, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_server, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_at_once, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_server_closes_after_hello, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_connect_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_session_resumption, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_close_notify, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_peer_closes_mid_stream, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_forged_record, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_plain_client_to_tls_server, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_free_during_handshake, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_free_in_callbacks, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_wrap_before_connect, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_name_lookup_fails, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_reading_disabled_during_handshake, fx_setup,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, fx_setup, fx_teardown),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test_setup_teardown(test_threads_share_config, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_openssl_peer, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

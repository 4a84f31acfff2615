/* The server: SO_REUSEPORT listeners, one event loop per worker thread, graceful drain. */
#include "proxy/server.h"

#include "guards/prompt.h"
#include "policy/config.h"
#include "policy/rules.h"
#include "proxy/conn.h"
#include "proxy/deps_api.h"
#include "proxy/filter.h"
#include "proxy/observe.h"
#include "proxy/outguard.h"
#include "proxy/tls.h"
#include "proxy/upstream.h"
#include "telemetry/audit.h"
#include "telemetry/log.h"

#include <errno.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#define LISTEN_BACKLOG 1024

/* Return the free heap to the system (glibc keeps it otherwise). */
static void trim_heap(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

/* glibc raises its trim threshold each time a large block it had mapped is freed (compiling the
 * rules frees several), up to 64 MiB; malloc_trim never shrinks the top of a worker thread's
 * heap, only a free() above that threshold does. So once a load had gone the free top of each
 * worker's heap stayed resident: 5.5 MiB after 10,000 idle connections had closed. Fixed
 * thresholds keep what is freed at the top returned. */
#define HEAP_TRIM_THRESHOLD (256 * 1024)

static void heap_thresholds(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, HEAP_TRIM_THRESHOLD);
    mallopt(M_MMAP_THRESHOLD, HEAP_TRIM_THRESHOLD);
#endif
}

static _Thread_local char server_error[512];

const char *proxy_server_error(void)
{
    return server_error;
}

struct proxy_upool *proxy_worker_pool(struct proxy_worker *w, const struct policy_upstream *up)
{
    const struct policy_config *cfg = w->srv->cfg;
    size_t i = (size_t)(up - cfg->upstreams);
    return i < w->srv->n_ups ? &w->pools[i] : NULL;
}

/* Per upstream, once: the provider key from the environment and the TLS client context. */
static int server_upstreams_init(struct proxy_server *srv)
{
    const struct policy_config *cfg = srv->cfg;
    char err[300];
    srv->ups = calloc(cfg->n_upstreams ? cfg->n_upstreams : 1, sizeof(*srv->ups));
    if (srv->ups == NULL)
        return -ENOMEM;
    srv->n_ups = cfg->n_upstreams;
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const struct policy_upstream *up = &cfg->upstreams[i];
        struct proxy_upstream_rt *rt = &srv->ups[i];
        rt->cfg = up;
        bool default_port = up->url.port == (up->url.tls ? 443 : 80);
        bool v6 = strchr(up->url.host, ':') != NULL;
        if (default_port)
            snprintf(rt->host_header, sizeof(rt->host_header), "%s%s%s", v6 ? "[" : "",
                     up->url.host, v6 ? "]" : "");
        else
            snprintf(rt->host_header, sizeof(rt->host_header), "%s%s%s:%u", v6 ? "[" : "",
                     up->url.host, v6 ? "]" : "", up->url.port);
        if (up->api_key_env) {
            const char *key = getenv(up->api_key_env);
            if (key == NULL || key[0] == '\0') {
                snprintf(server_error, sizeof(server_error),
                         "upstreams.%s.api_key_env: environment variable %s is not set", up->name,
                         up->api_key_env);
                return -ENOKEY;
            }
            rt->api_key = strdup(key);
            if (rt->api_key == NULL)
                return -ENOMEM;
        }
        if (up->url.tls) {
            const char *ca = up->ca_file ? up->ca_file : cfg->ca_file;
            if (proxy_tls_client_new(ca, &rt->tls, err, sizeof(err)) != 0) {
                snprintf(server_error, sizeof(server_error), "upstreams.%s: %s", up->name, err);
                return -EINVAL;
            }
        }
    }
    return 0;
}

static void server_upstreams_free(struct proxy_server *srv)
{
    for (size_t i = 0; srv->ups && i < srv->n_ups; i++) {
        free(srv->ups[i].api_key);
        proxy_tls_client_free(srv->ups[i].tls);
    }
    free(srv->ups);
}

/* Set while a worker makes libevent's descriptor records ahead (worker_fd_records): the
 * epoll_ctl calls that fail there are expected. */
static _Thread_local bool libevent_quiet;

/* libevent's own warnings go to the log, in its format, not to stderr as raw lines. */
static void libevent_log_cb(int severity, const char *msg)
{
    if (libevent_quiet || severity < EVENT_LOG_WARN)
        return;
    tel_log(severity >= EVENT_LOG_ERR ? TEL_LOG_ERROR : TEL_LOG_WARN, "libevent",
            TEL_STR("message", msg));
}

static void threads_init(void)
{
    /* Only event_active from the main thread crosses threads; libevent needs locks for it. */
    evthread_use_pthreads();
    event_set_log_callback(libevent_log_cb);
}

static void worker_stop_if_done(struct proxy_worker *w)
{
    if (w->draining && w->conns == NULL)
        event_base_loopexit(w->base, NULL);
}

void proxy_worker_conn_gone(struct proxy_worker *w, struct proxy_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->n_conns--;
    if (w->listener && !w->draining &&
        w->n_conns == (uint64_t)w->srv->cfg->limits.max_connections - 1)
        evconnlistener_enable(w->listener);
    worker_stop_if_done(w);
}

/* xorshift64*: request, trace and span ids need to be unique, not secret. Seeded from
 * getrandom. */
uint64_t proxy_worker_random(struct proxy_worker *w)
{
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return w->rng * 0x2545F4914F6CDD1Dull;
}

void proxy_worker_request_id(struct proxy_worker *w, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    for (int half = 0; half < 2; half++) {
        uint64_t v = proxy_worker_random(w);
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (i * 4)) & 0xf];
    }
    out[32] = '\0';
}

/* libevent allocates a small record for each descriptor number the first time an event uses
 * it, and keeps it for the life of the base. Made one by one as connections arrive, these
 * records end up one every few pages of the worker's heap, between the connections' memory,
 * and keep those pages resident after the load has gone: 11 MiB per worker after 10,000 idle
 * connections had closed, whatever malloc_trim did. So they are made ahead, in blocks: at
 * start for the first WORKER_FD_RECORDS numbers, then, when a connection arrives with a number
 * near the end of the block, for twice as many. Each block is one run of 32-byte records; an
 * event added and deleted before the loop polls leaves nothing else behind (a number that is
 * not an open descriptor fails in epoll_ctl, after its record is made). */
#define WORKER_FD_RECORDS 1024
#define WORKER_FD_MARGIN  64

static void worker_noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
}

static void worker_fd_records(struct proxy_worker *w, evutil_socket_t upto)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (rlim_t)upto > rl.rlim_cur)
        upto = (evutil_socket_t)rl.rlim_cur;
    if (upto <= w->fd_records)
        return;
    struct event *ev = event_new(w->base, -1, EV_READ, worker_noop_cb, NULL);
    if (ev == NULL)
        return;
    libevent_quiet = true;
    for (evutil_socket_t fd = w->fd_records; fd < upto; fd++) {
        if (event_assign(ev, w->base, fd, EV_READ, worker_noop_cb, NULL) == 0 &&
            event_add(ev, NULL) == 0)
            event_del(ev);
    }
    libevent_quiet = false;
    event_free(ev);
    w->fd_records = upto;
}

static void worker_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int salen, void *arg)
{
    struct proxy_worker *w = arg;
    if (fd + WORKER_FD_MARGIN >= w->fd_records) /* upstream sockets take numbers too */
        worker_fd_records(w, 2 * (fd + WORKER_FD_MARGIN));
    struct proxy_conn *c = proxy_conn_new(w, fd, sa, salen);
    if (c == NULL) {
        tel_log(TEL_LOG_ERROR, "accept_failed", TEL_STR("reason", "out of memory"));
        return;
    }
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    /* At the per-worker cap, stop accepting: the kernel queue holds the rest. */
    if (++w->n_conns > w->conns_peak)
        w->conns_peak = w->n_conns;
    if (w->n_conns >= (uint64_t)w->srv->cfg->limits.max_connections)
        evconnlistener_disable(l);
}

static void worker_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct proxy_worker *w = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    tel_log(TEL_LOG_WARN, "accept_error", TEL_UINT("worker", w->id),
            TEL_STR("reason", evutil_socket_error_to_string(err)));
}

static void worker_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_worker *w = arg;
    uint64_t n = 0;
    (void)fd;
    (void)what;
    for (struct proxy_conn *c = w->conns; c; c = c->next)
        n++;
    if (n > 0)
        tel_log(TEL_LOG_WARN, "drain_timeout", TEL_UINT("worker", w->id),
                TEL_UINT("connections_closed", n));
    event_base_loopexit(w->base, NULL);
}

static void worker_drain_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_worker *w = arg;
    struct timeval tv;
    int64_t ms = w->srv->cfg->limits.drain_timeout_ms;
    (void)fd;
    (void)what;
    if (w->draining)
        return;
    w->draining = true;
    if (w->listener) {
        evconnlistener_free(w->listener);
        w->listener = NULL;
    }
    for (struct proxy_conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        proxy_conn_drain(c);
    }
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
    evtimer_add(w->deadline_ev, &tv);
    worker_stop_if_done(w);
}

/* Log lines of a worker are batched (one write per flush, not per request) and flushed at
 * least this often. */
#define WORKER_LOG_FLUSH_MS 200

/* A load of at least this many connections that then falls to a quarter of it gives its
 * freed memory back to the system: once a second after the fall, and once more after the
 * idle upstream connections it left have timed out. */
#define WORKER_TRIM_CONNS 64

static void worker_trim(struct proxy_worker *w)
{
    if (w->conns_peak < WORKER_TRIM_CONNS || w->n_conns > w->conns_peak / 4) {
        w->low_since_ms = 0;
        w->trims = 0;
        return;
    }
    int64_t now = (int64_t)(proxy_now_ns() / 1000000);
    if (w->low_since_ms == 0)
        w->low_since_ms = now;
    int64_t low = now - w->low_since_ms;
    if ((w->trims == 0 && low >= 1000) ||
        (w->trims == 1 && low >= w->srv->cfg->limits.upstream_idle_timeout_ms + 1000)) {
        /* The spare guard states were made at the peak, scattered over the heap: kept, they
         * would pin most of its pages (about 850 KiB of them per worker after 1,000 streams). */
        proxy_filters_spares_free(w);
        proxy_outguard_spares_free(w);
        trim_heap();
        w->trims++;
    }
    if (w->trims == 2) {
        w->conns_peak = w->n_conns;
        w->low_since_ms = 0;
        w->trims = 0;
    }
}

static void worker_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tel_log_thread_flush();
    worker_trim(arg);
}

static void *worker_main(void *arg)
{
    struct proxy_worker *w = arg;
    struct timeval tick = {.tv_sec = 0, .tv_usec = WORKER_LOG_FLUSH_MS * 1000};
    worker_fd_records(w, WORKER_FD_RECORDS);
    tel_log_thread_buffer(true); /* lines unbatched when it fails: the tick flushes nothing */
    if (w->log_ev)
        evtimer_add(w->log_ev, &tick);
    event_base_dispatch(w->base);
    atomic_fetch_sub(&w->srv->running, 1);
    /* Whatever is still open after the drain deadline is closed here. */
    while (w->conns) {
        struct proxy_conn *c = w->conns;
        proxy_conn_close(c, false);
        event_base_loop(w->base, EVLOOP_NONBLOCK);
        if (w->conns == c) /* the deferred free did not run: do not spin */
            break;
    }
    tel_log_thread_buffer(false);
    return NULL;
}

/* One listening socket. With SO_REUSEPORT every worker has its own and the kernel spreads
 * connections across them. */
static int listen_socket(const struct addrinfo *ai, uint16_t port, evutil_socket_t *out)
{
    struct sockaddr_storage ss;
    int one = 1;
    int rc = 0;
    evutil_socket_t fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0)
        return -errno;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons(port);
    else if (ss.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    *out = fd;
    return 0;
}

static uint16_t bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static unsigned worker_count(const struct policy_config *cfg)
{
    if (cfg->workers > 0)
        return (unsigned)cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static void server_free(struct proxy_server *srv)
{
    if (srv == NULL)
        return;
    for (unsigned i = 0; srv->workers && i < srv->n_workers; i++) {
        struct proxy_worker *w = &srv->workers[i];
        if (w->listener)
            evconnlistener_free(w->listener);
        if (w->drain_ev)
            event_free(w->drain_ev);
        if (w->deadline_ev)
            event_free(w->deadline_ev);
        if (w->log_ev)
            event_free(w->log_ev);
        for (size_t u = 0; w->pools && u < srv->n_ups; u++)
            proxy_upool_deinit(&w->pools[u]);
        free(w->pools);
        proxy_deps_api_worker_end(w);
        proxy_filters_spares_free(w);
        proxy_outguard_spares_free(w);
        guard_prompt_scratch_free(w->prompt_scratch);
        policy_rules_unref(w->prompt_rules);
        guard_output_scratch_free(w->out_scratch);
        policy_rules_unref(w->out_rules);
        if (w->dns)
            evdns_base_free(w->dns, 0);
        if (w->base)
            event_base_free(w->base);
    }
    free(srv->workers);
    server_upstreams_free(srv);
    proxy_tls_server_free(srv->tls);
    policy_rules_unref(srv->prompt_rules);
    policy_rules_unref(srv->output_rules);
    proxy_obs_free(srv->obs);
    if (srv->audit) {
        int arc = tel_audit_close(srv->audit); /* every worker has stopped writing */
        if (arc != 0)
            tel_log(TEL_LOG_ERROR, "audit_close_failed", TEL_STR("detail", strerror(-arc)));
    }
    proxy_deps_api_server_free(srv);
    pthread_mutex_destroy(&srv->rules_lock);
    pthread_mutex_destroy(&srv->deps_lock);
    policy_config_unref(srv->cfg);
    free(srv);
}

/* Open the audit log the configuration asks for. 0, or < 0 with server_error set. */
static int server_audit_open(struct proxy_server *srv)
{
    const struct policy_config *cfg = srv->cfg;
    if (cfg->audit.path == NULL || cfg->audit.path[0] == '\0')
        return 0;
    const char *text = cfg->audit.key ? cfg->audit.key : getenv("WARDEN_AUDIT_KEY");
    uint8_t key[TEL_AUDIT_KEY_MAX];
    if (text == NULL || text[0] == '\0') {
        snprintf(server_error, sizeof(server_error),
                 "the audit log is on (%s) but has no key: set WARDEN_AUDIT_KEY (\"hex:...\" or "
                 "at least %d bytes of text) or audit.key",
                 cfg->audit.path, TEL_AUDIT_KEY_MIN);
        return -ENOKEY;
    }
    int n = tel_audit_key_parse(text, strlen(text), key, sizeof(key));
    if (n < 0) {
        snprintf(server_error, sizeof(server_error), "the audit key (%s) is not usable: %s",
                 cfg->audit.key ? "audit.key" : "WARDEN_AUDIT_KEY",
                 n == -EINVAL   ? "bad hex after \"hex:\""
                 : n == -ENOKEY ? "shorter than 16 bytes"
                                : "too long");
        return n;
    }
    unsigned q = 64;
    while (q < (unsigned)cfg->audit.queue)
        q <<= 1;
    struct tel_audit_opts opts = {.max_bytes = (uint64_t)cfg->audit.max_bytes,
                                  .keep = (unsigned)cfg->audit.keep,
                                  .queue_len = q};
    int rc = tel_audit_open(&srv->audit, cfg->audit.path, key, (size_t)n, &opts);
    memset(key, 0, sizeof(key));
    if (rc != 0)
        snprintf(server_error, sizeof(server_error), "cannot open the audit log %s: %s",
                 cfg->audit.path,
                 rc == -EKEYREJECTED ? "it was written with another key"
                 : rc == -EBADMSG    ? "the existing file is not a readable audit log"
                                     : strerror(-rc));
    return rc;
}

int proxy_server_start(struct policy_config *cfg, struct proxy_server **out)
{
    static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *ai = NULL;
    char port_s[8];
    int rc = 0;
    unsigned started = 0;
    heap_thresholds();
    struct proxy_server *srv = calloc(1, sizeof(*srv));
    server_error[0] = '\0';
    if (srv == NULL)
        return -ENOMEM;
    pthread_once(&threads_once, threads_init);
    pthread_mutex_init(&srv->rules_lock, NULL);
    pthread_mutex_init(&srv->deps_lock, NULL);
    srv->cfg = policy_config_ref(cfg);
    srv->n_workers = worker_count(cfg);
    srv->workers = calloc(srv->n_workers, sizeof(*srv->workers));
    srv->obs = proxy_obs_new();
    if (srv->workers == NULL || srv->obs == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = proxy_obs_export_start(srv->obs, cfg, server_error, sizeof(server_error))) != 0)
        goto fail;
    if ((rc = server_audit_open(srv)) != 0)
        goto fail;
    snprintf(port_s, sizeof(port_s), "%u", cfg->listen.port);
    int gai = getaddrinfo(cfg->listen.host[0] ? cfg->listen.host : NULL, port_s, &hints, &ai);
    if (gai != 0) {
        rc = gai == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
        snprintf(server_error, sizeof(server_error), "cannot listen on %s: %s", cfg->listen.text,
                 gai_strerror(gai));
        goto fail;
    }
    srv->port = cfg->listen.port;
    if ((rc = server_upstreams_init(srv)) != 0)
        goto fail;
    if (cfg->prompt_guard.enabled) {
        struct policy_error perr;
        char cache[PATH_MAX];
        const char *cdir = policy_cache_dir(cfg->prompt_guard.cache_dir, cache, sizeof(cache));
        if ((rc = policy_rules_load(POLICY_RULES_PROMPT, cfg->prompt_guard.rules_dir, cdir,
                                    &srv->prompt_rules, &perr)) != 0) {
            snprintf(server_error, sizeof(server_error), "%s", perr.msg);
            goto fail;
        }
        tel_log(TEL_LOG_INFO, "prompt_rules_loaded", TEL_UINT("rules", srv->prompt_rules->n),
                TEL_STR("rule_set", srv->prompt_rules->hash));
    }
    if (cfg->output_guard.enabled) {
        struct policy_error perr;
        char cache[PATH_MAX];
        const char *cdir = policy_cache_dir(cfg->prompt_guard.cache_dir, cache, sizeof(cache));
        if ((rc = policy_rules_load(POLICY_RULES_OUTPUT, cfg->output_guard.rules_dir, cdir,
                                    &srv->output_rules, &perr)) != 0 ||
            (rc = policy_output_policy(cfg, srv->output_rules, &srv->out_pol, &perr)) != 0) {
            snprintf(server_error, sizeof(server_error), "%s", perr.msg);
            goto fail;
        }
        tel_log(TEL_LOG_INFO, "output_rules_loaded", TEL_UINT("rules", srv->output_rules->n),
                TEL_STR("rule_set", srv->output_rules->hash));
    }
    /* Compiling the rule sets used many times the memory the databases keep: give it back
     * to the system, or the idle server carries it for its whole life. */
    trim_heap();
    if (cfg->tls.cert) {
        char err[300];
        if (proxy_tls_server_new(cfg->tls.cert, cfg->tls.key, &srv->tls, err, sizeof(err)) != 0) {
            snprintf(server_error, sizeof(server_error), "tls: %s", err);
            rc = -EINVAL;
            goto fail;
        }
    }
    for (unsigned i = 0; i < srv->n_workers; i++) {
        struct proxy_worker *w = &srv->workers[i];
        evutil_socket_t fd = -1;
        w->srv = srv;
        w->id = i;
        if (getrandom(&w->rng, sizeof(w->rng), 0) != (ssize_t)sizeof(w->rng) || w->rng == 0)
            w->rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)getpid() << 16) ^ i;
        rc = listen_socket(ai, srv->port, &fd);
        if (rc != 0) {
            snprintf(server_error, sizeof(server_error), "cannot listen on %s: %s",
                     cfg->listen.text, strerror(-rc));
            goto fail;
        }
        if (srv->port == 0)
            srv->port = bound_port(fd); /* the other workers join the same port */
        w->base = event_base_new();
        if (w->base == NULL) {
            close(fd);
            rc = -ENOMEM;
            goto fail;
        }
        w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                             EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (w->dns == NULL) /* no resolv.conf: numeric hosts and /etc/hosts still work */
            w->dns = evdns_base_new(w->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (w->dns)
            evdns_base_load_hosts(w->dns, NULL);
        w->pools = calloc(srv->n_ups ? srv->n_ups : 1, sizeof(*w->pools));
        if (srv->prompt_rules) {
            w->prompt_rules = policy_rules_ref(srv->prompt_rules);
            if ((w->prompt_scratch = guard_prompt_scratch_new(srv->prompt_rules->db)) == NULL) {
                close(fd);
                rc = -ENOMEM;
                goto fail;
            }
        }
        if (srv->output_rules) {
            w->out_rules = policy_rules_ref(srv->output_rules);
            if ((w->out_scratch = guard_output_scratch_new(srv->output_rules->out_db)) == NULL) {
                close(fd);
                rc = -ENOMEM;
                goto fail;
            }
        }
        if (w->dns == NULL || w->pools == NULL) {
            close(fd);
            rc = -ENOMEM;
            goto fail;
        }
        for (size_t u = 0; u < srv->n_ups; u++) {
            if ((rc = proxy_upool_init(&w->pools[u], w, &srv->ups[u])) != 0) {
                close(fd);
                goto fail;
            }
        }
        w->listener = evconnlistener_new(w->base, worker_accept_cb, w,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
        w->drain_ev = event_new(w->base, -1, 0, worker_drain_cb, w);
        w->deadline_ev = evtimer_new(w->base, worker_deadline_cb, w);
        w->log_ev = event_new(w->base, -1, EV_PERSIST, worker_tick_cb, w);
        if (w->listener == NULL) {
            close(fd);
            rc = -ENOMEM;
            goto fail;
        }
        if (w->drain_ev == NULL || w->deadline_ev == NULL) {
            rc = -ENOMEM;
            goto fail;
        }
        evconnlistener_set_error_cb(w->listener, worker_accept_error_cb);
    }
    /* Workers never take process signals; the main thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    atomic_store(&srv->running, srv->n_workers);
    for (; started < srv->n_workers; started++) {
        rc = -pthread_create(&srv->workers[started].thread, NULL, worker_main,
                             &srv->workers[started]);
        if (rc != 0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        atomic_fetch_sub(&srv->running, srv->n_workers - started);
        srv->n_workers = started;
        proxy_server_drain(srv);
        proxy_server_wait(srv);
        srv = NULL;
        goto fail;
    }
    freeaddrinfo(ai);
    tel_log(TEL_LOG_INFO, "listening", TEL_STR("host", cfg->listen.host),
            TEL_UINT("port", srv->port), TEL_UINT("workers", srv->n_workers));
    *out = srv;
    return 0;
fail:
    if (ai)
        freeaddrinfo(ai);
    server_free(srv);
    return rc;
}

int proxy_server_reload_rules(struct proxy_server *srv, char *err, size_t cap)
{
    struct policy_rules *fresh = NULL, *fresh_out = NULL, *old, *old_out;
    struct guard_output_policy pol;
    struct policy_error perr;
    const struct policy_config *cfg = srv->cfg;
    if (!cfg->prompt_guard.enabled && !cfg->output_guard.enabled)
        return 1; /* nothing to reload */
    char cache[PATH_MAX];
    const char *cdir = policy_cache_dir(cfg->prompt_guard.cache_dir, cache, sizeof(cache));
    if ((cfg->prompt_guard.enabled &&
         policy_rules_load(POLICY_RULES_PROMPT, cfg->prompt_guard.rules_dir, cdir, &fresh, &perr) !=
             0) ||
        (cfg->output_guard.enabled &&
         (policy_rules_load(POLICY_RULES_OUTPUT, cfg->output_guard.rules_dir, cdir, &fresh_out,
                            &perr) != 0 ||
          policy_output_policy(cfg, fresh_out, &pol, &perr) != 0))) {
        snprintf(err, cap, "%s", perr.msg);
        policy_rules_unref(fresh);
        policy_rules_unref(fresh_out);
        return -EINVAL;
    }
    pthread_mutex_lock(&srv->rules_lock);
    old = srv->prompt_rules;
    old_out = srv->output_rules;
    srv->prompt_rules = fresh;
    srv->output_rules = fresh_out;
    atomic_fetch_add(&srv->rules_gen, 1);
    pthread_mutex_unlock(&srv->rules_lock);
    policy_rules_unref(old);
    policy_rules_unref(old_out);
    trim_heap();
    return 0;
}

/* Take this worker's references to the sets of the newest reload. */
static void worker_refresh(struct proxy_worker *w)
{
    struct proxy_server *srv = w->srv;
    unsigned gen = atomic_load(&srv->rules_gen);
    if (gen == w->rules_gen)
        return;
    pthread_mutex_lock(&srv->rules_lock);
    struct policy_rules *r = policy_rules_ref(srv->prompt_rules);
    struct policy_rules *o = policy_rules_ref(srv->output_rules);
    gen = atomic_load(&srv->rules_gen);
    pthread_mutex_unlock(&srv->rules_lock);
    /* The scratches grow to serve the new sets as well as the old ones still in use. */
    int rc = 0;
    if (r)
        rc = w->prompt_scratch
                 ? guard_prompt_scratch_grow(w->prompt_scratch, r->db)
                 : ((w->prompt_scratch = guard_prompt_scratch_new(r->db)) ? 0 : -ENOMEM);
    if (rc == 0 && o)
        rc = w->out_scratch
                 ? guard_output_scratch_grow(w->out_scratch, o->out_db)
                 : ((w->out_scratch = guard_output_scratch_new(o->out_db)) ? 0 : -ENOMEM);
    if (rc != 0) {
        policy_rules_unref(r); /* keep scanning with the sets we have; retry later */
        policy_rules_unref(o);
        return;
    }
    policy_rules_unref(w->prompt_rules);
    policy_rules_unref(w->out_rules);
    proxy_filters_spare_scans_free(w); /* made for the old set */
    w->prompt_rules = r;
    w->out_rules = o;
    w->rules_gen = gen;
    tel_log(TEL_LOG_DEBUG, "worker_rules_updated", TEL_UINT("worker", w->id),
            TEL_STR("rule_set", r ? r->hash : ""), TEL_STR("output_set", o ? o->hash : ""));
}

struct policy_rules *proxy_worker_rules(struct proxy_worker *w)
{
    worker_refresh(w);
    return w->prompt_rules;
}

struct policy_rules *proxy_worker_output_rules(struct proxy_worker *w)
{
    worker_refresh(w);
    return w->out_rules;
}

void proxy_server_drain(struct proxy_server *srv)
{
    if (atomic_exchange(&srv->draining, true))
        return;
    for (unsigned i = 0; i < srv->n_workers; i++)
        event_active(srv->workers[i].drain_ev, 0, 0);
}

void proxy_server_stop_now(struct proxy_server *srv)
{
    proxy_server_drain(srv);
    /* The deadline event ends each loop; its callback closes nothing itself, the worker
     * closes what is left once its loop has returned. */
    for (unsigned i = 0; i < srv->n_workers; i++)
        event_active(srv->workers[i].deadline_ev, EV_TIMEOUT, 0);
}

unsigned proxy_server_running(struct proxy_server *srv)
{
    return atomic_load(&srv->running);
}

void proxy_server_wait(struct proxy_server *srv)
{
    for (unsigned i = 0; i < srv->n_workers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    server_free(srv);
}

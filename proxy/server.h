/* The server: SO_REUSEPORT listeners, one event loop per worker thread, graceful drain. */
#ifndef WARDEN_PROXY_SERVER_H
#define WARDEN_PROXY_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <event2/util.h>

#include "guards/output.h"

struct policy_config;
struct policy_upstream;
struct proxy_conn;
struct guard_prompt_scratch;
struct guard_prompt_scan;
struct guard_output_scratch;
struct policy_rules;
struct deps_corpus;
struct proxy_deps_job;
struct proxy_server;
struct event_base;
struct evconnlistener;
struct event;
struct evdns_base;
struct proxy_upool;
struct proxy_upstream_rt;
struct proxy_tls_server;

/* Guard states of each kind a worker keeps for its next requests. */
#define PROXY_WORKER_SPARES 32

struct proxy_worker {
    struct proxy_server *srv;
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    struct evconnlistener *listener;
    struct event *drain_ev;    /* activated from the main thread to start draining */
    struct event *deadline_ev; /* drain timeout */
    struct event *log_ev;      /* the tick: flushes batched log lines, trims the heap */
    struct proxy_conn *conns;  /* every open client connection */
    uint64_t n_conns;
    uint64_t conns_peak;        /* most connections at once since the heap was last trimmed */
    int64_t low_since_ms;       /* when the load fell below a quarter of that peak, or 0 */
    unsigned trims;             /* trims done since it fell (worker_trim) */
    evutil_socket_t fd_records; /* libevent's per-descriptor records made for 0..this-1 */
    bool draining;
    uint64_t rng;              /* request ids */
    struct evdns_base *dns;    /* upstream host names, resolved without blocking */
    struct proxy_upool *pools; /* one per configured upstream, same order */
    struct guard_prompt_scratch *prompt_scratch; /* Hyperscan scratch of this thread */
    struct policy_rules *prompt_rules;           /* this worker's reference to the rule set */
    struct guard_output_scratch *out_scratch;
    struct policy_rules *out_rules; /* this worker's reference to the output detectors */
    unsigned rules_gen;             /* which reload it is */
    /* Guard state of finished exchanges, kept for the next ones (at most PROXY_WORKER_SPARES
     * of each), so that idle connections hold none and busy ones do not allocate it. */
    struct proxy_body_filter *spare_filters;
    struct proxy_outguard *spare_outguards;
    unsigned n_spare_filters, n_spare_outguards;
    /* Prompt scans whose verdict is in, for the next requests: all made for one rule set. */
    struct guard_prompt_scan *spare_scans[PROXY_WORKER_SPARES];
    unsigned n_spare_scans;
    struct policy_rules *spare_scans_rules; /* a reference */
    struct proxy_deps_job *deps_jobs; /* POST /v1/scan/deps scans running (proxy/deps_api.c) */
    unsigned n_deps_jobs;
};

struct tel_audit;

struct proxy_server {
    struct policy_config *cfg; /* a reference, held for the server's life */
    struct proxy_worker *workers;
    unsigned n_workers;
    uint16_t port; /* the bound port (useful when configured as 0) */
    atomic_bool draining;
    atomic_uint running;           /* workers whose loop has not returned */
    struct proxy_tls_server *tls;  /* the listener's certificate, when TLS is configured */
    struct proxy_upstream_rt *ups; /* one per configured upstream, same order */
    size_t n_ups;
    /* The prompt rule set (NULL when the guard is disabled), swapped by a reload. Workers
     * take their own reference when rules_gen moves; requests finish on the set they began. */
    pthread_mutex_t rules_lock;
    struct policy_rules *prompt_rules;
    struct policy_rules *output_rules; /* NULL when the output guard is disabled */
    /* The supply-chain scanner's corpus, loaded by the first POST /v1/scan/deps. */
    pthread_mutex_t deps_lock;
    struct deps_corpus *deps_corpus;
    char deps_corpus_err[300];          /* why it did not load (then it is not tried again) */
    struct guard_output_policy out_pol; /* the configured output actions */
    atomic_uint rules_gen;
    struct proxy_obs *obs;   /* metrics of the data path (proxy/observe.c) */
    struct tel_audit *audit; /* the audit log, NULL when off */
};

/* Bind the listeners and start the workers. On success *out runs until
 * proxy_server_drain + proxy_server_wait. Returns 0, or a negative errno for the caller to
 * report (-EADDRINUSE, -EACCES, -EADDRNOTAVAIL for an address that does not resolve). */
int proxy_server_start(struct policy_config *cfg, struct proxy_server **out);

/* Stop accepting and let in-flight requests finish up to the drain timeout. Thread-safe;
 * may be called more than once. */
void proxy_server_drain(struct proxy_server *srv);

/* Why the last proxy_server_start of this thread failed, in one line. */
const char *proxy_server_error(void);

/* The worker's pool for a configured upstream (an element of cfg->upstreams). */
struct proxy_upool *proxy_worker_pool(struct proxy_worker *w, const struct policy_upstream *up);

/* Load the prompt rules and output detectors again (from their rules_dir, or the built-in
 * sets) and swap them in for new requests. Returns 0, 1 when both guards are off (nothing to
 * reload), or < 0 when the running sets stay and `err` says why. Thread-safe. */
int proxy_server_reload_rules(struct proxy_server *srv, char *err, size_t cap);

/* The rule set this worker scans with, brought up to date after a reload (NULL when the
 * prompt guard is disabled). Worker thread only. */
struct policy_rules *proxy_worker_rules(struct proxy_worker *w);

/* The output detectors this worker scans with (NULL when the output guard is disabled). */
struct policy_rules *proxy_worker_output_rules(struct proxy_worker *w);

/* Cut the drain short: every worker closes its connections and stops. Thread-safe. */
void proxy_server_stop_now(struct proxy_server *srv);

/* How many workers are still running (after a drain: not yet finished). */
unsigned proxy_server_running(struct proxy_server *srv);

/* Wait for every worker to finish, then free the server. */
void proxy_server_wait(struct proxy_server *srv);

/* Remove a connection from its worker (called when it is freed); ends the worker's loop
 * when draining and it was the last. */
void proxy_worker_conn_gone(struct proxy_worker *w, struct proxy_conn *c);

/* A fresh request id: 32 lowercase hex digits. */
void proxy_worker_request_id(struct proxy_worker *w, char out[33]);

/* 64 random bits from the worker's generator (unique, not secret). Worker thread only. */
uint64_t proxy_worker_random(struct proxy_worker *w);

#endif

/* Telemetry of the data path: each finished request recorded in the server's metrics (and,
 * with them, what the Prometheus endpoint shows). */
#ifndef WARDEN_PROXY_OBSERVE_H
#define WARDEN_PROXY_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

struct proxy_conn;
struct proxy_txn;
struct evbuffer;
struct tel_metrics;

/* The server's instruments over a registry it owns. NULL when out of memory. */
struct proxy_obs *proxy_obs_new(void);
void proxy_obs_free(struct proxy_obs *o);

struct policy_config;

/* Start OTLP export when the configuration or the OTEL_* environment names an endpoint, and
 * set the trace sampler. 0 (also when export stays off), or -EINVAL with err saying what is
 * wrong (an https endpoint, the grpc protocol, an unknown sampler, bad headers). */
int proxy_obs_export_start(struct proxy_obs *o, const struct policy_config *cfg, char *err,
                           size_t cap);

/* Record the connection's current request once it is answered (idempotent per request:
 * the first call counts). Proxied requests only; Warden's own endpoints are not counted. */
void proxy_obs_request_end(struct proxy_conn *c);

/* Start the request's trace: continue a valid incoming `traceparent`, else begin a new trace;
 * decide sampling (OTEL_TRACES_SAMPLER semantics); make the SERVER and CLIENT span ids.
 * Called once the request is routed. */
void proxy_obs_trace_begin(struct proxy_conn *c);

/* The `traceparent` value for the upstream call (the CLIENT span), NUL-terminated. */
void proxy_obs_traceparent(const struct proxy_txn *t, char out[56]);

/* Time spent inside Warden for this request so far, upstream time excluded: the guards, and
 * from the request's last byte to the upstream request leaving. */
uint64_t proxy_obs_overhead_ns(const struct proxy_txn *t);

/* The Prometheus text exposition of every instrument, appended to b. */
void proxy_obs_prometheus(const struct proxy_obs *o, struct evbuffer *b);

/* The registry, for the OTLP exporter. */
const struct tel_metrics *proxy_obs_metrics(const struct proxy_obs *o);

#endif

/* OTLP/HTTP exporter: finished spans queued by any thread, batched by size and time, and the
 * metrics registry read at an interval, sent as protobuf by one thread of its own; retries
 * with backoff, drops (counted) when the queue is full. Never blocks the caller. */
#ifndef WARDEN_TELEMETRY_EXPORT_H
#define WARDEN_TELEMETRY_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "telemetry/otlp.h"

struct tel_metrics;

struct tel_export_config {
    const char *traces_url;  /* "http://host:port/v1/traces"; NULL: spans are not exported */
    const char *metrics_url; /* "http://host:port/v1/metrics"; NULL: metrics are not exported */
    const char *headers;     /* "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS: values %-decoded) */
    const struct tel_attr *resource; /* resource attributes (copied), e.g. service.name */
    size_t n_resource;
    const char *scope_name; /* instrumentation scope ("warden"), copied */
    const char *scope_version;
    unsigned timeout_ms;               /* one export request, connect to last byte; 0: 10000 */
    unsigned batch_max;                /* spans per export (at most queue_max); 0: 512 */
    unsigned queue_max;                /* spans waiting; 0: 2048 (past it: dropped and counted) */
    unsigned delay_ms;                 /* longest wait before a partial batch is sent; 0: 5000 */
    unsigned metric_interval_ms;       /* 0: 60000 */
    unsigned max_retry_ms;             /* give an export up after retrying this long; 0: 30000 */
    const struct tel_metrics *metrics; /* exported every interval (NULL: none) */
    /* Called on the exporter's thread just before each metrics export (and never
     * concurrently with itself), e.g. to set gauges of the exporter's own state. */
    void (*before_metrics)(void *arg);
    void *before_metrics_arg;
};

struct tel_exporter;

/* Check the configuration (URLs must be http://; https is refused with a message saying so)
 * and start the exporter's thread. *out is set before the thread starts (before_metrics may
 * read it), NULL on failure. Returns 0, -EINVAL (err says what is wrong), -ENOMEM, or another
 * negative errno when the thread or its wake-up pipe cannot be made. */
int tel_exporter_new(const struct tel_export_config *cfg, struct tel_exporter **out, char *err,
                     size_t errlen);

/* Queue a finished span; it is deep-copied (strings, attributes, events) into one allocation.
 * Any thread; never blocks on I/O (it takes the queue's lock for a few pointer moves). Returns
 * 0 queued, 1 dropped: queue full, or a malformed span or one over 1 MiB (both counted in
 * spans_dropped), or no traces URL (not counted). */
int tel_exporter_span(struct tel_exporter *e, const struct tel_span *s);

/* Send what is queued and a last metrics export (bounded by timeout_ms, past which what is
 * left is dropped; a collector that cannot be reached is not retried; a name lookup in
 * progress cannot be cut short), stop the thread, free. No tel_exporter_span may run
 * concurrently. NULL is fine. */
void tel_exporter_free(struct tel_exporter *e);

struct tel_export_stats {
    uint64_t queued;         /* spans waiting now */
    uint64_t spans_sent;     /* accepted by the collector (2xx) */
    uint64_t spans_dropped;  /* queue full, or their export gave up */
    uint64_t metric_exports; /* metrics requests accepted */
    uint64_t failed;         /* export requests given up (after retries, or not retryable) */
    uint64_t retries;
};

/* Counters so far; any thread. */
void tel_exporter_stats(const struct tel_exporter *e, struct tel_export_stats *st);

#endif

/* Metrics registry: counters, gauges and histograms with labels, updated from every thread
 * without locks, rendered as Prometheus text and read back for OTLP export. */
#ifndef WARDEN_TELEMETRY_METRICS_H
#define WARDEN_TELEMETRY_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tel_metric_kind {
    TEL_METRIC_COUNTER = 0, /* monotonic sum */
    TEL_METRIC_GAUGE,
    TEL_METRIC_HISTOGRAM, /* explicit bounds, cumulative */
};

#define TEL_METRIC_LABELS   6         /* label names of one family */
#define TEL_METRIC_BOUNDS   24        /* bucket bounds of one histogram */
#define TEL_METRIC_SERIES   1024      /* label sets of one family; more go to one overflow set */
#define TEL_METRIC_VALUE    96        /* bytes of one label value kept (longer ones are cut) */
#define TEL_METRIC_OVERFLOW "_other_" /* every label value of the overflow set */

struct tel_metrics;
struct tel_metric_family;
struct tel_metric_series;

/* The description of a family. `name` is the OpenTelemetry name ("gen_ai.client.token.usage"),
 * `prom` the Prometheus one ("gen_ai_client_token_usage"); strings are copied. */
struct tel_metric_desc {
    const char *name;
    const char *prom;
    const char *help;
    const char *unit; /* UCUM: "s", "{token}", "{request}" */
    enum tel_metric_kind kind;
    const char *labels[TEL_METRIC_LABELS];      /* OpenTelemetry attribute names, NULL-terminated */
    const char *prom_labels[TEL_METRIC_LABELS]; /* Prometheus label names, same order */
    const double *bounds;                       /* histogram bucket upper bounds, ascending */
    size_t n_bounds;
};

struct tel_metrics *tel_metrics_new(void);
void tel_metrics_free(struct tel_metrics *m);

/* Declare a family (before the threads that update it start). NULL when out of memory, the
 * description is invalid, or the registry is full. */
struct tel_metric_family *tel_metrics_family(struct tel_metrics *m,
                                             const struct tel_metric_desc *d);

/* The series of these label values (one per label name; NULL counts as ""), made on first use.
 * Never NULL: past TEL_METRIC_SERIES label sets (or out of memory) the overflow series is
 * returned, so a client sending many model names cannot grow the registry. Lock-free to find;
 * adding takes the family's lock. The pointer stays valid until tel_metrics_free. */
struct tel_metric_series *tel_metric_series(struct tel_metric_family *f, const char *const *values);

void tel_metric_add(struct tel_metric_series *s, double v);     /* counter or gauge */
void tel_metric_set(struct tel_metric_series *s, double v);     /* gauge */
void tel_metric_observe(struct tel_metric_series *s, double v); /* histogram */

/* The Prometheus text exposition format (version 0.0.4) of every family, through `write`. */
void tel_metrics_prometheus(const struct tel_metrics *m,
                            void (*write)(void *arg, const char *p, size_t n), void *arg);

/* A consistent-enough read of one series for export (each number is read atomically). */
struct tel_metric_point {
    const char *const *values; /* label values, n_labels of them */
    double value;              /* counter or gauge */
    uint64_t count;            /* histogram */
    double sum;
    const uint64_t *buckets; /* n_bounds + 1 counts, not cumulative */
};

/* Visit every family and series (for OTLP export). `family` is called once per family with
 * its description, then `point` once per series. Series made during the visit may be missed. */
struct tel_metrics_visitor {
    void *arg;
    void (*family)(void *arg, const struct tel_metric_desc *d, size_t n_labels);
    void (*point)(void *arg, const struct tel_metric_desc *d, const struct tel_metric_point *p);
};
void tel_metrics_visit(const struct tel_metrics *m, const struct tel_metrics_visitor *v);

/* When the registry was made (unix ns): the start time of every cumulative series. */
uint64_t tel_metrics_start_ns(const struct tel_metrics *m);

#endif

/* OTLP/HTTP protobuf bodies: ExportTraceServiceRequest and ExportMetricsServiceRequest (OTLP 1.x).
 */
#ifndef WARDEN_TELEMETRY_OTLP_H
#define WARDEN_TELEMETRY_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "telemetry/pb.h"

/* Everything below is borrowed: the encoders read it and keep no pointer. Strings are
 * NUL-terminated; NULL reads as "" (and optional fields that are "" are left out). */

enum tel_attr_type {
    TEL_ATTR_T_STRING = 0,
    TEL_ATTR_T_BOOL,
    TEL_ATTR_T_INT,
    TEL_ATTR_T_DOUBLE,
    TEL_ATTR_T_STRING_ARRAY,
};

/* One attribute (KeyValue with an AnyValue). String values are slices (ptr may be NULL when
 * len is 0); string arrays are NUL-terminated strings. */
struct tel_attr {
    const char *key;
    enum tel_attr_type type;
    union {
        struct {
            const char *ptr;
            size_t len;
        } str;
        bool b;
        int64_t i;
        double d;
        struct {
            const char *const *items;
            size_t n;
        } strs;
    } v;
};

/* Attribute constructors, for compound literals and arrays. */
static inline struct tel_attr tel_attr_strn(const char *key, const char *s, size_t len)
{
    return (struct tel_attr){.key = key, .type = TEL_ATTR_T_STRING, .v.str = {s, len}};
}
static inline struct tel_attr tel_attr_str(const char *key, const char *s)
{
    return tel_attr_strn(key, s, s != NULL ? strlen(s) : 0);
}
static inline struct tel_attr tel_attr_bool(const char *key, bool b)
{
    return (struct tel_attr){.key = key, .type = TEL_ATTR_T_BOOL, .v.b = b};
}
static inline struct tel_attr tel_attr_int(const char *key, int64_t i)
{
    return (struct tel_attr){.key = key, .type = TEL_ATTR_T_INT, .v.i = i};
}
static inline struct tel_attr tel_attr_double(const char *key, double d)
{
    return (struct tel_attr){.key = key, .type = TEL_ATTR_T_DOUBLE, .v.d = d};
}
static inline struct tel_attr tel_attr_strs(const char *key, const char *const *items, size_t n)
{
    return (struct tel_attr){.key = key, .type = TEL_ATTR_T_STRING_ARRAY, .v.strs = {items, n}};
}

/* The entity producing telemetry (service.name, service.version, ...). */
struct tel_otlp_resource {
    const struct tel_attr *attrs;
    size_t n_attrs;
};

/* The instrumentation scope (InstrumentationScope: name, version). */
struct tel_otlp_scope {
    const char *name;
    const char *version;
};

/* Span.SpanKind values. */
enum tel_span_kind {
    TEL_SPAN_KIND_UNSPECIFIED = 0,
    TEL_SPAN_KIND_INTERNAL = 1,
    TEL_SPAN_KIND_SERVER = 2,
    TEL_SPAN_KIND_CLIENT = 3,
    TEL_SPAN_KIND_PRODUCER = 4,
    TEL_SPAN_KIND_CONSUMER = 5,
};

/* Status.StatusCode values. */
enum tel_span_status {
    TEL_SPAN_STATUS_UNSET = 0,
    TEL_SPAN_STATUS_OK = 1,
    TEL_SPAN_STATUS_ERROR = 2,
};

/* Span.flags bits: the low 8 are the W3C trace flags; bits 8-9 say whether the parent is
 * remote (SpanFlags in trace.proto). */
#define TEL_SPAN_F_SAMPLED       0x01u
#define TEL_SPAN_F_HAS_IS_REMOTE 0x100u
#define TEL_SPAN_F_IS_REMOTE     0x200u

/* A timed event on a span (Span.Event), e.g. gen_ai.evaluation.result. */
struct tel_span_event {
    const char *name;
    uint64_t time_unix_nano;
    const struct tel_attr *attrs;
    size_t n_attrs;
};

/* A finished span. An all-zero parent_span_id means a root span; trace_state may be NULL. */
struct tel_span {
    uint8_t trace_id[16];
    uint8_t span_id[8];
    uint8_t parent_span_id[8];
    const char *trace_state;
    uint32_t flags; /* TEL_SPAN_F_* */
    const char *name;
    enum tel_span_kind kind;
    uint64_t start_time_unix_nano;
    uint64_t end_time_unix_nano;
    const struct tel_attr *attrs;
    size_t n_attrs;
    const struct tel_span_event *events;
    size_t n_events;
    enum tel_span_status status;
    const char *status_message;
};

enum tel_otlp_metric_type {
    TEL_OTLP_SUM = 0, /* cumulative; monotonic or not */
    TEL_OTLP_GAUGE,
    TEL_OTLP_HISTOGRAM, /* cumulative, explicit bounds */
};

/* One Sum or Gauge data point (NumberDataPoint): an int64 or a double value.
 * start_time_unix_nano 0 is left out (gauges need none). */
struct tel_otlp_number_point {
    const struct tel_attr *attrs;
    size_t n_attrs;
    uint64_t start_time_unix_nano;
    uint64_t time_unix_nano;
    bool is_double;
    union {
        int64_t i;
        double d;
    } v;
};

/* One Histogram data point. bucket_counts has n_bounds + 1 entries (or both are 0); bucket i
 * counts values in (bounds[i-1], bounds[i]]. min and max are sent when has_min_max. */
struct tel_otlp_histogram_point {
    const struct tel_attr *attrs;
    size_t n_attrs;
    uint64_t start_time_unix_nano;
    uint64_t time_unix_nano;
    uint64_t count;
    double sum;
    const uint64_t *bucket_counts;
    size_t n_buckets;
    const double *bounds;
    size_t n_bounds;
    bool has_min_max;
    double min;
    double max;
};

/* One metric with its points: `points` for SUM and GAUGE, `hist_points` for HISTOGRAM, both
 * counted by n_points. */
struct tel_otlp_metric {
    const char *name;
    const char *description;
    const char *unit;
    enum tel_otlp_metric_type type;
    bool monotonic; /* SUM only */
    const struct tel_otlp_number_point *points;
    const struct tel_otlp_histogram_point *hist_points;
    size_t n_points;
};

/* Encode an ExportTraceServiceRequest with one ResourceSpans (resource `res`, may be NULL)
 * holding one ScopeSpans (`scope`, may be NULL) of spans[0..n). `out` is reset first and
 * holds the body on success (tel_pbuf_init it with the body cap). Returns 0, -E2BIG when the
 * body would pass out's cap, -ENOMEM, or -EINVAL for a malformed input (unknown attribute
 * type, NULL array with a non-zero count). */
int tel_otlp_traces_encode(const struct tel_otlp_resource *res, const struct tel_otlp_scope *scope,
                           const struct tel_span *spans, size_t n, struct tel_pbuf *out);

/* Encode an ExportMetricsServiceRequest with one ResourceMetrics / ScopeMetrics holding
 * metrics[0..n). Same ownership and returns as tel_otlp_traces_encode; a histogram point whose
 * bucket count is not n_bounds + 1 (or 0) is -EINVAL. */
int tel_otlp_metrics_encode(const struct tel_otlp_resource *res, const struct tel_otlp_scope *scope,
                            const struct tel_otlp_metric *metrics, size_t n, struct tel_pbuf *out);

#endif

/* OTLP protobuf encoders for trace and metric export requests, field numbers of OTLP 1.x. */
#include "telemetry/otlp.h"

#include <errno.h>

/* Field numbers of opentelemetry-proto (collector, trace/v1, metrics/v1, common/v1,
 * resource/v1). Only the fields written here are listed. */
enum {
    /* ExportTraceServiceRequest, ExportMetricsServiceRequest */
    F_REQ_RESOURCE_DATA = 1,
    /* ResourceSpans / ResourceMetrics */
    F_RES_RESOURCE = 1,
    F_RES_SCOPE_DATA = 2,
    /* ScopeSpans / ScopeMetrics */
    F_SCOPE_SCOPE = 1,
    F_SCOPE_ITEMS = 2,
    /* Resource */
    F_RESOURCE_ATTRS = 1,
    /* InstrumentationScope */
    F_IS_NAME = 1,
    F_IS_VERSION = 2,
    /* KeyValue */
    F_KV_KEY = 1,
    F_KV_VALUE = 2,
    /* AnyValue */
    F_AV_STRING = 1,
    F_AV_BOOL = 2,
    F_AV_INT = 3,
    F_AV_DOUBLE = 4,
    F_AV_ARRAY = 5,
    /* ArrayValue */
    F_ARRAY_VALUES = 1,
    /* Span */
    F_SPAN_TRACE_ID = 1,
    F_SPAN_SPAN_ID = 2,
    F_SPAN_TRACE_STATE = 3,
    F_SPAN_PARENT_ID = 4,
    F_SPAN_NAME = 5,
    F_SPAN_KIND = 6,
    F_SPAN_START = 7,
    F_SPAN_END = 8,
    F_SPAN_ATTRS = 9,
    F_SPAN_EVENTS = 11,
    F_SPAN_STATUS = 15,
    F_SPAN_FLAGS = 16,
    /* Span.Event */
    F_EVENT_TIME = 1,
    F_EVENT_NAME = 2,
    F_EVENT_ATTRS = 3,
    /* Status */
    F_STATUS_MESSAGE = 2,
    F_STATUS_CODE = 3,
    /* Metric */
    F_METRIC_NAME = 1,
    F_METRIC_DESCRIPTION = 2,
    F_METRIC_UNIT = 3,
    F_METRIC_GAUGE = 5,
    F_METRIC_SUM = 7,
    F_METRIC_HISTOGRAM = 9,
    /* Gauge, Sum, Histogram */
    F_AGG_POINTS = 1,
    F_AGG_TEMPORALITY = 2,
    F_SUM_MONOTONIC = 3,
    /* NumberDataPoint */
    F_NDP_START = 2,
    F_NDP_TIME = 3,
    F_NDP_AS_DOUBLE = 4,
    F_NDP_AS_INT = 6,
    F_NDP_ATTRS = 7,
    /* HistogramDataPoint */
    F_HDP_START = 2,
    F_HDP_TIME = 3,
    F_HDP_COUNT = 4,
    F_HDP_SUM = 5,
    F_HDP_BUCKETS = 6,
    F_HDP_BOUNDS = 7,
    F_HDP_ATTRS = 9,
    F_HDP_MIN = 11,
    F_HDP_MAX = 12,
};

/* AggregationTemporality: every instrument here is cumulative. */
#define TEMPORALITY_CUMULATIVE 2

static void fail(struct tel_pbuf *out, int err)
{
    if (out->err == 0)
        out->err = err;
}

static bool empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static void put_opt_string(struct tel_pbuf *out, uint32_t field, const char *s)
{
    if (!empty(s))
        tel_pb_string(out, field, s);
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

static void put_attr(struct tel_pbuf *out, uint32_t field, const struct tel_attr *a)
{
    size_t kv = tel_pb_begin(out, field);
    tel_pb_string(out, F_KV_KEY, a->key);
    size_t av = tel_pb_begin(out, F_KV_VALUE);
    switch (a->type) {
    case TEL_ATTR_T_STRING:
        if (a->v.str.ptr == NULL && a->v.str.len > 0)
            fail(out, -EINVAL);
        else
            tel_pb_bytes(out, F_AV_STRING, a->v.str.ptr, a->v.str.len);
        break;
    case TEL_ATTR_T_BOOL:
        tel_pb_bool(out, F_AV_BOOL, a->v.b);
        break;
    case TEL_ATTR_T_INT:
        tel_pb_varint(out, F_AV_INT, (uint64_t)a->v.i);
        break;
    case TEL_ATTR_T_DOUBLE:
        tel_pb_double(out, F_AV_DOUBLE, a->v.d);
        break;
    case TEL_ATTR_T_STRING_ARRAY: {
        if (a->v.strs.items == NULL && a->v.strs.n > 0) {
            fail(out, -EINVAL);
            break;
        }
        size_t arr = tel_pb_begin(out, F_AV_ARRAY);
        for (size_t i = 0; i < a->v.strs.n && out->err == 0; i++) {
            size_t item = tel_pb_begin(out, F_ARRAY_VALUES);
            tel_pb_string(out, F_AV_STRING, a->v.strs.items[i]);
            tel_pb_end(out, item);
        }
        tel_pb_end(out, arr);
        break;
    }
    default:
        fail(out, -EINVAL);
        break;
    }
    tel_pb_end(out, av);
    tel_pb_end(out, kv);
}

static void put_attrs(struct tel_pbuf *out, uint32_t field, const struct tel_attr *attrs, size_t n)
{
    if (attrs == NULL && n > 0) {
        fail(out, -EINVAL);
        return;
    }
    for (size_t i = 0; i < n && out->err == 0; i++)
        put_attr(out, field, &attrs[i]);
}

/* ResourceSpans / ResourceMetrics up to the start of the items; returns the two open marks
 * (resource data, scope data) for close_envelope. */
static void open_envelope(struct tel_pbuf *out, const struct tel_otlp_resource *res,
                          const struct tel_otlp_scope *scope, size_t marks[2])
{
    marks[0] = tel_pb_begin(out, F_REQ_RESOURCE_DATA);
    if (res != NULL) {
        size_t r = tel_pb_begin(out, F_RES_RESOURCE);
        put_attrs(out, F_RESOURCE_ATTRS, res->attrs, res->n_attrs);
        tel_pb_end(out, r);
    }
    marks[1] = tel_pb_begin(out, F_RES_SCOPE_DATA);
    if (scope != NULL) {
        size_t s = tel_pb_begin(out, F_SCOPE_SCOPE);
        put_opt_string(out, F_IS_NAME, scope->name);
        put_opt_string(out, F_IS_VERSION, scope->version);
        tel_pb_end(out, s);
    }
}

static int close_envelope(struct tel_pbuf *out, const size_t marks[2])
{
    tel_pb_end(out, marks[1]);
    return tel_pb_end(out, marks[0]);
}

static void put_event(struct tel_pbuf *out, const struct tel_span_event *ev)
{
    size_t m = tel_pb_begin(out, F_SPAN_EVENTS);
    tel_pb_fixed64(out, F_EVENT_TIME, ev->time_unix_nano);
    tel_pb_string(out, F_EVENT_NAME, ev->name);
    put_attrs(out, F_EVENT_ATTRS, ev->attrs, ev->n_attrs);
    tel_pb_end(out, m);
}

static void put_span(struct tel_pbuf *out, const struct tel_span *s)
{
    size_t m = tel_pb_begin(out, F_SCOPE_ITEMS);
    tel_pb_bytes(out, F_SPAN_TRACE_ID, s->trace_id, sizeof(s->trace_id));
    tel_pb_bytes(out, F_SPAN_SPAN_ID, s->span_id, sizeof(s->span_id));
    put_opt_string(out, F_SPAN_TRACE_STATE, s->trace_state);
    if (!all_zero(s->parent_span_id, sizeof(s->parent_span_id)))
        tel_pb_bytes(out, F_SPAN_PARENT_ID, s->parent_span_id, sizeof(s->parent_span_id));
    tel_pb_string(out, F_SPAN_NAME, s->name);
    if (s->kind != TEL_SPAN_KIND_UNSPECIFIED)
        tel_pb_varint(out, F_SPAN_KIND, (uint64_t)s->kind);
    tel_pb_fixed64(out, F_SPAN_START, s->start_time_unix_nano);
    tel_pb_fixed64(out, F_SPAN_END, s->end_time_unix_nano);
    put_attrs(out, F_SPAN_ATTRS, s->attrs, s->n_attrs);
    if (s->events == NULL && s->n_events > 0)
        fail(out, -EINVAL);
    for (size_t i = 0; i < s->n_events && out->err == 0; i++)
        put_event(out, &s->events[i]);
    if (s->status != TEL_SPAN_STATUS_UNSET || !empty(s->status_message)) {
        size_t st = tel_pb_begin(out, F_SPAN_STATUS);
        put_opt_string(out, F_STATUS_MESSAGE, s->status_message);
        if (s->status != TEL_SPAN_STATUS_UNSET)
            tel_pb_varint(out, F_STATUS_CODE, (uint64_t)s->status);
        tel_pb_end(out, st);
    }
    if (s->flags != 0)
        tel_pb_fixed32(out, F_SPAN_FLAGS, s->flags);
    tel_pb_end(out, m);
}

int tel_otlp_traces_encode(const struct tel_otlp_resource *res, const struct tel_otlp_scope *scope,
                           const struct tel_span *spans, size_t n, struct tel_pbuf *out)
{
    size_t marks[2];
    tel_pbuf_reset(out);
    if (spans == NULL && n > 0) {
        fail(out, -EINVAL);
        goto out;
    }
    open_envelope(out, res, scope, marks);
    for (size_t i = 0; i < n && out->err == 0; i++)
        put_span(out, &spans[i]);
    close_envelope(out, marks);
out:
    return out->err;
}

static void put_number_point(struct tel_pbuf *out, const struct tel_otlp_number_point *p)
{
    size_t m = tel_pb_begin(out, F_AGG_POINTS);
    if (p->start_time_unix_nano != 0)
        tel_pb_fixed64(out, F_NDP_START, p->start_time_unix_nano);
    tel_pb_fixed64(out, F_NDP_TIME, p->time_unix_nano);
    /* as_double / as_int are a oneof: written even when zero, so the type is known. */
    if (p->is_double)
        tel_pb_double(out, F_NDP_AS_DOUBLE, p->v.d);
    else
        tel_pb_fixed64(out, F_NDP_AS_INT, (uint64_t)p->v.i); /* sfixed64 */
    put_attrs(out, F_NDP_ATTRS, p->attrs, p->n_attrs);
    tel_pb_end(out, m);
}

static void put_histogram_point(struct tel_pbuf *out, const struct tel_otlp_histogram_point *p)
{
    if ((p->n_buckets != 0 || p->n_bounds != 0) && p->n_buckets != p->n_bounds + 1) {
        fail(out, -EINVAL);
        return;
    }
    if ((p->bucket_counts == NULL && p->n_buckets > 0) || (p->bounds == NULL && p->n_bounds > 0)) {
        fail(out, -EINVAL);
        return;
    }
    size_t m = tel_pb_begin(out, F_AGG_POINTS);
    if (p->start_time_unix_nano != 0)
        tel_pb_fixed64(out, F_HDP_START, p->start_time_unix_nano);
    tel_pb_fixed64(out, F_HDP_TIME, p->time_unix_nano);
    tel_pb_fixed64(out, F_HDP_COUNT, p->count);
    tel_pb_double(out, F_HDP_SUM, p->sum); /* proto3 optional: always present here */
    tel_pb_packed_fixed64(out, F_HDP_BUCKETS, p->bucket_counts, p->n_buckets);
    tel_pb_packed_double(out, F_HDP_BOUNDS, p->bounds, p->n_bounds);
    put_attrs(out, F_HDP_ATTRS, p->attrs, p->n_attrs);
    if (p->has_min_max) {
        tel_pb_double(out, F_HDP_MIN, p->min);
        tel_pb_double(out, F_HDP_MAX, p->max);
    }
    tel_pb_end(out, m);
}

static void put_metric(struct tel_pbuf *out, const struct tel_otlp_metric *mt)
{
    size_t m = tel_pb_begin(out, F_SCOPE_ITEMS);
    tel_pb_string(out, F_METRIC_NAME, mt->name);
    put_opt_string(out, F_METRIC_DESCRIPTION, mt->description);
    put_opt_string(out, F_METRIC_UNIT, mt->unit);
    size_t agg;
    switch (mt->type) {
    case TEL_OTLP_SUM:
    case TEL_OTLP_GAUGE:
        if (mt->points == NULL && mt->n_points > 0) {
            fail(out, -EINVAL);
            break;
        }
        agg = tel_pb_begin(out, mt->type == TEL_OTLP_SUM ? F_METRIC_SUM : F_METRIC_GAUGE);
        for (size_t i = 0; i < mt->n_points && out->err == 0; i++)
            put_number_point(out, &mt->points[i]);
        if (mt->type == TEL_OTLP_SUM) {
            tel_pb_varint(out, F_AGG_TEMPORALITY, TEMPORALITY_CUMULATIVE);
            if (mt->monotonic)
                tel_pb_bool(out, F_SUM_MONOTONIC, true);
        }
        tel_pb_end(out, agg);
        break;
    case TEL_OTLP_HISTOGRAM:
        if (mt->hist_points == NULL && mt->n_points > 0) {
            fail(out, -EINVAL);
            break;
        }
        agg = tel_pb_begin(out, F_METRIC_HISTOGRAM);
        for (size_t i = 0; i < mt->n_points && out->err == 0; i++)
            put_histogram_point(out, &mt->hist_points[i]);
        tel_pb_varint(out, F_AGG_TEMPORALITY, TEMPORALITY_CUMULATIVE);
        tel_pb_end(out, agg);
        break;
    default:
        fail(out, -EINVAL);
        break;
    }
    tel_pb_end(out, m);
}

int tel_otlp_metrics_encode(const struct tel_otlp_resource *res, const struct tel_otlp_scope *scope,
                            const struct tel_otlp_metric *metrics, size_t n, struct tel_pbuf *out)
{
    size_t marks[2];
    tel_pbuf_reset(out);
    if (metrics == NULL && n > 0) {
        fail(out, -EINVAL);
        goto out;
    }
    open_envelope(out, res, scope, marks);
    for (size_t i = 0; i < n && out->err == 0; i++)
        put_metric(out, &metrics[i]);
    close_envelope(out, marks);
out:
    return out->err;
}

/* Unit tests for the protobuf writer and the OTLP encoders: known answers, nesting, caps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/otlp.h"
#include "telemetry/pb.h"

#define BYTES(...) ((const uint8_t[]){__VA_ARGS__}), sizeof((const uint8_t[]){__VA_ARGS__})

/* Compare the buffer with the expected bytes, printing the first difference. */
static void expect_bytes(const struct tel_pbuf *b, const uint8_t *want, size_t n)
{
    assert_int_equal(b->err, 0);
    size_t i = 0;
    while (i < n && i < b->len && b->data[i] == want[i])
        i++;
    if (i < n || b->len != n) {
        fprintf(stderr, "length %zu (want %zu), first difference at byte %zu\n", b->len, n, i);
        for (size_t j = 0; j < b->len; j++)
            fprintf(stderr, "%02x%s", b->data[j], j + 1 == b->len ? "\n" : " ");
    }
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
}

static void check_varint(uint64_t v, const uint8_t *want, size_t n)
{
    struct tel_pbuf b;
    tel_pbuf_init(&b, 64);
    assert_int_equal(tel_pb_put_varint(&b, v), 0);
    expect_bytes(&b, want, n);
    assert_int_equal(tel_pb_varint_size(v), n);
    tel_pbuf_deinit(&b);
}

static void test_varint(void **state)
{
    (void)state;
    check_varint(0, BYTES(0x00));
    check_varint(1, BYTES(0x01));
    check_varint(127, BYTES(0x7f));
    check_varint(128, BYTES(0x80, 0x01));
    check_varint(300, BYTES(0xac, 0x02));
    check_varint(16383, BYTES(0xff, 0x7f));
    check_varint(16384, BYTES(0x80, 0x80, 0x01));
    check_varint(2097151, BYTES(0xff, 0xff, 0x7f));
    check_varint(2097152, BYTES(0x80, 0x80, 0x80, 0x01));
    check_varint(UINT32_MAX, BYTES(0xff, 0xff, 0xff, 0xff, 0x0f));
    check_varint((uint64_t)1 << 63,
                 BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01));
    check_varint(UINT64_MAX, BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
    /* int64 -1 as protobuf int64: ten bytes. */
    check_varint((uint64_t)(int64_t)-1,
                 BYTES(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
}

static void test_fields(void **state)
{
    (void)state;
    struct tel_pbuf b;
    tel_pbuf_init(&b, 1024);

    tel_pb_varint(&b, 1, 150);
    expect_bytes(&b, BYTES(0x08, 0x96, 0x01));
    tel_pbuf_reset(&b);

    tel_pb_bool(&b, 3, true);
    tel_pb_bool(&b, 2, false);
    expect_bytes(&b, BYTES(0x18, 0x01, 0x10, 0x00));
    tel_pbuf_reset(&b);

    /* Field 16 needs a two-byte tag: (16 << 3) | 5 = 133. */
    tel_pb_fixed32(&b, 16, 0x01020304);
    expect_bytes(&b, BYTES(0x85, 0x01, 0x04, 0x03, 0x02, 0x01));
    tel_pbuf_reset(&b);

    tel_pb_fixed64(&b, 7, 0x0102030405060708ull);
    expect_bytes(&b, BYTES(0x39, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01));
    tel_pbuf_reset(&b);

    tel_pb_double(&b, 4, 1.0);
    tel_pb_double(&b, 4, -2.5);
    expect_bytes(&b, BYTES(0x21, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x21, 0, 0, 0, 0, 0, 0, 0x04, 0xc0));
    tel_pbuf_reset(&b);

    tel_pb_string(&b, 2, "testing");
    tel_pb_string(&b, 1, NULL);
    tel_pb_bytes(&b, 3, NULL, 0);
    expect_bytes(&b, BYTES(0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g', 0x0a, 0x00, 0x1a, 0x00));
    tel_pbuf_reset(&b);

    const uint64_t counts[] = {1, 0x0200};
    const double bounds[] = {0.5};
    tel_pb_packed_fixed64(&b, 6, counts, 2);
    tel_pb_packed_double(&b, 7, bounds, 1);
    tel_pb_packed_double(&b, 8, bounds, 0); /* nothing */
    expect_bytes(&b, BYTES(0x32, 0x10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x3a, 0x08,
                           0, 0, 0, 0, 0, 0, 0xe0, 0x3f));
    tel_pbuf_deinit(&b);
}

static void test_nested_small(void **state)
{
    (void)state;
    struct tel_pbuf b;
    tel_pbuf_init(&b, 1024);
    size_t m = tel_pb_begin(&b, 3);
    tel_pb_varint(&b, 1, 150);
    assert_int_equal(tel_pb_end(&b, m), 0);
    expect_bytes(&b, BYTES(0x1a, 0x03, 0x08, 0x96, 0x01));
    tel_pbuf_reset(&b);

    /* Empty message, and one nested in another. */
    size_t outer = tel_pb_begin(&b, 1);
    size_t inner = tel_pb_begin(&b, 2);
    tel_pb_end(&b, inner);
    tel_pb_end(&b, outer);
    expect_bytes(&b, BYTES(0x0a, 0x02, 0x12, 0x00));
    tel_pbuf_deinit(&b);
}

/* Read a varint at *p (bounded by end); returns false when truncated. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* Nested lengths across the one/two/three-byte boundaries, two levels deep, so that the inner
 * end moves the body and the outer end moves the moved body again. */
static void test_nested_boundaries(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 124, 125, 126, 127, 128, 129, 16380, 16383, 16384, 20000};
    uint8_t *payload = malloc(20000);
    assert_non_null(payload);
    for (size_t i = 0; i < 20000; i++)
        payload[i] = (uint8_t)(i * 31 + 7);
    struct tel_pbuf b;
    tel_pbuf_init(&b, 1 << 20);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        tel_pbuf_reset(&b);
        size_t outer = tel_pb_begin(&b, 1);
        size_t inner = tel_pb_begin(&b, 2);
        tel_pb_put(&b, payload, n);
        tel_pb_end(&b, inner);
        tel_pb_varint(&b, 3, 1);
        assert_int_equal(tel_pb_end(&b, outer), 0);

        const uint8_t *p = b.data, *end = b.data + b.len;
        uint64_t v;
        assert_true(read_varint(&p, end, &v) && v == 0x0a);
        assert_true(read_varint(&p, end, &v));
        assert_int_equal(v, (uint64_t)(end - p));
        size_t outer_len = (size_t)v;
        assert_true(read_varint(&p, end, &v) && v == 0x12);
        assert_true(read_varint(&p, end, &v));
        assert_int_equal(v, n);
        assert_int_equal(outer_len, tel_pb_varint_size(n) + 1 + n + 2);
        assert_memory_equal(p, payload, n);
        p += n;
        assert_true(end - p == 2 && p[0] == 0x18 && p[1] == 0x01);
    }
    tel_pbuf_deinit(&b);
    free(payload);
}

static void test_cap(void **state)
{
    (void)state;
    struct tel_pbuf b;
    tel_pbuf_init(&b, 4);
    assert_int_equal(tel_pb_varint(&b, 1, 1), 0);
    assert_int_equal(tel_pb_string(&b, 2, "abc"), -E2BIG);
    /* Sticky: later writes that would fit do nothing and report the error. */
    assert_int_equal(tel_pb_varint(&b, 1, 1), -E2BIG);
    assert_true(b.len <= 4);
    tel_pbuf_reset(&b);
    assert_int_equal(b.err, 0);

    /* The body fits in the cap with a one-byte length but not with the two-byte one. */
    tel_pbuf_deinit(&b);
    tel_pbuf_init(&b, 130);
    uint8_t body[128] = {0};
    size_t m = tel_pb_begin(&b, 1);
    tel_pb_put(&b, body, sizeof(body));
    assert_int_equal(b.len, 130);
    assert_int_equal(tel_pb_end(&b, m), -E2BIG);
    tel_pbuf_deinit(&b);
    tel_pbuf_deinit(NULL);

    uint64_t big[10];
    memset(big, 0, sizeof(big));
    tel_pbuf_init(&b, 40);
    assert_int_equal(tel_pb_packed_fixed64(&b, 1, big, 10), -E2BIG);
    tel_pbuf_deinit(&b);
}

static const uint8_t TRACE_ID[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const uint8_t SPAN_ID[8] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8};

/* One span with one attribute and an error status, byte for byte (worked out by hand from
 * trace.proto, common.proto and resource.proto). */
static void test_tiny_span(void **state)
{
    (void)state;
    const struct tel_attr res_attrs[] = {tel_attr_str("service.name", "w")};
    const struct tel_otlp_resource res = {res_attrs, 1};
    const struct tel_otlp_scope scope = {"s", NULL};
    const struct tel_attr attrs[] = {tel_attr_int("k", 5)};
    struct tel_span s = {
        .flags = TEL_SPAN_F_SAMPLED,
        .name = "x",
        .kind = TEL_SPAN_KIND_SERVER,
        .start_time_unix_nano = 1,
        .end_time_unix_nano = 2,
        .attrs = attrs,
        .n_attrs = 1,
        .status = TEL_SPAN_STATUS_ERROR,
        .status_message = "e",
    };
    memcpy(s.trace_id, TRACE_ID, 16);
    memcpy(s.span_id, SPAN_ID, 8);

    /* clang-format off */
    static const uint8_t want[] = {
        0x0a, 0x69,                         /* ResourceSpans, 105 bytes */
        0x0a, 0x15,                         /*  resource, 21 */
        0x0a, 0x13,                         /*   attributes: KeyValue, 19 */
        0x0a, 0x0c, 's', 'e', 'r', 'v', 'i', 'c', 'e', '.', 'n', 'a', 'm', 'e', /* key */
        0x12, 0x03, 0x0a, 0x01, 'w',        /*    value: string_value "w" */
        0x12, 0x50,                         /*  scope_spans, 80 */
        0x0a, 0x03, 0x0a, 0x01, 's',        /*   scope: name "s" */
        0x12, 0x49,                         /*   spans: Span, 73 */
        0x0a, 0x10,                         /*    trace_id */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        0x12, 0x08,                         /*    span_id */
        0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8,
        0x2a, 0x01, 'x',                    /*    name */
        0x30, 0x02,                         /*    kind SERVER */
        0x39, 1, 0, 0, 0, 0, 0, 0, 0,       /*    start_time_unix_nano */
        0x41, 2, 0, 0, 0, 0, 0, 0, 0,       /*    end_time_unix_nano */
        0x4a, 0x07,                         /*    attributes: KeyValue, 7 */
        0x0a, 0x01, 'k',                    /*     key */
        0x12, 0x02, 0x18, 0x05,             /*     value: int_value 5 */
        0x7a, 0x05,                         /*    status, 5 */
        0x12, 0x01, 'e',                    /*     message */
        0x18, 0x02,                         /*     code ERROR */
        0x85, 0x01, 0x01, 0x00, 0x00, 0x00, /*    flags (fixed32, field 16) */
    };
    /* clang-format on */
    struct tel_pbuf b;
    tel_pbuf_init(&b, 4096);
    assert_int_equal(tel_otlp_traces_encode(&res, &scope, &s, 1, &b), 0);
    expect_bytes(&b, want, sizeof(want));
    /* The buffer is reset by each call: the same bytes again. */
    assert_int_equal(tel_otlp_traces_encode(&res, &scope, &s, 1, &b), 0);
    expect_bytes(&b, want, sizeof(want));
    tel_pbuf_deinit(&b);
}

static void test_tiny_metric(void **state)
{
    (void)state;
    const struct tel_otlp_number_point pt = {.time_unix_nano = 3, .v.i = 7};
    const struct tel_otlp_metric m = {
        .name = "m", .type = TEL_OTLP_SUM, .monotonic = true, .points = &pt, .n_points = 1};
    /* clang-format off */
    static const uint8_t want[] = {
        0x0a, 0x21,                         /* ResourceMetrics, 33 */
        0x12, 0x1f,                         /*  scope_metrics, 31 */
        0x12, 0x1d,                         /*   metrics: Metric, 29 */
        0x0a, 0x01, 'm',                    /*    name */
        0x3a, 0x18,                         /*    sum, 24 */
        0x0a, 0x12,                         /*     data_points, 18 */
        0x19, 3, 0, 0, 0, 0, 0, 0, 0,       /*      time_unix_nano */
        0x31, 7, 0, 0, 0, 0, 0, 0, 0,       /*      as_int (sfixed64) */
        0x10, 0x02,                         /*     aggregation_temporality CUMULATIVE */
        0x18, 0x01,                         /*     is_monotonic */
    };
    /* clang-format on */
    struct tel_pbuf b;
    tel_pbuf_init(&b, 4096);
    assert_int_equal(tel_otlp_metrics_encode(NULL, NULL, &m, 1, &b), 0);
    expect_bytes(&b, want, sizeof(want));
    tel_pbuf_deinit(&b);
}

/* A realistic batch: the exact size passes, one byte less is -E2BIG. */
static void test_batch_cap(void **state)
{
    (void)state;
    enum { N = 512 };
    struct tel_span *spans = calloc(N, sizeof(*spans));
    assert_non_null(spans);
    const char *reasons[] = {"stop"};
    const struct tel_attr attrs[] = {
        tel_attr_str("gen_ai.operation.name", "chat"),
        tel_attr_str("gen_ai.request.model", "gpt-4o-mini"),
        tel_attr_bool("gen_ai.request.stream", true),
        tel_attr_int("gen_ai.usage.input_tokens", 1234),
        tel_attr_double("gen_ai.request.temperature", 0.7),
        tel_attr_strs("gen_ai.response.finish_reasons", reasons, 1),
    };
    const struct tel_attr ev_attrs[] = {tel_attr_str("gen_ai.evaluation.name", "prompt_guard")};
    const struct tel_span_event ev = {"gen_ai.evaluation.result", 5, ev_attrs, 1};
    for (size_t i = 0; i < N; i++) {
        memcpy(spans[i].trace_id, TRACE_ID, 16);
        memcpy(spans[i].span_id, SPAN_ID, 8);
        spans[i].span_id[0] = (uint8_t)i;
        spans[i].name = "chat gpt-4o-mini";
        spans[i].kind = TEL_SPAN_KIND_CLIENT;
        spans[i].attrs = attrs;
        spans[i].n_attrs = sizeof(attrs) / sizeof(attrs[0]);
        spans[i].events = &ev;
        spans[i].n_events = 1;
    }
    struct tel_pbuf b;
    tel_pbuf_init(&b, SIZE_MAX);
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, spans, N, &b), 0);
    size_t full = b.len;
    assert_true(full > 128 * N);
    tel_pbuf_deinit(&b);

    tel_pbuf_init(&b, full);
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, spans, N, &b), 0);
    assert_int_equal(b.len, full);
    tel_pbuf_deinit(&b);
    tel_pbuf_init(&b, full - 1);
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, spans, N, &b), -E2BIG);
    tel_pbuf_deinit(&b);
    tel_pbuf_init(&b, 100);
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, spans, N, &b), -E2BIG);
    /* The next encode into the same buffer starts clean. */
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, spans, 0, &b), 0);
    expect_bytes(&b, BYTES(0x0a, 0x02, 0x12, 0x00));
    tel_pbuf_deinit(&b);
    free(spans);
}

static void test_invalid(void **state)
{
    (void)state;
    struct tel_pbuf b;
    tel_pbuf_init(&b, 4096);
    const uint64_t counts[] = {1, 2};
    const double bounds[] = {1.0, 2.0};
    struct tel_otlp_histogram_point hp = {
        .count = 3, .bucket_counts = counts, .n_buckets = 2, .bounds = bounds, .n_bounds = 2};
    struct tel_otlp_metric m = {
        .name = "h", .type = TEL_OTLP_HISTOGRAM, .hist_points = &hp, .n_points = 1};
    assert_int_equal(tel_otlp_metrics_encode(NULL, NULL, &m, 1, &b), -EINVAL);
    hp.n_bounds = 1;
    assert_int_equal(tel_otlp_metrics_encode(NULL, NULL, &m, 1, &b), 0);
    m.hist_points = NULL;
    assert_int_equal(tel_otlp_metrics_encode(NULL, NULL, &m, 1, &b), -EINVAL);

    struct tel_attr bad = tel_attr_int("k", 1);
    bad.type = (enum tel_attr_type)99;
    struct tel_span s = {.name = "x", .attrs = &bad, .n_attrs = 1};
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, &s, 1, &b), -EINVAL);
    assert_int_equal(tel_otlp_traces_encode(NULL, NULL, NULL, 1, &b), -EINVAL);
    tel_pbuf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint),       cmocka_unit_test(test_fields),
        cmocka_unit_test(test_nested_small), cmocka_unit_test(test_nested_boundaries),
        cmocka_unit_test(test_cap),          cmocka_unit_test(test_tiny_span),
        cmocka_unit_test(test_tiny_metric),  cmocka_unit_test(test_batch_cap),
        cmocka_unit_test(test_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

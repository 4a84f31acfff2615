/* Unit tests for the metrics registry: values from many threads, histograms, the series cap,
 * label values cleaned, and the Prometheus text exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/metrics.h"

struct text {
    char buf[1 << 16];
    size_t len;
};

static void text_write(void *arg, const char *p, size_t n)
{
    struct text *t = arg;
    assert_true(t->len + n < sizeof(t->buf));
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static const double bounds[] = {0.1, 1, 10};

static void test_prometheus_text(void **state)
{
    (void)state;
    struct tel_metrics *m = tel_metrics_new();
    struct tel_metric_desc cd = {.name = "warden.requests",
                                 .prom = "warden_requests_total",
                                 .help = "Requests \\ answered\nby warden.",
                                 .unit = "{request}",
                                 .kind = TEL_METRIC_COUNTER,
                                 .labels = {"route", "code"}};
    struct tel_metric_desc hd = {.name = "warden.overhead",
                                 .prom = "warden_overhead_seconds",
                                 .help = "Overhead.",
                                 .unit = "s",
                                 .kind = TEL_METRIC_HISTOGRAM,
                                 .bounds = bounds,
                                 .n_bounds = 3};
    struct tel_metric_family *c = tel_metrics_family(m, &cd);
    struct tel_metric_family *h = tel_metrics_family(m, &hd);
    assert_non_null(c);
    assert_non_null(h);
    const char *v1[] = {"/v1/chat \"x\"", "200"};
    tel_metric_add(tel_metric_series(c, v1), 2);
    tel_metric_add(tel_metric_series(c, v1), 1);
    struct tel_metric_series *hs = tel_metric_series(h, NULL);
    tel_metric_observe(hs, 0.05);
    tel_metric_observe(hs, 1); /* le="1" holds 1 */
    tel_metric_observe(hs, 50);
    struct text t = {.len = 0};
    tel_metrics_prometheus(m, text_write, &t);
    assert_string_equal(t.buf,
                        "# HELP warden_requests_total Requests \\\\ answered\\nby warden.\n"
                        "# TYPE warden_requests_total counter\n"
                        "warden_requests_total{route=\"/v1/chat \\\"x\\\"\",code=\"200\"} 3\n"
                        "# HELP warden_overhead_seconds Overhead.\n"
                        "# TYPE warden_overhead_seconds histogram\n"
                        "warden_overhead_seconds_bucket{le=\"0.1\"} 1\n"
                        "warden_overhead_seconds_bucket{le=\"1\"} 2\n"
                        "warden_overhead_seconds_bucket{le=\"10\"} 2\n"
                        "warden_overhead_seconds_bucket{le=\"+Inf\"} 3\n"
                        "warden_overhead_seconds_sum 51.05\n"
                        "warden_overhead_seconds_count 3\n");
    tel_metrics_free(m);
}

struct worker_arg {
    struct tel_metric_family *c, *h;
    int id;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char model[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(model, sizeof(model), "m%d", i % 7);
        const char *v[] = {model, a->id % 2 ? "odd" : "even"};
        tel_metric_add(tel_metric_series(a->c, v), 1);
        tel_metric_observe(tel_metric_series(a->h, NULL), (double)(i % 20));
    }
    return NULL;
}

struct sums {
    double total;
    uint64_t count;
    size_t points;
};

static void visit_point(void *arg, const struct tel_metric_desc *d,
                        const struct tel_metric_point *p)
{
    struct sums *s = arg;
    if (d->kind == TEL_METRIC_COUNTER)
        s->total += p->value;
    else
        s->count += p->count;
    s->points++;
}

static void test_threads(void **state)
{
    (void)state;
    struct tel_metrics *m = tel_metrics_new();
    struct tel_metric_desc cd = {
        .name = "c", .prom = "c_total", .kind = TEL_METRIC_COUNTER, .labels = {"model", "side"}};
    struct tel_metric_desc hd = {
        .name = "h", .prom = "h", .kind = TEL_METRIC_HISTOGRAM, .bounds = bounds, .n_bounds = 3};
    struct worker_arg args[4];
    pthread_t th[4];
    struct tel_metric_family *c = tel_metrics_family(m, &cd), *h = tel_metrics_family(m, &hd);
    for (int i = 0; i < 4; i++)
        args[i] = (struct worker_arg){c, h, i};
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    struct sums s = {0};
    struct tel_metrics_visitor v = {.arg = &s, .point = visit_point};
    tel_metrics_visit(m, &v);
    assert_true(s.total == 80000.0);
    assert_int_equal(s.count, 80000);
    assert_int_equal(s.points, 14 + 1); /* 7 models x 2 sides, one histogram series */
    tel_metrics_free(m);
}

/* Past the cap every new label set shares the overflow series; bad UTF-8 and control
 * characters never reach the text. */
static void test_cap_and_cleaning(void **state)
{
    (void)state;
    struct tel_metrics *m = tel_metrics_new();
    struct tel_metric_desc cd = {
        .name = "c", .prom = "c_total", .kind = TEL_METRIC_COUNTER, .labels = {"model"}};
    struct tel_metric_family *c = tel_metrics_family(m, &cd);
    char model[32];
    for (int i = 0; i < TEL_METRIC_SERIES + 50; i++) {
        snprintf(model, sizeof(model), "model-%d", i);
        const char *v[] = {model};
        tel_metric_add(tel_metric_series(c, v), 1);
    }
    const char *v[] = {"model-1"};
    struct tel_metric_series *s1 = tel_metric_series(c, v);
    const char *o[] = {"another-new-one"};
    struct tel_metric_series *ov = tel_metric_series(c, o);
    const char *o2[] = {"yet-another"};
    assert_ptr_equal(ov, tel_metric_series(c, o2));
    assert_ptr_not_equal(s1, ov);
    struct sums s = {0};
    struct tel_metrics_visitor vis = {.arg = &s, .point = visit_point};
    tel_metrics_visit(m, &vis);
    assert_int_equal(s.points, TEL_METRIC_SERIES + 1);
    assert_true(s.total == TEL_METRIC_SERIES + 50.0);
    tel_metrics_free(m);

    m = tel_metrics_new();
    c = tel_metrics_family(m, &cd);
    const char *bad[] = {"a\xff\x01z\xe2\x82"};
    tel_metric_add(tel_metric_series(c, bad), 1);
    const char *same[] = {"a??z??"};
    tel_metric_add(tel_metric_series(c, same), 1);
    struct text t = {.len = 0};
    tel_metrics_prometheus(m, text_write, &t);
    assert_non_null(strstr(t.buf, "c_total{model=\"a??z??\"} 2\n"));
    tel_metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_text),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_cap_and_cleaning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

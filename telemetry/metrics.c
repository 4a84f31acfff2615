/* Metrics registry: label sets found without locks in an open-addressing table, values kept
 * in atomics, rendered for Prometheus and visited for OTLP. */
#include "telemetry/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEL_METRICS_FAMILIES 64
#define SLOTS                (2 * TEL_METRIC_SERIES) /* power of two, half full at most */

struct tel_metric_series {
    const struct tel_metric_family *fam;
    uint64_t hash;
    char *values[TEL_METRIC_LABELS];
    _Atomic uint64_t value; /* bits of a double */
    _Atomic uint64_t sum;   /* bits of a double */
    _Atomic bool used;
    _Atomic uint64_t buckets[]; /* n_bounds + 1 */
};

struct tel_metric_family {
    struct tel_metric_desc d;
    double bounds[TEL_METRIC_BOUNDS];
    size_t n_labels;
    pthread_mutex_t lock;
    _Atomic size_t n_series;
    struct tel_metric_series *list[TEL_METRIC_SERIES]; /* in the order they were made */
    struct tel_metric_series *overflow;
    struct tel_metric_series *_Atomic slots[SLOTS];
};

struct tel_metrics {
    struct tel_metric_family *fam[TEL_METRICS_FAMILIES];
    size_t n;
    uint64_t start_ns;
};

static char *dup_str(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s, n + 1);
    return d;
}

static double bits_double(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof(v));
    return v;
}

static uint64_t double_bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    return b;
}

static void atomic_double_add(_Atomic uint64_t *a, double v)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, double_bits(bits_double(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

static void series_free(struct tel_metric_series *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < TEL_METRIC_LABELS; i++)
        free(s->values[i]);
    free(s);
}

static void family_free(struct tel_metric_family *f)
{
    if (f == NULL)
        return;
    size_t n = atomic_load(&f->n_series);
    for (size_t i = 0; i < n; i++)
        series_free(f->list[i]);
    series_free(f->overflow);
    free((char *)f->d.name);
    free((char *)f->d.prom);
    free((char *)f->d.help);
    free((char *)f->d.unit);
    for (size_t i = 0; i < TEL_METRIC_LABELS; i++) {
        free((char *)f->d.labels[i]);
        free((char *)f->d.prom_labels[i]);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
}

struct tel_metrics *tel_metrics_new(void)
{
    struct tel_metrics *m = calloc(1, sizeof(*m));
    if (m) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m->start_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    return m;
}

void tel_metrics_free(struct tel_metrics *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        family_free(m->fam[i]);
    free(m);
}

uint64_t tel_metrics_start_ns(const struct tel_metrics *m)
{
    return m->start_ns;
}

/* A label value as it may be stored: valid UTF-8 without control characters (Prometheus and
 * OTLP both require UTF-8; a client chooses model names), at most TEL_METRIC_VALUE bytes. */
static size_t clean_value(const char *s, char *out)
{
    size_t n = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p && n < TEL_METRIC_VALUE) {
        unsigned c = *p;
        size_t len = c < 0x80             ? 1
                     : (c & 0xe0) == 0xc0 ? 2
                     : (c & 0xf0) == 0xe0 ? 3
                     : (c & 0xf8) == 0xf0 ? 4
                                          : 0;
        bool ok = len > 0 && (len > 1 || c >= 0x20) && c != 0x7f && n + len <= TEL_METRIC_VALUE;
        for (size_t k = 1; ok && k < len; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (ok && len == 2)
            ok = c >= 0xc2;
        if (ok && len == 3)
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0);
        if (ok && len == 4)
            ok = c <= 0xf4 && !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        if (!ok) {
            if (len == 0 || n + len > TEL_METRIC_VALUE)
                len = 1;
            out[n++] = '?';
            /* Skip the bad byte only: what follows may be valid. */
            p += 1;
            continue;
        }
        memcpy(out + n, p, len);
        n += len;
        p += len;
    }
    out[n] = '\0';
    return n;
}

static uint64_t hash_values(char vals[][TEL_METRIC_VALUE + 1], size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, with a separator between values */
    for (size_t i = 0; i < n; i++) {
        for (const unsigned char *p = (const unsigned char *)vals[i]; *p; p++)
            h = (h ^ *p) * 0x100000001b3ull;
        h = (h ^ 0xff) * 0x100000001b3ull;
    }
    return h;
}

static struct tel_metric_series *series_new(const struct tel_metric_family *f, uint64_t h,
                                            char vals[][TEL_METRIC_VALUE + 1])
{
    size_t nb = f->d.kind == TEL_METRIC_HISTOGRAM ? f->d.n_bounds + 1 : 0;
    struct tel_metric_series *s = calloc(1, sizeof(*s) + nb * sizeof(s->buckets[0]));
    if (s == NULL)
        return NULL;
    s->fam = f;
    s->hash = h;
    for (size_t i = 0; i < f->n_labels; i++) {
        if ((s->values[i] = dup_str(vals[i])) == NULL) {
            series_free(s);
            return NULL;
        }
    }
    return s;
}

struct tel_metric_family *tel_metrics_family(struct tel_metrics *m, const struct tel_metric_desc *d)
{
    if (m->n >= TEL_METRICS_FAMILIES || d->name == NULL || d->prom == NULL ||
        d->n_bounds > TEL_METRIC_BOUNDS ||
        (d->kind == TEL_METRIC_HISTOGRAM && (d->bounds == NULL || d->n_bounds == 0)))
        return NULL;
    struct tel_metric_family *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    f->d.kind = d->kind;
    f->d.n_bounds = d->kind == TEL_METRIC_HISTOGRAM ? d->n_bounds : 0;
    if (f->d.n_bounds)
        memcpy(f->bounds, d->bounds, f->d.n_bounds * sizeof(double));
    f->d.bounds = f->bounds;
    bool ok = (f->d.name = dup_str(d->name)) && (f->d.prom = dup_str(d->prom)) &&
              (f->d.help = dup_str(d->help ? d->help : "")) &&
              (f->d.unit = dup_str(d->unit ? d->unit : ""));
    for (size_t i = 0; ok && i < TEL_METRIC_LABELS && d->labels[i]; i++) {
        ok = (f->d.labels[i] = dup_str(d->labels[i])) &&
             (f->d.prom_labels[i] = dup_str(d->prom_labels[i] ? d->prom_labels[i] : d->labels[i]));
        f->n_labels = i + 1;
    }
    char vals[TEL_METRIC_LABELS][TEL_METRIC_VALUE + 1];
    for (size_t i = 0; i < f->n_labels; i++)
        memcpy(vals[i], TEL_METRIC_OVERFLOW, sizeof(TEL_METRIC_OVERFLOW));
    if (ok)
        ok = (f->overflow = series_new(f, 0, vals)) != NULL;
    if (!ok) {
        family_free(f);
        return NULL;
    }
    m->fam[m->n++] = f;
    return f;
}

static bool same_values(const struct tel_metric_family *f, const struct tel_metric_series *s,
                        char vals[][TEL_METRIC_VALUE + 1])
{
    for (size_t i = 0; i < f->n_labels; i++) {
        if (strcmp(s->values[i], vals[i]) != 0)
            return false;
    }
    return true;
}

/* Find the series in the table; *at gets the first empty slot on the probe path. */
static struct tel_metric_series *series_find(struct tel_metric_family *f, uint64_t h,
                                             char vals[][TEL_METRIC_VALUE + 1], size_t *at)
{
    for (size_t i = 0; i < SLOTS; i++) {
        size_t k = (size_t)(h + i) & (SLOTS - 1);
        struct tel_metric_series *s = atomic_load_explicit(&f->slots[k], memory_order_acquire);
        if (s == NULL) {
            *at = k;
            return NULL;
        }
        if (s->hash == h && same_values(f, s, vals))
            return s;
    }
    *at = SLOTS;
    return NULL;
}

struct tel_metric_series *tel_metric_series(struct tel_metric_family *f, const char *const *values)
{
    char vals[TEL_METRIC_LABELS][TEL_METRIC_VALUE + 1];
    for (size_t i = 0; i < f->n_labels; i++)
        clean_value(values ? values[i] : NULL, vals[i]);
    uint64_t h = hash_values(vals, f->n_labels);
    size_t at;
    struct tel_metric_series *s = series_find(f, h, vals, &at);
    if (s)
        return s;
    pthread_mutex_lock(&f->lock);
    s = series_find(f, h, vals, &at); /* another thread may have added it */
    size_t n = atomic_load_explicit(&f->n_series, memory_order_relaxed);
    if (s == NULL && at < SLOTS && n < TEL_METRIC_SERIES && (s = series_new(f, h, vals)) != NULL) {
        f->list[n] = s;
        atomic_store_explicit(&f->slots[at], s, memory_order_release);
        atomic_store_explicit(&f->n_series, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&f->lock);
    return s ? s : f->overflow;
}

void tel_metric_add(struct tel_metric_series *s, double v)
{
    atomic_double_add(&s->value, v);
    atomic_store_explicit(&s->used, true, memory_order_relaxed);
}

void tel_metric_set(struct tel_metric_series *s, double v)
{
    atomic_store_explicit(&s->value, double_bits(v), memory_order_relaxed);
    atomic_store_explicit(&s->used, true, memory_order_relaxed);
}

static size_t bucket_of(const double *bounds, size_t n, double v)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first bound >= v (Prometheus buckets are "le") */
        size_t mid = (lo + hi) / 2;
        if (bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void tel_metric_observe(struct tel_metric_series *s, double v)
{
    const struct tel_metric_family *f = s->fam;
    if (f->d.kind != TEL_METRIC_HISTOGRAM || v != v)
        return;
    atomic_fetch_add_explicit(&s->buckets[bucket_of(f->bounds, f->d.n_bounds, v)], 1,
                              memory_order_relaxed);
    atomic_double_add(&s->sum, v);
    atomic_store_explicit(&s->used, true, memory_order_relaxed);
}

/* ---------------------------------------------------------------- rendering */

static void fmt_double(double v, char *buf, size_t cap)
{
    if (v != v) {
        snprintf(buf, cap, "NaN");
        return;
    }
    if (v > 1.7976931348623157e308) {
        snprintf(buf, cap, "+Inf");
        return;
    }
    if (v < -1.7976931348623157e308) {
        snprintf(buf, cap, "-Inf");
        return;
    }
    snprintf(buf, cap, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, cap, "%.17g", v);
}

struct out {
    void (*write)(void *arg, const char *p, size_t n);
    void *arg;
};

static void out_str(const struct out *o, const char *s)
{
    o->write(o->arg, s, strlen(s));
}

/* A label value or help text with \, " (values only) and newlines escaped. */
static void out_escaped(const struct out *o, const char *s, bool quote)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *esc = *p == '\\'           ? "\\\\"
                          : *p == '\n'         ? "\\n"
                          : quote && *p == '"' ? "\\\""
                                               : NULL;
        if (esc == NULL)
            continue;
        o->write(o->arg, run, (size_t)(p - run));
        out_str(o, esc);
        run = p + 1;
    }
    out_str(o, run);
}

static void out_labels(const struct out *o, const struct tel_metric_family *f,
                       const struct tel_metric_series *s, const char *le)
{
    if (f->n_labels == 0 && le == NULL)
        return;
    out_str(o, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            out_str(o, ",");
        out_str(o, f->d.prom_labels[i]);
        out_str(o, "=\"");
        out_escaped(o, s->values[i], true);
        out_str(o, "\"");
    }
    if (le) {
        out_str(o, f->n_labels ? ",le=\"" : "le=\"");
        out_str(o, le);
        out_str(o, "\"");
    }
    out_str(o, "}");
}

static void render_series(const struct out *o, const struct tel_metric_family *f,
                          const struct tel_metric_series *s)
{
    char num[40];
    if (f->d.kind != TEL_METRIC_HISTOGRAM) {
        out_str(o, f->d.prom);
        out_labels(o, f, s, NULL);
        fmt_double(bits_double(atomic_load_explicit(&s->value, memory_order_relaxed)), num,
                   sizeof(num));
        out_str(o, " ");
        out_str(o, num);
        out_str(o, "\n");
        return;
    }
    uint64_t cum = 0;
    for (size_t b = 0; b <= f->d.n_bounds; b++) {
        cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
        char le[40];
        if (b < f->d.n_bounds)
            fmt_double(f->bounds[b], le, sizeof(le));
        else
            snprintf(le, sizeof(le), "+Inf");
        out_str(o, f->d.prom);
        out_str(o, "_bucket");
        out_labels(o, f, s, le);
        snprintf(num, sizeof(num), " %llu\n", (unsigned long long)cum);
        out_str(o, num);
    }
    out_str(o, f->d.prom);
    out_str(o, "_sum");
    out_labels(o, f, s, NULL);
    fmt_double(bits_double(atomic_load_explicit(&s->sum, memory_order_relaxed)), num, sizeof(num));
    out_str(o, " ");
    out_str(o, num);
    out_str(o, "\n");
    out_str(o, f->d.prom);
    out_str(o, "_count");
    out_labels(o, f, s, NULL);
    /* The count is the +Inf bucket's: both read from the same buckets, so they agree. */
    snprintf(num, sizeof(num), " %llu\n", (unsigned long long)cum);
    out_str(o, num);
}

void tel_metrics_prometheus(const struct tel_metrics *m,
                            void (*write)(void *arg, const char *p, size_t n), void *arg)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    const struct out o = {write, arg};
    for (size_t i = 0; i < m->n; i++) {
        struct tel_metric_family *f = m->fam[i];
        out_str(&o, "# HELP ");
        out_str(&o, f->d.prom);
        out_str(&o, " ");
        out_escaped(&o, f->d.help, false);
        out_str(&o, "\n# TYPE ");
        out_str(&o, f->d.prom);
        out_str(&o, " ");
        out_str(&o, types[f->d.kind]);
        out_str(&o, "\n");
        size_t n = atomic_load_explicit(&f->n_series, memory_order_acquire);
        for (size_t k = 0; k < n; k++)
            render_series(&o, f, f->list[k]);
        if (atomic_load_explicit(&f->overflow->used, memory_order_relaxed))
            render_series(&o, f, f->overflow);
    }
}

void tel_metrics_visit(const struct tel_metrics *m, const struct tel_metrics_visitor *v)
{
    for (size_t i = 0; i < m->n; i++) {
        struct tel_metric_family *f = m->fam[i];
        if (v->family)
            v->family(v->arg, &f->d, f->n_labels);
        size_t n = atomic_load_explicit(&f->n_series, memory_order_acquire);
        uint64_t buckets[TEL_METRIC_BOUNDS + 1];
        for (size_t k = 0; k <= n && v->point; k++) {
            const struct tel_metric_series *s = k < n ? f->list[k] : f->overflow;
            if (k == n && !atomic_load_explicit(&s->used, memory_order_relaxed))
                break;
            struct tel_metric_point p = {.values = (const char *const *)s->values};
            p.value = bits_double(atomic_load_explicit(&s->value, memory_order_relaxed));
            p.sum = bits_double(atomic_load_explicit(&s->sum, memory_order_relaxed));
            if (f->d.kind == TEL_METRIC_HISTOGRAM) {
                for (size_t b = 0; b <= f->d.n_bounds; b++) {
                    buckets[b] = atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
                    p.count += buckets[b];
                }
                p.buckets = buckets;
            }
            v->point(v->arg, &f->d, &p);
        }
    }
}

/* Telemetry of the data path: the instruments (GenAI semantic conventions and Warden's own)
 * and how one finished request updates them. */
#include "proxy/observe.h"

#include "guards/prompt.h"
#include "guards/prompt_body.h"
#include "policy/config.h"
#include "policy/rules.h"
#include "proxy/conn.h"
#include "proxy/filter.h"
#include "proxy/http.h"
#include "proxy/outguard.h"
#include "proxy/server.h"
#include "telemetry/audit.h"
#include "telemetry/export.h"
#include "telemetry/kvlist.h"
#include "telemetry/log.h"
#include "telemetry/metrics.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#ifndef WARDEN_OBS_VERSION
#define WARDEN_OBS_VERSION "0.1.0"
#endif

/* Bucket bounds of the GenAI semantic conventions. */
static const double token_bounds[] = {1,     4,     16,     64,      256,     1024,     4096,
                                      16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                         1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
/* Warden's own time in a request: microseconds to tens of milliseconds. */
static const double overhead_bounds[] = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                         0.0005,   0.001,   0.0025,   0.005,   0.01,   0.025,
                                         0.05,     0.1,     0.25,     1};

enum obs_sampler {
    SAMPLE_PARENT_ON = 0, /* parentbased_always_on: the default */
    SAMPLE_ON,
    SAMPLE_OFF,
    SAMPLE_RATIO,
    SAMPLE_PARENT_OFF,
    SAMPLE_PARENT_RATIO,
};

enum obs_family {
    OBS_TOKENS = 0,
    OBS_DURATION,
    OBS_TTFC,
    OBS_REQUESTS,
    OBS_BLOCKS,
    OBS_REDACTIONS,
    OBS_FINDINGS,
    OBS_ERRORS,
    OBS_SCAN,
    OBS_OVERHEAD,
    OBS_EXPORT_QUEUE,
    OBS_EXPORT_DROPPED,
    OBS_N,
};

static const struct tel_metric_desc descs[OBS_N] = {
    [OBS_TOKENS] = {.name = "gen_ai.client.token.usage",
                    .prom = "gen_ai_client_token_usage",
                    .help = "Tokens used per request, by type (input, output), as the upstream "
                            "reported them.",
                    .unit = "{token}",
                    .kind = TEL_METRIC_HISTOGRAM,
                    .labels = {"gen_ai.operation.name", "gen_ai.provider.name",
                               "gen_ai.request.model", "gen_ai.response.model", "gen_ai.token.type",
                               "server.address"},
                    .prom_labels = {"gen_ai_operation_name", "gen_ai_provider_name",
                                    "gen_ai_request_model", "gen_ai_response_model",
                                    "gen_ai_token_type", "server_address"},
                    .bounds = token_bounds,
                    .n_bounds = sizeof(token_bounds) / sizeof(token_bounds[0])},
    [OBS_DURATION] = {.name = "gen_ai.client.operation.duration",
                      .prom = "gen_ai_client_operation_duration_seconds",
                      .help = "Duration of model API calls through Warden, from the request's "
                              "first byte to the response's last.",
                      .unit = "s",
                      .kind = TEL_METRIC_HISTOGRAM,
                      .labels = {"gen_ai.operation.name", "gen_ai.provider.name",
                                 "gen_ai.request.model", "gen_ai.response.model", "error.type",
                                 "server.address"},
                      .prom_labels = {"gen_ai_operation_name", "gen_ai_provider_name",
                                      "gen_ai_request_model", "gen_ai_response_model", "error_type",
                                      "server_address"},
                      .bounds = duration_bounds,
                      .n_bounds = sizeof(duration_bounds) / sizeof(duration_bounds[0])},
    [OBS_TTFC] = {.name = "gen_ai.client.operation.time_to_first_chunk",
                  .prom = "gen_ai_client_operation_time_to_first_chunk_seconds",
                  .help = "Time from sending a streamed request upstream to its first chunk.",
                  .unit = "s",
                  .kind = TEL_METRIC_HISTOGRAM,
                  .labels = {"gen_ai.operation.name", "gen_ai.provider.name",
                             "gen_ai.request.model", "server.address"},
                  .prom_labels = {"gen_ai_operation_name", "gen_ai_provider_name",
                                  "gen_ai_request_model", "server_address"},
                  .bounds = duration_bounds,
                  .n_bounds = sizeof(duration_bounds) / sizeof(duration_bounds[0])},
    [OBS_REQUESTS] = {.name = "warden.requests",
                      .prom = "warden_requests_total",
                      .help = "Requests proxied, by route, upstream, tenant and response status.",
                      .unit = "{request}",
                      .kind = TEL_METRIC_COUNTER,
                      .labels = {"warden.route", "warden.upstream", "warden.tenant",
                                 "http.response.status_code"},
                      .prom_labels = {"route", "upstream", "tenant", "code"}},
    [OBS_BLOCKS] = {.name = "warden.blocks",
                    .prom = "warden_blocks_total",
                    .help = "Requests and responses blocked, by guard (prompt, output, schema, "
                            "canary) and rule category or finding type.",
                    .unit = "{request}",
                    .kind = TEL_METRIC_COUNTER,
                    .labels = {"warden.guard", "warden.category", "warden.route", "warden.upstream",
                               "warden.tenant"},
                    .prom_labels = {"guard", "category", "route", "upstream", "tenant"}},
    [OBS_REDACTIONS] = {.name = "warden.redactions",
                        .prom = "warden_redactions_total",
                        .help = "Values redacted from model output, by finding type.",
                        .unit = "{finding}",
                        .kind = TEL_METRIC_COUNTER,
                        .labels = {"warden.type", "warden.route", "warden.upstream",
                                   "warden.tenant"},
                        .prom_labels = {"type", "route", "upstream", "tenant"}},
    [OBS_FINDINGS] = {.name = "warden.prompt.flags",
                      .prom = "warden_prompt_flags_total",
                      .help = "Prompts the guard scored warn or block, by verdict and rule "
                              "category (whatever the action).",
                      .unit = "{request}",
                      .kind = TEL_METRIC_COUNTER,
                      .labels = {"warden.verdict", "warden.category", "warden.route",
                                 "warden.upstream", "warden.tenant"},
                      .prom_labels = {"verdict", "category", "route", "upstream", "tenant"}},
    [OBS_ERRORS] = {.name = "warden.errors",
                    .prom = "warden_errors_total",
                    .help = "Requests that failed (bad request, upstream unreachable, timeout, "
                            "...), by error type.",
                    .unit = "{request}",
                    .kind = TEL_METRIC_COUNTER,
                    .labels = {"error.type", "warden.route", "warden.upstream", "warden.tenant"},
                    .prom_labels = {"error_type", "route", "upstream", "tenant"}},
    [OBS_SCAN] = {.name = "warden.guard.scan.duration",
                  .prom = "warden_guard_scan_duration_seconds",
                  .help = "Time a guard spent on one request or response.",
                  .unit = "s",
                  .kind = TEL_METRIC_HISTOGRAM,
                  .labels = {"warden.guard"},
                  .prom_labels = {"guard"},
                  .bounds = overhead_bounds,
                  .n_bounds = sizeof(overhead_bounds) / sizeof(overhead_bounds[0])},
    [OBS_OVERHEAD] = {.name = "warden.proxy.overhead",
                      .prom = "warden_proxy_overhead_seconds",
                      .help = "Time spent inside Warden per request, upstream time excluded.",
                      .unit = "s",
                      .kind = TEL_METRIC_HISTOGRAM,
                      .labels = {"warden.route"},
                      .prom_labels = {"route"},
                      .bounds = overhead_bounds,
                      .n_bounds = sizeof(overhead_bounds) / sizeof(overhead_bounds[0])},
    [OBS_EXPORT_QUEUE] = {.name = "warden.exporter.queue.depth",
                          .prom = "warden_exporter_queue_depth",
                          .help = "Spans waiting for the OTLP exporter.",
                          .unit = "{span}",
                          .kind = TEL_METRIC_GAUGE,
                          .labels = {"warden.signal"},
                          .prom_labels = {"signal"}},
    [OBS_EXPORT_DROPPED] = {.name = "warden.exporter.dropped",
                            .prom = "warden_exporter_dropped_total",
                            .help = "Spans the OTLP exporter dropped (queue full, or the "
                                    "collector refused or stayed unreachable).",
                            .unit = "{span}",
                            .kind = TEL_METRIC_COUNTER,
                            .labels = {"warden.signal"},
                            .prom_labels = {"signal"}},
};

#define OBS_RESOURCE 16 /* resource attributes kept */

struct proxy_obs {
    struct tel_metrics *m;
    struct tel_metric_family *f[OBS_N];
    struct tel_exporter *exp; /* NULL: no export */
    enum obs_sampler sampler;
    double ratio;
};

struct proxy_obs *proxy_obs_new(void)
{
    struct proxy_obs *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->m = tel_metrics_new()) == NULL)
        goto fail;
    for (size_t i = 0; i < OBS_N; i++) {
        if ((o->f[i] = tel_metrics_family(o->m, &descs[i])) == NULL)
            goto fail;
    }
    return o;
fail:
    proxy_obs_free(o);
    return NULL;
}

void proxy_obs_free(struct proxy_obs *o)
{
    if (o == NULL)
        return;
    tel_exporter_free(o->exp); /* before the registry it reads */
    tel_metrics_free(o->m);
    free(o);
}

const struct tel_metrics *proxy_obs_metrics(const struct proxy_obs *o)
{
    return o->m;
}

/* The exporter's own state, as gauges (before a scrape and before each metrics export). */
static void export_gauges(void *arg)
{
    struct proxy_obs *o = arg;
    struct tel_export_stats st;
    if (o->exp == NULL)
        return;
    tel_exporter_stats(o->exp, &st);
    const char *sig[] = {"traces"};
    tel_metric_set(tel_metric_series(o->f[OBS_EXPORT_QUEUE], sig), (double)st.queued);
    tel_metric_set(tel_metric_series(o->f[OBS_EXPORT_DROPPED], sig), (double)st.spans_dropped);
}

/* A setting: the configuration's, else the environment's (empty counts as unset). */
static const char *setting(const char *cfg, const char *env)
{
    if (cfg && cfg[0])
        return cfg;
    const char *v = getenv(env);
    return v && v[0] ? v : NULL;
}

static int64_t setting_ms(int64_t cfg, const char *env, int64_t def)
{
    if (cfg > 0)
        return cfg;
    const char *v = getenv(env);
    char *end;
    long long n = v && v[0] ? strtoll(v, &end, 10) : -1;
    return v && v[0] && *end == '\0' && n > 0 ? (int64_t)n : def;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* OTEL_RESOURCE_ATTRIBUTES ("k=v,k2=v2") into attributes whose strings live in buf (at least
 * as long as text). 0, or -EINVAL with err saying which entry is wrong. */
static int resource_pairs(const char *text, char *buf, size_t cap, struct tel_attr *attrs,
                          size_t *n, size_t max, char *err, size_t errcap)
{
    size_t len = strlen(text), used = 0;
    const char *p = text, *why = "";
    struct tel_kv kv = {0};
    int r = 0;
    if (len >= cap / 2) {
        snprintf(err, errcap,
                 "otlp.resource_attributes / OTEL_RESOURCE_ATTRIBUTES: longer than "
                 "%zu bytes",
                 cap / 2);
        return -EINVAL;
    }
    char *val = buf + cap / 2; /* the upper half holds each value as it is decoded */
    while ((r = tel_kv_next(&p, text + len, &kv, val, cap / 2, &why)) > 0) {
        if (*n >= max) {
            why = "is one too many";
            r = -EINVAL;
            break;
        }
        char *k = buf + used, *v = k + kv.key_len + 1; /* both fit: key + value <= len */
        memcpy(k, kv.key, kv.key_len);
        k[kv.key_len] = '\0';
        memmove(v, val, kv.value_len + 1);
        used += kv.key_len + kv.value_len + 2;
        attrs[(*n)++] = tel_attr_str(k, v);
    }
    if (r < 0)
        snprintf(err, errcap,
                 "otlp.resource_attributes / OTEL_RESOURCE_ATTRIBUTES: entry %zu %s (expected "
                 "key=value,...)",
                 kv.entry, why);
    return r < 0 ? -EINVAL : 0;
}

int proxy_obs_export_start(struct proxy_obs *o, const struct policy_config *cfg, char *err,
                           size_t cap)
{
    static const char *const samplers[] = {
        [SAMPLE_PARENT_ON] = "parentbased_always_on",
        [SAMPLE_ON] = "always_on",
        [SAMPLE_OFF] = "always_off",
        [SAMPLE_RATIO] = "traceidratio",
        [SAMPLE_PARENT_OFF] = "parentbased_always_off",
        [SAMPLE_PARENT_RATIO] = "parentbased_traceidratio",
    };
    const char *sampler = setting(cfg->otlp.sampler, "OTEL_TRACES_SAMPLER");
    o->sampler = SAMPLE_PARENT_ON;
    if (sampler) {
        size_t i = 0;
        while (i < sizeof(samplers) / sizeof(samplers[0]) && strcmp(samplers[i], sampler) != 0)
            i++;
        if (i == sizeof(samplers) / sizeof(samplers[0])) {
            snprintf(err, cap,
                     "otlp.sampler / OTEL_TRACES_SAMPLER: unknown sampler '%s' (use always_on, "
                     "always_off, traceidratio, parentbased_always_on, parentbased_always_off "
                     "or parentbased_traceidratio)",
                     sampler);
            return -EINVAL;
        }
        o->sampler = (enum obs_sampler)i;
    }
    o->ratio = cfg->otlp.sampler_arg >= 0 ? cfg->otlp.sampler_arg : 1.0;
    const char *arg = cfg->otlp.sampler_arg >= 0 ? NULL : getenv("OTEL_TRACES_SAMPLER_ARG");
    if (arg && arg[0]) {
        char *end;
        double r = strtod(arg, &end);
        if (*end != '\0' || !(r >= 0 && r <= 1)) {
            snprintf(err, cap, "OTEL_TRACES_SAMPLER_ARG: '%s' is not a ratio from 0 to 1", arg);
            return -EINVAL;
        }
        o->ratio = r;
    }
    const char *disabled = getenv("OTEL_SDK_DISABLED");
    if (!cfg->otlp.enabled || (disabled && strcasecmp(disabled, "true") == 0))
        return 0;
    const char *proto = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
    if (proto && proto[0] && strcmp(proto, "http/protobuf") != 0) {
        snprintf(err, cap,
                 "OTEL_EXPORTER_OTLP_PROTOCOL=%s: Warden exports OTLP/HTTP with protobuf "
                 "bodies only (http/protobuf)",
                 proto);
        return -EINVAL;
    }
    char traces[1024], metrics_url[1024];
    const char *base = setting(cfg->otlp.endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT");
    const char *t = setting(cfg->otlp.traces_endpoint, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
    const char *m = setting(cfg->otlp.metrics_endpoint, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT");
    size_t bl = base ? strlen(base) : 0;
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (t == NULL && base) {
        snprintf(traces, sizeof(traces), "%.*s/v1/traces", (int)bl, base);
        t = traces;
    }
    if (m == NULL && base) {
        snprintf(metrics_url, sizeof(metrics_url), "%.*s/v1/metrics", (int)bl, base);
        m = metrics_url;
    }
    const char *te = getenv("OTEL_TRACES_EXPORTER"), *me = getenv("OTEL_METRICS_EXPORTER");
    if (te && strcmp(te, "none") == 0)
        t = NULL;
    if (me && strcmp(me, "none") == 0)
        m = NULL;
    if (t == NULL && m == NULL)
        return 0;
    struct tel_attr res[OBS_RESOURCE];
    char buf[8192];
    size_t n = 0;
    const char *svc = setting(cfg->otlp.service_name, "OTEL_SERVICE_NAME");
    const char *extra = setting(cfg->otlp.resource_attributes, "OTEL_RESOURCE_ATTRIBUTES");
    res[n++] = tel_attr_str("telemetry.sdk.name", "warden");
    res[n++] = tel_attr_str("telemetry.sdk.language", "c");
    if (extra && resource_pairs(extra, buf, sizeof(buf), res, &n, OBS_RESOURCE - 1, err, cap) != 0)
        return -EINVAL;
    /* service.name: the setting, else one from the resource attributes, else "warden". */
    bool have_svc = false;
    for (size_t i = 0; i < n; i++)
        have_svc |= strcmp(res[i].key, "service.name") == 0;
    if (svc || !have_svc)
        res[n++] = tel_attr_str("service.name", svc ? svc : "warden");
    struct tel_export_config ec = {
        .traces_url = t,
        .metrics_url = m,
        .headers = setting(cfg->otlp.headers, "OTEL_EXPORTER_OTLP_HEADERS"),
        .resource = res,
        .n_resource = n,
        .scope_name = "warden",
        .scope_version = WARDEN_OBS_VERSION,
        .timeout_ms =
            (unsigned)setting_ms(cfg->otlp.timeout_ms, "OTEL_EXPORTER_OTLP_TIMEOUT", 10000),
        .metric_interval_ms = (unsigned)setting_ms(cfg->otlp.export_interval_ms,
                                                   "OTEL_METRIC_EXPORT_INTERVAL", 60000),
        .delay_ms = (unsigned)setting_ms(0, "OTEL_BSP_SCHEDULE_DELAY", 5000),
        .queue_max = (unsigned)setting_ms(0, "OTEL_BSP_MAX_QUEUE_SIZE", 2048),
        .batch_max = (unsigned)setting_ms(0, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512),
        .metrics = o->m,
        .before_metrics = export_gauges,
        .before_metrics_arg = o,
    };
    return tel_exporter_new(&ec, &o->exp, err, cap);
}

uint64_t proxy_obs_overhead_ns(const struct proxy_txn *t)
{
    /* Guards while the body streamed in; then from its last byte to the upstream request
     * leaving (the verdict, a rewrite, taking a connection); then the output guard. */
    if (t->req_done_ns == 0 || t->up_start_ns < t->req_done_ns)
        return t->guard_ns;
    return t->guard_done_ns + (t->up_start_ns - t->req_done_ns) + (t->guard_ns - t->guard_up_ns);
}

/* n bytes from 2n lowercase hex digits (W3C allows no uppercase); false when not hex or all
 * zero (an invalid id). */
static bool parse_id(const char *s, uint8_t *out, size_t n)
{
    uint8_t any = 0;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
        any |= out[i];
    }
    return any != 0;
}

static void random_id(struct proxy_worker *w, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t v = proxy_worker_random(w);
        for (size_t k = 0; k < 8 && i + k < n; k++)
            out[i + k] = (uint8_t)(v >> (8 * k));
    }
}

/* "00-<32 hex trace>-<16 hex parent>-<2 hex flags>", a later version with the same prefix
 * and more after a '-' (W3C Trace Context, level 1, section 3.2). */
static bool parse_traceparent(const char *v, size_t len, struct proxy_txn *t)
{
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
        len--;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
        return false;
    int vh = hexval(v[0]), vl = hexval(v[1]), fh = hexval(v[53]), fl = hexval(v[54]);
    if (vh < 0 || vl < 0 || fh < 0 || fl < 0 || (vh == 15 && vl == 15))
        return false;
    if ((vh == 0 && vl == 0 && len != 55) || (len > 55 && v[55] != '-'))
        return false;
    if (!parse_id(v + 3, t->trace_id, 16) || !parse_id(v + 36, t->parent_id, 8))
        return false;
    t->trace_flags = (uint8_t)(fh << 4 | fl);
    return true;
}

void proxy_obs_trace_begin(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    const struct proxy_hdrs *h = &c->req_hdrs;
    bool continued = false;
    for (size_t i = 0; i < h->n && !continued; i++) {
        const struct proxy_hdr *e = &h->items[i];
        if (proxy_hdr_classify(h, e) == PROXY_HDR_TRACEPARENT)
            continued = parse_traceparent(proxy_hdr_value(h, e), e->value_len, t);
    }
    if (!continued) {
        random_id(c->worker, t->trace_id, 16);
        memset(t->parent_id, 0, sizeof(t->parent_id));
        t->trace_flags = 0;
    }
    /* The sampler (OTEL_TRACES_SAMPLER): the ratio ones compare the trace id's last 8 bytes,
     * so every service of a trace decides alike. */
    const struct proxy_obs *o = c->worker->srv->obs;
    uint64_t low = 0;
    for (size_t i = 8; i < 16; i++)
        low = low << 8 | t->trace_id[i];
    bool by_ratio = o && (double)low < o->ratio * 18446744073709551616.0;
    bool parent = (t->trace_flags & 1) != 0, sampled;
    switch (o ? o->sampler : SAMPLE_PARENT_ON) {
    case SAMPLE_ON:
        sampled = true;
        break;
    case SAMPLE_OFF:
        sampled = false;
        break;
    case SAMPLE_RATIO:
        sampled = by_ratio;
        break;
    case SAMPLE_PARENT_OFF:
        sampled = continued && parent;
        break;
    case SAMPLE_PARENT_RATIO:
        sampled = continued ? parent : by_ratio;
        break;
    default:
        sampled = continued ? parent : true;
        break;
    }
    t->trace_flags = (uint8_t)((t->trace_flags & ~1u) | (sampled ? 1u : 0u));
    random_id(c->worker, t->server_span, 8);
    random_id(c->worker, t->client_span, 8);
}

/* Lowercase hex of n bytes at out (2n characters, no NUL); returns the end. */
static char *hex_bytes(char *out, const uint8_t *b, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        *out++ = hex[b[i] >> 4];
        *out++ = hex[b[i] & 15];
    }
    return out;
}

void proxy_obs_traceparent(const struct proxy_txn *t, char out[56])
{
    const uint8_t flags = t->trace_flags & 1;
    char *p = out;
    memcpy(p, "00-", 3);
    p = hex_bytes(p + 3, t->trace_id, 16);
    *p++ = '-';
    p = hex_bytes(p, t->client_span, 8);
    *p++ = '-';
    p = hex_bytes(p, &flags, 1);
    *p = '\0';
}

/* The request's path without its query (which may carry a key), NUL-terminated. */
static void txn_path(const struct proxy_txn *t, char out[PROXY_URL_MAX + 1])
{
    const char *q = memchr(t->url, '?', t->url_len);
    size_t n = q ? (size_t)(q - t->url) : t->url_len;
    memcpy(out, t->url, n);
    out[n] = '\0';
}

static void buf_write(void *arg, const char *p, size_t n)
{
    evbuffer_add(arg, p, n);
}

void proxy_obs_prometheus(const struct proxy_obs *o, struct evbuffer *b)
{
    export_gauges((void *)o);
    tel_metrics_prometheus(o->m, buf_write, b);
}

static const char *operation_of(const char *path, size_t len)
{
    switch (guard_prompt_api_of(path, len)) {
    case GUARD_PROMPT_API_COMPLETIONS:
        return "text_completion";
    case GUARD_PROMPT_API_NONE:
        return len >= 11 && memcmp(path + len - 11, "/embeddings", 11) == 0 ? "embeddings"
                                                                            : "other";
    default:
        return "chat";
    }
}

/* The rule categories of a prompt verdict, each once. */
static size_t verdict_categories(const struct policy_rules *pr,
                                 const struct guard_prompt_verdict *v, const char **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; pr && i < v->n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++) {
        const char *cat = guard_prompt_db_rule(pr->db, v->rules[i])->category;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = strcmp(out[k], cat) == 0;
        if (!seen && n < cap)
            out[n++] = cat;
    }
    return n;
}

/* One audit record for the request: who, where, what the guards decided; never a body or a
 * credential. */
/* The ids of the rules the prompt verdict names (at most GUARD_PROMPT_VERDICT_RULES). */
static size_t prompt_rule_ids(const struct proxy_conn *c, const char **ids)
{
    const struct proxy_txn *t = &c->txn;
    const struct policy_rules *pr = proxy_filters_rules(c);
    size_t n = 0;
    for (size_t i = 0; pr && i < t->prompt.n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++)
        ids[n++] = guard_prompt_db_rule(pr->db, t->prompt.rules[i])->id;
    return n;
}

static void audit_record(struct proxy_conn *c, const struct proxy_og_report *rep,
                         const struct guard_prompt_body *body, const char *route,
                         const char *upstream, const char *tenant, uint64_t now)
{
    const struct proxy_txn *t = &c->txn;
    char trace[33];
    *hex_bytes(trace, t->trace_id, 16) = '\0';
    const char *rules[GUARD_PROMPT_VERDICT_RULES];
    size_t n_rules = prompt_rule_ids(c, rules);
    struct tel_audit_finding findings[PROXY_OG_TYPES];
    for (size_t i = 0; i < rep->n_counts; i++)
        findings[i] = (struct tel_audit_finding){rep->counts[i].type, rep->counts[i].n};
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t real_now = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
    uint64_t start = t->start_ns ? t->start_ns : now;
    char path[PROXY_URL_MAX + 1];
    txn_path(t, path);
    static const enum tel_audit_schema schemas[] = {
        [PROXY_OG_SCHEMA_NONE] = TEL_AUDIT_SCHEMA_NONE,
        [PROXY_OG_SCHEMA_VALID] = TEL_AUDIT_SCHEMA_VALID,
        [PROXY_OG_SCHEMA_INVALID] = TEL_AUDIT_SCHEMA_INVALID,
        [PROXY_OG_SCHEMA_UNCHECKED] = TEL_AUDIT_SCHEMA_UNCHECKED,
    };
    struct tel_audit_record r = {
        .time_ns = real_now - (int64_t)(now - start),
        .request_id = t->request_id,
        .trace_id = trace,
        .tenant = tenant,
        .route = route,
        .method = llhttp_method_name((llhttp_method_t)t->method),
        .path = path,
        .client = c->peer,
        .upstream = upstream,
        .model = body ? body->model : "",
        .stream = body && body->stream,
        .prompt_verdict = !t->prompt_ran                         ? TEL_AUDIT_VERDICT_NONE
                          : t->prompt.kind == GUARD_PROMPT_BLOCK ? TEL_AUDIT_VERDICT_BLOCK
                          : t->prompt.kind == GUARD_PROMPT_WARN  ? TEL_AUDIT_VERDICT_WARN
                                                                 : TEL_AUDIT_VERDICT_PASS,
        .prompt_score = t->prompt_ran ? t->prompt.score : 0,
        .prompt_rules = rules,
        .n_prompt_rules = n_rules,
        .output_action = !rep->attached  ? TEL_AUDIT_OUTPUT_NONE
                         : rep->blocked  ? TEL_AUDIT_OUTPUT_BLOCK
                         : rep->redacted ? TEL_AUDIT_OUTPUT_REDACT
                                         : TEL_AUDIT_OUTPUT_PASS,
        .findings = findings,
        .n_findings = rep->n_counts,
        .schema = schemas[rep->schema],
        .status = t->resp_status ? t->resp_status : t->status,
        .error = t->error_type,
        .tokens_in = rep->input_tokens,
        .tokens_out = rep->output_tokens,
        .total_ns = (int64_t)(now - start),
        .upstream_ns = t->up_start_ns && now > t->up_start_ns ? (int64_t)(now - t->up_start_ns) : 0,
        .overhead_ns = (int64_t)proxy_obs_overhead_ns(t),
    };
    tel_audit_write(c->worker->srv->audit, &r);
}

/* The access log line: one per proxied request, no body, header value or query string. */
static void access_line(struct proxy_conn *c, const struct proxy_og_report *rep,
                        const struct guard_prompt_body *body, const char *route,
                        const char *upstream, uint64_t now)
{
    const struct proxy_txn *t = &c->txn;
    char path[PROXY_URL_MAX + 1];
    txn_path(t, path);
    int status = t->resp_status ? t->resp_status : t->status;
    const char *output = !rep->attached  ? "none"
                         : rep->blocked  ? "block"
                         : rep->redacted ? "redact"
                                         : "pass";
    tel_log(TEL_LOG_INFO, "access", TEL_STR("request_id", t->request_id),
            TEL_STR("client", c->peer),
            TEL_STR("method", llhttp_method_name((llhttp_method_t)t->method)),
            TEL_STR("path", path), TEL_STR("route", route), TEL_STR("upstream", upstream),
            TEL_STR("model", body ? body->model : ""), TEL_INT("status", status),
            TEL_STR("error", t->error_type ? t->error_type : ""),
            TEL_DBL("ms", (double)(now - (t->start_ns ? t->start_ns : now)) / 1e6),
            TEL_DBL("overhead_ms", (double)proxy_obs_overhead_ns(t) / 1e6),
            TEL_STR("verdict", t->prompt_ran ? guard_prompt_verdict_name(t->prompt.kind) : "none"),
            TEL_DBL("score", t->prompt_ran ? t->prompt.score : 0), TEL_STR("output", output),
            TEL_STR("findings", rep->finding_types),
            TEL_STR("schema", proxy_og_schema_name(rep->schema)),
            TEL_INT("tokens_in", rep->input_tokens), TEL_INT("tokens_out", rep->output_tokens),
            TEL_UINT("body_bytes", t->body_bytes));
}

#define SPAN_ATTRS 28

/* The request's SERVER span and, when it reached the upstream, its CLIENT span, with the
 * GenAI attributes and one gen_ai.evaluation.result event per guard decision. */
static void export_spans(struct proxy_conn *c, struct proxy_obs *o,
                         const struct proxy_og_report *rep, const struct guard_prompt_body *body,
                         const char *op, const char *provider, const char *route, uint64_t now)
{
    const struct proxy_txn *t = &c->txn;
    const struct policy_upstream *up = t->up;
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    uint64_t real_now = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
    uint64_t start = t->start_ns ? t->start_ns : now;
    const char *model = body && body->model[0] ? body->model : "";
    char name[160];
    snprintf(name, sizeof(name), "%s%s%s", op, model[0] ? " " : "", model);

    /* The attributes both spans carry. */
    struct tel_attr a[SPAN_ATTRS];
    size_t n = 0;
    a[n++] = tel_attr_str("gen_ai.operation.name", op);
    a[n++] = tel_attr_str("gen_ai.provider.name", provider);
    if (model[0])
        a[n++] = tel_attr_str("gen_ai.request.model", model);
    if (body) {
        a[n++] = tel_attr_bool("gen_ai.request.stream", body->stream);
        if (body->max_tokens >= 0)
            a[n++] = tel_attr_int("gen_ai.request.max_tokens", body->max_tokens);
        if (body->temperature == body->temperature)
            a[n++] = tel_attr_double("gen_ai.request.temperature", body->temperature);
    }
    if (rep->model[0])
        a[n++] = tel_attr_str("gen_ai.response.model", rep->model);
    if (rep->id[0])
        a[n++] = tel_attr_str("gen_ai.response.id", rep->id);
    const char *reasons[4];
    size_t n_reasons = 0;
    char fin[sizeof(rep->finish)];
    memcpy(fin, rep->finish, sizeof(fin));
    for (char *p = fin; *p && n_reasons < 4;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        reasons[n_reasons++] = p;
        p = comma ? comma + 1 : p + strlen(p);
    }
    if (n_reasons)
        a[n++] = tel_attr_strs("gen_ai.response.finish_reasons", reasons, n_reasons);
    if (rep->input_tokens >= 0)
        a[n++] = tel_attr_int("gen_ai.usage.input_tokens", rep->input_tokens);
    if (rep->output_tokens >= 0)
        a[n++] = tel_attr_int("gen_ai.usage.output_tokens", rep->output_tokens);
    int status = t->resp_status ? t->resp_status : t->status;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    const char *error = t->error_type ? t->error_type : status >= 400 ? code : NULL;
    if (error)
        a[n++] = tel_attr_str("error.type", error);
    size_t shared = n;

    /* Guard decisions, as evaluation events of the SERVER span. */
    struct tel_span_event ev[3];
    struct tel_attr ea[3][6];
    size_t ne = 0;
    const char *rules[GUARD_PROMPT_VERDICT_RULES];
    size_t n_rules = prompt_rule_ids(c, rules);
    if (t->prompt_ran) {
        size_t k = 0;
        ea[ne][k++] = tel_attr_str("gen_ai.evaluation.name", "warden.prompt_guard");
        ea[ne][k++] = tel_attr_double("gen_ai.evaluation.score.value", t->prompt.score);
        ea[ne][k++] = tel_attr_str("gen_ai.evaluation.score.label",
                                   guard_prompt_verdict_name(t->prompt.kind));
        ea[ne][k++] = tel_attr_strs("warden.rule_ids", rules, n_rules);
        ea[ne][k++] = tel_attr_str("warden.action", t->answered      ? "block"
                                                    : t->prompt_flag ? "flag"
                                                                     : "pass");
        ev[ne] = (struct tel_span_event){"gen_ai.evaluation.result", real_now - (now - start),
                                         ea[ne], k};
        ne++;
    }
    const char *types[PROXY_OG_TYPES];
    for (size_t i = 0; i < rep->n_counts; i++)
        types[i] = rep->counts[i].type;
    if (rep->attached) {
        size_t k = 0;
        ea[ne][k++] = tel_attr_str("gen_ai.evaluation.name", "warden.output_guard");
        ea[ne][k++] = tel_attr_double("gen_ai.evaluation.score.value", rep->blocked    ? 1.0
                                                                       : rep->findings ? 0.5
                                                                                       : 0.0);
        ea[ne][k++] = tel_attr_str("gen_ai.evaluation.score.label", rep->blocked    ? "block"
                                                                    : rep->redacted ? "redact"
                                                                                    : "pass");
        ea[ne][k++] = tel_attr_strs("warden.finding_types", types, rep->n_counts);
        ea[ne][k++] = tel_attr_int("warden.findings", (int64_t)rep->findings);
        ea[ne][k++] = tel_attr_str("warden.action", rep->blocked    ? "block"
                                                    : rep->redacted ? "redact"
                                                                    : "pass");
        ev[ne] = (struct tel_span_event){"gen_ai.evaluation.result", real_now, ea[ne], k};
        ne++;
    }
    if (rep->schema != PROXY_OG_SCHEMA_NONE) {
        size_t k = 0;
        ea[ne][k++] = tel_attr_str("gen_ai.evaluation.name", "warden.json_schema");
        ea[ne][k++] = tel_attr_double("gen_ai.evaluation.score.value",
                                      rep->schema == PROXY_OG_SCHEMA_VALID ? 1.0 : 0.0);
        ea[ne][k++] =
            tel_attr_str("gen_ai.evaluation.score.label", proxy_og_schema_name(rep->schema));
        ev[ne] = (struct tel_span_event){"gen_ai.evaluation.result", real_now, ea[ne], k};
        ne++;
    }

    struct tel_span sp[2];
    memset(sp, 0, sizeof(sp));
    /* SERVER: the request as the client made it. */
    memcpy(sp[0].trace_id, t->trace_id, 16);
    memcpy(sp[0].span_id, t->server_span, 8);
    memcpy(sp[0].parent_span_id, t->parent_id, 8);
    sp[0].flags = TEL_SPAN_F_SAMPLED;
    sp[0].name = name;
    sp[0].kind = TEL_SPAN_KIND_SERVER;
    sp[0].start_time_unix_nano = real_now - (now - start);
    sp[0].end_time_unix_nano = real_now;
    struct tel_attr sa[SPAN_ATTRS];
    memcpy(sa, a, shared * sizeof(a[0]));
    size_t ns = shared;
    char path[PROXY_URL_MAX + 1];
    txn_path(t, path);
    sa[ns++] = tel_attr_str("http.request.method", llhttp_method_name((llhttp_method_t)t->method));
    sa[ns++] = tel_attr_int("http.response.status_code", status);
    sa[ns++] = tel_attr_str("url.path", path);
    sa[ns++] = tel_attr_str("http.route", route);
    sa[ns++] = tel_attr_str("warden.request_id", t->request_id);
    sp[0].attrs = sa;
    sp[0].n_attrs = ns;
    sp[0].events = ev;
    sp[0].n_events = ne;
    sp[0].status = status >= 500 || t->error_type ? TEL_SPAN_STATUS_ERROR : TEL_SPAN_STATUS_UNSET;
    tel_exporter_span(o->exp, &sp[0]);
    if (t->up_start_ns == 0)
        return;
    /* CLIENT: the call to the model provider; its id went upstream in traceparent. */
    struct tel_attr ca[SPAN_ATTRS];
    memcpy(ca, a, shared * sizeof(a[0]));
    size_t nc = shared;
    if (up && up->url.host)
        ca[nc++] = tel_attr_str("server.address", up->url.host);
    if (up)
        ca[nc++] = tel_attr_int("server.port", up->url.port);
    if (t->up_first_ns > t->up_start_ns)
        ca[nc++] = tel_attr_double("gen_ai.response.time_to_first_chunk",
                                   (double)(t->up_first_ns - t->up_start_ns) / 1e9);
    sp[1] = sp[0];
    memcpy(sp[1].span_id, t->client_span, 8);
    memcpy(sp[1].parent_span_id, t->server_span, 8);
    sp[1].kind = TEL_SPAN_KIND_CLIENT;
    sp[1].start_time_unix_nano = real_now - (now - t->up_start_ns);
    sp[1].attrs = ca;
    sp[1].n_attrs = nc;
    sp[1].events = NULL;
    sp[1].n_events = 0;
    tel_exporter_span(o->exp, &sp[1]);
}

void proxy_obs_request_end(struct proxy_conn *c)
{
    struct proxy_txn *t = &c->txn;
    struct proxy_obs *o = c->worker->srv->obs;
    if (t->observed || o == NULL)
        return;
    t->observed = true;
    uint64_t now = proxy_now_ns();
    const struct policy_upstream *up = t->up;
    const char *route = t->route ? t->route->path : "default";
    const char *upstream = up ? up->name : "";
    const char *tenant = "default";
    const char *host = up && up->url.host ? up->url.host : "";
    struct proxy_og_report rep;
    proxy_outguard_report(c, &rep);
    const struct guard_prompt_body *body = proxy_filters_request(c);
    const char *req_model = body && body->model[0] ? body->model : "";
    const char *resp_model = rep.model[0] ? rep.model : req_model;
    const char *op = operation_of(t->url, t->url_len);
    const char *provider = t->flavor == PROXY_FLAVOR_ANTHROPIC ? "anthropic" : "openai";
    char code[8];
    snprintf(code, sizeof(code), "%d", t->resp_status ? t->resp_status : t->status);

    const char *rv[] = {route, upstream, tenant, code};
    tel_metric_add(tel_metric_series(o->f[OBS_REQUESTS], rv), 1);

    /* The model call itself: only for requests that reached the upstream. */
    if (t->up_start_ns) {
        const char *error = t->error_type ? t->error_type : t->resp_status >= 400 ? code : "";
        const char *dv[] = {op, provider, req_model, resp_model, error, host};
        tel_metric_observe(tel_metric_series(o->f[OBS_DURATION], dv),
                           (double)(now - (t->start_ns ? t->start_ns : t->up_start_ns)) / 1e9);
        if (body && body->stream && t->up_first_ns > t->up_start_ns) {
            const char *fv[] = {op, provider, req_model, host};
            tel_metric_observe(tel_metric_series(o->f[OBS_TTFC], fv),
                               (double)(t->up_first_ns - t->up_start_ns) / 1e9);
        }
        if (rep.input_tokens >= 0) {
            const char *tv[] = {op, provider, req_model, resp_model, "input", host};
            tel_metric_observe(tel_metric_series(o->f[OBS_TOKENS], tv), (double)rep.input_tokens);
        }
        if (rep.output_tokens >= 0) {
            const char *tv[] = {op, provider, req_model, resp_model, "output", host};
            tel_metric_observe(tel_metric_series(o->f[OBS_TOKENS], tv), (double)rep.output_tokens);
        }
    }

    /* Guards. */
    if (t->prompt_ran) {
        const char *cats[8];
        size_t nc = verdict_categories(proxy_filters_rules(c), &t->prompt, cats, 8);
        bool blocked = t->answered && t->prompt.kind == GUARD_PROMPT_BLOCK;
        for (size_t i = 0; i < nc && t->prompt.kind != GUARD_PROMPT_PASS; i++) {
            const char *fv[] = {guard_prompt_verdict_name(t->prompt.kind), cats[i], route, upstream,
                                tenant};
            tel_metric_add(tel_metric_series(o->f[OBS_FINDINGS], fv), 1);
            if (blocked && i == 0) { /* a block counts once, under its first category */
                const char *bv[] = {"prompt", cats[i], route, upstream, tenant};
                tel_metric_add(tel_metric_series(o->f[OBS_BLOCKS], bv), 1);
            }
        }
        const char *sv[] = {"prompt"};
        tel_metric_observe(tel_metric_series(o->f[OBS_SCAN], sv),
                           (double)(t->guard_ns - rep.guard_ns) / 1e9);
    }
    if (rep.attached) {
        const char *sv[] = {"output"};
        tel_metric_observe(tel_metric_series(o->f[OBS_SCAN], sv), (double)rep.guard_ns / 1e9);
        if (rep.blocked) {
            const char *guard = rep.block_type == NULL                              ? "output"
                                : strcmp(rep.block_type, "SCHEMA_VIOLATION") == 0   ? "schema"
                                : strcmp(rep.block_type, "SYSTEM_PROMPT_LEAK") == 0 ? "canary"
                                                                                    : "output";
            const char *bv[] = {guard, rep.block_type ? rep.block_type : "", route, upstream,
                                tenant};
            tel_metric_add(tel_metric_series(o->f[OBS_BLOCKS], bv), 1);
        }
        if (rep.redacted) {
            for (size_t i = 0; i < rep.n_counts; i++) {
                const char *xv[] = {rep.counts[i].type, route, upstream, tenant};
                tel_metric_add(tel_metric_series(o->f[OBS_REDACTIONS], xv), rep.counts[i].n);
            }
        }
    }
    if (t->error_type || t->resp_status >= 500 || (t->status >= 400 && !t->answered)) {
        const char *ev[] = {t->error_type ? t->error_type : code, route, upstream, tenant};
        tel_metric_add(tel_metric_series(o->f[OBS_ERRORS], ev), 1);
    }
    const char *ov[] = {route};
    tel_metric_observe(tel_metric_series(o->f[OBS_OVERHEAD], ov),
                       (double)proxy_obs_overhead_ns(t) / 1e9);
    if (o->exp && (t->trace_flags & 1))
        export_spans(c, o, &rep, body, op, provider, route, now);
    if (c->worker->srv->cfg->log.access)
        access_line(c, &rep, body, route, upstream, now);
    if (c->worker->srv->audit)
        audit_record(c, &rep, body, route, upstream, tenant, now);
}

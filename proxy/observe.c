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
#include "telemetry/metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

/* Bucket bounds of the GenAI semantic conventions. */
static const double token_bounds[] = {1,     4,     16,     64,      256,     1024,     4096,
                                      16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864};
static const double duration_bounds[] = {0.01, 0.02, 0.04, 0.08,  0.16,  0.32,  0.64,
                                         1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92};
/* Warden's own time in a request: microseconds to tens of milliseconds. */
static const double overhead_bounds[] = {0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025,
                                         0.0005,   0.001,   0.0025,   0.005,   0.01,   0.025,
                                         0.05,     0.1,     0.25,     1};

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
};

struct proxy_obs {
    struct tel_metrics *m;
    struct tel_metric_family *f[OBS_N];
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
    tel_metrics_free(o->m);
    free(o);
}

const struct tel_metrics *proxy_obs_metrics(const struct proxy_obs *o)
{
    return o->m;
}

uint64_t proxy_obs_overhead_ns(const struct proxy_txn *t)
{
    /* Guards while the body streamed in; then from its last byte to the upstream request
     * leaving (the verdict, a rewrite, taking a connection); then the output guard. */
    if (t->req_done_ns == 0 || t->up_start_ns < t->req_done_ns)
        return t->guard_ns;
    return t->guard_done_ns + (t->up_start_ns - t->req_done_ns) + (t->guard_ns - t->guard_up_ns);
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
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
        t->trace_flags = 1; /* a root: sampled (the parent-based default samples roots) */
    }
    random_id(c->worker, t->server_span, 8);
    random_id(c->worker, t->client_span, 8);
}

void proxy_obs_traceparent(const struct proxy_txn *t, char out[56])
{
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    *p++ = '0';
    *p++ = '0';
    *p++ = '-';
    for (size_t i = 0; i < 16; i++) {
        *p++ = hex[t->trace_id[i] >> 4];
        *p++ = hex[t->trace_id[i] & 15];
    }
    *p++ = '-';
    for (size_t i = 0; i < 8; i++) {
        *p++ = hex[t->client_span[i] >> 4];
        *p++ = hex[t->client_span[i] & 15];
    }
    *p++ = '-';
    *p++ = hex[(t->trace_flags & 1) >> 4];
    *p++ = hex[t->trace_flags & 1];
    *p = '\0';
}

static void buf_write(void *arg, const char *p, size_t n)
{
    evbuffer_add(arg, p, n);
}

void proxy_obs_prometheus(const struct proxy_obs *o, struct evbuffer *b)
{
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
static void audit_record(struct proxy_conn *c, const struct proxy_og_report *rep,
                         const struct guard_prompt_body *body, const char *route,
                         const char *upstream, const char *tenant, uint64_t now)
{
    const struct proxy_txn *t = &c->txn;
    static const char hex[] = "0123456789abcdef";
    char trace[33];
    for (size_t i = 0; i < 16; i++) {
        trace[2 * i] = hex[t->trace_id[i] >> 4];
        trace[2 * i + 1] = hex[t->trace_id[i] & 15];
    }
    trace[32] = '\0';
    const char *rules[GUARD_PROMPT_VERDICT_RULES];
    size_t n_rules = 0;
    const struct policy_rules *pr = proxy_filters_rules(c);
    for (size_t i = 0; pr && i < t->prompt.n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++)
        rules[n_rules++] = guard_prompt_db_rule(pr->db, t->prompt.rules[i])->id;
    struct tel_audit_finding findings[PROXY_OG_TYPES];
    for (size_t i = 0; i < rep->n_counts; i++)
        findings[i] = (struct tel_audit_finding){rep->counts[i].type, rep->counts[i].n};
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    int64_t real_now = (int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec;
    uint64_t start = t->start_ns ? t->start_ns : now;
    char path[PROXY_URL_MAX + 1];
    snprintf(path, sizeof(path), "%.*s", (int)t->url_len, t->url);
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
        const char *error = t->error_type           ? t->error_type
                            : t->resp_status >= 500 ? code
                            : t->resp_status >= 400 ? code
                                                    : "";
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
    if (c->worker->srv->audit)
        audit_record(c, &rep, body, route, upstream, tenant, now);
}

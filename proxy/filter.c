/* The guard hook and its request-body filter: JSON checked as it streams, and on the prompt
 * APIs the prompt guard's verdict taken at the last byte, before anything goes upstream. */
#include "proxy/filter.h"

#include "guards/prompt_body.h"
#include "policy/config.h"
#include "policy/rules.h"
#include "proxy/conn.h"
#include "proxy/outguard.h"
#include "proxy/server.h"
#include "telemetry/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <sys/random.h>

/* Depth and lengths for request bodies: generous for tool schemas, still bounded. */
static const struct guard_json_limits body_json_limits = {
    .max_depth = 128, .max_key = 1024, .max_number = 256};

/* A request's body state: the tokenizer and the prompt scan. It goes back to the worker's
 * spares when the request ends, so its Hyperscan streams are reused, not allocated per
 * request, and an idle connection holds none. */
struct proxy_body_filter {
    struct guard_prompt_body body;
    struct policy_rules *rules; /* the set `scan` was made for (a reference) */
    struct guard_prompt_scan *scan;
    bool prompt; /* the prompt guard runs: the body is held until its verdict */
    bool output; /* the output guard reads the response: it learns the schema and canary */
    struct proxy_body_filter *next; /* in the worker's spares */
};

/* Answer a body the guard could not read. */
static void body_reject(struct proxy_conn *c, struct proxy_body_filter *bf, int rc)
{
    char msg[300];
    const struct guard_json_error *e = guard_json_error(&bf->body.js);
    if (rc == -EBADMSG || rc == -E2BIG) {
        snprintf(msg, sizeof(msg),
                 "the request body %s: %s at line %" PRIu32 ", column %" PRIu32 " (byte %" PRIu64
                 ")",
                 rc == -E2BIG ? "exceeds a JSON limit" : "is not valid JSON", e->message, e->line,
                 e->column, e->offset);
        proxy_conn_fail(c, 400, "invalid_request_error",
                        rc == -E2BIG ? "json_limit_exceeded" : "invalid_json", msg);
    } else if (rc == -EPROTO) {
        snprintf(msg, sizeof(msg), "the request body is ambiguous: %s", bf->body.error);
        proxy_conn_fail(c, 400, "invalid_request_error", "ambiguous_request", msg);
    } else if (rc == -ENODATA) {
        snprintf(msg, sizeof(msg),
                 "the request body is not valid JSON: it ends before the JSON value does "
                 "(byte %" PRIu64 ")",
                 c->txn.body_bytes);
        proxy_conn_fail(c, 400, "invalid_request_error", "invalid_json", msg);
    } else {
        /* Fail closed: a request the guard could not scan does not go out. */
        proxy_conn_fail(c, 503, "guard_error", "guard_unavailable",
                        "the prompt guard could not scan this request; try again");
    }
}

static int body_req_data(struct proxy_conn *c, void *ctx, const char *at, size_t len)
{
    struct proxy_body_filter *bf = ctx;
    uint64_t t0 = proxy_now_ns();
    int rc = guard_prompt_body_feed(&bf->body, at, len, false);
    c->txn.guard_ns += proxy_now_ns() - t0;
    if (rc < 0) {
        body_reject(c, bf, rc);
        return rc;
    }
    return bf->prompt || bf->output ? 0 : 1;
}

/* The rule ids of a verdict, comma-separated, cut to fit. */
static void verdict_rules(const struct policy_rules *pr, const struct guard_prompt_verdict *v,
                          char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++) {
        const char *id = guard_prompt_db_rule(pr->db, v->rules[i])->id;
        int w = snprintf(buf + n, cap - n, "%s%s", i ? "," : "", id);
        if (w < 0 || (size_t)w >= cap - n) {
            buf[n] = '\0';
            break;
        }
        n += (size_t)w;
    }
}

/* What the output guard learns from the request: the schema its output must follow, and a
 * canary token put at the head of its system prompt (the body is rewritten). */
static void body_prepare_output(struct proxy_conn *c, struct proxy_body_filter *bf,
                                struct evbuffer *held)
{
    const struct guard_prompt_body *b = &bf->body;
    if (!bf->output)
        return;
    size_t hl = evbuffer_get_length(held);
    if (b->schema_end > b->schema_start && b->schema_end <= hl) {
        size_t n = (size_t)(b->schema_end - b->schema_start);
        char *text = n <= PROXY_OG_SCHEMA_MAX ? malloc(n) : NULL;
        struct evbuffer_ptr at;
        if (text && evbuffer_ptr_set(held, &at, (size_t)b->schema_start, EVBUFFER_PTR_SET) == 0 &&
            evbuffer_copyout_from(held, &at, text, n) == (ev_ssize_t)n)
            proxy_outguard_request_schema(c, text, n);
        else
            proxy_outguard_request_schema(c, NULL, n); /* too large: unchecked, and said so */
        free(text);
    }
    if (!c->worker->srv->cfg->output_guard.canary || b->system_at == 0 || b->system_at > hl)
        return;
    char tok[PROXY_OG_CANARY_LEN + 1];
    uint64_t r[2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return; /* no entropy: no canary rather than a guessable one */
    if (!proxy_outguard_canary(c, r[0] ^ (r[1] << 1), tok))
        return;
    /* "<!-- token -->" and a line break (JSON-escaped) before the first system text. */
    struct evbuffer *out = evbuffer_new();
    if (out == NULL)
        return;
    evbuffer_remove_buffer(held, out, (size_t)b->system_at);
    evbuffer_add_printf(out, "<!-- %s -->\\n", tok);
    evbuffer_add_buffer(out, held);
    evbuffer_add_buffer(held, out);
    evbuffer_free(out);
}

/* The verdict is in: the scan (its Hyperscan streams and decoder, most of a request's guard
 * memory) goes back to the worker now rather than when the response ends, so a long streamed
 * answer does not hold it. The worker keeps spares made for its current rule set only. */
static void scan_release(struct proxy_worker *w, struct proxy_body_filter *bf)
{
    struct guard_prompt_scan *scan = bf->scan;
    bf->scan = NULL;
    if (scan == NULL)
        return;
    if (bf->rules != w->spare_scans_rules) {
        proxy_filters_spare_scans_free(w);
        w->spare_scans_rules = policy_rules_ref(bf->rules);
    }
    if (w->n_spare_scans < PROXY_WORKER_SPARES)
        w->spare_scans[w->n_spare_scans++] = scan;
    else
        guard_prompt_scan_free(scan);
}

static struct guard_prompt_scan *scan_take(struct proxy_worker *w, const struct policy_rules *r)
{
    if (w->n_spare_scans == 0 || w->spare_scans_rules != r)
        return NULL;
    return w->spare_scans[--w->n_spare_scans];
}

void proxy_filters_spare_scans_free(struct proxy_worker *w)
{
    while (w->n_spare_scans > 0)
        guard_prompt_scan_free(w->spare_scans[--w->n_spare_scans]);
    policy_rules_unref(w->spare_scans_rules);
    w->spare_scans_rules = NULL;
}

static int body_req_end(struct proxy_conn *c, void *ctx, struct evbuffer *held)
{
    struct proxy_body_filter *bf = ctx;
    struct proxy_txn *t = &c->txn;
    const struct policy_config *cfg = c->worker->srv->cfg;
    const struct policy_rules *pr = bf->rules;
    uint64_t t0 = proxy_now_ns();
    int rc = guard_prompt_body_feed(&bf->body, NULL, 0, true);
    if (rc < 0) {
        t->guard_ns += proxy_now_ns() - t0;
        body_reject(c, bf, rc);
        return rc;
    }
    if (!bf->prompt) {
        body_prepare_output(c, bf, held);
        t->guard_ns += proxy_now_ns() - t0;
        return 1;
    }
    struct guard_prompt_verdict *v = &t->prompt;
    guard_prompt_scan_verdict(bf->scan, cfg->prompt_guard.warn_threshold,
                              cfg->prompt_guard.block_threshold, v);
    scan_release(c->worker, bf);
    t->guard_ns += proxy_now_ns() - t0;
    t->prompt_ran = true;
    int action = v->kind == GUARD_PROMPT_BLOCK  ? cfg->prompt_guard.on_block
                 : v->kind == GUARD_PROMPT_WARN ? cfg->prompt_guard.on_warn
                                                : POLICY_ACTION_LOG;
    t->prompt_flag = v->kind != GUARD_PROMPT_PASS ? action != POLICY_ACTION_LOG
                                                  : cfg->prompt_guard.on_warn == POLICY_ACTION_FLAG;
    char rules[512];
    verdict_rules(pr, v, rules, sizeof(rules));
    if (v->kind != GUARD_PROMPT_PASS)
        tel_log(TEL_LOG_INFO, "prompt_verdict", TEL_STR("request_id", t->request_id),
                TEL_STR("peer", c->peer), TEL_STR("verdict", guard_prompt_verdict_name(v->kind)),
                TEL_DBL("score", v->score), TEL_STR("rules", rules),
                TEL_STR("action", action == POLICY_ACTION_BLOCK  ? "block"
                                  : action == POLICY_ACTION_FLAG ? "flag"
                                                                 : "log"),
                TEL_STR("rule_set", pr->hash));
    if (v->kind == GUARD_PROMPT_PASS || action != POLICY_ACTION_BLOCK) {
        uint64_t t1 = proxy_now_ns();
        body_prepare_output(c, bf, held);
        t->guard_ns += proxy_now_ns() - t1;
        return 1;
    }
    /* Blocked: the upstream never receives a byte of this request. */
    char msg[800], extra[1024];
    snprintf(msg, sizeof(msg),
             "Request blocked by Warden: prompt injection detected (score %.2f; rules: %s). "
             "Request id %s.",
             v->score, rules, t->request_id);
    struct evbuffer *h = evbuffer_new();
    size_t n = 0;
    if (h) {
        t->prompt_flag = true;
        proxy_filters_response_headers(c, h);
        evbuffer_add_printf(h, "x-warden-overhead-ms: %.3f\r\n", (double)t->guard_ns / 1e6);
        n = evbuffer_copyout(h, extra, sizeof(extra) - 1);
        evbuffer_free(h);
    }
    extra[n] = '\0';
    proxy_forward_abort(c);
    proxy_conn_respond_error(c, t->flavor, 400, "invalid_request_error", "prompt_blocked", msg,
                             extra);
    t->answered = true;
    return -EACCES; /* answered; the connection serves its next request (conn_process) */
}

static const struct proxy_filter_ops body_filter_ops = {
    .name = "body",
    .req_data = body_req_data,
    .req_end = body_req_end,
};

/* application/json or any +json type (parameters after ';' ignored); not ndjson or jsonl,
 * which are many documents, not one. */
static bool header_has_json(const struct proxy_hdrs *h)
{
    const struct proxy_hdr *ct = proxy_hdrs_find(h, "content-type");
    if (ct == NULL)
        return false;
    const char *v = proxy_hdr_value(h, ct);
    size_t n = ct->value_len;
    const char *semi = memchr(v, ';', n);
    if (semi)
        n = (size_t)(semi - v);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    return (n >= 16 && strncasecmp(v + n - 16, "application/json", 16) == 0) ||
           (n >= 5 && strncasecmp(v + n - 5, "+json", 5) == 0);
}

int proxy_filters_attach(struct proxy_conn *c, const char *target, size_t tlen, bool has_body)
{
    struct proxy_server *srv = c->worker->srv;
    const struct policy_config *cfg = srv->cfg;
    struct proxy_txn *t = &c->txn;
    enum guard_prompt_api api = guard_prompt_api_of(target, tlen);
    struct policy_rules *rules = NULL;
    if (has_body && api != GUARD_PROMPT_API_NONE && cfg->prompt_guard.enabled)
        rules = proxy_worker_rules(c->worker);
    /* The prompt APIs are scanned whatever the Content-Type says: leaving it out must not
     * be a way around the guard. */
    bool prompt = rules != NULL && c->worker->prompt_scratch != NULL;
    /* The output guard learns the request's schema and puts its canary in the held body. */
    bool output = has_body && api != GUARD_PROMPT_API_NONE && cfg->output_guard.enabled &&
                  proxy_worker_output_rules(c->worker) != NULL && c->worker->out_scratch != NULL;
    if (!prompt && !output && !(has_body && header_has_json(&c->req_hdrs)))
        return 0;
    struct proxy_body_filter *bf = c->body_filter;
    struct proxy_worker *w = c->worker;
    if (bf == NULL && w->spare_filters != NULL) {
        bf = c->body_filter = w->spare_filters;
        w->spare_filters = bf->next;
        w->n_spare_filters--;
        bf->next = NULL;
    }
    if (bf == NULL && (bf = c->body_filter = calloc(1, sizeof(*bf))) == NULL)
        return -ENOMEM;
    if (prompt && bf->rules != rules) {
        /* A reload: the streams of the old set go with it. */
        guard_prompt_scan_free(bf->scan);
        bf->scan = NULL;
        policy_rules_unref(bf->rules);
        bf->rules = policy_rules_ref(rules);
    }
    if (prompt && bf->scan == NULL && (bf->scan = scan_take(w, rules)) == NULL) {
        struct guard_prompt_limits lim = {.decode_budget = (size_t)cfg->prompt_guard.decode_budget,
                                          .no_decode = cfg->prompt_guard.decode_budget == 0};
        if ((bf->scan = guard_prompt_scan_new(rules->db, &lim)) == NULL)
            return -ENOMEM;
    }
    bf->prompt = prompt;
    bf->output = output;
    if (prompt)
        guard_prompt_scan_reset(bf->scan, c->worker->prompt_scratch);
    guard_prompt_body_init(&bf->body, prompt || output ? api : GUARD_PROMPT_API_NONE,
                           prompt ? bf->scan : NULL, cfg->prompt_guard.scan_system,
                           &body_json_limits);
    t->filters[t->n_filters++] = (struct proxy_filter){.ops = &body_filter_ops, .ctx = bf};
    t->hold_all |= prompt || output;
    return 0;
}

static void body_filter_free(struct proxy_body_filter *bf)
{
    guard_prompt_scan_free(bf->scan);
    policy_rules_unref(bf->rules);
    free(bf);
}

void proxy_filters_free(struct proxy_conn *c)
{
    if (c->body_filter == NULL)
        return;
    body_filter_free(c->body_filter);
    c->body_filter = NULL;
}

void proxy_filters_release(struct proxy_conn *c)
{
    struct proxy_body_filter *bf = c->body_filter;
    struct proxy_worker *w = c->worker;
    if (bf == NULL)
        return;
    c->body_filter = NULL;
    /* Streams made for a rule set that a reload replaced are not worth keeping. */
    if (w->n_spare_filters >= PROXY_WORKER_SPARES || (bf->rules && bf->rules != w->prompt_rules)) {
        body_filter_free(bf);
        return;
    }
    bf->next = w->spare_filters;
    w->spare_filters = bf;
    w->n_spare_filters++;
}

void proxy_filters_spares_free(struct proxy_worker *w)
{
    proxy_filters_spare_scans_free(w);
    while (w->spare_filters) {
        struct proxy_body_filter *bf = w->spare_filters;
        w->spare_filters = bf->next;
        body_filter_free(bf);
    }
    w->n_spare_filters = 0;
}

const struct guard_prompt_body *proxy_filters_request(const struct proxy_conn *c)
{
    return c->txn.n_filters > 0 && c->body_filter ? &c->body_filter->body : NULL;
}

const struct policy_rules *proxy_filters_rules(const struct proxy_conn *c)
{
    return c->txn.prompt_ran && c->body_filter ? c->body_filter->rules : NULL;
}

void proxy_filters_response_headers(struct proxy_conn *c, struct evbuffer *b)
{
    const struct proxy_txn *t = &c->txn;
    if (!t->prompt_ran || !t->prompt_flag || c->body_filter == NULL)
        return;
    char rules[512];
    verdict_rules(c->body_filter->rules, &t->prompt, rules, sizeof(rules));
    evbuffer_add_printf(b, "x-warden-verdict: %s\r\nx-warden-prompt-score: %.4f\r\n",
                        guard_prompt_verdict_name(t->prompt.kind), t->prompt.score);
    if (rules[0])
        evbuffer_add_printf(b, "x-warden-prompt-rules: %s\r\n", rules);
}

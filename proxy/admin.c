/* Warden's own endpoints on the listener: health, readiness, the scan API and the rules. */
#include "proxy/admin.h"

#include "guards/json_value.h"
#include "guards/schema.h"

#include "policy/config.h"
#include "policy/rules.h"
#include "proxy/conn.h"
#include "proxy/deps_api.h"
#include "proxy/observe.h"
#include "proxy/scan.h"
#include "proxy/server.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

static bool path_is(const char *path, size_t len, const char *want)
{
    size_t n = strlen(want);
    if (n > 0 && want[n - 1] == '/')
        return len > n && memcmp(path, want, n) == 0;
    return len == n && memcmp(path, want, n) == 0;
}

static int respond_json(struct proxy_conn *c, int status, const char *body)
{
    proxy_conn_respond(c, status, "application/json", body, strlen(body), NULL);
    return 1;
}

static int method_not_allowed(struct proxy_conn *c, const char *allow)
{
    char msg[80], extra[64];
    snprintf(msg, sizeof(msg), "use %s", allow);
    snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
    proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 405, "invalid_request_error",
                             "method_not_allowed", msg, extra);
    return 1;
}

static int send_buffer(struct proxy_conn *c, int status, struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    proxy_conn_respond(c, status, "application/json", (const char *)evbuffer_pullup(b, -1), n,
                       NULL);
    evbuffer_free(b);
    return 1;
}

static const struct policy_rules *prompt_rules(struct proxy_conn *c)
{
    const struct policy_rules *r = proxy_worker_rules(c->worker);
    if (r == NULL || c->worker->prompt_scratch == NULL) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "guard_disabled",
                                 "the prompt guard is disabled (prompt_guard.enabled)", NULL);
        return NULL;
    }
    return r;
}

/* POST /v1/scan/prompt {"text": ...}: the verdict the proxy would reach on that user text. */
static int scan_prompt(struct proxy_conn *c)
{
    const struct policy_config *cfg = c->worker->srv->cfg;
    const struct policy_rules *r;
    struct proxy_scan_req req = {0};
    struct guard_prompt_verdict v;
    struct timespec t0, t1;
    char why[200];
    if (c->txn.method != HTTP_POST)
        return method_not_allowed(c, "POST");
    if ((r = prompt_rules(c)) == NULL)
        return 1;
    struct evbuffer *out = evbuffer_new();
    req.text = evbuffer_new();
    req.id = evbuffer_new();
    struct guard_prompt_scan *scan = NULL;
    if (out == NULL || req.text == NULL || req.id == NULL)
        goto oom;
    size_t blen = c->hold ? evbuffer_get_length(c->hold) : 0;
    const char *body = blen ? (const char *)evbuffer_pullup(c->hold, -1) : "";
    if (proxy_scan_req_parse(body, blen, "text", &req, why, sizeof(why)) != 0) {
        char msg[260];
        snprintf(msg, sizeof(msg), "request body: %s", why);
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 400, "invalid_request_error",
                                 "invalid_request", msg, NULL);
        goto done;
    }
    struct guard_prompt_limits lim = {.decode_budget = (size_t)cfg->prompt_guard.decode_budget,
                                      .no_decode = cfg->prompt_guard.decode_budget == 0};
    if ((scan = guard_prompt_scan_new(r->db, &lim)) == NULL)
        goto oom;
    size_t n = evbuffer_get_length(req.text);
    const char *text = n ? (const char *)evbuffer_pullup(req.text, -1) : "";
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = guard_prompt_scan_block(scan, c->worker->prompt_scratch, text, n,
                                     cfg->prompt_guard.warn_threshold,
                                     cfg->prompt_guard.block_threshold, &v);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != 0) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "guard_unavailable",
                                 "the prompt guard could not scan this text", NULL);
        goto done;
    }
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    proxy_scan_prompt_json(out, r, &v, ms);
    guard_prompt_scan_free(scan);
    evbuffer_free(req.text);
    evbuffer_free(req.id);
    return send_buffer(c, 200, out);
oom:
    proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "overloaded",
                             "out of memory", NULL);
done:
    guard_prompt_scan_free(scan);
    if (out)
        evbuffer_free(out);
    if (req.text)
        evbuffer_free(req.text);
    if (req.id)
        evbuffer_free(req.id);
    return 1;
}

static void bad_request(struct proxy_conn *c, const char *msg)
{
    proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 400, "invalid_request_error",
                             "invalid_request", msg, NULL);
}

/* POST /v1/scan/output {"output": text or any JSON, "schema"?: a JSON Schema}: what the output
 * guard finds in that output, the text as it would be redacted, and the schema's verdict. */
static int scan_output(struct proxy_conn *c)
{
    const struct policy_rules *r;
    struct guard_jv_doc *doc = NULL;
    struct guard_json_error jerr;
    struct guard_schema *schema = NULL;
    struct guard_output_stream *st = NULL;
    struct guard_output_policy pol;
    struct proxy_scan_schema sch = {.valid = true, .violations = NULL};
    struct evbuffer *out = NULL;
    char *written = NULL, msg[400];
    struct timespec t0, t1;
    if (c->txn.method != HTTP_POST)
        return method_not_allowed(c, "POST");
    r = proxy_worker_output_rules(c->worker);
    if (r == NULL || c->worker->out_scratch == NULL) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "guard_disabled",
                                 "the output guard is disabled (output_guard.enabled)", NULL);
        return 1;
    }
    size_t blen = c->hold ? evbuffer_get_length(c->hold) : 0;
    const char *body = blen ? (const char *)evbuffer_pullup(c->hold, -1) : "";
    struct guard_jv_limits lim = {.max_bytes = PROXY_SCAN_TEXT_MAX, .max_nodes = 1u << 20};
    int rc = guard_jv_parse(body, blen, &lim, &doc, &jerr);
    if (rc == -ENOMEM)
        goto oom;
    if (rc != 0) {
        snprintf(msg, sizeof(msg), "request body: not valid JSON: %s at line %u, column %u",
                 jerr.message, (unsigned)jerr.line, (unsigned)jerr.column);
        bad_request(c, msg);
        goto done;
    }
    const struct guard_jv *root = guard_jv_doc_root(doc);
    const struct guard_jv *output =
        guard_jv_type(root) == GUARD_JV_OBJECT ? guard_jv_object_get(root, "output", 6) : NULL;
    const struct guard_jv *sv =
        guard_jv_type(root) == GUARD_JV_OBJECT ? guard_jv_object_get(root, "schema", 6) : NULL;
    if (output == NULL) {
        bad_request(c, "request body: missing \"output\" (the model output: a string, or JSON)");
        goto done;
    }
    const char *text;
    size_t n;
    if (guard_jv_type(output) == GUARD_JV_STRING) {
        text = guard_jv_string(output, &n);
    } else {
        if (guard_jv_write(output, &written, &n) != 0)
            goto oom;
        text = written;
    }
    if (sv && guard_jv_type(sv) != GUARD_JV_NULL &&
        guard_schema_new(sv, NULL, NULL, 0, &schema, msg + 8, sizeof(msg) - 8) != 0) {
        memcpy(msg, "schema: ", 8);
        bad_request(c, msg);
        goto done;
    }
    if ((out = evbuffer_new()) == NULL || (st = guard_output_stream_new(r->out_db, NULL)) == NULL)
        goto oom;
    proxy_scan_output_policy(&c->worker->srv->out_pol, &pol);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (proxy_scan_output_text(st, c->worker->out_scratch, &pol, text, n) != 0) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "guard_unavailable",
                                 "the output guard could not scan this output", NULL);
        goto done;
    }
    if (schema &&
        proxy_scan_schema_check(schema, guard_jv_type(output) == GUARD_JV_STRING ? NULL : output,
                                text, n, &sch) != 0)
        goto oom;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    proxy_scan_output_json(out, r, &c->worker->srv->out_pol, st, schema ? &sch : NULL, ms);
    rc = send_buffer(c, 200, out);
    out = NULL;
    goto free;
oom:
    proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "overloaded",
                             "out of memory", NULL);
done:
    rc = 1;
free:
    if (out)
        evbuffer_free(out);
    if (sch.violations)
        evbuffer_free(sch.violations);
    guard_output_stream_free(st);
    guard_schema_free(schema);
    free(written);
    guard_jv_doc_free(doc);
    return rc;
}

/* GET /v1/rules and /v1/rules/{id}. */
static int rules(struct proxy_conn *c, const char *path, size_t len)
{
    const struct policy_rules *r;
    if (c->txn.method != HTTP_GET && c->txn.method != HTTP_HEAD)
        return method_not_allowed(c, "GET, HEAD");
    if ((r = prompt_rules(c)) == NULL)
        return 1;
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "guard_error", "overloaded",
                                 "out of memory", NULL);
        return 1;
    }
    const struct policy_rules *o = proxy_worker_output_rules(c->worker);
    if (len <= 10) { /* "/v1/rules" or "/v1/rules/" */
        proxy_scan_rules_json(out, r, o);
        return send_buffer(c, 200, out);
    }
    char id[80];
    size_t n = len - 10;
    if (n >= sizeof(id)) {
        n = 0;
    }
    memcpy(id, path + 10, n);
    id[n] = '\0';
    long i = n ? guard_prompt_db_find(r->db, id) : -1;
    for (size_t k = 0; i < 0 && n && o && k < o->n; k++) {
        if (strcmp(o->out_rules[k].id, id) == 0) {
            proxy_scan_output_rule_json(out, o, k);
            return send_buffer(c, 200, out);
        }
    }
    if (i < 0) {
        evbuffer_free(out);
        char msg[160];
        snprintf(msg, sizeof(msg), "no rule has the id '%.80s' (GET /v1/rules lists them)", id);
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 404, "invalid_request_error",
                                 "rule_not_found", msg, NULL);
        return 1;
    }
    proxy_scan_rule_json(out, r, (size_t)i);
    return send_buffer(c, 200, out);
}

/* GET /metrics: every instrument in the Prometheus text format. */
static int metrics(struct proxy_conn *c)
{
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "server_error", "overloaded",
                                 "out of memory", NULL);
        return 1;
    }
    if (c->worker->srv->obs)
        proxy_obs_prometheus(c->worker->srv->obs, b);
    size_t n = evbuffer_get_length(b);
    proxy_conn_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
                       n ? (const char *)evbuffer_pullup(b, -1) : "", n, NULL);
    evbuffer_free(b);
    return 1;
}

bool proxy_admin_owns(const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    if (path_is(url, plen, "/healthz") || path_is(url, plen, "/readyz") ||
        path_is(url, plen, "/v1/scan/prompt") || path_is(url, plen, "/v1/scan/output") ||
        path_is(url, plen, "/v1/rules") || path_is(url, plen, "/v1/rules/") ||
        path_is(url, plen, "/metrics") || path_is(url, plen, "/v1/scan/deps"))
        return true;
    return false;
}

int proxy_admin_handle(struct proxy_conn *c, const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    bool get = c->txn.method == HTTP_GET || c->txn.method == HTTP_HEAD;
    bool health = path_is(url, plen, "/healthz"), ready = path_is(url, plen, "/readyz");
    if (health || ready) {
        if (!get) {
            static const char body[] = "{\"error\":{\"message\":\"use GET or HEAD\",\"type\":"
                                       "\"invalid_request_error\",\"code\":"
                                       "\"method_not_allowed\",\"param\":null}}";
            proxy_conn_respond(c, 405, "application/json", body, sizeof(body) - 1,
                               "Allow: GET, HEAD\r\n");
            return 1;
        }
        if (health)
            return respond_json(c, 200, "{\"status\":\"ok\"}");
        /* Ready means: accepting new work. A draining server asks balancers to go away. */
        if (c->worker->draining)
            return respond_json(c, 503, "{\"status\":\"draining\"}");
        return respond_json(c, 200, "{\"status\":\"ready\"}");
    }
    if (path_is(url, plen, "/metrics")) {
        if (!get)
            return method_not_allowed(c, "GET, HEAD");
        return metrics(c);
    }
    if (path_is(url, plen, "/v1/scan/output"))
        return scan_output(c);
    if (path_is(url, plen, "/v1/scan/prompt"))
        return scan_prompt(c);
    if (path_is(url, plen, "/v1/rules") || path_is(url, plen, "/v1/rules/"))
        return rules(c, url, plen);
    if (path_is(url, plen, "/v1/scan/deps")) {
        if (c->txn.method != HTTP_POST)
            return method_not_allowed(c, "POST");
        return proxy_deps_api_handle(c, q ? q + 1 : "", q ? len - plen - 1 : 0);
    }
    return 0;
}

/* Scan services for the CLI and the side endpoints: request parsing and JSON answers. */
#include "proxy/scan.h"

#include "guards/json.h"
#include "guards/json_value.h"
#include "guards/schema.h"
#include "policy/rules.h"
#include "proxy/http.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

int proxy_scan_req_parse(const char *buf, size_t len, const char *field, struct proxy_scan_req *r,
                         char *why, size_t why_cap)
{
    struct guard_json js;
    struct guard_json_event ev;
    enum { M_NONE = 0, M_TEXT, M_ID } member = M_NONE;
    int rc;
    bool saw_text = false, id_done = false;
    guard_json_init(&js, NULL);
    guard_json_feed(&js, buf, len, true);
    r->has_text = false;
    while ((rc = guard_json_next(&js, &ev)) > 0) {
        if (ev.depth == 0 && ev.tok != GUARD_JSON_OBJECT_BEGIN && ev.tok != GUARD_JSON_OBJECT_END) {
            snprintf(why, why_cap, "expected a JSON object with a \"%s\" string", field);
            return -EINVAL;
        }
        if (ev.depth != 1)
            continue;
        if (ev.tok == GUARD_JSON_KEY) {
            member = ev.len == strlen(field) && memcmp(ev.str, field, ev.len) == 0 ? M_TEXT
                     : ev.len == 2 && memcmp(ev.str, "id", 2) == 0                 ? M_ID
                                                                                   : M_NONE;
            continue;
        }
        if (member == M_TEXT) {
            if (ev.tok != GUARD_JSON_STRING) {
                snprintf(why, why_cap, "\"%s\" must be a string", field);
                return -EINVAL;
            }
            if (ev.flags & GUARD_JSON_F_BEGIN) {
                if (saw_text) {
                    snprintf(why, why_cap, "\"%s\" is given twice", field);
                    return -EINVAL;
                }
                saw_text = true;
            }
            if (evbuffer_get_length(r->text) + ev.len > PROXY_SCAN_TEXT_MAX) {
                snprintf(why, why_cap, "\"%s\" is longer than %u bytes", field,
                         PROXY_SCAN_TEXT_MAX);
                return -EINVAL;
            }
            evbuffer_add(r->text, ev.str, ev.len);
            r->has_text = true;
        } else if (member == M_ID && !id_done) {
            if (ev.tok == GUARD_JSON_STRING) {
                if (ev.flags & GUARD_JSON_F_BEGIN)
                    evbuffer_add(r->id, "\"", 1);
                if (evbuffer_get_length(r->id) + ev.len < 4096)
                    proxy_json_escape(r->id, ev.str, ev.len);
                if (ev.flags & GUARD_JSON_F_END)
                    evbuffer_add(r->id, "\"", 1);
            } else if (ev.tok == GUARD_JSON_NUMBER) {
                evbuffer_add(r->id, ev.str, ev.len);
            }
            /* The first id counts; a later one is ignored. */
            id_done = ev.tok != GUARD_JSON_STRING || (ev.flags & GUARD_JSON_F_END);
        }
        if (ev.tok != GUARD_JSON_STRING || (ev.flags & GUARD_JSON_F_END))
            member = M_NONE; /* the member's value is complete */
    }
    if (!id_done) /* an id cut short by the error is no id */
        evbuffer_drain(r->id, evbuffer_get_length(r->id));
    if (rc < 0) {
        const struct guard_json_error *e = guard_json_error(&js);
        snprintf(why, why_cap, "not valid JSON: %s at line %" PRIu32 ", column %" PRIu32,
                 e->message, e->line, e->column);
        return -EINVAL;
    }
    if (!guard_json_done(&js)) {
        snprintf(why, why_cap, "not valid JSON: the input ends early");
        return -EINVAL;
    }
    if (!r->has_text && !saw_text) {
        snprintf(why, why_cap, "missing \"%s\" (a string)", field);
        return -EINVAL;
    }
    r->has_text = true;
    return 0;
}

static void rule_ids(struct evbuffer *b, const struct policy_rules *r,
                     const struct guard_prompt_verdict *v)
{
    evbuffer_add(b, "[", 1);
    for (size_t i = 0; i < v->n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++) {
        evbuffer_add_printf(b, "%s\"", i ? "," : "");
        proxy_json_escape(b, guard_prompt_db_rule(r->db, v->rules[i])->id, SIZE_MAX);
        evbuffer_add(b, "\"", 1);
    }
    evbuffer_add(b, "]", 1);
}

void proxy_scan_prompt_json(struct evbuffer *b, const struct policy_rules *r,
                            const struct guard_prompt_verdict *v, double ms)
{
    evbuffer_add_printf(b, "{\"blocked\":%s,\"verdict\":\"%s\",\"score\":%.4f,\"rules_matched\":",
                        v->kind == GUARD_PROMPT_BLOCK ? "true" : "false",
                        guard_prompt_verdict_name(v->kind), v->score);
    rule_ids(b, r, v);
    evbuffer_add(b, ",\"categories\":[", 15);
    /* Each category once, in the order of the rules that carry it. */
    size_t shown = 0;
    for (size_t i = 0; i < v->n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++) {
        const char *cat = guard_prompt_db_rule(r->db, v->rules[i])->category;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(guard_prompt_db_rule(r->db, v->rules[j])->category, cat) == 0;
        if (seen)
            continue;
        evbuffer_add_printf(b, "%s\"%s\"", shown++ ? "," : "", cat);
    }
    evbuffer_add_printf(b,
                        "],\"corpus_hash\":\"%s\",\"rules_count\":%zu,\"bytes_scanned\":%" PRIu64
                        ",\"decode_budget_exhausted\":%s,\"duration_ms\":%.3f}",
                        r->hash, r->n, v->bytes_scanned, v->budget_exhausted ? "true" : "false",
                        ms);
}

void proxy_scan_prompt_batch_json(struct evbuffer *b, const struct policy_rules *r,
                                  const struct guard_prompt_verdict *v, const char *id,
                                  size_t id_len)
{
    evbuffer_add(b, "{\"id\":", 6);
    if (id_len)
        evbuffer_add(b, id, id_len);
    else
        evbuffer_add(b, "null", 4);
    evbuffer_add_printf(b, ",\"blocked\":%s,\"verdict\":\"%s\",\"score\":%.4f,\"rules\":",
                        v->kind == GUARD_PROMPT_BLOCK ? "true" : "false",
                        guard_prompt_verdict_name(v->kind), v->score);
    rule_ids(b, r, v);
    evbuffer_add(b, "}\n", 2);
}

static void examples_json(struct evbuffer *b, const struct policy_rules *r, size_t i)
{
    size_t n_match = 0, n_no = 0;
    for (size_t j = 0; j < r->n_examples[i]; j++)
        *(r->examples[i][j].match ? &n_match : &n_no) += 1;
    evbuffer_add(b, ",\"source\":\"", 11);
    proxy_json_escape(b, r->locs[i].source, SIZE_MAX);
    evbuffer_add_printf(b, ":%" PRIu32 "\",\"examples\":{\"match\":%zu,\"no_match\":%zu}",
                        r->locs[i].line, n_match, n_no);
}

void proxy_scan_rule_json(struct evbuffer *b, const struct policy_rules *r, size_t i)
{
    const struct guard_prompt_rule *rule = guard_prompt_db_rule(r->db, i);
    evbuffer_add(b, "{\"id\":\"", 7);
    proxy_json_escape(b, rule->id, SIZE_MAX);
    evbuffer_add_printf(b, "\",\"kind\":\"prompt\",\"category\":\"");
    proxy_json_escape(b, rule->category, SIZE_MAX);
    evbuffer_add_printf(b, "\",\"weight\":%.4g,\"description\":\"", rule->weight);
    proxy_json_escape(b, rule->description, SIZE_MAX);
    evbuffer_add(b, "\",\"pattern\":\"", 13);
    proxy_json_escape(b, rule->pattern, SIZE_MAX);
    evbuffer_add(b, "\"", 1);
    if (i < r->n) {
        examples_json(b, r, i);
    } else {
        evbuffer_add(b, ",\"source\":\"built-in signal\"", 27);
    }
    evbuffer_add(b, "}", 1);
}

void proxy_scan_output_rule_json(struct evbuffer *b, const struct policy_rules *r, size_t i)
{
    const struct guard_output_rule *rule = guard_output_db_rule(r->out_db, i);
    evbuffer_add(b, "{\"id\":\"", 7);
    proxy_json_escape(b, rule->id, SIZE_MAX);
    evbuffer_add_printf(
        b, "\",\"kind\":\"output\",\"type\":\"%s\",\"class\":\"%s\",\"priority\":%d", rule->type,
        rule->cls == GUARD_OUT_SECRET ? "secret" : "pii", rule->priority);
    evbuffer_add(b, ",\"validator\":\"", 14);
    proxy_json_escape(b, rule->validator ? rule->validator : "", SIZE_MAX);
    evbuffer_add(b, "\",\"description\":\"", 17);
    proxy_json_escape(b, rule->description, SIZE_MAX);
    evbuffer_add(b, "\",\"pattern\":\"", 13);
    proxy_json_escape(b, rule->pattern, SIZE_MAX);
    evbuffer_add(b, "\"", 1);
    examples_json(b, r, i);
    evbuffer_add(b, "}", 1);
}

void proxy_scan_rules_json(struct evbuffer *b, const struct policy_rules *r,
                           const struct policy_rules *out)
{
    size_t n = guard_prompt_db_count(r->db);
    size_t no = out ? guard_output_db_count(out->out_db) : 0;
    evbuffer_add_printf(b,
                        "{\"corpus_hash\":\"%s\",\"output_hash\":\"%s\",\"count\":%zu,\"rules\":[",
                        r->hash, out ? out->hash : "", n + no);
    for (size_t i = 0; i < n; i++) {
        if (i)
            evbuffer_add(b, ",", 1);
        proxy_scan_rule_json(b, r, i);
    }
    for (size_t i = 0; i < no; i++) {
        if (i + n)
            evbuffer_add(b, ",", 1);
        proxy_scan_output_rule_json(b, out, i);
    }
    evbuffer_add(b, "]}", 2);
}

/* ---------------------------------------------------------------- output */

void proxy_scan_output_policy(const struct guard_output_policy *conf,
                              struct guard_output_policy *scan)
{
    *scan = *conf;
    for (size_t i = 0; i < 2; i++)
        scan->cls[i] = scan->cls[i] == GUARD_OUT_BLOCK ? GUARD_OUT_REDACT : scan->cls[i];
    for (size_t i = 0; i < scan->n_types; i++)
        scan->types[i].action =
            scan->types[i].action == GUARD_OUT_BLOCK ? GUARD_OUT_REDACT : scan->types[i].action;
}

int proxy_scan_output_text(struct guard_output_stream *st, struct guard_output_scratch *scratch,
                           const struct guard_output_policy *scan_pol, const char *text, size_t n)
{
    guard_output_stream_reset(st, scratch, scan_pol);
    int rc = guard_output_stream_feed(st, text, n);
    if (rc == 0)
        rc = guard_output_stream_end(st);
    return rc < 0 ? rc : 0;
}

static enum guard_out_action conf_action(const struct policy_rules *r,
                                         const struct guard_output_policy *conf,
                                         const struct guard_output_finding *f)
{
    return guard_output_policy_action(conf, guard_output_db_rule(r->out_db, f->rule));
}

enum proxy_scan_out_verdict proxy_scan_output_verdict(const struct guard_output_stream *st,
                                                      const struct policy_rules *r,
                                                      const struct guard_output_policy *conf)
{
    const struct guard_output_finding *f;
    size_t n = guard_output_stream_findings(st, &f);
    enum proxy_scan_out_verdict v = PROXY_SCAN_OUT_PASS;
    for (size_t i = 0; i < n; i++) {
        enum guard_out_action a = conf_action(r, conf, &f[i]);
        if (a == GUARD_OUT_BLOCK)
            return PROXY_SCAN_OUT_BLOCK;
        if (a == GUARD_OUT_REDACT)
            v = PROXY_SCAN_OUT_REDACT;
    }
    return v;
}

const char *proxy_scan_action_name(enum guard_out_action a)
{
    return a == GUARD_OUT_BLOCK ? "block" : a == GUARD_OUT_REDACT ? "redact" : "log";
}

void proxy_scan_output_findings_json(struct evbuffer *b, const struct policy_rules *r,
                                     const struct guard_output_policy *conf,
                                     const struct guard_output_stream *st)
{
    const struct guard_output_finding *f;
    size_t n = guard_output_stream_findings(st, &f);
    evbuffer_add(b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        const struct guard_output_rule *rule = guard_output_db_rule(r->out_db, f[i].rule);
        evbuffer_add_printf(b,
                            "%s{\"type\":\"%s\",\"rule\":\"%s\",\"start\":%" PRIu64
                            ",\"end\":%" PRIu64 ",\"action\":\"%s\"}",
                            i ? "," : "", rule->type, rule->id, f[i].cp_start, f[i].cp_end,
                            proxy_scan_action_name(conf_action(r, conf, &f[i])));
    }
    evbuffer_add(b, "]", 1);
}

static void redacted_json(struct evbuffer *b, const struct guard_output_stream *st)
{
    const char *text;
    size_t len;
    guard_output_stream_output(st, &text, &len);
    evbuffer_add(b, "\"", 1);
    proxy_json_escape(b, text, len);
    evbuffer_add(b, "\"", 1);
}

void proxy_scan_output_batch_json(struct evbuffer *b, const struct policy_rules *r,
                                  const struct guard_output_policy *conf,
                                  const struct guard_output_stream *st, const char *id,
                                  size_t id_len)
{
    evbuffer_add(b, "{\"id\":", 6);
    if (id_len)
        evbuffer_add(b, id, id_len);
    else
        evbuffer_add(b, "null", 4);
    evbuffer_add(b, ",\"findings\":", 12);
    proxy_scan_output_findings_json(b, r, conf, st);
    evbuffer_add(b, ",\"redacted\":", 12);
    redacted_json(b, st);
    evbuffer_add(b, "}\n", 2);
}

void proxy_scan_output_json(struct evbuffer *b, const struct policy_rules *r,
                            const struct guard_output_policy *conf,
                            const struct guard_output_stream *st,
                            const struct proxy_scan_schema *schema, double ms)
{
    const struct guard_output_finding *f;
    size_t n = guard_output_stream_findings(st, &f);
    enum proxy_scan_out_verdict v = proxy_scan_output_verdict(st, r, conf);
    bool schema_bad = schema && !schema->valid;
    double score = schema_bad ? 0.8 : 0.0;
    for (size_t i = 0; i < n; i++) {
        const struct guard_output_rule *rule = guard_output_db_rule(r->out_db, f[i].rule);
        double s = rule->cls == GUARD_OUT_SECRET ? 1.0 : 0.5;
        score = s > score ? s : score;
    }
    const char *verdict = v == PROXY_SCAN_OUT_BLOCK    ? "block"
                          : schema_bad                 ? "invalid"
                          : v == PROXY_SCAN_OUT_REDACT ? "redact"
                                                       : "pass";
    evbuffer_add_printf(b, "{\"valid\":%s,\"verdict\":\"%s\",\"score\":%.2f,\"violations\":[",
                        v != PROXY_SCAN_OUT_BLOCK && !schema_bad ? "true" : "false", verdict,
                        score);
    for (size_t i = 0; i < n; i++) {
        const struct guard_output_rule *rule = guard_output_db_rule(r->out_db, f[i].rule);
        evbuffer_add_printf(b,
                            "%s{\"kind\":\"%s\",\"type\":\"%s\",\"rule\":\"%s\",\"start\":%" PRIu64
                            ",\"end\":%" PRIu64 ",\"action\":\"%s\",\"message\":\"",
                            i ? "," : "", rule->cls == GUARD_OUT_SECRET ? "secret" : "pii",
                            rule->type, rule->id, f[i].cp_start, f[i].cp_end,
                            proxy_scan_action_name(conf_action(r, conf, &f[i])));
        proxy_json_escape(b, rule->description, SIZE_MAX);
        evbuffer_add(b, "\"}", 2);
    }
    if (schema && schema->violations && evbuffer_get_length(schema->violations) > 0) {
        if (n)
            evbuffer_add(b, ",", 1);
        evbuffer_add(b, evbuffer_pullup(schema->violations, -1),
                     evbuffer_get_length(schema->violations));
    }
    evbuffer_add(b, "],\"redacted\":", 13);
    redacted_json(b, st);
    evbuffer_add_printf(b,
                        ",\"schema_valid\":%s,\"findings_total\":%zu,\"rule_set\":\"%s\","
                        "\"duration_ms\":%.3f}",
                        schema ? (schema->valid ? "true" : "false") : "null",
                        guard_output_stream_findings_total(st), r->hash, ms);
}

/* ---------------------------------------------------------------- schema */

#define ADD_LIT(b, lit) evbuffer_add((b), (lit), sizeof(lit) - 1)

static void schema_violation(struct evbuffer *b, const char *keyword, const char *path,
                             const char *schema_path, const char *message)
{
    if (evbuffer_get_length(b) > 0)
        ADD_LIT(b, ",");
    ADD_LIT(b, "{\"kind\":\"schema\",\"type\":\"SCHEMA\",\"keyword\":\"");
    proxy_json_escape(b, keyword, SIZE_MAX);
    ADD_LIT(b, "\",\"path\":\"");
    proxy_json_escape(b, path, SIZE_MAX);
    ADD_LIT(b, "\",\"schema_path\":\"");
    proxy_json_escape(b, schema_path, SIZE_MAX);
    ADD_LIT(b, "\",\"action\":\"block\",\"message\":\"");
    proxy_json_escape(b, message, SIZE_MAX);
    ADD_LIT(b, "\"}");
}

int proxy_scan_schema_check(const struct guard_schema *schema, const struct guard_jv *instance,
                            const char *text, size_t len, struct proxy_scan_schema *sch)
{
    struct guard_jv_doc *doc = NULL;
    struct guard_json_error jerr;
    struct guard_schema_result res;
    struct guard_jv_limits lim = {.max_bytes = PROXY_SCAN_TEXT_MAX};
    sch->valid = false;
    if ((sch->violations = evbuffer_new()) == NULL)
        return -ENOMEM;
    if (instance == NULL) {
        int rc = guard_jv_parse(text, len, &lim, &doc, &jerr);
        if (rc == -ENOMEM)
            return rc;
        if (rc != 0) {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "the output is not JSON: %s at line %" PRIu32 ", column %" PRIu32,
                     jerr.message, jerr.line, jerr.column);
            schema_violation(sch->violations, "json", "", "", msg);
            return 0;
        }
        instance = guard_jv_doc_root(doc);
    }
    memset(&res, 0, sizeof(res));
    int rc = guard_schema_validate(schema, instance, NULL, &res);
    if (rc < 0) {
        schema_violation(sch->violations, "error", "", "",
                         "the schema check could not run (treated as invalid)");
    } else {
        sch->valid = rc == 0;
        for (size_t i = 0; i < res.n; i++)
            schema_violation(sch->violations, res.v[i].keyword, res.v[i].instance, res.v[i].schema,
                             res.v[i].message);
    }
    guard_schema_result_free(&res);
    guard_jv_doc_free(doc);
    return rc == -ENOMEM ? rc : 0;
}

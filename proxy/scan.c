/* Scan services for the CLI and the side endpoints: request parsing and JSON answers. */
#include "proxy/scan.h"

#include "guards/json.h"
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

static void rule_ids(struct evbuffer *b, const struct policy_prompt_rules *r,
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

void proxy_scan_prompt_json(struct evbuffer *b, const struct policy_prompt_rules *r,
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

void proxy_scan_prompt_batch_json(struct evbuffer *b, const struct policy_prompt_rules *r,
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

void proxy_scan_rule_json(struct evbuffer *b, const struct policy_prompt_rules *r, size_t i)
{
    const struct guard_prompt_rule *rule = guard_prompt_db_rule(r->db, i);
    size_t n_match = 0, n_no = 0;
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
        for (size_t j = 0; j < r->n_examples[i]; j++)
            *(r->examples[i][j].match ? &n_match : &n_no) += 1;
        evbuffer_add(b, ",\"source\":\"", 11);
        proxy_json_escape(b, r->locs[i].source, SIZE_MAX);
        evbuffer_add_printf(b, ":%" PRIu32 "\",\"examples\":{\"match\":%zu,\"no_match\":%zu}",
                            r->locs[i].line, n_match, n_no);
    } else {
        evbuffer_add(b, ",\"source\":\"built-in signal\"", 27);
    }
    evbuffer_add(b, "}", 1);
}

void proxy_scan_rules_json(struct evbuffer *b, const struct policy_prompt_rules *r)
{
    size_t n = guard_prompt_db_count(r->db);
    evbuffer_add_printf(b, "{\"corpus_hash\":\"%s\",\"count\":%zu,\"rules\":[", r->hash, n);
    for (size_t i = 0; i < n; i++) {
        if (i)
            evbuffer_add(b, ",", 1);
        proxy_scan_rule_json(b, r, i);
    }
    evbuffer_add(b, "]}", 2);
}

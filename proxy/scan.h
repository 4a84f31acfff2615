/* The scan services shared by the CLI and the side endpoints: verdicts as JSON, the rule
 * catalogue, and reading {"id","text"} requests. */
#ifndef WARDEN_PROXY_SCAN_H
#define WARDEN_PROXY_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "guards/prompt.h"

struct evbuffer;
struct policy_prompt_rules;

/* Largest text a scan request may carry. */
#define PROXY_SCAN_TEXT_MAX (16u * 1024 * 1024)

/* The members of a JSON object request this service reads. `id` is the raw JSON of the id
 * member (a string with its quotes, or a number), empty when absent. */
struct proxy_scan_req {
    struct evbuffer *text;
    struct evbuffer *id;
    bool has_text;
};

/* Read a JSON object and keep its top-level "text" (a string; `field` names another member
 * holding the text, e.g. "output") and "id". Returns 0, or -EINVAL with a message in why. */
int proxy_scan_req_parse(const char *buf, size_t len, const char *field, struct proxy_scan_req *r,
                         char *why, size_t why_cap);

/* {"blocked","verdict","score","rules_matched","categories","signals","corpus_hash",
 *  "duration_ms"}: the /v1/scan/prompt answer and `scan-prompt --json`. */
void proxy_scan_prompt_json(struct evbuffer *b, const struct policy_prompt_rules *r,
                            const struct guard_prompt_verdict *v, double ms);

/* {"id","blocked","verdict","score","rules"}: one line of `scan-prompt --batch`. `id` is raw
 * JSON ("null" when empty). */
void proxy_scan_prompt_batch_json(struct evbuffer *b, const struct policy_prompt_rules *r,
                                  const struct guard_prompt_verdict *v, const char *id,
                                  size_t id_len);

/* One rule as JSON (id, category, weight, description, pattern, source, examples counts). */
void proxy_scan_rule_json(struct evbuffer *b, const struct policy_prompt_rules *r, size_t i);

/* {"corpus_hash","count","rules":[...]}: GET /v1/rules and `warden rules --json`. */
void proxy_scan_rules_json(struct evbuffer *b, const struct policy_prompt_rules *r);

#endif

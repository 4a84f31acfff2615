/* The scan services shared by the CLI and the side endpoints: verdicts as JSON, the rule
 * catalogue, and reading {"id","text"} requests. */
#ifndef WARDEN_PROXY_SCAN_H
#define WARDEN_PROXY_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "guards/output.h"
#include "guards/prompt.h"

struct evbuffer;
struct policy_rules;

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
void proxy_scan_prompt_json(struct evbuffer *b, const struct policy_rules *r,
                            const struct guard_prompt_verdict *v, double ms);

/* {"id","blocked","verdict","score","rules"}: one line of `scan-prompt --batch`. `id` is raw
 * JSON ("null" when empty). */
void proxy_scan_prompt_batch_json(struct evbuffer *b, const struct policy_rules *r,
                                  const struct guard_prompt_verdict *v, const char *id,
                                  size_t id_len);

/* One rule as JSON (id, category, weight, description, pattern, source, examples counts). */
void proxy_scan_rule_json(struct evbuffer *b, const struct policy_rules *r, size_t i);

/* One output detector as JSON (id, kind "output", type, class, priority, validator,
 * description, pattern, source, examples counts). */
void proxy_scan_output_rule_json(struct evbuffer *b, const struct policy_rules *r, size_t i);

/* {"corpus_hash","output_hash","count","rules":[...]}: GET /v1/rules and `warden rules --json`:
 * the prompt rules, then the output detectors (`out` may be NULL). */
void proxy_scan_rules_json(struct evbuffer *b, const struct policy_rules *r,
                           const struct policy_rules *out);

/* ---------------------------------------------------------------- output */

/* What scanning a whole text does: the configured actions, except that a block becomes a
 * redaction, so the whole text is seen and every finding reported (the configured action is
 * what the findings and the verdict report). */
void proxy_scan_output_policy(const struct guard_output_policy *conf,
                              struct guard_output_policy *scan);

/* Scan one whole text on `st` (reset first). 0, or < 0 when the scan failed. */
int proxy_scan_output_text(struct guard_output_stream *st, struct guard_output_scratch *scratch,
                           const struct guard_output_policy *scan_pol, const char *text, size_t n);

enum proxy_scan_out_verdict {
    PROXY_SCAN_OUT_PASS = 0, /* nothing found, or only findings that are logged */
    PROXY_SCAN_OUT_REDACT,
    PROXY_SCAN_OUT_BLOCK,
};

/* The verdict of a scanned stream under the configured actions. */
enum proxy_scan_out_verdict proxy_scan_output_verdict(const struct guard_output_stream *st,
                                                      const struct policy_rules *r,
                                                      const struct guard_output_policy *conf);

/* "block", "redact" or "log". */
const char *proxy_scan_action_name(enum guard_out_action a);

/* The findings as a JSON array [{"type","rule","start","end","action"}] (code points). */
void proxy_scan_output_findings_json(struct evbuffer *b, const struct policy_rules *r,
                                     const struct guard_output_policy *conf,
                                     const struct guard_output_stream *st);

/* {"id","findings","redacted"}: one line of `scan-output --batch`. */
void proxy_scan_output_batch_json(struct evbuffer *b, const struct policy_rules *r,
                                  const struct guard_output_policy *conf,
                                  const struct guard_output_stream *st, const char *id,
                                  size_t id_len);

/* A schema check's outcome for the answer below (NULL: no schema was given). `json` holds
 * the violations already as a JSON array's members (without brackets), or is empty. */
struct proxy_scan_schema {
    bool valid;
    struct evbuffer *violations; /* "{...},{...}" */
};

struct guard_jv;
struct guard_schema;

/* Validate an output against a compiled schema: `instance` when the output is JSON already,
 * else `text` parsed as JSON (text that is not JSON is one violation). Fills sch (its
 * violations buffer is allocated here; free it). 0, or -ENOMEM. */
int proxy_scan_schema_check(const struct guard_schema *schema, const struct guard_jv *instance,
                            const char *text, size_t len, struct proxy_scan_schema *sch);

/* {"valid","verdict","score","violations","redacted","findings","rule_set","duration_ms"}:
 * the /v1/scan/output answer and `scan-output --json`. score: 1.0 for a credential, 0.8 for
 * a schema violation, 0.5 for personal data, 0 for nothing. */
void proxy_scan_output_json(struct evbuffer *b, const struct policy_rules *r,
                            const struct guard_output_policy *conf,
                            const struct guard_output_stream *st,
                            const struct proxy_scan_schema *schema, double ms);

#endif

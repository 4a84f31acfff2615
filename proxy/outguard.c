/* The output guard in the data path: SSE events and JSON bodies of model APIs, rewritten.
 *
 * A JSON document (one event's data, or a whole body) is read in two passes. The first
 * tokenizes it, follows the member path of every string value and decides what the string
 * is: the text delta of a stream (a choice's content, a content block's text, a tool call's
 * arguments), or a whole text of its own (a message in a body, the full text a ".done" event
 * repeats). Deltas go through the detector stream of their slot, which releases only text no
 * finding can still claim; whole texts are scanned at once. The second pass copies the
 * document and puts the released or redacted text in place of each string that changed.
 * When a slot ends (finish_reason, content_block_stop, ".done", [DONE], the end of the
 * body), its held text is released into that event or, when the event does not carry the
 * slot, into a copy of the slot's last delta event sent just before it. */
#include "proxy/outguard.h"

#include "guards/json.h"
#include "guards/output.h"
#include "guards/prompt_body.h"
#include "guards/schema.h"
#include "policy/config.h"
#include "policy/route.h"
#include "policy/rules.h"
#include "proxy/conn.h"
#include "proxy/http.h"
#include "proxy/scan.h"
#include "proxy/server.h"
#include "proxy/sse.h"
#include "proxy/upstream.h"
#include "telemetry/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>

#define OG_SLOTS     16   /* text streams of one response at once */
#define OG_STRINGS   1024 /* string values of one document handled */
#define OG_STRINGS0  16   /* the array as it starts; it doubles as a document needs */
#define OG_DEPTH     12   /* levels whose member names are followed */
#define OG_NAME      32   /* bytes of a member name kept */
#define OG_MIN_WHOLE 6    /* shorter strings cannot hold a finding */
#define OG_TYPE      64   /* bytes of an event's "type" kept */

enum og_str_kind {
    OG_SKIP = 0, /* metadata (ids, roles, types) or too short: unchanged */
    OG_WHOLE,    /* a text of its own, scanned at once */
    OG_DELTA,    /* a piece of a slot's stream */
};

struct og_str {
    uint64_t start, end; /* the string token in the document: opening quote .. after closing */
    size_t dec_off, dec_len;
    uint64_t key;
    uint8_t kind;
    bool replaced;
    bool is_text; /* the model's answer in a whole body: what a schema applies to */
    size_t rep_off, rep_len;
};

struct og_slot {
    bool used;
    uint64_t key;
    struct guard_output_stream *st;
    struct evbuffer *tpl_pre, *tpl_post; /* its last delta event around the string */
    char event[OG_TYPE];
    size_t noted; /* findings of `st` already counted for the response */
    bool is_text; /* the answer's text (not a tool call or reasoning): schema-checked */
    bool acc_over;
    struct evbuffer *acc;            /* the answer as it came, for the schema check at its end */
    char carry[PROXY_OG_CANARY_LEN]; /* the last bytes fed, for a canary split across deltas */
    size_t carry_len;
};

#define OG_SCHEMA_NONE      PROXY_OG_SCHEMA_NONE
#define OG_SCHEMA_VALID     PROXY_OG_SCHEMA_VALID
#define OG_SCHEMA_INVALID   PROXY_OG_SCHEMA_INVALID
#define OG_SCHEMA_UNCHECKED PROXY_OG_SCHEMA_UNCHECKED

struct proxy_outguard {
    struct policy_rules *rules; /* a reference: streams belong to its database */
    bool observe;               /* the guard is off: read the response for telemetry only */
    bool body_over;             /* observe: the body passed the cap and is not read */
    enum proxy_og_mode mode;
    enum guard_prompt_api api;
    enum proxy_flavor flavor;
    struct proxy_sse *sse;
    struct og_slot slots[OG_SLOTS];
    struct guard_output_stream *whole;
    struct evbuffer *body; /* JSON/TEXT mode: the whole body */
    struct evbuffer *dec;  /* decoded strings of the current document */
    struct evbuffer *rep;  /* replacement texts of the current document */
    struct evbuffer *out;  /* what goes to the client */
    struct og_str *strs;   /* strs_cap of them, grown up to OG_STRINGS */
    size_t n_strs, strs_cap;
    /* The current document's signals (first pass). */
    char type[OG_TYPE]; /* top-level "type" */
    long ended_choice[OG_SLOTS];
    size_t n_ended_choice;
    long top_index, out_index, content_index;
    bool end_all;
    /* The response. */
    size_t findings;
    char finding_types[128];
    struct proxy_og_count counts[PROXY_OG_TYPES];
    size_t n_counts;
    uint64_t ns; /* time spent on this response */
    bool blocked, redacted;
    const char *block_type;
    const char *block_code; /* the error code a block answers with */
    char block_msg[320];    /* the block's message when it is not a finding's */
    /* Expectations from the request. */
    struct guard_schema *schema;             /* the request's own (owned) */
    const struct guard_schema *route_schema; /* the route's, from the configuration */
    char canary[PROXY_OG_CANARY_LEN + 1];    /* "" when none was inserted */
    enum proxy_og_schema schema_state;
    /* What telemetry wants of the response (the first pass notes it). */
    char resp_id[PROXY_OG_ID_MAX + 1], resp_model[PROXY_OG_ID_MAX + 1];
    char finish[PROXY_OG_ID_MAX + 1];
    int64_t input_tokens, output_tokens;
    char schema_msg[240];        /* the first violation, or why the schema is not checked */
    struct proxy_outguard *next; /* in the worker's spares */
};

/* ---------------------------------------------------------------- set-up */

static void slot_free(struct og_slot *s)
{
    guard_output_stream_free(s->st);
    if (s->tpl_pre)
        evbuffer_free(s->tpl_pre);
    if (s->tpl_post)
        evbuffer_free(s->tpl_post);
    if (s->acc)
        evbuffer_free(s->acc);
    memset(s, 0, sizeof(*s));
}

/* Streams belong to a rule set's database: a reload drops them. */
static void og_drop_streams(struct proxy_outguard *g)
{
    for (size_t i = 0; i < OG_SLOTS; i++)
        slot_free(&g->slots[i]);
    guard_output_stream_free(g->whole);
    g->whole = NULL;
}

static void og_free(struct proxy_outguard *g)
{
    og_drop_streams(g);
    proxy_sse_free(g->sse);
    if (g->body)
        evbuffer_free(g->body);
    if (g->dec)
        evbuffer_free(g->dec);
    if (g->rep)
        evbuffer_free(g->rep);
    if (g->out)
        evbuffer_free(g->out);
    free(g->strs);
    guard_schema_free(g->schema);
    policy_rules_unref(g->rules);
    free(g);
}

void proxy_outguard_free(struct proxy_conn *c)
{
    if (c->outguard == NULL)
        return;
    og_free(c->outguard);
    c->outguard = NULL;
}

void proxy_outguard_release(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    struct proxy_worker *w = c->worker;
    if (g == NULL)
        return;
    c->outguard = NULL;
    c->txn.og_attached = false;
    /* Streams made for a rule set that a reload replaced are not worth keeping. */
    if (w->n_spare_outguards >= PROXY_WORKER_SPARES || (g->rules && g->rules != w->out_rules)) {
        og_free(g);
        return;
    }
    /* What a finished response leaves is not kept: a spare holds only its streams. */
    guard_schema_free(g->schema);
    g->schema = NULL;
    proxy_sse_free(g->sse);
    g->sse = NULL;
    if (g->strs_cap > 4 * OG_STRINGS0) { /* a large document's array: back to the start size */
        struct og_str *small = realloc(g->strs, OG_STRINGS0 * sizeof(*small));
        if (small != NULL) {
            g->strs = small;
            g->strs_cap = OG_STRINGS0;
        }
    }
    struct evbuffer *bufs[] = {g->body, g->dec, g->rep, g->out};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        evbuffer_drain(bufs[i], evbuffer_get_length(bufs[i]));
    g->next = w->spare_outguards;
    w->spare_outguards = g;
    w->n_spare_outguards++;
}

void proxy_outguard_spares_free(struct proxy_worker *w)
{
    while (w->spare_outguards) {
        struct proxy_outguard *g = w->spare_outguards;
        w->spare_outguards = g->next;
        og_free(g);
    }
    w->n_spare_outguards = 0;
}

int proxy_outguard_attach(struct proxy_conn *c, const char *target, size_t tlen)
{
    const struct policy_config *cfg = c->worker->srv->cfg;
    enum guard_prompt_api api = guard_prompt_api_of(target, tlen);
    c->txn.og_attached = false;
    if (api == GUARD_PROMPT_API_NONE)
        return 0;
    struct policy_rules *rules =
        cfg->output_guard.enabled ? proxy_worker_output_rules(c->worker) : NULL;
    /* Without the guard the response is still read, unchanged, for telemetry (usage, the
     * model that answered, finish reasons). */
    bool observe = rules == NULL || c->worker->out_scratch == NULL;
    struct proxy_outguard *g = c->outguard;
    struct proxy_worker *w = c->worker;
    if (g == NULL && w->spare_outguards != NULL) {
        g = c->outguard = w->spare_outguards;
        w->spare_outguards = g->next;
        w->n_spare_outguards--;
        g->next = NULL;
    }
    if (g == NULL) {
        if ((g = c->outguard = calloc(1, sizeof(*g))) == NULL)
            return -ENOMEM;
        if ((g->body = evbuffer_new()) == NULL || (g->dec = evbuffer_new()) == NULL ||
            (g->rep = evbuffer_new()) == NULL || (g->out = evbuffer_new()) == NULL ||
            (g->strs = calloc(OG_STRINGS0, sizeof(*g->strs))) == NULL) {
            proxy_outguard_free(c);
            return -ENOMEM;
        }
        g->strs_cap = OG_STRINGS0;
    }
    if (!observe && g->rules != rules) {
        og_drop_streams(g);
        policy_rules_unref(g->rules);
        g->rules = policy_rules_ref(rules);
    }
    g->observe = observe;
    for (size_t i = 0; i < OG_SLOTS; i++)
        g->slots[i].used = false;
    g->api = api;
    g->flavor = c->txn.flavor;
    g->mode = PROXY_OG_OFF;
    g->findings = 0;
    g->finding_types[0] = '\0';
    g->n_counts = 0;
    g->ns = 0;
    g->blocked = g->redacted = false;
    g->block_type = NULL;
    g->block_code = "output_blocked";
    g->block_msg[0] = '\0';
    guard_schema_free(g->schema);
    g->schema = NULL;
    g->route_schema = c->txn.route ? c->txn.route->schema : NULL;
    g->canary[0] = '\0';
    g->schema_state = OG_SCHEMA_NONE;
    g->schema_msg[0] = '\0';
    g->resp_id[0] = g->resp_model[0] = g->finish[0] = '\0';
    g->input_tokens = g->output_tokens = -1;
    evbuffer_drain(g->body, evbuffer_get_length(g->body));
    c->txn.og_attached = true;
    return 0;
}

void proxy_outguard_request_schema(struct proxy_conn *c, const char *schema, size_t len)
{
    struct proxy_outguard *g = c->outguard;
    if (!c->txn.og_attached || g == NULL)
        return;
    guard_schema_free(g->schema);
    g->schema = NULL;
    char err[200] = "";
    int rc = -E2BIG;
    if (schema) {
        /* Unknown keywords are annotations, as the specification says: providers add their
         * own. What the engine cannot honour leaves the output unchecked, never passed as
         * valid. */
        struct guard_schema_limits lim = {.flags = GUARD_SCHEMA_F_IGNORE_UNKNOWN};
        rc = guard_schema_parse(schema, len, NULL, &lim, &g->schema, err, sizeof(err));
    } else {
        snprintf(err, sizeof(err), "the schema is larger than %d bytes", PROXY_OG_SCHEMA_MAX);
    }
    if (rc != 0) {
        g->schema_state = OG_SCHEMA_UNCHECKED;
        snprintf(g->schema_msg, sizeof(g->schema_msg), "%s", err);
        tel_log(TEL_LOG_WARN, "output_schema_unchecked", TEL_STR("request_id", c->txn.request_id),
                TEL_STR("reason", err));
    }
}

bool proxy_outguard_canary(struct proxy_conn *c, uint64_t seed, char *tok)
{
    struct proxy_outguard *g = c->outguard;
    if (!c->txn.og_attached || g == NULL)
        return false;
    snprintf(g->canary, sizeof(g->canary), "wdn-%016llx", (unsigned long long)seed);
    memcpy(tok, g->canary, PROXY_OG_CANARY_LEN + 1);
    return true;
}

/* ---------------------------------------------------------------- findings */

/* One more finding of this type in the response. */
static void count_type(struct proxy_outguard *g, const char *type)
{
    for (size_t i = 0; i < g->n_counts; i++) {
        if (strcmp(g->counts[i].type, type) == 0) {
            g->counts[i].n++;
            return;
        }
    }
    if (g->n_counts < PROXY_OG_TYPES)
        g->counts[g->n_counts++] = (struct proxy_og_count){type, 1};
}

/* Count the findings `st` made since the last call (*noted of them were counted before). */
static void note_findings(struct proxy_outguard *g, const struct guard_output_stream *st,
                          size_t *noted)
{
    const struct guard_output_finding *f;
    size_t n = guard_output_stream_findings(st, &f);
    for (size_t i = *noted; i < n; i++) {
        const struct guard_output_rule *r = guard_output_db_rule(g->rules->out_db, f[i].rule);
        g->findings++;
        count_type(g, r->type);
        if (f[i].action == GUARD_OUT_REDACT)
            g->redacted = true;
        if (f[i].action == GUARD_OUT_BLOCK) {
            g->blocked = true;
            g->block_type = r->type;
        }
        /* Each type once in the header list. */
        size_t tl = strlen(r->type), have = strlen(g->finding_types);
        const char *p = strstr(g->finding_types, r->type);
        bool seen = p && (p == g->finding_types || p[-1] == ',') && (p[tl] == '\0' || p[tl] == ',');
        if (!seen && have + tl + 2 < sizeof(g->finding_types))
            snprintf(g->finding_types + have, sizeof(g->finding_types) - have, "%s%s",
                     have ? "," : "", r->type);
    }
    *noted = n;
}

/* ---------------------------------------------------------------- canary and schema */

/* The response repeats the system prompt: its canary token is in the output. */
static void canary_block(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    static const char type[] = "SYSTEM_PROMPT_LEAK";
    g->blocked = true;
    g->findings++;
    count_type(g, type);
    g->block_type = type;
    snprintf(g->block_msg, sizeof(g->block_msg),
             "the response was blocked by the output guard: it repeats the system prompt (the "
             "canary token put there appeared in the output)");
    size_t have = strlen(g->finding_types);
    if (have + sizeof(type) + 1 < sizeof(g->finding_types))
        snprintf(g->finding_types + have, sizeof(g->finding_types) - have, "%s%s", have ? "," : "",
                 type);
    tel_log(TEL_LOG_WARN, "system_prompt_leak", TEL_STR("request_id", c->txn.request_id),
            TEL_STR("peer", c->peer));
}

/* Is the canary in this whole text? */
static bool canary_in(const struct proxy_outguard *g, const char *p, size_t n)
{
    return g->canary[0] && memmem(p, n, g->canary, PROXY_OG_CANARY_LEN) != NULL;
}

/* Is the canary in a slot's stream, this piece joined to the end of what came before? */
static bool canary_in_slot(const struct proxy_outguard *g, struct og_slot *sl, const char *p,
                           size_t n)
{
    const size_t keep = PROXY_OG_CANARY_LEN - 1;
    if (g->canary[0] == '\0' || n == 0)
        return false;
    char joint[2 * PROXY_OG_CANARY_LEN];
    size_t head = n < keep ? n : keep;
    memcpy(joint, sl->carry, sl->carry_len);
    memcpy(joint + sl->carry_len, p, head);
    if (canary_in(g, joint, sl->carry_len + head) || canary_in(g, p, n))
        return true;
    /* Keep the last keep bytes of carry + p. */
    size_t total = sl->carry_len + n;
    size_t from_carry = total > keep ? (n >= keep ? 0 : keep - n) : sl->carry_len;
    memmove(sl->carry, sl->carry + sl->carry_len - from_carry, from_carry);
    size_t from_p = n < keep - from_carry ? n : keep - from_carry;
    memcpy(sl->carry + from_carry, p + n - from_p, from_p);
    sl->carry_len = from_carry + from_p;
    return false;
}

static bool schema_wanted(const struct proxy_outguard *g)
{
    return g->schema != NULL || g->route_schema != NULL;
}

/* Check one answer against the schemas in force (the route's and the request's). Returns 0
 * valid, 1 invalid (g->schema_msg says why), or -ENOMEM. */
static int schema_check(struct proxy_outguard *g, const char *text, size_t len)
{
    const struct guard_schema *all[2] = {g->route_schema, g->schema};
    struct guard_jv_limits lim = {.max_bytes = len + 1, .max_depth = 128, .max_nodes = len + 16};
    struct guard_jv_doc *doc = NULL;
    struct guard_json_error jerr;
    int rc = guard_jv_parse(text, len, &lim, &doc, &jerr);
    if (rc == -ENOMEM)
        return rc;
    if (rc != 0) {
        snprintf(g->schema_msg, sizeof(g->schema_msg),
                 "the output is not JSON: %s at line %" PRIu32 ", column %" PRIu32, jerr.message,
                 jerr.line, jerr.column);
        g->schema_state = OG_SCHEMA_INVALID;
        return 1;
    }
    int verdict = 0;
    for (size_t i = 0; i < 2 && verdict == 0; i++) {
        if (all[i] == NULL)
            continue;
        struct guard_schema_result res;
        memset(&res, 0, sizeof(res));
        rc = guard_schema_validate(all[i], guard_jv_doc_root(doc), NULL, &res);
        if (rc < 0) {
            snprintf(g->schema_msg, sizeof(g->schema_msg),
                     "the schema check could not run (treated as invalid)");
            verdict = rc == -ENOMEM ? rc : 1;
        } else if (rc == 1) {
            if (res.n > 0)
                snprintf(g->schema_msg, sizeof(g->schema_msg), "%s at \"%s\": %s", res.v[0].keyword,
                         res.v[0].instance, res.v[0].message);
            else
                snprintf(g->schema_msg, sizeof(g->schema_msg), "the output fails the schema");
            verdict = 1;
        }
        guard_schema_result_free(&res);
    }
    guard_jv_doc_free(doc);
    if (verdict >= 0)
        g->schema_state = verdict                                ? OG_SCHEMA_INVALID
                          : g->schema_state == OG_SCHEMA_INVALID ? OG_SCHEMA_INVALID
                                                                 : OG_SCHEMA_VALID;
    return verdict;
}

/* An answer failed its schema: 1 when the configuration blocks it (the block message set),
 * 0 when it is flagged or logged. */
static int schema_failed(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    int action = c->worker->srv->cfg->output_guard.on_schema;
    tel_log(TEL_LOG_WARN, "output_schema_invalid", TEL_STR("request_id", c->txn.request_id),
            TEL_STR("violation", g->schema_msg),
            TEL_STR("action", action == POLICY_ACTION_BLOCK  ? "block"
                              : action == POLICY_ACTION_FLAG ? "flag"
                                                             : "log"));
    if (action != POLICY_ACTION_BLOCK)
        return 0;
    g->blocked = true;
    g->block_type = "SCHEMA_VIOLATION";
    g->block_code = "schema_violation";
    snprintf(g->block_msg, sizeof(g->block_msg),
             "the response was blocked by the output guard: it does not follow its JSON schema "
             "(%s)",
             g->schema_msg);
    return 1;
}

/* ---------------------------------------------------------------- slots */

static struct og_slot *slot_get(struct proxy_conn *c, uint64_t key)
{
    struct proxy_outguard *g = c->outguard;
    struct og_slot *free_slot = NULL;
    for (size_t i = 0; i < OG_SLOTS; i++) {
        if (g->slots[i].used && g->slots[i].key == key)
            return &g->slots[i];
        if (!g->slots[i].used && free_slot == NULL)
            free_slot = &g->slots[i];
    }
    if (free_slot == NULL)
        return NULL;
    if (free_slot->st == NULL) {
        const struct policy_config *cfg = c->worker->srv->cfg;
        struct guard_output_limits lim = {.holdback = (size_t)cfg->output_guard.holdback,
                                          .max_hold = (size_t)cfg->output_guard.max_hold};
        free_slot->st = guard_output_stream_new(g->rules->out_db, &lim);
        free_slot->tpl_pre = evbuffer_new();
        free_slot->tpl_post = evbuffer_new();
        if (!free_slot->st || !free_slot->tpl_pre || !free_slot->tpl_post) {
            slot_free(free_slot);
            return NULL;
        }
    }
    free_slot->used = true;
    free_slot->key = key;
    free_slot->noted = 0;
    free_slot->carry_len = 0;
    free_slot->acc_over = false;
    if (free_slot->acc)
        evbuffer_drain(free_slot->acc, evbuffer_get_length(free_slot->acc));
    guard_output_stream_reset(free_slot->st, c->worker->out_scratch, &c->worker->srv->out_pol);
    return free_slot;
}

/* The key of a slot: which choice or block (high bits) and which text of it (low bits). */
static uint64_t slot_key(long group, unsigned sub)
{
    return ((uint64_t)(group < 0 ? 0 : group) << 16) | (sub & 0xffffu);
}

/* ---------------------------------------------------------------- first pass */

struct og_path {
    unsigned depth;
    bool is_arr[OG_DEPTH];
    long idx[OG_DEPTH];   /* array position */
    long index[OG_DEPTH]; /* the "index" member of the object at this level, or -1 */
    char name[OG_DEPTH][OG_NAME];
};

static bool name_is(const struct og_path *p, unsigned d, const char *s)
{
    return d < OG_DEPTH && !p->is_arr[d] && strcmp(p->name[d], s) == 0;
}

/* Member names whose values are metadata, never model text. */
static bool skip_name(const char *n)
{
    static const char *const names[] = {
        "id",           "object",      "model",   "type",    "role",        "finish_reason",
        "status",       "stop_reason", "item_id", "call_id", "response_id", "system_fingerprint",
        "service_tier", "event_id",    "created", NULL,
    };
    for (size_t i = 0; names[i]; i++) {
        if (strcmp(n, names[i]) == 0)
            return true;
    }
    return false;
}

/* What a string at depth d (its parent container at d-1) is, in a stream's event. */
static uint8_t classify_delta(struct proxy_outguard *g, const struct og_path *p, unsigned d,
                              uint64_t *key)
{
    switch (g->api) {
    case GUARD_PROMPT_API_CHAT:
        /* choices[i].delta.content | refusal | reasoning_content */
        if (d == 4 && name_is(p, 0, "choices") && p->is_arr[1] && name_is(p, 2, "delta")) {
            unsigned sub = strcmp(p->name[3], "content") == 0             ? 0
                           : strcmp(p->name[3], "refusal") == 0           ? 1
                           : strcmp(p->name[3], "reasoning_content") == 0 ? 2
                           : strcmp(p->name[3], "reasoning") == 0         ? 3
                                                                          : 0xffff;
            if (sub != 0xffff) {
                *key = slot_key(p->idx[1], sub);
                return OG_DELTA;
            }
        }
        /* choices[i].delta.tool_calls[j].function.arguments */
        if (d == 7 && name_is(p, 0, "choices") && p->is_arr[1] && name_is(p, 2, "delta") &&
            name_is(p, 3, "tool_calls") && p->is_arr[4] && name_is(p, 5, "function") &&
            name_is(p, 6, "arguments")) {
            long tool = p->index[5] >= 0 ? p->index[5] : p->idx[4];
            *key = slot_key(p->idx[1], 16 + (unsigned)(tool & 0xfff));
            return OG_DELTA;
        }
        break;
    case GUARD_PROMPT_API_COMPLETIONS:
        if (d == 3 && name_is(p, 0, "choices") && p->is_arr[1] && name_is(p, 2, "text")) {
            *key = slot_key(p->idx[1], 0);
            return OG_DELTA;
        }
        break;
    case GUARD_PROMPT_API_MESSAGES:
        /* {"type":"content_block_delta","index":i,"delta":{"text" | "partial_json" | ...}} */
        if (d == 2 && name_is(p, 0, "delta") && strcmp(g->type, "content_block_delta") == 0) {
            unsigned sub = strcmp(p->name[1], "text") == 0           ? 0
                           : strcmp(p->name[1], "partial_json") == 0 ? 1
                           : strcmp(p->name[1], "thinking") == 0     ? 2
                                                                     : 0xffff;
            if (sub != 0xffff) {
                *key = slot_key(g->top_index, sub);
                return OG_DELTA;
            }
        }
        break;
    case GUARD_PROMPT_API_RESPONSES:
        /* {"type":"response.<x>.delta","output_index":o,"content_index":c,"delta":"..."} */
        if (d == 1 && name_is(p, 0, "delta")) {
            size_t tl = strlen(g->type);
            if (tl > 6 && strcmp(g->type + tl - 6, ".delta") == 0) {
                unsigned sub = (unsigned)(tl * 31 + (unsigned char)g->type[9]) & 0xff;
                *key = slot_key(g->out_index * 256 + (g->content_index < 0 ? 0 : g->content_index),
                                sub);
                return OG_DELTA;
            }
        }
        break;
    default:
        break;
    }
    return OG_WHOLE;
}

/* Is the string at depth d the model's answer in a whole body? Chat: choices[i].message
 * .content; responses: output[i].content[j].text; Anthropic: content[i].text. */
static bool answer_path(const struct proxy_outguard *g, const struct og_path *p, unsigned d)
{
    switch (g->api) {
    case GUARD_PROMPT_API_CHAT:
        return d == 4 && name_is(p, 0, "choices") && p->is_arr[1] && name_is(p, 2, "message") &&
               name_is(p, 3, "content");
    case GUARD_PROMPT_API_RESPONSES:
        return d == 5 && name_is(p, 0, "output") && p->is_arr[1] && name_is(p, 2, "content") &&
               p->is_arr[3] && name_is(p, 4, "text");
    case GUARD_PROMPT_API_MESSAGES:
        return d == 3 && name_is(p, 0, "content") && p->is_arr[1] && name_is(p, 2, "text");
    default:
        return false;
    }
}

/* Is a delta of this slot key the answer's text (not a tool call, refusal or reasoning)? */
static bool answer_delta(const struct proxy_outguard *g, uint64_t key)
{
    switch (g->api) {
    case GUARD_PROMPT_API_CHAT:
    case GUARD_PROMPT_API_MESSAGES:
        return (key & 0xffffu) == 0;
    case GUARD_PROMPT_API_RESPONSES:
        return strcmp(g->type, "response.output_text.delta") == 0;
    default:
        return false;
    }
}

/* Is the member at depth d where a response's own fields are: top level, or inside the
 * "message" (Anthropic message_start) or "response" (responses events) object? */
static bool response_level(const struct og_path *p, unsigned d)
{
    return d == 1 || (d == 2 && (name_is(p, 0, "message") || name_is(p, 0, "response")));
}

/* Note a string for telemetry: the response's id and model, its finish reasons. */
static void note_string(struct proxy_outguard *g, const struct og_path *p, unsigned d,
                        const char *name, const char *text, size_t len)
{
    if (len == 0 || len > PROXY_OG_ID_MAX)
        return;
    if (response_level(p, d) && strcmp(name, "id") == 0 && g->resp_id[0] == '\0') {
        snprintf(g->resp_id, sizeof(g->resp_id), "%.*s", (int)len, text);
        return;
    }
    if (response_level(p, d) && strcmp(name, "model") == 0) {
        snprintf(g->resp_model, sizeof(g->resp_model), "%.*s", (int)len, text);
        return;
    }
    bool finish =
        (d == 3 && name_is(p, 0, "choices") && p->is_arr[1] &&
         strcmp(name, "finish_reason") == 0) ||
        ((d == 1 || (d == 2 && name_is(p, 0, "delta"))) && strcmp(name, "stop_reason") == 0) ||
        (d == 2 && name_is(p, 0, "response") && strcmp(name, "status") == 0 &&
         g->api == GUARD_PROMPT_API_RESPONSES) ||
        (d == 1 && strcmp(name, "status") == 0 && g->api == GUARD_PROMPT_API_RESPONSES);
    if (!finish)
        return;
    /* Each reason once; a responses stream repeats its status in several events. */
    size_t have = strlen(g->finish);
    for (const char *q = g->finish; *q;) {
        const char *e = strchr(q, ',');
        size_t n = e ? (size_t)(e - q) : strlen(q);
        if (n == len && memcmp(q, text, len) == 0)
            return;
        q = e ? e + 1 : q + n;
    }
    if (g->api == GUARD_PROMPT_API_RESPONSES && have > 0) {
        /* in_progress, then completed: the last status is the outcome */
        snprintf(g->finish, sizeof(g->finish), "%.*s", (int)len, text);
        return;
    }
    if (have + len + 2 <= sizeof(g->finish))
        snprintf(g->finish + have, sizeof(g->finish) - have, "%s%.*s", have ? "," : "", (int)len,
                 text);
}

/* Note a number for telemetry: the token counts of the upstream's usage. */
static void note_number(struct proxy_outguard *g, const struct og_path *p, unsigned d,
                        const char *num, size_t len)
{
    if (d < 2 || d - 2 >= OG_DEPTH || !name_is(p, d - 2, "usage") || !response_level(p, d - 1) ||
        len >= 24)
        return;
    const char *name = p->name[d - 1];
    char buf[24], *end;
    memcpy(buf, num, len);
    buf[len] = '\0';
    long long v = strtoll(buf, &end, 10);
    if (*end != '\0' || v < 0)
        return;
    if (strcmp(name, "prompt_tokens") == 0 || strcmp(name, "input_tokens") == 0)
        g->input_tokens = v;
    else if (strcmp(name, "completion_tokens") == 0 || strcmp(name, "output_tokens") == 0)
        g->output_tokens = v;
}

/* Read a JSON document; fill g->strs and the document's signals. -EBADMSG when it is not
 * JSON, -E2BIG when it has too many strings. */
static int collect(struct proxy_outguard *g, const char *doc, size_t len, bool stream)
{
    struct guard_json js;
    struct guard_json_event ev;
    struct og_path p;
    int rc;
    bool in_str = false;
    unsigned str_depth = 0;
    memset(&p, 0, sizeof(p));
    g->n_strs = 0;
    g->type[0] = '\0';
    g->n_ended_choice = 0;
    g->top_index = g->out_index = g->content_index = -1;
    g->end_all = false;
    evbuffer_drain(g->dec, evbuffer_get_length(g->dec));
    guard_json_init(&js, NULL);
    guard_json_feed(&js, doc, len, true);
    while ((rc = guard_json_next(&js, &ev)) > 0) {
        unsigned d = ev.depth;
        /* Position in the parent array. */
        if (d > 0 && d - 1 < OG_DEPTH && p.is_arr[d - 1] && ev.tok != GUARD_JSON_ARRAY_END &&
            ev.tok != GUARD_JSON_OBJECT_END && !(ev.tok == GUARD_JSON_STRING && in_str))
            p.idx[d - 1]++;
        switch (ev.tok) {
        case GUARD_JSON_OBJECT_BEGIN:
        case GUARD_JSON_ARRAY_BEGIN:
            if (d < OG_DEPTH) {
                p.is_arr[d] = ev.tok == GUARD_JSON_ARRAY_BEGIN;
                p.idx[d] = -1;
                p.index[d] = -1;
                p.name[d][0] = '\0';
            }
            break;
        case GUARD_JSON_KEY:
            if (d - 1 < OG_DEPTH)
                snprintf(p.name[d - 1], OG_NAME, "%.*s", (int)(ev.len < OG_NAME ? ev.len : 0),
                         ev.str);
            break;
        case GUARD_JSON_NUMBER:
            if (d >= 1 && d - 1 < OG_DEPTH && !p.is_arr[d - 1]) {
                char num[24];
                size_t nl = ev.len < sizeof(num) ? ev.len : 0;
                memcpy(num, ev.str, nl);
                num[nl] = '\0';
                long v = strtol(num, NULL, 10);
                note_number(g, &p, d, ev.str, ev.len);
                if (strcmp(p.name[d - 1], "index") == 0)
                    p.index[d - 1] = v;
                if (d == 1 && strcmp(p.name[0], "index") == 0)
                    g->top_index = v;
                if (d == 1 && strcmp(p.name[0], "output_index") == 0)
                    g->out_index = v;
                if (d == 1 && strcmp(p.name[0], "content_index") == 0)
                    g->content_index = v;
            }
            break;
        case GUARD_JSON_STRING: {
            if ((ev.flags & GUARD_JSON_F_BEGIN) && g->n_strs >= g->strs_cap) {
                if (g->strs_cap >= OG_STRINGS)
                    return -E2BIG;
                size_t cap = g->strs_cap * 2 < OG_STRINGS ? g->strs_cap * 2 : OG_STRINGS;
                struct og_str *grown = realloc(g->strs, cap * sizeof(*grown));
                if (grown == NULL)
                    return -ENOMEM;
                g->strs = grown;
                g->strs_cap = cap;
            }
            struct og_str *s = &g->strs[g->n_strs];
            if (ev.flags & GUARD_JSON_F_BEGIN) {
                memset(s, 0, sizeof(*s));
                s->start = ev.offset;
                s->dec_off = evbuffer_get_length(g->dec);
                in_str = true;
                str_depth = d;
                const char *name =
                    d >= 1 && d - 1 < OG_DEPTH && !p.is_arr[d - 1] ? p.name[d - 1] : "";
                s->is_text = !stream && d <= OG_DEPTH && answer_path(g, &p, d);
                if (d > OG_DEPTH)
                    s->kind = OG_WHOLE;
                else if (stream && (s->kind = classify_delta(g, &p, d, &s->key)) == OG_DELTA)
                    ;
                else
                    s->kind = skip_name(name) ? OG_SKIP : OG_WHOLE;
            }
            evbuffer_add(g->dec, ev.str, ev.len);
            if (ev.flags & GUARD_JSON_F_END) {
                s->end = guard_json_offset(&js);
                s->dec_len = evbuffer_get_length(g->dec) - s->dec_off;
                in_str = false;
                const char *name =
                    str_depth >= 1 && str_depth - 1 < OG_DEPTH && !p.is_arr[str_depth - 1]
                        ? p.name[str_depth - 1]
                        : "";
                const char *base = (const char *)evbuffer_pullup(g->dec, -1);
                const char *text = base ? base + s->dec_off : "";
                if (str_depth <= 3)
                    note_string(g, &p, str_depth, name, text, s->dec_len);
                if (str_depth == 1 && strcmp(name, "type") == 0)
                    snprintf(g->type, sizeof(g->type), "%.*s",
                             (int)(s->dec_len < OG_TYPE ? s->dec_len : 0), text);
                /* choices[i].finish_reason set: that choice's streams end. */
                if (str_depth == 3 && name_is(&p, 0, "choices") && p.is_arr[1] &&
                    strcmp(name, "finish_reason") == 0 && g->n_ended_choice < OG_SLOTS)
                    g->ended_choice[g->n_ended_choice++] = p.idx[1];
                if (s->kind == OG_WHOLE && s->dec_len < OG_MIN_WHOLE &&
                    !(g->canary[0] && s->dec_len >= PROXY_OG_CANARY_LEN))
                    s->kind = OG_SKIP;
                g->n_strs++;
            }
            break;
        }
        default:
            break;
        }
    }
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- scanning */

/* Scan one whole text; its output replaces it when a finding changed it. */
static int scan_whole(struct proxy_conn *c, struct og_str *s, const char *text)
{
    struct proxy_outguard *g = c->outguard;
    const struct guard_output_finding *f;
    size_t noted = 0;
    if (g->whole == NULL) {
        /* Made on first use: a streamed answer scans its deltas in slots and may never need
         * it. */
        const struct policy_config *cfg = c->worker->srv->cfg;
        struct guard_output_limits lim = {.holdback = (size_t)cfg->output_guard.holdback,
                                          .max_hold = (size_t)cfg->output_guard.max_hold};
        if ((g->whole = guard_output_stream_new(g->rules->out_db, &lim)) == NULL)
            return -ENOMEM;
    }
    int rc = proxy_scan_output_text(g->whole, c->worker->out_scratch, &c->worker->srv->out_pol,
                                    text, s->dec_len);
    note_findings(g, g->whole, &noted);
    if (rc != 0)
        return rc;
    if (guard_output_stream_blocked(g->whole))
        return 1;
    size_t nf = guard_output_stream_findings(g->whole, &f);
    bool changed = false;
    for (size_t i = 0; i < nf; i++)
        changed |= f[i].action == GUARD_OUT_REDACT;
    if (changed) {
        const char *o;
        size_t olen;
        guard_output_stream_output(g->whole, &o, &olen);
        s->replaced = true;
        s->rep_off = evbuffer_get_length(g->rep);
        s->rep_len = olen;
        evbuffer_add(g->rep, o, olen);
    }
    return 0;
}

/* Move a slot's released text into the replacement buffer (appending to s's). */
static void take_released(struct proxy_outguard *g, struct og_slot *sl, struct og_str *s)
{
    const char *o;
    size_t olen;
    guard_output_stream_output(sl->st, &o, &olen);
    if (!s->replaced) {
        s->replaced = true;
        s->rep_off = evbuffer_get_length(g->rep);
        s->rep_len = 0;
    }
    evbuffer_add(g->rep, o, olen);
    s->rep_len += olen;
    guard_output_stream_take(sl->st);
}

/* The document with its replaced strings, JSON-escaped, into b. */
static void rebuild(struct proxy_outguard *g, const char *doc, size_t len, struct evbuffer *b)
{
    uint64_t pos = 0;
    const char *rep = (const char *)evbuffer_pullup(g->rep, -1);
    rep = rep ? rep : "";
    for (size_t i = 0; i < g->n_strs; i++) {
        struct og_str *s = &g->strs[i];
        if (!s->replaced)
            continue;
        evbuffer_add(b, doc + pos, (size_t)(s->start - pos));
        evbuffer_add(b, "\"", 1);
        proxy_json_escape(b, rep + s->rep_off, s->rep_len);
        evbuffer_add(b, "\"", 1);
        pos = s->end;
    }
    evbuffer_add(b, doc + pos, len - (size_t)pos);
}

/* ---------------------------------------------------------------- SSE */

static void emit_event(struct evbuffer *out, const char *event, size_t event_len, const char *id,
                       size_t id_len, bool has_id, struct evbuffer *data)
{
    if (event_len)
        evbuffer_add_printf(out, "event: %.*s\n", (int)event_len, event);
    if (has_id)
        evbuffer_add_printf(out, "id: %.*s\n", (int)id_len, id);
    /* One data line: the JSON we write has no raw line breaks (they are escaped). */
    evbuffer_add(out, "data: ", 6);
    evbuffer_add_buffer(out, data);
    evbuffer_add(out, "\n\n", 2);
}

/* Why the response is blocked, for the client. */
static void block_message(const struct proxy_outguard *g, char *msg, size_t cap)
{
    if (g->block_msg[0])
        snprintf(msg, cap, "%s", g->block_msg);
    else
        snprintf(msg, cap, "the response was blocked by the output guard: it contained a %s",
                 g->block_type ? g->block_type : "value it could not inspect");
}

/* The error event that ends a blocked stream, in the provider's format. */
static void emit_block_event(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    char msg[sizeof(g->block_msg)];
    block_message(g, msg, sizeof(msg));
    if (g->flavor == PROXY_FLAVOR_ANTHROPIC) {
        evbuffer_add_printf(g->out,
                            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"%s\","
                            "\"message\":\"",
                            g->block_code);
        proxy_json_escape(g->out, msg, strlen(msg));
        evbuffer_add(g->out, "\"}}\n\n", 6);
    } else {
        evbuffer_add(g->out, "data: {\"error\":{\"message\":\"", 27);
        proxy_json_escape(g->out, msg, strlen(msg));
        evbuffer_add_printf(g->out, "\",\"type\":\"%s\",\"code\":\"%s\",\"param\":null}}\n\n",
                            g->block_code, g->block_code);
    }
}

/* A slot ends outside an event that carries it: its held text goes out in a copy of its
 * last delta event. */
static void flush_slot_event(struct proxy_outguard *g, struct og_slot *sl, struct evbuffer *tmp)
{
    const char *o;
    size_t olen;
    guard_output_stream_output(sl->st, &o, &olen);
    if (olen > 0) { /* a slot is made by a delta event, which set its template */
        evbuffer_add(tmp, evbuffer_pullup(sl->tpl_pre, -1), evbuffer_get_length(sl->tpl_pre));
        proxy_json_escape(tmp, o, olen);
        evbuffer_add(tmp, evbuffer_pullup(sl->tpl_post, -1), evbuffer_get_length(sl->tpl_post));
        emit_event(g->out, sl->event, strlen(sl->event), NULL, 0, false, tmp);
    }
    guard_output_stream_take(sl->st);
}

/* Keep a piece of the answer for the schema check at its end. */
static int slot_keep(struct proxy_conn *c, struct og_slot *sl, const char *p, size_t n)
{
    size_t cap = (size_t)c->worker->srv->cfg->output_guard.max_body_bytes;
    if (sl->acc == NULL && (sl->acc = evbuffer_new()) == NULL)
        return -ENOMEM;
    if (evbuffer_get_length(sl->acc) + n > cap)
        sl->acc_over = true;
    else if (evbuffer_add(sl->acc, p, n) != 0)
        return -ENOMEM;
    return 0;
}

/* A slot's answer ended: check it against the schema. 0, 1 blocked, or < 0. */
static int slot_schema(struct proxy_conn *c, struct og_slot *sl)
{
    struct proxy_outguard *g = c->outguard;
    if (!sl->is_text || !schema_wanted(g))
        return 0;
    int rc;
    if (sl->acc_over) {
        snprintf(g->schema_msg, sizeof(g->schema_msg),
                 "the answer is larger than output_guard.max_body_bytes and was not checked");
        g->schema_state = OG_SCHEMA_INVALID;
        rc = 1;
    } else {
        size_t n = sl->acc ? evbuffer_get_length(sl->acc) : 0;
        const char *text = n ? (const char *)evbuffer_pullup(sl->acc, -1) : "";
        rc = schema_check(g, text, n);
    }
    if (sl->acc)
        evbuffer_drain(sl->acc, evbuffer_get_length(sl->acc));
    return rc == 1 ? schema_failed(c) : rc;
}

/* Does this event end slot `sl`? */
static bool ends_slot(const struct proxy_outguard *g, const struct og_slot *sl)
{
    if (g->end_all)
        return true;
    long group = (long)(sl->key >> 16);
    for (size_t i = 0; i < g->n_ended_choice; i++) {
        if (g->ended_choice[i] == group)
            return true;
    }
    if (g->api == GUARD_PROMPT_API_MESSAGES && strcmp(g->type, "content_block_stop") == 0)
        return group == (g->top_index < 0 ? 0 : g->top_index);
    if (g->api == GUARD_PROMPT_API_RESPONSES) {
        size_t tl = strlen(g->type);
        if (tl > 5 && strcmp(g->type + tl - 5, ".done") == 0)
            return group == g->out_index * 256 + (g->content_index < 0 ? 0 : g->content_index) ||
                   (g->content_index < 0 && group / 256 == g->out_index);
    }
    return false;
}

/* The signals of a whole event: which slots end with it. */
static void event_signals(struct proxy_outguard *g)
{
    if (g->api == GUARD_PROMPT_API_MESSAGES)
        g->end_all = strcmp(g->type, "message_stop") == 0 || strcmp(g->type, "message_delta") == 0;
    if (g->api == GUARD_PROMPT_API_RESPONSES)
        g->end_all = strcmp(g->type, "response.completed") == 0 ||
                     strcmp(g->type, "response.incomplete") == 0 ||
                     strcmp(g->type, "response.failed") == 0 ||
                     strcmp(g->type, "response.done") == 0;
}

/* One event's data: scan, end slots, rewrite. Returns 0, 1 blocked, or < 0. */
static int sse_event(struct proxy_conn *c, const struct proxy_sse_event *ev)
{
    struct proxy_outguard *g = c->outguard;
    struct evbuffer *tmp = evbuffer_new();
    int rc = 0;
    bool changed = false;
    if (tmp == NULL)
        return -ENOMEM;
    evbuffer_drain(g->rep, evbuffer_get_length(g->rep));
    bool done = ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
    if (done) {
        g->n_strs = 0;
        g->end_all = true;
        g->n_ended_choice = 0;
        g->type[0] = '\0';
    } else if ((rc = collect(g, ev->data, ev->data_len, true)) != 0) {
        /* Not JSON (a provider's odd event): scanned as one text, or refused if too big. */
        evbuffer_free(tmp);
        if (rc == -E2BIG || rc == -ENOMEM)
            return rc;
        g->n_strs = 0;
        if (canary_in(g, ev->data, ev->data_len)) {
            canary_block(c);
            return 1;
        }
        struct og_str s = {.dec_len = ev->data_len};
        rc = scan_whole(c, &s, ev->data);
        if (rc != 0)
            return rc;
        if (s.replaced)
            return -EPROTO; /* a finding in text we cannot rewrite safely: block */
        evbuffer_add(g->out, ev->raw, ev->raw_len);
        return 0;
    } else {
        event_signals(g);
    }
    const char *dec = (const char *)evbuffer_pullup(g->dec, -1);
    dec = dec ? dec : "";
    for (size_t i = 0; i < g->n_strs && rc == 0; i++) {
        struct og_str *s = &g->strs[i];
        if (s->kind == OG_WHOLE) {
            if (canary_in(g, dec + s->dec_off, s->dec_len)) {
                canary_block(c);
                rc = 1;
                break;
            }
            rc = scan_whole(c, s, dec + s->dec_off);
        } else if (s->kind == OG_DELTA) {
            struct og_slot *sl = slot_get(c, s->key);
            if (sl == NULL) {
                rc = -E2BIG; /* more streams than slots: refuse rather than pass unread */
                break;
            }
            if (canary_in_slot(g, sl, dec + s->dec_off, s->dec_len)) {
                canary_block(c);
                rc = 1;
                break;
            }
            sl->is_text = answer_delta(g, s->key);
            if (sl->is_text && schema_wanted(g) &&
                (rc = slot_keep(c, sl, dec + s->dec_off, s->dec_len)) != 0)
                break;
            rc = guard_output_stream_feed(sl->st, dec + s->dec_off, s->dec_len);
            note_findings(g, sl->st, &sl->noted);
            if (rc == 0)
                take_released(g, sl, s);
            /* This event is the slot's newest template. */
            evbuffer_drain(sl->tpl_pre, evbuffer_get_length(sl->tpl_pre));
            evbuffer_drain(sl->tpl_post, evbuffer_get_length(sl->tpl_post));
            evbuffer_add(sl->tpl_pre, ev->data, (size_t)s->start + 1);
            evbuffer_add(sl->tpl_post, ev->data + s->end - 1, ev->data_len - (size_t)s->end + 1);
            snprintf(sl->event, sizeof(sl->event), "%.*s",
                     (int)(ev->event_len < OG_TYPE ? ev->event_len : 0), ev->event);
        }
        changed |= s->replaced;
    }
    /* Slots ending with this event release what they hold: into this event's string for
     * the slot when it has one, else in a copy of the slot's last delta event before it. */
    for (size_t k = 0; k < OG_SLOTS && rc == 0; k++) {
        struct og_slot *sl = &g->slots[k];
        if (!sl->used || !ends_slot(g, sl))
            continue;
        rc = guard_output_stream_end(sl->st);
        note_findings(g, sl->st, &sl->noted);
        if (rc != 0)
            break;
        struct og_str *last = NULL;
        for (size_t i = 0; i < g->n_strs; i++) {
            if (g->strs[i].kind == OG_DELTA && g->strs[i].key == sl->key)
                last = &g->strs[i];
        }
        if (last) {
            take_released(g, sl, last);
            changed = true;
        } else {
            flush_slot_event(g, sl, tmp);
        }
        sl->used = false;
        rc = slot_schema(c, sl);
    }
    if (rc == 0) {
        if (!changed) {
            evbuffer_add(g->out, ev->raw, ev->raw_len);
        } else {
            rebuild(g, ev->data, ev->data_len, tmp);
            emit_event(g->out, ev->event, ev->event_len, ev->id, ev->id_len, ev->has_id, tmp);
        }
    }
    evbuffer_free(tmp);
    return rc;
}

/* ---------------------------------------------------------------- the response */

static bool content_type_is(const struct proxy_hdrs *h, const char *what)
{
    const struct proxy_hdr *ct = proxy_hdrs_find(h, "content-type");
    if (ct == NULL)
        return false;
    const char *v = proxy_hdr_value(h, ct);
    size_t n = strlen(what);
    for (size_t i = 0; i + n <= ct->value_len; i++) {
        if (strncasecmp(v + i, what, n) == 0)
            return true;
    }
    return false;
}

int proxy_outguard_head(struct proxy_conn *c, struct proxy_uconn *u)
{
    struct proxy_outguard *g = c->outguard;
    struct proxy_txn *t = &c->txn;
    const struct proxy_hdrs *h = &u->hdrs;
    if (!t->og_attached || g == NULL)
        return PROXY_OG_OFF;
    /* Provider errors pass unchanged; so do bodiless answers. */
    if (u->status >= 300 || t->method == HTTP_HEAD || u->status == 204) {
        g->mode = PROXY_OG_OFF;
        return g->mode;
    }
    const struct proxy_hdr *ce = proxy_hdrs_find(h, "content-encoding");
    bool identity =
        !ce || (ce->value_len == 8 && strncasecmp(proxy_hdr_value(h, ce), "identity", 8) == 0);
    if (g->observe) {
        /* Nothing to guard: read what can be read, pass every byte as it comes. */
        g->mode = identity ? PROXY_OG_OBSERVE : PROXY_OG_OFF;
        g->body_over = false;
        evbuffer_drain(g->body, evbuffer_get_length(g->body));
        if (identity && content_type_is(h, "text/event-stream")) {
            const struct policy_config *cfg = c->worker->srv->cfg;
            struct proxy_sse_limits lim = {.max_event = (size_t)cfg->output_guard.max_body_bytes,
                                           .max_line = (size_t)cfg->output_guard.max_body_bytes};
            if (g->sse)
                proxy_sse_free(g->sse);
            if ((g->sse = proxy_sse_new(&lim)) == NULL)
                return -ENOMEM;
        } else if (g->sse) {
            proxy_sse_free(g->sse);
            g->sse = NULL;
        }
        return g->mode;
    }
    if (!identity) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "the upstream answered with Content-Encoding: %.*s although identity was asked "
                 "for; the output guard does not pass a body it cannot inspect",
                 (int)(ce->value_len < 40 ? ce->value_len : 40), proxy_hdr_value(h, ce));
        tel_log(TEL_LOG_WARN, "output_uninspectable", TEL_STR("request_id", t->request_id),
                TEL_STR("reason", "content_encoding"));
        proxy_conn_respond_error(c, t->flavor, 502, "upstream_error", "upstream_bad_response", msg,
                                 NULL);
        return -ECANCELED;
    }
    if (content_type_is(h, "text/event-stream")) {
        const struct policy_config *cfg = c->worker->srv->cfg;
        struct proxy_sse_limits lim = {.max_event = (size_t)cfg->output_guard.max_body_bytes,
                                       .max_line = (size_t)cfg->output_guard.max_body_bytes};
        if (g->sse)
            proxy_sse_free(g->sse);
        if ((g->sse = proxy_sse_new(&lim)) == NULL)
            return -ENOMEM;
        g->mode = PROXY_OG_SSE;
    } else {
        g->mode = content_type_is(h, "json") ? PROXY_OG_JSON : PROXY_OG_TEXT;
    }
    return g->mode;
}

const char *proxy_og_schema_name(enum proxy_og_schema s)
{
    static const char *const names[] = {
        [PROXY_OG_SCHEMA_NONE] = "none",
        [PROXY_OG_SCHEMA_VALID] = "valid",
        [PROXY_OG_SCHEMA_INVALID] = "invalid",
        [PROXY_OG_SCHEMA_UNCHECKED] = "unchecked",
    };
    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "none";
}

void proxy_outguard_report(const struct proxy_conn *c, struct proxy_og_report *r)
{
    const struct proxy_outguard *g = c->outguard;
    memset(r, 0, sizeof(*r));
    r->input_tokens = r->output_tokens = -1;
    r->finding_types = "";
    if (!c->txn.og_attached || g == NULL)
        return;
    r->attached = g->mode != PROXY_OG_OFF && g->mode != PROXY_OG_OBSERVE;
    memcpy(r->id, g->resp_id, sizeof(r->id));
    memcpy(r->model, g->resp_model, sizeof(r->model));
    memcpy(r->finish, g->finish, sizeof(r->finish));
    r->input_tokens = g->input_tokens;
    r->output_tokens = g->output_tokens;
    r->findings = g->findings;
    r->finding_types = g->finding_types;
    r->counts = g->counts;
    r->n_counts = g->n_counts;
    r->guard_ns = g->ns;
    r->redacted = g->redacted;
    r->blocked = g->blocked;
    r->block_type = g->block_type;
    r->schema = g->schema_state;
}

enum proxy_og_mode proxy_outguard_mode(const struct proxy_conn *c)
{
    return c->txn.og_attached && c->outguard ? c->outguard->mode : PROXY_OG_OFF;
}

void proxy_outguard_headers(struct proxy_conn *c, struct evbuffer *b)
{
    struct proxy_outguard *g = c->outguard;
    if (!c->txn.og_attached || g == NULL || g->mode == PROXY_OG_OFF || g->mode == PROXY_OG_OBSERVE)
        return;
    if (g->mode == PROXY_OG_SSE) {
        evbuffer_add(b, "x-warden-output: streamed\r\n", 27);
        if (g->schema_state == OG_SCHEMA_UNCHECKED)
            evbuffer_add(b, "x-warden-schema: unchecked\r\n", 28);
        return;
    }
    evbuffer_add_printf(b, "x-warden-output: %s\r\n", g->redacted ? "redacted" : "clean");
    if (g->finding_types[0])
        evbuffer_add_printf(b, "x-warden-output-findings: %s\r\n", g->finding_types);
    if (g->schema_state != OG_SCHEMA_NONE)
        evbuffer_add_printf(b, "x-warden-schema: %s\r\n", proxy_og_schema_name(g->schema_state));
}

/* The stream is blocked: the error event goes out, the response ends. */
static int sse_block(struct proxy_conn *c, const char *why)
{
    struct proxy_outguard *g = c->outguard;
    g->blocked = true;
    if (why)
        g->block_type = why;
    emit_block_event(c);
    proxy_conn_upstream_emit(c, g->out);
    tel_log(TEL_LOG_WARN, "output_blocked", TEL_STR("request_id", c->txn.request_id),
            TEL_STR("type", g->block_type ? g->block_type : ""), TEL_UINT("findings", g->findings));
    return -ECANCELED;
}

static int sse_feed(struct proxy_conn *c, const char *at, size_t len, bool last)
{
    struct proxy_outguard *g = c->outguard;
    struct proxy_sse_event ev;
    int rc;
    if (len > 0)
        proxy_sse_feed(g->sse, at, len);
    if (last)
        proxy_sse_end(g->sse);
    while ((rc = proxy_sse_next(g->sse, &ev)) > 0) {
        if (ev.kind == PROXY_SSE_COMMENT || !ev.has_data) {
            evbuffer_add(g->out, ev.raw, ev.raw_len);
            continue;
        }
        int r = sse_event(c, &ev);
        if (r == 1)
            return sse_block(c, NULL);
        if (r < 0)
            return sse_block(c, r == -E2BIG ? "stream the guard could not follow"
                                            : "value in an event it could not rewrite");
    }
    if (rc < 0)
        return sse_block(c, "event larger than output_guard.max_body_bytes");
    if (last) {
        const char *raw;
        size_t n = proxy_sse_pending(g->sse, &raw);
        if (n > 0) { /* an unterminated last event: not dispatched by clients, dropped */
            tel_log(TEL_LOG_DEBUG, "output_partial_event", TEL_UINT("bytes", n));
        }
        /* The upstream ended without closing some streams: release what they hold. */
        g->end_all = true;
        g->n_strs = 0;
        struct evbuffer *tmp = evbuffer_new();
        if (tmp == NULL)
            return -ENOMEM;
        for (size_t k = 0; k < OG_SLOTS; k++) {
            struct og_slot *sl = &g->slots[k];
            if (!sl->used)
                continue;
            int r = guard_output_stream_end(sl->st);
            note_findings(g, sl->st, &sl->noted);
            if (r != 0) {
                evbuffer_free(tmp);
                return sse_block(c, NULL);
            }
            flush_slot_event(g, sl, tmp);
            sl->used = false;
            if ((r = slot_schema(c, sl)) != 0) {
                evbuffer_free(tmp);
                return r == 1 ? sse_block(c, NULL) : r;
            }
        }
        evbuffer_free(tmp);
        if (g->findings > 0)
            evbuffer_add_printf(g->out, ": warden output findings=%zu types=%s\n\n", g->findings,
                                g->finding_types);
        if (g->schema_state == OG_SCHEMA_VALID)
            evbuffer_add(g->out, ": warden schema valid\n\n", 24);
        else if (g->schema_state != OG_SCHEMA_NONE)
            evbuffer_add_printf(g->out, ": warden schema %s: %s\n\n",
                                proxy_og_schema_name(g->schema_state), g->schema_msg);
    }
    proxy_conn_upstream_emit(c, g->out);
    return 0;
}

/* Observe mode: telemetry read from events or from a copy of the body; nothing changes. */
static void observe_data(struct proxy_conn *c, const char *at, size_t len, bool last)
{
    struct proxy_outguard *g = c->outguard;
    if (g->sse) {
        struct proxy_sse_event ev;
        if (len > 0)
            proxy_sse_feed(g->sse, at, len);
        if (last)
            proxy_sse_end(g->sse);
        while (proxy_sse_next(g->sse, &ev) > 0) {
            if (ev.kind != PROXY_SSE_COMMENT && ev.has_data &&
                !(ev.data_len == 6 && memcmp(ev.data, "[DONE]", 6) == 0))
                (void)collect(g, ev.data, ev.data_len, true);
        }
        return;
    }
    if (!g->body_over && len > 0) {
        if (evbuffer_get_length(g->body) + len >
            (size_t)c->worker->srv->cfg->output_guard.max_body_bytes) {
            g->body_over = true;
            evbuffer_drain(g->body, evbuffer_get_length(g->body));
        } else {
            evbuffer_add(g->body, at, len);
        }
    }
    if (last && !g->body_over) {
        size_t n = evbuffer_get_length(g->body);
        if (n > 0)
            (void)collect(g, (const char *)evbuffer_pullup(g->body, -1), n, false);
        evbuffer_drain(g->body, n);
    }
}

void proxy_outguard_observe(struct proxy_conn *c, const char *at, size_t len)
{
    uint64_t t0 = proxy_now_ns();
    observe_data(c, at, len, false);
    c->outguard->ns += proxy_now_ns() - t0;
}

int proxy_outguard_data(struct proxy_conn *c, const char *at, size_t len)
{
    struct proxy_outguard *g = c->outguard;
    uint64_t t0 = proxy_now_ns();
    int rc = 0;
    if (g->mode == PROXY_OG_SSE) {
        rc = sse_feed(c, at, len, false);
    } else if (evbuffer_get_length(g->body) + len >
               (size_t)c->worker->srv->cfg->output_guard.max_body_bytes) {
        proxy_conn_respond_error(c, c->txn.flavor, 502, "upstream_error", "response_too_large",
                                 "the upstream's response is larger than "
                                 "output_guard.max_body_bytes; the output guard does not pass a "
                                 "body it cannot inspect",
                                 NULL);
        rc = -ECANCELED;
    } else {
        evbuffer_add(g->body, at, len);
    }
    uint64_t spent = proxy_now_ns() - t0;
    c->txn.guard_ns += spent;
    g->ns += spent;
    return rc;
}

/* A whole body: every string scanned, rewritten, sent with its head. */
static int body_end(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    struct proxy_txn *t = &c->txn;
    size_t len = evbuffer_get_length(g->body);
    const char *doc = len ? (const char *)evbuffer_pullup(g->body, -1) : "";
    struct evbuffer *tmp = evbuffer_new();
    int rc;
    if (tmp == NULL)
        return -ENOMEM;
    evbuffer_drain(g->rep, evbuffer_get_length(g->rep));
    if (g->mode == PROXY_OG_JSON && (rc = collect(g, doc, len, false)) == 0) {
        const char *dec = (const char *)evbuffer_pullup(g->dec, -1);
        dec = dec ? dec : "";
        for (size_t i = 0; i < g->n_strs && rc == 0; i++) {
            struct og_str *s = &g->strs[i];
            if (s->kind == OG_SKIP)
                continue;
            if (canary_in(g, dec + s->dec_off, s->dec_len)) {
                canary_block(c);
                rc = 1;
                break;
            }
            rc = scan_whole(c, s, dec + s->dec_off);
        }
        /* The answers, as the model wrote them, against the schema. */
        for (size_t i = 0; i < g->n_strs && rc == 0 && schema_wanted(g); i++) {
            if (g->strs[i].is_text &&
                (rc = schema_check(g, dec + g->strs[i].dec_off, g->strs[i].dec_len)) == 1)
                rc = schema_failed(c);
        }
        if (rc == 0)
            rebuild(g, doc, len, tmp);
    } else if (canary_in(g, doc, len)) {
        canary_block(c);
        rc = 1;
    } else {
        /* Not JSON, or too many strings to follow: one text. */
        struct og_str s = {.dec_len = len};
        g->n_strs = 0;
        rc = scan_whole(c, &s, doc);
        if (rc == 0) {
            if (s.replaced)
                evbuffer_add(tmp, evbuffer_pullup(g->rep, -1), s.rep_len);
            else
                evbuffer_add(tmp, doc, len);
        }
    }
    if (rc != 0) {
        char msg[sizeof(g->block_msg)];
        block_message(g, msg, sizeof(msg));
        tel_log(TEL_LOG_WARN, "output_blocked", TEL_STR("request_id", t->request_id),
                TEL_STR("type", g->block_type ? g->block_type : ""),
                TEL_UINT("findings", g->findings));
        proxy_conn_respond_error(c, t->flavor, 400, "invalid_request_error", g->block_code, msg,
                                 g->schema_state == OG_SCHEMA_INVALID
                                     ? "x-warden-output: blocked\r\nx-warden-schema: invalid\r\n"
                                     : "x-warden-output: blocked\r\n");
        evbuffer_free(tmp);
        return -ECANCELED;
    }
    proxy_conn_upstream_head_send(c, (long long)evbuffer_get_length(tmp));
    proxy_conn_upstream_emit(c, tmp);
    evbuffer_free(tmp);
    evbuffer_drain(g->body, evbuffer_get_length(g->body));
    return 0;
}

int proxy_outguard_end(struct proxy_conn *c)
{
    struct proxy_outguard *g = c->outguard;
    if (g->mode == PROXY_OG_OBSERVE) {
        uint64_t t0 = proxy_now_ns();
        observe_data(c, NULL, 0, true);
        g->ns += proxy_now_ns() - t0;
        return 0;
    }
    uint64_t t0 = proxy_now_ns();
    int rc = g->mode == PROXY_OG_SSE ? sse_feed(c, NULL, 0, true) : body_end(c);
    uint64_t spent = proxy_now_ns() - t0;
    c->txn.guard_ns += spent;
    g->ns += spent;
    if (g->findings > 0 && rc == 0)
        tel_log(TEL_LOG_INFO, "output_findings", TEL_STR("request_id", c->txn.request_id),
                TEL_UINT("findings", g->findings), TEL_STR("types", g->finding_types));
    return rc;
}

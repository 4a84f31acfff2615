/* Output guard: personal data and credential detectors (Hyperscan patterns checked by C
 * validators) over streams of model output text, with a holdback window so that the text it
 * releases never holds part of a finding it has yet to decide on. */
#ifndef WARDEN_GUARDS_OUTPUT_H
#define WARDEN_GUARDS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What to do with a finding. */
enum guard_out_action {
    GUARD_OUT_LOG = 0, /* record it, pass the text unchanged */
    GUARD_OUT_REDACT,  /* replace it with "[REDACTED:<TYPE>]" */
    GUARD_OUT_BLOCK,   /* stop the stream: nothing more is released */
};

/* Detector classes: each has a default action (personal data redacted, secrets blocked). */
enum guard_out_class {
    GUARD_OUT_PII = 0,
    GUARD_OUT_SECRET,
};

/* One detector as loaded from rules/output/ (YAML). Strings are borrowed by
 * guard_output_db_new, which copies what it keeps.
 *
 * `pattern` (Hyperscan dialect, case-sensitive unless it says (?i)) finds candidates; the
 * validator named by `validator` then accepts or rejects each one (see
 * guard_output_validator_names). `span` says which part of the match is the finding:
 * "match" (all of it) or "value" (what follows the last '=', ':', whitespace or quote, with
 * closing quotes trimmed: for patterns that need a name such as `secret_key =` as context).
 * "pem" makes the finding run from the match to the end of the PEM block it opens.
 * Validator "email" is for patterns that match an address from its '@': the finding is taken
 * back over the local part before it (letters, digits, . _ % + -, from a word start), as a
 * pattern starting `\b[A-Za-z0-9][A-Za-z0-9._%+\-]*@` would find it, and dropped if there is
 * none. Validator "ipv6-colon" is for patterns that match an IPv6 address from a ':' (as
 * `(?i):[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){1,7}\b` does): the finding is taken back to where
 * `(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}\b`
 * would start a match with the same end, dropped if there is none, then checked as "ipv6". */
struct guard_output_rule {
    const char *id;
    const char *type; /* finding type, upper case: EMAIL, CREDIT_CARD, GITHUB_TOKEN ... */
    enum guard_out_class cls;
    const char *pattern;
    const char *validator; /* NULL or "" for none */
    const char *span;      /* NULL or "" for "match" */
    const char *description;
    int priority; /* overlapping findings: the higher wins; then the longer */
};

/* The validators rules may name, NULL-terminated. */
extern const char *const guard_output_validator_names[];

/* Run validator `name` on one candidate (tests, `warden rules test`). -1 unknown name. */
int guard_output_validate(const char *name, const char *s, size_t len);

/* A compiled, immutable detector set, shared by every thread. */
struct guard_output_db;

/* Compile `n` rules into one streaming database. On error returns -EINVAL and writes which
 * rule and why to err (the rule's index in *bad, or -1). */
int guard_output_db_new(const struct guard_output_rule *rules, size_t n, const char *hash,
                        struct guard_output_db **out, int *bad, char *err, size_t errlen);
void guard_output_db_free(struct guard_output_db *db);
/* The compiled database as bytes, for a cache (malloc'd into *buf; free it); the same rules
 * and guard_output_db_engine() load it back. 0 or -ENOMEM. */
int guard_output_db_serialize(const struct guard_output_db *db, char **buf, size_t *len);
/* guard_output_db_new with the database taken from guard_output_db_serialize bytes instead of
 * compiled; -EINVAL when they do not fit (compile then). */
int guard_output_db_load(const struct guard_output_rule *rules, size_t n, const char *hash,
                         const char *buf, size_t len, struct guard_output_db **out);
/* What a cached database depends on besides the rules: Hyperscan's version, the engine's flags
 * and its own pattern. */
const char *guard_output_db_engine(void);
size_t guard_output_db_count(const struct guard_output_db *db);
const struct guard_output_rule *guard_output_db_rule(const struct guard_output_db *db, size_t i);
const char *guard_output_db_hash(const struct guard_output_db *db);
/* Bytes of Hyperscan stream state per text stream. */
size_t guard_output_db_stream_size(const struct guard_output_db *db);

/* Per-thread scratch space. NULL when out of memory. */
struct guard_output_scratch;
struct guard_output_scratch *guard_output_scratch_new(const struct guard_output_db *db);
void guard_output_scratch_free(struct guard_output_scratch *s);
/* Make `s` usable with `db` too (a reloaded set). 0 or -ENOMEM. */
int guard_output_scratch_grow(struct guard_output_scratch *s, const struct guard_output_db *db);

/* Actions per detector class, with overrides per finding type. */
#define GUARD_OUT_TYPE_OVERRIDES 32
struct guard_output_policy {
    enum guard_out_action cls[2]; /* by enum guard_out_class */
    size_t n_types;
    struct {
        char type[40];
        enum guard_out_action action;
    } types[GUARD_OUT_TYPE_OVERRIDES];
};

/* The defaults of DESIGN.md: redact personal data, block secrets. */
void guard_output_policy_default(struct guard_output_policy *p);
enum guard_out_action guard_output_policy_action(const struct guard_output_policy *p,
                                                 const struct guard_output_rule *r);

/* Limits of one stream. Zero fields take the defaults. */
struct guard_output_limits {
    size_t holdback; /* bytes kept back after the newest byte; default 64 */
    size_t max_hold; /* bytes held at most (a token still growing, a PEM block opening);
                      * default 4096, at least 2 * holdback. Beyond it the oldest bytes are
                      * released even though a finding could still begin in them. */
};

/* One finding. Offsets are in the stream's input: bytes and Unicode code points. */
struct guard_output_finding {
    uint32_t rule; /* index in the db */
    enum guard_out_action action;
    uint64_t start, end;       /* bytes */
    uint64_t cp_start, cp_end; /* code points */
    bool partial;              /* some of it was released before it was found (max_hold) */
};

#define GUARD_OUT_FINDINGS 64 /* findings kept per stream (n_findings counts all) */

/* One text stream: the deltas of one choice, content block or tool call, or one whole text.
 * Allocated once per owner and reused (guard_output_stream_reset). */
struct guard_output_stream;

struct guard_output_stream *guard_output_stream_new(const struct guard_output_db *db,
                                                    const struct guard_output_limits *lim);
void guard_output_stream_free(struct guard_output_stream *s);
/* Bytes this stream allocated (its state, held text and Hyperscan stream). */
size_t guard_output_stream_memory(const struct guard_output_stream *s);

/* Start a new stream with this thread's scratch and the actions to take. `pol` is borrowed
 * until the stream ends. */
void guard_output_stream_reset(struct guard_output_stream *s, struct guard_output_scratch *scratch,
                               const struct guard_output_policy *pol);

/* Give the stream the next text. Text that can no longer be part of an undecided finding is
 * released, redacted, into the stream's output (guard_output_stream_take). Returns 0, 1 once
 * a finding whose action is block was made (nothing more is released, ever: the held text
 * is dropped), or -ENOMEM / -EIO (Hyperscan failure: the stream then behaves as blocked). */
int guard_output_stream_feed(struct guard_output_stream *s, const char *text, size_t len);

/* The stream ends: every held byte is decided and released. Same returns as feed. */
int guard_output_stream_end(struct guard_output_stream *s);

/* The released text so far (borrowed until the next feed, end or take); `take` empties it. */
void guard_output_stream_output(const struct guard_output_stream *s, const char **text,
                                size_t *len);
void guard_output_stream_take(struct guard_output_stream *s);

/* Bytes given but not yet released. */
size_t guard_output_stream_held(const struct guard_output_stream *s);
bool guard_output_stream_blocked(const struct guard_output_stream *s);

/* Findings so far: up to GUARD_OUT_FINDINGS of them, in the order they were decided. */
size_t guard_output_stream_findings(const struct guard_output_stream *s,
                                    const struct guard_output_finding **f);
size_t guard_output_stream_findings_total(const struct guard_output_stream *s);

#endif

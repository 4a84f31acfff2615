/* Prompt guard: prompt-injection rules compiled into one Hyperscan database, streamed scans. */
#ifndef WARDEN_GUARDS_PROMPT_H
#define WARDEN_GUARDS_PROMPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One rule as loaded from rules/prompt/ (YAML). Strings are borrowed by guard_prompt_db_new,
 * which copies what it keeps. */
struct guard_prompt_rule {
    const char *id;
    const char *category;
    const char *pattern; /* Hyperscan dialect, matched caselessly against normalised text */
    const char *description;
    double weight; /* 0..1 */
};

/* Signals the engine adds on top of the rules (ids reserved, listed with the rules). */
enum guard_prompt_signal {
    GUARD_PROMPT_SIG_ENCODED = 0, /* a rule matched inside a decoded payload or ROT13 view */
    GUARD_PROMPT_SIG_TOOL,        /* a rule matched in tool output (indirect injection) */
    GUARD_PROMPT_SIG_BUDGET,      /* more encoded text than the decode budget: not all seen */
    GUARD_PROMPT_SIG_COUNT,
};

/* Where a piece of text comes from. System text is scanned only when the caller asks. */
enum guard_prompt_src {
    GUARD_PROMPT_SRC_USER = 0, /* user turns, prompts, inputs: what a user controls */
    GUARD_PROMPT_SRC_TOOL,     /* tool and function results: documents, pages, e-mails */
    GUARD_PROMPT_SRC_SYSTEM,   /* system and developer prompts */
    GUARD_PROMPT_SRC_COUNT,
};

/* Limits of one scan. Zero fields take the defaults. */
struct guard_prompt_limits {
    size_t decode_budget; /* decoded bytes rescanned per scan; default 64 KiB */
    bool no_decode;       /* skip decoded payloads (the ROT13 view stays) */
};

/* A compiled, immutable rule set: shared by every thread. */
struct guard_prompt_db;

/* Compile `n` rules into one streaming-mode database. `hash` names the rule set (hex SHA-256
 * of its source, computed by the loader). On error returns -EINVAL and writes which rule
 * and why to err (the index of the rule in *bad, or -1). */
int guard_prompt_db_new(const struct guard_prompt_rule *rules, size_t n, const char *hash,
                        struct guard_prompt_db **out, int *bad, char *err, size_t errlen);
void guard_prompt_db_free(struct guard_prompt_db *db);

/* The compiled database as bytes, for a cache (malloc'd into *buf; free it). Such bytes are
 * only good for the same rules, Hyperscan version and CPU family. 0 or -ENOMEM. */
int guard_prompt_db_serialize(const struct guard_prompt_db *db, char **buf, size_t *len);

/* guard_prompt_db_new with the database taken from guard_prompt_db_serialize bytes instead of
 * compiled. Returns -EINVAL when the bytes do not fit (wrong version, platform or rule
 * count): compile then. */
int guard_prompt_db_load(const struct guard_prompt_rule *rules, size_t n, const char *hash,
                         const char *buf, size_t len, struct guard_prompt_db **out);

/* A key naming what a cached database depends on besides the rules: Hyperscan's version and
 * this engine's compile flags. */
const char *guard_prompt_db_engine(void);

/* Rules and signals: index 0..n-1 the loaded rules in order, then the signals. */
size_t guard_prompt_db_count(const struct guard_prompt_db *db);
const struct guard_prompt_rule *guard_prompt_db_rule(const struct guard_prompt_db *db, size_t i);
const char *guard_prompt_db_hash(const struct guard_prompt_db *db);
/* Index of a rule or signal by id, or -1. */
long guard_prompt_db_find(const struct guard_prompt_db *db, const char *id);

/* Per-thread scratch space for scanning. NULL when out of memory. */
struct guard_prompt_scratch;
struct guard_prompt_scratch *guard_prompt_scratch_new(const struct guard_prompt_db *db);
void guard_prompt_scratch_free(struct guard_prompt_scratch *s);
/* Make `s` usable with `db` too (a reloaded rule set), keeping it usable with the databases it
 * served before. Call from the owning thread, between scans. Returns 0 or -ENOMEM. */
int guard_prompt_scratch_grow(struct guard_prompt_scratch *s, const struct guard_prompt_db *db);

/* The outcome of one scan. `rules` lists matched rule indexes (signals included), in index
 * order, at most GUARD_PROMPT_VERDICT_RULES of them (n_matched counts all). */
#define GUARD_PROMPT_VERDICT_RULES 32

enum guard_prompt_verdict_kind {
    GUARD_PROMPT_PASS = 0,
    GUARD_PROMPT_WARN,
    GUARD_PROMPT_BLOCK,
};

struct guard_prompt_verdict {
    enum guard_prompt_verdict_kind kind;
    double score; /* noisy-OR of the weights of the matched rules, each counted once */
    size_t n_matched;
    uint32_t rules[GUARD_PROMPT_VERDICT_RULES];
    uint64_t bytes_scanned; /* normalised bytes of every view */
    bool budget_exhausted;  /* decoding stopped at the budget */
};

/* One scan: any number of text fields, each streamed in pieces, then a verdict. Reusable
 * across requests (guard_prompt_scan_reset), so streams are allocated once per owner. */
struct guard_prompt_scan;

struct guard_prompt_scan *guard_prompt_scan_new(const struct guard_prompt_db *db,
                                                const struct guard_prompt_limits *lim);
void guard_prompt_scan_free(struct guard_prompt_scan *s);

/* Start a new scan with this thread's scratch. */
void guard_prompt_scan_reset(struct guard_prompt_scan *s, struct guard_prompt_scratch *scratch);

/* Text of one field (UTF-8), in pieces: `end` marks the field's last piece. Fields do not
 * interleave: one field ends before the next begins. Returns 0 or -ENOMEM/-EIO (Hyperscan
 * failure; the scan then blocks nothing it has not matched). */
int guard_prompt_scan_text(struct guard_prompt_scan *s, enum guard_prompt_src src, const char *text,
                           size_t len, bool end);

/* Close the scan and score it against the thresholds (warn <= block). */
void guard_prompt_scan_verdict(struct guard_prompt_scan *s, double warn, double block,
                               struct guard_prompt_verdict *v);

/* Scan one text as user input in one call (CLI, /v1/scan/prompt). */
int guard_prompt_scan_block(struct guard_prompt_scan *s, struct guard_prompt_scratch *scratch,
                            const char *text, size_t len, double warn, double block,
                            struct guard_prompt_verdict *v);

/* Which views of the text matched a rule, for explanations: bit (1 << src) for plain
 * matches, GUARD_PROMPT_VIEW_DECODED for decoded views. Valid after the verdict. */
#define GUARD_PROMPT_VIEW_DECODED 0x10u
unsigned guard_prompt_scan_views(const struct guard_prompt_scan *s, size_t rule);

const char *guard_prompt_verdict_name(enum guard_prompt_verdict_kind k);

#endif

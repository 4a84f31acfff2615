/* Prompt guard: one Hyperscan database for every rule, streamed over normalised text, its
 * ROT13 view and decoded payloads; noisy-OR scoring. The database is compiled in streaming
 * mode only and serves whole texts too (a stream opened, fed once, reset): compiling the
 * rules is most of the start-up time, and a second, block-mode copy would double it. */
#include "guards/prompt.h"

#include "guards/decode.h"
#include "guards/hs_scan.h"
#include "guards/normalize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Weights of the engine's own signals: a rule hidden in an encoding is rarely innocent; an
 * instruction in tool output is the shape of an indirect injection. */
static const struct guard_prompt_rule signals[GUARD_PROMPT_SIG_COUNT] = {
    [GUARD_PROMPT_SIG_ENCODED] = {.id = "pi-signal-encoded",
                                  .category = "obfuscation",
                                  .pattern = "",
                                  .description = "A rule matched inside a decoded payload "
                                                 "(base64, hex, percent, HTML entities, "
                                                 "\\u escapes, ROT13).",
                                  .weight = 0.4},
    [GUARD_PROMPT_SIG_TOOL] = {.id = "pi-signal-tool-context",
                               .category = "indirect_injection",
                               .pattern = "",
                               .description = "A rule matched in tool or function output, "
                                              "where instructions to the model do not belong.",
                               .weight = 0.25},
    /* Padding a payload behind more encoded text than the budget must not hide it quietly:
     * alone this stays below the warn threshold, with any rule it adds up. */
    [GUARD_PROMPT_SIG_BUDGET] = {.id = "pi-signal-decode-budget",
                                 .category = "obfuscation",
                                 .pattern = "",
                                 .description = "The request held more encoded text than the "
                                                "decode budget; the rest was not decoded.",
                                 .weight = 0.3},
};

#define PROMPT_HS_FLAGS (HS_FLAG_CASELESS | HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH)
/* Normalised bytes handed to Hyperscan per call. */
#define PROMPT_SLICE 2048
/* Normalised bytes per ROT13 decision (see rot13_trigger), and trigger matches queued. */
#define ROT13_BLOCK       64
#define PROMPT_ROT13_HITS 16

struct guard_prompt_db {
    hs_database_t *stream_db;
    size_t n_rules; /* loaded rules; the signals follow */
    struct guard_prompt_rule *rules;
    char hash[72];
};

struct guard_prompt_scratch {
    hs_scratch_t *hs;
};

struct rot13_blk {
    char b[ROT13_BLOCK];
    size_t len;
    uint64_t start; /* offset in the field's normalised text */
    bool hot, fed;
};

struct guard_prompt_scan {
    const struct guard_prompt_db *db;
    struct guard_prompt_limits lim;
    struct guard_prompt_scratch *scratch; /* borrowed for the scan; ->hs read at each call,
                                           * as a reload may replace it between calls */
    hs_stream_t *plain;                   /* the current field, normalised */
    hs_stream_t *rot13;                   /* the same text with letters rotated by 13 */
    hs_stream_t *decoded;                 /* one decoded payload at a time */
    struct guard_norm norm;
    struct guard_decode dec;
    bool in_field;
    bool hs_failed;
    enum guard_prompt_src src;
    unsigned view;  /* what the running Hyperscan call is scanning */
    uint8_t *views; /* per rule: the views it matched in */
    uint32_t *hit;  /* the rules with views[] != 0, in the order they first matched */
    size_t n_hit;
    bool rot_fed; /* the ROT13 stream holds text of this field */
    uint64_t bytes;
    char *payload; /* normalised decoded payload */
    size_t payload_cap;
    char out[GUARD_NORM_OUT_MAX(PROMPT_SLICE)];
    /* ROT13 view: blocks of the normalised text, decided one block late (rot13_decide). */
    struct rot13_blk rot_blk[3];          /* the three below, which trade places */
    struct rot13_blk *rot_cur;            /* being filled */
    struct rot13_blk *rot_pend;           /* complete, not decided yet */
    struct rot13_blk *rot_prev;           /* decided */
    uint64_t rot_hits[PROMPT_ROT13_HITS]; /* last-byte offsets of rot13_trigger matches */
    unsigned rot_hits_head, rot_hits_n;
    uint64_t rot_hot_until; /* the queue overflowed: blocks before this offset are hot */
};

static char *dup_str(const char *s)
{
    size_t n = strlen(s ? s : "");
    char *d = malloc(n + 1);
    if (d)
        memcpy(d, s ? s : "", n + 1);
    return d;
}

static void rules_free(struct guard_prompt_rule *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++) {
        free((char *)r[i].id);
        free((char *)r[i].category);
        free((char *)r[i].pattern);
        free((char *)r[i].description);
    }
    free(r);
}

void guard_prompt_db_free(struct guard_prompt_db *db)
{
    if (db == NULL)
        return;
    hs_free_database(db->stream_db);
    rules_free(db->rules, db->n_rules + GUARD_PROMPT_SIG_COUNT);
    free(db);
}

/* Which parts of a text get a ROT13 view. Scanning all of it twice would halve the guard's
 * speed; rotated English gives itself away by its common words, rotated ("the" is "gur",
 * "you" is "lbh"), which ordinary text almost never holds (measured on the development set:
 * 0.5% of 64-byte blocks of benign text, every block of rotated sentences). A block holding
 * one gets a ROT13 view, with its neighbours on each side so that a payload cut by a block
 * edge is seen whole. */
static const char rot13_trigger[] =
    "\\b(gur|naq|lbh|lbhe|nyy|sbe|guvf|jvgu|ner|jung|gung|unir|abg|pna|jvyy|sebz|abj|"
    "vtaber|cerivbhf|vafgehpgvbaf|flfgrz|cebzcg|ehyrf|frperg|cnffjbeq|ercrng|gryy)\\b";

/* Compiled for AVX2 at most. On this rule set AVX-512 code scans no faster (193 against 194
 * MB/s on the benign development set, same session) and takes 4.8 MB against 3.7 MB: most of
 * the memory of an idle guarded server. */
static const hs_platform_info_t *prompt_platform(hs_platform_info_t *pl)
{
    if (hs_populate_platform(pl) != HS_SUCCESS)
        return NULL;
    pl->cpu_features &= HS_CPU_FEATURES_AVX2;
    return pl;
}

static int compile(const struct guard_prompt_rule *rules, size_t n, unsigned mode,
                   hs_database_t **out, int *bad, char *err, size_t errlen)
{
    const char **pats = calloc(n + 1, sizeof(*pats));
    unsigned *flags = calloc(n + 1, sizeof(*flags));
    unsigned *ids = calloc(n + 1, sizeof(*ids));
    hs_compile_error_t *cerr = NULL;
    int rc = -ENOMEM;
    if (pats == NULL || flags == NULL || ids == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        pats[i] = rules[i].pattern;
        flags[i] = PROMPT_HS_FLAGS;
        ids[i] = (unsigned)i;
    }
    /* The engine's own pattern, id n: every match, not just the first. */
    pats[n] = rot13_trigger;
    flags[n] = HS_FLAG_CASELESS;
    ids[n] = (unsigned)n;
    hs_platform_info_t pl;
    if (hs_compile_multi(pats, flags, ids, (unsigned)n + 1, mode, prompt_platform(&pl), out,
                         &cerr) != HS_SUCCESS) {
        *bad = cerr && cerr->expression < (int)n ? cerr->expression : -1;
        snprintf(err, errlen, "%s", cerr && cerr->message ? cerr->message : "compile failed");
        hs_free_compile_error(cerr);
        rc = -EINVAL;
        goto out;
    }
    rc = 0;
out:
    free(pats);
    free(flags);
    free(ids);
    return rc;
}

/* Check the rules and copy what the database keeps; the Hyperscan part comes after. */
static int db_prepare(const struct guard_prompt_rule *rules, size_t n, const char *hash,
                      struct guard_prompt_db **out, int *bad, char *err, size_t errlen)
{
    struct guard_prompt_db *db = calloc(1, sizeof(*db));
    *bad = -1;
    *out = NULL;
    if (db == NULL)
        goto nomem;
    if (n == 0) {
        snprintf(err, errlen, "no prompt rules");
        free(db);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(rules[i].weight >= 0.0 && rules[i].weight <= 1.0) || rules[i].id == NULL ||
            rules[i].pattern == NULL || rules[i].pattern[0] == '\0') {
            *bad = (int)i;
            snprintf(err, errlen, "a rule needs an id, a pattern and a weight in 0..1");
            free(db);
            return -EINVAL;
        }
        for (size_t j = 0; j < i + GUARD_PROMPT_SIG_COUNT; j++) {
            const char *other = j < i ? rules[j].id : signals[j - i].id;
            if (strcmp(rules[i].id, other) == 0) {
                *bad = (int)i;
                snprintf(err, errlen, "rule id '%s' is used twice", rules[i].id);
                free(db);
                return -EINVAL;
            }
        }
    }
    db->n_rules = n;
    db->rules = calloc(n + GUARD_PROMPT_SIG_COUNT, sizeof(*db->rules));
    if (db->rules == NULL)
        goto nomem;
    for (size_t i = 0; i < n + GUARD_PROMPT_SIG_COUNT; i++) {
        const struct guard_prompt_rule *r = i < n ? &rules[i] : &signals[i - n];
        struct guard_prompt_rule *d = &db->rules[i];
        d->weight = r->weight;
        d->id = dup_str(r->id);
        d->category = dup_str(r->category);
        d->pattern = dup_str(r->pattern);
        d->description = dup_str(r->description);
        if (!d->id || !d->category || !d->pattern || !d->description)
            goto nomem;
    }
    snprintf(db->hash, sizeof(db->hash), "%s", hash ? hash : "");
    *out = db;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory compiling prompt rules");
    guard_prompt_db_free(db);
    return -ENOMEM;
}

int guard_prompt_db_new(const struct guard_prompt_rule *rules, size_t n, const char *hash,
                        struct guard_prompt_db **out, int *bad, char *err, size_t errlen)
{
    struct guard_prompt_db *db;
    int rc = db_prepare(rules, n, hash, &db, bad, err, errlen);
    if (rc != 0)
        return rc;
    rc = compile(rules, n, HS_MODE_STREAM, &db->stream_db, bad, err, errlen);
    if (rc != 0) {
        if (rc == -ENOMEM)
            snprintf(err, errlen, "out of memory compiling prompt rules");
        guard_prompt_db_free(db);
        return rc;
    }
    *out = db;
    return 0;
}

int guard_prompt_db_load(const struct guard_prompt_rule *rules, size_t n, const char *hash,
                         const char *buf, size_t len, struct guard_prompt_db **out)
{
    struct guard_prompt_db *db;
    char err[200];
    int bad;
    int rc = db_prepare(rules, n, hash, &db, &bad, err, sizeof(err));
    if (rc != 0)
        return rc;
    /* Hyperscan checks the bytes' version and that this CPU can run them. */
    if (hs_deserialize_database(buf, len, &db->stream_db) != HS_SUCCESS) {
        guard_prompt_db_free(db);
        return -EINVAL;
    }
    *out = db;
    return 0;
}

int guard_prompt_db_serialize(const struct guard_prompt_db *db, char **buf, size_t *len)
{
    return hs_serialize_database(db->stream_db, buf, len) == HS_SUCCESS ? 0 : -ENOMEM;
}

const char *guard_prompt_db_engine(void)
{
    static char engine[160];
    if (engine[0] == '\0') {
        /* Everything compiled besides the rules: the engine's own pattern and flags. */
        uint64_t h = 0xcbf29ce484222325ull;
        for (const char *p = rot13_trigger; *p; p++)
            h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
        snprintf(engine, sizeof(engine),
                 "warden-prompt-db 3 (avx2 at most); hs %s; flags %u; trigger %016llx",
                 hs_version(), (unsigned)PROMPT_HS_FLAGS, (unsigned long long)h);
    }
    return engine;
}

size_t guard_prompt_db_count(const struct guard_prompt_db *db)
{
    return db->n_rules + GUARD_PROMPT_SIG_COUNT;
}

const struct guard_prompt_rule *guard_prompt_db_rule(const struct guard_prompt_db *db, size_t i)
{
    return i < guard_prompt_db_count(db) ? &db->rules[i] : NULL;
}

const char *guard_prompt_db_hash(const struct guard_prompt_db *db)
{
    return db->hash;
}

long guard_prompt_db_find(const struct guard_prompt_db *db, const char *id)
{
    for (size_t i = 0; i < guard_prompt_db_count(db); i++) {
        if (strcmp(db->rules[i].id, id) == 0)
            return (long)i;
    }
    return -1;
}

struct guard_prompt_scratch *guard_prompt_scratch_new(const struct guard_prompt_db *db)
{
    struct guard_prompt_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (hs_alloc_scratch(db->stream_db, &s->hs) != HS_SUCCESS) {
        guard_prompt_scratch_free(s);
        return NULL;
    }
    return s;
}

int guard_prompt_scratch_grow(struct guard_prompt_scratch *s, const struct guard_prompt_db *db)
{
    /* Grown on a copy: Hyperscan frees a scratch it cannot grow in place, and on failure the
     * thread must keep the one it has. Scans in progress read s->hs at each call. */
    hs_scratch_t *grown = NULL;
    if (hs_clone_scratch(s->hs, &grown) != HS_SUCCESS)
        return -ENOMEM;
    if (hs_alloc_scratch(db->stream_db, &grown) != HS_SUCCESS) {
        hs_free_scratch(grown); /* NULL after a failed grow: harmless */
        return -ENOMEM;
    }
    hs_free_scratch(s->hs);
    s->hs = grown;
    return 0;
}

void guard_prompt_scratch_free(struct guard_prompt_scratch *s)
{
    if (s == NULL)
        return;
    hs_free_scratch(s->hs);
    free(s);
}

/* ---------------------------------------------------------------- scanning */

static void rot13_hit(struct guard_prompt_scan *s, unsigned long long to);
static void rot13_clear(struct guard_prompt_scan *s);

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    struct guard_prompt_scan *s = ctx;
    (void)from, (void)flags;
    if (id < s->db->n_rules) {
        if (s->views[id] == 0)
            s->hit[s->n_hit++] = id;
        s->views[id] |= (uint8_t)s->view;
    } else if (!(s->view & GUARD_PROMPT_VIEW_DECODED)) {
        rot13_hit(s, to);
    }
    return 0;
}

static void on_payload(void *ud, enum guard_enc enc, unsigned layers, const char *buf, size_t len)
{
    struct guard_prompt_scan *s = ud;
    (void)enc, (void)layers;
    if (s->hs_failed || len == 0)
        return;
    size_t cap = GUARD_NORM_OUT_MAX(len);
    if (cap > s->payload_cap) {
        char *p = realloc(s->payload, cap);
        if (p == NULL) {
            s->hs_failed = true;
            return;
        }
        s->payload = p;
        s->payload_cap = cap;
    }
    size_t n = guard_norm_block(buf, len, s->payload, s->payload_cap);
    s->bytes += n;
    s->view = GUARD_PROMPT_VIEW_DECODED;
    if (guard_hs_scan_stream(s->decoded, s->payload, n, s->scratch->hs, on_match, s) !=
            HS_SUCCESS ||
        hs_reset_stream(s->decoded, 0, s->scratch->hs, on_match, s) != HS_SUCCESS)
        s->hs_failed = true;
}

struct guard_prompt_scan *guard_prompt_scan_new(const struct guard_prompt_db *db,
                                                const struct guard_prompt_limits *lim)
{
    struct guard_prompt_scan *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->db = db;
    s->lim.decode_budget = lim && lim->decode_budget ? lim->decode_budget : GUARD_DECODE_BUDGET;
    s->lim.no_decode = lim && lim->no_decode;
    s->rot_cur = &s->rot_blk[0];
    s->rot_pend = &s->rot_blk[1];
    s->rot_prev = &s->rot_blk[2];
    s->views = calloc(guard_prompt_db_count(db), 1);
    s->hit = calloc(guard_prompt_db_count(db), sizeof(*s->hit));
    if (s->views == NULL || s->hit == NULL ||
        hs_open_stream(db->stream_db, 0, &s->plain) != HS_SUCCESS ||
        hs_open_stream(db->stream_db, 0, &s->rot13) != HS_SUCCESS ||
        hs_open_stream(db->stream_db, 0, &s->decoded) != HS_SUCCESS) {
        guard_prompt_scan_free(s);
        return NULL;
    }
    return s;
}

void guard_prompt_scan_free(struct guard_prompt_scan *s)
{
    if (s == NULL)
        return;
    if (s->plain)
        hs_close_stream(s->plain, NULL, NULL, NULL);
    if (s->rot13)
        hs_close_stream(s->rot13, NULL, NULL, NULL);
    if (s->decoded)
        hs_close_stream(s->decoded, NULL, NULL, NULL);
    free(s->views);
    free(s->hit);
    free(s->payload);
    free(s);
}

void guard_prompt_scan_reset(struct guard_prompt_scan *s, struct guard_prompt_scratch *scratch)
{
    s->scratch = scratch;
    if (s->in_field) {
        /* The last scan stopped inside a field (a request cut short): drop its state. */
        hs_reset_stream(s->plain, 0, NULL, NULL, NULL);
        if (s->rot_fed)
            hs_reset_stream(s->rot13, 0, NULL, NULL, NULL);
        s->rot_fed = false;
    }
    /* Only the rules that matched have views to clear (the signals are set by the verdict). */
    for (size_t i = 0; i < s->n_hit; i++)
        s->views[s->hit[i]] = 0;
    s->n_hit = 0;
    memset(s->views + s->db->n_rules, 0, GUARD_PROMPT_SIG_COUNT);
    s->bytes = 0;
    s->in_field = false;
    rot13_clear(s);
    s->hs_failed = false;
    struct guard_decode_limits dl = {.budget = s->lim.decode_budget};
    guard_decode_init(&s->dec, &dl, on_payload, s);
}

/* A match of rot13_trigger in the plain text, ending before byte `to` of the field. */
static void rot13_hit(struct guard_prompt_scan *s, unsigned long long to)
{
    if (s->rot_hits_n < PROMPT_ROT13_HITS)
        s->rot_hits[(s->rot_hits_head + s->rot_hits_n++) % PROMPT_ROT13_HITS] = to - 1;
    else if (to > s->rot_hot_until)
        s->rot_hot_until = to; /* too many to queue: every block up to here is hot */
}

static void rot13_feed(struct guard_prompt_scan *s, const char *b, size_t n)
{
    char out[ROT13_BLOCK];
    if (n == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        out[i] = (char)(ch >= 'a' && ch <= 'z' ? 'a' + (ch - 'a' + 13) % 26 : ch);
    }
    s->bytes += n;
    s->view = GUARD_PROMPT_VIEW_DECODED;
    s->rot_fed = true;
    if (guard_hs_scan_stream(s->rot13, out, n, s->scratch->hs, on_match, s) != HS_SUCCESS)
        s->hs_failed = true;
}

/* Per byte: 1 for e t o i s h, 1 << 16 for their ROT13 images r g b v f u. In English the
 * first are about half of the letters and the second a sixth; rotated text turns that round.
 * The fallback for rotated text without one of rot13_trigger's words. */
static const uint32_t rot13_class[256] = {
    ['e'] = 1,       ['t'] = 1,       ['o'] = 1,       ['i'] = 1,
    ['s'] = 1,       ['h'] = 1,       ['r'] = 1 << 16, ['g'] = 1 << 16,
    ['b'] = 1 << 16, ['v'] = 1 << 16, ['f'] = 1 << 16, ['u'] = 1 << 16,
};

#if defined(__SSE2__)
/* Lanes of v equal to any of the six bytes in `set`. */
static __m128i rot13_any(__m128i v, const char set[6])
{
    __m128i m = _mm_cmpeq_epi8(v, _mm_set1_epi8(set[0]));
    for (int i = 1; i < 6; i++)
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(set[i])));
    return m;
}
#endif

static bool rot13_letters_rotated(const char *b, size_t n)
{
    uint32_t acc = 0;
    size_t i = 0;
#if defined(__SSE2__)
    /* Sixteen bytes at a time: a match subtracts -1 from its lane's count, which stays far
     * below 256 for a block; the lanes are summed once at the end. */
    __m128i plain_n = _mm_setzero_si128(), rotated_n = _mm_setzero_si128();
    _Static_assert(ROT13_BLOCK / 16 < 256, "per-lane counts fit a byte");
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        plain_n = _mm_sub_epi8(plain_n, rot13_any(v, "etoish"));
        rotated_n = _mm_sub_epi8(rotated_n, rot13_any(v, "rgbvfu"));
    }
    __m128i ps = _mm_sad_epu8(plain_n, _mm_setzero_si128());
    __m128i rs = _mm_sad_epu8(rotated_n, _mm_setzero_si128());
    acc = (uint32_t)(_mm_cvtsi128_si32(ps) + _mm_cvtsi128_si32(_mm_srli_si128(ps, 8))) +
          ((uint32_t)(_mm_cvtsi128_si32(rs) + _mm_cvtsi128_si32(_mm_srli_si128(rs, 8))) << 16);
#endif
    for (; i < n; i++)
        acc += rot13_class[(unsigned char)b[i]];
    uint32_t plain = acc & 0xffffu, rotated = acc >> 16;
    return rotated >= 6 && rotated >= 2 * plain;
}

static void rot13_clear(struct guard_prompt_scan *s)
{
    s->rot_cur->len = 0;
    s->rot_cur->start = 0;
    s->rot_pend->len = 0;
    s->rot_prev->len = 0;
    s->rot_prev->hot = false;
    s->rot_hits_n = 0;
    s->rot_hot_until = 0;
}

/* Decide the pending block: every trigger match ending in it has been reported by now (a
 * match is known one byte after its end, and the next block has begun, or the field ended).
 * A hot block goes to the ROT13 stream with the block before it and the block after it. */
static void rot13_decide(struct guard_prompt_scan *s)
{
    struct rot13_blk *p = s->rot_pend;
    uint64_t end = p->start + p->len;
    p->hot = p->start < s->rot_hot_until || rot13_letters_rotated(p->b, p->len);
    while (s->rot_hits_n > 0 && s->rot_hits[s->rot_hits_head] < end) {
        p->hot |= s->rot_hits[s->rot_hits_head] >= p->start;
        s->rot_hits_head = (s->rot_hits_head + 1) % PROMPT_ROT13_HITS;
        s->rot_hits_n--;
    }
    p->fed = false;
    if (p->hot) {
        if (s->rot_prev->len && !s->rot_prev->fed)
            rot13_feed(s, s->rot_prev->b, s->rot_prev->len);
        rot13_feed(s, p->b, p->len);
        p->fed = true;
    } else if (s->rot_prev->hot) {
        rot13_feed(s, p->b, p->len);
        p->fed = true;
    }
    /* The decided block becomes the previous one; the old previous one is free. */
    s->rot_pend = s->rot_prev;
    s->rot_prev = p;
    s->rot_pend->len = 0;
}

/* A complete block: the one before it can be decided now. */
static void rot13_complete(struct guard_prompt_scan *s)
{
    if (s->rot_pend->len)
        rot13_decide(s);
    struct rot13_blk *done = s->rot_cur;
    s->rot_cur = s->rot_pend; /* empty */
    s->rot_pend = done;
    s->rot_cur->start = done->start + done->len;
    s->rot_cur->len = 0;
}

static void rot13_add(struct guard_prompt_scan *s, const char *p, size_t n)
{
    while (n > 0) {
        struct rot13_blk *c = s->rot_cur;
        size_t take = ROT13_BLOCK - c->len < n ? ROT13_BLOCK - c->len : n;
        memcpy(c->b + c->len, p, take);
        c->len += take;
        p += take;
        n -= take;
        if (c->len == ROT13_BLOCK)
            rot13_complete(s);
    }
}

/* Normalised text of the current field to the plain stream and the ROT13 blocks. */
static void scan_normalised(struct guard_prompt_scan *s, size_t n)
{
    if (n == 0 || s->hs_failed)
        return;
    s->bytes += n;
    s->view = 1u << s->src;
    if (guard_hs_scan_stream(s->plain, s->out, n, s->scratch->hs, on_match, s) != HS_SUCCESS)
        s->hs_failed = true;
    rot13_add(s, s->out, n);
}

static void field_end(struct guard_prompt_scan *s)
{
    scan_normalised(s, guard_norm_end(&s->norm, s->out, sizeof(s->out)));
    /* The plain stream's end first: a trigger at the very end of the text is reported here. */
    s->view = 1u << s->src;
    if (hs_reset_stream(s->plain, 0, s->scratch->hs, on_match, s) != HS_SUCCESS)
        s->hs_failed = true;
    if (!s->hs_failed) {
        /* Every trigger match is known now: decide the last blocks. */
        if (s->rot_cur->len)
            rot13_complete(s);
        if (s->rot_pend->len)
            rot13_decide(s);
    }
    rot13_clear(s);
    /* A stream that was fed nothing has nothing to report at its end (no rule matches the
     * empty text) and nothing to clear. */
    s->view = GUARD_PROMPT_VIEW_DECODED;
    if (s->rot_fed && hs_reset_stream(s->rot13, 0, s->scratch->hs, on_match, s) != HS_SUCCESS)
        s->hs_failed = true;
    s->rot_fed = false;
    if (!s->lim.no_decode)
        guard_decode_end(&s->dec);
    s->in_field = false;
}

int guard_prompt_scan_text(struct guard_prompt_scan *s, enum guard_prompt_src src, const char *text,
                           size_t len, bool end)
{
    if (!s->in_field) {
        s->in_field = true;
        s->src = src;
        guard_norm_init(&s->norm);
        guard_decode_reset(&s->dec);
    }
    while (len > 0) {
        size_t take = len < PROMPT_SLICE ? len : PROMPT_SLICE;
        if (!s->lim.no_decode)
            guard_decode_feed(&s->dec, text, take);
        scan_normalised(s, guard_norm_feed(&s->norm, text, take, s->out, sizeof(s->out)));
        text += take;
        len -= take;
    }
    if (end)
        field_end(s);
    return s->hs_failed ? -EIO : 0;
}

void guard_prompt_scan_verdict(struct guard_prompt_scan *s, double warn, double block,
                               struct guard_prompt_verdict *v)
{
    const struct guard_prompt_db *db = s->db;
    if (s->in_field)
        field_end(s);
    bool sig[GUARD_PROMPT_SIG_COUNT] = {false};
    double keep = 1.0;
    memset(v, 0, sizeof(*v));
    /* In index order, so the same matches always give the same score to the last bit: the
     * few matched rules are sorted (insertion sort), the signals come after them. */
    for (size_t i = 1; i < s->n_hit; i++) {
        uint32_t id = s->hit[i];
        size_t j = i;
        for (; j > 0 && s->hit[j - 1] > id; j--)
            s->hit[j] = s->hit[j - 1];
        s->hit[j] = id;
    }
    for (size_t k = 0; k < s->n_hit; k++) {
        uint32_t i = s->hit[k];
        /* Hidden only: a decoded copy of plain text (one "&amp;" makes the whole text an
         * inline copy) matches what the text itself matched, and that is no signal. */
        if (s->views[i] == GUARD_PROMPT_VIEW_DECODED)
            sig[GUARD_PROMPT_SIG_ENCODED] = true;
        if (s->views[i] & (1u << GUARD_PROMPT_SRC_TOOL))
            sig[GUARD_PROMPT_SIG_TOOL] = true;
    }
    sig[GUARD_PROMPT_SIG_BUDGET] = !s->lim.no_decode && guard_decode_exhausted(&s->dec);
    for (size_t i = 0; i < GUARD_PROMPT_SIG_COUNT; i++)
        s->views[db->n_rules + i] = sig[i] ? GUARD_PROMPT_VIEW_DECODED : 0;
    for (size_t k = 0; k < s->n_hit + GUARD_PROMPT_SIG_COUNT; k++) {
        size_t i = k < s->n_hit ? s->hit[k] : db->n_rules + (k - s->n_hit);
        if (s->views[i] == 0)
            continue;
        keep *= 1.0 - db->rules[i].weight;
        if (v->n_matched < GUARD_PROMPT_VERDICT_RULES)
            v->rules[v->n_matched] = (uint32_t)i;
        v->n_matched++;
    }
    v->score = 1.0 - keep;
    v->kind = v->score >= block  ? GUARD_PROMPT_BLOCK
              : v->score >= warn ? GUARD_PROMPT_WARN
                                 : GUARD_PROMPT_PASS;
    v->bytes_scanned = s->bytes;
    v->budget_exhausted = guard_decode_exhausted(&s->dec);
}

int guard_prompt_scan_block(struct guard_prompt_scan *s, struct guard_prompt_scratch *scratch,
                            const char *text, size_t len, double warn, double block,
                            struct guard_prompt_verdict *v)
{
    guard_prompt_scan_reset(s, scratch);
    int rc = guard_prompt_scan_text(s, GUARD_PROMPT_SRC_USER, text, len, true);
    guard_prompt_scan_verdict(s, warn, block, v);
    return rc;
}

unsigned guard_prompt_scan_views(const struct guard_prompt_scan *s, size_t rule)
{
    return rule < guard_prompt_db_count(s->db) ? s->views[rule] : 0;
}

const char *guard_prompt_verdict_name(enum guard_prompt_verdict_kind k)
{
    switch (k) {
    case GUARD_PROMPT_WARN:
        return "warn";
    case GUARD_PROMPT_BLOCK:
        return "block";
    default:
        return "pass";
    }
}

/* libFuzzer target for the output guard: text cut anywhere gives the output and findings of the
 * whole text fed at once; findings stay within the text; a block releases nothing after it.
 *
 * Input: one control byte (policy, limits), then the text; each 0x01 byte in it is no text
 * but a place where the text is cut into feeds. Texts longer than max_hold (small limits make
 * them common) exercise the release for room, where only the bounds are checked. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/output.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#ifndef FUZZ_CHECK
#endif

#define CUT 0x01

/* Every kind of detector: plain, validated, "value" span, PEM span, overlapping. */
static const struct guard_output_rule rules[] = {
    {.id = "f-email",
     .type = "EMAIL",
     .cls = GUARD_OUT_PII,
     .pattern = "@[A-Za-z0-9][A-Za-z0-9\\-]*(?:\\.[A-Za-z0-9][A-Za-z0-9\\-]*)*\\.[A-Za-z]{2,}\\b",
     .validator = "email", /* the finding starts at the local part */
     .priority = 30},
    {.id = "f-card",
     .type = "CREDIT_CARD",
     .cls = GUARD_OUT_PII,
     .pattern = "\\b[0-9](?:[ \\-]?[0-9]){11,18}\\b",
     .validator = "luhn",
     .priority = 60},
    {.id = "f-phone",
     .type = "PHONE",
     .cls = GUARD_OUT_PII,
     .pattern = "(?:\\+|\\b)[0-9](?:[ \\-]?[0-9]){6,14}\\b",
     .validator = "phone",
     .priority = 45},
    {.id = "f-ipv4",
     .type = "IP_ADDRESS",
     .cls = GUARD_OUT_PII,
     .pattern = "\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b",
     .validator = "ipv4",
     .priority = 40},
    {.id = "f-ipv6",
     .type = "IP_ADDRESS",
     .cls = GUARD_OUT_PII,
     .pattern = "(?i):[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){1,7}\\b",
     .validator = "ipv6-colon", /* the finding starts before the first ':' */
     .priority = 40},
    {.id = "f-aws",
     .type = "AWS_ACCESS_KEY_ID",
     .cls = GUARD_OUT_SECRET,
     .pattern = "\\bAKIA[A-Z0-9]{16}\\b",
     .validator = "secret"},
    {.id = "f-pem",
     .type = "PRIVATE_KEY",
     .cls = GUARD_OUT_SECRET,
     .pattern = "-----BEGIN (?:RSA )?PRIVATE KEY-----\\r?\\n(?:[A-Za-z0-9+/=]{4})",
     .span = "pem",
     .priority = 120},
    {.id = "f-generic",
     .type = "GENERIC_SECRET",
     .cls = GUARD_OUT_SECRET,
     .pattern = "(?i)(?:secret|token)[a-z0-9_.\\-]{0,8}[\"']?[ \\t]{0,2}(?:=|:)[ \\t]{0,2}[\"']?"
                "[A-Za-z0-9_\\-+/=.~]{8,}",
     .validator = "entropy,secret",
     .span = "value",
     .priority = 10},
};
#define N_RULES (sizeof(rules) / sizeof(rules[0]))

/* Detectors written two ways, which must find the same: the e-mail pattern taking in the local
 * part, and the one from the '@' whose start the `email` validator finds; the IPv6 pattern
 * from the address's start, and the one from its first ':' whose start `ipv6-colon` finds. */
#define N_PAIRS 2
static const struct guard_output_rule pair_rules[N_PAIRS][2] = {
    {{.id = "f-email-left",
      .type = "EMAIL",
      .cls = GUARD_OUT_PII,
      .pattern = "\\b[A-Za-z0-9][A-Za-z0-9._%+\\-]*@[A-Za-z0-9][A-Za-z0-9\\-]*"
                 "(\\.[A-Za-z0-9][A-Za-z0-9\\-]*)*\\.[A-Za-z]{2,}\\b"},
     {.id = "f-email-at",
      .type = "EMAIL",
      .cls = GUARD_OUT_PII,
      .pattern = "@[A-Za-z0-9][A-Za-z0-9\\-]*(?:\\.[A-Za-z0-9][A-Za-z0-9\\-]*)*\\.[A-Za-z]{2,}\\b",
      .validator = "email"}},
    {{.id = "f-ipv6-start",
      .type = "IP_ADDRESS",
      .cls = GUARD_OUT_PII,
      .pattern = "(?i)(?:\\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\\b|"
                 "::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}\\b)",
      .validator = "ipv6"},
     {.id = "f-ipv6-colon",
      .type = "IP_ADDRESS",
      .cls = GUARD_OUT_PII,
      .pattern = "(?i):[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){1,7}\\b",
      .validator = "ipv6-colon"}},
};

static struct guard_output_db *db, *pair_db[N_PAIRS][2];
static struct guard_output_scratch *scratch;
static struct guard_output_stream *streams[3];                  /* by limits */
static struct guard_output_stream *pair_streams[N_PAIRS][2][3]; /* by pair, rule, limits */
static const struct guard_output_limits limits[3] = {{0, 0}, {64, 128}, {64, 300}};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[200];
    int bad;
    (void)argc;
    (void)argv;
    if (guard_output_db_new(rules, N_RULES, "fuzz", &db, &bad, err, sizeof(err)) != 0)
        abort();
    scratch = guard_output_scratch_new(db);
    FUZZ_CHECK(scratch != NULL);
    for (size_t i = 0; i < 3; i++) {
        streams[i] = guard_output_stream_new(db, &limits[i]);
        FUZZ_CHECK(streams[i] != NULL);
    }
    for (size_t p = 0; p < N_PAIRS; p++) {
        for (size_t k = 0; k < 2; k++) {
            if (guard_output_db_new(&pair_rules[p][k], 1, "fuzz", &pair_db[p][k], &bad, err,
                                    sizeof(err)) != 0)
                abort();
            FUZZ_CHECK(guard_output_scratch_grow(scratch, pair_db[p][k]) == 0);
            for (size_t i = 0; i < 3; i++) {
                pair_streams[p][k][i] = guard_output_stream_new(pair_db[p][k], &limits[i]);
                FUZZ_CHECK(pair_streams[p][k][i] != NULL);
            }
        }
    }
    return 0;
}

struct run {
    int rc;
    char *out;
    size_t len;
    size_t n_f, total;
    struct guard_output_finding f[GUARD_OUT_FINDINGS];
};

static void take(struct guard_output_stream *st, struct run *r)
{
    const char *p;
    size_t n;
    guard_output_stream_output(st, &p, &n);
    r->out = realloc(r->out, r->len + n + 1);
    FUZZ_CHECK(r->out != NULL);
    if (n)
        memcpy(r->out + r->len, p, n);
    r->len += n;
    guard_output_stream_take(st);
}

/* Feed text[0, len) cut at cuts[], each piece from an exact-size heap copy. */
static void run(struct guard_output_stream *st, size_t max_hold,
                const struct guard_output_policy *pol, const char *text, size_t len,
                const size_t *cuts, size_t n_cuts, struct run *r)
{
    const struct guard_output_finding *f;
    size_t at = 0;
    memset(r, 0, sizeof(*r));
    guard_output_stream_reset(st, scratch, pol);
    for (size_t i = 0; i <= n_cuts && r->rc == 0; i++) {
        size_t to = i < n_cuts ? cuts[i] : len, n = to - at;
        char *piece = malloc(n ? n : 1);
        FUZZ_CHECK(piece != NULL);
        memcpy(piece, text + at, n);
        r->rc = guard_output_stream_feed(st, piece, n);
        free(piece);
        FUZZ_CHECK(r->rc == 0 || r->rc == 1);
        FUZZ_CHECK(guard_output_stream_held(st) <= max_hold);
        take(st, r);
        at = to;
    }
    if (r->rc == 0)
        r->rc = guard_output_stream_end(st);
    FUZZ_CHECK(r->rc == 0 || r->rc == 1);
    FUZZ_CHECK(guard_output_stream_blocked(st) == (r->rc == 1));
    FUZZ_CHECK(guard_output_stream_held(st) == 0);
    take(st, r);
    r->n_f = guard_output_stream_findings(st, &f);
    r->total = guard_output_stream_findings_total(st);
    FUZZ_CHECK(r->n_f <= GUARD_OUT_FINDINGS && r->n_f <= r->total);
    FUZZ_CHECK(r->n_f == (r->total < GUARD_OUT_FINDINGS ? r->total : GUARD_OUT_FINDINGS));
    memcpy(r->f, f, r->n_f * sizeof(*f));
}

static uint64_t cps(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)p[i] & 0xC0) != 0x80;
    return k;
}

/* Findings lie in the text, with consistent code point offsets. */
static void check_bounds(const struct run *r, const char *text, size_t len)
{
    for (size_t i = 0; i < r->n_f; i++) {
        const struct guard_output_finding *f = &r->f[i];
        FUZZ_CHECK(f->rule < N_RULES);
        FUZZ_CHECK(f->action <= GUARD_OUT_BLOCK);
        FUZZ_CHECK(f->start < f->end && f->end <= len);
        FUZZ_CHECK(f->cp_start <= f->cp_end);
        FUZZ_CHECK(f->cp_end == cps(text, (size_t)f->end));
        if (!f->partial)
            FUZZ_CHECK(f->cp_start == cps(text, (size_t)f->start));
    }
    if (r->rc == 0 && r->total == 0)
        FUZZ_CHECK(r->len == len && memcmp(r->out, text, len) == 0);
    FUZZ_CHECK(r->len <= len + r->total * 64);
}

static bool same_findings(const struct run *a, const struct run *b)
{
    if (a->n_f != b->n_f || a->total != b->total)
        return false;
    for (size_t i = 0; i < a->n_f; i++) {
        const struct guard_output_finding *x = &a->f[i], *y = &b->f[i];
        if (x->rule != y->rule || x->action != y->action || x->start != y->start ||
            x->end != y->end || x->cp_start != y->cp_start || x->cp_end != y->cp_end ||
            x->partial != y->partial)
            return false;
    }
    return true;
}

/* Runs that agree: the same output and findings; when blocked, both blocked by a secret, and
 * what each released is a prefix of what the whole text gives when secrets are only logged. */
static void check_same(const struct run *whole, const struct run *r, const struct run *logged)
{
    FUZZ_CHECK(whole->rc == r->rc);
    if (whole->rc == 0) {
        FUZZ_CHECK(whole->len == r->len && memcmp(whole->out, r->out, r->len) == 0);
        FUZZ_CHECK(same_findings(whole, r));
        return;
    }
    /* The block is the last finding. Which detector names it may differ: the most specific
     * one over the same bytes that has matched by the time it is decided. */
    const struct guard_output_finding *x = &whole->f[whole->n_f - 1], *y = &r->f[r->n_f - 1];
    if (whole->total <= GUARD_OUT_FINDINGS && r->total <= GUARD_OUT_FINDINGS)
        FUZZ_CHECK(x->action == GUARD_OUT_BLOCK && y->action == GUARD_OUT_BLOCK &&
                   rules[x->rule].cls == GUARD_OUT_SECRET &&
                   rules[y->rule].cls == GUARD_OUT_SECRET);
    FUZZ_CHECK(r->len <= logged->len && memcmp(r->out, logged->out, r->len) == 0);
    FUZZ_CHECK(whole->len <= logged->len && memcmp(whole->out, logged->out, whole->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    size_t which = (size_t)(ctl & 3) % 3, n_cuts = 0, len = 0;
    struct guard_output_stream *st = streams[which];
    size_t max_hold = limits[which].max_hold ? limits[which].max_hold : 4096;
    struct guard_output_policy pol, logged;
    guard_output_policy_default(&pol);
    if (ctl & 4)
        pol.cls[GUARD_OUT_SECRET] = GUARD_OUT_REDACT;
    if (ctl & 8)
        pol.cls[GUARD_OUT_PII] = GUARD_OUT_LOG;
    logged = pol;
    logged.cls[GUARD_OUT_SECRET] =
        pol.cls[GUARD_OUT_SECRET] == GUARD_OUT_BLOCK ? GUARD_OUT_LOG : pol.cls[GUARD_OUT_SECRET];

    char *text = malloc(size);
    size_t *cuts = malloc(size * sizeof(*cuts));
    FUZZ_CHECK(text != NULL && cuts != NULL);
    for (size_t i = 1; i < size; i++) {
        if (data[i] == CUT) {
            if (len > 0 && (n_cuts == 0 || cuts[n_cuts - 1] < len))
                cuts[n_cuts++] = len;
        } else {
            text[len++] = (char)data[i];
        }
    }
    while (n_cuts > 0 && cuts[n_cuts - 1] >= len)
        n_cuts--;

    struct run whole, split, bytes, log_run;
    run(st, max_hold, &pol, text, len, NULL, 0, &whole);
    check_bounds(&whole, text, len);
    run(st, max_hold, &logged, text, len, NULL, 0, &log_run);
    check_bounds(&log_run, text, len);
    FUZZ_CHECK(log_run.rc == 0);
    run(st, max_hold, &pol, text, len, cuts, n_cuts, &split);
    check_bounds(&split, text, len);
    /* Beyond max_hold, bytes are released for room where the cuts make it necessary: the
     * runs may differ then, and must only stay within bounds. */
    if (len <= max_hold)
        check_same(&whole, &split, &log_run);
    /* Each pair of detectors, cut as the text says (each run checks its own bounds). */
    for (size_t p = 0; p < N_PAIRS; p++) {
        struct run one, other;
        run(pair_streams[p][0][which], max_hold, &pol, text, len, cuts, n_cuts, &one);
        run(pair_streams[p][1][which], max_hold, &pol, text, len, cuts, n_cuts, &other);
        FUZZ_CHECK(one.len == other.len && memcmp(one.out, other.out, other.len) == 0);
        FUZZ_CHECK(same_findings(&one, &other));
        free(one.out);
        free(other.out);
    }
    if (len <= 2048) {
        for (size_t i = 0; i + 1 < len; i++)
            cuts[i] = i + 1;
        run(st, max_hold, &pol, text, len, cuts, len ? len - 1 : 0, &bytes);
        check_bounds(&bytes, text, len);
        if (len <= max_hold)
            check_same(&whole, &bytes, &log_run);
        free(bytes.out);
    }
    free(whole.out);
    free(split.out);
    free(log_run.out);
    free(text);
    free(cuts);
    return 0;
}

/* Unit tests for the output guard: validators, redaction, holdback, chunking independence. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/output.h"

/* A small detector set written here, so that these tests do not depend on rules/ or policy/. */
static const struct guard_output_rule test_rules[] = {
    {.id = "t-email",
     .type = "EMAIL",
     .cls = GUARD_OUT_PII,
     .pattern = "@[A-Za-z0-9][A-Za-z0-9\\-]*(?:\\.[A-Za-z0-9][A-Za-z0-9\\-]*)*\\.[A-Za-z]{2,}\\b",
     .validator = "email", /* the finding starts at the local part */
     .priority = 30},
    {.id = "t-card",
     .type = "CREDIT_CARD",
     .cls = GUARD_OUT_PII,
     .pattern = "\\b[0-9](?:[ \\-]?[0-9]){11,18}\\b",
     .validator = "luhn",
     .priority = 60},
    {.id = "t-phone",
     .type = "PHONE",
     .cls = GUARD_OUT_PII,
     .pattern = "(?:\\+|\\b)[0-9](?:[ \\-]?[0-9]){6,14}\\b",
     .validator = "phone",
     .priority = 45},
    {.id = "t-aws",
     .type = "AWS_ACCESS_KEY_ID",
     .cls = GUARD_OUT_SECRET,
     .pattern = "\\bAKIA[A-Z0-9]{16}\\b",
     .validator = "secret"},
    {.id = "t-pem",
     .type = "PRIVATE_KEY",
     .cls = GUARD_OUT_SECRET,
     .pattern = "-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----(?:\\r?\\n|\\\\n)"
                "(?:[A-Za-z0-9+/=]{16}|Proc-Type:)",
     .span = "pem",
     .priority = 120},
    {.id = "t-generic",
     .type = "GENERIC_SECRET",
     .cls = GUARD_OUT_SECRET,
     .pattern = "(?i)(?:secret|token|password)[a-z0-9_.\\-]{0,20}[\"']?[ \\t]{0,4}(?:=|:)"
                "[ \\t]{0,4}[\"']?[A-Za-z0-9_\\-+/=.~]{16,}",
     .validator = "entropy,secret",
     .span = "value",
     .priority = 10},
    {.id = "t-ipv4",
     .type = "IP_ADDRESS",
     .cls = GUARD_OUT_PII,
     .pattern = "\\b(?:[0-9]{1,3}\\.){3}[0-9]{1,3}\\b",
     .validator = "ipv4",
     .priority = 40},
};
#define N_RULES  (sizeof(test_rules) / sizeof(test_rules[0]))
#define R_EMAIL  0
#define R_CARD   1
#define R_PHONE  2
#define R_AWS    3
#define R_PEM    4
#define R_IPV4   6
#define AWS_KEY  "AKIA3XKXWNREK8PK3YR9"
#define PEM_HEAD "-----BEGIN RSA PRIVATE KEY-----\n"
#define PEM_TAIL "-----END RSA PRIVATE KEY-----"

struct fixture {
    struct guard_output_db *db;
    struct guard_output_scratch *scratch;
    struct guard_output_policy pol; /* the defaults: redact PII, block secrets */
};

static int setup(void **state)
{
    static struct fixture f;
    char err[200];
    int bad;
    if (guard_output_db_new(test_rules, N_RULES, "sha256:test", &f.db, &bad, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "rule %d: %s\n", bad, err);
        return -1;
    }
    f.scratch = guard_output_scratch_new(f.db);
    guard_output_policy_default(&f.pol);
    *state = &f;
    return f.scratch ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    guard_output_scratch_free(f->scratch);
    guard_output_db_free(f->db);
    return 0;
}

/* What one run of a stream gave. */
struct result {
    int rc;    /* of the last feed or end */
    char *out; /* everything released, NUL-terminated */
    size_t len;
    size_t n_f, total;
    struct guard_output_finding f[GUARD_OUT_FINDINGS];
};

static void result_free(struct result *r)
{
    free(r->out);
    r->out = NULL;
}

static void take(struct guard_output_stream *st, struct result *r)
{
    const char *p;
    size_t n;
    guard_output_stream_output(st, &p, &n);
    r->out = realloc(r->out, r->len + n + 1);
    assert_non_null(r->out);
    memcpy(r->out + r->len, p, n);
    r->len += n;
    r->out[r->len] = '\0';
    guard_output_stream_take(st);
}

/* Feed `text` cut at `cuts` (increasing offsets inside it), then end the stream. */
static struct result run_cuts(struct guard_output_stream *st, struct fixture *f,
                              const struct guard_output_policy *pol, const char *text, size_t len,
                              const size_t *cuts, size_t n_cuts)
{
    struct result r = {0};
    const struct guard_output_finding *fs;
    size_t at = 0;
    r.out = calloc(1, 1);
    guard_output_stream_reset(st, f->scratch, pol ? pol : &f->pol);
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : len;
        r.rc = guard_output_stream_feed(st, text + at, to - at);
        take(st, &r);
        at = to;
    }
    int rc = guard_output_stream_end(st);
    if (rc != 0 || r.rc == 0)
        r.rc = rc;
    take(st, &r);
    assert_int_equal(guard_output_stream_held(st), 0); /* all decided, or dropped by a block */
    r.n_f = guard_output_stream_findings(st, &fs);
    r.total = guard_output_stream_findings_total(st);
    memcpy(r.f, fs, r.n_f * sizeof(*fs));
    return r;
}

static struct result run_step(struct guard_output_stream *st, struct fixture *f,
                              const struct guard_output_policy *pol, const char *text, size_t step)
{
    size_t len = strlen(text), n = 0;
    size_t *cuts = malloc((len + 1) * sizeof(*cuts));
    assert_non_null(cuts);
    for (size_t at = step; step && at < len; at += step)
        cuts[n++] = at;
    struct result r = run_cuts(st, f, pol, text, len, cuts, n);
    free(cuts);
    return r;
}

static struct result run_text(struct fixture *f, const struct guard_output_policy *pol,
                              const struct guard_output_limits *lim, const char *text, size_t step)
{
    struct guard_output_stream *st = guard_output_stream_new(f->db, lim);
    assert_non_null(st);
    struct result r = run_step(st, f, pol, text, step);
    guard_output_stream_free(st);
    return r;
}

static void assert_same(const struct result *a, const struct result *b, const char *what,
                        size_t where)
{
    if (a->rc != b->rc || a->len != b->len || memcmp(a->out, b->out, a->len) != 0)
        fail_msg("%s %zu: rc %d output \"%s\", one feed: rc %d \"%s\"", what, where, b->rc, b->out,
                 a->rc, a->out);
    if (a->n_f != b->n_f || a->total != b->total)
        fail_msg("%s %zu: %zu findings, one feed %zu", what, where, b->n_f, a->n_f);
    for (size_t i = 0; i < a->n_f; i++) {
        const struct guard_output_finding *x = &a->f[i], *y = &b->f[i];
        if (x->rule != y->rule || x->action != y->action || x->start != y->start ||
            x->end != y->end || x->cp_start != y->cp_start || x->cp_end != y->cp_end ||
            x->partial != y->partial)
            fail_msg("%s %zu: finding %zu: rule %u %" PRIu64 "-%" PRIu64 " cp %" PRIu64 "-%" PRIu64
                     " partial %d action %d, one feed rule %u %" PRIu64 "-%" PRIu64 " cp %" PRIu64
                     "-%" PRIu64 " partial %d action %d",
                     what, where, i, y->rule, y->start, y->end, y->cp_start, y->cp_end,
                     (int)y->partial, (int)y->action, x->rule, x->start, x->end, x->cp_start,
                     x->cp_end, (int)x->partial, (int)x->action);
    }
}

/* ---------------------------------------------------------------- catalogue and policy */

static void test_db(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(guard_output_db_count(f->db), N_RULES);
    assert_string_equal(guard_output_db_hash(f->db), "sha256:test");
    assert_string_equal(guard_output_db_rule(f->db, R_CARD)->id, "t-card");
    assert_string_equal(guard_output_db_rule(f->db, R_CARD)->validator, "luhn");
    assert_null(guard_output_db_rule(f->db, N_RULES));
    assert_true(guard_output_db_stream_size(f->db) > 0);

    struct guard_output_db *db = NULL;
    struct guard_output_rule rules[3] = {test_rules[0], test_rules[1], test_rules[2]};
    char err[200];
    int bad = -1;
    rules[1].validator = "luhn,nope";
    assert_int_equal(guard_output_db_new(rules, 3, "", &db, &bad, err, sizeof(err)), -EINVAL);
    assert_null(db);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(err, "nope"));
    rules[1] = test_rules[1];
    rules[2].span = "word";
    assert_int_equal(guard_output_db_new(rules, 3, "", &db, &bad, err, sizeof(err)), -EINVAL);
    assert_int_equal(bad, 2);
    rules[2] = test_rules[2];
    rules[0].pattern = "(unclosed";
    assert_int_equal(guard_output_db_new(rules, 3, "", &db, &bad, err, sizeof(err)), -EINVAL);
    assert_int_equal(bad, 0);
    assert_true(strlen(err) > 0);
    guard_output_db_free(NULL);
    guard_output_scratch_free(NULL);
    guard_output_stream_free(NULL);
}

static void test_policy(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy p;
    guard_output_policy_default(&p);
    assert_int_equal(guard_output_policy_action(&p, guard_output_db_rule(f->db, R_EMAIL)),
                     GUARD_OUT_REDACT);
    assert_int_equal(guard_output_policy_action(&p, guard_output_db_rule(f->db, R_AWS)),
                     GUARD_OUT_BLOCK);
    p.n_types = 1;
    snprintf(p.types[0].type, sizeof(p.types[0].type), "EMAIL");
    p.types[0].action = GUARD_OUT_LOG;
    assert_int_equal(guard_output_policy_action(&p, guard_output_db_rule(f->db, R_EMAIL)),
                     GUARD_OUT_LOG);
    assert_int_equal(guard_output_policy_action(&p, guard_output_db_rule(f->db, R_CARD)),
                     GUARD_OUT_REDACT);
}

/* ---------------------------------------------------------------- validators */

struct vcase {
    const char *name, *text;
    int want;
};

static void test_validators(void **state)
{
    (void)state;
    static const struct vcase cases[] = {
        /* Luhn, issuer ranges and lengths */
        {"luhn", "4111111111111111", 1},
        {"luhn", "4111 1111 1111 1111", 1},
        {"luhn", "4104-3321-8196-0018", 1},
        {"luhn", "378282246310005", 1},      /* Amex, 15 */
        {"luhn", "5555555555554444", 1},     /* Mastercard */
        {"luhn", "2221000000000009", 1},     /* Mastercard 2-series */
        {"luhn", "6011111111111117", 1},     /* Discover */
        {"luhn", "4111111111111112", 0},     /* check digit */
        {"luhn", "4104332181960019", 0},     /* check digit */
        {"luhn", "0000000000000000", 0},     /* one digit repeated, no issuer */
        {"luhn", "9111111111111111", 0},     /* no issuer 9 */
        {"luhn", "378282246310005 0", 0},    /* Amex with 16 digits */
        {"luhn", "41111111111", 0},          /* 11 digits */
        {"luhn", "41111111111111111111", 0}, /* 20 digits */
        {"luhn", "4111.1111.1111.1111", 0},  /* dots are no card separator */
        /* IBAN: country length and mod-97 */
        {"iban", "DE89370400440532013000", 1},
        {"iban", "DE89 3704 0044 0532 0130 00", 1},
        {"iban", "gb29nwbk60161331926819", 1},
        {"iban", "NL91ABNA0417164300", 1},
        {"iban", "DE88370400440532013000", 0}, /* check digits */
        {"iban", "DE8937040044053201300", 0},  /* 21 for a 22 country */
        {"iban", "ZZ89370400440532013000", 0}, /* no such country */
        {"iban", "DE89-3704-0044-0532-0130-00", 0},
        /* SSN ranges */
        {"ssn", "482-19-7730", 1},
        {"ssn", "482 19 7730", 1},
        {"ssn", "482197730", 1},
        {"ssn", "666-12-3456", 0},
        {"ssn", "000-45-1234", 0},
        {"ssn", "912-45-1234", 0},
        {"ssn", "482-00-7730", 0},
        {"ssn", "482-19-0000", 0},
        {"ssn", "078-05-1120", 0}, /* the published example */
        {"ssn", "482-19-773", 0},
        /* IPv4 */
        {"ipv4", "203.0.113.77", 1},
        {"ipv4", "0.0.0.0", 1},
        {"ipv4", "255.255.255.255", 1},
        {"ipv4", "256.1.1.1", 0},
        {"ipv4", "01.2.3.4", 0},
        {"ipv4", "1.2.3", 0},
        {"ipv4", "1.2.3.4.5", 0},
        {"ipv4", "1..3.4", 0},
        /* IPv6 */
        {"ipv6", "2001:db8:85a3::8a2e:370:7334", 1},
        {"ipv6", "fe80:0:0:0:202:b3ff:fe1e:8329", 1},
        {"ipv6", "::1", 1},
        {"ipv6", "fe80::", 1},
        {"ipv6", "::ffff:192.0.2.1", 1},
        {"ipv6", "10:30:45", 0},
        {"ipv6", "1::2::3", 0},
        {"ipv6", "12345::1", 0},
        {"ipv6", "1:2:3:4:5:6:7:8:9", 0},
        {"ipv6", "1:2:3:4:5:6:7", 0},
        {"ipv6", "g::1", 0},
        {"ipv6-colon", "2001:db8:85a3::8a2e:370:7334", 1}, /* checked as "ipv6" */
        {"ipv6-colon", "10:30:45", 0},
        /* entropy */
        {"entropy", "eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V", 1},
        {"entropy", "Lq3Zt8Wv1Nx6Rb4K", 1},
        {"entropy", "correcthorsebatterystaple", 0},
        {"entropy", "9f86d081884c7d659a2feaa0c55ad015", 0}, /* hex digest */
        {"entropy", "123e4567-e89b-12d3-a456-426614174000", 0},
        {"entropy", "Ab1Ab1Ab1Ab1Ab1Ab1", 0}, /* low entropy */
        {"entropy", "Lq3Zt8Wv1Nx6Rb4", 0},    /* 15: too short */
        /* JWT */
        {"jwt",
         "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
         "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
         1},
        {"jwt", "eyJub3QiOiJhIGhlYWRlciJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl", 0},
        {"jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0", 0},
        {"jwt", "e$JhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", 0},
        /* secret: placeholders */
        {"secret", "AKIA3XKXWNREK8PK3YR9", 1},
        {"secret", "AKIAIOSFODNN7EXAMPLE", 0},
        {"secret", "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0},
        {"secret", "sk-your-key-here", 0},
        {"secret", "<paste the key here>", 0},
        {"secret", "sk_live_****************", 0},
        {"secret", "AAAAAAAAAAAAAAAAAAAA", 0},
        {"secret", "abababababababababab", 0}, /* too few distinct characters */
        /* phone */
        {"phone", "+49 30 901820", 1},
        {"phone", "(415) 555-2671", 1},
        {"phone", "020 7946 0958", 1},
        {"phone", "123456", 0},           /* 6 digits */
        {"phone", "5555555", 0},          /* one digit */
        {"phone", "1234567", 0},          /* a run */
        {"phone", "1234567890123456", 0}, /* 16 digits */
        {"phone", "646.555.3890x204", 1},
        {"phone", "+1 (415) 555-2671 ext. 12", 1},
        {"phone", "0301234567 extension 4", 1},
        {"phone", "001-846-853-9089x92556", 1}, /* 14 digits before the extension */
        {"phone", "Phone: 555 1234", 0},        /* a label: cut away by validate_span */
        {"phone", "555 1234 office", 0},
        {"phone", "49+30 901820", 0},
        {"phone", "2019 - 2023", 0}, /* a year range */
        {"phone", "2023-10-05", 0},  /* dates */
        {"phone", "05.10.2023", 0},
        {"phone", "12/31/1999", 0},
        {"phone", "2019 2923", 1}, /* not a year range */
        {"phone", "45.10.2023", 1},
        /* email: a whole address */
        {"email", "maria.lopez+billing@northwind-traders.co.uk", 1},
        {"email", "a@b.io", 1},
        {"email", "@b.io", 0},    /* no local part */
        {"email", ".a@b.io", 0},  /* starts with a dot */
        {"email", "a b@c.io", 0}, /* a space in the local part */
        {"email", "a@b", 0},      /* no top-level domain */
        {"email", "a@b.c", 0},    /* one letter */
        {"email", "a@b.c0m", 0},  /* a digit in it */
        {"email", "a@b..io", 0},  /* an empty label */
        {"email", "a@-b.io", 0},  /* a label starts with '-' */
        {"email", "a@b.io@c.io", 0},
        /* several, and none */
        {"entropy,secret", "eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V", 1},
        {"entropy,secret", "eX9PcWb8pm1bNjpiEXAMPLEhK8nDSqXx", 0},
        {"entropy secret", "eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V", 1},
        {"", "anything", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct vcase *c = &cases[i];
        int got = guard_output_validate(c->name, c->text, strlen(c->text));
        if (got != c->want)
            fail_msg("%s(\"%s\") = %d, want %d", c->name, c->text, got, c->want);
    }
    assert_int_equal(guard_output_validate("luhn,bogus", "4111111111111111", 16), -1);
    assert_int_equal(guard_output_validate("bogus", "x", 1), -1);
    for (size_t i = 0; guard_output_validator_names[i]; i++)
        assert_int_not_equal(guard_output_validate(guard_output_validator_names[i], "", 0), -1);
}

/* ---------------------------------------------------------------- redaction */

struct rcase {
    const char *in, *out;
};

static void test_redaction(void **state)
{
    struct fixture *f = *state;
    static const struct rcase cases[] = {
        {"Mail maria.lopez+billing@northwind-traders.co.uk today.", "Mail [REDACTED:EMAIL] today."},
        {"card 4111 1111 1111 1111, exp 04/29", "card [REDACTED:CREDIT_CARD], exp 04/29"},
        {"Order 4111111111111112 shipped.", "Order 4111111111111112 shipped."},
        {"Call +49 30 901820 or a@b.io.", "Call [REDACTED:PHONE] or [REDACTED:EMAIL]."},
        {"from 203.0.113.77 and 300.1.2.4", "from [REDACTED:IP_ADDRESS] and 300.1.2.4"},
        {"a@b.io", "[REDACTED:EMAIL]"},
        {"", ""},
        {"nothing to see here", "nothing to see here"},
        /* a card that also reads as a phone number: one card */
        {"pay with 4104 3321 8196 0018 now", "pay with [REDACTED:CREDIT_CARD] now"},
        /* a card after an unrelated group of digits: only the card */
        {"ref 12 4111111111111111", "ref 12 [REDACTED:CREDIT_CARD]"},
        /* e-mail local parts (matched from the '@', widened back): from the first letter or
         * digit at a word start, over . _ % + - */
        {"x _a.b@c.io y", "x _a.[REDACTED:EMAIL] y"},
        {"(-x%y+z@c.io)", "(-[REDACTED:EMAIL])"},
        {"é.a@b.io @c.io _@d.io", "é.[REDACTED:EMAIL] @c.io _@d.io"},
        {"a@b@c.io", "a@[REDACTED:EMAIL]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct result r = run_text(f, NULL, NULL, cases[i].in, 0);
        assert_int_equal(r.rc, 0);
        if (strcmp(r.out, cases[i].out) != 0)
            fail_msg("\"%s\" gave \"%s\", want \"%s\"", cases[i].in, r.out, cases[i].out);
        result_free(&r);
    }
    /* The findings of one: type, action, offsets. */
    struct result r = run_text(f, NULL, NULL, "Call +49 30 901820 or a@b.io.", 0);
    assert_int_equal(r.n_f, 2);
    assert_int_equal(r.total, 2);
    assert_int_equal(r.f[0].rule, R_PHONE);
    assert_int_equal(r.f[0].action, GUARD_OUT_REDACT);
    assert_int_equal(r.f[0].start, 5);
    assert_int_equal(r.f[0].end, 18);
    assert_int_equal(r.f[1].rule, R_EMAIL);
    assert_int_equal(r.f[1].start, 22);
    assert_int_equal(r.f[1].end, 28);
    assert_false(r.f[0].partial || r.f[1].partial);
    result_free(&r);
    /* Overlap: the card wins and is the only finding. */
    r = run_text(f, NULL, NULL, "pay with 4104 3321 8196 0018 now", 0);
    assert_int_equal(r.n_f, 1);
    assert_int_equal(r.f[0].rule, R_CARD);
    assert_int_equal(r.f[0].start, 9);
    assert_int_equal(r.f[0].end, 28);
    result_free(&r);
    /* Log: recorded, text unchanged. */
    struct guard_output_policy log;
    memset(&log, 0, sizeof(log));
    r = run_text(f, &log, NULL, "Call +49 30 901820 or a@b.io.", 0);
    assert_string_equal(r.out, "Call +49 30 901820 or a@b.io.");
    assert_int_equal(r.n_f, 2);
    assert_int_equal(r.f[0].action, GUARD_OUT_LOG);
    result_free(&r);
    /* A type override: e-mail logged, phone still redacted. */
    struct guard_output_policy mixed = f->pol;
    mixed.n_types = 1;
    snprintf(mixed.types[0].type, sizeof(mixed.types[0].type), "EMAIL");
    mixed.types[0].action = GUARD_OUT_LOG;
    r = run_text(f, &mixed, NULL, "Call +49 30 901820 or a@b.io.", 0);
    assert_string_equal(r.out, "Call [REDACTED:PHONE] or a@b.io.");
    result_free(&r);
    /* A secret assigned to a name: only the value is the finding. */
    struct guard_output_policy redact_all = f->pol;
    redact_all.cls[GUARD_OUT_SECRET] = GUARD_OUT_REDACT;
    r = run_text(f, &redact_all, NULL, "DB_PASSWORD=eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V done", 0);
    assert_string_equal(r.out, "DB_PASSWORD=[REDACTED:GENERIC_SECRET] done");
    result_free(&r);
    r = run_text(f, &redact_all, NULL, "password: correcthorsebatterystaple", 0);
    assert_string_equal(r.out, "password: correcthorsebatterystaple");
    assert_int_equal(r.n_f, 0);
    result_free(&r);
}

/* ---------------------------------------------------------------- code points */

static void test_code_points(void **state)
{
    struct fixture *f = *state;
    /* "é" 2 bytes, "日本" 3 each, "🙂" 4: 2 + 6 + 4 = 12 bytes, 4 code points */
    const char *text = "é日本🙂 mail a@b.io, ünï 4111111111111111";
    struct result r = run_text(f, NULL, NULL, text, 0);
    assert_int_equal(r.n_f, 2);
    assert_int_equal(r.f[0].start, 12 + 6);
    assert_int_equal(r.f[0].cp_start, 4 + 6);
    assert_int_equal(r.f[0].end - r.f[0].start, 6);
    assert_int_equal(r.f[0].cp_end - r.f[0].cp_start, 6);
    size_t card = (size_t)(strstr(text, "4111") - text);
    assert_int_equal(r.f[1].start, card);
    assert_int_equal(r.f[1].cp_start,
                     card - 8 - 2); /* é日本🙂: 8 extra bytes, ü ï: 2 more */
    assert_int_equal(r.f[1].cp_end, r.f[1].cp_start + 16);
    assert_string_equal(r.out, "é日本🙂 mail [REDACTED:EMAIL], ünï [REDACTED:CREDIT_CARD]");
    result_free(&r);
}

/* ---------------------------------------------------------------- chunking independence */

static const char *const chunk_texts[] = {
    "Write to maria.lopez+billing@northwind-traders.co.uk or call +49 30 901820.",
    "The card 4111 1111 1111 1111 and 4104-3321-8196-0018 were charged; ref 12 4111111111111111.",
    "pay with 4104 3321 8196 0018 now, from 203.0.113.77, not 300.1.2.4",
    "é日本🙂 mail a@b.io, ünï 4111111111111111 and 😀@x.io",
    "Order 4111111111111112 (not a card) and 1234567 (not a phone) and x@y",
    "a@b.io,c@d.io;e@f.io g@h.io\ti@j.io\nk@l.io",
    "https://example.com/path/to/a/very/long/resource?user=john.doe@example.com&x=1 end",
    "DB_PASSWORD=eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V and secret: correcthorsebatterystaple",
    "numbers 4111111111111111 4111111111111111 4111111111111111 4111111111111111 done",
    "key:\n" PEM_HEAD "MIIEowIBAAKCAQEA6yD7n4gG6GSXkKkGFaRtIt12LgxCYVM2dFNW\n"
    "a@b.io 4111111111111111\n" PEM_TAIL "\nafter a@b.io",
    /* two blocks sharing the dashes between END and BEGIN */
    "x " PEM_HEAD "MIIEowIBAAKCAQEA6yD7n4gG6GSX\n-----END RSA PRIVATE KEY-----BEGIN RSA PRIVATE "
    "KEY-----\nMIIEpAIBAAKCAQEAu1SU1LfVLPHC\n" PEM_TAIL " y",
};

/* Redact secrets too, so that every text runs to its end. */
static void redact_policy(struct fixture *f, struct guard_output_policy *p)
{
    *p = f->pol;
    p->cls[GUARD_OUT_SECRET] = GUARD_OUT_REDACT;
}

/* Texts whose findings are runs of token characters: independent of chunking whatever the
 * holdback (longer matches with spaces in them need a holdback at least their length). */
static const char *const token_texts[] = {
    "a@b.io,c@d.io;e@f.io g@h.io\ti@j.io\nk@l.io",
    "é日本🙂 mail a@b.io, ünï 4111111111111111 and 😀@x.io",
    "https://example.com/path/to/a/very/long/resource?user=john.doe@example.com&x=1 end",
    "id " AWS_KEY ", ip 203.0.113.77/24 card 4111111111111111.",
};

/* One text, cut every way: the same output and findings as fed whole. */
static void check_chunking(struct fixture *f, struct guard_output_stream *st,
                           const struct guard_output_policy *pol, const char *text)
{
    size_t len = strlen(text);
    struct result whole = run_step(st, f, pol, text, 0);
    assert_int_equal(whole.rc, 0);
    /* two feeds, at every cut point */
    for (size_t cut = 1; cut < len; cut++) {
        struct result r = run_cuts(st, f, pol, text, len, &cut, 1);
        assert_same(&whole, &r, "cut", cut);
        result_free(&r);
    }
    /* even pieces, from 1 byte */
    for (size_t step = 1; step <= 17; step++) {
        struct result r = run_step(st, f, pol, text, step);
        assert_same(&whole, &r, "step", step);
        result_free(&r);
    }
    /* uneven pieces */
    unsigned seed = 12345u + (unsigned)len;
    for (int k = 0; k < 50; k++) {
        size_t cuts[64], n = 0, at = 0;
        for (;;) {
            seed = seed * 1103515245u + 12345u;
            at += 1 + (seed >> 16) % 9;
            if (at >= len || n == 64)
                break;
            cuts[n++] = at;
        }
        struct result r = run_cuts(st, f, pol, text, len, cuts, n);
        assert_same(&whole, &r, "random", (size_t)k);
        result_free(&r);
    }
    result_free(&whole);
}

static void test_chunking(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy pol;
    redact_policy(f, &pol);
    /* max_hold is never reached here: bytes released for room depend on where the text is
     * cut (test_max_hold, test_pem_redact and test_pem_crowded cover that) */
    static const struct guard_output_limits lims[] = {{0, 0}, {80, 0}};
    for (size_t l = 0; l < sizeof(lims) / sizeof(lims[0]); l++) {
        struct guard_output_stream *st = guard_output_stream_new(f->db, &lims[l]);
        assert_non_null(st);
        for (size_t t = 0; t < sizeof(chunk_texts) / sizeof(chunk_texts[0]); t++) {
            struct result whole = run_step(st, f, &pol, chunk_texts[t], 0);
            assert_true(whole.n_f > 0 || t == 4); /* each text has something to find */
            result_free(&whole);
            check_chunking(f, st, &pol, chunk_texts[t]);
        }
        guard_output_stream_free(st);
    }
    static const struct guard_output_limits small[] = {{16, 0}, {8, 48}, {4, 8}};
    for (size_t l = 0; l < sizeof(small) / sizeof(small[0]); l++) {
        struct guard_output_stream *st = guard_output_stream_new(f->db, &small[l]);
        assert_non_null(st);
        for (size_t t = 0; t < sizeof(token_texts) / sizeof(token_texts[0]); t++)
            check_chunking(f, st, &pol, token_texts[t]);
        guard_output_stream_free(st);
    }
}

/* The IPv6 detector from the first ':' (validator "ipv6-colon") finds what the pattern from
 * the address's start finds, however the text is cut and whatever the limits: the start it
 * takes the match back to may lie in bytes already released. */
static void test_ipv6_colon(void **state)
{
    struct fixture *f = *state;
    static const struct guard_output_rule rules[2] = {
        {.id = "t-ipv6-start",
         .type = "IP_ADDRESS",
         .cls = GUARD_OUT_PII,
         .pattern = "(?i)(?:\\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\\b|"
                    "::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}\\b)",
         .validator = "ipv6"},
        {.id = "t-ipv6-colon",
         .type = "IP_ADDRESS",
         .cls = GUARD_OUT_PII,
         .pattern = "(?i):[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){1,7}\\b",
         .validator = "ipv6-colon"},
    };
    static const char *const texts[] = {
        "Clients connect from 2001:db8:85a3::8a2e:370:7334 today.",
        "peer fe80:0:0:0:202:b3ff:fe1e:8329 joined; ::1, ::ffff:c000:280 and FE80::1 too",
        "at 10:30:45 g1:2:3:4 abcde:1:2:3 x_ab::1 ::::: 1:2:3:4:5:6:7:8:9 a::b::c 1::2::3",
        "::1:2:3:4:5:6:7 :: 1:: fe80:: é1:2::3 1:2:3:4:5:6:7:8, ::ffff:192.0.2.1",
    };
    static const struct guard_output_limits lims[] = {{0, 0}, {16, 0}, {4, 8}, {2, 4}, {3, 20}};
    struct guard_output_db *db[2];
    struct guard_output_policy pol;
    char err[200];
    int bad;
    redact_policy(f, &pol);
    for (size_t k = 0; k < 2; k++) {
        assert_int_equal(guard_output_db_new(&rules[k], 1, "", &db[k], &bad, err, sizeof(err)), 0);
        assert_int_equal(guard_output_scratch_grow(f->scratch, db[k]), 0);
    }
    /* what it finds */
    struct guard_output_stream *one = guard_output_stream_new(db[1], NULL);
    struct result r = run_step(one, f, &pol, texts[0], 0);
    assert_int_equal(r.n_f, 1);
    assert_int_equal(r.f[0].start, 21);
    assert_int_equal(r.f[0].end, 49);
    assert_string_equal(r.out, "Clients connect from [REDACTED:IP_ADDRESS] today.");
    result_free(&r);
    guard_output_stream_free(one);
    for (size_t l = 0; l < sizeof(lims) / sizeof(lims[0]); l++) {
        struct guard_output_stream *st[2] = {guard_output_stream_new(db[0], &lims[l]),
                                             guard_output_stream_new(db[1], &lims[l])};
        assert_non_null(st[0]);
        assert_non_null(st[1]);
        for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
            size_t len = strlen(texts[t]);
            struct result a = run_step(st[0], f, &pol, texts[t], 0);
            struct result b = run_step(st[1], f, &pol, texts[t], 0);
            assert_true(a.n_f > 0 || l > 0); /* small limits release some too early */
            assert_same(&a, &b, "whole, limits", l);
            result_free(&a);
            result_free(&b);
            for (size_t cut = 1; cut < len; cut++) {
                a = run_cuts(st[0], f, &pol, texts[t], len, &cut, 1);
                b = run_cuts(st[1], f, &pol, texts[t], len, &cut, 1);
                assert_same(&a, &b, "cut", cut);
                result_free(&a);
                result_free(&b);
            }
            for (size_t step = 1; step <= 9; step++) {
                a = run_step(st[0], f, &pol, texts[t], step);
                b = run_step(st[1], f, &pol, texts[t], step);
                assert_same(&a, &b, "step", step);
                result_free(&a);
                result_free(&b);
            }
        }
        guard_output_stream_free(st[0]);
        guard_output_stream_free(st[1]);
    }
    guard_output_db_free(db[0]);
    guard_output_db_free(db[1]);
}

/* ---------------------------------------------------------------- holdback */

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("_-+/=.@:%", c) != NULL || c >= 0x80;
}

/* Text with no finding: held is exactly the newest `holdback` bytes, or the current run of
 * token characters if that is longer. */
static void test_holdback_window(void **state)
{
    struct fixture *f = *state;
    const struct guard_output_limits lim = {.holdback = 16, .max_hold = 1024};
    struct guard_output_stream *st = guard_output_stream_new(f->db, &lim);
    char text[600];
    snprintf(text, sizeof(text),
             "The quick brown fox jumps over the lazy dog. %s and then more words follow here, "
             "then x.y/z and a last few words.",
             "https://example.com/a/rather/long/path/that/keeps/going/and/going/and/going/"
             "until/it/is/longer/than/the/window/index.html?query=value&other=thing");
    size_t len = strlen(text);
    struct result r = {0};
    guard_output_stream_reset(st, f->scratch, &f->pol);
    size_t run_start = 0;
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(guard_output_stream_feed(st, text + i, 1), 0);
        take(st, &r);
        if (!token_char((unsigned char)text[i]))
            run_start = i + 1;
        size_t total = i + 1, upto = total > lim.holdback ? total - lim.holdback : 0;
        if (run_start < upto)
            upto = run_start;
        if (guard_output_stream_held(st) != total - upto)
            fail_msg("after %zu bytes: %zu held, want %zu", total, guard_output_stream_held(st),
                     total - upto);
        assert_int_equal(r.len, upto);
        assert_memory_equal(r.out, text, r.len);
    }
    assert_int_equal(guard_output_stream_end(st), 0);
    take(st, &r);
    assert_int_equal(guard_output_stream_held(st), 0);
    assert_string_equal(r.out, text);
    result_free(&r);
    guard_output_stream_free(st);
}

/* Fed a byte at a time, the released text is always a prefix of the final redacted text:
 * no byte of a finding leaves before it is decided. */
static void test_holdback_findings(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy pol;
    redact_policy(f, &pol);
    for (size_t t = 0; t < sizeof(chunk_texts) / sizeof(chunk_texts[0]); t++) {
        /* holdback covers the longest match with a space in it (a PEM header) */
        const struct guard_output_limits lim = {.holdback = 64};
        struct guard_output_stream *st = guard_output_stream_new(f->db, &lim);
        const char *text = chunk_texts[t];
        struct result whole = run_step(st, f, &pol, text, 0);
        struct result r = {0};
        guard_output_stream_reset(st, f->scratch, &pol);
        for (size_t i = 0; text[i]; i++) {
            assert_int_equal(guard_output_stream_feed(st, text + i, 1), 0);
            take(st, &r);
            if (r.len > whole.len || memcmp(r.out, whole.out, r.len) != 0)
                fail_msg("text %zu after %zu bytes: released \"%s\", final \"%s\"", t, i + 1, r.out,
                         whole.out);
        }
        assert_int_equal(guard_output_stream_end(st), 0);
        take(st, &r);
        assert_string_equal(r.out, whole.out);
        result_free(&r);
        result_free(&whole);
        guard_output_stream_free(st);
    }
}

/* ---------------------------------------------------------------- block */

static void test_block(void **state)
{
    struct fixture *f = *state;
    char text[400];
    snprintf(text, sizeof(text),
             "Here is the configuration you asked for, with the e-mail a@b.io in it and "
             "quite a lot of words before the key: aws_access_key_id = %s and after it.",
             AWS_KEY);
    size_t len = strlen(text), key = (size_t)(strstr(text, AWS_KEY) - text);
    for (size_t step = 0; step <= 16; step++) {
        struct guard_output_stream *st = guard_output_stream_new(f->db, NULL);
        struct result r = {0};
        int rc = 0;
        r.out = calloc(1, 1);
        guard_output_stream_reset(st, f->scratch, &f->pol);
        for (size_t at = 0; at < len && rc == 0;) {
            size_t n = step == 0 ? len : step;
            n = n < len - at ? n : len - at;
            rc = guard_output_stream_feed(st, text + at, n);
            take(st, &r);
            at += n;
            assert_null(strstr(r.out, "AKIA"));
        }
        if (rc == 0)
            rc = guard_output_stream_end(st);
        take(st, &r);
        assert_int_equal(rc, 1);
        assert_true(guard_output_stream_blocked(st));
        /* Released: a prefix of the redacted text before the key; no byte of the key. */
        assert_true(r.len <= key);
        assert_memory_equal(r.out, "Here is the configuration", r.len < 25 ? r.len : 25);
        assert_null(strstr(r.out, "AKIA"));
        assert_null(strstr(r.out, "a@b.io"));
        assert_int_equal(guard_output_stream_held(st), 0);
        /* The last finding is the block, at the key. */
        const struct guard_output_finding *fs;
        size_t n = guard_output_stream_findings(st, &fs);
        assert_true(n >= 1);
        assert_int_equal(fs[n - 1].rule, R_AWS);
        assert_int_equal(fs[n - 1].action, GUARD_OUT_BLOCK);
        assert_int_equal(fs[n - 1].start, key);
        assert_int_equal(fs[n - 1].end, key + 20);
        /* Blocked for good. */
        assert_int_equal(guard_output_stream_feed(st, "more a@b.io text", 16), 1);
        assert_int_equal(guard_output_stream_end(st), 1);
        take(st, &r);
        assert_true(r.len <= key);
        result_free(&r);
        guard_output_stream_free(st);
    }
    /* A PEM block blocks at its first line. */
    struct result r = run_text(
        f, NULL, NULL, "ok " PEM_HEAD "MIIEowIBAAKCAQEA6yD7n4gG6GSXkKkGFaRtIt12\n" PEM_TAIL, 0);
    assert_int_equal(r.rc, 1);
    assert_string_equal(r.out, "ok ");
    assert_int_equal(r.n_f, 1);
    assert_int_equal(r.f[0].rule, R_PEM);
    assert_int_equal(r.f[0].start, 3);
    result_free(&r);
    /* A key inside an e-mail address: the block names the key, not the address. */
    r = run_text(f, NULL, NULL, "id " AWS_KEY "@corp.io here", 0);
    assert_int_equal(r.rc, 1);
    assert_int_equal(r.n_f, 1);
    assert_int_equal(r.f[0].rule, R_AWS);
    assert_int_equal(r.f[0].action, GUARD_OUT_BLOCK);
    result_free(&r);
    /* A placeholder is no key. */
    r = run_text(f, NULL, NULL, "key AKIAIOSFODNN7EXAMPLE here", 0);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "key AKIAIOSFODNN7EXAMPLE here");
    result_free(&r);
}

/* ---------------------------------------------------------------- PEM redaction */

static void test_pem_redact(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy pol;
    redact_policy(f, &pol);
    const struct guard_output_limits lim = {.holdback = 64, .max_hold = 256};
    /* A body of 60 lines of 64 characters: about 4 KiB, far more than max_hold. */
    size_t cap = 8192, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "Here is the key:\n%s", PEM_HEAD);
    for (int i = 0; i < 60; i++) {
        for (int k = 0; k < 64; k++)
            text[len++] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                [(i * 7 + k * 13) % 64];
        text[len++] = '\n';
    }
    size_t end = len + strlen(PEM_TAIL);
    len += (size_t)snprintf(text + len, cap - len, "%s\nKeep it safe, a@b.io.", PEM_TAIL);
    const char *want = "Here is the key:\n[REDACTED:PRIVATE_KEY]\nKeep it safe, [REDACTED:EMAIL].";
    for (size_t step = 0; step <= 300; step = step ? step * 3 : 1) {
        struct result r = run_text(f, &pol, &lim, text, step);
        assert_int_equal(r.rc, 0);
        if (strcmp(r.out, want) != 0)
            fail_msg("step %zu: \"%s\"", step, r.out);
        assert_int_equal(r.n_f, 2);
        assert_int_equal(r.f[0].rule, R_PEM);
        assert_int_equal(r.f[0].action, GUARD_OUT_REDACT);
        assert_int_equal(r.f[0].start, 17);
        assert_int_equal(r.f[0].end, end);
        assert_int_equal(r.f[1].rule, R_EMAIL);
        result_free(&r);
    }
    /* Never closed: it runs to the end of the text. */
    text[end - 5] = '\0';
    struct result r = run_text(f, &pol, &lim, text, 7);
    assert_string_equal(r.out, "Here is the key:\n[REDACTED:PRIVATE_KEY]");
    assert_int_equal(r.n_f, 1);
    assert_int_equal(r.f[0].end, end - 5);
    result_free(&r);
    free(text);
}

/* A PEM block with things in it that need room: a token longer than max_hold that ends as an
 * e-mail address, and a secret value running into its BEGIN line. */
static void test_pem_crowded(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy pol;
    redact_policy(f, &pol);
    const struct guard_output_limits lim = {.holdback = 64, .max_hold = 128};
    char text[1024];
    char run[301];
    memset(run, 'a', 300);
    run[300] = '\0';
    snprintf(text, sizeof(text),
             "x " PEM_HEAD "MIIEowIBAAKCAQEA6yD7\n%s@example.org\n" PEM_TAIL " bye", run);
    for (size_t step = 0; step <= 64; step = step ? step * 2 : 1) {
        struct result r = run_text(f, &pol, &lim, text, step);
        assert_int_equal(r.rc, 0);
        assert_string_equal(r.out, "x [REDACTED:PRIVATE_KEY] bye");
        assert_true(r.n_f >= 1);
        assert_int_equal(r.f[0].rule, R_PEM);
        assert_int_equal(r.f[0].start, 2);
        assert_int_equal(r.f[0].end, strlen(text) - 4);
        result_free(&r);
    }
    snprintf(text, sizeof(text),
             "password=Zk3Qp9Lx2Vb7Tx0R" PEM_HEAD "MIIEowIBAAKCAQEA6yD7\n%s\n" PEM_TAIL " bye",
             run);
    for (size_t step = 0; step <= 64; step = step ? step * 2 : 1) {
        struct result r = run_text(f, &pol, &lim, text, step);
        assert_int_equal(r.rc, 0);
        assert_string_equal(r.out, "password=[REDACTED:PRIVATE_KEY] bye");
        assert_int_equal(r.n_f, 1);
        assert_int_equal(r.f[0].rule, R_PEM);
        result_free(&r);
    }
}

/* A secret assigned to a name: the start of the name may leave before the value is found (it
 * is no finding); base64 padding belongs to the value. */
static void test_value_span(void **state)
{
    struct fixture *f = *state;
    struct guard_output_policy pol;
    redact_policy(f, &pol);
    const struct guard_output_limits lim = {.holdback = 32};
    static const struct rcase cases[] = {
        {"password:    'eX9PcWb8pm1bNjpiEQhK8nDSqXxkMM9V' ok",
         "password:    '[REDACTED:GENERIC_SECRET]' ok"},
        {"the_secret_token_for_prod = Zk3Qp9Lx2Vb7Tx0Rk4Yw9Pz3Nc6H== ok",
         "the_secret_token_for_prod = [REDACTED:GENERIC_SECRET] ok"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t step = 0; step <= 3; step++) {
            struct result r = run_text(f, &pol, step ? &lim : NULL, cases[i].in, step);
            if (strcmp(r.out, cases[i].out) != 0)
                fail_msg("step %zu: \"%s\" gave \"%s\" (%zu findings, first %" PRIu64 "-%" PRIu64
                         ")",
                         step, cases[i].in, r.out, r.n_f, r.f[0].start, r.f[0].end);
            result_free(&r);
        }
    }
    /* "..._id" names an identifier (seen while the name is still held) */
    for (size_t step = 0; step <= 3; step++) {
        const char *in = "token_id = Zk3Qp9Lx2Vb7Tx0Rk4Yw9Pz3Nc6H ok";
        struct result r = run_text(f, &pol, NULL, in, step);
        assert_string_equal(r.out, in);
        result_free(&r);
    }
}

/* ---------------------------------------------------------------- max_hold */

static void test_max_hold(void **state)
{
    struct fixture *f = *state;
    const struct guard_output_limits lim = {.holdback = 16, .max_hold = 64};
    char text[300];
    /* One token of 150 characters, then the domain: the e-mail starts in released text. */
    memset(text, 'a', 150);
    snprintf(text + 150, sizeof(text) - 150, "@example.org and more");
    for (size_t step = 0; step <= 20; step += 5) {
        struct guard_output_stream *st = guard_output_stream_new(f->db, &lim);
        struct result r = run_step(st, f, NULL, text, step);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.n_f, 1);
        assert_int_equal(r.f[0].rule, R_EMAIL);
        assert_true(r.f[0].partial);
        assert_int_equal(r.f[0].start, 0);
        assert_int_equal(r.f[0].end, 162);
        /* What went out was forced out; the rest is one placeholder. */
        assert_null(strstr(r.out, "@example"));
        const char *ph = strstr(r.out, "[REDACTED:EMAIL] and more");
        assert_non_null(ph);
        assert_true(ph > r.out);
        for (const char *p = r.out; p < ph; p++)
            assert_int_equal(*p, 'a');
        assert_true(guard_output_stream_memory(st) >= 64 + guard_output_db_stream_size(f->db));
        result_free(&r);
        guard_output_stream_free(st);
    }
    /* Limits: max_hold is raised to 2 * holdback; absurd ones are refused. */
    const struct guard_output_limits small = {.holdback = 64, .max_hold = 10};
    struct guard_output_stream *st = guard_output_stream_new(f->db, &small);
    assert_non_null(st);
    guard_output_stream_free(st);
    const struct guard_output_limits huge = {.holdback = 1u << 30};
    assert_null(guard_output_stream_new(f->db, &huge));
}

/* ---------------------------------------------------------------- caps */

static void test_findings_cap(void **state)
{
    struct fixture *f = *state;
    char text[4000];
    size_t len = 0, n = GUARD_OUT_FINDINGS + 36;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "u%zu@corp.io ", i);
    for (size_t step = 0; step <= 64; step += 64) {
        struct result r = run_text(f, NULL, NULL, text, step);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.n_f, GUARD_OUT_FINDINGS);
        assert_int_equal(r.total, n);
        assert_int_equal(r.f[GUARD_OUT_FINDINGS - 1].start, (size_t)(strstr(text, "u63@") - text));
        /* every one of them redacted, the cap is on the record only */
        size_t k = 0;
        for (const char *p = r.out; (p = strstr(p, "[REDACTED:EMAIL] ")) != NULL; p++)
            k++;
        assert_int_equal(k, n);
        assert_null(strchr(r.out, '@'));
        result_free(&r);
    }
}

/* ---------------------------------------------------------------- reuse */

static void test_reset_reuse(void **state)
{
    struct fixture *f = *state;
    struct guard_output_stream *st = guard_output_stream_new(f->db, NULL);
    struct result r = run_step(st, f, NULL, "key " AWS_KEY " end", 0);
    assert_int_equal(r.rc, 1);
    result_free(&r);
    for (int i = 0; i < 3; i++) {
        r = run_step(st, f, NULL, "then a@b.io", 3);
        assert_int_equal(r.rc, 0);
        assert_false(guard_output_stream_blocked(st));
        assert_string_equal(r.out, "then [REDACTED:EMAIL]");
        assert_int_equal(r.n_f, 1);
        assert_int_equal(r.total, 1);
        assert_int_equal(r.f[0].start, 5);
        result_free(&r);
    }
    /* Reset in the middle of a stream: nothing of the old one is left. */
    guard_output_stream_reset(st, f->scratch, &f->pol);
    assert_int_equal(guard_output_stream_feed(st, "half a mail c@d.", 16), 0);
    r = run_step(st, f, NULL, "io x@y.io", 0);
    assert_string_equal(r.out, "io [REDACTED:EMAIL]");
    assert_int_equal(r.f[0].start, 3);
    result_free(&r);
    /* Output not taken accumulates until taken. */
    guard_output_stream_reset(st, f->scratch, &f->pol);
    const char *p;
    size_t n;
    char big[200];
    memset(big, 'w', sizeof(big));
    for (int i = 0; i < 40; i++)
        big[i * 5] = ' ';
    assert_int_equal(guard_output_stream_feed(st, big, sizeof(big)), 0);
    guard_output_stream_output(st, &p, &n);
    assert_true(n > 0 && n < sizeof(big));
    assert_int_equal(guard_output_stream_end(st), 0);
    guard_output_stream_output(st, &p, &n);
    assert_int_equal(n, sizeof(big));
    assert_memory_equal(p, big, n);
    guard_output_stream_take(st);
    guard_output_stream_output(st, &p, &n);
    assert_int_equal(n, 0);
    guard_output_stream_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_validators),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test(test_code_points),
        cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_ipv6_colon),
        cmocka_unit_test(test_holdback_window),
        cmocka_unit_test(test_holdback_findings),
        cmocka_unit_test(test_block),
        cmocka_unit_test(test_pem_redact),
        cmocka_unit_test(test_pem_crowded),
        cmocka_unit_test(test_value_span),
        cmocka_unit_test(test_max_hold),
        cmocka_unit_test(test_findings_cap),
        cmocka_unit_test(test_reset_reuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

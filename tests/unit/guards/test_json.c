/* Unit tests for the incremental JSON tokenizer: conformance corpus, chunking, limits, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json.h"

/* Name of the document under test, for failure messages from shared helpers. */
static const char *test_name = "";

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            fail_msg("%s: check failed: %s (line %d)", test_name, #cond, __LINE__); \
    } while (0)

/* What one parse produced: a fragmentation-independent transcript plus the outcome. The
 * transcript has one line per value: kind, depth, in_array, offset, whole text. */
struct rec {
    char *buf;
    size_t len, cap;
    int rc;
    bool done;
    struct guard_json_error err;
    size_t events, fragments;
    unsigned depth;
    bool in_string;
    bool array[GUARD_JSON_MAX_DEPTH + 1];
};

enum split {
    SPLIT_WHOLE = 0,
    SPLIT_BYTES,
    SPLIT_RANDOM,
};

static void rec_append(struct rec *r, const void *p, size_t n)
{
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->buf = realloc(r->buf, r->cap);
        assert_non_null(r->buf);
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    r->buf[r->len] = '\0';
}

static void rec_head(struct rec *r, char kind, const struct guard_json_event *ev)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "%c d%u a%d @%llu:", kind, ev->depth, ev->in_array,
                     (unsigned long long)ev->offset);

    rec_append(r, line, (size_t)n);
}

static void rec_free(struct rec *r)
{
    free(r->buf);
    memset(r, 0, sizeof(*r));
}

/* Strict UTF-8 check (RFC 3629), independent of the tokenizer's own code. */
static bool utf8_valid(const unsigned char *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((p[i] & 0xE0) == 0xC0) {
            len = 2;
            cp = p[i] & 0x1F;
        } else if ((p[i] & 0xF0) == 0xE0) {
            len = 3;
            cp = p[i] & 0x0F;
        } else if ((p[i] & 0xF8) == 0xF0) {
            len = 4;
            cp = p[i] & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* Check one event against the token protocol and add it to the transcript. */
static void rec_event(struct rec *r, const struct guard_json *js, const struct guard_json_event *ev,
                      const char *chunk, size_t chunk_len)
{
    bool closing = ev->tok == GUARD_JSON_OBJECT_END || ev->tok == GUARD_JSON_ARRAY_END;
    /* A closing token sits at the depth of its opening one. */
    unsigned depth = closing && r->depth > 0 ? r->depth - 1 : r->depth;
    bool in_chunk, in_scratch;

    r->events++;
    CHECK(ev->depth == depth);
    CHECK(ev->in_array == (depth > 0 && r->array[depth - 1]));
    if (ev->tok != GUARD_JSON_STRING)
        CHECK(!r->in_string);
    if (ev->tok == GUARD_JSON_STRING || ev->tok == GUARD_JSON_KEY || ev->tok == GUARD_JSON_NUMBER) {
        CHECK(ev->str != NULL);
        in_chunk = ev->str >= chunk && ev->str + ev->len <= chunk + chunk_len;
        in_scratch =
            ev->str >= js->scratch && ev->str + ev->len <= js->scratch + sizeof(js->scratch);
        CHECK(in_chunk || in_scratch);
        CHECK(utf8_valid((const unsigned char *)ev->str, ev->len));
    } else {
        CHECK(ev->str == NULL && ev->len == 0 && ev->flags == 0);
    }
    switch (ev->tok) {
    case GUARD_JSON_OBJECT_BEGIN:
    case GUARD_JSON_ARRAY_BEGIN:
        CHECK(r->depth < GUARD_JSON_MAX_DEPTH);
        r->array[r->depth++] = ev->tok == GUARD_JSON_ARRAY_BEGIN;
        rec_head(r, ev->tok == GUARD_JSON_ARRAY_BEGIN ? '[' : '{', ev);
        rec_append(r, "\n", 1);
        break;
    case GUARD_JSON_OBJECT_END:
    case GUARD_JSON_ARRAY_END:
        CHECK(r->depth > 0);
        CHECK(r->array[r->depth - 1] == (ev->tok == GUARD_JSON_ARRAY_END));
        r->depth--;
        rec_head(r, ev->tok == GUARD_JSON_ARRAY_END ? ']' : '}', ev);
        rec_append(r, "\n", 1);
        break;
    case GUARD_JSON_KEY:
        CHECK(r->depth > 0 && !r->array[r->depth - 1]);
        CHECK(ev->flags == (GUARD_JSON_F_BEGIN | GUARD_JSON_F_END));
        CHECK(ev->len <= GUARD_JSON_SCRATCH);
        rec_head(r, 'K', ev);
        rec_append(r, ev->str, ev->len);
        rec_append(r, "\n", 1);
        break;
    case GUARD_JSON_NUMBER:
        CHECK(ev->flags == (GUARD_JSON_F_BEGIN | GUARD_JSON_F_END));
        rec_head(r, 'N', ev);
        rec_append(r, ev->str, ev->len);
        rec_append(r, "\n", 1);
        break;
    case GUARD_JSON_STRING:
        r->fragments++;
        CHECK(!!(ev->flags & GUARD_JSON_F_BEGIN) == !r->in_string);
        CHECK((ev->flags & ~(GUARD_JSON_F_BEGIN | GUARD_JSON_F_END)) == 0);
        if (ev->flags & GUARD_JSON_F_BEGIN)
            rec_head(r, 'S', ev);
        rec_append(r, ev->str, ev->len);
        r->in_string = !(ev->flags & GUARD_JSON_F_END);
        if (!r->in_string)
            rec_append(r, "\n", 1);
        break;
    case GUARD_JSON_TRUE:
    case GUARD_JSON_FALSE:
    case GUARD_JSON_NULL:
        rec_head(r, ev->tok == GUARD_JSON_TRUE ? 't' : ev->tok == GUARD_JSON_FALSE ? 'f' : 'n', ev);
        rec_append(r, "\n", 1);
        break;
    default:
        fail_msg("%s: unknown token %d", test_name, (int)ev->tok);
    }
}

/* Feed one chunk from its own exact-size heap copy (so ASan sees any read past it) and pull
 * every token out of it. */
static void rec_feed(struct guard_json *js, struct rec *r, const char *p, size_t n, bool last)
{
    struct guard_json_event ev;
    char *copy = malloc(n ? n : 1);
    int rc;

    assert_non_null(copy);
    if (n)
        memcpy(copy, p, n);
    guard_json_feed(js, copy, n, last);
    while ((rc = guard_json_next(js, &ev)) == 1)
        rec_event(r, js, &ev, copy, n);
    r->rc = rc;
    if (rc < 0) {
        r->err = *guard_json_error(js);
        /* Sticky: asking again gives the same answer. */
        CHECK(guard_json_next(js, &ev) == rc);
    }
    free(copy);
}

static uint32_t rnd_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Parse doc split as `mode` says; the random split draws from `seed`. */
static void rec_parse(struct rec *r, const char *doc, size_t len,
                      const struct guard_json_limits *lim, enum split mode, uint32_t seed)
{
    struct guard_json js;
    size_t pos = 0, n;
    bool last = false, empty_last = (seed & 1) != 0;

    memset(r, 0, sizeof(*r));
    rec_append(r, "", 0);
    assert_int_equal(guard_json_init(&js, lim), 0);
    while (pos < len && r->rc >= 0) {
        if (mode == SPLIT_WHOLE) {
            n = len;
        } else if (mode == SPLIT_BYTES) {
            n = 1;
        } else {
            n = rnd_next(&seed) % 4 == 0 ? 1 + rnd_next(&seed) % 3000 : 1 + rnd_next(&seed) % 9;
            if (n > len - pos)
                n = len - pos;
        }
        last = pos + n == len && !(mode == SPLIT_RANDOM && empty_last);
        rec_feed(&js, r, doc + pos, n, last);
        pos += n;
    }
    if (r->rc >= 0 && !last)
        rec_feed(&js, r, NULL, 0, true);
    r->done = guard_json_done(&js);
    CHECK(!(r->done && r->rc < 0));
    if (r->done)
        CHECK(r->rc == 0 && r->depth == 0 && !r->in_string && r->events > 0);
    if (r->rc == 0)
        CHECK(r->done);
    if (r->rc < 0) {
        CHECK(r->err.message != NULL);
        CHECK(r->err.line >= 1 && r->err.column >= 1);
        CHECK(r->err.offset <= len);
    }
}

/* Transcript length to compare: after an error, a string cut by it may have handed out a
 * different part of its text depending on the chunks, so only whole lines count. */
static size_t rec_stable_len(const struct rec *r)
{
    size_t n = r->len;

    if (r->rc < 0)
        while (n > 0 && r->buf[n - 1] != '\n')
            n--;
    return n;
}

static void rec_same(const struct rec *a, const struct rec *b, const char *how)
{
    size_t alen = rec_stable_len(a), blen = rec_stable_len(b);

    if (a->rc != b->rc || a->done != b->done)
        fail_msg("%s: %s: rc %d/%d done %d/%d", test_name, how, a->rc, b->rc, a->done, b->done);
    if (alen != blen || memcmp(a->buf, b->buf, alen) != 0)
        fail_msg("%s: %s: token transcripts differ:\n%.*s\n----\n%.*s", test_name, how,
                 (int)(a->len > 2000 ? 2000 : a->len), a->buf, (int)(b->len > 2000 ? 2000 : b->len),
                 b->buf);
    if (a->rc < 0 &&
        (a->err.offset != b->err.offset || a->err.line != b->err.line ||
         a->err.column != b->err.column || strcmp(a->err.message, b->err.message) != 0))
        fail_msg("%s: %s: errors differ: %llu:%u:%u %s / %llu:%u:%u %s", test_name, how,
                 (unsigned long long)a->err.offset, a->err.line, a->err.column, a->err.message,
                 (unsigned long long)b->err.offset, b->err.line, b->err.column, b->err.message);
}

/* Whole, byte by byte and several random splits must agree; returns the whole-input result. */
static void rec_all_splits(struct rec *whole, const char *doc, size_t len,
                           const struct guard_json_limits *lim)
{
    struct rec other;
    uint32_t seed;

    rec_parse(whole, doc, len, lim, SPLIT_WHOLE, 0);
    rec_parse(&other, doc, len, lim, SPLIT_BYTES, 0);
    rec_same(whole, &other, "whole vs bytes");
    rec_free(&other);
    for (seed = 1; seed <= 6; seed++) {
        rec_parse(&other, doc, len, lim, SPLIT_RANDOM, seed * 2654435761u + seed);
        rec_same(whole, &other, "whole vs random split");
        rec_free(&other);
    }
}

/* ---- the JSONTestSuite corpus in $WARDEN_EVAL_DIR/json-parsing ---- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        goto out;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto out;
    buf = malloc((size_t)size + 1);
    if (!buf)
        goto out;
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
        goto out;
    }
    *len = (size_t)size;
out:
    if (f)
        fclose(f);
    return buf;
}

static void test_eval_corpus(void **state)
{
    /* max_number at its ceiling: y_number_double_close_to_zero has an 81-byte number. */
    const struct guard_json_limits lim = {.max_number = 256};
    const char *dir_env = getenv("WARDEN_EVAL_DIR");
    char dir[4096], path[4608];
    unsigned y = 0, n = 0, i = 0, n_e2big = 0;
    struct dirent *de;
    struct rec r;
    DIR *d = NULL;
    size_t len = 0;
    char *doc;

    (void)state;
    if (!dir_env || !*dir_env) {
        print_message("WARDEN_EVAL_DIR unset: skipping the JSONTestSuite corpus\n");
        skip();
    }
    snprintf(dir, sizeof(dir), "%s/json-parsing", dir_env);
    d = opendir(dir);
    if (!d) {
        print_message("%s missing: skipping the JSONTestSuite corpus\n", dir);
        skip();
    }
    while ((de = readdir(d)) != NULL) {
        char kind = de->d_name[0];

        if ((kind != 'y' && kind != 'n' && kind != 'i') || de->d_name[1] != '_')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        doc = read_file(path, &len);
        if (!doc)
            fail_msg("cannot read %s", path);
        test_name = de->d_name;
        rec_all_splits(&r, doc, len, &lim);
        if (kind == 'y') {
            if (!r.done)
                fail_msg("%s: valid JSON rejected: %s at %llu:%u:%u", de->d_name, r.err.message,
                         (unsigned long long)r.err.offset, r.err.line, r.err.column);
            y++;
        } else if (kind == 'n') {
            if (r.rc >= 0 || r.done)
                fail_msg("%s: invalid JSON accepted", de->d_name);
            CHECK(r.rc == -EBADMSG || r.rc == -E2BIG);
            n_e2big += r.rc == -E2BIG;
            n++;
        } else {
            i++;
        }
        rec_free(&r);
        free(doc);
    }
    closedir(d);
    test_name = "";
    print_message("json-parsing: %u y_ accepted, %u n_ rejected (%u by a limit), %u i_ run\n", y, n,
                  n_e2big, i);
    assert_true(y > 0);
    assert_true(n > 0);
}

/* ---- hand-written documents ---- */

static const char *const hand_docs[] = {
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are helpful.\\nBe "
    "brief.\"},{\"role\":\"user\",\"content\":\"H\xc3\xa9llo \\u00e9 \\ud83d\\ude00 w\xc3\xb6rld "
    "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"}],\"temperature\":0.7,\"max_tokens\":1024,"
    "\"stream\":true,\"stop\":null,\"n\":-1e-5}",
    "{\r\n\t\"a\" : [ 1 , 2.5 ,\n\n  -3e+7 ] ,\n  \"b\":{ } ,\"c\" :[ ]\r\n}\n",
    "[0,-0,1.5,-1.25e+10,2E-3,0.0e0,123456789,1E5,0.5e-0]",
    "[[[[]]],{},[{}],{\"a\":{\"b\":[]}},[[],[[]]]]",
    "\"x\"",
    "0",
    "-1.5",
    " true ",
    "\tfalse",
    "null\n",
    "\"\"",
    "{\"\":\"\",\"\\u0000\":\"\\u0000\"}",
    "[\"\\ud83d\\ude00\\ud800x\\udc00\\ud800\\ud800\\udc00\\u0000\\uDBFF\\uDFFF\\ud800\\\"\"]",
    "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\",\"\\u0041\\u00e9\\u20ac\\uFFFF\"]",
    "{\"k\xc3\xa9y\\n\":\"v\xe2\x82\xac\\t\xf0\x9f\x98\x80\",\"k2\":[\"\\ud834\\udd1e\"]}",
    "[\"\x7f\",\"a\\u002Fb\",\"tab\\tend\"]",
};

static void test_hand_docs_chunking(void **state)
{
    struct rec r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hand_docs) / sizeof(hand_docs[0]); i++) {
        test_name = hand_docs[i];
        rec_all_splits(&r, hand_docs[i], strlen(hand_docs[i]), NULL);
        if (!r.done)
            fail_msg("%s: rejected: %s at %llu", hand_docs[i], r.err.message,
                     (unsigned long long)r.err.offset);
        rec_free(&r);
    }
    test_name = "";
}

/* Build large strings that cross the scratch size: escapes, long runs, multibyte text. */
static size_t big_doc(char *buf, size_t cap, int variant)
{
    static const char *const pieces[] = {
        "plain text run ",  "\\n",     "\\\"",           "\xc3\xa9", "\xe6\x97\xa5",
        "\xf0\x9f\x98\x80", "\\u00e9", "\\ud83d\\ude00", "\\ud800",  "\\\\",
    };
    uint32_t seed = (uint32_t)variant * 7919u + 1;
    size_t len = 0, k, want;
    const char *p;

    len += (size_t)snprintf(buf, cap, "{\"messages\":[{\"content\":\"");
    want = variant == 0 ? 3000 : variant == 1 ? 20000 : 70000;
    while (len < want) {
        if (variant == 2 && rnd_next(&seed) % 50 == 0) {
            /* A long unescaped run, longer than the scratch. */
            for (k = 0; k < 1500 && len < cap - 64; k++)
                buf[len++] = (char)('a' + k % 26);
            continue;
        }
        p = pieces[rnd_next(&seed) % (sizeof(pieces) / sizeof(pieces[0]))];
        k = strlen(p);
        memcpy(buf + len, p, k);
        len += k;
    }
    len += (size_t)snprintf(buf + len, cap - len, "\",\"n\":[1,2.5e10]},\"\"]}");
    return len;
}

static void test_big_strings_chunking(void **state)
{
    static char buf[80000];
    struct rec r;
    size_t len;
    int v;

    (void)state;
    for (v = 0; v < 3; v++) {
        test_name = "big_doc";
        len = big_doc(buf, sizeof(buf), v);
        rec_all_splits(&r, buf, len, NULL);
        if (!r.done)
            fail_msg("big_doc %d rejected: %s at %llu", v, r.err.message,
                     (unsigned long long)r.err.offset);
        /* Escapes are coalesced, so fragments stay far fewer than escapes. */
        assert_true(r.fragments < len / 64);
        rec_free(&r);
    }
    test_name = "";
}

/* ---- single-purpose cases ---- */

/* Parse a whole document and return the concatenated text of its first string value. */
static int first_string(const char *doc, size_t len, char *out, size_t cap, size_t *out_len)
{
    struct guard_json js;
    struct guard_json_event ev;
    bool seen = false, done = false;
    int rc;

    *out_len = 0;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, doc, len, true);
    while ((rc = guard_json_next(&js, &ev)) == 1) {
        if (ev.tok != GUARD_JSON_STRING || done)
            continue;
        if (ev.flags & GUARD_JSON_F_BEGIN)
            seen = true;
        assert_true(seen);
        assert_true(*out_len + ev.len <= cap);
        memcpy(out + *out_len, ev.str, ev.len);
        *out_len += ev.len;
        done = (ev.flags & GUARD_JSON_F_END) != 0;
    }
    if (rc == 0)
        assert_true(guard_json_done(&js));
    return rc;
}

static void expect_decoded(const char *doc, const char *want, size_t want_len)
{
    char out[256];
    size_t n;

    assert_int_equal(first_string(doc, strlen(doc), out, sizeof(out), &n), 0);
    if (n != want_len || memcmp(out, want, n) != 0)
        fail_msg("%s: decoded %zu bytes, want %zu", doc, n, want_len);
}

static void test_escapes(void **state)
{
    static const char want[] = "\n\t\"\\/\b\f\r\xc3\xa9\xf0\x9f\x98\x80";

    (void)state;
    expect_decoded("[\"\\n\\t\\\"\\\\\\/\\b\\f\\r\\u00e9\\ud83d\\ude00\"]", want, sizeof(want) - 1);
    expect_decoded("\"\\u0041\\u00E9\\u20AC\\uffff\"", "A\xc3\xa9\xe2\x82\xac\xef\xbf\xbf", 9);
    expect_decoded("\"a\\u0000b\"", "a\0b", 3);
    expect_decoded("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4);
}

static void test_lone_surrogates(void **state)
{
    (void)state;
    expect_decoded("\"\\ud800\"", "\xef\xbf\xbd", 3);
    expect_decoded("\"\\udc00x\"", "\xef\xbf\xbdx", 4);
    expect_decoded("\"\\ud800\\u0041\"",
                   "\xef\xbf\xbd"
                   "A",
                   4);
    expect_decoded("\"\\ud800\\n\"", "\xef\xbf\xbd\n", 4);
    expect_decoded("\"\\ud800x\"", "\xef\xbf\xbdx", 4);
    expect_decoded("\"\\ude00\\ud83d\"", "\xef\xbf\xbd\xef\xbf\xbd", 6);
    expect_decoded("\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80", 7);
}

struct err_case {
    const char *doc;
    int rc;
    uint64_t offset;
    uint32_t line, column;
    const char *message;
};

static void test_error_positions(void **state)
{
    static const struct err_case cases[] = {
        {"{\"a\":1,}", -EBADMSG, 7, 1, 8, "expected string key after ','"},
        {"{\"a\":1 \"b\":2}", -EBADMSG, 7, 1, 8, "expected ',' or '}' after object member"},
        {"[1,\n 2\n 3]", -EBADMSG, 8, 3, 2, "expected ',' or ']' after array element"},
        {"{\"a\" 1}", -EBADMSG, 5, 1, 6, "expected ':' after object key"},
        {"\"abc", -EBADMSG, 4, 1, 5, "unexpected end of input"},
        {"{\"a\":\n", -EBADMSG, 6, 2, 1, "unexpected end of input"},
        {"", -EBADMSG, 0, 1, 1, "unexpected end of input"},
        {"[\"a\x01\"]", -EBADMSG, 3, 1, 4, "control character in string"},
        {"[\"a\nb\"]", -EBADMSG, 3, 1, 4, "control character in string"},
        {"[\"\\x\"]", -EBADMSG, 3, 1, 4, "invalid escape in string"},
        {"[\"\\u12G4\"]", -EBADMSG, 6, 1, 7, "invalid \\u escape in string"},
        {"[01]", -EBADMSG, 2, 1, 3, "leading zero in number"},
        {"[-]", -EBADMSG, 2, 1, 3, "expected digit after '-'"},
        {"[1.]", -EBADMSG, 3, 1, 4, "expected digit after '.' in number"},
        {"[1e+]", -EBADMSG, 4, 1, 5, "expected digit in exponent"},
        {"[\"\xc3\x28\"]", -EBADMSG, 3, 1, 4, "invalid UTF-8 in string"},
        {"[\"\xed\xa0\x80\"]", -EBADMSG, 3, 1, 4, "invalid UTF-8 in string"},
        {"[\"ab\xe2\x82\"]", -EBADMSG, 6, 1, 7, "invalid UTF-8 in string"},
        {"[\"\x80\"]", -EBADMSG, 2, 1, 3, "invalid UTF-8 in string"},
        {"{\n  \"k\": tru }", -EBADMSG, 12, 2, 11, "invalid literal"},
        {"[1] x", -EBADMSG, 4, 1, 5, "unexpected data after top-level value"},
        {"[1,]", -EBADMSG, 3, 1, 4, "expected value"},
        {"\n\n  [}", -EBADMSG, 5, 3, 4, "expected value or ']'"},
        {"{1:2}", -EBADMSG, 1, 1, 2, "expected string key or '}'"},
        {"\xef\xbb\xbf{}", -EBADMSG, 0, 1, 1, "expected value"},
    };
    struct rec r;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct err_case *c = &cases[i];

        test_name = c->doc;
        rec_all_splits(&r, c->doc, strlen(c->doc), NULL);
        if (r.rc != c->rc || r.err.offset != c->offset || r.err.line != c->line ||
            r.err.column != c->column || strcmp(r.err.message, c->message) != 0)
            fail_msg("case %zu: got %d %llu:%u:%u \"%s\", want %d %llu:%u:%u \"%s\"", i, r.rc,
                     (unsigned long long)r.err.offset, r.err.line, r.err.column,
                     r.err.message ? r.err.message : "(null)", c->rc, (unsigned long long)c->offset,
                     c->line, c->column, c->message);
        rec_free(&r);
    }
    test_name = "";
}

/* Parse whole with `lim`; return rc and the error. */
static int parse_with(const char *doc, const struct guard_json_limits *lim,
                      struct guard_json_error *err)
{
    struct rec r;
    int rc;

    test_name = doc;
    rec_all_splits(&r, doc, strlen(doc), lim);
    rc = r.rc;
    *err = r.err;
    if (rc == 0)
        assert_true(r.done);
    rec_free(&r);
    test_name = "";
    return rc;
}

static void test_depth_limit(void **state)
{
    struct guard_json_limits lim = {.max_depth = 3};
    struct guard_json_error err;
    struct guard_json js;
    char doc[600];
    int i;

    (void)state;
    assert_int_equal(parse_with("[[[1]]]", &lim, &err), 0);
    assert_int_equal(parse_with("[{\"a\":[]}]", &lim, &err), 0);
    assert_int_equal(parse_with("[[[[1]]]]", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 3);
    assert_string_equal(err.message, "nesting deeper than limit");
    assert_int_equal(parse_with("[{\"a\":[{}]}]", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 7);

    /* Default 64: 64 nested arrays pass, 65 do not. */
    for (i = 0; i < 64; i++) {
        doc[i] = '[';
        doc[64 + i] = ']';
    }
    doc[128] = '\0';
    assert_int_equal(parse_with(doc, NULL, &err), 0);
    for (i = 0; i < 65; i++) {
        doc[i] = '[';
        doc[65 + i] = ']';
    }
    doc[130] = '\0';
    assert_int_equal(parse_with(doc, NULL, &err), -E2BIG);
    assert_int_equal(err.offset, 64);

    /* The ceiling itself works; above it init refuses and the tokenizer stays refused. */
    lim.max_depth = 256;
    for (i = 0; i < 256; i++) {
        doc[i] = '[';
        doc[256 + i] = ']';
    }
    doc[512] = '\0';
    assert_int_equal(parse_with(doc, &lim, &err), 0);
    lim.max_depth = 257;
    assert_int_equal(guard_json_init(&js, &lim), -EINVAL);
    guard_json_feed(&js, "1", 1, true);
    {
        struct guard_json_event ev;
        assert_int_equal(guard_json_next(&js, &ev), -EINVAL);
    }
    lim = (struct guard_json_limits){.max_key = 1025};
    assert_int_equal(guard_json_init(&js, &lim), -EINVAL);
    lim = (struct guard_json_limits){.max_number = 257};
    assert_int_equal(guard_json_init(&js, &lim), -EINVAL);
}

static void test_key_limit(void **state)
{
    struct guard_json_limits lim = {.max_key = 4};
    struct guard_json_error err;
    char doc[1200];
    int i;

    (void)state;
    assert_int_equal(parse_with("{\"abcd\":1}", &lim, &err), 0);
    assert_int_equal(parse_with("{\"ab\\u00e9\":1}", &lim, &err), 0);
    assert_int_equal(parse_with("{\"\xf0\x9f\x98\x80\":1}", &lim, &err), 0);
    /* Value strings are not bounded by max_key. */
    assert_int_equal(parse_with("{\"a\":\"a long value string\"}", &lim, &err), 0);
    assert_int_equal(parse_with("{\"abcde\":1}", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 6);
    assert_string_equal(err.message, "key longer than limit");
    assert_int_equal(parse_with("{\"abc\\u00e9\":1}", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 10);
    assert_int_equal(parse_with("{\"a\xf0\x9f\x98\x80\":1}", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 6);
    /* The limit is crossed before the bad byte, whatever the chunking (found by fuzzing). */
    assert_int_equal(parse_with("{\"abcd\xd5\x66\":1}", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 6);
    assert_int_equal(parse_with("{\"abc\xd5\x66\":1}", &lim, &err), -EBADMSG);
    assert_int_equal(err.offset, 6);
    assert_string_equal(err.message, "invalid UTF-8 in string");
    assert_int_equal(parse_with("{\"abcd\x01\":1}", &lim, &err), -EBADMSG);
    assert_string_equal(err.message, "control character in string");

    /* The ceiling: a 1024-byte key passes, 1025 does not. */
    lim.max_key = 1024;
    doc[0] = '{';
    doc[1] = '"';
    for (i = 0; i < 1024; i++)
        doc[2 + i] = (char)('a' + i % 26);
    memcpy(doc + 1026, "\":1}", 5);
    assert_int_equal(parse_with(doc, &lim, &err), 0);
    doc[1026] = 'x';
    memcpy(doc + 1027, "\":1}", 5);
    assert_int_equal(parse_with(doc, &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 1026);
}

static void test_number_limit(void **state)
{
    struct guard_json_limits lim = {.max_number = 3};
    struct guard_json_error err;
    struct guard_json_event ev;
    struct guard_json js;

    (void)state;
    assert_int_equal(parse_with("[123,-12,1.5]", &lim, &err), 0);
    assert_int_equal(parse_with("[1234]", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 4);
    assert_string_equal(err.message, "number longer than limit");
    assert_int_equal(parse_with("-1.5", &lim, &err), -E2BIG);
    assert_int_equal(err.offset, 3);

    /* A top-level number only ends with the input. */
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, "12", 2, false);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    guard_json_feed(&js, "3", 1, false);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_false(guard_json_done(&js));
    guard_json_feed(&js, NULL, 0, true);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_NUMBER);
    assert_int_equal(ev.len, 3);
    assert_memory_equal(ev.str, "123", 3);
    assert_int_equal(ev.offset, 0);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_true(guard_json_done(&js));
}

static void test_empty_string(void **state)
{
    struct guard_json_event ev;
    struct guard_json js;

    (void)state;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, "{\"\":\"\"}", 7, true);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_OBJECT_BEGIN);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_KEY);
    assert_int_equal(ev.len, 0);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_STRING);
    assert_int_equal(ev.flags, GUARD_JSON_F_BEGIN | GUARD_JSON_F_END);
    assert_int_equal(ev.len, 0);
    assert_non_null(ev.str);
    assert_int_equal(ev.offset, 4);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_OBJECT_END);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_true(guard_json_done(&js));
}

static void test_token_offsets(void **state)
{
    static const char doc[] = "{\"a\": [true, null, -1.5e3, \"x\", {}],\n \"b\":false}";
    static const struct {
        enum guard_json_tok tok;
        unsigned depth;
        bool in_array;
        uint64_t offset;
        const char *text;
    } want[] = {
        {GUARD_JSON_OBJECT_BEGIN, 0, false, 0, NULL}, {GUARD_JSON_KEY, 1, false, 1, "a"},
        {GUARD_JSON_ARRAY_BEGIN, 1, false, 6, NULL},  {GUARD_JSON_TRUE, 2, true, 7, NULL},
        {GUARD_JSON_NULL, 2, true, 13, NULL},         {GUARD_JSON_NUMBER, 2, true, 19, "-1.5e3"},
        {GUARD_JSON_STRING, 2, true, 27, "x"},        {GUARD_JSON_OBJECT_BEGIN, 2, true, 32, NULL},
        {GUARD_JSON_OBJECT_END, 2, true, 33, NULL},   {GUARD_JSON_ARRAY_END, 1, false, 34, NULL},
        {GUARD_JSON_KEY, 1, false, 38, "b"},          {GUARD_JSON_FALSE, 1, false, 42, NULL},
        {GUARD_JSON_OBJECT_END, 0, false, 47, NULL},
    };
    struct guard_json_event ev;
    struct guard_json js;
    size_t i;

    (void)state;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, doc, sizeof(doc) - 1, true);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(guard_json_next(&js, &ev), 1);
        assert_int_equal(ev.tok, want[i].tok);
        assert_int_equal(ev.depth, want[i].depth);
        assert_int_equal(ev.in_array, want[i].in_array);
        assert_int_equal(ev.offset, want[i].offset);
        if (want[i].text) {
            assert_int_equal(ev.len, strlen(want[i].text));
            assert_memory_equal(ev.str, want[i].text, ev.len);
        }
    }
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_true(guard_json_done(&js));
}

static void test_zero_copy(void **state)
{
    static const char doc[] = "[\"hello world\"]";
    static const char part1[] = "[\"hello ", part2[] = "world\"]";
    struct guard_json_event ev;
    struct guard_json js;

    (void)state;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, doc, sizeof(doc) - 1, true);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_STRING);
    assert_ptr_equal(ev.str, doc + 2);
    assert_int_equal(ev.len, 11);
    assert_int_equal(ev.flags, GUARD_JSON_F_BEGIN | GUARD_JSON_F_END);

    /* Split: each fragment points into its own chunk, flags mark first and last. */
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, part1, sizeof(part1) - 1, false);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_ptr_equal(ev.str, part1 + 2);
    assert_int_equal(ev.len, 6);
    assert_int_equal(ev.flags, GUARD_JSON_F_BEGIN);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    guard_json_feed(&js, part2, sizeof(part2) - 1, true);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_ptr_equal(ev.str, part2);
    assert_int_equal(ev.len, 5);
    assert_int_equal(ev.flags, GUARD_JSON_F_END);
    assert_int_equal(ev.offset, 1);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(ev.tok, GUARD_JSON_ARRAY_END);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_true(guard_json_done(&js));
}

/* A UTF-8 character cut by a chunk end is never split between fragments. */
static void test_utf8_split(void **state)
{
    static const char doc[] = "[\"ab\xe2\x82\xac\xf0\x9f\x98\x80\"]";
    struct guard_json_event ev;
    struct guard_json js;
    char text[32];
    size_t cut, n;
    int rc;

    (void)state;
    for (cut = 1; cut < sizeof(doc) - 1; cut++) {
        assert_int_equal(guard_json_init(&js, NULL), 0);
        n = 0;
        guard_json_feed(&js, doc, cut, false);
        while ((rc = guard_json_next(&js, &ev)) == 1) {
            if (ev.tok == GUARD_JSON_STRING) {
                assert_true(utf8_valid((const unsigned char *)ev.str, ev.len));
                memcpy(text + n, ev.str, ev.len);
                n += ev.len;
            }
        }
        assert_int_equal(rc, 0);
        guard_json_feed(&js, doc + cut, sizeof(doc) - 1 - cut, true);
        while ((rc = guard_json_next(&js, &ev)) == 1) {
            if (ev.tok == GUARD_JSON_STRING) {
                assert_true(utf8_valid((const unsigned char *)ev.str, ev.len));
                memcpy(text + n, ev.str, ev.len);
                n += ev.len;
            }
        }
        assert_int_equal(rc, 0);
        assert_true(guard_json_done(&js));
        assert_int_equal(n, 9);
        assert_memory_equal(text, "ab\xe2\x82\xac\xf0\x9f\x98\x80", 9);
    }
}

static void test_strict_rejections(void **state)
{
    static const char *const bad[] = {
        "[1,]",
        "{\"a\":1,}",
        "[1 2]",
        "// c\n[]",
        "[/* c */]",
        "[NaN]",
        "[Infinity]",
        "[-Infinity]",
        "[012]",
        "[-012]",
        "[.5]",
        "[+1]",
        "[1.e5]",
        "[0x10]",
        "['a']",
        "{a:1}",
        "[\"\t\"]",
        "[\"\\a\"]",
        "[\"\\u00\"]",
        "[\"\\uZZZZ\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xe0\x80\xaf\"]",
        "[\"\xf0\x80\x80\xaf\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\xe2\x82\"]",
        "[\"\xff\"]",
        "\f[]",
        "[]\f",
        "[] []",
        "1 2",
        "   ",
        "[",
        "{\"a\"",
        "{\"a\":}",
        "tru",
        "truex",
        "nul",
        "[true false]",
        "\"abc",
        "\"\\",
        "\"\\u12",
        "[1]]",
        "{}}",
        "{\"a\":1]",
        "[1}",
    };
    struct guard_json_error err;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse_with(bad[i], NULL, &err) != -EBADMSG)
            fail_msg("accepted or wrong code: %s", bad[i]);
    }
    assert_int_equal(parse_with("[\"\x7f\"]", NULL, &err), 0);
    assert_int_equal(parse_with("[\"\xf4\x8f\xbf\xbf\"]", NULL, &err), 0);
}

static void test_sticky_error(void **state)
{
    struct guard_json_event ev;
    struct guard_json js;

    (void)state;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, "[1,", 3, false);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    guard_json_feed(&js, "}", 1, false);
    assert_int_equal(guard_json_next(&js, &ev), -EBADMSG);
    assert_int_equal(guard_json_error(&js)->offset, 3);
    guard_json_feed(&js, "2]", 2, true);
    assert_int_equal(guard_json_next(&js, &ev), -EBADMSG);
    assert_int_equal(guard_json_error(&js)->offset, 3);
    assert_false(guard_json_done(&js));
}

static void test_incomplete_with_last(void **state)
{
    struct guard_json_event ev;
    struct guard_json js;

    (void)state;
    assert_int_equal(guard_json_init(&js, NULL), 0);
    guard_json_feed(&js, "{\"a\":", 5, false);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 1);
    assert_int_equal(guard_json_next(&js, &ev), 0);
    assert_false(guard_json_done(&js));
    guard_json_feed(&js, " ", 1, true);
    assert_int_equal(guard_json_next(&js, &ev), -EBADMSG);
    assert_string_equal(guard_json_error(&js)->message, "unexpected end of input");
    assert_int_equal(guard_json_error(&js)->offset, 6);
    assert_false(guard_json_done(&js));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_corpus),          cmocka_unit_test(test_hand_docs_chunking),
        cmocka_unit_test(test_big_strings_chunking), cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_lone_surrogates),      cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_depth_limit),          cmocka_unit_test(test_key_limit),
        cmocka_unit_test(test_number_limit),         cmocka_unit_test(test_empty_string),
        cmocka_unit_test(test_token_offsets),        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_utf8_split),           cmocka_unit_test(test_strict_rejections),
        cmocka_unit_test(test_sticky_error),         cmocka_unit_test(test_incomplete_with_last),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

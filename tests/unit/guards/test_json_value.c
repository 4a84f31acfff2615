/* Unit tests for the JSON tree: building, caps and errors, exact numbers, equality, writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json_value.h"

/* Parse text (NUL-terminated) that must be valid. */
static struct guard_jv_doc *parse_ok(const char *text)
{
    struct guard_json_error err;
    struct guard_jv_doc *doc = NULL;
    int rc = guard_jv_parse(text, strlen(text), NULL, &doc, &err);

    if (rc != 0)
        fail_msg("parse of %s failed: %d %s at %u:%u", text, rc, err.message, err.line, err.column);
    return doc;
}

/* Parse text that must fail with rc at line:column, with a message containing `msg`. */
static void parse_fail(const char *text, size_t len, const struct guard_jv_limits *lim, int rc,
                       uint32_t line, uint32_t column, const char *msg)
{
    struct guard_json_error err;
    struct guard_jv_doc *doc = (struct guard_jv_doc *)0x1;
    int got = guard_jv_parse(text, len, lim, &doc, &err);

    if (got != rc)
        fail_msg("parse of %.*s: rc %d, expected %d", (int)len, text, got, rc);
    assert_null(doc);
    assert_non_null(err.message);
    if (strstr(err.message, msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg);
    if (err.line != line || err.column != column)
        fail_msg("%s: error at %u:%u, expected %u:%u", err.message, err.line, err.column, line,
                 column);
}

/* parse_fail on a string literal. */
#define PARSE_FAIL(text, lim, rc, line, column, msg) \
    parse_fail(text, sizeof(text) - 1, lim, rc, line, column, msg)

/* Compare two numbers given as JSON texts. */
static int num_cmp(const char *a, const char *b)
{
    struct guard_jv_doc *x = parse_ok(a), *y = parse_ok(b);
    int c = guard_jv_number_cmp(guard_jv_doc_root(x), guard_jv_doc_root(y));

    guard_jv_doc_free(x);
    guard_jv_doc_free(y);
    return c < 0 ? -1 : c > 0;
}

static bool num_multiple(const char *a, const char *b)
{
    struct guard_jv_doc *x = parse_ok(a), *y = parse_ok(b);
    bool r = guard_jv_number_multiple_of(guard_jv_doc_root(x), guard_jv_doc_root(y));

    guard_jv_doc_free(x);
    guard_jv_doc_free(y);
    return r;
}

static bool num_integer(const char *a)
{
    struct guard_jv_doc *x = parse_ok(a);
    bool r = guard_jv_number_is_integer(guard_jv_doc_root(x));

    guard_jv_doc_free(x);
    return r;
}

static bool equal_texts(const char *a, const char *b)
{
    struct guard_jv_doc *x = parse_ok(a), *y = parse_ok(b);
    const struct guard_jv *rx = guard_jv_doc_root(x), *ry = guard_jv_doc_root(y);
    bool r = guard_jv_equal(rx, ry);

    /* Equal values hash alike; equality is symmetric. */
    assert_true(r == guard_jv_equal(ry, rx));
    if (r)
        assert_true(guard_jv_hash(rx) == guard_jv_hash(ry));
    guard_jv_doc_free(x);
    guard_jv_doc_free(y);
    return r;
}

static void test_scalars(void **state)
{
    struct guard_jv_doc *doc;
    const struct guard_jv *v;
    const char *s;
    size_t len;

    (void)state;
    doc = parse_ok(" null ");
    assert_int_equal(guard_jv_type(guard_jv_doc_root(doc)), GUARD_JV_NULL);
    guard_jv_doc_free(doc);

    doc = parse_ok("true");
    v = guard_jv_doc_root(doc);
    assert_int_equal(guard_jv_type(v), GUARD_JV_BOOL);
    assert_true(guard_jv_bool(v));
    assert_null(guard_jv_string(v, &len));
    assert_int_equal(len, 0);
    guard_jv_doc_free(doc);

    doc = parse_ok("-12.50e1");
    v = guard_jv_doc_root(doc);
    assert_int_equal(guard_jv_type(v), GUARD_JV_NUMBER);
    s = guard_jv_number_text(v, &len);
    assert_int_equal(len, 8);
    assert_string_equal(s, "-12.50e1"); /* source text kept, NUL-terminated */
    assert_true(guard_jv_number(v) == -125.0);
    guard_jv_doc_free(doc);

    /* Escapes decoded, embedded NUL kept with the length. */
    doc = parse_ok("\"a\\u0000b\\n\\u00e9\\ud83d\\ude00\"");
    v = guard_jv_doc_root(doc);
    s = guard_jv_string(v, &len);
    assert_int_equal(len, 3 + 1 + 2 + 4);
    assert_memory_equal(s, "a\0b\n\xC3\xA9\xF0\x9F\x98\x80", len);
    assert_int_equal(s[len], '\0');
    assert_string_equal(guard_jv_type_name(GUARD_JV_OBJECT), "object");
    assert_int_equal(guard_jv_doc_nodes(doc), 1);
    guard_jv_doc_free(doc);
    guard_jv_doc_free(NULL);
}

static void test_containers(void **state)
{
    struct guard_jv_doc *doc;
    const struct guard_jv *root, *items, *v;
    const struct guard_jv_member *m;
    size_t len;

    (void)state;
    doc = parse_ok("{\"z\": 1, \"a\": [true, {\"k\\u0000\": \"v\"}, []], \"m\": {}}");
    root = guard_jv_doc_root(doc);
    assert_int_equal(guard_jv_type(root), GUARD_JV_OBJECT);
    assert_int_equal(guard_jv_object_len(root), 3);
    /* Source order for iteration. */
    m = guard_jv_object_at(root, 0);
    assert_string_equal(m->key, "z");
    m = guard_jv_object_at(root, 1);
    assert_string_equal(m->key, "a");
    assert_null(guard_jv_object_at(root, 3));
    /* Lookup by key. */
    items = guard_jv_object_get(root, "a", 1);
    assert_non_null(items);
    assert_int_equal(guard_jv_array_len(items), 3);
    assert_true(guard_jv_bool(guard_jv_array_at(items, 0)));
    assert_null(guard_jv_array_at(items, 3));
    v = guard_jv_array_at(items, 1);
    assert_null(guard_jv_object_get(v, "k", 1));
    v = guard_jv_object_get(v, "k\0", 2);
    assert_non_null(v);
    assert_string_equal(guard_jv_string(v, &len), "v");
    assert_int_equal(guard_jv_array_len(guard_jv_array_at(items, 2)), 0);
    assert_int_equal(guard_jv_object_len(guard_jv_object_get(root, "m", 1)), 0);
    assert_null(guard_jv_object_get(root, "zz", 2));
    assert_null(guard_jv_object_get(root, "", 0));
    assert_int_equal(guard_jv_doc_nodes(doc), 8);
    guard_jv_doc_free(doc);
}

/* A long string with escapes reaches the tree whole, however the tokenizer fragments it. */
static void test_long_string(void **state)
{
    size_t n = 200000, i, len;
    char *text = malloc(n * 2 + 3), *want = malloc(n + 1);
    struct guard_jv_doc *doc;
    const char *s;
    size_t o = 0;

    (void)state;
    assert_true(text && want);
    text[o++] = '"';
    for (i = 0; i < n; i++) {
        if (i % 7 == 0) {
            text[o++] = '\\';
            text[o++] = 'n';
            want[i] = '\n';
        } else {
            text[o++] = (char)('a' + i % 26);
            want[i] = (char)('a' + i % 26);
        }
    }
    text[o++] = '"';
    text[o] = '\0';
    doc = parse_ok(text);
    s = guard_jv_string(guard_jv_doc_root(doc), &len);
    assert_int_equal(len, n);
    assert_memory_equal(s, want, n);
    guard_jv_doc_free(doc);
    free(text);
    free(want);
}

static void test_errors(void **state)
{
    struct guard_jv_limits lim = {0};
    char deep[600];
    size_t i;

    (void)state;
    PARSE_FAIL("{\n  \"a\": tru}", NULL, -EBADMSG, 2, 11, "literal");
    PARSE_FAIL("", NULL, -EBADMSG, 1, 1, "end of input");
    PARSE_FAIL("[1,]", NULL, -EBADMSG, 1, 4, "");
    PARSE_FAIL("1 2", NULL, -EBADMSG, 1, 3, "after top-level value");
    /* A repeated key is rejected at the second occurrence. */
    PARSE_FAIL("{\"a\": 1,\n \"b\": 2, \"a\": 3}", NULL, -EBADMSG, 2, 10, "duplicate");
    PARSE_FAIL("[{\"x\":[{\"q\":1,\"q\":1}]}]", NULL, -EBADMSG, 1, 15, "duplicate");
    /* Caps. */
    lim.max_bytes = 4;
    PARSE_FAIL("[1,2]", &lim, -E2BIG, 1, 5, "size limit");
    lim.max_bytes = 0;
    lim.max_nodes = 3;
    PARSE_FAIL("[1,\n2,3]", &lim, -E2BIG, 2, 3, "node limit");
    lim.max_nodes = 0;
    lim.max_depth = 2;
    PARSE_FAIL("[[[1]]]", &lim, -E2BIG, 1, 3, "deeper");
    lim.max_depth = 300;
    PARSE_FAIL("1", &lim, -EINVAL, 0, 0, "ceiling");
    /* The default depth is 64. */
    for (i = 0; i < 65; i++)
        deep[i] = '[';
    parse_fail(deep, 65, NULL, -E2BIG, 1, 65, "deeper");
}

static void test_duplicates_allowed(void **state)
{
    struct guard_jv_limits lim = {.allow_duplicates = true};
    struct guard_jv_doc *doc = NULL;
    const struct guard_jv *v;
    const char *text = "{\"b\": 0, \"a\": 1, \"a\": 2, \"a\": 3}";

    (void)state;
    assert_int_equal(guard_jv_parse(text, strlen(text), &lim, &doc, NULL), 0);
    v = guard_jv_object_get(guard_jv_doc_root(doc), "a", 1);
    assert_non_null(v);
    assert_string_equal(guard_jv_number_text(v, NULL), "1"); /* the first one */
    assert_int_equal(guard_jv_object_len(guard_jv_doc_root(doc)), 4);
    guard_jv_doc_free(doc);
}

static void test_numbers(void **state)
{
    (void)state;
    assert_int_equal(num_cmp("1", "1.0"), 0);
    assert_int_equal(num_cmp("1", "10e-1"), 0);
    assert_int_equal(num_cmp("150", "1.5e2"), 0);
    assert_int_equal(num_cmp("-0", "0"), 0);
    assert_int_equal(num_cmp("0.000", "-0e10"), 0);
    /* Beyond double precision. */
    assert_int_equal(num_cmp("9007199254740993", "9007199254740992"), 1);
    assert_int_equal(num_cmp("1e400", "1e399"), 1);
    assert_int_equal(num_cmp("-1e400", "-1e399"), -1);
    assert_int_equal(num_cmp("1e-400", "0"), 1);
    assert_int_equal(num_cmp("0.1", "0.2"), -1);
    assert_int_equal(num_cmp("-2", "-1"), -1);
    assert_int_equal(num_cmp("-1", "0"), -1);
    assert_int_equal(num_cmp("12.5", "12.49999999999999999999999"), 1);
    assert_int_equal(num_cmp("100", "99.9"), 1);

    assert_true(num_integer("1.0"));
    assert_true(num_integer("1e3"));
    assert_true(num_integer("1.5e1"));
    assert_true(num_integer("-0.0"));
    assert_true(num_integer("1e308"));
    assert_false(num_integer("1.5"));
    assert_false(num_integer("1e-1"));
    assert_false(num_integer("100000000000000000000.000000001"));

    assert_true(num_multiple("10", "2.5"));
    assert_true(num_multiple("0.3", "0.1")); /* not with doubles */
    assert_true(num_multiple("0.0075", "0.0001"));
    assert_true(num_multiple("19.99", "0.01"));
    assert_false(num_multiple("19.999", "0.01"));
    assert_true(num_multiple("0", "7"));
    assert_true(num_multiple("-21", "7"));
    assert_false(num_multiple("4.5", "2"));
    assert_false(num_multiple("1e308", "0.123456789"));
    assert_true(num_multiple("12391239123", "1e-8"));
    assert_true(num_multiple("123456789012345678901234567890", "3"));
    /* Divisors above 18 digits take the big-number path. */
    assert_false(num_multiple("1e30", "1234567890123456789012"));
    assert_true(num_multiple("1e70", "1180591620717411303424")); /* 2^70 */
    assert_false(num_multiple("1e69", "1180591620717411303424"));
    assert_true(num_multiple("1e100000", "1180591620717411303424")); /* zeros capped */
    assert_true(num_multiple("2469135780246913578024", "1234567890123456789012"));
}

static void test_equal_hash(void **state)
{
    (void)state;
    assert_true(equal_texts("{\"a\": 1, \"b\": [1.0, \"x\"]}", "{\"b\": [1, \"x\"], \"a\": 1.0}"));
    assert_false(equal_texts("[1, 2]", "[2, 1]"));
    assert_false(equal_texts("{\"a\": 1}", "{\"a\": 1, \"b\": 1}"));
    assert_false(equal_texts("{\"a\": 1}", "{\"b\": 1}"));
    assert_false(equal_texts("\"a\\u0000\"", "\"a\""));
    assert_true(equal_texts("\"a\\u0000\"", "\"a\\u0000\""));
    assert_false(equal_texts("0", "false"));
    assert_false(equal_texts("1", "true"));
    assert_false(equal_texts("null", "{}"));
    assert_false(equal_texts("[]", "{}"));
    assert_true(equal_texts("[[{}]]", "[[{}]]"));
    assert_true(equal_texts("-0", "0.0"));
}

static void test_write(void **state)
{
    const char *text = "{ \"s\" : \"q\\\"b\\\\n\\n\\u0001\\u007f\xC3\xA9\", \"n\": 1.50,"
                       " \"a\": [ true, false, null, {}, [] ], \"z\\u0000\": -0 }";
    struct guard_jv_doc *doc = parse_ok(text), *again;
    char *out = NULL, *out2 = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(guard_jv_write(guard_jv_doc_root(doc), &out, &len), 0);
    assert_string_equal(out, "{\"s\":\"q\\\"b\\\\n\\n\\u0001\x7f\xC3\xA9\",\"n\":1.50,"
                             "\"a\":[true,false,null,{},[]],\"z\\u0000\":-0}");
    assert_int_equal(len, strlen(out));
    /* The output parses back to an equal value and writes the same text. */
    again = parse_ok(out);
    assert_true(guard_jv_equal(guard_jv_doc_root(doc), guard_jv_doc_root(again)));
    assert_int_equal(guard_jv_write(guard_jv_doc_root(again), &out2, NULL), 0);
    assert_string_equal(out, out2);
    free(out);
    free(out2);
    guard_jv_doc_free(doc);
    guard_jv_doc_free(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_containers),
        cmocka_unit_test(test_long_string),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_duplicates_allowed),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_equal_hash),
        cmocka_unit_test(test_write),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

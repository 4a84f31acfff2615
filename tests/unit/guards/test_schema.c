/* Unit tests for the JSON Schema validator: violations (pointers, keywords, messages), caps,
 * unsupported features, regex translation, formats, references, threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json_value.h"
#include "guards/schema.h"

static struct guard_jv_doc *parse(const char *text)
{
    struct guard_json_error err;
    struct guard_jv_doc *doc = NULL;

    if (guard_jv_parse(text, strlen(text), NULL, &doc, &err) != 0)
        fail_msg("not JSON: %s (%s at %u:%u)", text, err.message, err.line, err.column);
    return doc;
}

static struct guard_schema *compile_lim(const char *text, const struct guard_schema_limits *lim)
{
    struct guard_schema *s = NULL;
    char err[256];
    int rc = guard_schema_parse(text, strlen(text), NULL, lim, &s, err, sizeof(err));

    if (rc != 0)
        fail_msg("schema %s: %d %s", text, rc, err);
    return s;
}

static struct guard_schema *compile(const char *text)
{
    return compile_lim(text, NULL);
}

/* Compile a schema that must fail with rc and a message containing `msg`. */
static void compile_fail(const char *text, unsigned flags, int rc, const char *msg)
{
    struct guard_schema_limits lim = {.flags = flags};
    struct guard_schema *s = (struct guard_schema *)0x1;
    char err[256];
    int got = guard_schema_parse(text, strlen(text), NULL, &lim, &s, err, sizeof(err));

    if (got != rc)
        fail_msg("schema %s: rc %d (%s), expected %d", text, got, got ? err : "", rc);
    assert_null(s);
    if (strstr(err, msg) == NULL)
        fail_msg("schema %s: message \"%s\" lacks \"%s\"", text, err, msg);
}

/* Validate JSON text; the verdict-only mode must agree. */
static int check(const struct guard_schema *s, const char *instance,
                 struct guard_schema_result *res)
{
    struct guard_jv_doc *doc = parse(instance);
    int rc = guard_schema_validate(s, guard_jv_doc_root(doc), NULL, res);
    int rc2 = guard_schema_validate(s, guard_jv_doc_root(doc), NULL, NULL);

    if (rc != rc2)
        fail_msg("%s: verdict %d with violations, %d without", instance, rc, rc2);
    guard_jv_doc_free(doc);
    return rc;
}

static bool is_valid(const char *schema, const char *instance)
{
    struct guard_schema *s = compile(schema);
    struct guard_schema_result res;
    int rc = check(s, instance, &res);

    assert_true(rc == 0 || rc == 1);
    assert_true(res.valid == (rc == 0));
    guard_schema_result_free(&res);
    guard_schema_free(s);
    return rc == 0;
}

static void expect(const struct guard_schema_result *res, size_t i, const char *instance,
                   const char *keyword, const char *schema, const char *message)
{
    const struct guard_schema_violation *v;

    if (i >= res->n)
        fail_msg("violation %zu missing (%zu reported)", i, res->n);
    v = &res->v[i];
    if (strcmp(v->instance, instance) != 0 || strcmp(v->keyword, keyword) != 0 ||
        strcmp(v->schema, schema) != 0 || strcmp(v->message, message) != 0)
        fail_msg("violation %zu: {%s, %s, %s, %s}, expected {%s, %s, %s, %s}", i, v->instance,
                 v->keyword, v->schema, v->message, instance, keyword, schema, message);
}

static void test_violations(void **state)
{
    struct guard_schema *s = compile(
        "{\"type\": \"object\", \"properties\": {\"items\": {\"type\": \"array\", \"items\": "
        "{\"type\": \"object\", \"properties\": {\"name\": {\"type\": \"string\", \"minLength\": "
        "2}}, \"required\": [\"name\", \"id\"]}}, \"a/b~c\": {\"enum\": [1, \"x\"]}}, "
        "\"required\": [\"items\"], \"additionalProperties\": false}");
    struct guard_schema_result res;

    (void)state;
    assert_int_equal(check(s, "{\"items\": [{\"name\": \"ok\", \"id\": 1}]}", &res), 0);
    assert_true(res.valid);
    assert_int_equal(res.total, 0);
    guard_schema_result_free(&res);

    assert_int_equal(check(s,
                           "{\"items\": [{\"name\": \"ok\", \"id\": 1}, {\"name\": 5}, "
                           "{\"name\": \"x\", \"id\": 2}], \"a/b~c\": 2, \"extra\": null}",
                           &res),
                     1);
    assert_false(res.valid);
    assert_false(res.incomplete);
    assert_int_equal(res.total, 5);
    assert_int_equal(res.n, 5);
    /* Per subschema: assertions on the value, then members and items in source order. */
    expect(&res, 0, "/items/1", "required", "/properties/items/items/required",
           "required property \"id\" is missing");
    expect(&res, 1, "/items/1/name", "type", "/properties/items/items/properties/name/type",
           "expected string, got integer");
    expect(&res, 2, "/items/2/name", "minLength",
           "/properties/items/items/properties/name/minLength",
           "string has 1 character, fewer than 2");
    expect(&res, 3, "/a~1b~0c", "enum", "/properties/a~1b~0c/enum",
           "value must be one of [1,\"x\"]");
    expect(&res, 4, "/extra", "additionalProperties", "/additionalProperties",
           "additional property is not allowed");
    guard_schema_result_free(&res);

    assert_int_equal(check(s, "[]", &res), 1);
    expect(&res, 0, "", "type", "/type", "expected object, got array");
    assert_int_equal(res.total, 1);
    guard_schema_result_free(&res);
    guard_schema_free(s);
}

/* Only the first GUARD_SCHEMA_VIOLATIONS are kept; all are counted. */
static void test_violation_cap(void **state)
{
    struct guard_schema *s = compile("{\"items\": {\"type\": \"string\"}}");
    struct guard_schema_result res;
    char text[256];
    size_t o = 0, i;

    (void)state;
    o += (size_t)snprintf(text + o, sizeof(text) - o, "[");
    for (i = 0; i < 20; i++)
        o += (size_t)snprintf(text + o, sizeof(text) - o, "%s%zu", i ? "," : "", i);
    snprintf(text + o, sizeof(text) - o, "]");
    assert_int_equal(check(s, text, &res), 1);
    assert_int_equal(res.total, 20);
    assert_int_equal(res.n, GUARD_SCHEMA_VIOLATIONS);
    expect(&res, 15, "/15", "type", "/items/type", "expected string, got integer");
    guard_schema_result_free(&res);
    guard_schema_free(s);
}

static void test_messages(void **state)
{
    struct guard_schema *s;
    struct guard_schema_result res;

    (void)state;
    s = compile("{\"type\": [\"string\", \"null\"]}");
    assert_int_equal(check(s, "1.5", &res), 1);
    expect(&res, 0, "", "type", "/type", "expected one of null, string, got number");
    guard_schema_result_free(&res);
    guard_schema_free(s);

    s = compile(
        "{\"properties\": {\"n\": {\"minimum\": 10, \"exclusiveMaximum\": 20, "
        "\"multipleOf\": 0.5}, \"c\": {\"const\": {\"k\": [1]}}, \"o\": {\"oneOf\": "
        "[{\"type\": \"integer\"}, {\"minimum\": 0}]}, \"t\": {\"not\": {\"type\": "
        "\"null\"}}, \"p\": {\"pattern\": \"^[a-z]+$\", \"format\": \"uuid\"}, \"a\": "
        "{\"uniqueItems\": true, \"maxItems\": 2, \"contains\": {\"const\": 7}}}, "
        "\"propertyNames\": {\"maxLength\": 1}, \"dependentRequired\": {\"n\": [\"c\", \"zz\"]}}");
    assert_int_equal(check(s,
                           "{\"n\": 9.25, \"c\": {\"k\": [2]}, \"o\": 3, \"t\": null, \"p\": "
                           "\"A1\", \"a\": [1, [1], 1.0]}",
                           &res),
                     1);
    expect(&res, 0, "", "dependentRequired", "/dependentRequired",
           "property \"zz\" is required when \"n\" is present");
    expect(&res, 1, "/n", "minimum", "/properties/n/minimum", "9.25 is less than the minimum 10");
    expect(&res, 2, "/n", "multipleOf", "/properties/n/multipleOf",
           "9.25 is not a multiple of 0.5");
    expect(&res, 3, "/c", "const", "/properties/c/const", "value must be {\"k\":[1]}");
    expect(&res, 4, "/o", "oneOf", "/properties/o/oneOf",
           "value matches oneOf alternatives 0 and 1, expected exactly one");
    expect(&res, 5, "/t", "not", "/properties/t/not", "value must not match the \"not\" schema");
    expect(&res, 6, "/p", "format", "/properties/p/format", "string is not a valid uuid");
    expect(&res, 7, "/p", "pattern", "/properties/p/pattern",
           "string does not match the pattern \"^[a-z]+$\"");
    expect(&res, 8, "/a", "maxItems", "/properties/a/maxItems", "array has 3 items, more than 2");
    expect(&res, 9, "/a", "uniqueItems", "/properties/a/uniqueItems", "items 0 and 2 are equal");
    expect(&res, 10, "/a", "contains", "/properties/a/contains",
           "no item matches the contains schema");
    assert_int_equal(res.total, 11);
    guard_schema_result_free(&res);
    assert_int_equal(check(s, "{\"ab\": 1}", &res), 1);
    expect(&res, 0, "", "propertyNames", "/propertyNames",
           "property name \"ab\" does not match the propertyNames schema");
    guard_schema_result_free(&res);
    guard_schema_free(s);

    s = compile("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}], "
                "\"unevaluatedProperties\": false, \"properties\": {\"a\": true}}");
    assert_int_equal(check(s, "{\"a\": 1, \"b\": 2}", &res), 1);
    expect(&res, 0, "", "anyOf", "/anyOf", "value matches none of the 2 anyOf alternatives");
    expect(&res, 1, "/b", "unevaluatedProperties", "/unevaluatedProperties",
           "unevaluated property is not allowed");
    guard_schema_result_free(&res);
    guard_schema_free(s);
}

/* Numbers compare on their decimal text. */
static void test_numbers(void **state)
{
    (void)state;
    assert_true(is_valid("{\"type\": \"integer\"}", "1.0"));
    assert_true(is_valid("{\"type\": \"integer\"}", "1e300"));
    assert_false(is_valid("{\"type\": \"integer\"}", "1.000000000000000000001"));
    assert_false(is_valid("{\"const\": 9007199254740993}", "9007199254740992"));
    assert_true(is_valid("{\"const\": 9007199254740993}", "9007199254740993.0"));
    assert_true(is_valid("{\"enum\": [[1, {\"a\": 2}]]}", "[1.0, {\"a\": 2e0}]"));
    assert_true(is_valid("{\"multipleOf\": 0.01}", "19.99"));
    assert_false(is_valid("{\"multipleOf\": 0.01}", "19.999"));
    assert_true(is_valid("{\"multipleOf\": 0.1}", "0.3"));
    assert_false(is_valid("{\"maximum\": 9007199254740992}", "9007199254740993"));
    assert_true(is_valid("{\"exclusiveMinimum\": 0}", "1e-400"));
    assert_false(is_valid("{\"exclusiveMinimum\": 0}", "-0.0"));
}

static void test_strings_and_formats(void **state)
{
    struct guard_schema_limits lim = {.flags = GUARD_SCHEMA_F_FORMAT_ANNOTATION};
    struct guard_schema *s;

    (void)state;
    /* Lengths count code points. */
    assert_false(is_valid("{\"maxLength\": 4}", "\"h\\u00e9llo\""));
    assert_true(is_valid("{\"maxLength\": 5, \"minLength\": 5}", "\"h\\u00e9llo\""));
    assert_true(
        is_valid("{\"minLength\": 2, \"maxLength\": 2}", "\"\\ud83d\\ude00\\ud83d\\ude00\""));
    assert_true(is_valid("{\"maxLength\": 3}", "\"a\\u0000b\""));
    assert_true(is_valid("{\"format\": \"date-time\"}", "\"2024-02-29T23:59:60Z\""));
    assert_false(is_valid("{\"format\": \"date-time\"}", "\"2023-02-29T12:00:00Z\""));
    assert_true(is_valid("{\"format\": \"date\"}", "\"2000-02-29\""));
    assert_false(is_valid("{\"format\": \"time\"}", "\"12:00:00\""));
    assert_true(is_valid("{\"format\": \"email\"}", "\"a.b+c@example.org\""));
    assert_false(is_valid("{\"format\": \"email\"}", "\"a@b@example.org\""));
    assert_true(is_valid("{\"format\": \"ipv4\"}", "\"10.0.0.255\""));
    assert_false(is_valid("{\"format\": \"ipv4\"}", "\"10.0.0.010\""));
    assert_true(is_valid("{\"format\": \"ipv6\"}", "\"2001:db8::ff00:42:8329\""));
    assert_false(is_valid("{\"format\": \"ipv6\"}", "\"2001:db8:::1\""));
    assert_true(is_valid("{\"format\": \"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\""));
    /* Unknown formats and non-strings are ignored. */
    assert_true(is_valid("{\"format\": \"hostname\"}", "\"-not a host-\""));
    assert_true(is_valid("{\"format\": \"date\"}", "20240101"));
    /* As an annotation, format accepts anything. */
    s = compile_lim("{\"format\": \"date\"}", &lim);
    assert_int_equal(check(s, "\"yesterday\"", NULL), 0);
    guard_schema_free(s);
}

/* ECMA-262 semantics where PCRE/Hyperscan differ. */
static void test_patterns(void **state)
{
    (void)state;
    assert_true(is_valid("{\"pattern\": \"^\\\\d+$\"}", "\"0123\""));
    assert_false(is_valid("{\"pattern\": \"^\\\\d+$\"}", "\"\\u0661\\u0662\"")); /* ASCII \d */
    assert_false(is_valid("{\"pattern\": \"^abc$\"}", "\"abc\\n\""));   /* $ is the very end */
    assert_true(is_valid("{\"pattern\": \"bc\"}", "\"abcd\""));         /* not anchored */
    assert_false(is_valid("{\"pattern\": \"^a.c$\"}", "\"a\\rc\""));    /* . stops at \r */
    assert_true(is_valid("{\"pattern\": \"^a.c$\"}", "\"a\\u00e9c\"")); /* . is a character */
    assert_false(is_valid("{\"pattern\": \"^\\\\w$\"}", "\"\\u00e9\""));
    assert_true(is_valid("{\"pattern\": \"^\\\\s$\"}", "\"\\u00a0\""));
    assert_true(is_valid("{\"pattern\": \"^\\\\S$\"}", "\"\\u00e9\""));
    assert_true(is_valid("{\"pattern\": \"^[^\\\\d]$\"}", "\"x\""));
    assert_false(is_valid("{\"pattern\": \"^[\\\\D]$\"}", "\"5\""));
    assert_true(is_valid("{\"pattern\": \"^[\\\\W]$\"}", "\"\\u00e9\""));
    assert_true(is_valid("{\"pattern\": \"\\\\bcat\\\\b\"}", "\"a cat!\""));
    assert_false(is_valid("{\"pattern\": \"\\\\bcat\\\\b\"}", "\"concat\""));
    assert_true(is_valid("{\"pattern\": \"^\\\\p{Letter}+$\"}", "\"\\u03c0a\""));
    assert_true(is_valid("{\"pattern\": \"^\\\\u00e9\\\\x41\\\\ud83d\\\\ude00$\"}",
                         "\"\\u00e9A\\ud83d\\ude00\""));
    assert_true(is_valid("{\"pattern\": \"^a{2,3}$\"}", "\"aaa\""));
    assert_true(is_valid("{\"pattern\": \"^a{x}$\"}", "\"a{x}\""));  /* a literal brace */
    assert_true(is_valid("{\"pattern\": \"^[[:a]+$\"}", "\"[:a\"")); /* no POSIX classes */
    assert_true(is_valid("{\"pattern\": \"^$\"}", "\"\""));
    assert_true(is_valid("{\"pattern\": \"^\\\\0$\"}", "\"\\u0000\""));
    assert_true(is_valid("{\"patternProperties\": {\"^x-\": {\"type\": \"string\"}}, "
                         "\"additionalProperties\": false}",
                         "{\"x-a\": \"1\"}"));
    compile_fail("{\"pattern\": \"(?=a)b\"}", 0, -EINVAL, "not supported by Hyperscan");
    compile_fail("{\"pattern\": \"(a)\\\\1\"}", 0, -EINVAL, "back-references");
    compile_fail("{\"pattern\": \"[a\"}", 0, -EINVAL, "unterminated character class");
    compile_fail("{\"pattern\": \"a{1001}\"}", 0, -EINVAL, "counted repeat above 1000");
    compile_fail("{\"properties\": {\"a\": {\"pattern\": 5}}}", 0, -EINVAL,
                 "expected a string at /properties/a/pattern");
}

static void test_unsupported(void **state)
{
    (void)state;
    compile_fail("{\"properties\": {\"x\": {\"$recursiveRef\": \"#\"}}}", 0, -ENOTSUP,
                 "unsupported keyword \"$recursiveRef\" at /properties/x");
    compile_fail("{\"$vocabulary\": {}}", 0, -ENOTSUP,
                 "unsupported keyword \"$vocabulary\" at the root");
    compile_fail("{\"additionalItems\": false}", 0, -ENOTSUP,
                 "unsupported keyword \"additionalItems\"");
    compile_fail("{\"dependencies\": {}}", GUARD_SCHEMA_F_IGNORE_UNKNOWN, -ENOTSUP,
                 "unsupported keyword \"dependencies\"");
    compile_fail("{\"allOf\": [{\"$ref\": \"https://example.com/s.json#/a\"}]}", 0, -ENOTSUP,
                 "unsupported remote $ref \"https://example.com/s.json#/a\" (not in this "
                 "document) at /allOf/0/$ref");
    compile_fail("{\"$schema\": \"http://json-schema.org/draft-07/schema#\"}", 0, -ENOTSUP,
                 "unsupported $schema");
    /* Unknown keywords are errors unless asked for, or named x-*. */
    compile_fail("{\"properties\": {\"a\": {\"requried\": [\"b\"]}}}", 0, -EINVAL,
                 "unknown keyword \"requried\" at /properties/a");
    guard_schema_free(compile("{\"x-vendor\": {\"anything\": 1}, \"title\": \"t\", "
                              "\"description\": \"d\", \"default\": 1, \"examples\": [], "
                              "\"$comment\": \"c\", \"deprecated\": true, \"readOnly\": false, "
                              "\"writeOnly\": false, \"contentMediaType\": \"application/json\", "
                              "\"contentEncoding\": \"base64\", \"contentSchema\": {}, "
                              "\"$schema\": \"https://json-schema.org/draft/2020-12/schema\", "
                              "\"$id\": \"urn:x\", \"$anchor\": \"top\"}"));
    {
        struct guard_schema_limits lim = {.flags = GUARD_SCHEMA_F_IGNORE_UNKNOWN};

        guard_schema_free(compile_lim("{\"requried\": [\"b\"], \"nullable\": true}", &lim));
    }
}

static void test_invalid_schemas(void **state)
{
    (void)state;
    compile_fail("{\"minLength\": -1}", 0, -EINVAL,
                 "expected a non-negative integer at /minLength");
    compile_fail("{\"minItems\": 1.5}", 0, -EINVAL, "non-negative integer");
    compile_fail("{\"type\": \"str\"}", 0, -EINVAL, "unknown type \"str\" at /type");
    compile_fail("{\"type\": []}", 0, -EINVAL, "expected a type name");
    compile_fail("{\"multipleOf\": 0}", 0, -EINVAL, "above 0");
    compile_fail("{\"allOf\": []}", 0, -EINVAL, "non-empty array");
    compile_fail("{\"required\": [1]}", 0, -EINVAL, "array of strings");
    compile_fail("{\"properties\": {\"a\": 3}}", 0, -EINVAL,
                 "a schema must be an object or a boolean at /properties/a");
    compile_fail("{\"$ref\": \"#/$defs/missing\"}", 0, -EINVAL, "points to nothing at /$ref");
    compile_fail("{\"$ref\": \"#nope\"}", 0, -EINVAL, "no such $anchor");
    compile_fail("{\"$ref\": \"#/enum/0\", \"enum\": [1]}", 0, -EINVAL,
                 "a schema must be an object or a boolean at /enum/0");
    compile_fail("{\"$defs\": {\"a\": {\"$id\": \"urn:a\"}, \"b\": {\"$id\": \"urn:a\"}}}", 0,
                 -EINVAL, "duplicate $id \"urn:a\"");
    compile_fail("{\"$id\": \"urn:a#frag\"}", 0, -EINVAL, "has a fragment");
    compile_fail("[1, ", 0, -EINVAL, "not valid JSON: unexpected end of input at line 1, column 5");
}

static void test_refs(void **state)
{
    const char *tree =
        "{\"$id\": \"https://example.com/tree\", \"$ref\": \"#/$defs/node\", \"$defs\": {"
        "\"node\": {\"type\": \"object\", \"properties\": {\"value\": {\"type\": \"number\"}, "
        "\"children\": {\"type\": \"array\", \"items\": {\"$ref\": \"tree\"}}}, "
        "\"required\": [\"value\"], \"additionalProperties\": false}}}";
    struct guard_schema *s = compile(tree);
    struct guard_schema_result res;

    (void)state;
    assert_int_equal(
        check(s, "{\"value\": 1, \"children\": [{\"value\": 2, \"children\": []}]}", &res), 0);
    guard_schema_result_free(&res);
    assert_int_equal(
        check(s, "{\"value\": 1, \"children\": [{\"value\": 2, \"children\": [{}]}]}", &res), 1);
    /* The schema location is where the keyword is written, not the path through $ref. */
    expect(&res, 0, "/children/0/children/0", "required", "/$defs/node/required",
           "required property \"value\" is missing");
    guard_schema_result_free(&res);
    guard_schema_free(s);

    /* Pointer escapes, percent-escapes, anchors, $id-relative references. */
    assert_true(is_valid("{\"$defs\": {\"a/b\": {\"type\": \"integer\"}, \"c%d\": {\"minimum\": "
                         "3}}, \"allOf\": [{\"$ref\": \"#/$defs/a~1b\"}, {\"$ref\": "
                         "\"#/$defs/c%25d\"}]}",
                         "4"));
    assert_false(is_valid("{\"$defs\": {\"a/b\": {\"type\": \"integer\"}}, \"$ref\": "
                          "\"#/$defs/a~1b\"}",
                          "4.5"));
    assert_false(is_valid("{\"$ref\": \"#pos\", \"$defs\": {\"p\": {\"$anchor\": \"pos\", "
                          "\"minimum\": 0}}}",
                          "-1"));
    assert_true(is_valid("{\"$id\": \"http://x.test/a/root.json\", \"$ref\": \"b/leaf.json\", "
                         "\"$defs\": {\"l\": {\"$id\": \"b/leaf.json\", \"type\": \"string\"}}}",
                         "\"s\""));
    /* RFC 3986 resolution: dot segments, absolute paths, URNs. */
    assert_false(is_valid("{\"$id\": \"http://x.test/a/b/root.json\", \"$ref\": "
                          "\"../c/./d/../leaf.json\", \"$defs\": {\"l\": {\"$id\": "
                          "\"http://x.test/a/c/leaf.json\", \"type\": \"string\"}}}",
                          "1"));
    assert_false(is_valid("{\"$id\": \"http://x.test/a/b/root.json\", \"$ref\": "
                          "\"/z/leaf.json\", \"$defs\": {\"l\": {\"$id\": "
                          "\"http://x.test/z/leaf.json\", \"type\": \"string\"}}}",
                          "1"));
    assert_false(is_valid("{\"$id\": \"urn:uuid:1234\", \"properties\": {\"a\": {\"$ref\": "
                          "\"urn:uuid:1234#/$defs/s\"}}, \"$defs\": {\"s\": {\"type\": "
                          "\"string\"}}}",
                          "{\"a\": 1}"));
    /* A $ref into an unknown keyword is still resolved. */
    {
        struct guard_schema_limits lim = {.flags = GUARD_SCHEMA_F_IGNORE_UNKNOWN};
        struct guard_schema *u = compile_lim(
            "{\"stash\": {\"s\": {\"type\": \"null\"}}, \"$ref\": \"#/stash/s\"}", &lim);

        assert_int_equal(check(u, "null", NULL), 0);
        assert_int_equal(check(u, "0", &res), 1);
        expect(&res, 0, "", "type", "/stash/s/type", "expected null, got integer");
        guard_schema_result_free(&res);
        guard_schema_free(u);
    }
}

/* $dynamicRef: the outermost resource of the dynamic scope with the anchor decides. */
static void test_dynamic_ref(void **state)
{
    const char *list = "{\"$id\": \"https://example.com/strings\", \"$ref\": \"list\", "
                       "\"$defs\": {\"item\": {\"$dynamicAnchor\": \"item\", \"type\": "
                       "\"string\"}, \"list\": {\"$id\": \"list\", \"type\": \"array\", "
                       "\"items\": {\"$dynamicRef\": \"#item\"}, \"$defs\": {\"any\": "
                       "{\"$dynamicAnchor\": \"item\"}}}}}";
    struct guard_schema *s = compile(list);
    struct guard_schema_result res;

    (void)state;
    assert_int_equal(check(s, "[\"a\", \"b\"]", &res), 0);
    guard_schema_result_free(&res);
    assert_int_equal(check(s, "[\"a\", 2]", &res), 1);
    expect(&res, 0, "/1", "type", "/$defs/item/type", "expected string, got integer");
    guard_schema_result_free(&res);
    guard_schema_free(s);
    /* Entered directly, the list's own anchor is the outermost: anything goes. */
    assert_true(is_valid("{\"$id\": \"https://example.com/list\", \"type\": \"array\", "
                         "\"items\": {\"$dynamicRef\": \"#item\"}, \"$defs\": {\"any\": "
                         "{\"$dynamicAnchor\": \"item\"}}}",
                         "[1, \"a\"]"));
    /* Without a dynamic anchor at the static target, $dynamicRef is a plain $ref. */
    assert_false(is_valid("{\"$dynamicRef\": \"#/$defs/n\", \"$defs\": {\"n\": {\"type\": "
                          "\"null\"}}}",
                          "1"));
}

/* uniqueItems reports the earliest-ending equal pair, and identical items stay cheap. */
static void test_unique_items(void **state)
{
    struct guard_schema_limits lim = {.max_steps = 100};
    struct guard_schema *s = compile_lim("{\"uniqueItems\": true}", &lim);
    struct guard_schema_result res;
    char *text = malloc(5000 * 2 + 2);
    size_t i, o = 0;

    (void)state;
    assert_int_equal(check(s, "[1, 2, {\"a\": [2]}, 2.0, {\"a\": [2e0]}, 1]", &res), 1);
    expect(&res, 0, "", "uniqueItems", "/uniqueItems", "items 1 and 3 are equal");
    assert_int_equal(res.total, 1);
    guard_schema_result_free(&res);
    assert_int_equal(check(s, "[[1, 2], [2, 1], {\"a\": 1, \"b\": 2}, {\"b\": 1, \"a\": 2}]", &res),
                     0);
    guard_schema_result_free(&res);
    assert_non_null(text);
    text[o++] = '[';
    for (i = 0; i < 5000; i++) {
        if (i)
            text[o++] = ',';
        text[o++] = '7';
    }
    text[o++] = ']';
    text[o] = '\0';
    assert_int_equal(check(s, text, &res), 1);
    assert_false(res.incomplete);
    expect(&res, 0, "", "uniqueItems", "/uniqueItems", "items 0 and 1 are equal");
    guard_schema_result_free(&res);
    free(text);
    guard_schema_free(s);
}

/* $ref loops end at the depth cap, and a cap makes the instance invalid (fail closed). */
static void test_caps(void **state)
{
    struct guard_schema_limits lim = {.max_steps = 50};
    struct guard_schema *s;
    struct guard_schema_result res;

    (void)state;
    s = compile("{\"$ref\": \"#\"}");
    assert_int_equal(check(s, "1", &res), 1);
    assert_true(res.incomplete);
    expect(&res, 0, "", "limit", "", "schema recursion deeper than 256 (a $ref cycle?)");
    guard_schema_result_free(&res);
    guard_schema_free(s);

    /* Even where another branch would have matched. */
    s = compile("{\"anyOf\": [{\"$ref\": \"#\"}, true]}");
    assert_int_equal(check(s, "{}", &res), 1);
    assert_true(res.incomplete);
    guard_schema_result_free(&res);
    guard_schema_free(s);

    s = compile_lim("{\"items\": {\"type\": \"integer\"}}", &lim);
    assert_int_equal(check(s, "[1,2,3]", &res), 0);
    guard_schema_result_free(&res);
    {
        char text[1024];
        size_t o = 0, i;

        o += (size_t)snprintf(text, sizeof(text), "[");
        for (i = 0; i < 100; i++)
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s\"x\"", i ? "," : "");
        snprintf(text + o, sizeof(text) - o, "]");
        assert_int_equal(check(s, text, &res), 1);
        assert_true(res.incomplete);
        assert_int_equal(res.n, GUARD_SCHEMA_VIOLATIONS);
        expect(&res, GUARD_SCHEMA_VIOLATIONS - 1, "", "limit", "",
               "validation stopped after 50 steps (the step limit)");
        guard_schema_result_free(&res);
    }
    guard_schema_free(s);

    /* Schema size and regex caps. */
    lim.max_steps = 0;
    lim.max_nodes = 3;
    {
        struct guard_schema *t = NULL;
        char err[128];
        const char *text = "{\"allOf\": [{}, {}, {}]}";

        assert_int_equal(guard_schema_parse(text, strlen(text), NULL, &lim, &t, err, sizeof(err)),
                         -E2BIG);
        assert_non_null(strstr(err, "more than 3 subschemas"));
        lim.max_nodes = 0;
        lim.max_patterns = 1;
        text = "{\"pattern\": \"a\", \"patternProperties\": {\"b\": true}}";
        assert_int_equal(guard_schema_parse(text, strlen(text), NULL, &lim, &t, err, sizeof(err)),
                         -E2BIG);
        assert_non_null(strstr(err, "more than 1 regexes"));
        lim.max_depth = GUARD_SCHEMA_MAX_DEPTH + 1;
        assert_int_equal(guard_schema_parse("{}", 2, NULL, &lim, &t, err, sizeof(err)), -EINVAL);
    }
}

static void test_resources(void **state)
{
    struct guard_jv_doc *main_doc =
        parse("{\"$ref\": \"https://schemas.test/common.json#/$defs/id\"}");
    struct guard_jv_doc *common =
        parse("{\"$defs\": {\"id\": {\"type\": \"string\", \"pattern\": \"^[0-9a-f]{8}$\"}}}");
    struct guard_schema_resource res_list[] = {
        {"https://schemas.test/common.json", guard_jv_doc_root(common)},
    };
    struct guard_schema *s = NULL;
    struct guard_schema_result res;
    struct guard_jv_doc *inst = parse("\"xyz\"");
    char err[256];

    (void)state;
    assert_int_equal(
        guard_schema_new(guard_jv_doc_root(main_doc), NULL, res_list, 1, &s, err, sizeof(err)), 0);
    assert_int_equal(guard_schema_validate(s, guard_jv_doc_root(inst), NULL, &res), 1);
    expect(&res, 0, "", "pattern", "https://schemas.test/common.json#/$defs/id/pattern",
           "string does not match the pattern \"^[0-9a-f]{8}$\"");
    guard_schema_result_free(&res);
    guard_schema_free(s);
    guard_jv_doc_free(inst);
    guard_jv_doc_free(common);
    guard_jv_doc_free(main_doc);
}

struct thread_arg {
    const struct guard_schema *s;
    struct guard_jv_doc *good, *bad;
    bool own_scratch;
    int failures;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    struct guard_schema_scratch *sc = a->own_scratch ? guard_schema_scratch_new(a->s) : NULL;
    struct guard_schema_result res;
    int i;

    for (i = 0; i < 300; i++) {
        if (guard_schema_validate(a->s, guard_jv_doc_root(a->good), sc, NULL) != 0)
            a->failures++;
        if (guard_schema_validate(a->s, guard_jv_doc_root(a->bad), sc, &res) != 1 || res.total != 2)
            a->failures++;
        guard_schema_result_free(&res);
    }
    guard_schema_scratch_free(sc);
    return NULL;
}

/* One compiled schema, several threads, with and without their own scratch. */
static void test_threads(void **state)
{
    struct guard_schema *s =
        compile("{\"type\": \"array\", \"items\": {\"type\": \"object\", \"patternProperties\": "
                "{\"^k[0-9]+$\": {\"type\": \"string\", \"pattern\": \"^v\"}}, "
                "\"additionalProperties\": false}}");
    struct guard_jv_doc *good = parse("[{\"k1\": \"v1\"}, {\"k22\": \"vv\"}]");
    struct guard_jv_doc *bad = parse("[{\"k1\": \"x\"}, {\"other\": 1}]");
    struct thread_arg args[4];
    pthread_t th[4];
    int i;

    (void)state;
    for (i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){s, good, bad, i % 2 == 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    guard_jv_doc_free(good);
    guard_jv_doc_free(bad);
    guard_schema_free(s);
    guard_schema_free(NULL);
    guard_schema_result_free(NULL);
    guard_schema_scratch_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_violations),
        cmocka_unit_test(test_violation_cap),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_strings_and_formats),
        cmocka_unit_test(test_patterns),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_invalid_schemas),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_dynamic_ref),
        cmocka_unit_test(test_unique_items),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

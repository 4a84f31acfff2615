/* Unit tests for the typosquatting detector; `--check CORPUS` and `--bench CORPUS` modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/deps/typo.h"
#include "tests/unit/test_files.h"

/* A small hand-written corpus: popular names first, then a few legitimate near-pairs with
 * comparable downloads. */
static const char small_tsv[] = "# test corpus\n"
                                "lodash\t500000000\n"
                                "express\t300000000\n"
                                "react\t290000000\n"
                                "cross-env\t200000000\n"
                                "moment\t150000000\n"
                                "jquery\t120000000\n"
                                "@babel/core\t110000000\n"
                                "node-sass\t100000000\n"
                                "babel-cli\t90000000\n"
                                "mysql\t80000000\n"
                                "commander\t70000000\n"
                                "webpack\t60000000\n"
                                "@splidejs/splide\t50000000\n"
                                "ms\t45000000\n"
                                "url\t40000000\n"
                                "ini\t35000000\n"
                                "request\t30000000\n"
                                "electron\t25000000\n"
                                "chalk\t20000000\n"
                                "colors\t15000000\n"
                                "debug\t10000000\n"
                                "urql\t9000000\n"
                                "minio\t8000000\n"
                                "requests\t7000000\n"
                                "\n";

static struct deps_typo_corpus *small(void)
{
    struct deps_typo_error err;
    struct deps_typo_corpus *c = deps_typo_corpus_new(small_tsv, strlen(small_tsv), &err);

    if (c == NULL)
        fail_msg("corpus: %s", err.message);
    return c;
}

/* `name` must be flagged against `target` with technique t (NONE: any). */
static void flagged(const struct deps_typo_corpus *c, const char *name, const char *target,
                    enum deps_typo_technique t)
{
    struct deps_typo_match m;
    int rc = deps_typo_check(c, name, &m);

    if (rc != 1)
        fail_msg("%s: not flagged (rc %d)", name, rc);
    if (strcmp(m.target, target) != 0)
        fail_msg("%s: target %s, expected %s", name, m.target, target);
    if (t != DEPS_TYPO_NONE && m.technique != t)
        fail_msg("%s: technique %s, expected %s", name, deps_typo_technique_name(m.technique),
                 deps_typo_technique_name(t));
    assert_true(m.severity != DEPS_TYPO_SEV_NONE);
    assert_int_equal(m.target_rank, deps_typo_corpus_rank(c, target));
}

static void clean(const struct deps_typo_corpus *c, const char *name)
{
    struct deps_typo_match m;
    int rc = deps_typo_check(c, name, &m);

    if (rc != 0)
        fail_msg("%s: flagged against %s (%s)", name, m.target,
                 deps_typo_technique_name(m.technique));
    assert_null(m.target);
}

static void test_techniques(void **state)
{
    struct deps_typo_corpus *c = small();
    struct deps_typo_match m;

    (void)state;
    flagged(c, "cross.env", "cross-env", DEPS_TYPO_SEPARATOR);
    flagged(c, "cross_env", "cross-env", DEPS_TYPO_SEPARATOR);
    flagged(c, "babel_cli", "babel-cli", DEPS_TYPO_SEPARATOR);
    flagged(c, "nodesass", "node-sass", DEPS_TYPO_SEPARATOR);
    flagged(c, "jquery-js", "jquery", DEPS_TYPO_AFFIX);
    flagged(c, "cross-env.js", "cross-env", DEPS_TYPO_AFFIX);
    flagged(c, "mysqljs", "mysql", DEPS_TYPO_AFFIX);
    flagged(c, "node-mysql", "mysql", DEPS_TYPO_AFFIX);
    flagged(c, "express-cli", "express", DEPS_TYPO_AFFIX);
    flagged(c, "splidejs-splide", "@splidejs/splide", DEPS_TYPO_SCOPE);
    flagged(c, "babel-core", "@babel/core", DEPS_TYPO_SCOPE);
    flagged(c, "@evil/lodash", "lodash", DEPS_TYPO_SCOPE);
    flagged(c, "1odash", "lodash", DEPS_TYPO_HOMOGLYPH);
    flagged(c, "c0mmander", "commander", DEPS_TYPO_HOMOGLYPH);
    flagged(c, "cornmander", "commander", DEPS_TYPO_HOMOGLYPH);
    flagged(c, "vvebpack", "webpack", DEPS_TYPO_HOMOGLYPH);
    flagged(c,
            "l\xd0\xbe"
            "dash",
            "lodash", DEPS_TYPO_HOMOGLYPH); /* Cyrillic o */
    flagged(c, "lodahs", "lodash", DEPS_TYPO_TRANSPOSE);
    flagged(c, "exrpess", "express", DEPS_TYPO_TRANSPOSE);
    flagged(c, "expres", "express", DEPS_TYPO_PLURAL);
    flagged(c, "momentt", "moment", DEPS_TYPO_PLURAL);
    flagged(c, "electrn", "electron", DEPS_TYPO_EDIT1);
    assert_int_equal(deps_typo_check(c, "lodash_", &m), 1);
    assert_string_equal(deps_typo_technique_name(m.technique), "separator");
    assert_int_equal(m.severity, DEPS_TYPO_SEV_HIGH);
    assert_int_equal(m.target_downloads, 500000000);
    /* a popular name under another scope is also how forks are published: medium; a scope
     * dropped imitates the scoped package: high */
    assert_int_equal(deps_typo_check(c, "@evil/lodash", &m), 1);
    assert_int_equal(m.severity, DEPS_TYPO_SEV_MEDIUM);
    assert_int_equal(deps_typo_check(c, "babel-core", &m), 1);
    assert_int_equal(m.severity, DEPS_TYPO_SEV_HIGH);
    deps_typo_corpus_free(c);
}

static void test_legitimate(void **state)
{
    struct deps_typo_corpus *c = small();

    (void)state;
    /* The corpus members themselves, and near-pairs of comparable popularity. */
    clean(c, "lodash");
    clean(c, "LODASH");
    clean(c, "urql");
    clean(c, "minio");
    clean(c, "requests");
    clean(c, "colors");
    /* Unrelated or far names. */
    clean(c, "left-pad");
    clean(c, "my-own-package");
    clean(c, "@myorg/utils");
    /* @types is only published by DefinitelyTyped. */
    clean(c, "@types/lodash");
    clean(c, "@types/expres");
    deps_typo_corpus_free(c);
}

static void test_short_names(void **state)
{
    struct deps_typo_corpus *c = small();

    (void)state;
    /* One edit from a two- or three-letter name is no evidence. */
    clean(c, "mss");
    clean(c, "mz");
    clean(c, "uri");
    clean(c, "in");
    clean(c, "ini2");
    clean(c, "react2");
    deps_typo_corpus_free(c);
}

static void test_garbage(void **state)
{
    struct deps_typo_corpus *c = small();
    struct deps_typo_match m;
    char longname[400];

    (void)state;
    clean(c, "");
    clean(c, "lo dash");
    clean(c, "lodash\n");
    clean(c, "\xff\xfe");
    clean(c, "lod\xc3");            /* truncated UTF-8 */
    clean(c, "l\xe2\x80\x8bodash"); /* zero-width space: not a name npm accepts */
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    clean(c, longname);
    memcpy(longname, "lodash", 6);
    longname[215] = '\0';
    clean(c, longname);
    assert_int_equal(deps_typo_check(NULL, "x", &m), -EINVAL);
    assert_int_equal(deps_typo_check(c, NULL, &m), -EINVAL);
    assert_int_equal(deps_typo_check(c, "cross.env", NULL), 1);
    deps_typo_corpus_free(c);
    deps_typo_corpus_free(NULL);
}

static void parse_fail(const char *text, uint32_t line, const char *msg)
{
    struct deps_typo_error err;
    struct deps_typo_corpus *c = deps_typo_corpus_new(text, strlen(text), &err);

    assert_null(c);
    if (strstr(err.message, msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg);
    if (err.line != line)
        fail_msg("%s: line %u, expected %u", err.message, err.line, line);
}

static void test_corpus_parse(void **state)
{
    struct deps_typo_error err;
    struct deps_typo_corpus *c, *d;
    const char ok[] = "# c\r\na\t1\r\n\r\nB\t2";

    (void)state;
    parse_fail("a\t1\nb 2\n", 2, "one tab");
    parse_fail("a\t1\n\t2\n", 2, "empty package name");
    parse_fail("a\t1\nb\t-2\n", 2, "decimal");
    parse_fail("a\t1\nb\t2\tx\n", 2, "decimal");
    parse_fail("a\t\n", 1, "1 to 19 digits");
    parse_fail("a\t12345678901234567890\n", 1, "1 to 19 digits");
    parse_fail("a b\t1\n", 1, "space");
    parse_fail("a\t1\nb\t2\nA\t3\n", 3, "duplicate package name \"A\" (first on line 1)");
    c = deps_typo_corpus_new(ok, strlen(ok), &err);
    assert_non_null(c);
    assert_int_equal(deps_typo_corpus_size(c), 2);
    assert_int_equal(deps_typo_corpus_rank(c, "b"), 2);
    assert_int_equal(deps_typo_corpus_rank(c, "c"), 0);
    assert_true(strncmp(deps_typo_corpus_hash(c), "fnv1a64:", 8) == 0);
    d = deps_typo_corpus_new("# c\na\t1\nB\t3\n", 12, &err);
    assert_non_null(d);
    assert_string_not_equal(deps_typo_corpus_hash(c), deps_typo_corpus_hash(d));
    deps_typo_corpus_free(d);
    deps_typo_corpus_free(c);
    c = deps_typo_corpus_new("", 0, &err);
    assert_non_null(c);
    assert_int_equal(deps_typo_corpus_size(c), 0);
    clean(c, "lodash");
    deps_typo_corpus_free(c);
}

/* A corpus of a few thousand generated names (hundreds of thousands of index keys, sorted
 * in several passes): every name is found at its rank, a near name is flagged against the
 * right target, and a duplicate far from its first line is reported with both lines. */
static void test_large_index(void **state)
{
    enum { N = 3000 };
    size_t cap = (size_t)N * 40 + 64, len = 0;
    char *tsv = malloc(cap), name[64];
    struct deps_typo_error err;
    struct deps_typo_corpus *c;

    (void)state;
    assert_non_null(tsv);
    for (unsigned i = 0; i < N; i++) {
        /* distinct names of 6 to 13 letters, downloads falling with the rank */
        unsigned v = i * 2654435761u, k = 6 + i % 8;
        for (unsigned j = 0; j < k; j++, v = v * 1103515245u + 12345u)
            name[j] = (char)('a' + (v >> 16) % 26);
        snprintf(name + k, sizeof(name) - k, "%u", i);
        len += (size_t)snprintf(tsv + len, cap - len, "%s\t%u\n", name, 100000000u - i * 1000u);
    }
    c = deps_typo_corpus_new(tsv, len, &err);
    if (c == NULL)
        fail_msg("corpus: %s", err.message);
    assert_int_equal(deps_typo_corpus_size(c), N);
    for (size_t pos = 0, rank = 1; pos < len; rank++) {
        size_t t = strcspn(tsv + pos, "\t");
        memcpy(name, tsv + pos, t);
        name[t] = '\0';
        assert_int_equal(deps_typo_corpus_rank(c, name), rank);
        if (rank == 7) { /* a transposition of a top name */
            char tw[64];
            memcpy(tw, name, t + 1);
            tw[1] = name[2];
            tw[2] = name[1];
            if (tw[1] != tw[2])
                flagged(c, tw, name, DEPS_TYPO_NONE);
        }
        pos += strcspn(tsv + pos, "\n") + 1;
    }
    deps_typo_corpus_free(c);
    /* the name of line 17 again on the last line */
    size_t p17 = 0;
    for (int l = 1; l < 17; l++)
        p17 += strcspn(tsv + p17, "\n") + 1;
    size_t t17 = strcspn(tsv + p17, "\t");
    memcpy(name, tsv + p17, t17);
    name[t17] = '\0';
    len += (size_t)snprintf(tsv + len, cap - len, "%s\t1\n", name);
    char msg[128];
    snprintf(msg, sizeof(msg), "duplicate package name \"%s\" (first on line 17)", name);
    tsv[len] = '\0';
    parse_fail(tsv, N + 1, msg);
    free(tsv);
}

static struct deps_typo_corpus *load(const char *path)
{
    struct deps_typo_error err;
    struct deps_typo_corpus *c;
    size_t len = 0;
    char *buf = test_slurp(path, &len);

    if (buf == NULL) {
        fprintf(stderr, "%s: cannot read\n", path);
        return NULL;
    }
    c = deps_typo_corpus_new(buf, len, &err);
    if (c == NULL)
        fprintf(stderr, "%s\n", err.message);
    free(buf);
    return c;
}

/* The shipped corpus parses, and popular names in it are not flagged. */
static void test_shipped_corpus(void **state)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char path[1024];
    struct deps_typo_corpus *c;

    (void)state;
    if (src == NULL || !*src)
        skip();
    snprintf(path, sizeof(path), "%s/rules/supply-chain/top-packages.tsv", src);
    c = load(path);
    assert_non_null(c);
    assert_true(deps_typo_corpus_size(c) >= 10000);
    clean(c, "semver");
    clean(c, "react-dom");
    clean(c, "@babel/core");
    flagged(c, "cross_env", "cross-env", DEPS_TYPO_SEPARATOR);
    flagged(c, "reqeust", "request", DEPS_TYPO_TRANSPOSE);
    deps_typo_corpus_free(c);
}

/* Lines of names on stdin; one line out each: name, 0/1, target, technique, severity. */
static int check_mode(const char *corpus)
{
    struct deps_typo_corpus *c = load(corpus);
    char line[4096];

    if (c == NULL)
        return 2;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        struct deps_typo_match m;
        size_t n = strcspn(line, "\r\n");
        int rc;

        line[n] = '\0';
        rc = deps_typo_check(c, line, &m);
        if (rc == 1)
            printf("%s\t1\t%s\t%s\t%s\t%u\t%u\n", line, m.target,
                   deps_typo_technique_name(m.technique), deps_typo_severity_name(m.severity),
                   m.target_rank, m.distance);
        else
            printf("%s\t0\t\t\t\t\t\n", line);
    }
    deps_typo_corpus_free(c);
    return 0;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Queries a second over the corpus names, each also with one letter replaced, and the
 * corpus build time. */
static int bench_mode(const char *corpus)
{
    size_t len = 0, i, q = 0, hits = 0, n_names = 0;
    char *buf = test_slurp(corpus, &len), *p, *end;
    char **names = NULL;
    struct deps_typo_corpus *c;
    double t0, t1, t2;
    int round, rc = 2;

    if (buf == NULL)
        return 2;
    t0 = now();
    c = deps_typo_corpus_new(buf, len, NULL);
    t1 = now();
    names = calloc(deps_typo_corpus_size(c) + 1, sizeof(*names));
    if (c == NULL || names == NULL)
        goto out;
    for (p = buf, end = buf + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *tab;

        if (nl == NULL)
            nl = end;
        *nl = '\0';
        tab = strchr(p, '\t');
        if (*p != '#' && tab != NULL && n_names < deps_typo_corpus_size(c)) {
            *tab = '\0';
            names[n_names++] = p;
        }
        p = nl + 1;
    }
    t1 = now();
    for (round = 0; round < 4; round++) {
        for (i = 0; i < n_names; i++) {
            char name[256];
            size_t k;

            snprintf(name, sizeof(name), "%s", names[i]);
            k = strlen(name);
            if (round % 2 == 1 && k > 3)
                name[k / 2] = (char)('a' + (i % 26));
            hits += deps_typo_check(c, name, NULL) == 1;
            q++;
        }
    }
    t2 = now();
    printf("corpus %zu names, build %.3f s, %zu queries in %.3f s: %.0f queries/s (%zu hits)\n",
           deps_typo_corpus_size(c), t1 - t0, q, t2 - t1, (double)q / (t2 - t1), hits);
    rc = 0;
out:
    free(names);
    deps_typo_corpus_free(c);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_techniques),   cmocka_unit_test(test_legitimate),
        cmocka_unit_test(test_short_names),  cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_corpus_parse), cmocka_unit_test(test_shipped_corpus),
        cmocka_unit_test(test_large_index),
    };

    if (argc == 3 && strcmp(argv[1], "--check") == 0)
        return check_mode(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--bench") == 0)
        return bench_mode(argv[2]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

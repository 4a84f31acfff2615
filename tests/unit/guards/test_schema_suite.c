/* Conformance: the JSON-Schema-Test-Suite (draft 2020-12) against the schema validator. Every
 * case of a supported keyword must pass; a schema using something unsupported must fail to
 * compile with "unsupported", and only the groups listed below may do so. */
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
#include <sys/stat.h>

#include "guards/json_value.h"
#include "guards/schema.h"

/* Set from argv[1] or WARDEN_EVAL_DIR (CMake passes ../shared/eval). */
static const char *eval_dir;

/* Groups whose schema needs a feature this engine does not implement, by file and group
 * description. The test fails if one of them compiles, or if any other group does not. */
static const char *const expected_unsupported[][2] = {
    {"defs.json", "validate definition against metaschema"},
    {"ref.json", "remote ref, containing refs itself"},
    {"vocabulary.json", "schema that uses custom metaschema with with no validation vocabulary"},
    {"vocabulary.json", "ignore unrecognized optional vocabulary"},
};

/* optional/format files whose format this engine asserts. */
static const char *const format_files[] = {"date-time.json", "date.json", "time.json", "email.json",
                                           "uuid.json",      "ipv4.json", "ipv6.json"};

struct resource_set {
    struct guard_schema_resource *res;
    struct guard_jv_doc **docs;
    size_t n, cap;
};

struct totals {
    size_t files, groups, cases, passed, failed, skipped_groups, skipped_cases;
    size_t unexpected;
};

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        if (buf != NULL) {
            buf[size] = '\0';
            *len = (size_t)size;
        }
    }
    fclose(f);
    return buf;
}

static const struct guard_jv_limits suite_limits = {
    .max_bytes = 64u << 20,
    .max_depth = 128,
    .max_nodes = 4u << 20,
};

static struct guard_jv_doc *parse_file(const char *path)
{
    struct guard_json_error err;
    struct guard_jv_doc *doc = NULL;
    size_t len = 0;
    char *buf = read_file(path, &len);
    int rc;

    if (buf == NULL)
        fail_msg("cannot read %s", path);
    rc = guard_jv_parse(buf, len, &suite_limits, &doc, &err);
    free(buf);
    if (rc < 0)
        fail_msg("%s: %s at %u:%u", path, err.message, err.line, err.column);
    return doc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the entries of dir (files ending in .json, or directories). */
static size_t list_dir(const char *dir, bool dirs, char ***out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat st;
    char path[4096];
    char **names = NULL;
    size_t n = 0;

    *out = NULL;
    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);

        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        if (dirs ? !S_ISDIR(st.st_mode)
                 : !S_ISREG(st.st_mode) || l < 5 || strcmp(de->d_name + l - 5, ".json") != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        assert_non_null(names);
        names[n] = strdup(de->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), name_cmp);
    *out = names;
    return n;
}

static void free_names(char **names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The suite's remotes are served at http://localhost:1234/ by its runner; here they are
 * given to the compiler as resources under the same URIs. */
static void load_remotes(struct resource_set *rs, const char *dir, const char *uri_prefix)
{
    char path[4096], uri[4096];
    char **names;
    size_t n, i;

    n = list_dir(dir, false, &names);
    for (i = 0; i < n; i++) {
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? rs->cap * 2 : 32;
            rs->res = realloc(rs->res, rs->cap * sizeof(*rs->res));
            rs->docs = realloc(rs->docs, rs->cap * sizeof(*rs->docs));
            assert_true(rs->res != NULL && rs->docs != NULL);
        }
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(uri, sizeof(uri), "%s%s", uri_prefix, names[i]);
        rs->docs[rs->n] = parse_file(path);
        rs->res[rs->n].uri = strdup(uri);
        rs->res[rs->n].root = guard_jv_doc_root(rs->docs[rs->n]);
        rs->n++;
    }
    free_names(names, n);
    n = list_dir(dir, true, &names);
    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        snprintf(uri, sizeof(uri), "%s%s/", uri_prefix, names[i]);
        load_remotes(rs, path, uri);
    }
    free_names(names, n);
}

static void free_remotes(struct resource_set *rs)
{
    size_t i;

    for (i = 0; i < rs->n; i++) {
        free((char *)rs->res[i].uri);
        guard_jv_doc_free(rs->docs[i]);
    }
    free(rs->res);
    free(rs->docs);
}

static bool is_expected_unsupported(const char *file, const char *group, size_t glen)
{
    size_t i;

    for (i = 0; i < sizeof(expected_unsupported) / sizeof(expected_unsupported[0]); i++) {
        if (strcmp(expected_unsupported[i][0], file) != 0)
            continue;
        if (strcmp(expected_unsupported[i][1], "*") == 0 ||
            (strlen(expected_unsupported[i][1]) == glen &&
             memcmp(expected_unsupported[i][1], group, glen) == 0))
            return true;
    }
    return false;
}

/* Check a result's invariants: violations when invalid, none when valid, strings set. */
static void check_result(const struct guard_schema_result *res, int rc, const char *what)
{
    size_t i;

    if (rc == 0) {
        if (!res->valid || res->total != 0 || res->n != 0)
            fail_msg("%s: valid but with %zu violations", what, res->total);
        return;
    }
    if (res->valid || res->total == 0 || res->n == 0 || res->n > GUARD_SCHEMA_VIOLATIONS ||
        res->n > res->total)
        fail_msg("%s: invalid but %zu/%zu violations", what, res->n, res->total);
    for (i = 0; i < res->n; i++)
        if (res->v[i].instance == NULL || res->v[i].schema == NULL || res->v[i].message == NULL ||
            res->v[i].keyword == NULL ||
            (res->v[i].instance[0] != '\0' && res->v[i].instance[0] != '/'))
            fail_msg("%s: malformed violation %zu", what, i);
}

static void run_file(const char *dir, const char *file, unsigned flags,
                     const struct resource_set *rs, struct totals *t)
{
    struct guard_schema_limits lim = {.flags = flags};
    struct guard_jv_doc *doc;
    const struct guard_jv *groups, *g, *tests, *tc, *desc, *tdesc, *valid;
    struct guard_schema_result res;
    struct guard_schema *s;
    size_t passed = 0, cases = 0, skipped = 0, failed = 0, i, j;
    char path[4096], err[512];
    int rc, rc2;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    doc = parse_file(path);
    groups = guard_jv_doc_root(doc);
    assert_int_equal(guard_jv_type(groups), GUARD_JV_ARRAY);
    t->files++;
    for (i = 0; i < guard_jv_array_len(groups); i++) {
        size_t dlen;
        const char *d;

        g = guard_jv_array_at(groups, i);
        desc = guard_jv_object_get(g, "description", 11);
        tests = guard_jv_object_get(g, "tests", 5);
        assert_true(desc != NULL && tests != NULL);
        d = guard_jv_string(desc, &dlen);
        t->groups++;
        rc = guard_schema_new(guard_jv_object_get(g, "schema", 6), &lim, rs->res, rs->n, &s, err,
                              sizeof(err));
        if (rc == -ENOTSUP) {
            skipped += guard_jv_array_len(tests);
            t->skipped_groups++;
            if (strncmp(err, "unsupported", 11) != 0) {
                printf("  FAIL %s / %s: -ENOTSUP without an \"unsupported\" message: %s\n", file, d,
                       err);
                t->unexpected++;
            } else if (!is_expected_unsupported(file, d, dlen)) {
                printf("  FAIL %s / %s: unexpectedly unsupported: %s\n", file, d, err);
                t->unexpected++;
            } else {
                printf("  skip %s / %s: %s\n", file, d, err);
            }
            continue;
        }
        if (rc < 0) {
            printf("  FAIL %s / %s: compile error %d: %s\n", file, d, rc, err);
            failed += guard_jv_array_len(tests);
            cases += guard_jv_array_len(tests);
            continue;
        }
        if (is_expected_unsupported(file, d, dlen)) {
            printf("  FAIL %s / %s: listed as unsupported but compiles\n", file, d);
            t->unexpected++;
        }
        for (j = 0; j < guard_jv_array_len(tests); j++) {
            char what[512];

            tc = guard_jv_array_at(tests, j);
            tdesc = guard_jv_object_get(tc, "description", 11);
            valid = guard_jv_object_get(tc, "valid", 5);
            cases++;
            snprintf(what, sizeof(what), "%s / %s / %s", file, d, guard_jv_string(tdesc, NULL));
            rc = guard_schema_validate(s, guard_jv_object_get(tc, "data", 4), NULL, &res);
            rc2 = guard_schema_validate(s, guard_jv_object_get(tc, "data", 4), NULL, NULL);
            if (rc < 0 || rc != rc2 || (rc == 0) != guard_jv_bool(valid)) {
                printf("  FAIL %s: expected %s, got rc=%d (verdict-only rc=%d)%s%s\n", what,
                       guard_jv_bool(valid) ? "valid" : "invalid", rc, rc2, res.n ? ": " : "",
                       res.n ? res.v[0].message : "");
                failed++;
            } else {
                check_result(&res, rc, what);
                passed++;
            }
            guard_schema_result_free(&res);
        }
        guard_schema_free(s);
    }
    printf("%-40s %4zu/%-4zu passed%s", file, passed, cases, skipped ? "" : "\n");
    if (skipped)
        printf(", %zu skipped as unsupported\n", skipped);
    t->cases += cases;
    t->passed += passed;
    t->failed += failed;
    t->skipped_cases += skipped;
    guard_jv_doc_free(doc);
}

static void test_suite(void **state)
{
    struct resource_set rs = {0};
    struct totals t = {0};
    char dir[4096], fdir[4096], rdir[4096];
    char **names;
    size_t n, i;

    (void)state;
    snprintf(dir, sizeof(dir), "%s/json-schema-test-suite/tests/draft2020-12", eval_dir);
    snprintf(fdir, sizeof(fdir), "%s/optional/format", dir);
    snprintf(rdir, sizeof(rdir), "%s/json-schema-test-suite/remotes/draft2020-12", eval_dir);
    n = list_dir(dir, false, &names);
    if (n == 0) {
        printf("no test suite under %s: skipped\n", dir);
        skip();
    }
    load_remotes(&rs, rdir, "http://localhost:1234/draft2020-12/");
    for (i = 0; i < n; i++)
        run_file(dir, names[i],
                 strcmp(names[i], "format.json") == 0 ? GUARD_SCHEMA_F_FORMAT_ANNOTATION : 0, &rs,
                 &t);
    free_names(names, n);
    for (i = 0; i < sizeof(format_files) / sizeof(format_files[0]); i++) {
        char name[64];

        snprintf(name, sizeof(name), "optional/format/%s", format_files[i]);
        run_file(dir, name, 0, &rs, &t);
    }
    free_remotes(&rs);
    printf("SUMMARY: %zu files, %zu groups, %zu/%zu cases passed, %zu failed, %zu cases in %zu "
           "groups skipped as unsupported, %zu unexpected\n",
           t.files, t.groups, t.passed, t.cases, t.failed, t.skipped_cases, t.skipped_groups,
           t.unexpected);
    assert_int_equal(t.failed, 0);
    assert_int_equal(t.unexpected, 0);
    assert_true(t.passed > 1000);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite),
    };

    eval_dir = argc > 1 ? argv[1] : getenv("WARDEN_EVAL_DIR");
    if (eval_dir == NULL)
        eval_dir = "../shared/eval";
    return cmocka_run_group_tests(tests, NULL, NULL);
}

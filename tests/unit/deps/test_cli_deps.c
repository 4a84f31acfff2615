/* Unit tests for `warden scan-deps` (proxy/cli_deps.c, proxy/deps_fs.c): exit codes, files,
 * determinism, baseline, diff, input errors; run in-process on projects written to /tmp. The
 * disk layer alone: what the walk keeps, package files read later through the source (folders
 * kept open between reads, never through a link), the size cap on files the walk did not
 * stat, a tree changed between walk and read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxy/cli.h"
#include "proxy/deps_fs.h"
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
    free(b);
    /* -o - is standard output, as with no -o */
    fflush(stdout);
    int saved = dup(1), fd = open(p("stdout.json"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    close(fd);
    int rc = run(p("app"), "--deterministic-output", "-o", "-", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    assert_int_equal(rc, 1);
    assert_int_equal(access("-", F_OK), -1);
    b = slurp("stdout.json");
    assert_string_equal(a, b);
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
    assert_non_null(strstr(j, "\"files_not_read\": 0,"));
    free(j);

    /* Source maps, type declarations and Markdown are not read, unless a lifecycle script
     * runs one: the indicator in the map and the README goes unseen, the one in the script
     * named like docs does not. */
    put("unread/package.json", "{\"name\":\"unread\",\"dependencies\":{\"y\":\"1.0.0\"}}");
    put("unread/node_modules/y/package.json",
        "{\"name\":\"y\",\"version\":\"1.0.0\",\"license\":\"MIT\",\"scripts\":{"
        "\"install\":\"node docs/setup.md\"}}");
    put("unread/node_modules/y/index.js.map", "{\"sources\":[\"https://copayapi.host/a\"]}");
    put("unread/node_modules/y/index.d.ts", "// https://copayapi.host/b\n");
    put("unread/node_modules/y/README.md", "see https://copayapi.host/c\n");
    put("unread/node_modules/y/docs/setup.md", "fetch('https://copayapi.host/d');\n");
    assert_int_equal(run(p("unread"), "--deterministic-output", "-o", p("unread.json"), NULL), 1);
    j = slurp("unread.json");
    assert_non_null(strstr(j, "\"files_not_read\": 3,"));
    assert_non_null(strstr(j, "\"file\": \"node_modules/y/docs/setup.md\""));
    assert_null(strstr(j, "\"file\": \"node_modules/y/index.js.map\""));
    assert_null(strstr(j, "\"file\": \"node_modules/y/README.md\""));
    free(j);
}

/* ------------------------------------------------------------------ disk layer */

/* Descriptors open in this process. */
static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    size_t n = 0;
    assert_non_null(d);
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static const struct deps_file *file_of(const struct proxy_deps_fs *fs, const char *path)
{
    for (size_t i = 0; i < fs->n; i++)
        if (strcmp(fs->files[i].path, path) == 0)
            return &fs->files[i];
    return NULL;
}

/* The bytes the source gives for path, compared with want (NULL: the read must fail). */
static void expect_read(struct deps_file_source *src, const struct proxy_deps_fs *fs,
                        const char *path, const char *want)
{
    const struct deps_file *f = file_of(fs, path);
    const char *data = NULL;
    size_t len = 0;
    assert_non_null(f);
    int rc = src->read(src->ctx, f, &data, &len);
    if (want == NULL) {
        assert_true(rc < 0);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(data ? data : "", want, len);
}

/* Folders and files whose sorted order goes in and out of the same folders ('-' and '.' sort
 * before '/'): every read gets its own file's bytes, in map order and in another order. */
static void test_walk_and_reads(void **state)
{
    static const char *const files[] = {
        "node_modules/a/b-x.js",
        "node_modules/a/b.js",
        "node_modules/a/b/c.js",
        "node_modules/a/b/d/e.js",
        "node_modules/a/b/d/f.js",
        "node_modules/a/bz.js",
        "node_modules/a/node_modules/q/i.js",
        "node_modules/a/z.txt",
        "node_modules/@s/p/lib/x.js",
        "node_modules/c/empty.js",
        "node_modules/a/b2/g.js", /* after a/b/: "b" is a prefix of "b2" but not its folder */
    };
    struct proxy_deps_fs fs;
    struct deps_file_source src;
    char err[512];
    (void)state;

    put("t1/package.json", "{\"name\":\"t1\"}");
    put("t1/src/app.js", "not read: outside node_modules");
    put("t1/node_modules/a/package.json", "{\"name\":\"a\"}");
    put("t1/node_modules/.cache/x.js", "not read: a dot folder");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char rel[256];
        snprintf(rel, sizeof(rel), "t1/%s", files[i]);
        put(rel, strstr(files[i], "empty") ? "" : files[i]);
    }
    assert_int_equal(symlink("a", p("t1/node_modules/link")), 0);

    assert_int_equal(proxy_deps_fs_read(p("t1"), NULL, &fs, err, sizeof(err)), 0);
    assert_null(file_of(&fs, "src/app.js"));
    assert_null(file_of(&fs, "node_modules/.cache/x.js"));
    assert_null(file_of(&fs, "node_modules/link/b.js")); /* links are not followed */
    assert_int_equal(fs.links, 1);
    /* manifests are read by the walk; package files are left for later, size unknown */
    const struct deps_file *m = file_of(&fs, "node_modules/a/package.json");
    assert_non_null(m);
    assert_non_null(m->data);
    assert_int_equal(m->len, strlen("{\"name\":\"a\"}"));
    assert_int_equal(fs.n, 2 + sizeof(files) / sizeof(files[0]));
    /* in the order of the paths: "b-x.js" < "b.js" < "b/c.js" < "b2/g.js" < "bz.js" */
    for (size_t i = 1; i < fs.n; i++)
        assert_true(strcmp(fs.files[i - 1].path, fs.files[i].path) < 0);
    proxy_deps_fs_source(&fs, &src);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        const struct deps_file *f = file_of(&fs, files[i]);
        assert_non_null(f);
        assert_null(f->data);
        assert_true(f->len == DEPS_FILE_LEN_UNKNOWN);
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
            /* pass 1: a scattered order (7 is prime to the count) */
            const char *path = files[pass ? (i * 7) % (sizeof(files) / sizeof(files[0])) : i];
            expect_read(&src, &fs, path, strstr(path, "empty") ? "" : path);
        }
    proxy_deps_fs_free(&fs);
    proxy_deps_fs_free(NULL);

    /* Read-ahead, as after a read found the tree not cached: hinted files come from the
     * files opened ahead, in order, out of order, with hints whose reads never come, more
     * hints than the ring holds, and hints still pending when the map is freed (no
     * descriptor left open). */
    size_t fds = open_fds();
    size_t nf = sizeof(files) / sizeof(files[0]);
    assert_int_equal(proxy_deps_fs_read(p("t1"), NULL, &fs, err, sizeof(err)), 0);
    proxy_deps_fs_source(&fs, &src);
    assert_int_equal(src.will_read(src.ctx, NULL), 0); /* cached, as far as it knows */
    assert_int_equal(src.will_read(src.ctx, file_of(&fs, files[0])), 0);
    assert_int_equal(fs.n_ahead, 0);
    proxy_deps_fs_read_ahead(&fs);
    assert_int_equal(src.will_read(src.ctx, NULL), 1);
    for (size_t i = 0; i < nf; i++)
        src.will_read(src.ctx, file_of(&fs, files[i]));
    assert_int_equal(fs.n_ahead, nf);
    expect_read(&src, &fs, files[0], files[0]);
    expect_read(&src, &fs, files[3], files[3]); /* 1 and 2: their reads never came */
    assert_int_equal(fs.n_ahead, nf - 4);
    expect_read(&src, &fs, files[1], files[1]); /* not ahead any more: opened now */
    for (int round = 0; round < 3; round++)     /* 3 x 11 hints: more than the ring holds */
        for (size_t i = 0; i < nf; i++)
            src.will_read(src.ctx, file_of(&fs, files[i]));
    assert_int_equal(fs.n_ahead, PROXY_DEPS_FS_AHEAD);
    for (size_t i = 0; i < nf; i++)
        expect_read(&src, &fs, files[i], strstr(files[i], "empty") ? "" : files[i]);
    assert_true(fs.n_ahead > 0);
    proxy_deps_fs_free(&fs);
    assert_int_equal(open_fds(), fds);

    /* Batches: the reads of a batch keep their bytes until the next one; a file with no
     * room left reads nothing (-ENOBUFS) and is the next batch's first read; a batch's first
     * file may be larger than the batch; ending batches closes the file held. A batch begun
     * by a large file (over a quarter of it) is a group of large files up to max_file_bytes
     * together. The files are 19 to 34 bytes long. */
    const char *got[4];
    size_t glen[4];
    struct deps_limits lim64 = {.max_file_bytes = 64};
    assert_int_equal(proxy_deps_fs_read(p("t1"), &lim64, &fs, err, sizeof(err)), 0);
    proxy_deps_fs_source(&fs, &src);
    assert_int_equal(src.batch(src.ctx, 100), 0);
    for (size_t i = 0; i < 4; i++) /* 21 + 19 + 21 + 23 bytes */
        assert_int_equal(src.read(src.ctx, file_of(&fs, files[i]), &got[i], &glen[i]), 0);
    const char *d = NULL;
    size_t dl = 0;
    assert_int_equal(src.read(src.ctx, file_of(&fs, files[4]), &d, &dl), -ENOBUFS);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(glen[i], strlen(files[i]));
        assert_memory_equal(got[i], files[i], glen[i]);
    }
    assert_int_equal(src.batch(src.ctx, 100), 0);
    expect_read(&src, &fs, files[4], files[4]);
    expect_read(&src, &fs, files[5], files[5]);
    expect_read(&src, &fs, files[6], files[6]); /* large (34), but room for it: read */
    expect_read(&src, &fs, files[7], files[7]);
    assert_int_equal(src.read(src.ctx, file_of(&fs, files[8]), &d, &dl), -ENOBUFS);
    assert_int_equal(src.batch(src.ctx, 100), 0);
    expect_read(&src, &fs, files[8], files[8]); /* large (26): a group begins */
    expect_read(&src, &fs, files[6], files[6]); /* 26 + 34 of 64 */
    assert_int_equal(src.read(src.ctx, file_of(&fs, files[6]), &d, &dl), -ENOBUFS);
    assert_int_equal(src.batch(src.ctx, 100), 0);
    expect_read(&src, &fs, files[6], files[6]);
    /* a small file ends a group */
    assert_int_equal(src.read(src.ctx, file_of(&fs, files[0]), &d, &dl), -ENOBUFS);
    assert_int_equal(src.batch(src.ctx, 8), 0);
    expect_read(&src, &fs, files[0], files[0]); /* the first: larger than the batch */
    assert_int_equal(src.read(src.ctx, file_of(&fs, "node_modules/c/empty.js"), &d, &dl), -ENOBUFS);
    /* an empty file is a read of the batch too: the next one has to fit */
    assert_int_equal(src.batch(src.ctx, 8), 0);
    expect_read(&src, &fs, "node_modules/c/empty.js", "");
    assert_int_equal(src.read(src.ctx, file_of(&fs, files[0]), &d, &dl), -ENOBUFS);
    assert_int_equal(src.batch(src.ctx, 0), 0);
    assert_int_equal(fs.held_fd, -1);
    for (size_t i = 0; i < nf; i++) /* no batch: one read at a time, as before */
        expect_read(&src, &fs, files[i], strstr(files[i], "empty") ? "" : files[i]);
    proxy_deps_fs_free(&fs);
    assert_int_equal(open_fds(), fds);
}

/* A file deeper than the folders the reader keeps open is still read, and so are the files
 * next to the cached ones afterwards. */
static void test_deep_path(void **state)
{
    char rel[4096] = "t2/node_modules/deep";
    struct proxy_deps_fs fs;
    struct deps_file_source src;
    struct deps_limits lim = {.max_depth = 32}; /* folders up to 128 deep */
    char err[512];
    (void)state;

    size_t n = strlen(rel);
    for (int i = 0; i < PROXY_DEPS_FS_DIRS + 8; i++)
        n += (size_t)snprintf(rel + n, sizeof(rel) - n, "%s", i % 2 ? "/d" : "/e");
    snprintf(rel + n, sizeof(rel) - n, "/x.js");
    put("t2/package.json", "{\"name\":\"t2\"}");
    put(rel, "deep");
    put("t2/node_modules/deep/y.js", "shallow");
    assert_int_equal(proxy_deps_fs_read(p("t2"), &lim, &fs, err, sizeof(err)), 0);
    proxy_deps_fs_source(&fs, &src);
    expect_read(&src, &fs, rel + 3, "deep");
    expect_read(&src, &fs, "node_modules/deep/y.js", "shallow");
    expect_read(&src, &fs, rel + 3, "deep");
    proxy_deps_fs_free(&fs);
}

/* The cap on one file applies to the files the walk did not stat, when they are read. */
static void test_size_cap(void **state)
{
    struct proxy_deps_fs fs;
    struct deps_file_source src;
    struct deps_limits lim = {.max_file_bytes = 16};
    const struct deps_file *f;
    const char *data;
    size_t len;
    char err[512];
    (void)state;

    put("t3/package.json", "{}");
    put("t3/node_modules/a/small.js", "1234567890123456");
    put("t3/node_modules/a/big.js", "12345678901234567");
    assert_int_equal(proxy_deps_fs_read(p("t3"), &lim, &fs, err, sizeof(err)), 0);
    proxy_deps_fs_source(&fs, &src);
    expect_read(&src, &fs, "node_modules/a/small.js", "1234567890123456");
    assert_non_null(f = file_of(&fs, "node_modules/a/big.js"));
    assert_int_equal(src.read(src.ctx, f, &data, &len), -EFBIG);
    proxy_deps_fs_free(&fs);

    /* a manifest over the cap is an error of the walk, as before */
    put("t3/node_modules/a/package.json", "{\"name\":\"a\",\"version\":\"1.0.0\"}");
    assert_int_equal(proxy_deps_fs_read(p("t3"), &lim, &fs, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "package.json"));
}

/* The tree changes between the walk and the reads: a folder or a file replaced by a link is
 * not followed, a FIFO in place of a file does not block, a removed file is an error. */
static void test_tree_changed(void **state)
{
    struct proxy_deps_fs fs;
    struct deps_file_source src;
    char err[512];
    (void)state;

    put("t4/package.json", "{}");
    put("t4/node_modules/a/lib/one.js", "one");
    put("t4/node_modules/a/lib/two.js", "two");
    put("t4/node_modules/b/lib/three.js", "three");
    put("t4/node_modules/b/four.js", "four");
    put("t4/node_modules/c/five.js", "five");
    put("t4/elsewhere/lib/one.js", "other");
    put("t4/elsewhere/four.js", "other");
    assert_int_equal(proxy_deps_fs_read(p("t4"), NULL, &fs, err, sizeof(err)), 0);
    proxy_deps_fs_source(&fs, &src);

    /* before any read: a folder on the way becomes a link */
    assert_int_equal(rename(p("t4/node_modules/a/lib"), p("t4/moved")), 0);
    assert_int_equal(symlink("../../elsewhere/lib", p("t4/node_modules/a/lib")), 0);
    expect_read(&src, &fs, "node_modules/a/lib/one.js", NULL);
    /* a file becomes a link */
    assert_int_equal(unlink(p("t4/node_modules/b/four.js")), 0);
    assert_int_equal(symlink("../../elsewhere/four.js", p("t4/node_modules/b/four.js")), 0);
    expect_read(&src, &fs, "node_modules/b/four.js", NULL);
    expect_read(&src, &fs, "node_modules/b/lib/three.js", "three");
    /* a file becomes a FIFO (no writer: a blocking open would never return) */
    assert_int_equal(unlink(p("t4/node_modules/c/five.js")), 0);
    assert_int_equal(mkfifo(p("t4/node_modules/c/five.js"), 0644), 0);
    expect_read(&src, &fs, "node_modules/c/five.js", NULL);
    /* gone */
    assert_int_equal(unlink(p("t4/node_modules/b/lib/three.js")), 0);
    expect_read(&src, &fs, "node_modules/b/lib/three.js", NULL);
    proxy_deps_fs_free(&fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_usage_and_input_errors),
        cmocka_unit_test(test_determinism_baseline_diff),
        cmocka_unit_test(test_formats),
        cmocka_unit_test(test_content_analysers),
        cmocka_unit_test(test_walk_and_reads),
        cmocka_unit_test(test_deep_path),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_tree_changed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* `warden scan-deps`: the supply-chain scanner's command line (scan, baseline, diff). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "guards/deps/report_formats.h"
#include "guards/deps/scan.h"
#include "policy/deps_corpus.h"
#include "proxy/cli.h"
#include "proxy/deps_fs.h"
#include "telemetry/sha256.h"

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0.1.0"
#endif

#define DEPS_CLI_MAX_REPORT ((size_t)256 << 20)

static int deps_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int deps_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("warden: scan-deps: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PROXY_EXIT_USAGE;
}

struct deps_opts {
    const char *dir;
    enum deps_report_format format;
    const char *out;
    const char *baseline;
    const char *diff_a, *diff_b;
    enum deps_severity fail_on;
    bool deterministic;
    bool verify;
};

/* Read a whole file (a report) into a malloc'd buffer. 0 or a message printed, exit code 2. */
static int read_small(const char *path, char **buf, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct stat st;

    *buf = NULL;
    if (!f)
        return deps_fail("%s: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) ||
        (size_t)st.st_size > DEPS_CLI_MAX_REPORT) {
        fclose(f);
        return deps_fail("%s: not a regular file of at most %zu MiB", path,
                         DEPS_CLI_MAX_REPORT >> 20);
    }
    *len = (size_t)st.st_size;
    *buf = malloc(*len ? *len : 1);
    if (!*buf || fread(*buf, 1, *len, f) != *len) {
        fclose(f);
        free(*buf);
        *buf = NULL;
        return deps_fail("%s: cannot read", path);
    }
    fclose(f);
    return 0;
}

static int write_out(const char *path, const struct deps_buf *b)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f)
        return deps_fail("-o %s: %s", path, strerror(errno));
    size_t n = b->len ? fwrite(b->s, 1, b->len, f) : 0;
    int bad = n != b->len || fflush(f) != 0;
    if (path)
        bad |= fclose(f) != 0;
    if (bad)
        return deps_fail("%s: write failed", path ? path : "standard output");
    return 0;
}

/* One scan of opts->dir: read, load, scan. *out set, or a message printed and exit code 2. */
static int scan_once(const struct deps_opts *o, const struct deps_corpus *c,
                     struct deps_report **out)
{
    struct proxy_deps_fs fs;
    struct deps_project *p = NULL;
    struct deps_project_error pe;
    char err[512];
    int rc;

    *out = NULL;
    if (proxy_deps_fs_read(o->dir, NULL, &fs, err, sizeof(err)) < 0)
        return deps_fail("%s", err);
    rc = deps_project_load(fs.files, fs.n, NULL, &p, &pe);
    if (rc < 0) {
        proxy_deps_fs_free(&fs);
        return deps_fail("%s/%s", o->dir, pe.message);
    }
    p->files_skipped += fs.skipped;
    struct deps_file_source src;
    proxy_deps_fs_source(&fs, &src);
    p->source = &src;
    rc = deps_scan(p, c, out);
    deps_project_free(p);
    proxy_deps_fs_free(&fs);
    if (rc < 0)
        return deps_fail("%s: out of memory", o->dir);
    return 0;
}

static void render(const struct deps_opts *o, const struct deps_report *r,
                   const struct deps_report_meta *meta, struct deps_buf *b)
{
    deps_report_write_format(o->format, r, meta, b);
}

static int run_diff(const struct deps_opts *o)
{
    char *a = NULL, *b = NULL, err[512];
    size_t al = 0, bl = 0;
    struct deps_buf out = {0};
    int rc;

    if ((rc = read_small(o->diff_a, &a, &al)) != 0 || (rc = read_small(o->diff_b, &b, &bl)) != 0)
        goto out;
    int n = deps_report_diff(a, al, b, bl, &out, err, sizeof(err));
    if (n < 0) {
        /* err starts with "A" or "B": name the file */
        rc = deps_fail("%s%s", err[0] == 'A' ? o->diff_a : o->diff_b, err + 1);
        goto out;
    }
    rc = write_out(o->out, &out);
    if (rc == 0)
        rc = n > 0 ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
out:
    deps_buf_free(&out);
    free(a);
    free(b);
    return rc;
}

static int parse_args(int argc, char **argv, struct deps_opts *o)
{
    *o = (struct deps_opts){.format = DEPS_FMT_JSON, .fail_on = DEPS_SEV_INFO};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "--format") == 0 || strcmp(a, "-f") == 0) {
            if (!has_next)
                return deps_fail("--format needs " DEPS_FORMAT_NAMES);
            if (deps_report_format_parse(argv[++i], &o->format) != 0)
                return deps_fail("--format %s: unknown; use " DEPS_FORMAT_NAMES, argv[i]);
        } else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
            if (!has_next)
                return deps_fail("-o needs a file name, or - for standard output");
            o->out = strcmp(argv[++i], "-") == 0 ? NULL : argv[i]; /* NULL: standard output */
        } else if (strcmp(a, "--fail-on") == 0) {
            if (!has_next || deps_severity_parse(argv[i + 1], &o->fail_on) < 0)
                return deps_fail("--fail-on needs one of info, low, medium, high, critical");
            i++;
        } else if (strcmp(a, "--baseline") == 0) {
            if (!has_next)
                return deps_fail("--baseline needs a previous JSON report");
            o->baseline = argv[++i];
        } else if (strcmp(a, "--deterministic-output") == 0) {
            o->deterministic = true;
        } else if (strcmp(a, "--verify-determinism") == 0) {
            o->verify = true;
        } else if (strcmp(a, "--diff") == 0) {
            if (i + 2 >= argc)
                return deps_fail("--diff needs two JSON reports: --diff A.json B.json");
            o->diff_a = argv[++i];
            o->diff_b = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0') {
            return deps_fail("%s: unknown option; see warden scan-deps --help", a);
        } else if (!o->dir) {
            o->dir = a;
        } else {
            return deps_fail("%s: one project directory at a time", a);
        }
    }
    if (o->diff_a && o->dir)
        return deps_fail("--diff compares two reports; give no directory with it");
    if (!o->diff_a && !o->dir)
        return deps_fail("no project directory; usage: warden scan-deps DIR [options]");
    return 0;
}

int proxy_cli_scan_deps(int argc, char **argv)
{
    struct deps_opts o;
    struct deps_corpus *c = NULL;
    struct deps_report *r = NULL;
    struct deps_buf out = {0};
    struct deps_fpset base = {0};
    struct timespec t0, t1;
    char err[512], started[40];
    int rc;

    if ((rc = parse_args(argc, argv, &o)) != 0)
        return rc;
    if (o.diff_a)
        return run_diff(&o);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", &tm);

    if (o.baseline) {
        char *b = NULL;
        size_t bl = 0;
        if ((rc = read_small(o.baseline, &b, &bl)) != 0)
            goto out;
        rc = deps_fpset_read(b, bl, &base, err, sizeof(err));
        free(b);
        if (rc < 0) {
            rc = deps_fail("--baseline %s:%s", o.baseline, err);
            goto out;
        }
    }
    if (policy_deps_corpus_load(&c, err, sizeof(err)) < 0) {
        rc = deps_fail("built-in corpus: %s", err);
        goto out;
    }
    if ((rc = scan_once(&o, c, &r)) != 0)
        goto out;
    if (o.baseline)
        deps_report_suppress(r, &base);
    if (o.verify) {
        /* scan again from the disk; both deterministic renderings must hash the same */
        struct deps_report *r2 = NULL;
        struct deps_buf b1 = {0}, b2 = {0};
        uint8_t d1[TEL_SHA256_LEN], d2[TEL_SHA256_LEN];
        char hex[TEL_SHA256_HEX];
        struct deps_report_meta m = {.tool_version = WARDEN_VERSION};
        if ((rc = scan_once(&o, c, &r2)) != 0)
            goto out;
        if (o.baseline)
            deps_report_suppress(r2, &base);
        deps_report_write_json(r, &m, &b1);
        deps_report_write_json(r2, &m, &b2);
        tel_sha256(b1.s, b1.len, d1);
        tel_sha256(b2.s, b2.len, d2);
        bool same = !b1.oom && !b2.oom && memcmp(d1, d2, sizeof(d1)) == 0;
        tel_sha256_hex(d1, hex);
        deps_buf_free(&b1);
        deps_buf_free(&b2);
        deps_report_free(r2);
        if (!same) {
            rc = deps_fail("determinism check failed: two scans of %s gave different reports",
                           o.dir);
            goto out;
        }
        fprintf(stderr, "warden: scan-deps: determinism verified (two scans, sha256:%s)\n", hex);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct deps_report_meta meta = {
        .tool_version = WARDEN_VERSION,
        .started_at = o.deterministic ? NULL : started,
        .duration_ms =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
    };
    render(&o, r, &meta, &out);
    if (out.oom) {
        rc = deps_fail("out of memory writing the report");
        goto out;
    }
    if ((rc = write_out(o.out, &out)) != 0)
        goto out;
    int max = deps_report_max_severity(r);
    rc = max >= 0 && max >= (int)o.fail_on ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
out:
    deps_buf_free(&out);
    deps_fpset_free(&base);
    deps_report_free(r);
    deps_corpus_free(c);
    return rc;
}

/* libFuzzer target for the scanner's project loader, package.json reader and rules: the input
 * is a file map ("@@ PATH\n" starts each file; text before the first marker is package.json).
 * Checks: no crash, a report whose JSON reads back, the same report twice. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/scan.h"
#include "tests/fuzz/fuzz_check.h"

#define FUZZ_MAX_FILES 32

static struct deps_corpus *corpus(void)
{
    static struct deps_corpus *c;
    static const char top[] = "lodash\t100\nexpress\t90\nreact\t80\n";
    static const char adv[] =
        "lodash\t<4.17.21\tGHSA-x\tHIGH\ts\nrc\t1.2.9 || 1.3.9\tG\tCRITICAL\ts\n";
    if (!c) {
        struct deps_file f[] = {{"top-packages.tsv", top, sizeof(top) - 1},
                                {"advisories.tsv", adv, sizeof(adv) - 1}};
        char err[128];
        FUZZ_CHECK(deps_corpus_new(f, 2, "sha256:fuzz", &c, err, sizeof(err)) == 0);
    }
    return c;
}

/* Scan and render; returns the JSON (malloc'd) or NULL when the project was rejected. */
static char *scan_once(const struct deps_file *files, size_t n, const struct deps_limits *lim)
{
    struct deps_project *p = NULL;
    struct deps_project_error e;
    struct deps_report *r = NULL;
    struct deps_buf b = {0};
    int rc = deps_project_load(files, n, lim, &p, &e);

    if (rc < 0) {
        FUZZ_CHECK(p == NULL && e.message[0] != '\0');
        FUZZ_CHECK(rc == -ENOENT || rc == -EBADMSG || rc == -E2BIG || rc == -EINVAL ||
                   rc == -ENOTSUP);
        return NULL;
    }
    FUZZ_CHECK(deps_scan(p, corpus(), &r) == 0);
    deps_project_free(p);
    for (size_t i = 1; i < r->n_findings; i++)
        FUZZ_CHECK(r->findings[i - 1].severity >= r->findings[i].severity);
    deps_report_write_json(r, NULL, &b);
    FUZZ_CHECK(!b.oom);
    struct deps_fpset fp;
    char err[256];
    FUZZ_CHECK(deps_fpset_read(b.s, b.len, &fp, err, sizeof(err)) == 0); /* valid JSON */
    FUZZ_CHECK(fp.n == r->n_findings);
    deps_fpset_free(&fp);
    deps_report_free(r);
    return b.s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct deps_file files[FUZZ_MAX_FILES];
    char *paths[FUZZ_MAX_FILES];
    size_t n = 0;
    char *copy = malloc(size + 1);
    struct deps_limits small = {.max_files = 6, .max_file_bytes = 512, .max_depth = 2};

    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    copy[size] = '\0';
    /* split on "@@ " at a line start */
    const char *s = copy, *end = copy + size;
    const char *path = "package.json";
    size_t path_len = strlen(path);
    while (n < FUZZ_MAX_FILES) {
        const char *next = NULL;
        for (const char *q = s; q + 3 <= end; q++)
            if ((q == copy || q[-1] == '\n') && memcmp(q, "@@ ", 3) == 0) {
                next = q;
                break;
            }
        const char *body_end = next ? next : end;
        paths[n] = strndup(path, path_len);
        FUZZ_CHECK(paths[n] != NULL);
        size_t len = (size_t)(body_end - s);
        char *body = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
        FUZZ_CHECK(body != NULL);
        memcpy(body, s, len);
        files[n] = (struct deps_file){paths[n], body, len};
        n++;
        if (!next)
            break;
        const char *nl = memchr(next, '\n', (size_t)(end - next));
        path = next + 3;
        path_len = nl ? (size_t)(nl - path) : (size_t)(end - path);
        s = nl ? nl + 1 : end;
    }
    char *a = scan_once(files, n, NULL), *b = scan_once(files, n, NULL);
    FUZZ_CHECK((a == NULL) == (b == NULL));
    FUZZ_CHECK(!a || strcmp(a, b) == 0); /* deterministic */
    free(a);
    free(b);
    free(scan_once(files, n, &small));
    for (size_t i = 0; i < n; i++) {
        free(paths[i]);
        free((char *)files[i].data);
    }
    free(copy);
    return 0;
}

/* Benchmark of the supply-chain content analysers over the files of an installed tree; never
 * gates CI.
 *
 * usage: bench_content DIR [ROUNDS]
 *   DIR     a folder to read (a project's node_modules, say); every regular file under it is
 *           loaded into memory first, at most DEPS_CONTENT_MAX_SCAN bytes of each
 *   ROUNDS  passes over the files, default 5; the best pass of each figure is reported
 * Reports MB/s (10^6 bytes per second) of deps_content_scan over every file and over the
 * JavaScript files alone (.js, .mjs, .cjs), and of SHA-256 over every file, with the IoC
 * corpus rules/supply-chain/iocs.tsv (from the current folder). The files are in memory, so
 * the figures leave out the reads that `warden scan-deps` also makes.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/deps/content.h"
#include "telemetry/sha256.h"

struct bench_file {
    char *path; /* below DIR */
    char *data;
    size_t len;
    int js;
};

static struct bench_file *files;
static size_t n_files, cap_files, root_len;

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

static int load_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    FILE *f;
    struct bench_file *b;

    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    if (n_files == cap_files) {
        size_t nc = cap_files * 2 + 4096;
        struct bench_file *nf = realloc(files, nc * sizeof(*nf));
        if (nf == NULL)
            return -1;
        files = nf;
        cap_files = nc;
    }
    b = &files[n_files];
    b->len =
        (size_t)st->st_size < DEPS_CONTENT_MAX_SCAN ? (size_t)st->st_size : DEPS_CONTENT_MAX_SCAN;
    b->data = malloc(b->len + 1);
    b->path = strdup(path + root_len + (path[root_len] == '/'));
    if (b->data == NULL || b->path == NULL)
        return -1;
    f = fopen(path, "rb");
    if (f == NULL) {
        free(b->data);
        free(b->path);
        return 0; /* gone, or not ours to read: left out */
    }
    b->len = fread(b->data, 1, b->len, f);
    fclose(f);
    b->js = ends_with(path, ".js") || ends_with(path, ".mjs") || ends_with(path, ".cjs");
    n_files++;
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void count_hit(void *ud, const struct deps_content_hit *hit)
{
    (void)hit;
    ++*(size_t *)ud;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n + 1)) != NULL)
        *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    struct deps_content_db *db = NULL;
    char err[256];
    size_t ioc_len = 0, hits = 0, all_bytes = 0, js_bytes = 0;
    double best_all = 1e9, best_js = 1e9, best_sha = 1e9;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    char *ioc;

    if (argc < 2 || rounds < 1) {
        fprintf(stderr, "usage: bench_content DIR [ROUNDS]\n");
        return 2;
    }
    ioc = slurp("rules/supply-chain/iocs.tsv", &ioc_len);
    if (ioc == NULL) {
        fprintf(stderr,
                "bench_content: rules/supply-chain/iocs.tsv: %s (run it from the "
                "repository's root)\n",
                strerror(errno));
        return 1;
    }
    if (deps_content_db_new(ioc, ioc_len, &db, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_content: %s\n", err);
        return 1;
    }
    root_len = strlen(argv[1]);
    if (nftw(argv[1], load_one, 64, FTW_PHYS) != 0) {
        fprintf(stderr, "bench_content: %s: cannot read the folder\n", argv[1]);
        return 1;
    }
    for (size_t i = 0; i < n_files; i++) {
        all_bytes += files[i].len;
        js_bytes += files[i].js ? files[i].len : 0;
    }
    for (int r = 0; r < rounds; r++) {
        uint8_t d[TEL_SHA256_LEN];
        double t0 = now_s(), t1, t2, t3;
        for (size_t i = 0; i < n_files; i++)
            if (files[i].js)
                deps_content_scan(db, files[i].path, files[i].data, files[i].len, 0, count_hit,
                                  &hits);
        t1 = now_s();
        for (size_t i = 0; i < n_files; i++)
            deps_content_scan(db, files[i].path, files[i].data, files[i].len, 0, count_hit, &hits);
        t2 = now_s();
        for (size_t i = 0; i < n_files; i++)
            tel_sha256(files[i].data, files[i].len, d);
        t3 = now_s();
        best_js = t1 - t0 < best_js ? t1 - t0 : best_js;
        best_all = t2 - t1 < best_all ? t2 - t1 : best_all;
        best_sha = t3 - t2 < best_sha ? t3 - t2 : best_sha;
    }
    printf("files %zu, %.1f MB (JavaScript %.1f MB), hits %zu per round\n", n_files,
           (double)all_bytes / 1e6, (double)js_bytes / 1e6, hits / (size_t)rounds / 2);
    printf("content scan, JavaScript files: %7.1f ms %7.1f MB/s\n", best_js * 1e3,
           (double)js_bytes / 1e6 / best_js);
    printf("content scan, every file:       %7.1f ms %7.1f MB/s\n", best_all * 1e3,
           (double)all_bytes / 1e6 / best_all);
    printf("SHA-256, every file:            %7.1f ms %7.1f MB/s\n", best_sha * 1e3,
           (double)all_bytes / 1e6 / best_sha);
    deps_content_db_free(db);
    free(ioc);
    return 0;
}

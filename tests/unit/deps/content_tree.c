/* Runs the file-content analysers over every file of directory trees (benign corpora such as
 * /usr/share/nodejs): counts hits per rule and severity, measures throughput, and fails when
 * HIGH or CRITICAL hits exceed a committed ceiling.
 *   content_tree [--max-high N] [--install-time] [--full] [--compare] [--slowest N] [--verbose]
 *                IOCS_TSV DIR...
 *   content_tree --script-text [--verbose] IOCS_TSV TEXT...  (package.json script lines)
 * --full lexes every file (DEPS_CONTENT_FULL); --compare analyses each file both ways too and
 * fails on any difference in the hits (the lexer's pre-filter must change nothing); --slowest
 * lists the N files that took the most analysis time, and those the pre-filter passed over. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guards/deps/content.h"
#include "guards/deps/scan.h"
#include "tests/unit/test_files.h"

#define RULES 8

static const char *const rules[RULES] = {"L2-OBFS-001", "L2-OBFS-002", "L2-OBFS-003", "L2-OBFS-004",
                                         "L2-CRED-001", "L2-BUND-001", "L2-IOC-001",  "other"};
static const char *const sevs[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

static struct deps_content_db *db;
static unsigned long counts[RULES][5];
static unsigned long files, high;
static unsigned scan_flags;
static int verbose, script_text, compare;
static unsigned long differ; /* --compare: files whose hits differ */

#define SLOWEST_MAX 64
static struct slow {
    double s;
    size_t len;
    int passed; /* the pre-filter passed over it: not lexed */
    char *path;
} slowest[SLOWEST_MAX];
static int nslowest;
/* analysis time and bytes of the files the pre-filter passed over [1] and of the others [0] */
static double split_s[2];
static size_t split_bytes[2];

/* --slowest: keep the nslowest files of most analysis time, slowest first */
static void note_time(const char *path, size_t len, int passed, double s)
{
    int i = nslowest - 1;
    if (nslowest == 0 || s <= slowest[i].s)
        return;
    free(slowest[i].path);
    for (; i > 0 && slowest[i - 1].s < s; i--)
        slowest[i] = slowest[i - 1];
    slowest[i] = (struct slow){s, len, passed, strdup(path)};
}

static const char *cur_path;
static size_t root_len;

static void on_hit(void *ud, const struct deps_content_hit *hit)
{
    size_t r;

    (void)ud;
    for (r = 0; r < RULES - 1 && strcmp(rules[r], hit->rule_id) != 0; r++)
        ;
    counts[r][hit->severity]++;
    if (hit->severity >= DEPS_SEV_HIGH)
        high++;
    if (verbose || hit->severity >= DEPS_SEV_HIGH)
        printf("%s:%u: %s %s %s\n", cur_path, hit->line, hit->rule_id, sevs[hit->severity],
               hit->message);
}

/* --compare: the hits of one analysis as text */
static void on_hit_text(void *ud, const struct deps_content_hit *hit)
{
    deps_buf_printf(ud, "%u %s %s %s\n", hit->line, hit->rule_id, sevs[hit->severity],
                    hit->message);
}

/* The same file analysed with and without DEPS_CONTENT_FULL: the same hits, or a report. */
static int compare_full(const char *rel, const char *buf, size_t len)
{
    struct deps_buf a = {0}, b = {0};
    int rc = deps_content_scan(db, rel, buf, len, scan_flags & ~DEPS_CONTENT_FULL, on_hit_text, &a);
    if (rc == 0)
        rc = deps_content_scan(db, rel, buf, len, scan_flags | DEPS_CONTENT_FULL, on_hit_text, &b);
    if (rc == 0 && (a.oom || b.oom))
        rc = -ENOMEM;
    if (rc == 0 && (a.len != b.len || (a.len && memcmp(a.s, b.s, a.len) != 0))) {
        differ++;
        printf("%s: the pre-filter changes the hits\n--- filtered\n%s--- full\n%s", cur_path,
               a.s ? a.s : "", b.s ? b.s : "");
    }
    deps_buf_free(&a);
    deps_buf_free(&b);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: the machine is shared */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *file_buf;
static size_t file_cap;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    int fd;
    size_t want, got = 0;
    double t0;

    (void)ftw;
    if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size == 0)
        return 0;
    want =
        (size_t)st->st_size < DEPS_CONTENT_MAX_SCAN ? (size_t)st->st_size : DEPS_CONTENT_MAX_SCAN;
    if (want > file_cap) {
        char *grown = realloc(file_buf, want);
        if (grown == NULL)
            return 1;
        file_buf = grown;
        file_cap = want;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    while (got < want) {
        ssize_t r = read(fd, file_buf + got, want - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    cur_path = path;
    t0 = now();
    size_t unlexed = deps_content_db_unlexed(db);
    /* the path relative to its tree, as the scanner passes it relative to a package */
    if (deps_content_scan(db, strlen(path) >= root_len ? path + root_len : path, file_buf, got,
                          scan_flags, on_hit, NULL) != 0) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    double dt = now() - t0;
    int passed = deps_content_db_unlexed(db) != unlexed;
    note_time(path, got, passed, dt);
    split_s[passed] += dt;
    split_bytes[passed] += got;
    if (compare &&
        compare_full(strlen(path) >= root_len ? path + root_len : path, file_buf, got) != 0) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    files++;
    return 0;
}

int main(int argc, char **argv)
{
    long max_high = -1;
    int i = 1, rc;
    char err[256];
    size_t len = 0;
    char *tsv;

    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--max-high") == 0 && i + 1 < argc)
            max_high = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--install-time") == 0)
            scan_flags |= DEPS_CONTENT_INSTALL_TIME;
        else if (strcmp(argv[i], "--full") == 0)
            scan_flags |= DEPS_CONTENT_FULL;
        else if (strcmp(argv[i], "--compare") == 0)
            compare = 1;
        else if (strcmp(argv[i], "--script-text") == 0)
            script_text = 1;
        else if (strcmp(argv[i], "--slowest") == 0 && i + 1 < argc) {
            nslowest = atoi(argv[++i]);
            nslowest = nslowest < 0 ? 0 : nslowest > SLOWEST_MAX ? SLOWEST_MAX : nslowest;
        } else if (strcmp(argv[i], "--verbose") == 0)
            verbose = 1;
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc - i < 2) {
        fprintf(stderr, "usage: content_tree [--max-high N] [--install-time] [--full] "
                        "[--compare] [--slowest N] [--verbose] IOCS_TSV DIR...\n");
        return 2;
    }
    tsv = test_slurp(argv[i], &len);
    if (tsv == NULL) {
        fprintf(stderr, "%s: cannot read\n", argv[i]);
        return 2;
    }
    rc = deps_content_db_new(tsv, len, &db, err, sizeof(err));
    free(tsv);
    if (rc != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    if (compare)
        deps_content_db_prefilter(db); /* from the first file */
    for (i++; script_text && i < argc; i++) {
        cur_path = "script";
        if (deps_content_scan(db, "", argv[i], strlen(argv[i]), DEPS_CONTENT_SCRIPT_TEXT, on_hit,
                              NULL) != 0)
            return 1;
        files++;
    }
    for (; i < argc; i++) {
        root_len = strlen(argv[i]);
        while (argv[i][root_len] == '\0' && root_len && argv[i][root_len - 1] == '/')
            root_len--;
        root_len++; /* and the slash after it */
        if (nftw(argv[i], visit, 32, FTW_PHYS) != 0) {
            fprintf(stderr, "%s: walk failed\n", argv[i]);
            deps_content_db_free(db);
            free(file_buf);
            return 2;
        }
    }
    size_t unlexed = deps_content_db_unlexed(db);
    deps_content_db_free(db);
    free(file_buf);
    double mb = (double)(split_bytes[0] + split_bytes[1]) / 1e6, seconds = split_s[0] + split_s[1];
    printf("files %lu, %.1f MB in %.3f s of analysis CPU time: %.0f MB/s\n", files, mb, seconds,
           seconds > 0 ? mb / seconds : 0.0);
    printf("passed over by the pre-filter: %.1f MB in %.3f s; lexed or not JavaScript: %.1f MB "
           "in %.3f s\n",
           (double)split_bytes[1] / 1e6, split_s[1], (double)split_bytes[0] / 1e6, split_s[0]);
    for (int r = 0; r < RULES; r++) {
        unsigned long tot = 0;
        for (int s = 0; s < 5; s++)
            tot += counts[r][s];
        if (tot)
            printf("%-12s INFO %lu LOW %lu MEDIUM %lu HIGH %lu CRITICAL %lu\n", rules[r],
                   counts[r][0], counts[r][1], counts[r][2], counts[r][3], counts[r][4]);
    }
    printf("HIGH or CRITICAL: %lu\n", high);
    for (int k = 0; k < nslowest && slowest[k].path; k++) {
        printf("%8.2f ms %9zu B %s %s\n", slowest[k].s * 1e3, slowest[k].len,
               slowest[k].passed ? "not lexed (pre-filter)" : "lexed or not JavaScript",
               slowest[k].path);
        free(slowest[k].path);
    }
    if (compare)
        /* each file was scanned filtered once by compare_full, and once more by visit
         * unless --full */
        printf("files the pre-filter passed over: %zu; whose hits it changes: %lu\n",
               unlexed / ((scan_flags & DEPS_CONTENT_FULL) ? 1 : 2), differ);
    if (max_high >= 0 && high > (unsigned long)max_high) {
        fprintf(stderr, "%lu HIGH/CRITICAL hits on benign trees, ceiling %ld\n", high, max_high);
        return 1;
    }
    return 0;
}

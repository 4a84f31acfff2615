/* Benchmark of the payload decoder over the "text" fields of a JSONL file; never gates CI.
 *
 * usage: bench_decode [FILE.jsonl] [ROUNDS] [CHUNK]
 *   FILE    default $WARDEN_EVAL_DIR/prompts-dev.jsonl, else ../shared/eval/prompts-dev.jsonl
 *   ROUNDS  passes over the text, default 20; the best pass is reported
 *   CHUNK   bytes per guard_decode_feed call, default 16384
 * Each row is one request: guard_decode_init, its text fed in chunks, guard_decode_end. Reports
 * MB/s (10^6 bytes of input per second) for every row, for the benign rows (label 0) and for
 * the benign rows fed byte by byte, with the payloads handed out. CMake builds it as
 * tests/bench/bench_decode (Release is -O3); the reference setting is -O2:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -I. tests/bench/bench_decode.c guards/decode.c guards/json.c \
 *      -o /tmp/bench_decode && /tmp/bench_decode
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/decode.h"
#include "guards/json.h"

/* Rows' texts back to back; ends[i] is where row i stops. */
struct bench_rows {
    char *buf;
    size_t len, cap;
    size_t *ends;
    size_t n, ncap;
};

static int bench_append(struct bench_rows *t, const char *p, size_t n)
{
    char *nb;
    size_t ncap;

    if (t->len + n > t->cap) {
        ncap = (t->len + n) * 2 + 4096;
        nb = realloc(t->buf, ncap);
        if (nb == NULL)
            return -ENOMEM;
        t->buf = nb;
        t->cap = ncap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    return 0;
}

static int bench_end_row(struct bench_rows *t)
{
    size_t *ne;

    if (t->n == t->ncap) {
        t->ncap = t->ncap * 2 + 1024;
        ne = realloc(t->ends, t->ncap * sizeof(*ne));
        if (ne == NULL)
            return -ENOMEM;
        t->ends = ne;
    }
    t->ends[t->n++] = t->len;
    return 0;
}

/* The top-level "text" string of every line into `all`, and into `benign` when "label" is 0. */
static int bench_load(const char *path, struct bench_rows *all, struct bench_rows *benign)
{
    struct guard_json js;
    struct guard_json_event ev;
    struct bench_rows one = {0};
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    bool in_text, in_label;
    int rc = 0, label;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -errno;
    while ((n = getline(&line, &lcap, f)) > 0) {
        guard_json_init(&js, NULL);
        guard_json_feed(&js, line, (size_t)n, true);
        in_text = in_label = false;
        label = -1;
        one.len = 0;
        while (guard_json_next(&js, &ev) == 1) {
            if (ev.tok == GUARD_JSON_KEY) {
                in_text = ev.depth == 1 && ev.len == 4 && memcmp(ev.str, "text", 4) == 0;
                in_label = ev.depth == 1 && ev.len == 5 && memcmp(ev.str, "label", 5) == 0;
            } else if (ev.tok == GUARD_JSON_STRING && in_text) {
                if ((rc = bench_append(&one, ev.str, ev.len)) < 0)
                    goto out;
            } else if (ev.tok == GUARD_JSON_NUMBER && in_label) {
                label = ev.len == 1 ? ev.str[0] - '0' : -1;
            }
        }
        if (one.len == 0)
            continue;
        if ((rc = bench_append(all, one.buf, one.len)) < 0 || (rc = bench_end_row(all)) < 0)
            goto out;
        if (label == 0 &&
            ((rc = bench_append(benign, one.buf, one.len)) < 0 || (rc = bench_end_row(benign)) < 0))
            goto out;
    }
out:
    free(one.buf);
    free(line);
    fclose(f);
    return rc;
}

static double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_count {
    size_t payloads, bytes;
};

static void bench_payload(void *ud, enum guard_enc enc, unsigned layers, const char *buf,
                          size_t len)
{
    struct bench_count *c = ud;

    (void)enc, (void)layers, (void)buf;
    c->payloads++;
    c->bytes += len;
}

/* Best MB/s over `rounds` passes; *count gets one pass's payloads. */
static double bench_run(const struct bench_rows *t, int rounds, size_t chunk,
                        struct bench_count *count)
{
    struct guard_decode *d = malloc(sizeof(*d));
    double best = 0, t0, dt;
    size_t row, pos, k, start;
    int r;

    if (d == NULL)
        return 0;
    for (r = 0; r < rounds; r++) {
        memset(count, 0, sizeof(*count));
        t0 = bench_now();
        for (row = 0, start = 0; row < t->n; start = t->ends[row++]) {
            guard_decode_init(d, NULL, bench_payload, count);
            for (pos = start; pos < t->ends[row]; pos += k) {
                k = t->ends[row] - pos < chunk ? t->ends[row] - pos : chunk;
                guard_decode_feed(d, t->buf + pos, k);
            }
            guard_decode_end(d);
        }
        dt = bench_now() - t0;
        if (dt > 0 && (double)t->len / dt / 1e6 > best)
            best = (double)t->len / dt / 1e6;
    }
    free(d);
    return best;
}

int main(int argc, char **argv)
{
    struct bench_rows all = {0}, benign = {0};
    struct bench_count c;
    const char *dir = getenv("WARDEN_EVAL_DIR");
    char path[4096];
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
    size_t chunk = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 16384;
    double mbs;
    int rc;

    if (argc > 1)
        snprintf(path, sizeof(path), "%s", argv[1]);
    else
        snprintf(path, sizeof(path), "%s/prompts-dev.jsonl", dir && *dir ? dir : "../shared/eval");
    if (rounds < 1 || chunk < 1) {
        fprintf(stderr, "usage: bench_decode [FILE.jsonl] [ROUNDS] [CHUNK]\n");
        return 2;
    }
    rc = bench_load(path, &all, &benign);
    if (rc < 0 || all.len == 0) {
        fprintf(stderr, "bench_decode: %s: %s\n", path, rc < 0 ? strerror(-rc) : "no text");
        return 1;
    }
    printf("input: %s (struct guard_decode: %zu bytes)\n", path, sizeof(struct guard_decode));
    mbs = bench_run(&all, rounds, chunk, &c);
    printf("all rows:    %5zu rows %9zu bytes  %7.1f MB/s  (%zu payloads, %zu bytes)\n", all.n,
           all.len, mbs, c.payloads, c.bytes);
    if (benign.n > 0) {
        mbs = bench_run(&benign, rounds, chunk, &c);
        printf("benign rows: %5zu rows %9zu bytes  %7.1f MB/s  (%zu payloads, %zu bytes)\n",
               benign.n, benign.len, mbs, c.payloads, c.bytes);
        mbs = bench_run(&benign, rounds > 3 ? 3 : rounds, 1, &c);
        printf("byte a call: %5zu rows %9zu bytes  %7.1f MB/s\n", benign.n, benign.len, mbs);
    }
    free(all.buf);
    free(all.ends);
    free(benign.buf);
    free(benign.ends);
    return 0;
}

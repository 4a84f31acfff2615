/* Benchmark of the prompt-text normaliser over the "text" fields of a JSONL file; never gates CI.
 *
 * usage: bench_normalize [FILE.jsonl] [ROUNDS] [CHUNK]
 *   FILE    default $WARDEN_EVAL_DIR/prompts-dev.jsonl, else ../shared/eval/prompts-dev.jsonl
 *   ROUNDS  passes over the text, default 20; the best pass is reported
 *   CHUNK   bytes per guard_norm_feed call, default 16384
 * Reports MB/s (10^6 bytes of input per second) for the whole text, for its plain-ASCII
 * records only, and for the same ASCII text fed byte by byte (the slow path's floor). CMake
 * builds it as tests/bench/bench_normalize (Release is -O3); the reference setting is -O2:
 *   cc -O2 -std=c11 -D_GNU_SOURCE -I. tests/bench/bench_normalize.c guards/normalize.c \
 *      guards/json.c -o /tmp/bench_normalize && /tmp/bench_normalize
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/json.h"
#include "guards/normalize.h"

struct bench_text {
    char *buf;
    size_t len, cap;
};

static int bench_append(struct bench_text *t, const char *p, size_t n)
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

static bool bench_ascii(const char *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return false;
    return true;
}

/* Concatenate the top-level "text" string of every line; ASCII-only records also go to
 * `ascii`. Lines that are not JSON are skipped. */
static int bench_load(const char *path, struct bench_text *all, struct bench_text *ascii)
{
    struct guard_json js;
    struct guard_json_event ev;
    struct bench_text one = {0};
    char *line = NULL;
    size_t lcap = 0;
    ssize_t n;
    bool want;
    int rc = 0;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return -errno;
    while ((n = getline(&line, &lcap, f)) > 0) {
        guard_json_init(&js, NULL);
        guard_json_feed(&js, line, (size_t)n, true);
        want = false;
        one.len = 0;
        while (guard_json_next(&js, &ev) == 1) {
            if (ev.tok == GUARD_JSON_KEY)
                want = ev.depth == 1 && ev.len == 4 && memcmp(ev.str, "text", 4) == 0;
            else if (ev.tok == GUARD_JSON_STRING && want &&
                     (rc = bench_append(&one, ev.str, ev.len)) < 0)
                goto out;
        }
        if (one.len == 0)
            continue;
        if ((rc = bench_append(&one, "\n", 1)) < 0 ||
            (rc = bench_append(all, one.buf, one.len)) < 0)
            goto out;
        if (bench_ascii(one.buf, one.len) && (rc = bench_append(ascii, one.buf, one.len)) < 0)
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

/* Best MB/s over `rounds` passes; *out_len gets the output size of one pass. */
static double bench_run(const struct bench_text *t, int rounds, size_t chunk, char *out,
                        size_t *out_len)
{
    struct guard_norm n;
    double best = 0, t0, dt;
    size_t pos, k, total;
    int r;

    for (r = 0; r < rounds; r++) {
        t0 = bench_now();
        guard_norm_init(&n);
        total = 0;
        for (pos = 0; pos < t->len; pos += k) {
            k = t->len - pos < chunk ? t->len - pos : chunk;
            total += guard_norm_feed(&n, t->buf + pos, k, out, GUARD_NORM_OUT_MAX(chunk));
        }
        total += guard_norm_end(&n, out, GUARD_NORM_HOLD_MAX);
        dt = bench_now() - t0;
        if (dt > 0 && (double)t->len / dt / 1e6 > best)
            best = (double)t->len / dt / 1e6;
        *out_len = total;
    }
    return best;
}

int main(int argc, char **argv)
{
    struct bench_text all = {0}, ascii = {0};
    const char *dir = getenv("WARDEN_EVAL_DIR");
    char path[4096];
    int rounds = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 20;
    size_t chunk = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 16384, out_len = 0;
    char *out;
    int rc;

    if (argc > 1)
        snprintf(path, sizeof(path), "%s", argv[1]);
    else
        snprintf(path, sizeof(path), "%s/prompts-dev.jsonl", dir && *dir ? dir : "../shared/eval");
    if (rounds < 1 || chunk < 1) {
        fprintf(stderr, "usage: bench_normalize [FILE.jsonl] [ROUNDS] [CHUNK]\n");
        return 2;
    }
    rc = bench_load(path, &all, &ascii);
    if (rc < 0 || all.len == 0) {
        fprintf(stderr, "bench_normalize: %s: %s\n", path, rc < 0 ? strerror(-rc) : "no text");
        return 1;
    }
    out = malloc(GUARD_NORM_OUT_MAX(chunk));
    if (out == NULL)
        return 1;
    printf("input: %s\n", path);
    printf("all text:    %9zu bytes  %7.1f MB/s", all.len,
           bench_run(&all, rounds, chunk, out, &out_len));
    printf("  (output %zu bytes)\n", out_len);
    if (ascii.len > 0) {
        printf("ASCII only:  %9zu bytes  %7.1f MB/s", ascii.len,
               bench_run(&ascii, rounds, chunk, out, &out_len));
        printf("  (output %zu bytes)\n", out_len);
        printf("byte a call: %9zu bytes  %7.1f MB/s\n", ascii.len,
               bench_run(&ascii, rounds > 3 ? 3 : rounds, 1, out, &out_len));
    }
    free(out);
    free(all.buf);
    free(ascii.buf);
    return 0;
}

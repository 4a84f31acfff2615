/* Benchmark of the output guard with the built-in detectors; never gates CI.
 *
 * usage: bench_output [EVAL_DIR] [ROUNDS] [RULES_DIR]
 *   EVAL_DIR   holds pii-dev.jsonl, secrets-dev.jsonl and prompts-dev.jsonl; default
 *              $WARDEN_EVAL_DIR, else ../shared/eval
 *   RULES_DIR  output detector files; default the built-in set
 * Reports the throughput per core (MB of input per CPU second) of guard_output_stream_feed followed
 * by guard_output_stream_end, with every finding redacted (so that no stream stops early):
 *   - "pii+secrets": the texts of pii-dev.jsonl and secrets-dev.jsonl, dense with findings;
 *   - "benign": the benign rows of prompts-dev.jsonl, prose with few findings;
 * each as one stream per row (a response) and as one long stream, fed in 16-byte pieces (SSE
 * deltas) and in 4 KiB pieces (reads of a whole body); then the memory of one stream: new,
 * after the runs, and the most it had between a feed and the take of its output. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/json.h"
#include "guards/output.h"
#include "policy/rules.h"
#include "tests/bench/bench_text.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Rows of a JSONL file: their "text", one after the other, and where each ends. Only rows
 * whose "label" is 0 when benign_only. */
static void load(const char *path, bool benign_only, struct text *all, size_t **ends, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, room = *n;
    ssize_t len;
    if (f == NULL) {
        fprintf(stderr, "bench_output: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        struct guard_json js;
        struct guard_json_event ev;
        struct text t = {0};
        bool in_text = false, in_label = false, benign = false;
        guard_json_init(&js, NULL);
        guard_json_feed(&js, line, (size_t)len, true);
        while (guard_json_next(&js, &ev) > 0) {
            if (ev.depth != 1)
                continue;
            if (ev.tok == GUARD_JSON_KEY) {
                in_text = ev.len == 4 && memcmp(ev.str, "text", 4) == 0;
                in_label = ev.len == 5 && memcmp(ev.str, "label", 5) == 0;
            } else if (in_text && ev.tok == GUARD_JSON_STRING) {
                append(&t, ev.str, ev.len);
            } else if (in_label && ev.tok == GUARD_JSON_NUMBER) {
                benign = ev.len == 1 && ev.str[0] == '0';
            }
        }
        if (t.len > 0 && (benign || !benign_only)) {
            if (*n == room) {
                room = room ? room * 2 : 1024;
                *ends = realloc(*ends, room * sizeof(**ends));
                if (*ends == NULL)
                    exit(1);
            }
            append(all, t.buf, t.len);
            (*ends)[(*n)++] = all->len;
        }
        free(t.buf);
    }
    free(line);
    fclose(f);
}

struct corpus {
    const char *name;
    struct text all;
    size_t *ends, n;
};

static size_t mem_peak; /* the most a stream held between a feed and its take */

/* Feed [p, p + len) in pieces of `piece` bytes; returns findings. */
static size_t feed(struct guard_output_stream *st, struct guard_output_scratch *scratch,
                   const struct guard_output_policy *pol, const char *p, size_t len, size_t piece)
{
    guard_output_stream_reset(st, scratch, pol);
    for (size_t at = 0; at < len; at += piece) {
        size_t k = len - at < piece ? len - at : piece;
        if (guard_output_stream_feed(st, p + at, k) != 0) {
            fprintf(stderr, "bench_output: the stream stopped\n");
            exit(1);
        }
        size_t mem = guard_output_stream_memory(st);
        mem_peak = mem > mem_peak ? mem : mem_peak;
        guard_output_stream_take(st);
    }
    if (guard_output_stream_end(st) != 0)
        exit(1);
    size_t mem = guard_output_stream_memory(st);
    mem_peak = mem > mem_peak ? mem : mem_peak;
    guard_output_stream_take(st);
    return guard_output_stream_findings_total(st);
}

static void bench(const struct corpus *c, struct guard_output_stream *st,
                  struct guard_output_scratch *scratch, const struct guard_output_policy *pol,
                  int rounds)
{
    static const size_t pieces[] = {16, 4096};
    for (size_t k = 0; k < 2; k++) {
        for (int whole = 0; whole < 2; whole++) {
            double best = 1e300;
            size_t found = 0;
            for (int r = 0; r < rounds; r++) {
                double t0 = now_us();
                found = 0;
                if (whole) {
                    found = feed(st, scratch, pol, c->all.buf, c->all.len, pieces[k]);
                } else {
                    for (size_t i = 0, at = 0; i < c->n; at = c->ends[i++])
                        found +=
                            feed(st, scratch, pol, c->all.buf + at, c->ends[i] - at, pieces[k]);
                }
                double t = now_us() - t0;
                best = t < best ? t : best;
            }
            printf("%-12s %-15s %4zu B pieces: %7.1f MB/s  (%.1f MB, %zu findings)\n", c->name,
                   whole ? "one stream" : "stream per row", pieces[k], (double)c->all.len / best,
                   (double)c->all.len / 1e6, found);
        }
    }
}

int main(int argc, char **argv)
{
    char path[1024];
    const char *env = getenv("WARDEN_EVAL_DIR");
    const char *dir = argc > 1 ? argv[1] : env ? env : "../shared/eval";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    struct policy_rules *rules;
    struct policy_error err;
    if (rounds < 1)
        return 2;
    if (policy_rules_load(POLICY_RULES_OUTPUT, argc > 3 ? argv[3] : NULL, NULL, &rules, &err) !=
        0) {
        fprintf(stderr, "bench_output: %s\n", err.msg);
        return 2;
    }
    struct corpus corpora[2] = {{.name = "pii+secrets"}, {.name = "benign"}};
    snprintf(path, sizeof(path), "%s/pii-dev.jsonl", dir);
    load(path, false, &corpora[0].all, &corpora[0].ends, &corpora[0].n);
    snprintf(path, sizeof(path), "%s/secrets-dev.jsonl", dir);
    load(path, false, &corpora[0].all, &corpora[0].ends, &corpora[0].n);
    snprintf(path, sizeof(path), "%s/prompts-dev.jsonl", dir);
    load(path, true, &corpora[1].all, &corpora[1].ends, &corpora[1].n);

    struct guard_output_scratch *scratch = guard_output_scratch_new(rules->out_db);
    struct guard_output_stream *st = guard_output_stream_new(rules->out_db, NULL);
    struct guard_output_policy pol;
    if (scratch == NULL || st == NULL)
        return 1;
    guard_output_policy_default(&pol);
    pol.cls[GUARD_OUT_SECRET] = GUARD_OUT_REDACT;

    printf("output guard: %zu detectors, rule set %s\n", guard_output_db_count(rules->out_db),
           rules->hash);
    size_t mem_new = guard_output_stream_memory(st);
    for (size_t i = 0; i < 2; i++)
        bench(&corpora[i], st, scratch, &pol, rounds);
    printf("memory per stream: %zu bytes new, %zu after the runs, %zu at most (before a take: "
           "the output of one feed); Hyperscan stream state %zu bytes\n",
           mem_new, guard_output_stream_memory(st), mem_peak,
           guard_output_db_stream_size(rules->out_db));

    guard_output_stream_free(st);
    guard_output_scratch_free(scratch);
    for (size_t i = 0; i < 2; i++) {
        free(corpora[i].all.buf);
        free(corpora[i].ends);
    }
    policy_rules_free(rules);
    return 0;
}

/* Benchmark of the prompt guard with the built-in rules; never gates CI.
 *
 * usage: bench_prompt [FILE.jsonl] [ROUNDS] [RULES_DIR]
 *   FILE       default $WARDEN_EVAL_DIR/prompts-dev.jsonl, else ../shared/eval/prompts-dev.jsonl
 *   RULES_DIR  prompt rule files; default the built-in set
 * Reports, on one core:
 *   - throughput (MB/s of input) over the benign rows' text, scanned as one text per row
 *     (normalise, decode, Hyperscan on the text and its ROT13 view);
 *   - latency of one 2 KiB prompt cut from that text (p50, p99, in microseconds);
 *   - the verdict's cost after the last byte: a chat request body fed through the JSON walker,
 *     timing only its last 64 bytes and the verdict (p50, p99). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/json.h"
#include "guards/prompt_body.h"
#include "policy/rules.h"
#include "tests/bench/bench_text.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The benign rows' texts, each followed by a NUL, and their offsets. */
static size_t load(const char *path, struct text *all, size_t **offs)
{
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t cap = 0, n = 0, room = 0;
    ssize_t len;
    if (f == NULL) {
        fprintf(stderr, "bench_prompt: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        struct guard_json js;
        struct guard_json_event ev;
        struct text t = {0};
        bool in_text = false, benign = false, in_label = false;
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
        if (benign && t.len > 0) {
            if (n == room) {
                room = room ? room * 2 : 1024;
                *offs = realloc(*offs, room * sizeof(**offs));
            }
            (*offs)[n++] = all->len;
            append(all, t.buf, t.len);
            append(all, "", 1);
        }
        free(t.buf);
    }
    free(line);
    fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    char path[1024];
    const char *dir = getenv("WARDEN_EVAL_DIR");
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (argc > 1)
        snprintf(path, sizeof(path), "%s", argv[1]);
    else
        snprintf(path, sizeof(path), "%s/prompts-dev.jsonl", dir ? dir : "../shared/eval");
    struct policy_rules *rules;
    struct policy_error err;
    if (policy_rules_load(POLICY_RULES_PROMPT, argc > 3 ? argv[3] : NULL, NULL, &rules, &err) !=
        0) {
        fprintf(stderr, "bench_prompt: %s\n", err.msg);
        return 2;
    }
    struct guard_prompt_scratch *scratch = guard_prompt_scratch_new(rules->db);
    struct guard_prompt_scan *scan = guard_prompt_scan_new(rules->db, NULL);
    struct guard_prompt_verdict v;
    struct text all = {0};
    size_t *offs = NULL, n = load(path, &all, &offs);
    if (n == 0 || rounds < 1)
        return 2;

    /* Throughput: every benign text, one scan each. */
    double best = 1e300;
    size_t bytes = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_us();
        bytes = 0;
        for (size_t i = 0; i < n; i++) {
            const char *p = all.buf + offs[i];
            size_t len = strlen(p);
            bytes += len;
            guard_prompt_scan_block(scan, scratch, p, len, 0.4, 0.7, &v);
        }
        double t = now_us() - t0;
        best = t < best ? t : best;
    }
    printf("prompt guard: %zu rules, rule set %s\n", rules->n, rules->hash);
    printf("benign text: %zu rows, %.1f MB, %.0f MB/s (best of %d)\n", n, (double)bytes / 1e6,
           (double)bytes / best, rounds);

    /* 2 KiB prompts cut from the benign text (spaces, so word boundaries stay natural). */
    size_t slices = (all.len - 1) / 2048;
    double *lat = malloc(slices * sizeof(*lat));
    char *slice = malloc(2048);
    for (size_t i = 0; i < slices; i++) {
        memcpy(slice, all.buf + i * 2048, 2048);
        for (size_t k = 0; k < 2048; k++)
            if (slice[k] == '\0')
                slice[k] = ' ';
        double t0 = now_us();
        guard_prompt_scan_block(scan, scratch, slice, 2048, 0.4, 0.7, &v);
        lat[i] = now_us() - t0;
    }
    qsort(lat, slices, sizeof(*lat), cmp_d);
    printf("2 KiB prompt: %zu prompts, p50 %.2f us, p99 %.2f us\n", slices, lat[slices / 2],
           lat[slices * 99 / 100]);

    /* The verdict after the last byte of a chat request carrying each 2 KiB prompt. */
    struct guard_prompt_body *body = malloc(sizeof(*body));
    struct text req = {0};
    for (size_t i = 0; i < slices; i++) {
        req.len = 0;
        static const char head[] =
            "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"";
        append(&req, head, sizeof(head) - 1);
        for (size_t k = 0; k < 2048; k++) {
            char ch = all.buf[i * 2048 + k];
            if (ch == '"' || ch == '\\')
                append(&req, "\\", 1);
            if ((unsigned char)ch < 0x20)
                ch = ' ';
            append(&req, &ch, 1);
        }
        append(&req, "\"}]}", 4);
        guard_prompt_scan_reset(scan, scratch);
        guard_prompt_body_init(body, GUARD_PROMPT_API_CHAT, scan, false, NULL);
        guard_prompt_body_feed(body, req.buf, req.len - 64, false);
        double t0 = now_us();
        guard_prompt_body_feed(body, req.buf + req.len - 64, 64, true);
        guard_prompt_scan_verdict(scan, 0.4, 0.7, &v);
        lat[i] = now_us() - t0;
    }
    qsort(lat, slices, sizeof(*lat), cmp_d);
    printf("verdict after the last byte (last 64 B + verdict): p50 %.2f us, p99 %.2f us\n",
           lat[slices / 2], lat[slices * 99 / 100]);
    free(req.buf);
    free(body);
    free(lat);
    free(slice);
    free(all.buf);
    free(offs);
    guard_prompt_scan_free(scan);
    guard_prompt_scratch_free(scratch);
    policy_rules_free(rules);
    return 0;
}

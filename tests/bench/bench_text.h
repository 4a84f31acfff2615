/* A growable text for the benchmarks' loaders (exit on out of memory: a benchmark stops). */
#ifndef WARDEN_BENCH_TEXT_H
#define WARDEN_BENCH_TEXT_H

#include <stdlib.h>
#include <string.h>

struct text {
    char *buf;
    size_t len, cap;
};

static inline void append(struct text *t, const char *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->buf = realloc(t->buf, t->cap);
        if (t->buf == NULL)
            exit(1);
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

#endif

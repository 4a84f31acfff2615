/* libFuzzer target for the payload decoder: chunkings must agree, the budget must hold. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/decode.h"
#include "tests/fuzz/fuzz_check.h"

/* What one decode handed out: a hash over every payload and its details, in order. */
struct fuzz_run {
    struct guard_decode *d;
    uint64_t hash;
    size_t payloads, bytes, layer1;
    bool exhausted;
};

static uint64_t fuzz_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void on_payload(void *ud, enum guard_enc enc, unsigned layers, const char *buf, size_t len)
{
    struct fuzz_run *r = ud;
    const struct guard_decode_info *info = guard_decode_info(r->d);
    const char *lo = (const char *)r->d, *hi = lo + sizeof(*r->d);
    uint64_t head[6] = {(uint64_t)enc, layers, info->outer, info->inner, info->offset, info->cut};

    FUZZ_CHECK(enc < GUARD_ENC_COUNT && enc != GUARD_ENC_UTF16);
    FUZZ_CHECK(layers == 1 || layers == 2);
    FUZZ_CHECK(len > 0);
    /* borrowed from the decoder's own buffers, never from the caller's chunk */
    FUZZ_CHECK(buf >= lo && buf + len <= hi);
    FUZZ_CHECK(info->outer & GUARD_ENC_BIT(enc));
    FUZZ_CHECK((layers == 2) == (info->inner != 0));
    FUZZ_CHECK(!r->exhausted);
    r->payloads++;
    r->bytes += len;
    r->layer1 += layers == 1;
    r->hash = fuzz_mix(r->hash, head, sizeof(head));
    r->hash = fuzz_mix(r->hash, buf, len);
    r->exhausted = guard_decode_exhausted(r->d);
}

/* Decode text as two fields (split at `field`), in chunks of `step` bytes (0: two chunks cut
 * at `cut`; SIZE_MAX: random steps from `cut` as a seed), each chunk from an exact-size copy. */
static void fuzz_decode(struct fuzz_run *r, const uint8_t *text, size_t len, size_t field,
                        const struct guard_decode_limits *lim, size_t cut, size_t step)
{
    struct guard_decode *d = malloc(sizeof(*d));
    uint32_t seed = (uint32_t)cut * 2654435761u + 1;
    size_t pos = 0, n, stop;
    char *copy;

    FUZZ_CHECK(d != NULL);
    memset(r, 0, sizeof(*r));
    r->d = d;
    r->hash = 0xcbf29ce484222325ull;
    FUZZ_CHECK(guard_decode_init(d, lim, on_payload, r) == 0);
    while (pos < len) {
        stop = pos < field ? field : len;
        if (step == SIZE_MAX) {
            seed = seed * 1103515245u + 12345u;
            n = 1 + (seed >> 8) % ((seed >> 4 & 3) == 0 ? 900 : 9);
        } else {
            n = step ? step : pos < cut ? cut - pos : stop - pos;
        }
        if (n > stop - pos)
            n = stop - pos;
        copy = malloc(n);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, text + pos, n);
        guard_decode_feed(d, copy, n);
        free(copy);
        pos += n;
        if (pos == field)
            guard_decode_end(d);
        if (guard_decode_exhausted(d))
            r->exhausted = true;
    }
    guard_decode_end(d);
    r->exhausted = guard_decode_exhausted(d);
    FUZZ_CHECK(guard_decode_used(d) == r->bytes);
    FUZZ_CHECK(r->bytes <= d->lim.budget);
    /* exhausted only when the budget is (nearly) spent: a cut payload lost at most a
     * character, and nothing is handed out afterwards (checked in the callback) */
    if (r->exhausted)
        FUZZ_CHECK(r->bytes + 4 > d->lim.budget);
    free(d);
}

static void fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
    FUZZ_CHECK(a->hash == b->hash && a->payloads == b->payloads && a->bytes == b->bytes &&
               a->exhausted == b->exhausted);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guard_decode_limits lim = {0};
    struct fuzz_run whole, two, other;
    const uint8_t *text;
    size_t len, cut, field;
    uint8_t ctl, ctl2;

    if (size < 2)
        return 0;
    ctl = data[0];
    ctl2 = data[1];
    text = data + 2;
    len = size - 2;
    /* The control bytes pick small caps half of the time, the split point and the field end. */
    if (ctl & 0x80) {
        lim.budget = 1 + (size_t)(ctl2 & 0x3F) * 17;
        lim.max_run = 64 + (size_t)(ctl & 7) * 40;
        lim.max_segment = 512 + (size_t)(ctl >> 3 & 3) * 300;
        lim.min_escapes = 1 + (ctl >> 5 & 1);
    }
    cut = len ? (size_t)ctl2 * 2654435761u % (len + 1) : 0;
    field = (ctl & 0x40) && len ? (size_t)ctl * 40503u % (len + 1) : len;

    fuzz_decode(&whole, text, len, field, &lim, len, 0);
    fuzz_decode(&two, text, len, field, &lim, cut, 0);
    fuzz_same(&whole, &two);
    fuzz_decode(&other, text, len, field, &lim, cut, SIZE_MAX);
    fuzz_same(&whole, &other);
    if (len <= 4096) {
        fuzz_decode(&other, text, len, field, &lim, 0, 1);
        fuzz_same(&whole, &other);
    }
    return 0;
}

/* libFuzzer target for the text normaliser: chunkings must agree, bounds and output shape hold. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/normalize.h"
#include "tests/fuzz/fuzz_check.h"

/* One feed from an exact-size heap copy into an exact-size heap output of `cap` bytes (0: the
 * full GUARD_NORM_OUT_MAX), so ASan catches any access outside either. Appends to out. */
static size_t fuzz_feed(struct guard_norm *n, const uint8_t *p, size_t len, size_t cap, char *out,
                        size_t at)
{
    size_t room = cap ? cap : GUARD_NORM_OUT_MAX(len), k;
    char *in = malloc(len ? len : 1), *o = malloc(room ? room : 1);

    FUZZ_CHECK(in != NULL && o != NULL);
    if (len)
        memcpy(in, p, len);
    k = guard_norm_feed(n, len ? in : NULL, len, o, room);
    FUZZ_CHECK(k <= room);
    memcpy(out + at, o, k);
    free(in);
    free(o);
    return at + k;
}

static size_t fuzz_end(struct guard_norm *n, size_t cap, char *out, size_t at)
{
    size_t room = cap ? cap : GUARD_NORM_HOLD_MAX, k;
    char *o = malloc(room);

    FUZZ_CHECK(o != NULL);
    k = guard_norm_end(n, o, room);
    FUZZ_CHECK(k <= room);
    memcpy(out + at, o, k);
    free(o);
    return at + k;
}

/* Normalise in chunks of `step` bytes (0: one cut at `cut`). */
static size_t fuzz_norm(const uint8_t *doc, size_t len, size_t cut, size_t step, char *out)
{
    struct guard_norm n;
    size_t pos = 0, k, at = 0;

    guard_norm_init(&n);
    while (pos < len) {
        k = step ? step : pos < cut ? cut - pos : len - pos;
        if (k > len - pos)
            k = len - pos;
        at = fuzz_feed(&n, doc + pos, k, 0, out, at);
        pos += k;
    }
    at = fuzz_end(&n, 0, out, at);
    FUZZ_CHECK(!guard_norm_truncated(&n));
    return at;
}

static bool fuzz_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        len = (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        cp = p[i] & (0x7F >> len);
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* The shape every output has: valid UTF-8, no ASCII upper case, no control byte but "\n",
 * never two whitespace bytes in a row. */
static void fuzz_shape(const char *p, size_t n)
{
    unsigned char c, prev = 'x';
    size_t i;

    FUZZ_CHECK(fuzz_utf8((const unsigned char *)p, n));
    for (i = 0; i < n; i++) {
        c = (unsigned char)p[i];
        FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
        FUZZ_CHECK((c >= 0x20 && c != 0x7F) || c == '\n');
        FUZZ_CHECK(!((c == ' ' || c == '\n') && (prev == ' ' || prev == '\n')));
        prev = c;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guard_norm n;
    const uint8_t *doc;
    size_t len, cut, cap, whole_len, k, fed;
    char *whole, *other, *room;
    uint8_t ctl;

    if (size < 1)
        return 0;
    ctl = data[0];
    doc = data + 1;
    len = size - 1;
    cut = len ? (size_t)ctl * 2654435761u % (len + 1) : 0;
    whole = malloc(2 * len + GUARD_NORM_HOLD_MAX + 1);
    other = malloc(2 * len + GUARD_NORM_HOLD_MAX + 1);
    FUZZ_CHECK(whole != NULL && other != NULL);

    whole_len = fuzz_norm(doc, len, len, 0, whole);
    FUZZ_CHECK(whole_len <= 2 * len);
    fuzz_shape(whole, whole_len);

    /* One cut at a place the first byte picks. */
    k = fuzz_norm(doc, len, cut, 0, other);
    FUZZ_CHECK(k == whole_len && memcmp(whole, other, k) == 0);
    /* Small even chunks, byte by byte among them. */
    if (len <= 4096) {
        k = fuzz_norm(doc, len, 0, 1 + (ctl & 7), other);
        FUZZ_CHECK(k == whole_len && memcmp(whole, other, k) == 0);
    }
    /* guard_norm_block agrees. */
    k = guard_norm_block((const char *)doc, len, other, 2 * len + GUARD_NORM_HOLD_MAX);
    FUZZ_CHECK(k == whole_len && memcmp(whole, other, k) == 0);

    /* A short cap: the feed writes a prefix of what it writes with room, reports the loss,
     * and touches nothing past cap (an exact-size heap buffer). */
    guard_norm_init(&n);
    fed = fuzz_feed(&n, doc, len, 0, other, 0);
    cap = (size_t)ctl % (fed + 1);
    room = malloc(cap ? cap : 1);
    FUZZ_CHECK(room != NULL);
    guard_norm_init(&n);
    k = guard_norm_feed(&n, (const char *)doc, len, room, cap);
    FUZZ_CHECK(k == cap && memcmp(room, whole, k) == 0);
    FUZZ_CHECK(guard_norm_truncated(&n) == (cap < fed));
    free(room);

    free(whole);
    free(other);
    return 0;
}

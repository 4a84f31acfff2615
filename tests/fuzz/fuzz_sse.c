/* libFuzzer target for the SSE framer: chunkings must agree, raw must round-trip, caps hold. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sse.h"
#include "tests/fuzz/fuzz_check.h"

/* The outcome of one parse: a hash of every item, the raw bytes, counts. */
struct fuzz_run {
    int rc;
    uint64_t hash;
    size_t events, comments, dispatched;
    char *raw;
    size_t raw_len;
    struct proxy_sse_limits lim;
};

static uint64_t fuzz_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void fuzz_raw(struct fuzz_run *r, const char *p, size_t n, size_t cap)
{
    FUZZ_CHECK(r->raw_len + n <= cap);
    if (n)
        memcpy(r->raw + r->raw_len, p, n);
    r->raw_len += n;
}

static bool fuzz_inside(const char *p, size_t n, const char *base, size_t len)
{
    return p >= base && p + n <= base + len;
}

static void fuzz_item(struct fuzz_run *r, const struct proxy_sse_event *ev, size_t cap)
{
    uint64_t head[6] = {(uint64_t)ev->kind,  ev->has_data, ev->has_id,
                        (uint64_t)ev->retry, ev->unknown,  ev->raw_len == 0};

    FUZZ_CHECK(ev->event && ev->data && ev->id && ev->raw);
    FUZZ_CHECK(ev->raw_len <= r->lim.max_event + 1);
    if (ev->kind == PROXY_SSE_COMMENT) {
        r->comments++;
        FUZZ_CHECK(ev->data_len < r->lim.max_line);
        FUZZ_CHECK(ev->raw_len == 0 || (ev->raw[0] == ':' &&
                                        fuzz_inside(ev->data, ev->data_len, ev->raw, ev->raw_len)));
        FUZZ_CHECK(!memchr(ev->data, '\n', ev->data_len) && !memchr(ev->data, '\r', ev->data_len));
    } else {
        FUZZ_CHECK(ev->kind == PROXY_SSE_EVENT);
        r->events++;
        r->dispatched += ev->has_data;
        FUZZ_CHECK(ev->raw_len >= 1);
        FUZZ_CHECK(ev->raw[ev->raw_len - 1] == '\n' || ev->raw[ev->raw_len - 1] == '\r');
        FUZZ_CHECK(ev->data_len + ev->event_len + ev->id_len <= ev->raw_len);
        FUZZ_CHECK(ev->has_data || ev->data_len == 0);
        FUZZ_CHECK(ev->has_id || ev->id_len == 0);
        FUZZ_CHECK(!memchr(ev->id, '\0', ev->id_len));
        FUZZ_CHECK(fuzz_inside(ev->event, ev->event_len, ev->raw, ev->raw_len) ||
                   ev->event_len == 0);
        FUZZ_CHECK(fuzz_inside(ev->id, ev->id_len, ev->raw, ev->raw_len) || ev->id_len == 0);
        FUZZ_CHECK(!memchr(ev->event, '\n', ev->event_len) &&
                   !memchr(ev->event, '\r', ev->event_len));
        FUZZ_CHECK(!memchr(ev->data, '\r', ev->data_len));
    }
    r->hash = fuzz_mix(r->hash, head, sizeof(head));
    r->hash = fuzz_mix(r->hash, ev->event, ev->event_len);
    r->hash = fuzz_mix(r->hash, "|", 1);
    r->hash = fuzz_mix(r->hash, ev->data, ev->data_len);
    r->hash = fuzz_mix(r->hash, "|", 1);
    r->hash = fuzz_mix(r->hash, ev->id, ev->id_len);
    r->hash = fuzz_mix(r->hash, "|", 1);
    r->hash = fuzz_mix(r->hash, ev->raw, ev->raw_len);
    fuzz_raw(r, ev->raw, ev->raw_len, cap);
}

/* One chunk from an exact-size heap copy, so ASan catches a read past its end. */
static void fuzz_feed(struct proxy_sse *s, struct fuzz_run *r, const uint8_t *p, size_t n,
                      size_t cap)
{
    struct proxy_sse_event ev;
    char *copy = malloc(n ? n : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    proxy_sse_feed(s, copy, n);
    while ((rc = proxy_sse_next(s, &ev)) == 1)
        fuzz_item(r, &ev, cap);
    r->rc = rc;
    free(copy);
}

/* Parse doc in chunks of `step` bytes (0: split once at `cut`). */
static void fuzz_parse(struct fuzz_run *r, const uint8_t *doc, size_t len,
                       const struct proxy_sse_limits *lim, size_t cut, size_t step)
{
    struct proxy_sse *s = proxy_sse_new(lim);
    struct proxy_sse_event ev;
    const char *pend;
    size_t pos = 0, n, pend_len;
    int rc;

    FUZZ_CHECK(s != NULL);
    memset(r, 0, sizeof(*r));
    r->lim.max_event = lim->max_event ? lim->max_event : PROXY_SSE_DEFAULT_MAX;
    r->lim.max_line = lim->max_line ? lim->max_line : PROXY_SSE_DEFAULT_MAX;
    r->raw = malloc(len + 1);
    FUZZ_CHECK(r->raw != NULL);
    while (pos < len && r->rc >= 0) {
        n = step ? step : pos < cut ? cut - pos : len - pos;
        if (n > len - pos)
            n = len - pos;
        fuzz_feed(s, r, doc + pos, n, len);
        pos += n;
    }
    if (r->rc >= 0) {
        proxy_sse_end(s);
        while ((rc = proxy_sse_next(s, &ev)) == 1)
            fuzz_item(r, &ev, len);
        r->rc = rc;
    }
    FUZZ_CHECK(r->rc == 0 || r->rc == -E2BIG);
    FUZZ_CHECK(proxy_sse_next(s, &ev) == r->rc);
    pend_len = proxy_sse_pending(s, &pend);
    if (r->rc == 0) {
        FUZZ_CHECK(pend_len <= r->lim.max_event);
        fuzz_raw(r, pend, pend_len, len);
    } else {
        FUZZ_CHECK(pend_len == 0);
    }
    proxy_sse_free(s);
}

/* A plain reference over the whole input: line ends per spec, the longest line, the
 * number of empty lines and of comments. */
struct fuzz_ref {
    size_t blank, comments, longest;
};

static void fuzz_reference(struct fuzz_ref *f, const uint8_t *p, size_t n)
{
    size_t i = 0, j;

    memset(f, 0, sizeof(*f));
    while (i < n) {
        for (j = i; j < n && p[j] != '\n' && p[j] != '\r'; j++)
            ;
        if (j - i > f->longest)
            f->longest = j - i;
        if (j == n)
            break;
        if (j == i)
            f->blank++;
        else if (p[i] == ':')
            f->comments++;
        i = j + 1;
        if (p[j] == '\r' && i < n && p[i] == '\n')
            i++;
    }
}

static void fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
    FUZZ_CHECK(a->rc == b->rc && a->hash == b->hash && a->events == b->events &&
               a->comments == b->comments);
    if (a->rc == 0)
        FUZZ_CHECK(a->raw_len == b->raw_len && memcmp(a->raw, b->raw, a->raw_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_sse_limits lim = {0};
    struct fuzz_run whole, two, bytes;
    struct fuzz_ref ref;
    const uint8_t *doc;
    size_t len, cut, skip;
    uint8_t ctl;

    if (size < 1)
        return 0;
    ctl = data[0];
    doc = data + 1;
    len = size - 1;
    /* The control byte picks small limits half of the time, and the split point. */
    if (ctl & 0x80) {
        lim.max_event = 1 + (ctl & 0x1f) * 3;
        lim.max_line = 1 + (ctl >> 2 & 0xf) * 2;
    }
    cut = len ? (size_t)ctl * 2654435761u % (len + 1) : 0;

    fuzz_parse(&whole, doc, len, &lim, len, 0);
    fuzz_parse(&two, doc, len, &lim, cut, 0);
    fuzz_same(&whole, &two);
    if (len <= 4096) {
        fuzz_parse(&bytes, doc, len, &lim, 0, 1);
        fuzz_same(&whole, &bytes);
        free(bytes.raw);
    }
    skip = len >= 3 && memcmp(doc, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    if (whole.rc == 0) {
        FUZZ_CHECK(whole.raw_len == len - skip && memcmp(whole.raw, doc + skip, len - skip) == 0);
        fuzz_reference(&ref, doc + skip, len - skip);
        FUZZ_CHECK(ref.longest <= whole.lim.max_line);
        FUZZ_CHECK(whole.events == ref.blank && whole.comments == ref.comments);
    }
    free(whole.raw);
    free(two.raw);
    return 0;
}

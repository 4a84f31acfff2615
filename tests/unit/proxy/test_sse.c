/* Unit tests for the SSE framer: WHATWG cases, chunking, raw round trip, limits, real streams. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/sse.h"

/* Growable text for transcripts and raw concatenations. */
struct text {
    char *p;
    size_t len, cap;
};

static void text_put(struct text *t, const void *p, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        assert_non_null(t->p);
    }
    if (n)
        memcpy(t->p + t->len, p, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* Printable form: \n \r \0 and other controls escaped. */
static void text_esc(struct text *t, const char *p, size_t n)
{
    char hex[8];
    size_t i;
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char)p[i];
        if (c == '\n') {
            text_str(t, "\\n");
        } else if (c == '\r') {
            text_str(t, "\\r");
        } else if (c == '\\') {
            text_str(t, "\\\\");
        } else if (c < 0x20 || c >= 0x7f) {
            snprintf(hex, sizeof(hex), "\\x%02x", c);
            text_str(t, hex);
        } else {
            text_put(t, &p[i], 1);
        }
    }
}

/* One run of the framer: a chunking-independent transcript, raw bytes, pending, outcome. */
struct run {
    struct text log, raw;
    const char *pend;
    size_t pend_len;
    char *pend_copy;
    int rc;
    size_t items;
};

enum split {
    SPLIT_WHOLE = 0,
    SPLIT_BYTES,
    SPLIT_RANDOM,
};

static void run_item(struct run *r, const struct proxy_sse_event *ev)
{
    char num[48];

    assert_non_null(ev->event);
    assert_non_null(ev->data);
    assert_non_null(ev->id);
    assert_non_null(ev->raw);
    r->items++;
    text_put(&r->raw, ev->raw, ev->raw_len);
    if (ev->kind == PROXY_SSE_COMMENT) {
        text_str(&r->log, "C ");
        text_esc(&r->log, ev->data, ev->data_len);
        if (ev->raw_len == 0)
            text_str(&r->log, " (in)");
        text_str(&r->log, "\n");
        return;
    }
    assert_int_equal(ev->kind, PROXY_SSE_EVENT);
    text_str(&r->log, "E t=");
    text_esc(&r->log, ev->event, ev->event_len);
    text_str(&r->log, " d=");
    text_esc(&r->log, ev->data, ev->data_len);
    if (ev->has_id) {
        text_str(&r->log, " id=");
        text_esc(&r->log, ev->id, ev->id_len);
    } else {
        assert_int_equal(ev->id_len, 0);
    }
    if (ev->retry >= 0) {
        snprintf(num, sizeof(num), " r=%ld", ev->retry);
        text_str(&r->log, num);
    }
    if (!ev->has_data) {
        assert_int_equal(ev->data_len, 0);
        text_str(&r->log, " nodata");
    }
    if (ev->unknown) {
        snprintf(num, sizeof(num), " u=%u", ev->unknown);
        text_str(&r->log, num);
    }
    text_str(&r->log, "\n");
}

/* Feed one chunk from an exact-size heap copy, so ASan catches reads past it. */
static void run_chunk(struct proxy_sse *s, struct run *r, const char *p, size_t n)
{
    struct proxy_sse_event ev;
    char *copy = malloc(n ? n : 1);
    int rc;

    assert_non_null(copy);
    if (n)
        memcpy(copy, p, n);
    proxy_sse_feed(s, copy, n);
    while ((rc = proxy_sse_next(s, &ev)) == 1)
        run_item(r, &ev);
    r->rc = rc;
    free(copy);
}

static uint64_t rng_state = 88172645463325252ull;

static size_t rng_next(size_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (size_t)(rng_state % bound);
}

static void run_parse(struct run *r, const char *in, size_t len, const struct proxy_sse_limits *lim,
                      enum split how)
{
    struct proxy_sse *s = proxy_sse_new(lim);
    struct proxy_sse_event ev;
    size_t pos = 0, n;
    int rc;

    assert_non_null(s);
    memset(r, 0, sizeof(*r));
    text_str(&r->log, "");
    text_str(&r->raw, "");
    while (pos < len && r->rc >= 0) {
        n = how == SPLIT_WHOLE ? len - pos : how == SPLIT_BYTES ? 1 : 1 + rng_next(8);
        if (n > len - pos)
            n = len - pos;
        run_chunk(s, r, in + pos, n);
        pos += n;
    }
    if (r->rc >= 0) {
        proxy_sse_end(s);
        while ((rc = proxy_sse_next(s, &ev)) == 1)
            run_item(r, &ev);
        r->rc = rc;
    }
    r->pend_len = proxy_sse_pending(s, &r->pend);
    r->pend_copy = malloc(r->pend_len + 1);
    assert_non_null(r->pend_copy);
    memcpy(r->pend_copy, r->pend, r->pend_len);
    if (r->rc < 0)
        assert_int_equal(r->pend_len, 0);
    proxy_sse_free(s);
}

static void run_free(struct run *r)
{
    free(r->log.p);
    free(r->raw.p);
    free(r->pend_copy);
}

/* Parse whole, byte by byte and in random splits; all must agree, and raw + pending must
 * give back the input minus a leading BOM. Returns the whole run's transcript checked
 * against `want` (NULL: only the agreement is checked). */
static void check_doc(const char *name, const char *in, size_t len,
                      const struct proxy_sse_limits *lim, const char *want, int want_rc)
{
    struct run whole, other;
    size_t skip = len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int i;

    run_parse(&whole, in, len, lim, SPLIT_WHOLE);
    if (want && strcmp(whole.log.p, want) != 0)
        fail_msg("%s: transcript\n%s\nwant\n%s", name, whole.log.p, want);
    if (whole.rc != want_rc)
        fail_msg("%s: rc %d want %d", name, whole.rc, want_rc);
    if (whole.rc == 0) {
        text_put(&whole.raw, whole.pend_copy, whole.pend_len);
        if (whole.raw.len != len - skip || memcmp(whole.raw.p, in + skip, len - skip) != 0)
            fail_msg("%s: raw + pending does not reproduce the input", name);
    }
    for (i = 0; i < 22; i++) {
        run_parse(&other, in, len, lim, i == 0 ? SPLIT_BYTES : SPLIT_RANDOM);
        if (strcmp(whole.log.p, other.log.p) != 0 || other.rc != whole.rc)
            fail_msg("%s: split %d differs:\n%s\nvs whole\n%s", name, i, other.log.p, whole.log.p);
        if (other.rc == 0) {
            text_put(&other.raw, other.pend_copy, other.pend_len);
            assert_int_equal(other.raw.len, whole.raw.len);
            assert_memory_equal(other.raw.p, whole.raw.p, whole.raw.len);
        }
        run_free(&other);
    }
    run_free(&whole);
}

struct sse_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    const char *want;
};

#define LEN(s) (sizeof(s) - 1)

static const struct sse_case cases[] = {
    /* WHATWG "Event stream interpretation" examples */
    {"spec multi-line data", "data: YHOO\ndata: +2\ndata: 10\n\n", 0, "E t= d=YHOO\\n+2\\n10\n"},
    {"spec comment and ids",
     ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
     0,
     "C  test stream\nE t= d= nodata\nE t= d=first event id=1\nE t= d=second event id=\n"
     "E t= d= third event\n"},
    {"spec data without colon", "data\n\ndata\ndata\n\ndata:", 0, "E t= d=\nE t= d=\\n\n"},
    {"spec space after colon", "data:test\n\ndata: test\n\n", 0, "E t= d=test\nE t= d=test\n"},
    {"only one space removed", "data:  two\nevent:\tx\n\n", 0, "E t=\\x09x d= two\n"},
    {"event field", "event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n", 0,
     "E t=add d=73857293\nE t=remove d=2153\n"},
    {"event without data", "event: ping\n\n", 0, "E t=ping d= nodata\n"},
    {"empty data line dispatches", "data:\n\n", 0, "E t= d=\n"},
    {"blank lines only", "\n\n\r\n\r", 0,
     "E t= d= nodata\nE t= d= nodata\nE t= d= nodata\n"
     "E t= d= nodata\n"},
    {"crlf", "data: a\r\ndata: b\r\n\r\n", 0, "E t= d=a\\nb\n"},
    {"cr only", "data: a\rdata: b\r\rdata: c\r\r", 0, "E t= d=a\\nb\nE t= d=c\n"},
    {"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\ndata: d\n\r", 0,
     "E t= d=a\\nb\\nc\nE t= d=d\n"},
    {"cr lf cr is two line ends", "data: a\r\n\rdata: b\n\n", 0, "E t= d=a\nE t= d=b\n"},
    {"lf cr is two line ends", "data: a\n\rdata: b\n\n", 0, "E t= d=a\nE t= d=b\n"},
    {"bom at start",
     "\xEF\xBB\xBF"
     "data: x\n\n",
     0, "E t= d=x\n"},
    {"bom only once",
     "\xEF\xBB\xBF\xEF\xBB\xBF"
     "data: x\n\n",
     0, "E t= d= nodata u=1\n"},
    {"bom later is data", "data: \xEF\xBB\xBFx\n\n", 0, "E t= d=\\xef\\xbb\\xbfx\n"},
    {"bom prefix only",
     "\xEF\xBB"
     "data: x\n\n",
     0, "E t= d= nodata u=1\n"},
    {"bom prefix at end", "\xEF\xBB", 0, ""},
    {"comment between events", "data: a\n\n: ping\n\ndata: b\n\n", 0,
     "E t= d=a\nC  ping\nE t= d= nodata\nE t= d=b\n"},
    {"comment inside event", "data: a\n:inside\ndata: b\n\n", 0, "C inside (in)\nE t= d=a\\nb\n"},
    {"comments back to back", ":a\n:b\r\n:\r", 0, "C a\nC b\nC \n"},
    {"id with nul ignored", "id: 7\ndata: x\nid: a\0b\n\n", LEN("id: 7\ndata: x\nid: a\0b\n\n"),
     "E t= d=x id=7\n"},
    {"only id with nul", "id: a\0\ndata: x\n\n", LEN("id: a\0\ndata: x\n\n"), "E t= d=x\n"},
    {"nul in data kept", "data: a\0b\n\n", LEN("data: a\0b\n\n"), "E t= d=a\\x00b\n"},
    {"retry digits", "retry: 3000\ndata: x\n\n", 0, "E t= d=x r=3000\n"},
    {"retry non digits ignored", "retry: 30s\nretry: -1\nretry:\nretry: 1 0\ndata: x\n\n", 0,
     "E t= d=x\n"},
    {"retry last valid wins", "retry: 5\nretry: x\nretry:007\n\n", 0, "E t= d= r=7 nodata\n"},
    {"retry saturates", "retry: 99999999999999999999999999\ndata: x\n\n", 0,
     "E t= d=x r=9223372036854775807\n"},
    {"unknown fields counted", "foo: bar\nData: x\ndata : y\n: c\ndata: z\n\n", 0,
     "C  c (in)\nE t= d=z u=3\n"},
    {"last event and id win", "event: a\nevent: b\nid: 1\nid: 2\ndata: x\n\n", 0,
     "E t=b d=x id=2\n"},
    {"event reset between events", "event: a\ndata: 1\n\ndata: 2\n\n", 0, "E t=a d=1\nE t= d=2\n"},
    {"unterminated last event", "data: a\n\ndata: b\n", 0, "E t= d=a\n"},
    {"unterminated no newline", "data: a", 0, ""},
    {"field colon in value", "data: {\"a\":1}\n\n", 0, "E t= d={\"a\":1}\n"},
    {"empty input", "", 0, ""},
};

static void test_cases(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_doc(cases[i].name, cases[i].in, cases[i].len ? cases[i].len : strlen(cases[i].in),
                  NULL, cases[i].want, 0);
}

/* Each event comes out on the call that delivers its empty line, not later. */
static void test_prompt(void **state)
{
    struct proxy_sse *s = proxy_sse_new(NULL);
    struct proxy_sse_event ev;
    const char *p;

    (void)state;
    assert_non_null(s);
    proxy_sse_feed(s, "data: a\n", 8);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_feed(s, "\n: ping", 7);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_int_equal(ev.kind, PROXY_SSE_EVENT);
    assert_int_equal(ev.data_len, 1);
    assert_memory_equal(ev.raw, "data: a\n\n", 9);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    assert_int_equal(proxy_sse_pending(s, &p), 6);
    assert_memory_equal(p, ": ping", 6);
    proxy_sse_feed(s, "\n", 1);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_int_equal(ev.kind, PROXY_SSE_COMMENT);
    assert_memory_equal(ev.raw, ": ping\n", 7);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    assert_int_equal(proxy_sse_pending(s, &p), 0);
    proxy_sse_free(s);
}

/* A CR ending a chunk holds its item until the next byte (or the end) decides about an LF. */
static void test_cr_hold(void **state)
{
    struct proxy_sse *s = proxy_sse_new(NULL);
    struct proxy_sse_event ev;
    const char *p;

    (void)state;
    assert_non_null(s);
    proxy_sse_feed(s, "data: a\r\r", 9);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_feed(s, "\ndata: b\r\r", 10);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_int_equal(ev.raw_len, 10);
    assert_memory_equal(ev.raw, "data: a\r\r\n", 10);
    assert_memory_equal(ev.data, "a", 1);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_feed(s, "x", 1);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_memory_equal(ev.raw, "data: b\r\r", 9);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_feed(s, "\r\r", 2);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_end(s);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_int_equal(ev.raw_len, 3);
    assert_memory_equal(ev.raw, "x\r\r", 3);
    assert_int_equal(ev.unknown, 1);
    assert_false(ev.has_data);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    assert_int_equal(proxy_sse_pending(s, &p), 0);
    proxy_sse_free(s);
}

/* An event inside one chunk is handed out in place; one across chunks from the buffer. */
static void test_zero_copy(void **state)
{
    static const char chunk[] = "data: one\n\ndata: tw";
    struct proxy_sse *s = proxy_sse_new(NULL);
    struct proxy_sse_event ev;

    (void)state;
    assert_non_null(s);
    proxy_sse_feed(s, chunk, LEN(chunk));
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_ptr_equal(ev.raw, chunk);
    assert_ptr_equal(ev.data, chunk + 6);
    assert_int_equal(proxy_sse_next(s, &ev), 0);
    proxy_sse_feed(s, "o\n\n", 3);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    assert_int_equal(ev.data_len, 3);
    assert_memory_equal(ev.data, "two", 3);
    assert_memory_equal(ev.raw, "data: two\n\n", 11);
    proxy_sse_free(s);
}

/* Feeding before the previous chunk was used up is a misuse, reported, not ignored. */
static void test_feed_misuse(void **state)
{
    struct proxy_sse *s = proxy_sse_new(NULL);
    struct proxy_sse_event ev;

    (void)state;
    assert_non_null(s);
    proxy_sse_feed(s, "data: a\n\ndata: b\n\n", 18);
    assert_int_equal(proxy_sse_next(s, &ev), 1);
    proxy_sse_feed(s, "data: c\n\n", 9);
    assert_int_equal(proxy_sse_next(s, &ev), -EINVAL);
    assert_int_equal(proxy_sse_next(s, &ev), -EINVAL);
    proxy_sse_free(s);
    proxy_sse_free(NULL);
}

static void test_limits(void **state)
{
    struct proxy_sse_limits line8 = {.max_line = 9};
    struct proxy_sse_limits ev16 = {.max_event = 16};
    struct proxy_sse_limits huge = {.max_event = (size_t)PROXY_SSE_CEILING + 1};
    char *big;
    size_t n = 3 * 1024 * 1024, i;

    (void)state;
    /* a line of exactly max_line bytes passes, one more fails wherever the chunks cut */
    check_doc("line at limit", "data: 123\n\n", 11, &line8, "E t= d=123\n", 0);
    check_doc("line over limit", "data: a\n\ndata: 1234\n\n", 21, &line8, "E t= d=a\n", -E2BIG);
    check_doc("partial line over limit", "data: 1234", 10, &line8, "", -E2BIG);
    check_doc("comment over limit", ": 12345678\n", 11, &line8, "", -E2BIG);
    /* max_event counts raw bytes through the first byte of the closing line end */
    check_doc("event at limit", "data: 12345678\n\n", 16, &ev16, "E t= d=12345678\n", 0);
    check_doc("event one over", "data: 123456789\n\n", 17, &ev16, "", -E2BIG);
    check_doc("event at limit crlf", "data: 1234567\r\n\r\n", 17, &ev16, "E t= d=1234567\n", 0);
    check_doc("event over limit", "data: 1\n\ndata: 1234567890\n\n", 28, &ev16, "E t= d=1\n",
              -E2BIG);
    check_doc("event over by lines", "data: 1\ndata: 2\ndata: 3\n\n", 25, &ev16, "", -E2BIG);
    check_doc("comment in event then over", "data: 1\n:c\n:d\ndata: 23\n\n", 25, &ev16,
              "C c (in)\nC d (in)\n", -E2BIG);
    /* a BOM prefix cut by the end of the stream is a line like any other (fuzzer find) */
    {
        struct proxy_sse_limits one = {.max_event = 1, .max_line = 1};

        check_doc("bom prefix over limit", "\xEF\xBB", 2, &one, "", -E2BIG);
        check_doc("bom prefix at limit", "\xEF", 1, &one, "", 0);
    }
    assert_null(proxy_sse_new(&huge));
    /* defaults: 1 MiB of one line is too much, of a stream of events is not */
    big = malloc(n);
    assert_non_null(big);
    memcpy(big, "data: ", 6);
    memset(big + 6, 'x', n - 6);
    {
        struct run r;

        run_parse(&r, big, n, NULL, SPLIT_RANDOM);
        assert_int_equal(r.rc, -E2BIG);
        run_free(&r);
        for (i = 0; i + 1024 <= n; i += 1024) {
            memcpy(big + i, "data: ", 6);
            big[i + 1022] = '\n';
            big[i + 1023] = '\n';
        }
        run_parse(&r, big, n, NULL, SPLIT_WHOLE);
        assert_int_equal(r.rc, 0);
        assert_int_equal(r.items, n / 1024);
        run_free(&r);
    }
    free(big);
}

/* A multi-line event that spans many chunks and the default buffer growth. */
static void test_big_event(void **state)
{
    struct text t = {0};
    struct run r;
    int i;

    (void)state;
    for (i = 0; i < 3000; i++)
        text_str(&t, "data: 0123456789012345678901234567890123456789\n");
    text_str(&t, "\n");
    run_parse(&r, t.p, t.len, NULL, SPLIT_RANDOM);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.items, 1);
    assert_int_equal(r.raw.len, t.len);
    assert_memory_equal(r.raw.p, t.p, t.len);
    assert_int_equal(strlen(r.log.p), strlen("E t= d=\n") + 3000 * 40 + 2999 * 2);
    run_free(&r);
    free(t.p);
}

static const char openai_stream[] =
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{"
    "\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
    "\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{"
    "\"index\":0,\"delta\":{\"content\":\"Hello\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{"
    "\"index\":0,\"delta\":{\"content\":\"!\\n\\nHow\"},\"logprobs\":null,\"finish_reason\":null}]}"
    "\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{"
    "\"index\":0,\"delta\":{\"content\":\" can I help?\"},\"logprobs\":null,\"finish_reason\":"
    "null}]}\n\n"
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{"
    "\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":null}\n\n"
    "data: {\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1718000000,"
    "\"model\":\"gpt-4o-mini-2024-07-18\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21}}\n\n"
    "data: [DONE]\n\n";

static const char anthropic_stream[] =
    "event: message_start\r\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":"
    "\"claude-3-5-sonnet-20241022\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
    "\"input_tokens\":25,\"output_tokens\":1}}}\r\n\r\n"
    "event: content_block_start\r\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\r\n\r\n"
    "event: ping\r\ndata: {\"type\": \"ping\"}\r\n\r\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\r\n\r\n"
    "event: content_block_delta\r\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"! My card is 4111 1111\"}}\r\n\r\n"
    "event: content_block_stop\r\ndata: {\"type\":\"content_block_stop\",\"index\":0}\r\n\r\n"
    "event: message_delta\r\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\r\n\r\n"
    "event: message_stop\r\ndata: {\"type\":\"message_stop\"}\r\n\r\n";

static void test_openai_stream(void **state)
{
    struct run r;
    const char *p;

    (void)state;
    check_doc("openai", openai_stream, LEN(openai_stream), NULL, NULL, 0);
    run_parse(&r, openai_stream, LEN(openai_stream), NULL, SPLIT_RANDOM);
    assert_int_equal(r.items, 9); /* 7 data events, a comment and its empty event */
    assert_non_null(strstr(r.log.p, "\"delta\":{\"content\":\"!\\\\n\\\\nHow\"}"));
    assert_non_null(strstr(r.log.p, "\nC  keep-alive\nE t= d= nodata\n"));
    p = r.log.p + r.log.len - strlen("E t= d=[DONE]\n");
    assert_string_equal(p, "E t= d=[DONE]\n");
    run_free(&r);
}

static void test_anthropic_stream(void **state)
{
    static const char want_types[] =
        "message_start content_block_start ping content_block_delta content_block_delta "
        "content_block_stop message_delta message_stop ";
    struct proxy_sse *s = proxy_sse_new(NULL);
    struct proxy_sse_event ev;
    struct text types = {0};
    size_t pos = 0, n, events = 0;
    int rc;

    (void)state;
    check_doc("anthropic", anthropic_stream, LEN(anthropic_stream), NULL, NULL, 0);
    assert_non_null(s);
    /* 4 KiB-ish TCP segments cut anywhere: here every 37 bytes */
    while (pos < LEN(anthropic_stream)) {
        n = LEN(anthropic_stream) - pos < 37 ? LEN(anthropic_stream) - pos : 37;
        proxy_sse_feed(s, anthropic_stream + pos, n);
        while ((rc = proxy_sse_next(s, &ev)) == 1) {
            assert_int_equal(ev.kind, PROXY_SSE_EVENT);
            assert_true(ev.has_data);
            assert_true(ev.data_len > 10 && ev.data[0] == '{' && ev.data[ev.data_len - 1] == '}');
            text_put(&types, ev.event, ev.event_len);
            text_str(&types, " ");
            if (ev.event_len == 19 && memcmp(ev.event, "content_block_delta", 19) == 0 &&
                events == 4)
                assert_non_null(memmem(ev.data, ev.data_len, "4111 1111", 9));
            events++;
        }
        assert_int_equal(rc, 0);
        pos += n;
    }
    assert_int_equal(events, 8);
    assert_string_equal(types.p, want_types);
    free(types.p);
    proxy_sse_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_prompt),
        cmocka_unit_test(test_cr_hold),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_feed_misuse),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_big_event),
        cmocka_unit_test(test_openai_stream),
        cmocka_unit_test(test_anthropic_stream),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

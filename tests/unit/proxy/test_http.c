/* Unit tests for proxy/http.c: the header store, header kinds and hop-by-hop rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "proxy/http.h"

/* Feed "Name: value" pairs the way llhttp does: names and values in fragments of `piece`
 * bytes, value_done after every value (also an empty one). */
static void feed(struct proxy_hdrs *h, const char *const *pairs, size_t n, size_t piece)
{
    for (size_t i = 0; i < n; i += 2) {
        for (size_t at = 0, len = strlen(pairs[i]); at < len; at += piece)
            assert_int_equal(
                proxy_hdrs_add_name(h, pairs[i] + at, len - at < piece ? len - at : piece), 0);
        for (size_t at = 0, len = strlen(pairs[i + 1]); at < len; at += piece)
            assert_int_equal(
                proxy_hdrs_add_value(h, pairs[i + 1] + at, len - at < piece ? len - at : piece), 0);
        proxy_hdrs_value_done(h);
    }
}

static void assert_hdr(const struct proxy_hdrs *h, size_t i, const char *name, const char *value)
{
    const struct proxy_hdr *e = &h->items[i];
    assert_int_equal(e->name_len, strlen(name));
    assert_memory_equal(h->buf + e->name, name, e->name_len);
    assert_int_equal(e->value_len, strlen(value));
    assert_memory_equal(proxy_hdr_value(h, e), value, e->value_len);
}

static void test_store_fragments_and_empty_values(void **state)
{
    static const char *const pairs[] = {
        "Host", "api.example.com", "X-Empty", "", "Content-Type", "application/json", "X-Empty-Too",
        "",     "Accept",          "*/*"};
    (void)state;
    for (size_t piece = 1; piece <= 7; piece++) {
        struct proxy_hdrs h;
        proxy_hdrs_init(&h, 4096);
        feed(&h, pairs, 10, piece);
        assert_int_equal(h.n, 5);
        for (size_t i = 0; i < 5; i++)
            assert_hdr(&h, i, pairs[2 * i], pairs[2 * i + 1]);
        proxy_hdrs_reset(&h);
        assert_int_equal(h.n, 0);
        feed(&h, pairs, 2, piece);
        assert_int_equal(h.n, 1);
        assert_hdr(&h, 0, "Host", "api.example.com");
        proxy_hdrs_deinit(&h);
    }
}

static void test_store_caps(void **state)
{
    struct proxy_hdrs h;
    char name[16];
    (void)state;
    proxy_hdrs_init(&h, 64);
    assert_int_equal(proxy_hdrs_add_name(&h, "X-Long", 6), 0);
    assert_int_equal(proxy_hdrs_add_value(&h, "0123456789012345678901234567890123456789", 40), 0);
    assert_int_equal(proxy_hdrs_add_value(&h, "0123456789012345678901234567890123456789", 40),
                     -E2BIG);
    proxy_hdrs_deinit(&h);

    proxy_hdrs_init(&h, 1 << 20);
    for (int i = 0; i < PROXY_HDRS_MAX; i++) {
        int n = snprintf(name, sizeof(name), "h%d", i);
        assert_int_equal(proxy_hdrs_add_name(&h, name, (size_t)n), 0);
        proxy_hdrs_value_done(&h);
    }
    assert_int_equal(proxy_hdrs_add_name(&h, "one-more", 8), -E2BIG);
    assert_int_equal(proxy_hdrs_add_value(&h, "", 0), 0); /* zero bytes: a no-op */
    proxy_hdrs_deinit(&h);

    /* a value before any name is a caller error, not a crash */
    proxy_hdrs_init(&h, 64);
    assert_int_equal(proxy_hdrs_add_value(&h, "v", 1), -EINVAL);
    proxy_hdrs_deinit(&h);
}

static void test_classify(void **state)
{
    static const struct {
        const char *name;
        enum proxy_hdr_kind kind;
    } cases[] = {
        {"Connection", PROXY_HDR_HOP},
        {"KEEP-ALIVE", PROXY_HDR_HOP},
        {"proxy-connection", PROXY_HDR_HOP},
        {"TE", PROXY_HDR_HOP},
        {"Trailer", PROXY_HDR_HOP},
        {"Transfer-Encoding", PROXY_HDR_HOP},
        {"Upgrade", PROXY_HDR_HOP},
        {"Proxy-Authorization", PROXY_HDR_HOP},
        {"Proxy-Authenticate", PROXY_HDR_HOP},
        {"host", PROXY_HDR_HOST},
        {"Content-Length", PROXY_HDR_CONTENT_LENGTH},
        {"content-type", PROXY_HDR_CONTENT_TYPE},
        {"Expect", PROXY_HDR_EXPECT},
        {"Accept-Encoding", PROXY_HDR_ACCEPT_ENCODING},
        {"X-Forwarded-For", PROXY_HDR_X_FORWARDED_FOR},
        {"x-forwarded-proto", PROXY_HDR_X_FORWARDED_PROTO},
        {"X-Request-Id", PROXY_HDR_X_REQUEST_ID},
        {"Authorization", PROXY_HDR_AUTHORIZATION},
        {"x-api-key", PROXY_HDR_X_API_KEY},
        {"api-key", PROXY_HDR_X_API_KEY},
        {"anthropic-version", PROXY_HDR_OTHER},
        {"Content-Lengthy", PROXY_HDR_OTHER},
        {"T", PROXY_HDR_OTHER},
        {"x-request-ids", PROXY_HDR_OTHER},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct proxy_hdrs h;
        proxy_hdrs_init(&h, 256);
        feed(&h, (const char *const[]){cases[i].name, "v"}, 2, 3);
        if (proxy_hdr_classify(&h, &h.items[0]) != cases[i].kind)
            fail_msg("%s: kind %d, want %d", cases[i].name, proxy_hdr_classify(&h, &h.items[0]),
                     cases[i].kind);
        proxy_hdrs_deinit(&h);
    }
}

static void test_connection_listed_headers_are_hop(void **state)
{
    static const char *const pairs[] = {
        "X-Drop-Me",  "1",    "Connection", "keep-alive, X-Drop-Me ,x-also",
        "X-Also",     "2",    "X-Keep",     "3",
        "Connection", "close"};
    struct proxy_hdrs h;
    (void)state;
    proxy_hdrs_init(&h, 4096);
    feed(&h, pairs, 10, 4);
    assert_int_equal(proxy_hdr_classify(&h, &h.items[0]),
                     PROXY_HDR_HOP); /* listed after it appears */
    assert_int_equal(proxy_hdr_classify(&h, &h.items[1]), PROXY_HDR_HOP); /* Connection itself */
    assert_int_equal(proxy_hdr_classify(&h, &h.items[2]), PROXY_HDR_HOP); /* listed in lower case */
    assert_int_equal(proxy_hdr_classify(&h, &h.items[3]), PROXY_HDR_OTHER); /* not listed */
    assert_int_equal(proxy_hdr_classify(&h, &h.items[4]), PROXY_HDR_HOP);
    proxy_hdrs_deinit(&h);
}

static void test_token_list(void **state)
{
    (void)state;
    assert_true(proxy_token_in_list("close", 5, "close"));
    assert_true(proxy_token_in_list(" a , b ,c", 9, "b"));
    assert_true(proxy_token_in_list("A,B", 3, "b"));
    assert_false(proxy_token_in_list("ab,c", 4, "a"));
    assert_false(proxy_token_in_list("", 0, "a"));
    assert_false(proxy_token_in_list(",,, ,", 5, "a"));
    /* only `len` bytes count */
    assert_false(proxy_token_in_list("x,close", 3, "close"));
}

static void test_write(void **state)
{
    struct proxy_hdrs h;
    struct evbuffer *b = evbuffer_new();
    char out[64];
    (void)state;
    proxy_hdrs_init(&h, 256);
    feed(&h, (const char *const[]){"X-A", "1", "X-Empty", ""}, 4, 2);
    proxy_hdr_write(&h, &h.items[0], b);
    proxy_hdr_write(&h, &h.items[1], b);
    size_t n = evbuffer_remove(b, out, sizeof(out) - 1);
    out[n] = '\0';
    assert_string_equal(out, "X-A: 1\r\nX-Empty: \r\n");
    assert_ptr_equal(proxy_hdrs_find(&h, "x-empty"), &h.items[1]);
    assert_null(proxy_hdrs_find(&h, "x-b"));
    evbuffer_free(b);
    proxy_hdrs_deinit(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_fragments_and_empty_values),
        cmocka_unit_test(test_store_caps),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_connection_listed_headers_are_hop),
        cmocka_unit_test(test_token_list),
        cmocka_unit_test(test_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

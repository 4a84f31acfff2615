/* Unit tests for SHA-256 and HMAC-SHA-256: FIPS 180-4 and RFC 4231 vectors, chunking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/sha256.h"

static void hex_of(const void *data, size_t len, char out[TEL_SHA256_HEX])
{
    uint8_t d[TEL_SHA256_LEN];
    tel_sha256(data, len, d);
    tel_sha256_hex(d, out);
}

static void test_vectors(void **state)
{
    (void)state;
    char h[TEL_SHA256_HEX];
    hex_of("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    hex_of("abc", 3, h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    hex_of(m, strlen(m), h);
    assert_string_equal(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* One million 'a' fed in uneven pieces: every buffering path is crossed. */
static void test_chunked(void **state)
{
    (void)state;
    char *a = malloc(1000000);
    assert_non_null(a);
    memset(a, 'a', 1000000);
    struct tel_sha256 s;
    uint8_t d[TEL_SHA256_LEN];
    char h[TEL_SHA256_HEX];
    tel_sha256_init(&s);
    size_t off = 0, step = 1;
    while (off < 1000000) {
        size_t n = step < 1000000 - off ? step : 1000000 - off;
        tel_sha256_update(&s, a + off, n);
        off += n;
        step = step * 7 % 191 + 1;
    }
    tel_sha256_final(&s, d);
    tel_sha256_hex(d, h);
    assert_string_equal(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

static void test_hmac(void **state)
{
    (void)state;
    uint8_t d[TEL_SHA256_LEN], key[20];
    char h[TEL_SHA256_HEX];
    memset(key, 0x0b, sizeof(key));
    tel_hmac_sha256(key, sizeof(key), "Hi There", 8, d);
    tel_sha256_hex(d, h);
    assert_string_equal(h, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    tel_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
    tel_sha256_hex(d, h);
    assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    uint8_t big[131];
    memset(big, 0xaa, sizeof(big));
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    tel_hmac_sha256(big, sizeof(big), msg, strlen(msg), d);
    tel_sha256_hex(d, h);
    assert_string_equal(h, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The SHA-instruction path (where the CPU has it) and the portable one agree on every length
 * around the block edges, one call or many. */
static void test_paths_agree(void **state)
{
    (void)state;
    static uint8_t data[4096];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(data); i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t len = 0; len <= sizeof(data); len += len < 300 ? 1 : 61) {
        uint8_t a[TEL_SHA256_LEN], b[TEL_SHA256_LEN];
        tel_sha256_force_portable(false);
        tel_sha256(data, len, a);
        tel_sha256_force_portable(true);
        tel_sha256(data, len, b);
        tel_sha256_force_portable(false);
        if (memcmp(a, b, sizeof(a)) != 0)
            fail_msg("the two paths differ at length %zu", len);
    }
}

/* Many messages at once (four streams of the SHA instructions, or sixteen lanes of AVX-512,
 * as the CPU has them) give each message's digest: batches of every size around the stream
 * and lane counts, lengths on both sides of the block and padding edges and long ones that
 * keep a stream busy while the others are started again and again. */
static void test_many(void **state)
{
    enum { MAX = 200, SPAN = 300000 };
    static const size_t batches[] = {0, 1, 2, 3, 4, 5, 6, 7, 15, 16, 17, 33, MAX};
    uint8_t *data = malloc(SPAN);
    const void *msg[MAX];
    size_t len[MAX];
    uint8_t(*got)[TEL_SHA256_LEN] = malloc(MAX * sizeof(*got));
    assert_non_null(data);
    assert_non_null(got);
    uint32_t x = 777;
    for (size_t i = 0; i < SPAN; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (uint8_t)(x >> 16);
    }
    for (size_t b = 0; b < sizeof(batches) / sizeof(batches[0]); b++) {
        size_t n = batches[b];
        for (size_t i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            size_t r = x >> 8;
            /* mostly short (under 3 blocks to 40), now and then long */
            static const size_t edges[] = {0, 1, 55, 56, 63, 64, 65, 127, 128, 129};
            if (i < sizeof(edges) / sizeof(edges[0]))
                len[i] = edges[(i + b) % (sizeof(edges) / sizeof(edges[0]))];
            else
                len[i] = i % 23 == 7 ? 100000 + r % 150000 : i % 3 ? 50 + r % 150 : r % 2600;
            msg[i] = data + (r % (SPAN - len[i]));
        }
        tel_sha256_many(n, msg, len, got);
        tel_sha256_force_portable(true); /* the reference */
        for (size_t i = 0; i < n; i++) {
            uint8_t want[TEL_SHA256_LEN];
            tel_sha256(msg[i], len[i], want);
            if (memcmp(want, got[i], sizeof(want)) != 0)
                fail_msg("batch of %zu: message %zu (%zu bytes) differs", n, i, len[i]);
        }
        tel_sha256_force_portable(*(bool *)*state);
    }
    free(got);
    free(data);
}

/* The path under test, kept in *state for the tests that switch to the reference. */
static int portable(void **state)
{
    static bool on = true;
    *state = &on;
    tel_sha256_force_portable(true);
    tel_sha256_without_ni(false);
    return 0;
}

static int native(void **state)
{
    static bool off = false;
    *state = &off;
    tel_sha256_force_portable(false);
    tel_sha256_without_ni(false);
    return 0;
}

/* tel_sha256_many as on a CPU without the SHA instructions: the AVX-512 lanes where this one
 * has them (their finishing then uses the SHA instructions or not, as the CPU has them). */
static int without_ni(void **state)
{
    static bool off = false;
    *state = &off;
    tel_sha256_force_portable(false);
    tel_sha256_without_ni(true);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_vectors, native),
        cmocka_unit_test_setup(test_chunked, native),
        cmocka_unit_test_setup(test_vectors, portable),
        cmocka_unit_test_setup(test_chunked, portable),
        cmocka_unit_test_setup(test_paths_agree, native),
        cmocka_unit_test_setup(test_many, native),
        cmocka_unit_test_setup(test_many, without_ni),
        cmocka_unit_test_setup(test_many, portable),
        cmocka_unit_test(test_hmac),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

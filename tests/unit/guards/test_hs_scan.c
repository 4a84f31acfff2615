/* Unit tests for guards/hs_scan.h: scans of data that ends where the mapping ends (the
 * Hyperscan 5.4 AVX-512 VBMI over-read faults there, on CPUs that take that path) give the
 * same matches as scans of the same bytes in the middle of a buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guards/hs_scan.h"

/* Many short caseless literals: Hyperscan takes its "fat teddy" literal matcher for them, the
 * code that over-reads (VectorCamp/vectorscan#322). */
static const char pattern[] = "bat|cat|mat|rat|fat|sat|pat|hat|vat";

static int count_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                    void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    ++*(unsigned *)ctx;
    return 0;
}

static hs_database_t *compile(unsigned mode)
{
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    if (hs_compile(pattern, HS_FLAG_CASELESS, mode, NULL, &db, &err) != HS_SUCCESS) {
        hs_free_compile_error(err);
        fail_msg("hs_compile failed");
    }
    return db;
}

/* Two pages, the second made unreadable: text is copied to end at the first page's end. */
static char *at_page_end(const char *text, size_t n, void **map, size_t *map_len)
{
    long page = sysconf(_SC_PAGESIZE);
    *map_len = 2 * (size_t)page;
    *map = mmap(NULL, *map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(*map != MAP_FAILED);
    assert_int_equal(mprotect((char *)*map + page, (size_t)page, PROT_NONE), 0);
    char *p = (char *)*map + page - n;
    memcpy(p, text, n);
    return p;
}

static void test_block_at_page_end(void **state)
{
    static const char text[] = "VAt hat pat sat fat rat mat ca";
    const size_t n = sizeof(text) - 1;
    hs_database_t *db = compile(HS_MODE_BLOCK);
    hs_scratch_t *scratch = NULL;
    void *map;
    size_t map_len;
    unsigned got = 0, want = 0;
    (void)state;

    assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    assert_int_equal(hs_scan(db, text, (unsigned)n, 0, scratch, count_cb, &want), HS_SUCCESS);
    assert_int_equal(want, 7);
    char *p = at_page_end(text, n, &map, &map_len);
    assert_int_equal(guard_hs_scan(db, p, n, scratch, count_cb, &got), HS_SUCCESS);
    assert_int_equal(got, want);
    /* every suffix, ending at the page's end, matches as the same bytes inside a buffer */
    for (size_t k = 0; k <= n; k++) {
        got = want = 0;
        assert_int_equal(guard_hs_scan(db, p + n - k, k, scratch, count_cb, &got), HS_SUCCESS);
        assert_int_equal(hs_scan(db, text + n - k, (unsigned)k, 0, scratch, count_cb, &want),
                         HS_SUCCESS);
        assert_int_equal(got, want);
    }
    /* a large buffer is scanned in place: far from the end of its page, or copied */
    static char big[20000];
    memset(big, 'x', sizeof(big));
    memcpy(big + 5000, "bat", 3);
    got = 0;
    assert_int_equal(guard_hs_scan(db, big, sizeof(big), scratch, count_cb, &got), HS_SUCCESS);
    assert_int_equal(got, 1);
    munmap(map, map_len);
    hs_free_scratch(scratch);
    hs_free_database(db);
}

static void test_stream_at_page_end(void **state)
{
    char text[200];
    hs_database_t *db = compile(HS_MODE_STREAM);
    hs_scratch_t *scratch = NULL;
    hs_stream_t *st = NULL;
    (void)state;

    memset(text, '.', sizeof(text));
    memcpy(text, "xx rat yy", 9);
    memcpy(text + sizeof(text) - 14, "zz cat ww BAT", 13);
    assert_int_equal(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    /* two writes, each ending where its mapping ends; cuts through "cat" and "BAT" make
     * matches across the writes */
    for (size_t cut = 0; cut <= sizeof(text); cut++) {
        void *m1, *m2;
        size_t l1, l2;
        unsigned got = 0;
        char *a = at_page_end(text, cut, &m1, &l1);
        char *b = at_page_end(text + cut, sizeof(text) - cut, &m2, &l2);
        assert_int_equal(hs_open_stream(db, 0, &st), HS_SUCCESS);
        assert_int_equal(guard_hs_scan_stream(st, a, cut, scratch, count_cb, &got), HS_SUCCESS);
        assert_int_equal(guard_hs_scan_stream(st, b, sizeof(text) - cut, scratch, count_cb, &got),
                         HS_SUCCESS);
        assert_int_equal(hs_close_stream(st, scratch, count_cb, &got), HS_SUCCESS);
        if (got != 3)
            fail_msg("cut at %zu: %u matches, expected 3", cut, got);
        munmap(m1, l1);
        munmap(m2, l2);
    }
    hs_free_scratch(scratch);
    hs_free_database(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_at_page_end),
        cmocka_unit_test(test_stream_at_page_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

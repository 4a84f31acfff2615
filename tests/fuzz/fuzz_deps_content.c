/* libFuzzer target for the file-content analysers: package files and lifecycle script text
 * are untrusted, and so is an IoC corpus given on the command line. No crash, no unbounded
 * work, hits in line order with short printable messages, and the same hits with and without
 * the lexer's pre-filter. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/content.h"
#include "tests/fuzz/fuzz_check.h"

static const char iocs[] = "# version: 2026-01-01.1\n"
                           "domain\tevil.example.net\tfuzz A\n"
                           "domain\tc2.example.org\tfuzz B\n"
                           "url\thttps://hooks.example.com/abc\tfuzz C\n"
                           "sha256\t"
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                           "\tfuzz D\n";

static const char *const paths[] = {
    "index.js", "lib/a.min.js", "install.sh", "README.md", "build/Release/x.node",
    "bin/tool", "data.json",    "x"};

static struct deps_content_db *db;

struct state {
    uint32_t last_line, max_line;
    unsigned n;
    char text[(DEPS_CONTENT_MAX_HITS + 4) * 300]; /* the hits, to compare two scans */
    size_t len;
};

static void on_hit(void *ud, const struct deps_content_hit *hit)
{
    struct state *st = ud;
    size_t k;

    FUZZ_CHECK(hit->rule_id != NULL && strncmp(hit->rule_id, "L2-", 3) == 0);
    FUZZ_CHECK(hit->severity <= DEPS_SEV_CRITICAL);
    FUZZ_CHECK(hit->line >= st->last_line && hit->line <= st->max_line);
    st->last_line = hit->line;
    k = strlen(hit->message);
    FUZZ_CHECK(k > 0 && k < 240);
    for (size_t i = 0; i < k; i++)
        FUZZ_CHECK((unsigned char)hit->message[i] >= 0x20 && (unsigned char)hit->message[i] < 0x7f);
    st->n++;
    int w = snprintf(st->text + st->len, sizeof(st->text) - st->len, "%u %s %d %s\n", hit->line,
                     hit->rule_id, (int)hit->severity, hit->message);
    FUZZ_CHECK(w > 0 && (size_t)w < sizeof(st->text) - st->len);
    st->len += (size_t)w;
}

/* Spaces put in the middle of the text when bits 2-7 of the first byte are 0x30 (one input in
 * 64, as each costs ten of the others): the file is then over the size at which some rules
 * weigh a file as a bundle (L2-OBFS-004: 256 KiB). */
#define PAD ((size_t)300 << 10)

/* First byte: 0xff = the rest is an IoC corpus; otherwise bits 0-1 are scan flags and bits 2-4
 * pick the file's path (index.js, as a bundle with PAD, when bits 2-7 are 0x30). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    struct state st = {.max_line = 1};
    char *copy;
    size_t len;

    if (db == NULL) {
        if (deps_content_db_new(iocs, sizeof(iocs) - 1, &db, err, sizeof(err)) != 0)
            __builtin_trap();
        deps_content_db_prefilter(db); /* from the first input */
    }
    if (size == 0)
        return 0;
    len = size - 1 + (data[0] >> 2 == 0x30 ? PAD : 0);
    copy = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
    if (copy == NULL)
        return 0;
    if (len > size - 1) {
        size_t half = (size - 1) / 2;
        memcpy(copy, data + 1, half);
        memset(copy + half, ' ', PAD);
        memcpy(copy + half + PAD, data + 1 + half, size - 1 - half);
    } else {
        memcpy(copy, data + 1, size - 1);
    }
    if (data[0] == 0xff) {
        struct deps_content_db *d = NULL;
        int rc = deps_content_db_new(copy, size - 1, &d, err, sizeof(err));
        FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -ENOMEM);
        if (rc == 0) {
            FUZZ_CHECK(d != NULL);
            FUZZ_CHECK(deps_content_scan(d, "a.js", "x.evil.example.net", 18, 0, on_hit, &st) == 0);
        } else {
            FUZZ_CHECK(d == NULL && strncmp(err, "iocs.tsv:", 9) == 0);
        }
        deps_content_db_free(d);
        free(copy);
        return 0;
    }
    for (size_t i = 0; i < len; i++)
        st.max_line += copy[i] == '\n';
    FUZZ_CHECK(
        deps_content_scan(db, paths[(data[0] >> 2) & 7], copy, len, data[0] & 3, on_hit, &st) == 0);
    FUZZ_CHECK(st.n <= DEPS_CONTENT_MAX_HITS);
    if ((data[0] & 3) == 0) {
        /* the lexer's pre-filter changes nothing: the same hits when every file is lexed */
        static struct state full;
        full.last_line = 0;
        full.max_line = st.max_line;
        full.n = 0;
        full.len = 0;
        FUZZ_CHECK(deps_content_scan(db, paths[(data[0] >> 2) & 7], copy, len, DEPS_CONTENT_FULL,
                                     on_hit, &full) == 0);
        FUZZ_CHECK(full.len == st.len && memcmp(full.text, st.text, st.len) == 0);
    }
    if (size > 32) {
        st.last_line = 0;
        int rc = deps_content_scan_sha256(db, "a.js", data + 1, on_hit, &st);
        FUZZ_CHECK(rc == 0 || rc == 1);
    }
    free(copy);
    return 0;
}

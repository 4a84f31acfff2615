/* The tarball reader of POST /v1/scan/deps: archives built here, byte by byte, in the formats
 * tar and npm write (ustar, pax and GNU long names, gzip), and the ones it must refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "guards/deps/tar.h"

/* An archive under construction. */
struct arc {
    unsigned char b[1 << 16];
    size_t len;
};

static void header_to(struct arc *a, const char *name, char type, size_t size, const char *prefix,
                      const char *link)
{
    unsigned char *h = a->b + a->len;
    memset(h, 0, 512);
    snprintf((char *)h, 100, "%s", name);
    if (link)
        snprintf((char *)h + 157, 100, "%s", link);
    memcpy(h + 100, "0000644", 7);
    memcpy(h + 108, "0000000", 7);
    memcpy(h + 116, "0000000", 7);
    snprintf((char *)h + 124, 12, "%011zo", size);
    memcpy(h + 136, "00000000000", 11);
    h[156] = (unsigned char)type;
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    if (prefix)
        snprintf((char *)h + 345, 155, "%s", prefix);
    unsigned sum = 0;
    memset(h + 148, ' ', 8);
    for (size_t i = 0; i < 512; i++)
        sum += h[i];
    snprintf((char *)h + 148, 8, "%06o", sum);
    a->len += 512;
}

static void header(struct arc *a, const char *name, char type, size_t size, const char *prefix)
{
    header_to(a, name, type, size, prefix, NULL);
}

static void body(struct arc *a, const char *data, size_t n)
{
    memcpy(a->b + a->len, data, n);
    memset(a->b + a->len + n, 0, (512 - n % 512) % 512);
    a->len += (n + 511) / 512 * 512;
}

static void file(struct arc *a, const char *name, const char *data)
{
    header(a, name, '0', strlen(data), NULL);
    body(a, data, strlen(data));
}

static void finish(struct arc *a)
{
    memset(a->b + a->len, 0, 1024);
    a->len += 1024;
}

static int read_arc(const struct arc *a, struct deps_tar *t, char *err, size_t n)
{
    return deps_tar_read((const char *)a->b, a->len, NULL, t, err, n);
}

static const char *find(const struct deps_tar *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->files[i].path, path) == 0)
            return t->files[i].data;
    return NULL;
}

static void test_plain_ustar_and_folders(void **state)
{
    static struct arc a;
    struct deps_tar t;
    char err[300];
    (void)state;
    a.len = 0;
    header(&a, "./", '5', 0, NULL);
    file(&a, "./package.json", "{\"name\":\"p\"}");
    header(&a, "./node_modules/", '5', 0, NULL);
    file(&a, "./node_modules/x/package.json", "{\"name\":\"x\",\"version\":\"1.0.0\"}");
    /* A path longer than 100 bytes, split into ustar's prefix and name. */
    header(&a, "index.js", '0', 2,
           "node_modules/a-package-with-a-rather-long-name/lib/deeply/nested");
    body(&a, "x;", 2);
    finish(&a);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(find(&t, "package.json"), "{\"name\":\"p\"}");
    assert_non_null(find(&t, "node_modules/x/package.json"));
    assert_non_null(find(&t, "node_modules/a-package-with-a-rather-long-name/lib/deeply/nested/"
                             "index.js"));
    deps_tar_free(&t);
}

static void test_gzip_and_top_folder(void **state)
{
    static struct arc a;
    static unsigned char gz[1 << 16];
    struct deps_tar t;
    char err[300];
    (void)state;
    a.len = 0;
    file(&a, "package/package.json", "{\"name\":\"p\"}");
    file(&a, "package/package-lock.json", "{\"lockfileVersion\":3}");
    finish(&a);
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = a.b;
    zs.avail_in = (uInt)a.len;
    zs.next_out = gz;
    zs.avail_out = sizeof(gz);
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t gzlen = sizeof(gz) - zs.avail_out;
    deflateEnd(&zs);
    assert_int_equal(deps_tar_read((const char *)gz, gzlen, NULL, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 2);
    /* npm pack's "package/" folder is the project. */
    assert_string_equal(find(&t, "package.json"), "{\"name\":\"p\"}");
    assert_non_null(find(&t, "package-lock.json"));
    deps_tar_free(&t);

    /* Cut short: the gzip stream ends early. */
    assert_int_equal(deps_tar_read((const char *)gz, gzlen / 2, NULL, &t, err, sizeof(err)),
                     -EBADMSG);
    assert_non_null(strstr(err, "cut short"));
    /* Unpacks to more than the cap. */
    struct deps_tar_limits lim = {.max_bytes = 1024};
    assert_int_equal(deps_tar_read((const char *)gz, gzlen, &lim, &t, err, sizeof(err)), -E2BIG);
    assert_non_null(strstr(err, "more than 1024 bytes"));
}

static void test_long_names(void **state)
{
    static struct arc a;
    static char longpath[300];
    static char pax[400];
    struct deps_tar t;
    char err[300];
    (void)state;
    memset(longpath, 'a', 250);
    memcpy(longpath + 250, "/package.json", 14);
    a.len = 0;
    file(&a, "package.json", "{}");
    /* GNU: a 'L' entry holds the next entry's name. */
    header(&a, "././@LongLink", 'L', strlen(longpath) + 1, NULL);
    body(&a, longpath, strlen(longpath) + 1);
    file(&a, "truncated-name", "{\"name\":\"gnu\"}");
    /* pax: a "path" record. */
    char rec[300];
    snprintf(rec, sizeof(rec), " path=b/%s\n", longpath);
    size_t n = strlen(rec) + 3; /* with its own 3-digit length */
    snprintf(pax, sizeof(pax), "%zu%s", n, rec);
    assert_int_equal(strlen(pax), n);
    header(&a, "PaxHeader", 'x', n, NULL);
    body(&a, pax, n);
    file(&a, "other-truncated", "{\"name\":\"pax\"}");
    finish(&a);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 3);
    assert_string_equal(find(&t, longpath), "{\"name\":\"gnu\"}");
    char bpath[320];
    snprintf(bpath, sizeof(bpath), "b/%s", longpath);
    assert_string_equal(find(&t, bpath), "{\"name\":\"pax\"}");
    deps_tar_free(&t);
}

static void test_refused(void **state)
{
    static const struct {
        const char *name;
        char type;
        const char *link, *why;
    } cases[] = {
        {"node_modules/x/evil", '2', "/etc/passwd", "symbolic link to /etc/passwd, outside"},
        {"node_modules/x/up", '2', "../../../secret", "symbolic link to ../../../secret"},
        {"node_modules/x/hard", '1', "../etc/shadow", "hard link to ../etc/shadow"},
        {"node_modules/x/none", '2', NULL, "symbolic link"},
        {"dev/sda", '3', NULL, "device"},
        {"fifo", '6', NULL, "FIFO"},
        {"../outside/package.json", '0', NULL, "not a relative path"},
        {"/etc/passwd", '0', NULL, "not a relative path"},
        {"a/../../b", '0', NULL, "not a relative path"},
    };
    static struct arc a;
    struct deps_tar t;
    char err[300];
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        a.len = 0;
        file(&a, "package.json", "{}");
        header_to(&a, cases[i].name, cases[i].type, 0, NULL, cases[i].link);
        finish(&a);
        assert_int_equal(read_arc(&a, &t, err, sizeof(err)), -EPERM);
        if (strstr(err, cases[i].why) == NULL || strstr(err, cases[i].name) == NULL)
            fail_msg("case %zu: %s", i, err);
    }
}

/* Links that stay inside the project (npm's node_modules/.bin, pnpm's layout) are skipped,
 * never followed: the project's real files are scanned where they are. */
static void test_inside_links_skipped(void **state)
{
    static struct arc a;
    struct deps_tar t;
    char err[300];
    (void)state;
    a.len = 0;
    file(&a, "package.json", "{}");
    file(&a, "node_modules/x/bin/cli.js", "#!/usr/bin/env node");
    header_to(&a, "node_modules/.bin/x", '2', 0, NULL, "../x/bin/cli.js");
    header_to(&a, "node_modules/y", '2', 0, NULL, ".pnpm/y@1.0.0/node_modules/y");
    header_to(&a, "node_modules/x/copy.js", '1', 0, NULL, "./node_modules/x/bin/cli.js");
    finish(&a);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.links_skipped, 3);
    assert_null(find(&t, "node_modules/.bin/x"));
    deps_tar_free(&t);
}

/* Link targets too long for the header: GNU's 'K' entry and pax's "linkpath" record. */
static void test_long_link_targets(void **state)
{
    static struct arc a;
    static char target[300];
    struct deps_tar t;
    char err[300];
    (void)state;
    /* An outside target, given the GNU way: refused and named. */
    memset(target, 'x', 200);
    memcpy(target, "/etc/", 5);
    target[200] = '\0';
    a.len = 0;
    file(&a, "package.json", "{}");
    header(&a, "././@LongLink", 'K', strlen(target) + 1, NULL);
    body(&a, target, strlen(target) + 1);
    header(&a, "node_modules/x/l", '2', 0, NULL);
    finish(&a);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), -EPERM);
    assert_non_null(strstr(err, "symbolic link to /etc/xxx"));
    /* An inside target, given the pax way: skipped. The header's own linkname says
     * otherwise: the pax record wins. */
    static char pax[400];
    char rec[320];
    memset(target, 'y', 200);
    memcpy(target, "../x/", 5);
    target[200] = '\0';
    snprintf(rec, sizeof(rec), " linkpath=%s\n", target);
    size_t n = strlen(rec) + 3;
    snprintf(pax, sizeof(pax), "%zu%s", n, rec);
    assert_int_equal(strlen(pax), n);
    a.len = 0;
    file(&a, "package.json", "{}");
    header(&a, "PaxHeader", 'x', n, NULL);
    body(&a, pax, n);
    header_to(&a, "node_modules/.bin/x", '2', 0, NULL, "/etc/passwd");
    finish(&a);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(t.links_skipped, 1);
    deps_tar_free(&t);
}

static void test_corrupt(void **state)
{
    static struct arc a;
    struct deps_tar t;
    char err[300];
    (void)state;
    /* Not an archive at all. */
    assert_int_equal(deps_tar_read("{\"files\":{}}", 12, NULL, &t, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "not a tar archive"));
    /* A header whose checksum does not add up. */
    a.len = 0;
    file(&a, "package.json", "{}");
    file(&a, "b.js", "1");
    finish(&a);
    a.b[512 + 512 + 10] ^= 1;
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "bad header checksum at byte 1024"));
    /* A size past the end. */
    a.len = 0;
    header(&a, "package.json", '0', 100000, NULL);
    body(&a, "{}", 2);
    assert_int_equal(read_arc(&a, &t, err, sizeof(err)), -EBADMSG);
    assert_non_null(strstr(err, "past the end"));
    /* Too many entries. */
    a.len = 0;
    for (int i = 0; i < 5; i++)
        file(&a, "f", "x");
    finish(&a);
    struct deps_tar_limits lim = {.max_entries = 4};
    assert_int_equal(deps_tar_read((const char *)a.b, a.len, &lim, &t, err, sizeof(err)), -E2BIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_ustar_and_folders),
        cmocka_unit_test(test_gzip_and_top_folder),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_inside_links_skipped),
        cmocka_unit_test(test_long_link_targets),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

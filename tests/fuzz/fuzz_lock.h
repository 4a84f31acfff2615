/* The body of the lockfile fuzz targets: each defines FUZZ_LOCK_FORMAT, then includes this.
 * Parse, check the result is sound and deterministic, parse again under small caps. */
#ifndef FUZZ_LOCK_FORMAT
#error "define FUZZ_LOCK_FORMAT (an enum deps_lock_format) before including fuzz_lock.h"
#endif
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/lock.h"
#include "tests/fuzz/fuzz_check.h"

/* Parse one exact-size heap copy (so ASan sees reads past the end) and check the result:
 * an error leaves no result and says something; a success is sorted and well-formed. */
static size_t fuzz_one(const char *copy, size_t len, const struct deps_lock_limits *lim)
{
    struct deps_lock_error err;
    struct deps_lock *lk = NULL;
    size_t i, n;
    int rc = deps_lock_parse(FUZZ_LOCK_FORMAT, copy, len, lim, &lk, &err);

    if (rc < 0) {
        FUZZ_CHECK(lk == NULL);
        FUZZ_CHECK(rc == -EBADMSG || rc == -E2BIG || rc == -ENOTSUP);
        FUZZ_CHECK(err.message[0] != '\0');
        return (size_t)-1;
    }
    FUZZ_CHECK(rc == 0 && lk != NULL && lk->version != NULL);
    for (i = 0; i < lk->n_pkgs; i++) {
        const struct deps_pkg *p = &lk->pkgs[i];

        FUZZ_CHECK(p->name && p->version && p->location && p->line >= 1);
        if (i > 0) {
            const struct deps_pkg *q = &lk->pkgs[i - 1];
            int c = strcmp(q->name, p->name);

            FUZZ_CHECK(c < 0 || (c == 0 && strcmp(q->version, p->version) <= 0));
        }
    }
    for (i = 0; i < lk->n_deps; i++)
        FUZZ_CHECK(lk->deps[i].importer && lk->deps[i].name && lk->deps[i].spec &&
                   lk->deps[i].line >= 1);
    n = lk->n_pkgs;
    deps_lock_free(lk);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct deps_lock_limits small = {
        .max_packages = 8, .max_deps = 8, .max_string = 48, .max_nodes = 256, .max_depth = 6};
    char *copy = malloc(size ? size : 1);
    size_t a, b;

    FUZZ_CHECK(copy != NULL);
    if (size)
        memcpy(copy, data, size);
    a = fuzz_one(copy, size, NULL);
    b = fuzz_one(copy, size, NULL);
    FUZZ_CHECK(a == b); /* deterministic */
    fuzz_one(copy, size, &small);
    free(copy);
    return 0;
}

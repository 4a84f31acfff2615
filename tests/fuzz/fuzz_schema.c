/* libFuzzer target for the JSON tree and the schema validator: input is "schema NUL instance"
 * (without a NUL, the text validates itself). Verdicts with and without violations must agree,
 * results must be well formed, the writer must round-trip. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json_value.h"
#include "guards/schema.h"
#include "tests/fuzz/fuzz_check.h"

static const struct guard_jv_limits fuzz_jv_limits = {
    .max_bytes = 64 * 1024,
    .max_depth = 64,
    .max_nodes = 8192,
};

/* Parse from an exact-size heap copy, so ASan catches a read past the end. */
static struct guard_jv_doc *fuzz_parse(const uint8_t *p, size_t n, bool dups)
{
    struct guard_jv_limits lim = fuzz_jv_limits;
    struct guard_json_error err;
    struct guard_jv_doc *doc = NULL;
    char *copy = malloc(n ? n : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    lim.allow_duplicates = dups;
    rc = guard_jv_parse(copy, n, &lim, &doc, &err);
    free(copy);
    if (rc < 0) {
        FUZZ_CHECK(rc == -EBADMSG || rc == -E2BIG);
        FUZZ_CHECK(doc == NULL && err.message != NULL && err.offset <= n && err.line >= 1 &&
                   err.column >= 1);
        return NULL;
    }
    FUZZ_CHECK(doc != NULL && guard_jv_doc_nodes(doc) <= lim.max_nodes);
    return doc;
}

/* The writer's output parses back to an equal value with the same hash. */
static void fuzz_roundtrip(const struct guard_jv *v)
{
    struct guard_jv_limits lim = fuzz_jv_limits;
    struct guard_jv_doc *again = NULL;
    char *text = NULL;
    size_t len = 0;

    FUZZ_CHECK(guard_jv_write(v, &text, &len) == 0);
    lim.max_bytes = len + 1;
    lim.allow_duplicates = true;
    FUZZ_CHECK(guard_jv_parse(text, len, &lim, &again, NULL) == 0);
    FUZZ_CHECK(guard_jv_equal(v, guard_jv_doc_root(again)));
    FUZZ_CHECK(guard_jv_hash(v) == guard_jv_hash(guard_jv_doc_root(again)));
    guard_jv_doc_free(again);
    free(text);
}

static void fuzz_check_result(const struct guard_schema_result *res, int rc)
{
    size_t i;

    FUZZ_CHECK(rc == 0 || rc == 1);
    FUZZ_CHECK(res->valid == (rc == 0));
    if (rc == 0) {
        FUZZ_CHECK(res->total == 0 && res->n == 0 && !res->incomplete);
        return;
    }
    FUZZ_CHECK(res->n >= 1 && res->n <= GUARD_SCHEMA_VIOLATIONS && res->n <= res->total);
    for (i = 0; i < res->n; i++) {
        const struct guard_schema_violation *v = &res->v[i];

        FUZZ_CHECK(v->instance != NULL && v->schema != NULL && v->message != NULL &&
                   v->keyword != NULL);
        FUZZ_CHECK(v->instance[0] == '\0' || v->instance[0] == '/');
        FUZZ_CHECK(v->message[0] != '\0');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guard_schema_limits lim = {
        .max_nodes = 512,
        .max_patterns = 8,
        .max_pattern = 128,
        .max_depth = 64,
        .max_steps = 20000,
    };
    const uint8_t *nul = memchr(data, 0, size);
    size_t slen = nul ? (size_t)(nul - data) : size;
    const uint8_t *inst = nul ? nul + 1 : data;
    size_t ilen = nul ? size - slen - 1 : size;
    struct guard_jv_doc *sdoc, *idoc = NULL;
    struct guard_schema_result res;
    struct guard_schema *s = NULL;
    char err[256];
    int rc, rc2;

    /* The last byte picks the compile flags, so both strict and lenient modes are reached. */
    if (size > 0)
        lim.flags =
            data[size - 1] & (GUARD_SCHEMA_F_FORMAT_ANNOTATION | GUARD_SCHEMA_F_IGNORE_UNKNOWN);
    sdoc = fuzz_parse(data, slen, false);
    if (sdoc == NULL)
        return 0;
    fuzz_roundtrip(guard_jv_doc_root(sdoc));
    err[0] = '\0';
    rc = guard_schema_new(guard_jv_doc_root(sdoc), &lim, NULL, 0, &s, err, sizeof(err));
    if (rc < 0) {
        FUZZ_CHECK(rc == -EINVAL || rc == -ENOTSUP || rc == -E2BIG);
        FUZZ_CHECK(s == NULL && err[0] != '\0');
        if (rc == -ENOTSUP)
            FUZZ_CHECK(strncmp(err, "unsupported", 11) == 0);
        goto out;
    }
    idoc = nul ? fuzz_parse(inst, ilen, true) : NULL;
    rc = guard_schema_validate(s, guard_jv_doc_root(idoc ? idoc : sdoc), NULL, &res);
    fuzz_check_result(&res, rc);
    rc2 = guard_schema_validate(s, guard_jv_doc_root(idoc ? idoc : sdoc), NULL, NULL);
    /* The verdict-only mode does a subset of the work, so unless a cap stopped the full
     * validation the verdicts agree. */
    FUZZ_CHECK(rc2 == 0 || rc2 == 1);
    if (!res.incomplete)
        FUZZ_CHECK(rc2 == rc);
    guard_schema_result_free(&res);
out:
    guard_schema_free(s);
    guard_jv_doc_free(idoc);
    guard_jv_doc_free(sdoc);
    return 0;
}

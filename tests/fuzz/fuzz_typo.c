/* libFuzzer target for the typosquat detector: package names from lockfiles and manifests
 * are untrusted, and so is a corpus file given with --corpus. No crash, sound results. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/typo.h"
#include "tests/fuzz/fuzz_check.h"

static const char corpus_tsv[] = "lodash\t500000000\nexpress\t300000000\ncross-env\t200000000\n"
                                 "moment\t150000000\n@babel/core\t110000000\nnode-sass\t100000000\n"
                                 "commander\t70000000\nwebpack\t60000000\n@scope/scope\t50000000\n"
                                 "ms\t45000000\nurl\t40000000\nelectron\t25000000\n"
                                 "requests\t7000000\n";

static struct deps_typo_corpus *small;

/* First byte 0: the rest is a corpus file; otherwise it is a package name. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct deps_typo_error err;
    if (small == NULL &&
        (small = deps_typo_corpus_new(corpus_tsv, sizeof(corpus_tsv) - 1, &err)) == NULL)
        __builtin_trap();
    if (size == 0)
        return 0;
    if (data[0] == 0) {
        char *copy = malloc(size - 1 ? size - 1 : 1); /* exact size: ASan sees over-reads */
        if (copy == NULL)
            return 0;
        memcpy(copy, data + 1, size - 1);
        struct deps_typo_corpus *c = deps_typo_corpus_new(copy, size - 1, &err);
        if (c) {
            struct deps_typo_match m;
            FUZZ_CHECK(deps_typo_check(c, "lodahs", &m) >= 0);
            deps_typo_corpus_free(c);
        } else {
            FUZZ_CHECK(err.message[0] != '\0');
        }
        free(copy);
        return 0;
    }
    char *name = malloc(size + 1);
    if (name == NULL)
        return 0;
    memcpy(name, data, size);
    name[size] = '\0';
    struct deps_typo_match m;
    int rc = deps_typo_check(small, name, &m);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 1) {
        FUZZ_CHECK(m.target != NULL && m.target[0] != '\0');
        FUZZ_CHECK(strcmp(m.target, name) != 0); /* a package is never its own squat */
    }
    FUZZ_CHECK(deps_typo_check(small, name, NULL) == rc);
    free(name);
    return 0;
}

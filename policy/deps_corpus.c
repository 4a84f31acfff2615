/* The supply-chain scanner's corpus: embedded files, hashed with SHA-256, handed to guards. */
#include "policy/deps_corpus.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rules.h"
#include "telemetry/sha256.h"

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct deps_file *)a)->path, ((const struct deps_file *)b)->path);
}

int policy_deps_corpus_from(const struct deps_file *files, size_t n, struct deps_corpus **out,
                            char *err, size_t errlen)
{
    struct deps_file *v = malloc((n ? n : 1) * sizeof(*v));
    struct tel_sha256 h;
    uint8_t d[TEL_SHA256_LEN];
    char hex[TEL_SHA256_HEX], hash[80];
    int rc;

    *out = NULL;
    if (!v) {
        snprintf(err, errlen, "corpus: out of memory");
        return -ENOMEM;
    }
    if (n)
        memcpy(v, files, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_path);
    tel_sha256_init(&h);
    for (size_t i = 0; i < n; i++) {
        uint8_t len[8];
        for (int k = 0; k < 8; k++)
            len[k] = (uint8_t)((uint64_t)v[i].len >> (8 * (7 - k)));
        tel_sha256_update(&h, v[i].path, strlen(v[i].path) + 1);
        tel_sha256_update(&h, len, sizeof(len));
        tel_sha256_update(&h, v[i].data, v[i].len);
    }
    tel_sha256_final(&h, d);
    tel_sha256_hex(d, hex);
    snprintf(hash, sizeof(hash), "sha256:%s", hex);
    rc = deps_corpus_new(v, n, hash, out, err, errlen);
    if (rc == 0) {
        (*out)->sha256 = tel_sha256;
        (*out)->sha256_many = tel_sha256_many;
    }
    free(v);
    return rc;
}

int policy_deps_corpus_load(struct deps_corpus **out, char *err, size_t errlen)
{
    struct deps_file v[16];
    size_t n = 0;

    for (size_t i = 0; i < policy_supply_chain_files_n && n < 16; i++) {
        const struct policy_embedded_file *f = &policy_supply_chain_files[i];
        v[n++] = (struct deps_file){f->name, f->data, f->len};
    }
    return policy_deps_corpus_from(v, n, out, err, errlen);
}

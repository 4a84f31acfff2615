/* The supply-chain scanner's corpus (rules/supply-chain, embedded at build time), hashed. */
#ifndef WARDEN_POLICY_DEPS_CORPUS_H
#define WARDEN_POLICY_DEPS_CORPUS_H

#include <stddef.h>

#include "guards/deps/scan.h"

/* Build the scanner corpus from the embedded rules/supply-chain files. The corpus hash is
 * "sha256:<hex>" over each file's name, length and bytes, in name order. Returns 0 with
 * *out set (free with deps_corpus_free), or a negative errno with "FILE:LINE: what" in err. */
int policy_deps_corpus_load(struct deps_corpus **out, char *err, size_t errlen);

/* The same over files given by the caller (tests, a corpus directory). */
int policy_deps_corpus_from(const struct deps_file *files, size_t n, struct deps_corpus **out,
                            char *err, size_t errlen);

#endif

/* Typosquatting detector (L2-TYPO-001): package names close to popular ones in a corpus. */
#ifndef WARDEN_GUARDS_DEPS_TYPO_H
#define WARDEN_GUARDS_DEPS_TYPO_H

#include <stddef.h>
#include <stdint.h>

/* Hard caps on a corpus file. */
#define DEPS_TYPO_MAX_BYTES ((size_t)64 << 20) /* whole TSV */
#define DEPS_TYPO_MAX_NAMES 1000000            /* entries */
#define DEPS_TYPO_MAX_NAME  214                /* npm's limit on a package name */

/* How a name resembles its target, strongest evidence first in deps_typo_check's choice. */
enum deps_typo_technique {
    DEPS_TYPO_NONE = 0,
    DEPS_TYPO_HOMOGLYPH, /* look-alike characters: 0/o, 1/l/i, rn/m, vv/w, Cyrillic/Greek */
    DEPS_TYPO_SEPARATOR, /* '-', '_', '.' removed, added or swapped */
    DEPS_TYPO_SCOPE,     /* "@scope/name" vs "name", or the scope joined into the name */
    DEPS_TYPO_AFFIX,     /* "js", "node", "cli", ... added to or removed from the name */
    DEPS_TYPO_TRANSPOSE, /* two adjacent characters swapped */
    DEPS_TYPO_PLURAL,    /* a trailing 's' or a doubled letter added or removed */
    DEPS_TYPO_EDIT1,     /* one character inserted, deleted or replaced */
    DEPS_TYPO_EDIT2,     /* two such edits */
};

enum deps_typo_severity {
    DEPS_TYPO_SEV_NONE = 0,
    DEPS_TYPO_SEV_MEDIUM,
    DEPS_TYPO_SEV_HIGH,
};

/* What deps_typo_check found. `target` points into the corpus (valid until it is freed). */
struct deps_typo_match {
    const char *target;   /* the popular package the name imitates */
    uint32_t target_rank; /* 1-based position of the target in the corpus */
    uint64_t target_downloads;
    uint32_t distance; /* Damerau (OSA) distance between the lowercased names */
    enum deps_typo_technique technique;
    enum deps_typo_severity severity;
};

/* Why a corpus was rejected: "top-packages.tsv:LINE: what is wrong". */
struct deps_typo_error {
    uint32_t line; /* 1-based, 0 when not about one line */
    char message[256];
};

struct deps_typo_corpus;

/* Parse a corpus: lines "name<TAB>downloads", most popular first (a name's rank is its
 * position); '#' comment lines and blank lines are skipped, CRLF accepted. Builds the
 * lookup indexes. Returns the corpus (free with deps_typo_corpus_free), or NULL with err
 * filled (err may be NULL): a malformed line, a duplicate name, a cap exceeded, no memory. */
struct deps_typo_corpus *deps_typo_corpus_new(const char *tsv, size_t len,
                                              struct deps_typo_error *err);

/* Free a corpus. NULL is fine. */
void deps_typo_corpus_free(struct deps_typo_corpus *c);

/* Number of packages in the corpus. */
size_t deps_typo_corpus_size(const struct deps_typo_corpus *c);

/* A short identifier of the corpus bytes ("fnv1a64:<16 hex>"), owned by the corpus. Reports
 * should also carry a cryptographic hash of the file, which the caller computes. */
const char *deps_typo_corpus_hash(const struct deps_typo_corpus *c);

/* Rank (1-based) of `name` in the corpus, compared case-insensitively, or 0 when absent. */
uint32_t deps_typo_corpus_rank(const struct deps_typo_corpus *c, const char *name);

/* Does `name` (NUL-terminated) look like a squat of a popular corpus package? Returns 1 and
 * fills *m (m may be NULL) when it does, 0 when not (including names in the corpus whose
 * popularity is comparable to their near neighbour's, over-long or non-name input), -EINVAL
 * for NULL arguments. Pure: no I/O, no allocation. */
int deps_typo_check(const struct deps_typo_corpus *c, const char *name, struct deps_typo_match *m);

/* "homoglyph", "separator", "scope", "affix", "transposition", "plural", "edit-1", "edit-2",
 * "none". */
const char *deps_typo_technique_name(enum deps_typo_technique t);

/* "HIGH", "MEDIUM", "NONE". */
const char *deps_typo_severity_name(enum deps_typo_severity s);

#endif

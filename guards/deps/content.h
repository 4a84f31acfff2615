/* Supply-chain scanner: analysers of the files of installed packages and of lifecycle script
 * command lines (L2-OBFS-001..004, L2-CRED-001, L2-BUND-001, L2-IOC-001). */
#ifndef WARDEN_GUARDS_DEPS_CONTENT_H
#define WARDEN_GUARDS_DEPS_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "guards/deps/finding.h"

/* Hard caps. Only the first DEPS_CONTENT_MAX_SCAN bytes of a file are analysed (binary magic,
 * code and indicators beyond it are not seen); the caller may note that in its report. */
#define DEPS_CONTENT_MAX_SCAN     ((size_t)8 << 20)  /* bytes of one file analysed */
#define DEPS_CONTENT_MAX_IOC_TEXT ((size_t)16 << 20) /* iocs.tsv */
#define DEPS_CONTENT_MAX_IOCS     100000             /* indicators in iocs.tsv */
/* domains and URLs together: one Hyperscan literal database (20,000 compile in about 0.35 s and
 * 45 MB; 100,000 would take 3 s and 200 MB) */
#define DEPS_CONTENT_MAX_TEXT_IOCS 20000
#define DEPS_CONTENT_MAX_HITS      32 /* hits per file (at most 8 per rule) */

/* The IoC corpus and the analysers' tables: immutable once built (but for the lexer's
 * pre-filter, loaded at first use), shared by threads. The analysers keep their state on
 * the heap for the call, and a per-thread Hyperscan scratch. */
struct deps_content_db;

/* Build a db from the IoC corpus text (contents of rules/supply-chain/iocs.tsv, not kept).
 * Returns 0 with *out set (free with deps_content_db_free), -ENOMEM, or -EINVAL with
 * "iocs.tsv:LINE: why" in err (err may be NULL). */
int deps_content_db_new(const char *ioc_tsv, size_t len, struct deps_content_db **out, char *err,
                        size_t errlen);

/* Free a db. NULL is fine. */
void deps_content_db_free(struct deps_content_db *db);

/* Make the lexer's pre-filter ready now: the database embedded at build time, or, on a
 * machine it does not run on, one compiled here (30-45 ms) rather than once the db's scans
 * have lexed enough to pay for it (tests). It changes no finding, only how many files are
 * lexed. Safe while other threads scan with db. */
void deps_content_db_prefilter(struct deps_content_db *db);

/* Files the pre-filter found no need to lex, since db was built (tests). */
size_t deps_content_db_unlexed(const struct deps_content_db *db);

/* The corpus' "# version:" header value ("" when absent), owned by the db. */
const char *deps_content_db_version(const struct deps_content_db *db);

/* Number of indicators in the corpus. */
size_t deps_content_db_size(const struct deps_content_db *db);

/* Scan flags. INSTALL_TIME: the file or text runs at install time (target of a lifecycle
 * script). SCRIPT_TEXT: buf is a package.json script command line, not a file. */
#define DEPS_CONTENT_INSTALL_TIME 0x1u
#define DEPS_CONTENT_SCRIPT_TEXT  0x2u
/* FULL: lex the file even where a first pass finds none of what the lexer's rules need. The
 * findings are the same; tests use it to show that. */
#define DEPS_CONTENT_FULL 0x4u

/* Analyse one file of a package (path relative to the package root, used to decide what kind
 * of file it is; "" or NULL for script text). Calls cb per hit, in line order; the hit and its
 * message live only during the call. Pure: no I/O; its state (a few KiB) is allocated and
 * freed within the call, so concurrent calls on one db need nothing else. Returns
 * 0 or -ENOMEM (-EINVAL for a NULL db or cb). File hashes are not computed here: see
 * deps_content_scan_sha256. */
int deps_content_scan(const struct deps_content_db *db, const char *path, const char *buf,
                      size_t len, unsigned flags, deps_content_cb cb, void *ud);

/* 1 when a file of this name is not read by the scanner: source maps (*.js.map, *.css.map,
 * *.d.ts.map, ...), type declarations (*.d.ts, *.d.mts, *.d.cts) and Markdown (*.md,
 * *.markdown), by a case-blind match of the name's end (n bytes of name). Node runs none of them
 * unless code loads them by name, and such code is reported (L2-BUND-001: a require(),
 * child_process call or eval() holding a string naming one of them). The caller still reads a file
 * of these kinds that a lifecycle script runs. Together they are a third of a typical tree's files.
 */
int deps_content_unread(const char *name, size_t n);

/* L2-IOC-001 for file hashes: the caller computes the SHA-256 of the whole file (guards has no
 * hash function) and passes its 32 bytes; calls cb once (line 0) when the corpus lists it.
 * Returns 1 when it did, 0 when not, -EINVAL for NULL arguments. */
int deps_content_scan_sha256(const struct deps_content_db *db, const char *path,
                             const uint8_t digest[32], deps_content_cb cb, void *ud);

#endif

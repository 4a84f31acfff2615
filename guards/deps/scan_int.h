/* Supply-chain scanner internals: the state of one scan, shared by the engine and the rules. */
#ifndef WARDEN_GUARDS_DEPS_SCAN_INT_H
#define WARDEN_GUARDS_DEPS_SCAN_INT_H

#include "guards/deps/scan.h"

struct deps_scan_ctx {
    const struct deps_project *p;
    const struct deps_corpus *c;
    struct deps_report *r;
    size_t cap;
    int rc;                         /* first error (-ENOMEM), sticky */
    const struct deps_pkg **by_loc; /* the lockfile's packages sorted by location */
    size_t n_by_loc;
};

/* The lockfile package recorded at `location` (a node_modules folder for npm), or NULL. */
const struct deps_pkg *deps_lock_at(const struct deps_scan_ctx *ctx, const char *location);

/* Add a finding. `key` is the normalised message key of the fingerprint (stable words, no
 * line numbers); the message is printf-style. Errors are kept in ctx->rc. */
void deps_emit(struct deps_scan_ctx *ctx, const char *rule_id, enum deps_severity sev,
               const char *package, const char *version, const char *file, uint32_t line,
               const char *key, const char *fmt, ...) __attribute__((format(printf, 9, 10)));

/* The rules (scan_rules.c). Each walks the project and emits findings. */
void deps_rule_install_scripts(struct deps_scan_ctx *ctx); /* L2-POST-001 */
void deps_rule_direct_deps(struct deps_scan_ctx *ctx);     /* SIDELOAD, DEPC, LOCK (missing) */
void deps_rule_lock_entries(struct deps_scan_ctx *ctx);    /* LOCK, SIDELOAD, DEPC, FORK, ADV */
void deps_rule_installed(struct deps_scan_ctx *ctx);       /* MANI, LICENSE, ENGIN, MAINT, ADV */
void deps_rule_names(struct deps_scan_ctx *ctx);           /* TYPO */
void deps_rule_settings(struct deps_scan_ctx *ctx);        /* PNPM, CRED (.npmrc) */
void deps_rule_content(struct deps_scan_ctx *ctx);         /* OBFS, CRED, BUND, IOC */

/* The content analysers' corpus (iocs.tsv) into c->content, and its release. */
int deps_content_corpus_load(struct deps_corpus *c, const struct deps_file *f, char *err,
                             size_t errlen);
void deps_content_corpus_free(struct deps_corpus *c);

/* Does the script text fetch, read credentials or spawn processes? A short word for the
 * message ("network", "credentials", "process spawning"), or NULL. */
const char *deps_script_risk(const char *cmd);

/* The registry expected for a package name: the .npmrc scope registry, the .npmrc default, or
 * "https://registry.npmjs.org". */
const char *deps_expected_registry(const struct deps_project *p, const char *name);

#endif

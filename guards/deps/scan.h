/* Supply-chain scanner: corpus, scan engine and the report every formatter walks. */
#ifndef WARDEN_GUARDS_DEPS_SCAN_H
#define WARDEN_GUARDS_DEPS_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards/deps/finding.h"
#include "guards/deps/project.h"

/* ------------------------------------------------------------------ corpus */

/* One known-bad (name, version range) of rules/supply-chain/advisories.tsv. */
struct deps_advisory {
    const char *name;
    const char *range; /* npm range ("0.7.29", ">=1.4.44-liberty-2 <1.4.45", "<4.17.21") */
    const char *id;    /* GHSA-..., CVE-..., or the incident's name */
    enum deps_severity severity;
    const char *summary;
    uint32_t line;
};

/* The corpus files the scanner reads, and the identity every report carries. */
struct deps_corpus {
    struct deps_typo_corpus *typo;    /* top-packages.tsv, or NULL */
    struct deps_advisory *advisories; /* sorted by name, then file order */
    size_t n_advisories;
    struct deps_content_db *content; /* iocs.tsv, when the content analysers are built */
    char version[64];                /* the newest "# version: X" header of the files */
    char hash[80];                   /* "sha256:<hex>" given by the caller */
    /* SHA-256 of a buffer, set by the caller (guards has no hash function): with it, package
     * files are also matched against the corpus' file-hash IoCs. NULL: they are not. */
    void (*sha256)(const void *data, size_t len, uint8_t out[32]);
    /* Optional, with sha256: the digests of n buffers at once (faster where the CPU can hash
     * several side by side). NULL: sha256 on each. */
    void (*sha256_many)(size_t n, const void *const data[], const size_t len[], uint8_t (*out)[32]);
    struct deps_lock_arena arena;
};

/* Build a corpus from its files (base names top-packages.tsv, advisories.tsv, iocs.tsv; other
 * names are an error). `hash` is the caller's "sha256:<hex>" over the files (guards has no
 * SHA-256). Returns 0, or -EINVAL / -ENOMEM with "FILE:LINE: what" in err. */
int deps_corpus_new(const struct deps_file *files, size_t n, const char *hash,
                    struct deps_corpus **out, char *err, size_t errlen);
void deps_corpus_free(struct deps_corpus *c);

/* Parse advisories.tsv text: "name<TAB>range<TAB>id<TAB>SEVERITY<TAB>summary" lines, '#'
 * comments. Appends to c (arena-owned). 0 or -EINVAL with "advisories.tsv:LINE: why". */
int deps_advisories_parse(struct deps_corpus *c, const char *tsv, size_t len, char *err,
                          size_t errlen);

/* ------------------------------------------------------------------ report */

/* One finding. Strings are owned by the report. */
struct deps_finding {
    const char *rule_id;
    enum deps_severity severity;
    const char *package; /* "" when about the project (a setting, a missing lockfile) */
    const char *version; /* "" when unknown */
    const char *file;    /* project-relative path */
    uint32_t line;       /* 1-based, 0 when about the whole file */
    const char *message;
    char fingerprint[24]; /* "fp1:" + 16 hex (FNV-1a 64 of rule, package, version, file, key) */
};

/* One package of the project, for inventories (SBOM, purl) and packages_scanned. */
struct deps_report_pkg {
    const char *name;
    const char *version;   /* "" when unknown */
    const char *integrity; /* SRI from the lockfile, or NULL */
    const char *resolved;  /* URL or spec from the lockfile, or NULL */
    const char *location;  /* lockfile key, or node_modules folder */
    bool locked;           /* in the lockfile */
    bool installed;        /* found under node_modules */
    bool dev;
};

/* A finished scan: plain data that formatters (JSON, table, SARIF, CycloneDX) walk. Findings
 * are sorted: severity (most severe first), rule_id, package, version, file, line, message,
 * fingerprint (bytes); packages by name, version, location. */
struct deps_report {
    const char *corpus_version, *corpus_hash;
    const char *lockfile;    /* path of the lockfile used, "" when none */
    const char *lock_format; /* deps_lock_format_name, "none" */
    size_t workspaces;       /* workspace packages scanned besides the root */
    size_t files_skipped;    /* package files over the size cap */
    size_t files_not_read;   /* source maps, type declarations, Markdown (deps_content_unread) */
    struct deps_report_pkg *pkgs;
    size_t n_pkgs; /* = packages_scanned */
    struct deps_finding *findings;
    size_t n_findings;
    size_t suppressed; /* findings removed by a baseline */
    size_t by_severity[DEPS_SEV_CRITICAL + 1];
    bool content_analysed; /* the content analysers (L2-OBFS/CRED/BUND/IOC) ran */
    struct deps_lock_arena arena;
};

/* Scan a loaded project with a corpus. Pure: same project and corpus, same report. Returns 0
 * with *out set (free with deps_report_free), or -ENOMEM. */
int deps_scan(const struct deps_project *p, const struct deps_corpus *c, struct deps_report **out);
void deps_report_free(struct deps_report *r);

/* "CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO". */
const char *deps_severity_name(enum deps_severity s);
/* Parse a severity name, any case ("high"); 0 or -EINVAL. */
int deps_severity_parse(const char *s, enum deps_severity *out);

/* Fingerprints of a previous JSON report (its findings' "fingerprint" members), sorted. */
struct deps_fpset {
    char (*fp)[24];
    size_t n;
};

/* Read the fingerprints of a JSON report text. 0, or -EBADMSG / -E2BIG / -ENOMEM with
 * "what; what to do" in err (no file name: the caller prefixes it). */
int deps_fpset_read(const char *json, size_t len, struct deps_fpset *out, char *err, size_t errlen);
void deps_fpset_free(struct deps_fpset *s);
bool deps_fpset_has(const struct deps_fpset *s, const char *fp);

/* Remove the findings whose fingerprint is in base (counted in r->suppressed; the summary is
 * recomputed). */
void deps_report_suppress(struct deps_report *r, const struct deps_fpset *base);

/* Highest severity of the report's findings, or -1 when none. */
int deps_report_max_severity(const struct deps_report *r);

/* ------------------------------------------------------------------ output */

/* A growing text buffer with a sticky out-of-memory flag. */
struct deps_buf {
    char *s;
    size_t len, cap;
    bool oom;
};
void deps_buf_put(struct deps_buf *b, const char *s, size_t n);
void deps_buf_printf(struct deps_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal (quotes included); NULL is written as null. */
void deps_buf_json_str(struct deps_buf *b, const char *s);
void deps_buf_free(struct deps_buf *b);

/* Run metadata that is not part of the deterministic output. */
struct deps_report_meta {
    const char *tool_version; /* always written */
    const char *started_at;   /* RFC 3339 UTC, or NULL (deterministic output) */
    double duration_ms;       /* written with started_at */
    const char *target;       /* the scanned directory as given, or NULL */
};

/* The JSON report (one object, 2-space indented, trailing newline) appended to b. */
void deps_report_write_json(const struct deps_report *r, const struct deps_report_meta *meta,
                            struct deps_buf *b);
/* A human table: one line per finding, then the summary. */
void deps_report_write_table(const struct deps_report *r, struct deps_buf *b);

/* Compare two JSON reports by fingerprint: "+ SEV rule package@version file:line message" for
 * findings only in b, "- ..." for those only in a, then a count line. Returns the number of
 * differences (>= 0), or -EBADMSG / -ENOMEM with err filled ("A: ..." or "B: ..."). */
int deps_report_diff(const char *a, size_t a_len, const char *b, size_t b_len, struct deps_buf *out,
                     char *err, size_t errlen);

#endif

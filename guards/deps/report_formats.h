/* Supply-chain scanner: the SARIF, CycloneDX and GitHub Actions writers of a report. */
#ifndef WARDEN_GUARDS_DEPS_REPORT_FORMATS_H
#define WARDEN_GUARDS_DEPS_REPORT_FORMATS_H

#include "guards/deps/scan.h"

/* Each writer appends one document to b (out of memory is b->oom) and reads r and meta only.
 * Output is a pure function of its inputs: no clock, no environment. meta may be NULL; with
 * meta->started_at set, the time it carries is written (SARIF invocation, CycloneDX
 * metadata.timestamp), otherwise the output is byte-identical for the same report. */

/* SARIF 2.1.0 log for GitHub code scanning: one run, every known rule in tool.driver.rules
 * (plus any other rule id the findings use), one result per finding with its fingerprint in
 * partialFingerprints["warden/v1"]. Two-space indented, trailing newline. */
void deps_report_write_sarif(const struct deps_report *r, const struct deps_report_meta *meta,
                             struct deps_buf *b);

/* CycloneDX 1.6 JSON BOM: one "library" component per package (purl, SRI hashes, resolved
 * URL), one vulnerability per finding. serialNumber is a UUID (version 8, RFC 9562) made from
 * two FNV-1a 64 hashes of the rest of the document, so the same report gives the same BOM. */
void deps_report_write_cyclonedx(const struct deps_report *r, const struct deps_report_meta *meta,
                                 struct deps_buf *b);

/* GitHub Actions workflow commands: one ::error/::warning/::notice line per finding
 * (HIGH/CRITICAL, MEDIUM, LOW/INFO), then one summary line. */
void deps_report_write_github(const struct deps_report *r, struct deps_buf *b);

/* The report formats by name, in one table the CLI (--format) and POST /v1/scan/deps
 * (?format=) share. */
enum deps_report_format {
    DEPS_FMT_JSON = 0,
    DEPS_FMT_TABLE,
    DEPS_FMT_SARIF,
    DEPS_FMT_CYCLONEDX,
    DEPS_FMT_GITHUB,
};
#define DEPS_FORMAT_NAMES "json, table, sarif, cyclonedx or github"

/* The format named name (any case); 0, or -EINVAL for another name. */
int deps_report_format_parse(const char *name, enum deps_report_format *out);
/* Its media type for an HTTP answer. */
const char *deps_report_format_media_type(enum deps_report_format f);
/* Write r in that format (deps_report_write_json, _table, _sarif, _cyclonedx, _github). */
void deps_report_write_format(enum deps_report_format f, const struct deps_report *r,
                              const struct deps_report_meta *meta, struct deps_buf *b);

/* Where SARIF's tool.driver.informationUri points. */
#ifndef DEPS_REPORT_INFO_URI
#define DEPS_REPORT_INFO_URI "https://warden.invalid/docs/supply-chain"
#endif

/* The rule ids the scanner knows, in a fixed order (SARIF rules[] and ruleIndex). */
extern const char *const deps_rule_ids[];
extern const size_t deps_n_rule_ids;

#endif

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

/* Where SARIF's tool.driver.informationUri points. */
#ifndef DEPS_REPORT_INFO_URI
#define DEPS_REPORT_INFO_URI "https://warden.invalid/docs/supply-chain"
#endif

/* The rule ids the scanner knows, in a fixed order (SARIF rules[] and ruleIndex). */
extern const char *const deps_rule_ids[];
extern const size_t deps_n_rule_ids;

#endif

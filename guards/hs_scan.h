/* Hyperscan scans that stay inside the caller's bytes.
 *
 * Hyperscan 5.4's AVX-512 VBMI code (the variant its fat runtime picks on CPUs that have it)
 * reads up to 32 bytes past the end of the data it scans (intel/hyperscan#457,
 * VectorCamp/vectorscan#322): data that ends just before an unmapped page faults. Found by
 * fuzz_output in CI. These wrappers give Hyperscan data whose end is followed by at least
 * GUARD_HS_SLACK readable bytes: when the end is at least that far from a page boundary the
 * data is scanned in place (the bytes after it are on a mapped page); otherwise a stream is fed
 * the head in place and the last bytes from a padded copy, and a block scan works on a padded
 * copy. Results are the same as hs_scan and hs_scan_stream's. */
#ifndef WARDEN_GUARDS_HS_SCAN_H
#define WARDEN_GUARDS_HS_SCAN_H

#include <stddef.h>

#include <hs/hs.h>

#define GUARD_HS_SLACK 64 /* bytes readable after the data: twice the over-read seen */

/* hs_scan of data[0, n); HS_NOMEM when a needed copy cannot be made. */
hs_error_t guard_hs_scan(const hs_database_t *db, const char *data, size_t n, hs_scratch_t *scratch,
                         match_event_handler cb, void *ctx);

/* hs_scan_stream of data[0, n). */
hs_error_t guard_hs_scan_stream(hs_stream_t *st, const char *data, size_t n, hs_scratch_t *scratch,
                                match_event_handler cb, void *ctx);

#endif

/* Semantic versions and npm ranges (node-semver grammar): parse, compare, match. */
#ifndef WARDEN_GUARDS_DEPS_SEMVER_H
#define WARDEN_GUARDS_DEPS_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A parsed version. `pre` points into the parsed text (not NUL-terminated: pre_len bytes),
 * build metadata is dropped (it does not order versions). */
struct deps_semver {
    uint64_t major, minor, patch;
    const char *pre;
    size_t pre_len;
};

/* Parse "1.2.3", "v1.2.3-beta.1+build" (len bytes, surrounding blanks and one leading 'v' or
 * '=' allowed). 0, or -EINVAL when it is not a full version. *v borrows s. */
int deps_semver_parse(const char *s, size_t len, struct deps_semver *v);

/* < 0, 0, > 0 as a is below, equal to or above b (semver 2.0.0 precedence). */
int deps_semver_cmp(const struct deps_semver *a, const struct deps_semver *b);

/* Does version `ver` satisfy npm range `range` ("^1.2.0", "~1.2", "1.x", ">=1 <2 || 3.0.0",
 * "1.2.3 - 2", "*", "" = any)? Prerelease versions satisfy only comparators of the same
 * major.minor.patch that carry a prerelease too (node-semver's default). 1 yes, 0 no,
 * -EINVAL when the version or the range does not parse (ranges are capped at 1 KiB and
 * 64 comparators). */
int deps_semver_satisfies(const char *ver, const char *range);

/* The lowest version (without prerelease) a range admits, e.g. ">=18.12" -> 18.12.0, "^16 ||
 * ^18" -> 16.0.0, 0.0.0 when it has no lower bound; 0, or -EINVAL when it does not parse. */
int deps_semver_range_min(const char *range, struct deps_semver *out);

#endif

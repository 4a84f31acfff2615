/* Supply-chain scanner: what every rule reports, shared by the manifest/lockfile rules and the
 * file-content analysers. */
#ifndef WARDEN_GUARDS_DEPS_FINDING_H
#define WARDEN_GUARDS_DEPS_FINDING_H

#include <stdint.h>

/* Ordered: a higher value is more severe (--fail-on compares them). */
enum deps_severity {
    DEPS_SEV_INFO = 0,
    DEPS_SEV_LOW,
    DEPS_SEV_MEDIUM,
    DEPS_SEV_HIGH,
    DEPS_SEV_CRITICAL,
};

/* One hit of a content analyser in one file of a package. Every pointer is only valid during
 * the callback that receives it: copy what you keep. */
struct deps_content_hit {
    const char *rule_id; /* "L2-OBFS-001", ... (static) */
    enum deps_severity severity;
    uint32_t line;       /* 1-based line in the file, 0 for the whole file */
    const char *message; /* one line, no file content beyond a short quoted indicator */
};

typedef void (*deps_content_cb)(void *ud, const struct deps_content_hit *hit);

#endif

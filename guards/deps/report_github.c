/* Supply-chain scanner: the GitHub Actions writer of a report (workflow command annotations). */
#include <string.h>

#include "guards/deps/report_formats.h"

/* Workflow command escaping: '%', CR and LF everywhere; ':' and ',' as well in property
 * values, where they would end the value. */
static void gh_escape(struct deps_buf *b, const char *s, bool property)
{
    for (const char *run = s;; s++) {
        const char *e = NULL;
        switch (*s) {
        case '\0':
            deps_buf_put(b, run, (size_t)(s - run));
            return;
        case '%':
            e = "%25";
            break;
        case '\r':
            e = "%0D";
            break;
        case '\n':
            e = "%0A";
            break;
        case ':':
            e = property ? "%3A" : NULL;
            break;
        case ',':
            e = property ? "%2C" : NULL;
            break;
        default:
            break;
        }
        if (!e)
            continue;
        deps_buf_put(b, run, (size_t)(s - run));
        deps_buf_put(b, e, 3);
        run = s + 1;
    }
}

void deps_report_write_github(const struct deps_report *r, struct deps_buf *b)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct deps_finding *f = &r->findings[i];
        const char *cmd = f->severity >= DEPS_SEV_HIGH     ? "error"
                          : f->severity == DEPS_SEV_MEDIUM ? "warning"
                                                           : "notice";
        deps_buf_printf(b, "::%s ", cmd);
        if (f->file && f->file[0]) {
            deps_buf_put(b, "file=", 5);
            gh_escape(b, f->file, true);
            /* line 0 is about the whole file: a file-level annotation */
            if (f->line)
                deps_buf_printf(b, ",line=%u", f->line);
            deps_buf_put(b, ",", 1);
        }
        deps_buf_put(b, "title=", 6);
        gh_escape(b, f->rule_id, true);
        if (f->package && f->package[0]) {
            deps_buf_put(b, " ", 1);
            gh_escape(b, f->package, true);
            if (f->version && f->version[0]) {
                deps_buf_put(b, "@", 1);
                gh_escape(b, f->version, true);
            }
        }
        deps_buf_put(b, "::", 2);
        gh_escape(b, f->message ? f->message : "", false);
        deps_buf_put(b, "\n", 1);
    }
    deps_buf_printf(b,
                    "warden scan-deps: %zu packages scanned, %zu findings (critical %zu, high "
                    "%zu, medium %zu, low %zu, info %zu)",
                    r->n_pkgs, r->n_findings, r->by_severity[DEPS_SEV_CRITICAL],
                    r->by_severity[DEPS_SEV_HIGH], r->by_severity[DEPS_SEV_MEDIUM],
                    r->by_severity[DEPS_SEV_LOW], r->by_severity[DEPS_SEV_INFO]);
    if (r->suppressed)
        deps_buf_printf(b, ", %zu suppressed by the baseline", r->suppressed);
    deps_buf_put(b, "\n", 1);
}

/* Supply-chain scanner: the JSON and table writers of a report, and the report diff. */
#include <errno.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/scan.h"

void deps_buf_put(struct deps_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void deps_buf_printf(struct deps_buf *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(tmp)) {
        deps_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    deps_buf_put(b, big, (size_t)n);
    free(big);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes are not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return n;
}

void deps_buf_json_str(struct deps_buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    if (!s) {
        deps_buf_put(b, "null", 4);
        return;
    }
    deps_buf_put(b, "\"", 1);
    for (const char *run = s;;) {
        unsigned char c = (unsigned char)*s;
        size_t n = c >= 0x80 ? utf8_len((const unsigned char *)s) : 1;
        if (c >= 0x20 && c != '"' && c != '\\' && n > 0) {
            s += n;
            continue;
        }
        deps_buf_put(b, run, (size_t)(s - run));
        if (c == '\0')
            break;
        if (n == 0) {
            deps_buf_put(b, "\xEF\xBF\xBD", 3); /* invalid UTF-8: U+FFFD */
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            deps_buf_put(b, esc, 6);
        } else {
            char esc[2] = {'\\', (char)c};
            deps_buf_put(b, esc, 2);
        }
        run = ++s;
    }
    deps_buf_put(b, "\"", 1);
}

void deps_buf_free(struct deps_buf *b)
{
    if (!b)
        return;
    free(b->s);
    memset(b, 0, sizeof(*b));
}

static void kv_str(struct deps_buf *b, const char *indent, const char *key, const char *val,
                   bool comma)
{
    deps_buf_printf(b, "%s\"%s\": ", indent, key);
    deps_buf_json_str(b, val);
    deps_buf_put(b, comma ? ",\n" : "\n", comma ? 2 : 1);
}

void deps_report_write_json(const struct deps_report *r, const struct deps_report_meta *meta,
                            struct deps_buf *b)
{
    deps_buf_put(b, "{\n", 2);
    kv_str(b, "  ", "tool", "warden", true);
    kv_str(b, "  ", "tool_version", meta && meta->tool_version ? meta->tool_version : "", true);
    if (meta && meta->started_at) {
        kv_str(b, "  ", "started_at", meta->started_at, true);
        deps_buf_printf(b, "  \"duration_ms\": %.3f,\n", meta->duration_ms);
    }
    deps_buf_put(b, "  \"corpus\": {\n", 14);
    kv_str(b, "    ", "version", r->corpus_version, true);
    kv_str(b, "    ", "hash", r->corpus_hash, false);
    deps_buf_put(b, "  },\n", 5);
    if (meta && meta->target)
        kv_str(b, "  ", "target", meta->target, true);
    kv_str(b, "  ", "lockfile", r->lockfile, true);
    kv_str(b, "  ", "lockfile_format", r->lock_format, true);
    deps_buf_printf(b, "  \"workspaces\": %zu,\n", r->workspaces);
    deps_buf_printf(b, "  \"packages_scanned\": %zu,\n", r->n_pkgs);
    deps_buf_printf(b, "  \"files_skipped\": %zu,\n", r->files_skipped);
    deps_buf_printf(b, "  \"files_not_read\": %zu,\n", r->files_not_read);
    deps_buf_printf(b, "  \"content_analysed\": %s,\n", r->content_analysed ? "true" : "false");
    deps_buf_put(b, "  \"summary\": {\n", 15);
    deps_buf_printf(b, "    \"total\": %zu,\n", r->n_findings);
    for (int s = DEPS_SEV_CRITICAL; s >= DEPS_SEV_INFO; s--)
        deps_buf_printf(b, "    \"%s\": %zu,\n", deps_severity_name((enum deps_severity)s),
                        r->by_severity[s]);
    deps_buf_printf(b, "    \"suppressed\": %zu\n  },\n", r->suppressed);
    deps_buf_put(b, "  \"findings\": [", 15);
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct deps_finding *f = &r->findings[i];
        deps_buf_put(b, i ? ",\n    {\n" : "\n    {\n", i ? 8 : 7);
        kv_str(b, "      ", "rule_id", f->rule_id, true);
        kv_str(b, "      ", "severity", deps_severity_name(f->severity), true);
        kv_str(b, "      ", "package", f->package, true);
        kv_str(b, "      ", "version", f->version, true);
        kv_str(b, "      ", "file", f->file, true);
        deps_buf_printf(b, "      \"line\": %u,\n", f->line);
        kv_str(b, "      ", "message", f->message, true);
        kv_str(b, "      ", "fingerprint", f->fingerprint, false);
        deps_buf_put(b, "    }", 5);
    }
    deps_buf_put(b, r->n_findings ? "\n  ],\n" : "],\n", r->n_findings ? 6 : 3);
    deps_buf_put(b, "  \"packages\": [", 15);
    for (size_t i = 0; i < r->n_pkgs; i++) {
        const struct deps_report_pkg *p = &r->pkgs[i];
        deps_buf_put(b, i ? ",\n    {" : "\n    {", i ? 7 : 6);
        deps_buf_put(b, "\"name\": ", 8);
        deps_buf_json_str(b, p->name);
        deps_buf_put(b, ", \"version\": ", 13);
        deps_buf_json_str(b, p->version);
        deps_buf_put(b, ", \"integrity\": ", 15);
        deps_buf_json_str(b, p->integrity);
        deps_buf_put(b, ", \"resolved\": ", 14);
        deps_buf_json_str(b, p->resolved);
        deps_buf_printf(b, ", \"locked\": %s, \"installed\": %s, \"dev\": %s}",
                        p->locked ? "true" : "false", p->installed ? "true" : "false",
                        p->dev ? "true" : "false");
    }
    deps_buf_put(b, r->n_pkgs ? "\n  ]\n}\n" : "]\n}\n", r->n_pkgs ? 7 : 4);
}

void deps_report_write_table(const struct deps_report *r, struct deps_buf *b)
{
    for (size_t i = 0; i < r->n_findings; i++) {
        const struct deps_finding *f = &r->findings[i];
        deps_buf_printf(b, "%-8s %-15s %s%s%s  %s", deps_severity_name(f->severity), f->rule_id,
                        f->package[0] ? f->package : "-", f->version[0] ? "@" : "", f->version,
                        f->file);
        if (f->line)
            deps_buf_printf(b, ":%u", f->line);
        deps_buf_printf(b, "\n         %s\n", f->message);
    }
    deps_buf_printf(b,
                    "%zu packages scanned, %zu findings (critical %zu, high %zu, medium %zu, "
                    "low %zu, info %zu)",
                    r->n_pkgs, r->n_findings, r->by_severity[DEPS_SEV_CRITICAL],
                    r->by_severity[DEPS_SEV_HIGH], r->by_severity[DEPS_SEV_MEDIUM],
                    r->by_severity[DEPS_SEV_LOW], r->by_severity[DEPS_SEV_INFO]);
    if (r->suppressed)
        deps_buf_printf(b, ", %zu suppressed by the baseline", r->suppressed);
    deps_buf_printf(b, "; corpus %s %s\n", r->corpus_version, r->corpus_hash);
}

/* ------------------------------------------------------------------ diff */

struct diff_row {
    const char *fp;
    const struct guard_jv *f;
};

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const struct diff_row *)a)->fp, ((const struct diff_row *)b)->fp);
}

static int diff_rows(const char *json, size_t len, const char *which, struct guard_jv_doc **doc,
                     struct diff_row **rows, size_t *n, char *err, size_t errlen)
{
    struct guard_jv_limits jl = {.max_bytes = (size_t)256 << 20, .max_nodes = (size_t)16 << 20};
    struct guard_json_error je;
    int rc = guard_jv_parse(json, len, &jl, doc, &je);

    if (rc < 0) {
        snprintf(err, errlen, "%s:%u:%u: %s; expected a JSON report of warden scan-deps", which,
                 je.line, je.column, je.message);
        return rc;
    }
    const struct guard_jv *fs = deps_jv_get(guard_jv_doc_root(*doc), "findings");
    if (!fs || deps_jv_type(fs) != GUARD_JV_ARRAY) {
        snprintf(err, errlen,
                 "%s: no \"findings\" array; expected a JSON report of warden "
                 "scan-deps",
                 which);
        return -EBADMSG;
    }
    *n = deps_jv_alen(fs);
    *rows = calloc(*n ? *n : 1, sizeof(**rows));
    if (!*rows)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++) {
        const struct guard_jv *f = guard_jv_array_at(fs, i);
        const char *fp = deps_jv_str(f, "fingerprint");
        if (!fp) {
            snprintf(err, errlen, "%s: finding %zu has no \"fingerprint\"", which, i + 1);
            return -EBADMSG;
        }
        (*rows)[i] = (struct diff_row){fp, f};
    }
    qsort(*rows, *n, sizeof(**rows), cmp_row);
    return 0;
}

static void diff_line(struct deps_buf *out, char sign, const struct guard_jv *f)
{
    const struct guard_jv *line = deps_jv_get(f, "line");
    const char *s;
    size_t ln = 0;
    const char *v = deps_jv_str(f, "version");

    const char *sev = deps_jv_str(f, "severity"), *rule = deps_jv_str(f, "rule_id");
    const char *pkg = deps_jv_str(f, "package");

    deps_buf_printf(out, "%c %s %s %s", sign, sev ? sev : "?", rule ? rule : "?",
                    pkg && *pkg ? pkg : "-");
    if (v && *v)
        deps_buf_printf(out, "@%s", v);
    s = deps_jv_str(f, "file");
    deps_buf_printf(out, " %s", s ? s : "");
    if (line && guard_jv_number_text(line, &ln) && guard_jv_number(line) > 0)
        deps_buf_printf(out, ":%.0f", guard_jv_number(line));
    s = deps_jv_str(f, "message");
    deps_buf_printf(out, " %s\n", s ? s : "");
}

int deps_report_diff(const char *a, size_t a_len, const char *b, size_t b_len, struct deps_buf *out,
                     char *err, size_t errlen)
{
    struct guard_jv_doc *da = NULL, *db = NULL;
    struct diff_row *ra = NULL, *rb = NULL;
    size_t na = 0, nb = 0, added = 0, removed = 0;
    int rc;

    if ((rc = diff_rows(a, a_len, "A", &da, &ra, &na, err, errlen)) < 0 ||
        (rc = diff_rows(b, b_len, "B", &db, &rb, &nb, err, errlen)) < 0)
        goto out;
    /* removed (only in A), then added (only in B), each in fingerprint order */
    for (int pass = 0; pass < 2; pass++) {
        struct diff_row *x = pass ? rb : ra, *y = pass ? ra : rb;
        size_t nx = pass ? nb : na, ny = pass ? na : nb;
        for (size_t i = 0; i < nx; i++) {
            if (bsearch(&x[i], y, ny, sizeof(*y), cmp_row))
                continue;
            diff_line(out, pass ? '+' : '-', x[i].f);
            if (pass)
                added++;
            else
                removed++;
        }
    }
    deps_buf_printf(out, "%zu added, %zu removed\n", added, removed);
    rc = out->oom ? -ENOMEM : (int)(added + removed > 0x7fffffff ? 0x7fffffff : added + removed);
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "diff: out of memory");
    free(ra);
    free(rb);
    guard_jv_doc_free(da);
    guard_jv_doc_free(db);
    return rc;
}

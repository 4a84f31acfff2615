/* Supply-chain scanner: corpus loading, the scan engine, findings, fingerprints, baselines. */
#include "guards/deps/scan_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/semver.h"
#include "guards/deps/typo.h"

static const char *const sev_names[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};

const char *deps_severity_name(enum deps_severity s)
{
    return (unsigned)s <= DEPS_SEV_CRITICAL ? sev_names[s] : "INFO";
}

int deps_severity_parse(const char *s, enum deps_severity *out)
{
    for (int i = 0; i <= DEPS_SEV_CRITICAL; i++) {
        size_t n = strlen(sev_names[i]), k;
        for (k = 0; k < n && s[k]; k++)
            if ((s[k] & ~0x20) != sev_names[i][k])
                break;
        if (k == n && s[k] == '\0') {
            *out = (enum deps_severity)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* ------------------------------------------------------------------ corpus */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The "# version: X" header of a corpus file (first 16 lines), into ver when newer. */
static void corpus_version(const char *buf, size_t len, char *ver, size_t cap)
{
    const char *s = buf, *end = buf + len;
    static const char tag[] = "# version:";

    for (int i = 0; i < 16 && s < end; i++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *le = nl ? nl : end;
        if ((size_t)(le - s) > sizeof(tag) - 1 && memcmp(s, tag, sizeof(tag) - 1) == 0) {
            const char *v = s + sizeof(tag) - 1;
            while (v < le && *v == ' ')
                v++;
            size_t n = (size_t)(le - v);
            while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == ' '))
                n--;
            if (n > 0 && n < cap) {
                char tmp[64];
                memcpy(tmp, v, n);
                tmp[n] = '\0';
                if (strcmp(tmp, ver) > 0)
                    memcpy(ver, tmp, n + 1);
            }
            return;
        }
        s = le + 1;
    }
}

static int cmp_adv(const void *a, const void *b)
{
    const struct deps_advisory *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

int deps_advisories_parse(struct deps_corpus *c, const char *tsv, size_t len, char *err,
                          size_t errlen)
{
    uint32_t line = 0;
    size_t cap = c->n_advisories;

    for (size_t i = 0; i < len;) {
        const char *s = tsv + i, *nl = memchr(s, '\n', len - i);
        size_t n = nl ? (size_t)(nl - s) : len - i;
        const char *col[5];
        size_t cl[5], k = 0;

        i += n + 1;
        line++;
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n == 0 || s[0] == '#')
            continue;
        if (n > 4096) {
            set_err(err, errlen, "advisories.tsv:%u: line longer than 4096 bytes", line);
            return -EINVAL;
        }
        for (const char *q = s, *e = s + n; k < 5; k++) {
            const char *t = k < 4 ? memchr(q, '\t', (size_t)(e - q)) : NULL;
            col[k] = q;
            cl[k] = t ? (size_t)(t - q) : (size_t)(e - q);
            if (!t) {
                k++;
                break;
            }
            q = t + 1;
        }
        if (k != 5) {
            set_err(err, errlen,
                    "advisories.tsv:%u: expected 5 tab-separated columns (name, range, id, "
                    "severity, summary)",
                    line);
            return -EINVAL;
        }
        struct deps_advisory a = {.line = line};
        char sev[16];
        a.name = deps_arena_strndup(&c->arena, col[0], cl[0]);
        a.range = deps_arena_strndup(&c->arena, col[1], cl[1]);
        a.id = deps_arena_strndup(&c->arena, col[2], cl[2]);
        a.summary = deps_arena_strndup(&c->arena, col[4], cl[4]);
        if (!a.name || !a.range || !a.id || !a.summary)
            return -ENOMEM;
        if (cl[0] == 0 || cl[2] == 0 || cl[4] == 0) {
            set_err(err, errlen, "advisories.tsv:%u: empty name, id or summary", line);
            return -EINVAL;
        }
        if (deps_semver_satisfies("0.0.0", a.range) < 0) {
            set_err(err, errlen, "advisories.tsv:%u: '%s' is not a version range", line, a.range);
            return -EINVAL;
        }
        snprintf(sev, sizeof(sev), "%.*s", (int)(cl[3] < 15 ? cl[3] : 15), col[3]);
        if (deps_severity_parse(sev, &a.severity) < 0) {
            set_err(err, errlen,
                    "advisories.tsv:%u: severity '%s' is not one of CRITICAL, "
                    "HIGH, MEDIUM, LOW, INFO",
                    line, sev);
            return -EINVAL;
        }
        if (c->n_advisories == cap) {
            size_t nc = cap ? cap * 2 : 64;
            struct deps_advisory *na = deps_arena_alloc(&c->arena, nc * sizeof(*na));
            if (!na)
                return -ENOMEM;
            if (c->n_advisories)
                memcpy(na, c->advisories, c->n_advisories * sizeof(*na));
            c->advisories = na;
            cap = nc;
        }
        c->advisories[c->n_advisories++] = a;
    }
    if (c->n_advisories > 1)
        qsort(c->advisories, c->n_advisories, sizeof(*c->advisories), cmp_adv);
    return 0;
}

int deps_corpus_new(const struct deps_file *files, size_t n, const char *hash,
                    struct deps_corpus **out, char *err, size_t errlen)
{
    struct deps_corpus *c = calloc(1, sizeof(*c));
    int rc = 0;

    *out = NULL;
    if (!c)
        return -ENOMEM;
    snprintf(c->hash, sizeof(c->hash), "%s", hash ? hash : "");
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *b = strrchr(files[i].path, '/');
        b = b ? b + 1 : files[i].path;
        corpus_version(files[i].data, files[i].len, c->version, sizeof(c->version));
        if (strcmp(b, "top-packages.tsv") == 0) {
            struct deps_typo_error te;
            c->typo = deps_typo_corpus_new(files[i].data, files[i].len, &te);
            if (!c->typo) {
                set_err(err, errlen, "%s", te.message);
                rc = -EINVAL;
            }
        } else if (strcmp(b, "advisories.tsv") == 0) {
            rc = deps_advisories_parse(c, files[i].data, files[i].len, err, errlen);
        } else if (strcmp(b, "iocs.tsv") == 0) {
            rc = deps_content_corpus_load(c, &files[i], err, errlen);
        } else {
            set_err(err, errlen,
                    "%s: not a supply-chain corpus file (top-packages.tsv, "
                    "advisories.tsv, iocs.tsv)",
                    files[i].path);
            rc = -EINVAL;
        }
    }
    if (rc == 0 && c->version[0] == '\0')
        snprintf(c->version, sizeof(c->version), "unversioned");
    if (rc < 0) {
        if (rc == -ENOMEM)
            set_err(err, errlen, "corpus: out of memory");
        deps_corpus_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void deps_corpus_free(struct deps_corpus *c)
{
    if (!c)
        return;
    deps_typo_corpus_free(c->typo);
    deps_content_corpus_free(c);
    deps_arena_free(&c->arena);
    free(c);
}

/* ------------------------------------------------------------------ findings */

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    h ^= 0xff; /* field separator: ("ab","c") and ("a","bc") differ */
    return h * 0x100000001b3ULL;
}

static const char *dup(struct deps_scan_ctx *ctx, const char *s)
{
    if (!s)
        s = "";
    const char *d = deps_arena_strndup(&ctx->r->arena, s, strlen(s));
    if (!d)
        ctx->rc = -ENOMEM;
    return d;
}

void deps_emit(struct deps_scan_ctx *ctx, const char *rule_id, enum deps_severity sev,
               const char *package, const char *version, const char *file, uint32_t line,
               const char *key, const char *fmt, ...)
{
    struct deps_report *r = ctx->r;
    char msg[512];
    va_list ap;

    if (ctx->rc < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *q = msg; *q; q++) /* one line, no control characters */
        if ((unsigned char)*q < 0x20)
            *q = ' ';
    /* URLs keep no credentials: the user:token part before "@host" becomes three stars */
    for (char *q = strstr(msg, "://"); q; q = strstr(q + 1, "://")) {
        char *start = q + 3, *end = start + strcspn(start, "/@ '");
        if (*end == '@' && end - start >= 3) {
            memmove(start + 3, end, strlen(end) + 1);
            memcpy(start, "***", 3);
        }
    }
    if (r->n_findings == ctx->cap) {
        size_t nc = ctx->cap ? ctx->cap * 2 : 64;
        struct deps_finding *nf = realloc(r->findings, nc * sizeof(*nf));
        if (!nf) {
            ctx->rc = -ENOMEM;
            return;
        }
        r->findings = nf;
        ctx->cap = nc;
    }
    struct deps_finding *f = &r->findings[r->n_findings];
    memset(f, 0, sizeof(*f));
    f->rule_id = rule_id;
    f->severity = sev;
    f->package = dup(ctx, package);
    f->version = dup(ctx, version);
    f->file = dup(ctx, file);
    f->line = line;
    f->message = dup(ctx, msg);
    if (ctx->rc < 0)
        return;
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, rule_id);
    h = fnv1a(h, f->package);
    h = fnv1a(h, f->version);
    h = fnv1a(h, f->file);
    h = fnv1a(h, key);
    snprintf(f->fingerprint, sizeof(f->fingerprint), "fp1:%016llx", (unsigned long long)h);
    r->n_findings++;
}

static int cmp_finding(const void *a, const void *b)
{
    const struct deps_finding *x = a, *y = b;
    int c;

    if (x->severity != y->severity)
        return x->severity > y->severity ? -1 : 1;
    if ((c = strcmp(x->rule_id, y->rule_id)) || (c = strcmp(x->package, y->package)) ||
        (c = strcmp(x->version, y->version)) || (c = strcmp(x->file, y->file)))
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    if ((c = strcmp(x->message, y->message)))
        return c;
    return strcmp(x->fingerprint, y->fingerprint);
}

/* Sort, drop exact duplicates (same fingerprint and line), count by severity. */
static void report_finish(struct deps_report *r)
{
    size_t w = 0;

    if (r->n_findings > 1)
        qsort(r->findings, r->n_findings, sizeof(*r->findings), cmp_finding);
    memset(r->by_severity, 0, sizeof(r->by_severity));
    for (size_t i = 0; i < r->n_findings; i++) {
        if (w > 0 && cmp_finding(&r->findings[w - 1], &r->findings[i]) == 0)
            continue;
        r->findings[w++] = r->findings[i];
        r->by_severity[r->findings[i].severity]++;
    }
    r->n_findings = w;
}

/* ------------------------------------------------------------------ packages */

static int cmp_rpkg(const void *a, const void *b)
{
    const struct deps_report_pkg *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (!c)
        c = strcmp(x->version, y->version);
    return c ? c : strcmp(x->location, y->location);
}

/* The inventory: every locked package, and every installed one, one row per (name,
 * version) (a lockfile row and an installed copy merge). */
static int build_inventory(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    struct deps_report *r = ctx->r;
    size_t n_lock = p->lock ? p->lock->n_pkgs : 0, n = 0;
    struct deps_report_pkg *v = calloc(n_lock + p->n_installed + 1, sizeof(*v));

    if (!v)
        return -ENOMEM;
    for (size_t i = 0; i < n_lock; i++) {
        const struct deps_pkg *k = &p->lock->pkgs[i];
        if (k->flags & (DEPS_PKG_F_WORKSPACE | DEPS_PKG_F_LINK))
            continue;
        v[n++] = (struct deps_report_pkg){
            k->name,     k->version, k->integrity, k->resolved,
            k->location, true,       false,        (k->flags & DEPS_PKG_F_DEV) != 0};
    }
    for (size_t i = 0; i < p->n_installed; i++) {
        const struct deps_manifest *m = &p->mans[1 + p->n_workspaces + i];
        const char *name = m->name[0] ? m->name : m->dir_name;
        v[n++] = (struct deps_report_pkg){name, m->version, NULL, NULL, m->dir, false, true, false};
    }
    qsort(v, n, sizeof(*v), cmp_rpkg);
    /* merge rows of the same name and version, keeping the first location (sorted) */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(v[w - 1].name, v[i].name) == 0 &&
            strcmp(v[w - 1].version, v[i].version) == 0) {
            struct deps_report_pkg *o = &v[w - 1];
            o->locked |= v[i].locked;
            o->installed |= v[i].installed;
            if (!o->integrity)
                o->integrity = v[i].integrity;
            if (!o->resolved)
                o->resolved = v[i].resolved;
            continue;
        }
        v[w++] = v[i];
    }
    /* the report outlives the project: copy the strings it keeps */
    for (size_t i = 0; i < w; i++) {
        struct deps_report_pkg *q = &v[i];
        q->name = dup(ctx, q->name);
        q->version = dup(ctx, q->version);
        q->location = dup(ctx, q->location);
        q->integrity = q->integrity ? dup(ctx, q->integrity) : NULL;
        q->resolved = q->resolved ? dup(ctx, q->resolved) : NULL;
    }
    r->pkgs = v;
    r->n_pkgs = w;
    return ctx->rc;
}

static int cmp_loc(const void *a, const void *b)
{
    const struct deps_pkg *x = *(const struct deps_pkg *const *)a;
    const struct deps_pkg *y = *(const struct deps_pkg *const *)b;
    return strcmp(x->location, y->location);
}

static int cmp_loc_key(const void *key, const void *elem)
{
    return strcmp(key, (*(const struct deps_pkg *const *)elem)->location);
}

const struct deps_pkg *deps_lock_at(const struct deps_scan_ctx *ctx, const char *location)
{
    const struct deps_pkg *const *k = ctx->n_by_loc ? bsearch(location, ctx->by_loc, ctx->n_by_loc,
                                                              sizeof(*ctx->by_loc), cmp_loc_key)
                                                    : NULL;
    return k ? *k : NULL;
}

/* Index the lockfile's packages by location (npm: the node_modules folder). */
static int index_locations(struct deps_scan_ctx *ctx)
{
    const struct deps_lock *lk = ctx->p->lock;

    if (!lk || lk->n_pkgs == 0)
        return 0;
    ctx->by_loc = malloc(lk->n_pkgs * sizeof(*ctx->by_loc));
    if (!ctx->by_loc)
        return -ENOMEM;
    for (size_t i = 0; i < lk->n_pkgs; i++)
        ctx->by_loc[i] = &lk->pkgs[i];
    ctx->n_by_loc = lk->n_pkgs;
    if (ctx->n_by_loc > 1)
        qsort(ctx->by_loc, ctx->n_by_loc, sizeof(*ctx->by_loc), cmp_loc);
    return 0;
}

int deps_scan(const struct deps_project *p, const struct deps_corpus *c, struct deps_report **out)
{
    struct deps_report *r = calloc(1, sizeof(*r));
    struct deps_scan_ctx ctx = {.p = p, .c = c, .r = r};

    *out = NULL;
    if (!r)
        return -ENOMEM;
    r->corpus_version = dup(&ctx, c->version);
    r->corpus_hash = dup(&ctx, c->hash);
    r->lockfile = deps_arena_strndup(&r->arena, p->lock_file ? p->lock_file->path : "",
                                     p->lock_file ? strlen(p->lock_file->path) : 0);
    if (!r->lockfile) {
        deps_report_free(r);
        return -ENOMEM;
    }
    r->lock_format = p->lock ? deps_lock_format_name(p->lock->format) : "none";
    r->workspaces = p->n_workspaces;
    r->files_skipped = p->files_skipped;
    if (ctx.rc == 0)
        ctx.rc = index_locations(&ctx);
    if (ctx.rc == 0)
        ctx.rc = build_inventory(&ctx);
    if (ctx.rc == 0) {
        deps_rule_settings(&ctx);
        deps_rule_direct_deps(&ctx);
        deps_rule_lock_entries(&ctx);
        deps_rule_installed(&ctx);
        deps_rule_install_scripts(&ctx);
        deps_rule_names(&ctx);
        deps_rule_content(&ctx);
    }
    free(ctx.by_loc);
    if (ctx.rc < 0) {
        deps_report_free(r);
        return ctx.rc;
    }
    report_finish(r);
    *out = r;
    return 0;
}

void deps_report_free(struct deps_report *r)
{
    if (!r)
        return;
    free(r->findings);
    free(r->pkgs);
    deps_arena_free(&r->arena);
    free(r);
}

int deps_report_max_severity(const struct deps_report *r)
{
    return r->n_findings ? (int)r->findings[0].severity : -1;
}

/* ------------------------------------------------------------------ baselines */

static int cmp_fp(const void *a, const void *b)
{
    return strcmp(a, b);
}

#define DEPS_REPORT_MAX_BYTES ((size_t)256 << 20)

int deps_fpset_read(const char *json, size_t len, struct deps_fpset *out, char *err, size_t errlen)
{
    struct guard_jv_limits jl = {.max_bytes = DEPS_REPORT_MAX_BYTES, .max_nodes = (size_t)16 << 20};
    struct guard_json_error je;
    struct guard_jv_doc *doc = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = guard_jv_parse(json, len, &jl, &doc, &je);
    if (rc < 0) {
        set_err(err, errlen, "%u:%u: %s; expected a JSON report of warden scan-deps", je.line,
                je.column, je.message);
        return rc;
    }
    const struct guard_jv *fs = deps_jv_get(guard_jv_doc_root(doc), "findings");
    if (!fs || deps_jv_type(fs) != GUARD_JV_ARRAY) {
        set_err(err, errlen,
                "no \"findings\" array; expected a JSON report of warden "
                "scan-deps --format json");
        rc = -EBADMSG;
        goto out;
    }
    size_t n = deps_jv_alen(fs);
    out->fp = calloc(n ? n : 1, sizeof(*out->fp));
    if (!out->fp) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        size_t l = 0;
        const char *s = deps_jv_str(guard_jv_array_at(fs, i), "fingerprint");
        if (s)
            l = strlen(s);
        if (!s || l == 0 || l >= sizeof(out->fp[0])) {
            set_err(err, errlen,
                    "finding %zu has no valid \"fingerprint\"; expected a JSON "
                    "report of warden scan-deps",
                    i + 1);
            rc = -EBADMSG;
            goto out;
        }
        memcpy(out->fp[out->n++], s, l + 1);
    }
    qsort(out->fp, out->n, sizeof(*out->fp), cmp_fp);
out:
    guard_jv_doc_free(doc);
    if (rc < 0)
        deps_fpset_free(out);
    return rc;
}

void deps_fpset_free(struct deps_fpset *s)
{
    if (!s)
        return;
    free(s->fp);
    s->fp = NULL;
    s->n = 0;
}

bool deps_fpset_has(const struct deps_fpset *s, const char *fp)
{
    return s->n && bsearch(fp, s->fp, s->n, sizeof(*s->fp), cmp_fp) != NULL;
}

void deps_report_suppress(struct deps_report *r, const struct deps_fpset *base)
{
    size_t w = 0;

    memset(r->by_severity, 0, sizeof(r->by_severity));
    for (size_t i = 0; i < r->n_findings; i++) {
        if (deps_fpset_has(base, r->findings[i].fingerprint)) {
            r->suppressed++;
            continue;
        }
        r->by_severity[r->findings[i].severity]++;
        r->findings[w++] = r->findings[i];
    }
    r->n_findings = w;
}

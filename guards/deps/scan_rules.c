/* Supply-chain scanner: the manifest, lockfile, settings and install-script rules. */
#include "guards/deps/scan_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/semver.h"
#include "guards/deps/typo.h"
#include "guards/deps/yaml.h"
#include "guards/deps/content.h"

#define DEFAULT_REGISTRY "https://registry.npmjs.org"

static const char *const dep_sections[] = {"dependencies", "devDependencies",
                                           "optionalDependencies"};

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Case-insensitive substring search. */
static bool has_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++) {
        size_t i = 0;
        while (i < n && s[i] && tolower((unsigned char)s[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static uint32_t rank_of(const struct deps_scan_ctx *ctx, const char *name)
{
    return ctx->c->typo ? deps_typo_corpus_rank(ctx->c->typo, name) : 0;
}

static const char *lock_path(const struct deps_scan_ctx *ctx)
{
    return ctx->p->lock_file ? ctx->p->lock_file->path : "";
}

const char *deps_script_risk(const char *cmd)
{
    static const char *const net[] = {"curl ", "wget ",     "http://",     "https://",
                                      "nc -",  "ncat ",     "fetch(",      "invoke-webrequest",
                                      "iwr ",  "/dev/tcp/", "dns.resolve", "net.connect"};
    static const char *const cred[] = {
        ".npmrc",           "npm_token", "_authtoken", "aws_secret",  "aws_access",  "github_token",
        "gh_token",         "/.ssh",     "id_rsa",     "/etc/passwd", "process.env", "$home/.",
        ".git-credentials", "keychain"};
    static const char *const spawn[] = {
        "child_process", "exec(",     "execsync",        "spawn(",       "eval ",   "eval(",
        "| sh",          "|sh",       "| bash",          "|bash",        "bash -c", "sh -c",
        "powershell",    "base64 -d", "base64 --decode", "new function("};
    for (size_t i = 0; i < sizeof(net) / sizeof(net[0]); i++)
        if (has_ci(cmd, net[i]))
            return "network access";
    for (size_t i = 0; i < sizeof(cred) / sizeof(cred[0]); i++)
        if (has_ci(cmd, cred[i]))
            return "credential access";
    for (size_t i = 0; i < sizeof(spawn) / sizeof(spawn[0]); i++)
        if (has_ci(cmd, spawn[i]))
            return "process spawning";
    return NULL;
}

/* Registry URL equality up to scheme case, trailing '/' and the npm/yarn default pair. */
static bool is_default_registry(const char *url, size_t n)
{
    static const char *const defaults[] = {
        "https://registry.npmjs.org", "https://registry.yarnpkg.com", "https://registry.npmjs.com"};
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (n == strlen(defaults[i]) && strncmp(url, defaults[i], n) == 0)
            return true;
    return false;
}

const char *deps_expected_registry(const struct deps_project *p, const char *name)
{
    const char *def = DEFAULT_REGISTRY;

    for (size_t i = 0; i < p->npmrc.n_regs; i++) {
        const struct deps_npmrc_registry *r = &p->npmrc.regs[i];
        size_t sl = strlen(r->scope);
        if (sl == 0)
            def = r->url;
        else if (name[0] == '@' && strncmp(name, r->scope, sl) == 0 && name[sl] == '/')
            return r->url;
    }
    return def;
}

/* ------------------------------------------------------------------ specs */

enum spec_kind {
    SPEC_RANGE = 0, /* a semver range or dist-tag: the registry */
    SPEC_ALIAS,     /* npm:name@range */
    SPEC_GIT,       /* git+..., git://, git@, github:, gitlab:, bitbucket:, gist:, owner/repo */
    SPEC_TARBALL,   /* http(s) URL */
    SPEC_LOCAL,     /* file:, link:, a path */
    SPEC_WORKSPACE, /* workspace: */
    SPEC_OTHER,     /* portal:, patch:, exec:, ... */
};

static enum spec_kind spec_kind_of(const char *spec)
{
    if (starts(spec, "npm:"))
        return SPEC_ALIAS;
    if (starts(spec, "workspace:"))
        return SPEC_WORKSPACE;
    if (starts(spec, "git+") || starts(spec, "git://") || starts(spec, "git@") ||
        starts(spec, "github:") || starts(spec, "gitlab:") || starts(spec, "bitbucket:") ||
        starts(spec, "gist:") || starts(spec, "ssh://"))
        return SPEC_GIT;
    if (starts(spec, "http://") || starts(spec, "https://"))
        return SPEC_TARBALL;
    if (starts(spec, "file:") || starts(spec, "link:") || starts(spec, "./") ||
        starts(spec, "../") || starts(spec, "/") || starts(spec, "~/"))
        return SPEC_LOCAL;
    if (strchr(spec, ':'))
        return SPEC_OTHER;
    const char *slash = strchr(spec, '/');
    if (slash && spec[0] != '@' && slash != spec && slash[1] && !strchr(slash + 1, '/') &&
        !strchr(spec, ' '))
        return SPEC_GIT; /* "owner/repo" is GitHub */
    return SPEC_RANGE;
}

/* Is a git spec pinned to a full commit ("#<40 hex>")? */
static bool git_pinned(const char *spec)
{
    const char *h = strrchr(spec, '#');
    size_t n = 0;

    if (!h)
        return false;
    for (h++; isxdigit((unsigned char)h[n]); n++)
        ;
    return n == 40 && h[n] == '\0';
}

/* Split "npm:name@range" into the target name (into buf). */
static const char *alias_target(const char *spec, char *buf, size_t cap)
{
    const char *t = spec + 4, *at = strchr(t + (t[0] == '@'), '@');
    size_t n = at ? (size_t)(at - t) : strlen(t);
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, t, n);
    buf[n] = '\0';
    return buf;
}

static bool is_direct(const struct deps_scan_ctx *ctx, const char *name)
{
    const struct deps_project *p = ctx->p;
    for (size_t i = 0; i <= p->n_workspaces; i++)
        for (size_t s = 0; s < 3; s++) {
            const struct guard_jv *d = deps_jv_get(p->mans[i].obj, dep_sections[s]);
            if (d && deps_jv_get(d, name))
                return true;
        }
    return false;
}

/* ------------------------------------------------------------------ direct dependencies */

/* Internal-looking words in an unscoped package name. */
static bool looks_internal(const char *name)
{
    static const char *const words[] = {"internal", "private", "corp",
                                        "intranet", "inhouse", "in-house"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        const char *h = strstr(name, words[i]);
        size_t n = strlen(words[i]);
        if (h && (h == name || !isalnum((unsigned char)h[-1])) && !isalnum((unsigned char)h[n]))
            return true;
    }
    return false;
}

static void dep_confusion(struct deps_scan_ctx *ctx, const struct deps_manifest *m,
                          const char *name, uint32_t line)
{
    const struct deps_project *p = ctx->p;
    const char *reg = deps_expected_registry(p, name);
    bool public_reg = is_default_registry(reg, strlen(reg));

    if (!public_reg || rank_of(ctx, name) > 0)
        return;
    if (name[0] == '@') {
        bool other_scoped = false;
        for (size_t i = 0; i < p->npmrc.n_regs; i++)
            other_scoped = other_scoped || p->npmrc.regs[i].scope[0] != '\0';
        if (other_scoped)
            deps_emit(ctx, "L2-DEPC-001", DEPS_SEV_HIGH, name, "", m->file->path, line,
                      "unmapped-scope",
                      "%s: .npmrc maps other scopes to a private registry but not this one, so "
                      "it resolves from the public registry; add a scope:registry line",
                      name);
    } else if (looks_internal(name)) {
        deps_emit(ctx, "L2-DEPC-001", DEPS_SEV_MEDIUM, name, "", m->file->path, line,
                  "internal-name",
                  "%s: the name looks internal but is fetched from the public registry, where "
                  "anyone can publish it; move it under a scope mapped to your registry",
                  name);
    }
}

/* The lockfile's record of a direct dependency of importer, or NULL. */
static const struct deps_dep *lock_dep(const struct deps_lock *lk, const char *importer,
                                       const char *name)
{
    for (size_t i = 0; i < lk->n_deps; i++)
        if (strcmp(lk->deps[i].importer, importer) == 0 && strcmp(lk->deps[i].name, name) == 0)
            return &lk->deps[i];
    return NULL;
}

static bool lock_has_pkg(const struct deps_lock *lk, const char *name)
{
    size_t lo = 0, hi = lk->n_pkgs;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(lk->pkgs[mid].name, name);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = 0; i < lk->n_pkgs; i++)
        if (lk->pkgs[i].alias && strcmp(lk->pkgs[i].alias, name) == 0)
            return true;
    return false;
}

static void lock_drift(struct deps_scan_ctx *ctx, const struct deps_manifest *m, const char *name,
                       const char *spec, enum spec_kind kind, uint32_t line)
{
    const struct deps_lock *lk = ctx->p->lock;
    const char *importer = m->kind == DEPS_MAN_ROOT ? "." : m->dir;

    if (!lk || (lk->flags & DEPS_LOCK_F_EMPTY) || kind == SPEC_WORKSPACE || kind == SPEC_LOCAL)
        goto missing_check;
    bool records_deps = false;
    for (size_t i = 0; i < lk->n_deps && !records_deps; i++)
        records_deps = strcmp(lk->deps[i].importer, importer) == 0;
    if (records_deps) {
        const struct deps_dep *d = lock_dep(lk, importer, name);
        if (!d)
            goto missing;
        const char *ls = d->spec;
        if (starts(ls, "npm:") && !starts(spec, "npm:"))
            ls += 4;
        if (ls[0] && strcmp(ls, spec) != 0) {
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, name, d->version ? d->version : "",
                      m->file->path, line, "spec-drift",
                      "%s: package.json asks for '%s' but %s records '%s'; the lockfile is out "
                      "of date: reinstall and commit it",
                      name, spec, lock_path(ctx), ls);
        } else if (kind == SPEC_RANGE && d->version && d->version[0] &&
                   deps_semver_satisfies(d->version, spec) == 0) {
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, name, d->version, m->file->path, line,
                      "version-drift",
                      "%s: locked at %s, outside the range '%s' of package.json; reinstall "
                      "and commit the lockfile",
                      name, d->version, spec);
        }
        return;
    }
missing_check:
    if (!lk || (lk->flags & DEPS_LOCK_F_EMPTY) || kind == SPEC_WORKSPACE || kind == SPEC_LOCAL ||
        lock_has_pkg(lk, name))
        return;
missing:
    deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, name, "", m->file->path, line,
              "missing-from-lock",
              "%s: declared in package.json but missing from %s; installs resolve it afresh "
              "each time: reinstall and commit the lockfile",
              name, lock_path(ctx));
}

static void sideload(struct deps_scan_ctx *ctx, const char *file, uint32_t line, const char *name,
                     const char *spec, enum spec_kind kind, const char *what)
{
    char target[256];

    switch (kind) {
    case SPEC_ALIAS:
        alias_target(spec, target, sizeof(target));
        if (strcmp(target, name) != 0)
            deps_emit(ctx, "L2-SIDELOAD-001",
                      rank_of(ctx, name) > 0 ? DEPS_SEV_HIGH : DEPS_SEV_MEDIUM, name, "", file,
                      line, "alias",
                      "%s: %s is an npm: alias that installs '%s' under this name; check that "
                      "the alias is intended",
                      name, what, target);
        break;
    case SPEC_GIT:
        deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_HIGH, name, "", file, line, "git",
                  "%s: %s comes from a git repository (%.120s), bypassing the registry's "
                  "integrity and advisories",
                  name, what, spec);
        if (!git_pinned(spec))
            deps_emit(ctx, "L2-PROV-001", DEPS_SEV_MEDIUM, name, "", file, line, "git-unpinned",
                      "%s: git source not pinned to a full commit hash; its content can change "
                      "under the same spec: pin #<40-hex commit>",
                      name);
        break;
    case SPEC_TARBALL:
        deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_HIGH, name, "", file, line, "tarball",
                  "%s: %s is a tarball URL (%.120s)%s, outside the registry", name, what, spec,
                  starts(spec, "http://") ? " over plain http" : "");
        break;
    case SPEC_LOCAL:
        deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_LOW, name, "", file, line, "local",
                  "%s: %s is a local path (%.120s); fine for monorepos, but it is not "
                  "versioned by the registry",
                  name, what, spec);
        break;
    case SPEC_OTHER:
        deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_MEDIUM, name, "", file, line, "other",
                  "%s: %s uses the protocol '%.40s'; review where it comes from", name, what, spec);
        break;
    case SPEC_RANGE:
    case SPEC_WORKSPACE:
        break;
    }
}

void deps_rule_direct_deps(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    bool any = false;

    for (size_t i = 0; i <= p->n_workspaces; i++) {
        const struct deps_manifest *m = &p->mans[i];
        for (size_t s = 0; s < 3; s++) {
            const struct guard_jv *d = deps_jv_get(m->obj, dep_sections[s]);
            for (size_t k = 0; k < deps_jv_olen(d); k++) {
                const struct guard_jv_member *mem = guard_jv_object_at(d, k);
                const char *spec = deps_jv_s(&mem->value);
                if (!spec)
                    spec = "";
                uint32_t line = deps_file_line_of(m->file, dep_sections[s], mem->key);
                enum spec_kind kind = spec_kind_of(spec);
                any = true;
                sideload(ctx, m->file->path, line, mem->key, spec, kind, "the dependency");
                if (kind == SPEC_RANGE)
                    dep_confusion(ctx, m, mem->key, line);
                lock_drift(ctx, m, mem->key, spec, kind, line);
            }
        }
    }
    if (any && !p->lock)
        deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, "", "", "package.json", 0, "no-lockfile",
                  "no lockfile (package-lock.json, pnpm-lock.yaml or yarn.lock): every install "
                  "resolves versions afresh; commit one");
    for (size_t i = 0; i < p->n_extra_locks; i++)
        deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_LOW, "", "", p->extra_locks[i]->path, 0,
                  "several-lockfiles",
                  "%s is present besides %s; a tool using it installs other versions: keep "
                  "one lockfile",
                  p->extra_locks[i]->path, lock_path(ctx));
}

/* ------------------------------------------------------------------ lockfile entries */

static bool weak_integrity(const char *sri)
{
    /* SRI: space-separated "alg-base64"; weak when no sha256/384/512 is present */
    return !(strstr(sri, "sha512-") || strstr(sri, "sha384-") || strstr(sri, "sha256-"));
}

/* Check a registry tarball URL is for the package: ".../NAME/-/BARE-VERSION.tgz". */
static bool tarball_matches(const char *url, const char *name, const char *version)
{
    const char *dash = strstr(url, "/-/");
    const char *bare = name[0] == '@' && strchr(name, '/') ? strchr(name, '/') + 1 : name;
    char want[512];

    if (!dash)
        return true; /* not a registry tarball layout: nothing to compare */
    size_t nl = strlen(name), bl = strlen(bare);
    const char *before = dash - nl;
    bool name_ok = before > url && strncmp(before, name, nl) == 0 && before[-1] == '/';
    if (!name_ok && name[0] == '@') { /* "@scope%2fname" */
        snprintf(want, sizeof(want), "%.*s%%2f%s", (int)(bare - name - 1), name, bare);
        size_t wl = strlen(want);
        before = dash - wl;
        name_ok = before > url && strncasecmp(before, want, wl) == 0;
    }
    if (!name_ok)
        return false;
    const char *file = dash + 3;
    if (strncmp(file, bare, bl) != 0 || file[bl] != '-')
        return false;
    if (version && version[0]) {
        snprintf(want, sizeof(want), "%s.tgz", version);
        size_t fl = strcspn(file + bl + 1, "?#"); /* yarn appends "#<sha1>" */
        return fl == strlen(want) && strncmp(file + bl + 1, want, fl) == 0;
    }
    return true;
}

static void lock_entry(struct deps_scan_ctx *ctx, const struct deps_pkg *k)
{
    const char *lf = lock_path(ctx);
    const char *res = k->resolved;

    if (k->res_kind == DEPS_RES_REGISTRY || k->res_kind == DEPS_RES_TARBALL) {
        if (!k->integrity && !k->checksum && ctx->p->lock->format != DEPS_LOCK_YARN_V1)
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, k->name, k->version, lf, k->line,
                      "no-integrity",
                      "%s@%s: no integrity hash in the lockfile; the tarball is not verified: "
                      "reinstall to record one",
                      k->name, k->version);
        else if (k->integrity && weak_integrity(k->integrity))
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_MEDIUM, k->name, k->version, lf, k->line,
                      "weak-integrity",
                      "%s@%s: integrity uses only sha1/md5, which can be forged; reinstall to "
                      "record sha512",
                      k->name, k->version);
    }
    if (res && starts(res, "http://"))
        deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_HIGH, k->name, k->version, lf, k->line, "plain-http",
                  "%s@%s: resolved over plain http (%.120s); anyone on the path can swap the "
                  "tarball: use https",
                  k->name, k->version, res);
    if (res && k->res_kind == DEPS_RES_REGISTRY &&
        (starts(res, "http://") || starts(res, "https://"))) {
        const char *want = deps_expected_registry(ctx->p, k->name);
        const char *host_end = strstr(res + 8, "/-/");
        size_t wl = strlen(want);
        bool on_reg = false;
        if (strncmp(res, want, wl) == 0 && res[wl] == '/')
            on_reg = true;
        else if (is_default_registry(want, wl)) {
            const char *q = strchr(res + 8, '/');
            on_reg = q && is_default_registry(res, (size_t)(q - res));
        }
        if (!on_reg && host_end && !starts(res, "http://")) /* plain http is reported above */
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_HIGH, k->name, k->version, lf, k->line,
                      "unexpected-registry",
                      "%s@%s: resolved from %.120s, not the expected registry %s (.npmrc)", k->name,
                      k->version, res, want);
        if (!tarball_matches(res, k->name, k->version))
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_HIGH, k->name, k->version, lf, k->line,
                      "tarball-mismatch",
                      "%s@%s: the resolved tarball (%.120s) is not this package's; the lockfile "
                      "was edited: regenerate it",
                      k->name, k->version, res);
    }
    if (!is_direct(ctx, k->alias ? k->alias : k->name)) {
        if (k->res_kind == DEPS_RES_GIT || k->res_kind == DEPS_RES_HOSTED)
            deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_MEDIUM, k->name, k->version, lf, k->line,
                      "git", "%s@%s: a transitive dependency comes from git (%.120s)", k->name,
                      k->version, res ? res : "");
        else if (k->res_kind == DEPS_RES_TARBALL)
            deps_emit(ctx, "L2-SIDELOAD-001", DEPS_SEV_MEDIUM, k->name, k->version, lf, k->line,
                      "tarball", "%s@%s: a transitive dependency is a tarball URL (%.120s)",
                      k->name, k->version, res ? res : "");
    }
    if ((k->res_kind == DEPS_RES_GIT || k->res_kind == DEPS_RES_HOSTED ||
         k->res_kind == DEPS_RES_TARBALL) &&
        rank_of(ctx, k->name) > 0)
        deps_emit(ctx, "L2-FORK-001", DEPS_SEV_MEDIUM, k->name, k->version, lf, k->line, "fork",
                  "%s: a popular package installed from %s instead of its registry release: a "
                  "fork that may drift from upstream",
                  k->name, deps_res_kind_name(k->res_kind));
}

void deps_rule_lock_entries(struct deps_scan_ctx *ctx)
{
    const struct deps_lock *lk = ctx->p->lock;

    for (size_t i = 0; lk && i < lk->n_pkgs; i++) {
        const struct deps_pkg *k = &lk->pkgs[i];
        if (k->flags & (DEPS_PKG_F_WORKSPACE | DEPS_PKG_F_LINK))
            continue;
        lock_entry(ctx, k);
        if ((k->flags & DEPS_PKG_F_INSTALL_SCRIPT) && ctx->p->n_installed == 0)
            deps_emit(ctx, "L2-POST-001", DEPS_SEV_INFO, k->name, k->version, lock_path(ctx),
                      k->line, "lock-install-script",
                      "%s@%s: the lockfile records an install script; install the tree "
                      "(--ignore-scripts) and scan again to inspect it",
                      k->name, k->version);
    }
    /* inventory-wide checks: one finding per (name, version) */
    for (size_t i = 0; i < ctx->r->n_pkgs; i++) {
        const struct deps_report_pkg *q = &ctx->r->pkgs[i];
        const char *file = lock_path(ctx);
        char path[4200];
        if (!q->locked) {
            snprintf(path, sizeof(path), "%s/package.json", q->location);
            file = path;
        }
        struct deps_semver v;
        if (q->version[0] && deps_semver_parse(q->version, strlen(q->version), &v) == 0 &&
            v.major >= 99 && q->name[0] != '@' && rank_of(ctx, q->name) == 0)
            deps_emit(ctx, "L2-DEPC-001", DEPS_SEV_HIGH, q->name, q->version, file, 0,
                      "implausible-version",
                      "%s@%s: an implausible version, typical of dependency-confusion packages "
                      "that outbid an internal one",
                      q->name, q->version);
        const struct deps_corpus *c = ctx->c;
        size_t lo = 0, hi = c->n_advisories;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(c->advisories[mid].name, q->name) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t a = lo; a < c->n_advisories && strcmp(c->advisories[a].name, q->name) == 0;
             a++) {
            const struct deps_advisory *ad = &c->advisories[a];
            if (q->version[0] && deps_semver_satisfies(q->version, ad->range) == 1)
                deps_emit(ctx, "L2-ADV-001", ad->severity, q->name, q->version, file, 0, ad->id,
                          "%s@%s: %s (%s, affected %s)", q->name, q->version, ad->summary, ad->id,
                          ad->range);
        }
    }
}

/* ------------------------------------------------------------------ installed packages */

/* Licenses that impose terms on the whole work, or are not open source. */
static bool license_restrictive(const char *id, size_t n)
{
    static const char *const prefixes[] = {"GPL-",  "AGPL-", "SSPL-", "BUSL-", "CC-BY-NC",
                                           "EUPL-", "OSL-",  "RPL-",  "CPAL-", "Commons-Clause"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        if (n >= pl && strncasecmp(id, prefixes[i], pl) == 0)
            return true;
    }
    return false;
}

/* SPDX expression: returns 1 when some choice avoids restrictive licenses, 0 when every
 * choice is restrictive, -1 on a syntax error. or := and ("OR" and)*; and := atom ("AND"
 * atom)*; atom := "(" or ")" | id ["WITH" id]. */
struct spdx {
    const char *s;
    int depth;
};

static size_t spdx_tok(struct spdx *x, const char **t)
{
    while (*x->s == ' ')
        x->s++;
    *t = x->s;
    if (*x->s == '(' || *x->s == ')')
        return 1;
    size_t n = 0;
    while (x->s[n] && x->s[n] != ' ' && x->s[n] != '(' && x->s[n] != ')')
        n++;
    return n;
}

static int spdx_or(struct spdx *x);

static int spdx_atom(struct spdx *x)
{
    const char *t;
    size_t n = spdx_tok(x, &t);
    int ok;

    if (n == 0)
        return -1;
    if (*t == '(') {
        if (++x->depth > 16)
            return -1;
        x->s = t + 1;
        ok = spdx_or(x);
        n = spdx_tok(x, &t);
        if (ok < 0 || n != 1 || *t != ')')
            return -1;
        x->s = t + 1;
        x->depth--;
        return ok;
    }
    if (*t == ')' || (n == 3 && strncmp(t, "AND", 3) == 0) || (n == 2 && strncmp(t, "OR", 2) == 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '.' && t[i] != '+' &&
            t[i] != ':')
            return -1;
    ok = !license_restrictive(t, n);
    x->s = t + n;
    n = spdx_tok(x, &t);
    if (n == 4 && strncmp(t, "WITH", 4) == 0) {
        x->s = t + 4;
        n = spdx_tok(x, &t);
        if (n == 0 || *t == '(' || *t == ')')
            return -1;
        x->s = t + n;
    }
    return ok;
}

static int spdx_and(struct spdx *x)
{
    int ok = spdx_atom(x);
    const char *t;
    while (ok >= 0) {
        size_t n = spdx_tok(x, &t);
        if (!(n == 3 && strncmp(t, "AND", 3) == 0))
            break;
        x->s = t + 3;
        int r = spdx_atom(x);
        ok = r < 0 ? -1 : (ok && r);
    }
    return ok;
}

static int spdx_or(struct spdx *x)
{
    int ok = spdx_and(x);
    const char *t;
    while (ok >= 0) {
        size_t n = spdx_tok(x, &t);
        if (!(n == 2 && strncmp(t, "OR", 2) == 0))
            break;
        x->s = t + 2;
        int r = spdx_and(x);
        ok = r < 0 ? -1 : (ok || r);
    }
    return ok;
}

static void license_check(struct deps_scan_ctx *ctx, const struct deps_manifest *m)
{
    const struct guard_jv *l = deps_jv_get(m->obj, "license");
    const char *expr = NULL;
    uint32_t line = deps_file_line_of(m->file, NULL, "license");
    const char *name = m->name[0] ? m->name : m->dir_name;

    if (l && deps_jv_type(l) == GUARD_JV_OBJECT)
        expr = deps_jv_str(l, "type");
    else if (l)
        expr = deps_jv_s(l);
    else {
        const struct guard_jv *ls = deps_jv_get(m->obj, "licenses");
        if (ls && deps_jv_alen(ls) > 0)
            expr = deps_jv_str(guard_jv_array_at(ls, 0), "type");
        line = deps_file_line_of(m->file, NULL, "licenses");
    }
    if (!expr || !expr[0]) {
        deps_emit(ctx, "L2-LICENSE-001", DEPS_SEV_LOW, name, m->version, m->file->path, line,
                  "no-license", "%s@%s: declares no license; its terms are unknown", name,
                  m->version);
        return;
    }
    if (strcmp(expr, "UNLICENSED") == 0 || starts(expr, "SEE LICENSE IN")) {
        deps_emit(ctx, "L2-LICENSE-001", DEPS_SEV_MEDIUM, name, m->version, m->file->path, line,
                  "proprietary",
                  "%s@%s: license '%.80s' is not an open-source license; check "
                  "you may use it",
                  name, m->version, expr);
        return;
    }
    struct spdx x = {expr, 0};
    int ok = spdx_or(&x);
    const char *t;
    if (ok >= 0 && spdx_tok(&x, &t) != 0)
        ok = -1;
    if (ok < 0)
        deps_emit(ctx, "L2-LICENSE-001", DEPS_SEV_LOW, name, m->version, m->file->path, line,
                  "invalid-spdx", "%s@%s: license '%.80s' is not a valid SPDX expression", name,
                  m->version, expr);
    else if (ok == 0)
        deps_emit(ctx, "L2-LICENSE-001", DEPS_SEV_MEDIUM, name, m->version, m->file->path, line,
                  "restrictive",
                  "%s@%s: license '%.80s' is copyleft or not open source with no permissive "
                  "alternative; check it fits your distribution",
                  name, m->version, expr);
}

static bool path_escapes(const char *s)
{
    return s[0] == '/' || starts(s, "../") || strstr(s, "/../") || strcmp(s, "..") == 0 ||
           (isalpha((unsigned char)s[0]) && s[1] == ':');
}

static void manifest_check(struct deps_scan_ctx *ctx, const struct deps_manifest *m)
{
    const char *name = m->name[0] ? m->name : m->dir_name;
    const char *file = m->file->path;

    if (!m->obj) {
        deps_emit(ctx, "L2-MANI-002", DEPS_SEV_MEDIUM, m->dir_name, "", file, 0, "unparsable",
                  "%s: package.json does not parse (%s); the package cannot be checked",
                  m->dir_name, m->error ? m->error : "");
        return;
    }
    if (!m->name[0] || !m->version[0])
        deps_emit(ctx, "L2-MANI-002", DEPS_SEV_MEDIUM, name, m->version, file, 0,
                  "missing-name-version",
                  "%s: installed package.json has no %s; registry packages always have both", name,
                  !m->name[0] ? "name" : "version");
    if (m->name[0] && strcmp(m->name, m->dir_name) != 0) {
        bool alias = false;
        const struct deps_lock *lk = ctx->p->lock;
        for (size_t i = 0; lk && i < lk->n_pkgs && !alias; i++)
            alias = lk->pkgs[i].alias && strcmp(lk->pkgs[i].alias, m->dir_name) == 0;
        if (!alias)
            deps_emit(ctx, "L2-MANI-001", DEPS_SEV_HIGH, m->name, m->version, file,
                      deps_file_line_of(m->file, NULL, "name"), "name-mismatch",
                      "installed as '%s' but its package.json is named '%s': the folder holds "
                      "another package",
                      m->dir_name, m->name);
    }
    const struct deps_pkg *k = deps_lock_at(ctx, m->dir);
    if (k && k->version[0] && m->version[0] && strcmp(k->version, m->version) != 0)
        deps_emit(ctx, "L2-MANI-001", DEPS_SEV_MEDIUM, name, m->version, file, 0,
                  "lock-version-mismatch",
                  "%s: %s locks %s but %s is installed; the tree was changed after install", name,
                  lock_path(ctx), k->version, m->version);
    static const char *const path_keys[] = {"main", "module", "browser"};
    for (size_t i = 0; i < sizeof(path_keys) / sizeof(path_keys[0]); i++) {
        const char *v = deps_jv_str(m->obj, path_keys[i]);
        if (v && path_escapes(v))
            deps_emit(ctx, "L2-MANI-002", DEPS_SEV_HIGH, name, m->version, file,
                      deps_file_line_of(m->file, NULL, path_keys[i]), "path-escape",
                      "%s: \"%s\" points outside the package (%.80s)", name, path_keys[i], v);
    }
    const struct guard_jv *bin = deps_jv_get(m->obj, "bin");
    const char *b1 = deps_jv_s(bin);
    for (size_t i = 0; !b1 && i < deps_jv_olen(bin); i++) {
        const char *v = guard_jv_string(&guard_jv_object_at(bin, i)->value, NULL);
        if (v && path_escapes(v))
            b1 = v;
    }
    if (b1 && path_escapes(b1))
        deps_emit(ctx, "L2-MANI-002", DEPS_SEV_HIGH, name, m->version, file,
                  deps_file_line_of(m->file, NULL, "bin"), "path-escape",
                  "%s: \"bin\" points outside the package (%.80s)", name, b1);
}

static void engines_check(struct deps_scan_ctx *ctx, const struct deps_manifest *m,
                          const struct deps_semver *root_min, const char *root_range)
{
    const struct guard_jv *e = deps_jv_get(m->obj, "engines");
    const char *node = deps_jv_str(e, "node");
    char ver[96];
    const char *name = m->name[0] ? m->name : m->dir_name;

    if (!node || !root_range)
        return;
    snprintf(ver, sizeof(ver), "%llu.%llu.%llu", (unsigned long long)root_min->major,
             (unsigned long long)root_min->minor, (unsigned long long)root_min->patch);
    if (deps_semver_satisfies(ver, node) == 0)
        deps_emit(ctx, "L2-ENGIN-001", DEPS_SEV_LOW, name, m->version, m->file->path,
                  deps_file_line_of(m->file, "engines", "node"), "node-range",
                  "%s@%s: needs node '%.60s', but the project supports node '%.60s' (from %s)",
                  name, m->version, node, root_range, ver);
}

/* The publisher names of an installed package.json (_npmUser, maintainers), joined. */
static void publishers(const struct deps_manifest *m, char *buf, size_t cap)
{
    size_t len = 0;
    const struct guard_jv *mt = deps_jv_get(m->obj, "maintainers");
    const struct guard_jv *u = deps_jv_get(m->obj, "_npmUser");

    buf[0] = '\0';
    for (size_t i = 0; i <= deps_jv_alen(mt); i++) {
        const struct guard_jv *v = i < deps_jv_alen(mt) ? guard_jv_array_at(mt, i) : u;
        const char *s = deps_jv_type(v) == GUARD_JV_OBJECT ? deps_jv_str(v, "name") : deps_jv_s(v);
        if (!s)
            continue;
        size_t n = strcspn(s, " <");
        if (len + n + 2 >= cap)
            break;
        buf[len++] = ',';
        memcpy(buf + len, s, n);
        len += n;
        buf[len++] = ',';
        buf[len] = '\0';
    }
}

/* Do two ",a,,b," lists share a name? */
static bool publishers_overlap(const char *a, const char *b)
{
    for (const char *s = a; *s;) {
        const char *e = strchr(s + 1, ',');
        if (!e)
            break;
        char one[128];
        size_t n = (size_t)(e - s) + 1;
        if (n < sizeof(one)) {
            memcpy(one, s, n);
            one[n] = '\0';
            if (strstr(b, one))
                return true;
        }
        s = e + 1;
    }
    return false;
}

static int cmp_man_ptr(const void *a, const void *b)
{
    const struct deps_manifest *x = *(const struct deps_manifest *const *)a;
    const struct deps_manifest *y = *(const struct deps_manifest *const *)b;
    int c = strcmp(x->name, y->name);
    if (!c) {
        struct deps_semver vx, vy;
        if (deps_semver_parse(x->version, strlen(x->version), &vx) == 0 &&
            deps_semver_parse(y->version, strlen(y->version), &vy) == 0)
            c = deps_semver_cmp(&vx, &vy);
        if (!c)
            c = strcmp(x->version, y->version);
    }
    return c ? c : strcmp(x->dir, y->dir);
}

static void maintainers_check(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    const struct deps_manifest **v = malloc((p->n_installed + 1) * sizeof(*v));
    size_t n = 0;

    if (!v) {
        ctx->rc = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < p->n_installed; i++)
        if (p->mans[1 + p->n_workspaces + i].obj && p->mans[1 + p->n_workspaces + i].name[0])
            v[n++] = &p->mans[1 + p->n_workspaces + i];
    qsort(v, n, sizeof(*v), cmp_man_ptr);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1]->name, v[i]->name) != 0 ||
            strcmp(v[i - 1]->version, v[i]->version) == 0)
            continue;
        char a[1024], b[1024];
        publishers(v[i - 1], a, sizeof(a));
        publishers(v[i], b, sizeof(b));
        if (a[0] && b[0] && !publishers_overlap(a, b))
            deps_emit(ctx, "L2-MAINT-001", DEPS_SEV_MEDIUM, v[i]->name, v[i]->version,
                      v[i]->file->path, 0, "publisher-change",
                      "%s@%s: published by other people than %s@%s (no maintainer in common); "
                      "a takeover publishes this way: review the release",
                      v[i]->name, v[i]->version, v[i - 1]->name, v[i - 1]->version);
    }
    free(v);
}

void deps_rule_installed(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    const char *root_range = deps_jv_str(deps_jv_get(p->mans[0].obj, "engines"), "node");
    struct deps_semver root_min = {0};

    if (root_range && deps_semver_range_min(root_range, &root_min) < 0)
        root_range = NULL;
    for (size_t i = 0; i < p->n_installed; i++) {
        const struct deps_manifest *m = &p->mans[1 + p->n_workspaces + i];
        manifest_check(ctx, m);
        if (!m->obj)
            continue;
        license_check(ctx, m);
        engines_check(ctx, m, &root_min, root_range);
    }
    maintainers_check(ctx);
}

/* ------------------------------------------------------------------ install scripts */

/* How the package was fetched, from the lockfile (by folder or name and version). */
static enum deps_res_kind res_kind_of(const struct deps_scan_ctx *ctx,
                                      const struct deps_manifest *m)
{
    const struct deps_lock *lk = ctx->p->lock;
    const char *r = deps_jv_str(m->obj, "_resolved");
    const struct deps_pkg *k = deps_lock_at(ctx, m->dir);
    size_t lo = 0, hi = lk ? lk->n_pkgs : 0;

    if (k)
        return k->res_kind;
    while (lo < hi) { /* pkgs are sorted by name, then version */
        size_t mid = (lo + hi) / 2;
        int c = strcmp(lk->pkgs[mid].name, m->name);
        if (c == 0)
            c = strcmp(lk->pkgs[mid].version, m->version);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lk && lo < lk->n_pkgs && strcmp(lk->pkgs[lo].name, m->name) == 0 &&
        strcmp(lk->pkgs[lo].version, m->version) == 0)
        return lk->pkgs[lo].res_kind;
    return r ? deps_res_kind_of(r, strlen(r)) : DEPS_RES_NONE;
}

/* Native-build commands that ship with most compiled packages. */
static bool benign_build(const char *cmd)
{
    static const char *const ok[] = {"node-gyp rebuild", "node-gyp-build", "prebuild-install",
                                     "node-pre-gyp install", "cmake-js compile"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (starts(cmd, ok[i]))
            return !deps_script_risk(cmd) && !strchr(cmd, ';') && !strstr(cmd, "&&");
    return false;
}

void deps_rule_install_scripts(struct deps_scan_ctx *ctx)
{
    static const char *const hooks[] = {"preinstall", "install", "postinstall", "prepare",
                                        "prepack"};
    const struct deps_project *p = ctx->p;

    for (size_t i = 0; i < p->n_installed; i++) {
        const struct deps_manifest *m = &p->mans[1 + p->n_workspaces + i];
        const struct guard_jv *sc = deps_jv_get(m->obj, "scripts");
        const char *name = m->name[0] ? m->name : m->dir_name;
        if (!sc)
            continue;
        enum deps_res_kind rk = res_kind_of(ctx, m);
        bool source_dep = rk == DEPS_RES_GIT || rk == DEPS_RES_HOSTED || rk == DEPS_RES_FILE ||
                          rk == DEPS_RES_LINK;
        for (size_t h = 0; h < sizeof(hooks) / sizeof(hooks[0]); h++) {
            const char *cmd = deps_jv_str(sc, hooks[h]);
            if (!cmd || (h >= 3 && !source_dep))
                continue;
            const char *risk = deps_script_risk(cmd);
            enum deps_severity sev = risk                ? DEPS_SEV_CRITICAL
                                     : benign_build(cmd) ? DEPS_SEV_LOW
                                                         : DEPS_SEV_HIGH;
            char key[64];
            snprintf(key, sizeof(key), "install-script:%s", hooks[h]);
            deps_emit(ctx, "L2-POST-001", sev, name, m->version, m->file->path,
                      deps_file_line_of(m->file, "scripts", hooks[h]), key,
                      "%s@%s: %s script runs at install time: '%.100s'%s%s", name, m->version,
                      hooks[h], cmd, risk ? "; it shows " : "", risk ? risk : "");
        }
    }
}

/* ------------------------------------------------------------------ names */

void deps_rule_names(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    const struct deps_report *r = ctx->r;
    struct deps_typo_match tm;

    if (!ctx->c->typo)
        return;
    for (size_t i = 0; i <= p->n_workspaces; i++) {
        const struct deps_manifest *m = &p->mans[i];
        for (size_t s = 0; s < 3; s++) {
            const struct guard_jv *d = deps_jv_get(m->obj, dep_sections[s]);
            for (size_t k = 0; k < deps_jv_olen(d); k++) {
                const char *name = guard_jv_object_at(d, k)->key;
                if (deps_typo_check(ctx->c->typo, name, &tm) != 1)
                    continue;
                deps_emit(ctx, "L2-TYPO-001",
                          tm.severity == DEPS_TYPO_SEV_HIGH ? DEPS_SEV_HIGH : DEPS_SEV_MEDIUM, name,
                          "", m->file->path, deps_file_line_of(m->file, dep_sections[s], name),
                          tm.target,
                          "%s: looks like the popular package '%s' (%s, distance %u); check the "
                          "name",
                          name, tm.target, deps_typo_technique_name(tm.technique), tm.distance);
            }
        }
    }
    for (size_t i = 0; i < r->n_pkgs; i++) {
        const char *name = r->pkgs[i].name;
        if ((i > 0 && strcmp(r->pkgs[i - 1].name, name) == 0) || is_direct(ctx, name) ||
            deps_typo_check(ctx->c->typo, name, &tm) != 1)
            continue;
        deps_emit(ctx, "L2-TYPO-001",
                  tm.severity == DEPS_TYPO_SEV_HIGH ? DEPS_SEV_HIGH : DEPS_SEV_MEDIUM, name,
                  r->pkgs[i].version, r->pkgs[i].locked ? lock_path(ctx) : r->pkgs[i].location, 0,
                  tm.target,
                  "%s: a transitive dependency that looks like the popular package '%s' (%s, "
                  "distance %u)",
                  name, tm.target, deps_typo_technique_name(tm.technique), tm.distance);
    }
}

/* ------------------------------------------------------------------ settings */

static void override_check(struct deps_scan_ctx *ctx, const char *rule, const char *file,
                           uint32_t line, const char *name, const char *spec)
{
    enum spec_kind k = spec_kind_of(spec);
    char target[256];
    const char *bare = name;

    /* override keys may carry a selector: "foo@1", "a>b", "a@1>b" */
    const char *gt = strrchr(name, '>');
    if (gt)
        bare = gt + 1;
    if (k == SPEC_GIT || k == SPEC_TARBALL || k == SPEC_OTHER)
        deps_emit(ctx, rule, DEPS_SEV_HIGH, bare, "", file, line, "override-source",
                  "%s: an override replaces it with '%.120s', outside the registry; every "
                  "dependent gets that code",
                  name, spec);
    else if (k == SPEC_ALIAS && strncmp(alias_target(spec, target, sizeof(target)), bare,
                                        strcspn(bare, "@") + (bare[0] == '@')) != 0)
        deps_emit(ctx, rule, DEPS_SEV_HIGH, bare, "", file, line, "override-alias",
                  "%s: an override swaps it for another package ('%s')", name, target);
}

static void pnpm_settings_yaml(struct deps_scan_ctx *ctx, const struct deps_yaml_node *doc,
                               const char *file)
{
    const struct deps_yaml_node *n;
    const struct deps_lock *lk = ctx->p->lock;

    if ((n = deps_yaml_get(doc, "dangerouslyAllowAllBuilds")) && n->type == DEPS_YAML_SCALAR &&
        strcmp(n->s, "true") == 0)
        deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_HIGH, "", "", file, n->key_line,
                  "dangerously-allow-all-builds",
                  "dangerouslyAllowAllBuilds: true lets every dependency run install scripts; "
                  "list the few that need it in onlyBuiltDependencies");
    if ((n = deps_yaml_get(doc, "onlyBuiltDependencies")) && n->type == DEPS_YAML_SEQ) {
        for (const struct deps_yaml_node *c = n->child; c; c = c->next) {
            if (c->type != DEPS_YAML_SCALAR)
                continue;
            if (strcmp(c->s, "*") == 0)
                deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_HIGH, "", "", file, c->line,
                          "only-built-star",
                          "onlyBuiltDependencies allows '*': every dependency may run install "
                          "scripts");
            else if (lk && !lock_has_pkg(lk, c->s))
                deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_LOW, c->s, "", file, c->line,
                          "only-built-unused",
                          "%s: allowed to run install scripts but not in %s; a package of that "
                          "name added later would run its scripts unreviewed",
                          c->s, lock_path(ctx));
        }
    }
    if ((n = deps_yaml_get(doc, "overrides")) && n->type == DEPS_YAML_MAP)
        for (const struct deps_yaml_node *c = n->child; c; c = c->next)
            if (c->type == DEPS_YAML_SCALAR)
                override_check(ctx, "L2-PNPM-001", file, c->key_line, c->key, c->s);
    if ((n = deps_yaml_get(doc, "patchedDependencies")) && n->type == DEPS_YAML_MAP)
        for (const struct deps_yaml_node *c = n->child; c; c = c->next)
            deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_LOW, c->key, "", file, c->key_line, "patched",
                      "%s: patched by %.120s; the installed code differs from the published "
                      "package: review the patch",
                      c->key, c->type == DEPS_YAML_SCALAR ? c->s : "a patch file");
}

/* The same settings under "pnpm" in the root package.json. */
static void pnpm_settings_json(struct deps_scan_ctx *ctx, const struct deps_manifest *m)
{
    const struct guard_jv *pn = deps_jv_get(m->obj, "pnpm");
    const struct guard_jv *v;
    const char *file = m->file->path;

    if (!pn)
        return;
    if ((v = deps_jv_get(pn, "dangerouslyAllowAllBuilds")) && guard_jv_bool(v))
        deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_HIGH, "", "", file,
                  deps_file_line_of(m->file, "pnpm", "dangerouslyAllowAllBuilds"),
                  "dangerously-allow-all-builds",
                  "pnpm.dangerouslyAllowAllBuilds lets every dependency run install scripts");
    v = deps_jv_get(pn, "overrides");
    for (size_t i = 0; i < deps_jv_olen(v); i++) {
        const struct guard_jv_member *mem = guard_jv_object_at(v, i);
        const char *spec = deps_jv_s(&mem->value);
        if (spec)
            override_check(ctx, "L2-PNPM-001", file,
                           deps_file_line_of(m->file, "overrides", mem->key), mem->key, spec);
    }
    v = deps_jv_get(pn, "patchedDependencies");
    for (size_t i = 0; i < deps_jv_olen(v); i++) {
        const struct guard_jv_member *mem = guard_jv_object_at(v, i);
        deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_LOW, mem->key, "", file,
                  deps_file_line_of(m->file, "patchedDependencies", mem->key), "patched",
                  "%s: patched by a local file; the installed code differs from the published "
                  "package: review the patch",
                  mem->key);
    }
}

void deps_rule_settings(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    const struct deps_npmrc *rc = &p->npmrc;
    const struct deps_manifest *root = &p->mans[0];

    if (p->pnpm_ws_doc)
        pnpm_settings_yaml(ctx, p->pnpm_ws_doc, p->pnpm_ws->path);
    pnpm_settings_json(ctx, root);
    /* npm "overrides" and yarn "resolutions" */
    static const char *const ovr[] = {"overrides", "resolutions"};
    for (size_t k = 0; k < 2; k++) {
        const struct guard_jv *v = deps_jv_get(root->obj, ovr[k]);
        for (size_t i = 0; i < deps_jv_olen(v); i++) {
            const struct guard_jv_member *mem = guard_jv_object_at(v, i);
            const char *spec = deps_jv_s(&mem->value);
            if (spec)
                override_check(ctx, "L2-SIDELOAD-001", root->file->path,
                               deps_file_line_of(root->file, ovr[k], mem->key), mem->key, spec);
        }
    }
    if (!rc->file)
        return;
    if (rc->strict_ssl == 0)
        deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_HIGH, "", "", rc->file->path, rc->strict_ssl_line,
                  "strict-ssl-off",
                  "strict-ssl=false: registry certificates are not checked, so anyone on the "
                  "path can serve packages; remove it");
    if (rc->unsafe_perm == 1)
        deps_emit(ctx, "L2-PNPM-001", DEPS_SEV_MEDIUM, "", "", rc->file->path, rc->unsafe_perm_line,
                  "unsafe-perm",
                  "unsafe-perm=true: install scripts keep root privileges; remove it");
    for (size_t i = 0; i < rc->n_regs; i++)
        if (starts(rc->regs[i].url, "http://"))
            deps_emit(ctx, "L2-LOCK-001", DEPS_SEV_HIGH, rc->regs[i].scope, "", rc->file->path,
                      rc->regs[i].line, "registry-http",
                      "registry %.120s%s%s is plain http; packages can be swapped in transit: "
                      "use https",
                      rc->regs[i].url, rc->regs[i].scope[0] ? " for " : "", rc->regs[i].scope);
    for (size_t i = 0; i < rc->n_token_lines; i++)
        deps_emit(ctx, "L2-CRED-001", DEPS_SEV_HIGH, "", "", rc->file->path, rc->token_lines[i],
                  "npmrc-token",
                  ".npmrc holds a literal registry credential; anyone with the repository can "
                  "publish as you: use ${NPM_TOKEN} and rotate the token");
}

/* ------------------------------------------------------------------ content */

int deps_content_corpus_load(struct deps_corpus *c, const struct deps_file *f, char *err,
                             size_t errlen)
{
    return deps_content_db_new(f->data, f->len, &c->content, err, errlen);
}

void deps_content_corpus_free(struct deps_corpus *c)
{
    deps_content_db_free(c->content);
}

struct content_ud {
    struct deps_scan_ctx *ctx;
    const char *package, *version, *file;
    uint32_t line; /* script text: the script's line in package.json; files: 0 */
};

static void content_hit(void *ud, const struct deps_content_hit *hit)
{
    struct content_ud *u = ud;
    deps_emit(u->ctx, hit->rule_id, hit->severity, u->package, u->version, u->file,
              u->line ? u->line : hit->line, hit->message, "%s", hit->message);
}

/* Is rel (a path in package m) the target of one of its lifecycle scripts ("node x.js")? */
static bool install_target(const struct deps_manifest *m, const char *rel)
{
    static const char *const hooks[] = {"preinstall", "install", "postinstall"};
    const struct guard_jv *sc = deps_jv_get(m->obj, "scripts");

    for (size_t h = 0; sc && h < 3; h++) {
        const char *cmd = deps_jv_str(sc, hooks[h]);
        const char *hit = cmd ? strstr(cmd, rel) : NULL;
        while (hit) {
            size_t n = strlen(rel);
            bool left = hit == cmd || hit[-1] == ' ' ||
                        (hit[-1] == '/' && hit - 2 >= cmd && hit[-2] == '.');
            if (left && (hit[n] == '\0' || hit[n] == ' ' || hit[n] == ';' || hit[n] == '&'))
                return true;
            hit = strstr(hit + 1, rel);
        }
    }
    return false;
}

/* Files already analysed in this scan, by content. A version installed at several places of
 * the tree (nested copies) holds the same files; their analysis is a pure function of (bytes,
 * path in the package, flags), so the hits of the first copy are replayed for the others
 * rather than recomputed. Bounded: at most one entry per file of the map and MEMO_HIT_BYTES
 * of messages; past that (or without memory) files are simply analysed every time. */
#define MEMO_HIT_BYTES ((size_t)8 << 20)

struct memo_hit {
    const char *rule_id; /* static, from the analysers */
    enum deps_severity sev;
    uint32_t line;
    char *msg;
};

struct memo_ent {
    uint8_t digest[32];
    const char *rel; /* borrowed from the project's file map */
    unsigned flags;
    uint32_t first, n; /* its hits: hits[first .. first + n) */
};

struct content_memo {
    uint32_t *slot; /* open addressing: entry index + 1, 0 empty */
    size_t mask;
    struct memo_ent *ents;
    size_t n_ents, cap_ents;
    struct memo_hit *hits;
    size_t n_hits, cap_hits, msg_bytes;
    bool off;
};

static void memo_init(struct content_memo *m, size_t n_files)
{
    size_t size = 64;
    memset(m, 0, sizeof(*m));
    while (size < n_files + n_files / 2)
        size *= 2;
    m->slot = calloc(size, sizeof(*m->slot));
    m->ents = malloc(n_files ? n_files * sizeof(*m->ents) : sizeof(*m->ents));
    m->mask = size - 1;
    m->cap_ents = n_files;
    m->off = m->slot == NULL || m->ents == NULL || n_files > UINT32_MAX - 1;
}

static void memo_free(struct content_memo *m)
{
    for (size_t i = 0; i < m->n_hits; i++)
        free(m->hits[i].msg);
    free(m->hits);
    free(m->ents);
    free(m->slot);
}

static size_t memo_hash(const uint8_t digest[32], const char *rel, unsigned flags)
{
    uint64_t h;
    memcpy(&h, digest, sizeof(h));
    for (const char *p = rel; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    return (size_t)(h ^ flags);
}

/* The slot of (digest, rel, flags): its entry, or the empty slot where it would go. */
static uint32_t *memo_find(const struct content_memo *m, const uint8_t digest[32], const char *rel,
                           unsigned flags)
{
    for (size_t i = memo_hash(digest, rel, flags) & m->mask;; i = (i + 1) & m->mask) {
        const struct memo_ent *e = m->slot[i] ? &m->ents[m->slot[i] - 1] : NULL;
        if (e == NULL ||
            (e->flags == flags && memcmp(e->digest, digest, 32) == 0 && strcmp(e->rel, rel) == 0))
            return &m->slot[i];
    }
}

/* A hit of a file being analysed, kept for its copies. false when the memo is full. */
static bool memo_push(struct content_memo *m, const struct deps_content_hit *hit)
{
    size_t k = strlen(hit->message) + 1;
    if (m->msg_bytes + k > MEMO_HIT_BYTES)
        return false;
    if (m->n_hits == m->cap_hits) {
        size_t nc = m->cap_hits ? m->cap_hits * 2 : 64;
        struct memo_hit *nh = realloc(m->hits, nc * sizeof(*nh));
        if (nh == NULL)
            return false;
        m->hits = nh;
        m->cap_hits = nc;
    }
    char *msg = malloc(k);
    if (msg == NULL)
        return false;
    memcpy(msg, hit->message, k);
    m->hits[m->n_hits++] = (struct memo_hit){hit->rule_id, hit->severity, hit->line, msg};
    m->msg_bytes += k;
    return true;
}

struct content_rec {
    struct content_ud *u;
    struct content_memo *memo;
    bool ok; /* every hit was kept */
};

static void content_hit_rec(void *ud, const struct deps_content_hit *hit)
{
    struct content_rec *r = ud;
    content_hit(r->u, hit);
    if (r->ok && !memo_push(r->memo, hit))
        r->ok = false;
}

/* Analyse one file's bytes (digest: their SHA-256, or NULL when the corpus gives no hash
 * function), through the memo when there is a digest. */
static int content_file(struct content_memo *memo, const struct deps_content_db *db,
                        const char *rel, const char *data, size_t len, unsigned flags,
                        const uint8_t *digest, struct content_ud *u)
{
    if (digest == NULL || memo->off)
        return deps_content_scan(db, rel, data, len, flags, content_hit, u);
    uint32_t *slot = memo_find(memo, digest, rel, flags);
    if (*slot) {
        const struct memo_ent *e = &memo->ents[*slot - 1];
        for (uint32_t i = 0; i < e->n; i++) {
            const struct memo_hit *h = &memo->hits[e->first + i];
            struct deps_content_hit hit = {
                .rule_id = h->rule_id, .severity = h->sev, .line = h->line, .message = h->msg};
            content_hit(u, &hit);
        }
        return 0;
    }
    size_t first = memo->n_hits;
    struct content_rec rec = {u, memo, true};
    int rc = deps_content_scan(db, rel, data, len, flags, content_hit_rec, &rec);
    if (rc == 0 && rec.ok && memo->n_ents < memo->cap_ents) {
        struct memo_ent *e = &memo->ents[memo->n_ents++];
        memcpy(e->digest, digest, 32);
        e->rel = rel;
        e->flags = flags;
        e->first = (uint32_t)first;
        e->n = (uint32_t)(memo->n_hits - first);
        *slot = (uint32_t)memo->n_ents;
    } else { /* not kept: its hits go */
        while (memo->n_hits > first) {
            struct memo_hit *h = &memo->hits[--memo->n_hits];
            memo->msg_bytes -= strlen(h->msg) + 1;
            free(h->msg);
        }
    }
    return rc;
}

/* Whether the content rules read f: 1 (with its package, its path in it and the scan flags),
 * 0 when it belongs to no installed package, -1 for a kind never read (deps_content_unread)
 * that no lifecycle script runs. */
static int content_target(const struct deps_project *p, const struct deps_file *f,
                          const struct deps_manifest **m, const char **rel, unsigned *flags)
{
    *m = deps_project_owner(p, f->path);
    if (!*m || !(*m)->obj)
        return 0;
    *rel = f->path + strlen((*m)->dir) + 1;
    *flags = install_target(*m, *rel) ? DEPS_CONTENT_INSTALL_TIME : 0;
    if (!(*flags & DEPS_CONTENT_INSTALL_TIME) && deps_content_unread(*rel, strlen(*rel)))
        return -1;
    return 1;
}

/* Files named to the source ahead of their reads (deps_file_source.will_read). */
#define CONTENT_AHEAD 16
/* Files read before they are hashed and analysed, when the source keeps several reads: their
 * digests are computed together (deps_corpus.sha256_many), which is faster where the CPU
 * hashes several buffers side by side. At most this many files and bytes (a larger file
 * makes a batch of its own; a source may group large files: deps_file_source.batch): from 4
 * to 16 MiB a scan took the same time; at 1 MiB the lanes were less often full, at 32 MiB the
 * files had left the cache before they were lexed. */
#define CONTENT_BATCH       512
#define CONTENT_BATCH_BYTES ((size_t)8 << 20)

/* A batch of files to analyse: each one's owner, path in it and scan flags, and its bytes. */
struct content_batch {
    size_t n;
    struct {
        const struct deps_file *f;
        const struct deps_manifest *m;
        const char *rel;
        unsigned flags;
    } e[CONTENT_BATCH];
    const void *data[CONTENT_BATCH];
    size_t len[CONTENT_BATCH];
    uint8_t digest[CONTENT_BATCH][32];
};

/* The lifecycle scripts of a package's manifest, as script text. */
static void content_scripts(struct deps_scan_ctx *ctx, const struct deps_file *f,
                            const struct deps_manifest *m, struct content_ud *u)
{
    static const char *const hooks[] = {"preinstall", "install", "postinstall", "prepare",
                                        "prepack"};
    const struct guard_jv *sc = deps_jv_get(m->obj, "scripts");

    for (size_t h = 0; h < 5; h++) {
        const char *cmd = deps_jv_str(sc, hooks[h]);
        u->line = cmd ? deps_file_line_of(f, "scripts", hooks[h]) : 0;
        if (cmd && deps_content_scan(ctx->c->content, "package.json", cmd, strlen(cmd),
                                     DEPS_CONTENT_SCRIPT_TEXT | DEPS_CONTENT_INSTALL_TIME,
                                     content_hit, u) < 0)
            ctx->rc = -ENOMEM;
    }
}

/* Hash and analyse the files of a batch, in its order. */
static void content_batch_run(struct deps_scan_ctx *ctx, struct content_memo *memo,
                              struct content_batch *b)
{
    const struct deps_corpus *c = ctx->c;

    if (c->sha256 && c->sha256_many)
        c->sha256_many(b->n, b->data, b->len, b->digest);
    else if (c->sha256)
        for (size_t k = 0; k < b->n; k++)
            c->sha256(b->data[k], b->len[k], b->digest[k]);
    for (size_t k = 0; k < b->n && ctx->rc == 0; k++) {
        const struct deps_manifest *m = b->e[k].m;
        const char *rel = b->e[k].rel;
        struct content_ud u = {ctx, m->name[0] ? m->name : m->dir_name, m->version, b->e[k].f->path,
                               0};
        if (content_file(memo, c->content, rel, b->data[k], b->len[k], b->e[k].flags,
                         c->sha256 ? b->digest[k] : NULL, &u) < 0)
            ctx->rc = -ENOMEM;
        if (c->sha256)
            deps_content_scan_sha256(c->content, rel, b->digest[k], content_hit, &u);
        if (strcmp(rel, "package.json") == 0)
            content_scripts(ctx, b->e[k].f, m, &u);
    }
    b->n = 0;
}

/* The next batch of the source; one file at a time from now on should it have no room. */
static void content_rebatch(const struct deps_file_source *src, bool *batched, size_t *batch_max)
{
    if (src->batch(src->ctx, CONTENT_BATCH_BYTES) < 0) {
        *batched = false;
        *batch_max = 1;
    }
}

/* scan_content: every file of every installed package, and every lifecycle script text. */
void deps_rule_content(struct deps_scan_ctx *ctx)
{
    const struct deps_project *p = ctx->p;
    const struct deps_file_source *src = p->source;
    struct content_memo memo;
    struct content_batch *b;

    if (!ctx->c->content)
        return;
    ctx->r->content_analysed = true;
    b = malloc(sizeof(*b));
    if (b == NULL) {
        ctx->rc = -ENOMEM;
        return;
    }
    b->n = 0;
    memo_init(&memo, p->n_files);
    /* Batches are for the digests: without a hash function, one file at a time. Without a
     * source every file is in memory and batched as it is; with one, only when it keeps
     * several reads (batch). */
    bool batched =
        ctx->c->sha256 && src && src->batch && src->batch(src->ctx, CONTENT_BATCH_BYTES) == 0;
    size_t batch_max = ctx->c->sha256 && (src == NULL || batched) ? CONTENT_BATCH : 1;
    /* files before `hinted` were named to the source ahead (will_read); `ahead` of them are
     * still to be read */
    size_t hinted = 0, ahead = 0;
    for (size_t i = 0; i < p->n_files && ctx->rc == 0;) {
        const struct deps_file *f = &p->files[i];
        const struct deps_manifest *m;
        const char *rel;
        unsigned flags;
        int what = content_target(p, f, &m, &rel, &flags);
        if (what <= 0) {
            if (what < 0)
                ctx->r->files_not_read++; /* never run unless loaded by name: see content.h */
            i++;
            continue;
        }
        /* the source may read ahead: keep the next CONTENT_AHEAD files this loop will read
         * named to it */
        bool hints = src && src->will_read && src->will_read(src->ctx, NULL);
        for (; hints && ahead < CONTENT_AHEAD && hinted < p->n_files; hinted++) {
            const struct deps_file *g = &p->files[hinted];
            const struct deps_manifest *gm;
            const char *grel;
            unsigned gflags;
            if (hinted <= i || g->data != NULL || g->len == 0 ||
                content_target(p, g, &gm, &grel, &gflags) <= 0)
                continue;
            src->will_read(src->ctx, g);
            ahead++;
        }
        const char *data = f->data;
        size_t len = f->len;
        if (data == NULL && len > 0) {
            int rc = src ? src->read(src->ctx, f, &data, &len) : -ENOENT;
            if (rc == -ENOBUFS && b->n > 0) { /* the batch is full: f begins the next */
                content_batch_run(ctx, &memo, b);
                content_rebatch(src, &batched, &batch_max);
                continue;
            }
            if (i < hinted && ahead > 0)
                ahead--; /* named ahead: its read came */
            if (rc < 0) {
                ctx->r->files_skipped++; /* unreadable now (gone, or no source): not analysed */
                i++;
                continue;
            }
        }
        b->e[b->n].f = f;
        b->e[b->n].m = m;
        b->e[b->n].rel = rel;
        b->e[b->n].flags = flags;
        b->data[b->n] = data ? data : ""; /* an empty file left out of the map */
        b->len[b->n++] = len;
        i++;
        /* While the source reads ahead (a tree not in the page cache), a batch is no longer
         * than the files named ahead: its analysis is then the time the disk has to fetch the
         * next one's. */
        if (b->n >= (hints && batch_max > CONTENT_AHEAD ? CONTENT_AHEAD : batch_max)) {
            content_batch_run(ctx, &memo, b);
            if (batched)
                content_rebatch(src, &batched, &batch_max);
        }
    }
    if (ctx->rc == 0)
        content_batch_run(ctx, &memo, b);
    if (batched)
        src->batch(src->ctx, 0);
    memo_free(&memo);
    free(b);
}

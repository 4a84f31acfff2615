/* pnpm-lock.yaml: lockfileVersion 5.x (/name/ver_peer), 6.x (/name@ver(peer)), 9.x (snapshots). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/lock_int.h"
#include "guards/deps/yaml.h"

struct pnpm {
    struct deps_ctx *ctx;
    int major; /* 5, 6 or 9 */
};

static bool pnpm_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A package name: no '/' unless scoped, then exactly one. */
static bool pnpm_name_ok(const char *s, size_t n)
{
    size_t i, slashes = 0;

    for (i = 0; i < n; i++)
        slashes += s[i] == '/';
    return s[0] == '@' ? slashes == 1 : slashes == 0;
}

/* A key split into name and version. Returns 0 for a registry-style key, 1 for a key whose
 * version is a spec (tarball, git, file:, a path without version), -1 when it names nothing. */
static int pnpm_split_key(const struct pnpm *pn, const char *key, size_t len, const char **name,
                          size_t *nlen, const char **ver, size_t *vlen)
{
    const char *rest, *slash, *seg;
    size_t rlen, k;

    *name = key;
    *nlen = len;
    *ver = "";
    *vlen = 0;
    if (pn->major >= 9) {
        k = deps_spec_name_len(key, len);
        if (k == len || k == 0)
            return -1;
        *name = key;
        *nlen = k;
        *ver = key + k + 1;
        *vlen = len - k - 1;
        for (k = 0; k < *vlen; k++)
            if ((*ver)[k] == '(')
                break;
        if (pnpm_digit(**ver) && k < *vlen)
            *vlen = k;
        return *vlen && pnpm_digit(**ver) ? 0 : 1;
    }
    if (strncmp(key, "file:", 5) == 0 || strncmp(key, "link:", 5) == 0)
        return 1;
    slash = memchr(key, '/', len);
    if (slash == NULL)
        return -1;
    rest = slash + 1;
    rlen = len - (size_t)(rest - key);
    if (pn->major >= 6) { /* /name@version(peers) */
        k = deps_spec_name_len(rest, rlen);
        if (k < rlen && k > 0 && pnpm_name_ok(rest, k)) {
            *name = rest;
            *nlen = k;
            *ver = rest + k + 1;
            *vlen = rlen - k - 1;
            for (k = 0; k < *vlen && (*ver)[k] != '('; k++)
                ;
            *vlen = k;
            return *vlen && pnpm_digit(**ver) ? 0 : 1;
        }
    }
    /* /name/version_peers, /@scope/name/version_peers (also host/name/version) */
    seg = rest;
    slash = memchr(seg, '/', rlen);
    if (rest[0] == '@' && slash)
        slash = memchr(slash + 1, '/', rlen - (size_t)(slash + 1 - rest));
    if (slash == NULL) {
        *name = rest;
        *nlen = rlen;
        return 1;
    }
    *name = rest;
    *nlen = (size_t)(slash - rest);
    *ver = slash + 1;
    *vlen = rlen - *nlen - 1;
    for (k = 0; k < *vlen && (*ver)[k] != '_' && (*ver)[k] != '/' && (*ver)[k] != '('; k++)
        ;
    *vlen = k;
    return *vlen && pnpm_digit(**ver) ? 0 : 1;
}

/* What a spec key points at before its resolution says more: v5/v6 keys are paths such as
 * github.com/owner/repo/sha or /name/tag, not URLs, so only known hosts and protocols count. */
static enum deps_res_kind pnpm_key_kind(const char *k)
{
    if (strncmp(k, "github.com/", 11) == 0 || strncmp(k, "gitlab.com/", 11) == 0 ||
        strncmp(k, "bitbucket.org/", 14) == 0)
        return DEPS_RES_HOSTED;
    if (k[0] == '/' || strncmp(k, "registry.", 9) == 0)
        return DEPS_RES_OTHER;
    return deps_res_kind_of(k, strlen(k));
}

static bool pnpm_true(const struct deps_yaml_node *map, const char *key)
{
    const char *s = deps_yaml_get_str(map, key);

    return s && strcmp(s, "true") == 0;
}

/* resolution: {integrity}, {tarball}, {type: git, repo, commit}, {type: directory}, ... */
static void pnpm_resolution(struct pnpm *pn, struct deps_pkg *p, const struct deps_yaml_node *e,
                            bool registry_key)
{
    struct deps_ctx *ctx = pn->ctx;
    const struct deps_yaml_node *r = deps_yaml_get(e, "resolution");
    const char *s, *type, *repo, *commit;
    size_t n;
    char *b;

    if (r == NULL || r->type != DEPS_YAML_MAP) {
        if (registry_key)
            p->res_kind = DEPS_RES_REGISTRY;
        return;
    }
    s = deps_yaml_get_str(r, "integrity");
    if (s)
        p->integrity = s;
    type = deps_yaml_get_str(r, "type");
    s = deps_yaml_get_str(r, "tarball");
    if (s) {
        p->resolved = s;
        /* pnpm writes a tarball only off the default registry: classify by the URL */
        p->res_kind = deps_res_kind_of(s, strlen(s));
        return;
    }
    if (type && strcmp(type, "git") == 0) {
        repo = deps_yaml_get_str(r, "repo");
        commit = deps_yaml_get_str(r, "commit");
        if (repo) {
            n = strlen(repo) + (commit ? strlen(commit) + 1 : 0);
            b = n <= ctx->lim.max_string ? deps_arena_alloc(ctx->lock->arena, n + 1) : NULL;
            if (b == NULL) {
                deps_ctx_fail(ctx, n > ctx->lim.max_string ? -E2BIG : -ENOMEM, r->line, 0,
                              "git resolution too long");
                return;
            }
            memcpy(b, repo, strlen(repo));
            if (commit) {
                b[strlen(repo)] = '#';
                memcpy(b + strlen(repo) + 1, commit, strlen(commit));
            }
            p->resolved = b;
        }
        p->res_kind = DEPS_RES_GIT;
        return;
    }
    if (type && strcmp(type, "directory") == 0) {
        p->resolved = deps_yaml_get_str(r, "directory");
        p->res_kind = DEPS_RES_FILE;
        return;
    }
    if (type) {
        p->res_kind = DEPS_RES_OTHER;
        return;
    }
    if (registry_key)
        p->res_kind = DEPS_RES_REGISTRY;
}

static int pnpm_packages(struct pnpm *pn, const struct deps_yaml_node *pkgs, size_t *first)
{
    struct deps_ctx *ctx = pn->ctx;
    const struct deps_yaml_node *e;
    const char *name, *ver, *fname, *fver;
    size_t nlen, vlen;
    struct deps_pkg *p;
    int kind;

    *first = ctx->lock->n_pkgs;
    if (pkgs == NULL || pkgs->type == DEPS_YAML_NULL)
        return 0;
    if (pkgs->type != DEPS_YAML_MAP)
        return deps_ctx_fail(ctx, -EBADMSG, pkgs->line, pkgs->col, "\"packages\" is not a mapping");
    for (e = pkgs->child; e && ctx->rc == 0; e = e->next) {
        if (e->type != DEPS_YAML_MAP && e->type != DEPS_YAML_NULL)
            return deps_ctx_fail(ctx, -EBADMSG, e->line, e->col, "package \"%s\" is not a mapping",
                                 e->key);
        kind = pnpm_split_key(pn, e->key, e->key_len, &name, &nlen, &ver, &vlen);
        if (kind < 0)
            return deps_ctx_fail(ctx, -EBADMSG, e->key_line, e->key_col,
                                 "package key \"%.*s\" names no package (expected %s); "
                                 "regenerate the lockfile with `pnpm install`",
                                 (int)(e->key_len > 80 ? 80 : e->key_len), e->key,
                                 pn->major >= 9   ? "name@version"
                                 : pn->major >= 6 ? "/name@version"
                                                  : "/name/version");
        p = deps_ctx_pkg(ctx, e->key_line);
        if (p == NULL)
            break;
        p->location = e->key;
        fname = deps_yaml_get_str(e, "name");
        fver = deps_yaml_get_str(e, "version");
        if (kind == 0) {
            p->name = deps_ctx_str(ctx, name, nlen, e->key_line);
            p->version = deps_ctx_str(ctx, ver, vlen, e->key_line);
        } else {
            /* A spec key: the entry says what it is; the key is the spec. */
            p->name = fname ? fname
                      : (pn->major >= 9 && nlen < e->key_len)
                          ? deps_ctx_str(ctx, name, nlen, e->key_line)
                          : e->key;
            p->version = fver ? fver : "";
            if (pn->major >= 9 && nlen < e->key_len)
                p->resolved =
                    deps_ctx_str(ctx, e->key + nlen + 1, e->key_len - nlen - 1, e->key_line);
            else
                p->resolved = e->key;
            p->res_kind = pnpm_key_kind(p->resolved);
        }
        if (p->name == NULL || p->version == NULL)
            break;
        if (pnpm_true(e, "dev"))
            p->flags |= DEPS_PKG_F_DEV;
        if (pnpm_true(e, "optional"))
            p->flags |= DEPS_PKG_F_OPTIONAL;
        if (pnpm_true(e, "requiresBuild"))
            p->flags |= DEPS_PKG_F_INSTALL_SCRIPT;
        if (pnpm_true(e, "hasBin"))
            p->flags |= DEPS_PKG_F_HAS_BIN;
        pnpm_resolution(pn, p, e, kind == 0);
        if (p->res_kind == DEPS_RES_NONE && p->resolved == NULL && kind == 0)
            p->res_kind = DEPS_RES_REGISTRY;
        if (p->resolved && strncmp(p->resolved, "link:", 5) == 0)
            p->flags |= DEPS_PKG_F_LINK;
    }
    return ctx->rc;
}

static int pnpm_loc_cmp(const void *a, const void *b)
{
    const struct deps_pkg *x = *(const struct deps_pkg *const *)a;
    const struct deps_pkg *y = *(const struct deps_pkg *const *)b;

    return strcmp(x->location, y->location);
}

/* v9: a package is optional when every snapshot of it says so. */
static int pnpm_snapshots(struct pnpm *pn, const struct deps_yaml_node *snaps, size_t first)
{
    struct deps_ctx *ctx = pn->ctx;
    struct deps_lock *lk = ctx->lock;
    size_t n = lk->n_pkgs - first, i, k;
    const struct deps_yaml_node *s;
    struct deps_pkg **idx, key, *kp = &key, **hit;
    unsigned char *state; /* bit 0: seen optional, bit 1: seen required */
    char *base;

    if (snaps == NULL || snaps->type != DEPS_YAML_MAP || n == 0)
        return 0;
    idx = malloc(n * sizeof(*idx));
    state = calloc(n, 1);
    if (idx == NULL || state == NULL) {
        free(idx);
        free(state);
        return deps_ctx_fail(ctx, -ENOMEM, 0, 0, "out of memory");
    }
    for (i = 0; i < n; i++)
        idx[i] = &lk->pkgs[first + i];
    qsort(idx, n, sizeof(*idx), pnpm_loc_cmp);
    for (s = snaps->child; s; s = s->next) {
        for (k = 0; k < s->key_len && s->key[k] != '('; k++)
            ;
        /* the key of the package: the snapshot key without its peer suffix */
        base = deps_arena_strndup(lk->arena, s->key, k);
        if (base == NULL)
            break;
        key.location = base;
        hit = bsearch(&kp, idx, n, sizeof(*idx), pnpm_loc_cmp);
        if (hit == NULL)
            continue;
        state[hit - idx] |= pnpm_true(s, "optional") ? 1 : 2;
    }
    for (i = 0; i < n; i++)
        if (state[i] == 1)
            idx[i]->flags |= DEPS_PKG_F_OPTIONAL;
    free(idx);
    free(state);
    return ctx->rc;
}

static enum deps_dep_kind pnpm_group(const char *key)
{
    if (strcmp(key, "dependencies") == 0)
        return DEPS_DEP_PROD;
    if (strcmp(key, "devDependencies") == 0)
        return DEPS_DEP_DEV;
    if (strcmp(key, "optionalDependencies") == 0)
        return DEPS_DEP_OPTIONAL;
    if (strcmp(key, "configDependencies") == 0 || strcmp(key, "packageManagerDependencies") == 0)
        return DEPS_DEP_OTHER;
    return DEPS_DEP_UNSPECIFIED;
}

/* One importer: v5 {specifiers, dependencies: {name: version}}, v6/v9 {dependencies:
 * {name: {specifier, version}}}. */
static int pnpm_importer(struct pnpm *pn, const char *importer, const struct deps_yaml_node *imp)
{
    struct deps_ctx *ctx = pn->ctx;
    const struct deps_yaml_node *specs = deps_yaml_get(imp, "specifiers"), *g, *d;
    enum deps_dep_kind kind;
    struct deps_dep *dep;
    const char *spec;

    if (imp == NULL || imp->type != DEPS_YAML_MAP)
        return 0;
    for (g = imp->child; g && ctx->rc == 0; g = g->next) {
        kind = pnpm_group(g->key);
        if (kind == DEPS_DEP_UNSPECIFIED || g->type != DEPS_YAML_MAP)
            continue;
        for (d = g->child; d; d = d->next) {
            dep = deps_ctx_dep(ctx, d->key_line);
            if (dep == NULL)
                break;
            dep->importer = importer;
            dep->name = d->key;
            dep->kind = kind;
            if (d->type == DEPS_YAML_MAP) {
                spec = deps_yaml_get_str(d, "specifier");
                dep->version = deps_yaml_get_str(d, "version");
            } else {
                spec = deps_yaml_get_str(specs, d->key);
                dep->version = d->type == DEPS_YAML_SCALAR ? d->s : NULL;
            }
            dep->spec = spec ? spec : "";
        }
    }
    return ctx->rc;
}

/* "5.4", "6.0", "9.0", 5.3: major 5, 6 or 9 with an optional minor. */
static int pnpm_version(struct pnpm *pn, const struct deps_yaml_node *v)
{
    struct deps_ctx *ctx = pn->ctx;
    const char *s = v->type == DEPS_YAML_SCALAR ? v->s : "";
    size_t i = 0;
    int major = 0;

    while (pnpm_digit(s[i]) && i < 4)
        major = major * 10 + (s[i++] - '0');
    if (i > 0 && s[i] == '.' && pnpm_digit(s[i + 1]))
        for (i++; pnpm_digit(s[i]); i++)
            ;
    if (i == 0 || s[i] != '\0' || (major != 5 && major != 6 && major != 9))
        return deps_ctx_fail(ctx, -ENOTSUP, v->line, v->col,
                             "lockfileVersion %.32s is not supported (supported: 5.x, 6.x, 9.x); "
                             "run `pnpm install` with pnpm 7 or later to rewrite it",
                             v->type == DEPS_YAML_SCALAR ? s : "(not a scalar)");
    pn->major = major;
    ctx->lock->version = s;
    return 0;
}

static int pnpm_doc(struct pnpm *pn, const struct deps_yaml_node *doc)
{
    struct deps_ctx *ctx = pn->ctx;
    const struct deps_yaml_node *v, *imps, *imp;
    size_t first;

    if (doc->type != DEPS_YAML_MAP)
        return deps_ctx_fail(ctx, -EBADMSG, doc->line, doc->col,
                             "not a YAML mapping; a pnpm lockfile starts with `lockfileVersion:`");
    v = deps_yaml_get(doc, "lockfileVersion");
    if (v == NULL) {
        v = deps_yaml_get(doc, "version");
        if (v)
            return deps_ctx_fail(ctx, -ENOTSUP, v->key_line, v->key_col,
                                 "the legacy `version: %.16s` key (pnpm 1 and 2) is not supported "
                                 "(supported lockfileVersion: 5.x, 6.x, 9.x); run `pnpm install` "
                                 "with a current pnpm to rewrite it",
                                 v->type == DEPS_YAML_SCALAR ? v->s : "?");
        return deps_ctx_fail(ctx, -EBADMSG, doc->line, doc->col,
                             "no lockfileVersion key; is this a pnpm lockfile?");
    }
    if (pnpm_version(pn, v))
        return ctx->rc;
    if (pnpm_packages(pn, deps_yaml_get(doc, "packages"), &first))
        return ctx->rc;
    if (pn->major >= 9 && pnpm_snapshots(pn, deps_yaml_get(doc, "snapshots"), first))
        return ctx->rc;
    imps = deps_yaml_get(doc, "importers");
    if (imps && imps->type == DEPS_YAML_MAP) {
        for (imp = imps->child; imp && ctx->rc == 0; imp = imp->next)
            pnpm_importer(pn, imp->key, imp);
    } else {
        pnpm_importer(pn, ".", doc);
    }
    return ctx->rc;
}

int deps_lock_parse_pnpm(struct deps_ctx *ctx)
{
    struct deps_yaml_node *docs, *d;
    struct pnpm pn = {.ctx = ctx};

    if (deps_yaml_load(ctx, &docs))
        return ctx->rc;
    /* pnpm 10+ may put an environment lockfile (config and package-manager dependencies)
     * before the project's own as a first document: read both. */
    for (d = docs; d && ctx->rc == 0; d = d->next)
        pnpm_doc(&pn, d);
    return ctx->rc;
}

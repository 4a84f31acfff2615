/* package-lock.json and npm-shrinkwrap.json, lockfileVersion 1 (nested), 2 and 3 (packages). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/lock_int.h"
#include "guards/json.h"
#include "guards/json_value.h"

/* The DOM keeps no positions, so a second tokenizer pass records where every key starts.
 * Keys come out of both in document order: the k-th key met in a pre-order walk of the DOM
 * is the k-th KEY token. */
struct npm {
    struct deps_ctx *ctx;
    size_t *koff; /* byte offset of each key, in document order */
    size_t nkeys;
};

static uint32_t npm_line(struct npm *n, size_t k)
{
    return deps_ctx_line_at(n->ctx, k < n->nkeys ? n->koff[k] : n->ctx->len);
}

/* Keys inside v (its members and everything below them). */
static size_t npm_keys(const struct guard_jv *v)
{
    size_t i, k = 0;

    if (v->type == GUARD_JV_OBJECT) {
        for (i = 0; i < v->n; i++)
            k += 1 + npm_keys(&guard_jv_object_at(v, i)->value);
    } else if (v->type == GUARD_JV_ARRAY) {
        for (i = 0; i < v->n; i++)
            k += npm_keys(guard_jv_array_at(v, i));
    }
    return k;
}

static int npm_key_offsets(struct npm *n)
{
    struct guard_json_limits jlim = {.max_depth = n->ctx->lim.max_depth,
                                     .max_key = GUARD_JV_MAX_KEY,
                                     .max_number = GUARD_JV_MAX_NUMBER};
    struct guard_json_event ev;
    struct guard_json *js = malloc(sizeof(*js));
    size_t cap = 0, *v;
    int rc;

    if (js == NULL)
        return deps_ctx_fail(n->ctx, -ENOMEM, 0, 0, "out of memory");
    rc = guard_json_init(js, &jlim);
    if (rc == 0) {
        guard_json_feed(js, n->ctx->buf, n->ctx->len, true);
        while ((rc = guard_json_next(js, &ev)) == 1) {
            if (ev.tok != GUARD_JSON_KEY)
                continue;
            if (n->nkeys == cap) {
                cap = cap ? cap * 2 : 1024;
                v = realloc(n->koff, cap * sizeof(*v));
                if (v == NULL) {
                    rc = -ENOMEM;
                    break;
                }
                n->koff = v;
            }
            n->koff[n->nkeys++] = (size_t)ev.offset;
        }
    }
    free(js);
    if (rc == -ENOMEM)
        return deps_ctx_fail(n->ctx, -ENOMEM, 0, 0, "out of memory");
    return 0; /* the DOM parse already accepted the text */
}

/* A string member of obj copied into the result, or NULL (absent, not a string, error). */
static const char *npm_str(struct npm *n, const struct guard_jv *obj, const char *key,
                           uint32_t line)
{
    const struct guard_jv *v = guard_jv_object_get(obj, key, strlen(key));
    const char *s;
    size_t len;

    if (v == NULL || v->type != GUARD_JV_STRING)
        return NULL;
    s = guard_jv_string(v, &len);
    return deps_ctx_str(n->ctx, s, len, line);
}

static bool npm_true(const struct guard_jv *obj, const char *key)
{
    const struct guard_jv *v = guard_jv_object_get(obj, key, strlen(key));

    return v && v->type == GUARD_JV_BOOL && v->u.b;
}

static enum deps_dep_kind npm_dep_kind(const char *key, size_t len)
{
    static const struct {
        const char *key;
        enum deps_dep_kind kind;
    } groups[] = {{"dependencies", DEPS_DEP_PROD},
                  {"devDependencies", DEPS_DEP_DEV},
                  {"optionalDependencies", DEPS_DEP_OPTIONAL},
                  {"peerDependencies", DEPS_DEP_PEER}};
    size_t i;

    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (strlen(groups[i].key) == len && memcmp(groups[i].key, key, len) == 0)
            return groups[i].kind;
    return DEPS_DEP_UNSPECIFIED;
}

/* The dependency groups of a project entry (key index k0 of its first member). */
static void npm_project_deps(struct npm *n, const char *importer, const struct guard_jv *e,
                             size_t k0)
{
    const struct guard_jv_member *g, *d;
    enum deps_dep_kind kind;
    struct deps_dep *dep;
    size_t i, j, k = k0, kk;
    uint32_t line;

    for (i = 0; i < e->n && n->ctx->rc == 0; i++) {
        g = guard_jv_object_at(e, i);
        kind = npm_dep_kind(g->key, g->key_len);
        if (kind != DEPS_DEP_UNSPECIFIED && g->value.type == GUARD_JV_OBJECT) {
            kk = k + 1;
            for (j = 0; j < g->value.n && n->ctx->rc == 0; j++) {
                d = guard_jv_object_at(&g->value, j);
                line = npm_line(n, kk);
                kk += 1 + npm_keys(&d->value);
                dep = deps_ctx_dep(n->ctx, line);
                if (dep == NULL)
                    break;
                dep->kind = kind;
                dep->importer = importer;
                dep->name = deps_ctx_str(n->ctx, d->key, d->key_len, line);
                if (d->value.type == GUARD_JV_STRING)
                    dep->spec = deps_ctx_str(n->ctx, d->value.u.str.s, d->value.u.str.len, line);
                if (dep->name == NULL || dep->spec == NULL)
                    break;
            }
        }
        k += 1 + npm_keys(&g->value);
    }
}

static const char *npm_after_last_nm(const char *key, size_t len, size_t *name_len)
{
    static const char nm[] = "node_modules/";
    const char *best = NULL;
    size_t i;

    for (i = 0; i + sizeof(nm) - 1 <= len; i++)
        if (memcmp(key + i, nm, sizeof(nm) - 1) == 0 && (i == 0 || key[i - 1] == '/'))
            best = key + i + sizeof(nm) - 1;
    if (best)
        *name_len = len - (size_t)(best - key);
    return best;
}

/* lockfileVersion 2 and 3: "packages" keyed by install path ("" is the root project). */
static int npm_packages(struct npm *n, const struct guard_jv *pkgs, size_t k0)
{
    const struct guard_jv_member *m;
    const struct guard_jv *e;
    struct deps_pkg *p;
    const char *inst, *loc, *name;
    size_t i, k = k0, inst_len = 0;
    uint32_t line, flags;

    for (i = 0; i < pkgs->n && n->ctx->rc == 0; i++, k += 1 + npm_keys(&m->value)) {
        m = guard_jv_object_at(pkgs, i);
        e = &m->value;
        line = npm_line(n, k);
        if (e->type != GUARD_JV_OBJECT)
            return deps_ctx_fail(n->ctx, -EBADMSG, line, 0,
                                 "packages entry \"%.*s\" is not an object", (int)m->key_len,
                                 m->key);
        if (m->key_len == 0) {
            npm_project_deps(n, ".", e, k + 1);
            continue;
        }
        loc = deps_ctx_str(n->ctx, m->key, m->key_len, line);
        if (loc == NULL)
            break;
        inst = npm_after_last_nm(m->key, m->key_len, &inst_len);
        flags = 0;
        if (inst == NULL) { /* a workspace folder (or a link target outside node_modules) */
            flags |= DEPS_PKG_F_WORKSPACE;
            npm_project_deps(n, loc, e, k + 1);
        }
        if (npm_true(e, "dev"))
            flags |= DEPS_PKG_F_DEV;
        if (npm_true(e, "optional"))
            flags |= DEPS_PKG_F_OPTIONAL;
        if (npm_true(e, "devOptional"))
            flags |= DEPS_PKG_F_DEV_OPTIONAL;
        if (npm_true(e, "peer"))
            flags |= DEPS_PKG_F_PEER;
        if (npm_true(e, "inBundle"))
            flags |= DEPS_PKG_F_BUNDLED;
        if (npm_true(e, "link"))
            flags |= DEPS_PKG_F_LINK;
        if (npm_true(e, "hasInstallScript"))
            flags |= DEPS_PKG_F_INSTALL_SCRIPT;
        if (npm_true(e, "extraneous"))
            flags |= DEPS_PKG_F_EXTRANEOUS;
        if (guard_jv_object_get(e, "bin", 3))
            flags |= DEPS_PKG_F_HAS_BIN;
        name = npm_str(n, e, "name", line);
        p = deps_ctx_pkg(n->ctx, line);
        if (p == NULL)
            break;
        p->location = loc;
        p->flags = flags;
        if (inst && name && (strlen(name) != inst_len || memcmp(name, inst, inst_len) != 0))
            p->alias = deps_ctx_str(n->ctx, inst, inst_len, line);
        if (name == NULL)
            name = inst ? deps_ctx_str(n->ctx, inst, inst_len, line) : loc;
        p->name = name ? name : "";
        p->version = npm_str(n, e, "version", line);
        if (p->version == NULL)
            p->version = "";
        p->resolved = npm_str(n, e, "resolved", line);
        p->integrity = npm_str(n, e, "integrity", line);
        if (flags & DEPS_PKG_F_LINK)
            p->res_kind = DEPS_RES_LINK;
        else if ((flags & DEPS_PKG_F_WORKSPACE) && p->resolved == NULL)
            p->res_kind = DEPS_RES_WORKSPACE;
    }
    return n->ctx->rc;
}

/* A version that is a URL or spec rather than a version (git, file, tarball). */
static bool npm_version_is_spec(const char *v)
{
    return strchr(v, ':') != NULL || strchr(v, '/') != NULL;
}

/* lockfileVersion 1: "dependencies" nested by install location. k0: key index of the first
 * member of deps; prefix: location of the parent ("" at the top). */
static int npm_dependencies(struct npm *n, const struct guard_jv *deps, size_t k0,
                            const char *prefix, unsigned depth)
{
    const struct guard_jv_member *m, *f;
    const struct guard_jv *e;
    struct deps_pkg *p;
    const char *loc, *ver, *real;
    size_t i, j, k = k0, kk, plen = strlen(prefix), loc_len, nl;
    uint32_t line;
    char *buf;

    if (depth > n->ctx->lim.max_depth)
        return deps_ctx_fail(n->ctx, -E2BIG, 0, 0, "dependencies nested deeper than the limit");
    for (i = 0; i < deps->n && n->ctx->rc == 0; i++, k += 1 + npm_keys(&m->value)) {
        m = guard_jv_object_at(deps, i);
        e = &m->value;
        line = npm_line(n, k);
        if (e->type != GUARD_JV_OBJECT)
            return deps_ctx_fail(n->ctx, -EBADMSG, line, 0,
                                 "dependencies entry \"%.*s\" is not an object", (int)m->key_len,
                                 m->key);
        loc_len = plen + (plen ? 1 : 0) + 13 + m->key_len;
        if (loc_len > n->ctx->lim.max_string)
            return deps_ctx_fail(n->ctx, -E2BIG, line, 0, "install path longer than the limit");
        buf = deps_arena_alloc(n->ctx->lock->arena, loc_len + 1);
        if (buf == NULL)
            return deps_ctx_fail(n->ctx, -ENOMEM, 0, 0, "out of memory");
        memcpy(buf, prefix, plen);
        j = plen;
        if (plen)
            buf[j++] = '/';
        memcpy(buf + j, "node_modules/", 13);
        memcpy(buf + j + 13, m->key, m->key_len);
        loc = buf;
        p = deps_ctx_pkg(n->ctx, line);
        if (p == NULL)
            break;
        p->location = loc;
        p->name = deps_ctx_str(n->ctx, m->key, m->key_len, line);
        ver = npm_str(n, e, "version", line);
        p->resolved = npm_str(n, e, "resolved", line);
        p->integrity = npm_str(n, e, "integrity", line);
        if (npm_true(e, "dev"))
            p->flags |= DEPS_PKG_F_DEV;
        if (npm_true(e, "optional"))
            p->flags |= DEPS_PKG_F_OPTIONAL;
        if (npm_true(e, "bundled"))
            p->flags |= DEPS_PKG_F_BUNDLED;
        if (ver && strncmp(ver, "npm:", 4) == 0) {
            nl = deps_spec_name_len(ver + 4, strlen(ver + 4));
            real = deps_ctx_str(n->ctx, ver + 4, nl, line);
            p->alias = p->name;
            p->name = real;
            ver = ver[4 + nl] == '@' ? ver + 5 + nl : "";
        } else if (ver && npm_version_is_spec(ver)) {
            if (p->resolved == NULL)
                p->resolved = ver;
            ver = "";
        }
        p->version = ver ? ver : "";
        if (p->name == NULL)
            break;
        /* Nested dependencies live below this entry. */
        kk = k + 1;
        for (j = 0; j < e->n && n->ctx->rc == 0; j++) {
            f = guard_jv_object_at(e, j);
            if (f->key_len == 12 && memcmp(f->key, "dependencies", 12) == 0 &&
                f->value.type == GUARD_JV_OBJECT)
                npm_dependencies(n, &f->value, kk + 1, loc, depth + 1);
            kk += 1 + npm_keys(&f->value);
        }
    }
    return n->ctx->rc;
}

static void npm_first_byte(struct deps_ctx *ctx, uint32_t *line, uint32_t *col)
{
    size_t i = 0, bol = 0;

    *line = 1;
    while (i < ctx->len && (ctx->buf[i] == ' ' || ctx->buf[i] == '\t' || ctx->buf[i] == '\r' ||
                            ctx->buf[i] == '\n')) {
        if (ctx->buf[i] == '\n') {
            (*line)++;
            bol = i + 1;
        }
        i++;
    }
    *col = (uint32_t)(i - bol + 1);
}

int deps_lock_parse_npm(struct deps_ctx *ctx)
{
    struct guard_jv_limits jl = {.max_bytes = ctx->len + 1,
                                 .max_depth = ctx->lim.max_depth,
                                 .max_nodes = ctx->lim.max_nodes};
    struct guard_json_error jerr;
    struct guard_jv_doc *doc = NULL;
    const struct guard_jv *root, *ver, *pkgs = NULL, *deps = NULL;
    const struct guard_jv_member *m;
    struct npm n = {.ctx = ctx};
    size_t i, k = 0, kp = 0, kd = 0, len;
    uint32_t line, col;
    const char *vs;
    int rc;

    if (ctx->len == 0) {
        return deps_ctx_fail(ctx, -EBADMSG, 0, 0,
                             "the file is empty; run `npm install` to write it again");
    }
    rc = guard_jv_parse(ctx->buf, ctx->len, &jl, &doc, &jerr);
    if (rc < 0) {
        deps_ctx_fail(ctx,
                      rc == -E2BIG    ? -E2BIG
                      : rc == -ENOMEM ? -ENOMEM
                                      : -EBADMSG,
                      jerr.line, jerr.column, "%s: %s; %s",
                      rc == -E2BIG ? "over a limit" : "not valid JSON",
                      jerr.message ? jerr.message : "error",
                      rc == -E2BIG ? "raise the limit if this lockfile is genuine"
                                   : "fix it or regenerate it with `npm install`");
        goto out;
    }
    root = guard_jv_doc_root(doc);
    if (root->type != GUARD_JV_OBJECT) {
        npm_first_byte(ctx, &line, &col);
        deps_ctx_fail(ctx, -EBADMSG, line, col, "not a JSON object but %s; a lockfile is an object",
                      guard_jv_type_name(root->type));
        goto out;
    }
    if (npm_key_offsets(&n))
        goto out;
    for (i = 0; i < root->n; i++) {
        m = guard_jv_object_at(root, i);
        if (m->key_len == 8 && memcmp(m->key, "packages", 8) == 0)
            pkgs = &m->value, kp = k + 1;
        else if (m->key_len == 12 && memcmp(m->key, "dependencies", 12) == 0)
            deps = &m->value, kd = k + 1;
        k += 1 + npm_keys(&m->value);
    }
    ver = guard_jv_object_get(root, "lockfileVersion", 15);
    if (ver) {
        line = npm_line(&n, 0);
        for (i = 0, k = 0; i < root->n; i++) {
            m = guard_jv_object_at(root, i);
            if (&m->value == ver) {
                line = npm_line(&n, k);
                break;
            }
            k += 1 + npm_keys(&m->value);
        }
        vs = ver->type == GUARD_JV_NUMBER   ? guard_jv_number_text(ver, &len)
             : ver->type == GUARD_JV_STRING ? guard_jv_string(ver, &len)
                                            : NULL;
        if (vs == NULL) {
            deps_ctx_fail(ctx, -EBADMSG, line, 0, "lockfileVersion is %s, not a number",
                          guard_jv_type_name(ver->type));
            goto out;
        }
        ctx->lock->version = deps_ctx_str(ctx, vs, len, line);
        if (ctx->lock->version == NULL)
            goto out;
        if (!(len == 1 && vs[0] >= '1' && vs[0] <= '3')) {
            deps_ctx_fail(ctx, -ENOTSUP, line, 0,
                          "lockfileVersion %.*s is not supported (supported: 1, 2, 3); "
                          "regenerate the lockfile with npm 7 or later",
                          (int)(len > 32 ? 32 : len), vs);
            goto out;
        }
    }
    if (pkgs && pkgs->type == GUARD_JV_OBJECT) {
        npm_packages(&n, pkgs, kp);
    } else if (pkgs) {
        deps_ctx_fail(ctx, -EBADMSG, 0, 0, "\"packages\" is %s, not an object",
                      guard_jv_type_name(pkgs->type));
    } else if (deps && deps->type == GUARD_JV_OBJECT) {
        npm_dependencies(&n, deps, kd, "", 1);
    } else if (deps) {
        deps_ctx_fail(ctx, -EBADMSG, 0, 0, "\"dependencies\" is %s, not an object",
                      guard_jv_type_name(deps->type));
    }
out:
    free(n.koff);
    guard_jv_doc_free(doc);
    return ctx->rc;
}

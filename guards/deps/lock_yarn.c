/* yarn.lock: v1 (yarn's own indented format, a line-fed state machine) and Berry (YAML). */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "guards/deps/lock_int.h"
#include "guards/deps/yaml.h"

/* ---- yarn v1 ---- */

/* The v1 reader is fed one line at a time (yv1_line), so a caller holding the file in
 * pieces could drive it; state carries the entry being filled. */
struct yv1 {
    struct deps_ctx *ctx;
    struct deps_pkg *pkg; /* index-stable only until the next deps_ctx_pkg */
    size_t pkg_idx;
    bool in_entry, in_block; /* inside an entry; inside a nested block (dependencies: ...) */
    bool seen_entry;
};

static struct deps_pkg *yv1_cur(struct yv1 *y)
{
    return y->in_entry ? &y->ctx->lock->pkgs[y->pkg_idx] : NULL;
}

/* A token at s (quoted "..." with \-escapes, or bare up to a space, ',' or ':'), copied to
 * the arena. *used gets the bytes consumed. */
static const char *yv1_token(struct yv1 *y, const char *s, size_t n, size_t *used, uint32_t line,
                             bool stop_colon)
{
    struct deps_ctx *ctx = y->ctx;
    size_t i, o = 0;
    char *d;

    if (n && s[0] == '"') {
        if (n - 1 > ctx->lim.max_string) {
            deps_ctx_fail(ctx, -E2BIG, line, 1, "string longer than the limit");
            return NULL;
        }
        d = deps_arena_alloc(ctx->lock->arena, n);
        if (d == NULL) {
            deps_ctx_fail(ctx, -ENOMEM, 0, 0, "out of memory");
            return NULL;
        }
        for (i = 1; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\' && i + 1 < n)
                i++;
            d[o++] = s[i];
        }
        if (i >= n) {
            deps_ctx_fail(ctx, -EBADMSG, line, 0, "unterminated quoted string");
            return NULL;
        }
        *used = i + 1;
        return d;
    }
    for (i = 0; i < n && s[i] != ' ' && s[i] != ',' && !(stop_colon && s[i] == ':'); i++)
        ;
    *used = i;
    return deps_ctx_str(ctx, s, i, line);
}

/* The first spec of an entry header: name, and an npm: alias's real name. */
static int yv1_name(struct yv1 *y, struct deps_pkg *p, const char *spec, uint32_t line)
{
    size_t n = strlen(spec), k = deps_spec_name_len(spec, n), k2;
    const char *range = k < n ? spec + k + 1 : "";

    p->name = deps_ctx_str(y->ctx, spec, k, line);
    if (p->name && strncmp(range, "npm:", 4) == 0) {
        k2 = deps_spec_name_len(range + 4, strlen(range + 4));
        if (range[4 + k2] == '@') { /* alias@npm:real@range, not name@npm:range */
            p->alias = p->name;
            p->name = deps_ctx_str(y->ctx, range + 4, k2, line);
        }
    }
    return y->ctx->rc;
}

static int yv1_header(struct yv1 *y, const char *s, size_t n, uint32_t line)
{
    struct deps_ctx *ctx = y->ctx;
    struct deps_pkg *p;
    const char *spec;
    size_t i = 0, used;

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n < 2 || s[n - 1] != ':')
        return deps_ctx_fail(ctx, -EBADMSG, line, 1,
                             "expected an entry header `\"name@range\", ...:`; is this a yarn "
                             "lockfile?");
    p = deps_ctx_pkg(ctx, line);
    if (p == NULL)
        return ctx->rc;
    y->pkg_idx = ctx->lock->n_pkgs - 1;
    y->in_entry = true;
    y->in_block = false;
    y->seen_entry = true;
    p->location = deps_ctx_str(ctx, s, n - 1, line);
    spec = yv1_token(y, s, n - 1, &used, line, false);
    if (spec == NULL || p->location == NULL)
        return ctx->rc;
    if (used == 0)
        return deps_ctx_fail(ctx, -EBADMSG, line, 1, "empty entry header");
    p = yv1_cur(y);
    if (yv1_name(y, p, spec, line))
        return ctx->rc;
    /* The other specs must be well-formed too: "a, b" or quoted, comma-separated. */
    for (i = used; i < n - 1 && ctx->rc == 0;) {
        if (s[i] != ',')
            return deps_ctx_fail(ctx, -EBADMSG, line, (uint32_t)i + 1,
                                 "expected ',' between the specs of an entry header");
        for (i++; i < n - 1 && s[i] == ' '; i++)
            ;
        if (yv1_token(y, s + i, n - 1 - i, &used, line, false) == NULL)
            return ctx->rc;
        if (used == 0)
            return deps_ctx_fail(ctx, -EBADMSG, line, (uint32_t)i + 1, "empty spec");
        i += used;
    }
    return ctx->rc;
}

/* "  key value" or "  key:" inside an entry. */
static int yv1_field(struct yv1 *y, const char *s, size_t n, uint32_t line, uint32_t col)
{
    struct deps_ctx *ctx = y->ctx;
    const char *key, *val = NULL;
    struct deps_pkg *p;
    size_t used, i;

    key = yv1_token(y, s, n, &used, line, true);
    if (key == NULL)
        return ctx->rc;
    if (used == 0)
        return deps_ctx_fail(ctx, -EBADMSG, line, col, "expected a field name");
    i = used;
    if (i < n && s[i] == ':') {
        for (i++; i < n && s[i] == ' '; i++)
            ;
        if (i != n)
            return deps_ctx_fail(ctx, -EBADMSG, line, col + (uint32_t)i,
                                 "unexpected text after ':'");
        y->in_block = true;
        return 0;
    }
    y->in_block = false;
    if (i >= n || s[i] != ' ')
        return deps_ctx_fail(ctx, -EBADMSG, line, col + (uint32_t)i,
                             "expected `name value` or `name:`");
    for (; i < n && s[i] == ' '; i++)
        ;
    val = yv1_token(y, s + i, n - i, &used, line, false);
    if (val == NULL)
        return ctx->rc;
    p = yv1_cur(y);
    if (strcmp(key, "version") == 0)
        p->version = val;
    else if (strcmp(key, "resolved") == 0)
        p->resolved = val;
    else if (strcmp(key, "integrity") == 0)
        p->integrity = val;
    return 0;
}

/* One line without its end (CR already removed). */
static int yv1_line(struct yv1 *y, const char *s, size_t n, uint32_t line)
{
    struct deps_ctx *ctx = y->ctx;
    size_t ind = 0, i;

    while (ind < n && s[ind] == ' ')
        ind++;
    if (ind < n && s[ind] == '\t')
        return deps_ctx_fail(ctx, -EBADMSG, line, (uint32_t)ind + 1, "tab in indentation");
    for (i = ind; i < n && (s[i] == ' ' || s[i] == '\t'); i++)
        ;
    if (i == n)
        return 0;
    if (s[ind] == '#') {
        if (ind == 0 && n >= 18 && memcmp(s, "# yarn lockfile v", 17) == 0)
            ctx->lock->version = deps_ctx_str(ctx, s + 17, n - 17, line);
        return 0;
    }
    if (ind == 0)
        return yv1_header(y, s, n, line);
    if (!y->in_entry)
        return deps_ctx_fail(ctx, -EBADMSG, line, (uint32_t)ind + 1,
                             "indented line outside an entry");
    if (ind == 2)
        return yv1_field(y, s + 2, n - 2, line, 3);
    if (ind >= 4 && y->in_block)
        return 0; /* the entry's own dependency ranges: not needed here */
    return deps_ctx_fail(ctx, -EBADMSG, line, (uint32_t)ind + 1, "unexpected indentation");
}

int deps_lock_parse_yarn_v1(struct deps_ctx *ctx)
{
    struct yv1 y = {.ctx = ctx};
    const char *p = ctx->buf, *end = ctx->buf + ctx->len, *nl;
    size_t n;
    uint32_t line = 1;

    if (memchr(ctx->buf, 0, ctx->len))
        return deps_ctx_fail(ctx, -EBADMSG, 0, 0, "NUL byte in the text; not a yarn lockfile");
    while (p < end && ctx->rc == 0) {
        nl = memchr(p, '\n', (size_t)(end - p));
        n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n && p[n - 1] == '\r')
            n--;
        yv1_line(&y, p, n, line++);
        p = nl ? nl + 1 : end;
    }
    if (ctx->rc == 0 && !y.seen_entry)
        ctx->lock->flags |= DEPS_LOCK_F_EMPTY;
    return ctx->rc;
}

/* ---- yarn Berry ---- */

static bool berry_is(const char *ref, const char *proto)
{
    return strncmp(ref, proto, strlen(proto)) == 0;
}

static int berry_workspace_deps(struct deps_ctx *ctx, const char *importer,
                                const struct deps_yaml_node *e)
{
    static const struct {
        const char *key;
        enum deps_dep_kind kind;
    } groups[] = {{"dependencies", DEPS_DEP_UNSPECIFIED}, {"peerDependencies", DEPS_DEP_PEER}};
    const struct deps_yaml_node *g, *d;
    struct deps_dep *dep;
    size_t i;

    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        g = deps_yaml_get(e, groups[i].key);
        if (g == NULL || g->type != DEPS_YAML_MAP)
            continue;
        for (d = g->child; d; d = d->next) {
            dep = deps_ctx_dep(ctx, d->key_line);
            if (dep == NULL)
                return ctx->rc;
            dep->importer = importer;
            dep->name = d->key;
            dep->kind = groups[i].kind;
            dep->spec = d->type == DEPS_YAML_SCALAR ? d->s : "";
        }
    }
    return ctx->rc;
}

static int berry_entry(struct deps_ctx *ctx, const struct deps_yaml_node *e)
{
    const char *res, *ref = NULL, *first, *link;
    size_t k, fk, n;
    struct deps_pkg *p;

    if (e->type != DEPS_YAML_MAP)
        return deps_ctx_fail(ctx, -EBADMSG, e->key_line, e->key_col,
                             "entry \"%.80s\" is not a mapping", e->key);
    p = deps_ctx_pkg(ctx, e->key_line);
    if (p == NULL)
        return ctx->rc;
    p->location = e->key;
    first = e->key;
    for (n = 0; n < e->key_len && e->key[n] != ','; n++)
        ;
    fk = deps_spec_name_len(first, n);
    if (fk == 0 || fk >= n)
        return deps_ctx_fail(ctx, -EBADMSG, e->key_line, e->key_col,
                             "entry key \"%.80s\" is not name@range", e->key);
    res = deps_yaml_get_str(e, "resolution");
    if (res) {
        k = deps_spec_name_len(res, strlen(res));
        if (k == 0 || res[k] != '@')
            return deps_ctx_fail(ctx, -EBADMSG, e->key_line, e->key_col,
                                 "resolution \"%.80s\" is not name@reference", res);
        p->name = deps_ctx_str(ctx, res, k, e->key_line);
        ref = res + k + 1;
        if (p->name && (fk != k || memcmp(first, res, k) != 0))
            p->alias = deps_ctx_str(ctx, first, fk, e->key_line);
    } else {
        p->name = deps_ctx_str(ctx, first, fk, e->key_line);
    }
    if (p->name == NULL)
        return ctx->rc;
    p->version = deps_yaml_get_str(e, "version");
    if (p->version == NULL)
        p->version = "";
    p->resolved = ref;
    p->checksum = deps_yaml_get_str(e, "checksum");
    link = deps_yaml_get_str(e, "linkType");
    if (link && strcmp(link, "soft") == 0)
        p->flags |= DEPS_PKG_F_LINK;
    if (deps_yaml_get(e, "bin"))
        p->flags |= DEPS_PKG_F_HAS_BIN;
    if (ref && berry_is(ref, "workspace:")) {
        p->flags |= DEPS_PKG_F_WORKSPACE;
        p->res_kind = DEPS_RES_WORKSPACE;
        return berry_workspace_deps(ctx, ref + 10, e);
    }
    if (ref && berry_is(ref, "patch:"))
        p->res_kind = DEPS_RES_OTHER;
    return ctx->rc;
}

int deps_lock_parse_yarn_berry(struct deps_ctx *ctx)
{
    struct deps_yaml_node *docs;
    const struct deps_yaml_node *meta, *v, *e;
    const char *s;

    if (deps_yaml_load(ctx, &docs) || docs == NULL)
        return ctx->rc;
    if (docs->next)
        return deps_ctx_fail(ctx, -EBADMSG, docs->next->line, docs->next->col,
                             "more than one YAML document");
    if (docs->type != DEPS_YAML_MAP)
        return deps_ctx_fail(ctx, -EBADMSG, docs->line, docs->col, "not a YAML mapping");
    meta = deps_yaml_get(docs, "__metadata");
    v = deps_yaml_get(meta, "version");
    if (v == NULL || v->type != DEPS_YAML_SCALAR)
        return deps_ctx_fail(ctx, -EBADMSG, meta ? meta->key_line : 1, 0,
                             "no __metadata.version; is this a yarn 2+ lockfile?");
    for (s = v->s; *s >= '0' && *s <= '9'; s++)
        ;
    if (s == v->s || *s)
        return deps_ctx_fail(ctx, -ENOTSUP, v->line, v->col,
                             "__metadata.version %.32s is not supported (expected a number); "
                             "run `yarn install` to rewrite the lockfile",
                             v->s);
    ctx->lock->version = v->s;
    for (e = docs->child; e && ctx->rc == 0; e = e->next) {
        if (e == meta)
            continue;
        berry_entry(ctx, e);
    }
    return ctx->rc;
}

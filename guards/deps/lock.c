/* Lockfile entry point: limits, format detection, result building, sorting, error text. */
#include <errno.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/lock.h"
#include "guards/deps/lock_int.h"

struct deps_arena_chunk {
    struct deps_arena_chunk *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

#define DEPS_ARENA_CHUNK ((size_t)64 << 10)

void *deps_arena_alloc(struct deps_lock_arena *a, size_t n)
{
    struct deps_arena_chunk *c = a->head;
    size_t align = alignof(max_align_t), cap;
    void *p;

    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    if (c == NULL || c->cap - c->used < n) {
        cap = n > DEPS_ARENA_CHUNK ? n : DEPS_ARENA_CHUNK;
        c = malloc(sizeof(*c) + cap);
        if (c == NULL)
            return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *deps_arena_strndup(struct deps_lock_arena *a, const char *s, size_t n)
{
    char *d = deps_arena_alloc(a, n + 1);

    if (d && n)
        memcpy(d, s, n);
    return d;
}

void deps_arena_free(struct deps_lock_arena *a)
{
    struct deps_arena_chunk *c, *next;

    if (a == NULL)
        return;
    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

int deps_ctx_fail(struct deps_ctx *ctx, int rc, uint32_t line, uint32_t column, const char *fmt,
                  ...)
{
    const char *file = deps_lock_format_file(ctx->fmt);
    char *m = ctx->err->message;
    size_t cap = sizeof(ctx->err->message);
    int k;
    va_list ap;

    if (ctx->rc)
        return ctx->rc;
    ctx->rc = rc;
    ctx->err->line = line;
    ctx->err->column = line ? column : 0;
    if (line && column)
        k = snprintf(m, cap, "%s:%u:%u: ", file, line, column);
    else if (line)
        k = snprintf(m, cap, "%s:%u: ", file, line);
    else
        k = snprintf(m, cap, "%s: ", file);
    if (k < 0 || (size_t)k >= cap)
        return rc;
    va_start(ap, fmt);
    vsnprintf(m + k, cap - (size_t)k, fmt, ap);
    va_end(ap);
    return rc;
}

struct deps_pkg *deps_ctx_pkg(struct deps_ctx *ctx, uint32_t line)
{
    struct deps_lock *lk = ctx->lock;
    struct deps_pkg *v;
    size_t cap;

    if (ctx->rc)
        return NULL;
    if (lk->n_pkgs >= ctx->lim.max_packages) {
        deps_ctx_fail(ctx, -E2BIG, line, 0,
                      "more than %zu packages; raise the package limit if this lockfile is "
                      "genuine",
                      ctx->lim.max_packages);
        return NULL;
    }
    if (lk->n_pkgs == ctx->cap_pkgs) {
        cap = ctx->cap_pkgs ? ctx->cap_pkgs * 2 : 64;
        v = realloc(lk->pkgs, cap * sizeof(*v));
        if (v == NULL) {
            deps_ctx_fail(ctx, -ENOMEM, 0, 0, "out of memory");
            return NULL;
        }
        lk->pkgs = v;
        ctx->cap_pkgs = cap;
    }
    v = &lk->pkgs[lk->n_pkgs++];
    memset(v, 0, sizeof(*v));
    v->line = line;
    v->version = "";
    return v;
}

struct deps_dep *deps_ctx_dep(struct deps_ctx *ctx, uint32_t line)
{
    struct deps_lock *lk = ctx->lock;
    struct deps_dep *v;
    size_t cap;

    if (ctx->rc)
        return NULL;
    if (lk->n_deps >= ctx->lim.max_deps) {
        deps_ctx_fail(ctx, -E2BIG, line, 0, "more than %zu direct dependencies", ctx->lim.max_deps);
        return NULL;
    }
    if (lk->n_deps == ctx->cap_deps) {
        cap = ctx->cap_deps ? ctx->cap_deps * 2 : 32;
        v = realloc(lk->deps, cap * sizeof(*v));
        if (v == NULL) {
            deps_ctx_fail(ctx, -ENOMEM, 0, 0, "out of memory");
            return NULL;
        }
        lk->deps = v;
        ctx->cap_deps = cap;
    }
    v = &lk->deps[lk->n_deps++];
    memset(v, 0, sizeof(*v));
    v->line = line;
    v->spec = "";
    return v;
}

const char *deps_ctx_str(struct deps_ctx *ctx, const char *s, size_t n, uint32_t line)
{
    const char *d;

    if (ctx->rc)
        return NULL;
    if (n > ctx->lim.max_string) {
        deps_ctx_fail(ctx, -E2BIG, line, 0, "a string of %zu bytes is over the %zu-byte limit", n,
                      ctx->lim.max_string);
        return NULL;
    }
    if (n && memchr(s, 0, n)) {
        deps_ctx_fail(ctx, -EBADMSG, line, 0, "NUL character in a name, version or URL");
        return NULL;
    }
    d = deps_arena_strndup(ctx->lock->arena, s, n);
    if (d == NULL)
        deps_ctx_fail(ctx, -ENOMEM, 0, 0, "out of memory");
    return d;
}

uint32_t deps_ctx_line_at(struct deps_ctx *ctx, size_t off)
{
    const char *p, *end;

    if (off > ctx->len)
        off = ctx->len;
    if (off < ctx->line_off) {
        ctx->line_off = 0;
        ctx->line_no = 1;
    }
    p = ctx->buf + ctx->line_off;
    end = ctx->buf + off;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        ctx->line_no++;
        p++;
    }
    ctx->line_off = off;
    return ctx->line_no;
}

size_t deps_spec_name_len(const char *s, size_t n)
{
    const char *at = n > 1 ? memchr(s + 1, '@', n - 1) : NULL;

    return at ? (size_t)(at - s) : n;
}

static const char *deps_last_slash(const char *name)
{
    const char *s = strrchr(name, '/');

    return s ? s + 1 : name;
}

enum deps_lock_format deps_lock_format_of(const char *filename)
{
    const char *base;

    if (filename == NULL)
        return DEPS_LOCK_UNKNOWN;
    base = deps_last_slash(filename);
    if (strcmp(base, "package-lock.json") == 0)
        return DEPS_LOCK_NPM;
    if (strcmp(base, "npm-shrinkwrap.json") == 0)
        return DEPS_LOCK_NPM_SHRINKWRAP;
    if (strcmp(base, "pnpm-lock.yaml") == 0 || strcmp(base, "pnpm-lock.yml") == 0)
        return DEPS_LOCK_PNPM;
    if (strcmp(base, "yarn.lock") == 0)
        return DEPS_LOCK_YARN;
    return DEPS_LOCK_UNKNOWN;
}

const char *deps_lock_format_file(enum deps_lock_format fmt)
{
    switch (fmt) {
    case DEPS_LOCK_NPM:
        return "package-lock.json";
    case DEPS_LOCK_NPM_SHRINKWRAP:
        return "npm-shrinkwrap.json";
    case DEPS_LOCK_PNPM:
        return "pnpm-lock.yaml";
    case DEPS_LOCK_YARN:
    case DEPS_LOCK_YARN_V1:
    case DEPS_LOCK_YARN_BERRY:
        return "yarn.lock";
    default:
        return "lockfile";
    }
}

const char *deps_lock_format_name(enum deps_lock_format fmt)
{
    switch (fmt) {
    case DEPS_LOCK_NPM:
        return "npm";
    case DEPS_LOCK_NPM_SHRINKWRAP:
        return "npm-shrinkwrap";
    case DEPS_LOCK_PNPM:
        return "pnpm";
    case DEPS_LOCK_YARN:
        return "yarn";
    case DEPS_LOCK_YARN_V1:
        return "yarn-v1";
    case DEPS_LOCK_YARN_BERRY:
        return "yarn-berry";
    default:
        return "unknown";
    }
}

const char *deps_res_kind_name(enum deps_res_kind kind)
{
    static const char *const names[] = {"none", "registry", "tarball",   "git",  "hosted",
                                        "file", "link",     "workspace", "other"};

    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "other";
}

static bool deps_prefix(const char *s, size_t n, const char *pre)
{
    size_t k = strlen(pre);

    return n >= k && memcmp(s, pre, k) == 0;
}

static bool deps_has(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle), i;

    for (i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return true;
    return false;
}

enum deps_res_kind deps_res_kind_of(const char *s, size_t len)
{
    size_t n = len, i, slashes = 0;

    if (s == NULL || len == 0)
        return DEPS_RES_NONE;
    if (deps_prefix(s, len, "workspace:"))
        return DEPS_RES_WORKSPACE;
    if (deps_prefix(s, len, "link:") || deps_prefix(s, len, "portal:"))
        return DEPS_RES_LINK;
    if (deps_prefix(s, len, "file:") || s[0] == '/' || deps_prefix(s, len, "./") ||
        deps_prefix(s, len, "../") || deps_prefix(s, len, "~/"))
        return DEPS_RES_FILE;
    if (deps_prefix(s, len, "git+") || deps_prefix(s, len, "git://") ||
        deps_prefix(s, len, "git@") || deps_prefix(s, len, "ssh://"))
        return DEPS_RES_GIT;
    if (deps_prefix(s, len, "github:") || deps_prefix(s, len, "gitlab:") ||
        deps_prefix(s, len, "bitbucket:") || deps_prefix(s, len, "gist:"))
        return DEPS_RES_HOSTED;
    if (deps_prefix(s, len, "npm:"))
        return DEPS_RES_REGISTRY;
    if (deps_prefix(s, len, "http://") || deps_prefix(s, len, "https://")) {
        for (i = 0; i < len; i++)
            if (s[i] == '#' || s[i] == '?') {
                n = i;
                break;
            }
        if (n >= 4 && memcmp(s + n - 4, ".git", 4) == 0)
            return DEPS_RES_GIT;
        if (deps_has(s, n, "/-/") && (deps_has(s, n, ".tgz") || deps_has(s, n, ".tar.gz")))
            return DEPS_RES_REGISTRY;
        return DEPS_RES_TARBALL;
    }
    /* A bare owner/repo[#ref] is a GitHub shortcut. */
    for (i = 0; i < len && s[i] != '#'; i++) {
        if (s[i] == ':' || s[i] == '@' || s[i] == ' ')
            return DEPS_RES_OTHER;
        slashes += s[i] == '/';
    }
    return slashes == 1 ? DEPS_RES_HOSTED : DEPS_RES_OTHER;
}

static int deps_cmp_str(const char *a, const char *b)
{
    if (a == b)
        return 0;
    if (a == NULL)
        return -1;
    if (b == NULL)
        return 1;
    return strcmp(a, b);
}

static int deps_pkg_cmp(const void *x, const void *y)
{
    const struct deps_pkg *a = x, *b = y;
    int c = strcmp(a->name, b->name);

    if (c == 0)
        c = strcmp(a->version, b->version);
    if (c == 0)
        c = deps_cmp_str(a->location, b->location);
    if (c == 0)
        c = a->line < b->line ? -1 : a->line > b->line;
    return c;
}

static int deps_dep_cmp(const void *x, const void *y)
{
    const struct deps_dep *a = x, *b = y;
    int c = strcmp(a->importer, b->importer);

    if (c == 0)
        c = strcmp(a->name, b->name);
    if (c == 0)
        c = (int)a->kind - (int)b->kind;
    if (c == 0)
        c = a->line < b->line ? -1 : a->line > b->line;
    return c;
}

/* Berry files carry a top-level __metadata mapping; v1 files never do. */
static bool deps_yarn_is_berry(const char *buf, size_t len)
{
    static const char key[] = "__metadata:";
    const char *p = buf, *end = buf + len, *nl;

    while (p < end) {
        if ((size_t)(end - p) >= sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0)
            return true;
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return false;
}

int deps_lock_parse(enum deps_lock_format fmt, const char *buf, size_t len,
                    const struct deps_lock_limits *lim, struct deps_lock **out,
                    struct deps_lock_error *err)
{
    struct deps_lock_error local;
    struct deps_ctx ctx;
    struct deps_lock *lk = NULL;
    size_t i;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.err = err ? err : &local;
    memset(ctx.err, 0, sizeof(*ctx.err));
    ctx.fmt = fmt;
    ctx.line_no = 1;
    if (out == NULL || (buf == NULL && len)) {
        rc = deps_ctx_fail(&ctx, -EINVAL, 0, 0, "no input or output given");
        goto out;
    }
    *out = NULL;
    if (fmt == DEPS_LOCK_UNKNOWN || fmt > DEPS_LOCK_YARN_BERRY) {
        rc = deps_ctx_fail(&ctx, -EINVAL, 0, 0,
                           "unknown lockfile format; name the file package-lock.json, "
                           "npm-shrinkwrap.json, pnpm-lock.yaml or yarn.lock");
        goto out;
    }
    if (lim)
        ctx.lim = *lim;
    if (ctx.lim.max_bytes == 0)
        ctx.lim.max_bytes = DEPS_LOCK_DEFAULT_BYTES;
    if (ctx.lim.max_packages == 0)
        ctx.lim.max_packages = DEPS_LOCK_DEFAULT_PACKAGES;
    if (ctx.lim.max_deps == 0)
        ctx.lim.max_deps = DEPS_LOCK_DEFAULT_DEPS;
    if (ctx.lim.max_string == 0)
        ctx.lim.max_string = DEPS_LOCK_DEFAULT_STRING;
    if (ctx.lim.max_nodes == 0)
        ctx.lim.max_nodes = DEPS_LOCK_DEFAULT_NODES;
    if (ctx.lim.max_depth == 0)
        ctx.lim.max_depth = DEPS_LOCK_DEFAULT_DEPTH;
    if (ctx.lim.max_depth > DEPS_LOCK_MAX_DEPTH) {
        rc = deps_ctx_fail(&ctx, -EINVAL, 0, 0, "depth limit %u is above the ceiling %u",
                           ctx.lim.max_depth, DEPS_LOCK_MAX_DEPTH);
        goto out;
    }
    if (len > ctx.lim.max_bytes) {
        rc = deps_ctx_fail(&ctx, -E2BIG, 0, 0,
                           "%zu bytes is over the %zu-byte limit; raise the limit if this "
                           "lockfile is genuine",
                           len, ctx.lim.max_bytes);
        goto out;
    }
    lk = calloc(1, sizeof(*lk));
    if (lk)
        lk->arena = calloc(1, sizeof(*lk->arena));
    if (lk == NULL || lk->arena == NULL) {
        rc = deps_ctx_fail(&ctx, -ENOMEM, 0, 0, "out of memory");
        goto out;
    }
    lk->version = "";
    ctx.lock = lk;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    ctx.buf = buf ? buf : "";
    ctx.len = len;
    if (fmt == DEPS_LOCK_YARN)
        fmt = deps_yarn_is_berry(ctx.buf, len) ? DEPS_LOCK_YARN_BERRY : DEPS_LOCK_YARN_V1;
    lk->format = fmt;
    switch (fmt) {
    case DEPS_LOCK_NPM:
    case DEPS_LOCK_NPM_SHRINKWRAP:
        rc = deps_lock_parse_npm(&ctx);
        break;
    case DEPS_LOCK_PNPM:
        rc = deps_lock_parse_pnpm(&ctx);
        break;
    case DEPS_LOCK_YARN_V1:
        rc = deps_lock_parse_yarn_v1(&ctx);
        break;
    default:
        rc = deps_lock_parse_yarn_berry(&ctx);
        break;
    }
    if (rc == 0)
        rc = ctx.rc;
    if (rc < 0) {
        if (ctx.rc == 0) /* a parser returned an error without a message */
            deps_ctx_fail(&ctx, rc, 0, 0, "cannot be read (error %d)", rc);
        goto out;
    }
    for (i = 0; i < lk->n_pkgs; i++) {
        struct deps_pkg *p = &lk->pkgs[i];

        if (p->res_kind == DEPS_RES_NONE && p->resolved)
            p->res_kind = deps_res_kind_of(p->resolved, strlen(p->resolved));
    }
    if (lk->n_pkgs > 1)
        qsort(lk->pkgs, lk->n_pkgs, sizeof(*lk->pkgs), deps_pkg_cmp);
    if (lk->n_deps > 1)
        qsort(lk->deps, lk->n_deps, sizeof(*lk->deps), deps_dep_cmp);
    *out = lk;
    lk = NULL;
    rc = 0;
out:
    deps_lock_free(lk);
    return rc;
}

void deps_lock_free(struct deps_lock *lock)
{
    if (lock == NULL)
        return;
    deps_arena_free(lock->arena);
    free(lock->arena);
    free(lock->pkgs);
    free(lock->deps);
    free(lock);
}

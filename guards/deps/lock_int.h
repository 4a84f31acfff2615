/* Internals shared by the lockfile parsers: arena, result builder, sticky errors, spec helpers. */
#ifndef WARDEN_GUARDS_DEPS_LOCK_INT_H
#define WARDEN_GUARDS_DEPS_LOCK_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards/deps/lock.h"

/* Bump allocator: chunks freed all at once with the lock. */
struct deps_lock_arena {
    struct deps_arena_chunk *head;
};

/* n zeroed bytes aligned for any object, or NULL. */
void *deps_arena_alloc(struct deps_lock_arena *a, size_t n);
/* A NUL-terminated copy of s[0..n), or NULL. */
char *deps_arena_strndup(struct deps_lock_arena *a, const char *s, size_t n);
/* Free every chunk. */
void deps_arena_free(struct deps_lock_arena *a);

/* One parse: the result being built, the limits in force and the first error. */
struct deps_ctx {
    struct deps_lock *lock;
    struct deps_lock_limits lim; /* defaults filled in */
    struct deps_lock_error *err;
    enum deps_lock_format fmt; /* for the file name in messages */
    const char *buf;           /* the input, BOM removed */
    size_t len;
    size_t cap_pkgs, cap_deps;
    int rc; /* first error, sticky; 0 while all is well */
    /* line_at: a forward cursor, so increasing offsets cost O(n) in total */
    size_t line_off;
    uint32_t line_no;
};

/* Record the first error: rc, position (0 when unknown) and a printf-style message. Later
 * calls are ignored. Returns ctx->rc. */
int deps_ctx_fail(struct deps_ctx *ctx, int rc, uint32_t line, uint32_t column, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

/* A new zeroed package or dependency in the result, or NULL with ctx->rc set (cap, memory). */
struct deps_pkg *deps_ctx_pkg(struct deps_ctx *ctx, uint32_t line);
struct deps_dep *deps_ctx_dep(struct deps_ctx *ctx, uint32_t line);

/* An arena copy of s[0..n), or NULL with ctx->rc set (over max_string, memory). */
const char *deps_ctx_str(struct deps_ctx *ctx, const char *s, size_t n, uint32_t line);

/* 1-based line of byte offset off in ctx->buf. */
uint32_t deps_ctx_line_at(struct deps_ctx *ctx, size_t off);

/* Split "name@rest" (the name may be scoped: "@s/n@rest"). Returns the length of the name,
 * or n when there is no separating '@'. */
size_t deps_spec_name_len(const char *s, size_t n);

/* Format-specific parsers: fill ctx->lock (format, version, pkgs, deps) or set ctx->rc. */
int deps_lock_parse_npm(struct deps_ctx *ctx);
int deps_lock_parse_pnpm(struct deps_ctx *ctx);
int deps_lock_parse_yarn_v1(struct deps_ctx *ctx);
int deps_lock_parse_yarn_berry(struct deps_ctx *ctx);

#endif

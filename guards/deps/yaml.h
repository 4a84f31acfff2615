/* A capped reader for the YAML subset pnpm and yarn Berry lockfiles use; no anchors or tags. */
#ifndef WARDEN_GUARDS_DEPS_YAML_H
#define WARDEN_GUARDS_DEPS_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "guards/deps/lock_int.h"

/* libyaml is not allowed in guards/ (tests/layout_check.sh), and lockfiles are written by
 * pnpm and yarn with js-yaml-like emitters, so this reads what they write and rejects the
 * rest (anchors, aliases, tags, complex keys) with a position. */

enum deps_yaml_type {
    DEPS_YAML_NULL = 0, /* an empty value */
    DEPS_YAML_SCALAR,
    DEPS_YAML_MAP,
    DEPS_YAML_SEQ,
};

/* One node. MAP children carry their key; SEQ children have key == NULL. Strings are
 * NUL-terminated arena copies. */
struct deps_yaml_node {
    enum deps_yaml_type type;
    uint32_t line, col; /* where the value starts (for NULL: where it would have) */
    const char *s;      /* SCALAR text */
    size_t len;
    const char *key; /* member key when in a MAP */
    size_t key_len;
    uint32_t key_line, key_col;
    size_t n; /* children */
    struct deps_yaml_node *child, *last, *next;
};

/* Caps: string bytes, nesting depth, node count. */
struct deps_yaml_limits {
    size_t max_string;
    unsigned max_depth;
    size_t max_nodes;
};

/* Where and why the text is not read; message is static. */
struct deps_yaml_error {
    uint32_t line, column;
    const char *message;
};

/* Parse buf into a list of documents (*docs, linked by `next`; NULL when the stream holds no
 * content) allocated in arena. Returns 0, -EBADMSG (not YAML or outside the subset) or
 * -E2BIG (a cap), or -ENOMEM, with err set. Duplicate keys in one mapping are rejected. */
int deps_yaml_parse(const char *buf, size_t len, const struct deps_yaml_limits *lim,
                    struct deps_lock_arena *arena, struct deps_yaml_node **docs,
                    struct deps_yaml_error *err);

/* deps_yaml_parse on ctx->buf with ctx's limits, errors turned into ctx errors; no document
 * at all sets DEPS_LOCK_F_EMPTY. Returns 0 or ctx->rc. */
int deps_yaml_load(struct deps_ctx *ctx, struct deps_yaml_node **docs);

/* The member `key` of a MAP, or NULL (linear: for small mappings). */
const struct deps_yaml_node *deps_yaml_get(const struct deps_yaml_node *map, const char *key);

/* The text of a SCALAR member `key` of map, or NULL. */
const char *deps_yaml_get_str(const struct deps_yaml_node *map, const char *key);

#endif

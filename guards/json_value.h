/* JSON document tree (DOM) built on the incremental tokenizer: one arena, read-only values. */
#ifndef WARDEN_GUARDS_JSON_VALUE_H
#define WARDEN_GUARDS_JSON_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards/json.h"

/* Not for the hot path: the proxy scans bodies as they stream (json.h). Trees are for the
 * places that need the whole value at once, such as JSON Schema validation of an output. */

enum guard_jv_type {
    GUARD_JV_NULL = 0,
    GUARD_JV_BOOL,
    GUARD_JV_NUMBER,
    GUARD_JV_STRING,
    GUARD_JV_ARRAY,
    GUARD_JV_OBJECT,
};

struct guard_jv_member;

/* One value. Fields are read-only; use the accessors below or read them directly.
 * Strings (values and keys) are UTF-8, may contain NUL bytes (use the length) and are also
 * NUL-terminated for convenience. A number keeps its source text (exact) and a double (may be
 * rounded, or +-HUGE_VAL when out of range). */
struct guard_jv {
    enum guard_jv_type type;
    uint32_t n; /* ARRAY: items, OBJECT: members */
    union {
        bool b;
        struct {
            const char *text;
            size_t len;
            double d;
        } num;
        struct {
            const char *s;
            size_t len;
        } str;
        struct guard_jv *items; /* ARRAY: n values in source order */
        struct {
            struct guard_jv_member *members;       /* n members in source order */
            const struct guard_jv_member **sorted; /* the same, ordered by key bytes */
        } obj;
    } u;
};

struct guard_jv_member {
    const char *key;
    size_t key_len;
    struct guard_jv value;
};

/* Hard caps on one document. Zero fields take the defaults. */
struct guard_jv_limits {
    size_t max_bytes;      /* input length; default 1 MiB */
    unsigned max_depth;    /* open arrays and objects at once; default 64, at most 256 */
    size_t max_nodes;      /* values (members count as their value); default 65536 */
    bool allow_duplicates; /* accept repeated keys in one object (lookups find the first) */
};

#define GUARD_JV_DEFAULT_BYTES (1u << 20)
#define GUARD_JV_DEFAULT_DEPTH 64
#define GUARD_JV_DEFAULT_NODES 65536
/* Keys and number texts longer than these are rejected (the tokenizer's ceilings). */
#define GUARD_JV_MAX_KEY    1024
#define GUARD_JV_MAX_NUMBER 256

/* A parsed document: the root value and the arena holding every value below it. */
struct guard_jv_doc;

/* Parse one JSON text (RFC 8259, strict UTF-8) into a tree. On success *out owns the tree
 * (free with guard_jv_doc_free) and 0 is returned. Errors, with err filled (static message,
 * offset/line/column of the first offending byte; err may be NULL):
 *   -EBADMSG not JSON, or a repeated key when duplicates are not allowed;
 *   -E2BIG   a cap was exceeded (size, depth, nodes, key or number length);
 *   -EINVAL  a limit above its ceiling; -ENOMEM. */
int guard_jv_parse(const char *buf, size_t len, const struct guard_jv_limits *lim,
                   struct guard_jv_doc **out, struct guard_json_error *err);

/* Free the document and every value in it. NULL is fine. */
void guard_jv_doc_free(struct guard_jv_doc *doc);

/* The top-level value, valid until the document is freed. */
const struct guard_jv *guard_jv_doc_root(const struct guard_jv_doc *doc);

/* Values in the document (members count as their value). */
size_t guard_jv_doc_nodes(const struct guard_jv_doc *doc);

/* Accessors. On a value of another type they return false / 0 / NULL. */
enum guard_jv_type guard_jv_type(const struct guard_jv *v);
const char *guard_jv_type_name(enum guard_jv_type t); /* "null", "boolean", ... "object" */
bool guard_jv_bool(const struct guard_jv *v);
double guard_jv_number(const struct guard_jv *v);
const char *guard_jv_number_text(const struct guard_jv *v, size_t *len);
const char *guard_jv_string(const struct guard_jv *v, size_t *len);
size_t guard_jv_array_len(const struct guard_jv *v);
const struct guard_jv *guard_jv_array_at(const struct guard_jv *v, size_t i);
size_t guard_jv_object_len(const struct guard_jv *v);
/* The i-th member in source order. */
const struct guard_jv_member *guard_jv_object_at(const struct guard_jv *v, size_t i);
/* The value of member `key` (len bytes), or NULL. O(log n). */
const struct guard_jv *guard_jv_object_get(const struct guard_jv *v, const char *key, size_t len);

/* Numbers, compared exactly on their decimal text (not on the double): 1, 1.0 and 10e-1 are
 * equal; 9007199254740993 and 9007199254740992 are not. Exponents beyond +-10^15 saturate. */
/* < 0, 0, > 0 as a is below, equal to or above b. Both must be numbers. */
int guard_jv_number_cmp(const struct guard_jv *a, const struct guard_jv *b);
/* True when the number has no fractional part (1.0 and 1e3 are integers). */
bool guard_jv_number_is_integer(const struct guard_jv *v);
/* True when v / divisor is an integer, computed exactly; divisor must be > 0. */
bool guard_jv_number_multiple_of(const struct guard_jv *v, const struct guard_jv *divisor);

/* JSON Schema equality: same type; numbers by value; strings byte for byte; arrays item by
 * item; objects with the same keys and equal values, in any order. */
bool guard_jv_equal(const struct guard_jv *a, const struct guard_jv *b);

/* A hash consistent with guard_jv_equal (equal values hash the same). */
uint64_t guard_jv_hash(const struct guard_jv *v);

/* Compact JSON text of v in a malloc'd, NUL-terminated buffer (*out, length *len; len may be
 * NULL). Numbers keep their source text; members keep their source order. 0 or -ENOMEM. */
int guard_jv_write(const struct guard_jv *v, char **out, size_t *len);

#endif

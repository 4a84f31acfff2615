/* JSON Schema (draft 2020-12) validator: a schema compiled once, instances validated from any
 * number of threads. */
#ifndef WARDEN_GUARDS_SCHEMA_H
#define WARDEN_GUARDS_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guards/json_value.h"

/* Supported: every assertion and applicator of the 2020-12 core, applicator, unevaluated and
 * validation vocabularies ($ref, $dynamicRef, $defs, $id, $anchor, $dynamicAnchor,
 * unevaluatedItems/unevaluatedProperties included); "pattern" in Hyperscan (ECMA-262
 * translated); "format" asserts date-time, date, time, email, uuid, ipv4 and ipv6. What the
 * engine cannot honour ($vocabulary, a $schema other than 2020-12, draft-07 keywords, an
 * unknown keyword, a $ref to a document it was not given) fails the compile instead of being
 * ignored. docs/json-schema.md has the full list. */

/* "format" is only an annotation (the 2020-12 default); without it the formats above assert. */
#define GUARD_SCHEMA_F_FORMAT_ANNOTATION 0x1u
/* Unknown keywords are ignored as annotations (the specification's rule) instead of failing
 * the compile. "x-" keywords are always accepted. */
#define GUARD_SCHEMA_F_IGNORE_UNKNOWN 0x2u

/* Caps of one schema and of one validation. Zero fields take the defaults. */
struct guard_schema_limits {
    size_t max_nodes;    /* subschemas in the schema and its resources; default 10000 */
    size_t max_patterns; /* "pattern" and "patternProperties" regexes; default 256 */
    size_t max_pattern;  /* bytes of one regex; default 1024 */
    unsigned max_depth;  /* nested subschema evaluations (bounds $ref recursion and the C
                          * stack: about 1 KiB each); default 256, at most 1024 */
    uint64_t max_steps;  /* work per validation: subschema evaluations, value comparisons,
                          * regex scans (one per 4 KiB); default 1000000 */
    unsigned flags;      /* GUARD_SCHEMA_F_* */
};

#define GUARD_SCHEMA_DEFAULT_NODES    10000
#define GUARD_SCHEMA_DEFAULT_PATTERNS 256
#define GUARD_SCHEMA_DEFAULT_PATTERN  1024
#define GUARD_SCHEMA_DEFAULT_DEPTH    256
#define GUARD_SCHEMA_MAX_DEPTH        1024
#define GUARD_SCHEMA_DEFAULT_STEPS    1000000u

/* Another document a $ref may point to ("remote" references are never fetched). */
struct guard_schema_resource {
    const char *uri;             /* absolute URI, without fragment */
    const struct guard_jv *root; /* borrowed: must outlive the compiled schema */
};

/* A compiled schema: immutable, shared by every thread. */
struct guard_schema;

/* Compile the schema `root` (borrowed: its document must outlive the schema). `res` lists
 * extra documents reachable by $ref (may be NULL); they are compiled only where referenced.
 * Returns 0 with *out set, or:
 *   -EINVAL  not a valid schema (a keyword with a wrong value, an unresolvable $ref, a regex
 *            Hyperscan cannot compile, a limit above its ceiling);
 *   -ENOTSUP a feature this engine does not implement (message starts "unsupported");
 *   -E2BIG   a cap was exceeded; -ENOMEM.
 * On error err receives a message naming the place as a JSON pointer into the schema, e.g.
 * "unsupported keyword \"$dynamicRef\" at /$defs/node". err may be NULL. */
int guard_schema_new(const struct guard_jv *root, const struct guard_schema_limits *lim,
                     const struct guard_schema_resource *res, size_t n_res,
                     struct guard_schema **out, char *err, size_t errlen);

/* Parse a schema text (jlim caps the document; NULL for defaults) and compile it; the schema
 * owns the parsed document. Errors as guard_schema_new; a text that is not JSON is -EINVAL
 * (or -E2BIG for a cap) with line and column in the message. */
int guard_schema_parse(const char *buf, size_t len, const struct guard_jv_limits *jlim,
                       const struct guard_schema_limits *lim, struct guard_schema **out, char *err,
                       size_t errlen);

/* Free the schema (and the document it owns). NULL is fine. */
void guard_schema_free(struct guard_schema *s);

/* Per-thread scratch for the schema's regexes, to save an allocation per validation. NULL when
 * out of memory. Usable only with the schema it was made for, by one thread at a time. */
struct guard_schema_scratch;
struct guard_schema_scratch *guard_schema_scratch_new(const struct guard_schema *s);
void guard_schema_scratch_free(struct guard_schema_scratch *sc);

/* One reason an instance is invalid. Strings are owned by the result. */
struct guard_schema_violation {
    char *instance;      /* JSON pointer into the instance: "" for the root, "/items/0/name" */
    const char *keyword; /* static: "type", "required", "additionalProperties", "limit" ... */
    char *schema;        /* JSON pointer to the keyword in the schema: "/properties/a/type";
                          * "URI#/pointer" inside an extra resource */
    char *message;       /* "expected integer, got string" */
};

#define GUARD_SCHEMA_VIOLATIONS 16

/* The outcome of one validation: the first GUARD_SCHEMA_VIOLATIONS violations in evaluation
 * order and how many there were in all. Per subschema, assertions on the value itself come
 * first (type, enum, bounds, required ...), then its members and items in source order, then
 * the in-place applicators (allOf, $ref ...). Inside anyOf, oneOf, not, if, contains and
 * propertyNames only the verdict of the whole keyword is reported. */
struct guard_schema_result {
    bool valid;
    bool incomplete; /* a cap (depth, steps) stopped validation: invalid; the last violation
                      * says which cap */
    size_t total;
    size_t n;
    struct guard_schema_violation v[GUARD_SCHEMA_VIOLATIONS];
};

/* Validate `instance` against `s`. `scratch` may be NULL (one is then allocated for the call
 * if a regex is needed). With res == NULL only the verdict is computed, stopping at the first
 * failure; otherwise res is overwritten (free it with guard_schema_result_free). Returns 0
 * valid, 1 invalid, or < 0 (-ENOMEM, -EIO for a Hyperscan failure): then the verdict is
 * unknown and must be treated as invalid. A cap reached is "invalid" (fail closed). */
int guard_schema_validate(const struct guard_schema *s, const struct guard_jv *instance,
                          struct guard_schema_scratch *scratch, struct guard_schema_result *res);

/* Free the strings of a result and zero it. NULL is fine. */
void guard_schema_result_free(struct guard_schema_result *res);

#endif

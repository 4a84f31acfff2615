/* JSON Schema draft 2020-12: a schema document is scanned for identifiers ($id, $anchor),
 * compiled into one keyword list per subschema ($ref resolved to compiled nodes, regexes to
 * Hyperscan block databases), then instances are validated against the lists without looking
 * at the schema's JSON again. */
#include "guards/schema.h"

#include "guards/hs_scan.h"
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#define SCH_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* ==== compiled form ==== */

/* Keyword kinds, in evaluation order: cheap assertions first, the unevaluated* keywords last
 * (they read the annotations of every other keyword of their subschema). */
enum sch_kw_kind {
    KW_TYPE = 0,
    KW_CONST,
    KW_ENUM,
    KW_MINIMUM,
    KW_MAXIMUM,
    KW_EXCL_MINIMUM,
    KW_EXCL_MAXIMUM,
    KW_MULTIPLE_OF,
    KW_MIN_LENGTH,
    KW_MAX_LENGTH,
    KW_FORMAT,
    KW_PATTERN,
    KW_MIN_ITEMS,
    KW_MAX_ITEMS,
    KW_UNIQUE_ITEMS,
    KW_MIN_PROPERTIES,
    KW_MAX_PROPERTIES,
    KW_REQUIRED,
    KW_DEPENDENT_REQUIRED,
    KW_PREFIX_ITEMS,
    KW_ITEMS,
    KW_CONTAINS,
    KW_PROPERTIES,
    KW_PATTERN_PROPERTIES,
    KW_ADDITIONAL_PROPERTIES,
    KW_PROPERTY_NAMES,
    KW_DEPENDENT_SCHEMAS,
    KW_REF,
    KW_DYNAMIC_REF,
    KW_ALL_OF,
    KW_ANY_OF,
    KW_ONE_OF,
    KW_NOT,
    KW_IF,
    KW_UNEVALUATED_ITEMS,
    KW_UNEVALUATED_PROPERTIES,
    KW_COUNT,
    /* Not compiled into keywords of their own: */
    KW_MIN_CONTAINS, /* read by contains */
    KW_MAX_CONTAINS,
    KW_THEN, /* read by if */
    KW_ELSE,
    KW_DEFS,       /* $defs, definitions: subschemas compiled, no assertion */
    KW_SCHEMA_URI, /* $schema: must name draft 2020-12 */
    KW_ID,         /* $id, $anchor: used by the scan */
    KW_ANCHOR,
    KW_ANNOTATION,  /* no effect on validation */
    KW_UNSUPPORTED, /* known, not implemented: the compile fails */
};

enum sch_shape {
    SH_NONE = 0,
    SH_SCHEMA, /* the value is a subschema */
    SH_ARRAY,  /* an array of subschemas */
    SH_MAP,    /* an object whose values are subschemas */
};

/* Instance types as a bit set for "type". */
#define T_NULL    0x01u
#define T_BOOLEAN 0x02u
#define T_OBJECT  0x04u
#define T_ARRAY   0x08u
#define T_NUMBER  0x10u
#define T_STRING  0x20u
#define T_INTEGER 0x40u

enum sch_format {
    FMT_DATE_TIME = 0,
    FMT_DATE,
    FMT_TIME,
    FMT_EMAIL,
    FMT_UUID,
    FMT_IPV4,
    FMT_IPV6,
    FMT_UNKNOWN, /* an annotation only */
};

static const char *const fmt_names[] = {"date-time", "date", "time", "email",
                                        "uuid",      "ipv4", "ipv6"};

/* Where a subschema or keyword sits in its document: a chain of reference tokens up to the
 * document's root, whose token is written as is ("" for the main schema, "URI#" for a
 * resource). Strings are built only when a message needs one. */
struct sch_loc {
    const struct sch_loc *up;
    const char *seg;
    size_t len;
};

struct sch_regex {
    hs_database_t *db;
    const char *src; /* the schema's pattern, NUL-terminated (for messages) */
    size_t src_len;
    struct sch_regex *next;
};

/* A schema resource (a document or a subschema with $id): the unit of $dynamicRef's dynamic
 * scope. */
struct sch_res {
    const char *base;
};

/* A subschema with "$dynamicAnchor": name, a candidate target of $dynamicRef "#name". */
struct sch_dyn {
    const struct sch_res *res;
    struct sch_node *node;
    const struct guard_jv *jv;
    struct sch_dyn *next;
};

enum sch_kind {
    SCH_TRUE = 0,
    SCH_FALSE,
    SCH_OBJECT,
};

struct sch_kw;

struct sch_node {
    enum sch_kind kind;
    bool has_unevaluated; /* collects the annotations of its own keywords */
    const struct sch_loc *loc;
    const struct sch_res *res;
    struct sch_kw *kws;
    size_t n_kws;
};

struct sch_prop {
    const char *key;
    size_t len;
    struct sch_node *node;
};

struct sch_pprop {
    struct sch_regex *re;
    struct sch_node *node;
};

struct sch_dep {
    const char *key;
    size_t len;
    const struct guard_jv *names; /* dependentRequired: array of strings */
    struct sch_node *node;        /* dependentSchemas */
};

struct sch_kw {
    enum sch_kw_kind kind;
    struct sch_loc loc;
    union {
        unsigned types;
        const struct guard_jv *value;
        uint64_t count;
        struct sch_regex *re;
        enum sch_format format;
        struct sch_node *node;
        struct {
            struct sch_node **v;
            size_t n;
        } list;
        struct {
            struct sch_prop *v; /* ordered by key bytes */
            size_t n;
        } props;
        struct {
            struct sch_pprop *v;
            size_t n;
        } pprops;
        struct {
            struct sch_dep *v;
            size_t n;
        } deps;
        struct {
            struct sch_node *node;
            size_t prefix; /* prefixItems count: items starts there */
        } items;
        struct {
            struct sch_node *node;
            uint64_t min, max;
            bool has_max;
        } contains;
        struct {
            struct sch_node *node;
            const struct sch_kw *props, *pprops; /* siblings, or NULL */
        } addl;
        struct {
            struct sch_node *if_, *then_, *else_;
        } cond;
        struct {
            struct sch_node *node; /* the static target */
            const char *uri;       /* absolute, until resolved */
            /* $dynamicRef to an anchor made by $dynamicAnchor: the outermost resource of the
             * dynamic scope holding one of these wins. */
            struct sch_dyn *dyn;
            const char *name; /* the anchor's name, when dynamic */
        } ref;
    } u;
};

struct sch_block {
    struct sch_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct guard_schema {
    struct sch_block *blocks;
    struct sch_node *root;
    struct sch_regex *regexes;
    hs_scratch_t *proto; /* scratch sized for every regex, cloned per thread */
    struct guard_jv_doc *doc;
    struct guard_schema_limits lim;
    size_t n_nodes;
};

struct guard_schema_scratch {
    hs_scratch_t *hs;
};

/* ==== arena ==== */

#define SCH_BLOCK (32u * 1024u)

/* Zeroed memory that lives as long as the schema. */
static void *sch_alloc(struct guard_schema *s, size_t size)
{
    const size_t align = alignof(max_align_t);
    struct sch_block *b = s->blocks;
    size_t cap;
    void *p;

    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    if (b == NULL || b->cap - b->used < size) {
        cap = size > SCH_BLOCK ? size : SCH_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = s->blocks;
        s->blocks = b;
    }
    p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

static char *sch_strdup(struct guard_schema *s, const char *p, size_t n)
{
    char *d = sch_alloc(s, n + 1);

    if (d != NULL && n)
        memcpy(d, p, n);
    return d;
}

/* ==== growable strings ==== */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    size_t cap;
    char *grown;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        grown = realloc(b->p, cap);
        if (grown == NULL) {
            b->oom = true;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void SCH_PRINTF(2, 3) sb_fmt(struct sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON pointer reference token: '~' as "~0", '/' as "~1"; a NUL byte as U+FFFD so that the
 * pointer stays a C string. */
static void sb_token(struct sbuf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '~')
            sb_add(b, "~0", 2);
        else if (s[i] == '/')
            sb_add(b, "~1", 2);
        else if (s[i] == '\0')
            sb_add(b, "\xEF\xBF\xBD", 3);
        else
            sb_add(b, &s[i], 1);
    }
}

/* The JSON pointer of a location, malloc'd (NULL when out of memory). */
static char *loc_string(const struct sch_loc *loc)
{
    const struct sch_loc *l, **chain;
    struct sbuf b = {0};
    size_t n = 0, i;

    for (l = loc; l != NULL; l = l->up)
        n++;
    chain = malloc((n ? n : 1) * sizeof(*chain));
    if (chain == NULL)
        return NULL;
    i = n;
    for (l = loc; l != NULL; l = l->up)
        chain[--i] = l;
    sb_add(&b, "", 0);
    for (i = 0; i < n; i++) {
        if (chain[i]->up == NULL) {
            sb_add(&b, chain[i]->seg, chain[i]->len);
        } else {
            sb_add(&b, "/", 1);
            sb_token(&b, chain[i]->seg, chain[i]->len);
        }
    }
    free(chain);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ==== compile context ==== */

/* What the scan learnt about one subschema (by address of its JSON value). */
struct sc_entry {
    const struct guard_jv *jv;
    const char *base; /* base URI, without fragment */
    const struct sch_loc *loc;
    struct sch_node *node; /* once compiled */
};

struct sc_pmap {
    struct sc_entry **slots;
    size_t cap, n;
};

struct sc_sentry {
    const char *key;
    size_t len;
    const struct guard_jv *jv;
    struct sch_res *res; /* the resources map */
};

struct sc_smap {
    struct sc_sentry *slots;
    size_t cap, n;
};

struct sc_ref {
    struct sch_kw *kw; /* in its node's final keyword array */
};

struct sc_dyn_ref {
    struct sch_kw *kw;
    struct sc_dyn_ref *next;
};

struct sc {
    struct guard_schema *s;
    unsigned flags;
    int rc;
    char *err;
    size_t errlen;
    struct sc_pmap entries;
    struct sc_smap ids;          /* URI -> resource root */
    struct sc_smap anchors;      /* URI#name -> subschema ($anchor and $dynamicAnchor) */
    struct sc_smap dynanchors;   /* URI#name -> subschema ($dynamicAnchor only) */
    struct sc_smap resources;    /* base URI -> struct sch_res */
    struct sc_ref *refs;         /* $ref keywords waiting for their target */
    struct sc_dyn_ref *dyn_refs; /* $dynamicRef keywords with a dynamic target */
    size_t n_refs, cap_refs;
    size_t n_patterns;
};

static int SCH_PRINTF(4, 5)
    sc_fail(struct sc *c, int rc, const struct sch_loc *loc, const char *fmt, ...)
{
    char *where = NULL;
    va_list ap;
    size_t n;

    if (c->rc != 0)
        return c->rc;
    c->rc = rc;
    if (c->err == NULL || c->errlen == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    if (loc != NULL) {
        where = loc_string(loc);
        n = strlen(c->err);
        if (where != NULL && n < c->errlen)
            snprintf(c->err + n, c->errlen - n, " at %s", where[0] ? where : "the root");
        free(where);
    }
    return rc;
}

static int sc_oom(struct sc *c)
{
    return sc_fail(c, -ENOMEM, NULL, "out of memory");
}

static uint64_t sc_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static size_t sc_hash_ptr(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;

    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x;
}

static struct sc_entry *pmap_get(const struct sc_pmap *m, const struct guard_jv *jv)
{
    size_t i;

    if (m->cap == 0)
        return NULL;
    for (i = sc_hash_ptr(jv) & (m->cap - 1); m->slots[i] != NULL; i = (i + 1) & (m->cap - 1))
        if (m->slots[i]->jv == jv)
            return m->slots[i];
    return NULL;
}

static int pmap_put(struct sc_pmap *m, struct sc_entry *e)
{
    struct sc_entry **old = m->slots;
    size_t old_cap = m->cap, i, j;

    if ((m->n + 1) * 2 > m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->slots = calloc(m->cap, sizeof(*m->slots));
        if (m->slots == NULL) {
            m->slots = old;
            m->cap = old_cap;
            return -ENOMEM;
        }
        for (j = 0; j < old_cap; j++) {
            if (old[j] == NULL)
                continue;
            for (i = sc_hash_ptr(old[j]->jv) & (m->cap - 1); m->slots[i] != NULL;
                 i = (i + 1) & (m->cap - 1))
                ;
            m->slots[i] = old[j];
        }
        free(old);
    }
    for (i = sc_hash_ptr(e->jv) & (m->cap - 1); m->slots[i] != NULL; i = (i + 1) & (m->cap - 1))
        ;
    m->slots[i] = e;
    m->n++;
    return 0;
}

static const struct sc_sentry *smap_get(const struct sc_smap *m, const char *key, size_t len)
{
    size_t i;

    if (m->cap == 0)
        return NULL;
    for (i = sc_hash_bytes(key, len) & (m->cap - 1); m->slots[i].key != NULL;
         i = (i + 1) & (m->cap - 1))
        if (m->slots[i].len == len && memcmp(m->slots[i].key, key, len) == 0)
            return &m->slots[i];
    return NULL;
}

/* Add key -> jv (the key must live as long as the map). The new entry, or NULL. */
static struct sc_sentry *smap_put(struct sc_smap *m, const char *key, size_t len,
                                  const struct guard_jv *jv)
{
    struct sc_sentry *old = m->slots;
    size_t old_cap = m->cap, i, j;

    if ((m->n + 1) * 2 > m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->slots = calloc(m->cap, sizeof(*m->slots));
        if (m->slots == NULL) {
            m->slots = old;
            m->cap = old_cap;
            return NULL;
        }
        for (j = 0; j < old_cap; j++) {
            if (old[j].key == NULL)
                continue;
            for (i = sc_hash_bytes(old[j].key, old[j].len) & (m->cap - 1); m->slots[i].key != NULL;
                 i = (i + 1) & (m->cap - 1))
                ;
            m->slots[i] = old[j];
        }
        free(old);
    }
    for (i = sc_hash_bytes(key, len) & (m->cap - 1); m->slots[i].key != NULL;
         i = (i + 1) & (m->cap - 1))
        ;
    m->slots[i].key = key;
    m->slots[i].len = len;
    m->slots[i].jv = jv;
    m->n++;
    return &m->slots[i];
}

static const struct sch_loc *sc_loc(struct sc *c, const struct sch_loc *up, const char *seg,
                                    size_t len)
{
    struct sch_loc *l = sch_alloc(c->s, sizeof(*l));

    if (l == NULL)
        return NULL;
    l->up = up;
    l->seg = seg;
    l->len = len;
    return l;
}

/* The location of item i of an array, with the index as its token. */
static const struct sch_loc *sc_loc_index(struct sc *c, const struct sch_loc *up, size_t i)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%zu", i);
    char *seg = sch_strdup(c->s, tmp, (size_t)n);

    return seg ? sc_loc(c, up, seg, (size_t)n) : NULL;
}

/* ==== URI references (RFC 3986) ==== */

struct uri_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
    bool has_scheme, has_auth, has_query, has_frag;
};

static void uri_split(const char *s, size_t n, struct uri_parts *u)
{
    size_t i = 0, j;

    memset(u, 0, sizeof(*u));
    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (n > 0 && ((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
        for (j = 1; j < n; j++) {
            char ch = s[j];

            if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' || ch == '.'))
                break;
        }
        if (j < n && s[j] == ':') {
            u->has_scheme = true;
            u->scheme = s;
            u->scheme_len = j;
            i = j + 1;
        }
    }
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        u->has_auth = true;
        i += 2;
        for (j = i; j < n && s[j] != '/' && s[j] != '?' && s[j] != '#'; j++)
            ;
        u->auth = s + i;
        u->auth_len = j - i;
        i = j;
    }
    for (j = i; j < n && s[j] != '?' && s[j] != '#'; j++)
        ;
    u->path = s + i;
    u->path_len = j - i;
    i = j;
    if (i < n && s[i] == '?') {
        for (j = i + 1; j < n && s[j] != '#'; j++)
            ;
        u->has_query = true;
        u->query = s + i + 1;
        u->query_len = j - i - 1;
        i = j;
    }
    if (i < n && s[i] == '#') {
        u->has_frag = true;
        u->frag = s + i + 1;
        u->frag_len = n - i - 1;
    }
}

/* RFC 3986 5.2.4, appending the result to out. */
static void uri_remove_dots(struct sbuf *out, const char *p, size_t n)
{
    struct sbuf b = {0};
    size_t i = 0, k;

    sb_add(&b, "", 0);
    while (i < n && !b.oom) {
        if (n - i >= 3 && memcmp(p + i, "../", 3) == 0) {
            i += 3;
        } else if (n - i >= 2 && memcmp(p + i, "./", 2) == 0) {
            i += 2;
        } else if ((n - i >= 3 && memcmp(p + i, "/./", 3) == 0)) {
            i += 2;
        } else if (n - i == 2 && memcmp(p + i, "/.", 2) == 0) {
            i += 1;
            sb_add(&b, "/", 1);
            i = n;
        } else if ((n - i >= 4 && memcmp(p + i, "/../", 4) == 0) ||
                   (n - i == 3 && memcmp(p + i, "/..", 3) == 0)) {
            i += 3;
            /* Drop the last segment written, with its leading '/'. */
            for (k = b.len; k > 0 && b.p[k - 1] != '/'; k--)
                ;
            b.len = k > 0 ? k - 1 : 0;
            b.p[b.len] = '\0';
            if (i >= n)
                sb_add(&b, "/", 1); /* else p[i] is the '/' that starts the next segment */
        } else if ((n - i == 1 && p[i] == '.') || (n - i == 2 && memcmp(p + i, "..", 2) == 0)) {
            i = n;
        } else {
            k = i;
            if (p[k] == '/')
                k++;
            while (k < n && p[k] != '/')
                k++;
            sb_add(&b, p + i, k - i);
            i = k;
        }
    }
    if (b.oom)
        out->oom = true;
    else
        sb_add(out, b.p, b.len);
    free(b.p);
}

/* Resolve reference r against base (RFC 3986 5.2.2) into a malloc'd string, or NULL. */
static char *uri_resolve(const char *base, const char *r, size_t rlen)
{
    struct uri_parts b, u;
    struct sbuf o = {0};
    size_t k;

    uri_split(base, strlen(base), &b);
    uri_split(r, rlen, &u);
    sb_add(&o, "", 0);
    if (u.has_scheme) {
        sb_add(&o, u.scheme, u.scheme_len);
        sb_add(&o, ":", 1);
        if (u.has_auth) {
            sb_add(&o, "//", 2);
            sb_add(&o, u.auth, u.auth_len);
        }
        uri_remove_dots(&o, u.path, u.path_len);
        if (u.has_query) {
            sb_add(&o, "?", 1);
            sb_add(&o, u.query, u.query_len);
        }
    } else {
        if (b.has_scheme) {
            sb_add(&o, b.scheme, b.scheme_len);
            sb_add(&o, ":", 1);
        }
        if (u.has_auth) {
            sb_add(&o, "//", 2);
            sb_add(&o, u.auth, u.auth_len);
            uri_remove_dots(&o, u.path, u.path_len);
            if (u.has_query) {
                sb_add(&o, "?", 1);
                sb_add(&o, u.query, u.query_len);
            }
        } else {
            if (b.has_auth) {
                sb_add(&o, "//", 2);
                sb_add(&o, b.auth, b.auth_len);
            }
            if (u.path_len == 0) {
                sb_add(&o, b.path, b.path_len);
                if (u.has_query || b.has_query) {
                    sb_add(&o, "?", 1);
                    if (u.has_query)
                        sb_add(&o, u.query, u.query_len);
                    else
                        sb_add(&o, b.query, b.query_len);
                }
            } else {
                if (u.path[0] == '/') {
                    uri_remove_dots(&o, u.path, u.path_len);
                } else {
                    /* merge: the base path up to its last '/', then the reference */
                    struct sbuf m = {0};

                    if (b.has_auth && b.path_len == 0) {
                        sb_add(&m, "/", 1);
                    } else {
                        for (k = b.path_len; k > 0 && b.path[k - 1] != '/'; k--)
                            ;
                        sb_add(&m, b.path, k);
                    }
                    sb_add(&m, u.path, u.path_len);
                    if (m.oom)
                        o.oom = true;
                    else
                        uri_remove_dots(&o, m.p, m.len);
                    free(m.p);
                }
                if (u.has_query) {
                    sb_add(&o, "?", 1);
                    sb_add(&o, u.query, u.query_len);
                }
            }
        }
    }
    if (u.has_frag) {
        sb_add(&o, "#", 1);
        sb_add(&o, u.frag, u.frag_len);
    }
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    return o.p;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decode s into out; false on a bad escape. */
static bool uri_unescape(struct sbuf *out, const char *s, size_t n)
{
    size_t i;
    char ch;

    sb_add(out, "", 0);
    for (i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
                return false;
            ch = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            sb_add(out, &ch, 1);
            i += 2;
        } else {
            sb_add(out, &s[i], 1);
        }
    }
    return true;
}

/* ==== regular expressions: ECMA-262 to Hyperscan ==== */

/* ECMA-262 classes spelt as code point ranges (Hyperscan's \d \w \s follow Unicode under
 * HS_FLAG_UCP; ECMA's \d and \w are ASCII, its \s is a fixed list). */
#define RE_DIGIT     "0-9"
#define RE_NOT_DIGIT "\\x{0}-/:-\\x{10ffff}"
#define RE_WORD      "0-9A-Z_a-z"
#define RE_NOT_WORD  "\\x{0}-/:-@\\[-\\^`{-\\x{10ffff}"
#define RE_SPACE                                                                                  \
    "\\x{9}-\\x{d}\\x{20}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}" \
    "\\x{3000}\\x{feff}"
#define RE_NOT_SPACE                                                                 \
    "\\x{0}-\\x{8}\\x{e}-\\x{1f}\\x{21}-\\x{9f}\\x{a1}-\\x{167f}\\x{1681}-\\x{1fff}" \
    "\\x{200b}-\\x{2027}\\x{202a}-\\x{202e}\\x{2030}-\\x{205e}\\x{2060}-\\x{2fff}"   \
    "\\x{3001}-\\x{fefe}\\x{ff00}-\\x{10ffff}"
/* ECMA's '.' stops at every line terminator, PCRE's only at '\n'. */
#define RE_DOT "[^\\x{a}\\x{d}\\x{2028}\\x{2029}]"
/* Larger counted repeats make Hyperscan compile slowly (or not at all). */
#define RE_MAX_REPEAT 1000

struct re_tr {
    const char *p;
    size_t n, i;
    struct sbuf *o;
    bool word_boundary; /* \b or \B seen: ECMA's are ASCII, so compile without UCP */
    const char *why;
};

/* Long Unicode general category names (ECMA-262 accepts both) to the short ones PCRE knows. */
static const char *const re_categories[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Unassigned", "Cn"},
    {"Private_Use", "Co"},
    {"Surrogate", "Cs"},
};

static void re_codepoint(struct re_tr *t, uint32_t cp)
{
    sb_fmt(t->o, "\\x{%x}", (unsigned)cp);
}

/* \p{...} / \P{...}: t->i is at the 'p'. */
static int re_property(struct re_tr *t)
{
    const char *name, *eq;
    size_t len, k, i;
    char kind = t->p[t->i];

    if (t->i + 1 >= t->n || t->p[t->i + 1] != '{') {
        t->why = "\\p must be followed by {name}";
        return -EINVAL;
    }
    name = t->p + t->i + 2;
    for (len = 0; t->i + 2 + len < t->n && name[len] != '}'; len++)
        ;
    if (t->i + 2 + len >= t->n || len == 0) {
        t->why = "unterminated \\p{...}";
        return -EINVAL;
    }
    t->i += 2 + len; /* at the '}' */
    eq = memchr(name, '=', len);
    if (eq != NULL) {
        k = (size_t)(eq - name);
        /* Script=X, sc=X, Script_Extensions=X, scx=X: PCRE spells them \p{X}. */
        if ((k == 6 && memcmp(name, "Script", 6) == 0) || (k == 2 && memcmp(name, "sc", 2) == 0) ||
            (k == 17 && memcmp(name, "Script_Extensions", 17) == 0) ||
            (k == 3 && memcmp(name, "scx", 3) == 0)) {
            name = eq + 1;
            len -= k + 1;
        } else if ((k == 16 && memcmp(name, "General_Category", 16) == 0) ||
                   (k == 2 && memcmp(name, "gc", 2) == 0)) {
            name = eq + 1;
            len -= k + 1;
        } else {
            t->why = "unsupported Unicode property";
            return -EINVAL;
        }
    }
    for (i = 0; i < sizeof(re_categories) / sizeof(re_categories[0]); i++) {
        if (strlen(re_categories[i][0]) == len && memcmp(re_categories[i][0], name, len) == 0) {
            name = re_categories[i][1];
            len = strlen(name);
            break;
        }
    }
    sb_add(t->o, kind == 'P' ? "\\P{" : "\\p{", 3);
    sb_add(t->o, name, len);
    sb_add(t->o, "}", 1);
    return 0;
}

/* \u escapes: \uXXXX (a surrogate pair of them is one character) and \u{X...}. t->i is at the
 * 'u'. */
static int re_unicode(struct re_tr *t, uint32_t *cp)
{
    const char *p = t->p;
    uint32_t v = 0, lo = 0;
    size_t i = t->i + 1, k;

    if (i < t->n && p[i] == '{') {
        for (k = i + 1; k < t->n && hexval(p[k]) >= 0 && v <= 0x10FFFF; k++)
            v = v * 16 + (uint32_t)hexval(p[k]);
        if (k == i + 1 || k >= t->n || p[k] != '}' || v > 0x10FFFF)
            goto bad;
        t->i = k;
        *cp = v;
        return 0;
    }
    if (t->n - i < 4)
        goto bad;
    for (k = 0; k < 4; k++) {
        if (hexval(p[i + k]) < 0)
            goto bad;
        v = v * 16 + (uint32_t)hexval(p[i + k]);
    }
    t->i = i + 3;
    if (v >= 0xD800 && v <= 0xDBFF && t->n - t->i >= 7 && p[t->i + 1] == '\\' &&
        p[t->i + 2] == 'u') {
        for (k = 0; k < 4 && hexval(p[t->i + 3 + k]) >= 0; k++)
            lo = lo * 16 + (uint32_t)hexval(p[t->i + 3 + k]);
        if (k == 4 && lo >= 0xDC00 && lo <= 0xDFFF) {
            v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00);
            t->i += 6;
        }
    }
    if (v >= 0xD800 && v <= 0xDFFF) {
        t->why = "lone surrogate in \\u escape";
        return -EINVAL;
    }
    *cp = v;
    return 0;
bad:
    t->why = "invalid \\u escape";
    return -EINVAL;
}

/* One escape; t->i is at the backslash and ends on the escape's last byte. */
static int re_escape(struct re_tr *t, bool in_class)
{
    uint32_t cp;
    char ch;
    int rc = 0;

    if (++t->i >= t->n) {
        t->why = "pattern ends with a backslash";
        return -EINVAL;
    }
    ch = t->p[t->i];
    switch (ch) {
    case 'd':
        sb_str(t->o, in_class ? RE_DIGIT : "[" RE_DIGIT "]");
        break;
    case 'D':
        sb_str(t->o, in_class ? RE_NOT_DIGIT : "[^" RE_DIGIT "]");
        break;
    case 'w':
        sb_str(t->o, in_class ? RE_WORD : "[" RE_WORD "]");
        break;
    case 'W':
        sb_str(t->o, in_class ? RE_NOT_WORD : "[^" RE_WORD "]");
        break;
    case 's':
        sb_str(t->o, in_class ? RE_SPACE : "[" RE_SPACE "]");
        break;
    case 'S':
        sb_str(t->o, in_class ? RE_NOT_SPACE : "[^" RE_SPACE "]");
        break;
    case 'b':
    case 'B':
        if (in_class && ch == 'b') {
            re_codepoint(t, 8); /* backspace */
        } else {
            t->word_boundary = true;
            sb_add(t->o, ch == 'b' ? "\\b" : "\\B", 2);
        }
        break;
    case 'f':
        re_codepoint(t, 0xC);
        break;
    case 'n':
        re_codepoint(t, 0xA);
        break;
    case 'r':
        re_codepoint(t, 0xD);
        break;
    case 't':
        re_codepoint(t, 0x9);
        break;
    case 'v':
        re_codepoint(t, 0xB); /* PCRE's \v is a class */
        break;
    case 'c':
        if (t->i + 1 < t->n && ((t->p[t->i + 1] | 0x20) >= 'a' && (t->p[t->i + 1] | 0x20) <= 'z')) {
            t->i++;
            re_codepoint(t, (uint32_t)(t->p[t->i] & 0x1F));
        } else {
            sb_add(t->o, "\\\\c", 3);
        }
        break;
    case 'x':
        if (t->n - t->i > 2 && hexval(t->p[t->i + 1]) >= 0 && hexval(t->p[t->i + 2]) >= 0) {
            re_codepoint(t, (uint32_t)(hexval(t->p[t->i + 1]) * 16 + hexval(t->p[t->i + 2])));
            t->i += 2;
        } else {
            sb_add(t->o, "x", 1);
        }
        break;
    case 'u':
        rc = re_unicode(t, &cp);
        if (rc == 0)
            re_codepoint(t, cp);
        break;
    case 'p':
    case 'P':
        rc = re_property(t);
        break;
    case '0':
        if (t->i + 1 < t->n && t->p[t->i + 1] >= '0' && t->p[t->i + 1] <= '9') {
            t->why = "octal escapes are not supported";
            rc = -EINVAL;
        } else {
            re_codepoint(t, 0);
        }
        break;
    case 'k':
        t->why = "back-references are not supported";
        rc = -EINVAL;
        break;
    default:
        if (ch >= '1' && ch <= '9') {
            t->why =
                in_class ? "octal escapes are not supported" : "back-references are not supported";
            rc = -EINVAL;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
            /* An identity escape of a letter is the letter (PCRE gives many of them a
             * meaning, ECMA-262 outside unicode mode does not). */
            sb_add(t->o, &ch, 1);
        } else if ((unsigned char)ch >= 0x80) {
            /* An escaped non-ASCII character is the character: copy its bytes. */
            size_t k = t->i + 1;

            while (k < t->n && ((unsigned char)t->p[k] & 0xC0) == 0x80)
                k++;
            sb_add(t->o, t->p + t->i, k - t->i);
            t->i = k - 1;
        } else if (ch == '\0') {
            re_codepoint(t, 0);
        } else {
            sb_add(t->o, "\\", 1);
            sb_add(t->o, &ch, 1);
        }
        break;
    }
    return rc;
}

/* A quantifier {n}, {n,} or {n,m} at t->i: 1 copied, 0 not a quantifier (a literal '{'). */
static int re_brace(struct re_tr *t)
{
    size_t k = t->i + 1, digits = 0;
    unsigned long v = 0;
    bool comma = false;

    for (; k < t->n; k++) {
        char ch = t->p[k];

        if (ch >= '0' && ch <= '9') {
            if (v <= RE_MAX_REPEAT)
                v = v * 10 + (unsigned long)(ch - '0');
            digits++;
        } else if (ch == ',' && !comma && digits > 0) {
            comma = true;
            if (v > RE_MAX_REPEAT)
                break;
            v = 0;
        } else {
            break;
        }
    }
    if (k >= t->n || t->p[k] != '}' || digits == 0 || (!comma && t->p[k - 1] == ','))
        return 0;
    if (v > RE_MAX_REPEAT || (comma && t->p[k - 1] != ',' && v > RE_MAX_REPEAT)) {
        t->why = "counted repeat above 1000";
        return -EINVAL;
    }
    sb_add(t->o, t->p + t->i, k - t->i + 1);
    t->i = k;
    return 1;
}

static int re_class(struct re_tr *t)
{
    bool negated = false;
    int rc = 0;

    t->i++;
    if (t->i < t->n && t->p[t->i] == '^') {
        negated = true;
        t->i++;
    }
    if (t->i < t->n && t->p[t->i] == ']') {
        /* ECMA-262: [] matches nothing, [^] any character. */
        if (!negated) {
            t->why = "the empty class [] never matches";
            return -EINVAL;
        }
        sb_str(t->o, "[\\x{0}-\\x{10ffff}]");
        return 0;
    }
    sb_add(t->o, negated ? "[^" : "[", negated ? 2 : 1);
    for (; t->i < t->n && rc == 0; t->i++) {
        char ch = t->p[t->i];

        if (ch == ']') {
            sb_add(t->o, "]", 1);
            return 0;
        }
        if (ch == '\\')
            rc = re_escape(t, true);
        else if (ch == '[')
            sb_add(t->o, "\\[", 2); /* not a POSIX class in ECMA-262 */
        else if (ch == '\0')
            re_codepoint(t, 0);
        else
            sb_add(t->o, &ch, 1);
    }
    if (rc == 0) {
        t->why = "unterminated character class";
        rc = -EINVAL;
    }
    return rc;
}

/* Translate an ECMA-262 pattern into Hyperscan's PCRE dialect. */
static int re_translate(struct re_tr *t)
{
    int rc = 0;

    sb_add(t->o, "", 0);
    for (t->i = 0; t->i < t->n && rc >= 0; t->i++) {
        char ch = t->p[t->i];

        switch (ch) {
        case '\\':
            rc = re_escape(t, false);
            break;
        case '[':
            rc = re_class(t);
            break;
        case '.':
            sb_str(t->o, RE_DOT);
            break;
        case '$':
            sb_add(t->o, "\\z", 2); /* PCRE's '$' also matches before a final newline */
            break;
        case '{':
            rc = re_brace(t);
            if (rc == 0)
                sb_add(t->o, "\\{", 2);
            break;
        case '}':
            sb_add(t->o, "\\}", 2);
            break;
        case ']':
            sb_add(t->o, "\\]", 2);
            break;
        case '\0':
            re_codepoint(t, 0);
            break;
        default:
            sb_add(t->o, &ch, 1);
            break;
        }
    }
    if (rc > 0)
        rc = 0;
    if (t->o->oom)
        rc = -ENOMEM;
    return rc;
}

/* Compile one pattern (a string of the schema) into c->s's regex list. */
static int sc_regex(struct sc *c, const char *src, size_t len, const struct sch_loc *loc,
                    struct sch_regex **out)
{
    const struct guard_schema_limits *lim = &c->s->lim;
    struct sbuf b = {0};
    struct re_tr t = {.p = src, .n = len, .o = &b};
    hs_compile_error_t *cerr = NULL;
    struct sch_regex *re;
    unsigned flags = HS_FLAG_UTF8 | HS_FLAG_UCP | HS_FLAG_ALLOWEMPTY | HS_FLAG_SINGLEMATCH;
    int rc;

    if (++c->n_patterns > lim->max_patterns)
        return sc_fail(c, -E2BIG, loc, "more than %zu regexes", lim->max_patterns);
    if (len > lim->max_pattern)
        return sc_fail(c, -E2BIG, loc, "regex longer than %zu bytes", lim->max_pattern);
    re = sch_alloc(c->s, sizeof(*re));
    if (re == NULL)
        return sc_oom(c);
    re->src = sch_strdup(c->s, src, len);
    re->src_len = len;
    if (re->src == NULL)
        return sc_oom(c);
    rc = re_translate(&t);
    if (rc == -ENOMEM) {
        rc = sc_oom(c);
        goto out;
    }
    if (rc < 0) {
        rc = sc_fail(c, -EINVAL, loc, "invalid regex \"%.*s\": %s", (int)(len > 200 ? 200 : len),
                     src, t.why);
        goto out;
    }
    /* ECMA-262's \b is about ASCII word characters, which is Hyperscan's \b without UCP (UCP
     * only changes \b here: \d \w \s were spelt out above). */
    if (t.word_boundary)
        flags &= ~(unsigned)HS_FLAG_UCP;
    if (hs_compile(b.p, flags, HS_MODE_BLOCK, NULL, &re->db, &cerr) != HS_SUCCESS) {
        rc = sc_fail(c, -EINVAL, loc, "regex \"%.*s\" not supported by Hyperscan: %s",
                     (int)(len > 200 ? 200 : len), src, cerr ? cerr->message : "compile error");
        hs_free_compile_error(cerr);
        goto out;
    }
    re->next = c->s->regexes;
    c->s->regexes = re;
    if (hs_alloc_scratch(re->db, &c->s->proto) != HS_SUCCESS) {
        rc = sc_oom(c);
        goto out;
    }
    *out = re;
    rc = 0;
out:
    free(b.p);
    return rc;
}

/* ==== formats ==== */

static bool fmt_digits(const char *s, size_t n, unsigned *v)
{
    size_t i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

/* full-date: YYYY-MM-DD with the day checked against the month (RFC 3339 5.6, 5.7). */
static bool fmt_date(const char *s, size_t n)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, m, d, max;

    if (n != 10 || s[4] != '-' || s[7] != '-' || !fmt_digits(s, 4, &y) ||
        !fmt_digits(s + 5, 2, &m) || !fmt_digits(s + 8, 2, &d))
        return false;
    if (m < 1 || m > 12 || d < 1)
        return false;
    max = mdays[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        max = 29;
    return d <= max;
}

/* full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); a leap second only at 23:59:60 UTC. */
static bool fmt_time(const char *s, size_t n)
{
    unsigned h, m, sec, oh = 0, om = 0;
    size_t i = 8;
    int sign = 0, utc;

    if (n < 9 || s[2] != ':' || s[5] != ':' || !fmt_digits(s, 2, &h) || !fmt_digits(s + 3, 2, &m) ||
        !fmt_digits(s + 6, 2, &sec))
        return false;
    if (h > 23 || m > 59 || sec > 60)
        return false;
    if (s[i] == '.') {
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == 9)
            return false;
    }
    if (i >= n)
        return false;
    if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == n) {
        sign = 0;
    } else if ((s[i] == '+' || s[i] == '-') && n - i == 6 && s[i + 3] == ':' &&
               fmt_digits(s + i + 1, 2, &oh) && fmt_digits(s + i + 4, 2, &om)) {
        if (oh > 23 || om > 59)
            return false;
        sign = s[i] == '+' ? 1 : -1;
    } else {
        return false;
    }
    if (sec == 60) {
        utc = (int)(h * 60 + m) - sign * (int)(oh * 60 + om);
        utc = ((utc % 1440) + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

static bool fmt_date_time(const char *s, size_t n)
{
    return n > 11 && (s[10] == 'T' || s[10] == 't') && fmt_date(s, 10) && fmt_time(s + 11, n - 11);
}

static bool fmt_uuid(const char *s, size_t n)
{
    size_t i;

    if (n != 36)
        return false;
    for (i = 0; i < n; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (hexval(s[i]) < 0) {
            return false;
        }
    }
    return true;
}

/* Dotted-quad, four decimal octets without leading zeros. */
static bool fmt_ipv4(const char *s, size_t n)
{
    size_t i = 0, start;
    unsigned v;
    int part;

    for (part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= n || s[i] != '.')
                return false;
            i++;
        }
        start = i;
        while (i < n && i - start < 4 && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start || i - start > 3 || (i - start > 1 && s[start] == '0'))
            return false;
        fmt_digits(s + start, i - start, &v);
        if (v > 255)
            return false;
    }
    return i == n;
}

/* RFC 4291 2.2 text forms: eight groups, one "::" for a run of zero groups, an IPv4 tail. */
static bool fmt_ipv6(const char *s, size_t n)
{
    size_t i = 0, start, groups = 0;
    bool gap = false;

    if (n < 2)
        return false;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        gap = true;
        i = 2;
        if (i == n)
            return true;
    }
    for (;;) {
        start = i;
        while (i < n && hexval(s[i]) >= 0 && i - start < 5)
            i++;
        if (i < n && s[i] == '.') {
            /* The IPv4 tail takes two groups and ends the address. */
            if (!fmt_ipv4(s + start, n - start))
                return false;
            groups += 2;
            break;
        }
        if (i == start || i - start > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (gap)
                return false;
            gap = true;
            i++;
            if (i == n)
                break;
        } else if (i == n) {
            return false; /* a single trailing ':' */
        }
    }
    return gap ? groups <= 7 : groups == 8;
}

/* A domain name of LDH labels (RFC 1034 3.5, RFC 1123 2.1). */
static bool fmt_hostname(const char *s, size_t n)
{
    size_t i, start = 0;

    if (n == 0 || n > 253)
        return false;
    for (i = 0; i <= n; i++) {
        if (i == n || s[i] == '.') {
            if (i == start || i - start > 63 || s[start] == '-' || s[i - 1] == '-')
                return false;
            start = i + 1;
        } else if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '-')) {
            return false;
        }
    }
    return true;
}

/* RFC 5321 4.1.2 Mailbox: a dot-atom or quoted local part, then a domain or an address
 * literal. */
static bool fmt_email(const char *s, size_t n)
{
    static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
    size_t i = 0, at;
    bool dot_ok = false;

    if (n == 0)
        return false;
    if (s[0] == '"') {
        for (i = 1; i < n && s[i] != '"'; i++) {
            if (s[i] == '\\') {
                i++;
                if (i >= n || s[i] < 32 || s[i] > 126)
                    return false;
            } else if (s[i] < 32 || s[i] > 126) {
                return false;
            }
        }
        if (i >= n || i == 1)
            return false;
        at = i + 1;
    } else {
        for (i = 0; i < n && s[i] != '@'; i++) {
            char ch = s[i];

            if (ch == '.') {
                if (!dot_ok)
                    return false;
                dot_ok = false;
            } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                       (ch >= '0' && ch <= '9') || (ch != '\0' && strchr(atext, ch) != NULL)) {
                dot_ok = true;
            } else {
                return false;
            }
        }
        if (!dot_ok) /* empty, or ends with a dot */
            return false;
        at = i;
    }
    if (at >= n || s[at] != '@' || at > 64)
        return false;
    s += at + 1;
    n -= at + 1;
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        if (n > 7 && memcmp(s + 1, "IPv6:", 5) == 0)
            return fmt_ipv6(s + 6, n - 7);
        return fmt_ipv4(s + 1, n - 2);
    }
    return fmt_hostname(s, n);
}

static bool fmt_check(enum sch_format f, const char *s, size_t n)
{
    switch (f) {
    case FMT_DATE_TIME:
        return fmt_date_time(s, n);
    case FMT_DATE:
        return fmt_date(s, n);
    case FMT_TIME:
        return fmt_time(s, n);
    case FMT_EMAIL:
        return fmt_email(s, n);
    case FMT_UUID:
        return fmt_uuid(s, n);
    case FMT_IPV4:
        return fmt_ipv4(s, n);
    case FMT_IPV6:
        return fmt_ipv6(s, n);
    case FMT_UNKNOWN:
        break;
    }
    return true;
}

/* ==== keyword table ==== */

struct sc_kwdef {
    const char *name;
    enum sch_kw_kind kind;
    enum sch_shape shape;
};

static const struct sc_kwdef sc_kwdefs[] = {
    {"type", KW_TYPE, SH_NONE},
    {"const", KW_CONST, SH_NONE},
    {"enum", KW_ENUM, SH_NONE},
    {"minimum", KW_MINIMUM, SH_NONE},
    {"maximum", KW_MAXIMUM, SH_NONE},
    {"exclusiveMinimum", KW_EXCL_MINIMUM, SH_NONE},
    {"exclusiveMaximum", KW_EXCL_MAXIMUM, SH_NONE},
    {"multipleOf", KW_MULTIPLE_OF, SH_NONE},
    {"minLength", KW_MIN_LENGTH, SH_NONE},
    {"maxLength", KW_MAX_LENGTH, SH_NONE},
    {"format", KW_FORMAT, SH_NONE},
    {"pattern", KW_PATTERN, SH_NONE},
    {"minItems", KW_MIN_ITEMS, SH_NONE},
    {"maxItems", KW_MAX_ITEMS, SH_NONE},
    {"uniqueItems", KW_UNIQUE_ITEMS, SH_NONE},
    {"minProperties", KW_MIN_PROPERTIES, SH_NONE},
    {"maxProperties", KW_MAX_PROPERTIES, SH_NONE},
    {"required", KW_REQUIRED, SH_NONE},
    {"dependentRequired", KW_DEPENDENT_REQUIRED, SH_NONE},
    {"prefixItems", KW_PREFIX_ITEMS, SH_ARRAY},
    {"items", KW_ITEMS, SH_SCHEMA},
    {"contains", KW_CONTAINS, SH_SCHEMA},
    {"minContains", KW_MIN_CONTAINS, SH_NONE},
    {"maxContains", KW_MAX_CONTAINS, SH_NONE},
    {"properties", KW_PROPERTIES, SH_MAP},
    {"patternProperties", KW_PATTERN_PROPERTIES, SH_MAP},
    {"additionalProperties", KW_ADDITIONAL_PROPERTIES, SH_SCHEMA},
    {"propertyNames", KW_PROPERTY_NAMES, SH_SCHEMA},
    {"dependentSchemas", KW_DEPENDENT_SCHEMAS, SH_MAP},
    {"$ref", KW_REF, SH_NONE},
    {"$dynamicRef", KW_DYNAMIC_REF, SH_NONE},
    {"$dynamicAnchor", KW_ANCHOR, SH_NONE},
    {"allOf", KW_ALL_OF, SH_ARRAY},
    {"anyOf", KW_ANY_OF, SH_ARRAY},
    {"oneOf", KW_ONE_OF, SH_ARRAY},
    {"not", KW_NOT, SH_SCHEMA},
    {"if", KW_IF, SH_SCHEMA},
    {"then", KW_THEN, SH_SCHEMA},
    {"else", KW_ELSE, SH_SCHEMA},
    {"unevaluatedItems", KW_UNEVALUATED_ITEMS, SH_SCHEMA},
    {"unevaluatedProperties", KW_UNEVALUATED_PROPERTIES, SH_SCHEMA},
    {"$defs", KW_DEFS, SH_MAP},
    {"definitions", KW_DEFS, SH_MAP}, /* draft-07 spelling, still common */
    {"$schema", KW_SCHEMA_URI, SH_NONE},
    {"$id", KW_ID, SH_NONE},
    {"$anchor", KW_ANCHOR, SH_NONE},
    {"$comment", KW_ANNOTATION, SH_NONE},
    {"title", KW_ANNOTATION, SH_NONE},
    {"description", KW_ANNOTATION, SH_NONE},
    {"default", KW_ANNOTATION, SH_NONE},
    {"examples", KW_ANNOTATION, SH_NONE},
    {"deprecated", KW_ANNOTATION, SH_NONE},
    {"readOnly", KW_ANNOTATION, SH_NONE},
    {"writeOnly", KW_ANNOTATION, SH_NONE},
    {"contentMediaType", KW_ANNOTATION, SH_NONE},
    {"contentEncoding", KW_ANNOTATION, SH_NONE},
    {"contentSchema", KW_ANNOTATION, SH_NONE},
    {"$vocabulary", KW_UNSUPPORTED, SH_NONE},
    {"$recursiveRef", KW_UNSUPPORTED, SH_NONE},
    {"$recursiveAnchor", KW_UNSUPPORTED, SH_NONE},
    {"dependencies", KW_UNSUPPORTED, SH_NONE},
    {"additionalItems", KW_UNSUPPORTED, SH_NONE},
};

static const struct sc_kwdef *sc_kwdef(const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < sizeof(sc_kwdefs) / sizeof(sc_kwdefs[0]); i++)
        if (strlen(sc_kwdefs[i].name) == len && memcmp(sc_kwdefs[i].name, name, len) == 0)
            return &sc_kwdefs[i];
    return NULL;
}

/* ==== scan: identifiers and base URIs ==== */

static int sc_register(struct sc *c, struct sc_smap *m, const char *key, size_t len,
                       const struct guard_jv *jv, const struct sch_loc *loc, const char *what)
{
    const struct sc_sentry *e = smap_get(m, key, len);

    if (e != NULL) {
        if (e->jv == jv)
            return 0;
        return sc_fail(c, -EINVAL, loc, "duplicate %s \"%.*s\"", what, (int)(len > 200 ? 200 : len),
                       key);
    }
    return smap_put(m, key, len, jv) == NULL ? sc_oom(c) : 0;
}

static bool sc_anchor_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (i = 1; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_'))
            return false;
    return true;
}

static int sc_scan(struct sc *c, const struct guard_jv *jv, const char *base,
                   const struct sch_loc *loc);

/* Scan the subschemas held by one keyword. */
static int sc_scan_kw(struct sc *c, const struct guard_jv_member *m, enum sch_shape shape,
                      const char *base, const struct sch_loc *loc)
{
    const struct sch_loc *kl = sc_loc(c, loc, m->key, m->key_len), *il;
    const struct guard_jv *v = &m->value;
    uint32_t i;
    int rc = 0;

    if (kl == NULL)
        return sc_oom(c);
    if (shape == SH_SCHEMA)
        return sc_scan(c, v, base, kl);
    for (i = 0; i < v->n && rc == 0; i++) {
        if (shape == SH_ARRAY && v->type == GUARD_JV_ARRAY) {
            il = sc_loc_index(c, kl, i);
            rc = il ? sc_scan(c, &v->u.items[i], base, il) : sc_oom(c);
        } else if (shape == SH_MAP && v->type == GUARD_JV_OBJECT) {
            il = sc_loc(c, kl, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
            rc = il ? sc_scan(c, &v->u.obj.members[i].value, base, il) : sc_oom(c);
        }
    }
    return rc;
}

/* Record the base URI and location of every subschema reachable through keywords, and
 * register $id and $anchor. Malformed keywords are left for the compile to report. */
static int sc_scan(struct sc *c, const struct guard_jv *jv, const char *base,
                   const struct sch_loc *loc)
{
    const struct guard_jv *id, *anchor;
    const struct sc_kwdef *def;
    struct sc_entry *e;
    struct uri_parts u;
    char *abs, *key;
    size_t n;
    uint32_t i;
    int rc = 0;

    if (pmap_get(&c->entries, jv) != NULL)
        return 0;
    if (c->entries.n >= c->s->lim.max_nodes)
        return sc_fail(c, -E2BIG, loc, "more than %zu subschemas", c->s->lim.max_nodes);
    e = sch_alloc(c->s, sizeof(*e));
    if (e == NULL)
        return sc_oom(c);
    e->jv = jv;
    e->loc = loc;
    e->base = base;
    if (jv->type != GUARD_JV_OBJECT)
        return pmap_put(&c->entries, e) < 0 ? sc_oom(c) : 0;
    id = guard_jv_object_get(jv, "$id", 3);
    if (id != NULL && id->type == GUARD_JV_STRING) {
        uri_split(id->u.str.s, id->u.str.len, &u);
        if (u.has_frag && u.frag_len > 0)
            return sc_fail(c, -EINVAL, loc, "$id \"%.*s\" has a fragment",
                           (int)(id->u.str.len > 200 ? 200 : id->u.str.len), id->u.str.s);
        abs = uri_resolve(base, id->u.str.s, id->u.str.len - (u.has_frag ? 1 : 0));
        if (abs == NULL)
            return sc_oom(c);
        e->base = sch_strdup(c->s, abs, strlen(abs));
        free(abs);
        if (e->base == NULL)
            return sc_oom(c);
        base = e->base;
        rc = sc_register(c, &c->ids, base, strlen(base), jv, loc, "$id");
        if (rc < 0)
            return rc;
    }
    if (pmap_put(&c->entries, e) < 0)
        return sc_oom(c);
    /* $anchor, and $dynamicAnchor which also names a plain anchor. */
    for (i = 0; i < 2; i++) {
        anchor = guard_jv_object_get(jv, i ? "$dynamicAnchor" : "$anchor", i ? 14 : 7);
        if (anchor == NULL || anchor->type != GUARD_JV_STRING ||
            !sc_anchor_name(anchor->u.str.s, anchor->u.str.len))
            continue;
        n = strlen(base) + 1 + anchor->u.str.len;
        key = sch_alloc(c->s, n + 1);
        if (key == NULL)
            return sc_oom(c);
        snprintf(key, n + 1, "%s#%s", base, anchor->u.str.s);
        if (i == 1) {
            rc = sc_register(c, &c->dynanchors, key, n, jv, loc, "$dynamicAnchor");
            if (rc < 0)
                return rc;
            if (smap_get(&c->anchors, key, n) != NULL)
                continue;
        }
        rc = sc_register(c, &c->anchors, key, n, jv, loc, "$anchor");
        if (rc < 0)
            return rc;
    }
    for (i = 0; i < jv->n && rc == 0; i++) {
        const struct guard_jv_member *m = &jv->u.obj.members[i];

        def = sc_kwdef(m->key, m->key_len);
        if (def != NULL && def->shape != SH_NONE)
            rc = sc_scan_kw(c, m, def->shape, base, loc);
    }
    return rc;
}

/* ==== compile ==== */

static int sc_node(struct sc *c, const struct guard_jv *jv, struct sch_node **out);

/* Compile a subschema found by the scan (or, defensively, one it did not record). */
static int sc_sub(struct sc *c, const struct guard_jv *jv, const struct sch_loc *loc,
                  const char *base, struct sch_node **out)
{
    int rc;

    if (pmap_get(&c->entries, jv) == NULL) {
        rc = sc_scan(c, jv, base, loc);
        if (rc < 0)
            return rc;
    }
    return sc_node(c, jv, out);
}

static int sc_count(struct sc *c, const struct guard_jv *v, const struct sch_loc *loc,
                    uint64_t *out)
{
    if (v->type != GUARD_JV_NUMBER || !guard_jv_number_is_integer(v) || v->u.num.d < 0)
        return sc_fail(c, -EINVAL, loc, "expected a non-negative integer");
    *out = v->u.num.d >= 1.8e19 ? UINT64_MAX : (uint64_t)v->u.num.d;
    return 0;
}

/* A number whose mantissa has a non-zero digit. */
static bool sc_nonzero(const struct guard_jv *v)
{
    size_t i;

    for (i = 0; i < v->u.num.len && v->u.num.text[i] != 'e' && v->u.num.text[i] != 'E'; i++)
        if (v->u.num.text[i] >= '1' && v->u.num.text[i] <= '9')
            return true;
    return false;
}

static int sc_type_bit(const char *s, size_t n, unsigned *bit)
{
    static const struct {
        const char *name;
        unsigned bit;
    } types[] = {
        {"null", T_NULL},     {"boolean", T_BOOLEAN}, {"object", T_OBJECT},   {"array", T_ARRAY},
        {"number", T_NUMBER}, {"string", T_STRING},   {"integer", T_INTEGER},
    };
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].name) == n && memcmp(types[i].name, s, n) == 0) {
            *bit = types[i].bit;
            return 0;
        }
    }
    return -EINVAL;
}

static bool sc_strings(const struct guard_jv *v)
{
    uint32_t i;

    if (v->type != GUARD_JV_ARRAY)
        return false;
    for (i = 0; i < v->n; i++)
        if (v->u.items[i].type != GUARD_JV_STRING)
            return false;
    return true;
}

static int sc_ref_add(struct sc *c, struct sch_kw *kw)
{
    struct sc_ref *grown;
    size_t cap;

    if (c->n_refs == c->cap_refs) {
        cap = c->cap_refs ? c->cap_refs * 2 : 16;
        grown = realloc(c->refs, cap * sizeof(*grown));
        if (grown == NULL)
            return sc_oom(c);
        c->refs = grown;
        c->cap_refs = cap;
    }
    c->refs[c->n_refs++].kw = kw;
    return 0;
}

/* Subschemas of a SH_ARRAY keyword, non-empty. */
static int sc_list(struct sc *c, const struct guard_jv *v, struct sch_kw *kw, const char *base)
{
    const struct sch_loc *il;
    uint32_t i;
    int rc = 0;

    if (v->type != GUARD_JV_ARRAY || v->n == 0)
        return sc_fail(c, -EINVAL, &kw->loc, "expected a non-empty array of schemas");
    kw->u.list.v = sch_alloc(c->s, v->n * sizeof(*kw->u.list.v));
    if (kw->u.list.v == NULL)
        return sc_oom(c);
    kw->u.list.n = v->n;
    for (i = 0; i < v->n && rc == 0; i++) {
        il = sc_loc_index(c, &kw->loc, i);
        rc = il ? sc_sub(c, &v->u.items[i], il, base, &kw->u.list.v[i]) : sc_oom(c);
    }
    return rc;
}

/* Compile the value of one keyword into kw. `e` is the subschema's scan entry. */
static int sc_keyword(struct sc *c, const struct sc_entry *e, const struct guard_jv *v,
                      struct sch_kw *kw)
{
    const char *base = e->base;
    const struct sch_loc *il;
    unsigned bit = 0;
    uint32_t i;
    size_t k;
    char *abs;
    int rc = 0;

    switch (kw->kind) {
    case KW_TYPE:
        if (v->type == GUARD_JV_STRING) {
            if (sc_type_bit(v->u.str.s, v->u.str.len, &kw->u.types) < 0)
                rc = sc_fail(c, -EINVAL, &kw->loc, "unknown type \"%.*s\"",
                             (int)(v->u.str.len > 64 ? 64 : v->u.str.len), v->u.str.s);
        } else if (v->type == GUARD_JV_ARRAY && v->n > 0 && sc_strings(v)) {
            for (i = 0; i < v->n && rc == 0; i++) {
                if (sc_type_bit(v->u.items[i].u.str.s, v->u.items[i].u.str.len, &bit) < 0)
                    rc = sc_fail(c, -EINVAL, &kw->loc, "unknown type \"%.*s\"",
                                 (int)(v->u.items[i].u.str.len > 64 ? 64 : v->u.items[i].u.str.len),
                                 v->u.items[i].u.str.s);
                kw->u.types |= bit;
            }
        } else {
            rc = sc_fail(c, -EINVAL, &kw->loc, "expected a type name or an array of them");
        }
        break;
    case KW_CONST:
        kw->u.value = v;
        break;
    case KW_ENUM:
        if (v->type != GUARD_JV_ARRAY)
            rc = sc_fail(c, -EINVAL, &kw->loc, "expected an array");
        kw->u.value = v;
        break;
    case KW_MINIMUM:
    case KW_MAXIMUM:
    case KW_EXCL_MINIMUM:
    case KW_EXCL_MAXIMUM:
        if (v->type != GUARD_JV_NUMBER)
            rc = sc_fail(c, -EINVAL, &kw->loc, "expected a number");
        kw->u.value = v;
        break;
    case KW_MULTIPLE_OF:
        if (v->type != GUARD_JV_NUMBER || v->u.num.text[0] == '-' || !sc_nonzero(v))
            rc = sc_fail(c, -EINVAL, &kw->loc, "expected a number above 0");
        kw->u.value = v;
        break;
    case KW_MIN_LENGTH:
    case KW_MAX_LENGTH:
    case KW_MIN_ITEMS:
    case KW_MAX_ITEMS:
    case KW_MIN_PROPERTIES:
    case KW_MAX_PROPERTIES:
        rc = sc_count(c, v, &kw->loc, &kw->u.count);
        break;
    case KW_FORMAT:
        if (v->type != GUARD_JV_STRING)
            return sc_fail(c, -EINVAL, &kw->loc, "expected a string");
        kw->u.format = FMT_UNKNOWN;
        for (k = 0; k < sizeof(fmt_names) / sizeof(fmt_names[0]); k++)
            if (strlen(fmt_names[k]) == v->u.str.len &&
                memcmp(fmt_names[k], v->u.str.s, v->u.str.len) == 0)
                kw->u.format = (enum sch_format)k;
        break;
    case KW_PATTERN:
        if (v->type != GUARD_JV_STRING)
            return sc_fail(c, -EINVAL, &kw->loc, "expected a string");
        rc = sc_regex(c, v->u.str.s, v->u.str.len, &kw->loc, &kw->u.re);
        break;
    case KW_UNIQUE_ITEMS:
        if (v->type != GUARD_JV_BOOL)
            return sc_fail(c, -EINVAL, &kw->loc, "expected a boolean");
        kw->u.count = v->u.b;
        break;
    case KW_REQUIRED:
        if (!sc_strings(v))
            return sc_fail(c, -EINVAL, &kw->loc, "expected an array of strings");
        kw->u.value = v;
        break;
    case KW_DEPENDENT_REQUIRED:
    case KW_DEPENDENT_SCHEMAS:
    case KW_PROPERTIES:
        if (v->type != GUARD_JV_OBJECT)
            return sc_fail(c, -EINVAL, &kw->loc, "expected an object");
        if (kw->kind == KW_PROPERTIES) {
            kw->u.props.v = sch_alloc(c->s, (v->n ? v->n : 1) * sizeof(*kw->u.props.v));
            kw->u.props.n = v->n;
            if (kw->u.props.v == NULL)
                return sc_oom(c);
        } else {
            kw->u.deps.v = sch_alloc(c->s, (v->n ? v->n : 1) * sizeof(*kw->u.deps.v));
            kw->u.deps.n = v->n;
            if (kw->u.deps.v == NULL)
                return sc_oom(c);
        }
        /* Properties in key order (binary search); dependencies in source order. */
        for (i = 0; i < v->n && rc == 0; i++) {
            const struct guard_jv_member *m =
                kw->kind == KW_PROPERTIES ? v->u.obj.sorted[i] : &v->u.obj.members[i];

            il = sc_loc(c, &kw->loc, m->key, m->key_len);
            if (il == NULL)
                return sc_oom(c);
            if (kw->kind == KW_PROPERTIES) {
                kw->u.props.v[i].key = m->key;
                kw->u.props.v[i].len = m->key_len;
                rc = sc_sub(c, &m->value, il, base, &kw->u.props.v[i].node);
            } else {
                kw->u.deps.v[i].key = m->key;
                kw->u.deps.v[i].len = m->key_len;
                if (kw->kind == KW_DEPENDENT_SCHEMAS) {
                    rc = sc_sub(c, &m->value, il, base, &kw->u.deps.v[i].node);
                } else if (!sc_strings(&m->value)) {
                    rc = sc_fail(c, -EINVAL, il, "expected an array of strings");
                } else {
                    kw->u.deps.v[i].names = &m->value;
                }
            }
        }
        break;
    case KW_PATTERN_PROPERTIES:
        if (v->type != GUARD_JV_OBJECT)
            return sc_fail(c, -EINVAL, &kw->loc, "expected an object");
        kw->u.pprops.v = sch_alloc(c->s, (v->n ? v->n : 1) * sizeof(*kw->u.pprops.v));
        if (kw->u.pprops.v == NULL)
            return sc_oom(c);
        kw->u.pprops.n = v->n;
        for (i = 0; i < v->n && rc == 0; i++) {
            const struct guard_jv_member *m = &v->u.obj.members[i];

            il = sc_loc(c, &kw->loc, m->key, m->key_len);
            if (il == NULL)
                return sc_oom(c);
            rc = sc_regex(c, m->key, m->key_len, il, &kw->u.pprops.v[i].re);
            if (rc == 0)
                rc = sc_sub(c, &m->value, il, base, &kw->u.pprops.v[i].node);
        }
        break;
    case KW_PREFIX_ITEMS:
    case KW_ALL_OF:
    case KW_ANY_OF:
    case KW_ONE_OF:
        rc = sc_list(c, v, kw, base);
        break;
    case KW_ITEMS:
    case KW_CONTAINS:
    case KW_ADDITIONAL_PROPERTIES:
    case KW_PROPERTY_NAMES:
    case KW_NOT:
    case KW_IF:
    case KW_UNEVALUATED_ITEMS:
    case KW_UNEVALUATED_PROPERTIES:
        /* The node pointer sits first in each of these union members. */
        rc = sc_sub(c, v, &kw->loc, base, &kw->u.node);
        break;
    case KW_REF:
    case KW_DYNAMIC_REF:
        if (v->type != GUARD_JV_STRING)
            return sc_fail(c, -EINVAL, &kw->loc, "expected a string");
        abs = uri_resolve(base, v->u.str.s, v->u.str.len);
        if (abs == NULL)
            return sc_oom(c);
        kw->u.ref.uri = sch_strdup(c->s, abs, strlen(abs));
        free(abs);
        if (kw->u.ref.uri == NULL)
            rc = sc_oom(c);
        break;
    default:
        break;
    }
    return rc;
}

static int sc_kw_cmp(const void *a, const void *b)
{
    const struct sch_kw *x = a, *y = b;

    return (int)x->kind - (int)y->kind;
}

/* The resource of base URI `base`, made on first use. */
static const struct sch_res *sc_res(struct sc *c, const char *base)
{
    size_t len = strlen(base);
    const struct sc_sentry *e = smap_get(&c->resources, base, len);
    struct sc_sentry *added;
    struct sch_res *r;

    if (e != NULL)
        return e->res;
    r = sch_alloc(c->s, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->base = base;
    added = smap_put(&c->resources, base, len, NULL);
    if (added == NULL)
        return NULL;
    added->res = r;
    return r;
}

/* Compile one subschema (memoized by its JSON value). */
static int sc_node(struct sc *c, const struct guard_jv *jv, struct sch_node **out)
{
    struct sc_entry *e = pmap_get(&c->entries, jv);
    const struct guard_jv *then_ = NULL, *else_ = NULL, *min_c = NULL, *max_c = NULL;
    const struct sch_loc *then_loc = NULL, *else_loc = NULL, *min_loc = NULL, *max_loc = NULL;
    struct sch_node *then_node = NULL, *else_node = NULL, *n;
    const struct sc_kwdef *def;
    struct sch_kw *kw;
    uint64_t count;
    size_t k;
    uint32_t i;
    int rc = 0;

    if (e->node != NULL) {
        *out = e->node;
        return 0;
    }
    if (++c->s->n_nodes > c->s->lim.max_nodes)
        return sc_fail(c, -E2BIG, e->loc, "more than %zu subschemas", c->s->lim.max_nodes);
    n = sch_alloc(c->s, sizeof(*n));
    if (n == NULL)
        return sc_oom(c);
    n->loc = e->loc;
    e->node = n;
    *out = n;
    n->res = sc_res(c, e->base);
    if (n->res == NULL)
        return sc_oom(c);
    if (jv->type == GUARD_JV_BOOL) {
        n->kind = jv->u.b ? SCH_TRUE : SCH_FALSE;
        return 0;
    }
    if (jv->type != GUARD_JV_OBJECT)
        return sc_fail(c, -EINVAL, e->loc, "a schema must be an object or a boolean");
    n->kind = SCH_OBJECT;
    n->kws = sch_alloc(c->s, (jv->n ? jv->n : 1) * sizeof(*n->kws));
    if (n->kws == NULL)
        return sc_oom(c);
    for (i = 0; i < jv->n && rc == 0; i++) {
        const struct guard_jv_member *m = &jv->u.obj.members[i];
        const struct guard_jv *v = &m->value;
        const struct sch_loc *kl;

        def = sc_kwdef(m->key, m->key_len);
        if (def == NULL) {
            if ((m->key_len >= 2 && memcmp(m->key, "x-", 2) == 0) ||
                (c->flags & GUARD_SCHEMA_F_IGNORE_UNKNOWN))
                continue;
            return sc_fail(c, -EINVAL, e->loc, "unknown keyword \"%.*s\"",
                           (int)(m->key_len > 64 ? 64 : m->key_len), m->key);
        }
        kl = sc_loc(c, e->loc, m->key, m->key_len);
        if (kl == NULL)
            return sc_oom(c);
        switch (def->kind) {
        case KW_UNSUPPORTED:
            return sc_fail(c, -ENOTSUP, e->loc, "unsupported keyword \"%s\"", def->name);
        case KW_SCHEMA_URI:
            if (v->type != GUARD_JV_STRING ||
                (strcmp(v->u.str.s, "https://json-schema.org/draft/2020-12/schema") != 0 &&
                 strcmp(v->u.str.s, "https://json-schema.org/draft/2020-12/schema#") != 0))
                return sc_fail(
                    c, -ENOTSUP, kl, "unsupported $schema \"%.*s\" (only draft 2020-12 is)",
                    (int)(v->type == GUARD_JV_STRING && v->u.str.len < 200 ? v->u.str.len : 0),
                    v->type == GUARD_JV_STRING ? v->u.str.s : "");
            break;
        case KW_ID:
            if (v->type != GUARD_JV_STRING)
                return sc_fail(c, -EINVAL, kl, "expected a string");
            break;
        case KW_ANCHOR:
            if (v->type != GUARD_JV_STRING || !sc_anchor_name(v->u.str.s, v->u.str.len))
                return sc_fail(c, -EINVAL, kl, "expected an anchor name");
            break;
        case KW_ANNOTATION:
            break;
        case KW_DEFS:
            if (v->type != GUARD_JV_OBJECT)
                return sc_fail(c, -EINVAL, kl, "expected an object of schemas");
            for (k = 0; k < v->n && rc == 0; k++) {
                const struct sch_loc *dl =
                    sc_loc(c, kl, v->u.obj.members[k].key, v->u.obj.members[k].key_len);
                struct sch_node *ignored;

                rc = dl ? sc_sub(c, &v->u.obj.members[k].value, dl, e->base, &ignored) : sc_oom(c);
            }
            break;
        case KW_THEN:
            then_ = v;
            then_loc = kl;
            break;
        case KW_ELSE:
            else_ = v;
            else_loc = kl;
            break;
        case KW_MIN_CONTAINS:
            min_c = v;
            min_loc = kl;
            break;
        case KW_MAX_CONTAINS:
            max_c = v;
            max_loc = kl;
            break;
        default:
            kw = &n->kws[n->n_kws];
            kw->kind = def->kind;
            kw->loc = *kl;
            rc = sc_keyword(c, e, v, kw);
            if (rc < 0)
                break;
            if (kw->kind == KW_FORMAT &&
                ((c->flags & GUARD_SCHEMA_F_FORMAT_ANNOTATION) || kw->u.format == FMT_UNKNOWN))
                break; /* an annotation only */
            if (kw->kind == KW_UNIQUE_ITEMS && kw->u.count == 0)
                break;
            if (kw->kind == KW_UNEVALUATED_ITEMS || kw->kind == KW_UNEVALUATED_PROPERTIES)
                n->has_unevaluated = true;
            n->n_kws++;
            break;
        }
    }
    if (rc < 0)
        return rc;
    qsort(n->kws, n->n_kws, sizeof(*n->kws), sc_kw_cmp);
    /* then and else are subschemas even without if (a $ref may point at them). */
    if (then_ != NULL && (rc = sc_sub(c, then_, then_loc, e->base, &then_node)) < 0)
        return rc;
    if (else_ != NULL && (rc = sc_sub(c, else_, else_loc, e->base, &else_node)) < 0)
        return rc;
    if (min_c != NULL && (rc = sc_count(c, min_c, min_loc, &count)) < 0)
        return rc;
    if (max_c != NULL && (rc = sc_count(c, max_c, max_loc, &count)) < 0)
        return rc;
    /* Keywords that read their siblings. */
    for (k = 0; k < n->n_kws; k++) {
        struct sch_kw *x = &n->kws[k], *y;
        size_t j;

        switch (x->kind) {
        case KW_ITEMS:
            for (j = 0; j < n->n_kws; j++)
                if (n->kws[j].kind == KW_PREFIX_ITEMS)
                    x->u.items.prefix = n->kws[j].u.list.n;
            break;
        case KW_CONTAINS:
            x->u.contains.min = 1;
            if (min_c != NULL)
                sc_count(c, min_c, min_loc, &x->u.contains.min);
            if (max_c != NULL) {
                sc_count(c, max_c, max_loc, &x->u.contains.max);
                x->u.contains.has_max = true;
            }
            break;
        case KW_ADDITIONAL_PROPERTIES:
            for (j = 0; j < n->n_kws; j++) {
                y = &n->kws[j];
                if (y->kind == KW_PROPERTIES)
                    x->u.addl.props = y;
                else if (y->kind == KW_PATTERN_PROPERTIES)
                    x->u.addl.pprops = y;
            }
            break;
        case KW_IF:
            x->u.cond.then_ = then_node;
            x->u.cond.else_ = else_node;
            break;
        case KW_REF:
        case KW_DYNAMIC_REF:
            /* Resolved once the keyword array no longer moves. */
            if ((rc = sc_ref_add(c, x)) < 0)
                return rc;
            break;
        default:
            break;
        }
    }
    return 0;
}

/* Find what an absolute URI reference designates: a resource, then a JSON pointer or an
 * anchor inside it. */
static int sc_resolve(struct sc *c, const char *uri, const struct sch_loc *at,
                      const struct guard_jv **target)
{
    const char *hash = strchr(uri, '#');
    size_t ulen = hash ? (size_t)(hash - uri) : strlen(uri), i, j, idx;
    const char *frag = hash ? hash + 1 : "";
    const struct sc_sentry *res, *anchor;
    const struct guard_jv *cur, *next;
    const struct sch_loc *loc;
    const struct sc_entry *e;
    struct sbuf f = {0}, tok = {0}, key = {0};
    const char *base;
    int rc = 0;

    res = smap_get(&c->ids, uri, ulen);
    if (res == NULL)
        return sc_fail(c, -ENOTSUP, at, "unsupported remote $ref \"%.*s\" (not in this document)",
                       (int)(strlen(uri) > 200 ? 200 : strlen(uri)), uri);
    if (!uri_unescape(&f, frag, strlen(frag))) {
        rc = sc_fail(c, -EINVAL, at, "bad percent-escape in $ref \"%s\"", uri);
        goto out;
    }
    if (f.oom)
        goto oom;
    if (f.len == 0) {
        *target = res->jv;
    } else if (f.p[0] != '/') {
        sb_add(&key, uri, ulen);
        sb_add(&key, "#", 1);
        sb_add(&key, f.p, f.len);
        if (key.oom)
            goto oom;
        anchor = smap_get(&c->anchors, key.p, key.len);
        if (anchor == NULL) {
            rc = sc_fail(c, -EINVAL, at, "$ref \"%s\": no such $anchor", uri);
            goto out;
        }
        *target = anchor->jv;
    } else {
        cur = res->jv;
        e = pmap_get(&c->entries, cur);
        base = e->base;
        loc = e->loc;
        for (i = 1; i <= f.len; i = j + 1) {
            for (j = i; j < f.len && f.p[j] != '/'; j++)
                ;
            tok.len = 0;
            sb_add(&tok, "", 0);
            for (idx = i; idx < j; idx++) {
                if (f.p[idx] == '~' && idx + 1 < j &&
                    (f.p[idx + 1] == '0' || f.p[idx + 1] == '1')) {
                    sb_add(&tok, f.p[idx + 1] == '0' ? "~" : "/", 1);
                    idx++;
                } else if (f.p[idx] == '~') {
                    rc = sc_fail(c, -EINVAL, at, "bad JSON pointer in $ref \"%s\"", uri);
                    goto out;
                } else {
                    sb_add(&tok, &f.p[idx], 1);
                }
            }
            if (tok.oom)
                goto oom;
            next = NULL;
            if (cur->type == GUARD_JV_OBJECT) {
                next = guard_jv_object_get(cur, tok.p, tok.len);
            } else if (cur->type == GUARD_JV_ARRAY && tok.len > 0 && tok.len < 10 &&
                       strspn(tok.p, "0123456789") == tok.len &&
                       (tok.p[0] != '0' || tok.len == 1)) {
                idx = (size_t)strtoul(tok.p, NULL, 10);
                next = idx < cur->n ? &cur->u.items[idx] : NULL;
            }
            if (next == NULL) {
                rc = sc_fail(c, -EINVAL, at, "$ref \"%s\" points to nothing", uri);
                goto out;
            }
            cur = next;
            e = pmap_get(&c->entries, cur);
            if (e != NULL) {
                base = e->base;
                loc = e->loc;
            } else {
                char *seg = sch_strdup(c->s, tok.p, tok.len);

                loc = seg ? sc_loc(c, loc, seg, tok.len) : NULL;
                if (loc == NULL)
                    goto oom;
            }
        }
        /* A target the scan did not reach (inside an unknown keyword) is scanned now. */
        if (pmap_get(&c->entries, cur) == NULL && (rc = sc_scan(c, cur, base, loc)) < 0)
            goto out;
        *target = cur;
    }
    goto out;
oom:
    rc = sc_oom(c);
out:
    free(f.p);
    free(tok.p);
    free(key.p);
    return rc;
}

/* $dynamicRef whose static target carries "$dynamicAnchor" equal to the reference's fragment
 * is dynamic: note it for sc_dynamic_fill. */
static int sc_dynamic(struct sc *c, struct sch_kw *kw, const struct guard_jv *target)
{
    const char *hash = strchr(kw->u.ref.uri, '#');
    const struct guard_jv *anchor;
    struct sc_dyn_ref *d;
    size_t name_len;

    if (hash == NULL || hash[1] == '\0' || hash[1] == '/' || target->type != GUARD_JV_OBJECT)
        return 0;
    name_len = strlen(hash + 1);
    anchor = guard_jv_object_get(target, "$dynamicAnchor", 14);
    if (anchor == NULL || anchor->type != GUARD_JV_STRING || anchor->u.str.len != name_len ||
        memcmp(anchor->u.str.s, hash + 1, name_len) != 0)
        return 0;
    d = sch_alloc(c->s, sizeof(*d));
    if (d == NULL)
        return sc_oom(c);
    kw->u.ref.name = hash + 1;
    d->kw = kw;
    d->next = c->dyn_refs;
    c->dyn_refs = d;
    return 0;
}

/* Give each dynamic $dynamicRef the subschemas with its dynamic anchor in every resource that
 * evaluation can enter (one with a compiled subschema). Compiling them can make more resources
 * reachable: returns how many were added, or < 0. */
static int sc_dynamic_fill(struct sc *c)
{
    const struct guard_jv **jvs = NULL;
    const char **bases = NULL;
    const struct sc_sentry *e;
    struct sc_dyn_ref *d;
    struct sch_dyn *x;
    size_t i, k, n, name_len;
    int rc = 0, added = 0;

    for (d = c->dyn_refs; d != NULL && rc == 0; d = d->next) {
        const char *name = d->kw->u.ref.name;

        name_len = strlen(name);
        free(jvs);
        free(bases);
        jvs = malloc((c->dynanchors.n + 1) * sizeof(*jvs));
        bases = malloc((c->dynanchors.n + 1) * sizeof(*bases));
        if (jvs == NULL || bases == NULL) {
            rc = sc_oom(c);
            break;
        }
        /* Collect first: compiling may add to the maps being walked. */
        for (i = 0, n = 0; i < c->dynanchors.cap && rc == 0; i++) {
            e = &c->dynanchors.slots[i];
            /* Keys are "base#name"; names cannot hold '#'. */
            if (e->key == NULL || e->len <= name_len || e->key[e->len - name_len - 1] != '#' ||
                memcmp(e->key + e->len - name_len, name, name_len) != 0 ||
                smap_get(&c->resources, e->key, e->len - name_len - 1) == NULL)
                continue;
            for (x = d->kw->u.ref.dyn; x != NULL && x->jv != e->jv; x = x->next)
                ;
            if (x != NULL)
                continue;
            jvs[n] = e->jv;
            bases[n] = smap_get(&c->resources, e->key, e->len - name_len - 1)->res->base;
            n++;
        }
        for (k = 0; k < n && rc == 0; k++) {
            x = sch_alloc(c->s, sizeof(*x));
            if (x == NULL) {
                rc = sc_oom(c);
                break;
            }
            x->jv = jvs[k];
            x->res = sc_res(c, bases[k]);
            rc = sc_node(c, jvs[k], &x->node);
            x->next = d->kw->u.ref.dyn;
            d->kw->u.ref.dyn = x;
            added++;
        }
    }
    free(jvs);
    free(bases);
    return rc < 0 ? rc : added;
}

static int sc_compile(struct sc *c, const struct guard_jv *root,
                      const struct guard_schema_resource *res, size_t n_res)
{
    const struct guard_jv *target = NULL;
    const struct sch_loc *rl;
    struct sc_ref ref;
    size_t i;
    int rc;

    rl = sc_loc(c, NULL, "", 0);
    if (rl == NULL)
        return sc_oom(c);
    rc = sc_register(c, &c->ids, "", 0, root, rl, "$id");
    if (rc == 0)
        rc = sc_scan(c, root, "", rl);
    for (i = 0; i < n_res && rc == 0; i++) {
        size_t n = strlen(res[i].uri);
        char *seg = sch_alloc(c->s, n + 2), *uri;

        if (seg == NULL)
            return sc_oom(c);
        snprintf(seg, n + 2, "%s#", res[i].uri);
        uri = sch_strdup(c->s, res[i].uri, n);
        rl = uri ? sc_loc(c, NULL, seg, n + 1) : NULL;
        if (rl == NULL)
            return sc_oom(c);
        rc = sc_register(c, &c->ids, uri, n, res[i].root, rl, "resource");
        if (rc == 0)
            rc = sc_scan(c, res[i].root, uri, rl);
    }
    if (rc == 0)
        rc = sc_node(c, root, &c->s->root);
    if (rc < 0)
        return rc;
    /* Targets compile as they are found; compiling one may add references, and dynamic
     * candidates, until nothing new is reachable. */
    do {
        rc = 0;
        while (rc == 0 && c->n_refs > 0) {
            ref = c->refs[--c->n_refs];
            rc = sc_resolve(c, ref.kw->u.ref.uri, &ref.kw->loc, &target);
            if (rc == 0)
                rc = sc_node(c, target, &ref.kw->u.ref.node);
            if (rc == 0 && ref.kw->kind == KW_DYNAMIC_REF)
                rc = sc_dynamic(c, ref.kw, target);
        }
        if (rc == 0)
            rc = sc_dynamic_fill(c);
    } while (rc > 0);
    return rc;
}

/* ==== validation ==== */

struct val_seg {
    const char *key; /* NULL: an array index */
    size_t len;
};

/* Which members (object) or items (array) of one instance some keyword evaluated, for
 * unevaluatedProperties / unevaluatedItems. */
struct val_ev {
    uint8_t *bits;
    size_t n;
};

struct val {
    const struct guard_schema *s;
    struct guard_schema_result *res; /* NULL: verdict only */
    struct guard_schema_scratch *scratch;
    hs_scratch_t *hs;
    bool own_hs;
    uint64_t steps;
    unsigned depth;
    int err;              /* -ENOMEM, -EIO: the verdict is unknown */
    bool report;          /* the subschema being evaluated records violations */
    const char *stop_msg; /* a cap was hit: invalid */
    char stop_buf[96];
    unsigned plen;
    struct val_seg path[GUARD_JSON_MAX_DEPTH + 2];
    unsigned nscope; /* the dynamic scope: resources entered, outermost first */
    const struct sch_res *scope[GUARD_SCHEMA_MAX_DEPTH + 1];
};

static bool ev_get(const struct val_ev *ev, size_t i)
{
    return (ev->bits[i / 8] >> (i % 8)) & 1u;
}

static void ev_set(struct val_ev *ev, size_t i)
{
    if (ev != NULL)
        ev->bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void ev_set_all(struct val_ev *ev)
{
    if (ev != NULL && ev->n > 0)
        memset(ev->bits, 0xFF, (ev->n + 7) / 8);
}

static void ev_merge(struct val_ev *into, const struct val_ev *from)
{
    size_t i;

    if (into != NULL && from != NULL)
        for (i = 0; i < (into->n + 7) / 8; i++)
            into->bits[i] |= from->bits[i];
}

/* A fresh, empty set for the members or items of v (bits NULL for other types). */
static bool ev_new(struct val *c, const struct guard_jv *v, struct val_ev *ev)
{
    ev->n = v->type == GUARD_JV_OBJECT || v->type == GUARD_JV_ARRAY ? v->n : 0;
    ev->bits = calloc(ev->n / 8 + 1, 1);
    if (ev->bits == NULL) {
        c->err = -ENOMEM;
        return false;
    }
    return true;
}

static char *val_instance_path(const struct val *c)
{
    struct sbuf b = {0};
    unsigned i;

    sb_add(&b, "", 0);
    for (i = 0; i < c->plen; i++) {
        sb_add(&b, "/", 1);
        if (c->path[i].key != NULL)
            sb_token(&b, c->path[i].key, c->path[i].len);
        else
            sb_fmt(&b, "%zu", c->path[i].len);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

static void SCH_PRINTF(4, 5)
    val_report(struct val *c, const char *keyword, const struct sch_loc *loc, const char *fmt, ...)
{
    struct guard_schema_violation *v;
    char msg[512];
    va_list ap;

    if (!c->report)
        return;
    c->res->total++;
    if (c->res->n >= GUARD_SCHEMA_VIOLATIONS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    v = &c->res->v[c->res->n];
    v->keyword = keyword;
    v->instance = val_instance_path(c);
    v->schema = loc_string(loc);
    v->message = strdup(msg);
    c->res->n++;
    if (v->instance == NULL || v->schema == NULL || v->message == NULL)
        c->err = -ENOMEM;
}

/* Stop the whole validation: a cap was reached. */
static void SCH_PRINTF(2, 3) val_stop(struct val *c, const char *fmt, ...)
{
    va_list ap;

    if (c->stop_msg != NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(c->stop_buf, sizeof(c->stop_buf), fmt, ap);
    va_end(ap);
    c->stop_msg = c->stop_buf;
}

/* Charge n units of work (comparisons, regex scans) to the step budget. */
static bool val_spend(struct val *c, uint64_t n)
{
    c->steps += n;
    if (c->steps <= c->s->lim.max_steps)
        return true;
    val_stop(c, "validation stopped after %llu steps (the step limit)",
             (unsigned long long)c->s->lim.max_steps);
    return false;
}

static bool val_push(struct val *c, const char *key, size_t len)
{
    if (c->plen >= sizeof(c->path) / sizeof(c->path[0])) {
        val_stop(c, "%s", "instance deeper than the validator's path");
        return false;
    }
    c->path[c->plen].key = key;
    c->path[c->plen].len = len;
    c->plen++;
    return true;
}

static int val_regex_cb(unsigned int id, unsigned long long from, unsigned long long to,
                        unsigned int flags, void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    *(bool *)ctx = true;
    return 1; /* one match decides */
}

/* 1 match, 0 none, < 0 error (in c->err or c->stop_msg). */
static int val_match(struct val *c, const struct sch_regex *re, const char *s, size_t n)
{
    bool matched = false;
    hs_error_t err;

    if (c->hs == NULL) {
        if (c->scratch != NULL) {
            c->hs = c->scratch->hs;
        } else {
            if (hs_clone_scratch(c->s->proto, &c->hs) != HS_SUCCESS) {
                c->err = -ENOMEM;
                return -ENOMEM;
            }
            c->own_hs = true;
        }
    }
    if (!val_spend(c, 1 + n / 4096))
        return -E2BIG;
    if (n > UINT_MAX) {
        val_stop(c, "%s", "string too long for the regex engine");
        return -E2BIG;
    }
    err = guard_hs_scan(re->db, s, n, c->hs, val_regex_cb, &matched);
    if (err != HS_SUCCESS && err != HS_SCAN_TERMINATED) {
        c->err = -EIO;
        return -EIO;
    }
    return matched;
}

/* The type name JSON Schema would give v ("integer" for whole numbers). */
static const char *val_type_name(const struct guard_jv *v)
{
    if (v->type == GUARD_JV_NUMBER && guard_jv_number_is_integer(v))
        return "integer";
    return guard_jv_type_name(v->type);
}

static bool val_type_ok(unsigned types, const struct guard_jv *v)
{
    switch (v->type) {
    case GUARD_JV_NULL:
        return types & T_NULL;
    case GUARD_JV_BOOL:
        return types & T_BOOLEAN;
    case GUARD_JV_OBJECT:
        return types & T_OBJECT;
    case GUARD_JV_ARRAY:
        return types & T_ARRAY;
    case GUARD_JV_STRING:
        return types & T_STRING;
    case GUARD_JV_NUMBER:
        return (types & T_NUMBER) || ((types & T_INTEGER) && guard_jv_number_is_integer(v));
    }
    return false;
}

static void val_types_text(unsigned types, char *buf, size_t len)
{
    static const char *const names[] = {"null",   "boolean", "object", "array",
                                        "number", "string",  "integer"};
    size_t i, used = 0;
    int k;

    buf[0] = '\0';
    for (i = 0; i < 7; i++) {
        if (!(types & (1u << i)))
            continue;
        k = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", names[i]);
        if (k < 0 || (size_t)k >= len - used)
            break;
        used += (size_t)k;
    }
}

/* A short JSON rendering of v for messages. */
static void val_json_short(const struct guard_jv *v, char *buf, size_t len)
{
    char *text = NULL;
    size_t n;

    if (guard_jv_write(v, &text, &n) < 0) {
        snprintf(buf, len, "(value)");
        return;
    }
    if (n >= len)
        snprintf(buf, len, "%.*s...", (int)(len - 4), text);
    else
        snprintf(buf, len, "%s", text);
    free(text);
}

static size_t val_codepoints(const char *s, size_t n)
{
    size_t i, count = 0;

    for (i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

static const char *val_plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

/* The first pair of equal items, by hash then equality: O(n log n). */
struct val_hashed {
    uint64_t h;
    uint32_t i;
};

static int val_hashed_cmp(const void *a, const void *b)
{
    const struct val_hashed *x = a, *y = b;

    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static bool val_unique(struct val *c, const struct guard_jv *v, uint32_t *first, uint32_t *second)
{
    struct val_hashed *h;
    bool unique = true, found;
    uint32_t a, b, i, j;

    if (v->n < 2)
        return true;
    h = malloc(v->n * sizeof(*h));
    if (h == NULL) {
        c->err = -ENOMEM;
        return false;
    }
    for (i = 0; i < v->n; i++) {
        h[i].h = guard_jv_hash(&v->u.items[i]);
        h[i].i = i;
    }
    qsort(h, v->n, sizeof(*h), val_hashed_cmp);
    *first = *second = UINT32_MAX;
    /* Per run of equal hashes (in index order), the first item equal to an earlier one gives
     * the run's earliest-ending pair; keep the earliest over all runs. */
    for (a = 0; a < v->n && !c->stop_msg; a = b) {
        for (b = a + 1; b < v->n && h[b].h == h[a].h; b++)
            ;
        for (j = a + 1, found = false; j < b && !found; j++) {
            for (i = a; i < j && !found; i++) {
                /* Colliding hashes cost a comparison each: an adversary can make many. */
                if (!val_spend(c, 1))
                    break;
                if (!guard_jv_equal(&v->u.items[h[i].i], &v->u.items[h[j].i]))
                    continue;
                found = true;
                unique = false;
                if (h[j].i < *second) {
                    *first = h[i].i;
                    *second = h[j].i;
                }
            }
        }
    }
    if (c->stop_msg)
        unique = false;
    free(h);
    return unique;
}

static bool val_node(struct val *c, const struct sch_node *n, const struct guard_jv *v, bool report,
                     struct val_ev *ev, const char *via);

/* Validate a child value (member or item) of the current instance. */
static bool val_child(struct val *c, const struct sch_node *n, const struct guard_jv *v,
                      const char *key, size_t len, bool report, const char *via)
{
    bool ok;

    if (!val_push(c, key, len))
        return false;
    ok = val_node(c, n, v, report, NULL, via);
    c->plen--;
    return ok;
}

static const struct sch_prop *val_prop_find(const struct sch_kw *kw, const char *key, size_t len)
{
    size_t lo = 0, hi = kw->u.props.n, mid, m;
    const struct sch_prop *p;
    int cmp;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        p = &kw->u.props.v[mid];
        m = p->len < len ? p->len : len;
        cmp = m ? memcmp(p->key, key, m) : 0;
        if (cmp == 0)
            cmp = p->len < len ? -1 : p->len > len;
        if (cmp == 0)
            return p;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static bool val_object(struct val *c, const struct sch_kw *kw, const struct guard_jv *v,
                       bool report, struct val_ev *ev)
{
    const struct guard_jv_member *m;
    const struct sch_prop *p;
    struct guard_jv name;
    bool ok = true, hit;
    uint32_t i, j, k;
    int r;

    for (i = 0; i < v->n && (ok || report) && !c->err && !c->stop_msg; i++) {
        m = &v->u.obj.members[i];
        switch (kw->kind) {
        case KW_PROPERTIES:
            p = val_prop_find(kw, m->key, m->key_len);
            if (p != NULL) {
                ev_set(ev, i);
                if (!val_child(c, p->node, &m->value, m->key, m->key_len, report, "properties"))
                    ok = false;
            }
            break;
        case KW_PATTERN_PROPERTIES:
            for (j = 0; j < kw->u.pprops.n && (ok || report); j++) {
                r = val_match(c, kw->u.pprops.v[j].re, m->key, m->key_len);
                if (r < 0)
                    return false;
                if (r == 0)
                    continue;
                ev_set(ev, i);
                if (!val_child(c, kw->u.pprops.v[j].node, &m->value, m->key, m->key_len, report,
                               "patternProperties"))
                    ok = false;
            }
            break;
        case KW_ADDITIONAL_PROPERTIES:
            if (kw->u.addl.props != NULL && val_prop_find(kw->u.addl.props, m->key, m->key_len))
                break;
            hit = false;
            for (k = 0; kw->u.addl.pprops != NULL && k < kw->u.addl.pprops->u.pprops.n && !hit;
                 k++) {
                r = val_match(c, kw->u.addl.pprops->u.pprops.v[k].re, m->key, m->key_len);
                if (r < 0)
                    return false;
                hit = r > 0;
            }
            if (hit)
                break;
            ev_set(ev, i);
            if (!val_child(c, kw->u.node, &m->value, m->key, m->key_len, report,
                           "additionalProperties"))
                ok = false;
            break;
        case KW_UNEVALUATED_PROPERTIES:
            if (ev_get(ev, i))
                break;
            if (!val_child(c, kw->u.node, &m->value, m->key, m->key_len, report,
                           "unevaluatedProperties"))
                ok = false;
            break;
        case KW_PROPERTY_NAMES:
            memset(&name, 0, sizeof(name));
            name.type = GUARD_JV_STRING;
            name.u.str.s = m->key;
            name.u.str.len = m->key_len;
            if (!val_node(c, kw->u.node, &name, false, NULL, "propertyNames")) {
                ok = false;
                if (report && !c->err && !c->stop_msg)
                    val_report(c, "propertyNames", &kw->loc,
                               "property name \"%.*s\" does not match the propertyNames schema",
                               (int)(m->key_len > 64 ? 64 : m->key_len), m->key);
            }
            break;
        default:
            break;
        }
    }
    if (kw->kind == KW_UNEVALUATED_PROPERTIES)
        ev_set_all(ev);
    return ok;
}

static bool val_array(struct val *c, const struct sch_kw *kw, const struct guard_jv *v, bool report,
                      struct val_ev *ev)
{
    uint64_t matches = 0;
    uint32_t i, first = 0, second = 0; /* set by val_unique when it fails */
    size_t start;
    bool ok = true;

    switch (kw->kind) {
    case KW_MIN_ITEMS:
        if (v->n < kw->u.count) {
            val_report(c, "minItems", &kw->loc, "array has %u %s, fewer than %llu", v->n,
                       val_plural(v->n, "item", "items"), (unsigned long long)kw->u.count);
            ok = false;
        }
        break;
    case KW_MAX_ITEMS:
        if (v->n > kw->u.count) {
            val_report(c, "maxItems", &kw->loc, "array has %u %s, more than %llu", v->n,
                       val_plural(v->n, "item", "items"), (unsigned long long)kw->u.count);
            ok = false;
        }
        break;
    case KW_UNIQUE_ITEMS:
        if (!val_unique(c, v, &first, &second)) {
            if (!c->err && !c->stop_msg)
                val_report(c, "uniqueItems", &kw->loc, "items %u and %u are equal", first, second);
            ok = false;
        }
        break;
    case KW_PREFIX_ITEMS:
        for (i = 0; i < v->n && i < kw->u.list.n && (ok || report); i++) {
            ev_set(ev, i);
            if (!val_child(c, kw->u.list.v[i], &v->u.items[i], NULL, i, report, "prefixItems"))
                ok = false;
        }
        break;
    case KW_ITEMS:
        start = kw->u.items.prefix < v->n ? kw->u.items.prefix : v->n;
        for (i = (uint32_t)start; i < v->n && (ok || report); i++) {
            ev_set(ev, i);
            if (!val_child(c, kw->u.node, &v->u.items[i], NULL, i, report, "items"))
                ok = false;
        }
        break;
    case KW_UNEVALUATED_ITEMS:
        for (i = 0; i < v->n && (ok || report); i++) {
            if (ev_get(ev, i))
                continue;
            if (!val_child(c, kw->u.node, &v->u.items[i], NULL, i, report, "unevaluatedItems"))
                ok = false;
        }
        ev_set_all(ev);
        break;
    case KW_CONTAINS:
        for (i = 0; i < v->n && !c->err && !c->stop_msg; i++) {
            if (!val_push(c, NULL, i))
                return false;
            if (val_node(c, kw->u.contains.node, &v->u.items[i], false, NULL, "contains")) {
                matches++;
                ev_set(ev, i);
            }
            c->plen--;
            /* Without annotations to collect nor a maximum, enough is enough. */
            if (ev == NULL && !kw->u.contains.has_max && matches >= kw->u.contains.min)
                break;
        }
        if (c->err || c->stop_msg)
            return false;
        if (matches < kw->u.contains.min) {
            if (kw->u.contains.min == 1)
                val_report(c, "contains", &kw->loc, "no item matches the contains schema");
            else
                val_report(
                    c, "minContains", &kw->loc, "%llu %s the contains schema, fewer than %llu",
                    (unsigned long long)matches, val_plural(matches, "item matches", "items match"),
                    (unsigned long long)kw->u.contains.min);
            ok = false;
        } else if (kw->u.contains.has_max && matches > kw->u.contains.max) {
            val_report(c, "maxContains", &kw->loc,
                       "%llu items match the contains schema, more "
                       "than %llu",
                       (unsigned long long)matches, (unsigned long long)kw->u.contains.max);
            ok = false;
        }
        break;
    default:
        break;
    }
    return ok;
}

/* in-place applicators: allOf, anyOf, oneOf, not, if, $ref, dependentSchemas. */
static bool val_inplace(struct val *c, const struct sch_kw *kw, const struct guard_jv *v,
                        bool report, struct val_ev *ev, const char *via)
{
    struct val_ev tmp = {0};
    size_t i, valid = 0, first = 0, second = 0;
    bool ok = true, r;

    switch (kw->kind) {
    case KW_REF:
        return val_node(c, kw->u.ref.node, v, report, ev, via ? via : "$ref");
    case KW_DYNAMIC_REF:
        /* The outermost resource of the dynamic scope with the anchor wins. */
        for (i = 0; i < c->nscope && kw->u.ref.dyn != NULL; i++) {
            const struct sch_dyn *x;

            for (x = kw->u.ref.dyn; x != NULL; x = x->next)
                if (x->res == c->scope[i])
                    return val_node(c, x->node, v, report, ev, via ? via : "$dynamicRef");
        }
        return val_node(c, kw->u.ref.node, v, report, ev, via ? via : "$dynamicRef");
    case KW_ALL_OF:
        for (i = 0; i < kw->u.list.n && (ok || report); i++)
            if (!val_node(c, kw->u.list.v[i], v, report, ev, "allOf"))
                ok = false;
        return ok;
    case KW_ANY_OF:
    case KW_ONE_OF:
        for (i = 0; i < kw->u.list.n && !c->err && !c->stop_msg; i++) {
            if (ev != NULL && !ev_new(c, v, &tmp))
                return false;
            r = val_node(c, kw->u.list.v[i], v, false, ev ? &tmp : NULL, NULL);
            if (r) {
                if (valid == 0)
                    first = i;
                else if (valid == 1)
                    second = i;
                valid++;
                /* Only valid branches annotate (oneOf with two fails anyway). */
                ev_merge(ev, &tmp);
            }
            free(tmp.bits);
            tmp.bits = NULL;
            if (kw->kind == KW_ANY_OF && valid > 0 && ev == NULL)
                break;
            if (kw->kind == KW_ONE_OF && valid > 1 && ev == NULL)
                break;
        }
        if (c->err || c->stop_msg)
            return false;
        if (valid == 0) {
            val_report(c, kw->kind == KW_ANY_OF ? "anyOf" : "oneOf", &kw->loc,
                       "value matches none of the %zu %s", kw->u.list.n,
                       kw->kind == KW_ANY_OF ? "anyOf alternatives" : "oneOf alternatives");
            return false;
        }
        if (kw->kind == KW_ONE_OF && valid > 1) {
            val_report(c, "oneOf", &kw->loc,
                       "value matches oneOf alternatives %zu and %zu, expected exactly one", first,
                       second);
            return false;
        }
        return true;
    case KW_NOT:
        r = val_node(c, kw->u.node, v, false, NULL, NULL);
        if (c->err || c->stop_msg)
            return false;
        if (r) {
            val_report(c, "not", &kw->loc, "value must not match the \"not\" schema");
            return false;
        }
        return true;
    case KW_IF:
        if (ev != NULL && !ev_new(c, v, &tmp))
            return false;
        r = val_node(c, kw->u.cond.if_, v, false, ev ? &tmp : NULL, NULL);
        if (r)
            ev_merge(ev, &tmp);
        free(tmp.bits);
        if (c->err || c->stop_msg)
            return false;
        if (r && kw->u.cond.then_ != NULL)
            return val_node(c, kw->u.cond.then_, v, report, ev, "then");
        if (!r && kw->u.cond.else_ != NULL)
            return val_node(c, kw->u.cond.else_, v, report, ev, "else");
        return true;
    case KW_DEPENDENT_SCHEMAS:
        for (i = 0; i < kw->u.deps.n && (ok || report); i++)
            if (guard_jv_object_get(v, kw->u.deps.v[i].key, kw->u.deps.v[i].len) != NULL &&
                !val_node(c, kw->u.deps.v[i].node, v, report, ev, "dependentSchemas"))
                ok = false;
        return ok;
    default:
        return true;
    }
}

static bool val_keyword(struct val *c, const struct sch_kw *kw, const struct guard_jv *v,
                        bool report, struct val_ev *ev, const char *via)
{
    const struct guard_jv *x;
    char buf[160], lim[96];
    size_t len, cp, i;
    bool ok = true;
    int cmp, r;

    switch (kw->kind) {
    case KW_TYPE:
        if (val_type_ok(kw->u.types, v))
            return true;
        val_types_text(kw->u.types, buf, sizeof(buf));
        val_report(c, "type", &kw->loc, "expected %s%s, got %s", strchr(buf, ',') ? "one of " : "",
                   buf, val_type_name(v));
        return false;
    case KW_CONST:
        if (guard_jv_equal(v, kw->u.value))
            return true;
        if (report) {
            val_json_short(kw->u.value, buf, 80);
            val_report(c, "const", &kw->loc, "value must be %s", buf);
        }
        return false;
    case KW_ENUM:
        if (!val_spend(c, kw->u.value->n / 8))
            return false;
        for (i = 0; i < kw->u.value->n; i++)
            if (guard_jv_equal(v, &kw->u.value->u.items[i]))
                return true;
        if (report) {
            val_json_short(kw->u.value, buf, 120);
            val_report(c, "enum", &kw->loc, "value must be one of %s", buf);
        }
        return false;
    case KW_MINIMUM:
    case KW_MAXIMUM:
    case KW_EXCL_MINIMUM:
    case KW_EXCL_MAXIMUM:
        if (v->type != GUARD_JV_NUMBER)
            return true;
        cmp = guard_jv_number_cmp(v, kw->u.value);
        if ((kw->kind == KW_MINIMUM && cmp >= 0) || (kw->kind == KW_MAXIMUM && cmp <= 0) ||
            (kw->kind == KW_EXCL_MINIMUM && cmp > 0) || (kw->kind == KW_EXCL_MAXIMUM && cmp < 0))
            return true;
        snprintf(lim, sizeof(lim), "%.*s", (int)kw->u.value->u.num.len, kw->u.value->u.num.text);
        val_report(c,
                   kw->kind == KW_MINIMUM        ? "minimum"
                   : kw->kind == KW_MAXIMUM      ? "maximum"
                   : kw->kind == KW_EXCL_MINIMUM ? "exclusiveMinimum"
                                                 : "exclusiveMaximum",
                   &kw->loc, "%.*s is %s %s", (int)(v->u.num.len > 64 ? 64 : v->u.num.len),
                   v->u.num.text,
                   kw->kind == KW_MINIMUM        ? "less than the minimum"
                   : kw->kind == KW_MAXIMUM      ? "greater than the maximum"
                   : kw->kind == KW_EXCL_MINIMUM ? "not greater than"
                                                 : "not less than",
                   lim);
        return false;
    case KW_MULTIPLE_OF:
        if (v->type != GUARD_JV_NUMBER || guard_jv_number_multiple_of(v, kw->u.value))
            return true;
        val_report(c, "multipleOf", &kw->loc, "%.*s is not a multiple of %.*s",
                   (int)(v->u.num.len > 64 ? 64 : v->u.num.len), v->u.num.text,
                   (int)(kw->u.value->u.num.len > 64 ? 64 : kw->u.value->u.num.len),
                   kw->u.value->u.num.text);
        return false;
    case KW_MIN_LENGTH:
    case KW_MAX_LENGTH:
        if (v->type != GUARD_JV_STRING)
            return true;
        cp = val_codepoints(v->u.str.s, v->u.str.len);
        if (kw->kind == KW_MIN_LENGTH ? cp >= kw->u.count : cp <= kw->u.count)
            return true;
        val_report(c, kw->kind == KW_MIN_LENGTH ? "minLength" : "maxLength", &kw->loc,
                   "string has %zu %s, %s %llu", cp, val_plural(cp, "character", "characters"),
                   kw->kind == KW_MIN_LENGTH ? "fewer than" : "more than",
                   (unsigned long long)kw->u.count);
        return false;
    case KW_PATTERN:
        if (v->type != GUARD_JV_STRING)
            return true;
        r = val_match(c, kw->u.re, v->u.str.s, v->u.str.len);
        if (r != 0)
            return r > 0;
        len = kw->u.re->src_len;
        val_report(c, "pattern", &kw->loc, "string does not match the pattern \"%.*s%s\"",
                   (int)(len > 100 ? 100 : len), kw->u.re->src, len > 100 ? "..." : "");
        return false;
    case KW_FORMAT:
        if (v->type != GUARD_JV_STRING || fmt_check(kw->u.format, v->u.str.s, v->u.str.len))
            return true;
        val_report(c, "format", &kw->loc, "string is not a valid %s", fmt_names[kw->u.format]);
        return false;
    case KW_MIN_PROPERTIES:
    case KW_MAX_PROPERTIES:
        if (v->type != GUARD_JV_OBJECT)
            return true;
        if (kw->kind == KW_MIN_PROPERTIES ? v->n >= kw->u.count : v->n <= kw->u.count)
            return true;
        val_report(c, kw->kind == KW_MIN_PROPERTIES ? "minProperties" : "maxProperties", &kw->loc,
                   "object has %u %s, %s %llu", v->n, val_plural(v->n, "property", "properties"),
                   kw->kind == KW_MIN_PROPERTIES ? "fewer than" : "more than",
                   (unsigned long long)kw->u.count);
        return false;
    case KW_REQUIRED:
        if (v->type != GUARD_JV_OBJECT)
            return true;
        for (i = 0; i < kw->u.value->n && (ok || report); i++) {
            x = &kw->u.value->u.items[i];
            if (guard_jv_object_get(v, x->u.str.s, x->u.str.len) == NULL) {
                val_report(c, "required", &kw->loc, "required property \"%.*s\" is missing",
                           (int)(x->u.str.len > 64 ? 64 : x->u.str.len), x->u.str.s);
                ok = false;
            }
        }
        return ok;
    case KW_DEPENDENT_REQUIRED:
        if (v->type != GUARD_JV_OBJECT)
            return true;
        for (i = 0; i < kw->u.deps.n && (ok || report); i++) {
            const struct sch_dep *d = &kw->u.deps.v[i];
            uint32_t j;

            if (guard_jv_object_get(v, d->key, d->len) == NULL)
                continue;
            for (j = 0; j < d->names->n && (ok || report); j++) {
                x = &d->names->u.items[j];
                if (guard_jv_object_get(v, x->u.str.s, x->u.str.len) != NULL)
                    continue;
                val_report(c, "dependentRequired", &kw->loc,
                           "property \"%.*s\" is required when \"%.*s\" is present",
                           (int)(x->u.str.len > 64 ? 64 : x->u.str.len), x->u.str.s,
                           (int)(d->len > 64 ? 64 : d->len), d->key);
                ok = false;
            }
        }
        return ok;
    case KW_PROPERTIES:
    case KW_PATTERN_PROPERTIES:
    case KW_ADDITIONAL_PROPERTIES:
    case KW_PROPERTY_NAMES:
    case KW_UNEVALUATED_PROPERTIES:
        return v->type != GUARD_JV_OBJECT || val_object(c, kw, v, report, ev);
    case KW_MIN_ITEMS:
    case KW_MAX_ITEMS:
    case KW_UNIQUE_ITEMS:
    case KW_PREFIX_ITEMS:
    case KW_ITEMS:
    case KW_CONTAINS:
    case KW_UNEVALUATED_ITEMS:
        return v->type != GUARD_JV_ARRAY || val_array(c, kw, v, report, ev);
    case KW_DEPENDENT_SCHEMAS:
        if (v->type != GUARD_JV_OBJECT)
            return true;
        return val_inplace(c, kw, v, report, ev, via);
    case KW_REF:
    case KW_DYNAMIC_REF:
    case KW_ALL_OF:
    case KW_ANY_OF:
    case KW_ONE_OF:
    case KW_NOT:
    case KW_IF:
        return val_inplace(c, kw, v, report, ev, via);
    default:
        return true;
    }
}

static const char *val_false_message(const char *via)
{
    if (via == NULL)
        return "no value is allowed here";
    if (strcmp(via, "additionalProperties") == 0)
        return "additional property is not allowed";
    if (strcmp(via, "unevaluatedProperties") == 0)
        return "unevaluated property is not allowed";
    if (strcmp(via, "properties") == 0 || strcmp(via, "patternProperties") == 0)
        return "property is not allowed";
    if (strcmp(via, "items") == 0 || strcmp(via, "prefixItems") == 0)
        return "item is not allowed";
    if (strcmp(via, "unevaluatedItems") == 0)
        return "unevaluated item is not allowed";
    return "no value is allowed here";
}

/* Validate v against one subschema. `ev` (may be NULL) receives the members/items the
 * subschema evaluated; `via` names the keyword that applied it, for messages. */
static bool val_node(struct val *c, const struct sch_node *n, const struct guard_jv *v, bool report,
                     struct val_ev *ev, const char *via)
{
    struct val_ev own = {0}, *cur = ev;
    bool ok = true, saved = c->report, pushed;
    size_t i;

    if (c->err || c->stop_msg)
        return false;
    if (!val_spend(c, 1))
        return false;
    if (n->kind == SCH_TRUE)
        return true;
    c->report = report && c->res != NULL;
    if (n->kind == SCH_FALSE) {
        val_report(c, via ? via : "false", n->loc, "%s", val_false_message(via));
        ok = false;
        goto out;
    }
    if (c->depth >= c->s->lim.max_depth) {
        val_stop(c, "schema recursion deeper than %u (a $ref cycle?)", c->s->lim.max_depth);
        ok = false;
        goto out;
    }
    c->depth++;
    /* Entering another resource extends the dynamic scope. */
    pushed = c->nscope == 0 || c->scope[c->nscope - 1] != n->res;
    if (pushed)
        c->scope[c->nscope++] = n->res;
    /* A subschema with unevaluated* sees only its own annotations; they join the caller's
     * when it is valid. */
    if (n->has_unevaluated && (v->type == GUARD_JV_OBJECT || v->type == GUARD_JV_ARRAY)) {
        if (!ev_new(c, v, &own)) {
            ok = false;
            goto done;
        }
        cur = &own;
    }
    for (i = 0; i < n->n_kws && !c->err && !c->stop_msg; i++) {
        if (!val_keyword(c, &n->kws[i], v, c->report, cur, via)) {
            ok = false;
            if (!c->report)
                break;
        }
    }
    if (cur == &own) {
        if (ok)
            ev_merge(ev, &own);
        free(own.bits);
    }
done:
    if (pushed)
        c->nscope--;
    c->depth--;
out:
    c->report = saved;
    return ok && !c->err && !c->stop_msg;
}

/* ==== public API ==== */

static void sch_free_contents(struct guard_schema *s)
{
    struct sch_regex *re;
    struct sch_block *b, *next;

    for (re = s->regexes; re != NULL; re = re->next)
        hs_free_database(re->db);
    hs_free_scratch(s->proto);
    for (b = s->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    guard_jv_doc_free(s->doc);
}

void guard_schema_free(struct guard_schema *s)
{
    if (s == NULL)
        return;
    sch_free_contents(s);
    free(s);
}

int guard_schema_new(const struct guard_jv *root, const struct guard_schema_limits *lim,
                     const struct guard_schema_resource *res, size_t n_res,
                     struct guard_schema **out, char *err, size_t errlen)
{
    struct guard_schema *s;
    struct sc c;
    size_t i;
    int rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    c.err = err;
    c.errlen = errlen;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return sc_oom(&c);
    if (lim != NULL)
        s->lim = *lim;
    if (s->lim.max_nodes == 0)
        s->lim.max_nodes = GUARD_SCHEMA_DEFAULT_NODES;
    if (s->lim.max_patterns == 0)
        s->lim.max_patterns = GUARD_SCHEMA_DEFAULT_PATTERNS;
    if (s->lim.max_pattern == 0)
        s->lim.max_pattern = GUARD_SCHEMA_DEFAULT_PATTERN;
    if (s->lim.max_depth == 0)
        s->lim.max_depth = GUARD_SCHEMA_DEFAULT_DEPTH;
    if (s->lim.max_steps == 0)
        s->lim.max_steps = GUARD_SCHEMA_DEFAULT_STEPS;
    c.s = s;
    c.flags = s->lim.flags;
    if (s->lim.max_depth > GUARD_SCHEMA_MAX_DEPTH) {
        rc = sc_fail(&c, -EINVAL, NULL, "max_depth above %u", GUARD_SCHEMA_MAX_DEPTH);
        goto out;
    }
    for (i = 0; i < n_res; i++) {
        if (res[i].uri == NULL || res[i].root == NULL || strchr(res[i].uri, '#') != NULL) {
            rc = sc_fail(&c, -EINVAL, NULL, "resource %zu: needs a URI without fragment", i);
            goto out;
        }
    }
    rc = sc_compile(&c, root, res, n_res);
out:
    free(c.refs);
    free(c.entries.slots);
    free(c.ids.slots);
    free(c.anchors.slots);
    free(c.dynanchors.slots);
    free(c.resources.slots);
    if (rc < 0) {
        guard_schema_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int guard_schema_parse(const char *buf, size_t len, const struct guard_jv_limits *jlim,
                       const struct guard_schema_limits *lim, struct guard_schema **out, char *err,
                       size_t errlen)
{
    struct guard_json_error jerr;
    struct guard_jv_doc *doc = NULL;
    int rc;

    *out = NULL;
    rc = guard_jv_parse(buf, len, jlim, &doc, &jerr);
    if (rc < 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "schema is not valid JSON: %s at line %u, column %u",
                     jerr.message ? jerr.message : "error", (unsigned)jerr.line,
                     (unsigned)jerr.column);
        return rc == -EBADMSG ? -EINVAL : rc;
    }
    rc = guard_schema_new(guard_jv_doc_root(doc), lim, NULL, 0, out, err, errlen);
    if (rc < 0) {
        guard_jv_doc_free(doc);
        return rc;
    }
    (*out)->doc = doc;
    return 0;
}

struct guard_schema_scratch *guard_schema_scratch_new(const struct guard_schema *s)
{
    struct guard_schema_scratch *sc = calloc(1, sizeof(*sc));

    if (sc == NULL)
        return NULL;
    if (s->proto != NULL && hs_clone_scratch(s->proto, &sc->hs) != HS_SUCCESS) {
        free(sc);
        return NULL;
    }
    return sc;
}

void guard_schema_scratch_free(struct guard_schema_scratch *sc)
{
    if (sc == NULL)
        return;
    hs_free_scratch(sc->hs);
    free(sc);
}

void guard_schema_result_free(struct guard_schema_result *res)
{
    size_t i;

    if (res == NULL)
        return;
    for (i = 0; i < res->n; i++) {
        free(res->v[i].instance);
        free(res->v[i].schema);
        free(res->v[i].message);
    }
    memset(res, 0, sizeof(*res));
}

int guard_schema_validate(const struct guard_schema *s, const struct guard_jv *instance,
                          struct guard_schema_scratch *scratch, struct guard_schema_result *res)
{
    struct guard_schema_violation *last;
    struct val *c;
    bool ok;
    int rc;

    if (res != NULL)
        memset(res, 0, sizeof(*res));
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->s = s;
    c->res = res;
    c->scratch = scratch;
    ok = val_node(c, s->root, instance, true, NULL, NULL);
    if (c->stop_msg != NULL && res != NULL) {
        /* Fail closed, and say why in the last slot if the list is full. */
        res->incomplete = true;
        if (res->n == GUARD_SCHEMA_VIOLATIONS) {
            last = &res->v[res->n - 1];
            free(last->instance);
            free(last->schema);
            free(last->message);
            memset(last, 0, sizeof(*last));
            res->n--;
            res->total--;
        }
        c->plen = 0;
        c->report = true;
        val_report(c, "limit", s->root->loc, "%s", c->stop_msg);
    }
    if (c->err != 0) {
        rc = c->err;
    } else {
        rc = ok && c->stop_msg == NULL ? 0 : 1;
        if (res != NULL)
            res->valid = rc == 0;
    }
    if (c->own_hs)
        hs_free_scratch(c->hs);
    free(c);
    return rc;
}

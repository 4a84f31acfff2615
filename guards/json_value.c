/* JSON document tree: values built from tokenizer events into one arena, exact decimal
 * comparison of numbers, JSON Schema equality, hashing and a compact writer. */
#include "guards/json_value.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena: bump allocation in blocks, freed in one call ---- */

#define JV_BLOCK (64u * 1024u)
#define JV_ALIGN alignof(max_align_t)

struct jv_block {
    struct jv_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct guard_jv_doc {
    struct jv_block *blocks;
    struct guard_jv root;
    size_t nodes;
};

static void *jv_alloc(struct guard_jv_doc *doc, size_t size)
{
    struct jv_block *b = doc->blocks;
    size_t cap;
    void *p;

    size = (size + JV_ALIGN - 1) & ~(size_t)(JV_ALIGN - 1);
    if (size == 0)
        size = JV_ALIGN;
    if (b == NULL || b->cap - b->used < size) {
        cap = size > JV_BLOCK ? size : JV_BLOCK;
        b = malloc(sizeof(*b) + cap);
        if (b == NULL)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

/* A NUL-terminated copy of n bytes. */
static char *jv_strdup(struct guard_jv_doc *doc, const char *s, size_t n)
{
    char *p = jv_alloc(doc, n + 1);

    if (p != NULL) {
        if (n)
            memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

void guard_jv_doc_free(struct guard_jv_doc *doc)
{
    struct jv_block *b, *next;

    if (doc == NULL)
        return;
    for (b = doc->blocks; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(doc);
}

const struct guard_jv *guard_jv_doc_root(const struct guard_jv_doc *doc)
{
    return &doc->root;
}

size_t guard_jv_doc_nodes(const struct guard_jv_doc *doc)
{
    return doc->nodes;
}

/* ---- parser ---- */

/* A value waiting for its container to close, with the offset of its key (for errors). */
struct jv_pending {
    struct guard_jv_member m;
    uint64_t offset;
};

struct jv_parser {
    struct guard_jv_doc *doc;
    const char *buf;
    struct guard_json_error *err;
    size_t max_nodes;
    bool allow_duplicates;
    struct jv_pending *stack; /* open containers' placeholders and finished children */
    size_t n, cap;
    size_t start[GUARD_JSON_MAX_DEPTH + 1]; /* first child of each open container */
    unsigned depth;
    const char *key; /* member name waiting for its value */
    size_t key_len;
    uint64_t key_offset;
    char *sbuf; /* the string value being assembled from fragments */
    size_t slen, scap;
};

static void jv_error_at(struct jv_parser *p, uint64_t offset, const char *msg)
{
    uint64_t i, line_start = 0;
    uint32_t line = 1;

    for (i = 0; i < offset; i++) {
        if (p->buf[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    p->err->offset = offset;
    p->err->line = line;
    p->err->column = (uint32_t)(offset - line_start + 1);
    p->err->message = msg;
}

static int jv_push(struct jv_parser *p, const struct guard_jv *v, uint64_t offset)
{
    struct jv_pending *grown;
    size_t cap;

    if (p->doc->nodes >= p->max_nodes) {
        jv_error_at(p, offset, "more values than the node limit");
        return -E2BIG;
    }
    p->doc->nodes++;
    if (p->n == p->cap) {
        cap = p->cap ? p->cap * 2 : 64;
        grown = realloc(p->stack, cap * sizeof(*grown));
        if (grown == NULL)
            return -ENOMEM;
        p->stack = grown;
        p->cap = cap;
    }
    p->stack[p->n].m.key = p->key;
    p->stack[p->n].m.key_len = p->key_len;
    p->stack[p->n].m.value = *v;
    p->stack[p->n].offset = p->key ? p->key_offset : offset;
    p->n++;
    p->key = NULL;
    p->key_len = 0;
    return 0;
}

static int jv_member_cmp(const void *a, const void *b)
{
    const struct guard_jv_member *x = *(const struct guard_jv_member *const *)a;
    const struct guard_jv_member *y = *(const struct guard_jv_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = n ? memcmp(x->key, y->key, n) : 0;

    if (c != 0)
        return c;
    if (x->key_len != y->key_len)
        return x->key_len < y->key_len ? -1 : 1;
    /* Equal keys keep source order, so lookups find the first. */
    return x < y ? -1 : x > y;
}

/* Close the innermost container: move its children into the arena. */
static int jv_close(struct jv_parser *p)
{
    size_t start = p->start[--p->depth], count = p->n - start, i;
    struct guard_jv *v = &p->stack[start - 1].m.value;
    struct guard_jv_member *members;
    const struct guard_jv_member **sorted;

    if (count > UINT32_MAX) {
        jv_error_at(p, p->stack[start - 1].offset, "container with more than 2^32 values");
        return -E2BIG;
    }
    v->n = (uint32_t)count;
    if (v->type == GUARD_JV_ARRAY) {
        v->u.items = jv_alloc(p->doc, (count ? count : 1) * sizeof(*v->u.items));
        if (v->u.items == NULL)
            return -ENOMEM;
        for (i = 0; i < count; i++)
            v->u.items[i] = p->stack[start + i].m.value;
    } else {
        members = jv_alloc(p->doc, (count ? count : 1) * sizeof(*members));
        sorted = jv_alloc(p->doc, (count ? count : 1) * sizeof(*sorted));
        if (members == NULL || sorted == NULL)
            return -ENOMEM;
        for (i = 0; i < count; i++) {
            members[i] = p->stack[start + i].m;
            sorted[i] = &members[i];
        }
        if (count > 1)
            qsort(sorted, count, sizeof(*sorted), jv_member_cmp);
        for (i = 1; i < count && !p->allow_duplicates; i++) {
            if (sorted[i]->key_len == sorted[i - 1]->key_len &&
                memcmp(sorted[i]->key, sorted[i - 1]->key, sorted[i]->key_len) == 0) {
                jv_error_at(p, p->stack[start + (size_t)(sorted[i] - members)].offset,
                            "duplicate object key");
                return -EBADMSG;
            }
        }
        v->u.obj.members = members;
        v->u.obj.sorted = sorted;
    }
    p->n = start;
    return 0;
}

static int jv_string_add(struct jv_parser *p, const char *s, size_t n)
{
    size_t cap;
    char *grown;

    if (p->slen + n > p->scap) {
        cap = p->scap ? p->scap : 256;
        while (cap < p->slen + n)
            cap *= 2;
        grown = realloc(p->sbuf, cap);
        if (grown == NULL)
            return -ENOMEM;
        p->sbuf = grown;
        p->scap = cap;
    }
    if (n)
        memcpy(p->sbuf + p->slen, s, n);
    p->slen += n;
    return 0;
}

static int jv_event(struct jv_parser *p, const struct guard_json_event *ev)
{
    struct guard_jv v;
    char *text;
    int rc = 0;

    memset(&v, 0, sizeof(v));
    switch (ev->tok) {
    case GUARD_JSON_OBJECT_BEGIN:
    case GUARD_JSON_ARRAY_BEGIN:
        v.type = ev->tok == GUARD_JSON_ARRAY_BEGIN ? GUARD_JV_ARRAY : GUARD_JV_OBJECT;
        rc = jv_push(p, &v, ev->offset);
        if (rc == 0)
            p->start[p->depth++] = p->n;
        break;
    case GUARD_JSON_OBJECT_END:
    case GUARD_JSON_ARRAY_END:
        rc = jv_close(p);
        break;
    case GUARD_JSON_KEY:
        p->key = jv_strdup(p->doc, ev->str, ev->len);
        p->key_len = ev->len;
        p->key_offset = ev->offset;
        if (p->key == NULL)
            rc = -ENOMEM;
        break;
    case GUARD_JSON_STRING:
        if (ev->flags & GUARD_JSON_F_BEGIN)
            p->slen = 0;
        rc = jv_string_add(p, ev->str, ev->len);
        if (rc == 0 && (ev->flags & GUARD_JSON_F_END)) {
            v.type = GUARD_JV_STRING;
            v.u.str.len = p->slen;
            v.u.str.s = jv_strdup(p->doc, p->sbuf, p->slen);
            rc = v.u.str.s ? jv_push(p, &v, ev->offset) : -ENOMEM;
        }
        break;
    case GUARD_JSON_NUMBER:
        text = jv_strdup(p->doc, ev->str, ev->len);
        if (text == NULL) {
            rc = -ENOMEM;
            break;
        }
        v.type = GUARD_JV_NUMBER;
        v.u.num.text = text;
        v.u.num.len = ev->len;
        v.u.num.d = strtod(text, NULL);
        rc = jv_push(p, &v, ev->offset);
        break;
    case GUARD_JSON_TRUE:
    case GUARD_JSON_FALSE:
        v.type = GUARD_JV_BOOL;
        v.u.b = ev->tok == GUARD_JSON_TRUE;
        rc = jv_push(p, &v, ev->offset);
        break;
    case GUARD_JSON_NULL:
        v.type = GUARD_JV_NULL;
        rc = jv_push(p, &v, ev->offset);
        break;
    }
    return rc;
}

int guard_jv_parse(const char *buf, size_t len, const struct guard_jv_limits *lim,
                   struct guard_jv_doc **out, struct guard_json_error *err)
{
    struct guard_json_limits jlim = {0};
    struct guard_json_error local;
    struct guard_json_event ev;
    struct guard_json *js = NULL;
    struct jv_parser p;
    size_t max_bytes = GUARD_JV_DEFAULT_BYTES;
    int rc;

    memset(&p, 0, sizeof(p));
    p.buf = buf;
    p.err = err ? err : &local;
    memset(p.err, 0, sizeof(*p.err));
    p.max_nodes = GUARD_JV_DEFAULT_NODES;
    *out = NULL;
    if (lim != NULL) {
        if (lim->max_depth > GUARD_JSON_MAX_DEPTH) {
            p.err->message = "depth limit above its ceiling";
            rc = -EINVAL;
            goto out;
        }
        jlim.max_depth = lim->max_depth;
        if (lim->max_bytes)
            max_bytes = lim->max_bytes;
        if (lim->max_nodes)
            p.max_nodes = lim->max_nodes;
        p.allow_duplicates = lim->allow_duplicates;
    }
    if (len > max_bytes) {
        jv_error_at(&p, max_bytes, "document larger than the size limit");
        rc = -E2BIG;
        goto out;
    }
    jlim.max_key = GUARD_JV_MAX_KEY;
    jlim.max_number = GUARD_JV_MAX_NUMBER;
    js = malloc(sizeof(*js));
    p.doc = calloc(1, sizeof(*p.doc));
    if (js == NULL || p.doc == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    rc = guard_json_init(js, &jlim);
    if (rc < 0) {
        p.err->message = "invalid limits";
        goto out;
    }
    guard_json_feed(js, buf ? buf : "", len, true);
    while ((rc = guard_json_next(js, &ev)) == 1) {
        rc = jv_event(&p, &ev);
        if (rc < 0)
            goto out;
    }
    if (rc < 0) {
        *p.err = *guard_json_error(js);
        goto out;
    }
    /* With the whole input given as last, 0 means the document is complete. */
    if (p.n != 1 || p.depth != 0) {
        jv_error_at(&p, len, "unexpected end of input");
        rc = -EBADMSG;
        goto out;
    }
    p.doc->root = p.stack[0].m.value;
    *out = p.doc;
    p.doc = NULL;
out:
    if (rc == -ENOMEM && p.err->message == NULL)
        p.err->message = "out of memory";
    guard_jv_doc_free(p.doc);
    free(p.stack);
    free(p.sbuf);
    free(js);
    return rc;
}

/* ---- accessors ---- */

enum guard_jv_type guard_jv_type(const struct guard_jv *v)
{
    return v->type;
}

const char *guard_jv_type_name(enum guard_jv_type t)
{
    static const char *const names[] = {"null", "boolean", "number", "string", "array", "object"};

    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

bool guard_jv_bool(const struct guard_jv *v)
{
    return v->type == GUARD_JV_BOOL && v->u.b;
}

double guard_jv_number(const struct guard_jv *v)
{
    return v->type == GUARD_JV_NUMBER ? v->u.num.d : 0.0;
}

const char *guard_jv_number_text(const struct guard_jv *v, size_t *len)
{
    if (v->type != GUARD_JV_NUMBER) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.num.len;
    return v->u.num.text;
}

const char *guard_jv_string(const struct guard_jv *v, size_t *len)
{
    if (v->type != GUARD_JV_STRING) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = v->u.str.len;
    return v->u.str.s;
}

size_t guard_jv_array_len(const struct guard_jv *v)
{
    return v->type == GUARD_JV_ARRAY ? v->n : 0;
}

const struct guard_jv *guard_jv_array_at(const struct guard_jv *v, size_t i)
{
    return v->type == GUARD_JV_ARRAY && i < v->n ? &v->u.items[i] : NULL;
}

size_t guard_jv_object_len(const struct guard_jv *v)
{
    return v->type == GUARD_JV_OBJECT ? v->n : 0;
}

const struct guard_jv_member *guard_jv_object_at(const struct guard_jv *v, size_t i)
{
    return v->type == GUARD_JV_OBJECT && i < v->n ? &v->u.obj.members[i] : NULL;
}

static int jv_key_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

const struct guard_jv *guard_jv_object_get(const struct guard_jv *v, const char *key, size_t len)
{
    size_t lo = 0, hi, mid;
    const struct guard_jv_member *m;

    if (v->type != GUARD_JV_OBJECT)
        return NULL;
    /* Lower bound: the first member whose key is not below `key`. */
    hi = v->n;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        m = v->u.obj.sorted[mid];
        if (jv_key_cmp(m->key, m->key_len, key, len) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < v->n) {
        m = v->u.obj.sorted[lo];
        if (jv_key_cmp(m->key, m->key_len, key, len) == 0)
            return &m->value;
    }
    return NULL;
}

/* ---- exact decimal numbers ---- */

/* value = (neg ? -1 : 1) * dig * 10^exp, dig without leading or trailing zeros; zero has
 * n == 0, neg == false. */
struct jv_dec {
    bool neg;
    size_t n;
    int64_t exp;
    char dig[GUARD_JV_MAX_NUMBER];
};

#define JV_EXP_MAX 1000000000000000LL

static void jv_dec_parse(const struct guard_jv *v, struct jv_dec *d)
{
    const char *s = v->u.num.text, *end = s + v->u.num.len;
    int64_t e = 0, frac = 0;
    bool eneg = false, leading = true;

    d->neg = false;
    d->n = 0;
    if (s < end && *s == '-') {
        d->neg = true;
        s++;
    }
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (leading && *s == '0')
            continue;
        leading = false;
        if (d->n < sizeof(d->dig))
            d->dig[d->n++] = *s;
    }
    if (s < end && *s == '.') {
        for (s++; s < end && *s >= '0' && *s <= '9'; s++) {
            frac++;
            if (leading && *s == '0')
                continue;
            leading = false;
            if (d->n < sizeof(d->dig))
                d->dig[d->n++] = *s;
        }
    }
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            eneg = *s++ == '-';
        for (; s < end && *s >= '0' && *s <= '9'; s++)
            if (e < JV_EXP_MAX)
                e = e * 10 + (*s - '0');
        if (eneg)
            e = -e;
    }
    d->exp = e - frac;
    while (d->n > 0 && d->dig[d->n - 1] == '0') {
        d->n--;
        d->exp++;
    }
    if (d->n == 0) {
        d->neg = false;
        d->exp = 0;
    }
}

static int jv_dec_cmp(const struct jv_dec *a, const struct jv_dec *b)
{
    int64_t ma, mb;
    size_t i, n;
    int c = 0, sign;

    if (a->n == 0 || b->n == 0) {
        if (a->n == 0 && b->n == 0)
            return 0;
        if (a->n == 0)
            return b->neg ? 1 : -1;
        return a->neg ? -1 : 1;
    }
    if (a->neg != b->neg)
        return a->neg ? -1 : 1;
    sign = a->neg ? -1 : 1;
    /* Magnitude: the position of the leading digit first, then the digits. */
    ma = (int64_t)a->n + a->exp;
    mb = (int64_t)b->n + b->exp;
    if (ma != mb)
        return ma < mb ? -sign : sign;
    n = a->n < b->n ? a->n : b->n;
    for (i = 0; i < n && c == 0; i++)
        c = a->dig[i] - b->dig[i];
    if (c == 0 && a->n != b->n)
        c = a->n < b->n ? -1 : 1; /* the longer one has more non-zero digits */
    return c < 0 ? -sign : c > 0 ? sign : 0;
}

int guard_jv_number_cmp(const struct guard_jv *a, const struct guard_jv *b)
{
    struct jv_dec x, y;

    jv_dec_parse(a, &x);
    jv_dec_parse(b, &y);
    return jv_dec_cmp(&x, &y);
}

bool guard_jv_number_is_integer(const struct guard_jv *v)
{
    struct jv_dec d;

    if (v->type != GUARD_JV_NUMBER)
        return false;
    jv_dec_parse(v, &d);
    return d.n == 0 || d.exp >= 0;
}

/* A little-endian big number in base 10^9, enough for GUARD_JV_MAX_NUMBER digits. */
#define JV_LIMB_BASE 1000000000u
#define JV_LIMBS     ((GUARD_JV_MAX_NUMBER + 8) / 9 + 2)

struct jv_big {
    size_t n;
    uint32_t l[JV_LIMBS];
};

static int jv_big_cmp(const struct jv_big *a, const struct jv_big *b)
{
    size_t i;

    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (i = a->n; i-- > 0;)
        if (a->l[i] != b->l[i])
            return a->l[i] < b->l[i] ? -1 : 1;
    return 0;
}

/* a = a * 10 + d; a stays below 10 * (a divisor below JV_LIMBS - 1 limbs). */
static void jv_big_mul10_add(struct jv_big *a, unsigned d)
{
    uint64_t carry = d, t;
    size_t i;

    for (i = 0; i < a->n; i++) {
        t = (uint64_t)a->l[i] * 10 + carry;
        a->l[i] = (uint32_t)(t % JV_LIMB_BASE);
        carry = t / JV_LIMB_BASE;
    }
    if (carry && a->n < JV_LIMBS)
        a->l[a->n++] = (uint32_t)carry;
}

static void jv_big_sub(struct jv_big *a, const struct jv_big *b)
{
    int64_t borrow = 0, t;
    size_t i;

    for (i = 0; i < a->n; i++) {
        t = (int64_t)a->l[i] - (i < b->n ? b->l[i] : 0) - borrow;
        borrow = t < 0;
        a->l[i] = (uint32_t)(t < 0 ? t + JV_LIMB_BASE : t);
    }
    while (a->n > 0 && a->l[a->n - 1] == 0)
        a->n--;
}

static void jv_big_from_digits(struct jv_big *a, const char *dig, size_t n)
{
    size_t i;

    a->n = 0;
    for (i = 0; i < n; i++)
        jv_big_mul10_add(a, (unsigned)(dig[i] - '0'));
    while (a->n > 0 && a->l[a->n - 1] == 0)
        a->n--;
}

bool guard_jv_number_multiple_of(const struct guard_jv *v, const struct guard_jv *divisor)
{
    struct jv_dec a, b;
    struct jv_big r, m;
    uint64_t ur = 0, um = 0;
    int64_t k, zeros, i;

    if (v->type != GUARD_JV_NUMBER || divisor->type != GUARD_JV_NUMBER)
        return false;
    jv_dec_parse(v, &a);
    jv_dec_parse(divisor, &b);
    if (b.n == 0)
        return false;
    if (a.n == 0)
        return true;
    /* a / b = (A / B) * 10^k. A has no factor 10, so for k < 0 it cannot be whole. */
    k = a.exp - b.exp;
    if (k < 0)
        return false;
    /* B | A * 10^k. B's factors 2 and 5 appear at most log2(B) < 3.33 * digits times, so
     * zeros past that bound cannot change the answer. */
    zeros = (int64_t)(4 * b.n + 4);
    if (k < zeros)
        zeros = k;
    if (b.n <= 18) {
        for (i = 0; i < (int64_t)b.n; i++)
            um = um * 10 + (uint64_t)(b.dig[i] - '0');
        for (i = 0; i < (int64_t)a.n; i++)
            ur = (ur * 10 + (uint64_t)(a.dig[i] - '0')) % um;
        for (i = 0; i < zeros && ur != 0; i++)
            ur = ur * 10 % um;
        return ur == 0;
    }
    jv_big_from_digits(&m, b.dig, b.n);
    r.n = 0;
    for (i = 0; i < (int64_t)a.n + zeros; i++) {
        jv_big_mul10_add(&r, i < (int64_t)a.n ? (unsigned)(a.dig[i] - '0') : 0);
        while (jv_big_cmp(&r, &m) >= 0)
            jv_big_sub(&r, &m);
        if (i >= (int64_t)a.n && r.n == 0)
            break;
    }
    return r.n == 0;
}

/* ---- equality, hashing ---- */

bool guard_jv_equal(const struct guard_jv *a, const struct guard_jv *b)
{
    uint32_t i;

    if (a->type != b->type)
        return false;
    switch (a->type) {
    case GUARD_JV_NULL:
        return true;
    case GUARD_JV_BOOL:
        return a->u.b == b->u.b;
    case GUARD_JV_NUMBER:
        return guard_jv_number_cmp(a, b) == 0;
    case GUARD_JV_STRING:
        return a->u.str.len == b->u.str.len && memcmp(a->u.str.s, b->u.str.s, a->u.str.len) == 0;
    case GUARD_JV_ARRAY:
        if (a->n != b->n)
            return false;
        for (i = 0; i < a->n; i++)
            if (!guard_jv_equal(&a->u.items[i], &b->u.items[i]))
                return false;
        return true;
    case GUARD_JV_OBJECT:
        if (a->n != b->n)
            return false;
        /* Both sorted by key: walk them side by side. */
        for (i = 0; i < a->n; i++) {
            const struct guard_jv_member *x = a->u.obj.sorted[i], *y = b->u.obj.sorted[i];

            if (jv_key_cmp(x->key, x->key_len, y->key, y->key_len) != 0 ||
                !guard_jv_equal(&x->value, &y->value))
                return false;
        }
        return true;
    }
    return false;
}

static uint64_t jv_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t jv_hash_from(uint64_t h, const struct guard_jv *v)
{
    unsigned char tag = (unsigned char)v->type;
    struct jv_dec d;
    uint32_t i;

    h = jv_mix(h, &tag, 1);
    switch (v->type) {
    case GUARD_JV_NULL:
        break;
    case GUARD_JV_BOOL:
        tag = v->u.b;
        h = jv_mix(h, &tag, 1);
        break;
    case GUARD_JV_NUMBER:
        jv_dec_parse(v, &d);
        h = jv_mix(h, &d.neg, sizeof(d.neg));
        h = jv_mix(h, &d.exp, sizeof(d.exp));
        h = jv_mix(h, d.dig, d.n);
        break;
    case GUARD_JV_STRING:
        h = jv_mix(h, &v->u.str.len, sizeof(v->u.str.len));
        h = jv_mix(h, v->u.str.s, v->u.str.len);
        break;
    case GUARD_JV_ARRAY:
        h = jv_mix(h, &v->n, sizeof(v->n));
        for (i = 0; i < v->n; i++)
            h = jv_hash_from(h, &v->u.items[i]);
        break;
    case GUARD_JV_OBJECT:
        h = jv_mix(h, &v->n, sizeof(v->n));
        for (i = 0; i < v->n; i++) {
            const struct guard_jv_member *m = v->u.obj.sorted[i];

            h = jv_mix(h, &m->key_len, sizeof(m->key_len));
            h = jv_mix(h, m->key, m->key_len);
            h = jv_hash_from(h, &m->value);
        }
        break;
    }
    return h;
}

uint64_t guard_jv_hash(const struct guard_jv *v)
{
    return jv_hash_from(0xcbf29ce484222325ull, v);
}

/* ---- writer ---- */

struct jv_out {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void jv_put(struct jv_out *o, const char *s, size_t n)
{
    size_t cap;
    char *grown;

    if (o->oom)
        return;
    if (o->len + n + 1 > o->cap) {
        cap = o->cap ? o->cap : 64;
        while (cap < o->len + n + 1)
            cap *= 2;
        grown = realloc(o->buf, cap);
        if (grown == NULL) {
            o->oom = true;
            return;
        }
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void jv_put_string(struct jv_out *o, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;
    char esc[6];

    jv_put(o, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *e = NULL;

        if (c == '"')
            e = "\\\"";
        else if (c == '\\')
            e = "\\\\";
        else if (c == '\n')
            e = "\\n";
        else if (c == '\r')
            e = "\\r";
        else if (c == '\t')
            e = "\\t";
        else if (c == '\b')
            e = "\\b";
        else if (c == '\f')
            e = "\\f";
        if (e == NULL && c >= 0x20)
            continue;
        jv_put(o, s + run, i - run);
        run = i + 1;
        if (e != NULL) {
            jv_put(o, e, 2);
        } else {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            jv_put(o, esc, 6);
        }
    }
    jv_put(o, s + run, n - run);
    jv_put(o, "\"", 1);
}

static void jv_write_value(struct jv_out *o, const struct guard_jv *v)
{
    uint32_t i;

    switch (v->type) {
    case GUARD_JV_NULL:
        jv_put(o, "null", 4);
        break;
    case GUARD_JV_BOOL:
        if (v->u.b)
            jv_put(o, "true", 4);
        else
            jv_put(o, "false", 5);
        break;
    case GUARD_JV_NUMBER:
        jv_put(o, v->u.num.text, v->u.num.len);
        break;
    case GUARD_JV_STRING:
        jv_put_string(o, v->u.str.s, v->u.str.len);
        break;
    case GUARD_JV_ARRAY:
        jv_put(o, "[", 1);
        for (i = 0; i < v->n; i++) {
            if (i)
                jv_put(o, ",", 1);
            jv_write_value(o, &v->u.items[i]);
        }
        jv_put(o, "]", 1);
        break;
    case GUARD_JV_OBJECT:
        jv_put(o, "{", 1);
        for (i = 0; i < v->n; i++) {
            if (i)
                jv_put(o, ",", 1);
            jv_put_string(o, v->u.obj.members[i].key, v->u.obj.members[i].key_len);
            jv_put(o, ":", 1);
            jv_write_value(o, &v->u.obj.members[i].value);
        }
        jv_put(o, "}", 1);
        break;
    }
}

int guard_jv_write(const struct guard_jv *v, char **out, size_t *len)
{
    struct jv_out o = {0};

    jv_write_value(&o, v);
    jv_put(&o, "", 0);
    if (o.oom) {
        free(o.buf);
        *out = NULL;
        return -ENOMEM;
    }
    *out = o.buf;
    if (len)
        *len = o.len;
    return 0;
}

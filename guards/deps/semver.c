/* Semantic versions and npm ranges: the node-semver grammar reduced to plain comparators. */
#include "guards/deps/semver.h"

#include <errno.h>
#include <string.h>

#define SEMVER_MAX_RANGE 1024
#define SEMVER_MAX_CMP   64
#define SEMVER_MAX_NUM   ((uint64_t)1 << 53)

enum semver_op {
    SEMVER_EQ = 0,
    SEMVER_LT,
    SEMVER_LE,
    SEMVER_GT,
    SEMVER_GE,
};

struct semver_cmp {
    enum semver_op op;
    struct deps_semver v;
    bool synthetic; /* an upper bound "-0" made by desugaring, not written by the user */
};

/* A version with missing or wildcard parts: `parts` is how many leading numbers were given. */
struct semver_partial {
    struct deps_semver v;
    int parts;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_num(const char *s, size_t len, size_t *i, uint64_t *out)
{
    uint64_t n = 0;
    size_t start = *i;

    while (*i < len && is_digit(s[*i])) {
        n = n * 10 + (uint64_t)(s[*i] - '0');
        if (n > SEMVER_MAX_NUM)
            return -EINVAL;
        (*i)++;
    }
    if (*i == start)
        return -EINVAL;
    *out = n;
    return 0;
}

static bool is_wild(char c)
{
    return c == 'x' || c == 'X' || c == '*';
}

static bool is_ident(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.';
}

/* A partial version at s[0..len): "1", "1.2", "1.x", "*", "1.2.3-rc.1+b". */
static int parse_partial(const char *s, size_t len, struct semver_partial *p)
{
    size_t i = 0;
    uint64_t *nums[3] = {&p->v.major, &p->v.minor, &p->v.patch};

    memset(p, 0, sizeof(*p));
    if (i < len && (s[i] == 'v' || s[i] == 'V' || s[i] == '='))
        i++;
    for (int k = 0; k < 3; k++) {
        if (i < len && is_wild(s[i])) {
            i++;
            while (i < len && s[i] == '.' && i + 1 < len && is_wild(s[i + 1]))
                i += 2;
            break;
        }
        if (parse_num(s, len, &i, nums[k]) < 0)
            return -EINVAL;
        p->parts = k + 1;
        if (k < 2) {
            if (i >= len || s[i] != '.')
                break;
            i++;
        }
    }
    if (p->parts == 3 && i < len && s[i] == '-') {
        size_t start = ++i;
        while (i < len && is_ident(s[i]) && s[i] != '+')
            i++;
        if (i == start)
            return -EINVAL;
        p->v.pre = s + start;
        p->v.pre_len = i - start;
    }
    if (p->parts == 3 && i < len && s[i] == '+') {
        size_t start = ++i;
        while (i < len && is_ident(s[i]))
            i++;
        if (i == start)
            return -EINVAL;
    }
    return i == len ? 0 : -EINVAL;
}

int deps_semver_parse(const char *s, size_t len, struct deps_semver *v)
{
    struct semver_partial p;

    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    if (parse_partial(s, len, &p) < 0 || p.parts != 3)
        return -EINVAL;
    *v = p.v;
    return 0;
}

static int cmp_u64(uint64_t a, uint64_t b)
{
    return a < b ? -1 : a > b;
}

/* One dot-separated prerelease identifier against another: numbers below words. */
static int cmp_ident(const char *a, size_t al, const char *b, size_t bl)
{
    bool an = al > 0, bn = bl > 0;

    for (size_t i = 0; i < al; i++)
        an = an && is_digit(a[i]);
    for (size_t i = 0; i < bl; i++)
        bn = bn && is_digit(b[i]);
    if (an && bn) {
        if (al != bl)
            return al < bl ? -1 : 1;
        return memcmp(a, b, al) < 0 ? -1 : memcmp(a, b, al) > 0;
    }
    if (an != bn)
        return an ? -1 : 1;
    size_t n = al < bl ? al : bl;
    int c = memcmp(a, b, n);
    if (c != 0)
        return c < 0 ? -1 : 1;
    return cmp_u64(al, bl);
}

int deps_semver_cmp(const struct deps_semver *a, const struct deps_semver *b)
{
    int c = cmp_u64(a->major, b->major);
    size_t i = 0, j = 0;

    if (c == 0)
        c = cmp_u64(a->minor, b->minor);
    if (c == 0)
        c = cmp_u64(a->patch, b->patch);
    if (c != 0)
        return c;
    if (a->pre_len == 0 || b->pre_len == 0)
        return a->pre_len == b->pre_len ? 0 : (a->pre_len == 0 ? 1 : -1);
    for (;;) {
        bool a_end = i > a->pre_len, b_end = j > b->pre_len;
        if (a_end || b_end)
            return a_end == b_end ? 0 : (a_end ? -1 : 1);
        size_t ie = i, je = j;
        while (ie < a->pre_len && a->pre[ie] != '.')
            ie++;
        while (je < b->pre_len && b->pre[je] != '.')
            je++;
        c = cmp_ident(a->pre + i, ie - i, b->pre + j, je - j);
        if (c != 0)
            return c;
        i = ie + 1;
        j = je + 1;
    }
}

/* The comparator set being built for one "||" alternative. */
struct semver_set {
    struct semver_cmp c[SEMVER_MAX_CMP];
    size_t n;
};

static int set_add(struct semver_set *set, enum semver_op op, struct deps_semver v, bool synthetic)
{
    if (set->n >= SEMVER_MAX_CMP)
        return -EINVAL;
    set->c[set->n++] = (struct semver_cmp){op, v, synthetic};
    return 0;
}

/* The version just above every version matching p's given parts: 1.2 -> 1.3.0-0. */
static struct deps_semver partial_next(const struct semver_partial *p)
{
    struct deps_semver v = {0};

    if (p->parts == 1)
        v.major = p->v.major + 1;
    else {
        v.major = p->v.major;
        v.minor = p->v.minor + 1;
    }
    v.pre = "0";
    v.pre_len = 1;
    return v;
}

static struct deps_semver floor_of(const struct semver_partial *p)
{
    struct deps_semver v = p->v;
    if (p->parts < 3)
        v.pre = NULL, v.pre_len = 0;
    return v;
}

/* Turn one comparator token (operator + partial version) into plain comparators. */
static int desugar(struct semver_set *set, const char *op, size_t op_len,
                   const struct semver_partial *p)
{
    struct deps_semver lo = floor_of(p), hi;

    if (op_len == 1 && op[0] == '^') {
        if (p->parts == 0)
            return set_add(set, SEMVER_GE, lo, false);
        hi = (struct deps_semver){0, 0, 0, "0", 1};
        if (p->v.major > 0 || p->parts == 1)
            hi.major = p->v.major + 1;
        else if (p->v.minor > 0 || p->parts == 2)
            hi.minor = p->v.minor + 1;
        else
            hi.patch = p->v.patch + 1;
        if (set_add(set, SEMVER_GE, lo, false) < 0)
            return -EINVAL;
        return set_add(set, SEMVER_LT, hi, true);
    }
    if (op_len == 1 && op[0] == '~') {
        if (p->parts == 0)
            return set_add(set, SEMVER_GE, lo, false);
        struct semver_partial q = *p;
        if (q.parts == 3)
            q.parts = 2;
        if (set_add(set, SEMVER_GE, lo, false) < 0)
            return -EINVAL;
        return set_add(set, SEMVER_LT, partial_next(&q), true);
    }
    if (op_len == 0 || (op_len == 1 && op[0] == '=')) {
        if (p->parts == 0)
            return set_add(set, SEMVER_GE, lo, false);
        if (p->parts == 3)
            return set_add(set, SEMVER_EQ, lo, false);
        if (set_add(set, SEMVER_GE, lo, false) < 0)
            return -EINVAL;
        return set_add(set, SEMVER_LT, partial_next(p), true);
    }
    bool eq = op_len == 2 && op[1] == '=';
    if (op_len > 2 || (op_len == 2 && !eq))
        return -EINVAL;
    if (op[0] == '>') {
        if (p->parts == 0)
            return eq ? set_add(set, SEMVER_GE, lo, false) : set_add(set, SEMVER_LT, lo, true);
        if (p->parts == 3)
            return set_add(set, eq ? SEMVER_GE : SEMVER_GT, lo, false);
        if (eq)
            return set_add(set, SEMVER_GE, lo, false);
        hi = partial_next(p);
        hi.pre = NULL, hi.pre_len = 0;
        return set_add(set, SEMVER_GE, hi, false);
    }
    if (op[0] == '<') {
        if (p->parts == 0)
            return eq ? set_add(set, SEMVER_GE, lo, false)
                      : set_add(set, SEMVER_LT, (struct deps_semver){0, 0, 0, "0", 1}, true);
        if (p->parts == 3)
            return set_add(set, eq ? SEMVER_LE : SEMVER_LT, lo, false);
        if (eq)
            return set_add(set, SEMVER_LT, partial_next(p), true);
        lo.pre = "0", lo.pre_len = 1;
        return set_add(set, SEMVER_LT, lo, true);
    }
    return -EINVAL;
}

/* Parse one "||" alternative s[0..len) into set. */
static int parse_set(const char *s, size_t len, struct semver_set *set)
{
    size_t i = 0;

    set->n = 0;
    while (i < len) {
        while (i < len && is_blank(s[i]))
            i++;
        if (i >= len)
            break;
        size_t op = i;
        while (i < len && (s[i] == '<' || s[i] == '>' || s[i] == '=' || s[i] == '^' || s[i] == '~'))
            i++;
        size_t op_len = i - op;
        while (i < len && is_blank(s[i]))
            i++;
        size_t v = i;
        while (i < len && !is_blank(s[i]))
            i++;
        struct semver_partial p;
        if (op_len > 0 && s[op] == '~' && op_len == 2 && s[op + 1] == '>')
            op_len = 1; /* "~>" is "~" */
        if (parse_partial(s + v, i - v, &p) < 0)
            return -EINVAL;
        /* hyphen range: "A - B" */
        size_t k = i;
        while (k < len && is_blank(s[k]))
            k++;
        if (op_len == 0 && k + 1 < len && s[k] == '-' && is_blank(s[k + 1])) {
            struct semver_partial q;
            k++;
            while (k < len && is_blank(s[k]))
                k++;
            size_t qs = k;
            while (k < len && !is_blank(s[k]))
                k++;
            if (parse_partial(s + qs, k - qs, &q) < 0)
                return -EINVAL;
            if (set_add(set, SEMVER_GE, floor_of(&p), false) < 0 ||
                (q.parts == 3   ? set_add(set, SEMVER_LE, q.v, false)
                 : q.parts == 0 ? 0
                                : set_add(set, SEMVER_LT, partial_next(&q), true)) < 0)
                return -EINVAL;
            i = k;
            continue;
        }
        if (desugar(set, s + op, op_len, &p) < 0)
            return -EINVAL;
    }
    if (set->n == 0) /* "" matches anything */
        return set_add(set, SEMVER_GE, (struct deps_semver){0}, false);
    return 0;
}

static bool cmp_test(const struct semver_cmp *c, const struct deps_semver *v)
{
    int r = deps_semver_cmp(v, &c->v);

    switch (c->op) {
    case SEMVER_EQ:
        return r == 0;
    case SEMVER_LT:
        return r < 0;
    case SEMVER_LE:
        return r <= 0;
    case SEMVER_GT:
        return r > 0;
    case SEMVER_GE:
        return r >= 0;
    }
    return false;
}

static bool set_test(const struct semver_set *set, const struct deps_semver *v)
{
    for (size_t i = 0; i < set->n; i++)
        if (!cmp_test(&set->c[i], v))
            return false;
    if (v->pre_len == 0)
        return true;
    for (size_t i = 0; i < set->n; i++) {
        const struct deps_semver *c = &set->c[i].v;
        if (!set->c[i].synthetic && c->pre_len > 0 && c->major == v->major &&
            c->minor == v->minor && c->patch == v->patch)
            return true;
    }
    return false;
}

/* Calls fn on each "||" alternative of range; stops at the first fn returning non-zero. */
static int range_each(const char *range, int (*fn)(const struct semver_set *, void *), void *ud)
{
    size_t len = strlen(range), start = 0;
    struct semver_set set;

    if (len > SEMVER_MAX_RANGE)
        return -EINVAL;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && !(range[i] == '|' && i + 1 < len && range[i + 1] == '|'))
            continue;
        if (parse_set(range + start, i - start, &set) < 0)
            return -EINVAL;
        int rc = fn(&set, ud);
        if (rc != 0)
            return rc;
        i++;
        start = i + 1;
    }
    return 0;
}

static int sat_fn(const struct semver_set *set, void *ud)
{
    return set_test(set, ud) ? 1 : 0;
}

int deps_semver_satisfies(const char *ver, const char *range)
{
    struct deps_semver v;

    if (!ver || !range || deps_semver_parse(ver, strlen(ver), &v) < 0)
        return -EINVAL;
    /* parse every alternative first so a bad range is an error even after a match */
    struct deps_semver dummy = {SEMVER_MAX_NUM + 1, 0, 0, NULL, 0};
    if (range_each(range, sat_fn, &dummy) < 0)
        return -EINVAL;
    return range_each(range, sat_fn, &v);
}

struct min_state {
    struct deps_semver best;
    bool have;
};

static int min_fn(const struct semver_set *set, void *ud)
{
    struct min_state *st = ud;
    struct deps_semver lo = {0};

    for (size_t i = 0; i < set->n; i++) {
        struct deps_semver c = set->c[i].v;
        if (set->c[i].op == SEMVER_GT)
            c.patch++;
        if (set->c[i].op != SEMVER_GE && set->c[i].op != SEMVER_GT && set->c[i].op != SEMVER_EQ)
            continue;
        c.pre = NULL, c.pre_len = 0;
        if (deps_semver_cmp(&c, &lo) > 0)
            lo = c;
    }
    if (!st->have || deps_semver_cmp(&lo, &st->best) < 0)
        st->best = lo;
    st->have = true;
    return 0;
}

int deps_semver_range_min(const char *range, struct deps_semver *out)
{
    struct min_state st = {.have = false};

    if (!range || range_each(range, min_fn, &st) < 0 || !st.have)
        return -EINVAL;
    *out = st.best;
    return 0;
}

/* Typosquatting detector: corpus parsing, normalised-form and deletion indexes, the check. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/typo.h"

/* Targets whose deletion neighbourhood is indexed (edit distance 1-2 is only evidence
 * against the most popular names; the other techniques index the whole corpus). */
#define TYPO_EDIT_TARGETS 2000
/* Depth-2 deletions only for names up to this length (the neighbourhood grows as L^2). */
#define TYPO_DEPTH2_MAX 40
/* A name in the corpus is a legitimate near-pair unless its neighbour has this many times
 * its downloads (tuned on the dev set: legitimate pairs sit within a factor of ~200). */
#define TYPO_RATIO 1000
/* Highest target rank each technique accepts (see typo_accept; tuned on the dev set). */
#ifndef TYPO_RANK_EDIT1
#define TYPO_RANK_EDIT1 2000
#endif
#ifndef TYPO_LEN_EDIT1
#define TYPO_LEN_EDIT1 7
#endif
#define TYPO_RANK_EDIT2      100
#define TYPO_RANK_SWAP       2000
#define TYPO_RANK_PLURAL     1000
#define TYPO_RANK_GLYPH      5000
#define TYPO_RANK_AFFIX_DROP 2000
/* Deletion keys shared by more targets than this are skipped. */
#define TYPO_MAX_BUCKET 16
/* Candidates kept per query. */
#define TYPO_MAX_CAND 64
/* Work buffers hold a name plus slack for "@"+"/" rewrites. */
#define TYPO_BUF (DEPS_TYPO_MAX_NAME + 8)

/* Index tags: one hash space per kind of key. */
enum {
    TAG_NAME = 'N',  /* lowercased name */
    TAG_SEP = 'S',   /* separators removed */
    TAG_GLYPH = 'H', /* separators removed, look-alikes folded */
    TAG_BARE = 'U',  /* scoped target: the name after the slash, separators removed */
    TAG_JOIN = 'J',  /* scoped target: scope and name joined, separators removed */
    TAG_CORE = 'C',  /* target with affixes stripped, separators removed */
    TAG_PLUR = 'D',  /* separators removed, doubled letters collapsed, trailing 's' dropped */
    TAG_DEL = 'E',   /* deletion neighbourhood (0-2 deletions) of the lowercased name */
};

struct typo_ent {
    const char *name;  /* as written in the corpus */
    const char *lower; /* ASCII-lowercased */
    uint64_t downloads;
};

struct typo_key {
    uint64_t key;
    uint32_t idx;
};

struct deps_typo_corpus {
    size_t n;
    struct typo_ent *ents;
    char *strings; /* every name and lowered name, NUL-terminated */
    struct typo_key *keys;
    size_t n_keys, cap_keys;
    uint32_t *dir;     /* dir[b]: first key whose top dir_bits bits are >= b (2^bits + 1) */
    unsigned dir_bits; /* 0 while the keys are not final (no directory) */
    char hash[32];
};

static const char *const typo_prefixes[] = {"nodejs", "node", "js", "npm"};
static const char *const typo_suffixes[] = {"nodejs", "node", "js",  "cli",
                                            "dev",    "lib",  "npm", "pkg"};

static uint64_t typo_hash(int tag, const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;

    h = (h ^ (unsigned char)tag) * 0x100000001b3ull;
    for (i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static int typo_is_sep(char ch)
{
    return ch == '-' || ch == '_' || ch == '.';
}

/* Separators removed. */
static size_t typo_sepless(const char *s, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++)
        if (!typo_is_sep(s[i]))
            out[o++] = s[i];
    return o;
}

/* Look-alike characters folded to one representative (input without separators). */
static size_t typo_glyph(const char *s, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char ch = s[i];

        if (ch == 'r' && i + 1 < n && s[i + 1] == 'n') {
            ch = 'm';
            i++;
        } else if (ch == 'v' && i + 1 < n && s[i + 1] == 'v') {
            ch = 'w';
            i++;
        } else if (ch == '0') {
            ch = 'o';
        } else if (ch == '1' || ch == 'i' || ch == '!' || ch == '|') {
            ch = 'l';
        } else if (ch == '5') {
            ch = 's';
        } else if (ch == '3') {
            ch = 'e';
        }
        out[o++] = ch;
    }
    return o;
}

/* Doubled letters collapsed and a trailing 's' dropped (input without separators). */
static size_t typo_plural(const char *s, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++)
        if (o == 0 || out[o - 1] != s[i])
            out[o++] = s[i];
    if (o > 3 && out[o - 1] == 's')
        o--;
    return o;
}

/* The cores of a lowercased unscoped name once one known prefix and/or suffix is stripped,
 * separators removed; at most 3, each at least 3 bytes. Returns how many. */
static size_t typo_cores(const char *s, size_t n, char out[3][TYPO_BUF], size_t lens[3])
{
    size_t k = 0, pi, si, b, e, pb[2], np = 1, ne = 1, pe[2], i, j;

    pb[0] = 0;
    pe[0] = n;
    for (pi = 0; pi < sizeof(typo_prefixes) / sizeof(typo_prefixes[0]) && np < 2; pi++) {
        size_t l = strlen(typo_prefixes[pi]);

        if (n > l && memcmp(s, typo_prefixes[pi], l) == 0)
            pb[np++] = typo_is_sep(s[l]) ? l + 1 : l;
    }
    for (si = 0; si < sizeof(typo_suffixes) / sizeof(typo_suffixes[0]) && ne < 2; si++) {
        size_t l = strlen(typo_suffixes[si]);

        if (n > l && memcmp(s + n - l, typo_suffixes[si], l) == 0)
            pe[ne++] = typo_is_sep(s[n - l - 1]) ? n - l - 1 : n - l;
    }
    for (i = 0; i < np; i++) {
        for (j = 0; j < ne; j++) {
            if (i == 0 && j == 0)
                continue;
            b = pb[i];
            e = pe[j];
            if (e <= b || e - b < 3 || k == 3)
                continue;
            lens[k] = typo_sepless(s + b, e - b, out[k]);
            if (lens[k] >= 3)
                k++;
        }
    }
    return k;
}

/* Optimal-string-alignment distance, or limit+1 when above limit. */
static unsigned typo_osa(const char *a, size_t la, const char *b, size_t lb, unsigned limit)
{
    uint16_t r0[TYPO_BUF + 1], r1[TYPO_BUF + 1], r2[TYPO_BUF + 1];
    uint16_t *pp = r0, *p = r1, *c = r2, *t;
    size_t i, j;

    if ((la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    for (j = 0; j <= lb; j++)
        p[j] = (uint16_t)j;
    for (i = 1; i <= la; i++) {
        unsigned rowmin;

        c[0] = (uint16_t)i;
        rowmin = c[0];
        for (j = 1; j <= lb; j++) {
            unsigned cost = a[i - 1] != b[j - 1], v = p[j - 1] + cost;

            if (p[j] + 1u < v)
                v = p[j] + 1u;
            if (c[j - 1] + 1u < v)
                v = c[j - 1] + 1u;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1u < v)
                v = pp[j - 2] + 1u;
            c[j] = (uint16_t)v;
            if (v < rowmin)
                rowmin = v;
        }
        if (rowmin > limit)
            return limit + 1;
        t = pp;
        pp = p;
        p = c;
        c = t;
    }
    return p[lb] > limit ? limit + 1 : p[lb];
}

static int typo_key_push(struct deps_typo_corpus *c, int tag, const char *s, size_t n, uint32_t idx)
{
    if (c->n_keys == c->cap_keys) {
        size_t cap = c->cap_keys ? c->cap_keys * 2 : 4096;
        struct typo_key *k = realloc(c->keys, cap * sizeof(*k));

        if (k == NULL)
            return -ENOMEM;
        c->keys = k;
        c->cap_keys = cap;
    }
    c->keys[c->n_keys].key = typo_hash(tag, s, n);
    c->keys[c->n_keys].idx = idx;
    c->n_keys++;
    return 0;
}

typedef int (*typo_del_fn)(void *ctx, const char *s, size_t n);

/* Call fn on s and on every string made by up to `depth` deletions at positions in
 * [from, hi). Later deletions only at or after the previous one: each set of positions is
 * visited once; deleting either byte of a run gives the same string, so only the first. */
static int typo_dels(const char *s, size_t n, size_t from, size_t hi, unsigned depth,
                     typo_del_fn fn, void *ctx)
{
    char buf[TYPO_BUF];
    size_t i;
    int rc = fn(ctx, s, n);

    if (rc != 0 || depth == 0)
        return rc;
    for (i = from; i < hi; i++) {
        if (i > from && s[i] == s[i - 1])
            continue;
        memcpy(buf, s, i);
        memcpy(buf + i, s + i + 1, n - i - 1);
        rc = typo_dels(buf, n - 1, i, hi - 1, depth - 1, fn, ctx);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The deletion neighbourhood of a lowercased name. A scoped name varies its scope and its
 * bare name separately, so that names sharing a scope do not share keys. */
static int typo_dels_name(const char *s, size_t n, typo_del_fn fn, void *ctx)
{
    const char *slash = s[0] == '@' ? memchr(s, '/', n) : NULL;
    size_t p;
    int rc;

    if (slash == NULL)
        return typo_dels(s, n, 0, n, n <= TYPO_DEPTH2_MAX ? 2 : 1, fn, ctx);
    p = (size_t)(slash - s);
    rc = typo_dels(s, n, p + 1, n, n - p - 1 <= TYPO_DEPTH2_MAX ? 2 : 1, fn, ctx);
    if (rc == 0)
        rc = typo_dels(s, n, 1, p, p - 1 <= TYPO_DEPTH2_MAX ? 2 : 1, fn, ctx);
    return rc;
}

struct typo_push_ctx {
    struct deps_typo_corpus *c;
    uint32_t idx;
};

static int typo_push_del(void *ctx, const char *s, size_t n)
{
    struct typo_push_ctx *pc = ctx;

    return typo_key_push(pc->c, TAG_DEL, s, n, pc->idx);
}

/* Sort the keys by (key, idx): a stable LSD radix sort on the key, 8 bits a pass. Keys are
 * pushed in ascending idx order, so stability keeps equal keys ordered by idx. */
static int typo_keys_sort(struct deps_typo_corpus *c)
{
    size_t(*cnt)[256] = calloc(8, sizeof(*cnt));
    struct typo_key *tmp = malloc(c->n_keys * sizeof(*tmp)), *src = c->keys, *dst = tmp, *t;
    size_t i, d, sum;

    if (cnt == NULL || tmp == NULL) {
        free(cnt);
        free(tmp);
        return -ENOMEM;
    }
    for (i = 0; i < c->n_keys; i++)
        for (d = 0; d < 8; d++)
            cnt[d][(c->keys[i].key >> (8 * d)) & 0xff]++;
    for (d = 0; d < 8; d++) {
        size_t b, run;

        for (b = 0, sum = 0; b < 256; b++) {
            run = cnt[d][b];
            cnt[d][b] = sum;
            sum += run;
        }
        for (i = 0; i < c->n_keys; i++)
            dst[cnt[d][(src[i].key >> (8 * d)) & 0xff]++] = src[i];
        t = src;
        src = dst;
        dst = t;
    }
    /* An even number of passes: the sorted keys are back in c->keys. */
    free(tmp);
    free(cnt);
    return 0;
}

/* First key >= h: the directory narrows the search to one bucket of ~1 key. */
static size_t typo_key_find(const struct deps_typo_corpus *c, uint64_t h)
{
    size_t lo = 0, hi = c->n_keys;

    if (c->dir_bits != 0) {
        size_t b = (size_t)(h >> (64 - c->dir_bits));

        lo = c->dir[b];
        hi = c->dir[b + 1];
    }

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->keys[mid].key < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Bucket directory over the sorted keys (about one key per bucket). */
static int typo_build_dir(struct deps_typo_corpus *c)
{
    unsigned bits = 1;
    size_t b, i = 0, nb;

    while (bits < 26 && ((size_t)1 << bits) < c->n_keys)
        bits++;
    nb = (size_t)1 << bits;
    c->dir = malloc((nb + 1) * sizeof(*c->dir));
    if (c->dir == NULL)
        return -ENOMEM;
    for (b = 0; b < nb; b++) {
        while (i < c->n_keys && (size_t)(c->keys[i].key >> (64 - bits)) < b)
            i++;
        c->dir[b] = (uint32_t)i;
    }
    c->dir[nb] = (uint32_t)c->n_keys;
    c->dir_bits = bits;
    return 0;
}

static int typo_index_dels(struct deps_typo_corpus *c, const char *s, size_t n, uint32_t idx)
{
    struct typo_push_ctx pc = {c, idx};

    if (idx >= TYPO_EDIT_TARGETS)
        return 0;
    return typo_dels_name(s, n, typo_push_del, &pc);
}

static int typo_index_ent(struct deps_typo_corpus *c, uint32_t idx)
{
    const char *s = c->ents[idx].lower;
    size_t n = strlen(s), ln, lg, k, i;
    char sep[TYPO_BUF] = "", tmp[TYPO_BUF] = "", cores[3][TYPO_BUF];
    size_t core_lens[3];
    const char *slash;
    int rc;

    ln = typo_sepless(s, n, sep);
    lg = typo_glyph(sep, ln, tmp);
    rc = typo_key_push(c, TAG_NAME, s, n, idx);
    if (rc == 0)
        rc = typo_key_push(c, TAG_SEP, sep, ln, idx);
    if (rc == 0)
        rc = typo_key_push(c, TAG_GLYPH, tmp, lg, idx);
    if (rc == 0) {
        lg = typo_plural(sep, ln, tmp);
        rc = typo_key_push(c, TAG_PLUR, tmp, lg, idx);
    }
    if (rc != 0)
        return rc;
    slash = s[0] == '@' ? strchr(s, '/') : NULL;
    if (slash != NULL) {
        size_t nb = typo_sepless(slash + 1, strlen(slash + 1), tmp);
        size_t ns = typo_sepless(s + 1, (size_t)(slash - s - 1), sep);

        /* Dropping the scope is evidence only when the bare name is distinctive: the scope
         * repeats it (@foo/foo) or it is long; "@jest/console" does not make every
         * "console" a squat. @types packages mirror unscoped names by design. */
        if (ns == 5 && memcmp(sep, "types", 5) == 0)
            return typo_index_dels(c, s, n, idx);
        if (nb >= 18 || (nb >= 4 && ns >= nb && memcmp(sep, tmp, nb) == 0))
            rc = typo_key_push(c, TAG_BARE, tmp, nb, idx);
        if (rc == 0 && ns + nb < sizeof(sep)) {
            memcpy(sep + ns, tmp, nb);
            rc = typo_key_push(c, TAG_JOIN, sep, ns + nb, idx);
        }
    } else {
        k = typo_cores(s, n, cores, core_lens);
        for (i = 0; i < k && rc == 0; i++)
            rc = typo_key_push(c, TAG_CORE, cores[i], core_lens[i], idx);
    }
    if (rc == 0)
        rc = typo_index_dels(c, s, n, idx);
    return rc;
}

static void typo_fail(struct deps_typo_error *err, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void typo_fail(struct deps_typo_error *err, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    int off;

    if (err == NULL)
        return;
    err->line = line;
    if (line)
        off = snprintf(err->message, sizeof(err->message), "top-packages.tsv:%u: ", line);
    else
        off = snprintf(err->message, sizeof(err->message), "top-packages.tsv: ");
    if (off < 0 || (size_t)off >= sizeof(err->message))
        off = 0;
    va_start(ap, fmt);
    vsnprintf(err->message + off, sizeof(err->message) - (size_t)off, fmt, ap);
    va_end(ap);
}

/* A byte allowed in a corpus name: printable ASCII other than space (npm's own rule is
 * stricter; legacy names hold capitals). */
static int typo_name_byte(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* Parse one line into name [ns, ns+nl) and downloads; 0 or a message. */
static const char *typo_parse_line(const char *p, size_t n, size_t *nl, uint64_t *dl)
{
    const char *tab = memchr(p, '\t', n);
    size_t i, nd;
    uint64_t v = 0;

    if (tab == NULL)
        return "expected \"name<TAB>downloads\"; separate the two fields with one tab";
    *nl = (size_t)(tab - p);
    if (*nl == 0)
        return "empty package name";
    if (*nl > DEPS_TYPO_MAX_NAME)
        return "package name longer than 214 bytes";
    for (i = 0; i < *nl; i++)
        if (!typo_name_byte((unsigned char)p[i]))
            return "package name holds a space, control or non-ASCII byte";
    nd = n - *nl - 1;
    if (nd == 0 || nd > 19)
        return "downloads must be a decimal number of 1 to 19 digits";
    for (i = 0; i < nd; i++) {
        char ch = tab[1 + i];

        if (ch < '0' || ch > '9')
            return "downloads must be a decimal number (no sign, no other field)";
        v = v * 10 + (uint64_t)(ch - '0');
    }
    *dl = v;
    return NULL;
}

struct deps_typo_corpus *deps_typo_corpus_new(const char *tsv, size_t len,
                                              struct deps_typo_error *err)
{
    struct deps_typo_corpus *c = NULL;
    size_t pos, lines = 0, cap_ents = 0, out = 0, i;
    uint32_t line = 0;
    uint64_t fh = 0xcbf29ce484222325ull;
    uint32_t *lines_of = NULL; /* line of each entry, for error messages */
    const char *msg;
    int rc = 0;

    if (err != NULL) {
        err->line = 0;
        err->message[0] = '\0';
    }
    if (tsv == NULL && len != 0) {
        typo_fail(err, 0, "no input");
        goto fail;
    }
    if (len > DEPS_TYPO_MAX_BYTES) {
        typo_fail(err, 0, "larger than 64 MiB; trim the corpus");
        goto fail;
    }
    for (i = 0; i < len; i++) {
        fh = (fh ^ (unsigned char)tsv[i]) * 0x100000001b3ull;
        lines += tsv[i] == '\n';
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        goto nomem;
    snprintf(c->hash, sizeof(c->hash), "fnv1a64:%016llx", (unsigned long long)fh);
    cap_ents = lines + 1;
    if (cap_ents > DEPS_TYPO_MAX_NAMES + 1)
        cap_ents = DEPS_TYPO_MAX_NAMES + 1;
    c->ents = calloc(cap_ents, sizeof(*c->ents));
    c->strings = malloc(2 * len + 2);
    lines_of = malloc(cap_ents * sizeof(*lines_of));
    if (c->ents == NULL || c->strings == NULL || lines_of == NULL)
        goto nomem;
    for (pos = 0; pos < len;) {
        const char *p = tsv + pos, *nlp = memchr(p, '\n', len - pos);
        size_t n = nlp ? (size_t)(nlp - p) : len - pos, nl = 0;
        uint64_t dl = 0;

        pos += n + (nlp != NULL);
        line++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n == 0 || p[0] == '#')
            continue;
        msg = typo_parse_line(p, n, &nl, &dl);
        if (msg != NULL) {
            typo_fail(err, line, "%s", msg);
            goto fail;
        }
        if (c->n == DEPS_TYPO_MAX_NAMES) {
            typo_fail(err, line, "more than %u packages", (unsigned)DEPS_TYPO_MAX_NAMES);
            goto fail;
        }
        c->ents[c->n].name = c->strings + out;
        memcpy(c->strings + out, p, nl);
        out += nl;
        c->strings[out++] = '\0';
        c->ents[c->n].lower = c->strings + out;
        for (i = 0; i < nl; i++) {
            char ch = p[i];

            c->strings[out++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        }
        c->strings[out++] = '\0';
        c->ents[c->n].downloads = dl;
        lines_of[c->n] = line;
        rc = typo_key_push(c, TAG_NAME, c->ents[c->n].lower, nl, (uint32_t)c->n);
        if (rc != 0)
            goto nomem;
        c->n++;
    }
    /* Duplicates: sort the exact-name keys and compare neighbours. */
    if (c->n_keys > 1 && typo_keys_sort(c) != 0)
        goto nomem;
    for (i = 1; i < c->n_keys; i++) {
        const struct typo_key *a = &c->keys[i - 1], *b = &c->keys[i];

        if (a->key == b->key && strcmp(c->ents[a->idx].lower, c->ents[b->idx].lower) == 0) {
            typo_fail(err, lines_of[b->idx], "duplicate package name \"%s\" (first on line %u)",
                      c->ents[b->idx].name, lines_of[a->idx]);
            goto fail;
        }
    }
    c->n_keys = 0; /* rebuilt below with every tag */
    for (i = 0; i < c->n; i++) {
        rc = typo_index_ent(c, (uint32_t)i);
        if (rc != 0)
            goto nomem;
    }
    if (c->n_keys > 0) {
        if (typo_keys_sort(c) != 0)
            goto nomem;
        for (i = 1, out = 1; i < c->n_keys; i++)
            if (c->keys[i].key != c->keys[out - 1].key || c->keys[i].idx != c->keys[out - 1].idx)
                c->keys[out++] = c->keys[i];
        c->n_keys = out;
    }
    if (typo_build_dir(c) != 0)
        goto nomem;
    free(lines_of);
    return c;
nomem:
    typo_fail(err, 0, "out of memory");
fail:
    free(lines_of);
    deps_typo_corpus_free(c);
    return NULL;
}

void deps_typo_corpus_free(struct deps_typo_corpus *c)
{
    if (c == NULL)
        return;
    free(c->ents);
    free(c->strings);
    free(c->keys);
    free(c->dir);
    free(c);
}

size_t deps_typo_corpus_size(const struct deps_typo_corpus *c)
{
    return c ? c->n : 0;
}

const char *deps_typo_corpus_hash(const struct deps_typo_corpus *c)
{
    return c ? c->hash : "";
}

/* Rank (1-based) of the entry whose lowercased name is s[0..n), or 0. */
static uint32_t typo_lookup_name(const struct deps_typo_corpus *c, const char *s, size_t n)
{
    uint64_t h = typo_hash(TAG_NAME, s, n);
    size_t i;

    for (i = typo_key_find(c, h); i < c->n_keys && c->keys[i].key == h; i++) {
        const char *l = c->ents[c->keys[i].idx].lower;

        if (strncmp(l, s, n) == 0 && l[n] == '\0')
            return c->keys[i].idx + 1;
    }
    return 0;
}

uint32_t deps_typo_corpus_rank(const struct deps_typo_corpus *c, const char *name)
{
    char buf[TYPO_BUF];
    size_t n, i;

    if (c == NULL || name == NULL)
        return 0;
    n = strlen(name);
    if (n > DEPS_TYPO_MAX_NAME)
        return 0;
    for (i = 0; i < n; i++)
        buf[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] - 'A' + 'a') : name[i];
    return typo_lookup_name(c, buf, n);
}

/* Lowercase `name` into out, folding the Cyrillic and Greek letters that look like Latin
 * ones (*folded set when any was). Returns the length, or 0 for input that is no package
 * name: empty, too long, other non-ASCII, invalid UTF-8, spaces or control bytes. */
static size_t typo_query_lower(const char *name, char *out, int *folded)
{
    static const struct {
        unsigned cp;
        char ch;
    } fold[] = {
        {0x0430, 'a'}, {0x0435, 'e'}, {0x043e, 'o'}, {0x0440, 'p'}, {0x0441, 'c'}, {0x0443, 'y'},
        {0x0445, 'x'}, {0x0455, 's'}, {0x0456, 'i'}, {0x0458, 'j'}, {0x04bb, 'h'}, {0x0501, 'd'},
        {0x03b1, 'a'}, {0x03bf, 'o'}, {0x03bd, 'v'}, {0x03b9, 'i'}, {0x03ba, 'k'}, {0x03c1, 'p'},
        {0x0410, 'a'}, {0x0415, 'e'}, {0x041e, 'o'}, {0x0420, 'p'}, {0x0421, 'c'}, {0x0425, 'x'},
    };
    const unsigned char *s = (const unsigned char *)name;
    size_t o = 0, i, k;

    *folded = 0;
    for (i = 0; s[i] != '\0'; i++) {
        unsigned char ch = s[i];

        if (o >= DEPS_TYPO_MAX_NAME)
            return 0;
        if (ch < 0x80) {
            if (!typo_name_byte(ch))
                return 0;
            out[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : (char)ch;
            continue;
        }
        if ((ch & 0xe0) != 0xc0 || (s[i + 1] & 0xc0) != 0x80)
            return 0;
        {
            unsigned cp = ((unsigned)(ch & 0x1f) << 6) | (s[i + 1] & 0x3fu);

            for (k = 0; k < sizeof(fold) / sizeof(fold[0]); k++)
                if (fold[k].cp == cp)
                    break;
            if (k == sizeof(fold) / sizeof(fold[0]))
                return 0;
            out[o++] = fold[k].ch;
            *folded = 1;
            i++;
        }
    }
    return o;
}

struct typo_cand {
    uint32_t idx;
    enum deps_typo_technique tech;
};

/* Deletion keys probed at once: each probe is two loads from an index of megabytes, so
 * they are fetched together rather than one after the other (a name of 12 letters has 79). */
#define TYPO_BATCH 256

struct typo_query {
    const struct deps_typo_corpus *c;
    uint32_t self; /* the query's own corpus index + 1, or 0 */
    struct typo_cand cand[TYPO_MAX_CAND];
    size_t n_cand;
    uint64_t batch[TYPO_BATCH]; /* deletion keys waiting for typo_probe_batch */
    size_t n_batch;
};

static void typo_add(struct typo_query *q, uint32_t idx, enum deps_typo_technique tech)
{
    size_t i;

    if (q->self == idx + 1)
        return;
    for (i = 0; i < q->n_cand; i++) {
        if (q->cand[i].idx == idx) {
            if (tech < q->cand[i].tech)
                q->cand[i].tech = tech;
            return;
        }
    }
    if (q->n_cand < TYPO_MAX_CAND) {
        q->cand[q->n_cand].idx = idx;
        q->cand[q->n_cand].tech = tech;
        q->n_cand++;
    }
}

/* Every entry under key (tag, s) becomes a candidate with technique tech. */
static void typo_probe(struct typo_query *q, int tag, const char *s, size_t n,
                       enum deps_typo_technique tech)
{
    uint64_t h = typo_hash(tag, s, n);
    size_t i;

    for (i = typo_key_find(q->c, h); i < q->c->n_keys && q->c->keys[i].key == h; i++)
        typo_add(q, q->c->keys[i].idx, tech);
}

/* The deletion keys of the batch, in the order they were made: their targets become
 * candidates, verified later. A key shared by many targets (short names) says nothing and is
 * skipped. The directory buckets, then the first keys of each, are asked for before any is
 * read. */
static void typo_probe_batch(struct typo_query *q)
{
    const struct deps_typo_corpus *c = q->c;

    if (c->dir_bits != 0 && c->n_keys > 0) {
        for (size_t k = 0; k < q->n_batch; k++)
            __builtin_prefetch(&c->dir[q->batch[k] >> (64 - c->dir_bits)]);
        for (size_t k = 0; k < q->n_batch; k++)
            __builtin_prefetch(&c->keys[c->dir[q->batch[k] >> (64 - c->dir_bits)]]);
    }
    for (size_t k = 0; k < q->n_batch; k++) {
        uint64_t h = q->batch[k];
        size_t i = typo_key_find(c, h), e = i;
        while (e < c->n_keys && c->keys[e].key == h)
            e++;
        if (e - i > TYPO_MAX_BUCKET)
            continue;
        for (; i < e; i++)
            typo_add(q, c->keys[i].idx, DEPS_TYPO_EDIT2);
    }
    q->n_batch = 0;
}

/* A deletion-neighbourhood key of the query, kept for typo_probe_batch. */
static int typo_probe_del(void *ctx, const char *s, size_t n)
{
    struct typo_query *q = ctx;

    q->batch[q->n_batch++] = typo_hash(TAG_DEL, s, n);
    if (q->n_batch == TYPO_BATCH)
        typo_probe_batch(q);
    return 0;
}

/* Is the single edit between a and b (OSA distance 1) an adjacent swap? */
static int typo_is_swap(const char *a, size_t la, const char *b, size_t lb)
{
    size_t i = 0;

    if (la != lb)
        return 0;
    while (i < la && a[i] == b[i])
        i++;
    return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
           memcmp(a + i + 2, b + i + 2, la - i - 2) == 0;
}

/* Does the candidate pass the evidence needed for its technique, target rank and lengths
 * (lowercased, separators included)? `folded`: the query held Cyrillic/Greek look-alikes. */
static int typo_accept(enum deps_typo_technique t, uint32_t rank, size_t qlen, size_t tlen,
                       int folded)
{
    size_t minlen = qlen < tlen ? qlen : tlen;

    switch (t) {
    case DEPS_TYPO_HOMOGLYPH:
        return folded || (rank <= TYPO_RANK_GLYPH && minlen >= 4);
    case DEPS_TYPO_SEPARATOR:
    case DEPS_TYPO_SCOPE:
        return minlen >= 4;
    case DEPS_TYPO_AFFIX:
        /* Added to a popular name (mysql-js), or removed from one (force vs jsforce): the
         * second is weaker, as short words are often both packages and affixed packages. */
        if (qlen > tlen)
            return tlen >= 5;
        return rank <= TYPO_RANK_AFFIX_DROP && qlen >= 5;
    case DEPS_TYPO_TRANSPOSE:
        return rank <= TYPO_RANK_SWAP && minlen >= 5;
    case DEPS_TYPO_PLURAL:
        return rank <= TYPO_RANK_PLURAL && minlen >= 6;
    case DEPS_TYPO_EDIT1:
        return rank <= TYPO_RANK_EDIT1 && minlen >= TYPO_LEN_EDIT1;
    case DEPS_TYPO_EDIT2:
        return rank <= TYPO_RANK_EDIT2 && minlen >= 9;
    case DEPS_TYPO_NONE:
        break;
    }
    return 0;
}

int deps_typo_check(const struct deps_typo_corpus *c, const char *name, struct deps_typo_match *m)
{
    struct typo_query q;
    char low[TYPO_BUF] = "", sep[TYPO_BUF] = "", tmp[TYPO_BUF] = "", cores[3][TYPO_BUF];
    size_t n, ln, lg, i, k, core_lens[3], best = TYPO_MAX_CAND;
    unsigned dist = 0, best_dist = 0;
    int folded, ret = 0;
    const char *slash;

    if (c == NULL || name == NULL)
        return -EINVAL;
    if (m != NULL)
        memset(m, 0, sizeof(*m));
    n = typo_query_lower(name, low, &folded);
    if (n == 0)
        goto out;
    q.c = c;
    q.n_cand = 0;
    q.n_batch = 0;
    q.self = folded ? 0 : typo_lookup_name(c, low, n);
    if (folded) {
        uint32_t r = typo_lookup_name(c, low, n);

        if (r != 0)
            typo_add(&q, r - 1, DEPS_TYPO_HOMOGLYPH);
    }
    ln = typo_sepless(low, n, sep);
    /* Scopes owned by a registry maintainer: @types is published only by DefinitelyTyped. */
    if (strncmp(low, "@types/", 7) == 0)
        goto pick;
    typo_probe(&q, TAG_SEP, sep, ln, DEPS_TYPO_SEPARATOR);
    lg = typo_glyph(sep, ln, tmp);
    typo_probe(&q, TAG_GLYPH, tmp, lg, DEPS_TYPO_HOMOGLYPH);
    lg = typo_plural(sep, ln, tmp);
    typo_probe(&q, TAG_PLUR, tmp, lg, DEPS_TYPO_PLURAL);
    slash = low[0] == '@' ? memchr(low, '/', n) : NULL;
    if (slash == NULL) {
        typo_probe(&q, TAG_BARE, sep, ln, DEPS_TYPO_SCOPE);
        typo_probe(&q, TAG_JOIN, sep, ln, DEPS_TYPO_SCOPE);
        typo_probe(&q, TAG_CORE, sep, ln, DEPS_TYPO_AFFIX);
        k = typo_cores(low, n, cores, core_lens);
        for (i = 0; i < k; i++)
            typo_probe(&q, TAG_SEP, cores[i], core_lens[i], DEPS_TYPO_AFFIX);
    } else {
        size_t nb = typo_sepless(slash + 1, n - (size_t)(slash + 1 - low), tmp);
        uint32_t r = typo_lookup_name(c, slash + 1, n - (size_t)(slash + 1 - low));

        (void)nb;
        if (r != 0 && r <= 1000)
            typo_add(&q, r - 1, DEPS_TYPO_SCOPE);
    }
    typo_dels_name(low, n, typo_probe_del, &q);
    typo_probe_batch(&q);
pick:
    for (i = 0; i < q.n_cand; i++) {
        const struct typo_ent *t = &c->ents[q.cand[i].idx];
        size_t tl = strlen(t->lower);
        enum deps_typo_technique tech = q.cand[i].tech;

        dist = typo_osa(low, n, t->lower, tl, 2);
        if ((tech == DEPS_TYPO_HOMOGLYPH && !folded) || tech == DEPS_TYPO_PLURAL) {
            /* Folded forms also match plain separator variants: name the weaker technique. */
            if (typo_sepless(t->lower, tl, tmp) == ln && memcmp(tmp, sep, ln) == 0)
                tech = DEPS_TYPO_SEPARATOR;
        }
        if (tech == DEPS_TYPO_EDIT2) {
            /* From the deletion index: verify and classify. */
            if (dist > 2)
                continue;
            if (dist == 1)
                tech = typo_is_swap(low, n, t->lower, tl) ? DEPS_TYPO_TRANSPOSE : DEPS_TYPO_EDIT1;
        }
        if (q.self != 0 && t->downloads / TYPO_RATIO < c->ents[q.self - 1].downloads)
            continue;
        if (!typo_accept(tech, q.cand[i].idx + 1, n, tl, folded))
            continue;
        q.cand[i].tech = tech;
        if (best == TYPO_MAX_CAND || tech < q.cand[best].tech ||
            (tech == q.cand[best].tech && q.cand[i].idx < q.cand[best].idx)) {
            best = i;
            best_dist = dist;
        }
    }
    if (best == TYPO_MAX_CAND)
        goto out;
    ret = 1;
    if (m != NULL) {
        const struct typo_ent *t = &c->ents[q.cand[best].idx];
        enum deps_typo_technique tech = q.cand[best].tech;
        uint32_t rank = q.cand[best].idx + 1;

        m->target = t->name;
        m->target_rank = rank;
        m->target_downloads = t->downloads;
        m->distance = best_dist;
        m->technique = tech;
        m->severity = DEPS_TYPO_SEV_MEDIUM;
        /* A popular name under another scope ("@nodable/entities") is how forks are
         * published as much as how squats are: medium. Dropping or joining a scope
         * ("babel-core") imitates the scoped package. */
        int scoped_copy = tech == DEPS_TYPO_SCOPE && low[0] == '@' && t->lower[0] != '@';
        if (((rank <= 1000 && tech <= DEPS_TYPO_TRANSPOSE) || (rank <= 100 && folded)) &&
            !scoped_copy)
            m->severity = DEPS_TYPO_SEV_HIGH;
    }
out:
    return ret;
}

const char *deps_typo_technique_name(enum deps_typo_technique t)
{
    switch (t) {
    case DEPS_TYPO_HOMOGLYPH:
        return "homoglyph";
    case DEPS_TYPO_SEPARATOR:
        return "separator";
    case DEPS_TYPO_SCOPE:
        return "scope";
    case DEPS_TYPO_AFFIX:
        return "affix";
    case DEPS_TYPO_TRANSPOSE:
        return "transposition";
    case DEPS_TYPO_PLURAL:
        return "plural";
    case DEPS_TYPO_EDIT1:
        return "edit-1";
    case DEPS_TYPO_EDIT2:
        return "edit-2";
    case DEPS_TYPO_NONE:
        break;
    }
    return "none";
}

const char *deps_typo_severity_name(enum deps_typo_severity s)
{
    switch (s) {
    case DEPS_TYPO_SEV_HIGH:
        return "HIGH";
    case DEPS_TYPO_SEV_MEDIUM:
        return "MEDIUM";
    case DEPS_TYPO_SEV_NONE:
        break;
    }
    return "NONE";
}

/* File-content analysers of the supply-chain scanner: IoC corpus, a JavaScript lexer feeding
 * the obfuscation rules, credential and download indicators, native binary payloads. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hs/hs.h>
#include <stdatomic.h>

#include "guards/decode.h"
#include "guards/deps/content.h"
#include "guards/deps/prefilter.h"
#include "guards/hs_scan.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- rules and hits ------------------------------------------------------------------- */

enum content_rule {
    R_OBFS1 = 0,
    R_OBFS2,
    R_OBFS3,
    R_OBFS4,
    R_CRED,
    R_BUND,
    R_IOC,
    R_COUNT,
};

static const char *const rule_ids[R_COUNT] = {
    "L2-OBFS-001", "L2-OBFS-002", "L2-OBFS-003", "L2-OBFS-004",
    "L2-CRED-001", "L2-BUND-001", "L2-IOC-001",
};

#define PER_RULE_HITS 8
#define MSG_MAX       200
#define SNIP_MAX      40

struct content_hit {
    uint32_t line;
    uint32_t seq;
    enum deps_severity sev;
    enum content_rule rule;
    char msg[MSG_MAX];
};

struct content_hits {
    struct content_hit v[DEPS_CONTENT_MAX_HITS];
    size_t n;
    unsigned per_rule[R_COUNT];
};

static void hit_add(struct content_hits *h, enum content_rule rule, enum deps_severity sev,
                    uint32_t line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void hit_add(struct content_hits *h, enum content_rule rule, enum deps_severity sev,
                    uint32_t line, const char *fmt, ...)
{
    va_list ap;
    struct content_hit *x;

    if (h->n >= DEPS_CONTENT_MAX_HITS || h->per_rule[rule] >= PER_RULE_HITS)
        return;
    x = &h->v[h->n];
    x->line = line;
    x->seq = (uint32_t)h->n;
    x->sev = sev;
    x->rule = rule;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
    va_end(ap);
    /* the same finding twice (script text is read twice) is one */
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].rule == rule && h->v[i].line == line && strcmp(h->v[i].msg, x->msg) == 0) {
            if (h->v[i].sev < sev)
                h->v[i].sev = sev;
            return;
        }
    h->n++;
    h->per_rule[rule]++;
}

static int hit_cmp(const void *pa, const void *pb)
{
    const struct content_hit *a = pa, *b = pb;

    if (a->line != b->line)
        return a->line < b->line ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* A short, printable copy of untrusted bytes for a message: at most SNIP_MAX characters,
 * quotes, backslashes and non-ASCII replaced by '?'. */
static const char *snip(char out[SNIP_MAX + 4], const char *p, size_t n)
{
    size_t k = n > SNIP_MAX ? SNIP_MAX - 3 : n, i;

    for (i = 0; i < k; i++) {
        unsigned char c = (unsigned char)p[i];
        out[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '\'') ? '?' : (char)c;
    }
    if (k < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* 1-based line of byte offset off. */
static uint32_t line_at(const char *b, size_t off)
{
    uint32_t line = 1;
    const char *p = b, *end = b + off, *q;

    while (p < end && (q = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        line++;
        p = q + 1;
    }
    return line;
}

static const char *find(const char *h, size_t hn, const char *needle)
{
    return memmem(h, hn, needle, strlen(needle));
}

/* Character classes, computed at compile time: word (A-Za-z0-9_), JavaScript identifier
 * (word, '$', any byte >= 0x80), host name (word, '-', '.'), the bytes that end a run of
 * plain characters in a quoted string (8) and in a template literal (16), blanks (32), base64
 * text (64) and hex digits (128). */
#define CC_WORD(c)                                                                             \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9') || \
     (c) == '_')
#define CC_STR(c) ((c) == '\'' || (c) == '"' || (c) == '\n' || (c) == '\\')
#define CC_TPL(c) ((c) == '`' || (c) == '\n' || (c) == '\\' || (c) == '$')
#define CC_BLANK(c) \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\v' || (c) == '\f' || (c) == '\r')
/* base64 (guard_decode_b64_value's alphabet, both variants) or its '=' padding */
#define CC_B64(c) (CC_WORD(c) || (c) == '+' || (c) == '-' || (c) == '/' || (c) == '=')
#define CC_HEX(c) \
    (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define CC_ROW(c)                                                                              \
    (unsigned char)((CC_WORD(c) ? 1 : 0) | (CC_WORD(c) || (c) == '$' || (c) >= 0x80 ? 2 : 0) | \
                    (CC_WORD(c) || (c) == '-' || (c) == '.' ? 4 : 0) | (CC_STR(c) ? 8 : 0) |   \
                    (CC_TPL(c) ? 16 : 0) | (CC_BLANK(c) ? 32 : 0) | (CC_B64(c) ? 64 : 0) |     \
                    (CC_HEX(c) ? 128 : 0))
#define CC_R4(c)  CC_ROW(c), CC_ROW((c) + 1), CC_ROW((c) + 2), CC_ROW((c) + 3)
#define CC_R16(c) CC_R4(c), CC_R4((c) + 4), CC_R4((c) + 8), CC_R4((c) + 12)
#define CC_R64(c) CC_R16(c), CC_R16((c) + 16), CC_R16((c) + 32), CC_R16((c) + 48)
static const unsigned char cc[256] = {CC_R64(0), CC_R64(64), CC_R64(128), CC_R64(192)};

static int word_char(unsigned char c)
{
    return cc[c] & 1;
}

/* ---- IoC corpus ----------------------------------------------------------------------- */

enum ioc_kind {
    IOC_DOMAIN = 0,
    IOC_URL,
    IOC_SHA256,
};

struct ioc {
    const char *value; /* domain (lowercase) or URL; NUL-terminated in db->strings */
    size_t len;
    size_t last_dot; /* a domain's: offset of the '.' before its last label */
    const char *incident;
    uint8_t digest[32];
};

#define KW_SLOTS 4

struct deps_content_db {
    char *strings;
    struct ioc *domains, *urls, *hashes;
    size_t n_domains, n_urls, n_hashes;
    /* the domains (ids 0..n_domains-1, either case) and URLs (n_domains + index) as Hyperscan
     * literals: one pass over a file finds them (NULL when the corpus has neither) */
    hs_database_t *ioc_hs;
    uint64_t serial; /* tells databases apart for the per-thread scratch (ioc_scan) */
    char version[64];
    uint8_t kw_bucket[256][KW_SLOTS]; /* JavaScript keywords of interest, see kw_lookup */
    uint32_t kw_lens[256];            /* by first byte: bit n set when a keyword has length n */
    struct pre_state *pre;            /* the lexer's pre-filter, built when it pays */
};

static void db_fail(char *err, size_t errlen, uint32_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int kw_index(struct deps_content_db *db);
static int ioc_compile(struct deps_content_db *db);
struct pre_state;
static struct pre_state *pre_new(void);
static void pre_free(struct pre_state *ps);

static void db_fail(char *err, size_t errlen, uint32_t line, const char *fmt, ...)
{
    va_list ap;
    int off;

    if (err == NULL || errlen == 0)
        return;
    off = line ? snprintf(err, errlen, "iocs.tsv:%u: ", line) : snprintf(err, errlen, "iocs.tsv: ");
    if (off < 0 || (size_t)off >= errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
    va_end(ap);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int ioc_str_cmp(const void *pa, const void *pb)
{
    const struct ioc *a = pa, *b = pb;
    return strcmp(a->value, b->value);
}

static int ioc_digest_cmp(const void *pa, const void *pb)
{
    const struct ioc *a = pa, *b = pb;
    return memcmp(a->digest, b->digest, 32);
}

/* Why a domain is not a plain host name, or NULL. */
static const char *domain_bad(const char *d, size_t n)
{
    size_t label = 0;

    if (n < 3 || n > 253)
        return "domain length must be 3..253";
    if (d[0] == '.' || d[0] == '-' || d[n - 1] == '.' || d[n - 1] == '-')
        return "domain must not start or end with '.' or '-'";
    if (memchr(d, '.', n) == NULL)
        return "domain needs at least two labels";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0)
                return "empty label in domain";
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return "domain may hold only a-z, 0-9, '-' and '.' (lowercase)";
        if (++label > 63)
            return "domain label longer than 63";
    }
    return NULL;
}

int deps_content_db_new(const char *ioc_tsv, size_t len, struct deps_content_db **out, char *err,
                        size_t errlen)
{
    struct deps_content_db *db = NULL;
    size_t n_lines = 0, pos = 0;
    uint32_t line = 0;
    int rc = -ENOMEM;

    if (err && errlen)
        err[0] = '\0';
    if (out == NULL || (ioc_tsv == NULL && len)) {
        db_fail(err, errlen, 0, "no corpus given");
        return -EINVAL;
    }
    *out = NULL;
    if (len > DEPS_CONTENT_MAX_IOC_TEXT) {
        db_fail(err, errlen, 0, "corpus larger than %zu bytes", DEPS_CONTENT_MAX_IOC_TEXT);
        return -EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        n_lines += ioc_tsv[i] == '\n';
    n_lines++;
    db = calloc(1, sizeof(*db));
    if (db == NULL)
        goto out;
    if (kw_index(db) != 0) {
        db_fail(err, errlen, 0, "internal keyword table overflow");
        rc = -EINVAL;
        goto out;
    }
    db->strings = malloc(len + 1);
    db->domains = calloc(n_lines, sizeof(*db->domains));
    db->urls = calloc(n_lines, sizeof(*db->urls));
    db->hashes = calloc(n_lines, sizeof(*db->hashes));
    if (db->strings == NULL || db->domains == NULL || db->urls == NULL || db->hashes == NULL)
        goto out;
    if (len)
        memcpy(db->strings, ioc_tsv, len);
    db->strings[len] = '\0';
    rc = -EINVAL;
    while (pos < len) {
        char *s = db->strings + pos, *nl = memchr(s, '\n', len - pos), *f[3];
        size_t n = nl ? (size_t)(nl - s) : len - pos, nf = 0;
        struct ioc *x;

        pos += n + (nl != NULL);
        line++;
        s[n] = '\0';
        if (n && s[n - 1] == '\r')
            s[--n] = '\0';
        if (memchr(s, '\0', n) != NULL) {
            db_fail(err, errlen, line, "NUL byte in line");
            goto out;
        }
        if (n == 0)
            continue;
        if (s[0] == '#') {
            const char *v = strstr(s, "version:");
            if (line == 1 && v != NULL) {
                v += 8;
                while (*v == ' ' || *v == '\t')
                    v++;
                snprintf(db->version, sizeof(db->version), "%s", v);
            }
            continue;
        }
        f[nf++] = s;
        for (char *p = s; *p; p++) {
            if (*p != '\t')
                continue;
            *p = '\0';
            if (nf == 3) {
                db_fail(err, errlen, line,
                        "more than 3 tab-separated fields (kind, indicator, "
                        "incident)");
                goto out;
            }
            f[nf++] = p + 1;
        }
        if (nf != 3 || f[1][0] == '\0' || f[2][0] == '\0') {
            db_fail(err, errlen, line, "expected kind<TAB>indicator<TAB>incident");
            goto out;
        }
        if (strlen(f[2]) > 60) {
            db_fail(err, errlen, line, "incident label longer than 60 characters");
            goto out;
        }
        for (const char *p = f[2]; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e || *p == '"' || *p == '\\') {
                db_fail(err, errlen, line,
                        "incident label must be printable ASCII without "
                        "quotes or backslashes");
                goto out;
            }
        if (db->n_domains + db->n_urls + db->n_hashes >= DEPS_CONTENT_MAX_IOCS) {
            db_fail(err, errlen, line, "more than %d indicators", DEPS_CONTENT_MAX_IOCS);
            goto out;
        }
        if ((strcmp(f[0], "domain") == 0 || strcmp(f[0], "url") == 0) &&
            db->n_domains + db->n_urls >= DEPS_CONTENT_MAX_TEXT_IOCS) {
            db_fail(err, errlen, line,
                    "more than %d domain and url indicators together (sha256 ones may be more)",
                    DEPS_CONTENT_MAX_TEXT_IOCS);
            goto out;
        }
        if (strcmp(f[0], "domain") == 0) {
            const char *why = domain_bad(f[1], strlen(f[1]));
            if (why != NULL) {
                db_fail(err, errlen, line, "%s", why);
                goto out;
            }
            x = &db->domains[db->n_domains++];
            x->last_dot = (size_t)(strrchr(f[1], '.') - f[1]);
        } else if (strcmp(f[0], "url") == 0) {
            size_t k = strlen(f[1]);
            if ((strncmp(f[1], "http://", 7) != 0 && strncmp(f[1], "https://", 8) != 0) || k < 12 ||
                k > 2048) {
                db_fail(err, errlen, line,
                        "url must start with http:// or https:// and hold "
                        "12..2048 characters");
                goto out;
            }
            for (const char *p = f[1]; *p; p++)
                if ((unsigned char)*p <= 0x20 || (unsigned char)*p > 0x7e) {
                    db_fail(err, errlen, line, "url must be printable ASCII without spaces");
                    goto out;
                }
            x = &db->urls[db->n_urls++];
        } else if (strcmp(f[0], "sha256") == 0) {
            if (strlen(f[1]) != 64) {
                db_fail(err, errlen, line, "sha256 must be 64 hex digits");
                goto out;
            }
            x = &db->hashes[db->n_hashes];
            for (size_t i = 0; i < 32; i++) {
                int hi = hexval((unsigned char)f[1][2 * i]),
                    lo = hexval((unsigned char)f[1][2 * i + 1]);
                if (hi < 0 || lo < 0) {
                    db_fail(err, errlen, line, "sha256 must be 64 hex digits");
                    goto out;
                }
                x->digest[i] = (uint8_t)(hi << 4 | lo);
            }
            db->n_hashes++;
        } else {
            db_fail(err, errlen, line, "unknown kind '%.16s' (domain, url or sha256)", f[0]);
            goto out;
        }
        x->value = f[1];
        x->len = strlen(f[1]);
        x->incident = f[2];
    }
    qsort(db->domains, db->n_domains, sizeof(*db->domains), ioc_str_cmp);
    qsort(db->urls, db->n_urls, sizeof(*db->urls), ioc_str_cmp);
    qsort(db->hashes, db->n_hashes, sizeof(*db->hashes), ioc_digest_cmp);
    for (size_t i = 1; i < db->n_domains; i++)
        if (strcmp(db->domains[i - 1].value, db->domains[i].value) == 0) {
            db_fail(err, errlen, 0, "duplicate domain %s", db->domains[i].value);
            goto out;
        }
    for (size_t i = 1; i < db->n_urls; i++)
        if (strcmp(db->urls[i - 1].value, db->urls[i].value) == 0) {
            db_fail(err, errlen, 0, "duplicate url");
            goto out;
        }
    for (size_t i = 1; i < db->n_hashes; i++)
        if (memcmp(db->hashes[i - 1].digest, db->hashes[i].digest, 32) == 0) {
            db_fail(err, errlen, 0, "duplicate sha256 %s", db->hashes[i].value);
            goto out;
        }
    db->pre = pre_new();
    if (db->pre == NULL || ioc_compile(db) != 0) {
        rc = -ENOMEM;
        goto out;
    }
    *out = db;
    rc = 0;
    db = NULL;
out:
    if (rc == -ENOMEM)
        db_fail(err, errlen, 0, "out of memory");
    deps_content_db_free(db);
    return rc;
}

void deps_content_db_free(struct deps_content_db *db)
{
    if (db == NULL)
        return;
    free(db->strings);
    free(db->domains);
    free(db->urls);
    free(db->hashes);
    hs_free_database(db->ioc_hs);
    pre_free(db->pre);
    free(db);
}

const char *deps_content_db_version(const struct deps_content_db *db)
{
    return db ? db->version : "";
}

size_t deps_content_db_size(const struct deps_content_db *db)
{
    return db ? db->n_domains + db->n_urls + db->n_hashes : 0;
}

int deps_content_scan_sha256(const struct deps_content_db *db, const char *path,
                             const uint8_t digest[32], deps_content_cb cb, void *ud)
{
    struct ioc key;
    const struct ioc *x;
    struct deps_content_hit hit;
    char msg[MSG_MAX], p[SNIP_MAX + 4];

    (void)path;
    if (db == NULL || digest == NULL || cb == NULL)
        return -EINVAL;
    memcpy(key.digest, digest, 32);
    x = bsearch(&key, db->hashes, db->n_hashes, sizeof(*db->hashes), ioc_digest_cmp);
    if (x == NULL)
        return 0;
    snprintf(msg, sizeof(msg), "file SHA-256 %.16s... is a known payload (%s)",
             snip(p, x->value, strlen(x->value)), x->incident);
    hit.rule_id = rule_ids[R_IOC];
    hit.severity = DEPS_SEV_CRITICAL;
    hit.line = 0;
    hit.message = msg;
    cb(ud, &hit);
    return 1;
}

/* Host names: letters, digits, '-', '.', and '_' so that "my_evil.com" is not "evil.com". */
static int host_char(unsigned char c)
{
    return cc[c] & 4;
}

static void ioc_host_check(const struct deps_content_db *db, const char *b, const char *s,
                           const char *e, const char **seen, size_t *n_seen, struct content_hits *h)
{
    char host[256];
    size_t m;

    /* at most the last 253 characters, from a label boundary */
    if (e - s > 253) {
        s = e - 253;
        while (s < e && *s != '.')
            s++;
    }
    m = (size_t)(e - s);
    for (size_t q = 0; q < m; q++) {
        unsigned char hc = (unsigned char)s[q];
        host[q] = (char)(hc >= 'A' && hc <= 'Z' ? hc | 0x20 : hc);
    }
    host[m] = '\0';
    for (size_t k = 0; k < m; k++) {
        if (k && host[k - 1] != '.')
            continue;
        struct ioc key = {.value = host + k};
        const struct ioc *x =
            bsearch(&key, db->domains, db->n_domains, sizeof(*db->domains), ioc_str_cmp);
        if (x == NULL)
            continue;
        int dup = 0;
        for (size_t d = 0; d < *n_seen; d++)
            dup |= seen[d] == x->value;
        if (!dup && *n_seen < PER_RULE_HITS) {
            char p[SNIP_MAX + 4];
            seen[(*n_seen)++] = x->value;
            hit_add(h, R_IOC, DEPS_SEV_CRITICAL, line_at(b, (size_t)(s - b)),
                    "known malicious host %s (%s)", snip(p, host, m), x->incident);
        }
        return;
    }
}

/* Compile db->ioc_hs from the corpus's domains and URLs. 0, or -1 when out of memory (the
 * literals were checked when read: nothing else can fail). */
static int ioc_compile(struct deps_content_db *db)
{
    static atomic_uint_fast64_t serials;
    size_t n = db->n_domains + db->n_urls;
    hs_compile_error_t *cerr = NULL;
    int rc = -1;

    db->serial = atomic_fetch_add(&serials, 1) + 1;
    if (n == 0)
        return 0;
    const char **lit = calloc(n, sizeof(*lit));
    size_t *len = calloc(n, sizeof(*len));
    unsigned *flags = calloc(n, sizeof(*flags)), *ids = calloc(n, sizeof(*ids));
    if (lit == NULL || len == NULL || flags == NULL || ids == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct ioc *x = i < db->n_domains ? &db->domains[i] : &db->urls[i - db->n_domains];
        lit[i] = x->value;
        len[i] = x->len;
        /* a host name in either case, each place it ends (ioc_host_at looks at each); a URL
         * as written, its first place only */
        flags[i] = i < db->n_domains ? HS_FLAG_CASELESS : HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    if (hs_compile_lit_multi(lit, flags, ids, len, (unsigned)n, HS_MODE_BLOCK, NULL, &db->ioc_hs,
                             &cerr) == HS_SUCCESS)
        rc = 0;
    else
        hs_free_compile_error(cerr);
out:
    free(lit);
    free(len);
    free(flags);
    free(ids);
    return rc;
}

/* One file's pass over the IoC literals: the host names found (in the order of their ends, as
 * they are reported) and the first URLs of the corpus found, by their index. */
struct ioc_pass {
    const struct deps_content_db *db;
    const char *b;
    size_t n;
    struct content_hits *h;
    const char *seen[PER_RULE_HITS]; /* domains reported */
    size_t n_seen;
    size_t last_end; /* the end of the last host name looked at, + 1 (0: none) */
    /* the URLs of lowest index found and where each is first (at most PER_RULE_HITS of them
     * can be reported), by index */
    size_t n_url;
    struct {
        size_t idx, at;
    } url[PER_RULE_HITS];
};

/* Domain x of the corpus ends at b[e]: a finding when it is a whole host name's end (not
 * followed by more of the name) and ioc_host_check finds a domain of the corpus that is the
 * host name or one of its label suffixes. Each end is looked at once. */
static void ioc_host_at(struct ioc_pass *ps, const struct ioc *x, size_t e)
{
    const char *b = ps->b;

    if (ps->last_end == e + 1)
        return; /* another domain of the corpus ends here too: looked at already */
    if (e < ps->n && host_char((unsigned char)b[e]) &&
        !(b[e] == '.' && !(e + 1 < ps->n && host_char((unsigned char)b[e + 1]))))
        return; /* the name goes on: a longer label, or another label after a dot */
    ps->last_end = e + 1;
    /* the host name: the run of host characters before its last label's dot, up to 4 KiB */
    const char *s = b + e - x->len + x->last_dot;
    while (s > b && host_char((unsigned char)s[-1]) && b + e - s < 4096)
        s--;
    ioc_host_check(ps->db, b, s, b + e, ps->seen, &ps->n_seen, ps->h);
}

static int ioc_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    struct ioc_pass *ps = ctx;
    (void)from;
    (void)flags;

    if (id < ps->db->n_domains) {
        ioc_host_at(ps, &ps->db->domains[id], (size_t)to);
        return 0;
    }
    /* keep the PER_RULE_HITS URLs of lowest index (those hit_add could take, in corpus
     * order) */
    size_t u = id - ps->db->n_domains, k = ps->n_url;
    if (k == PER_RULE_HITS && ps->url[k - 1].idx < u)
        return 0;
    if (k == PER_RULE_HITS)
        k--;
    else
        ps->n_url++;
    for (; k > 0 && ps->url[k - 1].idx > u; k--)
        ps->url[k] = ps->url[k - 1];
    ps->url[k].idx = u;
    ps->url[k].at = (size_t)to - ps->db->urls[u].len;
    return 0;
}

/* Known domains appearing as whole host names, then known URL prefixes (their first place),
 * in one Hyperscan pass of the corpus's literals. -ENOMEM when the scan could not run. */
static int ioc_scan(const struct deps_content_db *db, const char *b, size_t n,
                    struct content_hits *h)
{
    /* one per thread, kept for its life; sized again only for another database */
    static _Thread_local hs_scratch_t *scratch;
    static _Thread_local uint64_t scratch_for;
    struct ioc_pass ps = {.db = db, .b = b, .n = n, .h = h};

    if (db->ioc_hs == NULL || n == 0)
        return 0;
    if (scratch_for != db->serial) {
        if (hs_alloc_scratch(db->ioc_hs, &scratch) != HS_SUCCESS)
            return -ENOMEM;
        scratch_for = db->serial;
    }
    if (guard_hs_scan(db->ioc_hs, b, n, scratch, ioc_cb, &ps) != HS_SUCCESS)
        return -ENOMEM;
    for (size_t k = 0; k < ps.n_url; k++) {
        const struct ioc *x = &db->urls[ps.url[k].idx];
        char sn[SNIP_MAX + 4];
        hit_add(h, R_IOC, DEPS_SEV_CRITICAL, line_at(b, ps.url[k].at),
                "known exfiltration URL %s (%s)", snip(sn, x->value, x->len), x->incident);
    }
    return 0;
}

/* ---- native binaries (L2-BUND-001) -------------------------------------------------- */

/* "ELF", "PE", "Mach-O" or NULL. */
static const char *binary_kind(const unsigned char *b, size_t n)
{
    if (n >= 16 &&
        memcmp(b,
               "\x7f"
               "ELF",
               4) == 0 &&
        (b[4] == 1 || b[4] == 2))
        return "ELF";
    if (n >= 0x40 && b[0] == 'M' && b[1] == 'Z') {
        uint32_t pe = (uint32_t)b[0x3c] | (uint32_t)b[0x3d] << 8 | (uint32_t)b[0x3e] << 16 |
                      (uint32_t)b[0x3f] << 24;
        if (pe <= n - 4 && memcmp(b + pe, "PE\0\0", 4) == 0)
            return "PE";
    }
    if (n >= 32) {
        uint32_t m = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
        uint32_t nfat = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
        if (m == 0xfeedfaceu || m == 0xfeedfacfu || m == 0xcefaedfeu || m == 0xcffaedfeu)
            return "Mach-O";
        /* 0xcafebabe is also a Java class, whose next word is a version (>= 45), not a small
         * architecture count */
        if (m == 0xcafebabeu && nfat >= 1 && nfat <= 20)
            return "Mach-O";
    }
    return NULL;
}

static const char *path_ext(const char *path)
{
    const char *base = strrchr(path, '/'), *dot;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    return dot && dot != base ? dot + 1 : "";
}

static int path_has(const char *path, const char *dir)
{
    size_t k = strlen(dir);
    const char *p = path;

    while ((p = strstr(p, dir)) != NULL) {
        if (p == path || p[-1] == '/')
            return 1;
        p += k;
    }
    return 0;
}

int deps_content_unread(const char *name, size_t n)
{
    /* source maps are named after their code (".map" alone is a module name: core-js's
     * "es.map" is es.map.js to require) */
    static const char *const ends[] = {".js.map",  ".mjs.map", ".cjs.map", ".jsx.map", ".ts.map",
                                       ".mts.map", ".cts.map", ".tsx.map", ".css.map", ".d.ts",
                                       ".d.mts",   ".d.cts",   ".md",      ".markdown"};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        size_t k = strlen(ends[i]);
        if (n > k && name[n - k - 1] != '/' && strncasecmp(name + n - k, ends[i], k) == 0)
            return 1;
    }
    return 0;
}

/* A folder named for an operating system or a CPU ("linux/x64/", "win32-ia32/",
 * "osx-bin/", "linux64-bin/"): one of its words, split at '-', '_' and '.', names one. */
static int dir_is_platform(const char *d, size_t n)
{
    static const char *const words[] = {
        "linux", "linux32", "linux64", "darwin",  "mac",     "macos",  "osx",     "win",
        "win32", "win64",   "windows", "freebsd", "openbsd", "sunos",  "android", "x64",
        "x86",   "ia32",    "arm",     "arm64",   "armv7",   "armv7l", "aarch64", "amd64"};
    for (size_t i = 0; i < n;) {
        size_t k = i;
        while (k < n && d[k] != '-' && d[k] != '_' && d[k] != '.')
            k++;
        for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
            if (strlen(words[w]) == k - i && strncasecmp(d + i, words[w], k - i) == 0)
                return 1;
        i = k + 1;
    }
    return 0;
}

/* A shared library by its name: "x.so", "x.so.42", "x.dylib", "x.dll". */
static int name_is_library(const char *path)
{
    const char *base = strrchr(path, '/'), *so;
    base = base ? base + 1 : path;
    const char *ext = path_ext(base);
    if (strcasecmp(ext, "so") == 0 || strcasecmp(ext, "dylib") == 0 || strcasecmp(ext, "dll") == 0)
        return 1;
    if ((so = strstr(base, ".so.")) == NULL || so == base)
        return 0;
    for (so += 4; *so; so++) /* a version: digits and dots */
        if (!((*so >= '0' && *so <= '9') || *so == '.'))
            return 0;
    return 1;
}

/* Where packages ship prebuilt binaries on purpose: the usual folders, a folder named for a
 * platform (prebuilt tools for each: "7zip-bin/linux/x64/7za", "hermesc/win64-bin/"), and
 * shared libraries under lib/. */
static int path_expected_binary(const char *path)
{
    static const char *const dirs[] = {"build/Release/", "build/Debug/", "build/default/",
                                       "prebuilds/",     "prebuild/",    "lib/binding/",
                                       "binding/",       "bin/",         "vendor/",
                                       "native/",        "binaries/",    "lib/native/"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (path_has(path, dirs[i]))
            return 1;
    for (const char *d = path, *slash; (slash = strchr(d, '/')) != NULL; d = slash + 1)
        if (dir_is_platform(d, (size_t)(slash - d)))
            return 1;
    if (name_is_library(path) && path_has(path, "lib/"))
        return 1;
    return strncmp(path_ext(path), "node", 5) == 0 && strchr(path, '/') == NULL;
}

/* Extensions of text or media files: a native executable under one of them is disguised. */
static int ext_disguise(const char *ext)
{
    static const char *const exts[] = {"js",   "cjs", "mjs",  "json", "ts",   "md",    "txt",
                                       "png",  "jpg", "jpeg", "gif",  "svg",  "css",   "html",
                                       "map",  "yml", "yaml", "ico",  "woff", "woff2", "ttf",
                                       "lock", "jsx", "tsx",  "wasm", "xml",  "csv"};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcasecmp(ext, exts[i]) == 0)
            return 1;
    return 0;
}

static void bund_binary(const char *path, const char *kind, unsigned flags, struct content_hits *h)
{
    const char *ext = path_ext(path);
    char p[SNIP_MAX + 4];

    snip(p, ext, strlen(ext));
    if (flags & DEPS_CONTENT_INSTALL_TIME)
        hit_add(h, R_BUND, DEPS_SEV_CRITICAL, 0, "%s executable run at install time", kind);
    else if (ext_disguise(ext))
        hit_add(h, R_BUND, DEPS_SEV_HIGH, 0, "%s executable disguised as a .%s file", kind, p);
    else if (strcmp(ext, "node") == 0)
        hit_add(h, R_BUND, path_expected_binary(path) ? DEPS_SEV_INFO : DEPS_SEV_LOW, 0,
                "prebuilt native addon (%s)", kind);
    else if (path_expected_binary(path))
        hit_add(h, R_BUND, DEPS_SEV_LOW, 0, "prebuilt %s executable in a binary folder", kind);
    else
        hit_add(h, R_BUND, DEPS_SEV_MEDIUM, 0,
                "%s executable shipped outside the usual binary "
                "folders",
                kind);
}

/* ---- JavaScript analysis --------------------------------------------------------------- */

enum tok_kind {
    T_NONE = 0,
    T_IDENT,
    T_STR,
    T_NUM,
    T_PUNCT,
    T_RE,
};

enum kw {
    KW_NONE = 0,
    KW_EVAL,     /* eval */
    KW_FUNCTION, /* Function */
    KW_VMRUN,    /* runInThisContext, runInNewContext, runInContext, compileFunction */
    KW_SCRIPT,   /* Script (new vm.Script) */
    KW_REQUIRE,  /* require, import */
    KW_EXEC,     /* exec, execSync, spawn, spawnSync, execFile, execFileSync */
    KW_WRITE,    /* writeFile, writeFileSync, appendFile, appendFileSync */
    KW_ATOB,
    KW_FCC,      /* fromCharCode */
    KW_UNESCAPE, /* unescape, decodeURIComponent, decodeURI */
    KW_FROM,
    KW_BUFFER,
    KW_NEW,
    KW_PUSH,
    KW_SHIFT,
    KW_FUNC,  /* function */
    KW_REOK,  /* keywords after which '/' starts a regular expression */
    KW_CHMOD, /* chmod, chmodSync */
    KW_PARSEINT,
};

struct kw_ent {
    const char *s;
    size_t len;
    enum kw kw;
};

#define KW(s, k)            \
    {                       \
        s, sizeof(s) - 1, k \
    }

static const struct kw_ent kw_table[] = {
    KW("eval", KW_EVAL),
    KW("Function", KW_FUNCTION),
    KW("runInThisContext", KW_VMRUN),
    KW("runInNewContext", KW_VMRUN),
    KW("runInContext", KW_VMRUN),
    KW("compileFunction", KW_VMRUN),
    KW("_compile", KW_VMRUN),
    KW("Script", KW_SCRIPT),
    KW("require", KW_REQUIRE),
    KW("import", KW_REQUIRE),
    KW("exec", KW_EXEC),
    KW("execSync", KW_EXEC),
    KW("spawn", KW_EXEC),
    KW("spawnSync", KW_EXEC),
    KW("execFile", KW_EXEC),
    KW("execFileSync", KW_EXEC),
    KW("writeFile", KW_WRITE),
    KW("writeFileSync", KW_WRITE),
    KW("appendFile", KW_WRITE),
    KW("appendFileSync", KW_WRITE),
    KW("atob", KW_ATOB),
    KW("fromCharCode", KW_FCC),
    KW("unescape", KW_UNESCAPE),
    KW("decodeURIComponent", KW_UNESCAPE),
    KW("decodeURI", KW_UNESCAPE),
    KW("from", KW_FROM),
    KW("Buffer", KW_BUFFER),
    KW("new", KW_NEW),
    KW("push", KW_PUSH),
    KW("shift", KW_SHIFT),
    KW("function", KW_FUNC),
    KW("return", KW_REOK),
    KW("typeof", KW_REOK),
    KW("case", KW_REOK),
    KW("do", KW_REOK),
    KW("else", KW_REOK),
    KW("in", KW_REOK),
    KW("of", KW_REOK),
    KW("delete", KW_REOK),
    KW("void", KW_REOK),
    KW("throw", KW_REOK),
    KW("yield", KW_REOK),
    KW("await", KW_REOK),
    KW("instanceof", KW_REOK),
    KW("chmod", KW_CHMOD),
    KW("chmodSync", KW_CHMOD),
    KW("parseInt", KW_PARSEINT),
};

static unsigned kw_hash(const char *s, size_t n)
{
    return (unsigned)(n * 31 + (unsigned char)s[0] * 7 + (unsigned char)s[n - 1]) & 255;
}

/* Fill the db's keyword buckets (kw_table index + 1; 0 = empty). -1 when a bucket overflows,
 * which a change of the table would show in every test. */
static int kw_index(struct deps_content_db *db)
{
    for (size_t i = 0; i < sizeof(kw_table) / sizeof(kw_table[0]); i++) {
        uint8_t *b = db->kw_bucket[kw_hash(kw_table[i].s, kw_table[i].len)];
        size_t k = 0;
        while (k < KW_SLOTS && b[k])
            k++;
        if (k == KW_SLOTS)
            return -1;
        b[k] = (uint8_t)(i + 1);
        db->kw_lens[(unsigned char)kw_table[i].s[0]] |= 1u << kw_table[i].len;
    }
    return 0;
}

static enum kw kw_lookup(const struct deps_content_db *db, const char *s, size_t n)
{
    const uint8_t *b;

    /* most identifiers have no keyword of their first byte and length: no hashing */
    if (n > 18 || !(db->kw_lens[(unsigned char)s[0]] >> n & 1)) /* no keyword under 2 */
        return KW_NONE;
    b = db->kw_bucket[kw_hash(s, n)];
    for (size_t k = 0; k < KW_SLOTS && b[k]; k++) {
        const struct kw_ent *e = &kw_table[b[k] - 1];
        if (e->len == n && memcmp(e->s, s, n) == 0)
            return e->kw;
    }
    return KW_NONE;
}

/* Decoders, weakest evidence first. */
enum dec {
    DEC_NONE = 0,
    DEC_URI,      /* unescape, decodeURI(Component) */
    DEC_CHARCODE, /* String.fromCharCode */
    DEC_B64,      /* atob, Buffer.from(..., 'base64') */
    DEC_HEX,      /* Buffer.from(..., 'hex') */
};

static const char *const dec_names[] = {"", "unescape/decodeURI", "String.fromCharCode", "base64",
                                        "hex"};

enum sink {
    SINK_EVAL = 0, /* eval, Function, vm */
    SINK_REQUIRE,  /* require(), import() */
    SINK_EXEC,     /* child_process */
    SINK_WRITE,    /* fs write */
};

/* 16 bytes; the lexer keeps the last three in a ring */
struct tok {
    uint8_t kind; /* enum tok_kind */
    uint8_t kw;   /* enum kw */
    char ch; /* punctuation: the character; '=' alone, 'E' comparison, 'A' arrow, 'C' compound */
    uint32_t off, len, line;
};

#define FRAMES 8
#define TAINTS 64
/* Bytes an assignment's taint lasts: minified code reuses short names in every scope. */
#define TAINT_SPAN       65536
#define TAINT_SPAN_SHORT 1024 /* names of 1-2 characters */
#define FRAME_TOKS       4096
#define PENDING          8
#define EXEC_CALLS       32
#define WRITE_EXEC_SPAN  4096 /* bytes from a payload write to the call that runs it */
#define TPL_DEPTH        16
#define COMMENTS         256 /* comment ranges remembered per file */

/* L2-OBFS-004 in a file over PAY_WHOLE bytes (a bundle): the encoded string and the code
 * generator must be within PAY_SPAN bytes of each other to be taken as one piece of code */
#define PAY_WHOLE ((size_t)256 << 10)
#define PAY_SPAN  ((size_t)64 << 10)

/* String literals joined with '+' ("ev" + "al"): the text, while nothing else was seen. */
struct str_cat {
    char s[24];
    uint8_t len, parts, ok;
    uint8_t filled; /* the pieces that are not "" ("" + "name" only makes a string of it) */
    uint8_t plus;   /* a '+' since the last piece (two literals side by side do not join) */
};

struct frame {
    struct str_cat cat; /* require("child_" + "process") */
    enum sink sink;
    enum dec dec;
    int fn;      /* a function literal started: later decoders are not the argument */
    int dynamic; /* first argument token is not a string literal */
    int32_t depth;
    uint32_t line, toks;
    size_t off;
    const char *name;
};

struct taint {
    uint64_t h;
    size_t off, span;
    int32_t brace; /* short names: forgotten when this block closes */
    enum dec dec;
};

/* One scan's state (a few KiB on the heap, nothing shared): the lexer's position and the
 * trackers the rules read. */
struct an {
    const struct deps_content_db *db;
    const char *b;
    size_t n;
    unsigned flags;
    char shell; /* script text: this quote is shell quoting, not a JS string (0: none) */
    bool ts;    /* a TypeScript source file (.ts, .tsx, .mts, .cts) */
    uint32_t line;
    int32_t depth, brace;
    size_t re_fail; /* a regular expression tried from before here ran to its line's end */
    size_t n_cmt;
    size_t n_tpl;
    /* the token being read and the three before it, in a ring (no copies per token): see
     * tok_prev and tok_next */
    struct tok ring[4];
    unsigned ri;
    uint64_t n_tok;
    struct content_hits *hits;

    /* The trackers open, a byte each, so that one load tells that none is (on_token). */
    union {
        struct {
            uint8_t n_fr;   /* sink frames: fr */
            uint8_t n_br;   /* [ ] subscripts: br */
            uint8_t as_on;  /* an assignment: as_* */
            uint8_t bf_on;  /* Buffer.from( / Buffer(: bf_* */
            uint8_t num_on; /* a run of small numbers: num_* */
            uint8_t pend;   /* alias_tok or br_tok: the next token completes a pattern */
        };
        uint64_t live;
    };
    size_t n_taint;
    int32_t taint_brace; /* the innermost block a short name's taint ends with (0: none) */
    /* the assignment being read: `name = <expression>` */
    int as_short, as_decl;
    int32_t as_brace;
    uint32_t as_off, as_len; /* its name (hashed only if it becomes a taint) */
    int32_t as_depth;
    uint32_t as_toks;
    enum dec as_dec;
    /* Buffer.from( / Buffer( whose encoding argument is awaited */
    int bf_early;
    int32_t bf_depth;
    uint32_t bf_toks;
    /* [ ] subscripts: a member named by base64/hex-decoded text and then called (a key
     * from String.fromCharCode is everyday keyboard handling) */
    int32_t bdepth;
    enum dec br_dec;
    uint64_t br_tok;
    /* names given to require (`var r = require`) */
    uint64_t alias_h;
    size_t n_alias;
    uint64_t alias_tok;

    int has_cp; /* "child_process" appears as a string */
    int has_chmod;
    uint32_t n_exec;    /* child_process-style calls */
    uint32_t exec_line; /* first of them */
    uint32_t n_dyn_eval, dyn_eval_line;
    unsigned file_dec; /* bit per enum dec seen anywhere */
    size_t n_exec_hit, n_write_hit;

    /* a 256-bit filter of the tainted names (length, first and last byte): most names
     * are not, and need no hash */
    uint64_t taint_bits[4];

    /* L2-OBFS-002 */
    uint32_t n_esc_str, esc_line, max_esc_run, esc_run_line;
    int32_t num_run, num_letters, num_steps;
    long num_prev;
    uint32_t num_line;
    size_t num_start, num_end, fcc_off;
    int num_pend;
    int32_t pend_len;
    uint32_t pend_line;
    size_t pend_end;
    /* L2-OBFS-004 */
    uint32_t n_0x, line_0x, n_parse_0x, n_bangs;
    uint64_t push_tok;
    int rotation;
    uint32_t pay_line, pay_len;
    /* the latest encoded string (its offset + 1) and the end of the latest code generator
     * (0: dynamic evaluation, 1: a process call; + 1), 0 for none yet; and the first string
     * found within PAY_SPAN of each kind of generator */
    size_t pay_last, gen_last[2];
    uint32_t pay_last_line, pay_last_len;
    uint32_t near_line[2], near_len[2];
    const char *pay_magic; /* executable magic of an embedded payload, or NULL */
    int pay_exec_line_set;
    uint32_t pay_exec_line, pay_exec_len;
    /* The arrays: not cleared for each scan, their elements are written before they are read
     * (each is read only below its count). */
    int32_t tpl[TPL_DEPTH];
    size_t cmt[COMMENTS][2];
    struct frame fr[FRAMES];
    struct taint taint[TAINTS];
    /* [ ] subscripts (n_br, bdepth) */
    struct {
        int32_t depth;
        int member;
        enum dec dec;
        struct str_cat cat; /* global["ev" + "al"] */
    } br[FRAMES];
    uint64_t alias[FRAMES]; /* n_alias */
    uint32_t exec_hit_line[PENDING], write_hit_line[PENDING];
    size_t write_hit_off[PENDING];
    size_t exec_off[EXEC_CALLS]; /* first child_process calls, to pair with writes */
    uint32_t exec_off_line[EXEC_CALLS];
    enum dec exec_hit_dec[PENDING];
};

/* The k-th token before the one being read (k = 1, 2, 3); T_NONE before the first. */
static inline const struct tok *tok_prev(const struct an *a, unsigned k)
{
    return &a->ring[(a->ri + 1 - k) & 3];
}

/* The slot of the token being read: made there, then given to on_token. */
static inline struct tok *tok_next(struct an *a)
{
    return &a->ring[(a->ri + 1) & 3];
}

static uint64_t name_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* An assignment is tainted only when its value starts with the decoding (`x = atob(...)`,
 * `x = Buffer.from(y, 'hex').toString()`, `f = s => atob(s)`, `function f(s) { return
 * atob(s) }`): a decoder somewhere in a long expression or function body says nothing about
 * the name. */
#define AS_EARLY 16

static int as_early(const struct an *a)
{
    return a->as_on && a->as_toks <= AS_EARLY;
}

static void decoded(struct an *a, enum dec d)
{
    a->file_dec |= 1u << d;
    for (size_t i = 0; i < a->n_fr; i++)
        if (!a->fr[i].fn && a->fr[i].dec < d)
            a->fr[i].dec = d;
    /* URI decoding of a variable is everyday code; only its direct use in eval counts */
    if (a->as_on && d >= DEC_CHARCODE && (a->bf_on ? a->bf_early : as_early(a)) && a->as_dec < d)
        a->as_dec = d;
    for (size_t i = 0; i < a->n_br; i++)
        if (a->br[i].dec < d)
            a->br[i].dec = d;
}

static void cat_token(const struct an *a, struct str_cat *c, const struct tok *t)
{
    const char *q = a->b + t->off;

    if (!c->ok)
        return;
    if (t->kind == T_PUNCT && t->ch == '+') {
        c->plus = 1;
        return;
    }
    /* a whole '...' or "..." literal without escapes */
    if (t->kind == T_STR && t->len >= 2 && (q[0] == '\'' || q[0] == '"') && q[t->len - 1] == q[0] &&
        memchr(q, '\\', t->len) == NULL && c->len + t->len - 2 < sizeof(c->s) &&
        (c->parts == 0 || c->plus)) {
        memcpy(c->s + c->len, q + 1, t->len - 2);
        c->len = (uint8_t)(c->len + t->len - 2);
        c->parts++;
        c->filled += t->len > 2;
        c->plus = 0;
        return;
    }
    c->ok = 0;
}

/* The joined text when it was built from 2+ non-empty pieces and is one of `names`, else
 * NULL. */
static const char *cat_match(const struct str_cat *c, const char *const *names, size_t n)
{
    if (!c->ok || c->filled < 2)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == c->len && memcmp(names[i], c->s, c->len) == 0)
            return names[i];
    return NULL;
}

static const char *const cat_modules[] = {
    "child_process", "node:child_process", "http", "https", "net", "dns", "vm", "fs", "os",
    "module"};
static const char *const cat_members[] = {"eval",
                                          "Function",
                                          "require",
                                          "exec",
                                          "execSync",
                                          "spawn",
                                          "spawnSync",
                                          "execFile",
                                          "execFileSync",
                                          "mainModule",
                                          "child_process",
                                          "_compile",
                                          "runInThisContext",
                                          "runInNewContext",
                                          "fromCharCode",
                                          "atob",
                                          "constructor"};

static void frame_close(struct an *a, const struct frame *f)
{
    enum deps_severity sev = (a->flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
                                 ? DEPS_SEV_CRITICAL
                                 : DEPS_SEV_HIGH;
    const char *hidden;

    if (f->sink == SINK_REQUIRE &&
        (hidden = cat_match(&f->cat, cat_modules, sizeof(cat_modules) / sizeof(cat_modules[0]))))
        hit_add(a->hits, R_OBFS1, sev, f->line, "%s() of '%s' assembled from string pieces",
                f->name, hidden);
    if (f->dec == DEC_NONE)
        return;
    switch (f->sink) {
    case SINK_EVAL:
        hit_add(a->hits, R_OBFS1, sev, f->line, "%s() evaluates code decoded with %s", f->name,
                dec_names[f->dec]);
        break;
    case SINK_REQUIRE:
        if (f->dec >= DEC_CHARCODE)
            hit_add(a->hits, R_OBFS1, sev, f->line, "%s() of a module name decoded with %s",
                    f->name, dec_names[f->dec]);
        break;
    case SINK_EXEC:
        if (a->n_exec_hit < PENDING) {
            a->exec_hit_line[a->n_exec_hit] = f->line;
            a->exec_hit_dec[a->n_exec_hit++] = f->dec;
        }
        break;
    case SINK_WRITE:
        if (f->dec >= DEC_B64 && a->n_write_hit < PENDING) {
            a->write_hit_off[a->n_write_hit] = f->off;
            a->write_hit_line[a->n_write_hit++] = f->line;
        }
        break;
    }
}

static unsigned taint_bit(const char *s, size_t n)
{
    return (unsigned)(n * 31 + (unsigned char)s[0] * 7 + (unsigned char)s[n - 1]) & 255;
}

/* 0 when the name of n bytes at s is no tainted name; 1 when it may be. */
static int taint_maybe(const struct an *a, const char *s, size_t n)
{
    unsigned k = taint_bit(s, n);
    return (int)(a->taint_bits[k >> 6] >> (k & 63) & 1);
}

static void as_close(struct an *a)
{
    if (a->as_on && a->as_dec != DEC_NONE) {
        size_t slot = a->n_taint < TAINTS ? a->n_taint++ : (size_t)(a->n_tok % TAINTS);
        unsigned k = taint_bit(a->b + a->as_off, a->as_len);
        a->taint_bits[k >> 6] |= (uint64_t)1 << (k & 63); /* left set when the slot is reused */
        a->taint[slot].h = name_hash(a->b + a->as_off, a->as_len);
        a->taint[slot].off = tok_prev(a, 1)->off;
        a->taint[slot].dec = a->as_dec;
        /* a decoding function keeps its meaning in its whole scope, a short variable not */
        a->taint[slot].span = a->as_short && !a->as_decl ? TAINT_SPAN_SHORT : TAINT_SPAN;
        a->taint[slot].brace = a->as_short ? a->as_brace : -1;
        if (a->taint[slot].brace > a->taint_brace)
            a->taint_brace = a->taint[slot].brace;
    }
    a->as_on = 0;
}

/* Start reading `name = <expression>` or `function name(...) {...}`: a decoder inside taints
 * the name (a decoded value or a decoding wrapper). */
static void as_open(struct an *a, const struct tok *name, int decl)
{
    as_close(a);
    a->as_on = 1;
    a->as_off = name->off;
    a->as_len = name->len;
    a->as_short = name->len < 3;
    a->as_decl = decl;
    a->as_depth = a->depth;
    a->as_brace = a->brace;
    a->as_toks = 0;
    a->as_dec = DEC_NONE;
}

/* A code generator (kind 0: dynamic evaluation, 1: a process call) from b[from] to b[to] (an
 * evaluation from its name to its ')', seen there): paired with the latest encoded string
 * when it is inside or near (L2-OBFS-004 in a bundle). Strings and generators are seen in the
 * text order of their ends, and of those the nearest pair of the two kinds is always next to
 * each other, so the latest of the other kind is the only one to compare with. */
static void pay_gen(struct an *a, int kind, size_t from, size_t to)
{
    a->gen_last[kind] = to + 1;
    if (a->pay_last && a->near_line[kind] == 0 &&
        (a->pay_last - 1 >= from || from - (a->pay_last - 1) <= PAY_SPAN)) {
        a->near_line[kind] = a->pay_last_line;
        a->near_len[kind] = a->pay_last_len;
    }
}

static void open_frame(struct an *a, enum sink s, const char *name)
{
    if (a->n_fr >= FRAMES)
        return;
    a->fr[a->n_fr] = (struct frame){.sink = s,
                                    .depth = a->depth,
                                    .line = tok_prev(a, 1)->line,
                                    .off = tok_prev(a, 1)->off,
                                    .name = name};
    a->fr[a->n_fr].toks = 0;
    a->fr[a->n_fr].cat.ok = 1;
    a->n_fr++;
}

/* Whether string token t ends with its closing quote, not cut short by a line end or the end
 * of the file: the quote that opened it ('`' for a template resumed at its '}'), not escaped.
 * Only then is its last byte not text (the pre-filter's patterns end at such a quote). */
static int str_closed(const struct an *a, const struct tok *t)
{
    const char *q = a->b + t->off;
    size_t n = t->len, k;

    if (n < 2 || q[n - 1] != (q[0] == '}' ? '`' : q[0]))
        return 0;
    for (k = n - 1; k > 1 && q[k - 1] == '\\'; k--)
        ;
    return (n - 1 - k) % 2 == 0;
}

/* Bytes of a closed string token's content (without the quotes) equal `s`. */
static int str_is(const struct an *a, const struct tok *t, const char *s)
{
    size_t k = strlen(s);
    return t->len == k + 2 && memcmp(a->b + t->off + 1, s, k) == 0 && str_closed(a, t);
}

static void num_run_end(struct an *a)
{
    /* a run counting up by one is an alphabet table, not text */
    if (a->num_run >= 12 && a->num_letters * 2 >= a->num_run && a->num_steps * 5 < a->num_run * 4) {
        if (a->fcc_off != SIZE_MAX && a->num_start - a->fcc_off <= 512)
            hit_add(a->hits, R_OBFS2, DEPS_SEV_HIGH, a->num_line,
                    "array of %d character codes decoded with String.fromCharCode", a->num_run);
        else {
            a->num_pend = 1;
            a->pend_len = a->num_run;
            a->pend_line = a->num_line;
            a->pend_end = a->num_end;
        }
    }
    a->num_run = 0;
    a->num_on = 0;
    a->num_letters = 0;
    a->num_steps = 0;
}

/* p1 (exec, spawn, ...) before '(' runs a process: `exec` is also RegExp.prototype.exec, so
 * `x.exec(` counts only on an object named like child_process or on require(...) itself. */
static int exec_is_process(const struct an *a)
{
    static const char *const objs[] = {"cp",   "child_process", "childProcess", "child",
                                       "proc", "shell",         "childproc"};
    const char *o = a->b + tok_prev(a, 3)->off;

    if (tok_prev(a, 1)->len != 4 || !(tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.'))
        return 1;
    if (tok_prev(a, 3)->kind == T_PUNCT && tok_prev(a, 3)->ch == ')')
        return 1;
    if (tok_prev(a, 3)->kind != T_IDENT)
        return 0;
    for (size_t i = 0; i < sizeof(objs) / sizeof(objs[0]); i++)
        if (strlen(objs[i]) == tok_prev(a, 3)->len && memcmp(objs[i], o, tok_prev(a, 3)->len) == 0)
            return 1;
    return 0;
}

/* Whether the n bytes at s name a TypeScript declaration file (.d.ts, .d.mts, .d.cts). */
static int decl_name(const char *s, size_t n)
{
    static const char *const ends[] = {".d.ts", ".d.mts", ".d.cts"};
    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        size_t k = strlen(ends[i]);
        if (n > k && strncasecmp(s + n - k, ends[i], k) == 0)
            return 1;
    }
    return 0;
}

/* A string literal naming a kind of file the scanner does not read (deps_content_unread)
 * as a path inside the argument of require()/import(), or inside that of eval()
 * (`eval(fs.readFileSync('x.md'))`), or as the program a child_process call runs: code loaded or
 * run from a file named like documentation, a source map or type declarations. A command line
 * (`exec('git add CHANGELOG.md')`) and any later argument of a child_process call are everyday
 * release tooling, not this. */
static void unread_loaded(struct an *a, const struct tok *t)
{
    const char *q = a->b + t->off, *sink = NULL;
    char p[SNIP_MAX + 4];
    size_t n = t->len;

    /* a whole literal, or the last piece of a template (from its '}') */
    if (n < 4 || !str_closed(a, t) || !deps_content_unread(q + 1, n - 2))
        return;
    /* a module name without a '/' ("array.prototype.map") is a package, not a file */
    bool path = memchr(q, '/', n) != NULL;
    /* TypeScript refuses to import a declaration file as a value (TS2846): in its sources
     * import('x/index.d.ts') is a type (`import('undici-types/index.d.ts').RequestInit`) */
    bool type_ref = a->ts && decl_name(q + 1, n - 2);
    for (size_t i = 0; i < a->n_fr && sink == NULL; i++) {
        const struct frame *f = &a->fr[i];
        if ((f->sink == SINK_REQUIRE && path && !(type_ref && f->name[0] == 'i')) ||
            f->sink == SINK_EVAL ||
            (f->sink == SINK_EXEC && path && f->toks == 1 && memchr(q, ' ', n) == NULL))
            sink = f->name;
    }
    if (sink != NULL)
        hit_add(a->hits, R_BUND,
                (a->flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
                    ? DEPS_SEV_CRITICAL
                    : DEPS_SEV_HIGH,
                t->line, "%s() given '%s', a kind of file never run or scanned as code", sink,
                snip(p, q + 1, n - 2));
}

/* The trackers' part of on_token, while one is open (a->live): frames, the assignment,
 * Buffer.from(, a run of numbers, the string pieces of require() and of a subscript. */
static inline __attribute__((always_inline)) void
on_token_open(struct an *a, struct tok *t, const enum tok_kind kind, const char ch)
{
    /* sink frames: argument evidence */
    for (size_t i = 0; i < a->n_fr; i++) {
        struct frame *f = &a->fr[i];
        if (++f->toks == 1 && !(kind == T_STR || (kind == T_PUNCT && ch == ')')))
            f->dynamic = 1;
        if ((kind == T_PUNCT && (ch == '{' || ch == 'A')) || (kind == T_IDENT && t->kw == KW_FUNC))
            f->fn = 1;
    }
    while (a->n_fr && a->fr[a->n_fr - 1].toks > FRAME_TOKS)
        a->n_fr--;
    if (a->n_fr && kind == T_STR)
        unread_loaded(a, t);
    if (a->as_on) {
        /* the expression (a function's body included) ends at ';' or ',' at its own level, or
         * where its level closes */
        if (++a->as_toks > 256 || a->depth < a->as_depth || a->brace < a->as_brace ||
            (kind == T_PUNCT && ch == '}' && a->brace == a->as_brace) ||
            (kind == T_PUNCT && (ch == ';' || ch == ',') && a->depth == a->as_depth &&
             a->brace == a->as_brace))
            as_close(a);
    }
    if (a->bf_on && ++a->bf_toks > 64)
        a->bf_on = 0;
    if (a->num_on && kind != T_NUM && !(kind == T_PUNCT && ch == ','))
        num_run_end(a);

    /* string pieces of the innermost require() argument and subscript */
    if (a->n_fr && a->fr[a->n_fr - 1].sink == SINK_REQUIRE &&
        a->depth == a->fr[a->n_fr - 1].depth + 1 && !(kind == T_PUNCT && ch == ')'))
        cat_token(a, &a->fr[a->n_fr - 1].cat, t);
    if (a->n_br && a->br[a->n_br - 1].member && a->bdepth == a->br[a->n_br - 1].depth + 1 &&
        !(kind == T_PUNCT && ch == ']'))
        cat_token(a, &a->br[a->n_br - 1].cat, t);
    /* `NAME = require` followed by the end of the expression: an alias of require */
    if (a->pend && a->alias_tok && a->alias_tok + 1 == a->n_tok && a->n_alias < FRAMES &&
        kind == T_PUNCT && (ch == ',' || ch == ';' || ch == '}' || ch == ')'))
        a->alias[a->n_alias++] = a->alias_h;
    /* alias_tok and br_tok look at the one token after theirs */
    if (a->pend && a->n_tok > a->alias_tok + 1 && a->n_tok > a->br_tok + 1)
        a->pend = 0;
}

/* Inlined at each place a token is made, with its kind as a constant: the tests on the kind fold
 * away and each copy's branches see one kind of token (t->kind would be read back from memory
 * after each call the trackers make, and tested on every token). */
static inline __attribute__((always_inline)) void on_token(struct an *a, struct tok *t,
                                                           const enum tok_kind kind, const char ch)
{
    const char *s = a->b + t->off;

    a->n_tok++;
    /* The usual token, a name that is no keyword while no tracker is open: nothing below
     * would change (the trackers count tokens only while open; '_' may start an obfuscator's
     * _0x name; after `function` the name is an assignment's) */
    if (kind == T_IDENT && t->kw == KW_NONE && !a->live && s[0] != '_' &&
        tok_prev(a, 1)->kw != KW_FUNC) {
        a->ri++;
        return;
    }
    if (a->live)
        on_token_open(a, t, kind, ch);
    switch (kind) {
    case T_PUNCT:
        /* br_tok first: almost never set, where the character is anyone's guess */
        if (a->pend && a->br_tok && a->br_tok + 1 == a->n_tok && ch == '(' &&
            tok_prev(a, 1)->kind == T_PUNCT && tok_prev(a, 1)->ch == ']')
            hit_add(a->hits, R_OBFS1,
                    (a->flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
                        ? DEPS_SEV_CRITICAL
                        : DEPS_SEV_HIGH,
                    t->line, "a method named by text decoded with %s is called",
                    dec_names[a->br_dec]);
        if (ch == '[') {
            if (a->n_br < FRAMES) {
                a->br[a->n_br].depth = a->bdepth;
                a->br[a->n_br].member = tok_prev(a, 1)->kind == T_IDENT ||
                                        tok_prev(a, 1)->kind == T_STR ||
                                        (tok_prev(a, 1)->kind == T_PUNCT &&
                                         (tok_prev(a, 1)->ch == ')' || tok_prev(a, 1)->ch == ']'));
                memset(&a->br[a->n_br].cat, 0, sizeof(a->br[a->n_br].cat));
                a->br[a->n_br].cat.ok = 1;
                a->br[a->n_br++].dec = DEC_NONE;
            }
            a->bdepth++;
        } else if (ch == ']') {
            if (a->bdepth > 0)
                a->bdepth--;
            while (a->n_br && a->br[a->n_br - 1].depth >= a->bdepth) {
                const char *hidden;
                a->n_br--;
                if (a->br[a->n_br].member &&
                    (hidden = cat_match(&a->br[a->n_br].cat, cat_members,
                                        sizeof(cat_members) / sizeof(cat_members[0]))))
                    hit_add(a->hits, R_OBFS1,
                            (a->flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
                                ? DEPS_SEV_CRITICAL
                                : DEPS_SEV_HIGH,
                            t->line, "member '%s' assembled from string pieces", hidden);
                if (a->br[a->n_br].member && a->br[a->n_br].dec >= DEC_B64 &&
                    a->br[a->n_br].depth == a->bdepth) {
                    a->br_dec = a->br[a->n_br].dec;
                    a->br_tok = a->n_tok;
                    a->pend = 1;
                }
            }
        }
        if (ch == '(') {
            /* an alias is a variable: `obj.load(` is another function than `load = require` */
            if (tok_prev(a, 1)->kind == T_IDENT && tok_prev(a, 1)->kw == KW_NONE && a->n_alias &&
                !(tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.')) {
                uint64_t h = name_hash(a->b + tok_prev(a, 1)->off, tok_prev(a, 1)->len);
                for (size_t i = 0; i < a->n_alias; i++)
                    if (a->alias[i] == h) {
                        open_frame(a, SINK_REQUIRE, "require");
                        break;
                    }
            }
            if (tok_prev(a, 1)->kind == T_IDENT) {
                switch (tok_prev(a, 1)->kw) {
                case KW_EVAL:
                    open_frame(a, SINK_EVAL, "eval");
                    break;
                case KW_FUNCTION:
                    open_frame(a, SINK_EVAL, "Function");
                    break;
                case KW_VMRUN:
                    open_frame(a, SINK_EVAL, "vm.runIn*Context/_compile");
                    break;
                case KW_SCRIPT:
                    if ((tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.') ||
                        tok_prev(a, 2)->kw == KW_NEW)
                        open_frame(a, SINK_EVAL, "vm.Script");
                    break;
                case KW_REQUIRE:
                    if (!(tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.'))
                        open_frame(a, SINK_REQUIRE,
                                   a->b[tok_prev(a, 1)->off] == 'i' ? "import" : "require");
                    break;
                case KW_EXEC:
                    if (!exec_is_process(a))
                        break;
                    open_frame(a, SINK_EXEC, "child_process");
                    pay_gen(a, 1, tok_prev(a, 1)->off, tok_prev(a, 1)->off);
                    if (a->n_exec < EXEC_CALLS) {
                        a->exec_off[a->n_exec] = tok_prev(a, 1)->off;
                        a->exec_off_line[a->n_exec] = tok_prev(a, 1)->line;
                    }
                    if (a->n_exec++ == 0)
                        a->exec_line = tok_prev(a, 1)->line;
                    break;
                case KW_WRITE:
                    open_frame(a, SINK_WRITE, "fs.writeFile");
                    break;
                case KW_ATOB:
                    decoded(a, DEC_B64);
                    break;
                case KW_UNESCAPE:
                    decoded(a, DEC_URI);
                    break;
                case KW_FROM:
                    if (tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.' &&
                        tok_prev(a, 3)->kw == KW_BUFFER) {
                        a->bf_on = 1;
                        a->bf_early = as_early(a);
                        a->bf_depth = a->depth;
                        a->bf_toks = 0;
                    }
                    break;
                case KW_BUFFER:
                    if (!(tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.')) {
                        a->bf_on = 1;
                        a->bf_early = as_early(a);
                        a->bf_depth = a->depth;
                        a->bf_toks = 0;
                    }
                    break;
                case KW_CHMOD:
                    a->has_chmod = 1;
                    break;
                default:
                    break;
                }
            }
            a->depth++;
        } else if (ch == ')') {
            if (a->depth > 0)
                a->depth--;
            while (a->n_fr && a->fr[a->n_fr - 1].depth >= a->depth) {
                a->n_fr--;
                if (a->fr[a->n_fr].sink == SINK_EVAL && a->fr[a->n_fr].dynamic) {
                    if (a->n_dyn_eval++ == 0)
                        a->dyn_eval_line = a->fr[a->n_fr].line;
                    pay_gen(a, 0, a->fr[a->n_fr].off, t->off);
                }
                frame_close(a, &a->fr[a->n_fr]);
            }
            if (a->bf_on && a->bf_depth >= a->depth)
                a->bf_on = 0;
        } else if (ch == '}' && a->brace < a->taint_brace) {
            a->taint_brace = 0;
            for (size_t i = 0; i < a->n_taint; i++)
                if (a->brace < a->taint[i].brace)
                    a->taint[i].span = 0;
                else if (a->taint[i].span && a->taint[i].brace > a->taint_brace)
                    a->taint_brace = a->taint[i].brace;
        } else if (ch == ']' && tok_prev(a, 1)->ch == '[' && tok_prev(a, 2)->ch == '!' &&
                   tok_prev(a, 3)->ch == '!' && tok_prev(a, 1)->kind == T_PUNCT &&
                   tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 3)->kind == T_PUNCT) {
            a->n_bangs++; /* while(!![]) of obfuscators; minifiers write !0 */
        } else if (ch == '=' && tok_prev(a, 1)->kind == T_IDENT &&
                   !(tok_prev(a, 2)->kind == T_PUNCT && tok_prev(a, 2)->ch == '.')) {
            /* variables only: a property name (`this.auth =`) is shared by unrelated objects */
            as_open(a, tok_prev(a, 1), 0);
        }
        break;
    case T_IDENT:
        if (t->kw == KW_REQUIRE && tok_prev(a, 1)->kind == T_PUNCT && tok_prev(a, 1)->ch == '=' &&
            tok_prev(a, 2)->kind == T_IDENT) {
            a->alias_h = name_hash(a->b + tok_prev(a, 2)->off, tok_prev(a, 2)->len);
            a->alias_tok = a->n_tok;
            a->pend = 1;
        }
        if (t->kw == KW_FCC) {
            decoded(a, DEC_CHARCODE);
            a->fcc_off = t->off;
            if (a->num_pend && t->off - a->pend_end <= 512)
                hit_add(a->hits, R_OBFS2, DEPS_SEV_HIGH, a->pend_line,
                        "array of %d character codes decoded with String.fromCharCode",
                        a->pend_len);
            a->num_pend = 0;
        } else if (t->kw == KW_PUSH) {
            a->push_tok = a->n_tok;
        } else if (t->kw == KW_SHIFT) {
            if (a->push_tok && a->n_tok - a->push_tok <= 12)
                a->rotation = 1;
        } else if (s[0] == '_' && t->len >= 7 && s[1] == '0' && s[2] == 'x' &&
                   tok_prev(a, 1)->kind == T_PUNCT && tok_prev(a, 1)->ch == '(' &&
                   tok_prev(a, 2)->kw == KW_PARSEINT && hexval((unsigned char)s[3]) >= 0) {
            /* the rotation checksum: parseInt(_0xabc(0x1f2)) / 0x1 + ... */
            a->n_0x++;
            a->n_parse_0x++;
        } else if (s[0] == '_' && t->len >= 7 && s[1] == '0' && s[2] == 'x' &&
                   hexval((unsigned char)s[3]) >= 0 && hexval((unsigned char)s[4]) >= 0 &&
                   hexval((unsigned char)s[5]) >= 0 && hexval((unsigned char)s[6]) >= 0) {
            if (a->n_0x++ == 0)
                a->line_0x = t->line;
        }
        if (tok_prev(a, 1)->kw == KW_FUNC)
            as_open(a, t, 1); /* function NAME( */
        if (a->n_taint && (a->n_fr || a->as_on || a->n_br) && taint_maybe(a, s, t->len)) {
            uint64_t h = name_hash(s, t->len);
            for (size_t i = 0; i < a->n_taint; i++) {
                if (a->taint[i].h != h || t->off - a->taint[i].off > a->taint[i].span)
                    continue;
                /* the name must be the argument (`eval(x)`, `exec('sh ' + x)`), not inside
                 * another call; and the value of an assignment (`y = x`, `y = x.toString()`) */
                for (size_t k = 0; k < a->n_fr; k++)
                    if (!a->fr[k].fn && a->depth == a->fr[k].depth + 1 &&
                        a->fr[k].dec < a->taint[i].dec)
                        a->fr[k].dec = a->taint[i].dec;
                if (a->as_on && a->as_toks <= 2 && a->as_dec < a->taint[i].dec)
                    a->as_dec = a->taint[i].dec;
                if (a->n_br && a->br[a->n_br - 1].depth + 1 == a->bdepth &&
                    a->br[a->n_br - 1].dec < a->taint[i].dec)
                    a->br[a->n_br - 1].dec = a->taint[i].dec; /* obj[decode(x)] */
            }
        }
        break;
    case T_STR:
        if (t->len >= 6 && t->len <= 20) {
            if (str_is(a, t, "child_process") || str_is(a, t, "node:child_process"))
                a->has_cp = 1;
            else if (a->bf_on && a->depth == a->bf_depth + 1 &&
                     (str_is(a, t, "base64") || str_is(a, t, "base64url")))
                decoded(a, DEC_B64);
            else if (a->bf_on && a->depth == a->bf_depth + 1 && str_is(a, t, "hex"))
                decoded(a, DEC_HEX);
            else if (str_is(a, t, "push"))
                a->push_tok = a->n_tok;
            else if (str_is(a, t, "shift") && a->push_tok && a->n_tok - a->push_tok <= 12)
                a->rotation = 1;
        } else if (t->len == 5 && a->bf_on && a->depth == a->bf_depth + 1 && str_is(a, t, "hex"))
            decoded(a, DEC_HEX);
        break;
    case T_NUM: {
        /* character-code arrays: a run of small integers separated by commas */
        long v = -1;
        if (t->len >= 3 && s[0] == '0' && (s[1] | 0x20) == 'x') {
            v = 0;
            for (uint32_t i = 2; i < t->len && v >= 0; i++) {
                int d = hexval((unsigned char)s[i]);
                v = d < 0 || v > 0xffff ? -1 : v * 16 + d;
            }
        } else if (t->len <= 4) {
            v = 0;
            for (uint32_t i = 0; i < t->len && v >= 0; i++)
                v = s[i] >= '0' && s[i] <= '9' ? v * 10 + (s[i] - '0') : -1;
        }
        if (v >= 32 && v <= 126) {
            if (a->num_run == 0 ||
                !(tok_prev(a, 1)->kind == T_PUNCT && tok_prev(a, 1)->ch == ',')) {
                if (a->num_run)
                    num_run_end(a);
                a->num_start = t->off;
                a->num_line = t->line;
            }
            if (a->num_run && v == a->num_prev + 1)
                a->num_steps++;
            a->num_prev = v;
            a->num_run++;
            a->num_on = 1;
            a->num_end = t->off + t->len;
            if ((v | 0x20) >= 'a' && (v | 0x20) <= 'z')
                a->num_letters++;
        } else if (a->num_run) {
            num_run_end(a);
        }
        break;
    }
    default:
        break;
    }
    a->ri++; /* t, in the slot tok_next gave, is the latest now */
}

static int is_id(unsigned char c)
{
    return cc[c] & 2;
}

/* End of the identifier characters from b[i]: sixteen bytes at a time (SSE2), else eight, so
 * that the usual short name costs one branch rather than one per byte. */
static size_t id_end(const unsigned char *b, size_t i, size_t n)
{
#if defined(__SSE2__)
    /* sixteen at a time: letters (either case), digits, '_', '$' and bytes >= 0x80 (their
     * sign bit); the signed compares test ranges by moving them to the bottom of int8 */
    const __m128i lo_a = _mm_set1_epi8((char)(0x80 - 'a')), lim_az = _mm_set1_epi8(-128 + 26);
    const __m128i lo_0 = _mm_set1_epi8((char)(0x80 - '0')), lim_09 = _mm_set1_epi8(-128 + 10);
    const __m128i low = _mm_set1_epi8(0x20), us = _mm_set1_epi8('_'), dl = _mm_set1_epi8('$');
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i az = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, low), lo_a), lim_az);
        __m128i d = _mm_cmplt_epi8(_mm_add_epi8(x, lo_0), lim_09);
        __m128i id = _mm_or_si128(_mm_or_si128(az, d),
                                  _mm_or_si128(_mm_cmpeq_epi8(x, us), _mm_cmpeq_epi8(x, dl)));
        unsigned m = (unsigned)_mm_movemask_epi8(id) | (unsigned)_mm_movemask_epi8(x);
        if (m != 0xffff)
            return i + (size_t)__builtin_ctz(~m);
        i += 16;
    }
#endif
    while (i + 8 <= n) {
        unsigned m = 0;
        for (unsigned k = 0; k < 8; k++)
            m |= (unsigned)(cc[b[i + k]] >> 1 & 1) << k;
        if (m != 0xff)
            return i + (size_t)__builtin_ctz(~m);
        i += 8;
    }
    while (i < n && is_id(b[i]))
        i++;
    return i;
}

static int regex_ok(const struct an *a)
{
    switch (tok_prev(a, 1)->kind) {
    case T_NONE:
        return 1;
    case T_PUNCT:
        return tok_prev(a, 1)->ch != ')' && tok_prev(a, 1)->ch != ']';
    case T_IDENT:
        return tok_prev(a, 1)->kw == KW_REOK || tok_prev(a, 1)->kw == KW_NEW;
    default:
        return 0;
    }
}

/* Base64 prefixes of files that are data, not code: media, fonts, WebAssembly, archives of
 * assets are left to other rules. */
static int payload_is_media(const char *p)
{
    static const char *const pre[] = {
        "iVBORw0KGgo", "/9j/",   "R0lGOD", "d09GR", "d09GMg", "AAEAAA",      "T1RUTw",
        "AGFzbQ",      "PHN2Zy", "PD94bW", "UklGR", "SUQz",   "AAAAIGZ0eXA", "AAAAHGZ0eXA",
        "AAAAGGZ0eXA", "Qk0",    "AAABAA", "wOF2",  "wOFF"};
    for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
        if (strncmp(p, pre[i], strlen(pre[i])) == 0)
            return 1;
    return 0;
}

/* A long string literal that looks like an encoded payload (called for literals of 1 KiB or
 * more): base64 or hex alphabet throughout and high entropy. Records the first. */
static void payload_check(struct an *a, const char *p, size_t n, uint32_t line)
{
    unsigned cnt[256] = {0};
    size_t hex = 0, odd = 0;
    double ent = 0;
    unsigned char head[512];
    size_t nh = 0;
    const char *magic;

    if (n >= 5 && memcmp(p, "data:", 5) == 0)
        return; /* a data: URL */
    /* the first of both kinds recorded already, and in a bundle one near a generator */
    if (a->pay_exec_line_set && a->pay_line && (a->n <= PAY_WHOLE || a->near_line[0]))
        return;
    /* Base64 needs 99 % of the bytes in its alphabet, hex all of them (a subset): more than 1 %
     * outside it ends the look, after 256 bytes for text or code. Past the loop, the string is
     * base64 text unless it is all hex. */
    for (size_t i = 0; i < n;) {
        for (size_t stop = n - i > 256 ? i + 256 : n; i < stop; i++) {
            unsigned char c = (unsigned char)p[i];
            cnt[c]++;
            odd += !(cc[c] & 64);
        }
        if (odd * 100 > n)
            return;
    }
    for (unsigned c = 0; c < 256; c++)
        hex += (cc[c] & 128) ? cnt[c] : 0;
    if (hex == n && n >= 2048) {
        for (size_t i = 0; i + 1 < n && nh < sizeof(head); i += 2)
            head[nh++] =
                (unsigned char)(hexval((unsigned char)p[i]) << 4 | hexval((unsigned char)p[i + 1]));
    } else {
        for (size_t i = 0; i < n; i++)
            if (cnt[(unsigned char)p[i]] && cnt[(unsigned char)p[i]] != UINT32_MAX) {
                double q = (double)cnt[(unsigned char)p[i]] / (double)n;
                ent -= q * log2(q);
                cnt[(unsigned char)p[i]] = UINT32_MAX;
            }
        if (ent < 5.0 || payload_is_media(p))
            return;
        uint32_t acc = 0;
        int bits = 0;
        for (size_t i = 0; i < n && nh < sizeof(head); i++) {
            int v = guard_decode_b64_value((unsigned char)p[i]);
            if (v < 0)
                break;
            acc = acc << 6 | (uint32_t)v;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                head[nh++] = (unsigned char)(acc >> bits);
            }
        }
    }
    magic = binary_kind(head, nh);
    if (magic != NULL) {
        if (!a->pay_exec_line_set) {
            a->pay_exec_line_set = 1;
            a->pay_exec_line = line;
            a->pay_exec_len = (uint32_t)n;
            a->pay_magic = magic;
        }
    } else {
        size_t off = (size_t)(p - a->b);
        if (a->pay_line == 0) {
            a->pay_line = line;
            a->pay_len = (uint32_t)n;
        }
        a->pay_last = off + 1;
        a->pay_last_line = line;
        a->pay_last_len = (uint32_t)n;
        /* after the generators seen so far (they end before this string starts) */
        for (int k = 0; k < 2; k++)
            if (a->gen_last[k] && a->near_line[k] == 0 && off - (a->gen_last[k] - 1) <= PAY_SPAN) {
                a->near_line[k] = line;
                a->near_len[k] = (uint32_t)n;
            }
    }
}

/* The first byte from b[j] of class `stop` (8: ends a quoted string, 16: a template), or n. */
static size_t plain_end(const unsigned char *b, size_t j, size_t n, unsigned char stop)
{
#if defined(__SSE2__)
    /* the four bytes of either class, sixteen bytes at a time */
    const __m128i c0 = _mm_set1_epi8(stop == 8 ? '\'' : '`'), c1 = _mm_set1_epi8('\n');
    const __m128i c2 = _mm_set1_epi8('\\'), c3 = _mm_set1_epi8(stop == 8 ? '"' : '$');
    while (j + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + j));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, c0), _mm_cmpeq_epi8(x, c1)),
                         _mm_or_si128(_mm_cmpeq_epi8(x, c2), _mm_cmpeq_epi8(x, c3))));
        if (m != 0)
            return j + (size_t)__builtin_ctz(m);
        j += 16;
    }
#endif
    while (j < n && !(cc[b[j]] & stop))
        j++;
    return j;
}

/* A string literal from b[i] (the opening quote q) to its end; escape statistics for
 * L2-OBFS-002. Template literals stop at "${" (returns with *tpl_expr set). */
static size_t lex_string(struct an *a, size_t i, unsigned char q, int *tpl_expr)
{
    const unsigned char *b = (const unsigned char *)a->b;
    size_t n = a->n, j = i + 1, chars = 0;
    uint32_t line = a->line, esc_print = 0, run = 0, max_run = 0;
    unsigned char stop = q == '`' ? 16 : 8;
    struct tok *t = tok_next(a);

    *tpl_expr = 0;
    while (j < n) {
        unsigned char c = b[j];
        if (!(cc[c] & stop)) { /* a run of plain characters in one go */
            size_t j0 = j;
            j = plain_end(b, j + 1, n, stop);
            chars += j - j0;
            run = 0;
            continue;
        }
        if (c == q)
            break;
        if (c == '\n') {
            if (q != '`')
                break;
            a->line++;
        }
        if (q == '`' && c == '$' && j + 1 < n && b[j + 1] == '{' && a->n_tpl < TPL_DEPTH) {
            *tpl_expr = 1;
            break;
        }
        if (c != '\\' || j + 1 >= n) {
            chars++;
            run = 0;
            j++;
            continue;
        }
        /* an escape */
        long v = -1;
        size_t k = j + 1, e = 2;
        unsigned char x = b[k];
        if (x == 'x' && k + 2 < n && hexval(b[k + 1]) >= 0 && hexval(b[k + 2]) >= 0) {
            v = hexval(b[k + 1]) << 4 | hexval(b[k + 2]);
            e = 4;
        } else if (x == 'u' && k + 4 < n && hexval(b[k + 1]) >= 0 && hexval(b[k + 2]) >= 0 &&
                   hexval(b[k + 3]) >= 0 && hexval(b[k + 4]) >= 0) {
            v = hexval(b[k + 1]) << 12 | hexval(b[k + 2]) << 8 | hexval(b[k + 3]) << 4 |
                hexval(b[k + 4]);
            e = 6;
        } else if (x >= '0' && x <= '3' && k + 2 < n && b[k + 1] >= '0' && b[k + 1] <= '7' &&
                   b[k + 2] >= '0' && b[k + 2] <= '7') {
            v = (x - '0') << 6 | (b[k + 1] - '0') << 3 | (b[k + 2] - '0');
            e = 4;
        } else if (x == '\n') {
            a->line++;
        }
        chars++;
        if (v >= 0x20 && v <= 0x7e) {
            esc_print++;
            if (++run > max_run)
                max_run = run;
        } else {
            run = 0;
        }
        j += e;
    }
    if (j > n)
        j = n;
    *t = (struct tok){.kind = T_STR,
                      .off = (uint32_t)i,
                      .len = (uint32_t)((j < n && b[j] == q ? j + 1 : j) - i),
                      .line = line};
    /* plain ASCII written as escapes: no reason but to hide it */
    if ((max_run >= 4 && esc_print * 10 >= chars * 9) || max_run >= 12) {
        if (a->n_esc_str++ == 0)
            a->esc_line = line;
        if (max_run > a->max_esc_run) {
            a->max_esc_run = max_run;
            a->esc_run_line = line;
        }
    }
    if (j - i - 1 >= 1024 && esc_print == 0)
        payload_check(a, a->b + i + 1, j - i - 1, line);
    on_token(a, t, T_STR, 0);
    if (*tpl_expr)
        return j + 2;
    return j < n && b[j] == q ? j + 1 : j;
}

/* Remember where comments are (install-time files only: their credential indicators count
 * in code and strings, not in a comment explaining what the script does). */
static void comment(struct an *a, size_t from, size_t to)
{
    /* not in script text, where "//" is more likely a URL than a comment */
    if ((a->flags & DEPS_CONTENT_INSTALL_TIME) && !a->shell && a->n_cmt < COMMENTS) {
        a->cmt[a->n_cmt][0] = from;
        a->cmt[a->n_cmt++][1] = to;
    }
}

static int in_comment(const struct an *a, size_t off)
{
    for (size_t i = 0; a != NULL && i < a->n_cmt; i++)
        if (off >= a->cmt[i][0] && off < a->cmt[i][1])
            return 1;
    return 0;
}

/* ' ', '\t', '\n', '\v', '\f', '\r' */
static int is_blank(unsigned char c)
{
    return cc[c] & 32;
}

/* The end of the run of blanks (and skip bytes) that starts at b[i], counting its lines:
 * sixteen bytes a step (SSE2), as indentation is most of the bytes of unminified code. */
static inline size_t blank_end(struct an *a, const unsigned char *b, size_t i, size_t n,
                               unsigned char skip)
{
#if defined(__SSE2__)
    /* ' ', '\t' .. '\r' (a range, moved to the bottom of int8 for the signed compare) */
    const __m128i sp = _mm_set1_epi8(' '), lo_t = _mm_set1_epi8((char)(0x80 - '\t'));
    const __m128i lim_t = _mm_set1_epi8(-128 + 5), nl = _mm_set1_epi8('\n');
    const __m128i sk = _mm_set1_epi8((char)skip);
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i bl = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, sp), _mm_cmpeq_epi8(x, sk)),
                                  _mm_cmplt_epi8(_mm_add_epi8(x, lo_t), lim_t));
        unsigned m = (unsigned)_mm_movemask_epi8(bl);
        unsigned k = (unsigned)__builtin_ctz(~m); /* 16 when all sixteen are blanks */
        unsigned lines = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl)) & ((1u << k) - 1);
        for (; lines; lines &= lines - 1) /* one or two, mostly: no popcount before SSE4.2 */
            a->line++;
        i += k;
        if (k < 16)
            return i;
    }
#endif
    while (i < n && (is_blank(b[i]) || b[i] == skip)) {
        a->line += b[i] == '\n';
        i++;
    }
    return i;
}

/* What a byte starts, for lex's dispatch: one jump on a table rather than a chain of tests,
 * so that the branch predictor sees one decision per token. */
enum lx {
    LX_PUNCT = 0, /* one-character punctuation not listed below */
    LX_BLANK,     /* ' ', '\t' .. '\r' */
    LX_NUL,       /* a blank outside script text */
    LX_ID,        /* a name: letters, '_', '$', bytes >= 0x80 */
    LX_DIGIT,
    LX_DOT,   /* a number's start when a digit follows */
    LX_SLASH, /* comment, regular expression or division */
    LX_QUOTE, /* ' " ` (or the shell quote of script text, a blank there) */
    LX_RBRACE,
    LX_LBRACE,
    LX_OP, /* may take a '=' after it: = ! < > + - * % & | ^ */
    /* the most frequent punctuation, each with its own copy of on_token */
    LX_LPAREN,
    LX_RPAREN,
    LX_COMMA,
    LX_SEMI,
    LX_LBRACK,
    LX_RBRACK,
};

#define LX_ROW(c)                                                                                 \
    (unsigned char)(CC_BLANK(c)                               ? LX_BLANK                          \
                    : (c) == 0                                ? LX_NUL                            \
                    : ((c) >= '0' && (c) <= '9')              ? LX_DIGIT                          \
                    : CC_WORD(c) || (c) == '$' || (c) >= 0x80 ? LX_ID                             \
                    : (c) == '.'                              ? LX_DOT                            \
                    : (c) == '/'                              ? LX_SLASH                          \
                    : (c) == '\'' || (c) == '"' || (c) == '`' ? LX_QUOTE                          \
                    : (c) == '}'                              ? LX_RBRACE                         \
                    : (c) == '{'                              ? LX_LBRACE                         \
                    : (c) == '('                              ? LX_LPAREN                         \
                    : (c) == ')'                              ? LX_RPAREN                         \
                    : (c) == ','                              ? LX_COMMA                          \
                    : (c) == ';'                              ? LX_SEMI                           \
                    : (c) == '['                              ? LX_LBRACK                         \
                    : (c) == ']'                              ? LX_RBRACK                         \
                    : (c) == '=' || (c) == '!' || (c) == '<' || (c) == '>' || (c) == '+' ||       \
                            (c) == '-' || (c) == '*' || (c) == '%' || (c) == '&' || (c) == '|' || \
                            (c) == '^'                                                            \
                        ? LX_OP                                                                   \
                        : LX_PUNCT)
#define LX_R4(c)  LX_ROW(c), LX_ROW((c) + 1), LX_ROW((c) + 2), LX_ROW((c) + 3)
#define LX_R16(c) LX_R4(c), LX_R4((c) + 4), LX_R4((c) + 8), LX_R4((c) + 12)
#define LX_R64(c) LX_R16(c), LX_R16((c) + 16), LX_R16((c) + 32), LX_R16((c) + 48)
static const unsigned char lx[256] = {LX_R64(0), LX_R64(64), LX_R64(128), LX_R64(192)};

/* A number from b[i] (a digit, or '.' before one): digits, letters, '.' (1e3, 0x1f, 1_000n). */
static size_t lex_number(struct an *a, struct tok *t, size_t i)
{
    const unsigned char *b = (const unsigned char *)a->b;
    size_t j = i + 1, n = a->n;

    while (j < n && (is_id(b[j]) || b[j] == '.') && b[j] < 0x80)
        j++;
    t->kind = T_NUM;
    t->len = (uint32_t)(j - i);
    on_token(a, t, T_NUM, 0);
    return j;
}

/* A comment or a regular expression from b[i] ('/'), read to its end: returns where the next
 * token starts, or i when the '/' is a division. */
static size_t lex_slash(struct an *a, struct tok *t, size_t i)
{
    const unsigned char *b = (const unsigned char *)a->b;
    size_t n = a->n;

    /* shell text has no JavaScript comments: "https://", "dist/" followed by a glob */
    if (i + 1 < n && b[i + 1] == '/' && !a->shell) {
        const unsigned char *nl = memchr(b + i, '\n', n - i);
        size_t j = nl ? (size_t)(nl - b) : n;
        comment(a, i, j);
        return j;
    }
    if (i + 1 < n && b[i + 1] == '*' && !a->shell) {
        /* the end is the first "*" + "/" from i + 2; the lines before it are counted */
        size_t j = i + 2, stop = n - 1;
        while (j < stop) {
            const unsigned char *st = memchr(b + j, '*', stop - j);
            size_t k = st ? (size_t)(st - b) : stop;
            a->line += line_at(a->b + j, k - j) - 1;
            j = k;
            if (st == NULL || b[j + 1] == '/')
                break;
            j++;
        }
        j = j + 2 > n ? n : j + 2;
        comment(a, i, j);
        return j;
    }
    if (i >= a->re_fail && regex_ok(a)) {
        size_t j = i + 1;
        int cls = 0;
        while (j < n && b[j] != '\n') {
            if (b[j] == '\\')
                j++;
            else if (b[j] == '[')
                cls = 1;
            else if (b[j] == ']')
                cls = 0;
            else if (b[j] == '/' && !cls)
                break;
            j++;
        }
        if (j < n && b[j] == '/') {
            j++;
            while (j < n && is_id(b[j]))
                j++;
            t->kind = T_RE;
            t->len = (uint32_t)(j - i);
            on_token(a, t, T_RE, 0);
            return j;
        }
        /* not a regular expression after all: a division. No other '/' before the end
         * of this line is tried as one (keeps the lexer linear on hostile input). */
        a->re_fail = j;
    }
    return i;
}

/* A string or template literal (or a template's next piece, from its '}') from b[i]. */
static size_t lex_quoted(struct an *a, size_t i, unsigned char q)
{
    int tpl_expr;

    i = lex_string(a, i, q, &tpl_expr);
    if (tpl_expr) {
        a->tpl[a->n_tpl++] = a->brace;
        a->brace++;
    }
    return i;
}

/* Threaded dispatch (a GNU C extension of gcc and clang): each kind of token ends with its
 * own jump to the next one's code, so that the branch predictor learns what follows what
 * (a name is mostly followed by '(' or '.', a '(' by a name) instead of one jump for all. */
#define LEX_NEXT()         \
    do {                   \
        if (i >= n)        \
            return;        \
        c = b[i];          \
        goto *disp[lx[c]]; \
    } while (0)

/* A token of one punctuation character known here: on_token's tests of it fold away. */
#define LEX_PUNCT1(ch_)                                                                   \
    do {                                                                                  \
        t = tok_next(a);                                                                  \
        *t = (struct tok){                                                                \
            .kind = T_PUNCT, .off = (uint32_t)i, .len = 1, .line = a->line, .ch = (ch_)}; \
        on_token(a, t, T_PUNCT, (ch_));                                                   \
        i++;                                                                              \
        i += i < n && b[i] == ' ';                                                        \
        LEX_NEXT();                                                                       \
    } while (0)

static void lex(struct an *a)
{
    static const void *const disp[] = {
        [LX_PUNCT] = &&punct,   [LX_BLANK] = &&blank,   [LX_NUL] = &&nul,
        [LX_ID] = &&ident,      [LX_DIGIT] = &&number,  [LX_DOT] = &&dot,
        [LX_SLASH] = &&slash,   [LX_QUOTE] = &&quote,   [LX_RBRACE] = &&rbrace,
        [LX_LBRACE] = &&lbrace, [LX_OP] = &&op,         [LX_LPAREN] = &&lparen,
        [LX_RPAREN] = &&rparen, [LX_COMMA] = &&comma,   [LX_SEMI] = &&semi,
        [LX_LBRACK] = &&lbrack, [LX_RBRACK] = &&rbrack,
    };
    const unsigned char *b = (const unsigned char *)a->b;
    size_t n = a->n, i = 0, next;
    /* skipped like a blank: the shell quote in script text, else a NUL byte */
    unsigned char skip = (unsigned char)a->shell, c;
    struct tok *t;

    LEX_NEXT();
nul:
    if (skip != 0)
        goto punct; /* script text: a NUL byte is punctuation */
blank:
    i = blank_end(a, b, i, n, skip);
    LEX_NEXT();
ident:
    t = tok_next(a);
    next = id_end(b, i + 1, n);
    *t = (struct tok){.kind = T_IDENT,
                      .off = (uint32_t)i,
                      .len = (uint32_t)(next - i),
                      .line = a->line,
                      .kw = kw_lookup(a->db, a->b + i, next - i)};
    on_token(a, t, T_IDENT, 0);
    i = next;
    i += i < n && b[i] == ' '; /* one space, the usual case, without a branch */
    LEX_NEXT();
dot:
    if (!(i + 1 < n && b[i + 1] >= '0' && b[i + 1] <= '9'))
        LEX_PUNCT1('.');
number:
    t = tok_next(a);
    *t = (struct tok){.off = (uint32_t)i, .line = a->line};
    i = lex_number(a, t, i);
    LEX_NEXT();
quote:
    if (c == skip)
        goto blank;
    i = lex_quoted(a, i, c);
    LEX_NEXT();
rbrace:
    if (a->n_tpl && a->tpl[a->n_tpl - 1] == a->brace - 1) {
        a->n_tpl--;
        a->brace--;
        /* resume the template: lex_string starts after its "quote" */
        i = lex_quoted(a, i, '`');
        LEX_NEXT();
    }
    if (a->brace > 0)
        a->brace--;
    goto punct;
lbrace:
    a->brace++;
    goto punct;
slash:
    t = tok_next(a);
    *t = (struct tok){.kind = T_PUNCT, .off = (uint32_t)i, .len = 1, .line = a->line};
    next = lex_slash(a, t, i);
    if (next != i) {
        i = next;
        LEX_NEXT();
    }
    goto op; /* a division */
op:
    if (i + 1 < n && (b[i + 1] == '=' || (c == '=' && b[i + 1] == '>'))) {
        t = tok_next(a);
        *t = (struct tok){.kind = T_PUNCT, .off = (uint32_t)i, .len = 2, .line = a->line};
        if (b[i + 1] == '>') {
            t->ch = 'A';
        } else {
            t->ch = (c == '=' || c == '!' || c == '<' || c == '>') ? 'E' : 'C';
            while (i + t->len < n && b[i + t->len] == '=')
                t->len++;
        }
        goto emit;
    }
punct:
    t = tok_next(a);
    *t =
        (struct tok){.kind = T_PUNCT, .off = (uint32_t)i, .len = 1, .line = a->line, .ch = (char)c};
emit:
    on_token(a, t, T_PUNCT, t->ch);
    i += t->len;
    i += i < n && b[i] == ' ';
    LEX_NEXT();
lparen:
    LEX_PUNCT1('(');
rparen:
    LEX_PUNCT1(')');
comma:
    LEX_PUNCT1(',');
semi:
    LEX_PUNCT1(';');
lbrack:
    LEX_PUNCT1('[');
rbrack:
    LEX_PUNCT1(']');
}

#undef LEX_NEXT
#undef LEX_PUNCT1

static void js_finish(struct an *a)
{
    enum deps_severity crit = (a->flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
                                  ? DEPS_SEV_CRITICAL
                                  : DEPS_SEV_HIGH;
    struct content_hits *h = a->hits;

    as_close(a);
    while (a->n_fr) {
        a->n_fr--;
        frame_close(a, &a->fr[a->n_fr]);
    }
    if (a->num_run)
        num_run_end(a);
    if (a->has_cp) {
        for (size_t i = 0; i < a->n_exec_hit; i++)
            hit_add(h, R_OBFS3, DEPS_SEV_CRITICAL, a->exec_hit_line[i],
                    "child_process runs a command decoded with %s", dec_names[a->exec_hit_dec[i]]);
        /* a write and a process started soon after it in the text */
        for (size_t i = 0; i < a->n_write_hit; i++)
            for (size_t k = 0; k < a->n_exec && k < EXEC_CALLS; k++)
                if (a->exec_off[k] > a->write_hit_off[i] &&
                    a->exec_off[k] - a->write_hit_off[i] <= WRITE_EXEC_SPAN) {
                    hit_add(h, R_OBFS3, crit, a->write_hit_line[i],
                            "decoded payload written to disk and executed (child_process, line %u)",
                            a->exec_off_line[k]);
                    break;
                }
    }
    if (a->n_esc_str >= 3 || a->max_esc_run >= 24)
        hit_add(h, R_OBFS2, DEPS_SEV_HIGH, a->n_esc_str >= 3 ? a->esc_line : a->esc_run_line,
                "%u string literals spell plain ASCII as \\x/\\u/octal escapes (longest run %u)",
                a->n_esc_str, a->max_esc_run);
    if (a->n_0x >= 20 && (a->rotation || a->n_parse_0x >= 3 || a->n_bangs >= 2))
        hit_add(h, R_OBFS4, DEPS_SEV_HIGH, a->line_0x,
                "obfuscator output: %u _0x identifiers and a rotated string array", a->n_0x);
    else if (a->n_0x >= 100)
        hit_add(h, R_OBFS4, DEPS_SEV_MEDIUM, a->line_0x, "obfuscator output: %u _0x identifiers",
                a->n_0x);
    if (a->pay_exec_line_set)
        hit_add(h, R_BUND, (a->n_exec && a->has_cp) ? DEPS_SEV_CRITICAL : DEPS_SEV_HIGH,
                a->pay_exec_line, "%s executable embedded as a %u-character encoded string",
                a->pay_magic, a->pay_exec_len);
    if (a->pay_line && (a->file_dec & (1u << DEC_B64 | 1u << DEC_HEX)) &&
        (a->n_dyn_eval || (a->has_cp && a->n_exec))) {
        static const char *const gen[2] = {"dynamic code evaluation", "child_process"};
        int k = a->n_dyn_eval ? 0 : 1;
        if (a->n <= PAY_WHOLE)
            hit_add(h, R_OBFS4, crit, a->pay_line,
                    "%u-character high-entropy encoded string decoded at run time next to %s",
                    a->pay_len, gen[k]);
        else if (a->near_line[0] || (a->has_cp && a->near_line[1])) {
            k = a->near_line[0] ? 0 : 1;
            hit_add(h, R_OBFS4, crit, a->near_line[k],
                    "%u-character high-entropy encoded string decoded at run time within %zu KiB "
                    "of %s",
                    a->near_len[k], PAY_SPAN >> 10, gen[k]);
        } else /* in a bundle, a blob and a code generator far apart are likely strangers */
            hit_add(h, R_OBFS4, DEPS_SEV_LOW, a->pay_line,
                    "%u-character high-entropy encoded string decoded at run time; the "
                    "nearest %s is more than %zu KiB away (a %zu KiB bundle)",
                    a->pay_len, gen[k], PAY_SPAN >> 10, a->n >> 10);
    }
}

/* ---- install-time indicators (L2-CRED-001, downloads) ----------------------------------- */

struct needle {
    const char *s;
    const char *what;
    int word; /* must not be part of a longer identifier */
};

static const struct needle cred_needles[] = {
    {".npmrc", "npm credentials file .npmrc", 0},
    {"_authToken", "npm _authToken", 0},
    {"NPM_TOKEN", "NPM_TOKEN", 1},
    {"NODE_AUTH_TOKEN", "NODE_AUTH_TOKEN", 1},
    {"GITHUB_TOKEN", "GITHUB_TOKEN", 1},
    {"GH_TOKEN", "GH_TOKEN", 1},
    {"AWS_ACCESS_KEY_ID", "AWS credentials in the environment", 1},
    {"AWS_SECRET_ACCESS_KEY", "AWS credentials in the environment", 1},
    {"AWS_SESSION_TOKEN", "AWS credentials in the environment", 1},
    {".aws/credentials", "AWS credentials file", 0},
    {".aws\\\\credentials", "AWS credentials file", 0},
    {".ssh/", "SSH keys (~/.ssh)", 0},
    {".ssh\\\\", "SSH keys (~/.ssh)", 0},
    {"id_rsa", "SSH private key", 0},
    {"id_ed25519", "SSH private key", 0},
    {".git-credentials", "git credential store", 0},
    {".docker/config.json", "docker registry credentials", 0},
    {".kube/config", "Kubernetes credentials", 0},
    {"Login Data", "browser password store", 0},
    {"Local Extension Settings", "browser extension storage (wallets)", 0},
    {"logins.json", "browser password store", 0},
    {"key4.db", "browser password store", 0},
    {"wallet.dat", "cryptocurrency wallet", 0},
    {"exodus.wallet", "cryptocurrency wallet", 0},
    {"Electrum", "cryptocurrency wallet", 1},
    {"nkbihfbeogaeaoehlefnkodbefgpgknn", "MetaMask wallet storage", 0},
    {"solana/id.json", "Solana wallet key", 0},
    {"Local Storage/leveldb", "browser or Discord local storage", 0},
    {"Local Storage\\\\leveldb", "browser or Discord local storage", 0},
    {".config/gcloud", "Google Cloud credentials", 0},
    {".azure/", "Azure credentials", 0},
};

static const char *const egress_needles[] = {
    "'https'",
    "\"https\"",
    "'http'",
    "\"http\"",
    "'node:https'",
    "\"node:https\"",
    "'node:http'",
    "\"node:http\"",
    "'net'",
    "\"net\"",
    "'node:net'",
    "\"node:net\"",
    "'dns'",
    "\"dns\"",
    "'node:dns'",
    "fetch(",
    "XMLHttpRequest",
    "axios",
    "node-fetch",
    "curl ",
    "wget ",
    "Invoke-WebRequest",
    "/dev/tcp/",
    "https.request",
    "http.request",
    "https.get(",
    "http.get(",
    "dns.resolve",
    "nc -e",
    "WebSocket(",
    "dns.lookup",
    "oastify.com",
    "burpcollaborator",
    "interact.sh",
    "pipedream.net",
    "ngrok",
    "webhook.site",
    "requestbin",
};

static int has_any(const char *b, size_t n, const char *const *set, size_t k)
{
    for (size_t i = 0; i < k; i++)
        if (find(b, n, set[i]) != NULL)
            return 1;
    return 0;
}

static const char *find_word(const char *b, size_t n, const char *w)
{
    size_t k = strlen(w);
    const char *p = b, *end = b + n, *q;

    while (p < end && (q = memmem(p, (size_t)(end - p), w, k)) != NULL) {
        if ((q == b || !word_char((unsigned char)q[-1])) &&
            (q + k >= end || !word_char((unsigned char)q[k])))
            return q;
        p = q + 1;
    }
    return NULL;
}

/* process.env serialised or enumerated as a whole (not one variable read). */
static const char *env_dump(const char *b, size_t n, int egress)
{
    const char *p = b, *end = b + n, *q;

    while (p < end && (q = memmem(p, (size_t)(end - p), "process.env", 11)) != NULL) {
        const char *r = q + 11, *l = q;
        p = q + 1;
        while (r < end && (*r == ' ' || *r == '\t'))
            r++;
        if (r < end && *r != ')' && *r != ',')
            continue;
        while (l > b && (l[-1] == ' ' || l[-1] == '\t'))
            l--;
        if (l == b || l[-1] != '(')
            continue;
        l--;
        if ((l - b >= 9 && memcmp(l - 9, "stringify", 9) == 0) ||
            (l - b >= 7 && memcmp(l - 7, "entries", 7) == 0) ||
            (l - b >= 6 && memcmp(l - 6, "values", 6) == 0) ||
            (egress && l - b >= 4 && memcmp(l - 4, "keys", 4) == 0))
            return q;
    }
    if ((q = find_word(b, n, "printenv")) != NULL)
        return q;
    if ((q = find(b, n, "$(env)")) != NULL || (q = find(b, n, "`env`")) != NULL)
        return q;
    return NULL;
}

/* Shell: "| sh", "| bash", ... after position from; returns the pipe or NULL. */
static const char *pipe_to_shell(const char *b, size_t n, const char *from)
{
    static const char *const shells[] = {"sh",   "bash",   "zsh",     "dash", "ksh",
                                         "node", "python", "python3", "perl"};
    const char *end = b + n, *p = from;

    while (p < end && (p = memchr(p, '|', (size_t)(end - p))) != NULL) {
        const char *q = p + 1;
        p++;
        if (q < end && *q == '|')
            continue; /* "||" */
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (end - q > 5 && memcmp(q, "sudo ", 5) == 0)
            q += 5;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        if (end - q > 9 && memcmp(q, "/usr/bin/", 9) == 0)
            q += 9;
        else if (end - q > 5 && memcmp(q, "/bin/", 5) == 0)
            q += 5;
        for (size_t i = 0; i < sizeof(shells) / sizeof(shells[0]); i++) {
            size_t k = strlen(shells[i]);
            if ((size_t)(end - q) >= k && memcmp(q, shells[i], k) == 0 &&
                (q + k == end || !word_char((unsigned char)q[k])))
                return p - 1;
        }
    }
    return NULL;
}

static void install_rules(const char *b, size_t n, unsigned flags, const struct an *js,
                          struct content_hits *h)
{
    int egress = has_any(b, n, egress_needles, sizeof(egress_needles) / sizeof(egress_needles[0]));
    const char *seen[sizeof(cred_needles) / sizeof(cred_needles[0])];
    size_t n_seen = 0;
    const char *p, *dl, *b64;
    enum deps_severity sev = egress ? DEPS_SEV_CRITICAL : DEPS_SEV_HIGH;
    const char *how = egress ? "; the same file sends data over the network" : "";

    for (size_t i = 0; i < sizeof(cred_needles) / sizeof(cred_needles[0]); i++) {
        const struct needle *nd = &cred_needles[i];
        int dup = 0;
        const char *from = b;
        do {
            size_t left = (size_t)(b + n - from);
            p = nd->word ? find_word(from, left, nd->s) : find(from, left, nd->s);
            from = p ? p + 1 : b + n;
        } while (p != NULL && in_comment(js, (size_t)(p - b)));
        if (p == NULL)
            continue;
        for (size_t k = 0; k < n_seen; k++)
            dup |= strcmp(seen[k], nd->what) == 0;
        if (dup)
            continue;
        seen[n_seen++] = nd->what;
        hit_add(h, R_CRED, sev, line_at(b, (size_t)(p - b)), "install-time code reads %s%s",
                nd->what, how);
    }
    /* enumerating the environment is done by build tools too; sending it out is not */
    if ((p = env_dump(b, n, egress)) != NULL)
        hit_add(h, R_CRED, egress ? DEPS_SEV_CRITICAL : DEPS_SEV_MEDIUM,
                line_at(b, (size_t)(p - b)), "install-time code dumps the whole environment%s",
                how);
    /* code fetched or assembled at run time and evaluated during install */
    if (js != NULL && egress && js->n_dyn_eval)
        /* large bundles carry code generators and HTTP clients side by side */
        hit_add(h, R_OBFS1, n <= 65536 ? DEPS_SEV_HIGH : DEPS_SEV_MEDIUM, js->dyn_eval_line,
                "install-time code evaluates dynamically built code and uses the network");

    /* downloads run as programs */
    dl = find_word(b, n, "curl");
    if (dl == NULL)
        dl = find_word(b, n, "wget");
    b64 = find(b, n, "base64 -d");
    if (b64 == NULL)
        b64 = find(b, n, "base64 --decode");
    if (b64 == NULL)
        b64 = find(b, n, "base64 -D");
    if (b64 != NULL && (p = pipe_to_shell(b, n, b64)) != NULL)
        hit_add(h, R_OBFS3, DEPS_SEV_CRITICAL, line_at(b, (size_t)(b64 - b)),
                "base64-decoded text piped into a shell");
    else if (b64 != NULL && (find(b, n, "sh -c \"$(") != NULL || find(b, n, "eval \"$(") != NULL ||
                             find(b, n, "eval $(") != NULL || find(b, n, "sh -c $(") != NULL))
        hit_add(h, R_OBFS3, DEPS_SEV_CRITICAL, line_at(b, (size_t)(b64 - b)),
                "base64-decoded text run by a shell (eval / sh -c)");
    if ((p = find(b, n, "-EncodedCommand")) != NULL || (p = find(b, n, "-enc ")) != NULL ||
        (p = find(b, n, "-e JAB")) != NULL)
        if (find(b, n, "powershell") != NULL || find(b, n, "pwsh") != NULL)
            /* a few libraries encode their own PowerShell commands to dodge quoting */
            hit_add(h, R_OBFS3,
                    (flags & DEPS_CONTENT_SCRIPT_TEXT) ? DEPS_SEV_CRITICAL : DEPS_SEV_HIGH,
                    line_at(b, (size_t)(p - b)), "PowerShell runs a base64-encoded command");
    if ((p = find_word(b, n, "certutil")) != NULL && find(b, n, "urlcache") != NULL)
        hit_add(h, R_BUND, DEPS_SEV_HIGH, line_at(b, (size_t)(p - b)),
                "install-time download with certutil -urlcache");
    else if ((p = find_word(b, n, "bitsadmin")) != NULL && find(b, n, "/transfer") != NULL)
        hit_add(h, R_BUND, DEPS_SEV_HIGH, line_at(b, (size_t)(p - b)),
                "install-time download with bitsadmin /transfer");
    if (dl != NULL && (p = pipe_to_shell(b, n, dl)) != NULL)
        hit_add(h, R_BUND, DEPS_SEV_HIGH, line_at(b, (size_t)(p - b)),
                "install-time download piped into an interpreter");
    else if (dl != NULL &&
             ((p = find(b, n, "chmod +x")) != NULL || (p = find(b, n, "chmod 7")) != NULL ||
              (p = find(b, n, "chmod u+x")) != NULL))
        hit_add(h, R_BUND, DEPS_SEV_HIGH, line_at(b, (size_t)(p - b)),
                "install-time download made executable and run");
    else if (js != NULL && egress && js->has_cp && js->n_exec &&
             (js->has_chmod || find(b, n, "0o755") != NULL || find(b, n, "0755") != NULL ||
              find(b, n, ".exe") != NULL)) {
        /* the prebuilt-binary installer pattern: common and legitimate, unless plain HTTP to
         * a bare address */
        const char *raw = find(b, n, "http://");
        int ip = raw != NULL && raw + 7 < b + n && raw[7] >= '0' && raw[7] <= '9';
        /* installers wait for their binary; droppers leave it running */
        int bg = find(b, n, "detached") != NULL && find(b, n, "unref") != NULL;
        hit_add(h, R_BUND, ip || bg ? DEPS_SEV_HIGH : DEPS_SEV_MEDIUM, js->exec_line,
                "install-time code downloads a file, makes it executable and runs it%s",
                ip   ? " (plain HTTP to an IP address)"
                : bg ? " detached in the background"
                     : "");
    }
    (void)flags;
}

/* ---- what a file needs for the lexer to find anything ------------------------------------
 *
 * Most package files hold none of what the lexer's rules look for, and the lexer costs about
 * 2.5 ns a byte. A Hyperscan database of the text every lexer finding needs finds those files
 * at several times that speed, and they are not lexed. It is exact: each pattern is implied by
 * the rules it stands for (listed with it), so a file it passes over would give no lexer
 * finding (deps_content_scan with DEPS_CONTENT_FULL lexes every file; the tests and the fuzz
 * target compare both ways). Install-time files and script text are always lexed: their
 * credential rules read the lexer's state. */

/* The database is the one serialized at build time (deps_prefilter_gen), loaded at the first
 * file that needs it. On a machine it was not built for it is refused, and compiling it takes
 * 30-45 ms, what the pre-filter saves on about 30 MB of code: it is compiled then only once
 * the db's scans have lexed PRE_AFTER bytes without it (or at deps_content_db_prefilter). */
#define PRE_AFTER ((size_t)16 << 20)

struct pre_state {
    _Atomic(hs_database_t *) hs;
    atomic_size_t lexed;  /* bytes lexed without it */
    atomic_int refused;   /* the embedded database does not run here */
    atomic_int failed;    /* the build failed (out of memory): every file is lexed */
    atomic_size_t passed; /* files it found no need to lex */
};

static struct pre_state *pre_new(void)
{
    struct pre_state *ps = malloc(sizeof(*ps));
    if (ps == NULL)
        return NULL;
    atomic_init(&ps->hs, NULL);
    atomic_init(&ps->lexed, 0);
    atomic_init(&ps->refused, 0);
    atomic_init(&ps->failed, 0);
    atomic_init(&ps->passed, 0);
    return ps;
}

static void pre_free(struct pre_state *ps)
{
    if (ps == NULL)
        return;
    hs_free_database(atomic_load(&ps->hs));
    free(ps);
}

/* The pre-filter's database: the embedded one, or (compile set) one compiled here; threads
 * racing to make it keep the first. NULL when there is none. */
static hs_database_t *pre_build(struct pre_state *ps, int compile)
{
    hs_compile_error_t *cerr = NULL;
    hs_database_t *hs = atomic_load(&ps->hs), *none = NULL;

    if (hs != NULL || atomic_load(&ps->failed))
        return hs;
    if (atomic_load(&ps->refused) ||
        hs_deserialize_database((const char *)deps_prefilter_hsdb, deps_prefilter_hsdb_len, &hs) !=
            HS_SUCCESS) {
        atomic_store(&ps->refused, 1);
        hs = NULL;
        if (!compile)
            return NULL;
        if (deps_prefilter_compile(&hs, &cerr) != HS_SUCCESS) {
            hs_free_compile_error(cerr); /* the patterns are fixed: only memory can fail */
            atomic_store(&ps->failed, 1);
            return NULL;
        }
    }
    if (!atomic_compare_exchange_strong(&ps->hs, &none, hs)) {
        hs_free_database(hs);
        hs = none;
    }
    return hs;
}

void deps_content_db_prefilter(struct deps_content_db *db)
{
    if (db != NULL)
        (void)pre_build(db->pre, 1);
}

size_t deps_content_db_unlexed(const struct deps_content_db *db)
{
    return db ? atomic_load_explicit(&db->pre->passed, memory_order_relaxed) : 0;
}

#define PRE_REACH 4096 /* bytes cat_at walks; further counts as found */
#define PRE_PIECE 18   /* the longest name cat_match looks for: "node:child_process" */

static int pre_blank(unsigned char c)
{
    return c == '\0' || is_blank(c);
}

static int pre_piece_char(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? 1 : c == '_' || c == ':';
}

/* PRE_CAT: the quote at b[q] is followed by a '+', a comment or a blank. Whether a literal of
 * 1 to 18 letters, '_' or ':' ends at that quote and, after blanks, comments and at least one
 * '+', another starts: the only way cat_token joins two pieces. */
static int cat_at(const unsigned char *b, size_t n, size_t q)
{
    unsigned char c;
    size_t k;

    c = b[q];
    for (k = q; k > 0 && q - k < PRE_PIECE && pre_piece_char(b[k - 1]); k--)
        ;
    /* the first piece is not "": cat_match counts only pieces with text, and the first of
     * those is followed by a '+' and another literal ("" or not) */
    if (k == 0 || k == q || b[k - 1] != c)
        return 0;
    size_t i = q + 1, end = n - i > PRE_REACH ? i + PRE_REACH : n;
    int plus = 0;
    while (i < end) {
        if (pre_blank(b[i])) {
            i++;
        } else if (b[i] == '+') {
            plus = 1;
            i++;
        } else if (b[i] == '/' && i + 1 < end && b[i + 1] == '*') {
            const unsigned char *e = memmem(b + i + 2, end - i - 2, "*/", 2);
            if (e == NULL)
                return end < n; /* ends beyond the walk: taken as found */
            i = (size_t)(e - b) + 2;
        } else if (b[i] == '/' && i + 1 < end && b[i + 1] == '/') {
            const unsigned char *e = memchr(b + i, '\n', end - i);
            if (e == NULL)
                return end < n;
            i = (size_t)(e - b) + 1;
        } else {
            break;
        }
    }
    if (i == end)
        return end < n; /* walked too far: taken as found */
    if (!plus || (b[i] != '\'' && b[i] != '"'))
        return 0;
    c = b[i];
    for (k = i + 1; k < n && k - i - 1 < PRE_PIECE && pre_piece_char(b[k]); k++)
        ;
    return k < n && b[k] == c;
}

/* PRE_UNREAD: whether the literal whose closing quote is b[to - 1] holds a '/' (a path, which
 * is what require() and child_process need; eval() needs none, see pre_cb). Looks back to the
 * previous quote of its kind that no backslash precedes: the literal's start or, for the last
 * piece of a template, before it. */
static int unread_path_at(const unsigned char *b, size_t to)
{
    unsigned char q = b[to - 1];
    size_t stop = to - 1 > PRE_REACH * 16 ? to - 1 - PRE_REACH * 16 : 0;

    for (size_t k = to - 1; k > stop; k--) {
        if (b[k - 1] == '/')
            return 1;
        if (b[k - 1] == q && !(k >= 2 && b[k - 2] == '\\'))
            return 0;
    }
    return stop > 0;
}

struct pre_scan {
    const unsigned char *b;
    size_t n;
    unsigned seen; /* bit per enum pre_id */
    int need;
};

static int pre_cb(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                  void *ctx)
{
    struct pre_scan *ps = ctx;
    (void)from;
    (void)flags;

    switch (id) {
    case PRE_CAT: {
        /* the quote: the match's first byte, the only quote in it (2 to 4 bytes) */
        size_t q = (size_t)to - 2;
        while (ps->b[q] != '\'' && ps->b[q] != '"')
            q--;
        if (cat_at(ps->b, ps->n, q))
            ps->need = 1;
        break;
    }
    case PRE_UNREAD:
        if (unread_path_at(ps->b, (size_t)to))
            ps->need = 1;
        ps->seen |= 1u << id;
        break;
    case PRE_DECODE:
    case PRE_ESCAPES:
    case PRE_MAGIC_B64:
    case PRE_MAGIC_HEX:
        ps->need = 1;
        break;
    default:
        ps->seen |= 1u << id;
        break;
    }
#define PRE_BOTH(x, y) ((ps->seen & (1u << (x) | 1u << (y))) == (1u << (x) | 1u << (y)))
    if (PRE_BOTH(PRE_BUFFER, PRE_ENCODING) || PRE_BOTH(PRE_URI, PRE_EVAL) ||
        PRE_BOTH(PRE_URI, PRE_CP) || PRE_BOTH(PRE_UNREAD, PRE_EVAL))
        ps->need = 1;
#undef PRE_BOTH
    return ps->need; /* non-zero stops the scan */
}

/* Whether lexing b could give a finding; 1 when the scan cannot tell, and while there is no
 * pre-filter database. */
static int lex_needed(const struct deps_content_db *db, const char *b, size_t n)
{
    /* one per thread, kept for its life; sized again (12 us) only for another database */
    static _Thread_local hs_scratch_t *scratch;
    static _Thread_local const hs_database_t *scratch_for;
    struct pre_scan ps = {(const unsigned char *)b, n, 0, 0};
    hs_database_t *hs = atomic_load_explicit(&db->pre->hs, memory_order_acquire);

    if (n == 0)
        return 0;
    if (hs == NULL && (hs = pre_build(db->pre, 0)) == NULL) {
        if (atomic_fetch_add(&db->pre->lexed, n) + n < PRE_AFTER ||
            (hs = pre_build(db->pre, 1)) == NULL)
            return 1;
    }
    if (scratch_for != hs) {
        if (hs_alloc_scratch(hs, &scratch) != HS_SUCCESS)
            return 1;
        scratch_for = hs;
    }
    hs_error_t e = guard_hs_scan(hs, b, n, scratch, pre_cb, &ps);
    if (e != HS_SUCCESS || ps.need)
        return 1;
    atomic_fetch_add_explicit(&db->pre->passed, 1, memory_order_relaxed);
    return 0;
}

/* ---- entry ------------------------------------------------------------------------------ */

static int path_is_js(const char *path, const char *b, size_t n)
{
    static const char *const exts[] = {"js", "cjs", "mjs", "jsx", "ts", "tsx", "mts", "cts", "es6"};
    const char *ext = path_ext(path);
    size_t pl = strlen(path);

    if (pl >= 5 && (strcmp(path + pl - 5, ".d.ts") == 0 ||
                    (pl >= 6 && (strcmp(path + pl - 6, ".d.mts") == 0 ||
                                 strcmp(path + pl - 6, ".d.cts") == 0))))
        return 0;
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (strcmp(ext, exts[i]) == 0)
            return 1;
    if (ext[0] == '\0' && n > 2 && b[0] == '#' && b[1] == '!') {
        const char *nl = memchr(b, '\n', n);
        size_t k = nl ? (size_t)(nl - b) : n;
        return memmem(b, k, "node", 4) != NULL;
    }
    return 0;
}

int deps_content_scan(const struct deps_content_db *db, const char *path, const char *buf,
                      size_t len, unsigned flags, deps_content_cb cb, void *ud)
{
    struct content_hits *h;
    struct an *a = NULL;
    const char *kind;
    int rc = -ENOMEM, js;

    if (db == NULL || cb == NULL || (buf == NULL && len))
        return -EINVAL;
    if (path == NULL)
        path = "";
    if (len > DEPS_CONTENT_MAX_SCAN)
        len = DEPS_CONTENT_MAX_SCAN;
    if (len > UINT32_MAX)
        len = UINT32_MAX;
    h = malloc(sizeof(*h)); /* only the counters need zeroing, not the messages */
    if (h == NULL)
        return -ENOMEM;
    h->n = 0;
    memset(h->per_rule, 0, sizeof(h->per_rule));
    kind = (flags & DEPS_CONTENT_SCRIPT_TEXT) ? NULL : binary_kind((const unsigned char *)buf, len);
    if (kind != NULL) {
        bund_binary(path, kind, flags, h);
    } else {
        js = (flags & DEPS_CONTENT_SCRIPT_TEXT) || path_is_js(path, buf, len);
        /* a NUL byte early on: some other binary, not code */
        if (js && memchr(buf, '\0', len < 4096 ? len : 4096) != NULL)
            js = 0;
        /* files of packages, not run at install time: lexed only when they could give a
         * finding */
        if (js &&
            !(flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT | DEPS_CONTENT_FULL)) &&
            !lex_needed(db, buf, len))
            js = 0;
        if (js) {
            /* script text: JavaScript given to `node -e` may sit in either kind of shell
             * quotes, so it is read once with each kind taken as shell quoting */
            const char quotes[2] = {'"', '\''};
            int passes = (flags & DEPS_CONTENT_SCRIPT_TEXT) ? 2 : 1;
            const char *ext = path_ext(path);
            bool ts = strcmp(ext, "ts") == 0 || strcmp(ext, "tsx") == 0 ||
                      strcmp(ext, "mts") == 0 || strcmp(ext, "cts") == 0;
            a = malloc(sizeof(*a));
            if (a == NULL)
                goto out;
            for (int pass = 0; pass < passes; pass++) {
                memset(a, 0, offsetof(struct an, tpl));
                a->db = db;
                a->b = buf;
                a->n = len;
                a->flags = flags;
                a->shell = (flags & DEPS_CONTENT_SCRIPT_TEXT) ? quotes[passes - 1 - pass] : 0;
                a->ts = ts;
                a->line = 1;
                a->hits = h;
                a->fcc_off = SIZE_MAX;
                lex(a);
                js_finish(a);
            }
        }
        if (flags & (DEPS_CONTENT_INSTALL_TIME | DEPS_CONTENT_SCRIPT_TEXT))
            install_rules(buf, len, flags, a, h);
    }
    if (ioc_scan(db, buf, len, h) != 0)
        goto out;
    qsort(h->v, h->n, sizeof(h->v[0]), hit_cmp);
    for (size_t i = 0; i < h->n; i++) {
        struct deps_content_hit hit = {.rule_id = rule_ids[h->v[i].rule],
                                       .severity = h->v[i].sev,
                                       .line = h->v[i].line,
                                       .message = h->v[i].msg};
        cb(ud, &hit);
    }
    rc = 0;
out:
    free(a);
    free(h);
    return rc;
}

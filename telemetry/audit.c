/* Tamper-evident audit log: msgpack records, HMAC-SHA-256 chain, writer thread, verifier. */
#include "telemetry/audit.h"

#include "telemetry/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#define AUDIT_FORMAT      "warden-audit/1"
#define AUDIT_SLOT_BYTES  4080          /* one packed request; the caps keep it below */
#define AUDIT_BATCH_BYTES (1024 * 1024) /* a batch stops growing past this */
#define AUDIT_BATCH_CAP   (AUDIT_BATCH_BYTES + 2 * AUDIT_SLOT_BYTES + 4096)
#define AUDIT_BATCH_MAX   1024       /* records per batch */
#define AUDIT_FRAME_EXTRA 64         /* array, map header, "seq", hmac around a slot */
#define AUDIT_OWN_MAX     512        /* bound of an open/rotate/seal/dropped record */
#define AUDIT_LOOKAHEAD   4096       /* records searched to tell reordered from missing */
#define AUDIT_FRAME_HEAD  0x92       /* fixarray of 2: [content, hmac] */
#define AUDIT_HMAC_HEAD   "\xc4\x20" /* bin8 of 32 bytes */

static const uint8_t zero_hmac[TEL_AUDIT_HMAC_LEN];

/* ------------------------------------------------------------------ keys and HMAC */

int tel_audit_key_parse(const char *text, size_t len, uint8_t *out, size_t cap)
{
    int rc = 0;
    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (len >= 4 && memcmp(text, "hex:", 4) == 0) {
        const char *h = text + 4;
        size_t hl = len - 4, n = hl / 2;
        if (hl % 2 != 0)
            return -EINVAL;
        if (n > cap || n > TEL_AUDIT_KEY_MAX)
            return -E2BIG;
        for (size_t i = 0; i < hl; i++) {
            char c = h[i];
            int v = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                           : -1;
            if (v < 0)
                return -EINVAL;
            if (i % 2 == 0)
                out[i / 2] = (uint8_t)(v << 4);
            else
                out[i / 2] |= (uint8_t)v;
        }
        len = n;
    } else {
        if (len > cap || len > TEL_AUDIT_KEY_MAX)
            return -E2BIG;
        memcpy(out, text, len);
    }
    if (len < TEL_AUDIT_KEY_MIN)
        rc = -ENOKEY;
    return rc < 0 ? rc : (int)len;
}

/* Names the key without revealing it: verify tells "wrong key" from "changed". */
static void audit_key_id(const void *key, size_t keylen, uint8_t id[TEL_AUDIT_KEY_ID_LEN])
{
    static const char label[] = "warden-audit key id v1";
    uint8_t h[TEL_SHA256_LEN];
    tel_hmac_sha256(key, keylen, label, sizeof(label) - 1, h);
    memcpy(id, h, TEL_AUDIT_KEY_ID_LEN);
}

/* hmac = HMAC(key, content || prev). scratch holds content_len + 32 bytes. */
static void audit_chain_hmac(const void *key, size_t keylen, const uint8_t *content,
                             size_t content_len, const uint8_t prev[TEL_AUDIT_HMAC_LEN],
                             uint8_t *scratch, uint8_t out[TEL_AUDIT_HMAC_LEN])
{
    memcpy(scratch, content, content_len);
    memcpy(scratch + content_len, prev, TEL_AUDIT_HMAC_LEN);
    tel_hmac_sha256(key, keylen, scratch, content_len + TEL_AUDIT_HMAC_LEN, out);
}

static bool hmac_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (size_t i = 0; i < TEL_AUDIT_HMAC_LEN; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------------ bounded msgpack reader */

enum mp_type {
    MP_NIL = 0,
    MP_BOOL,
    MP_UINT,
    MP_INT,
    MP_FLOAT,
    MP_STR,
    MP_BIN,
    MP_ARRAY,
    MP_MAP,
};

struct mp {
    const uint8_t *p, *end;
};

struct mp_val {
    enum mp_type t;
    uint64_t u;       /* MP_UINT; count of MP_ARRAY / MP_MAP */
    int64_t i;        /* MP_INT */
    double d;         /* MP_FLOAT */
    bool b;           /* MP_BOOL */
    const uint8_t *s; /* MP_STR, MP_BIN */
    size_t n;         /* MP_STR, MP_BIN length */
};

static uint64_t be_get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned k = 0; k < n; k++)
        v = v << 8 | p[k];
    return v;
}

/* Read one value header (and a string's or bin's bytes). -ENODATA: the bytes end first;
 * -EBADMSG: not msgpack or a type the format never uses; -E2BIG: a reader cap. */
static int mp_read(struct mp *m, struct mp_val *v)
{
    size_t avail = (size_t)(m->end - m->p);
    unsigned len_bytes = 0;
    if (avail < 1)
        return -ENODATA;
    uint8_t c = *m->p;
    memset(v, 0, sizeof(*v));
    if (c <= 0x7f || c >= 0xe0) {
        m->p++;
        if (c <= 0x7f) {
            v->t = MP_UINT;
            v->u = c;
        } else {
            v->t = MP_INT;
            v->i = (int8_t)c;
        }
        return 0;
    }
    if ((c & 0xe0) == 0xa0) {
        v->t = MP_STR;
        v->n = c & 0x1f;
        m->p++;
        goto body;
    }
    if ((c & 0xf0) == 0x90 || (c & 0xf0) == 0x80) {
        v->t = (c & 0xf0) == 0x90 ? MP_ARRAY : MP_MAP;
        v->u = c & 0x0f;
        m->p++;
        return 0;
    }
    switch (c) {
    case 0xc0:
        v->t = MP_NIL;
        m->p++;
        return 0;
    case 0xc2:
    case 0xc3:
        v->t = MP_BOOL;
        v->b = c == 0xc3;
        m->p++;
        return 0;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: {
        unsigned n = 1u << (c - 0xcc);
        if (avail < 1 + n)
            return -ENODATA;
        v->t = MP_UINT;
        v->u = be_get(m->p + 1, n);
        m->p += 1 + n;
        return 0;
    }
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
        unsigned n = 1u << (c - 0xd0);
        if (avail < 1 + n)
            return -ENODATA;
        uint64_t u = be_get(m->p + 1, n);
        if (n < 8 && (u >> (8 * n - 1)) != 0)
            u |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        v->t = MP_INT;
        v->i = (int64_t)u;
        m->p += 1 + n;
        return 0;
    }
    case 0xca:
    case 0xcb: {
        unsigned n = c == 0xca ? 4 : 8;
        if (avail < 1 + n)
            return -ENODATA;
        uint64_t u = be_get(m->p + 1, n);
        v->t = MP_FLOAT;
        if (n == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, sizeof(f));
            v->d = f;
        } else {
            memcpy(&v->d, &u, sizeof(v->d));
        }
        m->p += 1 + n;
        return 0;
    }
    case 0xd9:
    case 0xda:
    case 0xdb:
        v->t = MP_STR;
        len_bytes = 1u << (c - 0xd9);
        break;
    case 0xc4:
    case 0xc5:
    case 0xc6:
        v->t = MP_BIN;
        len_bytes = 1u << (c - 0xc4);
        break;
    case 0xdc:
    case 0xdd:
    case 0xde:
    case 0xdf: {
        unsigned n = (c == 0xdc || c == 0xde) ? 2 : 4;
        if (avail < 1 + n)
            return -ENODATA;
        v->t = c <= 0xdd ? MP_ARRAY : MP_MAP;
        v->u = be_get(m->p + 1, n);
        m->p += 1 + n;
        return v->u > TEL_AUDIT_ITEMS_MAX ? -E2BIG : 0;
    }
    default:
        return -EBADMSG; /* 0xc1, ext types */
    }
    if (avail < 1 + len_bytes)
        return -ENODATA;
    v->n = (size_t)be_get(m->p + 1, len_bytes);
    m->p += 1 + len_bytes;
body:
    if (v->n > TEL_AUDIT_STR_MAX)
        return -E2BIG;
    if ((size_t)(m->end - m->p) < v->n)
        return -ENODATA;
    v->s = m->p;
    m->p += v->n;
    return 0;
}

/* Skip one value, checking every cap; map keys must be strings. */
static int mp_skip(struct mp *m, unsigned depth)
{
    struct mp_val v;
    int rc = mp_read(m, &v);
    if (rc != 0)
        return rc;
    if (v.t != MP_ARRAY && v.t != MP_MAP)
        return 0;
    if (depth >= TEL_AUDIT_DEPTH_MAX)
        return -E2BIG;
    for (uint64_t k = 0; k < v.u; k++) {
        if (v.t == MP_MAP) {
            struct mp_val key;
            if ((rc = mp_read(m, &key)) != 0)
                return rc;
            if (key.t != MP_STR)
                return -EBADMSG;
        }
        if ((rc = mp_skip(m, depth + 1)) != 0)
            return rc;
    }
    return 0;
}

static bool mp_str_is(const struct mp_val *v, const char *s)
{
    size_t n = strlen(s);
    return v->t == MP_STR && v->n == n && memcmp(v->s, s, n) == 0;
}

int tel_audit_frame_next(const uint8_t *buf, size_t len, size_t *off, struct tel_audit_frame *fr)
{
    const size_t cap = 1 + TEL_AUDIT_RECORD_MAX + 2 + TEL_AUDIT_HMAC_LEN;
    if (buf == NULL || *off >= len)
        return 0;
    const uint8_t *p = buf + *off;
    size_t avail = len - *off, limit = avail < cap ? avail : cap;
    int rc;
    if (p[0] != AUDIT_FRAME_HEAD)
        return -EBADMSG;
    if (avail < 2)
        return -ENODATA;
    if ((p[1] & 0xf0) != 0x80 && p[1] != 0xde && p[1] != 0xdf)
        return -EBADMSG; /* the content is a map */
    struct mp m = {.p = p + 1, .end = p + limit};
    rc = mp_skip(&m, 0);
    if (rc == -ENODATA)
        return avail < cap ? -ENODATA : -E2BIG;
    if (rc != 0)
        return rc;
    size_t content_len = (size_t)(m.p - (p + 1));
    if (content_len > TEL_AUDIT_RECORD_MAX)
        return -E2BIG;
    size_t left = (size_t)(m.end - m.p);
    if (left >= 1 && m.p[0] != 0xc4)
        return -EBADMSG;
    if (left >= 2 && m.p[1] != TEL_AUDIT_HMAC_LEN)
        return -EBADMSG;
    if (left < 2 + TEL_AUDIT_HMAC_LEN)
        return -ENODATA;
    fr->content = p + 1;
    fr->content_len = content_len;
    fr->hmac = m.p + 2;
    fr->offset = *off;
    fr->len = 1 + content_len + 2 + TEL_AUDIT_HMAC_LEN;
    *off += fr->len;
    return 1;
}

/* ------------------------------------------------------------------ record metadata */

enum audit_kind {
    AK_OTHER = 0, /* a kind this version does not know: authenticated, not interpreted */
    AK_OPEN,
    AK_REQUEST,
    AK_DROPPED,
    AK_ROTATE,
    AK_SEAL,
};

/* How a file ended, as seen by the verifier or recorded by the next file's open record. */
enum audit_end {
    AE_NONE = 0, /* no previous file: a new log */
    AE_ROTATE,
    AE_SEAL,
    AE_UNSEALED, /* last record complete, but no seal: crash, kill, or cut at a boundary */
    AE_TORN,     /* ends inside a record */
};

static const char *const end_names[] = {"none", "rotate", "seal", "unsealed", "torn"};

struct audit_meta {
    bool has_seq, has_kind, has_prev_seq, has_prev_hmac, has_log, has_key_id, has_format;
    uint64_t seq;
    enum audit_kind kind;
    uint64_t count; /* dropped: requests lost */
    uint64_t prev_seq;
    uint8_t prev_hmac[TEL_AUDIT_HMAC_LEN];
    uint8_t log[TEL_AUDIT_LOG_ID_LEN];
    uint8_t key_id[TEL_AUDIT_KEY_ID_LEN];
    int prev_end; /* enum audit_end, -1 if absent or unknown */
};

static int meta_uint(const struct mp_val *v, uint64_t *out)
{
    if (v->t == MP_UINT)
        *out = v->u;
    else if (v->t == MP_INT && v->i >= 0)
        *out = (uint64_t)v->i;
    else
        return -EBADMSG;
    return 0;
}

static int meta_bin(const struct mp_val *v, uint8_t *out, size_t n)
{
    if (v->t != MP_BIN || v->n != n)
        return -EBADMSG;
    memcpy(out, v->s, n);
    return 0;
}

/* Read the fields the verifier needs from a record's content (already bounds-checked by
 * tel_audit_frame_next). Unknown fields are skipped. */
static int audit_meta_parse(const uint8_t *content, size_t len, struct audit_meta *mt)
{
    static const char *const kinds[] = {"", "open", "request", "dropped", "rotate", "seal"};
    struct mp m = {.p = content, .end = content + len};
    struct mp_val map, k, v;
    int rc = mp_read(&m, &map);
    memset(mt, 0, sizeof(*mt));
    mt->prev_end = -1;
    if (rc != 0)
        return rc;
    if (map.t != MP_MAP)
        return -EBADMSG;
    for (uint64_t i = 0; i < map.u; i++) {
        if ((rc = mp_read(&m, &k)) != 0)
            return rc;
        if (k.t != MP_STR)
            return -EBADMSG;
        const uint8_t *val_at = m.p;
        if ((rc = mp_read(&m, &v)) != 0)
            return rc;
        if (v.t == MP_ARRAY || v.t == MP_MAP) {
            m.p = val_at;
            if ((rc = mp_skip(&m, 1)) != 0)
                return rc;
            continue;
        }
        if (v.t == MP_NIL) {
            continue; /* an absent value: prev_seq of a new log */
        } else if (mp_str_is(&k, "seq")) {
            rc = meta_uint(&v, &mt->seq);
            mt->has_seq = rc == 0;
        } else if (mp_str_is(&k, "kind")) {
            if (v.t != MP_STR)
                return -EBADMSG;
            mt->has_kind = true;
            mt->kind = AK_OTHER;
            for (size_t j = 1; j < sizeof(kinds) / sizeof(kinds[0]); j++) {
                if (mp_str_is(&v, kinds[j]))
                    mt->kind = (enum audit_kind)j;
            }
        } else if (mp_str_is(&k, "count")) {
            rc = meta_uint(&v, &mt->count);
        } else if (mp_str_is(&k, "prev_seq")) {
            rc = meta_uint(&v, &mt->prev_seq);
            mt->has_prev_seq = rc == 0;
        } else if (mp_str_is(&k, "prev_hmac")) {
            rc = meta_bin(&v, mt->prev_hmac, TEL_AUDIT_HMAC_LEN);
            mt->has_prev_hmac = rc == 0;
        } else if (mp_str_is(&k, "log")) {
            rc = meta_bin(&v, mt->log, TEL_AUDIT_LOG_ID_LEN);
            mt->has_log = rc == 0;
        } else if (mp_str_is(&k, "key_id")) {
            rc = meta_bin(&v, mt->key_id, TEL_AUDIT_KEY_ID_LEN);
            mt->has_key_id = rc == 0;
        } else if (mp_str_is(&k, "format")) {
            mt->has_format = mp_str_is(&v, AUDIT_FORMAT);
        } else if (mp_str_is(&k, "prev_end")) {
            for (size_t j = 0; j < sizeof(end_names) / sizeof(end_names[0]); j++) {
                if (mp_str_is(&v, end_names[j]))
                    mt->prev_end = (int)j;
            }
        }
        if (rc != 0)
            return rc;
    }
    if (!mt->has_seq || !mt->has_kind)
        return -EBADMSG;
    if (mt->kind == AK_OPEN && (!mt->has_format || !mt->has_log || !mt->has_key_id ||
                                !mt->has_prev_hmac || mt->prev_end < 0))
        return -EBADMSG;
    return 0;
}

/* ------------------------------------------------------------------ JSON lines */

static void json_str(FILE *out, const uint8_t *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\')
                fprintf(out, "\\%c", c);
            else if (c < 0x20 || c == 0x7f)
                fprintf(out, "\\u%04x", c);
            else
                fputc(c, out);
            i++;
            continue;
        }
        /* Copy a well-formed UTF-8 sequence, replace anything else by U+FFFD. */
        size_t len = c >= 0xc2 && c <= 0xdf   ? 2
                     : c >= 0xe0 && c <= 0xef ? 3
                     : c >= 0xf0 && c <= 0xf4 ? 4
                                              : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (s[i + k] & 0xc0) == 0x80;
        if (ok && len >= 3) {
            uint8_t c1 = s[i + 1];
            ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 > 0x9f) &&
                 !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 > 0x8f);
        }
        if (ok) {
            fwrite(s + i, 1, len, out);
            i += len;
        } else {
            fputs("\\ufffd", out);
            i++;
        }
    }
    fputc('"', out);
}

static void json_hex(FILE *out, const uint8_t *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", s[i]);
    fputc('"', out);
}

static void json_double(FILE *out, double d)
{
    char buf[40];
    if (!isfinite(d)) {
        fputs("null", out);
        return;
    }
    snprintf(buf, sizeof(buf), "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, sizeof(buf), "%.17g", d);
    fputs(buf, out);
}

static int json_value(FILE *out, struct mp *m, unsigned depth)
{
    struct mp_val v;
    int rc = mp_read(m, &v);
    if (rc != 0)
        return rc;
    switch (v.t) {
    case MP_NIL:
        fputs("null", out);
        break;
    case MP_BOOL:
        fputs(v.b ? "true" : "false", out);
        break;
    case MP_UINT:
        fprintf(out, "%" PRIu64, v.u);
        break;
    case MP_INT:
        fprintf(out, "%" PRId64, v.i);
        break;
    case MP_FLOAT:
        json_double(out, v.d);
        break;
    case MP_STR:
        json_str(out, v.s, v.n);
        break;
    case MP_BIN:
        json_hex(out, v.s, v.n);
        break;
    case MP_ARRAY:
    case MP_MAP:
        if (depth >= TEL_AUDIT_DEPTH_MAX)
            return -E2BIG;
        fputc(v.t == MP_ARRAY ? '[' : '{', out);
        for (uint64_t i = 0; i < v.u; i++) {
            if (i > 0)
                fputc(',', out);
            if (v.t == MP_MAP) {
                struct mp_val k;
                if ((rc = mp_read(m, &k)) != 0)
                    return rc;
                if (k.t != MP_STR)
                    return -EBADMSG;
                json_str(out, k.s, k.n);
                fputc(':', out);
            }
            if ((rc = json_value(out, m, depth + 1)) != 0)
                return rc;
        }
        fputc(v.t == MP_ARRAY ? ']' : '}', out);
        break;
    }
    return 0;
}

int tel_audit_frame_print_json(FILE *out, const struct tel_audit_frame *fr)
{
    struct mp m = {.p = fr->content, .end = fr->content + fr->content_len};
    struct mp_val map, k;
    int rc = mp_read(&m, &map);
    if (rc != 0 || map.t != MP_MAP)
        return -EBADMSG;
    fputc('{', out);
    for (uint64_t i = 0; i < map.u; i++) {
        if ((rc = mp_read(&m, &k)) != 0 || k.t != MP_STR)
            return -EBADMSG;
        json_str(out, k.s, k.n);
        fputc(':', out);
        if ((rc = json_value(out, &m, 1)) != 0)
            return -EBADMSG;
        fputc(',', out);
    }
    fputs("\"hmac\":", out);
    json_hex(out, fr->hmac, TEL_AUDIT_HMAC_LEN);
    fputs("}\n", out);
    return 0;
}

/* ------------------------------------------------------------------ files */

int tel_audit_map(const char *path, struct tel_audit_input *in)
{
    struct stat st;
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    in->name = path;
    in->data = NULL;
    in->len = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            rc = -errno;
            goto out;
        }
        in->data = p;
        in->len = (size_t)st.st_size;
    }
out:
    close(fd);
    return rc;
}

void tel_audit_unmap(struct tel_audit_input *in)
{
    if (in == NULL || in->data == NULL)
        return;
    munmap((void *)in->data, in->len);
    in->data = NULL;
    in->len = 0;
}

/* ------------------------------------------------------------------ verification */

const char *tel_audit_fault_name(enum tel_audit_fault f)
{
    static const char *const names[] = {"ok",        "changed", "missing",   "reordered",
                                        "truncated", "spliced", "malformed", "wrong key"};
    return (unsigned)f < sizeof(names) / sizeof(names[0]) ? names[f] : "?";
}

struct vfile {
    const struct tel_audit_input *in;
    size_t idx; /* in the caller's array */
    struct tel_audit_frame open;
    struct audit_meta om;
};

struct verifier {
    const void *key;
    size_t keylen;
    uint8_t key_id[TEL_AUDIT_KEY_ID_LEN];
    uint8_t *scratch;
    struct tel_audit_result *res;
    /* chain */
    uint8_t prev[TEL_AUDIT_HMAC_LEN];
    uint64_t next_seq;
    /* the file verified last */
    const struct vfile *pf;
    enum audit_end p_end;
    uint64_t p_last_seq, p_records;
    uint8_t p_last_hmac[TEL_AUDIT_HMAC_LEN];
    size_t p_end_off;
};

static int vfault(struct verifier *v, const struct vfile *f, enum tel_audit_fault fault,
                  uint64_t index, uint64_t seq, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static int vfault(struct verifier *v, const struct vfile *f, enum tel_audit_fault fault,
                  uint64_t index, uint64_t seq, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    struct tel_audit_result *r = v->res;
    r->fault = fault;
    r->file = f->idx;
    r->index = index;
    r->seq = seq;
    r->offset = offset;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    return 1;
}

static bool frame_authentic(struct verifier *v, const struct tel_audit_frame *fr,
                            const uint8_t prev[TEL_AUDIT_HMAC_LEN])
{
    uint8_t h[TEL_AUDIT_HMAC_LEN];
    audit_chain_hmac(v->key, v->keylen, fr->content, fr->content_len, prev, v->scratch, h);
    return hmac_equal(h, fr->hmac);
}

static const char *frame_err(int rc)
{
    return rc == -E2BIG ? "exceeds a reader limit" : "is not an audit record";
}

/* Check a file's first record on its own: it carries the chain value it continues from. */
static int verify_open(struct verifier *v, struct vfile *f)
{
    size_t off = 0;
    int rc = tel_audit_frame_next(f->in->data, f->in->len, &off, &f->open);
    if (rc == 0)
        return vfault(v, f, TEL_AUDIT_FAULT_TRUNCATED, 0, 0, 0, "the file is empty");
    if (rc == -ENODATA)
        return vfault(v, f, TEL_AUDIT_FAULT_TRUNCATED, 0, 0, 0,
                      "the file ends inside its first record");
    if (rc < 0)
        return vfault(v, f, TEL_AUDIT_FAULT_MALFORMED, 0, 0, 0, "the first record %s",
                      frame_err(rc));
    if (audit_meta_parse(f->open.content, f->open.content_len, &f->om) != 0)
        return vfault(v, f, TEL_AUDIT_FAULT_CHANGED, 0, 0, 0,
                      "the first record is unreadable (changed, or not an audit log)");
    if (f->om.kind != AK_OPEN)
        return vfault(v, f, TEL_AUDIT_FAULT_MISSING, 0, f->om.seq, 0,
                      "the file does not start with its open record (seq %" PRIu64
                      " is first): records were removed from its start",
                      f->om.seq);
    if (!frame_authentic(v, &f->open, f->om.prev_hmac)) {
        if (memcmp(f->om.key_id, v->key_id, TEL_AUDIT_KEY_ID_LEN) != 0)
            return vfault(v, f, TEL_AUDIT_FAULT_KEY, 0, f->om.seq, 0,
                          "the log was written with another key (or its open record was "
                          "changed)");
        return vfault(v, f, TEL_AUDIT_FAULT_CHANGED, 0, f->om.seq, 0,
                      "open record: HMAC does not match: the record was changed");
    }
    bool genesis = !f->om.has_prev_seq;
    if ((genesis && (f->om.seq != 0 || !hmac_equal(f->om.prev_hmac, zero_hmac) ||
                     f->om.prev_end != AE_NONE)) ||
        (!genesis && (f->om.seq != f->om.prev_seq + 1 || f->om.prev_end == AE_NONE)))
        return vfault(v, f, TEL_AUDIT_FAULT_MALFORMED, 0, f->om.seq, 0,
                      "open record: inconsistent sequence fields");
    return 0;
}

/* A record at index i fails its HMAC: say whether it was changed, is out of order, or
 * follows missing records. */
static int classify(struct verifier *v, const struct vfile *f, const struct tel_audit_frame *fr,
                    uint64_t i, size_t next_off)
{
    struct audit_meta mt;
    uint64_t e = v->next_seq;
    if (audit_meta_parse(fr->content, fr->content_len, &mt) != 0)
        return vfault(v, f, TEL_AUDIT_FAULT_CHANGED, i, e, fr->offset,
                      "record unreadable: it was changed");
    if (mt.seq == e)
        return vfault(v, f, TEL_AUDIT_FAULT_CHANGED, i, e, fr->offset,
                      "HMAC does not match: the record was changed or comes from another log");
    if (mt.seq < e)
        return vfault(v, f, TEL_AUDIT_FAULT_REORDERED, i, mt.seq, fr->offset,
                      "seq %" PRIu64 " where %" PRIu64 " was expected: the record is repeated "
                      "or out of order",
                      mt.seq, e);
    /* Is the expected record further on? Then records were swapped, not removed. */
    size_t off = next_off;
    struct tel_audit_frame g;
    for (uint64_t j = i + 1; j <= i + AUDIT_LOOKAHEAD; j++) {
        if (tel_audit_frame_next(f->in->data, f->in->len, &off, &g) != 1)
            break;
        if (frame_authentic(v, &g, v->prev))
            return vfault(v, f, TEL_AUDIT_FAULT_REORDERED, i, e, fr->offset,
                          "seq %" PRIu64 " where %" PRIu64 " was expected, which is at index "
                          "%" PRIu64 ": records are out of order",
                          mt.seq, e, j);
    }
    return vfault(v, f, TEL_AUDIT_FAULT_MISSING, i, e, fr->offset,
                  "seq %" PRIu64 " where %" PRIu64 " was expected: %" PRIu64
                  " record(s) missing (or this record was changed)",
                  mt.seq, e, mt.seq - e);
}

/* Join file f to the file verified before it. */
static int verify_join(struct verifier *v, const struct vfile *f)
{
    const struct vfile *p = v->pf;
    const struct audit_meta *om = &f->om;
    if (memcmp(om->log, p->om.log, TEL_AUDIT_LOG_ID_LEN) != 0)
        return vfault(v, f, TEL_AUDIT_FAULT_SPLICED, 0, om->seq, 0,
                      "belongs to another log than %s", p->in->name);
    if (!om->has_prev_seq)
        return vfault(v, f, TEL_AUDIT_FAULT_SPLICED, 0, om->seq, 0,
                      "starts the log anew, yet %s comes before it", p->in->name);
    if (om->prev_seq > v->p_last_seq) {
        bool cut = v->p_end != AE_ROTATE && v->p_end != AE_SEAL;
        return vfault(v, p, cut ? TEL_AUDIT_FAULT_TRUNCATED : TEL_AUDIT_FAULT_MISSING, v->p_records,
                      v->p_last_seq + 1, v->p_end_off,
                      "records seq %" PRIu64 "..%" PRIu64 " missing: this file ends at seq "
                      "%" PRIu64 ", %s continues from seq %" PRIu64 "%s",
                      v->p_last_seq + 1, om->prev_seq, v->p_last_seq, f->in->name, om->prev_seq,
                      cut ? " (the file was cut)" : " (a file is missing)");
    }
    if (om->prev_seq < v->p_last_seq)
        return vfault(v, f, TEL_AUDIT_FAULT_SPLICED, 0, om->seq, 0,
                      "continues from seq %" PRIu64 ", but %s goes on to seq %" PRIu64
                      ": the files do not belong to one chain",
                      om->prev_seq, p->in->name, v->p_last_seq);
    if (!hmac_equal(om->prev_hmac, v->p_last_hmac))
        return vfault(v, f, TEL_AUDIT_FAULT_SPLICED, 0, om->seq, 0,
                      "does not continue %s: the chain values differ", p->in->name);
    if (om->prev_end != (int)v->p_end) {
        if (v->p_end == AE_TORN)
            return vfault(v, p, TEL_AUDIT_FAULT_CHANGED, v->p_records, v->p_last_seq + 1,
                          v->p_end_off,
                          "bytes after the last record that %s does not "
                          "account for: they were added",
                          f->in->name);
        return vfault(v, p, TEL_AUDIT_FAULT_TRUNCATED, v->p_records, v->p_last_seq + 1,
                      v->p_end_off, "%s records that this file ended '%s', it ends '%s'",
                      f->in->name, end_names[om->prev_end], end_names[v->p_end]);
    }
    return 0;
}

static int verify_file(struct verifier *v, const struct vfile *f)
{
    struct tel_audit_result *r = v->res;
    struct tel_audit_frame fr;
    struct audit_meta mt;
    enum audit_kind last = AK_OTHER;
    size_t off = 0;
    uint64_t i = 0;
    int rc;
    memcpy(v->prev, f->om.prev_hmac, TEL_AUDIT_HMAC_LEN);
    v->next_seq = f->om.seq;
    v->p_end = AE_UNSEALED;
    for (;; i++) {
        size_t at = off;
        rc = tel_audit_frame_next(f->in->data, f->in->len, &off, &fr);
        if (rc == 0)
            break;
        if (rc == -ENODATA) {
            v->p_end = AE_TORN;
            v->p_end_off = at;
            break;
        }
        if (rc < 0)
            return vfault(v, f, TEL_AUDIT_FAULT_CHANGED, i, v->next_seq, at,
                          "the record %s: it was changed", frame_err(rc));
        if (!frame_authentic(v, &fr, v->prev))
            return classify(v, f, &fr, i, off);
        if (audit_meta_parse(fr.content, fr.content_len, &mt) != 0 || mt.seq != v->next_seq ||
            (i > 0 && mt.kind == AK_OPEN))
            return vfault(v, f, TEL_AUDIT_FAULT_MALFORMED, i, v->next_seq, at,
                          "the record is authentic but not well formed (writer fault)");
        if (last == AK_SEAL || last == AK_ROTATE)
            return vfault(v, f, TEL_AUDIT_FAULT_MALFORMED, i, v->next_seq, at,
                          "a record after the file's %s record",
                          last == AK_SEAL ? "seal" : "rotate");
        if (mt.kind == AK_DROPPED)
            r->dropped += mt.count;
        last = mt.kind;
        memcpy(v->prev, fr.hmac, TEL_AUDIT_HMAC_LEN);
        r->last_seq = v->next_seq++;
        r->records++;
    }
    if (v->p_end != AE_TORN) {
        v->p_end = last == AK_SEAL ? AE_SEAL : last == AK_ROTATE ? AE_ROTATE : AE_UNSEALED;
        v->p_end_off = off;
    }
    v->pf = f;
    v->p_records = i;
    v->p_last_seq = v->next_seq - 1;
    memcpy(v->p_last_hmac, v->prev, TEL_AUDIT_HMAC_LEN);
    return 0;
}

static int vfile_cmp(const void *a, const void *b)
{
    const struct vfile *x = a, *y = b;
    if (x->om.seq != y->om.seq)
        return x->om.seq < y->om.seq ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int tel_audit_verify(const struct tel_audit_input *files, size_t n, const void *key, size_t keylen,
                     unsigned flags, struct tel_audit_result *res)
{
    struct verifier v = {.key = key, .keylen = keylen, .res = res};
    struct vfile *fs = NULL;
    int rc = 0;
    if (files == NULL || n == 0 || key == NULL || keylen == 0 || res == NULL)
        return -EINVAL;
    memset(res, 0, sizeof(*res));
    fs = calloc(n, sizeof(*fs));
    v.scratch = malloc(TEL_AUDIT_RECORD_MAX + TEL_AUDIT_HMAC_LEN);
    if (fs == NULL || v.scratch == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    audit_key_id(key, keylen, v.key_id);
    for (size_t k = 0; k < n; k++) {
        fs[k].in = &files[k];
        fs[k].idx = k;
        if ((rc = verify_open(&v, &fs[k])) != 0)
            goto out;
    }
    qsort(fs, n, sizeof(*fs), vfile_cmp);
    res->first_seq = fs[0].om.seq;
    res->continues_previous = fs[0].om.has_prev_seq;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && (rc = verify_join(&v, &fs[k])) != 0)
            goto out;
        if ((rc = verify_file(&v, &fs[k])) != 0)
            goto out;
    }
    const struct vfile *lf = &fs[n - 1];
    if (v.p_end == AE_TORN) {
        rc = vfault(&v, lf, TEL_AUDIT_FAULT_TRUNCATED, v.p_records, v.next_seq, v.p_end_off,
                    "the file ends inside a record (%zu bytes): it was cut, or the writer "
                    "stopped in the middle of a write",
                    lf->in->len - v.p_end_off);
        goto out;
    }
    if (v.p_end == AE_UNSEALED && !(flags & TEL_AUDIT_VERIFY_F_UNSEALED)) {
        rc = vfault(&v, lf, TEL_AUDIT_FAULT_TRUNCATED, v.p_records, v.next_seq, v.p_end_off,
                    "no seal record after seq %" PRIu64 ": the file was cut at a record "
                    "boundary, or the writer is still running or stopped uncleanly",
                    v.p_last_seq);
        goto out;
    }
    res->sealed = v.p_end == AE_SEAL;
    res->continues_next = v.p_end == AE_ROTATE;
    snprintf(res->msg, sizeof(res->msg),
             "%" PRIu64 " records, seq %" PRIu64 "..%" PRIu64 " in %zu file(s), %s%s%s",
             res->records, res->first_seq, res->last_seq, n,
             res->sealed           ? "sealed"
             : res->continues_next ? "continued in a later file (not given)"
                                   : "not sealed (accepted)",
             res->continues_previous ? "; continues an earlier file (not given)" : "",
             res->dropped ? "; the writer dropped requests (see 'dropped' records)" : "");
out:
    free(fs);
    free(v.scratch);
    return rc;
}

/* ------------------------------------------------------------------ writer */

struct audit_buf {
    uint8_t *p;
    size_t len, cap;
    bool full; /* a write did not fit: the bytes are incomplete */
};

/* msgpack-c write callback into a fixed buffer; fails rather than grow. */
static int audit_buf_write(void *data, const char *buf, size_t len)
{
    struct audit_buf *b = data;
    if (b->full || len > b->cap - b->len) {
        b->full = true;
        return -1;
    }
    memcpy(b->p + b->len, buf, len);
    b->len += len;
    return 0;
}

struct audit_slot {
    _Atomic size_t turn; /* Vyukov's bounded queue: the position this slot is ready for */
    uint32_t len;        /* packed bytes; 0: the request did not fit (counted as dropped) */
    uint32_t pairs;      /* key/value pairs packed */
    uint8_t buf[AUDIT_SLOT_BYTES];
};

struct tel_audit {
    char *path;
    uint8_t key[TEL_AUDIT_KEY_MAX];
    size_t keylen;
    uint8_t key_id[TEL_AUDIT_KEY_ID_LEN];
    uint8_t log_id[TEL_AUDIT_LOG_ID_LEN];
    struct tel_audit_opts opts;
    char host[64];

    /* queue: many producers, the writer thread consumes */
    struct audit_slot *slots;
    size_t mask;
    _Atomic size_t head;
    _Atomic size_t tail;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic bool sleeping;
    _Atomic bool stop;

    _Atomic uint64_t drop_pending; /* requests lost since the last "dropped" record */
    _Atomic uint64_t n_written, n_dropped, n_rotated, n_errors;
    int first_error;

    /* writer thread only */
    int fd;
    uint64_t file_bytes, file_records;
    uint64_t seq;
    uint8_t prev[TEL_AUDIT_HMAC_LEN];
    uint64_t committed_seq; /* chain state of the last byte on disk */
    uint8_t committed_prev[TEL_AUDIT_HMAC_LEN];
    uint64_t committed_records;
    struct audit_buf batch;
    uint64_t batch_requests;    /* requests in the batch: dropped if it cannot be written */
    uint64_t batch_carried;     /* the count of its "dropped" record, carried over if so */
    enum audit_end pending_end; /* how the old file ended when no new one could be opened */
    msgpack_packer pk;
    size_t frame_start, content_start;
};

static void pack_key(msgpack_packer *pk, const char *k)
{
    msgpack_pack_str_with_body(pk, k, strlen(k));
}

/* Strings are cut at max bytes, on a UTF-8 character boundary. */
static void pack_str(msgpack_packer *pk, const char *s, size_t max)
{
    size_t n = s ? strnlen(s, max + 1) : 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((uint8_t)s[n] & 0xc0) == 0x80)
            n--;
    }
    msgpack_pack_str_with_body(pk, s ? s : "", n);
}

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *s)
{
    pack_key(pk, k);
    pack_str(pk, s, TEL_AUDIT_FIELD_MAX);
}

static void pack_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
    pack_key(pk, k);
    msgpack_pack_int64(pk, v);
}

/* Pack a request's key/value pairs (no map header: the writer adds it with "seq").
 * reduced: drop the lists, for a record that did not fit. Returns pairs or -1. */
static int audit_pack_request(struct audit_buf *b, const struct tel_audit_record *r, bool reduced)
{
    static const char *const verdicts[] = {"none", "pass", "warn", "block"};
    static const char *const outputs[] = {"none", "pass", "redact", "block"};
    static const char *const schemas[] = {"none", "valid", "invalid", "unchecked"};
    msgpack_packer pk;
    int pairs = 0;
    char path[TEL_AUDIT_FIELD_MAX + 2];
    b->len = 0;
    b->full = false;
    msgpack_packer_init(&pk, b, audit_buf_write);
#define KV(stmt) (stmt, pairs++)
    KV(pack_kv_str(&pk, "kind", "request"));
    KV(pack_kv_int(&pk, "t", r->time_ns ? r->time_ns : now_ns()));
    KV(pack_kv_str(&pk, "id", r->request_id));
    KV(pack_kv_str(&pk, "trace_id", r->trace_id));
    KV(pack_kv_str(&pk, "tenant", r->tenant));
    KV(pack_kv_str(&pk, "route", r->route));
    KV(pack_kv_str(&pk, "method", r->method));
    /* A query string may carry a key (?key=...): only the path is kept. */
    size_t pl = r->path ? strcspn(r->path, "?#") : 0;
    if (pl > TEL_AUDIT_FIELD_MAX + 1)
        pl = TEL_AUDIT_FIELD_MAX + 1; /* pack_str cuts it on a character boundary */
    memcpy(path, r->path ? r->path : "", pl);
    path[pl] = '\0';
    KV(pack_kv_str(&pk, "path", path));
    KV(pack_kv_str(&pk, "client", r->client));
    KV(pack_kv_str(&pk, "upstream", r->upstream));
    KV(pack_kv_str(&pk, "model", r->model));
    pack_key(&pk, "stream");
    KV(r->stream ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk));
    KV(pack_kv_str(&pk, "verdict",
                   verdicts[(unsigned)r->prompt_verdict < 4 ? r->prompt_verdict : 0]));
    pack_key(&pk, "score");
    KV(msgpack_pack_double(&pk, r->prompt_score));
    size_t nr = reduced ? 0 : r->n_prompt_rules,
           nrw = nr < TEL_AUDIT_LIST_MAX ? nr : TEL_AUDIT_LIST_MAX;
    pack_key(&pk, "rules");
    msgpack_pack_array(&pk, nrw);
    for (size_t i = 0; i < nrw; i++)
        pack_str(&pk, r->prompt_rules[i], TEL_AUDIT_ID_MAX);
    pairs++;
    if (r->n_prompt_rules > nrw)
        KV(pack_kv_int(&pk, "rules_omitted", (int64_t)(r->n_prompt_rules - nrw)));
    KV(pack_kv_str(&pk, "output", outputs[(unsigned)r->output_action < 4 ? r->output_action : 0]));
    size_t nf = reduced ? 0 : r->n_findings,
           nfw = nf < TEL_AUDIT_LIST_MAX ? nf : TEL_AUDIT_LIST_MAX;
    pack_key(&pk, "findings");
    msgpack_pack_map(&pk, nfw);
    for (size_t i = 0; i < nfw; i++) {
        pack_str(&pk, r->findings[i].type, TEL_AUDIT_ID_MAX);
        msgpack_pack_uint32(&pk, r->findings[i].count);
    }
    pairs++;
    if (r->n_findings > nfw)
        KV(pack_kv_int(&pk, "findings_omitted", (int64_t)(r->n_findings - nfw)));
    KV(pack_kv_str(&pk, "schema", schemas[(unsigned)r->schema < 4 ? r->schema : 0]));
    KV(pack_kv_int(&pk, "status", r->status));
    if (r->error && r->error[0])
        KV(pack_kv_str(&pk, "error", r->error));
    KV(pack_kv_int(&pk, "tokens_in", r->tokens_in));
    KV(pack_kv_int(&pk, "tokens_out", r->tokens_out));
    KV(pack_kv_int(&pk, "total_ns", r->total_ns));
    KV(pack_kv_int(&pk, "upstream_ns", r->upstream_ns));
    KV(pack_kv_int(&pk, "overhead_ns", r->overhead_ns));
    if (reduced) {
        pack_key(&pk, "truncated");
        KV(msgpack_pack_true(&pk));
    }
#undef KV
    return b->full ? -1 : pairs;
}

int tel_audit_write(struct tel_audit *a, const struct tel_audit_record *rec)
{
    if (a == NULL || rec == NULL)
        return -EINVAL;
    size_t pos = atomic_load_explicit(&a->head, memory_order_relaxed);
    struct audit_slot *s;
    for (;;) {
        s = &a->slots[pos & a->mask];
        size_t turn = atomic_load_explicit(&s->turn, memory_order_acquire);
        intptr_t diff = (intptr_t)turn - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&a->head, &pos, pos + 1, memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            atomic_fetch_add_explicit(&a->drop_pending, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&a->n_dropped, 1, memory_order_relaxed);
            return 1;
        } else {
            pos = atomic_load_explicit(&a->head, memory_order_relaxed);
        }
    }
    struct audit_buf b = {.p = s->buf, .cap = sizeof(s->buf)};
    int pairs = audit_pack_request(&b, rec, false);
    if (pairs < 0)
        pairs = audit_pack_request(&b, rec, true);
    s->len = pairs < 0 ? 0 : (uint32_t)b.len;
    s->pairs = pairs < 0 ? 0 : (uint32_t)pairs;
    atomic_store_explicit(&s->turn, pos + 1, memory_order_release);
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&a->sleeping, memory_order_relaxed)) {
        pthread_mutex_lock(&a->mu);
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
    }
    return 0;
}

/* Start a record in the batch: [ {"seq": N, <pairs> ...}, hmac ]. */
static void frame_begin(struct tel_audit *a, size_t pairs)
{
    a->frame_start = a->batch.len;
    a->batch.p[a->batch.len++] = AUDIT_FRAME_HEAD;
    a->content_start = a->batch.len;
    msgpack_pack_map(&a->pk, pairs + 1);
    pack_key(&a->pk, "seq");
    msgpack_pack_uint64(&a->pk, a->seq);
}

/* Close the record: chain it and append its HMAC. prev is appended after the content so the
 * HMAC input is contiguous, then overwritten by the bin header and the HMAC. */
static void frame_end(struct tel_audit *a)
{
    uint8_t h[TEL_AUDIT_HMAC_LEN];
    size_t content_len = a->batch.len - a->content_start;
    memcpy(a->batch.p + a->batch.len, a->prev, TEL_AUDIT_HMAC_LEN);
    tel_hmac_sha256(a->key, a->keylen, a->batch.p + a->content_start,
                    content_len + TEL_AUDIT_HMAC_LEN, h);
    memcpy(a->batch.p + a->batch.len, AUDIT_HMAC_HEAD, 2);
    memcpy(a->batch.p + a->batch.len + 2, h, TEL_AUDIT_HMAC_LEN);
    a->batch.len += 2 + TEL_AUDIT_HMAC_LEN;
    memcpy(a->prev, h, TEL_AUDIT_HMAC_LEN);
    a->seq++;
    a->file_records++;
}

static void audit_error(struct tel_audit *a, int err)
{
    atomic_fetch_add_explicit(&a->n_errors, 1, memory_order_relaxed);
    if (a->first_error == 0)
        a->first_error = err;
}

/* Append the batch to the file and sync it. On failure the file is cut back to the last
 * record on disk, the chain resumes from there, and the requests of the batch are counted
 * as dropped (the next batch starts with a "dropped" record). */
static int audit_flush(struct tel_audit *a)
{
    int rc = 0;
    size_t done = 0;
    if (a->batch.len == 0)
        return 0;
    while (done < a->batch.len) {
        ssize_t w = write(a->fd, a->batch.p + done, a->batch.len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -EIO;
            break;
        }
        done += (size_t)w;
    }
    if (rc == 0 && !a->opts.no_sync && fdatasync(a->fd) != 0)
        rc = -errno; /* the bytes may or may not be on disk: nothing to roll back safely */
    if (rc != 0 && done < a->batch.len) {
        if (ftruncate(a->fd, (off_t)a->file_bytes) != 0)
            audit_error(a, -errno);
        a->seq = a->committed_seq;
        memcpy(a->prev, a->committed_prev, TEL_AUDIT_HMAC_LEN);
        a->file_records = a->committed_records;
        atomic_fetch_add_explicit(&a->drop_pending, a->batch_requests + a->batch_carried,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&a->n_dropped, a->batch_requests, memory_order_relaxed);
    } else {
        a->file_bytes += a->batch.len;
        atomic_fetch_add_explicit(&a->n_written, a->file_records - a->committed_records,
                                  memory_order_relaxed);
        a->committed_seq = a->seq;
        memcpy(a->committed_prev, a->prev, TEL_AUDIT_HMAC_LEN);
        a->committed_records = a->file_records;
    }
    if (rc != 0)
        audit_error(a, rc);
    a->batch.len = 0;
    a->batch.full = false;
    a->batch_requests = 0;
    a->batch_carried = 0;
    return rc;
}

static void pack_own_header(struct tel_audit *a, const char *kind, size_t pairs)
{
    frame_begin(a, pairs + 2);
    pack_kv_str(&a->pk, "kind", kind);
    pack_kv_int(&a->pk, "t", now_ns());
}

static void audit_add_dropped(struct tel_audit *a, uint64_t n)
{
    pack_own_header(a, "dropped", 1);
    pack_key(&a->pk, "count");
    msgpack_pack_uint64(&a->pk, n);
    frame_end(a);
    a->batch_carried += n;
}

/* "rotate" or "seal": the last record of a file. */
static void audit_add_end(struct tel_audit *a, const char *kind)
{
    bool seal = strcmp(kind, "seal") == 0;
    pack_own_header(a, kind, seal ? 2 : 1);
    pack_key(&a->pk, "records");
    msgpack_pack_uint64(&a->pk, a->file_records + 1);
    if (seal) {
        pack_key(&a->pk, "dropped_total");
        msgpack_pack_uint64(&a->pk, atomic_load(&a->n_dropped));
    }
    frame_end(a);
}

static int fsync_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    int rc = 0;
    if (slash == NULL)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == path)
        snprintf(dir, sizeof(dir), "/");
    else
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

static void rotated_name(char *out, size_t cap, const char *path, unsigned i)
{
    snprintf(out, cap, "%s.%u", path, i);
}

/* path.(k) -> path.(k+1) from the oldest kept down, then path -> path.1. With keep > 0 the
 * file at path.keep is replaced (deleted); with keep 0 nothing is. */
static int audit_shift(const char *path, unsigned keep)
{
    char from[4200], to[4200];
    struct stat st;
    unsigned top = keep;
    if (keep == 0) {
        for (top = 1; top < 1000000; top++) {
            rotated_name(from, sizeof(from), path, top);
            if (stat(from, &st) != 0)
                break;
        }
    }
    for (unsigned i = top > 0 ? top - 1 : 0; i >= 1; i--) {
        rotated_name(from, sizeof(from), path, i);
        rotated_name(to, sizeof(to), path, i + 1);
        if (rename(from, to) != 0 && errno != ENOENT)
            return -errno;
    }
    rotated_name(to, sizeof(to), path, 1);
    if (rename(path, to) != 0)
        return -errno;
    return 0;
}

/* Create the file at path and write its open record. */
static int audit_file_start(struct tel_audit *a, const char *cause, enum audit_end prev_end,
                            bool has_prev)
{
    int rc = 0;
    uint64_t seq0 = a->seq;
    a->fd = open(a->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (a->fd < 0)
        return -errno;
    a->file_bytes = 0;
    a->file_records = 0;
    a->committed_records = 0;
    pack_own_header(a, "open", 9);
    pack_kv_str(&a->pk, "format", AUDIT_FORMAT);
    pack_key(&a->pk, "log");
    msgpack_pack_bin_with_body(&a->pk, a->log_id, TEL_AUDIT_LOG_ID_LEN);
    pack_key(&a->pk, "key_id");
    msgpack_pack_bin_with_body(&a->pk, a->key_id, TEL_AUDIT_KEY_ID_LEN);
    pack_kv_str(&a->pk, "cause", cause);
    pack_key(&a->pk, "prev_seq");
    if (has_prev)
        msgpack_pack_uint64(&a->pk, a->seq - 1);
    else
        msgpack_pack_nil(&a->pk);
    pack_key(&a->pk, "prev_hmac");
    msgpack_pack_bin_with_body(&a->pk, a->prev, TEL_AUDIT_HMAC_LEN);
    pack_kv_str(&a->pk, "prev_end", end_names[prev_end]);
    pack_kv_str(&a->pk, "host", a->host);
    pack_kv_int(&a->pk, "pid", (int64_t)getpid());
    frame_end(a);
    rc = audit_flush(a);
    if (a->seq == seq0) {
        /* Not written (rolled back): remove the empty file so that a retry can create it. */
        close(a->fd);
        a->fd = -1;
        unlink(a->path);
        return rc != 0 ? rc : -EIO;
    }
    /* Written; a failed sync is counted by audit_flush and reported by tel_audit_close. */
    if ((rc = fsync_dir(a->path)) != 0)
        audit_error(a, rc);
    return 0;
}

/* End the current file with a rotate record, move it to path.1 and start a new file. */
static int audit_rotate(struct tel_audit *a)
{
    int rc = audit_flush(a);
    if (rc != 0)
        return rc;
    if ((rc = audit_shift(a->path, a->opts.keep)) != 0) {
        audit_error(a, rc);
        return rc; /* keep writing to the current file; try again at the next batch */
    }
    uint64_t seq0 = a->seq;
    audit_add_end(a, "rotate");
    audit_flush(a);
    close(a->fd);
    a->fd = -1;
    atomic_fetch_add_explicit(&a->n_rotated, 1, memory_order_relaxed);
    /* If the rotate record was not written (rolled back), the old file ends unsealed. */
    a->pending_end = a->seq == seq0 + 1 ? AE_ROTATE : AE_UNSEALED;
    rc = audit_file_start(a, "rotate", a->pending_end, true);
    if (rc != 0)
        audit_error(a, rc);
    return rc;
}

/* Make room for a record of about `need` bytes: rotate if the file would exceed max_bytes.
 * A file always takes at least one request, whatever its size limit. */
static void audit_room(struct tel_audit *a, size_t need)
{
    if (a->fd >= 0 && a->opts.max_bytes > 0 && a->file_records > 1 &&
        a->file_bytes + a->batch.len + need + AUDIT_OWN_MAX > a->opts.max_bytes)
        audit_rotate(a);
}

/* No file to write to: take the queued records, counting them as dropped. */
static size_t audit_discard(struct tel_audit *a)
{
    size_t n = 0, t = atomic_load_explicit(&a->tail, memory_order_relaxed);
    for (;; t++, n++) {
        struct audit_slot *s = &a->slots[t & a->mask];
        if (atomic_load_explicit(&s->turn, memory_order_acquire) != t + 1)
            break;
        atomic_store_explicit(&s->turn, t + a->mask + 1, memory_order_release);
    }
    atomic_store_explicit(&a->tail, t, memory_order_relaxed);
    atomic_fetch_add(&a->n_dropped, n);
    atomic_fetch_add(&a->drop_pending, n);
    return n;
}

/* Consume up to a batch of queued records, write and sync them. Returns records taken. */
static size_t audit_drain(struct tel_audit *a)
{
    size_t n = 0;
    /* The last rotation could not open a new file: try again. */
    if (a->fd < 0 && audit_file_start(a, "rotate", a->pending_end, true) != 0)
        return audit_discard(a);
    uint64_t dropped = atomic_exchange(&a->drop_pending, 0);
    if (dropped > 0) {
        audit_room(a, AUDIT_OWN_MAX);
        if (a->fd < 0) {
            atomic_fetch_add(&a->drop_pending, dropped);
            return audit_discard(a);
        }
        audit_add_dropped(a, dropped);
        n++;
    }
    size_t t = atomic_load_explicit(&a->tail, memory_order_relaxed);
    while (n < AUDIT_BATCH_MAX && a->batch.len < AUDIT_BATCH_BYTES) {
        struct audit_slot *s = &a->slots[t & a->mask];
        if (atomic_load_explicit(&s->turn, memory_order_acquire) != t + 1)
            break;
        if (s->len == 0) {
            atomic_fetch_add(&a->n_dropped, 1);
            atomic_fetch_add(&a->drop_pending, 1);
        } else {
            audit_room(a, s->len + AUDIT_FRAME_EXTRA);
            if (a->fd < 0)
                break; /* rotation failed: the slot stays queued */
            frame_begin(a, s->pairs);
            memcpy(a->batch.p + a->batch.len, s->buf, s->len);
            a->batch.len += s->len;
            frame_end(a);
            a->batch_requests++;
        }
        atomic_store_explicit(&s->turn, t + a->mask + 1, memory_order_release);
        atomic_store_explicit(&a->tail, ++t, memory_order_relaxed);
        n++;
    }
    if (a->fd >= 0)
        audit_flush(a);
    return n;
}

static bool queue_empty(struct tel_audit *a)
{
    size_t t = atomic_load_explicit(&a->tail, memory_order_relaxed);
    return atomic_load_explicit(&a->slots[t & a->mask].turn, memory_order_acquire) != t + 1;
}

static void *audit_thread(void *arg)
{
    struct tel_audit *a = arg;
    for (;;) {
        bool stop = atomic_load(&a->stop);
        if ((!a->opts.paused || stop) && audit_drain(a) > 0)
            continue;
        if (stop)
            break;
        pthread_mutex_lock(&a->mu);
        atomic_store(&a->sleeping, true);
        atomic_thread_fence(memory_order_seq_cst);
        if (!atomic_load(&a->stop) && (a->opts.paused || queue_empty(a))) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += (long)(a->opts.flush_ms % 1000) * 1000000;
            ts.tv_sec += a->opts.flush_ms / 1000 + ts.tv_nsec / 1000000000;
            ts.tv_nsec %= 1000000000;
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        atomic_store(&a->sleeping, false);
        pthread_mutex_unlock(&a->mu);
    }
    if (a->fd >= 0) {
        audit_add_end(a, "seal");
        audit_flush(a);
    }
    return NULL;
}

/* What the previous file of this log says about where to continue. */
struct audit_prev {
    bool found;
    uint64_t last_seq;
    uint8_t last_hmac[TEL_AUDIT_HMAC_LEN];
    uint8_t log_id[TEL_AUDIT_LOG_ID_LEN];
    enum audit_end end;
};

/* Read a previous file: 1 with the continuation point, 0 when it has no complete record,
 * -EBADMSG, -EKEYREJECTED, -errno. HMACs are not checked here: verify does that. */
static int audit_scan_prev(const char *path, const uint8_t key_id[TEL_AUDIT_KEY_ID_LEN],
                           struct audit_prev *pv)
{
    struct tel_audit_input in;
    struct tel_audit_frame fr;
    struct audit_meta mt;
    enum audit_kind last = AK_OTHER;
    size_t off = 0;
    int rc = tel_audit_map(path, &in);
    if (rc != 0)
        return rc;
    for (uint64_t i = 0;; i++) {
        rc = tel_audit_frame_next(in.data, in.len, &off, &fr);
        if (rc == 0 || rc == -ENODATA) {
            pv->end = rc == -ENODATA      ? AE_TORN
                      : last == AK_SEAL   ? AE_SEAL
                      : last == AK_ROTATE ? AE_ROTATE
                                          : AE_UNSEALED;
            rc = i > 0 ? 1 : 0;
            break;
        }
        if (rc < 0 || audit_meta_parse(fr.content, fr.content_len, &mt) != 0 ||
            (i == 0 && mt.kind != AK_OPEN)) {
            rc = -EBADMSG;
            break;
        }
        if (i == 0) {
            if (memcmp(mt.key_id, key_id, TEL_AUDIT_KEY_ID_LEN) != 0) {
                rc = -EKEYREJECTED;
                break;
            }
            memcpy(pv->log_id, mt.log, TEL_AUDIT_LOG_ID_LEN);
        }
        pv->last_seq = mt.seq;
        memcpy(pv->last_hmac, fr.hmac, TEL_AUDIT_HMAC_LEN);
        last = mt.kind;
    }
    pv->found = rc == 1;
    tel_audit_unmap(&in);
    return rc;
}

static void audit_free(struct tel_audit *a)
{
    if (a == NULL)
        return;
    if (a->fd >= 0)
        close(a->fd);
    explicit_bzero(a->key, sizeof(a->key));
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->slots);
    free(a->batch.p);
    free(a->path);
    free(a);
}

int tel_audit_open(struct tel_audit **out, const char *path, const void *key, size_t keylen,
                   const struct tel_audit_opts *opts)
{
    struct tel_audit *a = NULL;
    struct audit_prev pv = {0};
    char dot1[4200];
    struct stat st;
    bool rotate_current = false;
    int rc = 0;
    *out = NULL;
    if (path == NULL || path[0] == '\0' || (key == NULL && keylen > 0))
        return -EINVAL;
    if (keylen < TEL_AUDIT_KEY_MIN)
        return -ENOKEY;
    if (keylen > TEL_AUDIT_KEY_MAX || strlen(path) > 4000)
        return -E2BIG;
    a = calloc(1, sizeof(*a));
    if (a == NULL)
        return -ENOMEM;
    a->fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    {
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&a->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (opts)
        a->opts = *opts;
    if (a->opts.flush_ms == 0)
        a->opts.flush_ms = 200;
    size_t qlen = 2;
    while (qlen < (a->opts.queue_len ? a->opts.queue_len : 1024) && qlen < (1u << 20))
        qlen <<= 1;
    a->mask = qlen - 1;
    a->path = strdup(path);
    a->slots = calloc(qlen, sizeof(*a->slots));
    a->batch.p = malloc(AUDIT_BATCH_CAP);
    a->batch.cap = AUDIT_BATCH_CAP;
    if (a->path == NULL || a->slots == NULL || a->batch.p == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < qlen; i++)
        atomic_init(&a->slots[i].turn, i);
    msgpack_packer_init(&a->pk, &a->batch, audit_buf_write);
    memcpy(a->key, key, keylen);
    a->keylen = keylen;
    audit_key_id(key, keylen, a->key_id);
    if (gethostname(a->host, sizeof(a->host) - 1) != 0)
        a->host[0] = '\0';

    /* Continue the log found at path, else at path.1 (a crash between rotating and
     * creating the new file). */
    if (stat(path, &st) == 0 && st.st_size > 0) {
        if ((rc = audit_scan_prev(path, a->key_id, &pv)) < 0)
            goto out;
        rotate_current = pv.found;
    }
    if (!pv.found) {
        rotated_name(dot1, sizeof(dot1), path, 1);
        if (stat(dot1, &st) == 0 && st.st_size > 0 &&
            (rc = audit_scan_prev(dot1, a->key_id, &pv)) < 0)
            goto out;
    }
    if (rotate_current)
        rc = audit_shift(path, a->opts.keep);
    else if (unlink(path) != 0 && errno != ENOENT)
        rc = -errno; /* an empty file, or one that died inside its first record */
    if (rc != 0)
        goto out;
    if (pv.found) {
        memcpy(a->log_id, pv.log_id, TEL_AUDIT_LOG_ID_LEN);
        memcpy(a->prev, pv.last_hmac, TEL_AUDIT_HMAC_LEN);
        a->seq = pv.last_seq + 1;
    } else if (getrandom(a->log_id, sizeof(a->log_id), 0) != (ssize_t)sizeof(a->log_id)) {
        rc = -EIO;
        goto out;
    }
    a->committed_seq = a->seq;
    memcpy(a->committed_prev, a->prev, TEL_AUDIT_HMAC_LEN);
    if ((rc = audit_file_start(a, "start", pv.found ? pv.end : AE_NONE, pv.found)) != 0 ||
        (rc = a->first_error) != 0)
        goto out;
    if ((rc = -pthread_create(&a->thread, NULL, audit_thread, a)) != 0)
        goto out;
    a->thread_started = true;
out:
    if (rc != 0) {
        audit_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int tel_audit_close(struct tel_audit *a)
{
    int rc;
    if (a == NULL)
        return 0;
    if (a->thread_started) {
        pthread_mutex_lock(&a->mu);
        atomic_store(&a->stop, true);
        pthread_cond_signal(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->thread, NULL);
    }
    rc = a->first_error;
    audit_free(a);
    return rc;
}

void tel_audit_stats(const struct tel_audit *a, struct tel_audit_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (a == NULL)
        return;
    struct tel_audit *m = (struct tel_audit *)a; /* atomics are read, not changed */
    st->written = atomic_load(&m->n_written);
    st->dropped = atomic_load(&m->n_dropped);
    st->rotated = atomic_load(&m->n_rotated);
    st->errors = atomic_load(&m->n_errors);
    st->queued = atomic_load(&m->head) - atomic_load(&m->tail);
}

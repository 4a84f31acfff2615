/* Server-Sent Events framer: line ends found with memchr, events handed out in place. */
#include "proxy/sse.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SSE_BOM_DONE 4 /* the BOM question is settled */

/* The framer. An item's raw bytes are buf[0, buf_len) followed by in[start, pos): buf holds
 * what earlier chunks (or a flush) left, the chunk the rest. Field values are kept as offsets
 * into that raw, which a flush of the chunk part into buf does not change. */
struct proxy_sse {
    struct proxy_sse_limits lim;
    const char *in; /* the current chunk, never NULL */
    size_t in_len, pos, start;
    ptrdiff_t lf_at, cr_at; /* next LF / CR at or after some earlier pos; -1 unknown */
    char *buf;
    size_t buf_len, buf_cap;
    char *val; /* joined data of an event with more than one data line */
    size_t val_len, val_cap;
    int err;
    uint8_t bom;               /* BOM bytes matched so far, or SSE_BOM_DONE */
    bool skip_lf;              /* a line ended with a CR at the end of a chunk */
    bool held;                 /* a complete item in buf waits to see whether an LF follows */
    bool ended;                /* proxy_sse_end was called */
    bool in_line;              /* line_off is the start of a line not yet ended */
    bool in_block;             /* a field line of the current event was seen */
    enum proxy_sse_kind hkind; /* kind of the held item */
    size_t line_off;           /* raw offset of the current line */
    size_t com_off, com_len;   /* text of a comment item */
    size_t event_off, event_len, id_off, id_len, data_off, data_len;
    unsigned data_lines, unknown;
    bool has_id;
    long retry;
};

static const char sse_empty[1] = "";
static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

struct proxy_sse *proxy_sse_new(const struct proxy_sse_limits *lim)
{
    struct proxy_sse *s = NULL;
    struct proxy_sse_limits l = {PROXY_SSE_DEFAULT_MAX, PROXY_SSE_DEFAULT_MAX};

    if (lim && lim->max_event)
        l.max_event = lim->max_event;
    if (lim && lim->max_line)
        l.max_line = lim->max_line;
    if (l.max_event > PROXY_SSE_CEILING || l.max_line > PROXY_SSE_CEILING)
        goto out;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->lim = l;
    s->in = sse_empty;
    s->lf_at = s->cr_at = -1;
    s->retry = -1;
out:
    return s;
}

void proxy_sse_free(struct proxy_sse *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s->val);
    free(s);
}

void proxy_sse_feed(struct proxy_sse *s, const char *buf, size_t len)
{
    if (s->pos < s->in_len && !s->err)
        s->err = -EINVAL;
    s->in = buf ? buf : sse_empty;
    s->in_len = buf ? len : 0;
    s->pos = s->start = 0;
    s->lf_at = s->cr_at = -1;
}

void proxy_sse_end(struct proxy_sse *s)
{
    s->ended = true;
}

size_t proxy_sse_pending(const struct proxy_sse *s, const char **raw)
{
    size_t n = s->err ? 0 : s->buf_len;

    *raw = n ? s->buf : sse_empty;
    return n;
}

/* Make room for `need` bytes in a buffer that may hold at most `max`; doubles, never shrinks. */
static int sse_grow(char **p, size_t *cap, size_t need, size_t max)
{
    int rc = 0;
    size_t ncap = *cap ? *cap : 4096;
    char *np;

    if (need <= *cap)
        goto out;
    if (need > max) {
        rc = -E2BIG;
        goto out;
    }
    while (ncap < need)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    np = realloc(*p, ncap);
    if (!np) {
        rc = -ENOMEM;
        goto out;
    }
    *p = np;
    *cap = ncap;
out:
    return rc;
}

/* Append to the carried raw bytes. The limit checks come first, so this only fails for
 * memory; max_event + 1 leaves room for the LF of a final CRLF. */
static int sse_put(struct proxy_sse *s, const char *p, size_t n)
{
    int rc = sse_grow(&s->buf, &s->buf_cap, s->buf_len + n, s->lim.max_event + 1);

    if (rc == 0 && n) {
        memcpy(s->buf + s->buf_len, p, n);
        s->buf_len += n;
    }
    return rc;
}

static int sse_val_put(struct proxy_sse *s, const char *p, size_t n)
{
    int rc = sse_grow(&s->val, &s->val_cap, s->val_len + n, s->lim.max_event + 1);

    if (rc == 0 && n) {
        memcpy(s->val + s->val_len, p, n);
        s->val_len += n;
    }
    return rc;
}

/* Move the chunk part of the item into buf, so that the whole item is contiguous there. */
static int sse_flush(struct proxy_sse *s)
{
    int rc = 0;

    if (s->pos > s->start) {
        rc = sse_put(s, s->in + s->start, s->pos - s->start);
        s->start = s->pos;
    }
    return rc;
}

static size_t sse_item_len(const struct proxy_sse *s, size_t pos)
{
    return s->buf_len + (pos - s->start);
}

/* A raw offset of the current item as a pointer; a value never straddles buf and chunk. */
static const char *sse_at(const struct proxy_sse *s, size_t off)
{
    return off < s->buf_len ? s->buf + off : s->in + s->start + (off - s->buf_len);
}

/* Index of the first CR or LF at or after `from`, or in_len. Each search result is kept
 * until passed, so a chunk with no CR (or no LF) is searched for it once, not once a line. */
static size_t sse_eol(struct proxy_sse *s, size_t from)
{
    const char *p;

    if (s->lf_at < (ptrdiff_t)from) {
        p = memchr(s->in + from, '\n', s->in_len - from);
        s->lf_at = p ? p - s->in : (ptrdiff_t)s->in_len;
    }
    if (s->cr_at < (ptrdiff_t)from) {
        p = memchr(s->in + from, '\r', s->in_len - from);
        s->cr_at = p ? p - s->in : (ptrdiff_t)s->in_len;
    }
    return (size_t)(s->lf_at < s->cr_at ? s->lf_at : s->cr_at);
}

/* retry: digits only, saturated; anything else leaves it unchanged. */
static void sse_retry(struct proxy_sse *s, const char *v, size_t n)
{
    long r = 0;
    size_t i;

    if (n == 0)
        return;
    for (i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return;
    for (i = 0; i < n; i++) {
        if (r > (LONG_MAX - (v[i] - '0')) / 10) {
            r = LONG_MAX;
            break;
        }
        r = r * 10 + (v[i] - '0');
    }
    s->retry = r;
}

/* One `name[:[ ]value]` line of the current event, `line` at raw offset line_off. */
static int sse_field(struct proxy_sse *s, const char *line, size_t len)
{
    int rc = 0;
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon ? (size_t)(colon - line) : len;
    size_t voff = colon ? name_len + 1 : len;
    const char *v;
    size_t vlen;

    if (colon && voff < len && line[voff] == ' ')
        voff++;
    v = line + voff;
    vlen = len - voff;
    if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        if (s->data_lines == 0) {
            s->data_off = s->line_off + voff;
            s->data_len = vlen;
        } else {
            if (s->data_lines == 1) {
                s->val_len = 0;
                rc = sse_val_put(s, sse_at(s, s->data_off), s->data_len);
            }
            if (rc == 0)
                rc = sse_val_put(s, "\n", 1);
            if (rc == 0)
                rc = sse_val_put(s, v, vlen);
        }
        s->data_lines++;
    } else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        s->event_off = s->line_off + voff;
        s->event_len = vlen;
    } else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
        if (!memchr(v, '\0', vlen)) {
            s->id_off = s->line_off + voff;
            s->id_len = vlen;
            s->has_id = true;
        }
    } else if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
        sse_retry(s, v, vlen);
    } else {
        s->unknown++;
    }
    return rc;
}

/* Hand out the finished item and start the next one at pos. */
static int sse_emit(struct proxy_sse *s, struct proxy_sse_event *ev, enum proxy_sse_kind kind)
{
    int rc = s->buf_len ? sse_flush(s) : 0;
    const char *base;

    if (rc < 0)
        goto out;
    base = s->buf_len ? s->buf : s->in + s->start;
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->raw = base;
    ev->raw_len = s->buf_len ? s->buf_len : s->pos - s->start;
    ev->event = ev->data = ev->id = sse_empty;
    ev->retry = -1;
    if (kind == PROXY_SSE_COMMENT) {
        ev->data = base + s->com_off;
        ev->data_len = s->com_len;
    } else {
        if (s->event_len) {
            ev->event = base + s->event_off;
            ev->event_len = s->event_len;
        }
        if (s->has_id && s->id_len)
            ev->id = base + s->id_off;
        ev->id_len = s->id_len;
        ev->has_id = s->has_id;
        ev->has_data = s->data_lines > 0;
        if (s->data_lines > 1) {
            ev->data = s->val;
            ev->data_len = s->val_len;
        } else if (s->data_lines == 1 && s->data_len) {
            ev->data = base + s->data_off;
            ev->data_len = s->data_len;
        }
        ev->retry = s->retry;
        ev->unknown = s->unknown;
    }
    /* The bytes stay where they are until the next call writes; only the counts restart. */
    s->buf_len = 0;
    s->start = s->pos;
    s->in_block = s->has_id = false;
    s->event_len = s->id_len = s->data_len = 0;
    s->data_lines = s->unknown = 0;
    s->retry = -1;
    rc = 1;
out:
    return rc;
}

/* Skip a UTF-8 BOM at the start of the stream, possibly split across chunks. Matched bytes
 * are mirrored in buf until the question is settled, so that pending() shows them and a
 * mismatch keeps them as the start of the first line. Returns 1 when settled. */
static int sse_skip_bom(struct proxy_sse *s)
{
    int rc = 0;

    while (s->bom < 3 && s->pos < s->in_len && (unsigned char)s->in[s->pos] == sse_bom[s->bom]) {
        rc = sse_put(s, s->in + s->pos, 1);
        if (rc < 0)
            goto out;
        s->bom++;
        s->pos++;
    }
    s->start = s->pos;
    if (s->bom == 3) {
        s->buf_len = 0;
        s->bom = SSE_BOM_DONE;
        rc = 1;
    } else if (s->pos < s->in_len || s->ended) {
        s->bom = SSE_BOM_DONE;
        if (s->buf_len) {
            s->in_line = true;
            s->line_off = 0;
        }
        rc = 1;
    }
out:
    return rc;
}

int proxy_sse_next(struct proxy_sse *s, struct proxy_sse_event *ev)
{
    int rc = 0;
    size_t e, len;
    const char *line;
    char c;

    if (s->err) {
        rc = s->err;
        goto out;
    }
    if (s->held) {
        if (s->pos < s->in_len && s->in[s->pos] == '\n') {
            rc = sse_put(s, "\n", 1);
            if (rc < 0)
                goto out;
            s->start = ++s->pos;
        } else if (s->pos == s->in_len && !s->ended) {
            goto out;
        }
        s->held = s->skip_lf = false;
        rc = sse_emit(s, ev, s->hkind);
        goto out;
    }
    if (s->bom < SSE_BOM_DONE) {
        rc = sse_skip_bom(s);
        if (rc <= 0)
            goto out;
        rc = 0;
    }
    while (s->pos < s->in_len) {
        if (s->skip_lf) {
            s->skip_lf = false;
            if (s->in[s->pos] == '\n') {
                s->pos++;
                continue;
            }
        }
        if (!s->in_line) {
            s->in_line = true;
            s->line_off = sse_item_len(s, s->pos);
        }
        e = sse_eol(s, s->pos);
        if (e == s->in_len) {
            s->pos = e;
            break;
        }
        len = sse_item_len(s, e) - s->line_off;
        if (len > s->lim.max_line || sse_item_len(s, e) + 1 > s->lim.max_event) {
            rc = -E2BIG;
            goto out;
        }
        c = s->in[e];
        s->pos = e + 1;
        s->in_line = false;
        if (c == '\r') {
            if (s->pos == s->in_len)
                s->skip_lf = true;
            else if (s->in[s->pos] == '\n')
                s->pos++;
        }
        if (s->line_off < s->buf_len) {
            rc = sse_flush(s);
            if (rc < 0)
                goto out;
        }
        line = sse_at(s, s->line_off);
        if (len == 0 || (line[0] == ':' && !s->in_block)) {
            s->hkind = len == 0 ? PROXY_SSE_EVENT : PROXY_SSE_COMMENT;
            s->com_off = s->line_off + 1;
            s->com_len = len ? len - 1 : 0;
            if (s->skip_lf) {
                /* Only the next chunk tells whether an LF belongs to this item. */
                rc = sse_flush(s);
                s->held = rc == 0;
                goto out;
            }
            rc = sse_emit(s, ev, s->hkind);
            goto out;
        }
        if (line[0] == ':') {
            memset(ev, 0, sizeof(*ev));
            ev->kind = PROXY_SSE_COMMENT;
            ev->event = ev->id = ev->raw = sse_empty;
            ev->data = line + 1;
            ev->data_len = len - 1;
            ev->retry = -1;
            rc = 1;
            goto out;
        }
        s->in_block = true;
        rc = sse_field(s, line, len);
        if (rc < 0)
            goto out;
    }
    /* The chunk is used up: keep the item's bytes for the next one. */
    if ((s->in_line && sse_item_len(s, s->pos) - s->line_off > s->lim.max_line) ||
        sse_item_len(s, s->pos) > s->lim.max_event) {
        rc = -E2BIG;
        goto out;
    }
    rc = sse_flush(s);
out:
    if (rc < 0)
        s->err = rc;
    return rc;
}

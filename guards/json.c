/* Incremental JSON tokenizer: a state machine over chunks, string runs handed out in place. */
#include "guards/json.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

_Static_assert(GUARD_JSON_SCRATCH >= 1024, "scratch must hold the largest max_key");
_Static_assert(GUARD_JSON_MAX_DEPTH % 8 == 0, "depth stack is a bitmap");

/* Where the tokenizer is. The first group sits between tokens, the rest inside one. */
enum json_state {
    JSON_S_VALUE = 0,    /* a value must follow: start, after ':', after ',' in an array */
    JSON_S_ARRAY_FIRST,  /* after '[': a value or ']' */
    JSON_S_OBJECT_FIRST, /* after '{': a key or '}' */
    JSON_S_OBJECT_KEY,   /* after ',' in an object: a key */
    JSON_S_COLON,        /* after a key */
    JSON_S_AFTER,        /* after a value inside a container */
    JSON_S_END,          /* after the top-level value: whitespace only */
    JSON_S_STRING,       /* inside a string or key, between escapes */
    JSON_S_ESCAPE,       /* after a backslash */
    JSON_S_UNICODE,      /* inside the hex digits of \uXXXX */
    JSON_S_SURROGATE,    /* after a high surrogate escape, hoping for a low one */
    JSON_S_UTF8,         /* inside a UTF-8 character split by the end of a chunk */
    JSON_S_NUMBER,
    JSON_S_LITERAL,
    JSON_S_ERROR,
};

/* Position inside a number's grammar (RFC 8259 section 6). */
enum json_num {
    JSON_N_MINUS = 0, /* after '-': a digit must follow */
    JSON_N_ZERO,      /* a leading 0: no more integer digits */
    JSON_N_INT,
    JSON_N_FRAC0, /* after '.': a digit must follow */
    JSON_N_FRAC,
    JSON_N_EXP0,    /* after 'e': sign or digit */
    JSON_N_EXPSIGN, /* after the exponent's sign: a digit must follow */
    JSON_N_EXP,
};

/* How a run of string bytes ended. */
enum json_stop {
    JSON_T_CHUNK = 0, /* end of the chunk */
    JSON_T_QUOTE,
    JSON_T_ESCAPE,
    JSON_T_SPLIT, /* a UTF-8 character cut by the end of the chunk */
};

/* Byte classes inside strings. */
enum json_class {
    JSON_C_PLAIN = 0, /* printable ASCII that stands for itself */
    JSON_C_QUOTE,
    JSON_C_BACKSLASH,
    JSON_C_CONTROL,
    JSON_C_LEAD2, /* first byte of a 2-, 3-, 4-byte UTF-8 sequence */
    JSON_C_LEAD3,
    JSON_C_LEAD4,
    JSON_C_BAD, /* never valid in UTF-8 here: continuation, C0, C1, F5..FF */
};

static const uint8_t json_class[256] = {
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 00 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 20 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, /* 50 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 60 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 70 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 80 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 90 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* A0 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* B0 */
    7, 7, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* C0 */
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, /* D0 */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* E0 */
    6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* F0 */
};

static const char json_fffd[3] = {'\xEF', '\xBF', '\xBD'};

#if !defined(__SSE2__)
#define JSON_ONES  0x0101010101010101ull
#define JSON_HIGHS 0x8080808080808080ull
#endif

static uint64_t json_abs(const struct guard_json *js, size_t pos)
{
    return js->consumed + pos;
}

/* Record the first error; every later call returns it. */
static int json_fail(struct guard_json *js, int code, const char *msg, uint64_t offset)
{
    uint64_t col = offset - js->line_start + 1;

    js->err.offset = offset;
    js->err.line = js->line;
    js->err.column = col > UINT32_MAX ? UINT32_MAX : (uint32_t)col;
    js->err.message = msg;
    js->err_code = code;
    js->state = JSON_S_ERROR;
    js->done = false;
    return code;
}

static bool json_in_array(const struct guard_json *js, unsigned depth)
{
    return depth > 0 && (js->stack[(depth - 1) / 8] >> ((depth - 1) % 8) & 1);
}

/* Fill *ev for a token at the current depth; returns 1 (an event) for the caller to pass on. */
static int json_emit(struct guard_json *js, struct guard_json_event *ev, enum guard_json_tok tok,
                     unsigned flags, const char *str, size_t len)
{
    ev->tok = tok;
    ev->flags = flags;
    ev->depth = js->depth;
    ev->in_array = json_in_array(js, js->depth);
    ev->str = str;
    ev->len = len;
    ev->offset = js->tok_offset;
    return 1;
}

/* A string value fragment; the first one of a string gets F_BEGIN. */
static int json_fragment(struct guard_json *js, struct guard_json_event *ev, const char *str,
                         size_t len, bool last)
{
    unsigned flags = (js->str_begun ? 0 : GUARD_JSON_F_BEGIN) | (last ? GUARD_JSON_F_END : 0);

    js->str_begun = true;
    return json_emit(js, ev, GUARD_JSON_STRING, flags, str, len);
}

/* Hand out the scratch as a middle fragment; its bytes stay valid until the next call. */
static int json_flush(struct guard_json *js, struct guard_json_event *ev)
{
    size_t len = js->scratch_len;

    js->scratch_len = 0;
    return json_fragment(js, ev, js->scratch, len, false);
}

static void json_value_done(struct guard_json *js)
{
    js->state = js->depth ? JSON_S_AFTER : JSON_S_END;
}

/* Append decoded bytes produced by the input byte at `offset`. Keys are checked against
 * max_key. For values the room is the callers' invariant: a string step starts with at
 * most GUARD_JSON_SCRATCH bytes pending (escapes: 7 less) and writes at most 7, which the
 * scratch's slack absorbs. */
static int json_put(struct guard_json *js, const char *src, size_t n, uint64_t offset)
{
    int rc = 0;

    if (js->is_key && js->scratch_len + n > js->lim.max_key) {
        rc = json_fail(js, -E2BIG, "key longer than limit", offset);
        goto out;
    }
    memcpy(js->scratch + js->scratch_len, src, n);
    js->scratch_len += n;
out:
    return rc;
}

/* Append raw key bytes starting at input `offset`; the error points at the first byte over. */
static int json_key_raw(struct guard_json *js, const unsigned char *src, size_t n, uint64_t offset)
{
    int rc = 0;
    size_t room = js->lim.max_key - js->scratch_len;

    if (n > room) {
        rc = json_fail(js, -E2BIG, "key longer than limit", offset + room);
        goto out;
    }
    memcpy(js->scratch + js->scratch_len, src, n);
    js->scratch_len += n;
out:
    return rc;
}

/* Length of the UTF-8 sequence led by `c` (0 if c cannot lead one) and the allowed range of
 * its second byte, which excludes overlongs, surrogates and code points above U+10FFFF. */
static unsigned json_utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    unsigned n = 0;

    *lo = 0x80;
    *hi = 0xBF;
    if (json_class[c] >= JSON_C_LEAD2 && json_class[c] <= JSON_C_LEAD4)
        n = json_class[c] - JSON_C_LEAD2 + 2u;
    if (c == 0xE0)
        *lo = 0xA0;
    else if (c == 0xED)
        *hi = 0x9F;
    else if (c == 0xF0)
        *lo = 0x90;
    else if (c == 0xF4)
        *hi = 0x8F;
    return n;
}

/* Check the UTF-8 sequence at p: its length when whole and valid, 0 when valid so far but
 * cut by `end`, or -(1 + index of the first bad byte). */
static int json_utf8(const unsigned char *p, const unsigned char *end)
{
    unsigned char lo, hi;
    int n = (int)json_utf8_lead(p[0], &lo, &hi), i, rc = n;

    if (n == 0) {
        rc = -1;
        goto out;
    }
    for (i = 1; i < n; i++) {
        if (p + i == end) {
            rc = 0;
            goto out;
        }
        if (p[i] < lo || p[i] > hi) {
            rc = -(i + 1);
            goto out;
        }
        lo = 0x80;
        hi = 0xBF;
    }
out:
    return rc;
}

/* The end of the run of string bytes at p that stand for themselves: ASCII a word at a time
 * while no quote, backslash, control or high byte shows, whole valid UTF-8 characters one at
 * a time. Returns the first byte the caller must look at, or end. */
static const unsigned char *json_run(const unsigned char *p, const unsigned char *end)
{
    int n;

    for (;;) {
#if defined(__SSE2__)
        /* A signed compare below 0x20 catches controls and high bytes at once. */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        const __m128i space = _mm_set1_epi8(0x20);
        __m128i v;
        unsigned m;

        while (end - p >= 16) {
            v = _mm_loadu_si128((const __m128i *)(const void *)p);
            m = (unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_cmplt_epi8(v, space)));
            if (m) {
                p += __builtin_ctz(m); /* the byte loop below stops right here */
                break;
            }
            p += 16;
        }
#else
        uint64_t v, q, b, m;

        while (end - p >= 8) {
            memcpy(&v, p, 8);
            q = v ^ (JSON_ONES * '"');
            b = v ^ (JSON_ONES * '\\');
            /* Nonzero exactly when some byte is '"', '\\', below 0x20 or above 0x7F. */
            m = (((q - JSON_ONES) & ~q) | ((b - JSON_ONES) & ~b) | ((v - JSON_ONES * 0x20) & ~v) |
                 v) &
                JSON_HIGHS;
            if (m)
                break;
            p += 8;
        }
#endif
        while (p < end && json_class[*p] == JSON_C_PLAIN)
            p++;
        if (p == end || json_class[*p] < JSON_C_LEAD2)
            break;
        n = json_utf8(p, end);
        if (n <= 0)
            break;
        p += n;
    }
    return p;
}

/* The byte a one-letter escape stands for, or 0 for \u and invalid escapes. */
static char json_simple_escape(unsigned char c)
{
    char out = 0;

    switch (c) {
    case '"':
    case '\\':
    case '/':
        out = (char)c;
        break;
    case 'b':
        out = '\b';
        break;
    case 'f':
        out = '\f';
        break;
    case 'n':
        out = '\n';
        break;
    case 'r':
        out = '\r';
        break;
    case 't':
        out = '\t';
        break;
    default:
        break;
    }
    return out;
}

/* Keep the head of a UTF-8 character cut by the end of the chunk; JSON_S_UTF8 finishes it. */
static int json_split_begin(struct guard_json *js, const unsigned char *p, const unsigned char *end)
{
    unsigned char lo, hi;
    size_t have = (size_t)(end - p);
    unsigned n = json_utf8_lead(p[0], &lo, &hi);
    int rc = 0;

    if (js->is_key)
        rc = json_key_raw(js, p, have, json_abs(js, (size_t)(p - (const unsigned char *)js->in)));
    else
        rc = json_put(js, (const char *)p, have, 0);
    if (rc < 0)
        goto out;
    js->utf8_need = (uint8_t)(n - have);
    js->utf8_lo = have == 1 ? lo : 0x80;
    js->utf8_hi = have == 1 ? hi : 0xBF;
    js->in_pos = js->in_len;
    js->state = JSON_S_UTF8;
out:
    return rc;
}

/* Inside a string or key: scan runs, decode one-letter escapes in place (the common case
 * in chat text), and decide what to hand out. */
static int json_string(struct guard_json *js, struct guard_json_event *ev)
{
    const unsigned char *in = (const unsigned char *)js->in;
    const unsigned char *s = in + js->in_pos, *end = in + js->in_len, *e;
    enum json_stop stop;
    const char *bad;
    size_t n, bad_len;
    int rc = 0, r;
    char esc;

    for (;;) {
        stop = JSON_T_CHUNK;
        bad = NULL;
        bad_len = 0;
        esc = 0;
        if (js->run_known) {
            e = in + js->run_stop;
            js->run_known = false;
        } else {
            e = json_run(s, end);
        }
        n = (size_t)(e - s);
        if (e < end) {
            if (*e == '"') {
                stop = JSON_T_QUOTE;
            } else if (*e == '\\') {
                stop = JSON_T_ESCAPE;
                if (e + 1 < end)
                    esc = json_simple_escape(e[1]);
            } else if (json_class[*e] == JSON_C_CONTROL) {
                bad = "control character in string";
            } else {
                r = json_utf8(e, end);
                if (r < 0) {
                    bad = "invalid UTF-8 in string";
                    bad_len = (size_t)(-r - 1);
                }
                stop = JSON_T_SPLIT;
            }
        }

        if (js->is_key) {
            /* The bytes before a bad one count against max_key first, as they would if the
             * chunk had ended just before it. */
            rc = json_key_raw(js, s, n + bad_len, json_abs(js, (size_t)(s - in)));
            if (rc < 0)
                goto out;
        }
        if (bad) {
            rc = json_fail(js, -EBADMSG, bad, json_abs(js, (size_t)(e - in) + bad_len));
            goto out;
        }
        if (js->is_key) {
            if (esc) {
                rc = json_put(js, &esc, 1, json_abs(js, (size_t)(e + 1 - in)));
                if (rc < 0)
                    goto out;
                s = e + 2;
                continue;
            }
            js->in_pos = (size_t)(e - in);
            if (stop == JSON_T_QUOTE) {
                js->in_pos++;
                js->state = JSON_S_COLON;
                rc = json_emit(js, ev, GUARD_JSON_KEY, GUARD_JSON_F_BEGIN | GUARD_JSON_F_END,
                               js->scratch, js->scratch_len);
            } else if (stop == JSON_T_ESCAPE) {
                js->in_pos++;
                js->state = JSON_S_ESCAPE;
            } else if (stop == JSON_T_SPLIT) {
                rc = json_split_begin(js, e, end);
            }
            goto out;
        }

        /* Coalesce with decoded escapes while it fits, so escaped text stays few events. */
        if ((js->scratch_len > 0 || stop == JSON_T_ESCAPE || stop == JSON_T_SPLIT) &&
            js->scratch_len + n <= GUARD_JSON_SCRATCH) {
            memcpy(js->scratch + js->scratch_len, s, n);
            js->scratch_len += n;
            if (esc && js->scratch_len < GUARD_JSON_SCRATCH) {
                js->scratch[js->scratch_len++] = esc;
                s = e + 2;
                continue;
            }
            js->in_pos = (size_t)(e - in);
            if (stop == JSON_T_QUOTE) {
                js->in_pos++;
                n = js->scratch_len;
                js->scratch_len = 0;
                json_value_done(js);
                rc = json_fragment(js, ev, js->scratch, n, true);
            } else if (stop == JSON_T_ESCAPE) {
                js->in_pos++;
                js->state = JSON_S_ESCAPE;
            } else if (stop == JSON_T_SPLIT) {
                rc = json_split_begin(js, e, end);
            }
            goto out;
        }
        js->in_pos = (size_t)(s - in);
        if (js->scratch_len > 0) {
            /* The run does not fit behind the scratch: hand out the scratch first and
             * remember the run so the next call does not scan it again. */
            js->run_stop = (size_t)(e - in);
            js->run_known = true;
            rc = json_flush(js, ev);
            goto out;
        }
        /* Nothing pending: the run goes out in place. */
        js->in_pos = (size_t)(e - in);
        if (stop == JSON_T_QUOTE) {
            js->in_pos++;
            json_value_done(js);
            rc = json_fragment(js, ev, (const char *)s, n, true);
        } else if (n > 0) {
            rc = json_fragment(js, ev, (const char *)s, n, false);
        }
        goto out;
    }
out:
    return rc;
}

/* Encode a code point (never a surrogate) as UTF-8 into out; returns its length. */
static size_t json_utf8_encode(uint32_t cp, char *out)
{
    size_t n;

    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | cp >> 18);
        out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return n;
}

/* After a backslash. A pending high surrogate not followed by \u becomes U+FFFD. */
static int json_escape(struct guard_json *js, struct guard_json_event *ev)
{
    unsigned char c = (unsigned char)js->in[js->in_pos];
    uint64_t at = json_abs(js, js->in_pos);
    char out;
    int rc = 0;

    /* An escape step writes at most U+FFFD and one 4-byte character: make room first. */
    if (!js->is_key && js->scratch_len + 7 > GUARD_JSON_SCRATCH) {
        rc = json_flush(js, ev);
        goto out;
    }
    if (js->ucs_hi && c != 'u') {
        js->ucs_hi = 0;
        rc = json_put(js, json_fffd, sizeof(json_fffd), at);
        if (rc < 0)
            goto out;
    }
    out = json_simple_escape(c);
    if (c == 'u') {
        js->in_pos++;
        js->esc_digits = 0;
        js->ucs = 0;
        js->state = JSON_S_UNICODE;
        goto out;
    }
    if (!out) {
        rc = json_fail(js, -EBADMSG, "invalid escape in string", at);
        goto out;
    }
    rc = json_put(js, &out, 1, at);
    if (rc < 0)
        goto out;
    js->in_pos++;
    js->state = JSON_S_STRING;
out:
    return rc;
}

static int json_hex(unsigned char c)
{
    int v = -1;

    if (c >= '0' && c <= '9')
        v = c - '0';
    else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
    return v;
}

/* The four hex digits of \uXXXX; surrogate pairs join, lone halves become U+FFFD. */
static int json_unicode(struct guard_json *js)
{
    const unsigned char *in = (const unsigned char *)js->in;
    char out[4];
    uint32_t cp;
    uint64_t at;
    int rc = 0, h;

    while (js->in_pos < js->in_len && js->esc_digits < 4) {
        h = json_hex(in[js->in_pos]);
        if (h < 0) {
            rc = json_fail(js, -EBADMSG, "invalid \\u escape in string", json_abs(js, js->in_pos));
            goto out;
        }
        js->ucs = js->ucs << 4 | (uint32_t)h;
        js->esc_digits++;
        js->in_pos++;
    }
    if (js->esc_digits < 4)
        goto out;
    at = json_abs(js, js->in_pos - 1);
    cp = js->ucs;
    js->state = JSON_S_STRING;
    if (js->ucs_hi) {
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0x10000 + ((js->ucs_hi - 0xD800) << 10) + (cp - 0xDC00);
            js->ucs_hi = 0;
            rc = json_put(js, out, json_utf8_encode(cp, out), at);
            goto out;
        }
        js->ucs_hi = 0;
        rc = json_put(js, json_fffd, sizeof(json_fffd), at);
        if (rc < 0)
            goto out;
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        js->ucs_hi = cp;
        js->state = JSON_S_SURROGATE;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        rc = json_put(js, json_fffd, sizeof(json_fffd), at);
    } else {
        rc = json_put(js, out, json_utf8_encode(cp, out), at);
    }
out:
    return rc;
}

/* After a high surrogate: only "\u" with a low surrogate completes it. */
static int json_surrogate(struct guard_json *js)
{
    int rc = 0;

    if (js->in[js->in_pos] == '\\') {
        js->in_pos++;
        js->state = JSON_S_ESCAPE;
        goto out;
    }
    js->ucs_hi = 0;
    js->state = JSON_S_STRING;
    rc = json_put(js, json_fffd, sizeof(json_fffd), json_abs(js, js->in_pos));
out:
    return rc;
}

/* The rest of a UTF-8 character whose head ended the previous chunk. */
static int json_utf8_tail(struct guard_json *js)
{
    const unsigned char *in = (const unsigned char *)js->in;
    unsigned char c;
    int rc = 0;

    while (js->in_pos < js->in_len && js->utf8_need > 0) {
        c = in[js->in_pos];
        if (c < js->utf8_lo || c > js->utf8_hi) {
            rc = json_fail(js, -EBADMSG, "invalid UTF-8 in string", json_abs(js, js->in_pos));
            goto out;
        }
        if (js->is_key)
            rc = json_key_raw(js, &c, 1, json_abs(js, js->in_pos));
        else
            rc = json_put(js, (const char *)&c, 1, 0);
        if (rc < 0)
            goto out;
        js->in_pos++;
        js->utf8_need--;
        js->utf8_lo = 0x80;
        js->utf8_hi = 0xBF;
    }
    if (js->utf8_need == 0)
        js->state = JSON_S_STRING;
out:
    return rc;
}

static bool json_num_final(unsigned sub)
{
    return sub == JSON_N_ZERO || sub == JSON_N_INT || sub == JSON_N_FRAC || sub == JSON_N_EXP;
}

/* Number text accumulates in the scratch; the number ends at the first byte it cannot take. */
static int json_number(struct guard_json *js, struct guard_json_event *ev)
{
    const unsigned char *in = (const unsigned char *)js->in;
    const char *msg = NULL;
    unsigned char c;
    bool digit;
    int rc = 0;

    while (js->in_pos < js->in_len) {
        c = in[js->in_pos];
        digit = c >= '0' && c <= '9';
        switch (js->sub) {
        case JSON_N_MINUS:
            if (!digit)
                msg = "expected digit after '-'";
            js->sub = c == '0' ? JSON_N_ZERO : JSON_N_INT;
            break;
        case JSON_N_ZERO:
        case JSON_N_INT:
        case JSON_N_FRAC:
            if (digit && js->sub == JSON_N_ZERO)
                msg = "leading zero in number";
            else if (c == '.' && js->sub != JSON_N_FRAC)
                js->sub = JSON_N_FRAC0;
            else if (c == 'e' || c == 'E')
                js->sub = JSON_N_EXP0;
            else if (!digit)
                goto number;
            break;
        case JSON_N_FRAC0:
            if (!digit)
                msg = "expected digit after '.' in number";
            js->sub = JSON_N_FRAC;
            break;
        case JSON_N_EXP0:
        case JSON_N_EXPSIGN:
            if (js->sub == JSON_N_EXP0 && (c == '+' || c == '-'))
                js->sub = JSON_N_EXPSIGN;
            else if (!digit)
                msg = "expected digit in exponent";
            else
                js->sub = JSON_N_EXP;
            break;
        default: /* JSON_N_EXP */
            if (!digit)
                goto number;
            break;
        }
        if (msg) {
            rc = json_fail(js, -EBADMSG, msg, json_abs(js, js->in_pos));
            goto out;
        }
        if (js->scratch_len >= js->lim.max_number) {
            rc = json_fail(js, -E2BIG, "number longer than limit", json_abs(js, js->in_pos));
            goto out;
        }
        js->scratch[js->scratch_len++] = (char)c;
        js->in_pos++;
    }
    goto out;
number:
    json_value_done(js);
    rc = json_emit(js, ev, GUARD_JSON_NUMBER, GUARD_JSON_F_BEGIN | GUARD_JSON_F_END, js->scratch,
                   js->scratch_len);
out:
    return rc;
}

/* true, false, null: `sub` bytes of js->lit matched so far. */
static int json_literal(struct guard_json *js, struct guard_json_event *ev)
{
    enum guard_json_tok tok;
    int rc = 0;

    while (js->in_pos < js->in_len) {
        if (js->in[js->in_pos] != js->lit[js->sub]) {
            rc = json_fail(js, -EBADMSG, "invalid literal", json_abs(js, js->in_pos));
            goto out;
        }
        js->in_pos++;
        js->sub++;
        if (js->lit[js->sub] == '\0') {
            tok = js->lit[0] == 't'   ? GUARD_JSON_TRUE
                  : js->lit[0] == 'f' ? GUARD_JSON_FALSE
                                      : GUARD_JSON_NULL;
            json_value_done(js);
            rc = json_emit(js, ev, tok, 0, NULL, 0);
            goto out;
        }
    }
out:
    return rc;
}

/* Open an array or object at the current depth. */
static int json_open(struct guard_json *js, struct guard_json_event *ev, bool array)
{
    unsigned level = js->depth;
    int rc;

    if (level >= js->lim.max_depth) {
        rc = json_fail(js, -E2BIG, "nesting deeper than limit", js->tok_offset);
        goto out;
    }
    rc = json_emit(js, ev, array ? GUARD_JSON_ARRAY_BEGIN : GUARD_JSON_OBJECT_BEGIN, 0, NULL, 0);
    if (array)
        js->stack[level / 8] |= (uint8_t)(1u << level % 8);
    else
        js->stack[level / 8] &= (uint8_t) ~(1u << level % 8);
    js->depth++;
    js->in_pos++;
    js->state = array ? JSON_S_ARRAY_FIRST : JSON_S_OBJECT_FIRST;
out:
    return rc;
}

static int json_close(struct guard_json *js, struct guard_json_event *ev, bool array)
{
    js->depth--;
    js->in_pos++;
    json_value_done(js);
    return json_emit(js, ev, array ? GUARD_JSON_ARRAY_END : GUARD_JSON_OBJECT_END, 0, NULL, 0);
}

static void json_string_begin(struct guard_json *js, bool key)
{
    js->in_pos++;
    js->is_key = key;
    js->str_begun = false;
    js->scratch_len = 0;
    js->ucs_hi = 0;
    js->state = JSON_S_STRING;
}

/* The first byte of a value; `msg` says what was expected if it is none. */
static int json_value(struct guard_json *js, struct guard_json_event *ev, unsigned char c,
                      const char *msg)
{
    int rc = 0;

    switch (c) {
    case '{':
    case '[':
        rc = json_open(js, ev, c == '[');
        break;
    case '"':
        json_string_begin(js, false);
        break;
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        js->scratch_len = 0;
        js->sub = c == '-' ? JSON_N_MINUS : c == '0' ? JSON_N_ZERO : JSON_N_INT;
        js->scratch[js->scratch_len++] = (char)c;
        js->in_pos++;
        js->state = JSON_S_NUMBER;
        break;
    case 't':
    case 'f':
    case 'n':
        js->lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
        js->sub = 1;
        js->in_pos++;
        js->state = JSON_S_LITERAL;
        break;
    default:
        rc = json_fail(js, -EBADMSG, msg, js->tok_offset);
        break;
    }
    return rc;
}

/* Between tokens: skip whitespace, then the structural byte or the start of a value. */
static int json_struct(struct guard_json *js, struct guard_json_event *ev)
{
    const unsigned char *in = (const unsigned char *)js->in;
    size_t pos = js->in_pos, len = js->in_len;
    bool array;
    unsigned char c;
    int rc = 0;

    while (pos < len) {
        c = in[pos];
        if (c == ' ' || c == '\t' || c == '\r') {
            pos++;
        } else if (c == '\n') {
            pos++;
            if (js->line < UINT32_MAX)
                js->line++;
            js->line_start = json_abs(js, pos);
        } else {
            break;
        }
    }
    js->in_pos = pos;
    if (pos == len)
        goto out;
    c = in[pos];
    js->tok_offset = json_abs(js, pos);
    switch (js->state) {
    case JSON_S_VALUE:
        rc = json_value(js, ev, c, "expected value");
        break;
    case JSON_S_ARRAY_FIRST:
        if (c == ']')
            rc = json_close(js, ev, true);
        else
            rc = json_value(js, ev, c, "expected value or ']'");
        break;
    case JSON_S_OBJECT_FIRST:
    case JSON_S_OBJECT_KEY:
        if (c == '"')
            json_string_begin(js, true);
        else if (c == '}' && js->state == JSON_S_OBJECT_FIRST)
            rc = json_close(js, ev, false);
        else
            rc = json_fail(js, -EBADMSG,
                           js->state == JSON_S_OBJECT_FIRST ? "expected string key or '}'"
                                                            : "expected string key after ','",
                           js->tok_offset);
        break;
    case JSON_S_COLON:
        if (c == ':') {
            js->in_pos++;
            js->state = JSON_S_VALUE;
        } else {
            rc = json_fail(js, -EBADMSG, "expected ':' after object key", js->tok_offset);
        }
        break;
    case JSON_S_AFTER:
        array = json_in_array(js, js->depth);
        if (c == ',') {
            js->in_pos++;
            js->state = array ? JSON_S_VALUE : JSON_S_OBJECT_KEY;
        } else if (c == (array ? ']' : '}')) {
            rc = json_close(js, ev, array);
        } else {
            rc = json_fail(js, -EBADMSG,
                           array ? "expected ',' or ']' after array element"
                                 : "expected ',' or '}' after object member",
                           js->tok_offset);
        }
        break;
    default: /* JSON_S_END */
        rc = json_fail(js, -EBADMSG, "unexpected data after top-level value", js->tok_offset);
        break;
    }
out:
    return rc;
}

/* The chunk is used up: wait for more, finish a top-level number, or judge the document. */
static int json_at_end(struct guard_json *js, struct guard_json_event *ev)
{
    int rc = 0;

    if (!js->in_last)
        goto out;
    if (js->state == JSON_S_END) {
        js->done = true;
    } else if (js->state == JSON_S_NUMBER && json_num_final(js->sub)) {
        json_value_done(js);
        rc = json_emit(js, ev, GUARD_JSON_NUMBER, GUARD_JSON_F_BEGIN | GUARD_JSON_F_END,
                       js->scratch, js->scratch_len);
    } else {
        rc = json_fail(js, -EBADMSG, "unexpected end of input", json_abs(js, js->in_len));
    }
out:
    return rc;
}

int guard_json_init(struct guard_json *js, const struct guard_json_limits *lim)
{
    int rc = 0;

    memset(js, 0, offsetof(struct guard_json, scratch));
    js->lim.max_depth = 64;
    js->lim.max_key = 256;
    js->lim.max_number = 64;
    if (lim && lim->max_depth)
        js->lim.max_depth = lim->max_depth;
    if (lim && lim->max_key)
        js->lim.max_key = lim->max_key;
    if (lim && lim->max_number)
        js->lim.max_number = lim->max_number;
    js->in = "";
    js->line = 1;
    js->state = JSON_S_VALUE;
    if (js->lim.max_depth > GUARD_JSON_MAX_DEPTH || js->lim.max_key > GUARD_JSON_SCRATCH ||
        js->lim.max_number > 256)
        rc = json_fail(js, -EINVAL, "limit above its ceiling", 0);
    return rc;
}

void guard_json_feed(struct guard_json *js, const char *buf, size_t len, bool last)
{
    js->consumed += js->in_len;
    js->in = buf ? buf : "";
    js->in_len = buf ? len : 0;
    js->in_pos = 0;
    js->in_last = last;
    js->run_known = false;
    js->done = false;
}

int guard_json_next(struct guard_json *js, struct guard_json_event *ev)
{
    int rc = 0;

    if (js->state == JSON_S_ERROR) {
        rc = js->err_code;
        goto out;
    }
    for (;;) {
        if (js->in_pos == js->in_len) {
            rc = json_at_end(js, ev);
            goto out;
        }
        switch (js->state) {
        case JSON_S_STRING:
            rc = json_string(js, ev);
            break;
        case JSON_S_ESCAPE:
            rc = json_escape(js, ev);
            break;
        case JSON_S_UNICODE:
            rc = json_unicode(js);
            break;
        case JSON_S_SURROGATE:
            rc = json_surrogate(js);
            break;
        case JSON_S_UTF8:
            rc = json_utf8_tail(js);
            break;
        case JSON_S_NUMBER:
            rc = json_number(js, ev);
            break;
        case JSON_S_LITERAL:
            rc = json_literal(js, ev);
            break;
        default:
            rc = json_struct(js, ev);
            break;
        }
        if (rc != 0)
            goto out;
    }
out:
    return rc;
}

bool guard_json_done(const struct guard_json *js)
{
    return js->done;
}

const struct guard_json_error *guard_json_error(const struct guard_json *js)
{
    return &js->err;
}

uint64_t guard_json_offset(const struct guard_json *js)
{
    return js->consumed + js->in_pos;
}

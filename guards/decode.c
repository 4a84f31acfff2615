/* Encoded payloads in prompt text: a bit-parallel prefilter, an exact scanner, two layers. */
#include "guards/decode.h"

#include <errno.h>
#include <string.h>
/* GUARD_DECODE_SCALAR forces the portable prefilter (to test it on x86-64). */
#if defined(__SSE2__) && !defined(GUARD_DECODE_SCALAR)
#include <emmintrin.h>
#define DEC_SSE2 1
#else
#define DEC_SSE2 0
#endif

/* ---- byte classes ----
 * A "word" is a run of base64-alphabet bytes; it becomes a run candidate at MIN_RUN chars.
 * A "token" is a short word that may belong to a separated sequence: two hex digits, "0x" and
 * two hex digits, or eight bits; tokens joined by separators make a sequence. */
#define CL_W   0x01u /* base64 alphabet of either variant: A-Z a-z 0-9 + / - _ */
#define CL_H   0x02u /* hex digit */
#define CL_B   0x04u /* binary digit */
#define CL_S   0x08u /* separator of tokens: space , : tab CR LF */
#define CL_E   0x10u /* may start an inline escape: % & backslash */
#define CL_STD 0x20u /* + / : standard alphabet only */
#define CL_URL 0x40u /* - _ : url-safe alphabet only */
#define CL_B32 0x80u /* base32 alphabet, either case: A-Z a-z 2-7 */

#define IS_UPPER(c) ((c) >= 'A' && (c) <= 'Z')
#define IS_LOWER(c) ((c) >= 'a' && (c) <= 'z')
#define IS_ALPHA(c) (IS_UPPER(c) || IS_LOWER(c))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define IS_HEX(c)   (IS_DIGIT(c) || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define IS_B64(c) \
    (IS_ALPHA(c) || IS_DIGIT(c) || (c) == '+' || (c) == '/' || (c) == '-' || (c) == '_')
#define IS_SEP(c) \
    ((c) == ' ' || (c) == ',' || (c) == ':' || (c) == '\t' || (c) == '\r' || (c) == '\n')

#define CLASS_OF(c)                                                                               \
    ((IS_B64(c) ? CL_W : 0u) | (IS_HEX(c) ? CL_H : 0u) | ((c) == '0' || (c) == '1' ? CL_B : 0u) | \
     (IS_SEP(c) ? CL_S : 0u) | ((c) == '%' || (c) == '&' || (c) == '\\' ? CL_E : 0u) |            \
     ((c) == '+' || (c) == '/' ? CL_STD : 0u) | ((c) == '-' || (c) == '_' ? CL_URL : 0u) |        \
     (IS_ALPHA(c) || ((c) >= '2' && (c) <= '7') ? CL_B32 : 0u))
/* The prefilter's view of a byte: W, H, B and S as bit 0 of four 16-bit lanes, so that 16
 * bytes shifted by their index build four masks with one OR each. Its S also takes VT and FF
 * (one range test in SSE2): separators only ever add work for the exact scanner. */
#define LANES_OF(c)                                                            \
    ((uint64_t)(IS_B64(c) ? 1u : 0u) | (uint64_t)(IS_HEX(c) ? 1u : 0u) << 16 | \
     (uint64_t)((c) == '0' || (c) == '1' ? 1u : 0u) << 32 |                    \
     (uint64_t)(IS_SEP(c) || (c) == '\v' || (c) == '\f' ? 1u : 0u) << 48)
#define B64_OF(c)                                 \
    ((IS_UPPER(c)                ? (c) - 'A'      \
      : IS_LOWER(c)              ? (c) - 'a' + 26 \
      : IS_DIGIT(c)              ? (c) - '0' + 52 \
      : (c) == '+' || (c) == '-' ? 62             \
      : (c) == '/' || (c) == '_' ? 63             \
                                 : 0) &           \
     0x3F)
#define B32_OF(c) \
    ((IS_ALPHA(c) ? ((c) | 0x20) - 'a' : (c) >= '2' && (c) <= '7' ? (c) - '2' + 26 : 0) & 0x1F)
#define HEX_OF(c) ((IS_DIGIT(c) ? (c) - '0' : IS_HEX(c) ? ((c) | 0x20) - 'a' + 10 : 0) & 0xF)

#define R4(f, b)  f(b), f((b) + 1), f((b) + 2), f((b) + 3)
#define R16(f, b) R4(f, b), R4(f, (b) + 4), R4(f, (b) + 8), R4(f, (b) + 12)
#define R64(f, b) R16(f, b), R16(f, (b) + 16), R16(f, (b) + 32), R16(f, (b) + 48)
#define R256(f)   R64(f, 0), R64(f, 64), R64(f, 128), R64(f, 192)

static const uint8_t dec_class[256] = {R256(CLASS_OF)};
#if !DEC_SSE2
static const uint64_t dec_lanes[256] = {R256(LANES_OF)};
#endif
static const uint8_t dec_b64[256] = {R256(B64_OF)};
static const uint8_t dec_b32[256] = {R256(B32_OF)};
static const uint8_t dec_hex[256] = {R256(HEX_OF)};

/* Hex without a letter digit (a-f) needs this many bytes: shorter, it is more likely a number
 * (a card, an account) that happens to decode to printable bytes. */
#define HEX_DIGITS_ONLY 16

/* A long run stopped at a line break and may continue on the next line (wrapped base64, as
 * `base64` and PEM write it) if that line was at least WRAP_MIN chars, a multiple of 4. */
#define WRAP_MIN 40
enum {
    WRAP_NONE = 0,
    WRAP_CR,
    WRAP_LF,
};

/* ---- does a decoded byte string read as text? ----
 * Two views at once: UTF-8 and UTF-16LE (base64 of UTF-16LE is what PowerShell's
 * -EncodedCommand takes). A view passes when at most 1 in 16 characters is a control byte or
 * broken UTF-8, at least 4 are letters, and letters and digits are at least 25% of the rest.
 * Random bytes (hashes, keys, binary) fail the first rule; base64-alphabet words decoded by
 * mistake come out with high bytes that are not UTF-8 and fail it too. */
struct dec_counts {
    size_t chars, bad, alnum, letters;
};

struct dec_text {
    struct dec_counts u8, u16;
    size_t units, other; /* UTF-16 units; those above U+007F */
    unsigned need;       /* UTF-8 continuation bytes still expected */
    uint8_t lo, hi;      /* their allowed range */
    uint8_t even;        /* the low byte of a UTF-16 unit */
    bool odd;
};

static void counts_ascii(struct dec_counts *k, unsigned b)
{
    if ((b >= 0x20 && b < 0x7F) || b == '\t' || b == '\n' || b == '\r') {
        k->chars++;
        if (IS_ALPHA(b)) {
            k->letters++;
            k->alnum++;
        } else if (IS_DIGIT(b)) {
            k->alnum++;
        }
    } else {
        k->bad++;
    }
}

static bool counts_text(const struct dec_counts *k)
{
    size_t total = k->chars + k->bad;

    return total > 0 && k->bad * 16 <= total && k->letters >= 4 && k->alnum * 4 >= k->chars;
}

static void text_byte(struct dec_text *t, unsigned b)
{
    if (t->odd) {
        t->units++;
        if (b == 0)
            counts_ascii(&t->u16, t->even);
        else
            t->other++;
    }
    t->even = (uint8_t)b;
    t->odd = !t->odd;

    if (t->need) {
        if (b >= t->lo && b <= t->hi) {
            t->lo = 0x80;
            t->hi = 0xBF;
            if (--t->need == 0) {
                t->u8.chars++;
                t->u8.letters++;
                t->u8.alnum++;
            }
            return;
        }
        /* a broken sequence counts once; the byte starts afresh */
        t->u8.bad++;
        t->need = 0;
    }
    t->lo = 0x80;
    t->hi = 0xBF;
    if (b < 0x80) {
        counts_ascii(&t->u8, b);
    } else if (b >= 0xC2 && b <= 0xDF) {
        t->need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        t->need = 2;
        if (b == 0xE0)
            t->lo = 0xA0;
        else if (b == 0xED)
            t->hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        t->need = 3;
        if (b == 0xF0)
            t->lo = 0x90;
        else if (b == 0xF4)
            t->hi = 0x8F;
    } else {
        t->u8.bad++;
    }
}

/* 0: not text, 1: UTF-8 text, 2: UTF-16LE text (mostly ASCII). A character cut at the end
 * does not count: pieces of long runs end anywhere. */
static int text_verdict(const struct dec_text *t)
{
    if (counts_text(&t->u8))
        return 1;
    if (!t->odd && t->units >= 4 && t->other * 16 <= t->units && counts_text(&t->u16))
        return 2;
    return 0;
}

/* UTF-16LE to UTF-8 in place; output never outgrows input (units above U+07FF become '?'). */
static size_t utf16_to_utf8(char *buf, size_t n)
{
    size_t i, o = 0;
    unsigned u;

    for (i = 0; i + 1 < n; i += 2) {
        u = (unsigned)(uint8_t)buf[i] | (unsigned)(uint8_t)buf[i + 1] << 8;
        if (u == 0xFEFF)
            continue;
        if (u < 0x80) {
            buf[o++] = (char)u;
        } else if (u < 0x800) {
            buf[o++] = (char)(0xC0 | u >> 6);
            buf[o++] = (char)(0x80 | (u & 0x3F));
        } else {
            buf[o++] = '?';
        }
    }
    return o;
}

/* ---- span decoders ----
 * Decode n raw chars of `enc` into out (which may be `in`: output never overtakes input), or
 * only into the text test when out is NULL. Base64 is lenient: both alphabets, padding already
 * cut, a lone trailing char dropped; base32 likewise takes either case. Returns the decoded length.
 * A dry run (out NULL) stops early once neither view of the text test can pass any more. */
static size_t span_decode(enum guard_enc enc, const char *in, size_t n, char *out,
                          struct dec_text *t)
{
    size_t bound = enc == GUARD_ENC_HEX      ? n / 2
                   : enc == GUARD_ENC_BINARY ? n / 8
                   : enc == GUARD_ENC_BASE32 ? n * 5 / 8
                                             : n * 3 / 4;

    const uint8_t *p = (const uint8_t *)in;
    size_t i, k, o = 0;
    unsigned v, acc = 0, bits = 0;

    for (i = 0; i < n;) {
        if (enc == GUARD_ENC_HEX) {
            if (i + 1 >= n)
                break;
            v = (unsigned)dec_hex[p[i]] << 4 | dec_hex[p[i + 1]];
            i += 2;
        } else if (enc == GUARD_ENC_BINARY) {
            if (i + 8 > n)
                break;
            for (v = 0, k = 0; k < 8; k++)
                v = v << 1 | (p[i + k] & 1u);
            i += 8;
        } else {
            if (enc == GUARD_ENC_BASE32) {
                acc = (acc << 5 | dec_b32[p[i++]]) & 0xFFFFFFu;
                bits += 5;
            } else {
                acc = (acc << 6 | dec_b64[p[i++]]) & 0xFFFFFFu;
                bits += 6;
            }
            if (bits < 8)
                continue;
            bits -= 8;
            v = acc >> bits & 0xFFu;
        }
        if (out)
            out[o] = (char)v;
        o++;
        if (t) {
            text_byte(t, v);
            if (!out && t->u8.bad * 16 > bound && (t->other + t->u16.bad) * 16 > bound)
                break;
        }
    }
    return o;
}

/* ---- inline escapes ---- */
struct dec_esc {
    uint8_t out[4];
    uint8_t len;
    uint8_t enc;
};

static void esc_cp(struct dec_esc *e, uint32_t cp)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        cp = 0xFFFD;
    if (cp < 0x80) {
        e->out[0] = (uint8_t)cp;
        e->len = 1;
    } else if (cp < 0x800) {
        e->out[0] = (uint8_t)(0xC0 | cp >> 6);
        e->out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        e->len = 2;
    } else if (cp < 0x10000) {
        e->out[0] = (uint8_t)(0xE0 | cp >> 12);
        e->out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        e->out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        e->len = 3;
    } else {
        e->out[0] = (uint8_t)(0xF0 | cp >> 18);
        e->out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        e->out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        e->out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        e->len = 4;
    }
}

static void esc_byte(struct dec_esc *e, unsigned b)
{
    e->out[0] = (uint8_t)b;
    e->len = 1;
}

/* The escape parsers look at p[0..n). They return the bytes consumed (> 0) with *e filled, 0
 * when they need more bytes to decide, or -1 when p does not start an escape (p[0] is then
 * ordinary text). A decision never depends on n: bytes are judged as soon as they are there,
 * so every chunking decides alike. `final`: no byte follows p[n-1]. */
#define ESC_WANT(k)                \
    do {                           \
        if (n < (size_t)(k))       \
            return final ? -1 : 0; \
    } while (0)

/* A UTF-16 code unit from \uXXXX or %uXXXX, 6 bytes at p. A high surrogate takes a low one
 * from the next escape of the same kind; alone, either half becomes U+FFFD. */
static int esc_utf16(const uint8_t *p, size_t n, bool final, unsigned hi, struct dec_esc *e)
{
    unsigned lo = 0;
    size_t i;

    if (hi >= 0xD800 && hi <= 0xDBFF) {
        for (i = 6; i < 12; i++) {
            if (i >= n) {
                if (!final)
                    return 0;
                break;
            }
            if (i == 6 ? p[i] != p[0] : i == 7 ? (p[i] | 0x20) != 'u' : !IS_HEX(p[i]))
                break;
            if (i >= 8)
                lo = lo << 4 | dec_hex[p[i]];
        }
        if (i == 12 && lo >= 0xDC00 && lo <= 0xDFFF) {
            esc_cp(e, 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00));
            return 12;
        }
    }
    esc_cp(e, hi);
    return 6;
}

static int esc_hex_digits(const uint8_t *p, size_t n, bool final, size_t from, size_t count,
                          uint32_t *v)
{
    size_t i;

    *v = 0;
    for (i = from; i < from + count; i++) {
        ESC_WANT(i + 1);
        if (!IS_HEX(p[i]))
            return -1;
        *v = *v << 4 | dec_hex[p[i]];
    }
    return 1;
}

static int esc_percent(const uint8_t *p, size_t n, bool final, struct dec_esc *e)
{
    uint32_t v;
    int rc;

    e->enc = GUARD_ENC_PERCENT;
    ESC_WANT(2);
    if (p[1] == 'u' || p[1] == 'U') {
        rc = esc_hex_digits(p, n, final, 2, 4, &v);
        return rc <= 0 ? rc : esc_utf16(p, n, final, v, e);
    }
    rc = esc_hex_digits(p, n, final, 1, 2, &v);
    if (rc <= 0)
        return rc;
    esc_byte(e, v);
    return 3;
}

/* Named character references that hide text: markup, punctuation, spaces, quotes. Each
 * decodes to no more bytes than its name takes. */
static const struct {
    const char *name;
    const char *utf8;
} dec_entities[] = {
    {"amp", "&"},
    {"lt", "<"},
    {"gt", ">"},
    {"quot", "\""},
    {"apos", "'"},
    {"nbsp", "\xC2\xA0"},
    {"colon", ":"},
    {"sol", "/"},
    {"bsol", "\\"},
    {"lpar", "("},
    {"rpar", ")"},
    {"lsqb", "["},
    {"rsqb", "]"},
    {"lbrack", "["},
    {"rbrack", "]"},
    {"lcub", "{"},
    {"rcub", "}"},
    {"lbrace", "{"},
    {"rbrace", "}"},
    {"comma", ","},
    {"period", "."},
    {"excl", "!"},
    {"quest", "?"},
    {"num", "#"},
    {"semi", ";"},
    {"equals", "="},
    {"plus", "+"},
    {"ast", "*"},
    {"dollar", "$"},
    {"percnt", "%"},
    {"lowbar", "_"},
    {"grave", "`"},
    {"Hat", "^"},
    {"verbar", "|"},
    {"vert", "|"},
    {"commat", "@"},
    {"NewLine", "\n"},
    {"Tab", "\t"},
    {"hyphen", "\xE2\x80\x90"},
    {"dash", "\xE2\x80\x90"},
    {"ndash", "\xE2\x80\x93"},
    {"mdash", "\xE2\x80\x94"},
    {"hellip", "\xE2\x80\xA6"},
    {"lsquo", "\xE2\x80\x98"},
    {"rsquo", "\xE2\x80\x99"},
    {"ldquo", "\xE2\x80\x9C"},
    {"rdquo", "\xE2\x80\x9D"},
    {"bull", "\xE2\x80\xA2"},
    {"middot", "\xC2\xB7"},
    {"copy", "\xC2\xA9"},
    {"reg", "\xC2\xAE"},
    {"trade", "\xE2\x84\xA2"},
    {"deg", "\xC2\xB0"},
    {"laquo", "\xC2\xAB"},
    {"raquo", "\xC2\xBB"},
    {"times", "\xC3\x97"},
    {"divide", "\xC3\xB7"},
    {"shy", "\xC2\xAD"},
    {"zwj", "\xE2\x80\x8D"},
    {"zwnj", "\xE2\x80\x8C"},
    {"ensp", "\xE2\x80\x82"},
    {"emsp", "\xE2\x80\x83"},
    {"thinsp", "\xE2\x80\x89"},
    {"euro", "\xE2\x82\xAC"},
    {"pound", "\xC2\xA3"},
    {"yen", "\xC2\xA5"},
    {"cent", "\xC2\xA2"},
    {"sect", "\xC2\xA7"},
    {"para", "\xC2\xB6"},
    {"iexcl", "\xC2\xA1"},
    {"iquest", "\xC2\xBF"},
};

#define ENTITY_NAME_MAX 10
#define ENTITY_DIGITS   12 /* leading zeros included: "&#x0000000069;" still decodes */

static int esc_html(const uint8_t *p, size_t n, bool final, struct dec_esc *e)
{
    unsigned base = 10;
    uint32_t cp = 0;
    size_t i, start, k;

    e->enc = GUARD_ENC_HTML;
    ESC_WANT(2);
    if (p[1] == '#') {
        ESC_WANT(3);
        i = 2;
        if (p[2] == 'x' || p[2] == 'X') {
            base = 16;
            i = 3;
        }
        /* digits up to a non-digit; ';' is optional, as browsers read numeric references */
        for (start = i;; i++) {
            if (i >= n) {
                if (!final)
                    return 0;
                break;
            }
            if (base == 16 ? !IS_HEX(p[i]) : !IS_DIGIT(p[i]))
                break;
            if (i - start == ENTITY_DIGITS)
                return -1;
            cp = cp * base + (base == 16 ? dec_hex[p[i]] : (unsigned)(p[i] - '0'));
            if (cp > 0x110000)
                cp = 0x110000;
        }
        if (i == start)
            return -1;
        if (i < n && p[i] == ';')
            i++;
        esc_cp(e, cp == 0 ? 0xFFFD : cp);
        return (int)i;
    }
    if (!IS_ALPHA(p[1]))
        return -1;
    for (i = 1;; i++) {
        ESC_WANT(i + 1);
        if (p[i] == ';')
            break;
        if (!IS_ALPHA(p[i]) && !IS_DIGIT(p[i]))
            return -1;
        if (i > ENTITY_NAME_MAX)
            return -1;
    }
    for (k = 0; k < sizeof(dec_entities) / sizeof(dec_entities[0]); k++) {
        if (strlen(dec_entities[k].name) == i - 1 &&
            memcmp(dec_entities[k].name, p + 1, i - 1) == 0) {
            e->len = (uint8_t)strlen(dec_entities[k].utf8);
            memcpy(e->out, dec_entities[k].utf8, e->len);
            return (int)i + 1;
        }
    }
    return -1;
}

static int esc_backslash(const uint8_t *p, size_t n, bool final, struct dec_esc *e)
{
    uint32_t v = 0;
    size_t i;
    int rc;

    ESC_WANT(2);
    switch (p[1]) {
    case 'u':
        e->enc = GUARD_ENC_UESCAPE;
        ESC_WANT(3);
        if (p[2] == '{') {
            for (i = 3;; i++) {
                ESC_WANT(i + 1);
                if (p[i] == '}' && i > 3)
                    break;
                if (!IS_HEX(p[i]) || i == 9)
                    return -1;
                v = v << 4 | dec_hex[p[i]];
            }
            esc_cp(e, v);
            return (int)i + 1;
        }
        rc = esc_hex_digits(p, n, final, 2, 4, &v);
        return rc <= 0 ? rc : esc_utf16(p, n, final, v, e);
    case 'U':
        e->enc = GUARD_ENC_UESCAPE;
        rc = esc_hex_digits(p, n, final, 2, 8, &v);
        if (rc <= 0)
            return rc;
        esc_cp(e, v);
        return 10;
    case 'x':
        e->enc = GUARD_ENC_XESCAPE;
        rc = esc_hex_digits(p, n, final, 2, 2, &v);
        if (rc <= 0)
            return rc;
        esc_byte(e, v);
        return 4;
    case '0':
    case '1':
    case '2':
    case '3':
        e->enc = GUARD_ENC_XESCAPE;
        for (i = 2; i < 4; i++) {
            ESC_WANT(i + 1);
            if (p[i] < '0' || p[i] > '7')
                return -1;
        }
        esc_byte(e, (unsigned)(p[1] - '0') << 6 | (unsigned)(p[2] - '0') << 3 |
                        (unsigned)(p[3] - '0'));
        return 4;
    default:
        return -1;
    }
}

static int esc_parse(const uint8_t *p, size_t n, bool final, struct dec_esc *e)
{
    if (p[0] == '%')
        return esc_percent(p, n, final, e);
    if (p[0] == '&')
        return esc_html(p, n, final, e);
    return esc_backslash(p, n, final, e);
}

/* ---- handing payloads out ---- */

/* One scan over one chunk: the chunk, what of it is already in the inline copy, and where the
 * next escape bytes are (memchr results, refreshed once passed). */
struct dec_ctx {
    struct guard_decode *d;
    struct guard_decode_scan *s;
    const uint8_t *base, *end;
    const uint8_t *copy; /* first byte not yet in the inline copy; NULL at field end */
    const uint8_t *next[3];
};

static const char dec_esc_bytes[3] = {'%', '&', '\\'};

static size_t run_cap(const struct guard_decode *d, const struct guard_decode_scan *s)
{
    return s->layer == 1 || d->lim.max_run < GUARD_DECODE_RUN2 ? d->lim.max_run : GUARD_DECODE_RUN2;
}

static char *run_buf(struct guard_decode *d, const struct guard_decode_scan *s)
{
    return s->layer == 1 ? d->run1 : d->run2;
}

static size_t seg_cap(const struct guard_decode *d, const struct guard_decode_scan *s)
{
    return s->layer == 1 || d->lim.max_segment < GUARD_DECODE_SEGMENT2 ? d->lim.max_segment
                                                                       : GUARD_DECODE_SEGMENT2;
}

static char *seg_buf(struct guard_decode *d, const struct guard_decode_scan *s)
{
    return s->layer == 1 ? d->seg1 : d->seg2;
}

/* Hand a payload to the callback within the budget; returns the bytes handed out. */
static size_t deliver(struct guard_decode *d, enum guard_enc enc, unsigned layers, const char *buf,
                      size_t len, struct guard_decode_info *info)
{
    size_t room = d->lim.budget - d->used, k;

    if (len > room) {
        /* end on a character boundary (if the bytes are UTF-8 at all) */
        for (k = 0; k < 3 && room > 0 && ((uint8_t)buf[room] & 0xC0) == 0x80; k++)
            room--;
        len = room;
        info->cut = true;
        d->exhausted = true;
    }
    if (len == 0)
        return 0;
    d->used += len;
    d->info = *info;
    d->fn(d->ud, enc, layers, buf, len);
    return len;
}

static void scan_block(struct guard_decode *d, struct guard_decode_scan *s, const char *buf,
                       size_t len);

/* A payload found by scanner s: layer 1 goes out and is searched again; layer 2 goes out. */
static void scan_emit(struct guard_decode *d, struct guard_decode_scan *s, enum guard_enc enc,
                      unsigned mask, const char *buf, size_t len, uint64_t offset, bool cut)
{
    struct guard_decode_info info;
    size_t n;

    if (d->exhausted || len == 0)
        return;
    if (s->layer == 2) {
        info = d->cur;
        info.inner = mask;
        info.cut = cut;
        deliver(d, d->cur_enc, 2, buf, len, &info);
        return;
    }
    info.outer = mask;
    info.inner = 0;
    info.offset = offset;
    info.cut = cut;
    n = deliver(d, enc, 1, buf, len, &info);
    if (n == 0 || d->exhausted)
        return;
    d->cur = info;
    d->cur_enc = enc;
    scan_block(d, &d->l2, buf, n);
}

/* ---- Morse, in each piece of the inline copy ---- */

/* Letters by code: index (1 << length) | bits, a dash a 1, first symbol highest. */
static const char dec_morse[256] = {
    [2] = 'E',   [3] = 'T',   [4] = 'I',   [5] = 'A',   [6] = 'N',   [7] = 'M',  [8] = 'S',
    [9] = 'U',   [10] = 'R',  [11] = 'W',  [12] = 'D',  [13] = 'K',  [14] = 'G', [15] = 'O',
    [16] = 'H',  [17] = 'V',  [18] = 'F',  [20] = 'L',  [22] = 'P',  [23] = 'J', [24] = 'B',
    [25] = 'X',  [26] = 'C',  [27] = 'Y',  [28] = 'Z',  [29] = 'Q',  [32] = '5', [33] = '4',
    [35] = '3',  [39] = '2',  [40] = '&',  [42] = '+',  [47] = '1',  [48] = '6', [49] = '=',
    [50] = '/',  [54] = '(',  [56] = '7',  [60] = '8',  [62] = '9',  [63] = '0', [76] = '?',
    [77] = '_',  [82] = '"',  [85] = '.',  [90] = '@',  [94] = '\'', [97] = '-', [106] = ';',
    [107] = '!', [109] = ')', [115] = ',', [120] = ':', [137] = '$',
};

#define IS_MORSE(c) ((c) == '.' || (c) == '-')
#define DEC_INLINE                                                      \
    (GUARD_ENC_BIT(GUARD_ENC_PERCENT) | GUARD_ENC_BIT(GUARD_ENC_HTML) | \
     GUARD_ENC_BIT(GUARD_ENC_UESCAPE) | GUARD_ENC_BIT(GUARD_ENC_XESCAPE))

#if !DEC_SSE2
/* The high bit of each byte of v that equals c (exact: no borrow between bytes). */
static uint64_t swar_eq(uint64_t v, unsigned c)
{
    const uint64_t lows = 0x7F7F7F7F7F7F7F7Full;
    uint64_t x = v ^ (0x0101010101010101ull * c);

    return ~(((x & lows) + lows) | x | lows);
}
#endif

/* How often buf[0..n) has a dot or dash, a space, then a dot or dash: Morse has one between
 * most two letters of a word, prose almost never. Cheap, so that only likely pieces are parsed;
 * accepted Morse has a dash, and most text has none. */
static size_t morse_hint(const char *buf, size_t n)
{
    size_t i = 0, count = 0;

    if (memchr(buf, '-', n) == NULL)
        return 0;
#if DEC_SSE2
    unsigned pm = 0, ps = 0, m, sp, x;

    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(buf + i));

        m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
                                                     _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
        sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')));
        /* usually zero; no popcount: without -mpopcnt it is a library call */
        for (x = (m << 2 | pm >> 14) & (sp << 1 | ps >> 15) & m & 0xFFFFu; x; x &= x - 1)
            count++;
        pm = m;
        ps = sp;
    }
    if (i >= 2)
        i -= 2;
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t v, pm = 0, ps = 0, m, sp, x;

    for (; i + 8 <= n; i += 8) {
        memcpy(&v, buf + i, 8);
        m = swar_eq(v, '.') | swar_eq(v, '-');
        sp = swar_eq(v, ' ');
        for (x = (m << 16 | pm >> 48) & (sp << 8 | ps >> 56) & m; x; x &= x - 1)
            count++;
        pm = m;
        ps = sp;
    }
    if (i >= 2)
        i -= 2;
#endif
    for (; i + 2 < n; i++)
        count += IS_MORSE(buf[i]) && buf[i + 1] == ' ' && IS_MORSE(buf[i + 2]);
    return count;
}

/* Hand out the text of each Morse region of buf[0..n) (a piece of the inline copy); regions
 * that end within its first `fresh` bytes went out with the piece before; unless `final`, one
 * that reaches the end of the piece goes on in the next. */
static void morse_scan(struct guard_decode *d, struct guard_decode_scan *s, const char *buf,
                       size_t n, size_t fresh, uint64_t offset, bool final)
{
    char *out = d->morse[s->layer - 1];
    size_t i = 0, j, o, groups, invalid, spaces, len;
    uint64_t seen;
    unsigned code;
    bool dot, dash, slash, full;
    char c;

    while (i < n) {
        if (!IS_MORSE(buf[i])) {
            i++;
            continue;
        }
        /* glued to a word or number ("e.g.", "x-ray", "3.5"): not Morse */
        if (i > 0 && (IS_ALPHA(buf[i - 1]) || IS_DIGIT(buf[i - 1]))) {
            while (i < n && IS_MORSE(buf[i]))
                i++;
            continue;
        }
        o = groups = invalid = 0;
        seen = 0;
        dot = dash = full = false;
        for (;;) {
            for (code = 1, len = 0; i < n && IS_MORSE(buf[i]); i++, len++) {
                code = (code << 1 | (buf[i] == '-')) & 0x1FFu;
                dot |= buf[i] == '.';
                dash |= buf[i] == '-';
            }
            c = len <= 7 ? dec_morse[code & 0xFF] : 0;
            groups++;
            if (c == 0) {
                invalid++;
                c = '?';
            } else if (IS_UPPER(c)) {
                seen |= 1ull << (c - 'A');
            } else if (IS_DIGIT(c)) {
                seen |= 1ull << (26 + c - '0');
            }
            if (o < GUARD_DECODE_MORSE)
                out[o++] = c;
            else
                full = true;
            for (j = i, spaces = 0, slash = false;
                 j < n && (buf[j] == ' ' || buf[j] == '/' || buf[j] == '|'); j++) {
                spaces += buf[j] == ' ';
                slash |= buf[j] != ' ';
            }
            if (j == i || j >= n || !IS_MORSE(buf[j]))
                break;
            if ((slash || spaces >= 2) && o < GUARD_DECODE_MORSE)
                out[o++] = ' ';
            i = j;
        }
        if (i > fresh && groups >= GUARD_DECODE_MIN_MORSE && __builtin_popcountll(seen) >= 3 &&
            dot && dash && invalid * 8 <= groups)
            scan_emit(d, s, GUARD_ENC_MORSE, GUARD_ENC_BIT(GUARD_ENC_MORSE), out, o, offset,
                      full || (!final && i == n));
    }
}

/* ---- the inline copy ---- */

/* The tail of `keep` bytes at p, less the continuation bytes of a character cut at its start. */
static size_t keep_from(const char *p, size_t keep)
{
    size_t k;

    for (k = 0; k < 3 && k < keep && ((uint8_t)p[k] & 0xC0) == 0x80; k++)
        ;
    return keep - k;
}

/* Hand out the piece of the inline copy if it holds enough escapes, look for Morse in it, and
 * keep its tail for the next piece (which starts at input offset `next`) unless final. */
static void seg_flush(struct guard_decode *d, struct guard_decode_scan *s, bool final,
                      uint64_t next)
{
    char *buf = seg_buf(d, s);
    size_t keep;

    if (s->seg_esc > 0 && s->seg_esc >= d->lim.min_escapes)
        scan_emit(d, s, (enum guard_enc)s->seg_first, s->seg_mask, buf, s->seg_len, s->seg_off,
                  s->seg_cut || !final);
    /* (a layer-1 inline copy had its Morse looked for already) */
    if (!d->exhausted && !(s->layer == 2 && (d->cur.outer & DEC_INLINE)) &&
        morse_hint(buf, s->seg_len) >= 3)
        morse_scan(d, s, buf, s->seg_len, s->seg_keep, s->seg_start, final);
    s->seg_esc = 0;
    s->seg_mask = 0;
    if (final) {
        s->seg_len = 0;
        s->seg_keep = 0;
        s->seg_cut = false;
        return;
    }
    keep = s->seg_len < GUARD_DECODE_OVERLAP ? s->seg_len : GUARD_DECODE_OVERLAP;
    keep = keep_from(buf + s->seg_len - keep, keep);
    memmove(buf, buf + s->seg_len - keep, keep);
    s->seg_len = keep;
    s->seg_keep = keep;
    s->seg_start = next;
    s->seg_cut = true;
}

/* Plain bytes p[0..n), which start at input offset `offset`. */
static void seg_put(struct guard_decode *d, struct guard_decode_scan *s, const uint8_t *p, size_t n,
                    uint64_t offset)
{
    size_t cap = seg_cap(d, s), k;

    while (n > 0) {
        if (s->seg_len == cap)
            seg_flush(d, s, false, offset);
        k = cap - s->seg_len < n ? cap - s->seg_len : n;
        memcpy(seg_buf(d, s) + s->seg_len, p, k);
        s->seg_len += k;
        p += k;
        n -= k;
        offset += k;
    }
}

/* Bring the inline copy up to `at` before anything is handed out, so that the order of the
 * payloads (and what the budget cuts) does not depend on the chunking. */
static void ctx_sync(struct dec_ctx *x, const uint8_t *at)
{
    if (x->copy && at > x->copy) {
        seg_put(x->d, x->s, x->copy, (size_t)(at - x->copy),
                x->s->pos + (uint64_t)(x->copy - x->base));
        x->copy = at;
    }
}

static void seg_escape(struct guard_decode *d, struct guard_decode_scan *s, const struct dec_esc *e,
                       uint64_t offset)
{
    if (s->seg_len + e->len > seg_cap(d, s))
        seg_flush(d, s, false, offset);
    memcpy(seg_buf(d, s) + s->seg_len, e->out, e->len);
    s->seg_len += e->len;
    /* printf formats ("%02x", "%08d") look like escapes to controls; they hide no text */
    if (e->len == 1 && e->out[0] < 0x20 && e->out[0] != '\t' && e->out[0] != '\n' &&
        e->out[0] != '\r')
        return;
    if (s->seg_esc++ == 0) {
        s->seg_first = e->enc;
        s->seg_off = offset;
    }
    s->seg_mask |= GUARD_ENC_BIT(e->enc);
}

/* ---- runs and separated sequences: pieces in the run buffer ----
 * The run buffer holds GUARD_DECODE_OVERLAP bytes for the tail of the previous piece, then the
 * piece: raw chars of a run (decoded in place), or decoded bytes of a sequence. */

/* Hand out a decoded piece of `len` bytes at the start of the piece area, after the kept tail,
 * and keep the new tail when more pieces follow. */
static void piece_out(struct dec_ctx *x, enum guard_enc enc, unsigned mask, size_t len, bool final)
{
    struct guard_decode_scan *s = x->s;
    char *area = run_buf(x->d, s) + GUARD_DECODE_OVERLAP;
    size_t total = s->ov_len + len, keep;

    scan_emit(x->d, s, enc, mask, area - s->ov_len, total, s->run_off, s->run_cut || !final);
    if (final)
        return;
    keep = total < GUARD_DECODE_OVERLAP ? total : GUARD_DECODE_OVERLAP;
    keep = keep_from(area + len - keep, keep);
    memmove(area - keep, area + len - keep, keep);
    s->ov_len = keep;
}

/* Is raw[0..n) text once decoded as enc? 0 no, 1 UTF-8, 2 UTF-16LE. */
static int run_try(enum guard_enc enc, const char *raw, size_t n)
{
    struct dec_text t;

    memset(&t, 0, sizeof(t));
    span_decode(enc, raw, n, NULL, &t);
    return text_verdict(&t);
}

/* Choose how raw[0..n) decodes to text: binary, then hex, then base32 (one case), then base64.
 * Returns the encoding or -1; *skip is a "0x" prefix to drop, *wide the UTF-16 verdict. */
static int run_pick(const char *raw, size_t n, bool first, bool whole, size_t *skip, bool *wide)
{
    const uint8_t *p = (const uint8_t *)raw;
    unsigned all = 0xFF, any = 0, rest = 0xFF;
    bool upper = false, lower = false, hex_letter = false;
    size_t i;
    int v;

    for (i = 0; i < n; i++) {
        all &= dec_class[p[i]];
        any |= dec_class[p[i]];
        if (i >= 2)
            rest &= dec_class[p[i]];
        upper |= IS_UPPER(p[i]);
        lower |= IS_LOWER(p[i]);
        hex_letter |= IS_HEX(p[i]) && IS_ALPHA(p[i]);
    }
    *skip = 0;
    if ((all & CL_B) && n % 8 == 0 && (n >= 64 || !whole)) {
        v = run_try(GUARD_ENC_BINARY, raw, n);
        if (v) {
            *wide = v == 2;
            return GUARD_ENC_BINARY;
        }
    }
    if (first && n > 2 && p[0] == '0' && (p[1] | 0x20) == 'x' && (rest & CL_H))
        *skip = 2;
    /* hex of text has a letter digit somewhere ('n' is 6e); 16 digits alone are a card number */
    if (((all & CL_H) || *skip) && (n - *skip) % 2 == 0 &&
        (hex_letter || n - *skip >= 2 * HEX_DIGITS_ONLY || !whole)) {
        v = run_try(GUARD_ENC_HEX, raw + *skip, n - *skip);
        if (v) {
            *wide = v == 2;
            return GUARD_ENC_HEX;
        }
    }
    *skip = 0;
    if ((all & CL_B32) && !(upper && lower)) {
        v = run_try(GUARD_ENC_BASE32, raw, n);
        if (v) {
            *wide = v == 2;
            return GUARD_ENC_BASE32;
        }
    }
    if (!((any & CL_STD) && (any & CL_URL))) {
        v = run_try(GUARD_ENC_BASE64, raw, n);
        if (v) {
            *wide = v == 2;
            return GUARD_ENC_BASE64;
        }
    }
    return -1;
}

/* Does the last line of a wrapped run, raw[0..n), decode as enc to clean text (UTF-8, or
 * UTF-16LE)? `before` is how many bytes the lines before it decode to, for the UTF-16 pairing. */
static bool tail_clean(enum guard_enc enc, const char *raw, size_t n, size_t before)
{
    struct dec_text t;

    memset(&t, 0, sizeof(t));
    if (before % 2)
        text_byte(&t, 'A');
    span_decode(enc, raw, n, NULL, &t);
    return (t.u8.bad == 0 && t.need == 0) || (t.u16.bad == 0 && t.other == 0);
}

static void run_piece(struct dec_ctx *x, bool final)
{
    struct guard_decode_scan *s = x->s;
    char *raw = run_buf(x->d, s) + GUARD_DECODE_OVERLAP;
    size_t n = s->run_len, skip = 0, skip2 = 0, len, wrap = s->last_wrap;
    bool first = !s->run_cut, wide = false, wide2 = false;
    int enc, enc2;

    enc = run_pick(raw, n, first, final && first, &skip, &wide);
    /* A wrapped run may end in a word that is not part of it ("...IHRv\nThanks"): when that
     * last line does not decode cleanly, the run ends at the line break before it. */
    if (final && wrap > 0 &&
        (enc < 0 ||
         !tail_clean((enum guard_enc)enc, raw + wrap, n - wrap,
                     span_decode((enum guard_enc)enc, raw + skip, wrap - skip, NULL, NULL)))) {
        enc2 = run_pick(raw, wrap, first, first, &skip2, &wide2);
        if (enc2 >= 0) {
            enc = enc2;
            skip = skip2;
            wide = wide2;
            n = wrap;
        }
    }
    if (enc >= 0) {
        len = span_decode((enum guard_enc)enc, raw + skip, n - skip, raw, NULL);
        if (wide)
            len = utf16_to_utf8(raw, len);
        piece_out(x, (enum guard_enc)enc,
                  GUARD_ENC_BIT(enc) | (wide ? GUARD_ENC_BIT(GUARD_ENC_UTF16) : 0u), len, final);
    } else {
        s->ov_len = 0;
    }
    s->run_cut = true;
    s->run_len = 0;
    s->last_wrap = 0;
}

static void seq_piece(struct dec_ctx *x, bool final)
{
    struct guard_decode_scan *s = x->s;
    char *buf = run_buf(x->d, s) + GUARD_DECODE_OVERLAP;
    enum guard_enc enc = (enum guard_enc)(s->seq_kind - 1);
    size_t min = enc == GUARD_ENC_HEX ? GUARD_DECODE_MIN_HEX : GUARD_DECODE_MIN_OCTET;
    size_t len = s->run_len, i;
    bool hex_letter = false;
    struct dec_text t;
    int v = 0;

    for (i = 0; enc == GUARD_ENC_HEX && i < len; i++)
        hex_letter |= ((uint8_t)buf[i] & 0xF) >= 10 || (uint8_t)buf[i] >= 0xA0;
    if (enc == GUARD_ENC_HEX && !hex_letter && s->seq_count < HEX_DIGITS_ONLY)
        min = HEX_DIGITS_ONLY;
    if (s->run_cut || s->seq_count >= min) {
        memset(&t, 0, sizeof(t));
        for (i = 0; i < len; i++)
            text_byte(&t, (uint8_t)buf[i]);
        v = text_verdict(&t);
    }
    if (v) {
        if (v == 2)
            len = utf16_to_utf8(buf, len);
        piece_out(x, enc, GUARD_ENC_BIT(enc) | (v == 2 ? GUARD_ENC_BIT(GUARD_ENC_UTF16) : 0u), len,
                  final);
    } else {
        s->ov_len = 0;
    }
    s->run_cut = true;
    s->run_len = 0;
}

static void seq_finish(struct dec_ctx *x, const uint8_t *at)
{
    struct guard_decode_scan *s = x->s;

    if (!s->seq_kind)
        return;
    ctx_sync(x, at);
    seq_piece(x, true);
    s->seq_kind = 0;
    s->seq_count = 0;
    s->seq_sep = 0;
    s->run_len = 0;
    s->ov_len = 0;
    s->run_cut = false;
}

static void run_finish(struct dec_ctx *x, const uint8_t *at)
{
    struct guard_decode_scan *s = x->s;

    ctx_sync(x, at);
    run_piece(x, true);
    s->in_run = false;
    s->word_len = 0;
    s->wrap = WRAP_NONE;
    s->run_len = 0;
    s->ov_len = 0;
    s->run_cut = false;
}

/* Append raw run chars p[0..n); a full piece is decoded when the next char arrives. */
static void run_append(struct dec_ctx *x, const uint8_t *p, size_t n)
{
    struct guard_decode_scan *s = x->s;
    size_t cap = run_cap(x->d, s), k;

    while (n > 0) {
        if (s->run_len == cap) {
            ctx_sync(x, p);
            run_piece(x, false);
        }
        k = cap - s->run_len < n ? cap - s->run_len : n;
        memcpy(run_buf(x->d, s) + GUARD_DECODE_OVERLAP + s->run_len, p, k);
        s->run_len += k;
        p += k;
        n -= k;
    }
}

/* Word chars p[0..n) of the word in progress. */
static void word_take(struct dec_ctx *x, const uint8_t *p, size_t n)
{
    struct guard_decode_scan *s = x->s;
    size_t first;

    if (!s->in_run) {
        if (s->word_len + n < GUARD_DECODE_MIN_RUN) {
            memcpy(s->carry + s->word_len, p, n);
            s->word_len += n;
            return;
        }
        /* long enough for a run: a sequence in progress ends at its MIN_RUN-th char */
        first = GUARD_DECODE_MIN_RUN - 1 - s->word_len;
        seq_finish(x, p + first);
        s->in_run = true;
        s->run_off = s->word_off;
        s->run_len = 0;
        s->ov_len = 0;
        s->run_cut = false;
        s->last_wrap = 0;
        run_append(x, s->carry, s->word_len);
    }
    run_append(x, p, n);
    s->word_len += n;
}

/* A token's value and kind (enum guard_enc + 1), or 0 when the word is none. */
static unsigned token_of(const uint8_t *w, size_t n, uint8_t *v)
{
    size_t i;

    if (n == 2 && IS_HEX(w[0]) && IS_HEX(w[1])) {
        *v = (uint8_t)(dec_hex[w[0]] << 4 | dec_hex[w[1]]);
        return GUARD_ENC_HEX + 1;
    }
    if (n == 4 && w[0] == '0' && (w[1] | 0x20) == 'x' && IS_HEX(w[2]) && IS_HEX(w[3])) {
        *v = (uint8_t)(dec_hex[w[2]] << 4 | dec_hex[w[3]]);
        return GUARD_ENC_HEX + 1;
    }
    if (n == 8) {
        for (*v = 0, i = 0; i < 8; i++) {
            if (w[i] != '0' && w[i] != '1')
                return 0;
            *v = (uint8_t)(*v << 1 | (w[i] & 1));
        }
        return GUARD_ENC_BINARY + 1;
    }
    return 0;
}

/* The word in progress ended at `at` (byte `term`, or NULL at field end). */
static void word_end(struct dec_ctx *x, const uint8_t *at)
{
    struct guard_decode_scan *s = x->s;
    unsigned kind;
    uint8_t v = 0;
    size_t cap;

    if (s->in_run) {
        if (at && (*at == '\n' || *at == '\r') && s->word_len >= WRAP_MIN && s->word_len % 4 == 0) {
            s->wrap = *at == '\r' ? WRAP_CR : WRAP_LF;
            s->last_wrap = s->run_len;
            s->word_len = 0;
            return;
        }
        run_finish(x, at);
        return;
    }
    kind = token_of(s->carry, s->word_len, &v);
    s->word_len = 0;
    if (!kind) {
        seq_finish(x, at);
        return;
    }
    if (s->seq_kind != kind) {
        seq_finish(x, at);
        s->seq_kind = (uint8_t)kind;
        s->seq_count = 0;
        s->run_off = s->word_off;
        s->run_len = 0;
        s->ov_len = 0;
        s->run_cut = false;
    }
    cap = run_cap(x->d, s);
    if (s->run_len == cap) {
        ctx_sync(x, at);
        seq_piece(x, false);
    }
    run_buf(x->d, s)[GUARD_DECODE_OVERLAP + s->run_len++] = (char)v;
    s->seq_count++;
    s->seq_sep = 0;
}

static bool scan_idle(const struct guard_decode_scan *s)
{
    return s->word_len == 0 && !s->in_run && s->wrap == WRAP_NONE && s->seq_kind == 0 &&
           s->esc_len == 0;
}

/* ---- escapes in the stream ---- */

static void scan_feed(struct guard_decode *d, struct guard_decode_scan *s, const uint8_t *p,
                      size_t len);

/* Held bytes that turned out not to be (all) escape: scan them again as text. */
static void refeed(struct guard_decode *d, struct guard_decode_scan *s, const uint8_t *p, size_t n,
                   uint64_t offset)
{
    uint8_t tmp[GUARD_DECODE_ESC_MAX];
    uint64_t pos = s->pos;

    memcpy(tmp, p, n);
    s->pos = offset;
    scan_feed(d, s, tmp, n);
    s->pos = pos;
}

/* Settle the escape held from the previous chunk with the bytes at p (or at field end when
 * x->copy is NULL); returns where the chunk goes on. */
static const uint8_t *esc_resume(struct dec_ctx *x, const uint8_t *p)
{
    struct guard_decode *d = x->d;
    struct guard_decode_scan *s = x->s;
    uint8_t tmp[2 * GUARD_DECODE_ESC_MAX], held[GUARD_DECODE_ESC_MAX];
    size_t h, k;
    struct dec_esc e;
    uint64_t off;
    int rc;

    while (s->esc_len > 0 && !d->exhausted && (x->copy == NULL || p < x->end)) {
        h = s->esc_len;
        k = x->copy == NULL ? 0 : (size_t)(x->end - p);
        if (k > GUARD_DECODE_ESC_MAX)
            k = GUARD_DECODE_ESC_MAX;
        memcpy(tmp, s->esc, h);
        if (k)
            memcpy(tmp + h, p, k);
        rc = esc_parse(tmp, h + k, x->copy == NULL, &e);
        if (rc == 0 && x->copy == NULL)
            rc = -1; /* cannot happen: at the field end every escape is decided */
        if (rc == 0) {
            /* still undecided: the whole chunk was short */
            memcpy(s->esc + h, p, k);
            s->esc_len = (uint8_t)(h + k);
            p += k;
            x->copy = p;
            break;
        }
        memcpy(held, s->esc, h);
        off = s->esc_off;
        s->esc_len = 0;
        if (rc > 0) {
            seg_escape(d, s, &e, off);
            if ((size_t)rc >= h) {
                if (x->copy) {
                    p += (size_t)rc - h;
                    x->copy = p;
                }
            } else {
                refeed(d, s, held + rc, h - (size_t)rc, off + (uint64_t)rc);
            }
        } else {
            seg_put(d, s, held, 1, off);
            refeed(d, s, held + 1, h - 1, off + 1);
        }
    }
    return p;
}

/* An escape byte at p, in the chunk. */
static const uint8_t *esc_at(struct dec_ctx *x, const uint8_t *p)
{
    struct guard_decode_scan *s = x->s;
    struct dec_esc e;
    int rc;

    rc = esc_parse(p, (size_t)(x->end - p), false, &e);
    if (rc < 0)
        return p + 1;
    ctx_sync(x, p);
    if (rc == 0) {
        memcpy(s->esc, p, (size_t)(x->end - p));
        s->esc_len = (uint8_t)(x->end - p);
        s->esc_off = s->pos + (uint64_t)(p - x->base);
        x->copy = x->end;
        return x->end;
    }
    seg_escape(x->d, s, &e, s->pos + (uint64_t)(p - x->base));
    p += rc;
    x->copy = p;
    return p;
}

/* ---- the scanners ---- */

/* Exact scanner: from p until it is idle again (or the chunk ends). */
static const uint8_t *scan_slow(struct dec_ctx *x, const uint8_t *p)
{
    struct guard_decode_scan *s = x->s;
    const uint8_t *q;
    unsigned c;

    while (p < x->end && !x->d->exhausted) {
        c = dec_class[*p];
        if (c & CL_W) {
            for (q = p + 1; q < x->end && (dec_class[*q] & CL_W); q++)
                ;
            if (s->word_len == 0 && s->wrap == WRAP_NONE)
                s->word_off = s->pos + (uint64_t)(p - x->base);
            s->wrap = WRAP_NONE;
            word_take(x, p, (size_t)(q - p));
            p = q;
            continue;
        }
        if (s->wrap != WRAP_NONE) {
            if (*p == '\n' && s->wrap == WRAP_CR) {
                s->wrap = WRAP_LF;
                p++;
                continue;
            }
            run_finish(x, p);
        } else if (s->word_len > 0) {
            word_end(x, p);
            if (s->wrap != WRAP_NONE) {
                p++;
                continue;
            }
        }
        if (s->seq_kind) {
            if ((c & CL_S) && s->seq_sep < 2) {
                s->seq_sep++;
                p++;
                continue;
            }
            seq_finish(x, p);
        }
        p = (c & CL_E) ? esc_at(x, p) : p + 1;
        if (scan_idle(s))
            break;
    }
    return p;
}

#define SHL(m, pm, k) ((m) << (k) | (pm) >> (64 - (k)))

#if DEC_SSE2
/* Bytes of v in [lo, lo + n). */
static __m128i sse_range(__m128i v, int lo, int n)
{
    __m128i d = _mm_sub_epi8(v, _mm_set1_epi8((char)lo));

    return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((char)(n - 1))), d);
}
#endif

/* Word, hex, binary-digit and separator masks of the 64 bytes at r (bit i: byte i). */
static void fast_masks(const uint8_t *r, uint64_t *w, uint64_t *h, uint64_t *b, uint64_t *sp)
{
    size_t j;

    *w = *h = *b = *sp = 0;
#if DEC_SSE2
    for (j = 0; j < 4; j++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(r + 16 * j));
        __m128i lc = _mm_or_si128(v, _mm_set1_epi8(0x20));
        __m128i digit = sse_range(v, '0', 10);
        __m128i sym = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('+')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('/'))),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('-')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
        __m128i sep = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(' ')),
                         _mm_cmpeq_epi8(v, _mm_set1_epi8(','))),
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(':')), sse_range(v, '\t', 5)));

        *w |= (uint64_t)(unsigned)_mm_movemask_epi8(
                  _mm_or_si128(_mm_or_si128(sse_range(lc, 'a', 26), digit), sym))
              << (16 * j);
        *h |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(digit, sse_range(lc, 'a', 6)))
              << (16 * j);
        *b |= (uint64_t)(unsigned)_mm_movemask_epi8(sse_range(v, '0', 2)) << (16 * j);
        *sp |= (uint64_t)(unsigned)_mm_movemask_epi8(sep) << (16 * j);
    }
#else
    uint64_t a0, a1;
    size_t i;

    for (j = 0; j < 4; j++, r += 16) {
        a0 = a1 = 0;
        for (i = 0; i < 16; i += 2) {
            a0 |= dec_lanes[r[i]] << i;
            a1 |= dec_lanes[r[i + 1]] << (i + 1);
        }
        a0 |= a1;
        *w |= (a0 & 0xFFFFu) << (16 * j);
        *h |= (a0 >> 16 & 0xFFFFu) << (16 * j);
        *b |= (a0 >> 32 & 0xFFFFu) << (16 * j);
        *sp |= (a0 >> 48) << (16 * j);
    }
#endif
}

/* Prefilter, 64 bytes at a time: the first position in [p, lim) the exact scanner must see,
 * given that no word is in progress at p. That is the start of a word that reaches MIN_RUN
 * chars, or of a token (2 hex digits, 0x and 2 hex digits, 8 bits) followed by a separator;
 * else lim, or with at_end the start of the word the chunk ends in. Everything skipped leaves
 * the exact scanner's state as it was (idle). */
static const uint8_t *scan_fast(const uint8_t *p, const uint8_t *lim, bool at_end)
{
    uint64_t w, h, b, sp, pw = 0, ph = 0, pb = 0, w2, w4, w8, pw2, pw4, pw8, b2, b4, b8, pb2, pb4,
                          pb8, f;
    const uint8_t *blk, *r, *x;
    uint8_t tail[64];
    size_t n;

    for (blk = p; blk < lim; blk += 64) {
        n = (size_t)(lim - blk);
        r = blk;
        if (n < 64) {
            memset(tail, 0, sizeof(tail));
            memcpy(tail, blk, n);
            r = tail;
        }
        fast_masks(r, &w, &h, &b, &sp);
        /* runs of 16 word bytes, 8 binary digits; the bits of the block before carry in */
        pw2 = pw & pw << 1;
        pw4 = pw2 & pw2 << 2;
        pw8 = pw4 & pw4 << 4;
        w2 = w & SHL(w, pw, 1);
        w4 = w2 & SHL(w2, pw2, 2);
        w8 = w4 & SHL(w4, pw4, 4);
        pb2 = pb & pb << 1;
        pb4 = pb2 & pb2 << 2;
        pb8 = pb4 & pb4 << 4;
        b2 = b & SHL(b, pb, 1);
        b4 = b2 & SHL(b2, pb2, 2);
        b8 = b4 & SHL(b4, pb4, 4);
        f = w8 & SHL(w8, pw8, 8);
        f |= sp & SHL(h, ph, 1) & SHL(h, ph, 2) & ~SHL(w, pw, 3);
        f |= sp & SHL(h, ph, 1) & SHL(h, ph, 2) & SHL(w, pw, 3) & SHL(b, pb, 4) & ~SHL(w, pw, 5);
        f |= sp & SHL(b8, pb8, 1) & ~SHL(w, pw, 9);
        if (f) {
            x = blk + __builtin_ctzll(f);
            while (x > p && (dec_class[x[-1]] & CL_W))
                x--;
            return x;
        }
        pw = w;
        ph = h;
        pb = b;
    }
    x = lim;
    if (at_end)
        while (x > p && (dec_class[x[-1]] & CL_W))
            x--;
    return x;
}

/* The next escape byte at or after p, or the chunk end. */
static const uint8_t *ctx_next_esc(struct dec_ctx *x, const uint8_t *p)
{
    const uint8_t *m = x->end;
    size_t k;

    for (k = 0; k < 3; k++) {
        if (x->next[k] < p) {
            x->next[k] = memchr(p, dec_esc_bytes[k], (size_t)(x->end - p));
            if (x->next[k] == NULL)
                x->next[k] = x->end;
        }
        if (x->next[k] < m)
            m = x->next[k];
    }
    return m;
}

static void scan_feed(struct guard_decode *d, struct guard_decode_scan *s, const uint8_t *p,
                      size_t len)
{
    struct dec_ctx x;
    const uint8_t *lim;
    size_t k;

    x.d = d;
    x.s = s;
    x.base = p;
    x.end = p + len;
    x.copy = p;
    for (k = 0; k < 3; k++) {
        x.next[k] = memchr(p, dec_esc_bytes[k], len);
        if (x.next[k] == NULL)
            x.next[k] = x.end;
    }
    if (s->esc_len)
        p = esc_resume(&x, p);
    while (p < x.end && !d->exhausted) {
        if (s->esc_len) {
            p = esc_resume(&x, p);
            continue;
        }
        if (!scan_idle(s)) {
            p = scan_slow(&x, p);
            continue;
        }
        lim = ctx_next_esc(&x, p);
        p = scan_fast(p, lim, lim == x.end);
        if (p < x.end)
            p = scan_slow(&x, p);
    }
    if (!d->exhausted)
        ctx_sync(&x, x.end);
    s->pos += len;
}

static void scan_clear(struct guard_decode_scan *s)
{
    unsigned layer = s->layer;

    memset(s, 0, sizeof(*s));
    s->layer = layer;
}

static void scan_end(struct guard_decode *d, struct guard_decode_scan *s)
{
    struct dec_ctx x;

    memset(&x, 0, sizeof(x));
    x.d = d;
    x.s = s;
    while (s->esc_len > 0 && !d->exhausted)
        esc_resume(&x, NULL);
    if (!d->exhausted) {
        if (s->wrap != WRAP_NONE)
            run_finish(&x, NULL);
        else if (s->word_len > 0)
            word_end(&x, NULL);
        seq_finish(&x, NULL);
        seg_flush(d, s, true, 0);
    }
    scan_clear(s);
}

/* Layer 2: one whole layer-1 payload. */
static void scan_block(struct guard_decode *d, struct guard_decode_scan *s, const char *buf,
                       size_t len)
{
    scan_clear(s);
    scan_feed(d, s, (const uint8_t *)buf, len);
    scan_end(d, s);
}

/* ---- public ---- */

int guard_decode_init(struct guard_decode *d, const struct guard_decode_limits *lim,
                      guard_decode_fn fn, void *ud)
{
    struct guard_decode_limits l = {0};
    int rc = 0;

    memset(d, 0, offsetof(struct guard_decode, run1));
    if (lim)
        l = *lim;
    if (l.budget == 0)
        l.budget = GUARD_DECODE_BUDGET;
    if (l.max_run == 0)
        l.max_run = GUARD_DECODE_RUN;
    if (l.max_segment == 0)
        l.max_segment = GUARD_DECODE_SEGMENT;
    if (l.min_escapes == 0)
        l.min_escapes = 1;
    l.max_run &= ~(size_t)7;
    if (fn == NULL || l.max_run < 64 || l.max_run > GUARD_DECODE_RUN || l.max_segment < 512 ||
        l.max_segment > GUARD_DECODE_SEGMENT) {
        rc = -EINVAL;
        goto out;
    }
    d->lim = l;
    d->fn = fn;
    d->ud = ud;
out:
    d->l1.layer = 1;
    d->l2.layer = 2;
    return rc;
}

void guard_decode_feed(struct guard_decode *d, const char *raw, size_t len)
{
    if (d->fn == NULL || d->exhausted || len == 0)
        return;
    scan_feed(d, &d->l1, (const uint8_t *)raw, len);
}

void guard_decode_end(struct guard_decode *d)
{
    if (d->fn == NULL || d->exhausted)
        scan_clear(&d->l1);
    else
        scan_end(d, &d->l1);
}

void guard_decode_reset(struct guard_decode *d)
{
    scan_clear(&d->l1);
}

bool guard_decode_exhausted(const struct guard_decode *d)
{
    return d->exhausted;
}

size_t guard_decode_used(const struct guard_decode *d)
{
    return d->used;
}

const struct guard_decode_info *guard_decode_info(const struct guard_decode *d)
{
    return &d->info;
}

int guard_decode_b64_value(unsigned char c)
{
    bool in =
        IS_UPPER(c) || IS_LOWER(c) || IS_DIGIT(c) || c == '+' || c == '-' || c == '/' || c == '_';
    return in ? dec_b64[c] : -1;
}

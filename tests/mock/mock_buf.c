/* Mock upstream: capped byte buffers with a sticky error, JSON string and base64 writers. */
#include "mock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void mock_buf_init(struct mock_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void mock_buf_free(struct mock_buf *b)
{
    if (b == NULL)
        return;
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->err = 0;
}

void mock_buf_reset(struct mock_buf *b)
{
    b->len = 0;
    b->err = 0;
}

/* Makes room for n more bytes plus a NUL, so text users can rely on termination. */
static int mock_buf_reserve(struct mock_buf *b, size_t n)
{
    size_t want, ncap;
    char *np;

    if (b->err)
        return b->err;
    if (n > b->max || b->len > b->max - n) {
        b->err = -E2BIG;
        return b->err;
    }
    want = b->len + n + 1;
    if (want <= b->cap)
        return 0;
    ncap = b->cap ? b->cap : 256;
    while (ncap < want)
        ncap *= 2;
    np = realloc(b->p, ncap);
    if (np == NULL) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->p = np;
    b->cap = ncap;
    return 0;
}

void mock_buf_add(struct mock_buf *b, const void *p, size_t n)
{
    if (n == 0 || mock_buf_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void mock_buf_adds(struct mock_buf *b, const char *s)
{
    mock_buf_add(b, s, strlen(s));
}

void mock_buf_addf(struct mock_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!b->err)
            b->err = -EINVAL;
        return;
    }
    if (mock_buf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Byte length of the UTF-8 sequence at s (1..4), or 0 when it is not well-formed. */
static size_t mock_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need, i;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* overlong forms, surrogates and code points past U+10FFFF are not UTF-8 */
    if ((need == 3 && cp < 0x800) || (need == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

bool mock_utf8_valid(const char *s, size_t n)
{
    size_t i = 0, k;

    while (i < n) {
        k = mock_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

size_t mock_utf8_cut(const char *s, size_t n, size_t max)
{
    size_t i = 0, k;

    while (i < n) {
        k = mock_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0)
            k = 1;
        if (i + k > max)
            break;
        i += k;
    }
    return i;
}

void mock_buf_add_jstr(struct mock_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run, k;
    char esc[6];

    mock_buf_add(b, "\"", 1);
    while (i < n) {
        /* copy the longest run that needs no escaping in one append */
        run = i;
        while (run < n && u[run] >= 0x20 && u[run] != '"' && u[run] != '\\') {
            if (u[run] < 0x80) {
                run++;
                continue;
            }
            k = mock_utf8_seq(u + run, n - run);
            if (k == 0)
                break;
            run += k;
        }
        mock_buf_add(b, s + i, run - i);
        i = run;
        if (i >= n)
            break;
        switch (u[i]) {
        case '"':
            mock_buf_add(b, "\\\"", 2);
            break;
        case '\\':
            mock_buf_add(b, "\\\\", 2);
            break;
        case '\n':
            mock_buf_add(b, "\\n", 2);
            break;
        case '\r':
            mock_buf_add(b, "\\r", 2);
            break;
        case '\t':
            mock_buf_add(b, "\\t", 2);
            break;
        default:
            /* control characters, and stray bytes read as Latin-1 so the output stays JSON */
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[u[i] >> 4];
            esc[5] = hex[u[i] & 0xf];
            mock_buf_add(b, esc, sizeof(esc));
            break;
        }
        i++;
    }
    mock_buf_add(b, "\"", 1);
}

void mock_buf_add_b64(struct mock_buf *b, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[4];
    size_t i;
    uint32_t v;

    for (i = 0; i + 3 <= n; i += 3) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[0] = tab[v >> 18];
        out[1] = tab[(v >> 12) & 63];
        out[2] = tab[(v >> 6) & 63];
        out[3] = tab[v & 63];
        mock_buf_add(b, out, 4);
    }
    if (n - i == 1) {
        v = (uint32_t)p[i] << 16;
        out[0] = tab[v >> 18];
        out[1] = tab[(v >> 12) & 63];
        out[2] = '=';
        out[3] = '=';
        mock_buf_add(b, out, 4);
    } else if (n - i == 2) {
        v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[0] = tab[v >> 18];
        out[1] = tab[(v >> 12) & 63];
        out[2] = tab[(v >> 6) & 63];
        out[3] = '=';
        mock_buf_add(b, out, 4);
    }
}

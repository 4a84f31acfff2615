/* Mock upstream: parser of per-request scripts (`key=value;...`, values percent-encoded). */
#include "mock.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum mock_key_type {
    MOCK_KEY_INT = 0,
    MOCK_KEY_BOOL,
    MOCK_KEY_STR,  /* fixed-size field in the script */
    MOCK_KEY_TEXT, /* growable buffer */
    MOCK_KEY_HEADER,
};

/* The key table: a typo in a test script is an error, never a silent default. */
struct mock_key {
    const char *name;
    enum mock_key_type type;
    size_t offset;
    long min, max; /* ints: range; strings: size of the field */
};

#define MOCK_INT(n, f, lo, hi)                                   \
    {                                                            \
        n, MOCK_KEY_INT, offsetof(struct mock_script, f), lo, hi \
    }
#define MOCK_STR(n, f)                                       \
    {                                                        \
        n, MOCK_KEY_STR, offsetof(struct mock_script, f), 0, \
            (long)sizeof(((struct mock_script *)0)->f)       \
    }

static const struct mock_key mock_keys[] = {
    MOCK_INT("status", status, 200, 599),
    MOCK_STR("error_type", error_type),
    MOCK_STR("error_code", error_code),
    MOCK_STR("error_message", error_message),
    {"text", MOCK_KEY_TEXT, offsetof(struct mock_script, text), 0, 0},
    {"body", MOCK_KEY_TEXT, offsetof(struct mock_script, body), 0, 0},
    MOCK_STR("content_type", content_type),
    MOCK_INT("events", events, 1, 100000),
    MOCK_INT("chunk", chunk, 1, 1 << 20),
    MOCK_INT("delay_ms", delay_ms, 0, MOCK_MAX_DELAY_MS),
    MOCK_INT("first_byte_ms", first_byte_ms, 0, MOCK_MAX_DELAY_MS),
    MOCK_INT("reset_after", reset_after, 0, 1000000),
    MOCK_INT("error_after", error_after, 0, 1000000),
    MOCK_INT("slow_body_ms", slow_body_ms, 0, MOCK_MAX_DELAY_MS),
    {"chunked", MOCK_KEY_BOOL, offsetof(struct mock_script, chunked), 0, 1},
    MOCK_STR("stop_reason", stop_reason),
    {"header", MOCK_KEY_HEADER, 0, 0, 0},
};

#define MOCK_N_KEYS (sizeof(mock_keys) / sizeof(mock_keys[0]))

void mock_script_init(struct mock_script *s)
{
    memset(s, 0, sizeof(*s));
    s->reset_after = -1;
    s->error_after = -1;
    mock_buf_init(&s->text, MOCK_MAX_TEXT);
    mock_buf_init(&s->body, MOCK_MAX_TEXT);
}

void mock_script_deinit(struct mock_script *s)
{
    if (s == NULL)
        return;
    mock_buf_free(&s->text);
    mock_buf_free(&s->body);
}

static int mock_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes src into out. '+' stays a plus: scripts are not form data. */
static int mock_pct_decode(const char *src, size_t n, struct mock_buf *out)
{
    size_t i;
    int hi, lo;
    char c;

    for (i = 0; i < n; i++) {
        c = src[i];
        if (c == '%') {
            if (n - i < 3)
                return -EINVAL;
            hi = mock_hexval(src[i + 1]);
            lo = mock_hexval(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        mock_buf_add(out, &c, 1);
    }
    return out->err;
}

static bool mock_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool mock_is_token(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return false;
    }
    return true;
}

static int mock_script_set(struct mock_script *s, const struct mock_key *k, const char *key,
                           const char *vp, size_t vn, char *err, size_t errsz)
{
    char *end = NULL, *field;
    const char *colon;
    long v;
    int rc = -EINVAL;
    size_t nlen, vlen;

    switch (k->type) {
    case MOCK_KEY_INT:
    case MOCK_KEY_BOOL:
        errno = 0;
        v = vn ? strtol(vp, &end, 10) : 0;
        if (vn == 0 || errno != 0 || end != vp + vn || v < k->min || v > k->max) {
            snprintf(err, errsz, "mock script: %s must be an integer in [%ld, %ld]", key, k->min,
                     k->max);
            goto out;
        }
        if (k->type == MOCK_KEY_BOOL)
            *(bool *)((char *)s + k->offset) = v != 0;
        else
            *(int *)((char *)s + k->offset) = (int)v;
        break;
    case MOCK_KEY_STR:
        field = (char *)s + k->offset;
        if (vn >= (size_t)k->max || memchr(vp, '\0', vn) != NULL || !mock_utf8_valid(vp, vn)) {
            snprintf(err, errsz, "mock script: %s must be UTF-8 text under %ld bytes", key, k->max);
            goto out;
        }
        memcpy(field, vp, vn);
        field[vn] = '\0';
        break;
    case MOCK_KEY_TEXT:
        if (strcmp(k->name, "text") == 0) {
            if (!mock_utf8_valid(vp, vn)) {
                snprintf(err, errsz, "mock script: text is not valid UTF-8");
                goto out;
            }
            s->has_text = true;
        } else {
            s->has_body = true;
        }
        mock_buf_add((struct mock_buf *)((char *)s + k->offset), vp, vn);
        if (((struct mock_buf *)((char *)s + k->offset))->err) {
            snprintf(err, errsz, "mock script: %s too long", key);
            goto out;
        }
        break;
    case MOCK_KEY_HEADER:
        colon = vn ? memchr(vp, ':', vn) : NULL;
        nlen = colon ? (size_t)(colon - vp) : 0;
        vlen = colon ? vn - nlen - 1 : 0;
        if (colon == NULL || !mock_is_token(vp, nlen) || nlen >= sizeof(s->hdr_name[0]) ||
            vlen >= sizeof(s->hdr_value[0]) || memchr(colon + 1, '\r', vlen) != NULL ||
            memchr(colon + 1, '\n', vlen) != NULL || memchr(colon + 1, '\0', vlen) != NULL) {
            snprintf(err, errsz, "mock script: header must be Name:value (short, one line)");
            goto out;
        }
        if (s->n_hdrs >= MOCK_MAX_EXTRA_HDRS) {
            snprintf(err, errsz, "mock script: at most %u header keys", MOCK_MAX_EXTRA_HDRS);
            goto out;
        }
        memcpy(s->hdr_name[s->n_hdrs], vp, nlen);
        s->hdr_name[s->n_hdrs][nlen] = '\0';
        while (vlen > 0 && mock_is_space(colon[1])) {
            colon++;
            vlen--;
        }
        memcpy(s->hdr_value[s->n_hdrs], colon + 1, vlen);
        s->hdr_value[s->n_hdrs][vlen] = '\0';
        s->n_hdrs++;
        break;
    }
    rc = 0;
out:
    return rc;
}

int mock_script_parse(struct mock_script *s, const char *src, size_t n, char *err, size_t errsz)
{
    struct mock_buf val;
    bool seen[MOCK_N_KEYS] = {false};
    const char *p = src, *end = src + n, *semi, *eq, *ks, *ke;
    char key[40];
    size_t i, klen;
    int rc = -EINVAL;

    mock_buf_init(&val, MOCK_MAX_TEXT);
    if (n > MOCK_MAX_SCRIPT) {
        snprintf(err, errsz, "mock script: longer than %u bytes", MOCK_MAX_SCRIPT);
        goto out;
    }
    while (p < end) {
        semi = memchr(p, ';', (size_t)(end - p));
        if (semi == NULL)
            semi = end;
        ks = p;
        while (ks < semi && mock_is_space(*ks))
            ks++;
        if (ks == semi) {
            p = semi + 1;
            continue;
        }
        eq = memchr(ks, '=', (size_t)(semi - ks));
        if (eq == NULL) {
            snprintf(err, errsz, "mock script: '%.*s' is not key=value", (int)(semi - ks), ks);
            goto out;
        }
        ke = eq;
        while (ke > ks && mock_is_space(ke[-1]))
            ke--;
        klen = (size_t)(ke - ks);
        if (klen >= sizeof(key))
            klen = sizeof(key) - 1;
        memcpy(key, ks, klen);
        key[klen] = '\0';
        for (i = 0; i < MOCK_N_KEYS; i++) {
            if (strlen(mock_keys[i].name) == (size_t)(ke - ks) &&
                strcmp(mock_keys[i].name, key) == 0)
                break;
        }
        if (i == MOCK_N_KEYS) {
            snprintf(err, errsz,
                     "mock script: unknown key '%s' (known: status error_type error_code "
                     "error_message text body content_type events chunk delay_ms first_byte_ms "
                     "reset_after error_after slow_body_ms chunked stop_reason header)",
                     key);
            goto out;
        }
        if (seen[i] && mock_keys[i].type != MOCK_KEY_HEADER) {
            snprintf(err, errsz, "mock script: key '%s' given twice", key);
            goto out;
        }
        seen[i] = true;
        mock_buf_reset(&val);
        /* trailing blanks of a value are kept only when encoded: lines end in spaces by accident */
        ke = semi;
        while (ke > eq + 1 && mock_is_space(ke[-1]))
            ke--;
        if (mock_pct_decode(eq + 1, (size_t)(ke - eq - 1), &val) < 0) {
            snprintf(err, errsz, "mock script: bad percent-encoding in value of '%s'", key);
            goto out;
        }
        if (mock_script_set(s, &mock_keys[i], key, val.len ? val.p : "", val.len, err, errsz) < 0)
            goto out;
        p = semi + 1;
    }
    rc = 0;
out:
    mock_buf_free(&val);
    return rc;
}

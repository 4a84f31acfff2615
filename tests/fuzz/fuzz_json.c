/* libFuzzer target for the JSON tokenizer: chunkings must agree, the token protocol must hold. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/json.h"
#include "tests/fuzz/fuzz_check.h"

/* The outcome of one parse. `hash` covers only completed values, so that a string cut by an
 * error compares equal whatever part of it the chunking let out before the error. */
struct fuzz_run {
    int rc;
    bool done;
    struct guard_json_error err;
    uint64_t hash, line;
    unsigned depth;
    bool in_string;
    bool array[GUARD_JSON_MAX_DEPTH + 1];
    struct guard_json_limits lim;
};

static uint64_t fuzz_mix(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static bool fuzz_utf8(const unsigned char *p, size_t n)
{
    size_t i = 0, k, len;
    uint32_t cp;

    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        len = (p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3 : (p[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (len == 0 || i + len > n)
            return false;
        cp = p[i] & (0x7F >> len);
        for (k = 1; k < len; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

static void fuzz_event(struct fuzz_run *r, const struct guard_json *js,
                       const struct guard_json_event *ev, const char *chunk, size_t n)
{
    bool closing = ev->tok == GUARD_JSON_OBJECT_END || ev->tok == GUARD_JSON_ARRAY_END;
    unsigned depth = closing ? r->depth - 1 : r->depth;
    uint64_t head[3] = {(uint64_t)ev->tok, ev->depth, ev->offset};

    if (closing)
        FUZZ_CHECK(r->depth > 0 && r->array[r->depth - 1] == (ev->tok == GUARD_JSON_ARRAY_END));
    FUZZ_CHECK(ev->depth == depth);
    FUZZ_CHECK(ev->in_array == (depth > 0 && r->array[depth - 1]));
    FUZZ_CHECK(ev->tok == GUARD_JSON_STRING || !r->in_string);
    if (ev->tok == GUARD_JSON_STRING || ev->tok == GUARD_JSON_KEY || ev->tok == GUARD_JSON_NUMBER) {
        FUZZ_CHECK(ev->str != NULL);
        FUZZ_CHECK(
            (ev->str >= chunk && ev->str + ev->len <= chunk + n) ||
            (ev->str >= js->scratch && ev->str + ev->len <= js->scratch + sizeof(js->scratch)));
        FUZZ_CHECK(fuzz_utf8((const unsigned char *)ev->str, ev->len));
    } else {
        FUZZ_CHECK(ev->str == NULL && ev->len == 0 && ev->flags == 0);
    }
    switch (ev->tok) {
    case GUARD_JSON_OBJECT_BEGIN:
    case GUARD_JSON_ARRAY_BEGIN:
        FUZZ_CHECK(r->depth < r->lim.max_depth);
        r->array[r->depth++] = ev->tok == GUARD_JSON_ARRAY_BEGIN;
        break;
    case GUARD_JSON_OBJECT_END:
    case GUARD_JSON_ARRAY_END:
        r->depth--;
        break;
    case GUARD_JSON_KEY:
        FUZZ_CHECK(depth > 0 && !r->array[depth - 1]);
        FUZZ_CHECK(ev->len <= r->lim.max_key);
        FUZZ_CHECK(ev->flags == (GUARD_JSON_F_BEGIN | GUARD_JSON_F_END));
        break;
    case GUARD_JSON_NUMBER:
        FUZZ_CHECK(ev->len >= 1 && ev->len <= r->lim.max_number);
        FUZZ_CHECK(ev->flags == (GUARD_JSON_F_BEGIN | GUARD_JSON_F_END));
        break;
    case GUARD_JSON_STRING:
        FUZZ_CHECK(!!(ev->flags & GUARD_JSON_F_BEGIN) == !r->in_string);
        if (ev->flags & GUARD_JSON_F_BEGIN)
            r->line = fuzz_mix(0xcbf29ce484222325ull, head, sizeof(head));
        r->line = fuzz_mix(r->line, ev->str, ev->len);
        r->in_string = !(ev->flags & GUARD_JSON_F_END);
        if (!r->in_string)
            r->hash = fuzz_mix(r->hash, &r->line, sizeof(r->line));
        return;
    default:
        break;
    }
    r->line = fuzz_mix(0xcbf29ce484222325ull, head, sizeof(head));
    if (ev->str)
        r->line = fuzz_mix(r->line, ev->str, ev->len);
    r->hash = fuzz_mix(r->hash, &r->line, sizeof(r->line));
}

/* One chunk from an exact-size heap copy, so ASan catches a read past its end. */
static void fuzz_feed(struct guard_json *js, struct fuzz_run *r, const uint8_t *p, size_t n,
                      bool last)
{
    struct guard_json_event ev;
    char *copy = malloc(n ? n : 1);
    int rc;

    FUZZ_CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    guard_json_feed(js, copy, n, last);
    while ((rc = guard_json_next(js, &ev)) == 1)
        fuzz_event(r, js, &ev, copy, n);
    r->rc = rc;
    if (rc < 0) {
        FUZZ_CHECK(rc == -EBADMSG || rc == -E2BIG);
        FUZZ_CHECK(guard_json_next(js, &ev) == rc);
        r->err = *guard_json_error(js);
    }
    free(copy);
}

/* Parse doc in chunks of `step` bytes (0: split once at `cut`). `last` comes with the final
 * data chunk when last_inline, else in an empty chunk after it. */
static void fuzz_parse(struct fuzz_run *r, const uint8_t *doc, size_t len,
                       const struct guard_json_limits *lim, size_t cut, size_t step,
                       bool last_inline)
{
    struct guard_json js;
    size_t pos = 0, n;
    bool last = false;

    memset(r, 0, sizeof(*r));
    FUZZ_CHECK(guard_json_init(&js, lim) == 0);
    r->lim = js.lim;
    while (pos < len && r->rc >= 0) {
        n = step ? step : pos < cut ? cut - pos : len - pos;
        if (n > len - pos)
            n = len - pos;
        last = last_inline && pos + n == len;
        fuzz_feed(&js, r, doc + pos, n, last);
        pos += n;
    }
    if (r->rc >= 0 && !last)
        fuzz_feed(&js, r, NULL, 0, true);
    r->done = guard_json_done(&js);
    FUZZ_CHECK(!(r->done && r->rc < 0));
    FUZZ_CHECK(r->rc < 0 || r->done);
    if (r->done)
        FUZZ_CHECK(r->depth == 0 && !r->in_string);
    if (r->rc < 0)
        FUZZ_CHECK(r->err.message != NULL && r->err.offset <= len && r->err.line >= 1 &&
                   r->err.column >= 1 && r->err.column <= r->err.offset + 1);
}

static void fuzz_same(const struct fuzz_run *a, const struct fuzz_run *b)
{
    FUZZ_CHECK(a->rc == b->rc && a->done == b->done && a->hash == b->hash);
    if (a->rc < 0)
        FUZZ_CHECK(a->err.offset == b->err.offset && a->err.line == b->err.line &&
                   a->err.column == b->err.column && strcmp(a->err.message, b->err.message) == 0);
}

/* An independent recursive-descent validator (RFC 8259 + strict UTF-8), the oracle for
 * accept/reject when no limit was hit. */
struct fuzz_oracle {
    const uint8_t *p, *end;
    unsigned depth;
    bool deep;
};

static void oracle_ws(struct fuzz_oracle *o)
{
    while (o->p < o->end && (*o->p == ' ' || *o->p == '\t' || *o->p == '\n' || *o->p == '\r'))
        o->p++;
}

static bool oracle_eat(struct fuzz_oracle *o, char c)
{
    if (o->p < o->end && *o->p == (uint8_t)c) {
        o->p++;
        return true;
    }
    return false;
}

static bool oracle_digits(struct fuzz_oracle *o)
{
    const uint8_t *s = o->p;

    while (o->p < o->end && *o->p >= '0' && *o->p <= '9')
        o->p++;
    return o->p > s;
}

static bool oracle_string(struct fuzz_oracle *o)
{
    size_t len;
    uint8_t c;
    int i;

    if (!oracle_eat(o, '"'))
        return false;
    while (o->p < o->end) {
        c = *o->p;
        if (c == '"') {
            o->p++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (o->end - o->p < 2)
                return false;
            c = o->p[1];
            o->p += 2;
            if (c == 'u') {
                if (o->end - o->p < 4)
                    return false;
                for (i = 0; i < 4; i++)
                    if (!((o->p[i] >= '0' && o->p[i] <= '9') ||
                          (o->p[i] >= 'a' && o->p[i] <= 'f') || (o->p[i] >= 'A' && o->p[i] <= 'F')))
                        return false;
                o->p += 4;
            } else if (c == 0 || !strchr("\"\\/bfnrt", c)) {
                return false;
            }
            continue;
        }
        if (c < 0x80) {
            o->p++;
            continue;
        }
        len = c >= 0xC2 && c <= 0xDF   ? 2
              : c >= 0xE0 && c <= 0xEF ? 3
              : c >= 0xF0 && c <= 0xF4 ? 4
                                       : 0;
        if (len == 0 || (size_t)(o->end - o->p) < len || !fuzz_utf8(o->p, len))
            return false;
        o->p += len;
    }
    return false;
}

static bool oracle_value(struct fuzz_oracle *o);

static bool oracle_container(struct fuzz_oracle *o, bool array)
{
    bool ok = false;

    if (++o->depth > 300) {
        o->deep = true;
        return false;
    }
    o->p++;
    oracle_ws(o);
    if (oracle_eat(o, array ? ']' : '}')) {
        ok = true;
        goto out;
    }
    for (;;) {
        if (!array) {
            if (!oracle_string(o))
                goto out;
            oracle_ws(o);
            if (!oracle_eat(o, ':'))
                goto out;
            oracle_ws(o);
        }
        if (!oracle_value(o))
            goto out;
        oracle_ws(o);
        if (oracle_eat(o, array ? ']' : '}')) {
            ok = true;
            goto out;
        }
        if (!oracle_eat(o, ','))
            goto out;
        oracle_ws(o);
    }
out:
    o->depth--;
    return ok;
}

static bool oracle_value(struct fuzz_oracle *o)
{
    size_t left = (size_t)(o->end - o->p);

    if (left == 0)
        return false;
    switch (*o->p) {
    case '{':
    case '[':
        return oracle_container(o, *o->p == '[');
    case '"':
        return oracle_string(o);
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *o->p == 't' ? "true" : *o->p == 'f' ? "false" : "null";
        size_t n = strlen(lit);

        if (left < n || memcmp(o->p, lit, n) != 0)
            return false;
        o->p += n;
        return true;
    }
    default:
        oracle_eat(o, '-');
        if (oracle_eat(o, '0')) {
            /* no more integer digits after a leading zero */
        } else if (!oracle_digits(o)) {
            return false;
        }
        if (oracle_eat(o, '.') && !oracle_digits(o))
            return false;
        if (oracle_eat(o, 'e') || oracle_eat(o, 'E')) {
            if (!oracle_eat(o, '+'))
                oracle_eat(o, '-');
            if (!oracle_digits(o))
                return false;
        }
        return true;
    }
}

/* 1 valid, 0 invalid, -1 too deep to tell. */
static int oracle_check(const uint8_t *doc, size_t len)
{
    struct fuzz_oracle o = {doc, doc + len, 0, false};
    bool ok;

    oracle_ws(&o);
    ok = oracle_value(&o);
    oracle_ws(&o);
    ok = ok && o.p == o.end;
    return o.deep ? -1 : ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct guard_json_limits lim = {.max_number = 256};
    struct fuzz_run whole, two, bytes;
    const uint8_t *doc;
    size_t len, cut;
    uint8_t ctl;
    int valid;

    if (size < 1)
        return 0;
    ctl = data[0];
    doc = data + 1;
    len = size - 1;
    /* The control byte picks small limits half of the time, and the split point. */
    if (ctl & 0x80) {
        lim.max_depth = 1 + (ctl & 7);
        lim.max_key = 1 + (ctl >> 3 & 7);
        lim.max_number = 1 + (ctl >> 2 & 7);
    }
    cut = len ? (size_t)ctl * 2654435761u % (len + 1) : 0;

    fuzz_parse(&whole, doc, len, &lim, len, 0, true);
    fuzz_parse(&two, doc, len, &lim, cut, 0, (ctl & 0x40) != 0);
    fuzz_same(&whole, &two);
    if (len <= 2048) {
        fuzz_parse(&bytes, doc, len, &lim, 0, 1, (ctl & 0x20) != 0);
        fuzz_same(&whole, &bytes);
    }
    if (whole.rc != -E2BIG) {
        valid = oracle_check(doc, len);
        if (valid >= 0)
            FUZZ_CHECK(valid == (whole.rc == 0));
    }
    return 0;
}

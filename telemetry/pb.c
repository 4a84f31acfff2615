/* Minimal protobuf writer: growable capped buffer, sticky errors, nested lengths by reservation. */
#include "telemetry/pb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PBUF_MIN_ALLOC 256

void tel_pbuf_init(struct tel_pbuf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max < TEL_PBUF_MAX_LIMIT ? max : TEL_PBUF_MAX_LIMIT;
}

void tel_pbuf_deinit(struct tel_pbuf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->err = 0;
}

void tel_pbuf_reset(struct tel_pbuf *b)
{
    b->len = 0;
    b->err = 0;
}

/* Make room for `extra` more bytes; 0, or the (now sticky) error. */
static int pbuf_reserve(struct tel_pbuf *b, size_t extra)
{
    if (b->err != 0)
        return b->err;
    if (extra > b->max - b->len) {
        b->err = -E2BIG;
        return b->err;
    }
    size_t need = b->len + extra;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc < PBUF_MIN_ALLOC ? PBUF_MIN_ALLOC : b->alloc;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (n > b->max)
        n = b->max;
    uint8_t *p = realloc(b->data, n);
    if (p == NULL) {
        b->err = -ENOMEM;
        return b->err;
    }
    b->data = p;
    b->alloc = n;
    return 0;
}

size_t tel_pb_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Write v at p (room for 10 bytes is the caller's business); returns the bytes written. */
static size_t varint_store(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static void le_store(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int tel_pb_put(struct tel_pbuf *b, const void *p, size_t n)
{
    if (pbuf_reserve(b, n) != 0)
        return b->err;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int tel_pb_put_varint(struct tel_pbuf *b, uint64_t v)
{
    if (pbuf_reserve(b, tel_pb_varint_size(v)) != 0)
        return b->err;
    b->len += varint_store(b->data + b->len, v);
    return 0;
}

int tel_pb_put_tag(struct tel_pbuf *b, uint32_t field, enum tel_pb_wire wire)
{
    return tel_pb_put_varint(b, (uint64_t)field << 3 | (uint64_t)wire);
}

int tel_pb_varint(struct tel_pbuf *b, uint32_t field, uint64_t v)
{
    tel_pb_put_tag(b, field, TEL_PB_VARINT);
    return tel_pb_put_varint(b, v);
}

int tel_pb_bool(struct tel_pbuf *b, uint32_t field, bool v)
{
    return tel_pb_varint(b, field, v ? 1 : 0);
}

/* A tag followed by an n-byte little-endian value. */
static int put_fixed(struct tel_pbuf *b, uint32_t field, enum tel_pb_wire wire, uint64_t v,
                     size_t n)
{
    if (tel_pb_put_tag(b, field, wire) != 0 || pbuf_reserve(b, n) != 0)
        return b->err;
    le_store(b->data + b->len, v, n);
    b->len += n;
    return 0;
}

int tel_pb_fixed64(struct tel_pbuf *b, uint32_t field, uint64_t v)
{
    return put_fixed(b, field, TEL_PB_I64, v, 8);
}

int tel_pb_fixed32(struct tel_pbuf *b, uint32_t field, uint32_t v)
{
    return put_fixed(b, field, TEL_PB_I32, v, 4);
}

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof(u));
    return u;
}

int tel_pb_double(struct tel_pbuf *b, uint32_t field, double v)
{
    return put_fixed(b, field, TEL_PB_I64, double_bits(v), 8);
}

int tel_pb_bytes(struct tel_pbuf *b, uint32_t field, const void *p, size_t n)
{
    tel_pb_put_tag(b, field, TEL_PB_LEN);
    tel_pb_put_varint(b, n);
    return tel_pb_put(b, p, n);
}

int tel_pb_string(struct tel_pbuf *b, uint32_t field, const char *s)
{
    return tel_pb_bytes(b, field, s, s != NULL ? strlen(s) : 0);
}

/* One packed field of n 8-byte little-endian values, doubles or unsigned integers. */
static int put_packed64(struct tel_pbuf *b, uint32_t field, const void *v, size_t n, bool dbl)
{
    if (n == 0)
        return b->err;
    if (n > b->max / 8) {
        if (b->err == 0)
            b->err = -E2BIG;
        return b->err;
    }
    tel_pb_put_tag(b, field, TEL_PB_LEN);
    tel_pb_put_varint(b, (uint64_t)n * 8);
    if (pbuf_reserve(b, n * 8) != 0)
        return b->err;
    uint8_t *p = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = dbl ? double_bits(((const double *)v)[i]) : ((const uint64_t *)v)[i];
        le_store(p + 8 * i, u, 8);
    }
    b->len += n * 8;
    return 0;
}

int tel_pb_packed_fixed64(struct tel_pbuf *b, uint32_t field, const uint64_t *v, size_t n)
{
    return put_packed64(b, field, v, n, false);
}

int tel_pb_packed_double(struct tel_pbuf *b, uint32_t field, const double *v, size_t n)
{
    return put_packed64(b, field, v, n, true);
}

size_t tel_pb_begin(struct tel_pbuf *b, uint32_t field)
{
    tel_pb_put_tag(b, field, TEL_PB_LEN);
    if (pbuf_reserve(b, 1) == 0)
        b->data[b->len++] = 0;
    return b->len;
}

int tel_pb_end(struct tel_pbuf *b, size_t mark)
{
    if (b->err != 0)
        return b->err;
    /* A mark past the end means begin failed, which left an error; guard anyway. */
    if (mark == 0 || mark > b->len) {
        b->err = -EINVAL;
        return b->err;
    }
    size_t body = b->len - mark;
    size_t n = tel_pb_varint_size(body);
    if (n > 1) {
        if (pbuf_reserve(b, n - 1) != 0)
            return b->err;
        memmove(b->data + mark + n - 1, b->data + mark, body);
        b->len += n - 1;
    }
    varint_store(b->data + mark - 1, body);
    return 0;
}

/* SHA-256 (FIPS 180-4) in portable C; HMAC-SHA-256 (RFC 2104) through mbedTLS. */
#include "telemetry/sha256.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define SHA_NI_BUILT 1
#endif

#include <mbedtls/md.h>

static const uint32_t k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(struct tel_sha256 *s, const uint8_t *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    /* The working variables rotate by assignment (a memmove here was a library call per
     * round: half the time of hashing a package tree). */
    uint32_t va = s->h[0], vb = s->h[1], vc = s->h[2], vd = s->h[3];
    uint32_t ve = s->h[4], vf = s->h[5], vg = s->h[6], vh = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 =
            vh + (ror(ve, 6) ^ ror(ve, 11) ^ ror(ve, 25)) + ((ve & vf) ^ (~ve & vg)) + k[i] + w[i];
        uint32_t t2 =
            (ror(va, 2) ^ ror(va, 13) ^ ror(va, 22)) + ((va & vb) ^ (va & vc) ^ (vb & vc));
        vh = vg;
        vg = vf;
        vf = ve;
        ve = vd + t1;
        vd = vc;
        vc = vb;
        vb = va;
        va = t1 + t2;
    }
    s->h[0] += va;
    s->h[1] += vb;
    s->h[2] += vc;
    s->h[3] += vd;
    s->h[4] += ve;
    s->h[5] += vf;
    s->h[6] += vg;
    s->h[7] += vh;
}

static bool force_portable, without_ni;

void tel_sha256_force_portable(bool on)
{
    force_portable = on;
}

void tel_sha256_without_ni(bool on)
{
    without_ni = on;
}

#ifdef SHA_NI_BUILT
/* The x86 SHA extensions (Intel SHA-NI, AMD Zen and later): four rounds an instruction pair,
 * about ten times the portable code. One message's rounds wait on each other's results, so W
 * messages (1 to NI_WAYS) are hashed side by side, each round of one filling the wait of the
 * others: here 1.8 GB/s for one, 2.3 for two, 2.9 for three, 3.3 for four, less for six or
 * eight (registers run out). h[x] is message x's state, p[x] its next block. The state is kept
 * as ABEF and CDGH, the order the instructions want. */
#define NI_WAYS 4
__attribute__((target("sha,sse4.1"), always_inline)) static inline void
compress_niw(uint32_t *const h[], const uint8_t *const p[], size_t blocks, const int W)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i st0[NI_WAYS], st1[NI_WAYS];
    for (int x = 0; x < W; x++) {
        __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)h[x]), 0xB1);
        st1[x] =
            _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)(h[x] + 4)), 0x1B);
        st0[x] = _mm_alignr_epi8(t, st1[x], 8);    /* ABEF */
        st1[x] = _mm_blend_epi16(st1[x], t, 0xF0); /* CDGH */
    }
    for (size_t b = 0; b < blocks; b++) {
        __m128i save0[NI_WAYS], save1[NI_WAYS], w[NI_WAYS][16];
        for (int x = 0; x < W; x++) {
            save0[x] = st0[x];
            save1[x] = st1[x];
        }
        /* unrolled whole: w[][] then lives in registers */
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            __m128i kv = _mm_loadu_si128((const __m128i *)(const void *)&k[4 * i]);
            for (int x = 0; x < W; x++) {
                if (i < 4)
                    w[x][i] = _mm_shuffle_epi8(
                        _mm_loadu_si128((const __m128i *)(const void *)(p[x] + 64 * b + 16 * i)),
                        bswap);
                else
                    w[x][i] = _mm_sha256msg2_epu32(
                        _mm_add_epi32(_mm_sha256msg1_epu32(w[x][i - 4], w[x][i - 3]),
                                      _mm_alignr_epi8(w[x][i - 1], w[x][i - 2], 4)),
                        w[x][i - 1]);
                __m128i m = _mm_add_epi32(w[x][i], kv);
                st1[x] = _mm_sha256rnds2_epu32(st1[x], st0[x], m);
                st0[x] = _mm_sha256rnds2_epu32(st0[x], st1[x], _mm_shuffle_epi32(m, 0x0E));
            }
        }
        for (int x = 0; x < W; x++) {
            st0[x] = _mm_add_epi32(st0[x], save0[x]);
            st1[x] = _mm_add_epi32(st1[x], save1[x]);
        }
    }
    for (int x = 0; x < W; x++) {
        __m128i t = _mm_shuffle_epi32(st0[x], 0x1B);                               /* FEBA */
        __m128i u = _mm_shuffle_epi32(st1[x], 0xB1);                               /* DCHG */
        _mm_storeu_si128((__m128i *)(void *)h[x], _mm_blend_epi16(t, u, 0xF0));    /* DCBA */
        _mm_storeu_si128((__m128i *)(void *)(h[x] + 4), _mm_alignr_epi8(u, t, 8)); /* HGFE */
    }
}

/* One copy per width, so that each has its loops unrolled for it. */
__attribute__((target("sha,sse4.1"))) static void
compress_ni(uint32_t *const h[], const uint8_t *const p[], size_t blocks, int ways)
{
    switch (ways) {
    case 1:
        compress_niw(h, p, blocks, 1);
        break;
    case 2:
        compress_niw(h, p, blocks, 2);
        break;
    case 3:
        compress_niw(h, p, blocks, 3);
        break;
    default:
        compress_niw(h, p, blocks, NI_WAYS);
        break;
    }
}

static bool sha_ni(void)
{
    static int have = -1; /* benign race: every thread computes the same answer */
    if (have < 0) {
        unsigned a, b, c, d;
        have = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) &&
               __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) && (c & (1u << 9));
    }
    return have > 0;
}
#endif

/* `blocks` whole 64-byte blocks. */
static void compress_blocks(struct tel_sha256 *s, const uint8_t *p, size_t blocks)
{
#ifdef SHA_NI_BUILT
    if (!force_portable && sha_ni()) {
        uint32_t *h[1] = {s->h};
        const uint8_t *q[1] = {p};
        compress_ni(h, q, blocks, 1);
        return;
    }
#endif
    for (; blocks > 0; blocks--, p += 64)
        compress(s, p);
}

void tel_sha256_init(struct tel_sha256 *s)
{
    memcpy(s->h, iv, sizeof(iv));
    s->bytes = 0;
    s->used = 0;
}

void tel_sha256_update(struct tel_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->bytes += len;
    while (len > 0) {
        if (s->used == 0 && len >= 64) {
            compress_blocks(s, p, len / 64);
            p += len / 64 * 64;
            len %= 64;
            continue;
        }
        size_t n = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, n);
        s->used += n;
        p += n;
        len -= n;
        if (s->used == 64) {
            compress_blocks(s, s->block, 1);
            s->used = 0;
        }
    }
}

/* The state as the digest's bytes, big-endian. */
static void put_digest(const uint32_t h[8], uint8_t out[TEL_SHA256_LEN])
{
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(h[i] >> 8);
        out[4 * i + 3] = (uint8_t)h[i];
    }
}

void tel_sha256_final(struct tel_sha256 *s, uint8_t out[TEL_SHA256_LEN])
{
    uint64_t bits = s->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t n = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[n + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    tel_sha256_update(s, pad, n + 8);
    put_digest(s->h, out);
}

void tel_sha256(const void *data, size_t len, uint8_t out[TEL_SHA256_LEN])
{
    struct tel_sha256 s;
    tel_sha256_init(&s);
    tel_sha256_update(&s, data, len);
    tel_sha256_final(&s, out);
}

#ifdef SHA_NI_BUILT
/* ---- many messages at once: sixteen lanes of AVX-512 -------------------------------------
 *
 * For CPUs with AVX-512 and without the SHA instructions (where those are, four streams of
 * them do better: ni_many). The sixteen 32-bit lanes of AVX-512 hash sixteen messages side by
 * side (measured here: 3.0 GB/s on long messages, 1.3 to 1.4 times one stream of the SHA
 * instructions on the files of a package tree, whose short files each end with a block or two
 * of one stream). Lane l's state word j is st[j][l]; a lane without a message reads a zero
 * block and its state is never used. */
#define MB_LANES 16
/* Fewer lanes busy than this with no message left to start: one stream finishes them (of 3
 * to 12, 6 did best on a package tree's files). */
#define MB_MIN 6

struct mb {
    uint32_t st[8][MB_LANES];
    const uint8_t *p[MB_LANES];
    size_t step[MB_LANES]; /* 64, or 0 for a lane without a message */
};

static bool mb_ok(void)
{
    static int have = -1; /* benign race, as in sha_ni */
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    }
    return have > 0;
}

/* `blocks` 64-byte blocks of every lane. */
__attribute__((target("avx512f,avx512bw"))) static void mb_compress(struct mb *m, size_t blocks)
{
    const __m512i bswap = _mm512_set4_epi32(0x0c0d0e0f, 0x08090a0b, 0x04050607, 0x00010203);
    __m512i st[8], w[16], r[16], t[16];
    const uint8_t *p[MB_LANES];

    for (int j = 0; j < 8; j++)
        st[j] = _mm512_loadu_si512(m->st[j]);
    memcpy(p, m->p, sizeof(p));
    for (; blocks > 0; blocks--) {
        /* the sixteen blocks as rows, transposed so that w[j] holds word j of each lane */
        for (int l = 0; l < MB_LANES; l++) {
            r[l] = _mm512_loadu_si512(p[l]);
            p[l] += m->step[l];
        }
        for (int i = 0; i < 16; i += 2) {
            t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
            t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int i = 0; i < 16; i += 4) { /* r[i + c]: column c (mod 4) of rows i..i+3 */
            r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
            r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
            r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
            r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
        }
        for (int c = 0; c < 4; c++) {
            __m512i e0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x44);
            __m512i e1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xEE);
            __m512i e2 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x44);
            __m512i e3 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xEE);
            w[c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e0, e2, 0x88), bswap);
            w[4 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e0, e2, 0xDD), bswap);
            w[8 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e1, e3, 0x88), bswap);
            w[12 + c] = _mm512_shuffle_epi8(_mm512_shuffle_i32x4(e1, e3, 0xDD), bswap);
        }
        __m512i a = st[0], b = st[1], c = st[2], d = st[3];
        __m512i e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
            __m512i wi = w[i & 15];
            if (i >= 16) {
                __m512i w15 = w[(i - 15) & 15], w2 = w[(i - 2) & 15];
                __m512i s0 =
                    _mm512_ternarylogic_epi32(_mm512_ror_epi32(w15, 7), _mm512_ror_epi32(w15, 18),
                                              _mm512_srli_epi32(w15, 3), 0x96);
                __m512i s1 =
                    _mm512_ternarylogic_epi32(_mm512_ror_epi32(w2, 17), _mm512_ror_epi32(w2, 19),
                                              _mm512_srli_epi32(w2, 10), 0x96);
                wi = _mm512_add_epi32(_mm512_add_epi32(wi, s0),
                                      _mm512_add_epi32(w[(i - 7) & 15], s1));
                w[i & 15] = wi;
            }
            __m512i s1 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(e, 6), _mm512_ror_epi32(e, 11),
                                                   _mm512_ror_epi32(e, 25), 0x96);
            __m512i ch = _mm512_ternarylogic_epi32(e, f, g, 0xCA);
            __m512i t1 = _mm512_add_epi32(
                _mm512_add_epi32(h, s1),
                _mm512_add_epi32(ch, _mm512_add_epi32(wi, _mm512_set1_epi32((int)k[i]))));
            __m512i s0 = _mm512_ternarylogic_epi32(_mm512_ror_epi32(a, 2), _mm512_ror_epi32(a, 13),
                                                   _mm512_ror_epi32(a, 22), 0x96);
            __m512i maj = _mm512_ternarylogic_epi32(a, b, c, 0xE8);
            h = g;
            g = f;
            f = e;
            e = _mm512_add_epi32(d, t1);
            d = c;
            c = b;
            b = a;
            a = _mm512_add_epi32(t1, _mm512_add_epi32(s0, maj));
        }
        st[0] = _mm512_add_epi32(st[0], a);
        st[1] = _mm512_add_epi32(st[1], b);
        st[2] = _mm512_add_epi32(st[2], c);
        st[3] = _mm512_add_epi32(st[3], d);
        st[4] = _mm512_add_epi32(st[4], e);
        st[5] = _mm512_add_epi32(st[5], f);
        st[6] = _mm512_add_epi32(st[6], g);
        st[7] = _mm512_add_epi32(st[7], h);
    }
    for (int j = 0; j < 8; j++)
        _mm512_storeu_si512(m->st[j], st[j]);
    memcpy(m->p, p, sizeof(p));
}

/* Lane l's message, with `left` whole blocks not hashed in the lanes: finished (those blocks,
 * then the tail and the padding) by the one-stream code from the lane's state. */
static void mb_finish(const struct mb *m, int l, const uint8_t *data, size_t len, size_t left,
                      uint8_t out[TEL_SHA256_LEN])
{
    struct tel_sha256 s;
    size_t done = (len / 64 - left) * 64;
    for (int j = 0; j < 8; j++)
        s.h[j] = m->st[j][l];
    s.bytes = done;
    s.used = 0;
    tel_sha256_update(&s, data + done, len - done);
    tel_sha256_final(&s, out);
}

/* A message's length and index: the order the lanes take them in. */
struct mb_ord {
    size_t len, i;
};

/* The longest messages first: they are the ones still running when too few are left to fill
 * the lanes, and that is then one stream; started first, the short ones fill the lanes
 * around them. */
static int mb_ord_cmp(const void *a, const void *b)
{
    const struct mb_ord *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* All n messages, in the order of ord: sixteen at a time while enough of them are left to
 * fill the lanes, the short ones and the last few by one stream. */
static void mb_many(size_t n, const void *const data[], const size_t len[],
                    uint8_t (*out)[TEL_SHA256_LEN], const struct mb_ord *ord)
{
    static const uint8_t zero[64];
    struct mb m;
    size_t msg[MB_LANES], left[MB_LANES], active = 0, next = 0;

    for (int l = 0; l < MB_LANES; l++) {
        m.p[l] = zero;
        m.step[l] = 0;
    }
    for (;;) {
        for (int l = 0; l < MB_LANES; l++) {
            while (!m.step[l] && next < n) {
                size_t i = ord[next++].i;
                if (len[i] < 64) { /* no whole block: one stream */
                    tel_sha256(data[i], len[i], out[i]);
                    continue;
                }
                msg[l] = i;
                left[l] = len[i] / 64;
                m.p[l] = data[i];
                m.step[l] = 64;
                for (int j = 0; j < 8; j++)
                    m.st[j][l] = iv[j];
                active++;
            }
        }
        if (active == 0 || (active < MB_MIN && next == n))
            break;
        size_t run = SIZE_MAX;
        for (int l = 0; l < MB_LANES; l++)
            if (m.step[l] && left[l] < run)
                run = left[l];
        mb_compress(&m, run);
        for (int l = 0; l < MB_LANES; l++) {
            if (!m.step[l] || (left[l] -= run) > 0)
                continue;
            mb_finish(&m, l, data[msg[l]], len[msg[l]], 0, out[msg[l]]);
            m.p[l] = zero;
            m.step[l] = 0;
            active--;
        }
    }
    for (int l = 0; l < MB_LANES; l++) /* too few to keep the lanes busy */
        if (m.step[l])
            mb_finish(&m, l, data[msg[l]], len[msg[l]], left[l], out[msg[l]]);
}

/* ---- many messages at once: NI_WAYS streams of the SHA instructions -------------------- */

/* A stream's message: its state, its next whole blocks, then its last block or two (the rest
 * of the message and the padding) from pad. */
struct ni_lane {
    uint32_t h[8];
    const uint8_t *p;
    size_t blocks;
    size_t i; /* the message's index */
    bool padded;
    uint8_t pad[128];
};

static void ni_lane_pad(struct ni_lane *l, const uint8_t *rest, size_t n, uint64_t len)
{
    size_t blocks = n < 56 ? 1 : 2;
    if (n > 0)
        memcpy(l->pad, rest, n);
    l->pad[n] = 0x80;
    memset(l->pad + n + 1, 0, 64 * blocks - n - 1);
    for (int b = 0; b < 8; b++)
        l->pad[64 * blocks - 1 - (size_t)b] = (uint8_t)(len * 8 >> (8 * b));
    l->p = l->pad;
    l->blocks = blocks;
    l->padded = true;
}

/* All n messages, in the order of ord: NI_WAYS streams side by side, each taking the next
 * message as its own ends (padding included), fewer only when no message is left. */
static void ni_many(size_t n, const void *const data[], const size_t len[],
                    uint8_t (*out)[TEL_SHA256_LEN], const struct mb_ord *ord)
{
    struct ni_lane lane[NI_WAYS];
    size_t busy = 0, next = 0;

    for (;;) {
        while (busy < NI_WAYS && next < n) {
            struct ni_lane *l = &lane[busy++];
            l->i = ord[next++].i;
            memcpy(l->h, iv, sizeof(iv));
            l->p = data[l->i];
            l->blocks = len[l->i] / 64;
            l->padded = false;
            if (l->blocks == 0)
                ni_lane_pad(l, l->p, len[l->i], len[l->i]);
        }
        if (busy == 0)
            return;
        uint32_t *h[NI_WAYS];
        const uint8_t *p[NI_WAYS];
        size_t run = SIZE_MAX;
        for (size_t x = 0; x < busy; x++) {
            h[x] = lane[x].h;
            p[x] = lane[x].p;
            if (lane[x].blocks < run)
                run = lane[x].blocks;
        }
        compress_ni(h, p, run, (int)busy);
        for (size_t x = busy; x-- > 0;) {
            struct ni_lane *l = &lane[x];
            l->p += 64 * run;
            if ((l->blocks -= run) > 0)
                continue;
            if (!l->padded) {
                size_t whole = len[l->i] / 64 * 64;
                ni_lane_pad(l, (const uint8_t *)data[l->i] + whole, len[l->i] - whole, len[l->i]);
                continue;
            }
            put_digest(l->h, out[l->i]);
            /* the last busy lane takes its place (its padding comes along) */
            struct ni_lane *last = &lane[--busy];
            if (last != l) {
                *l = *last;
                if (l->padded)
                    l->p = l->pad + (last->p - last->pad);
            }
        }
    }
}

#endif

void tel_sha256_many(size_t n, const void *const data[], const size_t len[],
                     uint8_t (*out)[TEL_SHA256_LEN])
{
#ifdef SHA_NI_BUILT
    struct mb_ord *ord = NULL;
    bool ni = sha_ni() && !without_ni, mb = !ni && n >= MB_MIN && mb_ok();
    if (!force_portable && n >= 2 && (ni || mb) && (ord = malloc(n * sizeof(*ord))) != NULL) {
        for (size_t i = 0; i < n; i++)
            ord[i] = (struct mb_ord){len[i], i};
        qsort(ord, n, sizeof(*ord), mb_ord_cmp);
        if (ni)
            ni_many(n, data, len, out, ord);
        else
            mb_many(n, data, len, out, ord);
        free(ord);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++)
        tel_sha256(data[i], len[i], out[i]);
}

void tel_sha256_hex(const uint8_t digest[TEL_SHA256_LEN], char out[TEL_SHA256_HEX])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < TEL_SHA256_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * TEL_SHA256_LEN] = '\0';
}

/* HMAC is mbedTLS's (mbedcrypto, hash functions only): the audit chain's integrity rests on
 * it, and a widely reviewed implementation is the one to trust there. The plain digest above
 * stays portable C for the rule-set hashes. */
void tel_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                     uint8_t out[TEL_SHA256_LEN])
{
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (md == NULL || mbedtls_md_hmac(md, key, key_len, data, len, out) != 0)
        memset(out, 0, TEL_SHA256_LEN); /* allocation failure: a value that never verifies */
}

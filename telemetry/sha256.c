/* SHA-256 (FIPS 180-4) in portable C; HMAC-SHA-256 (RFC 2104) through mbedTLS. */
#include "telemetry/sha256.h"

#include <stdbool.h>
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

#ifdef SHA_NI_BUILT
/* The x86 SHA extensions (Intel SHA-NI, AMD Zen and later): four rounds an instruction pair,
 * about ten times the portable code. The state is kept as ABEF and CDGH, the order the
 * instructions want. */
__attribute__((target("sha,sse4.1"))) static void compress_ni(struct tel_sha256 *s,
                                                              const uint8_t *p, size_t blocks)
{
    const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&s->h[0]), 0xB1);
    __m128i st1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&s->h[4]), 0x1B);
    __m128i st0 = _mm_alignr_epi8(t, st1, 8); /* ABEF */
    st1 = _mm_blend_epi16(st1, t, 0xF0);      /* CDGH */
    for (; blocks > 0; blocks--, p += 64) {
        __m128i save0 = st0, save1 = st1, w[16];
        for (int i = 0; i < 16; i++) {
            if (i < 4)
                w[i] = _mm_shuffle_epi8(
                    _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), bswap);
            else
                w[i] = _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32(w[i - 4], w[i - 3]),
                                                          _mm_alignr_epi8(w[i - 1], w[i - 2], 4)),
                                            w[i - 1]);
            __m128i m =
                _mm_add_epi32(w[i], _mm_loadu_si128((const __m128i *)(const void *)&k[4 * i]));
            st1 = _mm_sha256rnds2_epu32(st1, st0, m);
            st0 = _mm_sha256rnds2_epu32(st0, st1, _mm_shuffle_epi32(m, 0x0E));
        }
        st0 = _mm_add_epi32(st0, save0);
        st1 = _mm_add_epi32(st1, save1);
    }
    t = _mm_shuffle_epi32(st0, 0x1B);    /* FEBA */
    st1 = _mm_shuffle_epi32(st1, 0xB1);  /* DCHG */
    st0 = _mm_blend_epi16(t, st1, 0xF0); /* DCBA */
    st1 = _mm_alignr_epi8(st1, t, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)(void *)&s->h[0], st0);
    _mm_storeu_si128((__m128i *)(void *)&s->h[4], st1);
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

static bool force_portable;

void tel_sha256_force_portable(bool on)
{
    force_portable = on;
}

/* `blocks` whole 64-byte blocks. */
static void compress_blocks(struct tel_sha256 *s, const uint8_t *p, size_t blocks)
{
#ifdef SHA_NI_BUILT
    if (!force_portable && sha_ni()) {
        compress_ni(s, p, blocks);
        return;
    }
#endif
    for (; blocks > 0; blocks--, p += 64)
        compress(s, p);
}

void tel_sha256_init(struct tel_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
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

void tel_sha256_final(struct tel_sha256 *s, uint8_t out[TEL_SHA256_LEN])
{
    uint64_t bits = s->bytes * 8;
    uint8_t pad[72] = {0x80};
    size_t n = (s->used < 56 ? 56 : 120) - s->used;
    for (int i = 0; i < 8; i++)
        pad[n + (size_t)i] = (uint8_t)(bits >> (56 - 8 * i));
    tel_sha256_update(s, pad, n + 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

void tel_sha256(const void *data, size_t len, uint8_t out[TEL_SHA256_LEN])
{
    struct tel_sha256 s;
    tel_sha256_init(&s);
    tel_sha256_update(&s, data, len);
    tel_sha256_final(&s, out);
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

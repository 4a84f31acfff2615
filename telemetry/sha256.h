/* SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104): rule-set hashes and the audit chain. */
#ifndef WARDEN_TELEMETRY_SHA256_H
#define WARDEN_TELEMETRY_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEL_SHA256_LEN 32
#define TEL_SHA256_HEX (2 * TEL_SHA256_LEN + 1)

struct tel_sha256 {
    uint32_t h[8];
    uint64_t bytes;
    uint8_t block[64];
    size_t used;
};

void tel_sha256_init(struct tel_sha256 *s);
void tel_sha256_update(struct tel_sha256 *s, const void *data, size_t len);
void tel_sha256_final(struct tel_sha256 *s, uint8_t out[TEL_SHA256_LEN]);

/* One-shot digest, and the lowercase hex of a digest (NUL-terminated). */
void tel_sha256(const void *data, size_t len, uint8_t out[TEL_SHA256_LEN]);
/* The digests of n messages, data[i] of len[i] bytes into out[i]: tel_sha256 of each, computed
 * four at a time where the CPU has the SHA instructions (1.8 times one stream on the files of
 * a package tree), else sixteen at a time where it has AVX-512, else one by one. */
void tel_sha256_many(size_t n, const void *const data[], const size_t len[],
                     uint8_t (*out)[TEL_SHA256_LEN]);
void tel_sha256_hex(const uint8_t digest[TEL_SHA256_LEN], char out[TEL_SHA256_HEX]);

/* HMAC-SHA-256 of data under key, computed by mbedTLS. Should mbedTLS fail to allocate its
 * context, out is all zero: a value that never verifies. */
void tel_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                     uint8_t out[TEL_SHA256_LEN]);

/* Tests: use the portable code even where the CPU has SHA instructions or AVX-512 (to check
 * both). */
void tel_sha256_force_portable(bool on);
/* Tests: tel_sha256_many as on a CPU without the SHA instructions (the AVX-512 lanes where the
 * CPU has them). */
void tel_sha256_without_ni(bool on);

#endif

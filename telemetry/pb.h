/* Minimal protobuf writer: varint, fixed, double, length-delimited and nested fields, capped. */
#ifndef WARDEN_TELEMETRY_PB_H
#define WARDEN_TELEMETRY_PB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Protobuf wire types (the low 3 bits of a tag). */
enum tel_pb_wire {
    TEL_PB_VARINT = 0,
    TEL_PB_I64 = 1,
    TEL_PB_LEN = 2,
    TEL_PB_I32 = 5,
};

/* Largest message a tel_pbuf may hold: nested lengths are written as 32-bit varints, and no
 * protobuf reader accepts messages of 2 GiB or more. */
#define TEL_PBUF_MAX_LIMIT ((size_t)INT32_MAX)

/* A growable output buffer with a hard cap. Errors are sticky: the first failure (-E2BIG when
 * a write would pass `max`, -ENOMEM) is kept in `err` and every later write does nothing, so
 * an encoder may check once at the end. The buffer owns `data`. */
struct tel_pbuf {
    uint8_t *data;
    size_t len;
    size_t alloc;
    size_t max;
    int err;
};

/* Set up an empty buffer holding at most `max` bytes (clamped to TEL_PBUF_MAX_LIMIT).
 * Nothing is allocated until the first write. */
void tel_pbuf_init(struct tel_pbuf *b, size_t max);
/* Free the bytes; the buffer may be initialised again. NULL is accepted. */
void tel_pbuf_deinit(struct tel_pbuf *b);
/* Empty the buffer and clear its error, keeping the allocation for the next message. */
void tel_pbuf_reset(struct tel_pbuf *b);

/* Number of bytes the varint encoding of v takes (1..10). */
size_t tel_pb_varint_size(uint64_t v);

/* Raw pieces, without a tag. Each returns the buffer's error (0 if none so far). */
int tel_pb_put(struct tel_pbuf *b, const void *p, size_t n);
int tel_pb_put_varint(struct tel_pbuf *b, uint64_t v);
int tel_pb_put_tag(struct tel_pbuf *b, uint32_t field, enum tel_pb_wire wire);

/* Tagged fields. They always write, zero values included (proto3 default omission is the
 * caller's choice: oneof members must be written even when zero). int64 and enum fields take
 * tel_pb_varint with the value cast to uint64_t (negatives take 10 bytes, as protobuf wants).
 * Each returns the buffer's error (0 if none so far). */
int tel_pb_varint(struct tel_pbuf *b, uint32_t field, uint64_t v);
int tel_pb_bool(struct tel_pbuf *b, uint32_t field, bool v);
int tel_pb_fixed64(struct tel_pbuf *b, uint32_t field, uint64_t v);
int tel_pb_fixed32(struct tel_pbuf *b, uint32_t field, uint32_t v);
int tel_pb_double(struct tel_pbuf *b, uint32_t field, double v);
int tel_pb_bytes(struct tel_pbuf *b, uint32_t field, const void *p, size_t n);
/* A NUL-terminated string; NULL writes an empty string. */
int tel_pb_string(struct tel_pbuf *b, uint32_t field, const char *s);
/* Packed repeated fixed64 / double (one length-delimited field; nothing when n is 0). */
int tel_pb_packed_fixed64(struct tel_pbuf *b, uint32_t field, const uint64_t *v, size_t n);
int tel_pb_packed_double(struct tel_pbuf *b, uint32_t field, const double *v, size_t n);

/* Nested message: tel_pb_begin writes the tag, reserves one byte for the length and returns a
 * mark; write the body, then tel_pb_end(b, mark) fills in the length (moving the body forward
 * when the length needs more than one byte). Begin/end pairs nest; marks stay valid across
 * reallocation because they are offsets. tel_pb_end returns the buffer's error. */
size_t tel_pb_begin(struct tel_pbuf *b, uint32_t field);
int tel_pb_end(struct tel_pbuf *b, size_t mark);

#endif

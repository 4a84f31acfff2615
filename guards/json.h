/* Incremental JSON tokenizer: a resumable pull parser over chunks, RFC 8259, no allocation. */
#ifndef WARDEN_GUARDS_JSON_H
#define WARDEN_GUARDS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum guard_json_tok {
    GUARD_JSON_OBJECT_BEGIN = 0,
    GUARD_JSON_OBJECT_END,
    GUARD_JSON_ARRAY_BEGIN,
    GUARD_JSON_ARRAY_END,
    GUARD_JSON_KEY,    /* an object member name, always whole (<= max_key bytes) */
    GUARD_JSON_STRING, /* a string value, possibly in several fragments */
    GUARD_JSON_NUMBER, /* a number, always whole, as its source text */
    GUARD_JSON_TRUE,
    GUARD_JSON_FALSE,
    GUARD_JSON_NULL,
};

/* Event flags. A string value arrives as one or more fragments: the first carries
 * GUARD_JSON_F_BEGIN, the last GUARD_JSON_F_END (a short string has both). */
#define GUARD_JSON_F_BEGIN 0x1u
#define GUARD_JSON_F_END   0x2u

/* Hard caps. Zero fields take the defaults below at init. */
struct guard_json_limits {
    unsigned max_depth; /* open arrays and objects at once; default 64, at most 256 */
    size_t max_key;     /* bytes of a decoded member name; default 256, at most 1024 */
    size_t max_number;  /* bytes of a number's text; default 64, at most 256 */
};

/* One token. `str`/`len` are set for KEY, STRING and NUMBER: decoded text (escapes
 * resolved, UTF-8; invalid \u surrogates become U+FFFD). The bytes are borrowed: they
 * point into the caller's chunk or the tokenizer's scratch and are valid only until the
 * next call to guard_json_next or guard_json_feed.
 *
 * Surrogates: \uD800-\uDBFF followed by \uDC00-\uDFFF is one 4-byte character. A high
 * half not followed by an escaped low half, and a low half on its own, each decode to
 * U+FFFD (EF BF BD); what follows is decoded normally ("\ud800\u0041" is U+FFFD "A").
 * Raw bytes must already be valid UTF-8 (no overlongs, no encoded surrogates, nothing above
 * U+10FFFF, no cut sequences): otherwise the input is rejected, never repaired.
 *
 * String fragments: an unescaped run is handed out in place (zero-copy) when it reaches the
 * closing quote or the end of the chunk, or is longer than the scratch. Decoded escapes go
 * through the scratch, and short runs next to them are copied there too, so that text full
 * of "\n" does not cost one event per escape. Every fragment holds whole UTF-8 characters,
 * and every fragment of one string carries the offset of its opening quote. Fragment
 * boundaries depend on chunking; the concatenated text does not. KEY and NUMBER carry both
 * F_BEGIN and F_END; the other tokens carry no flags and str == NULL, len == 0. */
struct guard_json_event {
    enum guard_json_tok tok;
    unsigned flags;
    unsigned depth; /* depth of the token: 0 for the top-level value, 1 inside it ... */
    bool in_array;  /* the enclosing container is an array (false at top level) */
    const char *str;
    size_t len;
    uint64_t offset; /* byte offset in the whole input where this token starts */
};

/* Where and why the input is not JSON. `message` is static text. The position is the first
 * byte at which the input could no longer be JSON (for a too-long key or number: the first
 * byte over the limit; at the end of input: the total length). It does not depend on how
 * the input was split into chunks. Lines end at LF. */
struct guard_json_error {
    uint64_t offset; /* 0-based byte offset into the whole input */
    uint32_t line;   /* 1-based */
    uint32_t column; /* 1-based, in bytes */
    const char *message;
};

/* Scratch bytes for keys, numbers and decoded string fragments; holds the largest max_key. */
#define GUARD_JSON_SCRATCH   1024
#define GUARD_JSON_MAX_DEPTH 256

/* The tokenizer's state; embed it anywhere (no heap). Fields are private. */
struct guard_json {
    struct guard_json_limits lim;
    const char *in; /* the current chunk, never NULL */
    size_t in_len, in_pos;
    size_t run_stop;     /* end of a string run already scanned, valid when run_known */
    uint64_t consumed;   /* bytes of earlier chunks */
    uint64_t line_start; /* offset of the first byte of the current line */
    uint64_t tok_offset; /* where the token being read started */
    uint32_t line;
    int err_code;
    uint8_t state, sub; /* grammar or lexer state; number state */
    bool in_last, done, is_key, str_begun, run_known;
    uint8_t esc_digits;       /* hex digits of a \u escape read so far */
    uint8_t utf8_need;        /* continuation bytes still missing of a split UTF-8 character */
    uint8_t utf8_lo, utf8_hi; /* allowed range of the next continuation byte */
    unsigned depth;
    uint8_t stack[GUARD_JSON_MAX_DEPTH / 8]; /* 1 bit per level: 1 = array */
    uint32_t ucs, ucs_hi; /* \u escape being decoded; pending high surrogate or 0 */
    const char *lit;      /* true/false/null being matched, `sub` bytes so far */
    struct guard_json_error err;
    size_t scratch_len;
    char scratch[GUARD_JSON_SCRATCH + 8]; /* slack: one escape or split character past full */
};

/* Prepare `js` for a new document. lim may be NULL for defaults. Returns 0, or -EINVAL
 * when a limit is above its ceiling (then guard_json_next keeps returning -EINVAL). */
int guard_json_init(struct guard_json *js, const struct guard_json_limits *lim);

/* Give the tokenizer the next chunk of input (borrowed until guard_json_next returns 0).
 * `last` says no more input follows. Call only after guard_json_next returned 0. */
void guard_json_feed(struct guard_json *js, const char *buf, size_t len, bool last);

/* Produce the next token. Returns 1 with *ev filled, 0 when the chunk is used up (feed
 * more, or with last given: the document is complete), or < 0 on an error:
 * -EBADMSG for a syntax error, -E2BIG when a limit was exceeded; details in
 * guard_json_error(). After an error every call returns the same error. A top-level
 * number can only end with the input, so it arrives once `last` was given. */
int guard_json_next(struct guard_json *js, struct guard_json_event *ev);

/* True once a whole top-level value (and only trailing whitespace) was read with last. */
bool guard_json_done(const struct guard_json *js);

/* The byte offset just past the last token produced: after a STRING fragment with F_END,
 * the offset after its closing quote. */
uint64_t guard_json_offset(const struct guard_json *js);

/* The error after guard_json_next returned < 0. */
const struct guard_json_error *guard_json_error(const struct guard_json *js);

#endif

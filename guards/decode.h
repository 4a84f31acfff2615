/* Encoded payloads in prompt text: runs, escapes and Morse found, decoded, and searched again. */
#ifndef WARDEN_GUARDS_DECODE_H
#define WARDEN_GUARDS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The prompt guard decodes, then rescans: this finds encoded text in a field and hands each
 * decoded payload to a callback.
 *
 * Spans are runs that stand apart from the words around them: a base64-alphabet word of at
 * least GUARD_DECODE_MIN_RUN chars (tried as binary, hex, base32, then base64), or at least
 * GUARD_DECODE_MIN_HEX hex pairs / GUARD_DECODE_MIN_OCTET bit groups joined by spaces, commas
 * or colons. A span is handed out only when its decoded bytes read as text: at most 1 in 16
 * characters a control byte or broken UTF-8, at least 4 letters, letters and digits at least a
 * quarter of the rest (UTF-16LE that is mostly ASCII counts too). Hex with no letter digit
 * (a-f) needs 16 bytes, so card numbers stay numbers. Hashes, keys, ids, long words and
 * identifiers decode to non-text and are dropped.
 *
 * Escapes sit inside ordinary text ("%69gnore"): every one is resolved in a copy of the field
 * text, handed out (in pieces) when it holds at least `min_escapes` decoded escapes. Morse is
 * looked for in each piece of that copy: at least GUARD_DECODE_MIN_MORSE letters, 3 of them
 * different, dots and dashes both used, at most 1 group in 8 not a letter.
 *
 * Every layer-1 payload is searched once more, as a whole, the same way (layer 2); layer-2
 * payloads are not searched again. The budget counts payload bytes handed out; decoding that
 * fails the text test costs time in proportion to the input, and no budget. */

/* What was undone to get a payload. */
enum guard_enc {
    GUARD_ENC_BASE64 = 0, /* standard or url-safe alphabet, padded or not, lines wrapped or not */
    GUARD_ENC_HEX,        /* a run of hex digits ("0x" prefix allowed), or pairs apart:
                           * "68 69", "0x68,0x69", "68:69" */
    GUARD_ENC_BINARY,     /* groups of 8 bits, one run or apart: "01101000 01101001" */
    GUARD_ENC_BASE32,     /* RFC 4648 alphabet, one case, padded or not */
    GUARD_ENC_MORSE,      /* ".-- .... .- - / .. ...": letters apart by a space, words by '/',
                           * '|' or more spaces; decodes to capitals */
    GUARD_ENC_PERCENT,    /* %XX, %uXXXX */
    GUARD_ENC_HTML,       /* &#DDD; &#xHH; and common names (&lt; &amp; &nbsp; ...) */
    GUARD_ENC_UESCAPE,    /* \uXXXX (surrogate pairs joined), \u{X...}, \UXXXXXXXX */
    GUARD_ENC_XESCAPE,    /* \xHH and octal \ooo */
    GUARD_ENC_UTF16,      /* not a layer of its own: a span decoded to UTF-16LE, now UTF-8 */
    GUARD_ENC_COUNT,
};

#define GUARD_ENC_BIT(e) (1u << (e))

/* Fixed sizes. A run (span) is decoded in pieces of at most `max_run` chars; the inline copy is
 * handed out in pieces of at most `max_segment` bytes. Each piece after the first starts with
 * the last GUARD_DECODE_OVERLAP bytes of the one before, so text cut at a piece boundary is
 * still seen whole. */
#define GUARD_DECODE_MIN_RUN   16   /* shortest base64 or hex run, in chars */
#define GUARD_DECODE_OVERLAP   256  /* bytes repeated at the start of the next piece */
#define GUARD_DECODE_RUN       3840 /* ceiling of max_run (layer 1), a multiple of 8 */
#define GUARD_DECODE_SEGMENT   4096 /* ceiling of max_segment (layer 1) */
#define GUARD_DECODE_RUN2      2816 /* layer 2 caps: its input is one layer-1 piece */
#define GUARD_DECODE_SEGMENT2  3072
#define GUARD_DECODE_ESC_MAX   16 /* longest escape, "\uD83D\uDE00" and friends */
#define GUARD_DECODE_BUDGET    (64 * 1024)
#define GUARD_DECODE_MIN_HEX   8   /* hex pairs apart ("68 69 ...") needed for a span */
#define GUARD_DECODE_MIN_OCTET 6   /* 8-bit groups apart needed for a span */
#define GUARD_DECODE_MIN_MORSE 6   /* Morse letters needed */
#define GUARD_DECODE_MORSE     512 /* bytes of decoded Morse handed out at once */

/* Hard caps. Zero fields take the defaults. */
struct guard_decode_limits {
    size_t budget;        /* payload bytes handed out per instance, both layers; default 64 KiB */
    size_t max_run;       /* 64..GUARD_DECODE_RUN chars (rounded down to a multiple of 8);
                           * default GUARD_DECODE_RUN */
    size_t max_segment;   /* 512..GUARD_DECODE_SEGMENT bytes; default GUARD_DECODE_SEGMENT */
    unsigned min_escapes; /* decoded escapes a piece of the inline copy needs to be handed out;
                           * default 1; escapes that decode to a control byte other than tab,
                           * LF and CR (printf's "%02x") are decoded but not counted */
};

/* Called once per payload. `buf`/`len` are decoded bytes, borrowed until the callback returns;
 * a span payload passed the text test (mostly printable UTF-8 with letters), an inline copy is
 * handed out as decoded and may hold any bytes. `layers` is 1 for a payload decoded from the
 * field text and 2 for one decoded from a layer-1 payload (never deeper). `enc` is the
 * outermost encoding: for layer 2, the layer-1 payload's; for an inline copy, its first escape's.
 * guard_decode_info() tells more while the callback runs. The callback must not call back into
 * the same instance. */
typedef void (*guard_decode_fn)(void *ud, enum guard_enc enc, unsigned layers, const char *buf,
                                size_t len);

/* Details of the payload being handed out. */
struct guard_decode_info {
    unsigned outer;  /* GUARD_ENC_BIT set: what was undone from the field text */
    unsigned inner;  /* what was undone from the layer-1 payload (0 for layer 1) */
    uint64_t offset; /* byte offset in the field text where the layer-1 source starts (for an
                      * inline copy: its first escape; for Morse: the piece of the inline copy
                      * it was found in) */
    bool cut;        /* a piece, not the whole: of a long run or inline copy, or by the budget */
};

/* One layer's scanner. Private. */
struct guard_decode_scan {
    uint64_t pos;       /* input bytes before the current chunk */
    uint64_t word_off;  /* where the word in progress starts */
    uint64_t run_off;   /* where the run or separated sequence in progress starts */
    uint64_t seg_off;   /* first escape of the inline piece in progress */
    uint64_t seg_start; /* where its text after the overlap starts */
    uint64_t esc_off;   /* where the held escape starts */
    size_t word_len;    /* chars of the word in progress (since its line break when wrapped) */
    size_t run_len;     /* raw chars of the run, or decoded bytes of the sequence, in this piece */
    size_t ov_len;      /* decoded bytes of the previous piece kept in front of this one */
    size_t last_wrap;   /* run_len at the last line break a run continued over */
    size_t seq_count;   /* tokens of the separated sequence */
    size_t seg_len;     /* bytes of the inline copy's piece in progress */
    size_t seg_esc;     /* escapes decoded in it (its overlap not counted) */
    size_t seg_keep;    /* bytes of its overlap: Morse that ended there was handed out before */
    unsigned seg_mask;
    unsigned layer;
    uint8_t seg_first; /* enum guard_enc of the piece's first escape */
    uint8_t wrap;      /* a long run stopped at CR or LF and may go on */
    uint8_t seq_kind;  /* enum guard_enc + 1 of the separated sequence, or 0 */
    uint8_t seq_sep;   /* separator bytes since the last token */
    uint8_t esc_len;   /* bytes of an escape cut by the chunk end */
    bool in_run;       /* the word reached GUARD_DECODE_MIN_RUN chars: it lives in the run buffer */
    bool run_cut;      /* an earlier piece of this run or sequence was decoded */
    bool seg_cut;      /* an earlier piece of the inline copy was flushed */
    uint8_t carry[GUARD_DECODE_MIN_RUN];
    uint8_t esc[GUARD_DECODE_ESC_MAX];
};

/* The decoder's state: 15792 bytes on x86-64, buffers included; embed it anywhere (no heap,
 * nothing to free). One per request: fields are fed one after the other. Fields are private.
 * Do not copy it while a callback runs. */
struct guard_decode {
    struct guard_decode_limits lim;
    guard_decode_fn fn;
    void *ud;
    size_t used; /* payload bytes handed out */
    bool exhausted;
    enum guard_enc cur_enc;
    struct guard_decode_info info, cur; /* the payload being handed out; its layer-1 parent */
    struct guard_decode_scan l1, l2;
    char run1[GUARD_DECODE_OVERLAP + GUARD_DECODE_RUN];
    char seg1[GUARD_DECODE_SEGMENT];
    char run2[GUARD_DECODE_OVERLAP + GUARD_DECODE_RUN2];
    char seg2[GUARD_DECODE_SEGMENT2];
    char morse[2][GUARD_DECODE_MORSE];
};

/* Prepare `d` for a new request: fresh budget, no field open. lim may be NULL for defaults.
 * Returns 0, or -EINVAL when a limit is out of range (then `d` decodes nothing). Cheap: the
 * buffers are not cleared. */
int guard_decode_init(struct guard_decode *d, const struct guard_decode_limits *lim,
                      guard_decode_fn fn, void *ud);

/* The next bytes of the current field's text (already JSON-unescaped). Chunks may cut anywhere,
 * even inside an escape or a UTF-8 character; payloads do not depend on where. Payloads are
 * handed to the callback from inside this call once their run ends. */
void guard_decode_feed(struct guard_decode *d, const char *raw, size_t len);

/* End of the current field: decode what is pending, hand out the inline copy when it holds
 * enough escapes, and get ready for the next field. The budget carries over. */
void guard_decode_end(struct guard_decode *d);

/* Drop the current field without handing out what is pending (the budget carries over). */
void guard_decode_reset(struct guard_decode *d);

/* True once some decoded payload was not handed out (or only in part) for lack of budget;
 * decoding has stopped then until guard_decode_init. */
bool guard_decode_exhausted(const struct guard_decode *d);

/* Payload bytes handed out since guard_decode_init. */
size_t guard_decode_used(const struct guard_decode *d);

/* Details of the payload being handed out; valid only inside the callback. */
const struct guard_decode_info *guard_decode_info(const struct guard_decode *d);

/* The value of one base64 or base64url character (A-Z a-z 0-9 + - / _), or -1. */
int guard_decode_b64_value(unsigned char c);

#endif

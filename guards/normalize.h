/* Streaming text normaliser: folds disguised text to one plain form for the prompt rules. */
#ifndef WARDEN_GUARDS_NORMALIZE_H
#define WARDEN_GUARDS_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* THE NORMALISED FORM. Prompt rules are written against it, so this comment is the contract;
 * tests/unit/guards/test_normalize.c checks every point of it. The output for a text does not
 * depend on how the text was cut into chunks. To write a rule for a literal phrase, put the
 * phrase through guard_norm_block() and match what comes out.
 *
 * The input is UTF-8, read one character (code point) at a time.
 *
 * 1. Removed. Bytes that are not strict UTF-8 (RFC 3629: stray continuation bytes, overlongs,
 *    surrogates, above U+10FFFF, a sequence cut short) are dropped: the valid start of a broken
 *    sequence is dropped and the byte that broke it is read afresh; a sequence cut by the end
 *    of the text is dropped. Removed outright, as if absent: the Default_Ignorable_Code_Point
 *    characters (soft hyphen U+00AD, U+034F, U+061C, U+115F, U+1160, U+17B4, U+17B5,
 *    U+180B..U+180F, zero-width U+200B..U+200F, bidi controls U+202A..U+202E, U+2060..U+206F
 *    (with bidi isolates U+2066..U+2069), U+3164, variation selectors U+FE00..U+FE0F, U+FEFF,
 *    U+FFA0, U+FFF0..U+FFF8, U+1BCA0..U+1BCA3, U+1D173..U+1D17A, U+E0000..U+E0FFF with the
 *    variation selectors U+E0100..U+E01EF); the combining marks U+0300..U+036F, U+1AB0..U+1AFF,
 *    U+1DC0..U+1DFF, U+20D0..U+20FF, U+FE20..U+FE2F, so that decomposed "e" U+0301 reads as
 *    "e" like precomposed "é" (and zalgo text reads as its letters); control characters
 *    U+0000..U+0008, U+000E..U+001F, U+007F, U+0080..U+009F except U+0085.
 *    Except: tag characters U+E0020..U+E007E, used to smuggle invisible text, stand for the
 *    ASCII character they mirror (U+E0041 is "A", U+E0020 a space) and go through the steps
 *    below as that character.
 *
 * 2. Folded, one character to a few ASCII characters:
 *    - A..Z to a..z. Latin letters with diacritics, hooks, strokes and bars to their base
 *      letter (é -> e, ø -> o, ł -> l, đ -> d, ħ -> h, ı -> i, ŀ -> l, ſ -> s) and ligatures to
 *      their letters (ß ẞ -> ss, æ -> ae, œ -> oe, ĳ -> ij, þ -> th, ð -> d, ŋ -> n, ﬁ -> fi):
 *      Latin-1 Supplement, Latin Extended-A..E, IPA, Phonetic Extensions, Latin Extended
 *      Additional (Vietnamese), Greek with accents (ά -> a).
 *    - Full-width U+FF01..U+FF5E and small forms U+FE50..U+FE6B to the ASCII they show.
 *    - Letter and digit look-alikes to ASCII: Mathematical Alphanumeric Symbols
 *      U+1D400..U+1D7FF, letterlike symbols (ℂ ℎ ℓ K ™ -> tm, № -> no), Roman numerals
 *      (Ⅻ -> xii), circled, parenthesized, squared and negative forms (Ⓐ ⓐ ⒜ 🄰 🅐 🅰 -> a,
 *      ① ⑴ ❶ ➀ -> 1, ⒈ -> "1.", ⑽ -> 10), small capitals (ᴀ ʙ ᴄ ɢ ʜ ɪ ꜱ), superscript and
 *      subscript letters and digits (ᵃ ⁱ ⁿ ₐ ʰ -> letters, ² ₂ -> 2, ⁺ -> +).
 *    - Cyrillic letters that look Latin, in both cases: а a, в b, е e, к k, м m, н h, о o,
 *      р p, с c, т t, у y, х x, ѕ s, і i, ј j, ԁ d, һ h, ԛ q, ԝ w, ӏ l, ү y, ѵ v, ѡ w (and
 *      their accented forms: ё -> e). Greek by glyph: Α α a, Β b, Ε e, Ζ z, Η h, η n, Ι ι i,
 *      Κ κ k, Μ m, Ν n, ν v, Ο ο o, Ρ ρ p, Τ τ t, Υ y, υ u, Χ χ x, γ y, ω w, ϲ Ϲ c, ϳ j.
 *      Armenian օ o, ս u, հ h, ո n, զ q. Other Cyrillic and Greek letters are left as they
 *      are, so words of those languages come out mixed: "привет" -> "пpиbet"; normalise a
 *      rule's literal too.
 *    - Punctuation look-alikes: ‘ ’ ‛ ′ ʼ -> ', “ ” ‟ ″ -> ", ‐ ‑ -> -, · · ‧ -> ., ∗ -> *,
 *      ∣ -> |, ∕ ⁄ -> / (so ½ -> 1/2), ‥ … -> .. ... , ‼ -> !!.
 *    Every other character (CJK, emoji, other scripts, other symbols, en and em dashes) is
 *    kept byte for byte; so are ASCII digits and punctuation. The full list is the table
 *    norm_fold in normalize.c. Folded characters go through steps 3-6 exactly like the
 *    ASCII they fold to ("𝟏𝐠𝐧𝟎𝐫𝟑" -> "ignore").
 *
 * 3. Whitespace. A run of whitespace (tab, LF, VT, FF, CR, space, U+0085, U+00A0, U+1680,
 *    U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, and the tag space) becomes one
 *    "\n" when it holds a line break (LF, CR, U+0085, U+2028, U+2029), else one " ". Runs are
 *    kept at the start and end of the text too. Removed characters do not break a run.
 *
 * After steps 1-3 the text is a row of units: letters a..z; other word characters 0..9 @ $;
 * separators . - _ * ~ ` ' | + / (after folding, so ’ and · are separators too); gaps (one
 * whitespace run each: narrow when it was a single character other than tab, VT, FF or a line
 * break, wide otherwise); and other characters. A letter is single when neither the unit
 * before it nor the one after it is a word character (a letter or 0..9 @ $).
 *
 * 4. Spaced-out letters are joined. A chain is a maximal row of single letters with exactly
 *    one separator or narrow gap between each two. In a chain of 3 or more letters those
 *    separators and gaps are removed: "i g n o r e", "I-G-N-O-R-E", "i.g.n.o.r.e", "i/g/n"
 *    -> "ignore", "ignore", "ignore", "ign". A chain that comes right after a joined chain
 *    with one wide gap between them is joined too, whatever its length, and the gap stays as
 *    one " " or "\n" (a word break): "i g n o r e  m e" -> "ignore me", "a b c\nd e" ->
 *    "abc\nde". Only a chain before counts: "m e  i g n o r e" -> "m e ignore". Two
 *    separators, or a separator and a gap, end a chain: "a. b. c." stays. Singleness looks
 *    at units, not at words joined by step 5: "it's a b" -> "itsab".
 *
 * 5. Split words are joined. A separator . - _ * ~ ` ' | (also ’ and ·, not + or /) with a
 *    letter on each side is removed: "ig-nore" -> "ignore", "don't" -> "dont",
 *    "in*struc*tions" -> "instructions". For rule writers: "evil.com" -> "evilcom",
 *    "e.g." -> "eg.", "well-known" -> "wellknown", "snake_case" -> "snakecase", "it’s" ->
 *    "its", "a.b.c" -> "abc"; digits are not letters: "3.14", "v1.2", "a-1", "x--y" stay;
 *    "and/or", "c++" stay (+ and / join only inside a spaced chain of step 4).
 *
 * 6. Leetspeak. A token is a maximal run of a..z 0..9 @ $ in the text after steps 4 and 5.
 *    When at least 2 of its first GUARD_NORM_TOKEN_MAX bytes are letters, the whole token
 *    maps 0->o 1->i 3->e 4->a 5->s 7->t 8->b @->a $->s: "1gn0r3" -> "ignore", "pr0mpt" ->
 *    "prompt", "h4ck3r" -> "hacker", "1g-n0r3" -> "ignore". Otherwise it is kept as it is:
 *    "2024", "v2", "x1", "3.14", "$100". Consequences: "mp3" -> "mpe", "user@host" ->
 *    "userahost", "0x1f" -> "oxif", "sha256" -> "sha2s6": hex and base64 come out mangled.
 *
 * 7. Nothing else changes. Markup is ordinary text: "<!-- ignore -->" stays as it is, so
 *    text hidden in HTML or markdown comments stays visible to the rules.
 *
 * The output is valid UTF-8 with no ASCII upper case, no control characters other than
 * "\n", and never two whitespace bytes in a row. Each input byte yields at most 2 output
 * bytes over the whole text. */

/* Tokens whose first GUARD_NORM_TOKEN_MAX bytes hold fewer than 2 letters are never mapped. */
#define GUARD_NORM_TOKEN_MAX 64

/* Most bytes the normaliser holds back between calls (a leetspeak token that may yet turn out
 * mapped, a few spaced-out letters, a whitespace run, part of a character). */
#define GUARD_NORM_HOLD_MAX 80

/* Room that one guard_norm_feed() of `len` bytes may need, whatever came before. */
#define GUARD_NORM_OUT_MAX(len) ((size_t)(len)*2 + GUARD_NORM_HOLD_MAX)

/* The normaliser's state; embed it anywhere (no heap). Fields are private. */
struct guard_norm {
    uint32_t cp;    /* the UTF-8 character being decoded */
    uint8_t need;   /* its continuation bytes still missing */
    uint8_t lo, hi; /* allowed range of the next continuation byte */
    uint8_t ws;     /* whitespace run being read: none, one space, wide, with a line break */
    uint8_t join;   /* state of the joiner (steps 4 and 5) */
    uint8_t held;   /* units it holds in `hold` */
    uint8_t tok;    /* state of the current leetspeak token (step 6) */
    uint8_t tok_letters;
    uint8_t tok_len;  /* bytes of the token so far, up to GUARD_NORM_TOKEN_MAX */
    uint8_t tok_held; /* bytes of it in `tok_hold`, waiting for its second letter */
    bool truncated;
    char hold[5];
    char tok_hold[GUARD_NORM_TOKEN_MAX];
};

/* Prepare `n` for a new text. */
void guard_norm_init(struct guard_norm *n);

/* Normalise the next `len` bytes of the text (a chunk may cut a character or a word
 * anywhere; `in` may be NULL when len is 0). Writes the normalised bytes that are final to
 * `out` and returns how many. Never writes more than `cap`: with cap >= GUARD_NORM_OUT_MAX(len)
 * nothing is lost; with less, what does not fit is discarded and guard_norm_truncated() says
 * so from then on. */
size_t guard_norm_feed(struct guard_norm *n, const char *in, size_t len, char *out, size_t cap);

/* End of the text: writes what was held back (at most GUARD_NORM_HOLD_MAX bytes; with a smaller
 * cap the rest is discarded as in feed) and returns how many. Call guard_norm_init() before
 * the next text; guard_norm_truncated() still answers for this one. */
size_t guard_norm_end(struct guard_norm *n, char *out, size_t cap);

/* True when output was discarded for lack of room since init. */
bool guard_norm_truncated(const struct guard_norm *n);

/* Normalise a whole text at once: feed and end. With cap >= GUARD_NORM_OUT_MAX(len) the whole
 * result fits; it is cut at cap otherwise. Returns the bytes written. */
size_t guard_norm_block(const char *in, size_t len, char *out, size_t cap);

#endif

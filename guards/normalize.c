/* Streaming text normaliser: UTF-8 decoding, fold table, whitespace runs, joiner, leetspeak. */
#include "guards/normalize.h"

#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The pipeline, one stage feeding the next, each with a few bytes of state:
 *   bytes -> characters (norm_cp: strict UTF-8) -> folded ASCII units or kept characters
 *   (norm_fold) -> whitespace runs closed into gaps (n->ws) -> the joiner of spaced-out
 *   letters and split words (norm_join) -> the leetspeak token mapper (norm_tok_put) -> out.
 * Plain ASCII never reaches the decoder: a byte-class table sends it straight to the units.
 * Prose goes faster still: in the states where words of two letters or more, single spaces
 * and punctuation come out as they go in, norm_fast writes them directly, sixteen bytes at a
 * time where SSE2 can tell that every byte of a block passes (norm_block). */

_Static_assert(GUARD_NORM_TOKEN_MAX < 256, "token length is a uint8_t");
_Static_assert(GUARD_NORM_HOLD_MAX >= GUARD_NORM_TOKEN_MAX + 5 + 1 + 6,
               "hold bound: token, joiner, whitespace, a cut character's worth");

/* Units of the joiner. */
enum norm_unit {
    NORM_U_OTHER = 0, /* kept as it is; not a word character */
    NORM_U_LETTER,    /* a..z */
    NORM_U_WORD,      /* 0..9 @ $ */
    NORM_U_SEP,       /* . - _ * ~ ` ' |: joins split words (step 5) and spaced letters */
    NORM_U_SEP4,      /* + /: joins spaced letters only (step 4) */
    NORM_U_NARROW,    /* a gap of one space character */
    NORM_U_WIDE,      /* any other gap; its byte is ' ' or '\n' */
    NORM_U_END,       /* end of the text */
};

/* Classes of ASCII bytes: the first five are the units above, the rest never reach the joiner. */
enum norm_class {
    NORM_C_OTHER = 0,
    NORM_C_LETTER,
    NORM_C_WORD,
    NORM_C_SEP,
    NORM_C_SEP4,
    NORM_C_SPACE, /* ' ': may make a narrow gap */
    NORM_C_TAB,   /* tab, VT, FF: a wide gap */
    NORM_C_BREAK, /* LF, CR */
    NORM_C_DROP,  /* other control characters */
    NORM_C_HIGH,  /* 0x80..0xFF: UTF-8, the slow path */
};

static const uint8_t norm_class[256] = {
    8, 8, 8, 8, 8, 8, 8, 8, 8, 6, 7, 6, 6, 7, 8, 8, /* 00 */
    8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* 10 */
    5, 0, 0, 0, 2, 0, 0, 3, 0, 0, 3, 4, 0, 3, 3, 4, /* 20  !"#$%&'()*+,-./ */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0, 0, /* 30 0-9 :;<=>? */
    2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 40 @A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 3, /* 50 P-Z [\]^_ */
    3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 60 `a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 3, 0, 3, 8, /* 70 p-z {|}~ DEL */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* 80 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* 90 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* A0 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* B0 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* C0 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* D0 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* E0 */
    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, /* F0 */
};

/* Token characters of step 6 after folding, and what a mapped token makes of them: letters
 * and 2 6 9 stay, the leet digits and @ $ become letters. 0 for every other byte. The hot
 * loop reads raw input through it, so upper-case letters are folded here too. */
static const char norm_word[256] = {
    ['$'] = 's', ['@'] = 'a', ['0'] = 'o', ['1'] = 'i', ['2'] = '2', ['3'] = 'e', ['4'] = 'a',
    ['5'] = 's', ['6'] = '6', ['7'] = 't', ['8'] = 'b', ['9'] = '9', ['A'] = 'a', ['B'] = 'b',
    ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g', ['H'] = 'h', ['I'] = 'i',
    ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n', ['O'] = 'o', ['P'] = 'p',
    ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u', ['V'] = 'v', ['W'] = 'w',
    ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z', ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd',
    ['e'] = 'e', ['f'] = 'f', ['g'] = 'g', ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k',
    ['l'] = 'l', ['m'] = 'm', ['n'] = 'n', ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r',
    ['s'] = 's', ['t'] = 't', ['u'] = 'u', ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y',
    ['z'] = 'z',
};

/* Whitespace runs (n->ws). */
enum norm_ws {
    NORM_WS_NONE = 0,
    NORM_WS_ONE,   /* one space character so far: a narrow gap if the run ends here */
    NORM_WS_WIDE,  /* longer, or a tab */
    NORM_WS_BREAK, /* holds a line break */
};

/* Joiner states (n->join), with what `hold` holds: L a letter, s a separator or ' ' for a
 * narrow gap. C states are a chain not yet known to reach 3 letters; Q states continue a
 * joined chain. */
enum norm_join {
    NORM_J_START = 0, /* after a non-word unit or at the start; nothing held */
    NORM_J_CONT,      /* after a wide gap that followed a joined chain; nothing held */
    NORM_J_WORD_L,    /* inside a word, after a letter that is not single */
    NORM_J_WORD_W,    /* inside a word, after 0..9 @ $ */
    NORM_J_WORD_SEP,  /* [s]: a separator after a word's letter (step 5 if a letter follows) */
    NORM_J_C1,        /* [L] */
    NORM_J_C1S,       /* [L s] */
    NORM_J_C2,        /* [L s L] */
    NORM_J_C2S,       /* [L s L s] */
    NORM_J_C3,        /* [L s L s L]: joined if the last letter is single */
    NORM_J_Q,         /* after a single letter of a joined chain; nothing held */
    NORM_J_QS,        /* [s] after it */
    NORM_J_QL,        /* [s L] or, after NORM_J_CONT, [L] */
};

/* Leetspeak token states (n->tok). */
enum norm_tok {
    NORM_T_NONE = 0, /* not inside a token */
    NORM_T_HOLD,     /* fewer than 2 letters yet: bytes from the first leet character wait */
    NORM_T_MAPPED,   /* 2 letters seen: map every byte */
    NORM_T_RAW,      /* GUARD_NORM_TOKEN_MAX bytes without 2 letters: copy every byte */
};

/* Fold table entries. */
enum norm_fold_kind {
    NORM_F_DROP = 0, /* removed (step 1) */
    NORM_F_SPACE,    /* whitespace, may make a narrow gap */
    NORM_F_NEWLINE,  /* a line break */
    NORM_F_STR,      /* every character of the range folds to `str` (1..4 ASCII bytes) */
    NORM_F_SEQ,      /* the range folds to consecutive letters or digits from str[0] */
    NORM_F_TAG,      /* tag characters: cp - 0xE0000 is the ASCII they mirror */
};

struct norm_range {
    uint32_t lo;
    uint16_t span; /* hi - lo */
    uint8_t kind;
    char str[5];
};

/* Sorted, disjoint ranges of non-ASCII characters that are not kept as they are. Generated
 * once from Unicode 14 data (NFKD with marks stripped, letter names "LATIN ... LETTER X WITH
 * ...", small capitals) plus the hand-made look-alike lists of normalize.h, then reviewed; a
 * character missing here passes through unchanged. */
static const struct norm_range norm_fold[] = {
    {0x00080, 4, NORM_F_DROP, ""},    /* U+0080..U+0084 */
    {0x00085, 0, NORM_F_NEWLINE, ""}, /* U+0085 */
    {0x00086, 25, NORM_F_DROP, ""},   /* U+0086..U+009F */
    {0x000A0, 0, NORM_F_SPACE, ""},   /* U+00A0 */
    {0x000AA, 0, NORM_F_STR, "a"},    /* U+00AA */
    {0x000AD, 0, NORM_F_DROP, ""},    /* U+00AD */
    {0x000B2, 0, NORM_F_STR, "2"},    /* ² */
    {0x000B3, 0, NORM_F_STR, "3"},    /* ³ */
    {0x000B7, 0, NORM_F_STR, "."},    /* · */
    {0x000B9, 0, NORM_F_STR, "1"},    /* ¹ */
    {0x000BA, 0, NORM_F_STR, "o"},    /* U+00BA */
    {0x000BC, 0, NORM_F_STR, "1/4"},  /* ¼ */
    {0x000BD, 0, NORM_F_STR, "1/2"},  /* ½ */
    {0x000BE, 0, NORM_F_STR, "3/4"},  /* ¾ */
    {0x000C0, 5, NORM_F_STR, "a"},    /* À..Å */
    {0x000C6, 0, NORM_F_STR, "ae"},   /* Æ */
    {0x000C7, 0, NORM_F_STR, "c"},    /* Ç */
    {0x000C8, 3, NORM_F_STR, "e"},    /* È..Ë */
    {0x000CC, 3, NORM_F_STR, "i"},    /* Ì..Ï */
    {0x000D0, 0, NORM_F_STR, "d"},    /* Ð */
    {0x000D1, 0, NORM_F_STR, "n"},    /* Ñ */
    {0x000D2, 4, NORM_F_STR, "o"},    /* Ò..Ö */
    {0x000D8, 0, NORM_F_STR, "o"},    /* Ø */
    {0x000D9, 3, NORM_F_STR, "u"},    /* Ù..Ü */
    {0x000DD, 0, NORM_F_STR, "y"},    /* Ý */
    {0x000DE, 0, NORM_F_STR, "th"},   /* Þ */
    {0x000DF, 0, NORM_F_STR, "ss"},   /* ß */
    {0x000E0, 5, NORM_F_STR, "a"},    /* à..å */
    {0x000E6, 0, NORM_F_STR, "ae"},   /* æ */
    {0x000E7, 0, NORM_F_STR, "c"},    /* ç */
    {0x000E8, 3, NORM_F_STR, "e"},    /* è..ë */
    {0x000EC, 3, NORM_F_STR, "i"},    /* ì..ï */
    {0x000F0, 0, NORM_F_STR, "d"},    /* ð */
    {0x000F1, 0, NORM_F_STR, "n"},    /* ñ */
    {0x000F2, 4, NORM_F_STR, "o"},    /* ò..ö */
    {0x000F8, 0, NORM_F_STR, "o"},    /* ø */
    {0x000F9, 3, NORM_F_STR, "u"},    /* ù..ü */
    {0x000FD, 0, NORM_F_STR, "y"},    /* ý */
    {0x000FE, 0, NORM_F_STR, "th"},   /* þ */
    {0x000FF, 0, NORM_F_STR, "y"},    /* ÿ */
    {0x00100, 5, NORM_F_STR, "a"},    /* Ā..ą */
    {0x00106, 7, NORM_F_STR, "c"},    /* Ć..č */
    {0x0010E, 3, NORM_F_STR, "d"},    /* Ď..đ */
    {0x00112, 9, NORM_F_STR, "e"},    /* Ē..ě */
    {0x0011C, 7, NORM_F_STR, "g"},    /* Ĝ..ģ */
    {0x00124, 3, NORM_F_STR, "h"},    /* Ĥ..ħ */
    {0x00128, 9, NORM_F_STR, "i"},    /* Ĩ..ı */
    {0x00132, 1, NORM_F_STR, "ij"},   /* Ĳ..ĳ */
    {0x00134, 1, NORM_F_STR, "j"},    /* Ĵ..ĵ */
    {0x00136, 2, NORM_F_STR, "k"},    /* Ķ..ĸ */
    {0x00139, 9, NORM_F_STR, "l"},    /* Ĺ..ł */
    {0x00143, 5, NORM_F_STR, "n"},    /* Ń..ň */
    {0x00149, 0, NORM_F_STR, "'n"},   /* ŉ */
    {0x0014A, 1, NORM_F_STR, "n"},    /* Ŋ..ŋ */
    {0x0014C, 5, NORM_F_STR, "o"},    /* Ō..ő */
    {0x00152, 1, NORM_F_STR, "oe"},   /* Œ..œ */
    {0x00154, 5, NORM_F_STR, "r"},    /* Ŕ..ř */
    {0x0015A, 7, NORM_F_STR, "s"},    /* Ś..š */
    {0x00162, 5, NORM_F_STR, "t"},    /* Ţ..ŧ */
    {0x00168, 11, NORM_F_STR, "u"},   /* Ũ..ų */
    {0x00174, 1, NORM_F_STR, "w"},    /* Ŵ..ŵ */
    {0x00176, 2, NORM_F_STR, "y"},    /* Ŷ..Ÿ */
    {0x00179, 5, NORM_F_STR, "z"},    /* Ź..ž */
    {0x0017F, 0, NORM_F_STR, "s"},    /* ſ */
    {0x00180, 3, NORM_F_STR, "b"},    /* ƀ..ƃ */
    {0x00187, 1, NORM_F_STR, "c"},    /* Ƈ..ƈ */
    {0x0018A, 2, NORM_F_STR, "d"},    /* Ɗ..ƌ */
    {0x00191, 1, NORM_F_STR, "f"},    /* Ƒ..ƒ */
    {0x00193, 0, NORM_F_STR, "g"},    /* Ɠ */
    {0x00195, 0, NORM_F_STR, "hv"},   /* ƕ */
    {0x00197, 0, NORM_F_STR, "i"},    /* Ɨ */
    {0x00198, 1, NORM_F_STR, "k"},    /* Ƙ..ƙ */
    {0x0019A, 0, NORM_F_STR, "l"},    /* ƚ */
    {0x0019D, 1, NORM_F_STR, "n"},    /* Ɲ..ƞ */
    {0x0019F, 2, NORM_F_STR, "o"},    /* Ɵ..ơ */
    {0x001A2, 1, NORM_F_STR, "oi"},   /* Ƣ..ƣ */
    {0x001A4, 1, NORM_F_STR, "p"},    /* Ƥ..ƥ */
    {0x001AB, 3, NORM_F_STR, "t"},    /* ƫ..Ʈ */
    {0x001AF, 1, NORM_F_STR, "u"},    /* Ư..ư */
    {0x001B2, 0, NORM_F_STR, "v"},    /* Ʋ */
    {0x001B3, 1, NORM_F_STR, "y"},    /* Ƴ..ƴ */
    {0x001B5, 1, NORM_F_STR, "z"},    /* Ƶ..ƶ */
    {0x001C4, 2, NORM_F_STR, "dz"},   /* Ǆ..ǆ */
    {0x001C7, 2, NORM_F_STR, "lj"},   /* Ǉ..ǉ */
    {0x001CA, 2, NORM_F_STR, "nj"},   /* Ǌ..ǌ */
    {0x001CD, 1, NORM_F_STR, "a"},    /* Ǎ..ǎ */
    {0x001CF, 1, NORM_F_STR, "i"},    /* Ǐ..ǐ */
    {0x001D1, 1, NORM_F_STR, "o"},    /* Ǒ..ǒ */
    {0x001D3, 9, NORM_F_STR, "u"},    /* Ǔ..ǜ */
    {0x001DE, 3, NORM_F_STR, "a"},    /* Ǟ..ǡ */
    {0x001E2, 1, NORM_F_STR, "ae"},   /* Ǣ..ǣ */
    {0x001E4, 3, NORM_F_STR, "g"},    /* Ǥ..ǧ */
    {0x001E8, 1, NORM_F_STR, "k"},    /* Ǩ..ǩ */
    {0x001EA, 3, NORM_F_STR, "o"},    /* Ǫ..ǭ */
    {0x001F0, 0, NORM_F_STR, "j"},    /* ǰ */
    {0x001F1, 2, NORM_F_STR, "dz"},   /* Ǳ..ǳ */
    {0x001F4, 1, NORM_F_STR, "g"},    /* Ǵ..ǵ */
    {0x001F8, 1, NORM_F_STR, "n"},    /* Ǹ..ǹ */
    {0x001FA, 1, NORM_F_STR, "a"},    /* Ǻ..ǻ */
    {0x001FC, 1, NORM_F_STR, "ae"},   /* Ǽ..ǽ */
    {0x001FE, 1, NORM_F_STR, "o"},    /* Ǿ..ǿ */
    {0x00200, 3, NORM_F_STR, "a"},    /* Ȁ..ȃ */
    {0x00204, 3, NORM_F_STR, "e"},    /* Ȅ..ȇ */
    {0x00208, 3, NORM_F_STR, "i"},    /* Ȉ..ȋ */
    {0x0020C, 3, NORM_F_STR, "o"},    /* Ȍ..ȏ */
    {0x00210, 3, NORM_F_STR, "r"},    /* Ȑ..ȓ */
    {0x00214, 3, NORM_F_STR, "u"},    /* Ȕ..ȗ */
    {0x00218, 1, NORM_F_STR, "s"},    /* Ș..ș */
    {0x0021A, 1, NORM_F_STR, "t"},    /* Ț..ț */
    {0x0021E, 1, NORM_F_STR, "h"},    /* Ȟ..ȟ */
    {0x00220, 0, NORM_F_STR, "n"},    /* Ƞ */
    {0x00221, 0, NORM_F_STR, "d"},    /* ȡ */
    {0x00224, 1, NORM_F_STR, "z"},    /* Ȥ..ȥ */
    {0x00226, 1, NORM_F_STR, "a"},    /* Ȧ..ȧ */
    {0x00228, 1, NORM_F_STR, "e"},    /* Ȩ..ȩ */
    {0x0022A, 7, NORM_F_STR, "o"},    /* Ȫ..ȱ */
    {0x00232, 1, NORM_F_STR, "y"},    /* Ȳ..ȳ */
    {0x00234, 0, NORM_F_STR, "l"},    /* ȴ */
    {0x00235, 0, NORM_F_STR, "n"},    /* ȵ */
    {0x00236, 0, NORM_F_STR, "t"},    /* ȶ */
    {0x00237, 0, NORM_F_STR, "j"},    /* ȷ */
    {0x0023A, 0, NORM_F_STR, "a"},    /* Ⱥ */
    {0x0023B, 1, NORM_F_STR, "c"},    /* Ȼ..ȼ */
    {0x0023D, 0, NORM_F_STR, "l"},    /* Ƚ */
    {0x0023E, 0, NORM_F_STR, "t"},    /* Ⱦ */
    {0x0023F, 0, NORM_F_STR, "s"},    /* ȿ */
    {0x00240, 0, NORM_F_STR, "z"},    /* ɀ */
    {0x00243, 0, NORM_F_STR, "b"},    /* Ƀ */
    {0x00246, 1, NORM_F_STR, "e"},    /* Ɇ..ɇ */
    {0x00248, 1, NORM_F_STR, "j"},    /* Ɉ..ɉ */
    {0x0024B, 0, NORM_F_STR, "q"},    /* ɋ */
    {0x0024C, 1, NORM_F_STR, "r"},    /* Ɍ..ɍ */
    {0x0024E, 1, NORM_F_STR, "y"},    /* Ɏ..ɏ */
    {0x00251, 0, NORM_F_STR, "a"},    /* ɑ */
    {0x00253, 0, NORM_F_STR, "b"},    /* ɓ */
    {0x00255, 0, NORM_F_STR, "c"},    /* ɕ */
    {0x00256, 1, NORM_F_STR, "d"},    /* ɖ..ɗ */
    {0x0025F, 0, NORM_F_STR, "j"},    /* ɟ */
    {0x00260, 2, NORM_F_STR, "g"},    /* ɠ..ɢ */
    {0x00266, 0, NORM_F_STR, "h"},    /* ɦ */
    {0x00268, 2, NORM_F_STR, "i"},    /* ɨ..ɪ */
    {0x0026B, 2, NORM_F_STR, "l"},    /* ɫ..ɭ */
    {0x00271, 0, NORM_F_STR, "m"},    /* ɱ */
    {0x00272, 2, NORM_F_STR, "n"},    /* ɲ..ɴ */
    {0x00276, 0, NORM_F_STR, "oe"},   /* ɶ */
    {0x0027C, 2, NORM_F_STR, "r"},    /* ɼ..ɾ */
    {0x00280, 0, NORM_F_STR, "r"},    /* ʀ */
    {0x00282, 0, NORM_F_STR, "s"},    /* ʂ */
    {0x00284, 0, NORM_F_STR, "j"},    /* ʄ */
    {0x00288, 0, NORM_F_STR, "t"},    /* ʈ */
    {0x0028B, 0, NORM_F_STR, "v"},    /* ʋ */
    {0x0028F, 0, NORM_F_STR, "y"},    /* ʏ */
    {0x00290, 1, NORM_F_STR, "z"},    /* ʐ..ʑ */
    {0x00299, 0, NORM_F_STR, "b"},    /* ʙ */
    {0x0029B, 0, NORM_F_STR, "g"},    /* ʛ */
    {0x0029C, 0, NORM_F_STR, "h"},    /* ʜ */
    {0x0029D, 0, NORM_F_STR, "j"},    /* ʝ */
    {0x0029F, 0, NORM_F_STR, "l"},    /* ʟ */
    {0x002A0, 0, NORM_F_STR, "q"},    /* ʠ */
    {0x002B0, 1, NORM_F_STR, "h"},    /* ʰ..ʱ */
    {0x002B2, 0, NORM_F_STR, "j"},    /* ʲ */
    {0x002B3, 0, NORM_F_STR, "r"},    /* ʳ */
    {0x002B7, 0, NORM_F_STR, "w"},    /* ʷ */
    {0x002B8, 0, NORM_F_STR, "y"},    /* ʸ */
    {0x002B9, 0, NORM_F_STR, "'"},    /* ʹ */
    {0x002BC, 0, NORM_F_STR, "'"},    /* ʼ */
    {0x002E1, 0, NORM_F_STR, "l"},    /* ˡ */
    {0x002E2, 0, NORM_F_STR, "s"},    /* ˢ */
    {0x002E3, 0, NORM_F_STR, "x"},    /* ˣ */
    {0x00300, 111, NORM_F_DROP, ""},  /* U+0300..U+036F */
    {0x00374, 0, NORM_F_STR, "'"},    /* ʹ */
    {0x0037E, 0, NORM_F_STR, ";"},    /* ; */
    {0x0037F, 0, NORM_F_STR, "j"},    /* Ϳ */
    {0x00386, 0, NORM_F_STR, "a"},    /* Ά */
    {0x00387, 0, NORM_F_STR, "."},    /* · */
    {0x00388, 0, NORM_F_STR, "e"},    /* Έ */
    {0x00389, 0, NORM_F_STR, "h"},    /* Ή */
    {0x0038A, 0, NORM_F_STR, "i"},    /* Ί */
    {0x0038C, 0, NORM_F_STR, "o"},    /* Ό */
    {0x0038E, 0, NORM_F_STR, "y"},    /* Ύ */
    {0x00390, 0, NORM_F_STR, "i"},    /* ΐ */
    {0x00391, 0, NORM_F_STR, "a"},    /* Α */
    {0x00392, 0, NORM_F_STR, "b"},    /* Β */
    {0x00395, 0, NORM_F_STR, "e"},    /* Ε */
    {0x00396, 0, NORM_F_STR, "z"},    /* Ζ */
    {0x00397, 0, NORM_F_STR, "h"},    /* Η */
    {0x00399, 0, NORM_F_STR, "i"},    /* Ι */
    {0x0039A, 0, NORM_F_STR, "k"},    /* Κ */
    {0x0039C, 0, NORM_F_STR, "m"},    /* Μ */
    {0x0039D, 0, NORM_F_STR, "n"},    /* Ν */
    {0x0039F, 0, NORM_F_STR, "o"},    /* Ο */
    {0x003A1, 0, NORM_F_STR, "p"},    /* Ρ */
    {0x003A4, 0, NORM_F_STR, "t"},    /* Τ */
    {0x003A5, 0, NORM_F_STR, "y"},    /* Υ */
    {0x003A7, 0, NORM_F_STR, "x"},    /* Χ */
    {0x003AA, 0, NORM_F_STR, "i"},    /* Ϊ */
    {0x003AB, 0, NORM_F_STR, "y"},    /* Ϋ */
    {0x003AC, 0, NORM_F_STR, "a"},    /* ά */
    {0x003AE, 0, NORM_F_STR, "n"},    /* ή */
    {0x003AF, 0, NORM_F_STR, "i"},    /* ί */
    {0x003B0, 0, NORM_F_STR, "u"},    /* ΰ */
    {0x003B1, 0, NORM_F_STR, "a"},    /* α */
    {0x003B3, 0, NORM_F_STR, "y"},    /* γ */
    {0x003B7, 0, NORM_F_STR, "n"},    /* η */
    {0x003B9, 0, NORM_F_STR, "i"},    /* ι */
    {0x003BA, 0, NORM_F_STR, "k"},    /* κ */
    {0x003BD, 0, NORM_F_STR, "v"},    /* ν */
    {0x003BF, 0, NORM_F_STR, "o"},    /* ο */
    {0x003C1, 0, NORM_F_STR, "p"},    /* ρ */
    {0x003C4, 0, NORM_F_STR, "t"},    /* τ */
    {0x003C5, 0, NORM_F_STR, "u"},    /* υ */
    {0x003C7, 0, NORM_F_STR, "x"},    /* χ */
    {0x003C9, 0, NORM_F_STR, "w"},    /* ω */
    {0x003CA, 0, NORM_F_STR, "i"},    /* ϊ */
    {0x003CB, 0, NORM_F_STR, "u"},    /* ϋ */
    {0x003CC, 0, NORM_F_STR, "o"},    /* ό */
    {0x003CD, 0, NORM_F_STR, "u"},    /* ύ */
    {0x003CE, 0, NORM_F_STR, "w"},    /* ώ */
    {0x003D2, 2, NORM_F_STR, "y"},    /* ϒ..ϔ */
    {0x003F0, 0, NORM_F_STR, "k"},    /* ϰ */
    {0x003F1, 0, NORM_F_STR, "p"},    /* ϱ */
    {0x003F2, 0, NORM_F_STR, "c"},    /* ϲ */
    {0x003F3, 0, NORM_F_STR, "j"},    /* ϳ */
    {0x003F9, 0, NORM_F_STR, "c"},    /* Ϲ */
    {0x00400, 1, NORM_F_STR, "e"},    /* Ѐ..Ё */
    {0x00405, 0, NORM_F_STR, "s"},    /* Ѕ */
    {0x00406, 1, NORM_F_STR, "i"},    /* І..Ї */
    {0x00408, 0, NORM_F_STR, "j"},    /* Ј */
    {0x0040C, 0, NORM_F_STR, "k"},    /* Ќ */
    {0x0040E, 0, NORM_F_STR, "y"},    /* Ў */
    {0x00410, 0, NORM_F_STR, "a"},    /* А */
    {0x00412, 0, NORM_F_STR, "b"},    /* В */
    {0x00415, 0, NORM_F_STR, "e"},    /* Е */
    {0x0041A, 0, NORM_F_STR, "k"},    /* К */
    {0x0041C, 0, NORM_F_STR, "m"},    /* М */
    {0x0041D, 0, NORM_F_STR, "h"},    /* Н */
    {0x0041E, 0, NORM_F_STR, "o"},    /* О */
    {0x00420, 0, NORM_F_STR, "p"},    /* Р */
    {0x00421, 0, NORM_F_STR, "c"},    /* С */
    {0x00422, 0, NORM_F_STR, "t"},    /* Т */
    {0x00423, 0, NORM_F_STR, "y"},    /* У */
    {0x00425, 0, NORM_F_STR, "x"},    /* Х */
    {0x00430, 0, NORM_F_STR, "a"},    /* а */
    {0x00432, 0, NORM_F_STR, "b"},    /* в */
    {0x00435, 0, NORM_F_STR, "e"},    /* е */
    {0x0043A, 0, NORM_F_STR, "k"},    /* к */
    {0x0043C, 0, NORM_F_STR, "m"},    /* м */
    {0x0043D, 0, NORM_F_STR, "h"},    /* н */
    {0x0043E, 0, NORM_F_STR, "o"},    /* о */
    {0x00440, 0, NORM_F_STR, "p"},    /* р */
    {0x00441, 0, NORM_F_STR, "c"},    /* с */
    {0x00442, 0, NORM_F_STR, "t"},    /* т */
    {0x00443, 0, NORM_F_STR, "y"},    /* у */
    {0x00445, 0, NORM_F_STR, "x"},    /* х */
    {0x00450, 1, NORM_F_STR, "e"},    /* ѐ..ё */
    {0x00455, 0, NORM_F_STR, "s"},    /* ѕ */
    {0x00456, 1, NORM_F_STR, "i"},    /* і..ї */
    {0x00458, 0, NORM_F_STR, "j"},    /* ј */
    {0x0045C, 0, NORM_F_STR, "k"},    /* ќ */
    {0x0045E, 0, NORM_F_STR, "y"},    /* ў */
    {0x00460, 1, NORM_F_STR, "w"},    /* Ѡ..ѡ */
    {0x00474, 3, NORM_F_STR, "v"},    /* Ѵ..ѷ */
    {0x004AE, 1, NORM_F_STR, "y"},    /* Ү..ү */
    {0x004BA, 1, NORM_F_STR, "h"},    /* Һ..һ */
    {0x004C0, 0, NORM_F_STR, "l"},    /* Ӏ */
    {0x004CF, 0, NORM_F_STR, "l"},    /* ӏ */
    {0x004D0, 3, NORM_F_STR, "a"},    /* Ӑ..ӓ */
    {0x004D6, 1, NORM_F_STR, "e"},    /* Ӗ..ӗ */
    {0x004E6, 1, NORM_F_STR, "o"},    /* Ӧ..ӧ */
    {0x004EE, 5, NORM_F_STR, "y"},    /* Ӯ..ӳ */
    {0x00500, 1, NORM_F_STR, "d"},    /* Ԁ..ԁ */
    {0x0051A, 1, NORM_F_STR, "q"},    /* Ԛ..ԛ */
    {0x0051C, 1, NORM_F_STR, "w"},    /* Ԝ..ԝ */
    {0x0054D, 0, NORM_F_STR, "u"},    /* Ս */
    {0x00555, 0, NORM_F_STR, "o"},    /* Օ */
    {0x00566, 0, NORM_F_STR, "q"},    /* զ */
    {0x00570, 0, NORM_F_STR, "h"},    /* հ */
    {0x00578, 0, NORM_F_STR, "n"},    /* ո */
    {0x0057D, 0, NORM_F_STR, "u"},    /* ս */
    {0x00585, 0, NORM_F_STR, "o"},    /* օ */
    {0x0061C, 0, NORM_F_DROP, ""},    /* U+061C */
    {0x0115F, 1, NORM_F_DROP, ""},    /* U+115F..U+1160 */
    {0x01680, 0, NORM_F_SPACE, ""},   /* U+1680 */
    {0x017B4, 1, NORM_F_DROP, ""},    /* U+17B4..U+17B5 */
    {0x0180B, 4, NORM_F_DROP, ""},    /* U+180B..U+180F */
    {0x01AB0, 79, NORM_F_DROP, ""},   /* U+1AB0..U+1AFF */
    {0x01D00, 0, NORM_F_STR, "a"},    /* ᴀ */
    {0x01D01, 0, NORM_F_STR, "ae"},   /* ᴁ */
    {0x01D03, 0, NORM_F_STR, "b"},    /* ᴃ */
    {0x01D04, 0, NORM_F_STR, "c"},    /* ᴄ */
    {0x01D05, 0, NORM_F_STR, "d"},    /* ᴅ */
    {0x01D07, 0, NORM_F_STR, "e"},    /* ᴇ */
    {0x01D0A, 3, NORM_F_SEQ, "j"},    /* ᴊ..ᴍ */
    {0x01D0F, 0, NORM_F_STR, "o"},    /* ᴏ */
    {0x01D18, 0, NORM_F_STR, "p"},    /* ᴘ */
    {0x01D1B, 0, NORM_F_STR, "t"},    /* ᴛ */
    {0x01D1C, 0, NORM_F_STR, "u"},    /* ᴜ */
    {0x01D20, 0, NORM_F_STR, "v"},    /* ᴠ */
    {0x01D21, 0, NORM_F_STR, "w"},    /* ᴡ */
    {0x01D22, 0, NORM_F_STR, "z"},    /* ᴢ */
    {0x01D2C, 0, NORM_F_STR, "a"},    /* ᴬ */
    {0x01D2D, 0, NORM_F_STR, "ae"},   /* ᴭ */
    {0x01D2E, 0, NORM_F_STR, "b"},    /* ᴮ */
    {0x01D30, 0, NORM_F_STR, "d"},    /* ᴰ */
    {0x01D31, 0, NORM_F_STR, "e"},    /* ᴱ */
    {0x01D33, 7, NORM_F_SEQ, "g"},    /* ᴳ..ᴺ */
    {0x01D3C, 0, NORM_F_STR, "o"},    /* ᴼ */
    {0x01D3E, 0, NORM_F_STR, "p"},    /* ᴾ */
    {0x01D3F, 0, NORM_F_STR, "r"},    /* ᴿ */
    {0x01D40, 0, NORM_F_STR, "t"},    /* ᵀ */
    {0x01D41, 0, NORM_F_STR, "u"},    /* ᵁ */
    {0x01D42, 0, NORM_F_STR, "w"},    /* ᵂ */
    {0x01D43, 0, NORM_F_STR, "a"},    /* ᵃ */
    {0x01D45, 0, NORM_F_STR, "a"},    /* ᵅ */
    {0x01D47, 0, NORM_F_STR, "b"},    /* ᵇ */
    {0x01D48, 0, NORM_F_STR, "d"},    /* ᵈ */
    {0x01D49, 0, NORM_F_STR, "e"},    /* ᵉ */
    {0x01D4D, 0, NORM_F_STR, "g"},    /* ᵍ */
    {0x01D4F, 0, NORM_F_STR, "k"},    /* ᵏ */
    {0x01D50, 0, NORM_F_STR, "m"},    /* ᵐ */
    {0x01D51, 0, NORM_F_STR, "n"},    /* ᵑ */
    {0x01D52, 0, NORM_F_STR, "o"},    /* ᵒ */
    {0x01D56, 0, NORM_F_STR, "p"},    /* ᵖ */
    {0x01D57, 0, NORM_F_STR, "t"},    /* ᵗ */
    {0x01D58, 0, NORM_F_STR, "u"},    /* ᵘ */
    {0x01D5B, 0, NORM_F_STR, "v"},    /* ᵛ */
    {0x01D5E, 0, NORM_F_STR, "y"},    /* ᵞ */
    {0x01D61, 0, NORM_F_STR, "x"},    /* ᵡ */
    {0x01D62, 0, NORM_F_STR, "i"},    /* ᵢ */
    {0x01D63, 0, NORM_F_STR, "r"},    /* ᵣ */
    {0x01D64, 0, NORM_F_STR, "u"},    /* ᵤ */
    {0x01D65, 0, NORM_F_STR, "v"},    /* ᵥ */
    {0x01D67, 0, NORM_F_STR, "y"},    /* ᵧ */
    {0x01D68, 0, NORM_F_STR, "p"},    /* ᵨ */
    {0x01D6A, 0, NORM_F_STR, "x"},    /* ᵪ */
    {0x01D6B, 0, NORM_F_STR, "ue"},   /* ᵫ */
    {0x01D6C, 0, NORM_F_STR, "b"},    /* ᵬ */
    {0x01D6D, 0, NORM_F_STR, "d"},    /* ᵭ */
    {0x01D6E, 0, NORM_F_STR, "f"},    /* ᵮ */
    {0x01D6F, 0, NORM_F_STR, "m"},    /* ᵯ */
    {0x01D70, 0, NORM_F_STR, "n"},    /* ᵰ */
    {0x01D71, 0, NORM_F_STR, "p"},    /* ᵱ */
    {0x01D72, 1, NORM_F_STR, "r"},    /* ᵲ..ᵳ */
    {0x01D74, 0, NORM_F_STR, "s"},    /* ᵴ */
    {0x01D75, 0, NORM_F_STR, "t"},    /* ᵵ */
    {0x01D76, 0, NORM_F_STR, "z"},    /* ᵶ */
    {0x01D78, 0, NORM_F_STR, "h"},    /* ᵸ */
    {0x01D7A, 0, NORM_F_STR, "th"},   /* ᵺ */
    {0x01D7D, 0, NORM_F_STR, "p"},    /* ᵽ */
    {0x01D80, 0, NORM_F_STR, "b"},    /* ᶀ */
    {0x01D81, 0, NORM_F_STR, "d"},    /* ᶁ */
    {0x01D82, 0, NORM_F_STR, "f"},    /* ᶂ */
    {0x01D83, 0, NORM_F_STR, "g"},    /* ᶃ */
    {0x01D84, 3, NORM_F_SEQ, "k"},    /* ᶄ..ᶇ */
    {0x01D88, 0, NORM_F_STR, "p"},    /* ᶈ */
    {0x01D89, 0, NORM_F_STR, "r"},    /* ᶉ */
    {0x01D8A, 0, NORM_F_STR, "s"},    /* ᶊ */
    {0x01D8C, 0, NORM_F_STR, "v"},    /* ᶌ */
    {0x01D8D, 0, NORM_F_STR, "x"},    /* ᶍ */
    {0x01D8E, 0, NORM_F_STR, "z"},    /* ᶎ */
    {0x01D8F, 0, NORM_F_STR, "a"},    /* ᶏ */
    {0x01D91, 0, NORM_F_STR, "d"},    /* ᶑ */
    {0x01D92, 0, NORM_F_STR, "e"},    /* ᶒ */
    {0x01D96, 0, NORM_F_STR, "i"},    /* ᶖ */
    {0x01D99, 0, NORM_F_STR, "u"},    /* ᶙ */
    {0x01D9C, 1, NORM_F_STR, "c"},    /* ᶜ..ᶝ */
    {0x01D9E, 0, NORM_F_STR, "d"},    /* ᶞ */
    {0x01DA0, 0, NORM_F_STR, "f"},    /* ᶠ */
    {0x01DA1, 0, NORM_F_STR, "j"},    /* ᶡ */
    {0x01DA2, 0, NORM_F_STR, "g"},    /* ᶢ */
    {0x01DA4, 2, NORM_F_STR, "i"},    /* ᶤ..ᶦ */
    {0x01DA8, 0, NORM_F_STR, "j"},    /* ᶨ */
    {0x01DA9, 2, NORM_F_STR, "l"},    /* ᶩ..ᶫ */
    {0x01DAC, 0, NORM_F_STR, "m"},    /* ᶬ */
    {0x01DAE, 2, NORM_F_STR, "n"},    /* ᶮ..ᶰ */
    {0x01DB3, 0, NORM_F_STR, "s"},    /* ᶳ */
    {0x01DB5, 0, NORM_F_STR, "t"},    /* ᶵ */
    {0x01DB8, 0, NORM_F_STR, "u"},    /* ᶸ */
    {0x01DB9, 0, NORM_F_STR, "v"},    /* ᶹ */
    {0x01DBB, 2, NORM_F_STR, "z"},    /* ᶻ..ᶽ */
    {0x01DC0, 63, NORM_F_DROP, ""},   /* U+1DC0..U+1DFF */
    {0x01E00, 1, NORM_F_STR, "a"},    /* Ḁ..ḁ */
    {0x01E02, 5, NORM_F_STR, "b"},    /* Ḃ..ḇ */
    {0x01E08, 1, NORM_F_STR, "c"},    /* Ḉ..ḉ */
    {0x01E0A, 9, NORM_F_STR, "d"},    /* Ḋ..ḓ */
    {0x01E14, 9, NORM_F_STR, "e"},    /* Ḕ..ḝ */
    {0x01E1E, 1, NORM_F_STR, "f"},    /* Ḟ..ḟ */
    {0x01E20, 1, NORM_F_STR, "g"},    /* Ḡ..ḡ */
    {0x01E22, 9, NORM_F_STR, "h"},    /* Ḣ..ḫ */
    {0x01E2C, 3, NORM_F_STR, "i"},    /* Ḭ..ḯ */
    {0x01E30, 5, NORM_F_STR, "k"},    /* Ḱ..ḵ */
    {0x01E36, 7, NORM_F_STR, "l"},    /* Ḷ..ḽ */
    {0x01E3E, 5, NORM_F_STR, "m"},    /* Ḿ..ṃ */
    {0x01E44, 7, NORM_F_STR, "n"},    /* Ṅ..ṋ */
    {0x01E4C, 7, NORM_F_STR, "o"},    /* Ṍ..ṓ */
    {0x01E54, 3, NORM_F_STR, "p"},    /* Ṕ..ṗ */
    {0x01E58, 7, NORM_F_STR, "r"},    /* Ṙ..ṟ */
    {0x01E60, 9, NORM_F_STR, "s"},    /* Ṡ..ṩ */
    {0x01E6A, 7, NORM_F_STR, "t"},    /* Ṫ..ṱ */
    {0x01E72, 9, NORM_F_STR, "u"},    /* Ṳ..ṻ */
    {0x01E7C, 3, NORM_F_STR, "v"},    /* Ṽ..ṿ */
    {0x01E80, 9, NORM_F_STR, "w"},    /* Ẁ..ẉ */
    {0x01E8A, 3, NORM_F_STR, "x"},    /* Ẋ..ẍ */
    {0x01E8E, 1, NORM_F_STR, "y"},    /* Ẏ..ẏ */
    {0x01E90, 5, NORM_F_STR, "z"},    /* Ẑ..ẕ */
    {0x01E96, 0, NORM_F_STR, "h"},    /* ẖ */
    {0x01E97, 0, NORM_F_STR, "t"},    /* ẗ */
    {0x01E98, 0, NORM_F_STR, "w"},    /* ẘ */
    {0x01E99, 0, NORM_F_STR, "y"},    /* ẙ */
    {0x01E9B, 0, NORM_F_STR, "s"},    /* ẛ */
    {0x01E9E, 0, NORM_F_STR, "ss"},   /* ẞ */
    {0x01EA0, 23, NORM_F_STR, "a"},   /* Ạ..ặ */
    {0x01EB8, 15, NORM_F_STR, "e"},   /* Ẹ..ệ */
    {0x01EC8, 3, NORM_F_STR, "i"},    /* Ỉ..ị */
    {0x01ECC, 23, NORM_F_STR, "o"},   /* Ọ..ợ */
    {0x01EE4, 13, NORM_F_STR, "u"},   /* Ụ..ự */
    {0x01EF2, 7, NORM_F_STR, "y"},    /* Ỳ..ỹ */
    {0x01EFE, 1, NORM_F_STR, "y"},    /* Ỿ..ỿ */
    {0x01F00, 15, NORM_F_STR, "a"},   /* ἀ..Ἇ */
    {0x01F18, 5, NORM_F_STR, "e"},    /* Ἐ..Ἕ */
    {0x01F20, 7, NORM_F_STR, "n"},    /* ἠ..ἧ */
    {0x01F28, 7, NORM_F_STR, "h"},    /* Ἠ..Ἧ */
    {0x01F30, 15, NORM_F_STR, "i"},   /* ἰ..Ἷ */
    {0x01F40, 5, NORM_F_STR, "o"},    /* ὀ..ὅ */
    {0x01F48, 5, NORM_F_STR, "o"},    /* Ὀ..Ὅ */
    {0x01F50, 7, NORM_F_STR, "u"},    /* ὐ..ὗ */
    {0x01F59, 0, NORM_F_STR, "y"},    /* Ὑ */
    {0x01F5B, 0, NORM_F_STR, "y"},    /* Ὓ */
    {0x01F5D, 0, NORM_F_STR, "y"},    /* Ὕ */
    {0x01F5F, 0, NORM_F_STR, "y"},    /* Ὗ */
    {0x01F60, 7, NORM_F_STR, "w"},    /* ὠ..ὧ */
    {0x01F70, 1, NORM_F_STR, "a"},    /* ὰ..ά */
    {0x01F74, 1, NORM_F_STR, "n"},    /* ὴ..ή */
    {0x01F76, 1, NORM_F_STR, "i"},    /* ὶ..ί */
    {0x01F78, 1, NORM_F_STR, "o"},    /* ὸ..ό */
    {0x01F7A, 1, NORM_F_STR, "u"},    /* ὺ..ύ */
    {0x01F7C, 1, NORM_F_STR, "w"},    /* ὼ..ώ */
    {0x01F80, 15, NORM_F_STR, "a"},   /* ᾀ..ᾏ */
    {0x01F90, 7, NORM_F_STR, "n"},    /* ᾐ..ᾗ */
    {0x01F98, 7, NORM_F_STR, "h"},    /* ᾘ..ᾟ */
    {0x01FA0, 7, NORM_F_STR, "w"},    /* ᾠ..ᾧ */
    {0x01FB0, 4, NORM_F_STR, "a"},    /* ᾰ..ᾴ */
    {0x01FB6, 6, NORM_F_STR, "a"},    /* ᾶ..ᾼ */
    {0x01FBE, 0, NORM_F_STR, "i"},    /* ι */
    {0x01FC2, 2, NORM_F_STR, "n"},    /* ῂ..ῄ */
    {0x01FC6, 1, NORM_F_STR, "n"},    /* ῆ..ῇ */
    {0x01FC8, 1, NORM_F_STR, "e"},    /* Ὲ..Έ */
    {0x01FCA, 2, NORM_F_STR, "h"},    /* Ὴ..ῌ */
    {0x01FD0, 3, NORM_F_STR, "i"},    /* ῐ..ΐ */
    {0x01FD6, 5, NORM_F_STR, "i"},    /* ῖ..Ί */
    {0x01FE0, 3, NORM_F_STR, "u"},    /* ῠ..ΰ */
    {0x01FE4, 1, NORM_F_STR, "p"},    /* ῤ..ῥ */
    {0x01FE6, 1, NORM_F_STR, "u"},    /* ῦ..ῧ */
    {0x01FE8, 3, NORM_F_STR, "y"},    /* Ῠ..Ύ */
    {0x01FEC, 0, NORM_F_STR, "p"},    /* Ῥ */
    {0x01FEF, 0, NORM_F_STR, "`"},    /* ` */
    {0x01FF2, 2, NORM_F_STR, "w"},    /* ῲ..ῴ */
    {0x01FF6, 1, NORM_F_STR, "w"},    /* ῶ..ῷ */
    {0x01FF8, 1, NORM_F_STR, "o"},    /* Ὸ..Ό */
    {0x02000, 10, NORM_F_SPACE, ""},  /* U+2000..U+200A */
    {0x0200B, 4, NORM_F_DROP, ""},    /* U+200B..U+200F */
    {0x02010, 1, NORM_F_STR, "-"},    /* ‐..‑ */
    {0x02018, 1, NORM_F_STR, "'"},    /* ‘..’ */
    {0x0201B, 0, NORM_F_STR, "'"},    /* ‛ */
    {0x0201C, 1, NORM_F_STR, "\""},   /* “..” */
    {0x0201F, 0, NORM_F_STR, "\""},   /* ‟ */
    {0x02024, 0, NORM_F_STR, "."},    /* ․ */
    {0x02025, 0, NORM_F_STR, ".."},   /* ‥ */
    {0x02026, 0, NORM_F_STR, "..."},  /* … */
    {0x02027, 0, NORM_F_STR, "."},    /* ‧ */
    {0x02028, 1, NORM_F_NEWLINE, ""}, /* U+2028..U+2029 */
    {0x0202A, 4, NORM_F_DROP, ""},    /* U+202A..U+202E */
    {0x0202F, 0, NORM_F_SPACE, ""},   /* U+202F */
    {0x02032, 0, NORM_F_STR, "'"},    /* ′ */
    {0x02033, 0, NORM_F_STR, "\""},   /* ″ */
    {0x02034, 0, NORM_F_STR, "'''"},  /* ‴ */
    {0x0203C, 0, NORM_F_STR, "!!"},   /* ‼ */
    {0x02044, 0, NORM_F_STR, "/"},    /* ⁄ */
    {0x02047, 0, NORM_F_STR, "??"},   /* ⁇ */
    {0x02048, 0, NORM_F_STR, "?!"},   /* ⁈ */
    {0x02049, 0, NORM_F_STR, "!?"},   /* ⁉ */
    {0x02057, 0, NORM_F_STR, "''''"}, /* ⁗ */
    {0x0205F, 0, NORM_F_SPACE, ""},   /* U+205F */
    {0x02060, 15, NORM_F_DROP, ""},   /* U+2060..U+206F */
    {0x02070, 0, NORM_F_STR, "0"},    /* ⁰ */
    {0x02071, 0, NORM_F_STR, "i"},    /* ⁱ */
    {0x02074, 5, NORM_F_SEQ, "4"},    /* ⁴..⁹ */
    {0x0207A, 0, NORM_F_STR, "+"},    /* ⁺ */
    {0x0207C, 0, NORM_F_STR, "="},    /* ⁼ */
    {0x0207D, 0, NORM_F_STR, "("},    /* ⁽ */
    {0x0207E, 0, NORM_F_STR, ")"},    /* ⁾ */
    {0x0207F, 0, NORM_F_STR, "n"},    /* ⁿ */
    {0x02080, 9, NORM_F_SEQ, "0"},    /* ₀..₉ */
    {0x0208A, 0, NORM_F_STR, "+"},    /* ₊ */
    {0x0208C, 0, NORM_F_STR, "="},    /* ₌ */
    {0x0208D, 0, NORM_F_STR, "("},    /* ₍ */
    {0x0208E, 0, NORM_F_STR, ")"},    /* ₎ */
    {0x02090, 0, NORM_F_STR, "a"},    /* ₐ */
    {0x02091, 0, NORM_F_STR, "e"},    /* ₑ */
    {0x02092, 0, NORM_F_STR, "o"},    /* ₒ */
    {0x02093, 0, NORM_F_STR, "x"},    /* ₓ */
    {0x02095, 0, NORM_F_STR, "h"},    /* ₕ */
    {0x02096, 3, NORM_F_SEQ, "k"},    /* ₖ..ₙ */
    {0x0209A, 0, NORM_F_STR, "p"},    /* ₚ */
    {0x0209B, 0, NORM_F_STR, "s"},    /* ₛ */
    {0x0209C, 0, NORM_F_STR, "t"},    /* ₜ */
    {0x020D0, 47, NORM_F_DROP, ""},   /* U+20D0..U+20FF */
    {0x02100, 0, NORM_F_STR, "a/c"},  /* ℀ */
    {0x02101, 0, NORM_F_STR, "a/s"},  /* ℁ */
    {0x02102, 0, NORM_F_STR, "c"},    /* ℂ */
    {0x02105, 0, NORM_F_STR, "c/o"},  /* ℅ */
    {0x02106, 0, NORM_F_STR, "c/u"},  /* ℆ */
    {0x0210A, 0, NORM_F_STR, "g"},    /* ℊ */
    {0x0210B, 4, NORM_F_STR, "h"},    /* ℋ..ℏ */
    {0x02110, 1, NORM_F_STR, "i"},    /* ℐ..ℑ */
    {0x02112, 1, NORM_F_STR, "l"},    /* ℒ..ℓ */
    {0x02115, 0, NORM_F_STR, "n"},    /* ℕ */
    {0x02116, 0, NORM_F_STR, "no"},   /* № */
    {0x02119, 0, NORM_F_STR, "p"},    /* ℙ */
    {0x0211A, 0, NORM_F_STR, "q"},    /* ℚ */
    {0x0211B, 2, NORM_F_STR, "r"},    /* ℛ..ℝ */
    {0x02120, 0, NORM_F_STR, "sm"},   /* ℠ */
    {0x02121, 0, NORM_F_STR, "tel"},  /* ℡ */
    {0x02122, 0, NORM_F_STR, "tm"},   /* ™ */
    {0x02124, 0, NORM_F_STR, "z"},    /* ℤ */
    {0x02128, 0, NORM_F_STR, "z"},    /* ℨ */
    {0x0212A, 0, NORM_F_STR, "k"},    /* K */
    {0x0212B, 0, NORM_F_STR, "a"},    /* Å */
    {0x0212C, 0, NORM_F_STR, "b"},    /* ℬ */
    {0x0212D, 0, NORM_F_STR, "c"},    /* ℭ */
    {0x0212F, 1, NORM_F_STR, "e"},    /* ℯ..ℰ */
    {0x02131, 0, NORM_F_STR, "f"},    /* ℱ */
    {0x02133, 0, NORM_F_STR, "m"},    /* ℳ */
    {0x02134, 0, NORM_F_STR, "o"},    /* ℴ */
    {0x02139, 0, NORM_F_STR, "i"},    /* ℹ */
    {0x0213B, 0, NORM_F_STR, "fax"},  /* ℻ */
    {0x0213D, 0, NORM_F_STR, "y"},    /* ℽ */
    {0x02145, 1, NORM_F_STR, "d"},    /* ⅅ..ⅆ */
    {0x02147, 0, NORM_F_STR, "e"},    /* ⅇ */
    {0x02148, 0, NORM_F_STR, "i"},    /* ⅈ */
    {0x02149, 0, NORM_F_STR, "j"},    /* ⅉ */
    {0x02150, 0, NORM_F_STR, "1/7"},  /* ⅐ */
    {0x02151, 0, NORM_F_STR, "1/9"},  /* ⅑ */
    {0x02152, 0, NORM_F_STR, "1/10"}, /* ⅒ */
    {0x02153, 0, NORM_F_STR, "1/3"},  /* ⅓ */
    {0x02154, 0, NORM_F_STR, "2/3"},  /* ⅔ */
    {0x02155, 0, NORM_F_STR, "1/5"},  /* ⅕ */
    {0x02156, 0, NORM_F_STR, "2/5"},  /* ⅖ */
    {0x02157, 0, NORM_F_STR, "3/5"},  /* ⅗ */
    {0x02158, 0, NORM_F_STR, "4/5"},  /* ⅘ */
    {0x02159, 0, NORM_F_STR, "1/6"},  /* ⅙ */
    {0x0215A, 0, NORM_F_STR, "5/6"},  /* ⅚ */
    {0x0215B, 0, NORM_F_STR, "1/8"},  /* ⅛ */
    {0x0215C, 0, NORM_F_STR, "3/8"},  /* ⅜ */
    {0x0215D, 0, NORM_F_STR, "5/8"},  /* ⅝ */
    {0x0215E, 0, NORM_F_STR, "7/8"},  /* ⅞ */
    {0x0215F, 0, NORM_F_STR, "1/"},   /* ⅟ */
    {0x02160, 0, NORM_F_STR, "i"},    /* Ⅰ */
    {0x02161, 0, NORM_F_STR, "ii"},   /* Ⅱ */
    {0x02162, 0, NORM_F_STR, "iii"},  /* Ⅲ */
    {0x02163, 0, NORM_F_STR, "iv"},   /* Ⅳ */
    {0x02164, 0, NORM_F_STR, "v"},    /* Ⅴ */
    {0x02165, 0, NORM_F_STR, "vi"},   /* Ⅵ */
    {0x02166, 0, NORM_F_STR, "vii"},  /* Ⅶ */
    {0x02167, 0, NORM_F_STR, "viii"}, /* Ⅷ */
    {0x02168, 0, NORM_F_STR, "ix"},   /* Ⅸ */
    {0x02169, 0, NORM_F_STR, "x"},    /* Ⅹ */
    {0x0216A, 0, NORM_F_STR, "xi"},   /* Ⅺ */
    {0x0216B, 0, NORM_F_STR, "xii"},  /* Ⅻ */
    {0x0216C, 0, NORM_F_STR, "l"},    /* Ⅼ */
    {0x0216D, 0, NORM_F_STR, "c"},    /* Ⅽ */
    {0x0216E, 0, NORM_F_STR, "d"},    /* Ⅾ */
    {0x0216F, 0, NORM_F_STR, "m"},    /* Ⅿ */
    {0x02170, 0, NORM_F_STR, "i"},    /* ⅰ */
    {0x02171, 0, NORM_F_STR, "ii"},   /* ⅱ */
    {0x02172, 0, NORM_F_STR, "iii"},  /* ⅲ */
    {0x02173, 0, NORM_F_STR, "iv"},   /* ⅳ */
    {0x02174, 0, NORM_F_STR, "v"},    /* ⅴ */
    {0x02175, 0, NORM_F_STR, "vi"},   /* ⅵ */
    {0x02176, 0, NORM_F_STR, "vii"},  /* ⅶ */
    {0x02177, 0, NORM_F_STR, "viii"}, /* ⅷ */
    {0x02178, 0, NORM_F_STR, "ix"},   /* ⅸ */
    {0x02179, 0, NORM_F_STR, "x"},    /* ⅹ */
    {0x0217A, 0, NORM_F_STR, "xi"},   /* ⅺ */
    {0x0217B, 0, NORM_F_STR, "xii"},  /* ⅻ */
    {0x0217C, 0, NORM_F_STR, "l"},    /* ⅼ */
    {0x0217D, 0, NORM_F_STR, "c"},    /* ⅽ */
    {0x0217E, 0, NORM_F_STR, "d"},    /* ⅾ */
    {0x0217F, 0, NORM_F_STR, "m"},    /* ⅿ */
    {0x02189, 0, NORM_F_STR, "0/3"},  /* ↉ */
    {0x02215, 0, NORM_F_STR, "/"},    /* ∕ */
    {0x02217, 0, NORM_F_STR, "*"},    /* ∗ */
    {0x02223, 0, NORM_F_STR, "|"},    /* ∣ */
    {0x02460, 8, NORM_F_SEQ, "1"},    /* ①..⑨ */
    {0x02469, 0, NORM_F_STR, "10"},   /* ⑩ */
    {0x0246A, 0, NORM_F_STR, "11"},   /* ⑪ */
    {0x0246B, 0, NORM_F_STR, "12"},   /* ⑫ */
    {0x0246C, 0, NORM_F_STR, "13"},   /* ⑬ */
    {0x0246D, 0, NORM_F_STR, "14"},   /* ⑭ */
    {0x0246E, 0, NORM_F_STR, "15"},   /* ⑮ */
    {0x0246F, 0, NORM_F_STR, "16"},   /* ⑯ */
    {0x02470, 0, NORM_F_STR, "17"},   /* ⑰ */
    {0x02471, 0, NORM_F_STR, "18"},   /* ⑱ */
    {0x02472, 0, NORM_F_STR, "19"},   /* ⑲ */
    {0x02473, 0, NORM_F_STR, "20"},   /* ⑳ */
    {0x02474, 8, NORM_F_SEQ, "1"},    /* ⑴..⑼ */
    {0x0247D, 0, NORM_F_STR, "10"},   /* ⑽ */
    {0x0247E, 0, NORM_F_STR, "11"},   /* ⑾ */
    {0x0247F, 0, NORM_F_STR, "12"},   /* ⑿ */
    {0x02480, 0, NORM_F_STR, "13"},   /* ⒀ */
    {0x02481, 0, NORM_F_STR, "14"},   /* ⒁ */
    {0x02482, 0, NORM_F_STR, "15"},   /* ⒂ */
    {0x02483, 0, NORM_F_STR, "16"},   /* ⒃ */
    {0x02484, 0, NORM_F_STR, "17"},   /* ⒄ */
    {0x02485, 0, NORM_F_STR, "18"},   /* ⒅ */
    {0x02486, 0, NORM_F_STR, "19"},   /* ⒆ */
    {0x02487, 0, NORM_F_STR, "20"},   /* ⒇ */
    {0x02488, 0, NORM_F_STR, "1."},   /* ⒈ */
    {0x02489, 0, NORM_F_STR, "2."},   /* ⒉ */
    {0x0248A, 0, NORM_F_STR, "3."},   /* ⒊ */
    {0x0248B, 0, NORM_F_STR, "4."},   /* ⒋ */
    {0x0248C, 0, NORM_F_STR, "5."},   /* ⒌ */
    {0x0248D, 0, NORM_F_STR, "6."},   /* ⒍ */
    {0x0248E, 0, NORM_F_STR, "7."},   /* ⒎ */
    {0x0248F, 0, NORM_F_STR, "8."},   /* ⒏ */
    {0x02490, 0, NORM_F_STR, "9."},   /* ⒐ */
    {0x02491, 0, NORM_F_STR, "10."},  /* ⒑ */
    {0x02492, 0, NORM_F_STR, "11."},  /* ⒒ */
    {0x02493, 0, NORM_F_STR, "12."},  /* ⒓ */
    {0x02494, 0, NORM_F_STR, "13."},  /* ⒔ */
    {0x02495, 0, NORM_F_STR, "14."},  /* ⒕ */
    {0x02496, 0, NORM_F_STR, "15."},  /* ⒖ */
    {0x02497, 0, NORM_F_STR, "16."},  /* ⒗ */
    {0x02498, 0, NORM_F_STR, "17."},  /* ⒘ */
    {0x02499, 0, NORM_F_STR, "18."},  /* ⒙ */
    {0x0249A, 0, NORM_F_STR, "19."},  /* ⒚ */
    {0x0249B, 0, NORM_F_STR, "20."},  /* ⒛ */
    {0x0249C, 25, NORM_F_SEQ, "a"},   /* ⒜..⒵ */
    {0x024B6, 25, NORM_F_SEQ, "a"},   /* Ⓐ..Ⓩ */
    {0x024D0, 25, NORM_F_SEQ, "a"},   /* ⓐ..ⓩ */
    {0x024EA, 0, NORM_F_STR, "0"},    /* ⓪ */
    {0x024EB, 0, NORM_F_STR, "11"},   /* ⓫ */
    {0x024EC, 0, NORM_F_STR, "12"},   /* ⓬ */
    {0x024ED, 0, NORM_F_STR, "13"},   /* ⓭ */
    {0x024EE, 0, NORM_F_STR, "14"},   /* ⓮ */
    {0x024EF, 0, NORM_F_STR, "15"},   /* ⓯ */
    {0x024F0, 0, NORM_F_STR, "16"},   /* ⓰ */
    {0x024F1, 0, NORM_F_STR, "17"},   /* ⓱ */
    {0x024F2, 0, NORM_F_STR, "18"},   /* ⓲ */
    {0x024F3, 0, NORM_F_STR, "19"},   /* ⓳ */
    {0x024F4, 0, NORM_F_STR, "20"},   /* ⓴ */
    {0x024F5, 8, NORM_F_SEQ, "1"},    /* ⓵..⓽ */
    {0x024FE, 0, NORM_F_STR, "10"},   /* ⓾ */
    {0x024FF, 0, NORM_F_STR, "0"},    /* ⓿ */
    {0x02776, 8, NORM_F_SEQ, "1"},    /* ❶..❾ */
    {0x0277F, 0, NORM_F_STR, "10"},   /* ❿ */
    {0x02780, 8, NORM_F_SEQ, "1"},    /* ➀..➈ */
    {0x02789, 0, NORM_F_STR, "10"},   /* ➉ */
    {0x0278A, 8, NORM_F_SEQ, "1"},    /* ➊..➒ */
    {0x02793, 0, NORM_F_STR, "10"},   /* ➓ */
    {0x02C60, 2, NORM_F_STR, "l"},    /* Ⱡ..Ɫ */
    {0x02C63, 0, NORM_F_STR, "p"},    /* Ᵽ */
    {0x02C64, 0, NORM_F_STR, "r"},    /* Ɽ */
    {0x02C65, 0, NORM_F_STR, "a"},    /* ⱥ */
    {0x02C66, 0, NORM_F_STR, "t"},    /* ⱦ */
    {0x02C67, 1, NORM_F_STR, "h"},    /* Ⱨ..ⱨ */
    {0x02C69, 1, NORM_F_STR, "k"},    /* Ⱪ..ⱪ */
    {0x02C6B, 1, NORM_F_STR, "z"},    /* Ⱬ..ⱬ */
    {0x02C6E, 0, NORM_F_STR, "m"},    /* Ɱ */
    {0x02C71, 0, NORM_F_STR, "v"},    /* ⱱ */
    {0x02C72, 1, NORM_F_STR, "w"},    /* Ⱳ..ⱳ */
    {0x02C74, 0, NORM_F_STR, "v"},    /* ⱴ */
    {0x02C78, 0, NORM_F_STR, "e"},    /* ⱸ */
    {0x02C7A, 0, NORM_F_STR, "o"},    /* ⱺ */
    {0x02C7C, 0, NORM_F_STR, "j"},    /* ⱼ */
    {0x02C7D, 0, NORM_F_STR, "v"},    /* ⱽ */
    {0x02C7E, 0, NORM_F_STR, "s"},    /* Ȿ */
    {0x02C7F, 0, NORM_F_STR, "z"},    /* Ɀ */
    {0x03000, 0, NORM_F_SPACE, ""},   /* U+3000 */
    {0x03164, 0, NORM_F_DROP, ""},    /* U+3164 */
    {0x0A728, 1, NORM_F_STR, "tz"},   /* Ꜩ..ꜩ */
    {0x0A730, 0, NORM_F_STR, "f"},    /* ꜰ */
    {0x0A731, 0, NORM_F_STR, "s"},    /* ꜱ */
    {0x0A732, 1, NORM_F_STR, "aa"},   /* Ꜳ..ꜳ */
    {0x0A734, 1, NORM_F_STR, "ao"},   /* Ꜵ..ꜵ */
    {0x0A738, 3, NORM_F_STR, "av"},   /* Ꜹ..ꜻ */
    {0x0A73C, 1, NORM_F_STR, "ay"},   /* Ꜽ..ꜽ */
    {0x0A740, 5, NORM_F_STR, "k"},    /* Ꝁ..ꝅ */
    {0x0A748, 1, NORM_F_STR, "l"},    /* Ꝉ..ꝉ */
    {0x0A74A, 3, NORM_F_STR, "o"},    /* Ꝋ..ꝍ */
    {0x0A74E, 1, NORM_F_STR, "oo"},   /* Ꝏ..ꝏ */
    {0x0A750, 5, NORM_F_STR, "p"},    /* Ꝑ..ꝕ */
    {0x0A756, 3, NORM_F_STR, "q"},    /* Ꝗ..ꝙ */
    {0x0A75E, 1, NORM_F_STR, "v"},    /* Ꝟ..ꝟ */
    {0x0A760, 1, NORM_F_STR, "vy"},   /* Ꝡ..ꝡ */
    {0x0A78E, 0, NORM_F_STR, "l"},    /* ꞎ */
    {0x0A790, 1, NORM_F_STR, "n"},    /* Ꞑ..ꞑ */
    {0x0A792, 2, NORM_F_STR, "c"},    /* Ꞓ..ꞔ */
    {0x0A795, 0, NORM_F_STR, "h"},    /* ꞕ */
    {0x0A796, 1, NORM_F_STR, "b"},    /* Ꞗ..ꞗ */
    {0x0A798, 1, NORM_F_STR, "f"},    /* Ꞙ..ꞙ */
    {0x0A7A0, 1, NORM_F_STR, "g"},    /* Ꞡ..ꞡ */
    {0x0A7A2, 1, NORM_F_STR, "k"},    /* Ꞣ..ꞣ */
    {0x0A7A4, 1, NORM_F_STR, "n"},    /* Ꞥ..ꞥ */
    {0x0A7A6, 1, NORM_F_STR, "r"},    /* Ꞧ..ꞧ */
    {0x0A7A8, 1, NORM_F_STR, "s"},    /* Ꞩ..ꞩ */
    {0x0A7AA, 0, NORM_F_STR, "h"},    /* Ɦ */
    {0x0A7AD, 0, NORM_F_STR, "l"},    /* Ɬ */
    {0x0A7AF, 0, NORM_F_STR, "q"},    /* ꞯ */
    {0x0A7B2, 0, NORM_F_STR, "j"},    /* Ʝ */
    {0x0A7B8, 1, NORM_F_STR, "u"},    /* Ꞹ..ꞹ */
    {0x0A7C4, 0, NORM_F_STR, "c"},    /* Ꞔ */
    {0x0A7C5, 0, NORM_F_STR, "s"},    /* Ʂ */
    {0x0A7C6, 0, NORM_F_STR, "z"},    /* Ᶎ */
    {0x0A7C7, 1, NORM_F_STR, "d"},    /* Ꟈ..ꟈ */
    {0x0A7C9, 1, NORM_F_STR, "s"},    /* Ꟊ..ꟊ */
    {0x0A7F2, 0, NORM_F_STR, "c"},    /* ꟲ */
    {0x0A7F3, 0, NORM_F_STR, "f"},    /* ꟳ */
    {0x0A7F4, 0, NORM_F_STR, "q"},    /* ꟴ */
    {0x0A7F8, 0, NORM_F_STR, "h"},    /* ꟸ */
    {0x0A7F9, 0, NORM_F_STR, "oe"},   /* ꟹ */
    {0x0AB34, 0, NORM_F_STR, "e"},    /* ꬴ */
    {0x0AB37, 2, NORM_F_STR, "l"},    /* ꬷ..ꬹ */
    {0x0AB3A, 0, NORM_F_STR, "m"},    /* ꬺ */
    {0x0AB3B, 0, NORM_F_STR, "n"},    /* ꬻ */
    {0x0AB46, 0, NORM_F_STR, "r"},    /* ꭆ */
    {0x0AB49, 0, NORM_F_STR, "r"},    /* ꭉ */
    {0x0AB4E, 0, NORM_F_STR, "u"},    /* ꭎ */
    {0x0AB50, 0, NORM_F_STR, "ui"},   /* ꭐ */
    {0x0AB52, 0, NORM_F_STR, "u"},    /* ꭒ */
    {0x0AB56, 3, NORM_F_STR, "x"},    /* ꭖ..ꭙ */
    {0x0AB5A, 0, NORM_F_STR, "y"},    /* ꭚ */
    {0x0AB5D, 1, NORM_F_STR, "l"},    /* ꭝ..ꭞ */
    {0x0AB5F, 0, NORM_F_STR, "u"},    /* ꭟ */
    {0x0AB63, 0, NORM_F_STR, "uo"},   /* ꭣ */
    {0x0FB00, 0, NORM_F_STR, "ff"},   /* ﬀ */
    {0x0FB01, 0, NORM_F_STR, "fi"},   /* ﬁ */
    {0x0FB02, 0, NORM_F_STR, "fl"},   /* ﬂ */
    {0x0FB03, 0, NORM_F_STR, "ffi"},  /* ﬃ */
    {0x0FB04, 0, NORM_F_STR, "ffl"},  /* ﬄ */
    {0x0FB05, 1, NORM_F_STR, "st"},   /* ﬅ..ﬆ */
    {0x0FE00, 15, NORM_F_DROP, ""},   /* U+FE00..U+FE0F */
    {0x0FE20, 15, NORM_F_DROP, ""},   /* U+FE20..U+FE2F */
    {0x0FE50, 0, NORM_F_STR, ","},    /* ﹐ */
    {0x0FE52, 0, NORM_F_STR, "."},    /* ﹒ */
    {0x0FE54, 0, NORM_F_STR, ";"},    /* ﹔ */
    {0x0FE55, 0, NORM_F_STR, ":"},    /* ﹕ */
    {0x0FE56, 0, NORM_F_STR, "?"},    /* ﹖ */
    {0x0FE57, 0, NORM_F_STR, "!"},    /* ﹗ */
    {0x0FE59, 0, NORM_F_STR, "("},    /* ﹙ */
    {0x0FE5A, 0, NORM_F_STR, ")"},    /* ﹚ */
    {0x0FE5B, 0, NORM_F_STR, "{"},    /* ﹛ */
    {0x0FE5C, 0, NORM_F_STR, "}"},    /* ﹜ */
    {0x0FE5F, 0, NORM_F_STR, "#"},    /* ﹟ */
    {0x0FE60, 0, NORM_F_STR, "&"},    /* ﹠ */
    {0x0FE61, 0, NORM_F_STR, "*"},    /* ﹡ */
    {0x0FE62, 0, NORM_F_STR, "+"},    /* ﹢ */
    {0x0FE63, 0, NORM_F_STR, "-"},    /* ﹣ */
    {0x0FE64, 0, NORM_F_STR, "<"},    /* ﹤ */
    {0x0FE65, 0, NORM_F_STR, ">"},    /* ﹥ */
    {0x0FE66, 0, NORM_F_STR, "="},    /* ﹦ */
    {0x0FE68, 0, NORM_F_STR, "\\"},   /* ﹨ */
    {0x0FE69, 0, NORM_F_STR, "$"},    /* ﹩ */
    {0x0FE6A, 0, NORM_F_STR, "%"},    /* ﹪ */
    {0x0FE6B, 0, NORM_F_STR, "@"},    /* ﹫ */
    {0x0FEFF, 0, NORM_F_DROP, ""},    /* U+FEFF */
    {0x0FF01, 0, NORM_F_STR, "!"},    /* ！ */
    {0x0FF02, 0, NORM_F_STR, "\""},   /* ＂ */
    {0x0FF03, 0, NORM_F_STR, "#"},    /* ＃ */
    {0x0FF04, 0, NORM_F_STR, "$"},    /* ＄ */
    {0x0FF05, 0, NORM_F_STR, "%"},    /* ％ */
    {0x0FF06, 0, NORM_F_STR, "&"},    /* ＆ */
    {0x0FF07, 0, NORM_F_STR, "'"},    /* ＇ */
    {0x0FF08, 0, NORM_F_STR, "("},    /* （ */
    {0x0FF09, 0, NORM_F_STR, ")"},    /* ） */
    {0x0FF0A, 0, NORM_F_STR, "*"},    /* ＊ */
    {0x0FF0B, 0, NORM_F_STR, "+"},    /* ＋ */
    {0x0FF0C, 0, NORM_F_STR, ","},    /* ， */
    {0x0FF0D, 0, NORM_F_STR, "-"},    /* － */
    {0x0FF0E, 0, NORM_F_STR, "."},    /* ． */
    {0x0FF0F, 0, NORM_F_STR, "/"},    /* ／ */
    {0x0FF10, 9, NORM_F_SEQ, "0"},    /* ０..９ */
    {0x0FF1A, 0, NORM_F_STR, ":"},    /* ： */
    {0x0FF1B, 0, NORM_F_STR, ";"},    /* ； */
    {0x0FF1C, 0, NORM_F_STR, "<"},    /* ＜ */
    {0x0FF1D, 0, NORM_F_STR, "="},    /* ＝ */
    {0x0FF1E, 0, NORM_F_STR, ">"},    /* ＞ */
    {0x0FF1F, 0, NORM_F_STR, "?"},    /* ？ */
    {0x0FF20, 0, NORM_F_STR, "@"},    /* ＠ */
    {0x0FF21, 25, NORM_F_SEQ, "a"},   /* Ａ..Ｚ */
    {0x0FF3B, 0, NORM_F_STR, "["},    /* ［ */
    {0x0FF3C, 0, NORM_F_STR, "\\"},   /* ＼ */
    {0x0FF3D, 0, NORM_F_STR, "]"},    /* ］ */
    {0x0FF3E, 0, NORM_F_STR, "^"},    /* ＾ */
    {0x0FF3F, 0, NORM_F_STR, "_"},    /* ＿ */
    {0x0FF40, 0, NORM_F_STR, "`"},    /* ｀ */
    {0x0FF41, 25, NORM_F_SEQ, "a"},   /* ａ..ｚ */
    {0x0FF5B, 0, NORM_F_STR, "{"},    /* ｛ */
    {0x0FF5C, 0, NORM_F_STR, "|"},    /* ｜ */
    {0x0FF5D, 0, NORM_F_STR, "}"},    /* ｝ */
    {0x0FF5E, 0, NORM_F_STR, "~"},    /* ～ */
    {0x0FFA0, 0, NORM_F_DROP, ""},    /* U+FFA0 */
    {0x0FFF0, 8, NORM_F_DROP, ""},    /* U+FFF0..U+FFF8 */
    {0x1BCA0, 3, NORM_F_DROP, ""},    /* U+1BCA0..U+1BCA3 */
    {0x1D173, 7, NORM_F_DROP, ""},    /* U+1D173..U+1D17A */
    {0x1D400, 25, NORM_F_SEQ, "a"},   /* 𝐀..𝐙 */
    {0x1D41A, 25, NORM_F_SEQ, "a"},   /* 𝐚..𝐳 */
    {0x1D434, 25, NORM_F_SEQ, "a"},   /* 𝐴..𝑍 */
    {0x1D44E, 6, NORM_F_SEQ, "a"},    /* 𝑎..𝑔 */
    {0x1D456, 17, NORM_F_SEQ, "i"},   /* 𝑖..𝑧 */
    {0x1D468, 25, NORM_F_SEQ, "a"},   /* 𝑨..𝒁 */
    {0x1D482, 25, NORM_F_SEQ, "a"},   /* 𝒂..𝒛 */
    {0x1D49C, 0, NORM_F_STR, "a"},    /* 𝒜 */
    {0x1D49E, 0, NORM_F_STR, "c"},    /* 𝒞 */
    {0x1D49F, 0, NORM_F_STR, "d"},    /* 𝒟 */
    {0x1D4A2, 0, NORM_F_STR, "g"},    /* 𝒢 */
    {0x1D4A5, 0, NORM_F_STR, "j"},    /* 𝒥 */
    {0x1D4A6, 0, NORM_F_STR, "k"},    /* 𝒦 */
    {0x1D4A9, 3, NORM_F_SEQ, "n"},    /* 𝒩..𝒬 */
    {0x1D4AE, 7, NORM_F_SEQ, "s"},    /* 𝒮..𝒵 */
    {0x1D4B6, 3, NORM_F_SEQ, "a"},    /* 𝒶..𝒹 */
    {0x1D4BB, 0, NORM_F_STR, "f"},    /* 𝒻 */
    {0x1D4BD, 6, NORM_F_SEQ, "h"},    /* 𝒽..𝓃 */
    {0x1D4C5, 10, NORM_F_SEQ, "p"},   /* 𝓅..𝓏 */
    {0x1D4D0, 25, NORM_F_SEQ, "a"},   /* 𝓐..𝓩 */
    {0x1D4EA, 25, NORM_F_SEQ, "a"},   /* 𝓪..𝔃 */
    {0x1D504, 0, NORM_F_STR, "a"},    /* 𝔄 */
    {0x1D505, 0, NORM_F_STR, "b"},    /* 𝔅 */
    {0x1D507, 3, NORM_F_SEQ, "d"},    /* 𝔇..𝔊 */
    {0x1D50D, 7, NORM_F_SEQ, "j"},    /* 𝔍..𝔔 */
    {0x1D516, 6, NORM_F_SEQ, "s"},    /* 𝔖..𝔜 */
    {0x1D51E, 25, NORM_F_SEQ, "a"},   /* 𝔞..𝔷 */
    {0x1D538, 0, NORM_F_STR, "a"},    /* 𝔸 */
    {0x1D539, 0, NORM_F_STR, "b"},    /* 𝔹 */
    {0x1D53B, 3, NORM_F_SEQ, "d"},    /* 𝔻..𝔾 */
    {0x1D540, 4, NORM_F_SEQ, "i"},    /* 𝕀..𝕄 */
    {0x1D546, 0, NORM_F_STR, "o"},    /* 𝕆 */
    {0x1D54A, 6, NORM_F_SEQ, "s"},    /* 𝕊..𝕐 */
    {0x1D552, 25, NORM_F_SEQ, "a"},   /* 𝕒..𝕫 */
    {0x1D56C, 25, NORM_F_SEQ, "a"},   /* 𝕬..𝖅 */
    {0x1D586, 25, NORM_F_SEQ, "a"},   /* 𝖆..𝖟 */
    {0x1D5A0, 25, NORM_F_SEQ, "a"},   /* 𝖠..𝖹 */
    {0x1D5BA, 25, NORM_F_SEQ, "a"},   /* 𝖺..𝗓 */
    {0x1D5D4, 25, NORM_F_SEQ, "a"},   /* 𝗔..𝗭 */
    {0x1D5EE, 25, NORM_F_SEQ, "a"},   /* 𝗮..𝘇 */
    {0x1D608, 25, NORM_F_SEQ, "a"},   /* 𝘈..𝘡 */
    {0x1D622, 25, NORM_F_SEQ, "a"},   /* 𝘢..𝘻 */
    {0x1D63C, 25, NORM_F_SEQ, "a"},   /* 𝘼..𝙕 */
    {0x1D656, 25, NORM_F_SEQ, "a"},   /* 𝙖..𝙯 */
    {0x1D670, 25, NORM_F_SEQ, "a"},   /* 𝙰..𝚉 */
    {0x1D68A, 25, NORM_F_SEQ, "a"},   /* 𝚊..𝚣 */
    {0x1D6A4, 0, NORM_F_STR, "i"},    /* 𝚤 */
    {0x1D6A5, 0, NORM_F_STR, "j"},    /* 𝚥 */
    {0x1D6A8, 0, NORM_F_STR, "a"},    /* 𝚨 */
    {0x1D6A9, 0, NORM_F_STR, "b"},    /* 𝚩 */
    {0x1D6AC, 0, NORM_F_STR, "e"},    /* 𝚬 */
    {0x1D6AD, 0, NORM_F_STR, "z"},    /* 𝚭 */
    {0x1D6AE, 0, NORM_F_STR, "h"},    /* 𝚮 */
    {0x1D6B0, 0, NORM_F_STR, "i"},    /* 𝚰 */
    {0x1D6B1, 0, NORM_F_STR, "k"},    /* 𝚱 */
    {0x1D6B3, 0, NORM_F_STR, "m"},    /* 𝚳 */
    {0x1D6B4, 0, NORM_F_STR, "n"},    /* 𝚴 */
    {0x1D6B6, 0, NORM_F_STR, "o"},    /* 𝚶 */
    {0x1D6B8, 0, NORM_F_STR, "p"},    /* 𝚸 */
    {0x1D6BB, 0, NORM_F_STR, "t"},    /* 𝚻 */
    {0x1D6BC, 0, NORM_F_STR, "y"},    /* 𝚼 */
    {0x1D6BE, 0, NORM_F_STR, "x"},    /* 𝚾 */
    {0x1D6C2, 0, NORM_F_STR, "a"},    /* 𝛂 */
    {0x1D6C4, 0, NORM_F_STR, "y"},    /* 𝛄 */
    {0x1D6C8, 0, NORM_F_STR, "n"},    /* 𝛈 */
    {0x1D6CA, 0, NORM_F_STR, "i"},    /* 𝛊 */
    {0x1D6CB, 0, NORM_F_STR, "k"},    /* 𝛋 */
    {0x1D6CE, 0, NORM_F_STR, "v"},    /* 𝛎 */
    {0x1D6D0, 0, NORM_F_STR, "o"},    /* 𝛐 */
    {0x1D6D2, 0, NORM_F_STR, "p"},    /* 𝛒 */
    {0x1D6D5, 0, NORM_F_STR, "t"},    /* 𝛕 */
    {0x1D6D6, 0, NORM_F_STR, "u"},    /* 𝛖 */
    {0x1D6D8, 0, NORM_F_STR, "x"},    /* 𝛘 */
    {0x1D6DA, 0, NORM_F_STR, "w"},    /* 𝛚 */
    {0x1D6DE, 0, NORM_F_STR, "k"},    /* 𝛞 */
    {0x1D6E0, 0, NORM_F_STR, "p"},    /* 𝛠 */
    {0x1D6E2, 0, NORM_F_STR, "a"},    /* 𝛢 */
    {0x1D6E3, 0, NORM_F_STR, "b"},    /* 𝛣 */
    {0x1D6E6, 0, NORM_F_STR, "e"},    /* 𝛦 */
    {0x1D6E7, 0, NORM_F_STR, "z"},    /* 𝛧 */
    {0x1D6E8, 0, NORM_F_STR, "h"},    /* 𝛨 */
    {0x1D6EA, 0, NORM_F_STR, "i"},    /* 𝛪 */
    {0x1D6EB, 0, NORM_F_STR, "k"},    /* 𝛫 */
    {0x1D6ED, 0, NORM_F_STR, "m"},    /* 𝛭 */
    {0x1D6EE, 0, NORM_F_STR, "n"},    /* 𝛮 */
    {0x1D6F0, 0, NORM_F_STR, "o"},    /* 𝛰 */
    {0x1D6F2, 0, NORM_F_STR, "p"},    /* 𝛲 */
    {0x1D6F5, 0, NORM_F_STR, "t"},    /* 𝛵 */
    {0x1D6F6, 0, NORM_F_STR, "y"},    /* 𝛶 */
    {0x1D6F8, 0, NORM_F_STR, "x"},    /* 𝛸 */
    {0x1D6FC, 0, NORM_F_STR, "a"},    /* 𝛼 */
    {0x1D6FE, 0, NORM_F_STR, "y"},    /* 𝛾 */
    {0x1D702, 0, NORM_F_STR, "n"},    /* 𝜂 */
    {0x1D704, 0, NORM_F_STR, "i"},    /* 𝜄 */
    {0x1D705, 0, NORM_F_STR, "k"},    /* 𝜅 */
    {0x1D708, 0, NORM_F_STR, "v"},    /* 𝜈 */
    {0x1D70A, 0, NORM_F_STR, "o"},    /* 𝜊 */
    {0x1D70C, 0, NORM_F_STR, "p"},    /* 𝜌 */
    {0x1D70F, 0, NORM_F_STR, "t"},    /* 𝜏 */
    {0x1D710, 0, NORM_F_STR, "u"},    /* 𝜐 */
    {0x1D712, 0, NORM_F_STR, "x"},    /* 𝜒 */
    {0x1D714, 0, NORM_F_STR, "w"},    /* 𝜔 */
    {0x1D718, 0, NORM_F_STR, "k"},    /* 𝜘 */
    {0x1D71A, 0, NORM_F_STR, "p"},    /* 𝜚 */
    {0x1D71C, 0, NORM_F_STR, "a"},    /* 𝜜 */
    {0x1D71D, 0, NORM_F_STR, "b"},    /* 𝜝 */
    {0x1D720, 0, NORM_F_STR, "e"},    /* 𝜠 */
    {0x1D721, 0, NORM_F_STR, "z"},    /* 𝜡 */
    {0x1D722, 0, NORM_F_STR, "h"},    /* 𝜢 */
    {0x1D724, 0, NORM_F_STR, "i"},    /* 𝜤 */
    {0x1D725, 0, NORM_F_STR, "k"},    /* 𝜥 */
    {0x1D727, 0, NORM_F_STR, "m"},    /* 𝜧 */
    {0x1D728, 0, NORM_F_STR, "n"},    /* 𝜨 */
    {0x1D72A, 0, NORM_F_STR, "o"},    /* 𝜪 */
    {0x1D72C, 0, NORM_F_STR, "p"},    /* 𝜬 */
    {0x1D72F, 0, NORM_F_STR, "t"},    /* 𝜯 */
    {0x1D730, 0, NORM_F_STR, "y"},    /* 𝜰 */
    {0x1D732, 0, NORM_F_STR, "x"},    /* 𝜲 */
    {0x1D736, 0, NORM_F_STR, "a"},    /* 𝜶 */
    {0x1D738, 0, NORM_F_STR, "y"},    /* 𝜸 */
    {0x1D73C, 0, NORM_F_STR, "n"},    /* 𝜼 */
    {0x1D73E, 0, NORM_F_STR, "i"},    /* 𝜾 */
    {0x1D73F, 0, NORM_F_STR, "k"},    /* 𝜿 */
    {0x1D742, 0, NORM_F_STR, "v"},    /* 𝝂 */
    {0x1D744, 0, NORM_F_STR, "o"},    /* 𝝄 */
    {0x1D746, 0, NORM_F_STR, "p"},    /* 𝝆 */
    {0x1D749, 0, NORM_F_STR, "t"},    /* 𝝉 */
    {0x1D74A, 0, NORM_F_STR, "u"},    /* 𝝊 */
    {0x1D74C, 0, NORM_F_STR, "x"},    /* 𝝌 */
    {0x1D74E, 0, NORM_F_STR, "w"},    /* 𝝎 */
    {0x1D752, 0, NORM_F_STR, "k"},    /* 𝝒 */
    {0x1D754, 0, NORM_F_STR, "p"},    /* 𝝔 */
    {0x1D756, 0, NORM_F_STR, "a"},    /* 𝝖 */
    {0x1D757, 0, NORM_F_STR, "b"},    /* 𝝗 */
    {0x1D75A, 0, NORM_F_STR, "e"},    /* 𝝚 */
    {0x1D75B, 0, NORM_F_STR, "z"},    /* 𝝛 */
    {0x1D75C, 0, NORM_F_STR, "h"},    /* 𝝜 */
    {0x1D75E, 0, NORM_F_STR, "i"},    /* 𝝞 */
    {0x1D75F, 0, NORM_F_STR, "k"},    /* 𝝟 */
    {0x1D761, 0, NORM_F_STR, "m"},    /* 𝝡 */
    {0x1D762, 0, NORM_F_STR, "n"},    /* 𝝢 */
    {0x1D764, 0, NORM_F_STR, "o"},    /* 𝝤 */
    {0x1D766, 0, NORM_F_STR, "p"},    /* 𝝦 */
    {0x1D769, 0, NORM_F_STR, "t"},    /* 𝝩 */
    {0x1D76A, 0, NORM_F_STR, "y"},    /* 𝝪 */
    {0x1D76C, 0, NORM_F_STR, "x"},    /* 𝝬 */
    {0x1D770, 0, NORM_F_STR, "a"},    /* 𝝰 */
    {0x1D772, 0, NORM_F_STR, "y"},    /* 𝝲 */
    {0x1D776, 0, NORM_F_STR, "n"},    /* 𝝶 */
    {0x1D778, 0, NORM_F_STR, "i"},    /* 𝝸 */
    {0x1D779, 0, NORM_F_STR, "k"},    /* 𝝹 */
    {0x1D77C, 0, NORM_F_STR, "v"},    /* 𝝼 */
    {0x1D77E, 0, NORM_F_STR, "o"},    /* 𝝾 */
    {0x1D780, 0, NORM_F_STR, "p"},    /* 𝞀 */
    {0x1D783, 0, NORM_F_STR, "t"},    /* 𝞃 */
    {0x1D784, 0, NORM_F_STR, "u"},    /* 𝞄 */
    {0x1D786, 0, NORM_F_STR, "x"},    /* 𝞆 */
    {0x1D788, 0, NORM_F_STR, "w"},    /* 𝞈 */
    {0x1D78C, 0, NORM_F_STR, "k"},    /* 𝞌 */
    {0x1D78E, 0, NORM_F_STR, "p"},    /* 𝞎 */
    {0x1D790, 0, NORM_F_STR, "a"},    /* 𝞐 */
    {0x1D791, 0, NORM_F_STR, "b"},    /* 𝞑 */
    {0x1D794, 0, NORM_F_STR, "e"},    /* 𝞔 */
    {0x1D795, 0, NORM_F_STR, "z"},    /* 𝞕 */
    {0x1D796, 0, NORM_F_STR, "h"},    /* 𝞖 */
    {0x1D798, 0, NORM_F_STR, "i"},    /* 𝞘 */
    {0x1D799, 0, NORM_F_STR, "k"},    /* 𝞙 */
    {0x1D79B, 0, NORM_F_STR, "m"},    /* 𝞛 */
    {0x1D79C, 0, NORM_F_STR, "n"},    /* 𝞜 */
    {0x1D79E, 0, NORM_F_STR, "o"},    /* 𝞞 */
    {0x1D7A0, 0, NORM_F_STR, "p"},    /* 𝞠 */
    {0x1D7A3, 0, NORM_F_STR, "t"},    /* 𝞣 */
    {0x1D7A4, 0, NORM_F_STR, "y"},    /* 𝞤 */
    {0x1D7A6, 0, NORM_F_STR, "x"},    /* 𝞦 */
    {0x1D7AA, 0, NORM_F_STR, "a"},    /* 𝞪 */
    {0x1D7AC, 0, NORM_F_STR, "y"},    /* 𝞬 */
    {0x1D7B0, 0, NORM_F_STR, "n"},    /* 𝞰 */
    {0x1D7B2, 0, NORM_F_STR, "i"},    /* 𝞲 */
    {0x1D7B3, 0, NORM_F_STR, "k"},    /* 𝞳 */
    {0x1D7B6, 0, NORM_F_STR, "v"},    /* 𝞶 */
    {0x1D7B8, 0, NORM_F_STR, "o"},    /* 𝞸 */
    {0x1D7BA, 0, NORM_F_STR, "p"},    /* 𝞺 */
    {0x1D7BD, 0, NORM_F_STR, "t"},    /* 𝞽 */
    {0x1D7BE, 0, NORM_F_STR, "u"},    /* 𝞾 */
    {0x1D7C0, 0, NORM_F_STR, "x"},    /* 𝟀 */
    {0x1D7C2, 0, NORM_F_STR, "w"},    /* 𝟂 */
    {0x1D7C6, 0, NORM_F_STR, "k"},    /* 𝟆 */
    {0x1D7C8, 0, NORM_F_STR, "p"},    /* 𝟈 */
    {0x1D7CE, 9, NORM_F_SEQ, "0"},    /* 𝟎..𝟗 */
    {0x1D7D8, 9, NORM_F_SEQ, "0"},    /* 𝟘..𝟡 */
    {0x1D7E2, 9, NORM_F_SEQ, "0"},    /* 𝟢..𝟫 */
    {0x1D7EC, 9, NORM_F_SEQ, "0"},    /* 𝟬..𝟵 */
    {0x1D7F6, 9, NORM_F_SEQ, "0"},    /* 𝟶..𝟿 */
    {0x1F100, 0, NORM_F_STR, "0."},   /* 🄀 */
    {0x1F101, 0, NORM_F_STR, "0,"},   /* 🄁 */
    {0x1F102, 0, NORM_F_STR, "1,"},   /* 🄂 */
    {0x1F103, 0, NORM_F_STR, "2,"},   /* 🄃 */
    {0x1F104, 0, NORM_F_STR, "3,"},   /* 🄄 */
    {0x1F105, 0, NORM_F_STR, "4,"},   /* 🄅 */
    {0x1F106, 0, NORM_F_STR, "5,"},   /* 🄆 */
    {0x1F107, 0, NORM_F_STR, "6,"},   /* 🄇 */
    {0x1F108, 0, NORM_F_STR, "7,"},   /* 🄈 */
    {0x1F109, 0, NORM_F_STR, "8,"},   /* 🄉 */
    {0x1F10A, 0, NORM_F_STR, "9,"},   /* 🄊 */
    {0x1F10B, 1, NORM_F_STR, "0"},    /* 🄋..🄌 */
    {0x1F110, 25, NORM_F_SEQ, "a"},   /* 🄐..🄩 */
    {0x1F12B, 0, NORM_F_STR, "c"},    /* 🄫 */
    {0x1F12C, 0, NORM_F_STR, "r"},    /* 🄬 */
    {0x1F12D, 0, NORM_F_STR, "cd"},   /* 🄭 */
    {0x1F12E, 0, NORM_F_STR, "wz"},   /* 🄮 */
    {0x1F130, 25, NORM_F_SEQ, "a"},   /* 🄰..🅉 */
    {0x1F14A, 0, NORM_F_STR, "hv"},   /* 🅊 */
    {0x1F14B, 0, NORM_F_STR, "mv"},   /* 🅋 */
    {0x1F14C, 0, NORM_F_STR, "sd"},   /* 🅌 */
    {0x1F14D, 0, NORM_F_STR, "ss"},   /* 🅍 */
    {0x1F14E, 0, NORM_F_STR, "ppv"},  /* 🅎 */
    {0x1F14F, 0, NORM_F_STR, "wc"},   /* 🅏 */
    {0x1F150, 25, NORM_F_SEQ, "a"},   /* 🅐..🅩 */
    {0x1F16A, 0, NORM_F_STR, "mc"},   /* 🅪 */
    {0x1F16B, 0, NORM_F_STR, "md"},   /* 🅫 */
    {0x1F16C, 0, NORM_F_STR, "mr"},   /* 🅬 */
    {0x1F170, 25, NORM_F_SEQ, "a"},   /* 🅰..🆉 */
    {0x1F190, 0, NORM_F_STR, "dj"},   /* 🆐 */
    {0xE0000, 31, NORM_F_DROP, ""},   /* U+E0000..U+E001F */
    {0xE0020, 94, NORM_F_TAG, ""},    /* tags mirroring ASCII */
    {0xE007F, 3968, NORM_F_DROP, ""}, /* U+E007F..U+E0FFF */
};

#define NORM_FOLD_COUNT (sizeof(norm_fold) / sizeof(norm_fold[0]))

static const struct norm_range *norm_fold_find(uint32_t cp)
{
    size_t lo = 0, hi = NORM_FOLD_COUNT, mid;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (cp < norm_fold[mid].lo)
            hi = mid;
        else if (cp - norm_fold[mid].lo > norm_fold[mid].span)
            lo = mid + 1;
        else
            return &norm_fold[mid];
    }
    return NULL;
}

static bool norm_is_tok(unsigned char c)
{
    return norm_word[c] != 0;
}

static bool norm_is_leet(unsigned char c)
{
    return norm_is_tok(c) && norm_word[c] != (char)c;
}

/* Write the held bytes of the current token, mapped or not. */
static char *norm_tok_flush(struct guard_norm *n, char *o, bool mapped)
{
    unsigned i;

    for (i = 0; i < n->tok_held; i++)
        *o++ = mapped ? norm_word[(unsigned char)n->tok_hold[i]] : n->tok_hold[i];
    n->tok_held = 0;
    return o;
}

/* Step 6: take one output byte of the joiner (lower-case ASCII) and write what is final. */
static char *norm_tok_put(struct guard_norm *n, char *o, unsigned char c)
{
    if (!norm_is_tok(c)) {
        if (n->tok == NORM_T_HOLD)
            o = norm_tok_flush(n, o, false);
        n->tok = NORM_T_NONE;
        *o++ = (char)c;
        return o;
    }
    switch (n->tok) {
    case NORM_T_MAPPED:
        *o++ = norm_word[c];
        return o;
    case NORM_T_RAW:
        *o++ = (char)c;
        return o;
    case NORM_T_NONE:
        n->tok = NORM_T_HOLD;
        n->tok_len = 0;
        n->tok_letters = 0;
        n->tok_held = 0;
        break;
    default:
        break;
    }
    n->tok_len++;
    if (c >= 'a' && c <= 'z' && ++n->tok_letters == 2) {
        o = norm_tok_flush(n, o, true);
        n->tok = NORM_T_MAPPED;
        *o++ = (char)c;
        return o;
    }
    /* Bytes that map to themselves need not wait until a leet character must. */
    if (n->tok_held == 0 && !norm_is_leet(c))
        *o++ = (char)c;
    else
        n->tok_hold[n->tok_held++] = (char)c;
    if (n->tok_len == GUARD_NORM_TOKEN_MAX) {
        o = norm_tok_flush(n, o, false);
        n->tok = NORM_T_RAW;
    }
    return o;
}

/* Pass a unit on to step 6; a kept non-ASCII character (OTHER with c == 0) and the end only
 * close the token, the caller writes the character. */
static char *norm_emit(struct guard_norm *n, char *o, unsigned u, unsigned char c)
{
    if (u == NORM_U_END || c == 0) {
        if (n->tok == NORM_T_HOLD)
            o = norm_tok_flush(n, o, false);
        n->tok = NORM_T_NONE;
        return o;
    }
    return norm_tok_put(n, o, c);
}

/* Write the held units of a chain that is not joined: only step 5 applies, to a separator
 * with a letter after it (every held separator has one before it). */
static char *norm_join_flush(struct guard_norm *n, char *o)
{
    unsigned i;
    unsigned char c;

    for (i = 0; i < n->held; i++) {
        c = (unsigned char)n->hold[i];
        if (norm_class[c] == NORM_C_SEP && i + 1 < n->held)
            continue;
        o = norm_tok_put(n, o, c);
    }
    n->held = 0;
    return o;
}

/* Steps 4 and 5: take one unit. Each state either holds the unit and returns, or writes out
 * what the unit decides and moves to the state in which the unit is taken again. */
static char *norm_join(struct guard_norm *n, char *o, unsigned u, unsigned char c)
{
    bool word = u == NORM_U_LETTER || u == NORM_U_WORD;
    bool sep = u == NORM_U_SEP || u == NORM_U_SEP4 || u == NORM_U_NARROW;

    for (;;) {
        switch (n->join) {
        case NORM_J_START:
        case NORM_J_CONT:
            if (u == NORM_U_LETTER) {
                n->join = n->join == NORM_J_CONT ? NORM_J_QL : NORM_J_C1;
                n->hold[0] = (char)c;
                n->held = 1;
                return o;
            }
            n->join = u == NORM_U_WORD ? NORM_J_WORD_W : NORM_J_START;
            return norm_emit(n, o, u, c);
        case NORM_J_WORD_L:
            if (u == NORM_U_SEP) {
                n->join = NORM_J_WORD_SEP;
                n->hold[0] = (char)c;
                n->held = 1;
                return o;
            }
            /* fall through */
        case NORM_J_WORD_W:
            n->join = u == NORM_U_LETTER ? NORM_J_WORD_L
                      : u == NORM_U_WORD ? NORM_J_WORD_W
                                         : NORM_J_START;
            return norm_emit(n, o, u, c);
        case NORM_J_WORD_SEP:
            if (u == NORM_U_LETTER) {
                /* Step 5 drops the separator; the letter may start a chain. */
                n->join = NORM_J_C1;
                n->hold[0] = (char)c;
                n->held = 1;
                return o;
            }
            o = norm_join_flush(n, o);
            n->join = NORM_J_START;
            continue;
        case NORM_J_C1:
        case NORM_J_C2:
            if (sep) {
                n->join++;
                n->hold[n->held++] = (char)c;
                return o;
            }
            o = norm_join_flush(n, o);
            n->join = word ? NORM_J_WORD_L : NORM_J_START;
            continue;
        case NORM_J_C1S:
        case NORM_J_C2S:
        case NORM_J_QS:
            if (u == NORM_U_LETTER) {
                n->join++;
                n->hold[n->held++] = (char)c;
                return o;
            }
            o = norm_join_flush(n, o);
            n->join = NORM_J_START;
            continue;
        case NORM_J_C3:
            if (word) {
                o = norm_join_flush(n, o);
                n->join = NORM_J_WORD_L;
                continue;
            }
            /* The third letter is single: a joined chain. */
            o = norm_tok_put(n, o, (unsigned char)n->hold[0]);
            o = norm_tok_put(n, o, (unsigned char)n->hold[2]);
            o = norm_tok_put(n, o, (unsigned char)n->hold[4]);
            n->held = 0;
            n->join = NORM_J_Q;
            continue;
        case NORM_J_Q:
            if (sep) {
                n->join = NORM_J_QS;
                n->hold[0] = (char)c;
                n->held = 1;
                return o;
            }
            if (u == NORM_U_WIDE) {
                n->join = NORM_J_CONT;
                return norm_emit(n, o, u, c);
            }
            n->join = NORM_J_START;
            continue;
        case NORM_J_QL:
            if (word) {
                o = norm_join_flush(n, o);
                n->join = NORM_J_WORD_L;
                continue;
            }
            /* Single: it continues the joined chain and its separator goes. */
            o = norm_tok_put(n, o, (unsigned char)n->hold[n->held - 1]);
            n->held = 0;
            n->join = NORM_J_Q;
            continue;
        default:
            n->join = NORM_J_START;
            continue;
        }
    }
}

/* Close a pending whitespace run into a gap unit. */
static char *norm_gap(struct guard_norm *n, char *o)
{
    unsigned ws = n->ws;

    n->ws = NORM_WS_NONE;
    return norm_join(n, o, ws == NORM_WS_ONE ? NORM_U_NARROW : NORM_U_WIDE,
                     ws == NORM_WS_BREAK ? '\n' : ' ');
}

static void norm_space(struct guard_norm *n)
{
    n->ws = n->ws == NORM_WS_NONE ? NORM_WS_ONE : n->ws == NORM_WS_ONE ? NORM_WS_WIDE : n->ws;
}

/* One ASCII character, from the input or from a fold. */
static char *norm_ascii(struct guard_norm *n, char *o, unsigned char c)
{
    unsigned k = norm_class[c];

    switch (k) {
    case NORM_C_SPACE:
        norm_space(n);
        return o;
    case NORM_C_TAB:
        if (n->ws != NORM_WS_BREAK)
            n->ws = NORM_WS_WIDE;
        return o;
    case NORM_C_BREAK:
        n->ws = NORM_WS_BREAK;
        return o;
    case NORM_C_DROP:
    case NORM_C_HIGH:
        return o;
    default:
        break;
    }
    if (n->ws != NORM_WS_NONE)
        o = norm_gap(n, o);
    if (k == NORM_C_LETTER)
        c = (unsigned char)(c | 0x20);
    return norm_join(n, o, k, c);
}

/* One whole non-ASCII character. */
static char *norm_cp(struct guard_norm *n, char *o, uint32_t cp)
{
    const struct norm_range *r = norm_fold_find(cp);
    unsigned i;

    if (r == NULL) {
        /* Kept: write back the bytes it was decoded from. */
        if (n->ws != NORM_WS_NONE)
            o = norm_gap(n, o);
        o = norm_join(n, o, NORM_U_OTHER, 0);
        if (cp < 0x800) {
            *o++ = (char)(0xC0 | cp >> 6);
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | cp >> 12);
            *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        } else {
            *o++ = (char)(0xF0 | cp >> 18);
            *o++ = (char)(0x80 | (cp >> 12 & 0x3F));
            *o++ = (char)(0x80 | (cp >> 6 & 0x3F));
        }
        *o++ = (char)(0x80 | (cp & 0x3F));
        return o;
    }
    switch (r->kind) {
    case NORM_F_SPACE:
        norm_space(n);
        break;
    case NORM_F_NEWLINE:
        n->ws = NORM_WS_BREAK;
        break;
    case NORM_F_STR:
        for (i = 0; i < sizeof(r->str) && r->str[i]; i++)
            o = norm_ascii(n, o, (unsigned char)r->str[i]);
        break;
    case NORM_F_SEQ:
        o = norm_ascii(n, o, (unsigned char)(r->str[0] + (cp - r->lo)));
        break;
    case NORM_F_TAG:
        o = norm_ascii(n, o, (unsigned char)(cp - 0xE0000));
        break;
    default:
        break;
    }
    return o;
}

/* Bytes that make one unit by themselves: not whitespace, not removed, not UTF-8. */
static bool norm_plain(unsigned char c)
{
    return norm_class[c] <= NORM_C_SEP4;
}

#if defined(__SSE2__)
static __m128i norm_eq(__m128i v, char c)
{
    return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

static __m128i norm_in(__m128i v, char lo, char hi)
{
    return _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 1))),
                         _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1))));
}

/* The longest start of the 16 bytes at p that comes out as it goes in, letters lowered:
 * letters in runs of two or more, single ' ' or '\n' between units, printable punctuation, no
 * separator between two letters, no digit, @ or $ (they may start a token that waits). Each
 * byte is decided by itself and its two neighbours, so a byte counts when it and the next
 * pass; p[16] must be readable (a word may start at p[15]: p[16] is its second letter, and
 * the caller goes on with it as inside the word). `prev_word`, `prev_letter` describe the unit
 * before p. Writes 16 bytes to o and returns how many of them count (0: none). */
static unsigned norm_block(const unsigned char *p, bool prev_word, bool prev_letter, char *o,
                           bool *last_letter)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i letter = norm_in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    const __m128i printable = norm_in(v, 0x21, 0x7E);
    const __m128i word =
        _mm_or_si128(norm_in(v, '0', '9'), _mm_or_si128(norm_eq(v, '@'), norm_eq(v, '$')));
    const __m128i sep = _mm_or_si128(_mm_or_si128(_mm_or_si128(norm_eq(v, '.'), norm_eq(v, '-')),
                                                  _mm_or_si128(norm_eq(v, '_'), norm_eq(v, '*'))),
                                     _mm_or_si128(_mm_or_si128(norm_eq(v, '~'), norm_eq(v, '`')),
                                                  _mm_or_si128(norm_eq(v, '\''), norm_eq(v, '|'))));
    unsigned pr = (unsigned)_mm_movemask_epi8(printable) | (unsigned)norm_plain(p[16]) << 16;
    unsigned ok = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(word, printable));
    unsigned ws = (unsigned)_mm_movemask_epi8(_mm_or_si128(norm_eq(v, ' '), norm_eq(v, '\n')));
    unsigned l = (unsigned)_mm_movemask_epi8(letter);
    unsigned lx = l | (unsigned)(norm_class[p[16]] == NORM_C_LETTER) << 16;
    unsigned s = (unsigned)_mm_movemask_epi8(sep) & (l << 1 | prev_letter);
    unsigned starts = l & ~(l << 1 | prev_word);
    unsigned gap =
        (unsigned)_mm_movemask_epi8(_mm_or_si128(norm_eq(v, ' '), norm_in(v, 9, 13))) |
        (unsigned)(norm_class[p[16]] >= NORM_C_SPACE && norm_class[p[16]] <= NORM_C_BREAK) << 16;
    unsigned bad, len;

    /* Whitespace needs a unit after it (a run of one), a word start a second letter, a
     * separator after a letter a unit other than a letter after it (else step 5 drops it;
     * whitespace always makes a gap unit, so it keeps the separator). */
    bad = ~(ok | ws) | (ws & ~(pr >> 1)) | (starts & ~(lx >> 1)) |
          (s & (lx >> 1 | ~((pr | gap) >> 1)));
    len = (unsigned)__builtin_ctz((bad & 0xFFFF) | 0x10000);
    if (len == 0)
        return 0;
    _mm_storeu_si128((__m128i *)(void *)o,
                     _mm_or_si128(v, _mm_and_si128(letter, _mm_set1_epi8(0x20))));
    *last_letter = (l >> (len - 1) & 1) != 0;
    return len;
}
#endif

/* Bytes that end a token or a whitespace run without joining anything to it: punctuation,
 * separators and whitespace (not letters, 0..9 @ $, removed controls or UTF-8). */
static bool norm_breaks(unsigned char c)
{
    unsigned k = norm_class[c];

    return k == NORM_C_OTHER || (k >= NORM_C_SEP && k <= NORM_C_BREAK);
}

/* The hot path for plain ASCII prose: words of two letters or more inside a mapped token,
 * whitespace runs, punctuation, separators inside words, tokens of digits, a lone letter
 * before a word. It covers only the joiner states in which each of those comes out at once
 * (START, CONT and WORD with a mapped token) and does there exactly what the unit path
 * would; anything else (digits that start a longer token, spaced-out letters, UTF-8, a
 * whitespace run that may go on in the next chunk) is left to the unit path at *pp. */
static char *norm_fast(struct guard_norm *n, const unsigned char **pp, const unsigned char *end,
                       char *o)
{
    const unsigned char *p = *pp, *s;
    bool word, letter = false, start;
    unsigned k;
    char m;

    if (n->ws != NORM_WS_NONE || n->need != 0)
        return o;
    if ((n->join == NORM_J_WORD_L || n->join == NORM_J_WORD_W) && n->tok == NORM_T_MAPPED) {
        word = true;
        letter = n->join == NORM_J_WORD_L;
    } else if (n->join == NORM_J_START || n->join == NORM_J_CONT) {
        word = false; /* the token is NORM_T_NONE in these states */
    } else {
        return o;
    }
    /* START proper, not CONT: a chain after a joined one would be joined whatever its length. */
    start = n->join == NORM_J_START;
    while (p < end) {
#if defined(__SSE2__)
        while (end - p > 16) {
            unsigned len = norm_block(p, word, word && letter, o, &letter);

            if (len == 0)
                break;
            o += len;
            p += len;
            word = letter;
            start = true;
            /* The byte that stopped the block stops the next one too: it is the scalar
             * path's. */
            if (len < 16)
                break;
        }
#endif
        if (word) {
            s = p;
            while (p < end && (m = norm_word[*p]) != 0) {
                *o++ = m;
                p++;
            }
            if (p > s)
                letter = norm_class[p[-1]] == NORM_C_LETTER;
            if (p == end)
                break;
            k = norm_class[*p];
            if (k == NORM_C_SEP && letter) {
                /* Step 5 needs the next unit: a word of two letters goes on, any other unit
                 * but a letter ends the word with the separator kept (whitespace makes a gap
                 * whatever follows it), a single letter is the unit path's. */
                if (end - p < 2 || norm_class[p[1]] > NORM_C_BREAK)
                    break;
                if (norm_class[p[1]] == NORM_C_LETTER) {
                    if (end - p < 3 || norm_class[p[2]] != NORM_C_LETTER)
                        break;
                    o[0] = (char)(p[1] | 0x20);
                    o[1] = (char)(p[2] | 0x20);
                    o += 2;
                    p += 3;
                    continue;
                }
            }
            if (k > NORM_C_BREAK)
                break;
        } else {
            k = norm_class[*p];
            if (k == NORM_C_LETTER) {
                /* A word starts: its first letter is not single, its token gets 2 letters. */
                if (end - p >= 2 && norm_class[p[1]] == NORM_C_LETTER) {
                    o[0] = (char)(p[0] | 0x20);
                    o[1] = (char)(p[1] | 0x20);
                    o += 2;
                    p += 2;
                    word = letter = start = true;
                    continue;
                }
                /* A single letter, one space, a word: no chain (it needs three single
                 * letters), so all of it comes out as it is. */
                if (!start || end - p < 4 || p[1] != ' ' || norm_class[p[2]] != NORM_C_LETTER ||
                    norm_class[p[3]] != NORM_C_LETTER)
                    break;
                o[0] = (char)(p[0] | 0x20);
                o[1] = ' ';
                o[2] = (char)(p[2] | 0x20);
                o[3] = (char)(p[3] | 0x20);
                o += 4;
                p += 4;
                word = letter = true;
                continue;
            }
            if (k == NORM_C_WORD) {
                /* A token of digits, @ and $ with no letter is kept as it is; it must end
                 * here, before a byte that cannot continue it. */
                for (s = p + 1; s < end && norm_class[*s] == NORM_C_WORD; s++)
                    ;
                if (s == end || !norm_breaks(*s))
                    break;
                memcpy(o, p, (size_t)(s - p));
                o += s - p;
                p = s;
                k = norm_class[*p];
            }
            if (k > NORM_C_BREAK)
                break;
        }
        /* OTHER, SEP, SEP4 or whitespace: written as it is, then START. A whitespace run is
         * one gap when a unit of its own follows it in this chunk: one byte, a line break if
         * it holds one. */
        if (k >= NORM_C_SPACE) {
            bool brk = false;

            for (s = p; s < end && norm_class[*s] >= NORM_C_SPACE && norm_class[*s] <= NORM_C_BREAK;
                 s++)
                brk |= norm_class[*s] == NORM_C_BREAK;
            if (s == end || !norm_plain(*s))
                break;
            *o++ = brk ? '\n' : ' ';
            p = s;
        } else {
            *o++ = (char)*p++;
        }
        word = false;
        start = true;
    }
    if (p != *pp) {
        n->join = word ? (letter ? NORM_J_WORD_L : NORM_J_WORD_W) : NORM_J_START;
        n->tok = word ? NORM_T_MAPPED : NORM_T_NONE;
        *pp = p;
    }
    return o;
}

/* Normalise [p, end) into o, which has room for GUARD_NORM_OUT_MAX(end - p). */
static char *norm_run(struct guard_norm *n, const unsigned char *p, const unsigned char *end,
                      char *o)
{
    unsigned c;

    while (p < end) {
        c = *p;
        if (n->need) {
            if (c < n->lo || c > n->hi) {
                /* Broken sequence: drop what was read, read this byte afresh. */
                n->need = 0;
                continue;
            }
            n->cp = n->cp << 6 | (c & 0x3F);
            n->lo = 0x80;
            n->hi = 0xBF;
            p++;
            if (--n->need == 0)
                o = norm_cp(n, o, n->cp);
            continue;
        }
        if (c < 0x80) {
            o = norm_fast(n, &p, end, o);
            if (p == end)
                break;
            c = *p;
            if (c < 0x80) {
                o = norm_ascii(n, o, (unsigned char)c);
                p++;
                continue;
            }
        }
        p++;
        n->lo = 0x80;
        n->hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            n->need = 1;
            n->cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n->need = 2;
            n->cp = c & 0x0F;
            if (c == 0xE0)
                n->lo = 0xA0; /* no overlongs */
            else if (c == 0xED)
                n->hi = 0x9F; /* no surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n->need = 3;
            n->cp = c & 0x07;
            if (c == 0xF0)
                n->lo = 0x90;
            else if (c == 0xF4)
                n->hi = 0x8F; /* nothing above U+10FFFF */
        }
    }
    return o;
}

void guard_norm_init(struct guard_norm *n)
{
    memset(n, 0, sizeof(*n));
}

/* Input bytes per round when the caller's room is short and output goes through a buffer. */
#define NORM_PIECE 256

/* Copy what fits of a round's output; the rest is lost. */
static size_t norm_copy(struct guard_norm *n, char *out, size_t cap, size_t done, const char *buf,
                        size_t len)
{
    size_t room = cap - done;

    if (len > room) {
        n->truncated = true;
        len = room;
    }
    if (len)
        memcpy(out + done, buf, len);
    return done + len;
}

size_t guard_norm_feed(struct guard_norm *n, const char *in, size_t len, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    char buf[NORM_PIECE * 2 + GUARD_NORM_HOLD_MAX];
    size_t done = 0, k;

    if (len == 0)
        return 0;
    if (len <= (SIZE_MAX - GUARD_NORM_HOLD_MAX) / 2 && cap >= GUARD_NORM_OUT_MAX(len))
        return (size_t)(norm_run(n, p, p + len, out) - out);
    while (len > 0) {
        k = len < NORM_PIECE ? len : NORM_PIECE;
        done = norm_copy(n, out, cap, done, buf, (size_t)(norm_run(n, p, p + k, buf) - buf));
        p += k;
        len -= k;
    }
    return done;
}

size_t guard_norm_end(struct guard_norm *n, char *out, size_t cap)
{
    char buf[GUARD_NORM_HOLD_MAX];
    char *o = cap >= GUARD_NORM_HOLD_MAX ? out : buf;
    char *e = o;

    n->need = 0; /* a character cut by the end is dropped */
    if (n->ws != NORM_WS_NONE)
        e = norm_gap(n, e);
    e = norm_join(n, e, NORM_U_END, 0);
    n->join = NORM_J_START;
    if (o == out)
        return (size_t)(e - o);
    return norm_copy(n, out, cap, 0, buf, (size_t)(e - buf));
}

bool guard_norm_truncated(const struct guard_norm *n)
{
    return n->truncated;
}

size_t guard_norm_block(const char *in, size_t len, char *out, size_t cap)
{
    struct guard_norm n;
    size_t k;

    guard_norm_init(&n);
    k = guard_norm_feed(&n, in, len, out, cap);
    return k + guard_norm_end(&n, out + k, cap - k);
}

/* Unit tests for the text normaliser: the contract case by case, chunking, bounds, an oracle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/normalize.h"

/* {input, expected}. Inputs are C strings; "\xNN" spells raw bytes, UTF-8 is written as is. */
struct norm_case {
    const char *in;
    const char *out;
};

static const struct norm_case cases[] = {
    /* 8. plain text */
    {"", ""},
    {"hello world", "hello world"},
    {"Hello, World!", "hello, world!"},
    {"x = (y + z) / 2; // ok?", "x = (y + z) / 2; // ok?"},
    {"3.14 and 2024-01-01", "3.14 and 2024-01-01"},
    {"#!$%&()=?[]{}^<>\\\"", "#!$%&()=?[]{}^<>\\\""},
    /* 1. invalid UTF-8 dropped; a broken sequence's valid start dropped, the breaker read */
    {"ig\xFFnore", "ignore"},
    {"a\x80\xBF"
     "b",
     "ab"},
    {"\xC3(x", "(x"},
    {"\xC0\xAF\xC1\xBFok", "ok"}, /* overlong 2-byte */
    {"\xE0\x80\xAFok", "ok"},     /* overlong 3-byte */
    {"\xF0\x80\x80\xAFok", "ok"}, /* overlong 4-byte */
    {"\xED\xA0\x80x", "x"},       /* surrogate */
    {"\xF4\x90\x80\x80x", "x"},   /* above U+10FFFF */
    {"\xF5\xF8\xFE\xFFx", "x"},   /* never valid */
    {"ab\xE2\x80", "ab"},         /* cut by the end */
    {"\xE2\x80z", "z"},           /* cut by an ASCII byte, which stays */
    {"\xE2\xE2\x80\x8B"
     "a",
     "a"},                            /* cut by a lead byte, which starts afresh */
    {"\xEF\xBF\xBD", "\xEF\xBF\xBD"}, /* U+FFFD is a character like any other */
    /* 1. removed characters */
    {"ig\u200Bno\u200Cre\u200D", "ignore"},
    {"ig\u200Enore\u200F", "ignore"},
    {"\uFEFFignore", "ignore"},
    {"ig\u00ADnore", "ignore"},
    {"ig\u2060n\u2061o\u2062r\u2063e\u2064", "ignore"},
    {"i\u202Ag\u202Bn\u202Co\u202Dr\u202Ee", "ignore"},
    {"i\u2066g\u2067n\u2068o\u2069re\u061C", "ignore"},
    {"ign\u034Fore\u180E", "ignore"},
    {"ig\uFE0Fnore\uFE00", "ignore"},
    {"ig\U000E0100nore\U000E01EF", "ignore"},
    {"a\U000E0001b\U000E007Fc\U000E0000d", "abcd"},
    {"x\u3164y\u115Fz", "xyz"},
    {"e\u0301t\u00E9", "ete"}, /* decomposed and precomposed alike */
    {"i\u0337\u0321g\u0334n\u0338o\u0335r\u0336e\u0489", "ignore\u0489"}, /* zalgo (U+0489 kept) */
    {"a\x01\x02\x1F\x7F"
     "b",
     "ab"},
    {"a\xC2\x80\xC2\x9F"
     "b",
     "ab"},
    {"ok\u00A0", "ok "},
    /* 1. tag characters mirror ASCII */
    {"\U000E0049\U000E0047\U000E004E\U000E004F\U000E0052\U000E0045", "ignore"},
    {"hi\U000E0020\U000E0061\U000E006C\U000E006C", "hi all"},
    {"x\U000E0031\U000E0033\U000E0033\U000E0037", "x1337"},
    /* 2. case and diacritics */
    {"IGNORE Previous", "ignore previous"},
    {"éèêëÉ àâäÀ ïîÏ ôöÔ ùûüÙ ç ñ ÿ", "eeeee aaaa iii ooo uuuu cny"},
    {"straße STRASSE Æsir œuvre Œ", "strasse strasse aesir oeuvre oe"},
    {"Ørsted łódź Łukasz Đorđe ħ ı İ", "orsted lodz lukasz dorde hii"},
    {"þorn ð ŋ ĳ ŀ ſ ẞ", "thorn d n ij l s ss"},
    {"ﬁle ﬂow eﬀort", "file flow effort"},
    {"Ḁḃḉ ạảấ ỹ", "abc aaa y"},
    /* 2. full-width and small forms */
    {"Ｉｇｎｏｒｅ　ａｌｌ！", "ignore all!"},
    {"ＡＢＣ０１２＠＃ ７７", "abcoi2a# 77"},
    {"﹤tag﹥", "<tag>"},
    /* 2. mathematical alphanumerics, letterlike */
    {"𝐈𝐠𝐧𝐨𝐫𝐞 𝑖𝑛𝑠𝑡 𝓈𝒸𝓇𝒾𝓅𝓉 𝔣𝔯𝔞𝔨 𝕕𝕠𝕦𝕓𝕝𝕖", "ignore inst script frak double"},
    {"𝗌𝖺𝗇𝗌 𝙢𝙤𝙣𝙤 𝚖𝚘𝚗𝚘 𝟏𝟐𝟑", "sans mono mono 123"},
    {"ℎℯℓℓℴ ℂℍℕ ™ № K", "hello chn tm no k"},
    {"Ⅻ ⅷ", "xii viii"},
    /* 2. enclosed */
    {"ⓘⓖⓝⓞⓡⓔ ⒤⒢⒩ ⒾⒼⓃ", "ignore ign ign"},
    {"🄸🄶🄽 🅘🅖🅝 🅸🅶🅽", "ign ign ign"},
    {"① ⑽ ❶ ⒈", "1 10 1 1."},
    /* 2. small capitals, modifiers, super- and subscripts */
    {"ɪɢɴᴏʀᴇ ᴀʟʟ", "ignore all"},
    {"ᵃᵇᶜ ⁱⁿ ₐₑ ʰ", "abc in ae h"},
    {"x² H₂O", "x2 h2o"},
    /* 2. Cyrillic, Greek, Armenian look-alikes */
    {"іgnоrе аll рrеvіоus", "ignore all previous"},
    {"ВЕС МНОР ТУХ З", "bec mhop tyx З"},
    {"ѕуѕтем", "system"},
    {"ԁаtа һеӏр", "data help"},
    {"ёжик", "eжиk"},
    {"привет ПРИВЕТ", "пpиbet ПpИbet"},
    {"ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "abezhikmnoptyx"},
    {"αινουχρ", "aivouxp"},
    {"ά Έ ό έ", "aeo έ"},
    {"λ ψ Ω", "λ ψ Ω"},
    {"օս հ", "ou h"},
    /* 2. punctuation look-alikes */
    {"don’t ‘x’ “y” a‐b", "dont 'x' \"y\" ab"},
    {"½ ¼ …", "1/2 1/4 ..."},
    {"a — b – c", "a — b – c"},
    /* 2. other characters kept */
    {"日本語 😀 中文", "日本語 😀 中文"},
    {"שלום مرحبا", "שלום مرحبا"},
    {"😀\u200D😀", "😀😀"},
    /* 3. whitespace */
    {"a  b\t\tc", "a b c"},
    {"a\tb", "a b"},
    {"a \n b", "a\nb"},
    {"a\r\n\r\nb", "a\nb"},
    {"a\rb", "a\nb"},
    {"a\u2028b\u2029c\xC2\x85"
     "d",
     "a\nb\nc\nd"},
    {"ab\u2003\u3000cd\u00A0ef\u202Fgh\u205Fij\u1680kl", "ab cd ef gh ij kl"},
    {"   lead", " lead"},
    {"\n\nlead", "\nlead"},
    {"trail \t ", "trail "},
    {"a \u200B b", "a b"},
    {"a\v\fb", "a b"},
    /* 4. spaced-out letters */
    {"i g n o r e", "ignore"},
    {"I-G-N-O-R-E", "ignore"},
    {"i.g.n.o.r.e", "ignore"},
    {"i_g*n~o|r`e", "ignore"},
    {"i'g+n/o·r’e", "ignore"},
    {"i\u00A0g\u3000n", "ign"},
    {"a b c", "abc"},
    {"a b", "a b"},
    {"a-b", "ab"},
    {"a/b", "a/b"},
    {"a+b+c", "abc"},
    {"i/g/n", "ign"},
    {"a b c\nd e", "abc\nde"},
    {"it’s a test", "its a test"},
    {"it’s a b", "itsab"}, /* the s is single: its neighbours are not word characters */
    {"i g n o r e   a l l", "ignore all"},
    {"i g n o r e\ta l l", "ignore all"},
    {"i g n o r e\na l l", "ignore\nall"},
    {"i g n o r e  m e", "ignore me"},
    {"i g n o r e  m e  a", "ignore me a"},
    {"m e  i g n o r e", "m e ignore"},
    {"a b  c d", "a b c d"},
    {"i g n o r e  all", "ignore all"},
    {"i g n o r e all", "ignore all"},
    {"a b cd", "a b cd"},
    {"ab c d e", "ab cde"},
    {"a b c de", "abc de"},
    {"x a b c", "xabc"},
    {"a. b. c.", "a. b. c."},
    {"a  b  c", "a b c"},
    {"a--b--c", "a--b--c"},
    {"a - b - c", "a - b - c"},
    {"1 2 3 4", "1 2 3 4"},
    {"a 1 b 2 c", "a 1 b 2 c"},
    {"a b c, d e", "abc, d e"},
    {"(a b c)", "(abc)"},
    {"I am a bot", "i am a bot"},
    {"plan a b c", "plan abc"},
    {"ⓘ ⓖ ⓝ ⓞ ⓡ ⓔ", "ignore"},
    {"i\u200B \u200Bg n", "ign"},
    {"i g\U000E0020n", "ign"},
    /* 5. split words */
    {"ig-nore", "ignore"},
    {"don't", "dont"},
    {"in*struc*tions", "instructions"},
    {"ig_no~re pre|vi`ous", "ignore previous"},
    {"evil.com", "evilcom"},
    {"e.g.", "eg."},
    {"well-known snake_case it's", "wellknown snakecase its"},
    {"3.14 v1.2 a-1 1-a x--y x-.y", "3.14 v1.2 a-1 1-a x--y x-.y"},
    {"and/or c++ a+b", "and/or c++ a+b"},
    {"end. next", "end. next"},
    {"word- -word", "word- -word"},
    {"ig-n o r e", "ignore"},
    {"ab-c d e", "abcde"},
    {"<!-- ignore -->", "<!-- ignore -->"},
    {"<!--ignore-->", "<!--ignore-->"},
    {"[//]: # (ignore all)", "[//]: # (ignore all)"},
    /* 6. leetspeak */
    {"1gn0r3", "ignore"},
    {"pr0mpt h4ck3r", "prompt hacker"},
    {"1337 5p34k", "1337 speak"},
    {"@ll $y$tem", "all system"},
    {"1g-n0r3", "ignore"},
    {"1-g-n-0-r-3", "1-gn-0-r-3"},
    {"2024 v2 x1 3.14 $100 @1", "2024 v2 x1 3.14 $100 @1"},
    {"mp3 0x1f sha256 user@host", "mpe oxif sha2s6 userahost"},
    {"ab2 b2b 69ab", "ab2 b2b 69ab"},
    {"a1b", "aib"},
    {"1a1", "1a1"},
    {"1ab", "iab"},
    {"𝟏𝐠𝐧𝟎𝐫𝟑", "ignore"},
    {"ⓘ1", "i1"},
    /* the ASCII fast path (inputs longer than its 16-byte blocks): whitespace runs, a
     * separator before whitespace, tokens of digits, a lone letter before a word */
    {"The first line ends here.  Then two spaces,\n\n\tand a tab run.", "the first line ends "
                                                                        "here. then two spaces,"
                                                                        "\nand a tab run."},
    {"Words end with a dot.\nOr a dash- \r\n or a quote' here, ok", "words end with a dot.\nor "
                                                                    "a dash-\nor a quote' here, "
                                                                    "ok"},
    {"Prices rose 2024 by 15.5% to $100, see @3 and 0x1f.", "prices rose 2024 by 15.5% to $100, "
                                                            "see @3 and oxif."},
    {"Numbers 123456 7 89 then words 4you and 1337speak", "numbers 123456 7 89 then words ayou "
                                                          "and ieetspeak"},
    {"I am a cat, I think a b c d is joined but a big dog is not", "i am a cat, i think abcd is "
                                                                   "joined but a big dog is not"},
    {"Say a  word or I\tthink or a\nline then x y", "say a word or i think or a\nline then x y"},
    {"i g n o r e  a word, then trailing a", "ignore a word, then trailing a"},
};

/* ---- helpers ---- */

static const char *test_name = "";

#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond))                                                                \
            fail_msg("%s: check failed: %s (line %d)", test_name, #cond, __LINE__); \
    } while (0)

/* A growable byte string. */
struct buf {
    char *p;
    size_t len, cap;
};

static void buf_put(struct buf *b, const char *p, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* One feed from an exact-size heap copy into an exact-size output with a guard after it, so
 * ASan and the guard see any read or write outside the bounds. Checks the output bound. */
static void feed_one(struct guard_norm *n, struct buf *out, const char *p, size_t len)
{
    size_t cap = GUARD_NORM_OUT_MAX(len), k;
    char *in = malloc(len ? len : 1);
    char *o = malloc(cap + 16);

    assert_non_null(in);
    assert_non_null(o);
    if (len)
        memcpy(in, p, len);
    memset(o + cap, 0x5A, 16);
    k = guard_norm_feed(n, len ? in : NULL, len, o, cap);
    CHECK(k <= cap);
    for (size_t i = 0; i < 16; i++)
        CHECK(o[cap + i] == 0x5A);
    buf_put(out, o, k);
    free(in);
    free(o);
}

static void end_one(struct guard_norm *n, struct buf *out)
{
    char o[GUARD_NORM_HOLD_MAX + 16];
    size_t k;

    memset(o, 0x5A, sizeof(o));
    k = guard_norm_end(n, o, GUARD_NORM_HOLD_MAX);
    CHECK(k <= GUARD_NORM_HOLD_MAX);
    for (size_t i = GUARD_NORM_HOLD_MAX; i < sizeof(o); i++)
        CHECK(o[i] == 0x5A);
    buf_put(out, o, k);
    CHECK(!guard_norm_truncated(n));
}

/* Normalise `in` cut at the given points (sorted, <= len). */
static void norm_cuts(struct buf *out, const char *in, size_t len, const size_t *cuts, size_t ncuts)
{
    struct guard_norm n;
    size_t pos = 0, i;

    out->len = 0;
    buf_put(out, "", 0);
    guard_norm_init(&n);
    for (i = 0; i <= ncuts; i++) {
        size_t next = i < ncuts ? cuts[i] : len;

        feed_one(&n, out, in + pos, next - pos);
        pos = next;
    }
    end_one(&n, out);
    /* Every input byte yields at most 2 output bytes over the whole text. */
    CHECK(out->len <= 2 * len);
}

static void norm_whole(struct buf *out, const char *in, size_t len)
{
    norm_cuts(out, in, len, NULL, 0);
}

static void norm_bytes(struct buf *out, const char *in, size_t len)
{
    struct guard_norm n;
    size_t i;

    out->len = 0;
    buf_put(out, "", 0);
    guard_norm_init(&n);
    for (i = 0; i < len; i++)
        feed_one(&n, out, in + i, 1);
    end_one(&n, out);
}

static uint32_t rnd_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

static void norm_random(struct buf *out, const char *in, size_t len, uint32_t seed)
{
    size_t cuts[64], n = 0, pos = 0;

    while (n < 64) {
        pos += 1 + (rnd_next(&seed) % 4 == 0 ? rnd_next(&seed) % 200 : rnd_next(&seed) % 7);
        if (pos >= len)
            break;
        cuts[n++] = pos;
    }
    norm_cuts(out, in, len, cuts, n);
}

static void expect_same(const struct buf *want, const struct buf *got, const char *how)
{
    if (want->len != got->len || memcmp(want->p, got->p, want->len) != 0)
        fail_msg("%s: %s gives [%s] (%zu bytes), whole gives [%s] (%zu bytes)", test_name, how,
                 got->p, got->len, want->p, want->len);
}

/* Strict UTF-8 (RFC 3629), independent of the normaliser's decoder. */
static bool utf8_valid(const unsigned char *p, size_t n)
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

/* What every output must look like, whatever the input. */
static void check_shape(const struct buf *b)
{
    size_t i;
    unsigned char c, prev = 'x';

    CHECK(utf8_valid((const unsigned char *)b->p, b->len));
    for (i = 0; i < b->len; i++) {
        c = (unsigned char)b->p[i];
        CHECK(!(c >= 'A' && c <= 'Z'));
        CHECK(c >= 0x20 || c == '\n');
        CHECK(c != 0x7F);
        CHECK(!((c == ' ' || c == '\n') && (prev == ' ' || prev == '\n')));
        prev = c;
    }
}

/* Whole, byte by byte, every single cut, every pair of cuts (short inputs), random cuts. */
static void check_chunking(const char *in, size_t len, const struct buf *want)
{
    struct buf got = {0};
    size_t cuts[2], i, j;
    char how[64];

    norm_bytes(&got, in, len);
    expect_same(want, &got, "byte by byte");
    for (i = 0; i <= len; i++) {
        cuts[0] = i;
        norm_cuts(&got, in, len, cuts, 1);
        snprintf(how, sizeof(how), "a cut at %zu", i);
        expect_same(want, &got, how);
    }
    if (len <= 48) {
        for (i = 0; i <= len; i++) {
            for (j = i; j <= len; j++) {
                cuts[0] = i;
                cuts[1] = j;
                norm_cuts(&got, in, len, cuts, 2);
                snprintf(how, sizeof(how), "cuts at %zu and %zu", i, j);
                expect_same(want, &got, how);
            }
        }
    }
    for (i = 0; i < 8; i++) {
        norm_random(&got, in, len, (uint32_t)i * 7919u + 1);
        expect_same(want, &got, "random cuts");
    }
    buf_free(&got);
}

/* ---- the oracle: steps 3 to 6 for ASCII input, written from the contract as whole-text
 * passes, with nothing in common with the streaming code ---- */

enum ora_kind {
    ORA_LETTER = 0,
    ORA_WORD,
    ORA_SEP,
    ORA_SEP4,
    ORA_NARROW,
    ORA_WIDE,
    ORA_OTHER,
};

struct ora_unit {
    enum ora_kind kind;
    char c;
    bool drop;
};

static bool ora_wordchar(const struct ora_unit *u)
{
    return u->kind == ORA_LETTER || u->kind == ORA_WORD;
}

static bool ora_chainsep(const struct ora_unit *u)
{
    return u->kind == ORA_SEP || u->kind == ORA_SEP4 || u->kind == ORA_NARROW;
}

static void oracle(struct buf *out, const char *in, size_t len)
{
    struct ora_unit *u = calloc(len + 1, sizeof(*u));
    bool *single = calloc(len + 1, sizeof(bool));
    size_t n = 0, i, j, k, count, letters, prev_end = SIZE_MAX;
    bool prev_joined = false, joined;
    struct buf txt = {0};

    assert_non_null(u);
    assert_non_null(single);
    /* Units: control characters go, whitespace runs become gaps. */
    for (i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            size_t chars = 0;
            bool brk = false, tab = false;

            for (; i < len; i++) {
                c = (unsigned char)in[i];
                if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')
                    continue; /* removed, does not break the run */
                if (c == 0x7F)
                    continue;
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f')
                    break;
                chars++;
                brk |= c == '\n' || c == '\r';
                tab |= c == '\t' || c == '\v' || c == '\f';
            }
            u[n].kind = chars == 1 && !brk && !tab ? ORA_NARROW : ORA_WIDE;
            u[n++].c = brk ? '\n' : ' ';
            continue;
        }
        i++;
        if (c < 0x20 || c == 0x7F)
            continue;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            u[n].kind = ORA_LETTER;
            c = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        } else if ((c >= '0' && c <= '9') || c == '@' || c == '$') {
            u[n].kind = ORA_WORD;
        } else if (strchr(".-_*~`'|", c)) {
            u[n].kind = ORA_SEP;
        } else if (c == '+' || c == '/') {
            u[n].kind = ORA_SEP4;
        } else {
            u[n].kind = ORA_OTHER;
        }
        u[n++].c = (char)c;
    }
    /* Single letters. */
    for (i = 0; i < n; i++)
        single[i] = u[i].kind == ORA_LETTER && (i == 0 || !ora_wordchar(&u[i - 1])) &&
                    (i + 1 == n || !ora_wordchar(&u[i + 1]));
    /* Step 4: chains, joined when 3 letters long or right after a joined chain and a wide gap. */
    for (i = 0; i < n; i++) {
        if (!single[i])
            continue;
        j = i;
        while (j + 2 < n && ora_chainsep(&u[j + 1]) && single[j + 2])
            j += 2;
        count = (j - i) / 2 + 1;
        joined =
            count >= 3 || (prev_joined && i >= 2 && prev_end == i - 2 && u[i - 1].kind == ORA_WIDE);
        if (joined)
            for (k = i + 1; k < j; k += 2)
                u[k].drop = true;
        prev_joined = joined;
        prev_end = j;
        i = j;
    }
    /* Step 5: a separator between two letters. */
    for (i = 1; i + 1 < n; i++)
        if (u[i].kind == ORA_SEP && u[i - 1].kind == ORA_LETTER && u[i + 1].kind == ORA_LETTER)
            u[i].drop = true;
    buf_put(&txt, "", 0);
    for (i = 0; i < n; i++)
        if (!u[i].drop)
            buf_put(&txt, &u[i].c, 1);
    /* Step 6: tokens. */
    out->len = 0;
    buf_put(out, "", 0);
    for (i = 0; i < txt.len;) {
        char c = txt.p[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '$')) {
            buf_put(out, &c, 1);
            i++;
            continue;
        }
        for (j = i; j < txt.len; j++) {
            c = txt.p[j];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '@' || c == '$'))
                break;
        }
        letters = 0;
        for (k = i; k < j && k < i + GUARD_NORM_TOKEN_MAX; k++)
            letters += txt.p[k] >= 'a' && txt.p[k] <= 'z';
        for (k = i; k < j; k++) {
            const char *from = "0134578@$", *to = "oieastbas";
            const char *at = strchr(from, txt.p[k]);

            c = letters >= 2 && at ? to[at - from] : txt.p[k];
            buf_put(out, &c, 1);
        }
        i = j;
    }
    buf_free(&txt);
    free(u);
    free(single);
}

/* ---- tests ---- */

static void test_cases(void **state)
{
    struct buf got = {0}, ora = {0};
    size_t i, j, bad = 0;
    bool ascii;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].in);

        test_name = cases[i].in;
        norm_whole(&got, cases[i].in, len);
        if (strcmp(got.p, cases[i].out) != 0) {
            print_error("case %zu [%s]: got [%s], want [%s]\n", i, cases[i].in, got.p,
                        cases[i].out);
            bad++;
            continue;
        }
        check_shape(&got);
        check_chunking(cases[i].in, len, &got);
        /* The block call agrees; and for ASCII input so does the oracle. */
        {
            char *o = malloc(GUARD_NORM_OUT_MAX(len));

            assert_non_null(o);
            CHECK(guard_norm_block(cases[i].in, len, o, GUARD_NORM_OUT_MAX(len)) == got.len);
            CHECK(memcmp(o, got.p, got.len) == 0);
            free(o);
        }
        ascii = true;
        for (j = 0; j < len; j++)
            ascii &= (unsigned char)cases[i].in[j] < 0x80;
        if (ascii) {
            oracle(&ora, cases[i].in, len);
            if (strcmp(ora.p, cases[i].out) != 0)
                fail_msg("case %zu [%s]: the oracle says [%s]", i, cases[i].in, ora.p);
        }
    }
    if (bad)
        fail_msg("%zu of the cases failed", bad);
    buf_free(&got);
    buf_free(&ora);
}

/* Tokens at the GUARD_NORM_TOKEN_MAX bound: mapped iff 2 letters are in the first 64 bytes. */
static void test_long_tokens(void **state)
{
    static const size_t second[] = {1, 10, 62, 63, 64, 65, 100};
    char in[300], want[300];
    struct buf got = {0};
    size_t i, k, len;

    (void)state;
    test_name = "long tokens";
    for (i = 0; i < sizeof(second) / sizeof(second[0]); i++) {
        /* "a", then 1s, the second letter at index second[i], more 1s: 150 bytes. */
        len = 150;
        memset(in, '1', len);
        in[0] = 'a';
        in[second[i]] = 'b';
        in[len] = '\0';
        for (k = 0; k < len; k++)
            want[k] = second[i] < GUARD_NORM_TOKEN_MAX && in[k] == '1' ? 'i' : in[k];
        want[len] = '\0';
        norm_whole(&got, in, len);
        if (strcmp(got.p, want) != 0)
            fail_msg("second letter at %zu: got [%s]", second[i], got.p);
        check_chunking(in, len, &got);
    }
    /* A long all-letter token and a long number stay whole. */
    memset(in, 'x', 200);
    in[200] = '\0';
    norm_whole(&got, in, 200);
    CHECK(strcmp(got.p, in) == 0);
    memset(in, '7', 200);
    norm_whole(&got, in, 200);
    CHECK(strcmp(got.p, in) == 0);
    check_chunking(in, 200, &got);
    buf_free(&got);
}

/* A short cap: the output is the start of the full output, cut at cap, nothing written past
 * it, and the loss is reported. */
static void test_small_cap(void **state)
{
    const char *text = "1gn0r3 all  previous\n i n s t r u c t i o n s, Ｐｌｅａｓｅ 日本 ok ";
    size_t len = strlen(text), cap, k, total, fed;
    struct buf full = {0};
    struct guard_norm n;
    char out[512];

    (void)state;
    test_name = "small cap";
    norm_whole(&full, text, len);
    /* What the feed alone writes with ample room (the end writes the rest). */
    guard_norm_init(&n);
    fed = guard_norm_feed(&n, text, len, out, sizeof(out));
    CHECK(fed < full.len && memcmp(out, full.p, fed) == 0);
    for (cap = 0; cap <= full.len + 2; cap++) {
        memset(out, 0x5A, sizeof(out));
        k = guard_norm_block(text, len, out, cap);
        CHECK(k == (cap < full.len ? cap : full.len));
        CHECK(memcmp(out, full.p, k) == 0);
        CHECK((unsigned char)out[cap] == 0x5A);
        /* Feed with little room, then end with ample room: only what overflowed is lost. */
        guard_norm_init(&n);
        memset(out, 0x5A, sizeof(out));
        total = guard_norm_feed(&n, text, len, out, cap);
        CHECK(total == (cap < fed ? cap : fed));
        CHECK((unsigned char)out[cap] == 0x5A);
        CHECK(memcmp(out, full.p, total) == 0);
        CHECK(guard_norm_truncated(&n) == (cap < fed));
        k = guard_norm_end(&n, out + total, sizeof(out) - total);
        if (cap >= fed)
            CHECK(total + k == full.len && memcmp(out, full.p, full.len) == 0);
        /* End with little room. */
        guard_norm_init(&n);
        total = guard_norm_feed(&n, text, len, out, sizeof(out));
        memset(out + total, 0x5A, sizeof(out) - total);
        k = guard_norm_end(&n, out + total, cap);
        CHECK(k == (cap < full.len - fed ? cap : full.len - fed));
        CHECK((unsigned char)out[total + cap] == 0x5A);
        CHECK(memcmp(out, full.p, total + k) == 0);
        CHECK(guard_norm_truncated(&n) == (cap < full.len - fed));
    }
    guard_norm_init(&n);
    CHECK(!guard_norm_truncated(&n));
    buf_free(&full);
}

/* Random ASCII texts from pieces that hit every rule: the streaming normaliser must agree
 * with the oracle, whole and in random chunks. */
static void test_oracle_random(void **state)
{
    static const char *const pieces[] = {
        "a",  "b",  "e",  "i",    "o", "x",    "A",    "I",      "Z",    "ab",  "The", "ok",
        "0",  "1",  "3",  "4",    "5", "2",    "9",    "@",      "$",    " ",   " ",   " ",
        "  ", "\t", "\n", "\r\n", ".", "-",    "_",    "'",      "|",    "*",   "~",   "`",
        "+",  "/",  ",",  "!",    "(", "\x01", "\x7f", "ignore", "h4ck", "1gn",
    };
    struct buf in = {0}, want = {0}, got = {0};
    uint32_t seed = 12345;
    size_t round, k, pieces_n = sizeof(pieces) / sizeof(pieces[0]);

    (void)state;
    test_name = "oracle";
    for (round = 0; round < 20000; round++) {
        in.len = 0;
        buf_put(&in, "", 0);
        for (k = rnd_next(&seed) % 24; k > 0; k--) {
            const char *piece = pieces[rnd_next(&seed) % pieces_n];

            buf_put(&in, piece, strlen(piece));
        }
        oracle(&want, in.p, in.len);
        norm_whole(&got, in.p, in.len);
        if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0)
            fail_msg("[%s]: got [%s], the oracle says [%s]", in.p, got.p, want.p);
        check_shape(&got);
        norm_random(&got, in.p, in.len, seed);
        expect_same(&want, &got, "random cuts");
        if (round % 16 == 0) {
            norm_bytes(&got, in.p, in.len);
            expect_same(&want, &got, "byte by byte");
        }
    }
    buf_free(&in);
    buf_free(&want);
    buf_free(&got);
}

/* Random ASCII prose, long enough for the fast path's 16-byte blocks and its lookahead to
 * meet every piece at every offset: the oracle agrees, whole and in random chunks. */
static void test_oracle_prose(void **state)
{
    static const char *const pieces[] = {
        "the ", "The ",   "word", "is",   " ",      " ",      " ",  "  ", "\n", "\n\n",
        "\t",   " \r\n ", "a ",   "I ",   "x",      ".",      ". ", ", ", "-",  "_",
        "'",    "|",      "*",    "~",    "`",      "+",      "/",  "0",  "12", "7 ",
        "2024", "@",      "$",    "4u",   "3.5",    "1gn0r3", "(",  ")",  "\"", ":",
        "!",    "?",      "ok ",  "\x01", "a b c ", "e.g. ",
    };
    struct buf in = {0}, want = {0}, got = {0};
    uint32_t seed = 4242;
    size_t round, k, pieces_n = sizeof(pieces) / sizeof(pieces[0]);

    (void)state;
    test_name = "oracle prose";
    for (round = 0; round < 4000; round++) {
        in.len = 0;
        buf_put(&in, "", 0);
        for (k = 8 + rnd_next(&seed) % 120; k > 0; k--) {
            const char *piece = pieces[rnd_next(&seed) % pieces_n];

            buf_put(&in, piece, strlen(piece));
        }
        oracle(&want, in.p, in.len);
        norm_whole(&got, in.p, in.len);
        if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0)
            fail_msg("[%s]: got [%s], the oracle says [%s]", in.p, got.p, want.p);
        norm_random(&got, in.p, in.len, seed);
        expect_same(&want, &got, "random cuts");
    }
    buf_free(&in);
    buf_free(&want);
    buf_free(&got);
}

/* Random bytes, mostly UTF-8 of the characters the tables care about: chunking never
 * matters and the output always has its shape. */
static void test_random_bytes(void **state)
{
    static const char *const pieces[] = {
        "a",      "B",      " ",      "  ",         "\n",         "-",      ".", "1", "@",
        "é",      "ß",      "Ａ",     "𝐀",          "ⓐ",          "а",      "Ο", "ɪ", "\u200B",
        "\u00A0", "\u3000", "\u2028", "\U000E0041", "\U000E0020", "\u0301", "’", "·", "日",
        "😀",      "\xFF",   "\xC3",   "\xE2\x80",   "\xF0\x9F",   "\x80",   "Ⅷ", "ﬃ", "\x01",
    };
    struct buf in = {0}, want = {0}, got = {0};
    uint32_t seed = 777;
    size_t round, k, pieces_n = sizeof(pieces) / sizeof(pieces[0]);

    (void)state;
    test_name = "random bytes";
    for (round = 0; round < 5000; round++) {
        in.len = 0;
        buf_put(&in, "", 0);
        for (k = rnd_next(&seed) % 40; k > 0; k--) {
            if (rnd_next(&seed) % 8 == 0) {
                char c = (char)(rnd_next(&seed) & 0xFF);

                buf_put(&in, &c, 1);
            } else {
                const char *piece = pieces[rnd_next(&seed) % pieces_n];

                buf_put(&in, piece, strlen(piece));
            }
        }
        norm_whole(&want, in.p, in.len);
        check_shape(&want);
        norm_random(&got, in.p, in.len, seed);
        expect_same(&want, &got, "random cuts");
        norm_bytes(&got, in.p, in.len);
        expect_same(&want, &got, "byte by byte");
    }
    buf_free(&in);
    buf_free(&want);
    buf_free(&got);
}

/* Every line of the prompt data set: whole (the block path) against byte by byte and random
 * cuts (the unit path); the oracle for lines that are ASCII. */
static void test_eval_prompts(void **state)
{
    const char *dir = getenv("WARDEN_EVAL_DIR");
    char path[4096];
    struct buf want = {0}, got = {0}, ora = {0};
    char *line = NULL;
    size_t lcap = 0, lines = 0, i;
    ssize_t n;
    bool ascii;
    FILE *f;

    (void)state;
    test_name = "prompts-dev";
    if (!dir || !*dir) {
        print_message("WARDEN_EVAL_DIR unset: skipping prompts-dev.jsonl\n");
        skip();
    }
    snprintf(path, sizeof(path), "%s/prompts-dev.jsonl", dir);
    f = fopen(path, "rb");
    if (!f) {
        print_message("%s missing: skipping\n", path);
        skip();
    }
    while ((n = getline(&line, &lcap, f)) > 0) {
        norm_whole(&want, line, (size_t)n);
        check_shape(&want);
        norm_random(&got, line, (size_t)n, (uint32_t)lines);
        expect_same(&want, &got, "random cuts");
        if (lines % 8 == 0) {
            norm_bytes(&got, line, (size_t)n);
            expect_same(&want, &got, "byte by byte");
        }
        ascii = true;
        for (i = 0; i < (size_t)n; i++)
            ascii &= (unsigned char)line[i] < 0x80;
        if (ascii) {
            oracle(&ora, line, (size_t)n);
            if (ora.len != want.len || memcmp(ora.p, want.p, want.len) != 0)
                fail_msg("line %zu: the oracle disagrees", lines + 1);
        }
        lines++;
    }
    fclose(f);
    free(line);
    CHECK(lines > 0);
    buf_free(&want);
    buf_free(&got);
    buf_free(&ora);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),        cmocka_unit_test(test_long_tokens),
        cmocka_unit_test(test_small_cap),    cmocka_unit_test(test_oracle_random),
        cmocka_unit_test(test_oracle_prose), cmocka_unit_test(test_random_bytes),
        cmocka_unit_test(test_eval_prompts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Output guard: one Hyperscan streaming database of detectors (start of match on), validators
 * in C, and a holdback window per text stream.
 *
 * A stream keeps the bytes it was given and not yet released in `held`. A match becomes a
 * candidate (validated at once: its bytes are held), and stays pending while it could still
 * grow: until `holdback` more bytes arrived after its end, or the stream ended. Pending
 * candidates, the newest `holdback` bytes and the current run of token characters (a key or
 * token still arriving) are never released. A decided candidate acts at once when it blocks;
 * otherwise it becomes a region that is replaced by its placeholder (redact) or passed and
 * recorded (log) when the release point goes past its end. Overlapping regions are one
 * group; the highest priority (then the longest) names the finding. */
#include "guards/output.h"

#include "guards/hs_scan.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs/hs.h>

#define OUT_DEFAULT_HOLDBACK 64
#define OUT_DEFAULT_MAX_HOLD 4096
#define OUT_MAX_HOLD_CEILING (1u << 20)
#define OUT_CANDS            48
#define OUT_OUTPUT_SLACK     64
/* Released bytes kept before held[0]: more than the longest IPv6 address with the byte before
 * it (ipv6_start looks back over them). */
#define OUT_HISTORY 48

struct out_rule {
    struct guard_output_rule r; /* strings owned */
    unsigned validators;        /* bit set of VAL_* run on a decided candidate */
    bool email;                 /* validator "email": the match starts at '@' (on_match) */
    bool ipv6;                  /* validator "ipv6-colon": the match starts at a ':' */
    enum { SPAN_MATCH = 0, SPAN_VALUE, SPAN_PEM } span;
};

struct guard_output_db {
    hs_database_t *hs;
    struct out_rule *rules;
    size_t n;
    char *hash;
    size_t stream_size;
};

struct guard_output_scratch {
    hs_scratch_t *hs;
};

struct cand {
    uint32_t rule;
    bool final;
    bool partial;
    bool placeholder_out; /* an open PEM block's placeholder already released */
    uint64_t s, e;        /* stream byte offsets; e == UINT64_MAX: an open PEM block */
    uint64_t cp_s, cp_e;  /* code points before s and e, once they left `held` */
};

struct guard_output_stream {
    const struct guard_output_db *db;
    struct guard_output_limits lim;
    struct guard_output_scratch *scratch;
    const struct guard_output_policy *pol;
    hs_stream_t *hs;
    bool fresh; /* the Hyperscan stream has seen nothing since it was opened or reset */
    int status; /* 0, 1 blocked, < 0 failed */
    char *hbuf; /* OUT_HISTORY + max_hold bytes; held is a window into it, after up to
                 * OUT_HISTORY of the bytes released last (min(OUT_HISTORY, held_base) at least) */
    char *held;
    size_t held_len;
    uint64_t held_base;  /* stream offset of held[0] */
    uint64_t cp_base;    /* code points before held[0] */
    uint64_t run_start;  /* where the current run of token characters began */
    uint64_t scan_from;  /* stream offset of the text being scanned */
    uint64_t run_before; /* run_start before that text */
    struct cand c[OUT_CANDS];
    size_t n_c;
    char *out;
    size_t out_len, out_cap;
    struct guard_output_finding f[GUARD_OUT_FINDINGS];
    size_t n_f, n_f_total;
    bool pem_open; /* a PEM block's END line is awaited */
    /* E-mail local parts (email_start): the first place an address may start in the run of
     * local-part characters that ends at held[0] (OUT_NONE: none, or no such run), the byte
     * before held[0], and the last '@' looked at with the start found for it. */
    uint64_t em_run, em_at, em_from;
    char em_prev;
    /* The last value found in a match of a "value" rule (cand_span): the rule, the match's
     * start, its end, where the value starts and what cand_span returned. */
    uint32_t vm_rule;
    int vm_ret;
    uint64_t vm_from, vm_to, vm_b;
};

#define OUT_NONE UINT64_MAX

/* ---------------------------------------------------------------- validators */

enum {
    VAL_LUHN = 1u << 0,
    VAL_IBAN = 1u << 1,
    VAL_SSN = 1u << 2,
    VAL_IPV4 = 1u << 3,
    VAL_IPV6 = 1u << 4,
    VAL_ENTROPY = 1u << 5,
    VAL_JWT = 1u << 6,
    VAL_SECRET = 1u << 7,
    VAL_PHONE = 1u << 8,
    VAL_EMAIL = 1u << 9,
    VAL_IPV6_COLON = 1u << 10,
};

const char *const guard_output_validator_names[] = {
    "luhn", "iban",   "ssn",   "ipv4",  "ipv6",       "entropy",
    "jwt",  "secret", "phone", "email", "ipv6-colon", NULL,
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* \w of Hyperscan without UCP: what a \b stands between. */
static bool is_word(char c)
{
    return is_alnum(c) || c == '_';
}

/* A character of an e-mail address's local part (as the rules spell it, not all of RFC 5322). */
static bool is_local(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static int hexval(char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Payment card: 12-19 digits (separators ignored), Luhn checksum, a known issuer prefix. */
static bool val_luhn(const char *s, size_t len)
{
    char d[20];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(s[i])) {
            if (n == sizeof(d))
                return false;
            d[n++] = s[i];
        } else if (s[i] != ' ' && s[i] != '-') {
            return false;
        }
    }
    if (n < 12)
        return false;
    unsigned sum = 0;
    bool same = true;
    for (size_t i = 0; i < n; i++) {
        unsigned v = (unsigned)(d[n - 1 - i] - '0');
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
        same &= d[i] == d[0];
    }
    if (sum % 10 != 0 || same)
        return false;
    unsigned p2 = (unsigned)((d[0] - '0') * 10 + (d[1] - '0'));
    unsigned p4 = p2 * 100 + (unsigned)((d[2] - '0') * 10 + (d[3] - '0'));
    switch (d[0]) {
    case '4': /* Visa */
        return n == 13 || n == 16 || n == 19;
    case '5': /* Mastercard 51-55; Maestro 50, 56-59 */
        return (p2 >= 51 && p2 <= 55) ? n == 16 : n >= 12;
    case '1': /* JCB 1800 (15 digits) */
        return p4 == 1800 && n == 15;
    case '2': /* Mastercard 2221-2720; Mir 2200-2204; JCB 2131 (15 digits) */
        if (p4 == 2131)
            return n == 15;
        return ((p4 >= 2221 && p4 <= 2720) || (p4 >= 2200 && p4 <= 2204)) && n == 16;
    case '3': /* Amex 34/37, JCB 35xx, Diners 300-305, 36, 38, 39 */
        if (p2 == 34 || p2 == 37)
            return n == 15;
        if (p2 == 35)
            return n >= 16;
        return (p2 == 30 || p2 == 36 || p2 == 38 || p2 == 39) && n >= 14;
    case '6': /* Discover, UnionPay, Maestro, RuPay */
        return n >= 12;
    default:
        return false;
    }
}

/* IBAN: a country's length and the ISO 7064 mod-97 check. Spaces allowed; any case. */
static bool val_iban(const char *s, size_t len)
{
    static const struct {
        char cc[3];
        unsigned char len;
    } lens[] = {
        {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16},
        {"BG", 22}, {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28},
        {"CZ", 24}, {"DE", 22}, {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24},
        {"FI", 18}, {"FO", 18}, {"FR", 27}, {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18},
        {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28}, {"IE", 22}, {"IL", 23}, {"IQ", 23},
        {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20}, {"LB", 28}, {"LC", 32},
        {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"MC", 27}, {"MD", 24}, {"ME", 22},
        {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15}, {"PK", 24},
        {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
        {"SC", 31}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
        {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
    };
    char b[40];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ')
            continue;
        if (!is_alnum(c) || n == sizeof(b))
            return false;
        b[n++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    if (n < 15 || !(b[0] >= 'A' && b[0] <= 'Z') || !(b[1] >= 'A' && b[1] <= 'Z') ||
        !is_digit(b[2]) || !is_digit(b[3]))
        return false;
    bool known = false;
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (b[0] == lens[i].cc[0] && b[1] == lens[i].cc[1]) {
            if (n != lens[i].len)
                return false;
            known = true;
        }
    }
    if (!known)
        return false;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char c = b[(k + 4) % n];
        if (is_digit(c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
    }
    return rem == 1;
}

/* US SSN AAA-GG-SSSS: area 001-899 but not 666, group 01-99, serial 0001-9999, and not one
 * of the numbers published as examples. */
static bool val_ssn(const char *s, size_t len)
{
    char d[9];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_digit(s[i])) {
            if (n == sizeof(d))
                return false;
            d[n++] = s[i];
        } else if (s[i] != '-' && s[i] != ' ') {
            return false;
        }
    }
    if (n != 9)
        return false;
    int area = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
    int group = (d[3] - '0') * 10 + (d[4] - '0');
    int serial = (d[5] - '0') * 1000 + (d[6] - '0') * 100 + (d[7] - '0') * 10 + (d[8] - '0');
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return false;
    if (memcmp(d, "078051120", 9) == 0 || memcmp(d, "219099999", 9) == 0 ||
        memcmp(d, "123456789", 9) == 0)
        return false;
    return true;
}

/* Dotted-quad IPv4: four numbers 0-255 without leading zeros. */
static bool val_ipv4(const char *s, size_t len)
{
    int parts = 0, val = -1, digits = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && is_digit(s[i])) {
            if (digits > 0 && val == 0)
                return false;
            val = (val < 0 ? 0 : val) * 10 + (s[i] - '0');
            if (++digits > 3 || val > 255)
                return false;
        } else if (i == len || s[i] == '.') {
            if (digits == 0)
                return false;
            parts++;
            val = -1;
            digits = 0;
        } else {
            return false;
        }
    }
    return parts == 4;
}

/* IPv6 text form (RFC 4291 2.2): eight groups of 1-4 hex digits, or fewer around one "::",
 * optionally ending in a dotted IPv4. */
static bool val_ipv6(const char *s, size_t len)
{
    int groups = 0, digits = 0;
    bool dbl = false;
    size_t i = 0;
    if (len < 2)
        return false;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        dbl = true;
        i = 2;
        if (len == 2)
            return true;
    }
    size_t group_start = i;
    for (; i <= len; i++) {
        if (i < len && hexval(s[i]) >= 0) {
            if (++digits > 4)
                return false;
        } else if (i < len && s[i] == '.') {
            /* the rest is an IPv4 in place of the last two groups */
            if (!val_ipv4(s + group_start, len - group_start))
                return false;
            groups += 2;
            return dbl ? groups < 8 : groups == 8;
        } else if (i == len || s[i] == ':') {
            if (digits == 0) {
                if (i == len && dbl && i >= 2 && s[i - 1] == ':' && s[i - 2] == ':')
                    break; /* ends with "::" */
                return false;
            }
            groups++;
            digits = 0;
            if (i < len && i + 1 < len && s[i + 1] == ':') {
                if (dbl)
                    return false;
                dbl = true;
                i++;
                if (i + 1 == len)
                    break;
            }
            group_start = i + 1;
        } else {
            return false;
        }
    }
    return dbl ? groups < 8 : groups == 8;
}

/* Shannon entropy in bits per byte. */
static double entropy(const char *s, size_t len)
{
    unsigned cnt[256] = {0};
    double h = 0;
    for (size_t i = 0; i < len; i++)
        cnt[(unsigned char)s[i]]++;
    for (int c = 0; c < 256; c++) {
        if (cnt[c]) {
            double p = (double)cnt[c] / (double)len;
            h -= p * log2(p);
        }
    }
    return h;
}

/* A value that looks random: long enough, high entropy, letters and digits mixed, and not
 * hex only (digests, UUIDs and commit ids are identifiers, not secrets). */
static bool val_entropy(const char *s, size_t len)
{
    bool lower = false, upper = false, digit = false, hex_only = true;
    if (len < 16 || len > 512)
        return false;
    for (size_t i = 0; i < len; i++)
        hex_only &= hexval(s[i]) >= 0 || s[i] == '-';
    if (hex_only)
        return false;
    for (size_t i = 0; i < len; i++) {
        lower |= s[i] >= 'a' && s[i] <= 'z';
        upper |= s[i] >= 'A' && s[i] <= 'Z';
        digit |= is_digit(s[i]);
    }
    if ((int)lower + (int)upper + (int)digit < 2)
        return false;
    return entropy(s, len) >= (len < 24 ? 3.4 : 3.8);
}

static bool contains_ci(const char *s, size_t len, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= len; i++) {
        size_t j = 0;
        while (j < w && (s[i + j] | 0x20) == word[j])
            j++;
        if (j == w)
            return true;
    }
    return false;
}

/* Not a placeholder: no published example marker, no long run of one character, no "xxxx"
 * or "****" mask, no template brackets, and enough distinct characters. */
static bool val_secret(const char *s, size_t len)
{
    size_t run = 1, longest = 1, xs = 0, longest_x = 0;
    bool seen[256] = {false};
    size_t distinct = 0;
    if (contains_ci(s, len, "example") || contains_ci(s, len, "your") ||
        contains_ci(s, len, "redacted") || contains_ci(s, len, "dummy") ||
        contains_ci(s, len, "placeholder"))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<' || c == '>' || c == '*' || c == '{' || c == '}')
            return false;
        if (i > 0 && s[i] == s[i - 1])
            longest = ++run > longest ? run : longest;
        else
            run = 1;
        xs = (c == 'x' || c == 'X') ? xs + 1 : 0;
        longest_x = xs > longest_x ? xs : longest_x;
        if (!seen[c]) {
            seen[c] = true;
            distinct++;
        }
    }
    if (longest >= 8 || longest_x >= 6 || (len >= 16 && distinct < 8))
        return false;
    return true;
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '-' || c == '+')
        return 62;
    if (c == '_' || c == '/')
        return 63;
    return -1;
}

/* JWT: three base64url parts; the header decodes to a JSON object naming "alg". */
static bool val_jwt(const char *s, size_t len)
{
    const char *dot = memchr(s, '.', len);
    char hdr[256];
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0;
    if (dot == NULL || memchr(dot + 1, '.', len - (size_t)(dot + 1 - s)) == NULL)
        return false;
    for (const char *p = s; p < dot && n < sizeof(hdr); p++) {
        int v = b64url_val(*p);
        if (v < 0)
            return false;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            hdr[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    return n >= 8 && hdr[0] == '{' && contains_ci(hdr, n, "\"alg\"");
}

/* The start of a phone extension at the end of s[0, len) ("x204", " ext. 12", " #7"), or len. */
static size_t phone_ext(const char *s, size_t len)
{
    static const char *const marks[] = {"extension", "ext.", "ext", "x", "#"};
    size_t k = len;
    while (k > 0 && is_digit(s[k - 1]))
        k--;
    if (k == len || len - k > 6)
        return len;
    while (k > 0 && s[k - 1] == ' ')
        k--;
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        size_t w = strlen(marks[i]);
        if (k < w || !contains_ci(s + k - w, w, marks[i]))
            continue;
        size_t m = k - w;
        while (m > 0 && s[m - 1] == ' ')
            m--;
        if (m > 0 && is_digit(s[m - 1]))
            return m;
    }
    return len;
}

/* Dates and year ranges written like phone numbers: 2019-2023, 2023-10-05, 05.10.2023. */
static bool phone_date(const unsigned *g, size_t n_g)
{
#define YEAR(v)  ((v) >= 1900 && (v) <= 2099)
#define MONTH(v) ((v) >= 1 && (v) <= 12)
#define DAY(v)   ((v) >= 1 && (v) <= 31)
    if (n_g == 2)
        return YEAR(g[0]) && YEAR(g[1]);
    if (n_g == 3)
        return (YEAR(g[0]) && MONTH(g[1]) && DAY(g[2])) ||
               (DAY(g[0]) && DAY(g[1]) && (MONTH(g[0]) || MONTH(g[1])) && YEAR(g[2]));
    return false;
#undef YEAR
#undef MONTH
#undef DAY
}

/* Phone: digits in groups (spaces, dots, dashes, slashes, parentheses), an optional '+' in
 * front, an optional extension; 7 to 15 digits before the extension, not all the same, not a
 * run like 1234567, not a date. Nothing else: a match that takes in a label ("Phone: ...",
 * "... office") is cut down to the number by validate_span. */
static bool val_phone(const char *s, size_t len)
{
    size_t n = 0, same = 0, asc = 0, end = phone_ext(s, len), n_g = 0, digits_g = 0;
    unsigned g[4] = {0}, widths = 0;
    char prev = 0;
    for (size_t i = 0; i < end; i++) {
        if (!is_digit(s[i])) {
            if (!((s[i] == '+' && i == 0) || s[i] == ' ' || s[i] == '-' || s[i] == '.' ||
                  s[i] == '(' || s[i] == ')' || s[i] == '/'))
                return false;
            if (digits_g > 0) {
                widths = widths * 8 + (unsigned)(digits_g < 7 ? digits_g : 7);
                n_g++;
            }
            digits_g = 0;
            continue;
        }
        if (n > 0) {
            same += s[i] == prev;
            asc += s[i] == prev + 1;
        }
        if (n_g < 4)
            g[n_g] = g[n_g] * 10 + (unsigned)(s[i] - '0');
        digits_g++;
        prev = s[i];
        n++;
    }
    if (digits_g > 0) {
        widths = widths * 8 + (unsigned)(digits_g < 7 ? digits_g : 7);
        n_g++;
    }
    if (n < 7 || n > 15 || same + 1 >= n || asc + 1 >= n)
        return false;
    /* grouped 4-4, 4-2-2 or 2-2-4 */
    if ((n_g == 2 && widths == 044) || (n_g == 3 && (widths == 0422 || widths == 0224)))
        return !phone_date(g, n_g);
    return true;
}

/* E-mail address: a local part that starts with a letter or digit, '@', dot-separated labels
 * of letters, digits and '-' (each starting with a letter or digit), a top-level domain of two
 * or more letters. The rule matches from the '@' and on_match widens the match to the local
 * part (email_start), so a stream checks no more than this when it finds one. */
static bool val_email(const char *s, size_t len)
{
    const char *at = memchr(s, '@', len);
    size_t i, label = 0, letters = 0, labels = 0;
    if (at == NULL || at == s || !is_alnum(s[0]))
        return false;
    for (i = 0; s + i < at; i++) {
        if (!is_local(s[i]))
            return false;
    }
    for (i++; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0)
                return false;
            labels++;
            label = letters = 0;
        } else if (is_alnum(s[i]) || (s[i] == '-' && label > 0)) {
            label++;
            letters =
                (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ? letters + 1 : 0;
        } else {
            return false;
        }
    }
    return labels > 0 && label >= 2 && letters == label;
}

static bool run_validators(unsigned set, const char *s, size_t len)
{
    static bool (*const fn[])(const char *, size_t) = {
        val_luhn, val_iban,   val_ssn,   val_ipv4,  val_ipv6, val_entropy,
        val_jwt,  val_secret, val_phone, val_email, val_ipv6,
    };
    for (size_t i = 0; i < sizeof(fn) / sizeof(fn[0]); i++) {
        if ((set & (1u << i)) && !fn[i](s, len))
            return false;
    }
    return true;
}

/* "luhn" or "entropy,secret": the set of validators, or -1 for an unknown name. */
static long parse_validators(const char *spec)
{
    unsigned set = 0;
    const char *p = spec;
    while (p && *p) {
        size_t w = strcspn(p, ", ");
        bool known = false;
        for (size_t i = 0; w > 0 && guard_output_validator_names[i]; i++) {
            if (strlen(guard_output_validator_names[i]) == w &&
                memcmp(guard_output_validator_names[i], p, w) == 0) {
                set |= 1u << i;
                known = true;
            }
        }
        if (w > 0 && !known)
            return -1;
        p += w;
        p += strspn(p, ", ");
    }
    return (long)set;
}

int guard_output_validate(const char *name, const char *s, size_t len)
{
    long set = parse_validators(name);
    if (set < 0)
        return -1;
    return run_validators((unsigned)set, s, len) ? 1 : 0;
}

/* ---------------------------------------------------------------- database */

void guard_output_db_free(struct guard_output_db *db)
{
    if (db == NULL)
        return;
    hs_free_database(db->hs);
    for (size_t i = 0; i < db->n; i++) {
        free((char *)db->rules[i].r.id);
        free((char *)db->rules[i].r.type);
        free((char *)db->rules[i].r.pattern);
        free((char *)db->rules[i].r.validator);
        free((char *)db->rules[i].r.span);
        free((char *)db->rules[i].r.description);
    }
    free(db->rules);
    free(db->hash);
    free(db);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

/* The end line of a PEM private key block (internal pattern, id n). */
static const char pem_end_pattern[] = "-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----";

#define OUTPUT_HS_MODE (HS_MODE_STREAM | HS_MODE_SOM_HORIZON_SMALL)

/* Check the rules and copy what the database keeps; the Hyperscan part comes after. */
static int db_prepare(const struct guard_output_rule *rules, size_t n, const char *hash,
                      struct guard_output_db **out, int *bad, char *err, size_t errlen)
{
    struct guard_output_db *db = calloc(1, sizeof(*db));
    int rc = -ENOMEM;
    *out = NULL;
    *bad = -1;
    if (db == NULL || (db->rules = calloc(n ? n : 1, sizeof(*db->rules))) == NULL ||
        (db->hash = strdup(hash ? hash : "")) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct out_rule *r = &db->rules[i];
        r->r = rules[i];
        r->r.id = dup_or_empty(rules[i].id);
        r->r.type = dup_or_empty(rules[i].type);
        r->r.pattern = dup_or_empty(rules[i].pattern);
        r->r.validator = dup_or_empty(rules[i].validator);
        r->r.span = dup_or_empty(rules[i].span);
        r->r.description = dup_or_empty(rules[i].description);
        db->n = i + 1;
        if (!r->r.id || !r->r.type || !r->r.pattern || !r->r.validator || !r->r.span ||
            !r->r.description) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        long v = parse_validators(r->r.validator);
        if (v < 0) {
            snprintf(err, errlen,
                     "unknown validator in '%s' (known: luhn, iban, ssn, ipv4, "
                     "ipv6, entropy, jwt, secret, phone, email, ipv6-colon)",
                     r->r.validator);
            *bad = (int)i;
            rc = -EINVAL;
            goto out;
        }
        r->email = (v & VAL_EMAIL) != 0;
        r->ipv6 = (v & VAL_IPV6_COLON) != 0;
        r->validators = (unsigned)v & ~(VAL_EMAIL | VAL_IPV6_COLON); /* checked by on_match */
        if (r->ipv6) /* the address it takes the match back to is checked as "ipv6" */
            r->validators |= VAL_IPV6;
        if (r->r.span[0] == '\0' || strcmp(r->r.span, "match") == 0)
            r->span = SPAN_MATCH;
        else if (strcmp(r->r.span, "value") == 0)
            r->span = SPAN_VALUE;
        else if (strcmp(r->r.span, "pem") == 0)
            r->span = SPAN_PEM;
        else {
            snprintf(err, errlen, "span '%s': use match, value or pem", r->r.span);
            *bad = (int)i;
            rc = -EINVAL;
            goto out;
        }
    }
    *out = db;
    db = NULL;
    rc = 0;
out:
    guard_output_db_free(db);
    return rc;
}

int guard_output_db_new(const struct guard_output_rule *rules, size_t n, const char *hash,
                        struct guard_output_db **out, int *bad, char *err, size_t errlen)
{
    struct guard_output_db *db = NULL;
    int rc = db_prepare(rules, n, hash, &db, bad, err, errlen);
    if (rc != 0)
        return rc;
    const char **pats = calloc(n + 1, sizeof(*pats));
    unsigned *flags = calloc(n + 1, sizeof(*flags));
    unsigned *ids = calloc(n + 1, sizeof(*ids));
    hs_compile_error_t *cerr = NULL;
    rc = -ENOMEM;
    if (pats == NULL || flags == NULL || ids == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        pats[i] = db->rules[i].r.pattern;
        flags[i] = HS_FLAG_SOM_LEFTMOST;
        ids[i] = (unsigned)i;
    }
    pats[n] = pem_end_pattern;
    flags[n] = 0;
    ids[n] = (unsigned)n;
    if (hs_compile_multi(pats, flags, ids, (unsigned)n + 1, OUTPUT_HS_MODE, NULL, &db->hs, &cerr) !=
        HS_SUCCESS) {
        if (cerr && cerr->expression >= 0 && (size_t)cerr->expression < n)
            *bad = cerr->expression;
        snprintf(err, errlen, "%s", cerr ? cerr->message : "Hyperscan compile failed");
        hs_free_compile_error(cerr);
        rc = -EINVAL;
        goto out;
    }
    if (hs_stream_size(db->hs, &db->stream_size) != HS_SUCCESS)
        db->stream_size = 0;
    *out = db;
    db = NULL;
    rc = 0;
out:
    guard_output_db_free(db);
    free(pats);
    free(flags);
    free(ids);
    return rc;
}

int guard_output_db_load(const struct guard_output_rule *rules, size_t n, const char *hash,
                         const char *buf, size_t len, struct guard_output_db **out)
{
    struct guard_output_db *db = NULL;
    char err[256];
    int bad;
    if (db_prepare(rules, n, hash, &db, &bad, err, sizeof(err)) != 0)
        return -EINVAL;
    if (hs_deserialize_database(buf, len, &db->hs) != HS_SUCCESS ||
        hs_stream_size(db->hs, &db->stream_size) != HS_SUCCESS) {
        guard_output_db_free(db);
        return -EINVAL;
    }
    *out = db;
    return 0;
}

int guard_output_db_serialize(const struct guard_output_db *db, char **buf, size_t *len)
{
    return hs_serialize_database(db->hs, buf, len) == HS_SUCCESS ? 0 : -ENOMEM;
}

const char *guard_output_db_engine(void)
{
    static char key[160];
    if (key[0] == '\0') {
        uint64_t h = 1469598103934665603ULL; /* FNV-1a of the engine's own pattern */
        for (const char *p = pem_end_pattern; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        snprintf(key, sizeof(key), "hs %s mode %u som-leftmost pem %016llx", hs_version(),
                 (unsigned)OUTPUT_HS_MODE, (unsigned long long)h);
    }
    return key;
}

size_t guard_output_db_count(const struct guard_output_db *db)
{
    return db->n;
}

const struct guard_output_rule *guard_output_db_rule(const struct guard_output_db *db, size_t i)
{
    return i < db->n ? &db->rules[i].r : NULL;
}

const char *guard_output_db_hash(const struct guard_output_db *db)
{
    return db->hash;
}

size_t guard_output_db_stream_size(const struct guard_output_db *db)
{
    return db->stream_size;
}

struct guard_output_scratch *guard_output_scratch_new(const struct guard_output_db *db)
{
    struct guard_output_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (hs_alloc_scratch(db->hs, &s->hs) != HS_SUCCESS) {
        free(s);
        return NULL;
    }
    return s;
}

int guard_output_scratch_grow(struct guard_output_scratch *s, const struct guard_output_db *db)
{
    hs_scratch_t *grown = NULL;
    if (hs_clone_scratch(s->hs, &grown) != HS_SUCCESS)
        return -ENOMEM;
    if (hs_alloc_scratch(db->hs, &grown) != HS_SUCCESS) {
        hs_free_scratch(grown);
        return -ENOMEM;
    }
    hs_free_scratch(s->hs);
    s->hs = grown;
    return 0;
}

void guard_output_scratch_free(struct guard_output_scratch *s)
{
    if (s == NULL)
        return;
    hs_free_scratch(s->hs);
    free(s);
}

/* ---------------------------------------------------------------- policy */

void guard_output_policy_default(struct guard_output_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->cls[GUARD_OUT_PII] = GUARD_OUT_REDACT;
    p->cls[GUARD_OUT_SECRET] = GUARD_OUT_BLOCK;
}

enum guard_out_action guard_output_policy_action(const struct guard_output_policy *p,
                                                 const struct guard_output_rule *r)
{
    for (size_t i = 0; i < p->n_types && i < GUARD_OUT_TYPE_OVERRIDES; i++) {
        if (strcmp(p->types[i].type, r->type) == 0)
            return p->types[i].action;
    }
    return p->cls[r->cls == GUARD_OUT_SECRET ? GUARD_OUT_SECRET : GUARD_OUT_PII];
}

/* ---------------------------------------------------------------- streams */

struct guard_output_stream *guard_output_stream_new(const struct guard_output_db *db,
                                                    const struct guard_output_limits *lim)
{
    struct guard_output_stream *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->db = db;
    if (lim)
        s->lim = *lim;
    if (s->lim.holdback == 0)
        s->lim.holdback = OUT_DEFAULT_HOLDBACK;
    if (s->lim.max_hold == 0)
        s->lim.max_hold = OUT_DEFAULT_MAX_HOLD;
    if (s->lim.max_hold < 2 * s->lim.holdback)
        s->lim.max_hold = 2 * s->lim.holdback;
    if (s->lim.max_hold > OUT_MAX_HOLD_CEILING || s->lim.holdback > OUT_MAX_HOLD_CEILING / 2) {
        free(s);
        return NULL;
    }
    s->out_cap = s->lim.max_hold + OUT_OUTPUT_SLACK;
    s->held = s->hbuf = malloc(OUT_HISTORY + s->lim.max_hold);
    s->out = malloc(s->out_cap);
    if (s->held == NULL || s->out == NULL || hs_open_stream(db->hs, 0, &s->hs) != HS_SUCCESS) {
        guard_output_stream_free(s);
        return NULL;
    }
    s->fresh = true;
    s->em_run = OUT_NONE;
    s->em_at = OUT_NONE;
    s->vm_rule = UINT32_MAX;
    return s;
}

void guard_output_stream_free(struct guard_output_stream *s)
{
    if (s == NULL)
        return;
    if (s->hs)
        hs_close_stream(s->hs, NULL, NULL, NULL);
    free(s->hbuf);
    free(s->out);
    free(s);
}

size_t guard_output_stream_memory(const struct guard_output_stream *s)
{
    return sizeof(*s) + OUT_HISTORY + s->lim.max_hold + s->out_cap + s->db->stream_size;
}

void guard_output_stream_reset(struct guard_output_stream *s, struct guard_output_scratch *scratch,
                               const struct guard_output_policy *pol)
{
    if (!s->fresh)
        hs_reset_stream(s->hs, 0, NULL, NULL, NULL);
    s->fresh = true;
    s->scratch = scratch;
    s->pol = pol;
    s->status = 0;
    s->held = s->hbuf;
    s->held_len = 0;
    s->held_base = 0;
    s->cp_base = 0;
    s->run_start = 0;
    s->n_c = 0;
    s->out_len = 0;
    s->n_f = 0;
    s->n_f_total = 0;
    s->pem_open = false;
    s->em_run = OUT_NONE;
    s->em_at = OUT_NONE;
    s->em_prev = 0;
    s->vm_rule = UINT32_MAX;
}

static bool is_token_char(unsigned char c)
{
    /* Characters of keys, tokens, addresses: a run of them may still be growing. */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '+' || c == '/' || c == '=' || c == '.' || c == '@' || c == ':' ||
           c == '%' || c >= 0x80;
}

/* Code points in p[0, n): bytes that are not UTF-8 continuation bytes (10xxxxxx), counted
 * eight at a time (every released byte passes here). */
static size_t cp_count(const char *p, size_t n)
{
    const uint64_t high = 0x8080808080808080u;
    size_t cont = 0, i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, sizeof(x));
        /* bit 7 of each byte: set where bit 7 is and bit 6 is not; then their sum */
        cont += (size_t)((((x & ~(x << 1) & high) >> 7) * 0x0101010101010101u) >> 56);
    }
    for (; i < n; i++)
        cont += ((unsigned char)p[i] & 0xC0) == 0x80;
    return n - cont;
}

/* Code points before stream offset `off` (which is held, or at the held end). */
static uint64_t cp_at(const struct guard_output_stream *s, uint64_t off)
{
    if (off <= s->held_base)
        return s->cp_base;
    uint64_t rel = off - s->held_base;
    if (rel > s->held_len)
        rel = s->held_len;
    return s->cp_base + cp_count(s->held, (size_t)rel);
}

/* Code points before `off`, a start or end of a candidate that saved `saved` when `off` left
 * `held` (held_consume). */
static uint64_t cand_cp(const struct guard_output_stream *s, uint64_t off, uint64_t saved)
{
    return off >= s->held_base ? cp_at(s, off) : saved;
}

static enum guard_out_action cand_action(const struct guard_output_stream *s, const struct cand *c)
{
    return guard_output_policy_action(s->pol, &s->db->rules[c->rule].r);
}

static void record(struct guard_output_stream *s, const struct cand *c, enum guard_out_action a)
{
    s->n_f_total++;
    if (s->n_f >= GUARD_OUT_FINDINGS)
        return;
    struct guard_output_finding *f = &s->f[s->n_f++];
    uint64_t end = c->e == UINT64_MAX ? s->held_base + s->held_len : c->e;
    f->rule = c->rule;
    f->action = a;
    f->start = c->s;
    f->end = end;
    f->cp_start = cand_cp(s, c->s, c->cp_s);
    f->cp_end = cand_cp(s, end, c->cp_e);
    f->partial = c->partial;
}

static void block(struct guard_output_stream *s, const struct cand *c)
{
    record(s, c, GUARD_OUT_BLOCK);
    s->status = 1;
    s->held_len = 0;
    s->n_c = 0;
}

enum { SPAN_DROP = 0, SPAN_NEW, SPAN_EXTEND };

/* What closes a value (quotes, list punctuation) and what stands between a name and its value. */
static bool is_closing(char c)
{
    return c == '"' || c == '\'' || c == '`' || c == ',' || c == ';';
}

static bool is_assign(char c)
{
    return c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' ||
           c == '\'' || c == '`' || c == '>' || c == '(';
}

/* The finding's span inside a match [from, to) of rule r: SPAN_NEW, SPAN_DROP, or
 * SPAN_EXTEND when what decides a new one has left `held` (the name before a long value),
 * so that the match may only grow a candidate found before. Validation waits for the
 * candidate to stop growing (cand_final): a prefix of a token may pass where the whole token
 * does not ("...EXAMPL" before the "E"). */
static int cand_span(struct guard_output_stream *s, const struct out_rule *r, uint64_t *from,
                     uint64_t *to)
{
    if (r->span != SPAN_VALUE) {
        if (*from < s->held_base) /* not all of it is held */
            return r->validators == 0 && r->span == SPAN_MATCH ? SPAN_NEW : SPAN_DROP;
        return SPAN_NEW;
    }
    /* Only the value is the finding; the name before it may be gone. */
    uint64_t lo = *from > s->held_base ? *from : s->held_base;
    const char *m = s->held + (lo - s->held_base);
    size_t len = (size_t)(*to - lo), e = len, b;
    while (e > 0 && is_closing(m[e - 1]))
        e--;
    if (lo > *from) {
        /* A long value still growing (reported at each byte): it extends its candidate,
         * without a look back over all of it. */
        for (size_t i = 0; i < s->n_c; i++) {
            const struct cand *c = &s->c[i];
            if (&s->db->rules[c->rule] == r && c->e != UINT64_MAX && c->e >= lo && c->s <= lo &&
                lo + e >= c->e) {
                *from = lo;
                *to = lo + e;
                return SPAN_EXTEND;
            }
        }
    }
    uint32_t rule = (uint32_t)(r - s->db->rules);
    if (lo == *from && s->vm_rule == rule && s->vm_from == *from && s->vm_to <= lo + e) {
        /* The value of the last match, grown (a long value is reported at each byte): if
         * what it grew by is more of the value, or more padding, the value starts where it
         * did, and the look back over all of it is not needed again. */
        size_t old = (size_t)(s->vm_to - lo), k = old;
        bool pad = true, plain = old > 0 && m[old - 1] != '=';
        for (; k < e; k++) {
            pad &= m[k] == '=';
            plain &= !is_assign(m[k]) && !is_closing(m[k]);
        }
        if (pad || plain) {
            s->vm_to = lo + e;
            *from = s->vm_b;
            *to = lo + e;
            return s->vm_ret;
        }
    }
    b = e;
    while (b > 0 && m[b - 1] == '=') /* base64 padding belongs to the value */
        b--;
    while (b > 0 && !is_assign(m[b - 1]))
        b--;
    s->vm_rule = rule;
    s->vm_from = *from;
    s->vm_to = lo + e;
    s->vm_b = lo + b;
    s->vm_ret = SPAN_DROP;
    if (b == e) { /* no value yet: more of it would be one */
        s->vm_rule = UINT32_MAX;
        return SPAN_DROP;
    }
    /* The name before the value: "..._id" names an identifier, not a secret. */
    size_t n = b;
    while (n > 0 && is_assign(m[n - 1]))
        n--;
    bool named = lo == *from || n >= 3; /* enough of the name is held to tell */
    if (named && n >= 2 && (m[n - 1] | 0x20) == 'd' && (m[n - 2] | 0x20) == 'i' &&
        (n == 2 || !((m[n - 3] | 0x20) >= 'a' && (m[n - 3] | 0x20) <= 'z')))
        return SPAN_DROP;
    *from = lo + b;
    *to = lo + e;
    s->vm_ret = named ? SPAN_NEW : SPAN_EXTEND;
    return s->vm_ret;
}

static bool is_sep(char c)
{
    return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '/';
}

/* Validate [*off, *off + *len) of m; for validators of grouped numbers, the longest piece
 * cut at separators that passes (a card number after an unrelated digit group). */
static bool validate_span(unsigned set, const char *m, size_t *off, size_t *len)
{
    const unsigned trimmable = VAL_LUHN | VAL_PHONE | VAL_SSN | VAL_IBAN;
    const char *p = m + *off;
    size_t n = *len;
    if (run_validators(set, p, n))
        return true;
    if ((set & ~trimmable) != 0 || (set & trimmable) == 0 || n > 64)
        return false;
    size_t best_a = 0, best_n = 0;
    for (size_t a = 0; a < n; a++) {
        if (a > 0 && !(is_sep(p[a - 1]) && (!is_sep(p[a]) || p[a] == '(')))
            continue; /* pieces start after a separator, at a digit, letter or '(' */
        for (size_t z = n; z > a + best_n; z--) {
            if (z < n && !(is_sep(p[z]) && !is_sep(p[z - 1])))
                continue;
            if (run_validators(set, p + a, z - a)) {
                best_a = a;
                best_n = z - a;
                break;
            }
        }
    }
    if (best_n == 0)
        return false;
    *off += best_a;
    *len = best_n;
    return true;
}

/* A candidate is decided: validated on its whole extent (dropped if it fails), then a block
 * acts now and the rest wait for release. Returns false when it was dropped. */
static bool cand_final(struct guard_output_stream *s, size_t i)
{
    struct cand *c = &s->c[i];
    const struct out_rule *r = &s->db->rules[c->rule];
    if (r->validators && c->e != UINT64_MAX) {
        size_t off = 0, len = (size_t)(c->e - c->s);
        bool ok = c->s >= s->held_base && c->e <= s->held_base + s->held_len &&
                  validate_span(r->validators, s->held + (c->s - s->held_base), &off, &len);
        if (!ok) {
            memmove(&s->c[i], &s->c[i + 1], (s->n_c - i - 1) * sizeof(s->c[0]));
            s->n_c--;
            return false;
        }
        c->s += off;
        c->e = c->s + len;
    }
    c->final = true;
    if (cand_action(s, c) == GUARD_OUT_BLOCK) {
        /* The block names the most specific detector over these bytes: a GitHub token
         * assigned to TOKEN= is a GITHUB_TOKEN first, a generic secret second. */
        const struct cand *best = c;
        for (size_t k = 0; k < s->n_c; k++) {
            const struct cand *o = &s->c[k];
            const struct out_rule *ro = &s->db->rules[o->rule];
            size_t off = 0, len;
            if (o == c || o->e == UINT64_MAX || o->s >= c->e || c->s >= o->e ||
                o->s < s->held_base || o->e > s->held_base + s->held_len ||
                ro->r.priority <= s->db->rules[best->rule].r.priority ||
                cand_action(s, o) != GUARD_OUT_BLOCK) /* personal data names no block */
                continue;
            len = (size_t)(o->e - o->s);
            if (ro->validators &&
                !validate_span(ro->validators, s->held + (o->s - s->held_base), &off, &len))
                continue;
            best = o;
        }
        block(s, best);
    }
    return true;
}

static int settle(struct guard_output_stream *s, uint64_t pos, uint64_t run, bool at_end);
static int release(struct guard_output_stream *s, uint64_t upto, bool forced);

/* The first place an e-mail address may start (\b, then a letter or digit) in the local-part
 * characters [from, to) of held, after the byte `prev`; OUT_NONE if none. */
static uint64_t email_first(const struct guard_output_stream *s, size_t from, size_t to, char prev)
{
    for (size_t i = from; i < to; i++) {
        if (is_alnum(s->held[i]) && !is_word(prev))
            return s->held_base + i;
        prev = s->held[i];
    }
    return OUT_NONE;
}

/* Where the e-mail address whose '@' is at stream offset `at` starts, as the leftmost start of
 * the pattern `\b[A-Za-z0-9][A-Za-z0-9._%+\-]*@` would be: OUT_NONE if it has no local part.
 * The local part may have left `held` (max_hold): em_run remembers where it started. */
static uint64_t email_start(struct guard_output_stream *s, uint64_t at)
{
    if (at == s->em_at) /* the same address again, with a longer domain */
        return s->em_from;
    if (at < s->held_base) /* not seen by held_consume: never so (no match spans an '@') */
        return at;
    size_t q = (size_t)(at - s->held_base);
    while (q > 0 && is_local(s->held[q - 1]))
        q--;
    uint64_t p;
    if (q == 0 && s->em_run != OUT_NONE)
        p = s->em_run;
    else
        p = email_first(s, q, (size_t)(at - s->held_base), q > 0 ? s->held[q - 1] : s->em_prev);
    s->em_at = at;
    s->em_from = p;
    return p;
}

/* [p, p + n) is all of one of the two forms of ipv6_start's pattern, its \b aside: a group of
 * 1-4 hex digits then 2-7 colons, each followed by 0-4 hex digits
 * (`[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}`), or "::" then 1-7 groups of 1-4 hex digits between
 * colons (`::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}`); hex digits of either case. */
static bool ipv6_form(const char *p, size_t n)
{
    size_t len[10], groups = 0, cur = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == ':') {
            if (groups == 8)
                return false;
            len[groups++] = cur;
            cur = 0;
        } else if (hexval(p[i]) < 0 || ++cur > 4) {
            return false;
        }
    }
    len[groups++] = cur;
    size_t colons = groups - 1;
    if (len[0] > 0) /* a group, then colons */
        return colons >= 2 && colons <= 7;
    if (colons < 2 || len[1] != 0) /* "::", then groups that are not empty */
        return false;
    for (size_t g = 2; g < groups; g++) {
        if (len[g] == 0)
            return false;
    }
    return true;
}

/* Where the IPv6 address that a match from a ':' to stream offset `end` belongs to starts, as
 * the leftmost start of the pattern
 * `(?i)\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){2,7}\b|::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}\b` ending
 * there would be (the match checked the \b at the end); OUT_NONE if there is none. Such an
 * address is at most 39 bytes long: it and the byte before it are held or in the history. */
static uint64_t ipv6_start(const struct guard_output_stream *s, uint64_t end)
{
    uint64_t first = s->held_base - (uint64_t)(s->held - s->hbuf); /* the offset of hbuf[0] */
    uint64_t from = end > 39 ? end - 39 : 0, need = from > 0 ? from - 1 : 0;
    if (end < s->held_base || end > s->held_base + s->held_len || need < first)
        return OUT_NONE; /* never so (see OUT_HISTORY) */
    const char *p = s->hbuf + (from - first);
    for (uint64_t a = from; a + 3 <= end; a++, p++) {
        bool group = hexval(p[0]) >= 0 && (a == 0 || !is_word(p[-1])); /* \b, a hex digit */
        if ((group || p[0] == ':') && ipv6_form(p, (size_t)(end - a)))
            return a;
    }
    return OUT_NONE;
}

/* Where the run of token characters ending at `pos`, inside the text being scanned, began. */
static uint64_t run_at(const struct guard_output_stream *s, uint64_t pos)
{
    uint64_t p = pos;
    while (p > s->scan_from && p > s->held_base &&
           is_token_char((unsigned char)s->held[p - 1 - s->held_base]))
        p--;
    if (p == s->scan_from)
        return s->run_before < p ? s->run_before : p;
    return p; /* after a non-token character, or at held[0] (nothing older may go) */
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to,
                    unsigned int flags, void *ctx)
{
    struct guard_output_stream *s = ctx;
    (void)flags;
    if (s->status != 0)
        return 1;
    if (id == s->db->n) { /* the END line of a PEM block */
        for (size_t i = 0; i < s->n_c; i++) {
            if (s->c[i].e == UINT64_MAX)
                s->c[i].e = to;
        }
        s->pem_open = false;
        return 0;
    }
    const struct out_rule *r = &s->db->rules[id];
    uint64_t a = from, b = to;
    int span = SPAN_NEW;
    if (r->span == SPAN_PEM) {
        if (s->pem_open)
            return 0;
        /* Redacted, the block is dropped up to its END line; otherwise its first line is
         * enough to act on or to record. */
        if (guard_output_policy_action(s->pol, &r->r) == GUARD_OUT_REDACT)
            b = UINT64_MAX;
    } else {
        if (r->email && (a = email_start(s, a)) == OUT_NONE)
            return 0; /* no local part before the '@' */
        if (r->ipv6 && (a = ipv6_start(s, b)) == OUT_NONE)
            return 0; /* no address ends there */
        if ((span = cand_span(s, r, &a, &b)) == SPAN_DROP)
            return 0;
    }
    /* The same detector matching again over an undecided candidate: one candidate. Not a
     * BEGIN line right after an END line: that is the next block. */
    for (size_t i = 0; i < s->n_c && r->span != SPAN_PEM; i++) {
        struct cand *c = &s->c[i];
        if (c->rule == id && a <= c->e && b >= c->s && c->e != UINT64_MAX) {
            if (a < c->s && a < s->held_base)
                c->cp_s = s->cp_base;
            c->s = a < c->s ? a : c->s;
            c->partial |= a < s->held_base;
            if (b > c->e) {
                c->e = b;
                c->final = false;
            }
            return 0;
        }
    }
    if (span == SPAN_EXTEND)
        return 0;
    if (s->n_c == OUT_CANDS) {
        /* Many findings in one large feed: settle as if the text had been cut here. */
        int rc = settle(s, to, run_at(s, to), false);
        if (rc == 0 && s->n_c == OUT_CANDS) {
            /* Still too many (one long run of token characters): the oldest goes now, as
             * when max_hold is reached. */
            uint64_t first = UINT64_MAX;
            for (size_t i = 0; i < s->n_c; i++)
                first = s->c[i].s < first ? s->c[i].s : first;
            rc = release(s, first + 1, true);
        }
        if (rc < 0)
            s->status = rc;
        if (s->status != 0)
            return 1;
        if (s->n_c == OUT_CANDS)
            return 0; /* all inside an open PEM block, as this match is: dropped with it */
    }
    s->c[s->n_c++] =
        (struct cand){.rule = id, .s = a, .e = b, .cp_s = s->cp_base, .partial = a < s->held_base};
    if (b == UINT64_MAX) {
        s->pem_open = true;
        (void)cand_final(s, s->n_c - 1); /* acts at its first line */
        if (s->status != 0)
            return 1;
    }
    return 0;
}

static int out_put(struct guard_output_stream *s, const char *p, size_t n)
{
    if (s->out_len + n > s->out_cap) {
        /* by a quarter: a large feed needs a little more than max_hold (placeholders can be
         * longer than what they replace), and memory per stream counts */
        size_t cap = s->out_cap + s->out_cap / 4;
        cap = cap > s->out_len + n ? cap : s->out_len + n;
        char *o = realloc(s->out, cap);
        if (o == NULL)
            return -ENOMEM;
        s->out = o;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
    return 0;
}

static int out_placeholder(struct guard_output_stream *s, const struct cand *c)
{
    char ph[64];
    int n = snprintf(ph, sizeof(ph), "[REDACTED:%s]", s->db->rules[c->rule].r.type);
    return out_put(s, ph, (size_t)n < sizeof(ph) ? (size_t)n : sizeof(ph) - 1);
}

/* Drop the first k held bytes (released or redacted). */
static void held_consume(struct guard_output_stream *s, size_t k)
{
    uint64_t end = s->held_base + k;
    if (k > 0) { /* the run of local-part characters that leaves last */
        size_t j = k;
        while (j > 0 && is_local(s->held[j - 1]))
            j--;
        if (j > 0 && s->held[j - 1] == '@') /* its domain may still grow: keep its start */
            (void)email_start(s, s->held_base + j - 1);
        if (j == k)
            s->em_run = OUT_NONE;
        else if (j > 0 || s->em_run == OUT_NONE)
            s->em_run = email_first(s, j, k, j > 0 ? s->held[j - 1] : s->em_prev);
        s->em_prev = s->held[k - 1];
    }
    for (size_t i = 0; i < s->n_c; i++) { /* offsets leaving `held` keep their code points */
        struct cand *c = &s->c[i];
        if (c->s >= s->held_base && c->s < end)
            c->cp_s = cp_at(s, c->s);
        if (c->e >= s->held_base && c->e < end)
            c->cp_e = cp_at(s, c->e);
    }
    s->cp_base += cp_count(s->held, k);
    s->held += k;
    s->held_len -= k;
    s->held_base += k;
}

/* Candidates by start, stable: few, and nearly in order already (insertion sort, which needs
 * no memory, where qsort allocates for arrays this size). */
static void cand_sort(struct guard_output_stream *s)
{
    for (size_t i = 1; i < s->n_c; i++) {
        struct cand c = s->c[i];
        size_t j = i;
        for (; j > 0 && s->c[j - 1].s > c.s; j--)
            s->c[j] = s->c[j - 1];
        s->c[j] = c;
    }
}

/* Release every held byte before `upto` (clamped to decided regions), applying redactions.
 * `forced` (out of room): undecided candidates starting before `upto` are decided now, and
 * a region reaching past `upto` goes whole. */
static int release(struct guard_output_stream *s, uint64_t upto, bool forced)
{
    uint64_t total = s->held_base + s->held_len;
    int rc;
    if (upto > total)
        upto = total;
    for (size_t i = 0; i < s->n_c && s->status == 0; i++) {
        struct cand *c = &s->c[i];
        if (!c->final && c->s < upto) {
            if (!forced)
                upto = c->s; /* undecided candidates keep their bytes */
            else if (!cand_final(s, i))
                i--; /* dropped: the next one moved here */
        }
    }
    if (s->status != 0)
        return 0;
    cand_sort(s);
    for (;;) {
        /* The first region that starts before the release point. */
        size_t i = 0;
        while (i < s->n_c && !(s->c[i].final && s->c[i].s < upto))
            i++;
        if (i == s->n_c)
            break;
        struct cand *c = &s->c[i];
        /* The group: regions overlapping this one, transitively, up to an open PEM block. */
        uint64_t gs = c->s, ge = c->e;
        size_t j = i + 1, best = i, best_redact = SIZE_MAX, open = i;
        bool decided = false;
        for (; j < s->n_c && s->c[j].s < ge && ge != UINT64_MAX; j++) {
            if (!s->c[j].final) { /* an undecided one overlaps: wait for it */
                if (!forced)
                    return 0;
                (void)cand_final(s, j);
                decided = true;
                break;
            }
            if (s->c[j].e > ge) {
                ge = s->c[j].e;
                open = j;
            }
        }
        if (s->status != 0)
            return 0;
        if (decided) {
            cand_sort(s);
            continue;
        }
        if (ge == UINT64_MAX) {
            /* An open PEM block being redacted: its bytes are dropped as they come and one
             * placeholder stands for the group. */
            if (gs > s->held_base) {
                uint64_t k = gs - s->held_base;
                if ((rc = out_put(s, s->held, (size_t)k)) != 0)
                    return rc;
                held_consume(s, (size_t)k);
            }
            bool out_already = false;
            for (size_t k = i; k <= open; k++)
                out_already |= s->c[k].placeholder_out;
            if (!out_already) {
                if ((rc = out_placeholder(s, &s->c[open])) != 0)
                    return rc;
                s->c[open].placeholder_out = true;
            }
            if (upto > s->held_base) /* an undecided candidate may start before held[0] */
                held_consume(s, (size_t)(upto - s->held_base));
            return 0;
        }
        if (ge > upto && !forced) {
            upto = gs; /* not all of it may go yet */
            continue;
        }
        for (size_t k = i; k < j; k++) {
            const struct out_rule *rk = &s->db->rules[s->c[k].rule],
                                  *rb = &s->db->rules[s->c[best].rule];
            uint64_t lk = s->c[k].e - s->c[k].s, lb = s->c[best].e - s->c[best].s;
            if (rk->r.priority > rb->r.priority || (rk->r.priority == rb->r.priority && lk > lb))
                best = k;
        }
        for (size_t k = i; k < j; k++) {
            if (cand_action(s, &s->c[k]) != GUARD_OUT_REDACT)
                continue;
            if (best_redact == SIZE_MAX || k == best)
                best_redact = k;
        }
        /* Text before the group, then the group. */
        uint64_t from = gs > s->held_base ? gs : s->held_base;
        if ((rc = out_put(s, s->held, (size_t)(from - s->held_base))) != 0)
            return rc;
        held_consume(s, (size_t)(from - s->held_base));
        record(s, &s->c[best], cand_action(s, &s->c[best]));
        for (size_t k = i; k < j; k++) { /* others not covered by the winner */
            if (k != best && (s->c[k].e <= s->c[best].s || s->c[k].s >= s->c[best].e))
                record(s, &s->c[k], cand_action(s, &s->c[k]));
        }
        uint64_t gend = ge < s->held_base + s->held_len ? ge : s->held_base + s->held_len;
        if (gend < s->held_base) /* all of it dropped inside a PEM block */
            gend = s->held_base;
        bool out_already = false; /* a PEM block's placeholder went out while it was open */
        for (size_t k = i; k < j; k++)
            out_already |= s->c[k].placeholder_out;
        if (out_already) {
            /* nothing more to show for it */
        } else if (best_redact != SIZE_MAX) {
            if ((rc = out_placeholder(s, &s->c[best_redact])) != 0)
                return rc;
        } else if ((rc = out_put(s, s->held, (size_t)(gend - s->held_base))) != 0) {
            return rc;
        }
        held_consume(s, (size_t)(gend - s->held_base));
        memmove(&s->c[i], &s->c[j], (s->n_c - j) * sizeof(s->c[0]));
        s->n_c -= j - i;
    }
    if (upto > s->held_base) {
        if ((rc = out_put(s, s->held, (size_t)(upto - s->held_base))) != 0)
            return rc;
        held_consume(s, (size_t)(upto - s->held_base));
    }
    return 0;
}

/* Decide candidates that can no longer grow, then release what no finding can claim: as of
 * stream offset `pos` (the end of the text scanned so far), where the current run of token
 * characters began at `run`. */
static int settle(struct guard_output_stream *s, uint64_t pos, uint64_t run, bool at_end)
{
    uint64_t total = s->held_base + s->held_len;
    for (size_t i = 0; i < s->n_c && s->status == 0; i++) {
        struct cand *c = &s->c[i];
        if (!c->final && c->e != UINT64_MAX && (at_end || pos >= c->e + s->lim.holdback) &&
            !cand_final(s, i))
            i--; /* dropped: the next one moved here */
    }
    if (s->status != 0)
        return s->status;
    if (at_end) {
        for (size_t i = 0; i < s->n_c; i++) {
            if (s->c[i].e == UINT64_MAX) /* a PEM block never closed: it ran to the end */
                s->c[i].e = total;
        }
        return release(s, total, false);
    }
    uint64_t upto = pos > s->lim.holdback ? pos - s->lim.holdback : 0;
    if (run < upto)
        upto = run;
    return release(s, upto, false);
}

int guard_output_stream_feed(struct guard_output_stream *s, const char *text, size_t len)
{
    int rc;
    while (len > 0 && s->status == 0) {
        size_t room = s->lim.max_hold - s->held_len;
        if (room == 0) {
            /* Full: release the oldest quarter even if a finding could still start there. */
            uint64_t upto = s->held_base + s->lim.max_hold / 4;
            if ((rc = release(s, upto, true)) != 0)
                return s->status = rc;
            if (s->status != 0)
                break;
            room = s->lim.max_hold - s->held_len;
            if (room == 0)
                return s->status = -EIO;
        }
        size_t n = len < room ? len : room;
        uint64_t off = s->held_base + s->held_len;
        if (s->held + s->held_len + n > s->hbuf + OUT_HISTORY + s->lim.max_hold) {
            size_t h = (size_t)(s->held - s->hbuf);
            h = h < OUT_HISTORY ? h : OUT_HISTORY; /* the bytes released last stay */
            memmove(s->hbuf, s->held - h, h + s->held_len);
            s->held = s->hbuf + h;
        }
        memcpy(s->held + s->held_len, text, n);
        s->held_len += n;
        size_t k = n;
        while (k > 0 && is_token_char((unsigned char)text[k - 1]))
            k--;
        s->scan_from = off;
        s->run_before = s->run_start;
        if (k > 0)
            s->run_start = off + k;
        s->fresh = false;
        if (guard_hs_scan_stream(s->hs, text, n, s->scratch->hs, on_match, s) != HS_SUCCESS &&
            s->status == 0)
            return s->status = -EIO;
        if (s->status != 0)
            break;
        text += n;
        len -= n;
        if ((rc = settle(s, s->held_base + s->held_len, s->run_start, false)) != 0)
            return s->status = rc;
    }
    return s->status;
}

int guard_output_stream_end(struct guard_output_stream *s)
{
    if (s->status != 0)
        return s->status;
    s->run_start = s->held_base + s->held_len;
    hs_error_t e =
        hs_reset_stream(s->hs, 0, s->scratch->hs, on_match, s); /* end-anchored matches */
    if (e != HS_SUCCESS && s->status == 0)
        return s->status = -EIO;
    if (s->status != 0)
        return s->status;
    int rc = settle(s, s->held_base + s->held_len, s->run_start, true);
    if (rc != 0)
        return s->status = rc;
    s->fresh = true;
    return 0;
}

void guard_output_stream_output(const struct guard_output_stream *s, const char **text, size_t *len)
{
    *text = s->out;
    *len = s->out_len;
}

void guard_output_stream_take(struct guard_output_stream *s)
{
    s->out_len = 0;
    if (s->out_cap > s->lim.max_hold + OUT_OUTPUT_SLACK) {
        /* A large feed (or many placeholders) made it grow: give the room back, so that a
         * stream between feeds costs what a new one does. */
        char *o = realloc(s->out, s->lim.max_hold + OUT_OUTPUT_SLACK);
        if (o != NULL) {
            s->out = o;
            s->out_cap = s->lim.max_hold + OUT_OUTPUT_SLACK;
        }
    }
}

size_t guard_output_stream_held(const struct guard_output_stream *s)
{
    return s->held_len;
}

bool guard_output_stream_blocked(const struct guard_output_stream *s)
{
    return s->status != 0;
}

size_t guard_output_stream_findings(const struct guard_output_stream *s,
                                    const struct guard_output_finding **f)
{
    *f = s->f;
    return s->n_f;
}

size_t guard_output_stream_findings_total(const struct guard_output_stream *s)
{
    return s->n_f_total;
}

/* The JavaScript lexer's pre-filter (guards/deps/content.c): the patterns, and the one way
 * they are compiled, shared with the build-time tool that serializes the database into the
 * binary (deps_prefilter_gen.c). Internal to the scanner. */
#ifndef WARDEN_GUARDS_DEPS_PREFILTER_H
#define WARDEN_GUARDS_DEPS_PREFILTER_H

#include <stddef.h>

#include <hs/hs.h>

enum pre_id {
    /* decoders whose every use counts (base64, char codes) and obfuscator names: L2-OBFS-001
     * to -004 on decoded text, String.fromCharCode arrays, _0x names */
    PRE_DECODE,
    PRE_BUFFER,   /* Buffer.from(x, 'base64' | 'hex') or Buffer(...): with PRE_ENCODING */
    PRE_ENCODING, /* the encoding argument (a template's last piece starts at its '}') */
    /* "ev" + "al" in require() or obj[...]: a quote, then a '+', a comment or a blank (the
     * rest is checked by cat_at). A quote then any run of blanks would make Hyperscan run
     * an automaton at every quote, twice as slow over a tree's code: each form that begins
     * such a run is a literal of two or three bytes instead. */
    PRE_CAT,
    PRE_UNREAD, /* a literal ending with a name deps_content_unread matches: see pre_cb */
    /* four escapes of printable characters in a row: L2-OBFS-002 needs a run of four or more
     * in one literal (lex_string) */
    PRE_ESCAPES,
    /* an encoded executable: the first characters of a literal's base64 or hex decode to
     * the magic of ELF, PE (MZ) or Mach-O (L2-BUND-001) */
    PRE_MAGIC_B64,
    PRE_MAGIC_HEX,
    /* eval(), Function(), vm: the sinks where URI-decoded text counts, and where a literal
     * naming an unread file counts without a '/' */
    PRE_EVAL,
    PRE_URI,   /* unescape, decodeURI(Component): with PRE_EVAL or PRE_CP */
    PRE_CP,    /* "child_process": a process run with decoded text (L2-OBFS-003) */
    PRE_COUNT, /* (not a pattern) */
};

/* '\x00' is a blank to the lexer outside script text */
#define PRE_BLANK "[\\x00\\t-\\r ]"
#define PRE_UNREAD_END \
    "(?:\\.(?:m?js|cjs|jsx|m?ts|cts|tsx|css)\\.map|\\.d\\.[mc]?ts|\\.md|\\.markdown)['\"`]"

static const struct {
    const char *re;
    unsigned flags;
} pre_pats[PRE_COUNT] = {
    [PRE_DECODE] = {"atob|fromCharCode|_0x", HS_FLAG_SINGLEMATCH},
    [PRE_BUFFER] = {"Buffer", HS_FLAG_SINGLEMATCH},
    [PRE_ENCODING] = {"['\"`}](?:base64(?:url)?|hex)['\"`]", HS_FLAG_SINGLEMATCH},
    [PRE_CAT] = {"['\"](?:[+\\x00\\t-\\r]|/[*/]| [+\\x00\\t-\\r ]| /[*/])", 0},
    [PRE_UNREAD] = {PRE_UNREAD_END, HS_FLAG_CASELESS},
    /* escapes of 0x20-0x7f only (the lexer counts printable ones, 0x20-0x7e): \xHH, \u00HH,
     * octal 040-177 */
    [PRE_ESCAPES] = {"(?:\\\\(?:x[2-7][0-9a-fA-F]|u00[2-7][0-9a-fA-F]|(?:0[4-7]|1[0-7])[0-7])){4}",
                     HS_FLAG_SINGLEMATCH},
    [PRE_MAGIC_B64] = {"['\"`}](?:f0VMR|TV[o-r]|[/_]u36z|zvrt[/_]|z[/_]rt[/_]|yv66v)",
                       HS_FLAG_SINGLEMATCH},
    [PRE_MAGIC_HEX] = {"['\"`}](?:7f454c46|4d5a|feedfac[ef]|c[ef]faedfe|cafebabe)",
                       HS_FLAG_SINGLEMATCH | HS_FLAG_CASELESS},
    [PRE_EVAL] = {"\\b(?:eval|Function|Script|runInThisContext|runInNewContext|runInContext|"
                  "compileFunction|_compile)" PRE_BLANK "*[(/]",
                  HS_FLAG_SINGLEMATCH},
    [PRE_URI] = {"unescape|decodeURI", HS_FLAG_SINGLEMATCH},
    [PRE_CP] = {"child_process", HS_FLAG_SINGLEMATCH},
};

/* Compile the database for this machine. */
static inline hs_error_t deps_prefilter_compile(hs_database_t **out, hs_compile_error_t **err)
{
    const char *re[PRE_COUNT];
    unsigned flags[PRE_COUNT], ids[PRE_COUNT];

    for (unsigned i = 0; i < PRE_COUNT; i++) {
        re[i] = pre_pats[i].re;
        flags[i] = pre_pats[i].flags;
        ids[i] = i;
    }
    return hs_compile_multi(re, flags, ids, PRE_COUNT, HS_MODE_BLOCK, NULL, out, err);
}

/* The database serialized at build time (deps_prefilter_gen), for the build machine's
 * instruction set: hs_deserialize_database refuses it on another, and it is compiled then. */
extern const unsigned char deps_prefilter_hsdb[];
extern const size_t deps_prefilter_hsdb_len;

#endif

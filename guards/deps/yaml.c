/* The YAML subset reader behind pnpm-lock.yaml and yarn Berry: indentation-driven descent. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/yaml.h"

struct yp {
    const char *b;
    size_t n, pos;
    uint32_t line;
    size_t bol; /* offset of the first byte of the current line */
    const struct deps_yaml_limits *lim;
    struct deps_lock_arena *arena;
    size_t nodes;
    struct deps_yaml_error *err;
    int rc;
    char *tmp; /* scalar being decoded */
    size_t tmp_len, tmp_cap;
};

#define YP_EOF       (-1)
#define YP_DOC_START (-2)
#define YP_DOC_END   (-3)

static int yp_fail_at(struct yp *p, int rc, uint32_t line, size_t col, const char *msg)
{
    if (p->rc == 0) {
        p->rc = rc;
        p->err->line = line;
        p->err->column = (uint32_t)(col > UINT32_MAX ? UINT32_MAX : col);
        p->err->message = msg;
    }
    return p->rc;
}

static int yp_fail(struct yp *p, int rc, const char *msg)
{
    return yp_fail_at(p, rc, p->line, p->pos - p->bol + 1, msg);
}

/* True at the end of a line: end of input, LF, or CR LF. */
static bool yp_eol_at(const struct yp *p, size_t i)
{
    return i >= p->n || p->b[i] == '\n' ||
           (p->b[i] == '\r' && (i + 1 >= p->n || p->b[i + 1] == '\n'));
}

/* A separator after an indicator ('-', ':'): space, tab or end of line. */
static bool yp_sep_at(const struct yp *p, size_t i)
{
    return yp_eol_at(p, i) || p->b[i] == ' ' || p->b[i] == '\t';
}

static void yp_eat_newline(struct yp *p)
{
    if (p->pos < p->n && p->b[p->pos] == '\r')
        p->pos++;
    if (p->pos < p->n && p->b[p->pos] == '\n') {
        p->pos++;
        p->line++;
        p->bol = p->pos;
    }
}

static void yp_skip_to_eol(struct yp *p)
{
    while (!yp_eol_at(p, p->pos))
        p->pos++;
}

static void yp_skip_blanks(struct yp *p)
{
    while (p->pos < p->n && (p->b[p->pos] == ' ' || p->b[p->pos] == '\t'))
        p->pos++;
}

/* After a value: only blanks and a comment may follow on the line; the newline is eaten. */
static int yp_finish_line(struct yp *p)
{
    yp_skip_blanks(p);
    if (p->pos < p->n && p->b[p->pos] == '#')
        yp_skip_to_eol(p);
    if (!yp_eol_at(p, p->pos))
        return yp_fail(p, -EBADMSG, "unexpected text after a value");
    yp_eat_newline(p);
    return 0;
}

/* From the start of a line, skip blank and comment lines. Returns the indentation of the
 * next content line (pos stays at its start), YP_EOF, YP_DOC_START or YP_DOC_END. */
static long yp_next_line(struct yp *p)
{
    size_t i;

    while (p->rc == 0 && p->pos < p->n) {
        i = p->pos;
        while (i < p->n && p->b[i] == ' ')
            i++;
        if (i == p->pos && p->n - i >= 3 && yp_sep_at(p, i + 3) &&
            (memcmp(p->b + i, "---", 3) == 0 || memcmp(p->b + i, "...", 3) == 0))
            return p->b[i] == '-' ? YP_DOC_START : YP_DOC_END;
        if (i < p->n && p->b[i] == '\t') {
            while (i < p->n && (p->b[i] == ' ' || p->b[i] == '\t'))
                i++;
            if (!yp_eol_at(p, i) && p->b[i] != '#') {
                yp_fail_at(p, -EBADMSG, p->line, i - p->bol + 1, "tab in indentation");
                return YP_EOF;
            }
        }
        if (yp_eol_at(p, i) || p->b[i] == '#') {
            p->pos = i;
            yp_skip_to_eol(p);
            yp_eat_newline(p);
            continue;
        }
        return (long)(i - p->pos);
    }
    return YP_EOF;
}

static struct deps_yaml_node *yp_node(struct yp *p, enum deps_yaml_type type)
{
    struct deps_yaml_node *nd;

    if (p->rc)
        return NULL;
    if (++p->nodes > p->lim->max_nodes) {
        yp_fail(p, -E2BIG, "more YAML values than the limit");
        return NULL;
    }
    nd = deps_arena_alloc(p->arena, sizeof(*nd));
    if (nd == NULL) {
        yp_fail(p, -ENOMEM, "out of memory");
        return NULL;
    }
    nd->type = type;
    nd->line = p->line;
    nd->col = (uint32_t)(p->pos - p->bol + 1);
    return nd;
}

static void yp_append(struct deps_yaml_node *parent, struct deps_yaml_node *child)
{
    if (parent->last)
        parent->last->next = child;
    else
        parent->child = child;
    parent->last = child;
    parent->n++;
}

static int yp_put(struct yp *p, const char *s, size_t n)
{
    size_t cap;
    char *t;

    if (p->tmp_len + n > p->lim->max_string)
        return yp_fail(p, -E2BIG, "string longer than the limit");
    if (p->tmp_len + n + 1 > p->tmp_cap) {
        cap = p->tmp_cap ? p->tmp_cap : 256;
        while (cap < p->tmp_len + n + 1)
            cap *= 2;
        t = realloc(p->tmp, cap);
        if (t == NULL)
            return yp_fail(p, -ENOMEM, "out of memory");
        p->tmp = t;
        p->tmp_cap = cap;
    }
    memcpy(p->tmp + p->tmp_len, s, n);
    p->tmp_len += n;
    return 0;
}

static int yp_put_utf8(struct yp *p, uint32_t cp)
{
    char u[4];
    size_t k;

    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp < 0x80) {
        u[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return yp_put(p, u, k);
}

/* Turn the scratch text into a SCALAR node started at line:col. */
static struct deps_yaml_node *yp_scalar(struct yp *p, uint32_t line, uint32_t col)
{
    struct deps_yaml_node *nd = yp_node(p, DEPS_YAML_SCALAR);

    if (nd == NULL)
        return NULL;
    nd->line = line;
    nd->col = col;
    nd->s = deps_arena_strndup(p->arena, p->tmp ? p->tmp : "", p->tmp_len);
    nd->len = p->tmp_len;
    if (nd->s == NULL) {
        yp_fail(p, -ENOMEM, "out of memory");
        return NULL;
    }
    return nd;
}

/* A line break inside a quoted scalar folds to one space, or to n newlines for n empty
 * lines. pos is at the break. */
static int yp_fold_break(struct yp *p, bool multiline)
{
    size_t empty = 0;

    if (!multiline)
        return yp_fail(p, -EBADMSG, "line break in a quoted key");
    while (p->tmp_len && (p->tmp[p->tmp_len - 1] == ' ' || p->tmp[p->tmp_len - 1] == '\t'))
        p->tmp_len--;
    yp_eat_newline(p);
    yp_skip_blanks(p);
    while (p->pos < p->n && yp_eol_at(p, p->pos)) {
        empty++;
        yp_eat_newline(p);
        yp_skip_blanks(p);
    }
    if (empty == 0)
        return yp_put(p, " ", 1);
    while (empty-- && p->rc == 0)
        yp_put(p, "\n", 1);
    return p->rc;
}

static int yp_hex(struct yp *p, size_t digits, uint32_t *cp)
{
    size_t i;
    char c;

    *cp = 0;
    for (i = 0; i < digits; i++) {
        if (p->pos >= p->n)
            return yp_fail(p, -EBADMSG, "cut escape sequence");
        c = p->b[p->pos++];
        if (c >= '0' && c <= '9')
            *cp = *cp << 4 | (uint32_t)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            *cp = *cp << 4 | (uint32_t)((c | 0x20) - 'a' + 10);
        else
            return yp_fail(p, -EBADMSG, "bad hexadecimal digit in an escape");
    }
    return 0;
}

static int yp_escape(struct yp *p)
{
    static const char from[] = "0abtnvfre \"/\\N_LP\t";
    static const char *const to[] = {
        "\0", "\a", "\b", "\t", "\n",       "\v",       "\f",           "\r",           "\x1b",
        " ",  "\"", "/",  "\\", "\xc2\x85", "\xc2\xa0", "\xe2\x80\xa8", "\xe2\x80\xa9", "\t"};
    const char *hit;
    uint32_t cp;
    char c;

    if (p->pos >= p->n)
        return yp_fail(p, -EBADMSG, "unterminated string");
    c = p->b[p->pos];
    if (yp_eol_at(p, p->pos)) { /* escaped line break: join without a space */
        yp_eat_newline(p);
        yp_skip_blanks(p);
        return 0;
    }
    p->pos++;
    if (c == 'x' || c == 'u' || c == 'U') {
        if (yp_hex(p, c == 'x' ? 2 : c == 'u' ? 4 : 8, &cp))
            return p->rc;
        return yp_put_utf8(p, cp);
    }
    hit = c ? memchr(from, c, sizeof(from) - 1) : NULL;
    if (hit == NULL)
        return yp_fail(p, -EBADMSG, "unknown escape sequence");
    if (c == '0')
        return yp_put(p, "\0", 1);
    return yp_put(p, to[hit - from], strlen(to[hit - from]));
}

/* A quoted scalar at pos into the scratch; pos ends after the closing quote. */
static int yp_quoted(struct yp *p, bool multiline)
{
    char q = p->b[p->pos++];
    size_t run;

    p->tmp_len = 0;
    while (p->rc == 0) {
        if (p->pos >= p->n)
            return yp_fail(p, -EBADMSG, "unterminated quoted string");
        run = p->pos;
        while (run < p->n && p->b[run] != q && p->b[run] != '\n' && p->b[run] != '\r' &&
               !(q == '"' && p->b[run] == '\\'))
            run++;
        if (yp_put(p, p->b + p->pos, run - p->pos))
            break;
        p->pos = run;
        if (p->pos >= p->n)
            continue;
        if (p->b[p->pos] == q) {
            if (q == '\'' && p->pos + 1 < p->n && p->b[p->pos + 1] == '\'') {
                yp_put(p, "'", 1);
                p->pos += 2;
                continue;
            }
            p->pos++;
            break;
        }
        if (p->b[p->pos] == '\\') {
            p->pos++;
            yp_escape(p);
        } else if (yp_eol_at(p, p->pos)) {
            yp_fold_break(p, multiline);
        } else { /* a lone CR */
            yp_put(p, "\r", 1);
            p->pos++;
        }
    }
    return p->rc;
}

/* Is the text at pos a `key:` (quoted or plain) followed by a separator? No side effects. */
static bool yp_is_key(const struct yp *p)
{
    size_t i = p->pos;
    char c = i < p->n ? p->b[i] : 0;

    if (c == '"' || c == '\'') {
        for (i++; i < p->n && !yp_eol_at(p, i); i++) {
            if (c == '"' && p->b[i] == '\\') {
                i++;
                continue;
            }
            if (p->b[i] == c) {
                if (c == '\'' && i + 1 < p->n && p->b[i + 1] == '\'') {
                    i++;
                    continue;
                }
                break;
            }
        }
        if (i >= p->n || p->b[i] != c)
            return false;
        for (i++; i < p->n && (p->b[i] == ' ' || p->b[i] == '\t'); i++)
            ;
        return i < p->n && p->b[i] == ':' && yp_sep_at(p, i + 1);
    }
    if (c == '[' || c == '{' || c == '#' || c == '|' || c == '>' ||
        (c == '-' && yp_sep_at(p, i + 1)))
        return false;
    for (; !yp_eol_at(p, i); i++) {
        if (p->b[i] == '#' && i > p->pos && (p->b[i - 1] == ' ' || p->b[i - 1] == '\t'))
            return false;
        if (p->b[i] == ':' && yp_sep_at(p, i + 1))
            return true;
    }
    return false;
}

/* Read the key at pos (yp_is_key holds) and the ':' after it. */
static int yp_key(struct yp *p, const char **key, size_t *klen)
{
    size_t start = p->pos, end;
    char c = p->b[p->pos];

    if (c == '?' && yp_sep_at(p, p->pos + 1))
        return yp_fail(p, -EBADMSG, "complex mapping keys are not supported");
    if (c == '&' || c == '*' || c == '!')
        return yp_fail(p, -EBADMSG, "YAML anchors, aliases and tags are not supported");
    if (c == '"' || c == '\'') {
        if (yp_quoted(p, false))
            return p->rc;
        yp_skip_blanks(p);
    } else {
        while (!(p->b[p->pos] == ':' && yp_sep_at(p, p->pos + 1)))
            p->pos++;
        end = p->pos;
        while (end > start && (p->b[end - 1] == ' ' || p->b[end - 1] == '\t'))
            end--;
        p->tmp_len = 0;
        if (yp_put(p, p->b + start, end - start))
            return p->rc;
    }
    p->pos++; /* the ':' */
    *key = deps_arena_strndup(p->arena, p->tmp ? p->tmp : "", p->tmp_len);
    *klen = p->tmp_len;
    if (*key == NULL)
        return yp_fail(p, -ENOMEM, "out of memory");
    return 0;
}

static struct deps_yaml_node *yp_flow(struct yp *p, unsigned depth);

/* Blanks, line breaks and comments inside a flow collection. */
static void yp_flow_ws(struct yp *p)
{
    while (p->pos < p->n) {
        char c = p->b[p->pos];

        if (c == ' ' || c == '\t') {
            p->pos++;
        } else if (c == '#' &&
                   (p->pos == p->bol || p->b[p->pos - 1] == ' ' || p->b[p->pos - 1] == '\t')) {
            yp_skip_to_eol(p);
        } else if (yp_eol_at(p, p->pos)) {
            yp_eat_newline(p);
        } else {
            break;
        }
    }
}

/* A scalar or collection inside a flow collection. `key`: stop at ':' + separator. */
static struct deps_yaml_node *yp_flow_node(struct yp *p, unsigned depth, bool key)
{
    uint32_t line = p->line, col = (uint32_t)(p->pos - p->bol + 1);
    size_t start = p->pos, end;
    char c = p->pos < p->n ? p->b[p->pos] : 0;

    if (c == '[' || c == '{')
        return yp_flow(p, depth);
    if (c == '&' || c == '*' || c == '!') {
        yp_fail(p, -EBADMSG, "YAML anchors, aliases and tags are not supported");
        return NULL;
    }
    if (c == '"' || c == '\'') {
        if (yp_quoted(p, true))
            return NULL;
        return yp_scalar(p, line, col);
    }
    while (p->pos < p->n && !yp_eol_at(p, p->pos)) {
        c = p->b[p->pos];
        if (c == ',' || c == '[' || c == ']' || c == '{' || c == '}')
            break;
        if (c == ':' &&
            (yp_sep_at(p, p->pos + 1) || (p->b[p->pos + 1] && strchr(",[]{}", p->b[p->pos + 1]))))
            break;
        if (c == '#' && p->pos > start && (p->b[p->pos - 1] == ' ' || p->b[p->pos - 1] == '\t'))
            break;
        p->pos++;
    }
    (void)key;
    end = p->pos;
    while (end > start && (p->b[end - 1] == ' ' || p->b[end - 1] == '\t'))
        end--;
    p->tmp_len = 0;
    if (yp_put(p, p->b + start, end - start))
        return NULL;
    return yp_scalar(p, line, col);
}

/* A flow sequence or mapping at pos; pos ends after its closing bracket. */
static struct deps_yaml_node *yp_flow(struct yp *p, unsigned depth)
{
    bool map = p->b[p->pos] == '{';
    char close = map ? '}' : ']';
    struct deps_yaml_node *coll, *k, *v;

    if (depth > p->lim->max_depth) {
        yp_fail(p, -E2BIG, "YAML nested deeper than the limit");
        return NULL;
    }
    coll = yp_node(p, map ? DEPS_YAML_MAP : DEPS_YAML_SEQ);
    if (coll == NULL)
        return NULL;
    p->pos++;
    for (;;) {
        yp_flow_ws(p);
        if (p->pos >= p->n) {
            yp_fail(p, -EBADMSG, "unterminated flow collection");
            return NULL;
        }
        if (p->b[p->pos] == close) {
            p->pos++;
            return coll;
        }
        if (map) {
            k = yp_flow_node(p, depth + 1, true);
            if (k == NULL)
                return NULL;
            if (k->type != DEPS_YAML_SCALAR) {
                yp_fail_at(p, -EBADMSG, k->line, k->col, "a flow mapping key must be a scalar");
                return NULL;
            }
            yp_flow_ws(p);
            if (p->pos < p->n && p->b[p->pos] == ':') {
                p->pos++;
                yp_flow_ws(p);
                if (p->pos < p->n && (p->b[p->pos] == ',' || p->b[p->pos] == close)) {
                    v = yp_node(p, DEPS_YAML_NULL);
                } else {
                    v = yp_flow_node(p, depth + 1, false);
                }
            } else {
                v = yp_node(p, DEPS_YAML_NULL);
            }
            if (v == NULL)
                return NULL;
            v->key = k->s;
            v->key_len = k->len;
            v->key_line = k->line;
            v->key_col = k->col;
        } else {
            v = yp_flow_node(p, depth + 1, false);
            if (v == NULL)
                return NULL;
        }
        yp_append(coll, v);
        yp_flow_ws(p);
        if (p->pos < p->n && p->b[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->n && p->b[p->pos] == close) {
            p->pos++;
            return coll;
        }
        yp_fail(p, -EBADMSG,
                map ? "expected ',' or '}' in a flow mapping"
                    : "expected ',' or ']' in a flow sequence");
        return NULL;
    }
}

/* A literal (|) or folded (>) block scalar; pos at the indicator. */
static struct deps_yaml_node *yp_block_scalar(struct yp *p, long parent)
{
    uint32_t line = p->line, col = (uint32_t)(p->pos - p->bol + 1);
    bool folded = p->b[p->pos] == '>', prev_text = false;
    char chomp = 'c';
    long explicit_ind = 0, ind = -1, sp;
    size_t blank = 0, i, k;

    p->pos++;
    for (k = 0; k < 2 && p->pos < p->n; k++) {
        char c = p->b[p->pos];

        if ((c == '+' || c == '-') && chomp == 'c')
            chomp = c;
        else if (c >= '1' && c <= '9' && explicit_ind == 0)
            explicit_ind = c - '0';
        else
            break;
        p->pos++;
    }
    if (yp_finish_line(p))
        return NULL;
    if (explicit_ind)
        ind = (parent < 0 ? 0 : parent) + explicit_ind;
    p->tmp_len = 0;
    while (p->pos < p->n && p->rc == 0) {
        for (i = p->pos; i < p->n && p->b[i] == ' '; i++)
            ;
        sp = (long)(i - p->pos);
        if (yp_eol_at(p, i) && i < p->n) {
            blank++;
            p->pos = i;
            yp_eat_newline(p);
            continue;
        }
        if (yp_eol_at(p, i))
            break;
        if (ind < 0) {
            if (sp <= parent)
                break;
            ind = sp;
        }
        if (sp < ind)
            break;
        if (folded && prev_text && blank == 0 && sp == ind && p->tmp_len &&
            p->b[p->pos + ind] != ' ')
            p->tmp[p->tmp_len - 1] = ' ';
        for (; blank; blank--)
            yp_put(p, "\n", 1);
        p->pos += (size_t)ind;
        i = p->pos;
        yp_skip_to_eol(p);
        yp_put(p, p->b + i, p->pos - i);
        yp_put(p, "\n", 1);
        yp_eat_newline(p);
        prev_text = true;
    }
    if (chomp == '-') {
        while (p->tmp_len && p->tmp[p->tmp_len - 1] == '\n')
            p->tmp_len--;
    } else if (chomp == '+') {
        for (; blank; blank--)
            yp_put(p, "\n", 1);
    }
    /* Blank lines past the scalar belong to no one; the caller skips them. */
    return p->rc ? NULL : yp_scalar(p, line, col);
}

/* A plain scalar in block context at pos, with continuation lines indented past parent. */
static struct deps_yaml_node *yp_plain(struct yp *p, long parent)
{
    uint32_t line = p->line, col = (uint32_t)(p->pos - p->bol + 1);
    size_t start, end;
    long ni;
    bool first = true, comment = false;

    p->tmp_len = 0;
    for (;;) {
        start = p->pos;
        while (!yp_eol_at(p, p->pos)) {
            char c = p->b[p->pos];

            if (c == '#' && p->pos > start &&
                (p->b[p->pos - 1] == ' ' || p->b[p->pos - 1] == '\t')) {
                comment = true;
                break;
            }
            if (c == ':' && yp_sep_at(p, p->pos + 1)) {
                yp_fail(p, -EBADMSG, "a mapping value is not allowed here (quote the string)");
                return NULL;
            }
            p->pos++;
        }
        end = p->pos;
        while (end > start && (p->b[end - 1] == ' ' || p->b[end - 1] == '\t'))
            end--;
        if ((!first && yp_put(p, " ", 1)) || yp_put(p, p->b + start, end - start))
            return NULL;
        first = false;
        if (yp_finish_line(p))
            return NULL;
        if (comment)
            break; /* a comment ends a plain scalar */
        ni = yp_next_line(p);
        if (ni < 0 || ni <= parent)
            break;
        p->pos += (size_t)ni;
        if (yp_is_key(p) || (p->b[p->pos] == '-' && yp_sep_at(p, p->pos + 1))) {
            yp_fail(p, -EBADMSG, "unexpected indentation");
            return NULL;
        }
    }
    return yp_scalar(p, line, col);
}

/* A value that starts on the current line at pos (after "key:" or "- "). */
static struct deps_yaml_node *yp_inline(struct yp *p, long parent, unsigned depth)
{
    struct deps_yaml_node *nd;
    uint32_t line = p->line, col = (uint32_t)(p->pos - p->bol + 1);
    char c = p->b[p->pos];

    if (c == '&' || c == '*' || c == '!') {
        yp_fail(p, -EBADMSG, "YAML anchors, aliases and tags are not supported");
        return NULL;
    }
    if (c == '?' && yp_sep_at(p, p->pos + 1)) {
        yp_fail(p, -EBADMSG, "complex mapping keys are not supported");
        return NULL;
    }
    if (c == '"' || c == '\'') {
        if (yp_quoted(p, true))
            return NULL;
        nd = yp_scalar(p, line, col);
        if (nd == NULL || yp_finish_line(p))
            return NULL;
        return nd;
    }
    if (c == '[' || c == '{') {
        nd = yp_flow(p, depth);
        if (nd == NULL || yp_finish_line(p))
            return NULL;
        return nd;
    }
    if (c == '|' || c == '>')
        return yp_block_scalar(p, parent);
    return yp_plain(p, parent);
}

static struct deps_yaml_node *yp_block_map(struct yp *p, long ind, unsigned depth);
static struct deps_yaml_node *yp_block_seq(struct yp *p, long ind, unsigned depth);

/* A node whose first line starts at pos, at column ind (block context). */
static struct deps_yaml_node *yp_block_node(struct yp *p, long ind, long parent, unsigned depth)
{
    if (p->b[p->pos] == '-' && yp_sep_at(p, p->pos + 1))
        return yp_block_seq(p, ind, depth);
    if (yp_is_key(p))
        return yp_block_map(p, ind, depth);
    return yp_inline(p, parent, depth);
}

static struct deps_yaml_node *yp_null(struct yp *p, uint32_t line, uint32_t col)
{
    struct deps_yaml_node *nd = yp_node(p, DEPS_YAML_NULL);

    if (nd) {
        nd->line = line;
        nd->col = col;
    }
    return nd;
}

/* The value after "key:" of a mapping at indentation key_ind. */
static struct deps_yaml_node *yp_map_value(struct yp *p, long key_ind, unsigned depth)
{
    uint32_t line = p->line, col = (uint32_t)(p->pos - p->bol + 1);
    long ni;

    yp_skip_blanks(p);
    if (!yp_eol_at(p, p->pos) && p->b[p->pos] != '#')
        return yp_inline(p, key_ind, depth);
    yp_finish_line(p);
    ni = yp_next_line(p);
    if (p->rc)
        return NULL;
    if (ni > key_ind) {
        p->pos += (size_t)ni;
        return yp_block_node(p, ni, key_ind, depth);
    }
    if (ni >= 0 && ni == key_ind && p->b[p->pos + (size_t)ni] == '-' &&
        yp_sep_at(p, p->pos + (size_t)ni + 1)) {
        p->pos += (size_t)ni;
        return yp_block_seq(p, ni, depth);
    }
    return yp_null(p, line, col);
}

static int yp_key_cmp(const void *a, const void *b)
{
    const struct deps_yaml_node *x = *(const struct deps_yaml_node *const *)a;
    const struct deps_yaml_node *y = *(const struct deps_yaml_node *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    if (c == 0)
        c = x->key_len < y->key_len ? -1 : x->key_len > y->key_len;
    if (c == 0)
        c = x->key_line < y->key_line ? -1 : x->key_line > y->key_line;
    return c;
}

/* Reject a mapping that repeats a key (readers would disagree on which one counts). */
static int yp_check_dups(struct yp *p, const struct deps_yaml_node *map)
{
    const struct deps_yaml_node **v, *a, *b;
    size_t i = 0;

    if (map->n < 2)
        return 0;
    v = malloc(map->n * sizeof(*v));
    if (v == NULL)
        return yp_fail(p, -ENOMEM, "out of memory");
    for (a = map->child; a; a = a->next)
        v[i++] = a;
    qsort(v, map->n, sizeof(*v), yp_key_cmp);
    for (i = 1; i < map->n; i++) {
        a = v[i - 1];
        b = v[i];
        if (a->key_len == b->key_len && memcmp(a->key, b->key, a->key_len) == 0) {
            yp_fail_at(p, -EBADMSG, b->key_line, b->key_col, "duplicate mapping key");
            break;
        }
    }
    free(v);
    return p->rc;
}

static struct deps_yaml_node *yp_block_map(struct yp *p, long ind, unsigned depth)
{
    struct deps_yaml_node *map, *v;
    const char *key = NULL;
    size_t klen = 0;
    uint32_t kl, kc;
    long ni;

    if (depth > p->lim->max_depth) {
        yp_fail(p, -E2BIG, "YAML nested deeper than the limit");
        return NULL;
    }
    map = yp_node(p, DEPS_YAML_MAP);
    while (map) {
        kl = p->line;
        kc = (uint32_t)(p->pos - p->bol + 1);
        if (!yp_is_key(p)) {
            yp_fail(p, -EBADMSG,
                    p->b[p->pos] == '-' ? "a sequence item where a mapping key was expected"
                                        : "expected 'key: value'");
            return NULL;
        }
        if (yp_key(p, &key, &klen))
            return NULL;
        v = yp_map_value(p, ind, depth + 1);
        if (v == NULL)
            return NULL;
        v->key = key;
        v->key_len = klen;
        v->key_line = kl;
        v->key_col = kc;
        yp_append(map, v);
        ni = yp_next_line(p);
        if (p->rc)
            return NULL;
        if (ni > ind) {
            yp_fail_at(p, -EBADMSG, p->line, (size_t)ni + 1, "unexpected indentation");
            return NULL;
        }
        if (ni != ind)
            break;
        p->pos += (size_t)ni;
    }
    if (map && yp_check_dups(p, map))
        return NULL;
    return map;
}

static struct deps_yaml_node *yp_block_seq(struct yp *p, long ind, unsigned depth)
{
    struct deps_yaml_node *seq, *item;
    uint32_t line;
    long ni, c;

    if (depth > p->lim->max_depth) {
        yp_fail(p, -E2BIG, "YAML nested deeper than the limit");
        return NULL;
    }
    seq = yp_node(p, DEPS_YAML_SEQ);
    while (seq) {
        line = p->line;
        p->pos++; /* the '-' */
        yp_skip_blanks(p);
        if (yp_eol_at(p, p->pos) || p->b[p->pos] == '#') {
            c = (long)(p->pos - p->bol);
            yp_finish_line(p);
            ni = yp_next_line(p);
            if (p->rc)
                return NULL;
            if (ni > ind) {
                p->pos += (size_t)ni;
                item = yp_block_node(p, ni, ind, depth + 1);
            } else {
                item = yp_null(p, line, (uint32_t)c + 1);
            }
        } else {
            c = (long)(p->pos - p->bol);
            if (p->b[p->pos] == '-' && yp_sep_at(p, p->pos + 1))
                item = yp_block_seq(p, c, depth + 1);
            else if (yp_is_key(p))
                item = yp_block_map(p, c, depth + 1);
            else
                item = yp_inline(p, ind, depth + 1);
        }
        if (item == NULL)
            return NULL;
        yp_append(seq, item);
        ni = yp_next_line(p);
        if (p->rc)
            return NULL;
        if (ni > ind) {
            yp_fail_at(p, -EBADMSG, p->line, (size_t)ni + 1, "unexpected indentation");
            return NULL;
        }
        if (ni != ind ||
            !(p->b[p->pos + (size_t)ni] == '-' && yp_sep_at(p, p->pos + (size_t)ni + 1)))
            break;
        p->pos += (size_t)ni;
    }
    return seq;
}

int deps_yaml_parse(const char *buf, size_t len, const struct deps_yaml_limits *lim,
                    struct deps_lock_arena *arena, struct deps_yaml_node **docs,
                    struct deps_yaml_error *err)
{
    struct deps_yaml_node *doc, *last = NULL;
    struct yp p;
    const char *nul;
    long ni;

    memset(&p, 0, sizeof(p));
    p.b = buf;
    p.n = len;
    p.line = 1;
    p.lim = lim;
    p.arena = arena;
    p.err = err;
    memset(err, 0, sizeof(*err));
    *docs = NULL;
    nul = len ? memchr(buf, 0, len) : NULL;
    if (nul) {
        p.pos = (size_t)(nul - buf);
        for (size_t i = 0; i < p.pos; i++)
            if (buf[i] == '\n') {
                p.line++;
                p.bol = i + 1;
            }
        yp_fail(&p, -EBADMSG, "NUL byte in the text");
        goto out;
    }
    while (p.rc == 0) {
        ni = yp_next_line(&p);
        if (ni == YP_EOF)
            break;
        if (ni == YP_DOC_START || ni == YP_DOC_END) {
            p.pos += 3;
            yp_skip_blanks(&p);
            if (!yp_eol_at(&p, p.pos) && p.b[p.pos] != '#') {
                yp_fail(&p, -EBADMSG, "content on a document marker line is not supported");
                break;
            }
            yp_finish_line(&p);
            continue;
        }
        if (ni == 0 && p.b[p.pos] == '%') {
            yp_fail(&p, -EBADMSG, "YAML directives are not supported");
            break;
        }
        p.pos += (size_t)ni;
        doc = yp_block_node(&p, ni, -1, 1);
        if (doc == NULL)
            break;
        if (last)
            last->next = doc;
        else
            *docs = doc;
        last = doc;
        ni = yp_next_line(&p);
        if (ni >= 0) {
            p.pos += (size_t)ni;
            yp_fail(&p, -EBADMSG, "unexpected text after the end of a document");
        }
    }
out:
    free(p.tmp);
    if (p.rc)
        *docs = NULL;
    return p.rc;
}

const struct deps_yaml_node *deps_yaml_get(const struct deps_yaml_node *map, const char *key)
{
    const struct deps_yaml_node *c;
    size_t n = strlen(key);

    if (map == NULL || map->type != DEPS_YAML_MAP)
        return NULL;
    for (c = map->child; c; c = c->next)
        if (c->key_len == n && memcmp(c->key, key, n) == 0)
            return c;
    return NULL;
}

const char *deps_yaml_get_str(const struct deps_yaml_node *map, const char *key)
{
    const struct deps_yaml_node *v = deps_yaml_get(map, key);

    return v && v->type == DEPS_YAML_SCALAR ? v->s : NULL;
}

int deps_yaml_load(struct deps_ctx *ctx, struct deps_yaml_node **docs)
{
    struct deps_yaml_limits yl = {.max_string = ctx->lim.max_string,
                                  .max_depth = ctx->lim.max_depth,
                                  .max_nodes = ctx->lim.max_nodes};
    struct deps_yaml_error ye;
    int rc = deps_yaml_parse(ctx->buf, ctx->len, &yl, ctx->lock->arena, docs, &ye);

    if (rc == -E2BIG)
        return deps_ctx_fail(ctx, rc, ye.line, ye.column, "over a limit: %s", ye.message);
    if (rc == -ENOMEM)
        return deps_ctx_fail(ctx, rc, 0, 0, "out of memory");
    if (rc < 0)
        return deps_ctx_fail(ctx, -EBADMSG, ye.line, ye.column,
                             "not valid lockfile YAML: %s; regenerate the lockfile", ye.message);
    if (*docs == NULL)
        ctx->lock->flags |= DEPS_LOCK_F_EMPTY;
    return 0;
}

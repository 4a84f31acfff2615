/* Supply-chain scanner: the project loader (file map -> manifests, lockfile, settings). */
#include "guards/deps/project.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/yaml.h"

void deps_limits_fill(struct deps_limits *lim)
{
    if (lim->max_file_bytes == 0)
        lim->max_file_bytes = DEPS_DEFAULT_FILE_BYTES;
    if (lim->max_files == 0)
        lim->max_files = DEPS_DEFAULT_FILES;
    if (lim->max_total_bytes == 0)
        lim->max_total_bytes = DEPS_DEFAULT_TOTAL_BYTES;
    if (lim->max_depth == 0)
        lim->max_depth = DEPS_DEFAULT_DEPTH;
}

static int fail(struct deps_project_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct deps_project_error *err, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof(err->message), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Offset just past the last "node_modules/" component of path, or 0 when there is none. */
static size_t after_last_nm(const char *path, unsigned *depth)
{
    size_t off = 0;
    unsigned d = 0;

    for (const char *s = path; (s = strstr(s, "node_modules/")) != NULL; s++) {
        if (s == path || s[-1] == '/') {
            off = (size_t)(s - path) + strlen("node_modules/");
            d++;
        }
    }
    if (depth)
        *depth = d;
    return off;
}

/* Length of the component at s (up to '/' or the end). */
static size_t comp_len(const char *s)
{
    const char *slash = strchr(s, '/');
    return slash ? (size_t)(slash - s) : strlen(s);
}

static bool comp_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && memcmp(s, name, n) == 0;
}

/* The folder of the installed package that path lies in, as the package managers lay them out
 * from the first node_modules folder on: "node_modules/" then a package ("x" or "@s/x"), then
 * optionally "node_modules/" and another package, and so on. A virtual store (pnpm's
 * "node_modules/.pnpm/<id>/node_modules/" and ".pnpm/node_modules/", yarn's pnpm linker's
 * ".store", deno's ".deno") counts as one node_modules folder. A node_modules folder anywhere else
 * inside a package (its test fixtures: "x/test/fixture/node_modules/y") holds files of that
 * package, not installed packages. Returns the folder's length (0: path is in no installed package)
 * and sets *depth (when not NULL) to the node_modules folders up to it. */
static size_t install_dir(const char *path, unsigned *depth)
{
    const char *s = path;
    size_t best = 0;
    unsigned d = 0;

    if (depth)
        *depth = 0;
    /* the first node_modules folder: the project's or a workspace's */
    for (;;) {
        size_t n = comp_len(s);
        if (s[n] == '\0')
            return 0;
        if (comp_is(s, n, "node_modules"))
            break;
        s += n + 1;
    }
    for (;;) {
        /* s: just past a "node_modules/" component */
        s += strlen("node_modules/");
        size_t n = comp_len(s);
        if (s[0] == '.' && n > 1 && s[n] == '/') {
            const char *id = s + n + 1;
            size_t k = comp_len(id);
            if (comp_is(id, k, "node_modules") && id[k] == '/') {
                s = id;
                continue;
            }
            if (k == 0 || id[k] != '/' ||
                !comp_is(id + k + 1, comp_len(id + k + 1), "node_modules") ||
                id[k + 1 + strlen("node_modules")] != '/')
                break;
            s = id + k + 1;
            continue;
        }
        if (n == 0 || s[0] == '.' || s[n] != '/')
            break; /* .bin, .cache, a file: no package */
        if (s[0] == '@') {
            size_t k = comp_len(s + n + 1);
            if (k == 0 || s[n + 1 + k] != '/')
                break;
            n += 1 + k;
        }
        best = (size_t)(s - path) + n;
        if (depth)
            *depth = ++d;
        s += n + 1;
        size_t k = comp_len(s);
        if (!comp_is(s, k, "node_modules") || s[k] != '/')
            break;
    }
    return best;
}

bool deps_project_wants(const char *path)
{
    const char *b = base_name(path);
    unsigned depth;

    size_t off = after_last_nm(path, &depth);
    if (off > 0) /* package files; not .cache, .bin or pnpm's .pnpm/lock.yaml */
        return path[off] != '.';
    return strcmp(b, "package.json") == 0 ||
           (b == path && (deps_lock_format_of(b) != DEPS_LOCK_UNKNOWN || strcmp(b, ".npmrc") == 0 ||
                          strcmp(b, "pnpm-workspace.yaml") == 0));
}

/* Glob segment match: '*' any run of characters, '?' one. */
static bool seg_match(const char *g, size_t gl, const char *s, size_t sl)
{
    size_t gi = 0, si = 0, star = (size_t)-1, mark = 0;

    while (si < sl) {
        if (gi < gl && (g[gi] == '?' || g[gi] == s[si])) {
            gi++;
            si++;
        } else if (gi < gl && g[gi] == '*') {
            star = gi++;
            mark = si;
        } else if (star != (size_t)-1) {
            gi = star + 1;
            si = ++mark;
        } else {
            return false;
        }
    }
    while (gi < gl && g[gi] == '*')
        gi++;
    return gi == gl;
}

static bool glob_rec(const char *g, const char *p, unsigned budget)
{
    if (budget == 0)
        return false;
    while (*g == '/')
        g++;
    if (*g == '\0')
        return *p == '\0';
    const char *ge = strchr(g, '/');
    size_t gl = ge ? (size_t)(ge - g) : strlen(g);
    if (gl == 2 && g[0] == '*' && g[1] == '*') {
        const char *rest = g + gl;
        while (*rest == '/')
            rest++;
        if (*rest == '\0')
            return true; /* a trailing "**" takes every folder below */
        for (const char *q = p;; q++) {
            if (glob_rec(rest, q, budget - 1))
                return true;
            q = strchr(q, '/');
            if (!q)
                return false;
        }
    }
    if (*p == '\0')
        return false;
    const char *pe = strchr(p, '/');
    size_t pl = pe ? (size_t)(pe - p) : strlen(p);
    if (!seg_match(g, gl, p, pl))
        return false;
    return glob_rec(g + gl, pe ? pe + 1 : p + pl, budget - 1);
}

bool deps_glob_match(const char *glob, const char *path)
{
    if (glob[0] == '.' && glob[1] == '/')
        glob += 2;
    return glob_rec(glob, path, 64);
}

const char *deps_jv_str(const struct guard_jv *o, const char *key)
{
    const struct guard_jv *v = o ? deps_jv_get(o, key) : NULL;
    return v ? deps_jv_s(v) : NULL;
}

uint32_t deps_file_line_of(const struct deps_file *f, const char *after, const char *key)
{
    const char *s = f->data, *end = f->data + f->len;
    char pat[256];
    size_t pl;

    for (int pass = after ? 0 : 1; pass < 2; pass++) {
        const char *k = pass == 0 ? after : key;
        pl = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", k);
        if (pl >= sizeof(pat))
            return 0;
        const char *hit = NULL;
        for (const char *q = s; q + pl <= end; q++) {
            q = memchr(q, '"', (size_t)(end - q));
            if (!q || q + pl > end)
                break;
            if (memcmp(q, pat, pl) == 0) {
                hit = q;
                break;
            }
        }
        if (!hit)
            return 0;
        s = hit + (pass == 0 ? pl : 0);
    }
    uint32_t line = 1;
    for (const char *q = f->data; q < s; q++)
        line += *q == '\n';
    return line;
}

static int cmp_file(const void *a, const void *b)
{
    return strcmp(((const struct deps_file *)a)->path, ((const struct deps_file *)b)->path);
}

const struct deps_file *deps_project_file(const struct deps_project *p, const char *path)
{
    struct deps_file key = {.path = path};
    return bsearch(&key, p->files, p->n_files, sizeof(key), cmp_file);
}

bool deps_path_ok(const char *path)
{
    if (!path || !*path || path[0] == '/' || strlen(path) > 4096)
        return false;
    for (const char *s = path; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return false;
        s += n + (e ? 1 : 0);
        if (e && !*s)
            return false;
    }
    return true;
}

/* Parse a package.json into m; errors are kept in m->error (the caller decides). */
static int manifest_read(struct deps_project *p, struct deps_manifest *m)
{
    struct guard_jv_limits jl = {.max_bytes = DEPS_MANIFEST_MAX_BYTES,
                                 .max_nodes = (size_t)1 << 20,
                                 .allow_duplicates = true};
    struct guard_json_error je;
    char buf[200];
    size_t len = m->file->len;
    const char *data = m->file->data;

    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        data += 3, len -= 3;
    m->name = m->version = "";
    if (m->file->len > DEPS_MANIFEST_MAX_BYTES) {
        snprintf(buf, sizeof(buf), "larger than %zu MiB", DEPS_MANIFEST_MAX_BYTES >> 20);
    } else {
        int rc = guard_jv_parse(data, len, &jl, &m->doc, &je);
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0)
            snprintf(buf, sizeof(buf), "%u:%u: %s", je.line, je.column, je.message);
        else if (deps_jv_type(guard_jv_doc_root(m->doc)) != GUARD_JV_OBJECT)
            snprintf(buf, sizeof(buf), "1:1: not a JSON object");
        else {
            m->obj = guard_jv_doc_root(m->doc);
            const char *s = deps_jv_str(m->obj, "name");
            m->name = s ? s : "";
            s = deps_jv_str(m->obj, "version");
            m->version = s ? s : "";
            return 0;
        }
    }
    m->error = deps_arena_strndup(&p->arena, buf, strlen(buf));
    return m->error ? 0 : -ENOMEM;
}

static int cmp_man(const void *a, const void *b)
{
    const struct deps_manifest *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    return strcmp(x->dir, y->dir);
}

/* Read .npmrc: registries, strict-ssl, unsafe-perm and literal credentials. */
static int npmrc_read(struct deps_project *p, const struct deps_file *f)
{
    struct deps_npmrc *rc = &p->npmrc;
    size_t cap = 0;
    uint32_t line = 0;

    rc->file = f;
    for (size_t i = 0; i < f->len;) {
        const char *s = f->data + i, *nl = memchr(s, '\n', f->len - i);
        size_t n = nl ? (size_t)(nl - s) : f->len - i;
        i += n + 1;
        line++;
        while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        while (n > 0 && (*s == ' ' || *s == '\t'))
            s++, n--;
        if (n == 0 || *s == '#' || *s == ';')
            continue;
        const char *eq = memchr(s, '=', n);
        if (!eq)
            continue;
        size_t kl = (size_t)(eq - s), vl = n - kl - 1;
        const char *v = eq + 1;
        while (kl > 0 && (s[kl - 1] == ' ' || s[kl - 1] == '\t'))
            kl--;
        while (vl > 0 && (*v == ' ' || *v == '\t'))
            v++, vl--;
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0])
            v++, vl -= 2;
        bool is_reg = kl == 8 && memcmp(s, "registry", 8) == 0;
        bool is_scope_reg = kl > 10 && s[0] == '@' && memcmp(s + kl - 9, ":registry", 9) == 0;
        if (is_reg || is_scope_reg) {
            if (rc->n_regs == cap) {
                size_t nc = cap ? cap * 2 : 8;
                struct deps_npmrc_registry *nr = deps_arena_alloc(&p->arena, nc * sizeof(*nr));
                if (!nr)
                    return -ENOMEM;
                if (rc->n_regs)
                    memcpy(nr, rc->regs, rc->n_regs * sizeof(*nr));
                rc->regs = nr;
                cap = nc;
            }
            while (vl > 0 && v[vl - 1] == '/')
                vl--;
            struct deps_npmrc_registry *r = &rc->regs[rc->n_regs++];
            r->scope = deps_arena_strndup(&p->arena, s, is_reg ? 0 : kl - 9);
            r->url = deps_arena_strndup(&p->arena, v, vl);
            r->line = line;
            if (!r->scope || !r->url)
                return -ENOMEM;
        } else if (kl == 10 && memcmp(s, "strict-ssl", 10) == 0) {
            rc->strict_ssl = !(vl == 5 && memcmp(v, "false", 5) == 0);
            rc->strict_ssl_line = line;
        } else if (kl == 11 && memcmp(s, "unsafe-perm", 11) == 0) {
            rc->unsafe_perm = vl == 4 && memcmp(v, "true", 4) == 0;
            rc->unsafe_perm_line = line;
        } else {
            static const char *const secrets[] = {"_authToken", "_auth", "_password"};
            for (size_t k = 0; k < sizeof(secrets) / sizeof(secrets[0]); k++) {
                size_t sl = strlen(secrets[k]);
                bool literal = vl > 0 && !(vl >= 2 && v[0] == '$' && v[1] == '{');
                if (kl >= sl && memcmp(s + kl - sl, secrets[k], sl) == 0 &&
                    (kl == sl || s[kl - sl - 1] == ':') && literal &&
                    rc->n_token_lines < sizeof(rc->token_lines) / sizeof(rc->token_lines[0]))
                    rc->token_lines[rc->n_token_lines++] = line;
            }
        }
    }
    return 0;
}

/* The workspace globs of the root package.json and pnpm-workspace.yaml. */
static bool is_workspace(const struct deps_project *p, const struct guard_jv *root, const char *dir)
{
    const struct guard_jv *ws = deps_jv_get(root, "workspaces");
    const struct deps_yaml_node *pk =
        p->pnpm_ws_doc ? deps_yaml_get(p->pnpm_ws_doc, "packages") : NULL;
    bool in = false;

    if (ws && deps_jv_type(ws) == GUARD_JV_OBJECT)
        ws = deps_jv_get(ws, "packages");
    for (size_t i = 0; ws && i < deps_jv_alen(ws); i++) {
        const char *g = deps_jv_s(guard_jv_array_at(ws, i));
        if (!g)
            continue;
        if (g[0] == '!') {
            if (deps_glob_match(g + 1, dir))
                return false;
        } else if (deps_glob_match(g, dir))
            in = true;
    }
    if (pk && pk->type == DEPS_YAML_SEQ) {
        for (const struct deps_yaml_node *c = pk->child; c; c = c->next) {
            if (c->type != DEPS_YAML_SCALAR)
                continue;
            if (c->s[0] == '!') {
                if (deps_glob_match(c->s + 1, dir))
                    return false;
            } else if (deps_glob_match(c->s, dir))
                in = true;
        }
    }
    return in;
}

static int load_lock(struct deps_project *p, struct deps_project_error *err)
{
    static const char *const order[] = {"npm-shrinkwrap.json", "package-lock.json",
                                        "pnpm-lock.yaml", "yarn.lock"};
    struct deps_lock_error le;

    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        const struct deps_file *f = deps_project_file(p, order[i]);
        if (!f)
            continue;
        if (p->lock_file) {
            p->extra_locks[p->n_extra_locks++] = f;
            continue;
        }
        int rc =
            deps_lock_parse(deps_lock_format_of(order[i]), f->data, f->len, NULL, &p->lock, &le);
        if (rc == -ENOMEM)
            return rc;
        if (rc < 0)
            return fail(err, rc == -E2BIG ? -E2BIG : -EBADMSG, "%s", le.message);
        p->lock_file = f;
    }
    return 0;
}

static int load_pnpm_ws(struct deps_project *p, struct deps_project_error *err)
{
    struct deps_yaml_limits yl = {.max_string = 16384, .max_depth = 32, .max_nodes = 1 << 20};
    struct deps_yaml_error ye;
    struct deps_yaml_node *docs = NULL;
    const struct deps_file *f = deps_project_file(p, "pnpm-workspace.yaml");

    if (!f)
        return 0;
    p->pnpm_ws = f;
    if (f->len > ((size_t)4 << 20))
        return fail(err, -E2BIG,
                    "pnpm-workspace.yaml: larger than 4 MiB; it should be a few "
                    "lines of settings");
    int rc = deps_yaml_parse(f->data, f->len, &yl, &p->arena, &docs, &ye);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0)
        return fail(err, -EBADMSG, "pnpm-workspace.yaml:%u:%u: %s; fix the file and scan again",
                    ye.line, ye.column, ye.message);
    if (docs && docs->type == DEPS_YAML_MAP)
        p->pnpm_ws_doc = docs;
    else if (docs && docs->type != DEPS_YAML_NULL)
        return fail(err, -EBADMSG,
                    "pnpm-workspace.yaml:%u:%u: not a mapping of settings; it should hold keys "
                    "such as packages: and onlyBuiltDependencies:",
                    docs->line, docs->col);
    return 0;
}

int deps_project_load(const struct deps_file *files, size_t n, const struct deps_limits *lim_in,
                      struct deps_project **out, struct deps_project_error *err)
{
    struct deps_limits lim = lim_in ? *lim_in : (struct deps_limits){0};
    struct deps_project *p;
    size_t total = 0, n_man = 0;
    int rc = 0;

    *out = NULL;
    deps_limits_fill(&lim);
    if (n > lim.max_files)
        return fail(err, -E2BIG,
                    "project: %zu files, more than the cap of %zu; scan a smaller "
                    "tree or raise the cap",
                    n, lim.max_files);
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->npmrc.strict_ssl = p->npmrc.unsafe_perm = -1;
    p->files = malloc((n ? n : 1) * sizeof(*p->files));
    if (!p->files) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct deps_file *f = &files[i];
        if (!deps_path_ok(f->path)) {
            rc = fail(err, -EINVAL,
                      "%s: not a relative path inside the project (no '..', "
                      "'.', empty or absolute parts)",
                      f->path ? f->path : "(null)");
            goto out;
        }
        unsigned depth;
        after_last_nm(f->path, &depth);
        /* Package files other than package.json may come without their bytes: the content
         * rules read them through p->source, one at a time. */
        bool lazy = !f->data && f->len;
        if (lazy && (depth == 0 || strcmp(base_name(f->path), "package.json") == 0)) {
            rc = fail(err, -EINVAL, "%s: given without its content", f->path);
            goto out;
        }
        total += lazy ? 0 : f->len;
        if (total > lim.max_total_bytes) {
            rc = fail(err, -E2BIG, "project: more than %zu MiB of files; scan a smaller tree",
                      lim.max_total_bytes >> 20);
            goto out;
        }
        if (depth > lim.max_depth) {
            rc = fail(err, -E2BIG, "%s: node_modules nested %u deep, more than the cap of %u",
                      f->path, depth, lim.max_depth);
            goto out;
        }
        if (!deps_project_wants(f->path))
            continue;
        bool pkg_file = depth > 0 && strcmp(base_name(f->path), "package.json") != 0;
        if (f->len > lim.max_file_bytes && !(lazy && f->len == DEPS_FILE_LEN_UNKNOWN)) {
            if (pkg_file) {
                p->files_skipped++;
                continue;
            }
            rc = fail(err, -E2BIG, "%s: %zu bytes, more than the cap of %zu MiB", f->path, f->len,
                      lim.max_file_bytes >> 20);
            goto out;
        }
        p->files[p->n_files++] = *f;
        if (strcmp(base_name(f->path), "package.json") == 0)
            n_man++;
    }
    /* A source that walks a tree in path order (proxy/deps_fs.c) gives it sorted already, and
     * paths in increasing order are never given twice: only other maps are sorted, then
     * checked for a path given twice. */
    size_t sorted = 1;
    while (sorted < p->n_files && cmp_file(&p->files[sorted - 1], &p->files[sorted]) < 0)
        sorted++;
    if (sorted < p->n_files) {
        qsort(p->files, p->n_files, sizeof(*p->files), cmp_file);
        for (size_t i = 1; i < p->n_files; i++)
            if (strcmp(p->files[i - 1].path, p->files[i].path) == 0) {
                rc = fail(err, -EINVAL, "%s: given twice", p->files[i].path);
                goto out;
            }
    }
    const struct deps_file *root = deps_project_file(p, "package.json");
    if (!root) {
        rc = fail(err, -ENOENT,
                  "package.json: not found at the project root; point the scan "
                  "at the folder that holds the project's package.json");
        goto out;
    }
    if ((rc = load_lock(p, err)) < 0 || (rc = load_pnpm_ws(p, err)) < 0)
        goto out;
    const struct deps_file *npmrc = deps_project_file(p, ".npmrc");
    if (npmrc && (rc = npmrc_read(p, npmrc)) < 0)
        goto out;

    p->mans = deps_arena_alloc(&p->arena, (n_man ? n_man : 1) * sizeof(*p->mans));
    if (!p->mans) {
        rc = -ENOMEM;
        goto out;
    }
    struct deps_manifest *rm = &p->mans[p->n_mans++];
    rm->kind = DEPS_MAN_ROOT;
    rm->file = root;
    rm->dir = rm->dir_name = "";
    if ((rc = manifest_read(p, rm)) < 0)
        goto out;
    if (rm->error) {
        rc = fail(err, -EBADMSG, "package.json:%s; fix the project's package.json", rm->error);
        goto out;
    }
    for (size_t i = 0; i < p->n_files; i++) {
        const struct deps_file *f = &p->files[i];
        const char *b = base_name(f->path);
        if (strcmp(b, "package.json") != 0 || b == f->path)
            continue;
        size_t dl = (size_t)(b - f->path) - 1;
        size_t off = after_last_nm(f->path, NULL);
        struct deps_manifest m = {0};
        m.file = f;
        m.dir = deps_arena_strndup(&p->arena, f->path, dl);
        if (!m.dir) {
            rc = -ENOMEM;
            goto out;
        }
        if (off > 0) {
            /* the folder name starts after the last node_modules/ ("x", "@s/x") */
            if (install_dir(f->path, &m.depth) != dl)
                continue; /* a package.json deeper in a package (tests, fixtures) */
            m.kind = DEPS_MAN_INSTALLED;
            m.dir_name = deps_arena_strndup(&p->arena, f->path + off, dl - off);
            if (!m.dir_name) {
                rc = -ENOMEM;
                goto out;
            }
        } else {
            if (!is_workspace(p, rm->obj, m.dir))
                continue;
            m.kind = DEPS_MAN_WORKSPACE;
            m.dir_name = "";
        }
        if ((rc = manifest_read(p, &m)) < 0)
            goto out;
        if (m.error && m.kind == DEPS_MAN_WORKSPACE) {
            guard_jv_doc_free(m.doc);
            rc = fail(err, -EBADMSG, "%s:%s; fix the workspace's package.json", f->path, m.error);
            goto out;
        }
        p->mans[p->n_mans++] = m;
        p->n_workspaces += m.kind == DEPS_MAN_WORKSPACE;
        p->n_installed += m.kind == DEPS_MAN_INSTALLED;
    }
    qsort(p->mans + 1, p->n_mans - 1, sizeof(*p->mans), cmp_man);
out:
    if (rc < 0) {
        deps_project_free(p);
        return rc == -ENOMEM ? fail(err, rc, "project: out of memory") : rc;
    }
    *out = p;
    return 0;
}

void deps_project_free(struct deps_project *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_mans; i++)
        guard_jv_doc_free(p->mans[i].doc);
    deps_lock_free(p->lock);
    deps_arena_free(&p->arena);
    free(p->files);
    free(p);
}

static int cmp_man_dir(const void *key, const void *elem)
{
    return strcmp(key, ((const struct deps_manifest *)elem)->dir);
}

const struct deps_manifest *deps_project_manifest(const struct deps_project *p, const char *dir)
{
    if (*dir == '\0')
        return p->n_mans ? &p->mans[0] : NULL;
    const struct deps_manifest *ws = p->mans + 1, *inst = ws + p->n_workspaces;
    const struct deps_manifest *m = bsearch(dir, inst, p->n_installed, sizeof(*inst), cmp_man_dir);
    return m ? m : bsearch(dir, ws, p->n_workspaces, sizeof(*ws), cmp_man_dir);
}

const struct deps_manifest *deps_project_owner(const struct deps_project *p, const char *path)
{
    size_t n = install_dir(path, NULL);
    char dir[4096];

    if (n == 0 || n >= sizeof(dir))
        return NULL;
    memcpy(dir, path, n);
    dir[n] = '\0';
    const struct deps_manifest *inst = p->mans + 1 + p->n_workspaces;
    return bsearch(dir, inst, p->n_installed, sizeof(*inst), cmp_man_dir);
}

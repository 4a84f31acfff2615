/* Supply-chain scanner: a project (manifests, lockfile, .npmrc, pnpm workspace, installed
 * packages) loaded from an in-memory file map, so the CLI and the endpoint share one loader. */
#ifndef WARDEN_GUARDS_DEPS_PROJECT_H
#define WARDEN_GUARDS_DEPS_PROJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "guards/deps/lock.h"
#include "guards/deps/lock_int.h"
#include "guards/json_value.h"

/* One file of the project: path relative to the project root, '/'-separated, no "." or ".."
 * components. The bytes are borrowed: they must outlive the project. A package file other
 * than package.json may have data NULL and len its size, or DEPS_FILE_LEN_UNKNOWN when the
 * caller did not stat it: its bytes then come from the project's source (struct
 * deps_file_source), which also applies the size cap to a file of unknown size. */
struct deps_file {
    const char *path;
    const char *data;
    size_t len;
};

#define DEPS_FILE_LEN_UNKNOWN SIZE_MAX

/* Hard caps, shared by the loader and the layer that reads a directory. Zero fields take the
 * defaults. */
struct deps_limits {
    size_t max_file_bytes;  /* one manifest or lockfile (larger package files are skipped);
                             * default 64 MiB */
    size_t max_files;       /* files in the map; default 200000 */
    size_t max_total_bytes; /* all files together; default 1 GiB */
    unsigned max_depth;     /* nested node_modules folders (and directory depth / 4); default 16 */
};

#define DEPS_DEFAULT_FILE_BYTES  ((size_t)64 << 20)
#define DEPS_DEFAULT_FILES       200000
#define DEPS_DEFAULT_TOTAL_BYTES ((size_t)1 << 30)
#define DEPS_DEFAULT_DEPTH       16
#define DEPS_MANIFEST_MAX_BYTES  ((size_t)8 << 20) /* package.json; installed ones keep READMEs */

/* Fill the zero fields of *lim with the defaults. */
void deps_limits_fill(struct deps_limits *lim);

enum deps_manifest_kind {
    DEPS_MAN_ROOT = 0,  /* package.json at the project root */
    DEPS_MAN_WORKSPACE, /* a workspace package (npm/yarn workspaces, pnpm-workspace.yaml) */
    DEPS_MAN_INSTALLED, /* installed under node_modules */
};

/* One package.json. `obj` is its top-level object (NULL when the file does not parse: then
 * `error` says why and the name/version are taken from the folder). */
struct deps_manifest {
    enum deps_manifest_kind kind;
    const struct deps_file *file;
    const char *dir;      /* "" for the root, "packages/a", "node_modules/@s/x" */
    const char *name;     /* "name" field, "" when absent */
    const char *version;  /* "version" field, "" when absent */
    const char *dir_name; /* installed: the name the folder implies ("@s/x"), else "" */
    unsigned depth;       /* installed: nested node_modules folders (1 for node_modules/x) */
    const struct guard_jv *obj;
    const char *error;
    struct guard_jv_doc *doc;
};

/* A registry set in .npmrc for one scope ("" = the default registry). */
struct deps_npmrc_registry {
    const char *scope; /* "@corp" or "" */
    const char *url;   /* as written, trailing '/' removed */
    uint32_t line;
};

/* The settings of the root .npmrc the rules read. */
struct deps_npmrc {
    const struct deps_file *file; /* NULL when there is none */
    struct deps_npmrc_registry *regs;
    size_t n_regs;
    int strict_ssl; /* -1 unset, 0 false, 1 true */
    uint32_t strict_ssl_line;
    int unsafe_perm; /* -1 unset, 0, 1 */
    uint32_t unsafe_perm_line;
    uint32_t token_lines[8]; /* lines holding a literal (non-${ENV}) auth token or password */
    size_t n_token_lines;
};

/* Where the bytes of a package file come from when the map leaves them out (data NULL, len
 * its size): the disk layer reads package files one at a time, as the content rules ask for
 * them, so that a scan never holds the whole tree in memory. */
struct deps_file_source {
    void *ctx;
    /* The bytes of f (at most f->len when it is known), valid until the next call (in a
     * batch: until the next batch); 0, or a negative errno (the file is then counted in the
     * report's files_skipped; -EFBIG for a file of unknown size over the cap). */
    int (*read)(void *ctx, const struct deps_file *f, const char **data, size_t *len);
    /* Optional (NULL: none). f will be read soon: the content rules name each file they will
     * read a few files ahead, in the order of the reads. A hint only, which the disk layer
     * uses to have files that are not in the page cache read in the background. Returns 1
     * when such hints are used now, 0 when they are not (f NULL: only asks), so that no work
     * goes into them while the tree is cached. */
    int (*will_read)(void *ctx, const struct deps_file *f);
    /* Optional (NULL: none). Begin a batch of reads whose bytes all stay valid until the next
     * call, `bytes` of them at most: a read that finds no room left (any but the batch's first,
     * which may be larger) reads nothing and returns -ENOBUFS, and the same file is read first
     * in the next batch. A source may give a batch that a large file begins (over bytes / 4)
     * to large files only, up to its cap on one file together, so that their digests too are
     * computed side by side. bytes 0 ends batches: one read valid at a time again. 0, or
     * -ENOMEM (no batch then). */
    int (*batch)(void *ctx, size_t bytes);
};

/* A loaded project. Arrays are sorted by path; manifests: root first, then workspaces, then
 * installed packages. Free with deps_project_free. */
struct deps_project {
    struct deps_file *files;
    size_t n_files;
    struct deps_manifest *mans;
    size_t n_mans;
    size_t n_workspaces;
    size_t n_installed;
    struct deps_lock *lock;                 /* NULL when no lockfile */
    const struct deps_file *lock_file;      /* the lockfile used */
    const struct deps_file *extra_locks[4]; /* other lockfiles present at the root */
    size_t n_extra_locks;
    struct deps_npmrc npmrc;
    const struct deps_file *pnpm_ws;          /* pnpm-workspace.yaml, or NULL */
    const struct deps_yaml_node *pnpm_ws_doc; /* its first document (a MAP), or NULL */
    size_t files_skipped;                     /* package files over the cap, not analysed */
    const struct deps_file_source *source;    /* set by the caller: bytes of lazy files */
    struct deps_lock_arena arena;
};

/* Why a project could not be loaded: "FILE[:LINE[:COLUMN]]: what is wrong; what to do". */
struct deps_project_error {
    char message[512];
};

/* Load a project from n files (any order; borrowed, must outlive the project). lim may be
 * NULL. Returns 0 with *out set, or with err filled and *out NULL:
 *   -ENOENT  no package.json at the root;
 *   -EBADMSG the root package.json, a workspace package.json, the lockfile or
 *            pnpm-workspace.yaml does not parse (installed package.json files that do not
 *            parse are kept and reported as findings instead);
 *   -E2BIG   a cap was exceeded; -EINVAL a bad path (absolute, "..", empty, duplicate);
 *   -ENOMEM. */
int deps_project_load(const struct deps_file *files, size_t n, const struct deps_limits *lim,
                      struct deps_project **out, struct deps_project_error *err);

/* Is `path` a relative path inside the project: '/'-separated, no empty, "." or ".." parts,
 * not absolute, at most 4096 bytes? */
bool deps_path_ok(const char *path);

/* Free a project. NULL is fine. */
void deps_project_free(struct deps_project *p);

/* The manifest whose folder is `dir`, or NULL. */
const struct deps_manifest *deps_project_manifest(const struct deps_project *p, const char *dir);

/* The installed package a file belongs to (the manifest of the innermost node_modules package
 * folder holding it), or NULL. */
const struct deps_manifest *deps_project_owner(const struct deps_project *p, const char *path);

/* The file at `path`, or NULL. */
const struct deps_file *deps_project_file(const struct deps_project *p, const char *path);

/* Is `path` a file the scanner reads (a manifest, a lockfile, .npmrc, pnpm-workspace.yaml, or
 * a file of an installed package; not node_modules/.cache and other dot folders)? The
 * directory reader uses it to skip the rest. */
bool deps_project_wants(const char *path);

/* Does `path` match a workspace glob? A "*" matches within one folder name, a "**" segment
 * any number of folders, a leading "!" is handled by the caller. */
bool deps_glob_match(const char *glob, const char *path);

/* NULL-tolerant accessors over guard_jv (package.json fields are often absent): a NULL or
 * wrong-typed value reads as empty. */
static inline enum guard_jv_type deps_jv_type(const struct guard_jv *v)
{
    return v ? guard_jv_type(v) : GUARD_JV_NULL;
}
static inline const struct guard_jv *deps_jv_get(const struct guard_jv *o, const char *key)
{
    return o && guard_jv_type(o) == GUARD_JV_OBJECT ? guard_jv_object_get(o, key, strlen(key))
                                                    : NULL;
}
static inline size_t deps_jv_olen(const struct guard_jv *o)
{
    return o ? guard_jv_object_len(o) : 0;
}
static inline size_t deps_jv_alen(const struct guard_jv *a)
{
    return a ? guard_jv_array_len(a) : 0;
}
static inline const char *deps_jv_s(const struct guard_jv *v)
{
    return v ? guard_jv_string(v, NULL) : NULL;
}

/* The string value of member `key` of object o, or NULL. */
const char *deps_jv_str(const struct guard_jv *o, const char *key);

/* 1-based line of the first `"key"` (JSON-quoted) in f after the first `"after"` when after is
 * not NULL; 0 when not found. */
uint32_t deps_file_line_of(const struct deps_file *f, const char *after, const char *key);

#endif

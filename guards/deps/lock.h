/* Lockfile parsers for npm, pnpm and yarn: one capped, sorted list of locked packages. */
#ifndef WARDEN_GUARDS_DEPS_LOCK_H
#define WARDEN_GUARDS_DEPS_LOCK_H

#include <stddef.h>
#include <stdint.h>

/* Which lockfile a buffer holds. DEPS_LOCK_YARN is an input only: the parser tells v1 from
 * Berry by the content and reports DEPS_LOCK_YARN_V1 or DEPS_LOCK_YARN_BERRY. */
enum deps_lock_format {
    DEPS_LOCK_UNKNOWN = 0,
    DEPS_LOCK_NPM,            /* package-lock.json, lockfileVersion 1, 2, 3 */
    DEPS_LOCK_NPM_SHRINKWRAP, /* npm-shrinkwrap.json, same format as package-lock.json */
    DEPS_LOCK_PNPM,           /* pnpm-lock.yaml, lockfileVersion 5.x, 6.x, 9.x */
    DEPS_LOCK_YARN,           /* yarn.lock, either of the two below */
    DEPS_LOCK_YARN_V1,        /* yarn.lock of yarn 1 (its own indented format) */
    DEPS_LOCK_YARN_BERRY,     /* yarn.lock of yarn 2+ (YAML with __metadata) */
};

/* What a package's `resolved` points at (from the URL or spec, not from the registry). */
enum deps_res_kind {
    DEPS_RES_NONE = 0,  /* nothing recorded */
    DEPS_RES_REGISTRY,  /* a registry tarball (URL with /-/ or a registry-only lockfile entry) */
    DEPS_RES_TARBALL,   /* another http(s) tarball URL */
    DEPS_RES_GIT,       /* git+..., git://, ssh://, git@host: */
    DEPS_RES_HOSTED,    /* github:, gitlab:, bitbucket:, gist: or a bare owner/repo */
    DEPS_RES_FILE,      /* file: or a relative/absolute path */
    DEPS_RES_LINK,      /* link: or a symlinked folder */
    DEPS_RES_WORKSPACE, /* workspace: or a workspace folder */
    DEPS_RES_OTHER,     /* anything else (patch:, portal:, exec:, ...) */
};

/* Package flags, where the format records them. */
#define DEPS_PKG_F_DEV            0x001u /* only needed by devDependencies */
#define DEPS_PKG_F_OPTIONAL       0x002u /* only needed by optionalDependencies */
#define DEPS_PKG_F_DEV_OPTIONAL   0x004u /* npm devOptional: dev or optional, not both */
#define DEPS_PKG_F_PEER           0x008u /* npm peer: installed as a peer dependency */
#define DEPS_PKG_F_BUNDLED        0x010u /* shipped inside another package's tarball */
#define DEPS_PKG_F_LINK           0x020u /* a symlink (npm link, pnpm link:, yarn soft link) */
#define DEPS_PKG_F_WORKSPACE      0x040u /* a workspace package of this project */
#define DEPS_PKG_F_INSTALL_SCRIPT 0x080u /* hasInstallScript / requiresBuild recorded */
#define DEPS_PKG_F_EXTRANEOUS     0x100u /* npm extraneous */
#define DEPS_PKG_F_HAS_BIN        0x200u /* hasBin / bin recorded */

/* One locked package. Strings are NUL-terminated, owned by the struct deps_lock. */
struct deps_pkg {
    const char *name;      /* real package name (an npm: alias resolved), never NULL */
    const char *alias;     /* name it is installed under when aliased (npm:), else NULL */
    const char *version;   /* as locked; "" when the lockfile records none */
    const char *resolved;  /* URL or spec (tarball, git+, github:, file:, ...), or NULL */
    const char *integrity; /* SRI string ("sha512-..."), or NULL */
    const char *checksum;  /* yarn Berry checksum (not SRI: hash of the zip), or NULL */
    const char *location;  /* the entry's key in the lockfile (node_modules path, pnpm key,
                            * yarn specs as written) */
    uint32_t line;         /* 1-based line of the entry's key */
    uint32_t flags;        /* DEPS_PKG_F_* */
    enum deps_res_kind res_kind;
};

/* Kind of a direct dependency declared by a project or workspace. */
enum deps_dep_kind {
    DEPS_DEP_UNSPECIFIED = 0, /* the format does not say (yarn Berry merges them) */
    DEPS_DEP_PROD,            /* dependencies */
    DEPS_DEP_DEV,             /* devDependencies */
    DEPS_DEP_OPTIONAL,        /* optionalDependencies */
    DEPS_DEP_PEER,            /* peerDependencies */
    DEPS_DEP_OTHER,           /* pnpm configDependencies, packageManagerDependencies, ... */
};

/* A direct dependency of the root project or of one workspace/importer, as the lockfile
 * recorded it, for comparison with package.json. npm v1 and yarn v1 record none. */
struct deps_dep {
    const char *importer; /* "." for the root, else the workspace path ("packages/a") */
    const char *name;     /* the name in package.json (an alias stays the alias) */
    const char *spec;     /* the range or spec as written in package.json; "" if unknown */
    const char *version;  /* what it resolved to when recorded (pnpm), else NULL */
    enum deps_dep_kind kind;
    uint32_t line; /* 1-based line in the lockfile */
};

/* Lock-level flags. */
#define DEPS_LOCK_F_EMPTY 0x1u /* the file holds no entries at all (empty or comments only) */

struct deps_lock_arena;

/* A parsed lockfile. Arrays are sorted: packages by name, version, location (bytes);
 * dependencies by importer, name, kind. Read-only; free with deps_lock_free. */
struct deps_lock {
    enum deps_lock_format format; /* as detected (never DEPS_LOCK_YARN) */
    const char *version;          /* lockfileVersion as written ("3", "9.0", "1" for yarn v1,
                                   * __metadata.version for Berry); "" when absent */
    uint32_t flags;               /* DEPS_LOCK_F_* */
    size_t n_pkgs;
    struct deps_pkg *pkgs;
    size_t n_deps;
    struct deps_dep *deps;
    struct deps_lock_arena *arena; /* private: owns every string above */
};

/* Hard caps on one lockfile. Zero fields take the defaults. */
struct deps_lock_limits {
    size_t max_bytes;    /* input length; default 64 MiB */
    size_t max_packages; /* locked packages; default 200000 */
    size_t max_deps;     /* direct dependencies over all importers; default 100000 */
    size_t max_string;   /* one key or value; default 16 KiB */
    size_t max_nodes;    /* JSON/YAML values in the document; default 8 Mi */
    unsigned max_depth;  /* nesting of JSON/YAML collections; default 64, at most 256 */
};

#define DEPS_LOCK_DEFAULT_BYTES    ((size_t)64 << 20)
#define DEPS_LOCK_DEFAULT_PACKAGES 200000
#define DEPS_LOCK_DEFAULT_DEPS     100000
#define DEPS_LOCK_DEFAULT_STRING   16384
#define DEPS_LOCK_DEFAULT_NODES    ((size_t)8 << 20)
#define DEPS_LOCK_DEFAULT_DEPTH    64
#define DEPS_LOCK_MAX_DEPTH        256

/* Why a lockfile was rejected. `message` is complete text for a user:
 * "FILE[:LINE[:COLUMN]]: what is wrong; what to do", FILE being the format's usual file name. */
struct deps_lock_error {
    uint32_t line;   /* 1-based, 0 when not known */
    uint32_t column; /* 1-based byte column, 0 when not known */
    char message[384];
};

/* The format a file name implies (its last path component): package-lock.json,
 * npm-shrinkwrap.json, pnpm-lock.yaml, yarn.lock; DEPS_LOCK_UNKNOWN otherwise. */
enum deps_lock_format deps_lock_format_of(const char *filename);

/* The usual file name of a format ("package-lock.json", ...; "lockfile" when unknown). */
const char *deps_lock_format_file(enum deps_lock_format fmt);

/* A short name of a format for reports ("npm", "npm-shrinkwrap", "pnpm", "yarn-v1",
 * "yarn-berry", "yarn", "unknown"). */
const char *deps_lock_format_name(enum deps_lock_format fmt);

/* Classify a resolved URL or spec (len bytes). */
enum deps_res_kind deps_res_kind_of(const char *s, size_t len);

/* "registry", "tarball", "git", "hosted", "file", "link", "workspace", "other", "none". */
const char *deps_res_kind_name(enum deps_res_kind kind);

/* Parse one lockfile held in buf (len bytes, need not be NUL-terminated; a UTF-8 BOM and
 * CRLF line ends are accepted). lim may be NULL for the defaults. On success *out owns the
 * result (free with deps_lock_free) and 0 is returned. An empty YAML or yarn lockfile, or
 * one holding only comments, parses to no packages with DEPS_LOCK_F_EMPTY (an empty JSON
 * lockfile is an error: JSON needs a value). Errors, with err filled (err may be
 * NULL) and *out NULL:
 *   -EBADMSG  not the format (syntax error, wrong shape, a key that names no package);
 *   -ENOTSUP  a lockfileVersion this parser does not read;
 *   -E2BIG    a cap was exceeded;
 *   -EINVAL   bad arguments (unknown format, limit above its ceiling); -ENOMEM. */
int deps_lock_parse(enum deps_lock_format fmt, const char *buf, size_t len,
                    const struct deps_lock_limits *lim, struct deps_lock **out,
                    struct deps_lock_error *err);

/* Free a parsed lockfile and every string in it. NULL is fine. */
void deps_lock_free(struct deps_lock *lock);

#endif

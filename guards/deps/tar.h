/* Supply-chain scanner: a project sent as a tarball (tar, or tar.gz), read into the file map
 * the project loader takes. Untrusted input: every size is capped, links and special files
 * are refused, nothing touches the disk. */
#ifndef WARDEN_GUARDS_DEPS_TAR_H
#define WARDEN_GUARDS_DEPS_TAR_H

#include <stddef.h>

#include "guards/deps/project.h"

struct deps_tar_limits {
    size_t max_bytes;   /* the tar stream after gunzip; default 256 MiB */
    size_t max_entries; /* headers of any kind; default 200000 */
};

#define DEPS_TAR_DEFAULT_BYTES   ((size_t)256 << 20)
#define DEPS_TAR_DEFAULT_ENTRIES 200000
#define DEPS_TAR_PATH_MAX        4096

/* The regular files of a tarball. `files[i].data` points into `buf`; paths are relative to
 * the project root: a leading "./" is dropped, and so is one folder that holds everything
 * when the root itself has no package.json (as `tar czf p.tgz project/` and `npm pack`
 * write them). Folders are skipped. */
struct deps_tar {
    struct deps_file *files;
    size_t n;
    char *buf;            /* the tar stream (gunzipped when it was compressed) */
    char **paths;         /* owned path strings, n of them */
    size_t links_skipped; /* links that stay inside the project: never followed */
};

/* Read a tar or gzip-compressed tar (by its magic bytes) of `len` bytes. Returns 0 with *out
 * filled (free with deps_tar_free), or with err set to "what; what to do":
 *   -EBADMSG not a tar or gzip stream, a corrupt header (bad checksum, bad size), a
 *            truncated archive;
 *   -EPERM   a link that points outside the project, a device, FIFO or other special
 *            entry, or a path with ".." or an absolute path (named in err); links that
 *            stay inside (node_modules/.bin, pnpm's layout) are skipped, never followed;
 *   -E2BIG   past a cap;
 *   -ENOMEM. */
int deps_tar_read(const char *data, size_t len, const struct deps_tar_limits *lim,
                  struct deps_tar *out, char *err, size_t errlen);
void deps_tar_free(struct deps_tar *t);

#endif

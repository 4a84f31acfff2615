/* The scanner's disk layer: a project directory read into a file map, capped, no symlinks. */
#ifndef WARDEN_PROXY_DEPS_FS_H
#define WARDEN_PROXY_DEPS_FS_H

#include <stddef.h>

#include "guards/deps/project.h"

#define PROXY_DEPS_FS_DIRS  72   /* folder levels kept open while reading package files */
#define PROXY_DEPS_FS_PATH  4096 /* longest path read */
#define PROXY_DEPS_FS_AHEAD 32   /* package files opened ahead of their reads, at most */

/* The files of a project that the scanner reads (deps_project_wants): manifests, lockfiles
 * and settings as malloc'd copies; the other package files by path only (data NULL, len
 * DEPS_FILE_LEN_UNKNOWN: the walk takes the entry type from readdir and does not stat them),
 * read one at a time through proxy_deps_fs_source when the content rules want them. */
struct proxy_deps_fs {
    struct deps_file *files;
    size_t n, cap;
    size_t bytes;          /* read in total */
    size_t skipped;        /* package files the walk saw over the size cap (the others are
                            * found over it when read: proxy_deps_fs_source) */
    size_t links;          /* symbolic links not followed */
    int root_fd;           /* the project folder, for the reads that come later */
    size_t max_file_bytes; /* package files larger than this are not read (files_skipped) */
    /* the package file being read; in a batch (proxy_deps_fs_source's `batch`), the files
     * read since it began, one after the other */
    char *buf;
    size_t buf_cap, buf_used;
    size_t batch_cap;   /* the batch's bytes, 0 when there is none */
    size_t batch_reads; /* reads in the batch (empty files too: none may move the buffer) */
    /* A batch begun by a large file (over a quarter of batch_cap) is a group of large files
     * only, up to max_file_bytes together: each would otherwise have its hash to itself,
     * one stream of the CPU's SHA instructions where four run side by side. */
    bool group;
    /* the file a read found no room for in the batch, kept open for the read that follows */
    const struct deps_file *held_f;
    int held_fd;
    size_t held_len;
    /* the folders of the last package file read, kept open for the next one */
    int dir_fd[PROXY_DEPS_FS_DIRS];
    size_t dir_end[PROXY_DEPS_FS_DIRS]; /* where each level's name ends in dir_path */
    size_t n_dirs;
    char dir_path[PROXY_DEPS_FS_PATH];
    /* Read-ahead. A read that finds its file not in the page cache (a first scan after a
     * reboot, or after the kernel dropped the tree) turns it on for the rest of the scan:
     * each file the content rules name ahead (will_read) is then opened and its pages asked
     * for (POSIX_FADV_WILLNEED), so that the disk works on many files while the analysers run
     * rather than on one at a time. With the tree cached, nothing is done ahead. */
    int cold; /* 1: reading ahead; 0: not (yet); -1: reads cannot tell (no RWF_NOWAIT) */
    struct {
        const struct deps_file *f;
        int fd;
    } ahead[PROXY_DEPS_FS_AHEAD]; /* a ring, in the order of the hints */
    size_t ahead_first, n_ahead;
};

/* Read dir: manifests and settings at any depth outside node_modules (directory depth capped
 * at 4 x max_depth, .git skipped), every regular file of node_modules (nesting capped at
 * max_depth). Symbolic links are never followed (pnpm's node_modules/.pnpm store is read
 * directly). Caps from lim (NULL: defaults). Returns 0, or a negative errno with
 * "PATH: what; what to do" in err. */
int proxy_deps_fs_read(const char *dir, const struct deps_limits *lim, struct proxy_deps_fs *out,
                       char *err, size_t errlen);

/* The source that reads the files left out of the map (set it as the project's source).
 * Valid while fs is. */
void proxy_deps_fs_source(struct proxy_deps_fs *fs, struct deps_file_source *src);

/* Tests: read ahead from the start, as when a read has found the tree not cached. */
void proxy_deps_fs_read_ahead(struct proxy_deps_fs *fs);

/* Free the files. NULL is fine. */
void proxy_deps_fs_free(struct proxy_deps_fs *fs);

#endif

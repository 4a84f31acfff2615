/* The scanner's disk layer: walk a project directory into a capped in-memory file map. */
#include "proxy/deps_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FS_MAX_PATH PROXY_DEPS_FS_PATH

struct fs_walk {
    struct proxy_deps_fs *fs;
    struct deps_limits lim;
    char *err;
    size_t errlen;
    const char *root;
    /* getdents64's buffer: a folder is listed whole before its subfolders are walked */
    char *dents;
};

#define FS_DENTS ((size_t)32 << 10)

/* A package file other than package.json: read later, when the content rules want it. */
static bool fs_lazy(const char *name, const char *rel)
{
    return (strncmp(rel, "node_modules/", 13) == 0 || strstr(rel, "/node_modules/")) &&
           strcmp(name, "package.json") != 0;
}

/* Add the regular file rel (name in dirfd) of len bytes; DEPS_FILE_LEN_UNKNOWN for a lazy one
 * not stat'ed by the walk. lazy: fs_lazy(name, rel), which the walk has worked out. */
static int fs_add(struct fs_walk *w, int dirfd, const char *name, const char *rel, size_t len,
                  bool lazy)
{
    struct proxy_deps_fs *fs = w->fs;
    int rc = 0;

    if (len != DEPS_FILE_LEN_UNKNOWN && len > w->lim.max_file_bytes) {
        if (lazy) {
            fs->skipped++;
            return 0;
        }
        snprintf(w->err, w->errlen, "%s/%s: %zu bytes, more than the cap of %zu MiB", w->root, rel,
                 len, w->lim.max_file_bytes >> 20);
        return -E2BIG;
    }
    if (fs->n >= w->lim.max_files) {
        snprintf(w->err, w->errlen, "%s: more than %zu files to scan; scan a smaller tree", w->root,
                 w->lim.max_files);
        return -E2BIG;
    }
    if (fs->n == fs->cap) {
        size_t nc = fs->cap ? fs->cap * 2 : 256;
        struct deps_file *nf = realloc(fs->files, nc * sizeof(*nf));
        if (!nf)
            return -ENOMEM;
        fs->files = nf;
        fs->cap = nc;
    }
    /* Package files other than package.json are read later, one at a time, by the content
     * rules (proxy_deps_fs_source): the tree is never held in memory whole. */
    if (lazy) {
        char *path = strdup(rel);
        if (!path)
            return -ENOMEM;
        fs->files[fs->n++] = (struct deps_file){path, NULL, len};
        return 0;
    }
    if (fs->bytes + len > w->lim.max_total_bytes) {
        snprintf(w->err, w->errlen, "%s: more than %zu MiB to scan; scan a smaller tree", w->root,
                 w->lim.max_total_bytes >> 20);
        return -E2BIG;
    }
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    char *data = malloc(len ? len : 1), *path = strdup(rel);
    size_t got = 0;
    if (fd < 0) {
        snprintf(w->err, w->errlen, "%s/%s: cannot open: %s", w->root, rel, strerror(errno));
        rc = -errno;
        goto out;
    }
    if (!data || !path) {
        rc = -ENOMEM;
        goto out;
    }
    while (got < len) {
        ssize_t r = read(fd, data + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    fs->files[fs->n++] = (struct deps_file){path, data, got};
    fs->bytes += got;
    data = path = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(data);
    free(path);
    return rc;
}

/* A directory's entries are kept in one buffer, each as the d_type byte, then the name and
 * its NUL; they are sorted through an array of pointers to them. A folder's name sorts as if
 * followed by its '/' ("b-x.js", "b.js", "b/c.js"), so that the walk adds the files in the
 * order of their paths and the loader finds the map sorted (deps_project_load). */
static int cmp_name(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    unsigned char ex = x[0] == DT_DIR ? '/' : 0, ey = y[0] == DT_DIR ? '/' : 0;

    for (x++, y++; *x != 0 && *x == *y; x++, y++)
        ;
    unsigned cx = *x ? *x : ex, cy = *y ? *y : ey;
    return (cx > cy) - (cx < cy);
}

/* Room for n more bytes at buf[used]: 0, or -ENOMEM. */
static int grow(char **buf, size_t *cap, size_t used, size_t n)
{
    if (used + n <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 4096;
    while (nc < used + n)
        nc *= 2;
    char *nb = realloc(*buf, nc);
    if (!nb)
        return -ENOMEM;
    *buf = nb;
    *cap = nc;
    return 0;
}

/* Walk one directory (rel is its path from the root, "" for the root), and close dirfd. The
 * entry type comes from getdents64 where the file system gives it: a stat only for the files to
 * be read (their size) and for entries of unknown type. The entries are read straight from the
 * kernel: opendir's DIR would cost two more system calls per folder (fstat, fcntl). */
static int fs_walk_dir(struct fs_walk *w, int dirfd, const char *rel, unsigned depth,
                       unsigned nm_depth)
{
    char **names = NULL, *buf = NULL;
    size_t n = 0, used = 0, cap = 0, rl = strlen(rel);
    int rc = 0;

    for (;;) {
        ssize_t got = getdents64(dirfd, w->dents, FS_DENTS);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) /* the end, or an error: as readdir, the entries read so far */
            break;
        for (size_t off = 0; off < (size_t)got;) {
            const struct dirent64 *e = (const struct dirent64 *)(const void *)(w->dents + off);
            if (e->d_reclen == 0) /* never from a kernel; no endless loop if it were */
                break;
            off += e->d_reclen;
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                strcmp(e->d_name, ".git") == 0)
                continue;
            size_t k = strlen(e->d_name);
            if (grow(&buf, &cap, used, k + 2) < 0) {
                rc = -ENOMEM;
                goto out;
            }
            buf[used] = (char)e->d_type;
            memcpy(buf + used + 1, e->d_name, k + 1);
            used += k + 2;
            n++;
        }
    }
    if (n > 0 && !(names = malloc(n * sizeof(*names)))) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        names[i] = buf + at;
        at += strlen(buf + at + 1) + 2;
    }
    if (n > 1) /* a stable order: same tree, same reads */
        qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[FS_MAX_PATH];
        const char *name = names[i] + 1;
        unsigned char type = (unsigned char)names[i][0];
        struct stat st;
        size_t nl = strlen(name), len = rl + (rl > 0) + nl;
        if (len >= sizeof(path)) {
            snprintf(w->err, w->errlen, "%s/%s: path longer than %d bytes", w->root, rel,
                     FS_MAX_PATH);
            rc = -E2BIG;
            break;
        }
        memcpy(path, rel, rl);
        if (rl > 0)
            path[rl] = '/';
        memcpy(path + len - nl, name, nl + 1);
        bool checked = type == DT_REG;
        if (checked && !deps_project_wants(path))
            continue;
        if (checked && fs_lazy(name, path)) { /* its size is read with it */
            rc = fs_add(w, dirfd, name, path, DEPS_FILE_LEN_UNKNOWN, true);
            continue;
        }
        if (type == DT_REG || type == DT_UNKNOWN) {
            if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                continue;
            type = S_ISLNK(st.st_mode)   ? DT_LNK
                   : S_ISDIR(st.st_mode) ? DT_DIR
                   : S_ISREG(st.st_mode) ? DT_REG
                                         : DT_UNKNOWN;
        }
        if (type == DT_LNK) {
            w->fs->links++;
            continue;
        }
        if (type == DT_DIR) {
            bool nm = strcmp(name, "node_modules") == 0;
            unsigned nmd = nm_depth + (nm ? 1 : 0);
            if (nmd > w->lim.max_depth) {
                snprintf(w->err, w->errlen,
                         "%s/%s: node_modules nested %u deep, more than the "
                         "cap of %u",
                         w->root, path, nmd, w->lim.max_depth);
                rc = -E2BIG;
                break;
            }
            if (depth + 1 > 4 * w->lim.max_depth)
                continue; /* deeper folders are not part of a project's layout */
            int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                rc = fs_walk_dir(w, fd, path, depth + 1, nmd);
            continue;
        }
        if (type == DT_REG && (checked || deps_project_wants(path)))
            rc = st.st_size < 0
                     ? 0
                     : fs_add(w, dirfd, name, path, (size_t)st.st_size, fs_lazy(name, path));
    }
out:
    free(names);
    free(buf);
    close(dirfd);
    return rc;
}

/* Close the cached folders from level `keep` down. */
static void dirs_drop(struct proxy_deps_fs *fs, size_t keep)
{
    while (fs->n_dirs > keep)
        close(fs->dir_fd[--fs->n_dirs]);
}

/* Close the files opened ahead whose reads did not come, up to (not including) position k of
 * the ring. */
static void ahead_drop(struct proxy_deps_fs *fs, size_t k)
{
    for (; k > 0 && fs->n_ahead > 0; k--) {
        close(fs->ahead[fs->ahead_first].fd);
        fs->ahead_first = (fs->ahead_first + 1) % PROXY_DEPS_FS_AHEAD;
        fs->n_ahead--;
    }
}

int proxy_deps_fs_read(const char *dir, const struct deps_limits *lim, struct proxy_deps_fs *out,
                       char *err, size_t errlen)
{
    struct fs_walk w = {.fs = out, .err = err, .errlen = errlen, .root = dir};
    struct stat st;
    int rc;

    memset(out, 0, sizeof(*out));
    out->root_fd = -1;
    out->held_fd = -1;
    if (lim)
        w.lim = *lim;
    deps_limits_fill(&w.lim);
    out->max_file_bytes = w.lim.max_file_bytes;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s; give the folder that holds the project's package.json", dir,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -ENOENT;
    }
    if ((out->root_fd = dup(fd)) < 0) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        close(fd);
        return -errno;
    }
    if (!(w.dents = malloc(FS_DENTS))) {
        close(fd);
        rc = -ENOMEM;
    } else {
        rc = fs_walk_dir(&w, fd, "", 0, 0);
        free(w.dents);
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s: out of memory while reading the project", dir);
    if (rc < 0)
        proxy_deps_fs_free(out);
    return rc;
}

void proxy_deps_fs_free(struct proxy_deps_fs *fs)
{
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n; i++) {
        free((char *)fs->files[i].path);
        free((char *)fs->files[i].data);
    }
    free(fs->files);
    free(fs->buf);
    if (fs->held_fd >= 0)
        close(fs->held_fd);
    ahead_drop(fs, fs->n_ahead);
    dirs_drop(fs, 0);
    if (fs->root_fd >= 0)
        close(fs->root_fd);
    memset(fs, 0, sizeof(*fs));
    fs->root_fd = -1;
    fs->held_fd = -1;
}

/* Open the file at rel one folder at a time, never through a link (the tree may have changed
 * since the walk). The folders of the last file stay open: the map is sorted by path, so the
 * next file is most often in the same folder or next to it, and each folder is opened once
 * rather than once per file below it. */
static int open_below(struct proxy_deps_fs *fs, const char *rel)
{
    const char *base = strrchr(rel, '/');
    size_t dlen = base ? (size_t)(base - rel) : 0, keep = 0;
    int dir = fs->root_fd, tmp = -1, fd;

    /* the cached levels that are a prefix of rel's folder */
    while (keep < fs->n_dirs) {
        size_t e = fs->dir_end[keep];
        if (e > dlen || (e < dlen && rel[e] != '/') || memcmp(fs->dir_path, rel, e) != 0)
            break;
        keep++;
    }
    dirs_drop(fs, keep);
    if (keep)
        dir = fs->dir_fd[keep - 1];
    for (size_t s = keep ? fs->dir_end[keep - 1] + 1 : 0; s < dlen;) {
        const char *e = memchr(rel + s, '/', dlen - s);
        size_t n = e ? (size_t)(e - rel) - s : dlen - s;
        char part[NAME_MAX + 1];
        if (n == 0 || n > NAME_MAX) {
            fd = -EINVAL;
            goto out;
        }
        memcpy(part, rel + s, n);
        part[n] = '\0';
        int sub = openat(dir, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            fd = -errno;
            goto out;
        }
        if (fs->n_dirs < PROXY_DEPS_FS_DIRS && s + n < sizeof(fs->dir_path) && tmp < 0) {
            memcpy(fs->dir_path + s, rel + s, n);
            fs->dir_fd[fs->n_dirs] = sub;
            fs->dir_end[fs->n_dirs++] = s + n;
            if (s)
                fs->dir_path[s - 1] = '/';
        } else { /* deeper than the cache: opened for this file only */
            if (tmp >= 0)
                close(tmp);
            tmp = sub;
        }
        dir = sub;
        s += n + 1;
    }
    if (*(base ? base + 1 : rel) == '\0') {
        fd = -EINVAL;
        goto out;
    }
    /* O_NONBLOCK: a FIFO put in place of the file since the walk must not block the scan */
    fd = openat(dir, base ? base + 1 : rel,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        fd = -errno;
out:
    if (tmp >= 0)
        close(tmp);
    return fd;
}

static int fs_source_will_read(void *ctx, const struct deps_file *f)
{
    struct proxy_deps_fs *fs = ctx;
    int fd;

    if (fs->cold <= 0)
        return 0;
    if (f == NULL)
        return 1;
    if (fs->n_ahead == PROXY_DEPS_FS_AHEAD)
        ahead_drop(fs, 1); /* the oldest hint's read never came */
    fd = open_below(fs, f->path);
    if (fd < 0)
        return 1; /* the read will say why */
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
    size_t slot = (fs->ahead_first + fs->n_ahead++) % PROXY_DEPS_FS_AHEAD;
    fs->ahead[slot].f = f;
    fs->ahead[slot].fd = fd;
    return 1;
}

/* The file opened ahead for f, taken out of the ring, or -1. Hints come in the order of the
 * reads, so those before f were for files whose reads did not come: they are closed. */
static int ahead_take(struct proxy_deps_fs *fs, const struct deps_file *f)
{
    for (size_t k = 0; k < fs->n_ahead; k++) {
        size_t slot = (fs->ahead_first + k) % PROXY_DEPS_FS_AHEAD;
        if (fs->ahead[slot].f == f) {
            int fd = fs->ahead[slot].fd;
            ahead_drop(fs, k);
            fs->ahead_first = (fs->ahead_first + 1) % PROXY_DEPS_FS_AHEAD;
            fs->n_ahead--;
            return fd;
        }
    }
    return -1;
}

/* The first read of a file: from the page cache only while the tree has been found cached
 * (RWF_NOWAIT), so that one not cached turns the read-ahead on; it is then read as usual. */
static ssize_t first_read(struct proxy_deps_fs *fs, int fd, char *buf, size_t want)
{
    if (fs->cold == 0 && want > 0) {
        struct iovec iov = {buf, want};
        ssize_t r = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
        if (r == 0 || (r > 0 && (size_t)r == want)) /* all of it, or a file emptied since */
            return r;
        if (r > 0 || errno == EAGAIN)
            fs->cold = 1; /* all or part of it is not cached */
        else if (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS)
            fs->cold = -1;
        if (r > 0)
            return r;
    }
    return read(fd, buf, want);
}

/* Room for n bytes in the read buffer: 0, or -ENOMEM. Never while a batch points into it
 * (a batch's later reads are given only the room it has). */
static int buf_reserve(struct proxy_deps_fs *fs, size_t n)
{
    if (n <= fs->buf_cap)
        return 0;
    char *b = realloc(fs->buf, n);
    if (!b)
        return -ENOMEM;
    fs->buf = b;
    fs->buf_cap = n;
    return 0;
}

static int fs_source_read(void *ctx, const struct deps_file *f, const char **data, size_t *len)
{
    struct proxy_deps_fs *fs = ctx;
    struct stat st;
    size_t want = f->len, got = 0;
    int fd = -1;

    if (fs->held_f == f) { /* opened by the read that found no room for it */
        fd = fs->held_fd;
        want = fs->held_len;
        fs->held_f = NULL;
        fs->held_fd = -1;
    } else if (fs->n_ahead) {
        fd = ahead_take(fs, f);
    }
    if (fd < 0)
        fd = open_below(fs, f->path);
    if (fd < 0)
        return fd;
    if (want == DEPS_FILE_LEN_UNKNOWN) { /* not stat'ed by the walk */
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
            close(fd);
            return -EINVAL;
        }
        want = (size_t)st.st_size;
        if (want > fs->max_file_bytes) {
            close(fd);
            return -EFBIG;
        }
    }
    bool large = want > fs->batch_cap / 4;
    if (fs->batch_reads == 0) {
        fs->group = large && fs->batch_cap;
    } else if (fs->group ? !large || fs->buf_used > fs->max_file_bytes - want
                         : want > fs->batch_cap || fs->buf_used > fs->batch_cap - want) {
        /* the batch is full: this file is read first in the next one */
        if (fs->held_fd >= 0)
            close(fs->held_fd);
        fs->held_f = f;
        fs->held_fd = fd;
        fs->held_len = want;
        return -ENOBUFS;
    }
    /* grows for the batch's first file only: a group's for all it may hold, or for this file
     * alone when there is no room for that */
    if (fs->group && fs->batch_reads == 0 && buf_reserve(fs, fs->max_file_bytes) < 0)
        fs->group = false;
    if (buf_reserve(fs, want) < 0) {
        close(fd);
        return -ENOMEM;
    }
    char *dst = fs->buf ? fs->buf + fs->buf_used : NULL; /* NULL: no byte to read yet */
    while (got < want) {
        ssize_t r = got == 0 ? first_read(fs, fd, dst, want) : read(fd, dst + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    /* Only a short read asks whether it is still a regular file (a folder or a FIFO put in
     * its place since the walk is not analysed). */
    if (got < want && f->len != DEPS_FILE_LEN_UNKNOWN &&
        (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        return -EINVAL;
    }
    close(fd);
    if (fs->batch_cap) {
        fs->buf_used += got;
        fs->batch_reads++;
    }
    *data = dst;
    *len = got;
    return 0;
}

static int fs_source_batch(void *ctx, size_t bytes)
{
    struct proxy_deps_fs *fs = ctx;

    fs->buf_used = 0;
    fs->batch_reads = 0;
    fs->batch_cap = 0;
    if (bytes == 0) {
        if (fs->held_fd >= 0)
            close(fs->held_fd);
        fs->held_f = NULL;
        fs->held_fd = -1;
        return 0;
    }
    if (buf_reserve(fs, bytes) < 0)
        return -ENOMEM;
    fs->batch_cap = bytes;
    return 0;
}

void proxy_deps_fs_source(struct proxy_deps_fs *fs, struct deps_file_source *src)
{
    src->ctx = fs;
    src->read = fs_source_read;
    src->will_read = fs_source_will_read;
    src->batch = fs_source_batch;
}

void proxy_deps_fs_read_ahead(struct proxy_deps_fs *fs)
{
    fs->cold = 1;
}

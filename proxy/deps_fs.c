/* The scanner's disk layer: walk a project directory into a capped in-memory file map. */
#include "proxy/deps_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FS_MAX_PATH 4096

struct fs_walk {
    struct proxy_deps_fs *fs;
    struct deps_limits lim;
    char *err;
    size_t errlen;
    const char *root;
};

static int fs_add(struct fs_walk *w, int dirfd, const char *name, const char *rel, off_t size)
{
    struct proxy_deps_fs *fs = w->fs;
    bool in_nm = strstr(rel, "node_modules/") == rel || strstr(rel, "/node_modules/");
    bool manifest = strcmp(name, "package.json") == 0;
    size_t len = (size_t)size;
    int rc = 0;

    if (size < 0)
        return 0;
    if (len > w->lim.max_file_bytes) {
        if (in_nm && !manifest) {
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
    if (in_nm && !manifest) {
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

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk one directory (rel is its path from the root, "" for the root). */
static int fs_walk_dir(struct fs_walk *w, int dirfd, const char *rel, unsigned depth,
                       unsigned nm_depth)
{
    DIR *d = fdopendir(dirfd);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d) {
        close(dirfd);
        return 0;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            strcmp(e->d_name, ".git") == 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            char **nn = realloc(names, nc * sizeof(*nn));
            if (!nn) {
                rc = -ENOMEM;
                goto out;
            }
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) {
            rc = -ENOMEM;
            goto out;
        }
        n++;
    }
    if (n > 1) /* a stable order: same tree, same reads */
        qsort(names, n, sizeof(*names), cmp_name);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[FS_MAX_PATH];
        struct stat st;
        int len = snprintf(path, sizeof(path), "%s%s%s", rel, *rel ? "/" : "", names[i]);
        if (len < 0 || (size_t)len >= sizeof(path)) {
            snprintf(w->err, w->errlen, "%s/%s: path longer than %d bytes", w->root, rel,
                     FS_MAX_PATH);
            rc = -E2BIG;
            break;
        }
        if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            w->fs->links++;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            bool nm = strcmp(names[i], "node_modules") == 0;
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
            int fd = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (fd >= 0)
                rc = fs_walk_dir(w, fd, path, depth + 1, nmd);
            continue;
        }
        if (S_ISREG(st.st_mode) && deps_project_wants(path))
            rc = fs_add(w, dirfd, names[i], path, st.st_size);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

int proxy_deps_fs_read(const char *dir, const struct deps_limits *lim, struct proxy_deps_fs *out,
                       char *err, size_t errlen)
{
    struct fs_walk w = {.fs = out, .err = err, .errlen = errlen, .root = dir};
    struct stat st;
    int rc;

    memset(out, 0, sizeof(*out));
    out->root_fd = -1;
    if (lim)
        w.lim = *lim;
    deps_limits_fill(&w.lim);
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
    rc = fs_walk_dir(&w, fd, "", 0, 0);
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
    if (fs->root_fd >= 0)
        close(fs->root_fd);
    memset(fs, 0, sizeof(*fs));
    fs->root_fd = -1;
}

/* Open rel under the root one folder at a time, never through a link (the tree may have
 * changed since the walk). */
static int open_below(int root, const char *rel)
{
    char part[FS_MAX_PATH];
    int dir = root;
    for (const char *s = rel;;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || n >= sizeof(part)) {
            if (dir != root)
                close(dir);
            return -EINVAL;
        }
        memcpy(part, s, n);
        part[n] = '\0';
        int fd = openat(dir, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (e ? O_DIRECTORY : 0));
        int saved = errno;
        if (dir != root)
            close(dir);
        if (fd < 0)
            return -saved;
        if (!e)
            return fd;
        dir = fd;
        s = e + 1;
    }
}

static int fs_source_read(void *ctx, const struct deps_file *f, const char **data, size_t *len)
{
    struct proxy_deps_fs *fs = ctx;
    struct stat st;
    int fd = open_below(fs->root_fd, f->path);
    if (fd < 0)
        return fd;
    size_t want = f->len, got = 0;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EINVAL;
    }
    if (want > fs->buf_cap) {
        char *b = realloc(fs->buf, want);
        if (!b) {
            close(fd);
            return -ENOMEM;
        }
        fs->buf = b;
        fs->buf_cap = want;
    }
    while (got < want) {
        ssize_t r = read(fd, fs->buf + got, want - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    *data = fs->buf;
    *len = got;
    return 0;
}

void proxy_deps_fs_source(struct proxy_deps_fs *fs, struct deps_file_source *src)
{
    src->ctx = fs;
    src->read = fs_source_read;
}

/* Tarball reader for the scanner endpoint: gunzip (zlib) into one capped buffer, then walk the
 * 512-byte ustar/GNU/pax headers. Only regular files come out; everything else that could
 * make a path point elsewhere (links, devices, "..", absolute names) is refused, never
 * skipped, so that the report is about what the archive really holds. */
#include "guards/deps/tar.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#define TAR_BLOCK 512

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* gunzip `data` into a new buffer of at most `cap` bytes. */
static int gunzip(const char *data, size_t len, size_t cap, char **out, size_t *out_len, char *err,
                  size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
        return fail(err, errlen, -ENOMEM, "gzip: cannot start the decoder");
    size_t room = len * 4 < (size_t)1 << 20 ? (size_t)1 << 20 : len * 4;
    room = room < cap ? room : cap;
    char *buf = malloc(room + 1);
    size_t n = 0;
    int rc = buf ? 0 : -ENOMEM, zr = Z_OK;
    zs.next_in = (Bytef *)(uintptr_t)data;
    while (rc == 0 && zr != Z_STREAM_END) {
        if (n == room) {
            if (room >= cap) {
                rc = fail(err, errlen, -E2BIG,
                          "the archive unpacks to more than %zu bytes; send a smaller project "
                          "(without node_modules, or only its package.json files)",
                          cap);
                break;
            }
            size_t grown = room * 2 < cap ? room * 2 : cap;
            char *b = realloc(buf, grown + 1);
            if (b == NULL) {
                rc = -ENOMEM;
                break;
            }
            buf = b;
            room = grown;
        }
        /* zlib counts in uInt: feed and fill at most 1 GiB at a time. */
        size_t in_left = len - (size_t)((const char *)zs.next_in - data);
        zs.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
        zs.next_out = (Bytef *)(buf + n);
        zs.avail_out = (uInt)(room - n < (1u << 30) ? room - n : (1u << 30));
        size_t before = zs.avail_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        n += before - zs.avail_out;
        if (zr == Z_STREAM_END)
            break;
        in_left = len - (size_t)((const char *)zs.next_in - data);
        if (in_left == 0 && zs.avail_out > 0 && (zr == Z_OK || zr == Z_BUF_ERROR)) {
            rc = fail(err, errlen, -EBADMSG, "gzip: the stream is cut short; send the whole file");
            break;
        }
        if (zr != Z_OK && zr != Z_BUF_ERROR) {
            rc = fail(err, errlen, -EBADMSG, "gzip: corrupt data (%s); send a valid .tar.gz",
                      zs.msg ? zs.msg : "inflate failed");
            break;
        }
    }
    inflateEnd(&zs);
    if (rc != 0) {
        free(buf);
        return rc == -ENOMEM ? fail(err, errlen, -ENOMEM, "out of memory") : rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* A numeric header field: octal digits (space or NUL padded), or GNU base-256 when the first
 * byte has its high bit set. -1 when malformed. */
static int64_t tar_number(const unsigned char *f, size_t n)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return -1; /* negative, or too large for any real archive */
        for (size_t i = 1; i < n; i++) {
            if (v >> 55)
                return -1;
            v = v << 8 | f[i];
        }
        return (int64_t)v;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return -1;
        v = v << 3 | (uint64_t)(f[i] - '0');
        any = true;
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    return any ? (int64_t)v : 0;
}

static bool block_zero(const unsigned char *b)
{
    for (size_t i = 0; i < TAR_BLOCK; i++)
        if (b[i])
            return false;
    return true;
}

static bool checksum_ok(const unsigned char *h)
{
    int64_t want = tar_number(h + 148, 8);
    uint64_t sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += i >= 148 && i < 156 ? ' ' : h[i];
    return want >= 0 && (uint64_t)want == sum;
}

/* A record of a pax extended header ("LEN key=VALUE\n"): "path" into path, "linkpath" into
 * link (each cap bytes); other keys are ignored. */
static int pax_records(const char *p, size_t n, char *path, char *link, size_t cap)
{
    size_t off = 0;
    while (off < n) {
        size_t rec = 0, i = off;
        while (i < n && p[i] >= '0' && p[i] <= '9' && rec < n)
            rec = rec * 10 + (size_t)(p[i++] - '0');
        if (i == off || i >= n || p[i] != ' ' || rec <= i - off || rec > n - off)
            return -EBADMSG;
        const char *kv = p + i + 1, *end = p + off + rec - 1; /* end: the record's '\n' */
        if (*end != '\n')
            return -EBADMSG;
        static const struct {
            const char *key;
            size_t len;
        } keys[] = {{"path=", 5}, {"linkpath=", 9}};
        for (size_t k = 0; k < 2; k++) {
            if ((size_t)(end - kv) <= keys[k].len || memcmp(kv, keys[k].key, keys[k].len) != 0)
                continue;
            size_t vlen = (size_t)(end - kv) - keys[k].len;
            char *out = k == 0 ? path : link;
            if (vlen >= cap)
                return -E2BIG;
            memcpy(out, kv + keys[k].len, vlen);
            out[vlen] = '\0';
        }
        off += rec;
    }
    return 0;
}

/* Does a symbolic link at `path` pointing to `target` stay inside the project? Resolved by
 * its text: each ".." must have a folder to leave. */
static bool link_inside(const char *path, const char *target)
{
    if (target[0] == '/' || target[0] == '\0')
        return false;
    int depth = 0; /* folders of `path` above the link */
    for (const char *s = path; *s; s++)
        depth += *s == '/';
    for (const char *s = target; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.') {
            if (--depth < 0)
                return false;
        } else if (n > 0 && !(n == 1 && s[0] == '.')) {
            depth++;
        }
        s += n + (e ? 1 : 0);
    }
    return true;
}

/* Drop leading "./" parts (as `tar -C dir .` writes them) and one trailing '/'. */
static const char *path_clean(char *p)
{
    while (p[0] == '.' && p[1] == '/')
        p += 2;
    size_t n = strlen(p);
    if (n > 0 && p[n - 1] == '/')
        p[n - 1] = '\0';
    return p;
}

static const char *type_name(unsigned char t)
{
    switch (t) {
    case '1':
        return "a hard link";
    case '2':
        return "a symbolic link";
    case '3':
    case '4':
        return "a device";
    case '6':
        return "a FIFO";
    default:
        return "an entry of an unsupported type";
    }
}

static int add_file(struct deps_tar *t, size_t *cap, const char *path, const char *data, size_t len)
{
    if (t->n == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        struct deps_file *f = realloc(t->files, grown * sizeof(*f));
        if (f == NULL)
            return -ENOMEM;
        t->files = f;
        char **p = realloc(t->paths, grown * sizeof(*p));
        if (p == NULL)
            return -ENOMEM;
        t->paths = p;
        *cap = grown;
    }
    char *copy = strdup(path);
    if (copy == NULL)
        return -ENOMEM;
    t->paths[t->n] = copy;
    t->files[t->n] = (struct deps_file){.path = copy, .data = data, .len = len};
    t->n++;
    return 0;
}

/* When the root has no package.json but every file sits in one folder that has one, that
 * folder is the project: drop it from every path. */
static void strip_top(struct deps_tar *t)
{
    if (t->n == 0)
        return;
    const char *first = t->files[0].path, *slash = strchr(first, '/');
    if (slash == NULL)
        return;
    size_t top = (size_t)(slash - first) + 1;
    bool has_manifest = false;
    for (size_t i = 0; i < t->n; i++) {
        const char *p = t->files[i].path;
        if (strchr(p, '/') == NULL && strcmp(p, "package.json") == 0)
            return; /* the root is the project */
        if (strncmp(p, first, top) != 0 || p[top] == '\0')
            return;
        has_manifest |= strcmp(p + top, "package.json") == 0;
    }
    if (!has_manifest)
        return;
    for (size_t i = 0; i < t->n; i++)
        t->files[i].path += top;
}

static int walk(struct deps_tar *t, size_t len, const struct deps_tar_limits *lim, char *err,
                size_t errlen)
{
    const unsigned char *b = (const unsigned char *)t->buf;
    size_t off = 0, cap = 0, entries = 0;
    char longname[DEPS_TAR_PATH_MAX + 1] = "", longlink[DEPS_TAR_PATH_MAX + 1] = "";
    char name[DEPS_TAR_PATH_MAX + 1];
    while (off + TAR_BLOCK <= len) {
        const unsigned char *h = b + off;
        if (block_zero(h))
            return 0; /* the end-of-archive blocks */
        if (++entries > lim->max_entries)
            return fail(err, errlen, -E2BIG, "more than %zu entries in the archive",
                        lim->max_entries);
        if (!checksum_ok(h))
            return fail(err, errlen, -EBADMSG,
                        "tar: bad header checksum at byte %zu; the archive is corrupt or not a "
                        "tar file",
                        off);
        int64_t size = tar_number(h + 124, 12);
        if (size < 0 || (uint64_t)size > len - off - TAR_BLOCK)
            return fail(err, errlen, -EBADMSG,
                        "tar: entry at byte %zu claims %s bytes past the end of the archive; "
                        "send the whole file",
                        off, size < 0 ? "malformed" : "more");
        const char *data = t->buf + off + TAR_BLOCK;
        size_t dlen = (size_t)size;
        size_t next = off + TAR_BLOCK + (dlen + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
        unsigned char type = h[156];
        if (type == 'x' || type == 'L' || type == 'K') {
            /* The name or link target of the next entry, too long for its header. */
            int rc = 0;
            if (type == 'x') {
                rc = pax_records(data, dlen, longname, longlink, sizeof(longname));
            } else {
                size_t n = strnlen(data, dlen);
                char *to = type == 'L' ? longname : longlink;
                if (n > DEPS_TAR_PATH_MAX)
                    rc = -E2BIG;
                else {
                    memcpy(to, data, n);
                    to[n] = '\0';
                }
            }
            if (rc != 0)
                return fail(err, errlen, rc == -E2BIG ? -E2BIG : -EBADMSG,
                            "tar: %s extended header at byte %zu",
                            rc == -E2BIG ? "path longer than 4096 bytes in the" : "malformed", off);
            off = next;
            continue;
        }
        if (longname[0]) {
            memcpy(name, longname, sizeof(name));
        } else {
            /* ustar: prefix "/" name, each NUL-padded (not always NUL-terminated). */
            size_t pn = memcmp(h + 257, "ustar", 5) == 0 ? strnlen((const char *)h + 345, 155) : 0;
            size_t nn = strnlen((const char *)h, 100);
            if (pn)
                snprintf(name, sizeof(name), "%.*s/%.*s", (int)pn, (const char *)h + 345, (int)nn,
                         (const char *)h);
            else
                snprintf(name, sizeof(name), "%.*s", (int)nn, (const char *)h);
        }
        char target[DEPS_TAR_PATH_MAX + 1];
        if (longlink[0])
            memcpy(target, longlink, sizeof(target));
        else
            snprintf(target, sizeof(target), "%.*s", (int)strnlen((const char *)h + 157, 100),
                     (const char *)h + 157);
        longname[0] = longlink[0] = '\0';
        const char *path = path_clean(name);
        off = next;
        if (type == 'g' || type == '5' || (type == '0' && path[0] == '\0'))
            continue; /* pax global header, folder, or the root folder itself */
        if (type == '1' || type == '2') {
            /* Never followed (as the CLI never follows a link on disk): skipped when they stay
             * inside the project (node_modules/.bin, pnpm's layout), refused when not. */
            char tcopy[DEPS_TAR_PATH_MAX + 1];
            memcpy(tcopy, target, sizeof(tcopy));
            bool inside = deps_path_ok(path) && (type == '1' ? deps_path_ok(path_clean(tcopy))
                                                             : link_inside(path, target));
            if (!inside)
                return fail(err, errlen, -EPERM,
                            "tar: %s is %s to %s, outside the project; links may only point "
                            "inside the project",
                            path[0] ? path : "(no name)", type_name(type),
                            target[0] ? target : "(nothing)");
            t->links_skipped++;
            continue;
        }
        if (type != '0' && type != '\0' && type != '7')
            return fail(err, errlen, -EPERM,
                        "tar: %s is %s; special files are not accepted, send regular files only",
                        path[0] ? path : "(no name)", type_name(type));
        if (!deps_path_ok(path))
            return fail(err, errlen, -EPERM,
                        "tar: %s is not a relative path inside the project (absolute, or with "
                        "'..' or empty parts); pack the project from its own folder",
                        path[0] ? path : "(empty name)");
        int rc = add_file(t, &cap, path, data, dlen);
        if (rc != 0)
            return fail(err, errlen, rc, "out of memory");
    }
    /* Less than a block left: only padding may remain. */
    for (; off < len; off++)
        if (b[off])
            return fail(err, errlen, -EBADMSG,
                        "tar: the archive is cut short; send the whole file");
    return 0;
}

int deps_tar_read(const char *data, size_t len, const struct deps_tar_limits *lim,
                  struct deps_tar *out, char *err, size_t errlen)
{
    struct deps_tar_limits l = {.max_bytes = DEPS_TAR_DEFAULT_BYTES,
                                .max_entries = DEPS_TAR_DEFAULT_ENTRIES};
    if (lim && lim->max_bytes)
        l.max_bytes = lim->max_bytes;
    if (lim && lim->max_entries)
        l.max_entries = lim->max_entries;
    memset(out, 0, sizeof(*out));
    size_t tlen = 0;
    int rc;
    if (len >= 2 && (unsigned char)data[0] == 0x1f && (unsigned char)data[1] == 0x8b) {
        if ((rc = gunzip(data, len, l.max_bytes, &out->buf, &tlen, err, errlen)) != 0)
            return rc;
    } else {
        if (len > l.max_bytes)
            return fail(err, errlen, -E2BIG, "the archive is larger than %zu bytes", l.max_bytes);
        if ((out->buf = malloc(len + 1)) == NULL)
            return fail(err, errlen, -ENOMEM, "out of memory");
        memcpy(out->buf, data, len);
        tlen = len;
    }
    if (tlen < TAR_BLOCK || !checksum_ok((const unsigned char *)out->buf)) {
        deps_tar_free(out);
        return fail(err, errlen, -EBADMSG,
                    "not a tar archive (nor a gzip-compressed one); send a .tar or .tar.gz of "
                    "the project, or a JSON body {\"files\": {...}}");
    }
    if ((rc = walk(out, tlen, &l, err, errlen)) != 0) {
        deps_tar_free(out);
        return rc;
    }
    strip_top(out);
    return 0;
}

void deps_tar_free(struct deps_tar *t)
{
    for (size_t i = 0; t->paths && i < t->n; i++)
        free(t->paths[i]);
    free(t->paths);
    free(t->files);
    free(t->buf);
    memset(t, 0, sizeof(*t));
}

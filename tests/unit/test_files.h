/* What unit tests share for files: a private temporary folder, its removal, a whole file read. */
#ifndef WARDEN_TESTS_UNIT_TEST_FILES_H
#define WARDEN_TESTS_UNIT_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

/* A new folder "$TMPDIR/NAME-XXXXXX" (or under /tmp) in dir. 0 or -1. */
static inline int test_tmpdir(char *dir, size_t cap, const char *name)
{
    const char *t = getenv("TMPDIR");
    int n = snprintf(dir, cap, "%s/%s-XXXXXX", t && t[0] ? t : "/tmp", name);
    return n > 0 && (size_t)n < cap && mkdtemp(dir) ? 0 : -1;
}

/* Remove a folder made by test_tmpdir and all it holds. 0 or -1. */
static inline int test_rmtree(const char *dir)
{
    char cmd[1200];
    int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return n > 0 && (size_t)n < sizeof(cmd) && system(cmd) == 0 ? 0 : -1;
}

/* A whole file, NUL-terminated (malloc'd; free it), its length in *len when len is not NULL;
 * NULL when it cannot be read. */
static inline char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            if (len)
                *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

#endif

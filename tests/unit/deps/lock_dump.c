/* Prints what deps_lock_parse makes of one lockfile, as tab-separated lines (test driver). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guards/deps/lock.h"

static const char *const dump_kinds[] = {"unspecified", "prod", "dev", "optional", "peer", "other"};

/* Read a whole file into a malloc'd buffer. */
static char *dump_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL, *t;
    size_t cap = 0, n = 0, got;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            t = realloc(buf, cap);
            if (t == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = t;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static enum deps_lock_format dump_format(const char *name, const char *path)
{
    if (strcmp(name, "auto") == 0)
        return deps_lock_format_of(path);
    if (strcmp(name, "npm") == 0)
        return DEPS_LOCK_NPM;
    if (strcmp(name, "npm-shrinkwrap") == 0)
        return DEPS_LOCK_NPM_SHRINKWRAP;
    if (strcmp(name, "pnpm") == 0)
        return DEPS_LOCK_PNPM;
    if (strcmp(name, "yarn") == 0)
        return DEPS_LOCK_YARN;
    return DEPS_LOCK_UNKNOWN;
}

static const char *dump_s(const char *s)
{
    return s ? s : "-";
}

int main(int argc, char **argv)
{
    struct deps_lock_error err;
    struct deps_lock *lk = NULL;
    struct timespec t0, t1;
    enum deps_lock_format fmt;
    double best = 1e30, total = 0, ms;
    long reps = 0, i;
    size_t len, k;
    char *buf, *end;
    int rc = 0;

    if (argc >= 5 && strcmp(argv[1], "--time") == 0) {
        reps = strtol(argv[2], &end, 10);
        if (*end || reps <= 0)
            reps = 1;
        argv += 2;
        argc -= 2;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: lock_dump [--time N] auto|npm|npm-shrinkwrap|pnpm|yarn FILE\n");
        return 2;
    }
    buf = dump_read(argv[2], &len);
    if (buf == NULL) {
        fprintf(stderr, "lock_dump: cannot read %s\n", argv[2]);
        return 2;
    }
    fmt = dump_format(argv[1], argv[2]);
    if (reps) {
        for (i = 0; i < reps; i++) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            rc = deps_lock_parse(fmt, buf, len, NULL, &lk, &err);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
            best = ms < best ? ms : best;
            total += ms;
            if (rc == 0 && i + 1 < reps)
                deps_lock_free(lk);
        }
        printf("TIME\tbytes=%zu\tpackages=%zu\tbest_ms=%.3f\tmean_ms=%.3f\truns=%ld\n", len,
               rc == 0 ? lk->n_pkgs : 0, best, total / (double)reps, reps);
        if (rc == 0) {
            deps_lock_free(lk);
            free(buf);
            return 0;
        }
    } else {
        rc = deps_lock_parse(fmt, buf, len, NULL, &lk, &err);
    }
    free(buf);
    if (rc < 0) {
        printf("ERROR\t%s\t%u\t%u\t%s\n",
               rc == -EBADMSG   ? "EBADMSG"
               : rc == -ENOTSUP ? "ENOTSUP"
               : rc == -E2BIG   ? "E2BIG"
               : rc == -EINVAL  ? "EINVAL"
                                : "OTHER",
               err.line, err.column, err.message);
        return 3;
    }
    printf("LOCK\t%s\t%s\t%u\t%zu\t%zu\n", deps_lock_format_name(lk->format), lk->version,
           lk->flags, lk->n_pkgs, lk->n_deps);
    for (k = 0; k < lk->n_pkgs; k++) {
        const struct deps_pkg *p = &lk->pkgs[k];

        printf("P\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%u\t0x%x\t%s\n", p->name, p->version,
               dump_s(p->alias), dump_s(p->resolved), dump_s(p->integrity), dump_s(p->checksum),
               dump_s(p->location), p->line, p->flags, deps_res_kind_name(p->res_kind));
    }
    for (k = 0; k < lk->n_deps; k++) {
        const struct deps_dep *d = &lk->deps[k];

        printf("D\t%s\t%s\t%s\t%s\t%s\t%u\n", d->importer, d->name, d->spec, dump_s(d->version),
               dump_kinds[d->kind], d->line);
    }
    deps_lock_free(lk);
    return 0;
}

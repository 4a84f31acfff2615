/* `warden audit verify` and `warden audit cat`: check and print tamper-evident audit logs. */
#include "proxy/cli.h"

#include "telemetry/audit.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_MAX_FILES 4096

static int audit_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, exit code 2. */
static int audit_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("warden: audit: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PROXY_EXIT_USAGE;
}

static const char *key_error(int rc)
{
    switch (rc) {
    case -ENOKEY:
        return "the key is empty or too short (at least 16 bytes; 32 random bytes recommended)";
    case -E2BIG:
        return "the key is too long";
    default:
        return "bad hex after 'hex:'";
    }
}

/* The key from --key-file, else WARDEN_AUDIT_KEY. Returns its length or exits-code < 0. */
static int load_key(const char *key_file, uint8_t *key, size_t cap)
{
    char text[2 * TEL_AUDIT_KEY_MAX + 16];
    size_t len;
    int rc;
    if (key_file) {
        FILE *f = fopen(key_file, "rb");
        if (f == NULL) {
            audit_fail("verify: --key-file %s: %s", key_file, strerror(errno));
            return -1;
        }
        len = fread(text, 1, sizeof(text), f);
        bool more = len == sizeof(text);
        fclose(f);
        if (more) {
            audit_fail("verify: --key-file %s: the key is too long", key_file);
            return -1;
        }
    } else {
        const char *env = getenv("WARDEN_AUDIT_KEY");
        if (env == NULL || env[0] == '\0') {
            audit_fail("verify: no key: set WARDEN_AUDIT_KEY or give --key-file FILE");
            return -1;
        }
        len = strnlen(env, sizeof(text));
        if (len == sizeof(text)) {
            audit_fail("verify: WARDEN_AUDIT_KEY: the key is too long");
            return -1;
        }
        memcpy(text, env, len);
    }
    rc = tel_audit_key_parse(text, len, key, cap);
    explicit_bzero(text, sizeof(text));
    if (rc < 0) {
        audit_fail("verify: %s: %s", key_file ? key_file : "WARDEN_AUDIT_KEY", key_error(rc));
        return -1;
    }
    return rc;
}

static int audit_verify(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"key-file", required_argument, NULL, 'k'},
        {"allow-unsealed", no_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    const char *key_file = NULL;
    unsigned flags = 0;
    uint8_t key[TEL_AUDIT_KEY_MAX];
    struct tel_audit_input *in = NULL;
    struct tel_audit_result res;
    size_t n = 0;
    int ch, keylen, rc = PROXY_EXIT_USAGE;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'k':
            key_file = optarg;
            break;
        case 'u':
            flags |= TEL_AUDIT_VERIFY_F_UNSEALED;
            break;
        case ':':
            return audit_fail("verify: %s needs a value", argv[optind - 1]);
        default:
            return audit_fail("verify: unknown option '%s' (see warden audit --help)",
                              argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return audit_fail("verify: expected FILE... (see warden audit --help)");
    if ((size_t)(argc - optind) > AUDIT_MAX_FILES)
        return audit_fail("verify: too many files (at most %d)", AUDIT_MAX_FILES);
    if ((keylen = load_key(key_file, key, sizeof(key))) < 0)
        return PROXY_EXIT_USAGE;
    in = calloc((size_t)(argc - optind), sizeof(*in));
    if (in == NULL) {
        audit_fail("out of memory");
        goto out;
    }
    for (int i = optind; i < argc; i++, n++) {
        int e = tel_audit_map(argv[i], &in[n]);
        if (e != 0) {
            audit_fail("verify: %s: %s", argv[i], strerror(-e));
            goto out;
        }
    }
    int v = tel_audit_verify(in, n, key, (size_t)keylen, flags, &res);
    if (v < 0) {
        audit_fail("verify: %s", strerror(-v));
    } else if (v > 0) {
        printf("%s: record %" PRIu64 " (seq %" PRIu64 ", offset %" PRIu64 "): %s: %s\n",
               in[res.file].name, res.index, res.seq, res.offset, tel_audit_fault_name(res.fault),
               res.msg);
        rc = PROXY_EXIT_FINDINGS;
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s%s", i ? " " : "", in[i].name);
        printf(": ok: %s\n", res.msg);
        rc = PROXY_EXIT_OK;
    }
out:
    explicit_bzero(key, sizeof(key));
    for (size_t i = 0; i < n; i++)
        tel_audit_unmap(&in[i]);
    free(in);
    if (fflush(stdout) != 0 && rc == PROXY_EXIT_OK)
        rc = PROXY_EXIT_USAGE;
    return rc;
}

/* Print every record of one file; 0, or 1 when the file ends badly. */
static int audit_cat_file(const char *path)
{
    struct tel_audit_input in;
    struct tel_audit_frame fr;
    size_t off = 0;
    int rc, e = tel_audit_map(path, &in);
    if (e != 0) {
        audit_fail("cat: %s: %s", path, strerror(-e));
        return PROXY_EXIT_USAGE;
    }
    while ((rc = tel_audit_frame_next(in.data, in.len, &off, &fr)) == 1) {
        if (tel_audit_frame_print_json(stdout, &fr) != 0) {
            rc = -EBADMSG;
            break;
        }
    }
    if (rc < 0) {
        fflush(stdout);
        fprintf(stderr, "warden: audit: cat: %s: offset %zu: %s\n", path, off,
                rc == -ENODATA ? "the file ends inside a record (truncated)"
                : rc == -E2BIG ? "a record exceeds the reader's limits"
                               : "not an audit record");
    }
    tel_audit_unmap(&in);
    return rc < 0 ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
}

static int audit_cat(int argc, char **argv)
{
    int rc = PROXY_EXIT_OK;
    if (argc < 2)
        return audit_fail("cat: expected FILE... (see warden audit --help)");
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1] != '\0')
            return audit_fail("cat: unknown option '%s' (see warden audit --help)", argv[i]);
    }
    for (int i = 1; i < argc && rc != PROXY_EXIT_USAGE; i++) {
        int r = audit_cat_file(argv[i]);
        if (r > rc)
            rc = r;
    }
    if (fflush(stdout) != 0)
        rc = PROXY_EXIT_USAGE;
    return rc;
}

int proxy_cli_audit(int argc, char **argv)
{
    if (argc < 2)
        return audit_fail("expected 'audit verify FILE...' or 'audit cat FILE...' (see warden "
                          "audit --help)");
    if (strcmp(argv[1], "verify") == 0)
        return audit_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "cat") == 0)
        return audit_cat(argc - 1, argv + 1);
    return audit_fail("unknown subcommand '%s' (expected verify or cat)", argv[1]);
}

/* `warden audit verify|cat` run as a real process on generated logs: output and exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "telemetry/audit.h"
#include "tests/unit/test_files.h"

#define KEY_HEX "hex:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static char dir[256];

struct out {
    int status;
    char out[65536], err[4096];
};

static int setup(void **state)
{
    (void)state;
    return test_tmpdir(dir, sizeof(dir), "warden-cli-audit");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(dir);
}

static void read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
}

/* Run warden with args; env_key: the WARDEN_AUDIT_KEY to pass, or NULL for none. */
static void run(struct out *o, const char *env_key, const char *const *args)
{
    const char *bin = getenv("WARDEN_BINARY");
    char out_path[300], err_path[300], env_buf[200];
    char *argv[32], *envp[4];
    size_t n = 0, ne = 0;
    pid_t pid;
    int st;
    posix_spawn_file_actions_t fa;
    argv[n++] = (char *)(bin ? bin : "./warden");
    for (; args[n - 1] && n < 31; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    envp[ne++] = "PATH=/usr/bin:/bin";
    envp[ne++] = "ASAN_OPTIONS=detect_leaks=1";
    if (env_key) {
        snprintf(env_buf, sizeof(env_buf), "WARDEN_AUDIT_KEY=%s", env_key);
        envp[ne++] = env_buf;
    }
    envp[ne] = NULL;
    snprintf(out_path, sizeof(out_path), "%s/stdout", dir);
    snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, argv, envp), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    read_all(out_path, o->out, sizeof(o->out));
    read_all(err_path, o->err, sizeof(o->err));
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* A log of n requests (rotating at max_bytes if non-zero) under the key of KEY_HEX. */
static void make_log(const char *path, int n, uint64_t max_bytes)
{
    uint8_t key[64];
    struct tel_audit *a;
    struct tel_audit_opts o = {.no_sync = true, .max_bytes = max_bytes};
    int kl = tel_audit_key_parse(KEY_HEX, strlen(KEY_HEX), key, sizeof(key));
    assert_int_equal(kl, 32);
    assert_int_equal(tel_audit_open(&a, path, key, (size_t)kl, &o), 0);
    for (int i = 0; i < n; i++) {
        struct tel_audit_record r = {.request_id = "r",
                                     .method = "POST",
                                     .path = "/v1/messages",
                                     .upstream = "anthropic",
                                     .prompt_verdict = TEL_AUDIT_VERDICT_PASS,
                                     .status = 200};
        assert_int_equal(tel_audit_write(a, &r), 0);
    }
    assert_int_equal(tel_audit_close(a), 0);
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_usage_errors_exit_2(void **state)
{
    char log[300], kf[300];
    struct out o;
    (void)state;
    path_of(log, sizeof(log), "u.log");
    path_of(kf, sizeof(kf), "short.key");
    make_log(log, 1, 0);
    FILE *f = fopen(kf, "w");
    fputs("short\n", f);
    fclose(f);
    struct {
        const char *key;
        const char *const *args;
    } cases[] = {
        {KEY_HEX, (const char *const[]){"audit", NULL}},
        {KEY_HEX, (const char *const[]){"audit", "frob", log, NULL}},
        {KEY_HEX, (const char *const[]){"audit", "verify", NULL}},
        {KEY_HEX, (const char *const[]){"audit", "verify", "--bogus", log, NULL}},
        {NULL, (const char *const[]){"audit", "verify", log, NULL}},
        {"", (const char *const[]){"audit", "verify", log, NULL}},
        {"tooshort", (const char *const[]){"audit", "verify", log, NULL}},
        {"hex:xyz", (const char *const[]){"audit", "verify", log, NULL}},
        {NULL, (const char *const[]){"audit", "verify", "--key-file", kf, log, NULL}},
        {NULL, (const char *const[]){"audit", "verify", "--key-file", "/nonexistent", log, NULL}},
        {KEY_HEX, (const char *const[]){"audit", "verify", "/nonexistent.log", NULL}},
        {KEY_HEX, (const char *const[]){"audit", "cat", NULL}},
        {KEY_HEX, (const char *const[]){"audit", "cat", "/nonexistent.log", NULL}},
        {KEY_HEX, (const char *const[]){"audit", "cat", "--bogus", log, NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run(&o, cases[i].key, cases[i].args);
        if (o.status != 2 || lines(o.err) != 1 || strncmp(o.err, "warden: ", 8) != 0 ||
            o.out[0] != '\0')
            fail_msg("case %zu: exit %d, stdout '%s', stderr '%s'", i, o.status, o.out, o.err);
    }
}

static void test_verify_and_cat(void **state)
{
    char log[300], kf[300], cut[300];
    struct out o;
    (void)state;
    path_of(log, sizeof(log), "v.log");
    path_of(kf, sizeof(kf), "good.key");
    make_log(log, 5, 0);
    FILE *f = fopen(kf, "w");
    fputs(KEY_HEX "\n", f);
    fclose(f);

    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", log, NULL});
    assert_int_equal(o.status, 0);
    if (strstr(o.out, ": ok: 7 records, seq 0..6 in 1 file(s), sealed") == NULL)
        fail_msg("%s", o.out);
    run(&o, NULL, (const char *const[]){"audit", "verify", "--key-file", kf, log, NULL});
    assert_int_equal(o.status, 0);
    run(&o, "hex:ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        (const char *const[]){"audit", "verify", log, NULL});
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.out, "record 0 (seq 0, offset 0): wrong key:"));

    run(&o, NULL, (const char *const[]){"audit", "cat", log, NULL});
    assert_int_equal(o.status, 0);
    assert_int_equal(lines(o.out), 7);
    assert_int_equal(strncmp(o.out, "{\"seq\":0,\"kind\":\"open\",", 23), 0);
    assert_non_null(strstr(o.out, "\n{\"seq\":3,\"kind\":\"request\","));
    assert_non_null(strstr(o.out, "\n{\"seq\":6,\"kind\":\"seal\","));
    assert_non_null(strstr(o.out, "\"hmac\":\""));

    /* Changed byte: inside the path of the third record. */
    struct stat st;
    assert_int_equal(stat(log, &st), 0);
    FILE *in = fopen(log, "rb");
    char *bytes = malloc((size_t)st.st_size);
    assert_int_equal(fread(bytes, 1, (size_t)st.st_size, in), (size_t)st.st_size);
    fclose(in);
    char *hit = bytes;
    for (int k = 0; k < 3; k++)
        hit = memmem(hit + 1, (size_t)(bytes + st.st_size - hit - 1), "/v1/messages", 12);
    assert_non_null(hit);
    hit[4] = 'M';
    path_of(cut, sizeof(cut), "changed.log");
    f = fopen(cut, "wb");
    fwrite(bytes, 1, (size_t)st.st_size, f);
    fclose(f);
    hit[4] = 'm';
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", cut, NULL});
    assert_int_equal(o.status, 1);
    if (strstr(o.out, ": record 3 (seq 3, offset ") == NULL ||
        strstr(o.out, "): changed: ") == NULL)
        fail_msg("%s", o.out);

    /* Truncated mid-record, and cut at a record boundary (the seal is gone). */
    path_of(cut, sizeof(cut), "cut.log");
    f = fopen(cut, "wb");
    fwrite(bytes, 1, (size_t)st.st_size - 10, f);
    fclose(f);
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", "--allow-unsealed", cut, NULL});
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.out, "record 6 (seq 6, offset "));
    assert_non_null(strstr(o.out, "): truncated: the file ends inside a record"));
    run(&o, NULL, (const char *const[]){"audit", "cat", cut, NULL});
    assert_int_equal(o.status, 1);
    assert_int_equal(lines(o.out), 6);
    assert_non_null(strstr(o.err, "truncated"));

    char *seal = NULL;
    for (char *p = bytes; (p = memmem(p, (size_t)(bytes + st.st_size - p), "\x92", 1)); p++) {
        if (memmem(p, (size_t)(bytes + st.st_size - p), "seal", 4) != NULL)
            seal = p; /* the last record start that still has "seal" after it */
    }
    assert_non_null(seal);
    f = fopen(cut, "wb");
    fwrite(bytes, 1, (size_t)(seal - bytes), f);
    fclose(f);
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", cut, NULL});
    if (o.status != 1 || strstr(o.out, "truncated: no seal record after seq 5") == NULL)
        fail_msg("exit %d: %s", o.status, o.out);
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", "--allow-unsealed", cut, NULL});
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "not sealed (accepted)"));
    free(bytes);
}

static void test_verify_rotated_files(void **state)
{
    char log[300], f1[320], f2[320];
    struct out o;
    (void)state;
    path_of(log, sizeof(log), "r.log");
    make_log(log, 40, 1500);
    snprintf(f1, sizeof(f1), "%s.1", log);
    snprintf(f2, sizeof(f2), "%s.2", log);
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", log, f1, f2, NULL});
    assert_int_equal(o.status, 0);
    assert_non_null(strstr(o.out, "continues an earlier file"));
    run(&o, KEY_HEX, (const char *const[]){"audit", "verify", log, f2, NULL});
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.out, ": missing: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors_exit_2),
        cmocka_unit_test(test_verify_and_cat),
        cmocka_unit_test(test_verify_rotated_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

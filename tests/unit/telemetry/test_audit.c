/* Unit tests for telemetry/audit.c: writer threads, chain, rotation, drops, tamper detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry/audit.h"
#include "tests/unit/test_files.h"

static const char KEY[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof(KEY) - 1)

static char dir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir(dir, sizeof(dir), "warden-audit");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(dir);
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

struct blob {
    uint8_t *p;
    size_t len;
};

static struct blob slurp(const char *path)
{
    struct blob b = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc((size_t)n + 1);
    assert_non_null(b.p);
    b.len = fread(b.p, 1, (size_t)n, f);
    assert_int_equal(b.len, (size_t)n);
    fclose(f);
    return b;
}

static void spill(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static const char *const rules2[] = {"pi-ignore-previous", "jb-dan"};
static const struct tel_audit_finding finds2[] = {{"EMAIL", 2}, {"AWS_ACCESS_KEY_ID", 1}};

static struct tel_audit_record sample(int i)
{
    static _Thread_local char id[32];
    snprintf(id, sizeof(id), "req-%d", i);
    return (struct tel_audit_record){
        .time_ns = 1790000000000000000LL + i,
        .request_id = id,
        .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
        .tenant = "acme",
        .route = "/v1/chat/completions",
        .method = "POST",
        .path = "/v1/chat/completions?api-key=SECRET",
        .client = "203.0.113.7",
        .upstream = "openai",
        .model = "gpt-4o-mini",
        .stream = i % 2,
        .prompt_verdict = TEL_AUDIT_VERDICT_WARN,
        .prompt_score = 0.5,
        .prompt_rules = rules2,
        .n_prompt_rules = 2,
        .output_action = TEL_AUDIT_OUTPUT_REDACT,
        .findings = finds2,
        .n_findings = 2,
        .schema = TEL_AUDIT_SCHEMA_VALID,
        .status = 200,
        .tokens_in = 12,
        .tokens_out = 34,
        .total_ns = 1500000,
        .upstream_ns = 1000000,
        .overhead_ns = 500000,
    };
}

static const struct tel_audit_opts fast = {.no_sync = true};

/* A sealed log of n requests at dir/name; returns its bytes. */
static struct blob make_log(const char *name, int n, const char *key, size_t keylen)
{
    char p[300];
    struct tel_audit *a;
    path_of(p, sizeof(p), name);
    assert_int_equal(tel_audit_open(&a, p, key, keylen, &fast), 0);
    for (int i = 0; i < n; i++) {
        struct tel_audit_record r = sample(i);
        assert_int_equal(tel_audit_write(a, &r), 0);
    }
    assert_int_equal(tel_audit_close(a), 0);
    return slurp(p);
}

/* Offsets of the records of a file image; returns the count. */
static size_t frames(const struct blob *b, size_t *offs, size_t cap)
{
    struct tel_audit_frame fr;
    size_t off = 0, n = 0;
    while (n < cap && tel_audit_frame_next(b->p, b->len, &off, &fr) == 1)
        offs[n++] = fr.offset;
    offs[n] = off;
    return n;
}

static int verify1(const uint8_t *p, size_t len, unsigned flags, struct tel_audit_result *res)
{
    struct tel_audit_input in = {.name = "mem", .data = p, .len = len};
    return tel_audit_verify(&in, 1, KEY, KEYLEN, flags, res);
}

/* ---------------------------------------------------------------- keys */

static void test_key_parse(void **state)
{
    uint8_t k[64];
    (void)state;
    assert_int_equal(tel_audit_key_parse("hex:000102030405060708090a0b0c0d0e0F", 36, k, 64), 16);
    assert_int_equal(k[15], 0x0f);
    assert_int_equal(tel_audit_key_parse("a-raw-passphrase-of-some-length\n", 32, k, 64), 31);
    assert_int_equal(tel_audit_key_parse("", 0, k, 64), -ENOKEY);
    assert_int_equal(tel_audit_key_parse("short", 5, k, 64), -ENOKEY);
    assert_int_equal(tel_audit_key_parse("hex:zz", 6, k, 64), -EINVAL);
    assert_int_equal(tel_audit_key_parse("hex:abc", 7, k, 64), -EINVAL);
    assert_int_equal(tel_audit_key_parse(KEY, KEYLEN, k, 8), -E2BIG);

    struct tel_audit *a = NULL;
    char p[300];
    path_of(p, sizeof(p), "k.log");
    assert_int_equal(tel_audit_open(&a, p, "", 0, &fast), -ENOKEY);
    assert_int_equal(tel_audit_open(&a, p, "0123456789", 10, &fast), -ENOKEY);
    assert_null(a);
}

/* ---------------------------------------------------------------- writer */

struct thr {
    struct tel_audit *a;
    int base, n;
};

static void *writer(void *arg)
{
    struct thr *t = arg;
    for (int i = 0; i < t->n; i++) {
        struct tel_audit_record r = sample(t->base + i);
        if (tel_audit_write(t->a, &r) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads_then_verify(void **state)
{
    enum { THREADS = 4, EACH = 500 };
    struct tel_audit *a;
    struct tel_audit_stats st;
    struct tel_audit_result res;
    pthread_t th[THREADS];
    struct thr t[THREADS];
    char p[300];
    (void)state;
    path_of(p, sizeof(p), "threads.log");
    /* With fdatasync: the path production takes. */
    struct tel_audit_opts o = {.queue_len = 4096};
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &o), 0);
    for (int i = 0; i < THREADS; i++) {
        t[i] = (struct thr){.a = a, .base = i * EACH, .n = EACH};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &t[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    tel_audit_stats(a, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(tel_audit_close(a), 0);

    struct blob b = slurp(p);
    assert_int_equal(verify1(b.p, b.len, 0, &res), 0);
    assert_int_equal(res.records, THREADS * EACH + 2); /* open and seal */
    assert_int_equal(res.first_seq, 0);
    assert_int_equal(res.last_seq, THREADS * EACH + 1);
    assert_true(res.sealed);
    assert_false(res.continues_previous);
    assert_int_equal(res.dropped, 0);

    /* Every request id appears once. */
    static uint8_t seen[THREADS * EACH];
    struct tel_audit_frame fr;
    size_t off = 0;
    memset(seen, 0, sizeof(seen));
    while (tel_audit_frame_next(b.p, b.len, &off, &fr) == 1) {
        const uint8_t *q = memmem(fr.content, fr.content_len, "req-", 4);
        if (q == NULL)
            continue;
        int id = (int)strtol((const char *)q + 4, NULL, 10); /* ends at the next key */
        assert_in_range(id, 0, THREADS * EACH - 1);
        assert_int_equal(seen[id]++, 0);
    }
    for (int i = 0; i < THREADS * EACH; i++)
        assert_int_equal(seen[i], 1);
    free(b.p);
}

static char *json_of(const struct blob *b, size_t index)
{
    struct tel_audit_frame fr;
    size_t off = 0, len = 0;
    char *out = NULL;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    for (size_t i = 0; i <= index; i++)
        assert_int_equal(tel_audit_frame_next(b->p, b->len, &off, &fr), 1);
    assert_int_equal(tel_audit_frame_print_json(f, &fr), 0);
    fclose(f);
    return out;
}

static void test_record_content(void **state)
{
    (void)state;
    struct blob b = make_log("content.log", 1, KEY, KEYLEN);
    char *open = json_of(&b, 0), *req = json_of(&b, 1), *seal = json_of(&b, 2);
    const char *want[] = {
        "{\"seq\":1,\"kind\":\"request\",\"t\":1790000000000000000,\"id\":\"req-0\","
        "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\",\"tenant\":\"acme\","
        "\"route\":\"/v1/chat/completions\",\"method\":\"POST\","
        "\"path\":\"/v1/chat/completions\",\"client\":\"203.0.113.7\","
        "\"upstream\":\"openai\",\"model\":\"gpt-4o-mini\",\"stream\":false,"
        "\"verdict\":\"warn\",\"score\":0.5,\"rules\":[\"pi-ignore-previous\",\"jb-dan\"],"
        "\"output\":\"redact\",\"findings\":{\"EMAIL\":2,\"AWS_ACCESS_KEY_ID\":1},"
        "\"schema\":\"valid\",\"status\":200,\"tokens_in\":12,\"tokens_out\":34,"
        "\"total_ns\":1500000,\"upstream_ns\":1000000,\"overhead_ns\":500000,\"hmac\":\"",
    };
    if (strncmp(req, want[0], strlen(want[0])) != 0)
        fail_msg("got  %s\nwant %s", req, want[0]);
    assert_null(strstr(req, "SECRET")); /* the query string is never written */
    assert_int_equal(strlen(req), strlen(want[0]) + 64 + 3);
    assert_non_null(strstr(open, "{\"seq\":0,\"kind\":\"open\","));
    assert_non_null(strstr(open, "\"format\":\"warden-audit/1\""));
    assert_non_null(strstr(open, "\"prev_seq\":null"));
    assert_non_null(strstr(open, "\"prev_hmac\":\"00000000"));
    assert_non_null(strstr(open, "\"prev_end\":\"none\""));
    assert_non_null(strstr(seal, "\"kind\":\"seal\""));
    assert_non_null(strstr(seal, "\"records\":3"));
    free(open);
    free(req);
    free(seal);
    free(b.p);
}

/* Oversized fields are cut, long lists counted, and the record still fits and verifies. */
static void test_writer_caps(void **state)
{
    char big[2000], p[300];
    const char *rules[40];
    struct tel_audit_finding f[40];
    struct tel_audit *a;
    struct tel_audit_result res;
    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[254] = (char)0xc3; /* a two-byte character across the cut at 256 */
    big[255] = (char)0xa9;
    big[256] = (char)0xc3;
    big[257] = (char)0xa9;
    for (int i = 0; i < 40; i++) {
        rules[i] = big;
        f[i] = (struct tel_audit_finding){.type = big, .count = 1};
    }
    struct tel_audit_record r = sample(0);
    r.request_id = r.tenant = r.route = r.path = r.client = r.model = r.upstream = big;
    r.prompt_rules = rules;
    r.n_prompt_rules = 40;
    r.findings = f;
    r.n_findings = 40;
    path_of(p, sizeof(p), "caps.log");
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &fast), 0);
    assert_int_equal(tel_audit_write(a, &r), 0);
    r.n_prompt_rules = 3;
    r.n_findings = 0;
    assert_int_equal(tel_audit_write(a, &r), 0);
    assert_int_equal(tel_audit_close(a), 0);
    struct blob b = slurp(p);
    assert_int_equal(verify1(b.p, b.len, 0, &res), 0);
    char *j1 = json_of(&b, 1), *j2 = json_of(&b, 2);
    /* The first did not fit in a queue slot with its lists: they were left out. */
    assert_non_null(strstr(j1, "\"rules\":[]"));
    assert_non_null(strstr(j1, "\"rules_omitted\":40"));
    assert_non_null(strstr(j1, "\"truncated\":true"));
    /* The second did: 3 rule ids of 64 bytes (cut on a character boundary). */
    assert_non_null(strstr(j2, "\"rules\":[\"xxxx"));
    assert_null(strstr(j2, "truncated"));
    char want[300];
    snprintf(want, sizeof(want), "\"tenant\":\"%.254s\u00e9\"", big);
    assert_non_null(strstr(j2, want));
    free(j1);
    free(j2);
    free(b.p);
}

/* ---------------------------------------------------------------- tampering */

static void test_flip_every_byte(void **state)
{
    size_t offs[16];
    struct tel_audit_result res;
    (void)state;
    struct blob b = make_log("flip.log", 3, KEY, KEYLEN);
    size_t n = frames(&b, offs, 15);
    assert_int_equal(n, 5);
    for (size_t k = 0; k < n; k++) {
        for (size_t at = offs[k]; at < offs[k + 1]; at++) {
            for (int m = 0; m < 2; m++) {
                uint8_t mask = m ? 0xff : 0x01;
                b.p[at] ^= mask;
                int rc = verify1(b.p, b.len, 0, &res);
                b.p[at] ^= mask;
                if (rc != 1 || res.index != k)
                    fail_msg("byte %zu (record %zu) ^%02x: rc %d, record %" PRIu64 " %s: %s", at, k,
                             mask, rc, res.index, tel_audit_fault_name(res.fault), res.msg);
            }
        }
    }
    assert_int_equal(verify1(b.p, b.len, 0, &res), 0);
    free(b.p);
}

static void test_drop_swap_repeat(void **state)
{
    size_t offs[16];
    struct tel_audit_result res;
    (void)state;
    struct blob b = make_log("drop.log", 4, KEY, KEYLEN);
    size_t n = frames(&b, offs, 15);
    assert_int_equal(n, 6);
    uint8_t *t = malloc(b.len * 2);

    /* Drop record 2. */
    size_t l = offs[2];
    memcpy(t, b.p, offs[2]);
    memcpy(t + l, b.p + offs[3], b.len - offs[3]);
    l += b.len - offs[3];
    assert_int_equal(verify1(t, l, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_MISSING);
    assert_int_equal(res.index, 2);
    assert_int_equal(res.seq, 2);
    assert_int_equal(res.offset, offs[2]);

    /* Swap records 2 and 3. */
    l = 0;
    memcpy(t, b.p, offs[2]);
    l = offs[2];
    memcpy(t + l, b.p + offs[3], offs[4] - offs[3]);
    l += offs[4] - offs[3];
    memcpy(t + l, b.p + offs[2], offs[3] - offs[2]);
    l += offs[3] - offs[2];
    memcpy(t + l, b.p + offs[4], b.len - offs[4]);
    l += b.len - offs[4];
    assert_int_equal(l, b.len);
    assert_int_equal(verify1(t, l, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_REORDERED);
    assert_int_equal(res.index, 2);

    /* Record 2 twice. */
    memcpy(t, b.p, offs[3]);
    l = offs[3];
    memcpy(t + l, b.p + offs[2], b.len - offs[2]);
    l += b.len - offs[2];
    assert_int_equal(verify1(t, l, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_REORDERED);
    assert_int_equal(res.index, 3);

    /* Drop the open record: the file no longer starts where it says. */
    assert_int_equal(verify1(b.p + offs[1], b.len - offs[1], 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_MISSING);
    assert_int_equal(res.index, 0);
    free(t);
    free(b.p);
}

static void test_truncation(void **state)
{
    size_t offs[16];
    struct tel_audit_result res;
    (void)state;
    struct blob b = make_log("trunc.log", 3, KEY, KEYLEN);
    size_t n = frames(&b, offs, 15);
    assert_int_equal(n, 5);
    for (size_t cut = 0; cut < b.len; cut++) {
        size_t k = 0;
        while (offs[k + 1] <= cut)
            k++;
        assert_int_equal(verify1(b.p, cut, 0, &res), 1);
        assert_int_equal(res.fault, TEL_AUDIT_FAULT_TRUNCATED);
        assert_int_equal(res.index, k); /* the record cut, or the seal that is missing */
        /* A log in use may lack its seal, never end inside a record. */
        int rc = verify1(b.p, cut, TEL_AUDIT_VERIFY_F_UNSEALED, &res);
        if (cut == offs[k] && k > 0) {
            assert_int_equal(rc, 0);
            assert_false(res.sealed);
        } else {
            assert_int_equal(rc, 1);
        }
    }
    /* Bytes added after the seal. */
    uint8_t *t = malloc(b.len + 1);
    memcpy(t, b.p, b.len);
    t[b.len] = 0x92;
    assert_int_equal(verify1(t, b.len + 1, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_TRUNCATED);
    t[b.len] = 0x00;
    assert_int_equal(verify1(t, b.len + 1, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_CHANGED);
    assert_int_equal(res.index, 5);
    free(t);
    free(b.p);
}

static void test_wrong_key_and_splice(void **state)
{
    size_t oa[16], ob[16];
    struct tel_audit_result res;
    (void)state;
    struct blob a = make_log("a.log", 3, KEY, KEYLEN);
    assert_int_equal(verify1(a.p, a.len, 0, &res), 0);
    struct tel_audit_input in = {.name = "a", .data = a.p, .len = a.len};
    assert_int_equal(tel_audit_verify(&in, 1, "another key of 32 bytes........", 31, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_KEY);
    assert_int_equal(res.index, 0);

    /* A record of another log, same key, same seq, same length. */
    struct blob b = make_log("b.log", 3, KEY, KEYLEN);
    assert_int_equal(frames(&a, oa, 15), 5);
    assert_int_equal(frames(&b, ob, 15), 5);
    assert_int_equal(oa[3] - oa[2], ob[3] - ob[2]);
    uint8_t *t = malloc(a.len);
    memcpy(t, a.p, a.len);
    memcpy(t + oa[2], b.p + ob[2], ob[3] - ob[2]);
    assert_int_equal(verify1(t, a.len, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_CHANGED);
    assert_int_equal(res.index, 2);

    /* Two whole logs given as one. */
    struct tel_audit_input two[2] = {{"a", a.p, a.len}, {"b", b.p, b.len}};
    assert_int_equal(tel_audit_verify(two, 2, KEY, KEYLEN, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_SPLICED);
    free(t);
    free(a.p);
    free(b.p);
}

/* ---------------------------------------------------------------- rotation, restarts */

static size_t rotated_files(const char *name, struct blob *bs, size_t cap)
{
    char p[300], q[320];
    struct stat st;
    size_t n = 0;
    path_of(p, sizeof(p), name);
    bs[n++] = slurp(p);
    for (unsigned i = 1; n < cap; i++) {
        snprintf(q, sizeof(q), "%s.%u", p, i);
        if (stat(q, &st) != 0)
            break;
        bs[n++] = slurp(q);
    }
    return n;
}

static int verify_blobs(const struct blob *bs, const size_t *order, size_t n, unsigned flags,
                        struct tel_audit_result *res)
{
    struct tel_audit_input in[64];
    for (size_t i = 0; i < n; i++)
        in[i] =
            (struct tel_audit_input){.name = "f", .data = bs[order[i]].p, .len = bs[order[i]].len};
    return tel_audit_verify(in, n, KEY, KEYLEN, flags, res);
}

static void test_rotation_keeps_the_chain(void **state)
{
    struct tel_audit *a;
    struct tel_audit_result res;
    struct tel_audit_stats st;
    struct blob bs[64];
    size_t order[64];
    char p[300];
    (void)state;
    path_of(p, sizeof(p), "rot.log");
    struct tel_audit_opts o = {.max_bytes = 2048, .no_sync = true};
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &o), 0);
    for (int i = 0; i < 60; i++) {
        struct tel_audit_record r = sample(i);
        assert_int_equal(tel_audit_write(a, &r), 0);
    }
    tel_audit_stats(a, &st);
    assert_int_equal(tel_audit_close(a), 0);
    size_t n = rotated_files("rot.log", bs, 64);
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++)
        assert_true(bs[i].len <= 2048);

    /* All files, given newest first (as a shell glob lists them). */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    assert_int_equal(verify_blobs(bs, order, n, 0, &res), 0);
    assert_int_equal(res.first_seq, 0);
    assert_true(res.sealed);
    assert_false(res.continues_previous);
    assert_int_equal(res.records, res.last_seq + 1);

    /* Each file alone still verifies; it says what it continues. */
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(verify_blobs(bs, &i, 1, 0, &res), 0);
        assert_int_equal(res.continues_previous, i != n - 1);
        assert_int_equal(res.continues_next, i != 0);
    }

    /* A file in the middle removed. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i != 2)
            order[k++] = i;
    }
    assert_int_equal(verify_blobs(bs, order, k, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_MISSING);

    /* The same file twice. */
    order[0] = 1;
    order[1] = 1;
    assert_int_equal(verify_blobs(bs, order, 2, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_SPLICED);

    /* The newest rotated file lost its last record (the rotate record). */
    size_t offs[64];
    size_t m = frames(&bs[1], offs, 63);
    bs[1].len = offs[m - 1];
    order[0] = 0;
    order[1] = 1;
    assert_int_equal(verify_blobs(bs, order, 2, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_TRUNCATED);
    assert_int_equal(res.file, 1);
    for (size_t i = 0; i < n; i++)
        free(bs[i].p);

    /* keep = 2: older files are deleted; what is left verifies from its first open record. */
    path_of(p, sizeof(p), "keep.log");
    o.keep = 2;
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &o), 0);
    for (int i = 0; i < 60; i++) {
        struct tel_audit_record r = sample(i);
        assert_int_equal(tel_audit_write(a, &r), 0);
    }
    assert_int_equal(tel_audit_close(a), 0);
    n = rotated_files("keep.log", bs, 64);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        order[i] = n - 1 - i;
    assert_int_equal(verify_blobs(bs, order, n, 0, &res), 0);
    assert_true(res.continues_previous);
    assert_true(res.sealed);
    for (size_t i = 0; i < n; i++)
        free(bs[i].p);
}

static void test_restart_continues(void **state)
{
    struct tel_audit *a;
    struct tel_audit_result res;
    struct blob bs[8];
    size_t order[8] = {0, 1, 2, 3}, offs[16];
    char p[300];
    (void)state;
    path_of(p, sizeof(p), "restart.log");
    struct blob first = make_log("restart.log", 2, KEY, KEYLEN);
    free(first.p);
    /* Second run after a clean stop. */
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &fast), 0);
    struct tel_audit_record r = sample(7);
    assert_int_equal(tel_audit_write(a, &r), 0);
    assert_int_equal(tel_audit_close(a), 0);
    assert_int_equal(rotated_files("restart.log", bs, 8), 2);
    assert_int_equal(verify_blobs(bs, order, 2, 0, &res), 0);
    assert_int_equal(res.records, 4 + 3);
    assert_int_equal(verify_blobs(bs, order, 1, 0, &res), 0);
    assert_true(res.continues_previous);

    /* A crash: the current file lost its seal (cut at a record boundary). The next start
     * records that, so the whole chain verifies and says so. */
    size_t n = frames(&bs[0], offs, 15);
    spill(p, bs[0].p, offs[n - 1]);
    free(bs[0].p);
    free(bs[1].p);
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &fast), 0);
    assert_int_equal(tel_audit_close(a), 0);
    assert_int_equal(rotated_files("restart.log", bs, 8), 3);
    assert_int_equal(verify_blobs(bs, order, 3, 0, &res), 0);
    char *j = json_of(&bs[0], 0);
    assert_non_null(strstr(j, "\"prev_end\":\"unsealed\""));
    free(j);
    /* ... but cutting that file further afterwards is caught. */
    n = frames(&bs[1], offs, 15);
    size_t keep = bs[1].len;
    bs[1].len = offs[n - 1];
    assert_int_equal(verify_blobs(bs, order, 3, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_TRUNCATED);
    assert_int_equal(res.file, 1);
    bs[1].len = keep;
    /* ... and so are bytes added to its end, which the next start did not see. */
    bs[1].p = realloc(bs[1].p, keep + 2);
    assert_non_null(bs[1].p);
    memcpy(bs[1].p + keep, "\x92\x85", 2);
    bs[1].len = keep + 2;
    assert_int_equal(verify_blobs(bs, order, 3, 0, &res), 1);
    assert_int_equal(res.fault, TEL_AUDIT_FAULT_CHANGED);
    assert_int_equal(res.file, 1);
    bs[1].len = keep;

    /* A crash inside a write: the file ends with part of a record. */
    n = frames(&bs[0], offs, 15);
    spill(p, bs[0].p, offs[n - 1] + 5);
    for (int i = 0; i < 3; i++)
        free(bs[i].p);
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &fast), 0);
    assert_int_equal(tel_audit_close(a), 0);
    assert_int_equal(rotated_files("restart.log", bs, 8), 4);
    assert_int_equal(verify_blobs(bs, order, 4, 0, &res), 0);
    j = json_of(&bs[0], 0);
    assert_non_null(strstr(j, "\"prev_end\":\"torn\""));
    free(j);
    for (int i = 0; i < 4; i++)
        free(bs[i].p);

    /* Another key cannot continue this log; garbage is not continued either. */
    assert_int_equal(tel_audit_open(&a, p, "another key of 32 bytes........", 31, &fast),
                     -EKEYREJECTED);
    path_of(p, sizeof(p), "garbage.log");
    spill(p, (const uint8_t *)"hello", 5);
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &fast), -EBADMSG);
}

static void test_queue_full_is_recorded(void **state)
{
    struct tel_audit *a;
    struct tel_audit_stats st;
    struct tel_audit_result res;
    char p[300];
    int dropped = 0;
    (void)state;
    path_of(p, sizeof(p), "full.log");
    struct tel_audit_opts o = {.queue_len = 4, .paused = true, .no_sync = true};
    assert_int_equal(tel_audit_open(&a, p, KEY, KEYLEN, &o), 0);
    for (int i = 0; i < 10; i++) {
        struct tel_audit_record r = sample(i);
        int rc = tel_audit_write(a, &r);
        assert_in_range(rc, 0, 1);
        dropped += rc;
    }
    assert_int_equal(dropped, 6);
    tel_audit_stats(a, &st);
    assert_int_equal(st.dropped, 6);
    assert_int_equal(st.queued, 4);
    assert_int_equal(tel_audit_close(a), 0);
    struct blob b = slurp(p);
    assert_int_equal(verify1(b.p, b.len, 0, &res), 0);
    assert_int_equal(res.dropped, 6);
    assert_int_equal(res.records, 1 + 1 + 4 + 1);
    char *j = json_of(&b, 1);
    assert_non_null(strstr(j, "{\"seq\":1,\"kind\":\"dropped\","));
    assert_non_null(strstr(j, "\"count\":6,"));
    free(j);
    j = json_of(&b, 6);
    assert_non_null(strstr(j, "\"dropped_total\":6"));
    free(j);
    free(b.p);
}

/* ---------------------------------------------------------------- reader */

static void test_reader_caps(void **state)
{
    struct tel_audit_frame fr;
    size_t off;
    (void)state;
    static const struct {
        const char *bytes;
        size_t len;
        int want;
    } cases[] = {
        {"\x92\x80\xc4\x20"
         "0123456789abcdef0123456789abcdef",
         36, 1},
        {"\x92\x80\xc4\x20"
         "0123",
         8, -ENODATA},
        {"\x92\x80\xc4\x10"
         "0123456789abcdef",
         20, -EBADMSG},
        {"\x93\x80", 2, -EBADMSG},
        {"\x92\x90", 2, -EBADMSG},                             /* content is not a map */
        {"\x92\xdf\xff\xff\xff\xff", 6, -E2BIG},               /* 4 G entries */
        {"\x92\x81\xa1k\xdd\x7f\xff\xff\xff", 9, -E2BIG},      /* array of 2 G */
        {"\x92\x81\xa1k\xdb\x7f\xff\xff\xff", 9, -E2BIG},      /* string of 2 GB */
        {"\x92\x81\xa1k\xc6\x00\x00\x10\x01", 9, -E2BIG},      /* bin over the cap */
        {"\x92\x81\xa1k\xd4\x01\x00", 7, -EBADMSG},            /* ext */
        {"\x92\x81\x01\x01", 4, -EBADMSG},                     /* key not a string */
        {"\x92\x81\xa1k\x91\x91\x91\x91\x91\x90", 10, -E2BIG}, /* too deep */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        off = 0;
        int rc = tel_audit_frame_next((const uint8_t *)cases[i].bytes, cases[i].len, &off, &fr);
        if (rc != cases[i].want)
            fail_msg("case %zu: %d, want %d", i, rc, cases[i].want);
    }
    /* A record longer than the cap: too big, not merely truncated. */
    size_t big = 4 + 255 * 305 + 34;
    uint8_t *b = calloc(1, big);
    assert_non_null(b);
    b[0] = 0x92;
    b[1] = 0xde; /* map16 of 255 pairs of 305 bytes */
    b[2] = 0x00;
    b[3] = 0xff;
    off = 0;
    for (size_t i = 4, k = 0; k < 255; k++) {
        b[i] = 0xa1;
        b[i + 1] = 'k';
        b[i + 2] = 0xda; /* str16 of 300 bytes */
        b[i + 3] = 0x01;
        b[i + 4] = 0x2c;
        i += 5 + 300;
    }
    assert_int_equal(tel_audit_frame_next(b, big, &off, &fr), -E2BIG);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_threads_then_verify),
        cmocka_unit_test(test_record_content),
        cmocka_unit_test(test_writer_caps),
        cmocka_unit_test(test_flip_every_byte),
        cmocka_unit_test(test_drop_swap_repeat),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_wrong_key_and_splice),
        cmocka_unit_test(test_rotation_keeps_the_chain),
        cmocka_unit_test(test_restart_continues),
        cmocka_unit_test(test_queue_full_is_recorded),
        cmocka_unit_test(test_reader_caps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

/* Unit tests for the configuration layer: defaults, layering, flags, parsing, bad-file corpus,
 * docs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/config.h"
#include "policy/config_keys.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The source name every in-memory document is loaded under. */
#define DOC "test.yaml"

/* ---------------------------------------------------------------- helpers */

/* $WARDEN_SOURCE_DIR/rel (the test runs from the build tree). Caller frees. */
static char *src_path(const char *rel)
{
    const char *root = getenv("WARDEN_SOURCE_DIR");
    char *p = NULL;

    if (root == NULL || *root == '\0')
        fail_msg("WARDEN_SOURCE_DIR is not set (ctest sets it to the repository root)");
    assert_true(asprintf(&p, "%s/%s", root, rel) > 0);
    return p;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;

    if (f == NULL)
        return NULL;
    do {
        if (n + 4096 + 1 > cap) {
            cap = (n + 4096 + 1) * 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int load(struct policy_config *cfg, const char *yaml, struct policy_error *err)
{
    memset(err, 0, sizeof(*err));
    return policy_config_load_buffer(cfg, DOC, yaml, strlen(yaml), err);
}

/* A configuration with `yaml` over the defaults that must load and validate. */
static struct policy_config *cfg_with(const char *yaml)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err;
    int rc;

    assert_non_null(cfg);
    rc = load(cfg, yaml, &err);
    if (rc != 0)
        fail_msg("load failed (%d): %s\n--- document:\n%s", rc, err.msg, yaml);
    rc = policy_config_validate(cfg, &err);
    if (rc != 0)
        fail_msg("validate failed (%d): %s\n--- document:\n%s", rc, err.msg, yaml);
    return cfg;
}

/* Load `yaml` (then validate when it loads) and expect -EINVAL; the message is in err. */
static void expect_bad(const char *yaml, struct policy_error *err)
{
    struct policy_config *cfg = policy_config_new();
    int rc;

    assert_non_null(cfg);
    rc = load(cfg, yaml, err);
    if (rc == 0)
        rc = policy_config_validate(cfg, err);
    if (rc != -EINVAL)
        fail_msg("expected -EINVAL, got %d (%s)\n--- document:\n%s", rc, rc ? err->msg : "", yaml);
    policy_config_unref(cfg);
}

static void set_ok(struct policy_config *cfg, const char *key, const char *value)
{
    struct policy_error err = {{0}};
    int rc = policy_config_set(cfg, "--set", key, value, &err);

    if (rc != 0)
        fail_msg("set %s=%s failed (%d): %s", key, value, rc, err.msg);
}

static void assert_url(const struct policy_url *u, const char *text, bool tls, const char *host,
                       uint16_t port, const char *base_path)
{
    assert_non_null(u->text);
    assert_string_equal(u->text, text);
    assert_int_equal(u->tls, tls);
    assert_string_equal(u->host, host);
    assert_int_equal(u->port, port);
    assert_string_equal(u->base_path, base_path);
}

/* ---------------------------------------------------------------- defaults */

struct route_case {
    const char *path, *upstream;
};

/* The built-in route table of policy/default.yaml, in order (DESIGN.md "HTTP"). */
static const struct route_case builtin_routes[] = {
    {"/v1/chat/completions", "openai"},
    {"/v1/completions", "openai"},
    {"/v1/responses*", "openai"},
    {"/v1/embeddings", "openai"},
    {"/v1/messages", "anthropic"},
    {"/v1/messages/count_tokens", "anthropic"},
    {"/v1/*", "openai"},
};

static void assert_builtin_routes(const struct policy_config *cfg, size_t first)
{
    assert_int_equal(cfg->n_routes, first + NELEMS(builtin_routes));
    for (size_t i = 0; i < NELEMS(builtin_routes); i++) {
        const struct policy_route *r = &cfg->routes[first + i];

        assert_string_equal(r->path, builtin_routes[i].path);
        assert_string_equal(r->upstream, builtin_routes[i].upstream);
        assert_string_equal(r->loc.source, "built-in default");
        assert_true(r->loc.line > 0);
    }
}

static void test_defaults(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};
    const struct policy_upstream *u;

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    assert_int_equal(atomic_load(&cfg->refs), 1);

    assert_string_equal(cfg->listen.text, "127.0.0.1:8080");
    assert_string_equal(cfg->listen.host, "127.0.0.1");
    assert_int_equal(cfg->listen.port, 8080);
    assert_int_equal(cfg->workers, 0);
    assert_int_equal(cfg->log.level, POLICY_LOG_INFO);
    assert_int_equal(cfg->log.format, POLICY_LOG_TEXT);

    assert_int_equal(cfg->limits.max_header_bytes, 32 * 1024);
    assert_int_equal(cfg->limits.max_body_bytes, 16 * 1024 * 1024);
    assert_int_equal(cfg->limits.client_header_timeout_ms, 10000);
    assert_int_equal(cfg->limits.client_body_timeout_ms, 60000);
    assert_int_equal(cfg->limits.keepalive_timeout_ms, 75000);
    assert_int_equal(cfg->limits.send_timeout_ms, 60000);
    assert_int_equal(cfg->limits.upstream_connect_timeout_ms, 10000);
    assert_int_equal(cfg->limits.upstream_first_byte_timeout_ms, 600000);
    assert_int_equal(cfg->limits.upstream_read_timeout_ms, 300000);
    assert_int_equal(cfg->limits.upstream_idle_timeout_ms, 4000);
    assert_int_equal(cfg->limits.drain_timeout_ms, 30000);
    assert_int_equal(cfg->limits.max_connections, 10000);

    assert_null(cfg->ca_file);
    assert_string_equal(cfg->default_upstream, "openai");
    assert_string_equal(cfg->default_upstream_loc.source, "built-in default");
    assert_int_equal(cfg->default_upstream_loc.line, 0);

    assert_true(cfg->prompt_guard.block_threshold == 0.7);
    assert_true(cfg->prompt_guard.warn_threshold == 0.4);
    assert_false(cfg->prompt_guard.scan_system);

    assert_int_equal(cfg->n_upstreams, 2);
    assert_string_equal(cfg->upstreams[0].name, "openai");
    assert_url(&cfg->upstreams[0].url, "https://api.openai.com", true, "api.openai.com", 443, "");
    assert_null(cfg->upstreams[0].api_key_env);
    assert_null(cfg->upstreams[0].ca_file);
    assert_string_equal(cfg->upstreams[1].name, "anthropic");
    assert_url(&cfg->upstreams[1].url, "https://api.anthropic.com", true, "api.anthropic.com", 443,
               "");
    assert_string_equal(cfg->upstreams[1].loc.source, "built-in default");
    assert_true(cfg->upstreams[1].loc.line > 0);

    u = policy_config_upstream(cfg, "anthropic");
    assert_ptr_equal(u, &cfg->upstreams[1]);
    assert_null(policy_config_upstream(cfg, "vllm"));
    assert_null(policy_config_upstream(cfg, NULL));

    assert_builtin_routes(cfg, 0);
    policy_config_unref(cfg);
}

/* The embedded document is the one in the source tree. */
static void test_default_document_embedded(void **state)
{
    char *path = src_path("policy/default.yaml");
    size_t len;
    char *text = read_all(path, &len);

    (void)state;
    assert_non_null(text);
    assert_int_equal(policy_default_yaml_len, len);
    assert_memory_equal(policy_default_yaml, text, len);
    assert_int_equal(policy_default_yaml[len], '\0');
    free(text);
    free(path);
}

/* ---------------------------------------------------------------- the key table */

static void poke_sentinel(enum policy_type type, void *a, void *b)
{
    switch (type) {
    case POLICY_T_INT:
    case POLICY_T_SIZE:
    case POLICY_T_DURATION:
        *(int64_t *)a = *(int64_t *)b = -12345;
        break;
    case POLICY_T_ENUM:
        *(int *)a = *(int *)b = -1;
        break;
    case POLICY_T_FLOAT:
        *(double *)a = *(double *)b = -1.0;
        break;
    case POLICY_T_BOOL:
        *(bool *)a = !*(bool *)a;
        *(bool *)b = !*(bool *)b;
        break;
    default:
        break;
    }
}

/* Every key of `t` (dotted `prefix`): sane table entry, and its default parses both as a flag
 * and in a YAML document, giving the value policy_config_new put there. `off` is the offset
 * of `t`'s struct in struct policy_config, or SIZE_MAX inside map/list entries; `set_prefix`
 * is NULL where no flag can reach (list items). */
static void walk_table(const struct policy_table *t, const char *prefix, const char *set_prefix,
                       const char *yaml_open, int indent, size_t off, size_t *n_keys)
{
    assert_true(t->n_keys > 0 && t->n_keys <= 64); /* walk_mapping's seen bitmask */
    for (size_t i = 0; i < t->n_keys; i++) {
        const struct policy_key *k = &t->keys[i];
        char path[256], setkey[256], yaml[1024], sub_open[512];
        size_t field = off == SIZE_MAX ? SIZE_MAX : off + k->offset;

        (*n_keys)++;
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name);
        snprintf(setkey, sizeof(setkey), "%s%s", set_prefix ? set_prefix : "", k->name);
        assert_non_null(k->name);
        assert_true(k->desc != NULL && strlen(k->desc) > 5);
        assert_string_not_equal(policy_type_name(k->type), "value");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t->keys[j].name, k->name);

        switch (k->type) {
        case POLICY_T_SECTION:
            assert_non_null(k->sub);
            assert_null(k->def);
            snprintf(sub_open, sizeof(sub_open), "%s%*s%s:\n", yaml_open, indent, "", k->name);
            snprintf(setkey, sizeof(setkey), "%s%s.", set_prefix ? set_prefix : "", k->name);
            walk_table(k->sub, path, set_prefix ? setkey : NULL, sub_open, indent + 2,
                       off == SIZE_MAX ? SIZE_MAX : off + k->offset, n_keys);
            continue;
        case POLICY_T_MAP:
            assert_non_null(k->sub);
            assert_true(k->sub->elem_size > 0);
            snprintf(sub_open, sizeof(sub_open), "%s%*s%s:\n%*st:\n", yaml_open, indent, "",
                     k->name, indent + 2, "");
            snprintf(setkey, sizeof(setkey), "%s%s.t.", set_prefix ? set_prefix : "", k->name);
            walk_table(k->sub, path, set_prefix ? setkey : NULL, sub_open, indent + 4, SIZE_MAX,
                       n_keys);
            continue;
        case POLICY_T_LIST:
            assert_non_null(k->sub);
            assert_true(k->sub->elem_size > 0);
            snprintf(sub_open, sizeof(sub_open), "%s%*s%s:\n%*s-\n", yaml_open, indent, "", k->name,
                     indent + 2, "");
            walk_table(k->sub, path, NULL, sub_open, indent + 4, SIZE_MAX, n_keys); /* no flag */
            continue;
        case POLICY_T_ENUM:
            assert_non_null(k->choices);
            assert_non_null(k->choices[0]);
            break;
        case POLICY_T_INT:
        case POLICY_T_SIZE:
        case POLICY_T_DURATION:
            assert_true(k->min <= k->max);
            break;
        case POLICY_T_FLOAT:
            assert_true(k->fmin <= k->fmax);
            break;
        default:
            break;
        }
        if (k->def == NULL)
            continue;

        struct policy_config *fresh = policy_config_new();
        struct policy_config *flag = policy_config_new();
        struct policy_config *doc = policy_config_new();
        struct policy_error err = {{0}};
        int rc;

        assert_non_null(fresh);
        assert_non_null(flag);
        assert_non_null(doc);
        /* Numbers start from a value no default has, so that a no-op set cannot pass. */
        if (field != SIZE_MAX)
            poke_sentinel(k->type, (char *)flag + field, (char *)doc + field);
        if (set_prefix != NULL) {
            rc = policy_config_set(flag, "--set", setkey, k->def, &err);
            if (rc != 0)
                fail_msg("%s: default '%s' does not parse as a flag: %s", path, k->def, err.msg);
        }
        snprintf(yaml, sizeof(yaml), "%s%*s%s: '%s'\n", yaml_open, indent, "", k->name, k->def);
        rc = load(doc, yaml, &err);
        if (rc != 0)
            fail_msg("%s: default '%s' does not load: %s\n%s", path, k->def, err.msg, yaml);

        if (field != SIZE_MAX) {
            const char *a = (const char *)fresh + field, *b = (const char *)flag + field,
                       *c = (const char *)doc + field;
            switch (k->type) {
            case POLICY_T_INT:
            case POLICY_T_SIZE:
            case POLICY_T_DURATION:
                assert_int_equal(*(const int64_t *)a, *(const int64_t *)b);
                assert_int_equal(*(const int64_t *)a, *(const int64_t *)c);
                break;
            case POLICY_T_ENUM:
                assert_int_equal(*(const int *)a, *(const int *)b);
                assert_int_equal(*(const int *)a, *(const int *)c);
                break;
            case POLICY_T_BOOL:
                assert_int_equal(*(const bool *)a, *(const bool *)b);
                assert_int_equal(*(const bool *)a, *(const bool *)c);
                break;
            case POLICY_T_FLOAT:
                assert_true(*(const double *)a == *(const double *)b);
                assert_true(*(const double *)a == *(const double *)c);
                break;
            case POLICY_T_STR:
            case POLICY_T_PATH:
                assert_string_equal(*(char *const *)a, *(char *const *)b);
                assert_string_equal(*(char *const *)a, *(char *const *)c);
                break;
            case POLICY_T_ADDR:
                assert_string_equal(((const struct policy_addr *)a)->text, k->def);
                assert_string_equal(((const struct policy_addr *)b)->text, k->def);
                assert_string_equal(((const struct policy_addr *)c)->text, k->def);
                break;
            case POLICY_T_URL:
                assert_string_equal(((const struct policy_url *)a)->text, k->def);
                break;
            default:
                fail_msg("%s: unexpected type with a default", path);
            }
        }
        policy_config_unref(fresh);
        policy_config_unref(flag);
        policy_config_unref(doc);
    }
}

static void test_table_defaults_parse(void **state)
{
    size_t n_keys = 0;

    (void)state;
    walk_table(&policy_config_table, "", "", "", 0, 0, &n_keys);
    /* 13 top-level, 3 log, 12 limits, 2 tls, 3 upstream, 3 route, 9 prompt_guard,
     * 10 output_guard, 1 output_guard.types.NAME, 11 otlp, 5 audit. */
    assert_int_equal(n_keys, 73);
}

/* ---------------------------------------------------------------- data-driven corpus */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in `dir` ending in `ext`, without it. */
static size_t list_dir(const char *dir, const char *ext, char ***out)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, elen = strlen(ext);

    if (d == NULL)
        fail_msg("cannot open %s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (len <= elen || strcmp(de->d_name + len - elen, ext) != 0)
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        assert_non_null(names);
        names[n] = strndup(de->d_name, len - elen);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    return n;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* `msg` with every occurrence of `path` written as FILE. */
static void replace_path(const char *msg, const char *path, char *out, size_t cap)
{
    size_t plen = strlen(path), used = 0;

    while (*msg && used + 1 < cap) {
        if (strncmp(msg, path, plen) == 0) {
            used += (size_t)snprintf(out + used, cap - used, "FILE");
            msg += plen;
        } else {
            out[used++] = *msg++;
        }
    }
    out[used < cap ? used : cap - 1] = '\0';
}

/* tests/unit/policy/data/config_bad/NAME.yaml must fail to load or validate with exactly the
 * line in NAME.expect (the file's path written FILE). Adding a case is adding two files. */
static void test_bad_files(void **state)
{
    char *dir = src_path("tests/unit/policy/data/config_bad");
    char **names, **expects;
    size_t n = list_dir(dir, ".yaml", &names);
    size_t n_exp = list_dir(dir, ".expect", &expects);
    size_t failures = 0;

    (void)state;
    assert_true(n >= 25);
    for (size_t i = 0; i < n_exp; i++) {
        if (bsearch(&expects[i], names, n, sizeof(*names), cmp_str) == NULL) {
            print_error("%s.expect: no %s.yaml beside it\n", expects[i], expects[i]);
            failures++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char *yaml = NULL, *expect_path = NULL, *expect;
        char got[sizeof(((struct policy_error *)0)->msg) + 64];
        struct policy_error err = {{0}};
        struct policy_config *cfg = policy_config_new();
        size_t elen;
        int rc;

        assert_non_null(cfg);
        assert_true(asprintf(&yaml, "%s/%s.yaml", dir, names[i]) > 0);
        assert_true(asprintf(&expect_path, "%s/%s.expect", dir, names[i]) > 0);
        expect = read_all(expect_path, &elen);
        if (expect == NULL) {
            print_error("%s: missing %s.expect\n", names[i], names[i]);
            failures++;
            goto next;
        }
        while (elen > 0 && (expect[elen - 1] == '\n' || expect[elen - 1] == '\r'))
            expect[--elen] = '\0';

        rc = policy_config_load_file(cfg, yaml, &err);
        if (rc == 0)
            rc = policy_config_validate(cfg, &err);
        replace_path(err.msg, yaml, got, sizeof(got));
        if (rc != -EINVAL) {
            print_error("%s: expected -EINVAL, got %d (%s)\n", names[i], rc, rc ? got : "accepted");
            failures++;
        } else if (strcmp(got, expect) != 0) {
            print_error("%s:\n  expected: %s\n  got:      %s\n", names[i], expect, got);
            failures++;
        }
        free(expect);
    next:
        free(yaml);
        free(expect_path);
        policy_config_unref(cfg);
    }
    free_names(names, n);
    free_names(expects, n_exp);
    free(dir);
    if (failures)
        fail_msg("%zu bad-configuration case(s) failed (see above)", failures);
}

/* Every NAME.yaml in tests/unit/policy/data/config_good/ must load over the defaults and validate.
 */
static void test_good_files(void **state)
{
    char *dir = src_path("tests/unit/policy/data/config_good");
    char **names;
    size_t n = list_dir(dir, ".yaml", &names);
    size_t failures = 0;

    (void)state;
    assert_true(n >= 5);
    for (size_t i = 0; i < n; i++) {
        char *yaml = NULL;
        struct policy_error err = {{0}};
        struct policy_config *cfg = policy_config_new();
        int rc;

        assert_non_null(cfg);
        assert_true(asprintf(&yaml, "%s/%s.yaml", dir, names[i]) > 0);
        rc = policy_config_load_file(cfg, yaml, &err);
        if (rc == 0)
            rc = policy_config_validate(cfg, &err);
        if (rc != 0) {
            print_error("%s: %d %s\n", names[i], rc, err.msg);
            failures++;
        }
        free(yaml);
        policy_config_unref(cfg);
    }
    free_names(names, n);
    free(dir);
    if (failures)
        fail_msg("%zu good configuration file(s) were refused (see above)", failures);
}

/* A few of the good files, value by value. */
static void test_good_file_values(void **state)
{
    char *path = src_path("tests/unit/policy/data/config_good/full.yaml");
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};
    const struct policy_upstream *u;

    (void)state;
    assert_int_equal(policy_config_load_file(cfg, path, &err), 0);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    assert_string_equal(cfg->listen.host, "0.0.0.0");
    assert_int_equal(cfg->listen.port, 9090);
    assert_int_equal(cfg->workers, 4);
    assert_int_equal(cfg->log.level, POLICY_LOG_DEBUG);
    assert_int_equal(cfg->log.format, POLICY_LOG_JSON);
    assert_int_equal(cfg->limits.max_header_bytes, 65536);
    assert_int_equal(cfg->limits.max_body_bytes, 8 * 1048576);
    assert_int_equal(cfg->limits.client_header_timeout_ms, 5000);
    assert_int_equal(cfg->limits.client_body_timeout_ms, 120000);
    assert_int_equal(cfg->limits.keepalive_timeout_ms, 0);
    assert_int_equal(cfg->limits.drain_timeout_ms, 3600000);
    assert_int_equal(cfg->limits.max_connections, 1000000);
    assert_string_equal(cfg->default_upstream, "vllm");
    assert_string_equal(cfg->default_upstream_loc.source, path);
    assert_int_equal(cfg->default_upstream_loc.line, 15);
    assert_int_equal(cfg->default_upstream_loc.col, 19);
    assert_true(cfg->prompt_guard.block_threshold == 0.9);
    assert_true(cfg->prompt_guard.warn_threshold == 0.9);
    assert_true(cfg->prompt_guard.scan_system);
    assert_int_equal(cfg->n_upstreams, 4);
    u = policy_config_upstream(cfg, "vllm");
    assert_non_null(u);
    assert_url(&u->url, "http://127.0.0.1:8000/v1", false, "127.0.0.1", 8000, "/v1");
    assert_string_equal(u->api_key_env, "VLLM_API_KEY");
    assert_string_equal(u->loc.source, path);
    assert_int_equal(u->loc.line, 17);
    assert_int_equal(u->loc.col, 3);
    u = policy_config_upstream(cfg, "azure");
    assert_url(&u->url, "https://example.openai.azure.com:8443/openai/deployments/gpt-4o/", true,
               "example.openai.azure.com", 8443, "/openai/deployments/gpt-4o");
    u = policy_config_upstream(cfg, "openai");
    assert_string_equal(u->api_key_env, "OPENAI_API_KEY");
    assert_url(&u->url, "https://api.openai.com", true, "api.openai.com", 443, "");
    assert_int_equal(cfg->n_routes, 3 + NELEMS(builtin_routes));
    assert_string_equal(cfg->routes[1].path, "/azure/*");
    assert_string_equal(cfg->routes[1].upstream, "azure");
    assert_int_equal(cfg->routes[1].loc.line, 27);
    assert_builtin_routes(cfg, 3);
    policy_config_unref(cfg);
    free(path);
}

/* ---------------------------------------------------------------- layering */

static void test_layer_file_over_defaults(void **state)
{
    struct policy_config *cfg = cfg_with("listen: 0.0.0.0:9000\n"
                                         "limits:\n"
                                         "  max_body_bytes: 1MiB\n"
                                         "upstreams:\n"
                                         "  openai:\n"
                                         "    url: http://127.0.0.1:8080/openai\n"
                                         "  vllm:\n"
                                         "    url: http://127.0.0.1:8000\n"
                                         "routes:\n"
                                         "  - path: /v1/chat/completions\n"
                                         "    upstream: vllm\n");
    const struct policy_upstream *u;

    (void)state;
    /* Scalars replace; untouched scalars keep their defaults. */
    assert_string_equal(cfg->listen.text, "0.0.0.0:9000");
    assert_int_equal(cfg->limits.max_body_bytes, 1048576);
    assert_int_equal(cfg->limits.max_header_bytes, 32768);
    assert_int_equal(cfg->workers, 0);

    /* Upstreams merge by name: openai replaced in place, anthropic kept, vllm appended. */
    assert_int_equal(cfg->n_upstreams, 3);
    assert_string_equal(cfg->upstreams[0].name, "openai");
    assert_url(&cfg->upstreams[0].url, "http://127.0.0.1:8080/openai", false, "127.0.0.1", 8080,
               "/openai");
    assert_string_equal(cfg->upstreams[0].loc.source, DOC);
    assert_int_equal(cfg->upstreams[0].loc.line, 5);
    assert_string_equal(cfg->upstreams[1].name, "anthropic");
    assert_url(&cfg->upstreams[1].url, "https://api.anthropic.com", true, "api.anthropic.com", 443,
               "");
    assert_string_equal(cfg->upstreams[2].name, "vllm");
    u = policy_config_upstream(cfg, "vllm");
    assert_ptr_equal(u, &cfg->upstreams[2]);
    assert_url(&u->url, "http://127.0.0.1:8000", false, "127.0.0.1", 8000, "");

    /* Routes of the file come first, then the built-ins unchanged. */
    assert_string_equal(cfg->routes[0].path, "/v1/chat/completions");
    assert_string_equal(cfg->routes[0].upstream, "vllm");
    assert_string_equal(cfg->routes[0].loc.source, DOC);
    assert_int_equal(cfg->routes[0].loc.line, 10);
    assert_builtin_routes(cfg, 1);
    policy_config_unref(cfg);
}

static void test_layer_upstream_partial_override(void **state)
{
    struct policy_config *cfg = cfg_with("upstreams:\n"
                                         "  openai:\n"
                                         "    api_key_env: OPENAI_API_KEY\n");

    (void)state;
    assert_int_equal(cfg->n_upstreams, 2);
    assert_string_equal(cfg->upstreams[0].api_key_env, "OPENAI_API_KEY");
    assert_url(&cfg->upstreams[0].url, "https://api.openai.com", true, "api.openai.com", 443, "");
    policy_config_unref(cfg);
}

/* Three layers: each later layer's routes go before the earlier ones; scalars of the
 * middle layer survive a top layer that does not mention them. */
static void test_layer_three(void **state)
{
    struct policy_config *cfg = cfg_with("workers: 2\n"
                                         "routes:\n"
                                         "  - {path: /one, upstream: openai}\n"
                                         "  - {path: /two, upstream: anthropic}\n");
    struct policy_error err = {{0}};

    (void)state;
    assert_int_equal(
        load(cfg, "log: {level: warn}\nroutes:\n  - {path: /three, upstream: openai}\n", &err), 0);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    assert_int_equal(cfg->workers, 2);
    assert_int_equal(cfg->log.level, POLICY_LOG_WARN);
    assert_string_equal(cfg->routes[0].path, "/three");
    assert_string_equal(cfg->routes[1].path, "/one");
    assert_string_equal(cfg->routes[2].path, "/two");
    assert_builtin_routes(cfg, 3);
    /* Flags go over the files. */
    set_ok(cfg, "workers", "8");
    assert_int_equal(cfg->workers, 8);
    policy_config_unref(cfg);
}

/* "key:" with nothing under it changes nothing; an empty list adds nothing. */
static void test_layer_empty_values(void **state)
{
    struct policy_config *cfg = cfg_with("limits:\nupstreams:\n  openai:\nroutes: []\n");

    (void)state;
    assert_int_equal(cfg->limits.max_body_bytes, 16 * 1048576);
    assert_int_equal(cfg->n_upstreams, 2);
    assert_string_equal(cfg->upstreams[0].url.text, "https://api.openai.com");
    assert_builtin_routes(cfg, 0);
    policy_config_unref(cfg);
}

/* ---------------------------------------------------------------- flags */

static void test_set_scalars(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};
    char *ca = src_path("policy/default.yaml"); /* any readable file */

    (void)state;
    set_ok(cfg, "listen", "0.0.0.0:9000");
    assert_string_equal(cfg->listen.host, "0.0.0.0");
    assert_int_equal(cfg->listen.port, 9000);
    set_ok(cfg, "workers", "16");
    assert_int_equal(cfg->workers, 16);
    set_ok(cfg, "limits.max_body_bytes", "32MiB");
    assert_int_equal(cfg->limits.max_body_bytes, 32 * 1048576);
    set_ok(cfg, "limits.keepalive_timeout", "2m");
    assert_int_equal(cfg->limits.keepalive_timeout_ms, 120000);
    set_ok(cfg, "log.level", "debug");
    assert_int_equal(cfg->log.level, POLICY_LOG_DEBUG);
    set_ok(cfg, "log.format", "json");
    assert_int_equal(cfg->log.format, POLICY_LOG_JSON);
    set_ok(cfg, "prompt_guard.scan_system", "on");
    assert_true(cfg->prompt_guard.scan_system);
    set_ok(cfg, "prompt_guard.block_threshold", "0.95");
    assert_true(cfg->prompt_guard.block_threshold == 0.95);
    set_ok(cfg, "prompt_guard.warn_threshold", "0.5");
    assert_string_equal(cfg->prompt_guard.warn_threshold_loc.source, "--set");
    assert_int_equal(cfg->prompt_guard.warn_threshold_loc.line, 0);
    set_ok(cfg, "default_upstream", "anthropic");
    assert_string_equal(cfg->default_upstream, "anthropic");
    assert_string_equal(cfg->default_upstream_loc.source, "--set");
    assert_int_equal(cfg->default_upstream_loc.line, 0);
    set_ok(cfg, "ca_file", ca);
    assert_string_equal(cfg->ca_file, ca);
    set_ok(cfg, "ca_file", "");
    assert_null(cfg->ca_file);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    /* No flag name: the message says "command line". */
    assert_int_equal(policy_config_set(cfg, NULL, "workers", "x", &err), -EINVAL);
    assert_string_equal(err.msg, "command line: workers: expected an integer, got 'x'");
    free(ca);
    policy_config_unref(cfg);
}

static void test_set_map_entries(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};
    const struct policy_upstream *u;

    (void)state;
    assert_int_equal(policy_config_set(cfg, "--upstream", "upstreams.vllm.url",
                                       "http://127.0.0.1:8000/v1/", &err),
                     0);
    assert_int_equal(cfg->n_upstreams, 3);
    u = policy_config_upstream(cfg, "vllm");
    assert_non_null(u);
    assert_url(&u->url, "http://127.0.0.1:8000/v1/", false, "127.0.0.1", 8000, "/v1");
    assert_string_equal(u->loc.source, "--upstream");
    assert_int_equal(u->loc.line, 0);
    set_ok(cfg, "upstreams.vllm.api_key_env", "VLLM_KEY");
    assert_int_equal(cfg->n_upstreams, 3);
    assert_string_equal(policy_config_upstream(cfg, "vllm")->api_key_env, "VLLM_KEY");
    /* An existing entry keeps its other keys. */
    set_ok(cfg, "upstreams.openai.api_key_env", "OPENAI_KEY");
    assert_url(&cfg->upstreams[0].url, "https://api.openai.com", true, "api.openai.com", 443, "");
    set_ok(cfg, "upstreams.anthropic.url", "http://localhost:9999");
    assert_url(&cfg->upstreams[1].url, "http://localhost:9999", false, "localhost", 9999, "");
    set_ok(cfg, "default_upstream", "vllm");
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    /* A new entry without a url is caught by validate, at the flag. */
    set_ok(cfg, "upstreams.bare.api_key_env", "K");
    assert_int_equal(policy_config_validate(cfg, &err), -EINVAL);
    assert_string_equal(err.msg, "--set: upstreams.bare: url is required");
    policy_config_unref(cfg);
}

struct set_err_case {
    const char *flag, *key, *value, *msg;
};

static const struct set_err_case set_err_cases[] = {
    {"--set", "routes", "x",
     "--set: routes: is a list of mappings; set one of its keys, or use a configuration file"},
    {"--set", "routes.path", "/x",
     "--set: routes.path: is a list of mappings; set one of its keys, or use a configuration file"},
    {"--set", "limits", "1",
     "--set: limits: is a mapping; set one of its keys, or use a configuration file"},
    {"--set", "listen.port", "1",
     "--set: listen.port: is a host:port; set one of its keys, or use a configuration file"},
    {"--set", "limits.max_body_byte", "1MiB",
     "--set: limits.max_body_byte: unknown key; did you mean 'max_body_bytes'?"},
    {"--set", "frobnicate", "1",
     "--set: frobnicate: unknown key; expected one of: listen, workers, log, limits, tls, ca_file, "
     "default_upstream, upstreams, routes, prompt_guard, output_guard, otlp, audit"},
    {"--set", "log.colour", "red",
     "--set: log.colour: unknown key; expected one of: level, format, access"},
    {"--set", "upstreams.vllm.uri", "http://h",
     "--set: upstreams.vllm.uri: unknown key; did you mean 'url'?"},
    {"--upstream", "upstreams.vllm", "http://h",
     "--upstream: upstreams.vllm: expected upstreams.NAME.KEY with NAME of letters, digits, '_', "
     "'-' or '.'"},
    {"--upstream", "upstreams", "http://h",
     "--upstream: upstreams: expected upstreams.NAME.KEY with NAME of letters, digits, '_', '-' "
     "or '.'"},
    {"--upstream", "upstreams.my llm.url", "http://h",
     "--upstream: upstreams.my llm.url: expected upstreams.NAME.KEY with NAME of letters, "
     "digits, '_', '-' or '.'"},
    {"--upstream", "upstreams.vllm.url", "ftp://h",
     "--upstream: upstreams.vllm.url: must start with http:// or https://"},
    {"--listen", "listen", "8080", "--listen: listen: expected host:port, e.g. 127.0.0.1:8080"},
    {"--workers", "workers", "many", "--workers: workers: expected an integer, got 'many'"},
    {"--workers", "workers", "-1", "--workers: workers: -1 is out of range 0..256"},
    {"--set", "limits.max_body_bytes", "2GiB",
     "--set: limits.max_body_bytes: '2GiB' is out of range (1024..1073741824 bytes)"},
    {"--set", "log.level", "trace",
     "--set: log.level: 'trace' is not one of: error, warn, info, debug"},
    {"--set", "prompt_guard.scan_system", "2",
     "--set: prompt_guard.scan_system: expected true or false, got '2'"},
    {"--ca-file", "ca_file", "/nonexistent/warden-test/ca.pem",
     "--ca-file: ca_file: cannot read file '/nonexistent/warden-test/ca.pem': No such file or "
     "directory"},
};

static void test_set_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEMS(set_err_cases); i++) {
        const struct set_err_case *c = &set_err_cases[i];
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};
        int rc = policy_config_set(cfg, c->flag, c->key, c->value, &err);

        if (rc != -EINVAL || strcmp(err.msg, c->msg) != 0)
            fail_msg("set %s=%s: rc %d\n  expected: %s\n  got:      %s", c->key, c->value, rc,
                     c->msg, err.msg);
        /* A refused value leaves the field as it was. */
        assert_string_equal(cfg->listen.text, "127.0.0.1:8080");
        assert_int_equal(cfg->workers, 0);
        assert_int_equal(cfg->limits.max_body_bytes, 16 * 1048576);
        assert_int_equal(cfg->log.level, POLICY_LOG_INFO);
        assert_null(cfg->ca_file);
        policy_config_unref(cfg);
    }
}

/* ---------------------------------------------------------------- value syntax */

struct url_case {
    const char *text;
    bool tls;
    const char *host;
    uint16_t port;
    const char *base_path;
};

static const struct url_case url_cases[] = {
    {"https://api.openai.com", true, "api.openai.com", 443, ""},
    {"http://example.com", false, "example.com", 80, ""},
    {"https://example.com:8443", true, "example.com", 8443, ""},
    {"http://127.0.0.1:8000", false, "127.0.0.1", 8000, ""},
    {"http://127.0.0.1:65535", false, "127.0.0.1", 65535, ""},
    {"http://127.0.0.1:1", false, "127.0.0.1", 1, ""},
    {"http://[::1]:8000", false, "::1", 8000, ""},
    {"https://[::1]", true, "::1", 443, ""},
    {"http://[fe80::1:2]:80/v1", false, "fe80::1:2", 80, "/v1"},
    {"https://x.openai.azure.com/openai/deployments/gpt-4o/", true, "x.openai.azure.com", 443,
     "/openai/deployments/gpt-4o"},
    {"http://h/v1///", false, "h", 80, "/v1"},
    {"http://h/", false, "h", 80, ""},
    {"http://h:8000/", false, "h", 8000, ""},
    {"HTTPS://API.Example.COM", true, "API.Example.COM", 443, ""},
    {"http://my_host-1.internal", false, "my_host-1.internal", 80, ""},
};

static void test_url_parsing(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEMS(url_cases); i++) {
        const struct url_case *c = &url_cases[i];
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};
        char yaml[256];

        set_ok(cfg, "upstreams.t.url", c->text);
        assert_url(&policy_config_upstream(cfg, "t")->url, c->text, c->tls, c->host, c->port,
                   c->base_path);
        /* The same through YAML, over an existing URL. */
        snprintf(yaml, sizeof(yaml), "upstreams:\n  t:\n    url: \"%s\"\n", c->text);
        assert_int_equal(load(cfg, yaml, &err), 0);
        assert_int_equal(cfg->n_upstreams, 3);
        assert_url(&policy_config_upstream(cfg, "t")->url, c->text, c->tls, c->host, c->port,
                   c->base_path);
        policy_config_unref(cfg);
    }
}

struct addr_case {
    const char *text, *host;
    uint16_t port;
};

static const struct addr_case addr_cases[] = {
    {"127.0.0.1:8080", "127.0.0.1", 8080},
    {"0.0.0.0:0", "0.0.0.0", 0},
    {":9000", "", 9000},
    {"[::1]:8000", "::1", 8000},
    {"[::]:443", "::", 443},
    {"localhost:65535", "localhost", 65535},
};

static void test_listen_parsing(void **state)
{
    (void)state;
    for (size_t i = 0; i < NELEMS(addr_cases); i++) {
        struct policy_config *cfg = policy_config_new();

        set_ok(cfg, "listen", addr_cases[i].text);
        assert_string_equal(cfg->listen.text, addr_cases[i].text);
        assert_string_equal(cfg->listen.host, addr_cases[i].host);
        assert_int_equal(cfg->listen.port, addr_cases[i].port);
        policy_config_unref(cfg);
    }
}

struct num_case {
    const char *text;
    int64_t value; /* -1: refused */
};

static const struct num_case size_cases[] = {
    {"64KiB", 65536},
    {"8MiB", 8388608},
    {"1GiB", 1073741824},
    {"10MB", 10000000},
    {"1GB", 1000000000},
    {"5KB", 5000},
    {"4096", 4096},
    {"2048B", 2048},
    {"64k", 65536},
    {"64K", 65536},
    {"3m", 3145728},
    {"3M", 3145728},
    {"1g", 1073741824},
    {"1G", 1073741824},
    {"1024", 1024},
    {"1023", -1},
    {"2GiB", -1},
    {"1073741825", -1},
    {"1TiB", -1},
    {"64kib", -1},
    {"MiB", -1},
    {"0x100000", -1},
    {"1.5MiB", -1},
    {"-1MiB", -1},
    {"99999999999999999999", -1},
    {"9999999999GiB", -1},
};

static const struct num_case duration_cases[] = {
    {"250ms", 250}, {"30s", 30000}, {"5m", 300000},    {"1h", 3600000},
    {"90", 90000},  {"100ms", 100}, {"24h", 86400000}, {"1440m", 86400000},
    {"99ms", -1},   {"0", -1},      {"25h", -1},       {"1d", -1},
    {"10sec", -1},  {"1.5s", -1},   {"-5s", -1},       {"5S", -1},
    {"s", -1},      {"", -1},
};

static void check_numbers(const char *key, const struct num_case *cases, size_t n, size_t offset)
{
    for (size_t i = 0; i < n; i++) {
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};
        int64_t before = *(int64_t *)((char *)cfg + offset);
        int rc = policy_config_set(cfg, "--set", key, cases[i].text, &err);
        int64_t v = *(int64_t *)((char *)cfg + offset);

        if (cases[i].value < 0) {
            if (rc != -EINVAL || v != before)
                fail_msg("%s=%s: expected refusal, got rc %d value %lld", key, cases[i].text, rc,
                         (long long)v);
        } else if (rc != 0 || v != cases[i].value) {
            fail_msg("%s=%s: expected %lld, got rc %d value %lld (%s)", key, cases[i].text,
                     (long long)cases[i].value, rc, (long long)v, err.msg);
        }
        policy_config_unref(cfg);
    }
}

static void test_sizes(void **state)
{
    (void)state;
    check_numbers("limits.max_body_bytes", size_cases, NELEMS(size_cases),
                  offsetof(struct policy_config, limits.max_body_bytes));
}

static void test_durations(void **state)
{
    (void)state;
    check_numbers("limits.client_body_timeout", duration_cases, NELEMS(duration_cases),
                  offsetof(struct policy_config, limits.client_body_timeout_ms));
}

static void test_booleans(void **state)
{
    static const struct {
        const char *text;
        int value; /* -1: refused */
    } cases[] = {
        {"true", 1}, {"false", 0}, {"yes", 1}, {"no", 0},   {"on", 1},    {"off", 0},
        {"True", 1}, {"NO", 0},    {"ON", 1},  {"1", -1},   {"0", -1},    {"y", -1},
        {"n", -1},   {"", -1},     {"~", -1},  {"tru", -1}, {"yess", -1},
    };

    (void)state;
    for (size_t i = 0; i < NELEMS(cases); i++) {
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};
        char yaml[128];
        int rc;

        /* Start from the opposite value so that a no-op cannot pass. */
        cfg->prompt_guard.scan_system = cases[i].value != 1;
        rc = policy_config_set(cfg, "--set", "prompt_guard.scan_system", cases[i].text, &err);
        if (cases[i].value < 0) {
            assert_int_equal(rc, -EINVAL);
        } else {
            if (rc != 0)
                fail_msg("'%s': %s", cases[i].text, err.msg);
            assert_int_equal(cfg->prompt_guard.scan_system, cases[i].value);
            cfg->prompt_guard.scan_system = !cases[i].value;
            snprintf(yaml, sizeof(yaml), "prompt_guard:\n  scan_system: '%s'\n", cases[i].text);
            assert_int_equal(load(cfg, yaml, &err), 0);
            assert_int_equal(cfg->prompt_guard.scan_system, cases[i].value);
        }
        policy_config_unref(cfg);
    }
}

static void test_floats(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    set_ok(cfg, "prompt_guard.block_threshold", "1");
    assert_true(cfg->prompt_guard.block_threshold == 1.0);
    set_ok(cfg, "prompt_guard.block_threshold", ".5");
    assert_true(cfg->prompt_guard.block_threshold == 0.5);
    set_ok(cfg, "prompt_guard.block_threshold", "5e-1");
    assert_true(cfg->prompt_guard.block_threshold == 0.5);
    set_ok(cfg, "prompt_guard.warn_threshold", "0");
    assert_true(cfg->prompt_guard.warn_threshold == 0.0);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    static const char *const bad[] = {"1.0001", "-0.5", "inf", "nan", "0.5x", "", "~", "1e999"};
    for (size_t i = 0; i < NELEMS(bad); i++) {
        assert_int_equal(
            policy_config_set(cfg, "--set", "prompt_guard.block_threshold", bad[i], &err), -EINVAL);
        assert_true(cfg->prompt_guard.block_threshold == 0.5);
    }
    policy_config_unref(cfg);
}

/* Empty or null values clear a string; quoted text stays text. */
static void test_null_strings(void **state)
{
    struct policy_config *cfg = cfg_with("upstreams:\n"
                                         "  openai:\n"
                                         "    api_key_env: OPENAI_API_KEY\n"
                                         "  anthropic:\n"
                                         "    api_key_env: ANTHROPIC_API_KEY\n");
    struct policy_error err = {{0}};

    (void)state;
    assert_string_equal(cfg->upstreams[0].api_key_env, "OPENAI_API_KEY");
    assert_int_equal(load(cfg,
                          "upstreams:\n"
                          "  openai:\n"
                          "    api_key_env: ~\n"
                          "  anthropic:\n"
                          "    api_key_env:\n"
                          "ca_file: null\n",
                          &err),
                     0);
    assert_null(cfg->upstreams[0].api_key_env);
    assert_null(cfg->upstreams[1].api_key_env);
    assert_null(cfg->ca_file);
    set_ok(cfg, "upstreams.openai.api_key_env", "K");
    assert_string_equal(cfg->upstreams[0].api_key_env, "K");
    set_ok(cfg, "upstreams.openai.api_key_env", "");
    assert_null(cfg->upstreams[0].api_key_env);
    /* A null default_upstream is an error at validate, not a crash. */
    assert_int_equal(load(cfg, "default_upstream: NULL\n", &err), 0);
    assert_null(cfg->default_upstream);
    assert_int_equal(policy_config_validate(cfg, &err), -EINVAL);
    assert_string_equal(err.msg, DOC ":1:19: default_upstream: upstream '' is not defined "
                                     "(defined: openai, anthropic)");
    policy_config_unref(cfg);
}

static void test_ca_file_readable(void **state)
{
    char *ca = src_path("policy/default.yaml");
    char yaml[1024];
    struct policy_config *cfg;

    (void)state;
    snprintf(yaml, sizeof(yaml),
             "ca_file: %s\nupstreams:\n  internal:\n    url: https://llm.internal\n"
             "    ca_file: %s\n",
             ca, ca);
    cfg = cfg_with(yaml);
    assert_string_equal(cfg->ca_file, ca);
    assert_string_equal(policy_config_upstream(cfg, "internal")->ca_file, ca);
    policy_config_unref(cfg);
    free(ca);
}

/* A route's output schema is compiled when the configuration is checked; a bad one fails
 * there, naming the route's place in the file. */
static void test_route_output_schema(void **state)
{
    char good[] = "/tmp/warden-test-schema-XXXXXX", bad[] = "/tmp/warden-test-schema-XXXXXX";
    char yaml[512];
    struct policy_error err;
    int fg = mkstemp(good), fb = mkstemp(bad);

    (void)state;
    assert_true(fg >= 0 && fb >= 0);
    static const char gs[] = "{\"type\":\"object\",\"required\":[\"answer\"]}";
    static const char bs[] = "{\"type\":\"objec\"}";
    assert_true(write(fg, gs, sizeof(gs) - 1) == (ssize_t)sizeof(gs) - 1);
    assert_true(write(fb, bs, sizeof(bs) - 1) == (ssize_t)sizeof(bs) - 1);
    close(fg);
    close(fb);
    snprintf(yaml, sizeof(yaml),
             "routes:\n  - {path: /v1/chat/completions, upstream: openai, "
             "output_schema: %s}\n",
             good);
    struct policy_config *cfg = cfg_with(yaml);
    assert_non_null(cfg->routes[0].schema);
    assert_null(cfg->routes[1].schema);
    policy_config_unref(cfg);
    snprintf(yaml, sizeof(yaml),
             "workers: 1\nroutes:\n  - path: /v1/chat/completions\n    upstream: openai\n"
             "    output_schema: %s\n",
             bad);
    expect_bad(yaml, &err);
    char want[300];
    snprintf(want, sizeof(want),
             DOC ":3:5: routes[0].output_schema: %s: unknown type \"objec\" at /type", bad);
    assert_string_equal(err.msg, want);
    unlink(good);
    unlink(bad);
}

/* Locations of errors: line and column of the offending value, 1-based. */
static void test_error_locations(void **state)
{
    struct policy_error err;

    (void)state;
    expect_bad("# comment\n\nlimits:\n  max_connections: 0\n", &err);
    assert_string_equal(err.msg, DOC ":4:20: limits.max_connections: 0 is out of range 1..1000000");
    expect_bad("upstreams:\n  a: {url: http://a}\n  b:\n    url: http://b:99999\n", &err);
    assert_string_equal(err.msg,
                        DOC ":4:10: upstreams.b.url: port must be a number from 1 to 65535");
    expect_bad("routes:\n  - {path: /a, upstream: openai}\n  - {path: /b, upstrem: x}\n", &err);
    assert_string_equal(err.msg, DOC ":3:16: routes[1].upstrem: unknown key; did you mean "
                                     "'upstream'?");
    /* Validation errors point at the route (file routes are first in the merged list). */
    expect_bad("routes:\n  - {path: /a, upstream: openai}\n  - {path: /b, upstream: x}\n", &err);
    assert_string_equal(err.msg, DOC ":3:5: routes[1].upstream: upstream 'x' is not defined "
                                     "(defined: openai, anthropic)");
    /* YAML syntax error: line and column of the problem. */
    expect_bad("workers: 1\nlog:\n  level: info: debug\n", &err);
    assert_string_equal(err.msg, DOC ":3:14: YAML syntax error: mapping values are not allowed "
                                     "in this context");
    expect_bad("workers: 1\nroutes:\n  - path: /a\n   upstream: openai\n", &err);
    assert_string_equal(err.msg, DOC ":4:4: YAML syntax error: did not find expected '-' "
                                     "indicator while parsing a block collection");
}

/* ---------------------------------------------------------------- limits of the loader */

static void test_size_cap(void **state)
{
    size_t cap = 1024 * 1024;
    char *buf = malloc(cap + 1);
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    assert_non_null(buf);
    /* Exactly 1 MiB of comment lines loads. */
    for (size_t i = 0; i < cap + 1; i++)
        buf[i] = i % 64 == 63 ? '\n' : '#';
    buf[cap - 1] = '\n';
    assert_int_equal(policy_config_load_buffer(cfg, DOC, buf, cap, &err), 0);
    /* One byte more is refused before parsing. */
    buf[cap] = '\n';
    assert_int_equal(policy_config_load_buffer(cfg, DOC, buf, cap + 1, &err), -EFBIG);
    assert_string_equal(err.msg, DOC ":1:1: configuration larger than 1048576 bytes");

    /* The same through a file. */
    char path[] = "/tmp/warden-test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, cap + 1), (ssize_t)(cap + 1));
    close(fd);
    assert_int_equal(policy_config_load_file(cfg, path, &err), -EFBIG);
    assert_non_null(strstr(err.msg, "configuration larger than 1 MiB"));
    assert_int_equal(truncate(path, (off_t)cap), 0);
    assert_int_equal(policy_config_load_file(cfg, path, &err), 0);
    unlink(path);
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    free(buf);
    policy_config_unref(cfg);
}

static void test_file_errors(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    assert_int_equal(policy_config_load_file(cfg, "/nonexistent/warden.yaml", &err), -EIO);
    assert_string_equal(err.msg, "/nonexistent/warden.yaml: cannot open configuration: No such "
                                 "file or directory");
    assert_int_equal(policy_config_load_file(cfg, "/tmp", &err), -EIO);
    assert_string_equal(err.msg, "/tmp: not a regular file");
    /* A failed load of a missing file changed nothing. */
    assert_int_equal(policy_config_validate(cfg, &err), 0);
    assert_builtin_routes(cfg, 0);
    policy_config_unref(cfg);
}

/* Nesting far beyond what the schema allows is refused at the first wrong level, whatever
 * the depth, without recursion into it. */
static void test_depth_cap(void **state)
{
    static const struct {
        const char *head, *unit, *expect;
    } cases[] = {
        {"listen: ", "[", DOC ":1:9: listen: expected a host:port, got a list"},
        {"listen: ", "{a: ", DOC ":1:9: listen: expected a host:port, got a mapping"},
        {"", "[", DOC ":1:1: the configuration must be a mapping of keys"},
        {"upstreams: ", "{a: ",
         DOC ":1:17: upstreams.a.a: unknown key; expected one of: url, api_key_env, ca_file"},
        {"limits: ", "{a: ",
         DOC ":1:10: limits.a: unknown key; expected one of: max_header_bytes, "
             "max_body_bytes, client_header_timeout, client_body_timeout, "
             "keepalive_timeout, send_timeout, drain_timeout, max_connections, "
             "upstream_connect_timeout, upstream_first_byte_timeout, upstream_read_timeout, "
             "upstream_idle_timeout, upstream_idle_max"},
    };
    size_t reps = 20000;

    (void)state;
    for (size_t i = 0; i < NELEMS(cases); i++) {
        size_t hl = strlen(cases[i].head), ul = strlen(cases[i].unit);
        char *doc = malloc(hl + reps * ul + 2);
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};

        assert_non_null(doc);
        memcpy(doc, cases[i].head, hl);
        for (size_t r = 0; r < reps; r++)
            memcpy(doc + hl + r * ul, cases[i].unit, ul);
        memcpy(doc + hl + reps * ul, "\n", 2);
        assert_int_equal(load(cfg, doc, &err), -EINVAL);
        assert_string_equal(err.msg, cases[i].expect);
        free(doc);
        policy_config_unref(cfg);
    }
}

/* A document of `n` upstreams u0, u1, ... or `n` routes /r0/1, /r1/2, ... */
static char *many_entries(bool routes, size_t n)
{
    size_t cap = n * 64 + 16, used;
    char *doc = malloc(cap);

    assert_non_null(doc);
    used = (size_t)snprintf(doc, cap, "%s", routes ? "routes:\n" : "upstreams:\n");
    for (size_t i = 0; i < n; i++) {
        if (routes)
            used += (size_t)snprintf(doc + used, cap - used,
                                     "  - {path: /r%zu/%zu, upstream: openai}\n", i, i + 1);
        else
            used += (size_t)snprintf(doc + used, cap - used,
                                     "  u%zu: {url: \"http://127.0.0.1:%zu\"}\n", i, i + 1);
    }
    return doc;
}

/* At most 1024 upstreams and 1024 routes in total, built-ins included. */
static void test_entry_caps(void **state)
{
    struct policy_error err = {{0}};
    struct policy_config *cfg;
    char *doc;

    (void)state;
    doc = many_entries(false, 1022);
    cfg = cfg_with(doc);
    assert_int_equal(cfg->n_upstreams, 1024);
    policy_config_unref(cfg);
    free(doc);
    doc = many_entries(false, 1023);
    expect_bad(doc, &err);
    assert_string_equal(err.msg, DOC ":1024:3: upstreams.u1022: too many entries (at most 1024)");
    free(doc);

    doc = many_entries(true, 1024 - NELEMS(builtin_routes));
    cfg = cfg_with(doc);
    assert_int_equal(cfg->n_routes, 1024);
    policy_config_unref(cfg);
    free(doc);
    doc = many_entries(true, 1025 - NELEMS(builtin_routes));
    expect_bad(doc, &err);
    assert_string_equal(err.msg, DOC ":1019:5: routes[1017]: too many entries (at most 1024)");
    free(doc);
}

static void test_null_error_pointer(void **state)
{
    struct policy_config *cfg = policy_config_new();

    (void)state;
    assert_int_equal(policy_config_load_buffer(cfg, DOC, "workers: x\n", 11, NULL), -EINVAL);
    assert_int_equal(policy_config_set(cfg, NULL, "nope", "1", NULL), -EINVAL);
    assert_int_equal(policy_config_load_buffer(cfg, DOC, "default_upstream: x\n", 20, NULL), 0);
    assert_int_equal(policy_config_validate(cfg, NULL), -EINVAL);
    policy_config_unref(cfg);
}

/* Not NUL-terminated input is read only within its length. */
static void test_buffer_not_terminated(void **state)
{
    static const char text[] = "workers: 12";
    char *buf = malloc(sizeof(text) - 1);
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    assert_non_null(buf);
    memcpy(buf, text, sizeof(text) - 1);
    assert_int_equal(policy_config_load_buffer(cfg, DOC, buf, 10, &err), 0);
    assert_int_equal(cfg->workers, 1);
    assert_int_equal(policy_config_load_buffer(cfg, DOC, buf, sizeof(text) - 1, &err), 0);
    assert_int_equal(cfg->workers, 12);
    free(buf);
    policy_config_unref(cfg);
}

/* ---------------------------------------------------------------- lifetime */

static void test_refcount(void **state)
{
    struct policy_config *cfg = policy_config_new();

    (void)state;
    assert_non_null(cfg);
    assert_int_equal(atomic_load(&cfg->refs), 1);
    assert_ptr_equal(policy_config_ref(cfg), cfg);
    assert_ptr_equal(policy_config_ref(cfg), cfg);
    assert_int_equal(atomic_load(&cfg->refs), 3);
    policy_config_unref(cfg);
    policy_config_unref(cfg);
    /* Still alive (ASan would report a use after free). */
    assert_int_equal(atomic_load(&cfg->refs), 1);
    assert_string_equal(cfg->upstreams[0].name, "openai");
    policy_config_unref(cfg); /* freed: LeakSanitizer reports anything left */
    assert_null(policy_config_ref(NULL));
    policy_config_unref(NULL);
}

/* A snapshot shared by reference is not changed by a new configuration built beside it. */
static void test_snapshots_independent(void **state)
{
    struct policy_config *a = policy_config_new();
    struct policy_config *b = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    assert_int_equal(load(b, "listen: 0.0.0.0:1\nupstreams: {openai: {url: http://x}}\n", &err), 0);
    assert_string_equal(a->listen.text, "127.0.0.1:8080");
    assert_string_equal(a->upstreams[0].url.text, "https://api.openai.com");
    policy_config_unref(a);
    policy_config_unref(b);
}

/* ---------------------------------------------------------------- docs */

static void collect_paths(const struct policy_table *t, const char *prefix, const char *docs,
                          size_t *missing)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        const struct policy_key *k = &t->keys[i];
        char path[200], cell[256], sub[256];

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", k->name);
        snprintf(cell, sizeof(cell), "| `%s` |", path);
        if (strstr(docs, cell) == NULL) {
            print_error("docs: no row for %s\n", path);
            (*missing)++;
        }
        if (k->type == POLICY_T_SECTION) {
            collect_paths(k->sub, path, docs, missing);
        } else if (k->type == POLICY_T_MAP || k->type == POLICY_T_LIST) {
            snprintf(sub, sizeof(sub), "%s%s", path, k->type == POLICY_T_MAP ? ".NAME" : "[]");
            collect_paths(k->sub, sub, docs, missing);
        }
    }
}

static void test_docs_up_to_date(void **state)
{
    char *path = src_path("docs/configuration.md");
    char *gen = NULL;
    size_t gen_len = 0, file_len = 0, missing = 0;
    FILE *mem = open_memstream(&gen, &gen_len);
    char *file;

    (void)state;
    assert_non_null(mem);
    policy_config_write_docs(mem);
    assert_int_equal(fclose(mem), 0);

    /* Every key of the table has its row, and the embedded document is shown. */
    collect_paths(&policy_config_table, "", gen, &missing);
    assert_int_equal(missing, 0);
    assert_non_null(strstr(gen, policy_default_yaml));

    file = read_all(path, &file_len);
    if (file == NULL)
        fail_msg("%s is missing; generate it with `build/warden policy docs > "
                 "docs/configuration.md`",
                 path);
    if (file_len != gen_len || memcmp(file, gen, gen_len) != 0) {
        size_t line = 1, i;

        for (i = 0; i < file_len && i < gen_len && file[i] == gen[i]; i++)
            line += file[i] == '\n';
        fail_msg("docs/configuration.md differs from the key table (first difference at line "
                 "%zu); regenerate with `build/warden policy docs > docs/configuration.md`",
                 line);
    }
    free(file);
    free(gen);
    free(path);
}

/* ---------------------------------------------------------------- known defects
 *
 * Each test below fails on a defect of policy/config.c reported to the lead; the expected
 * behaviour is stated in its comment. */

/* Regression: libyaml reader errors (bad UTF-8, control characters) carry problem_offset, not
 * problem_mark, so every such error is reported at 1:1 whatever its position. */
static void test_regression_reader_error_location(void **state)
{
    struct policy_error err;

    (void)state;
    expect_bad("listen: 127.0.0.1:8080\nworkers: 2\ndefault_upstream: \"op\xff"
               "enai\"\n",
               &err);
    if (strncmp(err.msg, DOC ":3:", strlen(DOC ":3:")) != 0)
        fail_msg("invalid UTF-8 on line 3 reported as: %s", err.msg);
    expect_bad("workers: 2\nlog:\n  level: info\x01\n", &err);
    if (strncmp(err.msg, DOC ":3:", strlen(DOC ":3:")) != 0)
        fail_msg("control character on line 3 reported as: %s", err.msg);
}

/* Regression: the host of a bracketed URL is not checked at all: spaces, CR/LF, anything. */
static void test_regression_url_ipv6_host_checked(void **state)
{
    static const char *const urls[] = {
        "http://[a b]:80/",
        "http://[::1\r\nX-Injected: 1]:80/",
        "http://[not-an-address]",
    };

    (void)state;
    for (size_t i = 0; i < NELEMS(urls); i++) {
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};

        if (policy_config_set(cfg, "--set", "upstreams.t.url", urls[i], &err) != -EINVAL)
            fail_msg("upstream URL with a bad [IPv6] host accepted: %s", urls[i]);
        policy_config_unref(cfg);
    }
}

/* Regression: the base path of an upstream URL is not checked: CR/LF, spaces and NUL pass and would
 * be copied into the request line sent upstream. */
static void test_regression_url_path_checked(void **state)
{
    static const char *const docs[] = {
        "upstreams:\n  t:\n    url: \"http://h/v1\\r\\nX-Injected: 1\"\n",
        "upstreams:\n  t:\n    url: \"http://h/a b\"\n",
        "upstreams:\n  t:\n    url: \"http://h/v1\\0/x\"\n",
        "upstreams:\n  t:\n    url: \"http://h/v1\\t\"\n",
    };

    (void)state;
    for (size_t i = 0; i < NELEMS(docs); i++) {
        struct policy_config *cfg = policy_config_new();
        struct policy_error err = {{0}};

        if (load(cfg, docs[i], &err) != -EINVAL)
            fail_msg("upstream URL with control characters or spaces in its path "
                     "accepted: %s",
                     docs[i] + strlen("upstreams:\n  t:\n    url: "));
        policy_config_unref(cfg);
    }
}

/* Regression: walk_map remembers only the first 32 names of a mapping, so a repeated name after
 * the 32nd is silently merged (the later url wins) instead of refused. */
static void test_regression_duplicate_upstream_after_32(void **state)
{
    char *doc = many_entries(false, 40);
    char *full = NULL;
    struct policy_error err;

    (void)state;
    struct policy_config *cfg = policy_config_new();
    int rc;

    assert_true(asprintf(&full, "%s  u35: {url: \"http://evil.example\"}\n", doc) > 0);
    rc = load(cfg, full, &err);
    if (rc != -EINVAL)
        fail_msg("upstream u35 given twice (the 36th and 41st names) accepted; u35.url is "
                 "now %s",
                 policy_config_upstream(cfg, "u35")->url.text);
    assert_string_equal(err.msg, DOC ":42:3: upstreams.u35: name given twice in the same mapping");
    policy_config_unref(cfg);
    free(full);
    free(doc);
}

/* Regression: "expected a %s" with the type name gives "expected a integer" and "expected a one
 * of"; expected "an integer" and a message naming the choices. */
static void test_regression_type_messages(void **state)
{
    struct policy_error err;

    (void)state;
    expect_bad("workers: {n: 1}\n", &err);
    if (strstr(err.msg, "expected an integer, got a mapping") == NULL)
        fail_msg("message reads: %s", err.msg);
    expect_bad("log:\n  level: [info]\n", &err);
    if (strstr(err.msg, "a one of") != NULL || strstr(err.msg, "error, warn, info, debug") == NULL)
        fail_msg("message reads: %s", err.msg);
}

/* Regression: block_threshold has no location, so lowering it below the default warn_threshold
 * reports "built-in default: prompt_guard.warn_threshold: ..." instead of pointing at the
 * line of the file that set block_threshold. */
static void test_regression_threshold_error_location(void **state)
{
    struct policy_error err;

    (void)state;
    expect_bad("prompt_guard:\n  block_threshold: 0.3\n", &err);
    if (strncmp(err.msg, DOC ":2:", strlen(DOC ":2:")) != 0)
        fail_msg("error not located at block_threshold: %s", err.msg);
}

/* Regression: a number is copied and given to strtod, which stops at an embedded NUL, so
 * "0.5\0junk" is taken as 0.5 (strings refuse NUL bytes). */
static void test_regression_float_embedded_nul(void **state)
{
    struct policy_error err;
    struct policy_config *cfg = policy_config_new();

    (void)state;
    if (load(cfg, "prompt_guard:\n  block_threshold: \"0.5\\0junk\"\n", &err) != -EINVAL)
        fail_msg("block_threshold \"0.5\\0junk\" accepted as %g",
                 cfg->prompt_guard.block_threshold);
    policy_config_unref(cfg);
}

/* Regression: validate accepts a route path holding '?', but policy_route_match cuts the query
 * off the request path before matching, so such a route can never match. */
static void test_regression_route_path_query(void **state)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    (void)state;
    assert_int_equal(load(cfg, "routes:\n  - {path: /v1/x?beta=1, upstream: anthropic}\n", &err),
                     0);
    if (policy_config_validate(cfg, &err) != -EINVAL)
        fail_msg("route path '/v1/x?beta=1' accepted; it can never match");
    policy_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_default_document_embedded),
        cmocka_unit_test(test_table_defaults_parse),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_good_file_values),
        cmocka_unit_test(test_layer_file_over_defaults),
        cmocka_unit_test(test_layer_upstream_partial_override),
        cmocka_unit_test(test_layer_three),
        cmocka_unit_test(test_layer_empty_values),
        cmocka_unit_test(test_set_scalars),
        cmocka_unit_test(test_set_map_entries),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_url_parsing),
        cmocka_unit_test(test_listen_parsing),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_null_strings),
        cmocka_unit_test(test_ca_file_readable),
        cmocka_unit_test(test_route_output_schema),
        cmocka_unit_test(test_error_locations),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_entry_caps),
        cmocka_unit_test(test_null_error_pointer),
        cmocka_unit_test(test_buffer_not_terminated),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_snapshots_independent),
        cmocka_unit_test(test_docs_up_to_date),
        cmocka_unit_test(test_regression_reader_error_location),
        cmocka_unit_test(test_regression_url_ipv6_host_checked),
        cmocka_unit_test(test_regression_url_path_checked),
        cmocka_unit_test(test_regression_duplicate_upstream_after_32),
        cmocka_unit_test(test_regression_type_messages),
        cmocka_unit_test(test_regression_threshold_error_location),
        cmocka_unit_test(test_regression_float_embedded_nul),
        cmocka_unit_test(test_regression_route_path_query),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

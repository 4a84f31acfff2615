/* Unit tests for routing: exact and prefix routes, query strings, order, default upstream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/route.h"

#define NELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* A configuration with `yaml` (may be "") over the defaults that must load and validate. */
static struct policy_config *cfg_with(const char *yaml)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_error err = {{0}};

    assert_non_null(cfg);
    if (policy_config_load_buffer(cfg, "test.yaml", yaml, strlen(yaml), &err) != 0 ||
        policy_config_validate(cfg, &err) != 0)
        fail_msg("%s\n--- document:\n%s", err.msg, yaml);
    return cfg;
}

struct match_case {
    const char *target;   /* request target; may hold a query */
    const char *upstream; /* expected upstream name */
    const char *route;    /* expected route path; NULL: the default upstream */
};

/* Match `target` from an exact-size heap copy (ASan catches a read past `len`). */
static void check_case(const struct policy_config *cfg, const struct match_case *c)
{
    size_t len = strlen(c->target);
    char *copy = malloc(len ? len : 1);
    const struct policy_route *route = (const struct policy_route *)&route; /* not NULL */
    const struct policy_upstream *u;

    assert_non_null(copy);
    memcpy(copy, c->target, len);
    u = policy_route_match(cfg, copy, len, &route);
    if (u == NULL)
        fail_msg("'%s': no upstream", c->target);
    if (strcmp(u->name, c->upstream) != 0)
        fail_msg("'%s': upstream %s, expected %s", c->target, u->name, c->upstream);
    if (c->route == NULL && route != NULL)
        fail_msg("'%s': matched route %s, expected the default upstream", c->target, route->path);
    if (c->route != NULL && (route == NULL || strcmp(route->path, c->route) != 0))
        fail_msg("'%s': matched %s, expected route %s", c->target, route ? route->path : "nothing",
                 c->route);
    /* The route argument is optional and does not change the answer. */
    assert_ptr_equal(policy_route_match(cfg, copy, len, NULL), u);
    free(copy);
}

static void check_cases(const struct policy_config *cfg, const struct match_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        check_case(cfg, &cases[i]);
}

/* The built-in table (DESIGN.md "HTTP"): exact routes, the prefixes /v1/responses and /v1/,
 * and the default upstream for everything else. */
static const struct match_case builtin_cases[] = {
    {"/v1/chat/completions", "openai", "/v1/chat/completions"},
    {"/v1/completions", "openai", "/v1/completions"},
    {"/v1/responses", "openai", "/v1/responses*"},
    {"/v1/responses/resp_123", "openai", "/v1/responses*"},
    {"/v1/responses/resp_123/cancel", "openai", "/v1/responses*"},
    {"/v1/responsesX", "openai", "/v1/responses*"}, /* a prefix is bytes, not segments */
    {"/v1/embeddings", "openai", "/v1/embeddings"},
    {"/v1/messages", "anthropic", "/v1/messages"},
    {"/v1/messages/count_tokens", "anthropic", "/v1/messages/count_tokens"},
    /* Exact routes are exact: anything longer falls to the "/v1/" prefix. */
    {"/v1/messages/", "openai", "/v1/*"},
    {"/v1/messages/batches", "openai", "/v1/*"},
    {"/v1/messages/count_tokens/x", "openai", "/v1/*"},
    {"/v1/chat/completions/", "openai", "/v1/*"},
    {"/v1/chat", "openai", "/v1/*"},
    {"/v1/models", "openai", "/v1/*"},
    {"/v1/", "openai", "/v1/*"},
    /* No route: the default upstream, with no route reported. */
    {"/v1", "openai", NULL},
    {"/", "openai", NULL},
    {"", "openai", NULL},
    {"/healthz", "openai", NULL},
    {"/v2/chat/completions", "openai", NULL},
    {"/V1/messages", "openai", NULL},
    {"v1/messages", "openai", NULL},
    {"//v1/messages", "openai", NULL},
};

static void test_builtin_routes(void **state)
{
    struct policy_config *cfg = cfg_with("");

    (void)state;
    check_cases(cfg, builtin_cases, NELEMS(builtin_cases));
    policy_config_unref(cfg);
}

/* The query is not part of the path; a '?' inside it does not matter either. */
static void test_query_ignored(void **state)
{
    static const struct match_case cases[] = {
        {"/v1/messages?beta=true", "anthropic", "/v1/messages"},
        {"/v1/messages/count_tokens?", "anthropic", "/v1/messages/count_tokens"},
        {"/v1/chat/completions?x=/v1/messages", "openai", "/v1/chat/completions"},
        {"/v1/messages?a=1?b=2", "anthropic", "/v1/messages"},
        {"/v1?x=/v1/", "openai", NULL},
        {"?/v1/messages", "openai", NULL},
        {"/v1/responses?stream=true", "openai", "/v1/responses*"},
    };
    struct policy_config *cfg = cfg_with("");

    (void)state;
    check_cases(cfg, cases, NELEMS(cases));
    policy_config_unref(cfg);
}

/* Only `len` bytes are the path, whatever follows in memory. */
static void test_length_respected(void **state)
{
    struct policy_config *cfg = cfg_with("");
    const struct policy_route *route = NULL;
    const struct policy_upstream *u;
    static const char target[] = "/v1/messagesXYZ";

    (void)state;
    u = policy_route_match(cfg, target, strlen("/v1/messages"), &route);
    assert_string_equal(u->name, "anthropic");
    assert_non_null(route);
    assert_string_equal(route->path, "/v1/messages");
    u = policy_route_match(cfg, target, strlen("/v1"), &route);
    assert_string_equal(u->name, "openai");
    assert_null(route);
    policy_config_unref(cfg);
}

/* Routes from a file go first: the first match wins, even over a built-in exact route. */
static void test_first_match_wins(void **state)
{
    static const struct match_case cases[] = {
        {"/v1/chat/completions", "vllm", "/v1/chat/completions"},
        {"/v1/chat/completions?stream=1", "vllm", "/v1/chat/completions"},
        {"/v1/embeddings", "local", "/v1/embeddings"},
        {"/v1/completions", "openai", "/v1/completions"},
        {"/v1/messages", "anthropic", "/v1/messages"},
        {"/v1/models", "openai", "/v1/*"},
        {"/local/anything", "local", "/local/*"},
        {"/local/", "local", "/local/*"},
        {"/local", "openai", NULL},
    };
    struct policy_config *cfg = cfg_with("upstreams:\n"
                                         "  vllm: {url: \"http://127.0.0.1:8000\"}\n"
                                         "  local: {url: \"http://127.0.0.1:8001/v1\"}\n"
                                         "routes:\n"
                                         "  - {path: /v1/chat/completions, upstream: vllm}\n"
                                         "  - {path: /v1/embeddings, upstream: local}\n"
                                         "  - {path: /local/*, upstream: local}\n"
                                         "  - {path: /v1/chat/completions, upstream: openai}\n");
    const struct policy_route *route = NULL;

    (void)state;
    check_cases(cfg, cases, NELEMS(cases));
    /* The route returned is the file's, with its location. */
    policy_route_match(cfg, "/v1/chat/completions", 20, &route);
    assert_ptr_equal(route, &cfg->routes[0]);
    assert_string_equal(route->loc.source, "test.yaml");
    assert_int_equal(route->loc.line, 5);
    policy_config_unref(cfg);
}

/* A catch-all prefix in a file shadows every built-in route, anthropic's included. */
static void test_catch_all(void **state)
{
    static const struct match_case cases[] = {
        {"/v1/messages", "gw", "/*"},
        {"/v1/chat/completions", "gw", "/*"},
        {"/", "gw", "/*"},
        {"/x?y", "gw", "/*"},
        {"", "openai", NULL}, /* shorter than the prefix "/" */
        {"?x", "openai", NULL},
    };
    struct policy_config *cfg = cfg_with("upstreams: {gw: {url: \"https://gateway.internal\"}}\n"
                                         "routes: [{path: /*, upstream: gw}]\n");

    (void)state;
    check_cases(cfg, cases, NELEMS(cases));
    policy_config_unref(cfg);
}

/* No route: default_upstream, and *route is set to NULL (not left as it was). */
static void test_default_upstream(void **state)
{
    static const struct match_case cases[] = {
        {"/other", "anthropic", NULL},
        {"/v1", "anthropic", NULL},
        {"/v1/models", "openai", "/v1/*"},
        {"/v1/messages", "anthropic", "/v1/messages"},
    };
    struct policy_config *cfg = cfg_with("default_upstream: anthropic\n");
    struct policy_config *flag = cfg_with("");
    struct policy_error err = {{0}};

    (void)state;
    check_cases(cfg, cases, NELEMS(cases));
    /* The same set by a flag to a new upstream. */
    assert_int_equal(
        policy_config_set(flag, "--upstream", "upstreams.vllm.url", "http://127.0.0.1:8000", &err),
        0);
    assert_int_equal(policy_config_set(flag, "--set", "default_upstream", "vllm", &err), 0);
    assert_int_equal(policy_config_validate(flag, &err), 0);
    static const struct match_case flag_cases[] = {
        {"/healthz", "vllm", NULL},
        {"/v1/messages", "anthropic", "/v1/messages"},
    };
    check_cases(flag, flag_cases, NELEMS(flag_cases));
    policy_config_unref(flag);
    policy_config_unref(cfg);
}

/* Overriding an upstream's URL keeps the built-in routes pointing at it. */
static void test_anthropic_routes(void **state)
{
    struct policy_config *cfg = cfg_with("upstreams:\n"
                                         "  anthropic:\n"
                                         "    url: http://127.0.0.1:9000/anthropic/\n"
                                         "    api_key_env: ANTHROPIC_API_KEY\n");
    const struct policy_upstream *u;
    const struct policy_route *route = NULL;

    (void)state;
    u = policy_route_match(cfg, "/v1/messages?beta=true", 22, &route);
    assert_non_null(u);
    assert_string_equal(u->name, "anthropic");
    assert_false(u->url.tls);
    assert_string_equal(u->url.host, "127.0.0.1");
    assert_int_equal(u->url.port, 9000);
    assert_string_equal(u->url.base_path, "/anthropic");
    assert_string_equal(u->api_key_env, "ANTHROPIC_API_KEY");
    assert_string_equal(route->path, "/v1/messages");
    assert_string_equal(route->upstream, "anthropic");
    u = policy_route_match(cfg, "/v1/messages/count_tokens", 25, &route);
    assert_string_equal(u->name, "anthropic");
    assert_string_equal(route->path, "/v1/messages/count_tokens");
    policy_config_unref(cfg);
}

/* The upstream returned is the configuration's own entry (callers keep the snapshot). */
static void test_returns_config_entry(void **state)
{
    struct policy_config *cfg = cfg_with("");
    const struct policy_upstream *u = policy_route_match(cfg, "/v1/messages", 12, NULL);

    (void)state;
    assert_ptr_equal(u, policy_config_upstream(cfg, "anthropic"));
    assert_true(u >= cfg->upstreams && u < cfg->upstreams + cfg->n_upstreams);
    policy_config_unref(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_routes),   cmocka_unit_test(test_query_ignored),
        cmocka_unit_test(test_length_respected), cmocka_unit_test(test_first_match_wins),
        cmocka_unit_test(test_catch_all),        cmocka_unit_test(test_default_upstream),
        cmocka_unit_test(test_anthropic_routes), cmocka_unit_test(test_returns_config_entry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* libFuzzer target for the configuration loader: YAML layers, flags, validation, routing. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/config.h"
#include "policy/route.h"
#include "tests/fuzz/fuzz_check.h"

/* An error is one NUL-terminated line that starts with where it comes from. */
static void fuzz_check_error(int rc, const struct policy_error *err)
{
    size_t len = strnlen(err->msg, sizeof(err->msg));

    FUZZ_CHECK(rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM);
    FUZZ_CHECK(len > 0 && len < sizeof(err->msg));
    FUZZ_CHECK(strncmp(err->msg, "fuzz", 4) == 0 || strncmp(err->msg, "--set", 5) == 0 ||
               strncmp(err->msg, "built-in default", 16) == 0);
}

/* What validate promises to the proxy. */
static void fuzz_check_valid(const struct policy_config *cfg)
{
    const struct policy_route *route;

    FUZZ_CHECK(cfg->listen.text != NULL && cfg->listen.host != NULL);
    FUZZ_CHECK(cfg->workers >= 0 && cfg->workers <= 256);
    FUZZ_CHECK(cfg->limits.max_header_bytes >= 1024 && cfg->limits.max_body_bytes >= 1024);
    FUZZ_CHECK(cfg->prompt_guard.warn_threshold <= cfg->prompt_guard.block_threshold);
    FUZZ_CHECK(cfg->prompt_guard.block_threshold >= 0.0 &&
               cfg->prompt_guard.block_threshold <= 1.0);
    FUZZ_CHECK(policy_config_upstream(cfg, cfg->default_upstream) != NULL);
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const struct policy_url *u = &cfg->upstreams[i].url;
        size_t bl = strlen(u->base_path);

        FUZZ_CHECK(u->text != NULL && u->host != NULL && u->host[0] != '\0' && u->port != 0);
        FUZZ_CHECK(bl == 0 || (u->base_path[0] == '/' && u->base_path[bl - 1] != '/'));
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct policy_route *r = &cfg->routes[i];
        const char *star = strchr(r->path, '*');

        FUZZ_CHECK(r->path[0] == '/' && (star == NULL || star[1] == '\0'));
        FUZZ_CHECK(policy_config_upstream(cfg, r->upstream) != NULL);
        /* Every route path routes to this route or an earlier one. */
        FUZZ_CHECK(policy_route_match(cfg, r->path, strlen(r->path), &route) != NULL);
        FUZZ_CHECK(route != NULL && route <= r);
    }
    FUZZ_CHECK(policy_route_match(cfg, "/fuzz?x", 7, &route) != NULL);
}

/* The first line, when it is a comment "#KEY=VALUE", is also given as a flag. */
static void fuzz_flag(struct policy_config *cfg, const uint8_t *data, size_t size)
{
    const uint8_t *nl;
    size_t len;
    char *line, *eq;
    struct policy_error err = {{0}};
    int rc;

    if (size < 2 || data[0] != '#')
        return;
    nl = memchr(data, '\n', size);
    len = (nl ? (size_t)(nl - data) : size) - 1;
    if (len > 512)
        return;
    line = malloc(len + 1);
    FUZZ_CHECK(line != NULL);
    memcpy(line, data + 1, len);
    line[len] = '\0';
    eq = strchr(line, '=');
    if (eq)
        *eq = '\0';
    rc = policy_config_set(cfg, "--set", line, eq ? eq + 1 : "", &err);
    if (rc != 0)
        fuzz_check_error(rc, &err);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_config *cfg = policy_config_new();
    struct policy_config *flag = policy_config_new();
    struct policy_error err = {{0}};
    int rc;

    FUZZ_CHECK(cfg != NULL && flag != NULL);
    rc = policy_config_load_buffer(cfg, "fuzz", (const char *)data, size, &err);
    if (rc == 0) {
        /* Flags go over the file, as on the command line. */
        fuzz_flag(cfg, data, size);
        rc = policy_config_validate(cfg, &err);
        if (rc == 0) {
            /* A reader holds its own reference while the owner lets go. */
            struct policy_config *snap = policy_config_ref(cfg);

            policy_config_unref(cfg);
            fuzz_check_valid(snap);
            cfg = snap;
        } else {
            fuzz_check_error(rc, &err);
        }
    } else {
        fuzz_check_error(rc, &err);
    }
    policy_config_unref(cfg);

    /* The flag alone over the defaults. */
    fuzz_flag(flag, data, size);
    memset(&err, 0, sizeof(err));
    rc = policy_config_validate(flag, &err);
    if (rc == 0)
        fuzz_check_valid(flag);
    else
        fuzz_check_error(rc, &err);
    policy_config_unref(flag);
    return 0;
}

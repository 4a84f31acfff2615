/* Routing: which upstream serves a request path, by the configuration's route table. */
#include "policy/route.h"

#include <string.h>

static int route_matches(const struct policy_route *r, const char *path, size_t len)
{
    size_t rlen = strlen(r->path);
    if (rlen > 0 && r->path[rlen - 1] == '*')
        return len >= rlen - 1 && memcmp(path, r->path, rlen - 1) == 0;
    return len == rlen && memcmp(path, r->path, len) == 0;
}

const struct policy_upstream *policy_route_match(const struct policy_config *cfg, const char *path,
                                                 size_t len, const struct policy_route **route)
{
    const char *q = memchr(path, '?', len);
    if (q)
        len = (size_t)(q - path);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        if (route_matches(&cfg->routes[i], path, len)) {
            if (route)
                *route = &cfg->routes[i];
            return policy_config_upstream(cfg, cfg->routes[i].upstream);
        }
    }
    if (route)
        *route = NULL;
    return policy_config_upstream(cfg, cfg->default_upstream);
}

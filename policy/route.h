/* Routing: which upstream serves a request path, by the configuration's route table. */
#ifndef WARDEN_POLICY_ROUTE_H
#define WARDEN_POLICY_ROUTE_H

#include <stddef.h>

#include "policy/config.h"

/* The upstream for `path` (the request target without its query): the first route whose
 * path equals it, or whose prefix (a path ending in '*') starts it; else the default
 * upstream. Never NULL for a validated configuration. `route` (optional) receives the
 * matching route, NULL when the default upstream was used. */
const struct policy_upstream *policy_route_match(const struct policy_config *cfg, const char *path,
                                                 size_t len, const struct policy_route **route);

#endif

/* Warden's own endpoints on the listener: health, readiness, metrics, rules and the scan API. */
#ifndef WARDEN_PROXY_ADMIN_H
#define WARDEN_PROXY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

struct proxy_conn;

/* Answer the request if its path is one of Warden's own. Returns 1 when answered, 2 when the
 * answer comes later (POST /v1/scan/deps: proxy_conn_txn_end follows it), 0 when the request
 * belongs to an upstream. */
int proxy_admin_handle(struct proxy_conn *c, const char *url, size_t len);

/* True when the path (query ignored) is one of Warden's own endpoints. */
bool proxy_admin_owns(const char *url, size_t len);

#endif

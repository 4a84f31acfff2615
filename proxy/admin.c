/* Warden's own endpoints on the listener: health, readiness and the (later) API paths. */
#include "proxy/admin.h"

#include "proxy/conn.h"
#include "proxy/server.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Paths of Warden's API whose capability arrives with a later part of the product. */
static const struct {
    const char *path; /* exact, or prefix when it ends with '/' */
    const char *what;
} later[] = {
    {"/metrics", "Prometheus metrics"},      {"/v1/scan/prompt", "the prompt guard"},
    {"/v1/scan/output", "the output guard"}, {"/v1/scan/deps", "the supply-chain scanner"},
    {"/v1/rules", "the rule catalogue"},     {"/v1/rules/", "the rule catalogue"},
};

static bool path_is(const char *path, size_t len, const char *want)
{
    size_t n = strlen(want);
    if (n > 0 && want[n - 1] == '/')
        return len > n && memcmp(path, want, n) == 0;
    return len == n && memcmp(path, want, n) == 0;
}

static int respond_json(struct proxy_conn *c, int status, const char *body)
{
    proxy_conn_respond(c, status, "application/json", body, strlen(body), NULL);
    return 1;
}

bool proxy_admin_owns(const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    if (path_is(url, plen, "/healthz") || path_is(url, plen, "/readyz"))
        return true;
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        if (path_is(url, plen, later[i].path))
            return true;
    }
    return false;
}

int proxy_admin_handle(struct proxy_conn *c, const char *url, size_t len)
{
    const char *q = memchr(url, '?', len);
    size_t plen = q ? (size_t)(q - url) : len;
    bool get = c->txn.method == HTTP_GET || c->txn.method == HTTP_HEAD;
    bool health = path_is(url, plen, "/healthz"), ready = path_is(url, plen, "/readyz");
    if (health || ready) {
        if (!get) {
            static const char body[] = "{\"error\":{\"message\":\"use GET or HEAD\",\"type\":"
                                       "\"invalid_request_error\",\"code\":"
                                       "\"method_not_allowed\",\"param\":null}}";
            proxy_conn_respond(c, 405, "application/json", body, sizeof(body) - 1,
                               "Allow: GET, HEAD\r\n");
            return 1;
        }
        if (health)
            return respond_json(c, 200, "{\"status\":\"ok\"}");
        /* Ready means: accepting new work. A draining server asks balancers to go away. */
        if (c->worker->draining)
            return respond_json(c, 503, "{\"status\":\"draining\"}");
        return respond_json(c, 200, "{\"status\":\"ready\"}");
    }
    for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
        if (path_is(url, plen, later[i].path)) {
            char msg[200];
            snprintf(msg, sizeof(msg), "%s is not built in this version of Warden yet",
                     later[i].what);
            proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 501, "not_implemented", "not_built",
                                     msg);
            return 1;
        }
    }
    return 0;
}

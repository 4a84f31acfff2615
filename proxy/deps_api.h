/* POST /v1/scan/deps: the supply-chain scanner as a side endpoint of the server. The scan runs
 * on its own thread, so a large project never stalls the worker's other connections. */
#ifndef WARDEN_PROXY_DEPS_API_H
#define WARDEN_PROXY_DEPS_API_H

#include <stddef.h>

struct proxy_conn;
struct proxy_worker;
struct proxy_server;

/* Scans a worker runs at once; more are answered 503 with Retry-After. */
#define PROXY_DEPS_JOBS_MAX 2

/* Handle the request (its body is in c->hold). Returns 1 when it answered now (an error, a
 * busy scanner), 2 when the answer comes later: the connection waits (PROXY_CONN_F_WAIT_RESP)
 * and the scan's end answers and ends the transaction. */
int proxy_deps_api_handle(struct proxy_conn *c, const char *query, size_t qlen);

/* The connection closes: a scan running for it answers nobody. */
void proxy_deps_api_conn_gone(struct proxy_conn *c);

/* The worker's loop has ended: wait for its scans and free them. */
void proxy_deps_api_worker_end(struct proxy_worker *w);

/* The scanner corpus, loaded on first use (from any thread) and kept for the server's life. */
void proxy_deps_api_server_free(struct proxy_server *srv);

#endif

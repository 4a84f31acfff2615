/* TLS 1.2 over libevent bufferevents with mbedTLS 2.28: configurations, sessions, wrapping. */
#ifndef WARDEN_PROXY_TLS_H
#define WARDEN_PROXY_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct bufferevent;
struct proxy_tls_client;
struct proxy_tls_server;
struct proxy_tls_session_cache;

/* The CA bundle used when a client configuration names no CA file. */
#define PROXY_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* Ciphertext queued towards the socket above which no more plaintext is encrypted. */
#define PROXY_TLS_OUT_HIGH (64 * 1024)

/* The client configuration of one upstream: TLS 1.2 only, ECDHE with AEAD cipher suites,
 * certificate verification always required, ALPN "http/1.1", trust anchors from `ca_file`
 * (PEM) or, when it is NULL or empty, PROXY_TLS_SYSTEM_CA_FILE. Read-only once built: one
 * configuration serves every worker thread. Returns 0, or a negative errno with a sentence in
 * `err` (-ENOENT/-EIO the file cannot be read, -EINVAL it holds no usable certificate,
 * -ENOMEM). `err` may be NULL. */
int proxy_tls_client_new(const char *ca_file, struct proxy_tls_client **out, char *err,
                         size_t errcap);
/* Accepts NULL. Every bufferevent wrapped with `cl` must be freed first. */
void proxy_tls_client_free(struct proxy_tls_client *cl);

/* The server configuration of the TLS listener: certificate chain and unencrypted private key,
 * both PEM files (the chain file starts with the server's own certificate). TLS 1.2 only,
 * ALPN "http/1.1", resumption by session tickets and by session id. Shared by all worker
 * threads. Returns 0 or a negative errno with a sentence in `err` (-ENOENT/-EIO unreadable
 * file, -EINVAL not a certificate/key or the key does not belong to the certificate,
 * -ENOMEM). */
int proxy_tls_server_new(const char *cert_file, const char *key_file, struct proxy_tls_server **out,
                         char *err, size_t errcap);
/* Accepts NULL. Every bufferevent wrapped with `sv` must be freed first. */
void proxy_tls_server_free(struct proxy_tls_server *sv);

/* The last session with one upstream, so that the next connection resumes it (an abbreviated
 * handshake: no certificate, no key exchange). One per worker thread and upstream: it has no
 * lock. A session is resumed only for the same server name it was made for. NULL on no
 * memory. The cache must outlive the bufferevents wrapped with it. */
struct proxy_tls_session_cache *proxy_tls_session_cache_new(void);
/* Accepts NULL. */
void proxy_tls_session_cache_free(struct proxy_tls_session_cache *cache);

/* Wrap a socket bufferevent, connecting or connected, into one that carries plaintext.
 * Ownership of `underlying` passes to the result, also on failure (NULL: it is freed then).
 * Create it with BEV_OPT_CLOSE_ON_FREE: bufferevent_free on the result frees the TLS state and
 * the socket bufferevent. Set no callbacks or watermarks on `underlying` afterwards.
 *
 * The result behaves as a socket bufferevent: the read callback runs when plaintext has arrived
 * (deferred, like BEV_OPT_DEFER_CALLBACKS), what is written is encrypted and sent, watermarks
 * and bufferevent_enable/disable apply (reading stops once the input holds the read high
 * watermark, overshooting it by at most 32 KiB: two records), the write callback runs once the
 * output is at its low watermark and the ciphertext has reached the kernel too (so "close once
 * the output is empty" loses nothing), and the read/write timeouts of bufferevent_set_timeouts
 * count like a socket's (the write timeout only while output waits). Events:
 *   BEV_EVENT_CONNECTED  (client only) once the handshake completed and the certificate
 *                        verified for `server_name`; data written before is sent then.
 *   BEV_EVENT_ERROR      any failure: connect, handshake, verification, alert, bad record,
 *                        reset. proxy_tls_error says why; EVUTIL_SOCKET_ERROR() holds the
 *                        socket's errno, or EPROTO for a TLS failure.
 *   BEV_EVENT_EOF        the peer sent close_notify or closed TCP after the handshake.
 *   BEV_EVENT_TIMEOUT    as set with bufferevent_set_timeouts.
 * The handshake reads even while EV_READ is disabled on the result: it enables EV_READ when it
 * must read and disables it again when it completes (data the server sends right behind its
 * Finished then waits in the input, unannounced). Plaintext written before the handshake
 * completed waits in the output. As with any libevent 2.1 bufferevent, a reader that leaves
 * its input at the read high watermark must disable EV_READ: libevent re-runs the read
 * callback in a loop otherwise. bufferevent_flush(bev, EV_WRITE, BEV_FINISHED)
 * sends close_notify after the pending output. Do not write to the socket itself
 * (bufferevent_getfd on the result gives the socket): that would bypass TLS.
 *
 * `server_name` is sent as SNI and checked against the certificate: a host name against the
 * DNS names (wildcards allowed; the CN only when there is no subjectAltName), an IPv4 or IPv6
 * literal against the iPAddress subjectAltNames only (no SNI is sent for it). `cache` may be
 * NULL. Returns NULL on no memory or an empty or over-long (> 255) server name. */
struct bufferevent *proxy_tls_wrap_client(struct proxy_tls_client *cl,
                                          struct bufferevent *underlying, const char *server_name,
                                          struct proxy_tls_session_cache *cache);

/* The same for an accepted socket on the TLS listener. No BEV_EVENT_CONNECTED is reported (an
 * accepted socket has none); a failed handshake is BEV_EVENT_ERROR. NULL on no memory. */
struct bufferevent *proxy_tls_wrap_server(struct proxy_tls_server *sv,
                                          struct bufferevent *underlying);

/* Why the connection failed, one line fit for a 502 message, e.g. "certificate verification
 * failed for api.example.com: the certificate is not trusted (unknown CA)". Owned by `bev`
 * (valid until bufferevent_free). NULL when `bev` is not a TLS bufferevent or nothing failed;
 * after BEV_EVENT_EOF it says how the peer closed. */
const char *proxy_tls_error(struct bufferevent *bev);

/* Whether the completed handshake resumed an earlier session (no certificate exchanged). */
bool proxy_tls_session_reused(struct bufferevent *bev);

/* The protocol agreed by ALPN ("http/1.1"), or NULL when none was or the handshake is not
 * complete. Owned by the configuration. */
const char *proxy_tls_alpn(struct bufferevent *bev);

#endif

/* TLS 1.2 over libevent bufferevents with mbedTLS 2.28: configurations, sessions, wrapping. */
#include "proxy/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509.h>
#include <mbedtls/x509_crt.h>

/*
 * Design. libevent 2.1 has no mbedTLS bufferevent and keeps the bufferevent internals private,
 * so the bufferevent handed out is a filter bufferevent (bufferevent_filter_new) over the socket
 * bufferevent: a genuine bufferevent with its own buffers, watermarks, enable/disable, generic
 * timeouts, and a free hook (the context's free function; BEV_OPT_CLOSE_ON_FREE frees the
 * socket bufferevent). The filter's own machinery is used for the output side only: its output
 * filter encrypts, with the socket's write high watermark bounding the ciphertext queue.
 * Everything else is driven from the socket bufferevent, whose callbacks are taken over right
 * after bufferevent_filter_new:
 *  - read: steps the handshake, then decrypts every ciphertext byte read into the filter's
 *    input at once. The filter's own input path runs only while EV_READ is enabled and leaves
 *    ciphertext behind when the input is at its high watermark or reading was disabled; nothing
 *    picks that up again until more bytes arrive from the socket, a stall when none come.
 *    Decrypting all that was read instead leaves no hidden state but a partial record, which
 *    needs more socket bytes anyway. At the input's high watermark libevent's generic
 *    watermark logic suspends the filter, and so the socket's reading (the overshoot is what
 *    one socket read completes: 16 KiB, plus the rest of a record begun before).
 *  - write: encrypts more plaintext when the ciphertext queue has drained, and runs the user's
 *    write callback once both are empty, so that "close when the output is empty" loses nothing.
 *  - event: CONNECTED starts the handshake instead of reaching the user; EOF and ERROR are
 *    translated and explained.
 * The handshake needs to read even while the user has not enabled EV_READ (the filter suspends
 * the socket's reading then): it enables EV_READ for the handshake and restores it afterwards.
 * User callbacks are only ever triggered deferred (BEV_TRIG_DEFER_CALLBACKS): none runs inside
 * this file's code, so the user may free the bufferevent from any callback.
 * A filter's generic write timeout runs from bufferevent_enable(EV_WRITE) whatever is queued;
 * to count like a socket's, its event (public in bufferevent_struct.h) is re-assigned to a
 * callback that ignores it while nothing waits, and both timeouts are re-armed on progress here.
 * No call blocks: the socket I/O is libevent's, mbedTLS only sees the evbuffers.
 */

/* The server certificate's names, as quoted in messages. */
#define TLS_NAMES_MAX 192
#define TLS_MSG_MAX   384
#define TLS_IPS_MAX   8

struct proxy_tls_client {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
};

struct proxy_tls_server {
    mbedtls_ssl_config conf;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    mbedtls_ssl_cache_context cache;
    mbedtls_ssl_ticket_context ticket;
};

struct proxy_tls_session_cache {
    mbedtls_ssl_session session;
    char name[MBEDTLS_SSL_MAX_HOST_NAME_LEN + 1]; /* the server name it was verified for */
    bool valid;
};

enum tls_state {
    TLS_HANDSHAKE = 0,
    TLS_OPEN,
    TLS_CLOSED, /* EOF reported */
    TLS_FAILED, /* ERROR reported */
};

struct tls_conn {
    mbedtls_ssl_context ssl;
    struct bufferevent *bev;   /* the filter the user holds */
    struct bufferevent *under; /* the socket bufferevent */
    struct proxy_tls_session_cache *cache;
    enum tls_state state;
    bool is_client;
    bool full_handshake; /* the certificate was exchanged: not a resumption */
    bool resumed;
    bool forced_read; /* EV_READ enabled here so that the handshake can read */
    bool sent_close;  /* close_notify queued */
    unsigned char ip[16];
    size_t ip_len;          /* > 0: the server name is an IP literal, checked in tls_verify */
    unsigned char first[8]; /* the peer's first bytes, to recognise plain HTTP */
    size_t first_len;
    char name[MBEDTLS_SSL_MAX_HOST_NAME_LEN + 1];
    char peer_names[TLS_NAMES_MAX]; /* "CN=..., DNS:..., IP:..." of the peer certificate */
    char msg[TLS_MSG_MAX];
};

/* TLS 1.2 with forward secrecy and AEAD only. */
static const int tls_suites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0,
};

/* Key exchange and certificate curves, fastest first: mbedTLS 2.28's default list starts with
 * secp521r1, which made a full handshake several times slower. */
static const mbedtls_ecp_group_id tls_curves[] = {
    MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1, MBEDTLS_ECP_DP_SECP384R1,
    MBEDTLS_ECP_DP_SECP521R1,  MBEDTLS_ECP_DP_NONE,
};

static const char *tls_alpn_list[] = {"http/1.1", NULL};

/* ---------------------------------------------------------------- randomness */

struct tls_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    bool ready;
};

static _Thread_local struct tls_rng tls_rng;

/* The f_rng of every configuration: the calling thread's own DRBG, seeded on first use. A
 * ctr_drbg is not to be shared between threads; this way one configuration serves them all. */
static int tls_random(void *unused, unsigned char *out, size_t len)
{
    static const unsigned char pers[] = "warden proxy tls";
    struct tls_rng *r = &tls_rng;
    int ret = 0;
    (void)unused;
    if (!r->ready) {
        mbedtls_entropy_init(&r->entropy);
        mbedtls_ctr_drbg_init(&r->drbg);
        ret = mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, pers,
                                    sizeof(pers) - 1);
        if (ret != 0) {
            mbedtls_ctr_drbg_free(&r->drbg);
            mbedtls_entropy_free(&r->entropy);
            goto out;
        }
        r->ready = true;
    }
    while (len > 0 && ret == 0) {
        size_t n = len < MBEDTLS_CTR_DRBG_MAX_REQUEST ? len : MBEDTLS_CTR_DRBG_MAX_REQUEST;
        ret = mbedtls_ctr_drbg_random(&r->drbg, out, n);
        out += n;
        len -= n;
    }
out:
    return ret;
}

/* ---------------------------------------------------------------- words for errors */

static void set_err(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    if (err == NULL || cap == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* mbedtls_strerror with the code, e.g. "SSL - Verification of the message MAC failed
 * (-0x7180)". */
static void tls_strerror(int ret, char *buf, size_t cap)
{
    char text[160];
    mbedtls_strerror(ret, text, sizeof(text));
    snprintf(buf, cap, "%s (-0x%04x)", text, (unsigned)-ret);
}

/* The negative errno for an mbedTLS error met while loading files. */
static int tls_load_errno(int ret, int file_errno)
{
    switch (ret) {
    case MBEDTLS_ERR_X509_FILE_IO_ERROR:
    case MBEDTLS_ERR_PK_FILE_IO_ERROR:
        return file_errno == ENOENT ? -ENOENT : -EIO;
    case MBEDTLS_ERR_X509_ALLOC_FAILED:
    case MBEDTLS_ERR_PK_ALLOC_FAILED:
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return -ENOMEM;
    default:
        return -EINVAL;
    }
}

static void tls_msg(struct tls_conn *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tls_msg(struct tls_conn *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
    va_end(ap);
}

static const char *tls_peer(const struct tls_conn *t)
{
    return t->is_client ? "server" : "client";
}

static const char *tls_alert_name(unsigned alert)
{
    static const struct {
        unsigned char code;
        const char *name;
    } names[] = {
        {MBEDTLS_SSL_ALERT_MSG_CLOSE_NOTIFY, "close_notify"},
        {MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE, "unexpected_message"},
        {MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC, "bad_record_mac"},
        {MBEDTLS_SSL_ALERT_MSG_RECORD_OVERFLOW, "record_overflow"},
        {MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE, "handshake_failure"},
        {MBEDTLS_SSL_ALERT_MSG_BAD_CERT, "bad_certificate"},
        {MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT, "unsupported_certificate"},
        {MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED, "certificate_revoked"},
        {MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED, "certificate_expired"},
        {MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN, "certificate_unknown"},
        {MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER, "illegal_parameter"},
        {MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA, "unknown_ca"},
        {MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED, "access_denied"},
        {MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR, "decode_error"},
        {MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR, "decrypt_error"},
        {MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION, "protocol_version"},
        {MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY, "insufficient_security"},
        {MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR, "internal_error"},
        {MBEDTLS_SSL_ALERT_MSG_INAPROPRIATE_FALLBACK, "inappropriate_fallback"},
        {MBEDTLS_SSL_ALERT_MSG_USER_CANCELED, "user_canceled"},
        {MBEDTLS_SSL_ALERT_MSG_NO_RENEGOTIATION, "no_renegotiation"},
        {MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_EXT, "unsupported_extension"},
        {MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME, "unrecognized_name"},
        {MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL, "no_application_protocol"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (names[i].code == alert)
            return names[i].name;
    }
    return "unknown alert";
}

/* The fatal alert the peer sent. mbedTLS 2.28 has no accessor; the record is still in
 * ssl.in_msg (public struct field in 2.x) when MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE returns. */
static void tls_alert_message(struct tls_conn *t, const char *what)
{
    unsigned alert = t->ssl.in_msg ? t->ssl.in_msg[1] : 255;
    const char *peer = tls_peer(t);
    switch (alert) {
    case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
        tls_msg(t, "%s: the %s does not support TLS 1.2 (protocol_version alert)", what, peer);
        break;
    case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
    case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
        tls_msg(t,
                "%s: the %s refused the handshake: no TLS 1.2 cipher suite, curve or signature "
                "algorithm in common (%s alert)",
                what, peer, tls_alert_name(alert));
        break;
    case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
        tls_msg(t, "%s: the server does not serve the name %s (unrecognized_name alert)", what,
                t->name[0] ? t->name : "sent");
        break;
    case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL:
        tls_msg(t, "%s: the %s does not speak http/1.1 (no_application_protocol alert)", what,
                peer);
        break;
    case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
    case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
    case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
    case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
    case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
        tls_msg(t, "%s: the %s rejected this side's certificate (%s alert)", what, peer,
                tls_alert_name(alert));
        break;
    default:
        tls_msg(t, "%s: the %s sent the fatal alert %s (%u)", what, peer, tls_alert_name(alert),
                alert);
        break;
    }
}

/* Append `n` bytes of certificate text, printable ASCII only (the message ends up in logs and
 * in JSON error bodies), keeping `buf` terminated and bounded. */
static void text_add(char *buf, size_t cap, const char *s, size_t n)
{
    size_t len = strnlen(buf, cap);
    for (size_t i = 0; i < n && len + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[len++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    if (len < cap)
        buf[len] = '\0';
}

struct tls_ip {
    unsigned char addr[16];
    size_t len;
};

/* The iPAddress entries of the certificate's subjectAltName. mbedTLS 2.28 keeps only dNSName
 * and otherName entries in crt->subject_alt_names and never compares addresses, so the
 * extension is read from the DER here (crt->v3_ext: [3] { SEQUENCE OF Extension }). */
static size_t tls_crt_ips(const mbedtls_x509_crt *crt, struct tls_ip *ips, size_t max)
{
    unsigned char *p = crt->v3_ext.p;
    const unsigned char *end;
    size_t len, count = 0;
    if (p == NULL || crt->v3_ext.len == 0)
        goto out;
    end = p + crt->v3_ext.len;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
        goto out;
    end = p + len;
    while (p < end) {
        const unsigned char *ext_end, *names_end;
        mbedtls_x509_buf oid;
        int critical;
        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
            0)
            goto out;
        ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OID) != 0)
            goto out;
        oid.tag = MBEDTLS_ASN1_OID;
        oid.len = len;
        oid.p = p;
        p += len;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &critical); /* optional, default false */
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0)
            goto out;
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_SUBJECT_ALT_NAME, &oid) != 0) {
            p += len;
            continue;
        }
        if (mbedtls_asn1_get_tag(&p, p + len, &len,
                                 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
            goto out;
        names_end = p + len;
        while (p < names_end && count < max) {
            unsigned char tag = *p++;
            if (mbedtls_asn1_get_len(&p, names_end, &len) != 0)
                goto out;
            if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && (len == 4 || len == 16)) {
                memcpy(ips[count].addr, p, len);
                ips[count].len = len;
                count++;
            }
            p += len;
        }
        goto out;
    }
out:
    return count;
}

/* "CN=wrong.test, DNS:wrong.test, IP:10.0.0.1" for messages. */
static void tls_describe_peer(const mbedtls_x509_crt *crt, char *buf, size_t cap)
{
    struct tls_ip ips[TLS_IPS_MAX];
    size_t n_ips = tls_crt_ips(crt, ips, TLS_IPS_MAX);
    buf[0] = '\0';
    for (const mbedtls_x509_name *nm = &crt->subject; nm; nm = nm->next) {
        if (nm->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &nm->oid) == 0) {
            text_add(buf, cap, "CN=", 3);
            text_add(buf, cap, (const char *)nm->val.p, nm->val.len);
            break;
        }
    }
    for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s; s = s->next) {
        if (s->buf.p == NULL || s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2))
            continue;
        if (buf[0])
            text_add(buf, cap, ", ", 2);
        text_add(buf, cap, "DNS:", 4);
        text_add(buf, cap, (const char *)s->buf.p, s->buf.len);
    }
    for (size_t i = 0; i < n_ips; i++) {
        char ip[INET6_ADDRSTRLEN];
        if (inet_ntop(ips[i].len == 4 ? AF_INET : AF_INET6, ips[i].addr, ip, sizeof(ip)) == NULL)
            continue;
        if (buf[0])
            text_add(buf, cap, ", ", 2);
        text_add(buf, cap, "IP:", 3);
        text_add(buf, cap, ip, strlen(ip));
    }
}

/* Runs for each certificate of the peer's chain, root first, with mbedTLS's own findings in
 * `flags` (the host name was compared already for a name; no name was given for an address). */
static int tls_verify(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    struct tls_conn *t = arg;
    if (depth != 0)
        return 0;
    tls_describe_peer(crt, t->peer_names, sizeof(t->peer_names));
    if (t->ip_len > 0) {
        struct tls_ip ips[TLS_IPS_MAX];
        size_t n = tls_crt_ips(crt, ips, TLS_IPS_MAX);
        bool match = false;
        for (size_t i = 0; i < n && !match; i++)
            match = ips[i].len == t->ip_len && memcmp(ips[i].addr, t->ip, t->ip_len) == 0;
        if (!match)
            *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    }
    return 0;
}

static void tls_verify_message(struct tls_conn *t)
{
    static const struct {
        uint32_t flags;
        const char *text;
    } reasons[] = {
        {MBEDTLS_X509_BADCERT_NOT_TRUSTED, "the certificate is not trusted (unknown CA)"},
        {MBEDTLS_X509_BADCERT_CN_MISMATCH, "the name does not match"},
        {MBEDTLS_X509_BADCERT_EXPIRED, "the certificate has expired"},
        {MBEDTLS_X509_BADCERT_FUTURE, "the certificate is not valid yet"},
        {MBEDTLS_X509_BADCERT_REVOKED, "the certificate has been revoked"},
        {MBEDTLS_X509_BADCERT_MISSING, "the server sent no certificate"},
        {MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
             MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
         "the certificate is not meant for TLS servers (key usage)"},
        {MBEDTLS_X509_BADCERT_BAD_MD, "the certificate is signed with a hash that is too weak"},
        {MBEDTLS_X509_BADCERT_BAD_PK, "the certificate is signed with an algorithm not accepted"},
        {MBEDTLS_X509_BADCERT_BAD_KEY, "the certificate's key is too weak"},
    };
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    uint32_t known = 0;
    char why[TLS_MSG_MAX] = "";
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
        known |= reasons[i].flags;
        if (!(flags & reasons[i].flags))
            continue;
        if (why[0])
            text_add(why, sizeof(why), "; ", 2);
        text_add(why, sizeof(why), reasons[i].text, strlen(reasons[i].text));
        if (reasons[i].flags == MBEDTLS_X509_BADCERT_CN_MISMATCH && t->peer_names[0]) {
            text_add(why, sizeof(why), " (", 2);
            text_add(why, sizeof(why), t->peer_names, strlen(t->peer_names));
            text_add(why, sizeof(why), ")", 1);
        }
    }
    if (flags & ~known) {
        char info[256];
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags & ~known);
        if (n > 0 && info[n - 1] == '\n')
            info[n - 1] = '\0';
        for (char *c = info; *c; c++)
            *c = *c == '\n' ? ';' : *c;
        if (why[0])
            text_add(why, sizeof(why), "; ", 2);
        text_add(why, sizeof(why), info, strnlen(info, sizeof(info)));
    }
    tls_msg(t, "certificate verification failed for %s: %s", t->name, why[0] ? why : "rejected");
}

/* The peer's first bytes are plain text: an HTTP request or status line, a banner. */
static bool tls_peer_plaintext(const struct tls_conn *t)
{
    if (t->first_len < 4)
        return false;
    for (size_t i = 0; i < t->first_len; i++) {
        if (t->first[i] < 0x20 || t->first[i] >= 0x7f)
            return false;
    }
    return true;
}

static void tls_handshake_message(struct tls_conn *t, int ret)
{
    static const char what[] = "TLS handshake failed";
    char text[200];
    if (ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        tls_verify_message(t);
        return;
    }
    if (tls_peer_plaintext(t)) {
        if (t->is_client && memcmp(t->first, "HTTP/", 5) == 0)
            tls_msg(t, "%s: the server answered in plain HTTP, not TLS (an http:// upstream?)",
                    what);
        else if (t->is_client)
            tls_msg(t, "%s: the server does not speak TLS (it sent \"%.*s\")", what,
                    (int)t->first_len, (const char *)t->first);
        else
            tls_msg(t, "%s: the client spoke plain HTTP to the TLS listener", what);
        return;
    }
    switch (ret) {
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        tls_alert_message(t, what);
        break;
    case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
        tls_msg(t, "%s: the %s does not support TLS 1.2", what, tls_peer(t));
        break;
    case MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE:
    case MBEDTLS_ERR_SSL_NO_CIPHER_CHOSEN:
        tls_msg(t,
                "%s: no cipher suite in common with the %s (this side offers ECDHE with "
                "AES-GCM or ChaCha20-Poly1305)",
                what, tls_peer(t));
        break;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        tls_msg(t, "%s: out of memory", what);
        break;
    default:
        tls_strerror(ret, text, sizeof(text));
        tls_msg(t, "%s: %s", what, text);
        break;
    }
}

/* An error on an established connection. */
static void tls_record_message(struct tls_conn *t, int ret)
{
    static const char what[] = "TLS error";
    char text[200];
    switch (ret) {
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        tls_alert_message(t, what);
        break;
    case MBEDTLS_ERR_SSL_INVALID_MAC:
        tls_msg(t, "%s: a record from the %s failed authentication (corrupted or tampered with)",
                what, tls_peer(t));
        break;
    case MBEDTLS_ERR_SSL_INVALID_RECORD:
        tls_msg(t, "%s: the %s sent a malformed record", what, tls_peer(t));
        break;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        tls_msg(t, "%s: out of memory", what);
        break;
    default:
        tls_strerror(ret, text, sizeof(text));
        tls_msg(t, "%s: %s", what, text);
        break;
    }
}

/* ---------------------------------------------------------------- configurations */

static int tls_conf_common(mbedtls_ssl_config *conf, int endpoint)
{
    int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                          MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret != 0)
        goto out;
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, tls_suites);
    mbedtls_ssl_conf_curves(conf, tls_curves);
    mbedtls_ssl_conf_rng(conf, tls_random, NULL);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    ret = mbedtls_ssl_conf_alpn_protocols(conf, tls_alpn_list);
out:
    return ret;
}

int proxy_tls_client_new(const char *ca_file, struct proxy_tls_client **out, char *err,
                         size_t errcap)
{
    const char *path = ca_file && ca_file[0] ? ca_file : PROXY_TLS_SYSTEM_CA_FILE;
    struct proxy_tls_client *cl = calloc(1, sizeof(*cl));
    char why[200];
    int rc = 0, ret;
    *out = NULL;
    if (cl == NULL) {
        rc = -ENOMEM;
        set_err(err, errcap, "out of memory");
        goto out;
    }
    mbedtls_ssl_config_init(&cl->conf);
    mbedtls_x509_crt_init(&cl->ca);
    errno = 0;
    /* > 0: that many certificates of the bundle could not be parsed; the others are used. */
    ret = mbedtls_x509_crt_parse_file(&cl->ca, path);
    if (ret < 0) {
        rc = tls_load_errno(ret, errno);
        tls_strerror(ret, why, sizeof(why));
        set_err(err, errcap, "cannot load the CA file %s: %s", path,
                rc == -ENOENT ? "no such file" : why);
        goto out;
    }
    if (cl->ca.version == 0) {
        rc = -EINVAL;
        set_err(err, errcap, "the CA file %s holds no usable certificate", path);
        goto out;
    }
    ret = tls_conf_common(&cl->conf, MBEDTLS_SSL_IS_CLIENT);
    if (ret != 0) {
        rc = tls_load_errno(ret, 0);
        tls_strerror(ret, why, sizeof(why));
        set_err(err, errcap, "TLS client configuration: %s", why);
        goto out;
    }
    mbedtls_ssl_conf_authmode(&cl->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(&cl->conf, &cl->ca, NULL);
    mbedtls_ssl_conf_session_tickets(&cl->conf, MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
    *out = cl;
    cl = NULL;
out:
    proxy_tls_client_free(cl);
    return rc;
}

void proxy_tls_client_free(struct proxy_tls_client *cl)
{
    if (cl == NULL)
        return;
    mbedtls_ssl_config_free(&cl->conf);
    mbedtls_x509_crt_free(&cl->ca);
    free(cl);
}

/* Sessions remembered by id, for clients without ticket support. */
#define TLS_SERVER_CACHE_ENTRIES 1024
/* Lifetime of tickets and cached sessions, and the ticket key rotation period. */
#define TLS_SESSION_LIFETIME_S 86400

int proxy_tls_server_new(const char *cert_file, const char *key_file, struct proxy_tls_server **out,
                         char *err, size_t errcap)
{
    struct proxy_tls_server *sv = calloc(1, sizeof(*sv));
    char why[200];
    int rc = 0, ret;
    *out = NULL;
    if (sv == NULL) {
        rc = -ENOMEM;
        set_err(err, errcap, "out of memory");
        goto out;
    }
    mbedtls_ssl_config_init(&sv->conf);
    mbedtls_x509_crt_init(&sv->chain);
    mbedtls_pk_init(&sv->key);
    mbedtls_ssl_cache_init(&sv->cache);
    mbedtls_ssl_ticket_init(&sv->ticket);
    errno = 0;
    ret = mbedtls_x509_crt_parse_file(&sv->chain, cert_file);
    if (ret != 0 || sv->chain.version == 0) {
        rc = ret < 0 ? tls_load_errno(ret, errno) : -EINVAL;
        tls_strerror(ret < 0 ? ret : MBEDTLS_ERR_X509_INVALID_FORMAT, why, sizeof(why));
        set_err(err, errcap, "cannot load the certificate chain %s: %s", cert_file,
                rc == -ENOENT ? "no such file" : why);
        goto out;
    }
    errno = 0;
    ret = mbedtls_pk_parse_keyfile(&sv->key, key_file, NULL);
    if (ret != 0) {
        rc = tls_load_errno(ret, errno);
        tls_strerror(ret, why, sizeof(why));
        set_err(err, errcap, "cannot load the private key %s: %s", key_file,
                rc == -ENOENT                             ? "no such file"
                : ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ? "it is encrypted; give it unencrypted"
                                                          : why);
        goto out;
    }
    ret = mbedtls_pk_check_pair(&sv->chain.pk, &sv->key);
    if (ret != 0) {
        rc = -EINVAL;
        set_err(err, errcap, "the private key %s does not belong to the certificate in %s",
                key_file, cert_file);
        goto out;
    }
    ret = tls_conf_common(&sv->conf, MBEDTLS_SSL_IS_SERVER);
    if (ret == 0)
        ret = mbedtls_ssl_conf_own_cert(&sv->conf, &sv->chain, &sv->key);
    if (ret == 0)
        ret = mbedtls_ssl_ticket_setup(&sv->ticket, tls_random, NULL, MBEDTLS_CIPHER_AES_256_GCM,
                                       TLS_SESSION_LIFETIME_S);
    if (ret != 0) {
        rc = tls_load_errno(ret, 0);
        tls_strerror(ret, why, sizeof(why));
        set_err(err, errcap, "TLS server configuration: %s", why);
        goto out;
    }
    mbedtls_ssl_conf_authmode(&sv->conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_cache_set_max_entries(&sv->cache, TLS_SERVER_CACHE_ENTRIES);
    mbedtls_ssl_cache_set_timeout(&sv->cache, TLS_SESSION_LIFETIME_S);
    mbedtls_ssl_conf_session_cache(&sv->conf, &sv->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
    mbedtls_ssl_conf_session_tickets_cb(&sv->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &sv->ticket);
    *out = sv;
    sv = NULL;
out:
    proxy_tls_server_free(sv);
    return rc;
}

void proxy_tls_server_free(struct proxy_tls_server *sv)
{
    if (sv == NULL)
        return;
    mbedtls_ssl_config_free(&sv->conf);
    mbedtls_ssl_ticket_free(&sv->ticket);
    mbedtls_ssl_cache_free(&sv->cache);
    mbedtls_pk_free(&sv->key);
    mbedtls_x509_crt_free(&sv->chain);
    free(sv);
}

/* ---------------------------------------------------------------- client session cache */

struct proxy_tls_session_cache *proxy_tls_session_cache_new(void)
{
    struct proxy_tls_session_cache *c = calloc(1, sizeof(*c));
    if (c)
        mbedtls_ssl_session_init(&c->session);
    return c;
}

static void session_cache_drop(struct proxy_tls_session_cache *c)
{
    mbedtls_ssl_session_free(&c->session);
    mbedtls_ssl_session_init(&c->session);
    c->valid = false;
}

void proxy_tls_session_cache_free(struct proxy_tls_session_cache *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_session_free(&c->session);
    free(c);
}

static void session_cache_save(struct tls_conn *t)
{
    struct proxy_tls_session_cache *c = t->cache;
    if (c == NULL)
        return;
    session_cache_drop(c);
    if (mbedtls_ssl_get_session(&t->ssl, &c->session) != 0) {
        session_cache_drop(c);
        return;
    }
    snprintf(c->name, sizeof(c->name), "%s", t->name);
    c->valid = true;
}

/* ---------------------------------------------------------------- connection */

/* Output, plaintext and ciphertext, not yet handed to the kernel. */
static size_t tls_out_pending(struct tls_conn *t)
{
    return evbuffer_get_length(bufferevent_get_output(t->bev)) +
           evbuffer_get_length(bufferevent_get_output(t->under));
}

/* Restart the read timeout after progress, as a socket bufferevent does after each read; not
 * while the input is at its high watermark (libevent suspends reading and the timeout then). */
static void tls_touch_read(struct tls_conn *t)
{
    struct bufferevent *b = t->bev;
    size_t high = 0;
    bufferevent_getwatermark(b, EV_READ, NULL, &high);
    if ((bufferevent_get_enabled(b) & EV_READ) && evutil_timerisset(&b->timeout_read) &&
        (high == 0 || evbuffer_get_length(bufferevent_get_input(b)) < high))
        event_add(&b->ev_read, &b->timeout_read);
}

/* Restart the write timeout after progress; stop it once nothing waits. */
static void tls_touch_write(struct tls_conn *t)
{
    struct bufferevent *b = t->bev;
    if (!evutil_timerisset(&b->timeout_write))
        return;
    if ((bufferevent_get_enabled(b) & EV_WRITE) && tls_out_pending(t) > 0)
        event_add(&b->ev_write, &b->timeout_write);
    else
        event_del(&b->ev_write);
}

/* Replaces the filter's generic write-timeout callback: bufferevent_enable(EV_WRITE) arms the
 * timer even with nothing queued, which a socket bufferevent never reports. */
static void tls_write_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tls_conn *t = arg;
    (void)fd;
    (void)what;
    if (tls_out_pending(t) == 0)
        return;
    bufferevent_disable(t->bev, EV_WRITE);
    bufferevent_trigger_event(t->bev, BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING, 0);
}

/* Report ERROR (the message is set) and stop reading. */
static void tls_fail(struct tls_conn *t, short what, int sock_err)
{
    if (t->state == TLS_FAILED || t->state == TLS_CLOSED)
        return;
    t->state = TLS_FAILED;
    t->forced_read = false;
    bufferevent_disable(t->under, EV_READ);
    bufferevent_disable(t->bev, EV_READ);
    event_del(&t->bev->ev_write);
    EVUTIL_SET_SOCKET_ERROR(sock_err);
    bufferevent_trigger_event(t->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

static void tls_eof(struct tls_conn *t)
{
    t->state = TLS_CLOSED;
    bufferevent_disable(t->under, EV_READ);
    bufferevent_disable(t->bev, EV_READ); /* as a socket bufferevent does on EOF */
    EVUTIL_SET_SOCKET_ERROR(0);
    bufferevent_trigger_event(t->bev, BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

/* mbedTLS's transport: the socket bufferevent's buffers. Sending never blocks (the evbuffer
 * takes it all; PROXY_TLS_OUT_HIGH bounds how much plaintext is encrypted ahead). */
static int tls_bio_send(void *arg, const unsigned char *buf, size_t len)
{
    struct tls_conn *t = arg;
    if (evbuffer_add(bufferevent_get_output(t->under), buf, len) != 0)
        return MBEDTLS_ERR_SSL_ALLOC_FAILED;
    return (int)len;
}

static int tls_bio_recv(void *arg, unsigned char *buf, size_t len)
{
    struct tls_conn *t = arg;
    int n = evbuffer_remove(bufferevent_get_input(t->under), buf, len);
    if (n <= 0)
        return MBEDTLS_ERR_SSL_WANT_READ;
    if (t->first_len < sizeof(t->first)) {
        size_t take = sizeof(t->first) - t->first_len;
        if (take > (size_t)n)
            take = (size_t)n;
        memcpy(t->first + t->first_len, buf, take);
        t->first_len += take;
    }
    return n;
}

/* Decrypt every complete record read so far into the user's input. */
static void tls_read_records(struct tls_conn *t)
{
    struct evbuffer *in = bufferevent_get_input(t->bev);
    unsigned char buf[MBEDTLS_SSL_IN_CONTENT_LEN];
    size_t got = 0;
    int ret;
    for (;;) {
        /* A whole record's plaintext fits: nothing is left inside mbedTLS. A stack buffer, not
         * evbuffer_reserve_space: a 16 KiB chain per small record would waste memory. */
        ret = mbedtls_ssl_read(&t->ssl, buf, sizeof(buf));
        if (ret <= 0)
            break;
        if (evbuffer_add(in, buf, (size_t)ret) != 0) {
            ret = MBEDTLS_ERR_SSL_ALLOC_FAILED;
            break;
        }
        got += (size_t)ret;
    }
    if (got > 0) {
        tls_touch_read(t);
        if (bufferevent_get_enabled(t->bev) & EV_READ)
            bufferevent_trigger(t->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        /* All read is decrypted; libevent stops the socket at the input's high watermark. */
    } else if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || ret == 0) {
        if (!t->sent_close) {
            t->sent_close = true;
            (void)mbedtls_ssl_close_notify(&t->ssl);
        }
        tls_msg(t, "the %s closed the TLS session (close_notify)", tls_peer(t));
        tls_eof(t);
    } else {
        tls_record_message(t, ret);
        tls_fail(t, BEV_EVENT_ERROR | BEV_EVENT_READING, EPROTO);
    }
}

static void tls_handshake(struct tls_conn *t)
{
    int ret = 0;
    if (bufferevent_getfd(t->under) < 0)
        return; /* no socket yet (name lookup): CONNECTED starts the handshake */
    /* mbedtls_ssl_handshake, one step at a time: a full handshake passes the certificate
     * state (client and server alike), a resumed one goes from the hellos to the Finished. */
    while (t->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
        if (t->ssl.state == MBEDTLS_SSL_SERVER_CERTIFICATE)
            t->full_handshake = true;
        ret = mbedtls_ssl_handshake_step(&t->ssl);
        if (ret != 0)
            break;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
        if (!(bufferevent_get_enabled(t->bev) & EV_READ)) {
            t->forced_read = true;
            bufferevent_enable(t->bev, EV_READ);
        }
        return;
    }
    if (ret != 0) {
        tls_handshake_message(t, ret);
        /* A session the server now refuses is not offered again. */
        if (t->cache)
            session_cache_drop(t->cache);
        tls_fail(t, BEV_EVENT_ERROR | BEV_EVENT_READING, EPROTO);
        return;
    }
    t->state = TLS_OPEN;
    t->resumed = !t->full_handshake;
    if (t->forced_read) {
        t->forced_read = false;
        bufferevent_disable(t->bev, EV_READ);
    }
    if (t->is_client) {
        session_cache_save(t);
        bufferevent_trigger_event(t->bev, BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
    }
    /* What the user wrote during the handshake goes out now. */
    bufferevent_flush(t->bev, EV_WRITE, BEV_NORMAL);
}

/* ---------------------------------------------------------------- socket callbacks */

static void tls_under_read_cb(struct bufferevent *under, void *arg)
{
    struct tls_conn *t = arg;
    if (t->state == TLS_HANDSHAKE) {
        if (evbuffer_get_length(bufferevent_get_input(under)) > 0)
            tls_touch_read(t);
        tls_handshake(t);
    }
    if (t->state == TLS_OPEN)
        tls_read_records(t);
    else if (t->state != TLS_HANDSHAKE)
        evbuffer_drain(bufferevent_get_input(under),
                       evbuffer_get_length(bufferevent_get_input(under)));
}

/* The ciphertext queue has drained into the kernel. */
static void tls_under_write_cb(struct bufferevent *under, void *arg)
{
    struct tls_conn *t = arg;
    if (t->state == TLS_OPEN)
        bufferevent_flush(t->bev, EV_WRITE, BEV_NORMAL); /* encrypt the next part */
    tls_touch_write(t);
    if (t->state == TLS_OPEN && evbuffer_get_length(bufferevent_get_output(under)) == 0 &&
        (bufferevent_get_enabled(t->bev) & EV_WRITE))
        bufferevent_trigger(t->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS); /* at the low mark */
}

static void tls_under_event_cb(struct bufferevent *under, short what, void *arg)
{
    struct tls_conn *t = arg;
    int err = EVUTIL_SOCKET_ERROR();
    if (what & BEV_EVENT_CONNECTED) {
        if (t->state == TLS_HANDSHAKE)
            tls_under_read_cb(t->under, t);
        return;
    }
    if (t->state == TLS_FAILED || t->state == TLS_CLOSED)
        return;
    if (what & BEV_EVENT_TIMEOUT) {
        bufferevent_trigger_event(t->bev, what, BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (t->state == TLS_OPEN) {
            tls_msg(t, "the %s closed the connection without close_notify", tls_peer(t));
            tls_eof(t);
            return;
        }
        if (t->is_client)
            tls_msg(t, "TLS handshake failed: the server closed the connection (does it speak TLS "
                       "on this port?)");
        else
            tls_msg(t, "TLS handshake failed: the client closed the connection");
        tls_fail(t, BEV_EVENT_ERROR | BEV_EVENT_READING, ECONNRESET);
        return;
    }
    if (t->state == TLS_HANDSHAKE && t->is_client && bufferevent_socket_get_dns_error(under))
        tls_msg(t, "cannot resolve %s: %s", t->name,
                evutil_gai_strerror(bufferevent_socket_get_dns_error(under)));
    else if (t->state == TLS_HANDSHAKE && t->is_client &&
             !(what & (BEV_EVENT_READING | BEV_EVENT_WRITING)))
        tls_msg(t, "cannot connect to %s: %s", t->name, evutil_socket_error_to_string(err));
    else if (t->state == TLS_HANDSHAKE)
        tls_msg(t, "TLS handshake failed: %s", evutil_socket_error_to_string(err));
    else
        tls_msg(t, "connection to the %s failed: %s", tls_peer(t),
                evutil_socket_error_to_string(err));
    tls_fail(t, what | BEV_EVENT_ERROR, err);
}

/* ---------------------------------------------------------------- filter */

/* Input never goes through the filter (see the design note): the socket callbacks decrypt. */
static enum bufferevent_filter_result tls_filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                    ev_ssize_t lim,
                                                    enum bufferevent_flush_mode mode, void *arg)
{
    (void)src;
    (void)dst;
    (void)lim;
    (void)mode;
    (void)arg;
    return BEV_NEED_MORE;
}

/* Encrypt the user's output into the socket's, `lim` ciphertext bytes at most (the socket's
 * write high watermark). Returns BEV_NEED_MORE even after progress: BEV_OK would let the
 * filter run the user's write callback now, before the ciphertext reached the kernel. */
static enum bufferevent_filter_result tls_filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                     ev_ssize_t lim,
                                                     enum bufferevent_flush_mode mode, void *arg)
{
    struct tls_conn *t = arg;
    size_t start = evbuffer_get_length(dst);
    enum bufferevent_filter_result res = BEV_NEED_MORE;
    int ret = 0;
    if (t->state == TLS_HANDSHAKE)
        goto out; /* sent once the handshake is complete */
    if (t->state != TLS_OPEN || t->sent_close) {
        res = BEV_ERROR;
        goto out;
    }
    while (evbuffer_get_length(src) > 0 &&
           (lim < 0 || evbuffer_get_length(dst) - start < (size_t)lim)) {
        int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
        size_t n = evbuffer_get_length(src);
        unsigned char *p;
        if (max <= 0) {
            ret = max < 0 ? max : MBEDTLS_ERR_SSL_INTERNAL_ERROR;
            break;
        }
        if (n > (size_t)max)
            n = (size_t)max;
        p = evbuffer_pullup(src, (ev_ssize_t)n);
        if (p == NULL) {
            ret = MBEDTLS_ERR_SSL_ALLOC_FAILED;
            break;
        }
        ret = mbedtls_ssl_write(&t->ssl, p, n);
        if (ret <= 0)
            break;
        evbuffer_drain(src, (size_t)ret);
        ret = 0;
    }
    if (ret < 0) {
        tls_record_message(t, ret);
        tls_fail(t, BEV_EVENT_ERROR | BEV_EVENT_WRITING, EPROTO);
        res = BEV_ERROR;
        goto out;
    }
    if (mode == BEV_FINISHED && evbuffer_get_length(src) == 0) {
        t->sent_close = true;
        (void)mbedtls_ssl_close_notify(&t->ssl);
    }
    if (evbuffer_get_length(dst) > start)
        tls_touch_write(t);
out:
    return res;
}

static void tls_conn_free(void *arg)
{
    struct tls_conn *t = arg;
    mbedtls_ssl_free(&t->ssl);
    free(t);
}

static struct bufferevent *tls_wrap(const mbedtls_ssl_config *conf, struct bufferevent *under,
                                    const char *server_name, struct proxy_tls_session_cache *cache)
{
    struct tls_conn *t = NULL;
    struct bufferevent *bev = NULL;
    size_t name_len = server_name ? strlen(server_name) : 0;
    if (under == NULL)
        goto out;
    t = calloc(1, sizeof(*t));
    if (t == NULL)
        goto fail;
    mbedtls_ssl_init(&t->ssl);
    t->under = under;
    t->is_client = server_name != NULL;
    if (mbedtls_ssl_setup(&t->ssl, conf) != 0)
        goto fail;
    if (t->is_client) {
        if (name_len == 0 || name_len > MBEDTLS_SSL_MAX_HOST_NAME_LEN)
            goto fail;
        memcpy(t->name, server_name, name_len + 1);
        /* mbedTLS 2.28 would send an address as SNI (RFC 6066 forbids it) and compare it with
         * the DNS names only: addresses are checked against iPAddress SANs in tls_verify. */
        if (inet_pton(AF_INET, server_name, t->ip) == 1)
            t->ip_len = 4;
        else if (inet_pton(AF_INET6, server_name, t->ip) == 1)
            t->ip_len = 16;
        else if (mbedtls_ssl_set_hostname(&t->ssl, server_name) != 0)
            goto fail;
        mbedtls_ssl_set_verify(&t->ssl, tls_verify, t);
        t->cache = cache;
        if (cache && cache->valid && strcmp(cache->name, t->name) == 0)
            (void)mbedtls_ssl_set_session(&t->ssl, &cache->session); /* else a full handshake */
    }
    mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
    bev = bufferevent_filter_new(under, tls_filter_in, tls_filter_out, BEV_OPT_CLOSE_ON_FREE,
                                 tls_conn_free, t);
    if (bev == NULL)
        goto fail;
    /* From here bufferevent_free(bev) frees `t` and `under`. */
    t->bev = bev;
    /* Not pending yet: no timeout has been set on the new filter. */
    event_assign(&bev->ev_write, bufferevent_get_base(bev), -1, EV_FINALIZE, tls_write_timeout_cb,
                 t);
    bufferevent_setcb(under, tls_under_read_cb, tls_under_write_cb, tls_under_event_cb, t);
    bufferevent_setwatermark(under, EV_READ, 0, 0);
    bufferevent_setwatermark(under, EV_WRITE, 0, PROXY_TLS_OUT_HIGH);
    /* The first step runs from the loop, once the caller has set callbacks and enabled events:
     * the handshake then sees whether it must enable reading itself. */
    bufferevent_trigger(under, EV_READ, BEV_TRIG_DEFER_CALLBACKS | BEV_TRIG_IGNORE_WATERMARKS);
    goto out;
fail:
    if (t) {
        mbedtls_ssl_free(&t->ssl);
        free(t);
    }
    bufferevent_free(under);
out:
    return bev;
}

struct bufferevent *proxy_tls_wrap_client(struct proxy_tls_client *cl,
                                          struct bufferevent *underlying, const char *server_name,
                                          struct proxy_tls_session_cache *cache)
{
    if (server_name == NULL)
        server_name = "";
    return tls_wrap(&cl->conf, underlying, server_name, cache);
}

struct bufferevent *proxy_tls_wrap_server(struct proxy_tls_server *sv,
                                          struct bufferevent *underlying)
{
    return tls_wrap(&sv->conf, underlying, NULL, NULL);
}

/* ---------------------------------------------------------------- queries */

/* The connection behind a wrapped bufferevent: its socket bufferevent's callbacks are ours. */
static struct tls_conn *tls_conn_of(struct bufferevent *bev)
{
    struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
    bufferevent_event_cb cb = NULL;
    void *arg = NULL;
    if (under == NULL)
        return NULL;
    bufferevent_getcb(under, NULL, NULL, &cb, &arg);
    return cb == tls_under_event_cb ? arg : NULL;
}

const char *proxy_tls_error(struct bufferevent *bev)
{
    struct tls_conn *t = tls_conn_of(bev);
    return t && t->msg[0] ? t->msg : NULL;
}

bool proxy_tls_session_reused(struct bufferevent *bev)
{
    struct tls_conn *t = tls_conn_of(bev);
    return t && t->state != TLS_HANDSHAKE && t->resumed;
}

const char *proxy_tls_alpn(struct bufferevent *bev)
{
    struct tls_conn *t = tls_conn_of(bev);
    if (t == NULL || t->state == TLS_HANDSHAKE || t->state == TLS_FAILED)
        return NULL;
    return mbedtls_ssl_get_alpn_protocol(&t->ssl);
}

/* HTTP/1.1 message pieces: a bounded header store filled from llhttp callbacks, and the
 * hop-by-hop rules a proxy applies when it passes headers on. */
#ifndef WARDEN_PROXY_HTTP_H
#define WARDEN_PROXY_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct proxy_hdr {
    uint32_t name, name_len; /* offsets into proxy_hdrs.buf */
    uint32_t value, value_len;
};

/* Every header of one message, in order, names and values as received. The bytes and the
 * entries are capped (cap_bytes, PROXY_HDRS_MAX); the store is reused between messages. */
struct proxy_hdrs {
    char *buf;
    size_t len, cap, cap_bytes;
    struct proxy_hdr *items;
    size_t n, cap_items;
    bool in_value; /* the last callback was a value: a name fragment starts a new header */
};

#define PROXY_HDRS_MAX 256

void proxy_hdrs_init(struct proxy_hdrs *h, size_t cap_bytes);
void proxy_hdrs_reset(struct proxy_hdrs *h);
void proxy_hdrs_deinit(struct proxy_hdrs *h);

/* Append a fragment of a header name or value, as llhttp delivers them. Returns 0, or
 * -E2BIG past the caps (the caller answers 431 / 502), -ENOMEM. */
int proxy_hdrs_add_name(struct proxy_hdrs *h, const char *at, size_t len);
int proxy_hdrs_add_value(struct proxy_hdrs *h, const char *at, size_t len);

/* llhttp finished a value (it may have sent none for an empty one): the next name
 * fragment starts a new header. */
static inline void proxy_hdrs_value_done(struct proxy_hdrs *h)
{
    h->in_value = true;
}

/* Case-insensitive name test, and the first header called `name` (NULL if none). */
bool proxy_hdr_is(const struct proxy_hdrs *h, const struct proxy_hdr *e, const char *name);
const struct proxy_hdr *proxy_hdrs_find(const struct proxy_hdrs *h, const char *name);
static inline const char *proxy_hdr_value(const struct proxy_hdrs *h, const struct proxy_hdr *e)
{
    return h->buf + e->value;
}

/* What a proxy needs to know of a header name; PROXY_HDR_OTHER for everything else. */
enum proxy_hdr_kind {
    PROXY_HDR_OTHER = 0,
    PROXY_HDR_HOP, /* Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding,
                      Upgrade, Proxy-Authenticate, Proxy-Authorization */
    PROXY_HDR_HOST,
    PROXY_HDR_CONTENT_LENGTH,
    PROXY_HDR_CONTENT_TYPE,
    PROXY_HDR_EXPECT,
    PROXY_HDR_ACCEPT_ENCODING,
    PROXY_HDR_X_FORWARDED_FOR,
    PROXY_HDR_X_FORWARDED_PROTO,
    PROXY_HDR_X_REQUEST_ID,
    PROXY_HDR_AUTHORIZATION,
    PROXY_HDR_X_API_KEY,   /* x-api-key (Anthropic) and api-key (Azure OpenAI) */
    PROXY_HDR_TRACEPARENT, /* W3C trace context: replaced by the upstream call's own */
};

/* The kind of a stored header, by its name (one switch on the length, one compare). Headers
 * named by the message's Connection header count as PROXY_HDR_HOP. */
enum proxy_hdr_kind proxy_hdr_classify(const struct proxy_hdrs *h, const struct proxy_hdr *e);

/* True when the comma-separated list `list` (len bytes) holds `token`, ignoring case. */
bool proxy_token_in_list(const char *list, size_t len, const char *token);

/* Append "Name: value\r\n" for one stored header. */
void proxy_hdr_write(const struct proxy_hdrs *h, const struct proxy_hdr *e, struct evbuffer *out);

/* Append the bytes of s as the inside of a JSON string (quotes not included): n bytes, or up
 * to the NUL when n is SIZE_MAX. Bytes >= 0x80 pass as they are (the caller's text is UTF-8). */
void proxy_json_escape(struct evbuffer *b, const char *s, size_t n);

#endif

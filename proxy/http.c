/* HTTP/1.1 message pieces: a bounded header store filled from llhttp callbacks, and the
 * hop-by-hop rules a proxy applies when it passes headers on. */
#include "proxy/http.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

void proxy_hdrs_init(struct proxy_hdrs *h, size_t cap_bytes)
{
    memset(h, 0, sizeof(*h));
    h->cap_bytes = cap_bytes;
}

void proxy_hdrs_reset(struct proxy_hdrs *h)
{
    h->len = 0;
    h->n = 0;
    h->in_value = false;
}

void proxy_hdrs_deinit(struct proxy_hdrs *h)
{
    free(h->buf);
    free(h->items);
    memset(h, 0, sizeof(*h));
}

static int hdrs_append(struct proxy_hdrs *h, const char *at, size_t len)
{
    if (len == 0)
        return 0;
    if (h->len + len > h->cap_bytes)
        return -E2BIG;
    if (h->len + len > h->cap) {
        size_t cap = h->cap ? h->cap : 1024;
        while (cap < h->len + len)
            cap *= 2;
        if (cap > h->cap_bytes)
            cap = h->cap_bytes;
        char *grown = realloc(h->buf, cap);
        if (grown == NULL)
            return -ENOMEM;
        h->buf = grown;
        h->cap = cap;
    }
    memcpy(h->buf + h->len, at, len);
    h->len += len;
    return 0;
}

int proxy_hdrs_add_name(struct proxy_hdrs *h, const char *at, size_t len)
{
    if (h->n == 0 || h->in_value) {
        if (h->n >= PROXY_HDRS_MAX)
            return -E2BIG;
        if (h->n == h->cap_items) {
            size_t cap = h->cap_items ? h->cap_items * 2 : 16;
            struct proxy_hdr *grown = realloc(h->items, cap * sizeof(*grown));
            if (grown == NULL)
                return -ENOMEM;
            h->items = grown;
            h->cap_items = cap;
        }
        h->items[h->n++] = (struct proxy_hdr){.name = (uint32_t)h->len};
        h->in_value = false;
    }
    struct proxy_hdr *e = &h->items[h->n - 1];
    int rc = hdrs_append(h, at, len);
    if (rc == 0) {
        e->name_len += (uint32_t)len;
        e->value = (uint32_t)h->len;
    }
    return rc;
}

int proxy_hdrs_add_value(struct proxy_hdrs *h, const char *at, size_t len)
{
    if (h->n == 0)
        return -EINVAL;
    struct proxy_hdr *e = &h->items[h->n - 1];
    h->in_value = true;
    int rc = hdrs_append(h, at, len);
    if (rc == 0)
        e->value_len += (uint32_t)len;
    return rc;
}

bool proxy_hdr_is(const struct proxy_hdrs *h, const struct proxy_hdr *e, const char *name)
{
    size_t n = strlen(name);
    return e->name_len == n && strncasecmp(h->buf + e->name, name, n) == 0;
}

const struct proxy_hdr *proxy_hdrs_find(const struct proxy_hdrs *h, const char *name)
{
    for (size_t i = 0; i < h->n; i++) {
        if (proxy_hdr_is(h, &h->items[i], name))
            return &h->items[i];
    }
    return NULL;
}

bool proxy_token_in_list(const char *list, size_t len, const char *token)
{
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            i++;
        size_t start = i;
        while (i < len && list[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list[end - 1] == ' ' || list[end - 1] == '\t'))
            end--;
        if (end - start == tl && strncasecmp(list + start, token, tl) == 0)
            return true;
    }
    return false;
}

enum proxy_hdr_kind proxy_hdr_classify(const struct proxy_hdrs *h, const struct proxy_hdr *e)
{
    static const struct {
        const char *name;
        enum proxy_hdr_kind kind;
    } names[] = {
        {"te", PROXY_HDR_HOP},
        {"host", PROXY_HDR_HOST},
        {"expect", PROXY_HDR_EXPECT},
        {"api-key", PROXY_HDR_X_API_KEY},
        {"trailer", PROXY_HDR_HOP},
        {"upgrade", PROXY_HDR_HOP},
        {"x-api-key", PROXY_HDR_X_API_KEY},
        {"keep-alive", PROXY_HDR_HOP},
        {"connection", PROXY_HDR_HOP},
        {"traceparent", PROXY_HDR_TRACEPARENT},
        {"content-type", PROXY_HDR_CONTENT_TYPE},
        {"x-request-id", PROXY_HDR_X_REQUEST_ID},
        {"authorization", PROXY_HDR_AUTHORIZATION},
        {"content-length", PROXY_HDR_CONTENT_LENGTH},
        {"accept-encoding", PROXY_HDR_ACCEPT_ENCODING},
        {"x-forwarded-for", PROXY_HDR_X_FORWARDED_FOR},
        {"proxy-connection", PROXY_HDR_HOP},
        {"transfer-encoding", PROXY_HDR_HOP},
        {"x-forwarded-proto", PROXY_HDR_X_FORWARDED_PROTO},
        {"proxy-authenticate", PROXY_HDR_HOP},
        {"proxy-authorization", PROXY_HDR_HOP},
    };
    const char *name = h->buf + e->name;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i].name);
        if (n > e->name_len)
            break; /* sorted by length */
        if (n == e->name_len && strncasecmp(name, names[i].name, n) == 0)
            return names[i].kind;
    }
    /* Headers that the Connection header lists are hop-by-hop as well. */
    if (e->name_len < 64) {
        char lower[64];
        memcpy(lower, name, e->name_len);
        lower[e->name_len] = '\0';
        for (size_t i = 0; i < h->n; i++) {
            const struct proxy_hdr *c = &h->items[i];
            if (c->name_len == 10 && strncasecmp(h->buf + c->name, "connection", 10) == 0 &&
                proxy_token_in_list(h->buf + c->value, c->value_len, lower))
                return PROXY_HDR_HOP;
        }
    }
    return PROXY_HDR_OTHER;
}

void proxy_hdr_write(const struct proxy_hdrs *h, const struct proxy_hdr *e, struct evbuffer *out)
{
    evbuffer_add(out, h->buf + e->name, e->name_len);
    evbuffer_add(out, ": ", 2);
    evbuffer_add(out, h->buf + e->value, e->value_len);
    evbuffer_add(out, "\r\n", 2);
}

void proxy_json_escape(struct evbuffer *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0, i;
    if (n == SIZE_MAX)
        n = strlen(s);
    for (i = 0; i < n; i++) {
        unsigned char ch = p[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\' && ch != 0x7f)
            continue;
        evbuffer_add(b, p + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t len = 2;
        switch (ch) {
        case '"':
        case '\\':
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            len = 6;
        }
        evbuffer_add(b, esc, len);
    }
    evbuffer_add(b, p + run, n - run);
}

/* Server-Sent Events framer: a resumable splitter of text/event-stream bytes into events. */
#ifndef WARDEN_PROXY_SSE_H
#define WARDEN_PROXY_SSE_H

#include <stdbool.h>
#include <stddef.h>

/* Hard caps. Zero fields take the defaults. */
struct proxy_sse_limits {
    size_t max_event; /* raw bytes of one item, from its first line through the first byte of
                       * the line end that closes it; bounds data+event+id too. Default 1 MiB */
    size_t max_line;  /* bytes of one line without its line end; default 1 MiB */
};

#define PROXY_SSE_DEFAULT_MAX (1u << 20)
#define PROXY_SSE_CEILING     (1u << 30) /* largest accepted limit */

enum proxy_sse_kind {
    PROXY_SSE_EVENT = 0, /* a block of lines closed by an empty line */
    PROXY_SSE_COMMENT,   /* a line starting with ':' */
};

/* One item. All pointers are borrowed (from the caller's chunk or the framer's buffers) and
 * valid until the next call to proxy_sse_feed, proxy_sse_next or proxy_sse_end; never NULL
 * (an absent value is "" with length 0).
 *
 * EVENT: every empty line produces one, even when the WHATWG algorithm would not dispatch
 * it, so that its raw bytes can be passed on. has_data says whether the spec dispatches it
 * (at least one data field was seen, possibly empty). `event` is the last event field ("" if
 * none: the spec's default type is "message"); `data` is the data fields joined with "\n";
 * `id` is the last id field without a NUL byte (has_id); `retry` the last all-digit retry
 * field (saturated at LONG_MAX), or -1. Fields are per event: the spec's "last event ID"
 * that persists across events is the caller's to keep. Bytes are not UTF-8 checked.
 *
 * COMMENT: data is the text after the ':' (the space, if any, kept). A comment between
 * events is reported as soon as its line ends, with raw = its line and line end, so that a
 * ": ping" keep-alive can be forwarded at once. A comment inside an event (after one of its
 * field lines) is reported when its line ends too, but with raw_len 0: its bytes stay in
 * the enclosing event's raw.
 *
 * raw: the item's exact source bytes. Concatenating raw of every item in order, then
 * proxy_sse_pending, reproduces the stream minus a leading UTF-8 BOM, whatever the
 * chunking. raw_len <= max_event + 1 (the +1 being the LF of a final CRLF). */
struct proxy_sse_event {
    enum proxy_sse_kind kind;
    const char *event;
    size_t event_len;
    const char *data;
    size_t data_len;
    const char *id;
    size_t id_len;
    bool has_data;
    bool has_id;
    long retry;
    unsigned unknown; /* fields of this event with any other name, ignored per spec */
    const char *raw;
    size_t raw_len;
};

struct proxy_sse;

/* A framer for one stream. lim may be NULL for defaults. Returns NULL when out of memory
 * or when a limit is above PROXY_SSE_CEILING. The framer owns one buffer for an item that
 * spans chunks (and one for joined multi-line data); each grows up to the caps and is
 * reused across items. */
struct proxy_sse *proxy_sse_new(const struct proxy_sse_limits *lim);
void proxy_sse_free(struct proxy_sse *s);

/* Give the framer the next chunk (borrowed until proxy_sse_next returns 0). Call only
 * after proxy_sse_next returned 0; otherwise the framer fails with -EINVAL. */
void proxy_sse_feed(struct proxy_sse *s, const char *buf, size_t len);

/* No more input follows. An item whose closing line end is a CR that ended the last chunk
 * is held back until the next byte shows whether an LF belongs to it (so that raw does not
 * depend on chunking); this releases it. Call proxy_sse_next until it returns 0 after. */
void proxy_sse_end(struct proxy_sse *s);

/* Produce the next item. Returns 1 with *ev filled, 0 when the chunk is used up (feed more),
 * or < 0: -E2BIG when a line or an item exceeded a limit, -ENOMEM, -EINVAL on a misuse of
 * proxy_sse_feed. After an error every call returns it. The decision to fail does not
 * depend on chunking, and neither do the items produced before it. */
int proxy_sse_next(struct proxy_sse *s, struct proxy_sse_event *ev);

/* The raw bytes read but not yet handed out in an item: after proxy_sse_end and
 * proxy_sse_next returning 0, the unterminated last event (not dispatched, per spec), for
 * the proxy to pass on unchanged. Valid until the next call to feed, next or end. Returns
 * the length (0 after an error). */
size_t proxy_sse_pending(const struct proxy_sse *s, const char **raw);

#endif

/* OpenTelemetry "key=value,key2=value2" lists (OTEL_EXPORTER_OTLP_HEADERS,
 * OTEL_RESOURCE_ATTRIBUTES): one reader for both. */
#ifndef WARDEN_TELEMETRY_KVLIST_H
#define WARDEN_TELEMETRY_KVLIST_H

#include <stddef.h>

/* One entry: the key is a slice of the input, the value is %-decoded into the caller's
 * buffer. Blanks around keys and values are trimmed. */
struct tel_kv {
    const char *key;
    size_t key_len;
    size_t value_len;
    size_t entry; /* 1-based position in the list, for messages */
};

/* Read the next entry from *p (up to end), skipping empty ones; the value goes to `val`
 * (NUL-terminated; cap must exceed end - *p, which a decoded value never does). Returns 1
 * with *kv filled, 0 at the end, or -EINVAL with *why set (static text: "has no '='", "has
 * an empty name", "has a '%' not followed by two hex digits"); kv->entry and kv->key then
 * say where. */
int tel_kv_next(const char **p, const char *end, struct tel_kv *kv, char *val, size_t cap,
                const char **why);

#endif

/* Configuration engine: the key table drives YAML loading, flags, defaults, checks and docs. */
#include "policy/config.h"

#include "guards/schema.h"
#include "policy/config_keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define CONFIG_MAX_BYTES   (1024 * 1024)
#define CONFIG_MAX_DEPTH   16
#define CONFIG_MAX_ENTRIES 1024 /* upstreams or routes */
#define KEY_PATH_MAX       256

static const char cmdline_source[] = "command line";

/* ---------------------------------------------------------------- errors */

static void loc_format(const struct policy_loc *loc, char *buf, size_t cap)
{
    if (loc->line > 0)
        snprintf(buf, cap, "%s:%" PRIu32 ":%" PRIu32, loc->source, loc->line, loc->col);
    else
        snprintf(buf, cap, "%s", loc->source ? loc->source : cmdline_source);
}

static void set_err(struct policy_error *err, const struct policy_loc *loc, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void set_err(struct policy_error *err, const struct policy_loc *loc, const char *key,
                    const char *fmt, ...)
{
    char where[320];
    char what[320];
    va_list ap;
    if (err == NULL)
        return;
    loc_format(loc, where, sizeof(where));
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* Over-long messages are cut; the location and key always come first. */
    int n = key && *key ? snprintf(err->msg, sizeof(err->msg), "%s: %s: %s", where, key, what)
                        : snprintf(err->msg, sizeof(err->msg), "%s: %s", where, what);
    (void)n;
}

/* ---------------------------------------------------------------- helpers */

static void *field_at(void *base, size_t offset)
{
    return (char *)base + offset;
}

static char *str_dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static const char *intern_source(struct policy_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_sources; i++) {
        if (strcmp(cfg->sources[i], name) == 0)
            return cfg->sources[i];
    }
    char **grown = realloc(cfg->sources, (cfg->n_sources + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    cfg->sources = grown;
    char *copy = str_dup_n(name, strlen(name));
    if (copy == NULL)
        return NULL;
    cfg->sources[cfg->n_sources++] = copy;
    return copy;
}

/* Levenshtein distance, capped: enough to suggest the key a typo meant. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t row[65];
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost =
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const struct policy_key *table_find(const struct policy_table *t, const char *name,
                                           size_t len)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        if (strlen(t->keys[i].name) == len && memcmp(t->keys[i].name, name, len) == 0)
            return &t->keys[i];
    }
    return NULL;
}

/* "unknown key" with the nearest known key, or the list of keys when none is near. */
static void unknown_key_err(struct policy_error *err, const struct policy_loc *loc,
                            const char *path, const struct policy_table *t, const char *name)
{
    const char *best = NULL;
    size_t best_d = 3;
    char known[480] = "";
    size_t used = 0;
    bool full = false;
    for (size_t i = 0; i < t->n_keys; i++) {
        size_t d = edit_distance(name, t->keys[i].name);
        if (d < best_d) {
            best_d = d;
            best = t->keys[i].name;
        }
        if (full)
            continue;
        /* Whole names only: one that does not fit ends the list with "...". */
        int n =
            snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", t->keys[i].name);
        if (n > 0 && (size_t)n < sizeof(known) - used - 5) {
            used += (size_t)n;
        } else {
            snprintf(known + used, sizeof(known) - used, ", ...");
            full = true;
        }
    }
    if (best)
        set_err(err, loc, path, "unknown key; did you mean '%s'?", best);
    else
        set_err(err, loc, path, "unknown key; expected one of: %s", known);
}

static void path_join(char *out, size_t cap, const char *prefix, const char *name, size_t len)
{
    if (prefix && *prefix)
        snprintf(out, cap, "%s.%.*s", prefix, (int)len, name);
    else
        snprintf(out, cap, "%.*s", (int)len, name);
}

static bool is_null_text(const char *s, size_t len)
{
    return len == 0 || (len == 1 && s[0] == '~') ||
           (len == 4 &&
            (memcmp(s, "null", 4) == 0 || memcmp(s, "Null", 4) == 0 || memcmp(s, "NULL", 4) == 0));
}

/* ---------------------------------------------------------------- scalar parsing */

/* A whole decimal integer (optional sign); false on junk or overflow. */
static bool parse_i64(const char *s, size_t len, int64_t *out, size_t *used)
{
    size_t i = 0;
    bool neg = false;
    uint64_t v = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    size_t start = i;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        i++;
    }
    if (i == start || v > (uint64_t)INT64_MAX)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    if (used)
        *used = i;
    else if (i != len)
        return false;
    return true;
}

static int parse_bool(const char *s, size_t len, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strlen(yes[i]) == len && strncasecmp(s, yes[i], len) == 0) {
            *out = true;
            return 0;
        }
        if (strlen(no[i]) == len && strncasecmp(s, no[i], len) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_scaled(const char *s, size_t len, const char *const *units, const int64_t *scale,
                        size_t n_units, int64_t *out)
{
    int64_t v;
    size_t used;
    if (!parse_i64(s, len, &v, &used) || v < 0)
        return -EINVAL;
    const char *u = s + used;
    size_t ulen = len - used;
    while (ulen > 0 && *u == ' ') {
        u++;
        ulen--;
    }
    for (size_t i = 0; i < n_units; i++) {
        if (strlen(units[i]) == ulen && memcmp(u, units[i], ulen) == 0) {
            if (scale[i] != 0 && v > INT64_MAX / scale[i])
                return -ERANGE;
            *out = v * scale[i];
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_duration(const char *s, size_t len, int64_t *ms)
{
    static const char *const units[] = {"", "ms", "s", "m", "h"};
    static const int64_t scale[] = {1000, 1, 1000, 60000, 3600000};
    return parse_scaled(s, len, units, scale, 5, ms);
}

static int parse_size(const char *s, size_t len, int64_t *bytes)
{
    static const char *const units[] = {"",  "B",   "k",  "K", "KiB", "KB",  "m",
                                        "M", "MiB", "MB", "g", "G",   "GiB", "GB"};
    static const int64_t scale[] = {
        1,       1,       1024,    1024,         1024,         1000,         1048576,
        1048576, 1048576, 1000000, 1073741824LL, 1073741824LL, 1073741824LL, 1000000000LL};
    return parse_scaled(s, len, units, scale, sizeof(units) / sizeof(units[0]), bytes);
}

static bool valid_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* host:port, [v6]:port or :port. */
static int parse_addr(const char *s, size_t len, struct policy_addr *a, char *why, size_t wcap)
{
    const char *colon;
    const char *hs = s;
    size_t hl;
    int64_t port;
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (rb == NULL || rb + 1 >= s + len || rb[1] != ':') {
            snprintf(why, wcap, "expected [IPv6]:port");
            return -EINVAL;
        }
        hs = s + 1;
        hl = (size_t)(rb - hs);
        colon = rb + 1;
        for (size_t i = 0; i < hl; i++) {
            if (!isxdigit((unsigned char)hs[i]) && hs[i] != ':' && hs[i] != '.') {
                snprintf(why, wcap, "'%.*s' is not an IPv6 address", (int)hl, hs);
                return -EINVAL;
            }
        }
    } else {
        colon = NULL;
        for (size_t i = len; i > 0; i--) {
            if (s[i - 1] == ':') {
                colon = s + i - 1;
                break;
            }
        }
        if (colon == NULL) {
            snprintf(why, wcap, "expected host:port, e.g. 127.0.0.1:8080");
            return -EINVAL;
        }
        hl = (size_t)(colon - s);
        for (size_t i = 0; i < hl; i++) {
            if (!valid_host_char(s[i])) {
                snprintf(why, wcap, "'%.*s' is not a host name or IPv4 address", (int)hl, s);
                return -EINVAL;
            }
        }
    }
    size_t pl = (size_t)(s + len - colon - 1);
    if (!parse_i64(colon + 1, pl, &port, NULL) || port < 0 || port > 65535) {
        snprintf(why, wcap, "port must be a number from 0 to 65535");
        return -EINVAL;
    }
    a->text = str_dup_n(s, len);
    a->host = str_dup_n(hs, hl);
    a->port = (uint16_t)port;
    return a->text && a->host ? 0 : -ENOMEM;
}

static int parse_url(const char *s, size_t len, struct policy_url *u, char *why, size_t wcap)
{
    size_t skip;
    const char *p, *end = s + len, *host, *host_end, *path;
    int64_t port;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        u->tls = true;
        skip = 8;
        port = 443;
    } else if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        u->tls = false;
        skip = 7;
        port = 80;
    } else {
        snprintf(why, wcap, "must start with http:// or https://");
        return -EINVAL;
    }
    host = p = s + skip;
    path = memchr(p, '/', (size_t)(end - p));
    if (path == NULL)
        path = end;
    if (memchr(s, '?', len) || memchr(s, '#', len)) {
        snprintf(why, wcap, "a query or fragment is not allowed in an upstream URL");
        return -EINVAL;
    }
    if (memchr(p, '@', (size_t)(path - p))) {
        snprintf(why, wcap, "credentials in the URL are not allowed; use api_key_env");
        return -EINVAL;
    }
    if (*p == '[') {
        host_end = memchr(p, ']', (size_t)(path - p));
        if (host_end == NULL) {
            snprintf(why, wcap, "unterminated [IPv6] host");
            return -EINVAL;
        }
        host = p + 1;
        p = host_end + 1;
        for (const char *c = host; c < host_end; c++) {
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
                snprintf(why, wcap, "'%.*s' is not an IPv6 address", (int)(host_end - host), host);
                return -EINVAL;
            }
        }
        if (memchr(host, ':', (size_t)(host_end - host)) == NULL) {
            snprintf(why, wcap, "'%.*s' is not an IPv6 address", (int)(host_end - host), host);
            return -EINVAL;
        }
    } else {
        while (p < path && *p != ':')
            p++;
        host_end = p;
        for (const char *c = host; c < host_end; c++) {
            if (!valid_host_char(*c)) {
                snprintf(why, wcap, "'%.*s' is not a valid host", (int)(host_end - host), host);
                return -EINVAL;
            }
        }
    }
    if (host_end == host) {
        snprintf(why, wcap, "the URL has no host");
        return -EINVAL;
    }
    if (p < path) {
        if (*p != ':' || !parse_i64(p + 1, (size_t)(path - p - 1), &port, NULL) || port < 1 ||
            port > 65535) {
            snprintf(why, wcap, "port must be a number from 1 to 65535");
            return -EINVAL;
        }
    }
    size_t plen = (size_t)(end - path);
    /* The base path is put in front of every request target: only URL path bytes. */
    for (size_t i = 0; i < plen; i++) {
        unsigned char ch = (unsigned char)path[i];
        if (ch <= ' ' || ch == 0x7f || ch == '"' || ch == '<' || ch == '>' || ch == '\\' ||
            ch == '^' || ch == '`' || ch == '{' || ch == '|' || ch == '}' || ch >= 0x80) {
            snprintf(why, wcap,
                     "the path holds a byte not allowed in a URL (0x%02x); "
                     "percent-encode it",
                     ch);
            return -EINVAL;
        }
    }
    while (plen > 0 && path[plen - 1] == '/')
        plen--;
    u->text = str_dup_n(s, len);
    u->host = str_dup_n(host, (size_t)(host_end - host));
    u->base_path = str_dup_n(path, plen);
    u->port = (uint16_t)port;
    return u->text && u->host && u->base_path ? 0 : -ENOMEM;
}

/* ---------------------------------------------------------------- freeing */

static void free_fields(const struct policy_table *t, void *base);

static void free_field(const struct policy_key *k, void *f)
{
    switch (k->type) {
    case POLICY_T_STR:
    case POLICY_T_PATH:
        free(*(char **)f);
        *(char **)f = NULL;
        break;
    case POLICY_T_ADDR: {
        struct policy_addr *a = f;
        free(a->text);
        free(a->host);
        memset(a, 0, sizeof(*a));
        break;
    }
    case POLICY_T_URL: {
        struct policy_url *u = f;
        free(u->text);
        free(u->host);
        free(u->base_path);
        memset(u, 0, sizeof(*u));
        break;
    }
    case POLICY_T_SECTION:
        free_fields(k->sub, f);
        break;
    case POLICY_T_MAP:
    case POLICY_T_LIST: {
        char *arr = *(char **)f;
        size_t *count = (size_t *)((char *)f - k->offset + k->count_offset);
        for (size_t i = 0; i < *count; i++) {
            char *elem = arr + i * k->sub->elem_size;
            if (k->type == POLICY_T_MAP)
                free(*(char **)(elem + k->sub->name_offset));
            free_fields(k->sub, elem);
        }
        free(arr);
        *(char **)f = NULL;
        *count = 0;
        break;
    }
    default:
        break;
    }
}

static void free_fields(const struct policy_table *t, void *base)
{
    for (size_t i = 0; i < t->n_keys; i++)
        free_field(&t->keys[i], field_at(base, t->keys[i].offset));
}

/* ---------------------------------------------------------------- setting values */

/* Parse `text` as the key's type into its field (replacing what was there). On failure
 * the field is unchanged and `why` says what is wrong. */
static int key_set_scalar(const struct policy_key *k, void *f, const char *text, size_t len,
                          bool plain, char *why, size_t wcap)
{
    int rc = 0;
    /* Only a plain null, ~ or nothing is null: a quoted "null" is the text null. */
    bool null = len == 0 || (plain && is_null_text(text, len));
    if (memchr(text, '\0', len)) {
        snprintf(why, wcap, "contains a NUL byte");
        return -EINVAL;
    }
    switch (k->type) {
    case POLICY_T_STR:
    case POLICY_T_PATH: {
        char *v = NULL;
        if (!null) {
            v = str_dup_n(text, len);
            if (v == NULL)
                return -ENOMEM;
        }
        if (v && k->type == POLICY_T_PATH && access(v, R_OK) != 0) {
            snprintf(why, wcap, "cannot read file '%s': %s", v, strerror(errno));
            free(v);
            return -EINVAL;
        }
        free(*(char **)f);
        *(char **)f = v;
        break;
    }
    case POLICY_T_INT: {
        int64_t v;
        if (null || !parse_i64(text, len, &v, NULL)) {
            snprintf(why, wcap, "expected an integer, got '%.*s'", (int)len, text);
            return -EINVAL;
        }
        if (v < k->min || v > k->max) {
            snprintf(why, wcap, "%" PRId64 " is out of range %" PRId64 "..%" PRId64, v, k->min,
                     k->max);
            return -EINVAL;
        }
        *(int64_t *)f = v;
        break;
    }
    case POLICY_T_BOOL:
        if (null || parse_bool(text, len, (bool *)f) != 0) {
            snprintf(why, wcap, "expected true or false, got '%.*s'", (int)len, text);
            return -EINVAL;
        }
        break;
    case POLICY_T_FLOAT: {
        char buf[64];
        char *endp;
        if (null || len >= sizeof(buf)) {
            snprintf(why, wcap, "expected a number, got '%.*s'", (int)len, text);
            return -EINVAL;
        }
        memcpy(buf, text, len);
        buf[len] = '\0';
        errno = 0;
        double v = strtod(buf, &endp);
        if (endp == buf || *endp != '\0' || errno != 0 || !isfinite(v)) {
            snprintf(why, wcap, "expected a number, got '%s'", buf);
            return -EINVAL;
        }
        if (v < k->fmin || v > k->fmax) {
            snprintf(why, wcap, "%g is out of range %g..%g", v, k->fmin, k->fmax);
            return -EINVAL;
        }
        *(double *)f = v;
        break;
    }
    case POLICY_T_DURATION:
    case POLICY_T_SIZE: {
        int64_t v;
        bool dur = k->type == POLICY_T_DURATION;
        rc = null ? -EINVAL : dur ? parse_duration(text, len, &v) : parse_size(text, len, &v);
        if (rc == -ERANGE) {
            snprintf(why, wcap, "'%.*s' is out of range", (int)len, text);
            return -EINVAL;
        }
        if (rc != 0) {
            snprintf(why, wcap,
                     dur ? "expected a duration such as 500ms, 30s, 5m or 1h, got '%.*s'"
                         : "expected a size such as 4096, 64KiB, 8MiB or 1GiB, got '%.*s'",
                     (int)len, text);
            return -EINVAL;
        }
        if (v < k->min || v > k->max) {
            snprintf(why, wcap, "'%.*s' is out of range (%" PRId64 "..%" PRId64 " %s)", (int)len,
                     text, k->min, k->max, dur ? "ms" : "bytes");
            return -EINVAL;
        }
        *(int64_t *)f = v;
        break;
    }
    case POLICY_T_ENUM: {
        char list[160] = "";
        size_t used = 0;
        for (size_t i = 0; k->choices[i]; i++) {
            if (strlen(k->choices[i]) == len && memcmp(k->choices[i], text, len) == 0) {
                *(int *)f = (int)i;
                return 0;
            }
            int n =
                snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", k->choices[i]);
            if (n > 0 && (size_t)n < sizeof(list) - used)
                used += (size_t)n;
        }
        snprintf(why, wcap, "'%.*s' is not one of: %s", (int)len, text, list);
        return -EINVAL;
    }
    case POLICY_T_ADDR: {
        struct policy_addr a = {0};
        rc = parse_addr(text, len, &a, why, wcap);
        if (rc != 0) {
            free(a.text);
            free(a.host);
            return rc;
        }
        free_field(k, f);
        *(struct policy_addr *)f = a;
        break;
    }
    case POLICY_T_URL: {
        struct policy_url u = {0};
        rc = parse_url(text, len, &u, why, wcap);
        if (rc != 0) {
            free(u.text);
            free(u.host);
            free(u.base_path);
            return rc;
        }
        free_field(k, f);
        *(struct policy_url *)f = u;
        break;
    }
    default:
        snprintf(why, wcap, "expected %s %s, got a single value",
                 strchr("aeiou", policy_type_name(k->type)[0]) ? "an" : "a",
                 policy_type_name(k->type));
        return -EINVAL;
    }
    return rc;
}

static int apply_defaults(const struct policy_table *t, void *base)
{
    char why[200];
    for (size_t i = 0; i < t->n_keys; i++) {
        const struct policy_key *k = &t->keys[i];
        int rc = 0;
        if (k->type == POLICY_T_SECTION)
            rc = apply_defaults(k->sub, field_at(base, k->offset));
        else if (k->def != NULL)
            rc = key_set_scalar(k, field_at(base, k->offset), k->def, strlen(k->def), true, why,
                                sizeof(why));
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool valid_entry_name(const char *s, size_t len)
{
    if (len == 0 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    }
    return true;
}

/* Find the MAP entry `name` or add one holding its defaults. Returns NULL on no memory
 * or when the map is full (*full set). */
static void *map_entry(const struct policy_key *k, void *parent, const char *name, size_t len,
                       bool *full)
{
    char **arr = field_at(parent, k->offset);
    size_t *count = field_at(parent, k->count_offset);
    size_t esz = k->sub->elem_size;
    *full = false;
    for (size_t i = 0; i < *count; i++) {
        char *elem = *arr + i * esz;
        const char *en = *(char **)(elem + k->sub->name_offset);
        if (strlen(en) == len && memcmp(en, name, len) == 0)
            return elem;
    }
    if (*count >= CONFIG_MAX_ENTRIES) {
        *full = true;
        return NULL;
    }
    char *grown = realloc(*arr, (*count + 1) * esz);
    if (grown == NULL)
        return NULL;
    *arr = grown;
    char *elem = grown + *count * esz;
    memset(elem, 0, esz);
    char *copy = str_dup_n(name, len);
    if (copy == NULL || apply_defaults(k->sub, elem) != 0) {
        free(copy);
        free_fields(k->sub, elem);
        return NULL;
    }
    *(char **)(elem + k->sub->name_offset) = copy;
    (*count)++;
    return elem;
}

/* ---------------------------------------------------------------- YAML walking */

struct walk {
    yaml_parser_t parser;
    const char *buf; /* the document, to turn byte offsets into line:column */
    size_t len;
    struct policy_config *cfg;
    const char *source; /* interned */
    struct policy_error *err;
    unsigned depth;
};

static struct policy_loc mark_loc(const struct walk *w, yaml_mark_t m)
{
    return (struct policy_loc){
        .source = w->source, .line = (uint32_t)m.line + 1, .col = (uint32_t)m.column + 1};
}

/* "an integer", "a duration", "one of: error, warn, info, debug": what a key wants. */
static void type_phrase(const struct policy_key *k, char *buf, size_t cap)
{
    size_t used;
    const char *name = policy_type_name(k->type);
    if (k->type != POLICY_T_ENUM) {
        snprintf(buf, cap, "%s %s", strchr("aeiou", name[0]) ? "an" : "a", name);
        return;
    }
    used = (size_t)snprintf(buf, cap, "one of:");
    for (size_t i = 0; k->choices[i] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s %s", i ? "," : "", k->choices[i]);
}

static const char *event_kind(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return "a single value";
    case YAML_SEQUENCE_START_EVENT:
        return "a list";
    case YAML_MAPPING_START_EVENT:
        return "a mapping";
    default:
        return "nothing";
    }
}

/* Next event; refuses aliases and anchors (they only make configuration harder to read
 * and open the door to expansion bombs). */
static int walk_next(struct walk *w, yaml_event_t *ev, const char *path)
{
    if (!yaml_parser_parse(&w->parser, ev)) {
        struct policy_loc loc = mark_loc(w, w->parser.problem_mark);
        if (w->parser.error == YAML_READER_ERROR) {
            /* The reader (encoding, control bytes) reports only a byte offset. */
            loc.line = 1;
            loc.col = 1;
            for (size_t i = 0; i < w->parser.problem_offset && i < w->len; i++) {
                if (w->buf[i] == '\n') {
                    loc.line++;
                    loc.col = 1;
                } else {
                    loc.col++;
                }
            }
        }
        set_err(w->err, &loc, NULL, "YAML syntax error: %s%s%s",
                w->parser.problem ? w->parser.problem : "unknown problem",
                w->parser.context ? " " : "", w->parser.context ? w->parser.context : "");
        return -EINVAL;
    }
    const yaml_char_t *anchor = NULL;
    if (ev->type == YAML_SCALAR_EVENT)
        anchor = ev->data.scalar.anchor;
    else if (ev->type == YAML_MAPPING_START_EVENT)
        anchor = ev->data.mapping_start.anchor;
    else if (ev->type == YAML_SEQUENCE_START_EVENT)
        anchor = ev->data.sequence_start.anchor;
    if (ev->type == YAML_ALIAS_EVENT || anchor != NULL) {
        struct policy_loc loc = mark_loc(w, ev->start_mark);
        set_err(w->err, &loc, path,
                "YAML anchors and aliases are not supported; write the "
                "value out");
        yaml_event_delete(ev);
        return -EINVAL;
    }
    return 0;
}

/* Read the value of key `k` into its field `f` (in `parent`), whatever its type. */
static int walk_value(struct walk *w, const struct policy_key *k, void *f, const char *path,
                      void *parent);

static int walk_mapping(struct walk *w, const struct policy_table *t, void *base, const char *path,
                        struct policy_loc start)
{
    int rc = 0;
    uint64_t seen = 0;
    yaml_event_t ev;
    if (++w->depth > CONFIG_MAX_DEPTH) {
        set_err(w->err, &start, path, "nested deeper than %d levels", CONFIG_MAX_DEPTH);
        rc = -EINVAL;
        goto out;
    }
    for (;;) {
        char kpath[KEY_PATH_MAX];
        rc = walk_next(w, &ev, path);
        if (rc != 0)
            goto out;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        struct policy_loc loc = mark_loc(w, ev.start_mark);
        if (ev.type != YAML_SCALAR_EVENT) {
            set_err(w->err, &loc, path, "a key must be a plain name, not %s", event_kind(&ev));
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        const char *name = (const char *)ev.data.scalar.value;
        size_t nlen = ev.data.scalar.length;
        path_join(kpath, sizeof(kpath), path, name, nlen);
        const struct policy_key *k = table_find(t, name, nlen);
        if (k == NULL) {
            char nbuf[80];
            snprintf(nbuf, sizeof(nbuf), "%.*s", (int)nlen, name);
            unknown_key_err(w->err, &loc, kpath, t, nbuf);
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        yaml_event_delete(&ev);
        size_t idx = (size_t)(k - t->keys);
        if (seen & (1ull << idx)) {
            set_err(w->err, &loc, kpath, "key given twice in the same mapping");
            rc = -EINVAL;
            goto out;
        }
        seen |= 1ull << idx;
        rc = walk_value(w, k, field_at(base, k->offset), kpath, base);
        if (rc != 0)
            goto out;
    }
out:
    w->depth--;
    return rc;
}

/* The entries of a MAP key: name -> mapping. */
static int walk_map(struct walk *w, const struct policy_key *k, void *parent, const char *path)
{
    int rc = 0;
    yaml_event_t ev;
    size_t *seen = NULL; /* indices of the entries this mapping already named */
    size_t n_seen = 0;
    for (;;) {
        char kpath[KEY_PATH_MAX];
        bool full;
        rc = walk_next(w, &ev, path);
        if (rc != 0)
            goto out;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            goto out;
        }
        struct policy_loc loc = mark_loc(w, ev.start_mark);
        if (ev.type != YAML_SCALAR_EVENT) {
            set_err(w->err, &loc, path, "a name must be plain text, not %s", event_kind(&ev));
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        const char *name = (const char *)ev.data.scalar.value;
        size_t nlen = ev.data.scalar.length;
        path_join(kpath, sizeof(kpath), path, name, nlen);
        if (!valid_entry_name(name, nlen)) {
            set_err(w->err, &loc, kpath, "a name is 1 to 64 letters, digits, '_', '-' or '.'");
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        void *elem = map_entry(k, parent, name, nlen, &full);
        yaml_event_delete(&ev);
        if (elem == NULL) {
            set_err(w->err, &loc, kpath, full ? "too many entries (at most %d)" : "out of memory",
                    CONFIG_MAX_ENTRIES);
            rc = full ? -EINVAL : -ENOMEM;
            goto out;
        }
        size_t idx =
            (size_t)((char *)elem - *(char **)field_at(parent, k->offset)) / k->sub->elem_size;
        for (size_t i = 0; i < n_seen; i++) {
            if (seen[i] == idx) {
                set_err(w->err, &loc, kpath, "name given twice in the same mapping");
                rc = -EINVAL;
                goto out;
            }
        }
        size_t *grown = realloc(seen, (n_seen + 1) * sizeof(*seen));
        if (grown == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        seen = grown;
        seen[n_seen++] = idx;
        *(struct policy_loc *)field_at(elem, k->sub->loc_offset) = loc;
        rc = walk_next(w, &ev, kpath);
        if (rc != 0)
            goto out;
        struct policy_loc vloc = mark_loc(w, ev.start_mark);
        if (ev.type == YAML_SCALAR_EVENT &&
            is_null_text((const char *)ev.data.scalar.value, ev.data.scalar.length)) {
            yaml_event_delete(&ev);
            continue;
        }
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(w->err, &vloc, kpath, "expected a mapping of settings, got %s",
                    event_kind(&ev));
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        yaml_event_delete(&ev);
        rc = walk_mapping(w, k->sub, elem, kpath, vloc);
        if (rc != 0)
            goto out;
    }
out:
    free(seen);
    return rc;
}

/* The items of a LIST key; this layer's items go before the existing ones. */
static int walk_list(struct walk *w, const struct policy_key *k, void *parent, const char *path)
{
    int rc = 0;
    yaml_event_t ev;
    size_t esz = k->sub->elem_size;
    char *items = NULL;
    size_t n = 0;
    char **arr = field_at(parent, k->offset);
    size_t *count = field_at(parent, k->count_offset);
    for (;;) {
        char kpath[KEY_PATH_MAX];
        rc = walk_next(w, &ev, path);
        if (rc != 0)
            goto out;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        struct policy_loc loc = mark_loc(w, ev.start_mark);
        snprintf(kpath, sizeof(kpath), "%s[%zu]", path, n);
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(w->err, &loc, kpath, "expected a mapping, got %s", event_kind(&ev));
            yaml_event_delete(&ev);
            rc = -EINVAL;
            goto out;
        }
        yaml_event_delete(&ev);
        if (n + *count >= CONFIG_MAX_ENTRIES) {
            set_err(w->err, &loc, kpath, "too many entries (at most %d)", CONFIG_MAX_ENTRIES);
            rc = -EINVAL;
            goto out;
        }
        char *grown = realloc(items, (n + 1) * esz);
        if (grown == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        items = grown;
        char *elem = items + n * esz;
        memset(elem, 0, esz);
        n++;
        rc = apply_defaults(k->sub, elem);
        if (rc != 0)
            goto out;
        *(struct policy_loc *)field_at(elem, k->sub->loc_offset) = loc;
        rc = walk_mapping(w, k->sub, elem, kpath, loc);
        if (rc != 0)
            goto out;
    }
    if (n > 0) {
        char *merged = realloc(items, (n + *count) * esz);
        if (merged == NULL) {
            rc = -ENOMEM;
            goto out;
        }
        items = merged;
        if (*count > 0)
            memcpy(items + n * esz, *arr, *count * esz);
        free(*arr);
        *arr = items;
        *count += n;
        items = NULL;
        n = 0;
    }
out:
    for (size_t i = 0; i < n; i++)
        free_fields(k->sub, items + i * esz);
    free(items);
    return rc;
}

static int walk_value(struct walk *w, const struct policy_key *k, void *f, const char *path,
                      void *parent)
{
    yaml_event_t ev;
    char why[300];
    int rc = walk_next(w, &ev, path);
    if (rc != 0)
        return rc;
    struct policy_loc loc = mark_loc(w, ev.start_mark);
    switch (k->type) {
    case POLICY_T_SECTION:
    case POLICY_T_MAP:
        if (ev.type == YAML_SCALAR_EVENT &&
            is_null_text((const char *)ev.data.scalar.value, ev.data.scalar.length))
            break; /* "key:" with nothing under it changes nothing */
        if (ev.type != YAML_MAPPING_START_EVENT) {
            set_err(w->err, &loc, path, "expected a mapping, got %s", event_kind(&ev));
            rc = -EINVAL;
            break;
        }
        rc = k->type == POLICY_T_SECTION ? walk_mapping(w, k->sub, f, path, loc)
                                         : walk_map(w, k, parent, path);
        break;
    case POLICY_T_LIST:
        if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            is_null_text((const char *)ev.data.scalar.value, ev.data.scalar.length))
            break; /* "routes:" with nothing under it changes nothing */
        if (ev.type != YAML_SEQUENCE_START_EVENT) {
            set_err(w->err, &loc, path, "expected a list, got %s", event_kind(&ev));
            rc = -EINVAL;
            break;
        }
        rc = walk_list(w, k, parent, path);
        break;
    default:
        if (ev.type != YAML_SCALAR_EVENT) {
            char want[160];
            type_phrase(k, want, sizeof(want));
            set_err(w->err, &loc, path, "expected %s, got %s", want, event_kind(&ev));
            rc = -EINVAL;
            break;
        }
        rc = key_set_scalar(k, f, (const char *)ev.data.scalar.value, ev.data.scalar.length,
                            ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE, why, sizeof(why));
        if (rc != 0)
            set_err(w->err, &loc, path, "%s", why);
        else if (k->has_loc)
            *(struct policy_loc *)field_at(parent, k->loc_offset) = loc;
        break;
    }
    yaml_event_delete(&ev);
    return rc;
}

int policy_config_load_buffer(struct policy_config *cfg, const char *name, const char *buf,
                              size_t len, struct policy_error *err)
{
    struct walk w = {.cfg = cfg, .err = err, .buf = buf, .len = len};
    yaml_event_t ev;
    int rc = 0;
    bool have_doc = false;
    struct policy_loc top = {.source = name, .line = 1, .col = 1};
    if (len > CONFIG_MAX_BYTES) {
        set_err(err, &top, NULL, "configuration larger than %d bytes", CONFIG_MAX_BYTES);
        return -EFBIG;
    }
    w.source = intern_source(cfg, name);
    if (w.source == NULL)
        return -ENOMEM;
    top.source = w.source;
    if (!yaml_parser_initialize(&w.parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&w.parser, (const unsigned char *)buf, len);
    for (;;) {
        rc = walk_next(&w, &ev, NULL);
        if (rc != 0)
            goto out;
        yaml_event_type_t type = ev.type;
        struct policy_loc loc = mark_loc(&w, ev.start_mark);
        bool null_root = type == YAML_SCALAR_EVENT &&
                         is_null_text((const char *)ev.data.scalar.value, ev.data.scalar.length);
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
        if (type == YAML_STREAM_START_EVENT || type == YAML_DOCUMENT_END_EVENT || null_root)
            continue;
        if (type == YAML_DOCUMENT_START_EVENT) {
            if (have_doc) {
                set_err(err, &loc, NULL, "only one YAML document is allowed per file");
                rc = -EINVAL;
                goto out;
            }
            have_doc = true;
            continue;
        }
        if (type != YAML_MAPPING_START_EVENT) {
            set_err(err, &loc, NULL, "the configuration must be a mapping of keys");
            rc = -EINVAL;
            goto out;
        }
        rc = walk_mapping(&w, &policy_config_table, cfg, "", loc);
        if (rc != 0)
            goto out;
    }
out:
    yaml_parser_delete(&w.parser);
    return rc;
}

int policy_config_load_file(struct policy_config *cfg, const char *path, struct policy_error *err)
{
    struct policy_loc loc = {.source = path};
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        set_err(err, &loc, NULL, "cannot open configuration: %s", strerror(errno));
        rc = -EIO;
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
        set_err(err, &loc, NULL,
                S_ISREG(st.st_mode) ? "configuration larger than 1 MiB" : "not a regular file");
        rc = S_ISREG(st.st_mode) ? -EFBIG : -EIO;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    while (len < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            set_err(err, &loc, NULL, "cannot read configuration: %s",
                    n < 0 ? strerror(errno) : "file shrank while reading");
            rc = -EIO;
            goto out;
        }
        len += (size_t)n;
    }
    rc = policy_config_load_buffer(cfg, path, buf, len, err);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- dotted keys */

int policy_config_set(struct policy_config *cfg, const char *flag, const char *key,
                      const char *value, struct policy_error *err)
{
    const struct policy_table *t = &policy_config_table;
    void *base = cfg;
    char why[300];
    struct policy_loc loc = {.source = intern_source(cfg, flag ? flag : cmdline_source)};
    const char *p = key;
    if (loc.source == NULL)
        return -ENOMEM;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        char name[80];
        snprintf(name, sizeof(name), "%.*s", (int)len, p);
        const struct policy_key *k = table_find(t, p, len);
        if (k == NULL) {
            unknown_key_err(err, &loc, key, t, name);
            return -EINVAL;
        }
        void *f = field_at(base, k->offset);
        if (k->type == POLICY_T_SECTION) {
            if (dot == NULL)
                goto not_scalar;
            t = k->sub;
            base = f;
            p = dot + 1;
            continue;
        }
        if (k->type == POLICY_T_MAP) {
            bool full;
            const char *ename = dot ? dot + 1 : NULL;
            const char *edot = ename ? strchr(ename, '.') : NULL;
            if (edot == NULL || !valid_entry_name(ename, (size_t)(edot - ename))) {
                set_err(err, &loc, key,
                        "expected %s.NAME.KEY with NAME of letters, digits, "
                        "'_', '-' or '.'",
                        k->name);
                return -EINVAL;
            }
            void *elem = map_entry(k, base, ename, (size_t)(edot - ename), &full);
            if (elem == NULL) {
                set_err(err, &loc, key, full ? "too many entries" : "out of memory");
                return full ? -EINVAL : -ENOMEM;
            }
            *(struct policy_loc *)field_at(elem, k->sub->loc_offset) = loc;
            t = k->sub;
            base = elem;
            p = edot + 1;
            continue;
        }
        if (k->type == POLICY_T_LIST || dot != NULL)
            goto not_scalar;
        int rc = key_set_scalar(k, f, value, strlen(value), true, why, sizeof(why));
        if (rc != 0) {
            set_err(err, &loc, key, "%s", why);
            return rc;
        }
        if (k->has_loc)
            *(struct policy_loc *)field_at(base, k->loc_offset) = loc;
        return 0;
    not_scalar:
        set_err(err, &loc, key, "is a %s; set one of its keys, or use a configuration file",
                policy_type_name(k->type));
        return -EINVAL;
    }
}

/* ---------------------------------------------------------------- whole-config checks */

const struct policy_upstream *policy_config_upstream(const struct policy_config *cfg,
                                                     const char *name)
{
    for (size_t i = 0; name && i < cfg->n_upstreams; i++) {
        if (strcmp(cfg->upstreams[i].name, name) == 0)
            return &cfg->upstreams[i];
    }
    return NULL;
}

static void upstream_names(const struct policy_config *cfg, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", cfg->upstreams[i].name);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
}

/* Layers are interned in the order they were applied: a higher rank is a later layer. */
static size_t source_rank(const struct policy_config *cfg, const struct policy_loc *loc)
{
    for (size_t i = 0; i < cfg->n_sources; i++) {
        if (cfg->sources[i] == loc->source)
            return i;
    }
    return 0;
}

/* Read and compile a route's output schema (at most ROUTE_SCHEMA_MAX bytes). */
#define ROUTE_SCHEMA_MAX (1024 * 1024)
static int route_schema_load(const char *path, struct guard_schema **out, char *why, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, cap, "cannot read it: %s", strerror(errno));
        return -errno;
    }
    char *buf = malloc(ROUTE_SCHEMA_MAX + 1);
    size_t n = buf ? fread(buf, 1, ROUTE_SCHEMA_MAX + 1, f) : 0;
    bool bad = buf == NULL || ferror(f);
    fclose(f);
    int rc;
    if (bad) {
        snprintf(why, cap, "cannot read it");
        rc = -EIO;
    } else if (n > ROUTE_SCHEMA_MAX) {
        snprintf(why, cap, "larger than %d bytes", ROUTE_SCHEMA_MAX);
        rc = -E2BIG;
    } else {
        rc = guard_schema_parse(buf, n, NULL, NULL, out, why, cap);
    }
    free(buf);
    return rc;
}

int policy_config_validate(struct policy_config *cfg, struct policy_error *err)
{
    char names[200];
    char key[KEY_PATH_MAX];
    upstream_names(cfg, names, sizeof(names));
    for (size_t i = 0; i < cfg->n_upstreams; i++) {
        const struct policy_upstream *u = &cfg->upstreams[i];
        if (u->url.text == NULL) {
            snprintf(key, sizeof(key), "upstreams.%s", u->name);
            set_err(err, &u->loc, key, "url is required");
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        struct policy_route *r = &cfg->routes[i];
        snprintf(key, sizeof(key), "routes[%zu]", i);
        if (r->path == NULL || r->path[0] != '/') {
            set_err(err, &r->loc, key, "path is required and must start with '/'");
            return -EINVAL;
        }
        if (strchr(r->path, '?') || strchr(r->path, '#')) {
            set_err(err, &r->loc, key,
                    "path '%s' holds a query or fragment; routes match the path alone", r->path);
            return -EINVAL;
        }
        const char *star = strchr(r->path, '*');
        if (star && star[1] != '\0') {
            set_err(err, &r->loc, key, "'*' may only end a path (prefix match)");
            return -EINVAL;
        }
        if (r->upstream == NULL || policy_config_upstream(cfg, r->upstream) == NULL) {
            snprintf(key, sizeof(key), "routes[%zu].upstream", i);
            set_err(err, &r->loc, key, "upstream '%s' is not defined (defined: %s)",
                    r->upstream ? r->upstream : "", names);
            return -EINVAL;
        }
        if (r->output_schema && r->schema == NULL) {
            char why[300];
            snprintf(key, sizeof(key), "routes[%zu].output_schema", i);
            if (route_schema_load(r->output_schema, &r->schema, why, sizeof(why)) != 0) {
                set_err(err, &r->loc, key, "%s: %s", r->output_schema, why);
                return -EINVAL;
            }
        }
    }
    if ((cfg->tls.cert == NULL) != (cfg->tls.key == NULL)) {
        set_err(err, &cfg->tls.cert_loc, cfg->tls.cert ? "tls.key" : "tls.cert",
                "a TLS listener needs both tls.cert and tls.key");
        return -EINVAL;
    }
    if (policy_config_upstream(cfg, cfg->default_upstream) == NULL) {
        set_err(err, &cfg->default_upstream_loc, "default_upstream",
                "upstream '%s' is not defined (defined: %s)",
                cfg->default_upstream ? cfg->default_upstream : "", names);
        return -EINVAL;
    }
    if (cfg->prompt_guard.warn_threshold > cfg->prompt_guard.block_threshold) {
        /* Blame the value set by the later layer: that is the one the user just wrote. */
        const struct policy_loc *wl = &cfg->prompt_guard.warn_threshold_loc;
        const struct policy_loc *bl = &cfg->prompt_guard.block_threshold_loc;
        bool blame_block = wl->source == bl->source ? bl->line > wl->line
                                                    : source_rank(cfg, bl) > source_rank(cfg, wl);
        if (blame_block)
            set_err(err, bl, "prompt_guard.block_threshold", "%g is below warn_threshold %g",
                    cfg->prompt_guard.block_threshold, cfg->prompt_guard.warn_threshold);
        else
            set_err(err, wl, "prompt_guard.warn_threshold", "%g is above block_threshold %g",
                    cfg->prompt_guard.warn_threshold, cfg->prompt_guard.block_threshold);
        return -EINVAL;
    }
    return 0;
}

/* ---------------------------------------------------------------- lifetime */

struct policy_config *policy_config_new(void)
{
    struct policy_error err;
    struct policy_config *cfg = calloc(1, sizeof(*cfg));
    if (cfg == NULL)
        return NULL;
    atomic_init(&cfg->refs, 1);
    struct policy_loc builtin = {.source = intern_source(cfg, "built-in default")};
    cfg->default_upstream_loc = builtin;
    cfg->prompt_guard.warn_threshold_loc = builtin;
    cfg->prompt_guard.block_threshold_loc = builtin;
    cfg->tls.cert_loc = builtin;
    /* The built-in layers are part of the binary; a failure here is a build defect that
     * the unit tests catch, so only memory can make this fail at run time. */
    if (builtin.source == NULL || apply_defaults(&policy_config_table, cfg) != 0 ||
        policy_config_load_buffer(cfg, "built-in default", policy_default_yaml,
                                  policy_default_yaml_len, &err) != 0) {
        policy_config_unref(cfg);
        return NULL;
    }
    return cfg;
}

struct policy_config *policy_config_ref(struct policy_config *cfg)
{
    if (cfg)
        atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void policy_config_unref(struct policy_config *cfg)
{
    if (cfg == NULL || atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < cfg->n_routes; i++)
        guard_schema_free(cfg->routes[i].schema);
    free_fields(&policy_config_table, cfg);
    for (size_t i = 0; i < cfg->n_sources; i++)
        free(cfg->sources[i]);
    free(cfg->sources);
    free(cfg);
}

/* ---------------------------------------------------------------- docs */

static void docs_type(FILE *out, const struct policy_key *k)
{
    switch (k->type) {
    case POLICY_T_INT:
        fprintf(out, "integer (%" PRId64 "..%" PRId64 ")", k->min, k->max);
        break;
    case POLICY_T_FLOAT:
        fprintf(out, "number (%g..%g)", k->fmin, k->fmax);
        break;
    case POLICY_T_ENUM:
        fputs("one of", out);
        for (size_t i = 0; k->choices[i]; i++)
            fprintf(out, "%s `%s`", i ? "," : "", k->choices[i]);
        break;
    default:
        fputs(policy_type_name(k->type), out);
    }
}

static void docs_table(FILE *out, const struct policy_table *t, const char *prefix)
{
    for (size_t i = 0; i < t->n_keys; i++) {
        const struct policy_key *k = &t->keys[i];
        char path[KEY_PATH_MAX];
        path_join(path, sizeof(path), prefix, k->name, strlen(k->name));
        fprintf(out, "| `%s` | ", path);
        docs_type(out, k);
        fprintf(out, " | %s%s%s | %s |\n", k->def ? "`" : "", k->def ? k->def : "",
                k->def ? "`" : "", k->desc);
        if (k->type == POLICY_T_SECTION) {
            docs_table(out, k->sub, path);
        } else if (k->type == POLICY_T_MAP || k->type == POLICY_T_LIST) {
            char sub[KEY_PATH_MAX];
            int n =
                snprintf(sub, sizeof(sub), "%s%s", path, k->type == POLICY_T_MAP ? ".NAME" : "[]");
            (void)n;
            docs_table(out, k->sub, sub);
        }
    }
}

void policy_config_write_docs(FILE *out)
{
    fputs("# Configuration reference\n\n"
          "<!-- Generated by `warden policy docs` from the key table in "
          "policy/config_keys.c; a test fails when this file and the table differ. -->\n\n"
          "Warden reads its configuration in layers, each merged over the one before:\n\n"
          "1. the defaults below, compiled into the binary;\n"
          "2. the embedded default document (below), which adds the built-in upstreams and "
          "routes;\n"
          "3. `--config FILE` (YAML);\n"
          "4. command-line flags: `--listen`, `--upstream NAME=URL`, `--ca-file`, "
          "`--workers`, and `--set KEY=VALUE` for any scalar key by its dotted name "
          "(`--set limits.max_body_bytes=32MiB`, `--set upstreams.vllm.url=http://127.0.0.1:8000`)."
          "\n\n"
          "Scalars replace the value of the layer below; upstreams merge by name; routes from a "
          "later layer go before the earlier ones and the first match wins. Unknown keys, "
          "values of the wrong type and values out of range stop Warden at start with "
          "`file:line:column: key: what is wrong`; `warden policy check FILE` runs the same "
          "checks and exits 0 or 2.\n\n"
          "Types: a *duration* is a whole number with a unit `ms`, `s`, `m` or `h` "
          "(no unit: seconds); a *size* is a whole number of bytes with an optional unit "
          "`KiB`, `MiB`, `GiB` (`k`, `M`, `G` also mean 1024-based) or `KB`, `MB`, `GB` "
          "(1000-based); a *boolean* is `true`/`false` (also `yes`/`no`, `on`/`off`); a *file* "
          "must be readable when the configuration is loaded. YAML anchors and aliases are "
          "refused; a file may hold at most 1 MiB.\n\n"
          "| key | type | default | description |\n"
          "|---|---|---|---|\n",
          out);
    docs_table(out, &policy_config_table, "");
    fputs("\n## Embedded default document\n\n```yaml\n", out);
    fwrite(policy_default_yaml, 1, policy_default_yaml_len, out);
    fputs("```\n", out);
}

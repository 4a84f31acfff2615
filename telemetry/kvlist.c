/* OpenTelemetry "key=value,..." lists: entries split on ',', trimmed, values %-decoded. */
#include "telemetry/kvlist.h"

#include <errno.h>
#include <string.h>

static int hex_val(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void trim(const char **b, const char **e)
{
    while (*b < *e && (**b == ' ' || **b == '\t'))
        (*b)++;
    while (*e > *b && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
}

int tel_kv_next(const char **p, const char *end, struct tel_kv *kv, char *val, size_t cap,
                const char **why)
{
    while (*p < end) {
        const char *s = *p, *e = memchr(s, ',', (size_t)(end - s));
        if (e == NULL)
            e = end;
        *p = e < end ? e + 1 : e;
        kv->entry++;
        trim(&s, &e);
        if (s == e)
            continue; /* an empty entry */
        const char *eq = memchr(s, '=', (size_t)(e - s));
        const char *k = s, *ke = eq ? eq : e, *v = eq ? eq + 1 : e, *ve = e;
        trim(&k, &ke);
        trim(&v, &ve);
        kv->key = k;
        kv->key_len = (size_t)(ke - k);
        if (eq == NULL) {
            *why = "has no '='";
            return -EINVAL;
        }
        if (k == ke) {
            *why = "has an empty name";
            return -EINVAL;
        }
        size_t n = 0;
        for (const char *c = v; c < ve && n + 1 < cap; c++) {
            if (*c == '%') {
                int hi = ve - c >= 3 ? hex_val(c[1]) : -1, lo = hi >= 0 ? hex_val(c[2]) : -1;
                if (hi < 0 || lo < 0) {
                    *why = "has a '%' not followed by two hex digits";
                    return -EINVAL;
                }
                val[n++] = (char)(hi * 16 + lo);
                c += 2;
            } else {
                val[n++] = *c;
            }
        }
        val[n] = '\0';
        kv->value_len = n;
        return 1;
    }
    return 0;
}

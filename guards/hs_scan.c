/* Hyperscan scans that stay inside the caller's bytes: see hs_scan.h. */
#include "guards/hs_scan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096 /* the smallest page: a larger one only maps more */

/* Whether the GUARD_HS_SLACK bytes after data[0, n) are on the page of its last byte. */
static int slack_mapped(const char *data, size_t n)
{
    uintptr_t last = (uintptr_t)data + (n ? n - 1 : 0);
    return last % PAGE < PAGE - GUARD_HS_SLACK;
}

hs_error_t guard_hs_scan(const hs_database_t *db, const char *data, size_t n, hs_scratch_t *scratch,
                         match_event_handler cb, void *ctx)
{
    char local[1024];
    char *copy = local;
    hs_error_t e;

    if (n > UINT32_MAX)
        return HS_INVALID;
    if (n == 0 || slack_mapped(data, n))
        return hs_scan(db, data, (unsigned)n, 0, scratch, cb, ctx);
    if (n + GUARD_HS_SLACK > sizeof(local) && (copy = malloc(n + GUARD_HS_SLACK)) == NULL)
        return HS_NOMEM;
    memcpy(copy, data, n);
    memset(copy + n, 0, GUARD_HS_SLACK);
    e = hs_scan(db, copy, (unsigned)n, 0, scratch, cb, ctx);
    if (copy != local)
        free(copy);
    return e;
}

hs_error_t guard_hs_scan_stream(hs_stream_t *st, const char *data, size_t n, hs_scratch_t *scratch,
                                match_event_handler cb, void *ctx)
{
    char tail[2 * GUARD_HS_SLACK];
    hs_error_t e;

    if (n > UINT32_MAX)
        return HS_INVALID;
    if (n == 0 || slack_mapped(data, n))
        return hs_scan_stream(st, data, (unsigned)n, 0, scratch, cb, ctx);
    /* the head has the tail's bytes after it; the tail is scanned from a padded copy */
    size_t head = n > GUARD_HS_SLACK ? n - GUARD_HS_SLACK : 0;
    if (head > 0 &&
        (e = hs_scan_stream(st, data, (unsigned)head, 0, scratch, cb, ctx)) != HS_SUCCESS)
        return e;
    memcpy(tail, data + head, n - head);
    memset(tail + (n - head), 0, sizeof(tail) - (n - head));
    return hs_scan_stream(st, tail, (unsigned)(n - head), 0, scratch, cb, ctx);
}

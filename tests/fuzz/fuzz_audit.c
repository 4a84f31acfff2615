/* libFuzzer target for the audit log reader: record framing, JSON printing and chain
 * verification over untrusted files stay within their bytes and caps, and agree.
 *
 * Input: one control byte (bit 0: accept an unsealed log), then one or more file images
 * separated by the 4 bytes "\xc1WDN" (0xc1 is never valid msgpack). The seeds are logs
 * written under FUZZ_KEY, so unchanged parts verify and the chain checks are reached. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/audit.h"
#include "tests/fuzz/fuzz_check.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
#ifndef FUZZ_CHECK
#endif

#define FUZZ_KEY  "fuzz-key-0123456789abcdef-fuzz!!"
#define SEP       "\xc1WDN"
#define MAX_FILES 8

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sink = fopen("/dev/null", "w");
    return 0;
}

/* Walk one file's records and print them; returns whether it parsed to its end. */
static bool walk(const struct tel_audit_input *in)
{
    struct tel_audit_frame fr;
    size_t off = 0, prev = 0;
    int rc;
    while ((rc = tel_audit_frame_next(in->data, in->len, &off, &fr)) == 1) {
        FUZZ_CHECK(fr.offset == prev && off == prev + fr.len && off <= in->len);
        FUZZ_CHECK(fr.content == in->data + fr.offset + 1);
        FUZZ_CHECK(fr.content_len <= TEL_AUDIT_RECORD_MAX);
        FUZZ_CHECK(fr.hmac + TEL_AUDIT_HMAC_LEN == in->data + off);
        /* A located record always prints: its content passed the same caps. */
        FUZZ_CHECK(tel_audit_frame_print_json(sink, &fr) == 0);
        prev = off;
    }
    FUZZ_CHECK(rc == 0 || rc == -ENODATA || rc == -EBADMSG || rc == -E2BIG);
    FUZZ_CHECK(off == prev);
    return rc == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tel_audit_input in[MAX_FILES];
    struct tel_audit_result res;
    size_t n = 0;
    if (size < 1)
        return 0;
    unsigned flags = (data[0] & 1) ? TEL_AUDIT_VERIFY_F_UNSEALED : 0;
    const uint8_t *p = data + 1, *end = data + size;
    while (n < MAX_FILES) {
        const uint8_t *sep = n + 1 < MAX_FILES ? memmem(p, (size_t)(end - p), SEP, 4) : NULL;
        const uint8_t *stop = sep ? sep : end;
        in[n].name = "fuzz";
        in[n].data = p;
        in[n].len = (size_t)(stop - p);
        n++;
        if (sep == NULL)
            break;
        p = sep + 4;
    }
    bool all_parse = true;
    for (size_t i = 0; i < n; i++)
        all_parse &= walk(&in[i]);
    int rc = tel_audit_verify(in, n, FUZZ_KEY, sizeof(FUZZ_KEY) - 1, flags, &res);
    FUZZ_CHECK(rc == 0 || rc == 1);
    if (rc == 0) {
        /* A chain that holds was read to the end of every file. */
        FUZZ_CHECK(res.fault == TEL_AUDIT_FAULT_NONE && all_parse);
        FUZZ_CHECK(res.records >= n && res.last_seq >= res.first_seq);
        FUZZ_CHECK(res.sealed || res.continues_next || (flags & TEL_AUDIT_VERIFY_F_UNSEALED));
    } else {
        FUZZ_CHECK(res.fault != TEL_AUDIT_FAULT_NONE && res.file < n);
        FUZZ_CHECK(res.offset <= in[res.file].len && res.msg[0] != '\0');
    }
    return 0;
}

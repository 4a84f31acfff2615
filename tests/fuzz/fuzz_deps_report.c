/* libFuzzer target: the SARIF, CycloneDX and GitHub writers over reports made of hostile
 * strings (names, versions, SRI integrity, URLs, paths, messages). Every JSON output must
 * parse; the GitHub output must hold one line per finding plus the summary. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/report_formats.h"
#include "guards/json_value.h"

#define N_FIELDS 16

static void check_json(const struct deps_buf *b)
{
    struct guard_jv_limits jl = {.max_bytes = (size_t)64 << 20, .max_nodes = (size_t)1 << 22};
    struct guard_jv_doc *doc = NULL;

    if (b->oom)
        return;
    if (guard_jv_parse(b->s, b->len, &jl, &doc, NULL) != 0)
        abort();
    guard_jv_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* fields separated by 0x01; the first byte of the input picks severities, lines, flags */
    char *copy = malloc(size + 1);
    const char *f[N_FIELDS];
    size_t nf = 0;
    uint8_t k = size ? data[0] : 0;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    f[nf++] = size ? copy + 1 : copy;
    for (size_t i = 1; i < size && nf < N_FIELDS; i++)
        if (copy[i] == '\x01') {
            copy[i] = '\0';
            f[nf++] = copy + i + 1;
        }
    while (nf < N_FIELDS)
        f[nf++] = "";

    struct deps_report_pkg pkgs[2] = {
        {f[0], f[1], f[2], f[3], f[4], true, (k & 1) != 0, (k & 2) != 0},
        {f[0], f[1], (k & 4) ? NULL : f[5], f[6], f[4], false, true, (k & 8) != 0},
    };
    struct deps_finding fs[2] = {
        {f[7], (enum deps_severity)(k % 5), f[0], f[1], f[8], k & 16 ? 0 : k, f[9], ""},
        {f[10], (enum deps_severity)((k >> 3) % 5), f[11], f[12], f[13], 1, f[14], ""},
    };
    memcpy(fs[0].fingerprint, f[15], strnlen(f[15], sizeof(fs[0].fingerprint) - 1));
    struct deps_report r = {.corpus_version = f[2],
                            .corpus_hash = f[3],
                            .lockfile = f[13],
                            .lock_format = "npm-v3",
                            .pkgs = pkgs,
                            .n_pkgs = 2,
                            .findings = fs,
                            .n_findings = 2};
    struct deps_report_meta m = {.tool_version = f[12],
                                 .target = (k & 32) ? f[6] : NULL,
                                 .started_at = (k & 64) ? f[5] : NULL};
    struct deps_buf b = {0};

    deps_report_write_sarif(&r, &m, &b);
    check_json(&b);
    deps_buf_free(&b);
    deps_report_write_cyclonedx(&r, &m, &b);
    check_json(&b);
    deps_buf_free(&b);
    deps_report_write_github(&r, &b);
    size_t lines = 0;
    for (size_t i = 0; !b.oom && i < b.len; i++)
        lines += b.s[i] == '\n';
    if (!b.oom && lines != r.n_findings + 1)
        abort();
    deps_buf_free(&b);
    free(copy);
    return 0;
}

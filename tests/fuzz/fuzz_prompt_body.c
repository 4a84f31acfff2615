/* libFuzzer target: request bodies through the prompt guard's walker and scan. The verdict must
 * not depend on where the body is cut, and nothing may crash or leak. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/prompt_body.h"

static const struct guard_prompt_rule rules[] = {
    {.id = "f-override",
     .category = "instruction_override",
     .pattern = "ignore\\s(all\\s)?previous\\sinstructions",
     .description = "fuzz",
     .weight = 0.8},
    {.id = "f-weak",
     .category = "role_manipulation",
     .pattern = "\\bpretend\\b",
     .description = "fuzz",
     .weight = 0.3},
};

static struct guard_prompt_db *db;
static struct guard_prompt_scratch *scratch;
static struct guard_prompt_scan *scan;

static void init(void)
{
    char err[200];
    int bad;
    if (guard_prompt_db_new(rules, 2, "", &db, &bad, err, sizeof(err)) != 0)
        abort();
    scratch = guard_prompt_scratch_new(db);
    struct guard_prompt_limits lim = {.decode_budget = 4096};
    scan = guard_prompt_scan_new(db, &lim);
    if (scratch == NULL || scan == NULL)
        abort();
}

struct outcome {
    int rc;
    double score;
    size_t n;
};

static struct outcome run(enum guard_prompt_api api, const uint8_t *data, size_t size, size_t cut)
{
    static struct guard_prompt_body b;
    struct guard_prompt_verdict v;
    struct outcome o;
    guard_prompt_scan_reset(scan, scratch);
    guard_prompt_body_init(&b, api, scan, (size & 1) != 0, NULL);
    o.rc = guard_prompt_body_feed(&b, (const char *)data, cut, false);
    if (o.rc == 0)
        o.rc = guard_prompt_body_feed(&b, (const char *)data + cut, size - cut, true);
    guard_prompt_scan_verdict(scan, 0.4, 0.7, &v);
    o.score = v.score;
    o.n = v.n_matched;
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (db == NULL)
        init();
    if (size < 1)
        return 0;
    enum guard_prompt_api api = (enum guard_prompt_api)(data[0] % 5);
    data++;
    size--;
    struct outcome whole = run(api, data, size, size);
    struct outcome split = run(api, data, size, size ? (size_t)data[0] % size : 0);
    /* Errors may be found at different points, but success and its verdict may not differ. */
    if ((whole.rc == 0) != (split.rc == 0))
        abort();
    if (whole.rc == 0 && (whole.score != split.score || whole.n != split.n))
        abort();
    return 0;
}

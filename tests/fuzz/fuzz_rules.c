/* libFuzzer target: prompt rule files (YAML) through the loader and the Hyperscan compiler.
 * Any input must load or fail with a located message; nothing may crash or leak. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct policy_rules *r = NULL;
    struct policy_error err;
    err.msg[0] = '\0';
    int rc = policy_rules_load_buffer(POLICY_RULES_PROMPT, "fuzz.yaml", (const char *)data, size,
                                      &r, &err);
    if (rc == 0) {
        if (r == NULL || r->n == 0)
            abort();
    } else if (r != NULL || err.msg[0] == '\0') {
        abort();
    }
    policy_rules_free(r);
    return 0;
}

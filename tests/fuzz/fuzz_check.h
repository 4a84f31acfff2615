/* What every libFuzzer target shares: its entry point, and an invariant check that stops the
 * run with a trap (libFuzzer saves the input). */
#ifndef WARDEN_TESTS_FUZZ_CHECK_H
#define WARDEN_TESTS_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)      \
    do {                      \
        if (!(cond))          \
            __builtin_trap(); \
    } while (0)

#endif

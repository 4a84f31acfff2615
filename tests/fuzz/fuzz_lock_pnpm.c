/* libFuzzer target for pnpm-lock.yaml and the YAML subset reader: no crash, sound output. */
#define FUZZ_LOCK_FORMAT DEPS_LOCK_PNPM
#include "fuzz_lock.h"

/* libFuzzer target for yarn.lock Berry parsing (YAML): no crash, sound output. */
#define FUZZ_LOCK_FORMAT DEPS_LOCK_YARN_BERRY
#include "fuzz_lock.h"

/* libFuzzer target for yarn.lock v1 parsing (the line-fed reader): no crash, sound output. */
#define FUZZ_LOCK_FORMAT DEPS_LOCK_YARN_V1
#include "fuzz_lock.h"

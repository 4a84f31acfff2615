/* libFuzzer target for package-lock.json / npm-shrinkwrap.json parsing: no crash, sound output. */
#define FUZZ_LOCK_FORMAT DEPS_LOCK_NPM
#include "fuzz_lock.h"

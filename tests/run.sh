#!/usr/bin/env bash
# Second README command: install what is missing, check formatting, build with ASan+UBSan and
# -Werror (clang, with the fuzz targets), build again with gcc, run the whole ctest suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc 2>/dev/null || echo 2)

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
deploy/install-deps.sh --tests
if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]; then
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
    touch tests/e2e/node_modules
fi

step "clang-format"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t sources < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
else
    mapfile -t sources < <(find proxy guards policy telemetry tests -name '*.[ch]' -not -path '*/node_modules/*')
fi
drift=()
for f in "${sources[@]}"; do
    [ -f "$f" ] || continue
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || drift+=("$f")
done
if [ "${#drift[@]}" -gt 0 ]; then
    echo "clang-format drift in: ${drift[*]}" >&2
    echo "fix with: clang-format -i ${drift[*]}" >&2
    exit 1
fi
echo "${#sources[@]} files formatted"

step "gcc build (-Werror, Release)"
cmake -S . -B build-gcc -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release \
    -DWARDEN_WERROR=ON -DWARDEN_TESTS=ON >/dev/null
cmake --build build-gcc -j "$jobs"

step "clang build (ASan+UBSan, -Werror, fuzz targets)"
cmake -S . -B build-test -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DWARDEN_WERROR=ON -DWARDEN_SANITIZE=ON -DWARDEN_FUZZ=ON -DWARDEN_TESTS=ON >/dev/null
cmake --build build-test -j "$jobs"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

step "ctest: unit tests of the gcc Release build (optimiser-sensitive defects)"
ctest --test-dir build-gcc -L unit --output-on-failure -j "$jobs"

step "ctest: the whole suite on the sanitizer build"
ctest --test-dir build-test --output-on-failure -j "$jobs"

#!/usr/bin/env bash
# First README command: install what is missing, build Release into build/, run `warden serve`.
# usage: deploy/run.sh [serve flags...]     e.g. deploy/run.sh --listen 127.0.0.1:8080
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

"$root/deploy/install-deps.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DWARDEN_TESTS=OFF >/dev/null
cmake --build "$root/build" --target warden
exec "$root/build/warden" serve "$@"

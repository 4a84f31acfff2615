#!/usr/bin/env bash
# Install what Warden needs from Debian 12, only what is missing: --tests adds the test tools.
set -euo pipefail

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

# Build and run: compiler, CMake, and the libraries of DESIGN.md.
pkgs=(gcc libc6-dev cmake ninja-build pkg-config ca-certificates
      libevent-dev libhyperscan-dev libmbedtls-dev libmsgpack-dev libyaml-dev node-llhttp
      zlib1g-dev)
# Tests: cmocka, clang with libFuzzer and the sanitizer runtimes, clang-format, curl, and
# Prometheus (promtool checks /metrics; a real server scrapes it in an end-to-end test), wrk and
# nginx (tests/bench/run.sh measures warden against nginx; the suite runs it in smoke mode).
if [ "$want_tests" = 1 ]; then
    pkgs+=(libcmocka-dev clang libclang-rt-14-dev clang-format curl git openssl prometheus wrk nginx-light)
    # Node 20 is normally preinstalled; fall back to Debian's Node.js when it is absent.
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"

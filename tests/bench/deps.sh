#!/usr/bin/env bash
# Speed of `warden scan-deps` on real installed trees (issue 7: a 1,500-package node_modules
# tree in 1 s on one core). The trees are pinned by the lockfiles in tests/bench/deps/<tree>/
# and installed once from the npm registry with `npm install --ignore-scripts` into a tmpfs folder
# (a tree on disk is partly read from disk again on this kind of VM: docs/benchmarks.md).
# Each round runs every tree with every build, each timed run after an untimed warm-up, pinned
# to one core; the table gives medians and bests, and the ratio to the reference build when
# one is given (builds are compared in the same rounds: the VM's speed drifts by the hour).
# Figures never gate anything.
#
# usage: tests/bench/deps.sh [--build DIR] [--ref WARDEN] [--rounds N] [--dir DIR] [-o FILE]
#                            [TREE...]
#   --build DIR   a Release build (default build-bench): DIR/warden is measured
#   --ref WARDEN  a reference binary measured in the same rounds (say, a build of main)
#   --rounds N    timed runs per tree and build (default 5)
#   --dir DIR     where the trees are installed (default /dev/shm/warden-bench-deps, kept
#                 between runs; a tree is installed again when its lockfile changed)
#   -o FILE       the figures as JSON as well
#   TREE          typical, heavy (default both): tests/bench/deps/*/package.json says what
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$root/build-bench
ref= rounds=5 out=
dir=/dev/shm/warden-bench-deps
[ -d /dev/shm ] && [ -w /dev/shm ] || dir=${TMPDIR:-/tmp}/warden-bench-deps
usage() {
    sed -n '/^# usage:/,/^# *TREE /p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
trees=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "$2" && pwd); shift ;;
    --ref) ref=$(realpath "$2"); shift ;;
    --rounds) rounds=$2; shift ;;
    --dir) dir=$2; shift ;;
    -o) out=$2; shift ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) trees+=("$1") ;;
    esac
    shift
done
[ "${#trees[@]}" -gt 0 ] || trees=(typical heavy)
case $rounds in '' | *[!0-9]* | 0) echo "bench: --rounds wants a positive number" >&2; exit 2 ;; esac
warden=$build/warden
[ -x "$warden" ] || {
    echo "bench: $warden missing: cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench" >&2
    exit 2
}
[ -z "$ref" ] || [ -x "$ref" ] || { echo "bench: --ref $ref is not an executable" >&2; exit 2; }
command -v npm >/dev/null || { echo "bench: npm missing (Node 20 and npm install the trees)" >&2; exit 2; }
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
mkdir -p "$dir"

# install TREE: DIR/TREE/node_modules as the lockfile pins it, unless already there.
install_tree() {
    local t=$1 src=$root/tests/bench/deps/$1 dst=$dir/$1
    [ -f "$src/package-lock.json" ] || { echo "bench: no tree '$t' in tests/bench/deps" >&2; exit 2; }
    if [ -d "$dst/node_modules" ] && cmp -s "$src/package-lock.json" "$dst/.installed"; then
        return
    fi
    echo "bench: installing the $t tree into $dst (npm install --ignore-scripts, about a minute)" >&2
    rm -rf "$dst"
    mkdir -p "$dst"
    cp "$src/package.json" "$src/package-lock.json" "$dst/"
    # `npm install` with the lockfile installs the versions it pins (`npm ci` refuses a lockfile
    # without the other platforms' optional packages, which npm 11 leaves out of it)
    (cd "$dst" && npm install --ignore-scripts --no-audit --no-fund --legacy-peer-deps \
        --loglevel=error >&2)
    cp "$src/package-lock.json" "$dst/.installed"
}

# run BINARY TREE REPORT: one scan; prints its wall time in seconds.
run() {
    local t0 t1 rc=0
    t0=$EPOCHREALTIME
    "${pin[@]}" "$1" scan-deps "$dir/$2" --deterministic-output -o "$3" >/dev/null 2>"$3.err" || rc=$?
    t1=$EPOCHREALTIME
    if [ "$rc" -gt 1 ]; then # 1: findings at or above the default failing severity
        echo "bench: $1 scan-deps $dir/$2 failed ($rc): $(head -c 400 "$3.err")" >&2
        exit 1
    fi
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}

# stats FILE: "median best" of the numbers in FILE.
stats() {
    sort -n "$1" | awk '{ v[NR] = $1 } END { printf "%.3f %.3f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1] }'
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${trees[@]}"; do
    install_tree "$t"
done
builds=(new)
[ -n "$ref" ] && builds+=(ref)
bin() { if [ "$1" = new ]; then echo "$warden"; else echo "$ref"; fi; }
for ((r = 1; r <= rounds; r++)); do
    for t in "${trees[@]}"; do
        for b in "${builds[@]}"; do
            run "$(bin "$b")" "$t" "$work/$t.$b.json" >/dev/null
            run "$(bin "$b")" "$t" "$work/$t.$b.json" >>"$work/$t.$b.times" || exit 1
        done
    done
done

printf '%-8s %9s %8s %9s %17s %17s %6s  %s\n' tree packages files MB "wall median(best)" "ref median(best)" ratio report
json="{\"commit\":\"$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)\",\"date\":\"$(date -u +%FT%TZ)\",\"rounds\":$rounds,\"trees\":["
sep=
for t in "${trees[@]}"; do
    read -r med best < <(stats "$work/$t.new.times")
    pkgs=$(grep -o '"packages_scanned": *[0-9]*' "$work/$t.new.json" | grep -o '[0-9]*$' || echo 0)
    files=$(find "$dir/$t/node_modules" -type f | wc -l)
    mb=$(du -sm "$dir/$t/node_modules" | cut -f1)
    rmed=- rbest=- ratio=- same=-
    if [ -n "$ref" ]; then
        read -r rmed rbest < <(stats "$work/$t.ref.times")
        ratio=$(awk -v a="$med" -v b="$rmed" 'BEGIN { printf "%.2f", a / b }')
        cmp -s "$work/$t.new.json" "$work/$t.ref.json" && same=same || same=differs
    fi
    printf '%-8s %9s %8s %9s %17s %17s %6s  %s\n' "$t" "$pkgs" "$files" "$mb" "$med ($best)" \
        "$rmed ($rbest)" "$ratio" "$same"
    json+="$sep{\"tree\":\"$t\",\"packages\":$pkgs,\"files\":$files,\"mb\":$mb,\"median_s\":$med,\"best_s\":$best"
    [ -n "$ref" ] && json+=",\"ref_median_s\":$rmed,\"ref_best_s\":$rbest,\"report_same\":$([ "$same" = same ] && echo true || echo false)"
    json+="}"
    sep=,
done
json+="]}"
[ -z "$out" ] || printf '%s\n' "$json" >"$out"

#!/usr/bin/env bash
# The scanner on a real benign tree: the node_modules of a typical Express + React + Vite
# application (tests/e2e/benign_app, exact versions in its package-lock.json), installed by
# this test with `npm install --ignore-scripts` (not `npm ci`: npm 11 leaves other
# platforms' optional packages out of the lockfile, which `npm ci` then refuses). Every HIGH
# or CRITICAL finding must be one that benign_app/expected-high.txt lists (true findings,
# explained in docs/supply-chain.md), and each listed one must still be found. Skipped (77) without npm or when the registry cannot
# be reached.
# usage: deps_benign.sh WARDEN
set -u
WARDEN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
command -v npm >/dev/null 2>&1 || { echo "skip: npm is not installed"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$HERE/benign_app/package.json" "$HERE/benign_app/package-lock.json" "$TMP/"
if ! (cd "$TMP" && timeout 300 npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    >"$TMP/npm.log" 2>&1); then
    echo "skip: npm install failed (is the npm registry reachable?):"
    tail -n 5 "$TMP/npm.log"
    exit 77
fi
start=$(date +%s%N)
"$WARDEN" scan-deps "$TMP" --deterministic-output -o "$TMP/report.json"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -gt 1 ]; then
    echo "FAIL - warden scan-deps exited $rc"
    exit 1
fi
python3 - "$TMP/report.json" "$HERE/benign_app/expected-high.txt" "$ms" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
expected = {tuple(l.split()[:2]) for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")}
high = [f for f in report["findings"] if f["severity"] in ("HIGH", "CRITICAL")]
found = {(f["rule_id"], f["package"]) for f in high}
print(f"# {report['packages_scanned']} packages in {sys.argv[3]} ms; findings by severity: "
      + ", ".join(f"{k} {v}" for k, v in report["summary"].items() if k != "total"))
bad = 0
for f in high:
    ok = (f["rule_id"], f["package"]) in expected
    print(("ok   - expected " if ok else "FAIL - unexpected ") + f"{f['severity']} {f['rule_id']} "
          f"{f['package']}@{f['version']} {f['file']}:{f['line']} {f['message'][:160]}")
    bad += not ok
for rule, pkg in sorted(expected - found):
    print(f"FAIL - no longer found: {rule} {pkg} (update expected-high.txt and the docs)")
    bad += 1
sys.exit(1 if bad else 0)
PY

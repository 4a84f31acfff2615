#!/usr/bin/env python3
"""Typosquat detector on the dev set: recall on label 1, false-positive rate on label 0, per technique."""
import argparse
import collections
import json
import os
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--binary", required=True, help="test_deps_typo (run in --check mode)")
    ap.add_argument("--corpus", required=True, help="rules/supply-chain/top-packages.tsv")
    ap.add_argument("--eval-dir", required=True, help="folder holding typosquat-dev.jsonl")
    ap.add_argument("--floors", default=os.path.join(os.path.dirname(__file__), "typo_floors.json"))
    ap.add_argument("-v", "--verbose", action="store_true", help="list every miss and false positive")
    args = ap.parse_args()

    data = os.path.join(args.eval_dir, "typosquat-dev.jsonl")
    if not os.path.exists(data) or not os.path.exists(args.corpus):
        print(f"skip: {data} or {args.corpus} missing")
        return 77
    rows = [json.loads(line) for line in open(data, encoding="utf-8") if line.strip()]
    names = "".join(r["name"] + "\n" for r in rows)
    out = subprocess.run([args.binary, "--check", args.corpus], input=names.encode(),
                         capture_output=True, check=True).stdout.decode()
    res = {}
    for line in out.splitlines():
        f = line.split("\t")
        res[f[0]] = f
    pos = [r for r in rows if r["label"] == 1]
    neg = [r for r in rows if r["label"] == 0]
    tp = [r for r in pos if res[r["name"]][1] == "1"]
    fp = [r for r in neg if res[r["name"]][1] == "1"]
    with_target = [r for r in pos if r.get("target")]
    tp_target = [r for r in with_target if res[r["name"]][1] == "1"]
    right_target = [r for r in tp_target if res[r["name"]][2] == r["target"]]
    recall = len(tp) / len(pos) if pos else 0.0
    recall_t = len(tp_target) / len(with_target) if with_target else 0.0
    fpr = len(fp) / len(neg) if neg else 0.0
    print(f"positives {len(pos)}, negatives {len(neg)}")
    print(f"recall            {recall:.3f} ({len(tp)}/{len(pos)})")
    print(f"recall (target)   {recall_t:.3f} ({len(tp_target)}/{len(with_target)}), "
          f"right target {len(right_target)}")
    print(f"false positives   {fpr:.3f} ({len(fp)}/{len(neg)})")
    tech = collections.defaultdict(lambda: [0, 0])
    for r in tp:
        tech[res[r["name"]][3]][0] += 1
    for r in fp:
        tech[res[r["name"]][3]][1] += 1
    print("technique         true-pos false-pos")
    for k in sorted(tech):
        print(f"  {k:16s} {tech[k][0]:8d} {tech[k][1]:9d}")
    sev = collections.Counter(res[r["name"]][4] for r in fp)
    print(f"false positives by severity: {dict(sev)}")
    if args.verbose:
        for r in pos:
            f = res[r["name"]]
            print(f"  {'hit ' if f[1] == '1' else 'MISS'} {r['name']} -> {f[2] or '-'} "
                  f"{f[3]} (expected {r.get('target')})")
        for r in fp:
            f = res[r["name"]]
            print(f"  FP   {r['name']} -> {f[2]} {f[3]} {f[4]} rank {f[5]}")

    floors = json.load(open(args.floors, encoding="utf-8"))
    failed = []
    if recall < floors["recall_min"]:
        failed.append(f"recall {recall:.3f} < {floors['recall_min']}")
    if recall_t < floors["recall_with_target_min"]:
        failed.append(f"recall (target) {recall_t:.3f} < {floors['recall_with_target_min']}")
    if fpr > floors["fpr_max"]:
        failed.append(f"false-positive rate {fpr:.3f} > {floors['fpr_max']}")
    high_fp = sev.get("HIGH", 0) / len(neg) if neg else 0.0
    if high_fp > floors["high_fpr_max"]:
        failed.append(f"HIGH false-positive rate {high_fp:.3f} > {floors['high_fpr_max']}")
    for msg in failed:
        print("FAIL: " + msg)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Evaluate the prompt guard on the public dev set (prompts-dev.jsonl).

Runs `warden scan-prompt --batch` on every row of $WARDEN_EVAL_DIR/prompts-dev.jsonl,
joins the verdicts by id and prints, per family:

  * attack families: recall at warn (verdict warn or block, i.e. score >= 0.4) and at block;
  * benign families: false-positive rate at warn and at block;

then the totals and the ids of the worst misses and false positives. Prompt text is not
printed unless --show is given. The figures are compared with the floors in
prompt_floors.json (next to this script); the exit status is 1 if any figure is worse
than its floor, 77 if the evaluation data is missing (ctest treats that as a skip), 2 on
a usage or engine error, 0 otherwise.

Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

SKIP = 77
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_FLOORS = HERE / "prompt_floors.json"

ATTACK_FAMILIES = ["jailbreak", "direct_injection", "indirect", "extraction", "encoded"]
BENIGN_FAMILIES = ["benign_chat", "benign_roleplay", "benign_security", "benign_hard"]
FLAGGED = {"warn", "block"}


def die(msg: str, code: int = 2) -> None:
    print(f"prompt_eval: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Recall / false-positive table of the prompt guard on prompts-dev.jsonl.")
    ap.add_argument("binary_pos", nargs="?", metavar="WARDEN",
                    help="path of the warden binary (same as --binary)")
    ap.add_argument("--binary", help="path of the warden binary (default: $WARDEN_BINARY)")
    ap.add_argument("--eval-dir",
                    help="directory holding prompts-dev.jsonl "
                         "(default: $WARDEN_EVAL_DIR, else ../shared/eval beside the repository)")
    ap.add_argument("--rules", help="prompt rule directory to pass to warden (default: built-in set)")
    ap.add_argument("--floors", default=str(DEFAULT_FLOORS),
                    help="floors file (default: prompt_floors.json beside this script)")
    ap.add_argument("--no-floors", action="store_true", help="print the table, do not check floors")
    ap.add_argument("--write-floors", action="store_true",
                    help="write the floors file from this run (recall - 0.02 rounded down, "
                         "FPR + 0.005 rounded up), then exit 0")
    ap.add_argument("--worst", type=int, default=10, help="how many worst ids to list (default 10)")
    ap.add_argument("--show", action="store_true",
                    help="also print the (truncated) text of the listed rows")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON to FILE")
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for the scan")
    return ap.parse_args(argv)


def resolve_binary(args: argparse.Namespace) -> str:
    b = args.binary or args.binary_pos or os.environ.get("WARDEN_BINARY")
    if not b:
        die("no warden binary: pass --binary PATH or set WARDEN_BINARY")
    if not os.path.isfile(b) or not os.access(b, os.X_OK):
        die(f"warden binary not found or not executable: {b}")
    return b


def resolve_data(args: argparse.Namespace) -> Path:
    d = args.eval_dir or os.environ.get("WARDEN_EVAL_DIR") or str(REPO.parent / "shared" / "eval")
    path = Path(d) / "prompts-dev.jsonl"
    if not path.is_file():
        print(f"prompt_eval: SKIP: evaluation data not found: {path} "
              "(set WARDEN_EVAL_DIR or pass --eval-dir)")
        sys.exit(SKIP)
    return path


def load_rows(path: Path) -> list[dict]:
    rows = []
    seen = set()
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                die(f"{path}:{n}: bad JSON: {e}")
            for key in ("id", "text", "label", "family"):
                if key not in r:
                    die(f"{path}:{n}: missing field {key!r}")
            if r["id"] in seen:
                die(f"{path}:{n}: duplicate id {r['id']!r}")
            seen.add(r["id"])
            rows.append(r)
    if not rows:
        die(f"{path}: no rows")
    return rows


def scan(binary: str, rules: str | None, rows: list[dict], timeout: float) -> dict[str, dict]:
    cmd = [binary, "scan-prompt", "--batch"]
    if rules:
        cmd += ["--rules", rules]
    payload = "".join(json.dumps({"id": r["id"], "text": r["text"]}, ensure_ascii=False) + "\n"
                      for r in rows)
    try:
        proc = subprocess.run(cmd, input=payload.encode("utf-8"), capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        die(f"{' '.join(cmd)} did not finish within {timeout:.0f}s")
    # scan-prompt exits 0 (nothing blocked) or 1 (something blocked); anything else is an error.
    if proc.returncode not in (0, 1):
        err = proc.stderr.decode("utf-8", "replace").strip()
        die(f"{' '.join(cmd)} exited {proc.returncode}: {err}")
    out: dict[str, dict] = {}
    for n, line in enumerate(proc.stdout.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            v = json.loads(line)
        except json.JSONDecodeError as e:
            die(f"engine output line {n} is not JSON: {e}")
        if "error" in v:
            die(f"engine rejected input row {v.get('id')!r}: {v['error']}")
        if "id" not in v or "verdict" not in v:
            die(f"engine output line {n} lacks id or verdict")
        out[v["id"]] = v
    missing = [r["id"] for r in rows if r["id"] not in out]
    if missing:
        die(f"engine returned no verdict for {len(missing)} rows (first: {missing[0]})")
    return out


def rate(num: int, den: int) -> float:
    return num / den if den else 0.0


def compute(rows: list[dict], verdicts: dict[str, dict]) -> dict:
    fams: dict[str, dict] = {}
    for r in rows:
        v = verdicts[r["id"]]
        f = fams.setdefault(r["family"], {"n": 0, "flag": 0, "block": 0, "label": r["label"]})
        f["n"] += 1
        f["flag"] += v["verdict"] in FLAGGED
        f["block"] += v["verdict"] == "block"
    res = {"attack": {}, "benign": {}, "total": {}}
    for name, f in fams.items():
        kind = "attack" if f["label"] == 1 else "benign"
        key_flag, key_block = ("recall_flag", "recall_block") if kind == "attack" else (
            "fpr_flag", "fpr_block")
        res[kind][name] = {"n": f["n"], "flagged": f["flag"], "blocked": f["block"],
                           key_flag: rate(f["flag"], f["n"]), key_block: rate(f["block"], f["n"])}
    for kind, kf, kb in (("attack", "recall_flag", "recall_block"),
                         ("benign", "fpr_flag", "fpr_block")):
        n = sum(x["n"] for x in res[kind].values())
        fl = sum(x["flagged"] for x in res[kind].values())
        bl = sum(x["blocked"] for x in res[kind].values())
        res["total"][kind] = {"n": n, "flagged": fl, "blocked": bl,
                              kf: rate(fl, n), kb: rate(bl, n)}
    return res


def ordered(names, preferred):
    return [f for f in preferred if f in names] + sorted(n for n in names if n not in preferred)


def print_table(res: dict) -> None:
    print(f"{'family':<20} {'n':>6}  {'recall@warn':>11} {'recall@block':>12}")
    for name in ordered(res["attack"], ATTACK_FAMILIES):
        x = res["attack"][name]
        print(f"{name:<20} {x['n']:>6}  {x['recall_flag']:>11.3f} {x['recall_block']:>12.3f}")
    t = res["total"]["attack"]
    print(f"{'all attacks':<20} {t['n']:>6}  {t['recall_flag']:>11.3f} {t['recall_block']:>12.3f}")
    print()
    print(f"{'family':<20} {'n':>6}  {'FPR@warn':>11} {'FPR@block':>12}")
    for name in ordered(res["benign"], BENIGN_FAMILIES):
        x = res["benign"][name]
        print(f"{name:<20} {x['n']:>6}  {x['fpr_flag']:>11.4f} {x['fpr_block']:>12.4f}")
    t = res["total"]["benign"]
    print(f"{'all benign':<20} {t['n']:>6}  {t['fpr_flag']:>11.4f} {t['fpr_block']:>12.4f}")


def print_worst(rows: list[dict], verdicts: dict[str, dict], k: int, show: bool) -> None:
    def line(r):
        v = verdicts[r["id"]]
        rules = ",".join(v.get("rules", [])) or "-"
        s = f"  {r['id']:<28} {r['family']:<17} score={float(v.get('score', 0)):.3f} rules={rules}"
        if show:
            text = " ".join(r["text"].split())
            s += "\n      " + (text[:300] + ("..." if len(text) > 300 else ""))
        return s

    misses = [r for r in rows if r["label"] == 1 and verdicts[r["id"]]["verdict"] not in FLAGGED]
    misses.sort(key=lambda r: (float(verdicts[r["id"]].get("score", 0)), r["id"]))
    fps = [r for r in rows if r["label"] == 0 and verdicts[r["id"]]["verdict"] in FLAGGED]
    fps.sort(key=lambda r: (-float(verdicts[r["id"]].get("score", 0)), r["id"]))
    print(f"\nworst misses ({len(misses)} attacks not flagged; lowest score first):")
    for r in misses[:k]:
        print(line(r))
    print(f"\nworst false positives ({len(fps)} benign rows flagged; highest score first):")
    for r in fps[:k]:
        print(line(r))


def check_floors(res: dict, floors: dict) -> list[str]:
    bad = []
    for name, floor in floors.get("recall_flag", {}).items():
        got = res["attack"].get(name, {}).get("recall_flag")
        if got is None:
            bad.append(f"recall_flag[{name}]: family missing from the data")
        elif got < floor:
            bad.append(f"recall_flag[{name}] = {got:.3f} < floor {floor}")
    for name, floor in floors.get("recall_block", {}).items():
        got = res["attack"].get(name, {}).get("recall_block")
        if got is None:
            bad.append(f"recall_block[{name}]: family missing from the data")
        elif got < floor:
            bad.append(f"recall_block[{name}] = {got:.3f} < floor {floor}")
    for name, ceil in floors.get("fpr_flag_max", {}).items():
        got = res["benign"].get(name, {}).get("fpr_flag")
        if got is None:
            bad.append(f"fpr_flag_max[{name}]: family missing from the data")
        elif got > ceil:
            bad.append(f"fpr_flag[{name}] = {got:.4f} > max {ceil}")
    for name, ceil in floors.get("fpr_block_max", {}).items():
        got = res["benign"].get(name, {}).get("fpr_block")
        if got is None:
            bad.append(f"fpr_block_max[{name}]: family missing from the data")
        elif got > ceil:
            bad.append(f"fpr_block[{name}] = {got:.4f} > max {ceil}")
    return bad


def floors_from(res: dict) -> dict:
    down = lambda x: max(0.0, math.floor((x - 0.02) * 100 + 1e-9) / 100)
    up = lambda x: min(1.0, math.ceil((x + 0.005) * 1000 - 1e-9) / 1000)
    return {
        "recall_flag": {n: down(x["recall_flag"]) for n, x in res["attack"].items()},
        "recall_block": {n: down(x["recall_block"]) for n, x in res["attack"].items()},
        "fpr_flag_max": {n: up(x["fpr_flag"]) for n, x in res["benign"].items()},
        "fpr_block_max": {n: up(x["fpr_block"]) for n, x in res["benign"].items()},
    }


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    data = resolve_data(args)
    binary = resolve_binary(args)
    rows = load_rows(data)
    t0 = time.monotonic()
    verdicts = scan(binary, args.rules, rows, args.timeout)
    took = time.monotonic() - t0
    res = compute(rows, verdicts)
    print(f"prompt guard on {data} ({len(rows)} rows, {took:.1f}s)")
    print("flagged = verdict warn or block (score >= 0.4); blocked = verdict block (score >= 0.7)\n")
    print_table(res)
    print_worst(rows, verdicts, args.worst, args.show)
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    if args.write_floors:
        Path(args.floors).write_text(json.dumps(floors_from(res), indent=2, sort_keys=True) + "\n",
                                     encoding="utf-8")
        print(f"\nwrote {args.floors}")
        return 0
    if args.no_floors:
        return 0
    try:
        floors = json.loads(Path(args.floors).read_text(encoding="utf-8"))
    except FileNotFoundError:
        die(f"floors file not found: {args.floors} (use --no-floors or --write-floors)")
    except json.JSONDecodeError as e:
        die(f"{args.floors}: bad JSON: {e}")
    bad = check_floors(res, floors)
    if bad:
        print("\nFAIL: figures below their floors:")
        for b in bad:
            print("  " + b)
        return 1
    print(f"\nok: every figure meets {Path(args.floors).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

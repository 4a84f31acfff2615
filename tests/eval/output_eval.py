#!/usr/bin/env python3
"""Evaluate the output guard on the public dev sets (pii-dev.jsonl, secrets-dev.jsonl).

Runs `warden scan-output --batch` on every row of both files and compares the findings
with the labelled spans (Unicode code-point offsets), per type:

  * a finding is a true positive when it overlaps a labelled span of the same type;
  * a labelled span is found when a finding of its type overlaps it.

Precision = true-positive findings / findings; recall = found spans / spans. On
pii-dev every personal-data and credential type counts (the set has no unlabelled
e-mail, IPv4, SSN or IBAN strings). On secrets-dev only credential types count: its texts
hold unlabelled IP addresses and e-mails in logs and commits, which are real personal data.
GENERIC_SECRET (a high-entropy value assigned to a secret-like name) is no labelled type:
its findings are listed apart, and count as false positives only where no labelled span
lies under them.

The figures are compared with output_floors.json (beside this script); the exit status is
1 if any figure is below its floor, 77 if the data is missing (ctest skip), 2 on a usage or
engine error, 0 otherwise. Texts are printed only with --show.

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
DEFAULT_FLOORS = HERE / "output_floors.json"

PII_TYPES = ["EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS"]
SECRET_TYPES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY",
                "ANTHROPIC_API_KEY", "SLACK_TOKEN", "STRIPE_KEY", "GOOGLE_API_KEY",
                "PRIVATE_KEY", "JWT"]
GENERIC = "GENERIC_SECRET"


def die(msg: str, code: int = 2) -> None:
    print(f"output_eval: {msg}", file=sys.stderr)
    sys.exit(code)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Precision / recall of the output guard per type.")
    ap.add_argument("--binary", help="path of the warden binary (default: $WARDEN_BINARY)")
    ap.add_argument("--eval-dir", help="directory holding pii-dev.jsonl and secrets-dev.jsonl "
                    "(default: $WARDEN_EVAL_DIR, else ../shared/eval beside the repository)")
    ap.add_argument("--rules", help="output detector directory to pass to warden")
    ap.add_argument("--floors", default=str(DEFAULT_FLOORS), help="floors file")
    ap.add_argument("--no-floors", action="store_true", help="do not check floors")
    ap.add_argument("--write-floors", action="store_true",
                    help="write the floors file from this run (each figure - 0.02, rounded "
                         "down), then exit 0")
    ap.add_argument("--show", action="store_true",
                    help="print the text around each miss and false positive")
    ap.add_argument("--type", help="with --show: only this type")
    return ap.parse_args(argv)


def locate(args: argparse.Namespace) -> tuple[Path, Path]:
    binary = args.binary or os.environ.get("WARDEN_BINARY")
    if not binary:
        die("give --binary or set WARDEN_BINARY")
    b = Path(binary)
    if not os.access(b, os.X_OK):
        die(f"{b}: not an executable")
    d = args.eval_dir or os.environ.get("WARDEN_EVAL_DIR") or str(REPO.parent / "shared" / "eval")
    ed = Path(d)
    if not (ed / "pii-dev.jsonl").is_file() or not (ed / "secrets-dev.jsonl").is_file():
        print(f"output_eval: {ed}: evaluation data missing, skipped", file=sys.stderr)
        sys.exit(SKIP)
    return b, ed


def load(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def scan(binary: Path, rows: list[dict], rules: str | None) -> dict[str, list[dict]]:
    cmd = [str(binary), "scan-output", "--batch"]
    if rules:
        cmd += ["--rules", rules]
    data = "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows)
    p = subprocess.run(cmd, input=data.encode(), capture_output=True, timeout=600)
    if p.returncode not in (0, 1):
        die(f"warden exited {p.returncode}: {p.stderr.decode(errors='replace')[:500]}")
    out = {}
    for line in p.stdout.decode().splitlines():
        o = json.loads(line)
        if "error" in o:
            die(f"warden: {o['error']}")
        out[o["id"]] = o["findings"]
    if len(out) != len(rows):
        die(f"{len(rows)} rows in, {len(out)} results out")
    return out


def overlaps(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


class Tally:
    def __init__(self) -> None:
        self.tp = 0  # findings that overlap a labelled span of their type
        self.fp = 0
        self.found = 0  # labelled spans found
        self.spans = 0
        self.misses: list[tuple[str, dict]] = []
        self.false: list[tuple[str, dict]] = []

    def precision(self) -> float:
        n = self.tp + self.fp
        return self.tp / n if n else 1.0

    def recall(self) -> float:
        return self.found / self.spans if self.spans else 1.0


def evaluate(rows: list[dict], found: dict[str, list[dict]], counted: list[str],
             tallies: dict[str, Tally]) -> None:
    for r in rows:
        gold = [s for s in r["spans"] if s["type"] in counted]
        pred = found[r["id"]]
        for s in gold:
            t = tallies.setdefault(s["type"], Tally())
            t.spans += 1
            if any(p["type"] == s["type"] and overlaps(p, s) for p in pred):
                t.found += 1
            else:
                t.misses.append((r["id"], s))
        for p in pred:
            typ = p["type"]
            if typ == GENERIC:
                t = tallies.setdefault(GENERIC, Tally())
                if any(overlaps(p, s) for s in r["spans"]):
                    t.tp += 1
                else:
                    t.fp += 1
                    t.false.append((r["id"], p))
                continue
            if typ not in counted:
                continue
            t = tallies.setdefault(typ, Tally())
            if any(s["type"] == typ and overlaps(p, s) for s in gold):
                t.tp += 1
            else:
                t.fp += 1
                t.false.append((r["id"], p))


def snippet(text: str, span: dict) -> str:
    a, b = span["start"], span["end"]
    return (text[max(0, a - 40):a] + "[[" + text[a:b] + "]]" + text[b:b + 40]).replace("\n", "\\n")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    binary, ed = locate(args)
    pii = load(ed / "pii-dev.jsonl")
    sec = load(ed / "secrets-dev.jsonl")
    t0 = time.monotonic()
    found_pii = scan(binary, pii, args.rules)
    found_sec = scan(binary, sec, args.rules)
    secs = time.monotonic() - t0
    tallies: dict[str, Tally] = {}
    evaluate(pii, found_pii, PII_TYPES + SECRET_TYPES, tallies)
    evaluate(sec, found_sec, SECRET_TYPES, tallies)

    texts = {r["id"]: r["text"] for r in pii + sec}
    print(f"{'type':24} {'spans':>6} {'found':>6} {'recall':>7} {'findings':>9} {'precision':>9}")
    figures: dict[str, dict[str, float]] = {"precision": {}, "recall": {}}
    for typ in PII_TYPES + SECRET_TYPES + [GENERIC]:
        t = tallies.get(typ)
        if t is None:
            continue
        print(f"{typ:24} {t.spans:6d} {t.found:6d} {t.recall():7.3f} {t.tp + t.fp:9d} "
              f"{t.precision():9.3f}")
        if typ != GENERIC:
            figures["recall"][typ] = t.recall()
        figures["precision"][typ] = t.precision()
    all_s = [tallies[t] for t in SECRET_TYPES if t in tallies]
    if all_s:
        tp = sum(t.tp for t in all_s)
        fp = sum(t.fp for t in all_s)
        sp = sum(t.spans for t in all_s)
        fd = sum(t.found for t in all_s)
        print(f"{'credentials (all)':24} {sp:6d} {fd:6d} {fd / sp if sp else 1:7.3f} {tp + fp:9d} "
              f"{tp / (tp + fp) if tp + fp else 1:9.3f}")
    rows_n = len(pii) + len(sec)
    print(f"{rows_n} rows scanned in {secs:.2f} s")

    if args.show:
        for typ, t in sorted(tallies.items()):
            if args.type and typ != args.type:
                continue
            for rid, s in t.misses:
                print(f"MISS {typ} {rid}: {snippet(texts[rid], s)}")
            for rid, p in t.false:
                print(f"FP   {typ} {rid}: {snippet(texts[rid], p)}")
    else:
        for typ, t in sorted(tallies.items()):
            ids = [rid for rid, _ in t.misses][:5]
            fps = [rid for rid, _ in t.false][:5]
            if ids or fps:
                print(f"{typ}: misses {ids} false positives {fps}")

    if args.write_floors:
        floors = {k: {t: math.floor((v - 0.02) * 100) / 100 for t, v in sorted(d.items())}
                  for k, d in figures.items()}
        Path(args.floors).write_text(json.dumps(floors, indent=2, sort_keys=True) + "\n")
        print(f"floors written to {args.floors}")
        return 0
    if args.no_floors:
        return 0
    try:
        floors = json.loads(Path(args.floors).read_text())
    except OSError as e:
        die(f"{args.floors}: {e}")
    bad = 0
    for kind, d in floors.items():
        for typ, floor in d.items():
            got = figures.get(kind, {}).get(typ)
            if got is None or got + 1e-9 < floor:
                print(f"BELOW FLOOR: {kind} of {typ} is {got} (floor {floor})")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

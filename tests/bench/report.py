#!/usr/bin/env python3
"""Benchmark report: turns run.sh's raw lines and the guard benchmarks' text into a table and a
JSON file, with the goals of docs/benchmarks.md marked pass or fail.

usage: report.py RAW BENCH_PROMPT_OUT BENCH_OUTPUT_OUT JSON_OUT [--smoke]
With --smoke, exits 1 when a column has no figure (the harness broke), never on a figure."""
import json
import re
import statistics
import sys

# Goals of issue 8 (2 cores, loopback).
GOAL_TP_RATIO = 0.8
GOAL_ADDED_P99_OFF_US = 100
GOAL_ADDED_P99_ON_US = 150
GOAL_ADDED_TTFE_US = 300
GOAL_IDLE_RSS_KIB = 10 * 1024
GOAL_PER_IDLE_CONN_KIB = 4
GOAL_PER_STREAM_KIB = 32
GOAL_AFTER_LOAD = 1.2


def kv(tokens):
    out = {}
    for tok in tokens:
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
    return out


def med(values):
    return statistics.median(values) if values else None


def parse_raw(path):
    meta, notes, tp, streams, mem = {}, [], {}, {}, {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "meta":
                meta[parts[1]] = line.split(None, 2)[2].strip() if len(parts) > 2 else ""
            elif parts[0] == "note":
                notes.append(line.split(None, 1)[1].strip())
            elif parts[0] == "tp":
                t, c = parts[1], int(parts[2])
                rps, p50, p99, err = float(parts[4]), int(parts[5]), int(parts[6]), int(parts[7])
                tp.setdefault(t, {}).setdefault(c, []).append((rps, p50, p99, err))
            elif parts[0] == "stream":
                streams.setdefault(parts[1], []).append(kv(parts[3:]))
            elif parts[0] == "mem":
                mem[parts[1]] = kv(parts[2:])
    return meta, notes, tp, streams, mem


def parse_prompt(path):
    res = {}
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return res
    m = re.search(r"benign text: (\d+) rows, ([\d.]+) MB, ([\d.]+) MB/s", text)
    if m:
        rows, mb, mbps = int(m.group(1)), float(m.group(2)), float(m.group(3))
        res.update(rows=rows, mb=mb, mb_per_s=mbps, prompts_per_s=round(rows * mbps / mb))
    m = re.search(r"2 KiB prompt: (\d+) prompts, p50 ([\d.]+) us, p99 ([\d.]+) us", text)
    if m:
        res["prompt_2k_p50_us"], res["prompt_2k_p99_us"] = float(m.group(2)), float(m.group(3))
    m = re.search(r"verdict after the last byte.*p50 ([\d.]+) us, p99 ([\d.]+) us", text)
    if m:
        res["verdict_after_last_byte_p50_us"] = float(m.group(1))
        res["verdict_after_last_byte_p99_us"] = float(m.group(2))
    return res


def parse_output(path):
    res = {"cases": []}
    try:
        text = open(path, encoding="utf-8").read()
    except OSError:
        return res
    for m in re.finditer(
        r"^(\S+)\s+(stream per row|one stream)\s+(\d+) B pieces:\s+([\d.]+) MB/s\s+\(([\d.]+) MB, (\d+) findings\)",
        text,
        re.M,
    ):
        res["cases"].append(
            {
                "set": m.group(1),
                "streams": m.group(2),
                "piece_bytes": int(m.group(3)),
                "mb_per_s": float(m.group(4)),
                "mb": float(m.group(5)),
                "findings": int(m.group(6)),
            }
        )
    m = re.search(r"memory per stream: (\d+) bytes new, (\d+) after the runs, (\d+) at most", text)
    if m:
        res["stream_bytes_new"], res["stream_bytes_max"] = int(m.group(1)), int(m.group(3))
    return res


def main():
    args = [a for a in sys.argv[1:] if a != "--smoke"]
    smoke = "--smoke" in sys.argv[1:]
    if len(args) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    meta, notes, tp, streams, mem = parse_raw(args[0])
    prompt, output = parse_prompt(args[1]), parse_output(args[2])
    missing = []

    # Throughput and latency: median of the rounds per target and concurrency.
    throughput = {}
    for t, by_c in tp.items():
        for c, runs in sorted(by_c.items()):
            throughput.setdefault(t, {})[str(c)] = {
                "rps": med([r[0] for r in runs]),
                "p50_us": med([r[1] for r in runs]),
                "p99_us": med([r[2] for r in runs]),
                "errors": sum(r[3] for r in runs),
                "rounds": len(runs),
            }
    concs = sorted({int(c) for t in throughput.values() for c in t})
    ratios = {}
    for c in map(str, concs):
        row = {}
        for t in ("warden_off", "warden_on", "portkey"):
            for ref in ("nginx", "direct"):
                a, b = throughput.get(t, {}).get(c), throughput.get(ref, {}).get(c)
                if a and b and b["rps"]:
                    row[f"{t}/{ref}"] = round(a["rps"] / b["rps"], 3)
        ratios[c] = row

    def added(t, key):
        a, b = throughput.get(t, {}).get("1"), throughput.get("direct", {}).get("1")
        return a[key] - b[key] if a and b else None

    latency = {
        t: {"p50_us": throughput[t]["1"]["p50_us"], "p99_us": throughput[t]["1"]["p99_us"],
            "added_p50_us": added(t, "p50_us"), "added_p99_us": added(t, "p99_us")}
        for t in throughput if "1" in throughput[t]
    }

    # Streaming: median of the rounds.
    stream = {}
    for t, runs in streams.items():
        keys = [k for k in runs[0] if isinstance(runs[0][k], float)]
        stream[t] = {k: med([r[k] for r in runs if k in r]) for k in keys}
    for t in ("nginx", "warden_off", "warden_out", "warden_on"):
        if t in stream and "direct" in stream:
            for k in ("ttfe_p50_us", "ttfe_p99_us", "gap_p50_us", "gap_p99_us"):
                stream[t]["added_" + k] = stream[t][k] - stream["direct"][k]

    # Memory.
    memory = {}
    ic, st = mem.get("idle_conns"), mem.get("streams")
    if ic:
        memory["idle_conns"] = ic
        memory["rss_idle_kib"] = ic["rss_idle_kib"]
        memory["per_idle_conn_kib"] = (ic["rss_loaded_kib"] - ic["rss_idle_kib"]) / ic["n"]
    if st:
        memory["streams"] = st
        memory["per_stream_kib"] = (st["rss_loaded_kib"] - st["rss_idle_kib"]) / st["n"]
        memory["streams_no_stall"] = st.get("ok") == st["n"] and st.get("stalls") == 0

    # Goals.
    goals = []

    def goal(name, value, target, ok, unit="", noisy=None):
        """pass is None when there is no figure, or when the machine's noise (noisy says which)
        is larger than what the goal measures: then the figure is kept but not judged."""
        goals.append({"goal": name, "value": value, "target": target, "unit": unit,
                      "pass": None if value is None or noisy else bool(ok), "noisy": noisy})

    # At rest the mock's own p99 at concurrency 1 is under 2x its p50 (tens of microseconds);
    # when other load on the machine makes it 4x or more, a p99 difference of 100 us is noise.
    d1 = throughput.get("direct", {}).get("1")
    noisy_c1 = None
    if d1 and d1["p50_us"] and d1["p99_us"] > 4 * d1["p50_us"]:
        noisy_c1 = f"direct p99 {d1['p99_us']:.0f} us is {d1['p99_us'] / d1['p50_us']:.0f}x its p50"

    tp_ratios = [ratios[c].get("warden_on/nginx") for c in ratios]
    tp_min = min([r for r in tp_ratios if r is not None], default=None)
    goal("guards-on throughput / nginx (worst concurrency)", tp_min, f">= {GOAL_TP_RATIO}",
         tp_min is not None and tp_min >= GOAL_TP_RATIO)
    v = latency.get("warden_off", {}).get("added_p99_us")
    goal("added p99 at concurrency 1, guards off", v, f"<= {GOAL_ADDED_P99_OFF_US}",
         v is not None and v <= GOAL_ADDED_P99_OFF_US, "us", noisy_c1)
    v = latency.get("warden_on", {}).get("added_p99_us")
    goal("added p99 at concurrency 1, guards on", v, f"<= {GOAL_ADDED_P99_ON_US}",
         v is not None and v <= GOAL_ADDED_P99_ON_US, "us", noisy_c1)
    # The goal is the output guard's: warden with it alone. With the prompt guard on as well the
    # 2 KiB prompt is scanned before the request goes upstream, which the streaming table shows
    # beside it (the prompt guard's own latency goal is the added p99 at concurrency 1).
    v = stream.get("warden_out", {}).get("added_ttfe_p50_us")
    goal("added time to first event (p50), output guard on", v, f"<= {GOAL_ADDED_TTFE_US}",
         v is not None and v <= GOAL_ADDED_TTFE_US, "us")
    v = memory.get("rss_idle_kib")
    goal("idle RSS", v, f"<= {GOAL_IDLE_RSS_KIB}", v is not None and v <= GOAL_IDLE_RSS_KIB, "KiB")
    v = memory.get("per_idle_conn_kib")
    goal("RSS per idle keep-alive connection", v, f"<= {GOAL_PER_IDLE_CONN_KIB}",
         v is not None and v <= GOAL_PER_IDLE_CONN_KIB, "KiB")
    v = memory.get("per_stream_kib")
    goal("RSS per active guarded stream", v, f"<= {GOAL_PER_STREAM_KIB}",
         v is not None and v <= GOAL_PER_STREAM_KIB, "KiB")
    after = [m["rss_after_kib"] / m["rss_idle_kib"] for m in (ic, st) if m and m["rss_idle_kib"]]
    v = max(after) if after else None
    goal("RSS after load / idle (worst instance)", v, f"<= {GOAL_AFTER_LOAD}",
         v is not None and v <= GOAL_AFTER_LOAD)
    v = memory.get("streams_no_stall")
    goal(f"{int(st['n']) if st else '?'} concurrent guarded streams without a stall",
         v, "all complete, no stall (gap > 1 s)", v)

    result = {"meta": meta, "notes": notes, "throughput": throughput, "ratios": ratios,
              "latency_c1": latency, "streaming": stream, "memory": memory,
              "guards": {"prompt": prompt, "output": output}, "goals": goals}
    with open(args[3], "w", encoding="utf-8") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")

    # Table.
    def fmt(v, spec="{:.0f}"):
        return "-" if v is None else spec.format(v)

    targets = [t for t in ("direct", "nginx", "warden_off", "warden_on", "portkey") if t in throughput]
    print(f"Warden benchmark ({meta.get('mode')}) {meta.get('date')} commit {meta.get('commit', '')[:12]}"
          f" on {meta.get('nproc')} x {meta.get('cpu')}, {meta.get('kernel')}")
    print(f"{meta.get('workload')}; median of {meta.get('rounds')} rounds of {meta.get('secs')} s;"
          f" load average {meta.get('loadavg_start')} at start, {meta.get('loadavg_end')} at end")
    print("\nrequests/s (p99 us)   " + "".join(f"{t:>20}" for t in targets) +
          "  on/nginx  off/nginx  on/direct")
    for c in map(str, concs):
        cells = "".join(
            f"{fmt(throughput[t].get(c, {}).get('rps')) + ' (' + fmt(throughput[t].get(c, {}).get('p99_us')) + ')':>20}"
            for t in targets)
        r = ratios[c]
        print(f"concurrency {c:<10}" + cells +
              f"  {fmt(r.get('warden_on/nginx'), '{:.2f}'):>8}  {fmt(r.get('warden_off/nginx'), '{:.2f}'):>9}"
              f"  {fmt(r.get('warden_on/direct'), '{:.2f}'):>9}")
    errs = {t: sum(v["errors"] for v in throughput[t].values()) for t in targets}
    if any(errs.values()):
        print("errors (non-2xx, socket): " + ", ".join(f"{t} {e}" for t, e in errs.items() if e))
    print("\nconcurrency 1, 2 KiB prompt: p50 / p99 us (added vs direct)")
    for t in targets:
        L = latency.get(t, {})
        print(f"  {t:<11} {fmt(L.get('p50_us')):>6} / {fmt(L.get('p99_us')):>6}"
              + ("" if t == "direct" else
                 f"   ({fmt(L.get('added_p50_us'), '{:+.0f}')} / {fmt(L.get('added_p99_us'), '{:+.0f}')})"))
    print("\nstreaming, one at a time: time to first event p50 / p99, gap between events p50 / p99 (us)")
    for t in ("direct", "nginx", "warden_off", "warden_out", "warden_on"):
        s = stream.get(t, {})
        extra = "" if t == "direct" else (
            f"   added TTFE {fmt(s.get('added_ttfe_p50_us'), '{:+.0f}')} / {fmt(s.get('added_ttfe_p99_us'), '{:+.0f}')}")
        print(f"  {t:<11} {fmt(s.get('ttfe_p50_us')):>6} / {fmt(s.get('ttfe_p99_us')):>6}   "
              f"{fmt(s.get('gap_p50_us')):>6} / {fmt(s.get('gap_p99_us')):>6}{extra}")
    if st:
        print(f"  {int(st['n'])} concurrent guarded streams: {int(st.get('ok', 0))} complete, "
              f"{int(st.get('stalls', 0))} stalls, longest gap {fmt(st.get('gap_max_us'))} us, "
              f"{fmt(st.get('seconds'), '{:.1f}')} s")
    print("\nguards alone, one core")
    print(f"  prompt guard: {fmt(prompt.get('prompts_per_s'))} prompts/s, {fmt(prompt.get('mb_per_s'))} MB/s;"
          f" 2 KiB prompt p50 {fmt(prompt.get('prompt_2k_p50_us'), '{:.1f}')} us,"
          f" p99 {fmt(prompt.get('prompt_2k_p99_us'), '{:.1f}')} us")
    for cse in output["cases"]:
        print(f"  output guard: {cse['set']:<12} {cse['streams']:<15} {cse['piece_bytes']:>4} B pieces"
              f" {cse['mb_per_s']:>7.1f} MB/s")
    print("\nmemory (VmRSS, guarded warden, KiB)")
    if ic:
        print(f"  idle {fmt(ic['rss_idle_kib'])}; {int(ic['n'])} idle keep-alive connections"
              f" ({int(ic.get('ok', 0))} open) {fmt(ic['rss_loaded_kib'])}"
              f" = {fmt(memory['per_idle_conn_kib'], '{:.2f}')} per connection; after {fmt(ic['rss_after_kib'])}")
    if st:
        print(f"  idle {fmt(st['rss_idle_kib'])}; {int(st['n'])} guarded streams peak {fmt(st['rss_loaded_kib'])}"
              f" = {fmt(memory['per_stream_kib'], '{:.1f}')} per stream; after {fmt(st['rss_after_kib'])}"
              f" ({fmt(st.get('rss_after2_kib'))} 2 s after, upstream pool still open)")
    print("\ngoals")
    for g in goals:
        val = g["value"]
        shown = "-" if val is None else (f"{val:.2f}" if isinstance(val, float) else str(val))
        status = ("NOISY" if g["noisy"] else "n/a") if g["pass"] is None else (
            "PASS" if g["pass"] else "FAIL")
        print(f"  {status:<5} {g['goal']}: {shown} {g['unit']} (goal {g['target']})"
              + (f" not judged: {g['noisy']}" if g["noisy"] else ""))
    for n in notes:
        print("note: " + n)
    print(f"\nresults: {args[3]}")

    if smoke:
        for t in ("direct", "nginx", "warden_off", "warden_on"):
            for c in map(str, concs):
                cell = throughput.get(t, {}).get(c)
                if not cell or not cell["rps"] or cell["errors"]:
                    missing.append(f"throughput {t} c={c}")
        for t in ("direct", "warden_off", "warden_out", "warden_on"):
            if not stream.get(t, {}).get("ttfe_p50_us") or stream[t].get("failed"):
                missing.append(f"streaming {t}")
        for k in ("rss_idle_kib", "per_idle_conn_kib", "per_stream_kib"):
            if memory.get(k) is None:
                missing.append("memory " + k)
        if not memory.get("streams_no_stall") or not ic or ic.get("ok") != ic.get("n"):
            missing.append("memory: streams or idle connections did not all complete")
        for k in ("prompts_per_s", "mb_per_s", "prompt_2k_p99_us"):
            if k not in prompt:
                missing.append("prompt guard " + k)
        if len(output["cases"]) < 8:
            missing.append("output guard cases")
        for g in goals:
            if g["value"] is None:
                missing.append("goal " + g["goal"])
        if missing:
            print("smoke: missing or failed columns: " + "; ".join(missing), file=sys.stderr)
            return 1
        print("smoke: every column produced")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Lockfile parser conformance on ../shared/eval/lockfiles: every file parses or is rejected as
expected, and the packages found agree with an independent stdlib extraction.

usage: lock_conformance.py LOCK_DUMP EVAL_LOCKFILES_DIR
Prints counts by format and lockfileVersion; exits 1 on any unexpected result."""
import collections
import json
import os
import re
import subprocess
import sys

# Files the parser must reject, and with which error. The manifest marks the JSON ones; the
# others are malformed or unsupported inputs named here (osv-scalibr test data, pnpm's tests).
REJECT_VERSIONS = {"invalid-json": "EBADMSG", "not-an-object": "EBADMSG"}
REJECT_FILES = {
    "osv-scalibr/pnpmlock/not-yaml.txt": "EBADMSG",      # a YAML scalar, not a mapping
    "osv-scalibr/pnpmlock/invalid-path.yaml": "EBADMSG",  # package key without '/'
    "osv-scalibr/pnpmlock/invalid-paths.yaml": "EBADMSG",
}
# pnpm lockfileVersion 2/3 and the legacy `version:` key: pnpm itself refuses them.
REJECT_PNPM_VERSIONS = {"2": "ENOTSUP", "3": "ENOTSUP", "v3": "ENOTSUP",
                        "legacy-version-key:3": "ENOTSUP"}
EMPTY_VERSIONS = {"empty-file", "none", "unknown"}


def fmt_arg(entry):
    f = entry["format"]
    base = os.path.basename(entry["file"])
    if f in ("packagelockjson", "npm-package-lock", "npm-npm-shrinkwrap"):
        return "npm-shrinkwrap" if base.endswith("npm-shrinkwrap.json") else "npm"
    if f in ("pnpm-lock", "pnpmlock"):
        return "pnpm"
    return "yarn"


def run_dump(dump, fmt, path):
    out = subprocess.run([dump, fmt, path], capture_output=True, text=True, errors="replace")
    lines = out.stdout.splitlines()
    if out.returncode == 3:
        parts = lines[0].split("\t")
        return {"error": parts[1], "message": parts[4] if len(parts) > 4 else ""}
    if out.returncode != 0 or not lines or not lines[0].startswith("LOCK\t"):
        return {"error": "CRASH", "message": out.stderr.strip()[:300]}
    head = lines[0].split("\t")
    pkgs = [l.split("\t") for l in lines[1:] if l.startswith("P\t")]
    return {"format": head[1], "version": head[2], "flags": int(head[3]), "pkgs": pkgs}


# ---- independent extraction (stdlib only) ----

def npm_expected(text):
    doc = json.loads(text)
    got = collections.Counter()
    pk = doc.get("packages")
    if isinstance(pk, dict):
        for key, e in pk.items():
            if key == "":
                continue
            inst = key.rsplit("node_modules/", 1)[-1] if "node_modules/" in key else None
            name = e.get("name") or inst or key
            got[(name, e.get("version", ""))] += 1
        return got

    def walk(deps):
        for key, e in deps.items():
            ver = e.get("version", "")
            name = key
            if ver.startswith("npm:"):
                spec = ver[4:]
                at = spec.find("@", 1)
                name, ver = (spec[:at], spec[at + 1:]) if at > 0 else (spec, "")
            elif ":" in ver or "/" in ver:
                ver = ""
            got[(name, ver)] += 1
            if isinstance(e.get("dependencies"), dict):
                walk(e["dependencies"])

    if isinstance(doc.get("dependencies"), dict):
        walk(doc["dependencies"])
    return got


def pnpm_expected_count(text):
    """Keys indented by two spaces under each document's top-level `packages:`."""
    n, inside = 0, False
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith("---"):
            inside = False
            continue
        if line and not line.startswith((" ", "#")):
            inside = line.rstrip().startswith("packages:")
            continue
        if inside and re.match(r"^  [^ #-][^\n]*:(\s.*)?$", line):
            n += 1
    return n


def yarn_v1_expected(text):
    names = collections.Counter()
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line or line[0] in " #" or not line.rstrip().endswith(":"):
            continue
        first = line.rstrip()[:-1].split(",")[0].strip().strip('"')
        at = first.find("@", 1)
        name, rng = (first[:at], first[at + 1:]) if at > 0 else (first, "")
        if rng.startswith("npm:") and rng.find("@", 5) > 0:
            name = rng[4:rng.find("@", 5)]
        names[name] += 1
    return names


def berry_expected(text):
    names, key = collections.Counter(), None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line and line[0] not in " #" and line.rstrip().endswith(":"):
            key = line.rstrip()[:-1].strip('"')
            if key == "__metadata":
                key = None
            else:
                first = key.split(",")[0].strip()
                names[first[:first.find("@", 1)]] += 1
        m = re.match(r'^  resolution: "?(.*?)"?$', line)
        if key and m:
            first = key.split(",")[0].strip()
            names[first[:first.find("@", 1)]] -= 1
            res = m.group(1)
            names[res[:res.find("@", 1)]] += 1
    return +names


def main():
    dump, root = sys.argv[1], sys.argv[2]
    manifest = json.load(open(os.path.join(root, "manifest.json")))
    counts = collections.defaultdict(lambda: [0, 0, 0])  # parsed, rejected-as-expected, bad
    problems, checked = [], collections.Counter()
    for entry in manifest:
        rel, ver = entry["file"], str(entry["lockfileVersion"])
        path = os.path.join(root, rel)
        fmt = fmt_arg(entry)
        want_err = REJECT_VERSIONS.get(ver) or REJECT_FILES.get(rel)
        if fmt == "pnpm" and ver in REJECT_PNPM_VERSIONS:
            want_err = REJECT_PNPM_VERSIONS[ver]
        res = run_dump(dump, fmt, path)
        key = (entry["format"], ver)
        if "error" in res:
            if want_err and res["error"] == want_err and res["message"]:
                counts[key][1] += 1
            else:
                counts[key][2] += 1
                problems.append(f"{rel}: unexpected {res['error']}: {res['message']}")
            continue
        if want_err:
            counts[key][2] += 1
            problems.append(f"{rel}: parsed, expected {want_err}")
            continue
        counts[key][0] += 1
        text = open(path, encoding="utf-8", errors="replace").read()
        # lockfileVersion and format as the manifest lists them
        if ver == "yarn-v1" and res["format"] != "yarn-v1":
            problems.append(f"{rel}: format {res['format']}, manifest says yarn-v1")
        elif ver == "yarn-berry" and res["format"] != "yarn-berry":
            problems.append(f"{rel}: format {res['format']}, manifest says yarn-berry")
        elif ver not in EMPTY_VERSIONS and not ver.startswith("yarn") and res["version"] != ver:
            problems.append(f"{rel}: lockfileVersion {res['version']!r}, manifest {ver!r}")
        if ver in EMPTY_VERSIONS and res["pkgs"] and entry["bytes"] > 0:
            pass  # "none"/"unknown" only says the manifest had no version to give
        got_names = collections.Counter(p[1] for p in res["pkgs"])
        if fmt.startswith("npm"):
            want = npm_expected(text)
            got = collections.Counter((p[1], p[2]) for p in res["pkgs"])
            checked["npm name@version sets"] += 1
            if got != want:
                problems.append(f"{rel}: name@version differ: C-only {dict(got - want)} "
                                f"py-only {dict(want - got)}")
        elif fmt == "pnpm":
            n = pnpm_expected_count(text)
            checked["pnpm package counts"] += 1
            if n != len(res["pkgs"]):
                problems.append(f"{rel}: {len(res['pkgs'])} packages, key scan finds {n}")
        elif res["format"] == "yarn-v1":
            want = yarn_v1_expected(text)
            checked["yarn v1 name sets"] += 1
            if want != got_names:
                problems.append(f"{rel}: names differ: C-only {dict(got_names - want)} "
                                f"py-only {dict(want - got_names)}")
        else:
            want = berry_expected(text)
            checked["yarn berry name sets"] += 1
            if want != got_names:
                problems.append(f"{rel}: names differ: C-only {dict(got_names - want)} "
                                f"py-only {dict(want - got_names)}")
    print(f"{'format':<20} {'lockfileVersion':<22} {'parsed':>6} {'rejected':>8} {'bad':>4}")
    tot = [0, 0, 0]
    for (f, v), c in sorted(counts.items()):
        print(f"{f:<20} {v:<22} {c[0]:>6} {c[1]:>8} {c[2]:>4}")
        tot = [a + b for a, b in zip(tot, c)]
    print(f"{'total':<43} {tot[0]:>6} {tot[1]:>8} {tot[2]:>4}")
    print("cross-checked: " + ", ".join(f"{k}: {v}" for k, v in sorted(checked.items())))
    for p in problems:
        print("MISMATCH " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

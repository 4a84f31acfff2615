#!/usr/bin/env python3
"""Schema check of warden scan-deps' SARIF and CycloneDX writers.

Runs the report-formats unit test binary with --write DIR (the SARIF, CycloneDX and GitHub
outputs of its hand-built report), validates report.sarif against sarif-schema-2.1.0.json and
report.cdx.json against bom-1.6.schema.json from EVAL_DIR/schemas with jsonschema_check.py
(after its self-test), and checks the shape of every GitHub workflow command line.
Exit 0 pass, 1 fail, 77 skipped (no schemas folder).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonschema_check  # noqa: E402

GH_LINE = re.compile(r"^::(error|warning|notice) (file=[^,:\r\n]*,(line=[1-9][0-9]*,)?)?"
                     r"title=[^,:\r\n]+::[^\r\n]*$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    ap.add_argument("--binary", required=True, help="test_deps_report_formats")
    ap.add_argument("--eval-dir", required=True)
    a = ap.parse_args()
    schemas = os.path.join(a.eval_dir, "schemas")
    need = ["sarif-schema-2.1.0.json", "bom-1.6.schema.json"]
    if not all(os.path.exists(os.path.join(schemas, n)) for n in need):
        print("SKIP: %s has no %s" % (schemas, " / ".join(need)))
        return 77
    if jsonschema_check._self_test(schemas) != 0:
        return 1
    failed = 0
    with tempfile.TemporaryDirectory(prefix="warden-fmt-") as tmp:
        subprocess.run([a.binary, "--write", tmp], check=True, timeout=60)
        for doc, schema in (("report.sarif", need[0]), ("report.cdx.json", need[1])):
            with open(os.path.join(schemas, schema), encoding="utf-8") as f:
                sch = json.load(f)
            with open(os.path.join(tmp, doc), encoding="utf-8") as f:
                inst = json.load(f)
            errs = jsonschema_check.validate(sch, inst, schemas)
            for p, m in errs[:20]:
                print("%s: %s: %s" % (doc, p, m))
            print("%s: %s against %s" % (doc, "INVALID" if errs else "valid", schema))
            failed += bool(errs)
        with open(os.path.join(tmp, "report.github.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        if lines[-1] != "" or not lines[-2].startswith("warden scan-deps: "):
            print("report.github.txt: no summary line at the end")
            failed += 1
        for ln in lines[:-2]:
            if not GH_LINE.match(ln):
                print("report.github.txt: not a workflow command: %r" % ln)
                failed += 1
        print("report.github.txt: %d commands checked" % (len(lines) - 2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

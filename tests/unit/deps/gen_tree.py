#!/usr/bin/env python3
"""Generate a synthetic installed npm project for the scanner's speed figure.

usage: gen_tree.py DIR [N]   (N packages, default 1500; DIR is created, must not exist)
Each package gets a package.json, an index.js of ~2 KiB and a lib/util.js; one in 50 has an
install script; package-lock.json v3 lists them all. Deterministic (no randomness).
"""
import json
import os
import sys


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    os.makedirs(root)
    deps = {f"pkg-gen-{i:04d}": f"^1.{i % 7}.0" for i in range(0, n, 10)}
    with open(os.path.join(root, "package.json"), "w") as f:
        json.dump({"name": "gen", "version": "1.0.0", "engines": {"node": ">=18"},
                   "dependencies": deps}, f, indent=2)
    packages = {"": {"name": "gen", "version": "1.0.0", "dependencies": deps}}
    body = "".join(f"function f{k}(a, b) {{ return a + b * {k}; }}\n" for k in range(60))
    for i in range(n):
        name = f"pkg-gen-{i:04d}" if i % 3 else f"@gen/pkg-{i:04d}"
        nested = i % 11 == 5
        path = f"node_modules/{name}" if not nested else \
            f"node_modules/pkg-gen-0001/node_modules/{name}"
        d = os.path.join(root, path)
        os.makedirs(os.path.join(d, "lib"))
        version = f"1.{i % 7}.{i % 13}"
        man = {"name": name, "version": version, "license": "MIT", "main": "index.js",
               "engines": {"node": ">=14"}}
        if i % 50 == 7:
            man["scripts"] = {"postinstall": "node install.js"}
            with open(os.path.join(d, "install.js"), "w") as f:
                f.write("console.log('built');\n")
        with open(os.path.join(d, "package.json"), "w") as f:
            json.dump(man, f, indent=2)
        with open(os.path.join(d, "index.js"), "w") as f:
            f.write(body)
        with open(os.path.join(d, "lib", "util.js"), "w") as f:
            f.write("module.exports = (x) => x;\n")
        bare = name.split("/")[-1]
        packages[path] = {
            "version": version,
            "resolved": f"https://registry.npmjs.org/{name}/-/{bare}-{version}.tgz",
            "integrity": "sha512-" + "A" * 86 + "==",
            "license": "MIT"}
    with open(os.path.join(root, "package-lock.json"), "w") as f:
        json.dump({"name": "gen", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
                   "packages": packages}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

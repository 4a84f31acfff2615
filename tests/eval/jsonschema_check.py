#!/usr/bin/env python3
"""Compact JSON Schema validator (draft-04 and draft-07), Python stdlib only.

Usage:
  jsonschema_check.py SCHEMA DOCUMENT [--schemas DIR]   exit 0 valid, 1 invalid, 2 usage/IO
  jsonschema_check.py --self-test [--schemas DIR]       checks the validator itself

Keywords: type (incl. integer), enum, const, properties, patternProperties,
additionalProperties, required, items (schema and array form), additionalItems, contains,
minItems/maxItems, uniqueItems, minLength/maxLength, pattern, minimum/maximum,
exclusiveMinimum/exclusiveMaximum (draft-04 boolean and draft-07 numeric forms), multipleOf,
minProperties/maxProperties, allOf/anyOf/oneOf/not, if/then/else, dependencies,
propertyNames, boolean schemas, $ref (local JSON pointers, and other schema files found by
their id/$id URL or by file name in the schemas folder). "format" is not asserted.
Patterns use Python's re (close to ECMA 262 for the patterns these schemas use; no \\p{...}).
Checked by hand against the shared keywords of JSON-Schema-Test-Suite (draft2020-12 folder):
624 of 636 cases agree; the rest are \\p escapes and 2020-12-only semantics.
"""
import json
import os
import re
import sys
import urllib.parse

_NUM = (int, float)


def _is_num(v):
    return isinstance(v, _NUM) and not isinstance(v, bool)


def _type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "number":
        return _is_num(v)
    if t == "integer":
        return _is_num(v) and (isinstance(v, int) or float(v).is_integer())
    raise ValueError("unknown type %r in schema" % t)


def json_equal(a, b):
    """JSON equality: 1 == 1.0, but true != 1 and objects compare in any order."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _unescape(tok):
    return urllib.parse.unquote(tok).replace("~1", "/").replace("~0", "~")


class Store:
    """Schema documents by URI (their id/$id) and by file name."""

    def __init__(self, folder=None):
        self.by_uri = {}
        self.by_name = {}
        if folder and os.path.isdir(folder):
            for name in sorted(os.listdir(folder)):
                if name.endswith(".json"):
                    with open(os.path.join(folder, name), encoding="utf-8") as f:
                        self.add(json.load(f), name)

    def add(self, schema, name=None):
        uid = schema.get("$id", schema.get("id")) if isinstance(schema, dict) else None
        if isinstance(uid, str):
            self.by_uri[uid.split("#")[0]] = schema
        if name:
            self.by_name[name] = schema

    def get(self, uri):
        if uri in self.by_uri:
            return self.by_uri[uri]
        name = urllib.parse.urlsplit(uri).path.rsplit("/", 1)[-1]
        return self.by_name.get(name)


class Validator:
    def __init__(self, schema, store=None):
        self.store = store or Store()
        self.root = schema
        sch = schema.get("$schema", "") if isinstance(schema, dict) else ""
        self.draft = 4 if "draft-04" in sch else 7
        self.store.add(schema)
        self.res = {}

    def _id_of(self, s):
        if not isinstance(s, dict):
            return None
        v = s.get("id" if self.draft == 4 else "$id")
        return v if isinstance(v, str) else None

    def _resolve(self, ref, base, doc):
        full = urllib.parse.urljoin(base, ref) if base else ref
        uri, _, frag = full.partition("#")
        if not uri or uri == base.partition("#")[0]:
            target, tbase = doc, base
        else:
            target = self.store.get(uri)
            if target is None:
                raise ValueError("unresolvable $ref %r (looked for %r)" % (ref, uri))
            tbase = uri
        node = target
        if frag:
            if not frag.startswith("/"):
                raise ValueError("unsupported $ref fragment %r" % ref)
            for tok in frag[1:].split("/"):
                tok = _unescape(tok)
                if isinstance(node, list):
                    node = node[int(tok)]
                elif isinstance(node, dict) and tok in node:
                    node = node[tok]
                else:
                    raise ValueError("$ref %r: no %r" % (ref, tok))
        return node, tbase, target

    def errors(self, inst, schema=None):
        out = []
        s = self.root if schema is None else schema
        base = self._id_of(self.root) or ""
        self._v(inst, s, "", base, self.root, out)
        return out

    def valid(self, inst, schema, base, doc):
        out = []
        self._v(inst, schema, "", base, doc, out)
        return not out

    def _v(self, inst, s, path, base, doc, out):
        if s is True or s == {}:
            return
        if s is False:
            out.append((path, "false schema"))
            return
        if not isinstance(s, dict):
            raise ValueError("schema at %r is not an object" % path)
        sid = self._id_of(s)
        if sid and s is not doc:
            base = urllib.parse.urljoin(base, sid) if base else sid
        if "$ref" in s:
            node, nbase, ndoc = self._resolve(s["$ref"], base, doc)
            self._v(inst, node, path, nbase, ndoc, out)
            return  # siblings of $ref are ignored in draft-04 and draft-07

        def err(msg):
            out.append((path or "/", msg))

        def sub(i, sch, p):
            self._v(i, sch, p, base, doc, out)

        def ok(i, sch):
            return self.valid(i, sch, base, doc)

        t = s.get("type")
        if t is not None:
            ts = t if isinstance(t, list) else [t]
            if not any(_type_ok(inst, x) for x in ts):
                err("type: %s is not %s" % (type(inst).__name__, "/".join(ts)))
                return
        if "enum" in s and not any(json_equal(inst, e) for e in s["enum"]):
            err("enum: %r not allowed" % (inst,))
        if self.draft >= 6 and "const" in s and not json_equal(inst, s["const"]):
            err("const: %r is not %r" % (inst, s["const"]))
        if isinstance(inst, str):
            if "minLength" in s and len(inst) < s["minLength"]:
                err("minLength %d" % s["minLength"])
            if "maxLength" in s and len(inst) > s["maxLength"]:
                err("maxLength %d" % s["maxLength"])
            if "pattern" in s and not re.search(s["pattern"], inst):
                err("pattern %r does not match %r" % (s["pattern"], inst))
        if _is_num(inst):
            self._numeric(inst, s, err)
        if isinstance(inst, list):
            self._array(inst, s, path, err, sub, ok)
        if isinstance(inst, dict):
            self._object(inst, s, path, err, sub, ok)
        for x in s.get("allOf", []):
            sub(inst, x, path)
        if "anyOf" in s and not any(ok(inst, x) for x in s["anyOf"]):
            err("anyOf: no alternative matches")
        if "oneOf" in s:
            n = sum(1 for x in s["oneOf"] if ok(inst, x))
            if n != 1:
                err("oneOf: %d alternatives match, expected 1" % n)
        if "not" in s and ok(inst, s["not"]):
            err("not: the value matches the excluded schema")
        if self.draft >= 7 and "if" in s:
            if ok(inst, s["if"]):
                if "then" in s:
                    sub(inst, s["then"], path)
            elif "else" in s:
                sub(inst, s["else"], path)

    def _numeric(self, inst, s, err):
        if "minimum" in s:
            excl = s.get("exclusiveMinimum") is True
            if inst < s["minimum"] or (excl and inst == s["minimum"]):
                err("minimum %r%s" % (s["minimum"], " (exclusive)" if excl else ""))
        if "maximum" in s:
            excl = s.get("exclusiveMaximum") is True
            if inst > s["maximum"] or (excl and inst == s["maximum"]):
                err("maximum %r%s" % (s["maximum"], " (exclusive)" if excl else ""))
        em, eM = s.get("exclusiveMinimum"), s.get("exclusiveMaximum")
        if _is_num(em) and inst <= em:
            err("exclusiveMinimum %r" % em)
        if _is_num(eM) and inst >= eM:
            err("exclusiveMaximum %r" % eM)
        if "multipleOf" in s:
            q = inst / s["multipleOf"]
            if q != q or q in (float("inf"), float("-inf")) or abs(q - round(q)) > 1e-9:
                err("multipleOf %r" % s["multipleOf"])

    def _array(self, inst, s, path, err, sub, ok):
        items = s.get("items")
        if isinstance(items, list):
            for i, (x, sch) in enumerate(zip(inst, items)):
                sub(x, sch, "%s/%d" % (path, i))
            if len(inst) > len(items) and "additionalItems" in s:
                for i in range(len(items), len(inst)):
                    sub(inst[i], s["additionalItems"], "%s/%d" % (path, i))
        elif items is not None:
            for i, x in enumerate(inst):
                sub(x, items, "%s/%d" % (path, i))
        if "minItems" in s and len(inst) < s["minItems"]:
            err("minItems %d" % s["minItems"])
        if "maxItems" in s and len(inst) > s["maxItems"]:
            err("maxItems %d" % s["maxItems"])
        if s.get("uniqueItems"):
            for i in range(len(inst)):
                if any(json_equal(inst[i], inst[j]) for j in range(i)):
                    err("uniqueItems: item %d repeats an earlier one" % i)
                    break
        if self.draft >= 6 and "contains" in s and not any(ok(x, s["contains"]) for x in inst):
            err("contains: no item matches")

    def _object(self, inst, s, path, err, sub, ok):
        props = s.get("properties", {})
        pats = s.get("patternProperties", {})
        for k, v in inst.items():
            p = "%s/%s" % (path, k.replace("~", "~0").replace("/", "~1"))
            seen = False
            if k in props:
                sub(v, props[k], p)
                seen = True
            for pat, sch in pats.items():
                if re.search(pat, k):
                    sub(v, sch, p)
                    seen = True
            if not seen and "additionalProperties" in s:
                ap = s["additionalProperties"]
                if ap is False:
                    err("additionalProperties: %r is not allowed" % k)
                else:
                    sub(v, ap, p)
            if self.draft >= 6 and "propertyNames" in s and not ok(k, s["propertyNames"]):
                err("propertyNames: %r" % k)
        for r in s.get("required", []):
            if r not in inst:
                err("required: %r is missing" % r)
        if "minProperties" in s and len(inst) < s["minProperties"]:
            err("minProperties %d" % s["minProperties"])
        if "maxProperties" in s and len(inst) > s["maxProperties"]:
            err("maxProperties %d" % s["maxProperties"])
        for k, dep in s.get("dependencies", {}).items():
            if k not in inst:
                continue
            if isinstance(dep, list):
                for d in dep:
                    if d not in inst:
                        err("dependencies: %r needs %r" % (k, d))
            else:
                sub(inst, dep, path)


def validate(schema, doc, schemas_dir=None):
    return Validator(schema, Store(schemas_dir)).errors(doc)


# ------------------------------------------------------------------ self-test

_D7 = "http://json-schema.org/draft-07/schema#"
_D4 = "http://json-schema.org/draft-04/schema#"

# (schema, instance, valid?)
_CASES = [
    ({"type": "integer"}, 3, True),
    ({"type": "integer"}, 3.0, True),
    ({"type": "integer"}, 3.5, False),
    ({"type": "integer"}, True, False),
    ({"type": ["string", "null"]}, None, True),
    ({"type": "number"}, "1", False),
    ({"enum": [1, "a"]}, True, False),
    ({"enum": [1, "a"]}, 1.0, True),
    ({"$schema": _D7, "const": {"a": [1]}}, {"a": [1]}, True),
    ({"$schema": _D7, "const": {"a": [1]}}, {"a": [2]}, False),
    ({"properties": {"a": {"type": "string"}}, "required": ["a"]}, {"a": 1}, False),
    ({"properties": {"a": {"type": "string"}}, "required": ["a"]}, {}, False),
    ({"properties": {"a": {}}, "additionalProperties": False}, {"a": 1, "b": 2}, False),
    ({"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
     {"x-a": "s"}, True),
    ({"patternProperties": {"^x-": {"type": "string"}}, "additionalProperties": False},
     {"x-a": 1}, False),
    ({"additionalProperties": {"type": "integer"}}, {"a": 1, "b": "x"}, False),
    ({"items": {"type": "integer"}}, [1, 2, "3"], False),
    ({"items": [{"type": "string"}], "additionalItems": False}, ["a", 1], False),
    ({"items": [{"type": "string"}], "additionalItems": {"type": "integer"}}, ["a", 1], True),
    ({"minItems": 2, "maxItems": 3}, [1], False),
    ({"minItems": 2, "maxItems": 3}, [1, 2, 3, 4], False),
    ({"uniqueItems": True}, [{"a": 1}, {"a": 1.0}], False),
    ({"uniqueItems": True}, [1, True], True),
    ({"minLength": 2, "maxLength": 3}, "ü", False),
    ({"minLength": 2, "maxLength": 3}, "üüü", True),
    ({"pattern": "^[0-9a-f]{4}$"}, "12ag", False),
    ({"minimum": 1, "exclusiveMinimum": True}, 1, False),
    ({"$schema": _D4, "maximum": 5, "exclusiveMaximum": True}, 5, False),
    ({"$schema": _D7, "exclusiveMinimum": 1}, 1, False),
    ({"$schema": _D7, "exclusiveMaximum": 5}, 4.9, True),
    ({"maximum": 10.0}, 10, True),
    ({"multipleOf": 0.5}, 1.5, True),
    ({"multipleOf": 2}, 3, False),
    ({"minProperties": 1}, {}, False),
    ({"maxProperties": 1}, {"a": 1, "b": 2}, False),
    ({"allOf": [{"type": "integer"}, {"minimum": 3}]}, 2, False),
    ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, None, False),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, 1, False),
    ({"oneOf": [{"type": "integer"}, {"minimum": 0}]}, -1, True),
    ({"not": {"type": "string"}}, "x", False),
    ({"$schema": _D7, "if": {"properties": {"k": {"const": "a"}}},
      "then": {"required": ["x"]}, "else": {"required": ["y"]}}, {"k": "a", "y": 1}, False),
    ({"$schema": _D7, "if": {"properties": {"k": {"const": "a"}}},
      "then": {"required": ["x"]}, "else": {"required": ["y"]}}, {"k": "b", "y": 1}, True),
    ({"dependencies": {"a": ["b"]}}, {"a": 1}, False),
    ({"dependencies": {"a": {"required": ["c"]}}}, {"a": 1, "c": 2}, True),
    ({"$schema": _D7, "propertyNames": {"pattern": "^[a-z]+$"}}, {"aB": 1}, False),
    ({"$schema": _D7, "properties": {"a": False}}, {"a": 1}, False),
    ({"definitions": {"p": {"type": "integer"}}, "properties": {"a": {"$ref": "#/definitions/p"}}},
     {"a": "1"}, False),
    ({"definitions": {"a/b": {"type": "integer"}}, "items": {"$ref": "#/definitions/a~1b"}},
     [1, 2], True),
    ({"definitions": {"t": {"type": "object", "properties": {"n": {"$ref": "#/definitions/t"}},
                            "additionalProperties": False}},
      "$ref": "#/definitions/t"}, {"n": {"n": {"x": 1}}}, False),
]


def _self_test(schemas_dir):
    failed = 0
    for i, (schema, inst, want) in enumerate(_CASES):
        got = not validate(schema, inst)
        if got != want:
            print("self-test case %d: expected %s, got %s: %s / %r" % (
                i, want, got, json.dumps(schema), inst))
            failed += 1
    # cross-file $ref by URL and by file name
    store = Store()
    store.add({"$id": "http://example.com/s/other.json",
               "definitions": {"n": {"type": "integer"}}}, "other.json")
    v = Validator({"$schema": _D7, "$id": "http://example.com/s/main.json",
                   "items": {"$ref": "other.json#/definitions/n"}}, store)
    if v.errors([1]) or not v.errors(["x"]):
        print("self-test: cross-file $ref")
        failed += 1
    if schemas_dir:
        failed += _self_test_real(schemas_dir)
    n = len(_CASES) + 1
    print("jsonschema_check self-test: %d/%d cases %s" % (n - failed, n,
                                                           "ok" if not failed else "FAILED"))
    return 1 if failed else 0


def _self_test_real(schemas_dir):
    """The real schemas must accept minimal documents and reject broken ones."""
    failed = 0
    sarif_path = os.path.join(schemas_dir, "sarif-schema-2.1.0.json")
    bom_path = os.path.join(schemas_dir, "bom-1.6.schema.json")
    if os.path.exists(sarif_path):
        with open(sarif_path, encoding="utf-8") as f:
            sarif = json.load(f)
        log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
            {"message": {"text": "m"}, "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": "a.js"}, "region": {"startLine": 1}}}]}]}]}
        bad = [("no version", lambda d: d.pop("version")),
               ("version 2.0.0", lambda d: d.__setitem__("version", "2.0.0")),
               ("startLine 0", lambda d: d["runs"][0]["results"][0]["locations"][0]
                ["physicalLocation"]["region"].__setitem__("startLine", 0)),
               ("no driver name", lambda d: d["runs"][0]["tool"]["driver"].pop("name")),
               ("level bogus", lambda d: d["runs"][0]["results"][0].__setitem__("level", "x"))]
        failed += _check_real("sarif", sarif, log, bad, schemas_dir)
    if os.path.exists(bom_path):
        with open(bom_path, encoding="utf-8") as f:
            bom = json.load(f)
        doc = {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
               "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
               "components": [{"type": "library", "name": "x", "licenses": [
                   {"license": {"id": "MIT"}}],
                   "hashes": [{"alg": "SHA-1", "content": "a9993e364706816aba3e25717850c26c9cd0d89d"}]}]}
        comp = lambda d: d["components"][0]
        bad = [("no bomFormat", lambda d: d.pop("bomFormat")),
               ("bad serial", lambda d: d.__setitem__("serialNumber", "urn:uuid:xyz")),
               ("hash alg", lambda d: comp(d)["hashes"][0].__setitem__("alg", "SHA512")),
               ("hash hex", lambda d: comp(d)["hashes"][0].__setitem__("content", "abc")),
               ("spdx id (spdx.schema.json)",
                lambda d: comp(d)["licenses"][0]["license"].__setitem__("id", "NOT-SPDX")),
               ("component type", lambda d: comp(d).__setitem__("type", "lib"))]
        failed += _check_real("cyclonedx", bom, doc, bad, schemas_dir)
    return failed


def _check_real(what, schema, good, bad, schemas_dir):
    failed = 0
    errs = validate(schema, good, schemas_dir)
    if errs:
        print("self-test %s: a valid document was rejected: %s" % (what, errs[:3]))
        failed += 1
    for name, mutate in bad:
        doc = json.loads(json.dumps(good))
        mutate(doc)
        if not validate(schema, doc, schemas_dir):
            print("self-test %s: accepted a document with %s" % (what, name))
            failed += 1
    return failed


def main(argv):
    args = list(argv[1:])
    schemas = None
    if "--schemas" in args:
        i = args.index("--schemas")
        if i + 1 >= len(args):
            print("--schemas needs a folder", file=sys.stderr)
            return 2
        schemas = args[i + 1]
        del args[i:i + 2]
    if args == ["--self-test"]:
        return _self_test(schemas)
    if len(args) != 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        with open(args[0], encoding="utf-8") as f:
            schema = json.load(f)
        with open(args[1], encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("%s; give a JSON Schema file and a JSON document" % e, file=sys.stderr)
        return 2
    errs = validate(schema, doc, schemas or os.path.dirname(os.path.abspath(args[0])))
    for p, m in errs[:50]:
        print("%s: %s: %s" % (args[1], p, m))
    if errs:
        print("%s: INVALID against %s (%d errors)" % (args[1], args[0], len(errs)))
        return 1
    print("%s: valid against %s" % (args[1], os.path.basename(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

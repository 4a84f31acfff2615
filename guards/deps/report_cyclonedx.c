/* Supply-chain scanner: the CycloneDX 1.6 JSON writer of a report (SBOM plus findings). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/decode.h"
#include "guards/deps/report_formats.h"

static void put(struct deps_buf *b, const char *s)
{
    deps_buf_put(b, s, strlen(s));
}

/* purl percent-encoding: unreserved bytes kept, the rest (including '@' and '/') encoded. */
static void purl_encode(struct deps_buf *u, const char *s, size_t n, bool lower)
{
    static const char hex[] = "0123456789ABCDEF";

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (lower && c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            char ch = (char)c;
            deps_buf_put(u, &ch, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            deps_buf_put(u, e, 3);
        }
    }
}

/* Length of the "@scope" part of a scoped name ("@scope/x"), or 0. */
static size_t scope_len(const char *name)
{
    const char *slash = name[0] == '@' ? strchr(name, '/') : NULL;
    return slash && slash[1] ? (size_t)(slash - name) : 0;
}

/* pkg:npm/[%40scope/]name[@version]; npm names are lowercased as the purl spec asks. */
static void purl(struct deps_buf *u, const struct deps_report_pkg *p)
{
    size_t sl = scope_len(p->name);

    put(u, "pkg:npm/");
    if (sl) {
        purl_encode(u, p->name, sl, true);
        put(u, "/");
        purl_encode(u, p->name + sl + 1, strlen(p->name + sl + 1), true);
    } else {
        purl_encode(u, p->name, strlen(p->name), true);
    }
    if (p->version && p->version[0]) {
        put(u, "@");
        purl_encode(u, p->version, strlen(p->version), false);
    }
}

static bool same_nv(const struct deps_report_pkg *a, const struct deps_report_pkg *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->version, b->version) == 0;
}

/* The bom-ref of package i: its purl; "#location" when another package has the same name and
 * version (several installed copies); "#i" as well when even the location repeats. Packages
 * are sorted by name, version, location, so duplicates are neighbours. */
static void bom_ref(struct deps_buf *u, const struct deps_report *r, size_t i)
{
    const struct deps_report_pkg *p = &r->pkgs[i];
    bool dup_prev = i > 0 && same_nv(p, &r->pkgs[i - 1]);
    bool dup_next = i + 1 < r->n_pkgs && same_nv(p, &r->pkgs[i + 1]);

    purl(u, p);
    if (dup_prev || dup_next) {
        put(u, "#");
        put(u, p->location ? p->location : "");
        if (dup_prev && strcmp(p->location ? p->location : "",
                               r->pkgs[i - 1].location ? r->pkgs[i - 1].location : "") == 0)
            deps_buf_printf(u, "#%zu", i);
    }
}

/* Decode base64 (standard or URL alphabet, optional '=' padding) into out (cap bytes). Returns
 * the byte count, or -1 when the text is not base64 or does not fit. */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    while (n > 0 && s[n - 1] == '=')
        n--;
    for (size_t i = 0; i < n; i++) {
        int v = guard_decode_b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* SRI ("sha512-<b64> sha1-<b64>", options after '?' ignored) to CycloneDX hashes; entries
 * with another algorithm, bad base64 or the wrong length are left out. */
static void write_hashes(struct deps_buf *b, const char *sri)
{
    static const struct {
        const char *sri, *alg;
        size_t bytes;
    } algs[] = {
        {"sha512-", "SHA-512", 64},
        {"sha384-", "SHA-384", 48},
        {"sha256-", "SHA-256", 32},
        {"sha1-", "SHA-1", 20},
    };
    static const char hex[] = "0123456789abcdef";
    size_t n_out = 0;

    for (const char *p = sri; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        size_t tl = strcspn(p, " \t\n");
        size_t vl = strcspn(p, " \t\n?");
        for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
            size_t pl = strlen(algs[a].sri);
            unsigned char raw[64];
            if (vl <= pl || strncmp(p, algs[a].sri, pl) != 0)
                continue;
            long got = b64_decode(p + pl, vl - pl, raw, sizeof(raw));
            if (got != (long)algs[a].bytes)
                break;
            char hx[129];
            for (long i = 0; i < got; i++) {
                hx[2 * i] = hex[raw[i] >> 4];
                hx[2 * i + 1] = hex[raw[i] & 15];
            }
            hx[2 * got] = '\0';
            put(b, n_out++ ? ", " : ",\n      \"hashes\": [");
            deps_buf_printf(b, "{\"alg\": \"%s\", \"content\": \"%s\"}", algs[a].alg, hx);
            break;
        }
        p += tl;
    }
    if (n_out)
        put(b, "]");
}

static bool is_url(const char *s)
{
    return s && (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
}

static void write_component(struct deps_buf *b, const struct deps_report *r, size_t i)
{
    const struct deps_report_pkg *p = &r->pkgs[i];
    size_t sl = scope_len(p->name);
    struct deps_buf u = {0};

    put(b, i ? ",\n    {\n" : "\n    {\n");
    put(b, "      \"type\": \"library\",\n      \"bom-ref\": ");
    bom_ref(&u, r, i);
    deps_buf_json_str(b, u.s ? u.s : "");
    if (sl) {
        deps_buf_free(&u);
        deps_buf_put(&u, p->name, sl);
        put(b, ",\n      \"group\": ");
        deps_buf_json_str(b, u.s ? u.s : "");
    }
    put(b, ",\n      \"name\": ");
    deps_buf_json_str(b, p->name + (sl ? sl + 1 : 0));
    if (p->version && p->version[0]) {
        put(b, ",\n      \"version\": ");
        deps_buf_json_str(b, p->version);
    }
    if (p->dev)
        put(b, ",\n      \"scope\": \"optional\"");
    write_hashes(b, p->integrity);
    deps_buf_free(&u);
    purl(&u, p);
    put(b, ",\n      \"purl\": ");
    deps_buf_json_str(b, u.s ? u.s : "");
    if (is_url(p->resolved)) {
        put(b, ",\n      \"externalReferences\": [{\"type\": \"distribution\", \"url\": ");
        deps_buf_json_str(b, p->resolved);
        put(b, "}]");
    }
    put(b, ",\n      \"properties\": [");
    put(b, "{\"name\": \"warden:location\", \"value\": ");
    deps_buf_json_str(b, p->location ? p->location : "");
    deps_buf_printf(b,
                    "}, {\"name\": \"warden:locked\", \"value\": \"%s\"}, {\"name\": "
                    "\"warden:installed\", \"value\": \"%s\"}]\n    }",
                    p->locked ? "true" : "false", p->installed ? "true" : "false");
    if (u.oom)
        b->oom = true;
    deps_buf_free(&u);
}

/* The package a finding names: same name, and the same version when the finding has one.
 * Returns its index or SIZE_MAX. */
static size_t finding_pkg(const struct deps_report *r, const struct deps_finding *f)
{
    if (!f->package || !f->package[0])
        return SIZE_MAX;
    for (size_t i = 0; i < r->n_pkgs; i++)
        if (strcmp(r->pkgs[i].name, f->package) == 0 &&
            (!f->version[0] || strcmp(r->pkgs[i].version, f->version) == 0))
            return i;
    return SIZE_MAX;
}

/* L2-ADV-001 messages end "(ID, affected RANGE)": the advisory id, or NULL. */
static const char *adv_id(const struct deps_finding *f, size_t *len)
{
    const char *aff = NULL, *open;

    if (strcmp(f->rule_id, "L2-ADV-001") != 0)
        return NULL;
    for (const char *p = f->message; (p = strstr(p, ", affected ")); p++)
        aff = p;
    if (!aff)
        return NULL;
    for (open = aff; open > f->message && open[-1] != '('; open--)
        ;
    if (open == f->message || open == aff)
        return NULL;
    *len = (size_t)(aff - open);
    return open;
}

static void prop(struct deps_buf *b, const char *name, const char *value, bool comma)
{
    deps_buf_printf(b, "{\"name\": \"%s\", \"value\": ", name);
    deps_buf_json_str(b, value);
    put(b, comma ? "}, " : "}");
}

static void write_vuln(struct deps_buf *b, const struct deps_report *r, size_t i,
                       const char *root_ref)
{
    static const char *const sev[] = {"info", "low", "medium", "high", "critical"};
    const struct deps_finding *f = &r->findings[i];
    struct deps_buf u = {0};
    size_t il = 0;
    const char *id = adv_id(f, &il);

    if (id)
        deps_buf_put(&u, id, il);
    else
        deps_buf_printf(&u, "%s/%s", f->rule_id, f->fingerprint);
    put(b, i ? ",\n    {\n" : "\n    {\n");
    put(b, "      \"id\": ");
    deps_buf_json_str(b, u.s ? u.s : "");
    put(b, ",\n      \"source\": {\"name\": \"warden\"},\n");
    deps_buf_printf(b, "      \"ratings\": [{\"severity\": \"%s\", \"method\": \"other\"}],\n",
                    sev[f->severity <= DEPS_SEV_CRITICAL ? f->severity : DEPS_SEV_CRITICAL]);
    put(b, "      \"description\": ");
    deps_buf_json_str(b, f->message);
    size_t pi = finding_pkg(r, f);
    deps_buf_free(&u);
    if (pi != SIZE_MAX)
        bom_ref(&u, r, pi);
    else if (root_ref)
        put(&u, root_ref);
    if (u.s) {
        put(b, ",\n      \"affects\": [{\"ref\": ");
        deps_buf_json_str(b, u.s);
        put(b, "}]");
    }
    put(b, ",\n      \"properties\": [");
    prop(b, "warden:rule_id", f->rule_id, true);
    prop(b, "warden:fingerprint", f->fingerprint, true);
    prop(b, "warden:package", f->package, true);
    prop(b, "warden:version", f->version, true);
    prop(b, "warden:file", f->file, true);
    deps_buf_printf(b, "{\"name\": \"warden:line\", \"value\": \"%u\"}]\n    }", f->line);
    if (u.oom)
        b->oom = true;
    deps_buf_free(&u);
}

static uint64_t fnv1a64(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The last path component of the target, when it names something ("/x/app/" -> "app"). */
static const char *root_name(const struct deps_report_meta *meta, size_t *len)
{
    const char *t = meta ? meta->target : NULL;
    size_t n = t ? strlen(t) : 0;

    while (n > 1 && t[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && t[s - 1] != '/')
        s--;
    *len = n - s;
    if (*len == 0 || (*len == 1 && t[s] == '.') || (*len == 2 && t[s] == '.' && t[s + 1] == '.'))
        return NULL;
    return t + s;
}

void deps_report_write_cyclonedx(const struct deps_report *r, const struct deps_report_meta *meta,
                                 struct deps_buf *b)
{
    struct deps_buf body = {0};
    struct deps_buf root = {0};
    size_t rl = 0;
    const char *rn = root_name(meta, &rl);
    const char *ver =
        meta && meta->tool_version && meta->tool_version[0] ? meta->tool_version : "0.0.0";

    /* everything after serialNumber first: the serial number is a hash of it */
    put(&body, "  \"version\": 1,\n  \"metadata\": {\n");
    if (meta && meta->started_at) {
        put(&body, "    \"timestamp\": ");
        deps_buf_json_str(&body, meta->started_at);
        put(&body, ",\n");
    }
    put(&body, "    \"tools\": {\"components\": [{\"type\": \"application\", \"name\": "
               "\"warden\", \"version\": ");
    deps_buf_json_str(&body, ver);
    put(&body, "}]}");
    if (rn) {
        deps_buf_put(&root, "warden:project:", 15);
        deps_buf_put(&root, rn, rl);
        put(&body, ",\n    \"component\": {\"type\": \"application\", \"bom-ref\": ");
        deps_buf_json_str(&body, root.s ? root.s : "");
        put(&body, ", \"name\": ");
        deps_buf_json_str(&body, root.s ? root.s + 15 : "");
        put(&body, "}");
    }
    put(&body, ",\n    \"properties\": [");
    prop(&body, "warden:corpus_version", r->corpus_version, true);
    prop(&body, "warden:corpus_hash", r->corpus_hash, true);
    prop(&body, "warden:lockfile", r->lockfile, true);
    prop(&body, "warden:lockfile_format", r->lock_format, false);
    put(&body, "]\n  },\n  \"components\": [");
    for (size_t i = 0; i < r->n_pkgs; i++)
        write_component(&body, r, i);
    put(&body, r->n_pkgs ? "\n  ],\n" : "],\n");
    put(&body, "  \"vulnerabilities\": [");
    for (size_t i = 0; i < r->n_findings; i++)
        write_vuln(&body, r, i, root.s);
    put(&body, r->n_findings ? "\n  ]\n}\n" : "]\n}\n");

    if (body.oom || root.oom) {
        b->oom = true;
        goto out;
    }
    /* RFC 9562 version 8 (custom) UUID: 122 bits of two FNV-1a 64 hashes of the body */
    uint64_t h1 = fnv1a64(0xcbf29ce484222325ULL, body.s, body.len);
    uint64_t h2 = fnv1a64(h1 ^ 0x9e3779b97f4a7c15ULL, body.s, body.len);
    unsigned char u[16];
    for (int i = 0; i < 8; i++) {
        u[i] = (unsigned char)(h1 >> (56 - 8 * i));
        u[8 + i] = (unsigned char)(h2 >> (56 - 8 * i));
    }
    u[6] = (unsigned char)((u[6] & 0x0F) | 0x80);
    u[8] = (unsigned char)((u[8] & 0x3F) | 0x80);
    put(b, "{\n  \"bomFormat\": \"CycloneDX\",\n  \"specVersion\": \"1.6\",\n");
    put(b, "  \"$schema\": \"http://cyclonedx.org/schema/bom-1.6.schema.json\",\n");
    deps_buf_printf(b,
                    "  \"serialNumber\": \"urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                    "%02x%02x%02x%02x%02x%02x\",\n",
                    u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
                    u[13], u[14], u[15]);
    deps_buf_put(b, body.s, body.len);
out:
    deps_buf_free(&body);
    deps_buf_free(&root);
}

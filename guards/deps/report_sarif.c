/* Supply-chain scanner: the SARIF 2.1.0 writer of a report (GitHub code scanning). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guards/deps/report_formats.h"

/* What SARIF and code scanning show for a rule. `sev` is the most severe level the rule emits:
 * GitHub reads security-severity from the rule, not the result, so a rule is ranked by its
 * worst case; each result still carries its own level and severity. */
struct sarif_rule {
    const char *id, *name, *short_desc, *full_desc, *help, *precision, *tag;
    enum deps_severity sev;
};

static const struct sarif_rule rules[] = {
    {"L2-POST-001", "InstallScript", "Install-time script in a dependency",
     "An installed dependency runs a preinstall, install or postinstall script (prepare and "
     "prepack for git, file and link dependencies); worse when the command fetches, reads "
     "credentials or spawns processes.",
     "Review the script. Install with --ignore-scripts, or allow builds per package "
     "(pnpm onlyBuiltDependencies), and baseline the finding after review.",
     "high", "install-script", DEPS_SEV_CRITICAL},
    {"L2-OBFS-001", "DynamicEvalOfDecodedData", "Dynamic evaluation of decoded data",
     "A package file evaluates code built from decoded or constructed strings (eval, Function, "
     "vm) - the usual shape of a hidden payload.",
     "Read the decoded value. Remove the package or pin a version without it.", "high",
     "obfuscation", DEPS_SEV_CRITICAL},
    {"L2-OBFS-002", "EscapeHeavyString", "Escape-heavy string literal",
     "A package file contains long strings made mostly of hex or unicode escapes, a common way "
     "to hide code from review.",
     "Decode the string and check what it does.", "medium", "obfuscation", DEPS_SEV_HIGH},
    {"L2-OBFS-003", "DecodedPayloadExecuted", "Decoded payload executed",
     "A package file decodes data (base64, hex, char codes) and passes it to code execution or "
     "a child process.",
     "Treat the package as malicious until shown otherwise; remove it and rotate secrets the "
     "install could read.",
     "high", "obfuscation", DEPS_SEV_CRITICAL},
    {"L2-OBFS-004", "PackedHighEntropyCode", "Packed high-entropy code",
     "A package file has long high-entropy lines typical of packers and obfuscators rather than "
     "minifiers.",
     "Compare with the package's published source; baseline when it is a known bundle.", "medium",
     "obfuscation", DEPS_SEV_HIGH},
    {"L2-DEPC-001", "DependencyConfusion", "Dependency confusion",
     "A dependency may resolve from the public registry instead of a private one: a scope with "
     "no registry mapping, an unusually high major version, or an internal-looking name.",
     "Map the scope to its registry in .npmrc, or reserve the name on the public registry.",
     "medium", "dependency-confusion", DEPS_SEV_HIGH},
    {"L2-TYPO-001", "Typosquatting", "Possible typosquatted package name",
     "A dependency's name is one edit, transposition, separator or scope change away from a "
     "popular package.",
     "Check the name you meant to install; replace the dependency when it is a look-alike.",
     "medium", "typosquatting", DEPS_SEV_HIGH},
    {"L2-MANI-001", "ManifestIdentity", "Installed package does not match the lockfile",
     "An installed folder's package.json names another package, or its version differs from "
     "the one the lockfile records.",
     "Reinstall from the lockfile (npm ci) and find what wrote the folder.", "high", "integrity",
     DEPS_SEV_HIGH},
    {"L2-MANI-002", "ManifestFields", "Suspicious or broken manifest fields",
     "An installed package.json points main, module, browser or bin outside the package, lacks "
     "name or version, or does not parse.",
     "Inspect the package; reinstall it from the registry.", "high", "integrity", DEPS_SEV_HIGH},
    {"L2-FORK-001", "ForkDrift", "Popular package locked from a fork",
     "A package of the popularity corpus is locked from git, a hosted repository or a tarball "
     "URL instead of its registry release.",
     "Return to the registry release, or baseline a deliberate fork.", "medium", "provenance",
     DEPS_SEV_MEDIUM},
    {"L2-CRED-001", "CredentialAccess", "Credential exposure or access",
     "A literal registry token in .npmrc, or package code that reads credentials (npm tokens, "
     "SSH keys, cloud keys) at install time.",
     "Move tokens to environment variables; remove a package that reads credentials and "
     "rotate them.",
     "high", "credentials", DEPS_SEV_CRITICAL},
    {"L2-BUND-001", "BundledPayload", "Bundled or binary payload",
     "A package ships executables, archives or large bundled code where its kind of package "
     "normally does not.",
     "Check where the file comes from and whether the package needs it.", "medium", "payload",
     DEPS_SEV_HIGH},
    {"L2-PROV-001", "UnpinnedGit", "Git dependency not pinned to a commit",
     "A git dependency is not pinned to a full 40-hex commit, so the same spec can fetch other "
     "code later.",
     "Pin the dependency to a commit hash or use a registry release.", "high", "provenance",
     DEPS_SEV_MEDIUM},
    {"L2-MAINT-001", "MaintainerChange", "Publisher change between versions",
     "Two installed versions of one package were published by maintainers with no name in "
     "common.",
     "Check the package's ownership history before upgrading.", "low", "maintainers",
     DEPS_SEV_MEDIUM},
    {"L2-ENGIN-001", "EnginesMismatch", "Dependency excludes the project's Node version",
     "An installed package's engines.node excludes the lowest Node version the project admits.",
     "Raise the project's engines.node or pick a compatible version.", "high", "compatibility",
     DEPS_SEV_LOW},
    {"L2-LICENSE-001", "License", "Restrictive, missing or unparsable license",
     "A package's license expression only allows copyleft or non-commercial terms, is "
     "UNLICENSED or custom, is missing, or does not parse.",
     "Check the license against your policy.", "high", "license", DEPS_SEV_MEDIUM},
    {"L2-LOCK-001", "LockfileIntegrity", "Lockfile drift or weak integrity",
     "The lockfile is missing, disagrees with package.json, lacks integrity or uses only "
     "sha1/md5, or resolves over plain http or from an unexpected registry.",
     "Regenerate the lockfile from the expected registry over https and commit it.", "high",
     "lockfile", DEPS_SEV_HIGH},
    {"L2-PNPM-001", "PackageManagerSettings", "Unsafe package-manager setting",
     "pnpm or .npmrc settings that let every dependency run build scripts, override packages "
     "with git or URLs, or disable TLS checks.",
     "Restrict builds to reviewed packages and keep TLS verification on.", "high", "settings",
     DEPS_SEV_HIGH},
    {"L2-SIDELOAD-001", "ProtocolSideload", "Dependency from outside the registry",
     "A dependency, override or resolution points at git, a hosted repository, a tarball URL, "
     "an alias or a local path.",
     "Use registry releases; review and baseline deliberate exceptions.", "high", "provenance",
     DEPS_SEV_HIGH},
    {"L2-ADV-001", "KnownBadVersion", "Known malicious or vulnerable version",
     "A package version falls in the range of a published advisory or npm compromise.",
     "Upgrade or downgrade out of the affected range; after a compromise, rotate credentials "
     "the install could read.",
     "very-high", "advisory", DEPS_SEV_CRITICAL},
    {"L2-IOC-001", "IndicatorOfCompromise", "Indicator of compromise in a package",
     "A package file contains a domain, URL or file hash from a published npm incident.",
     "Treat the machine that installed it as compromised: remove the package and rotate "
     "secrets.",
     "very-high", "ioc", DEPS_SEV_CRITICAL},
};

#define N_RULES (sizeof(rules) / sizeof(rules[0]))

const char *const deps_rule_ids[] = {
    "L2-POST-001",    "L2-OBFS-001", "L2-OBFS-002", "L2-OBFS-003",     "L2-OBFS-004",
    "L2-DEPC-001",    "L2-TYPO-001", "L2-MANI-001", "L2-MANI-002",     "L2-FORK-001",
    "L2-CRED-001",    "L2-BUND-001", "L2-PROV-001", "L2-MAINT-001",    "L2-ENGIN-001",
    "L2-LICENSE-001", "L2-LOCK-001", "L2-PNPM-001", "L2-SIDELOAD-001", "L2-ADV-001",
    "L2-IOC-001",
};
const size_t deps_n_rule_ids = sizeof(deps_rule_ids) / sizeof(deps_rule_ids[0]);

_Static_assert(sizeof(deps_rule_ids) / sizeof(deps_rule_ids[0]) == N_RULES,
               "deps_rule_ids and the SARIF rule table list the same rules");

/* GitHub code scanning wants a CVSS-like number 0.0-10.0 as a string. */
static const char *sarif_security_severity(enum deps_severity s)
{
    static const char *const v[] = {"0.0", "3.0", "5.0", "7.5", "9.0"};
    return v[s <= DEPS_SEV_CRITICAL ? s : DEPS_SEV_CRITICAL];
}

static const char *sarif_level(enum deps_severity s)
{
    return s >= DEPS_SEV_HIGH ? "error" : s == DEPS_SEV_MEDIUM ? "warning" : "note";
}

/* Rules in SARIF order: the known ones, then ids only the findings name (first use order). */
struct sarif_rules {
    const char **extra;
    size_t n_extra;
};

static size_t rule_index(const struct sarif_rules *sr, const char *id)
{
    for (size_t i = 0; i < N_RULES; i++)
        if (strcmp(rules[i].id, id) == 0)
            return i;
    for (size_t i = 0; i < sr->n_extra; i++)
        if (strcmp(sr->extra[i], id) == 0)
            return N_RULES + i;
    return SIZE_MAX;
}

static void put(struct deps_buf *b, const char *s)
{
    deps_buf_put(b, s, strlen(s));
}

static void kv(struct deps_buf *b, const char *indent, const char *key, const char *val, bool comma)
{
    deps_buf_printf(b, "%s\"%s\": ", indent, key);
    deps_buf_json_str(b, val);
    put(b, comma ? ",\n" : "\n");
}

/* Append path as a URI path: unreserved bytes, '/' and '@' kept, everything else (spaces,
 * '%', ':', '#', '?', non-ASCII) percent-encoded. */
static void uri_encode(struct deps_buf *u, const char *path)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~' || c == '/' || c == '@') {
            deps_buf_put(u, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            deps_buf_put(u, e, 3);
        }
    }
}

/* prefix + the encoded path, as a JSON string. */
static void put_uri(struct deps_buf *b, const char *prefix, const char *path, bool slash)
{
    struct deps_buf u = {0};

    deps_buf_put(&u, prefix, strlen(prefix));
    uri_encode(&u, path);
    if (slash && (u.len == 0 || u.s[u.len - 1] != '/'))
        deps_buf_put(&u, "/", 1);
    if (u.oom)
        b->oom = true;
    deps_buf_json_str(b, u.s ? u.s : "");
    deps_buf_free(&u);
}

static void write_rule(struct deps_buf *b, const struct sarif_rule *ru, bool comma)
{
    put(b, "        {\n");
    kv(b, "          ", "id", ru->id, true);
    kv(b, "          ", "name", ru->name, true);
    put(b, "          \"shortDescription\": {\"text\": ");
    deps_buf_json_str(b, ru->short_desc);
    put(b, "},\n          \"fullDescription\": {\"text\": ");
    deps_buf_json_str(b, ru->full_desc);
    put(b, "},\n          \"help\": {\"text\": ");
    deps_buf_json_str(b, ru->help);
    put(b, "},\n");
    deps_buf_printf(b, "          \"defaultConfiguration\": {\"level\": \"%s\"},\n",
                    sarif_level(ru->sev));
    deps_buf_printf(b,
                    "          \"properties\": {\"security-severity\": \"%s\", \"precision\": "
                    "\"%s\", \"tags\": [\"security\", \"supply-chain\", \"%s\"]}\n",
                    sarif_security_severity(ru->sev), ru->precision, ru->tag);
    put(b, comma ? "        },\n" : "        }\n");
}

static void write_result(struct deps_buf *b, const struct sarif_rules *sr,
                         const struct deps_finding *f, bool comma)
{
    put(b, "        {\n");
    kv(b, "          ", "ruleId", f->rule_id, true);
    deps_buf_printf(b, "          \"ruleIndex\": %zu,\n", rule_index(sr, f->rule_id));
    deps_buf_printf(b, "          \"level\": \"%s\",\n", sarif_level(f->severity));
    put(b, "          \"message\": {\"text\": ");
    deps_buf_json_str(b, f->message && f->message[0] ? f->message : f->rule_id);
    put(b, "},\n          \"locations\": [{\"physicalLocation\": {\"artifactLocation\": "
           "{\"uri\": ");
    /* a finding about the project as a whole names package.json at worst; keep a location
     * either way, code scanning drops results without one */
    put_uri(b, "", f->file && f->file[0] ? f->file : "package.json", false);
    deps_buf_printf(b, ", \"uriBaseId\": \"%%SRCROOT%%\"}, \"region\": {\"startLine\": %u}}}],\n",
                    f->line ? f->line : 1);
    put(b, "          \"partialFingerprints\": {\"warden/v1\": ");
    deps_buf_json_str(b, f->fingerprint);
    put(b, "},\n          \"properties\": {\"package\": ");
    deps_buf_json_str(b, f->package ? f->package : "");
    put(b, ", \"version\": ");
    deps_buf_json_str(b, f->version ? f->version : "");
    deps_buf_printf(b, ", \"severity\": \"%s\", \"line\": %u}\n", deps_severity_name(f->severity),
                    f->line);
    put(b, comma ? "        },\n" : "        }\n");
}

/* "file://" + an absolute directory + "/", or nothing when the target is relative. */
static void write_srcroot(struct deps_buf *b, const struct deps_report_meta *meta)
{
    put(b, "      \"originalUriBaseIds\": {\"%SRCROOT%\": {");
    if (meta && meta->target && meta->target[0] == '/') {
        put(b, "\"uri\": ");
        put_uri(b, "file://", meta->target, true);
        put(b, ", ");
    }
    put(b, "\"description\": {\"text\": \"The scanned project directory.\"}}},\n");
}

void deps_report_write_sarif(const struct deps_report *r, const struct deps_report_meta *meta,
                             struct deps_buf *b)
{
    struct sarif_rules sr = {0};

    sr.extra = calloc(r->n_findings ? r->n_findings : 1, sizeof(*sr.extra));
    if (!sr.extra) {
        b->oom = true;
        return;
    }
    for (size_t i = 0; i < r->n_findings; i++)
        if (rule_index(&sr, r->findings[i].rule_id) == SIZE_MAX)
            sr.extra[sr.n_extra++] = r->findings[i].rule_id;

    put(b, "{\n  \"$schema\": "
           "\"https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
           "sarif-schema-2.1.0.json\",\n");
    put(b, "  \"version\": \"2.1.0\",\n  \"runs\": [\n    {\n");
    put(b, "      \"tool\": {\n        \"driver\": {\n");
    put(b, "          \"name\": \"warden\",\n");
    const char *ver =
        meta && meta->tool_version && meta->tool_version[0] ? meta->tool_version : "0.0.0";
    kv(b, "          ", "version", ver, true);
    kv(b, "          ", "semanticVersion", ver, true);
    put(b, "          \"informationUri\": \"" DEPS_REPORT_INFO_URI "\",\n");
    put(b, "          \"rules\": [\n");
    for (size_t i = 0; i < N_RULES + sr.n_extra; i++) {
        bool comma = i + 1 < N_RULES + sr.n_extra;
        if (i < N_RULES) {
            write_rule(b, &rules[i], comma);
            continue;
        }
        /* a rule this writer does not describe yet: its id, and the worst level it used */
        struct sarif_rule x = {sr.extra[i - N_RULES], NULL, NULL, NULL, NULL, "medium", "other",
                               DEPS_SEV_INFO};
        for (size_t j = 0; j < r->n_findings; j++)
            if (strcmp(r->findings[j].rule_id, x.id) == 0 && r->findings[j].severity > x.sev)
                x.sev = r->findings[j].severity;
        x.name = x.short_desc = x.full_desc = x.id;
        x.help = "See docs/supply-chain.md.";
        write_rule(b, &x, comma);
    }
    put(b, "          ]\n        }\n      },\n");
    if (meta && meta->started_at) {
        put(b, "      \"invocations\": [{\"executionSuccessful\": true, \"startTimeUtc\": ");
        deps_buf_json_str(b, meta->started_at);
        put(b, "}],\n");
    }
    write_srcroot(b, meta);
    put(b, "      \"columnKind\": \"utf16CodeUnits\",\n");
    put(b, "      \"results\": [");
    for (size_t i = 0; i < r->n_findings; i++) {
        if (i == 0)
            put(b, "\n");
        write_result(b, &sr, &r->findings[i], i + 1 < r->n_findings);
    }
    put(b, r->n_findings ? "      ],\n" : "],\n");
    put(b, "      \"properties\": {\n");
    kv(b, "        ", "corpusVersion", r->corpus_version, true);
    kv(b, "        ", "corpusHash", r->corpus_hash, true);
    kv(b, "        ", "lockfile", r->lockfile, true);
    kv(b, "        ", "lockfileFormat", r->lock_format, true);
    deps_buf_printf(b, "        \"packagesScanned\": %zu,\n", r->n_pkgs);
    deps_buf_printf(b, "        \"suppressed\": %zu,\n", r->suppressed);
    deps_buf_printf(b, "        \"contentAnalysed\": %s\n", r->content_analysed ? "true" : "false");
    put(b, "      }\n    }\n  ]\n}\n");
    free(sr.extra);
}

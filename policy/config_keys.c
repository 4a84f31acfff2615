/* The configuration key table: every key Warden reads, with type, default and description. */
#include "policy/config_keys.h"

#include "policy/config.h"

#define OFF(field)  offsetof(struct policy_config, field)
#define UOFF(field) offsetof(struct policy_upstream, field)
#define ROFF(field) offsetof(struct policy_route, field)
#define NKEYS(a)    (sizeof(a) / sizeof((a)[0]))

#define DAY_MS (24LL * 3600 * 1000)
#define GIB    (1024LL * 1024 * 1024)

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

static const struct policy_key log_keys[] = {
    {.name = "level",
     .type = POLICY_T_ENUM,
     .def = "info",
     .offset = OFF(log.level) - OFF(log),
     .choices = log_levels,
     .desc = "Least severe level written: error, warn, info or debug."},
    {.name = "format",
     .type = POLICY_T_ENUM,
     .def = "text",
     .offset = OFF(log.format) - OFF(log),
     .choices = log_formats,
     .desc = "text (key=value lines) or json (one JSON object per line). Logs never hold "
             "message bodies or credentials."},
    {.name = "access",
     .type = POLICY_T_BOOL,
     .def = "true",
     .offset = OFF(log.access) - OFF(log),
     .desc = "One `access` line per proxied request at info level: id, client, method, path "
             "(no query), route, upstream, model, status, durations, verdicts, token counts. "
             "Never a body, a header value or a credential."},
};
static const struct policy_table log_table = {log_keys, NKEYS(log_keys), 0, 0, 0};

#define LOFF(field) (OFF(limits.field) - OFF(limits))
static const struct policy_key limit_keys[] = {
    {.name = "max_header_bytes",
     .type = POLICY_T_SIZE,
     .def = "32KiB",
     .offset = LOFF(max_header_bytes),
     .min = 1024,
     .max = 1024 * 1024,
     .desc = "Largest request line plus headers a client may send; more is answered 431."},
    {.name = "max_body_bytes",
     .type = POLICY_T_SIZE,
     .def = "16MiB",
     .offset = LOFF(max_body_bytes),
     .min = 1024,
     .max = GIB,
     .desc = "Largest request body; more is answered 413."},
    {.name = "client_header_timeout",
     .type = POLICY_T_DURATION,
     .def = "10s",
     .offset = LOFF(client_header_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Time a client has to send the request line and headers; then 408."},
    {.name = "client_body_timeout",
     .type = POLICY_T_DURATION,
     .def = "60s",
     .offset = LOFF(client_body_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Longest silence while a client sends the body; then 408."},
    {.name = "keepalive_timeout",
     .type = POLICY_T_DURATION,
     .def = "75s",
     .offset = LOFF(keepalive_timeout_ms),
     .min = 0,
     .max = DAY_MS,
     .desc = "How long an idle client connection is kept open between requests."},
    {.name = "send_timeout",
     .type = POLICY_T_DURATION,
     .def = "60s",
     .offset = LOFF(send_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Longest a client may leave a response unread (no progress writing); then the "
             "connection is closed."},
    {.name = "drain_timeout",
     .type = POLICY_T_DURATION,
     .def = "30s",
     .offset = LOFF(drain_timeout_ms),
     .min = 0,
     .max = DAY_MS,
     .desc = "On SIGTERM or SIGINT: how long in-flight requests may finish before close."},
    {.name = "max_connections",
     .type = POLICY_T_INT,
     .def = "10000",
     .offset = LOFF(max_connections),
     .min = 1,
     .max = 1000000,
     .desc = "Client connections open at once per worker; further accepts wait."},
    {.name = "upstream_connect_timeout",
     .type = POLICY_T_DURATION,
     .def = "10s",
     .offset = LOFF(upstream_connect_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Time to open a connection to an upstream, TLS handshake included; then 504."},
    {.name = "upstream_first_byte_timeout",
     .type = POLICY_T_DURATION,
     .def = "600s",
     .offset = LOFF(upstream_first_byte_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Time from the end of the request to the first byte of the upstream's response; "
             "then 504. Long by default: reasoning models think before they answer."},
    {.name = "upstream_read_timeout",
     .type = POLICY_T_DURATION,
     .def = "300s",
     .offset = LOFF(upstream_read_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "Longest silence in the middle of an upstream response (between stream events); "
             "then the response is cut."},
    {.name = "upstream_idle_timeout",
     .type = POLICY_T_DURATION,
     .def = "4s",
     .offset = LOFF(upstream_idle_timeout_ms),
     .min = 100,
     .max = DAY_MS,
     .desc = "How long an idle upstream connection is kept in the pool for reuse. Below the "
             "5 s after which uvicorn (vLLM) and Node servers close idle connections, so a "
             "pooled connection is not reused just as the server closes it."},
    {.name = "upstream_idle_max",
     .type = POLICY_T_INT,
     .def = "256",
     .offset = LOFF(upstream_idle_max),
     .min = 0,
     .max = 100000,
     .desc = "Idle upstream connections each worker keeps per upstream for reuse (nginx's "
             "keepalive); a connection finishing beyond it is closed. Set it at least to the "
             "requests one worker has in flight, or busy workers open a new upstream "
             "connection for most requests."},
};
static const struct policy_table limits_table = {limit_keys, NKEYS(limit_keys), 0, 0, 0};

#define TOFF(field) (OFF(tls.field) - OFF(tls))
static const struct policy_key tls_keys[] = {
    {.name = "cert",
     .type = POLICY_T_PATH,
     .offset = TOFF(cert),
     .has_loc = true,
     .loc_offset = TOFF(cert_loc),
     .desc = "PEM certificate chain of the listener; with `key`, the listener speaks TLS 1.2."},
    {.name = "key",
     .type = POLICY_T_PATH,
     .offset = TOFF(key),
     .desc = "PEM private key of the listener's certificate."},
};
static const struct policy_table tls_table = {tls_keys, NKEYS(tls_keys), 0, 0, 0};

static const struct policy_key upstream_keys[] = {
    {.name = "url",
     .type = POLICY_T_URL,
     .offset = UOFF(url),
     .desc = "http:// or https:// base URL of an OpenAI- or Anthropic-compatible server; a "
             "path is kept as a base path (Azure OpenAI, vLLM behind a prefix)."},
    {.name = "api_key_env",
     .type = POLICY_T_STR,
     .offset = UOFF(api_key_env),
     .desc = "Name of an environment variable holding the provider key. When set, Warden "
             "replaces the client's Authorization / x-api-key with it."},
    {.name = "ca_file",
     .type = POLICY_T_PATH,
     .offset = UOFF(ca_file),
     .desc = "PEM bundle to verify this upstream's certificate (default: the global ca_file)."},
};
static const struct policy_table upstream_table = {
    upstream_keys, NKEYS(upstream_keys), sizeof(struct policy_upstream), UOFF(name), UOFF(loc)};

static const struct policy_key route_keys[] = {
    {.name = "path",
     .type = POLICY_T_STR,
     .offset = ROFF(path),
     .desc = "Request path to match exactly, or a prefix when it ends with '*'."},
    {.name = "upstream",
     .type = POLICY_T_STR,
     .offset = ROFF(upstream),
     .desc = "Name of the upstream (a key of `upstreams`) that serves the route."},
    {.name = "output_schema",
     .type = POLICY_T_PATH,
     .offset = ROFF(output_schema),
     .desc = "JSON Schema (draft 2020-12) file every answer on this route must follow, "
             "whatever the request asks; enforced by the output guard (output_guard.on_schema)."},
};
static const struct policy_table route_table = {route_keys, NKEYS(route_keys),
                                                sizeof(struct policy_route), 0, ROFF(loc)};

#define POFF(field) (OFF(prompt_guard.field) - OFF(prompt_guard))
static const char *const prompt_actions[] = {"block", "flag", "log", NULL};
static const struct policy_key prompt_keys[] = {
    {.name = "enabled",
     .type = POLICY_T_BOOL,
     .def = "true",
     .offset = POFF(enabled),
     .desc = "Scan the text of every OpenAI and Anthropic request for prompt injection."},
    {.name = "rules_dir",
     .type = POLICY_T_STR,
     .offset = POFF(rules_dir),
     .desc = "Directory of prompt rule files (*.yaml) to use instead of the built-in set."},
    {.name = "cache_dir",
     .type = POLICY_T_STR,
     .def = "auto",
     .offset = POFF(cache_dir),
     .desc = "Where compiled rule databases (the prompt rules and the output detectors) are "
             "kept so a start or reload skips compiling: auto ($WARDEN_CACHE_DIR, "
             "$XDG_CACHE_HOME/warden or ~/.cache/warden), off, or a directory. It must be as "
             "trusted as the rules."},
    {.name = "block_threshold",
     .type = POLICY_T_FLOAT,
     .def = "0.7",
     .offset = POFF(block_threshold),
     .fmin = 0.0,
     .fmax = 1.0,
     .has_loc = true,
     .loc_offset = POFF(block_threshold_loc),
     .desc = "Prompt score at or above which the request is blocked (HTTP 400)."},
    {.name = "warn_threshold",
     .type = POLICY_T_FLOAT,
     .def = "0.4",
     .offset = POFF(warn_threshold),
     .fmin = 0.0,
     .fmax = 1.0,
     .has_loc = true,
     .loc_offset = POFF(warn_threshold_loc),
     .desc = "Prompt score at or above which the request is flagged but passed."},
    {.name = "scan_system",
     .type = POLICY_T_BOOL,
     .def = "false",
     .offset = POFF(scan_system),
     .desc = "Also score system and developer prompts (off: they are the operator's own)."},
    {.name = "on_block",
     .type = POLICY_T_ENUM,
     .def = "block",
     .offset = POFF(on_block),
     .choices = prompt_actions,
     .desc = "Action for a score at or above block_threshold: block (HTTP 400, code "
             "prompt_blocked; the upstream never sees the request), flag (forward with "
             "x-warden-* headers) or log (forward, log only)."},
    {.name = "on_warn",
     .type = POLICY_T_ENUM,
     .def = "flag",
     .offset = POFF(on_warn),
     .choices = prompt_actions,
     .desc = "Action for a score at or above warn_threshold: block, flag or log."},
    {.name = "decode_budget",
     .type = POLICY_T_SIZE,
     .def = "64KiB",
     .offset = POFF(decode_budget),
     .min = 0,
     .max = 16 * 1024 * 1024,
     .desc = "Decoded bytes (base64, hex, percent, entities, escapes) rescanned per request; "
             "0 turns decoding off."},
};
static const struct policy_table prompt_table = {prompt_keys, NKEYS(prompt_keys), 0, 0, 0};

#define OOFF(field) (OFF(output_guard.field) - OFF(output_guard))
static const char *const output_actions[] = {"redact", "block", "log", NULL};
static const char *const schema_actions[] = {"block", "flag", "log", NULL};
static const struct policy_key output_type_keys[] = {
    {.name = "action",
     .type = POLICY_T_ENUM,
     .def = "redact",
     .offset = offsetof(struct policy_output_type, action),
     .choices = output_actions,
     .desc = "redact, block or log findings of this type."},
};
static const struct policy_table output_type_table = {
    output_type_keys, NKEYS(output_type_keys), sizeof(struct policy_output_type),
    offsetof(struct policy_output_type, name), offsetof(struct policy_output_type, loc)};

static const struct policy_key output_keys[] = {
    {.name = "enabled",
     .type = POLICY_T_BOOL,
     .def = "true",
     .offset = OOFF(enabled),
     .desc = "Scan model output (streamed or whole) for personal data and credentials."},
    {.name = "rules_dir",
     .type = POLICY_T_STR,
     .offset = OOFF(rules_dir),
     .desc = "Directory of output detector files (*.yaml) to use instead of the built-in set."},
    {.name = "pii",
     .type = POLICY_T_ENUM,
     .def = "redact",
     .offset = OOFF(pii),
     .choices = output_actions,
     .desc = "Action for personal data (e-mail, phone, card, IBAN, SSN, IP address): redact "
             "(replaced by [REDACTED:TYPE]), block or log."},
    {.name = "secrets",
     .type = POLICY_T_ENUM,
     .def = "block",
     .offset = OOFF(secrets),
     .choices = output_actions,
     .desc = "Action for credentials and private keys: block (the response ends with a "
             "provider error), redact or log."},
    {.name = "types",
     .type = POLICY_T_MAP,
     .offset = OOFF(types),
     .count_offset = OOFF(n_types),
     .sub = &output_type_table,
     .desc = "Actions per finding type (EMAIL, PHONE, CREDIT_CARD, GITHUB_TOKEN, ...: see "
             "`warden rules`), over the class defaults."},
    {.name = "holdback",
     .type = POLICY_T_SIZE,
     .def = "64",
     .offset = OOFF(holdback),
     .min = 16,
     .max = 64 * 1024,
     .desc = "Bytes of streamed text held back so that a value split across events is found "
             "before any of it is sent."},
    {.name = "max_hold",
     .type = POLICY_T_SIZE,
     .def = "4KiB",
     .offset = OOFF(max_hold),
     .min = 256,
     .max = 1024 * 1024,
     .desc = "Most bytes of one text stream held at once (a long token still arriving); "
             "beyond it the oldest are released."},
    {.name = "max_body_bytes",
     .type = POLICY_T_SIZE,
     .def = "8MiB",
     .offset = OOFF(max_body_bytes),
     .min = 1024,
     .max = GIB,
     .desc = "Largest non-streamed JSON response held for inspection; a larger one is "
             "answered 502 rather than passed unchecked."},
    {.name = "on_schema",
     .type = POLICY_T_ENUM,
     .def = "block",
     .offset = OOFF(on_schema),
     .choices = schema_actions,
     .desc = "When an answer fails its JSON schema (the request's response_format, or the "
             "route's output_schema): block (provider error), flag (x-warden-schema: invalid, "
             "or a final SSE comment) or log."},
    {.name = "canary",
     .type = POLICY_T_BOOL,
     .def = "false",
     .offset = OOFF(canary),
     .desc = "Put a random canary token at the head of each request's system prompt, and "
             "block a response that repeats it (a system-prompt leak)."},
};
static const struct policy_table output_table = {output_keys, NKEYS(output_keys), 0, 0, 0};

#define XOFF(field) (OFF(otlp.field) - OFF(otlp))
static const struct policy_key otlp_keys[] = {
    {.name = "enabled",
     .type = POLICY_T_BOOL,
     .def = "true",
     .offset = XOFF(enabled),
     .desc = "Export spans and metrics when an endpoint is set here or in "
             "OTEL_EXPORTER_OTLP_ENDPOINT (or the per-signal variables); false turns export off "
             "whatever the environment says (so does OTEL_SDK_DISABLED=true)."},
    {.name = "endpoint",
     .type = POLICY_T_STR,
     .offset = XOFF(endpoint),
     .desc = "OTLP/HTTP base URL (http://collector:4318); /v1/traces and /v1/metrics are added. "
             "Default: OTEL_EXPORTER_OTLP_ENDPOINT."},
    {.name = "traces_endpoint",
     .type = POLICY_T_STR,
     .offset = XOFF(traces_endpoint),
     .desc = "Full URL for spans. Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else endpoint."},
    {.name = "metrics_endpoint",
     .type = POLICY_T_STR,
     .offset = XOFF(metrics_endpoint),
     .desc = "Full URL for metrics. Default: OTEL_EXPORTER_OTLP_METRICS_ENDPOINT, else "
             "endpoint."},
    {.name = "headers",
     .type = POLICY_T_STR,
     .offset = XOFF(headers),
     .desc = "Headers of every export, `k=v,k2=v2` (values percent-encoded). Default: "
             "OTEL_EXPORTER_OTLP_HEADERS."},
    {.name = "service_name",
     .type = POLICY_T_STR,
     .offset = XOFF(service_name),
     .desc = "service.name of the resource. Default: OTEL_SERVICE_NAME, else warden."},
    {.name = "resource_attributes",
     .type = POLICY_T_STR,
     .offset = XOFF(resource_attributes),
     .desc = "More resource attributes, `k=v,k2=v2`. Default: OTEL_RESOURCE_ATTRIBUTES."},
    {.name = "sampler",
     .type = POLICY_T_STR,
     .offset = XOFF(sampler),
     .desc = "always_on, always_off, traceidratio, parentbased_always_on, "
             "parentbased_always_off or parentbased_traceidratio. Default: OTEL_TRACES_SAMPLER, "
             "else parentbased_always_on."},
    {.name = "sampler_arg",
     .type = POLICY_T_FLOAT,
     .def = "-1",
     .offset = XOFF(sampler_arg),
     .fmin = -1.0,
     .fmax = 1.0,
     .desc = "Ratio of the traceidratio samplers (0..1). Default: OTEL_TRACES_SAMPLER_ARG, else "
             "1."},
    {.name = "export_interval",
     .type = POLICY_T_DURATION,
     .def = "0",
     .offset = XOFF(export_interval_ms),
     .min = 0,
     .max = DAY_MS,
     .desc = "How often metrics are exported. Default: OTEL_METRIC_EXPORT_INTERVAL, else 60s."},
    {.name = "timeout",
     .type = POLICY_T_DURATION,
     .def = "0",
     .offset = XOFF(timeout_ms),
     .min = 0,
     .max = DAY_MS,
     .desc = "Longest one export request may take. Default: OTEL_EXPORTER_OTLP_TIMEOUT, else "
             "10s."},
};
static const struct policy_table otlp_table = {otlp_keys, NKEYS(otlp_keys), 0, 0, 0};

#define AOFF(field) (OFF(audit.field) - OFF(audit))
static const struct policy_key audit_keys[] = {
    {.name = "path",
     .type = POLICY_T_STR,
     .offset = AOFF(path),
     .has_loc = true,
     .loc_offset = AOFF(path_loc),
     .desc = "Tamper-evident audit log (one HMAC-chained msgpack record per request); off when "
             "unset. `warden serve --audit FILE` sets it. Rotated files are FILE.1, FILE.2 ..."},
    {.name = "key",
     .type = POLICY_T_STR,
     .offset = AOFF(key),
     .desc = "HMAC key of the audit chain: `hex:...` or raw text, 16 bytes at least. Prefer the "
             "WARDEN_AUDIT_KEY environment variable, which is used when this is unset; with "
             "neither, warden refuses to start."},
    {.name = "max_bytes",
     .type = POLICY_T_SIZE,
     .def = "256MiB",
     .offset = AOFF(max_bytes),
     .min = 64 * 1024,
     .max = 64 * GIB,
     .desc = "Size at which the audit log rotates; the new file chains from the old one."},
    {.name = "keep",
     .type = POLICY_T_INT,
     .def = "0",
     .offset = AOFF(keep),
     .min = 0,
     .max = 100000,
     .desc = "Rotated audit files kept; 0 keeps every one (audit data is never deleted)."},
    {.name = "queue",
     .type = POLICY_T_INT,
     .def = "65536",
     .offset = AOFF(queue),
     .min = 64,
     .max = 1048576,
     .desc = "Records waiting for the audit writer; past it requests are counted as dropped "
             "(and the count written into the chain), never delayed."},
};
static const struct policy_table audit_table = {audit_keys, NKEYS(audit_keys), 0, 0, 0};

static const struct policy_key root_keys[] = {
    {.name = "listen",
     .type = POLICY_T_ADDR,
     .def = "127.0.0.1:8080",
     .offset = OFF(listen),
     .desc = "Address and port of the HTTP listener (port 0: any free port, logged)."},
    {.name = "workers",
     .type = POLICY_T_INT,
     .def = "0",
     .offset = OFF(workers),
     .min = 0,
     .max = 256,
     .desc = "Worker threads, one event loop each; 0 means one per core."},
    {.name = "log",
     .type = POLICY_T_SECTION,
     .offset = OFF(log),
     .sub = &log_table,
     .desc = "Logging."},
    {.name = "limits",
     .type = POLICY_T_SECTION,
     .offset = OFF(limits),
     .sub = &limits_table,
     .desc = "Hard caps and timeouts for client connections."},
    {.name = "tls",
     .type = POLICY_T_SECTION,
     .offset = OFF(tls),
     .sub = &tls_table,
     .desc = "Optional TLS on the listener."},
    {.name = "ca_file",
     .type = POLICY_T_PATH,
     .offset = OFF(ca_file),
     .desc = "PEM bundle to verify upstream certificates (default: the system bundle)."},
    {.name = "default_upstream",
     .type = POLICY_T_STR,
     .def = "openai",
     .offset = OFF(default_upstream),
     .has_loc = true,
     .loc_offset = OFF(default_upstream_loc),
     .desc = "Upstream for requests that match no route; they pass through unchanged."},
    {.name = "upstreams",
     .type = POLICY_T_MAP,
     .offset = OFF(upstreams),
     .count_offset = OFF(n_upstreams),
     .sub = &upstream_table,
     .desc = "Providers by name. Built in: openai (https://api.openai.com) and anthropic "
             "(https://api.anthropic.com)."},
    {.name = "routes",
     .type = POLICY_T_LIST,
     .offset = OFF(routes),
     .count_offset = OFF(n_routes),
     .sub = &route_table,
     .desc = "Path to upstream. Routes from a file go before the built-in ones; the first "
             "match wins."},
    {.name = "prompt_guard",
     .type = POLICY_T_SECTION,
     .offset = OFF(prompt_guard),
     .sub = &prompt_table,
     .desc = "Prompt-injection guard on requests."},
    {.name = "output_guard",
     .type = POLICY_T_SECTION,
     .offset = OFF(output_guard),
     .sub = &output_table,
     .desc = "Personal data, credential and JSON-schema guard on responses."},
    {.name = "otlp",
     .type = POLICY_T_SECTION,
     .offset = OFF(otlp),
     .sub = &otlp_table,
     .desc = "OpenTelemetry export (OTLP/HTTP, protobuf) of spans and metrics."},
    {.name = "audit",
     .type = POLICY_T_SECTION,
     .offset = OFF(audit),
     .sub = &audit_table,
     .desc = "Tamper-evident audit log."},
};

const struct policy_table policy_config_table = {root_keys, NKEYS(root_keys), 0, 0, 0};

const char *policy_type_name(enum policy_type type)
{
    static const char *const names[] = {
        [POLICY_T_STR] = "string",
        [POLICY_T_PATH] = "file",
        [POLICY_T_INT] = "integer",
        [POLICY_T_BOOL] = "boolean",
        [POLICY_T_FLOAT] = "number",
        [POLICY_T_DURATION] = "duration",
        [POLICY_T_SIZE] = "size",
        [POLICY_T_ENUM] = "one of",
        [POLICY_T_ADDR] = "host:port",
        [POLICY_T_URL] = "URL",
        [POLICY_T_SECTION] = "mapping",
        [POLICY_T_MAP] = "mapping of name to mapping",
        [POLICY_T_LIST] = "list of mappings",
    };
    if ((unsigned)type >= sizeof(names) / sizeof(names[0]))
        return "value";
    return names[type];
}

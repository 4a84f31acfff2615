/* Configuration: the key table, YAML loading in layers, validation, docs; immutable snapshots. */
#ifndef WARDEN_POLICY_CONFIG_H
#define WARDEN_POLICY_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Where a value came from: a file position, or the command line (line 0). */
struct policy_loc {
    const char *source; /* interned in the config; "command line" for flags */
    uint32_t line, col; /* 1-based; 0 when not from a file */
};

/* An http(s) URL split for connecting: base_path has no trailing '/' ("" for none). */
struct policy_url {
    char *text;
    bool tls;
    char *host;
    uint16_t port;
    char *base_path;
};

/* host:port for listening; host "" means every address. */
struct policy_addr {
    char *text;
    char *host;
    uint16_t port;
};

struct policy_upstream {
    char *name;
    struct policy_loc loc;
    struct policy_url url;
    char *api_key_env;
    char *ca_file;
};

/* An action for one output finding type (output_guard.types.NAME). */
struct policy_output_type {
    char *name;
    struct policy_loc loc;
    int action; /* enum policy_output_action */
};

/* What the output guard does with a finding: the order of the `choices` in the key table. */
enum policy_output_action {
    POLICY_OUT_REDACT = 0,
    POLICY_OUT_BLOCK,
    POLICY_OUT_LOG,
};

struct guard_schema;

struct policy_route {
    struct policy_loc loc;
    char *path; /* exact path, or a prefix when it ends with '*' */
    char *upstream;
    char *output_schema;         /* a JSON Schema file the answers on this route must follow */
    struct guard_schema *schema; /* output_schema compiled by policy_config_validate */
};

/* What a guard's verdict does to the request. */
enum policy_action {
    POLICY_ACTION_BLOCK = 0,
    POLICY_ACTION_FLAG,
    POLICY_ACTION_LOG,
};

enum policy_log_format {
    POLICY_LOG_TEXT = 0,
    POLICY_LOG_JSON,
};

enum policy_log_level {
    POLICY_LOG_ERROR = 0,
    POLICY_LOG_WARN,
    POLICY_LOG_INFO,
    POLICY_LOG_DEBUG,
};

/* The whole configuration. Built by policy_config_new and the load/set calls, checked
 * by policy_config_validate, then shared read-only (refcounted) by every worker. */
struct policy_config {
    atomic_int refs;
    char **sources; /* interned source names for policy_loc */
    size_t n_sources;

    struct policy_addr listen;
    int64_t workers; /* 0: one per core */
    struct {
        int level;   /* enum policy_log_level */
        int format;  /* enum policy_log_format */
        bool access; /* one line per request (event "access") */
    } log;
    struct {
        int64_t max_header_bytes;
        int64_t max_body_bytes;
        int64_t client_header_timeout_ms;
        int64_t client_body_timeout_ms;
        int64_t keepalive_timeout_ms;
        int64_t send_timeout_ms;
        int64_t drain_timeout_ms;
        int64_t max_connections;
        int64_t upstream_connect_timeout_ms;
        int64_t upstream_first_byte_timeout_ms;
        int64_t upstream_read_timeout_ms;
        int64_t upstream_idle_timeout_ms;
        int64_t upstream_idle_max;
    } limits;
    struct {
        char *cert;
        char *key;
        struct policy_loc cert_loc;
    } tls;
    char *ca_file;
    char *default_upstream;
    struct policy_loc default_upstream_loc;
    struct policy_upstream *upstreams;
    size_t n_upstreams;
    struct policy_route *routes;
    size_t n_routes;
    struct {
        bool enabled;
        char *rules_dir;
        char *cache_dir;
        double block_threshold;
        double warn_threshold;
        bool scan_system;
        int on_block; /* enum policy_action */
        int on_warn;
        int64_t decode_budget;
        struct policy_loc warn_threshold_loc;
        struct policy_loc block_threshold_loc;
    } prompt_guard;
    struct {
        bool enabled;
        char *rules_dir;
        int pii;     /* enum policy_output_action */
        int secrets; /* enum policy_output_action */
        struct policy_output_type *types;
        size_t n_types;
        int64_t holdback;
        int64_t max_hold;
        int64_t max_body_bytes;
        int on_schema; /* enum policy_action: block, flag or log */
        bool canary;   /* a canary token in system prompts; the output must not repeat it */
    } output_guard;
    struct {
        /* Unset strings and zero numbers fall back to the OTEL_* environment variables. */
        bool enabled;
        char *endpoint;        /* base URL: /v1/traces and /v1/metrics are added */
        char *traces_endpoint; /* full URLs, per signal */
        char *metrics_endpoint;
        char *headers; /* "k=v,k2=v2" */
        char *service_name;
        char *resource_attributes; /* "k=v,k2=v2" */
        char *sampler;             /* always_on ... parentbased_traceidratio */
        double sampler_arg;        /* < 0: unset */
        int64_t export_interval_ms;
        int64_t timeout_ms;
    } otlp;
    struct {
        char *path; /* the audit log; NULL: off */
        char *key;  /* "hex:..." or raw; WARDEN_AUDIT_KEY when NULL */
        int64_t max_bytes;
        int64_t keep;
        int64_t queue;
        struct policy_loc path_loc;
    } audit;
};

/* A complete error line: "file:line:column: key: what is wrong". */
struct policy_error {
    char msg[640];
};

/* A configuration holding the built-in defaults: the key table's, then the embedded
 * default document. NULL only when out of memory. Free with policy_config_unref. */
struct policy_config *policy_config_new(void);

/* Merge a YAML document over `cfg`. Scalars replace, upstreams merge by name, routes are
 * put before the existing ones (first match wins). The document is limited to 1 MiB and
 * nesting depth 16; anchors and aliases are refused. On error cfg may hold part of the
 * layer: throw it away. Returns 0, -EINVAL (bad content) or -EIO/-EFBIG for the file. */
int policy_config_load_file(struct policy_config *cfg, const char *path, struct policy_error *err);
int policy_config_load_buffer(struct policy_config *cfg, const char *name, const char *buf,
                              size_t len, struct policy_error *err);

/* Set one key by dotted path ("listen", "upstreams.vllm.url", "limits.max_body_bytes")
 * from text, as given on the command line; `flag` names the flag for error messages. */
int policy_config_set(struct policy_config *cfg, const char *flag, const char *key,
                      const char *value, struct policy_error *err);

/* Checks that need the whole configuration (references between keys, files that must
 * exist). Returns 0 or -EINVAL with the location of the offending value. */
int policy_config_validate(struct policy_config *cfg, struct policy_error *err);

/* Look up an upstream by name; NULL when there is none. */
const struct policy_upstream *policy_config_upstream(const struct policy_config *cfg,
                                                     const char *name);

struct policy_config *policy_config_ref(struct policy_config *cfg);
void policy_config_unref(struct policy_config *cfg);

/* Markdown reference of every key (name, type, default, description), from the table. */
void policy_config_write_docs(FILE *out);

/* The embedded default document (policy/default.yaml), NUL-terminated. */
extern const char policy_default_yaml[];
extern const size_t policy_default_yaml_len;

#endif

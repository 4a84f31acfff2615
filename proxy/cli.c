/* The `warden` command line: subcommands, usage, exit codes (0 ok, 1 findings, 2 usage). */
#include "proxy/cli.h"

#include "policy/config.h"
#include "proxy/server.h"
#include "telemetry/log.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <llhttp.h>
#include <mbedtls/version.h>

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0.1.0"
#endif

#define CLI_MAX_FLAGS 64

struct cli_cmd {
    const char *name;
    const char *summary;
    const char *usage; /* the full --help text */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv);
    const char *later; /* non-NULL: the capability is not built yet; what it is */
};

static int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One clear line on stderr, exit code 2. */
static int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("warden: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PROXY_EXIT_USAGE;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/* ---------------------------------------------------------------- serve */

struct cli_flag {
    const char *flag; /* "--listen" */
    const char *key;  /* configuration key, or NULL when `value` is "KEY=VALUE" */
    const char *value;
    char buf[160]; /* key built from --upstream NAME=URL */
};

struct serve_opts {
    const char *config;
    struct cli_flag flags[CLI_MAX_FLAGS];
    size_t n_flags;
};

static int add_flag(struct serve_opts *o, const char *flag, const char *key, const char *value)
{
    if (o->n_flags >= CLI_MAX_FLAGS)
        return cli_fail("%s: too many flags (at most %d)", flag, CLI_MAX_FLAGS);
    struct cli_flag *f = &o->flags[o->n_flags++];
    f->flag = flag;
    f->key = key;
    f->value = value;
    return 0;
}

/* Split "NAME=VALUE" flags into key and value; --upstream NAME=URL sets upstreams.NAME.url. */
static int flag_resolve(struct cli_flag *f)
{
    const char *eq = strchr(f->value, '=');
    if (f->key)
        return 0;
    if (eq == NULL || eq == f->value)
        return cli_fail("%s %s: expected %s", f->flag, f->value,
                        strcmp(f->flag, "--upstream") == 0 ? "NAME=URL" : "KEY=VALUE");
    if (strcmp(f->flag, "--upstream") == 0)
        snprintf(f->buf, sizeof(f->buf), "upstreams.%.*s.url", (int)(eq - f->value), f->value);
    else
        snprintf(f->buf, sizeof(f->buf), "%.*s", (int)(eq - f->value), f->value);
    f->key = f->buf;
    f->value = eq + 1;
    return 0;
}

/* Defaults, then the file, then the flags; then the whole-configuration checks. */
static int load_config(struct serve_opts *o, struct policy_config **out)
{
    struct policy_error err;
    struct policy_config *cfg = policy_config_new();
    int rc = 0;
    if (cfg == NULL)
        return cli_fail("out of memory");
    if (o->config && policy_config_load_file(cfg, o->config, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
    for (size_t i = 0; i < o->n_flags; i++) {
        struct cli_flag *f = &o->flags[i];
        if ((rc = flag_resolve(f)) != 0)
            goto out;
        if (policy_config_set(cfg, f->flag, f->key, f->value, &err) != 0) {
            rc = cli_fail("%s", err.msg);
            goto out;
        }
    }
    if (policy_config_validate(cfg, &err) != 0) {
        rc = cli_fail("%s", err.msg);
        goto out;
    }
out:
    if (rc != 0) {
        policy_config_unref(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

static int parse_serve_opts(int argc, char **argv, struct serve_opts *o, const char *cmd)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},   {"listen", required_argument, NULL, 'l'},
        {"upstream", required_argument, NULL, 'u'}, {"ca-file", required_argument, NULL, 'a'},
        {"workers", required_argument, NULL, 'w'},  {"audit", required_argument, NULL, 'A'},
        {"set", required_argument, NULL, 's'},      {NULL, 0, NULL, 0},
    };
    int ch, rc = 0;
    opterr = 0;
    optind = 1;
    while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'l':
            rc = add_flag(o, "--listen", "listen", optarg);
            break;
        case 'u':
            rc = add_flag(o, "--upstream", NULL, optarg);
            break;
        case 'a':
            rc = add_flag(o, "--ca-file", "ca_file", optarg);
            break;
        case 'w':
            rc = add_flag(o, "--workers", "workers", optarg);
            break;
        case 's':
            rc = add_flag(o, "--set", NULL, optarg);
            break;
        case 'A':
            rc = add_flag(o, "--audit", "audit.path", optarg);
            break;
        case ':':
            return cli_fail("%s: %s needs a value (see warden %s --help)", cmd, argv[optind - 1],
                            cmd);
        default:
            return cli_fail("%s: unknown option '%s' (see warden %s --help)", cmd, argv[optind - 1],
                            cmd);
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return cli_fail("%s: unexpected argument '%s' (see warden %s --help)", cmd, argv[optind],
                        cmd);
    return 0;
}

static void setup_logging(const struct policy_config *cfg)
{
    tel_log_setup((enum tel_log_level)cfg->log.level,
                  cfg->log.format == POLICY_LOG_JSON ? TEL_LOG_JSON : TEL_LOG_TEXT, 2);
}

static int cmd_serve(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct serve_opts o = {0};
    struct policy_config *cfg = NULL;
    struct proxy_server *srv = NULL;
    sigset_t sigs;
    int sig = 0, rc = parse_serve_opts(argc, argv, &o, cmd->name);
    if (rc != 0)
        return rc;
    if ((rc = load_config(&o, &cfg)) != 0)
        return rc;
    setup_logging(cfg);
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    rc = proxy_server_start(cfg, &srv);
    if (rc != 0) {
        rc = proxy_server_error()[0] ? cli_fail("serve: %s", proxy_server_error())
                                     : cli_fail("serve: cannot start: %s", strerror(-rc));
        policy_config_unref(cfg);
        return rc;
    }
    /* First SIGTERM/SIGINT: drain. A second one: stop now. SIGHUP reloads the rules. */
    for (;;) {
        sigwait(&sigs, &sig);
        if (sig != SIGHUP)
            break;
        char why[700];
        int r = proxy_server_reload_rules(srv, why, sizeof(why));
        if (r < 0)
            tel_log(TEL_LOG_ERROR, "reload_failed", TEL_STR("detail", why),
                    TEL_STR("kept", "the running rule set"));
        else if (r > 0)
            tel_log(TEL_LOG_INFO, "reload_skipped",
                    TEL_STR("detail", "the prompt guard is off; configuration changes need a "
                                      "restart"));
        else
            tel_log(TEL_LOG_INFO, "rules_reloaded",
                    TEL_STR("detail", "prompt rules reloaded; other configuration changes "
                                      "need a restart"));
    }
    tel_log(TEL_LOG_INFO, "shutdown", TEL_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
            TEL_INT("drain_timeout_ms", cfg->limits.drain_timeout_ms));
    proxy_server_drain(srv);
    while (proxy_server_running(srv)) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            tel_log(TEL_LOG_WARN, "shutdown_now",
                    TEL_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
            proxy_server_stop_now(srv);
        }
    }
    proxy_server_wait(srv);
    tel_log(TEL_LOG_INFO, "stopped");
    policy_config_unref(cfg);
    return PROXY_EXIT_OK;
}

/* ---------------------------------------------------------------- policy */

static int cmd_policy(const struct cli_cmd *cmd, int argc, char **argv)
{
    struct policy_error err;
    (void)cmd;
    if (argc >= 2 && strcmp(argv[1], "docs") == 0 && argc == 2) {
        policy_config_write_docs(stdout);
        return fflush(stdout) == 0 ? PROXY_EXIT_OK : PROXY_EXIT_USAGE;
    }
    if (argc != 3 || strcmp(argv[1], "check") != 0)
        return cli_fail("policy: expected 'policy check FILE' or 'policy docs' (see warden "
                        "policy --help)");
    struct policy_config *cfg = policy_config_new();
    if (cfg == NULL)
        return cli_fail("out of memory");
    int rc = policy_config_load_file(cfg, argv[2], &err);
    if (rc == 0)
        rc = policy_config_validate(cfg, &err);
    policy_config_unref(cfg);
    if (rc != 0)
        return cli_fail("%s", err.msg);
    printf("%s: ok\n", argv[2]);
    return PROXY_EXIT_OK;
}

/* ---------------------------------------------------------------- version, help */

static int cmd_version(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    (void)argv;
    if (argc > 1)
        return cli_fail("version: takes no arguments");
    printf("warden %s\nlibevent %s\nllhttp %d.%d.%d\nmbedTLS %s\n", WARDEN_VERSION,
           event_get_version(), LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH,
           MBEDTLS_VERSION_STRING);
    return PROXY_EXIT_OK;
}

static int cmd_scan_deps(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return proxy_cli_scan_deps(argc, argv);
}

static int cmd_scan_prompt(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return proxy_cli_scan_prompt(argc, argv);
}

static int cmd_scan_output(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return proxy_cli_scan_output(argc, argv);
}

static int cmd_rules(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return proxy_cli_rules(argc, argv);
}

static int cmd_audit(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    return proxy_cli_audit(argc, argv);
}

static int cmd_help(const struct cli_cmd *cmd, int argc, char **argv);

static const struct cli_cmd commands[] = {
    {"serve", "run the proxy and firewall",
     "usage: warden serve [--config FILE] [--listen ADDR:PORT] [--upstream NAME=URL]...\n"
     "                    [--ca-file FILE] [--workers N] [--audit FILE] [--set KEY=VALUE]...\n"
     "\n"
     "Run the reverse proxy. Applications point their OpenAI or Anthropic base_url at it.\n"
     "\n"
     "  --config FILE        YAML configuration merged over the embedded defaults\n"
     "  --listen ADDR:PORT   listener address (default 127.0.0.1:8080; port 0 picks one)\n"
     "  --upstream NAME=URL  set or add an upstream (e.g. openai=https://api.openai.com)\n"
     "  --ca-file FILE       PEM bundle for verifying upstream certificates\n"
     "  --workers N          worker threads, one event loop each (0: one per core)\n"
     "  --audit FILE         tamper-evident audit log (HMAC key from WARDEN_AUDIT_KEY)\n"
     "  --set KEY=VALUE      set any configuration key by its dotted name\n"
     "\n"
     "Flags override the configuration file, which overrides the defaults. SIGTERM or\n"
     "SIGINT stops accepting and lets requests in flight finish (limits.drain_timeout).\n"
     "Exit status: 0 after a clean stop, 2 on a usage or configuration error.\n",
     cmd_serve, NULL},
    {"scan-prompt", "score a prompt for injection and jailbreaks",
     "usage: warden scan-prompt [--text T | FILE | -] [--json] [--batch]\n"
     "\n"
     "Score text with the prompt guard.\n"
     "\n"
     "  --text T   the text to scan (otherwise FILE, or - for standard input)\n"
     "  --json     print the verdict as JSON\n"
     "  --batch    read JSON lines {\"id\",\"text\"}, write one verdict per line\n"
     "\n"
     "  --config FILE  thresholds and rules_dir from this configuration\n"
     "  --rules DIR    prompt rule files to use instead of the built-in set\n"
     "  --threads N    --batch threads (default: one per core)\n"
     "\n"
     "Exit status: 0 pass or warn, 1 blocked (in --batch: any input blocked), 2 usage\n"
     "error.\n",
     cmd_scan_prompt, NULL},
    {"scan-output", "check model output for PII, secrets and schema",
     "usage: warden scan-output [--text T | FILE | -] [--schema FILE] [--json] [--batch]\n"
     "\n"
     "Check text with the output guard (PII, credentials, JSON schema).\n"
     "\n"
     "  --text T       the text to scan (otherwise FILE, or - for standard input)\n"
     "  --schema FILE  JSON Schema (draft 2020-12) the output must satisfy\n"
     "  --json         print the result as JSON\n"
     "  --batch        read JSON lines {\"id\",\"text\"}, write one result per line:\n"
     "                 "
     "{\"id\",\"findings\":[{\"type\",\"start\",\"end\",\"action\"}],\"redacted\"}\n"
     "                 (offsets in Unicode code points)\n"
     "\n"
     "  --config FILE  actions and rules_dir from this configuration (output_guard)\n"
     "  --rules DIR    output detector files to use instead of the built-in set\n"
     "  --threads N    --batch threads (default: one per core)\n"
     "\n"
     "Without --json: one line per finding (TYPE start-end action), then the text with\n"
     "every finding replaced by [REDACTED:TYPE].\n"
     "Exit status: 0 clean, 1 findings or invalid, 2 usage error.\n",
     cmd_scan_output, NULL},
    {"scan-deps", "scan an npm/pnpm/yarn project for supply-chain attacks",
     "usage: warden scan-deps DIR [--format F] [-o FILE] [--fail-on SEV]\n"
     "                        [--deterministic-output] [--verify-determinism]\n"
     "                        [--baseline FILE]\n"
     "       warden scan-deps --diff A.json B.json\n"
     "\n"
     "Scan a project's manifests, lockfile (npm, pnpm, yarn), .npmrc, pnpm-workspace.yaml,\n"
     "workspace packages and installed node_modules, offline, with the built-in corpus.\n"
     "\n"
     "  --format F               json (default), table, sarif (SARIF 2.1.0), cyclonedx\n"
     "                           (CycloneDX 1.6) or github (workflow annotations)\n"
     "  -o FILE                  write the report to FILE (- or none: standard output)\n"
     "  --fail-on SEV            exit 1 only for findings at or above SEV (info, low,\n"
     "                           medium, high, critical; default info: any finding)\n"
     "  --deterministic-output   leave out the timestamp and duration (byte-identical runs)\n"
     "  --verify-determinism     scan twice, compare the SHA-256 of both reports\n"
     "  --baseline FILE          drop findings whose fingerprint is in FILE (an earlier\n"
     "                           JSON report)\n"
     "  --diff A B               print findings added (+) and removed (-) from report A to B\n"
     "\n"
     "Exit status: 0 no findings at or above --fail-on (--diff: no difference), 1 findings\n"
     "(--diff: differences), 2 usage or input error.\n",
     cmd_scan_deps, NULL},
    {"rules", "list the detection rules, or test them against their examples",
     "usage: warden rules [--json]\n"
     "       warden rules test\n"
     "\n"
     "List the detection rules (prompt rules, then output detectors), or check every\n"
     "rule against its match / no_match examples through the whole engine\n"
     "(normalisation, decoders, streams, validators).\n"
     "\n"
     "  --json                list as JSON (the body of GET /v1/rules)\n"
     "  --config FILE         rules_dir and output_guard.rules_dir from this configuration\n"
     "  --rules DIR           prompt rule files to use instead of the built-in set\n"
     "  --output-rules DIR    output detector files to use instead of the built-in set\n"
     "  -v             test: print every example checked\n"
     "\n"
     "Exit status: 0 ok, 1 an example failed, 2 usage or rule file error.\n",
     cmd_rules, NULL},
    {"policy", "check a configuration file, or print the configuration reference",
     "usage: warden policy check FILE\n"
     "       warden policy docs\n"
     "\n"
     "check: load FILE over the embedded defaults and run every check that serve runs.\n"
     "       Prints 'FILE: ok' and exits 0, or prints file:line:column: key: problem and\n"
     "       exits 2.\n"
     "docs:  print the reference of every configuration key (Markdown).\n",
     cmd_policy, NULL},
    {"audit", "verify or print a tamper-evident audit log",
     "usage: warden audit verify [--key-file FILE] [--allow-unsealed] FILE...\n"
     "       warden audit cat FILE...\n"
     "\n"
     "verify: check the HMAC chain of FILE and its rotated files, in any order (key from\n"
     "        --key-file or WARDEN_AUDIT_KEY: raw text, or hex:HEX); --allow-unsealed\n"
     "        accepts a log still being written. Exit 1 naming the first bad record.\n"
     "cat:    print the records of FILE as JSON lines (no key needed).\n"
     "Exit status: 0 ok, 1 chain broken or file truncated, 2 usage error.\n",
     cmd_audit, NULL},
    {"version", "print the version of Warden and its libraries", "usage: warden version\n",
     cmd_version, NULL},
    {"help", "show help for a command", "usage: warden help [COMMAND]\n", cmd_help, NULL},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void print_overview(FILE *out)
{
    fputs("usage: warden COMMAND [OPTIONS]\n\n"
          "Warden: an inline LLM firewall for OpenAI and Anthropic traffic.\n\n"
          "Commands:\n",
          out);
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun 'warden COMMAND --help' for a command's options.\n"
          "Exit status: 0 ok, 1 findings or blocked, 2 usage or configuration error.\n",
          out);
}

static const struct cli_cmd *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static int cmd_help(const struct cli_cmd *cmd, int argc, char **argv)
{
    (void)cmd;
    if (argc < 2) {
        print_overview(stdout);
        return PROXY_EXIT_OK;
    }
    const struct cli_cmd *c = find_command(argv[1]);
    if (c == NULL)
        return cli_fail("help: unknown command '%s' (see warden --help)", argv[1]);
    fputs(c->usage, stdout);
    return PROXY_EXIT_OK;
}

int proxy_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        print_overview(stderr);
        return PROXY_EXIT_USAGE;
    }
    if (is_help(argv[1])) {
        print_overview(stdout);
        return PROXY_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(NULL, 1, argv);
    const struct cli_cmd *c = find_command(argv[1]);
    if (c == NULL)
        return cli_fail("unknown command '%s' (see warden --help)", argv[1]);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (is_help(argv[i])) {
            fputs(c->usage, stdout);
            return PROXY_EXIT_OK;
        }
    }
    return c->run(c, argc - 1, argv + 1);
}

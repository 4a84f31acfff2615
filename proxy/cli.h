/* The `warden` command line: subcommands, usage, exit codes (0 ok, 1 findings, 2 usage). */
#ifndef WARDEN_PROXY_CLI_H
#define WARDEN_PROXY_CLI_H

enum proxy_exit {
    PROXY_EXIT_OK = 0,
    PROXY_EXIT_FINDINGS = 1, /* findings, or a request/verdict that was blocked */
    PROXY_EXIT_USAGE = 2,    /* usage or configuration error, or not available */
};

/* Run the command line; returns the process exit code. */
int proxy_cli_main(int argc, char **argv);

/* proxy/cli_scan.c: `warden scan-prompt`, `warden scan-output` and `warden rules` (argv[0] is
 * the command). */
int proxy_cli_scan_prompt(int argc, char **argv);
int proxy_cli_scan_output(int argc, char **argv);
int proxy_cli_rules(int argc, char **argv);

/* proxy/cli_deps.c: `warden scan-deps` (argv[0] is "scan-deps"). */
int proxy_cli_scan_deps(int argc, char **argv);

/* proxy/cli_audit.c: `warden audit verify|cat` (argv[0] is "audit"). */
int proxy_cli_audit(int argc, char **argv);

#endif

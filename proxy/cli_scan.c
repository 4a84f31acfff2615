/* `warden scan-prompt` and `warden scan-output` (one text, or JSON lines on every core) and
 * `warden rules`. */
#include "proxy/cli.h"

#include "policy/config.h"
#include "guards/schema.h"
#include "policy/rules.h"
#include "proxy/http.h"
#include "proxy/scan.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#define BATCH_LINES 8192
#define BATCH_BYTES (64u * 1024 * 1024)

static int scan_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int scan_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "warden: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return PROXY_EXIT_USAGE;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The configuration (for thresholds, actions and rules directories) and the compiled rules:
 * the prompt set, the output set, or both. */
struct scan_env {
    struct policy_config *cfg;
    struct policy_rules *rules;
    struct policy_rules *out_rules;
    struct guard_output_policy out_pol; /* the configured actions */
};

enum { ENV_PROMPT = 1, ENV_OUTPUT = 2 };

static void scan_env_free(struct scan_env *e)
{
    policy_rules_free(e->rules);
    policy_rules_free(e->out_rules);
    policy_config_unref(e->cfg);
}

static int scan_env_load(const char *cmd, const char *config, const char *rules_dir,
                         const char *out_rules_dir, unsigned sets, struct scan_env *e)
{
    struct policy_error err;
    memset(e, 0, sizeof(*e));
    if ((e->cfg = policy_config_new()) == NULL)
        return scan_fail(cmd, "out of memory");
    if (config && (policy_config_load_file(e->cfg, config, &err) != 0 ||
                   policy_config_validate(e->cfg, &err) != 0))
        return scan_fail(cmd, "%s", err.msg);
    if (sets & ENV_PROMPT) {
        const char *dir = rules_dir ? rules_dir : e->cfg->prompt_guard.rules_dir;
        char cache[PATH_MAX];
        const char *cdir = policy_cache_dir(e->cfg->prompt_guard.cache_dir, cache, sizeof(cache));
        if (policy_rules_load(POLICY_RULES_PROMPT, dir, cdir, &e->rules, &err) != 0)
            return scan_fail(cmd, "%s", err.msg);
    }
    if (sets & ENV_OUTPUT) {
        const char *dir = out_rules_dir ? out_rules_dir : e->cfg->output_guard.rules_dir;
        char cache[PATH_MAX];
        const char *cdir = policy_cache_dir(e->cfg->prompt_guard.cache_dir, cache, sizeof(cache));
        if (policy_rules_load(POLICY_RULES_OUTPUT, dir, cdir, &e->out_rules, &err) != 0 ||
            policy_output_policy(e->cfg, e->out_rules, &e->out_pol, &err) != 0)
            return scan_fail(cmd, "%s", err.msg);
    }
    return 0;
}

/* Read a whole file or standard input, capped. */
static int read_all(const char *path, struct evbuffer *b, const char *cmd)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char buf[65536];
    size_t n;
    if (f == NULL)
        return scan_fail(cmd, "%s: %s", path, strerror(errno));
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (evbuffer_get_length(b) + n > PROXY_SCAN_TEXT_MAX) {
            if (f != stdin)
                fclose(f);
            return scan_fail(cmd, "%s: larger than %u bytes", path, PROXY_SCAN_TEXT_MAX);
        }
        evbuffer_add(b, buf, n);
    }
    bool bad = ferror(f);
    if (f != stdin)
        fclose(f);
    return bad ? scan_fail(cmd, "%s: read error", path) : 0;
}

/* ---------------------------------------------------------------- batch */

struct batch_line {
    const char *text; /* the raw JSON line */
    size_t len;
    size_t lineno;
    struct evbuffer *out;
    bool blocked;
};

struct batch;

/* What a batch does with each line: per-thread state and one line's answer. */
struct batch_ops {
    const char *cmd;
    const char *field; /* the request member holding the text */
    void *(*worker_new)(const struct scan_env *env);
    void (*worker_free)(void *w);
    /* Scan `text` (the request's field) and write the answer line for `id` (raw JSON, or
     * NULL) to l->out, setting l->blocked. */
    void (*one)(struct batch *bt, struct batch_line *l, void *w, const char *text, size_t n,
                const char *id, size_t id_len);
};

struct batch {
    const struct scan_env *env;
    const struct batch_ops *ops;
    struct batch_line *lines;
    size_t n;
    atomic_size_t next;
};

struct prompt_worker {
    struct guard_prompt_scratch *scratch;
    struct guard_prompt_scan *scan;
};

static void prompt_worker_free(void *arg)
{
    struct prompt_worker *w = arg;
    if (w == NULL)
        return;
    guard_prompt_scan_free(w->scan);
    guard_prompt_scratch_free(w->scratch);
    free(w);
}

static void *prompt_worker_new(const struct scan_env *env)
{
    struct prompt_worker *w = calloc(1, sizeof(*w));
    struct guard_prompt_limits lim = {.decode_budget = (size_t)env->cfg->prompt_guard.decode_budget,
                                      .no_decode = env->cfg->prompt_guard.decode_budget == 0};
    if (w == NULL || (w->scratch = guard_prompt_scratch_new(env->rules->db)) == NULL ||
        (w->scan = guard_prompt_scan_new(env->rules->db, &lim)) == NULL) {
        prompt_worker_free(w);
        return NULL;
    }
    return w;
}

static void prompt_one(struct batch *bt, struct batch_line *l, void *arg, const char *text,
                       size_t n, const char *id, size_t id_len)
{
    struct prompt_worker *w = arg;
    struct guard_prompt_verdict v;
    const struct policy_config *cfg = bt->env->cfg;
    if (guard_prompt_scan_block(w->scan, w->scratch, text, n, cfg->prompt_guard.warn_threshold,
                                cfg->prompt_guard.block_threshold, &v) != 0) {
        evbuffer_add_printf(l->out, "{\"id\":null,\"error\":\"line %zu: scan failed\"}\n",
                            l->lineno);
        return;
    }
    l->blocked = v.kind == GUARD_PROMPT_BLOCK;
    proxy_scan_prompt_batch_json(l->out, bt->env->rules, &v, id, id_len);
}

static const struct batch_ops prompt_batch = {
    "scan-prompt", "text", prompt_worker_new, prompt_worker_free, prompt_one,
};

struct output_worker {
    struct guard_output_scratch *scratch;
    struct guard_output_stream *st;
    struct guard_output_policy scan_pol; /* blocks become redactions: see the whole text */
};

static void output_worker_free(void *arg)
{
    struct output_worker *w = arg;
    if (w == NULL)
        return;
    guard_output_stream_free(w->st);
    guard_output_scratch_free(w->scratch);
    free(w);
}

static void *output_worker_new(const struct scan_env *env)
{
    struct output_worker *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->scratch = guard_output_scratch_new(env->out_rules->out_db)) == NULL ||
        (w->st = guard_output_stream_new(env->out_rules->out_db, NULL)) == NULL) {
        output_worker_free(w);
        return NULL;
    }
    proxy_scan_output_policy(&env->out_pol, &w->scan_pol);
    return w;
}

static void output_one(struct batch *bt, struct batch_line *l, void *arg, const char *text,
                       size_t n, const char *id, size_t id_len)
{
    struct output_worker *w = arg;
    if (proxy_scan_output_text(w->st, w->scratch, &w->scan_pol, text, n) != 0) {
        evbuffer_add_printf(l->out, "{\"id\":null,\"error\":\"line %zu: scan failed\"}\n",
                            l->lineno);
        return;
    }
    l->blocked = proxy_scan_output_verdict(w->st, bt->env->out_rules, &bt->env->out_pol) ==
                 PROXY_SCAN_OUT_BLOCK;
    proxy_scan_output_batch_json(l->out, bt->env->out_rules, &bt->env->out_pol, w->st, id, id_len);
}

static const struct batch_ops output_batch = {
    "scan-output", "text", output_worker_new, output_worker_free, output_one,
};

static void batch_one(struct batch *bt, struct batch_line *l, void *w)
{
    struct proxy_scan_req req = {.text = evbuffer_new(), .id = evbuffer_new()};
    char why[200];
    if (req.text == NULL || req.id == NULL) {
        evbuffer_add_printf(l->out, "{\"id\":null,\"error\":\"out of memory\"}\n");
        goto out;
    }
    if (proxy_scan_req_parse(l->text, l->len, bt->ops->field, &req, why, sizeof(why)) != 0) {
        size_t idn = evbuffer_get_length(req.id);
        evbuffer_add(l->out, "{\"id\":", 6);
        if (idn)
            evbuffer_add_buffer(l->out, req.id);
        else
            evbuffer_add(l->out, "null", 4);
        evbuffer_add_printf(l->out, ",\"error\":\"line %zu: ", l->lineno);
        proxy_json_escape(l->out, why, SIZE_MAX);
        evbuffer_add(l->out, "\"}\n", 3);
        goto out;
    }
    size_t n = evbuffer_get_length(req.text);
    const char *text = (const char *)evbuffer_pullup(req.text, -1);
    size_t idn = evbuffer_get_length(req.id);
    bt->ops->one(bt, l, w, text ? text : "", n,
                 idn ? (const char *)evbuffer_pullup(req.id, -1) : NULL, idn);
out:
    if (req.text)
        evbuffer_free(req.text);
    if (req.id)
        evbuffer_free(req.id);
}

static void *batch_worker(void *arg)
{
    struct batch *bt = arg;
    void *w = bt->ops->worker_new(bt->env);
    size_t i;
    while ((i = atomic_fetch_add(&bt->next, 1)) < bt->n) {
        struct batch_line *l = &bt->lines[i];
        if (w == NULL)
            evbuffer_add_printf(l->out, "{\"id\":null,\"error\":\"out of memory\"}\n");
        else
            batch_one(bt, l, w);
    }
    bt->ops->worker_free(w);
    return NULL;
}

/* Run one block of lines on `threads` threads and print the results in input order. */
static int batch_run(struct batch *bt, unsigned threads, bool *any_blocked)
{
    pthread_t tid[256];
    unsigned started = 0;
    atomic_store(&bt->next, 0);
    for (; started < threads && started < 256; started++) {
        if (pthread_create(&tid[started], NULL, batch_worker, bt) != 0)
            break;
    }
    if (started == 0)
        batch_worker(bt);
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    for (size_t i = 0; i < bt->n; i++) {
        *any_blocked |= bt->lines[i].blocked;
        while (evbuffer_get_length(bt->lines[i].out) > 0) {
            if (evbuffer_write(bt->lines[i].out, STDOUT_FILENO) < 0)
                return -EIO;
        }
    }
    return 0;
}

static unsigned cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n < 256 ? (unsigned)n : 1;
}

static int scan_batch(const struct scan_env *env, const struct batch_ops *ops, unsigned threads)
{
    struct batch bt = {.env = env, .ops = ops};
    struct evbuffer *in = evbuffer_new();
    bool any_blocked = false, eof = false;
    size_t lineno = 0;
    int rc = 0;
    bt.lines = calloc(BATCH_LINES, sizeof(*bt.lines));
    if (in == NULL || bt.lines == NULL) {
        rc = scan_fail(ops->cmd, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < BATCH_LINES; i++) {
        if ((bt.lines[i].out = evbuffer_new()) == NULL) {
            rc = scan_fail(ops->cmd, "out of memory");
            goto out;
        }
    }
    for (;;) {
        /* Fill the block: whole lines, up to BATCH_LINES or BATCH_BYTES. */
        while (!eof && evbuffer_get_length(in) < BATCH_BYTES) {
            if (evbuffer_read(in, STDIN_FILENO, 1 << 20) <= 0)
                eof = true;
        }
        size_t len = evbuffer_get_length(in), off = 0;
        if (eof && len > 0 && evbuffer_search(in, "\n", 1, NULL).pos < 0) {
            evbuffer_add(in, "\n", 1); /* a last line without its newline */
            len++;
        }
        char *buf = (char *)evbuffer_pullup(in, -1);
        bt.n = 0;
        while (bt.n < BATCH_LINES && off < len) {
            char *nl = memchr(buf + off, '\n', len - off);
            if (nl == NULL)
                break;
            size_t l = (size_t)(nl - (buf + off));
            lineno++;
            bool blank = true;
            for (size_t k = 0; k < l && blank; k++)
                blank = buf[off + k] == ' ' || buf[off + k] == '\t' || buf[off + k] == '\r';
            if (!blank) {
                struct batch_line *bl = &bt.lines[bt.n++];
                bl->text = buf + off;
                bl->len = l;
                bl->lineno = lineno;
                bl->blocked = false;
            }
            off += l + 1;
        }
        if (off == 0) {
            if (eof)
                break;
            rc = scan_fail(ops->cmd, "line %zu: longer than %u bytes", lineno + 1, BATCH_BYTES);
            goto out;
        }
        if (batch_run(&bt, threads, &any_blocked) != 0) {
            rc = scan_fail(ops->cmd, "cannot write the results: %s", strerror(errno));
            goto out;
        }
        evbuffer_drain(in, off);
        if (eof && evbuffer_get_length(in) == 0)
            break;
    }
    rc = any_blocked ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
out:
    for (size_t i = 0; bt.lines && i < BATCH_LINES; i++) {
        if (bt.lines[i].out)
            evbuffer_free(bt.lines[i].out);
    }
    free(bt.lines);
    if (in)
        evbuffer_free(in);
    return rc;
}

/* ---------------------------------------------------------------- options */

/* The options scan-prompt and scan-output share (scan-output also takes --schema). */
struct scan_args {
    const char *text, *file, *config, *rules_dir, *schema;
    bool json, batch;
    unsigned threads;
};

/* Parse and check the command line of `cmd`. 0, or the exit code of a usage error. */
static int scan_args_parse(const char *cmd, int argc, char **argv, bool with_schema,
                           struct scan_args *a)
{
    static const struct option opts[] = {
        {"text", required_argument, NULL, 't'},    {"json", no_argument, NULL, 'j'},
        {"batch", no_argument, NULL, 'b'},         {"schema", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},  {"rules", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0},
    };
    int c;
    memset(a, 0, sizeof(*a));
    a->threads = cores();
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            a->text = optarg;
            break;
        case 'j':
            a->json = true;
            break;
        case 'b':
            a->batch = true;
            break;
        case 's':
            if (!with_schema)
                goto unknown;
            a->schema = optarg;
            break;
        case 'c':
            a->config = optarg;
            break;
        case 'r':
            a->rules_dir = optarg;
            break;
        case 'n': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256)
                return scan_fail(cmd, "--threads %s: expected 1 to 256", optarg);
            a->threads = (unsigned)v;
            break;
        }
        default:
        unknown:
            return scan_fail(cmd, "unknown option '%s' (see warden %s --help)", argv[optind - 1],
                             cmd);
        }
    }
    a->file = optind < argc ? argv[optind] : NULL;
    if (optind + 1 < argc)
        return scan_fail(cmd, "one input at most (got '%s' after '%s')", argv[optind + 1],
                         argv[optind]);
    if (a->batch && (a->text || (a->file && strcmp(a->file, "-") != 0)))
        return scan_fail(cmd, "--batch reads JSON lines from standard input only");
    if (a->batch && a->schema)
        return scan_fail(cmd, "--schema applies to one output, not to --batch");
    if (!a->batch && a->text && a->file)
        return scan_fail(cmd, "give --text or a FILE, not both");
    if (!a->batch && !a->text && !a->file)
        return scan_fail(cmd, "nothing to scan: give --text T, a FILE or - for stdin");
    return 0;
}

/* A file that cannot be read fails before the rule sets load (which may compile them). */
static int input_check(const char *path, const char *cmd)
{
    if (path == NULL || strcmp(path, "-") == 0 || access(path, R_OK) == 0)
        return 0;
    return scan_fail(cmd, "%s: %s", path, strerror(errno));
}

/* ---------------------------------------------------------------- scan-prompt */

int proxy_cli_scan_prompt(int argc, char **argv)
{
    struct scan_args a;
    struct scan_env env;
    int rc;
    if ((rc = scan_args_parse("scan-prompt", argc, argv, false, &a)) != 0)
        return rc;
    const char *text = a.text, *file = a.file;
    if ((rc = input_check(file, "scan-prompt")) != 0)
        return rc;
    if ((rc = scan_env_load("scan-prompt", a.config, a.rules_dir, NULL, ENV_PROMPT, &env)) != 0) {
        scan_env_free(&env);
        return rc;
    }
    if (a.batch) {
        rc = scan_batch(&env, &prompt_batch, a.threads);
        scan_env_free(&env);
        return rc;
    }
    struct evbuffer *in = evbuffer_new();
    struct evbuffer *out = evbuffer_new();
    struct guard_prompt_scratch *scratch = guard_prompt_scratch_new(env.rules->db);
    struct guard_prompt_limits lim = {.decode_budget = (size_t)env.cfg->prompt_guard.decode_budget,
                                      .no_decode = env.cfg->prompt_guard.decode_budget == 0};
    struct guard_prompt_scan *scan = guard_prompt_scan_new(env.rules->db, &lim);
    struct guard_prompt_verdict v;
    if (!in || !out || !scratch || !scan) {
        rc = scan_fail("scan-prompt", "out of memory");
        goto out;
    }
    if (text)
        evbuffer_add(in, text, strlen(text));
    else if ((rc = read_all(file, in, "scan-prompt")) != 0)
        goto out;
    size_t n = evbuffer_get_length(in);
    double t0 = now_ms();
    const char *p = (const char *)evbuffer_pullup(in, -1);
    if (guard_prompt_scan_block(scan, scratch, p ? p : "", n, env.cfg->prompt_guard.warn_threshold,
                                env.cfg->prompt_guard.block_threshold, &v) != 0) {
        rc = scan_fail("scan-prompt", "the scan failed (Hyperscan error)");
        goto out;
    }
    double ms = now_ms() - t0;
    if (a.json) {
        proxy_scan_prompt_json(out, env.rules, &v, ms);
        evbuffer_add(out, "\n", 1);
    } else {
        evbuffer_add_printf(out, "%s score=%.4f rules=", guard_prompt_verdict_name(v.kind),
                            v.score);
        for (size_t i = 0; i < v.n_matched && i < GUARD_PROMPT_VERDICT_RULES; i++)
            evbuffer_add_printf(out, "%s%s", i ? "," : "",
                                guard_prompt_db_rule(env.rules->db, v.rules[i])->id);
        evbuffer_add_printf(out, "%s rule_set=%s\n", v.n_matched ? "" : "-", env.rules->hash);
    }
    while (evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, STDOUT_FILENO) < 0) {
            rc = scan_fail("scan-prompt", "cannot write: %s", strerror(errno));
            goto out;
        }
    }
    rc = v.kind == GUARD_PROMPT_BLOCK ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
out:
    guard_prompt_scan_free(scan);
    guard_prompt_scratch_free(scratch);
    if (in)
        evbuffer_free(in);
    if (out)
        evbuffer_free(out);
    scan_env_free(&env);
    return rc;
}

/* ---------------------------------------------------------------- scan-output */

/* --schema FILE: compile it, check the output (as JSON) against it. */
static int scan_schema_file(const char *path, const char *text, size_t n,
                            struct proxy_scan_schema *sch)
{
    struct evbuffer *b = evbuffer_new();
    struct guard_schema *schema = NULL;
    char err[300];
    int rc;
    if (b == NULL)
        return scan_fail("scan-output", "out of memory");
    if ((rc = read_all(path, b, "scan-output")) != 0) {
        evbuffer_free(b);
        return rc;
    }
    size_t len = evbuffer_get_length(b);
    const char *p = len ? (const char *)evbuffer_pullup(b, -1) : "";
    if (guard_schema_parse(p, len, NULL, NULL, &schema, err, sizeof(err)) != 0) {
        evbuffer_free(b);
        return scan_fail("scan-output", "--schema %s: %s", path, err);
    }
    rc = proxy_scan_schema_check(schema, NULL, text, n, sch);
    guard_schema_free(schema);
    evbuffer_free(b);
    return rc == 0 ? 0 : scan_fail("scan-output", "out of memory");
}

int proxy_cli_scan_output(int argc, char **argv)
{
    struct scan_args a;
    struct scan_env env;
    int rc;
    if ((rc = scan_args_parse("scan-output", argc, argv, true, &a)) != 0)
        return rc;
    const char *text = a.text, *file = a.file, *schema_file = a.schema;
    if ((rc = input_check(file, "scan-output")) != 0)
        return rc;
    if ((rc = scan_env_load("scan-output", a.config, NULL, a.rules_dir, ENV_OUTPUT, &env)) != 0) {
        scan_env_free(&env);
        return rc;
    }
    if (a.batch) {
        rc = scan_batch(&env, &output_batch, a.threads);
        scan_env_free(&env);
        return rc;
    }
    struct evbuffer *in = evbuffer_new();
    struct evbuffer *out = evbuffer_new();
    struct output_worker *w = output_worker_new(&env);
    struct proxy_scan_schema sch = {.valid = true, .violations = NULL};
    if (!in || !out || !w) {
        rc = scan_fail("scan-output", "out of memory");
        goto out;
    }
    if (text)
        evbuffer_add(in, text, strlen(text));
    else if ((rc = read_all(file, in, "scan-output")) != 0)
        goto out;
    size_t n = evbuffer_get_length(in);
    const char *p = (const char *)evbuffer_pullup(in, -1);
    p = p ? p : "";
    double t0 = now_ms();
    if (proxy_scan_output_text(w->st, w->scratch, &w->scan_pol, p, n) != 0) {
        rc = scan_fail("scan-output", "the scan failed (Hyperscan error)");
        goto out;
    }
    if (schema_file && (rc = scan_schema_file(schema_file, p, n, &sch)) != 0)
        goto out;
    double ms = now_ms() - t0;
    enum proxy_scan_out_verdict v = proxy_scan_output_verdict(w->st, env.out_rules, &env.out_pol);
    if (a.json) {
        proxy_scan_output_json(out, env.out_rules, &env.out_pol, w->st, schema_file ? &sch : NULL,
                               ms);
        evbuffer_add(out, "\n", 1);
    } else {
        const char *red;
        size_t rlen;
        const struct guard_output_finding *f;
        size_t nf = guard_output_stream_findings(w->st, &f);
        for (size_t i = 0; i < nf; i++) {
            const struct guard_output_rule *rule =
                guard_output_db_rule(env.out_rules->out_db, f[i].rule);
            evbuffer_add_printf(
                out, "%s %" PRIu64 "-%" PRIu64 " %s\n", rule->type, f[i].cp_start, f[i].cp_end,
                proxy_scan_action_name(guard_output_policy_action(&env.out_pol, rule)));
        }
        if (schema_file && !sch.valid)
            evbuffer_add_printf(out, "SCHEMA invalid: [%.*s]\n",
                                (int)evbuffer_get_length(sch.violations),
                                (const char *)evbuffer_pullup(sch.violations, -1));
        guard_output_stream_output(w->st, &red, &rlen);
        evbuffer_add(out, red, rlen);
        if (rlen == 0 || red[rlen - 1] != '\n')
            evbuffer_add(out, "\n", 1);
    }
    while (evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, STDOUT_FILENO) < 0) {
            rc = scan_fail("scan-output", "cannot write: %s", strerror(errno));
            goto out;
        }
    }
    rc = v != PROXY_SCAN_OUT_PASS || !sch.valid ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
out:
    output_worker_free(w);
    if (sch.violations)
        evbuffer_free(sch.violations);
    if (in)
        evbuffer_free(in);
    if (out)
        evbuffer_free(out);
    scan_env_free(&env);
    return rc;
}

/* ---------------------------------------------------------------- rules */

int proxy_cli_rules(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"verbose", no_argument, NULL, 'v'},
        {"config", required_argument, NULL, 'c'},
        {"rules", required_argument, NULL, 'r'},
        {"output-rules", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *rules_dir = NULL, *out_dir = NULL;
    bool json = false, verbose = false;
    struct scan_env env;
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+v", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'c':
            config = optarg;
            break;
        case 'r':
            rules_dir = optarg;
            break;
        case 'o':
            out_dir = optarg;
            break;
        default:
            return scan_fail("rules", "unknown option '%s' (see warden rules --help)",
                             argv[optind - 1]);
        }
    }
    bool test = optind < argc && strcmp(argv[optind], "test") == 0;
    if (optind < argc && !test)
        return scan_fail("rules", "unknown argument '%s' (expected 'test')", argv[optind]);
    if ((rc = scan_env_load("rules", config, rules_dir, out_dir, ENV_PROMPT | ENV_OUTPUT, &env)) !=
        0) {
        scan_env_free(&env);
        return rc;
    }
    if (test) {
        long failed = policy_rules_test(env.rules, stdout, verbose);
        long failed_out = failed < 0 ? 0 : policy_rules_test(env.out_rules, stdout, verbose);
        scan_env_free(&env);
        if (failed < 0 || failed_out < 0)
            return scan_fail("rules", "test: the scan failed (%s)",
                             strerror((int)-(failed < 0 ? failed : failed_out)));
        return failed + failed_out > 0 ? PROXY_EXIT_FINDINGS : PROXY_EXIT_OK;
    }
    struct evbuffer *out = evbuffer_new();
    if (out == NULL) {
        scan_env_free(&env);
        return scan_fail("rules", "out of memory");
    }
    if (json) {
        proxy_scan_rules_json(out, env.rules, env.out_rules);
        evbuffer_add(out, "\n", 1);
    } else {
        size_t n = guard_prompt_db_count(env.rules->db);
        for (size_t i = 0; i < n; i++) {
            const struct guard_prompt_rule *r = guard_prompt_db_rule(env.rules->db, i);
            evbuffer_add_printf(out, "%-40s %-20s %.2f  %s\n", r->id, r->category, r->weight,
                                r->description);
        }
        evbuffer_add_printf(out, "%zu prompt rules and signals, rule set %s\n", n, env.rules->hash);
        size_t no = guard_output_db_count(env.out_rules->out_db);
        for (size_t i = 0; i < no; i++) {
            const struct guard_output_rule *r = guard_output_db_rule(env.out_rules->out_db, i);
            evbuffer_add_printf(out, "%-40s %-20s %-6s  %s\n", r->id, r->type,
                                r->cls == GUARD_OUT_SECRET ? "secret" : "pii", r->description);
        }
        evbuffer_add_printf(out, "%zu output detectors, rule set %s\n", no, env.out_rules->hash);
    }
    rc = PROXY_EXIT_OK;
    while (evbuffer_get_length(out) > 0) {
        if (evbuffer_write(out, STDOUT_FILENO) < 0) {
            rc = scan_fail("rules", "cannot write: %s", strerror(errno));
            break;
        }
    }
    evbuffer_free(out);
    scan_env_free(&env);
    return rc;
}

/* Rule sets: YAML rule files loaded with positions, checked, hashed, compiled; examples run. */
#include "policy/rules.h"

#include "telemetry/sha256.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#define RULES_FILE_MAX  (1024 * 1024)
#define RULES_FILES_MAX 256
#define RULES_MAX       4096
#define EXAMPLES_MAX    64

static const char *const prompt_categories[] = {
    "instruction_override", "role_manipulation",  "prompt_extraction",
    "context_smuggling",    "indirect_injection", "exfiltration",
    "obfuscation",          "multi_turn",         "adversarial_suffix",
};

struct rule_file {
    char *name; /* as reported in errors: "rules/prompt/x.yaml" or the path */
    char *data;
    size_t len;
};

static void rules_err(struct policy_error *err, const char *src, yaml_mark_t m, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void rules_err(struct policy_error *err, const char *src, yaml_mark_t m, const char *fmt,
                      ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(err->msg, sizeof(err->msg), "%s:%zu:%zu: %s", src, m.line + 1, m.column + 1, what);
}

void policy_rules_free(struct policy_rules *r)
{
    if (r == NULL)
        return;
    guard_prompt_db_free(r->db);
    guard_output_db_free(r->out_db);
    for (size_t i = 0; i < r->n; i++) {
        if (r->kind == POLICY_RULES_PROMPT) {
            free((char *)r->rules[i].id);
            free((char *)r->rules[i].category);
            free((char *)r->rules[i].pattern);
            free((char *)r->rules[i].description);
        } else {
            free((char *)r->out_rules[i].id);
            free((char *)r->out_rules[i].type);
            free((char *)r->out_rules[i].pattern);
            free((char *)r->out_rules[i].validator);
            free((char *)r->out_rules[i].span);
            free((char *)r->out_rules[i].description);
        }
        for (size_t j = 0; r->examples && j < r->n_examples[i]; j++)
            free(r->examples[i][j].text);
        if (r->examples)
            free(r->examples[i]);
    }
    for (size_t i = 0; i < r->n_sources; i++)
        free(r->sources[i]);
    free(r->sources);
    free(r->rules);
    free(r->out_rules);
    free(r->locs);
    free(r->examples);
    free(r->n_examples);
    free(r);
}

struct policy_rules *policy_rules_ref(struct policy_rules *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void policy_rules_unref(struct policy_rules *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        policy_rules_free(r);
}

/* Make room for one more rule. */
static int rules_grow(struct policy_rules *r)
{
    size_t n = r->n + 1;
    if (r->kind == POLICY_RULES_PROMPT) {
        struct guard_prompt_rule *rules = realloc(r->rules, n * sizeof(*rules));
        if (rules == NULL)
            return -ENOMEM;
        r->rules = rules;
        memset(&r->rules[r->n], 0, sizeof(r->rules[0]));
    } else {
        struct guard_output_rule *rules = realloc(r->out_rules, n * sizeof(*rules));
        if (rules == NULL)
            return -ENOMEM;
        r->out_rules = rules;
        memset(&r->out_rules[r->n], 0, sizeof(r->out_rules[0]));
    }
    struct policy_loc *locs = realloc(r->locs, n * sizeof(*locs));
    if (locs == NULL)
        return -ENOMEM;
    r->locs = locs;
    struct policy_rule_example **ex = realloc(r->examples, n * sizeof(*ex));
    if (ex == NULL)
        return -ENOMEM;
    r->examples = ex;
    size_t *nex = realloc(r->n_examples, n * sizeof(*nex));
    if (nex == NULL)
        return -ENOMEM;
    r->n_examples = nex;
    memset(&r->locs[r->n], 0, sizeof(r->locs[0]));
    r->examples[r->n] = NULL;
    r->n_examples[r->n] = 0;
    r->n = n;
    return 0;
}

static bool valid_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

static const char *scalar(yaml_node_t *n, size_t *len)
{
    *len = n->data.scalar.length;
    return (const char *)n->data.scalar.value;
}

static bool key_is(yaml_node_t *k, const char *name)
{
    return k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(name) &&
           memcmp(k->data.scalar.value, name, strlen(name)) == 0;
}

/* The examples under match: or no_match:. */
static int load_examples(struct policy_rules *r, yaml_document_t *doc, yaml_node_t *seq,
                         const char *src, bool match, struct policy_error *err)
{
    size_t i = r->n - 1;
    if (seq->type != YAML_SEQUENCE_NODE) {
        rules_err(err, src, seq->start_mark, "%s: expected a list of strings",
                  match ? "match" : "no_match");
        return -EINVAL;
    }
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top;
         it++) {
        yaml_node_t *n = yaml_document_get_node(doc, *it);
        size_t len;
        if (n == NULL || n->type != YAML_SCALAR_NODE) {
            rules_err(err, src, n ? n->start_mark : seq->start_mark, "%s: each example is a string",
                      match ? "match" : "no_match");
            return -EINVAL;
        }
        if (r->n_examples[i] >= EXAMPLES_MAX) {
            rules_err(err, src, n->start_mark, "more than %d examples in one rule", EXAMPLES_MAX);
            return -EINVAL;
        }
        struct policy_rule_example *ex =
            realloc(r->examples[i], (r->n_examples[i] + 1) * sizeof(*ex));
        if (ex == NULL)
            return -ENOMEM;
        r->examples[i] = ex;
        const char *text = scalar(n, &len);
        ex[r->n_examples[i]] = (struct policy_rule_example){
            .text = strndup(text, len),
            .loc = {.source = r->sources[r->n_sources - 1],
                    .line = (uint32_t)n->start_mark.line + 1,
                    .col = (uint32_t)n->start_mark.column + 1},
            .match = match,
        };
        if (ex[r->n_examples[i]].text == NULL)
            return -ENOMEM;
        r->n_examples[i]++;
    }
    return 0;
}

/* A number from lo to hi written as a YAML scalar. */
static bool scalar_number(const char *text, size_t len, double lo, double hi, double *out)
{
    char buf[32], *end;
    snprintf(buf, sizeof(buf), "%.*s", (int)(len < 31 ? len : 31), text);
    double v = strtod(buf, &end);
    if (len == 0 || len > 30 || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

/* The string fields of a rule of r->kind, by key; NULL for a key the kind does not have. */
static const char **rule_field(struct policy_rules *r, size_t i, yaml_node_t *k)
{
    if (r->kind == POLICY_RULES_PROMPT) {
        struct guard_prompt_rule *p = &r->rules[i];
        return key_is(k, "id")            ? &p->id
               : key_is(k, "category")    ? &p->category
               : key_is(k, "pattern")     ? &p->pattern
               : key_is(k, "description") ? &p->description
                                          : NULL;
    }
    struct guard_output_rule *o = &r->out_rules[i];
    return key_is(k, "id")            ? &o->id
           : key_is(k, "type")        ? &o->type
           : key_is(k, "pattern")     ? &o->pattern
           : key_is(k, "validator")   ? &o->validator
           : key_is(k, "span")        ? &o->span
           : key_is(k, "description") ? &o->description
                                      : NULL;
}

/* Checks of a rule once all its keys are read: 0, or -EINVAL with the missing key in
 * *missing or what is wrong in why. */
static int check_prompt_rule(const struct guard_prompt_rule *rule, bool have_weight,
                             const char **missing, char *why, size_t cap)
{
    *missing = !rule->id            ? "id"
               : !rule->category    ? "category"
               : !rule->pattern     ? "pattern"
               : !rule->description ? "description"
               : !have_weight       ? "weight"
                                    : NULL;
    if (*missing)
        return -EINVAL;
    for (size_t i = 0; i < sizeof(prompt_categories) / sizeof(prompt_categories[0]); i++) {
        if (strcmp(rule->category, prompt_categories[i]) == 0)
            return 0;
    }
    snprintf(why, cap,
             "unknown category '%s' (instruction_override, role_manipulation, "
             "prompt_extraction, context_smuggling, indirect_injection, exfiltration, "
             "obfuscation, multi_turn, adversarial_suffix)",
             rule->category);
    return -EINVAL;
}

/* The same for an output detector. */
static int check_output_rule(const struct guard_output_rule *rule, bool have_class,
                             const char **missing, char *why, size_t cap)
{
    *missing = !rule->id            ? "id"
               : !rule->type        ? "type"
               : !have_class        ? "class"
               : !rule->pattern     ? "pattern"
               : !rule->description ? "description"
                                    : NULL;
    if (*missing)
        return -EINVAL;
    size_t n = strlen(rule->type);
    bool ok = n >= 2 && n < 40;
    for (size_t i = 0; i < n; i++)
        ok &= (rule->type[i] >= 'A' && rule->type[i] <= 'Z') || rule->type[i] == '_' ||
              (rule->type[i] >= '0' && rule->type[i] <= '9');
    if (!ok) {
        snprintf(why, cap, "type '%s': use 2-39 characters of A-Z, 0-9 and '_'", rule->type);
        return -EINVAL;
    }
    if (rule->validator && guard_output_validate(rule->validator, "", 0) < 0) {
        snprintf(why, cap,
                 "validator '%s': use a comma-separated list of luhn, iban, ssn, ipv4, ipv6, "
                 "entropy, jwt, secret, phone, email, ipv6-colon",
                 rule->validator);
        return -EINVAL;
    }
    if (rule->span && strcmp(rule->span, "match") != 0 && strcmp(rule->span, "value") != 0 &&
        strcmp(rule->span, "pem") != 0) {
        snprintf(why, cap, "span '%s': use match, value or pem", rule->span);
        return -EINVAL;
    }
    return 0;
}

/* One mapping of the rules: list. */
static int load_rule(struct policy_rules *r, yaml_document_t *doc, yaml_node_t *map,
                     const char *src, struct policy_error *err)
{
    int rc;
    bool have_num = false, have_class = false, have_prio = false;
    size_t n_match = 0, n_no = 0;
    bool prompt = r->kind == POLICY_RULES_PROMPT;
    const char *keys = prompt ? "id, category, weight, pattern, description, match, no_match"
                              : "id, type, class, pattern, validator, span, priority, "
                                "description, match, no_match";
    if (map->type != YAML_MAPPING_NODE) {
        rules_err(err, src, map->start_mark, "each rule is a mapping (%s)", keys);
        return -EINVAL;
    }
    if (r->n >= RULES_MAX) {
        rules_err(err, src, map->start_mark, "more than %d rules", RULES_MAX);
        return -EINVAL;
    }
    if ((rc = rules_grow(r)) != 0)
        return rc;
    size_t idx = r->n - 1;
    r->locs[idx] = (struct policy_loc){.source = r->sources[r->n_sources - 1],
                                       .line = (uint32_t)map->start_mark.line + 1,
                                       .col = (uint32_t)map->start_mark.column + 1};
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char **field;
        size_t len;
        if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE) {
            rules_err(err, src, map->start_mark, "rule keys are plain names");
            return -EINVAL;
        }
        const char *kname = (const char *)k->data.scalar.value;
        if (key_is(k, "match") || key_is(k, "no_match")) {
            bool m = key_is(k, "match");
            size_t before = r->n_examples[idx];
            if ((rc = load_examples(r, doc, v, src, m, err)) != 0)
                return rc;
            *(m ? &n_match : &n_no) += r->n_examples[idx] - before;
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            rules_err(err, src, v->start_mark, "%s: expected a single value", kname);
            return -EINVAL;
        }
        const char *text = scalar(v, &len);
        bool *seen = NULL;
        if (prompt && key_is(k, "weight"))
            seen = &have_num;
        else if (!prompt && key_is(k, "class"))
            seen = &have_class;
        else if (!prompt && key_is(k, "priority"))
            seen = &have_prio;
        if (seen) {
            double num;
            if (*seen) {
                rules_err(err, src, k->start_mark, "'%s' given twice", kname);
                return -EINVAL;
            }
            *seen = true;
            if (prompt) {
                if (!scalar_number(text, len, 0.0, 1.0, &num)) {
                    rules_err(err, src, v->start_mark, "weight: '%.*s' is not a number from 0 to 1",
                              (int)(len < 31 ? len : 31), text);
                    return -EINVAL;
                }
                r->rules[idx].weight = num;
            } else if (key_is(k, "class")) {
                if (len == 3 && memcmp(text, "pii", 3) == 0)
                    r->out_rules[idx].cls = GUARD_OUT_PII;
                else if (len == 6 && memcmp(text, "secret", 6) == 0)
                    r->out_rules[idx].cls = GUARD_OUT_SECRET;
                else {
                    rules_err(err, src, v->start_mark, "class: use pii or secret");
                    return -EINVAL;
                }
            } else {
                if (!scalar_number(text, len, 0, 1000, &num) || num != (double)(int)num) {
                    rules_err(err, src, v->start_mark,
                              "priority: '%.*s' is not a whole number from 0 to 1000",
                              (int)(len < 31 ? len : 31), text);
                    return -EINVAL;
                }
                r->out_rules[idx].priority = (int)num;
            }
            continue;
        }
        if ((field = rule_field(r, idx, k)) == NULL) {
            rules_err(err, src, k->start_mark, "unknown key '%s' (a rule has %s)", kname, keys);
            return -EINVAL;
        }
        if (*field != NULL) {
            rules_err(err, src, k->start_mark, "'%s' given twice", kname);
            return -EINVAL;
        }
        if (memchr(text, '\0', len) != NULL) {
            rules_err(err, src, v->start_mark, "NUL byte in a value");
            return -EINVAL;
        }
        if ((*field = strndup(text, len)) == NULL)
            return -ENOMEM;
    }
    const char *missing = NULL, *id;
    char why[300] = "";
    if (prompt) {
        rc = check_prompt_rule(&r->rules[idx], have_num, &missing, why, sizeof(why));
        id = r->rules[idx].id;
    } else {
        struct guard_output_rule *o = &r->out_rules[idx];
        if (!have_prio)
            o->priority = o->cls == GUARD_OUT_SECRET ? 100 : 50;
        rc = check_output_rule(o, have_class, &missing, why, sizeof(why));
        id = o->id;
    }
    if (missing) {
        rules_err(err, src, map->start_mark, "rule %s has no %s", id ? id : "", missing);
        return -EINVAL;
    }
    if (!valid_id(id)) {
        rules_err(err, src, map->start_mark,
                  "id '%s': use 2-64 characters of a-z, 0-9, '-', '_', '.'", id);
        return -EINVAL;
    }
    if (rc != 0) {
        rules_err(err, src, map->start_mark, "rule %s: %s", id, why);
        return -EINVAL;
    }
    if (n_match == 0 || n_no == 0) {
        rules_err(err, src, map->start_mark,
                  "rule %s needs at least one match: and one no_match: example", id);
        return -EINVAL;
    }
    for (size_t i = 0; i < idx; i++) {
        const char *other = prompt ? r->rules[i].id : r->out_rules[i].id;
        if (strcmp(other, id) == 0) {
            rules_err(err, src, map->start_mark, "rule id '%s' is also used at %s:%" PRIu32, id,
                      r->locs[i].source, r->locs[i].line);
            return -EINVAL;
        }
    }
    return 0;
}

/* Refuse anchors and aliases: rule files are data, and aliases multiply work. */
static int check_plain(const struct rule_file *f, struct policy_error *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int rc = 0;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)f->data, f->len);
    for (;;) {
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_mark_t m = p.problem_mark;
            rules_err(err, f->name, m, "YAML: %s", p.problem ? p.problem : "syntax error");
            rc = -EINVAL;
            break;
        }
        bool anchor = (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
                      (ev.type == YAML_SEQUENCE_START_EVENT && ev.data.sequence_start.anchor) ||
                      (ev.type == YAML_MAPPING_START_EVENT && ev.data.mapping_start.anchor);
        if (ev.type == YAML_ALIAS_EVENT || anchor) {
            rules_err(err, f->name, ev.start_mark, "anchors and aliases are not allowed here");
            rc = -EINVAL;
        }
        yaml_event_type_t t = ev.type;
        yaml_event_delete(&ev);
        if (rc != 0 || t == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static int load_file(struct policy_rules *r, const struct rule_file *f, struct policy_error *err)
{
    yaml_parser_t p;
    yaml_document_t doc;
    int rc = check_plain(f, err);
    if (rc != 0)
        return rc;
    char **srcs = realloc(r->sources, (r->n_sources + 1) * sizeof(*srcs));
    if (srcs == NULL)
        return -ENOMEM;
    r->sources = srcs;
    if ((r->sources[r->n_sources] = strdup(f->name)) == NULL)
        return -ENOMEM;
    r->n_sources++;
    if (!yaml_parser_initialize(&p))
        return -ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)f->data, f->len);
    if (!yaml_parser_load(&p, &doc)) {
        rules_err(err, f->name, p.problem_mark, "YAML: %s", p.problem ? p.problem : "syntax error");
        yaml_parser_delete(&p);
        return -EINVAL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *list = NULL;
    if (root == NULL) {
        rules_err(err, f->name, p.mark, "empty file: expected 'rules:' with a list of rules");
        rc = -EINVAL;
        goto out;
    }
    if (root->type != YAML_MAPPING_NODE) {
        rules_err(err, f->name, root->start_mark, "expected a mapping with 'rules:'");
        rc = -EINVAL;
        goto out;
    }
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&doc, pr->key);
        if (k && key_is(k, "rules") && list != NULL) {
            rules_err(err, f->name, k->start_mark, "'rules:' given twice");
            rc = -EINVAL;
            goto out;
        } else if (k && key_is(k, "rules")) {
            list = yaml_document_get_node(&doc, pr->value);
        } else {
            rules_err(err, f->name, k ? k->start_mark : root->start_mark,
                      "unknown top-level key (a rule file holds 'rules:')");
            rc = -EINVAL;
            goto out;
        }
    }
    if (list == NULL || list->type != YAML_SEQUENCE_NODE) {
        rules_err(err, f->name, list ? list->start_mark : root->start_mark,
                  "'rules:' must be a list of rules");
        rc = -EINVAL;
        goto out;
    }
    for (yaml_node_item_t *it = list->data.sequence.items.start; it < list->data.sequence.items.top;
         it++) {
        if ((rc = load_rule(r, &doc, yaml_document_get_node(&doc, *it), f->name, err)) != 0)
            goto out;
    }
    /* A second document ("---") would be silently ignored: refuse it. */
    yaml_document_t more;
    if (!yaml_parser_load(&p, &more)) {
        rules_err(err, f->name, p.problem_mark, "YAML: %s", p.problem ? p.problem : "syntax error");
        rc = -EINVAL;
        goto out;
    }
    yaml_node_t *extra = yaml_document_get_root_node(&more);
    if (extra != NULL) {
        rules_err(err, f->name, extra->start_mark,
                  "a second YAML document: a rule file holds one ('rules:' with a list)");
        rc = -EINVAL;
    }
    yaml_document_delete(&more);
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return rc;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rule_file *)a)->name, ((const struct rule_file *)b)->name);
}

static void files_free(struct rule_file *f, size_t n, bool owned)
{
    for (size_t i = 0; owned && i < n; i++) {
        free(f[i].name);
        free(f[i].data);
    }
    free(f);
}

/* Every *.yaml of dir, read whole (capped). */
static int read_dir(const char *dir, struct rule_file **out, size_t *n_out,
                    struct policy_error *err)
{
    DIR *d = opendir(dir);
    struct rule_file *files = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *de;
    if (d == NULL) {
        snprintf(err->msg, sizeof(err->msg), "%s: cannot open rules directory: %s", dir,
                 strerror(errno));
        return -EIO;
    }
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 6 || strcmp(de->d_name + len - 5, ".yaml") != 0 || de->d_name[0] == '.')
            continue;
        if (n >= RULES_FILES_MAX) {
            snprintf(err->msg, sizeof(err->msg), "%s: more than %d rule files", dir,
                     RULES_FILES_MAX);
            rc = -EINVAL;
            break;
        }
        struct rule_file *nf = realloc(files, (n + 1) * sizeof(*nf));
        if (nf == NULL) {
            rc = -ENOMEM;
            break;
        }
        files = nf;
        struct rule_file *f = &files[n];
        memset(f, 0, sizeof(*f));
        size_t plen = strlen(dir) + 1 + len + 1;
        f->name = malloc(plen);
        if (f->name == NULL) {
            rc = -ENOMEM;
            break;
        }
        n++;
        snprintf(f->name, plen, "%s/%s", dir, de->d_name);
        FILE *fp = fopen(f->name, "rb");
        struct stat st;
        if (fp == NULL || fstat(fileno(fp), &st) != 0) {
            snprintf(err->msg, sizeof(err->msg), "%s: cannot read: %s", f->name, strerror(errno));
            if (fp)
                fclose(fp);
            rc = -EIO;
            break;
        }
        if (st.st_size > RULES_FILE_MAX) {
            snprintf(err->msg, sizeof(err->msg), "%s: larger than %d bytes", f->name,
                     RULES_FILE_MAX);
            fclose(fp);
            rc = -EFBIG;
            break;
        }
        f->data = malloc((size_t)st.st_size + 1);
        f->len = f->data ? fread(f->data, 1, (size_t)st.st_size, fp) : 0;
        fclose(fp);
        if (f->data == NULL) {
            rc = -ENOMEM;
            break;
        }
    }
    closedir(d);
    if (rc == 0 && n == 0) {
        snprintf(err->msg, sizeof(err->msg), "%s: no *.yaml rule files", dir);
        rc = -EINVAL;
    }
    if (rc != 0) {
        files_free(files, n, true);
        return rc;
    }
    qsort(files, n, sizeof(*files), name_cmp);
    *out = files;
    *n_out = n;
    return 0;
}

/* ---------------------------------------------------------------- compiled-rules cache */

#define CACHE_FILE_MAX (256u * 1024 * 1024)
#define CACHE_KEEP     4 /* newest cache files kept; older ones are removed */

const char *policy_cache_dir(const char *configured, char *buf, size_t cap)
{
    const char *env;
    if (configured == NULL || configured[0] == '\0' || strcmp(configured, "off") == 0)
        return NULL;
    if (strcmp(configured, "auto") != 0)
        return configured;
    if ((env = getenv("WARDEN_CACHE_DIR")) != NULL)
        return env[0] && strcmp(env, "off") != 0 ? env : NULL;
    if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/')
        snprintf(buf, cap, "%s/warden", env);
    else if ((env = getenv("HOME")) != NULL && env[0] == '/')
        snprintf(buf, cap, "%s/.cache/warden", env);
    else
        return NULL;
    return buf;
}

/* Both kinds of rule set are cached; the file names and headers say which. */
static const char *cache_kind(enum policy_rules_kind kind)
{
    return kind == POLICY_RULES_PROMPT ? "prompt" : "output";
}

static const char *cache_engine(enum policy_rules_kind kind)
{
    return kind == POLICY_RULES_PROMPT ? guard_prompt_db_engine() : guard_output_db_engine();
}

/* <dir>/<kind>-<sha256 of the rule set and the engine>.hsdb */
static void cache_path(enum policy_rules_kind kind, const char *dir, const char *hash, char *path,
                       size_t cap)
{
    struct tel_sha256 h;
    uint8_t d[TEL_SHA256_LEN];
    char hex[TEL_SHA256_HEX];
    const char *engine = cache_engine(kind);
    tel_sha256_init(&h);
    tel_sha256_update(&h, hash, strlen(hash) + 1);
    tel_sha256_update(&h, engine, strlen(engine));
    tel_sha256_final(&h, d);
    tel_sha256_hex(d, hex);
    snprintf(path, cap, "%s/%s-%.32s.hsdb", dir, cache_kind(kind), hex);
}

/* A cache file: this header line, then the serialized database. The header names what the
 * database was compiled from, so a file from another engine or rule set is never used. */
static void cache_header(enum policy_rules_kind kind, const struct policy_rules *r, char *buf,
                         size_t cap)
{
    snprintf(buf, cap, "warden-%s-cache\t%s\t%zu\t%s\n", cache_kind(kind), r->hash, r->n,
             cache_engine(kind));
}

static bool cache_load(enum policy_rules_kind kind, struct policy_rules *r, const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    char *buf = NULL, head[512];
    bool ok = false;
    cache_header(kind, r, head, sizeof(head));
    size_t hl = strlen(head);
    if (f == NULL)
        return false;
    /* Only our own file, writable by us alone: it decides what the guard detects. */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & (S_IWGRP | S_IWOTH)) && st.st_size > (off_t)hl &&
        st.st_size < CACHE_FILE_MAX && (buf = malloc((size_t)st.st_size)) != NULL &&
        fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size && memcmp(buf, head, hl) == 0)
        ok = (kind == POLICY_RULES_PROMPT
                  ? guard_prompt_db_load(r->rules, r->n, r->hash, buf + hl, (size_t)st.st_size - hl,
                                         &r->db)
                  : guard_output_db_load(r->out_rules, r->n, r->hash, buf + hl,
                                         (size_t)st.st_size - hl, &r->out_db)) == 0;
    free(buf);
    fclose(f);
    return ok;
}

/* Keep the newest CACHE_KEEP databases of each kind in dir. */
static void cache_prune(enum policy_rules_kind kind, const char *dir)
{
    const char *prefix = cache_kind(kind);
    size_t plen = strlen(prefix);
    DIR *d = opendir(dir);
    struct dirent *de;
    struct {
        char name[64];
        time_t mtime;
    } seen[64];
    size_t n = 0;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL && n < 64) {
        size_t len = strlen(de->d_name);
        struct stat st;
        char p[PATH_MAX];
        if (strncmp(de->d_name, prefix, plen) != 0 || de->d_name[plen] != '-' || len < 6 ||
            len >= sizeof(seen[0].name) || strcmp(de->d_name + len - 5, ".hsdb") != 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        if (stat(p, &st) != 0)
            continue;
        memcpy(seen[n].name, de->d_name, len + 1);
        seen[n++].mtime = st.st_mtime;
    }
    closedir(d);
    while (n > CACHE_KEEP) {
        size_t oldest = 0;
        for (size_t i = 1; i < n; i++)
            oldest = seen[i].mtime < seen[oldest].mtime ? i : oldest;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", dir, seen[oldest].name);
        unlink(p);
        seen[oldest] = seen[--n];
    }
}

/* Write the compiled database for the next start (best effort: a cache that cannot be written
 * only costs the next start its compile time). */
static void cache_store(enum policy_rules_kind kind, const struct policy_rules *r, const char *dir,
                        const char *path)
{
    char *buf = NULL, tmp[PATH_MAX];
    size_t len = 0;
    /* mkdir -p: ~/.cache itself may not exist yet. */
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
                return;
            *p = c;
            if (c == '\0')
                break;
        }
    }
    if ((kind == POLICY_RULES_PROMPT ? guard_prompt_db_serialize(r->db, &buf, &len)
                                     : guard_output_db_serialize(r->out_db, &buf, &len)) != 0)
        return;
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        char head[512];
        cache_header(kind, r, head, sizeof(head));
        bool ok = write(fd, head, strlen(head)) == (ssize_t)strlen(head);
        ok &= write(fd, buf, len) == (ssize_t)len;
        ok &= close(fd) == 0;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp);
        else
            cache_prune(kind, dir);
    }
    free(buf);
}

/* Parse, hash and compile a set of rule files (sorted by name); with a cache directory the
 * compiled database is taken from it, or stored in it. */
static int rules_build(enum policy_rules_kind kind, const struct rule_file *files, size_t n_files,
                       const char *cache_dir, struct policy_rules **out, struct policy_error *err)
{
    struct policy_rules *r = calloc(1, sizeof(*r));
    struct tel_sha256 h;
    const char *what = kind == POLICY_RULES_PROMPT ? "prompt" : "output";
    if (r) {
        atomic_init(&r->refs, 1);
        r->kind = kind;
    }
    uint8_t digest[TEL_SHA256_LEN];
    char hex[TEL_SHA256_HEX];
    int rc = -ENOMEM;
    *out = NULL;
    if (r == NULL)
        goto out;
    /* The hash covers base names and contents, so the embedded set and a copy of the same
     * files on disk hash alike. */
    tel_sha256_init(&h);
    for (size_t i = 0; i < n_files; i++) {
        const char *base = strrchr(files[i].name, '/');
        base = base ? base + 1 : files[i].name;
        uint8_t len[8];
        for (int b = 0; b < 8; b++)
            len[b] = (uint8_t)((uint64_t)files[i].len >> (56 - 8 * b));
        tel_sha256_update(&h, base, strlen(base) + 1);
        tel_sha256_update(&h, len, sizeof(len));
        tel_sha256_update(&h, files[i].data, files[i].len);
        if (files[i].len > RULES_FILE_MAX) {
            snprintf(err->msg, sizeof(err->msg), "%s: larger than %d bytes", files[i].name,
                     RULES_FILE_MAX);
            rc = -EFBIG;
            goto out;
        }
        if ((rc = load_file(r, &files[i], err)) != 0)
            goto out;
    }
    tel_sha256_final(&h, digest);
    tel_sha256_hex(digest, hex);
    snprintf(r->hash, sizeof(r->hash), "sha256:%s", hex);
    char why[300], path[PATH_MAX];
    int bad = -1;
    /* Compiling either set touches megabytes of Hyperscan's compiler that a loaded cache
     * never does: the idle server stays smaller and starts sooner. */
    if (cache_dir) {
        cache_path(kind, cache_dir, r->hash, path, sizeof(path));
        if (cache_load(kind, r, path)) {
            *out = r;
            return 0;
        }
    }
    if (kind == POLICY_RULES_OUTPUT)
        rc = guard_output_db_new(r->out_rules, r->n, r->hash, &r->out_db, &bad, why, sizeof(why));
    else
        rc = guard_prompt_db_new(r->rules, r->n, r->hash, &r->db, &bad, why, sizeof(why));
    if (rc == 0 && cache_dir)
        cache_store(kind, r, cache_dir, path);
    if (rc != 0) {
        if (bad >= 0 && (size_t)bad < r->n)
            snprintf(err->msg, sizeof(err->msg), "%s:%" PRIu32 ":%" PRIu32 ": rule %s: pattern: %s",
                     r->locs[bad].source, r->locs[bad].line, r->locs[bad].col,
                     kind == POLICY_RULES_PROMPT ? r->rules[bad].id : r->out_rules[bad].id, why);
        else
            snprintf(err->msg, sizeof(err->msg), "%s rules: %s", what, why);
        goto out;
    }
    *out = r;
    r = NULL;
out:
    if (rc == -ENOMEM)
        snprintf(err->msg, sizeof(err->msg), "out of memory loading %s rules", what);
    policy_rules_free(r);
    return rc;
}

int policy_rules_load(enum policy_rules_kind kind, const char *dir, const char *cache_dir,
                      struct policy_rules **out, struct policy_error *err)
{
    struct rule_file *files = NULL;
    size_t n_files = 0;
    bool owned = dir && *dir;
    int rc;
    *out = NULL;
    if (owned) {
        if ((rc = read_dir(dir, &files, &n_files, err)) != 0)
            return rc;
    } else {
        const struct policy_embedded_file *emb =
            kind == POLICY_RULES_PROMPT ? policy_prompt_rule_files : policy_output_rule_files;
        size_t n_emb =
            kind == POLICY_RULES_PROMPT ? policy_prompt_rule_files_n : policy_output_rule_files_n;
        files = calloc(n_emb ? n_emb : 1, sizeof(*files));
        if (files == NULL) {
            snprintf(err->msg, sizeof(err->msg), "out of memory loading rules");
            return -ENOMEM;
        }
        for (size_t i = 0; i < n_emb; i++) {
            files[i].name = (char *)emb[i].name;
            files[i].data = (char *)emb[i].data;
            files[i].len = emb[i].len;
        }
        n_files = n_emb;
    }
    rc = rules_build(kind, files, n_files, cache_dir, out, err);
    files_free(files, n_files, owned);
    return rc;
}

int policy_rules_load_buffer(enum policy_rules_kind kind, const char *name, const char *buf,
                             size_t len, struct policy_rules **out, struct policy_error *err)
{
    struct rule_file f = {.name = (char *)name, .data = (char *)buf, .len = len};
    return rules_build(kind, &f, 1, NULL, out, err);
}

static void test_report(FILE *out, const struct policy_rule_example *ex, const char *id, bool hit)
{
    fprintf(out, "FAIL %s:%" PRIu32 ":%" PRIu32 ": rule %s: %s example %s\n", ex->loc.source,
            ex->loc.line, ex->loc.col, id, ex->match ? "match" : "no_match",
            hit ? "triggers it" : "does not trigger it");
}

/* Output examples: every detector runs (all actions log); a match example must give a finding
 * of the rule's type, a no_match example none of that type. */
static long output_rules_test(const struct policy_rules *r, FILE *out, bool verbose)
{
    struct guard_output_scratch *scratch = guard_output_scratch_new(r->out_db);
    struct guard_output_stream *st = guard_output_stream_new(r->out_db, NULL);
    struct guard_output_policy pol;
    long failures = 0, checked = 0;
    memset(&pol, 0, sizeof(pol)); /* every action: log */
    if (scratch == NULL || st == NULL) {
        failures = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->n_examples[i]; j++) {
            const struct policy_rule_example *ex = &r->examples[i][j];
            const struct guard_output_finding *f;
            guard_output_stream_reset(st, scratch, &pol);
            if (guard_output_stream_feed(st, ex->text, strlen(ex->text)) != 0 ||
                guard_output_stream_end(st) != 0) {
                failures = -EIO;
                goto out;
            }
            bool hit = false;
            size_t nf = guard_output_stream_findings(st, &f);
            for (size_t k = 0; k < nf; k++)
                hit |= strcmp(guard_output_db_rule(r->out_db, f[k].rule)->type,
                              r->out_rules[i].type) == 0;
            checked++;
            if (hit != ex->match) {
                failures++;
                test_report(out, ex, r->out_rules[i].id, hit);
            } else if (verbose) {
                fprintf(out, "ok   %s %s #%zu\n", r->out_rules[i].id,
                        ex->match ? "match" : "no_match", j + 1);
            }
        }
    }
    fprintf(out, "%zu output rules, %ld examples, %ld failed (rule set %s)\n", r->n, checked,
            failures, r->hash);
out:
    guard_output_stream_free(st);
    guard_output_scratch_free(scratch);
    return failures;
}

long policy_rules_test(const struct policy_rules *r, FILE *out, bool verbose)
{
    if (r->kind == POLICY_RULES_OUTPUT)
        return output_rules_test(r, out, verbose);
    struct guard_prompt_scratch *scratch = guard_prompt_scratch_new(r->db);
    struct guard_prompt_scan *scan = guard_prompt_scan_new(r->db, NULL);
    struct guard_prompt_verdict v;
    long failures = 0, checked = 0;
    if (scratch == NULL || scan == NULL) {
        failures = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->n; i++) {
        for (size_t j = 0; j < r->n_examples[i]; j++) {
            const struct policy_rule_example *ex = &r->examples[i][j];
            if (guard_prompt_scan_block(scan, scratch, ex->text, strlen(ex->text), 1.0, 1.0, &v) !=
                0) {
                failures = -EIO;
                goto out;
            }
            bool hit = guard_prompt_scan_views(scan, i) != 0;
            checked++;
            if (hit != ex->match) {
                failures++;
                test_report(out, ex, r->rules[i].id, hit);
            } else if (verbose) {
                fprintf(out, "ok   %s %s #%zu\n", r->rules[i].id, ex->match ? "match" : "no_match",
                        j + 1);
            }
        }
    }
    fprintf(out, "%zu prompt rules, %ld examples, %ld failed (rule set %s)\n", r->n, checked,
            failures, r->hash);
out:
    guard_prompt_scan_free(scan);
    guard_prompt_scratch_free(scratch);
    return failures;
}

/* ---------------------------------------------------------------- output actions */

static enum guard_out_action output_action(int a)
{
    return a == POLICY_OUT_BLOCK ? GUARD_OUT_BLOCK
           : a == POLICY_OUT_LOG ? GUARD_OUT_LOG
                                 : GUARD_OUT_REDACT;
}

int policy_output_policy(const struct policy_config *cfg, const struct policy_rules *r,
                         struct guard_output_policy *p, struct policy_error *err)
{
    guard_output_policy_default(p);
    p->cls[GUARD_OUT_PII] = output_action(cfg->output_guard.pii);
    p->cls[GUARD_OUT_SECRET] = output_action(cfg->output_guard.secrets);
    for (size_t i = 0; i < cfg->output_guard.n_types; i++) {
        const struct policy_output_type *t = &cfg->output_guard.types[i];
        bool known = false;
        for (size_t j = 0; r && j < r->n && !known; j++)
            known = strcmp(r->out_rules[j].type, t->name) == 0;
        if (!known || i >= GUARD_OUT_TYPE_OVERRIDES ||
            strlen(t->name) >= sizeof(p->types[0].type)) {
            snprintf(
                err->msg, sizeof(err->msg), "%s:%" PRIu32 ":%" PRIu32 ": output_guard.types.%s: %s",
                t->loc.source ? t->loc.source : "configuration", t->loc.line, t->loc.col, t->name,
                known ? "too many type overrides"
                      : "no output detector has this type (see `warden rules`)");
            return -EINVAL;
        }
        snprintf(p->types[p->n_types].type, sizeof(p->types[0].type), "%s", t->name);
        p->types[p->n_types++].action = output_action(t->action);
    }
    return 0;
}

/* POST /v1/scan/deps. The body is a JSON file map {"files": {"package.json": "...", ...}} or a
 * tar / tar.gz of the project; the answer is the report `warden scan-deps` writes, in the
 * format ?format= names. Parsing and scanning run on a thread of their own (one per scan, at
 * most PROXY_DEPS_JOBS_MAX per worker); the worker's loop only hands the body over and writes
 * the answer when the thread signals it. */
#include "proxy/deps_api.h"

#include "guards/deps/project.h"
#include "guards/deps/report_formats.h"
#include "guards/deps/scan.h"
#include "guards/deps/tar.h"
#include "guards/json_value.h"
#include "policy/config.h"
#include "policy/deps_corpus.h"
#include "proxy/conn.h"
#include "proxy/server.h"
#include "telemetry/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#ifndef WARDEN_VERSION
#define WARDEN_VERSION "0.1.0"
#endif

/* Files a JSON file map may name. */
#define DEPS_API_MAX_FILES 100000

struct proxy_deps_job {
    struct proxy_worker *w;
    struct proxy_conn *c; /* NULL once the client has gone */
    struct event *done_ev;
    pthread_t thread;
    struct proxy_deps_job *next; /* in the worker's list */
    /* In: the request body (taken from the connection) and the options. */
    struct evbuffer *body;
    enum deps_report_format format;
    bool deterministic;
    size_t max_files;
    /* Out: the answer. */
    int status;
    struct deps_buf out;
    const char *code; /* error code when status != 200 */
    char msg[600];
};

/* ---------------------------------------------------------------- corpus */

static const struct deps_corpus *server_corpus(struct proxy_server *srv, char *err, size_t cap)
{
    pthread_mutex_lock(&srv->deps_lock);
    if (srv->deps_corpus == NULL && srv->deps_corpus_err[0] == '\0' &&
        policy_deps_corpus_load(&srv->deps_corpus, srv->deps_corpus_err,
                                sizeof(srv->deps_corpus_err)) < 0 &&
        srv->deps_corpus_err[0] == '\0')
        snprintf(srv->deps_corpus_err, sizeof(srv->deps_corpus_err), "out of memory");
    const struct deps_corpus *c = srv->deps_corpus;
    if (c == NULL)
        snprintf(err, cap, "the scanner corpus did not load: %s", srv->deps_corpus_err);
    pthread_mutex_unlock(&srv->deps_lock);
    return c;
}

void proxy_deps_api_server_free(struct proxy_server *srv)
{
    deps_corpus_free(srv->deps_corpus);
    srv->deps_corpus = NULL;
}

/* ---------------------------------------------------------------- the scan thread */

static void job_error(struct proxy_deps_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_error(struct proxy_deps_job *j, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
    j->status = status;
    j->code = code;
}

/* {"files": {"PATH": "CONTENT", ...}} into files (paths copied to *paths). */
static int files_from_json(struct proxy_deps_job *j, const char *body, size_t len,
                           struct guard_jv_doc **doc, struct deps_file **files, char ***paths,
                           size_t *n)
{
    struct guard_jv_limits lim = {.max_bytes = len, .max_nodes = 2 * j->max_files + 16};
    struct guard_json_error je;
    if (guard_jv_parse(body, len, &lim, doc, &je) != 0) {
        job_error(j, 400, "invalid_request",
                  "request body: not valid JSON (%s at line %u, column %u); send "
                  "{\"files\": {\"package.json\": \"...\"}} or a .tar.gz of the project",
                  je.message, (unsigned)je.line, (unsigned)je.column);
        return -1;
    }
    const struct guard_jv *root = guard_jv_doc_root(*doc);
    const struct guard_jv *map =
        guard_jv_type(root) == GUARD_JV_OBJECT ? guard_jv_object_get(root, "files", 5) : NULL;
    if (map == NULL || guard_jv_type(map) != GUARD_JV_OBJECT) {
        job_error(j, 400, "invalid_request",
                  "request body: no \"files\" object; send {\"files\": {\"package.json\": "
                  "\"...\", \"package-lock.json\": \"...\"}}");
        return -1;
    }
    size_t count = guard_jv_object_len(map);
    if (count > j->max_files) {
        job_error(j, 413, "request_too_large", "request body: %zu files, more than %zu", count,
                  j->max_files);
        return -1;
    }
    *files = calloc(count ? count : 1, sizeof(**files));
    *paths = calloc(count ? count : 1, sizeof(**paths));
    if (*files == NULL || *paths == NULL) {
        job_error(j, 503, "overloaded", "out of memory");
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const struct guard_jv_member *m = guard_jv_object_at(map, i);
        size_t vlen = 0;
        const char *v = guard_jv_string(&m->value, &vlen);
        if (v == NULL) {
            job_error(j, 400, "invalid_request",
                      "request body: files[\"%.*s\"] is %s; each file's content is a string",
                      (int)(m->key_len < 200 ? m->key_len : 200), m->key,
                      guard_jv_type_name(guard_jv_type(&m->value)));
            return -1;
        }
        char *p = strndup(m->key, m->key_len);
        if (p == NULL) {
            job_error(j, 503, "overloaded", "out of memory");
            return -1;
        }
        (*paths)[(*n)++] = p;
        if (strlen(p) != m->key_len || !deps_path_ok(p)) {
            job_error(j, 400, "invalid_path",
                      "request body: \"%.200s\" is not a relative path inside the project "
                      "(absolute, or with '..', '.' or empty parts)",
                      p);
            return -1;
        }
        (*files)[i] = (struct deps_file){.path = p, .data = v, .len = vlen};
    }
    return 0;
}

/* The project of a file map, or NULL with the job's error set. */
static struct deps_project *project_load(struct proxy_deps_job *j, const struct deps_file *files,
                                         size_t n)
{
    struct deps_project *p = NULL;
    struct deps_project_error pe;
    int rc = deps_project_load(files, n, NULL, &p, &pe);
    if (rc < 0)
        job_error(j,
                  rc == -ENOMEM  ? 503
                  : rc == -E2BIG ? 413
                                 : 400,
                  rc == -ENOMEM ? "overloaded" : "invalid_project", "%s", pe.message);
    return rc < 0 ? NULL : p;
}

static void render(struct proxy_deps_job *j, const struct deps_report *r, double started_s,
                   double ms)
{
    char when[40] = "";
    if (!j->deterministic) {
        time_t t = (time_t)started_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    struct deps_report_meta meta = {.tool_version = WARDEN_VERSION,
                                    .started_at = j->deterministic ? NULL : when,
                                    .duration_ms = ms};
    deps_report_write_format(j->format, r, &meta, &j->out);
    if (j->out.oom)
        job_error(j, 503, "overloaded", "out of memory");
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void job_run(struct proxy_deps_job *j)
{
    double t0 = now_s();
    size_t len = evbuffer_get_length(j->body);
    const char *body = len ? (const char *)evbuffer_pullup(j->body, -1) : "";
    struct guard_jv_doc *doc = NULL;
    struct deps_tar tar = {0};
    struct deps_file *files = NULL;
    char **paths = NULL, err[512];
    size_t n = 0;
    struct deps_project *p = NULL;
    struct deps_report *r = NULL;
    const struct deps_corpus *corpus = server_corpus(j->w->srv, err, sizeof(err));
    size_t lead = 0;
    while (lead < len &&
           (body[lead] == ' ' || body[lead] == '\t' || body[lead] == '\r' || body[lead] == '\n'))
        lead++;
    if (corpus == NULL) {
        job_error(j, 503, "scanner_unavailable", "%s", err);
    } else if (len == 0) {
        job_error(j, 400, "invalid_request",
                  "empty request body; send {\"files\": {\"package.json\": \"...\"}} or a "
                  ".tar.gz of the project");
    } else if (lead < len && body[lead] == '{') {
        if (files_from_json(j, body, len, &doc, &files, &paths, &n) == 0) {
            p = project_load(j, files, n);
        }
    } else {
        struct deps_tar_limits tl = {.max_entries = j->max_files * 2};
        int rc = deps_tar_read(body, len, &tl, &tar, err, sizeof(err));
        if (rc < 0) {
            job_error(j,
                      rc == -ENOMEM  ? 503
                      : rc == -E2BIG ? 413
                                     : 400,
                      rc == -ENOMEM  ? "overloaded"
                      : rc == -EPERM ? "invalid_path"
                      : rc == -E2BIG ? "request_too_large"
                                     : "invalid_archive",
                      "request body: %s", err);
        } else {
            p = project_load(j, tar.files, tar.n);
        }
    }
    if (j->status == 0 && p != NULL) {
        if (deps_scan(p, corpus, &r) < 0)
            job_error(j, 503, "overloaded", "out of memory");
        else {
            j->status = 200;
            render(j, r, t0, (now_s() - t0) * 1e3);
        }
    }
    deps_report_free(r);
    deps_project_free(p);
    deps_tar_free(&tar);
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
    free(files);
    guard_jv_doc_free(doc);
    evbuffer_free(j->body);
    j->body = NULL;
}

static void *job_thread(void *arg)
{
    struct proxy_deps_job *j = arg;
    job_run(j);
    /* The worker's loop takes it from here (libevent is built with thread support). */
    event_active(j->done_ev, 0, 0);
    return NULL;
}

/* ---------------------------------------------------------------- the worker side */

static void job_free(struct proxy_deps_job *j)
{
    if (j->body)
        evbuffer_free(j->body);
    deps_buf_free(&j->out);
    if (j->done_ev)
        event_free(j->done_ev);
    free(j);
}

static void job_unlink(struct proxy_deps_job *j)
{
    struct proxy_worker *w = j->w;
    for (struct proxy_deps_job **pp = &w->deps_jobs; *pp; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            w->n_deps_jobs--;
            return;
        }
    }
}

static void job_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct proxy_deps_job *j = arg;
    struct proxy_conn *c = j->c;
    (void)fd;
    (void)what;
    pthread_join(j->thread, NULL);
    job_unlink(j);
    if (c != NULL) {
        c->deps_job = NULL;
        if (j->status == 200)
            proxy_conn_respond(c, 200, deps_report_format_media_type(j->format),
                               j->out.s ? j->out.s : "", j->out.len, NULL);
        else
            proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, j->status,
                                     j->status >= 500 ? "server_error" : "invalid_request_error",
                                     j->code, j->msg, NULL);
        proxy_conn_txn_end(c);
    }
    job_free(j);
}

static bool query_param(const char *q, size_t qlen, const char *key, char *val, size_t cap)
{
    size_t klen = strlen(key);
    for (size_t i = 0; i < qlen;) {
        size_t e = i;
        while (e < qlen && q[e] != '&')
            e++;
        if (e - i > klen && memcmp(q + i, key, klen) == 0 && q[i + klen] == '=') {
            size_t vlen = e - i - klen - 1;
            snprintf(val, cap, "%.*s", (int)vlen, q + i + klen + 1);
            return true;
        }
        i = e + 1;
    }
    return false;
}

int proxy_deps_api_handle(struct proxy_conn *c, const char *query, size_t qlen)
{
    struct proxy_worker *w = c->worker;
    char val[32];
    enum deps_report_format fmt = DEPS_FMT_JSON;
    bool deterministic = false;
    if (query_param(query, qlen, "format", val, sizeof(val)) &&
        deps_report_format_parse(val, &fmt) != 0) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 400, "invalid_request_error",
                                 "invalid_request", "?format= takes " DEPS_FORMAT_NAMES, NULL);
        return 1;
    }
    if (query_param(query, qlen, "deterministic", val, sizeof(val)))
        deterministic = strcmp(val, "1") == 0 || strcasecmp(val, "true") == 0;
    if (w->n_deps_jobs >= PROXY_DEPS_JOBS_MAX) {
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "server_error", "scanner_busy",
                                 "the scanner is busy with other projects; retry in a second",
                                 "Retry-After: 1\r\n");
        return 1;
    }
    struct proxy_deps_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (j->done_ev = event_new(w->base, -1, 0, job_done_cb, j)) == NULL) {
        free(j);
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "server_error", "overloaded",
                                 "out of memory", NULL);
        return 1;
    }
    j->w = w;
    j->c = c;
    j->format = fmt;
    j->deterministic = deterministic;
    j->max_files = DEPS_API_MAX_FILES;
    /* The body moves to the job: the connection keeps nothing while it waits. */
    j->body = c->hold ? c->hold : evbuffer_new();
    c->hold = NULL;
    if (j->body == NULL || pthread_create(&j->thread, NULL, job_thread, j) != 0) {
        job_free(j);
        proxy_conn_respond_error(c, PROXY_FLAVOR_OPENAI, 503, "server_error", "overloaded",
                                 "cannot start a scan thread", NULL);
        return 1;
    }
    j->next = w->deps_jobs;
    w->deps_jobs = j;
    w->n_deps_jobs++;
    c->deps_job = j;
    return 2;
}

void proxy_deps_api_conn_gone(struct proxy_conn *c)
{
    if (c->deps_job) {
        c->deps_job->c = NULL;
        c->deps_job = NULL;
    }
}

void proxy_deps_api_worker_end(struct proxy_worker *w)
{
    while (w->deps_jobs) {
        struct proxy_deps_job *j = w->deps_jobs;
        w->deps_jobs = j->next;
        pthread_join(j->thread, NULL);
        if (j->c)
            j->c->deps_job = NULL;
        job_free(j);
    }
    w->n_deps_jobs = 0;
}

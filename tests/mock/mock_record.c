/* Mock upstream: bounded records of received requests and the FIFO queue of scripts. */
#include "mock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const struct mock_header *mock_request_header(const struct mock_request *rq, const char *name)
{
    size_t i, n = strlen(name);

    for (i = 0; i < rq->n_headers; i++) {
        if (rq->headers[i].name_len == n && memcmp(rq->headers[i].name, name, n) == 0)
            return &rq->headers[i];
    }
    return NULL;
}

/* Headers as one JSON object; a repeated name becomes one member, values joined by ", ". */
static void mock_record_headers(const struct mock_request *rq, struct mock_buf *b)
{
    size_t i, j;
    bool first = true, dup, joined;

    mock_buf_adds(b, "{");
    for (i = 0; i < rq->n_headers; i++) {
        const struct mock_header *h = &rq->headers[i];
        dup = false;
        for (j = 0; j < i && !dup; j++)
            dup = rq->headers[j].name_len == h->name_len &&
                  memcmp(rq->headers[j].name, h->name, h->name_len) == 0;
        if (dup)
            continue;
        if (!first)
            mock_buf_adds(b, ",");
        first = false;
        mock_buf_add_jstr(b, h->name, h->name_len);
        mock_buf_adds(b, ":");
        joined = false;
        for (j = i + 1; j < rq->n_headers; j++) {
            if (rq->headers[j].name_len == h->name_len &&
                memcmp(rq->headers[j].name, h->name, h->name_len) == 0) {
                joined = true;
                break;
            }
        }
        if (!joined) {
            mock_buf_add_jstr(b, h->value, h->value_len);
            continue;
        }
        {
            struct mock_buf v;
            mock_buf_init(&v, MOCK_MAX_HEAD);
            mock_buf_add(&v, h->value, h->value_len);
            for (j = i + 1; j < rq->n_headers; j++) {
                if (rq->headers[j].name_len == h->name_len &&
                    memcmp(rq->headers[j].name, h->name, h->name_len) == 0) {
                    mock_buf_adds(&v, ", ");
                    mock_buf_add(&v, rq->headers[j].value, rq->headers[j].value_len);
                }
            }
            if (v.err && !b->err)
                b->err = v.err;
            mock_buf_add_jstr(b, v.p ? v.p : "", v.len);
            mock_buf_free(&v);
        }
    }
    mock_buf_adds(b, "}");
}

static void mock_record_build(const struct mock_server *srv, const struct mock_request *rq,
                              const char *script, size_t script_len, const char *source,
                              bool with_body, struct mock_buf *b)
{
    const char *qm = memchr(rq->target, '?', rq->target_len);
    size_t plen = qm ? (size_t)(qm - rq->target) : rq->target_len;
    bool utf8 = mock_utf8_valid(rq->body, rq->body_len);

    mock_buf_addf(b, "{\"seq\":%" PRIu64 ",\"method\":", srv->seq);
    mock_buf_add_jstr(b, rq->method, strlen(rq->method));
    mock_buf_adds(b, ",\"path\":");
    mock_buf_add_jstr(b, rq->target, plen);
    mock_buf_adds(b, ",\"query\":");
    mock_buf_add_jstr(b, qm ? qm + 1 : "", qm ? rq->target_len - plen - 1 : 0);
    mock_buf_adds(b, ",\"url\":");
    mock_buf_add_jstr(b, rq->target, rq->target_len);
    mock_buf_addf(b, ",\"http_version\":\"1.%u\",\"headers\":", rq->http_minor);
    mock_record_headers(rq, b);
    mock_buf_addf(b, ",\"body_bytes\":%zu,\"body\":", rq->body_len);
    if (!with_body)
        mock_buf_adds(b, "\"\"");
    else if (utf8)
        mock_buf_add_jstr(b, rq->body, rq->body_len);
    else {
        mock_buf_adds(b, "\"");
        mock_buf_add_b64(b, (const unsigned char *)rq->body, rq->body_len);
        mock_buf_adds(b, "\"");
    }
    mock_buf_addf(b, ",\"body_base64\":%s,\"body_truncated\":%s,\"script\":",
                  with_body && !utf8 ? "true" : "false",
                  !with_body || rq->body_truncated ? "true" : "false");
    if (script != NULL)
        mock_buf_add_jstr(b, script, script_len);
    else
        mock_buf_adds(b, "null");
    mock_buf_adds(b, ",\"script_source\":");
    mock_buf_add_jstr(b, source, strlen(source));
    mock_buf_adds(b, "}");
}

static const char *mock_response_name(enum mock_response r)
{
    switch (r) {
    case MOCK_RESP_COMPLETE:
        return "complete";
    case MOCK_RESP_CLIENT_CLOSED:
        return "client_closed";
    case MOCK_RESP_RESET:
        return "reset";
    case MOCK_RESP_PENDING:
        break;
    }
    return "pending";
}

/* A stored record is its JSON object without the outcome, which may change later: the
 * closing brace is replaced by the `response` member when the record is written out. */
static void mock_record_emit(const struct mock_server *srv, size_t slot, struct mock_buf *out)
{
    mock_buf_add(out, srv->rec[slot], srv->rec_len[slot] - 1);
    mock_buf_addf(out, ",\"response\":\"%s\"}",
                  mock_response_name((enum mock_response)srv->rec_resp[slot]));
}

/* The record file gets each record once, when its outcome is known or it leaves memory. */
static void mock_record_write_file(struct mock_server *srv, size_t slot)
{
    struct mock_buf b;

    if (srv->rec_file == NULL)
        return;
    mock_buf_init(&b, MOCK_MAX_REC_BYTES + 64);
    mock_record_emit(srv, slot, &b);
    if (b.err == 0) {
        fwrite(b.p, 1, b.len, srv->rec_file);
        fputc('\n', srv->rec_file);
        fflush(srv->rec_file);
    }
    mock_buf_free(&b);
}

static void mock_record_drop_oldest(struct mock_server *srv)
{
    if (srv->rec_resp[srv->rec_head] == MOCK_RESP_PENDING)
        mock_record_write_file(srv, srv->rec_head);
    free(srv->rec[srv->rec_head]);
    srv->rec_bytes -= srv->rec_len[srv->rec_head];
    srv->rec[srv->rec_head] = NULL;
    srv->rec_len[srv->rec_head] = 0;
    srv->rec_resp[srv->rec_head] = MOCK_RESP_PENDING;
    srv->rec_head = (srv->rec_head + 1) % MOCK_MAX_RECORDS;
    srv->rec_count--;
    srv->rec_first_id++;
    srv->rec_dropped++;
}

int mock_record_add(struct mock_server *srv, const struct mock_request *rq, const char *script,
                    size_t script_len, const char *source, uint64_t *id)
{
    struct mock_buf b;
    size_t slot;
    int rc = 0;

    *id = 0;
    mock_buf_init(&b, MOCK_MAX_REC_BYTES);
    mock_record_build(srv, rq, script, script_len, source, !rq->body_truncated, &b);
    if (b.err == -E2BIG) {
        /* too big to keep whole: keep everything but the body */
        mock_buf_reset(&b);
        mock_record_build(srv, rq, script, script_len, source, false, &b);
    }
    if (b.err) {
        rc = b.err;
        goto out;
    }
    while (srv->rec_count > 0 &&
           (srv->rec_count == MOCK_MAX_RECORDS || srv->rec_bytes + b.len > MOCK_MAX_REC_BYTES))
        mock_record_drop_oldest(srv);
    if (srv->rec_count == 0)
        srv->rec_first_id = srv->rec_next_id + 1;
    slot = (srv->rec_head + srv->rec_count) % MOCK_MAX_RECORDS;
    srv->rec[slot] = b.p; /* ownership moves to the ring */
    srv->rec_len[slot] = b.len;
    srv->rec_resp[slot] = MOCK_RESP_PENDING;
    srv->rec_bytes += b.len;
    srv->rec_count++;
    *id = ++srv->rec_next_id;
    b.p = NULL;
out:
    mock_buf_free(&b);
    return rc;
}

void mock_record_finish(struct mock_server *srv, uint64_t id, enum mock_response r)
{
    size_t slot;

    if (id == 0 || id < srv->rec_first_id || id - srv->rec_first_id >= srv->rec_count)
        return;
    slot = (srv->rec_head + (size_t)(id - srv->rec_first_id)) % MOCK_MAX_RECORDS;
    if (srv->rec_resp[slot] != MOCK_RESP_PENDING)
        return;
    srv->rec_resp[slot] = (unsigned char)r;
    mock_record_write_file(srv, slot);
}

void mock_record_dump(const struct mock_server *srv, struct mock_buf *out)
{
    size_t i, slot;

    mock_buf_adds(out, "[");
    for (i = 0; i < srv->rec_count; i++) {
        slot = (srv->rec_head + i) % MOCK_MAX_RECORDS;
        if (i > 0)
            mock_buf_adds(out, ",\n");
        mock_record_emit(srv, slot, out);
    }
    mock_buf_adds(out, "]\n");
}

void mock_record_clear(struct mock_server *srv)
{
    while (srv->rec_count > 0)
        mock_record_drop_oldest(srv);
    srv->rec_head = 0;
    srv->rec_dropped = 0;
}

int mock_queue_push(struct mock_server *srv, const char *text, size_t n)
{
    struct mock_queued *q;
    int rc = -ENOSPC;

    if (srv->q_count == MOCK_MAX_QUEUE)
        goto out;
    q = &srv->queue[(srv->q_head + srv->q_count) % MOCK_MAX_QUEUE];
    q->text = malloc(n + 1);
    if (q->text == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    if (n > 0)
        memcpy(q->text, text, n);
    q->text[n] = '\0';
    q->len = n;
    srv->q_count++;
    rc = 0;
out:
    return rc;
}

int mock_queue_pop(struct mock_server *srv, struct mock_queued *q)
{
    if (srv->q_count == 0)
        return 0;
    *q = srv->queue[srv->q_head];
    srv->queue[srv->q_head].text = NULL;
    srv->q_head = (srv->q_head + 1) % MOCK_MAX_QUEUE;
    srv->q_count--;
    return 1;
}

void mock_queue_clear(struct mock_server *srv)
{
    struct mock_queued q;

    while (mock_queue_pop(srv, &q))
        free(q.text);
    srv->q_head = 0;
}

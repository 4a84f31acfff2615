/* Mock upstream: routing, control endpoints and provider-shaped replies (JSON and SSE). */
#include "mock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Fixed so that replies are byte-for-byte reproducible. */
#define MOCK_CREATED 1700000000

/* One request being answered. */
struct mock_ctx {
    struct mock_server *srv;
    const struct mock_request *rq;
    struct mock_plan *plan;
    struct mock_script sc;
    struct mock_req_info info;
    char path[1024];
    uint64_t seq;
    bool anthropic; /* errors in Anthropic's shape */
    bool http11;
    const char *model;
    /* reply text cut into deltas: piece i is text[cuts[i], cuts[i + 1]) */
    const char *text;
    size_t text_len;
    size_t *cuts;
    size_t n_pieces;
    unsigned prompt_tokens;
    /* streaming */
    bool sse_chunked;
    unsigned events_sent;
    unsigned sse_seq; /* Responses API sequence_number */
    bool stopped;
    struct mock_buf scratch; /* one event or body being built */
    struct mock_buf frame;
    struct mock_buf deftext;
};

const char *mock_status_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 529:
        return "Overloaded";
    default:
        return "Status";
    }
}

void mock_reply_simple(struct mock_plan *plan, int status, const char *content_type,
                       const char *body, size_t n, bool close)
{
    struct mock_buf h;

    mock_buf_init(&h, 4096);
    mock_buf_addf(&h, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", status,
                  mock_status_reason(status), content_type, n,
                  close ? "Connection: close\r\n" : "");
    if (h.err && !plan->err)
        plan->err = h.err;
    mock_plan_bytes(plan, h.p, h.len, 0, 0);
    mock_plan_bytes(plan, body, n, 0, 0);
    if (close)
        plan->close_after = true;
    mock_buf_free(&h);
}

static void mock_jstr(struct mock_buf *b, const char *s)
{
    mock_buf_add_jstr(b, s, strlen(s));
}

/* ---- text and token counts ---- */

static bool mock_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Cuts the reply text into deltas: one per word by default (a delta starts where a blank
 * follows a non-blank, like tokenizers that glue the space to the next word), or `events`
 * pieces of about equal numbers of characters. */
static int mock_ctx_cut(struct mock_ctx *c)
{
    size_t i, n = c->text_len, cps = 0, want, k, cp;
    size_t *starts = NULL;
    int rc = -ENOMEM;

    c->n_pieces = 0;
    if (n == 0) {
        rc = 0;
        goto out;
    }
    for (i = 0; i < n; i++) {
        if (((unsigned char)c->text[i] & 0xc0) != 0x80)
            cps++;
    }
    /* character start offsets, plus the end */
    starts = calloc(cps + 1, sizeof(*starts));
    c->cuts = calloc(cps + 1, sizeof(*c->cuts));
    if (starts == NULL || c->cuts == NULL)
        goto out;
    for (i = 0, k = 0; i < n; i++) {
        if (((unsigned char)c->text[i] & 0xc0) != 0x80)
            starts[k++] = i;
    }
    starts[cps] = n;
    c->cuts[0] = 0;
    if (c->sc.events > 0) {
        want = (size_t)c->sc.events < cps ? (size_t)c->sc.events : cps;
        for (k = 1; k < want; k++)
            c->cuts[k] = starts[k * cps / want];
        c->n_pieces = want;
    } else {
        c->n_pieces = 1;
        for (cp = 1; cp < cps; cp++) {
            i = starts[cp];
            if (mock_is_ws(c->text[i]) && !mock_is_ws(c->text[i - 1]))
                c->cuts[c->n_pieces++] = i;
        }
    }
    c->cuts[c->n_pieces] = n;
    rc = 0;
out:
    free(starts);
    return rc;
}

static unsigned mock_ctx_completion_tokens(const struct mock_ctx *c)
{
    return (unsigned)c->n_pieces;
}

/* ---- reply framing ---- */

static void mock_emit_wire(struct mock_ctx *c, const char *p, size_t n)
{
    size_t piece = c->sc.chunk > 0 ? (size_t)c->sc.chunk : 0;

    mock_plan_bytes(c->plan, p, n, piece, piece ? (unsigned)c->sc.delay_ms : 0);
}

/* Status line and headers. mode: 'L' Content-Length (len), 'C' chunked, 'E' until close. */
static void mock_emit_head(struct mock_ctx *c, int status, const char *ctype, char mode, size_t len)
{
    struct mock_buf *h = &c->frame;
    unsigned i;

    mock_buf_reset(h);
    /* status=2xx/3xx replaces 200 on a generated reply */
    if (status == 200 && c->sc.status > 0 && c->sc.status < 400)
        status = c->sc.status;
    mock_plan_delay(c->plan, (unsigned)c->sc.first_byte_ms);
    mock_buf_addf(h, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, mock_status_reason(status),
                  ctype);
    if (mode == 'L')
        mock_buf_addf(h, "Content-Length: %zu\r\n", len);
    else if (mode == 'C')
        mock_buf_adds(h, "Transfer-Encoding: chunked\r\n");
    if (mode == 'E')
        c->plan->close_after = true;
    if (c->plan->close_after)
        mock_buf_adds(h, "Connection: close\r\n");
    else
        mock_buf_adds(h, "Connection: keep-alive\r\n");
    mock_buf_addf(h, "x-request-id: req_mock_%06" PRIu64 "\r\n", c->seq);
    if (c->anthropic)
        mock_buf_addf(h, "request-id: req_mock_%06" PRIu64 "\r\n", c->seq);
    else
        mock_buf_adds(h, "openai-processing-ms: 1\r\nopenai-version: 2020-10-01\r\n");
    mock_buf_addf(h, "x-mock-seq: %" PRIu64 "\r\n", c->seq);
    if (strncmp(ctype, "text/event-stream", 17) == 0)
        mock_buf_adds(h, "Cache-Control: no-cache\r\n");
    for (i = 0; i < c->sc.n_hdrs; i++)
        mock_buf_addf(h, "%s: %s\r\n", c->sc.hdr_name[i], c->sc.hdr_value[i]);
    mock_buf_adds(h, "\r\n");
    if (h->err && !c->plan->err)
        c->plan->err = h->err;
    mock_emit_wire(c, h->p, h->len);
}

/* A whole (non-streamed) body: optional chunked framing, slow trickle, reset after N bytes. */
static void mock_emit_body(struct mock_ctx *c, int status, const char *ctype, const char *body,
                           size_t n)
{
    bool chunked = c->sc.chunked && c->http11;
    size_t piece, off = 0, k, limit = n;
    char hex[32];
    int hl;

    if (c->sc.reset_after >= 0 && (size_t)c->sc.reset_after < limit)
        limit = (size_t)c->sc.reset_after;
    mock_emit_head(c, status, ctype, chunked ? 'C' : 'L', n);
    piece = c->sc.slow_body_ms > 0 ? (c->sc.chunk > 0 ? (size_t)c->sc.chunk : 16) : n;
    while (off < limit) {
        k = limit - off < piece ? limit - off : piece;
        if (off > 0)
            mock_plan_delay(c->plan, (unsigned)c->sc.slow_body_ms);
        if (chunked) {
            hl = snprintf(hex, sizeof(hex), "%zx\r\n", k);
            mock_emit_wire(c, hex, (size_t)hl);
        }
        mock_emit_wire(c, body + off, k);
        if (chunked)
            mock_emit_wire(c, "\r\n", 2);
        off += k;
    }
    if (c->sc.reset_after >= 0 && (size_t)c->sc.reset_after <= n)
        mock_plan_reset(c->plan);
    else if (chunked)
        mock_emit_wire(c, "0\r\n\r\n", 5);
}

static void mock_sse_begin(struct mock_ctx *c)
{
    c->sse_chunked = c->http11;
    mock_emit_head(c, 200, "text/event-stream; charset=utf-8", c->sse_chunked ? 'C' : 'E', 0);
}

static void mock_sse_raw(struct mock_ctx *c, const char *event, const char *data, size_t n)
{
    struct mock_buf *f = &c->frame;
    char hex[32];
    int hl;

    mock_buf_reset(f);
    if (event != NULL)
        mock_buf_addf(f, "event: %s\n", event);
    mock_buf_adds(f, "data: ");
    mock_buf_add(f, data, n);
    mock_buf_adds(f, "\n\n");
    if (f->err && !c->plan->err)
        c->plan->err = f->err;
    mock_plan_delay(c->plan, (unsigned)c->sc.delay_ms);
    if (c->sse_chunked) {
        hl = snprintf(hex, sizeof(hex), "%zx\r\n", f->len);
        mock_emit_wire(c, hex, (size_t)hl);
    }
    mock_emit_wire(c, f->p, f->len);
    if (c->sse_chunked)
        mock_emit_wire(c, "\r\n", 2);
}

static void mock_sse_error(struct mock_ctx *c);

/* One SSE event; `data` is the JSON in c->scratch. Handles reset_after and error_after. */
static void mock_sse_event(struct mock_ctx *c, const char *event)
{
    if (c->stopped) {
        /* the stream already ended: later events are dropped */
    } else if (c->sc.reset_after >= 0 && c->events_sent == (unsigned)c->sc.reset_after) {
        mock_plan_reset(c->plan);
        c->stopped = true;
    } else if (c->sc.error_after >= 0 && c->events_sent == (unsigned)c->sc.error_after) {
        mock_sse_error(c);
        c->stopped = true;
        if (c->sse_chunked)
            mock_emit_wire(c, "0\r\n\r\n", 5);
    } else {
        if (c->scratch.err && !c->plan->err)
            c->plan->err = c->scratch.err;
        mock_sse_raw(c, event, c->scratch.p, c->scratch.len);
        c->events_sent++;
    }
}

static void mock_sse_end(struct mock_ctx *c)
{
    /* a reset or an error event may have ended the stream already */
    if (c->stopped)
        return;
    if (c->sc.reset_after >= 0 && c->events_sent == (unsigned)c->sc.reset_after)
        mock_plan_reset(c->plan);
    else if (c->sse_chunked)
        mock_emit_wire(c, "0\r\n\r\n", 5);
}

/* ---- errors ---- */

static const char *mock_error_type(const struct mock_ctx *c, int status)
{
    if (c->sc.error_type[0] != '\0')
        return c->sc.error_type;
    if (c->anthropic) {
        switch (status) {
        case 400:
            return "invalid_request_error";
        case 401:
            return "authentication_error";
        case 402:
            return "billing_error";
        case 403:
            return "permission_error";
        case 404:
            return "not_found_error";
        case 413:
            return "request_too_large";
        case 429:
            return "rate_limit_error";
        case 504:
            return "timeout_error";
        case 529:
            return "overloaded_error";
        default:
            return status >= 500 ? "api_error" : "invalid_request_error";
        }
    }
    switch (status) {
    case 401:
        return "invalid_request_error";
    case 403:
        return "permission_error";
    case 429:
        return "requests";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *mock_error_code(const struct mock_ctx *c, int status)
{
    if (c->sc.error_code[0] != '\0')
        return c->sc.error_code;
    switch (status) {
    case 401:
        return "invalid_api_key";
    case 404:
        return "unknown_url";
    case 429:
        return "rate_limit_exceeded";
    default:
        return NULL;
    }
}

/* Error body in the provider's shape into c->scratch. */
static void mock_error_body(struct mock_ctx *c, int status, const char *type, const char *message)
{
    struct mock_buf *b = &c->scratch;
    const char *code = mock_error_code(c, status);

    mock_buf_reset(b);
    if (c->anthropic) {
        mock_buf_adds(b, "{\"type\":\"error\",\"error\":{\"type\":");
        mock_jstr(b, type);
        mock_buf_adds(b, ",\"message\":");
        mock_jstr(b, message);
        mock_buf_addf(b, "},\"request_id\":\"req_mock_%06" PRIu64 "\"}", c->seq);
    } else {
        mock_buf_adds(b, "{\"error\":{\"message\":");
        mock_jstr(b, message);
        mock_buf_adds(b, ",\"type\":");
        mock_jstr(b, type);
        mock_buf_adds(b, ",\"param\":null,\"code\":");
        if (code != NULL)
            mock_jstr(b, code);
        else
            mock_buf_adds(b, "null");
        mock_buf_adds(b, "}}");
    }
}

static void mock_reply_error(struct mock_ctx *c, int status, const char *type, const char *message)
{
    mock_error_body(c, status, type ? type : mock_error_type(c, status), message);
    if (c->scratch.err && !c->plan->err)
        c->plan->err = c->scratch.err;
    mock_emit_body(c, status, "application/json", c->scratch.p, c->scratch.len);
}

/* The error event that ends a stream early (error_after), in the provider's stream format. */
static void mock_sse_error(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    const char *msg = c->sc.error_message[0] ? c->sc.error_message : "mock: scripted stream error";

    if (c->anthropic) {
        mock_error_body(c, 529, mock_error_type(c, 529), msg);
        mock_sse_raw(c, "error", b->p, b->len);
    } else if (strcmp(c->path, "/v1/responses") == 0) {
        mock_buf_reset(b);
        mock_buf_addf(b, "{\"type\":\"error\",\"sequence_number\":%u,\"code\":", c->sse_seq++);
        mock_jstr(b, c->sc.error_code[0] ? c->sc.error_code : "server_error");
        mock_buf_adds(b, ",\"message\":");
        mock_jstr(b, msg);
        mock_buf_adds(b, ",\"param\":null}");
        mock_sse_raw(c, "error", b->p, b->len);
    } else {
        mock_error_body(c, 500, mock_error_type(c, 500), msg);
        mock_sse_raw(c, NULL, b->p, b->len);
    }
}

/* ---- OpenAI chat completions and legacy completions ---- */

static void mock_openai_usage(struct mock_ctx *c, struct mock_buf *b, bool details)
{
    unsigned p = c->prompt_tokens, o = mock_ctx_completion_tokens(c);

    mock_buf_addf(b, "{\"prompt_tokens\":%u,\"completion_tokens\":%u,\"total_tokens\":%u", p, o,
                  p + o);
    if (details)
        mock_buf_adds(b, ",\"prompt_tokens_details\":{\"cached_tokens\":0,\"audio_tokens\":0},"
                         "\"completion_tokens_details\":{\"reasoning_tokens\":0,\"audio_tokens\":0,"
                         "\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}");
    mock_buf_adds(b, "}");
}

static const char *mock_stop(const struct mock_ctx *c, const char *dflt)
{
    return c->sc.stop_reason[0] ? c->sc.stop_reason : dflt;
}

static void mock_chat_chunk_begin(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;

    mock_buf_reset(b);
    mock_buf_addf(b,
                  "{\"id\":\"chatcmpl-mock-%06" PRIu64 "\",\"object\":\"chat.completion.chunk\","
                  "\"created\":%d,\"model\":",
                  c->seq, MOCK_CREATED);
    mock_jstr(b, c->model);
    mock_buf_adds(b,
                  ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\",\"choices\":[");
}

static void mock_chat_chunk_end(struct mock_ctx *c)
{
    mock_buf_adds(&c->scratch, c->info.include_usage ? "],\"usage\":null}" : "]}");
}

static void mock_chat(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    size_t i;

    if (!c->info.stream) {
        mock_buf_reset(b);
        mock_buf_addf(b,
                      "{\"id\":\"chatcmpl-mock-%06" PRIu64 "\",\"object\":\"chat.completion\","
                      "\"created\":%d,\"model\":",
                      c->seq, MOCK_CREATED);
        mock_jstr(b, c->model);
        mock_buf_adds(b, ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
                         "\"content\":");
        mock_buf_add_jstr(b, c->text, c->text_len);
        mock_buf_adds(b, ",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,"
                         "\"finish_reason\":");
        mock_jstr(b, mock_stop(c, "stop"));
        mock_buf_adds(b, "}],\"usage\":");
        mock_openai_usage(c, b, true);
        mock_buf_adds(b, ",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}");
        if (b->err && !c->plan->err)
            c->plan->err = b->err;
        mock_emit_body(c, 200, "application/json", b->p, b->len);
        goto out;
    }
    mock_sse_begin(c);
    mock_chat_chunk_begin(c);
    mock_buf_adds(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\","
                     "\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}");
    mock_chat_chunk_end(c);
    mock_sse_event(c, NULL);
    for (i = 0; i < c->n_pieces; i++) {
        mock_chat_chunk_begin(c);
        mock_buf_adds(b, "{\"index\":0,\"delta\":{\"content\":");
        mock_buf_add_jstr(b, c->text + c->cuts[i], c->cuts[i + 1] - c->cuts[i]);
        mock_buf_adds(b, "},\"logprobs\":null,\"finish_reason\":null}");
        mock_chat_chunk_end(c);
        mock_sse_event(c, NULL);
    }
    mock_chat_chunk_begin(c);
    mock_buf_adds(b, "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":");
    mock_jstr(b, mock_stop(c, "stop"));
    mock_buf_adds(b, "}");
    mock_chat_chunk_end(c);
    mock_sse_event(c, NULL);
    if (c->info.include_usage) {
        mock_chat_chunk_begin(c);
        mock_buf_adds(b, "],\"usage\":");
        mock_openai_usage(c, b, true);
        mock_buf_adds(b, "}");
        mock_sse_event(c, NULL);
    }
    mock_buf_reset(b);
    mock_buf_adds(b, "[DONE]");
    mock_sse_event(c, NULL);
    mock_sse_end(c);
out:
    return;
}

static void mock_completion_begin(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;

    mock_buf_reset(b);
    mock_buf_addf(b,
                  "{\"id\":\"cmpl-mock-%06" PRIu64 "\",\"object\":\"text_completion\","
                  "\"created\":%d,\"model\":",
                  c->seq, MOCK_CREATED);
    mock_jstr(b, c->model);
    mock_buf_adds(b, ",\"choices\":[");
}

static void mock_completions(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    size_t i;

    if (!c->info.stream) {
        mock_completion_begin(c);
        mock_buf_adds(b, "{\"text\":");
        mock_buf_add_jstr(b, c->text, c->text_len);
        mock_buf_adds(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":");
        mock_jstr(b, mock_stop(c, "stop"));
        mock_buf_adds(b, "}],\"usage\":");
        mock_openai_usage(c, b, false);
        mock_buf_adds(b, ",\"system_fingerprint\":\"fp_mock\"}");
        if (b->err && !c->plan->err)
            c->plan->err = b->err;
        mock_emit_body(c, 200, "application/json", b->p, b->len);
        goto out;
    }
    mock_sse_begin(c);
    for (i = 0; i < c->n_pieces; i++) {
        mock_completion_begin(c);
        mock_buf_adds(b, "{\"text\":");
        mock_buf_add_jstr(b, c->text + c->cuts[i], c->cuts[i + 1] - c->cuts[i]);
        mock_buf_adds(b, ",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]");
        mock_buf_adds(b, c->info.include_usage ? ",\"usage\":null}" : "}");
        mock_sse_event(c, NULL);
    }
    mock_completion_begin(c);
    mock_buf_adds(b, "{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":");
    mock_jstr(b, mock_stop(c, "stop"));
    mock_buf_adds(b, "}]");
    mock_buf_adds(b, c->info.include_usage ? ",\"usage\":null}" : "}");
    mock_sse_event(c, NULL);
    if (c->info.include_usage) {
        mock_completion_begin(c);
        mock_buf_adds(b, "],\"usage\":");
        mock_openai_usage(c, b, false);
        mock_buf_adds(b, "}");
        mock_sse_event(c, NULL);
    }
    mock_buf_reset(b);
    mock_buf_adds(b, "[DONE]");
    mock_sse_event(c, NULL);
    mock_sse_end(c);
out:
    return;
}

/* ---- OpenAI Responses API ---- */

static void mock_resp_part(struct mock_ctx *c, struct mock_buf *b, bool full)
{
    mock_buf_adds(b, "{\"type\":\"output_text\",\"annotations\":[],\"logprobs\":[],\"text\":");
    if (full)
        mock_buf_add_jstr(b, c->text, c->text_len);
    else
        mock_buf_adds(b, "\"\"");
    mock_buf_adds(b, "}");
}

static void mock_resp_item(struct mock_ctx *c, struct mock_buf *b, bool done)
{
    mock_buf_addf(b,
                  "{\"id\":\"msg_mock_%06" PRIu64 "\",\"type\":\"message\",\"status\":\"%s\","
                  "\"content\":[",
                  c->seq, done ? "completed" : "in_progress");
    if (done)
        mock_resp_part(c, b, true);
    mock_buf_adds(b, "],\"role\":\"assistant\"}");
}

static void mock_resp_object(struct mock_ctx *c, struct mock_buf *b, bool done)
{
    unsigned p = c->prompt_tokens, o = mock_ctx_completion_tokens(c);

    mock_buf_addf(b,
                  "{\"id\":\"resp_mock_%06" PRIu64 "\",\"object\":\"response\",\"created_at\":%d,"
                  "\"status\":\"%s\",\"background\":false,\"error\":null,"
                  "\"incomplete_details\":null,\"instructions\":null,\"max_output_tokens\":null,"
                  "\"max_tool_calls\":null,\"model\":",
                  c->seq, MOCK_CREATED, done ? "completed" : "in_progress");
    mock_jstr(b, c->model);
    mock_buf_adds(b, ",\"output\":[");
    if (done)
        mock_resp_item(c, b, true);
    mock_buf_adds(b, "],\"parallel_tool_calls\":true,\"previous_response_id\":null,"
                     "\"prompt_cache_key\":null,\"reasoning\":{\"effort\":null,\"summary\":null},"
                     "\"safety_identifier\":null,\"service_tier\":\"default\",\"store\":true,"
                     "\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"},"
                     "\"verbosity\":\"medium\"},\"tool_choice\":\"auto\",\"tools\":[],"
                     "\"top_logprobs\":0,\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":");
    if (done)
        mock_buf_addf(b,
                      "{\"input_tokens\":%u,\"input_tokens_details\":{\"cached_tokens\":0},"
                      "\"output_tokens\":%u,\"output_tokens_details\":{\"reasoning_tokens\":0},"
                      "\"total_tokens\":%u}",
                      p, o, p + o);
    else
        mock_buf_adds(b, "null");
    mock_buf_adds(b, ",\"user\":null,\"metadata\":{}}");
}

/* Starts a Responses API event: {"type":T,"sequence_number":N, ... */
static void mock_resp_ev(struct mock_ctx *c, const char *type)
{
    mock_buf_reset(&c->scratch);
    mock_buf_addf(&c->scratch, "{\"type\":\"%s\",\"sequence_number\":%u", type, c->sse_seq++);
}

static void mock_resp_ev_where(struct mock_ctx *c)
{
    mock_buf_addf(&c->scratch,
                  ",\"item_id\":\"msg_mock_%06" PRIu64 "\",\"output_index\":0,\"content_index\":0",
                  c->seq);
}

static void mock_responses(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    size_t i;

    if (!c->info.stream) {
        mock_buf_reset(b);
        mock_resp_object(c, b, true);
        if (b->err && !c->plan->err)
            c->plan->err = b->err;
        mock_emit_body(c, 200, "application/json", b->p, b->len);
        goto out;
    }
    mock_sse_begin(c);
    mock_resp_ev(c, "response.created");
    mock_buf_adds(b, ",\"response\":");
    mock_resp_object(c, b, false);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.created");
    mock_resp_ev(c, "response.in_progress");
    mock_buf_adds(b, ",\"response\":");
    mock_resp_object(c, b, false);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.in_progress");
    mock_resp_ev(c, "response.output_item.added");
    mock_buf_adds(b, ",\"output_index\":0,\"item\":");
    mock_resp_item(c, b, false);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.output_item.added");
    mock_resp_ev(c, "response.content_part.added");
    mock_resp_ev_where(c);
    mock_buf_adds(b, ",\"part\":");
    mock_resp_part(c, b, false);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.content_part.added");
    for (i = 0; i < c->n_pieces; i++) {
        mock_resp_ev(c, "response.output_text.delta");
        mock_resp_ev_where(c);
        mock_buf_adds(b, ",\"delta\":");
        mock_buf_add_jstr(b, c->text + c->cuts[i], c->cuts[i + 1] - c->cuts[i]);
        mock_buf_adds(b, ",\"logprobs\":[]}");
        mock_sse_event(c, "response.output_text.delta");
    }
    mock_resp_ev(c, "response.output_text.done");
    mock_resp_ev_where(c);
    mock_buf_adds(b, ",\"text\":");
    mock_buf_add_jstr(b, c->text, c->text_len);
    mock_buf_adds(b, ",\"logprobs\":[]}");
    mock_sse_event(c, "response.output_text.done");
    mock_resp_ev(c, "response.content_part.done");
    mock_resp_ev_where(c);
    mock_buf_adds(b, ",\"part\":");
    mock_resp_part(c, b, true);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.content_part.done");
    mock_resp_ev(c, "response.output_item.done");
    mock_buf_adds(b, ",\"output_index\":0,\"item\":");
    mock_resp_item(c, b, true);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.output_item.done");
    mock_resp_ev(c, "response.completed");
    mock_buf_adds(b, ",\"response\":");
    mock_resp_object(c, b, true);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "response.completed");
    mock_sse_end(c);
out:
    return;
}

/* ---- OpenAI embeddings ---- */

/* Deterministic and exact in float32, so the float and base64 encodings compare equal. */
static float mock_embedding_value(unsigned i, unsigned j)
{
    return (float)((int)((i * 31u + j * 7u) % 65u) - 32) / 64.0f;
}

static void mock_embeddings(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    unsigned dims = c->info.dimensions ? c->info.dimensions : 8, i, j;
    bool b64 = strcmp(c->info.encoding_format, "base64") == 0;
    unsigned char *le = NULL;
    uint32_t bits;
    float v;

    if (!c->info.has_input || c->info.input_count == 0) {
        mock_reply_error(c, 400, NULL, "mock: 'input' must be a non-empty string or array");
        goto out;
    }
    if (c->info.encoding_format[0] != '\0' && !b64 &&
        strcmp(c->info.encoding_format, "float") != 0) {
        mock_reply_error(c, 400, NULL, "mock: encoding_format must be \"float\" or \"base64\"");
        goto out;
    }
    if ((uint64_t)c->info.input_count * dims > 1u << 22) {
        mock_reply_error(c, 400, NULL, "mock: too many inputs x dimensions");
        goto out;
    }
    le = malloc((size_t)dims * 4);
    if (le == NULL) {
        c->plan->err = -ENOMEM;
        goto out;
    }
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"object\":\"list\",\"data\":[");
    for (i = 0; i < c->info.input_count; i++) {
        mock_buf_addf(b, "%s{\"object\":\"embedding\",\"index\":%u,\"embedding\":", i ? "," : "",
                      i);
        if (b64) {
            for (j = 0; j < dims; j++) {
                v = mock_embedding_value(i, j);
                memcpy(&bits, &v, sizeof(bits));
                le[j * 4] = (unsigned char)(bits & 0xff);
                le[j * 4 + 1] = (unsigned char)((bits >> 8) & 0xff);
                le[j * 4 + 2] = (unsigned char)((bits >> 16) & 0xff);
                le[j * 4 + 3] = (unsigned char)(bits >> 24);
            }
            mock_buf_adds(b, "\"");
            mock_buf_add_b64(b, le, (size_t)dims * 4);
            mock_buf_adds(b, "\"");
        } else {
            mock_buf_adds(b, "[");
            for (j = 0; j < dims; j++)
                mock_buf_addf(b, "%s%.9g", j ? "," : "", (double)mock_embedding_value(i, j));
            mock_buf_adds(b, "]");
        }
        mock_buf_adds(b, "}");
    }
    mock_buf_adds(b, "],\"model\":");
    mock_jstr(b, c->model);
    mock_buf_addf(b, ",\"usage\":{\"prompt_tokens\":%u,\"total_tokens\":%u}}", c->prompt_tokens,
                  c->prompt_tokens);
    if (b->err && !c->plan->err)
        c->plan->err = b->err;
    mock_emit_body(c, 200, "application/json", b->p, b->len);
out:
    free(le);
}

/* ---- Anthropic ---- */

static void mock_anthropic_usage(struct mock_ctx *c, struct mock_buf *b, unsigned out_tokens)
{
    mock_buf_addf(b,
                  "{\"input_tokens\":%u,\"cache_creation_input_tokens\":0,"
                  "\"cache_read_input_tokens\":0,\"output_tokens\":%u,"
                  "\"service_tier\":\"standard\"}",
                  c->prompt_tokens, out_tokens);
}

static void mock_anthropic_message(struct mock_ctx *c, struct mock_buf *b, bool done)
{
    mock_buf_addf(b,
                  "{\"id\":\"msg_mock_%06" PRIu64 "\",\"type\":\"message\","
                  "\"role\":\"assistant\",\"model\":",
                  c->seq);
    mock_jstr(b, c->model);
    mock_buf_adds(b, ",\"content\":[");
    if (done) {
        mock_buf_adds(b, "{\"type\":\"text\",\"text\":");
        mock_buf_add_jstr(b, c->text, c->text_len);
        mock_buf_adds(b, "}");
    }
    mock_buf_adds(b, "],\"stop_reason\":");
    if (done)
        mock_jstr(b, mock_stop(c, "end_turn"));
    else
        mock_buf_adds(b, "null");
    mock_buf_adds(b, ",\"stop_sequence\":null,\"usage\":");
    mock_anthropic_usage(c, b, done ? mock_ctx_completion_tokens(c) : 1);
    mock_buf_adds(b, "}");
}

static void mock_messages(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;
    size_t i;

    if (!c->info.stream) {
        mock_buf_reset(b);
        mock_anthropic_message(c, b, true);
        if (b->err && !c->plan->err)
            c->plan->err = b->err;
        mock_emit_body(c, 200, "application/json", b->p, b->len);
        goto out;
    }
    mock_sse_begin(c);
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"message_start\",\"message\":");
    mock_anthropic_message(c, b, false);
    mock_buf_adds(b, "}");
    mock_sse_event(c, "message_start");
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"content_block_start\",\"index\":0,"
                     "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
    mock_sse_event(c, "content_block_start");
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"ping\"}");
    mock_sse_event(c, "ping");
    for (i = 0; i < c->n_pieces; i++) {
        mock_buf_reset(b);
        mock_buf_adds(b, "{\"type\":\"content_block_delta\",\"index\":0,"
                         "\"delta\":{\"type\":\"text_delta\",\"text\":");
        mock_buf_add_jstr(b, c->text + c->cuts[i], c->cuts[i + 1] - c->cuts[i]);
        mock_buf_adds(b, "}}");
        mock_sse_event(c, "content_block_delta");
    }
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"content_block_stop\",\"index\":0}");
    mock_sse_event(c, "content_block_stop");
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":");
    mock_jstr(b, mock_stop(c, "end_turn"));
    mock_buf_addf(b, ",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%u}}",
                  mock_ctx_completion_tokens(c));
    mock_sse_event(c, "message_delta");
    mock_buf_reset(b);
    mock_buf_adds(b, "{\"type\":\"message_stop\"}");
    mock_sse_event(c, "message_stop");
    mock_sse_end(c);
out:
    return;
}

static void mock_count_tokens(struct mock_ctx *c)
{
    struct mock_buf *b = &c->scratch;

    mock_buf_reset(b);
    mock_buf_addf(b, "{\"input_tokens\":%u}", c->prompt_tokens);
    mock_emit_body(c, 200, "application/json", b->p, b->len);
}

static void mock_models(struct mock_ctx *c)
{
    static const char *const openai =
        "{\"object\":\"list\",\"data\":["
        "{\"id\":\"gpt-4o-mini\",\"object\":\"model\",\"created\":1700000000,\"owned_by\":\"mock\"}"
        ","
        "{\"id\":\"text-embedding-3-small\",\"object\":\"model\",\"created\":1700000000,"
        "\"owned_by\":\"mock\"}]}";
    static const char *const anthropic =
        "{\"data\":[{\"type\":\"model\",\"id\":\"claude-haiku-4-5\",\"display_name\":"
        "\"Claude Haiku 4.5\",\"created_at\":\"2025-10-01T00:00:00Z\"}],\"has_more\":false,"
        "\"first_id\":\"claude-haiku-4-5\",\"last_id\":\"claude-haiku-4-5\"}";
    const char *body = mock_request_header(c->rq, "anthropic-version") ? anthropic : openai;

    mock_emit_body(c, 200, "application/json", body, strlen(body));
}

/* ---- control endpoints ---- */

static void mock_control_json(struct mock_plan *plan, int status, const struct mock_buf *b)
{
    if (b->err)
        plan->err = b->err;
    else
        mock_reply_simple(plan, status, "application/json", b->p ? b->p : "", b->len, false);
}

static void mock_control(struct mock_server *srv, const struct mock_request *rq, const char *path,
                         struct mock_plan *plan)
{
    struct mock_buf out;
    struct mock_script sc;
    const char *p, *end, *nl;
    char err[512];
    size_t lines = 0, pass;
    int status = 200;

    mock_buf_init(&out, MOCK_MAX_OUT);
    if (strcmp(path, "/__mock/requests") == 0 && strcmp(rq->method, "GET") == 0) {
        mock_record_dump(srv, &out);
    } else if (strcmp(path, "/__mock/reset") == 0 && strcmp(rq->method, "POST") == 0) {
        mock_record_clear(srv);
        mock_queue_clear(srv);
        srv->seq = 0;
        mock_buf_adds(&out, "{\"ok\":true}");
    } else if (strcmp(path, "/__mock/script") == 0 && strcmp(rq->method, "POST") == 0) {
        /* one script per line; everything is checked before anything is queued */
        for (pass = 0; pass < 2; pass++) {
            p = rq->body;
            end = rq->body + rq->body_len;
            lines = 0;
            do {
                nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
                if (nl == NULL)
                    nl = end;
                if (nl > p || rq->body_len == 0) {
                    if (pass == 0) {
                        mock_script_init(&sc);
                        if (mock_script_parse(&sc, p, (size_t)(nl - p), err, sizeof(err)) < 0) {
                            mock_script_deinit(&sc);
                            status = 400;
                            goto fail;
                        }
                        mock_script_deinit(&sc);
                    } else if (mock_queue_push(srv, p, (size_t)(nl - p)) < 0) {
                        snprintf(err, sizeof(err), "mock: script queue full (%u)", MOCK_MAX_QUEUE);
                        status = 400;
                        goto fail;
                    }
                    lines++;
                }
                p = nl + 1;
            } while (p < end);
            if (pass == 0 && srv->q_count + lines > MOCK_MAX_QUEUE) {
                snprintf(err, sizeof(err), "mock: script queue full (%u)", MOCK_MAX_QUEUE);
                status = 400;
                goto fail;
            }
        }
        mock_buf_addf(&out, "{\"queued\":%zu,\"pending\":%zu}", lines, srv->q_count);
    } else {
        snprintf(err, sizeof(err), "mock: no control endpoint %.32s %.300s", rq->method, path);
        status = 404;
        goto fail;
    }
    mock_control_json(plan, status, &out);
    goto out;
fail:
    mock_buf_reset(&out);
    mock_buf_adds(&out, "{\"error\":{\"message\":");
    mock_jstr(&out, err);
    mock_buf_adds(&out, ",\"type\":\"mock_script_error\",\"param\":null,\"code\":null}}");
    mock_control_json(plan, status, &out);
out:
    mock_buf_free(&out);
}

/* ---- entry ---- */

static bool mock_path_is(const char *path, const char *want)
{
    return strcmp(path, want) == 0;
}

/* Reply text, deltas and token counts, then the endpoint's generator. */
static void mock_generate(struct mock_ctx *c, void (*gen)(struct mock_ctx *), bool needs_text)
{
    c->model = c->info.has_model ? c->info.model : "mock-model";
    c->prompt_tokens = (unsigned)((c->info.string_bytes + 3) / 4);
    if (c->prompt_tokens == 0)
        c->prompt_tokens = 1;
    if (needs_text) {
        if (c->sc.has_text) {
            c->text = c->sc.text.p ? c->sc.text.p : "";
            c->text_len = c->sc.text.len;
        } else {
            if (c->info.echo_len > 0) {
                mock_buf_adds(&c->deftext, "Hello from mock: ");
                mock_buf_add(&c->deftext, c->info.echo, c->info.echo_len);
            } else {
                mock_buf_adds(&c->deftext, "Hello from mock.");
            }
            c->text = c->deftext.p ? c->deftext.p : "";
            c->text_len = c->deftext.len;
        }
        if (mock_ctx_cut(c) < 0) {
            c->plan->err = -ENOMEM;
            goto out;
        }
    }
    gen(c);
out:
    return;
}

static void mock_route(struct mock_ctx *c)
{
    const char *rm = c->rq->method;
    char err[512];
    int status = c->sc.status;
    void (*gen)(struct mock_ctx *) = NULL;
    bool needs_text = true;

    if (mock_path_is(c->path, "/v1/chat/completions")) {
        gen = mock_chat;
    } else if (mock_path_is(c->path, "/v1/completions")) {
        gen = mock_completions;
    } else if (mock_path_is(c->path, "/v1/responses")) {
        gen = mock_responses;
    } else if (mock_path_is(c->path, "/v1/embeddings")) {
        gen = mock_embeddings;
        needs_text = false;
    } else if (mock_path_is(c->path, "/v1/messages")) {
        gen = mock_messages;
    } else if (mock_path_is(c->path, "/v1/messages/count_tokens")) {
        gen = mock_count_tokens;
        needs_text = false;
    }

    if (status >= 400) {
        snprintf(err, sizeof(err), "mock: scripted error %d", status);
        mock_reply_error(c, status, NULL, c->sc.error_message[0] ? c->sc.error_message : err);
    } else if (c->sc.has_body) {
        mock_emit_body(c, status ? status : 200,
                       c->sc.content_type[0] ? c->sc.content_type : "application/json",
                       c->sc.body.p ? c->sc.body.p : "", c->sc.body.len);
    } else if (mock_path_is(c->path, "/v1/models") && strcmp(rm, "GET") == 0) {
        mock_models(c);
    } else if (gen == NULL) {
        snprintf(err, sizeof(err), "mock: unknown path %.32s %.300s", rm, c->path);
        mock_reply_error(c, 404, NULL, err);
    } else if (strcmp(rm, "POST") != 0) {
        snprintf(err, sizeof(err), "mock: %.300s needs POST, got %.32s", c->path, rm);
        mock_reply_error(c, 405, NULL, err);
    } else if (mock_req_inspect(c->rq->body, c->rq->body_len, &c->info, err, sizeof(err)) < 0) {
        mock_reply_error(c, 400, NULL, err);
    } else {
        mock_generate(c, gen, needs_text);
    }
}

void mock_api_handle(struct mock_server *srv, const struct mock_request *rq, struct mock_plan *plan)
{
    struct mock_ctx *c;
    const struct mock_header *hs;
    struct mock_queued q = {NULL, 0};
    const char *qm, *src = "none", *stext = NULL;
    size_t plen, slen = 0;
    char err[512];
    int popped;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        plan->err = -ENOMEM;
        goto out;
    }
    c->srv = srv;
    c->rq = rq;
    c->plan = plan;
    c->http11 = rq->http_minor >= 1;
    mock_script_init(&c->sc);
    mock_buf_init(&c->scratch, MOCK_MAX_OUT);
    mock_buf_init(&c->frame, MOCK_MAX_OUT);
    mock_buf_init(&c->deftext, 4096);
    qm = memchr(rq->target, '?', rq->target_len);
    plen = qm ? (size_t)(qm - rq->target) : rq->target_len;
    if (plen >= sizeof(c->path))
        plen = sizeof(c->path) - 1;
    memcpy(c->path, rq->target, plen);
    c->path[plen] = '\0';
    c->anthropic = strncmp(c->path, "/v1/messages", 12) == 0;

    if (strncmp(c->path, "/__mock/", 8) == 0) {
        if (rq->body_truncated) {
            plan->close_after = true;
            mock_reply_error(c, 413, NULL, "mock: control request body too large");
        } else {
            mock_control(srv, rq, c->path, plan);
        }
        goto out;
    }
    c->seq = ++srv->seq;
    /* every request takes the next queued script, so the queue pairs with request order;
     * a script in the header still wins */
    popped = mock_queue_pop(srv, &q);
    hs = mock_request_header(rq, "x-mock-script");
    if (hs != NULL) {
        stext = hs->value;
        slen = hs->value_len;
        src = "header";
    } else if (popped) {
        stext = q.text;
        slen = q.len;
        src = "queue";
    }
    if (mock_record_add(srv, rq, stext, slen, src, &plan->rec_id) < 0) {
        plan->err = -ENOMEM;
        goto out;
    }
    if (rq->body_truncated) {
        snprintf(err, sizeof(err), "mock: request body over %u bytes", MOCK_MAX_BODY);
        plan->close_after = true;
        mock_reply_error(c, 413, NULL, err);
        goto out;
    }
    if (stext != NULL && mock_script_parse(&c->sc, stext, slen, err, sizeof(err)) < 0) {
        mock_script_deinit(&c->sc);
        mock_script_init(&c->sc);
        mock_reply_error(c, 400, "mock_script_error", err);
        goto out;
    }
    mock_route(c);
out:
    free(q.text);
    if (c != NULL) {
        mock_script_deinit(&c->sc);
        mock_buf_free(&c->scratch);
        mock_buf_free(&c->frame);
        mock_buf_free(&c->deftext);
        free(c->cuts);
        free(c);
    }
}
